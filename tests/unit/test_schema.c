/*
 * test_schema.c: unit tests of the schema table's rules (storage/schema.c)
 * as the one generic write path reads them (storage/batch.c).
 *
 * Each test walks the table, not one example: every field with a bound
 * (at_most) refuses a value past it, on a create, on an edit of either
 * field against the record as it stands, and in a received op alone
 * (sch_op_check()); every required field is required; every field filled
 * from a referenced record (from) is filled, and a value given wins; every
 * type with an id rule (id_from) takes its id from the key; every type the
 * admin writes lands in the log its log_site column names; every advised
 * field warns past its advice and not before.  A refusal is one line that
 * names the field and why.  The per-type table (sch_ftypes[]) is walked
 * too: every field's sample text parses, checks, formats back to itself,
 * and a value of the wrong kind is refused naming the field.
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
static struct store *admin;

/* Ids of one record of each type a reference may name, made at setup. */
static uint8_t site_a[PROTO_ID_LEN], site_b[PROTO_ID_LEN];
static uint8_t person_a[PROTO_ID_LEN], cafe_a[PROTO_ID_LEN];

#define MAX_KV 24

/* A put's fields as text, with room for the values' own text. */
struct kvs {
	struct store_kv kv[MAX_KV];
	char val[MAX_KV][256];
	size_t n;
};

/* Sets name=value in k, replacing an earlier value of name. */
static void
kv_set(struct kvs *k, const char *name, const char *value)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(k->kv[i].name, name) == 0)
			break;
	if (i == k->n) {
		assert_true(k->n < MAX_KV);
		k->n++;
	}
	snprintf(k->val[i], sizeof(k->val[i]), "%s", value);
	k->kv[i].name = name;
	k->kv[i].value = k->val[i];
}

/* Removes name from k. */
static void
kv_del(struct kvs *k, const char *name)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strcmp(k->kv[i].name, name) == 0) {
			k->n--;
			memmove(&k->kv[i], &k->kv[i + 1], (k->n - i) *
			    sizeof(k->kv[0]));
			memmove(&k->val[i], &k->val[i + 1], (k->n - i) *
			    sizeof(k->val[0]));
			for (; i < k->n; i++)
				k->kv[i].value = k->val[i];
			return;
		}
}

/* Writes the id of a record of type ref that setup made, as hex. */
static void
ref_hex(const char *ref, char *out)
{
	const uint8_t *id = strcmp(ref, "site") == 0 ? site_a :
	    strcmp(ref, "person") == 0 ? person_a : cafe_a;

	proto_hex(out, id, PROTO_ID_LEN);
}

/* Writes a valid text value of f (its first token, its lowest count...). */
static void
sample(const struct sch_field *f, char *out, size_t len)
{
	uint8_t key[PROTO_KEY_LEN];

	switch (f->type) {
	case SCH_TEXT:
	case SCH_LIST:
		snprintf(out, len, "x");
		break;
	case SCH_ENUM:
	case SCH_SET:
		snprintf(out, len, "%s", f->tokens[0]);
		break;
	case SCH_DATE:
		snprintf(out, len, "2026-03-14");
		break;
	case SCH_UINT:
		snprintf(out, len, "%u", (unsigned)f->min);
		break;
	case SCH_DEC2:
		snprintf(out, len, "%u.%02u", (unsigned)f->min / 100,
		    (unsigned)f->min % 100);
		break;
	case SCH_REF:
	case SCH_REFS:
		ref_hex(f->ref, out);
		break;
	case SCH_KEY:
		randombytes_buf(key, sizeof(key));
		proto_hex(out, key, PROTO_KEY_LEN);
		break;
	}
}

/* Fills k with a valid value of every required field of t. */
static void
required(const struct sch_type *t, struct kvs *k)
{
	char buf[256];
	unsigned i;

	memset(k, 0, sizeof(*k));
	for (i = 0; i < t->nfields; i++)
		if (t->fields[i].required) {
			sample(&t->fields[i], buf, sizeof(buf));
			kv_set(k, t->fields[i].name, buf);
		}
}

