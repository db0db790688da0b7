/*
 * cafe.c: the command line's entry point and command table, global
 * options, argument helpers and error reporting.
 *
 * cafe [--data DIR] COMMAND [ARGS...].  The data directory is --data, else
 * $CAFE_DATA, else $XDG_DATA_HOME/cafesync, else ~/.local/share/cafesync.
 * Exit codes: 0 ok, 1 a check failed, 2 usage or input error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "report.h"

const struct cmd_entry cmd_table[] = {
	{ "init", "init --name NAME [--role site|hub|consultant] "
	    "[--network HEX] [--restore KEYFILE [--force]]",
	    "create this node: key pair and store", 0, cmd_init },
	{ "id", "id", "print this node's id", 1, cmd_id },
	{ "status", "status [--json]", "node, counts, heads and digest", 1,
	    cmd_status },
	{ "add", "add TYPE field=value ...", "add a record; prints its id", 1,
	    cmd_add },
	{ "edit", "edit ID field=value ...", "change fields of a record", 1,
	    cmd_edit },
	{ "rm", "rm ID", "remove a record", 1, cmd_rm },
	{ "show", "show ID [--json]", "print one record", 1, cmd_show },
	{ "list", "list TYPE [--site S] [--since D] [--until D] "
	    "[--where field=value ...] [--json]", "list records", 1,
	    cmd_list },
	{ "history", "history ID [--json]",
	    "every change to a record: when, by whom, old and new", 1,
	    cmd_history },
	{ "conflicts", "conflicts [ID] [--json]",
	    "values overwritten by concurrent edits", 1, cmd_conflicts },
	{ "stats", "stats [--by site|month|format|factor] [--json]",
	    "cafés, attendance, new attendees, children cared for", 1,
	    cmd_stats },
	{ "report", "report [--since D] [--until D | --quarter 2026Q4 | "
	    "--months 12] [--site ID|NAME ...] [--by county|region] "
	    "[--days 45] [--format text|csv|json|html] [--table NAME] "
	    "[--per-site] [--paper a4|letter] [-o FILE|DIR]",
	    "per site and statewide: activity, factors, fidelity, feedback, "
	    "steps", 1, cmd_report },
	{ "log", "log [--origin HEX] [--json]", "the signed commits", 1,
	    cmd_log },
	{ "verify", "verify", "re-check the log: every commit's signature and "
	    "chain (cafe audit checks the rest)",
	    1, cmd_verify },
	{ "export", "export TYPE --format csv|json",
	    "write records of a type to stdout", 1, cmd_export },
	{ "import", "import TYPE FILE [--format csv|json]",
	    "add records from a file, all or none", 1, cmd_import },
	{ "bundle", "bundle export FILE [--since HEX:SEQ ...] [--to KEY] | "
	    "bundle import FILE", "carry commits as a file, sealed to the "
	    "recipient with --to", 1, cmd_bundle },
	{ "member", "member add KEY --role hub|site|consultant --name NAME "
	    "[--site ID] [--sites ID,...|--all] | member list [--json] | "
	    "member revoke KEY [--after SEQ]",
	    "the admin log: who may write and read", 1, cmd_member },
	{ "invite", "invite --role site|hub|consultant [--site ID] "
	    "[--expires 7d] --addr HOST:PORT",
	    "print a one-time token a new node joins with", 1, cmd_invite },
	{ "join", "join TOKEN|- [--token-file FILE] [--name NAME]",
	    "join a network with an invite: enrolled, hub added as peer", 0,
	    cmd_join },
	{ "audit", "audit [--site ID] [--json]",
	    "prove the log intact and report each site's progress", 1,
	    cmd_audit },
	{ "peer", "peer add NAME HOST:PORT|--inbound --key HEX | "
	    "peer rm NAME | peer list [--json]",
	    "the nodes cafed syncs with", 1, cmd_peer },
	{ "sync", "sync [--wait] [--timeout S] [--json]",
	    "push now; with --wait, until every connected peer is caught up",
	    1, cmd_sync },
	{ "mirror", "mirror postgres CONNINFO [--schema NAME] [--watch] "
	    "[--batch N] [--json]", "keep a PostgreSQL database in step with "
	    "the records (docs/analytics.md)", 1, cmd_mirror },
	{ "help", "help [COMMAND|TYPE]", "this help, or a type's fields", 0,
	    cmd_help },
	{ NULL, NULL, NULL, 0, NULL },
};

/* Longest message printed; the rest is cut, marked by "...". */
#define MSG_MAX 400

/*
 * Prints "cafe: [cmd: ]message" on one line of stderr: a control
 * character (a newline in a quoted CSV cell, say) is shown escaped, so
 * every message stays one line.
 */
