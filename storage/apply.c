/*
 * apply.c: accepting a commit into the store.
 *
 * A commit is checked in full before anything is written: it decodes
 * strictly; it extends its origin's chain (seq == head+1, prev == head
 * hash, a clock that moves forward); its signature holds for this network;
 * its author is allowed by the admin log (storage/trust.c) or it is kept
 * pending (pending.c); every op validates (check.c).  A commit at a seq
 * already stored is either the same bytes (a duplicate, nothing to do)
 * or, when validly signed, a fork, kept as evidence and never applied.
 * An accepted commit's ops are merged into the records by merge.c.  When
 * the admin log moves, pending commits and the commits of the members it
 * touched are judged again, so what a node accepts depends on the commits
 * it holds, never on the order they came in.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

/* Refuses item it with err and a cause. */
static void
refuse(struct store_item *it, int err, const char *why)
{
	it->result = err;
	snprintf(it->cause, sizeof(it->cause), "%s", why);
}

/* Returns whether origin is in the failed set. */
static int
failed_has(const struct store_failed *f, const uint8_t *origin)
{
	size_t i;

	for (i = 0; f != NULL && i < f->n; i++)
		if (memcmp(f->origin[i], origin, PROTO_KEY_LEN) == 0)
			return 1;
	return 0;
}

/* Adds the origin of a refused item to the failed set. */
static void
failed_add(struct store_failed *f, const struct store_item *it)
{
	static const uint8_t zero[PROTO_KEY_LEN];

	if (f == NULL || it->result == 0 || it->result == CS_EDUP ||
	    it->result == CS_EPENDING ||
	    memcmp(it->origin, zero, PROTO_KEY_LEN) == 0 ||
	    failed_has(f, it->origin))
		return;
	f->origin = xreallocarray(f->origin, f->n + 1, sizeof(*f->origin));
	memcpy(f->origin[f->n++], it->origin, PROTO_KEY_LEN);
}

/*
 * Tells a commit at a seq already held (stored, or pending) with the held
 * bytes (sig, e, elen) apart: the same bytes are a duplicate, other bytes
 * validly signed a fork, kept as evidence.  Fills it->result.
 */
static void
held_again(struct store *s, MDB_txn *txn, struct store_item *it,
    const struct proto_commit *c, const uint8_t *sig, const uint8_t *e,
    size_t elen, int pending)
{
	uint8_t hash[PROTO_HASH_LEN];

	if (elen == it->elen && memcmp(sig, it->sig, PROTO_SIG_LEN) == 0 &&
	    memcmp(e, it->e, elen) == 0) {
		refuse(it, CS_EDUP, pending ? "already held, waiting for the "
		    "admin log" : "already stored");
		return;
	}
	if (proto_verify(it->sig, it->e, it->elen, s->info.network,
	    c->origin) != 0) {
		refuse(it, CS_ESIG, "signature does not verify (replay of a "
		    "held seq with other bytes)");
		return;
	}
	proto_hash(hash, it->e, it->elen, it->sig);
	if (store_fork_known(s, txn, it)) {
		refuse(it, CS_EDUP, "a fork of this seq (or enough of this "
		    "origin) is kept as evidence already");
		return;
	}
	if (store_fork_put(s, txn, it, hash) != 0) {
		refuse(it, CS_EDB, "cannot store fork evidence");
		return;
	}
	refuse(it, CS_EFORK, "fork: a different commit at a held seq (kept "
	    "as evidence, not applied)");
}

/* Notes the member records an admin commit's ops touch. */
static void
note_members(struct apply_ctx *ax, const struct proto_commit *c)
{
	uint32_t i;

	for (i = 0; i < c->nops; i++) {
		const struct proto_op *op = &c->ops[i];

		if (op->type_len != 6 || memcmp(op->type, "member", 6) != 0)
			continue;
		if (ax->ntouched < TOUCHED_MAX)
			memcpy(ax->touched[ax->ntouched], op->id, PROTO_ID_LEN);
		ax->ntouched++;
	}
}

/*
 * Writes an accepted commit: the commit, the head, then the ops.  Returns
 * 0 or CS_EDB.
 */
