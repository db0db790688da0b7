/*
 * sync.c: anti-entropy and live push over one connection.
 *
 * Each side sends HEADS once (its version vector), then streams, origin by
 * origin and in log order, the commits the other side lacks, in COMMITS
 * batches read by the store thread.  The receiver applies each batch in
 * one LMDB transaction on the store thread and answers ACK; a sender keeps
 * at most `window` bytes and SYNC_MAX_UNACKED batches unacknowledged, so a
 * slow or stalled reader costs it a bounded amount of memory.  While a
 * batch is applied, one more may wait; then reading pauses and TCP pushes
 * back on the sender.
 *
 * What a peer has is tracked as a version vector per connection (theirs):
 * its HEADS, raised by every commit it sent us and every commit we sent
 * it.  Whenever our own heads move (a batch from any peer, or `cafe`
 * writing and nudging us), every connection is pumped again: that is both
 * live push and relay (site A -> hub -> site B).  An interrupted sync
 * resumes from the heads exchanged on the next connection, which reflect
 * what was committed, never from the start.
 *
 * This file is the sending half and the dispatch of every message of an
 * open connection (sync_msg); the decisions themselves (what to send
 * next, windows, the admin log first, caught up) are proto/session.c's.
 * Receiving is recv.c, fork detection forks.c, joining with an invite
 * join.c.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

/* ---- state ------------------------------------------------------------ */

/* Counts commits we have that the peer lacks, and the reverse. */
void
sync_counts(const struct conn *c, uint64_t *to_send, uint64_t *to_recv)
{
	session_counts(&c->s, to_send, to_recv);
}

/*
 * What a status shows of the bytes still to send to a peer: the commits
 * it lacks and may read, as a bundle carries them (signature and E), plus
 * the batches sent and not yet acknowledged.  The loop plans the ranges,
 * the store thread reads the keys and sizes of at most SYNC_BACKLOG_WALK
 * commits over every connection (neither waits long for a big backlog),
 * past that the rest is estimated at the mean of those read, and the loop
 * keeps the result on each connection.  A status between two walks takes
 * off what was sent since.
 */
#define SYNC_BACKLOG_WALK 10000
#define SYNC_BACKLOG_SHOW 100   /* commits: walked as soon as HEADS say */

struct backlog_range {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t from, to;
};

struct backlog {
	struct conn *c;         /* held (refs) until done */
	uint64_t want;          /* unsent commits the peer lacks */
	uint64_t mark;          /* c->s.sent_plain when planned */
	struct backlog_range *r;
	size_t nr;
	uint64_t walked, bytes; /* what the walk read */
};

struct backlog_job {
	struct job j;
	struct backlog *b;
	size_t n;
};

static int backlog_walking;

static void
backlog_plan(struct conn *c, struct backlog *b, uint64_t *budget)
{
	size_t i;

	b->c = c;
	c->refs++;
	b->mark = c->s.sent_plain;
	for (i = 0; i < D.ours.n; i++) {
		uint64_t t = vv_get(&c->s.theirs, D.ours.e[i].origin), n;

		if (t >= D.ours.e[i].seq || !trust_allows(c, D.ours.e[i].origin))
			continue;
		n = D.ours.e[i].seq - t;
		b->want += n;
		if (*budget == 0)
			continue;
		if (n > *budget)
			n = *budget;
		*budget -= n;
		b->r = xreallocarray(b->r, b->nr + 1, sizeof(*b->r));
		memcpy(b->r[b->nr].origin, D.ours.e[i].origin, PROTO_KEY_LEN);
		b->r[b->nr].from = t + 1;
		b->r[b->nr].to = t + n;
		b->nr++;
	}
}

struct backlog_walk {
	uint64_t to;            /* the last seq to count */
	struct backlog *b;
};

static int
backlog_commit(uint64_t seq, const uint8_t *e, size_t elen,
    const uint8_t *sig, void *arg)
{
	struct backlog_walk *bw = arg;

	(void)e;
	(void)sig;
	if (seq > bw->to)
		return 1;
	bw->b->walked++;
	bw->b->bytes += PROTO_SIG_LEN + elen;
	return 0;
}

