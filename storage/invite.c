/*
 * invite.c: one-time invites, so that a parent leader at a rural site can
 * join the network with one line instead of exchanging keys by hand.
 *
 * The admin makes an invite (`cafe invite`): a random id and secret, the
 * role and site the joining key will get, an expiry.  Only the secret's
 * BLAKE2b hash is stored.  The joining node proves it holds the secret
 * over an authenticated session with the admin's daemon, which redeems
 * the invite: check, mark used and enroll, so an invite works once.
 * The value's layout is layout.h's.
 */
#include <string.h>

#include <sodium.h>

#include "internal.h"

static int
invite_put_fn(struct store *s, MDB_txn *txn, void *arg)
{
	const struct store_invite *inv = arg;
	uint8_t v[LAY_INVITE_LEN], h[PROTO_HASH_LEN];
	MDB_val k = { STORE_INVITE_ID_LEN, (void *)(uintptr_t)inv->id };
	MDB_val d = { sizeof(v), v };
	int rc;

	crypto_generichash(h, sizeof(h), inv->secret, STORE_INVITE_SECRET_LEN,
	    NULL, 0);
	lay_invite_pack(v, h, inv->expires_ms, inv->has_site, inv->site,
	    inv->role);
	rc = mdb_put(txn, s->dbi[DB_INVITES], &k, &d, MDB_NOOVERWRITE);
	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

/* Makes an invite. */
int
store_invite_make(struct store *s, struct store_invite *inv,
    uint64_t ttl_ms, char **cause)
{
	if (memcmp(s->info.node, s->info.network, PROTO_KEY_LEN) != 0) {
		*cause = xstrdup("only the network's admin makes invites");
		return CS_EPERM;
	}
	inv->expires_ms = store_now_ms() + ttl_ms;
	randombytes_buf(inv->id, sizeof(inv->id));
	randombytes_buf(inv->secret, sizeof(inv->secret));
	return store_write(s, invite_put_fn, inv, cause);
}

struct redeem_arg {
	const uint8_t *id;
	const uint8_t *secret;
	const char *why;
	char role[LAY_INVITE_ROLE_LEN];
	int has_site;
	uint8_t site[PROTO_ID_LEN];
	int mark;               /* mark the invite used (else only check it) */
	const uint8_t *key;     /* with mark: the key that must be enrolled */
};

static int
redeem_fn(struct store *s, MDB_txn *txn, void *arg)
{
	struct redeem_arg *ra = arg;
	MDB_val k = { STORE_INVITE_ID_LEN, (void *)(uintptr_t)ra->id }, d;
	uint8_t v[LAY_INVITE_LEN], h[PROTO_HASH_LEN];
	int rc;

	ra->why = NULL;
	rc = mdb_get(txn, s->dbi[DB_INVITES], &k, &d);
	if (rc != 0 || d.mv_size != LAY_INVITE_LEN) {
		ra->why = "no such invite on this hub";
		return CS_ENOTFOUND;
	}
	memcpy(v, d.mv_data, sizeof(v));
	crypto_generichash(h, sizeof(h), ra->secret, STORE_INVITE_SECRET_LEN,
	    NULL, 0);
	/* The secret first, so a wrong one learns nothing of the invite. */
	if (sodium_memcmp(h, lay_invite_hash(v), sizeof(h)) != 0) {
		ra->why = "the invite's secret does not match";
		return CS_EPERM;
	}
	if (lay_invite_used(v)) {
		ra->why = "this invite was used already";
		return CS_EPERM;
	}
	if (lay_invite_expires(v) <= store_now_ms()) {
		ra->why = "this invite expired";
		return CS_EPERM;
	}
	ra->has_site = lay_invite_has_site(v);
	memcpy(ra->site, lay_invite_site(v), PROTO_ID_LEN);
	lay_invite_role(ra->role, v);
	if (!ra->mark)
		return 0;
	/* The member record written in this transaction must enroll the
	 * key, or nothing is kept and the invite stays unused. */
	{
		struct store_member m;

		if (trust_member(s, txn, ra->key, &m) != 0) {
			ra->why = "the member record did not enroll the key";
			return CS_EPERM;
		}
		store_member_free(&m);
	}
	lay_invite_mark_used(v);
	d.mv_size = sizeof(v);
	d.mv_data = v;
	rc = mdb_put(txn, s->dbi[DB_INVITES], &k, &d, 0);
	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

/* Redeems an invite and enrolls key. */
int
store_invite_redeem(struct store *s, const uint8_t id[STORE_INVITE_ID_LEN],
    const uint8_t secret[STORE_INVITE_SECRET_LEN],
    const uint8_t key[PROTO_KEY_LEN], const char *name, const char **role,
    char **cause)
{
	struct redeem_arg ra;
	struct store_member m;
	struct store_enroll en;
	struct store_batch *b;
	char site[2 * PROTO_ID_LEN + 1];
	int rc;

	*role = NULL;
	/* A name the member record would refuse must not burn the invite. */
	{
		const struct sch_type *t = sch_type_find("member", 6);
		struct proto_enc w;
		char *warn = NULL;

		proto_enc_init(&w);
		rc = sch_parse(sch_field_find(t, "name", 4), name, &w.pk, NULL,
		    NULL, cause, &warn);
		proto_enc_free(&w);
		free(warn);
		if (rc != 0)
			return rc;
	}
	if (store_member_get(s, key, &m) == 0) {
		store_member_free(&m);
		*cause = xstrdup("this key is enrolled already");
		return CS_EPERM;
	}
	memset(&ra, 0, sizeof(ra));
	ra.id = id;
	ra.secret = secret;
	/* First a look, to learn the role; the checks run again, and the
	 * invite is marked used, in the transaction that enrolls the key. */
	{
		MDB_txn *txn;

		if (store_read_begin(s, &txn) != 0)
			return CS_EDB;
		rc = redeem_fn(s, txn, &ra);
		mdb_txn_abort(txn);
	}
	if (rc != 0) {
		if (ra.why != NULL) {
			free(*cause);
			*cause = xstrdup(ra.why);
		}
		return rc;
	}
	memset(&en, 0, sizeof(en));
	en.key = key;
	en.role = store_role_parse(ra.role);
	en.name = name;
	if (ra.has_site) {
		proto_hex(site, ra.site, PROTO_ID_LEN);
		en.site = site;
	}
	if (en.role == STORE_ROLE_NONE) {
		*cause = xasprintf("the invite's role '%s' is not hub, site or "
		    "consultant", ra.role);
		return CS_EUSAGE;
	}
	b = store_batch_new(s);
	rc = store_batch_enroll(b, &en, cause);
	ra.mark = 1;
	ra.key = key;
	if (rc == 0)
		rc = store_batch_commit_post(b, redeem_fn, &ra, cause);
	store_batch_free(b);
	if (rc != 0) {
		if (ra.why != NULL) {
			free(*cause);
			*cause = xstrdup(ra.why);
		}
		return rc;
	}
	*role = store_role_name(en.role);
	return 0;
}