static int
accept_commit(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const struct proto_commit *c, const uint8_t *e, size_t elen,
    const uint8_t *sig, uint64_t recv_ms, uint64_t *hlc)
{
	uint8_t ckey[LAY_SEQKEY_LEN], hv[LAY_HEAD_LEN], hash[PROTO_HASH_LEN];
	MDB_val k = { sizeof(ckey), ckey }, d;
	uint32_t i;
	int rc;

	lay_seqkey(ckey, c->origin, c->seq);
	d.mv_size = LAY_COMMIT_LEN(elen);
	if ((rc = mdb_put(txn, s->dbi[DB_COMMITS], &k, &d, MDB_RESERVE)) != 0)
		return store_mdb_fail(s, rc);
	lay_commit_pack(d.mv_data, recv_ms, sig, e, elen);
	proto_hash(hash, e, elen, sig);
	lay_head_pack(hv, c->seq, hash, c->hlc);
	k.mv_size = PROTO_KEY_LEN;
	k.mv_data = (void *)(uintptr_t)c->origin;
	d.mv_size = sizeof(hv);
	d.mv_data = hv;
	if ((rc = mdb_put(txn, s->dbi[DB_HEADS], &k, &d, 0)) != 0)
		return store_mdb_fail(s, rc);
	for (i = 0; i < c->nops; i++)
		if ((rc = store_merge_op(s, txn, ax, c, i)) != 0)
			return rc;
	/* A clock from far ahead of ours does not pull ours along. */
	if (HLC_MS(c->hlc) <= store_now_ms() + PROTO_HLC_FUTURE_MS)
		*hlc = hlc_merge(*hlc, c->hlc);
	if (memcmp(c->origin, s->info.network, PROTO_KEY_LEN) == 0) {
		ax->admin_moved = 1;
		note_members(ax, c);
	}
	return 0;
}

/*
 * Checks and applies one commit, writing nothing when it is refused.
 * verify 0 skips the signature check (the node's own fresh commit).
 * Fills it->result, origin, seq and cause; merges the commit's clock into
 * *hlc when it is applied.
 */