/*
 * One put of k as a batch of its own; returns the result, with the cause
 * in *cause and the batch's warnings joined by newlines in warn (when not
 * NULL, 1024 bytes).
 */
static int
put(const struct sch_type *t, uint8_t id[PROTO_ID_LEN], int create,
    const struct kvs *k, char **cause, char *warn)
{
	struct store_batch *b = store_batch_new(admin);
	const char *w;
	char *c = NULL;
	size_t i;
	int rc;

	rc = store_batch_put(b, t, id, create, k->kv, k->n, &c);
	if (warn != NULL) {
		warn[0] = '\0';
		for (i = 0; (w = store_batch_warning(b, i)) != NULL; i++)
			snprintf(warn + strlen(warn), 1024 - strlen(warn),
			    "%s\n", w);
	}
	if (rc == 0) {
		free(c);
		c = NULL;
		rc = store_batch_commit(b, &c);
	}
	store_batch_free(b);
	if (cause != NULL)
		*cause = c;
	else
		free(c);
	return rc;
}

/* A put that must succeed. */
static void
put_ok(const struct sch_type *t, uint8_t id[PROTO_ID_LEN], int create,
    const struct kvs *k, char *warn)
{
	char *cause = NULL;
	int rc = put(t, id, create, k, &cause, warn);

	if (rc != 0)
		fail_msg("%s %s: %d %s", create ? "create" : "edit", t->name,
		    rc, cause ? cause : "");
	free(cause);
}

/*
 * A put that must be refused with a one-line cause holding every one of
 * the NULL-terminated strings that follow.
 */
static void
put_refused(const struct sch_type *t, uint8_t id[PROTO_ID_LEN], int create,
    const struct kvs *k, ...)
{
	char *cause = NULL;
	const char *want;
	va_list ap;
	int rc = put(t, id, create, k, &cause, NULL);

	if (rc == 0)
		fail_msg("%s %s: accepted, wanted a refusal", create ?
		    "create" : "edit", t->name);
	if (cause == NULL || strchr(cause, '\n') != NULL)
		fail_msg("%s: cause '%s' is not one line", t->name,
		    cause ? cause : "(none)");
	va_start(ap, k);
	while ((want = va_arg(ap, const char *)) != NULL)
		if (strstr(cause, want) == NULL)
			fail_msg("%s: cause '%s' does not say '%s'", t->name,
			    cause, want);
	va_end(ap);
	free(cause);
}

/* Reads a field's text form from the record id. */
static void
field_text(const uint8_t id[PROTO_ID_LEN], const char *name, char *out,
    size_t len)
{
	struct store_rec r;
	const struct sch_field *f;

	assert_int_equal(store_get(admin, id, &r), 0);
	f = sch_field_find(r.type, name, strlen(name));
	assert_non_null(f);
	sch_format(f, store_rec_value(&r, name), out, len);
	store_rec_free(&r);
}

/* Removes the store's directory. */
static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	if (admin != NULL)
		store_close(admin);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_root);
	return system(cmd) == 0 ? 0 : -1;
}

/* The admin's node with two sites, a person and a café of site a. */
static int
group_setup(void **state)
{
	/* A hub name of the longest a node's name may be (63 bytes). */
	static const char hub[] = "Statewide Parent Cafe Network Hub of the "
	    "Northern Counties 1234";
	char dir[128], *cause = NULL;
	struct kvs k;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(t_root, sizeof(t_root), "/tmp/cafesync-schema-XXXXXX");
	if (mkdtemp(t_root) == NULL)
		return -1;
	snprintf(dir, sizeof(dir), "%s/admin", t_root);
	if (store_create(dir, hub, "hub", NULL, &cause) != 0 ||
	    store_open(&admin, dir, &cause) != 0) {
		fprintf(stderr, "setup: %s\n", cause != NULL ? cause : "?");
		free(cause);
		return -1;
	}
	memset(&k, 0, sizeof(k));
	kv_set(&k, "name", "Pine County Family Resource Center");
	put_ok(sch_type_find("site", 4), site_a, 1, &k, NULL);
	/* Site b's name is as long as a name may be: its hub log's member
	 * name, hub and site, must still fit the member name's bound. */
	memset(k.val[0], 'b', 200);
	k.val[0][200] = '\0';
	put_ok(sch_type_find("site", 4), site_b, 1, &k, NULL);
	required(sch_type_find("person", 6), &k);
	put_ok(sch_type_find("person", 6), person_a, 1, &k, NULL);
	required(sch_type_find("cafe", 4), &k);
	put_ok(sch_type_find("cafe", 4), cafe_a, 1, &k, NULL);
	return 0;
}

