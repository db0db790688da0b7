/*
 * apply.c: accepting a commit into the store, and the merge.
 *
 * A commit is checked in full before anything is written: it decodes
 * strictly; it extends its origin's chain (seq == head+1, prev == head
 * hash, a clock that moves forward); its signature holds for this network;
 * every op validates against the schema.  A commit at a seq already stored
 * is either the same bytes (a duplicate, nothing to do) or, when validly
 * signed, a fork, kept as evidence and never applied.
 *
 * The merge: a record is a map of fields, each a last-writer-wins register
 * ordered by (hlc, origin); a delete is a tombstone register under the
 * same rule.  Each field stores its value and its clock (by index into the
 * record's table of clocks).  Every write that is not a field's winner,
 * and that no edit saw (no op's base names its clock), is kept in the
 * conflicts database.  The seen database remembers every base, so a
 * value is dropped from, or never enters, the conflicts whichever order
 * the writes arrive in: the conflicts converge as the records do.
 * Records are re-encoded canonically, so any order of the same commits
 * gives byte-identical records, and the digest (XOR of BLAKE2b(id ||
 * record) over all records) is the same everywhere.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

/* One field of a record being merged. */
struct mfield {
	const char *name;
	uint32_t nlen;
	const msgpack_object *val;
	uint64_t hlc;
	const uint8_t *origin;
};

/* A record being merged: its old state unpacked from a private copy. */
struct mrec {
	const struct sch_type *type;
	int exists;
	int has_del;
	uint64_t del_hlc;
	const uint8_t *del_origin;
	uint32_t n;
	struct mfield f[PROTO_MAX_FIELDS];
	struct store_rec old;
	uint8_t *oldbuf;
	size_t oldlen;
};

/* Compares clocks (hlc, origin). */
static int
clock_cmp(uint64_t ha, const uint8_t *oa, uint64_t hb, const uint8_t *ob)
{
	if (ha != hb)
		return ha < hb ? -1 : 1;
	return memcmp(oa, ob, PROTO_KEY_LEN);
}

/* Compares a field name with a str. */
static int
name_cmp(const char *a, uint32_t an, const char *b, uint32_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	return c != 0 ? c : (an > bn) - (an < bn);
}

/* Loads the record id into m (copying its bytes); returns 0 or CS_EDB. */
static int
mrec_load(struct store *s, MDB_txn *txn, const uint8_t *id, struct mrec *m)
{
	MDB_val k = { PROTO_ID_LEN, (void *)(uintptr_t)id }, d;
	const msgpack_object *a;
	uint32_t i;
	int rc;

	memset(m, 0, offsetof(struct mrec, old));
	m->oldbuf = NULL;
	rc = mdb_get(txn, s->dbi[DB_RECORDS], &k, &d);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc != 0)
		return store_mdb_fail(s, rc);
	m->oldbuf = xmalloc(d.mv_size);
	memcpy(m->oldbuf, d.mv_data, d.mv_size);
	m->oldlen = d.mv_size;
	if (store_rec_unpack(&m->old, id, m->oldbuf, m->oldlen) != 0) {
		free(m->oldbuf);
		m->oldbuf = NULL;
		return CS_EDB;
	}
	m->exists = 1;
	m->type = m->old.type;
	a = m->old.up.data.via.array.ptr;
	if (a[1].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		const msgpack_object *c =
		    m->old.clocks[a[1].via.u64].via.array.ptr;

		m->has_del = 1;
		m->del_hlc = c[0].via.u64;
		m->del_origin = (const uint8_t *)c[1].via.bin.ptr;
	}
	if (m->old.nfields > PROTO_MAX_FIELDS) {
		msgpack_unpacked_destroy(&m->old.up);
		free(m->oldbuf);
		m->oldbuf = NULL;
		return CS_EDB;
	}
	for (i = 0; i < m->old.nfields; i++) {
		const msgpack_object *e = m->old.fields[i].val.via.array.ptr;
		const msgpack_object *c = m->old.clocks[e[1].via.u64].via.array.ptr;
		struct mfield *f = &m->f[m->n++];

		f->name = m->old.fields[i].key.via.str.ptr;
		f->nlen = m->old.fields[i].key.via.str.size;
		f->val = &e[0];
		f->hlc = c[0].via.u64;
		f->origin = (const uint8_t *)c[1].via.bin.ptr;
	}
	return 0;
}

static void
mrec_free(struct mrec *m)
{
	if (m->exists)
		msgpack_unpacked_destroy(&m->old.up);
	free(m->oldbuf);
	m->oldbuf = NULL;
}

