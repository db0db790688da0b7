/*
 * bench_author.c: single-op commits authored per second.
 *
 *   bench_author DIR N
 *
 * DIR is a node made by `cafe init --role site`.  Adds one site, then N
 * cafés, each in its own batch: store_batch_new(), store_batch_put() of a
 * new café (site, date, format, factors, attendees), store_batch_commit(),
 * store_batch_free().  Each commit is one signed commit in one LMDB write
 * transaction, synced to disk, exactly what `cafe add cafe ...` does after
 * it has opened the store.  Prints, one "name value" per line:
 *   author_commits   N
 *   author_per_s     commits per second over the loop
 *   author_p50_ms    median time of one batch (new .. commit .. free)
 *   author_p99_ms    99th percentile
 *   author_max_ms    slowest
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/storage.h"

static const char *const formats[] = { "parent", "dads", "community",
	"virtual" };
static const char *const factor_sets[] = { "resilience",
	"resilience,social_connections", "concrete_support",
	"child_development,social_emotional", "social_connections" };

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Adds one record in its own batch; exits on failure. */
static void
add_one(struct store *s, const struct sch_type *t, const struct store_kv *kv,
    size_t n, uint8_t id[PROTO_ID_LEN])
{
	struct store_batch *b = store_batch_new(s);
	char *cause = NULL;

	if (store_batch_put(b, t, id, 1, kv, n, &cause) != 0 ||
	    store_batch_commit(b, &cause) != 0) {
		fprintf(stderr, "bench_author: %s\n", cause);
		exit(1);
	}
	store_batch_free(b);
}

int
main(int argc, char **argv)
{
	struct store *s;
	const struct sch_type *site_t, *cafe_t;
	struct store_kv kv[5];
	uint8_t site[PROTO_ID_LEN], id[PROTO_ID_LEN];
	char site_hex[2 * PROTO_ID_LEN + 1], date[16], att[16];
	char *cause = NULL;
	double *lat, t0, t1, total;
	long i, n;

	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_author DIR N\n");
		return 2;
	}
	if (store_open(&s, argv[1], &cause) != 0) {
		fprintf(stderr, "bench_author: %s\n", cause);
		return 1;
	}
	site_t = sch_type_find("site", 4);
	cafe_t = sch_type_find("cafe", 4);
	kv[0].name = "name";
	kv[0].value = "Bench Site";
	add_one(s, site_t, kv, 1, site);
	proto_hex(site_hex, site, PROTO_ID_LEN);

	lat = xcalloc((size_t)n, sizeof(*lat));
	total = now_ms();
	for (i = 0; i < n; i++) {
		snprintf(date, sizeof(date), "2024-%02ld-%02ld", i % 12 + 1,
		    i % 28 + 1);
		snprintf(att, sizeof(att), "%ld", 5 + i % 20);
		kv[0].name = "site";
		kv[0].value = site_hex;
		kv[1].name = "date";
		kv[1].value = date;
		kv[2].name = "format";
		kv[2].value = formats[i % 4];
		kv[3].name = "factors";
		kv[3].value = factor_sets[i % 5];
		kv[4].name = "attendees";
		kv[4].value = att;
		t0 = now_ms();
		add_one(s, cafe_t, kv, 5, id);
		t1 = now_ms();
		lat[i] = t1 - t0;
	}
	total = now_ms() - total;
	store_close(s);

	qsort(lat, (size_t)n, sizeof(*lat), dbl_cmp);
	printf("author_commits %ld\n", n);
	printf("author_per_s %.1f\n", (double)n / (total / 1e3));
	printf("author_p50_ms %.3f\n", lat[n / 2]);
	printf("author_p99_ms %.3f\n", lat[(size_t)((double)n * 0.99)]);
	printf("author_max_ms %.3f\n", lat[n - 1]);
	free(lat);
	return 0;
}
