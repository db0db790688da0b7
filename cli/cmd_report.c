/*
 * cmd_report.c: stats, export and import.  CSV goes through libcsv, JSON
 * through jansson; the columns and keys are the schema's field names.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "cli.h"

/* Most errors an import lists before it stops looking. */
#define IMPORT_MAX_ERRORS 20
/* Most records one import takes (all are held until the commit). */
#define IMPORT_MAX_ROWS 1000000
/* Largest JSON file an import reads (it is parsed whole). */
#define IMPORT_MAX_JSON ((long)256 << 20)

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

			printf("%-34.34s %6lld %9lld %6lld %8lld\n",
			    nm ? json_string_value(nm) :
			    json_string_value(json_object_get(g, "key")),
			    count(g, "cafes"), count(g, "attendees"),
			    count(g, "new_attendees"),
			    count(g, "children_cared_for"));
		}
	}
	json_decref(out);
	return EXIT_OK;
}

/* ---- export ----------------------------------------------------------- */

struct export_arg {
	int csv;
	struct cli_jstream js;
	char *buf;
};

/* Writes one CSV cell, quoted by libcsv only when it needs to be. */
static void
csv_cell(const char *s, int first)
{
	size_t n = strlen(s);

	if (!first)
		fputc(',', stdout);
	if (strpbrk(s, ",\"\r\n") != NULL || (n > 0 && (s[0] == ' ' ||
	    s[n - 1] == ' ')))
		csv_fwrite(stdout, s, n);
	else
		fputs(s, stdout);
}

static int
export_one(const struct store_rec *r, void *arg)
{
	struct export_arg *ea = arg;
	char hex[2 * PROTO_ID_LEN + 1];
	unsigned i;

	if (!ea->csv) {
		cli_jstream_add(&ea->js, cli_rec_json(r));
		return 0;
	}
	proto_hex(hex, r->id, PROTO_ID_LEN);
	csv_cell(hex, 1);
	for (i = 0; i < r->type->nfields; i++) {
		const struct sch_field *f = &r->type->fields[i];

		sch_format(f, store_rec_value(r, f->name), ea->buf,
		    PROTO_MAX_VALUE * 4);
		csv_cell(ea->buf, 0);
	}
	fputc('\n', stdout);
	return 0;
}

/* cafe export TYPE --format csv|json */
int
cmd_export(struct cli *c)
{
	struct export_arg ea = { 0, { 0 }, NULL };
	struct store_query q;
	const char *fmt;
	unsigned i;
	int bad = 0;

	fmt = cli_take(c, "--format", &bad);
	if (bad || cli_rest(c, 1, 1) != 0)
		return EXIT_USAGE;
	memset(&q, 0, sizeof(q));
	if ((q.type = cli_type(c, c->argv[0])) == NULL)
		return EXIT_USAGE;
	if (fmt == NULL || (strcmp(fmt, "csv") != 0 &&
	    strcmp(fmt, "json") != 0))
		return cli_usage_error(c, "option --format: must be csv or "
		    "json");
	ea.csv = strcmp(fmt, "csv") == 0;
	if (ea.csv) {
		csv_cell("id", 1);
		for (i = 0; i < q.type->nfields; i++)
			csv_cell(q.type->fields[i].name, 0);
		fputc('\n', stdout);
		ea.buf = xmalloc(PROTO_MAX_VALUE * 4);
	} else
		cli_jstream_begin(&ea.js);
	store_list(c->store, &q, export_one, &ea);
	if (!ea.csv)
		cli_jstream_end(&ea.js);
	free(ea.buf);
	return EXIT_OK;
}

/* ---- import ----------------------------------------------------------- */

struct import_state {
	struct cli *c;
	const struct sch_type *t;
	const char *path;
	struct store_batch *b;
	/* CSV row being gathered */
	char **cells;
	size_t *cellcap;
	size_t ncells, cap;
	/* header */
	char **cols;
	size_t ncols;
	int *colfield;       /* -1 for an ignored column (id) */
	unsigned long line;  /* physical line being parsed */
	unsigned long start; /* line the current CSV row starts on */
	unsigned long rows;
	int errors;
};

/* Reports a bad row; stops listing after IMPORT_MAX_ERRORS. */
static void
row_error(struct import_state *st, const char *where, unsigned long n,
    const char *cause)
{
	if (st->errors++ < IMPORT_MAX_ERRORS)
		cli_msg("import", "%s:%s%lu: %s", st->path, where, n, cause);
}

