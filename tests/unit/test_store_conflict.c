/*
 * test_store_conflict.c: unit tests of conflicts (store_conflicts,
 * storage/).
 *
 * Covers: the smallest delivery-order cases for conflicts (the same one
 * conflict listed in every order, with and without an unrelated conflict
 * already stored; settling the only conflict in the store); conflicts
 * from concurrent local edits and their settling by a later edit.  Every
 * writing key other than the network's admin is enrolled as a hub before
 * its first commit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/proto.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

/*
 * The smallest case of the merge property for conflicts.  County of one
 * site: W1 creates it (origin 0); W2 (origin 1) edits it having seen W1;
 * W3 (origin 2) edits it having seen W2; W5 (origin 0) edits it having
 * seen only W1.  W2 was seen and replaced by W3, so it is no conflict;
 * W3 lost to W5, which had not seen it: that is the one conflict.  Every
 * delivery order (per-origin order kept) must list the same.
 *
 * With background, two more origins first leave an unrelated conflict on
 * another record, so the conflicts database is never empty.
 */
static void run_minimal(const char *const (*orders)[4], size_t norders,
    int background)
{
	struct origin o[5];
	uint8_t id[16], bid[16];
	struct citem c[4];	/* W1, W2, W3, W5 */
	struct citem bg[2];
	struct citem en;	/* o[0] enrolls o[1] to o[4] */
	struct hop op;
	const uint64_t h1 = HLC_AT(T_MS, 1), h2 = HLC_AT(T_MS, 2),
	    h3 = HLC_AT(T_MS, 3), h5 = HLC_AT(T_MS, 5);
	struct conf_acc *ca = calloc(1, sizeof *ca);
	char first[200] = "";
	size_t first_n = 0;

	assert_non_null(ca);
	for (int i = 0; i < 5; i++)
		new_origin(&o[i]);
	randombytes_buf(id, sizeof id);
	randombytes_buf(bid, sizeof bid);
	/* the admin's seq 1, before W1 (its seq 2) and W5 (its seq 3) */
	{
		const uint8_t *keys[4] = { o[1].pk, o[2].pk, o[3].pk,
			o[4].pk };
		enroll_next(&en, &o[0], HLC_AT(T_MS, 0), keys, 4);
	}
	hop_put(&op, "site", id);
	hop_field(&op, "name", "Hill");
	hop_field(&op, "county", "Lane");
	hb_next(&c[0], &o[0], o[0].pk, h1, &op, 1);
	hop_put(&op, "site", id);
	hop_field(&op, "county", "Linn");
	hop_base(&op, "county", h1);
	hb_next(&c[1], &o[1], o[0].pk, h2, &op, 1);
	hop_put(&op, "site", id);
	hop_field(&op, "county", "Coos");
	hop_base(&op, "county", h2);
	hb_next(&c[2], &o[2], o[0].pk, h3, &op, 1);
	hop_put(&op, "site", id);
	hop_field(&op, "county", "Polk");
	hop_base(&op, "county", h1);
	hb_next(&c[3], &o[0], o[0].pk, h5, &op, 1);
	/* background: two blind writes of another record's region */
	hop_put(&op, "site", bid);
	op.edit = 1;
	hop_field(&op, "region", "North");
	hb_next(&bg[0], &o[3], o[0].pk, HLC_AT(T_MS, 7), &op, 1);
	hop_put(&op, "site", bid);
	op.edit = 1;
	hop_field(&op, "region", "South");
	hb_next(&bg[1], &o[4], o[0].pk, HLC_AT(T_MS, 8), &op, 1);

	for (size_t k = 0; k < norders; k++) {
		struct store *s = mk_store("replica", "replica", o[0].pk,
		    NULL);
		struct store_rec r;

		snprintf(t_ctx, sizeof t_ctx, "enrollment");
		assert_int_equal(apply_one(s, &en), 0);
		if (background) {
			snprintf(t_ctx, sizeof t_ctx, "background");
			assert_int_equal(apply_one(s, &bg[0]), 0);
			assert_int_equal(apply_one(s, &bg[1]), 0);
			conflicts_of(s, bid, ca);
			assert_int_equal(ca->n, 1);
		}
		for (int i = 0; i < 4; i++) {
			int w = orders[k][i][1] - '0';
			int ci = w == 5 ? 3 : w - 1;
			snprintf(t_ctx, sizeof t_ctx, "order %s %s %s %s, "
			    "applying %s", orders[k][0], orders[k][1],
			    orders[k][2], orders[k][3], orders[k][i]);
			assert_int_equal(apply_one(s, &c[ci]), 0);
		}
		t_ctx[0] = '\0';
		get_ok(s, id, &r);
		assert_field(&r, "county", "Polk");
		store_rec_free(&r);
		conflicts_of(s, id, ca);
		if (k == 0) {
			first_n = ca->n;
			if (ca->n > 0)
				snprintf(first, sizeof first, "%s",
				    ca->lines[0]);
			/* one conflict: Coos (W3) lost to Polk (W5) */
			assert_int_equal(ca->n, 1);
			assert_non_null(strstr(ca->lines[0], " county Coos "));
		} else if (ca->n != first_n || (ca->n > 0 &&
		    strcmp(ca->lines[0], first) != 0)) {
			fail_msg("order %s %s %s %s lists %zu conflicts "
			    "(first: %s; second: %s), order %s %s %s %s "
			    "lists %zu (%s)", orders[k][0], orders[k][1],
			    orders[k][2], orders[k][3], ca->n,
			    ca->n ? ca->lines[0] : "",
			    ca->n > 1 ? ca->lines[1] : "", orders[0][0],
			    orders[0][1], orders[0][2], orders[0][3],
			    first_n, first);
		}
		t_close(s);
	}
	for (int i = 0; i < 4; i++)
		free(c[i].e);
	free(bg[0].e);
	free(bg[1].e);
	free(en.e);
	free(ca);
}

