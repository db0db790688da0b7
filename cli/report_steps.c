/*
 * report_steps.c: the implementation-step rule, used by cafe audit and
 * cafe report alike.
 *
 * A consultant or the admin records where a site stands on each of the six
 * steps as milestone records, and corrects a record by writing a later one
 * (or editing it).  So for each site and step the latest record by clock
 * wins: its status is the step's current status, whatever the order the
 * records were written or arrived in.  The step reached is the last step
 * done with every step before it done, so a typo (step 6 done on a new
 * site) cannot make a site look finished.  What does not add up is
 * flagged, never hidden: a step done while an earlier one is not started
 * (or never recorded), and two current records of one step (the two
 * latest carry the same date and different statuses).
 */
#include <stdio.h>
#include <string.h>

#include "report.h"

const char *const steps_names[STEPS_N] = {
	"create the leadership challenge",
	"first contact with the café network",
	"teleconference with a café consultant",
	"build the starting team",
	"orientation with café consultants",
	"mentoring hosts to design, evaluate and sustain",
};

/* Returns a status's token. */
const char *
steps_status_name(enum step_status s)
{
	switch (s) {
	case STEP_NOT_STARTED:
		return "not_started";
	case STEP_IN_PROGRESS:
		return "in_progress";
	case STEP_DONE:
		return "done";
	default:
		return "none";
	}
}

/* Returns 1 when record a is later than b by (hlc, origin). */
static int
later(const struct steps_rec *a, const struct steps_rec *b)
{
	if (!b->set)
		return 1;
	if (a->hlc != b->hlc)
		return a->hlc > b->hlc;
	return memcmp(a->origin, b->origin, PROTO_KEY_LEN) > 0;
}

/* Folds one milestone record. */
void
steps_fold(struct steps *st, const struct store_rec *r)
{
	const msgpack_object *step = store_rec_value(r, "step");
	const msgpack_object *status = store_rec_value(r, "status");
	const msgpack_object *date = store_rec_value(r, "date");
	struct steps_rec n;
	uint32_t i;
	unsigned k;

	if (r->deleted || step == NULL ||
	    step->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    step->via.u64 < 1 || step->via.u64 > STEPS_N ||
	    status == NULL || status->type != MSGPACK_OBJECT_STR)
		return;
	memset(&n, 0, sizeof(n));
	n.set = 1;
	for (k = STEP_NOT_STARTED; k <= STEP_DONE; k++)
		if (strlen(steps_status_name(k)) == status->via.str.size &&
		    memcmp(steps_status_name(k), status->via.str.ptr,
		    status->via.str.size) == 0)
			n.status = k;
	if (n.status == STEP_NONE)
		return;
	if (date != NULL && date->type == MSGPACK_OBJECT_STR)
		sch_date_parse(date->via.str.ptr, date->via.str.size, &n.date);
	memcpy(n.id, r->id, PROTO_ID_LEN);
	/* The record's latest write, of any field, is its clock. */
	for (i = 0; i < r->nclocks; i++) {
		const msgpack_object *c = r->clocks[i].via.array.ptr;
		struct steps_rec t;

		t.set = 1;
		t.hlc = c[0].via.u64;
		memcpy(t.origin, c[1].via.bin.ptr, PROTO_KEY_LEN);
		if (i == 0 || later(&t, &n)) {
			n.hlc = t.hlc;
			memcpy(n.origin, t.origin, PROTO_KEY_LEN);
		}
	}
	k = (unsigned)step->via.u64 - 1;
	st->nrec[k]++;
	if (later(&n, &st->cur[k])) {
		st->prev[k] = st->cur[k];
		st->cur[k] = n;
	} else if (later(&n, &st->prev[k]))
		st->prev[k] = n;
}

/* Appends one flag object. */
static void
flag(json_t *flags, unsigned step, const char *kind, const char *text)
{
	json_array_append_new(flags, json_pack("{s:I, s:s, s:s}", "step",
	    (json_int_t)step, "kind", kind, "text", text));
}

/* Judges a folded site; returns the step reached. */
unsigned
steps_judge(const struct steps *st, json_t *flags)
{
	unsigned reached = 0, k, j;
	char text[256];

	while (reached < STEPS_N && st->cur[reached].set &&
	    st->cur[reached].status == STEP_DONE)
		reached++;
	if (flags == NULL)
		return reached;
	for (k = 0; k < STEPS_N; k++) {
		const struct steps_rec *c = &st->cur[k], *p = &st->prev[k];

		if (c->set && c->status == STEP_DONE)
			for (j = 0; j < k; j++)
				if (!st->cur[j].set ||
				    st->cur[j].status == STEP_NOT_STARTED) {
					snprintf(text, sizeof(text), "step %u "
					    "(%s) is done while step %u (%s) "
					    "is %s", k + 1, steps_names[k],
					    j + 1, steps_names[j],
					    st->cur[j].set ? "not started" :
					    "not recorded");
					flag(flags, k + 1, "out_of_order",
					    text);
					break;
				}
		if (c->set && p->set && c->date != 0 && c->date == p->date &&
		    c->status != p->status) {
			snprintf(text, sizeof(text), "step %u (%s) has two "
			    "current records dated %04u-%02u-%02u: %s and %s; "
			    "the later, %s, is taken", k + 1, steps_names[k],
			    c->date / 10000, c->date / 100 % 100,
			    c->date % 100, steps_status_name(c->status),
			    steps_status_name(p->status),
			    steps_status_name(c->status));
			flag(flags, k + 1, "two_current", text);
		}
	}
	return reached;
}
