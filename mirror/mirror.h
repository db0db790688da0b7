/*
 * mirror.h: keeps a PostgreSQL database in step with a node's merged
 * records (libpq), for BI tools and SQL.
 *
 * The one public interface of mirror/.  The mirror owns one schema of the
 * database (default "cafesync"): a table per record type with typed
 * columns made from the schema table (storage.h), comments from its help
 * text, views that answer the state lead's questions with names instead
 * of ids, and three tables of its own: _meta (the network the schema
 * mirrors, the version of its layout), _position (per origin, the last
 * seq mirrored) and _refused (records PostgreSQL refused, and why).
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
 * A schema holding another network's mirror is refused; one mirror at a
 * time writes a schema (a PostgreSQL advisory lock).  mirror/ is linked
 * into cafe (cafe mirror) and cafed ([mirror] postgres); storage/ knows
 * nothing of it.  Nothing here is thread-safe: use a handle from one
 * thread at a time.
 */
#ifndef CAFESYNC_MIRROR_H
#define CAFESYNC_MIRROR_H

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

/* Returns the schema's name. */
const char *mirror_schema(const struct mirror *m);

#endif /* CAFESYNC_MIRROR_H */
