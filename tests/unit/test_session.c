/*
 * test_session.c: unit tests of the sync session (proto/session.c), sans
 * I/O.
 *
 * Two sessions are paired over in-memory stores (each node's store is its
 * heads: commit sizes come from one table, so both sides agree on every
 * commit), the way test_wire.c pairs two handshakes.  A scheduler picks,
 * at random or by a fixed policy, what happens next: a message delivered
 * in either direction, a received batch applied, a read answered.  Every
 * batch applied is checked against the promises: the admin log before
 * every other log (no other origin's commit while the receiver lacks an
 * admin commit), each origin in log order, nothing out of scope, the
 * window and SESSION_MAX_UNACKED when each read is asked.  Batch sizes,
 * windows, the number of origins and where the admin log sorts among
 * them vary systematically, delivery orders at random.  A peer that
 * never acks, WANTs, fork evidence, resumption, caught-up, scope and
 * pacing (against a simulated link of a known rate) have tests of their
 * own.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/session.h"

#define MAXO 6
#define MAXSEQ 400

static uint8_t keys[MAXO][PROTO_KEY_LEN];
static size_t gsize[MAXO][MAXSEQ + 1];
static const uint8_t zero_hash[PROTO_HASH_LEN];
static int norig, admin_ix;
static uint64_t rnd_state;

/* A xorshift step: the tests' only randomness, seeded per run. */
static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Makes n origin keys, the admin's sorting at position admin (0: first). */
static void make_keys(int n, int admin, uint64_t seed)
{
	int i;
	uint64_t s;

	norig = n;
	admin_ix = admin;
	for (i = 0; i < n; i++) {
		memset(keys[i], 0, PROTO_KEY_LEN);
		keys[i][0] = (uint8_t)(0x10 * (i + 1));
		keys[i][1] = (uint8_t)i;
	}
	rnd_state = seed * 2654435761u + 1;
	for (i = 0; i < n; i++)
		for (s = 1; s <= MAXSEQ; s++)
			gsize[i][s] = 40 + rnd() % 3000;
}

static int key_ix(const uint8_t *k)
{
	int i;

	for (i = 0; i < norig; i++)
		if (memcmp(keys[i], k, PROTO_KEY_LEN) == 0)
			return i;
	fail_msg("unknown origin");
	return -1;
}

/* ---- messages and nodes ------------------------------------------------ */

enum { M_HEADS, M_COMMITS, M_ACK, M_WANT };

struct item {
	int o;
	uint64_t seq;
	int extra;
};

struct msg {
	int type;
	uint64_t batch;
	struct item *it;
	size_t n;
	struct wire_head *h;
};

struct queue {
	struct msg *m;
	size_t head, n, cap;
};

static void q_push(struct queue *q, struct msg m)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 16;
		q->m = realloc(q->m, q->cap * sizeof(*q->m));
	}
	q->m[q->n++] = m;
}

static int q_empty(const struct queue *q)
{
	return q->head == q->n;
}

static struct msg q_pop(struct queue *q)
{
	return q->m[q->head++];
}

static void q_free(struct queue *q)
{
	size_t i;

	for (i = q->head; i < q->n; i++) {
		free(q->m[i].it);
		free(q->m[i].h);
	}
	free(q->m);
	memset(q, 0, sizeof(*q));
}

struct node {
	struct vv ours;
	struct sync_session s;
	uint8_t set[MAXO][PROTO_KEY_LEN]; /* what the peer may read */
	struct queue in;            /* batches received, not yet applied */
	int read_pending;
	struct session_read rd;
	int never_ack;
	uint64_t batches_sent, items_sent, items_got;
	uint64_t last_got[MAXO];    /* the first seq received per origin */
	uint64_t first_got[MAXO];
	size_t max_inflight;
};

struct pair {
	struct node a, b;
	struct queue ab, ba;        /* a -> b, b -> a */
	uint64_t now;
	int defer;                  /* reads answered later, not at once */
	uint64_t admin_head;        /* the admin log's end on either side */
};

static void node_init(struct node *n, size_t window, unsigned batch,
    const int *allow, double rate)
{
	int i;
	size_t k = 0;

	memset(n, 0, sizeof(*n));
	session_init(&n->s, &n->ours, keys[admin_ix], window, batch, rate);
	if (allow == NULL) {
		n->s.scope.all = 1;
		return;
	}
	for (i = 0; i < norig; i++)
		if (allow[i])
			memcpy(n->set[k++], keys[i], PROTO_KEY_LEN);
	n->s.scope.set = n->set;
	n->s.scope.n = k;
}

