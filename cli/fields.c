/*
 * fields.c: what a person typed for a record's fields, made ready for the
 * store.  Every field of a command line (or an import row) is looked at,
 * and every mistake reported at once, each naming the field and the rule,
 * with a suggestion where one is close.  On the way:
 *
 *   - enumeration and set tokens match whatever their case, accents,
 *     spaces or dashes ("Pair Talk" is pair_talk) and are stored as the
 *     canonical token;
 *   - references take an id, a unique id prefix or a name (names.c);
 *   - date=today and date=yesterday mean the local date;
 *   - a text value @FILE is read from FILE (@@ for a leading @);
 *   - on a node enrolled for a site, site= defaults to that site;
 *   - an edit drops the fields whose value would not change.
 *
 * Plausibility warnings never refuse: a café more than 60 days ahead, an
 * action due in the past, a café like one already stored.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cli.h"

void
cli_put_init(struct cli_put *p, const struct sch_type *t)
{
	memset(p, 0, sizeof(*p));
	p->t = t;
}

void
cli_put_free(struct cli_put *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->fv[i].value);
	for (i = 0; i < p->nerr; i++)
		free(p->err[i].msg);
	for (i = 0; i < p->nwarn; i++)
		free(p->warn[i]);
	free(p->err);
	free(p->warn);
	memset(p, 0, sizeof(*p));
}

/* Takes ownership of an error message about field f (NULL: none). */
static void
add_err(struct cli_put *p, const struct sch_field *f, char *msg)
{
	p->err = xreallocarray(p->err, p->nerr + 1, sizeof(*p->err));
	p->err[p->nerr].f = f;
	p->err[p->nerr].msg = msg;
	p->nerr++;
}

/* Takes ownership of a warning. */
static void
add_warn(struct cli_put *p, char *msg)
{
	p->warn = xreallocarray(p->warn, p->nwarn + 1, sizeof(*p->warn));
	p->warn[p->nwarn++] = msg;
}

/* Returns the index of f in p, or -1. */
static int
find_fv(const struct cli_put *p, const struct sch_field *f)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (p->fv[i].f == f)
			return (int)i;
	return -1;
}

/* Levenshtein distance of two short strings (longer ones: large). */
int
cli_distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b), i, j;
	int prev[65], cur[65];

	if (la > 64 || lb > 64)
		return 99;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			int d = prev[j - 1] + (a[i - 1] != b[j - 1]);

			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			cur[j] = d;
		}
		memcpy(prev, cur, sizeof(int) * (size_t)(lb + 1));
	}
	return prev[lb];
}

/*
 * Returns the closest of words (n of them, or NULL-terminated when n is
 * -1) to s, when close enough to suggest; else NULL.
 */
static const char *
closest(const char *s, const char *const *words, int n, size_t stride)
{
	const char *best = NULL;
	int bd = 99, i, limit = (int)strlen(s) / 3 + 1;

	if (limit > 3)
		limit = 3;
	for (i = 0; n < 0 ? *(const char *const *)((const char *)words +
	    (size_t)i * stride) != NULL : i < n; i++) {
		const char *w = *(const char *const *)((const char *)words +
		    (size_t)i * stride);
		int d = cli_distance(s, w);
		size_t sl = strlen(s);

		/* A token the text begins, or that begins the text. */
		if (sl >= 3 && (strncmp(w, s, sl) == 0 ||
		    strncmp(s, w, strlen(w)) == 0))
			d = d < 1 ? d : 1;
		if (d < bd) {
			bd = d;
			best = w;
		}
	}
	return bd <= limit ? best : NULL;
}

/* Folds a token as typed: case and accents aside, spaces and dashes _. */
static char *
token_fold(const char *s)
{
	char *f = store_name_fold(s), *p;

	for (p = f; *p != '\0'; p++)
		if (*p == ' ' || *p == '-')
			*p = '_';
	return f;
}

