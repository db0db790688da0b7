/*
 * test_store_apply.c: unit tests of the acceptance of received commits
 * (store_apply, storage/).
 *
 * Covers: commits between stores of one network (applied, duplicate, bad
 * signature, seq gap, broken chain, another network, fork kept as
 * evidence and not applied, a clock that does not move forward, ops that
 * do not fit the schema); a clock past PROTO_HLC_MAX_MS refused; the clock
 * following a received commit from a clock a day ahead (the writing key
 * enrolled as a hub first).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/proto.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

struct head_acc {
	size_t n;
	uint8_t origin[4][PROTO_KEY_LEN];
	uint64_t seq[4];
	uint8_t hash[4][PROTO_HASH_LEN];
};

static int head_cb(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const uint8_t hash[PROTO_HASH_LEN], void *arg)
{
	struct head_acc *h = arg;

	if (h->n < 4) {
		memcpy(h->origin[h->n], origin, PROTO_KEY_LEN);
		h->seq[h->n] = seq;
		memcpy(h->hash[h->n], hash, PROTO_HASH_LEN);
	}
	h->n++;
	return 0;
}

static void test_apply_between_stores(void **state)
{
	uint8_t s1[16], s2[16], s3[16];
	struct store *a, *b, *x;
	struct clist la = { 0 }, lx = { 0 };
	struct store_status sa, sb;
	struct store_rec r;
	struct head_acc h;
	struct citem bad;
	(void)state;

	a = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(a, "site", s1, 1, { "name", "One" });
	PUT_OK(a, "site", s2, 1, { "name", "Two" });
	PUT_OK(a, "site", s3, 1, { "name", "Three" });
	PUT_OK(a, "site", s1, 0, { "county", "Lane" });
	collect(a, store_info(a)->node, &la);
	assert_int_equal(la.n, 4);
	for (size_t i = 0; i < la.n; i++)
		assert_true(la.v[i].seq == i + 1);

	b = mk_store("replica", "replica", store_info(a)->network, NULL);
	assert_memory_equal(store_info(b)->network, store_info(a)->node,
	    PROTO_KEY_LEN);
	assert_memory_not_equal(store_info(b)->node, store_info(a)->node,
	    PROTO_KEY_LEN);

	/* applied, then a duplicate */
	assert_int_equal(apply_one(b, &la.v[0]), 0);
	assert_int_equal(apply_one(b, &la.v[0]), CS_EDUP);
	get_ok(b, s1, &r);
	assert_field(&r, "name", "One");
	store_rec_free(&r);

	/* seq gap: seq 3 before seq 2 */
	{
		struct store_item it;
		assert_int_equal(apply_raw(b, la.v[2].e, la.v[2].elen,
		    la.v[2].sig, &it), CS_ESEQ);
		assert_memory_equal(it.origin, store_info(a)->node,
		    PROTO_KEY_LEN);
		assert_true(it.seq == 3);
		assert_true(strlen(it.cause) > 0);
	}
	assert_int_equal(store_get(b, s3, &r), CS_ENOTFOUND);

	/* a flipped signature byte, a flipped byte of E */
	bad = la.v[1];
	bad.sig[10] ^= 0x40;
	assert_int_equal(apply_one(b, &bad), CS_ESIG);
	bad = la.v[1];
	bad.e = malloc(bad.elen);
	assert_non_null(bad.e);
	memcpy(bad.e, la.v[1].e, bad.elen);
	bad.e[bad.elen - 2] ^= 0x01;	/* inside the name "Two" */
	assert_true(apply_one(b, &bad) < 0);
	/* a truncated E */
	{
		struct store_item it;
		assert_true(apply_raw(b, bad.e, bad.elen - 1, la.v[1].sig,
		    &it) < 0);
	}
	free(bad.e);
	assert_int_equal(store_get(b, s2, &r), CS_ENOTFOUND);

	/* then the real ones, in one batch with a duplicate in the middle */
	{
		const struct citem *v[4] = { &la.v[1], &la.v[0], &la.v[2],
			&la.v[3] };
		int res[4];
		apply_items(b, v, 4, res);
		assert_int_equal(res[0], 0);
		assert_int_equal(res[1], CS_EDUP);
		assert_int_equal(res[2], 0);
		assert_int_equal(res[3], 0);
	}
	get_ok(b, s1, &r);
	assert_field(&r, "county", "Lane");
	store_rec_free(&r);
	assert_int_equal(store_status(a, &sa), 0);
	assert_int_equal(store_status(b, &sb), 0);
	assert_memory_equal(sa.digest, sb.digest, PROTO_HASH_LEN);
	assert_true(sb.counts[type_index("site")] == 3);
	assert_true(sb.commits == 4);
	memset(&h, 0, sizeof h);
	assert_int_equal(store_heads(b, head_cb, &h), 0);
	assert_int_equal(h.n, 1);
	assert_memory_equal(h.origin[0], store_info(a)->node, PROTO_KEY_LEN);
	assert_true(h.seq[0] == 4);
	assert_memory_equal(h.hash[0], la.v[3].hash, PROTO_HASH_LEN);

	/* a commit of a node of another network */
	x = mk_store("stranger", "hub", NULL, NULL);
	{
		uint8_t id[16];
		PUT_OK(x, "site", id, 1, { "name", "Elsewhere" });
	}
	collect(x, NULL, &lx);
	assert_int_equal(lx.n, 1);
	assert_int_equal(apply_one(b, &lx.v[0]), CS_ESIG);
	/* B's own network id signed over, but by a key of another network */
	assert_int_equal(store_status(b, &sb), 0);
	assert_memory_equal(sa.digest, sb.digest, PROTO_HASH_LEN);
	assert_true(sb.commits == 4);
	assert_int_equal(store_verify(b, NULL, NULL), 0);

	clist_free(&la);
	clist_free(&lx);
	t_close(a);
	t_close(b);
	t_close(x);
}

