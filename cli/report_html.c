/*
 * report_html.c: the HTML form of cafe report: one self-contained file.
 *
 * Everything is inline: the CSS, and the charts as SVG drawn here by a
 * few small writers (no script, no font, no image fetched; a
 * Content-Security-Policy of default-src 'none' says so to the browser),
 * so the file opens offline and can be mailed.  Every chart is an
 * <svg role="img"> with a <title> and a <desc>, and names in data-table
 * the table that holds its numbers.  Colours are from the Okabe-Ito
 * palette and one sequential blue, and every series also differs by line
 * dash, marker or printed value, so the charts read in grey print and
 * with any colour vision.  A print stylesheet fits A4 and Letter; with
 * per_site each site gets a page of its own.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

#define W 680             /* chart width in CSS pixels */
#define BLUE "#0072B2"
#define ORANGE "#E69F00"
#define GREEN "#009E73"
#define INK "#222"

/* ---- small writers ----------------------------------------------------- */

/* Writes s with &, <, > and " escaped. */
static void
esc(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			fputc(*s, f);
		}
}

/* Formats a JSON number as the text form does: integer, 93.3%, 5.10. */
static const char *
fnum(json_t *v, int pct, char *b, size_t len)
{
	if (json_is_integer(v))
		snprintf(b, len, "%lld", (long long)json_integer_value(v));
	else if (json_is_real(v))
		snprintf(b, len, pct ? "%.1f%%" : "%.2f", json_real_value(v));
	else
		snprintf(b, len, "–");
	return b;
}

/* Writes a token as words: child_development as "child development". */
static void
words(FILE *f, const char *tok)
{
	for (; *tok != '\0'; tok++)
		fputc(*tok == '_' ? ' ' : *tok, f);
}

/* Opens a chart: its title, description and the table of its numbers. */
static void
svg_open(FILE *f, const char *id, int h, const char *title, const char *desc,
    const char *table)
{
	fprintf(f, "<figure>\n<svg id=\"%s\" class=\"chart\" role=\"img\" "
	    "aria-labelledby=\"%s-t %s-d\" data-table=\"%s\" "
	    "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n"
	    "<title id=\"%s-t\">", id,
	    id, id, table, W, h, W, h, id);
	esc(f, title);
	fprintf(f, "</title>\n<desc id=\"%s-d\">", id);
	esc(f, desc);
	fputs("</desc>\n", f);
}

static void
svg_close(FILE *f, const char *caption)
{
	fputs("</svg>\n<figcaption>", f);
	esc(f, caption);
	fputs("</figcaption>\n</figure>\n", f);
}

static void
text_at(FILE *f, double x, double y, const char *anchor, const char *cls,
    const char *s)
{
	fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" "
	    "class=\"%s\">", x, y, anchor, cls);
	esc(f, s);
	fputs("</text>\n", f);
}

/* Copies s into b, cut to at most n characters (UTF-8) with "…". */
static const char *
fit(const char *s, size_t n, char *b, size_t len)
{
	size_t i = 0, chars = 0;

	while (s[i] != '\0' && chars < n) {
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		chars++;
	}
	if (s[i] == '\0' || i + 4 > len)
		snprintf(b, len, "%s", s);
	else {
		/* Cut one more character for the ellipsis. */
		while (i > 0 && chars >= n) {
			i--;
			while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
				i--;
			chars--;
		}
		snprintf(b, len, "%.*s…", (int)i, s);
	}
	return b;
}

/* ---- charts ------------------------------------------------------------ */

/* Small multiples: one bar chart of cafés per month for each row. */
static void
chart_cafes(FILE *f, json_t *act, json_t *months)
{
	json_t *rows = json_object_get(act, "rows");
	size_t n = json_array_size(rows), nm = json_array_size(months), i, m;
	long long max = 1, peak = 0;
	int cols = n <= 2 ? (int)(n ? n : 1) : 3, pw, ph = 92, h;
	char desc[512], b[32], nb[160];
	const char *peak_name = "";

	for (i = 0; i < n; i++) {
		json_t *ms = json_object_get(json_array_get(rows, i), "months");

		for (m = 0; m < json_array_size(ms); m++)
			if (rep_int(json_array_get(ms, m), "cafes") > max)
				max = rep_int(json_array_get(ms, m), "cafes");
		if (rep_int(json_object_get(json_array_get(rows, i), "total"),
		    "cafes") > peak) {
			peak = rep_int(json_object_get(json_array_get(rows, i),
			    "total"), "cafes");
			peak_name = rep_str(json_array_get(rows, i), "name");
		}
	}
	pw = W / cols;
	h = (int)((n + (size_t)cols - 1) / (size_t)cols) * ph + 4;
	if (n == 0)
		h = 40;
	snprintf(desc, sizeof(desc), "One small bar chart per %s, a bar per "
	    "month from %s to %s, all on one scale (0 to %lld cafés a "
	    "month). Most cafés in the period: %s, %lld. The numbers are in "
	    "the table that follows.", strcmp(rep_str(act, "by"), "site") ==
	    0 ? "site" : rep_str(act, "by"), nm ? json_string_value(
	    json_array_get(months, 0)) : "", nm ? json_string_value(
	    json_array_get(months, nm - 1)) : "", max, n ? peak_name : "none",
	    peak);
	svg_open(f, "c-cafes", h, "Cafés per month, by site", desc,
	    "t-cafes");
	if (n == 0)
		text_at(f, 10, 24, "start", "lbl", "No sites to show.");
	for (i = 0; i < n; i++) {
		json_t *r = json_array_get(rows, i);
		json_t *ms = json_object_get(r, "months");
		double x0 = (double)((int)i % cols * pw) + 6;
		double y0 = (double)((int)i / cols * ph);
		double cw = (double)pw - 16, bh = 56, bw;

		snprintf(b, sizeof(b), "%lld", rep_int(json_object_get(r,
		    "total"), "cafes"));
		text_at(f, x0, y0 + 13, "start", "lbl b", fit(rep_str(r,
		    "name"), cols == 3 ? 30 : 50, nb, sizeof(nb)));
		text_at(f, x0 + cw, y0 + 13, "end", "lbl", b);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" class=\"axis\"/>\n", x0, y0 + 20 + bh,
		    x0 + cw, y0 + 20 + bh);
		bw = nm ? cw / (double)nm : cw;
		for (m = 0; m < json_array_size(ms); m++) {
			long long v = rep_int(json_array_get(ms, m), "cafes");
			double hh = bh * (double)v / (double)max;

			if (v == 0)
				continue;
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			    "height=\"%.1f\" fill=\"" BLUE "\"/>\n",
			    x0 + (double)m * bw + 1, y0 + 20 + bh - hh,
			    bw > 3 ? bw - 2 : bw, hh);
		}
		if (nm > 0) {
			text_at(f, x0, y0 + 20 + bh + 11, "start", "tick",
			    json_string_value(json_array_get(months, 0)));
			text_at(f, x0 + cw, y0 + 20 + bh + 11, "end", "tick",
			    json_string_value(json_array_get(months, nm - 1)));
		}
	}
	svg_close(f, "Cafés per month for each site (the number is the "
	    "period's total).");
}

