/*
 * zcodec.c: COMMITS batches compressed per origin run with zstd and a
 * dictionary of raw content (the schema's names and tokens, built by
 * storage/zdict.c).  Each run is its own frame, compressed by a context
 * reset before it, so no frame's size depends on another origin's bytes
 * (docs/security.md, "Compression").  Decompression is bounded by
 * WIRE_MAX_FRAME before any byte is produced.
 */
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>
#include <zstd.h>

#include "proto/wire.h"
#include "proto/zcodec.h"

struct zc_dict {
	uint32_t id;
	ZSTD_CDict *cdict;
	ZSTD_DDict *ddict;
};

/* Makes a dictionary of raw content; its id is derived from the bytes. */
struct zc_dict *
zc_dict_new(const uint8_t *content, size_t len)
{
	struct zc_dict *d;
	uint8_t h[crypto_generichash_BYTES];

	d = calloc(1, sizeof(*d));
	if (d == NULL)
		abort();
	crypto_generichash(h, sizeof(h), content, len, NULL, 0);
	d->id = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 |
	    (uint32_t)h[2] << 8 | h[3];
	if (d->id == ZC_NONE)
		d->id = 1;
	/* Content that does not open with zstd's dictionary magic is taken
	 * as raw content (a MessagePack str never does). */
	d->cdict = ZSTD_createCDict(content, len, ZC_LEVEL);
	d->ddict = ZSTD_createDDict(content, len);
	if (d->cdict == NULL || d->ddict == NULL)
		abort();
	return d;
}

/* Returns the dictionary's id. */
uint32_t
zc_dict_id(const struct zc_dict *d)
{
	return d->id;
}

/* Frees a dictionary.  Safe on NULL. */
void
zc_dict_free(struct zc_dict *d)
{
	if (d == NULL)
		return;
	ZSTD_freeCDict(d->cdict);
	ZSTD_freeDDict(d->ddict);
	free(d);
}

/*
 * Returns the origin of commit bytes E, or NULL when E does not start as
 * a commit does: such an item is then a run of its own.
 */
static const uint8_t *
origin_of(const uint8_t *e, size_t len)
{
	return proto_commit_origin(e, len);
}

/* Compresses run into one frame appended to out as a bin. */
static void
pack_frame(ZSTD_CCtx *cctx, const struct zc_dict *d,
    const msgpack_sbuffer *run, struct proto_enc *out, uint8_t **buf,
    size_t *cap)
{
	size_t bound = ZSTD_compressBound(run->size), n;

	if (bound > *cap) {
		free(*buf);
		*buf = malloc(bound);
		if (*buf == NULL)
			abort();
		*cap = bound;
	}
	/* A fresh session per run: nothing of the last run carries over. */
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
	n = ZSTD_compress_usingCDict(cctx, *buf, *cap, run->data, run->size,
	    d->cdict);
	if (ZSTD_isError(n))
		abort();
	msgpack_pack_bin(&out->pk, n);
	msgpack_pack_bin_body(&out->pk, *buf, n);
}

/* Packs the ZCOMMITS message for a COMMITS message, one frame a run. */
int
zc_compress(const struct zc_dict *d, const uint8_t *msg, size_t len,
    struct proto_enc *out)
{
	msgpack_unpacked u;
	const msgpack_object *a, *it;
	const uint8_t *o, *prev = NULL;
	const char *why;
	struct proto_enc run;
	ZSTD_CCtx *cctx;
	uint8_t *buf = NULL;
	size_t cap = 0, off = 0, i, nruns = 0, nitems;
	int err = CS_EDECODE;

