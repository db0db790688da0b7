/*
 * wire.h: the cafesync wire protocol, sans I/O.
 *
 * One TCP connection carries one session between two nodes.  It opens
 * with a handshake of four fixed-size messages, then carries
 * length-prefixed frames, each encrypted and authenticated, one
 * crypto_secretstream per direction.  Nothing here touches a socket: the
 * caller feeds the bytes it read to wire_feed() and writes the bytes the
 * events ask it to write.
 *
 * THE PROTOCOL.  Changing any layout, size, label or message below changes
 * what other nodes accept: bump WIRE_VERSION when you do, and update
 * docs/formats.md ("Wire protocol").
 *
 * Handshake (C = the side that connected, S = the side that accepted):
 *
 *   M1  C -> S  "cafesync" (8) || version (1) || eph_C (32)          41 bytes
 *   M2  S -> C  "cafesync" (8) || version (1) || eph_S (32)          41 bytes
 *   M3  C -> S  hdr_C (24) || seal_C(AUTH_C)                      153 bytes
 *   M4  S -> C  hdr_S (24) || seal_S(AUTH_S)                      153 bytes
 *
 * eph_X is a fresh X25519 key pair per connection.  Both sides compute the
 * transcript hash
 *
 *   T = BLAKE2b-256("cafesync-handshake-v1" || version || network ||
 *                   eph_C || eph_S)
 *
 * and the session keys of crypto_kx (C as client, S as server), each then
 * bound to the transcript: key' = BLAKE2b-256(key = kx key, T).  So a
 * peer of another network, or an altered M1/M2, fails at M3 as a
 * decryption error.  Each side opens a secretstream push state with its
 * tx key (hdr_X is its header) and its pull state with the other's header.
 *
 * AUTH_X (112 bytes) = static_X (32, ed25519 public key: the node id) ||
 * role_X (16, NUL-padded: "hub", "site", "consultant") || sig_X (64), where
 * sig_X is ed25519 by static_X over
 *
 *   "cafesync-auth-v1" || dir || T || static_X || role_X
 *
 * with dir = 'C' or 'S'.  seal_X() is the first message of X's stream (129
 * bytes with its MAC).  S answers M3 only after checking sig_C and asking
 * its caller whether static_C may connect, so a refused key learns nothing
 * of S (not even its identity).  C checks that static_S is the key it
 * dialed.  A failure at any step ends the connection: there is no retry
 * inside a session.
 *
 * Frames, after the handshake, in each direction:
 *
 *   len (4, big-endian: bytes that follow) || secretstream ciphertext
 *
 * len is at most WIRE_MAX_FRAME + WIRE_ABYTES; the plaintext is one
 * message.  A replayed, dropped, reordered or altered frame fails to
 * decrypt (the stream's nonce advances with every frame).
 *
 * Messages are MessagePack arrays whose first element is the type:
 *
 *   0x10 HEADS    [0x10, [[origin bin32, seq uint, hash bin32], ...]
 *                  (, [dict uint32, ...])]
 *                 the sender's heads, limited to what the receiver may
 *                 read; sent once, first, by both sides.  The optional
 *                 third element (since version 2) offers the compression
 *                 dictionaries the sender can expand, at most
 *                 WIRE_MAX_OFFER ids; without it, or with none in common,
 *                 the other side sends COMMITS, never ZCOMMITS.
 *   0x12 WANT     [0x12, [[origin bin32, seq uint], ...]]
 *                 asks for the sender's commit at each (origin, seq):
 *                 sent when a head's hash or a received commit's prev
 *                 shows the two sides hold different commits at one
 *                 seq (a fork); the answer is a COMMITS batch.  At most
 *                 WIRE_MAX_WANTS entries.
 *   0x20 COMMITS  [0x20, batch uint, [[E bin, sig bin64], ...]]
 *                 commits the receiver lacks, in log order per origin;
 *                 batch counts from 1 per connection and direction.
 *   0x22 ZCOMMITS [0x22, batch uint, dict uint32, n uint, [frame bin, ...]]
 *                 a COMMITS batch of n items, compressed (proto/zcodec.h):
 *                 each frame is a zstd frame, with dictionary dict (one
 *                 the receiver offered), of one run of consecutive items
 *                 of one origin, each item packed as in COMMITS.  Every
 *                 frame states its content size; the expanded batch is at
 *                 most WIRE_MAX_FRAME bytes.  It is acked as COMMITS.
 *   0x21 ACK      [0x21, batch uint, applied uint, refused uint]
 *                 the receiver committed batch (one LMDB transaction);
 *                 the sender may then send more (flow control).
 *   0x30 PING     [0x30, nonce uint]
 *   0x31 PONG     [0x31, nonce uint]  the nonce of the PING it answers.
 *   0x40 ERROR    [0x40, reason str]  the sender closes after it.
 *   0x50 JOIN     [0x50, invite bin16, secret bin32, name str]
 *                 the only message of a node joining with an invite (its
 *                 AUTH role is "join"): enroll my key under name.  name
 *                 at most WIRE_MAX_NAME bytes.
 *   0x51 JOINED   [0x51, role str]
 *                 the invite was redeemed and the key enrolled with
 *                 role; the sender closes after it (ERROR if refused).
 *
 * Types are numbered in blocks: 0x1x state, 0x2x data, 0x3x liveness,
 * 0x4x errors, 0x5x joining.  An unknown type, a message of the wrong shape, or a
 * message out of place ends the connection.
 */
