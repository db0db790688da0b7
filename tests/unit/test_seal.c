/*
 * test_seal.c: unit tests of sealed bundles (proto/seal.c), sans I/O.
 *
 * Plaintexts of several sizes (one byte, exactly one chunk, many chunks
 * and a part) are sealed to a node and opened again, fed whole and in
 * small pieces.  The header is checked byte by byte against the layout in
 * docs/formats.md, and a reader written from that layout with libsodium
 * directly (not with seal.c) opens what seal.c wrote.  Then what must
 * fail: another node's key, a header whose recipient is rewritten, every
 * single flipped byte of a sealed stream, chunks dropped, repeated and
 * swapped, the final chunk missing, a chunk cut short, bytes after the
 * final chunk, lengths out of bounds, unusable keys, and pushing after
 * the final chunk.  Each failure asserts the exact error code.
 *
 * Buffers handed to the parsers are heap copies of the exact length, so
 * a read past the end shows up under SANITIZE=1.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/proto.h"

/* ---- fixtures --------------------------------------------------------- */

static uint8_t r_pk[PROTO_KEY_LEN], r_sk[PROTO_SK_LEN];  /* recipient */
static uint8_t o_pk[PROTO_KEY_LEN], o_sk[PROTO_SK_LEN];  /* another node */

static int
setup_group(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	crypto_sign_keypair(r_pk, r_sk);
	crypto_sign_keypair(o_pk, o_sk);
	return 0;
}

/* A heap copy of exactly len bytes (at least one byte is allocated). */
static uint8_t *
dup_exact(const void *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	assert_non_null(d);
	if (len)
		memcpy(d, p, len);
	return d;
}

/* Random plaintext of len bytes. */
static uint8_t *
random_plain(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	randombytes_buf(p, len);
	return p;
}

/* A sealed stream in memory, with where each chunk starts. */
struct sealed {
	uint8_t *buf;
	size_t len;
	size_t off[64];     /* offset of chunk i (0-based) */
	size_t nchunks;
};

/* Seals plain to pk as the writer does: full chunks, then the rest. */
static void
seal_all(struct sealed *sd, const uint8_t pk[PROTO_KEY_LEN],
    const uint8_t *plain, size_t len)
{
	struct proto_seal *ps = NULL;
	const char *why = NULL;
	size_t pos = 0, k;
	int n, final;

	memset(sd, 0, sizeof(*sd));
	sd->buf = malloc(PROTO_SEAL_HEADER_LEN +
	    (len / PROTO_SEAL_CHUNK + 1) * PROTO_SEAL_MAX_SEALED);
	assert_non_null(sd->buf);
	assert_int_equal(proto_seal_begin(&ps, sd->buf, pk, &why), 0);
	assert_non_null(ps);
	sd->len = PROTO_SEAL_HEADER_LEN;
	do {
		k = len - pos > PROTO_SEAL_CHUNK ? PROTO_SEAL_CHUNK : len - pos;
		final = pos + k == len;
		assert_true(sd->nchunks < 64);
		sd->off[sd->nchunks++] = sd->len;
		n = proto_seal_push(ps, sd->buf + sd->len, plain + pos, k,
		    final);
		assert_int_equal(n, (int)(k + PROTO_SEAL_OVERHEAD));
		sd->len += (size_t)n;
		pos += k;
	} while (!final);
	assert_int_equal(proto_seal_chunks(ps), sd->nchunks);
	proto_seal_free(ps);
}

/* What opening a stream gave. */
struct opened {
	int err;            /* 0, or the first error */
	int at;             /* 0: header; else the 1-based chunk that failed */
	int final;          /* the final chunk was opened */
	uint8_t *plain;
	size_t len;
	int trailing;       /* bytes were left after the last chunk opened */
	int need_more;      /* the stream ended inside a chunk */
};