/* Finds the field named (name, nlen) in m, or NULL. */
static struct mfield *
mrec_field(struct mrec *m, const char *name, uint32_t nlen)
{
	uint32_t i;

	for (i = 0; i < m->n; i++)
		if (name_cmp(m->f[i].name, m->f[i].nlen, name, nlen) == 0)
			return &m->f[i];
	return NULL;
}

/* One entry of a record's clock table. */
struct mclock {
	uint64_t hlc;
	const uint8_t *origin;
};

/*
 * Adds a clock to a sorted, duplicate-free table of n entries; returns
 * the new count.
 */
static uint32_t
clock_add(struct mclock *t, uint32_t n, uint64_t hlc, const uint8_t *origin)
{
	uint32_t i = n;
	int cmp = 1;

	while (i > 0 && (cmp = clock_cmp(t[i - 1].hlc, t[i - 1].origin, hlc,
	    origin)) > 0)
		i--;
	if (i > 0 && cmp == 0)
		return n;
	memmove(&t[i + 1], &t[i], (n - i) * sizeof(*t));
	t[i].hlc = hlc;
	t[i].origin = origin;
	return n + 1;
}

/* Returns the index of a clock in a table that holds it. */
static uint32_t
clock_index(const struct mclock *t, uint32_t n, uint64_t hlc,
    const uint8_t *origin)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (clock_cmp(t[i].hlc, t[i].origin, hlc, origin) == 0)
			break;
	return i;
}

/*
 * Encodes m canonically into w: [type, del, clocks, fields], where clocks
 * holds each distinct (hlc, origin) of the record once, sorted, and del
 * and every field name a clock by its index.  A record written by one op
 * carries its origin once, not once per field.
 */
static void
mrec_encode(const struct mrec *m, struct proto_enc *w)
{
	struct mclock t[PROTO_MAX_FIELDS + 1];
	uint32_t i, n = 0;

	for (i = 0; i < m->n; i++)
		n = clock_add(t, n, m->f[i].hlc, m->f[i].origin);
	if (m->has_del)
		n = clock_add(t, n, m->del_hlc, m->del_origin);
	proto_enc_reset(w);
	msgpack_pack_array(&w->pk, 4);
	proto_pack_cstr(&w->pk, m->type->name);
	if (m->has_del)
		msgpack_pack_uint64(&w->pk, clock_index(t, n, m->del_hlc,
		    m->del_origin));
	else
		msgpack_pack_nil(&w->pk);
	msgpack_pack_array(&w->pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_array(&w->pk, 2);
		msgpack_pack_uint64(&w->pk, t[i].hlc);
		msgpack_pack_bin(&w->pk, PROTO_KEY_LEN);
		msgpack_pack_bin_body(&w->pk, t[i].origin, PROTO_KEY_LEN);
	}
	msgpack_pack_map(&w->pk, m->n);
	for (i = 0; i < m->n; i++) {
		const struct mfield *f = &m->f[i];

		msgpack_pack_str(&w->pk, f->nlen);
		msgpack_pack_str_body(&w->pk, f->name, f->nlen);
		msgpack_pack_array(&w->pk, 2);
		msgpack_pack_object(&w->pk, *f->val);
		msgpack_pack_uint64(&w->pk, clock_index(t, n, f->hlc,
		    f->origin));
	}
}

/* Inserts a field into m keeping names sorted; returns it. */
static struct mfield *
mrec_insert(struct mrec *m, const char *name, uint32_t nlen)
{
	uint32_t i = m->n;

	while (i > 0 && name_cmp(m->f[i - 1].name, m->f[i - 1].nlen, name,
	    nlen) > 0) {
		m->f[i] = m->f[i - 1];
		i--;
	}
	m->n++;
	memset(&m->f[i], 0, sizeof(m->f[i]));
	m->f[i].name = name;
	m->f[i].nlen = nlen;
	return &m->f[i];
}

/* Returns the clocks the op saw for a field (uint or array), or NULL. */
static const msgpack_object *
op_base(const struct proto_op *op, const char *name, uint32_t nlen)
{
	uint32_t i;

	for (i = 0; i < op->nbase; i++)
		if (name_cmp(op->base[i].key.via.str.ptr,
		    op->base[i].key.via.str.size, name, nlen) == 0)
			return &op->base[i].val;
	return NULL;
}

