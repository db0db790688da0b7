/*
 * report_out.c: the text and CSV forms of cafe report, drawn from the
 * report's JSON document (report.c), so they carry the same numbers.
 *
 * Text is aligned by display columns of UTF-8 (a site's name "Niño Café"
 * takes nine), shows names, never ids, and shares with one decimal and a
 * percent sign.  CSV is one table at a time (report_tables), through
 * libcsv for quoting, with the site's id beside its name and a last row
 * "All sites" for the tables that have totals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "report.h"

const char *const report_tables[] = { "activity", "factors", "fidelity",
	"feedback", "trainings", "steps", "quiet", "members", "actions",
	"not_visible", NULL };

/* ---- shared ------------------------------------------------------------ */

const char *
rep_str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	return json_is_string(v) ? json_string_value(v) : "";
}

long long
rep_int(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/*
 * Decodes the UTF-8 character at s: returns its length in bytes (at
 * least 1, so a bad byte is stepped over as one column) and sets *w to
 * the columns it takes: 0 for a combining mark, 2 for the wide East Asian
 * ranges and emoji, else 1.
 */
static size_t
u8_char(const char *s, int *w)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long c;
	size_t n, i;

	if (p[0] < 0x80) {
		*w = 1;
		return 1;
	}
	n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc0 ? 2 : 1;
	c = n == 4 ? p[0] & 0x07 : n == 3 ? p[0] & 0x0f : p[0] & 0x1f;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			*w = 1;
			return i;
		}
		c = c << 6 | (p[i] & 0x3f);
	}
	if ((c >= 0x300 && c <= 0x36f) || (c >= 0x1ab0 && c <= 0x1aff) ||
	    (c >= 0x20d0 && c <= 0x20ff) || (c >= 0xfe20 && c <= 0xfe2f) ||
	    c == 0x200b || c == 0x200d)
		*w = 0;
	else if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
		*w = 2;
	else
		*w = 1;
	return n;
}

size_t
rep_width(const char *s)
{
	size_t n = 0;
	int w;

	while (*s != '\0') {
		s += u8_char(s, &w);
		n += (size_t)w;
	}
	return n;
}

/* Prints s in w columns, cut at a character boundary, left or right. */
static void
cell(FILE *f, const char *s, size_t w, int right)
{
	size_t n = rep_width(s), bytes = 0, cols = 0, len;
	int cw;

	if (n > w) {
		/* Cut to at most w - 1 columns and mark the cut. */
		while (s[bytes] != '\0') {
			len = u8_char(s + bytes, &cw);
			if (cols + (size_t)cw > w - 1)
				break;
			bytes += len;
			cols += (size_t)cw;
		}
		fprintf(f, "%.*s~%*s", (int)bytes, s, (int)(w - 1 - cols), "");
		return;
	}
	if (right)
		fprintf(f, "%*s%s", (int)(w - n), "", s);
	else
		fprintf(f, "%s%*s", s, (int)(w - n), "");
}