/* Adds one record from kv; reports errors against the row. */
static void
import_row(struct import_state *st, struct store_kv *kv, size_t n,
    const char *where, unsigned long at)
{
	uint8_t id[PROTO_ID_LEN];
	char *cause = NULL;

	if (st->rows == IMPORT_MAX_ROWS) {
		if (st->rows++ == IMPORT_MAX_ROWS)
			row_error(st, where, at, "more than 1000000 records; "
			    "split the file");
		return;
	}
	if (st->rows > IMPORT_MAX_ROWS)
		return;
	if (store_batch_put(st->b, st->t, id, 1, kv, n, &cause) != 0) {
		row_error(st, where, at, cause);
		free(cause);
	}
	st->rows++;
}

static void
csv_field_cb(void *s, size_t len, void *arg)
{
	struct import_state *st = arg;

	/* Cell buffers are kept from row to row and grown as needed. */
	if (st->ncells == st->cap) {
		size_t old = st->cap;

		st->cap = st->cap ? st->cap * 2 : 32;
		st->cells = xreallocarray(st->cells, st->cap,
		    sizeof(*st->cells));
		st->cellcap = xreallocarray(st->cellcap, st->cap,
		    sizeof(*st->cellcap));
		memset(st->cells + old, 0, (st->cap - old) *
		    sizeof(*st->cells));
		memset(st->cellcap + old, 0, (st->cap - old) *
		    sizeof(*st->cellcap));
	}
	if (st->cellcap[st->ncells] < len + 1) {
		st->cellcap[st->ncells] = len + 1 < 64 ? 64 : len + 1;
		free(st->cells[st->ncells]);
		st->cells[st->ncells] = xmalloc(st->cellcap[st->ncells]);
	}
	memcpy(st->cells[st->ncells], s, len);
	st->cells[st->ncells][len] = '\0';
	st->ncells++;
}

/* Ends a row's cells; their buffers stay for the next row. */
static void
clear_cells(struct import_state *st)
{
	st->ncells = 0;
}

/* Frees the cell buffers. */
static void
free_cells(struct import_state *st)
{
	size_t i;

	for (i = 0; i < st->cap; i++)
		free(st->cells[i]);
	free(st->cells);
	free(st->cellcap);
	st->cells = NULL;
	st->cellcap = NULL;
	st->ncells = st->cap = 0;
}

/* Ends a CSV row: the first is the header, the rest records. */
static void
csv_row_cb(int ch, void *arg)
{
	struct import_state *st = arg;
	struct store_kv kv[PROTO_MAX_FIELDS];
	size_t i, n = 0;
	unsigned long at;
	char msg[160];

	/* A quoted cell may span lines: errors name the row's first. */
	at = st->start;
	st->start = st->line + 1;
	if (st->cols == NULL) {
		st->cols = xcalloc(st->ncells + 1, sizeof(*st->cols));
		st->ncols = st->ncells;
		for (i = 0; i < st->ncols; i++)
			st->cols[i] = xstrdup(st->cells[i]);
		clear_cells(st);
		st->colfield = xcalloc(st->ncols, sizeof(int));
		for (i = 0; i < st->ncols; i++) {
			const struct sch_field *f = sch_field_find(st->t,
			    st->cols[i], strlen(st->cols[i]));

			if (strcmp(st->cols[i], "id") == 0)
				st->colfield[i] = -1;
			else if (f == NULL) {
				snprintf(msg, sizeof(msg), "column %.40s: %s "
				    "has no such field", st->cols[i],
				    st->t->name);
				row_error(st, "", at, msg);
				st->colfield[i] = -1;
			} else
				st->colfield[i] = (int)(f - st->t->fields);
		}
		return;
	}
	if (st->ncells != st->ncols) {
		snprintf(msg, sizeof(msg), "row has %zu cells, the header %zu",
		    st->ncells, st->ncols);
		row_error(st, "", at, msg);
		clear_cells(st);
		return;
	}
	for (i = 0; i < st->ncells && n < PROTO_MAX_FIELDS; i++)
		if (st->colfield[i] >= 0 && st->cells[i][0] != '\0') {
			kv[n].name = st->t->fields[st->colfield[i]].name;
			kv[n].value = st->cells[i];
			n++;
		}
	import_row(st, kv, n, "", at);
	clear_cells(st);
}

