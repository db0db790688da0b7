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
 */
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include <sodium.h>

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
static void
restore_check(struct conn *c)
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
static void
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
	restore_check(NULL);
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
	restore_check(NULL);
}

/* ---- forks ------------------------------------------------------------ */

/*
 * Two commits of one origin at one seq (one key on two machines) would
 * pass unnoticed if each side only compared seqs.  So after HEADS, each
 * side compares the peer's head hash with its own commit at that seq and,
 * where they differ, asks for the peer's commit (WANT): the store keeps it
 * as evidence of a fork.  Forks already kept go to every peer that reads
 * the origin, so the hub's evidence reaches the replicas.
 */
struct fork_job {
	struct job j;
	struct conn *c;
	struct session_want *check;  /* the peer's heads at or below ours */
	uint8_t (*hash)[PROTO_HASH_LEN];
	size_t n;
	struct session_want *differ; /* where our commit differs */
	size_t ndiffer;
	struct session_extra *forks; /* fork evidence kept here */
	size_t nforks;
};

static int
hash_at(uint64_t seq, const uint8_t *e, size_t elen, const uint8_t *sig,
    void *arg)
{
	uint8_t *out = arg;

	(void)seq;
	proto_hash(out, e, elen, sig);
	return 1;
}

static int
fork_collect(const struct store_fork *f, void *arg)
{
	struct fork_job *fj = arg;
	struct session_extra *x;

	if (fj->nforks >= SYNC_MAX_EXTRA)
		return 1;
	if (f->fork == NULL)
		return 0;
	if (fj->forks == NULL)
		fj->forks = xcalloc(SYNC_MAX_EXTRA, sizeof(*fj->forks));
	x = &fj->forks[fj->nforks++];
	x->e = xmalloc(f->fork->elen);
	memcpy(x->e, f->fork->e, f->fork->elen);
	x->elen = f->fork->elen;
	memcpy(x->sig, f->fork->sig, PROTO_SIG_LEN);
	return 0;
}

static void
fork_run(struct job *j)
{
	struct fork_job *fj = (struct fork_job *)j;
	struct store *s = worker_store();
	uint8_t mine[PROTO_HASH_LEN];
	size_t i;

	fj->differ = xcalloc(fj->n + 1, sizeof(*fj->differ));
	for (i = 0; i < fj->n; i++) {
		memset(mine, 0, sizeof(mine));
		store_log_raw(s, fj->check[i].origin, fj->check[i].seq,
		    hash_at, mine);
		if (memcmp(mine, fj->hash[i], PROTO_HASH_LEN) != 0)
			fj->differ[fj->ndiffer++] = fj->check[i];
	}
	store_forks(s, fork_collect, fj);
}

static void
fork_done(struct job *j)
{
	struct fork_job *fj = (struct fork_job *)j;
	struct conn *c = fj->c;
	struct proto_enc m;
	const char *name = c->peer ? c->peer->name : c->addr;
	size_t i, n;

	if (j->ran && !c->closing && fj->ndiffer > 0) {
		proto_enc_init(&m);
		n = session_pack_want(&c->s, fj->differ, fj->ndiffer, &m);
		log_warnx("peer %s: holds other commits than ours at %zu "
		    "heads: asking for them as fork evidence", name, n);
		conn_send(c, &m);
		proto_enc_free(&m);
	}
	for (i = 0; i < fj->nforks; i++) {
		struct proto_commit pc;

		if (j->ran && !c->closing && proto_commit_decode(&pc,
		    fj->forks[i].e, fj->forks[i].elen, NULL) == 0) {
			if (trust_allows(c, pc.origin))
				session_queue_extra(&c->s, fj->forks[i].e,
				    fj->forks[i].elen, fj->forks[i].sig);
			proto_commit_free(&pc);
		}
		free(fj->forks[i].e);
	}
	if (!c->closing)
		sync_pump(c);
	free(fj->forks);
	free(fj->check);
	free(fj->hash);
	free(fj->differ);
	free(fj);
	conn_unref(c);
}

