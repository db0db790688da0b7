/*
 * bench_latency.c: live propagation latency through running daemons.
 *
 *   bench_latency SITE_DIR REPLICA_DIR SITE_ID N
 *
 * SITE_DIR and REPLICA_DIR are nodes whose cafed runs (the site's and the
 * replica's, both linked to a hub between them).  N times: writes one café
 * of SITE_ID into the site's store (one signed, synced commit, as `cafe
 * add` does), nudges the site's cafed over its control socket (as `cafe`
 * does after a write), and polls the replica's store until the site's
 * head there reaches the new commit.  The time measured runs from the
 * commit being durable on the site to the commit being stored on the
 * replica: site -> hub -> replica, each hop verified and committed.
 *
 * Prints, one "name value" per line:
 *   lat_n       N
 *   lat_median  median, milliseconds
 *   lat_p95     95th percentile, milliseconds
 *   lat_p99     99th percentile, milliseconds
 *   lat_max     maximum, milliseconds
 * and, with LAT_SAMPLES set, before them one line per write:
 *   lat_sample  wall clock at its end (seconds since the epoch) and its
 *               latency in milliseconds, so a caller can keep the writes
 *               of a time span (tests/bench/fanin.sh: during the storm)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/control.h"
#include "storage/storage.h"

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Tells the daemon of dir that the store changed. */
static void
nudge(const char *dir)
{
	char req[64];
	struct sockaddr_un sun;
	int fd;

	snprintf(req, sizeof(req), "{\"v\":%d,\"cmd\":\"%s\"}\n",
	    CTL_VERSION, ctl_cmd_name(CTL_NUDGE));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/" CTL_DIR "/"
	    CTL_SOCK, dir);
	if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
		return;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 &&
	    write(fd, req, strlen(req)) < 0)
		perror("bench_latency: nudge");
	close(fd);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	struct store *site, *rep;
	const struct sch_type *cafe;
	uint8_t id[PROTO_ID_LEN];
	char *cause = NULL, date[16], att[16];
	double *lat, t0, deadline;
	uint64_t seq;
	long n, i;

	if (argc != 5 || (n = atol(argv[4])) < 1) {
		fprintf(stderr, "usage: bench_latency SITE_DIR REPLICA_DIR "
		    "SITE_ID N\n");
		return 2;
	}
	if (store_open(&site, argv[1], &cause) != 0 ||
	    store_open(&rep, argv[2], &cause) != 0) {
		fprintf(stderr, "bench_latency: %s\n", cause);
		return 1;
	}
	cafe = sch_type_find("cafe", 4);
	lat = calloc((size_t)n, sizeof(*lat));
	if (lat == NULL)
		return 1;
	for (i = 0; i < n; i++) {
		struct store_kv kv[] = {
			{ "site", argv[3] }, { "date", date },
			{ "format", "parent" }, { "attendees", att },
			{ "factors", "resilience" },
		};
		struct store_batch *b = store_batch_new(site);

		snprintf(date, sizeof(date), "2026-%02ld-%02ld", 1 + i % 12,
		    1 + i % 28);
		snprintf(att, sizeof(att), "%ld", 5 + i % 20);
		if (store_batch_put(b, cafe, id, 1, kv, 5, &cause) != 0 ||
		    store_batch_commit(b, &cause) != 0) {
			fprintf(stderr, "bench_latency: %s\n", cause);
			return 1;
		}
		store_batch_free(b);
		t0 = now_ms();
		nudge(argv[1]);
		seq = store_head_seq(site, store_info(site)->node);
		deadline = t0 + 10000;
		while (store_head_seq(rep, store_info(site)->node) < seq) {
			if (now_ms() > deadline) {
				fprintf(stderr, "bench_latency: write %ld did "
				    "not reach the replica in 10 s\n", i + 1);
				return 1;
			}
			usleep(50);
		}
		lat[i] = now_ms() - t0;
		if (getenv("LAT_SAMPLES") != NULL) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			printf("lat_sample %lld.%09ld %.3f\n",
			    (long long)ts.tv_sec, ts.tv_nsec, lat[i]);
		}
	}
	qsort(lat, (size_t)n, sizeof(*lat), cmp_double);
	printf("lat_n %ld\n", n);
	printf("lat_median %.3f\n", lat[n / 2]);
	printf("lat_p95 %.3f\n", lat[(n * 95) / 100 < n ? (n * 95) / 100 :
	    n - 1]);
	printf("lat_p99 %.3f\n", lat[(n * 99) / 100 < n ? (n * 99) / 100 :
	    n - 1]);
	printf("lat_max %.3f\n", lat[n - 1]);
	store_close(site);
	store_close(rep);
	free(lat);
	return 0;
}
