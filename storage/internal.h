/*
 * internal.h: what the files of storage/ share and nobody else sees: the
 * store's handle, the named databases, the write-transaction runner that
 * grows the map.  The layout of every key and value is in layout.h.
 */
#ifndef CAFESYNC_STORAGE_INTERNAL_H
#define CAFESYNC_STORAGE_INTERNAL_H

#include <lmdb.h>

#include "layout.h"
#include "storage.h"

/*
 * 2: record ids carry their owner's tag and member records their own id
 * space (proto.h); the pending database.  A store of version 1 is refused
 * with a message: its records' ids cannot be given owners afterwards.
 */
#define STORE_SCHEMA_VERSION 2
#define STORE_KEY_FILE "node.key"

/* The named databases; the layout of each one's keys and values is in
 * layout.h. */
enum store_db {
	DB_META,      /* name -> value: schema, node, network, role, name... */
	DB_COMMITS,   /* every stored commit of every origin, by (origin, seq) */
	DB_HEADS,     /* each origin's last commit: the version vector */
	DB_RECORDS,   /* id -> the record (MessagePack, docs/formats.md) */
	DB_BYSITE,    /* live records by type, site and date */
	DB_BYDATE,    /* every live record by type and date (0: no date) */
	DB_HISTORY,   /* every op on each id, with its type */
	DB_CONFLICTS, /* losing values, by id, field and clock */
	DB_FORKS,     /* second commits at a held (origin, seq): evidence */
	DB_SEEN,      /* the clocks of values an edit saw */
	DB_PEERS,     /* name -> {"addr": str, "key": bin 32} (peers.c) */
	DB_INVITES,   /* one-time invites (invite.c) */
	DB_PENDING,   /* held commits the admin log does not allow yet,
	               * contiguous from the origin's head + 1 */
	DB_NAMES,     /* type(1) fold(name) NUL id(16) -> name (names.c) */
	DB_LASTSEEN,  /* each key's last completed sync (lastseen.c) */
	DB_COUNT
};

/* The names of the databases, by enum store_db (store.c). */
extern const char *const store_db_names[DB_COUNT];

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	char *dir;
	struct store_info info;
	uint8_t sk[PROTO_SK_LEN];
	int mdb_err;          /* last LMDB error inside a write function */
	size_t write_hint;    /* bytes the next write brings, for a full disk's
	                       * message (0: unknown) */
	int names_ok;         /* the name index is known to be built */
};

/* A write function run by store_write(); returns 0 or an error. */
typedef int (*store_write_fn)(struct store *s, MDB_txn *txn, void *arg);

/*
 * Runs fn in a write transaction and commits it when fn returns 0.  When
 * the map is full, aborts, doubles the map and runs fn again from the
 * start, so fn must be restartable.  Returns fn's result or CS_EDB.
 */
int store_write(struct store *s, store_write_fn fn, void *arg, char **cause);

/*
 * Tells whether a write that failed with LMDB error rc failed for want of
 * space on the store's disk (LMDB reports a short write as an I/O error);
 * then fills *cause (when not NULL) with what is free and about what the
 * write needs (s->write_hint).
 */
int store_space_low(struct store *s, int rc, char **cause);

/* Records an LMDB error for store_write() and returns CS_EDB. */
int store_mdb_fail(struct store *s, int rc);

/* Opens a read transaction, refreshing the map size when another process
 * grew it.  Returns 0 or CS_EDB. */
int store_read_begin(struct store *s, MDB_txn **txn);

/* Returns the index of t in sch_types. */
unsigned store_type_index(const struct sch_type *t);

/* Reads a meta value into buf (NUL-terminated when text); returns 0 or
 * -1 when absent or larger than max. */
int store_meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, void *buf,
    size_t max, size_t *len);

/* Puts a meta key inside txn; returns 0 or CS_EDB. */
int store_meta_put(struct store *s, MDB_txn *txn, const char *key,
    const void *v, size_t len);

/* Returns CS_EPERM with *cause when the node waits for its own log after
 * a restore, else 0. */
int store_write_allowed(struct store *s, char **cause);

/* XORs BLAKE2b(id || bytes) into digest: how a record enters or leaves
 * the store's digest. */
void store_digest_mix(uint8_t digest[PROTO_HASH_LEN], const uint8_t *id,
    const void *bytes, size_t len);

/* What the admin log held says of a commit (trust.c). */
enum trust_verdict {
	TRUST_OK,       /* its author may write every op of it */
	TRUST_PENDING,  /* not (yet) allowed: kept waiting for the admin log */
	TRUST_REFUSE,   /* breaks a rule no admin commit can change */
};

/*
 * Judges whether c's author may write each of its ops, by the admin log
 * as held in txn.  Returns the verdict, with *why (a static string or buf)
 * unless TRUST_OK.
 */
enum trust_verdict trust_check(struct store *s, MDB_txn *txn,
    const struct proto_commit *c, char *buf, size_t len, const char **why);


/* Reads key's membership inside txn (the admin is synthesized); returns 0
 * or CS_ENOTFOUND.  Free m with store_member_free(). */
int trust_member(struct store *s, MDB_txn *txn,
    const uint8_t key[PROTO_KEY_LEN], struct store_member *m);

/*
 * Commits the batch as store_batch_commit() does, then runs post in the
 * same write transaction: when post fails, nothing of the batch is
 * written.  Returns 0 or an error with *cause.
 */
int store_batch_commit_post(struct store_batch *b, store_write_fn post,
    void *arg, char **cause);

/* Reads the head of origin inside txn; returns 0 or CS_ENOTFOUND. */
int store_head_get(struct store *s, MDB_txn *txn, const uint8_t *origin,
    uint64_t *seq, uint8_t hash[PROTO_HASH_LEN], uint64_t *hlc);


/*
 * Applies the node's own fresh commits inside txn, without re-verifying
 * their signatures.  Returns 0 or CS_EDB; look at each item's result.
 */
int store_apply_local(struct store *s, MDB_txn *txn, struct store_item *items,
    size_t n);

/*
 * Keeps the name index in step with one record write inside txn: oldrec
 * (NULL when the record is new) and newrec are the record's stored bytes
 * before and after (names.c).  Returns 0 or CS_EDB.
 */
int store_names_apply(struct store *s, MDB_txn *txn, const uint8_t *id,
    const struct sch_type *t, const void *oldrec, size_t oldlen,
    const void *newrec, size_t newlen);

/* Unpacks a stored record value into r (which references data). */
int store_rec_unpack(struct store_rec *r, const uint8_t *id,
    const void *data, size_t len);

#endif
