/*
 * test_store_bundle.c: unit tests of bundles (store_bundle_export and
 * store_bundle_import, storage/).
 *
 * Covers: export and import (same digest, re-import all duplicates, since
 * points, a cut file, a damaged commit refusing the rest of its origin
 * only, another network, not a bundle at all).
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

struct refuse_acc {
	size_t n;
};

static void refuse_cb(uint64_t index, const uint8_t *origin, uint64_t seq,
    const char *why, void *arg)
{
	struct refuse_acc *r = arg;

	(void)index;
	(void)origin;
	(void)seq;
	assert_non_null(why);
	r->n++;
}

static void test_bundle(void **state)
{
	uint8_t s1[16], s2[16], p1[16];
	char h1[33];
	struct store *a, *b, *c, *d, *x;
	struct clist la = { 0 };
	struct store_status sb, sc;
	struct store_import_stats is;
	struct refuse_acc ra = { 0 };
	uint64_t count = 0, total;
	char *cause = NULL;
	FILE *f;
	long size;
	(void)state;

	/*
	 * A writes, B receives A's log and writes its own: two origins.
	 * A is the network's admin: its seq 1 is the member record that
	 * enrolls B (as a hub: B edits a site record), so A's writes below
	 * are its seqs 2 to 4.
	 */
	a = mk_store("hub", "hub", NULL, NULL);
	b = mk_store("site", "site", store_info(a)->network, NULL);
	enroll_store(a, b, "hub");
	PUT_OK(a, "site", s1, 1, { "name", "One" });
	PUT_OK(a, "site", s2, 1, { "name", "Two" });
	PUT_OK(a, "site", s1, 0, { "county", "Lane" });
	collect(a, NULL, &la);
	apply_all_ok(b, &la);
	hexid(s1, h1);
	PUT_OK(b, "person", p1, 1, { "name", "Ana" }, { "roles", "host" },
	    { "site", h1 });
	PUT_OK(b, "site", s2, 0, { "region", "Coast" });
	assert_int_equal(store_status(b, &sb), 0);
	total = sb.commits;
	/* 3 of A's writes and 2 of B's, and A's member record of B */
	assert_true(total == 6);

	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(store_bundle_export(b, f, NULL, 0, &count, &cause), 0);
	assert_true(count == total);
	size = ftell(f);
	assert_true(size > 0);

	/* import into a fresh store of the network */
	c = mk_store("replica", "replica", store_info(a)->network, NULL);
	rewind(f);
	assert_int_equal(store_bundle_import(c, f, refuse_cb, &ra, &is,
	    &cause), 0);
	assert_true(is.read == total);
	assert_true(is.applied == total);
	assert_true(is.dup == 0);
	assert_true(is.refused == 0);
	assert_int_equal(ra.n, 0);
	assert_int_equal(store_status(c, &sc), 0);
	assert_memory_equal(sb.digest, sc.digest, PROTO_HASH_LEN);
	assert_memory_equal(sb.counts, sc.counts, sizeof sb.counts);
	assert_true(sc.commits == total);

	/* again: all duplicates, nothing changes */
	rewind(f);
	assert_int_equal(store_bundle_import(c, f, refuse_cb, &ra, &is,
	    &cause), 0);
	assert_true(is.read == total);
	assert_true(is.dup == total);
	assert_true(is.applied == 0);
	assert_true(is.refused == 0);
	assert_int_equal(store_status(c, &sc), 0);
	assert_memory_equal(sb.digest, sc.digest, PROTO_HASH_LEN);
	assert_int_equal(store_verify(c, NULL, NULL), 0);

	/* a cut file: what comes before the cut lands, the cut is one
	 * refusal */
	{
		FILE *g = tmpfile();
		char *buf = malloc((size_t)size);
		struct store *e;

		assert_non_null(g);
		assert_non_null(buf);
		rewind(f);
		assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
		assert_int_equal(fwrite(buf, 1, (size_t)size - 3, g),
		    (size_t)size - 3);
		rewind(g);
		e = mk_store("replica", "replica", store_info(a)->network,
		    NULL);
		memset(&ra, 0, sizeof ra);
		store_bundle_import(e, g, refuse_cb, &ra, &is, &cause);
		free(cause);
		cause = NULL;
		assert_true(is.applied == total - 1);
		assert_true(is.refused == 1);
		assert_int_equal(ra.n, 1);
		t_close(e);
		fclose(g);
		free(buf);
	}

	/* since points: after A's seq 3 (its second write) and B's seq 1 */
	{
		FILE *g = tmpfile();
		struct store_since since[2];

		assert_non_null(g);
		memcpy(since[0].origin, store_info(a)->node, PROTO_KEY_LEN);
		since[0].seq = 3;
		memcpy(since[1].origin, store_info(b)->node, PROTO_KEY_LEN);
		since[1].seq = 1;
		assert_int_equal(store_bundle_export(b, g, since, 2, &count,
		    &cause), 0);
		assert_true(count == 2);
		/* a store that has the rest takes exactly these */
		d = mk_store("replica", "replica", store_info(a)->network,
		    NULL);
		apply_all_ok(d, &la);
		{
			struct clist lb1 = { 0 };
			collect(b, store_info(b)->node, &lb1);
			assert_int_equal(lb1.n, 2);
			assert_int_equal(apply_one(d, &lb1.v[0]), 0);
			clist_free(&lb1);
		}
		rewind(g);
		assert_int_equal(store_bundle_import(d, g, refuse_cb, &ra, &is,
		    &cause), 0);
		assert_true(is.read == 2);
		/* A's seq 4 was already there via la; B's seq 2 is new */
		assert_true(is.applied + is.dup == 2);
		assert_true(is.refused == 0);
		assert_int_equal(store_status(d, &sc), 0);
		assert_memory_equal(sb.digest, sc.digest, PROTO_HASH_LEN);
		t_close(d);
		fclose(g);
	}

	/*
	 * A hand-made bundle with A's seq 3 (its second write) damaged: seq
	 * 3 and the seq 4 behind it are refused, B's commits (another
	 * origin, enrolled by A's seq 1, which is intact) still land.
	 */
	{
		FILE *g = tmpfile();
		struct proto_enc w;
		struct clist all = { 0 };
		struct store *e;
		size_t refused_a = 0;

		assert_non_null(g);
		collect(b, NULL, &all);
		assert_int_equal(all.n, total);
		proto_enc_init(&w);
		proto_bundle_header(&w, store_info(a)->network);
		/* the admin log first, as senders put it (storage/trust.c):
		 * B's commits need A's seq 1, which enrolls B */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < all.n; i++) {
				const struct citem *ci = &all.v[i];
				int of_a = memcmp(ci->origin,
				    store_info(a)->node, PROTO_KEY_LEN) == 0;
				uint8_t sig[PROTO_SIG_LEN];

				if (of_a != (pass == 0))
					continue;
				memcpy(sig, ci->sig, sizeof sig);
				if (of_a && ci->seq == 3)
					sig[5] ^= 0x10;
				if (of_a && ci->seq >= 3)
					refused_a++;
				proto_bundle_item(&w, ci->e, ci->elen, sig);
			}
		}
		assert_int_equal(fwrite(w.sb.data, 1, w.sb.size, g),
		    w.sb.size);
		proto_enc_free(&w);
		rewind(g);
		e = mk_store("replica", "replica", store_info(a)->network,
		    NULL);
		memset(&ra, 0, sizeof ra);
		assert_int_equal(store_bundle_import(e, g, refuse_cb, &ra, &is,
		    &cause), 0);
		assert_int_equal(refused_a, 2);
		assert_true(is.read == total);
		assert_true(is.refused == 2);
		assert_true(is.applied == total - 2);
		assert_int_equal(ra.n, 2);
		{
			struct store_rec r;
			get_ok(e, p1, &r);	/* B's person landed */
			store_rec_free(&r);
			get_ok(e, s1, &r);	/* A's seq 4 did not */
			assert_null(store_rec_value(&r, "county"));
			store_rec_free(&r);
		}
		t_close(e);
		fclose(g);
		clist_free(&all);
	}

	/* a store of another network takes nothing */
	x = mk_store("stranger", "hub", NULL, NULL);
	{
		struct store_status sx0, sx1;
		int rc;
		assert_int_equal(store_status(x, &sx0), 0);
		rewind(f);
		memset(&is, 0, sizeof is);
		rc = store_bundle_import(x, f, refuse_cb, &ra, &is, &cause);
		free(cause);
		cause = NULL;
		assert_true(rc < 0 || is.refused > 0);
		assert_true(is.applied == 0);
		assert_int_equal(store_status(x, &sx1), 0);
		assert_memory_equal(sx0.digest, sx1.digest, PROTO_HASH_LEN);
		assert_true(sx1.commits == 0);
	}
	/* not a bundle at all */
	{
		FILE *g = tmpfile();
		int rc;
		assert_non_null(g);
		fputs("name,date\nfoo,2026-01-01\n", g);
		rewind(g);
		rc = store_bundle_import(c, g, refuse_cb, &ra, &is, &cause);
		assert_true(rc < 0);
		assert_non_null(cause);
		free(cause);
		cause = NULL;
		fclose(g);
	}

	fclose(f);
	clist_free(&la);
	t_close(a);
	t_close(b);
	t_close(c);
	t_close(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_bundle, test_teardown),
	};
	return cmocka_run_group_tests_name("store_bundle", tests, group_setup,
	    group_teardown);
}