static void
backlog_run(struct job *j)
{
	struct backlog_job *bj = (struct backlog_job *)j;
	struct backlog_walk bw;
	size_t i, k;

	for (i = 0; i < bj->n; i++) {
		bw.b = &bj->b[i];
		for (k = 0; k < bw.b->nr; k++) {
			bw.to = bw.b->r[k].to;
			(void)store_log_raw(worker_store(), bw.b->r[k].origin,
			    bw.b->r[k].from, backlog_commit, &bw);
		}
	}
}

static void
backlog_done(struct job *j)
{
	struct backlog_job *bj = (struct backlog_job *)j;
	uint64_t walked = 0, bytes = 0;
	double mean;
	size_t i;

	for (i = 0; i < bj->n; i++) {
		walked += bj->b[i].walked;
		bytes += bj->b[i].bytes;
	}
	mean = walked > 0 ? (double)bytes / (double)walked : 0;
	for (i = 0; i < bj->n; i++) {
		struct backlog *b = &bj->b[i];
		struct conn *c = b->c;

		if (j->ran && !c->closing) {
			c->bl_exact = b->walked >= b->want;
			c->bl_unsent = c->bl_exact ? b->bytes : (uint64_t)(mean *
			    (double)b->want);
			c->bl_mark = b->mark;
			c->bl_known = 1;
		}
		free(b->r);
		conn_unref(c);
	}
	free(bj->b);
	free(bj);
	backlog_walking = 0;
}

void
sync_backlog_refresh(void)
{
	struct backlog_job *bj;
	uint64_t budget = SYNC_BACKLOG_WALK;
	struct peer *p;
	size_t n = 0;

	if (backlog_walking || D.stopping)
		return;
	/* Those without HEADS yet are planned from nothing: not yet. */
	for (p = D.peers; p != NULL; p = p->next)
		if (p->conn != NULL && p->conn->open && !p->conn->closing &&
		    p->conn->s.got_heads)
			n++;
	if (n == 0)
		return;
	bj = xcalloc(1, sizeof(*bj));
	bj->b = xcalloc(n, sizeof(*bj->b));
	for (p = D.peers; p != NULL; p = p->next)
		if (p->conn != NULL && p->conn->open && !p->conn->closing &&
		    p->conn->s.got_heads)
			backlog_plan(p->conn, &bj->b[bj->n++], &budget);
	bj->j.run = backlog_run;
	bj->j.done = backlog_done;
	backlog_walking = 1;
	worker_submit(&bj->j);
}

uint64_t
sync_backlog_bytes(const struct conn *c, int *exact)
{
	uint64_t since = c->s.sent_plain - c->bl_mark;

	*exact = c->bl_known && c->bl_exact;
	if (!c->bl_known)
		return c->s.inflight;
	return c->s.inflight + (c->bl_unsent > since ? c->bl_unsent - since :
	    0);
}

/* Tells whether both sides hold the same commits and nothing moves. */
int
sync_caught_up(const struct conn *c)
{
	if (!c->open || c->closing || c->rxq != NULL)
		return 0;
	return session_caught_up(&c->s);
}

/* Moves the peer between syncing and idle. */
void
sync_update_state(struct conn *c)
{
	if (c->peer != NULL && c->peer->conn == c && !c->closing)
		peer_set_state(c->peer, sync_caught_up(c) ? PEER_IDLE :
		    PEER_SYNCING, NULL);
	control_check_waiters();
}

/* Frees what sync state a connection holds. */
void
sync_conn_free(struct conn *c)
{
	session_free(&c->s);
	trust_conn_free(c);
	free(c->failed.origin);
	c->failed.origin = NULL;
}

/* ---- our heads -------------------------------------------------------- */

struct head_rec {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
	uint8_t hash[PROTO_HASH_LEN];
};

struct heads_job {
	struct job j;
	struct vv vv;
	uint64_t txnid;
	struct conn *c;          /* to send HEADS to, or NULL */
	struct head_rec *heads;  /* for c: every head, filtered on the loop */
	size_t n, cap;
};