/* Statewide attendance per month: three lines, told apart by dash and
 * marker as well as colour. */
static void
chart_attendance(FILE *f, json_t *act)
{
	static const char *const k[] = { "attendees", "new_attendees",
		"children_cared_for" };
	static const char *const label[] = { "attendees", "new attendees",
		"children cared for" };
	static const char *const col[] = { BLUE, ORANGE, GREEN };
	static const char *const dash[] = { "", " stroke-dasharray=\"7 4\"",
		" stroke-dasharray=\"2 3\"" };
	json_t *tot = json_object_get(act, "total");
	json_t *ms = json_object_get(tot, "months");
	size_t nm = json_array_size(ms), m;
	int h = 230, j;
	double left = 44, top = 28, pw = W - 44 - 30, ph = 150, x, y;
	long long max = 1;
	char desc[512], b[32];

	for (m = 0; m < nm; m++)
		for (j = 0; j < 3; j++)
			if (rep_int(json_array_get(ms, m), k[j]) > max)
				max = rep_int(json_array_get(ms, m), k[j]);
	snprintf(desc, sizeof(desc), "A line per measure over %zu months, all "
	    "sites together: attendees (solid line, circles), new attendees "
	    "(dashed, squares), children cared for (dotted, triangles). "
	    "Totals for the period: %lld attendees, %lld new, %lld children. "
	    "The numbers are in the table that follows.", nm,
	    rep_int(json_object_get(tot, "total"), k[0]),
	    rep_int(json_object_get(tot, "total"), k[1]),
	    rep_int(json_object_get(tot, "total"), k[2]));
	svg_open(f, "c-attendance", h, "Attendance over time, all sites",
	    desc, "t-attendance");
	/* Axes and the scale. */
	fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
	    "class=\"axis\"/>\n", left, top + ph, left + pw, top + ph);
	for (j = 0; j <= 2; j++) {
		double v = (double)max * j / 2;

		y = top + ph - ph * j / 2;
		snprintf(b, sizeof(b), "%.0f", v);
		text_at(f, left - 4, y + 3, "end", "tick", b);
		fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
		    "y2=\"%.1f\" class=\"grid\"/>\n", left, y, left + pw, y);
	}
	for (j = 0; j < 3; j++) {
		fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" "
		    "stroke-width=\"2\"%s points=\"", col[j], dash[j]);
		for (m = 0; m < nm; m++) {
			x = left + (nm > 1 ? pw * (double)m / (double)(nm - 1) :
			    pw / 2);
			y = top + ph - ph * (double)rep_int(json_array_get(ms,
			    m), k[j]) / (double)max;
			fprintf(f, "%.1f,%.1f ", x, y);
		}
		fputs("\"/>\n", f);
		for (m = 0; m < nm; m++) {
			x = left + (nm > 1 ? pw * (double)m / (double)(nm - 1) :
			    pw / 2);
			y = top + ph - ph * (double)rep_int(json_array_get(ms,
			    m), k[j]) / (double)max;
			if (j == 0)
				fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" "
				    "r=\"3\" fill=\"%s\"/>\n", x, y, col[j]);
			else if (j == 1)
				fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" "
				    "width=\"6\" height=\"6\" fill=\"%s\"/>\n",
				    x - 3, y - 3, col[j]);
			else
				fprintf(f, "<path d=\"M%.1f %.1fl4 7h-8z\" "
				    "fill=\"%s\"/>\n", x, y - 4, col[j]);
		}
	}
	for (m = 0; m < nm; m += nm > 6 ? 2 : 1) {
		x = left + (nm > 1 ? pw * (double)m / (double)(nm - 1) : pw / 2);
		text_at(f, x, top + ph + 14, "middle", "tick", rep_str(
		    json_array_get(ms, m), "month"));
	}
	/* The legend. */
	for (j = 0; j < 3; j++) {
		x = left + 10 + j * 190.0;
		fprintf(f, "<line x1=\"%.1f\" y1=\"12\" x2=\"%.1f\" y2=\"12\" "
		    "stroke=\"%s\" stroke-width=\"2\"%s/>\n", x, x + 28, col[j],
		    dash[j]);
		text_at(f, x + 34, 16, "start", "lbl", label[j]);
	}
	svg_close(f, "Attendees, new attendees and children cared for per "
	    "month, all sites.");
}

/* The site × factor matrix as a heat map: shade by the share of the
 * site's cafés, the count printed in every cell. */