static void test_conflicts_order_minimal(void **state)
{
	static const char *const orders[][4] = {
		{ "W1", "W2", "W3", "W5" }, { "W1", "W2", "W5", "W3" },
		{ "W1", "W5", "W2", "W3" }, { "W1", "W3", "W5", "W2" },
		{ "W3", "W1", "W2", "W5" }, { "W3", "W2", "W1", "W5" },
		{ "W2", "W3", "W1", "W5" }, { "W3", "W1", "W5", "W2" },
	};
	(void)state;
	run_minimal(orders, NKV(orders), 1);
}

/*
 * Settling the only conflict in the store (W3, having seen W2, lands
 * after W2 lost to W5) must not fail the apply.
 */
static void test_conflict_settle_last(void **state)
{
	static const char *const orders[][4] = {
		{ "W1", "W2", "W3", "W5" }, { "W1", "W2", "W5", "W3" },
	};
	(void)state;
	run_minimal(orders, NKV(orders), 0);
}

/* Concurrent local edits through store_batch_put leave a conflict. */
static void test_local_edit_conflict(void **state)
{
	uint8_t site[16];
	struct store *a, *b;
	struct clist la = { 0 }, lb = { 0 }, la2 = { 0 };
	struct store_status sa, sb;
	struct conf_acc *ca = calloc(1, sizeof *ca), *cb = calloc(1, sizeof *cb);
	struct store_rec ra, rb;
	(void)state;

	assert_non_null(ca);
	assert_non_null(cb);
	a = mk_store("hub", "hub", NULL, NULL);
	b = mk_store("site", "site", store_info(a)->network, NULL);
	/* a is the admin; b edits a site record: enrolled as a hub */
	enroll_store(a, b, "hub");
	PUT_OK(a, "site", site, 1, { "name", "Hill" }, { "county", "Lane" });
	collect(a, NULL, &la);
	apply_all_ok(b, &la);

	/* both edit county without seeing each other; a also edits name
	 * after seeing nothing new (no conflict expected there) */
	PUT_OK(a, "site", site, 0, { "county", "Linn" });
	PUT_OK(b, "site", site, 0, { "county", "Coos" });
	PUT_OK(a, "site", site, 0, { "name", "Hilltop" });

	collect(a, store_info(a)->node, &la2);
	collect(b, store_info(b)->node, &lb);
	apply_all_ok(b, &la2);
	apply_all_ok(a, &lb);

	assert_int_equal(store_status(a, &sa), 0);
	assert_int_equal(store_status(b, &sb), 0);
	assert_memory_equal(sa.digest, sb.digest, PROTO_HASH_LEN);
	get_ok(a, site, &ra);
	get_ok(b, site, &rb);
	{
		char va[64], vb[64];
		field_text(&ra, "county", va, sizeof va);
		field_text(&rb, "county", vb, sizeof vb);
		assert_string_equal(va, vb);
		assert_true(strcmp(va, "Linn") == 0 || strcmp(va, "Coos") == 0);
	}
	assert_field(&ra, "name", "Hilltop");
	store_rec_free(&ra);
	store_rec_free(&rb);

	conflicts_of(a, site, ca);
	conflicts_of(b, site, cb);
	assert_int_equal(ca->n, 1);
	assert_int_equal(cb->n, 1);
	assert_string_equal(ca->lines[0], cb->lines[0]);
	assert_non_null(strstr(ca->lines[0], " county "));
	free(ca);
	free(cb);

	clist_free(&la);
	clist_free(&la2);
	clist_free(&lb);
	t_close(a);
	t_close(b);
}

/*
 * A conflict listed on a node is settled by a later edit of the field
 * made on that node (after the conflict was there to see): it no longer
 * shows in store_conflicts.
 */
static void test_conflict_settled_by_edit(void **state)
{
	uint8_t site[16];
	struct store *a, *b;
	struct clist la = { 0 }, lb = { 0 };
	struct conf_acc *ca = calloc(1, sizeof *ca);
	(void)state;

	assert_non_null(ca);
	a = mk_store("hub", "hub", NULL, NULL);
	b = mk_store("site", "site", store_info(a)->network, NULL);
	/* a is the admin; b edits a site record: enrolled as a hub */
	enroll_store(a, b, "hub");
	PUT_OK(a, "site", site, 1, { "name", "Hill" }, { "county", "Lane" });
	collect(a, NULL, &la);
	apply_all_ok(b, &la);
	PUT_OK(a, "site", site, 0, { "county", "Linn" });
	PUT_OK(b, "site", site, 0, { "county", "Coos" });
	collect(b, store_info(b)->node, &lb);
	apply_all_ok(a, &lb);
	conflicts_of(a, site, ca);
	assert_int_equal(ca->n, 1);

	PUT_OK(a, "site", site, 0, { "county", "Lane" });
	conflicts_of(a, site, ca);
	if (ca->n != 0)
		fail_msg("conflict still listed after an edit made with it "
		    "in view: %s", ca->lines[0]);
	free(ca);
	clist_free(&la);
	clist_free(&lb);
	t_close(a);
	t_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_conflict_settle_last, test_teardown),
		cmocka_unit_test_teardown(test_conflicts_order_minimal, test_teardown),
		cmocka_unit_test_teardown(test_local_edit_conflict, test_teardown),
		cmocka_unit_test_teardown(test_conflict_settled_by_edit, test_teardown),
	};
	return cmocka_run_group_tests_name("store_conflict", tests, group_setup,
	    group_teardown);
}