/* Checks the peer's heads against our commits at the same seqs. */
static void
fork_check(struct conn *c, const struct wire_msg *m)
{
	struct fork_job *fj = xcalloc(1, sizeof(*fj));
	size_t i;

	fj->check = xcalloc(m->nheads + 1, sizeof(*fj->check));
	fj->hash = xcalloc(m->nheads + 1, sizeof(*fj->hash));
	for (i = 0; i < m->nheads; i++) {
		const struct wire_head *h = &m->heads[i];

		/* Only what the peer may read: a WANT, or its absence, would
		 * tell it how far a log it may not read goes. */
		if (!session_head_checkable(&c->s, h->origin, h->seq))
			continue;
		memcpy(fj->check[fj->n].origin, h->origin, PROTO_KEY_LEN);
		fj->check[fj->n].seq = h->seq;
		memcpy(fj->hash[fj->n], h->hash, PROTO_HASH_LEN);
		fj->n++;
	}
	fj->c = c;
	fj->j.run = fork_run;
	fj->j.done = fork_done;
	c->refs++;
	worker_submit(&fj->j);
}

/* Takes a WANT: queue the asked-for commits the peer may read. */
static int
on_want(struct conn *c, const struct wire_msg *m, const char **why)
{
	if (session_on_want(&c->s, m->heads, m->nheads, why) != 0)
		return -1;
	sync_pump(c);
	return 0;
}

/* ---- receiving -------------------------------------------------------- */

/*
 * A received batch goes through two stages: its signatures are checked
 * on libuv's thread pool, in two halves at once, then the store thread
 * applies it.  Batches are applied in the order they came; while one is
 * written, the next one's signatures are being checked, so both cores
 * stay busy during a large sync.
 */
struct rx_batch {
	struct job j;
	struct conn *c;
	struct rx_batch *next;
	struct rx_batch *gnext;    /* in the ready list (apply groups) */
	uint8_t *buf;              /* the message's bytes, owned */
	struct wire_msg m;
	struct store_item *items;
	size_t n;
	uv_work_t work[2];
	int checking;              /* halves still being checked */
	const uint8_t *one;        /* the items' one origin, or NULL (set
	                            * once checked: batch_origin()) */
	int live;                  /* a write just made (SYNC_LIVE_BATCH) */
	uint64_t ready_ms;         /* when it joined the ready list */
	int rc;
	char *cause;
	uint64_t txnid;
};

static int protocol_error(struct conn *c, const char *why);

static void
rx_free(struct rx_batch *b)
{
	wire_msg_free(&b->m);
	free(b->items);
	free(b->buf);
	free(b->cause);
	free(b);
}

/* Takes the first batch off the connection's queue. */
static void
rx_pop(struct conn *c)
{
	struct rx_batch *b = c->rxq;

	c->rxq = b->next;
	if (c->rxq == NULL)
		c->rxq_tail = &c->rxq;
	c->rxq_len--;
}

static void apply_done(struct job *j);

/*
 * Group commit.  A hub that a thousand sites reconnect to at once gets a
 * batch from each, and one LMDB transaction per batch (each with its
 * fsync) would make the store thread the bottleneck.  Batches ready to
 * apply wait in one list; while the store thread writes one group, the
 * next gathers, and is applied in one transaction: the batches of up to
 * APPLY_GROUP_MAX connections, each of one origin, no two of the same
 * origin, from connections with no refused origin.  A commit is checked
 * against its own origin's log, which no other batch of the group
 * touches, and what the store accepts does not depend on the order
 * commits arrive in (an admin commit in the same group lets a waiting
 * one in as it would a moment later), so grouping changes when a batch
 * lands, not what it does; a refused origin is still its connection's
 * alone.  Should the transaction fail as a whole (a full disk), every
 * batch of the group fails with it, as each would have alone.  Any other
 * batch is a group of its own, with its connection's failed set, as
 * before.  A group holds at most APPLY_GROUP_COMMITS commits (besides
 * its first batch's), APPLY_GROUP_COMMITS_IDLE when no live batch came
 * for a while.  Each batch is then acknowledged as if applied alone.
 */
#define APPLY_GROUP_MAX 64
/* ... and of at most this many commits, so that a live commit that lands
 * behind a group waits for a short transaction, not a long one (a live
 * batch goes first in the next group, so this bounds its wait) ... */
#define APPLY_GROUP_COMMITS 128
/* ... or, with no live batch for APPLY_LIVE_MS, this many: fewer fsyncs
 * for a backlog that no live write waits behind. */
#define APPLY_GROUP_COMMITS_IDLE 512
#define APPLY_LIVE_MS 1000
/* A batch of at most this many commits and bytes of E is live (a write
 * just made): it is checked on the loop at once and goes first in the
 * next group, unless a backlog batch has waited APPLY_LIVE_MS; then that
 * one opens the next group, so a stream of live batches never holds a
 * backlog back. */
#define SYNC_LIVE_BATCH 4
#define SYNC_LIVE_BYTES (64 * 1024)