/*
 * Steps to the next field of the schema, (*ti, *fi) from (0, 0); returns
 * 0 after the last.
 */
static int
field_next(unsigned *ti, unsigned *fi, const struct sch_type **t,
    const struct sch_field **f)
{
	while (*ti < sch_ntypes && *fi >= sch_types[*ti].nfields) {
		(*ti)++;
		*fi = 0;
	}
	if (*ti == sch_ntypes)
		return 0;
	*t = &sch_types[*ti];
	*f = &sch_types[*ti].fields[(*fi)++];
	return 1;
}

/* Every required field of every type is refused when missing. */
static void
test_required(void **state)
{
	uint8_t id[PROTO_ID_LEN];
	char what[64];
	unsigned i = 0, j = 0, seen = 0;
	const struct sch_type *t;
	const struct sch_field *f;
	struct kvs k;

	(void)state;
	while (field_next(&i, &j, &t, &f)) {
		if (!f->required)
			continue;
		required(t, &k);
		kv_del(&k, f->name);
		snprintf(what, sizeof(what), "is required for %s %s",
		    strchr("aeiou", t->name[0]) ? "an" : "a", t->name);
		put_refused(t, id, 1, &k, f->name, what, NULL);
		/* Nor may an edit clear it. */
		required(t, &k);
		put_ok(t, id, 1, &k, NULL);
		memset(&k, 0, sizeof(k));
		kv_set(&k, f->name, "");
		put_refused(t, id, 0, &k, f->name, "is required",
		    NULL);
		seen++;
	}
	assert_true(seen >= sch_ntypes);
}

/*
 * Every bounded count (at_most) is refused past its bound: on a create,
 * on an edit of the count and on an edit of the bound, each against the
 * record as it stands; at the bound it is accepted.
 */
static void
test_at_most(void **state)
{
	uint8_t id[PROTO_ID_LEN];
	char more[64];
	unsigned i = 0, j = 0, seen = 0;
	const struct sch_type *t;
	const struct sch_field *f;
	struct kvs k, e;

	(void)state;
	while (field_next(&i, &j, &t, &f)) {
		if (f->at_most == NULL)
			continue;
		assert_int_equal(f->type, SCH_UINT);
		snprintf(more, sizeof(more), "is more than %s (3)",
		    f->at_most);
		required(t, &k);
		kv_set(&k, f->at_most, "3");
		kv_set(&k, f->name, "4");
		put_refused(t, id, 1, &k, "field ", f->name, "4 ",
		    more, NULL);
		kv_set(&k, f->name, "3");
		put_ok(t, id, 1, &k, NULL);
		/* An edit of the count alone sees the bound. */
		memset(&e, 0, sizeof(e));
		kv_set(&e, f->name, "4");
		put_refused(t, id, 0, &e, f->name, more, NULL);
		/* An edit of the bound alone sees the count. */
		memset(&e, 0, sizeof(e));
		kv_set(&e, f->at_most, "2");
		put_refused(t, id, 0, &e, f->name, "3 is more than",
		    NULL);
		kv_set(&e, f->name, "2");
		put_ok(t, id, 0, &e, NULL);
		seen++;
	}
	assert_true(seen > 0);
}

