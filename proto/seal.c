/*
 * seal.c: sealed bundles, sans I/O.
 *
 * A sealed bundle is a plain bundle encrypted to one node: a fixed
 * header naming the recipient and carrying a fresh ephemeral X25519 key,
 * then the plain bundle's bytes cut into crypto_secretstream chunks, the
 * last tagged TAG_FINAL.  The secretstream's nonce advances with every
 * chunk, so a chunk altered, dropped, repeated or moved fails to open, and
 * a file cut at a chunk boundary lacks its final tag.  Nothing here reads
 * or writes a file: the caller hands bytes in and gets bytes out.  The
 * layout is documented in docs/formats.md, "Sealed bundle".
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto.h"

/* Offsets in the header. */
#define HDR_VERSION PROTO_SEAL_MAGIC_LEN                /* 15 */
#define HDR_RECIPIENT (HDR_VERSION + 1)                 /* 16 */
#define HDR_EPH (HDR_RECIPIENT + PROTO_KEY_LEN)         /* 48 */
#define HDR_STREAM (HDR_EPH + crypto_scalarmult_BYTES)  /* 80 */

_Static_assert(HDR_STREAM +
    crypto_secretstream_xchacha20poly1305_HEADERBYTES ==
    PROTO_SEAL_HEADER_LEN, "sealed header layout");
_Static_assert(PROTO_SEAL_OVERHEAD ==
    4 + crypto_secretstream_xchacha20poly1305_ABYTES, "sealed chunk overhead");
_Static_assert(crypto_secretstream_xchacha20poly1305_KEYBYTES == 32,
    "stream key size");

#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

struct proto_seal {
	crypto_secretstream_xchacha20poly1305_state st;
	uint64_t chunks;     /* chunks sealed or opened so far */
	int done;            /* the final chunk was sealed or opened */
	int failed;          /* a chunk failed to open: the stream is dead */
};

/* Returns whether buf starts with the magic, or with a prefix of it. */
int
proto_seal_detect(const uint8_t *buf, size_t len)
{
	size_t n = len < PROTO_SEAL_MAGIC_LEN ? len : PROTO_SEAL_MAGIC_LEN;

	return n > 0 && memcmp(buf, PROTO_SEAL_MAGIC, n) == 0;
}

/* Checks that key converts to a curve25519 key. */
int
proto_seal_key_check(const uint8_t key[PROTO_KEY_LEN], const char **cause)
{
	uint8_t x[crypto_scalarmult_BYTES];

	if (crypto_sign_ed25519_pk_to_curve25519(x, key) != 0) {
		if (cause != NULL)
			*cause = "not a node id (not an ed25519 public key)";
		return CS_EUSAGE;
	}
	return 0;
}

/*
 * Derives the stream key from the X25519 shared point q and the first
 * HDR_STREAM bytes of the header: BLAKE2b-256 keyed with q over
 * PROTO_SEAL_DOMAIN || header[0..80).
 */
static void
derive_key(uint8_t key[32], const uint8_t q[crypto_scalarmult_BYTES],
    const uint8_t *hdr)
{
	crypto_generichash_state h;

	crypto_generichash_init(&h, q, crypto_scalarmult_BYTES, 32);
	crypto_generichash_update(&h, (const uint8_t *)PROTO_SEAL_DOMAIN,
	    sizeof(PROTO_SEAL_DOMAIN) - 1);
	crypto_generichash_update(&h, hdr, HDR_STREAM);
	crypto_generichash_final(&h, key, 32);
	sodium_memzero(&h, sizeof(h));
}

/* Starts a sealing stream and writes the header. */
int
proto_seal_begin(struct proto_seal **sp, uint8_t hdr[PROTO_SEAL_HEADER_LEN],
    const uint8_t recipient[PROTO_KEY_LEN], const char **cause)
{
	uint8_t rx[crypto_scalarmult_BYTES], esk[crypto_scalarmult_SCALARBYTES];
	uint8_t q[crypto_scalarmult_BYTES], key[32];
	struct proto_seal *ps;
	int rc;

	*sp = NULL;
	if (crypto_sign_ed25519_pk_to_curve25519(rx, recipient) != 0)
		return proto_seal_key_check(recipient, cause);
	memcpy(hdr, PROTO_SEAL_MAGIC, PROTO_SEAL_MAGIC_LEN);
	hdr[HDR_VERSION] = PROTO_SEAL_VERSION;
	memcpy(hdr + HDR_RECIPIENT, recipient, PROTO_KEY_LEN);
	/*
	 * A shared point of all zeros (a recipient key of small order) would
	 * make the key public; crypto_scalarmult() refuses it, and so do we.
	 */
	randombytes_buf(esk, sizeof(esk));
	crypto_scalarmult_base(hdr + HDR_EPH, esk);
	rc = crypto_scalarmult(q, esk, rx);
	sodium_memzero(esk, sizeof(esk));
	if (rc != 0) {
		sodium_memzero(q, sizeof(q));
		if (cause != NULL)
			*cause = "not a node id (a key of small order)";
		return CS_EUSAGE;
	}
	derive_key(key, q, hdr);
	sodium_memzero(q, sizeof(q));
	ps = xcalloc(1, sizeof(*ps));
	crypto_secretstream_xchacha20poly1305_init_push(&ps->st,
	    hdr + HDR_STREAM, key);
	sodium_memzero(key, sizeof(key));
	*sp = ps;
	return 0;
}

