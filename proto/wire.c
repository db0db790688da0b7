/*
 * wire.c: the wire protocol of wire.h, sans I/O.
 *
 * A connection is a small state machine.  In WIRE_ST_HELLO it collects the
 * other side's 41-byte hello (M1 on the accepting side, M2 on the
 * connecting side), checks the magic and version as the bytes arrive,
 * derives the transcript hash and the session keys, and answers with its
 * own hello (S) or its sealed AUTH (C).  In WIRE_ST_AUTH it collects the
 * other side's 153-byte sealed AUTH, opens it, checks the key and the
 * transcript signature and, on the accepting side, asks the caller whether
 * the key may connect before it answers with its own AUTH.  In
 * WIRE_ST_OPEN it reassembles length-prefixed frames and opens each with
 * the receiving secretstream.  Every error ends in WIRE_ST_FAILED with the
 * secrets wiped.
 *
 * Nothing a peer sends before the handshake is done is buffered beyond
 * the handshake message expected (at most WIRE_M3_LEN bytes); after it, a
 * frame's buffer grows only to a declared length already checked against
 * the limit.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wire.h"

#define HS_DOMAIN "cafesync-handshake-v1"
#define AUTH_DOMAIN "cafesync-auth-v1"
#define AUTH_MSG_LEN (sizeof(AUTH_DOMAIN) - 1 + 1 + PROTO_HASH_LEN + \
	PROTO_KEY_LEN + WIRE_ROLE_LEN)

/* Offsets inside AUTH_X. */
#define AUTH_KEY 0
#define AUTH_ROLE PROTO_KEY_LEN
#define AUTH_SIG (PROTO_KEY_LEN + WIRE_ROLE_LEN)

/* Offsets inside a hello. */
#define HELLO_VERSION WIRE_MAGIC_LEN
#define HELLO_EPH (WIRE_MAGIC_LEN + 1)


/*
 * Wipes every secret w holds (the static and ephemeral secret keys, the
 * session keys and both stream states) and the handshake buffers.
 */
static void
wipe_secrets(struct wire *w)
{
	sodium_memzero(w->sk, sizeof(w->sk));
	sodium_memzero(w->eph_sk, sizeof(w->eph_sk));
	sodium_memzero(w->rxkey, sizeof(w->rxkey));
	sodium_memzero(w->txkey, sizeof(w->txkey));
	sodium_memzero(&w->tx, sizeof(w->tx));
	sodium_memzero(&w->rx, sizeof(w->rx));
	sodium_memzero(w->hs_in, sizeof(w->hs_in));
	sodium_memzero(w->hs_out, sizeof(w->hs_out));
}

/* Ends the connection: state FAILED, secrets wiped; returns err. */
static int
fail(struct wire *w, int err, const char *why, const char **cause)
{
	w->state = WIRE_ST_FAILED;
	wipe_secrets(w);
	if (cause != NULL)
		*cause = why;
	return err;
}

/* Sets up a connection's state and makes its ephemeral key pair. */
void
wire_init(struct wire *w, int initiator, const uint8_t network[PROTO_KEY_LEN],
    const uint8_t sk[PROTO_SK_LEN], const char *role, const uint8_t *expect,
    wire_authorize_fn authorize, void *authorize_arg)
{
	size_t n;

	memset(w, 0, sizeof(*w));
	w->state = WIRE_ST_HELLO;
	w->max_frame = WIRE_MAX_FRAME;
	w->initiator = initiator != 0;
	memcpy(w->network, network, PROTO_KEY_LEN);
	memcpy(w->sk, sk, PROTO_SK_LEN);
	n = strnlen(role, WIRE_ROLE_LEN - 1);
	memcpy(w->role, role, n);	/* the rest stays NUL */
	/*
	 * Without a dialed key (C) or a callback (S) no peer can be proven
	 * acceptable: expect stays zero, which no key matches, and a NULL
	 * authorize refuses everyone.  Both fail closed.
	 */
	if (initiator && expect != NULL)
		memcpy(w->expect, expect, PROTO_KEY_LEN);
	w->authorize = authorize;
	w->authorize_arg = authorize_arg;
	crypto_kx_keypair(w->eph_pk, w->eph_sk);
}

/* Wipes the keys and frees the frame buffer; w is left FAILED. */
void
wire_free(struct wire *w)
{
	if (w->frame != NULL) {
		sodium_memzero(w->frame, w->frame_cap);
		free(w->frame);
	}
	sodium_memzero(w, sizeof(*w));
	w->state = WIRE_ST_FAILED;
}

/* Writes this side's hello (magic, version, ephemeral key) into out. */
static void
hello_build(const struct wire *w, uint8_t out[WIRE_HELLO_LEN])
{
	memcpy(out, WIRE_MAGIC, WIRE_MAGIC_LEN);
	out[HELLO_VERSION] = WIRE_VERSION;
	memcpy(out + HELLO_EPH, w->eph_pk, crypto_kx_PUBLICKEYBYTES);
}