/* Formats a JSON number (integer, real with one decimal, or null). */
static void
num(json_t *v, char *b, size_t len, int pct)
{
	if (json_is_integer(v))
		snprintf(b, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(b, len, pct ? "%.1f%%" : "%.2f", json_real_value(v));
	else
		snprintf(b, len, "-");
}

/* The widest display name among rows (and the total), at least min. */
static size_t
name_width(json_t *rows, size_t min)
{
	size_t i, w = min;

	for (i = 0; i < json_array_size(rows); i++) {
		size_t n = rep_width(rep_str(json_array_get(rows, i), "name"));

		if (n > w)
			w = n;
	}
	return w > 40 ? 40 : w;
}

static void
heading(FILE *f, const char *title)
{
	size_t n = rep_width(title), i;

	fprintf(f, "\n%s\n", title);
	for (i = 0; i < n; i++)
		fputc('-', f);
	fputc('\n', f);
}

/* A site × month table of one measure, with totals. */
static void
text_months(FILE *f, json_t *rep, const char *measure, const char *title)
{
	json_t *act = json_object_get(rep, "activity");
	json_t *rows = json_object_get(act, "rows");
	json_t *months = json_object_get(json_object_get(rep, "period"),
	    "months");
	json_t *tot = json_object_get(act, "total");
	size_t w = name_width(rows, 10), i, m;
	char b[32];

	heading(f, title);
	cell(f, strcmp(rep_str(act, "by"), "site") == 0 ? "site" :
	    rep_str(act, "by"), w, 0);
	for (m = 0; m < json_array_size(months); m++) {
		fputc(' ', f);
		cell(f, json_string_value(json_array_get(months, m)), 7, 1);
	}
	fputs("   total\n", f);
	for (i = 0; i <= json_array_size(rows); i++) {
		json_t *r = i < json_array_size(rows) ? json_array_get(rows, i) :
		    tot;
		json_t *ms = json_object_get(r, "months");

		cell(f, rep_str(r, "name"), w, 0);
		for (m = 0; m < json_array_size(ms); m++) {
			snprintf(b, sizeof(b), "%lld",
			    rep_int(json_array_get(ms, m), measure));
			fputc(' ', f);
			cell(f, b, 7, 1);
		}
		snprintf(b, sizeof(b), "%lld", rep_int(json_object_get(r,
		    "total"), measure));
		fputc(' ', f);
		cell(f, b, 7, 1);
		fputc('\n', f);
	}
}

static void
text_factors(FILE *f, json_t *rep)
{
	static const char *const hdr[] = { "resilience", "social", "concrete",
		"child dev", "soc-emot" };
	json_t *fa = json_object_get(rep, "factors");
	json_t *rows = json_object_get(fa, "rows");
	json_t *names = json_object_get(fa, "factors");
	size_t w = name_width(rows, 10), i, j;
	char b[32];

	heading(f, "Protective factors: cafés centred on each");
	cell(f, "site", w, 0);
	fputs("  cafés", f);
	for (j = 0; j < 5; j++) {
		fputc(' ', f);
		cell(f, hdr[j], 10, 1);
	}
	fputs("  not covered\n", f);
	for (i = 0; i <= json_array_size(rows); i++) {
		json_t *r = i < json_array_size(rows) ? json_array_get(rows, i) :
		    json_object_get(fa, "total");
		json_t *nc = json_object_get(r, "not_covered");

		cell(f, rep_str(r, "name"), w, 0);
		fprintf(f, " %6lld", rep_int(r, "cafes"));
		for (j = 0; j < json_array_size(names); j++) {
			snprintf(b, sizeof(b), "%lld", rep_int(json_object_get(
			    r, "counts"), json_string_value(json_array_get(
			    names, j))));
			fputc(' ', f);
			cell(f, b, 10, 1);
		}
		fputs("  ", f);
		if (json_array_size(nc) == 0)
			fputs("none", f);
		for (j = 0; j < json_array_size(nc); j++)
			fprintf(f, "%s%s", j ? ", " : "",
			    json_string_value(json_array_get(nc, j)));
		fputc('\n', f);
	}
}

static void
text_fidelity(FILE *f, json_t *rep)
{
	json_t *fi = json_object_get(rep, "fidelity");
	json_t *rows = json_object_get(fi, "rows");
	size_t w = name_width(rows, 10), i, j;
	char b[32];

	heading(f, "Fidelity: cafés that held all eight elements");
	cell(f, "site", w, 0);
	fputs("  cafés  all 8   share  tables>5  most missed\n", f);
	for (i = 0; i <= json_array_size(rows); i++) {
		json_t *r = i < json_array_size(rows) ? json_array_get(rows, i) :
		    json_object_get(fi, "total");
		json_t *mm = json_object_get(r, "most_missed");

		cell(f, rep_str(r, "name"), w, 0);
		num(json_object_get(r, "all_eight_pct"), b, sizeof(b), 1);
		fprintf(f, " %6lld %6lld %7s %9lld  ", rep_int(r, "cafes"),
		    rep_int(r, "all_eight"), b, rep_int(r, "over_five"));
		if (json_array_size(mm) == 0)
			fputs("none", f);
		for (j = 0; j < json_array_size(mm); j++)
			fprintf(f, "%s%s (%lld)", j ? ", " : "",
			    rep_str(json_array_get(mm, j), "element"),
			    rep_int(json_array_get(mm, j), "cafes"));
		fputc('\n', f);
	}
}

static void
text_feedback(FILE *f, json_t *rep)
{
	static const char *const hdr[] = { "felt safe", "learned", "return",
		"followed", "wants role" };
	static const char *const phdr[] = { "resilience", "nurturing",
		"social", "relation", "concrete" };
	json_t *fb = json_object_get(rep, "feedback");
	json_t *rows = json_object_get(fb, "rows");
	json_t *qs = json_object_get(fb, "questions");
	json_t *ps = json_object_get(fb, "pfs_subscales");
	size_t w = name_width(rows, 10), i, j;
	char b[32];

	heading(f, "Feedback: share of responses (PFS-2 means, weighted by "
	    "responses)");
	cell(f, "site", w, 0);
	fputs("  forms  resp.", f);
	for (j = 0; j < 5; j++) {
		fputc(' ', f);
		cell(f, hdr[j], 10, 1);
	}
	fputs(" |", f);
	for (j = 0; j < 5; j++) {
		fputc(' ', f);
		cell(f, phdr[j], 10, 1);
	}
	fputc('\n', f);
	for (i = 0; i <= json_array_size(rows); i++) {
		json_t *r = i < json_array_size(rows) ? json_array_get(rows, i) :
		    json_object_get(fb, "total");

		cell(f, rep_str(r, "name"), w, 0);
		fprintf(f, " %6lld %6lld", rep_int(r, "forms"),
		    rep_int(r, "responses"));
		for (j = 0; j < json_array_size(qs); j++) {
			num(json_object_get(json_object_get(json_object_get(r,
			    "questions"), json_string_value(json_array_get(qs,
			    j))), "pct"), b, sizeof(b), 1);
			fputc(' ', f);
			cell(f, b, 10, 1);
		}
		fputs(" |", f);
		for (j = 0; j < json_array_size(ps); j++) {
			num(json_object_get(json_object_get(json_object_get(r,
			    "pfs"), json_string_value(json_array_get(ps, j))),
			    "mean"), b, sizeof(b), 0);
			fputc(' ', f);
			cell(f, b, 10, 1);
		}
		fputc('\n', f);
	}
}

static void
text_trainings(FILE *f, json_t *rep)
{
	static const char *const hdr[] = { "orientation", "host", "table host",
		"coaching" };
	json_t *tr = json_object_get(rep, "trainings");
	json_t *rows = json_object_get(tr, "rows");
	json_t *ks = json_object_get(tr, "kinds");
	size_t w = name_width(rows, 10), i, j;
	char b[32];

	heading(f, "Trainings (trainings/participants) and hosts");
	cell(f, "site", w, 0);
	for (j = 0; j < 4; j++) {
		fputc(' ', f);
		cell(f, hdr[j], 11, 1);
	}
	fputs("  total  hosts  trained\n", f);
	for (i = 0; i <= json_array_size(rows); i++) {
		json_t *r = i < json_array_size(rows) ? json_array_get(rows, i) :
		    json_object_get(tr, "total");

		cell(f, rep_str(r, "name"), w, 0);
		for (j = 0; j < json_array_size(ks); j++) {
			json_t *k = json_object_get(json_object_get(r, "kinds"),
			    json_string_value(json_array_get(ks, j)));

			snprintf(b, sizeof(b), "%lld/%lld",
			    rep_int(k, "trainings"), rep_int(k,
			    "participants"));
			fputc(' ', f);
			cell(f, b, 11, 1);
		}
		snprintf(b, sizeof(b), "%lld/%lld", rep_int(r, "trainings"),
		    rep_int(r, "participants"));
		fprintf(f, " %6s %6lld %8lld\n", b, rep_int(r, "hosts"),
		    rep_int(r, "hosts_trained"));
	}
}

/* A step's status as one word for the text table. */
static const char *
step_word(const char *status)
{
	if (strcmp(status, "done") == 0)
		return "done";
	if (strcmp(status, "in_progress") == 0)
		return "doing";
	if (strcmp(status, "not_started") == 0)
		return "not yet";
	return "-";
}

static void
text_steps(FILE *f, json_t *rep)
{
	json_t *st = json_object_get(rep, "steps");
	json_t *rows = json_object_get(st, "rows");
	json_t *names = json_object_get(st, "steps");
	size_t w = name_width(rows, 10), i, j, nflags = 0;

	heading(f, "Implementation steps");
	for (j = 0; j < json_array_size(names); j++)
		fprintf(f, "  %zu %s\n", j + 1, rep_str(json_array_get(names,
		    j), "name"));
	fputc('\n', f);
	cell(f, "site", w, 0);
	for (j = 0; j < json_array_size(names); j++)
		fprintf(f, "  %7zu", j + 1);
	fputs("  reached\n", f);
	for (i = 0; i < json_array_size(rows); i++) {
		json_t *r = json_array_get(rows, i);
		json_t *s = json_object_get(r, "steps");

		cell(f, rep_str(r, "name"), w, 0);
		for (j = 0; j < json_array_size(s); j++) {
			fputs("  ", f);
			cell(f, step_word(rep_str(json_array_get(s, j),
			    "status")), 7, 1);
		}
		fprintf(f, "  %lld of 6\n", rep_int(r, "reached"));
		nflags += json_array_size(json_object_get(r, "flags"));
	}
	if (nflags == 0)
		return;
	fputs("\nflagged:\n", f);
	for (i = 0; i < json_array_size(rows); i++) {
		json_t *r = json_array_get(rows, i);
		json_t *fl = json_object_get(r, "flags");

		for (j = 0; j < json_array_size(fl); j++)
			fprintf(f, "  %s: %s\n", rep_str(r, "name"),
			    rep_str(json_array_get(fl, j), "text"));
	}
}

static void
text_attention(FILE *f, json_t *rep)
{
	json_t *at = json_object_get(rep, "attention");
	json_t *quiet = json_object_get(at, "quiet");
	json_t *mem = json_object_get(at, "members");
	json_t *mrows = json_object_get(mem, "rows");
	json_t *acts = json_object_get(at, "actions");
	size_t i;
	char title[96];

	snprintf(title, sizeof(title), "Attention (%lld days)",
	    rep_int(at, "days"));
	heading(f, title);
	fprintf(f, "sites with no café in the last %lld days: %zu\n",
	    rep_int(at, "days"), json_array_size(quiet));
	for (i = 0; i < json_array_size(quiet); i++) {
		json_t *q = json_array_get(quiet, i);

		if (json_is_null(json_object_get(q, "last_cafe")))
			fprintf(f, "  %s: no café recorded\n",
			    rep_str(q, "name"));
		else
			fprintf(f, "  %s: last café %s, %lld days ago\n",
			    rep_str(q, "name"), rep_str(q, "last_cafe"),
			    rep_int(q, "days"));
	}
	fprintf(f, "members not heard from for %lld days or more (no sync "
	    "with this node, no commit received): %zu\n", rep_int(at, "days"),
	    json_array_size(mrows));
	for (i = 0; i < json_array_size(mrows); i++) {
		json_t *m = json_array_get(mrows, i);

		fprintf(f, "  %s (%s): ", rep_str(m, "name"),
		    rep_str(m, "role"));
		if (json_is_null(json_object_get(m, "last_sync")))
			fprintf(f, "never synced with this node");
		else
			fprintf(f, "last synced %.10s", rep_str(m,
			    "last_sync"));
		if (json_is_null(json_object_get(m, "last_commit")))
			fprintf(f, ", no commit received\n");
		else
			fprintf(f, ", last commit received %.10s\n",
			    rep_str(m, "last_commit"));
	}
	fprintf(f, "open and in-progress actions: %zu\n",
	    json_array_size(acts));
	for (i = 0; i < json_array_size(acts); i++) {
		json_t *a = json_array_get(acts, i);

		fprintf(f, "  %-7s %-6s due %-10s  %s: %s\n",
		    json_is_true(json_object_get(a, "overdue")) ? "OVERDUE" :
		    "", strcmp(rep_str(a, "status"), "doing") == 0 ? "doing" :
		    "open", json_is_null(json_object_get(a, "due")) ? "-" :
		    rep_str(a, "due"), rep_str(a, "site"),
		    rep_str(a, "title"));
	}
}

/* Prints the report as aligned text. */
void
report_text(json_t *rep, FILE *f)
{
	json_t *per = json_object_get(rep, "period");
	json_t *node = json_object_get(rep, "node");
	json_t *hid = json_object_get(rep, "not_visible");
	size_t i;

	fprintf(f, "Café report, network %.16s\n", rep_str(rep, "network"));
	fprintf(f, "node     %s (%s)\n", rep_str(node, "name"),
	    rep_str(node, "role"));
	fprintf(f, "period   %s to %s (%zu months)\n", rep_str(per, "since"),
	    rep_str(per, "until"), json_array_size(json_object_get(per,
	    "months")));
	fprintf(f, "made     %.10s %.5s %s\n", rep_str(rep, "generated"),
	    rep_str(rep, "generated") + 11, rep_str(rep, "timezone"));
	fprintf(f, "sites    %zu shown\n", json_array_size(json_object_get(rep,
	    "sites")));
	if (json_array_size(hid) > 0) {
		fprintf(f, "not visible from this node (its records are not "
		    "held here, so they are left out, not counted as zero):\n");
		for (i = 0; i < json_array_size(hid); i++)
			fprintf(f, "  %s\n", rep_str(json_array_get(hid, i),
			    "name"));
	}
	text_months(f, rep, "cafes", "Activity: cafés per month");
	text_months(f, rep, "attendees", "Activity: attendees per month");
	text_months(f, rep, "new_attendees", "Activity: new attendees per "
	    "month");
	text_months(f, rep, "children_cared_for", "Activity: children cared "
	    "for per month");
	text_factors(f, rep);
	text_fidelity(f, rep);
	text_feedback(f, rep);
	text_trainings(f, rep);
	text_steps(f, rep);
	text_attention(f, rep);
}

/* ---- CSV --------------------------------------------------------------- */

/* A CSV row being written: cells separated by commas, quoted by libcsv. */
static void
csv_put(FILE *f, const char *s, int first)
{
	if (!first)
		fputc(',', f);
	if (strpbrk(s, ",\"\r\n") != NULL || (s[0] != '\0' && (s[0] == ' ' ||
	    s[strlen(s) - 1] == ' ')))
		csv_fwrite(f, s, strlen(s));
	else
		fputs(s, f);
}

/* Writes a JSON scalar as a CSV cell ("" for null). */
static void
csv_val(FILE *f, json_t *v)
{
	char b[64];

	if (json_is_string(v))
		csv_put(f, json_string_value(v), 0);
	else if (json_is_real(v)) {
		/* One decimal for shares, two for means: as JSON has them. */
		double d = json_real_value(v) * 10;
		double r = (double)(long long)(d + (d >= 0 ? 0.5 : -0.5));

		snprintf(b, sizeof(b), d - r < 1e-6 && r - d < 1e-6 ? "%.1f" :
		    "%.2f", json_real_value(v));
		csv_put(f, b, 0);
	} else if (json_is_integer(v)) {
		snprintf(b, sizeof(b), "%lld", (long long)json_integer_value(v));
		csv_put(f, b, 0);
	} else if (json_is_true(v) || json_is_false(v))
		csv_put(f, json_is_true(v) ? "yes" : "no", 0);
	else
		csv_put(f, "", 0);
}

/* Starts a row with the site's id and name ("" id for totals). */
static void
csv_site(FILE *f, json_t *r)
{
	csv_put(f, rep_str(r, "id"), 1);
	csv_put(f, rep_str(r, "name"), 0);
}

/* Calls row(f, r) for every row and then the total, if any. */
static void
csv_rows(FILE *f, json_t *t, void (*row)(FILE *, json_t *, json_t *))
{
	json_t *rows = json_object_get(t, "rows");
	size_t i;

	for (i = 0; i < json_array_size(rows); i++)
		row(f, t, json_array_get(rows, i));
	if (json_object_get(t, "total") != NULL)
		row(f, t, json_object_get(t, "total"));
}

static void
csv_activity_row(FILE *f, json_t *t, json_t *r)
{
	static const char *const k[] = { "cafes", "attendees",
		"new_attendees", "children_cared_for" };
	json_t *ms = json_object_get(r, "months");
	size_t m, j;

	for (m = 0; m <= json_array_size(ms); m++) {
		json_t *x = m < json_array_size(ms) ? json_array_get(ms, m) :
		    json_object_get(r, "total");

		csv_site(f, r);
		csv_put(f, rep_str(x, "month"), 0);
		for (j = 0; j < 4; j++)
			csv_val(f, json_object_get(x, k[j]));
		fputc('\n', f);
	}
}

static void
csv_factors_row(FILE *f, json_t *t, json_t *r)
{
	json_t *names = json_object_get(t, "factors");
	json_t *nc = json_object_get(r, "not_covered");
	char b[256] = "";
	size_t j;

	csv_site(f, r);
	csv_val(f, json_object_get(r, "cafes"));
	for (j = 0; j < json_array_size(names); j++)
		csv_val(f, json_object_get(json_object_get(r, "counts"),
		    json_string_value(json_array_get(names, j))));
	for (j = 0; j < json_array_size(nc); j++) {
		if (j > 0)
			strcat(b, " ");
		strcat(b, json_string_value(json_array_get(nc, j)));
	}
	csv_put(f, b, 0);
	fputc('\n', f);
}

static void
csv_fidelity_row(FILE *f, json_t *t, json_t *r)
{
	json_t *names = json_object_get(t, "elements");
	json_t *mm = json_object_get(r, "most_missed");
	char b[256] = "";
	size_t j;

	csv_site(f, r);
	csv_val(f, json_object_get(r, "cafes"));
	csv_val(f, json_object_get(r, "all_eight"));
	csv_val(f, json_object_get(r, "all_eight_pct"));
	csv_val(f, json_object_get(r, "over_five"));
	csv_val(f, json_object_get(r, "no_checklist"));
	for (j = 0; j < json_array_size(names); j++)
		csv_val(f, json_object_get(json_object_get(r, "missed"),
		    json_string_value(json_array_get(names, j))));
	for (j = 0; j < json_array_size(mm); j++) {
		if (j > 0)
			strcat(b, " ");
		strcat(b, rep_str(json_array_get(mm, j), "element"));
	}
	csv_put(f, b, 0);
	fputc('\n', f);
}

static void
csv_feedback_row(FILE *f, json_t *t, json_t *r)
{
	json_t *qs = json_object_get(t, "questions");
	json_t *ps = json_object_get(t, "pfs_subscales");
	size_t j;

	csv_site(f, r);
	csv_val(f, json_object_get(r, "forms"));
	csv_val(f, json_object_get(r, "responses"));
	for (j = 0; j < json_array_size(qs); j++) {
		json_t *q = json_object_get(json_object_get(r, "questions"),
		    json_string_value(json_array_get(qs, j)));

		csv_val(f, json_object_get(q, "yes"));
		csv_val(f, json_object_get(q, "of"));
		csv_val(f, json_object_get(q, "pct"));
	}
	for (j = 0; j < json_array_size(ps); j++) {
		json_t *p = json_object_get(json_object_get(r, "pfs"),
		    json_string_value(json_array_get(ps, j)));

		csv_val(f, json_object_get(p, "mean"));
		csv_val(f, json_object_get(p, "responses"));
	}
	fputc('\n', f);
}

static void
csv_trainings_row(FILE *f, json_t *t, json_t *r)
{
	json_t *ks = json_object_get(t, "kinds");
	size_t j;

	csv_site(f, r);
	for (j = 0; j < json_array_size(ks); j++) {
		json_t *k = json_object_get(json_object_get(r, "kinds"),
		    json_string_value(json_array_get(ks, j)));

		csv_val(f, json_object_get(k, "trainings"));
		csv_val(f, json_object_get(k, "participants"));
	}
	csv_val(f, json_object_get(r, "trainings"));
	csv_val(f, json_object_get(r, "participants"));
	csv_val(f, json_object_get(r, "hosts"));
	csv_val(f, json_object_get(r, "hosts_trained"));
	fputc('\n', f);
}

static void
csv_steps_row(FILE *f, json_t *t, json_t *r)
{
	json_t *s = json_object_get(r, "steps");
	json_t *fl = json_object_get(r, "flags");
	char *b = xstrdup("");
	size_t j;

	csv_site(f, r);
	for (j = 0; j < json_array_size(s); j++)
		csv_val(f, json_object_get(json_array_get(s, j), "status"));
	csv_val(f, json_object_get(r, "reached"));
	csv_val(f, json_object_get(r, "reached_name"));
	for (j = 0; j < json_array_size(fl); j++) {
		char *n = xasprintf("%s%s%s", b, j ? "; " : "",
		    rep_str(json_array_get(fl, j), "text"));

		free(b);
		b = n;
	}
	csv_put(f, b, 0);
	free(b);
	fputc('\n', f);
}

/* Writes an array of flat objects, columns named by keys. */
static void
csv_list(FILE *f, json_t *a, const char *const *keys)
{
	size_t i, j;

	for (j = 0; keys[j] != NULL; j++)
		csv_put(f, keys[j], j == 0);
	fputc('\n', f);
	for (i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);

		for (j = 0; keys[j] != NULL; j++) {
			if (j == 0) {
				json_t *v = json_object_get(o, keys[j]);

				csv_put(f, json_is_string(v) ?
				    json_string_value(v) : "", 1);
			} else
				csv_val(f, json_object_get(o, keys[j]));
		}
		fputc('\n', f);
	}
}

