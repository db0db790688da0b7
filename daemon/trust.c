/*
 * trust.c: the daemon's copy of the admin log.
 *
 * The handshake and the choice of what each peer may read run on the
 * loop, which never reads the store, so the enrolled members (role, site,
 * sites, revocation) are kept here, re-read by a store job at start and
 * whenever the admin's log may have moved.  A peer whose key is revoked
 * cannot complete a handshake, and a connected one is cut as soon as its
 * revocation arrives.  The rules themselves are storage's
 * (store_scope_allows() in storage/trust.c), shared with bundle export.
 *
 * A hub serves every site at once, and asks who may read an origin for
 * every origin of every connection whenever its heads move: the members
 * are kept sorted by key (found by bisection), and each connection holds
 * what its peer may read, worked out once per change of the admin log
 * (trust_set_reader()), so one question costs a flag or a bisection of a
 * few origins, never a walk of a thousand members.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

struct members_job {
	struct job j;
	struct store_member *m;
	size_t n, cap;
};

/* Copies a member, its sites included. */
static void
member_copy(struct store_member *dst, const struct store_member *src)
{
	*dst = *src;
	dst->sites = NULL;
	if (src->nsites > 0) {
		dst->sites = xcalloc(src->nsites, sizeof(*dst->sites));
		memcpy(dst->sites, src->sites,
		    src->nsites * sizeof(*dst->sites));
	}
}

static void
members_free(struct store_member *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_member_free(&m[i]);
	free(m);
}

static int
members_one(const struct store_member *m, void *arg)
{
	struct members_job *mj = arg;

	if (mj->n == mj->cap) {
		mj->cap = mj->cap ? mj->cap * 2 : 16;
		mj->m = xreallocarray(mj->m, mj->cap, sizeof(*mj->m));
	}
	member_copy(&mj->m[mj->n++], m);
	return 0;
}

static void
members_run(struct job *j)
{
	store_members(worker_store(), members_one, j);
}

static int
member_cmp(const void *a, const void *b)
{
	return memcmp(((const struct store_member *)a)->key,
	    ((const struct store_member *)b)->key, PROTO_KEY_LEN);
}

static void
members_done(struct job *j)
{
	struct members_job *mj = (struct members_job *)j;
	struct conn *c;
	char k[17];

	D.keys_loading = 0;
	if (!j->ran || D.stopping) {
		members_free(mj->m, mj->n);
		free(mj);
		return;
	}
	members_free(D.members, D.nmembers);
	D.members = mj->m;
	D.nmembers = mj->n;
	if (D.nmembers > 1)
		qsort(D.members, D.nmembers, sizeof(*D.members), member_cmp);
	free(mj);
	for (c = D.conns; c != NULL; c = c->next) {
		if (!c->open || c->closing)
			continue;
		/* A revoked key loses its connection at once. */
		if (trust_key_state(c->w.peer) < 0) {
			log_warnx("%s: its key was revoked",
			    c->peer ? c->peer->name : log_key(c->w.peer, k));
			conn_close(c, "key revoked by the network's admin");
			continue;
		}
		/* A changed role or scope counts from now on. */
		trust_set_reader(c);
		sync_pump(c);
	}
	if (D.keys_again) {
		D.keys_again = 0;
		trust_reload();
	}
}

/* Re-reads the admin log's members on the store thread. */
void
trust_reload(void)
{
	struct members_job *mj;

	if (D.keys_loading) {
		D.keys_again = 1;
		return;
	}
	D.keys_loading = 1;
	mj = xcalloc(1, sizeof(*mj));
	mj->j.run = members_run;
	mj->j.done = members_done;
	worker_submit(&mj->j);
}

/* Finds key's member entry (D.members is sorted by key), or NULL. */
static const struct store_member *
member_find(const uint8_t *key)
{
	size_t lo = 0, hi = D.nmembers;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = memcmp(D.members[mid].key, key, PROTO_KEY_LEN);

		if (d == 0)
			return &D.members[mid];
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int
key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PROTO_KEY_LEN);
}

