/*
 * test_store_put.c: unit tests of local writes (store_batch_put and
 * store_batch_commit, storage/).
 *
 * Covers: a create of every record type with its required fields, read
 * back with store_get/store_rec_value; schema validation through
 * store_batch_put errors (dates, enums, sets, counts, decimals, text
 * length, unknown fields, missing required fields, references that match
 * nothing or name another type's record, ambiguous prefixes, and a full
 * id not on this node accepted with a warning; a café missing fidelity
 * elements stored with a warning; edits of a missing record, through the
 * wrong type, or clearing a required field refused); a batch split at the
 * commit bounds while the LMDB map grows from a tiny start.
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

static void test_put_every_type(void **state)
{
	uint8_t site[16], person[16], cafe[16], action[16], training[16];
	uint8_t milestone[16], feedback[16], audit[16];
	char hsite[33], hperson[33], hcafe[33], prefix[9];
	struct store *s;
	struct store_rec r;
	struct store_status st;
	const msgpack_object *v;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);

	PUT_OK(s, "site", site, 1, { "name", "Eastside Family Center" },
	    { "partner_type", "family_resource_center" },
	    { "status", "active" }, { "county", "Lane" },
	    { "languages", "en,es" }, { "started", "2025-09-01" });
	hexid(site, hsite);
	PUT_OK(s, "person", person, 1, { "name", "Ana" },
	    { "roles", "host,parent_leader" }, { "site", hsite });
	hexid(person, hperson);
	memcpy(prefix, hsite, 8);
	prefix[8] = '\0';
	PUT_OK(s, "cafe", cafe, 1, { "site", prefix }, { "date", "2026-03-14" },
	    { "format", "parent" },
	    { "factors", "social_connections,resilience" },
	    { "attendees", "12" }, { "new_attendees", "3" },
	    { "hosts", hperson },
	    { "elements", "welcome,theme,agreements,pair_talk,table_talk,"
	      "commitment_cards,harvest,closing" });
	hexid(cafe, hcafe);
	PUT_OK(s, "action", action, 1, { "cafe", hcafe },
	    { "title", "Call the library about space" });
	PUT_OK(s, "training", training, 1, { "site", hsite },
	    { "date", "2026-02-01" }, { "kind", "orientation" });
	PUT_OK(s, "milestone", milestone, 1, { "site", hsite },
	    { "step", "3" }, { "status", "in_progress" });
	PUT_OK(s, "feedback", feedback, 1, { "cafe", hcafe },
	    { "responses", "10" }, { "felt_safe", "9" },
	    { "pfs_resilience", "5.25" });
	PUT_OK(s, "audit", audit, 1, { "site", hsite },
	    { "date", "2026-03-20" }, { "finding", "Sign-in sheets kept" });

	get_ok(s, site, &r);
	assert_true(r.type == type_of("site"));
	assert_memory_equal(r.id, site, PROTO_ID_LEN);
	assert_false(r.deleted);
	assert_field(&r, "name", "Eastside Family Center");
	assert_field(&r, "partner_type", "family_resource_center");
	assert_field(&r, "status", "active");
	assert_field(&r, "languages", "en,es");
	assert_field(&r, "started", "2025-09-01");
	assert_null(store_rec_value(&r, "region"));
	assert_true(store_rec_clock(&r, "name") > 0);
	assert_true(store_rec_clock(&r, "region") == 0);
	v = store_rec_value(&r, "name");
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_STR);
	store_rec_free(&r);

	get_ok(s, person, &r);
	assert_true(r.type == type_of("person"));
	assert_field(&r, "name", "Ana");
	/* a set is stored in token order */
	assert_field(&r, "roles", "parent_leader,host");
	v = store_rec_value(&r, "site");
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_BIN);
	assert_memory_equal(v->via.bin.ptr, site, PROTO_ID_LEN);
	store_rec_free(&r);

	get_ok(s, cafe, &r);
	assert_true(r.type == type_of("cafe"));
	assert_field(&r, "site", hsite);	/* the prefix was resolved */
	assert_field(&r, "date", "2026-03-14");
	assert_field(&r, "format", "parent");
	assert_field(&r, "factors", "resilience,social_connections");
	assert_field(&r, "hosts", hperson);
	v = store_rec_value(&r, "attendees");
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(v->via.u64, 12);
	store_rec_free(&r);

	get_ok(s, action, &r);
	assert_true(r.type == type_of("action"));
	assert_field(&r, "cafe", hcafe);
	assert_field(&r, "title", "Call the library about space");
	store_rec_free(&r);

	get_ok(s, training, &r);
	assert_field(&r, "site", hsite);
	assert_field(&r, "kind", "orientation");
	assert_field(&r, "date", "2026-02-01");
	store_rec_free(&r);

	get_ok(s, milestone, &r);
	assert_field(&r, "step", "3");
	assert_field(&r, "status", "in_progress");
	v = store_rec_value(&r, "step");
	assert_int_equal(v->via.u64, 3);
	store_rec_free(&r);

	get_ok(s, feedback, &r);
	assert_field(&r, "cafe", hcafe);
	assert_field(&r, "responses", "10");
	v = store_rec_value(&r, "pfs_resilience");
	assert_non_null(v);
	assert_int_equal(v->via.u64, 525);
	assert_field(&r, "pfs_resilience", "5.25");
	store_rec_free(&r);

	get_ok(s, audit, &r);
	assert_true(r.type == type_of("audit"));
	assert_field(&r, "finding", "Sign-in sheets kept");
	assert_field(&r, "date", "2026-03-20");
	store_rec_free(&r);

	/* distinct ids, one commit per batch (and the admin commit that
	 * enrolled the site's hub log the first time it was written), one
	 * live record per type */
	assert_memory_not_equal(site, person, PROTO_ID_LEN);
	assert_memory_not_equal(cafe, action, PROTO_ID_LEN);
	assert_int_equal(store_status(s, &st), 0);
	assert_true(st.commits == 9);
	{
		static const char *const names[] = { "site", "person", "cafe",
			"action", "training", "milestone", "feedback",
			"audit" };
		for (size_t i = 0; i < NKV(names); i++)
			if (st.counts[type_index(names[i])] != 1)
				fail_msg("count of %s is %" PRIu64, names[i],
				    st.counts[type_index(names[i])]);
	}
	/* An unknown id reads as not found. */
	{
		uint8_t nope[16];
		memset(nope, 0x5a, sizeof nope);
		assert_int_equal(store_get(s, nope, &r), CS_ENOTFOUND);
	}
	assert_int_equal(store_verify(s, NULL, NULL), 0);
	t_close(s);
}