static int
heads_collect(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const uint8_t hash[PROTO_HASH_LEN], void *arg)
{
	struct heads_job *hj = arg;

	vv_raise(&hj->vv, origin, seq);
	if (hj->c != NULL) {
		if (hj->n == hj->cap) {
			hj->cap = hj->cap ? hj->cap * 2 : 16;
			hj->heads = xreallocarray(hj->heads, hj->cap,
			    sizeof(*hj->heads));
		}
		memcpy(hj->heads[hj->n].origin, origin, PROTO_KEY_LEN);
		hj->heads[hj->n].seq = seq;
		memcpy(hj->heads[hj->n].hash, hash, PROTO_HASH_LEN);
		hj->n++;
	}
	return 0;
}

static void
heads_run(struct job *j)
{
	struct heads_job *hj = (struct heads_job *)j;
	struct store *s = worker_store();

	hj->txnid = store_txnid(s);
	store_heads(s, heads_collect, hj);
}

/*
 * Returns the dictionary this node offers, or NULL when compression is
 * off: CAFESYNC_WIRE_COMPRESS=none in the environment (for tests and for
 * links where CPU is dearer than bytes).
 */
static const struct zc_dict *
sync_zdict(void)
{
	const char *v = getenv("CAFESYNC_WIRE_COMPRESS");

	if (v != NULL && strcmp(v, "none") == 0)
		return NULL;
	return storage_zdict();
}

/* Sends HEADS: our heads the peer may read, and no other. */
static void
send_heads(struct conn *c, const struct heads_job *hj)
{
	struct proto_enc m;
	size_t i, count = 0;

	for (i = 0; i < hj->n; i++)
		count += trust_allows(c, hj->heads[i].origin);
	proto_enc_init(&m);
	wire_pack_heads_begin_offer(&m, count);
	for (i = 0; i < hj->n; i++)
		if (trust_allows(c, hj->heads[i].origin))
			wire_pack_head(&m, hj->heads[i].origin,
			    hj->heads[i].seq, hj->heads[i].hash);
	if (sync_zdict() != NULL) {
		uint32_t id = zc_dict_id(sync_zdict());

		wire_pack_offer(&m, &id, 1);
	} else
		wire_pack_offer(&m, NULL, 0);
	if (conn_send(c, &m) == 0) {
		c->s.heads_sent = 1;
		log_debug("peer %s: sent heads of %zu origins (of %zu)",
		    c->peer ? c->peer->name : c->addr, count, hj->n);
	}
	proto_enc_free(&m);
}

/*
 * Merges heads read from the store into ours.  Heads read at the newest
 * transaction the loop knows of replace ours: a revocation can withdraw
 * accepted commits, which lowers a head, and only a fresh read sees it.
 */
static void
ours_merge(const struct vv *v, uint64_t txnid)
{
	size_t i;

	if (txnid >= D.txnid) {
		vv_copy(&D.ours, v);
		return;
	}
	for (i = 0; i < v->n; i++)
		vv_raise(&D.ours, v->e[i].origin, v->e[i].seq);
}

static void
heads_done(struct job *j)
{
	struct heads_job *hj = (struct heads_job *)j;
	struct conn *c = hj->c;

	if (j->ran && !D.stopping) {
		ours_merge(&hj->vv, hj->txnid);
		if (hj->txnid > D.txnid)
			D.txnid = hj->txnid;
	}
	if (c != NULL) {
		if (j->ran && !c->closing) {
			send_heads(c, hj);
			sync_pump(c);
			sync_update_state(c);
		}
		conn_unref(c);
	} else {
		D.heads_loading = 0;
		if (D.heads_again && !D.stopping) {
			D.heads_again = 0;
			sync_heads_refresh();
		}
		if (j->ran && !D.stopping) {
			trust_reload();
			sync_pump_all();
			control_check_waiters();
		}
	}
	free(hj->heads);
	vv_free(&hj->vv);
	free(hj);
}

/* Re-reads our heads (after `cafe` wrote), then pumps every peer. */
void
sync_heads_refresh(void)
{
	struct heads_job *hj;

	if (D.heads_loading) {
		D.heads_again = 1;
		return;
	}
	D.heads_loading = 1;
	hj = xcalloc(1, sizeof(*hj));
	hj->j.run = heads_run;
	hj->j.done = heads_done;
	worker_submit(&hj->j);
}

