/*
 * forks.c: finding forks during a sync and passing on the evidence.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

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
void
sync_fork_check(struct conn *c, const struct wire_msg *m)
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
int
sync_on_want(struct conn *c, const struct wire_msg *m, const char **why)
{
	if (session_on_want(&c->s, m->heads, m->nheads, why) != 0)
		return -1;
	sync_pump(c);
	return 0;
}