#ifndef CAFESYNC_WIRE_H
#define CAFESYNC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "proto.h"

#define WIRE_VERSION 2
#define WIRE_MAGIC "cafesync"
#define WIRE_MAGIC_LEN 8

#define WIRE_HELLO_LEN 41          /* M1, M2 */
#define WIRE_AUTH_LEN 112          /* AUTH_X in clear */
#define WIRE_ROLE_LEN 16
#define WIRE_HDR_LEN crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define WIRE_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define WIRE_M3_LEN (WIRE_HDR_LEN + WIRE_AUTH_LEN + WIRE_ABYTES) /* M3, M4 */

/* Largest message (frame plaintext).  Fits one commit of PROTO_MAX_COMMIT
 * with room to spare; a batch adds a commit only while its items stay
 * within WIRE_BATCH_BYTES, but always takes at least one. */
#define WIRE_MAX_FRAME (2 * 1024 * 1024)
#define WIRE_BATCH_BYTES (1024 * 1024)
#define WIRE_MAX_REASON 200        /* bytes of an ERROR reason */
#define WIRE_MAX_OFFER 4          /* dictionary ids in HEADS */
#define WIRE_MAX_WANTS 1024        /* entries of one WANT */
#define WIRE_MAX_NAME 63           /* bytes of a JOIN name, a JOINED role */
#define WIRE_INVITE_LEN 16
#define WIRE_SECRET_LEN 32
#define WIRE_ROLE_JOIN "join"      /* the AUTH role of a joining node */

enum wire_msg_type {
	WIRE_MSG_HEADS = 0x10,
	WIRE_MSG_WANT = 0x12,
	WIRE_MSG_COMMITS = 0x20,
	WIRE_MSG_ACK = 0x21,
	WIRE_MSG_ZCOMMITS = 0x22,
	WIRE_MSG_PING = 0x30,
	WIRE_MSG_PONG = 0x31,
	WIRE_MSG_ERROR = 0x40,
	WIRE_MSG_JOIN = 0x50,
	WIRE_MSG_JOINED = 0x51,
};

/*
 * Decides whether a peer that proved its key may go on (the accepting
 * side only).  Returns 0 to accept; otherwise a static reason, set in
 * *why, ends the handshake with CS_EPERM.
 */
typedef int (*wire_authorize_fn)(void *arg, const uint8_t key[PROTO_KEY_LEN],
    const char *role, const char **why);

enum wire_state {
	WIRE_ST_HELLO,     /* waiting for M1 (S) or M2 (C) */
	WIRE_ST_AUTH,      /* waiting for M3 (S) or M4 (C) */
	WIRE_ST_OPEN,      /* frames */
	WIRE_ST_FAILED,    /* an error was returned; every call fails */
};

/*
 * One connection's protocol state.  Treat as opaque; it is declared here
 * so callers can embed it.  Holds secret keys: wire_free() wipes it.
 */
