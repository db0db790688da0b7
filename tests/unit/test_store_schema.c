/*
 * test_store_schema.c: unit tests of the schema (storage/schema.c) on its
 * own, without a store.
 *
 * Covers: the table (each type's required fields, field names within
 * PROTO_MAX_NAME, tokens of every enum and set, references naming a known
 * type, lookups by length, the exact factor tokens other programs depend
 * on); sch_date_parse (calendar, leap years, the length honoured, spaces
 * trimmed); validation per field type through sch_parse (dates, enums,
 * sets, counts, decimals, text length and control characters, lists,
 * empty values, references that match nothing, ambiguous prefixes, and a
 * full id not on this node accepted with a warning) and through sch_check
 * of received values; text that must be UTF-8, typed or received; the
 * field-type table (a whole row per type, lists as sch_check sees them).
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

/* Resolver for sch_parse(): known ids, prefixes, full unknown ids. */
struct known {
	uint8_t id[4][PROTO_ID_LEN];
	size_t n;
};

static int t_resolve(void *arg, const char *ref, const char *text,
    uint8_t id[PROTO_ID_LEN], char **cause)
{
	struct known *k = arg;
	size_t len = strlen(text), found = 0;
	char hex[33];

	(void)ref;
	for (size_t i = 0; i < k->n; i++) {
		proto_hex(hex, k->id[i], PROTO_ID_LEN);
		if (len >= 4 && len <= 32 && strncmp(hex, text, len) == 0) {
			memcpy(id, k->id[i], PROTO_ID_LEN);
			found++;
		}
	}
	if (found == 1)
		return 0;
	if (found == 0 && len == 32 && proto_unhex(id, PROTO_ID_LEN, text) == 0)
		return 1;
	*cause = strdup(found ? "ambiguous" : "no such record");
	return found ? CS_EAMBIG : CS_ENOTFOUND;
}

/* Parses text for type.field; returns rc, the packed value in out. */
static int parse_field(const char *type, const char *field, const char *text,
    struct known *k, msgpack_unpacked *out, char **warn)
{
	const struct sch_field *f = sch_field_find(type_of(type), field,
	    strlen(field));
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *cause = NULL, *w = NULL;
	int rc;