struct apply_group {
	struct job j;
	struct rx_batch *b[APPLY_GROUP_MAX];
	size_t n;
};

static struct {
	struct rx_batch *ready, **tail;  /* checked, waiting for the store */
	int inflight;                    /* a group is with the store */
	int holding;                     /* group_done() is at work */
	uint64_t live_ms;                /* the last live batch came then */
} G = { NULL, &G.ready, 0, 0, 0 };

/* Works out b->one: the one origin of b's items, or NULL (several). */
static void
batch_one(struct rx_batch *b)
{
	static const uint8_t zero[PROTO_KEY_LEN];
	size_t i;

	b->one = NULL;
	if (b->n == 0 || memcmp(b->items[0].origin, zero, PROTO_KEY_LEN) == 0)
		return;
	for (i = 1; i < b->n; i++)
		if (memcmp(b->items[i].origin, b->items[0].origin,
		    PROTO_KEY_LEN) != 0)
			return;
	b->one = b->items[0].origin;
}

/* The one origin of b's items, or NULL: several, or a refused origin. */
static const uint8_t *
batch_origin(const struct rx_batch *b)
{
	return b->c->failed.n != 0 ? NULL : b->one;
}

/* On the store thread: applies a group in one transaction. */
static void
group_run(struct job *j)
{
	struct apply_group *g = (struct apply_group *)j;
	struct store *s = worker_store();
	struct store_failed tmp = { NULL, 0, 0 };
	struct store_item *all;
	char *cause = NULL;
	size_t i, k, n = 0, at = 0;
	int rc;

	if (g->n == 1) {
		struct rx_batch *b = g->b[0];

		b->rc = store_apply_ex(s, b->items, b->n, &b->c->failed,
		    &b->cause);
		b->txnid = store_txnid(s);
		return;
	}
	for (i = 0; i < g->n; i++)
		n += g->b[i]->n;
	all = xreallocarray(NULL, n, sizeof(*all));
	for (i = 0; i < g->n; i++) {
		memcpy(all + at, g->b[i]->items, g->b[i]->n * sizeof(*all));
		at += g->b[i]->n;
	}
	rc = store_apply_ex(s, all, n, &tmp, &cause);
	at = 0;
	for (i = 0; i < g->n; i++) {
		struct rx_batch *b = g->b[i];

		memcpy(b->items, all + at, b->n * sizeof(*all));
		at += b->n;
		b->rc = rc;
		b->cause = rc != 0 && cause != NULL ? xstrdup(cause) : NULL;
		b->txnid = store_txnid(s);
		/* A refused origin is its connection's, as alone. */
		for (k = 0; rc == 0 && k < b->n; k++)
			if (b->items[k].result != 0 &&
			    b->items[k].result != CS_EDUP &&
			    b->items[k].result != CS_EPENDING) {
				b->c->failed.origin = xreallocarray(
				    b->c->failed.origin, 1,
				    sizeof(*b->c->failed.origin));
				memcpy(b->c->failed.origin[0],
				    b->items[k].origin, PROTO_KEY_LEN);
				b->c->failed.n = 1;
				break;
			}
	}
	if (rc == 0)
		g->b[0]->c->failed.drained += tmp.drained;
	free(tmp.origin);
	free(cause);
	free(all);
}

static void group_kick(void);

/* Back on the loop: each batch of the group is done as if alone. */
static void
group_done(struct job *j)
{
	struct apply_group *g = (struct apply_group *)j;
	size_t i;

	G.inflight = 0;
	G.holding = 1;
	for (i = 0; i < g->n; i++) {
		g->b[i]->j.ran = j->ran;
		apply_done(&g->b[i]->j);
	}
	G.holding = 0;
	free(g);
	group_kick();
}

/*
 * Live batches first: those of at most SYNC_LIVE_BATCH commits (a peer
 * that had little to send: a write just made) move, in their order, to
 * the front of the ready list, so a live write waits for the group the
 * store is writing, not for every backlog batch that arrived before it;
 * the group it opens holds only live batches.
 */
static void
ready_live_first(void)
{
	struct rx_batch *live = NULL, **lt = &live, **pp = &G.ready, *b;

	while ((b = *pp) != NULL) {
		if (!b->live) {
			pp = &b->gnext;
			continue;
		}
		G.live_ms = now_ms();
		*pp = b->gnext;
		b->gnext = NULL;
		*lt = b;
		lt = &b->gnext;
	}
	*lt = G.ready;
	G.ready = live;
	/* The oldest backlog batch opens the group once it waited long. */
	for (pp = &G.ready; (b = *pp) != NULL && b->live; pp = &b->gnext)
		;
	if (b != NULL && pp != &G.ready &&
	    now_ms() - b->ready_ms >= APPLY_LIVE_MS) {
		*pp = b->gnext;
		b->gnext = G.ready;
		G.ready = b;
	}
}

