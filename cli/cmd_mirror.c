/*
 * cmd_mirror.c: cafe mirror postgres CONNINFO: brings a PostgreSQL
 * database up to date with the node's merged records (mirror/mirror.h)
 * and exits, or with --watch keeps it up to date until SIGTERM or SIGINT.
 *
 * CONNINFO is a libpq connection string or URI; the password comes from
 * ~/.pgpass or PGPASSFILE (or any PG* variable) as libpq reads them, so
 * it need never be typed on the command line.  The exit code is 0 when
 * everything was mirrored, 1 when PostgreSQL could not be reached or
 * failed, or refused a record (named on stderr), 2 on a usage error or a
 * schema that holds another network's mirror.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "../mirror/mirror.h"

static volatile sig_atomic_t mirror_stop;

static void
on_stop(int sig)
{
	mirror_stop = sig;
}

/* Logs the mirror's messages as cafe's own. */
static void
log_msg(void *arg, enum mirror_level level, const char *msg)
{
	cli_msg("mirror", "%s", msg);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
print_stats(struct cli *c, const struct mirror_stats *st, struct mirror *m)
{
	if (c->json) {
		cli_print_json(json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "schema", mirror_schema(m),
		    "commits", (json_int_t)st->commits,
		    "rows", (json_int_t)st->rows,
		    "removed", (json_int_t)st->removed,
		    "refused", (json_int_t)st->refused,
		    "transactions", (json_int_t)st->batches,
		    "lag", (json_int_t)mirror_lag(m)));
		return;
	}
	printf("mirrored %llu commits into schema %s: %llu records written, "
	    "%llu removed, %llu refused, in %llu transactions\n",
	    (unsigned long long)st->commits, mirror_schema(m),
	    (unsigned long long)st->rows, (unsigned long long)st->removed,
	    (unsigned long long)st->refused, (unsigned long long)st->batches);
	fflush(stdout);
}

/*
 * Keeps the mirror up to date: runs it whenever the store's last write
 * transaction changes (checked every 10 ms), and after a failure retries
 * with a backoff from 100 ms to 5 s, saying so once per outage.
 */
static int
watch(struct cli *c, struct mirror *m)
{
	struct sigaction sa;
	struct mirror_stats st;
	uint64_t seen = 0;
	long backoff = 100;
	int failing = 0, first = 1;
	char *cause = NULL;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	while (!mirror_stop) {
		uint64_t txn = store_txnid(c->store);
		int rc;

		if (!failing && !first && txn == seen &&
		    mirror_connected(m)) {
			sleep_ms(10);
			continue;
		}
		memset(&st, 0, sizeof(st));
		rc = mirror_run(m, &st, &cause);
		if (rc == 0) {
			seen = txn;
			if (failing)
				cli_msg("mirror", "postgres: working again, "
				    "caught up");
			if (first)
				print_stats(c, &st, m);
			failing = 0;
			first = 0;
			backoff = 100;
			continue;
		}
		if (rc == CS_EPERM) {
			cli_msg("mirror", "%s", cause);
			free(cause);
			return EXIT_USAGE;
		}
		if (!failing)
			cli_msg("mirror", "%s; retrying until it works", cause);
		failing = 1;
		free(cause);
		cause = NULL;
		sleep_ms(backoff);
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
	return EXIT_OK;
}

int
cmd_mirror(struct cli *c)
{
	struct mirror_cfg cfg;
	struct mirror_stats st;
	struct mirror *m;
	const char *schema, *batch;
	char *cause = NULL, *end;
	int bad = 0, watching, rc;

	memset(&cfg, 0, sizeof(cfg));
	c->json = c->json || cli_flag(c, "--json");
	watching = cli_flag(c, "--watch");
	schema = cli_take(c, "--schema", &bad);
	batch = cli_take(c, "--batch", &bad);
	if (bad || cli_rest(c, 2, 2) != 0)
		return EXIT_USAGE;
	if (strcmp(c->argv[0], "postgres") != 0)
		return cli_usage_error(c, "'%s': the only mirror is postgres",
		    c->argv[0]);
	cfg.conninfo = c->argv[1];
	cfg.schema = schema;
	if (batch != NULL) {
		unsigned long v = strtoul(batch, &end, 10);

		if (*batch < '0' || *batch > '9' || *end != '\0' || v < 1 ||
		    v > 1000000)
			return cli_usage_error(c, "option --batch: '%s' is not "
			    "a count from 1 to 1000000", batch);
		cfg.batch = (unsigned)v;
	}
	cfg.log = log_msg;
	if ((m = mirror_new(c->store, &cfg, &cause)) == NULL) {
		rc = cli_usage_error(c, "%s", cause);
		free(cause);
		return rc;
	}
	if (watching) {
		rc = watch(c, m);
		mirror_free(m);
		return rc;
	}
	memset(&st, 0, sizeof(st));
	rc = mirror_run(m, &st, &cause);
	if (rc != 0) {
		int code = rc == CS_EPERM ? EXIT_USAGE : EXIT_CHECK;

		cli_fail(c, code, "%s", cause);
		free(cause);
		mirror_free(m);
		return code;
	}
	print_stats(c, &st, m);
	mirror_free(m);
	return st.refused > 0 ? EXIT_CHECK : EXIT_OK;
}