static void node_free(struct node *n)
{
	q_free(&n->in);
	free(n->rd.r);
	session_free(&n->s);
	vv_free(&n->ours);
}

/* Sends HEADS: the heads the peer may read. */
static void send_heads(struct node *n, struct queue *out)
{
	struct msg m = { M_HEADS, 0, NULL, 0, NULL };
	size_t i;

	m.h = calloc(n->ours.n + 1, sizeof(*m.h));
	for (i = 0; i < n->ours.n; i++)
		if (session_allows(&n->s, n->ours.e[i].origin)) {
			m.h[m.n].origin = n->ours.e[i].origin;
			m.h[m.n].seq = n->ours.e[i].seq;
			m.h[m.n].hash = zero_hash;
			m.n++;
		}
	n->s.heads_sent = 1;
	q_push(out, m);
}

static void pump(struct pair *p, struct node *n, struct queue *out);

/* Answers the node's read from its store, as read_one() does. */
static void serve(struct pair *p, struct node *n, struct queue *out)
{
	struct session_read *rd = &n->rd;
	struct msg m = { M_COMMITS, rd->batch, NULL, 0, NULL };
	size_t i, size = 0;

	m.it = calloc(rd->max_commits + 1, sizeof(*m.it));
	for (i = 0; i < rd->nr; i++) {
		struct session_range *r = &rd->r[i];
		int o = key_ix(r->origin);
		uint64_t seq, head = vv_get(&n->ours, r->origin);

		for (seq = r->from; seq <= head; seq++) {
			if (!session_read_fits(rd, r, m.n, size, seq,
			    gsize[o][seq]))
				break;
			size += gsize[o][seq] + 70;
			m.it[m.n].o = o;
			m.it[m.n++].seq = seq;
			r->last = seq;
		}
		if (m.n >= rd->max_commits || size >= rd->max_bytes)
			break;
	}
	session_read_done(&n->s, rd, m.n);
	free(rd->r);
	rd->r = NULL;
	n->read_pending = 0;
	if (m.n > 0) {
		session_sent(&n->s, m.batch, size, m.n, p->now);
		n->batches_sent++;
		n->items_sent += m.n;
		if (n->s.inflight > n->max_inflight)
			n->max_inflight = n->s.inflight;
		q_push(out, m);
	} else
		free(m.it);
}

/* Does what the session asks until it waits. */
static void pump(struct pair *p, struct node *n, struct queue *out)
{
	struct session_read rd;
	struct proto_enc e;
	size_t before, k;

	while (!n->read_pending) {
		before = n->s.inflight;
		switch (session_next(&n->s, &rd)) {
		case SESSION_IDLE:
			return;
		case SESSION_SEND_EXTRA: {
			struct msg m = { M_COMMITS, 0, NULL, 0, NULL };

			proto_enc_init(&e);
			m.batch = session_extra_pack(&n->s, &e, &m.n);
			m.it = calloc(m.n, sizeof(*m.it));
			for (k = 0; k < m.n; k++)
				m.it[k].extra = 1;
			session_sent(&n->s, m.batch, e.sb.size, m.n, p->now);
			proto_enc_free(&e);
			q_push(out, m);
			break;
		}
		case SESSION_READ:
			/* The window, when the read is asked. */
			assert_true(before == 0 ||
			    before + rd.max_bytes <= n->s.window);
			assert_true(n->s.batch_out - n->s.batch_acked <
			    SESSION_MAX_UNACKED);
			assert_int_equal(rd.batch, n->s.batch_out + 1);
			n->rd = rd;
			n->read_pending = 1;
			if (!p->defer)
				serve(p, n, out);
			break;
		}
	}
}

/* Applies the first batch n received, checking the promises; acks it. */
static void apply(struct pair *p, struct node *n, struct node *from,
    struct queue *out)
{
	struct msg m = q_pop(&n->in), ack = { M_ACK, 0, NULL, 0, NULL };
	struct proto_enc e;
	size_t i;
	uint64_t applied = 0;

