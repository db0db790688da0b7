/*
 * cli.h: what the files of cli/ share: the command table entry, argument
 * helpers, error reporting and JSON conversion of records.
 */
#ifndef CAFESYNC_CLI_H
#define CAFESYNC_CLI_H

#include <jansson.h>

#include "../proto/control.h"
#include "../storage/storage.h"

/* Exit codes. */
#define EXIT_OK 0
#define EXIT_CHECK 1   /* a check failed: verify, refused commits */
#define EXIT_USAGE 2   /* usage or input error */

/* Per-invocation state handed to every command. */
struct cli {
	const char *cmd;       /* the command's name, for messages */
	const char *data;      /* the data directory */
	int json;              /* --json given */
	int argc;              /* the command's own arguments (after options) */
	char **argv;
	struct store *store;   /* opened by the dispatcher when needs_store */
	struct cli_names *names; /* names and short ids looked up (names.c) */
	const struct cmd_sub *sub; /* the subcommand given, when the row has */
};

/*
 * A subcommand: its arguments and options (as in struct cmd_entry) and
 * its help line.
 */
struct cmd_sub {
	const char *name;
	const char *args;
	const char *opts;
	const char *help;
};

/*
 * One row of the command table (cafe.c).  args are the positional
 * arguments as the usage line shows them; opts the options,
 * space-separated: "--flag", "--opt=META" for one that takes a value,
 * "!--opt=META" for a required one.  Usage lines, help and the check of
 * the options given all come from the row.  subs, when not NULL, are the
 * subcommands (then args and opts are the sub's).
 */
struct cmd_entry {
	const char *name;
	const char *args;
	const char *opts;
	const char *help;
	int needs_store;
	int (*fn)(struct cli *c);
	const struct cmd_sub *subs;
};

extern const struct cmd_entry cmd_table[];

/*
 * For the commands that diagnose a store (audit, verify, status): forks
 * before the store is opened; returns -1 in the child, which goes on, and
 * in the parent the child's exit status, a crash turned into "store
 * damaged: ..." and EXIT_CHECK (guard.c).  Returns -1 for other commands.
 */
int cli_guard(struct cli *c);

/* Writes the usage line(s) of e (of its subcommand sub, when not NULL). */
void cli_usage_text(const struct cmd_entry *e, const struct cmd_sub *sub,
    char *buf, size_t len);

/* Levenshtein distance of two short words, for "did you mean". */
int cli_distance(const char *a, const char *b);

