/*
 * session.c: the sync session of one connection, sans I/O (session.h).
 *
 * The decisions of the sync proper, kept apart from sockets, the store
 * and the clock, the way git's fetch negotiator keeps negotiation apart
 * from transport: the caller asks session_next() what to do, does it,
 * and reports back (session_read_done(), session_sent()); the peer's
 * messages come in through session_on_*().  Version vectors live here
 * too: what the peer has is one, and so are the local heads.
 */
#include <stdlib.h>
#include <string.h>

#include "session.h"

/* ---- version vectors -------------------------------------------------- */

/* Finds origin's slot: its index, or where it would go (*found 0). */
static size_t
vv_find(const struct vv *v, const uint8_t *origin, int *found)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int d = memcmp(v->e[mid].origin, origin, PROTO_KEY_LEN);

		if (d == 0) {
			*found = 1;
			return mid;
		}
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = 0;
	return lo;
}

/* Returns origin's seq, 0 when unknown. */
uint64_t
vv_get(const struct vv *v, const uint8_t *origin)
{
	int found;
	size_t i = vv_find(v, origin, &found);

	return found ? v->e[i].seq : 0;
}

/* Raises origin's seq. */
void
vv_raise(struct vv *v, const uint8_t *origin, uint64_t seq)
{
	int found;
	size_t i = vv_find(v, origin, &found);

	if (found) {
		if (v->e[i].seq < seq)
			v->e[i].seq = seq;
		return;
	}
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->e = xreallocarray(v->e, v->cap, sizeof(*v->e));
	}
	memmove(&v->e[i + 1], &v->e[i], (v->n - i) * sizeof(*v->e));
	memcpy(v->e[i].origin, origin, PROTO_KEY_LEN);
	v->e[i].seq = seq;
	v->n++;
}

/* Replaces dst by a copy of src, sized to what it holds. */
void
vv_copy(struct vv *dst, const struct vv *src)
{
	free(dst->e);
	dst->e = src->n > 0 ? xreallocarray(NULL, src->n,
	    sizeof(*src->e)) : NULL;
	if (src->n > 0)
		memcpy(dst->e, src->e, src->n * sizeof(*src->e));
	dst->n = dst->cap = src->n;
}

/* Frees the entries and empties v. */
void
vv_free(struct vv *v)
{
	free(v->e);
	memset(v, 0, sizeof(*v));
}

/* ---- state ------------------------------------------------------------ */

/* Starts a session: see session.h. */
void
session_init(struct sync_session *s, const struct vv *ours,
    const uint8_t admin[PROTO_KEY_LEN], size_t window,
    unsigned batch_commits, double rate)
{
	struct session_scope scope = s->scope;

	memset(s, 0, sizeof(*s));
	s->scope = scope;
	s->ours = ours;
	memcpy(s->admin, admin, PROTO_KEY_LEN);
	s->window = window;
	s->batch_commits = batch_commits;
	if (rate > 0) {
		double cap = rate * SESSION_PACE_NS / 1e9;

		s->rate = rate;
		s->batch_bytes = cap < SESSION_PACE_MIN ? SESSION_PACE_MIN :
		    cap > WIRE_BATCH_BYTES ? WIRE_BATCH_BYTES : (size_t)cap;
	} else
		s->batch_bytes = SESSION_PACE_START;
}

/* Frees the vectors and the queues. */
void
session_free(struct sync_session *s)
{
	size_t i;

	vv_free(&s->theirs);
	vv_free(&s->wanted);
	free(s->wants);
	s->wants = NULL;
	s->nwants = 0;
	for (i = 0; i < s->nextra; i++)
		free(s->extra[i].e);
	free(s->extra);
	s->extra = NULL;
	s->nextra = 0;
}

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PROTO_KEY_LEN);
}