static void
chart_factors(FILE *f, json_t *fa)
{
	static const char *const hdr[] = { "parental", "social",
		"concrete", "child", "social-emotional" };
	static const char *const hdr2[] = { "resilience", "connections",
		"support", "development", "competence" };
	static const char *const shade[] = { "#ffffff", "#deebf7", "#9ecae1",
		"#4292c6", "#08519c" };
	json_t *rows = json_object_get(fa, "rows");
	json_t *names = json_object_get(fa, "factors");
	size_t n = json_array_size(rows), i, j;
	double left = 220, cw = (W - 220) / 5.0, rh = 24, top = 40;
	int h = (int)(top + rh * (double)n + 30);
	char desc[512], b[32], nb[160];

	snprintf(desc, sizeof(desc), "A grid with a row per site and a column "
	    "per protective factor; each cell gives the cafés of the period "
	    "centred on that factor, darker for a larger share of the "
	    "site's cafés; an empty white cell marked 0 is a factor not "
	    "covered. The numbers are in the table that follows.");
	svg_open(f, "c-factors", h, "Protective factors by site (heat map)",
	    desc, "t-factors");
	for (j = 0; j < 5; j++) {
		text_at(f, left + cw * ((double)j + 0.5), top - 20, "middle",
		    "lbl", hdr[j]);
		text_at(f, left + cw * ((double)j + 0.5), top - 7, "middle",
		    "lbl", hdr2[j]);
	}
	for (i = 0; i < n; i++) {
		json_t *r = json_array_get(rows, i);
		long long cafes = rep_int(r, "cafes");
		double y = top + rh * (double)i;

		text_at(f, left - 8, y + rh / 2 + 4, "end", "lbl",
		    fit(rep_str(r, "name"), 34, nb, sizeof(nb)));
		for (j = 0; j < json_array_size(names); j++) {
			long long v = rep_int(json_object_get(r, "counts"),
			    json_string_value(json_array_get(names, j)));
			int lvl = v == 0 || cafes == 0 ? 0 :
			    1 + (int)(3.999 * (double)v / (double)cafes);

			if (lvl > 4)
				lvl = 4;
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			    "height=\"%.1f\" fill=\"%s\" class=\"cell\"/>\n",
			    left + cw * (double)j, y, cw, rh, shade[lvl]);
			snprintf(b, sizeof(b), "%lld", v);
			text_at(f, left + cw * ((double)j + 0.5), y + rh / 2 + 4,
			    "middle", lvl >= 3 ? "val inv" : "val", b);
		}
	}
	svg_close(f, "Cafés centred on each protective factor, by site; "
	    "darker is a larger share of the site's cafés.");
}

/* Statewide feedback shares as horizontal bars, the share printed. */
static void
chart_feedback(FILE *f, json_t *fb)
{
	static const char *const label[] = { "felt safe sharing",
		"learned something", "will return",
		"followed through on a commitment", "wants a role on the team" };
	json_t *tot = json_object_get(fb, "total");
	json_t *qs = json_object_get(fb, "questions");
	size_t j;
	double left = 230, bw = W - 300, bh = 20, top = 8;
	char desc[600], b[32], part[96];
	int h = (int)(top + 30.0 * 5 + 6);

	snprintf(desc, sizeof(desc), "A bar per question of the feedback "
	    "form, all sites, from %lld responses:",
	    rep_int(tot, "responses"));
	for (j = 0; j < json_array_size(qs); j++) {
		json_t *q = json_object_get(json_object_get(tot, "questions"),
		    json_string_value(json_array_get(qs, j)));

		snprintf(part, sizeof(part), " %s %s;", label[j],
		    fnum(json_object_get(q, "pct"), 1, b, sizeof(b)));
		strncat(desc, part, sizeof(desc) - strlen(desc) - 1);
	}
	strncat(desc, " the table that follows gives each site.",
	    sizeof(desc) - strlen(desc) - 1);
	svg_open(f, "c-feedback", h, "Feedback: share of responses, all sites",
	    desc, "t-feedback");
	for (j = 0; j < json_array_size(qs); j++) {
		json_t *q = json_object_get(json_object_get(tot, "questions"),
		    json_string_value(json_array_get(qs, j)));
		json_t *p = json_object_get(q, "pct");
		double y = top + 30.0 * (double)j;
		double share = json_is_real(p) ? json_real_value(p) / 100 : 0;

		text_at(f, left - 8, y + bh / 2 + 4, "end", "lbl", label[j]);
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" class=\"track\"/>\n", left, y, bw, bh);
		fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
		    "height=\"%.1f\" fill=\"" BLUE "\"/>\n", left, y,
		    bw * share, bh);
		text_at(f, left + bw + 6, y + bh / 2 + 4, "start", "val b",
		    fnum(p, 1, b, sizeof(b)));
	}
	svg_close(f, "Share of responses answering yes, all sites (a dash "
	    "where no form recorded the question).");
}

/* Step progress: a row per site, a cell per step, told apart by fill
 * and by the mark printed in it. */
static void
chart_steps(FILE *f, json_t *st)
{
	json_t *rows = json_object_get(st, "rows");
	size_t n = json_array_size(rows), i, j;
	double left = 220, cw = 56, rh = 24, top = 40;
	int h = (int)(top + rh * (double)n + 8);
	char desc[512], b[32], nb[160];

	snprintf(desc, sizeof(desc), "A row per site and a square per "
	    "implementation step, 1 to 6: filled dark with a check mark when "
	    "done, light with a dot when in progress, white with a dash when "
	    "not started, dotted outline with a question mark when never "
	    "recorded; the step reached is at the end of the row. The table "
	    "that follows gives each status.");
	svg_open(f, "c-steps", h, "Implementation steps by site", desc,
	    "t-steps");
	for (j = 0; j < STEPS_N; j++) {
		snprintf(b, sizeof(b), "%zu", j + 1);
		text_at(f, left + cw * ((double)j + 0.5), top - 8, "middle",
		    "lbl b", b);
	}
	text_at(f, left + cw * STEPS_N + 10, top - 8, "start", "lbl b",
	    "reached");
	text_at(f, 10, 14, "start", "tick", "✓ done   • in progress   – not "
	    "started   ? not recorded");
	for (i = 0; i < n; i++) {
		json_t *r = json_array_get(rows, i);
		json_t *s = json_object_get(r, "steps");
		double y = top + rh * (double)i;

		text_at(f, left - 8, y + rh / 2 + 4, "end", "lbl",
		    fit(rep_str(r, "name"), 34, nb, sizeof(nb)));
		for (j = 0; j < json_array_size(s); j++) {
			const char *status = rep_str(json_array_get(s, j),
			    "status");
			const char *fill = "#ffffff", *mark = "?",
			    *cls = "val", *extra = " stroke-dasharray=\"2 2\"";
			double x = left + cw * (double)j;

			if (strcmp(status, "done") == 0) {
				fill = BLUE;
				mark = "✓";
				cls = "val inv";
				extra = "";
			} else if (strcmp(status, "in_progress") == 0) {
				fill = "#9ecae1";
				mark = "•";
				extra = "";
			} else if (strcmp(status, "not_started") == 0) {
				mark = "–";
				extra = "";
			}
			fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			    "height=\"%.1f\" fill=\"%s\" class=\"step\"%s/>\n",
			    x + 3, y + 2, cw - 6, rh - 4, fill, extra);
			text_at(f, x + cw / 2, y + rh / 2 + 5, "middle", cls,
			    mark);
		}
		snprintf(b, sizeof(b), "%lld of 6%s", rep_int(r, "reached"),
		    json_array_size(json_object_get(r, "flags")) ?
		    "  (flagged)" : "");
		text_at(f, left + cw * STEPS_N + 10, y + rh / 2 + 4, "start",
		    "lbl", b);
	}
	svg_close(f, "Where each site stands on the six implementation "
	    "steps.");
}

