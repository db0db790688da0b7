/*
 * audit.c: the store's integrity, proven from what it holds.
 *
 * store_audit() re-checks every stored commit (decoding, key, chain,
 * signature), the heads against the log, the history against the applied
 * ops, and the digest against the records; then, when asked, it replays
 * the log into an empty scratch store and compares the records that the
 * merge derives with the stored ones, byte for byte.  The merge is
 * deterministic (any order of the same commits gives the same records), so
 * any difference means a record was altered, or derived from something
 * other than the log.  store_forks() walks the forks kept as evidence,
 * each beside the commit this node applied at the same seq.
 *
 * Everything here reads the store in one read transaction; the scratch
 * store is a separate LMDB environment in a temporary directory, written
 * by the same apply code that accepts commits from peers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_derived.h"

/* Commits applied to the scratch store per write transaction. */
#define REPLAY_BATCH 512

/* A commit to replay: its bytes point into the audited store's map. */
struct replay_item {
	const uint8_t *origin;     /* the key's origin */
	uint64_t seq;
	uint64_t recv_ms;
	const uint8_t *e;
	size_t elen;
	const uint8_t *sig;
};

/* A faulted commit, to leave it and its history out of later checks. */
struct bad_commit {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
};

struct audit {
	struct store *s;
	MDB_txn *txn;
	store_audit_fault_fn fn;
	void *arg;
	struct store_audit_stats *st;
	int faults;
	struct replay_item *items;
	size_t nitems, capitems;
	struct bad_commit *bad;
	size_t nbad, capbad;
	/* The origin being walked. */
	uint8_t origin[PROTO_KEY_LEN];
	int have_origin;
	uint64_t last_seq;         /* seq of the last stored commit seen */
	uint64_t last_hlc;
	uint8_t last_hash[PROTO_HASH_LEN];
	int last_bad;              /* the last commit's hash cannot be trusted */
	int origin_bad;            /* some commit of this origin faulted */
	int unread;                /* a table could not be read to its end */
};

/* Reports one fault. */
static void
fault(struct audit *a, enum store_audit_kind kind, const uint8_t *origin,
    uint64_t seq, const uint8_t *id, const char *why)
{
	struct store_audit_fault f;

	f.kind = kind;
	f.origin = origin;
	f.seq = seq;
	f.id = id;
	f.why = why;
	a->faults++;
	a->fn(&f, a->arg);
}

/* Reports a fault found by audit_derived.c; ctx is the audit. */
static void
derived_report(void *ctx, enum store_audit_kind kind, const uint8_t *origin,
    uint64_t seq, const uint8_t *id, const char *why)
{
	fault(ctx, kind, origin, seq, id, why);
}

/* Reports a fault of a commit and remembers the commit as bad. */
static void
commit_fault(struct audit *a, const uint8_t *origin, uint64_t seq,
    const char *why)
{
	if (a->nbad == a->capbad) {
		a->capbad = a->capbad ? a->capbad * 2 : 16;
		a->bad = xreallocarray(a->bad, a->capbad, sizeof(*a->bad));
	}
	memcpy(a->bad[a->nbad].origin, origin, PROTO_KEY_LEN);
	a->bad[a->nbad].seq = seq;
	a->nbad++;
	a->origin_bad = 1;
	fault(a, STORE_AUDIT_COMMIT, origin, seq, NULL, why);
}