/* Matches one token; returns the canonical token or NULL with *msg. */
static const char *
match_token(const struct sch_field *f, const char *text, char **msg)
{
	char *fold = token_fold(text), *list;
	const char *hit = NULL, *near;
	size_t i, n = 0, len = 1;

	for (i = 0; f->tokens[i] != NULL; i++) {
		if (strcmp(fold, f->tokens[i]) == 0)
			hit = f->tokens[i];
		len += strlen(f->tokens[i]) + 1;
		n++;
	}
	if (hit != NULL) {
		free(fold);
		return hit;
	}
	list = xmalloc(len);
	list[0] = '\0';
	for (i = 0; i < n; i++) {
		if (i > 0)
			strcat(list, " ");
		strcat(list, f->tokens[i]);
	}
	near = closest(fold, (const char *const *)f->tokens, -1,
	    sizeof(char *));
	if (near != NULL)
		*msg = xasprintf("field %s: '%s' is not one of: %s; did you "
		    "mean %s?", f->name, text, list, near);
	else
		*msg = xasprintf("field %s: '%s' is not one of: %s", f->name,
		    text, list);
	free(list);
	free(fold);
	return NULL;
}

/* Splits a comma list into trimmed items (malloc'd copies in *items). */
static int
split_items(const char *text, char ***items)
{
	char *copy = xstrdup(text), *p = copy, *comma;
	int n = 0;

	*items = NULL;
	for (;;) {
		char *end;

		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		while (*p == ' ')
			p++;
		end = p + strlen(p);
		while (end > p && end[-1] == ' ')
			*--end = '\0';
		*items = xreallocarray(*items, (size_t)n + 1, sizeof(char *));
		(*items)[n++] = xstrdup(p);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	free(copy);
	return n;
}

static void
free_items(char **items, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

/* Appends item to a comma list held in *s (malloc'd). */
static void
list_append(char **s, const char *item)
{
	char *n = *s == NULL ? xstrdup(item) : xasprintf("%s,%s", *s, item);

	free(*s);
	*s = n;
}

/* Writes the local date, days from today, as YYYY-MM-DD. */
void
cli_local_date(int days, char buf[11])
{
	time_t t = time(NULL) + (time_t)days * 86400;
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, 11, "%Y-%m-%d", &tm);
}

/* Returns the local date as YYYYMMDD (read once: a command is short). */
uint32_t
cli_today_ymd(void)
{
	static uint32_t ymd;
	char b[11];

	if (ymd == 0) {
		cli_local_date(0, b);
		sch_date_parse(b, 10, &ymd);
	}
	return ymd;
}

/* Returns the local date 60 days ahead as YYYYMMDD (read once). */
uint32_t
cli_ahead_ymd(void)
{
	static uint32_t ymd;
	char b[11];

	if (ymd == 0) {
		cli_local_date(60, b);
		sch_date_parse(b, 10, &ymd);
	}
	return ymd;
}

/* Reads up to three numbers split by / . - or space; returns the count. */
static int
date_parts(const char *s, unsigned v[3], int len[3])
{
	int n = 0;

	while (*s != '\0' && n < 3) {
		if (*s < '0' || *s > '9')
			return -1;
		v[n] = 0;
		len[n] = 0;
		while (*s >= '0' && *s <= '9' && len[n] < 5) {
			v[n] = v[n] * 10 + (unsigned)(*s - '0');
			len[n]++;
			s++;
		}
		n++;
		if (*s == '/' || *s == '.' || *s == '-' || *s == ' ')
			s++;
		else if (*s != '\0')
			return -1;
	}
	return *s == '\0' ? n : -1;
}

/* Guesses the date meant by text, into buf; returns 0 or -1. */
static int
date_guess(const char *text, char buf[32])
{
	unsigned v[3], y, m, d;
	int len[3], n = date_parts(text, v, len);
	uint32_t ymd;

	if (n == 1 && len[0] == 8) {
		y = v[0] / 10000;
		m = v[0] / 100 % 100;
		d = v[0] % 100;
	} else if (n != 3)
		return -1;
	else if (len[0] == 4) {
		y = v[0];
		m = v[1];
		d = v[2];
	} else if (len[2] == 4 || len[2] == 2) {
		/* US order: month/day/year. */
		m = v[0];
		d = v[1];
		y = len[2] == 2 ? 2000 + v[2] : v[2];
	} else
		return -1;
	snprintf(buf, 32, "%04u-%02u-%02u", y % 10000, m % 100, d % 100);
	return sch_date_parse(buf, 10, &ymd);
}

/* Reads a file named by a text value into *out; returns 0 or -1. */
static int
read_text_file(const char *path, char **out, char **msg,
    const struct sch_field *f)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (fp == NULL) {
		*msg = xasprintf("field %s: cannot read %s: %s", f->name, path,
		    strerror(errno));
		return -1;
	}
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = xreallocarray(buf, cap + 1, 1);
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
		if (n == 0 || len > PROTO_MAX_VALUE)
			break;
	}
	fclose(fp);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		len--;
	buf[len] = '\0';
	*out = buf;
	return 0;
}