/* A put that must fail: the cause names the field, the batch is unchanged. */
static void put_fails(struct store *s, const char *type, const char *field,
    const struct store_kv *kv, size_t n)
{
	struct store_batch *b = store_batch_new(s);
	uint8_t id[16];
	char *cause = NULL;
	int rc;

	rc = store_batch_put(b, type_of(type), id, 1, kv, n, &cause);
	if (rc == 0)
		fail_msg("%s with %s=%s was accepted", type, kv[n - 1].name,
		    kv[n - 1].value);
	if (cause == NULL || strstr(cause, field) == NULL)
		fail_msg("%s: cause '%s' does not name %s", type,
		    cause ? cause : "NULL", field);
	assert_int_equal(store_batch_count(b), 0);
	assert_null(store_batch_warning(b, 0));
	free(cause);
	store_batch_free(b);
}

#define PUT_FAILS(s, type, field, ...) do {				\
	const struct store_kv kv_[] = { __VA_ARGS__ };			\
	put_fails((s), (type), (field), kv_, NKV(kv_));			\
} while (0)

static void test_put_validation(void **state)
{
	uint8_t site[16], site2[16], cafe[16];
	char hsite[33], unknown[33], prefix[5];
	char *long_name;
	struct store *s;
	struct store_status before, after;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", site, 1, { "name", "North" });
	hexid(site, hsite);
	assert_int_equal(store_status(s, &before), 0);

#define CAFE_BASE { "site", hsite }, { "format", "parent" }, \
	{ "factors", "resilience" }
	PUT_FAILS(s, "cafe", "date", CAFE_BASE, { "date", "2026-02-30" });
	PUT_FAILS(s, "cafe", "date", CAFE_BASE, { "date", "2026-1-1" });
	PUT_FAILS(s, "cafe", "date", CAFE_BASE, { "date", "x" });
	PUT_FAILS(s, "cafe", "format", { "site", hsite },
	    { "date", "2026-03-01" }, { "factors", "resilience" },
	    { "format", "brunch" });
	PUT_FAILS(s, "cafe", "factors", { "site", hsite },
	    { "date", "2026-03-01" }, { "format", "parent" },
	    { "factors", "resilience,hope" });
	PUT_FAILS(s, "cafe", "factors", { "site", hsite },
	    { "date", "2026-03-01" }, { "format", "parent" },
	    { "factors", "resilience,resilience" });
	PUT_FAILS(s, "cafe", "series_no", CAFE_BASE, { "date", "2026-03-01" },
	    { "series_no", "8" });
	PUT_FAILS(s, "cafe", "attendees", CAFE_BASE, { "date", "2026-03-01" },
	    { "attendees", "-4" });
	PUT_FAILS(s, "cafe", "attendees", CAFE_BASE, { "date", "2026-03-01" },
	    { "attendees", "twelve" });
	PUT_FAILS(s, "cafe", "attendees", CAFE_BASE, { "date", "2026-03-01" },
	    { "attendees", "100001" });
	PUT_FAILS(s, "cafe", "colour", CAFE_BASE, { "date", "2026-03-01" },
	    { "colour", "red" });
	/* missing required fields on create */
	PUT_FAILS(s, "cafe", "factors", { "site", hsite },
	    { "date", "2026-03-01" }, { "format", "parent" });
	PUT_FAILS(s, "person", "roles", { "name", "Bo" });
	PUT_FAILS(s, "audit", "finding", { "site", hsite },
	    { "date", "2026-03-01" });
	/* a required field given empty */
	PUT_FAILS(s, "site", "name", { "name", "" });
	/* text too long */
	long_name = malloc(202);
	assert_non_null(long_name);
	memset(long_name, 'n', 201);
	long_name[201] = '\0';
	PUT_FAILS(s, "site", "name", { "name", long_name });
	free(long_name);
	/* a reference prefix that matches nothing, or not hex */
	PUT_FAILS(s, "cafe", "site", { "date", "2026-03-01" },
	    { "format", "parent" }, { "factors", "resilience" },
	    { "site", "ffff" });
	PUT_FAILS(s, "cafe", "site", { "date", "2026-03-01" },
	    { "format", "parent" }, { "factors", "resilience" },
	    { "site", "not-an-id" });
	/* a reference to a record of another type */
	{
		uint8_t person[16];
		char hp[33];
		PUT_OK(s, "person", person, 1, { "name", "Cy" },
		    { "roles", "coach" });
		hexid(person, hp);
		PUT_FAILS(s, "cafe", "site", { "date", "2026-03-01" },
		    { "format", "parent" }, { "factors", "resilience" },
		    { "site", hp });
		assert_int_equal(store_status(s, &before), 0);
	}
	/* an ambiguous prefix: two sites made in the same run share the
	 * first hex digits of their time-based ids */
	PUT_OK(s, "site", site2, 1, { "name", "South" });
	assert_int_equal(store_status(s, &before), 0);
	memcpy(prefix, hsite, 4);
	prefix[4] = '\0';
	if (memcmp(site, site2, 2) == 0)
		PUT_FAILS(s, "cafe", "site", { "date", "2026-03-01" },
		    { "format", "parent" }, { "factors", "resilience" },
		    { "site", prefix });
	/* a full id not on this node: accepted, with a warning */
	memset(unknown, 'e', 32);
	unknown[32] = '\0';
	{
		struct store_batch *b = store_batch_new(s);
		const struct store_kv kv[] = { { "site", unknown },
			{ "date", "2026-03-01" }, { "format", "parent" },
			{ "factors", "resilience" } };
		char *cause = NULL;
		struct store_rec r;
		const char *w;

		assert_int_equal(store_batch_put(b, type_of("cafe"), cafe, 1,
		    kv, NKV(kv), &cause), 0);
		assert_int_equal(store_batch_count(b), 1);
		w = store_batch_warning(b, 0);
		assert_non_null(w);
		assert_non_null(strstr(w, "site"));
		assert_int_equal(store_batch_commit(b, &cause), 0);
		store_batch_free(b);
		get_ok(s, cafe, &r);
		assert_field(&r, "site", unknown);
		store_rec_free(&r);
	}
	/* a café missing fidelity elements: stored, with a warning */
	{
		struct store_batch *b = store_batch_new(s);
		const struct store_kv kv[] = { { "site", hsite },
			{ "date", "2026-03-02" }, { "format", "parent" },
			{ "factors", "resilience" },
			{ "elements", "welcome,theme" } };
		char *cause = NULL;
		uint8_t id[16];
		size_t nw = 0;

		assert_int_equal(store_batch_put(b, type_of("cafe"), id, 1,
		    kv, NKV(kv), &cause), 0);
		while (store_batch_warning(b, nw) != NULL)
			nw++;
		assert_true(nw >= 1);
		assert_int_equal(store_batch_commit(b, &cause), 0);
		store_batch_free(b);
	}
	/* nothing else was written by the refused puts */
	assert_int_equal(store_status(s, &after), 0);
	/* each café in its site's hub log, enrolled by an admin commit the
	 * first time it is written */
	assert_true(after.commits == before.commits + 4);
	assert_true(after.counts[type_index("cafe")] == 2);

	/* an edit of a record that does not exist */
	{
		uint8_t nope[16];
		const struct store_kv kv[] = { { "name", "X" } };
		memset(nope, 0x42, sizeof nope);
		assert_true(put_kv(s, "site", nope, 0, kv, 1, NULL) < 0);
	}
	/* an edit through the wrong type */
	{
		const struct store_kv kv[] = { { "name", "X" } };
		assert_true(put_kv(s, "person", site, 0, kv, 1, NULL) < 0);
	}
	/* an edit that clears a required field */
	{
		const struct store_kv kv[] = { { "name", "" } };
		assert_true(put_kv(s, "site", site, 0, kv, 1, NULL) < 0);
	}
	t_close(s);
}