/* Hands the next group to the store thread, unless one is there. */
static void
group_kick(void)
{
	struct apply_group *g;
	struct rx_batch **pp, *b;
	const uint8_t *o;
	size_t i;

	if (G.inflight || G.holding || G.ready == NULL)
		return;
	ready_live_first();
	g = xcalloc(1, sizeof(*g));
	g->b[g->n++] = b = G.ready;
	G.ready = b->gnext;
	if (batch_origin(b) != NULL) {
		size_t commits = b->n, most = G.live_ms != 0 &&
		    now_ms() - G.live_ms < APPLY_LIVE_MS ? APPLY_GROUP_COMMITS :
		    APPLY_GROUP_COMMITS_IDLE;
		/* A group that a live batch opens holds only live ones: a
		 * short transaction. */
		size_t cap = b->live ? SYNC_LIVE_BATCH : most;

		for (pp = &G.ready; *pp != NULL && g->n < APPLY_GROUP_MAX &&
		    commits < most;) {
			b = *pp;
			o = commits + b->n <= most && b->n <= cap &&
			    (b->live || cap > SYNC_LIVE_BATCH) ?
			    batch_origin(b) : NULL;
			for (i = 0; o != NULL && i < g->n; i++)
				if (memcmp(batch_origin(g->b[i]), o,
				    PROTO_KEY_LEN) == 0)
					o = NULL;
			if (o == NULL) {
				pp = &b->gnext;
				continue;
			}
			*pp = b->gnext;
			g->b[g->n++] = b;
			commits += b->n;
		}
	}
	for (G.tail = &G.ready; *G.tail != NULL; G.tail = &(*G.tail)->gnext)
		;
	g->j.run = group_run;
	g->j.done = group_done;
	if (D.stopping) {
		/* Not stored: the peers send them again next time.  The
		 * store thread may be gone: done() at once, unrun. */
		g->j.ran = 0;
		group_done(&g->j);
		return;
	}
	G.inflight = 1;
	worker_submit(&g->j);
}

/*
 * The peer's commit at seq + 1 does not follow ours at seq: ask for its
 * commit at seq, which the store keeps as a fork's evidence.
 */
static void
want_one(struct conn *c, const uint8_t *origin, uint64_t seq)
{
	struct session_want w;
	struct proto_enc m;

	memcpy(w.origin, origin, PROTO_KEY_LEN);
	w.seq = seq;
	proto_enc_init(&m);
	(void)session_pack_want(&c->s, &w, 1, &m);
	conn_send(c, &m);
	proto_enc_free(&m);
}

/* Passes a newly kept fork on to every other peer that reads its origin. */
static void
relay_fork(struct conn *from, const struct store_item *it)
{
	struct conn *o;

	for (o = D.conns; o != NULL; o = o->next)
		if (o != from && o->open && !o->closing && o->s.heads_sent &&
		    trust_allows(o, it->origin)) {
			session_queue_extra(&o->s, it->e, it->elen, it->sig);
			sync_pump(o);
		}
}

/* Hands the first batch to the store thread once it is checked. */
static void
apply_next(struct conn *c)
{
	struct rx_batch *b = c->rxq;

	if (c->applying || b == NULL || b->checking > 0)
		return;
	if (D.stopping) {
		/* Not stored: the peer sends it again next time. */
		while ((b = c->rxq) != NULL && b->checking == 0) {
			int more;

			rx_pop(c);
			rx_free(b);
			more = c->rxq != NULL;
			conn_unref(c);    /* may free c when it was the last */
			if (!more)
				return;
		}
		return;
	}
	c->applying = 1;
	b->gnext = NULL;
	b->ready_ms = now_ms();
	*G.tail = b;
	G.tail = &b->gnext;
	group_kick();
}

/* Free bytes a full disk must gain before it is said to have room again. */
#define FULL_ROOM ((uint64_t)8 << 20)