/* A resolver for sch_parse() once references are full ids. */
static int
hex_resolve(void *arg, const char *ref, const char *text,
    uint8_t id[PROTO_ID_LEN], char **cause)
{
	(void)arg;
	(void)ref;
	if (proto_unhex(id, PROTO_ID_LEN, text) != 0) {
		*cause = xasprintf("'%s' is not a record id", text);
		return CS_EUSAGE;
	}
	return 0;
}

/* Packs text for f into sb by the schema; returns 0 or -1 with *msg. */
static int
pack_value(const struct sch_field *f, const char *text, msgpack_sbuffer *sb,
    char **msg)
{
	msgpack_packer pk;
	char *cause = NULL, *warn = NULL;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	if (sch_parse(f, text, &pk, hex_resolve, NULL, &cause, &warn) != 0) {
		*msg = cause;
		free(warn);
		return -1;
	}
	free(warn);
	return 0;
}

/*
 * How the command line reads one field type's typed text before the
 * schema's rules (sch_parse) see it: one function per type that needs
 * more than the text as typed, in the table below.  Each returns the
 * text to check (malloc'd), or NULL with *msg.
 */
typedef char *cli_value_fn(struct cli *c, const struct sch_field *f,
    const char *text, char **msg);

/* Text: "@FILE" reads the file's text, "@@" stands for one "@". */
static char *
text_value(struct cli *c, const struct sch_field *f, const char *text,
    char **msg)
{
	char *out = NULL;

	(void)c;
	if (text[0] == '@' && text[1] == '@')
		return xstrdup(text + 1);
	if (text[0] == '@' && text[1] != '\0')
		return read_text_file(text + 1, &out, msg, f) != 0 ? NULL : out;
	return xstrdup(text);
}

/* One of: the token as the schema spells it, from a unique start. */
static char *
enum_value(struct cli *c, const struct sch_field *f, const char *text,
    char **msg)
{
	const char *tok;
	char *t = xstrdup(text), *e, *out = NULL;

	(void)c;
	for (e = t + strlen(t); e > t && e[-1] == ' '; )
		*--e = '\0';
	for (e = t; *e == ' '; e++)
		;
	if (*e == '\0')
		out = xstrdup("");
	else if ((tok = match_token(f, e, msg)) != NULL)
		out = xstrdup(tok);
	free(t);
	return out;
}

/* Set of: each item as enum_value() reads it; "all" for every token. */
static char *
set_value(struct cli *c, const struct sch_field *f, const char *text,
    char **msg)
{
	char **items = NULL, *out = NULL, *m = NULL;
	int n, i;

	(void)c;
	if (strspn(text, " ") == strlen(text))
		return xstrdup("");
	if (strcasecmp(text, "all") == 0) {
		for (i = 0; f->tokens[i] != NULL; i++)
			list_append(&out, f->tokens[i]);
		return out;
	}
	n = split_items(text, &items);
	for (i = 0; i < n; i++) {
		const char *tok;

		if (items[i][0] == '\0') {
			list_append(&out, "");
			continue;
		}
		if ((tok = match_token(f, items[i], &m)) == NULL) {
			free(*msg);
			*msg = m;
			m = NULL;
			break;
		}
		list_append(&out, tok);
	}
	free_items(items, n);
	if (*msg != NULL) {
		free(out);
		return NULL;
	}
	return out;
}

/* Date: YYYY-MM-DD, "today" and "yesterday" for a café's date, and a
 * guess at what a date written otherwise meant. */