/*
 * The handshake is done: start the session (its pace from the rate the
 * link to this peer showed before) and send our heads, read fresh from
 * the store.
 */
void
sync_open(struct conn *c)
{
	struct heads_job *hj = xcalloc(1, sizeof(*hj));

	session_init(&c->s, &D.ours, D.info.network, D.cfg.window,
	    D.cfg.batch_commits, c->peer != NULL ? c->peer->rate : 0);

	hj->j.run = heads_run;
	hj->j.done = heads_done;
	hj->c = c;
	c->refs++;
	worker_submit(&hj->j);
}

/* ---- restore ---------------------------------------------------------- */

struct restore_job {
	struct job j;
	int rc;
	char *cause;
};

static void
restore_run(struct job *j)
{
	struct restore_job *rj = (struct restore_job *)j;

	rj->rc = store_restore_done(worker_store(), &rj->cause);
}

static void
restore_done(struct job *j)
{
	struct restore_job *rj = (struct restore_job *)j;

	if (j->ran && rj->rc == 0) {
		D.restore_pending = 0;
		log_info("restore: this node's own log is back (seq %llu); "
		    "local writes are allowed again", (unsigned long long)
		    vv_get(&D.ours, D.info.node));
	} else if (j->ran) {
		D.restore_ready = 0;
		log_warnx("restore: %s", rj->cause ? rj->cause : "failed");
	}
	free(rj->cause);
	free(rj);
}

/*
 * A restored node may write again once an authority has said how far its
 * own log goes and that much is back: the admin, or a hub by the admin
 * log, which holds every log it was sent.  Any other peer (a replica, a
 * consultant's laptop) may hold a stale part of the log, and a node that
 * resumed writing after it would fork its own log; it can only raise how
 * far the node waits.  `cafe init --restore --force` skips the wait.
 */
void
sync_restore_check(struct conn *c)
{
	struct restore_job *rj;
	uint64_t theirs;

	if (!D.restore_pending)
		return;
	if (c != NULL && c->s.got_heads) {
		theirs = vv_get(&c->s.theirs, D.info.node);
		if (theirs > D.restore_target)
			D.restore_target = theirs;
		if (c->reader.role == STORE_ROLE_ADMIN ||
		    c->reader.role == STORE_ROLE_HUB) {
			if (D.restore_ready == 0)
				log_info("restore: peer %s holds this node's "
				    "log up to seq %llu", c->peer ?
				    c->peer->name : c->addr,
				    (unsigned long long)theirs);
			D.restore_ready = 1;
		}
	}
	if (D.restore_ready != 1 ||
	    vv_get(&D.ours, D.info.node) < D.restore_target)
		return;
	D.restore_ready = 2;   /* asked once */
	rj = xcalloc(1, sizeof(*rj));
	rj->j.run = restore_run;
	rj->j.done = restore_done;
	worker_submit(&rj->j);
}

/* ---- sending ---------------------------------------------------------- */

/*
 * What to send, when, and how much may be in flight is the session's
 * (proto/session.h): sync_pump() asks it, and does what it answers.  What
 * stays here is the moving: a read job on the store thread, the batch's
 * compression and sealing, and the admin batches shared between
 * connections.
 */
struct read_job {
	struct job j;
	struct conn *c;
	struct session_read rd;
	struct proto_enc items;
	size_t n;
	struct session_range *cur;
	struct admin_batch *ab; /* the shared admin batch it makes, or NULL */
};

static int
read_one(uint64_t seq, const uint8_t *e, size_t elen, const uint8_t *sig,
    void *arg)
{
	struct read_job *rj = arg;

	if (!session_read_fits(&rj->rd, rj->cur, rj->n, rj->items.sb.size,
	    seq, elen))
		return 1;
	proto_bundle_item(&rj->items, e, elen, sig);
	rj->cur->last = seq;
	rj->n++;
	return rj->n >= rj->rd.max_commits ? 1 : 0;
}

static void
read_run(struct job *j)
{
	struct read_job *rj = (struct read_job *)j;
	struct store *s = worker_store();
	size_t i;

	proto_enc_init(&rj->items);
	for (i = 0; i < rj->rd.nr; i++) {
		rj->cur = &rj->rd.r[i];
		store_log_raw(s, rj->rd.r[i].origin, rj->rd.r[i].from,
		    read_one, rj);
		if (rj->n >= rj->rd.max_commits ||
		    rj->items.sb.size >= rj->rd.max_bytes)
			break;
	}
}

