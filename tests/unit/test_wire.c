/*
 * test_wire.c: unit tests of the wire protocol (proto/wire.c), sans I/O.
 *
 * Two struct wire talk to each other through byte buffers: a full
 * handshake both ways, then messages in both directions, with the bytes
 * fed whole, one at a time, and every handshake message and the first
 * frames in one buffer.  A hand-built peer, written from the layout in
 * wire.h with libsodium directly (not with wire.c), checks the bytes of
 * M1..M4 and forges what an honest node never sends: a signature over the
 * wrong transcript or direction, a flipped signature bit, a key that is
 * not the one dialed, another network, another version, bad magic, a
 * reflected or weak ephemeral key, a wrong stream tag.  Frames are
 * replayed, reordered, dropped and altered at every byte; a prefix over
 * the limit must fail before any allocation.  Random bytes are fed at
 * every stage.  Every failure asserts the exact error code and that the
 * state is WIRE_ST_FAILED, and that later calls fail too.
 *
 * The message codec is checked by a round trip of every type and by
 * rejection of wrong shapes, unknown types, trailing bytes, short fields,
 * oversize E and reason, empty COMMITS and huge declared counts.
 *
 * Buffers handed to decoders are heap copies of the exact length, so a
 * read past the end shows up under SANITIZE=1.
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

#include "proto/wire.h"

/* ---- fixtures --------------------------------------------------------- */

static uint8_t net_a[PROTO_KEY_LEN], net_b[PROTO_KEY_LEN];
static uint8_t c_pk[PROTO_KEY_LEN], c_sk[PROTO_SK_LEN];
static uint8_t s_pk[PROTO_KEY_LEN], s_sk[PROTO_SK_LEN];
static uint8_t o_pk[PROTO_KEY_LEN], o_sk[PROTO_SK_LEN];

static int setup_group(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	memset(net_a, 0xa1, sizeof net_a);
	memset(net_b, 0xb2, sizeof net_b);
	crypto_sign_keypair(c_pk, c_sk);
	crypto_sign_keypair(s_pk, s_sk);
	crypto_sign_keypair(o_pk, o_sk);
	return 0;
}

/* A heap copy of exactly len bytes (at least one byte is allocated). */
static uint8_t *dup_exact(const void *p, size_t len)
{
	uint8_t *d = malloc(len ? len : 1);

	assert_non_null(d);
	if (len)
		memcpy(d, p, len);
	return d;
}

/* What the accepting side's authorize callback is told and answers. */
struct authz {
	int refuse;
	int calls;
	uint8_t key[PROTO_KEY_LEN];
	char role[WIRE_ROLE_LEN];
};

static const char refuse_why[] = "not a member of this network";

/* Records the key and role; refuses when told to. */
static int authorize_cb(void *arg, const uint8_t key[PROTO_KEY_LEN],
    const char *role, const char **why)
{
	struct authz *a = arg;

	a->calls++;
	memcpy(a->key, key, PROTO_KEY_LEN);
	assert_true(strlen(role) < WIRE_ROLE_LEN);
	strcpy(a->role, role);
	if (a->refuse) {
		*why = refuse_why;
		return -1;
	}
	return 0;
}

/* ---- feeding ---------------------------------------------------------- */

#define MAXMSG 32

/* What one side reported while fed. */
struct sink {
	uint8_t sent[4 * WIRE_M3_LEN];
	size_t nsent;
	int nsend;
	int opened;
	size_t nmsg;
	uint8_t *msg[MAXMSG];
	size_t msglen[MAXMSG];
	const char *cause;
};

/* Frees the messages a sink copied and empties it. */
static void sink_free(struct sink *k)
{
	size_t i;

	for (i = 0; i < k->nmsg; i++)
		free(k->msg[i]);
	memset(k, 0, sizeof *k);
}

static const uint8_t nothing[1];

/*
 * Feeds len bytes to w in chunks of step (0: all at once), following the
 * event protocol: after each event, feed what is left of the chunk (even
 * nothing) until WIRE_EV_NONE.  Returns 0 or the first error, which must
 * leave w FAILED with a cause.
 */
static int feed_chunks(struct wire *w, const uint8_t *in, size_t len,
    size_t step, struct sink *k)
{
	size_t off = 0;

	do {
		size_t n = (step == 0 || len - off < step) ? len - off : step;

		for (;;) {
			struct wire_event ev;
			size_t used = (size_t)-1;
			const char *cause = NULL;
			int rc;

			rc = wire_feed(w, n ? in + off : nothing, n, &used, &ev,
			    &cause);
			if (rc != 0) {
				assert_true(rc < 0);
				assert_non_null(cause);
				assert_true(strlen(cause) > 0);
				assert_int_equal(w->state, WIRE_ST_FAILED);
				k->cause = cause;
				return rc;
			}
			assert_true(used <= n);
			off += used;
			n -= used;
			if (ev.type == WIRE_EV_NONE) {
				assert_int_equal(n, 0);
				break;
			}
			switch (ev.type) {
			case WIRE_EV_SEND:
				assert_true(k->nsent + ev.len <= sizeof k->sent);
				memcpy(k->sent + k->nsent, ev.data, ev.len);
				k->nsent += ev.len;
				k->nsend++;
				break;
			case WIRE_EV_OPEN:
				assert_int_equal(w->state, WIRE_ST_OPEN);
				k->opened++;
				break;
			case WIRE_EV_MSG:
				assert_true(k->nmsg < MAXMSG);
				assert_ptr_equal(ev.data, w->frame);
				k->msg[k->nmsg] = dup_exact(ev.data, ev.len);
				k->msglen[k->nmsg++] = ev.len;
				break;
			default:
				fail_msg("unknown event %d", (int)ev.type);
			}
		}
	} while (off < len);
	return 0;
}

/* A connecting and an accepting side, each with what it reported. */
struct pair {
	struct wire c, s;
	struct sink kc, ks;
	struct authz az;
};

/* Sets up a pair: the client dials expect on net_c, the server is net_s. */
static void pair_init(struct pair *p, const uint8_t *net_c,
    const uint8_t *net_s, const uint8_t *expect)
{
	memset(p, 0, sizeof *p);
	wire_init(&p->c, 1, net_c, c_sk, "site", expect, NULL, NULL);
	wire_init(&p->s, 0, net_s, s_sk, "hub", NULL, authorize_cb, &p->az);
}

/* Frees both sides and what they reported. */
static void pair_free(struct pair *p)
{
	wire_free(&p->c);
	wire_free(&p->s);
	sink_free(&p->kc);
	sink_free(&p->ks);
}

/*
 * Runs the handshake, feeding each message in chunks of step.  Returns 0
 * with both sides open, or the first error with *side 'c' or 's'.
 */
static int pair_handshake(struct pair *p, size_t step, char *side)
{
	const uint8_t *m1;
	size_t n = 0;
	int rc;

	m1 = wire_start(&p->c, &n);
	assert_non_null(m1);
	assert_int_equal(n, WIRE_HELLO_LEN);
	*side = 's';
	if ((rc = feed_chunks(&p->s, m1, n, step, &p->ks)) != 0)
		return rc;
	assert_int_equal(p->ks.nsent, WIRE_HELLO_LEN);
	assert_int_equal(p->s.state, WIRE_ST_AUTH);
	*side = 'c';
	if ((rc = feed_chunks(&p->c, p->ks.sent, WIRE_HELLO_LEN, step,
	    &p->kc)) != 0)
		return rc;
	assert_int_equal(p->kc.nsent, WIRE_M3_LEN);
	assert_int_equal(p->c.state, WIRE_ST_AUTH);
	*side = 's';
	if ((rc = feed_chunks(&p->s, p->kc.sent, WIRE_M3_LEN, step,
	    &p->ks)) != 0)
		return rc;
	assert_int_equal(p->ks.nsent, WIRE_HELLO_LEN + WIRE_M3_LEN);
	assert_int_equal(p->ks.opened, 1);
	*side = 'c';
	if ((rc = feed_chunks(&p->c, p->ks.sent + WIRE_HELLO_LEN, WIRE_M3_LEN,
	    step, &p->kc)) != 0)
		return rc;
	assert_int_equal(p->kc.opened, 1);
	assert_int_equal(p->kc.nsent, WIRE_M3_LEN);
	return 0;
}

/* Runs a handshake that must succeed, checking what each side proved. */
static void pair_open(struct pair *p, size_t step)
{
	char side = 0;

	assert_int_equal(pair_handshake(p, step, &side), 0);
	assert_int_equal(p->c.state, WIRE_ST_OPEN);
	assert_int_equal(p->s.state, WIRE_ST_OPEN);
	assert_memory_equal(p->c.peer, s_pk, PROTO_KEY_LEN);
	assert_memory_equal(p->s.peer, c_pk, PROTO_KEY_LEN);
	assert_string_equal(p->c.peer_role, "hub");
	assert_string_equal(p->s.peer_role, "site");
	assert_int_equal(p->az.calls, 1);
	assert_memory_equal(p->az.key, c_pk, PROTO_KEY_LEN);
	assert_string_equal(p->az.role, "site");
}

/* Seals msg on w into a new buffer of wire_sealed_len(len) bytes. */
static uint8_t *seal(struct wire *w, const void *msg, size_t len)
{
	uint8_t *out = malloc(wire_sealed_len(len));

	assert_non_null(out);
	assert_int_equal(wire_seal(w, msg, len, out), 0);
	return out;
}