static void
vmsg(const char *cmd, const char *fmt, va_list ap)
{
	char buf[MSG_MAX + 1];
	const unsigned char *p;
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	fputs("cafe: ", stderr);
	if (cmd != NULL)
		fprintf(stderr, "%s: ", cmd);
	for (p = (const unsigned char *)buf; *p != '\0'; p++) {
		if (*p == '\n')
			fputs("\\n", stderr);
		else if (*p == '\t')
			fputs("\\t", stderr);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(stderr, "\\x%02x", *p);
		else
			fputc(*p, stderr);
	}
	if (n > MSG_MAX)
		fputs("...", stderr);
	fputc('\n', stderr);
}

/* Prints one message line for cmd; see vmsg(). */
void
cli_msg(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(cmd, fmt, ap);
	va_end(ap);
}

/* Prints an error and returns code. */
int
cli_fail(struct cli *c, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(c->cmd, fmt, ap);
	va_end(ap);
	return code;
}

/* Prints a warning. */
void
cli_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning", fmt, ap);
	va_end(ap);
}

/* Removes argv[i] (and n after it) from the command's arguments. */
static void
drop_args(struct cli *c, int i, int n)
{
	memmove(&c->argv[i], &c->argv[i + n],
	    (size_t)(c->argc - i - n + 1) * sizeof(*c->argv));
	c->argc -= n;
}

/* Takes an option with a value (--opt V or --opt=V). */
const char *
cli_take(struct cli *c, const char *opt, int *bad)
{
	size_t n = strlen(opt);
	int i;

	for (i = 0; i < c->argc; i++) {
		const char *a = c->argv[i], *v;

		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, opt, n) != 0)
			continue;
		if (a[n] == '=') {
			v = a + n + 1;
			drop_args(c, i, 1);
			return v;
		}
		if (a[n] != '\0')
			continue;
		if (i + 1 >= c->argc) {
			cli_usage_error(c, "option %s: needs a value", opt);
			*bad = 1;
			drop_args(c, i, 1);
			return NULL;
		}
		v = c->argv[i + 1];
		drop_args(c, i, 2);
		return v;
	}
	return NULL;
}

/* Takes a flag. */
int
cli_flag(struct cli *c, const char *opt)
{
	int i, found = 0;

	for (i = 0; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--") == 0)
			break;
		if (strcmp(c->argv[i], opt) == 0) {
			drop_args(c, i, 1);
			found = 1;
			i--;
		}
	}
	return found;
}

/* Checks what remains after options. */
int
cli_rest(struct cli *c, int min, int max)
{
	int i;

	for (i = 0; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--") == 0) {
			drop_args(c, i, 1);
			break;
		}
		if (strncmp(c->argv[i], "--", 2) == 0)
			return cli_usage_error(c, "unknown option %s",
			    c->argv[i]);
	}
	if (c->argc < min || (max >= 0 && c->argc > max)) {
		const struct cmd_entry *e;

		for (e = cmd_table; e->name != NULL; e++)
			if (strcmp(e->name, c->cmd) == 0)
				break;
		return cli_usage_error(c, "%s; usage: cafe %s",
		    c->argc < min ? "missing argument" : "too many arguments",
		    e->name != NULL ? e->usage : c->cmd);
	}
	return 0;
}

/* Reports a failed resolution; returns 0 or EXIT_USAGE. */
static int
resolved(struct cli *c, int rc, char *cause)
{
	if (rc == 0)
		return 0;
	cli_usage_error(c, "%s", cause);
	free(cause);
	return EXIT_USAGE;
}

/* Resolves an id argument among live records. */
int
cli_resolve(struct cli *c, const char *text, const struct sch_type *t,
    uint8_t id[PROTO_ID_LEN])
{
	char *cause = NULL;
	int rc = store_resolve(c->store, text, t, id, &cause);

	return resolved(c, rc, cause);
}

/* Resolves an id argument among live and removed records. */
int
cli_resolve_all(struct cli *c, const char *text, uint8_t id[PROTO_ID_LEN])
{
	char *cause = NULL;
	int rc = store_resolve_all(c->store, text, id, &cause);

	return resolved(c, rc, cause);
}

/* Looks up a type. */
const struct sch_type *
cli_type(struct cli *c, const char *name)
{
	const struct sch_type *t = sch_type_find(name, strlen(name));
	unsigned i;

	if (t == NULL) {
		char list[256] = "";

		for (i = 0; i < sch_ntypes; i++) {
			strcat(list, " ");
			strcat(list, sch_types[i].name);
		}
		cli_usage_error(c, "unknown record type '%s' (types:%s)", name,
		    list);
	}
	return t;
}

/* Splits name=value arguments. */
int
cli_fields(struct cli *c, char **args, int n, struct store_kv *kv)
{
	int i;

	for (i = 0; i < n; i++) {
		char *eq = strchr(args[i], '=');

		if (eq == NULL || eq == args[i])
			return cli_usage_error(c, "'%s' is not field=value",
			    args[i]);
		*eq = '\0';
		kv[i].name = args[i];
		kv[i].value = eq + 1;
	}
	return 0;
}

/* Parses a date option. */
int
cli_date(struct cli *c, const char *opt, const char *text, uint32_t *ymd)
{
	if (sch_date_parse(text, strlen(text), ymd) != 0)
		return cli_usage_error(c, "option %s: '%s' is not a date "
		    "(YYYY-MM-DD)", opt, text);
	return 0;
}