/*
 * The message that carries the COMMITS batch m to c's peer: m, or, when
 * the peer can expand it, its ZCOMMITS form packed into z (initialized).
 */
static const struct proto_enc *
batch_wire(const struct conn *c, const struct proto_enc *m,
    struct proto_enc *z)
{
	proto_enc_init(z);
	if (c->ztx && zc_compress(sync_zdict(), (const uint8_t *)m->sb.data,
	    m->sb.size, z) == 0)
		return z;
	return m;
}

/*
 * Seals wire, a batch of n commits whose COMMITS form takes bytes bytes,
 * and counts it in flight.
 */
static int
send_packed(struct conn *c, const struct proto_enc *wire, size_t bytes,
    uint64_t batch, size_t n)
{
	if (conn_send(c, wire) != 0)
		return -1;
	session_sent(&c->s, batch, bytes, n, uv_hrtime());
	if (c->peer != NULL)
		c->peer->sent += n;
	return 0;
}

/* Seals a COMMITS batch already packed in m and counts it in flight. */
static int
send_batch(struct conn *c, struct proto_enc *m, uint64_t batch, size_t n)
{
	struct proto_enc z;
	int rc;

	rc = send_packed(c, batch_wire(c, m, &z), m->sb.size, batch, n);
	proto_enc_free(&z);
	return rc;
}

/*
 * The admin log's batches, shared.  A thousand sites that reconnect at
 * once each receive the same admin log, in the same batches: batch 1, 2
 * ... of a new connection, of the same bounds, since each connection's
 * pace starts alike.  So a batch of admin commits is read and compressed
 * once, and its message handed to every connection that asks for the same
 * batch; each seals it with its own keys.  An entry is named by all that
 * makes the message: batch number, the seqs asked for, the bounds, and
 * whether it is compressed.  Admin commits at a seq never change, so an
 * entry never stands for other bytes.  While the first connection's read
 * is with the store thread, the others that ask for the same batch wait
 * for it (pending), rather than each reading it too.
 */
#define ADMIN_BATCHES 8

struct admin_batch {
	int used, pending, z;
	uint64_t batch, from, to, last;
	unsigned max_commits;
	size_t max_bytes, n, plain;
	struct proto_enc msg;
	struct conn **waiting;       /* while pending: a ref each */
	size_t nwaiting;
};
static struct admin_batch admin_batches[ADMIN_BATCHES];
static unsigned admin_batch_next;

/* The shared batch that c's read rd would make, or NULL. */
static struct admin_batch *
admin_batch_find(struct conn *c, const struct session_read *rd)
{
	size_t i;

	for (i = 0; i < ADMIN_BATCHES; i++) {
		struct admin_batch *a = &admin_batches[i];

		if (a->used && a->z == c->ztx && a->batch == rd->batch &&
		    a->from == rd->r[0].from && a->to == rd->r[0].to &&
		    a->max_bytes == rd->max_bytes &&
		    a->max_commits == rd->max_commits)
			return a;
	}
	return NULL;
}

/*
 * Names a free entry (none pending) for the batch c's read rd is about
 * to read, pending until admin_batch_done(); NULL when every entry is
 * pending.
 */
static struct admin_batch *
admin_batch_claim(struct conn *c, const struct session_read *rd)
{
	struct admin_batch *a = NULL;
	size_t i;

	for (i = 0; i < ADMIN_BATCHES && a == NULL; i++) {
		a = &admin_batches[admin_batch_next];
		admin_batch_next = (admin_batch_next + 1) % ADMIN_BATCHES;
		if (a->pending)
			a = NULL;
	}
	if (a == NULL)
		return NULL;
	if (a->used)
		proto_enc_free(&a->msg);
	memset(a, 0, sizeof(*a));
	a->used = a->pending = 1;
	a->z = c->ztx;
	a->batch = rd->batch;
	a->from = rd->r[0].from;
	a->to = rd->r[0].to;
	a->max_commits = rd->max_commits;
	a->max_bytes = rd->max_bytes;
	return a;
}