/* Returns M1 (initiator only; NULL on the accepting side). */
const uint8_t *
wire_start(struct wire *w, size_t *len)
{
	*len = 0;
	if (!w->initiator || w->state != WIRE_ST_HELLO)
		return NULL;
	hello_build(w, w->hs_out);
	*len = WIRE_HELLO_LEN;
	return w->hs_out;
}

/*
 * Computes the transcript hash T and the two session keys, each bound to
 * T by keyed BLAKE2b.  Returns 0, or -1 when the peer's ephemeral key is
 * one crypto_kx refuses.  The ephemeral secret key is wiped either way.
 */
static int
derive(struct wire *w)
{
	crypto_generichash_state h;
	uint8_t rx[crypto_kx_SESSIONKEYBYTES], tx[crypto_kx_SESSIONKEYBYTES];
	const uint8_t *eph_c, *eph_s;
	uint8_t version = WIRE_VERSION;
	int rc;

	eph_c = w->initiator ? w->eph_pk : w->peer_eph;
	eph_s = w->initiator ? w->peer_eph : w->eph_pk;
	crypto_generichash_init(&h, NULL, 0, PROTO_HASH_LEN);
	crypto_generichash_update(&h, (const uint8_t *)HS_DOMAIN,
	    sizeof(HS_DOMAIN) - 1);
	crypto_generichash_update(&h, &version, 1);
	crypto_generichash_update(&h, w->network, PROTO_KEY_LEN);
	crypto_generichash_update(&h, eph_c, crypto_kx_PUBLICKEYBYTES);
	crypto_generichash_update(&h, eph_s, crypto_kx_PUBLICKEYBYTES);
	crypto_generichash_final(&h, w->transcript, PROTO_HASH_LEN);

	if (w->initiator)
		rc = crypto_kx_client_session_keys(rx, tx, w->eph_pk,
		    w->eph_sk, w->peer_eph);
	else
		rc = crypto_kx_server_session_keys(rx, tx, w->eph_pk,
		    w->eph_sk, w->peer_eph);
	sodium_memzero(w->eph_sk, sizeof(w->eph_sk));
	if (rc == 0) {
		crypto_generichash(w->rxkey, sizeof(w->rxkey), w->transcript,
		    PROTO_HASH_LEN, rx, sizeof(rx));
		crypto_generichash(w->txkey, sizeof(w->txkey), w->transcript,
		    PROTO_HASH_LEN, tx, sizeof(tx));
	}
	sodium_memzero(rx, sizeof(rx));
	sodium_memzero(tx, sizeof(tx));
	sodium_memzero(&h, sizeof(h));
	return rc == 0 ? 0 : -1;
}

/*
 * Lays out what AUTH_X's signature covers: "cafesync-auth-v1" || dir ||
 * T || key || role.
 */
static void
auth_message(uint8_t out[AUTH_MSG_LEN], uint8_t dir,
    const uint8_t transcript[PROTO_HASH_LEN], const uint8_t key[PROTO_KEY_LEN],
    const uint8_t role[WIRE_ROLE_LEN])
{
	size_t off = sizeof(AUTH_DOMAIN) - 1;

	memcpy(out, AUTH_DOMAIN, off);
	out[off++] = dir;
	memcpy(out + off, transcript, PROTO_HASH_LEN);
	off += PROTO_HASH_LEN;
	memcpy(out + off, key, PROTO_KEY_LEN);
	off += PROTO_KEY_LEN;
	memcpy(out + off, role, WIRE_ROLE_LEN);
}

/*
 * Writes M3 (C) or M4 (S) into hs_out: opens the sending stream with the
 * bound tx key (its header first), then seals AUTH as the stream's first
 * message.  The static secret key and the tx key are wiped after.
 */
