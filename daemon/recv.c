/*
 * recv.c: receiving a peer's COMMITS: signatures checked on the thread
 * pool, batches grouped and applied on the store thread in the order they
 * came, ACKs, a full disk, and what the session learns from each batch.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "daemon.h"

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
 * While the disk is full: when it has clearly more room than when it
 * filled, says so and dials at once every peer whose batches could not be
 * stored, instead of waiting out its backoff.  how says what looked: the
 * once-a-second look at the free space, or a batch that was stored.
 */
static void
room_check(const char *how)
{
	struct peer *p;
	uint64_t avail;

	if (!D.store_full || (avail = data_free()) < D.full_free + FULL_ROOM)
		return;
	D.store_full = 0;
	log_info("the disk has room again: %llu MB free (%s)",
	    (unsigned long long)(avail >> 20), how);
	for (p = D.peers; p != NULL; p = p->next) {
		if (p->store_fails == 0)
			continue;
		p->store_fails = 0;
		if (p->conn == NULL)
			peer_dial_soon(p, 1);
	}
}

/* Once a second: a full disk has room again? */
void
sync_room_check(void)
{
	room_check("seen in the free space");
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
		 * is dialed again on the failed-dial schedule, a few
		 * doublings in, or at once when the once-a-second look at
		 * the free space (sync_room_check) or a batch stored says the
		 * space is back. */
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
	room_check("a batch was stored");
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
	sync_restore_check(c);
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
int
sync_on_commits(struct conn *c, const uint8_t *data, size_t len)
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
		return sync_protocol_error(c, cause);
	}
	if (session_on_commits(&c->s, b->m.n, &cause) != 0) {
		rx_free(b);
		return sync_protocol_error(c, cause);
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
