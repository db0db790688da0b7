/*
 * fuzz_wire.c: libFuzzer target for the wire protocol (proto/wire.c).
 *
 * For each input it:
 *   1. decodes the input with wire_msg_decode() (an exact-size heap copy,
 *      so ASan bounds it) and, when it is accepted, touches every byte the
 *      message points to, checks that each pointer lies inside the input,
 *      checks the documented bounds, re-encodes the message with the
 *      wire_pack_*() encoders and checks the re-encoding decodes to the
 *      same message;
 *   2. feeds the input, in chunks whose size the first byte picks, to an
 *      accepting side: raw (from its first byte, as M1), after an honest
 *      M1 (as M3), or after an honest handshake (as frames); and, sealed
 *      by an honest client as one message, through the frame path, where
 *      it must come out as it went in.  Along the way it holds wire_feed()
 *      to its contract: it uses at most what it is given, WIRE_EV_NONE
 *      means it used everything, an error leaves WIRE_ST_FAILED with a
 *      cause and every later call fails, at most WIRE_M3_LEN bytes are
 *      buffered before the handshake is done and a frame's buffer never
 *      exceeds the limit;
 *   3. frees everything (LeakSanitizer reports what is not).
 *
 * libsodium's random source is replaced by a deterministic one, reset for
 * each input, so a crash reproduces.  Any broken promise aborts, which
 * libFuzzer reports as a crash.
 *
 *   ./build-fuzz/fuzz_wire -max_total_time=60 CORPUS_DIR
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Stops the run when a promise does not hold. */
#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "fuzz_wire: %s:%d: check failed: %s\n", \
		    __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

static volatile uint8_t sink;

/* Reads every byte of p so ASan checks the whole range. */
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

/* ---- a deterministic random source ------------------------------------ */

static uint64_t rnd_counter;

/* Names the source. */
static const char *
rnd_name(void)
{
	return "fuzz";
}

/* Fills buf from a ChaCha20 stream seeded by a per-input counter. */
static void
rnd_buf(void *buf, size_t size)
{
	uint8_t seed[randombytes_SEEDBYTES];

	memset(seed, 0, sizeof(seed));
	memcpy(seed, &rnd_counter, sizeof(rnd_counter));
	rnd_counter++;
	randombytes_buf_deterministic(buf, size, seed);
}

/* Returns 32 bits from rnd_buf(). */
static uint32_t
rnd_random(void)
{
	uint32_t v;

	rnd_buf(&v, sizeof(v));
	return v;
}

static struct randombytes_implementation rnd_impl = {
	rnd_name, rnd_random, NULL, NULL, rnd_buf, NULL,
};

/* ---- keys -------------------------------------------------------------- */

static uint8_t network[PROTO_KEY_LEN];
static uint8_t c_pk[PROTO_KEY_LEN], c_sk[PROTO_SK_LEN];
static uint8_t s_pk[PROTO_KEY_LEN], s_sk[PROTO_SK_LEN];

/* Sets up libsodium with the deterministic source and fixed keys, once. */
static void
setup(void)
{
	static int done;
	uint8_t seed[crypto_sign_SEEDBYTES];

	if (done)
		return;
	done = 1;
	randombytes_set_implementation(&rnd_impl);
	CHECK(sodium_init() >= 0);
	memset(network, 0x5a, sizeof(network));
	memset(seed, 1, sizeof(seed));
	crypto_sign_seed_keypair(c_pk, c_sk, seed);
	memset(seed, 2, sizeof(seed));
	crypto_sign_seed_keypair(s_pk, s_sk, seed);
}

/* Accepts every key (the fuzzer cannot forge a signature anyway). */
static int
authorize(void *arg, const uint8_t key[PROTO_KEY_LEN], const char *role,
    const char **why)
{
	(void)arg;
	touch(key, PROTO_KEY_LEN);
	CHECK(strlen(role) > 0 && strlen(role) < WIRE_ROLE_LEN);
	*why = NULL;
	return 0;
}

/* ---- messages ---------------------------------------------------------- */

