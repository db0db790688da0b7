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

/* Builds a conflicts key: id, field, NUL, hlc, origin. */
static size_t
conflict_key(uint8_t *key, const uint8_t *id, const char *name,
    uint32_t nlen, uint64_t hlc, const uint8_t *origin)
{
	memcpy(key, id, PROTO_ID_LEN);
	memcpy(key + PROTO_ID_LEN, name, nlen);
	key[PROTO_ID_LEN + nlen] = 0;
	put_be64(key + PROTO_ID_LEN + nlen + 1, hlc);
	memcpy(key + PROTO_ID_LEN + nlen + 9, origin, PROTO_KEY_LEN);
	return PROTO_ID_LEN + nlen + 9 + PROTO_KEY_LEN;
}

/* Keeps a losing value as a conflict. */
static int
conflict_put(struct store *s, MDB_txn *txn, const uint8_t *id,
    const struct mfield *f, struct proto_enc *scratch)
{
	uint8_t key[PROTO_ID_LEN + PROTO_MAX_NAME + 9 + PROTO_KEY_LEN];
	MDB_val k, d;
	int rc;

	if (f->val->type == MSGPACK_OBJECT_NIL)
		return 0;
	k.mv_size = conflict_key(key, id, f->name, f->nlen, f->hlc, f->origin);
	k.mv_data = key;
	proto_enc_reset(scratch);
	msgpack_pack_object(&scratch->pk, *f->val);
	d.mv_size = scratch->sb.size;
	d.mv_data = scratch->sb.data;
	rc = mdb_put(txn, s->dbi[DB_CONFLICTS], &k, &d, 0);
	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

/* Builds a seen key: id, field, NUL, hlc. */
static size_t
seen_key(uint8_t *key, const uint8_t *id, const char *name, uint32_t nlen,
    uint64_t hlc)
{
	memcpy(key, id, PROTO_ID_LEN);
	memcpy(key + PROTO_ID_LEN, name, nlen);
	key[PROTO_ID_LEN + nlen] = 0;
	put_be64(key + PROTO_ID_LEN + nlen + 1, hlc);
	return PROTO_ID_LEN + nlen + 9;
}

/* Returns whether some edit of (id, field) saw the value at clock hlc. */
static int
seen_has(struct store *s, MDB_txn *txn, const uint8_t *id, const char *name,
    uint32_t nlen, uint64_t hlc)
{
	uint8_t key[PROTO_ID_LEN + PROTO_MAX_NAME + 9];
	MDB_val k, d;

	k.mv_size = seen_key(key, id, name, nlen, hlc);
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
	uint8_t key[PROTO_ID_LEN + PROTO_MAX_NAME + 9 + PROTO_KEY_LEN];
	size_t plen;
	MDB_cursor *cur;
	MDB_val k, d = { 0, NULL };
	int rc;

	k.mv_size = plen = seen_key(key, id, name, nlen, hlc);
	k.mv_data = key;
	if ((rc = mdb_put(txn, s->dbi[DB_SEEN], &k, &d, 0)) != 0)
		return store_mdb_fail(s, rc);
	memset(key + plen, 0, PROTO_KEY_LEN);
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_CONFLICTS], &cur)) != 0)
		return store_mdb_fail(s, rc);
	for (;;) {
		k.mv_size = plen + PROTO_KEY_LEN;
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
	uint8_t key[1 + PROTO_ID_LEN + 4 + PROTO_ID_LEN];
	MDB_val k, d = { 0, NULL };
	MDB_dbi dbs[2];
	size_t lens[2];
	uint8_t keys[2][sizeof(key)];
	int i, n = 0, rc;

	if (!ik->live)
		return 0;
	keys[n][0] = ik->type;
	put_be32(keys[n] + 1, ik->ymd);
	memcpy(keys[n] + 5, id, PROTO_ID_LEN);
	lens[n] = 5 + PROTO_ID_LEN;
	dbs[n++] = s->dbi[DB_BYDATE];
	if (ik->site != NULL) {
		keys[n][0] = ik->type;
		memcpy(keys[n] + 1, ik->site, PROTO_ID_LEN);
		put_be32(keys[n] + 1 + PROTO_ID_LEN, ik->ymd);
		memcpy(keys[n] + 5 + PROTO_ID_LEN, id, PROTO_ID_LEN);
		lens[n] = 5 + 2 * PROTO_ID_LEN;
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

/* State shared by the ops of one apply transaction. */
struct apply_ctx {
	struct store_failed *failed;
	struct proto_enc rec;
	struct proto_enc scratch;
	uint8_t digest[PROTO_HASH_LEN];
	int digest_loaded;
};

/* Applies one op of commit c (index opidx). */
static int
apply_op(struct store *s, MDB_txn *txn, struct apply_ctx *ax,
    const struct proto_commit *c, uint32_t opidx)
{
	const struct proto_op *op = &c->ops[opidx];
	struct mrec m;
	struct ikeys before, after;
	uint8_t hkey[68];
	MDB_val k, d = { 0, NULL };
	int rc;

	if ((rc = mrec_load(s, txn, op->id, &m)) != 0)
		return rc;
	if (!m.exists)
		m.type = sch_type_find(op->type, op->type_len);
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
	memcpy(hkey, op->id, PROTO_ID_LEN);
	put_be64(hkey + 16, c->hlc);
	memcpy(hkey + 24, c->origin, PROTO_KEY_LEN);
	put_be64(hkey + 56, c->seq);
	put_be32(hkey + 64, opidx);
	k.mv_size = sizeof(hkey);
	k.mv_data = hkey;
	d.mv_size = 0;
	d.mv_data = NULL;
	if ((rc = mdb_put(txn, s->dbi[DB_HISTORY], &k, &d, 0)) != 0)
		rc = store_mdb_fail(s, rc);
out:
	mrec_free(&m);
	return rc;
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

/* Validates every op of c against the schema and the stored types. */
static const char *
validate_ops(struct store *s, MDB_txn *txn, const struct proto_commit *c)
{
	uint32_t i, j;
	const char *why;

	if (ops_mix_types(c))
		return "two ops put one id under two types";

	for (i = 0; i < c->nops; i++) {
		const struct proto_op *op = &c->ops[i];
		const struct sch_type *t = sch_type_find(op->type,
		    op->type_len);
		MDB_val k = { PROTO_ID_LEN, (void *)(uintptr_t)op->id }, d;

		if (t == NULL)
			return "an op names an unknown record type";
		for (j = 0; j < op->nfields; j++) {
			const msgpack_object_kv *kv = &op->fields[j];
			const struct sch_field *f = sch_field_find(t,
			    kv->key.via.str.ptr, kv->key.via.str.size);

			if (f == NULL)
				return "an op names an unknown field";
			if (sch_check(f, &kv->val, &why) != 0)
				return why;
		}
		for (j = 0; j < op->nbase; j++)
			if (sch_field_find(t, op->base[j].key.via.str.ptr,
			    op->base[j].key.via.str.size) == NULL)
				return "an op's base names an unknown field";
		if (mdb_get(txn, s->dbi[DB_RECORDS], &k, &d) == 0) {
			struct store_rec r;
			int same;

			if (store_rec_unpack(&r, op->id, d.mv_data,
			    d.mv_size) != 0)
				return "a stored record does not decode";
			same = r.type == t;
			msgpack_unpacked_destroy(&r.up);
			if (!same)
				return "an op's type differs from its record's";
		}
	}
	return NULL;
}

/* Stores a fork as evidence. */
static int
fork_put(struct store *s, MDB_txn *txn, const struct store_item *it,
    const uint8_t hash[PROTO_HASH_LEN])
{
	uint8_t key[PROTO_KEY_LEN + 8 + PROTO_HASH_LEN];
	MDB_val k = { sizeof(key), key }, d;
	int rc;

	memcpy(key, it->origin, PROTO_KEY_LEN);
	put_be64(key + PROTO_KEY_LEN, it->seq);
	memcpy(key + PROTO_KEY_LEN + 8, hash, PROTO_HASH_LEN);
	d.mv_size = PROTO_SIG_LEN + it->elen;
	if ((rc = mdb_put(txn, s->dbi[DB_FORKS], &k, &d, MDB_RESERVE)) != 0)
		return store_mdb_fail(s, rc);
	memcpy(d.mv_data, it->sig, PROTO_SIG_LEN);
	memcpy((uint8_t *)d.mv_data + PROTO_SIG_LEN, it->e, it->elen);
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
	uint8_t key[PROTO_KEY_LEN + 8 + PROTO_HASH_LEN];
	MDB_val k = { sizeof(key), key }, d;
	MDB_cursor *cur;
	unsigned n = 0;
	int rc, known = 0;

	memset(key, 0, sizeof(key));
	memcpy(key, it->origin, PROTO_KEY_LEN);
	if (mdb_cursor_open(txn, s->dbi[DB_FORKS], &cur) != 0)
		return 1;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *kk = k.mv_data;

		if (k.mv_size != sizeof(key) ||
		    memcmp(kk, it->origin, PROTO_KEY_LEN) != 0)
			break;
		if (get_be64(kk + PROTO_KEY_LEN) == it->seq ||
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
	    memcmp(it->origin, zero, PROTO_KEY_LEN) == 0 ||
	    failed_has(f, it->origin))
		return;
	f->origin = xreallocarray(f->origin, f->n + 1, sizeof(*f->origin));
	memcpy(f->origin[f->n++], it->origin, PROTO_KEY_LEN);
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
	uint8_t head_hash[PROTO_HASH_LEN], hash[PROTO_HASH_LEN];
	uint8_t ckey[PROTO_KEY_LEN + 8];
	uint64_t head = 0, head_hlc = 0;
	char tbuf[sizeof(it->cause)];
	MDB_val k, d;
	uint32_t i;
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
	if (c.seq <= head) {
		memcpy(ckey, c.origin, PROTO_KEY_LEN);
		put_be64(ckey + PROTO_KEY_LEN, c.seq);
		k.mv_size = sizeof(ckey);
		k.mv_data = ckey;
		if (mdb_get(txn, s->dbi[DB_COMMITS], &k, &d) == 0 &&
		    d.mv_size == 8 + PROTO_SIG_LEN + it->elen &&
		    memcmp((uint8_t *)d.mv_data + 8, it->sig,
		    PROTO_SIG_LEN) == 0 &&
		    memcmp((uint8_t *)d.mv_data + 8 + PROTO_SIG_LEN, it->e,
		    it->elen) == 0) {
			refuse(it, CS_EDUP, "already stored");
			goto out;
		}
		if (proto_verify(it->sig, it->e, it->elen, s->info.network,
		    c.origin) != 0) {
			refuse(it, CS_ESIG, "signature does not verify "
			    "(replay of a stored seq with other bytes)");
			goto out;
		}
		proto_hash(hash, it->e, it->elen, it->sig);
		if (fork_known(s, txn, it)) {
			refuse(it, CS_EDUP, "a fork of this seq (or enough of "
			    "this origin) is kept as evidence already");
			goto out;
		}
		if (fork_put(s, txn, it, hash) != 0) {
			refuse(it, CS_EDB, "cannot store fork evidence");
			goto out;
		}
		refuse(it, CS_EFORK, "fork: a different commit at a stored "
		    "seq (kept as evidence, not applied)");
		goto out;
	}
	/* Evidence of a fork is kept even after a refusal; the rest is not. */
	if (failed_has(ax->failed, c.origin)) {
		refuse(it, CS_ESEQ, "follows a refused commit of its origin");
		goto out;
	}
	if (c.seq > head + 1) {
		snprintf(it->cause, sizeof(it->cause), "seq gap: this node "
		    "has seq %llu of that origin", (unsigned long long)head);
		it->result = CS_ESEQ;
		goto out;
	}
	if (c.seq > 1 && memcmp(c.prev, head_hash, PROTO_HASH_LEN) != 0) {
		refuse(it, CS_ECHAIN, "prev is not the hash of the previous "
		    "commit");
		goto out;
	}
	if (HLC_MS(c.hlc) > PROTO_HLC_MAX_MS) {
		refuse(it, CS_ESCHEMA, "clock is past the year 2200");
		goto out;
	}
	if (c.seq > 1 && c.hlc <= head_hlc) {
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
	/* The node's own fresh commits were built from checked fields. */
	if (verify && (why = validate_ops(s, txn, &c)) != NULL) {
		refuse(it, CS_ESCHEMA, why);
		goto out;
	}
	if ((why = trust_check(s, txn, &c, tbuf, sizeof(tbuf))) != NULL) {
		refuse(it, CS_EPERM, why);
		goto out;
	}
	/* Accepted: write the commit, the head, then the ops. */
	proto_hash(hash, it->e, it->elen, it->sig);
	memcpy(ckey, c.origin, PROTO_KEY_LEN);
	put_be64(ckey + PROTO_KEY_LEN, c.seq);
	k.mv_size = sizeof(ckey);
	k.mv_data = ckey;
	d.mv_size = 8 + PROTO_SIG_LEN + it->elen;
	if ((rc = mdb_put(txn, s->dbi[DB_COMMITS], &k, &d, MDB_RESERVE)) != 0)
		goto dbfail;
	put_be64(d.mv_data, store_now_ms());
	memcpy((uint8_t *)d.mv_data + 8, it->sig, PROTO_SIG_LEN);
	memcpy((uint8_t *)d.mv_data + 8 + PROTO_SIG_LEN, it->e, it->elen);
	{
		uint8_t hv[48];

		put_be64(hv, c.seq);
		memcpy(hv + 8, hash, PROTO_HASH_LEN);
		put_be64(hv + 40, c.hlc);
		k.mv_size = PROTO_KEY_LEN;
		k.mv_data = (void *)(uintptr_t)c.origin;
		d.mv_size = sizeof(hv);
		d.mv_data = hv;
		if ((rc = mdb_put(txn, s->dbi[DB_HEADS], &k, &d, 0)) != 0)
			goto dbfail;
	}
	for (i = 0; i < c.nops; i++)
		if (apply_op(s, txn, ax, &c, i) != 0) {
			refuse(it, CS_EDB, "store failed while applying");
			goto out;
		}
	*hlc = hlc_merge(*hlc, c.hlc);
	goto out;
dbfail:
	store_mdb_fail(s, rc);
	refuse(it, CS_EDB, mdb_strerror(rc));
out:
	proto_commit_free(&c);
}

struct apply_arg {
	struct store_item *items;
	size_t n;
	int verify;
	struct store_failed *failed;
	size_t failed_n;      /* size of failed at the start, for restarts */
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

		if (it->sig_ok)
			continue;	/* checked by store_verify_items() */
		it->sig_ok = it->elen > 36 && it->e[0] == 0x96 &&
		    it->e[1] == PROTO_COMMIT_VERSION && it->e[2] == 0xc4 &&
		    it->e[3] == PROTO_KEY_LEN && proto_verify(it->sig, it->e,
		    it->elen, j->s->info.network, it->e + 4) == 0;
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
	struct apply_arg aa = { items, n, 1, failed, failed ? failed->n : 0 };

	verify_ahead(s, items, n);
	return store_write(s, apply_fn, &aa, cause);
}

/* Applies the node's own fresh commits inside a caller's transaction. */
int
store_apply_local(struct store *s, MDB_txn *txn, struct store_item *items,
    size_t n)
{
	struct apply_arg aa = { items, n, 0, NULL, 0 };

	return apply_fn(s, txn, &aa);
}