static void test_apply_chain_and_fork(void **state)
{
	struct origin adm;
	uint8_t id1[16], id2[16], junk[PROTO_HASH_LEN];
	struct citem c1, c2, c2bad, c3gap, fork1, c1other;
	struct store *b;
	struct store_rec r;
	struct store_status st;
	struct hop op;
	uint8_t net2[PROTO_KEY_LEN];
	(void)state;

	new_origin(&adm);
	randombytes_buf(id1, sizeof id1);
	randombytes_buf(id2, sizeof id2);
	randombytes_buf(junk, sizeof junk);
	/* the hand-made key is the network's admin */
	b = mk_store("replica", "replica", adm.pk, NULL);

	site_op(&op, id1, "Alpha");
	hb_next(&c1, &adm, adm.pk, HLC_AT(T_MS, 1), &op, 1);
	assert_int_equal(apply_one(b, &c1), 0);

	/* wrong prev at seq 2 */
	site_op(&op, id2, "Bravo");
	hb_make(&c2bad, &adm, adm.pk, 2, junk, HLC_AT(T_MS + 1, 0), &op, 1);
	assert_int_equal(apply_one(b, &c2bad), CS_ECHAIN);
	/* seq 3 while the head is 1 */
	hb_make(&c3gap, &adm, adm.pk, 3, junk, HLC_AT(T_MS + 2, 0), &op, 1);
	assert_int_equal(apply_one(b, &c3gap), CS_ESEQ);
	assert_int_equal(store_get(b, id2, &r), CS_ENOTFOUND);

	/* signed for another network */
	randombytes_buf(net2, sizeof net2);
	hb_make(&c1other, &adm, net2, 2, c1.hash, HLC_AT(T_MS + 1, 0), &op, 1);
	assert_int_equal(apply_one(b, &c1other), CS_ESIG);

	/* the right seq 2 */
	hb_next(&c2, &adm, adm.pk, HLC_AT(T_MS + 1, 0), &op, 1);
	assert_int_equal(apply_one(b, &c2), 0);
	get_ok(b, id2, &r);
	assert_field(&r, "name", "Bravo");
	store_rec_free(&r);

	/* a fork: another validly signed commit at seq 1 */
	site_op(&op, id1, "Mallory");
	hb_make(&fork1, &adm, adm.pk, 1, NULL, HLC_AT(T_MS + 5, 0), &op, 1);
	assert_memory_not_equal(fork1.hash, c1.hash, PROTO_HASH_LEN);
	{
		struct store_item it;
		assert_int_equal(apply_raw(b, fork1.e, fork1.elen, fork1.sig,
		    &it), CS_EFORK);
		assert_true(it.seq == 1);
		assert_memory_equal(it.origin, adm.pk, PROTO_KEY_LEN);
	}
	assert_int_equal(store_status(b, &st), 0);
	assert_true(st.forks == 1);
	assert_true(st.commits == 2);
	get_ok(b, id1, &r);
	assert_field(&r, "name", "Alpha");
	store_rec_free(&r);
	/* the original is still a duplicate, not a fork */
	assert_int_equal(apply_one(b, &c1), CS_EDUP);
	/* a fork with a bad signature is not evidence */
	fork1.sig[0] ^= 1;
	assert_int_equal(apply_one(b, &fork1), CS_ESIG);
	assert_int_equal(store_status(b, &st), 0);
	assert_true(st.forks == 1);
	/* a commit that does not move the clock forward */
	{
		struct citem c3old;
		struct origin copy = adm;
		site_op(&op, id2, "Charlie");
		hb_next(&c3old, &copy, adm.pk, HLC_AT(T_MS, 0), &op, 1);
		assert_true(apply_one(b, &c3old) < 0);
		free(c3old.e);
	}
	assert_int_equal(store_verify(b, NULL, NULL), 0);

	free(c1.e);
	free(c2.e);
	free(c2bad.e);
	free(c3gap.e);
	free(fork1.e);
	free(c1other.e);
	t_close(b);
}

/*
 * The clock: a node that has received a commit from a clock a day ahead
 * orders its own later edits after it, so its edit of that record wins.
 */
