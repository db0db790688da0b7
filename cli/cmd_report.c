/*
 * cmd_report.c: stats (export and import are in cmd_import.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* ---- stats ------------------------------------------------------------ */

struct stats_arg {
	const char *by;
	json_t *groups;     /* key -> {cafes, attendees, ...} */
	struct store *s;
};

static const char *const stat_fields[] = { "attendees", "new_attendees",
	"children_cared_for", NULL };

/* Adds a café's counts to the group named key. */
static void
stats_add(json_t *groups, const char *key, const struct store_rec *r)
{
	json_t *g = json_object_get(groups, key);
	int i;

	if (g == NULL) {
		g = json_pack("{s:s, s:I, s:I, s:I, s:I}", "key", key,
		    "cafes", (json_int_t)0, "attendees", (json_int_t)0,
		    "new_attendees", (json_int_t)0, "children_cared_for",
		    (json_int_t)0);
		json_object_set_new(groups, key, g);
	}
	json_object_set_new(g, "cafes", json_integer(json_integer_value(
	    json_object_get(g, "cafes")) + 1));
	for (i = 0; stat_fields[i] != NULL; i++) {
		const msgpack_object *v = store_rec_value(r, stat_fields[i]);

		if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
			json_object_set_new(g, stat_fields[i], json_integer(
			    json_integer_value(json_object_get(g,
			    stat_fields[i])) + (json_int_t)v->via.u64));
	}
}

static int
stats_one(const struct store_rec *r, void *arg)
{
	struct stats_arg *sa = arg;
	const msgpack_object *v;
	char key[64];
	uint32_t i;

	if (sa->by == NULL) {
		stats_add(sa->groups, "all", r);
		return 0;
	}
	if (strcmp(sa->by, "factor") == 0) {
		v = store_rec_value(r, "factors");
		for (i = 0; v != NULL && i < v->via.array.size; i++) {
			const msgpack_object_str *s =
			    &v->via.array.ptr[i].via.str;

			snprintf(key, sizeof(key), "%.*s", (int)s->size,
			    s->ptr);
			stats_add(sa->groups, key, r);
		}
		return 0;
	}
	if (strcmp(sa->by, "site") == 0) {
		v = store_rec_value(r, "site");
		if (v == NULL || v->type != MSGPACK_OBJECT_BIN)
			return 0;
		proto_hex(key, (const uint8_t *)v->via.bin.ptr, PROTO_ID_LEN);
	} else if (strcmp(sa->by, "month") == 0) {
		v = store_rec_value(r, "date");
		if (v == NULL || v->type != MSGPACK_OBJECT_STR)
			return 0;
		snprintf(key, sizeof(key), "%.7s", v->via.str.ptr);
	} else {
		v = store_rec_value(r, "format");
		if (v == NULL || v->type != MSGPACK_OBJECT_STR)
			return 0;
		snprintf(key, sizeof(key), "%.*s", (int)v->via.str.size,
		    v->via.str.ptr);
	}
	stats_add(sa->groups, key, r);
	return 0;
}

/* Returns a group's count named k. */
static long long
count(json_t *g, const char *k)
{
	return (long long)json_integer_value(json_object_get(g, k));
}

static int
key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* cafe stats [--by site|month|format|factor] [--json] */
int
cmd_stats(struct cli *c)
{
	static const char *const bys[] = { "site", "month", "format",
		"factor", NULL };
	struct stats_arg sa = { NULL, NULL, c->store };
	struct store_query q;
	const char **keys, *k;
	json_t *v, *out;
	size_t n = 0, i;
	int bad = 0, json;

	json = cli_flag(c, "--json");
	sa.by = cli_take(c, "--by", &bad);
	if (bad || cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	if (sa.by != NULL) {
		for (i = 0; bys[i] != NULL; i++)
			if (strcmp(bys[i], sa.by) == 0)
				break;
		if (bys[i] == NULL)
			return cli_usage_error(c, "option --by: '%s' is not "
			    "one of: site month format factor", sa.by);
	}
	memset(&q, 0, sizeof(q));
	q.type = sch_type_find("cafe", 4);
	sa.groups = json_object();
	store_list(c->store, &q, stats_one, &sa);
	if (sa.by == NULL) {
		out = json_object_get(sa.groups, "all");
		out = out != NULL ? json_incref(out) : json_pack("{s:I, s:I, "
		    "s:I, s:I}", "cafes", (json_int_t)0, "attendees",
		    (json_int_t)0, "new_attendees", (json_int_t)0,
		    "children_cared_for", (json_int_t)0);
		json_object_del(out, "key");
	} else {
		keys = xcalloc(json_object_size(sa.groups) + 1, sizeof(*keys));
		json_object_foreach(sa.groups, k, v)
			keys[n++] = k;
		qsort(keys, n, sizeof(*keys), key_cmp);
		out = json_array();
		for (i = 0; i < n; i++) {
			json_t *g = json_object_get(sa.groups, keys[i]);

			if (strcmp(sa.by, "site") == 0) {
				uint8_t id[PROTO_ID_LEN];
				struct store_rec r;
				const msgpack_object *nm;

				if (proto_unhex(id, PROTO_ID_LEN, keys[i]) == 0 &&
				    store_get(c->store, id, &r) == 0) {
					nm = store_rec_value(&r, "name");
					if (nm != NULL)
						json_object_set_new(g, "name",
						    json_stringn(nm->via.str.ptr,
						    nm->via.str.size));
					store_rec_free(&r);
				}
			}
			json_array_append(out, g);
		}
		free(keys);
	}
	json_decref(sa.groups);
	if (json) {
		cli_print_json(out);
		return EXIT_OK;
	}
	if (sa.by == NULL)
		printf("cafes %lld, attendees %lld, new attendees %lld, "
		    "children cared for %lld\n", count(out, "cafes"),
		    count(out, "attendees"), count(out, "new_attendees"),
		    count(out, "children_cared_for"));
	else {
		printf("%-34s %6s %9s %6s %8s\n", sa.by, "cafes", "attendees",
		    "new", "children");
		for (i = 0; i < json_array_size(out); i++) {
			json_t *g = json_array_get(out, i);
			json_t *nm = json_object_get(g, "name");

			cli_print_cell(nm ? json_string_value(nm) :
			    json_string_value(json_object_get(g, "key")), 34);
			printf(" %6lld %9lld %6lld %8lld\n", count(g, "cafes"), count(g, "attendees"),
			    count(g, "new_attendees"),
			    count(g, "children_cared_for"));
		}
	}
	json_decref(out);
	return EXIT_OK;
}