/*
 * Opens buf (len bytes) with sk as an importer would, handing the parser
 * at most step bytes beyond what it already has (0: everything at once),
 * always as an exact-size heap copy.
 */
static void
open_all(struct opened *op, const uint8_t *buf, size_t len,
    const uint8_t sk[PROTO_SK_LEN], size_t step)
{
	struct proto_seal *ps = NULL;
	const char *why = NULL;
	uint8_t *chunk, *copy;
	size_t pos = PROTO_SEAL_HEADER_LEN, have, outlen = 0;
	int r, final = 0;

	memset(op, 0, sizeof(*op));
	op->plain = malloc(len + 1);
	assert_non_null(op->plain);
	if (len < PROTO_SEAL_HEADER_LEN) {
		uint8_t to[PROTO_KEY_LEN];

		copy = dup_exact(buf, len);
		op->err = proto_seal_parse_header(copy, len, to, &why);
		free(copy);
		assert_int_not_equal(op->err, 0);
		assert_non_null(why);
		return;
	}
	copy = dup_exact(buf, PROTO_SEAL_HEADER_LEN);
	op->err = proto_seal_open_begin(&ps, copy, sk, &why);
	free(copy);
	if (op->err != 0) {
		assert_null(ps);
		assert_non_null(why);
		return;
	}
	chunk = malloc(PROTO_SEAL_CHUNK);
	assert_non_null(chunk);
	have = step ? step : len - pos;
	while (pos < len) {
		if (have > len - pos)
			have = len - pos;
		copy = dup_exact(buf + pos, have);
		why = NULL;
		r = proto_seal_pull(ps, copy, have, chunk, &outlen, &final,
		    &why);
		free(copy);
		if (r == 0) {
			assert_true(have < PROTO_SEAL_MAX_SEALED);
			if (pos + have == len) {
				op->need_more = 1;
				break;
			}
			have += step ? step : len - pos;
			continue;
		}
		if (r < 0) {
			assert_non_null(why);
			op->err = r;
			op->at = (int)proto_seal_chunks(ps) + 1;
			break;
		}
		assert_true((size_t)r <= have);
		assert_true(outlen <= PROTO_SEAL_CHUNK);
		memcpy(op->plain + op->len, chunk, outlen);
		op->len += outlen;
		pos += (size_t)r;
		have = step ? step : len - pos;
		if (final) {
			op->final = 1;
			op->trailing = pos < len;
			break;
		}
	}
	free(chunk);
	proto_seal_free(ps);
}

static void
opened_free(struct opened *op)
{
	free(op->plain);
}

/* ---- round trips ---------------------------------------------------- */

static void
round_trip(size_t len, size_t step)
{
	struct sealed sd;
	struct opened op;
	uint8_t *plain = random_plain(len);

	seal_all(&sd, r_pk, plain, len);
	assert_int_equal(sd.nchunks,
	    len == 0 ? 1 : (len + PROTO_SEAL_CHUNK - 1) / PROTO_SEAL_CHUNK);
	open_all(&op, sd.buf, sd.len, r_sk, step);
	assert_int_equal(op.err, 0);
	assert_int_equal(op.final, 1);
	assert_int_equal(op.trailing, 0);
	assert_int_equal(op.len, len);
	assert_memory_equal(op.plain, plain, len);
	opened_free(&op);
	free(sd.buf);
	free(plain);
}

static void
test_round_trip(void **state)
{
	(void)state;
	round_trip(1, 0);
	round_trip(200, 0);
	round_trip(PROTO_SEAL_CHUNK, 0);
	round_trip(PROTO_SEAL_CHUNK + 1, 0);
	round_trip(5 * PROTO_SEAL_CHUNK + 12345, 0);
	round_trip(3 * PROTO_SEAL_CHUNK, 0);
}

/* Bytes handed over in small pieces: "need more" until a chunk is whole. */
static void
test_round_trip_pieces(void **state)
{
	(void)state;
	round_trip(300, 1);
	round_trip(2 * PROTO_SEAL_CHUNK + 77, 4093);
}