/* Returns the i-th clock of a base (a uint or an array), 0 past the end. */
static uint64_t
base_clock(const msgpack_object *b, uint32_t i)
{
	if (b == NULL)
		return 0;
	if (b->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return i == 0 ? b->via.u64 : 0;
	return i < b->via.array.size ? b->via.array.ptr[i].via.u64 : 0;
}

/* Returns how many clocks a base holds. */
static uint32_t
base_count(const msgpack_object *b)
{
	if (b == NULL)
		return 0;
	return b->type == MSGPACK_OBJECT_ARRAY ? b->via.array.size : 1;
}

/* Keeps a losing value as a conflict. */
static int
conflict_put(struct store *s, MDB_txn *txn, const uint8_t *id,
    const struct mfield *f, struct proto_enc *scratch)
{
	uint8_t key[LAY_CONFLICT_KEY_MAX];
	MDB_val k, d;
	int rc;

	if (f->val->type == MSGPACK_OBJECT_NIL)
		return 0;
	k.mv_size = lay_conflict_key(key, id, f->name, f->nlen, f->hlc,
	    f->origin);
	k.mv_data = key;
	proto_enc_reset(scratch);
	msgpack_pack_object(&scratch->pk, *f->val);
	d.mv_size = scratch->sb.size;
	d.mv_data = scratch->sb.data;
	rc = mdb_put(txn, s->dbi[DB_CONFLICTS], &k, &d, 0);
	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

/* Returns whether some edit of (id, field) saw the value at clock hlc. */
static int
seen_has(struct store *s, MDB_txn *txn, const uint8_t *id, const char *name,
    uint32_t nlen, uint64_t hlc)
{
	uint8_t key[LAY_SEEN_KEY_MAX];
	MDB_val k, d;

	k.mv_size = lay_seen_key(key, id, name, nlen, hlc);
	k.mv_data = key;
	return mdb_get(txn, s->dbi[DB_SEEN], &k, &d) == 0;
}

/*
 * Records that an edit saw the value of (id, field) at clock hlc, and
 * drops that value's conflicts: its rival replaced it knowingly.
 */
static int
seen_put(struct store *s, MDB_txn *txn, const uint8_t *id, const char *name,
    uint32_t nlen, uint64_t hlc)
{
	static const uint8_t none[PROTO_KEY_LEN];
	uint8_t key[LAY_CONFLICT_KEY_MAX];
	size_t plen, klen;
	MDB_cursor *cur;
	MDB_val k, d = { 0, NULL };
	int rc;

	k.mv_size = plen = lay_seen_key(key, id, name, nlen, hlc);
	k.mv_data = key;
	if ((rc = mdb_put(txn, s->dbi[DB_SEEN], &k, &d, 0)) != 0)
		return store_mdb_fail(s, rc);
	/* The first conflicts key of that value: its smallest origin. */
	klen = lay_conflict_key(key, id, name, nlen, hlc, none);
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_CONFLICTS], &cur)) != 0)
		return store_mdb_fail(s, rc);
	for (;;) {
		k.mv_size = klen;
		k.mv_data = key;
		rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
		if (rc != 0 || k.mv_size < plen ||
		    memcmp(k.mv_data, key, plen) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_mdb_fail(s, rc);
	return 0;
}

/* Merges one put op's fields into m. */
static int
merge_put(struct store *s, MDB_txn *txn, struct mrec *m,
    const struct proto_op *op, uint64_t hlc, const uint8_t *origin,
    struct proto_enc *scratch)
{
	uint32_t i;
	int rc;

	for (i = 0; i < op->nfields; i++) {
		const msgpack_object_kv *kv = &op->fields[i];
		const char *name = kv->key.via.str.ptr;
		uint32_t nlen = kv->key.via.str.size;
		const msgpack_object *bo = op_base(op, name, nlen);
		struct mfield *f = mrec_field(m, name, nlen);
		struct mfield lost;
		uint32_t j;
		int cmp;

		for (j = 0; j < base_count(bo); j++)
			if (base_clock(bo, j) != 0 && (rc = seen_put(s, txn,
			    op->id, name, nlen, base_clock(bo, j))) != 0)
				return rc;
		if (f == NULL) {
			/* validate_ops() admits schema fields only, far
			 * fewer than this; the bound guards the array. */
			if (m->n == PROTO_MAX_FIELDS)
				return CS_ESCHEMA;
			f = mrec_insert(m, name, nlen);
			f->val = &kv->val;
			f->hlc = hlc;
			f->origin = origin;
			continue;
		}
		cmp = clock_cmp(hlc, origin, f->hlc, f->origin);
		if (cmp == 0)
			continue;
		if (cmp > 0) {
			/* This write wins; the old value is a conflict
			 * unless some edit saw it. */
			if (!seen_has(s, txn, op->id, name, nlen, f->hlc) &&
			    (rc = conflict_put(s, txn, op->id, f,
			    scratch)) != 0)
				return rc;
			f->val = &kv->val;
			f->hlc = hlc;
			f->origin = origin;
		} else if (!seen_has(s, txn, op->id, name, nlen, hlc)) {
			/* This write loses, and no edit saw it. */
			lost.name = name;
			lost.nlen = nlen;
			lost.val = &kv->val;
			lost.hlc = hlc;
			lost.origin = origin;
			if ((rc = conflict_put(s, txn, op->id, &lost,
			    scratch)) != 0)
				return rc;
		}
	}
	return 0;
}

/* Index keys a record holds: type, site, date, live or not. */
struct ikeys {
	int live;
	uint8_t type;
	const uint8_t *site;
	uint32_t ymd;
};

static void
ikeys_of(const struct mrec *m, struct ikeys *ik)
{
	const struct mfield *f;
	uint32_t i;

	memset(ik, 0, sizeof(*ik));
	if (m->type == NULL)
		return;
	ik->live = !m->has_del;
	ik->type = (uint8_t)store_type_index(m->type);
	for (i = 0; i < m->n; i++) {
		f = &m->f[i];
		if (name_cmp(f->name, f->nlen, "site", 4) == 0 &&
		    f->val->type == MSGPACK_OBJECT_BIN &&
		    f->val->via.bin.size == PROTO_ID_LEN)
			ik->site = (const uint8_t *)f->val->via.bin.ptr;
		else if (name_cmp(f->name, f->nlen, "date", 4) == 0 &&
		    f->val->type == MSGPACK_OBJECT_STR)
			sch_date_parse(f->val->via.str.ptr,
			    f->val->via.str.size, &ik->ymd);
	}
}

/* Returns whether two index key sets are the same. */
static int
ikeys_equal(const struct ikeys *a, const struct ikeys *b)
{
	if (a->live != b->live || a->type != b->type || a->ymd != b->ymd)
		return 0;
	if (a->site == NULL || b->site == NULL)
		return a->site == b->site;
	return memcmp(a->site, b->site, PROTO_ID_LEN) == 0;
}

/* Puts (add) or deletes the index entries of ik for id. */
static int
index_apply(struct store *s, MDB_txn *txn, const uint8_t *id,
    const struct ikeys *ik, int add)
{
	MDB_val k, d = { 0, NULL };
	MDB_dbi dbs[2];
	size_t lens[2];
	uint8_t keys[2][LAY_BYSITE_LEN];
	int i, n = 0, rc;

	if (!ik->live)
		return 0;
	lens[n] = lay_bydate_key(keys[n], ik->type, ik->ymd, id);
	dbs[n++] = s->dbi[DB_BYDATE];
	if (ik->site != NULL) {
		lens[n] = lay_bysite_key(keys[n], ik->type, ik->site, ik->ymd,
		    id);
		dbs[n++] = s->dbi[DB_BYSITE];
	}
	for (i = 0; i < n; i++) {
		k.mv_size = lens[i];
		k.mv_data = keys[i];
		rc = add ? mdb_put(txn, dbs[i], &k, &d, 0) :
		    mdb_del(txn, dbs[i], &k, NULL);
		if (rc != 0 && rc != MDB_NOTFOUND)
			return store_mdb_fail(s, rc);
	}
	return 0;
}

/* XORs BLAKE2b(id || bytes) into digest. */
void
store_digest_mix(uint8_t digest[PROTO_HASH_LEN], const uint8_t *id,
    const void *bytes, size_t len)
{
	crypto_generichash_state st;
	uint8_t h[PROTO_HASH_LEN];
	int i;

	crypto_generichash_init(&st, NULL, 0, PROTO_HASH_LEN);
	crypto_generichash_update(&st, id, PROTO_ID_LEN);
	crypto_generichash_update(&st, bytes, len);
	crypto_generichash_final(&st, h, PROTO_HASH_LEN);
	for (i = 0; i < PROTO_HASH_LEN; i++)
		digest[i] ^= h[i];
}

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

/* Merges one op of commit c (index opidx) into its record, of type t. */
static int
merge_op(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const struct proto_commit *c, uint32_t opidx, const struct sch_type *t)
{
	const struct proto_op *op = &c->ops[opidx];
	struct mrec m;
	struct ikeys before, after;
	MDB_val k, d = { 0, NULL };
	int rc;

	if ((rc = mrec_load(s, txn, op->id, &m)) != 0)
		return rc;
	if (!m.exists)
		m.type = t;
	ikeys_of(&m, &before);
	before.live = m.exists && !m.has_del;
	if (op->kind == PROTO_OP_DEL) {
		if (!m.has_del || clock_cmp(c->hlc, c->origin, m.del_hlc,
		    m.del_origin) > 0) {
			m.has_del = 1;
			m.del_hlc = c->hlc;
			m.del_origin = c->origin;
		}
	} else if ((rc = merge_put(s, txn, &m, op, c->hlc, c->origin,
	    &ax->scratch)) != 0)
		goto out;
	mrec_encode(&m, &ax->rec);
	if (m.exists)
		store_digest_mix(ax->digest, op->id, m.oldbuf, m.oldlen);
	store_digest_mix(ax->digest, op->id, ax->rec.sb.data, ax->rec.sb.size);
	ikeys_of(&m, &after);
	if (!ikeys_equal(&before, &after) &&
	    (rc = index_apply(s, txn, op->id, &before, 0)) != 0)
		goto out;
	k.mv_size = PROTO_ID_LEN;
	k.mv_data = (void *)(uintptr_t)op->id;
	d.mv_size = ax->rec.sb.size;
	d.mv_data = ax->rec.sb.data;
	if ((rc = mdb_put(txn, s->dbi[DB_RECORDS], &k, &d, 0)) != 0) {
		rc = store_mdb_fail(s, rc);
		goto out;
	}
	if ((rc = store_names_apply(s, txn, op->id, m.type,
	    m.exists ? m.oldbuf : NULL, m.exists ? m.oldlen : 0,
	    ax->rec.sb.data, ax->rec.sb.size)) != 0)
		goto out;
	if (!ikeys_equal(&before, &after) &&
	    (rc = index_apply(s, txn, op->id, &after, 1)) != 0)
		goto out;
out:
	mrec_free(&m);
	return rc;
}


/* Deletes every entry of dbi whose key starts with id. */
static int
drop_prefix(struct store *s, MDB_txn *txn, MDB_dbi dbi, const uint8_t *id)
{
	MDB_val k = { PROTO_ID_LEN, (void *)(uintptr_t)id }, d;
	MDB_cursor *cur;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return store_mdb_fail(s, rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size < PROTO_ID_LEN ||
		    memcmp(k.mv_data, id, PROTO_ID_LEN) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_fail(s, rc);
}

/*
 * Derives record id anew, of type t, from the ops of that type its
 * history holds: the record, its index entries, its conflicts and what
 * its edits saw.  Returns 0 or CS_EDB.
 */
static int
rebuild_record(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const uint8_t *id, const struct sch_type *t)
{
	MDB_val k = { PROTO_ID_LEN, (void *)(uintptr_t)id }, d;
	uint8_t (*keys)[LAY_HIST_KEY_LEN] = NULL;
	size_t n = 0, i;
	struct mrec m;
	struct ikeys ik;
	MDB_cursor *cur;
	int rc;

	/* The record as it stands leaves the digest and the indexes. */
	if ((rc = mrec_load(s, txn, id, &m)) != 0)
		return rc;
	if (m.exists) {
		ikeys_of(&m, &ik);
		ik.live = !m.has_del;
		store_digest_mix(ax->digest, id, m.oldbuf, m.oldlen);
		rc = index_apply(s, txn, id, &ik, 0);
		if (rc == 0)
			rc = store_names_apply(s, txn, id, m.type, m.oldbuf,
			    m.oldlen, NULL, 0);
		if (rc == 0 && (rc = mdb_del(txn, s->dbi[DB_RECORDS], &k,
		    NULL)) != 0)
			rc = store_mdb_fail(s, rc);
	}
	mrec_free(&m);
	if (rc != 0 || (rc = drop_prefix(s, txn, s->dbi[DB_CONFLICTS],
	    id)) != 0 || (rc = drop_prefix(s, txn, s->dbi[DB_SEEN], id)) != 0)
		return rc;
	/* The ops of type t, from the history (read first: merging writes). */
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_HISTORY], &cur)) != 0)
		return store_mdb_fail(s, rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != LAY_HIST_KEY_LEN || memcmp(k.mv_data, id,
		    PROTO_ID_LEN) != 0)
			break;
		if (d.mv_size != 1 ||
		    *(uint8_t *)d.mv_data != store_type_index(t))
			continue;
		keys = xreallocarray(keys, n + 1, sizeof(*keys));
		memcpy(keys[n++], k.mv_data, LAY_HIST_KEY_LEN);
	}
	mdb_cursor_close(cur);
	for (i = 0, rc = 0; i < n && rc == 0; i++) {
		uint8_t ckey[LAY_SEQKEY_LEN];
		MDB_val ck = { sizeof(ckey), ckey }, cd;
		struct proto_commit c;
		const char *why;
		uint32_t opidx = lay_hist_op(keys[i]);

		lay_hist_commit(ckey, keys[i]);
		if (mdb_get(txn, s->dbi[DB_COMMITS], &ck, &cd) != 0 ||
		    cd.mv_size < LAY_COMMIT_E ||
		    proto_commit_decode(&c, lay_commit_e(cd.mv_data),
		    lay_commit_elen(cd.mv_size), &why) != 0) {
			rc = CS_EDB;
			break;
		}
		rc = opidx < c.nops ? merge_op(s, txn, ax, &c, opidx, t) :
		    CS_EDB;
		proto_commit_free(&c);
	}
	free(keys);
	return rc;
}