static char *
date_value(struct cli *c, const struct sch_field *f, const char *text,
    char **msg)
{
	const char *t = text;
	char buf[32];
	uint32_t ymd;

	(void)c;
	while (*t == ' ')
		t++;
	if (strcmp(f->name, "date") == 0 && strcmp(t, "today") == 0) {
		cli_local_date(0, buf);
		return xstrdup(buf);
	}
	if (strcmp(f->name, "date") == 0 && strcmp(t, "yesterday") == 0) {
		cli_local_date(-1, buf);
		return xstrdup(buf);
	}
	if (*t == '\0' || sch_date_parse(t, strlen(t), &ymd) == 0)
		return xstrdup(t);
	if (date_guess(t, buf) == 0)
		*msg = xasprintf("field %s: '%s' is not a date: dates are "
		    "YYYY-MM-DD: %s?", f->name, text, buf);
	else if (strlen(t) == 10 && t[4] == '-' && t[7] == '-')
		*msg = xasprintf("field %s: '%s' is not a date (YYYY-MM-DD): "
		    "there is no such day", f->name, text);
	else
		*msg = xasprintf("field %s: '%s' is not a date (YYYY-MM-DD%s)",
		    f->name, text, strcmp(f->name, "date") == 0 ?
		    ", today or yesterday" : "");
	return NULL;
}

/* Id or ids: each a name, a short id or a full id, made a full id. */
static char *
refs_value(struct cli *c, const struct sch_field *f, const char *text,
    char **msg)
{
	const struct sch_type *rt = sch_type_find(f->ref, strlen(f->ref));
	char **items = NULL, *out = NULL, *m = NULL;
	char hex[2 * PROTO_ID_LEN + 1];
	uint8_t id[PROTO_ID_LEN];
	int one = !sch_ftypes[f->type].list, n, i, rc;

	if (strspn(text, " ") == strlen(text))
		return xstrdup("");
	n = one ? 1 : split_items(text, &items);
	for (i = 0; i < n; i++) {
		const char *it = one ? text : items[i];

		if (!one && it[0] == '\0') {
			list_append(&out, "");
			continue;
		}
		rc = cli_ref_resolve(c, rt, it, 0, id, &m);
		if (rc < 0) {
			*msg = xasprintf("field %s: %s", f->name, m);
			free(m);
			m = NULL;
			break;
		}
		if (rc == 1) {
			list_append(&out, it);
			continue;
		}
		proto_hex(hex, id, PROTO_ID_LEN);
		list_append(&out, hex);
	}
	if (items != NULL)
		free_items(items, n);
	if (*msg != NULL) {
		free(out);
		return NULL;
	}
	return out;
}

/* By enum sch_ftype; NULL: the text as typed. */
static cli_value_fn *const cli_values[SCH_FTYPE_COUNT] = {
	[SCH_TEXT] = text_value,
	[SCH_ENUM] = enum_value,
	[SCH_SET] = set_value,
	[SCH_DATE] = date_value,
	[SCH_REF] = refs_value,
	[SCH_REFS] = refs_value,
};

/*
 * Makes one field's typed text ready: canonical tokens, full ids, a date,
 * a file's text.  Returns the text to store (malloc'd) or NULL with *msg.
 */
char *
cli_field_value(struct cli *c, const struct sch_field *f, const char *text,
    char **msg)
{
	msgpack_sbuffer sb;
	char *out;

	*msg = NULL;
	out = cli_values[f->type] != NULL ? cli_values[f->type](c, f, text,
	    msg) : xstrdup(text);
	if (out == NULL)
		return NULL;
	/* Every other rule: the schema's. */
	msgpack_sbuffer_init(&sb);
	if (pack_value(f, out, &sb, msg) != 0) {
		free(out);
		out = NULL;
	}
	msgpack_sbuffer_destroy(&sb);
	return out;
}

