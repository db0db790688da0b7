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
#include "../proto/version.h"

/*
 * The command table: one row per command, and a sub-table for commands
 * with subcommands.  Each row carries the command's arguments and its
 * options; the usage lines, `cafe help`, `--help` and the check of every
 * option given are all made from it, so they cannot drift.  Options:
 * "--flag", "--opt=META" (takes a value), "!--opt=META" (required),
 * space-separated.
 */
static const struct cmd_sub member_subs[] = {
	{ "add", "KEY", "!--role=hub|site|consultant !--name=NAME --site=SITE "
	    "--sites=SITE,... --all", "enroll a node key" },
	{ "list", "", "--json --quiet-for=DAYS",
	    "the enrolled keys, with when each last synced" },
	{ "revoke", "KEY", "--after=SEQ", "cut a key off" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cmd_sub bundle_subs[] = {
	{ "export", "FILE", "--since=HEX:SEQ --to=KEY --compress",
	    "write commits to a file, sealed to KEY with --to, zstd "
	    "with --compress" },
	{ "import", "FILE", "", "verify and merge a bundle file" },
	{ NULL, NULL, NULL, NULL },
};

static const struct cmd_sub peer_subs[] = {
	{ "add", "NAME [HOST:PORT]", "!--key=HEX --inbound",
	    "a node cafed syncs with" },
	{ "rm", "NAME", "", "forget a peer" },
	{ "list", "", "--json", "the peers" },
	{ NULL, NULL, NULL, NULL },
};

const struct cmd_entry cmd_table[] = {
	{ "init", "", "!--name=NAME --role=site|hub|consultant --network=HEX "
	    "--restore=KEYFILE --force", "create this node: key pair and store",
	    0, cmd_init, NULL },
	{ "id", "", "", "print this node's id", 1, cmd_id, NULL },
	{ "status", "", "--json",
	    "this node, its site, counts, and each peer in plain words", 1,
	    cmd_status, NULL },
	{ "add", "TYPE [field=value ...]", "",
	    "add a record (asks for what is missing on a terminal); prints "
	    "its id", 1, cmd_add, NULL },
	{ "edit", "ID [field=value ...]", "",
	    "change fields of a record; echoes each change", 1, cmd_edit,
	    NULL },
	{ "rm", "ID ...", "", "remove records (cafe restore brings one back)",
	    1, cmd_rm, NULL },
	{ "restore", "ID ...", "",
	    "bring a removed record back with its last fields", 1,
	    cmd_restore, NULL },
	{ "undo", "", "--dry-run",
	    "take back this node's last add, edit, rm or import", 1, cmd_undo,
	    NULL },
	{ "show", "ID", "--json", "print one record", 1, cmd_show, NULL },
	{ "list", "TYPE", "--site=SITE --since=DATE --until=DATE "
	    "--where=FIELD=VALUE --columns=FIELD,... --removed --json",
	    "list records in columns", 1, cmd_list, NULL },
	{ "history", "ID", "--json",
	    "every change to a record: when, by whom, old and new", 1,
	    cmd_history, NULL },
	{ "conflicts", "[ID]", "--json",
	    "values overwritten by concurrent edits", 1, cmd_conflicts, NULL },
	{ "stats", "", "--by=site|month|format|factor --json",
	    "cafés, attendance, new attendees, children cared for", 1,
	    cmd_stats, NULL },
	{ "report", "", "--since=DATE --until=DATE --quarter=2026Q4 "
	    "--months=N --site=SITE --by=county|region --days=45 "
	    "--format=text|csv|json|html --table=NAME --per-site "
	    "--paper=a4|letter -o=FILE|DIR",
	    "per site and statewide: activity, factors, fidelity, feedback, "
	    "steps", 1, cmd_report, NULL },
	{ "log", "", "--origin=HEX --json", "the signed commits", 1, cmd_log,
	    NULL },
	{ "verify", "", "", "re-check every commit's signature and chain", 1,
	    cmd_verify, NULL },
	{ "export", "TYPE", "--format=csv|json --excel",
	    "write records of a type to stdout", 1, cmd_export, NULL },
	{ "import", "TYPE FILE", "--format=csv|json --dry-run",
	    "add records from a file (rows with an id update), all or none",
	    1, cmd_import, NULL },
	{ "bundle", "", "", "carry commits as a file", 1, cmd_bundle,
	    bundle_subs },
	{ "member", "", "", "the admin log: who may write and read", 1,
	    cmd_member, member_subs },
	{ "invite", "", "!--role=site|hub|consultant --site=SITE "
	    "--expires=7d !--addr=HOST:PORT",
	    "print a one-time token a new node joins with", 1, cmd_invite,
	    NULL },
	{ "join", "TOKEN|-", "--token-file=FILE --name=NAME",
	    "join a network with an invite: enrolled, hub added as peer", 0,
	    cmd_join, NULL },
	{ "audit", "", "--site=SITE --json",
	    "prove the log intact and report each site's progress", 1,
	    cmd_audit, NULL },
	{ "peer", "", "", "the nodes cafed syncs with", 1, cmd_peer,
	    peer_subs },
	{ "sync", "", "--wait --timeout=SECONDS --json",
	    "push now; with --wait, until every peer is caught up (exit 1 "
	    "if not)", 1, cmd_sync, NULL },
	{ "mirror", "postgres CONNINFO", "--schema=NAME --watch --batch=N "
	    "--json", "keep a PostgreSQL database in step with the records "
	    "(docs/analytics.md)", 1, cmd_mirror, NULL },
	{ "help", "[COMMAND|TYPE]", "",
	    "the commands, a command's usage, or a record type's fields", 0,
	    cmd_help, NULL },
	{ NULL, NULL, NULL, NULL, 0, NULL, NULL },
};

/* An example command line for each record type, for cafe help TYPE. */
static const struct {
	const char *type;
	const char *example;
} type_examples[] = {
	{ "site", "cafe add site name=\"Pine County FRC\" county=Pine "
	    "partner_type=family_resource_center" },
	{ "person", "cafe add person name=\"Ana R.\" roles=parent_leader,host" },
	{ "cafe", "cafe add cafe date=today format=parent factors=resilience "
	    "hosts=\"Ana R.\" attendees=16" },
	{ "action", "cafe add action cafe=CAFE_ID title=\"Invite the food "
	    "bank\" due=2026-11-15" },
	{ "training", "cafe add training date=2026-10-20 kind=host_training "
	    "participants=6" },
	{ "milestone", "cafe add milestone site=\"Pine County FRC\" step=2 "
	    "status=done date=2026-10-01" },
	{ "feedback", "cafe add feedback cafe=CAFE_ID responses=15 "
	    "felt_safe=15 learned=14" },
	{ "audit", "cafe add audit site=\"Pine County FRC\" date=today "
	    "finding=\"No child care at the May café\" severity=concern" },
	{ "member", "cafe member add KEY --role site --site \"Pine County "
	    "FRC\" --name \"Pine laptop\"" },
};

/* Longest message printed; the rest is cut, marked by "...". */
#define MSG_MAX 400

/*
 * Prints "cafe: [cmd: ]message" on one line of stderr: a control
 * character (a newline in a quoted CSV cell, say) is shown escaped, so
 * every message stays one line.
 */
static void vmsg(const char *cmd, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
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
		char u[1024];

		cli_usage_text(e->name != NULL ? e : NULL, c->sub, u,
		    sizeof(u));
		return cli_usage_error(c, "%s; usage: %s",
		    c->argc < min ? "missing argument" : "too many arguments",
		    e->name != NULL ? u : c->cmd);
	}
	return 0;
}

/* Resolves an id, prefix or name; prints the error. */
static int
resolve_arg(struct cli *c, const char *text, const struct sch_type *t,
    int removed_too, uint8_t id[PROTO_ID_LEN])
{
	char *cause = NULL;
	int rc = cli_ref_resolve(c, t, text, removed_too, id, &cause);

	if (rc == 0)
		return 0;
	if (rc == 1)
		cli_usage_error(c, "no %s with id %s on this node",
		    t != NULL ? t->name : "record", text);
	else
		cli_usage_error(c, "%s", cause);
	free(cause);
	return EXIT_USAGE;
}

/* Resolves an id argument among live records. */
int
cli_resolve(struct cli *c, const char *text, const struct sch_type *t,
    uint8_t id[PROTO_ID_LEN])
{
	return resolve_arg(c, text, t, 0, id);
}

/* Resolves an id argument among live and removed records. */
int
cli_resolve_all(struct cli *c, const char *text, uint8_t id[PROTO_ID_LEN])
{
	return resolve_arg(c, text, NULL, 1, id);
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

const char *
cli_tmpdir(void)
{
	const char *t = getenv("TMPDIR");

	return t != NULL && *t != '\0' ? t : "/tmp";
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

/* Formats milliseconds since the epoch as local time, for people. */
void
cli_time_local(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

/* Appends to buf (len bytes) what fmt makes. */
static void bcat(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
bcat(char *buf, size_t len, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, len - n, fmt, ap);
	va_end(ap);
}

/* Appends the usage line of one command or subcommand. */
static void
usage_line(char *buf, size_t len, const char *name, const char *sub,
    const char *args, const char *opts)
{
	char *copy, *tok, *save = NULL;

	bcat(buf, len, "cafe %s%s%s%s%s", name, sub ? " " : "", sub ? sub : "",
	    args[0] ? " " : "", args);
	copy = xstrdup(opts);
	for (tok = strtok_r(copy, " ", &save); tok != NULL;
	    tok = strtok_r(NULL, " ", &save)) {
		int req = tok[0] == '!';
		char *eq;

		if (req)
			tok++;
		if ((eq = strchr(tok, '=')) != NULL) {
			*eq = '\0';
			bcat(buf, len, req ? " %s %s" : " [%s %s]", tok, eq + 1);
		} else
			bcat(buf, len, req ? " %s" : " [%s]", tok);
	}
	free(copy);
}

/* Writes the usage of command e (of its sub, when not NULL) into buf. */
void
cli_usage_text(const struct cmd_entry *e, const struct cmd_sub *sub,
    char *buf, size_t len)
{
	const struct cmd_sub *s;

	buf[0] = '\0';
	if (e == NULL)
		return;
	if (sub != NULL) {
		usage_line(buf, len, e->name, sub->name, sub->args, sub->opts);
		return;
	}
	if (e->subs == NULL) {
		usage_line(buf, len, e->name, NULL, e->args, e->opts);
		return;
	}
	for (s = e->subs; s->name != NULL; s++) {
		if (s != e->subs)
			bcat(buf, len, " | ");
		usage_line(buf, len, e->name, s->name, s->args, s->opts);
	}
}

/* Prints a command's help: its usage lines, options and help. */
static void
command_help(const struct cmd_entry *e, const struct cmd_sub *only)
{
	const struct cmd_sub *s;
	char buf[1024];

	if (e->subs == NULL) {
		cli_usage_text(e, NULL, buf, sizeof(buf));
		printf("usage: %s\n  %s\n", buf, e->help);
		return;
	}
	printf("%s: %s\n", e->name, e->help);
	for (s = e->subs; s->name != NULL; s++) {
		if (only != NULL && s != only)
			continue;
		buf[0] = '\0';
		usage_line(buf, sizeof(buf), e->name, s->name, s->args,
		    s->opts);
		printf("usage: %s\n  %s\n", buf, s->help);
	}
}

/* Prints general usage. */
static void
usage(FILE *f)
{
	const struct cmd_entry *e;
	unsigned i;

	fprintf(f, "usage: cafe [--data DIR] COMMAND [ARGS...]\n\n"
	    "Commands:\n");
	for (e = cmd_table; e->name != NULL; e++)
		fprintf(f, "  %-10s %s\n", e->name, e->help);
	fprintf(f, "\nRecord types:\n");
	for (i = 0; i < sch_ntypes; i++)
		fprintf(f, "  %-10s %s\n", sch_types[i].name, sch_types[i].help);
	fprintf(f, "\ncafe COMMAND --help shows a command's usage; cafe help "
	    "TYPE a record type's fields.\nReferences take a name, an id or "
	    "a unique id prefix.  cafe --version prints the version.\n");
}

/* Finds a command's row by name, or NULL. */
static const struct cmd_entry *
find_cmd(const char *name)
{
	const struct cmd_entry *e;

	for (e = cmd_table; e->name != NULL; e++)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

/* Finds a subcommand of e by name, or NULL. */
static const struct cmd_sub *
find_sub(const struct cmd_entry *e, const char *name)
{
	const struct cmd_sub *s;

	if (e->subs == NULL || name == NULL)
		return NULL;
	for (s = e->subs; s->name != NULL; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* Prints a record type's fields and an example. */
static void
type_help(const struct sch_type *t)
{
	unsigned i;
	size_t k;

	printf("%s: %s\n\nFields:\n", t->name, t->help);
	for (i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];

		printf("  %-20s %s%s", f->name, f->required ? "(required) " :
		    "", sch_ftype_name(f->type));
		if (f->tokens != NULL) {
			const char *const *tok;

			for (tok = f->tokens; *tok != NULL; tok++)
				printf(" %s", *tok);
		} else if (f->ref != NULL)
			printf(" of %s (a name or an id)", f->ref);
		else if (f->type == SCH_UINT)
			printf(" %u-%u", (unsigned)f->min, (unsigned)f->max);
		printf(": %s\n", f->help);
	}
	for (k = 0; k < sizeof(type_examples) / sizeof(type_examples[0]); k++)
		if (strcmp(type_examples[k].type, t->name) == 0)
			printf("\nExample:\n  %s\n", type_examples[k].example);
	if (sch_field_find(t, "site", 4) != NULL &&
	    sch_field_find(t, "cafe", 4) == NULL)
		printf("\nOn a node enrolled for a site, site= defaults to that "
		    "site.\n");
}

/* Prints help for a command or a type. */
int
cmd_help(struct cli *c)
{
	const struct cmd_entry *e;
	const struct sch_type *t;

	if (c->argc == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	e = find_cmd(c->argv[0]);
	t = sch_type_find(c->argv[0], strlen(c->argv[0]));
	if (e == NULL && t == NULL)
		return cli_usage_error(c, "'%s' is neither a command nor a "
		    "record type (cafe help lists both)", c->argv[0]);
	/* audit and member are both: the record type, then the command. */
	if (t != NULL) {
		type_help(t);
		if (e != NULL)
			printf("\nThe command %s:\n", e->name);
	}
	if (e != NULL)
		command_help(e, c->argc > 1 ? find_sub(e, c->argv[1]) : NULL);
	return EXIT_OK;
}

/* Returns whether spec (a row's options) has opt; *value set when it
 * takes one. */
static int
spec_has(const char *spec, const char *opt, size_t n, int *value)
{
	const char *p = spec;

	while (p != NULL && *p != '\0') {
		const char *q = p;
		size_t l;

		if (*q == '!')
			q++;
		l = strcspn(q, " =");
		if (l == n && strncmp(q, opt, n) == 0) {
			*value = q[l] == '=';
			return 1;
		}
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	return 0;
}

/* Writes the option names of spec, space-separated, into buf. */
static void
spec_names(const char *spec, char *buf, size_t len)
{
	const char *p = spec;

	buf[0] = '\0';
	while (p != NULL && *p != '\0') {
		const char *q = *p == '!' ? p + 1 : p;

		bcat(buf, len, "%s%.*s", buf[0] ? " " : "",
		    (int)strcspn(q, " ="), q);
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
}

/*
 * Checks the options given against the row's: each must be there, and
 * one that takes a value must have one.  -h and --help anywhere print
 * the command's help.  Returns -1 when all is well, else an exit code.
 */
static int
check_opts(struct cli *c, const struct cmd_entry *e)
{
	const struct cmd_sub *sub = NULL;
	const char *spec = e->opts;
	int i, from = 0, value;

	for (i = 0; i < c->argc; i++) {
		if (strcmp(c->argv[i], "--") == 0)
			break;
		if (strcmp(c->argv[i], "-h") == 0 ||
		    strcmp(c->argv[i], "--help") == 0) {
			command_help(e, c->argc > 0 ? find_sub(e, c->argv[0]) :
			    NULL);
			return EXIT_OK;
		}
	}
	if (e->subs != NULL) {
		if (c->argc == 0 || (sub = find_sub(e, c->argv[0])) == NULL)
			return -1;	/* the handler names the subcommands */
		spec = sub->opts;
		from = 1;
		c->sub = sub;
	}
	for (i = from; i < c->argc; i++) {
		const char *a = c->argv[i];
		size_t n;
		char names[512];

		if (strcmp(a, "--") == 0)
			break;
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0')
			continue;
		n = strcspn(a, "=");
		if (!spec_has(spec, a, n, &value)) {
			spec_names(spec, names, sizeof(names));
			if (names[0] == '\0')
				return cli_usage_error(c, "unknown option "
				    "%.*s: cafe %s%s%s takes no option", (int)n,
				    a, e->name, sub ? " " : "",
				    sub ? sub->name : "");
			return cli_usage_error(c, "unknown option %.*s "
			    "(options: %s)", (int)n, a, names);
		}
		if (!value && a[n] == '=')
			return cli_usage_error(c, "option %.*s takes no value",
			    (int)n, a);
		if (value && a[n] != '=')
			i++;
	}
	return -1;
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
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
			free(data);
			data = xstrdup(argv[i + 1]);
			i += 2;
		} else if (strncmp(argv[i], "--data=", 7) == 0) {
			free(data);
			data = xstrdup(argv[i] + 7);
			i++;
		} else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			free(data);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
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
	if ((e = find_cmd(argv[i])) == NULL) {
		const char *near = NULL;
		int best = 3;

		for (e = cmd_table; e->name != NULL; e++) {
			int d = cli_distance(argv[i], e->name);

			if (d < best) {
				best = d;
				near = e->name;
			}
		}
		if (near != NULL)
			cli_msg(NULL, "%s: unknown command; did you mean %s? "
			    "(cafe help lists them)", argv[i], near);
		else
			cli_msg(NULL, "%s: unknown command (cafe help lists "
			    "them)", argv[i]);
		free(data);
		return EXIT_USAGE;
	}
	if (data == NULL)
		data = store_default_data();
	c.cmd = e->name;
	c.data = data;
	c.argc = argc - i - 1;
	c.argv = argv + i + 1;
	if ((rc = check_opts(&c, e)) >= 0) {
		free(data);
		return rc;
	}
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
		cli_ctl_tell(data, CTL_NUDGE);
	cli_names_free(&c);
	store_close(c.store);
	free(data);
	if (fflush(stdout) != 0 && rc == 0) {
		fprintf(stderr, "cafe: %s: cannot write output\n", e->name);
		rc = EXIT_USAGE;
	}
	return rc;
}
