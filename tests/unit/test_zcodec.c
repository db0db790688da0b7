/*
 * test_zcodec.c: unit tests of the COMMITS compression (proto/zcodec.c)
 * with the schema's dictionary (storage/zdict.c).
 *
 * Round trips over random batches (1 to 6 origins, 1 to 400 items, the
 * origins grouped, interleaved or shuffled), one frame per origin run, a
 * run's frame the same whatever other origins share its batch, and
 * hostile ZCOMMITS: every truncation, a wrong or absent dictionary, a
 * frame without its size, a frame that claims more than a batch may
 * hold, a frame that decompresses to other than it claims, items cut
 * across frames; and HEADS' offer of dictionaries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <msgpack.h>
#include <sodium.h>
#include <zstd.h>

#include "proto/wire.h"
#include "proto/zcodec.h"
#include "storage/storage.h"

#define MAXO 6

static uint8_t origins[MAXO][PROTO_KEY_LEN];

/* Packs one single-op café commit of origin o at seq into w. */
static void
make_commit(struct proto_enc *w, unsigned o, uint64_t seq)
{
	uint8_t id[16], prev[PROTO_HASH_LEN];
	char name[40];

	randombytes_buf(id, sizeof(id));
	randombytes_buf(prev, sizeof(prev));
	proto_commit_begin(w, origins[o], seq, seq == 1 ? NULL : prev,
	    (UINT64_C(1700000000000) + seq) << 16, 1);
	proto_op_begin(w, PROTO_OP_PUT, "cafe", id, 3, 0);
	proto_pack_cstr(&w->pk, "attendance");
	msgpack_pack_uint64(&w->pk, randombytes_uniform(40));
	proto_pack_cstr(&w->pk, "date");
	proto_pack_cstr(&w->pk, "2026-03-14");
	snprintf(name, sizeof(name), "cafe %u", randombytes_uniform(100000));
	proto_pack_cstr(&w->pk, "title");
	proto_pack_cstr(&w->pk, name);
}

/*
 * Packs a COMMITS message of n items over norig origins into msg, in the
 * order mode asks: 0 grouped by origin, 1 round robin, 2 shuffled.
 * Returns the number of origin runs.
 */
static size_t
make_batch(struct proto_enc *msg, size_t n, unsigned norig, int mode)
{
	struct proto_enc e;
	uint8_t sig[PROTO_SIG_LEN];
	uint64_t seq[MAXO] = { 0 };
	unsigned *who = calloc(n, sizeof(*who)), o, prev = MAXO;
	size_t i, j, runs = 0;

	for (i = 0; i < n; i++)
		who[i] = mode == 0 ? (unsigned)(i * norig / n) :
		    (unsigned)(i % norig);
	for (i = n; mode == 2 && i > 1; i--) {
		j = randombytes_uniform((uint32_t)i);
		o = who[i - 1];
		who[i - 1] = who[j];
		who[j] = o;
	}
	proto_enc_init(&e);
	wire_pack_commits_begin(msg, 7, n);
	for (i = 0; i < n; i++) {
		make_commit(&e, who[i], ++seq[who[i]]);
		randombytes_buf(sig, sizeof(sig));
		proto_bundle_item(msg, (const uint8_t *)e.sb.data, e.sb.size,
		    sig);
		runs += who[i] != prev;
		prev = who[i];
	}
	proto_enc_free(&e);
	free(who);
	return runs;
}