/* Two seals of the same bytes share nothing but the header's first part. */
static void
test_fresh_each_time(void **state)
{
	static const uint8_t msg[] = "the same plaintext, twice";
	struct sealed a, b;

	(void)state;
	seal_all(&a, r_pk, msg, sizeof(msg));
	seal_all(&b, r_pk, msg, sizeof(msg));
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.buf, b.buf, 48);
	assert_memory_not_equal(a.buf + 48, b.buf + 48, 32);
	assert_memory_not_equal(a.buf + PROTO_SEAL_HEADER_LEN + 4,
	    b.buf + PROTO_SEAL_HEADER_LEN + 4, sizeof(msg));
	free(a.buf);
	free(b.buf);
}

/* ---- the documented layout ---------------------------------------------- */

/* The header is as docs/formats.md says, and the plaintext is not in it. */
static void
test_header_layout(void **state)
{
	static const uint8_t msg[] = "cafesync-bundle MARKER plaintext";
	uint8_t to[PROTO_KEY_LEN];
	const char *why = NULL;
	struct sealed sd;
	size_t i;

	(void)state;
	seal_all(&sd, r_pk, msg, sizeof(msg));
	assert_memory_equal(sd.buf, "cafesync-sealed", 15);
	assert_int_equal(sd.buf[15], 1);
	assert_memory_equal(sd.buf + 16, r_pk, PROTO_KEY_LEN);
	assert_int_equal(sd.len, PROTO_SEAL_HEADER_LEN + 4 +
	    crypto_secretstream_xchacha20poly1305_ABYTES + sizeof(msg));
	assert_int_equal(sd.buf[104], 0);
	assert_int_equal(sd.buf[105], 0);
	assert_int_equal(sd.buf[106], 0);
	assert_int_equal(sd.buf[107], 17 + sizeof(msg));
	for (i = 0; i + 6 <= sd.len; i++)
		assert_memory_not_equal(sd.buf + i, "MARKER", 6);
	assert_int_equal(proto_seal_detect(sd.buf, sd.len), 1);
	assert_int_equal(proto_seal_detect(sd.buf, 4), 1);
	assert_int_equal(proto_seal_detect((const uint8_t *)"\x83\xa6", 2), 0);
	assert_int_equal(proto_seal_detect(sd.buf, 0), 0);
	assert_int_equal(proto_seal_parse_header(sd.buf, sd.len, to, &why), 0);
	assert_memory_equal(to, r_pk, PROTO_KEY_LEN);
	free(sd.buf);
}

/*
 * A reader written from docs/formats.md with libsodium alone opens what
 * proto_seal_push() wrote, and proto_seal_pull() opens what it writes.
 */
