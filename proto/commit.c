/*
 * commit.c: the commit codec.
 *
 * E = [version, origin(bin 32), seq(uint >= 1), prev(bin 32 | nil),
 *      hlc(uint), ops]
 * op = [kind(uint 0 put | 1 del), type(str), id(bin 16),
 *       fields(map str -> value) (, base(map str -> uint | [uint]))]
 *
 * Decoding is strict: the bytes are pre-checked by proto_mp_check(), then
 * unpacked by msgpack-c, then every element is checked for type and bound.
 * Field values may be nil, bool, uint, int, str, bin, or an array of
 * those scalars; the schema (storage/) says which each field takes.
 */
#include <string.h>

#include "proto.h"

/* Sets up an empty encoder. */
void
proto_enc_init(struct proto_enc *w)
{
	msgpack_sbuffer_init(&w->sb);
	msgpack_packer_init(&w->pk, &w->sb, msgpack_sbuffer_write);
}

/* Empties an encoder for reuse, keeping its memory. */
void
proto_enc_reset(struct proto_enc *w)
{
	w->sb.size = 0;
}

/* Releases an encoder's memory. */
void
proto_enc_free(struct proto_enc *w)
{
	msgpack_sbuffer_destroy(&w->sb);
	memset(w, 0, sizeof(*w));
}

/* Packs a C string. */
void
proto_pack_cstr(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

/* Packs a commit's header up to the ops array header. */
void
proto_commit_begin(struct proto_enc *w, const uint8_t *origin, uint64_t seq,
    const uint8_t *prev, uint64_t hlc, uint32_t nops)
{
	proto_enc_reset(w);
	msgpack_pack_array(&w->pk, 6);
	msgpack_pack_uint64(&w->pk, PROTO_COMMIT_VERSION);
	msgpack_pack_bin(&w->pk, PROTO_KEY_LEN);
	msgpack_pack_bin_body(&w->pk, origin, PROTO_KEY_LEN);
	msgpack_pack_uint64(&w->pk, seq);
	if (prev != NULL) {
		msgpack_pack_bin(&w->pk, PROTO_HASH_LEN);
		msgpack_pack_bin_body(&w->pk, prev, PROTO_HASH_LEN);
	} else
		msgpack_pack_nil(&w->pk);
	msgpack_pack_uint64(&w->pk, hlc);
	msgpack_pack_array(&w->pk, nops);
}

/* Packs an op's header up to its fields map header. */
void
proto_op_begin(struct proto_enc *w, unsigned kind, const char *type,
    const uint8_t *id, uint32_t nfields, int has_base)
{
	msgpack_pack_array(&w->pk, has_base ? 5 : 4);
	msgpack_pack_uint64(&w->pk, kind);
	proto_pack_cstr(&w->pk, type);
	msgpack_pack_bin(&w->pk, PROTO_ID_LEN);
	msgpack_pack_bin_body(&w->pk, id, PROTO_ID_LEN);
	msgpack_pack_map(&w->pk, nfields);
}

/* Packs the base map header. */
void
proto_op_base(struct proto_enc *w, uint32_t nbase)
{
	msgpack_pack_map(&w->pk, nbase);
}

/* Returns whether o is a bin of exactly n bytes. */
static int
is_bin(const msgpack_object *o, uint32_t n)
{
	return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == n;
}

/* Returns whether o is a valid name: a non-empty str within the bound. */
static int
is_name(const msgpack_object *o)
{
	uint32_t i;

	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 ||
	    o->via.str.size > PROTO_MAX_NAME)
		return 0;
	/* Type and field names are lower_snake_case, nothing else. */
	for (i = 0; i < o->via.str.size; i++) {
		char c = o->via.str.ptr[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '_'))
			return 0;
	}
	return 1;
}

/* Returns whether o is a uint or a non-empty array of uints. */
static int
is_clocks(const msgpack_object *o)
{
	uint32_t i;

	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return 1;
	if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0 ||
	    o->via.array.size > PROTO_MAX_ITEMS)
		return 0;
	for (i = 0; i < o->via.array.size; i++)
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			return 0;
	return 1;
}