/* Sends c the shared batch a; then pumps c for what follows. */
static void
admin_batch_send(struct conn *c, const struct admin_batch *a)
{
	session_peer_has(&c->s, D.info.network, a->last);
	if (send_packed(c, &a->msg, a->plain, a->batch, a->n) == 0)
		log_debug("peer %s: sent batch %llu: %zu admin commits, shared",
		    c->peer ? c->peer->name : c->addr,
		    (unsigned long long)a->batch, a->n);
	sync_pump(c);
	sync_update_state(c);
}

/*
 * The read of pending entry a is done: wire (plain bytes) is its message,
 * or NULL when it made none.  The connections waiting for it are pumped:
 * sent it, or, when it has no message or no longer fits them, left to
 * read their own.
 */
static void
admin_batch_done(struct admin_batch *a, const struct read_job *rj,
    const struct proto_enc *wire, size_t plain)
{
	struct conn **waiting = a->waiting;
	size_t i, n = a->nwaiting;

	a->pending = 0;
	a->waiting = NULL;
	a->nwaiting = 0;
	if (wire != NULL) {
		proto_enc_init(&a->msg);
		msgpack_sbuffer_write(&a->msg.sb, wire->sb.data,
		    wire->sb.size);
		a->last = rj->rd.r[0].last;
		a->n = rj->n;
		a->plain = plain;
	} else
		a->used = 0;
	for (i = 0; i < n; i++) {
		struct conn *c = waiting[i];

		session_read_cancel(&c->s);
		if (!c->closing)
			sync_pump(c);
		conn_unref(c);
	}
	free(waiting);
}

static void
read_done(struct job *j)
{
	struct read_job *rj = (struct read_job *)j;
	struct conn *c = rj->c;
	const struct proto_enc *wire;
	struct proto_enc m, z;
	size_t bytes;
	int rc;

	if (!j->ran || c->closing)
		session_read_cancel(&c->s);
	else
		session_read_done(&c->s, &rj->rd, rj->n);
	if (j->ran && !c->closing && rj->n > 0) {
		proto_enc_init(&m);
		wire_pack_commits_begin(&m, rj->rd.batch, rj->n);
		msgpack_sbuffer_write(&m.sb, rj->items.sb.data,
		    rj->items.sb.size);
		bytes = m.sb.size;
		wire = batch_wire(c, &m, &z);
		if (rj->ab != NULL)
			admin_batch_done(rj->ab, rj, wire, bytes);
		rj->ab = NULL;
		rc = send_packed(c, wire, bytes, rj->rd.batch, rj->n);
		proto_enc_free(&z);
		if (rc == 0)
			log_debug("peer %s: sent batch %llu: %zu commits, "
			    "%zu bytes (%zu in flight, bound %zu)",
			    c->peer ? c->peer->name : c->addr,
			    (unsigned long long)rj->rd.batch, rj->n, bytes,
			    c->s.inflight, c->s.batch_bytes);
		proto_enc_free(&m);
		sync_pump(c);
	} else if (j->ran && !c->closing && rj->rd.exact) {
		/* Asked-for commits this node does not hold: nothing to do. */
	} else if (j->ran && !c->closing) {
		/* Nothing where the heads said there was: wait for news. */
		log_warnx("peer %s: the store lacks commits its heads "
		    "announce", c->peer ? c->peer->name : c->addr);
	}
	if (rj->ab != NULL)
		admin_batch_done(rj->ab, rj, NULL, 0);
	if (!c->closing)
		sync_update_state(c);
	proto_enc_free(&rj->items);
	free(rj->rd.r);
	free(rj);
	conn_unref(c);
}

/* Sends the fork evidence waiting for this peer, in one batch. */
static void
send_extra(struct conn *c)
{
	struct proto_enc m;
	uint64_t batch;
	size_t n;

	proto_enc_init(&m);
	batch = session_extra_pack(&c->s, &m, &n);
	if (m.sb.size <= WIRE_MAX_FRAME)
		send_batch(c, &m, batch, n);
	proto_enc_free(&m);
}

/*
 * Hands c's read rd to the store thread, or, for an admin batch another
 * connection read or is reading, takes that one.
 */