/* Asserts every later call on a failed w fails too. */
static void assert_dead(struct wire *w)
{
	struct wire_event ev;
	uint8_t b[8] = { 0 }, out[wire_sealed_len(8)];
	const char *cause = NULL;
	size_t used = 1;

	assert_int_equal(w->state, WIRE_ST_FAILED);
	assert_true(wire_feed(w, b, sizeof b, &used, &ev, &cause) < 0);
	assert_int_equal(used, 0);
	assert_int_equal(ev.type, WIRE_EV_NONE);
	assert_non_null(cause);
	assert_true(wire_feed(w, b, 0, &used, &ev, &cause) < 0);
	assert_true(wire_seal(w, b, sizeof b, out) < 0);
	assert_int_equal(w->state, WIRE_ST_FAILED);
}

/* Returns whether n bytes at p are all zero. */
static int all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/* ---- a hand-built peer ------------------------------------------------ */

/*
 * One side of the handshake written straight from wire.h with libsodium,
 * sharing no code with wire.c.
 */
struct fake {
	int initiator;
	const uint8_t *network;
	const uint8_t *pk, *sk;
	uint8_t eph_pk[crypto_kx_PUBLICKEYBYTES];
	uint8_t eph_sk[crypto_kx_SECRETKEYBYTES];
	uint8_t peer_eph[crypto_kx_PUBLICKEYBYTES];
	uint8_t t[32];
	uint8_t rx[32], tx[32];
	crypto_secretstream_xchacha20poly1305_state stx, srx;
};

enum forge {
	F_OK,          /* an honest AUTH */
	F_BAD_T,       /* signed over another transcript */
	F_BAD_DIR,     /* signed with the other side's direction */
	F_FLIP_SIG,    /* one bit of the signature flipped */
	F_OTHER_KEY,   /* signed by another key than the one it names */
	F_BAD_ROLE,    /* role not NUL-padded */
	F_FINAL_TAG,   /* sealed with TAG_FINAL */
};

/* Sets up a fake side with a fresh ephemeral key pair. */
static void fake_init(struct fake *f, int initiator, const uint8_t *network,
    const uint8_t *pk, const uint8_t *sk)
{
	memset(f, 0, sizeof *f);
	f->initiator = initiator;
	f->network = network;
	f->pk = pk;
	f->sk = sk;
	crypto_kx_keypair(f->eph_pk, f->eph_sk);
}

/* Writes a hello: magic, version, the fake's ephemeral key. */
static void fake_hello(const struct fake *f, uint8_t out[WIRE_HELLO_LEN],
    uint8_t version)
{
	memcpy(out, "cafesync", 8);
	out[8] = version;
	memcpy(out + 9, f->eph_pk, 32);
}

/* Takes the peer's hello; computes T and the bound session keys. */
static void fake_derive(struct fake *f, const uint8_t hello[WIRE_HELLO_LEN])
{
	uint8_t in[21 + 1 + 32 + 32 + 32], rx[32], tx[32];
	size_t off = 0;

	assert_memory_equal(hello, "cafesync", 8);
	assert_int_equal(hello[8], WIRE_VERSION);
	memcpy(f->peer_eph, hello + 9, 32);
	memcpy(in, "cafesync-handshake-v1", 21);
	off = 21;
	in[off++] = WIRE_VERSION;
	memcpy(in + off, f->network, 32);
	off += 32;
	memcpy(in + off, f->initiator ? f->eph_pk : f->peer_eph, 32);
	off += 32;
	memcpy(in + off, f->initiator ? f->peer_eph : f->eph_pk, 32);
	off += 32;
	assert_int_equal(off, sizeof in);
	crypto_generichash(f->t, 32, in, sizeof in, NULL, 0);
	if (f->initiator)
		assert_int_equal(crypto_kx_client_session_keys(rx, tx,
		    f->eph_pk, f->eph_sk, f->peer_eph), 0);
	else
		assert_int_equal(crypto_kx_server_session_keys(rx, tx,
		    f->eph_pk, f->eph_sk, f->peer_eph), 0);
	crypto_generichash(f->rx, 32, f->t, 32, rx, 32);
	crypto_generichash(f->tx, 32, f->t, 32, tx, 32);
}

/* Writes M3 or M4: header, then AUTH sealed, forged as told. */
static void fake_auth(struct fake *f, uint8_t out[WIRE_M3_LEN],
    const char *role, enum forge how)
{
	uint8_t auth[112], msg[16 + 1 + 32 + 32 + 16], t[32];
	uint8_t dir = f->initiator ? 'C' : 'S';
	uint8_t osk_pk[32], osk[64];
	unsigned char tag = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;

	memset(auth, 0, sizeof auth);
	memcpy(auth, f->pk, 32);
	memcpy(auth + 32, role, strlen(role));
	if (how == F_BAD_ROLE)
		memset(auth + 32 + strlen(role) + 1, 'x', 2);
	memcpy(t, f->t, 32);
	if (how == F_BAD_T)
		t[5] ^= 0x10;
	if (how == F_BAD_DIR)
		dir = f->initiator ? 'S' : 'C';
	memcpy(msg, "cafesync-auth-v1", 16);
	msg[16] = dir;
	memcpy(msg + 17, t, 32);
	memcpy(msg + 49, auth, 32);
	memcpy(msg + 81, auth + 32, 16);
	if (how == F_OTHER_KEY) {
		crypto_sign_keypair(osk_pk, osk);
		crypto_sign_detached(auth + 48, NULL, msg, sizeof msg, osk);
	} else
		crypto_sign_detached(auth + 48, NULL, msg, sizeof msg, f->sk);
	if (how == F_FLIP_SIG)
		auth[48 + 17] ^= 0x04;
	if (how == F_FINAL_TAG)
		tag = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	crypto_secretstream_xchacha20poly1305_init_push(&f->stx, out, f->tx);
	crypto_secretstream_xchacha20poly1305_push(&f->stx, out + 24, NULL,
	    auth, sizeof auth, NULL, 0, tag);
}

/*
 * Opens the peer's M3 or M4 and checks it by the spec: a plain message
 * of 112 bytes, its key, its role and a signature by that key over the
 * transcript with the peer's direction.
 */
static void fake_check_auth(struct fake *f, const uint8_t in[WIRE_M3_LEN],
    const uint8_t *pk, const char *role)
{
	uint8_t auth[112], msg[16 + 1 + 32 + 32 + 16], r[16];
	unsigned long long alen = 0;
	unsigned char tag = 0xff;

	assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(
	    &f->srx, in, f->rx), 0);
	assert_int_equal(crypto_secretstream_xchacha20poly1305_pull(&f->srx,
	    auth, &alen, &tag, in + 24, WIRE_M3_LEN - 24, NULL, 0), 0);
	assert_int_equal(alen, 112);
	assert_int_equal(tag, crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	assert_memory_equal(auth, pk, 32);
	memset(r, 0, sizeof r);
	memcpy(r, role, strlen(role));
	assert_memory_equal(auth + 32, r, 16);
	memcpy(msg, "cafesync-auth-v1", 16);
	msg[16] = f->initiator ? 'S' : 'C';
	memcpy(msg + 17, f->t, 32);
	memcpy(msg + 49, auth, 32);
	memcpy(msg + 81, auth + 32, 16);
	assert_int_equal(crypto_sign_verify_detached(auth + 48, msg,
	    sizeof msg, pk), 0);
}

/* Seals one frame on the fake's stream with the given tag. */
static size_t fake_frame(struct fake *f, uint8_t *out, const void *msg,
    size_t len, unsigned char tag)
{
	size_t clen = len + WIRE_ABYTES;

	out[0] = (uint8_t)(clen >> 24);
	out[1] = (uint8_t)(clen >> 16);
	out[2] = (uint8_t)(clen >> 8);
	out[3] = (uint8_t)clen;
	crypto_secretstream_xchacha20poly1305_push(&f->stx, out + 4, NULL, msg,
	    len, NULL, 0, tag);
	return 4 + clen;
}

/*
 * A real server s (with az) and a fake client: runs M1 and M2, leaving
 * the fake ready to send M3.
 */
static void fake_client_hello(struct fake *f, struct wire *s, struct sink *ks,
    struct authz *az, const uint8_t *net)
{
	uint8_t m1[WIRE_HELLO_LEN];

	fake_init(f, 1, net, c_pk, c_sk);
	memset(ks, 0, sizeof *ks);
	memset(az, 0, sizeof *az);
	wire_init(s, 0, net_a, s_sk, "hub", NULL, authorize_cb, az);
	fake_hello(f, m1, WIRE_VERSION);
	assert_int_equal(feed_chunks(s, m1, sizeof m1, 0, ks), 0);
	assert_int_equal(ks->nsent, WIRE_HELLO_LEN);
	fake_derive(f, ks->sent);
}

/*
 * A real client c (dialing expect) and a fake server: runs M1, M2 and M3,
 * checks M3 by the spec, leaving the fake ready to send M4.
 */
static void fake_server_hello(struct fake *f, struct wire *c, struct sink *kc,
    const uint8_t *pk, const uint8_t *sk, const uint8_t *expect)
{
	uint8_t m2[WIRE_HELLO_LEN];
	const uint8_t *m1;
	size_t n = 0;

	fake_init(f, 0, net_a, pk, sk);
	memset(kc, 0, sizeof *kc);
	wire_init(c, 1, net_a, c_sk, "site", expect, NULL, NULL);
	m1 = wire_start(c, &n);
	assert_int_equal(n, WIRE_HELLO_LEN);
	fake_derive(f, m1);
	fake_hello(f, m2, WIRE_VERSION);
	assert_int_equal(feed_chunks(c, m2, sizeof m2, 0, kc), 0);
	assert_int_equal(kc->nsent, WIRE_M3_LEN);
	fake_check_auth(f, kc->sent, c_pk, "site");
}