/* Checks one scalar field value; returns a static cause or NULL. */
static const char *
check_scalar(const msgpack_object *v)
{
	switch (v->type) {
	case MSGPACK_OBJECT_NIL:
	case MSGPACK_OBJECT_BOOLEAN:
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return NULL;
	case MSGPACK_OBJECT_STR:
		return v->via.str.size > PROTO_MAX_VALUE ?
		    "a string value exceeds the bound" : NULL;
	case MSGPACK_OBJECT_BIN:
		return v->via.bin.size > PROTO_MAX_VALUE ?
		    "a bin value exceeds the bound" : NULL;
	default:
		return "a value has a type that is not accepted";
	}
}

/* Checks a field value: a scalar or an array of scalars. */
static const char *
check_value(const msgpack_object *v)
{
	uint32_t i;
	const char *why;

	if (v->type != MSGPACK_OBJECT_ARRAY)
		return check_scalar(v);
	if (v->via.array.size > PROTO_MAX_ITEMS)
		return "an array value has too many items";
	for (i = 0; i < v->via.array.size; i++) {
		if (v->via.array.ptr[i].type == MSGPACK_OBJECT_ARRAY)
			return "an array value holds an array";
		if ((why = check_scalar(&v->via.array.ptr[i])) != NULL)
			return why;
	}
	return NULL;
}

/* Returns whether the names of a map are strictly ascending (unique). */
static int
names_sorted(const msgpack_object_kv *kv, uint32_t n)
{
	uint32_t i;

	for (i = 1; i < n; i++) {
		const msgpack_object_str *a = &kv[i - 1].key.via.str;
		const msgpack_object_str *b = &kv[i].key.via.str;
		uint32_t m = a->size < b->size ? a->size : b->size;
		int c = memcmp(a->ptr, b->ptr, m);

		if (c > 0 || (c == 0 && a->size >= b->size))
			return 0;
	}
	return 1;
}

/* Decodes and checks one op; returns a static cause or NULL. */
static const char *
decode_op(struct proto_op *op, const msgpack_object *o, int *err)
{
	const msgpack_object *a;
	uint32_t i;
	const char *why;

	*err = CS_EDECODE;
	if (o->type != MSGPACK_OBJECT_ARRAY ||
	    (o->via.array.size != 4 && o->via.array.size != 5))
		return "an op is not an array of 4 or 5";
	a = o->via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[0].via.u64 > 1)
		return "an op kind is not 0 (put) or 1 (del)";
	op->kind = (unsigned)a[0].via.u64;
	if (!is_name(&a[1])) {
		if (a[1].type == MSGPACK_OBJECT_STR &&
		    a[1].via.str.size > PROTO_MAX_NAME)
			*err = CS_EBOUND;
		return "an op type is not a name";
	}
	op->type = a[1].via.str.ptr;
	op->type_len = a[1].via.str.size;
	if (!is_bin(&a[2], PROTO_ID_LEN))
		return "an op id is not bin 16";
	op->id = (const uint8_t *)a[2].via.bin.ptr;
	if (a[3].type != MSGPACK_OBJECT_MAP)
		return "op fields are not a map";
	if (a[3].via.map.size > PROTO_MAX_FIELDS) {
		*err = CS_EBOUND;
		return "an op has too many fields";
	}
	op->fields = a[3].via.map.ptr;
	op->nfields = a[3].via.map.size;
	for (i = 0; i < op->nfields; i++) {
		if (!is_name(&op->fields[i].key)) {
			if (op->fields[i].key.type == MSGPACK_OBJECT_STR &&
			    op->fields[i].key.via.str.size > PROTO_MAX_NAME)
				*err = CS_EBOUND;
			return "a field name is not a name within the bound";
		}
		if ((why = check_value(&op->fields[i].val)) != NULL) {
			*err = CS_EBOUND;
			return why;
		}
	}
	if (!names_sorted(op->fields, op->nfields))
		return "field names are not sorted and unique";
	if (op->kind == PROTO_OP_DEL && op->nfields != 0)
		return "a del op has fields";
	op->base = NULL;
	op->nbase = 0;
	op->has_base = 0;
	if (o->via.array.size == 5) {
		if (a[4].type != MSGPACK_OBJECT_MAP ||
		    a[4].via.map.size > PROTO_MAX_FIELDS)
			return "op base is not a map within the bound";
		op->has_base = 1;
		op->base = a[4].via.map.ptr;
		op->nbase = a[4].via.map.size;
		for (i = 0; i < op->nbase; i++) {
			const msgpack_object *k = &op->base[i].key;

			if (k->type == MSGPACK_OBJECT_STR &&
			    k->via.str.size > PROTO_MAX_NAME) {
				*err = CS_EBOUND;
				return "a base name exceeds the bound";
			}
			if (!is_name(k) || !is_clocks(&op->base[i].val))
				return "op base is not a map of name to uint "
				    "or array of uint";
		}
		if (!names_sorted(op->base, op->nbase))
			return "base names are not sorted and unique";
	}
	return NULL;
}