	if (f == NULL)
		fail_msg("no field %s.%s", type, field);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rc = sch_parse(f, text, &pk, t_resolve, k, &cause, &w);
	if (rc != 0) {
		if (cause == NULL || strstr(cause, field) == NULL)
			fail_msg("%s.%s='%s': error without a cause naming "
			    "the field (%s)", type, field, text,
			    cause ? cause : "NULL");
		assert_int_equal(sb.size, 0);
	} else if (out != NULL) {
		/* str and bin objects point into the bytes: keep a copy */
		static char keep[16384];
		size_t off = 0;
		assert_true(sb.size <= sizeof keep);
		memcpy(keep, sb.data, sb.size);
		assert_int_equal(msgpack_unpack_next(out, keep, sb.size,
		    &off), MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(off, sb.size);
	}
	free(cause);
	if (warn != NULL)
		*warn = w;
	else
		free(w);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int parse_rc(const char *type, const char *field, const char *text)
{
	struct known k = { .n = 0 };
	return parse_field(type, field, text, &k, NULL, NULL);
}

static void test_schema_table(void **state)
{
	static const char *const required[][4] = {
		{ "site", "name", NULL, NULL },
		{ "person", "name", "roles", NULL },
		{ "cafe", "site", "date", "format" },
		{ "action", "cafe", "title", NULL },
		{ "training", "site", "date", "kind" },
		{ "milestone", "site", "step", "status" },
		{ "feedback", "cafe", "responses", NULL },
		{ "audit", "site", "date", "finding" },
	};
	(void)state;

	assert_true(sch_ntypes >= 8);
	assert_null(sch_type_find("caf", 3));
	assert_null(sch_type_find("cafes", 5));
	/* not NUL-terminated lookups */
	assert_true(sch_type_find("cafe-x", 4) == type_of("cafe"));
	for (size_t i = 0; i < NKV(required); i++) {
		const struct sch_type *t = type_of(required[i][0]);
		for (int j = 1; j < 4 && required[i][j]; j++) {
			const struct sch_field *f = sch_field_find(t,
			    required[i][j], strlen(required[i][j]));
			if (f == NULL || !f->required)
				fail_msg("%s.%s should be a required field",
				    t->name, required[i][j]);
		}
	}
	assert_true(sch_field_find(type_of("cafe"), "factors", 7)->required);
	assert_int_equal(sch_field_find(type_of("cafe"), "factors", 7)->type,
	    SCH_SET);
	assert_null(sch_field_find(type_of("cafe"), "colour", 6));
	for (unsigned i = 0; i < sch_ntypes; i++) {
		assert_non_null(sch_types[i].help);
		for (unsigned j = 0; j < sch_types[i].nfields; j++) {
			const struct sch_field *f = &sch_types[i].fields[j];
			assert_true(strlen(f->name) <= PROTO_MAX_NAME);
			assert_non_null(sch_ftype_name(f->type));
			if (f->type == SCH_ENUM || f->type == SCH_SET)
				assert_non_null(f->tokens);
			if (f->type == SCH_REF || f->type == SCH_REFS)
				assert_non_null(sch_type_find(f->ref,
				    strlen(f->ref)));
		}
	}
	/* The exact tokens other programs depend on. */
	{
		static const char *const fac[] = { "resilience",
			"social_connections", "concrete_support",
			"child_development", "social_emotional" };
		const struct sch_field *f = sch_field_find(type_of("cafe"),
		    "factors", 7);
		for (size_t i = 0; i < 5; i++)
			assert_string_equal(f->tokens[i], fac[i]);
		assert_null(f->tokens[5]);
	}
}

static void test_schema_dates(void **state)
{
	uint32_t ymd = 0;
	(void)state;

	assert_int_equal(sch_date_parse("2026-03-14", 10, &ymd), 0);
	assert_int_equal(ymd, 20260314);
	assert_int_equal(sch_date_parse("2024-02-29", 10, &ymd), 0);
	assert_int_equal(ymd, 20240229);
	assert_int_equal(sch_date_parse("2000-02-29", 10, &ymd), 0);
	assert_int_equal(sch_date_parse("2026-12-31", 10, &ymd), 0);
	assert_int_equal(sch_date_parse("2026-02-29", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("1900-02-29", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-02-30", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-04-31", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-13-01", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-00-10", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-01-00", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-1-1", 8, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-01-1x", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026/01/10", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("x", 1, &ymd), -1);
	assert_int_equal(sch_date_parse("", 0, &ymd), -1);
	/* length is honoured: a valid date followed by more bytes */
	assert_int_equal(sch_date_parse("2026-03-14", 9, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-03-145", 11, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-03-14Z", 10, &ymd), 0);

	assert_int_equal(parse_rc("cafe", "date", "2026-03-14"), 0);
	assert_int_equal(parse_rc("cafe", "date", "2026-02-30"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "date", "2026-1-1"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "date", "x"), CS_EUSAGE);
	/* spaces around a date are trimmed; inside one they are not */
	assert_int_equal(parse_rc("cafe", "date", " 2026-03-14 "), 0);
	assert_int_equal(parse_rc("cafe", "date", "2026-03 -14"), CS_EUSAGE);
}

static void test_schema_parse(void **state)
{
	msgpack_unpacked up;
	struct known k;
	char *warn = NULL;
	char hex[33];
	char *long_text;
	(void)state;

	memset(&k, 0, sizeof k);
	randombytes_buf(k.id[0], PROTO_ID_LEN);
	k.id[0][0] = 0x12;
	k.id[0][1] = 0x34;
	k.n = 1;
	msgpack_unpacked_init(&up);

	/* enum */
	assert_int_equal(parse_field("cafe", "format", "dads", &k, &up, NULL),
	    0);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_STR);
	assert_int_equal(parse_rc("cafe", "format", "brunch"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "format", "Parent"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "format", "parent,dads"), CS_EUSAGE);

	/* set: sorted by token order, no unknown, no duplicate, no empty */
	assert_int_equal(parse_field("cafe", "factors",
	    "social_emotional,resilience,social_connections", &k, &up, NULL),
	    0);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(up.data.via.array.size, 3);
	assert_memory_equal(up.data.via.array.ptr[0].via.str.ptr,
	    "resilience", 10);
	assert_memory_equal(up.data.via.array.ptr[1].via.str.ptr,
	    "social_connections", 18);
	assert_memory_equal(up.data.via.array.ptr[2].via.str.ptr,
	    "social_emotional", 16);
	assert_int_equal(parse_rc("cafe", "factors", "resilience,hope"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "factors", "resilience,resilience"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "factors", "resilience,"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "elements",
	    "welcome,theme,agreements,pair_talk,table_talk,commitment_cards,"
	    "harvest,closing"), 0);

	/* uint */
	assert_int_equal(parse_field("cafe", "series_no", "7", &k, &up, NULL),
	    0);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(up.data.via.u64, 7);
	assert_int_equal(parse_rc("cafe", "series_no", "8"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "series_no", "0"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees", "0"), 0);
	assert_int_equal(parse_rc("cafe", "attendees", "-1"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees", "twelve"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees", "12x"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees", "1.5"), CS_EUSAGE);
	/* spaces around a number are trimmed; inside one they are not */
	assert_int_equal(parse_rc("cafe", "attendees", " 12 "), 0);
	assert_int_equal(parse_rc("cafe", "attendees", "1 2"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees",
	    "99999999999999999999999"), CS_EUSAGE);
	assert_int_equal(parse_rc("milestone", "step", "6"), 0);
	assert_int_equal(parse_rc("milestone", "step", "7"), CS_EUSAGE);

	/* decimal with two places */
	assert_int_equal(parse_field("feedback", "pfs_resilience", "5.25", &k,
	    &up, NULL), 0);
	assert_int_equal(up.data.via.u64, 525);
	assert_int_equal(parse_field("feedback", "pfs_resilience", "3.5", &k,
	    &up, NULL), 0);
	assert_int_equal(up.data.via.u64, 350);
	assert_int_equal(parse_field("feedback", "pfs_resilience", "7", &k,
	    &up, NULL), 0);
	assert_int_equal(up.data.via.u64, 700);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "7.01"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "0.99"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "3.555"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "3."),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "-3"),
	    CS_EUSAGE);

	/* text bound and control characters */
	long_text = malloc(202);
	assert_non_null(long_text);
	memset(long_text, 'a', 201);
	long_text[201] = '\0';
	assert_int_equal(parse_rc("site", "name", long_text), CS_EUSAGE);
	long_text[200] = '\0';
	assert_int_equal(parse_rc("site", "name", long_text), 0);
	free(long_text);
	assert_int_equal(parse_rc("site", "name", "bell\a"), CS_EUSAGE);

	/* list */
	assert_int_equal(parse_field("site", "languages", "en, es", &k, &up,
	    NULL), 0);
	assert_int_equal(up.data.via.array.size, 2);

	/* empty: nil for optional, refused for required */
	assert_int_equal(parse_field("cafe", "topic", "", &k, &up, NULL), 0);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_NIL);
	assert_int_equal(parse_rc("cafe", "format", ""), CS_EUSAGE);

	/* references */
	assert_int_equal(parse_field("cafe", "site", "1234", &k, &up, &warn),
	    0);
	assert_null(warn);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_BIN);
	assert_memory_equal(up.data.via.bin.ptr, k.id[0], PROTO_ID_LEN);
	assert_true(parse_field("cafe", "site", "ffff", &k, NULL, NULL) < 0);
	assert_true(parse_field("cafe", "site", "zz", &k, NULL, NULL) < 0);
	memset(hex, 'e', 32);
	hex[32] = '\0';
	assert_int_equal(parse_field("cafe", "site", hex, &k, &up, &warn), 0);
	assert_non_null(warn);
	free(warn);
	warn = NULL;
	assert_int_equal(up.data.via.bin.ptr[0], (char)0xee);

	msgpack_unpacked_destroy(&up);
}

/* Packs one value and runs sch_check on it. */
static int check_value(const char *type, const char *field,
    void (*pack)(msgpack_packer *, const void *), const void *arg)
{
	const struct sch_field *f = sch_field_find(type_of(type), field,
	    strlen(field));
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	size_t off = 0;
	const char *cause = NULL;
	int rc;

	assert_non_null(f);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack(&pk, arg);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	rc = sch_check(f, &up.data, &cause);
	if (rc != 0)
		assert_non_null(cause);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void pk_str(msgpack_packer *pk, const void *a)
{
	proto_pack_cstr(pk, a);
}

static void pk_u64(msgpack_packer *pk, const void *a)
{
	msgpack_pack_uint64(pk, *(const uint64_t *)a);
}

static void pk_neg(msgpack_packer *pk, const void *a)
{
	(void)a;
	msgpack_pack_int64(pk, -3);
}

static void pk_nil(msgpack_packer *pk, const void *a)
{
	(void)a;
	msgpack_pack_nil(pk);
}

/* A comma-separated string as an array of str. */
static void pk_arr(msgpack_packer *pk, const void *a)
{
	char copy[256], *save = NULL, *p;
	size_t n = 1;

	snprintf(copy, sizeof copy, "%s", (const char *)a);
	for (const char *q = a; *q; q++)
		n += *q == ',';
	msgpack_pack_array(pk, n);
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
		proto_pack_cstr(pk, p);
}

static void pk_bin15(msgpack_packer *pk, const void *a)
{
	(void)a;
	msgpack_pack_bin(pk, 15);
	msgpack_pack_bin_body(pk, "012345678901234", 15);
}

static void test_schema_check(void **state)
{
	uint64_t v;
	char *big;
	(void)state;

	assert_int_equal(check_value("cafe", "date", pk_str, "2026-03-14"), 0);
	assert_int_equal(check_value("cafe", "date", pk_str, "2026-02-30"),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "format", pk_str, "parent"), 0);
	assert_int_equal(check_value("cafe", "format", pk_str, "brunch"),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "factors", pk_arr,
	    "resilience,social_connections"), 0);
	assert_int_equal(check_value("cafe", "factors", pk_arr,
	    "social_connections,resilience"), CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "factors", pk_arr,
	    "resilience,resilience"), CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "factors", pk_arr,
	    "resilience,hope"), CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "factors", pk_str, "resilience"),
	    CS_ESCHEMA);
	v = 7;
	assert_int_equal(check_value("cafe", "series_no", pk_u64, &v), 0);
	v = 8;
	assert_int_equal(check_value("cafe", "series_no", pk_u64, &v),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "attendees", pk_neg, NULL),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "attendees", pk_str, "12"),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "site", pk_bin15, NULL),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "site", pk_str,
	    "0123456789abcdef"), CS_ESCHEMA);
	/* nil clears an optional field */
	assert_int_equal(check_value("cafe", "topic", pk_nil, NULL), 0);
	big = malloc(202);
	assert_non_null(big);
	memset(big, 't', 201);
	big[201] = '\0';
	assert_int_equal(check_value("cafe", "topic", pk_str, big),
	    CS_ESCHEMA);
	free(big);
}

