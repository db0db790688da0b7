/*
 * fuzz_seal.c: libFuzzer target for sealed bundles (proto/seal.c).
 *
 * The first input byte picks what the rest is:
 *
 *   - even: a sealed file as an importer would read it, opened with a
 *     fixed node key: the header with proto_seal_parse_header() and
 *     proto_seal_open_begin(), then chunks with proto_seal_pull() until
 *     the input ends, a pull needs more bytes or fails.  Random bytes
 *     almost never authenticate, so this mostly holds the header and
 *     length checks to their contract;
 *   - odd: a plaintext, sealed to the fixed key in chunks whose sizes come
 *     from the input, opened again and compared; then one byte the input
 *     chooses is flipped and the stream must fail to open (or, for a
 *     length byte, need more), never yield other plaintext.
 *
 * The contract: a result is > 0 (bytes used, never more than given), 0
 * (need more, only with less than PROTO_SEAL_MAX_SEALED in hand) or one of
 * the documented errors with a cause; opened plaintext is at most
 * PROTO_SEAL_CHUNK; nothing opens after the final chunk or after an error.
 * Any broken promise aborts, which libFuzzer reports as a crash.
 *
 *   clang $(FUZZ_FLAGS) -o build-fuzz/fuzz_seal tests/fuzz/fuzz_seal.c \
 *       $(PROTO_SRC) -lmsgpackc -lsodium
 *   ./build-fuzz/fuzz_seal -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_seal: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static uint8_t node_pk[PROTO_KEY_LEN], node_sk[PROTO_SK_LEN];
static uint8_t *chunk;

/* Makes the fixed node key once. */
static void
init(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	if (chunk != NULL)
		return;
	CHECK(sodium_init() >= 0);
	memset(seed, 0x5e, sizeof(seed));
	crypto_sign_seed_keypair(node_pk, node_sk, seed);
	chunk = xmalloc(PROTO_SEAL_CHUNK);
}

/*
 * Opens buf (len bytes) as a sealed file.  Returns 1 when the final chunk
 * opened with nothing after it, else 0; the plaintext goes to out (when
 * not NULL) and its length to *outlen.
 */
static int
open_stream(const uint8_t *buf, size_t len, uint8_t *out, size_t *outlen)
{
	uint8_t to[PROTO_KEY_LEN];
	struct proto_seal *ps = NULL;
	const char *why = NULL;
	size_t pos, n = 0;
	int r, final = 0, ok = 0;

	*outlen = 0;
	r = proto_seal_parse_header(buf, len, to, &why);
	if (r != 0) {
		CHECK(r == CS_ETRUNC || r == CS_EDECODE || r == CS_EVERSION);
		CHECK(why != NULL);
		CHECK(r != CS_ETRUNC || len < PROTO_SEAL_HEADER_LEN);
		return 0;
	}
	why = NULL;
	r = proto_seal_open_begin(&ps, buf, node_sk, &why);
	if (r != 0) {
		CHECK(r == CS_EPERM || r == CS_ESIG || r == CS_EUSAGE);
		CHECK(why != NULL && ps == NULL);
		CHECK(r != CS_EPERM ||
		    memcmp(to, node_pk, PROTO_KEY_LEN) != 0);
		return 0;
	}
	pos = PROTO_SEAL_HEADER_LEN;
	while (pos < len) {
		why = NULL;
		r = proto_seal_pull(ps, buf + pos, len - pos, chunk, &n,
		    &final, &why);
		if (r == 0) {
			CHECK(len - pos < PROTO_SEAL_MAX_SEALED);
			break;
		}
		if (r < 0) {
			CHECK(r == CS_EBOUND || r == CS_ESIG ||
			    r == CS_EDECODE);
			CHECK(why != NULL);
			/* A failed stream stays failed. */
			r = proto_seal_pull(ps, buf + pos, len - pos, chunk,
			    &n, &final, &why);
			CHECK(r < 0);
			break;
		}
		CHECK((size_t)r <= len - pos && r >= PROTO_SEAL_OVERHEAD);
		CHECK(n == (size_t)r - PROTO_SEAL_OVERHEAD);
		CHECK(n <= PROTO_SEAL_CHUNK);
		if (out != NULL)
			memcpy(out + *outlen, chunk, n);
		*outlen += n;
		pos += (size_t)r;
		if (final) {
			ok = pos == len;
			if (!ok) {
				r = proto_seal_pull(ps, buf + pos, len - pos,
				    chunk, &n, &final, &why);
				CHECK(r == CS_EDECODE);
			}
			break;
		}
	}
	proto_seal_free(ps);
	return ok;
}

/* Seals the input, opens it, then opens it with one byte flipped. */
static void
round_trip(const uint8_t *data, size_t size)
{
	uint8_t hdr[PROTO_SEAL_HEADER_LEN], *buf, *out;
	struct proto_seal *ps = NULL;
	const char *why = NULL;
	size_t len = 0, pos = 0, k, outlen = 0, flip;
	unsigned step;
	int n;

	if (size < 3)
		return;
	step = (unsigned)data[0] << 8 | data[1];
	flip = data[2];
	data += 3;
	size -= 3;
	buf = xmalloc(PROTO_SEAL_HEADER_LEN +
	    (size + 1) * PROTO_SEAL_OVERHEAD + size);
	out = xmalloc(size + 1);
	CHECK(proto_seal_begin(&ps, hdr, node_pk, &why) == 0);
	memcpy(buf, hdr, sizeof(hdr));
	len = sizeof(hdr);
	do {
		k = step % (PROTO_SEAL_CHUNK + 1);
		if (k > size - pos)
			k = size - pos;
		if (k == 0 && pos < size)
			k = 1;
		n = proto_seal_push(ps, buf + len, data + pos, k,
		    pos + k == size);
		CHECK(n == (int)(k + PROTO_SEAL_OVERHEAD));
		len += (size_t)n;
		pos += k;
		step = step * 31 + 7;
	} while (pos < size);
	CHECK(proto_seal_push(ps, buf + len, data, 0, 1) == CS_EUSAGE);
	proto_seal_free(ps);

	CHECK(open_stream(buf, len, out, &outlen) == 1);
	CHECK(outlen == size && memcmp(out, data, size) == 0);
	/* One flipped byte past the magic and version: never whole. */
	flip = PROTO_SEAL_MAGIC_LEN + 1 + flip * 7919 % (len -
	    PROTO_SEAL_MAGIC_LEN - 1);
	buf[flip] ^= 0x20;
	CHECK(open_stream(buf, len, NULL, &outlen) == 0);
	free(buf);
	free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t outlen;

	init();
	if (size == 0)
		return 0;
	if (data[0] & 1)
		round_trip(data + 1, size - 1);
	else
		(void)open_stream(data + 1, size - 1, NULL, &outlen);
	return 0;
}