/* ---- tables ------------------------------------------------------------ */

static void
th(FILE *f, const char *s)
{
	fputs("<th scope=\"col\">", f);
	esc(f, s);
	fputs("</th>", f);
}

/* A month's column head: "Jan" over "2026", for YYYY-MM. */
static void
month_th(FILE *f, const char *ym)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int m = ym != NULL && strlen(ym) == 7 ? atoi(ym + 5) : 0;

	if (m < 1 || m > 12) {
		th(f, ym != NULL ? ym : "");
		return;
	}
	fprintf(f, "<th scope=\"col\" title=\"%s\">%s<br>%.4s</th>", ym,
	    mon[m - 1], ym);
}

static void
td_name(FILE *f, json_t *r)
{
	fputs("<th scope=\"row\">", f);
	esc(f, rep_str(r, "name"));
	fputs("</th>", f);
}

static void
td(FILE *f, json_t *v, int pct)
{
	char b[32];

	fprintf(f, "<td>%s</td>", fnum(v, pct, b, sizeof(b)));
}

/* A site × month table of one measure; rows may be one site only. */
static void
table_months(FILE *f, const char *id, json_t *rows, json_t *tot,
    json_t *months, const char *measure, const char *caption, int wide)
{
	size_t i, m;

	fprintf(f, "<table id=\"%s\"%s>\n<caption>", id, wide ?
	    " class=\"wide\"" : "");
	esc(f, caption);
	fputs("</caption>\n<thead><tr>", f);
	th(f, "site");
	for (m = 0; m < json_array_size(months); m++)
		month_th(f, json_string_value(json_array_get(months, m)));
	th(f, "total");
	fputs("</tr></thead>\n<tbody>\n", f);
	for (i = 0; i <= json_array_size(rows); i++) {
		json_t *r = i < json_array_size(rows) ? json_array_get(rows, i) :
		    tot;
		json_t *ms = json_object_get(r, "months");

		if (r == NULL)
			break;
		fprintf(f, "<tr%s>", i == json_array_size(rows) ?
		    " class=\"total\"" : "");
		td_name(f, r);
		for (m = 0; m < json_array_size(ms); m++)
			td(f, json_object_get(json_array_get(ms, m), measure),
			    0);
		td(f, json_object_get(json_object_get(r, "total"), measure), 0);
		fputs("</tr>\n", f);
	}
	fputs("</tbody>\n</table>\n", f);
}

/* The statewide attendance table behind the attendance chart. */
static void
table_attendance(FILE *f, json_t *act)
{
	json_t *tot = json_object_get(act, "total");
	json_t *ms = json_object_get(tot, "months");
	size_t m;

	fputs("<table id=\"t-attendance\">\n<caption>Attendance per month, all "
	    "sites</caption>\n<thead><tr>", f);
	th(f, "month");
	th(f, "cafés");
	th(f, "attendees");
	th(f, "new attendees");
	th(f, "children cared for");
	fputs("</tr></thead>\n<tbody>\n", f);
	for (m = 0; m <= json_array_size(ms); m++) {
		json_t *x = m < json_array_size(ms) ? json_array_get(ms, m) :
		    json_object_get(tot, "total");

		fprintf(f, "<tr%s><th scope=\"row\">%s</th>",
		    m == json_array_size(ms) ? " class=\"total\"" : "",
		    rep_str(x, "month"));
		td(f, json_object_get(x, "cafes"), 0);
		td(f, json_object_get(x, "attendees"), 0);
		td(f, json_object_get(x, "new_attendees"), 0);
		td(f, json_object_get(x, "children_cared_for"), 0);
		fputs("</tr>\n", f);
	}
	fputs("</tbody>\n</table>\n", f);
}

/* Rows of a per-site table, then its total when with_total. */
typedef void (*row_fn)(FILE *, json_t *, json_t *);

static void
table_rows(FILE *f, json_t *t, json_t *rows, int with_total, row_fn fn)
{
	size_t i;

	for (i = 0; i < json_array_size(rows); i++) {
		fputs("<tr>", f);
		td_name(f, json_array_get(rows, i));
		fn(f, t, json_array_get(rows, i));
		fputs("</tr>\n", f);
	}
	if (with_total && json_object_get(t, "total") != NULL) {
		fputs("<tr class=\"total\">", f);
		td_name(f, json_object_get(t, "total"));
		fn(f, t, json_object_get(t, "total"));
		fputs("</tr>\n", f);
	}
}

static void
factors_row(FILE *f, json_t *t, json_t *r)
{
	json_t *names = json_object_get(t, "factors");
	json_t *nc = json_object_get(r, "not_covered");
	size_t j;

	td(f, json_object_get(r, "cafes"), 0);
	for (j = 0; j < json_array_size(names); j++)
		td(f, json_object_get(json_object_get(r, "counts"),
		    json_string_value(json_array_get(names, j))), 0);
	fputs("<td class=\"txt\">", f);
	if (json_array_size(nc) == 0)
		fputs("none", f);
	for (j = 0; j < json_array_size(nc); j++) {
		fputs(j ? ", " : "", f);
		words(f, json_string_value(json_array_get(nc, j)));
	}
	fputs("</td>", f);
}

static void
table_factors(FILE *f, json_t *fa, json_t *rows, const char *id, int total)
{
	json_t *names = json_object_get(fa, "factors");
	size_t j;

	fprintf(f, "<table id=\"%s\" class=\"wide\">\n<caption>Cafés centred on each "
	    "protective factor, and the factors not covered in the "
	    "period</caption>\n<thead><tr>", id);
	th(f, "site");
	th(f, "cafés");
	for (j = 0; j < json_array_size(names); j++) {
		fputs("<th scope=\"col\">", f);
		words(f, json_string_value(json_array_get(names, j)));
		fputs("</th>", f);
	}
	th(f, "not covered");
	fputs("</tr></thead>\n<tbody>\n", f);
	table_rows(f, fa, rows, total, factors_row);
	fputs("</tbody>\n</table>\n", f);
}

