/*
 * cmd_list.c: the commands that read records and change nothing: show
 * (one record, a field a line), list (a type's records in columns; --site,
 * --since, --until, --where and --removed choose which, --columns what is
 * shown), history (every change to a record: when, by whom, old and new)
 * and conflicts (values overwritten by concurrent edits).  Each prints
 * text for people, names beside ids, or with --json the values as json.c
 * types them.  The commands that write records are in cmd_record.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Prints text wrapped at 72 columns, later lines indented by ind. */
static void
print_wrapped(const char *s, int ind)
{
	int col = ind;
	const char *p = s;

	while (*p != '\0') {
		const char *w = p;
		int len = 0;

		if (*p == '\n') {
			printf("\n%*s", ind, "");
			col = ind;
			p++;
			continue;
		}
		while (*w != '\0' && *w != ' ' && *w != '\n')
			len += ((unsigned char)*w++ & 0xc0) != 0x80;
		if (col > ind && col + len >= 72) {
			printf("\n%*s", ind, "");
			col = ind;
		}
		fwrite(p, 1, (size_t)(w - p), stdout);
		col += len;
		p = w;
		if (*p == ' ') {
			if (col < 72)
				putchar(' ');
			col++;
			p++;
		}
	}
	putchar('\n');
}

/* Prints a record for people: one field a line, names beside ids. */
static void
print_rec(struct cli *c, const struct store_rec *r)
{
	char hex[2 * PROTO_ID_LEN + 1], *buf = xmalloc(PROTO_MAX_VALUE * 4);
	unsigned i;

	proto_hex(hex, r->id, PROTO_ID_LEN);
	printf("%-20s %s (%s)\n%-20s %s%s\n", "id", cli_short(c, r->id), hex,
	    "type", r->type->name, r->deleted ? " (removed)" : "");
	for (i = 0; i < r->type->nfields; i++) {
		const struct sch_field *f = &r->type->fields[i];
		const msgpack_object *v = store_rec_value(r, f->name);

		if (v == NULL)
			continue;
		cli_value_text(c, f, v, buf, PROTO_MAX_VALUE * 4);
		printf("%-20s ", f->name);
		print_wrapped(buf, 21);
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
		print_rec(c, &r);
	store_rec_free(&r);
	return EXIT_OK;
}

/* A --where condition. */
struct where {
	const struct sch_field *f;
	const char *value;
	char *canon;            /* the value made ready (tokens, ids) */
};

/* Default columns of each type's listing, after the id. */
static const struct {
	const char *type;
	const char *cols;
} list_columns[] = {
	{ "site", "name,county,status,partner_type" },
	{ "person", "name,roles,site" },
	{ "cafe", "date,site,format,attendees,factors,hosts" },
	{ "action", "due,status,title,cafe" },
	{ "training", "date,site,kind,participants" },
	{ "milestone", "site,step,status,date" },
	{ "feedback", "cafe,responses,felt_safe,learned,will_return" },
	{ "audit", "date,site,severity,status,finding" },
	{ "member", "name,role,site,status" },
};

#define MAX_COLS 24
#define COL_WIDTH 34

struct list_arg {
	struct cli *c;
	struct where *w;
	int nw;
	struct cli_jstream js;
	int json;
	int removed;            /* --removed: removed records only */
	char *buf;
	const struct sch_field *col[MAX_COLS];
	int ncol;
	char **cells;           /* rows * (ncol + 1) cells, for alignment */
	size_t rows, cap;
};

/* Returns whether the record's field matches a --where value. */
static int
where_match(const struct store_rec *r, const struct where *w, char *buf)
{
	const msgpack_object *v = store_rec_value(r, w->f->name);
	const char *want = w->canon != NULL ? w->canon : w->value;
	char *item, *save = NULL;

	sch_format(w->f, v, buf, PROTO_MAX_VALUE * 4);
	if (!sch_ftypes[w->f->type].list)
		return strcmp(buf, want) == 0;
	for (item = strtok_r(buf, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save))
		if (strcmp(item, want) == 0)
			return 1;
	return 0;
}

/* Keeps one row of cells. */
static void
row_add(struct list_arg *la, const struct store_rec *r)
{
	size_t base;
	int i;

	if (la->rows == la->cap) {
		la->cap = la->cap ? la->cap * 2 : 256;
		la->cells = xreallocarray(la->cells, la->cap *
		    (size_t)(la->ncol + 1), sizeof(char *));
	}
	base = la->rows * (size_t)(la->ncol + 1);
	la->cells[base] = xstrdup(cli_short(la->c, r->id));
	for (i = 0; i < la->ncol; i++) {
		const struct sch_field *f = la->col[i];
		const msgpack_object *v = store_rec_value(r, f->name);
		char *p;

		if (v == NULL)
			la->buf[0] = '\0';
		else
			cli_value_text(la->c, f, v, la->buf, 4096);
		for (p = la->buf; *p != '\0'; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		cli_text_cut(la->buf, COL_WIDTH);
		la->cells[base + 1 + (size_t)i] = xstrdup(la->buf);
	}
	la->rows++;
}

/* Prints the header and the rows in aligned columns. */
static void
rows_print(struct list_arg *la)
{
	size_t width[MAX_COLS + 1], r;
	int i, n = la->ncol + 1;

	width[0] = 2;
	for (i = 1; i < n; i++)
		width[i] = cli_text_width(la->col[i - 1]->name);
	for (r = 0; r < la->rows; r++)
		for (i = 0; i < n; i++) {
			size_t w = cli_text_width(la->cells[r * (size_t)n +
			    (size_t)i]);

			if (w > width[i])
				width[i] = w;
		}
	for (i = 0; i < n; i++) {
		const char *h = i == 0 ? "id" : la->col[i - 1]->name;

		printf("%s%s", h, i + 1 < n ? "" : "\n");
		if (i + 1 < n)
			printf("%*s", (int)(width[i] - cli_text_width(h) + 2), "");
	}
	for (r = 0; r < la->rows; r++)
		for (i = 0; i < n; i++) {
			char *cell = la->cells[r * (size_t)n + (size_t)i];

			fputs(cell, stdout);
			if (i + 1 < n)
				printf("%*s", (int)(width[i] -
				    cli_text_width(cell) + 2), "");
			else
				putchar('\n');
			free(cell);
		}
	free(la->cells);
	la->cells = NULL;
}

static int
list_one(const struct store_rec *r, void *arg)
{
	struct list_arg *la = arg;
	int i;

	if (la->removed && !r->deleted)
		return 0;
	for (i = 0; i < la->nw; i++)
		if (!where_match(r, &la->w[i], la->buf))
			return 0;
	if (la->json)
		cli_jstream_add(&la->js, cli_rec_json(r));
	else
		row_add(la, r);
	return 0;
}

/* Sets the listing's columns from a comma list; returns 0 or EXIT_USAGE. */
static int
set_columns(struct cli *c, struct list_arg *la, const struct sch_type *t,
    const char *spec, const char *opt)
{
	char *copy = xstrdup(spec), *tok, *save = NULL;

	la->ncol = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		const struct sch_field *f = sch_field_find(t, tok, strlen(tok));

		if (strcmp(tok, "id") == 0)
			continue;
		if (f == NULL || la->ncol == MAX_COLS) {
			cli_usage_error(c, "option %s: %s has no field '%s' "
			    "(cafe help %s)", opt, t->name, tok, t->name);
			free(copy);
			return EXIT_USAGE;
		}
		la->col[la->ncol++] = f;
	}
	free(copy);
	return 0;
}

/*
 * cafe list TYPE [--site S] [--since D] [--until D] [--where f=v ...]
 * [--columns F,...] [--removed] [--json]
 */
int
cmd_list(struct cli *c)
{
	struct store_query q;
	struct list_arg la;
	uint8_t site[PROTO_ID_LEN];
	const char *s_site, *s_since, *s_until, *w, *s_cols;
	int bad = 0, rc = EXIT_USAGE, i;
	size_t k;

	memset(&q, 0, sizeof(q));
	memset(&la, 0, sizeof(la));
	la.c = c;
	la.json = cli_flag(c, "--json");
	la.removed = cli_flag(c, "--removed");
	s_site = cli_take(c, "--site", &bad);
	s_since = cli_take(c, "--since", &bad);
	s_until = cli_take(c, "--until", &bad);
	s_cols = cli_take(c, "--columns", &bad);
	while ((w = cli_take(c, "--where", &bad)) != NULL) {
		la.w = xreallocarray(la.w, (size_t)la.nw + 1, sizeof(*la.w));
		la.w[la.nw].value = w;
		la.w[la.nw].canon = NULL;
		la.nw++;
	}
	if (bad || cli_rest(c, 1, 1) != 0)
		goto out;
	if ((q.type = cli_type(c, c->argv[0])) == NULL)
		goto out;
	for (i = 0; i < la.nw; i++) {
		const char *eq = strchr(la.w[i].value, '=');
		char *msg = NULL;

		if (eq == NULL || (la.w[i].f = sch_field_find(q.type,
		    la.w[i].value, (size_t)(eq - la.w[i].value))) == NULL) {
			cli_usage_error(c, "option --where: '%s' is not "
			    "field=value with a field of %s", la.w[i].value,
			    q.type->name);
			goto out;
		}
		la.w[i].value = eq + 1;
		if (sch_ftypes[la.w[i].f->type].tokens ||
		    sch_ftypes[la.w[i].f->type].refs) {
			struct sch_field one = *la.w[i].f;

			/* One token or reference, whatever the field holds. */
			one.type = sch_ftypes[one.type].item;
			one.required = 0;
			la.w[i].canon = cli_field_value(c, &one, la.w[i].value,
			    &msg);
			if (la.w[i].canon == NULL) {
				cli_usage_error(c, "option --where: %s", msg);
				free(msg);
				goto out;
			}
		}
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
	for (k = 0; k < sizeof(list_columns) / sizeof(list_columns[0]); k++)
		if (strcmp(list_columns[k].type, q.type->name) == 0)
			set_columns(c, &la, q.type, list_columns[k].cols,
			    "--columns");
	if (s_cols != NULL && set_columns(c, &la, q.type, s_cols,
	    "--columns") != 0)
		goto out;
	q.with_deleted = la.removed;
	la.buf = xmalloc(PROTO_MAX_VALUE * 4);
	if (la.json)
		cli_jstream_begin(&la.js);
	store_list(c->store, &q, list_one, &la);
	if (la.json)
		cli_jstream_end(&la.js);
	else
		rows_print(&la);
	rc = EXIT_OK;
out:
	free(la.buf);
	for (i = 0; i < la.nw; i++)
		free(la.w[i].canon);
	free(la.w);
	return rc;
}

/* Writes a JSON value of field f for people (names beside ids). */
static void
json_human(struct cli *c, const struct sch_field *f, json_t *v, char *buf,
    size_t len)
{
	uint8_t id[PROTO_ID_LEN];
	size_t i, pos = 0;
	char *s;

	if (f != NULL && sch_ftypes[f->type].refs &&
	    (json_is_string(v) || json_is_array(v))) {
		buf[0] = '\0';
		for (i = 0; i < (json_is_array(v) ? json_array_size(v) : 1);
		    i++) {
			json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
			char one[300];

			if (!json_is_string(e) || proto_unhex(id, PROTO_ID_LEN,
			    json_string_value(e)) != 0)
				continue;
			cli_ref_text(c, id, one, sizeof(one));
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s",
			    i > 0 ? ", " : "", one);
			if (pos >= len)
				return;
		}
		return;
	}
	if (json_is_null(v)) {
		snprintf(buf, len, "(none)");
		return;
	}
	if (json_is_string(v)) {
		snprintf(buf, len, "%s", json_string_value(v));
		return;
	}
	if (json_is_array(v)) {
		json_t *e;

		buf[0] = '\0';
		json_array_foreach(v, i, e) {
			char *t = json_is_string(e) ? NULL :
			    json_dumps(e, JSON_ENCODE_ANY | JSON_COMPACT);

			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s",
			    i > 0 ? "," : "", t != NULL ? t :
			    json_string_value(e));
			free(t);
			if (pos >= len)
				return;
		}
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	snprintf(buf, len, "%s", s != NULL ? s : "");
	free(s);
}

struct history_arg {
	struct cli *c;
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
	{
		char lt[40], *ov = xmalloc(2048), *nv = xmalloc(2048);

		cli_time_local(HLC_MS(ch->sc->c->hlc), lt, sizeof(lt));
		printf("%s  %s by %s (commit %llu)\n", lt,
		    op->kind == PROTO_OP_DEL ? "removed" :
		    ha->seen++ == 0 ? "created" : "changed",
		    cli_author(ha->c, ch->sc->c->origin),
		    (unsigned long long)ch->sc->c->seq);
		for (i = 0; i < json_array_size(changes); i++) {
			json_t *x = json_array_get(changes, i);
			const char *fn = json_string_value(json_object_get(x,
			    "field"));
			const struct sch_field *f = sch_field_find(ha->t, fn,
			    strlen(fn));

			json_human(ha->c, f, json_object_get(x, "old"), ov,
			    2048);
			json_human(ha->c, f, json_object_get(x, "new"), nv,
			    2048);
			printf("    %s: %s -> %s\n", fn, ov, nv);
		}
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
	ha.c = c;
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
	struct cli *c;
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
		char lv[1024], wv[1024], lt[40], what[300];
		struct store_rec r;

		json_human(ca->c, f, json_object_get(e, "value"), lv,
		    sizeof(lv));
		json_human(ca->c, f, json_object_get(e, "winner"), wv,
		    sizeof(wv));
		cli_time_local(HLC_MS(cf->hlc), lt, sizeof(lt));
		what[0] = '\0';
		if (store_get(ca->c->store, cf->id, &r) == 0) {
			cli_rec_describe(&r, what, sizeof(what));
			store_rec_free(&r);
		}
		printf("%s (%s) %s: %s by %s at %s lost to %s by %s\n",
		    what[0] ? what : cf->type->name, cli_short(ca->c, cf->id),
		    cf->field, lv, cli_author(ca->c, cf->origin), lt, wv,
		    cf->winner_origin != NULL ?
		    cli_author(ca->c, cf->winner_origin) : "?");
	}
	json_decref(e);
	return 0;
}

/* cafe conflicts [ID] [--json] */
int
cmd_conflicts(struct cli *c)
{
	struct conflict_arg ca = { c, NULL, 0 };
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