/*
 * Applies one op of commit c (index opidx).  Every op enters the history;
 * the record's type is that of its op with the smallest (hlc, origin), so
 * that two authors who give one id two types end with the same record on
 * every node, whatever came first: an op of another type stays in the
 * history and out of the record, and an op that takes the first place
 * with another type derives the record anew from the ops of its type.
 */
static int
apply_op(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const struct proto_commit *c, uint32_t opidx)
{
	const struct proto_op *op = &c->ops[opidx];
	const struct sch_type *t = sch_type_find(op->type, op->type_len);
	const struct sch_type *first;
	uint8_t hkey[LAY_HIST_KEY_LEN], tix = (uint8_t)store_type_index(t);
	MDB_val k = { sizeof(hkey), hkey }, d = { 1, &tix }, rk, rd;
	MDB_cursor *cur;
	struct store_rec r;
	int rc, have;

	lay_hist_key(hkey, op->id, c->hlc, c->origin, c->seq, opidx);
	if ((rc = mdb_put(txn, s->dbi[DB_HISTORY], &k, &d, 0)) != 0)
		return store_mdb_fail(s, rc);
	/* The type of the record's first op. */
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_HISTORY], &cur)) != 0)
		return store_mdb_fail(s, rc);
	k.mv_size = PROTO_ID_LEN;
	k.mv_data = (void *)(uintptr_t)op->id;
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	first = rc == 0 && d.mv_size == 1 && *(uint8_t *)d.mv_data <
	    sch_ntypes ? &sch_types[*(uint8_t *)d.mv_data] : t;
	mdb_cursor_close(cur);
	if (first != t)
		return 0;	/* in the history, not in the record */
	rk.mv_size = PROTO_ID_LEN;
	rk.mv_data = (void *)(uintptr_t)op->id;
	have = mdb_get(txn, s->dbi[DB_RECORDS], &rk, &rd) == 0 &&
	    store_rec_unpack(&r, op->id, rd.mv_data, rd.mv_size) == 0;
	if (have) {
		const struct sch_type *was = r.type;

		msgpack_unpacked_destroy(&r.up);
		if (was != t)
			return rebuild_record(s, txn, ax, op->id, t);
	}
	return merge_op(s, txn, ax, c, opidx, t);
}