/* Returns whether (origin, seq) faulted; bad is in key order. */
static int
is_bad(const struct audit *a, const uint8_t *origin, uint64_t seq)
{
	size_t lo = 0, hi = a->nbad;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(a->bad[mid].origin, origin, PROTO_KEY_LEN);

		if (c == 0)
			c = a->bad[mid].seq < seq ? -1 : a->bad[mid].seq > seq;
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Compares the head of the origin just walked with its last commit. */
static void
check_head(struct audit *a)
{
	uint8_t hash[PROTO_HASH_LEN];
	uint64_t seq, hlc;
	char why[160];

	if (!a->have_origin)
		return;
	a->st->origins++;
	if (store_head_get(a->s, a->txn, a->origin, &seq, hash, &hlc) != 0) {
		fault(a, STORE_AUDIT_HEAD, a->origin, a->last_seq, NULL,
		    "the origin has stored commits but no head");
		return;
	}
	if (seq != a->last_seq) {
		snprintf(why, sizeof(why), "the head says seq %llu but the "
		    "log ends at seq %llu", (unsigned long long)seq,
		    (unsigned long long)a->last_seq);
		fault(a, STORE_AUDIT_HEAD, a->origin, seq, NULL, why);
	} else if (!a->last_bad && memcmp(hash, a->last_hash,
	    PROTO_HASH_LEN) != 0)
		fault(a, STORE_AUDIT_HEAD, a->origin, seq, NULL,
		    "the head's hash is not the hash of the last commit");
	else if (!a->last_bad && hlc != a->last_hlc)
		fault(a, STORE_AUDIT_HEAD, a->origin, seq, NULL,
		    "the head's clock is not the last commit's");
}

/* Checks that each op of a verified commit is in its record's history. */
static void
check_ops_history(struct audit *a, const struct proto_commit *c)
{
	uint8_t key[LAY_HIST_KEY_LEN];
	MDB_val k = { sizeof(key), key }, d;
	char why[160];
	uint32_t i;

	for (i = 0; i < c->nops; i++) {
		lay_hist_key(key, c->ops[i].id, c->hlc, c->origin, c->seq, i);
		a->st->ops++;
		if (mdb_get(a->txn, a->s->dbi[DB_HISTORY], &k, &d) == 0)
			continue;
		snprintf(why, sizeof(why), "op %u of the commit is not in its "
		    "record's history: the record was not derived from it", i);
		fault(a, STORE_AUDIT_HISTORY, c->origin, c->seq, c->ops[i].id,
		    why);
	}
}

/* Checks one stored commit against its key and its predecessor. */
static void
check_commit(struct audit *a, const MDB_val *k, const MDB_val *d)
{
	const uint8_t *key = k->mv_data, *v = d->mv_data;
	const uint8_t *origin = key, *e;
	size_t elen;
	uint64_t seq;
	struct proto_commit c;
	const char *cause = NULL;
	uint8_t hash[PROTO_HASH_LEN];
	char why[200];
	int bad = 0;

	a->st->commits++;
	if (k->mv_size != LAY_SEQKEY_LEN) {
		fault(a, STORE_AUDIT_COMMIT, NULL, 0, NULL, "the commits "
		    "database holds a key that is not an origin and a seq");
		return;
	}
	seq = lay_seqkey_seq(key);
	if (!a->have_origin || memcmp(a->origin, origin, PROTO_KEY_LEN) != 0) {
		check_head(a);
		memcpy(a->origin, origin, PROTO_KEY_LEN);
		a->have_origin = 1;
		a->last_seq = 0;
		a->last_hlc = 0;
		a->last_bad = 0;
		a->origin_bad = 0;
	}
	if (seq != a->last_seq + 1) {
		/* Name the first missing commit; the next is checked as usual
		 * but its prev cannot be. */
		snprintf(why, sizeof(why), "missing from the log: the stored "
		    "chain jumps from seq %llu to seq %llu",
		    (unsigned long long)a->last_seq, (unsigned long long)seq);
		commit_fault(a, origin, a->last_seq + 1, why);
		a->last_bad = 1;
	}
	if (d->mv_size <= LAY_COMMIT_E) {
		commit_fault(a, origin, seq, "the stored value is too short to "
		    "hold a commit");
		a->last_seq = seq;
		a->last_bad = 1;
		return;
	}
	e = lay_commit_e(v);
	elen = lay_commit_elen(d->mv_size);
	if (proto_commit_decode(&c, e, elen, &cause) != 0) {
		snprintf(why, sizeof(why), "the stored bytes do not decode: %s",
		    cause != NULL ? cause : "malformed");
		commit_fault(a, origin, seq, why);
		a->last_seq = seq;
		a->last_bad = 1;
		return;
	}
	if (memcmp(c.origin, origin, PROTO_KEY_LEN) != 0 || c.seq != seq) {
		commit_fault(a, origin, seq, "the stored commit is of another "
		    "origin or seq than the one it is filed under");
		bad = 1;
	} else if (proto_verify(lay_commit_sig(v), e, elen,
	    a->s->info.network, c.origin) != 0) {
		commit_fault(a, origin, seq, "the signature does not verify: "
		    "the stored bytes were altered");
		bad = 1;
	} else if (seq > 1 && !a->last_bad && (c.prev == NULL ||
	    memcmp(c.prev, a->last_hash, PROTO_HASH_LEN) != 0)) {
		commit_fault(a, origin, seq, "prev is not the hash of the "
		    "stored commit before it");
		bad = 1;
	} else if (seq > 1 && !a->last_bad && c.hlc <= a->last_hlc) {
		commit_fault(a, origin, seq, "the clock does not move forward "
		    "from the commit before it");
		bad = 1;
	}
	proto_hash(hash, e, elen, lay_commit_sig(v));
	if (!bad) {
		check_ops_history(a, &c);
		if (!a->origin_bad) {
			struct replay_item *it;

			if (a->nitems == a->capitems) {
				a->capitems = a->capitems ? a->capitems * 2 :
				    256;
				a->items = xreallocarray(a->items, a->capitems,
				    sizeof(*a->items));
			}
			it = &a->items[a->nitems++];
			it->origin = origin;
			it->seq = seq;
			it->recv_ms = lay_commit_recv(v);
			it->sig = lay_commit_sig(v);
			it->e = e;
			it->elen = elen;
		}
	}
	memcpy(a->last_hash, hash, PROTO_HASH_LEN);
	a->last_seq = seq;
	a->last_hlc = c.hlc;
	a->last_bad = bad;
	proto_commit_free(&c);
}

/* Checks that every head names a stored commit. */
static void
check_heads_stored(struct audit *a)
{
	MDB_cursor *cur;
	MDB_val k, d, ck, cd;
	uint8_t key[LAY_SEQKEY_LEN];
	char why[160];
	uint64_t seq;
	int rc;

	if (mdb_cursor_open(a->txn, a->s->dbi[DB_HEADS], &cur) != 0) {
		a->unread = 1;
		return;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size != PROTO_KEY_LEN || d.mv_size != LAY_HEAD_LEN) {
			fault(a, STORE_AUDIT_HEAD, NULL, 0, NULL, "the heads "
			    "database holds an entry of the wrong size");
			continue;
		}
		seq = lay_head_seq(d.mv_data);
		lay_seqkey(key, k.mv_data, seq);
		ck.mv_size = sizeof(key);
		ck.mv_data = key;
		if (mdb_get(a->txn, a->s->dbi[DB_COMMITS], &ck, &cd) == 0)
			continue;
		snprintf(why, sizeof(why), "the head names seq %llu, which is "
		    "not stored", (unsigned long long)seq);
		fault(a, STORE_AUDIT_HEAD, k.mv_data, seq, NULL, why);
	}
	if (rc != MDB_NOTFOUND)
		a->unread = 1;
	mdb_cursor_close(cur);
}

