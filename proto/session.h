/*
 * session.h: the sync session of one connection, sans I/O.
 *
 * After the handshake, each side of a connection sends HEADS once, then
 * streams the commits the other lacks in COMMITS batches, and answers
 * each batch it received with an ACK.  Every choice in that exchange is
 * made here, with no socket, store or clock in reach: what the peer has
 * (a version vector, raised by its HEADS, by what it sent and by what it
 * was sent), what to ask the store to read next (which origins, from
 * which seq, at most how many commits and bytes), the admin log first
 * and alone, the turn between the other origins, how much may be in
 * flight (the byte window, SESSION_MAX_UNACKED batches, and the pacing
 * bound that follows the rate the link has shown), fork evidence (WANT)
 * ahead of the rest and bounded, the order of the peer's batches and
 * ACKs, and when the two sides are caught up.
 *
 * The caller (daemon/sync.c, recv.c, forks.c) moves the bytes and the
 * store jobs: it feeds
 * the session the peer's messages and the store's answers, and does what
 * the session answers (read this, send that, this is a protocol error).
 * Time comes in as an argument (now_ns, monotonic nanoseconds), never
 * read here.  The local heads and the scope (what the peer may read)
 * belong to the caller, who keeps them current; the session only reads
 * them.  tests/unit/test_session.c pairs two sessions over in-memory
 * stores, as test_wire.c pairs two handshakes.
 */
#ifndef CAFESYNC_SESSION_H
#define CAFESYNC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "wire.h"

/* ---- version vectors -------------------------------------------------- */

/* A version vector: origin -> seq, sorted by origin. */
struct vv_entry {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
};
struct vv {
	struct vv_entry *e;
	size_t n, cap;
};
/* Returns origin's seq, 0 when unknown. */
uint64_t vv_get(const struct vv *v, const uint8_t *origin);
/* Raises origin's seq to seq (never lowers it). */
void vv_raise(struct vv *v, const uint8_t *origin, uint64_t seq);
/* Makes dst a copy of src (dst's old entries are freed). */
void vv_copy(struct vv *dst, const struct vv *src);
void vv_free(struct vv *v);

/* ---- bounds and pacing ------------------------------------------------ */

/* Batches a sender may have unacknowledged, besides the byte window. */
#define SESSION_MAX_UNACKED 256
/* Commits the peer may have asked for by seq (WANT) and not yet had. */
#define SESSION_MAX_WANTS 4096
/* Fork commits queued to pass on to the peer. */
#define SESSION_MAX_EXTRA 64
/* Commits of the wants one read takes at most. */
#define SESSION_WANTS_READ 256

/*
 * Pacing.  A batch is applied only once it has arrived whole, so on a slow
 * link that breaks often a large batch may never arrive.  Batches are
 * sized by the throughput the link has shown: at most SESSION_PACE_NS of
 * it (half a second: what a break costs is at most about that), never
 * less than one commit.  Like a congestion window, the bound starts at
 * SESSION_PACE_START and, until the rate is known, doubles with every
 * ACK, up to WIRE_BATCH_BYTES (reached in a few round trips on a fast
 * link); a new connection to a peer whose link has shown its rate starts
 * at the bound that rate gives (a rural link that dropped is the same
 * link when it is back).
 *
 * Throughput is the bytes acknowledged over a busy period (batches in
 * flight throughout), sampled once at least SESSION_RATE_NS of it has
 * passed, and only when the window held the sender back during it: ACKs
 * that come in a bunch (a receiver that applied several batches in one
 * transaction) do not make the link look faster than it is, and a
 * trickle of small writes or a lone batch, timed by the writer or the
 * round trip rather than by the link, is not sampled.  Rates are of the
 * batches' plain bytes (before compression), as the bytes still to send
 * are.  The bytes in flight stay within SESSION_PACE_WINDOW batches, and
 * on a link that has shown its rate within about a second of it, but two
 * batches whatever their size while the second fits `window`: ACKs keep
 * coming, a break loses little already written, and the link's queue
 * stays short.
 */
#define SESSION_PACE_START (16 * 1024)
#define SESSION_PACE_MIN (4 * 1024)
#define SESSION_PACE_NS 500000000.0
#define SESSION_PACE_WINDOW 4
#define SESSION_RATE_NS 250000000

/* ---- the session ------------------------------------------------------ */

/* What a peer may read: every log, or the origins in set (sorted). */
struct session_scope {
	int all;
	uint8_t (*set)[PROTO_KEY_LEN];
	size_t n;
};