static void
read_submit(struct conn *c, struct session_read *rd)
{
	struct admin_batch *ab = NULL;
	struct read_job *rj;

	if (session_read_admin_only(&c->s, rd)) {
		if ((ab = admin_batch_find(c, rd)) != NULL) {
			/* Read for another connection: sent, or being read. */
			free(rd->r);
			if (!ab->pending) {
				session_read_cancel(&c->s);
				admin_batch_send(c, ab);
				return;
			}
			ab->waiting = xreallocarray(ab->waiting,
			    ab->nwaiting + 1, sizeof(*ab->waiting));
			ab->waiting[ab->nwaiting++] = c;
			c->refs++;
			return;
		}
		ab = admin_batch_claim(c, rd);
	}
	rj = xcalloc(1, sizeof(*rj));
	rj->c = c;
	rj->rd = *rd;
	rj->ab = ab;
	rj->j.run = read_run;
	rj->j.done = read_done;
	c->refs++;
	worker_submit(&rj->j);
}

/*
 * Sends what the peer lacks, one batch at a time, while the window has
 * room: the session decides what (fork evidence, asked-for commits, the
 * admin log first and alone, then the other origins in turn).
 */
void
sync_pump(struct conn *c)
{
	struct session_read rd;

	c->s.window = D.cfg.window;
	c->s.batch_commits = D.cfg.batch_commits;
	while (c->open && !c->closing && !D.stopping) {
		switch (session_next(&c->s, &rd)) {
		case SESSION_IDLE:
			return;
		case SESSION_SEND_EXTRA:
			send_extra(c);
			break;
		case SESSION_READ:
			read_submit(c, &rd);
			return;
		}
	}
}

/*
 * Pumps the connections that one origin's news concerns: those whose
 * peer may read it, and those whose peer holds some of it (their counts
 * moved).  A hub with a thousand sites connected applies a batch of one
 * site's commits at a time; pumping every connection for each would cost
 * a walk of every origin of every connection per batch.
 */
void
sync_pump_origin(const uint8_t *origin)
{
	struct conn *c;

	for (c = D.conns; c != NULL; c = c->next) {
		if (!trust_allows(c, origin) &&
		    vv_get(&c->s.theirs, origin) == 0)
			continue;
		sync_pump(c);
		sync_update_state(c);
	}
	sync_restore_check(NULL);
}

/* Pumps every open connection. */
void
sync_pump_all(void)
{
	struct conn *c;

	for (c = D.conns; c != NULL; c = c->next) {
		sync_pump(c);
		sync_update_state(c);
	}
	sync_restore_check(NULL);
}

/* Sends ERROR with a reason, then closes. */
int
sync_protocol_error(struct conn *c, const char *why)
{
	struct proto_enc m;

	proto_enc_init(&m);
	wire_pack_error(&m, why);
	conn_send(c, &m);
	proto_enc_free(&m);
	conn_close(c, why);
	return -1;
}