	for (i = 0; i < m.n; i++) {
		int o = m.it[i].o;
		uint64_t head;

		if (m.it[i].extra)
			continue;
		/* Nothing the sender's scope keeps from this peer. */
		assert_true(session_allows(&from->s, keys[o]));
		/* The admin log before every other log. */
		if (o != admin_ix)
			assert_int_equal(vv_get(&n->ours, keys[admin_ix]),
			    p->admin_head);
		head = vv_get(&n->ours, keys[o]);
		/* In log order, no gap; a commit held already is a dup. */
		assert_true(m.it[i].seq <= head + 1);
		if (n->first_got[o] == 0)
			n->first_got[o] = m.it[i].seq;
		n->items_got++;
		if (m.it[i].seq == head + 1) {
			vv_raise(&n->ours, keys[o], m.it[i].seq);
			applied++;
		}
		session_peer_has(&n->s, keys[o], m.it[i].seq);
	}
	proto_enc_init(&e);
	session_applied(&n->s, m.batch, applied, 0, &e);
	assert_true(e.sb.size > 0);
	proto_enc_free(&e);
	ack.batch = m.batch;
	q_push(out, ack);
	free(m.it);
	pump(p, n, out);
}

/* Delivers the next message of q to n. */
static void deliver(struct pair *p, struct queue *q, struct node *n,
    struct queue *out)
{
	struct msg m = q_pop(q);
	const char *why = NULL;

	switch (m.type) {
	case M_HEADS:
		assert_int_equal(session_on_heads(&n->s, m.h, m.n, &why), 0);
		free(m.h);
		pump(p, n, out);
		break;
	case M_COMMITS:
		assert_int_equal(session_on_commits(&n->s, m.batch, &why), 0);
		q_push(&n->in, m);
		break;
	case M_ACK:
		assert_true(session_on_ack(&n->s, m.batch, p->now, &why) >= 0);
		pump(p, n, out);
		break;
	case M_WANT:
		assert_int_equal(session_on_want(&n->s, m.h, m.n, &why), 0);
		free(m.h);
		pump(p, n, out);
		break;
	}
}

/*
 * Runs the pair until nothing can happen: policy 0 picks at random, 1
 * the first action that can happen, 2 the last.  Returns the steps run.
 */
static unsigned run(struct pair *p, int policy, unsigned max_steps)
{
	unsigned steps = 0;

	for (; steps < max_steps; steps++) {
		int can[6], n = 0, k, pick;

		can[0] = !q_empty(&p->ab);
		can[1] = !q_empty(&p->ba);
		can[2] = !q_empty(&p->a.in) && !p->a.never_ack;
		can[3] = !q_empty(&p->b.in) && !p->b.never_ack;
		can[4] = p->a.read_pending;
		can[5] = p->b.read_pending;
		for (k = 0; k < 6; k++)
			n += can[k];
		if (n == 0)
			break;
		if (policy == 1)
			for (pick = 0; !can[pick]; pick++)
				;
		else if (policy == 2)
			for (pick = 5; !can[pick]; pick--)
				;
		else {
			int r = (int)(rnd() % (uint64_t)n);

			for (pick = 0; !can[pick] || r-- > 0; pick++)
				;
		}
		p->now += 1000 + rnd() % 5000000;
		switch (pick) {
		case 0: deliver(p, &p->ab, &p->b, &p->ba); break;
		case 1: deliver(p, &p->ba, &p->a, &p->ab); break;
		case 2: apply(p, &p->a, &p->b, &p->ab); break;
		case 3: apply(p, &p->b, &p->a, &p->ba); break;
		case 4: serve(p, &p->a, &p->ab); break;
		case 5: serve(p, &p->b, &p->ba); break;
		}
	}
	return steps;
}

static void pair_start(struct pair *p)
{
	uint64_t x = vv_get(&p->a.ours, keys[admin_ix]),
	    y = vv_get(&p->b.ours, keys[admin_ix]);

	p->admin_head = x > y ? x : y;
	send_heads(&p->a, &p->ab);
	send_heads(&p->b, &p->ba);
}

static void pair_free(struct pair *p)
{
	node_free(&p->a);
	node_free(&p->b);
	q_free(&p->ab);
	q_free(&p->ba);
}