/* Returns the free bytes on the data directory's disk (0: unknown). */
static uint64_t
data_free(void)
{
	struct statvfs sv;

	if (statvfs(D.data, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}

/*
 * Once a second while the disk is full: when it has clearly more room
 * than when it filled, says so and dials at once every peer whose
 * batches could not be stored, instead of waiting out their backoff.
 */
void
sync_room_check(void)
{
	struct peer *p;
	uint64_t avail;

	if (!D.store_full)
		return;
	avail = data_free();
	if (avail < D.full_free + FULL_ROOM)
		return;
	D.store_full = 0;
	log_info("the disk has room again: %llu MB free",
	    (unsigned long long)(avail >> 20));
	for (p = D.peers; p != NULL; p = p->next) {
		if (p->store_fails == 0)
			continue;
		p->store_fails = 0;
		if (p->conn == NULL)
			peer_dial_soon(p, 1);
	}
}

static void
apply_done(struct job *j)
{
	struct rx_batch *b = (struct rx_batch *)j;
	struct conn *c = b->c;
	const char *name = c->peer ? c->peer->name : c->addr;
	uint64_t applied = 0, refused = 0, pending = 0, drained;
	struct proto_enc m;
	uint8_t moved[PROTO_KEY_LEN];    /* the one origin applied, if one */
	char k[17];
	size_t i;
	int admin = 0, many = 0;

	c->applying = 0;
	rx_pop(c);
	/*
	 * A batch behind one that failed (the connection is closing) says
	 * nothing worth a line: its commits follow the failed batch's.  What
	 * it may still have stored, the heads read again tell.
	 */
	if (!j->ran || D.stopping || c->closing) {
		if (j->ran && !D.stopping && b->rc == 0)
			sync_heads_refresh();
		rx_free(b);
		apply_next(c);
		conn_unref(c);
		return;
	}
	if (b->rc != 0) {
		/* A full disk: one line when it fills, then quiet; the peer
		 * is dialed again on the failed-dial schedule, and the next
		 * batch stored says the space is back. */
		if (b->rc != CS_ENOSPC || !D.store_full)
			log_warnx("peer %s: batch %llu not stored: %s", name,
			    (unsigned long long)b->m.n, b->cause ? b->cause :
			    cs_strerror(b->rc));
		else
			log_debug("peer %s: batch %llu not stored: %s", name,
			    (unsigned long long)b->m.n, b->cause ? b->cause :
			    cs_strerror(b->rc));
		if (b->rc == CS_ENOSPC && !D.store_full) {
			D.store_full = 1;
			D.full_free = data_free();
		}
		if (c->peer != NULL)
			c->peer->store_fails++;
		conn_close(c, b->rc == CS_ENOSPC ? "this node's disk is full" :
		    "a batch could not be stored");
		rx_free(b);
		apply_next(c);
		conn_unref(c);
		return;
	}
	if (b->txnid > D.txnid)
		D.txnid = b->txnid;
	/*
	 * Small batches still fit now and then on a full disk: the disk has
	 * room again only when it has clearly more free than when it filled.
	 */
	if (D.store_full && data_free() >= D.full_free + FULL_ROOM) {
		D.store_full = 0;
		log_info("peer %s: batch %llu stored: the disk has room again",
		    name, (unsigned long long)b->m.n);
	}
	/* The backoff holds while the disk stays full. */
	if (c->peer != NULL && !D.store_full)
		c->peer->store_fails = 0;
	drained = c->failed.drained;
	c->failed.drained = 0;
	for (i = 0; i < b->n; i++) {
		const struct store_item *it = &b->items[i];

		if (it->result == 0 || it->result == CS_EDUP) {
			applied += it->result == 0;
			if (it->result == 0 && applied == 1)
				memcpy(moved, it->origin, PROTO_KEY_LEN);
			else if (it->result == 0 && memcmp(moved, it->origin,
			    PROTO_KEY_LEN) != 0)
				many = 1;
			if (it->result == 0 && memcmp(it->origin,
			    D.info.network, PROTO_KEY_LEN) == 0)
				admin = 1;
			vv_raise(&D.ours, it->origin, it->seq);
			session_peer_has(&c->s, it->origin, it->seq);
			continue;
		}
		if (it->seq != 0)
			session_peer_has(&c->s, it->origin, it->seq);
		if (it->result == CS_EPENDING) {
			/* Held: it lands when the admin log allows it. */
			pending++;
			continue;
		}
		refused++;
		log_warnx("peer %s: refused commit %s:%llu: %s", name,
		    log_key(it->origin, k), (unsigned long long)it->seq,
		    it->cause);
		if (it->result == CS_ECHAIN && it->seq > 1 &&
		    !session_wanted(&c->s, it->origin))
			want_one(c, it->origin, it->seq - 1);
		if (it->result == CS_EFORK)
			relay_fork(c, it);
	}
	if (pending > 0)
		log_info("peer %s: %llu commits wait for the admin log (cafe "
		    "status names them)", name, (unsigned long long)pending);
	if (drained > 0)
		log_info("peer %s: %llu waiting commits were let in by the "
		    "admin log", name, (unsigned long long)drained);
	applied += pending;
	c->rx_commits += applied;
	c->rx_refused += refused;
	if (c->peer != NULL)
		c->peer->received += applied;
	if (!c->closing) {
		proto_enc_init(&m);
		session_applied(&c->s, b->m.n, applied, refused, &m);
		conn_send(c, &m);
		proto_enc_free(&m);
	}
	log_debug("peer %s: batch %llu: %llu applied, %llu refused", name,
	    (unsigned long long)b->m.n, (unsigned long long)applied,
	    (unsigned long long)refused);
	rx_free(b);
	apply_next(c);
	if (c->rxq_len < SYNC_RX_QUEUE)
		conn_resume(c);
	restore_check(c);
	if (admin)
		trust_reload();
	/* Waiting commits that landed, or accepted ones withdrawn, moved
	 * heads that no item of this batch names. */
	if (drained > 0 || admin)
		sync_heads_refresh();
	/* Our heads moved: relay to every peer that lacks the news. */
	if (applied > 0 && (many || drained > 0 || admin))
		sync_pump_all();
	else if (applied > 0) {
		sync_pump_origin(moved);
		sync_update_state(c);
	} else
		sync_update_state(c);
	conn_unref(c);
}

/* Checks the signatures of b's items from .. to - 1. */
static void
check_range(struct rx_batch *b, size_t from, size_t to)
{
	size_t i;

	store_verify_items(D.store, b->items, from, to);
	/* Each item's origin, for the apply groups (the store fills it
	 * again as it applies; one that does not decode keeps zeros). */
	for (i = from; i < to; i++) {
		struct proto_commit pc;

		if (proto_commit_decode(&pc, b->items[i].e, b->items[i].elen,
		    NULL) != 0)
			continue;
		memcpy(b->items[i].origin, pc.origin, PROTO_KEY_LEN);
		proto_commit_free(&pc);
	}
}

/* On the thread pool: checks one half of a batch's signatures. */
static void
check_half(uv_work_t *w)
{
	struct rx_batch *b = w->data;
	size_t half = b->n / 2;

	if (w == &b->work[0])
		check_range(b, 0, half);
	else
		check_range(b, half, b->n);
}

static void
check_done(uv_work_t *w, int status)
{
	struct rx_batch *b = w->data;

	(void)status;
	if (--b->checking == 0) {
		batch_one(b);
		apply_next(b->c);
	}
}

/* Takes a COMMITS message: check it, then queue it for the store. */
static int
on_commits(struct conn *c, const uint8_t *data, size_t len)
{
	struct rx_batch *b = xcalloc(1, sizeof(*b));
	const char *cause;
	size_t i, bytes;
	int k;

	b->c = c;
	b->buf = xmalloc(len);
	memcpy(b->buf, data, len);
	if (wire_msg_decode(&b->m, b->buf, len, &cause) != 0) {
		rx_free(b);
		return protocol_error(c, cause);
	}
	if (session_on_commits(&c->s, b->m.n, &cause) != 0) {
		rx_free(b);
		return protocol_error(c, cause);
	}
	b->n = b->m.nitems;
	b->items = xcalloc(b->n, sizeof(*b->items));
	for (i = 0, bytes = 0; i < b->n; i++) {
		b->items[i].e = b->m.items[i].e;
		b->items[i].elen = b->m.items[i].elen;
		b->items[i].sig = b->m.items[i].sig;
		bytes += b->items[i].elen;
	}
	b->live = b->n <= SYNC_LIVE_BATCH && bytes <= SYNC_LIVE_BYTES;
	c->refs++;
	if (c->rxq_tail == NULL)
		c->rxq_tail = &c->rxq;
	*c->rxq_tail = b;
	c->rxq_tail = &b->next;
	c->rxq_len++;
	/*
	 * A live batch is checked here, at once: a few signatures cost the
	 * loop less than a wait behind every backlog batch queued on the
	 * thread pool.
	 */
	if (b->live) {
		check_range(b, 0, b->n);
		batch_one(b);
		apply_next(c);
		if (c->rxq_len >= SYNC_RX_QUEUE)
			conn_pause(c);
		return 0;
	}
	b->checking = 2;
	for (k = 0; k < 2; k++) {
		b->work[k].data = b;
		if (uv_queue_work(D.loop, &b->work[k], check_half,
		    check_done) != 0) {
			/* The store thread checks what is left unchecked. */
			b->checking--;
		}
	}
	apply_next(c);
	if (c->rxq_len >= SYNC_RX_QUEUE)
		conn_pause(c);
	return 0;
}

/* Sends ERROR with a reason, then closes. */
static int
protocol_error(struct conn *c, const char *why)
{
	struct proto_enc m;

	proto_enc_init(&m);
	wire_pack_error(&m, why);
	conn_send(c, &m);
	proto_enc_free(&m);
	conn_close(c, why);
	return -1;
}

/* ---- joining ---------------------------------------------------------- */

/*
 * Failed joins per source address: at JOIN_FAILS_MAX failures within
 * JOIN_FAIL_WINDOW_MS, an address's joins are refused unread until the
 * window ends, so invite secrets cannot be guessed at speed.  The table
 * is small and fixed; a full table reuses its oldest slot.
 */
#define JOIN_FAILS_MAX 5
#define JOIN_FAIL_WINDOW_MS 60000
#define JOIN_FAIL_SLOTS 64

static struct join_fail {
	char host[64];
	uint64_t since_ms;
	unsigned fails;
} join_fails[JOIN_FAIL_SLOTS];

/* The host part of "host:port" or "[v6]:port" into host. */
static void
addr_host(const char *addr, char *host, size_t size)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon != NULL ? (size_t)(colon - addr) : strlen(addr);

	snprintf(host, size, "%.*s", (int)n, addr);
}

/* The slot of addr's host, made (oldest reused) when make is set. */
static struct join_fail *
join_fail_slot(const char *addr, int make)
{
	struct join_fail *f, *old = &join_fails[0];
	uint64_t now = now_ms();
	char host[64];

	addr_host(addr, host, sizeof(host));
	for (f = join_fails; f < join_fails + JOIN_FAIL_SLOTS; f++) {
		if (f->fails > 0 && now - f->since_ms >= JOIN_FAIL_WINDOW_MS)
			f->fails = 0;
		if (f->fails > 0 && strcmp(f->host, host) == 0)
			return f;
		if (f->fails == 0 || (old->fails > 0 &&
		    f->since_ms < old->since_ms))
			old = f;
	}
	if (!make)
		return NULL;
	snprintf(old->host, sizeof(old->host), "%s", host);
	old->since_ms = now;
	old->fails = 0;
	return old;
}

/* Counts a failed join from addr; says so once when the limit is hit. */
static void
join_failed(const char *addr)
{
	struct join_fail *f = join_fail_slot(addr, 1);

	if (++f->fails == JOIN_FAILS_MAX)
		log_warnx("joins from %s: %u failed within %d s; refusing "
		    "its joins for the rest of that time", f->host, f->fails,
		    JOIN_FAIL_WINDOW_MS / 1000);
}

struct join_job {
	struct job j;
	struct conn *c;
	uint8_t invite[WIRE_INVITE_LEN];
	uint8_t secret[WIRE_SECRET_LEN];
	uint8_t key[PROTO_KEY_LEN];
	char name[WIRE_MAX_NAME + 1];
	const char *role;
	char *cause;
	int rc;
};

static void
join_run(struct job *j)
{
	struct join_job *jj = (struct join_job *)j;

	jj->rc = store_invite_redeem(worker_store(), jj->invite, jj->secret,
	    jj->key, jj->name, &jj->role, &jj->cause);
}

static void
join_done(struct job *j)
{
	struct join_job *jj = (struct join_job *)j;
	struct conn *c = jj->c;
	struct proto_enc m;
	char k[17];

	log_key(jj->key, k);
	if (j->ran && jj->rc == 0) {
		log_info("%s (%s) joined with an invite as %s", jj->name, k,
		    jj->role);
		trust_reload();
		sync_heads_refresh();
	} else if (j->ran) {
		log_warnx("connection from %s: join of %s refused: %s",
		    c->addr, k, jj->cause ? jj->cause : "failed");
		join_failed(c->addr);
	}
	if (j->ran && !c->closing) {
		proto_enc_init(&m);
		if (jj->rc == 0)
			wire_pack_joined(&m, jj->role);
		else
			wire_pack_error(&m, jj->cause ? jj->cause :
			    "join refused");
		conn_send(c, &m);
		proto_enc_free(&m);
		/* Closed once the answer is written. */
		conn_finish(c, "join answered");
	}
	sodium_memzero(jj->secret, sizeof(jj->secret));
	free(jj->cause);
	free(jj);
	conn_unref(c);
}

/* A joining node's only message: redeem its invite on the store thread. */
static int
on_join(struct conn *c, const uint8_t *data, size_t len)
{
	struct join_job *jj;
	struct join_fail *f;
	struct proto_enc e;
	struct wire_msg m;
	const char *cause;

	if (wire_msg_decode(&m, data, len, &cause) != 0)
		return protocol_error(c, cause);
	if (m.type != WIRE_MSG_JOIN || c->joining > 1) {
		wire_msg_free(&m);
		return protocol_error(c, "protocol: a joining node sends one "
		    "JOIN and nothing else");
	}
	c->joining = 2;
	if ((f = join_fail_slot(c->addr, 0)) != NULL &&
	    f->fails >= JOIN_FAILS_MAX) {
		proto_enc_init(&e);
		wire_pack_error(&e, "too many failed joins from this address; "
		    "try again in a minute");
		conn_send(c, &e);
		proto_enc_free(&e);
		conn_finish(c, "join refused: too many failed joins");
		return 0;
	}
	jj = xcalloc(1, sizeof(*jj));
	jj->c = c;
	memcpy(jj->invite, m.invite, WIRE_INVITE_LEN);
	memcpy(jj->secret, m.secret, WIRE_SECRET_LEN);
	memcpy(jj->key, c->w.peer, PROTO_KEY_LEN);
	snprintf(jj->name, sizeof(jj->name), "%.*s", (int)m.reason_len,
	    m.reason);
	wire_msg_free(&m);
	jj->j.run = join_run;
	jj->j.done = join_done;
	c->refs++;
	worker_submit(&jj->j);
	return 0;
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
		return on_join(c, data, len);
	/* ZCOMMITS: expanded (bounded) into the COMMITS it stands for. */
	if (len > 1 && (data[0] & 0xf0) == 0x90 &&
	    data[1] == WIRE_MSG_ZCOMMITS) {
		struct proto_enc x;
		int rc;

		if (!c->s.got_heads)
			return protocol_error(c, "protocol: ZCOMMITS before "
			    "HEADS");
		proto_enc_init(&x);
		if (zc_expand(sync_zdict(), data, len, &x, &cause) != 0) {
			proto_enc_free(&x);
			return protocol_error(c, cause);
		}
		rc = sync_msg(c, (const uint8_t *)x.sb.data, x.sb.size);
		proto_enc_free(&x);
		return rc;
	}
	/* COMMITS is decoded from its own copy, kept while it is applied. */
	if (len > 0 && (data[0] & 0xf0) == 0x90 && len > 1 &&
	    data[1] == WIRE_MSG_COMMITS) {
		if (!c->s.got_heads)
			return protocol_error(c, "protocol: COMMITS before "
			    "HEADS");
		if (c->rxq_len >= SYNC_RX_QUEUE + 1)
			return protocol_error(c, "protocol: batches beyond "
			    "flow control");
		return on_commits(c, data, len);
	}
	if (wire_msg_decode(&m, data, len, &cause) != 0)
		return protocol_error(c, cause);
	if (!c->s.got_heads && m.type != WIRE_MSG_HEADS &&
	    m.type != WIRE_MSG_ERROR) {
		wire_msg_free(&m);
		return protocol_error(c, "protocol: HEADS must come first");
	}
	switch (m.type) {
	case WIRE_MSG_HEADS:
		if (session_on_heads(&c->s, m.heads, m.nheads, &cause) != 0) {
			wire_msg_free(&m);
			return protocol_error(c, cause);
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
		restore_check(c);
		fork_check(c, &m);
		sync_pump(c);
		sync_update_state(c);
		break;
	case WIRE_MSG_WANT:
		if (on_want(c, &m, &cause) != 0) {
			wire_msg_free(&m);
			return protocol_error(c, cause);
		}
		break;
	case WIRE_MSG_ACK:
		switch (session_on_ack(&c->s, m.n, uv_hrtime(), &cause)) {
		case -1:
			wire_msg_free(&m);
			return protocol_error(c, cause);
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
			return protocol_error(c, "protocol: COMMITS out of "
			    "place");
		return on_commits(c, data, len);
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
		return protocol_error(c, "protocol: unexpected message");
	}
	wire_msg_free(&m);
	return 0;
}