/* Checks an accepted message: pointers in buf, bounds as documented. */
static void
check_msg(const struct wire_msg *m, const uint8_t *buf, size_t len)
{
	size_t i;

#define IN(p, n) CHECK((const uint8_t *)(p) >= buf && \
	(const uint8_t *)(p) + (n) <= buf + len)
	switch (m->type) {
	case WIRE_MSG_HEADS:
		CHECK(m->nheads == 0 || m->heads != NULL);
		for (i = 0; i < m->nheads; i++) {
			IN(m->heads[i].origin, PROTO_KEY_LEN);
			IN(m->heads[i].hash, PROTO_HASH_LEN);
			touch(m->heads[i].origin, PROTO_KEY_LEN);
			touch(m->heads[i].hash, PROTO_HASH_LEN);
		}
		break;
	case WIRE_MSG_WANT:
		CHECK(m->nheads >= 1 && m->nheads <= WIRE_MAX_WANTS);
		for (i = 0; i < m->nheads; i++) {
			IN(m->heads[i].origin, PROTO_KEY_LEN);
			CHECK(m->heads[i].seq >= 1 && m->heads[i].hash == NULL);
			touch(m->heads[i].origin, PROTO_KEY_LEN);
		}
		break;
	case WIRE_MSG_COMMITS:
		CHECK(m->n >= 1);
		CHECK(m->nitems >= 1 && m->items != NULL);
		for (i = 0; i < m->nitems; i++) {
			CHECK(m->items[i].elen <= PROTO_MAX_COMMIT);
			IN(m->items[i].e, m->items[i].elen);
			IN(m->items[i].sig, PROTO_SIG_LEN);
			touch(m->items[i].e, m->items[i].elen);
			touch(m->items[i].sig, PROTO_SIG_LEN);
		}
		break;
	case WIRE_MSG_ACK:
		CHECK(m->n >= 1);
		break;
	case WIRE_MSG_PING:
	case WIRE_MSG_PONG:
		break;
	case WIRE_MSG_ERROR:
		CHECK(m->reason_len <= WIRE_MAX_REASON);
		if (m->reason_len > 0)
			IN(m->reason, m->reason_len);
		touch(m->reason, m->reason_len);
		break;
	case WIRE_MSG_JOIN:
		IN(m->invite, WIRE_INVITE_LEN);
		IN(m->secret, WIRE_SECRET_LEN);
		/* fall through: the name, as JOINED's role */
	case WIRE_MSG_JOINED:
		CHECK(m->reason_len >= 1 && m->reason_len <= WIRE_MAX_NAME);
		IN(m->reason, m->reason_len);
		touch(m->reason, m->reason_len);
		break;
	default:
		CHECK(!"decoded an unknown type");
	}
#undef IN
}

