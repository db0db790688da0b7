/*
 * check.c: what a commit's ops must be before the commit is accepted,
 * and forks kept as evidence.
 *
 * The ops validate against the schema (storage/schema.c); one commit
 * never gives one id two types; a reference to a record of the author's
 * own must name the type the author gave it.  A commit at a held seq with
 * other bytes, validly signed, is a fork: kept (a bounded number per
 * origin), never applied.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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
 * type is not refused: store_merge_op() settles which type the record has.
 * Returns NULL or why not (static, or in buf).
 */
const char *
store_check_ops(struct store *s, MDB_txn *txn, const struct proto_commit *c,
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
int
store_fork_put(struct store *s, MDB_txn *txn, const struct store_item *it,
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
int
store_fork_known(struct store *s, MDB_txn *txn, const struct store_item *it)
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

