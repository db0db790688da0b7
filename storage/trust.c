/*
 * trust.c: the admin log and who may write what.
 *
 * A network is made by its admin key: the key that is the network id.
 * The admin log is the admin's member records (schema.c, type "member"):
 * one per enrolled key, with its role (hub, site, consultant), the site a
 * site key speaks for, the sites a consultant may read, and a revocation
 * that names the last of the key's commits that stays valid.
 *
 * Every commit that enters the store (from a peer, a bundle, or this
 * node's own writes) passes trust_check() inside the write transaction:
 *
 *   - the admin may write anything;
 *   - any other author must be an enrolled member, and a revoked one only
 *     up to its revoked_after seq: later commits are refused everywhere,
 *     whatever clock they carry, so a stolen key cannot back-date;
 *   - only the admin writes member records;
 *   - a hub writes every other type; a site or consultant only the types
 *     whose schema row names its role (schema.c, writers);
 *   - a site writes only records of its own site; a consultant only
 *     records of sites it may read.
 *
 * The check reads the member records as they stand in the transaction, so
 * admin commits applied earlier in the same batch count: senders put the
 * admin log first.
 */
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

const char *const store_role_names[] = { "none", "admin", "hub", "site",
	"consultant", NULL };

/* Returns a role's name. */
const char *
store_role_name(enum store_role r)
{
	return store_role_names[r];
}

/* Parses an enrolled role's name. */
enum store_role
store_role_parse(const char *s)
{
	int r;

	for (r = STORE_ROLE_HUB; s != NULL && store_role_names[r] != NULL;
	    r++)
		if (strcmp(store_role_names[r], s) == 0)
			return (enum store_role)r;
	return STORE_ROLE_NONE;
}

/* Adds the op creating a member record (storage.h). */
int
store_batch_enroll(struct store_batch *b, const struct store_enroll *e,
    char **cause)
{
	char hex[2 * PROTO_KEY_LEN + 1];
	uint8_t id[PROTO_ID_LEN];
	struct store_kv kv[7];
	size_t n = 0;

	*cause = NULL;
	if (e->role < STORE_ROLE_HUB || e->role > STORE_ROLE_CONSULTANT) {
		*cause = xstrdup("role: must be hub, site or consultant");
		return CS_EUSAGE;
	}
	proto_hex(hex, e->key, PROTO_KEY_LEN);
	kv[n++] = (struct store_kv){ "key", hex };
	kv[n++] = (struct store_kv){ "role", store_role_names[e->role] };
	kv[n++] = (struct store_kv){ "name", e->name };
	kv[n++] = (struct store_kv){ "status", "active" };
	if (e->site != NULL)
		kv[n++] = (struct store_kv){ "site", e->site };
	if (e->role == STORE_ROLE_CONSULTANT) {
		kv[n++] = (struct store_kv){ "scope", e->sites != NULL ?
		    "assigned" : "all" };
		if (e->sites != NULL)
			kv[n++] = (struct store_kv){ "sites", e->sites };
	}
	proto_member_id(id, e->key);
	return store_batch_put(b, sch_type_find("member", 6), id, 1, kv, n,
	    cause);
}

/* Returns whether the str object o equals s. */
static int
str_eq(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o != NULL && o->type == MSGPACK_OBJECT_STR &&
	    o->via.str.size == n && memcmp(o->via.str.ptr, s, n) == 0;
}

/* Fills m from a member record; returns 0, or -1 when it is not one. */
static int
member_from_rec(const struct store_rec *r, const uint8_t *key,
    struct store_member *m)
{
	const msgpack_object *v;
	uint32_t i;