/* Both nodes hold the same heads (every origin in scope). */
static void assert_same(const struct pair *p)
{
	int i;

	for (i = 0; i < norig; i++)
		assert_int_equal(vv_get(&p->a.ours, keys[i]),
		    vv_get(&p->b.ours, keys[i]));
}

/* ---- admin log first ---------------------------------------------------- */

/*
 * Every batching, window, number of origins, place of the admin key
 * among them, split of the commits between the two sides and delivery
 * order: the admin log always lands before any other, and both sides end
 * with the same heads, caught up.
 */
static void test_admin_first_systematic(void **state)
{
	static const unsigned batches[] = { 1, 2, 3, 7, 64 };
	static const size_t windows[] = { 1, 3000, 20000, 1 << 20 };
	unsigned bi, wi, no, ad, pol, runs = 0;

	(void)state;
	for (no = 1; no <= 4; no++)
	for (ad = 0; ad < no; ad++)
	for (bi = 0; bi < sizeof(batches) / sizeof(*batches); bi++)
	for (wi = 0; wi < sizeof(windows) / sizeof(*windows); wi++)
	for (pol = 0; pol < 4; pol++) {
		struct pair p;
		int o;

		make_keys((int)no, (int)ad, runs + 1);
		memset(&p, 0, sizeof(p));
		node_init(&p.a, windows[wi], batches[bi], NULL, 0);
		node_init(&p.b, windows[wi], batches[bi], NULL, 0);
		p.defer = pol >= 2;
		/* a holds the admin log and most; b some logs a lacks. */
		for (o = 0; o < (int)no; o++) {
			vv_raise(&p.a.ours, keys[o], 10 + rnd() % 30);
			if (o != admin_ix && rnd() % 2)
				vv_raise(&p.b.ours, keys[o], 50 + rnd() % 10);
		}
		pair_start(&p);
		run(&p, pol == 3 ? 0 : (int)(pol % 3), 1000000);
		assert_same(&p);
		assert_true(session_caught_up(&p.a.s));
		assert_true(session_caught_up(&p.b.s));
		pair_free(&p);
		runs++;
	}
	assert_true(runs > 300);
}

/* The same, from random seeds: sizes, heads and orders all random. */
static void test_admin_first_random(void **state)
{
	unsigned seed;

	(void)state;
	for (seed = 1; seed <= 300; seed++) {
		struct pair p;
		int o;
		size_t window;
		unsigned batch;

		rnd_state = seed;
		make_keys(1 + (int)(rnd() % MAXO), 0, seed);
		admin_ix = (int)(rnd() % (uint64_t)norig);
		window = 1 + rnd() % 200000;
		batch = 1 + (unsigned)(rnd() % 100);
		memset(&p, 0, sizeof(p));
		node_init(&p.a, window, batch, NULL, 0);
		node_init(&p.b, window, batch, NULL, 0);
		p.defer = (int)(rnd() % 2);
		for (o = 0; o < norig; o++) {
			/* The admin log may be split too: b holds a prefix. */
			uint64_t h = 1 + rnd() % 80;

			vv_raise(&p.a.ours, keys[o], h);
			if (rnd() % 3 == 0)
				vv_raise(&p.b.ours, keys[o], o == admin_ix ?
				    rnd() % h : h + rnd() % 40);
		}
		pair_start(&p);
		run(&p, 0, 1000000);
		assert_same(&p);
		assert_true(session_caught_up(&p.a.s));
		assert_true(session_caught_up(&p.b.s));
		pair_free(&p);
	}
}

/*
 * One admin commit larger than any batch, with other origins waiting:
 * the first batch holds it alone, and nothing of another origin comes
 * before the admin log ends.
 */