/* Re-encodes m with the public encoders into enc. */
static void
encode(struct proto_enc *enc, const struct wire_msg *m)
{
	size_t i;

	switch (m->type) {
	case WIRE_MSG_HEADS:
		if (m->has_offer)
			wire_pack_heads_begin_offer(enc, m->nheads);
		else
			wire_pack_heads_begin(enc, m->nheads);
		for (i = 0; i < m->nheads; i++)
			wire_pack_head(enc, m->heads[i].origin,
			    m->heads[i].seq, m->heads[i].hash);
		if (m->has_offer)
			wire_pack_offer(enc, m->offer, m->noffer);
		break;
	case WIRE_MSG_WANT:
		wire_pack_want_begin(enc, m->nheads);
		for (i = 0; i < m->nheads; i++)
			wire_pack_want(enc, m->heads[i].origin,
			    m->heads[i].seq);
		break;
	case WIRE_MSG_COMMITS:
		wire_pack_commits_begin(enc, m->n, m->nitems);
		for (i = 0; i < m->nitems; i++)
			proto_bundle_item(enc, m->items[i].e, m->items[i].elen,
			    m->items[i].sig);
		break;
	case WIRE_MSG_ACK:
		wire_pack_ack(enc, m->n, m->applied, m->refused);
		break;
	case WIRE_MSG_PING:
	case WIRE_MSG_PONG:
		wire_pack_ping(enc, m->type, m->n);
		break;
	case WIRE_MSG_JOIN:
	case WIRE_MSG_JOINED:
		/* The encoders take C strings; pack these as they are. */
		proto_enc_reset(enc);
		msgpack_pack_array(&enc->pk, m->type == WIRE_MSG_JOIN ? 4 : 2);
		msgpack_pack_uint64(&enc->pk, m->type);
		if (m->type == WIRE_MSG_JOIN) {
			msgpack_pack_bin(&enc->pk, WIRE_INVITE_LEN);
			msgpack_pack_bin_body(&enc->pk, m->invite,
			    WIRE_INVITE_LEN);
			msgpack_pack_bin(&enc->pk, WIRE_SECRET_LEN);
			msgpack_pack_bin_body(&enc->pk, m->secret,
			    WIRE_SECRET_LEN);
		}
		msgpack_pack_str(&enc->pk, m->reason_len);
		msgpack_pack_str_body(&enc->pk, m->reason, m->reason_len);
		break;
	default:
		/* ERROR: the encoder takes a C string; pack it as is. */
		proto_enc_reset(enc);
		msgpack_pack_array(&enc->pk, 2);
		msgpack_pack_uint64(&enc->pk, WIRE_MSG_ERROR);
		msgpack_pack_str(&enc->pk, m->reason_len);
		msgpack_pack_str_body(&enc->pk, m->reason, m->reason_len);
		break;
	}
}

/* Checks two decoded messages are the same message. */
static void
check_same(const struct wire_msg *a, const struct wire_msg *b)
{
	size_t i;

	CHECK(a->type == b->type);
	CHECK(a->n == b->n);
	CHECK(a->applied == b->applied && a->refused == b->refused);
	CHECK(a->reason_len == b->reason_len);
	if (a->reason_len > 0)
		CHECK(memcmp(a->reason, b->reason, a->reason_len) == 0);
	CHECK((a->invite == NULL) == (b->invite == NULL));
	if (a->invite != NULL)
		CHECK(memcmp(a->invite, b->invite, WIRE_INVITE_LEN) == 0 &&
		    memcmp(a->secret, b->secret, WIRE_SECRET_LEN) == 0);
	CHECK(a->nheads == b->nheads);
	for (i = 0; i < a->nheads; i++) {
		CHECK(memcmp(a->heads[i].origin, b->heads[i].origin,
		    PROTO_KEY_LEN) == 0);
		CHECK(a->heads[i].seq == b->heads[i].seq);
		CHECK((a->heads[i].hash == NULL) == (b->heads[i].hash == NULL));
		if (a->heads[i].hash != NULL)
			CHECK(memcmp(a->heads[i].hash, b->heads[i].hash,
			    PROTO_HASH_LEN) == 0);
	}
	CHECK(a->nitems == b->nitems);
	for (i = 0; i < a->nitems; i++) {
		CHECK(a->items[i].elen == b->items[i].elen);
		if (a->items[i].elen > 0)
			CHECK(memcmp(a->items[i].e, b->items[i].e,
			    a->items[i].elen) == 0);
		CHECK(memcmp(a->items[i].sig, b->items[i].sig,
		    PROTO_SIG_LEN) == 0);
	}
}

/* Copies n bytes to an exact-size heap buffer so ASan bounds them. */
static uint8_t *
dup_exact(const void *p, size_t n)
{
	uint8_t *d = xmalloc(n ? n : 1);

	if (n > 0)
		memcpy(d, p, n);
	return d;
}

