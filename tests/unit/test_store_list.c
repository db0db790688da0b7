/*
 * test_store_list.c: unit tests of reading a store back (storage/).
 *
 * Covers: delete, listing and queries (type, site, dates, no type,
 * with_deleted); history with each edit's base; verify (clean, and after
 * tampering with a stored commit).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <lmdb.h>

#include "proto/proto.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

static void test_delete_and_list(void **state)
{
	uint8_t s1[16], s2[16], c1[16], c2[16], c3[16];
	char h1[33], h2[33];
	struct store *s;
	struct store_rec r;
	struct list_acc a;
	struct store_query q;
	struct store_status st;
	char *cause = NULL;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", s1, 1, { "name", "One" });
	PUT_OK(s, "site", s2, 1, { "name", "Two" });
	hexid(s1, h1);
	hexid(s2, h2);
	PUT_OK(s, "cafe", c1, 1, { "site", h1 }, { "date", "2026-01-10" },
	    { "format", "parent" }, { "factors", "resilience" });
	PUT_OK(s, "cafe", c2, 1, { "site", h1 }, { "date", "2026-02-10" },
	    { "format", "dads" }, { "factors", "resilience" });
	PUT_OK(s, "cafe", c3, 1, { "site", h2 }, { "date", "2026-03-01" },
	    { "format", "community" }, { "factors", "resilience" });

	list_type(s, "cafe", &a, 0);
	assert_int_equal(a.n, 3);
	list_type(s, "site", &a, 0);
	assert_int_equal(a.n, 2);

	/* by site, by date */
	memset(&q, 0, sizeof q);
	memset(&a, 0, sizeof a);
	q.type = type_of("cafe");
	q.site = s1;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 2);
	assert_memory_equal(a.ids[0], c1, 16);	/* date order */
	assert_memory_equal(a.ids[1], c2, 16);
	memset(&a, 0, sizeof a);
	q.since = 20260201;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.ids[0], c2, 16);
	memset(&q, 0, sizeof q);
	memset(&a, 0, sizeof a);
	q.type = type_of("cafe");
	q.since = 20260201;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 2);
	assert_memory_equal(a.ids[0], c2, 16);
	assert_memory_equal(a.ids[1], c3, 16);
	memset(&a, 0, sizeof a);
	q.since = 0;
	q.until = 20260131;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.ids[0], c1, 16);
	/* a callback that returns non-zero stops the listing */
	memset(&q, 0, sizeof q);
	memset(&a, 0, sizeof a);
	q.type = type_of("cafe");
	a.stop_after = 1;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 1);

	/* delete */
	del_ok(s, c2);
	get_ok(s, c2, &r);
	assert_true(r.deleted);
	store_rec_free(&r);
	list_type(s, "cafe", &a, 0);
	assert_int_equal(a.n, 2);
	assert_false(list_has(&a, c2));
	assert_true(list_has(&a, c1));
	memset(&q, 0, sizeof q);
	memset(&a, 0, sizeof a);
	q.type = type_of("cafe");
	q.site = s1;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(store_status(s, &st), 0);
	assert_true(st.counts[type_index("cafe")] == 2);

	/* a removed record cannot be removed, edited or resolved again */
	{
		struct store_batch *b = store_batch_new(s);
		assert_true(store_batch_del(b, c2, &cause) < 0);
		free(cause);
		cause = NULL;
		assert_int_equal(store_batch_count(b), 0);
		store_batch_free(b);
	}
	{
		const struct store_kv kv[] = { { "topic", "x" } };
		assert_true(put_kv(s, "cafe", c2, 0, kv, 1, NULL) < 0);
	}
	{
		char h[33];
		uint8_t got[16];
		hexid(c2, h);
		assert_true(store_resolve(s, h, NULL, got, &cause) < 0);
		free(cause);
		cause = NULL;
		hexid(c1, h);
		assert_int_equal(store_resolve(s, h, type_of("cafe"), got,
		    &cause), 0);
		assert_memory_equal(got, c1, 16);
		/* the right record, but not of the type asked for */
		assert_true(store_resolve(s, h, type_of("site"), got,
		    &cause) < 0);
		free(cause);
		cause = NULL;
		assert_int_equal(store_resolve(s, "abc", NULL, got, &cause),
		    CS_EUSAGE);
		free(cause);
		cause = NULL;
	}
	t_close(s);
}