/* Orders ops by id, for the same-id check. */
static int
op_id_cmp(const void *a, const void *b)
{
	const struct proto_op *x = *(const struct proto_op *const *)a;
	const struct proto_op *y = *(const struct proto_op *const *)b;

	return memcmp(x->id, y->id, PROTO_ID_LEN);
}

/* Returns whether two ops of c put one id under two types. */
static int
ops_mix_types(const struct proto_commit *c)
{
	const struct proto_op **v;
	uint32_t i;
	int mixed = 0;

	if (c->nops < 2)
		return 0;
	v = xcalloc(c->nops, sizeof(*v));
	for (i = 0; i < c->nops; i++)
		v[i] = &c->ops[i];
	qsort(v, c->nops, sizeof(*v), op_id_cmp);
	for (i = 1; i < c->nops && !mixed; i++)
		mixed = memcmp(v[i - 1]->id, v[i]->id, PROTO_ID_LEN) == 0 &&
		    (v[i - 1]->type_len != v[i]->type_len ||
		    memcmp(v[i - 1]->type, v[i]->type, v[i]->type_len) != 0);
	free(v);
	return mixed;
}

/*
 * Checks a reference value of an op of c: a record of the author's own
 * (its id carries the author's tag) that the author's own earlier ops
 * gave a type must be of the type the field names.  Only the author's own
 * ops are looked at, in the history: every node applies them before c,
 * so the answer is the same on every node.  A reference to anyone else's
 * record, or to one the author never wrote, is taken as it is (DOMAIN.md:
 * it may arrive later).
 */
