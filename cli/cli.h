/*
 * cli.h: what the files of cli/ share: the command table entry, argument
 * helpers, error reporting and JSON conversion of records.
 */
#ifndef CAFESYNC_CLI_H
#define CAFESYNC_CLI_H

#include <jansson.h>

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
};

struct cmd_entry {
	const char *name;
	const char *usage;
	const char *help;
	int needs_store;
	int (*fn)(struct cli *c);
};

extern const struct cmd_entry cmd_table[];

/*
 * For the commands that diagnose a store (audit, verify, status): forks
 * before the store is opened; returns -1 in the child, which goes on, and
 * in the parent the child's exit status, a crash turned into "store
 * damaged: ..." and EXIT_CHECK (guard.c).  Returns -1 for other commands.
 */
int cli_guard(struct cli *c);

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

/* Returns a monotonic clock in milliseconds, for timeouts. */
int64_t cli_mono_ms(void);

/* Parses a YYYY-MM-DD option value; prints the error on failure. */
int cli_date(struct cli *c, const char *opt, const char *text, uint32_t *ymd);

/* Command handlers. */
int cmd_init(struct cli *c);
int cmd_id(struct cli *c);
int cmd_status(struct cli *c);
int cmd_add(struct cli *c);
int cmd_edit(struct cli *c);
int cmd_rm(struct cli *c);
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
 * The control socket of the node's daemon (cmd_sync.c).  cli_ctl() sends
 * one request and waits at most timeout_ms for the answer: 0 with *reply,
 * CS_ENOTFOUND when no daemon runs, CS_EIO with *cause (malloc'd).
 */
int cli_ctl(const char *data, json_t *req, int timeout_ms, json_t **reply,
    char **cause);
/* Sends {"cmd": cmd} and ignores the answer; warns when cafed fails. */
void cli_ctl_tell(const char *data, const char *cmd);
/* The daemon's status object, or NULL when it does not run. */
json_t *cli_daemon_status(struct cli *c);
/* Prints the daemon's part of `cafe status`. */
void cli_print_daemon(json_t *d);

#endif