/* Seals one chunk. */
int
proto_seal_push(struct proto_seal *ps, uint8_t *out, const uint8_t *in,
    size_t len, int final)
{
	unsigned long long clen;

	if (ps->done || len > PROTO_SEAL_CHUNK)
		return CS_EUSAGE;
	clen = len + crypto_secretstream_xchacha20poly1305_ABYTES;
	out[0] = (uint8_t)(clen >> 24);
	out[1] = (uint8_t)(clen >> 16);
	out[2] = (uint8_t)(clen >> 8);
	out[3] = (uint8_t)clen;
	crypto_secretstream_xchacha20poly1305_push(&ps->st, out + 4, NULL, in,
	    len, NULL, 0, final ? TAG_FINAL : TAG_MESSAGE);
	ps->chunks++;
	ps->done = final != 0;
	return (int)(4 + clen);
}

/* Parses the header's fixed fields. */
int
proto_seal_parse_header(const uint8_t *buf, size_t len,
    uint8_t recipient[PROTO_KEY_LEN], const char **cause)
{
	const char *why;
	int err = CS_EDECODE;

	if (!proto_seal_detect(buf, len)) {
		why = "not a sealed bundle (magic)";
		goto bad;
	}
	if (len < PROTO_SEAL_HEADER_LEN) {
		why = "file ends inside the header";
		err = CS_ETRUNC;
		goto bad;
	}
	if (buf[HDR_VERSION] != PROTO_SEAL_VERSION) {
		why = "unsupported sealed bundle version";
		err = CS_EVERSION;
		goto bad;
	}
	memcpy(recipient, buf + HDR_RECIPIENT, PROTO_KEY_LEN);
	return 0;
bad:
	if (cause != NULL)
		*cause = why;
	return err;
}

/* Starts an opening stream with this node's secret key. */
int
proto_seal_open_begin(struct proto_seal **sp,
    const uint8_t hdr[PROTO_SEAL_HEADER_LEN], const uint8_t sk[PROTO_SK_LEN],
    const char **cause)
{
	uint8_t recipient[PROTO_KEY_LEN], xsk[crypto_scalarmult_SCALARBYTES];
	uint8_t q[crypto_scalarmult_BYTES], key[32];
	struct proto_seal *ps;
	int rc;

	*sp = NULL;
	if ((rc = proto_seal_parse_header(hdr, PROTO_SEAL_HEADER_LEN,
	    recipient, cause)) != 0)
		return rc;
	/* The public half of a libsodium secret key is its last 32 bytes. */
	if (sodium_memcmp(recipient, sk + PROTO_SK_LEN - PROTO_KEY_LEN,
	    PROTO_KEY_LEN) != 0) {
		if (cause != NULL)
			*cause = "sealed to another node";
		return CS_EPERM;
	}
	if (crypto_sign_ed25519_sk_to_curve25519(xsk, sk) != 0) {
		if (cause != NULL)
			*cause = "this node's key has no curve25519 form";
		return CS_EUSAGE;
	}
	rc = crypto_scalarmult(q, xsk, hdr + HDR_EPH);
	sodium_memzero(xsk, sizeof(xsk));
	if (rc != 0) {
		sodium_memzero(q, sizeof(q));
		if (cause != NULL)
			*cause = "header: the ephemeral key is unusable";
		return CS_ESIG;
	}
	derive_key(key, q, hdr);
	sodium_memzero(q, sizeof(q));
	ps = xcalloc(1, sizeof(*ps));
	rc = crypto_secretstream_xchacha20poly1305_init_pull(&ps->st,
	    hdr + HDR_STREAM, key);
	sodium_memzero(key, sizeof(key));
	if (rc != 0) {
		proto_seal_free(ps);
		if (cause != NULL)
			*cause = "header: the stream header is unusable";
		return CS_ESIG;
	}
	*sp = ps;
	return 0;
}

/* Opens one chunk. */
int
proto_seal_pull(struct proto_seal *ps, const uint8_t *buf, size_t len,
    uint8_t *out, size_t *outlen, int *final, const char **cause)
{
	unsigned long long mlen = 0;
	const char *why;
	unsigned char tag = 0;
	size_t clen;
	int err;

	if (ps->failed) {
		why = "the stream already failed";
		err = CS_ESIG;
		goto bad;
	}
	if (ps->done) {
		why = "data after the final chunk";
		err = CS_EDECODE;
		goto bad;
	}
	if (len < 4)
		return 0;
	clen = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 |
	    (size_t)buf[2] << 8 | buf[3];
	if (clen < crypto_secretstream_xchacha20poly1305_ABYTES ||
	    clen > PROTO_SEAL_MAX_SEALED - 4) {
		why = "length out of bounds";
		err = CS_EBOUND;
		goto bad;
	}
	if (len - 4 < clen)
		return 0;
	if (crypto_secretstream_xchacha20poly1305_pull(&ps->st, out, &mlen,
	    &tag, buf + 4, clen, NULL, 0) != 0) {
		why = "does not authenticate (damaged, altered or out of "
		    "order)";
		err = CS_ESIG;
		goto bad;
	}
	if (tag != TAG_MESSAGE && tag != TAG_FINAL) {
		sodium_memzero(out, (size_t)mlen);
		why = "unknown tag";
		err = CS_EDECODE;
		goto bad;
	}
	ps->chunks++;
	ps->done = tag == TAG_FINAL;
	*outlen = (size_t)mlen;
	*final = ps->done;
	return (int)(4 + clen);
bad:
	ps->failed = 1;
	if (cause != NULL)
		*cause = why;
	return err;
}

/* Returns the chunks done so far. */
uint64_t
proto_seal_chunks(const struct proto_seal *ps)
{
	return ps->chunks;
}

/* Wipes and frees a stream state. */
void
proto_seal_free(struct proto_seal *ps)
{
	if (ps == NULL)
		return;
	sodium_memzero(ps, sizeof(*ps));
	free(ps);
}
