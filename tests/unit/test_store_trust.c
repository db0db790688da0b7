/*
 * test_store_trust.c: unit tests of who may write (storage/trust.c).
 *
 * Covers: an author no member record enrolls is refused, received or
 * local (a received commit waits and lands once the admin enrolls the
 * key); a site key writes only its own site's records of its role's
 * types; only the admin writes member records; a revoked key's commits
 * after revoked_after are refused; a member record whose id is not its
 * key's prefix enrolls nobody.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/proto.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

static void cafe_op(struct hop *op, const uint8_t *id, const char *hsite)
{
	hop_put(op, "cafe", id);
	hop_field(op, "site", hsite);
	hop_field(op, "date", "2026-03-14");
	hop_field(op, "format", "parent");
	hop_field(op, "factors", "resilience");
}

static int count_members_cb(const struct store_member *m, void *arg)
{
	(void)m;
	(*(size_t *)arg)++;
	return 0;
}

/* Expects c to get result want_rc and a cause holding want. */
static void apply_result(struct store *s, const struct citem *c,
    int want_rc, const char *want)
{
	struct store_item it;
	int rc = apply_raw(s, c->e, c->elen, c->sig, &it);

	if (rc != want_rc)
		fail_msg("expected %d (%s), got %d (%s)", want_rc, want, rc,
		    it.cause);
	if (strstr(it.cause, want) == NULL)
		fail_msg("cause '%s' does not say '%s'", it.cause, want);
}

/* Refused for good: a rule no admin commit can change. */
#define apply_eperm(s, c, want) apply_result(s, c, CS_EPERM, want)
/* Held, waiting for an admin commit that allows it. */
#define apply_waits(s, c, want) apply_result(s, c, CS_EPENDING, want)

/*
 * A received commit of a key no member record enrolls waits, and a local
 * write of such a node is refused; once the admin enrolls the key, the
 * waiting commit lands by itself.
 */
