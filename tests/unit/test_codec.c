/*
 * test_codec.c: unit tests of proto/ alone (no store, no I/O).
 *
 * Covers the commit codec (proto_commit_begin/proto_op_begin/proto_op_base
 * encoding, proto_commit_decode round trip of every field), strict
 * rejection (every truncation, trailing bytes, wrong types, unknown
 * version, prev nil exactly at seq 1, canonical field and base maps,
 * base clocks as uint or array of uint, bounds on ops, fields, names,
 * values, items, commit size and nesting), proto_mp_check against huge declared counts and deep nesting,
 * signatures with their domain separation (proto_sign/proto_verify checked
 * against libsodium directly), the BLAKE2b hash, the hybrid logical clock,
 * record ids, hex helpers, the plain bundle stream (header and items,
 * every prefix, bad format, version and signature length) and
 * cs_strerror.
 *
 * Buffers handed to decoders are heap copies of the exact length, so a
 * read past the end shows up under `make unit SANITIZE=1`.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/proto.h"

/* ---- helpers ---------------------------------------------------------- */

#define T_HLC0 ((UINT64_C(1700000000000) << 16) | 7)
#define T_HLC1 ((UINT64_C(1700000000123) << 16) | 1)
#define T_HLC2 ((UINT64_C(1700000000456) << 16) | 0)

static uint8_t t_origin[PROTO_KEY_LEN];
static uint8_t t_prev[PROTO_HASH_LEN];
static uint8_t t_id0[PROTO_ID_LEN];
static uint8_t t_id1[PROTO_ID_LEN];
static uint8_t t_site[PROTO_ID_LEN];

static void fill(uint8_t *p, size_t n, uint8_t start)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i * 7);
}

static int setup_group(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	fill(t_origin, sizeof t_origin, 0x11);
	fill(t_prev, sizeof t_prev, 0x90);
	fill(t_id0, sizeof t_id0, 0x01);
	fill(t_id1, sizeof t_id1, 0x41);
	fill(t_site, sizeof t_site, 0xa0);
	return 0;
}

/* A heap copy of exactly len bytes (at least one byte is allocated). */
static uint8_t *dup_exact(const void *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);
	assert_non_null(d);
	if (len)
		memcpy(d, p, len);
	return d;
}

static void pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	if (n)
		msgpack_pack_bin_body(pk, p, n);
}

static void pack_strn(msgpack_packer *pk, const char *p, size_t n)
{
	msgpack_pack_str(pk, n);
	if (n)
		msgpack_pack_str_body(pk, p, n);
}

/* A string of n copies of c (caller frees). */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/*
 * The reference commit: two ops.  op 0 is a put of a cafe with five
 * fields (bin, str, uint, array of str, nil) and a base of two fields;
 * op 1 is a delete of an action with no fields and no base.
 */
static void build_valid(struct proto_enc *w, uint64_t seq,
    const uint8_t *prev, uint64_t hlc)
{
	msgpack_packer *pk = &w->pk;

	proto_commit_begin(w, t_origin, seq, prev, hlc, 2);

	proto_op_begin(w, PROTO_OP_PUT, "cafe", t_id0, 5, 1);
	proto_pack_cstr(pk, "attendees");
	msgpack_pack_uint64(pk, 12);
	proto_pack_cstr(pk, "date");
	proto_pack_cstr(pk, "2026-03-14");
	proto_pack_cstr(pk, "factors");
	msgpack_pack_array(pk, 2);
	proto_pack_cstr(pk, "resilience");
	proto_pack_cstr(pk, "social_connections");
	proto_pack_cstr(pk, "site");
	pack_bin(pk, t_site, sizeof t_site);
	proto_pack_cstr(pk, "topic");
	msgpack_pack_nil(pk);
	proto_op_base(w, 2);
	proto_pack_cstr(pk, "attendees");
	msgpack_pack_uint64(pk, T_HLC2);
	proto_pack_cstr(pk, "date");
	msgpack_pack_uint64(pk, T_HLC1);

	proto_op_begin(w, PROTO_OP_DEL, "action", t_id1, 0, 0);
}

/*
 * Decodes a heap copy of exactly len bytes of e and frees what it made;
 * returns the decoder's result with *cause as it set it.
 */
static int decode_buf(struct proto_commit *c, const uint8_t *e, size_t len,
    const char **cause)
{
	uint8_t *d = dup_exact(e, len);
	int rc;

	memset(c, 0, sizeof *c);
	*cause = NULL;
	rc = proto_commit_decode(c, d, len, cause);
	if (rc == 0)
		proto_commit_free(c);
	memset(c, 0, sizeof *c);
	free(d);
	return rc;
}

/* Decodes from w's buffer, expecting an error; returns the code. */
static int decode_err(const struct proto_enc *w)
{
	struct proto_commit c;
	const char *cause = NULL;
	int rc = decode_buf(&c, (const uint8_t *)w->sb.data, w->sb.size,
	    &cause);

	if (rc < 0) {
		assert_non_null(cause);
		assert_true(strlen(cause) > 0);
	}
	return rc;
}

static int str_is(const msgpack_object *o, const char *s)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
	    memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

/* ---- commit round trip ------------------------------------------------ */