/* Decodes data as a message and, when accepted, checks and re-encodes it. */
static void
fuzz_msg(const uint8_t *data, size_t size)
{
	struct wire_msg m, m2;
	struct proto_enc enc;
	const char *why = NULL;
	uint8_t *buf = dup_exact(data, size), *buf2;
	int rc;

	rc = wire_msg_decode(&m, buf, size, &why);
	if (rc != 0) {
		CHECK(rc == CS_EDECODE || rc == CS_EBOUND);
		CHECK(why != NULL);
		CHECK(m.zone == NULL && m.heads == NULL && m.items == NULL);
		wire_msg_free(&m);
		free(buf);
		return;
	}
	check_msg(&m, buf, size);
	proto_enc_init(&enc);
	encode(&enc, &m);
	CHECK(enc.sb.size <= size);	/* canonical is never longer */
	buf2 = dup_exact(enc.sb.data, enc.sb.size);
	rc = wire_msg_decode(&m2, buf2, enc.sb.size, &why);
	if (rc != 0)
		fprintf(stderr, "fuzz_wire: re-encoding refused: %s\n", why);
	CHECK(rc == 0);
	check_same(&m, &m2);
	wire_msg_free(&m2);
	wire_msg_free(&m);
	wire_msg_free(&m);	/* safe on a freed message */
	proto_enc_free(&enc);
	free(buf2);
	free(buf);
}

/* ---- the state machine ------------------------------------------------- */

/* What a side reported while fed. */
struct out {
	uint8_t sent[2 * WIRE_M3_LEN];
	size_t nsent;
	int opened;
	size_t nmsg;
	uint8_t *last;       /* a copy of the last message */
	size_t lastlen;
};

/* Asserts a failed w stays failed. */
static void
check_dead(struct wire *w)
{
	struct wire_event ev;
	const char *cause = NULL;
	uint8_t b = 0;
	size_t used = 1;

	CHECK(w->state == WIRE_ST_FAILED);
	CHECK(wire_feed(w, &b, 1, &used, &ev, &cause) < 0);
	CHECK(used == 0 && ev.type == WIRE_EV_NONE && cause != NULL);
	CHECK(w->state == WIRE_ST_FAILED);
}

/*
 * Feeds len bytes to w in chunks of step bytes, following the event
 * protocol and checking wire_feed()'s promises.  Returns 0 or the error.
 */
static int
feed(struct wire *w, const uint8_t *in, size_t len, size_t step,
    struct out *o)
{
	static const uint8_t none[1];
	size_t off = 0;

	do {
		size_t n = len - off < step ? len - off : step;

		for (;;) {
			struct wire_event ev;
			const char *cause = NULL;
			size_t used = (size_t)-1;
			int rc;

			rc = wire_feed(w, n > 0 ? in + off : none, n, &used,
			    &ev, &cause);
			CHECK(w->hs_len <= WIRE_M3_LEN);
			CHECK(w->frame_cap <= WIRE_MAX_FRAME + WIRE_ABYTES);
			CHECK(w->len_have <= 4);
			if (rc != 0) {
				CHECK(rc == CS_EDECODE || rc == CS_EVERSION ||
				    rc == CS_ESIG || rc == CS_EPERM ||
				    rc == CS_EBOUND);
				CHECK(cause != NULL && cause[0] != '\0');
				check_dead(w);
				return rc;
			}
			CHECK(used <= n);
			off += used;
			n -= used;
			if (ev.type == WIRE_EV_NONE) {
				CHECK(n == 0);
				break;
			}
			if (ev.type == WIRE_EV_SEND) {
				CHECK(w->state == WIRE_ST_AUTH);
				CHECK(ev.len == WIRE_HELLO_LEN ||
				    ev.len == WIRE_M3_LEN);
				CHECK(o->nsent + ev.len <= sizeof(o->sent));
				memcpy(o->sent + o->nsent, ev.data, ev.len);
				o->nsent += ev.len;
			} else if (ev.type == WIRE_EV_OPEN) {
				CHECK(w->state == WIRE_ST_OPEN);
				CHECK(!o->opened);
				o->opened = 1;
			} else {
				CHECK(ev.type == WIRE_EV_MSG);
				CHECK(w->state == WIRE_ST_OPEN);
				CHECK(ev.len <= WIRE_MAX_FRAME);
				CHECK(ev.data == w->frame);
				free(o->last);
				o->last = dup_exact(ev.data, ev.len);
				o->lastlen = ev.len;
				o->nmsg++;
			}
		}
	} while (off < len);
	return 0;
}