	memset(m, 0, sizeof(*m));
	if (r->deleted || strcmp(r->type->name, "member") != 0)
		return -1;
	v = store_rec_value(r, "key");
	if (v == NULL || v->type != MSGPACK_OBJECT_BIN ||
	    v->via.bin.size != PROTO_KEY_LEN ||
	    (key != NULL && memcmp(v->via.bin.ptr, key, PROTO_KEY_LEN) != 0))
		return -1;
	{
		uint8_t mid[PROTO_ID_LEN];

		proto_member_id(mid, (const uint8_t *)v->via.bin.ptr);
		if (memcmp(mid, r->id, PROTO_ID_LEN) != 0)
			return -1;
	}
	memcpy(m->key, v->via.bin.ptr, PROTO_KEY_LEN);
	v = store_rec_value(r, "role");
	m->role = STORE_ROLE_NONE;
	if (v != NULL && v->type == MSGPACK_OBJECT_STR &&
	    v->via.str.size < 16) {
		char role[16];

		memcpy(role, v->via.str.ptr, v->via.str.size);
		role[v->via.str.size] = '\0';
		m->role = store_role_parse(role);
	}
	if ((v = store_rec_value(r, "name")) != NULL &&
	    v->type == MSGPACK_OBJECT_STR)
		snprintf(m->name, sizeof(m->name), "%.*s",
		    (int)v->via.str.size, v->via.str.ptr);
	if ((v = store_rec_value(r, "site")) != NULL &&
	    v->type == MSGPACK_OBJECT_BIN && v->via.bin.size == PROTO_ID_LEN) {
		m->has_site = 1;
		memcpy(m->site, v->via.bin.ptr, PROTO_ID_LEN);
	}
	if ((v = store_rec_value(r, "sites")) != NULL &&
	    v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size > 0) {
		m->sites = xcalloc(v->via.array.size, sizeof(*m->sites));
		for (i = 0; i < v->via.array.size; i++) {
			const msgpack_object *o = &v->via.array.ptr[i];

			if (o->type == MSGPACK_OBJECT_BIN &&
			    o->via.bin.size == PROTO_ID_LEN)
				memcpy(m->sites[m->nsites++], o->via.bin.ptr,
				    PROTO_ID_LEN);
		}
	}
	v = store_rec_value(r, "scope");
	/* A hub reads every site; a consultant all of them, or its own. */
	m->scope_all = m->role == STORE_ROLE_HUB ||
	    (m->role == STORE_ROLE_CONSULTANT && (str_eq(v, "all") ||
	    (v == NULL && m->nsites == 0)));
	if (str_eq(store_rec_value(r, "status"), "revoked")) {
		m->revoked = 1;
		v = store_rec_value(r, "revoked_after");
		m->revoked_after = v != NULL &&
		    v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? v->via.u64 : 0;
	}
	return 0;
}

/* Frees what a member holds. */
void
store_member_free(struct store_member *m)
{
	free(m->sites);
	m->sites = NULL;
	m->nsites = 0;
}

/* Reads key's membership inside txn; the admin is synthesized. */
static int
member_get(struct store *s, MDB_txn *txn, const uint8_t key[PROTO_KEY_LEN],
    struct store_member *m)
{
	uint8_t mid[PROTO_ID_LEN];
	MDB_val k = { PROTO_ID_LEN, mid }, d;
	struct store_rec r;
	int rc;

	memset(m, 0, sizeof(*m));
	proto_member_id(mid, key);
	if (memcmp(key, s->info.network, PROTO_KEY_LEN) == 0) {
		memcpy(m->key, key, PROTO_KEY_LEN);
		m->role = STORE_ROLE_ADMIN;
		m->scope_all = 1;
		snprintf(m->name, sizeof(m->name), "admin");
		return 0;
	}
	if (mdb_get(txn, s->dbi[DB_RECORDS], &k, &d) != 0)
		return CS_ENOTFOUND;
	if (store_rec_unpack(&r, mid, d.mv_data, d.mv_size) != 0)
		return CS_ENOTFOUND;
	rc = member_from_rec(&r, key, m) == 0 ? 0 : CS_ENOTFOUND;
	msgpack_unpacked_destroy(&r.up);
	return rc;
}

/* Reads key's membership inside txn (internal.h). */
int
trust_member(struct store *s, MDB_txn *txn, const uint8_t key[PROTO_KEY_LEN],
    struct store_member *m)
{
	return member_get(s, txn, key, m);
}

/* Looks a key's membership up. */
int
store_member_get(struct store *s, const uint8_t key[PROTO_KEY_LEN],
    struct store_member *m)
{
	MDB_txn *txn;
	int rc;

	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	rc = member_get(s, txn, key, m);
	mdb_txn_abort(txn);
	return rc;
}