static void test_large_admin_commit(void **state)
{
	struct pair p;
	struct msg *m;
	size_t i;

	(void)state;
	make_keys(4, 2, 7);
	gsize[admin_ix][1] = 200000;          /* > the pace's bound */
	gsize[admin_ix][2] = 100;
	memset(&p, 0, sizeof(p));
	node_init(&p.a, 1 << 20, 500, NULL, 0);
	node_init(&p.b, 1 << 20, 500, NULL, 0);
	vv_raise(&p.a.ours, keys[admin_ix], 3);
	for (i = 0; i < 4; i++)
		if ((int)i != admin_ix)
			vv_raise(&p.a.ours, keys[i], 20);
	pair_start(&p);
	/* b's HEADS to a: a asks for the admin log alone. */
	deliver(&p, &p.ba, &p.a, &p.ab);
	assert_true(p.ab.n >= 2);             /* HEADS, batch 1 (, 2) */
	m = &p.ab.m[1];
	assert_int_equal(m->type, M_COMMITS);
	assert_int_equal(m->n, 1);
	assert_int_equal(m->it[0].o, admin_ix);
	assert_int_equal(m->it[0].seq, 1);
	/* Every batch until the admin log ends holds only admin commits. */
	run(&p, 0, 1000000);
	assert_same(&p);
	assert_int_equal(p.b.first_got[admin_ix], 1);
	pair_free(&p);
}

/* ---- bounds --------------------------------------------------------------- */

/*
 * A peer that never acks: the sender stops at the bound, SESSION_MAX
 * UNACKED batches of tiny commits, or the window of large ones, and its
 * memory stays what it was.
 */
static void test_never_acks(void **state)
{
	struct pair p;
	unsigned steps;
	int i;

	(void)state;
	/* Tiny commits, one per batch, a huge window: the batch count. */
	make_keys(2, 0, 3);
	for (i = 1; i <= MAXSEQ; i++)
		gsize[1][i] = 10;
	memset(&p, 0, sizeof(p));
	node_init(&p.a, (size_t)1 << 30, 1, NULL, 0);
	node_init(&p.b, (size_t)1 << 30, 1, NULL, 0);
	p.b.never_ack = 1;
	vv_raise(&p.a.ours, keys[0], 1);
	gsize[0][1] = 10;
	vv_raise(&p.a.ours, keys[1], MAXSEQ);
	pair_start(&p);
	steps = run(&p, 0, 1000000);
	assert_true(steps < 1000000);
	assert_int_equal(p.a.s.batch_out - p.a.s.batch_acked,
	    SESSION_MAX_UNACKED);
	assert_int_equal(p.a.batches_sent, SESSION_MAX_UNACKED);
	assert_int_equal(p.a.s.nwants, 0);
	assert_null(p.a.s.wants);
	/* Asking again changes nothing. */
	pump(&p, &p.a, &p.ab);
	assert_int_equal(p.a.batches_sent, SESSION_MAX_UNACKED);
	pair_free(&p);

	/* Large commits, a small window: the bytes. */
	make_keys(2, 0, 4);
	memset(&p, 0, sizeof(p));
	node_init(&p.a, 30000, 5, NULL, 0);
	node_init(&p.b, 30000, 5, NULL, 0);
	p.b.never_ack = 1;
	vv_raise(&p.a.ours, keys[0], 1);
	vv_raise(&p.a.ours, keys[1], 300);
	pair_start(&p);
	run(&p, 0, 1000000);
	assert_true(p.a.batches_sent >= 1);
	assert_true(p.a.batches_sent < 10);
	/* In flight: within the window, past it by one batch at most. */
	assert_true(p.a.max_inflight <= 30000 + 5 * (3000 + 70));
	assert_true(p.a.s.batch_out - p.a.s.batch_acked <= 2 ||
	    p.a.max_inflight <= 30000);
	pair_free(&p);
}

/*
 * Fork evidence goes ahead of everything else and is bounded; wants are
 * read before the rest, only in scope, and refused past the bound.
 */