/* ---- handshake ---------------------------------------------------------- */

/* Sends count messages each way and checks they arrive whole, in order. */
static void exchange(struct pair *p, size_t step, int count)
{
	char text[64];
	uint8_t *f;
	size_t base_c = p->kc.nmsg, base_s = p->ks.nmsg;
	int i;

	for (i = 0; i < count; i++) {
		size_t n = (size_t)snprintf(text, sizeof text, "c->s %d", i);

		f = seal(&p->c, text, n);
		assert_int_equal(feed_chunks(&p->s, f, wire_sealed_len(n), step,
		    &p->ks), 0);
		free(f);
		assert_int_equal(p->ks.nmsg, base_s + (size_t)i + 1);
		assert_int_equal(p->ks.msglen[base_s + (size_t)i], n);
		assert_memory_equal(p->ks.msg[base_s + (size_t)i], text, n);

		n = (size_t)snprintf(text, sizeof text, "s->c message %d", i);
		f = seal(&p->s, text, n);
		assert_int_equal(feed_chunks(&p->c, f, wire_sealed_len(n), step,
		    &p->kc), 0);
		free(f);
		assert_int_equal(p->kc.nmsg, base_c + (size_t)i + 1);
		assert_int_equal(p->kc.msglen[base_c + (size_t)i], n);
		assert_memory_equal(p->kc.msg[base_c + (size_t)i], text, n);
	}
}

static void test_handshake_whole(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, net_a, net_a, s_pk);
	pair_open(&p, 0);
	/* Each side sent exactly one or two handshake messages. */
	assert_int_equal(p.ks.nsend, 2);
	assert_int_equal(p.kc.nsend, 1);
	/* The handshake secrets are gone once open. */
	assert_true(all_zero(p.c.sk, sizeof p.c.sk));
	assert_true(all_zero(p.s.eph_sk, sizeof p.s.eph_sk));
	exchange(&p, 0, 5);
	pair_free(&p);
}

static void test_handshake_bytewise(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, net_a, net_a, s_pk);
	pair_open(&p, 1);
	exchange(&p, 1, 3);
	exchange(&p, 7, 3);
	pair_free(&p);
}

/*
 * Every message of a session in one buffer: clones taken before the
 * handshake receive M1||M3||frames (server) and M2||M4||frames (client)
 * in one read, so no byte after a handshake message may be lost.
 */
static void test_handshake_one_buffer(void **state)
{
	struct pair p;
	struct wire c0, s0;
	struct sink k0c, k0s;
	struct authz az0;
	const uint8_t *m1;
	uint8_t buf[2048], *f;
	size_t n = 0, off, len;
	char side;

	(void)state;
	pair_init(&p, net_a, net_a, s_pk);
	m1 = wire_start(&p.c, &n);
	memcpy(buf, m1, n);
	/* Before any feeding: no frame buffer to share. */
	memcpy(&c0, &p.c, sizeof c0);
	memcpy(&s0, &p.s, sizeof s0);
	memset(&az0, 0, sizeof az0);
	s0.authorize_arg = &az0;
	assert_int_equal(pair_handshake(&p, 0, &side), 0);

	/* Server clone: M1 || M3 || two client frames. */
	off = WIRE_HELLO_LEN;
	memcpy(buf + off, p.kc.sent, WIRE_M3_LEN);
	off += WIRE_M3_LEN;
	f = seal(&p.c, "first", 5);
	memcpy(buf + off, f, wire_sealed_len(5));
	off += wire_sealed_len(5);
	free(f);
	f = seal(&p.c, "second!", 7);
	memcpy(buf + off, f, wire_sealed_len(7));
	off += wire_sealed_len(7);
	free(f);
	memset(&k0s, 0, sizeof k0s);
	assert_int_equal(feed_chunks(&s0, buf, off, 0, &k0s), 0);
	assert_int_equal(k0s.nsend, 2);
	assert_int_equal(k0s.opened, 1);
	assert_int_equal(az0.calls, 1);
	assert_int_equal(k0s.nmsg, 2);
	assert_int_equal(k0s.msglen[0], 5);
	assert_memory_equal(k0s.msg[0], "first", 5);
	assert_int_equal(k0s.msglen[1], 7);
	assert_memory_equal(k0s.msg[1], "second!", 7);

	/* Client clone: M2 || M4 || two server frames (and an empty one). */
	memcpy(buf, p.ks.sent, WIRE_HELLO_LEN + WIRE_M3_LEN);
	off = WIRE_HELLO_LEN + WIRE_M3_LEN;
	f = seal(&p.s, "hello", 5);
	memcpy(buf + off, f, wire_sealed_len(5));
	off += wire_sealed_len(5);
	free(f);
	f = seal(&p.s, "", 0);
	memcpy(buf + off, f, wire_sealed_len(0));
	off += wire_sealed_len(0);
	free(f);
	len = off;
	memset(&k0c, 0, sizeof k0c);
	assert_int_equal(feed_chunks(&c0, buf, len, 0, &k0c), 0);
	assert_int_equal(k0c.nsend, 1);
	assert_int_equal(k0c.opened, 1);
	assert_int_equal(k0c.nmsg, 2);
	assert_int_equal(k0c.msglen[0], 5);
	assert_memory_equal(k0c.msg[0], "hello", 5);
	assert_int_equal(k0c.msglen[1], 0);

	wire_free(&c0);
	wire_free(&s0);
	sink_free(&k0c);
	sink_free(&k0s);
	pair_free(&p);
}

/* The accepting side reports OPEN on the call after M4, even with len 0. */
static void test_open_after_m4(void **state)
{
	struct fake f;
	struct wire s;
	struct sink ks;
	struct authz az;
	struct wire_event ev;
	uint8_t m3[WIRE_M3_LEN];
	const char *cause = NULL;
	size_t used = 99;

	(void)state;
	fake_client_hello(&f, &s, &ks, &az, net_a);
	fake_auth(&f, m3, "site", F_OK);
	assert_int_equal(wire_feed(&s, m3, sizeof m3, &used, &ev, &cause), 0);
	assert_int_equal(used, WIRE_M3_LEN);
	assert_int_equal(ev.type, WIRE_EV_SEND);
	assert_int_equal(ev.len, WIRE_M3_LEN);
	assert_int_equal(az.calls, 1);
	assert_memory_equal(az.key, c_pk, PROTO_KEY_LEN);
	/* M4 is well formed by the spec. */
	fake_check_auth(&f, ev.data, s_pk, "hub");
	/* No frame may be sealed before OPEN is reported... */
	assert_int_equal(s.state, WIRE_ST_AUTH);
	assert_int_equal(wire_feed(&s, m3, 0, &used, &ev, &cause), 0);
	assert_int_equal(used, 0);
	assert_int_equal(ev.type, WIRE_EV_OPEN);
	assert_int_equal(s.state, WIRE_ST_OPEN);
	assert_int_equal(wire_feed(&s, m3, 0, &used, &ev, &cause), 0);
	assert_int_equal(ev.type, WIRE_EV_NONE);
	wire_free(&s);
	sink_free(&ks);
}

/* A large message (a full batch and more) in both directions. */
static void test_large_messages(void **state)
{
	struct pair p;
	uint8_t *big, *f;
	size_t n = WIRE_MAX_FRAME;

	(void)state;
	big = malloc(n);
	assert_non_null(big);
	randombytes_buf(big, n);
	pair_init(&p, net_a, net_a, s_pk);
	pair_open(&p, 0);
	f = seal(&p.c, big, n);
	assert_int_equal(feed_chunks(&p.s, f, wire_sealed_len(n), 65536, &p.ks),
	    0);
	free(f);
	assert_int_equal(p.ks.nmsg, 1);
	assert_int_equal(p.ks.msglen[0], n);
	assert_memory_equal(p.ks.msg[0], big, n);
	/* One byte over the limit is refused by the sender. */
	f = malloc(wire_sealed_len(n + 1));
	assert_non_null(f);
	assert_int_equal(wire_seal(&p.s, big, n + 1, f), CS_EBOUND);
	assert_dead(&p.s);
	free(f);
	free(big);
	pair_free(&p);
}

/* ---- handshake failures ------------------------------------------------- */

/* The client dialed another key than the server's. */
static void test_wrong_server_key(void **state)
{
	struct pair p;
	char side = 0;

	(void)state;
	pair_init(&p, net_a, net_a, o_pk);
	assert_int_equal(pair_handshake(&p, 0, &side), CS_EPERM);
	assert_int_equal(side, 'c');
	assert_string_equal(p.kc.cause,
	    "handshake: peer key is not the key dialed");
	assert_int_equal(p.kc.opened, 0);
	assert_dead(&p.c);
	/* Secrets are wiped on failure. */
	assert_true(all_zero(p.c.sk, sizeof p.c.sk));
	assert_true(all_zero(&p.c.rx, sizeof p.c.rx));
	pair_free(&p);
}