static void
auth_build(struct wire *w)
{
	uint8_t auth[WIRE_AUTH_LEN], msg[AUTH_MSG_LEN];
	const uint8_t *pk = w->sk + (PROTO_SK_LEN - PROTO_KEY_LEN);

	crypto_secretstream_xchacha20poly1305_init_push(&w->tx, w->hs_out,
	    w->txkey);
	memcpy(auth + AUTH_KEY, pk, PROTO_KEY_LEN);
	memcpy(auth + AUTH_ROLE, w->role, WIRE_ROLE_LEN);
	auth_message(msg, w->initiator ? 'C' : 'S', w->transcript, pk,
	    auth + AUTH_ROLE);
	crypto_sign_detached(auth + AUTH_SIG, NULL, msg, sizeof(msg), w->sk);
	crypto_secretstream_xchacha20poly1305_push(&w->tx,
	    w->hs_out + WIRE_HDR_LEN, NULL, auth, sizeof(auth), NULL, 0,
	    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	sodium_memzero(w->sk, sizeof(w->sk));
	sodium_memzero(w->txkey, sizeof(w->txkey));
}

/*
 * Returns whether a role field is canonical: 1 to 15 lowercase letters,
 * then NULs to the end (so it is a C string with nothing hidden after).
 */
static int
role_ok(const uint8_t role[WIRE_ROLE_LEN])
{
	size_t i = 0;

	while (i < WIRE_ROLE_LEN && role[i] >= 'a' && role[i] <= 'z')
		i++;
	if (i == 0 || i == WIRE_ROLE_LEN)
		return 0;
	for (; i < WIRE_ROLE_LEN; i++)
		if (role[i] != '\0')
			return 0;
	return 1;
}

/* Collects the peer's hello; at its end derives keys and answers. */
static int
feed_hello(struct wire *w, const uint8_t *in, size_t len, size_t *used,
    struct wire_event *ev, const char **cause)
{
	size_t n, i;
	const char *why;
	int err = CS_EDECODE;

	n = WIRE_HELLO_LEN - w->hs_len;
	if (n > len)
		n = len;
	memcpy(w->hs_in + w->hs_len, in, n);
	*used = n;
	/* Refuse a stranger at its first wrong byte, not at byte 41. */
	for (i = w->hs_len; i < w->hs_len + n && i < WIRE_MAGIC_LEN; i++)
		if (w->hs_in[i] != (uint8_t)WIRE_MAGIC[i]) {
			why = "handshake: bad magic";
			goto bad;
		}
	w->hs_len += n;
	if (w->hs_len > HELLO_VERSION &&
	    w->hs_in[HELLO_VERSION] != WIRE_VERSION) {
		why = "handshake: peer speaks another protocol version";
		err = CS_EVERSION;
		goto bad;
	}
	if (w->hs_len < WIRE_HELLO_LEN)
		return 0;

	memcpy(w->peer_eph, w->hs_in + HELLO_EPH, sizeof(w->peer_eph));
	w->hs_len = 0;
	/* A hello reflected back would make both sides one party. */
	if (sodium_memcmp(w->peer_eph, w->eph_pk, sizeof(w->eph_pk)) == 0) {
		why = "handshake: peer sent our own ephemeral key";
		goto bad;
	}
	if (derive(w) != 0) {
		why = "handshake: peer ephemeral key is not usable";
		goto bad;
	}
	w->state = WIRE_ST_AUTH;
	ev->type = WIRE_EV_SEND;
	ev->data = w->hs_out;
	if (w->initiator) {
		auth_build(w);
		ev->len = WIRE_M3_LEN;
	} else {
		hello_build(w, w->hs_out);
		ev->len = WIRE_HELLO_LEN;
	}
	return 0;
bad:
	return fail(w, err, why, cause);
}

/*
 * Opens the peer's sealed AUTH in hs_in and checks it: the stream opens
 * and the tag is a plain message, the role is canonical, the key is the
 * one dialed (C, checked before the signature) and the signature holds
 * over the transcript with the peer's direction.  Fills w->peer and
 * w->peer_role.  Returns 0 or an error with a static *why.
 */
static int
auth_check(struct wire *w, const char **why)
{
	uint8_t auth[WIRE_AUTH_LEN], msg[AUTH_MSG_LEN];
	unsigned long long alen = 0;
	unsigned char tag = 0xff;
	int err = CS_EDECODE;

	if (crypto_secretstream_xchacha20poly1305_init_pull(&w->rx, w->hs_in,
	    w->rxkey) != 0) {
		*why = "handshake: bad stream header";
		goto done;
	}
	sodium_memzero(w->rxkey, sizeof(w->rxkey));
	if (crypto_secretstream_xchacha20poly1305_pull(&w->rx, auth, &alen,
	    &tag, w->hs_in + WIRE_HDR_LEN, WIRE_M3_LEN - WIRE_HDR_LEN, NULL,
	    0) != 0 || alen != WIRE_AUTH_LEN) {
		*why = "handshake: auth does not decrypt (different network?)";
		goto done;
	}
	if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
		*why = "handshake: auth has an unexpected stream tag";
		goto done;
	}
	if (!role_ok(auth + AUTH_ROLE)) {
		*why = "handshake: peer role is not a NUL-padded name";
		goto done;
	}
	if (w->initiator && sodium_memcmp(auth + AUTH_KEY, w->expect,
	    PROTO_KEY_LEN) != 0) {
		*why = "handshake: peer key is not the key dialed";
		err = CS_EPERM;
		goto done;
	}
	auth_message(msg, w->initiator ? 'S' : 'C', w->transcript,
	    auth + AUTH_KEY, auth + AUTH_ROLE);
	if (crypto_sign_verify_detached(auth + AUTH_SIG, msg, sizeof(msg),
	    auth + AUTH_KEY) != 0) {
		*why = "handshake: transcript signature does not verify";
		err = CS_ESIG;
		goto done;
	}
	memcpy(w->peer, auth + AUTH_KEY, PROTO_KEY_LEN);
	memcpy(w->peer_role, auth + AUTH_ROLE, WIRE_ROLE_LEN);
	err = 0;
done:
	sodium_memzero(w->hs_in, sizeof(w->hs_in));
	return err;
}

