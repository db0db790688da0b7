/*
 * log.c: reading the commit log back: an origin's commits from a seq on
 * (decoded, or the stored bytes for a sync or a bundle), a record's
 * history, the heads and the epoch, the counts of status, and verify,
 * which checks every stored commit's signature and chain again.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Decodes a stored commit value and calls fn. */
static int
call_commit(const MDB_val *d, store_commit_fn fn, void *arg, int *err)
{
	const uint8_t *v = d->mv_data;
	struct proto_commit c;
	struct store_commit sc;
	uint8_t hash[PROTO_HASH_LEN];
	int r;

	*err = 0;
	if (d->mv_size < LAY_COMMIT_E) {
		*err = CS_EDECODE;
		return 0;
	}
	sc.recv_ms = lay_commit_recv(v);
	sc.sig = lay_commit_sig(v);
	sc.e = lay_commit_e(v);
	sc.elen = lay_commit_elen(d->mv_size);
	if ((*err = proto_commit_decode(&c, sc.e, sc.elen, NULL)) != 0)
		return 0;
	proto_hash(hash, sc.e, sc.elen, sc.sig);
	sc.c = &c;
	sc.hash = hash;
	r = fn(&sc, arg);
	proto_commit_free(&c);
	return r;
}

/* Walks the log. */
int
store_log(struct store *s, const uint8_t *origin, uint64_t from,
    store_commit_fn fn, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	static const uint8_t none[PROTO_KEY_LEN];
	uint8_t start[LAY_SEQKEY_LEN];
	int rc, err;

	lay_seqkey(start, origin != NULL ? origin : none, from);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	if (store_read_cursor(s, &txn, s->dbi[DB_COMMITS], &cur) != 0)
		return CS_EDB;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (origin != NULL && memcmp(k.mv_data, origin,
		    PROTO_KEY_LEN) != 0)
			break;
		if (call_commit(&d, fn, arg, &err) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

/* Walks one origin's stored commits from seq from, without decoding. */
int
store_log_raw(struct store *s, const uint8_t origin[PROTO_KEY_LEN],
    uint64_t from, store_raw_fn fn, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	uint8_t start[LAY_SEQKEY_LEN];
	uint64_t want = from;
	int rc, r = 0;

	lay_seqkey(start, origin, from);
	k.mv_size = sizeof(start);
	k.mv_data = start;
	if (store_read_cursor(s, &txn, s->dbi[DB_COMMITS], &cur) != 0)
		return CS_EDB;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *v = d.mv_data;

		if (k.mv_size != LAY_SEQKEY_LEN || memcmp(k.mv_data, origin,
		    PROTO_KEY_LEN) != 0 || lay_seqkey_seq(k.mv_data) != want ||
		    d.mv_size <= LAY_COMMIT_E)
			break;
		r = fn(want, lay_commit_e(v), lay_commit_elen(d.mv_size),
		    lay_commit_sig(v), arg);
		if (r != 0)
			break;
		want++;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return r < 0 ? r : 0;
}

struct history_arg {
	uint32_t opidx;
	store_change_fn fn;
	void *arg;
};

static int
history_commit(const struct store_commit *sc, void *arg)
{
	struct history_arg *ha = arg;
	struct store_change ch;

	if (ha->opidx >= sc->c->nops)
		return 0;
	ch.sc = sc;
	ch.op = &sc->c->ops[ha->opidx];
	return ha->fn(&ch, ha->arg);
}

/* Walks the ops that touched id, in clock order. */
int
store_history(struct store *s, const uint8_t id[PROTO_ID_LEN],
    store_change_fn fn, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d, ck, cd;
	struct history_arg ha = { 0, fn, arg };
	int rc, err;

	k.mv_size = PROTO_ID_LEN;
	k.mv_data = (void *)(uintptr_t)id;
	if (store_read_cursor(s, &txn, s->dbi[DB_HISTORY], &cur) != 0)
		return CS_EDB;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *key = k.mv_data;

		uint8_t ckey[LAY_SEQKEY_LEN];

		if (k.mv_size != LAY_HIST_KEY_LEN ||
		    memcmp(key, id, PROTO_ID_LEN) != 0)
			break;
		lay_hist_commit(ckey, key);
		ck.mv_size = sizeof(ckey);
		ck.mv_data = ckey;
		ha.opidx = lay_hist_op(key);
		if (mdb_get(txn, s->dbi[DB_COMMITS], &ck, &cd) == 0 &&
		    call_commit(&cd, history_commit, &ha, &err) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

/* Walks the heads. */
int
store_heads(struct store *s, store_head_fn fn, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc;

	if (store_read_cursor(s, &txn, s->dbi[DB_HEADS], &cur) != 0)
		return CS_EDB;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		if (k.mv_size == PROTO_KEY_LEN && d.mv_size == LAY_HEAD_LEN &&
		    fn(k.mv_data, lay_head_seq(d.mv_data),
		    lay_head_hash(d.mv_data), arg) != 0)
			break;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

/* Returns the seq of one origin's head. */
uint64_t
store_head_seq(struct store *s, const uint8_t origin[PROTO_KEY_LEN])
{
	uint8_t hash[PROTO_HASH_LEN];
	uint64_t seq = 0, hlc;
	MDB_txn *txn;

	if (store_read_begin(s, &txn) != 0)
		return 0;
	if (store_head_get(s, txn, origin, &seq, hash, &hlc) != 0)
		seq = 0;
	mdb_txn_abort(txn);
	return seq;
}

/* Returns the derivation epoch: rebuilds so far. */
uint64_t
store_epoch(struct store *s)
{
	uint8_t v[8];
	uint64_t e = 0;
	MDB_txn *txn;

	if (store_read_begin(s, &txn) != 0)
		return 0;
	if (store_meta_get(txn, s->dbi[DB_META], "epoch", v, sizeof(v),
	    NULL) == 0)
		e = get_be64(v);
	mdb_txn_abort(txn);
	return e;
}

/* Counts the bydate entries of type index b; sets *bad when LMDB cannot
 * read the database to the end of them. */
static uint64_t
count_type(MDB_txn *txn, MDB_dbi dbi, uint8_t b, int *bad)
{
	MDB_cursor *cur;
	MDB_val k = { 1, &b }, d;
	uint64_t n = 0;
	int rc;

	if (mdb_cursor_open(txn, dbi, &cur) != 0) {
		*bad = 1;
		return 0;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	    rc == 0 && lay_bydate_type(k.mv_data) == b;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		n++;
	if (rc != 0 && rc != MDB_NOTFOUND)
		*bad = 1;
	mdb_cursor_close(cur);
	return n;
}

/* Fills counts, commit totals and the digest. */
int
store_status(struct store *s, struct store_status *st)
{
	MDB_txn *txn;
	MDB_stat ms;
	unsigned i;
	int bad = 0;

	memset(st, 0, sizeof(*st));
	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	for (i = 0; i < sch_ntypes && i < 16; i++)
		st->counts[i] = count_type(txn, s->dbi[DB_BYDATE],
		    (uint8_t)i, &bad);
	if (mdb_stat(txn, s->dbi[DB_COMMITS], &ms) == 0)
		st->commits = ms.ms_entries;
	if (mdb_stat(txn, s->dbi[DB_FORKS], &ms) == 0)
		st->forks = ms.ms_entries;
	store_meta_get(txn, s->dbi[DB_META], "digest", st->digest,
	    PROTO_HASH_LEN, NULL);
	mdb_txn_abort(txn);
	return bad ? CS_EDAMAGED : 0;
}

struct verify_arg {
	struct store *s;
	store_fault_fn fn;
	void *arg;
	int faults;
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
	uint8_t hash[PROTO_HASH_LEN];
};

/* Re-checks one commit against its predecessor. */
static int
verify_commit(const struct store_commit *sc, void *arg)
{
	struct verify_arg *va = arg;
	const struct proto_commit *c = sc->c;
	const char *why = NULL;

	if (memcmp(va->origin, c->origin, PROTO_KEY_LEN) != 0) {
		memcpy(va->origin, c->origin, PROTO_KEY_LEN);
		va->seq = 0;
	}
	if (c->seq != va->seq + 1)
		why = "seq does not follow the previous commit";
	else if (c->seq > 1 && memcmp(c->prev, va->hash, PROTO_HASH_LEN) != 0)
		why = "prev is not the hash of the previous commit";
	else if (proto_verify(sc->sig, sc->e, sc->elen, va->s->info.network,
	    c->origin) != 0)
		why = "signature does not verify";
	if (why != NULL) {
		va->faults++;
		va->fn(c->origin, c->seq, why, va->arg);
	}
	va->seq = c->seq;
	memcpy(va->hash, sc->hash, PROTO_HASH_LEN);
	return 0;
}

/* Re-checks every stored commit. */
int
store_verify(struct store *s, store_fault_fn fn, void *arg)
{
	struct verify_arg va;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, err;

	memset(&va, 0, sizeof(va));
	va.s = s;
	va.fn = fn;
	va.arg = arg;
	if (store_read_cursor(s, &txn, s->dbi[DB_COMMITS], &cur) != 0)
		return CS_EDB;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *key = k.mv_data;

		call_commit(&d, verify_commit, &va, &err);
		if (err != 0 && k.mv_size == LAY_SEQKEY_LEN) {
			va.faults++;
			fn(key, lay_seqkey_seq(key),
			    "stored bytes do not decode", arg);
			memcpy(va.origin, key, PROTO_KEY_LEN);
			va.seq = lay_seqkey_seq(key);
		}
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		char why[160];

		snprintf(why, sizeof(why), "store damaged: the log cannot be "
		    "read to its end: %s", mdb_strerror(rc));
		va.faults++;
		fn(NULL, 0, why, arg);
	}
	mdb_txn_abort(txn);
	return va.faults;
}

