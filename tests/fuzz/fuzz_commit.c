/*
 * fuzz_commit.c: libFuzzer target for the commit codec (proto/commit.c)
 * and the MessagePack pre-check (proto/mpcheck.c).
 *
 * For each input it:
 *   1. runs proto_mp_check() at every depth bound, and checks that bytes it
 *      accepts are one object msgpack-c unpacks to the last byte (the
 *      pre-check is what keeps hostile counts away from msgpack-c, so it
 *      must never pass something the unpacker then reads differently);
 *   2. runs proto_commit_decode() and, when it accepts, touches every byte
 *      the decoded commit points to (so ASan sees a pointer that escapes
 *      the input or the zone), checks what the decoder promises (version,
 *      seq >= 1, prev nil only at seq 1, 1..PROTO_MAX_OPS ops, bounded and
 *      sorted field names, del ops without fields, base values that are a
 *      clock or a bounded array of clocks), re-encodes the commit
 *      with proto_commit_begin()/proto_op_begin()/proto_op_base() and
 *      checks that the re-encoding decodes to the same commit and is a
 *      fixed point of decode+encode;
 *   3. frees everything (LeakSanitizer reports what is not).
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 *
 *   make fuzz
 *   ./build-fuzz/fuzz_commit -max_total_time=60 CORPUS_DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run when a promise does not hold. */
#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_commit: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static volatile uint8_t sink;

/* Reads every byte of p so ASan checks the whole range. */
static void
touch(const void *p, size_t n)
{
	const volatile uint8_t *b = p;
	uint8_t x = 0;
	size_t i;

	for (i = 0; i < n; i++)
		x ^= b[i];
	sink ^= x;
}

/* Touches a decoded value, recursing into arrays and maps. */
static void
touch_obj(const msgpack_object *o)
{
	uint32_t i;

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		touch(o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		touch(o->via.bin.ptr, o->via.bin.size);
		break;
	case MSGPACK_OBJECT_ARRAY:
		for (i = 0; i < o->via.array.size; i++)
			touch_obj(&o->via.array.ptr[i]);
		break;
	case MSGPACK_OBJECT_MAP:
		for (i = 0; i < o->via.map.size; i++) {
			touch_obj(&o->via.map.ptr[i].key);
			touch_obj(&o->via.map.ptr[i].val);
		}
		break;
	default:
		break;
	}
}

/* Checks a map's keys are names in strictly ascending order. */
static void
check_names(const msgpack_object_kv *kv, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		CHECK(kv[i].key.type == MSGPACK_OBJECT_STR);
		CHECK(kv[i].key.via.str.size >= 1);
		CHECK(kv[i].key.via.str.size <= PROTO_MAX_NAME);
		if (i > 0) {
			const msgpack_object_str *a = &kv[i - 1].key.via.str;
			const msgpack_object_str *b = &kv[i].key.via.str;
			uint32_t m = a->size < b->size ? a->size : b->size;
			int c = memcmp(a->ptr, b->ptr, m);

			CHECK(c < 0 || (c == 0 && a->size < b->size));
		}
	}
}

/*
 * Checks a base value: the clock of the value the author replaced (a
 * uint), or a non-empty, bounded array of clocks (that value's, then the
 * conflicting values' the author had in view).
 */
static void
check_clocks(const msgpack_object *v)
{
	uint32_t i;

	if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		return;
	CHECK(v->type == MSGPACK_OBJECT_ARRAY);
	CHECK(v->via.array.size >= 1 && v->via.array.size <= PROTO_MAX_ITEMS);
	for (i = 0; i < v->via.array.size; i++)
		CHECK(v->via.array.ptr[i].type ==
		    MSGPACK_OBJECT_POSITIVE_INTEGER);
}