/* Returns the number of frames of a ZCOMMITS message. */
static size_t
frames_of(const struct proto_enc *z, msgpack_unpacked *u)
{
	size_t off = 0;

	assert_int_equal(msgpack_unpack_next(u, z->sb.data, z->sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	assert_int_equal(u->data.via.array.size, 5);
	assert_int_equal(u->data.via.array.ptr[0].via.u64, WIRE_MSG_ZCOMMITS);
	return u->data.via.array.ptr[4].via.array.size;
}

/* Expands z, expecting failure, on a heap copy of its exact length. */
static int
expand_copy(const uint8_t *data, size_t len, const struct zc_dict *d)
{
	uint8_t *copy = malloc(len ? len : 1);
	struct proto_enc out;
	const char *cause = NULL;
	int rc;

	memcpy(copy, data, len);
	proto_enc_init(&out);
	rc = zc_expand(d, copy, len, &out, &cause);
	if (rc != 0)
		assert_non_null(cause);
	proto_enc_free(&out);
	free(copy);
	return rc;
}

/* Returns whether sb holds the len bytes s. */
static int
contains(const msgpack_sbuffer *sb, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i + len <= sb->size; i++)
		if (memcmp(sb->data + i, s, len) == 0)
			return 1;
	return 0;
}

static void
test_dictionary(void **state)
{
	struct proto_enc w;
	struct zc_dict *again;

	(void)state;
	proto_enc_init(&w);
	storage_zdict_content(&w);
	/* Names and tokens of the schema, and nothing random. */
	assert_true(w.sb.size > 1000);
	assert_true(contains(&w.sb, "\xa9" "attendees", 10));
	again = zc_dict_new((const uint8_t *)w.sb.data, w.sb.size);
	assert_int_equal(zc_dict_id(again), zc_dict_id(storage_zdict()));
	assert_int_not_equal(zc_dict_id(again), ZC_NONE);
	zc_dict_free(again);
	proto_enc_free(&w);
}

static void
test_round_trip(void **state)
{
	const struct zc_dict *d = storage_zdict();
	struct proto_enc msg, z, out;
	struct wire_msg m;
	msgpack_unpacked u;
	const char *cause;
	int round;
	size_t n, runs, plain = 0, packed = 0;

	(void)state;
	proto_enc_init(&msg);
	proto_enc_init(&z);
	proto_enc_init(&out);
	for (round = 0; round < 60; round++) {
		unsigned norig = 1 + randombytes_uniform(MAXO);

		/* Grouped runs: tiny batches, and large ones to measure. */
		if (round % 3 != 0)
			n = 1 + randombytes_uniform(400);
		else if (round % 6 == 0)
			n = 1 + randombytes_uniform(8);
		else
			n = 100 + randombytes_uniform(300);
		proto_enc_reset(&msg);
		runs = make_batch(&msg, n, norig, round % 3);
		assert_int_equal(zc_compress(d, (const uint8_t *)msg.sb.data,
		    msg.sb.size, &z), 0);
		msgpack_unpacked_init(&u);
		assert_int_equal(frames_of(&z, &u), runs);
		msgpack_unpacked_destroy(&u);
		assert_int_equal(zc_expand(d, (const uint8_t *)z.sb.data,
		    z.sb.size, &out, &cause), 0);
		assert_int_equal(out.sb.size, msg.sb.size);
		assert_memory_equal(out.sb.data, msg.sb.data, msg.sb.size);
		assert_int_equal(wire_msg_decode(&m,
		    (const uint8_t *)out.sb.data, out.sb.size, &cause), 0);
		assert_int_equal(m.nitems, n);
		wire_msg_free(&m);
		if (round % 3 == 0 && n >= 100) {
			plain += msg.sb.size;
			packed += z.sb.size;
		}
	}
	/* Even with random ids, hashes and signatures (112 of about 190
	 * bytes an item), large grouped runs shrink. */
	assert_true(packed * 10 < plain * 9);
	proto_enc_free(&msg);
	proto_enc_free(&z);
	proto_enc_free(&out);
}

/* A run's frame is the same bytes whatever other origins share its batch. */
static void
test_runs_independent(void **state)
{
	const struct zc_dict *d = storage_zdict();
	struct proto_enc a, ab, za, zab, e;
	msgpack_unpacked ua, uab;
	uint8_t sig[PROTO_SIG_LEN];
	const msgpack_object *fa, *fab;
	size_t i;

	(void)state;
	proto_enc_init(&a);
	proto_enc_init(&ab);
	proto_enc_init(&za);
	proto_enc_init(&zab);
	proto_enc_init(&e);
	wire_pack_commits_begin(&a, 1, 20);
	wire_pack_commits_begin(&ab, 1, 40);
	memset(sig, 5, sizeof(sig));
	for (i = 0; i < 20; i++) {
		make_commit(&e, 1, i + 1);
		proto_bundle_item(&a, (const uint8_t *)e.sb.data, e.sb.size,
		    sig);
		proto_bundle_item(&ab, (const uint8_t *)e.sb.data, e.sb.size,
		    sig);
	}
	for (i = 0; i < 20; i++) {
		make_commit(&e, 2, i + 1);
		proto_bundle_item(&ab, (const uint8_t *)e.sb.data, e.sb.size,
		    sig);
	}
	assert_int_equal(zc_compress(d, (const uint8_t *)a.sb.data,
	    a.sb.size, &za), 0);
	assert_int_equal(zc_compress(d, (const uint8_t *)ab.sb.data,
	    ab.sb.size, &zab), 0);
	msgpack_unpacked_init(&ua);
	msgpack_unpacked_init(&uab);
	assert_int_equal(frames_of(&za, &ua), 1);
	assert_int_equal(frames_of(&zab, &uab), 2);
	fa = &ua.data.via.array.ptr[4].via.array.ptr[0];
	fab = &uab.data.via.array.ptr[4].via.array.ptr[0];
	assert_int_equal(fa->via.bin.size, fab->via.bin.size);
	assert_memory_equal(fa->via.bin.ptr, fab->via.bin.ptr,
	    fa->via.bin.size);
	msgpack_unpacked_destroy(&ua);
	msgpack_unpacked_destroy(&uab);
	proto_enc_free(&a);
	proto_enc_free(&ab);
	proto_enc_free(&za);
	proto_enc_free(&zab);
	proto_enc_free(&e);
}

/* Packs a ZCOMMITS of one given frame, claiming n items. */
static void
pack_z(struct proto_enc *z, uint32_t id, uint64_t n, const void *frame,
    size_t len)
{
	proto_enc_reset(z);
	msgpack_pack_array(&z->pk, 5);
	msgpack_pack_uint64(&z->pk, WIRE_MSG_ZCOMMITS);
	msgpack_pack_uint64(&z->pk, 1);
	msgpack_pack_uint32(&z->pk, id);
	msgpack_pack_uint64(&z->pk, n);
	msgpack_pack_array(&z->pk, 1);
	msgpack_pack_bin(&z->pk, len);
	msgpack_pack_bin_body(&z->pk, frame, len);
}

static void
test_hostile(void **state)
{
	const struct zc_dict *d = storage_zdict();
	struct proto_enc msg, z, out;
	struct zc_dict *other;
	struct wire_msg m;
	const char *cause;
	ZSTD_CCtx *cctx;
	uint8_t *big, *frame;
	size_t i, flen, bigl = WIRE_MAX_FRAME + 1;
	uint32_t id = zc_dict_id(d);

	(void)state;
	proto_enc_init(&msg);
	proto_enc_init(&z);
	proto_enc_init(&out);
	make_batch(&msg, 30, 3, 1);
	assert_int_equal(zc_compress(d, (const uint8_t *)msg.sb.data,
	    msg.sb.size, &z), 0);
	/* Every truncation fails. */
	for (i = 0; i < z.sb.size; i++)
		assert_int_not_equal(expand_copy((const uint8_t *)z.sb.data, i,
		    d), 0);
	assert_int_equal(expand_copy((const uint8_t *)z.sb.data, z.sb.size,
	    d), 0);
	/* A declared count far beyond the bytes (found by fuzz_zcodec):
	 * refused before anything is allocated for it. */
	assert_int_not_equal(expand_copy((const uint8_t *)"\xdf\x30\xff\xff"
	    "\x02\xdd", 6, d), 0);
	assert_int_not_equal(zc_compress(d, (const uint8_t *)"\x93\x20\x01"
	    "\xdd\xff\xff\xff\xff", 8, &out), 0);
	/* This side offered none, or another dictionary. */
	assert_int_not_equal(expand_copy((const uint8_t *)z.sb.data,
	    z.sb.size, NULL), 0);
	other = zc_dict_new((const uint8_t *)"\xa4" "cafe\xa5title", 11);
	assert_int_not_equal(expand_copy((const uint8_t *)z.sb.data,
	    z.sb.size, other), 0);
	zc_dict_free(other);
	/* Not a COMMITS message to compress. */
	assert_int_not_equal(zc_compress(d, (const uint8_t *)z.sb.data,
	    z.sb.size, &out), 0);

	/* A frame that claims more than a batch may hold. */
	big = calloc(1, bigl);
	flen = ZSTD_compressBound(bigl);
	frame = malloc(flen);
	flen = ZSTD_compress(frame, flen, big, bigl, 1);
	assert_false(ZSTD_isError(flen));
	pack_z(&z, id, 1, frame, flen);
	assert_int_equal(zc_expand(d, (const uint8_t *)z.sb.data, z.sb.size,
	    &out, &cause), CS_EBOUND);
	/* A frame that does not state its size. */
	cctx = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
	flen = ZSTD_compress2(cctx, frame, ZSTD_compressBound(bigl), big, 100);
	assert_false(ZSTD_isError(flen));
	pack_z(&z, id, 1, frame, flen);
	assert_int_not_equal(expand_copy((const uint8_t *)z.sb.data,
	    z.sb.size, d), 0);
	/* A frame whose header claims more than its blocks hold. */
	ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	flen = ZSTD_compress2(cctx, frame, ZSTD_compressBound(bigl), big, 100);
	pack_z(&z, id, 1, frame, flen - 1);
	assert_int_not_equal(expand_copy((const uint8_t *)z.sb.data,
	    z.sb.size, d), 0);
	/* Garbage in place of a frame. */
	memset(frame, 0x28, 64);
	pack_z(&z, id, 1, frame, 64);
	assert_int_not_equal(expand_copy((const uint8_t *)z.sb.data,
	    z.sb.size, d), 0);
	/* Well-formed frames of bytes that are not items: expanded, then
	 * refused by the strict COMMITS decoder. */
	{
		struct proto_enc junk;

		proto_enc_init(&junk);
		proto_pack_cstr(&junk.pk, "not an item");
		flen = ZSTD_compress(frame, ZSTD_compressBound(bigl),
		    junk.sb.data, junk.sb.size, 1);
		pack_z(&z, id, 1, frame, flen);
		assert_int_equal(zc_expand(d, (const uint8_t *)z.sb.data,
		    z.sb.size, &out, &cause), 0);
		assert_int_not_equal(wire_msg_decode(&m,
		    (const uint8_t *)out.sb.data, out.sb.size, &cause), 0);
		proto_enc_free(&junk);
	}
	ZSTD_freeCCtx(cctx);
	free(frame);
	free(big);
	proto_enc_free(&msg);
	proto_enc_free(&z);
	proto_enc_free(&out);
}

/* Items counted other than the frames hold: the strict decoder refuses. */
static void
test_count_mismatch(void **state)
{
	const struct zc_dict *d = storage_zdict();
	struct proto_enc msg, z, out;
	struct wire_msg m;
	msgpack_unpacked u;
	const char *cause;
	size_t off = 0;
	const msgpack_object *f;

	(void)state;
	proto_enc_init(&msg);
	proto_enc_init(&z);
	proto_enc_init(&out);
	make_batch(&msg, 10, 1, 0);
	assert_int_equal(zc_compress(d, (const uint8_t *)msg.sb.data,
	    msg.sb.size, &z), 0);
	msgpack_unpacked_init(&u);
	assert_int_equal(msgpack_unpack_next(&u, z.sb.data, z.sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	f = &u.data.via.array.ptr[4].via.array.ptr[0];
	{
		struct proto_enc z2;

		proto_enc_init(&z2);
		pack_z(&z2, zc_dict_id(d), 11, f->via.bin.ptr, f->via.bin.size);
		assert_int_equal(zc_expand(d, (const uint8_t *)z2.sb.data,
		    z2.sb.size, &out, &cause), 0);
		assert_int_not_equal(wire_msg_decode(&m,
		    (const uint8_t *)out.sb.data, out.sb.size, &cause), 0);
		pack_z(&z2, zc_dict_id(d), 9, f->via.bin.ptr, f->via.bin.size);
		assert_int_equal(zc_expand(d, (const uint8_t *)z2.sb.data,
		    z2.sb.size, &out, &cause), 0);
		assert_int_not_equal(wire_msg_decode(&m,
		    (const uint8_t *)out.sb.data, out.sb.size, &cause), 0);
		proto_enc_free(&z2);
	}
	msgpack_unpacked_destroy(&u);
	proto_enc_free(&msg);
	proto_enc_free(&z);
	proto_enc_free(&out);
}

/* HEADS' offer: decoded with its ids, at most WIRE_MAX_OFFER of them. */
static void
test_heads_offer(void **state)
{
	struct proto_enc w;
	struct wire_msg m;
	const char *cause;
	uint32_t ids[WIRE_MAX_OFFER + 1] = { 7, 0xfffffffe, 3, 4, 5 };

	(void)state;
	proto_enc_init(&w);
	wire_pack_heads_begin_offer(&w, 0);
	wire_pack_offer(&w, ids, 2);
	assert_int_equal(wire_msg_decode(&m, (const uint8_t *)w.sb.data,
	    w.sb.size, &cause), 0);
	assert_true(m.has_offer);
	assert_int_equal(m.noffer, 2);
	assert_int_equal(m.offer[1], 0xfffffffe);
	wire_msg_free(&m);
	wire_pack_heads_begin_offer(&w, 0);
	wire_pack_offer(&w, ids, WIRE_MAX_OFFER + 1);
	assert_int_not_equal(wire_msg_decode(&m, (const uint8_t *)w.sb.data,
	    w.sb.size, &cause), 0);
	/* An old-style HEADS: no offer, so no compression towards it. */
	wire_pack_heads_begin(&w, 0);
	assert_int_equal(wire_msg_decode(&m, (const uint8_t *)w.sb.data,
	    w.sb.size, &cause), 0);
	assert_false(m.has_offer);
	assert_int_equal(m.noffer, 0);
	wire_msg_free(&m);
	proto_enc_free(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dictionary),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_runs_independent),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_count_mismatch),
		cmocka_unit_test(test_heads_offer),
	};
	size_t i;

	if (sodium_init() < 0)
		return 1;
	for (i = 0; i < MAXO; i++)
		randombytes_buf(origins[i], PROTO_KEY_LEN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