/*
 * Works out what c's reader may read: every log (the admin, a hub, a
 * consultant of all sites), or the few origins store_scope_allows()
 * grants it among the admin, itself and the members, kept sorted.
 */
static void
set_readable(struct conn *c)
{
	const struct store_member *r = &c->reader;
	size_t i;

	free(c->s.scope.set);
	c->s.scope.set = NULL;
	c->s.scope.n = 0;
	c->s.scope.all = r->role == STORE_ROLE_ADMIN ||
	    r->role == STORE_ROLE_HUB ||
	    (r->role == STORE_ROLE_CONSULTANT && r->scope_all);
	if (c->s.scope.all)
		return;
	c->s.scope.set = xreallocarray(NULL, D.nmembers + 2,
	    sizeof(*c->s.scope.set));
	memcpy(c->s.scope.set[c->s.scope.n++], D.info.network, PROTO_KEY_LEN);
	if (memcmp(r->key, D.info.network, PROTO_KEY_LEN) != 0)
		memcpy(c->s.scope.set[c->s.scope.n++], r->key, PROTO_KEY_LEN);
	for (i = 0; i < D.nmembers; i++)
		if (memcmp(D.members[i].key, r->key, PROTO_KEY_LEN) != 0 &&
		    store_scope_allows(r, D.info.network, D.members[i].key,
		    &D.members[i]))
			memcpy(c->s.scope.set[c->s.scope.n++], D.members[i].key,
			    PROTO_KEY_LEN);
	/* Sized to what it holds: a site reads a few logs of thousands. */
	c->s.scope.set = xreallocarray(c->s.scope.set, c->s.scope.n,
	    sizeof(*c->s.scope.set));
	qsort(c->s.scope.set, c->s.scope.n, sizeof(*c->s.scope.set),
	    key_cmp);
}

/* Returns 1 when key is enrolled (or the admin), -1 revoked, 0 neither. */
int
trust_key_state(const uint8_t key[PROTO_KEY_LEN])
{
	const struct store_member *m;

	if (memcmp(key, D.info.network, PROTO_KEY_LEN) == 0)
		return 1;
	if ((m = member_find(key)) == NULL)
		return 0;
	return m->revoked ? -1 : 1;
}

/*
 * Sets what the peer of c is: the admin, an enrolled member, or neither
 * (a configured peer that is not enrolled reads the admin log only).
 */
void
trust_set_reader(struct conn *c)
{
	const struct store_member *m = member_find(c->w.peer);

	store_member_free(&c->reader);
	memset(&c->reader, 0, sizeof(c->reader));
	c->s.scope.all = 0;
	if (memcmp(c->w.peer, D.info.network, PROTO_KEY_LEN) == 0) {
		memcpy(c->reader.key, c->w.peer, PROTO_KEY_LEN);
		c->reader.role = STORE_ROLE_ADMIN;
		c->reader.scope_all = 1;
	} else if (m != NULL)
		member_copy(&c->reader, m);
	else
		memcpy(c->reader.key, c->w.peer, PROTO_KEY_LEN);
	set_readable(c);
}

void
trust_conn_free(struct conn *c)
{
	store_member_free(&c->reader);
	free(c->s.scope.set);
	c->s.scope.set = NULL;
	c->s.scope.n = 0;
}

/*
 * Tells whether the peer of c may receive origin's log: what
 * store_scope_allows() says, from what trust_set_reader() worked out.
 * An origin no member record names (not enrolled, or not yet) is read
 * by the readers of every log alone, as store_scope_allows() has it.
 */
int
trust_allows(const struct conn *c, const uint8_t *origin)
{
	return session_allows(&c->s, origin);
}

/* Returns a member's name for logs, or "member". */
const char *
trust_name(const uint8_t key[PROTO_KEY_LEN])
{
	const struct store_member *m = member_find(key);

	return m != NULL && m->name[0] != '\0' ? m->name : "member";
}

/* Frees the copy (at exit). */
void
trust_free(void)
{
	members_free(D.members, D.nmembers);
	D.members = NULL;
	D.nmembers = 0;
}
