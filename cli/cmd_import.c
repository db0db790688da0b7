/*
 * cmd_import.c: export and import.  CSV goes through libcsv, JSON through
 * jansson; the columns and keys are the schema's field names.
 *
 * An export is meant to come back: its id column names each record, and
 * an import of a file with an id column updates those records (only the
 * fields that changed, as edits) and creates the rows without an id, so
 * exporting, fixing in a spreadsheet and importing again duplicates
 * nothing; an id that is not on this node (another node's export) makes
 * a new record.  --excel writes for a spreadsheet: the byte-order mark
 * and CRLF line ends it wants, and each reference's names in a column
 * beside it (FIELD_name), which an import skips.  Headers match whatever their
 * case; trailing empty columns and blank rows are ignored.  Each row's
 * fields go through the command line's checks (fields.c): names for
 * references, tokens in any case, every mistake of a row reported.
 * --dry-run says what would be created, changed and left alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <csv.h>

#include "cli.h"

/* Most errors an import lists before it stops looking. */
#define IMPORT_MAX_ERRORS 20
/* Most records one import takes (all are held until the commit). */
#define IMPORT_MAX_ROWS 1000000
/* Largest JSON file an import reads (it is parsed whole). */
#define IMPORT_MAX_JSON ((long)256 << 20)
/* Rows an import looks for in the store as the same café. */
#define IMPORT_DUP_ROWS 1000
/* Most lines of --dry-run detail before a count. */
#define DRY_MAX_LINES 200

/* ---- export ----------------------------------------------------------- */