/*
 * Looks at every history entry: each must name a stored commit and, when
 * that commit verifies, one of its ops on the same record at the same
 * clock.  Only run when the entries outnumber the ops found (decoding a
 * commit per entry is slow).
 */
static void
check_history_entries(struct audit *a)
{
	MDB_cursor *cur;
	MDB_val k, d, ck, cd;
	struct proto_commit c;
	uint8_t cached[LAY_SEQKEY_LEN], ckey[LAY_SEQKEY_LEN];
	int have = 0, rc;

	memset(&c, 0, sizeof(c));
	if (mdb_cursor_open(a->txn, a->s->dbi[DB_HISTORY], &cur) != 0) {
		a->unread = 1;
		return;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *key = k.mv_data, *origin;
		uint64_t seq;
		uint32_t op;
		const char *why = NULL;

		if (k.mv_size != LAY_HIST_KEY_LEN) {
			fault(a, STORE_AUDIT_HISTORY, NULL, 0, NULL, "the "
			    "history database holds a key of the wrong size");
			continue;
		}
		origin = lay_hist_origin(key);
		seq = lay_hist_seq(key);
		op = lay_hist_op(key);
		if (is_bad(a, origin, seq))
			continue;
		lay_hist_commit(ckey, key);
		ck.mv_size = sizeof(ckey);
		ck.mv_data = ckey;
		if (mdb_get(a->txn, a->s->dbi[DB_COMMITS], &ck, &cd) != 0) {
			fault(a, STORE_AUDIT_HISTORY, origin, seq, key,
			    "the record's history names a commit that is not "
			    "stored");
			continue;
		}
		if (!have || memcmp(cached, ckey, sizeof(cached)) != 0) {
			proto_commit_free(&c);
			memset(&c, 0, sizeof(c));
			have = 0;
			if (cd.mv_size <= LAY_COMMIT_E ||
			    proto_commit_decode(&c, lay_commit_e(cd.mv_data),
			    lay_commit_elen(cd.mv_size), NULL) != 0)
				continue;
			memcpy(cached, ckey, sizeof(cached));
			have = 1;
		}
		if (op >= c.nops)
			why = "the record's history names an op its commit "
			    "does not have";
		else if (memcmp(c.ops[op].id, key, PROTO_ID_LEN) != 0)
			why = "the record's history names an op of another "
			    "record";
		else if (c.hlc != lay_hist_hlc(key))
			why = "the record's history gives another clock than "
			    "its commit's";
		if (why != NULL)
			fault(a, STORE_AUDIT_HISTORY, origin, seq, key, why);
	}
	if (have)
		proto_commit_free(&c);
	if (rc != MDB_NOTFOUND)
		a->unread = 1;
	mdb_cursor_close(cur);
}