static void
fidelity_row(FILE *f, json_t *t, json_t *r)
{
	json_t *mm = json_object_get(r, "most_missed");
	size_t j;

	td(f, json_object_get(r, "cafes"), 0);
	td(f, json_object_get(r, "all_eight"), 0);
	td(f, json_object_get(r, "all_eight_pct"), 1);
	td(f, json_object_get(r, "over_five"), 0);
	fputs("<td class=\"txt\">", f);
	if (json_array_size(mm) == 0)
		fputs("none", f);
	for (j = 0; j < json_array_size(mm); j++) {
		fputs(j ? ", " : "", f);
		words(f, rep_str(json_array_get(mm, j), "element"));
		fprintf(f, " (%lld)", rep_int(json_array_get(mm, j), "cafes"));
	}
	fputs("</td>", f);
}

static void
table_fidelity(FILE *f, json_t *fi, json_t *rows, const char *id, int total)
{
	fprintf(f, "<table id=\"%s\">\n<caption>Fidelity: cafés that held all "
	    "eight elements, the elements most often missed (a café with no "
	    "checklist recorded misses them all), cafés with a table over "
	    "five</caption>\n<thead><tr>", id);
	th(f, "site");
	th(f, "cafés");
	th(f, "all eight");
	th(f, "share");
	th(f, "tables over five");
	th(f, "most missed");
	fputs("</tr></thead>\n<tbody>\n", f);
	table_rows(f, fi, rows, total, fidelity_row);
	fputs("</tbody>\n</table>\n", f);
}

static void
feedback_row(FILE *f, json_t *t, json_t *r)
{
	json_t *qs = json_object_get(t, "questions");
	size_t j;

	td(f, json_object_get(r, "forms"), 0);
	td(f, json_object_get(r, "responses"), 0);
	for (j = 0; j < json_array_size(qs); j++)
		td(f, json_object_get(json_object_get(json_object_get(r,
		    "questions"), json_string_value(json_array_get(qs, j))),
		    "pct"), 1);
}

static void
pfs_row(FILE *f, json_t *t, json_t *r)
{
	json_t *ps = json_object_get(t, "pfs_subscales");
	size_t j;

	for (j = 0; j < json_array_size(ps); j++) {
		json_t *p = json_object_get(json_object_get(r, "pfs"),
		    json_string_value(json_array_get(ps, j)));

		td(f, json_object_get(p, "mean"), 0);
		td(f, json_object_get(p, "responses"), 0);
	}
}

/* Two tables: the questions' shares, and the PFS-2 means. */
static void
table_feedback(FILE *f, json_t *fb, json_t *rows, const char *id, int total)
{
	static const char *const hdr[] = { "felt safe", "learned",
		"will return", "followed through", "wants a role" };
	static const char *const phdr[] = { "resilience", "nurturing",
		"social support", "relationship", "concrete support" };
	size_t j;

	fprintf(f, "<table id=\"%s\">\n<caption>Feedback forms: the share of "
	    "responses saying yes to each question</caption>\n<thead><tr>",
	    id);
	th(f, "site");
	th(f, "forms");
	th(f, "responses");
	for (j = 0; j < 5; j++)
		th(f, hdr[j]);
	fputs("</tr></thead>\n<tbody>\n", f);
	table_rows(f, fb, rows, total, feedback_row);
	fprintf(f, "</tbody>\n</table>\n<table id=\"%s-pfs\" class=\"wide\">\n"
	    "<caption>PFS-2 subscale means (1 to 7), weighted by responses, "
	    "and the responses they rest on</caption>\n<thead><tr>", id);
	th(f, "site");
	for (j = 0; j < 5; j++) {
		th(f, phdr[j]);
		th(f, "resp.");
	}
	fputs("</tr></thead>\n<tbody>\n", f);
	table_rows(f, fb, rows, total, pfs_row);
	fputs("</tbody>\n</table>\n", f);
}

static void
trainings_row(FILE *f, json_t *t, json_t *r)
{
	json_t *ks = json_object_get(t, "kinds");
	size_t j;

	for (j = 0; j < json_array_size(ks); j++) {
		json_t *k = json_object_get(json_object_get(r, "kinds"),
		    json_string_value(json_array_get(ks, j)));

		td(f, json_object_get(k, "trainings"), 0);
		td(f, json_object_get(k, "participants"), 0);
	}
	td(f, json_object_get(r, "hosts"), 0);
	td(f, json_object_get(r, "hosts_trained"), 0);
}

static void
table_trainings(FILE *f, json_t *tr, json_t *rows, const char *id, int total)
{
	static const char *const hdr[] = { "orientation", "people",
		"host training", "people", "table host training", "people",
		"coaching", "people", "hosts", "trained" };
	size_t j;

	fprintf(f, "<table id=\"%s\" class=\"wide\">\n<caption>Trainings by "
	    "kind and their participants; hosts and parent leaders, and how "
	    "many are trained</caption>\n<thead><tr>", id);
	th(f, "site");
	for (j = 0; j < 10; j++)
		th(f, hdr[j]);
	fputs("</tr></thead>\n<tbody>\n", f);
	table_rows(f, tr, rows, total, trainings_row);
	fputs("</tbody>\n</table>\n", f);
}

static const char *
status_label(const char *s)
{
	if (strcmp(s, "done") == 0)
		return "done";
	if (strcmp(s, "in_progress") == 0)
		return "in progress";
	if (strcmp(s, "not_started") == 0)
		return "not started";
	return "not recorded";
}

static void
steps_row(FILE *f, json_t *t, json_t *r)
{
	json_t *s = json_object_get(r, "steps");
	json_t *fl = json_object_get(r, "flags");
	size_t j;

	for (j = 0; j < json_array_size(s); j++) {
		fputs("<td class=\"txt\">", f);
		esc(f, status_label(rep_str(json_array_get(s, j), "status")));
		fputs("</td>", f);
	}
	td(f, json_object_get(r, "reached"), 0);
	fputs("<td class=\"txt\">", f);
	for (j = 0; j < json_array_size(fl); j++) {
		fputs(j ? "<br>" : "", f);
		esc(f, rep_str(json_array_get(fl, j), "text"));
	}
	fputs("</td>", f);
}