/*
 * The field-type table: every type has a whole row, and its list trait is
 * what sch_check() does: a scalar field refuses an array of one value it
 * would take, a list field refuses the value alone and an empty array.
 * Every field of every record type, so a row that lies fails here.
 */
static void test_ftype_table(void **state)
{
	unsigned t, i;
	size_t off;
	(void)state;

	for (t = 0; t < SCH_FTYPE_COUNT; t++)
		if (!sch_ftype_whole((enum sch_ftype)t))
			fail_msg("field type %u has no whole row", t);
	assert_false(sch_ftype_whole((enum sch_ftype)SCH_FTYPE_COUNT));
	for (t = 0; t < sch_ntypes; t++)
		for (i = 0; i < sch_types[t].nfields; i++) {
			const struct sch_field *f = &sch_types[t].fields[i];
			msgpack_sbuffer sb;
			msgpack_packer pk;
			msgpack_unpacked up;
			const char *why;

			assert_true(sch_ftype_whole(f->type));
			msgpack_sbuffer_init(&sb);
			msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
			/* One positive integer: only counts and decimals take
			 * it alone, and no list takes it. */
			msgpack_pack_uint64(&pk, f->min);
			msgpack_pack_array(&pk, 1);
			msgpack_pack_uint64(&pk, f->min);
			msgpack_pack_array(&pk, 0);
			msgpack_unpacked_init(&up);
			off = 0;
			assert_int_equal(msgpack_unpack_next(&up, sb.data,
			    sb.size, &off), MSGPACK_UNPACK_SUCCESS);
			assert_int_equal(sch_check(f, &up.data, &why) == 0,
			    f->type == SCH_UINT || f->type == SCH_DEC2);
			assert_int_equal(msgpack_unpack_next(&up, sb.data,
			    sb.size, &off), MSGPACK_UNPACK_SUCCESS);
			/* An array: never a scalar's value. */
			if (!sch_ftypes[f->type].list)
				assert_int_equal(sch_check(f, &up.data, &why),
				    CS_ESCHEMA);
			assert_int_equal(msgpack_unpack_next(&up, sb.data,
			    sb.size, &off), MSGPACK_UNPACK_SUCCESS);
			/* An empty array: no field's value. */
			assert_int_equal(sch_check(f, &up.data, &why),
			    CS_ESCHEMA);
			msgpack_unpacked_destroy(&up);
			msgpack_sbuffer_destroy(&sb);
		}
}