struct export_arg {
	struct cli *c;
	int csv;
	int excel;
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

/* Writes the names of a reference value, "; "-separated. */
static void
names_of(struct cli *c, const struct sch_field *f, const msgpack_object *v,
    char *buf, size_t len)
{
	uint32_t i;
	size_t pos = 0;

	buf[0] = '\0';
	if (v == NULL)
		return;
	if (v->type == MSGPACK_OBJECT_BIN && v->via.bin.size == PROTO_ID_LEN) {
		snprintf(buf, len, "%s", cli_label(c,
		    (const uint8_t *)v->via.bin.ptr));
		return;
	}
	if (v->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (i = 0; i < v->via.array.size && pos + 1 < len; i++) {
		const msgpack_object *o = &v->via.array.ptr[i];

		if (o->type != MSGPACK_OBJECT_BIN ||
		    o->via.bin.size != PROTO_ID_LEN)
			continue;
		pos += (size_t)snprintf(buf + pos, len - pos, "%s%s",
		    pos > 0 ? "; " : "", cli_label(c,
		    (const uint8_t *)o->via.bin.ptr));
	}
	(void)f;
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
		const msgpack_object *v = store_rec_value(r, f->name);

		sch_format(f, v, ea->buf, PROTO_MAX_VALUE * 4);
		csv_cell(ea->buf, 0);
		if (ea->excel && sch_ftypes[f->type].refs) {
			/* The names beside, for people; import skips them. */
			names_of(ea->c, f, v, ea->buf, PROTO_MAX_VALUE * 4);
			csv_cell(ea->buf, 0);
		}
	}
	fputs(ea->excel ? "\r\n" : "\n", stdout);
	return 0;
}

/* cafe export TYPE --format csv|json [--excel] */
int
cmd_export(struct cli *c)
{
	struct export_arg ea = { c, 0, 0, { 0 }, NULL };
	struct store_query q;
	const char *fmt;
	unsigned i;
	int bad = 0;

	fmt = cli_take(c, "--format", &bad);
	ea.excel = cli_flag(c, "--excel");
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
	if (ea.excel && !ea.csv)
		return cli_usage_error(c, "option --excel: only with --format "
		    "csv");
	if (ea.csv) {
		if (ea.excel)
			fputs("\xef\xbb\xbf", stdout);
		csv_cell("id", 1);
		for (i = 0; i < q.type->nfields; i++) {
			const struct sch_field *f = &q.type->fields[i];
			char name[PROTO_MAX_NAME + 8];

			csv_cell(f->name, 0);
			if (ea.excel && sch_ftypes[f->type].refs) {
				snprintf(name, sizeof(name), "%s_name",
				    f->name);
				csv_cell(name, 0);
			}
		}
		fputs(ea.excel ? "\r\n" : "\n", stdout);
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
	int dry;
	/* CSV row being gathered */
	char **cells;
	size_t *cellcap;
	size_t ncells, cap;
	/* header */
	size_t ncols;
	int *colfield;       /* -1 for an ignored column */
	int idcol;           /* the id column, or -1 */
	unsigned long line;  /* physical line being parsed */
	unsigned long start; /* line the current CSV row starts on */
	unsigned long rows;
	unsigned long created, changed, unchanged;
	unsigned long foreign;  /* rows whose id is not on this node */
	unsigned long detail;  /* --dry-run lines printed */
	int errors;
	unsigned long warnings; /* warnings of rows, printed or not */
	int stop;            /* a fault that ends the reading */
	json_t *j_created;   /* for cafe undo */
	json_t *j_edited;
	uint64_t *seen_h;    /* hashes of site|date|format of this file's */
	unsigned long *seen_l; /* cafés, and their lines */
	size_t nseen, capseen;
};

/* Reports a bad row; stops listing after IMPORT_MAX_ERRORS. */
static void
row_error(struct import_state *st, const char *where, unsigned long n,
    const char *cause)
{
	if (st->errors++ < IMPORT_MAX_ERRORS)
		cli_msg("import", "%s:%s%lu: %s", st->path, where, n, cause);
}

/* Prints a --dry-run line (and frees it), up to DRY_MAX_LINES. */
static void
dry_line(struct import_state *st, char *line)
{
	if (st->detail++ < DRY_MAX_LINES)
		printf("%s\n", line);
	free(line);
}

/* Warns of a café given twice in the file: same site, date, format. */
static void
same_cafe(struct import_state *st, const char *site, const char *date,
    const char *format, unsigned long at)
{
	const char *k;
	uint64_t h = 14695981039346656037ull;
	size_t slot;
	char msg[200];

	if (site == NULL || date == NULL || format == NULL)
		return;
	/* FNV-1a of the three; a 64-bit hash stands for the key. */
	for (k = site; *k != '\0'; k++)
		h = (h ^ (uint8_t)*k) * 1099511628211ull;
	h = (h ^ '|') * 1099511628211ull;
	for (k = date; *k != '\0'; k++)
		h = (h ^ (uint8_t)*k) * 1099511628211ull;
	h = (h ^ '|') * 1099511628211ull;
	for (k = format; *k != '\0'; k++)
		h = (h ^ (uint8_t)*k) * 1099511628211ull;
	h |= 1;
	if (st->nseen * 2 >= st->capseen) {
		size_t cap = st->capseen ? st->capseen * 2 : 1024, j;
		uint64_t *nh = xcalloc(cap, sizeof(*nh));
		unsigned long *nl = xcalloc(cap, sizeof(*nl));

		for (j = 0; j < st->capseen; j++)
			if (st->seen_h[j] != 0) {
				slot = st->seen_h[j] % cap;
				while (nh[slot] != 0)
					slot = (slot + 1) % cap;
				nh[slot] = st->seen_h[j];
				nl[slot] = st->seen_l[j];
			}
		free(st->seen_h);
		free(st->seen_l);
		st->seen_h = nh;
		st->seen_l = nl;
		st->capseen = cap;
	}
	for (slot = h % st->capseen; st->seen_h[slot] != 0;
	    slot = (slot + 1) % st->capseen)
		if (st->seen_h[slot] == h) {
			snprintf(msg, sizeof(msg), "%s:%lu: the same %s café "
			    "on %s as line %lu", st->path, at, format, date,
			    st->seen_l[slot]);
			if (st->errors == 0 &&
			    st->warnings++ < IMPORT_MAX_ERRORS)
				cli_warn("%s", msg);
			return;
		}
	st->seen_h[slot] = h;
	st->seen_l[slot] = at;
	st->nseen++;
}

/* Warns of a café given twice in the file, from prepared values. */
static void
same_in_file(struct import_state *st, struct cli_put *p, unsigned long at)
{
	const char *site = NULL, *date = NULL, *format = NULL;
	size_t i;

	if (strcmp(st->t->name, "cafe") != 0)
		return;
	for (i = 0; i < p->n; i++) {
		if (strcmp(p->fv[i].f->name, "site") == 0)
			site = p->fv[i].value;
		else if (strcmp(p->fv[i].f->name, "date") == 0)
			date = p->fv[i].value;
		else if (strcmp(p->fv[i].f->name, "format") == 0)
			format = p->fv[i].value;
	}
	same_cafe(st, site, date, format, at);
}

/* Warns of a café given twice in the file, from raw values. */
static void
same_in_file_raw(struct import_state *st, const char **names,
    const char **values, size_t n, unsigned long at)
{
	const char *site = NULL, *date = NULL, *format = NULL;
	size_t i;

	if (strcmp(st->t->name, "cafe") != 0)
		return;
	for (i = 0; i < n; i++) {
		if (strcmp(names[i], "site") == 0)
			site = values[i];
		else if (strcmp(names[i], "date") == 0)
			date = values[i];
		else if (strcmp(names[i], "format") == 0)
			format = values[i];
	}
	same_cafe(st, site, date, format, at);
}

/*
 * Tries a new row as it is; returns 1 when it went in (with its cheap
 * warnings), 0 when the row needs the command line's way.
 */
static int
fast_row(struct import_state *st, const char **names, const char **values,
    size_t n, uint8_t id[PROTO_ID_LEN], unsigned long at)
{
	struct store_kv kv[PROTO_MAX_FIELDS + 4];
	char *cause = NULL, hex[2 * PROTO_ID_LEN + 1], *w;
	uint32_t ymd;
	size_t i;

	if (n > PROTO_MAX_FIELDS || st->rows <= IMPORT_DUP_ROWS)
		return 0;
	for (i = 0; i < n; i++) {
		const struct sch_field *f = sch_field_find(st->t, names[i],
		    strlen(names[i]));

		/* A file, or a site left to its default: the long way. */
		if (f == NULL || (f->type == SCH_TEXT && values[i][0] == '@'))
			return 0;
		kv[i].name = names[i];
		kv[i].value = values[i];
	}
	if (sch_field_find(st->t, "site", 4) != NULL &&
	    sch_field_find(st->t, "cafe", 4) == NULL) {
		for (i = 0; i < n && strcmp(names[i], "site") != 0; i++)
			;
		if (i == n)
			return 0;
	}
	if (store_batch_put(st->b, st->t, id, 1, kv, n, &cause) != 0) {
		free(cause);
		return 0;
	}
	for (i = 0; i < n; i++) {
		w = NULL;
		if (strcmp(names[i], "date") == 0 && strcmp(st->t->name,
		    "cafe") == 0 && sch_date_parse(values[i],
		    strlen(values[i]), &ymd) == 0 && ymd > cli_ahead_ymd())
			w = xasprintf("field date: %s is more than 60 days "
			    "ahead; is the year right?", values[i]);
		else if (strcmp(names[i], "due") == 0 &&
		    sch_date_parse(values[i], strlen(values[i]), &ymd) == 0 &&
		    ymd < cli_today_ymd())
			w = xasprintf("field due: %s is already past",
			    values[i]);
		if (w != NULL && st->warnings++ < IMPORT_MAX_ERRORS)
			cli_warn("%s:%lu: %s", st->path, at, w);
		free(w);
	}
	same_in_file_raw(st, names, values, n, at);
	st->created++;
	proto_hex(hex, id, PROTO_ID_LEN);
	json_array_append_new(st->j_created, json_string(hex));
	if (st->dry)
		dry_line(st, xasprintf("create %s", st->t->name));
	return 1;
}

/*
 * Adds one record from names and values (n of them); id, when not NULL
 * and not empty, names the record the row updates.  Reports every
 * mistake against the row.
 */
static void
import_row(struct import_state *st, const char **names, const char **values,
    size_t n, const char *idtext, unsigned long at)
{
	struct store_kv kv[PROTO_MAX_FIELDS + 4];
	struct cli_put p;
	struct store_rec old;
	uint8_t id[PROTO_ID_LEN];
	char *cause = NULL, what[300], hex[2 * PROTO_ID_LEN + 1];
	int have_old = 0, rc;
	size_t i;

	if (st->rows == IMPORT_MAX_ROWS) {
		if (st->rows++ == IMPORT_MAX_ROWS)
			row_error(st, "", at, "more than 1000000 records; "
			    "split the file");
		return;
	}
	if (st->rows > IMPORT_MAX_ROWS)
		return;
	st->rows++;
	cli_put_init(&p, st->t);
	if (idtext != NULL && idtext[0] != '\0') {
		rc = cli_ref_resolve(st->c, st->t, idtext, 0, id, &cause);
		/* A full id of another node's record: a new record here. */
		if (rc == 1) {
			st->foreign++;
			idtext = NULL;
		} else if (rc != 0) {
			row_error(st, "", at, cause);
			free(cause);
			cli_put_free(&p);
			return;
		}
	}
	if (idtext != NULL && idtext[0] != '\0') {
		if (store_get(st->c->store, id, &old) != 0) {
			row_error(st, "", at, "id: the record cannot be read");
			cli_put_free(&p);
			return;
		}
		have_old = 1;
	}
	/*
	 * A new row as the store reads it (ids, canonical tokens, dates)
	 * goes in as it is: one parse.  Any other row (names, tokens in
	 * another case, mistakes) takes the command line's way below, which
	 * reports every mistake; a refused put leaves the batch unchanged.
	 */
	if (!have_old && fast_row(st, names, values, n, id, at)) {
		cli_put_free(&p);
		return;
	}
	p.no_default = !have_old ? 0 : 1;
	/* Each row against the store up to a point; the file's own rows
	 * against each other always (same_in_file). */
	p.no_dup_check = st->rows > IMPORT_DUP_ROWS;
	for (i = 0; i < n; i++)
		cli_put_add(st->c, &p, names[i], values[i]);
	if (have_old) {
		/* A cell left empty clears the field, as in an edit. */
		unsigned k;

		for (k = 0; k < st->t->nfields; k++) {
			const struct sch_field *f = &st->t->fields[k];
			size_t j;
			int given = 0;

			for (j = 0; j < p.n; j++)
				given |= p.fv[j].f == f;
			for (j = 0; j < p.nerr; j++)
				given |= p.err[j].f == f;
			if (!given && st->ncols > 0 && st->colfield != NULL) {
				size_t col;

				for (col = 0; col < st->ncols; col++)
					if (st->colfield[col] == (int)k &&
					    store_rec_value(&old, f->name) !=
					    NULL)
						cli_put_set(&p, f, xstrdup(""));
			}
		}
	}
	cli_put_finish(st->c, &p, have_old ? &old : NULL);
	if (p.nerr > 0) {
		for (i = 0; i < p.nerr; i++)
			row_error(st, "", at, p.err[i].msg);
		goto out;
	}
	if (have_old && p.n == 0) {
		st->unchanged++;
		goto out;
	}
	same_in_file(st, &p, at);
	for (i = 0; i < p.nwarn; i++)
		if (st->errors == 0 && st->warnings++ < IMPORT_MAX_ERRORS)
			cli_warn("%s:%lu: %s", st->path, at, p.warn[i]);
	for (i = 0; i < p.n; i++) {
		kv[i].name = p.fv[i].f->name;
		kv[i].value = p.fv[i].value;
	}
	if (store_batch_put(st->b, st->t, id, !have_old, kv, p.n,
	    &cause) != 0) {
		row_error(st, "", at, cause);
		free(cause);
		goto out;
	}
	proto_hex(hex, id, PROTO_ID_LEN);
	if (have_old) {
		json_t *fields = json_object();
		char *buf = xmalloc(PROTO_MAX_VALUE * 4);

		st->changed++;
		cli_rec_describe(&old, what, sizeof(what));
		for (i = 0; i < p.n; i++) {
			const struct sch_field *f = p.fv[i].f;
			const msgpack_object *v = store_rec_value(&old, f->name);
			char *line;

			if (v != NULL) {
				sch_format(f, v, buf, PROTO_MAX_VALUE * 4);
				json_object_set_new(fields, f->name,
				    json_string(buf));
			} else
				json_object_set_new(fields, f->name,
				    json_null());
			if (st->dry) {
				cli_value_text(st->c, f, v, buf, 200);
				line = xasprintf("change %s (%s): %s %s -> ",
				    what, cli_short(st->c, id), f->name, buf);
				cli_prepared_text(st->c, f, p.fv[i].value, buf,
				    200);
				dry_line(st, xasprintf("%s%s", line, buf));
				free(line);
			}
		}
		free(buf);
		json_array_append_new(st->j_edited, json_pack("{s:s, s:o}",
		    "id", hex, "fields", fields));
	} else {
		st->created++;
		json_array_append_new(st->j_created, json_string(hex));
		if (st->dry) {
			const char *d = NULL, *f2 = NULL;

			for (i = 0; i < p.n; i++) {
				if (strcmp(p.fv[i].f->name, "date") == 0)
					d = p.fv[i].value;
				if (strcmp(p.fv[i].f->name, "name") == 0 ||
				    strcmp(p.fv[i].f->name, "title") == 0 ||
				    strcmp(p.fv[i].f->name, "format") == 0)
					f2 = p.fv[i].value;
			}
			snprintf(what, sizeof(what), "%s%s%s", d ? d : "",
			    d && f2 ? " " : "", f2 ? f2 : "");
			dry_line(st, xasprintf("create %s %s", st->t->name,
			    what));
		}
	}
out:
	cli_put_free(&p);
	if (have_old)
		store_rec_free(&old);
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
	if (len > 0)
		memcpy(st->cells[st->ncells], s, len);
	st->cells[st->ncells][len] = '\0';
	st->ncells++;
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

/* Finds a field by a header's name, whatever its case. */
static const struct sch_field *
header_field(const struct sch_type *t, const char *name)
{
	char *fold = store_name_fold(name), *p;
	const struct sch_field *f;

	for (p = fold; *p != '\0'; p++)
		if (*p == ' ' || *p == '-')
			*p = '_';
	f = sch_field_find(t, fold, strlen(fold));
	free(fold);
	return f;
}

/* Ends a CSV row: the first is the header, the rest records. */
static void
csv_row_cb(int ch, void *arg)
{
	struct import_state *st = arg;
	const char *names[PROTO_MAX_FIELDS + 4], *values[PROTO_MAX_FIELDS + 4];
	const char *idtext = NULL;
	size_t i, n = 0, used;
	unsigned long at;
	char msg[200];

	(void)ch;
	/* A quoted cell may span lines: errors name the row's first. */
	at = st->start;
	st->start = st->line + 1;
	/* Trailing empty cells (a spreadsheet's) are not columns. */
	used = st->ncells;
	while (used > 0 && st->cells[used - 1][0] == '\0')
		used--;
	if (st->colfield == NULL) {
		st->ncols = used;
		st->colfield = xcalloc(used + 1, sizeof(int));
		st->idcol = -1;
		for (i = 0; i < used; i++) {
			const char *h = st->cells[i];
			const struct sch_field *f = header_field(st->t, h);
			size_t hl = strlen(h);

			st->colfield[i] = -1;
			if (strcasecmp(h, "id") == 0)
				st->idcol = (int)i;
			else if (f != NULL)
				st->colfield[i] = (int)(f - st->t->fields);
			else if (hl > 5 && strcasecmp(h + hl - 5, "_name") == 0)
				continue;	/* names beside references */
			else {
				snprintf(msg, sizeof(msg), "column %.40s: %s "
				    "has no such field", h, st->t->name);
				row_error(st, "", at, msg);
			}
		}
		st->ncells = 0;
		return;
	}
	if (used == 0) {
		st->ncells = 0;		/* a blank row */
		return;
	}
	if (used > st->ncols) {
		snprintf(msg, sizeof(msg), "row has %zu cells, the header %zu",
		    used, st->ncols);
		row_error(st, "", at, msg);
		st->ncells = 0;
		return;
	}
	for (i = 0; i < used && n < PROTO_MAX_FIELDS; i++) {
		if ((int)i == st->idcol)
			idtext = st->cells[i];
		else if (st->colfield[i] >= 0 && st->cells[i][0] != '\0') {
			names[n] = st->t->fields[st->colfield[i]].name;
			values[n] = st->cells[i];
			n++;
		}
	}
	import_row(st, names, values, n, idtext, at);
	st->ncells = 0;
}

/* Returns whether n bytes are UTF-8. */
static int
is_utf8(const unsigned char *p, size_t n)
{
	size_t i = 0, k, len;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		len = p[i] >= 0xc2 && p[i] <= 0xdf ? 2 : p[i] >= 0xe0 &&
		    p[i] <= 0xef ? 3 : p[i] >= 0xf0 && p[i] <= 0xf4 ? 4 : 0;
		if (len == 0 || n - i < len)
			return 0;
		for (k = 1; k < len; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		i += len;
	}
	return 1;
}

/* Reads a CSV file line by line so errors can name the line. */
static int
import_csv(struct import_state *st, FILE *f)
{
	struct csv_parser parser;
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (csv_init(&parser, CSV_STRICT | CSV_APPEND_NULL) != 0)
		return -1;
	csv_set_opts(&parser, CSV_STRICT | CSV_STRICT_FINI);
	while (!st->stop && (len = getline(&line, &cap, f)) > 0) {
		char *p = line;

		st->line++;
		/* A spreadsheet's UTF-8 byte-order mark is not a column. */
		if (st->line == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf",
		    3) == 0) {
			p += 3;
			len -= 3;
		}
		if (!is_utf8((const unsigned char *)p, (size_t)len)) {
			row_error(st, "", st->line, "not UTF-8 text: save the "
			    "file as UTF-8 (a spreadsheet's \"CSV UTF-8\", or "
			    "Text CSV with the character set Unicode (UTF-8)) "
			    "and import it again");
			st->stop = 1;
			break;
		}
		if (csv_parse(&parser, p, (size_t)len, csv_field_cb,
		    csv_row_cb, st) != (size_t)len) {
			row_error(st, "", st->line, csv_strerror(
			    csv_error(&parser)));
			break;
		}
	}
	if (!st->stop && csv_fini(&parser, csv_field_cb, csv_row_cb, st) != 0)
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
	const char *names[PROTO_MAX_FIELDS], *values[PROTO_MAX_FIELDS];
	const char *idtext = NULL;
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
	v = json_object_get(o, "id");
	if (json_is_string(v))
		idtext = json_string_value(v);
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
		names[n] = k;
		values[n] = texts[n];
		n++;
	}
	if (!bad)
		import_row(st, names, values, n, idtext, line);
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

/* cafe import TYPE FILE [--format csv|json] [--dry-run] */
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
	st.dry = cli_flag(c, "--dry-run");
	if (bad || cli_rest(c, 2, 2) != 0)
		return EXIT_USAGE;
	if ((st.t = cli_type(c, c->argv[0])) == NULL)
		return EXIT_USAGE;
	st.c = c;
	st.path = c->argv[1];
	st.start = 1;
	st.idcol = -1;
	if (fmt == NULL && (dot = strrchr(st.path, '.')) != NULL)
		fmt = dot + 1;
	if (fmt == NULL || (strcasecmp(fmt, "csv") != 0 &&
	    strcasecmp(fmt, "json") != 0))
		return cli_usage_error(c, "option --format: must be csv or "
		    "json (or name the file .csv or .json)");
	if ((f = fopen(st.path, "rb")) == NULL)
		return cli_usage_error(c, "%s: %s", st.path, strerror(errno));
	/* The name index is made, if need be, before the batch writes. */
	store_names_find(c->store, NULL, "", NULL, NULL);
	st.b = store_batch_new(c->store);
	st.j_created = json_array();
	st.j_edited = json_array();
	/* Write while parsing; errors in any row still abort it all. */
	if (!st.dry)
		store_batch_stream(st.b);
	if (strcasecmp(fmt, "csv") == 0)
		import_csv(&st, f);
	else
		import_json(&st, f);
	fclose(f);
	if (st.errors > 0) {
		fprintf(stderr, "cafe: import: %d error%s; nothing imported\n",
		    st.errors, st.errors == 1 ? "" : "s");
		goto out;
	}
	if (st.dry) {
		if (st.detail > DRY_MAX_LINES)
			printf("... and %lu more\n", st.detail - DRY_MAX_LINES);
		printf("would import %lu %s records: %lu created, %lu changed, "
		    "%lu unchanged (nothing written)\n", st.created +
		    st.changed, st.t->name, st.created, st.changed,
		    st.unchanged);
		rc = EXIT_OK;
		goto out;
	}
	for (i = 0; store_batch_warning(st.b, i) != NULL; i++)
		if (i < IMPORT_MAX_ERRORS)
			cli_warn("%s", store_batch_warning(st.b, i));
	if (st.warnings > IMPORT_MAX_ERRORS)
		cli_warn("... and %lu more warnings about rows",
		    st.warnings - IMPORT_MAX_ERRORS);
	if (st.foreign > 0)
		cli_warn("%lu row%s had an id that is not on this node: added "
		    "as new records", st.foreign, st.foreign == 1 ? "" : "s");
	if (store_batch_commit(st.b, &cause) != 0) {
		cli_fail(c, EXIT_USAGE, "%s", cause);
		free(cause);
		goto out;
	}
	printf("imported %lu %s records: %lu created, %lu changed, %lu "
	    "unchanged\n", st.created + st.changed, st.t->name, st.created,
	    st.changed, st.unchanged);
	if (st.created + st.changed > 0)
		cli_undo_import(c, st.j_created, st.j_edited);
	rc = EXIT_OK;
out:
	store_batch_free(st.b);
	json_decref(st.j_created);
	json_decref(st.j_edited);
	free(st.seen_h);
	free(st.seen_l);
	free(st.colfield);
	free_cells(&st);
	return rc;
}
