/*
 * cmd_record.c: commands on records: add, edit, rm, show, list, history,
 * conflicts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Prints a batch's warnings, then commits it; returns an exit code. */
static int
commit_batch(struct cli *c, struct store_batch *b)
{
	const char *w;
	char *cause = NULL;
	size_t i;

	for (i = 0; (w = store_batch_warning(b, i)) != NULL; i++)
		cli_warn("%s", w);
	if (store_batch_commit(b, &cause) != 0) {
		cli_fail(c, EXIT_USAGE, "%s", cause);
		free(cause);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Puts fields from argv[from..] into a new or existing record. */
static int
put_fields(struct cli *c, const struct sch_type *t, uint8_t id[PROTO_ID_LEN],
    int create, int from)
{
	struct store_kv *kv;
	struct store_batch *b;
	char *cause = NULL, hex[2 * PROTO_ID_LEN + 1];
	int n = c->argc - from, rc;

	kv = xcalloc((size_t)(n > 0 ? n : 1), sizeof(*kv));
	if ((rc = cli_fields(c, c->argv + from, n, kv)) != 0) {
		free(kv);
		return rc;
	}
	b = store_batch_new(c->store);
	if (store_batch_put(b, t, id, create, kv, (size_t)n, &cause) != 0) {
		rc = cli_usage_error(c, "%s", cause);
		free(cause);
	} else if ((rc = commit_batch(c, b)) == EXIT_OK) {
		proto_hex(hex, id, PROTO_ID_LEN);
		printf("%s\n", hex);
	}
	store_batch_free(b);
	free(kv);
	return rc;
}

/* cafe add TYPE field=value ... */
int
cmd_add(struct cli *c)
{
	const struct sch_type *t;
	uint8_t id[PROTO_ID_LEN];

	if (cli_rest(c, 1, -1) != 0)
		return EXIT_USAGE;
	if ((t = cli_type(c, c->argv[0])) == NULL)
		return EXIT_USAGE;
	return put_fields(c, t, id, 1, 1);
}

/* cafe edit ID field=value ... */
int
cmd_edit(struct cli *c)
{
	struct store_rec r;
	const struct sch_type *t;
	uint8_t id[PROTO_ID_LEN];

	if (cli_rest(c, 2, -1) != 0)
		return EXIT_USAGE;
	if (cli_resolve(c, c->argv[0], NULL, id) != 0)
		return EXIT_USAGE;
	if (store_get(c->store, id, &r) != 0)
		return cli_usage_error(c, "no record %s", c->argv[0]);
	t = r.type;
	store_rec_free(&r);
	return put_fields(c, t, id, 0, 1);
}

/* cafe rm ID */
int
cmd_rm(struct cli *c)
{
	struct store_batch *b;
	uint8_t id[PROTO_ID_LEN];
	char *cause = NULL;
	int rc;

	if (cli_rest(c, 1, 1) != 0)
		return EXIT_USAGE;
	if (cli_resolve(c, c->argv[0], NULL, id) != 0)
		return EXIT_USAGE;
	b = store_batch_new(c->store);
	if (store_batch_del(b, id, &cause) != 0) {
		rc = cli_usage_error(c, "%s", cause);
		free(cause);
	} else
		rc = commit_batch(c, b);
	store_batch_free(b);
	return rc;
}

/* Prints a record for people: one field a line. */
static void
print_rec(const struct store_rec *r)
{
	char hex[2 * PROTO_ID_LEN + 1], *buf = xmalloc(PROTO_MAX_VALUE * 4);
	unsigned i;

	proto_hex(hex, r->id, PROTO_ID_LEN);
	printf("%-20s %s\n%-20s %s\n", "id", hex, "type", r->type->name);
	for (i = 0; i < r->type->nfields; i++) {
		const struct sch_field *f = &r->type->fields[i];
		const msgpack_object *v = store_rec_value(r, f->name);

		if (v == NULL)
			continue;
		sch_format(f, v, buf, PROTO_MAX_VALUE * 4);
		printf("%-20s %s\n", f->name, buf);
	}
	free(buf);
}

/* cafe show ID [--json] */
int
cmd_show(struct cli *c)
{
	struct store_rec r;
	uint8_t id[PROTO_ID_LEN];

	c->json = cli_flag(c, "--json");
	if (cli_rest(c, 1, 1) != 0)
		return EXIT_USAGE;
	if (cli_resolve(c, c->argv[0], NULL, id) != 0)
		return EXIT_USAGE;
	if (store_get(c->store, id, &r) != 0)
		return cli_usage_error(c, "no record %s", c->argv[0]);
	if (c->json)
		cli_print_json(cli_rec_json(&r));
	else
		print_rec(&r);
	store_rec_free(&r);
	return EXIT_OK;
}

/* A --where condition. */
struct where {
	const struct sch_field *f;
	const char *value;
};

struct list_arg {
	struct where *w;
	int nw;
	struct cli_jstream js;
	int json;
	char *buf;
};

/* Returns whether the record's field matches a --where value. */
static int
where_match(const struct store_rec *r, const struct where *w, char *buf)
{
	const msgpack_object *v = store_rec_value(r, w->f->name);
	char *item, *save = NULL;
	size_t n = strlen(w->value);

	sch_format(w->f, v, buf, PROTO_MAX_VALUE * 4);
	switch (w->f->type) {
	case SCH_SET:
	case SCH_LIST:
	case SCH_REFS:
		for (item = strtok_r(buf, ",", &save); item != NULL;
		    item = strtok_r(NULL, ",", &save))
			if (strcmp(item, w->value) == 0 ||
			    (w->f->type == SCH_REFS &&
			    strncmp(item, w->value, n) == 0))
				return 1;
		return 0;
	case SCH_REF:
		return n > 0 && strncmp(buf, w->value, n) == 0;
	default:
		return strcmp(buf, w->value) == 0;
	}
}

/* Prints one listed record for people: id then its fields. */
static void
print_line(const struct store_rec *r, char *buf)
{
	char hex[2 * PROTO_ID_LEN + 1];
	unsigned i;

	proto_hex(hex, r->id, PROTO_ID_LEN);
	printf("%s", hex);
	for (i = 0; i < r->type->nfields; i++) {
		const struct sch_field *f = &r->type->fields[i];
		const msgpack_object *v = store_rec_value(r, f->name);

		if (v == NULL || (f->type == SCH_TEXT && f->max > 200))
			continue;
		sch_format(f, v, buf, 200);
		if (f->type == SCH_REF || f->type == SCH_REFS)
			buf[8] = '\0';
		printf("  %s=%s", f->name, buf);
	}
	putchar('\n');
}

static int
list_one(const struct store_rec *r, void *arg)
{
	struct list_arg *la = arg;
	int i;

	for (i = 0; i < la->nw; i++)
		if (!where_match(r, &la->w[i], la->buf))
			return 0;
	if (la->json)
		cli_jstream_add(&la->js, cli_rec_json(r));
	else
		print_line(r, la->buf);
	return 0;
}

/* cafe list TYPE [--site S] [--since D] [--until D] [--where f=v] [--json] */
int
cmd_list(struct cli *c)
{
	struct store_query q;
	struct list_arg la;
	uint8_t site[PROTO_ID_LEN];
	const char *s_site, *s_since, *s_until, *w;
	int bad = 0, rc = EXIT_USAGE;

	memset(&q, 0, sizeof(q));
	memset(&la, 0, sizeof(la));
	la.json = cli_flag(c, "--json");
	s_site = cli_take(c, "--site", &bad);
	s_since = cli_take(c, "--since", &bad);
	s_until = cli_take(c, "--until", &bad);
	while ((w = cli_take(c, "--where", &bad)) != NULL) {
		la.w = xreallocarray(la.w, (size_t)la.nw + 1, sizeof(*la.w));
		la.w[la.nw].value = w;
		la.nw++;
	}
	if (bad || cli_rest(c, 1, 1) != 0)
		goto out;
	if ((q.type = cli_type(c, c->argv[0])) == NULL)
		goto out;
	for (int i = 0; i < la.nw; i++) {
		const char *eq = strchr(la.w[i].value, '=');

		if (eq == NULL || (la.w[i].f = sch_field_find(q.type,
		    la.w[i].value, (size_t)(eq - la.w[i].value))) == NULL) {
			cli_usage_error(c, "option --where: '%s' is not "
			    "field=value with a field of %s", la.w[i].value,
			    q.type->name);
			goto out;
		}
		la.w[i].value = eq + 1;
	}
	if (s_site != NULL) {
		if (sch_field_find(q.type, "site", 4) == NULL) {
			cli_usage_error(c, "option --site: a %s has no site",
			    q.type->name);
			goto out;
		}
		if (cli_resolve(c, s_site, sch_type_find("site", 4), site) != 0)
			goto out;
		q.site = site;
	}
	if ((s_since != NULL && cli_date(c, "--since", s_since,
	    &q.since) != 0) || (s_until != NULL && cli_date(c, "--until",
	    s_until, &q.until) != 0))
		goto out;
	if ((q.since || q.until) && sch_field_find(q.type, "date", 4) == NULL) {
		cli_usage_error(c, "option --since/--until: a %s has no date",
		    q.type->name);
		goto out;
	}
	la.buf = xmalloc(PROTO_MAX_VALUE * 4);
	if (la.json)
		cli_jstream_begin(&la.js);
	store_list(c->store, &q, list_one, &la);
	if (la.json)
		cli_jstream_end(&la.js);
	rc = EXIT_OK;
out:
	free(la.buf);
	free(la.w);
	return rc;
}

struct history_arg {
	const struct sch_type *t;
	int seen;           /* changes printed so far */
	json_t *last;       /* field -> last value seen */
	json_t *a;
	int json;
};

static int
history_one(const struct store_change *ch, void *arg)
{
	struct history_arg *ha = arg;
	const struct proto_op *op = ch->op;
	char o[65], t[40];
	json_t *e, *changes = json_array();
	uint32_t i;

	proto_hex(o, ch->sc->c->origin, PROTO_KEY_LEN);
	cli_time(ch->sc->c->hlc, 1, t, sizeof(t));
	for (i = 0; i < op->nfields; i++) {
		char name[PROTO_MAX_NAME + 1];
		const struct sch_field *f;
		json_t *old, *nv;

		memcpy(name, op->fields[i].key.via.str.ptr,
		    op->fields[i].key.via.str.size);
		name[op->fields[i].key.via.str.size] = '\0';
		if ((f = sch_field_find(ha->t, name, strlen(name))) == NULL)
			continue;
		old = json_object_get(ha->last, name);
		nv = cli_value_json(f, &op->fields[i].val);
		json_array_append_new(changes, json_pack("{s:s, s:O, s:O}",
		    "field", name, "old", old ? old : json_null(), "new", nv));
		json_object_set_new(ha->last, name, nv);
	}
	e = json_pack("{s:s, s:I, s:s, s:I, s:s, s:o}", "time", t,
	    "hlc", (json_int_t)ch->sc->c->hlc, "origin", o,
	    "seq", (json_int_t)ch->sc->c->seq,
	    "op", op->kind == PROTO_OP_DEL ? "del" : "put",
	    "changes", changes);
	if (ha->json) {
		json_array_append_new(ha->a, e);
		return 0;
	}
	printf("%s  %.16s:%llu  %s\n", t, o,
	    (unsigned long long)ch->sc->c->seq,
	    op->kind == PROTO_OP_DEL ? "removed" :
	    ha->seen++ == 0 ? "created" : "changed");
	for (i = 0; i < json_array_size(changes); i++) {
		json_t *x = json_array_get(changes, i);
		char *ov = json_dumps(json_object_get(x, "old"),
		    JSON_ENCODE_ANY | JSON_COMPACT);
		char *nv = json_dumps(json_object_get(x, "new"),
		    JSON_ENCODE_ANY | JSON_COMPACT);

		printf("    %s: %s -> %s\n",
		    json_string_value(json_object_get(x, "field")), ov, nv);
		free(ov);
		free(nv);
	}
	json_decref(e);
	return 0;
}

/* cafe history ID [--json] */
int
cmd_history(struct cli *c)
{
	struct history_arg ha;
	struct store_rec r;
	uint8_t id[PROTO_ID_LEN];

	memset(&ha, 0, sizeof(ha));
	ha.json = cli_flag(c, "--json");
	if (cli_rest(c, 1, 1) != 0)
		return EXIT_USAGE;
	if (cli_resolve_all(c, c->argv[0], id) != 0)
		return EXIT_USAGE;
	if (store_get(c->store, id, &r) != 0)
		return cli_usage_error(c, "no record %s", c->argv[0]);
	ha.t = r.type;
	store_rec_free(&r);
	ha.last = json_object();
	ha.a = json_array();
	store_history(c->store, id, history_one, &ha);
	if (ha.json)
		cli_print_json(ha.a);
	else
		json_decref(ha.a);
	json_decref(ha.last);
	return EXIT_OK;
}

struct conflict_arg {
	json_t *a;
	int json;
};

static int
conflict_one(const struct store_conflict *cf, void *arg)
{
	struct conflict_arg *ca = arg;
	const struct sch_field *f = sch_field_find(cf->type, cf->field,
	    strlen(cf->field));
	char id[33], o[65], wo[65] = "", t[40];
	json_t *e;

	if (f == NULL)
		return 0;
	proto_hex(id, cf->id, PROTO_ID_LEN);
	proto_hex(o, cf->origin, PROTO_KEY_LEN);
	if (cf->winner_origin != NULL)
		proto_hex(wo, cf->winner_origin, PROTO_KEY_LEN);
	cli_time(cf->hlc, 1, t, sizeof(t));
	e = json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:o, s:s}", "id", id,
	    "type", cf->type->name, "field", cf->field,
	    "value", cli_value_json(f, cf->value), "origin", o, "time", t,
	    "winner", cli_value_json(f, cf->winner), "winner_origin", wo);
	if (ca->json) {
		json_array_append_new(ca->a, e);
		return 0;
	}
	{
		char *lv = json_dumps(json_object_get(e, "value"),
		    JSON_ENCODE_ANY | JSON_COMPACT);
		char *wv = json_dumps(json_object_get(e, "winner"),
		    JSON_ENCODE_ANY | JSON_COMPACT);

		printf("%s %s %s: %s (by %.16s at %s) lost to %s (by %.16s)\n",
		    cf->type->name, id, cf->field, lv, o, t, wv, wo);
		free(lv);
		free(wv);
	}
	json_decref(e);
	return 0;
}

/* cafe conflicts [ID] [--json] */
int
cmd_conflicts(struct cli *c)
{
	struct conflict_arg ca = { NULL, 0 };
	uint8_t id[PROTO_ID_LEN];

	ca.json = cli_flag(c, "--json");
	if (cli_rest(c, 0, 1) != 0)
		return EXIT_USAGE;
	if (c->argc == 1 && cli_resolve(c, c->argv[0], NULL, id) != 0)
		return EXIT_USAGE;
	ca.a = json_array();
	store_conflicts(c->store, c->argc == 1 ? id : NULL, conflict_one, &ca);
	if (ca.json)
		cli_print_json(ca.a);
	else
		json_decref(ca.a);
	return EXIT_OK;
}