static void
test_independent_reader(void **state)
{
	static const uint8_t msg[] = "read me from the documentation";
	crypto_secretstream_xchacha20poly1305_state st;
	crypto_generichash_state h;
	uint8_t xsk[32], q[32], key[32], out[sizeof(msg)], tag = 0xff;
	uint8_t hdr[PROTO_SEAL_HEADER_LEN], esk[32], xpk[32];
	uint8_t frame[4 + 17 + sizeof(msg)], got[PROTO_SEAL_CHUNK];
	unsigned long long mlen = 0;
	struct proto_seal *ps = NULL;
	struct sealed sd;
	const char *why = NULL;
	size_t outlen = 0;
	int final = 0;

	(void)state;
	seal_all(&sd, r_pk, msg, sizeof(msg));
	assert_int_equal(crypto_sign_ed25519_sk_to_curve25519(xsk, r_sk), 0);
	assert_int_equal(crypto_scalarmult(q, xsk, sd.buf + 48), 0);
	crypto_generichash_init(&h, q, 32, 32);
	crypto_generichash_update(&h, (const uint8_t *)"cafesync-sealed-v1",
	    18);
	crypto_generichash_update(&h, sd.buf, 80);
	crypto_generichash_final(&h, key, 32);
	assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(&st,
	    sd.buf + 80, key), 0);
	assert_int_equal(crypto_secretstream_xchacha20poly1305_pull(&st, out,
	    &mlen, &tag, sd.buf + 108, sd.len - 108, NULL, 0), 0);
	assert_int_equal(mlen, sizeof(msg));
	assert_int_equal(tag, crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	assert_memory_equal(out, msg, sizeof(msg));
	free(sd.buf);

	/* And the other way: a hand-built sealed stream. */
	memcpy(hdr, "cafesync-sealed", 15);
	hdr[15] = 1;
	memcpy(hdr + 16, r_pk, 32);
	randombytes_buf(esk, sizeof(esk));
	crypto_scalarmult_base(hdr + 48, esk);
	assert_int_equal(crypto_sign_ed25519_pk_to_curve25519(xpk, r_pk), 0);
	assert_int_equal(crypto_scalarmult(q, esk, xpk), 0);
	crypto_generichash_init(&h, q, 32, 32);
	crypto_generichash_update(&h, (const uint8_t *)"cafesync-sealed-v1",
	    18);
	crypto_generichash_update(&h, hdr, 80);
	crypto_generichash_final(&h, key, 32);
	crypto_secretstream_xchacha20poly1305_init_push(&st, hdr + 80, key);
	frame[0] = frame[1] = frame[2] = 0;
	frame[3] = (uint8_t)(17 + sizeof(msg));
	crypto_secretstream_xchacha20poly1305_push(&st, frame + 4, NULL, msg,
	    sizeof(msg), NULL, 0,
	    crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	assert_int_equal(proto_seal_open_begin(&ps, hdr, r_sk, &why), 0);
	assert_int_equal(proto_seal_pull(ps, frame, sizeof(frame), got,
	    &outlen, &final, &why), (int)sizeof(frame));
	assert_int_equal(final, 1);
	assert_int_equal(outlen, sizeof(msg));
	assert_memory_equal(got, msg, sizeof(msg));
	proto_seal_free(ps);
}

/* ---- what must fail --------------------------------------------------- */

/* Another node's key: refused at the header, before any key is used. */
static void
test_wrong_recipient(void **state)
{
	static const uint8_t msg[] = "for the recipient only";
	struct sealed sd;
	struct opened op;

	(void)state;
	seal_all(&sd, r_pk, msg, sizeof(msg));
	open_all(&op, sd.buf, sd.len, o_sk, 0);
	assert_int_equal(op.err, CS_EPERM);
	assert_int_equal(op.len, 0);
	opened_free(&op);

	/* Rewriting the recipient to the other node does not help it. */
	memcpy(sd.buf + 16, o_pk, PROTO_KEY_LEN);
	open_all(&op, sd.buf, sd.len, o_sk, 0);
	assert_int_equal(op.err, CS_ESIG);
	assert_int_equal(op.at, 1);
	assert_int_equal(op.len, 0);
	opened_free(&op);
	/* Nor the recipient itself, now that the header is not the same. */
	open_all(&op, sd.buf, sd.len, r_sk, 0);
	assert_int_equal(op.err, CS_EPERM);
	opened_free(&op);
	free(sd.buf);
}

/* Every flipped byte, in the header and in each chunk, is caught. */
static void
test_tamper_every_byte(void **state)
{
	struct sealed sd;
	struct opened op;
	uint8_t *plain = random_plain(700), *bad;
	size_t i;

	(void)state;
	seal_all(&sd, r_pk, plain, 700);
	bad = malloc(sd.len);
	assert_non_null(bad);
	for (i = 0; i < sd.len; i++) {
		memcpy(bad, sd.buf, sd.len);
		bad[i] ^= 0x01;
		open_all(&op, bad, sd.len, r_sk, 0);
		if (i < 15)
			assert_int_equal(op.err, CS_EDECODE);
		else if (i == 15)
			assert_int_equal(op.err, CS_EVERSION);
		else if (i < 48)
			assert_int_equal(op.err, CS_EPERM);
		else if (i >= 104 && i < 108)
			/* The length: out of bounds, short or cut. */
			assert_true(op.err == CS_EBOUND || op.err == CS_ESIG ||
			    op.need_more);
		else
			/* eph, hdr or a chunk: chunk 1 does not open (or
			 * the ephemeral key is refused outright). */
			assert_int_equal(op.err, CS_ESIG);
		assert_int_equal(op.final, 0);
		opened_free(&op);
	}
	free(bad);
	free(sd.buf);
	free(plain);
}

/* A flipped byte in a middle chunk is named by its chunk. */
static void
test_tamper_middle_chunk(void **state)
{
	size_t len = 4 * PROTO_SEAL_CHUNK + 10;
	uint8_t *plain = random_plain(len);
	struct sealed sd;
	struct opened op;

	(void)state;
	seal_all(&sd, r_pk, plain, len);
	assert_int_equal(sd.nchunks, 5);
	sd.buf[sd.off[2] + 4000] ^= 0x80;
	open_all(&op, sd.buf, sd.len, r_sk, 0);
	assert_int_equal(op.err, CS_ESIG);
	assert_int_equal(op.at, 3);
	assert_int_equal(op.len, 2 * PROTO_SEAL_CHUNK);
	opened_free(&op);
	free(sd.buf);
	free(plain);
}

/* Cut at a chunk boundary: no final tag; cut inside a chunk: need more. */
static void
test_truncation(void **state)
{
	size_t len = 3 * PROTO_SEAL_CHUNK + 99;
	uint8_t *plain = random_plain(len);
	struct sealed sd;
	struct opened op;

	(void)state;
	seal_all(&sd, r_pk, plain, len);
	assert_int_equal(sd.nchunks, 4);
	/* Without the final chunk. */
	open_all(&op, sd.buf, sd.off[3], r_sk, 0);
	assert_int_equal(op.err, 0);
	assert_int_equal(op.final, 0);
	assert_int_equal(op.need_more, 0);
	assert_int_equal(op.len, 3 * PROTO_SEAL_CHUNK);
	opened_free(&op);
	/* Inside the final chunk, and inside its length. */
	open_all(&op, sd.buf, sd.len - 1, r_sk, 0);
	assert_int_equal(op.err, 0);
	assert_int_equal(op.final, 0);
	assert_int_equal(op.need_more, 1);
	opened_free(&op);
	open_all(&op, sd.buf, sd.off[3] + 2, r_sk, 0);
	assert_int_equal(op.final, 0);
	assert_int_equal(op.need_more, 1);
	opened_free(&op);
	/* Only the header, or a part of it. */
	open_all(&op, sd.buf, PROTO_SEAL_HEADER_LEN, r_sk, 0);
	assert_int_equal(op.err, 0);
	assert_int_equal(op.final, 0);
	assert_int_equal(op.len, 0);
	opened_free(&op);
	open_all(&op, sd.buf, PROTO_SEAL_HEADER_LEN - 1, r_sk, 0);
	assert_int_equal(op.err, CS_ETRUNC);
	opened_free(&op);
	free(sd.buf);
	free(plain);
}

/* Builds buf from the chunks of sd in the given order (-1 ends). */
static size_t
reassemble(uint8_t *out, const struct sealed *sd, const int *order)
{
	size_t len = PROTO_SEAL_HEADER_LEN, n;
	int i;

	memcpy(out, sd->buf, PROTO_SEAL_HEADER_LEN);
	for (i = 0; order[i] >= 0; i++) {
		size_t k = (size_t)order[i];

		n = (k + 1 < sd->nchunks ? sd->off[k + 1] : sd->len) -
		    sd->off[k];
		memcpy(out + len, sd->buf + sd->off[k], n);
		len += n;
	}
	return len;
}

/* Chunks swapped, dropped or repeated fail at the first one out of place. */
static void
test_reorder(void **state)
{
	static const int swap[] = { 0, 2, 1, 3, -1 };
	static const int drop[] = { 0, 1, 3, -1 };
	static const int dup[] = { 0, 1, 1, 2, 3, -1 };
	static const int last_first[] = { 3, 0, 1, 2, -1 };
	static const struct {
		const int *order;
		int at;
	} cases[] = { { swap, 2 }, { drop, 3 }, { dup, 3 },
		{ last_first, 1 } };
	size_t len = 3 * PROTO_SEAL_CHUNK + 5, n, i;
	uint8_t *plain = random_plain(len), *buf;
	struct sealed sd;
	struct opened op;

	(void)state;
	seal_all(&sd, r_pk, plain, len);
	assert_int_equal(sd.nchunks, 4);
	buf = malloc(2 * sd.len);
	assert_non_null(buf);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = reassemble(buf, &sd, cases[i].order);
		open_all(&op, buf, n, r_sk, 0);
		assert_int_equal(op.err, CS_ESIG);
		assert_int_equal(op.at, cases[i].at);
		assert_int_equal(op.final, 0);
		opened_free(&op);
	}
	/* Chunks of another stream to the same node do not fit either. */
	{
		struct sealed other;

		seal_all(&other, r_pk, plain, len);
		memcpy(buf, sd.buf, sd.off[1]);
		memcpy(buf + sd.off[1], other.buf + other.off[1],
		    other.len - other.off[1]);
		open_all(&op, buf, sd.off[1] + other.len - other.off[1], r_sk,
		    0);
		assert_int_equal(op.err, CS_ESIG);
		assert_int_equal(op.at, 2);
		opened_free(&op);
		free(other.buf);
	}
	free(buf);
	free(sd.buf);
	free(plain);
}

