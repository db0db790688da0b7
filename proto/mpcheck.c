/*
 * mpcheck.c: a structural pre-check of MessagePack bytes.
 *
 * msgpack-c's unpacker allocates an array's or map's element storage as
 * soon as it reads the header, so five hostile bytes declaring 2^32-1
 * elements would ask for gigabytes.  proto_mp_check() walks the headers
 * first, without allocating, and refuses any count that could not fit in
 * the bytes that remain (every element takes at least one byte), any
 * nesting deeper than asked, ext types, the reserved byte 0xc1, and
 * anything after the one top-level object.  Only bytes that pass are
 * handed to msgpack-c.
 */
#include <string.h>

#include "proto.h"

static uint64_t
be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;
	unsigned i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Checks buf holds exactly one bounded MessagePack object. */
int
proto_mp_check(const uint8_t *buf, size_t len, unsigned max_depth,
    const char **cause)
{
	uint64_t pending[PROTO_MAX_DEPTH + 2];
	unsigned depth = 0;
	size_t off = 0;
	const char *why = "malformed MessagePack";
	int err = CS_EDECODE;

	if (max_depth > PROTO_MAX_DEPTH)
		max_depth = PROTO_MAX_DEPTH;
	pending[0] = 1;		/* one top-level object */
	for (;;) {
		uint8_t b;
		uint64_t skip = 0, count = 0;
		unsigned hdr = 1, pairs = 0;

		while (pending[depth] == 0) {
			if (depth == 0) {
				if (off != len) {
					why = "trailing bytes after the object";
					goto bad;
				}
				return 0;
			}
			depth--;
		}
		if (off >= len) {
			why = "input ends inside an object";
			err = CS_ETRUNC;
			goto bad;
		}
		pending[depth]--;
		b = buf[off];
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3) {
			/* fixint, nil, bool */
		} else if (b >= 0x80 && b <= 0x8f) {
			count = b & 0x0f;
			pairs = 1;
		} else if (b >= 0x90 && b <= 0x9f) {
			count = b & 0x0f;
		} else if (b >= 0xa0 && b <= 0xbf) {
			skip = b & 0x1f;
		} else {
			unsigned n;

			switch (b) {
			case 0xc4: case 0xd9: n = 1; break;
			case 0xc5: case 0xda: n = 2; break;
			case 0xc6: case 0xdb: n = 4; break;
			case 0xca: n = 0; skip = 4; break;
			case 0xcb: n = 0; skip = 8; break;
			case 0xcc: case 0xd0: n = 0; skip = 1; break;
			case 0xcd: case 0xd1: n = 0; skip = 2; break;
			case 0xce: case 0xd2: n = 0; skip = 4; break;
			case 0xcf: case 0xd3: n = 0; skip = 8; break;
			case 0xdc: case 0xde: n = 2; break;
			case 0xdd: case 0xdf: n = 4; break;
			default:
				why = b == 0xc1 ? "reserved byte 0xc1" :
				    "ext types are not accepted";
				goto bad;
			}
			if (n > 0) {
				if (len - off < 1 + (size_t)n) {
					why = "input ends inside a header";
					err = CS_ETRUNC;
					goto bad;
				}
				hdr = 1 + n;
				if (b == 0xdc || b == 0xdd)
					count = be(buf + off + 1, n);
				else if (b == 0xde || b == 0xdf) {
					count = be(buf + off + 1, n);
					pairs = 1;
				} else
					skip = be(buf + off + 1, n);
			}
		}
		off += hdr;
		if (skip > len - off) {
			why = "input ends inside a value";
			err = CS_ETRUNC;
			goto bad;
		}
		off += (size_t)skip;
		if (count > 0) {
			if (pairs)
				count *= 2;
			if (count > len - off) {
				why = "a count exceeds the bytes that remain";
				err = CS_ETRUNC;
				goto bad;
			}
			if (depth + 1 > max_depth) {
				why = "nesting too deep";
				err = CS_EBOUND;
				goto bad;
			}
			pending[++depth] = count;
		}
	}
bad:
	if (cause != NULL)
		*cause = why;
	return err;
}