/* A real server with a different key than dialed (a forged M4 of o). */
static void test_wrong_server_key_signed(void **state)
{
	struct fake f;
	struct wire c;
	struct sink kc;
	uint8_t m4[WIRE_M3_LEN];

	(void)state;
	/* o signs honestly, but the client dialed s. */
	fake_server_hello(&f, &c, &kc, o_pk, o_sk, s_pk);
	fake_auth(&f, m4, "hub", F_OK);
	assert_int_equal(feed_chunks(&c, m4, sizeof m4, 0, &kc), CS_EPERM);
	assert_dead(&c);
	wire_free(&c);
	sink_free(&kc);

	/* The same with the right key opens (the fake is honest). */
	fake_server_hello(&f, &c, &kc, s_pk, s_sk, s_pk);
	fake_auth(&f, m4, "hub", F_OK);
	assert_int_equal(feed_chunks(&c, m4, sizeof m4, 0, &kc), 0);
	assert_int_equal(kc.opened, 1);
	assert_memory_equal(c.peer, s_pk, PROTO_KEY_LEN);
	wire_free(&c);
	sink_free(&kc);
}

/* The server's caller refuses the client: CS_EPERM with its reason, no M4. */
static void test_authorize_refuses(void **state)
{
	struct pair p;
	char side = 0;

	(void)state;
	pair_init(&p, net_a, net_a, s_pk);
	p.az.refuse = 1;
	assert_int_equal(pair_handshake(&p, 0, &side), CS_EPERM);
	assert_int_equal(side, 's');
	assert_ptr_equal(p.ks.cause, refuse_why);
	assert_int_equal(p.az.calls, 1);
	assert_memory_equal(p.az.key, c_pk, PROTO_KEY_LEN);
	/* Only M2 left the server: nothing of M4, not its identity. */
	assert_int_equal(p.ks.nsend, 1);
	assert_int_equal(p.ks.nsent, WIRE_HELLO_LEN);
	assert_int_equal(p.ks.opened, 0);
	assert_dead(&p.s);
	pair_free(&p);
}

/* A server without an authorize callback, a client without a key: closed. */
static void test_fail_closed_without_policy(void **state)
{
	struct pair p;
	char side = 0;

	(void)state;
	pair_init(&p, net_a, net_a, s_pk);
	p.s.authorize = NULL;
	assert_int_equal(pair_handshake(&p, 0, &side), CS_EPERM);
	assert_int_equal(side, 's');
	assert_int_equal(p.ks.nsent, WIRE_HELLO_LEN);
	assert_dead(&p.s);
	pair_free(&p);

	memset(&p, 0, sizeof p);
	wire_init(&p.c, 1, net_a, c_sk, "site", NULL, NULL, NULL);
	wire_init(&p.s, 0, net_a, s_sk, "hub", NULL, authorize_cb, &p.az);
	assert_int_equal(pair_handshake(&p, 0, &side), CS_EPERM);
	assert_int_equal(side, 'c');
	assert_dead(&p.c);
	pair_free(&p);
}

/* Forged client AUTHs: each must fail with CS_ESIG before authorize. */
static void test_bad_client_signature(void **state)
{
	static const enum forge forges[] = {
		F_BAD_T, F_BAD_DIR, F_FLIP_SIG, F_OTHER_KEY,
	};
	struct fake f;
	struct wire s;
	struct sink ks;
	struct authz az;
	uint8_t m3[WIRE_M3_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof forges / sizeof forges[0]; i++) {
		fake_client_hello(&f, &s, &ks, &az, net_a);
		fake_auth(&f, m3, "site", forges[i]);
		assert_int_equal(feed_chunks(&s, m3, sizeof m3, 0, &ks),
		    CS_ESIG);
		assert_string_equal(ks.cause,
		    "handshake: transcript signature does not verify");
		assert_int_equal(az.calls, 0);
		assert_int_equal(ks.nsent, WIRE_HELLO_LEN);
		assert_dead(&s);
		wire_free(&s);
		sink_free(&ks);
	}
	/* The control: the same hand-built M3, honest, is accepted. */
	fake_client_hello(&f, &s, &ks, &az, net_a);
	fake_auth(&f, m3, "site", F_OK);
	assert_int_equal(feed_chunks(&s, m3, sizeof m3, 0, &ks), 0);
	assert_int_equal(az.calls, 1);
	assert_int_equal(ks.opened, 1);
	assert_int_equal(ks.nsent, WIRE_HELLO_LEN + WIRE_M3_LEN);
	assert_memory_equal(s.peer, c_pk, PROTO_KEY_LEN);
	assert_string_equal(s.peer_role, "site");
	wire_free(&s);
	sink_free(&ks);
}

/* Forged server AUTHs: each must fail on the client with CS_ESIG. */
static void test_bad_server_signature(void **state)
{
	static const enum forge forges[] = {
		F_BAD_T, F_BAD_DIR, F_FLIP_SIG, F_OTHER_KEY,
	};
	struct fake f;
	struct wire c;
	struct sink kc;
	uint8_t m4[WIRE_M3_LEN];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof forges / sizeof forges[0]; i++) {
		fake_server_hello(&f, &c, &kc, s_pk, s_sk, s_pk);
		fake_auth(&f, m4, "hub", forges[i]);
		assert_int_equal(feed_chunks(&c, m4, sizeof m4, 0, &kc),
		    CS_ESIG);
		assert_int_equal(kc.opened, 0);
		assert_dead(&c);
		wire_free(&c);
		sink_free(&kc);
	}
}

/* A role that is not NUL-padded, and an AUTH sealed with TAG_FINAL. */
static void test_bad_auth_fields(void **state)
{
	struct fake f;
	struct wire s;
	struct sink ks;
	struct authz az;
	uint8_t m3[WIRE_M3_LEN];

	(void)state;
	fake_client_hello(&f, &s, &ks, &az, net_a);
	fake_auth(&f, m3, "site", F_BAD_ROLE);
	assert_int_equal(feed_chunks(&s, m3, sizeof m3, 0, &ks), CS_EDECODE);
	assert_int_equal(az.calls, 0);
	assert_dead(&s);
	wire_free(&s);
	sink_free(&ks);

	fake_client_hello(&f, &s, &ks, &az, net_a);
	fake_auth(&f, m3, "", F_OK);
	assert_int_equal(feed_chunks(&s, m3, sizeof m3, 0, &ks), CS_EDECODE);
	assert_dead(&s);
	wire_free(&s);
	sink_free(&ks);

	fake_client_hello(&f, &s, &ks, &az, net_a);
	fake_auth(&f, m3, "site", F_FINAL_TAG);
	assert_int_equal(feed_chunks(&s, m3, sizeof m3, 0, &ks), CS_EDECODE);
	assert_int_equal(az.calls, 0);
	assert_dead(&s);
	wire_free(&s);
	sink_free(&ks);
}

/* Two networks: the first sealed AUTH does not decrypt. */
static void test_different_networks(void **state)
{
	struct pair p;
	char side = 0;

	(void)state;
	pair_init(&p, net_a, net_b, s_pk);
	assert_int_equal(pair_handshake(&p, 0, &side), CS_EDECODE);
	assert_int_equal(side, 's');
	assert_string_equal(p.ks.cause,
	    "handshake: auth does not decrypt (different network?)");
	assert_int_equal(p.az.calls, 0);
	assert_int_equal(p.ks.nsent, WIRE_HELLO_LEN);
	assert_dead(&p.s);
	pair_free(&p);
}

/* A peer of another protocol version, either side. */
static void test_version_mismatch(void **state)
{
	struct fake f;
	struct wire w;
	struct sink k;
	uint8_t hello[WIRE_HELLO_LEN];
	const uint8_t *m1;
	size_t n;

	(void)state;
	fake_init(&f, 1, net_a, c_pk, c_sk);
	fake_hello(&f, hello, 7);
	memset(&k, 0, sizeof k);
	wire_init(&w, 0, net_a, s_sk, "hub", NULL, authorize_cb, NULL);
	assert_int_equal(feed_chunks(&w, hello, sizeof hello, 0, &k),
	    CS_EVERSION);
	assert_string_equal(k.cause,
	    "handshake: peer speaks another protocol version");
	assert_int_equal(k.nsent, 0);
	assert_dead(&w);
	wire_free(&w);

	/* The client refuses an M2 of version 0 at its ninth byte. */
	fake_hello(&f, hello, 0);
	memset(&k, 0, sizeof k);
	wire_init(&w, 1, net_a, c_sk, "site", s_pk, NULL, NULL);
	m1 = wire_start(&w, &n);
	assert_non_null(m1);
	assert_int_equal(feed_chunks(&w, hello, 9, 0, &k), CS_EVERSION);
	assert_dead(&w);
	wire_free(&w);
}

/* Bad magic fails at the first wrong byte. */
static void test_bad_magic(void **state)
{
	static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct wire w;
	struct sink k;
	struct wire_event ev;
	uint8_t hello[WIRE_HELLO_LEN];
	const char *cause = NULL;
	size_t used = 0;

	(void)state;
	memset(&k, 0, sizeof k);
	wire_init(&w, 0, net_a, s_sk, "hub", NULL, authorize_cb, NULL);
	assert_int_equal(feed_chunks(&w, (const uint8_t *)get, sizeof get - 1,
	    0, &k), CS_EDECODE);
	assert_string_equal(k.cause, "handshake: bad magic");
	assert_dead(&w);
	wire_free(&w);

	/* "cafesynX": refused when the eighth byte arrives, not at 41. */
	memcpy(hello, "cafesynX", 8);
	wire_init(&w, 0, net_a, s_sk, "hub", NULL, authorize_cb, NULL);
	assert_int_equal(wire_feed(&w, hello, 7, &used, &ev, &cause), 0);
	assert_int_equal(used, 7);
	assert_int_equal(ev.type, WIRE_EV_NONE);
	assert_int_equal(wire_feed(&w, hello + 7, 1, &used, &ev, &cause),
	    CS_EDECODE);
	assert_string_equal(cause, "handshake: bad magic");
	assert_dead(&w);
	wire_free(&w);
}