/* Writes one table as CSV. */
int
report_csv(json_t *rep, const char *table, FILE *f)
{
	json_t *t;
	size_t j;

	if (strcmp(table, "activity") == 0) {
		fputs("site_id,site,month,cafes,attendees,new_attendees,"
		    "children_cared_for\n", f);
		csv_rows(f, json_object_get(rep, "activity"), csv_activity_row);
	} else if (strcmp(table, "factors") == 0) {
		t = json_object_get(rep, "factors");
		fputs("site_id,site,cafes", f);
		for (j = 0; j < json_array_size(json_object_get(t, "factors"));
		    j++)
			fprintf(f, ",%s", json_string_value(json_array_get(
			    json_object_get(t, "factors"), j)));
		fputs(",not_covered\n", f);
		csv_rows(f, t, csv_factors_row);
	} else if (strcmp(table, "fidelity") == 0) {
		t = json_object_get(rep, "fidelity");
		fputs("site_id,site,cafes,all_eight,all_eight_pct,over_five,"
		    "no_checklist", f);
		for (j = 0; j < json_array_size(json_object_get(t,
		    "elements")); j++)
			fprintf(f, ",missed_%s", json_string_value(
			    json_array_get(json_object_get(t, "elements"), j)));
		fputs(",most_missed\n", f);
		csv_rows(f, t, csv_fidelity_row);
	} else if (strcmp(table, "feedback") == 0) {
		t = json_object_get(rep, "feedback");
		fputs("site_id,site,forms,responses", f);
		for (j = 0; j < json_array_size(json_object_get(t,
		    "questions")); j++) {
			const char *q = json_string_value(json_array_get(
			    json_object_get(t, "questions"), j));

			fprintf(f, ",%s,%s_of,%s_pct", q, q, q);
		}
		for (j = 0; j < json_array_size(json_object_get(t,
		    "pfs_subscales")); j++) {
			const char *p = json_string_value(json_array_get(
			    json_object_get(t, "pfs_subscales"), j));

			fprintf(f, ",pfs_%s_mean,pfs_%s_responses", p, p);
		}
		fputc('\n', f);
		csv_rows(f, t, csv_feedback_row);
	} else if (strcmp(table, "trainings") == 0) {
		t = json_object_get(rep, "trainings");
		fputs("site_id,site", f);
		for (j = 0; j < json_array_size(json_object_get(t, "kinds"));
		    j++) {
			const char *k = json_string_value(json_array_get(
			    json_object_get(t, "kinds"), j));

			fprintf(f, ",%s,%s_participants", k, k);
		}
		fputs(",trainings,participants,hosts,hosts_trained\n", f);
		csv_rows(f, t, csv_trainings_row);
	} else if (strcmp(table, "steps") == 0) {
		t = json_object_get(rep, "steps");
		fputs("site_id,site", f);
		for (j = 1; j <= STEPS_N; j++)
			fprintf(f, ",step%zu", j);
		fputs(",reached,reached_name,flags\n", f);
		csv_rows(f, t, csv_steps_row);
	} else if (strcmp(table, "quiet") == 0) {
		static const char *const k[] = { "id", "name", "last_cafe",
			"days", NULL };

		csv_list(f, json_object_get(json_object_get(rep, "attention"),
		    "quiet"), k);
	} else if (strcmp(table, "members") == 0) {
		static const char *const k[] = { "key", "name", "role",
			"site", "last_sync", "last_commit", "days", NULL };

		csv_list(f, json_object_get(json_object_get(json_object_get(
		    rep, "attention"), "members"), "rows"), k);
	} else if (strcmp(table, "actions") == 0) {
		static const char *const k[] = { "id", "site_id", "site",
			"title", "status", "due", "overdue", "days_overdue",
			"cafe_date", NULL };

		csv_list(f, json_object_get(json_object_get(rep, "attention"),
		    "actions"), k);
	} else if (strcmp(table, "not_visible") == 0) {
		static const char *const k[] = { "id", "name", NULL };

		csv_list(f, json_object_get(rep, "not_visible"), k);
	} else
		return -1;
	return 0;
}