/*
 * sch_op_check() holds a received op to the same bounds, on the op
 * alone, and to the required fields; its cause names type and field.
 */
static void
test_op_check(void **state)
{
	msgpack_object_kv fields[2];
	char buf[256], want[128];
	const char *why;
	unsigned i, j, seen = 0;

	(void)state;
	for (i = 0; i < sch_ntypes; i++) {
		const struct sch_type *t = &sch_types[i];

		for (j = 0; j < t->nfields; j++) {
			const struct sch_field *f = &t->fields[j];

			if (f->at_most == NULL)
				continue;
			memset(fields, 0, sizeof(fields));
			fields[0].key.type = MSGPACK_OBJECT_STR;
			fields[0].key.via.str.ptr = f->name;
			fields[0].key.via.str.size = (uint32_t)strlen(f->name);
			fields[0].val.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
			fields[0].val.via.u64 = 8;
			fields[1].key.type = MSGPACK_OBJECT_STR;
			fields[1].key.via.str.ptr = f->at_most;
			fields[1].key.via.str.size =
			    (uint32_t)strlen(f->at_most);
			fields[1].val.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
			fields[1].val.via.u64 = 7;
			why = sch_op_check(t, fields, 2, 0, buf, sizeof(buf));
			snprintf(want, sizeof(want), "%s field %s: 8 is more "
			    "than %s (7)", t->name, f->name, f->at_most);
			assert_non_null(why);
			assert_string_equal(why, want);
			fields[1].val.via.u64 = 8;
			assert_null(sch_op_check(t, fields, 2, 0, buf,
			    sizeof(buf)));
			seen++;
		}
		/* A create that sets nothing misses its first required field. */
		for (j = 0; j < t->nfields && !t->fields[j].required; j++)
			;
		if (j < t->nfields) {
			why = sch_op_check(t, fields, 0, 1, buf, sizeof(buf));
			snprintf(want, sizeof(want), "%s field %s: is required",
			    t->name, t->fields[j].name);
			assert_non_null(why);
			assert_string_equal(why, want);
		}
	}
	assert_true(seen > 0);
}

/*
 * Every field filled from a referenced record (from) takes that record's
 * value on a create that names none, and keeps a value that is given.
 */
static void
test_from(void **state)
{
	uint8_t id[PROTO_ID_LEN], ref[PROTO_ID_LEN];
	char hex[2 * PROTO_ID_LEN + 1], got[128], want[128];
	unsigned i = 0, j = 0, seen = 0;
	const struct sch_type *t;
	const struct sch_field *f;
	struct kvs k, r;

	(void)state;
	while (field_next(&i, &j, &t, &f)) {
		const struct sch_field *rf = f->from == NULL ? NULL :
		    sch_field_find(t, f->from, strlen(f->from));
		const struct sch_type *rt;

		if (f->from == NULL)
			continue;
		/* The referenced record holds the value (site b). */
		assert_non_null(rf);
		assert_int_equal(rf->type, SCH_REF);
		rt = sch_type_find(rf->ref, strlen(rf->ref));
		assert_non_null(rt);
		assert_non_null(sch_field_find(rt, f->name,
		    strlen(f->name)));
		required(rt, &r);
		proto_hex(hex, site_b, PROTO_ID_LEN);
		kv_set(&r, f->name, hex);
		put_ok(rt, ref, 1, &r, NULL);
		field_text(ref, f->name, want, sizeof(want));
		required(t, &k);
		kv_del(&k, f->name);
		proto_hex(hex, ref, PROTO_ID_LEN);
		kv_set(&k, f->from, hex);
		put_ok(t, id, 1, &k, NULL);
		field_text(id, f->name, got, sizeof(got));
		assert_string_equal(got, want);
		/* A value given wins over the referenced one. */
		sample(f, got, sizeof(got));
		kv_set(&k, f->name, got);
		put_ok(t, id, 1, &k, NULL);
		field_text(id, f->name, want, sizeof(want));
		assert_string_equal(got, want);
		seen++;
	}
	assert_true(seen >= 2);
}