/* An all-zero (low-order) ephemeral key, and M1 reflected back as M2. */
static void test_bad_ephemeral(void **state)
{
	struct wire w;
	struct sink k;
	uint8_t hello[WIRE_HELLO_LEN], m1[WIRE_HELLO_LEN];
	const uint8_t *p;
	size_t n;

	(void)state;
	memset(hello, 0, sizeof hello);
	memcpy(hello, "cafesync", 8);
	hello[8] = WIRE_VERSION;
	memset(&k, 0, sizeof k);
	wire_init(&w, 0, net_a, s_sk, "hub", NULL, authorize_cb, NULL);
	assert_int_equal(feed_chunks(&w, hello, sizeof hello, 0, &k),
	    CS_EDECODE);
	assert_int_equal(k.nsent, 0);
	assert_dead(&w);
	wire_free(&w);

	memset(&k, 0, sizeof k);
	wire_init(&w, 1, net_a, c_sk, "site", s_pk, NULL, NULL);
	p = wire_start(&w, &n);
	memcpy(m1, p, n);
	assert_int_equal(feed_chunks(&w, m1, sizeof m1, 0, &k), CS_EDECODE);
	assert_int_equal(k.nsent, 0);
	assert_dead(&w);
	wire_free(&w);
}

/* wire_start is for the connecting side; wire_seal needs an open state. */
static void test_usage(void **state)
{
	struct wire w;
	uint8_t out[wire_sealed_len(1)];
	size_t n = 5;

	(void)state;
	wire_init(&w, 0, net_a, s_sk, "hub", NULL, authorize_cb, NULL);
	assert_null(wire_start(&w, &n));
	assert_int_equal(n, 0);
	assert_int_equal(wire_seal(&w, (const uint8_t *)"x", 1, out),
	    CS_EUSAGE);
	assert_dead(&w);
	wire_free(&w);
	/* wire_free leaves nothing secret, twice over. */
	wire_init(&w, 1, net_a, c_sk, "site", s_pk, NULL, NULL);
	wire_free(&w);
	assert_true(all_zero(w.sk, sizeof w.sk));
	assert_true(all_zero(w.eph_sk, sizeof w.eph_sk));
	assert_null(w.frame);
	assert_int_equal(w.state, WIRE_ST_FAILED);
	wire_free(&w);
	assert_dead(&w);
}

/* Random bytes in place of M1, M2, M3, M4 and a frame. */
static void test_garbage_every_stage(void **state)
{
	struct pair p;
	struct wire s;
	struct sink k;
	struct authz az;
	struct fake f;
	uint8_t junk[4096];
	const uint8_t *m1;
	size_t n;
	int round;

	(void)state;
	for (round = 0; round < 8; round++) {
		/* As M1 (never the magic: 2^-64). */
		do
			randombytes_buf(junk, sizeof junk);
		while (memcmp(junk, WIRE_MAGIC, WIRE_MAGIC_LEN) == 0);
		memset(&k, 0, sizeof k);
		wire_init(&s, 0, net_a, s_sk, "hub", NULL, authorize_cb, &az);
		assert_int_equal(feed_chunks(&s, junk, WIRE_HELLO_LEN, 0, &k),
		    CS_EDECODE);
		assert_dead(&s);
		wire_free(&s);

		/* As M2. */
		memset(&k, 0, sizeof k);
		wire_init(&s, 1, net_a, c_sk, "site", s_pk, NULL, NULL);
		m1 = wire_start(&s, &n);
		assert_non_null(m1);
		assert_int_equal(feed_chunks(&s, junk, WIRE_HELLO_LEN, 0, &k),
		    CS_EDECODE);
		assert_int_equal(k.nsent, 0);
		assert_dead(&s);
		wire_free(&s);

		/*
		 * As M3, after a good M1, with more junk behind it: only
		 * WIRE_M3_LEN bytes are taken before failing.
		 */
		fake_client_hello(&f, &s, &k, &az, net_a);
		{
			struct wire_event ev;
			const char *cause = NULL;
			size_t used = 0;

			assert_int_equal(wire_feed(&s, junk, sizeof junk, &used,
			    &ev, &cause), CS_EDECODE);
			assert_int_equal(used, WIRE_M3_LEN);
			assert_int_equal(az.calls, 0);
		}
		assert_dead(&s);
		wire_free(&s);
		sink_free(&k);

		/* As M4. */
		fake_server_hello(&f, &s, &k, s_pk, s_sk, s_pk);
		assert_int_equal(feed_chunks(&s, junk, WIRE_M3_LEN, 0, &k),
		    CS_EDECODE);
		assert_int_equal(k.opened, 0);
		assert_dead(&s);
		wire_free(&s);
		sink_free(&k);

		/* As a frame with a plausible prefix, and raw. */
		pair_init(&p, net_a, net_a, s_pk);
		pair_open(&p, 0);
		junk[0] = 0;
		junk[1] = 0;
		junk[2] = (uint8_t)((sizeof junk - 4) >> 8);
		junk[3] = (uint8_t)(sizeof junk - 4);
		assert_int_equal(feed_chunks(&p.s, junk, sizeof junk, 0, &p.ks),
		    CS_EDECODE);
		assert_string_equal(p.ks.cause,
		    "frame: does not decrypt (altered, replayed or reordered)");
		assert_dead(&p.s);
		randombytes_buf(junk, sizeof junk);
		junk[0] |= 0x01;	/* over 16 MiB: over the limit */
		assert_int_equal(feed_chunks(&p.c, junk, sizeof junk, 0, &p.kc),
		    CS_EBOUND);
		assert_dead(&p.c);
		pair_free(&p);
	}
}

/* ---- frame failures ----------------------------------------------------- */

/* Seals three frames on p's client. */
static void three_frames(struct pair *p, uint8_t *f[3])
{
	f[0] = seal(&p->c, "one", 3);
	f[1] = seal(&p->c, "two", 3);
	f[2] = seal(&p->c, "six", 3);
}

/* Frees three_frames()' frames. */
static void free_frames(uint8_t *f[3])
{
	free(f[0]);
	free(f[1]);
	free(f[2]);
}

#define FLEN wire_sealed_len(3)

static void test_frame_replayed(void **state)
{
	struct pair p;
	uint8_t *f[3];

	(void)state;
	pair_init(&p, net_a, net_a, s_pk);
	pair_open(&p, 0);
	three_frames(&p, f);
	assert_int_equal(feed_chunks(&p.s, f[0], FLEN, 0, &p.ks), 0);
	assert_int_equal(feed_chunks(&p.s, f[0], FLEN, 0, &p.ks), CS_EDECODE);
	assert_string_equal(p.ks.cause,
	    "frame: does not decrypt (altered, replayed or reordered)");
	assert_int_equal(p.ks.nmsg, 1);
	assert_dead(&p.s);
	free_frames(f);
	pair_free(&p);
}

static void test_frame_reordered(void **state)
{
	struct pair p;
	uint8_t *f[3];

	(void)state;
	pair_init(&p, net_a, net_a, s_pk);
	pair_open(&p, 0);
	three_frames(&p, f);
	assert_int_equal(feed_chunks(&p.s, f[1], FLEN, 0, &p.ks), CS_EDECODE);
	assert_int_equal(p.ks.nmsg, 0);
	assert_dead(&p.s);
	free_frames(f);
	pair_free(&p);
}

static void test_frame_dropped(void **state)
{
	struct pair p;
	uint8_t *f[3];

	(void)state;
	pair_init(&p, net_a, net_a, s_pk);
	pair_open(&p, 0);
	three_frames(&p, f);
	assert_int_equal(feed_chunks(&p.s, f[0], FLEN, 0, &p.ks), 0);
	assert_int_equal(feed_chunks(&p.s, f[2], FLEN, 0, &p.ks), CS_EDECODE);
	assert_int_equal(p.ks.nmsg, 1);
	assert_dead(&p.s);
	free_frames(f);
	pair_free(&p);
}

/* Every byte after the prefix flipped in turn fails to decrypt. */
static void test_frame_flipped(void **state)
{
	struct pair p;
	uint8_t *f;
	size_t i, n = wire_sealed_len(5);

	(void)state;
	for (i = 4; i < n; i++) {
		pair_init(&p, net_a, net_a, s_pk);
		pair_open(&p, 0);
		f = seal(&p.s, "hello", 5);
		f[i] ^= 0x20;
		assert_int_equal(feed_chunks(&p.c, f, n, 0, &p.kc), CS_EDECODE);
		assert_int_equal(p.kc.nmsg, 0);
		assert_dead(&p.c);
		free(f);
		pair_free(&p);
	}
}