struct wire {
	enum wire_state state;
	int initiator;
	uint8_t network[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN];
	char role[WIRE_ROLE_LEN];
	uint8_t expect[PROTO_KEY_LEN];     /* C: the key it dialed */
	wire_authorize_fn authorize;       /* S */
	void *authorize_arg;
	uint8_t eph_pk[crypto_kx_PUBLICKEYBYTES];
	uint8_t eph_sk[crypto_kx_SECRETKEYBYTES];
	uint8_t peer_eph[crypto_kx_PUBLICKEYBYTES];
	uint8_t transcript[PROTO_HASH_LEN];
	uint8_t rxkey[crypto_kx_SESSIONKEYBYTES];
	uint8_t txkey[crypto_kx_SESSIONKEYBYTES];
	crypto_secretstream_xchacha20poly1305_state tx, rx;
	/* The peer, once proven. */
	uint8_t peer[PROTO_KEY_LEN];
	char peer_role[WIRE_ROLE_LEN];
	/* Handshake bytes in and out. */
	uint8_t hs_in[WIRE_M3_LEN];
	size_t hs_len;
	uint8_t hs_out[WIRE_M3_LEN];
	/* The frame being received: its length prefix, then its bytes. */
	uint8_t len_buf[4];
	size_t len_have;
	uint8_t *frame;
	size_t frame_cap, frame_len, frame_have;
	size_t max_frame;          /* plaintext limit; WIRE_MAX_FRAME at init */
};

/*
 * Sets up a connection's state.  initiator is 1 on the side that
 * connected; expect (initiator only) is the key it dialed; authorize
 * (accepting side only) is asked about the peer's key.  network and sk are
 * copied.  role is this node's role (at most 15 bytes).
 */
void wire_init(struct wire *w, int initiator,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t sk[PROTO_SK_LEN],
    const char *role, const uint8_t *expect, wire_authorize_fn authorize,
    void *authorize_arg);

/*
 * Lowers the largest frame this side accepts from the peer (at most
 * WIRE_MAX_FRAME): a joining node's one message is small, so its frames
 * may be too.
 */
void wire_set_max_frame(struct wire *w, size_t max);

/* Wipes the keys and frees the frame buffer.  Safe to call twice. */
void wire_free(struct wire *w);

/*
 * Frees the frame buffer when no frame is partly received (between
 * frames), wiping it: the last message's data is then gone.  A quiet
 * connection need not hold the size of the largest frame it received.
 */
void wire_trim(struct wire *w);

/*
 * Returns M1, the first bytes the connecting side writes (WIRE_HELLO_LEN
 * bytes, valid until the next call on w).  Initiator only.
 */
const uint8_t *wire_start(struct wire *w, size_t *len);

/* What wire_feed() reports. */
enum wire_event_type {
	WIRE_EV_NONE,      /* every byte given was used; feed more */
	WIRE_EV_SEND,      /* write data/len to the peer (handshake) */
	WIRE_EV_OPEN,      /* the handshake is done: w->peer is proven */
	WIRE_EV_MSG,       /* one message: data/len */
};

struct wire_event {
	enum wire_event_type type;
	const uint8_t *data;    /* valid until the next call on w */
	size_t len;
};

/*
 * Feeds bytes read from the peer.  Uses some of them (*used, possibly 0
 * or all) and reports at most one event; call again with the rest (or
 * with len 0) until it reports WIRE_EV_NONE.  After M3 is accepted the
 * accepting side gets WIRE_EV_SEND (M4) and then WIRE_EV_OPEN on the next
 * call.  Returns 0, or a negative error with *cause (static) saying what
 * the peer did wrong: CS_EDECODE (bad magic, a frame that does not
 * decrypt), CS_EVERSION, CS_ESIG (a transcript signature that does not
 * hold), CS_EPERM (a key not accepted or not the one dialed), CS_EBOUND
 * (a frame over WIRE_MAX_FRAME).  After an error the state is
 * WIRE_ST_FAILED and every later call fails.
 *
 * Before the handshake is done, at most WIRE_M3_LEN bytes are buffered;
 * a frame's buffer grows only to the length its prefix declares, checked
 * against WIRE_MAX_FRAME first.
 */
int wire_feed(struct wire *w, const uint8_t *in, size_t len, size_t *used,
    struct wire_event *ev, const char **cause);

/* Returns the bytes a sealed message of len bytes takes on the wire. */
#define wire_sealed_len(len) (4 + (size_t)(len) + WIRE_ABYTES)