/* Checks what proto_commit_decode() promises about an accepted commit. */
static void
check_commit(const struct proto_commit *c)
{
	uint32_t i, j;

	CHECK(c->version == PROTO_COMMIT_VERSION);
	CHECK(c->origin != NULL);
	touch(c->origin, PROTO_KEY_LEN);
	CHECK(c->seq >= 1);
	CHECK((c->prev == NULL) == (c->seq == 1));
	if (c->prev != NULL)
		touch(c->prev, PROTO_HASH_LEN);
	CHECK(c->nops >= 1 && c->nops <= PROTO_MAX_OPS);
	CHECK(c->ops != NULL);
	for (i = 0; i < c->nops; i++) {
		const struct proto_op *op = &c->ops[i];

		CHECK(op->kind == PROTO_OP_PUT || op->kind == PROTO_OP_DEL);
		CHECK(op->type_len >= 1 && op->type_len <= PROTO_MAX_NAME);
		touch(op->type, op->type_len);
		touch(op->id, PROTO_ID_LEN);
		CHECK(op->nfields <= PROTO_MAX_FIELDS);
		CHECK(op->kind == PROTO_OP_PUT || op->nfields == 0);
		check_names(op->fields, op->nfields);
		for (j = 0; j < op->nfields; j++) {
			const msgpack_object *v = &op->fields[j].val;

			touch_obj(v);
			CHECK(v->type != MSGPACK_OBJECT_MAP);
			CHECK(v->type != MSGPACK_OBJECT_FLOAT32);
			CHECK(v->type != MSGPACK_OBJECT_FLOAT64);
			CHECK(v->type != MSGPACK_OBJECT_EXT);
			if (v->type == MSGPACK_OBJECT_STR)
				CHECK(v->via.str.size <= PROTO_MAX_VALUE);
			if (v->type == MSGPACK_OBJECT_BIN)
				CHECK(v->via.bin.size <= PROTO_MAX_VALUE);
			if (v->type == MSGPACK_OBJECT_ARRAY)
				CHECK(v->via.array.size <= PROTO_MAX_ITEMS);
		}
		CHECK(op->nbase <= PROTO_MAX_FIELDS);
		CHECK(op->nbase == 0 || op->base != NULL);
		check_names(op->base, op->nbase);
		for (j = 0; j < op->nbase; j++)
			check_clocks(&op->base[j].val);
	}
}

/*
 * Re-encodes a decoded commit with the public encoder.  An op has a base
 * map when the input had one (base != NULL, even an empty one).
 */
static void
encode(struct proto_enc *w, const struct proto_commit *c)
{
	uint32_t i, j;
	char type[PROTO_MAX_NAME + 1];

	proto_commit_begin(w, c->origin, c->seq, c->prev, c->hlc, c->nops);
	for (i = 0; i < c->nops; i++) {
		const struct proto_op *op = &c->ops[i];

		memcpy(type, op->type, op->type_len);
		type[op->type_len] = '\0';
		/* A type with a NUL in it would be cut by the C string API. */
		if (strlen(type) != op->type_len)
			return;
		proto_op_begin(w, op->kind, type, op->id, op->nfields,
		    op->base != NULL);
		for (j = 0; j < op->nfields; j++) {
			msgpack_pack_object(&w->pk, op->fields[j].key);
			msgpack_pack_object(&w->pk, op->fields[j].val);
		}
		if (op->base != NULL) {
			proto_op_base(w, op->nbase);
			for (j = 0; j < op->nbase; j++) {
				msgpack_pack_object(&w->pk, op->base[j].key);
				msgpack_pack_object(&w->pk, op->base[j].val);
			}
		}
	}
}

/* Returns whether any op type holds a NUL (encode() cannot carry it). */
static int
has_nul_type(const struct proto_commit *c)
{
	uint32_t i;

	for (i = 0; i < c->nops; i++)
		if (memchr(c->ops[i].type, '\0', c->ops[i].type_len) != NULL)
			return 1;
	return 0;
}