/* Bytes after the final chunk are refused, and the stream stays failed. */
static void
test_after_final(void **state)
{
	static const uint8_t msg[] = "short";
	struct proto_seal *ps = NULL;
	uint8_t out[PROTO_SEAL_CHUNK];
	const char *why = NULL;
	struct sealed sd;
	size_t outlen = 0, n;
	int final = 0, r;

	(void)state;
	seal_all(&sd, r_pk, msg, sizeof(msg));
	assert_int_equal(proto_seal_open_begin(&ps, sd.buf, r_sk, &why), 0);
	n = sd.len - PROTO_SEAL_HEADER_LEN;
	r = proto_seal_pull(ps, sd.buf + PROTO_SEAL_HEADER_LEN, n, out,
	    &outlen, &final, &why);
	assert_int_equal(r, (int)n);
	assert_int_equal(final, 1);
	r = proto_seal_pull(ps, sd.buf + PROTO_SEAL_HEADER_LEN, n, out,
	    &outlen, &final, &why);
	assert_int_equal(r, CS_EDECODE);
	assert_non_null(why);
	r = proto_seal_pull(ps, sd.buf + PROTO_SEAL_HEADER_LEN, n, out,
	    &outlen, &final, &why);
	assert_int_equal(r, CS_ESIG);
	proto_seal_free(ps);
	free(sd.buf);
}

