/*
 * report.h: what cafe report and cafe audit share.
 *
 * The implementation-step rule (report_steps.c): a site's milestone records
 * are folded one at a time; the latest record of each step, by clock, is
 * the step's current status; the step reached is the last step done with
 * every step before it done; and what does not add up is flagged.  cafe
 * audit and cafe report both call these, so they never disagree.
 *
 * The report itself (report.c) is built once as one JSON document; the
 * text, CSV and HTML forms (report_out.c, report_html.c) are drawn from
 * that document, so every form shows the same numbers.
 */
#ifndef CAFESYNC_REPORT_H
#define CAFESYNC_REPORT_H

#include <stdio.h>

#include "cli.h"

/* ---- the implementation steps ----------------------------------------- */

#define STEPS_N 6

/* The six steps' names, step 1 first. */
extern const char *const steps_names[STEPS_N];

/* A step's status; NONE when no live record speaks of it. */
enum step_status {
	STEP_NONE,
	STEP_NOT_STARTED,
	STEP_IN_PROGRESS,
	STEP_DONE,
};

/* Returns "none", "not_started", "in_progress" or "done". */
const char *steps_status_name(enum step_status s);

/* One milestone record, as the rule sees it. */
struct steps_rec {
	int set;                    /* 0 when there is no such record */
	uint64_t hlc;               /* the latest clock on the record */
	uint8_t origin[PROTO_KEY_LEN];
	uint8_t id[PROTO_ID_LEN];
	enum step_status status;
	uint32_t date;              /* YYYYMMDD, 0 when absent */
};

/* One site's milestone records, folded.  Zero it before the first fold. */
struct steps {
	struct steps_rec cur[STEPS_N];   /* the latest record of each step */
	struct steps_rec prev[STEPS_N];  /* the one before it */
	unsigned nrec[STEPS_N];          /* live records of each step */
};

/*
 * Folds one live milestone record into st: the record whose latest clock
 * (hlc, then origin) is greatest becomes its step's current record.  A
 * record without a valid step or status is ignored.
 */
void steps_fold(struct steps *st, const struct store_rec *r);

/*
 * Judges a folded site: returns the step reached (0 when step 1 is not
 * done) and, when flags is not NULL, appends to it one object per
 * inconsistency: {"step", "kind", "text"}, kind "out_of_order" (a step
 * done while an earlier one is not started or never recorded) or
 * "two_current" (the two latest records of a step carry the same date
 * and different statuses; the later by clock is taken).
 */
unsigned steps_judge(const struct steps *st, json_t *flags);

/* ---- the report -------------------------------------------------------- */

/* cafe report (report.c). */
int cmd_report(struct cli *c);

/* Writes the report's text form to f (report_out.c). */
void report_text(json_t *rep, FILE *f);

/* The names of the report's tables, for --table; NULL-terminated. */
extern const char *const report_tables[];

/* Writes one table of the report as CSV to f; returns 0 or -1 when no
 * table is named so (report_out.c). */
int report_csv(json_t *rep, const char *table, FILE *f);

/*
 * Writes the report as one self-contained HTML file with inline CSS and
 * SVG charts to f (report_html.c).  per_site adds a page per site;
 * paper is "A4" or "Letter".
 */
void report_html(json_t *rep, int per_site, const char *paper, FILE *f);

/* What the output files share (report_out.c). */
const char *rep_str(json_t *o, const char *k);   /* "" when absent */
long long rep_int(json_t *o, const char *k);
/* Returns the number of display columns of a UTF-8 string. */
size_t rep_width(const char *s);

#endif