/* A commit the peer asked for by (origin, seq). */
struct session_want {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
};

/* A commit's bytes to pass on as they are (a fork's evidence). */
struct session_extra {
	uint8_t *e;
	size_t elen;
	uint8_t sig[PROTO_SIG_LEN];
};

/* One origin's part of a read: seqs from .. to, inclusive. */
struct session_range {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t from, to;
	uint64_t last;          /* the last one read (the store fills it) */
};

/*
 * What the session asks the store to read for the next batch: the
 * ranges in this order, at most max_commits commits and max_bytes bytes
 * of items past the first (session_read_fits() says which commit goes
 * in).  exact: single commits the peer asked for (WANT), which do not
 * move what the peer is known to have.  r is malloc'd; the caller owns
 * it once session_next() returned it (free(r)).
 */
struct session_read {
	struct session_range *r;
	size_t nr;
	int exact;
	uint64_t batch;         /* the number the batch will go out as */
	unsigned max_commits;
	size_t max_bytes;
};

/* What session_next() asks the caller to do. */
enum session_action {
	SESSION_IDLE,           /* nothing now: wait for an ACK or news */
	SESSION_SEND_EXTRA,     /* send the fork evidence (session_extra_pack) */
	SESSION_READ,           /* read what session_read says, then
	                         * session_read_done() */
};

struct sync_session {
	/* Set by the caller, kept current by it. */
	const struct vv *ours;       /* the local heads */
	uint8_t admin[PROTO_KEY_LEN]; /* the admin log's origin (network id) */
	size_t window;               /* bytes of unacknowledged batches */
	unsigned batch_commits;      /* commits in one batch at most */
	struct session_scope scope;  /* what the peer may read */
	/* Receiving. */
	int got_heads;
	struct vv theirs;            /* what the peer has, as far as we know */
	uint64_t batch_in;           /* batches received */
	struct vv wanted;            /* origins we sent a WANT for */
	/* Fork evidence: commits the peer asked for by seq, and fork
	 * commits to pass on; sent ahead of the rest, both bounded. */
	struct session_want *wants;
	size_t nwants;
	struct session_extra *extra;
	size_t nextra;
	/* Sending. */
	int heads_sent;
	int reading;                 /* a read is with the store */
	uint64_t batch_out;          /* batches sent */
	uint64_t batch_acked;
	size_t inflight;             /* bytes of unacknowledged batches */
	size_t ring[SESSION_MAX_UNACKED]; /* bytes of each unacked batch */
	uint32_t ring_n[SESSION_MAX_UNACKED]; /* and its commits */
	uint64_t inflight_commits;   /* commits of unacknowledged batches */
	uint64_t sent_plain;         /* plain bytes of every batch sent */
	uint64_t tx_commits;         /* commits sent */
	uint64_t busy_ns;            /* when the link's busy period began */
	size_t busy_bytes;           /* acknowledged since then */
	int busy_held;               /* the window held the sender back */
	double rate;                 /* bytes/s the link has shown, or 0 */
	size_t batch_bytes;          /* the next batch's size bound */
	size_t rr;                   /* round-robin position among origins */
};

/*
 * Starts a session over s (zeroed or not): ours are the local heads,
 * admin the admin log's origin, rate the bytes/s this peer's link showed
 * before (0: unknown).  s->scope is the caller's and is left as it is
 * (zeroed: the peer may read nothing).
 */
void session_init(struct sync_session *s, const struct vv *ours,
    const uint8_t admin[PROTO_KEY_LEN], size_t window,
    unsigned batch_commits, double rate);
/* Frees what the session holds (not ours, not the scope's set). */
void session_free(struct sync_session *s);

/* Tells whether the peer may read origin's log. */
int session_allows(const struct sync_session *s, const uint8_t *origin);

/* Counts commits we have that the peer lacks and may read, and the
 * commits it has that we lack. */
void session_counts(const struct sync_session *s, uint64_t *to_send,
    uint64_t *to_recv);

/*
 * Tells whether the session has nothing left to do: both HEADS
 * exchanged, nothing read, in flight or asked for, and both sides hold
 * the same heads within scope.  (Batches received and not yet applied
 * are the caller's to add.)
 */
int session_caught_up(const struct sync_session *s);

/* The size bound of the next batch (bytes of items past the first). */
size_t session_pace_bound(struct sync_session *s);