struct split_acc {
	size_t n;
	uint32_t max_ops;
	size_t max_len;
	uint64_t ops;
};

static int split_cb(const struct store_commit *sc, void *arg)
{
	struct split_acc *a = arg;

	a->n++;
	a->ops += sc->c->nops;
	if (sc->c->nops > a->max_ops)
		a->max_ops = sc->c->nops;
	if (sc->elen > a->max_len)
		a->max_len = sc->elen;
	return 0;
}

/*
 * A batch larger than one commit is split at PROTO_MAX_OPS ops and at
 * STORE_LOCAL_COMMIT bytes (which binds first for ops of this size),
 * signed as a chain and committed at once; the LMDB map, started tiny,
 * grows instead of failing.
 */
static void test_batch_split_and_growth(void **state)
{
	const size_t nsites = PROTO_MAX_OPS + 10, ncafes = 200;
	uint8_t (*ids)[PROTO_ID_LEN];
	uint8_t site[16], cafe[16];
	struct store *s, *r;
	struct store_batch *b;
	struct store_status st, sr;
	struct split_acc acc;
	struct clist l = { 0 };
	char *cause = NULL, hsite[33], name[32], *harvest;
	(void)state;

	/* storage/store.c reads the initial map size from here */
	setenv("CAFESYNC_MAP_SIZE", "262144", 1);
	s = mk_store("hub", "hub", NULL, NULL);
	ids = calloc(nsites, PROTO_ID_LEN);
	assert_non_null(ids);

	b = store_batch_new(s);
	for (size_t i = 0; i < nsites; i++) {
		const struct store_kv kv[] = { { "name", name } };
		snprintf(name, sizeof name, "Site %zu", i);
		if (store_batch_put(b, type_of("site"), ids[i], 1, kv, 1,
		    &cause) != 0)
			fail_msg("put %zu: %s", i, cause);
	}
	assert_int_equal(store_batch_count(b), nsites);
	if (store_batch_commit(b, &cause) != 0)
		fail_msg("commit: %s", cause ? cause : "");
	store_batch_free(b);

	memset(&acc, 0, sizeof acc);
	assert_int_equal(store_log(s, NULL, 1, split_cb, &acc), 0);
	assert_true(acc.n >= 3);
	assert_true(acc.max_ops <= PROTO_MAX_OPS);
	assert_true(acc.max_len <= STORE_LOCAL_COMMIT);
	assert_true(acc.ops == nsites);

	/* by bytes: 200 cafés of 8000-byte harvests */
	memcpy(site, ids[0], PROTO_ID_LEN);
	hexid(site, hsite);
	harvest = malloc(8001);
	assert_non_null(harvest);
	memset(harvest, 'h', 8000);
	harvest[8000] = '\0';
	b = store_batch_new(s);
	for (size_t i = 0; i < ncafes; i++) {
		const struct store_kv kv[] = { { "site", hsite },
			{ "date", "2026-04-01" }, { "format", "parent" },
			{ "factors", "resilience" }, { "harvest", harvest } };
		if (store_batch_put(b, type_of("cafe"), cafe, 1, kv, NKV(kv),
		    &cause) != 0)
			fail_msg("cafe %zu: %s", i, cause);
	}
	free(harvest);
	if (store_batch_commit(b, &cause) != 0)
		fail_msg("commit: %s", cause ? cause : "");
	store_batch_free(b);
	unsetenv("CAFESYNC_MAP_SIZE");

	memset(&acc, 0, sizeof acc);
	assert_int_equal(store_log(s, NULL, 1, split_cb, &acc), 0);
	assert_true(acc.n >= 1600000 / STORE_LOCAL_COMMIT);
	assert_true(acc.max_len <= STORE_LOCAL_COMMIT);
	/* and the member op that enrolled the site's hub log */
	assert_true(acc.ops == nsites + ncafes + 1);
	assert_int_equal(store_status(s, &st), 0);
	assert_true(st.counts[type_index("site")] == nsites);
	assert_true(st.counts[type_index("cafe")] == ncafes);
	assert_true(st.commits == acc.n);
	{
		struct store_rec rec;
		get_ok(s, ids[nsites - 1], &rec);
		snprintf(name, sizeof name, "Site %zu", nsites - 1);
		assert_field(&rec, "name", name);
		store_rec_free(&rec);
		get_ok(s, cafe, &rec);
		assert_int_equal(store_rec_value(&rec, "harvest")->via.str.size,
		    8000);
		store_rec_free(&rec);
	}
	assert_int_equal(store_verify(s, NULL, NULL), 0);

	/* the split commits form a chain another node accepts */
	collect(s, NULL, &l);
	r = mk_store("replica", "replica", store_info(s)->network, NULL);
	apply_all_ok(r, &l);
	assert_int_equal(store_status(r, &sr), 0);
	assert_memory_equal(st.digest, sr.digest, PROTO_HASH_LEN);
	clist_free(&l);
	free(ids);
	t_close(s);
	t_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_put_every_type, test_teardown),
		cmocka_unit_test_teardown(test_put_validation, test_teardown),
		cmocka_unit_test_teardown(test_batch_split_and_growth,
		    test_teardown),
	};
	return cmocka_run_group_tests_name("store_put", tests, group_setup,
	    group_teardown);
}