/* Peeks at the origin of commit bytes (proto.h). */
const uint8_t *
proto_commit_origin(const uint8_t *e, size_t len)
{
	/* fixarray, positive fixint version, bin 8 of 32 bytes */
	if (len < 4 + PROTO_KEY_LEN || (e[0] & 0xf0) != 0x90 ||
	    e[1] > 0x7f || e[2] != 0xc4 || e[3] != PROTO_KEY_LEN)
		return NULL;
	return e + 4;
}

/* Decodes commit bytes strictly. */
int
proto_commit_decode(struct proto_commit *c, const uint8_t *e, size_t len,
    const char **cause)
{
	msgpack_object root;
	const msgpack_object *a;
	const char *why = NULL;
	int err = CS_EDECODE;
	size_t off = 0;
	uint32_t i;

	memset(c, 0, sizeof(*c));
	if (len > PROTO_MAX_COMMIT) {
		why = "commit exceeds the size bound";
		err = CS_EBOUND;
		goto bad;
	}
	if ((err = proto_mp_check(e, len, 5, &why)) != 0)
		goto bad;
	err = CS_EDECODE;
	/* Chunks of at most 64 KiB come from the heap and are reused. */
	c->zone = msgpack_zone_new(len < 2048 ? 2048 :
	    len > 32768 ? 65536 : len * 2);
	if (c->zone == NULL) {
		why = "out of memory";
		err = CS_ENOMEM;
		goto bad;
	}
	if (msgpack_unpack((const char *)e, len, &off, c->zone, &root) !=
	    MSGPACK_UNPACK_SUCCESS || off != len) {
		why = "not one MessagePack object";
		goto bad;
	}
	if (root.type != MSGPACK_OBJECT_ARRAY || root.via.array.size != 6) {
		why = "commit is not an array of 6";
		goto bad;
	}
	a = root.via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		why = "version is not a uint";
		goto bad;
	}
	c->version = a[0].via.u64;
	if (c->version != PROTO_COMMIT_VERSION) {
		why = "unsupported commit version";
		err = CS_EVERSION;
		goto bad;
	}
	if (!is_bin(&a[1], PROTO_KEY_LEN)) {
		why = "origin is not bin 32";
		goto bad;
	}
	c->origin = (const uint8_t *)a[1].via.bin.ptr;
	if (a[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER || a[2].via.u64 == 0) {
		why = "seq is not a uint >= 1";
		goto bad;
	}
	c->seq = a[2].via.u64;
	if (a[3].type == MSGPACK_OBJECT_NIL && c->seq == 1)
		c->prev = NULL;
	else if (is_bin(&a[3], PROTO_HASH_LEN) && c->seq > 1)
		c->prev = (const uint8_t *)a[3].via.bin.ptr;
	else {
		why = "prev is not nil at seq 1 or bin 32 after";
		goto bad;
	}
	if (a[4].type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		why = "hlc is not a uint";
		goto bad;
	}
	c->hlc = a[4].via.u64;
	if (a[5].type != MSGPACK_OBJECT_ARRAY || a[5].via.array.size == 0) {
		why = "ops is not a non-empty array";
		goto bad;
	}
	if (a[5].via.array.size > PROTO_MAX_OPS) {
		why = "commit has too many ops";
		err = CS_EBOUND;
		goto bad;
	}
	c->nops = a[5].via.array.size;
	c->ops = msgpack_zone_malloc(c->zone, c->nops * sizeof(*c->ops));
	if (c->ops == NULL) {
		why = "out of memory";
		err = CS_ENOMEM;
		goto bad;
	}
	for (i = 0; i < c->nops; i++)
		if ((why = decode_op(&c->ops[i], &a[5].via.array.ptr[i],
		    &err)) != NULL)
			goto bad;
	return 0;
bad:
	if (cause != NULL)
		*cause = why;
	proto_commit_free(c);
	return err;
}

/* Frees a decoded commit. */
void
proto_commit_free(struct proto_commit *c)
{
	if (c->zone != NULL)
		msgpack_zone_free(c->zone);
	memset(c, 0, sizeof(*c));
}