static const char *
check_ref(struct store *s, MDB_txn *txn, const struct proto_commit *c,
    const struct sch_field *f, const msgpack_object *v, char *buf,
    size_t len)
{
	const msgpack_object *one = v;
	uint32_t i, n = 1;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc, bad = 0;

	if (v->type == MSGPACK_OBJECT_ARRAY) {
		one = v->via.array.ptr;
		n = v->via.array.size;
	} else if (v->type != MSGPACK_OBJECT_BIN)
		return NULL;
	for (i = 0; i < n && !bad; i++) {
		const uint8_t *id = (const uint8_t *)one[i].via.bin.ptr;
		const struct sch_type *t = NULL;

		if (one[i].type != MSGPACK_OBJECT_BIN ||
		    one[i].via.bin.size != PROTO_ID_LEN ||
		    !proto_id_owned(id, c->origin))
			continue;
		if (mdb_cursor_open(txn, s->dbi[DB_HISTORY], &cur) != 0)
			continue;
		k.mv_size = PROTO_ID_LEN;
		k.mv_data = (void *)(uintptr_t)id;
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			const uint8_t *hk = k.mv_data;

			if (k.mv_size != LAY_HIST_KEY_LEN ||
			    memcmp(hk, id, PROTO_ID_LEN) != 0)
				break;
			if (memcmp(lay_hist_origin(hk), c->origin,
			    PROTO_KEY_LEN) == 0 &&
			    d.mv_size == 1 && *(uint8_t *)d.mv_data <
			    sch_ntypes) {
				t = &sch_types[*(uint8_t *)d.mv_data];
				break;
			}
		}
		mdb_cursor_close(cur);
		if (t != NULL && strcmp(t->name, f->ref) != 0) {
			char hex[9];

			proto_hex(hex, id, 4);
			snprintf(buf, len, "field %s: %s... is a %s, not a %s",
			    f->name, hex, t->name, f->ref);
			bad = 1;
		}
	}
	return bad ? buf : NULL;
}