/* A frame with the TAG_FINAL (or any other) tag is refused. */
static void test_frame_wrong_tag(void **state)
{
	struct fake f;
	struct wire c;
	struct sink kc;
	uint8_t m4[WIRE_M3_LEN], fr[64];
	size_t n;

	(void)state;
	fake_server_hello(&f, &c, &kc, s_pk, s_sk, s_pk);
	fake_auth(&f, m4, "hub", F_OK);
	assert_int_equal(feed_chunks(&c, m4, sizeof m4, 0, &kc), 0);
	assert_int_equal(kc.opened, 1);
	n = fake_frame(&f, fr, "ok", 2,
	    crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
	assert_int_equal(feed_chunks(&c, fr, n, 0, &kc), 0);
	assert_int_equal(kc.nmsg, 1);
	n = fake_frame(&f, fr, "bye", 3,
	    crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	assert_int_equal(feed_chunks(&c, fr, n, 0, &kc), CS_EDECODE);
	assert_dead(&c);
	wire_free(&c);
	sink_free(&kc);
}

/* A prefix over the limit fails at its fourth byte, nothing allocated. */
static void test_frame_over_limit(void **state)
{
	static const uint32_t lens[] = {
		WIRE_MAX_FRAME + WIRE_ABYTES + 1, 3000000, 0xffffffffu,
	};
	struct pair p;
	struct wire_event ev;
	uint8_t pre[8];
	const char *cause = NULL;
	size_t used = 0, i;

	(void)state;
	for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		pair_init(&p, net_a, net_a, s_pk);
		pair_open(&p, 0);
		pre[0] = (uint8_t)(lens[i] >> 24);
		pre[1] = (uint8_t)(lens[i] >> 16);
		pre[2] = (uint8_t)(lens[i] >> 8);
		pre[3] = (uint8_t)lens[i];
		memset(pre + 4, 0, 4);
		assert_int_equal(wire_feed(&p.s, pre, 3, &used, &ev, &cause),
		    0);
		assert_int_equal(used, 3);
		assert_int_equal(wire_feed(&p.s, pre + 3, 5, &used, &ev,
		    &cause), CS_EBOUND);
		assert_string_equal(cause,
		    "frame: declared length over the limit");
		assert_null(p.s.frame);
		assert_int_equal(p.s.frame_cap, 0);
		assert_dead(&p.s);
		pair_free(&p);
	}

	/* Exactly the limit is accepted and waits for its bytes. */
	pair_init(&p, net_a, net_a, s_pk);
	pair_open(&p, 0);
	pre[0] = (uint8_t)((WIRE_MAX_FRAME + WIRE_ABYTES) >> 24);
	pre[1] = (uint8_t)((WIRE_MAX_FRAME + WIRE_ABYTES) >> 16);
	pre[2] = (uint8_t)((WIRE_MAX_FRAME + WIRE_ABYTES) >> 8);
	pre[3] = (uint8_t)(WIRE_MAX_FRAME + WIRE_ABYTES);
	assert_int_equal(wire_feed(&p.s, pre, 4, &used, &ev, &cause), 0);
	assert_int_equal(ev.type, WIRE_EV_NONE);
	assert_int_equal(p.s.frame_cap, WIRE_MAX_FRAME + WIRE_ABYTES);
	pair_free(&p);

	/* Shorter than the tag: malformed. */
	pair_init(&p, net_a, net_a, s_pk);
	pair_open(&p, 0);
	memset(pre, 0, 4);
	pre[3] = WIRE_ABYTES - 1;
	assert_int_equal(wire_feed(&p.s, pre, 4, &used, &ev, &cause),
	    CS_EDECODE);
	assert_int_equal(p.s.frame_cap, 0);
	assert_dead(&p.s);
	pair_free(&p);
}

/* ---- messages ----------------------------------------------------------- */

/* Decodes a heap copy of exactly len bytes; returns the result. */
static int dec(struct wire_msg *m, const void *buf, size_t len, uint8_t **copy)
{
	const char *cause = NULL;
	int rc;

	*copy = dup_exact(buf, len);
	rc = wire_msg_decode(m, *copy, len, &cause);
	if (rc != 0) {
		assert_true(rc == CS_EDECODE || rc == CS_EBOUND);
		assert_non_null(cause);
		assert_null(m->zone);
		assert_null(m->heads);
		assert_null(m->items);
	}
	return rc;
}

/* Decodes w's bytes expecting an error; returns the code. */
static int dec_err(const struct proto_enc *w)
{
	struct wire_msg m;
	uint8_t *copy;
	int rc = dec(&m, w->sb.data, w->sb.size, &copy);

	wire_msg_free(&m);
	free(copy);
	return rc;
}

/* Packs n bytes as a bin. */
static void pack_bin(msgpack_packer *pk, const void *p, size_t n)
{
	msgpack_pack_bin(pk, n);
	if (n)
		msgpack_pack_bin_body(pk, p, n);
}

/* Returns whether p lies within [base, base + len). */
static int within(const void *p, size_t n, const uint8_t *base, size_t len)
{
	const uint8_t *b = p;

	return b >= base && b + n <= base + len;
}

static void test_msg_heads(void **state)
{
	struct proto_enc w;
	struct wire_msg m;
	uint8_t o1[32], h1[32], o2[32], h2[32], *copy;
	size_t i;

	(void)state;
	memset(o1, 1, 32);
	memset(h1, 2, 32);
	memset(o2, 3, 32);
	memset(h2, 4, 32);
	proto_enc_init(&w);
	wire_pack_heads_begin(&w, 2);
	wire_pack_head(&w, o1, 7, h1);
	wire_pack_head(&w, o2, UINT64_MAX, h2);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.type, WIRE_MSG_HEADS);
	assert_int_equal(m.nheads, 2);
	assert_memory_equal(m.heads[0].origin, o1, 32);
	assert_int_equal(m.heads[0].seq, 7);
	assert_memory_equal(m.heads[0].hash, h1, 32);
	assert_memory_equal(m.heads[1].origin, o2, 32);
	assert_true(m.heads[1].seq == UINT64_MAX);
	assert_memory_equal(m.heads[1].hash, h2, 32);
	/* Items point into the caller's buffer. */
	assert_true(within(m.heads[1].hash, 32, copy, w.sb.size));
	wire_msg_free(&m);
	wire_msg_free(&m);	/* safe twice */
	free(copy);

	/* No heads at all. */
	wire_pack_heads_begin(&w, 0);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.type, WIRE_MSG_HEADS);
	assert_int_equal(m.nheads, 0);
	wire_msg_free(&m);
	free(copy);

	/* Every proper prefix is refused. */
	wire_pack_heads_begin(&w, 2);
	wire_pack_head(&w, o1, 7, h1);
	wire_pack_head(&w, o2, 9, h2);
	for (i = 0; i < w.sb.size; i++) {
		assert_int_equal(dec(&m, w.sb.data, i, &copy), CS_EDECODE);
		free(copy);
	}
	proto_enc_free(&w);
}

/*
 * The HEADS of a peer that reads 1,000 origins, packed as send_heads() in
 * daemon/sync.c packs it (heads, then the offer), fits in 80 KB on the
 * wire, its frame's length prefix and MAC included, whatever the seqs:
 * a head costs at most 78 bytes (a 3-array, two bin 32, a uint64).
 */
static void test_msg_heads_1000(void **state)
{
	struct proto_enc w;
	struct wire_msg m;
	uint8_t (*o)[32] = xcalloc(1000, 32), h[32], *copy;
	uint32_t dict = 1;
	size_t i, frame;

	(void)state;
	randombytes_buf(o, 1000 * 32);
	randombytes_buf(h, sizeof h);
	proto_enc_init(&w);
	wire_pack_heads_begin_offer(&w, 1000);
	for (i = 0; i < 1000; i++)
		wire_pack_head(&w, o[i], UINT64_MAX - i, h);
	wire_pack_offer(&w, &dict, 1);
	frame = 4 + w.sb.size + WIRE_ABYTES;
	print_message("HEADS of 1,000 origins: %zu bytes, %zu in its frame\n",
	    w.sb.size, frame);
	assert_in_range(frame, 1000 * 78, 80000 - 1);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.nheads, 1000);
	assert_memory_equal(m.heads[999].origin, o[999], 32);
	assert_true(m.heads[999].seq == UINT64_MAX - 999);
	assert_int_equal(m.has_offer, 1);
	wire_msg_free(&m);
	free(copy);
	proto_enc_free(&w);
	free(o);
}

static void test_msg_commits(void **state)
{
	struct proto_enc w;
	struct wire_msg m;
	uint8_t e1[40], e2[300], sig1[64], sig2[64], *copy;

	(void)state;
	randombytes_buf(e1, sizeof e1);
	randombytes_buf(e2, sizeof e2);
	randombytes_buf(sig1, sizeof sig1);
	randombytes_buf(sig2, sizeof sig2);
	proto_enc_init(&w);
	wire_pack_commits_begin(&w, 42, 2);
	proto_bundle_item(&w, e1, sizeof e1, sig1);
	proto_bundle_item(&w, e2, sizeof e2, sig2);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.type, WIRE_MSG_COMMITS);
	assert_int_equal(m.n, 42);
	assert_int_equal(m.nitems, 2);
	assert_int_equal(m.items[0].elen, sizeof e1);
	assert_memory_equal(m.items[0].e, e1, sizeof e1);
	assert_memory_equal(m.items[0].sig, sig1, 64);
	assert_int_equal(m.items[1].elen, sizeof e2);
	assert_memory_equal(m.items[1].e, e2, sizeof e2);
	assert_memory_equal(m.items[1].sig, sig2, 64);
	assert_true(within(m.items[1].e, sizeof e2, copy, w.sb.size));
	assert_true(within(m.items[1].sig, 64, copy, w.sb.size));
	wire_msg_free(&m);
	free(copy);
	proto_enc_free(&w);
}