/* Adds a given name=value to p (every mistake goes to p's errors). */
void
cli_put_add(struct cli *c, struct cli_put *p, const char *name,
    const char *value)
{
	const struct sch_field *f = sch_field_find(p->t, name, strlen(name));
	const char *near;
	char *v, *msg = NULL;

	if (f == NULL) {
		near = closest(name, (const char *const *)&p->t->fields[0].name,
		    (int)p->t->nfields, sizeof(p->t->fields[0]));
		if (near != NULL)
			add_err(p, NULL, xasprintf("field %s: %s %s has no such "
			    "field; did you mean %s? (cafe help %s)", name,
			    strchr("aeiou", p->t->name[0]) ? "an" : "a",
			    p->t->name, near, p->t->name));
		else
			add_err(p, NULL, xasprintf("field %s: %s has no such "
			    "field (see cafe help %s)", name, p->t->name,
			    p->t->name));
		return;
	}
	if (find_fv(p, f) >= 0) {
		add_err(p, f, xasprintf("field %s: given twice", f->name));
		return;
	}
	if ((v = cli_field_value(c, f, value, &msg)) == NULL) {
		add_err(p, f, msg);
		return;
	}
	if (p->n >= sizeof(p->fv) / sizeof(p->fv[0])) {
		free(v);
		add_err(p, NULL, xstrdup("too many fields"));
		return;
	}
	p->fv[p->n].f = f;
	p->fv[p->n].value = v;
	p->n++;
}

/* Sets (or replaces) a prepared value; takes v. */
void
cli_put_set(struct cli_put *p, const struct sch_field *f, char *v)
{
	int i = find_fv(p, f);
	size_t k;

	if (i >= 0) {
		free(p->fv[i].value);
		p->fv[i].value = v;
	} else {
		p->fv[p->n].f = f;
		p->fv[p->n].value = v;
		p->n++;
	}
	/* Its earlier errors are answered. */
	for (k = 0; k < p->nerr; )
		if (p->err[k].f == f) {
			free(p->err[k].msg);
			memmove(&p->err[k], &p->err[k + 1],
			    (p->nerr - k - 1) * sizeof(*p->err));
			p->nerr--;
		} else
			k++;
}

/* Returns the site this node writes for, when enrolled as a site. */
int
cli_own_site(struct cli *c, uint8_t site[PROTO_ID_LEN])
{
	struct store_member m;
	int rc = -1;

	if (c->store == NULL ||
	    store_member_get(c->store, store_info(c->store)->node, &m) != 0)
		return -1;
	if (m.role == STORE_ROLE_SITE && m.has_site && !m.revoked) {
		memcpy(site, m.site, PROTO_ID_LEN);
		rc = 0;
	}
	store_member_free(&m);
	return rc;
}

/* Returns the prepared value of field name, or NULL. */
static const char *
fv_value(const struct cli_put *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		if (strcmp(p->fv[i].f->name, name) == 0)
			return p->fv[i].value;
	return NULL;
}

struct dup_arg {
	const char *format;
	const uint8_t *self;
	uint8_t id[PROTO_ID_LEN];
	int found;
};

static int
dup_one(const struct store_rec *r, void *arg)
{
	struct dup_arg *da = arg;
	const msgpack_object *v = store_rec_value(r, "format");

	if (da->self != NULL && memcmp(r->id, da->self, PROTO_ID_LEN) == 0)
		return 0;
	if (v != NULL && v->type == MSGPACK_OBJECT_STR &&
	    v->via.str.size == strlen(da->format) &&
	    memcmp(v->via.str.ptr, da->format, v->via.str.size) == 0) {
		memcpy(da->id, r->id, PROTO_ID_LEN);
		da->found = 1;
		return 1;
	}
	return 0;
}