/* Reads a CSV file line by line so errors can name the line. */
static int
import_csv(struct import_state *st, FILE *f)
{
	struct csv_parser parser;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (csv_init(&parser, CSV_STRICT | CSV_APPEND_NULL |
	    CSV_EMPTY_IS_NULL) != 0)
		return -1;
	csv_set_opts(&parser, CSV_STRICT | CSV_STRICT_FINI);
	while ((len = getline(&line, &cap, f)) > 0) {
		char *p = line;

		st->line++;
		/* A spreadsheet's UTF-8 byte-order mark is not a column. */
		if (st->line == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf",
		    3) == 0) {
			p += 3;
			len -= 3;
		}
		if (csv_parse(&parser, p, (size_t)len, csv_field_cb,
		    csv_row_cb, st) != (size_t)len) {
			row_error(st, "", st->line, csv_strerror(
			    csv_error(&parser)));
			break;
		}
	}
	if (csv_fini(&parser, csv_field_cb, csv_row_cb, st) != 0)
		row_error(st, "", st->line, "file ends inside a quoted cell");
	csv_free(&parser);
	free(line);
	free_cells(st);
	return 0;
}

/* Converts a JSON value to the text form sch_parse() reads. */
static char *
json_text(json_t *v)
{
	size_t i, n = 0;
	char *s, **parts;

	switch (json_typeof(v)) {
	case JSON_STRING:
		return xstrdup(json_string_value(v));
	case JSON_INTEGER:
		return xasprintf("%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return xasprintf("%.2f", json_real_value(v));
	case JSON_ARRAY:
		parts = xcalloc(json_array_size(v) + 1, sizeof(*parts));
		for (i = 0; i < json_array_size(v); i++) {
			parts[i] = json_text(json_array_get(v, i));
			if (parts[i] == NULL) {
				while (i > 0)
					free(parts[--i]);
				free(parts);
				return NULL;
			}
			n += strlen(parts[i]) + 1;
		}
		s = xcalloc(n + 1, 1);
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0)
				strcat(s, ",");
			strcat(s, parts[i]);
			free(parts[i]);
		}
		free(parts);
		return s;
	default:
		return NULL;
	}
}

/* Adds one JSON object as a record; errors name its line. */
static void
import_object(struct import_state *st, json_t *o, unsigned long line)
{
	struct store_kv kv[PROTO_MAX_FIELDS];
	char *texts[PROTO_MAX_FIELDS], msg[200];
	const char *k;
	json_t *v;
	size_t n = 0, j;
	int bad = 0;

	if (!json_is_object(o)) {
		row_error(st, "", line, "not a JSON object");
		return;
	}
	v = json_object_get(o, "type");
	if (v != NULL && (!json_is_string(v) ||
	    strcmp(json_string_value(v), st->t->name) != 0)) {
		snprintf(msg, sizeof(msg), "type: this is not a %s record",
		    st->t->name);
		row_error(st, "", line, msg);
		return;
	}
	json_object_foreach(o, k, v) {
		if (strcmp(k, "id") == 0 || strcmp(k, "type") == 0 ||
		    strcmp(k, "deleted") == 0 || json_is_null(v))
			continue;
		if (n == PROTO_MAX_FIELDS) {
			row_error(st, "", line, "too many fields");
			bad = 1;
			break;
		}
		if ((texts[n] = json_text(v)) == NULL) {
			snprintf(msg, sizeof(msg), "field %.40s: not a string, "
			    "number or list", k);
			row_error(st, "", line, msg);
			bad = 1;
			break;
		}
		kv[n].name = k;
		kv[n].value = texts[n];
		n++;
	}
	if (!bad)
		import_row(st, kv, n, "", line);
	for (j = 0; j < n; j++)
		free(texts[j]);
}

/* Skips JSON white space from *pos, counting lines. */
static void
skip_space(const char *buf, size_t len, size_t *pos, unsigned long *line)
{
	for (; *pos < len; (*pos)++) {
		if (buf[*pos] == '\n')
			(*line)++;
		else if (buf[*pos] != ' ' && buf[*pos] != '\t' &&
		    buf[*pos] != '\r')
			break;
	}
}