struct members_arg {
	store_member_fn fn;
	void *arg;
	int stop;
};

static int
members_one(const struct store_rec *r, void *arg)
{
	struct members_arg *ma = arg;
	struct store_member m;

	if (member_from_rec(r, NULL, &m) != 0)
		return 0;
	ma->stop = ma->fn(&m, ma->arg);
	store_member_free(&m);
	return ma->stop;
}

/* Walks every enrolled member (revoked ones included). */
int
store_members(struct store *s, store_member_fn fn, void *arg)
{
	struct store_query q;
	struct members_arg ma = { fn, arg, 0 };

	memset(&q, 0, sizeof(q));
	q.type = sch_type_find("member", 6);
	return store_list(s, &q, members_one, &ma);
}

/* Derives the key of site's hub log (storage.h). */
void
store_site_key(const struct store *s, const uint8_t site[PROTO_ID_LEN],
    uint8_t pk[PROTO_KEY_LEN], uint8_t sk[PROTO_SK_LEN])
{
	static const char label[] = "cafesync-site-log-v1";
	uint8_t msg[sizeof(label) - 1 + PROTO_ID_LEN], seed[32];

	memcpy(msg, label, sizeof(label) - 1);
	memcpy(msg + sizeof(label) - 1, site, PROTO_ID_LEN);
	/* The secret key's first 32 bytes are its ed25519 seed. */
	crypto_generichash(seed, sizeof(seed), msg, sizeof(msg), s->sk, 32);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(seed, sizeof(seed));
}

/* Tells whether m may read (or write for) site. */
int
store_member_reads_site(const struct store_member *m,
    const uint8_t site[PROTO_ID_LEN])
{
	size_t i;

	switch (m->role) {
	case STORE_ROLE_ADMIN:
	case STORE_ROLE_HUB:
		return 1;
	case STORE_ROLE_SITE:
		return m->has_site && memcmp(m->site, site, PROTO_ID_LEN) == 0;
	case STORE_ROLE_CONSULTANT:
		if (m->scope_all)
			return 1;
		for (i = 0; i < m->nsites; i++)
			if (memcmp(m->sites[i], site, PROTO_ID_LEN) == 0)
				return 1;
		return 0;
	default:
		return 0;
	}
}

/* Tells whether reader may receive the log of origin (read scope). */
int
store_scope_allows(const struct store_member *reader,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t origin[PROTO_KEY_LEN],
    const struct store_member *author)
{
	if (memcmp(origin, network, PROTO_KEY_LEN) == 0 ||
	    memcmp(origin, reader->key, PROTO_KEY_LEN) == 0)
		return 1;	/* the admin log, and its own log */
	switch (reader->role) {
	case STORE_ROLE_ADMIN:
	case STORE_ROLE_HUB:
		return 1;
	case STORE_ROLE_CONSULTANT:
		if (reader->scope_all)
			return 1;
		return author != NULL && (author->role == STORE_ROLE_SITE ||
		    author->role == STORE_ROLE_HUB) && author->has_site &&
		    store_member_reads_site(reader, author->site);
	case STORE_ROLE_SITE:
		/* The hub's log for the reader's own site. */
		return author != NULL && author->role == STORE_ROLE_HUB &&
		    author->has_site && reader->has_site &&
		    memcmp(author->site, reader->site, PROTO_ID_LEN) == 0;
	default:
		return 0;
	}
}

/* Returns the site an op's fields name, or NULL. */
static const uint8_t *
op_site(const struct proto_op *op)
{
	uint32_t i;

	for (i = 0; i < op->nfields; i++) {
		const msgpack_object_kv *kv = &op->fields[i];

		if (kv->key.via.str.size == 4 &&
		    memcmp(kv->key.via.str.ptr, "site", 4) == 0 &&
		    kv->val.type == MSGPACK_OBJECT_BIN &&
		    kv->val.via.bin.size == PROTO_ID_LEN)
			return (const uint8_t *)kv->val.via.bin.ptr;
	}
	return NULL;
}

/*
 * The rules that need nothing but the commit: they hold or fail the same
 * on every node, whatever it holds, so a commit that breaks one is
 * refused for good.  Returns NULL or why not.
 */
