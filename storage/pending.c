/*
 * pending.c: commits held until the admin log allows their author.
 *
 * DB_PENDING keys are (origin, seq), values the commit with its hash and
 * clock (storage/layout.h).  An origin's pending commits are contiguous
 * from its head + 1; apply.c judges them again whenever an admin commit
 * lands.  This file keeps, bounds, walks and reports them.
 */
#include <string.h>

#include "internal.h"

/* ---- pending commits ---------------------------------------------------
 *
 * A commit whose author the admin log held does not (yet) allow is kept
 * in DB_PENDING, not refused: with the commits of its origin after it,
 * contiguous from the origin's head + 1.  Whenever an admin commit lands,
 * every origin's pending commits are judged again, in seq order, and
 * applied while they pass; and the accepted commits of every member the
 * admin commits touched are judged again too, so that one the admin log
 * no longer allows (a revocation pinned below it, a narrower role) is
 * withdrawn to pending and the records are derived anew from what stays.
 * So what a node accepts depends on the commits it holds, never on the
 * order they came in (docs/formats.md, "Acceptance").
 */

/* Most commits one origin keeps pending, and all origins together: past
 * them a commit is not kept, and comes again with the next sync. */
#define PENDING_PER_ORIGIN 4096
#define PENDING_TOTAL 65536

/* Fills pt with origin's pending range; pt->last is 0 when none. */
void
store_pending_top(struct store *s, MDB_txn *txn, const uint8_t *origin,
    struct store_ptop *pt)
{
	uint8_t key[LAY_SEQKEY_LEN];
	MDB_val k = { sizeof(key), key }, d;
	MDB_cursor *cur;
	int rc;

	memset(pt, 0, sizeof(*pt));
	if (mdb_cursor_open(txn, s->dbi[DB_PENDING], &cur) != 0)
		return;
	lay_seqkey_bound(key, origin, 0);
	if (mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE) != 0 ||
	    k.mv_size != sizeof(key) ||
	    memcmp(k.mv_data, origin, PROTO_KEY_LEN) != 0)
		goto out;
	pt->first = lay_seqkey_seq(k.mv_data);
	lay_seqkey_bound(key, origin, 1);
	k.mv_size = sizeof(key);
	k.mv_data = key;
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	rc = rc == 0 ? mdb_cursor_get(cur, &k, &d, MDB_PREV) :
	    mdb_cursor_get(cur, &k, &d, MDB_LAST);
	if (rc != 0 || k.mv_size != sizeof(key) || d.mv_size < LAY_PEND_E ||
	    memcmp(k.mv_data, origin, PROTO_KEY_LEN) != 0)
		goto out;
	pt->last = lay_seqkey_seq(k.mv_data);
	memcpy(pt->hash, lay_pend_hash(d.mv_data), PROTO_HASH_LEN);
	pt->hlc = lay_pend_hlc(d.mv_data);
out:
	mdb_cursor_close(cur);
}

/* Keeps commit (e, sig) of origin at seq pending; returns 0, CS_EBOUND
 * when the pending bounds are reached, or CS_EDB. */
int
store_pending_put(struct store *s, MDB_txn *txn, const uint8_t *origin,
    uint64_t seq, uint64_t hlc, uint64_t recv_ms, const uint8_t *e,
    size_t elen, const uint8_t *sig, const struct store_ptop *pt)
{
	uint8_t key[LAY_SEQKEY_LEN], hash[PROTO_HASH_LEN];
	MDB_val k = { sizeof(key), key }, d;
	MDB_stat st;
	int rc;

	if ((pt->last != 0 && pt->last - pt->first + 1 >= PENDING_PER_ORIGIN) ||
	    (mdb_stat(txn, s->dbi[DB_PENDING], &st) == 0 &&
	    st.ms_entries >= PENDING_TOTAL))
		return CS_EBOUND;
	lay_seqkey(key, origin, seq);
	d.mv_size = LAY_PEND_LEN(elen);
	if ((rc = mdb_put(txn, s->dbi[DB_PENDING], &k, &d, MDB_RESERVE)) != 0)
		return store_mdb_fail(s, rc);
	proto_hash(hash, e, elen, sig);
	lay_pend_pack(d.mv_data, recv_ms, hash, hlc, sig, e, elen);
	return 0;
}