/* Every type with an id rule takes its id from the key it names. */
static void
test_id_from(void **state)
{
	uint8_t id[PROTO_ID_LEN], want[PROTO_ID_LEN], key[PROTO_KEY_LEN];
	unsigned i, seen = 0;
	size_t j;
	struct kvs k;

	(void)state;
	for (i = 0; i < sch_ntypes; i++) {
		const struct sch_type *t = &sch_types[i];
		const struct sch_field *f;

		required(t, &k);
		memset(id, 0, sizeof(id));
		put_ok(t, id, 1, &k, NULL);
		if (t->id_from == NULL) {
			/* A fresh id, of this node. */
			memset(want, 0, sizeof(want));
			assert_memory_not_equal(id, want, PROTO_ID_LEN);
			continue;
		}
		f = sch_field_find(t, t->id_from, strlen(t->id_from));
		assert_non_null(f);
		assert_int_equal(f->type, SCH_KEY);
		for (j = 0; j < k.n; j++)
			if (strcmp(k.kv[j].name, t->id_from) == 0)
				break;
		assert_true(j < k.n);
		assert_int_equal(proto_unhex(key, PROTO_KEY_LEN,
		    k.kv[j].value), 0);
		proto_member_id(want, key);
		assert_memory_equal(id, want, PROTO_ID_LEN);
		seen++;
	}
	assert_true(seen > 0);
}

/*
 * The admin's write of every type lands in the log its log_site column
 * names: the hub log of the record's site, or the admin log.  Site b's
 * hub log is enrolled on the way, under a name within the member name's
 * bound although hub and site names are as long as they may be.
 */
static void
test_log_site(void **state)
{
	uint8_t id[PROTO_ID_LEN], pk[PROTO_KEY_LEN], sk[PROTO_SK_LEN];
	uint8_t mid[PROTO_ID_LEN];
	char hex[2 * PROTO_ID_LEN + 1], name[256];
	const uint8_t *origin;
	unsigned i;
	struct store_rec r;
	struct kvs k;

	(void)state;
	store_site_key(admin, site_b, pk, sk);
	sodium_memzero(sk, sizeof(sk));
	for (i = 0; i < sch_ntypes; i++) {
		const struct sch_type *t = &sch_types[i];

		required(t, &k);
		if (t->log_site != NULL) {
			proto_hex(hex, site_b, PROTO_ID_LEN);
			kv_set(&k, t->log_site, hex);
		}
		put_ok(t, id, 1, &k, NULL);
		assert_int_equal(store_get(admin, id, &r), 0);
		origin = store_rec_origin(&r, k.kv[0].name);
		assert_non_null(origin);
		if (t->log_site != NULL)
			assert_memory_equal(origin, pk, PROTO_KEY_LEN);
		else
			assert_memory_equal(origin, store_info(admin)->node,
			    PROTO_KEY_LEN);
		store_rec_free(&r);
	}
	/* The hub log's own member record, by the admin. */
	proto_member_id(mid, pk);
	assert_int_equal(store_get(admin, mid, &r), 0);
	field_text(mid, "name", name, sizeof(name));
	assert_true(strlen(name) <= 200);
	assert_non_null(strstr(name, " for bbbb"));
	assert_int_equal(strncmp(name, store_info(admin)->name,
	    strlen(store_info(admin)->name)), 0);
	field_text(mid, "role", hex, sizeof(hex));
	assert_string_equal(hex, "hub");
	field_text(mid, "status", hex, sizeof(hex));
	assert_string_equal(hex, "active");
	field_text(mid, "site", hex, sizeof(hex));
	proto_hex(name, site_b, PROTO_ID_LEN);
	assert_string_equal(hex, name);
	assert_memory_equal(store_rec_origin(&r, "key"),
	    store_info(admin)->node, PROTO_KEY_LEN);
	store_rec_free(&r);
}