static void
apply_one(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    struct store_item *it, int verify, uint64_t *hlc)
{
	struct proto_commit c;
	const char *why = NULL;
	uint8_t head_hash[PROTO_HASH_LEN], ckey[LAY_SEQKEY_LEN];
	const uint8_t *prev_hash;
	uint64_t head = 0, head_hlc = 0, top, prev_hlc;
	char tbuf[sizeof(it->cause)];
	enum trust_verdict v;
	struct store_ptop pt;
	MDB_val k = { sizeof(ckey), ckey }, d;
	int rc;

	it->result = 0;
	it->cause[0] = '\0';
	it->seq = 0;
	memset(it->origin, 0, PROTO_KEY_LEN);
	rc = proto_commit_decode(&c, it->e, it->elen, &why);
	if (rc != 0) {
		refuse(it, rc, why);
		return;
	}
	memcpy(it->origin, c.origin, PROTO_KEY_LEN);
	it->seq = c.seq;
	store_head_get(s, txn, c.origin, &head, head_hash, &head_hlc);
	lay_seqkey(ckey, c.origin, c.seq);
	if (c.seq <= head) {
		if (mdb_get(txn, s->dbi[DB_COMMITS], &k, &d) == 0 &&
		    d.mv_size >= LAY_COMMIT_E)
			held_again(s, txn, it, &c, lay_commit_sig(d.mv_data),
			    lay_commit_e(d.mv_data),
			    lay_commit_elen(d.mv_size), 0);
		else
			refuse(it, CS_EDB, "a stored commit is missing");
		goto out;
	}
	store_pending_top(s, txn, c.origin, &pt);
	if (pt.last != 0 && c.seq <= pt.last) {
		if (mdb_get(txn, s->dbi[DB_PENDING], &k, &d) == 0 &&
		    d.mv_size >= LAY_PEND_E)
			held_again(s, txn, it, &c, lay_pend_sig(d.mv_data),
			    lay_pend_e(d.mv_data), lay_pend_elen(d.mv_size), 1);
		else
			refuse(it, CS_EDB, "a pending commit is missing");
		goto out;
	}
	/* Evidence of a fork is kept even after a refusal; the rest is not. */
	if (failed_has(ax->failed, c.origin)) {
		refuse(it, CS_ESEQ, "follows a refused commit of its origin");
		goto out;
	}
	top = pt.last != 0 ? pt.last : head;
	prev_hash = pt.last != 0 ? pt.hash : head_hash;
	prev_hlc = pt.last != 0 ? pt.hlc : head_hlc;
	if (c.seq > top + 1) {
		snprintf(it->cause, sizeof(it->cause), "seq gap: this node "
		    "has seq %llu of that origin", (unsigned long long)top);
		it->result = CS_ESEQ;
		goto out;
	}
	if (c.seq > 1 && memcmp(c.prev, prev_hash, PROTO_HASH_LEN) != 0) {
		refuse(it, CS_ECHAIN, "prev is not the hash of the previous "
		    "commit");
		goto out;
	}
	if (HLC_MS(c.hlc) > PROTO_HLC_MAX_MS) {
		refuse(it, CS_ESCHEMA, "clock is past the year 2200");
		goto out;
	}
	if (c.seq > 1 && c.hlc <= prev_hlc) {
		refuse(it, CS_ESCHEMA, "clock does not move forward from the "
		    "previous commit");
		goto out;
	}
	if (verify && !(it->sig_ok && c.origin == it->e + 4) &&
	    proto_verify(it->sig, it->e, it->elen, s->info.network,
	    c.origin) != 0) {
		refuse(it, CS_ESIG, "signature does not verify for this "
		    "network");
		goto out;
	}
	if ((why = store_check_ops(s, txn, &c, tbuf, sizeof(tbuf))) != NULL) {
		refuse(it, CS_ESCHEMA, why);
		goto out;
	}
	v = trust_check(s, txn, &c, tbuf, sizeof(tbuf), &why);
	if (pt.last != 0 && v != TRUST_REFUSE) {
		/* Behind a waiting commit it waits too, whatever the admin
		 * log says of it now; a rule no admin commit can change
		 * refuses it here as anywhere. */
		v = TRUST_PENDING;
		snprintf(tbuf, sizeof(tbuf), "waits behind seq %llu of its "
		    "origin, which the admin log does not allow yet",
		    (unsigned long long)pt.first);
		why = tbuf;
	}
	if (v == TRUST_REFUSE || (v == TRUST_PENDING && !verify)) {
		/* The node's own writes are never kept waiting. */
		refuse(it, CS_EPERM, why);
		goto out;
	}
	if (v == TRUST_PENDING) {
		rc = store_pending_put(s, txn, c.origin, c.seq, c.hlc,
		    store_now_ms(), it->e, it->elen, it->sig, &pt);
		if (rc == CS_EBOUND)
			refuse(it, CS_ESEQ, "not kept: too many commits wait "
			    "for the admin log (it comes again with the next "
			    "sync)");
		else if (rc != 0)
			refuse(it, CS_EDB, "cannot keep a pending commit");
		else
			refuse(it, CS_EPENDING, why);
		goto out;
	}
	if (accept_commit(s, txn, ax, &c, it->e, it->elen, it->sig,
	    store_now_ms(), hlc) != 0)
		refuse(it, CS_EDB, s->mdb_err != 0 ? mdb_strerror(s->mdb_err) :
		    "store failed while applying");
out:
	proto_commit_free(&c);
}

/*
 * Judges origin's pending commits again, in seq order, and applies them
 * while the admin log allows them; drops them for good from the first one
 * that breaks a rule no admin commit can change.  Returns 0 or CS_EDB.
 */
