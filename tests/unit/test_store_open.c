/*
 * test_store_open.c: unit tests of store_create and store_open
 * (storage/).
 *
 * Covers: create and open (a second create refuses and keeps the node, a
 * private directory, the key file mode 0600, no node in an empty
 * directory); refusal of a key others can read; no "members" database
 * made, and an older store's accepted by the audit, while a database of a
 * name nothing made is damage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <lmdb.h>

#include "proto/proto.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

static void test_create_open(void **state)
{
	char dir[128], path[256], *cause = NULL;
	uint8_t node[PROTO_KEY_LEN];
	struct store *s;
	struct stat st;
	const struct store_info *in;
	struct store_status ss;
	(void)state;

	s = mk_store("State hub", "hub", NULL, dir);
	in = store_info(s);
	assert_non_null(in);
	assert_string_equal(in->name, "State hub");
	assert_string_equal(in->role, "hub");
	/* network NULL: this node's key is the network id */
	assert_memory_equal(in->node, in->network, PROTO_KEY_LEN);
	memcpy(node, in->node, PROTO_KEY_LEN);
	assert_int_equal(store_status(s, &ss), 0);
	assert_true(ss.commits == 0);
	assert_true(ss.forks == 0);
	t_close(s);

	/* A second create refuses and keeps the node. */
	assert_int_equal(store_create(dir, "other", "hub", NULL, &cause),
	    CS_EEXIST);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	s = open_dir(dir);
	assert_memory_equal(store_info(s)->node, node, PROTO_KEY_LEN);
	assert_string_equal(store_info(s)->name, "State hub");
	t_close(s);

	/* The directory is private, the key file 0600. */
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof path, "%s/node.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* No node here. */
	{
		char empty[128];
		struct store *s2 = NULL;
		new_dir(empty, sizeof empty);
		assert_int_equal(mkdir(empty, 0700), 0);
		assert_true(store_open(&s2, empty, &cause) < 0);
		assert_null(s2);
		assert_non_null(cause);
		free(cause);
		cause = NULL;
	}
}

/* Keeps the reason of store_audit()'s last fault in arg (300 bytes). */
static void last_fault(const struct store_audit_fault *f, void *arg)
{
	char *why = arg;

	snprintf(why, 300, "%s", f->why != NULL ? f->why : "");
}

/* Puts key "k" = "v" in the named database name of the environment in
 * dir (no store open on it); returns whether name was there before. */
static int raw_db_put(const char *dir, const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 1, (void *)(uintptr_t)"k" }, d = { 1,
	    (void *)(uintptr_t)"v" };
	int had;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	had = mdb_dbi_open(txn, name, 0, &dbi) == 0;
	assert_int_equal(mdb_dbi_open(txn, name, MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return had;
}

/*
 * The "members" database was written at creation and never read: a new
 * store no longer makes it, and an older store that holds it (with its
 * entry) audits clean; a database of a name nothing ever made is still
 * damage.
 */
static void test_retired_members_db(void **state)
{
	char dir[128], why[300] = "";
	struct store_audit_stats st;
	struct store *s;
	(void)state;

	s = mk_store("Old hub", "hub", NULL, dir);
	t_close(s);
	assert_int_equal(raw_db_put(dir, "members"), 0);
	s = open_dir(dir);
	assert_int_equal(store_audit(s, 1, last_fault, why, &st), 0);
	assert_int_equal(st.replayed, 1);
	t_close(s);
	assert_int_equal(raw_db_put(dir, "memberz"), 0);
	s = open_dir(dir);
	assert_int_equal(store_audit(s, 0, last_fault, why, &st), 1);
	assert_non_null(strstr(why, "'memberz'"));
	t_close(s);
}

static void test_key_mode(void **state)
{
	char dir[128], path[256], *cause = NULL;
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0606, 0700 };
	struct store *s;
	(void)state;

	s = mk_store("site", "site", NULL, dir);
	t_close(s);
	snprintf(path, sizeof path, "%s/node.key", dir);
	for (size_t i = 0; i < NKV(bad); i++) {
		struct store *s2 = NULL;
		int rc;

		assert_int_equal(chmod(path, bad[i]), 0);
		rc = store_open(&s2, dir, &cause);
		if (bad[i] & 077) {
			if (rc == 0)
				fail_msg("opened with a key of mode %o",
				    (unsigned)bad[i]);
			assert_null(s2);
			assert_non_null(cause);
			free(cause);
			cause = NULL;
		} else {
			/* 0700: owner only, still private */
			assert_int_equal(rc, 0);
			t_close(s2);
		}
	}
	assert_int_equal(chmod(path, 0600), 0);
	s = open_dir(dir);
	t_close(s);
	assert_int_equal(chmod(path, 0400), 0);
	s = open_dir(dir);
	t_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_create_open, test_teardown),
		cmocka_unit_test_teardown(test_key_mode, test_teardown),
		cmocka_unit_test_teardown(test_retired_members_db,
		    test_teardown),
	};
	return cmocka_run_group_tests_name("store_open", tests, group_setup,
	    group_teardown);
}
