/*
 * merge.c: merging an accepted commit's ops into the records.
 *
 * A record is a map of fields, each a last-writer-wins register ordered
 * by (hlc, origin); a delete is a tombstone register under the same rule.
 * Each field stores its value and its clock (by index into the record's
 * table of clocks).  Every write that is not a field's winner, and that
 * no edit saw (no op's base names its clock), is kept in the conflicts
 * database.  The seen database remembers every base, so a value is
 * dropped from, or never enters, the conflicts whichever order the writes
 * arrive in: the conflicts converge as the records do.  Records are
 * re-encoded canonically, so any order of the same commits gives
 * byte-identical records, and the digest (XOR of BLAKE2b(id || record)
 * over all records) is the same everywhere.  Every op also enters the
 * history, from which a record is derived anew when its type changes.
 *
 * Called by apply.c inside its write transaction; nothing here decides
 * whether a commit is accepted.
 */
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
			/* store_check_ops() admits schema fields only, far
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


/*
 * Derives record id anew, of type t, from the ops of that type its
 * history holds: the record, its index entries, its conflicts and what
 * its edits saw.  Returns 0 or CS_EDB.
 */
int
store_merge_rebuild(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
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
	if (rc == 0)
		rc = store_drop_from(s, txn, s->dbi[DB_CONFLICTS], id,
		    PROTO_ID_LEN, PROTO_ID_LEN);
	if (rc == 0)
		rc = store_drop_from(s, txn, s->dbi[DB_SEEN], id,
		    PROTO_ID_LEN, PROTO_ID_LEN);
	if (rc != 0)
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
int
store_merge_op(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
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
			return store_merge_rebuild(s, txn, ax, op->id, t);
	}
	return merge_op(s, txn, ax, c, opidx, t);
}