/* store_query.with_deleted lists removed records too. */
static void test_list_with_deleted(void **state)
{
	uint8_t s1[16], s2[16];
	struct store *s;
	struct list_acc a;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", s1, 1, { "name", "One" });
	PUT_OK(s, "site", s2, 1, { "name", "Two" });
	del_ok(s, s2);
	list_type(s, "site", &a, 0);
	assert_int_equal(a.n, 1);
	list_type(s, "site", &a, 1);
	assert_int_equal(a.n, 2);
	assert_true(list_has(&a, s2));
	/* with the site and date filters too */
	{
		uint8_t c1[16], c2[16];
		char h1[33];
		struct store_query q;

		hexid(s1, h1);
		PUT_OK(s, "cafe", c1, 1, { "site", h1 },
		    { "date", "2026-01-10" }, { "format", "parent" },
		    { "factors", "resilience" });
		PUT_OK(s, "cafe", c2, 1, { "site", h1 },
		    { "date", "2026-02-10" }, { "format", "parent" },
		    { "factors", "resilience" });
		del_ok(s, c2);
		memset(&q, 0, sizeof q);
		q.type = type_of("cafe");
		q.site = s1;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 1);
		q.with_deleted = 1;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 2);
		q.since = 20260201;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 1);
		assert_memory_equal(a.ids[0], c2, 16);
		/* another site's filter matches none */
		q.site = s2;
		q.since = 0;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 0);
	}
	t_close(s);
}

/* A query without a type ("zero means no filter") lists every type. */
static void test_list_no_type(void **state)
{
	uint8_t s1[16], p1[16];
	char h1[33];
	struct store *s;
	struct list_acc a;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", s1, 1, { "name", "One" });
	hexid(s1, h1);
	PUT_OK(s, "person", p1, 1, { "name", "Ana" }, { "roles", "host" },
	    { "site", h1 });
	list_type(s, NULL, &a, 0);
	/* and the member record of site One's hub log */
	assert_int_equal(a.n, 3);
	assert_true(list_has(&a, s1));
	assert_true(list_has(&a, p1));
	/* no type, a date bound: only dated records in range */
	{
		uint8_t c1[16], t1[16];
		struct store_query q;

		PUT_OK(s, "cafe", c1, 1, { "site", h1 },
		    { "date", "2026-03-10" }, { "format", "parent" },
		    { "factors", "resilience" });
		PUT_OK(s, "training", t1, 1, { "site", h1 },
		    { "date", "2025-12-01" }, { "kind", "coaching" });
		memset(&q, 0, sizeof q);
		q.since = 20260101;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 1);
		assert_memory_equal(a.ids[0], c1, 16);
		/* no type, a site: every record of that site */
		memset(&q, 0, sizeof q);
		q.site = s1;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		/* person, cafe, training, and the member record of the
		 * site's hub log */
		assert_int_equal(a.n, 4);
		assert_false(list_has(&a, s1));
	}
	t_close(s);
}

struct hist_acc {
	size_t n;
	uint64_t name_base[16];	/* first clock of the op's base for name */
	uint64_t hlc[16];
	unsigned kind[16];
	char name[16][32];
	uint64_t seq[16];
};

static int hist_cb(const struct store_change *ch, void *arg)
{
	struct hist_acc *h = arg;

	if (h->n < 16) {
		h->hlc[h->n] = ch->sc->c->hlc;
		h->kind[h->n] = ch->op->kind;
		h->seq[h->n] = ch->sc->c->seq;
		h->name[h->n][0] = '\0';
		h->name_base[h->n] = 0;
		for (uint32_t i = 0; i < ch->op->nbase; i++) {
			const msgpack_object_kv *kv = &ch->op->base[i];
			const msgpack_object *v = &kv->val;
			if (kv->key.via.str.size != 4 ||
			    memcmp(kv->key.via.str.ptr, "name", 4) != 0)
				continue;
			if (v->type == MSGPACK_OBJECT_ARRAY &&
			    v->via.array.size > 0)
				v = &v->via.array.ptr[0];
			if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				h->name_base[h->n] = v->via.u64;
		}
		for (uint32_t i = 0; i < ch->op->nfields; i++) {
			const msgpack_object_kv *kv = &ch->op->fields[i];
			if (kv->key.via.str.size == 4 &&
			    memcmp(kv->key.via.str.ptr, "name", 4) == 0 &&
			    kv->val.type == MSGPACK_OBJECT_STR)
				snprintf(h->name[h->n], 32, "%.*s",
				    (int)kv->val.via.str.size,
				    kv->val.via.str.ptr);
		}
	}
	h->n++;
	return 0;
}