static int
drain_origin(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const uint8_t *origin, uint64_t *hlc)
{
	uint8_t key[LAY_SEQKEY_LEN], *copy = NULL;
	MDB_val k = { sizeof(key), key }, d;
	struct proto_commit c;
	const char *why;
	char buf[160];
	uint64_t head, recv;
	enum trust_verdict v;
	size_t elen;
	int rc = 0;

	for (;;) {
		head = 0;
		store_head_get(s, txn, origin, &head, NULL, NULL);
		lay_seqkey(key, origin, head + 1);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		if (mdb_get(txn, s->dbi[DB_PENDING], &k, &d) != 0 ||
		    d.mv_size < LAY_PEND_E) {
			/* Nothing contiguous waits: what is left is stale. */
			rc = store_pending_drop(s, txn, origin, 0);
			break;
		}
		/* The value is read again below: copy it out of the map. */
		free(copy);
		copy = xmalloc(d.mv_size);
		memcpy(copy, d.mv_data, d.mv_size);
		elen = lay_pend_elen(d.mv_size);
		recv = lay_pend_recv(copy);
		if (proto_commit_decode(&c, lay_pend_e(copy), elen,
		    &why) != 0) {
			rc = store_pending_drop(s, txn, origin, head + 1);
			break;
		}
		if ((why = store_check_ops(s, txn, &c, buf, sizeof(buf))) != NULL)
			v = TRUST_REFUSE;
		else
			v = trust_check(s, txn, &c, buf, sizeof(buf), &why);
		if (v == TRUST_OK) {
			if ((rc = mdb_del(txn, s->dbi[DB_PENDING], &k,
			    NULL)) != 0)
				rc = store_mdb_fail(s, rc);
			else if ((rc = accept_commit(s, txn, ax, &c,
			    lay_pend_e(copy), elen, lay_pend_sig(copy), recv,
			    hlc)) == 0)
				ax->drained++;
		} else if (v == TRUST_REFUSE)
			rc = store_pending_drop(s, txn, origin, head + 1);
		proto_commit_free(&c);
		if (v != TRUST_OK || rc != 0)
			break;
	}
	free(copy);
	return rc;
}

/*
 * Withdraws origin's accepted commits from seq from on: they go back to
 * pending (or are dropped, with everything pending after them, when
 * drop), the head moves back to from - 1, and the records are derived
 * anew at the end of the transaction.  Returns 0 or CS_EDB.
 */
static int
withdraw(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const uint8_t *origin, uint64_t from, uint64_t head, int drop)
{
	uint8_t key[LAY_SEQKEY_LEN], hv[LAY_HEAD_LEN], hash[PROTO_HASH_LEN];
	MDB_val k = { sizeof(key), key }, d;
	struct proto_commit c;
	struct store_ptop none;
	const char *why;
	uint64_t seq;
	int rc;

	memset(&none, 0, sizeof(none));
	if (drop && (rc = store_pending_drop(s, txn, origin, 0)) != 0)
		return rc;
	for (seq = from; seq <= head; seq++) {
		lay_seqkey(key, origin, seq);
		k.mv_size = sizeof(key);
		k.mv_data = key;
		if (mdb_get(txn, s->dbi[DB_COMMITS], &k, &d) != 0 ||
		    d.mv_size < LAY_COMMIT_E)
			return CS_EDB;
		if (!drop) {
			size_t elen = lay_commit_elen(d.mv_size);
			uint8_t *copy = xmalloc(d.mv_size);
			const uint8_t *e = lay_commit_e(copy);

			memcpy(copy, d.mv_data, d.mv_size);
			if (proto_commit_decode(&c, e, elen, &why) != 0) {
				free(copy);
				return CS_EDB;
			}
			rc = store_pending_put(s, txn, origin, seq, c.hlc,
			    lay_commit_recv(copy), e, elen,
			    lay_commit_sig(copy), &none);
			proto_commit_free(&c);
			free(copy);
			if (rc == CS_EDB)
				return rc;
			k.mv_size = sizeof(key);
			k.mv_data = key;
		}
		if ((rc = mdb_del(txn, s->dbi[DB_COMMITS], &k, NULL)) != 0)
			return store_mdb_fail(s, rc);
	}
	k.mv_size = PROTO_KEY_LEN;
	k.mv_data = (void *)(uintptr_t)origin;
	if (from <= 1) {
		if ((rc = mdb_del(txn, s->dbi[DB_HEADS], &k, NULL)) != 0 &&
		    rc != MDB_NOTFOUND)
			return store_mdb_fail(s, rc);
	} else {
		MDB_val pk = { sizeof(key), key }, pd;

		lay_seqkey(key, origin, from - 1);
		if (mdb_get(txn, s->dbi[DB_COMMITS], &pk, &pd) != 0 ||
		    pd.mv_size < LAY_COMMIT_E)
			return CS_EDB;
		proto_hash(hash, lay_commit_e(pd.mv_data),
		    lay_commit_elen(pd.mv_size), lay_commit_sig(pd.mv_data));
		if (proto_commit_decode(&c, lay_commit_e(pd.mv_data),
		    lay_commit_elen(pd.mv_size), &why) != 0)
			return CS_EDB;
		lay_head_pack(hv, from - 1, hash, c.hlc);
		proto_commit_free(&c);
		d.mv_size = sizeof(hv);
		d.mv_data = hv;
		if ((rc = mdb_put(txn, s->dbi[DB_HEADS], &k, &d, 0)) != 0)
			return store_mdb_fail(s, rc);
	}
	ax->rebuild = 1;
	return 0;
}