/* WANT: a round trip, and every malformed shape refused. */
static void test_msg_want(void **state)
{
	struct proto_enc w;
	struct wire_msg m;
	uint8_t *copy, origin[PROTO_KEY_LEN];
	const char *cause;
	size_t i;

	(void)state;
	memset(origin, 0x5a, sizeof(origin));
	proto_enc_init(&w);
	wire_pack_want_begin(&w, 2);
	wire_pack_want(&w, origin, 7);
	wire_pack_want(&w, origin, UINT64_C(1) << 40);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.type, WIRE_MSG_WANT);
	assert_int_equal(m.nheads, 2);
	assert_memory_equal(m.heads[0].origin, origin, PROTO_KEY_LEN);
	assert_int_equal(m.heads[0].seq, 7);
	assert_true(m.heads[1].seq == UINT64_C(1) << 40);
	assert_null(m.heads[0].hash);
	wire_msg_free(&m);
	free(copy);

	/* Empty, seq 0, a short origin: refused. */
	wire_pack_want_begin(&w, 0);
	assert_int_equal(wire_msg_decode(&m, (const uint8_t *)w.sb.data,
	    w.sb.size, &cause), CS_EDECODE);
	wire_pack_want_begin(&w, 1);
	wire_pack_want(&w, origin, 0);
	assert_int_equal(wire_msg_decode(&m, (const uint8_t *)w.sb.data,
	    w.sb.size, &cause), CS_EDECODE);
	wire_pack_want_begin(&w, 1);
	msgpack_pack_array(&w.pk, 2);
	msgpack_pack_bin(&w.pk, 31);
	msgpack_pack_bin_body(&w.pk, origin, 31);
	msgpack_pack_uint64(&w.pk, 1);
	assert_int_equal(wire_msg_decode(&m, (const uint8_t *)w.sb.data,
	    w.sb.size, &cause), CS_EDECODE);

	/* Over WIRE_MAX_WANTS entries: a bound. */
	wire_pack_want_begin(&w, WIRE_MAX_WANTS + 1);
	for (i = 0; i <= WIRE_MAX_WANTS; i++)
		wire_pack_want(&w, origin, i + 1);
	assert_int_equal(wire_msg_decode(&m, (const uint8_t *)w.sb.data,
	    w.sb.size, &cause), CS_EBOUND);
	proto_enc_free(&w);
}

static void test_msg_small(void **state)
{
	struct proto_enc w;
	struct wire_msg m;
	uint8_t *copy;
	char *long_reason;

	(void)state;
	proto_enc_init(&w);
	wire_pack_ack(&w, 3, 100, 2);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.type, WIRE_MSG_ACK);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.applied, 100);
	assert_int_equal(m.refused, 2);
	wire_msg_free(&m);
	free(copy);

	wire_pack_ping(&w, WIRE_MSG_PING, UINT64_C(0xdeadbeefcafe));
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.type, WIRE_MSG_PING);
	assert_true(m.n == UINT64_C(0xdeadbeefcafe));
	wire_msg_free(&m);
	free(copy);

	wire_pack_ping(&w, WIRE_MSG_PONG, 0);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.type, WIRE_MSG_PONG);
	assert_int_equal(m.n, 0);
	wire_msg_free(&m);
	free(copy);

	wire_pack_error(&w, "schema changed");
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.type, WIRE_MSG_ERROR);
	assert_int_equal(m.reason_len, 14);
	assert_memory_equal(m.reason, "schema changed", 14);
	wire_msg_free(&m);
	free(copy);

	/* A long reason is cut to the bound, at a UTF-8 boundary. */
	long_reason = malloc(400);
	assert_non_null(long_reason);
	memset(long_reason, 'a', 199);
	memcpy(long_reason + 199, "\xc3\xa9", 2);	/* straddles 200 */
	memset(long_reason + 201, 'b', 198);
	long_reason[399] = '\0';
	wire_pack_error(&w, long_reason);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.reason_len, 199);
	wire_msg_free(&m);
	free(copy);
	free(long_reason);
	proto_enc_free(&w);
}

/* Wrong shapes, each with its exact code. */
static void test_msg_wrong_shapes(void **state)
{
	struct proto_enc w;
	msgpack_packer *pk = &w.pk;
	uint8_t k32[32], k31[31], k33[33], sig[64];

	(void)state;
	memset(k32, 1, sizeof k32);
	memset(k31, 1, sizeof k31);
	memset(k33, 1, sizeof k33);
	memset(sig, 2, sizeof sig);
	proto_enc_init(&w);

#define EXPECT(code) assert_int_equal(dec_err(&w), (code)); \
	proto_enc_reset(&w)

	/* Not an array, an empty array, a type that is not a uint. */
	msgpack_pack_map(pk, 0);
	EXPECT(CS_EDECODE);
	msgpack_pack_array(pk, 0);
	EXPECT(CS_EDECODE);
	msgpack_pack_uint64(pk, WIRE_MSG_PING);
	EXPECT(CS_EDECODE);
	msgpack_pack_array(pk, 2);
	proto_pack_cstr(pk, "ping");
	msgpack_pack_uint64(pk, 1);
	EXPECT(CS_EDECODE);
	msgpack_pack_array(pk, 2);
	msgpack_pack_int64(pk, -48);
	msgpack_pack_uint64(pk, 1);
	EXPECT(CS_EDECODE);
	/* Empty input. */
	EXPECT(CS_EDECODE);

	/* HEADS: extra element, list not an array, a head of 2. */
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, WIRE_MSG_HEADS);
	msgpack_pack_array(pk, 0);
	msgpack_pack_nil(pk);
	EXPECT(CS_EDECODE);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, WIRE_MSG_HEADS);
	msgpack_pack_nil(pk);
	EXPECT(CS_EDECODE);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, WIRE_MSG_HEADS);
	msgpack_pack_array(pk, 1);
	msgpack_pack_array(pk, 2);
	pack_bin(pk, k32, 32);
	msgpack_pack_uint64(pk, 1);
	EXPECT(CS_EDECODE);
	/* Short and long origin, short hash, negative seq. */
	wire_pack_heads_begin(&w, 1);
	msgpack_pack_array(pk, 3);
	pack_bin(pk, k31, 31);
	msgpack_pack_uint64(pk, 1);
	pack_bin(pk, k32, 32);
	EXPECT(CS_EDECODE);
	wire_pack_heads_begin(&w, 1);
	msgpack_pack_array(pk, 3);
	pack_bin(pk, k33, 33);
	msgpack_pack_uint64(pk, 1);
	pack_bin(pk, k32, 32);
	EXPECT(CS_EDECODE);
	wire_pack_heads_begin(&w, 1);
	msgpack_pack_array(pk, 3);
	pack_bin(pk, k32, 32);
	msgpack_pack_uint64(pk, 1);
	pack_bin(pk, k31, 31);
	EXPECT(CS_EDECODE);
	wire_pack_heads_begin(&w, 1);
	msgpack_pack_array(pk, 3);
	pack_bin(pk, k32, 32);
	msgpack_pack_int64(pk, -1);
	pack_bin(pk, k32, 32);
	EXPECT(CS_EDECODE);
	/* An origin as str, not bin. */
	wire_pack_heads_begin(&w, 1);
	msgpack_pack_array(pk, 3);
	msgpack_pack_str(pk, 32);
	msgpack_pack_str_body(pk, k32, 32);
	msgpack_pack_uint64(pk, 1);
	pack_bin(pk, k32, 32);
	EXPECT(CS_EDECODE);

	/* COMMITS: empty, batch 0, short sig, E as str, item of 3. */
	wire_pack_commits_begin(&w, 1, 0);
	EXPECT(CS_EDECODE);
	wire_pack_commits_begin(&w, 0, 1);
	proto_bundle_item(&w, k32, 32, sig);
	EXPECT(CS_EDECODE);
	wire_pack_commits_begin(&w, 1, 1);
	msgpack_pack_array(pk, 2);
	pack_bin(pk, k32, 32);
	pack_bin(pk, sig, 63);
	EXPECT(CS_EDECODE);
	wire_pack_commits_begin(&w, 1, 1);
	msgpack_pack_array(pk, 2);
	msgpack_pack_str(pk, 32);
	msgpack_pack_str_body(pk, k32, 32);
	pack_bin(pk, sig, 64);
	EXPECT(CS_EDECODE);
	wire_pack_commits_begin(&w, 1, 1);
	msgpack_pack_array(pk, 3);
	pack_bin(pk, k32, 32);
	pack_bin(pk, sig, 64);
	msgpack_pack_nil(pk);
	EXPECT(CS_EDECODE);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, WIRE_MSG_COMMITS);
	msgpack_pack_array(pk, 0);
	EXPECT(CS_EDECODE);

	/* ACK: short, batch 0, a str count. */
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, WIRE_MSG_ACK);
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_uint64(pk, 1);
	EXPECT(CS_EDECODE);
	wire_pack_ack(&w, 0, 1, 1);
	EXPECT(CS_EDECODE);
	msgpack_pack_array(pk, 4);
	msgpack_pack_uint64(pk, WIRE_MSG_ACK);
	msgpack_pack_uint64(pk, 1);
	proto_pack_cstr(pk, "1");
	msgpack_pack_uint64(pk, 1);
	EXPECT(CS_EDECODE);

	/* PING without nonce, PONG with two. */
	msgpack_pack_array(pk, 1);
	msgpack_pack_uint64(pk, WIRE_MSG_PING);
	EXPECT(CS_EDECODE);
	msgpack_pack_array(pk, 3);
	msgpack_pack_uint64(pk, WIRE_MSG_PONG);
	msgpack_pack_uint64(pk, 1);
	msgpack_pack_uint64(pk, 2);
	EXPECT(CS_EDECODE);

	/* ERROR with a bin reason. */
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, WIRE_MSG_ERROR);
	pack_bin(pk, "oops", 4);
	EXPECT(CS_EDECODE);