/* Returns 1 when the scope lets the peer read origin's log. */
int
session_allows(const struct sync_session *s, const uint8_t *origin)
{
	if (s->scope.all)
		return 1;
	return s->scope.n > 0 && bsearch(origin, s->scope.set, s->scope.n,
	    sizeof(*s->scope.set), key_cmp) != NULL;
}

/* Counts what each side lacks of the other's heads (to send: in scope). */
void
session_counts(const struct sync_session *s, uint64_t *to_send,
    uint64_t *to_recv)
{
	static const struct vv none;
	const struct vv *a = s->ours != NULL ? s->ours : &none;
	const struct vv *b = &s->theirs;
	size_t i = 0, j = 0;

	*to_send = *to_recv = 0;
	while (i < a->n || j < b->n) {
		int d = i == a->n ? 1 : j == b->n ? -1 :
		    memcmp(a->e[i].origin, b->e[j].origin, PROTO_KEY_LEN);

		if (d < 0) {
			if (session_allows(s, a->e[i].origin))
				*to_send += a->e[i].seq;
			i++;
		} else if (d > 0)
			*to_recv += b->e[j++].seq;
		else {
			if (a->e[i].seq > b->e[j].seq) {
				if (session_allows(s, a->e[i].origin))
					*to_send += a->e[i].seq - b->e[j].seq;
			} else
				*to_recv += b->e[j].seq - a->e[i].seq;
			i++, j++;
		}
	}
}

/* Returns 1 when nothing is left to send, to receive or in flight. */
int
session_caught_up(const struct sync_session *s)
{
	uint64_t to_send, to_recv;

	if (!s->got_heads || !s->heads_sent || s->reading ||
	    s->inflight != 0 || s->nwants != 0 || s->nextra != 0)
		return 0;
	session_counts(s, &to_send, &to_recv);
	return to_send == 0 && to_recv == 0;
}

/* ---- pacing ----------------------------------------------------------- */

/* Returns the next batch's bound. */
size_t
session_pace_bound(struct sync_session *s)
{
	if (s->batch_bytes == 0)
		s->batch_bytes = SESSION_PACE_START;
	return s->batch_bytes;
}

/* Sets the batch bound from the rate: at most SESSION_PACE_NS of it. */
static void
pace_resize(struct sync_session *s, size_t b)
{
	double cap = s->rate * SESSION_PACE_NS / 1e9;

	if ((double)b * 2 <= cap)
		b *= 2;
	else if ((double)b > cap)
		b = cap < SESSION_PACE_MIN ? SESSION_PACE_MIN : (size_t)cap;
	s->batch_bytes = b > WIRE_BATCH_BYTES ? WIRE_BATCH_BYTES : b;
}

/*
 * Tells whether another batch of up to the bound may go now: always the
 * first, and the second while it fits `window`, so the link never waits
 * for an ACK with nothing behind it (a batch is never less than one
 * commit, which may be more than the bound).  When it may not, the
 * window holds the sender back: the busy period measures the link.
 */
static int
pace_room(struct sync_session *s)
{
	size_t b = session_pace_bound(s), w = SESSION_PACE_WINDOW * b;

	if (s->rate > 0 && (double)w > s->rate)
		w = (size_t)s->rate;
	if (w > s->window)
		w = s->window;
	if (s->inflight == 0 || s->inflight + b <= w ||
	    (s->batch_out - s->batch_acked < 2 &&
	    s->inflight + b <= s->window))
		return 1;
	s->busy_held = 1;
	return 0;
}

/* An ACK of bytes came at now: slow start, or a sample of the rate.
 * Returns 1 when the rate was sampled. */
