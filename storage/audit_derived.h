/*
 * audit_derived.h: the checks store_audit() makes beyond the log itself
 * (audit_derived.c): the shape of the store file before it is mapped, the
 * walk of every database, the tables derived from the log compared with a
 * replay of it, and the received times.  Private to storage/.
 */
#ifndef CAFESYNC_STORAGE_AUDIT_DERIVED_H
#define CAFESYNC_STORAGE_AUDIT_DERIVED_H

#include "internal.h"

/* Tolerances of the received-time checks (see audit_received()). */
#define AUDIT_RECV_FUTURE_MS (1ULL * 86400 * 1000)
#define AUDIT_RECV_STEPBACK_MS (1ULL * 86400 * 1000)

/* Reports one fault to the audit that called; ctx is the caller's. */
typedef void (*audit_report_fn)(void *ctx, enum store_audit_kind kind,
    const uint8_t *origin, uint64_t seq, const uint8_t *id, const char *why);

/*
 * Checks dir/data.mdb before LMDB maps it: both meta pages must be valid
 * and the file must hold every page the newest meta says is in use (a
 * shorter file would fault with SIGBUS when a page past its end is read).
 * Returns 0, CS_ENOTFOUND when there is no data.mdb, or CS_EDAMAGED with
 * *cause (malloc'd) saying "store damaged: ..." and why.
 */
int audit_file_check(const char *dir, char **cause);

/*
 * Walks the pages every command reads when it opens the store (the list
 * of databases and the meta database) as audit_pages() does.  Call it
 * with a read transaction open, which keeps LMDB from reusing the pages
 * of the snapshot walked.  Returns 0, or CS_EDAMAGED with *cause.
 */
int audit_open_pages(const char *dir, char **cause);

/*
 * Walks every page of every B-tree the store's newest meta page reaches,
 * reading data.mdb with pread() rather than through LMDB's map: each page
 * must say its own number, be of the kind its place in the tree needs,
 * hold its entries inside it, point only at pages of the file, and be
 * reached once.  Reports the first breach as STORE_AUDIT_DAMAGED and
 * returns 1 (the store must then not be walked through LMDB, which would
 * follow the damage), else returns 0.  Call it with a read transaction
 * open (see audit_open_pages()).
 */
int audit_pages(struct store *s, audit_report_fn fn, void *ctx);

/*
 * Walks every named database of the store in txn to its end: each walk
 * must end cleanly (LMDB reports no damaged page), keys must come in
 * order, and the count in each database's header must be the number of
 * entries walked.  Reports each breach as STORE_AUDIT_DAMAGED.  Returns 1
 * when a walk stopped at a page LMDB cannot read (txn is then unusable:
 * LMDB marks a transaction that met a bad page as failed), else 0.
 */
int audit_structure(struct store *s, MDB_txn *txn, audit_report_fn fn,
    void *ctx);

/*
 * Compares each table the merge derives besides the records (the bydate
 * and bysite indexes, the conflicts and the seen bases) in the audited
 * store (read in txn) with the scratch store scr that replayed the log,
 * entry by entry.  Reports each difference as STORE_AUDIT_DERIVED, naming
 * the table, the entry and whether it is missing, extra or different.
 * Returns 0, or CS_EDB with *cause when a table cannot be read to the end.
 * The heads and the history are checked against the log directly by
 * audit.c; the digest by check_digest().
 */
int audit_derived_compare(struct store *s, MDB_txn *txn, struct store *scr,
    audit_report_fn fn, void *ctx, char **cause);

/* One difference between two tables walked side by side. */
enum audit_diff {
	AUDIT_EXTRA,    /* the audited store holds the key, the replay not */
	AUDIT_MISSING,  /* the replay holds it, the audited store not */
	AUDIT_DIFFERS,  /* both, with other values */
};
typedef void (*audit_diff_fn)(enum audit_diff d, const MDB_val *key,
    void *arg);

/*
 * Walks dbi a (in txn) and dbi b (in stx) side by side in key order,
 * calling fn for each difference.  Returns 0, or CS_EDB when either
 * cannot be read to the end.
 */
int audit_table_diff(MDB_txn *txn, MDB_dbi a, MDB_txn *stx, MDB_dbi b,
    audit_diff_fn fn, void *arg);

/*
 * Checks the received time kept before each stored commit, and the node's
 * clock, for plausibility (now is the wall clock in ms):
 *   - a received time is never 0, nor later than now by more than
 *     AUDIT_RECV_FUTURE_MS;
 *   - an origin's commits are applied in seq order, so a commit's received
 *     time is not earlier than its predecessor's by more than
 *     AUDIT_RECV_STEPBACK_MS (what a wall clock stepping back may do);
 *   - the node's clock (meta "hlc") is not behind any stored commit's
 *     clock, since applying a commit merges its clock into the node's.
 * Each breach is a STORE_AUDIT_RECEIVED fault.  A commit stored long
 * before or after its own clock says it was made is the author's clock,
 * not this store's: cafe audit shows it as a clock warning, not a fault.
 */
void audit_received(struct store *s, MDB_txn *txn, uint64_t now,
    audit_report_fn fn, void *ctx);

#endif