#undef EXPECT
	proto_enc_free(&w);
}

static void test_msg_unknown_type(void **state)
{
	static const uint64_t types[] = {
		0, 0x11, 0x22, 0x32, 0x41, 0x52, 0x110, UINT64_MAX,
	};
	struct proto_enc w;
	size_t i;

	(void)state;
	proto_enc_init(&w);
	for (i = 0; i < sizeof types / sizeof types[0]; i++) {
		proto_enc_reset(&w);
		msgpack_pack_array(&w.pk, 2);
		msgpack_pack_uint64(&w.pk, types[i]);
		msgpack_pack_uint64(&w.pk, 1);
		assert_int_equal(dec_err(&w), CS_EDECODE);
	}
	/* A PING's type plus 2^32 is not a PING (no truncation). */
	proto_enc_reset(&w);
	msgpack_pack_array(&w.pk, 2);
	msgpack_pack_uint64(&w.pk, UINT64_C(0x100000030));
	msgpack_pack_uint64(&w.pk, 1);
	assert_int_equal(dec_err(&w), CS_EDECODE);
	proto_enc_free(&w);
}

static void test_msg_trailing(void **state)
{
	struct proto_enc w;

	(void)state;
	proto_enc_init(&w);
	wire_pack_ping(&w, WIRE_MSG_PING, 5);
	msgpack_pack_nil(&w.pk);
	assert_int_equal(dec_err(&w), CS_EDECODE);
	wire_pack_ack(&w, 1, 1, 0);
	msgpack_pack_array(&w.pk, 0);
	assert_int_equal(dec_err(&w), CS_EDECODE);
	proto_enc_free(&w);
}

/* E at the bound is taken; one byte over is CS_EBOUND. */
static void test_msg_commit_bound(void **state)
{
	struct proto_enc w;
	struct wire_msg m;
	uint8_t *e, sig[64], *copy;

	(void)state;
	e = calloc(1, PROTO_MAX_COMMIT + 1);
	assert_non_null(e);
	memset(sig, 9, sizeof sig);
	proto_enc_init(&w);
	wire_pack_commits_begin(&w, 1, 1);
	proto_bundle_item(&w, e, PROTO_MAX_COMMIT, sig);
	assert_int_equal(dec(&m, w.sb.data, w.sb.size, &copy), 0);
	assert_int_equal(m.items[0].elen, PROTO_MAX_COMMIT);
	wire_msg_free(&m);
	free(copy);
	wire_pack_commits_begin(&w, 1, 1);
	proto_bundle_item(&w, e, PROTO_MAX_COMMIT + 1, sig);
	assert_int_equal(dec_err(&w), CS_EBOUND);
	free(e);

	/* A message over the frame limit at all. */
	e = calloc(1, WIRE_MAX_FRAME + 1);
	assert_non_null(e);
	assert_int_equal(wire_msg_decode(&m, e, WIRE_MAX_FRAME + 1, NULL),
	    CS_EBOUND);
	assert_null(m.zone);
	free(e);
	proto_enc_free(&w);
}

/* A reason of WIRE_MAX_REASON bytes is taken; one more is CS_EBOUND. */
static void test_msg_reason_bound(void **state)
{
	struct proto_enc w;
	char reason[WIRE_MAX_REASON + 1];

	(void)state;
	memset(reason, 'r', sizeof reason);
	proto_enc_init(&w);
	msgpack_pack_array(&w.pk, 2);
	msgpack_pack_uint64(&w.pk, WIRE_MSG_ERROR);
	msgpack_pack_str(&w.pk, WIRE_MAX_REASON);
	msgpack_pack_str_body(&w.pk, reason, WIRE_MAX_REASON);
	assert_int_equal(dec_err(&w), 0);
	proto_enc_reset(&w);
	msgpack_pack_array(&w.pk, 2);
	msgpack_pack_uint64(&w.pk, WIRE_MSG_ERROR);
	msgpack_pack_str(&w.pk, WIRE_MAX_REASON + 1);
	msgpack_pack_str_body(&w.pk, reason, WIRE_MAX_REASON + 1);
	assert_int_equal(dec_err(&w), CS_EBOUND);
	proto_enc_free(&w);
}

/*
 * wire_msg_peek_type(): every packed message's type, whatever its length,
 * and -1 for what is not an array opening with a type.
 */
static void test_msg_peek_type(void **state)
{
	static const uint8_t map[] = { 0x82, 0x20, 0x01 };
	static const uint8_t neg[] = { 0x92, 0xe0, 0x01 };
	static const uint8_t big[] = { 0xdc, 0x00, 0x02, 0x20, 0x01 };
	static const uint8_t empty[] = { 0x90, 0x20 };
	struct proto_enc w;

	(void)state;
	proto_enc_init(&w);
	wire_pack_ping(&w, WIRE_MSG_PING, 7);
	assert_int_equal(wire_msg_peek_type((const uint8_t *)w.sb.data,
	    w.sb.size), WIRE_MSG_PING);
	proto_enc_reset(&w);
	wire_pack_ping(&w, WIRE_MSG_PONG, 7);
	assert_int_equal(wire_msg_peek_type((const uint8_t *)w.sb.data,
	    w.sb.size), WIRE_MSG_PONG);
	proto_enc_reset(&w);
	wire_pack_error(&w, "no");
	assert_int_equal(wire_msg_peek_type((const uint8_t *)w.sb.data,
	    w.sb.size), WIRE_MSG_ERROR);
	/* Two bytes are enough; fewer are not. */
	assert_int_equal(wire_msg_peek_type((const uint8_t *)w.sb.data, 2),
	    WIRE_MSG_ERROR);
	assert_int_equal(wire_msg_peek_type((const uint8_t *)w.sb.data, 1),
	    -1);
	assert_int_equal(wire_msg_peek_type(NULL, 0), -1);
	/* A map, a negative type, an array16 (never sent): no type. */
	assert_int_equal(wire_msg_peek_type(map, sizeof(map)), -1);
	assert_int_equal(wire_msg_peek_type(neg, sizeof(neg)), -1);
	assert_int_equal(wire_msg_peek_type(big, sizeof(big)), -1);
	/* An empty array has no type, whatever follows it. */
	assert_int_equal(wire_msg_peek_type(empty, sizeof(empty)), -1);
	proto_enc_free(&w);
}

/* Counts that could never fit, and nesting deeper than a message's. */
static void test_msg_huge_counts(void **state)
{
	static const uint8_t heads32[] = { 0x92, 0x10, 0xdd, 0xff, 0xff, 0xff,
	    0xff };
	static const uint8_t heads16[] = { 0x92, 0x10, 0xdc, 0xff, 0xff, 0x93 };
	static const uint8_t top32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x30 };
	static const uint8_t map32[] = { 0x92, 0x20, 0xdf, 0x7f, 0xff, 0xff,
	    0xff };
	static const uint8_t bin32[] = { 0x92, 0x40, 0xc6, 0xff, 0xff, 0xff,
	    0xff };
	static const uint8_t deep[] = { 0x92, 0x10, 0x91, 0x91, 0x91, 0x90 };
	static const uint8_t ext[] = { 0x92, 0x30, 0xd4, 0x01, 0x00 };
	struct wire_msg m;
	uint8_t *copy;

	(void)state;
#define REFUSE(a) do { \
	assert_int_equal(dec(&m, a, sizeof a, &copy), CS_EDECODE); \
	free(copy); \
} while (0)
	REFUSE(heads32);
	REFUSE(heads16);
	REFUSE(top32);
	REFUSE(map32);
	REFUSE(bin32);
	REFUSE(deep);
	REFUSE(ext);
#undef REFUSE
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_whole),
		cmocka_unit_test(test_handshake_bytewise),
		cmocka_unit_test(test_handshake_one_buffer),
		cmocka_unit_test(test_open_after_m4),
		cmocka_unit_test(test_large_messages),
		cmocka_unit_test(test_wrong_server_key),
		cmocka_unit_test(test_wrong_server_key_signed),
		cmocka_unit_test(test_authorize_refuses),
		cmocka_unit_test(test_fail_closed_without_policy),
		cmocka_unit_test(test_bad_client_signature),
		cmocka_unit_test(test_bad_server_signature),
		cmocka_unit_test(test_bad_auth_fields),
		cmocka_unit_test(test_different_networks),
		cmocka_unit_test(test_version_mismatch),
		cmocka_unit_test(test_bad_magic),
		cmocka_unit_test(test_bad_ephemeral),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_garbage_every_stage),
		cmocka_unit_test(test_frame_replayed),
		cmocka_unit_test(test_frame_reordered),
		cmocka_unit_test(test_frame_dropped),
		cmocka_unit_test(test_frame_flipped),
		cmocka_unit_test(test_frame_wrong_tag),
		cmocka_unit_test(test_frame_over_limit),
		cmocka_unit_test(test_msg_heads),
		cmocka_unit_test(test_msg_heads_1000),
		cmocka_unit_test(test_msg_commits),
		cmocka_unit_test(test_msg_small),
		cmocka_unit_test(test_msg_want),
		cmocka_unit_test(test_msg_wrong_shapes),
		cmocka_unit_test(test_msg_unknown_type),
		cmocka_unit_test(test_msg_trailing),
		cmocka_unit_test(test_msg_commit_bound),
		cmocka_unit_test(test_msg_reason_bound),
		cmocka_unit_test(test_msg_huge_counts),
		cmocka_unit_test(test_msg_peek_type),
	};

	return cmocka_run_group_tests(tests, setup_group, NULL);
}