static void check_reference_ops(const struct proto_commit *c)
{
	const struct proto_op *op;
	const msgpack_object *v;

	assert_int_equal(c->nops, 2);
	assert_non_null(c->ops);

	op = &c->ops[0];
	assert_int_equal(op->kind, PROTO_OP_PUT);
	assert_int_equal(op->type_len, 4);
	assert_memory_equal(op->type, "cafe", 4);
	assert_memory_equal(op->id, t_id0, PROTO_ID_LEN);
	assert_int_equal(op->nfields, 5);
	assert_true(str_is(&op->fields[0].key, "attendees"));
	assert_int_equal(op->fields[0].val.type,
	    MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(op->fields[0].val.via.u64, 12);
	assert_true(str_is(&op->fields[1].key, "date"));
	assert_true(str_is(&op->fields[1].val, "2026-03-14"));
	assert_true(str_is(&op->fields[2].key, "factors"));
	v = &op->fields[2].val;
	assert_int_equal(v->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(v->via.array.size, 2);
	assert_true(str_is(&v->via.array.ptr[0], "resilience"));
	assert_true(str_is(&v->via.array.ptr[1], "social_connections"));
	assert_true(str_is(&op->fields[3].key, "site"));
	v = &op->fields[3].val;
	assert_int_equal(v->type, MSGPACK_OBJECT_BIN);
	assert_int_equal(v->via.bin.size, PROTO_ID_LEN);
	assert_memory_equal(v->via.bin.ptr, t_site, PROTO_ID_LEN);
	assert_true(str_is(&op->fields[4].key, "topic"));
	assert_int_equal(op->fields[4].val.type, MSGPACK_OBJECT_NIL);
	assert_int_equal(op->nbase, 2);
	assert_non_null(op->base);
	assert_true(str_is(&op->base[0].key, "attendees"));
	assert_int_equal(op->base[0].val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_true(op->base[0].val.via.u64 == T_HLC2);
	assert_true(str_is(&op->base[1].key, "date"));
	assert_true(op->base[1].val.via.u64 == T_HLC1);

	op = &c->ops[1];
	assert_int_equal(op->kind, PROTO_OP_DEL);
	assert_int_equal(op->type_len, 6);
	assert_memory_equal(op->type, "action", 6);
	assert_memory_equal(op->id, t_id1, PROTO_ID_LEN);
	assert_int_equal(op->nfields, 0);
	assert_int_equal(op->nbase, 0);
}

static void test_commit_roundtrip_seq1(void **state)
{
	struct proto_enc w;
	struct proto_commit c;
	const char *cause = NULL;
	uint8_t *d;
	(void)state;

	proto_enc_init(&w);
	build_valid(&w, 1, NULL, T_HLC0);
	d = dup_exact(w.sb.data, w.sb.size);
	memset(&c, 0, sizeof c);
	assert_int_equal(proto_commit_decode(&c, d, w.sb.size, &cause), 0);
	assert_true(c.version == PROTO_COMMIT_VERSION);
	assert_non_null(c.origin);
	assert_memory_equal(c.origin, t_origin, PROTO_KEY_LEN);
	assert_true(c.seq == 1);
	assert_null(c.prev);
	assert_true(c.hlc == T_HLC0);
	check_reference_ops(&c);
	proto_commit_free(&c);
	free(d);
	proto_enc_free(&w);
}

static void test_commit_roundtrip_prev(void **state)
{
	struct proto_enc w;
	struct proto_commit c;
	const char *cause = NULL;
	uint8_t *d;
	uint64_t big = UINT64_C(0xfedcba9876543210);
	(void)state;

	proto_enc_init(&w);
	build_valid(&w, 2, t_prev, T_HLC1);
	d = dup_exact(w.sb.data, w.sb.size);
	memset(&c, 0, sizeof c);
	assert_int_equal(proto_commit_decode(&c, d, w.sb.size, &cause), 0);
	assert_true(c.seq == 2);
	assert_non_null(c.prev);
	assert_memory_equal(c.prev, t_prev, PROTO_HASH_LEN);
	assert_true(c.hlc == T_HLC1);
	check_reference_ops(&c);
	proto_commit_free(&c);
	free(d);

	/* A large seq and a full 64-bit hlc survive. */
	build_valid(&w, big, t_prev, UINT64_MAX);
	d = dup_exact(w.sb.data, w.sb.size);
	memset(&c, 0, sizeof c);
	assert_int_equal(proto_commit_decode(&c, d, w.sb.size, &cause), 0);
	assert_true(c.seq == big);
	assert_true(c.hlc == UINT64_MAX);
	proto_commit_free(&c);
	free(d);

	/* proto_commit_free() is safe on a zeroed commit. */
	memset(&c, 0, sizeof c);
	proto_commit_free(&c);
	proto_enc_free(&w);
}

/* The encoding is the documented array, checked with msgpack directly. */
static void test_commit_layout(void **state)
{
	struct proto_enc w;
	msgpack_unpacked up;
	size_t off = 0;
	const msgpack_object *a;
	(void)state;

	proto_enc_init(&w);
	build_valid(&w, 3, t_prev, T_HLC2);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, w.sb.data, w.sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(off, w.sb.size);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(up.data.via.array.size, 6);
	a = up.data.via.array.ptr;
	assert_int_equal(a[0].via.u64, PROTO_COMMIT_VERSION);
	assert_int_equal(a[1].type, MSGPACK_OBJECT_BIN);
	assert_int_equal(a[1].via.bin.size, PROTO_KEY_LEN);
	assert_int_equal(a[2].via.u64, 3);
	assert_int_equal(a[3].type, MSGPACK_OBJECT_BIN);
	assert_int_equal(a[3].via.bin.size, PROTO_HASH_LEN);
	assert_true(a[4].via.u64 == T_HLC2);
	assert_int_equal(a[5].type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(a[5].via.array.size, 2);
	/* put with base: five elements; del without: four. */
	assert_int_equal(a[5].via.array.ptr[0].via.array.size, 5);
	assert_int_equal(a[5].via.array.ptr[1].via.array.size, 4);
	msgpack_unpacked_destroy(&up);

	build_valid(&w, 1, NULL, T_HLC2);
	msgpack_unpacked_init(&up);
	off = 0;
	assert_int_equal(msgpack_unpack_next(&up, w.sb.data, w.sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(up.data.via.array.ptr[3].type, MSGPACK_OBJECT_NIL);
	msgpack_unpacked_destroy(&up);
	proto_enc_free(&w);
}

/* ---- strict rejection ------------------------------------------------- */

static void test_commit_every_truncation(void **state)
{
	struct proto_enc w;
	struct proto_commit c;
	const char *cause;
	(void)state;

	proto_enc_init(&w);
	build_valid(&w, 2, t_prev, T_HLC0);
	assert_int_equal(decode_buf(&c, (const uint8_t *)w.sb.data,
	    w.sb.size, &cause), 0);
	for (size_t len = 0; len < w.sb.size; len++) {
		int rc = decode_buf(&c, (const uint8_t *)w.sb.data, len,
		    &cause);
		if (rc >= 0)
			fail_msg("prefix of %zu/%zu bytes accepted", len,
			    w.sb.size);
		assert_non_null(cause);
	}
	proto_enc_free(&w);
}

static void test_commit_trailing_byte(void **state)
{
	struct proto_enc w;
	(void)state;

	proto_enc_init(&w);
	build_valid(&w, 1, NULL, T_HLC0);
	msgpack_pack_nil(&w.pk);
	assert_true(decode_err(&w) < 0);
	build_valid(&w, 1, NULL, T_HLC0);
	msgpack_pack_uint64(&w.pk, 0);
	assert_true(decode_err(&w) < 0);
	/* A second whole commit after the first is trailing data too. */
	build_valid(&w, 1, NULL, T_HLC0);
	{
		struct proto_enc w2;
		proto_enc_init(&w2);
		build_valid(&w2, 1, NULL, T_HLC0);
		msgpack_sbuffer_write(&w.sb, w2.sb.data, w2.sb.size);
		proto_enc_free(&w2);
	}
	assert_true(decode_err(&w) < 0);
	proto_enc_free(&w);
}

enum mutation {
	M_NONE,
	M_VERSION2,
	M_VERSION0,
	M_SEQ_STR,
	M_SEQ_NEG,
	M_SEQ0,
	M_ORIGIN31,
	M_ORIGIN33,
	M_ORIGIN_STR,
	M_PREV31,
	M_PREV_AT_SEQ1,
	M_NO_PREV_AT_SEQ2,
	M_HLC_STR,
	M_ID15,
	M_ID17,
	M_OPS_NOT_ARRAY,
	M_KIND7,
	M_KIND_STR,
	M_TYPE_BIN,
	M_TYPE_EMPTY,
	M_FIELDS_ARRAY,
	M_FIELD_KEY_UINT,
	M_OP_3,
	M_OP_6,
	M_COMMIT_5,
	M_COMMIT_7,
	M_NOT_ARRAY,
	M_BASE_STR_VAL,
	M_BASE_NOT_MAP,
	M_EXT_VALUE,
	M_COUNT
};

/* Packs a one-op commit by hand, broken in the way mut says. */
static void pack_custom(struct proto_enc *w, enum mutation mut)
{
	msgpack_packer *pk = &w->pk;
	uint64_t seq = (mut == M_SEQ0 || mut == M_PREV_AT_SEQ1) ? (mut == M_SEQ0 ? 0 : 1) : 2;
	int has_prev = seq >= 2;
	uint8_t org[64], idb[64];	/* room for the over-long variants */

	memset(org, 0, sizeof org);
	memcpy(org, t_origin, PROTO_KEY_LEN);
	memset(idb, 0, sizeof idb);
	memcpy(idb, t_id0, PROTO_ID_LEN);

	if (mut == M_PREV_AT_SEQ1)
		has_prev = 1;
	if (mut == M_NO_PREV_AT_SEQ2)
		has_prev = 0;
	proto_enc_reset(w);
	if (mut == M_NOT_ARRAY) {
		msgpack_pack_map(pk, 0);
		return;
	}
	msgpack_pack_array(pk, mut == M_COMMIT_5 ? 5 : mut == M_COMMIT_7 ? 7 : 6);
	msgpack_pack_uint64(pk, mut == M_VERSION2 ? 2 : mut == M_VERSION0 ? 0 : 1);
	if (mut == M_ORIGIN_STR)
		pack_strn(pk, (const char *)org, PROTO_KEY_LEN);
	else
		pack_bin(pk, org, mut == M_ORIGIN31 ? 31 :
		    mut == M_ORIGIN33 ? 33 : PROTO_KEY_LEN);
	if (mut == M_SEQ_STR)
		proto_pack_cstr(pk, "2");
	else if (mut == M_SEQ_NEG)
		msgpack_pack_int64(pk, -2);
	else
		msgpack_pack_uint64(pk, seq);
	if (has_prev)
		pack_bin(pk, t_prev, mut == M_PREV31 ? 31 : PROTO_HASH_LEN);
	else
		msgpack_pack_nil(pk);
	if (mut == M_HLC_STR)
		proto_pack_cstr(pk, "1700000000000");
	else
		msgpack_pack_uint64(pk, T_HLC0);
	if (mut == M_COMMIT_5)
		return;		/* no ops at all */
	if (mut == M_OPS_NOT_ARRAY) {
		msgpack_pack_map(pk, 1);
		proto_pack_cstr(pk, "op");
		msgpack_pack_uint64(pk, 0);
		return;
	}
	msgpack_pack_array(pk, 1);
	{
		int has_base = mut == M_BASE_STR_VAL || mut == M_BASE_NOT_MAP ||
		    mut == M_OP_6;
		unsigned n = mut == M_OP_3 ? 3 : has_base ? 5 : 4;

		if (mut == M_OP_6)
			n = 6;
		msgpack_pack_array(pk, n);
		if (mut == M_KIND_STR)
			proto_pack_cstr(pk, "put");
		else
			msgpack_pack_uint64(pk, mut == M_KIND7 ? 7 : PROTO_OP_PUT);
		if (mut == M_TYPE_BIN)
			pack_bin(pk, "site", 4);
		else if (mut == M_TYPE_EMPTY)
			pack_strn(pk, "", 0);
		else
			proto_pack_cstr(pk, "site");
		pack_bin(pk, idb, mut == M_ID15 ? 15 : mut == M_ID17 ? 17 :
		    PROTO_ID_LEN);
		if (mut == M_OP_3)
			goto tail;
		if (mut == M_FIELDS_ARRAY) {
			msgpack_pack_array(pk, 2);
			proto_pack_cstr(pk, "name");
			proto_pack_cstr(pk, "x");
		} else {
			msgpack_pack_map(pk, 1);
			if (mut == M_FIELD_KEY_UINT)
				msgpack_pack_uint64(pk, 1);
			else
				proto_pack_cstr(pk, "name");
			if (mut == M_EXT_VALUE) {
				msgpack_pack_ext(pk, 1, 1);
				msgpack_pack_ext_body(pk, "x", 1);
			} else {
				proto_pack_cstr(pk, "Family Center");
			}
		}
		if (has_base) {
			if (mut == M_BASE_NOT_MAP) {
				proto_pack_cstr(pk, "base");
			} else {
				msgpack_pack_map(pk, 1);
				proto_pack_cstr(pk, "name");
				if (mut == M_BASE_STR_VAL)
					proto_pack_cstr(pk, "12");
				else
					msgpack_pack_uint64(pk, T_HLC1);
			}
		}
		if (mut == M_OP_6)
			msgpack_pack_nil(pk);
	}
tail:
	if (mut == M_COMMIT_7)
		msgpack_pack_nil(pk);
}

static const char *const mutation_names[M_COUNT] = {
	"none", "version 2", "version 0", "seq as str", "negative seq",
	"seq 0", "origin of 31 bytes", "origin of 33 bytes", "origin as str",
	"prev of 31 bytes", "prev set at seq 1", "prev nil at seq 2",
	"hlc as str", "id of 15 bytes", "id of 17 bytes", "ops not an array",
	"op kind 7", "op kind as str", "type as bin", "empty type name",
	"fields as array", "field name as uint", "op of 3 elements",
	"op of 6 elements", "commit of 5 elements", "commit of 7 elements",
	"commit not an array", "base value as str", "base not a map",
	"ext value",
};

static void test_commit_hand_built_baseline(void **state)
{
	struct proto_enc w;
	struct proto_commit c;
	const char *cause = NULL;
	uint8_t *d;
	(void)state;

	/* The hand-built commit is valid when nothing is broken. */
	proto_enc_init(&w);
	pack_custom(&w, M_NONE);
	d = dup_exact(w.sb.data, w.sb.size);
	memset(&c, 0, sizeof c);
	assert_int_equal(proto_commit_decode(&c, d, w.sb.size, &cause), 0);
	assert_int_equal(c.nops, 1);
	assert_true(c.seq == 2);
	assert_int_equal(c.ops[0].nfields, 1);
	assert_true(str_is(&c.ops[0].fields[0].val, "Family Center"));
	proto_commit_free(&c);
	free(d);
	proto_enc_free(&w);
}

static void test_commit_wrong_types(void **state)
{
	struct proto_enc w;
	int bad = 0;
	(void)state;

	proto_enc_init(&w);
	for (int m = M_NONE + 1; m < M_COUNT; m++) {
		int rc;

		if (m == M_PREV_AT_SEQ1 || m == M_NO_PREV_AT_SEQ2 ||
		    m == M_TYPE_EMPTY)
			continue;	/* test_commit_prev_shape */
		pack_custom(&w, (enum mutation)m);
		rc = decode_err(&w);
		if (rc >= 0) {
			print_error("accepted a commit with %s\n",
			    mutation_names[m]);
			bad++;
		} else if (m == M_VERSION2 || m == M_VERSION0) {
			if (rc != CS_EVERSION) {
				print_error("%s gave %d, not CS_EVERSION\n",
				    mutation_names[m], rc);
				bad++;
			}
		} else if (rc != CS_EDECODE && rc != CS_EBOUND) {
			print_error("%s gave %d (%s)\n", mutation_names[m], rc,
			    cs_strerror(rc));
			bad++;
		}
	}
	proto_enc_free(&w);
	assert_int_equal(bad, 0);
}

/* prev must be nil exactly at seq 1; a type name is never empty. */
static void test_commit_prev_shape(void **state)
{
	struct proto_enc w;
	(void)state;

	proto_enc_init(&w);
	pack_custom(&w, M_PREV_AT_SEQ1);
	assert_true(decode_err(&w) < 0);
	pack_custom(&w, M_NO_PREV_AT_SEQ2);
	assert_true(decode_err(&w) < 0);
	pack_custom(&w, M_TYPE_EMPTY);
	assert_true(decode_err(&w) < 0);
	proto_enc_free(&w);
}

/*
 * Field and base maps are canonical: a name appears once, names in
 * ascending byte order, so one op has one encoding and one meaning.
 */
static void build_two_fields(struct proto_enc *w, const char *k1,
    const char *k2, int in_base)
{
	proto_commit_begin(w, t_origin, 1, NULL, T_HLC0, 1);
	proto_op_begin(w, PROTO_OP_PUT, "site", t_id0, in_base ? 1 : 2,
	    in_base);
	if (in_base) {
		proto_pack_cstr(&w->pk, "name");
		proto_pack_cstr(&w->pk, "x");
		proto_op_base(w, 2);
		proto_pack_cstr(&w->pk, k1);
		msgpack_pack_uint64(&w->pk, T_HLC0);
		proto_pack_cstr(&w->pk, k2);
		msgpack_pack_uint64(&w->pk, T_HLC1);
	} else {
		proto_pack_cstr(&w->pk, k1);
		proto_pack_cstr(&w->pk, "x");
		proto_pack_cstr(&w->pk, k2);
		proto_pack_cstr(&w->pk, "y");
	}
}

static void test_commit_canonical_maps(void **state)
{
	struct proto_enc w;
	(void)state;

	proto_enc_init(&w);
	build_two_fields(&w, "county", "name", 0);
	assert_int_equal(decode_err(&w), 0);
	build_two_fields(&w, "name", "name", 0);
	assert_true(decode_err(&w) < 0);
	build_two_fields(&w, "name", "county", 0);
	assert_true(decode_err(&w) < 0);
	build_two_fields(&w, "county", "name", 1);
	assert_int_equal(decode_err(&w), 0);
	build_two_fields(&w, "name", "name", 1);
	assert_true(decode_err(&w) < 0);
	proto_enc_free(&w);
}

/*
 * A base value is a clock (uint) or the clocks the author had in view
 * (a non-empty array of uint, at most PROTO_MAX_ITEMS); nothing else.
 */
static void build_base(struct proto_enc *w, int shape)
{
	proto_commit_begin(w, t_origin, 1, NULL, T_HLC0, 1);
	proto_op_begin(w, PROTO_OP_PUT, "site", t_id0, 1, 1);
	proto_pack_cstr(&w->pk, "county");
	proto_pack_cstr(&w->pk, "Lane");
	proto_op_base(w, 1);
	proto_pack_cstr(&w->pk, "county");
	switch (shape) {
	case 0:		/* [uint, uint] */
		msgpack_pack_array(&w->pk, 2);
		msgpack_pack_uint64(&w->pk, T_HLC1);
		msgpack_pack_uint64(&w->pk, T_HLC2);
		break;
	case 1:		/* [] */
		msgpack_pack_array(&w->pk, 0);
		break;
	case 2:		/* [uint, str] */
		msgpack_pack_array(&w->pk, 2);
		msgpack_pack_uint64(&w->pk, T_HLC1);
		proto_pack_cstr(&w->pk, "x");
		break;
	case 3:		/* one item too many */
		msgpack_pack_array(&w->pk, PROTO_MAX_ITEMS + 1);
		for (int i = 0; i <= PROTO_MAX_ITEMS; i++)
			msgpack_pack_uint64(&w->pk, (uint64_t)i + 1);
		break;
	default:	/* negative */
		msgpack_pack_int64(&w->pk, -5);
		break;
	}
}

static void test_commit_base_clocks(void **state)
{
	struct proto_enc w;
	struct proto_commit c;
	const char *cause = NULL;
	const msgpack_object *b;
	uint8_t *d;
	(void)state;

	proto_enc_init(&w);
	build_base(&w, 0);
	d = dup_exact(w.sb.data, w.sb.size);
	memset(&c, 0, sizeof c);
	assert_int_equal(proto_commit_decode(&c, d, w.sb.size, &cause), 0);
	assert_int_equal(c.ops[0].nbase, 1);
	assert_true(str_is(&c.ops[0].base[0].key, "county"));
	b = &c.ops[0].base[0].val;
	assert_int_equal(b->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(b->via.array.size, 2);
	assert_true(b->via.array.ptr[0].via.u64 == T_HLC1);
	assert_true(b->via.array.ptr[1].via.u64 == T_HLC2);
	proto_commit_free(&c);
	free(d);
	for (int shape = 1; shape <= 4; shape++) {
		build_base(&w, shape);
		if (decode_err(&w) >= 0)
			fail_msg("base shape %d accepted", shape);
	}
	proto_enc_free(&w);
}

/* ---- bounds ----------------------------------------------------------- */

/* A commit of nops minimal delete ops. */
static void build_nops(struct proto_enc *w, uint32_t nops)
{
	proto_commit_begin(w, t_origin, 1, NULL, T_HLC0, nops);
	for (uint32_t i = 0; i < nops; i++)
		proto_op_begin(w, PROTO_OP_DEL, "site", t_id0, 0, 0);
}

static void test_bound_ops(void **state)
{
	struct proto_enc w;
	(void)state;

	proto_enc_init(&w);
	build_nops(&w, PROTO_MAX_OPS);
	assert_int_equal(decode_err(&w), 0);
	build_nops(&w, PROTO_MAX_OPS + 1);
	assert_int_equal(decode_err(&w), CS_EBOUND);
	proto_enc_free(&w);
}

/* One put op whose only field holds value (packed by the callback). */
static void build_one_field(struct proto_enc *w, const char *type,
    const char *fname, size_t fname_len, int bin, const char *val,
    size_t vlen)
{
	proto_commit_begin(w, t_origin, 1, NULL, T_HLC0, 1);
	proto_op_begin(w, PROTO_OP_PUT, type, t_id0, 1, 0);
	pack_strn(&w->pk, fname, fname_len);
	if (bin)
		pack_bin(&w->pk, val, vlen);
	else
		pack_strn(&w->pk, val, vlen);
}

/*
 * Names are lower_snake_case and nothing else: a field name with a NUL
 * inside ("site\0ABCD") once passed as the field "site" and let one commit
 * give a record unbounded phantom fields.
 */
static void test_names_charset(void **state)
{
	struct proto_enc w;
	(void)state;

	proto_enc_init(&w);
	build_one_field(&w, "site", "name", 4, 0, "x", 1);
	assert_int_equal(decode_err(&w), 0);
	build_one_field(&w, "site", "site\0ABCD", 9, 0, "x", 1);
	assert_int_equal(decode_err(&w), CS_EDECODE);
	build_one_field(&w, "site", "Name", 4, 0, "x", 1);
	assert_int_equal(decode_err(&w), CS_EDECODE);
	build_one_field(&w, "site", "na-me", 5, 0, "x", 1);
	assert_int_equal(decode_err(&w), CS_EDECODE);
	build_one_field(&w, "Site", "name", 4, 0, "x", 1);
	assert_int_equal(decode_err(&w), CS_EDECODE);
	proto_enc_free(&w);
}

/* hlc_tick never wraps, whatever clock it is handed. */
static void test_hlc_no_wrap(void **state)
{
	(void)state;
	assert_int_equal(hlc_tick(UINT64_MAX, 0), UINT64_MAX);
	assert_true(hlc_tick(UINT64_MAX - 1, 0) == UINT64_MAX);
}

static void test_bound_value(void **state)
{
	struct proto_enc w;
	char *big = repeat('v', PROTO_MAX_VALUE + 1);
	(void)state;

	proto_enc_init(&w);
	build_one_field(&w, "cafe", "harvest", 7, 0, big, PROTO_MAX_VALUE);
	assert_int_equal(decode_err(&w), 0);
	build_one_field(&w, "cafe", "harvest", 7, 0, big, PROTO_MAX_VALUE + 1);
	assert_int_equal(decode_err(&w), CS_EBOUND);
	build_one_field(&w, "cafe", "harvest", 7, 1, big, PROTO_MAX_VALUE);
	assert_int_equal(decode_err(&w), 0);
	build_one_field(&w, "cafe", "harvest", 7, 1, big, PROTO_MAX_VALUE + 1);
	assert_int_equal(decode_err(&w), CS_EBOUND);
	free(big);
	proto_enc_free(&w);
}

static void test_bound_names(void **state)
{
	struct proto_enc w;
	char *name = repeat('t', PROTO_MAX_NAME + 1);
	int rc_field, rc_base;
	(void)state;

	proto_enc_init(&w);
	/* type name: exactly the maximum, then one more */
	name[PROTO_MAX_NAME] = '\0';
	build_one_field(&w, name, "name", 4, 0, "x", 1);
	assert_int_equal(decode_err(&w), 0);
	name[PROTO_MAX_NAME] = 't';
	build_one_field(&w, name, "name", 4, 0, "x", 1);
	assert_int_equal(decode_err(&w), CS_EBOUND);
	/* field name, and a base name */
	build_one_field(&w, "site", name, PROTO_MAX_NAME, 0, "x", 1);
	assert_int_equal(decode_err(&w), 0);
	build_one_field(&w, "site", name, PROTO_MAX_NAME + 1, 0, "x", 1);
	rc_field = decode_err(&w);
	proto_commit_begin(&w, t_origin, 1, NULL, T_HLC0, 1);
	proto_op_begin(&w, PROTO_OP_PUT, "site", t_id0, 1, 1);
	proto_pack_cstr(&w.pk, "name");
	proto_pack_cstr(&w.pk, "x");
	proto_op_base(&w, 1);
	pack_strn(&w.pk, name, PROTO_MAX_NAME + 1);
	msgpack_pack_uint64(&w.pk, T_HLC0);
	rc_base = decode_err(&w);
	free(name);
	proto_enc_free(&w);
	/* A name over the bound is a bound error, as for the type name. */
	assert_int_equal(rc_field, CS_EBOUND);
	assert_int_equal(rc_base, CS_EBOUND);
}

static void build_nfields(struct proto_enc *w, uint32_t n)
{
	char key[16];

	proto_commit_begin(w, t_origin, 1, NULL, T_HLC0, 1);
	proto_op_begin(w, PROTO_OP_PUT, "site", t_id0, n, 0);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, "f%03u", (unsigned)i);
		proto_pack_cstr(&w->pk, key);
		msgpack_pack_uint64(&w->pk, i);
	}
}

static void build_nitems(struct proto_enc *w, uint32_t n)
{
	proto_commit_begin(w, t_origin, 1, NULL, T_HLC0, 1);
	proto_op_begin(w, PROTO_OP_PUT, "site", t_id0, 1, 0);
	proto_pack_cstr(&w->pk, "languages");
	msgpack_pack_array(&w->pk, n);
	for (uint32_t i = 0; i < n; i++)
		proto_pack_cstr(&w->pk, "en");
}

static void test_bound_fields_items(void **state)
{
	struct proto_enc w;
	(void)state;

	proto_enc_init(&w);
	build_nfields(&w, PROTO_MAX_FIELDS);
	assert_int_equal(decode_err(&w), 0);
	build_nfields(&w, PROTO_MAX_FIELDS + 1);
	assert_int_equal(decode_err(&w), CS_EBOUND);
	build_nitems(&w, PROTO_MAX_ITEMS);
	assert_int_equal(decode_err(&w), 0);
	build_nitems(&w, PROTO_MAX_ITEMS + 1);
	assert_int_equal(decode_err(&w), CS_EBOUND);
	proto_enc_free(&w);
}

static void test_bound_commit_size(void **state)
{
	struct proto_enc w;
	char *val = repeat('h', PROTO_MAX_VALUE);
	const uint32_t nops = PROTO_MAX_COMMIT / PROTO_MAX_VALUE + 2;
	(void)state;

	/* Every op and value within bounds, the whole over PROTO_MAX_COMMIT. */
	proto_enc_init(&w);
	proto_commit_begin(&w, t_origin, 1, NULL, T_HLC0, nops);
	for (uint32_t i = 0; i < nops; i++) {
		proto_op_begin(&w, PROTO_OP_PUT, "cafe", t_id0, 1, 0);
		proto_pack_cstr(&w.pk, "harvest");
		pack_strn(&w.pk, val, PROTO_MAX_VALUE);
	}
	assert_true(w.sb.size > PROTO_MAX_COMMIT);
	assert_int_equal(decode_err(&w), CS_EBOUND);
	free(val);
	proto_enc_free(&w);
}

/* ---- proto_mp_check --------------------------------------------------- */

static int mp_check_exact(const void *p, size_t len, unsigned depth)
{
	uint8_t *d = dup_exact(p, len);
	const char *cause = NULL;
	int rc = proto_mp_check(d, len, depth, &cause);

	if (rc < 0) {
		assert_non_null(cause);
		assert_true(strlen(cause) > 0);
	}
	free(d);
	return rc;
}

static void test_mp_check_huge_counts(void **state)
{
	static const uint8_t arr32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t map32[] = { 0xdf, 0xff, 0xff, 0xff, 0xff };
	static const uint8_t nested[] = { 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff,
		0xc0 };
	static const uint8_t bin32[] = { 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00 };
	static const uint8_t str32[] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 0x41 };
	static const uint8_t arr16[] = { 0xdc, 0xff, 0xff, 0xc0, 0xc0 };
	struct proto_commit c;
	const char *cause = NULL;
	uint8_t *d;
	(void)state;

	/* Under ASan an allocation for 2^32-1 objects would abort the run. */
	assert_true(mp_check_exact(arr32, sizeof arr32, 8) < 0);
	assert_true(mp_check_exact(map32, sizeof map32, 8) < 0);
	assert_true(mp_check_exact(nested, sizeof nested, 8) < 0);
	assert_true(mp_check_exact(bin32, sizeof bin32, 8) < 0);
	assert_true(mp_check_exact(str32, sizeof str32, 8) < 0);
	assert_true(mp_check_exact(arr16, sizeof arr16, 8) < 0);

	/* The commit decoder refuses it too. */
	d = dup_exact(arr32, sizeof arr32);
	memset(&c, 0, sizeof c);
	assert_true(proto_commit_decode(&c, d, sizeof arr32, &cause) < 0);
	free(d);
	d = dup_exact(nested, sizeof nested);
	memset(&c, 0, sizeof c);
	assert_true(proto_commit_decode(&c, d, sizeof nested, &cause) < 0);
	free(d);
}

static void test_mp_check_basics(void **state)
{
	static const uint8_t ok[] = { 0x92, 0x01, 0xa1, 'x' };
	static const uint8_t trailing[] = { 0x92, 0x01, 0xa1, 'x', 0xc0 };
	static const uint8_t cut[] = { 0x92, 0x01, 0xa2, 'x' };
	static const uint8_t ext[] = { 0x91, 0xd4, 0x01, 0x00 };
	static const uint8_t reserved[] = { 0xc1 };
	struct proto_enc w;
	(void)state;

	assert_int_equal(mp_check_exact(ok, sizeof ok, 8), 0);
	assert_true(mp_check_exact(trailing, sizeof trailing, 8) < 0);
	assert_true(mp_check_exact(cut, sizeof cut, 8) < 0);
	assert_true(mp_check_exact(ext, sizeof ext, 8) < 0);
	assert_true(mp_check_exact(reserved, sizeof reserved, 8) < 0);
	assert_true(mp_check_exact(ok, 0, 8) < 0);

	/* A valid commit passes at PROTO_MAX_DEPTH and every prefix fails. */
	proto_enc_init(&w);
	build_valid(&w, 2, t_prev, T_HLC0);
	assert_int_equal(mp_check_exact(w.sb.data, w.sb.size,
	    PROTO_MAX_DEPTH), 0);
	for (size_t len = 0; len < w.sb.size; len++)
		assert_true(mp_check_exact(w.sb.data, len, PROTO_MAX_DEPTH) < 0);
	proto_enc_free(&w);
}

/* n nested one-element arrays around a nil. */
static uint8_t *nested_arrays(size_t n, size_t *len)
{
	uint8_t *b = malloc(n + 1);
	assert_non_null(b);
	memset(b, 0x91, n);
	b[n] = 0xc0;
	*len = n + 1;
	return b;
}

static void test_mp_check_depth(void **state)
{
	size_t len;
	uint8_t *b;
	(void)state;

	b = nested_arrays(PROTO_MAX_DEPTH, &len);
	assert_int_equal(proto_mp_check(b, len, PROTO_MAX_DEPTH, NULL), 0);
	free(b);
	b = nested_arrays(PROTO_MAX_DEPTH + 1, &len);
	assert_true(proto_mp_check(b, len, PROTO_MAX_DEPTH, NULL) < 0);
	free(b);
	/* Very deep input: refused without running out of stack. */
	b = nested_arrays(200000, &len);
	assert_true(proto_mp_check(b, len, PROTO_MAX_DEPTH, NULL) < 0);
	free(b);
	/* Nested maps count too. */
	{
		uint8_t m[2 * (PROTO_MAX_DEPTH + 1) + 1];
		size_t k = 0;
		for (int i = 0; i < PROTO_MAX_DEPTH + 1; i++) {
			m[k++] = 0x81;	/* map of 1 */
			m[k++] = 0x00;	/* key 0 */
		}
		m[k++] = 0xc0;
		assert_true(mp_check_exact(m, k, PROTO_MAX_DEPTH) < 0);
	}
}

/* A field value nested deeper than PROTO_MAX_DEPTH allows in a commit. */
static void test_commit_depth(void **state)
{
	struct proto_enc w;
	struct proto_commit c;
	const char *cause = NULL;
	uint8_t *d;
	(void)state;

	proto_enc_init(&w);
	proto_commit_begin(&w, t_origin, 1, NULL, T_HLC0, 1);
	proto_op_begin(&w, PROTO_OP_PUT, "site", t_id0, 1, 0);
	proto_pack_cstr(&w.pk, "languages");
	for (int i = 0; i < PROTO_MAX_DEPTH + 2; i++)
		msgpack_pack_array(&w.pk, 1);
	msgpack_pack_nil(&w.pk);
	d = dup_exact(w.sb.data, w.sb.size);
	memset(&c, 0, sizeof c);
	assert_true(proto_commit_decode(&c, d, w.sb.size, &cause) < 0);
	assert_non_null(cause);
	free(d);
	proto_enc_free(&w);
}

/* ---- signatures and hash --------------------------------------------- */

static void test_sign_verify(void **state)
{
	uint8_t pk[PROTO_KEY_LEN], sk[PROTO_SK_LEN];
	uint8_t pk2[PROTO_KEY_LEN], sk2[PROTO_SK_LEN];
	uint8_t net[PROTO_KEY_LEN], net2[PROTO_KEY_LEN];
	uint8_t sig[PROTO_SIG_LEN], sig2[PROTO_SIG_LEN];
	struct proto_enc w;
	uint8_t *e;
	size_t len;
	(void)state;

	crypto_sign_keypair(pk, sk);
	crypto_sign_keypair(pk2, sk2);
	randombytes_buf(net, sizeof net);
	memcpy(net2, net, sizeof net2);
	net2[31] ^= 1;

	proto_enc_init(&w);
	build_valid(&w, 1, NULL, T_HLC0);
	len = w.sb.size;
	e = dup_exact(w.sb.data, len);
	proto_sign(sig, e, len, net, sk);
	assert_int_equal(proto_verify(sig, e, len, net, pk), 0);

	/* Every single bit of E matters. */
	for (size_t i = 0; i < len; i++) {
		e[i] ^= 0x01;
		assert_int_equal(proto_verify(sig, e, len, net, pk), CS_ESIG);
		e[i] ^= 0x01;
	}
	e[len / 2] ^= 0x80;
	assert_int_equal(proto_verify(sig, e, len, net, pk), CS_ESIG);
	e[len / 2] ^= 0x80;
	/* and of the signature */
	for (size_t i = 0; i < PROTO_SIG_LEN; i += 7) {
		sig[i] ^= 0x04;
		assert_int_equal(proto_verify(sig, e, len, net, pk), CS_ESIG);
		sig[i] ^= 0x04;
	}
	/* One byte less of E. */
	assert_int_equal(proto_verify(sig, e, len - 1, net, pk), CS_ESIG);
	/* Another network, another key. */
	assert_int_equal(proto_verify(sig, e, len, net2, pk), CS_ESIG);
	assert_int_equal(proto_verify(sig, e, len, net, pk2), CS_ESIG);
	/* Signed by another key, checked against the first. */
	proto_sign(sig2, e, len, net, sk2);
	assert_int_equal(proto_verify(sig2, e, len, net, pk), CS_ESIG);
	assert_int_equal(proto_verify(sig2, e, len, net, pk2), 0);
	/* Still good after all that. */
	assert_int_equal(proto_verify(sig, e, len, net, pk), 0);

	free(e);
	proto_enc_free(&w);
}

/* The signature is ed25519 over "cafesync-commit-v1" || network || E. */
static void test_sign_domain(void **state)
{
	uint8_t pk[PROTO_KEY_LEN], sk[PROTO_SK_LEN];
	uint8_t net[PROTO_KEY_LEN];
	uint8_t sig[PROTO_SIG_LEN];
	struct proto_enc w;
	uint8_t *msg;
	size_t dlen = strlen(PROTO_SIG_DOMAIN), mlen;
	(void)state;

	assert_string_equal(PROTO_SIG_DOMAIN, "cafesync-commit-v1");
	crypto_sign_keypair(pk, sk);
	randombytes_buf(net, sizeof net);
	proto_enc_init(&w);
	build_valid(&w, 1, NULL, T_HLC0);
	proto_sign(sig, (const uint8_t *)w.sb.data, w.sb.size, net, sk);

	mlen = dlen + PROTO_KEY_LEN + w.sb.size;
	msg = malloc(mlen);
	assert_non_null(msg);
	memcpy(msg, PROTO_SIG_DOMAIN, dlen);
	memcpy(msg + dlen, net, PROTO_KEY_LEN);
	memcpy(msg + dlen + PROTO_KEY_LEN, w.sb.data, w.sb.size);
	assert_int_equal(crypto_sign_verify_detached(sig, msg, mlen, pk), 0);
	/* A signature over bare E (no domain, no network) is refused. */
	{
		uint8_t bare[PROTO_SIG_LEN];
		crypto_sign_detached(bare, NULL, (const uint8_t *)w.sb.data,
		    w.sb.size, sk);
		assert_int_equal(proto_verify(bare, (const uint8_t *)w.sb.data,
		    w.sb.size, net, pk), CS_ESIG);
	}
	free(msg);
	proto_enc_free(&w);
}

static void test_hash(void **state)
{
	uint8_t sig[PROTO_SIG_LEN], h1[PROTO_HASH_LEN], h2[PROTO_HASH_LEN];
	uint8_t ref[PROTO_HASH_LEN];
	struct proto_enc w;
	uint8_t *e, *cat;
	size_t len;
	(void)state;

	randombytes_buf(sig, sizeof sig);
	proto_enc_init(&w);
	build_valid(&w, 1, NULL, T_HLC0);
	len = w.sb.size;
	e = dup_exact(w.sb.data, len);
	proto_hash(h1, e, len, sig);
	proto_hash(h2, e, len, sig);
	assert_memory_equal(h1, h2, PROTO_HASH_LEN);

	/* BLAKE2b-256 over E || sig. */
	cat = malloc(len + PROTO_SIG_LEN);
	assert_non_null(cat);
	memcpy(cat, e, len);
	memcpy(cat + len, sig, PROTO_SIG_LEN);
	crypto_generichash(ref, sizeof ref, cat, len + PROTO_SIG_LEN, NULL, 0);
	assert_memory_equal(h1, ref, PROTO_HASH_LEN);
	free(cat);

	for (size_t i = 0; i < len; i++) {
		e[i] ^= 0x20;
		proto_hash(h2, e, len, sig);
		assert_memory_not_equal(h1, h2, PROTO_HASH_LEN);
		e[i] ^= 0x20;
	}
	sig[63] ^= 1;
	proto_hash(h2, e, len, sig);
	assert_memory_not_equal(h1, h2, PROTO_HASH_LEN);
	free(e);
	proto_enc_free(&w);
}

/* ---- clock and ids ---------------------------------------------------- */

static void test_hlc(void **state)
{
	const uint64_t t0 = UINT64_C(1700000000000);
	uint64_t h, prev;
	(void)state;

	assert_true(HLC_MS((t0 << 16) | 0x1234) == t0);
	assert_true(HLC_MS(UINT64_C(0xffff)) == 0);

	h = hlc_tick(0, t0);
	assert_true(HLC_MS(h) == t0);
	/* Same millisecond: strictly greater, same ms. */
	prev = h;
	h = hlc_tick(prev, t0);
	assert_true(h > prev);
	assert_true(HLC_MS(h) == t0);
	/* Wall clock ahead: takes the wall clock. */
	h = hlc_tick(h, t0 + 5000);
	assert_true(HLC_MS(h) == t0 + 5000);

	/* Wall clock going backwards, for many ticks. */
	prev = h;
	for (uint64_t i = 0; i < 20000; i++) {
		uint64_t wall = t0 + 4000 - i / 10;
		h = hlc_tick(prev, wall);
		if (h <= prev)
			fail_msg("tick %" PRIu64 " went from %" PRIx64 " to %"
			    PRIx64, i, prev, h);
		prev = h;
	}
	assert_true(HLC_MS(h) >= t0 + 5000);

	/* The 16-bit counter full: still strictly greater. */
	prev = (t0 << 16) | 0xffff;
	h = hlc_tick(prev, t0);
	assert_true(h > prev);
	h = hlc_tick(prev, t0 - 100);
	assert_true(h > prev);

	/* merge takes the larger. */
	assert_true(hlc_merge(10, 20) == 20);
	assert_true(hlc_merge(20, 10) == 20);
	assert_true(hlc_merge(T_HLC1, T_HLC0) == T_HLC1);
	assert_true(hlc_merge(T_HLC0, T_HLC2) == T_HLC2);
	assert_true(hlc_merge(T_HLC1, T_HLC1) == T_HLC1);
	/* A tick after a merge is after what was seen. */
	h = hlc_tick(hlc_merge(hlc_tick(0, t0), T_HLC2), t0);
	assert_true(h > T_HLC2);
}

static void test_id_new(void **state)
{
	/* A ms value (year 2074) later than any other call in this run. */
	const uint64_t ms = UINT64_C(0x030000012345);
	uint8_t prev[PROTO_ID_LEN], id[PROTO_ID_LEN], tagkey[PROTO_KEY_LEN];
	uint8_t mid[PROTO_ID_LEN];
	uint64_t got = 0;
	(void)state;

	for (int i = 0; i < PROTO_KEY_LEN; i++)
		tagkey[i] = (uint8_t)(0xa0 + i);
	proto_id_new(prev, ms, tagkey);
	/* The owner tag: the key's first bytes after the time. */
	assert_memory_equal(prev + PROTO_ID_TAG_OFF, tagkey, PROTO_ID_TAG_LEN);
	assert_true(proto_id_owned(prev, tagkey));
	tagkey[0] ^= 1;
	assert_false(proto_id_owned(prev, tagkey));
	tagkey[0] ^= 1;
	assert_false(proto_id_reserved(prev));
	proto_member_id(mid, tagkey);
	assert_true(proto_id_reserved(mid));
	assert_memory_equal(mid + 6, tagkey, PROTO_ID_LEN - 6);
	for (int i = 0; i < 6; i++)
		got = (got << 8) | prev[i];
	assert_true(got == ms);

	for (int i = 0; i < 10000; i++) {
		proto_id_new(id, ms, tagkey);
		if (memcmp(id, prev, PROTO_ID_LEN) <= 0)
			fail_msg("id %d not greater than the one before", i);
		memcpy(prev, id, PROTO_ID_LEN);
	}
	/* The clock stepping back does not break the order. */
	for (int i = 0; i < 1000; i++) {
		proto_id_new(id, ms - 1000 + (uint64_t)i, tagkey);
		assert_true(memcmp(id, prev, PROTO_ID_LEN) > 0);
		memcpy(prev, id, PROTO_ID_LEN);
	}
	/* A later ms starts from that ms. */
	proto_id_new(id, ms + 10, tagkey);
	got = 0;
	for (int i = 0; i < 6; i++)
		got = (got << 8) | id[i];
	assert_true(got == ms + 10);
	assert_true(memcmp(id, prev, PROTO_ID_LEN) > 0);
}

static void test_hex(void **state)
{
	uint8_t in[PROTO_KEY_LEN], out[PROTO_KEY_LEN];
	char hex[2 * PROTO_KEY_LEN + 1];
	static const uint8_t small[4] = { 0x00, 0x01, 0xab, 0xff };
	(void)state;

	proto_hex(hex, small, sizeof small);
	assert_int_equal(strlen(hex), 8);
	assert_int_equal(strcasecmp(hex, "0001abff"), 0);
	assert_int_equal(proto_unhex(out, 4, "0001abff"), 0);
	assert_memory_equal(out, small, 4);

	for (int r = 0; r < 50; r++) {
		randombytes_buf(in, sizeof in);
		memset(hex, 'z', sizeof hex);
		proto_hex(hex, in, sizeof in);
		assert_int_equal(strlen(hex), 2 * PROTO_KEY_LEN);
		memset(out, 0, sizeof out);
		assert_int_equal(proto_unhex(out, sizeof out, hex), 0);
		assert_memory_equal(out, in, sizeof in);
	}
	proto_hex(hex, in, 0);
	assert_string_equal(hex, "");

	assert_int_equal(proto_unhex(out, 4, "0001abfg"), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 4, "0001ab"), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 4, "0001abf"), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 4, "0001abff0"), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 4, "0001abff00"), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 4, "0x01abff"), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 4, " 001abff"), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 4, "0001ab-f"), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 1, ""), CS_EUSAGE);
	assert_int_equal(proto_unhex(out, 1, "g0"), CS_EUSAGE);
}