/* Recomputes the digest from the stored records and compares. */
static void
check_digest(struct audit *a)
{
	MDB_cursor *cur;
	MDB_val k, d;
	uint8_t digest[PROTO_HASH_LEN] = { 0 }, stored[PROTO_HASH_LEN];
	int rc;

	if (mdb_cursor_open(a->txn, a->s->dbi[DB_RECORDS], &cur) != 0) {
		a->unread = 1;
		return;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		a->st->records++;
		if (k.mv_size == PROTO_ID_LEN)
			store_digest_mix(digest, k.mv_data, d.mv_data, d.mv_size);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		/* Not every record was read: no digest to compare. */
		a->unread = 1;
		return;
	}
	if (store_meta_get(a->txn, a->s->dbi[DB_META], "digest", stored,
	    sizeof(stored), NULL) != 0)
		memset(stored, 0, sizeof(stored));
	if (memcmp(digest, stored, PROTO_HASH_LEN) != 0)
		fault(a, STORE_AUDIT_DIGEST, NULL, 0, NULL, "the stored digest "
		    "is not the digest of the stored records");
}

/* Orders replay items as this node received them, then by key. */
static int
item_cmp(const void *x, const void *y)
{
	const struct replay_item *p = x, *q = y;
	int c;

	if (p->recv_ms != q->recv_ms)
		return p->recv_ms < q->recv_ms ? -1 : 1;
	if ((c = memcmp(p->origin, q->origin, PROTO_KEY_LEN)) != 0)
		return c;
	return p->seq < q->seq ? -1 : p->seq > q->seq;
}