/*
 * Collects the peer's sealed AUTH and checks it.  On the accepting side a
 * verified key is then put to the caller's authorize callback, and only
 * when it agrees is M4 made; hs_len stays at WIRE_M3_LEN after that, which
 * marks "M4 sent, OPEN to report on the next call".
 */
static int
feed_auth(struct wire *w, const uint8_t *in, size_t len, size_t *used,
    struct wire_event *ev, const char **cause)
{
	const char *why = NULL;
	size_t n;
	int err;

	if (!w->initiator && w->hs_len == WIRE_M3_LEN) {
		w->hs_len = 0;
		w->state = WIRE_ST_OPEN;
		ev->type = WIRE_EV_OPEN;
		return 0;
	}
	n = WIRE_M3_LEN - w->hs_len;
	if (n > len)
		n = len;
	if (n > 0)
		memcpy(w->hs_in + w->hs_len, in, n);
	w->hs_len += n;
	*used = n;
	if (w->hs_len < WIRE_M3_LEN)
		return 0;

	if ((err = auth_check(w, &why)) != 0)
		goto bad;
	if (w->initiator) {
		w->hs_len = 0;
		w->state = WIRE_ST_OPEN;
		ev->type = WIRE_EV_OPEN;
		return 0;
	}
	err = CS_EPERM;
	if (w->authorize == NULL) {
		why = "handshake: no peer is authorized on this side";
		goto bad;
	}
	why = NULL;
	if (w->authorize(w->authorize_arg, w->peer, w->peer_role, &why) != 0) {
		if (why == NULL)
			why = "handshake: peer key is not authorized";
		goto bad;
	}
	auth_build(w);
	ev->type = WIRE_EV_SEND;
	ev->data = w->hs_out;
	ev->len = WIRE_M3_LEN;
	return 0;
bad:
	return fail(w, err, why, cause);
}

void
wire_trim(struct wire *w)
{
	if (w->len_have != 0 || w->frame == NULL)
		return;
	sodium_memzero(w->frame, w->frame_cap);
	free(w->frame);
	w->frame = NULL;
	w->frame_cap = 0;
}

/*
 * Reassembles one frame: its 4-byte prefix (checked against the limit
 * before anything is allocated), then its ciphertext, which is opened
 * into a buffer of the same size that then becomes w->frame.
 */
static int
feed_frame(struct wire *w, const uint8_t *in, size_t len, size_t *used,
    struct wire_event *ev, const char **cause)
{
	unsigned long long mlen = 0;
	unsigned char tag = 0xff;
	uint8_t *plain;
	const char *why;
	size_t n, off = 0;
	int err = CS_EDECODE;

	if (w->len_have < sizeof(w->len_buf)) {
		n = sizeof(w->len_buf) - w->len_have;
		if (n > len)
			n = len;
		memcpy(w->len_buf + w->len_have, in, n);
		w->len_have += n;
		off = n;
		*used = off;
		if (w->len_have < sizeof(w->len_buf))
			return 0;
		w->frame_len = (size_t)w->len_buf[0] << 24 |
		    (size_t)w->len_buf[1] << 16 |
		    (size_t)w->len_buf[2] << 8 | w->len_buf[3];
		w->frame_have = 0;
		if (w->frame_len > w->max_frame + WIRE_ABYTES) {
			why = "frame: declared length over the limit";
			err = CS_EBOUND;
			goto bad;
		}
		if (w->frame_len < WIRE_ABYTES) {
			why = "frame: declared length shorter than its tag";
			goto bad;
		}
		if (w->frame_cap < w->frame_len) {
			free(w->frame);
			w->frame = xmalloc(w->frame_len);
			w->frame_cap = w->frame_len;
		}
	}
	n = w->frame_len - w->frame_have;
	if (n > len - off)
		n = len - off;
	if (n > 0)
		memcpy(w->frame + w->frame_have, in + off, n);
	w->frame_have += n;
	*used = off + n;
	if (w->frame_have < w->frame_len)
		return 0;

	/*
	 * libsodium does not promise that pull may write over its input, so
	 * the plaintext goes to a fresh buffer of the frame's size that
	 * then replaces the ciphertext's.
	 */
	plain = xmalloc(w->frame_len);
	if (crypto_secretstream_xchacha20poly1305_pull(&w->rx, plain, &mlen,
	    &tag, w->frame, w->frame_len, NULL, 0) != 0) {
		free(plain);
		why = "frame: does not decrypt (altered, replayed or reordered)";
		goto bad;
	}
	if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
		free(plain);
		why = "frame: unexpected stream tag";
		goto bad;
	}
	free(w->frame);
	w->frame = plain;
	w->frame_cap = w->frame_len;
	w->len_have = 0;
	w->frame_have = 0;
	ev->type = WIRE_EV_MSG;
	ev->data = w->frame;
	ev->len = (size_t)mlen;
	return 0;