/*
 * Decides what to send next.  SESSION_READ fills *rd (its r is then the
 * caller's) and marks a read in flight until session_read_done() or
 * session_read_cancel(); SESSION_SEND_EXTRA asks for the fork evidence
 * to go out now (then call again).  The admin log goes first and alone:
 * while the peer lacks admin commits it may read, a read holds nothing
 * else.  The other origins take turns.
 */
enum session_action session_next(struct sync_session *s,
    struct session_read *rd);

/* Whether rd asks for the admin log alone (a batch peers may share). */
int session_read_admin_only(const struct sync_session *s,
    const struct session_read *rd);

/*
 * For the store's reader: whether the commit at seq, of elen bytes, of
 * range r goes into the batch, which holds n commits in size bytes so
 * far.  After each commit taken, the batch is full at n == max_commits.
 */
int session_read_fits(const struct session_read *rd,
    const struct session_range *r, size_t n, size_t size, uint64_t seq,
    size_t elen);

/*
 * The store read n commits for rd (each range's last filled): what they
 * hold, the peer has once they are sent.  A read of nothing where the
 * heads said there was something raises the peer to the heads (wait for
 * news, do not read again).  Ends the read in flight.
 */
void session_read_done(struct sync_session *s, const struct session_read *rd,
    size_t n);
/* The read was answered otherwise (a shared batch): it is no more. */
void session_read_cancel(struct sync_session *s);

/* A batch of n commits, plain bytes long, went out as number batch. */
void session_sent(struct sync_session *s, uint64_t batch, size_t bytes,
    size_t n, uint64_t now_ns);

/*
 * Packs the queued fork evidence as the next COMMITS batch into m
 * (initialized) and empties the queue; returns the batch's number and
 * sets *n to its commits.  The caller sends it and calls session_sent(),
 * or drops it when it is too large for a frame.
 */
uint64_t session_extra_pack(struct sync_session *s, struct proto_enc *m,
    size_t *n);

/* Queues a fork commit's bytes for the peer (copied; dropped past the
 * bound). */
void session_queue_extra(struct sync_session *s, const uint8_t *e,
    size_t elen, const uint8_t *sig);

/* ---- the peer's messages ---------------------------------------------- */

/*
 * Takes the peer's HEADS (n heads).  Returns 0, or -1 with *why (a
 * static string) when it is a protocol error.
 */
int session_on_heads(struct sync_session *s, const struct wire_head *h,
    size_t n, const char **why);

/*
 * Takes the peer's ACK of batch.  Returns 1 when it gave a new sample of
 * the link's rate (s->rate), 0 otherwise, or -1 with *why.
 */
int session_on_ack(struct sync_session *s, uint64_t batch, uint64_t now_ns,
    const char **why);

/*
 * Takes the peer's WANT (n entries): queues the asked-for commits it may
 * read.  Returns 0, or -1 with *why past SESSION_MAX_WANTS.
 */
int session_on_want(struct sync_session *s, const struct wire_head *h,
    size_t n, const char **why);

/*
 * Takes a COMMITS batch's number, before its commits go to the store.
 * Returns 0, or -1 with *why: before HEADS, or out of order.
 */
int session_on_commits(struct sync_session *s, uint64_t batch,
    const char **why);

/* The peer holds origin up to seq (a commit it sent, applied or not). */
void session_peer_has(struct sync_session *s, const uint8_t *origin,
    uint64_t seq);

/*
 * The store applied the peer's batch: packs its ACK into m
 * (initialized).  applied counts the commits accepted (held ones too),
 * refused the others.
 */
void session_applied(struct sync_session *s, uint64_t batch,
    uint64_t applied, uint64_t refused, struct proto_enc *m);

/*
 * Whether the peer's head (origin, seq) is one to compare with our
 * commit at that seq (a fork check): one we hold and it may read.  A
 * WANT, or its absence, would otherwise tell it how far a log goes.
 */
int session_head_checkable(const struct sync_session *s,
    const uint8_t *origin, uint64_t seq);

/*
 * Packs into m (initialized) a WANT of the first of the n commits in w,
 * at most WIRE_MAX_WANTS, and notes their origins as asked for; returns
 * how many it holds.
 */
size_t session_pack_want(struct sync_session *s, const struct session_want *w,
    size_t n, struct proto_enc *m);

/* Whether a WANT for origin was sent already. */
int session_wanted(const struct sync_session *s, const uint8_t *origin);

#endif /* CAFESYNC_SESSION_H */
