/*
 * mirror.h: keeps a PostgreSQL database in step with a node's merged
 * records (libpq), for BI tools and SQL.
 *
 * The one public interface of mirror/.  The mirror owns one schema of the
 * database (default "cafesync"): a table per record type with typed
 * columns made from the schema table (storage.h), comments from its help
 * text, views that answer the state lead's questions with names instead
 * of ids, and three tables of its own: _meta (the network the schema
 * mirrors, the version of its layout, the epoch), _position (per origin,
 * the last seq mirrored) and _refused (records PostgreSQL refused, and
 * why).
 *
 * Exactly once: the rows a batch of commits touched and the positions
 * that cover them are written in one PostgreSQL transaction, so a mirror
 * stopped at any point (kill -9 included) resumes from the positions with
 * nothing lost and nothing applied twice.  A batch is read from the
 * store's log: the ids every commit after the position touched, whose
 * current merged state is then written (upserted, or deleted when the
 * record was removed).  Writing a record's current state is idempotent,
 * so a record that moved again after its commit was read is written again
 * by the batch that covers that later commit, never left behind.
 *
 * Withdrawn commits change records with no new commit past the positions,
 * so _meta also holds the store's derivation epoch (store_epoch()) the
 * rows follow.  A run that finds it moved mirrors the store anew from
 * seq 1, the first batch's transaction emptying the tables and the
 * positions and recording the new epoch; when it has not moved, nothing
 * else happens.
 *
 * A schema holding another network's mirror is refused; one mirror at a
 * time writes a schema (a PostgreSQL advisory lock).  mirror/ is linked
 * into cafe (cafe mirror) and cafed ([mirror] postgres); storage/ knows
 * nothing of it.  Nothing here is thread-safe: use a handle from one
 * thread at a time.
 */
#ifndef CAFESYNC_MIRROR_H
#define CAFESYNC_MIRROR_H

#include <signal.h>
#include <stdint.h>

#include "../storage/storage.h"

/* What a mirror logs: a refused record, a lost or regained connection. */
enum mirror_level {
	MIRROR_INFO,
	MIRROR_WARN,
};
typedef void (*mirror_log_fn)(void *arg, enum mirror_level level,
    const char *msg);

struct mirror_cfg {
	const char *conninfo;     /* libpq connection string or URI */
	const char *schema;       /* NULL: "cafesync" */
	unsigned batch;           /* records per transaction; 0: 10,000 */
	mirror_log_fn log;        /* may be NULL */
	void *log_arg;
};

/* What mirror_run() did, added to the counts already there. */
struct mirror_stats {
	uint64_t commits;         /* commits covered */
	uint64_t rows;            /* records written (inserted or updated) */
	uint64_t removed;         /* records deleted */
	uint64_t refused;         /* records PostgreSQL refused */
	uint64_t batches;         /* transactions committed */
};

struct mirror;

/*
 * Makes a mirror of store s (which must outlive it) with cfg (copied).
 * Does not connect.  Returns NULL with *cause (malloc'd) when the schema
 * name is not a plain identifier.
 */
struct mirror *mirror_new(struct store *s, const struct mirror_cfg *cfg,
    char **cause);

/* Closes the connection and frees the mirror. */
void mirror_free(struct mirror *m);

/*
 * Connects (when not connected), takes the schema's lock, checks that the
 * schema mirrors this node's network, creates or upgrades the tables,
 * comments and views, and reads the positions.  Returns 0, or with *cause
 * (malloc'd):
 *   CS_EIO      PostgreSQL cannot be reached or failed: worth a retry;
 *   CS_EEXIST   another mirror holds the schema's lock: worth a retry;
 *   CS_EPERM    the schema holds another network's mirror: never retry;
 *   CS_EDB      PostgreSQL refused the schema (a privilege, say).
 */
int mirror_connect(struct mirror *m, char **cause);

/* Returns whether the mirror holds a working connection. */
int mirror_connected(const struct mirror *m);

/* Drops the connection (mirror_connect() makes a new one). */
void mirror_disconnect(struct mirror *m);

/*
 * Brings the database up to date with the store's commits as they stand
 * now, one transaction per batch, connecting first when needed.  A record
 * PostgreSQL refuses is logged with its id and the reason, kept in
 * _refused, and the rest goes on.  Returns 0, or an error as
 * mirror_connect() does with *cause; on CS_EIO the connection is dropped,
 * and what was committed stays committed.
 */
int mirror_run(struct mirror *m, struct mirror_stats *st, char **cause);

/*
 * Counts the commits the store holds past the mirror's positions (as of
 * the last mirror_connect() or mirror_run()).  Returns the count.
 */
uint64_t mirror_lag(struct mirror *m);

/* Calls fn for each origin's position (as of the last connect or run). */
typedef void (*mirror_pos_fn)(const uint8_t origin[PROTO_KEY_LEN],
    uint64_t seq, void *arg);
void mirror_positions(const struct mirror *m, mirror_pos_fn fn, void *arg);

/* Logs through the configured log function. */
void mirror_logf(struct mirror *m, enum mirror_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Returns the schema's name. */
const char *mirror_schema(const struct mirror *m);

/* Returns the store the mirror reads. */
struct store *mirror_store(const struct mirror *m);

/*
 * Keeps the mirror up to date until *stop is set (by a signal handler):
 * runs it whenever the store's last write transaction changes (checked
 * every 10 ms), and after a failure retries with a backoff from 100 ms
 * to 5 s, logging the failure once and its end once.  caught_up, when not
 * NULL, is called once, after the first run that succeeds.  With data
 * (the node's data directory), keeps the mirror's state file there up to
 * date (mirror_status_write()).  Returns 0 once stopped, or CS_EPERM
 * (with the reason logged) when the schema holds another network's
 * mirror.
 */
int mirror_watch(struct mirror *m, const volatile sig_atomic_t *stop,
    const char *data,
    void (*caught_up)(void *arg, const struct mirror_stats *st),
    void *arg);

/*
 * Writes the mirror's state file in data, "mirror-SCHEMA.status", replaced
 * atomically: JSON with the schema, this process's pid, state ("ok",
 * "retrying", "stopped", "done", "refused"), error (or null), the time it
 * was written and the positions.  Failures to write are ignored: the
 * file only informs cafe status.
 */
void mirror_status_write(struct mirror *m, const char *data,
    const char *state, const char *error);

/*
 * Reads the state files mirrors left in data and adds to each how far it
 * lags now: "running" (its process is alive), "lag" (the commits the
 * store holds past its positions) and "behind_ms" (the age of the oldest
 * of them, as this node received it; 0 when none).  Returns a JSON array
 * (new reference), empty when no mirror ever ran here.
 */
struct json_t;
struct json_t *mirror_status_read(struct store *s, const char *data);

#endif /* CAFESYNC_MIRROR_H */