/*
 * Encrypts one message into out (wire_sealed_len(len) bytes): the length
 * prefix and the ciphertext.  Returns 0, or CS_EBOUND when len exceeds
 * WIRE_MAX_FRAME, or CS_EUSAGE when the handshake is not done.
 */
int wire_seal(struct wire *w, const uint8_t *msg, size_t len, uint8_t *out);

/* ---- messages ---------------------------------------------------------- */

struct wire_head {
	const uint8_t *origin;   /* PROTO_KEY_LEN bytes */
	uint64_t seq;
	const uint8_t *hash;     /* PROTO_HASH_LEN bytes */
};

struct wire_item {
	const uint8_t *e;
	size_t elen;
	const uint8_t *sig;      /* PROTO_SIG_LEN bytes */
};

/*
 * One decoded message.  Pointers point into the buffer given to
 * wire_msg_decode() (which must outlive the message) or into memory the
 * message owns until wire_msg_free().
 */
struct wire_msg {
	unsigned type;
	uint64_t n;              /* COMMITS and ACK: batch; PING, PONG: nonce */
	uint64_t applied, refused;  /* ACK */
	const char *reason;      /* ERROR; JOIN's name; JOINED's role: not
	                          * NUL-terminated */
	size_t reason_len;
	const uint8_t *invite;   /* JOIN: WIRE_INVITE_LEN bytes */
	const uint8_t *secret;   /* JOIN: WIRE_SECRET_LEN bytes */
	struct wire_head *heads; /* HEADS; WANT (hash NULL) */
	size_t nheads;
	uint32_t offer[WIRE_MAX_OFFER]; /* HEADS: dictionaries offered */
	size_t noffer;
	int has_offer;           /* HEADS: it had the third element */
	struct wire_item *items; /* COMMITS */
	size_t nitems;
	msgpack_zone *zone;
};

/*
 * The type of the encoded message in buf (len bytes), read from its first
 * two bytes only, or -1 when they are not an array and a type: what a
 * receiver needs to hand COMMITS and ZCOMMITS to their own decoders.
 */
int wire_msg_peek_type(const uint8_t *buf, size_t len);

/*
 * Decodes one message strictly: the shape above, sizes checked (origins
 * and hashes of their exact length, E at most PROTO_MAX_COMMIT, sig of
 * PROTO_SIG_LEN, reason at most WIRE_MAX_REASON, COMMITS with at least one
 * item), nothing after it.  E itself is not decoded here.  Returns 0, or
 * CS_EDECODE / CS_EBOUND with a static *cause; frees what it made on
 * failure.
 */
int wire_msg_decode(struct wire_msg *m, const uint8_t *buf, size_t len,
    const char **cause);

/* Releases a decoded message.  Safe on a zeroed one. */
void wire_msg_free(struct wire_msg *m);

/*
 * Encoders: each resets enc and packs one whole message, except HEADS and
 * COMMITS, whose array header is packed by *_begin() for n elements that
 * the caller then packs with wire_pack_head() / proto_bundle_item().
 */
void wire_pack_heads_begin(struct proto_enc *enc, size_t n);
/* HEADS with an offer: pack the n heads, then wire_pack_offer(). */
void wire_pack_heads_begin_offer(struct proto_enc *enc, size_t n);
void wire_pack_offer(struct proto_enc *enc, const uint32_t *ids, size_t n);
void wire_pack_head(struct proto_enc *enc, const uint8_t *origin,
    uint64_t seq, const uint8_t *hash);
void wire_pack_commits_begin(struct proto_enc *enc, uint64_t batch,
    size_t n);
void wire_pack_want_begin(struct proto_enc *enc, size_t n);
void wire_pack_want(struct proto_enc *enc, const uint8_t *origin,
    uint64_t seq);
void wire_pack_ack(struct proto_enc *enc, uint64_t batch, uint64_t applied,
    uint64_t refused);
void wire_pack_ping(struct proto_enc *enc, unsigned type, uint64_t nonce);
void wire_pack_error(struct proto_enc *enc, const char *reason);
void wire_pack_join(struct proto_enc *enc, const uint8_t *invite,
    const uint8_t *secret, const char *name);
void wire_pack_joined(struct proto_enc *enc, const char *role);

#endif /* CAFESYNC_WIRE_H */