static void test_history(void **state)
{
	uint8_t s1[16], s2[16];
	struct store *s;
	struct hist_acc h;
	static const char *const names[] = { "v1", "v2", "v3", "v4" };
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", s1, 1, { "name", "v1" });
	PUT_OK(s, "site", s2, 1, { "name", "other" });
	PUT_OK(s, "site", s1, 0, { "name", "v2" });
	PUT_OK(s, "site", s2, 0, { "name", "other2" });
	PUT_OK(s, "site", s1, 0, { "name", "v3" }, { "county", "Lane" });
	PUT_OK(s, "site", s1, 0, { "name", "v4" });
	del_ok(s, s1);

	memset(&h, 0, sizeof h);
	assert_int_equal(store_history(s, s1, hist_cb, &h), 0);
	assert_int_equal(h.n, 5);
	/* an edit carries as base the clock of the value it replaced: the
	 * v2 edit saw v1's clock, the v3 edit saw v2's */
	assert_true(h.name_base[0] == 0);
	assert_true(h.name_base[1] == h.hlc[0]);
	assert_true(h.name_base[2] == h.hlc[1]);
	assert_true(h.name_base[3] == h.hlc[2]);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(h.kind[i], PROTO_OP_PUT);
		assert_string_equal(h.name[i], names[i]);
	}
	assert_int_equal(h.kind[4], PROTO_OP_DEL);
	for (size_t i = 1; i < 5; i++) {
		assert_true(h.hlc[i] > h.hlc[i - 1]);
		assert_true(h.seq[i] > h.seq[i - 1]);
	}
	memset(&h, 0, sizeof h);
	assert_int_equal(store_history(s, s2, hist_cb, &h), 0);
	assert_int_equal(h.n, 2);
	{
		uint8_t nope[16];
		memset(nope, 0x77, sizeof nope);
		memset(&h, 0, sizeof h);
		assert_int_equal(store_history(s, nope, hist_cb, &h), 0);
		assert_int_equal(h.n, 0);
	}
	t_close(s);
}

struct fault_acc {
	size_t n;
	uint64_t seq;	/* of the first fault */
};

static void fault_cb(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const char *why, void *arg)
{
	struct fault_acc *f = arg;

	(void)origin;
	assert_non_null(why);
	if (f->n++ == 0)
		f->seq = seq;
}

static void test_verify(void **state)
{
	char dir[128];
	uint8_t s1[16];
	struct store *s;
	struct fault_acc f;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, d;
	int n = 0;
	(void)state;

	s = mk_store("hub", "hub", NULL, dir);
	PUT_OK(s, "site", s1, 1, { "name", "One" });
	PUT_OK(s, "site", s1, 0, { "name", "Uno" });
	PUT_OK(s, "site", s1, 0, { "county", "Lane" });
	memset(&f, 0, sizeof f);
	assert_int_equal(store_verify(s, fault_cb, &f), 0);
	assert_int_equal(f.n, 0);
	t_close(s);

	/* Alter the last byte of the second stored commit behind the
	 * store's back: verify must find it. */
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "commits", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		if (++n == 2) {
			uint8_t *copy = malloc(d.mv_size);
			MDB_val nd;
			assert_non_null(copy);
			memcpy(copy, d.mv_data, d.mv_size);
			copy[d.mv_size - 1] ^= 0x01;
			nd.mv_size = d.mv_size;
			nd.mv_data = copy;
			assert_int_equal(mdb_cursor_put(cur, &k, &nd,
			    MDB_CURRENT), 0);
			free(copy);
			break;
		}
	mdb_cursor_close(cur);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(n, 2);

	s = open_dir(dir);
	memset(&f, 0, sizeof f);
	assert_true(store_verify(s, fault_cb, &f) >= 1);
	assert_true(f.n >= 1);
	assert_true(f.seq == 2);
	t_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_delete_and_list, test_teardown),
		cmocka_unit_test_teardown(test_list_with_deleted, test_teardown),
		cmocka_unit_test_teardown(test_list_no_type, test_teardown),
		cmocka_unit_test_teardown(test_history, test_teardown),
		cmocka_unit_test_teardown(test_verify, test_teardown),
	};
	return cmocka_run_group_tests_name("store_list", tests, group_setup,
	    group_teardown);
}
