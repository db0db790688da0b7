/*
 * test_invite.c: unit tests of one-time invites (storage/invite.c).
 *
 * The admin makes invites; another node may not.  Redeeming checks the
 * secret before anything else, then that the invite is unused and not
 * expired; it marks the invite used and enrolls the key in the one
 * transaction that writes the member record, so an invite works once and
 * a redemption that fails enrolls nobody and leaves the invite as it was:
 * a name or a role the member record refuses, a wrong secret, an unknown
 * id, a key enrolled already.  Each failure asserts its code and reason,
 * and that the invite is still good (or still used) afterwards.  And the
 * roles: one table (storage/trust.c) and one parser, which the member
 * record's schema uses too.
 *
 * Stores live under one mkdtemp() root in /tmp, removed at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/proto.h"
#include "storage/storage.h"

static char t_root[64];
static struct store *admin, *other;

/* Removes the stores' directories. */
static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (admin != NULL)
		store_close(admin);
	if (other != NULL)
		store_close(other);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_root);
	return system(cmd) == 0 ? 0 : -1;
}

/* An admin node (its key is the network) and a hub of its network. */
static int
group_setup(void **state)
{
	char dir[128], *cause = NULL;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(t_root, sizeof(t_root), "/tmp/cafesync-invite-XXXXXX");
	if (mkdtemp(t_root) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/admin", t_root);
	if (store_create(dir, "Admin", "hub", NULL, &cause) != 0 ||
	    store_open(&admin, dir, &cause) != 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/other", t_root);
	if (store_create(dir, "Other", "hub", store_info(admin)->network,
	    &cause) != 0 || store_open(&other, dir, &cause) != 0)
		goto fail;
	return 0;
fail:
	fprintf(stderr, "setup: %s\n", cause != NULL ? cause : "?");
	free(cause);
	return -1;
}

/* Makes an invite of role that lasts ttl_ms, asserting success. */
static void
make(struct store_invite *inv, const char *role, uint64_t ttl_ms)
{
	char *cause = NULL;
	int rc;

	memset(inv, 0, sizeof(*inv));
	snprintf(inv->role, sizeof(inv->role), "%s", role);
	rc = store_invite_make(admin, inv, ttl_ms, &cause);
	if (rc != 0)
		fail_msg("store_invite_make: %d %s", rc, cause ? cause : "");
	free(cause);
}

/*
 * Redeems inv (with secret, NULL: its own) for key under name; asserts
 * the result is want and, when want is not 0, that the reason holds why.
 */
static void
redeem(const struct store_invite *inv, const uint8_t *secret,
    const uint8_t key[PROTO_KEY_LEN], const char *name, int want,
    const char *why)
{
	const char *role = NULL;
	char *cause = NULL;
	int rc;

	rc = store_invite_redeem(admin, inv->id, secret != NULL ? secret :
	    inv->secret, key, name, &role, &cause);
	if (rc != want)
		fail_msg("redeem as '%s': %d, wanted %d (%s)", name, rc, want,
		    cause ? cause : "");
	if (want == 0)
		assert_string_equal(role, inv->role);
	else if (why != NULL && (cause == NULL || strstr(cause, why) == NULL))
		fail_msg("redeem as '%s': reason '%s', wanted '%s'", name,
		    cause ? cause : "(none)", why);
	free(cause);
}

/* Asserts whether key is a member of the admin's network. */
static void
assert_member(const uint8_t key[PROTO_KEY_LEN], int want)
{
	struct store_member m;
	int rc = store_member_get(admin, key, &m);

	if (rc == 0)
		store_member_free(&m);
	if ((rc == 0) != want)
		fail_msg("the key is %sa member", rc == 0 ? "" : "not ");
}

/* A fresh random node key. */
static void
new_key(uint8_t key[PROTO_KEY_LEN])
{
	uint8_t sk[PROTO_SK_LEN];

	crypto_sign_keypair(key, sk);
}

/* Only the admin makes invites. */
static void
test_make_admin_only(void **state)
{
	struct store_invite inv;
	char *cause = NULL;

	(void)state;
	memset(&inv, 0, sizeof(inv));
	snprintf(inv.role, sizeof(inv.role), "site");
	assert_int_equal(store_invite_make(other, &inv, 60000, &cause),
	    CS_EPERM);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "only the network's admin"));
	free(cause);
}