/* Runs an honest handshake between c and s; both end open. */
static void
handshake(struct wire *c, struct wire *s, struct out *oc, struct out *os)
{
	const uint8_t *m1;
	size_t n = 0;

	m1 = wire_start(c, &n);
	CHECK(m1 != NULL && n == WIRE_HELLO_LEN);
	CHECK(feed(s, m1, n, n, os) == 0);
	CHECK(feed(c, os->sent, WIRE_HELLO_LEN, WIRE_HELLO_LEN, oc) == 0);
	CHECK(feed(s, oc->sent, WIRE_M3_LEN, WIRE_M3_LEN, os) == 0);
	CHECK(feed(c, os->sent + WIRE_HELLO_LEN, WIRE_M3_LEN, WIRE_M3_LEN,
	    oc) == 0);
	CHECK(oc->opened && os->opened);
	CHECK(memcmp(c->peer, s_pk, PROTO_KEY_LEN) == 0);
	CHECK(memcmp(s->peer, c_pk, PROTO_KEY_LEN) == 0);
}

/*
 * Feeds the fuzz bytes to an accepting side.  mode picks where they land:
 * 0 raw (as M1), 1 after an honest M1 (as M3), 2 after a handshake (as
 * frames), 3 sealed by the client as one message.  The connecting side is
 * fed them raw too (as M2) in mode 0.
 */
static void
fuzz_feed(unsigned mode, size_t step, const uint8_t *data, size_t size)
{
	struct wire c, s;
	struct out oc, os;
	uint8_t *buf = dup_exact(data, size), *sealed;
	const uint8_t *m1;
	size_t n = 0;

	memset(&oc, 0, sizeof(oc));
	memset(&os, 0, sizeof(os));
	wire_init(&c, 1, network, c_sk, "site", s_pk, NULL, NULL);
	wire_init(&s, 0, network, s_sk, "hub", NULL, authorize, NULL);
	switch (mode) {
	case 0:
		(void)feed(&s, buf, size, step, &os);
		CHECK(os.opened == 0 && os.nsent <= WIRE_HELLO_LEN);
		m1 = wire_start(&c, &n);
		CHECK(m1 != NULL);
		(void)feed(&c, buf, size, step, &oc);
		CHECK(oc.opened == 0 && oc.nsent <= WIRE_M3_LEN);
		break;
	case 1:
		m1 = wire_start(&c, &n);
		CHECK(feed(&s, m1, n, n, &os) == 0);
		(void)feed(&s, buf, size, step, &os);
		/* Nobody forges an ed25519 signature by chance. */
		CHECK(os.opened == 0);
		break;
	case 2:
		handshake(&c, &s, &oc, &os);
		(void)feed(&s, buf, size, step, &os);
		break;
	default:
		handshake(&c, &s, &oc, &os);
		sealed = xmalloc(wire_sealed_len(size));
		CHECK(wire_seal(&c, buf, size, sealed) == 0);
		CHECK(feed(&s, sealed, wire_sealed_len(size), step, &os) == 0);
		CHECK(os.nmsg == 1 && os.lastlen == size);
		CHECK(size == 0 || memcmp(os.last, buf, size) == 0);
		fuzz_msg(os.last, os.lastlen);
		free(sealed);
		break;
	}
	free(oc.last);
	free(os.last);
	wire_free(&c);
	wire_free(&s);
	wire_free(&s);		/* safe twice */
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t steps[] = { 1, 2, 3, 4, 5, 7, 17, 41, 64, 153,
	    200, 4096 };
	unsigned mode;
	size_t step;

	setup();
	rnd_counter = 0;
	fuzz_msg(data, size);
	if (size < 1)
		return 0;
	mode = data[0] & 3;
	step = steps[(data[0] >> 2) % (sizeof(steps) / sizeof(steps[0]))];
	fuzz_feed(mode, step, data + 1, size - 1);
	return 0;
}