static void
table_steps(FILE *f, json_t *st, json_t *rows, const char *id)
{
	size_t j;
	char b[16];

	fprintf(f, "<table id=\"%s\" class=\"wide\">\n<caption>Each step's "
	    "current status (the latest record wins), the step reached (the "
	    "last done with every step before it done) and what is "
	    "flagged</caption>\n<thead><tr>", id);
	th(f, "site");
	for (j = 1; j <= STEPS_N; j++) {
		snprintf(b, sizeof(b), "step %zu", j);
		th(f, b);
	}
	th(f, "reached");
	th(f, "flagged");
	fputs("</tr></thead>\n<tbody>\n", f);
	table_rows(f, st, rows, 0, steps_row);
	fputs("</tbody>\n</table>\n", f);
}

/* The open actions of one site (site NULL: all), overdue first. */
static void
table_actions(FILE *f, json_t *acts, const char *site, const char *id)
{
	size_t i, n = 0;

	for (i = 0; i < json_array_size(acts); i++)
		if (site == NULL || strcmp(rep_str(json_array_get(acts, i),
		    "site_id"), site) == 0)
			n++;
	if (n == 0) {
		fputs("<p>No open or in-progress actions.</p>\n", f);
		return;
	}
	fprintf(f, "<table id=\"%s\" class=\"wide\">\n<caption>Open and "
	    "in-progress actions, the overdue ones first</caption>\n"
	    "<thead><tr>", id);
	th(f, "site");
	th(f, "action");
	th(f, "status");
	th(f, "due");
	th(f, "overdue by");
	fputs("</tr></thead>\n<tbody>\n", f);
	for (i = 0; i < json_array_size(acts); i++) {
		json_t *a = json_array_get(acts, i);
		char b[32];

		if (site != NULL && strcmp(rep_str(a, "site_id"), site) != 0)
			continue;
		fprintf(f, "<tr%s><td class=\"txt\">", json_is_true(
		    json_object_get(a, "overdue")) ? " class=\"overdue\"" : "");
		esc(f, rep_str(a, "site"));
		fputs("</td><td class=\"txt\">", f);
		esc(f, rep_str(a, "title"));
		fprintf(f, "</td><td class=\"txt\">%s</td><td class=\"txt\">"
		    "%s</td><td class=\"txt\">", strcmp(rep_str(a, "status"),
		    "doing") == 0 ? "in progress" : "open",
		    json_is_null(json_object_get(a, "due")) ? "–" :
		    rep_str(a, "due"));
		if (json_is_true(json_object_get(a, "overdue"))) {
			snprintf(b, sizeof(b), "%lld days", rep_int(a,
			    "days_overdue"));
			fputs(b, f);
		}
		fputs("</td></tr>\n", f);
	}
	fputs("</tbody>\n</table>\n", f);
}

/* ---- the page ---------------------------------------------------------- */

static const char css[] =
"*{box-sizing:border-box}\n"
"body{font:14px/1.4 'DejaVu Sans','Liberation Sans',Arial,sans-serif;"
"color:#222;margin:0 auto;max-width:720px;padding:16px;"
"-webkit-print-color-adjust:exact;print-color-adjust:exact}\n"
"h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 6px;"
"border-bottom:2px solid #0072B2;padding-bottom:2px}\n"
"h3{font-size:14px;margin:14px 0 4px}\n"
"header dl{display:grid;grid-template-columns:max-content 1fr;gap:1px 12px;"
"margin:6px 0}header dt{font-weight:bold}header dd{margin:0}\n"
".hidden{border:2px dashed #E69F00;padding:6px 10px;margin:8px 0}\n"
"figure{margin:8px 0;break-inside:avoid}figcaption{font-size:12px;"
"color:#444}\n"
"svg.chart{width:100%;height:auto;display:block}\n"
"svg .lbl{font-size:11px;fill:#222}svg .b{font-weight:bold}"
"svg .tick{font-size:9px;fill:#555}svg .val{font-size:11px;fill:#222}"
"svg .inv{fill:#fff;font-weight:bold}svg .axis{stroke:#555;stroke-width:1}"
"svg .grid{stroke:#ddd;stroke-width:1}svg .cell{stroke:#999;"
"stroke-width:.5}svg .track{fill:#eee;stroke:#bbb;stroke-width:.5}"
"svg .step{stroke:#333;stroke-width:1}\n"
"table{border-collapse:collapse;margin:6px 0 12px;font-size:11px;"
"width:100%;break-inside:auto}\n"
"table.wide{font-size:10px}caption{text-align:left;font-size:12px;"
"color:#444;padding:2px 0}\n"
"th,td{border:1px solid #bbb;padding:2px 4px;text-align:right;"
"vertical-align:top}thead th{background:#e8f1f8;text-align:center}\n"
"tbody th{text-align:left;font-weight:normal}td.txt{text-align:left}\n"
"tr.total th,tr.total td{font-weight:bold;border-top:2px solid #555}\n"
"tr.overdue td{font-weight:bold}\n"
".note{font-size:12px;color:#444}\n"
".tiles{list-style:none;padding:0;margin:10px 0;display:grid;"
"grid-template-columns:repeat(4,1fr);gap:6px}\n"
".tiles li{border:1px solid #bbb;border-left:4px solid #0072B2;"
"padding:4px 8px;font-size:12px;break-inside:avoid}\n"
".tiles b{display:block;font-size:20px}\n"
"tbody th{min-width:8em}\n"
"@media print{body{max-width:none;padding:0;font-size:11px}"
"h2{break-after:avoid}section{break-inside:auto}"
".site-page{break-before:page}tr{break-inside:avoid}}\n";