/*
 * Judges origin's accepted commits again, from seq 1, by the admin log as
 * it now stands, and withdraws them from the first one it no longer
 * allows.  Returns 0 or CS_EDB.
 */
static int
rejudge(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const uint8_t *origin)
{
	uint8_t key[LAY_SEQKEY_LEN];
	MDB_val k = { sizeof(key), key }, d;
	struct proto_commit c;
	enum trust_verdict v = TRUST_OK;
	MDB_cursor *cur;
	const char *why;
	char buf[160];
	uint64_t head = 0, seq = 0;
	int rc;

	if (memcmp(origin, s->info.network, PROTO_KEY_LEN) == 0 ||
	    store_head_get(s, txn, origin, &head, NULL, NULL) != 0)
		return 0;
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_COMMITS], &cur)) != 0)
		return store_mdb_fail(s, rc);
	lay_seqkey(key, origin, 1);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != sizeof(key) ||
		    memcmp(k.mv_data, origin, PROTO_KEY_LEN) != 0 ||
		    d.mv_size < LAY_COMMIT_E)
			break;
		seq = lay_seqkey_seq(k.mv_data);
		if (proto_commit_decode(&c, lay_commit_e(d.mv_data),
		    lay_commit_elen(d.mv_size), &why) != 0)
			break;
		v = trust_check(s, txn, &c, buf, sizeof(buf), &why);
		proto_commit_free(&c);
		if (v != TRUST_OK)
			break;
	}
	mdb_cursor_close(cur);
	if (v == TRUST_OK)
		return 0;
	return withdraw(s, txn, ax, origin, seq, head, v == TRUST_REFUSE);
}

struct drain_arg {
	struct apply_ctx *ax;
	uint64_t *hlc;
};

static int
drain_one(struct store *s, MDB_txn *txn, const uint8_t *origin, void *arg)
{
	struct drain_arg *da = arg;

	return drain_origin(s, txn, da->ax, origin, da->hlc);
}

/* Calls rejudge() for every origin with a head; stops on an error. */
static int
rejudge_all(struct store *s, MDB_txn *txn, struct apply_ctx *ax)
{
	uint8_t origin[PROTO_KEY_LEN];
	MDB_val k, d;
	MDB_cursor *cur;
	int rc, first = 1;

	memset(origin, 0, sizeof(origin));
	for (;;) {
		if ((rc = mdb_cursor_open(txn, s->dbi[DB_HEADS], &cur)) != 0)
			return store_mdb_fail(s, rc);
		k.mv_size = PROTO_KEY_LEN;
		k.mv_data = origin;
		rc = mdb_cursor_get(cur, &k, &d, first ? MDB_FIRST :
		    MDB_SET_RANGE);
		if (rc == 0 && !first && k.mv_size == PROTO_KEY_LEN &&
		    memcmp(k.mv_data, origin, PROTO_KEY_LEN) == 0)
			rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
		if (rc == 0 && k.mv_size == PROTO_KEY_LEN)
			memcpy(origin, k.mv_data, PROTO_KEY_LEN);
		mdb_cursor_close(cur);
		if (rc != 0 || k.mv_size != PROTO_KEY_LEN)
			return 0;
		first = 0;
		if ((rc = rejudge(s, txn, ax, origin)) != 0)
			return rc;
	}
}

/*
 * Derives the records, their indexes, history, conflicts and what edits
 * saw anew from the accepted commits, after some were withdrawn.  The
 * merge gives the same records in any order, so walking the log in key
 * order gives what a node that never accepted the withdrawn commits
 * holds.  Returns 0 or CS_EDB.
 */