/* Names the record of op in front of why, in buf; returns buf. */
static const char *
name_op(const struct proto_op *op, const char *why, char *buf, size_t len)
{
	char tmp[160], hex[2 * 8 + 1];

	snprintf(tmp, sizeof(tmp), "%s", why);
	proto_hex(hex, op->id, 8);
	/* A long reason is cut: the record comes first. */
	if ((size_t)snprintf(buf, len, "%.*s %s: %s", (int)op->type_len,
	    op->type, hex, tmp) >= len && len > 4)
		memcpy(buf + len - 4, "...", 4);
	return buf;
}

/*
 * Validates every op of c against the schema, the record rules of a put
 * (sch_op_check()) and the types of the author's own records it names,
 * for local and received commits alike.  An op on a record of another
 * type is not refused: apply_op() settles which type the record has.
 * Returns NULL or why not (static, or in buf).
 */
static const char *
validate_ops(struct store *s, MDB_txn *txn, const struct proto_commit *c,
    char *buf, size_t len)
{
	int admin = memcmp(c->origin, s->info.network, PROTO_KEY_LEN) == 0;
	uint32_t i, j;
	const char *why;

	if (ops_mix_types(c))
		return "two ops put one id under two types";

	for (i = 0; i < c->nops; i++) {
		const struct proto_op *op = &c->ops[i];
		const struct sch_type *t = sch_type_find(op->type,
		    op->type_len);
		if (t == NULL)
			return "an op names an unknown record type";
		for (j = 0; j < op->nfields; j++) {
			const msgpack_object_kv *kv = &op->fields[j];
			const struct sch_field *f = sch_field_find(t,
			    kv->key.via.str.ptr, kv->key.via.str.size);

			if (f == NULL)
				return name_op(op, "an op names an unknown "
				    "field", buf, len);
			if (sch_check(f, &kv->val, &why) != 0) {
				char fw[160];

				snprintf(fw, sizeof(fw), "field %.*s: %s",
				    (int)kv->key.via.str.size,
				    kv->key.via.str.ptr, why);
				return name_op(op, fw, buf, len);
			}
			if (f->ref != NULL && !admin && (why = check_ref(s,
			    txn, c, f, &kv->val, buf, len)) != NULL)
				return name_op(op, why, buf, len);
		}
		for (j = 0; j < op->nbase; j++)
			if (sch_field_find(t, op->base[j].key.via.str.ptr,
			    op->base[j].key.via.str.size) == NULL)
				return "an op's base names an unknown field";
		if (op->kind == PROTO_OP_PUT && (why = sch_op_check(t,
		    op->fields, op->nfields, !op->has_base, buf, len)) != NULL)
			return name_op(op, why, buf, len);

	}
	return NULL;
}

/* Stores a fork as evidence. */
static int
fork_put(struct store *s, MDB_txn *txn, const struct store_item *it,
    const uint8_t hash[PROTO_HASH_LEN])
{
	uint8_t key[LAY_FORK_KEY_LEN];
	MDB_val k = { sizeof(key), key }, d;
	int rc;

	lay_fork_key(key, it->origin, it->seq, hash);
	d.mv_size = LAY_FORK_LEN(it->elen);
	if ((rc = mdb_put(txn, s->dbi[DB_FORKS], &k, &d, MDB_RESERVE)) != 0)
		return store_mdb_fail(s, rc);
	lay_fork_pack(d.mv_data, it->sig, it->e, it->elen);
	return 0;
}