/* Prints "cafe: CMD: message" to stderr and returns code. */
int cli_fail(struct cli *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints "cafe: CMD: message" to stderr and returns EXIT_USAGE. */
#define cli_usage_error(c, ...) cli_fail((c), EXIT_USAGE, __VA_ARGS__)

/* Prints "cafe: CMD: message" on one line, control characters escaped. */
void cli_msg(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "cafe: warning: message" to stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Takes the option named opt (like "--site") and its value out of the
 * command's arguments.  Returns its value, or NULL when absent.  A second
 * call returns the next occurrence.  An option without a value is a usage
 * error (*bad set).
 */
const char *cli_take(struct cli *c, const char *opt, int *bad);

/* Takes a flag (like "--json"); returns whether it was there. */
int cli_flag(struct cli *c, const char *opt);

/* After options are taken: fails on any option left, and on a count of
 * remaining arguments outside [min, max].  Returns 0 or EXIT_USAGE. */
int cli_rest(struct cli *c, int min, int max);

/* Resolves a record id argument; prints the error and returns non-zero. */
int cli_resolve(struct cli *c, const char *text, const struct sch_type *t,
    uint8_t id[PROTO_ID_LEN]);

/* Resolves like cli_resolve(), removed records of any type included. */
int cli_resolve_all(struct cli *c, const char *text,
    uint8_t id[PROTO_ID_LEN]);

/* Looks up a record type by name; prints the error when unknown. */
const struct sch_type *cli_type(struct cli *c, const char *name);

/* Splits "name=value" arguments into kv (values point into argv). */
int cli_fields(struct cli *c, char **args, int n, struct store_kv *kv);

/* Converts a record to a flat JSON object (id, type, fields). */
json_t *cli_rec_json(const struct store_rec *r);

/* Converts one field value to JSON by its schema type. */
json_t *cli_value_json(const struct sch_field *f, const msgpack_object *v);

/* Prints a JSON value to stdout with a newline. */
void cli_print_json(json_t *j);

/*
 * A JSON array printed as it is made, so a listing of any length needs
 * memory for one element only.
 */
struct cli_jstream {
	size_t n;
};
void cli_jstream_begin(struct cli_jstream *js);
void cli_jstream_add(struct cli_jstream *js, json_t *j);
void cli_jstream_end(struct cli_jstream *js);

/* Formats an hlc as an ISO 8601 UTC time into buf (at least 32 bytes). */
void cli_time(uint64_t hlc_or_ms, int is_hlc, char *buf, size_t len);

/* Formats milliseconds since the epoch in the local time zone (TZ) as
 * "YYYY-MM-DD HH:MM", for people; JSON keeps cli_time()'s UTC. */
void cli_time_local(uint64_t ms, char *buf, size_t len);

/* Returns a monotonic clock in milliseconds, for timeouts. */
int64_t cli_mono_ms(void);

/* The directory for scratch files: $TMPDIR, else /tmp. */
const char *cli_tmpdir(void);

/* Parses a YYYY-MM-DD option value; prints the error on failure. */
int cli_date(struct cli *c, const char *opt, const char *text, uint32_t *ymd);

/* ---- names.c: references in and out ---- */

/*
 * Resolves what was typed for a reference to a record of type t (NULL:
 * any): a full id, a unique id prefix, or a name (case and accents
 * aside).  Returns 0 with id; 1 when text is a full id not on this node;
 * CS_EAMBIG (the candidates with their ids in *cause), CS_ENOTFOUND or
 * CS_EUSAGE with *cause (malloc'd, one line).
 */
int cli_ref_resolve(struct cli *c, const struct sch_type *t, const char *text,
    int removed_too, uint8_t id[PROTO_ID_LEN], char **cause);

/* The shortest unique prefix of id; valid until the command ends. */
const char *cli_short(struct cli *c, const uint8_t id[PROTO_ID_LEN]);

/* A record's label (its name, or "2026-11-04 parent" for a café), "" when
 * it is not on this node; valid until the command ends. */
const char *cli_label(struct cli *c, const uint8_t id[PROTO_ID_LEN]);

/* Writes "Name (short id)" for a reference, or the short id alone. */
void cli_ref_text(struct cli *c, const uint8_t id[PROTO_ID_LEN], char *buf,
    size_t len);

/* A node key's name: its member record's, this node's, or 8 hex digits;
 * valid until the command ends. */
const char *cli_author(struct cli *c, const uint8_t key[PROTO_KEY_LEN]);

/* Writes a record's label, or "café 2026-11-19 (dads)" for echoes. */
void cli_rec_label(const struct store_rec *r, char *buf, size_t len);
void cli_rec_describe(const struct store_rec *r, char *buf, size_t len);

/* Frees what names.c cached. */
void cli_names_free(struct cli *c);

/* ---- fields.c: typed fields made ready, every mistake at once ---- */

/* A put being prepared: the fields to write, as the store reads them. */
struct cli_put {
	const struct sch_type *t;
	struct {
		const struct sch_field *f;
		char *value;           /* canonical text (malloc'd) */
	} fv[PROTO_MAX_FIELDS + 4];
	size_t n;
	struct {
		const struct sch_field *f;   /* the field at fault, or NULL */
		char *msg;             /* "field X: rule; did you mean Y?" */
	} *err;
	size_t nerr;
	char **warn;               /* plausibility warnings */
	size_t nwarn;
	int unchanged;             /* edit: fields given with the same value */
	int site_default;          /* site= came from the node's enrollment */
	int no_default;            /* do not fill site= in */
	int no_dup_check;          /* the caller looks for the same café */
};

void cli_put_init(struct cli_put *p, const struct sch_type *t);
void cli_put_free(struct cli_put *p);
/* Adds name=value as typed; a mistake goes to p's errors. */
void cli_put_add(struct cli *c, struct cli_put *p, const char *name,
    const char *value);
/* Sets a prepared value (takes v) and forgets the field's errors. */
void cli_put_set(struct cli_put *p, const struct sch_field *f, char *v);
/* Site default and missing required fields (new record, old NULL), or
 * unchanged fields dropped (edit of old); then plausibility warnings. */
void cli_put_finish(struct cli *c, struct cli_put *p,
    const struct store_rec *old);
/* Prints each error on its own line (prefixed by where when not NULL);
 * returns their number. */
size_t cli_put_errors(struct cli *c, const struct cli_put *p,
    const char *where);
/* One field's typed text made ready (malloc'd), or NULL with *msg. */
char *cli_field_value(struct cli *c, const struct sch_field *f,
    const char *text, char **msg);
/* A stored value for people: names beside references. */
void cli_value_text(struct cli *c, const struct sch_field *f,
    const msgpack_object *v, char *buf, size_t len);
/* Writes a prepared value for people, names beside ids. */
void cli_prepared_text(struct cli *c, const struct sch_field *f,
    const char *value, char *buf, size_t len);
/* UTF-8 text: its width in columns (one a code point); cut to at most w
 * columns on a character boundary, the cut marked with an ellipsis (s
 * needs 3 spare bytes); printed cut and padded to width. */
size_t cli_text_width(const char *s);
void cli_text_cut(char *s, size_t w);
void cli_print_cell(const char *s, size_t width);
/* Makes a text one line, in place: newlines and tabs become spaces. */
void cli_one_line(char *s);
/* The site this node writes for (enrolled as a site): 0, else -1. */
int cli_own_site(struct cli *c, uint8_t site[PROTO_ID_LEN]);
/* The local date days from today as YYYY-MM-DD; today as YYYYMMDD. */
void cli_local_date(int days, char buf[11]);
uint32_t cli_today_ymd(void);
uint32_t cli_ahead_ymd(void);

/* ---- prompt.c: guided entry on a terminal ---- */

/* Tells whether stdin and stdout are a terminal: only then is anything
 * asked. */
int cli_interactive(struct cli *c);
/* Tells whether stderr is a terminal. */
int cli_stderr_tty(void);
/*
 * Asks for each field in error or missing (for an edit with no field
 * given, old set: for each field, the current value as default), checks
 * each answer at once, then shows a summary and asks to confirm.
 * Returns EXIT_OK with p ready, or EXIT_USAGE when cancelled.
 */
int cli_guided(struct cli *c, struct cli_put *p, const struct store_rec *old);

/* ---- undo.c: the last local write, and taking it back ---- */

/* Notes a record made (add, old NULL) or changed (edit) for cafe undo. */
void cli_undo_note(struct cli *c, const char *what,
    const uint8_t id[PROTO_ID_LEN], const struct store_rec *old,
    const struct cli_put *p);
/* Notes records removed. */
void cli_undo_removed(struct cli *c, uint8_t (*ids)[PROTO_ID_LEN], size_t n);
/* Notes the records an import made and the fields it changed. */
void cli_undo_import(struct cli *c, json_t *created, json_t *edited);
/* The record of type t that this node's last write added: 0 with id,
 * else -1 (a default for an action's or a feedback's café). */
int cli_last_added(struct cli *c, const struct sch_type *t,
    uint8_t id[PROTO_ID_LEN]);
/* Restores a removed record as a new one (cmd_record.c). */
int cli_restore_one(struct cli *c, const uint8_t old_id[PROTO_ID_LEN],
    uint8_t new_id[PROTO_ID_LEN], int quiet);

/* Command handlers. */
int cmd_init(struct cli *c);
int cmd_id(struct cli *c);
int cmd_status(struct cli *c);
int cmd_add(struct cli *c);
int cmd_edit(struct cli *c);
int cmd_rm(struct cli *c);
int cmd_restore(struct cli *c);
int cmd_undo(struct cli *c);
int cmd_show(struct cli *c);
int cmd_list(struct cli *c);
int cmd_history(struct cli *c);
int cmd_conflicts(struct cli *c);
int cmd_stats(struct cli *c);
int cmd_log(struct cli *c);
int cmd_verify(struct cli *c);
int cmd_export(struct cli *c);
int cmd_import(struct cli *c);
int cmd_bundle(struct cli *c);
int cmd_help(struct cli *c);
int cmd_peer(struct cli *c);
int cmd_sync(struct cli *c);
int cmd_audit(struct cli *c);
int cmd_member(struct cli *c);
int cmd_invite(struct cli *c);
int cmd_join(struct cli *c);
int cmd_mirror(struct cli *c);
/* The mirrors' state for cafe status (cmd_mirror.c). */
json_t *cli_mirror_status(struct cli *c);
void cli_print_mirror(json_t *all);

/*
 * The control socket of the node's daemon (cmd_sync.c, proto/control.h).
 * cli_ctl() sends command cmd with the members of args (NULL: none) and
 * waits at most timeout_ms for the answer: 0 with *reply, CS_ENOTFOUND
 * when no daemon runs, CS_ETIMEDOUT or CS_EIO with *cause (malloc'd),
 * also when the daemon speaks another version of the protocol.
 */
int cli_ctl(const char *data, enum ctl_cmd cmd, json_t *args,
    int timeout_ms, json_t **reply, char **cause);
/* Sends cmd and ignores the answer; warns when cafed fails. */
void cli_ctl_tell(const char *data, enum ctl_cmd cmd);
/* The daemon's status object, or NULL when it does not run. */
json_t *cli_daemon_status(struct cli *c);
/* Prints each stored peer's state in plain words, with the daemon's
 * status d or without (NULL). */
void cli_print_peers(struct cli *c, json_t *d);
/* Writes when ms was for people ("today 21:40", "Tuesday 21:40",
 * "2026-11-04 21:40", "never" for 0), local time. */
void cli_when(uint64_t ms, char *buf, size_t len);

#endif