static void test_fork_evidence(void **state)
{
	static const int allow[MAXO] = { 1, 1, 0 };
	struct pair p;
	struct wire_head h[3];
	struct msg want = { M_WANT, 0, NULL, 3, NULL };
	struct wire_head *big;
	const char *why = NULL;
	uint8_t e[8] = { 1, 2, 3 }, sig[PROTO_SIG_LEN] = { 0 };
	size_t i;

	(void)state;
	make_keys(3, 0, 5);
	memset(&p, 0, sizeof(p));
	node_init(&p.a, 1 << 20, 50, allow, 0);
	node_init(&p.b, 1 << 20, 50, NULL, 0);
	vv_raise(&p.a.ours, keys[0], 2);
	vv_raise(&p.a.ours, keys[1], 30);
	vv_raise(&p.a.ours, keys[2], 30);
	vv_raise(&p.b.ours, keys[0], 2);
	vv_raise(&p.b.ours, keys[1], 30);
	for (i = 0; i < SESSION_MAX_EXTRA + 10; i++)
		session_queue_extra(&p.a.s, e, sizeof(e), sig);
	assert_int_equal(p.a.s.nextra, SESSION_MAX_EXTRA);
	/* b wants seq 5 and 9 of origin 1, and seq 3 of origin 2 (out of
	 * b's scope). */
	h[0].origin = keys[1], h[0].seq = 5, h[0].hash = zero_hash;
	h[1].origin = keys[1], h[1].seq = 9, h[1].hash = zero_hash;
	h[2].origin = keys[2], h[2].seq = 3, h[2].hash = zero_hash;
	pair_start(&p);
	want.h = malloc(sizeof(h));
	memcpy(want.h, h, sizeof(h));
	q_push(&p.ba, want);
	deliver(&p, &p.ba, &p.a, &p.ab);     /* b's HEADS */
	deliver(&p, &p.ba, &p.a, &p.ab);     /* the WANT */
	/* a sent: HEADS, the evidence (batch 1), then the wants. */
	assert_int_equal(p.ab.n, 3);
	assert_int_equal(p.ab.m[1].batch, 1);
	assert_int_equal(p.ab.m[1].n, SESSION_MAX_EXTRA);
	assert_true(p.ab.m[1].it[0].extra);
	assert_int_equal(p.a.s.nextra, 0);
	assert_int_equal(p.a.s.nwants, 0);
	assert_int_equal(p.ab.m[2].batch, 2);
	assert_int_equal(p.ab.m[2].n, 2);
	assert_int_equal(p.ab.m[2].it[0].seq, 5);
	assert_int_equal(p.ab.m[2].it[1].seq, 9);
	run(&p, 1, 100000);
	/* Batch 2 answered the wants in scope, exactly. */
	assert_int_equal(p.b.items_got, 2);
	assert_int_equal(p.b.s.batch_in, 2);
	assert_int_equal(vv_get(&p.b.ours, keys[2]), 0);
	assert_true(session_caught_up(&p.a.s));

	/* Too many wants: a protocol error, nothing queued. */
	big = calloc(SESSION_MAX_WANTS + 1, sizeof(*big));
	for (i = 0; i <= SESSION_MAX_WANTS; i++)
		big[i].origin = keys[1], big[i].seq = 1 + i % 30,
		    big[i].hash = zero_hash;
	assert_int_equal(session_on_want(&p.a.s, big, SESSION_MAX_WANTS + 1,
	    &why), -1);
	assert_string_equal(why, "protocol: too many wants");
	assert_int_equal(p.a.s.nwants, 0);
	assert_int_equal(session_on_want(&p.a.s, big, SESSION_MAX_WANTS,
	    &why), 0);
	assert_int_equal(p.a.s.nwants, SESSION_MAX_WANTS);
	assert_int_equal(session_on_want(&p.a.s, big, 1, &why), -1);
	free(big);
	pair_free(&p);
}

/* A scripted hostile peer: ACKs, batches and HEADS out of place. */
static void test_hostile_peer(void **state)
{
	struct sync_session s;
	struct vv ours = { NULL, 0, 0 };
	const char *why = NULL;

	(void)state;
	make_keys(2, 0, 6);
	memset(&s, 0, sizeof(s));
	session_init(&s, &ours, keys[0], 1 << 20, 10, 0);
	assert_int_equal(session_on_commits(&s, 1, &why), -1);
	assert_string_equal(why, "protocol: COMMITS before HEADS");
	assert_int_equal(session_on_ack(&s, 1, 0, &why), -1);
	assert_string_equal(why, "protocol: ACK of a batch not awaiting one");
	assert_int_equal(session_on_heads(&s, NULL, 0, &why), 0);
	assert_int_equal(session_on_heads(&s, NULL, 0, &why), -1);
	assert_string_equal(why, "protocol: HEADS twice");
	assert_int_equal(session_on_commits(&s, 2, &why), -1);
	assert_string_equal(why, "protocol: batch out of order");
	assert_int_equal(session_on_commits(&s, 1, &why), 0);
	assert_int_equal(session_on_commits(&s, 1, &why), -1);
	session_sent(&s, 1, 100, 1, 0);
	session_sent(&s, 2, 100, 1, 0);
	assert_int_equal(session_on_ack(&s, 2, 0, &why), -1);
	assert_true(session_on_ack(&s, 1, 0, &why) >= 0);
	assert_true(session_on_ack(&s, 2, 0, &why) >= 0);
	assert_int_equal(session_on_ack(&s, 3, 0, &why), -1);
	assert_int_equal(s.inflight, 0);
	session_free(&s);
	vv_free(&ours);
}