/* Handles one message from an open connection. */
int
sync_msg(struct conn *c, const uint8_t *data, size_t len)
{
	struct wire_msg m;
	struct proto_enc e;
	const char *cause;
	char reason[WIRE_MAX_REASON + 1];
	uint64_t s, r;
	size_t i;

	if (c->joining)
		return sync_on_join(c, data, len);
	/* ZCOMMITS: expanded (bounded) into the COMMITS it stands for. */
	if (wire_msg_peek_type(data, len) == WIRE_MSG_ZCOMMITS) {
		struct proto_enc x;
		int rc;

		if (!c->s.got_heads)
			return sync_protocol_error(c, "protocol: ZCOMMITS before "
			    "HEADS");
		proto_enc_init(&x);
		if (zc_expand(sync_zdict(), data, len, &x, &cause) != 0) {
			proto_enc_free(&x);
			return sync_protocol_error(c, cause);
		}
		rc = sync_msg(c, (const uint8_t *)x.sb.data, x.sb.size);
		proto_enc_free(&x);
		return rc;
	}
	/* COMMITS is decoded from its own copy, kept while it is applied. */
	if (wire_msg_peek_type(data, len) == WIRE_MSG_COMMITS) {
		if (!c->s.got_heads)
			return sync_protocol_error(c, "protocol: COMMITS before "
			    "HEADS");
		if (c->rxq_len >= SYNC_RX_QUEUE + 1)
			return sync_protocol_error(c, "protocol: batches beyond "
			    "flow control");
		return sync_on_commits(c, data, len);
	}
	if (wire_msg_decode(&m, data, len, &cause) != 0)
		return sync_protocol_error(c, cause);
	if (!c->s.got_heads && m.type != WIRE_MSG_HEADS &&
	    m.type != WIRE_MSG_ERROR) {
		wire_msg_free(&m);
		return sync_protocol_error(c, "protocol: HEADS must come first");
	}
	switch (m.type) {
	case WIRE_MSG_HEADS:
		if (session_on_heads(&c->s, m.heads, m.nheads, &cause) != 0) {
			wire_msg_free(&m);
			return sync_protocol_error(c, cause);
		}
		for (i = 0; i < m.noffer && sync_zdict() != NULL; i++)
			if (m.offer[i] == zc_dict_id(sync_zdict()))
				c->ztx = 1;
		log_info("peer %s: batches to it %s", c->peer ? c->peer->name :
		    c->addr, c->ztx ? "compressed (zstd, schema dictionary)" :
		    "not compressed (no dictionary in common)");
		sync_counts(c, &s, &r);
		log_info("peer %s: heads of %zu origins: %llu commits to "
		    "receive, %llu to send", c->peer ? c->peer->name :
		    c->addr, m.nheads, (unsigned long long)r,
		    (unsigned long long)s);
		/* A backlog worth watching: status shows its bytes at once. */
		if (s >= SYNC_BACKLOG_SHOW)
			sync_backlog_refresh();
		sync_restore_check(c);
		sync_fork_check(c, &m);
		sync_pump(c);
		sync_update_state(c);
		break;
	case WIRE_MSG_WANT:
		if (sync_on_want(c, &m, &cause) != 0) {
			wire_msg_free(&m);
			return sync_protocol_error(c, cause);
		}
		break;
	case WIRE_MSG_ACK:
		switch (session_on_ack(&c->s, m.n, uv_hrtime(), &cause)) {
		case -1:
			wire_msg_free(&m);
			return sync_protocol_error(c, cause);
		case 1:
			/* The link's rate, for the next connection too. */
			if (c->peer != NULL)
				c->peer->rate = c->s.rate;
			break;
		}
		if (m.refused > 0 && c->peer != NULL)
			log_warnx("peer %s: refused %llu commits of batch "
			    "%llu (see its log)", c->peer->name,
			    (unsigned long long)m.refused,
			    (unsigned long long)m.n);
		sync_pump(c);
		sync_update_state(c);
		break;
	case WIRE_MSG_COMMITS:
		/* Not the usual encoding: take the slow path. */
		wire_msg_free(&m);
		if (!c->s.got_heads || c->rxq_len >= SYNC_RX_QUEUE + 1)
			return sync_protocol_error(c, "protocol: COMMITS out of "
			    "place");
		return sync_on_commits(c, data, len);
	case WIRE_MSG_PING:
		/* Our HEADS goes first; a PING that beats it goes unanswered,
		 * and the peer's next one is answered. */
		if (!c->s.heads_sent)
			break;
		proto_enc_init(&e);
		wire_pack_ping(&e, WIRE_MSG_PONG, m.n);
		conn_send(c, &e);
		proto_enc_free(&e);
		break;
	case WIRE_MSG_PONG:
		if (m.n == c->ping_nonce)
			c->ping_out = 0;
		break;
	case WIRE_MSG_ERROR:
		snprintf(reason, sizeof(reason), "%.*s", (int)m.reason_len,
		    m.reason);
		for (i = 0; reason[i] != '\0'; i++)
			if ((unsigned char)reason[i] < 0x20)
				reason[i] = '?';
		log_warnx("peer %s says: %s", c->peer ? c->peer->name :
		    c->addr, reason);
		wire_msg_free(&m);
		conn_close(c, "the peer reported an error");
		return -1;
	default:
		wire_msg_free(&m);
		return sync_protocol_error(c, "protocol: unexpected message");
	}
	wire_msg_free(&m);
	return 0;
}