/* Text must be UTF-8, typed or received. */
static void test_text_utf8(void **state)
{
	const struct sch_type *t = sch_type_find("site", 4);
	const struct sch_field *f = sch_field_find(t, "name", 4);
	msgpack_object o;
	const char *why;
	(void)state;

	assert_int_equal(parse_rc("site", "name", "Caf\xc3\xa9 Uni\xc3\xb3n"), 0);
	assert_int_equal(parse_rc("site", "name", "bad \xff byte"), CS_EUSAGE);
	assert_int_equal(parse_rc("site", "name", "overlong \xc0\xaf"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("site", "name", "cut \xe2\x82"), CS_EUSAGE);
	memset(&o, 0, sizeof o);
	o.type = MSGPACK_OBJECT_STR;
	o.via.str.ptr = "ok \xe2\x82\xac";
	o.via.str.size = 6;
	assert_int_equal(sch_check(f, &o, &why), 0);
	o.via.str.ptr = "no \xed\xa0\x80";	/* a surrogate */
	o.via.str.size = 6;
	assert_int_equal(sch_check(f, &o, &why), CS_ESCHEMA);
	/* A name with a NUL inside is no field's name. */
	assert_null(sch_field_find(t, "name\0xyz", 8));
	assert_null(sch_field_find(t, "nam", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_schema_table, test_teardown),
		cmocka_unit_test_teardown(test_schema_dates, test_teardown),
		cmocka_unit_test_teardown(test_schema_parse, test_teardown),
		cmocka_unit_test_teardown(test_schema_check, test_teardown),
		cmocka_unit_test(test_text_utf8),
		cmocka_unit_test(test_ftype_table),
	};
	return cmocka_run_group_tests_name("store_schema", tests, group_setup,
	    group_teardown);
}