/* Adds the plausibility warnings of a put (old: the record edited). */
static void
plausible(struct cli *c, struct cli_put *p, const struct store_rec *old)
{
	char b[PROTO_MAX_VALUE + 1];
	const char *date = fv_value(p, "date"), *due = fv_value(p, "due");
	uint32_t ymd, today = cli_today_ymd();

	if (strcmp(p->t->name, "cafe") == 0 && date != NULL &&
	    sch_date_parse(date, strlen(date), &ymd) == 0) {
		if (ymd > cli_ahead_ymd())
			add_warn(p, xasprintf("field date: %s is more than 60 "
			    "days ahead; is the year right?", date));
	}
	if (due != NULL && sch_date_parse(due, strlen(due), &ymd) == 0 &&
	    ymd < today)
		add_warn(p, xasprintf("field due: %s is already past", due));
	/* The same café twice: same site, date and format. */
	if (!p->no_dup_check && strcmp(p->t->name, "cafe") == 0 &&
	    (date != NULL ||
	    fv_value(p, "format") != NULL || fv_value(p, "site") != NULL)) {
		const struct sch_type *t = p->t;
		const char *site = fv_value(p, "site"), *format =
		    fv_value(p, "format");
		char sb[2 * PROTO_ID_LEN + 1], db[16], fb[32];
		uint8_t sid[PROTO_ID_LEN];
		struct store_query q;
		struct dup_arg da;

		if (old != NULL) {
			const msgpack_object *v;

			if (site == NULL && (v = store_rec_value(old,
			    "site")) != NULL) {
				sch_format(sch_field_find(t, "site", 4), v, sb,
				    sizeof(sb));
				site = sb;
			}
			if (date == NULL && (v = store_rec_value(old,
			    "date")) != NULL) {
				sch_format(sch_field_find(t, "date", 4), v, db,
				    sizeof(db));
				date = db;
			}
			if (format == NULL && (v = store_rec_value(old,
			    "format")) != NULL) {
				sch_format(sch_field_find(t, "format", 6), v, fb,
				    sizeof(fb));
				format = fb;
			}
		}
		if (site != NULL && date != NULL && format != NULL &&
		    proto_unhex(sid, PROTO_ID_LEN, site) == 0 &&
		    sch_date_parse(date, strlen(date), &ymd) == 0) {
			memset(&q, 0, sizeof(q));
			memset(&da, 0, sizeof(da));
			q.type = t;
			q.site = sid;
			q.since = q.until = ymd;
			da.format = format;
			da.self = old != NULL ? old->id : NULL;
			store_list(c->store, &q, dup_one, &da);
			if (da.found) {
				cli_ref_text(c, sid, b, sizeof(b));
				add_warn(p, xasprintf("a %s café of %s on %s is "
				    "already stored: %s; is this the same one?",
				    format, b, date, cli_short(c, da.id)));
			}
		}
	}
}

/*
 * Completes a put after the given fields: on a new record, the site
 * default and every missing required field; on an edit (old), drops the
 * fields whose value does not change.  Then the plausibility warnings.
 */
void
cli_put_finish(struct cli *c, struct cli_put *p, const struct store_rec *old)
{
	const struct sch_type *t = p->t;
	const struct sch_field *sf = sch_field_find(t, "site", 4);
	char hex[2 * PROTO_ID_LEN + 1];
	uint8_t site[PROTO_ID_LEN];
	unsigned i;

	/* A site laptop writes for its own site only: the default. */
	if (old == NULL && sf != NULL && sf->type == SCH_REF &&
	    find_fv(p, sf) < 0 &&
	    sch_field_find(t, "cafe", 4) == NULL && !p->no_default &&
	    cli_own_site(c, site) == 0) {
		proto_hex(hex, site, PROTO_ID_LEN);
		cli_put_set(p, sf, xstrdup(hex));
		p->site_default = 1;
	}
	if (old == NULL) {
		for (i = 0; i < t->nfields; i++) {
			const struct sch_field *f = &t->fields[i];
			size_t k;
			int noted = 0;

			if (!f->required || find_fv(p, f) >= 0)
				continue;
			for (k = 0; k < p->nerr; k++)
				noted |= p->err[k].f == f;
			/* A follow-up's site comes from its café. */
			if (noted || (strcmp(f->name, "site") == 0 &&
			    sch_field_find(t, "cafe", 4) != NULL))
				continue;
			add_err(p, f, xasprintf("field %s: is required for %s "
			    "%s (%s)", f->name, strchr("aeiou", t->name[0]) ?
			    "an" : "a", t->name, f->help));
		}
	} else {
		size_t k;

		for (k = 0; k < p->n; ) {
			const struct sch_field *f = p->fv[k].f;
			const msgpack_object *ov = store_rec_value(old, f->name);
			msgpack_sbuffer a, b;
			msgpack_packer pk;
			char *m = NULL;
			int same;

			msgpack_sbuffer_init(&a);
			msgpack_sbuffer_init(&b);
			msgpack_packer_init(&pk, &b, msgpack_sbuffer_write);
			if (ov != NULL)
				msgpack_pack_object(&pk, *ov);
			else
				msgpack_pack_nil(&pk);
			same = pack_value(f, p->fv[k].value, &a, &m) == 0 &&
			    a.size == b.size && memcmp(a.data, b.data,
			    a.size) == 0;
			free(m);
			msgpack_sbuffer_destroy(&a);
			msgpack_sbuffer_destroy(&b);
			if (same) {
				p->unchanged++;
				free(p->fv[k].value);
				memmove(&p->fv[k], &p->fv[k + 1],
				    (p->n - k - 1) * sizeof(p->fv[0]));
				p->n--;
			} else
				k++;
		}
	}
	if (p->nerr == 0)
		plausible(c, p, old);
}