static const char *
check_op_local(const struct proto_commit *c, const struct proto_op *op,
    const struct sch_type *t)
{
	if (strcmp(t->name, "member") == 0)
		return "only the network's admin enrolls, changes or revokes "
		    "members";
	if (proto_id_reserved(op->id))
		return "the id lies in the member records' space, which only "
		    "the admin writes";
	return NULL;
}

/*
 * The owner rule of a site or consultant: it writes only records it
 * made (the id carries its key's tag), and a record it makes names its
 * site.  Needs nothing but the commit and the author's role.  Returns
 * NULL or why not.
 */
static const char *
check_owner(const struct proto_commit *c, const struct proto_op *op,
    const struct sch_type *t)
{
	if (!proto_id_owned(op->id, c->origin))
		return "a site or consultant writes only records it created "
		    "(this id belongs to another key)";
	if (op->kind == PROTO_OP_PUT && !op->has_base &&
	    sch_field_find(t, "site", 4) != NULL && op_site(op) == NULL)
		return "a record created by a site or a consultant must name "
		    "its site";
	return NULL;
}

/*
 * Judges commit c against the admin log held (trust.c's opening comment;
 * docs/formats.md, "Acceptance").  Returns TRUST_OK, TRUST_REFUSE for a
 * rule no admin commit can change, or TRUST_PENDING when the held admin
 * log does not (yet) allow it, with *why (a static string or buf).
 */
enum trust_verdict
trust_check(struct store *s, MDB_txn *txn, const struct proto_commit *c,
    char *buf, size_t len, const char **why)
{
	struct store_member m;
	enum trust_verdict v = TRUST_OK;
	char k[17];
	unsigned bit;
	uint32_t i;

	*why = NULL;
	if (memcmp(c->origin, s->info.network, PROTO_KEY_LEN) == 0)
		return TRUST_OK;
	/* First what no admin commit can change. */
	for (i = 0; i < c->nops; i++) {
		const struct proto_op *op = &c->ops[i];
		const struct sch_type *t = sch_type_find(op->type,
		    op->type_len);

		if (t == NULL) {
			*why = "an op names an unknown record type";
			return TRUST_REFUSE;
		}
		if ((*why = check_op_local(c, op, t)) != NULL)
			return TRUST_REFUSE;
	}
	proto_hex(k, c->origin, 8);
	if (member_get(s, txn, c->origin, &m) != 0) {
		snprintf(buf, len, "author %s is not an enrolled member (yet): "
		    "waiting for its enrollment", k);
		*why = buf;
		return TRUST_PENDING;
	}
	if (m.revoked && c->seq > m.revoked_after) {
		snprintf(buf, len, "author %s (%s) was revoked: its commits "
		    "after seq %llu are not accepted", k, m.name,
		    (unsigned long long)m.revoked_after);
		*why = buf;
		v = TRUST_PENDING;
		goto out;
	}
	if (m.role == STORE_ROLE_HUB)
		goto out;
	bit = m.role == STORE_ROLE_SITE ? SCH_ROLE_SITE :
	    m.role == STORE_ROLE_CONSULTANT ? SCH_ROLE_CONSULTANT : 0;
	for (i = 0; i < c->nops && v == TRUST_OK; i++) {
		const struct proto_op *op = &c->ops[i];
		const struct sch_type *t = sch_type_find(op->type,
		    op->type_len);
		const uint8_t *site;

		if (bit == 0 || (t->writers & bit) == 0) {
			snprintf(buf, len, "a %s may not write %s records",
			    store_role_names[m.role], t->name);
			*why = buf;
			v = TRUST_PENDING;
		} else if ((*why = check_owner(c, op, t)) != NULL)
			/* The role the rule binds is the admin log's to
			 * change (a site made a hub writes any record). */
			v = TRUST_PENDING;
		else if ((site = op_site(op)) != NULL &&
		    !store_member_reads_site(&m, site)) {
			*why = m.role == STORE_ROLE_SITE ?
			    "a site writes only records of its own site" :
			    "a consultant writes only records of the sites it "
			    "may read";
			v = TRUST_PENDING;
		}
	}
out:
	store_member_free(&m);
	return v;
}