static int
pace_acked(struct sync_session *s, size_t bytes, uint64_t now)
{
	uint64_t took = now - s->busy_ns;
	double sample;

	s->busy_bytes += bytes;
	if (s->rate == 0 && bytes * 2 >= session_pace_bound(s) &&
	    took < SESSION_RATE_NS) {
		/* Slow start: a full batch came back within the sampling
		 * time, so the link carries more. */
		size_t b = 2 * s->batch_bytes;

		s->batch_bytes = b > WIRE_BATCH_BYTES ? WIRE_BATCH_BYTES : b;
	}
	if (took >= SESSION_RATE_NS && (!s->busy_held ||
	    s->busy_bytes < session_pace_bound(s))) {
		/* The writer, not the link, set the pace: no sample. */
		s->busy_ns = now;
		s->busy_bytes = 0;
		s->busy_held = 0;
	} else if (took >= SESSION_RATE_NS) {
		sample = (double)s->busy_bytes * 1e9 / (double)took;
		s->rate = s->rate == 0 ? sample : 0.75 * s->rate +
		    0.25 * sample;
		pace_resize(s, session_pace_bound(s));
		s->busy_ns = now;
		s->busy_bytes = 0;
		s->busy_held = 0;
		return 1;
	}
	return 0;
}

/* ---- sending ---------------------------------------------------------- */

/* Whether one more batch may go: the pace, and SESSION_MAX_UNACKED. */
static int
send_room(struct sync_session *s)
{
	return pace_room(s) &&
	    s->batch_out - s->batch_acked < SESSION_MAX_UNACKED;
}

/* Fills rd's limits for the next batch. */
static void
read_limits(struct sync_session *s, struct session_read *rd,
    unsigned max_commits)
{
	rd->batch = s->batch_out + 1;
	rd->max_commits = max_commits;
	rd->max_bytes = session_pace_bound(s);
	s->reading = 1;
}

/* Asks for the commits the peer wanted by seq, SESSION_WANTS_READ at most. */
static void
read_wants(struct sync_session *s, struct session_read *rd)
{
	size_t i, n = s->nwants < SESSION_WANTS_READ ? s->nwants :
	    SESSION_WANTS_READ;

	rd->r = xcalloc(n, sizeof(*rd->r));
	for (i = 0; i < n; i++) {
		memcpy(rd->r[i].origin, s->wants[i].origin, PROTO_KEY_LEN);
		rd->r[i].from = rd->r[i].to = s->wants[i].seq;
	}
	rd->nr = n;
	memmove(s->wants, s->wants + n, (s->nwants - n) * sizeof(*s->wants));
	s->nwants -= n;
	rd->exact = 1;
	read_limits(s, rd, (unsigned)n);
}

/* Appends origin's range past what the peer has, when it lacks any. */
static int
read_range(const struct sync_session *s, struct session_read *rd,
    const struct vv_entry *e)
{
	uint64_t have = vv_get(&s->theirs, e->origin);
	struct session_range *r;

	if (e->seq <= have || !session_allows(s, e->origin))
		return 0;
	if (rd->r == NULL)
		rd->r = xreallocarray(NULL, s->ours->n + 1, sizeof(*rd->r));
	r = &rd->r[rd->nr++];
	memcpy(r->origin, e->origin, PROTO_KEY_LEN);
	r->from = have + 1;
	r->to = e->seq;
	r->last = 0;
	return 1;
}

/* Decides what to send next: see session.h. */
enum session_action
session_next(struct sync_session *s, struct session_read *rd)
{
	const struct vv *ours = s->ours;
	size_t k, n = ours->n;
	int found;

	memset(rd, 0, sizeof(*rd));
	if (!s->got_heads || !s->heads_sent || s->reading || !send_room(s))
		return SESSION_IDLE;
	/* Fork evidence first: it is small and rare. */
	if (s->nextra > 0)
		return SESSION_SEND_EXTRA;
	if (s->nwants > 0) {
		read_wants(s, rd);
		return SESSION_READ;
	}
	/*
	 * The admin log first and alone: it says who may write the rest.
	 * While the peer lacks admin commits, a batch holds nothing else:
	 * however large one is, no other origin's commit can overtake the
	 * admin commit that allows it.
	 */
	k = vv_find(ours, s->admin, &found);
	if (!found || !read_range(s, rd, &ours->e[k])) {
		/* The others take turns, from rr on. */
		for (k = 0; k < n; k++) {
			const struct vv_entry *e = &ours->e[(s->rr + k) % n];

			if (memcmp(e->origin, s->admin, PROTO_KEY_LEN) != 0)
				(void)read_range(s, rd, e);
		}
	}
	if (rd->nr == 0)
		return SESSION_IDLE;
	s->rr = (s->rr + 1) % n;
	read_limits(s, rd, s->batch_commits);
	return SESSION_READ;
}