/* Checks two decoded commits are the same commit. */
static void
check_same(const struct proto_commit *a, const struct proto_commit *b)
{
	uint32_t i, j;

	CHECK(a->version == b->version);
	CHECK(memcmp(a->origin, b->origin, PROTO_KEY_LEN) == 0);
	CHECK(a->seq == b->seq);
	CHECK((a->prev == NULL) == (b->prev == NULL));
	if (a->prev != NULL)
		CHECK(memcmp(a->prev, b->prev, PROTO_HASH_LEN) == 0);
	CHECK(a->hlc == b->hlc);
	CHECK(a->nops == b->nops);
	for (i = 0; i < a->nops; i++) {
		const struct proto_op *x = &a->ops[i], *y = &b->ops[i];

		CHECK(x->kind == y->kind);
		CHECK(x->type_len == y->type_len);
		CHECK(memcmp(x->type, y->type, x->type_len) == 0);
		CHECK(memcmp(x->id, y->id, PROTO_ID_LEN) == 0);
		CHECK(x->nfields == y->nfields);
		CHECK(x->nbase == y->nbase);
		for (j = 0; j < x->nfields; j++) {
			CHECK(msgpack_object_equal(x->fields[j].key,
			    y->fields[j].key));
			CHECK(msgpack_object_equal(x->fields[j].val,
			    y->fields[j].val));
		}
		for (j = 0; j < x->nbase; j++) {
			CHECK(msgpack_object_equal(x->base[j].key,
			    y->base[j].key));
			CHECK(msgpack_object_equal(x->base[j].val,
			    y->base[j].val));
		}
	}
}

/* Copies n bytes to an exact-size heap buffer so ASan bounds them. */
static uint8_t *
dup_exact(const void *p, size_t n)
{
	uint8_t *d = xmalloc(n ? n : 1);

	if (n > 0)
		memcpy(d, p, n);
	return d;
}

/* Runs the pre-check and holds it to msgpack-c. */
static void
fuzz_mp_check(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	unsigned depth;
	int rc, prev_ok = 0;

	for (depth = 0; depth <= PROTO_MAX_DEPTH + 1; depth++) {
		why = NULL;
		rc = proto_mp_check(data, size, depth, &why);
		CHECK(rc == 0 || rc == CS_EDECODE || rc == CS_ETRUNC ||
		    rc == CS_EBOUND);
		CHECK(rc == 0 || why != NULL);
		/* A looser depth bound never refuses what a tighter took. */
		CHECK(!prev_ok || rc == 0);
		prev_ok = rc == 0;
		if (rc == 0 && depth == PROTO_MAX_DEPTH) {
			msgpack_zone *z = msgpack_zone_new(2048);
			msgpack_object o;
			size_t off = 0;

			CHECK(z != NULL);
			CHECK(msgpack_unpack((const char *)data, size, &off, z,
			    &o) == MSGPACK_UNPACK_SUCCESS);
			CHECK(off == size);
			touch_obj(&o);
			msgpack_zone_free(z);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_commit c, c2, c3;
	struct proto_enc w, w2;
	uint8_t *e2;
	const char *why = NULL;
	int rc;

	fuzz_mp_check(data, size);

	rc = proto_commit_decode(&c, data, size, &why);
	if (rc != 0) {
		CHECK(rc == CS_EDECODE || rc == CS_EBOUND ||
		    rc == CS_EVERSION || rc == CS_ETRUNC);
		CHECK(why != NULL);
		CHECK(c.zone == NULL && c.ops == NULL);
		proto_commit_free(&c);	/* safe on a zeroed commit */
		return 0;
	}
	check_commit(&c);
	/* What decodes as a commit passes the pre-check it is built on. */
	CHECK(proto_mp_check(data, size, 5, NULL) == 0);
	if (has_nul_type(&c)) {
		proto_commit_free(&c);
		return 0;
	}

	/* Re-encode, decode again: the same commit. */
	proto_enc_init(&w);
	encode(&w, &c);
	CHECK(w.sb.size <= size);	/* canonical is never longer */
	e2 = dup_exact(w.sb.data, w.sb.size);
	why = NULL;
	rc = proto_commit_decode(&c2, e2, w.sb.size, &why);
	if (rc != 0)
		fprintf(stderr, "fuzz_commit: re-encoding refused: %s\n", why);
	CHECK(rc == 0);
	check_same(&c, &c2);

	/* The canonical encoding is a fixed point. */
	proto_enc_init(&w2);
	encode(&w2, &c2);
	CHECK(w2.sb.size == w.sb.size);
	CHECK(memcmp(w2.sb.data, w.sb.data, w.sb.size) == 0);
	rc = proto_commit_decode(&c3, (const uint8_t *)w2.sb.data, w2.sb.size,
	    NULL);
	CHECK(rc == 0);
	check_same(&c2, &c3);

	proto_commit_free(&c3);
	proto_commit_free(&c2);
	proto_commit_free(&c);
	free(e2);
	proto_enc_free(&w2);
	proto_enc_free(&w);
	return 0;
}
