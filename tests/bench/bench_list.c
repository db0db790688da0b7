/*
 * bench_list.c: where the time of `cafe list cafe --site S --since D`
 * goes, inside one process.
 *
 *   bench_list DIR SITE SINCE [RUNS]
 *
 * Opens the store in DIR (timed), then runs the same query as the command
 * (store_list() of cafés of SITE, a full 32-hex id, from SINCE, YYYY-MM-DD)
 * with a callback that formats every field of every row with sch_format()
 * as `cafe list` prints it, into a buffer, not to a file.  The first query
 * runs on a cold mapping of the store (every page it reads is a page fault
 * in this process, even when the file is in the page cache); the next RUNS
 * (default 20) run warm.  Prints, one "name value" per line:
 *   list_rows        rows matched
 *   list_open_ms     store_open()
 *   list_cold_ms     first query
 *   list_cold_faults minor page faults during the first query
 *   list_warm_ms     median of the warm queries
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "storage/storage.h"

struct count {
	unsigned long rows;
	size_t bytes;
	char buf[PROTO_MAX_VALUE * 4];
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static long
minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static int
dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Formats a row's fields as the command line does, and counts it. */
static int
one(const struct store_rec *r, void *arg)
{
	struct count *c = arg;
	unsigned i;

	for (i = 0; i < r->type->nfields; i++) {
		const struct sch_field *f = &r->type->fields[i];
		const msgpack_object *v = store_rec_value(r, f->name);

		if (v == NULL)
			continue;
		sch_format(f, v, c->buf, 200);
		c->bytes += strlen(c->buf);
	}
	c->rows++;
	return 0;
}

int
main(int argc, char **argv)
{
	struct store *s;
	struct store_query q;
	struct count *c = xcalloc(1, sizeof(*c));
	uint8_t site[PROTO_ID_LEN];
	char *cause = NULL;
	double t, open_ms, cold_ms, *warm;
	long f0, faults;
	int runs = argc > 4 ? atoi(argv[4]) : 20, i;

	if (argc < 4 || runs < 1 ||
	    proto_unhex(site, PROTO_ID_LEN, argv[2]) != 0) {
		fprintf(stderr, "usage: bench_list DIR SITE(32 hex) "
		    "SINCE(YYYY-MM-DD) [RUNS]\n");
		return 2;
	}
	memset(&q, 0, sizeof(q));
	q.type = sch_type_find("cafe", 4);
	q.site = site;
	if (sch_date_parse(argv[3], strlen(argv[3]), &q.since) != 0) {
		fprintf(stderr, "bench_list: %s: not a date\n", argv[3]);
		return 2;
	}
	t = now_ms();
	if (store_open(&s, argv[1], &cause) != 0) {
		fprintf(stderr, "bench_list: %s\n", cause);
		return 1;
	}
	open_ms = now_ms() - t;

	f0 = minflt();
	t = now_ms();
	store_list(s, &q, one, c);
	cold_ms = now_ms() - t;
	faults = minflt() - f0;
	printf("list_rows %lu\n", c->rows);

	warm = xcalloc((size_t)runs, sizeof(*warm));
	for (i = 0; i < runs; i++) {
		c->rows = 0;
		t = now_ms();
		store_list(s, &q, one, c);
		warm[i] = now_ms() - t;
	}
	qsort(warm, (size_t)runs, sizeof(*warm), dbl_cmp);
	store_close(s);
	printf("list_open_ms %.3f\n", open_ms);
	printf("list_cold_ms %.3f\n", cold_ms);
	printf("list_cold_faults %ld\n", faults);
	printf("list_warm_ms %.3f\n", warm[runs / 2]);
	free(warm);
	free(c);
	return 0;
}