static void test_trust_unenrolled(void **state)
{
	struct origin adm, o1;
	uint8_t id1[16], id2[16];
	struct citem c, en;
	struct hop op;
	struct store *b;
	struct store_rec r;
	struct store_status st;
	struct store_member m;
	char *cause = NULL;
	(void)state;

	new_origin(&adm);
	new_origin(&o1);
	randombytes_buf(id1, sizeof id1);
	b = mk_store("replica", "replica", adm.pk, NULL);

	site_op(&op, id1, "Alpha");
	hb_next(&c, &o1, adm.pk, HLC_AT(T_MS, 1), &op, 1);
	apply_waits(b, &c, "not an enrolled member");
	assert_int_equal(store_get(b, id1, &r), CS_ENOTFOUND);
	assert_int_equal(store_member_get(b, o1.pk, &m), CS_ENOTFOUND);
	assert_int_equal(store_status(b, &st), 0);
	assert_true(st.commits == 0);

	/* b's own node key is not enrolled either: its write fails */
	{
		const struct store_kv kv[] = { { "name", "Local" } };
		int rc = put_kv(b, "site", id2, 1, kv, NKV(kv), &cause);

		assert_int_equal(rc, CS_EPERM);
		assert_non_null(cause);
		if (strncmp(cause, "not allowed: ", 13) != 0 ||
		    strstr(cause, "not an enrolled member") == NULL)
			fail_msg("local write refused with '%s'", cause);
		free(cause);
		cause = NULL;
	}
	assert_int_equal(store_status(b, &st), 0);
	assert_true(st.commits == 0);

	/* the admin needs no record; o1 is enrolled by the admin's commit */
	assert_int_equal(store_member_get(b, adm.pk, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_ADMIN);
	store_member_free(&m);
	{
		const uint8_t *keys[1] = { o1.pk };
		enroll_next(&en, &adm, HLC_AT(T_MS, 0), keys, 1);
	}
	assert_int_equal(apply_one(b, &en), 0);
	assert_int_equal(store_member_get(b, o1.pk, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_HUB);
	assert_memory_equal(m.key, o1.pk, PROTO_KEY_LEN);
	store_member_free(&m);
	/* the waiting commit landed with the enrollment */
	assert_int_equal(apply_one(b, &c), CS_EDUP);
	get_ok(b, id1, &r);
	assert_field(&r, "name", "Alpha");
	store_rec_free(&r);
	free(c.e);
	free(en.e);
	t_close(b);
}

/*
 * A site key writes the types its role may, only for its own site, and
 * only records it made: a café naming another site, an edit of a record
 * another key made and a site record (admin's type) each wait (the admin
 * log may yet allow them, by another role); a café of its own site lands.
 */
static void test_trust_site_role(void **state)
{
	struct origin adm, sk;
	uint8_t site_a[16], site_b[16], cafe_a[16], cafe_b[16], cafe_x[16];
	char ha[33], hb[33];
	struct citem en, c, own[2];
	struct hop ops[4];
	struct mtext t;
	struct store *s;
	struct store_rec r;
	struct store_member m;
	uint8_t head[PROTO_HASH_LEN];
	(void)state;

	new_origin(&adm);
	new_origin(&sk);
	randombytes_buf(site_a, sizeof site_a);
	randombytes_buf(site_b, sizeof site_b);
	proto_id_new(cafe_a, T_MS, sk.pk);
	proto_id_new(cafe_b, T_MS, adm.pk);
	proto_id_new(cafe_x, T_MS, sk.pk);
	hexid(site_a, ha);
	hexid(site_b, hb);
	s = mk_store("replica", "replica", adm.pk, NULL);

	/* the admin: sites A and B, a café of B, sk as site A's key */
	site_op(&ops[0], site_a, "A");
	site_op(&ops[1], site_b, "B");
	cafe_op(&ops[2], cafe_b, hb);
	member_op(&ops[3], &t, sk.pk, "site", "Site A's laptop");
	hop_field(&ops[3], "site", ha);
	hb_next(&en, &adm, adm.pk, HLC_AT(T_MS, 0), ops, 4);
	assert_int_equal(apply_one(s, &en), 0);
	assert_int_equal(store_member_get(s, sk.pk, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_SITE);
	assert_true(m.has_site);
	assert_memory_equal(m.site, site_a, PROTO_ID_LEN);
	store_member_free(&m);

	/* a café naming site B */
	cafe_op(&ops[0], cafe_x, hb);
	hb_make(&c, &sk, adm.pk, 1, NULL, HLC_AT(T_MS, 1), ops, 1);
	apply_waits(s, &c, "own site");
	free(c.e);
	assert_int_equal(store_get(s, cafe_x, &r), CS_ENOTFOUND);
	t_close(s);

	/* on another node: a café of its own site, at the same seq */
	s = mk_store("replica", "replica", adm.pk, NULL);
	assert_int_equal(apply_one(s, &en), 0);
	cafe_op(&ops[0], cafe_a, ha);
	hb_next(&own[0], &sk, adm.pk, HLC_AT(T_MS, 2), ops, 1);
	assert_int_equal(apply_one(s, &own[0]), 0);
	get_ok(s, cafe_a, &r);
	assert_field(&r, "site", ha);
	store_rec_free(&r);

	/* an edit of its own café lands */
	hop_put(&ops[0], "cafe", cafe_a);
	ops[0].edit = 1;
	hop_field(&ops[0], "topic", "Routines");
	hb_next(&own[1], &sk, adm.pk, HLC_AT(T_MS, 3), ops, 1);
	assert_int_equal(apply_one(s, &own[1]), 0);
	memcpy(head, own[1].hash, sizeof head);

	/* an edit of a café another key made (site B's): it waits, as the
	 * owner rule binds a role the admin log may change */
	hop_put(&ops[0], "cafe", cafe_b);
	hop_field(&ops[0], "topic", "Moved");
	ops[0].edit = 1;
	hb_make(&c, &sk, adm.pk, 3, head, HLC_AT(T_MS, 4), ops, 1);
	apply_waits(s, &c, "belongs to another key");
	free(c.e);
	get_ok(s, cafe_b, &r);
	assert_null(store_rec_value(&r, "topic"));
	store_rec_free(&r);
	t_close(s);

	/* a site record: only admins and hubs write those (another node) */
	s = mk_store("replica", "replica", adm.pk, NULL);
	assert_int_equal(apply_one(s, &en), 0);
	assert_int_equal(apply_one(s, &own[0]), 0);
	assert_int_equal(apply_one(s, &own[1]), 0);
	site_op(&ops[0], site_a, "Renamed");
	ops[0].edit = 1;
	hb_make(&c, &sk, adm.pk, 3, head, HLC_AT(T_MS, 6), ops, 1);
	apply_waits(s, &c, "may not write site");
	free(c.e);
	get_ok(s, site_a, &r);
	assert_field(&r, "name", "A");
	store_rec_free(&r);
	t_close(s);
	free(en.e);
	free(own[0].e);
	free(own[1].e);
}

/*
 * Only the admin writes member records: a hub's enrollment of another
 * key (received, or written locally) is refused and enrolls nobody.
 */
static void test_trust_member_admin_only(void **state)
{
	struct origin adm, hub, o2;
	uint8_t id1[16], id2[16];
	struct citem en, c;
	struct hop op;
	struct mtext t;
	struct store *s, *a, *h;
	struct store_member m;
	char *cause = NULL;
	size_t nm = 0;
	(void)state;

	new_origin(&adm);
	new_origin(&hub);
	new_origin(&o2);
	randombytes_buf(id1, sizeof id1);
	randombytes_buf(id2, sizeof id2);
	s = mk_store("replica", "replica", adm.pk, NULL);
	{
		const uint8_t *keys[1] = { hub.pk };
		enroll_next(&en, &adm, HLC_AT(T_MS, 0), keys, 1);
	}
	assert_int_equal(apply_one(s, &en), 0);
	free(en.e);

	/* the hub enrolls o2 */
	member_op(&op, &t, o2.pk, "hub", "o2");
	hb_make(&c, &hub, adm.pk, 1, NULL, HLC_AT(T_MS, 1), &op, 1);
	apply_eperm(s, &c, "only the network's admin");
	free(c.e);
	assert_int_equal(store_member_get(s, o2.pk, &m), CS_ENOTFOUND);
	site_op(&op, id2, "By o2");
	hb_next(&c, &o2, adm.pk, HLC_AT(T_MS, 2), &op, 1);
	apply_waits(s, &c, "not an enrolled member");
	free(c.e);

	/* the hub's seq 1 as a site record lands: the type was refused */
	site_op(&op, id1, "By the hub");
	hb_next(&c, &hub, adm.pk, HLC_AT(T_MS, 3), &op, 1);
	assert_int_equal(apply_one(s, &c), 0);
	free(c.e);

	/* nor may the hub rewrite its own record (say, its name) */
	member_op(&op, &t, hub.pk, "hub", "Boss");
	hb_next(&c, &hub, adm.pk, HLC_AT(T_MS, 4), &op, 1);
	apply_eperm(s, &c, "only the network's admin");
	free(c.e);
	assert_int_equal(store_member_get(s, hub.pk, &m), 0);
	assert_string_equal(m.name, "test hub");
	store_member_free(&m);
	assert_int_equal(store_members(s, count_members_cb, &nm), 0);
	assert_int_equal(nm, 1);

	/* locally: an enrolled hub node's write of a member record */
	a = mk_store("admin", "hub", NULL, NULL);
	h = mk_store("hub", "hub", store_info(a)->network, NULL);
	enroll_store(a, h, "hub");
	{
		char key[2 * PROTO_KEY_LEN + 1];
		uint8_t mid[16];
		const struct store_kv kv[] = { { "key", key },
			{ "role", "hub" }, { "name", "o2" } };
		int rc;

		proto_hex(key, o2.pk, PROTO_KEY_LEN);
		rc = put_kv(h, "member", mid, 1, kv, NKV(kv), &cause);
		assert_int_equal(rc, CS_EPERM);
		assert_non_null(cause);
		if (strncmp(cause, "not allowed: ", 13) != 0 ||
		    strstr(cause, "only the network's admin") == NULL)
			fail_msg("local member write refused with '%s'",
			    cause);
		free(cause);
		cause = NULL;
		assert_int_equal(store_member_get(h, o2.pk, &m),
		    CS_ENOTFOUND);
	}
	t_close(a);
	t_close(h);
	t_close(s);
}

/*
 * A revoked key's commits up to revoked_after stay valid; later ones are
 * refused, even when their clock is older than the revocation.
 */
static void test_trust_revoked(void **state)
{
	struct origin adm, k;
	uint8_t ids[3][16];
	struct citem en, rv, kc[3];
	struct hop op;
	struct mtext t;
	struct store *s;
	struct store_rec r;
	struct store_member m;
	(void)state;

	new_origin(&adm);
	new_origin(&k);
	s = mk_store("replica", "replica", adm.pk, NULL);
	{
		const uint8_t *keys[1] = { k.pk };
		enroll_next(&en, &adm, HLC_AT(T_MS, 0), keys, 1);
	}
	for (int i = 0; i < 3; i++) {
		randombytes_buf(ids[i], sizeof ids[i]);
		site_op(&op, ids[i], "By k");
		hb_next(&kc[i], &k, adm.pk, HLC_AT(T_MS, 10 + i), &op, 1);
	}
	/* revoked after its seq 2, at a clock later than all three */
	member_op(&op, &t, k.pk, "hub", "test hub");
	hop_field(&op, "status", "revoked");
	snprintf(t.after, sizeof t.after, "%d", 2);
	hop_field(&op, "revoked_after", t.after);
	hb_next(&rv, &adm, adm.pk, HLC_AT(T_MS, 20), &op, 1);

	assert_int_equal(apply_one(s, &en), 0);
	assert_int_equal(apply_one(s, &rv), 0);
	assert_int_equal(store_member_get(s, k.pk, &m), 0);
	assert_true(m.revoked);
	assert_true(m.revoked_after == 2);
	store_member_free(&m);
	assert_int_equal(apply_one(s, &kc[0]), 0);
	assert_int_equal(apply_one(s, &kc[1]), 0);
	apply_waits(s, &kc[2], "revoked");
	get_ok(s, ids[1], &r);
	store_rec_free(&r);
	assert_int_equal(store_get(s, ids[2], &r), CS_ENOTFOUND);

	free(en.e);
	free(rv.e);
	for (int i = 0; i < 3; i++)
		free(kc[i].e);
	t_close(s);
}

/*
 * A member record whose id is not the one made from its key enrolls
 * nobody: neither the key it holds nor the key whose prefix is its id.
 */
static void test_trust_member_id_not_prefix(void **state)
{
	struct origin adm, k1, k2;
	uint8_t id1[16], id2[16];
	struct citem en, good, c1, c2;
	struct hop ops[2], op;
	struct mtext t[2];
	struct store *s, *s2;
	struct store_member m;
	size_t nm = 0;
	int rc;
	(void)state;

	new_origin(&adm);
	new_origin(&k1);
	new_origin(&k2);
	randombytes_buf(id1, sizeof id1);
	randombytes_buf(id2, sizeof id2);
	s = mk_store("replica", "replica", adm.pk, NULL);

	/* k1's record at a random id; k2's record at k1's prefix */
	member_op(&ops[0], &t[0], k1.pk, "hub", "k1");
	randombytes_buf(ops[0].id, PROTO_ID_LEN);
	assert_memory_not_equal(ops[0].id, k1.pk, PROTO_ID_LEN);
	member_op(&ops[1], &t[1], k2.pk, "hub", "k2");
	memcpy(ops[1].id, k1.pk, PROTO_ID_LEN);
	hb_next(&en, &adm, adm.pk, HLC_AT(T_MS, 0), ops, 2);
	/* stored as records or refused, as long as nobody is enrolled */
	rc = apply_one(s, &en);
	assert_true(rc == 0 || rc == CS_ESCHEMA || rc == CS_EPERM);
	assert_int_equal(store_member_get(s, k1.pk, &m), CS_ENOTFOUND);
	assert_int_equal(store_member_get(s, k2.pk, &m), CS_ENOTFOUND);
	assert_int_equal(store_members(s, count_members_cb, &nm), 0);
	assert_int_equal(nm, 0);

	site_op(&op, id1, "By k1");
	hb_next(&c1, &k1, adm.pk, HLC_AT(T_MS, 1), &op, 1);
	apply_waits(s, &c1, "not an enrolled member");
	site_op(&op, id2, "By k2");
	hb_next(&c2, &k2, adm.pk, HLC_AT(T_MS, 2), &op, 1);
	apply_waits(s, &c2, "not an enrolled member");

	/* the same commit of k1 lands once k1 has a proper record */
	s2 = mk_store("replica", "replica", adm.pk, NULL);
	{
		struct origin fresh = adm;
		const uint8_t *keys[1] = { k1.pk };

		fresh.seq = 0;
		enroll_next(&good, &fresh, HLC_AT(T_MS, 0), keys, 1);
	}
	assert_int_equal(apply_one(s2, &good), 0);
	assert_int_equal(apply_one(s2, &c1), 0);

	free(en.e);
	free(good.e);
	free(c1.e);
	free(c2.e);
	t_close(s);
	t_close(s2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_trust_unenrolled, test_teardown),
		cmocka_unit_test_teardown(test_trust_site_role, test_teardown),
		cmocka_unit_test_teardown(test_trust_member_admin_only,
		    test_teardown),
		cmocka_unit_test_teardown(test_trust_revoked, test_teardown),
		cmocka_unit_test_teardown(test_trust_member_id_not_prefix,
		    test_teardown),
	};
	return cmocka_run_group_tests_name("store_trust", tests, group_setup,
	    group_teardown);
}