/* Returns whether the joined warnings w hold s. */
static int
warned(const char *w, const char *s)
{
	return strstr(w, s) != NULL;
}

/*
 * Every advised field warns: a set that misses all or some of its tokens,
 * a count past its advice; a set with every token and a count at the
 * advice do not.  An edit of an advised field warns again.
 */
static void
test_advice(void **state)
{
	uint8_t id[PROTO_ID_LEN];
	char warn[1024], want[768], all[512], num[16];
	unsigned i = 0, j = 0, seen = 0;
	const struct sch_type *t;
	const struct sch_field *f;
	struct kvs k, e;

	(void)state;
	while (field_next(&i, &j, &t, &f)) {
		size_t x;

		if (f->advice == NULL)
			continue;
		required(t, &k);
		if (f->type == SCH_SET) {
			kv_del(&k, f->name);
			put_ok(t, id, 1, &k, warn);
			snprintf(want, sizeof(want), "%s records no %s "
			    "(%s=%s,%s,...)", t->name, f->advice->what,
			    f->name, f->tokens[0], f->tokens[1]);
			if (!warned(warn, want))
				fail_msg("no '%s' in '%s'", want, warn);
			kv_set(&k, f->name, f->tokens[0]);
			put_ok(t, id, 1, &k, warn);
			all[0] = '\0';
			for (x = 1; f->tokens[x] != NULL; x++)
				snprintf(all + strlen(all), sizeof(all) -
				    strlen(all), "%s%s", x > 1 ? "," : "",
				    f->tokens[x]);
			snprintf(want, sizeof(want), "%s misses %s: %s",
			    t->name, f->advice->what, all);
			if (!warned(warn, want))
				fail_msg("no '%s' in '%s'", want, warn);
			/* Every token: no advice on it. */
			all[0] = '\0';
			for (x = 0; f->tokens[x] != NULL; x++)
				snprintf(all + strlen(all), sizeof(all) -
				    strlen(all), "%s%s", x > 0 ? "," : "",
				    f->tokens[x]);
			kv_set(&k, f->name, all);
			put_ok(t, id, 1, &k, warn);
			assert_null(strstr(warn, f->advice->what));
			/* An edit that drops one warns again. */
			memset(&e, 0, sizeof(e));
			kv_set(&e, f->name, f->tokens[1]);
			put_ok(t, id, 0, &e, warn);
			snprintf(want, sizeof(want), "misses %s: %s,",
			    f->advice->what, f->tokens[0]);
			if (!warned(warn, want))
				fail_msg("no '%s' in '%s'", want, warn);
		} else {
			assert_int_equal(f->type, SCH_UINT);
			snprintf(num, sizeof(num), "%u",
			    (unsigned)f->advice->over + 1);
			kv_set(&k, f->name, num);
			put_ok(t, id, 1, &k, warn);
			snprintf(want, sizeof(want), "%s has %s %s; %s",
			    t->name, f->advice->what, num,
			    f->advice->why);
			if (!warned(warn, want))
				fail_msg("no '%s' in '%s'", want, warn);
			snprintf(num, sizeof(num), "%u",
			    (unsigned)f->advice->over);
			kv_set(&k, f->name, num);
			put_ok(t, id, 1, &k, warn);
			assert_null(strstr(warn, f->advice->why));
			memset(&e, 0, sizeof(e));
			snprintf(num, sizeof(num), "%u",
			    (unsigned)f->advice->over + 2);
			kv_set(&e, f->name, num);
			put_ok(t, id, 0, &e, warn);
			if (!warned(warn, f->advice->why))
				fail_msg("edit: no '%s' in '%s'",
				    f->advice->why, warn);
		}
		seen++;
	}
	assert_true(seen >= 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_required),
		cmocka_unit_test(test_at_most),
		cmocka_unit_test(test_op_check),
		cmocka_unit_test(test_from),
		cmocka_unit_test(test_id_from),
		cmocka_unit_test(test_log_site),
		cmocka_unit_test(test_advice),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