/* Opens an empty scratch store in a new temporary directory. */
static int
scratch_open(struct store *scr, const struct store *s, char **dirp,
    char **cause)
{
	const char *tmp = getenv("TMPDIR");
	MDB_txn *txn;
	char name[8];
	int rc, i;

	memset(scr, 0, sizeof(*scr));
	*dirp = xasprintf("%s/cafe-audit.XXXXXX", tmp != NULL && *tmp != '\0' ?
	    tmp : "/tmp");
	if (mkdtemp(*dirp) == NULL) {
		*cause = xasprintf("%s: cannot make a scratch directory: %s",
		    *dirp, strerror(errno));
		free(*dirp);
		*dirp = NULL;
		return CS_EIO;
	}
	memcpy(scr->info.network, s->info.network, PROTO_KEY_LEN);
	scr->dir = *dirp;
	if ((rc = mdb_env_create(&scr->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(scr->env, DB_COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(scr->env, (size_t)64 << 20)) != 0 ||
	    (rc = mdb_env_open(scr->env, *dirp, MDB_NOTLS | MDB_NOSYNC |
	    MDB_NOMETASYNC, 0600)) != 0 ||
	    (rc = mdb_txn_begin(scr->env, NULL, 0, &txn)) != 0)
		goto fail;
	for (i = 0; i < DB_COUNT; i++) {
		snprintf(name, sizeof(name), "db%d", i);
		if ((rc = mdb_dbi_open(txn, name, MDB_CREATE,
		    &scr->dbi[i])) != 0) {
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	if ((rc = mdb_txn_commit(txn)) == 0)
		return 0;
fail:
	*cause = xasprintf("%s: cannot make a scratch store: %s", *dirp,
	    mdb_strerror(rc));
	return CS_EDB;
}

/* Closes the scratch store and removes its directory. */
static void
scratch_close(struct store *scr, char *dir)
{
	char *p;

	if (scr->env != NULL)
		mdb_env_close(scr->env);
	if (dir == NULL)
		return;
	p = xasprintf("%s/data.mdb", dir);
	unlink(p);
	free(p);
	p = xasprintf("%s/lock.mdb", dir);
	unlink(p);
	free(p);
	rmdir(dir);
	free(dir);
}

/* Reports commits the replay left waiting for the admin log. */
static int
replay_waiting(const uint8_t origin[PROTO_KEY_LEN], uint64_t first,
    uint64_t n, const char *why, void *arg)
{
	char msg[260];

	snprintf(msg, sizeof(msg), "replaying the log leaves %llu commits "
	    "waiting from this seq on, which this node accepted: %s",
	    (unsigned long long)n, why);
	fault(arg, STORE_AUDIT_REPLAY, origin, first, NULL, msg);
	return 0;
}

/*
 * Applies the items to the scratch store, in rounds: a commit refused for
 * a gap (its predecessor came later by this node's receive times, which a
 * clock stepping back can do) waits for the next round.  Reports each
 * commit refused for another reason, and those still waiting when a round
 * makes no progress.
 */
static int
replay_apply(struct audit *a, struct store *scr, char **cause)
{
	struct store_item *si;
	size_t pending = a->nitems, i, j, n, kept;
	char why[220];
	int rc = 0;

	si = xcalloc(REPLAY_BATCH, sizeof(*si));
	while (pending > 0) {
		/* Items to retry move to the front; kept <= i + j always. */
		kept = 0;
		for (i = 0; i < pending; i += n) {
			n = pending - i < REPLAY_BATCH ? pending - i :
			    REPLAY_BATCH;
			for (j = 0; j < n; j++) {
				const struct replay_item *it = &a->items[i + j];

				memset(&si[j], 0, sizeof(si[j]));
				si[j].e = it->e;
				si[j].elen = it->elen;
				si[j].sig = it->sig;
				/* Checked by check_commit(). */
				si[j].sig_ok = 1;
			}
			if ((rc = store_apply(scr, si, n, cause)) != 0)
				goto out;
			for (j = 0; j < n; j++) {
				const struct replay_item *it = &a->items[i + j];

				/* A commit replayed before the admin commit
				 * that allows it waits, and lands with it. */
				if (si[j].result == 0 ||
				    si[j].result == CS_EPENDING)
					continue;
				if (si[j].result == CS_ESEQ) {
					a->items[kept++] = *it;
					continue;
				}
				snprintf(why, sizeof(why), "replaying the log "
				    "refuses it: %s", si[j].cause);
				fault(a, STORE_AUDIT_REPLAY, it->origin,
				    it->seq, NULL, why);
			}
		}
		if (kept == pending) {
			for (i = 0; i < kept; i++)
				fault(a, STORE_AUDIT_REPLAY, a->items[i].origin,
				    a->items[i].seq, NULL, "replaying the log "
				    "cannot apply it: a commit before it is "
				    "missing or was refused");
			break;
		}
		pending = kept;
	}
	/* Whatever still waits, this node accepted, and replay did not. */
	store_pending(scr, replay_waiting, a);
out:
	free(si);
	return rc;
}

/* Reports one record the replay derives otherwise. */
static void
record_diff(enum audit_diff d, const MDB_val *k, void *arg)
{
	fault(arg, STORE_AUDIT_RECORD, NULL, 0, k->mv_data,
	    d == AUDIT_EXTRA ? "stored, but no commit in the log makes it" :
	    d == AUDIT_MISSING ? "the log makes it, but it is not stored" :
	    "the stored record differs from the one the log makes");
}

/*
 * Compares the stored records with the scratch store's.  Returns 0, or
 * CS_EDB with *cause when either cannot be read to the end: an audit that
 * could not compare must not pass for one that found nothing.
 */
static int
replay_compare(struct audit *a, struct store *scr, char **cause)
{
	MDB_txn *stx;
	int rc;

	if (store_read_begin(scr, &stx) != 0) {
		*cause = xstrdup("cannot read the replayed copy to compare");
		return CS_EDB;
	}
	rc = audit_table_diff(a->txn, a->s->dbi[DB_RECORDS], stx,
	    scr->dbi[DB_RECORDS], record_diff, a);
	mdb_txn_abort(stx);
	if (rc != 0)
		*cause = xstrdup("cannot read the records database to the end "
		    "to compare it");
	return rc;
}

/* Replays the verified commits into a scratch store and compares. */
static int
replay(struct audit *a, char **cause)
{
	struct store scr;
	char *dir = NULL;
	uint64_t t0 = store_now_ms();
	int rc;

	if ((rc = scratch_open(&scr, a->s, &dir, cause)) != 0) {
		scratch_close(&scr, dir);
		return rc;
	}
	/* An empty log has no items array: qsort() must not see NULL. */
	if (a->nitems > 0)
		qsort(a->items, a->nitems, sizeof(*a->items), item_cmp);
	if ((rc = replay_apply(a, &scr, cause)) == 0 &&
	    (rc = replay_compare(a, &scr, cause)) == 0 &&
	    (rc = audit_derived_compare(a->s, a->txn, &scr, derived_report, a,
	    cause)) == 0)
		a->st->replayed = 1;
	scratch_close(&scr, dir);
	a->st->replay_ms = store_now_ms() - t0;
	return rc;
}

/* Checks the store's integrity. */
int
store_audit(struct store *s, int replay_log, store_audit_fault_fn fn,
    void *arg, struct store_audit_stats *st)
{
	char *cause = NULL;
	struct audit a;
	MDB_cursor *cur;
	MDB_val k, d;
	MDB_stat ms;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(st, 0, sizeof(*st));
	a.s = s;
	a.fn = fn;
	a.arg = arg;
	a.st = st;
	if (store_read_begin(s, &a.txn) != 0)
		return CS_EDB;
	/* A damaged page stops everything: the rest would read through it. */
	if (audit_pages(s, derived_report, &a) != 0 ||
	    audit_structure(s, a.txn, derived_report, &a) != 0) {
		mdb_txn_abort(a.txn);
		return a.faults;
	}
	if (mdb_cursor_open(a.txn, s->dbi[DB_COMMITS], &cur) != 0) {
		mdb_txn_abort(a.txn);
		return CS_EDB;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		check_commit(&a, &k, &d);
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		/* The log could not be read to its end: nothing said about
		 * it would hold. */
		a.unread = 1;
		goto out;
	}
	check_head(&a);
	check_heads_stored(&a);
	audit_received(s, a.txn, store_now_ms(), derived_report, &a);
	if (mdb_stat(a.txn, s->dbi[DB_HISTORY], &ms) == 0)
		st->history = ms.ms_entries;
	if (st->history != st->ops)
		check_history_entries(&a);
	check_digest(&a);
	/* A table read short: what the audit found is not all. */
	if (!a.unread && replay_log && replay(&a, &cause) != 0) {
		snprintf(st->replay_error, sizeof(st->replay_error), "%s",
		    cause != NULL ? cause : "the scratch store failed");
		free(cause);
	}
out:
	mdb_txn_abort(a.txn);
	free(a.items);
	free(a.bad);
	return a.unread ? CS_EDB : a.faults;
}

/* Decodes a stored commit value (recv_ms sig E) into sc and c. */
static int
commit_of(const MDB_val *d, struct store_commit *sc, struct proto_commit *c,
    uint8_t hash[PROTO_HASH_LEN])
{
	const uint8_t *v = d->mv_data;

	if (d->mv_size <= LAY_COMMIT_E)
		return CS_EDECODE;
	sc->recv_ms = lay_commit_recv(v);
	sc->sig = lay_commit_sig(v);
	sc->e = lay_commit_e(v);
	sc->elen = lay_commit_elen(d->mv_size);
	if (proto_commit_decode(c, sc->e, sc->elen, NULL) != 0)
		return CS_EDECODE;
	proto_hash(hash, sc->e, sc->elen, sc->sig);
	sc->c = c;
	sc->hash = hash;
	return 0;
}

/* Walks the forks kept as evidence. */
int
store_forks(struct store *s, store_fork_fn fn, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d, ck, cd;
	int rc, n = 0, stop = 0;

	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	if (mdb_cursor_open(txn, s->dbi[DB_FORKS], &cur) != 0) {
		mdb_txn_abort(txn);
		return CS_EDB;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && !stop;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *key = k.mv_data;
		struct store_fork f;
		struct store_commit fsc, ssc;
		struct proto_commit fc, stc;
		uint8_t fhash[PROTO_HASH_LEN], shash[PROTO_HASH_LEN];
		int have_f = 0, have_s = 0;

		if (k.mv_size != LAY_FORK_KEY_LEN)
			continue;
		memset(&f, 0, sizeof(f));
		memset(&fc, 0, sizeof(fc));
		memset(&stc, 0, sizeof(stc));
		f.origin = key;
		f.seq = lay_seqkey_seq(key);
		/* The evidence is sig and E, without a receive time. */
		if (d.mv_size > LAY_FORK_E) {
			fsc.recv_ms = 0;
			fsc.sig = lay_fork_sig(d.mv_data);
			fsc.e = lay_fork_e(d.mv_data);
			fsc.elen = lay_fork_elen(d.mv_size);
			if (proto_commit_decode(&fc, fsc.e, fsc.elen,
			    NULL) == 0) {
				proto_hash(fhash, fsc.e, fsc.elen, fsc.sig);
				fsc.c = &fc;
				fsc.hash = fhash;
				have_f = 1;
			}
		}
		if (have_f) {
			f.fork = &fsc;
			f.evidence_ok = memcmp(fhash, lay_fork_key_hash(key),
			    PROTO_HASH_LEN) == 0 && memcmp(fc.origin, key,
			    PROTO_KEY_LEN) == 0 && fc.seq == f.seq &&
			    proto_verify(fsc.sig, fsc.e, fsc.elen,
			    s->info.network, fc.origin) == 0;
			if (!f.evidence_ok)
				f.why = "the evidence does not verify: its "
				    "signature, origin, seq or hash is wrong";
		} else
			f.why = "the evidence does not decode";
		/* The fork key starts with the commits key of its seq. */
		ck.mv_size = LAY_SEQKEY_LEN;
		ck.mv_data = (void *)(uintptr_t)key;
		if (mdb_get(txn, s->dbi[DB_COMMITS], &ck, &cd) == 0 &&
		    commit_of(&cd, &ssc, &stc, shash) == 0) {
			f.stored = &ssc;
			have_s = 1;
		}
		n++;
		stop = fn(&f, arg);
		if (have_f)
			proto_commit_free(&fc);
		if (have_s)
			proto_commit_free(&stc);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return n;
}
