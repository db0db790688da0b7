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
/* Deletes dbi's entries from key on while they start with its first plen
 * bytes; returns 0 or CS_EDB. */
int store_drop_from(struct store *s, MDB_txn *txn, MDB_dbi dbi,
    const void *key, size_t klen, size_t plen);

/* Opens a read transaction, refreshing the map size when another process
 * grew it.  Returns 0 or CS_EDB. */
int store_read_begin(struct store *s, MDB_txn **txn);
/* A read transaction and a cursor on dbi in it; returns 0 or CS_EDB. */
int store_read_cursor(struct store *s, MDB_txn **txn, MDB_dbi dbi,
    MDB_cursor **cur);

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

/* ---- accepting commits: apply.c, merge.c, check.c, pending.c --------- */

/* Most member records one transaction's admin commits touch that are
 * re-judged one by one; past it, every origin is. */
#define TOUCHED_MAX 64

/* State shared by the ops of one apply transaction. */
struct apply_ctx {
	struct store_failed *failed;
	struct proto_enc rec;
	struct proto_enc scratch;
	uint8_t digest[PROTO_HASH_LEN];
	int digest_loaded;
	int admin_moved;      /* an admin commit was accepted */
	int rebuild;          /* accepted commits were withdrawn */
	size_t ntouched;      /* member records the admin commits touched */
	uint8_t touched[TOUCHED_MAX][PROTO_ID_LEN];
	uint64_t drained;     /* pending commits accepted at the end */
};

/* Merges op opidx of accepted commit c into its record (merge.c): its
 * history entry, the record, indexes, names, conflicts and the digest in
 * ax.  Returns 0 or a CS_ error. */
int store_merge_op(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const struct proto_commit *c, uint32_t opidx);
/* Derives record id anew, of type t, from the ops of that type its
 * history holds (merge.c).  Returns 0 or CS_EDB. */
int store_merge_rebuild(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const uint8_t *id, const struct sch_type *t);

/* Checks every op of c against the schema and the author's own earlier
 * ops (check.c); returns NULL, or why not (in buf or static). */
const char *store_check_ops(struct store *s, MDB_txn *txn,
    const struct proto_commit *c, char *buf, size_t len);
/* Keeps item it, a fork with hash, as evidence (check.c). */
int store_fork_put(struct store *s, MDB_txn *txn, const struct store_item *it,
    const uint8_t hash[PROTO_HASH_LEN]);
/* Tells whether a fork like it need not be kept: one of its seq is, or
 * enough of its origin are (check.c). */
int store_fork_known(struct store *s, MDB_txn *txn,
    const struct store_item *it);

/* The pending commits of one origin: first and last seq, last hash/hlc. */
struct store_ptop {
	uint64_t first, last;
	uint8_t hash[PROTO_HASH_LEN];
	uint64_t hlc;
};

/* Fills pt with origin's pending range; pt->last is 0 when none. */
void store_pending_top(struct store *s, MDB_txn *txn, const uint8_t *origin,
    struct store_ptop *pt);
/* Keeps commit (e, sig) of origin at seq pending; returns 0, CS_EBOUND
 * when the pending bounds are reached, or CS_EDB. */
int store_pending_put(struct store *s, MDB_txn *txn, const uint8_t *origin,
    uint64_t seq, uint64_t hlc, uint64_t recv_ms, const uint8_t *e,
    size_t elen, const uint8_t *sig, const struct store_ptop *pt);
/* Deletes origin's pending commits from seq from on; returns 0 or CS_EDB. */
int store_pending_drop(struct store *s, MDB_txn *txn, const uint8_t *origin,
    uint64_t from);
/* Calls fn for every origin with pending commits; stops on non-zero. */
int store_pending_origins(struct store *s, MDB_txn *txn,
    int (*fn)(struct store *, MDB_txn *, const uint8_t *, void *), void *arg);

#endif