	msgpack_unpacked_init(&u);
	proto_enc_init(&run);
	cctx = ZSTD_createCCtx();
	if (cctx == NULL)
		abort();
	if (proto_mp_check(msg, len, 3, &why) != 0 ||
	    msgpack_unpack_next(&u, (const char *)msg, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len ||
	    u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 3)
		goto fail;
	a = u.data.via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[0].via.u64 != WIRE_MSG_COMMITS ||
	    a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[2].type != MSGPACK_OBJECT_ARRAY)
		goto fail;
	nitems = a[2].via.array.size;
	for (i = 0; i < nitems; i++) {
		it = &a[2].via.array.ptr[i];
		if (it->type != MSGPACK_OBJECT_ARRAY ||
		    it->via.array.size != 2 ||
		    it->via.array.ptr[0].type != MSGPACK_OBJECT_BIN ||
		    it->via.array.ptr[1].type != MSGPACK_OBJECT_BIN ||
		    it->via.array.ptr[1].via.bin.size != PROTO_SIG_LEN)
			goto fail;
	}
	/* Count the runs first: the frames array's header comes before. */
	for (i = 0; i < nitems; i++) {
		it = a[2].via.array.ptr[i].via.array.ptr;
		o = origin_of((const uint8_t *)it[0].via.bin.ptr,
		    it[0].via.bin.size);
		if (i == 0 || o == NULL || prev == NULL ||
		    memcmp(o, prev, PROTO_KEY_LEN) != 0)
			nruns++;
		prev = o;
	}
	proto_enc_reset(out);
	msgpack_pack_array(&out->pk, 5);
	msgpack_pack_uint64(&out->pk, WIRE_MSG_ZCOMMITS);
	msgpack_pack_uint64(&out->pk, a[1].via.u64);
	msgpack_pack_uint32(&out->pk, d->id);
	msgpack_pack_uint64(&out->pk, nitems);
	msgpack_pack_array(&out->pk, nruns);
	prev = NULL;
	for (i = 0; i < nitems; i++) {
		it = a[2].via.array.ptr[i].via.array.ptr;
		o = origin_of((const uint8_t *)it[0].via.bin.ptr,
		    it[0].via.bin.size);
		if (i > 0 && (o == NULL || prev == NULL ||
		    memcmp(o, prev, PROTO_KEY_LEN) != 0)) {
			pack_frame(cctx, d, &run.sb, out, &buf, &cap);
			proto_enc_reset(&run);
		}
		proto_bundle_item(&run, (const uint8_t *)it[0].via.bin.ptr,
		    it[0].via.bin.size, (const uint8_t *)it[1].via.bin.ptr);
		prev = o;
	}
	if (nitems > 0)
		pack_frame(cctx, d, &run.sb, out, &buf, &cap);
	err = 0;
fail:
	free(buf);
	ZSTD_freeCCtx(cctx);
	proto_enc_free(&run);
	msgpack_unpacked_destroy(&u);
	return err;
}

/* Expands a ZCOMMITS message into the COMMITS message it stands for. */
int
zc_expand(const struct zc_dict *d, const uint8_t *msg, size_t len,
    struct proto_enc *out, const char **cause)
{
	msgpack_unpacked u;
	const msgpack_object *a, *f;
	ZSTD_DCtx *dctx = NULL;
	unsigned long long claim;
	uint8_t *buf = NULL;
	size_t off = 0, i, got, total;
	int err = CS_EDECODE;

	*cause = "message: zcommits is not [type, batch, dict, n, [frame, "
	    "...]]";
	msgpack_unpacked_init(&u);
	proto_enc_reset(out);
	/* Declared counts checked against the bytes before any allocation. */
	if (proto_mp_check(msg, len, 3, cause) != 0)
		goto fail;
	*cause = "message: zcommits is not [type, batch, dict, n, [frame, "
	    "...]]";
	if (msgpack_unpack_next(&u, (const char *)msg, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len ||
	    u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 5)
		goto fail;
	a = u.data.via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[0].via.u64 != WIRE_MSG_ZCOMMITS ||
	    a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[4].type != MSGPACK_OBJECT_ARRAY)
		goto fail;
	if (d == NULL || a[2].via.u64 != d->id) {
		*cause = "message: zcommits names a dictionary not offered";
		goto fail;
	}
	if (a[3].via.u64 == 0 || a[3].via.u64 > WIRE_MAX_FRAME ||
	    a[4].via.array.size == 0) {
		*cause = "message: zcommits without commits";
		goto fail;
	}
	dctx = ZSTD_createDCtx();
	if (dctx == NULL)
		abort();
	msgpack_pack_array(&out->pk, 3);
	msgpack_pack_uint64(&out->pk, WIRE_MSG_COMMITS);
	msgpack_pack_uint64(&out->pk, a[1].via.u64);
	msgpack_pack_array(&out->pk, (uint32_t)a[3].via.u64);
	total = out->sb.size;
	for (i = 0; i < a[4].via.array.size; i++) {
		f = &a[4].via.array.ptr[i];
		if (f->type != MSGPACK_OBJECT_BIN) {
			*cause = "message: a zcommits frame is not a bin";
			goto fail;
		}
		claim = ZSTD_getFrameContentSize(f->via.bin.ptr,
		    f->via.bin.size);
		if (claim == ZSTD_CONTENTSIZE_UNKNOWN ||
		    claim == ZSTD_CONTENTSIZE_ERROR || claim == 0) {
			*cause = "message: a zcommits frame without its size";
			goto fail;
		}
		if (claim > WIRE_MAX_FRAME - total) {
			*cause = "message: a zcommits frame claims more than "
			    "a batch may hold";
			err = CS_EBOUND;
			goto fail;
		}
		free(buf);
		buf = malloc(claim);
		if (buf == NULL)
			abort();
		ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
		got = ZSTD_decompress_usingDDict(dctx, buf, claim,
		    f->via.bin.ptr, f->via.bin.size, d->ddict);
		if (ZSTD_isError(got) || got != claim) {
			*cause = "message: a zcommits frame does not "
			    "decompress";
			goto fail;
		}
		msgpack_sbuffer_write(&out->sb, (const char *)buf, got);
		total += got;
	}
	err = 0;
fail:
	free(buf);
	ZSTD_freeDCtx(dctx);
	msgpack_unpacked_destroy(&u);
	if (err != 0)
		proto_enc_reset(out);
	return err;
}