/*
 * Reads a JSON array of flat objects, one element at a time, so an error
 * can name the line its object starts on.
 */
static int
import_json(struct import_state *st, FILE *f)
{
	json_error_t err;
	json_t *o;
	char *buf, msg[200];
	size_t len, pos = 0, i;
	unsigned long line = 1;
	long size;

	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0) {
		row_error(st, "", 1, "cannot size the file");
		return 0;
	}
	if (size > IMPORT_MAX_JSON) {
		row_error(st, "", 1, "JSON file over 256 MiB; split it or "
		    "use CSV");
		return 0;
	}
	rewind(f);
	buf = xmalloc((size_t)size + 1);
	len = fread(buf, 1, (size_t)size, f);
	skip_space(buf, len, &pos, &line);
	if (pos >= len || buf[pos] != '[') {
		row_error(st, "", line, "not a JSON array of records");
		goto out;
	}
	pos++;
	for (;;) {
		skip_space(buf, len, &pos, &line);
		if (pos < len && buf[pos] == ']')
			break;
		o = json_loadb(buf + pos, len - pos, JSON_DISABLE_EOF_CHECK |
		    JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
		if (o == NULL) {
			snprintf(msg, sizeof(msg), "not JSON: %s", err.text);
			row_error(st, "", line + (unsigned long)err.line - 1,
			    msg);
			goto out;
		}
		import_object(st, o, line);
		json_decref(o);
		for (i = pos; i < pos + err.position && i < len; i++)
			line += buf[i] == '\n';
		pos += err.position;
		skip_space(buf, len, &pos, &line);
		if (pos < len && buf[pos] == ',')
			pos++;
		else if (pos >= len || buf[pos] != ']') {
			row_error(st, "", line, "expected , or ] after a "
			    "record");
			goto out;
		}
	}
	pos++;
	skip_space(buf, len, &pos, &line);
	if (pos < len)
		row_error(st, "", line, "text after the array");
out:
	free(buf);
	return 0;
}

/* cafe import TYPE FILE [--format csv|json] */
int
cmd_import(struct cli *c)
{
	struct import_state st;
	const char *fmt, *dot;
	char *cause = NULL;
	FILE *f;
	size_t i;
	int bad = 0, rc = EXIT_USAGE;

	memset(&st, 0, sizeof(st));
	fmt = cli_take(c, "--format", &bad);
	if (bad || cli_rest(c, 2, 2) != 0)
		return EXIT_USAGE;
	if ((st.t = cli_type(c, c->argv[0])) == NULL)
		return EXIT_USAGE;
	st.c = c;
	st.path = c->argv[1];
	st.start = 1;
	if (fmt == NULL && (dot = strrchr(st.path, '.')) != NULL)
		fmt = dot + 1;
	if (fmt == NULL || (strcmp(fmt, "csv") != 0 &&
	    strcmp(fmt, "json") != 0))
		return cli_usage_error(c, "option --format: must be csv or "
		    "json (or name the file .csv or .json)");
	if ((f = fopen(st.path, "rb")) == NULL)
		return cli_usage_error(c, "%s: %s", st.path, strerror(errno));
	st.b = store_batch_new(c->store);
	/* Write while parsing; errors in any row still abort it all. */
	store_batch_stream(st.b);
	if (strcmp(fmt, "csv") == 0)
		import_csv(&st, f);
	else
		import_json(&st, f);
	fclose(f);
	if (st.errors > 0) {
		fprintf(stderr, "cafe: import: %d error%s; nothing imported\n",
		    st.errors, st.errors == 1 ? "" : "s");
		goto out;
	}
	for (i = 0; store_batch_warning(st.b, i) != NULL; i++)
		if (i < IMPORT_MAX_ERRORS)
			cli_warn("%s", store_batch_warning(st.b, i));
	if (store_batch_commit(st.b, &cause) != 0) {
		cli_fail(c, EXIT_USAGE, "%s", cause);
		free(cause);
		goto out;
	}
	printf("imported %zu %s records\n", store_batch_count(st.b),
	    st.t->name);
	rc = EXIT_OK;
out:
	store_batch_free(st.b);
	for (i = 0; i < st.ncols; i++)
		free(st.cols[i]);
	free(st.cols);
	free(st.colfield);
	free_cells(&st);
	return rc;
}