static void test_clock_follows_received(void **state)
{
	struct origin adm;
	uint8_t x[16], y[16];
	struct citem c0, c1;
	struct hop op;
	struct store *b;
	struct clist lb = { 0 };
	struct store_rec r;
	struct timespec ts;
	uint64_t future, hfut;
	(void)state;

	clock_gettime(CLOCK_REALTIME, &ts);
	future = (uint64_t)ts.tv_sec * 1000 + 86400000;
	hfut = HLC_AT(future, 3);
	new_origin(&adm);
	randombytes_buf(x, sizeof x);
	b = mk_store("hub", "hub", adm.pk, NULL);
	/* the admin enrolls b (at the present clock) so that b may write */
	{
		const uint8_t *keys[1] = { store_info(b)->node };
		enroll_next(&c0, &adm, HLC_AT((uint64_t)ts.tv_sec * 1000, 0),
		    keys, 1);
		assert_int_equal(apply_one(b, &c0), 0);
	}
	site_op(&op, x, "From the future");
	hb_next(&c1, &adm, adm.pk, hfut, &op, 1);
	assert_int_equal(apply_one(b, &c1), 0);

	PUT_OK(b, "site", y, 1, { "name", "Local" });
	PUT_OK(b, "site", x, 0, { "name", "Edited here" });
	collect(b, store_info(b)->node, &lb);
	assert_int_equal(lb.n, 2);
	for (size_t i = 0; i < lb.n; i++)
		if (lb.v[i].hlc <= hfut)
			fail_msg("local commit %zu has clock %" PRIx64 ", not "
			    "after the received %" PRIx64, i, lb.v[i].hlc,
			    hfut);
	get_ok(b, x, &r);
	assert_field(&r, "name", "Edited here");
	assert_true(store_rec_clock(&r, "name") > hfut);
	store_rec_free(&r);
	clist_free(&lb);
	free(c0.e);
	free(c1.e);
	t_close(b);
}

/*
 * A commit whose clock is past PROTO_HLC_MAX_MS is refused: accepted, it
 * would push every node's clock to the end and stop local writes.
 */
static void test_apply_clock_bound(void **state)
{
	struct origin adm;
	uint8_t id1[16];
	struct citem c;
	struct store *b;
	struct hop ops[1];
	(void)state;

	new_origin(&adm);
	randombytes_buf(id1, sizeof id1);
	b = mk_store("replica", "replica", adm.pk, NULL);
	site_op(&ops[0], id1, "Alpha");
	hb_make(&c, &adm, adm.pk, 1, NULL, UINT64_MAX, ops, 1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);
	hb_make(&c, &adm, adm.pk, 1, NULL, (PROTO_HLC_MAX_MS + 1) << 16, ops,
	    1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);
	hb_make(&c, &adm, adm.pk, 1, NULL, PROTO_HLC_MAX_MS << 16, ops, 1);
	assert_int_equal(apply_one(b, &c), 0);
	free(c.e);
	t_close(b);
}

/* An op of an unknown type or field, or a bad value, is refused whole. */
static void test_apply_schema(void **state)
{
	struct origin adm;
	uint8_t id1[16], id2[16];
	struct citem c;
	struct store *b;
	struct store_rec r;
	struct hop ops[2];
	(void)state;

	new_origin(&adm);
	randombytes_buf(id1, sizeof id1);
	randombytes_buf(id2, sizeof id2);
	b = mk_store("replica", "replica", adm.pk, NULL);

	/* a good op and a bad date in one commit: nothing lands */
	site_op(&ops[0], id1, "Alpha");
	hop_put(&ops[1], "cafe", id2);
	hop_field(&ops[1], "date", "2026-02-30");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 2);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);
	assert_int_equal(store_get(b, id1, &r), CS_ENOTFOUND);

	hop_put(&ops[0], "spaceship", id1);
	hop_field(&ops[0], "name", "x");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);

	hop_put(&ops[0], "site", id1);
	hop_field(&ops[0], "colour", "red");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);

	hop_put(&ops[0], "cafe", id1);
	hop_field(&ops[0], "factors", "social_connections,resilience");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);

	/* the same id put as two types in one commit */
	site_op(&ops[0], id1, "Alpha");
	hop_put(&ops[1], "person", id1);
	hop_field(&ops[1], "name", "Ana");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 2);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);

	/* and a good one still applies at seq 1 */
	site_op(&ops[0], id1, "Alpha");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 1);
	assert_int_equal(apply_one(b, &c), 0);
	free(c.e);
	get_ok(b, id1, &r);
	assert_true(r.type == type_of("site"));
	store_rec_free(&r);
	t_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_apply_between_stores, test_teardown),
		cmocka_unit_test_teardown(test_apply_chain_and_fork, test_teardown),
		cmocka_unit_test_teardown(test_apply_schema, test_teardown),
		cmocka_unit_test_teardown(test_apply_clock_bound, test_teardown),
		cmocka_unit_test_teardown(test_clock_follows_received,
		    test_teardown),
	};
	return cmocka_run_group_tests_name("store_apply", tests, group_setup,
	    group_teardown);
}