/* Lengths outside 17..65553 are refused before anything is read. */
static void
test_length_bounds(void **state)
{
	static const uint8_t msg[] = "x";
	static const uint32_t lens[] = { 0, 16, PROTO_SEAL_MAX_SEALED - 3,
		0x7fffffff, 0xffffffff };
	struct proto_seal *ps = NULL;
	uint8_t out[PROTO_SEAL_CHUNK], frame[4];
	const char *why = NULL;
	struct sealed sd;
	size_t outlen = 0, i;
	int final = 0;

	(void)state;
	seal_all(&sd, r_pk, msg, sizeof(msg));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		assert_int_equal(proto_seal_open_begin(&ps, sd.buf, r_sk,
		    &why), 0);
		frame[0] = (uint8_t)(lens[i] >> 24);
		frame[1] = (uint8_t)(lens[i] >> 16);
		frame[2] = (uint8_t)(lens[i] >> 8);
		frame[3] = (uint8_t)lens[i];
		assert_int_equal(proto_seal_pull(ps, frame, 4, out, &outlen,
		    &final, &why), CS_EBOUND);
		proto_seal_free(ps);
		ps = NULL;
	}
	/* Fewer than 4 bytes: need more. */
	assert_int_equal(proto_seal_open_begin(&ps, sd.buf, r_sk, &why), 0);
	assert_int_equal(proto_seal_pull(ps, sd.buf + PROTO_SEAL_HEADER_LEN,
	    3, out, &outlen, &final, &why), 0);
	proto_seal_free(ps);
	free(sd.buf);
}