/* ---- resumption, caught-up, scope ----------------------------------------- */

/*
 * After an interruption, a session started from the heads sends only
 * what the peer lacks: every origin from the peer's head on.
 */
static void test_resumption(void **state)
{
	struct pair p;
	int o;
	uint64_t lack = 0;

	(void)state;
	make_keys(4, 1, 8);
	memset(&p, 0, sizeof(p));
	node_init(&p.a, 50000, 7, NULL, 0);
	node_init(&p.b, 50000, 7, NULL, 0);
	for (o = 0; o < 4; o++) {
		vv_raise(&p.a.ours, keys[o], 40);
		vv_raise(&p.b.ours, keys[o], (uint64_t)(o * 11));
		lack += 40 - (uint64_t)(o * 11);
	}
	pair_start(&p);
	run(&p, 0, 1000000);
	assert_same(&p);
	assert_int_equal(p.b.items_got, lack);
	assert_int_equal(p.a.items_sent, lack);
	for (o = 0; o < 4; o++)
		if (o * 11 < 40)
			assert_int_equal(p.b.first_got[o],
			    (uint64_t)(o * 11 + 1));
	pair_free(&p);
}

/*
 * Caught up exactly when both sides hold the same heads within scope; an
 * origin the peer may not read is never sent, nor counted.
 */
static void test_caught_up_scope(void **state)
{
	static const int allow[MAXO] = { 1, 1, 0, 1 };
	struct pair p;
	uint64_t s, r;

	(void)state;
	make_keys(4, 0, 9);
	memset(&p, 0, sizeof(p));
	node_init(&p.a, 1 << 20, 20, allow, 0);
	node_init(&p.b, 1 << 20, 20, NULL, 0);
	p.defer = 1;
	vv_raise(&p.a.ours, keys[0], 5);
	vv_raise(&p.a.ours, keys[1], 30);
	vv_raise(&p.a.ours, keys[2], 30);     /* b may not read it */
	vv_raise(&p.b.ours, keys[0], 5);
	vv_raise(&p.b.ours, keys[3], 12);     /* a lacks it */
	assert_false(session_caught_up(&p.a.s));
	pair_start(&p);
	assert_false(session_caught_up(&p.a.s));
	deliver(&p, &p.ba, &p.a, &p.ab);
	session_counts(&p.a.s, &s, &r);
	assert_int_equal(s, 30);
	assert_int_equal(r, 12);
	assert_false(session_caught_up(&p.a.s));
	while (!q_empty(&p.ab) || !q_empty(&p.ba) || !q_empty(&p.a.in) ||
	    !q_empty(&p.b.in)) {
		/* Not caught up while anything moves. */
		assert_false(session_caught_up(&p.a.s) &&
		    !q_empty(&p.a.in));
		run(&p, 0, 1);
	}
	assert_true(session_caught_up(&p.a.s));
	assert_true(session_caught_up(&p.b.s));
	assert_int_equal(vv_get(&p.b.ours, keys[2]), 0);
	assert_int_equal(vv_get(&p.b.ours, keys[1]), 30);
	assert_int_equal(vv_get(&p.a.ours, keys[3]), 12);
	/* A new commit of a's own: no longer caught up until sent. */
	vv_raise(&p.a.ours, keys[1], 31);
	assert_false(session_caught_up(&p.a.s));
	vv_raise(&p.a.ours, keys[2], 31);     /* out of scope: no change */
	pump(&p, &p.a, &p.ab);
	run(&p, 0, 1000);
	assert_true(session_caught_up(&p.a.s));
	assert_int_equal(vv_get(&p.b.ours, keys[2]), 0);
	pair_free(&p);
}

/* ---- pacing ------------------------------------------------------------- */

/*
 * The sender over a simulated link of rate bytes/s (serial, 20 ms
 * round trip) for secs seconds; returns the session's bound at the end.
 */