/* Prints every error of p, one a line; returns their number. */
size_t
cli_put_errors(struct cli *c, const struct cli_put *p, const char *where)
{
	size_t i;

	for (i = 0; i < p->nerr; i++) {
		if (where != NULL)
			cli_msg(c->cmd, "%s: %s", where, p->err[i].msg);
		else
			cli_msg(c->cmd, "%s", p->err[i].msg);
	}
	return p->nerr;
}

/* Writes a stored value for people: names beside references. */
void
cli_value_text(struct cli *c, const struct sch_field *f,
    const msgpack_object *v, char *buf, size_t len)
{
	uint32_t i;
	size_t pos = 0;

	buf[0] = '\0';
	if (v == NULL || v->type == MSGPACK_OBJECT_NIL) {
		snprintf(buf, len, "(none)");
		return;
	}
	if (f->type == SCH_REF && v->type == MSGPACK_OBJECT_BIN &&
	    v->via.bin.size == PROTO_ID_LEN) {
		cli_ref_text(c, (const uint8_t *)v->via.bin.ptr, buf, len);
		return;
	}
	if (f->type == SCH_KEY && v->type == MSGPACK_OBJECT_BIN &&
	    v->via.bin.size == PROTO_KEY_LEN) {
		sch_format(f, v, buf, len);
		return;
	}
	if (f->type == SCH_REFS && v->type == MSGPACK_OBJECT_ARRAY) {
		for (i = 0; i < v->via.array.size && pos + 1 < len; i++) {
			const msgpack_object *o = &v->via.array.ptr[i];
			char one[300];

			if (o->type != MSGPACK_OBJECT_BIN ||
			    o->via.bin.size != PROTO_ID_LEN)
				continue;
			cli_ref_text(c, (const uint8_t *)o->via.bin.ptr, one,
			    sizeof(one));
			pos += (size_t)snprintf(buf + pos, len - pos, "%s%s",
			    i > 0 ? ", " : "", one);
			if (pos >= len)
				pos = len - 1;
		}
		return;
	}
	sch_format(f, v, buf, len);
}

/* Writes a prepared value (fields.c's text) for people. */
void
cli_prepared_text(struct cli *c, const struct sch_field *f, const char *value,
    char *buf, size_t len)
{
	msgpack_sbuffer sb;
	msgpack_unpacked up;
	char *msg = NULL;

	snprintf(buf, len, "%s", value);
	msgpack_sbuffer_init(&sb);
	msgpack_unpacked_init(&up);
	if (pack_value(f, value, &sb, &msg) == 0 && msgpack_unpack_next(&up,
	    sb.data, sb.size, NULL) == MSGPACK_UNPACK_SUCCESS)
		cli_value_text(c, f, &up.data, buf, len);
	free(msg);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
}

/* Returns the display width of UTF-8 text (one column a code point). */
size_t
cli_text_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* Cuts s to at most w columns on a character boundary, marking a cut. */
void
cli_text_cut(char *s, size_t w)
{
	size_t n = 0;
	char *p;

	if (cli_text_width(s) <= w)
		return;
	for (p = s; *p != '\0'; p++) {
		if (((unsigned char)*p & 0xc0) != 0x80) {
			if (n == w - 1) {
				strcpy(p, "\xe2\x80\xa6");	/* … */
				return;
			}
			n++;
		}
	}
}

/* Prints s cut and padded to exactly width columns. */
void
cli_print_cell(const char *s, size_t width)
{
	char *copy = xmalloc(strlen(s) + 4);
	size_t w;

	strcpy(copy, s);
	cli_text_cut(copy, width);
	w = cli_text_width(copy);
	fputs(copy, stdout);
	printf("%*s", (int)(width - w), "");
	free(copy);
}

/* Makes a text one line: each newline or tab a space. */
void
cli_one_line(char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '\n' || *s == '\t' || *s == '\r')
			*s = ' ';
}