/* The page header: network, node, period, time. */
static void
page_header(FILE *f, json_t *rep)
{
	json_t *per = json_object_get(rep, "period");
	json_t *node = json_object_get(rep, "node");
	json_t *hid = json_object_get(rep, "not_visible");
	size_t i;

	fputs("<header>\n<h1>Café report</h1>\n<dl>\n<dt>Network</dt><dd>", f);
	esc(f, rep_str(rep, "network"));
	fputs("</dd>\n<dt>Node</dt><dd>", f);
	esc(f, rep_str(node, "name"));
	fputs(" (", f);
	esc(f, rep_str(node, "role"));
	fprintf(f, ")</dd>\n<dt>Period</dt><dd id=\"period\">%s to %s (%zu "
	    "months)</dd>\n<dt>Made</dt><dd>%.10s %.5s ", rep_str(per,
	    "since"), rep_str(per, "until"), json_array_size(json_object_get(
	    per, "months")), rep_str(rep, "generated"),
	    rep_str(rep, "generated") + 11);
	esc(f, rep_str(rep, "timezone"));
	fprintf(f, "</dd>\n<dt>Sites</dt><dd>%zu shown</dd>\n</dl>\n",
	    json_array_size(json_object_get(rep, "sites")));
	if (json_array_size(hid) > 0) {
		fputs("<div class=\"hidden\" id=\"not-visible\"><strong>Not "
		    "visible from this node:</strong> ", f);
		for (i = 0; i < json_array_size(hid); i++) {
			fputs(i ? ", " : "", f);
			esc(f, rep_str(json_array_get(hid, i), "name"));
		}
		fputs(". This node does not hold their records, so they are "
		    "left out of every figure here, not counted as zero; the "
		    "hub's report has them.</div>\n", f);
	}
	fputs("</header>\n", f);
}

/* The figures a state lead looks at first, as tiles. */
static void
summary(FILE *f, json_t *rep)
{
	json_t *tot = json_object_get(json_object_get(json_object_get(rep,
	    "activity"), "total"), "total");
	json_t *fb = json_object_get(json_object_get(rep, "feedback"), "total");
	json_t *fi = json_object_get(json_object_get(rep, "fidelity"), "total");
	json_t *at = json_object_get(rep, "attention");
	json_t *acts = json_object_get(at, "actions");
	size_t i, overdue = 0;
	char b[32];

	for (i = 0; i < json_array_size(acts); i++)
		overdue += json_is_true(json_object_get(json_array_get(acts, i),
		    "overdue"));
	fputs("<ul class=\"tiles\" id=\"summary\">\n", f);
	fprintf(f, "<li><b>%lld</b> cafés</li>\n", rep_int(tot, "cafes"));
	fprintf(f, "<li><b>%lld</b> attendees</li>\n", rep_int(tot,
	    "attendees"));
	fprintf(f, "<li><b>%lld</b> new attendees</li>\n", rep_int(tot,
	    "new_attendees"));
	fprintf(f, "<li><b>%lld</b> children cared for</li>\n", rep_int(tot,
	    "children_cared_for"));
	fprintf(f, "<li><b>%s</b> of cafés held all eight elements</li>\n",
	    fnum(json_object_get(fi, "all_eight_pct"), 1, b, sizeof(b)));
	fprintf(f, "<li><b>%lld</b> feedback responses</li>\n", rep_int(fb,
	    "responses"));
	fprintf(f, "<li><b>%zu</b> quiet site%s</li>\n",
	    json_array_size(json_object_get(at, "quiet")),
	    json_array_size(json_object_get(at, "quiet")) == 1 ? "" : "s");
	fprintf(f, "<li><b>%zu</b> overdue action%s</li>\n", overdue,
	    overdue == 1 ? "" : "s");
	fputs("</ul>\n", f);
}

/* Returns a one-row array holding row i of table key, or an empty one. */
static json_t *
one_row(json_t *rep, const char *key, const char *id)
{
	json_t *rows = strcmp(key, "site_rows") == 0 ? json_object_get(
	    json_object_get(rep, "activity"), "site_rows") :
	    json_object_get(json_object_get(rep, key), "rows");
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < json_array_size(rows); i++)
		if (strcmp(rep_str(json_array_get(rows, i), "id"), id) == 0)
			json_array_append(a, json_array_get(rows, i));
	return a;
}

/* A page for one site: its own figures. */
static void
site_page(FILE *f, json_t *rep, json_t *site, size_t n)
{
	const char *id = rep_str(site, "id");
	json_t *months = json_object_get(json_object_get(rep, "period"),
	    "months");
	json_t *r;
	char tid[64];

	fputs("<section class=\"site-page\">\n<h2 class=\"site-title\">Site: ",
	    f);
	esc(f, rep_str(site, "name"));
	fputs("</h2>\n", f);
	{
		static const char *const k[] = { "cafes", "attendees",
			"new_attendees", "children_cared_for" };
		static const char *const cap[] = { "Cafés per month",
			"Attendees per month", "New attendees per month",
			"Children cared for per month" };
		size_t j;

		/* Grouped by county or region, the site's own row is in
		 * site_rows. */
		r = one_row(rep, json_object_get(json_object_get(rep,
		    "activity"), "site_rows") != NULL ? "site_rows" :
		    "activity", id);
		for (j = 0; j < 4; j++) {
			snprintf(tid, sizeof(tid), "p%zu-%s", n, k[j]);
			table_months(f, tid, r, NULL, months, k[j], cap[j], 1);
		}
		json_decref(r);
	}
	snprintf(tid, sizeof(tid), "p%zu-factors", n);
	r = one_row(rep, "factors", id);
	table_factors(f, json_object_get(rep, "factors"), r, tid, 0);
	json_decref(r);
	snprintf(tid, sizeof(tid), "p%zu-fidelity", n);
	r = one_row(rep, "fidelity", id);
	table_fidelity(f, json_object_get(rep, "fidelity"), r, tid, 0);
	json_decref(r);
	snprintf(tid, sizeof(tid), "p%zu-feedback", n);
	r = one_row(rep, "feedback", id);
	table_feedback(f, json_object_get(rep, "feedback"), r, tid, 0);
	json_decref(r);
	snprintf(tid, sizeof(tid), "p%zu-trainings", n);
	r = one_row(rep, "trainings", id);
	table_trainings(f, json_object_get(rep, "trainings"), r, tid, 0);
	json_decref(r);
	snprintf(tid, sizeof(tid), "p%zu-steps", n);
	r = one_row(rep, "steps", id);
	table_steps(f, json_object_get(rep, "steps"), r, tid);
	json_decref(r);
	snprintf(tid, sizeof(tid), "p%zu-actions", n);
	table_actions(f, json_object_get(json_object_get(rep, "attention"),
	    "actions"), id, tid);
	fputs("</section>\n", f);
}

