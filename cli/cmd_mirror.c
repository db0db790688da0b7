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

#include "cli.h"
#include "../mirror/mirror.h"

static volatile sig_atomic_t mirror_stop;
static struct mirror *watching_mirror;

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
		fflush(stdout);
		return;
	}
	printf("mirrored %llu commits into schema %s: %llu records written, "
	    "%llu removed, %llu refused, in %llu transactions\n",
	    (unsigned long long)st->commits, mirror_schema(m),
	    (unsigned long long)st->rows, (unsigned long long)st->removed,
	    (unsigned long long)st->refused, (unsigned long long)st->batches);
	fflush(stdout);
}

/* Prints the first catch-up's figures, once. */
static void
caught_up(void *arg, const struct mirror_stats *st)
{
	print_stats(arg, st, watching_mirror);
}

/* Keeps the mirror up to date until SIGTERM or SIGINT. */
static int
watch(struct cli *c, struct mirror *m)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	watching_mirror = m;
	if (mirror_watch(m, &mirror_stop, c->data, caught_up, c) == CS_EPERM)
		return EXIT_USAGE;
	return EXIT_OK;
}

/* The state of the mirrors of this node, for cafe status --json. */
json_t *
cli_mirror_status(struct cli *c)
{
	return mirror_status_read(c->store, c->data);
}

/* Prints the mirrors' part of cafe status. */
void
cli_print_mirror(json_t *all)
{
	size_t i;

	for (i = 0; i < json_array_size(all); i++) {
		json_t *o = json_array_get(all, i);
		const char *state = json_string_value(json_object_get(o,
		    "state"));
		const char *err = json_string_value(json_object_get(o,
		    "error"));
		long long lag = json_integer_value(json_object_get(o, "lag"));
		long long ms = json_integer_value(json_object_get(o,
		    "behind_ms"));

		printf("mirror   postgres schema %s: ", json_string_value(
		    json_object_get(o, "schema")));
		if (lag == 0)
			printf("up to date");
		else
			printf("%lld commits behind, the oldest %lld.%03lld s",
			    lag, ms / 1000, ms % 1000);
		if (!json_is_true(json_object_get(o, "running")))
			printf(" (not running)");
		else if (state != NULL && strcmp(state, "ok") != 0)
			printf(" (%s%s%s)", state, err ? ": " : "",
			    err ? err : "");
		printf("\n");
	}
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
	mirror_status_write(m, c->data, "done", NULL);
	print_stats(c, &st, m);
	mirror_free(m);
	return st.refused > 0 ? EXIT_CHECK : EXIT_OK;
}