bad:
	return fail(w, err, why, cause);
}

/* Feeds bytes read from the peer; reports at most one event. */
int
wire_feed(struct wire *w, const uint8_t *in, size_t len, size_t *used,
    struct wire_event *ev, const char **cause)
{
	*used = 0;
	ev->type = WIRE_EV_NONE;
	ev->data = NULL;
	ev->len = 0;
	if (len > 0 && in == NULL)
		return fail(w, CS_EUSAGE, "wire: no input buffer", cause);
	switch (w->state) {
	case WIRE_ST_HELLO:
		if (len == 0)
			return 0;
		return feed_hello(w, in, len, used, ev, cause);
	case WIRE_ST_AUTH:
		return feed_auth(w, in, len, used, ev, cause);
	case WIRE_ST_OPEN:
		if (len == 0)
			return 0;
		return feed_frame(w, in, len, used, ev, cause);
	default:
		break;
	}
	return fail(w, CS_EUSAGE, "wire: the connection has already failed",
	    cause);
}

/* Encrypts one message into out: the length prefix, then the ciphertext. */
int
wire_seal(struct wire *w, const uint8_t *msg, size_t len, uint8_t *out)
{
	size_t clen = len + WIRE_ABYTES;

	if (w->state != WIRE_ST_OPEN)
		return fail(w, CS_EUSAGE, NULL, NULL);
	if (len > WIRE_MAX_FRAME)
		return fail(w, CS_EBOUND, NULL, NULL);
	out[0] = (uint8_t)(clen >> 24);
	out[1] = (uint8_t)(clen >> 16);
	out[2] = (uint8_t)(clen >> 8);
	out[3] = (uint8_t)clen;
	crypto_secretstream_xchacha20poly1305_push(&w->tx, out + 4, NULL, msg,
	    len, NULL, 0, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	return 0;
}

/* ---- messages ---------------------------------------------------------- */

/* Returns whether o is a bin of exactly n bytes. */
static int
is_bin(const msgpack_object *o, uint32_t n)
{
	return o->type == MSGPACK_OBJECT_BIN && o->via.bin.size == n;
}

/* Returns whether o is a uint. */
static int
is_uint(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER;
}

/* Decodes HEADS' list; returns a static cause or NULL. */
static const char *
decode_heads(struct wire_msg *m, const msgpack_object *a, uint32_t n)
{
	const msgpack_object *list, *h;
	uint32_t i;

	if ((n != 2 && n != 3) || a[1].type != MSGPACK_OBJECT_ARRAY)
		return "message: heads is not [type, [head, ...]]";
	if (n == 3) {
		list = &a[2];
		if (list->type != MSGPACK_OBJECT_ARRAY ||
		    list->via.array.size > WIRE_MAX_OFFER)
			return "message: heads offer is not [dict, ...] of at "
			    "most 4";
		for (i = 0; i < list->via.array.size; i++) {
			if (!is_uint(&list->via.array.ptr[i]) ||
			    list->via.array.ptr[i].via.u64 > UINT32_MAX)
				return "message: a heads offer is not a "
				    "uint32";
			m->offer[i] = (uint32_t)list->via.array.ptr[i].via.u64;
		}
		m->noffer = list->via.array.size;
		m->has_offer = 1;
	}
	list = &a[1];
	m->nheads = list->via.array.size;
	if (m->nheads == 0)
		return NULL;
	m->heads = msgpack_zone_malloc(m->zone, m->nheads * sizeof(*m->heads));
	if (m->heads == NULL)
		return "out of memory";
	for (i = 0; i < m->nheads; i++) {
		h = &list->via.array.ptr[i];
		if (h->type != MSGPACK_OBJECT_ARRAY || h->via.array.size != 3)
			return "message: a head is not an array of 3";
		h = h->via.array.ptr;
		if (!is_bin(&h[0], PROTO_KEY_LEN))
			return "message: a head origin is not bin 32";
		if (!is_uint(&h[1]))
			return "message: a head seq is not a uint";
		if (!is_bin(&h[2], PROTO_HASH_LEN))
			return "message: a head hash is not bin 32";
		m->heads[i].origin = (const uint8_t *)h[0].via.bin.ptr;
		m->heads[i].seq = h[1].via.u64;
		m->heads[i].hash = (const uint8_t *)h[2].via.bin.ptr;
	}
	return NULL;
}

/* Decodes WANT's list; returns a static cause or NULL. */
static const char *
decode_wants(struct wire_msg *m, const msgpack_object *a, uint32_t n,
    int *err)
{
	const msgpack_object *list, *h;
	uint32_t i;

	if (n != 2 || a[1].type != MSGPACK_OBJECT_ARRAY ||
	    a[1].via.array.size == 0)
		return "message: want is not [type, [[origin, seq], ...]]";
	list = &a[1];
	if (list->via.array.size > WIRE_MAX_WANTS) {
		*err = CS_EBOUND;
		return "message: want has too many entries";
	}
	m->nheads = list->via.array.size;
	m->heads = msgpack_zone_malloc(m->zone, m->nheads * sizeof(*m->heads));
	if (m->heads == NULL)
		return "out of memory";
	for (i = 0; i < m->nheads; i++) {
		h = &list->via.array.ptr[i];
		if (h->type != MSGPACK_OBJECT_ARRAY || h->via.array.size != 2)
			return "message: a want is not an array of 2";
		h = h->via.array.ptr;
		if (!is_bin(&h[0], PROTO_KEY_LEN) || !is_uint(&h[1]) ||
		    h[1].via.u64 == 0)
			return "message: a want is not [origin bin 32, seq]";
		m->heads[i].origin = (const uint8_t *)h[0].via.bin.ptr;
		m->heads[i].seq = h[1].via.u64;
		m->heads[i].hash = NULL;
	}
	return NULL;
}

/* Decodes COMMITS' batch and items; returns a static cause or NULL. */
static const char *
decode_commits(struct wire_msg *m, const msgpack_object *a, uint32_t n,
    int *err)
{
	const msgpack_object *list, *it;
	uint32_t i;

	if (n != 3 || !is_uint(&a[1]) || a[2].type != MSGPACK_OBJECT_ARRAY)
		return "message: commits is not [type, batch, [item, ...]]";
	if (a[1].via.u64 == 0)
		return "message: commits batch is 0";
	m->n = a[1].via.u64;
	list = &a[2];
	if (list->via.array.size == 0)
		return "message: commits has no item";
	m->nitems = list->via.array.size;
	m->items = msgpack_zone_malloc(m->zone, m->nitems * sizeof(*m->items));
	if (m->items == NULL)
		return "out of memory";
	for (i = 0; i < m->nitems; i++) {
		it = &list->via.array.ptr[i];
		if (it->type != MSGPACK_OBJECT_ARRAY || it->via.array.size != 2)
			return "message: a commit item is not an array of 2";
		it = it->via.array.ptr;
		if (it[0].type != MSGPACK_OBJECT_BIN)
			return "message: a commit is not a bin";
		if (it[0].via.bin.size > PROTO_MAX_COMMIT) {
			*err = CS_EBOUND;
			return "message: a commit exceeds the size bound";
		}
		if (!is_bin(&it[1], PROTO_SIG_LEN))
			return "message: a commit signature is not bin 64";
		m->items[i].e = (const uint8_t *)it[0].via.bin.ptr;
		m->items[i].elen = it[0].via.bin.size;
		m->items[i].sig = (const uint8_t *)it[1].via.bin.ptr;
	}
	return NULL;
}

/* The type of an encoded message, from its first two bytes (a fixarray
 * whose first element is the type), or -1; decodes nothing else. */
int
wire_msg_peek_type(const uint8_t *buf, size_t len)
{
	if (len < 2 || (buf[0] & 0xf0) != 0x90 || buf[0] == 0x90 ||
	    buf[1] > 0x7f)
		return -1;
	return buf[1];
}

/* Decodes one message strictly. */
int
wire_msg_decode(struct wire_msg *m, const uint8_t *buf, size_t len,
    const char **cause)
{
	msgpack_object root;
	const msgpack_object *a;
	const char *why = NULL;
	size_t off = 0;
	uint32_t n;
	int err = CS_EDECODE;

	memset(m, 0, sizeof(*m));
	if (len > WIRE_MAX_FRAME) {
		why = "message: over the frame limit";
		err = CS_EBOUND;
		goto bad;
	}
	/*
	 * [type, [[..], ..]] nests three deep, and every count must fit the
	 * bytes.  A message is a whole frame, so what the check calls
	 * truncated or too deep is simply malformed here.
	 */
	if (proto_mp_check(buf, len, 3, &why) != 0)
		goto bad;
	m->zone = msgpack_zone_new(len < 2048 ? 2048 :
	    len > 32768 ? 65536 : len * 2);
	if (m->zone == NULL) {
		why = "out of memory";
		err = CS_ENOMEM;
		goto bad;
	}
	if (msgpack_unpack((const char *)buf, len, &off, m->zone, &root) !=
	    MSGPACK_UNPACK_SUCCESS || off != len) {
		why = "message: not one MessagePack object";
		goto bad;
	}
	if (root.type != MSGPACK_OBJECT_ARRAY || root.via.array.size == 0 ||
	    !is_uint(&root.via.array.ptr[0])) {
		why = "message: not an array starting with a type";
		goto bad;
	}
	a = root.via.array.ptr;
	n = root.via.array.size;
	if (a[0].via.u64 > 0xff) {
		why = "message: unknown type";
		goto bad;
	}
	m->type = (unsigned)a[0].via.u64;
	switch (m->type) {
	case WIRE_MSG_HEADS:
		why = decode_heads(m, a, n);
		break;
	case WIRE_MSG_WANT:
		why = decode_wants(m, a, n, &err);
		break;
	case WIRE_MSG_COMMITS:
		why = decode_commits(m, a, n, &err);
		break;
	case WIRE_MSG_ACK:
		if (n != 4 || !is_uint(&a[1]) || !is_uint(&a[2]) ||
		    !is_uint(&a[3]))
			why = "message: ack is not [type, batch, applied, "
			    "refused]";
		else if (a[1].via.u64 == 0)
			why = "message: ack batch is 0";
		else {
			m->n = a[1].via.u64;
			m->applied = a[2].via.u64;
			m->refused = a[3].via.u64;
		}
		break;
	case WIRE_MSG_PING:
	case WIRE_MSG_PONG:
		if (n != 2 || !is_uint(&a[1]))
			why = "message: ping or pong is not [type, nonce]";
		else
			m->n = a[1].via.u64;
		break;
	case WIRE_MSG_ERROR:
		if (n != 2 || a[1].type != MSGPACK_OBJECT_STR)
			why = "message: error is not [type, reason]";
		else if (a[1].via.str.size > WIRE_MAX_REASON) {
			why = "message: error reason exceeds its bound";
			err = CS_EBOUND;
		} else {
			m->reason = a[1].via.str.ptr;
			m->reason_len = a[1].via.str.size;
		}
		break;
	case WIRE_MSG_JOIN:
		if (n != 4 || !is_bin(&a[1], WIRE_INVITE_LEN) ||
		    !is_bin(&a[2], WIRE_SECRET_LEN) ||
		    a[3].type != MSGPACK_OBJECT_STR)
			why = "message: join is not [type, invite, secret, "
			    "name]";
		else if (a[3].via.str.size == 0 ||
		    a[3].via.str.size > WIRE_MAX_NAME) {
			why = "message: join name is empty or too long";
			err = CS_EBOUND;
		} else {
			m->invite = (const uint8_t *)a[1].via.bin.ptr;
			m->secret = (const uint8_t *)a[2].via.bin.ptr;
			m->reason = a[3].via.str.ptr;
			m->reason_len = a[3].via.str.size;
		}
		break;
	case WIRE_MSG_JOINED:
		if (n != 2 || a[1].type != MSGPACK_OBJECT_STR ||
		    a[1].via.str.size == 0 ||
		    a[1].via.str.size > WIRE_MAX_NAME)
			why = "message: joined is not [type, role]";
		else {
			m->reason = a[1].via.str.ptr;
			m->reason_len = a[1].via.str.size;
		}
		break;
	default:
		why = "message: unknown type";
		break;
	}
	if (why != NULL)
		goto bad;
	return 0;
bad:
	if (cause != NULL)
		*cause = why;
	wire_msg_free(m);
	return err;
}

/* Releases a decoded message. */
void
wire_msg_free(struct wire_msg *m)
{
	if (m->zone != NULL)
		msgpack_zone_free(m->zone);
	memset(m, 0, sizeof(*m));
}

/* Packs HEADS' type and the header of its list of n heads. */
static void
heads_begin(struct proto_enc *enc, size_t n, size_t elements)
{
	proto_enc_reset(enc);
	msgpack_pack_array(&enc->pk, elements);
	msgpack_pack_uint64(&enc->pk, WIRE_MSG_HEADS);
	msgpack_pack_array(&enc->pk, n);
}

void
wire_pack_heads_begin(struct proto_enc *enc, size_t n)
{
	heads_begin(enc, n, 2);
}

/* The same, for a HEADS that ends with an offer (wire_pack_offer()). */
void
wire_pack_heads_begin_offer(struct proto_enc *enc, size_t n)
{
	heads_begin(enc, n, 3);
}

/* Packs HEADS' offer of n dictionary ids, after its heads. */
void
wire_pack_offer(struct proto_enc *enc, const uint32_t *ids, size_t n)
{
	size_t i;

	msgpack_pack_array(&enc->pk, n);
	for (i = 0; i < n; i++)
		msgpack_pack_uint32(&enc->pk, ids[i]);
}

/* Packs one head. */
void
wire_pack_head(struct proto_enc *enc, const uint8_t *origin, uint64_t seq,
    const uint8_t *hash)
{
	msgpack_pack_array(&enc->pk, 3);
	msgpack_pack_bin(&enc->pk, PROTO_KEY_LEN);
	msgpack_pack_bin_body(&enc->pk, origin, PROTO_KEY_LEN);
	msgpack_pack_uint64(&enc->pk, seq);
	msgpack_pack_bin(&enc->pk, PROTO_HASH_LEN);
	msgpack_pack_bin_body(&enc->pk, hash, PROTO_HASH_LEN);
}

/* Packs WANT's type and the header of its list of n entries. */
void
wire_pack_want_begin(struct proto_enc *enc, size_t n)
{
	proto_enc_reset(enc);
	msgpack_pack_array(&enc->pk, 2);
	msgpack_pack_uint64(&enc->pk, WIRE_MSG_WANT);
	msgpack_pack_array(&enc->pk, n);
}

/* Packs one WANT entry. */
void
wire_pack_want(struct proto_enc *enc, const uint8_t *origin, uint64_t seq)
{
	msgpack_pack_array(&enc->pk, 2);
	msgpack_pack_bin(&enc->pk, PROTO_KEY_LEN);
	msgpack_pack_bin_body(&enc->pk, origin, PROTO_KEY_LEN);
	msgpack_pack_uint64(&enc->pk, seq);
}

/* Packs COMMITS' type, batch and the header of its list of n items. */
void
wire_pack_commits_begin(struct proto_enc *enc, uint64_t batch, size_t n)
{
	proto_enc_reset(enc);
	msgpack_pack_array(&enc->pk, 3);
	msgpack_pack_uint64(&enc->pk, WIRE_MSG_COMMITS);
	msgpack_pack_uint64(&enc->pk, batch);
	msgpack_pack_array(&enc->pk, n);
}

/* Packs an ACK. */
void
wire_pack_ack(struct proto_enc *enc, uint64_t batch, uint64_t applied,
    uint64_t refused)
{
	proto_enc_reset(enc);
	msgpack_pack_array(&enc->pk, 4);
	msgpack_pack_uint64(&enc->pk, WIRE_MSG_ACK);
	msgpack_pack_uint64(&enc->pk, batch);
	msgpack_pack_uint64(&enc->pk, applied);
	msgpack_pack_uint64(&enc->pk, refused);
}

/* Packs a PING or a PONG (type says which). */
void
wire_pack_ping(struct proto_enc *enc, unsigned type, uint64_t nonce)
{
	proto_enc_reset(enc);
	msgpack_pack_array(&enc->pk, 2);
	msgpack_pack_uint64(&enc->pk, type);
	msgpack_pack_uint64(&enc->pk, nonce);
}

/*
 * Packs an ERROR.  A reason longer than WIRE_MAX_REASON is cut there (at
 * a UTF-8 character boundary), so the peer never refuses the message.
 */
void
wire_pack_error(struct proto_enc *enc, const char *reason)
{
	size_t n = strlen(reason);

	if (n > WIRE_MAX_REASON) {
		n = WIRE_MAX_REASON;
		while (n > 0 && ((uint8_t)reason[n] & 0xc0) == 0x80)
			n--;
	}
	proto_enc_reset(enc);
	msgpack_pack_array(&enc->pk, 2);
	msgpack_pack_uint64(&enc->pk, WIRE_MSG_ERROR);
	msgpack_pack_str(&enc->pk, n);
	msgpack_pack_str_body(&enc->pk, reason, n);
}

/* Packs JOIN: redeem invite with secret, enrolling our key under name. */
void
wire_pack_join(struct proto_enc *enc, const uint8_t *invite,
    const uint8_t *secret, const char *name)
{
	size_t n = strlen(name);

	if (n > WIRE_MAX_NAME)
		n = WIRE_MAX_NAME;
	proto_enc_reset(enc);
	msgpack_pack_array(&enc->pk, 4);
	msgpack_pack_uint64(&enc->pk, WIRE_MSG_JOIN);
	msgpack_pack_bin(&enc->pk, WIRE_INVITE_LEN);
	msgpack_pack_bin_body(&enc->pk, invite, WIRE_INVITE_LEN);
	msgpack_pack_bin(&enc->pk, WIRE_SECRET_LEN);
	msgpack_pack_bin_body(&enc->pk, secret, WIRE_SECRET_LEN);
	msgpack_pack_str(&enc->pk, n);
	msgpack_pack_str_body(&enc->pk, name, n);
}

/* Packs JOINED with the role the key was enrolled with. */
void
wire_pack_joined(struct proto_enc *enc, const char *role)
{
	proto_enc_reset(enc);
	msgpack_pack_array(&enc->pk, 2);
	msgpack_pack_uint64(&enc->pk, WIRE_MSG_JOINED);
	proto_pack_cstr(&enc->pk, role);
}

/* Lowers the frame limit for what the peer sends. */
void
wire_set_max_frame(struct wire *w, size_t max)
{
	if (max < WIRE_MAX_FRAME)
		w->max_frame = max;
}
