/*
 * fuzz_zcodec.c: libFuzzer target for the ZCOMMITS decompressor
 * (proto/zcodec.c).
 *
 * Each input is tried two ways, with a fixed dictionary:
 *
 *   - as a ZCOMMITS message, given to zc_expand(): it must return 0 or a
 *     documented error with a cause, and on success produce at most
 *     WIRE_MAX_FRAME bytes plus the COMMITS header;
 *   - as a ZCOMMITS message whose one frame is the input itself, with the
 *     dictionary's id: the same promises (a hostile frame behind a
 *     well-formed message);
 *   - when the input is a COMMITS message that wire_msg_decode() accepts,
 *     zc_compress() then zc_expand() must give back its bytes exactly.
 *
 * Any broken promise aborts, which libFuzzer reports as a crash.
 *
 *   make fuzz
 *   ./build-fuzz/fuzz_zcodec -max_total_time=60
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/wire.h"
#include "proto/zcodec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_zcodec: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static struct zc_dict *dict;

/* Expands msg and checks the decompressor's promises. */
static void
expand(const uint8_t *msg, size_t len)
{
	struct proto_enc out;
	const char *cause = NULL;
	int rc;

	proto_enc_init(&out);
	rc = zc_expand(dict, msg, len, &out, &cause);
	CHECK(rc == 0 || rc == CS_EDECODE || rc == CS_EBOUND);
	if (rc != 0)
		CHECK(cause != NULL && out.sb.size == 0);
	else
		CHECK(out.sb.size <= WIRE_MAX_FRAME + 16);
	proto_enc_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_enc z, out;
	struct wire_msg m;
	const char *cause;
	uint8_t *copy;

	if (dict == NULL)
		dict = zc_dict_new((const uint8_t *)"\xa4" "cafe\xa4" "date"
		    "\xa5title\xa9" "attendees", 27);
	copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	expand(copy, size);
	proto_enc_init(&z);
	msgpack_pack_array(&z.pk, 5);
	msgpack_pack_uint64(&z.pk, WIRE_MSG_ZCOMMITS);
	msgpack_pack_uint64(&z.pk, 1);
	msgpack_pack_uint32(&z.pk, zc_dict_id(dict));
	msgpack_pack_uint64(&z.pk, 1);
	msgpack_pack_array(&z.pk, 1);
	msgpack_pack_bin(&z.pk, size);
	msgpack_pack_bin_body(&z.pk, copy, size);
	expand((const uint8_t *)z.sb.data, z.sb.size);
	if (wire_msg_decode(&m, copy, size, &cause) == 0) {
		if (m.type == WIRE_MSG_COMMITS) {
			proto_enc_init(&out);
			CHECK(zc_compress(dict, copy, size, &z) == 0);
			CHECK(zc_expand(dict, (const uint8_t *)z.sb.data,
			    z.sb.size, &out, &cause) == 0);
			CHECK(out.sb.size == size);
			CHECK(memcmp(out.sb.data, copy, size) == 0);
			proto_enc_free(&out);
		}
		wire_msg_free(&m);
	}
	proto_enc_free(&z);
	free(copy);
	return 0;
}