/* Returns 1 when rd reads the admin log and nothing else. */
int
session_read_admin_only(const struct sync_session *s,
    const struct session_read *rd)
{
	return !rd->exact && rd->nr == 1 && memcmp(rd->r[0].origin,
	    s->admin, PROTO_KEY_LEN) == 0;
}

/* Returns 1 when the commit goes into the batch being read. */
int
session_read_fits(const struct session_read *rd,
    const struct session_range *r, size_t n, size_t size, uint64_t seq,
    size_t elen)
{
	if (seq > r->to || n >= rd->max_commits)
		return 0;
	return n == 0 || size + elen <= rd->max_bytes;
}

/* Notes what the read's commits tell of the peer; ends the read. */
void
session_read_done(struct sync_session *s, const struct session_read *rd,
    size_t n)
{
	size_t i;

	s->reading = 0;
	if (rd->exact)
		return;
	for (i = 0; i < rd->nr; i++)
		if (n > 0 && rd->r[i].last != 0)
			vv_raise(&s->theirs, rd->r[i].origin, rd->r[i].last);
		else if (n == 0)
			/* Nothing where the heads said: wait for news. */
			vv_raise(&s->theirs, rd->r[i].origin, rd->r[i].to);
}

/* Ends the read without its commits. */
void
session_read_cancel(struct sync_session *s)
{
	s->reading = 0;
}

/* Counts a batch sent in flight; a first one opens a busy period. */
void
session_sent(struct sync_session *s, uint64_t batch, size_t bytes, size_t n,
    uint64_t now_ns)
{
	if (s->inflight == 0) {
		s->busy_ns = now_ns;
		s->busy_bytes = 0;
		s->busy_held = 0;
	}
	s->batch_out = batch;
	s->ring[batch % SESSION_MAX_UNACKED] = bytes;
	s->ring_n[batch % SESSION_MAX_UNACKED] = (uint32_t)n;
	s->inflight += bytes;
	s->inflight_commits += n;
	s->sent_plain += bytes;
	s->tx_commits += n;
}

/* Packs the fork evidence as the next batch; empties the queue. */
uint64_t
session_extra_pack(struct sync_session *s, struct proto_enc *m, size_t *n)
{
	uint64_t batch = s->batch_out + 1;
	size_t i;

	wire_pack_commits_begin(m, batch, s->nextra);
	for (i = 0; i < s->nextra; i++)
		proto_bundle_item(m, s->extra[i].e, s->extra[i].elen,
		    s->extra[i].sig);
	*n = s->nextra;
	for (i = 0; i < s->nextra; i++)
		free(s->extra[i].e);
	s->nextra = 0;
	return batch;
}

/* Queues a copy of a fork commit, unless SESSION_MAX_EXTRA are queued. */
void
session_queue_extra(struct sync_session *s, const uint8_t *e, size_t elen,
    const uint8_t *sig)
{
	struct session_extra *x;

	if (s->nextra >= SESSION_MAX_EXTRA)
		return;
	if (s->extra == NULL)
		s->extra = xcalloc(SESSION_MAX_EXTRA, sizeof(*s->extra));
	x = &s->extra[s->nextra++];
	x->e = xmalloc(elen);
	memcpy(x->e, e, elen);
	x->elen = elen;
	memcpy(x->sig, sig, PROTO_SIG_LEN);
}