static void link_run(struct sync_session *s, struct vv *ours, double rate,
    double secs, uint64_t *now)
{
	uint64_t end = *now + (uint64_t)(secs * 1e9), link_free = *now;
	uint64_t due[SESSION_MAX_UNACKED + 1];
	size_t ndue = 0, i;
	const char *why;

	while (*now < end) {
		struct session_read rd;

		while (session_next(s, &rd) == SESSION_READ) {
			size_t bytes = 0, n = 0;
			uint64_t seq, start;

			for (seq = rd.r[0].from; session_read_fits(&rd,
			    &rd.r[0], n, bytes, seq, 1000); seq++) {
				bytes += 1070;
				n++;
				rd.r[0].last = seq;
			}
			session_read_done(s, &rd, n);
			free(rd.r);
			session_sent(s, s->batch_out + 1, bytes, n, *now);
			start = link_free > *now ? link_free : *now;
			link_free = start + (uint64_t)((double)bytes * 1e9 /
			    rate);
			due[ndue++] = link_free + 20000000;
			vv_raise(ours, ours->e[0].origin, ours->e[0].seq +
			    n);
		}
		assert_true(ndue > 0);
		*now = due[0];
		assert_true(session_on_ack(s, s->batch_acked + 1, *now,
		    &why) >= 0);
		for (i = 1; i < ndue; i++)
			due[i - 1] = due[i];
		ndue--;
	}
}

/* The in-flight bound follows the rate the acks show. */
static void test_pacing(void **state)
{
	static const double rates[] = { 1e6, 2e6 };
	size_t i;

	(void)state;
	make_keys(1, 0, 10);
	for (i = 0; i < sizeof(rates) / sizeof(*rates); i++) {
		struct sync_session s;
		struct vv ours = { NULL, 0, 0 };
		uint64_t now = 1;
		double want = rates[i] * SESSION_PACE_NS / 1e9;

		memset(&s, 0, sizeof(s));
		vv_raise(&ours, keys[0], 1);
		session_init(&s, &ours, keys[0], 16 << 20, 100000, 0);
		s.scope.all = 1;
		assert_int_equal(session_on_heads(&s, NULL, 0, &(const char *){
		    NULL }), 0);
		s.heads_sent = 1;
		assert_int_equal(session_pace_bound(&s), SESSION_PACE_START);
		link_run(&s, &ours, rates[i], 60, &now);
		/* The rate measured is the link's, within a fifth. */
		assert_true(s.rate > rates[i] * 0.8 && s.rate < rates[i] * 1.2);
		if (want < SESSION_PACE_MIN)
			want = SESSION_PACE_MIN;
		if (want > WIRE_BATCH_BYTES)
			want = WIRE_BATCH_BYTES;
		/* The bound never passes half a second of the link. */
		assert_true((double)session_pace_bound(&s) < want * 1.3);
		/* In flight: about a second of the link at most. */
		assert_true((double)s.inflight <= rates[i] * 1.3 +
		    2 * (double)session_pace_bound(&s) + 2140);
		session_free(&s);
		vv_free(&ours);
	}
}

/* A new session on a link whose rate is known starts at its bound. */
static void test_pacing_seed(void **state)
{
	struct sync_session s;
	struct vv ours = { NULL, 0, 0 };

	(void)state;
	make_keys(1, 0, 11);
	memset(&s, 0, sizeof(s));
	session_init(&s, &ours, keys[0], 1 << 20, 10, 20000);
	assert_int_equal(session_pace_bound(&s), 10000);
	session_init(&s, &ours, keys[0], 1 << 20, 10, 100);
	assert_int_equal(session_pace_bound(&s), SESSION_PACE_MIN);
	session_init(&s, &ours, keys[0], 1 << 20, 10, 1e10);
	assert_int_equal(session_pace_bound(&s), WIRE_BATCH_BYTES);
	session_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admin_first_systematic),
		cmocka_unit_test(test_admin_first_random),
		cmocka_unit_test(test_large_admin_commit),
		cmocka_unit_test(test_never_acks),
		cmocka_unit_test(test_fork_evidence),
		cmocka_unit_test(test_hostile_peer),
		cmocka_unit_test(test_resumption),
		cmocka_unit_test(test_caught_up_scope),
		cmocka_unit_test(test_pacing),
		cmocka_unit_test(test_pacing_seed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