/* Most forks kept of one origin: evidence enough, and a bound on what a
 * hostile key can make every node store. */
#define FORKS_PER_ORIGIN 16

/*
 * Tells whether this fork need not be kept: a fork of this (origin, seq)
 * is kept already, or FORKS_PER_ORIGIN forks of this origin are.
 */
static int
fork_known(struct store *s, MDB_txn *txn, const struct store_item *it)
{
	static const uint8_t none[PROTO_HASH_LEN];
	uint8_t key[LAY_FORK_KEY_LEN];
	MDB_val k = { sizeof(key), key }, d;
	MDB_cursor *cur;
	unsigned n = 0;
	int rc, known = 0;

	lay_fork_key(key, it->origin, 0, none);
	if (mdb_cursor_open(txn, s->dbi[DB_FORKS], &cur) != 0)
		return 1;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *kk = k.mv_data;

		if (k.mv_size != sizeof(key) ||
		    memcmp(kk, it->origin, PROTO_KEY_LEN) != 0)
			break;
		if (lay_seqkey_seq(kk) == it->seq ||
		    ++n >= FORKS_PER_ORIGIN) {
			known = 1;
			break;
		}
	}
	mdb_cursor_close(cur);
	return known;
}

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

/* The pending commits of one origin: first and last seq, last hash/hlc. */
struct ptop {
	uint64_t first, last;
	uint8_t hash[PROTO_HASH_LEN];
	uint64_t hlc;
};

/* Fills pt with origin's pending range; pt->last is 0 when none. */
static void
pending_top(struct store *s, MDB_txn *txn, const uint8_t *origin,
    struct ptop *pt)
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
static int
pending_put(struct store *s, MDB_txn *txn, const uint8_t *origin,
    uint64_t seq, uint64_t hlc, uint64_t recv_ms, const uint8_t *e,
    size_t elen, const uint8_t *sig, const struct ptop *pt)
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
static int
pending_drop(struct store *s, MDB_txn *txn, const uint8_t *origin,
    uint64_t from)
{
	uint8_t key[LAY_SEQKEY_LEN];
	MDB_val k = { sizeof(key), key }, d;
	MDB_cursor *cur;
	int rc;

	if ((rc = mdb_cursor_open(txn, s->dbi[DB_PENDING], &cur)) != 0)
		return store_mdb_fail(s, rc);
	lay_seqkey(key, origin, from);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != sizeof(key) ||
		    memcmp(k.mv_data, origin, PROTO_KEY_LEN) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_fail(s, rc);
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
	if (fork_known(s, txn, it)) {
		refuse(it, CS_EDUP, "a fork of this seq (or enough of this "
		    "origin) is kept as evidence already");
		return;
	}
	if (fork_put(s, txn, it, hash) != 0) {
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
		if ((rc = apply_op(s, txn, ax, c, i)) != 0)
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
	struct ptop pt;
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
	pending_top(s, txn, c.origin, &pt);
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
	if ((why = validate_ops(s, txn, &c, tbuf, sizeof(tbuf))) != NULL) {
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
		rc = pending_put(s, txn, c.origin, c.seq, c.hlc,
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
			rc = pending_drop(s, txn, origin, 0);
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
			rc = pending_drop(s, txn, origin, head + 1);
			break;
		}
		if ((why = validate_ops(s, txn, &c, buf, sizeof(buf))) != NULL)
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
			rc = pending_drop(s, txn, origin, head + 1);
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
	struct ptop none;
	const char *why;
	uint64_t seq;
	int rc;

	memset(&none, 0, sizeof(none));
	if (drop && (rc = pending_drop(s, txn, origin, 0)) != 0)
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
			rc = pending_put(s, txn, origin, seq, c.hlc,
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

/* Calls fn for every origin with pending commits; stops on non-zero. */
static int
pending_origins(struct store *s, MDB_txn *txn,
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
			rc = apply_op(s, txn, ax, &c, j);
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
	if ((rc = pending_origins(s, txn, drain_one, &da)) != 0)
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
	struct ptop pt;
	uint8_t key[LAY_SEQKEY_LEN];
	MDB_val k = { sizeof(key), key }, d;
	const char *why = "waiting for the admin log";
	char buf[160];
	int stop;

	pending_top(s, txn, origin, &pt);
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
	rc = pending_origins(s, txn, pending_report, &pa);
	mdb_txn_abort(txn);
	return rc < 0 ? CS_EDB : 0;
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