/* ---- the peer's messages ---------------------------------------------- */

/* Takes HEADS once: the peer has what they say. */
int
session_on_heads(struct sync_session *s, const struct wire_head *h,
    size_t n, const char **why)
{
	size_t i;

	if (s->got_heads) {
		*why = "protocol: HEADS twice";
		return -1;
	}
	for (i = 0; i < n; i++)
		vv_raise(&s->theirs, h[i].origin, h[i].seq);
	s->got_heads = 1;
	return 0;
}

/* Takes the ACK of the oldest batch in flight, and only that. */
int
session_on_ack(struct sync_session *s, uint64_t batch, uint64_t now_ns,
    const char **why)
{
	size_t bytes;

	if (batch != s->batch_acked + 1 || batch > s->batch_out) {
		*why = "protocol: ACK of a batch not awaiting one";
		return -1;
	}
	s->batch_acked = batch;
	bytes = s->ring[batch % SESSION_MAX_UNACKED];
	s->inflight -= bytes;
	s->inflight_commits -= s->ring_n[batch % SESSION_MAX_UNACKED];
	return pace_acked(s, bytes, now_ns);
}

/* Queues the wanted commits in scope; refuses past the bound. */
int
session_on_want(struct sync_session *s, const struct wire_head *h, size_t n,
    const char **why)
{
	size_t i;

	if (s->nwants + n > SESSION_MAX_WANTS) {
		*why = "protocol: too many wants";
		return -1;
	}
	if (s->wants == NULL)
		s->wants = xcalloc(SESSION_MAX_WANTS, sizeof(*s->wants));
	for (i = 0; i < n; i++) {
		if (!session_allows(s, h[i].origin))
			continue;
		memcpy(s->wants[s->nwants].origin, h[i].origin,
		    PROTO_KEY_LEN);
		s->wants[s->nwants++].seq = h[i].seq;
	}
	return 0;
}

/* Takes a batch's number: after HEADS, each the one after the last. */
int
session_on_commits(struct sync_session *s, uint64_t batch, const char **why)
{
	if (!s->got_heads) {
		*why = "protocol: COMMITS before HEADS";
		return -1;
	}
	if (batch != s->batch_in + 1) {
		*why = "protocol: batch out of order";
		return -1;
	}
	s->batch_in = batch;
	return 0;
}

/* Raises what the peer has of origin. */
void
session_peer_has(struct sync_session *s, const uint8_t *origin, uint64_t seq)
{
	vv_raise(&s->theirs, origin, seq);
}

/* Packs the ACK of an applied batch. */
void
session_applied(struct sync_session *s, uint64_t batch, uint64_t applied,
    uint64_t refused, struct proto_enc *m)
{
	(void)s;
	wire_pack_ack(m, batch, applied, refused);
}

/* Returns 1 for a head we hold at or past, in the peer's scope. */
int
session_head_checkable(const struct sync_session *s, const uint8_t *origin,
    uint64_t seq)
{
	return seq != 0 && seq <= vv_get(s->ours, origin) &&
	    session_allows(s, origin);
}

/* Packs a WANT of at most WIRE_MAX_WANTS of w; notes them asked for. */
size_t
session_pack_want(struct sync_session *s, const struct session_want *w,
    size_t n, struct proto_enc *m)
{
	size_t i;

	if (n > WIRE_MAX_WANTS)
		n = WIRE_MAX_WANTS;
	wire_pack_want_begin(m, n);
	for (i = 0; i < n; i++) {
		wire_pack_want(m, w[i].origin, w[i].seq);
		vv_raise(&s->wanted, w[i].origin, 1);
	}
	return n;
}

/* Returns 1 when a WANT for origin went out on this session. */
int
session_wanted(const struct sync_session *s, const uint8_t *origin)
{
	return vv_get(&s->wanted, origin) != 0;
}