/* ---- bundles ---------------------------------------------------------- */

static void test_bundle_roundtrip(void **state)
{
	uint8_t net[PROTO_KEY_LEN], got[PROTO_KEY_LEN];
	uint8_t sig1[PROTO_SIG_LEN], sig2[PROTO_SIG_LEN];
	struct proto_enc c1, c2, b;
	const uint8_t *e, *sig;
	size_t elen, off, total;
	const char *cause = NULL;
	uint8_t *buf;
	int rc;
	(void)state;

	randombytes_buf(net, sizeof net);
	randombytes_buf(sig1, sizeof sig1);
	randombytes_buf(sig2, sizeof sig2);
	proto_enc_init(&c1);
	proto_enc_init(&c2);
	proto_enc_init(&b);
	build_valid(&c1, 1, NULL, T_HLC0);
	build_valid(&c2, 2, t_prev, T_HLC1);

	proto_bundle_header(&b, net);
	proto_bundle_item(&b, (const uint8_t *)c1.sb.data, c1.sb.size, sig1);
	proto_bundle_item(&b, (const uint8_t *)c2.sb.data, c2.sb.size, sig2);
	total = b.sb.size;
	buf = dup_exact(b.sb.data, total);

	rc = proto_bundle_parse_header(buf, total, got, &cause);
	assert_true(rc > 0);
	assert_true(rc <= PROTO_BUNDLE_MAX_HEADER);
	assert_memory_equal(got, net, PROTO_KEY_LEN);
	off = (size_t)rc;

	rc = proto_bundle_parse_item(buf + off, total - off, &e, &elen, &sig,
	    &cause);
	assert_true(rc > 0);
	assert_int_equal(elen, c1.sb.size);
	assert_true(e >= buf + off && e + elen <= buf + total);
	assert_memory_equal(e, c1.sb.data, elen);
	assert_true(sig >= buf + off && sig + PROTO_SIG_LEN <= buf + total);
	assert_memory_equal(sig, sig1, PROTO_SIG_LEN);
	off += (size_t)rc;

	rc = proto_bundle_parse_item(buf + off, total - off, &e, &elen, &sig,
	    &cause);
	assert_true(rc > 0);
	assert_int_equal(elen, c2.sb.size);
	assert_memory_equal(e, c2.sb.data, elen);
	assert_memory_equal(sig, sig2, PROTO_SIG_LEN);
	off += (size_t)rc;
	assert_int_equal(off, total);

	/* The documented layout: the header is a map, an item [bin, bin]. */
	{
		msgpack_unpacked up;
		size_t o = 0;
		msgpack_unpacked_init(&up);
		assert_int_equal(msgpack_unpack_next(&up, (const char *)buf,
		    total, &o), MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(up.data.type, MSGPACK_OBJECT_MAP);
		assert_int_equal(msgpack_unpack_next(&up, (const char *)buf,
		    total, &o), MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
		assert_int_equal(up.data.via.array.size, 2);
		assert_int_equal(up.data.via.array.ptr[0].type,
		    MSGPACK_OBJECT_BIN);
		assert_int_equal(up.data.via.array.ptr[1].via.bin.size,
		    PROTO_SIG_LEN);
		msgpack_unpacked_destroy(&up);
	}

	free(buf);
	proto_enc_free(&c1);
	proto_enc_free(&c2);
	proto_enc_free(&b);
}

static void test_bundle_prefixes(void **state)
{
	uint8_t net[PROTO_KEY_LEN], got[PROTO_KEY_LEN], sig[PROTO_SIG_LEN];
	struct proto_enc c, h, it;
	const uint8_t *e, *s;
	size_t elen;
	const char *cause;
	(void)state;

	randombytes_buf(net, sizeof net);
	randombytes_buf(sig, sizeof sig);
	proto_enc_init(&c);
	proto_enc_init(&h);
	proto_enc_init(&it);
	build_valid(&c, 2, t_prev, T_HLC0);
	proto_bundle_header(&h, net);
	proto_bundle_item(&it, (const uint8_t *)c.sb.data, c.sb.size, sig);

	for (size_t len = 0; len < h.sb.size; len++) {
		uint8_t *d = dup_exact(h.sb.data, len);
		cause = NULL;
		int rc = proto_bundle_parse_header(d, len, got, &cause);
		free(d);
		if (rc != 0)
			fail_msg("header prefix of %zu bytes gave %d", len, rc);
	}
	for (size_t len = 0; len < it.sb.size; len++) {
		uint8_t *d = dup_exact(it.sb.data, len);
		cause = NULL;
		int rc = proto_bundle_parse_item(d, len, &e, &elen, &s,
		    &cause);
		free(d);
		if (rc != 0)
			fail_msg("item prefix of %zu bytes gave %d", len, rc);
	}
	{
		uint8_t *d = dup_exact(it.sb.data, it.sb.size);
		assert_int_equal(proto_bundle_parse_item(d, it.sb.size, &e,
		    &elen, &s, &cause), (int)it.sb.size);
		free(d);
	}
	proto_enc_free(&c);
	proto_enc_free(&h);
	proto_enc_free(&it);
}

/* A header map with the given pieces, built by hand. */
static void hand_header(struct proto_enc *w, const char *format,
    uint64_t version, size_t netlen, int extra)
{
	uint8_t net[40];

	memset(net, 0x5a, sizeof net);
	proto_enc_reset(w);
	msgpack_pack_map(&w->pk, 3 + (extra ? 1 : 0));
	proto_pack_cstr(&w->pk, "format");
	proto_pack_cstr(&w->pk, format);
	proto_pack_cstr(&w->pk, "version");
	msgpack_pack_uint64(&w->pk, version);
	proto_pack_cstr(&w->pk, "network");
	pack_bin(&w->pk, net, netlen);
	if (extra) {
		proto_pack_cstr(&w->pk, "format");
		proto_pack_cstr(&w->pk, format);
	}
}

static int parse_header_exact(const struct proto_enc *w)
{
	uint8_t got[PROTO_KEY_LEN];
	uint8_t *d = dup_exact(w->sb.data, w->sb.size);
	const char *cause = NULL;
	int rc = proto_bundle_parse_header(d, w->sb.size, got, &cause);

	if (rc < 0)
		assert_non_null(cause);
	free(d);
	return rc;
}

static void test_bundle_bad_header(void **state)
{
	struct proto_enc w;
	static const uint8_t garbage[] = { 0x92, 0x01, 0x02 };
	(void)state;

	proto_enc_init(&w);
	hand_header(&w, "cafesync-bundle", 1, PROTO_KEY_LEN, 0);
	assert_int_equal(parse_header_exact(&w), (int)w.sb.size);
	hand_header(&w, "cafesync-bundlf", 1, PROTO_KEY_LEN, 0);
	assert_true(parse_header_exact(&w) < 0);
	hand_header(&w, "cafesync-bundle-x", 1, PROTO_KEY_LEN, 0);
	assert_true(parse_header_exact(&w) < 0);
	hand_header(&w, "", 1, PROTO_KEY_LEN, 0);
	assert_true(parse_header_exact(&w) < 0);
	hand_header(&w, "cafesync-bundle", 2, PROTO_KEY_LEN, 0);
	assert_true(parse_header_exact(&w) < 0);
	hand_header(&w, "cafesync-bundle", 0, PROTO_KEY_LEN, 0);
	assert_true(parse_header_exact(&w) < 0);
	hand_header(&w, "cafesync-bundle", 1, 31, 0);
	assert_true(parse_header_exact(&w) < 0);
	hand_header(&w, "cafesync-bundle", 1, 33, 0);
	assert_true(parse_header_exact(&w) < 0);
	/* Not a map at all. */
	proto_enc_reset(&w);
	msgpack_sbuffer_write(&w.sb, (const char *)garbage, sizeof garbage);
	assert_true(parse_header_exact(&w) < 0);
	/* A map without the network. */
	proto_enc_reset(&w);
	msgpack_pack_map(&w.pk, 2);
	proto_pack_cstr(&w.pk, "format");
	proto_pack_cstr(&w.pk, "cafesync-bundle");
	proto_pack_cstr(&w.pk, "version");
	msgpack_pack_uint64(&w.pk, 1);
	assert_true(parse_header_exact(&w) < 0);
	/* An oversized header is an error, not a request for more bytes. */
	{
		char *big = repeat('x', PROTO_BUNDLE_MAX_HEADER * 2);
		proto_enc_reset(&w);
		msgpack_pack_map(&w.pk, 3);
		proto_pack_cstr(&w.pk, "format");
		proto_pack_cstr(&w.pk, big);
		assert_true(parse_header_exact(&w) < 0);
		free(big);
	}
	proto_enc_free(&w);
}

static int parse_item_exact(const struct proto_enc *w)
{
	uint8_t *d = dup_exact(w->sb.data, w->sb.size);
	const uint8_t *e, *s;
	size_t elen;
	const char *cause = NULL;
	int rc = proto_bundle_parse_item(d, w->sb.size, &e, &elen, &s, &cause);

	if (rc < 0)
		assert_non_null(cause);
	free(d);
	return rc;
}

static void test_bundle_bad_item(void **state)
{
	uint8_t sig[PROTO_SIG_LEN + 1];
	struct proto_enc c, w;
	(void)state;

	memset(sig, 0x33, sizeof sig);
	proto_enc_init(&c);
	proto_enc_init(&w);
	build_valid(&c, 1, NULL, T_HLC0);

	/* By hand, the good shape first. */
	msgpack_pack_array(&w.pk, 2);
	pack_bin(&w.pk, c.sb.data, c.sb.size);
	pack_bin(&w.pk, sig, PROTO_SIG_LEN);
	assert_int_equal(parse_item_exact(&w), (int)w.sb.size);

	/* sig of 63 and of 65 bytes */
	proto_enc_reset(&w);
	msgpack_pack_array(&w.pk, 2);
	pack_bin(&w.pk, c.sb.data, c.sb.size);
	pack_bin(&w.pk, sig, PROTO_SIG_LEN - 1);
	assert_true(parse_item_exact(&w) < 0);
	proto_enc_reset(&w);
	msgpack_pack_array(&w.pk, 2);
	pack_bin(&w.pk, c.sb.data, c.sb.size);
	pack_bin(&w.pk, sig, PROTO_SIG_LEN + 1);
	assert_true(parse_item_exact(&w) < 0);
	/* E as str */
	proto_enc_reset(&w);
	msgpack_pack_array(&w.pk, 2);
	pack_strn(&w.pk, c.sb.data, c.sb.size);
	pack_bin(&w.pk, sig, PROTO_SIG_LEN);
	assert_true(parse_item_exact(&w) < 0);
	/* three elements; one element; not an array */
	proto_enc_reset(&w);
	msgpack_pack_array(&w.pk, 3);
	pack_bin(&w.pk, c.sb.data, c.sb.size);
	pack_bin(&w.pk, sig, PROTO_SIG_LEN);
	msgpack_pack_nil(&w.pk);
	assert_true(parse_item_exact(&w) < 0);
	proto_enc_reset(&w);
	msgpack_pack_array(&w.pk, 1);
	pack_bin(&w.pk, c.sb.data, c.sb.size);
	assert_true(parse_item_exact(&w) < 0);
	proto_enc_reset(&w);
	pack_bin(&w.pk, c.sb.data, c.sb.size);
	assert_true(parse_item_exact(&w) < 0);
	/* An item declaring an E far over the bound is refused at once,
	 * not answered with "need more" until the input runs out. */
	{
		static const uint8_t huge[] = { 0x92, 0xc6, 0x7f, 0xff, 0xff,
			0xff, 0x00 };
		proto_enc_reset(&w);
		msgpack_sbuffer_write(&w.sb, (const char *)huge, sizeof huge);
		assert_true(parse_item_exact(&w) < 0);
	}
	proto_enc_free(&c);
	proto_enc_free(&w);
}

/* ---- errors ----------------------------------------------------------- */

static void test_strerror(void **state)
{
	const char *names[19];
	(void)state;

	for (int code = 0; code >= -18; code--) {
		const char *s = cs_strerror(code);
		assert_non_null(s);
		assert_true(strlen(s) > 0);
		names[-code] = s;
	}
	for (int i = 0; i < 19; i++)
		for (int j = i + 1; j < 19; j++)
			if (strcmp(names[i], names[j]) == 0)
				fail_msg("codes %d and %d share the name %s",
				    -i, -j, names[i]);
	assert_non_null(cs_strerror(-999));
	assert_non_null(cs_strerror(5));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_commit_roundtrip_seq1),
		cmocka_unit_test(test_commit_roundtrip_prev),
		cmocka_unit_test(test_commit_layout),
		cmocka_unit_test(test_commit_every_truncation),
		cmocka_unit_test(test_commit_trailing_byte),
		cmocka_unit_test(test_commit_hand_built_baseline),
		cmocka_unit_test(test_commit_wrong_types),
		cmocka_unit_test(test_commit_prev_shape),
		cmocka_unit_test(test_commit_canonical_maps),
		cmocka_unit_test(test_commit_base_clocks),
		cmocka_unit_test(test_bound_ops),
		cmocka_unit_test(test_bound_value),
		cmocka_unit_test(test_bound_names),
		cmocka_unit_test(test_names_charset),
		cmocka_unit_test(test_hlc_no_wrap),
		cmocka_unit_test(test_bound_fields_items),
		cmocka_unit_test(test_bound_commit_size),
		cmocka_unit_test(test_mp_check_huge_counts),
		cmocka_unit_test(test_mp_check_basics),
		cmocka_unit_test(test_mp_check_depth),
		cmocka_unit_test(test_commit_depth),
		cmocka_unit_test(test_sign_verify),
		cmocka_unit_test(test_sign_domain),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_hlc),
		cmocka_unit_test(test_id_new),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_bundle_roundtrip),
		cmocka_unit_test(test_bundle_prefixes),
		cmocka_unit_test(test_bundle_bad_header),
		cmocka_unit_test(test_bundle_bad_item),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests_name("codec", tests, setup_group, NULL);
}