/* Keys that cannot be sealed to, and misuse of the push side. */
static void
test_bad_keys_and_push(void **state)
{
	uint8_t zero[PROTO_KEY_LEN], hdr[PROTO_SEAL_HEADER_LEN];
	uint8_t out[PROTO_SEAL_MAX_SEALED + 1], big[PROTO_SEAL_CHUNK + 1];
	struct proto_seal *ps = NULL;
	const char *why = NULL;

	(void)state;
	memset(zero, 0, sizeof(zero));
	assert_int_equal(proto_seal_key_check(zero, &why), CS_EUSAGE);
	assert_non_null(why);
	why = NULL;
	assert_int_equal(proto_seal_begin(&ps, hdr, zero, &why), CS_EUSAGE);
	assert_null(ps);
	assert_non_null(why);
	assert_int_equal(proto_seal_key_check(r_pk, &why), 0);

	memset(big, 'a', sizeof(big));
	assert_int_equal(proto_seal_begin(&ps, hdr, r_pk, &why), 0);
	assert_int_equal(proto_seal_push(ps, out, big, sizeof(big), 0),
	    CS_EUSAGE);
	assert_int_equal(proto_seal_push(ps, out, big, PROTO_SEAL_CHUNK, 1),
	    PROTO_SEAL_MAX_SEALED);
	assert_int_equal(proto_seal_push(ps, out, big, 1, 1), CS_EUSAGE);
	proto_seal_free(ps);
	proto_seal_free(NULL);

	/* A header of another version or magic is refused as such. */
	assert_int_equal(proto_seal_begin(&ps, hdr, r_pk, &why), 0);
	proto_seal_free(ps);
	hdr[15] = 2;
	assert_int_equal(proto_seal_open_begin(&ps, hdr, r_sk, &why),
	    CS_EVERSION);
	assert_null(ps);
	hdr[15] = 1;
	hdr[0] = 'C';
	assert_int_equal(proto_seal_open_begin(&ps, hdr, r_sk, &why),
	    CS_EDECODE);
	/* An ephemeral key of small order (all zeros) is refused. */
	hdr[0] = 'c';
	memset(hdr + 48, 0, 32);
	assert_int_equal(proto_seal_open_begin(&ps, hdr, r_sk, &why),
	    CS_ESIG);
	assert_null(ps);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_pieces),
		cmocka_unit_test(test_fresh_each_time),
		cmocka_unit_test(test_header_layout),
		cmocka_unit_test(test_independent_reader),
		cmocka_unit_test(test_wrong_recipient),
		cmocka_unit_test(test_tamper_every_byte),
		cmocka_unit_test(test_tamper_middle_chunk),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_reorder),
		cmocka_unit_test(test_after_final),
		cmocka_unit_test(test_length_bounds),
		cmocka_unit_test(test_bad_keys_and_push),
	};

	return cmocka_run_group_tests(tests, setup_group, NULL);
}