/* Writes the whole page. */
void
report_html(json_t *rep, int per_site, const char *paper, FILE *f)
{
	json_t *per = json_object_get(rep, "period");
	json_t *act = json_object_get(rep, "activity");
	json_t *months = json_object_get(per, "months");
	json_t *at = json_object_get(rep, "attention");
	json_t *quiet = json_object_get(at, "quiet");
	json_t *mrows = json_object_get(json_object_get(at, "members"), "rows");
	json_t *sites = json_object_get(rep, "sites");
	size_t i;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta "
	    "charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" "
	    "content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, "
	    "initial-scale=1\">\n<title>Café report ", f);
	fprintf(f, "%s to %s</title>\n<style>\n@page{size:%s;margin:12mm}\n%s"
	    "</style>\n</head>\n<body>\n", rep_str(per, "since"),
	    rep_str(per, "until"), paper, css);
	page_header(f, rep);
	summary(f, rep);

	fputs("<section id=\"activity\">\n<h2>Activity</h2>\n", f);
	chart_cafes(f, act, months);
	table_months(f, "t-cafes", json_object_get(act, "rows"),
	    json_object_get(act, "total"), months, "cafes",
	    "Cafés per month", 1);
	chart_attendance(f, act);
	table_attendance(f, act);
	fputs("</section>\n", f);

	fputs("<section id=\"factors\">\n<h2>Protective factors</h2>\n", f);
	chart_factors(f, json_object_get(rep, "factors"));
	table_factors(f, json_object_get(rep, "factors"), json_object_get(
	    json_object_get(rep, "factors"), "rows"), "t-factors", 1);
	fputs("</section>\n", f);

	fputs("<section id=\"fidelity\">\n<h2>Fidelity</h2>\n", f);
	table_fidelity(f, json_object_get(rep, "fidelity"), json_object_get(
	    json_object_get(rep, "fidelity"), "rows"), "t-fidelity", 1);
	fputs("</section>\n", f);

	fputs("<section id=\"feedback\">\n<h2>Feedback</h2>\n", f);
	chart_feedback(f, json_object_get(rep, "feedback"));
	table_feedback(f, json_object_get(rep, "feedback"), json_object_get(
	    json_object_get(rep, "feedback"), "rows"), "t-feedback", 1);
	fputs("</section>\n", f);

	fputs("<section id=\"trainings\">\n<h2>Trainings and hosts</h2>\n", f);
	table_trainings(f, json_object_get(rep, "trainings"), json_object_get(
	    json_object_get(rep, "trainings"), "rows"), "t-trainings", 1);
	fputs("</section>\n", f);

	fputs("<section id=\"steps\">\n<h2>Implementation steps</h2>\n<ol "
	    "class=\"note\">", f);
	for (i = 0; i < STEPS_N; i++) {
		fputs("<li>", f);
		esc(f, steps_names[i]);
		fputs("</li>", f);
	}
	fputs("</ol>\n", f);
	chart_steps(f, json_object_get(rep, "steps"));
	table_steps(f, json_object_get(rep, "steps"), json_object_get(
	    json_object_get(rep, "steps"), "rows"), "t-steps");
	fputs("</section>\n", f);

	fprintf(f, "<section id=\"attention\">\n<h2>Attention</h2>\n<h3>Sites "
	    "with no café in the last %lld days</h3>\n", rep_int(at, "days"));
	if (json_array_size(quiet) == 0)
		fputs("<p>None.</p>\n", f);
	else {
		fputs("<ul id=\"quiet\">\n", f);
		for (i = 0; i < json_array_size(quiet); i++) {
			json_t *q = json_array_get(quiet, i);

			fputs("<li>", f);
			esc(f, rep_str(q, "name"));
			if (json_is_null(json_object_get(q, "last_cafe")))
				fputs(": no café recorded", f);
			else
				fprintf(f, ": last café %s, %lld days ago",
				    rep_str(q, "last_cafe"), rep_int(q, "days"));
			fputs("</li>\n", f);
		}
		fputs("</ul>\n", f);
	}
	fprintf(f, "<h3>Members not heard from for %lld days or more</h3>\n"
	    "<p class=\"note\">Neither a sync with this node (kept for its "
	    "own peers) nor a commit of theirs reaching it since.</p>\n",
	    rep_int(at, "days"));
	if (json_array_size(mrows) == 0)
		fputs("<p>None.</p>\n", f);
	else {
		fputs("<ul id=\"members\">\n", f);
		for (i = 0; i < json_array_size(mrows); i++) {
			json_t *m = json_array_get(mrows, i);

			fputs("<li>", f);
			esc(f, rep_str(m, "name"));
			fprintf(f, " (%s)", rep_str(m, "role"));
			if (json_is_null(json_object_get(m, "last_sync")))
				fputs(": never synced with this node", f);
			else
				fprintf(f, ": last synced %.10s", rep_str(m,
				    "last_sync"));
			if (json_is_null(json_object_get(m, "last_commit")))
				fputs(", no commit received", f);
			else
				fprintf(f, ", last commit received %.10s",
				    rep_str(m, "last_commit"));
			fputs("</li>\n", f);
		}
		fputs("</ul>\n", f);
	}
	fputs("<h3>Open and in-progress actions</h3>\n", f);
	table_actions(f, json_object_get(at, "actions"), NULL, "t-actions");
	fputs("</section>\n", f);

	fputs("<section id=\"activity-detail\">\n<h2>Attendance by site "
	    "and month</h2>\n", f);
	table_months(f, "t-attendees", json_object_get(act, "rows"),
	    json_object_get(act, "total"), months, "attendees",
	    "Attendees per month", 1);
	table_months(f, "t-new", json_object_get(act, "rows"),
	    json_object_get(act, "total"), months, "new_attendees",
	    "New attendees per month", 1);
	table_months(f, "t-children", json_object_get(act, "rows"),
	    json_object_get(act, "total"), months, "children_cared_for",
	    "Children cared for per month", 1);
	fputs("</section>\n", f);

	if (per_site)
		for (i = 0; i < json_array_size(sites); i++)
			site_page(f, rep, json_array_get(sites, i), i + 1);
	fputs("<footer class=\"note\"><p>Made by cafe report from the records "
	    "this node holds.</p></footer>\n</body>\n</html>\n", f);
}