/* Returns a monotonic clock in milliseconds, for timeouts. */
int64_t
cli_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Formats a clock or milliseconds as ISO 8601 UTC. */
void
cli_time(uint64_t v, int is_hlc, char *buf, size_t len)
{
	uint64_t ms = is_hlc ? HLC_MS(v) : v;
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

/* Prints general usage. */
static void
usage(FILE *f)
{
	const struct cmd_entry *e;

	fprintf(f, "usage: cafe [--data DIR] COMMAND [ARGS...]\n\n");
	for (e = cmd_table; e->name != NULL; e++)
		fprintf(f, "  %-10s %s\n", e->name, e->help);
	fprintf(f, "\ncafe help COMMAND shows its usage; cafe help TYPE "
	    "shows a record type's fields.\n");
}

/* Prints help for a command or a type. */
int
cmd_help(struct cli *c)
{
	const struct cmd_entry *e;
	const struct sch_type *t;
	unsigned i;

	if (c->argc == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	for (e = cmd_table; e->name != NULL; e++)
		if (strcmp(e->name, c->argv[0]) == 0) {
			printf("usage: cafe %s\n  %s\n", e->usage, e->help);
			return EXIT_OK;
		}
	if ((t = cli_type(c, c->argv[0])) == NULL)
		return EXIT_USAGE;
	printf("%s: %s\n", t->name, t->help);
	for (i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];

		printf("  %-20s %s%s", f->name, f->required ? "(required) " :
		    "", sch_ftype_name(f->type));
		if (f->tokens != NULL) {
			const char *const *tok;

			for (tok = f->tokens; *tok != NULL; tok++)
				printf(" %s", *tok);
		} else if (f->ref != NULL)
			printf(" of %s", f->ref);
		else if (f->type == SCH_UINT)
			printf(" %u-%u", (unsigned)f->min, (unsigned)f->max);
		printf(": %s\n", f->help);
	}
	return EXIT_OK;
}

/* Returns the default data directory (malloc'd). */
static char *
default_data(void)
{
	const char *v;

	if ((v = getenv("CAFE_DATA")) != NULL && v[0] != '\0')
		return xstrdup(v);
	if ((v = getenv("XDG_DATA_HOME")) != NULL && v[0] != '\0')
		return xasprintf("%s/cafesync", v);
	if ((v = getenv("HOME")) != NULL && v[0] != '\0')
		return xasprintf("%s/.local/share/cafesync", v);
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct cmd_entry *e;
	struct cli c;
	char *data = NULL, *cause = NULL;
	uint64_t txnid;
	int i = 1, rc;

	memset(&c, 0, sizeof(c));
	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
			free(data);
			data = xstrdup(argv[i + 1]);
			i += 2;
		} else if (strncmp(argv[i], "--data=", 7) == 0) {
			free(data);
			data = xstrdup(argv[i] + 7);
			i++;
		} else if (strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			free(data);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("cafe %s\n", CAFESYNC_VERSION);
			free(data);
			return EXIT_OK;
		} else {
			cli_msg(NULL, "%s: unknown option (cafe help lists "
			    "the commands)", argv[i]);
			free(data);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		free(data);
		return EXIT_USAGE;
	}
	for (e = cmd_table; e->name != NULL; e++)
		if (strcmp(e->name, argv[i]) == 0)
			break;
	if (e->name == NULL) {
		cli_msg(NULL, "%s: unknown command (cafe help lists them)",
		    argv[i]);
		free(data);
		return EXIT_USAGE;
	}
	if (data == NULL)
		data = default_data();
	c.cmd = e->name;
	c.data = data;
	c.argc = argc - i - 1;
	c.argv = argv + i + 1;
	if (data == NULL && strcmp(e->name, "help") != 0) {
		return cli_usage_error(&c, "no data directory: give --data "
		    "DIR or set CAFE_DATA");
	}
	if (e->needs_store && (rc = cli_guard(&c)) >= 0) {
		free(data);
		return rc;
	}
	if (e->needs_store) {
		rc = store_open(&c.store, data, &cause);
		if (rc != 0) {
			/* A damaged store is a failed check, not bad usage. */
			rc = rc == CS_EDAMAGED ? EXIT_CHECK : EXIT_USAGE;
			cli_fail(&c, rc, "%s", cause);
			free(cause);
			free(data);
			return rc;
		}
	}
	txnid = c.store != NULL ? store_txnid(c.store) : 0;
	rc = e->fn(&c);
	/* New commits: tell a running cafed to push them now. */
	if (c.store != NULL && store_txnid(c.store) != txnid &&
	    strcmp(e->name, "peer") != 0)
		cli_ctl_tell(data, "nudge");
	store_close(c.store);
	free(data);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "cafe: %s: cannot write output\n", e->name);
		rc = EXIT_USAGE;
	}
	return rc;
}