/* An invite works once, for the key it enrolls, with its role. */
static void
test_redeem_once(void **state)
{
	struct store_invite inv;
	struct store_member m;
	uint8_t k1[PROTO_KEY_LEN], k2[PROTO_KEY_LEN];

	(void)state;
	new_key(k1);
	new_key(k2);
	make(&inv, "hub", 60000);
	assert_member(k1, 0);
	redeem(&inv, NULL, k1, "Pine hub", 0, NULL);
	assert_int_equal(store_member_get(admin, k1, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_HUB);
	assert_string_equal(m.name, "Pine hub");
	store_member_free(&m);
	/* used: another key gets nothing */
	redeem(&inv, NULL, k2, "Second", CS_EPERM, "used already");
	assert_member(k2, 0);
	/* an enrolled key is told so, whatever the invite */
	make(&inv, "hub", 60000);
	redeem(&inv, NULL, k1, "Pine hub", CS_EPERM, "enrolled already");
	/* ... and that invite is still good */
	redeem(&inv, NULL, k2, "Second", 0, NULL);
	assert_member(k2, 1);
}

/* A consultant's invite gives a consultant who reads every site. */
static void
test_redeem_consultant(void **state)
{
	struct store_invite inv;
	struct store_member m;
	uint8_t k[PROTO_KEY_LEN];

	(void)state;
	new_key(k);
	make(&inv, "consultant", 60000);
	redeem(&inv, NULL, k, "Dr. Lee", 0, NULL);
	assert_int_equal(store_member_get(admin, k, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_CONSULTANT);
	assert_int_equal(m.scope_all, 1);
	store_member_free(&m);
}

/* What fails enrolls nobody and leaves the invite unused. */
static void
test_redeem_failures_keep_invite(void **state)
{
	struct store_invite inv, unknown;
	uint8_t k[PROTO_KEY_LEN], bad[STORE_INVITE_SECRET_LEN];
	char longname[400];

	(void)state;
	new_key(k);
	make(&inv, "site", 60000);
	memcpy(bad, inv.secret, sizeof(bad));
	bad[0] ^= 1;
	redeem(&inv, bad, k, "Pine", CS_EPERM, "secret does not match");
	unknown = inv;
	unknown.id[0] ^= 1;
	redeem(&unknown, NULL, k, "Pine", CS_ENOTFOUND, "no such invite");
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	redeem(&inv, NULL, k, longname, CS_EUSAGE, "name");
	redeem(&inv, NULL, k, "", CS_EUSAGE, NULL);
	assert_member(k, 0);
	/* none of it burnt the invite */
	redeem(&inv, NULL, k, "Pine", 0, NULL);
	assert_member(k, 1);
}

/*
 * An invite whose role the member record refuses: the record is never
 * written, and the invite is not marked used (a second try meets the
 * same refusal, not "used already").
 */
static void
test_redeem_refused_record(void **state)
{
	struct store_invite inv;
	uint8_t k[PROTO_KEY_LEN];

	(void)state;
	new_key(k);
	make(&inv, "overlord", 60000);
	redeem(&inv, NULL, k, "Pine", CS_EUSAGE, "overlord");
	assert_member(k, 0);
	redeem(&inv, NULL, k, "Pine", CS_EUSAGE, "overlord");
	assert_member(k, 0);
}

/* An invite past its expiry enrolls nobody. */
static void
test_redeem_expired(void **state)
{
	struct store_invite inv;
	uint8_t k[PROTO_KEY_LEN];

	(void)state;
	new_key(k);
	make(&inv, "hub", 0);
	redeem(&inv, NULL, k, "Late", CS_EPERM, "expired");
	assert_member(k, 0);
}

/*
 * Roles are one table: each enrolled role parses to itself and prints
 * back, nothing else parses ("admin" is no role a key is enrolled with),
 * and the member record's role field takes exactly the table's roles.
 */
static void
test_roles_table(void **state)
{
	const struct sch_field *f = sch_field_find(sch_type_find("member", 6),
	    "role", 4);
	static const char *const others[] = { "admin", "none", "Hub", "hub ",
	    "", "sites" };
	size_t i;
	int r;

	(void)state;
	for (r = STORE_ROLE_HUB; r <= STORE_ROLE_CONSULTANT; r++) {
		assert_int_equal(store_role_parse(store_role_name(
		    (enum store_role)r)), r);
		assert_string_equal(f->tokens[r - STORE_ROLE_HUB],
		    store_role_name((enum store_role)r));
	}
	assert_null(f->tokens[STORE_ROLE_CONSULTANT - STORE_ROLE_HUB + 1]);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		assert_int_equal(store_role_parse(others[i]), STORE_ROLE_NONE);
	assert_int_equal(store_role_parse(NULL), STORE_ROLE_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_admin_only),
		cmocka_unit_test(test_redeem_once),
		cmocka_unit_test(test_redeem_consultant),
		cmocka_unit_test(test_redeem_failures_keep_invite),
		cmocka_unit_test(test_redeem_refused_record),
		cmocka_unit_test(test_redeem_expired),
		cmocka_unit_test(test_roles_table),
	};

	return cmocka_run_group_tests_name("invite", tests, group_setup,
	    group_teardown);
}