static int
rebuild(struct store *s, MDB_txn *txn, struct apply_ctx *ax)
{
	static const enum store_db derived[] = { DB_RECORDS, DB_BYSITE,
		DB_BYDATE, DB_HISTORY, DB_CONFLICTS, DB_SEEN, DB_NAMES };
	struct proto_commit c;
	MDB_cursor *cur;
	MDB_val k, d;
	const char *why;
	size_t i;
	uint32_t j;
	int rc;

	for (i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
		if ((rc = mdb_drop(txn, s->dbi[derived[i]], 0)) != 0)
			return store_mdb_fail(s, rc);
	memset(ax->digest, 0, sizeof(ax->digest));
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_COMMITS], &cur)) != 0)
		return store_mdb_fail(s, rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (d.mv_size < LAY_COMMIT_E ||
		    proto_commit_decode(&c, lay_commit_e(d.mv_data),
		    lay_commit_elen(d.mv_size), &why) != 0) {
			rc = CS_EDB;
			break;
		}
		for (j = 0; j < c.nops && rc == 0; j++)
			rc = store_merge_op(s, txn, ax, &c, j);
		proto_commit_free(&c);
		if (rc != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * After a transaction's items: when admin commits were accepted, judges
 * again the accepted commits of the members they touched (every origin's
 * when they touched many), then every pending commit, derives the records
 * anew when commits were withdrawn.  Returns 0 or CS_EDB.
 */
static int
settle(struct store *s, MDB_txn *txn, struct apply_ctx *ax, uint64_t *hlc)
{
	struct drain_arg da = { ax, hlc };
	MDB_val k, d;
	size_t i;
	int rc;

	if (!ax->admin_moved)
		return 0;
	if (ax->ntouched > TOUCHED_MAX) {
		if ((rc = rejudge_all(s, txn, ax)) != 0)
			return rc;
	} else
		for (i = 0; i < ax->ntouched; i++) {
			struct store_rec r;
			const msgpack_object *key;

			k.mv_size = PROTO_ID_LEN;
			k.mv_data = ax->touched[i];
			if (mdb_get(txn, s->dbi[DB_RECORDS], &k, &d) != 0 ||
			    store_rec_unpack(&r, ax->touched[i], d.mv_data,
			    d.mv_size) != 0)
				continue;
			key = store_rec_value(&r, "key");
			rc = key != NULL && key->type == MSGPACK_OBJECT_BIN &&
			    key->via.bin.size == PROTO_KEY_LEN ?
			    rejudge(s, txn, ax, (const uint8_t *)
			    key->via.bin.ptr) : 0;
			msgpack_unpacked_destroy(&r.up);
			if (rc != 0)
				return rc;
		}
	if ((rc = store_pending_origins(s, txn, drain_one, &da)) != 0)
		return rc;
	if (ax->rebuild) {
		uint8_t v[8];
		uint64_t e = 0;

		if ((rc = rebuild(s, txn, ax)) != 0)
			return rc;
		if (store_meta_get(txn, s->dbi[DB_META], "epoch", v, sizeof(v),
		    NULL) == 0)
			e = get_be64(v);
		put_be64(v, e + 1);
		if ((rc = store_meta_put(s, txn, "epoch", v, sizeof(v))) != 0)
			return rc;
	}
	return 0;
}

struct apply_arg {
	struct store_item *items;
	size_t n;
	int verify;
	struct store_failed *failed;
	size_t failed_n;      /* size of failed at the start, for restarts */
	uint64_t drained;     /* pending commits that settle() accepted */
};

/* Loads and stores the digest and clock around a batch of applies. */
static int
apply_fn(struct store *s, MDB_txn *txn, void *arg)
{
	struct apply_arg *aa = arg;
	struct apply_ctx ax;
	MDB_val k = { 6, (void *)(uintptr_t)"digest" }, d;
	MDB_val hk = { 3, (void *)(uintptr_t)"hlc" };
	uint8_t hv[8];
	uint64_t hlc = 0;
	size_t i;
	int rc;

	memset(&ax, 0, sizeof(ax));
	ax.failed = aa->failed;
	if (aa->failed != NULL)
		aa->failed->n = aa->failed_n;
	if (mdb_get(txn, s->dbi[DB_META], &k, &d) == 0 &&
	    d.mv_size == PROTO_HASH_LEN)
		memcpy(ax.digest, d.mv_data, PROTO_HASH_LEN);
	if (mdb_get(txn, s->dbi[DB_META], &hk, &d) == 0 && d.mv_size == 8)
		hlc = get_be64(d.mv_data);
	proto_enc_init(&ax.rec);
	proto_enc_init(&ax.scratch);
	for (i = 0; i < aa->n; i++) {
		apply_one(s, txn, &ax, &aa->items[i], aa->verify, &hlc);
		if (s->mdb_err != 0)
			break;
		failed_add(ax.failed, &aa->items[i]);
	}
	if (s->mdb_err == 0 && settle(s, txn, &ax, &hlc) != 0 &&
	    s->mdb_err == 0)
		s->mdb_err = MDB_CORRUPTED;
	aa->drained = ax.drained;
	proto_enc_free(&ax.rec);
	proto_enc_free(&ax.scratch);
	if (s->mdb_err != 0)
		return CS_EDB;
	d.mv_size = PROTO_HASH_LEN;
	d.mv_data = ax.digest;
	if ((rc = mdb_put(txn, s->dbi[DB_META], &k, &d, 0)) != 0)
		return store_mdb_fail(s, rc);
	put_be64(hv, hlc);
	d.mv_size = 8;
	d.mv_data = hv;
	if ((rc = mdb_put(txn, s->dbi[DB_META], &hk, &d, 0)) != 0)
		return store_mdb_fail(s, rc);
	return 0;
}

/* Applies items received from elsewhere. */
int
store_apply(struct store *s, struct store_item *items, size_t n,
    char **cause)
{
	return store_apply_ex(s, items, n, NULL, cause);
}

/*
 * Signatures are checked ahead of the write transaction, on two threads,
 * since they are most of the cost of applying a commit and need nothing
 * but the bytes.  A commit whose origin sits where the canonical encoding
 * puts it (E[4..36]) is checked here; apply_one() trusts the result only
 * when the decoded origin is that very place, and checks any other commit
 * itself.
 */
struct verify_job {
	struct store *s;
	struct store_item *items;
	size_t from, to;
};

static void *
verify_range(void *arg)
{
	struct verify_job *j = arg;
	size_t i;

	for (i = j->from; i < j->to; i++) {
		struct store_item *it = &j->items[i];

		const uint8_t *origin;

		if (it->sig_ok)
			continue;	/* checked by store_verify_items() */
		/* The decode that follows checks that this is the origin. */
		origin = proto_commit_origin(it->e, it->elen);
		it->sig_ok = origin != NULL && proto_verify(it->sig, it->e,
		    it->elen, j->s->info.network, origin) == 0;
	}
	return NULL;
}

/* Checks the signatures of items[from..to) in the calling thread. */
void
store_verify_items(struct store *s, struct store_item *items, size_t from,
    size_t to)
{
	struct verify_job j = { s, items, from, to };

	verify_range(&j);
}

/* Checks the items' signatures ahead, splitting the work in two. */
static void
verify_ahead(struct store *s, struct store_item *items, size_t n)
{
	struct verify_job a = { s, items, 0, n / 2 };
	struct verify_job b = { s, items, n / 2, n };
	pthread_t t;

	if (n < 16 || pthread_create(&t, NULL, verify_range, &b) != 0) {
		a.to = n;
		verify_range(&a);
		return;
	}
	verify_range(&a);
	pthread_join(t, NULL);
}

/* Applies items, carrying the failed origins across calls. */
int
store_apply_ex(struct store *s, struct store_item *items, size_t n,
    struct store_failed *failed, char **cause)
{
	struct apply_arg aa = { items, n, 1, failed, failed ? failed->n : 0,
	    0 };

	size_t i, bytes = 0;
	int rc;

	for (i = 0; i < n; i++)
		bytes += items[i].elen;
	s->write_hint = bytes;
	verify_ahead(s, items, n);
	rc = store_write(s, apply_fn, &aa, cause);
	if (rc == 0 && failed != NULL)
		failed->drained += aa.drained;
	return rc;
}

/* Applies the node's own fresh commits inside a caller's transaction. */
int
store_apply_local(struct store *s, MDB_txn *txn, struct store_item *items,
    size_t n)
{
	struct apply_arg aa = { items, n, 0, NULL, 0, 0 };

	return apply_fn(s, txn, &aa);
}