/* Deletes origin's pending commits from seq from on; returns 0 or CS_EDB. */
int
store_pending_drop(struct store *s, MDB_txn *txn, const uint8_t *origin,
    uint64_t from)
{
	uint8_t key[LAY_SEQKEY_LEN];

	lay_seqkey(key, origin, from);
	return store_drop_from(s, txn, s->dbi[DB_PENDING], key, sizeof(key),
	    PROTO_KEY_LEN);
}

/* Calls fn for every origin with pending commits; stops on non-zero. */
int
store_pending_origins(struct store *s, MDB_txn *txn,
    int (*fn)(struct store *, MDB_txn *, const uint8_t *, void *), void *arg)
{
	uint8_t key[LAY_SEQKEY_LEN], origin[PROTO_KEY_LEN];
	MDB_val k, d;
	MDB_cursor *cur;
	int rc, stop = 0;

	memset(key, 0, sizeof(key));
	k.mv_size = sizeof(key);
	k.mv_data = key;
	for (;;) {
		if ((rc = mdb_cursor_open(txn, s->dbi[DB_PENDING], &cur)) != 0)
			return store_mdb_fail(s, rc);
		rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
		if (rc == 0 && k.mv_size == sizeof(key))
			memcpy(origin, k.mv_data, PROTO_KEY_LEN);
		mdb_cursor_close(cur);
		if (rc != 0 || k.mv_size != sizeof(key))
			return 0;
		if ((stop = fn(s, txn, origin, arg)) != 0)
			return stop;
		/* The next origin: past every seq of this one. */
		lay_seqkey_bound(key, origin, 1);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		{
			int i;

			for (i = (int)sizeof(key) - 1; i >= 0; i--)
				if (++key[i] != 0)
					break;
			if (i < 0)
				return 0;
		}
	}
}


struct pending_arg {
	store_pending_fn fn;
	void *arg;
};

/* Reports one origin's pending commits, judging the first again. */
static int
pending_report(struct store *s, MDB_txn *txn, const uint8_t *origin,
    void *arg)
{
	struct pending_arg *pa = arg;
	struct proto_commit c;
	struct store_ptop pt;
	uint8_t key[LAY_SEQKEY_LEN];
	MDB_val k = { sizeof(key), key }, d;
	const char *why = "waiting for the admin log";
	char buf[160];
	int stop;

	store_pending_top(s, txn, origin, &pt);
	if (pt.last == 0)
		return 0;
	lay_seqkey(key, origin, pt.first);
	if (mdb_get(txn, s->dbi[DB_PENDING], &k, &d) == 0 &&
	    d.mv_size > LAY_PEND_E && proto_commit_decode(&c,
	    lay_pend_e(d.mv_data), lay_pend_elen(d.mv_size), &why) == 0) {
		if (trust_check(s, txn, &c, buf, sizeof(buf), &why) ==
		    TRUST_OK)
			why = "allowed now: lands with the next admin commit "
			    "or sync";
		stop = pa->fn(origin, pt.first, pt.last - pt.first + 1, why,
		    pa->arg);
		proto_commit_free(&c);
	} else
		stop = pa->fn(origin, pt.first, pt.last - pt.first + 1, why,
		    pa->arg);
	return stop;
}

/* Reports the commits waiting for the admin log (storage.h). */
int
store_pending(struct store *s, store_pending_fn fn, void *arg)
{
	struct pending_arg pa = { fn, arg };
	MDB_txn *txn;
	int rc;

	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	rc = store_pending_origins(s, txn, pending_report, &pa);
	mdb_txn_abort(txn);
	return rc < 0 ? CS_EDB : 0;
}

