/*
 * fuzz_bundle.c: libFuzzer target for the plain bundle stream parsers
 * (proto/bundle.c) and, through them, the commit codec.
 *
 * For each input it parses the header with proto_bundle_parse_header(),
 * then items with proto_bundle_parse_item() until the input ends, a parse
 * needs more bytes or fails, decoding each item's E with
 * proto_commit_decode(), hashing it and checking its signature against
 * the header's network (as an importer would).  Along the way it holds the
 * parsers to their contract:
 *
 *   - a result is > 0 (bytes used, never more than given), 0 (need more)
 *     or one of the documented errors with a cause;
 *   - the header needs at most PROTO_BUNDLE_MAX_HEADER bytes and an item at
 *     most PROTO_BUNDLE_MAX_ITEM: "need more" with that much in hand would
 *     stall an importer whose buffer is full;
 *   - E and sig point inside the bytes the item used, sig is 64 bytes
 *     after E, and E is within PROTO_MAX_COMMIT;
 *   - parsing exactly the bytes used (an exact-size heap copy, so ASan
 *     bounds it) gives the same answer, and one byte fewer asks for more:
 *     the parsers never look past what they report.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 *
 *   make fuzz
 *   ./build-fuzz/fuzz_bundle -max_total_time=60 CORPUS_DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_bundle: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static volatile uint8_t sink;

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

static uint8_t *
dup_exact(const void *p, size_t n)
{
	uint8_t *d = xmalloc(n ? n : 1);

	if (n > 0)
		memcpy(d, p, n);
	return d;
}

/* Checks the header parser on exactly the bytes it used, and one fewer. */
static void
recheck_header(const uint8_t *buf, int used, const uint8_t network[32])
{
	uint8_t net2[PROTO_KEY_LEN], *copy;
	const char *why = NULL;
	int r;

	copy = dup_exact(buf, (size_t)used);
	r = proto_bundle_parse_header(copy, (size_t)used, net2, &why);
	CHECK(r == used);
	CHECK(memcmp(net2, network, PROTO_KEY_LEN) == 0);
	r = proto_bundle_parse_header(copy, (size_t)used - 1, net2, &why);
	CHECK(r == 0);
	free(copy);
}

/* Checks the item parser on exactly the bytes it used, and one fewer. */
static void
recheck_item(const uint8_t *buf, int used, size_t eoff, size_t elen,
    size_t soff)
{
	const uint8_t *e = NULL, *sig = NULL;
	size_t el = 0;
	const char *why = NULL;
	uint8_t *copy;
	int r;

	copy = dup_exact(buf, (size_t)used);
	r = proto_bundle_parse_item(copy, (size_t)used, &e, &el, &sig, &why);
	CHECK(r == used);
	CHECK(e == copy + eoff && el == elen && sig == copy + soff);
	r = proto_bundle_parse_item(copy, (size_t)used - 1, &e, &el, &sig,
	    &why);
	CHECK(r == 0);
	free(copy);
}

/* Decodes one item's commit and checks it as an importer would. */
static void
check_item(const uint8_t *e, size_t elen, const uint8_t *sig,
    const uint8_t network[PROTO_KEY_LEN])
{
	struct proto_commit c;
	uint8_t hash[PROTO_HASH_LEN];
	const char *why = NULL;
	uint32_t i;
	int rc;

	proto_hash(hash, e, elen, sig);
	rc = proto_commit_decode(&c, e, elen, &why);
	if (rc != 0) {
		CHECK(rc == CS_EDECODE || rc == CS_EBOUND ||
		    rc == CS_EVERSION || rc == CS_ETRUNC);
		CHECK(why != NULL);
		proto_commit_free(&c);
		return;
	}
	CHECK(c.seq >= 1 && c.nops >= 1 && c.nops <= PROTO_MAX_OPS);
	touch(c.origin, PROTO_KEY_LEN);
	if (c.prev != NULL)
		touch(c.prev, PROTO_HASH_LEN);
	for (i = 0; i < c.nops; i++) {
		touch(c.ops[i].type, c.ops[i].type_len);
		touch(c.ops[i].id, PROTO_ID_LEN);
	}
	rc = proto_verify(sig, e, elen, network, c.origin);
	CHECK(rc == 0 || rc == CS_ESIG);
	proto_commit_free(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t network[PROTO_KEY_LEN];
	const char *why = NULL;
	size_t pos;
	int r;

	r = proto_bundle_parse_header(data, size, network, &why);
	if (r == 0) {
		CHECK(size < PROTO_BUNDLE_MAX_HEADER);
		return 0;
	}
	if (r < 0) {
		CHECK(r == CS_EDECODE || r == CS_EBOUND || r == CS_EVERSION ||
		    r == CS_ETRUNC);
		CHECK(why != NULL);
		return 0;
	}
	CHECK((size_t)r <= size && r <= PROTO_BUNDLE_MAX_HEADER);
	recheck_header(data, r, network);
	pos = (size_t)r;

	while (pos < size) {
		const uint8_t *buf = data + pos, *e = NULL, *sig = NULL;
		size_t len = size - pos, elen = 0;

		why = NULL;
		r = proto_bundle_parse_item(buf, len, &e, &elen, &sig, &why);
		if (r == 0) {
			/* A cut item: an importer reads more or stops. */
			CHECK(len < PROTO_BUNDLE_MAX_ITEM);
			break;
		}
		if (r < 0) {
			CHECK(r == CS_EDECODE || r == CS_EBOUND);
			CHECK(why != NULL);
			break;
		}
		CHECK((size_t)r <= len && (size_t)r <= PROTO_BUNDLE_MAX_ITEM);
		CHECK(elen <= PROTO_MAX_COMMIT);
		CHECK(e >= buf && e + elen <= buf + r);
		CHECK(sig >= e + elen && sig + PROTO_SIG_LEN == buf + r);
		touch(e, elen);
		touch(sig, PROTO_SIG_LEN);
		recheck_item(buf, r, (size_t)(e - buf), elen,
		    (size_t)(sig - buf));
		check_item(e, elen, sig, network);
		pos += (size_t)r;
	}
	return 0;
}
