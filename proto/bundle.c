/*
 * bundle.c: the plain bundle stream, sans I/O.
 *
 * A bundle is a header map {"format": "cafesync-bundle", "version": 1,
 * "network": bin 32} followed by items [E (bin), sig (bin 64)].  The
 * parsers take whatever bytes the caller has read so far and say how many
 * they used, or that they need more; they never read past len.
 */
#include <string.h>

#include "proto.h"

#define BUNDLE_FORMAT "cafesync-bundle"

/* Packs the bundle header. */
void
proto_bundle_header(struct proto_enc *w, const uint8_t network[PROTO_KEY_LEN])
{
	msgpack_pack_map(&w->pk, 3);
	proto_pack_cstr(&w->pk, "format");
	proto_pack_cstr(&w->pk, BUNDLE_FORMAT);
	proto_pack_cstr(&w->pk, "version");
	msgpack_pack_uint64(&w->pk, PROTO_BUNDLE_VERSION);
	proto_pack_cstr(&w->pk, "network");
	msgpack_pack_bin(&w->pk, PROTO_KEY_LEN);
	msgpack_pack_bin_body(&w->pk, network, PROTO_KEY_LEN);
}

/* Packs one item. */
void
proto_bundle_item(struct proto_enc *w, const uint8_t *e, size_t len,
    const uint8_t sig[PROTO_SIG_LEN])
{
	msgpack_pack_array(&w->pk, 2);
	msgpack_pack_bin(&w->pk, len);
	msgpack_pack_bin_body(&w->pk, e, len);
	msgpack_pack_bin(&w->pk, PROTO_SIG_LEN);
	msgpack_pack_bin_body(&w->pk, sig, PROTO_SIG_LEN);
}

/* Returns whether the str object o equals s. */
static int
str_is(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	    memcmp(o->via.str.ptr, s, n) == 0;
}

/*
 * Parses the header.  The header's length is not known before it is
 * parsed, so a truncated check with more bytes possible means "need more".
 */
int
proto_bundle_parse_header(const uint8_t *buf, size_t len,
    uint8_t network[PROTO_KEY_LEN], const char **cause)
{
	char zbuf[2048];
	msgpack_zone zone;
	msgpack_object o;
	size_t off = 0, hlen, i;
	const char *why = "bundle header is not a MessagePack map";
	int err = CS_EDECODE, have = 0, seen = 0;

	if (len == 0)
		return 0;
	if (buf[0] < 0x80 || buf[0] > 0x8f) {
		why = "not a cafesync bundle (no header map)";
		goto bad;
	}
	/* Find the header's end: try growing prefixes up to the bound. */
	for (hlen = 1; hlen <= len && hlen <= PROTO_BUNDLE_MAX_HEADER; hlen++) {
		err = proto_mp_check(buf, hlen, 2, &why);
		if (err == 0 || err != CS_ETRUNC)
			break;
	}
	if (err == CS_ETRUNC || hlen > len) {
		if (len < PROTO_BUNDLE_MAX_HEADER)
			return 0;
		why = "bundle header exceeds its bound";
		err = CS_EBOUND;
		goto bad;
	}
	if (err != 0)
		goto bad;
	msgpack_zone_init(&zone, sizeof(zbuf));
	if (msgpack_unpack((const char *)buf, hlen, &off, &zone, &o) !=
	    MSGPACK_UNPACK_SUCCESS || o.type != MSGPACK_OBJECT_MAP) {
		msgpack_zone_destroy(&zone);
		err = CS_EDECODE;
		goto bad;
	}
	err = CS_EDECODE;
	why = NULL;
	for (i = 0; i < o.via.map.size && why == NULL; i++) {
		const msgpack_object *k = &o.via.map.ptr[i].key;
		const msgpack_object *v = &o.via.map.ptr[i].val;

		if (str_is(k, "format")) {
			if (!str_is(v, BUNDLE_FORMAT))
				why = "not a cafesync bundle (format)";
			seen |= 1;
		} else if (str_is(k, "version")) {
			if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    v->via.u64 != PROTO_BUNDLE_VERSION) {
				why = "unsupported bundle version";
				err = CS_EVERSION;
			}
			seen |= 2;
		} else if (str_is(k, "network")) {
			if (v->type != MSGPACK_OBJECT_BIN ||
			    v->via.bin.size != PROTO_KEY_LEN)
				why = "bundle network is not bin 32";
			else {
				memcpy(network, v->via.bin.ptr, PROTO_KEY_LEN);
				have = 1;
			}
			seen |= 4;
		}
	}
	msgpack_zone_destroy(&zone);
	if (why == NULL && (seen != 7 || !have))
		why = "bundle header lacks format, version or network";
	if (why != NULL)
		goto bad;
	return (int)hlen;
bad:
	if (cause != NULL)
		*cause = why;
	return err;
}

/* Reads a bin header at p (n bytes available); returns its size or -1. */
static int
bin_header(const uint8_t *p, size_t n, size_t *hdr, size_t *size)
{
	if (n < 1)
		return 0;
	switch (p[0]) {
	case 0xc4:
		*hdr = 2;
		break;
	case 0xc5:
		*hdr = 3;
		break;
	case 0xc6:
		*hdr = 5;
		break;
	default:
		return -1;
	}
	if (n < *hdr)
		return 0;
	if (*hdr == 2)
		*size = p[1];
	else if (*hdr == 3)
		*size = (size_t)p[1] << 8 | p[2];
	else
		*size = (size_t)p[1] << 24 | (size_t)p[2] << 16 |
		    (size_t)p[3] << 8 | p[4];
	return 1;
}

/* Parses one item. */
int
proto_bundle_parse_item(const uint8_t *buf, size_t len, const uint8_t **e,
    size_t *elen, const uint8_t **sig, const char **cause)
{
	size_t off = 1, hdr, size;
	const char *why;
	int r;

	if (len == 0)
		return 0;
	if (buf[0] != 0x92) {
		why = "item is not an array of 2";
		goto bad;
	}
	r = bin_header(buf + off, len - off, &hdr, &size);
	if (r == 0)
		return 0;
	if (r < 0) {
		why = "commit bytes are not a bin";
		goto bad;
	}
	if (size > PROTO_MAX_COMMIT) {
		why = "commit exceeds the size bound";
		if (cause != NULL)
			*cause = why;
		return CS_EBOUND;
	}
	off += hdr;
	if (len - off < size)
		return 0;
	*e = buf + off;
	*elen = size;
	off += size;
	r = bin_header(buf + off, len - off, &hdr, &size);
	if (r == 0)
		return 0;
	if (r < 0 || size != PROTO_SIG_LEN) {
		why = "signature is not bin 64";
		goto bad;
	}
	off += hdr;
	if (len - off < size)
		return 0;
	*sig = buf + off;
	return (int)(off + size);
bad:
	if (cause != NULL)
		*cause = why;
	return CS_EDECODE;
}
