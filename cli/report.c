/*
 * report.c: cafe report, what the state lead and the consultants look at.
 *
 * One walk over the node's live records (store_list() with no type: one
 * read transaction, each record decoded once) gathers everything in
 * memory: per site and month the cafés and attendance, the protective
 * factors, the fidelity elements, the feedback totals (by the café they
 * came from, so by the café's date), trainings, hosts, milestones and open
 * actions.  Then one JSON document is made of it, holding every table, the
 * period, the node and the sites it cannot see; the text, CSV and HTML
 * forms are all drawn from that document (report_out.c, report_html.c),
 * so they agree number for number.
 *
 * A site whose records this node does not read (a site laptop reads its
 * own site only) is listed as not visible, never shown as zeros.  Dates
 * of the period and "today" are in the local time zone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "report.h"

#define NFACTORS 5
#define NELEMENTS 8
#define NKINDS 4
#define NQUESTIONS 5
#define NPFS 5
#define MAX_MONTHS 240
#define DEFAULT_DAYS 45

static const char *const questions[NQUESTIONS] = { "felt_safe", "learned",
	"will_return", "followed_through", "wants_role" };
static const char *const pfs_fields[NPFS] = { "pfs_resilience",
	"pfs_nurturing", "pfs_social_support", "pfs_relationship",
	"pfs_concrete" };

/* ---- ids to indexes ---------------------------------------------------- */

/* An open-addressing table from 16-byte ids to indexes. */
struct idtab {
	uint8_t (*key)[PROTO_ID_LEN];
	uint32_t *val;
	size_t cap, n;
};

static size_t
id_hash(const uint8_t *id)
{
	uint64_t a, b, h;

	/*
	 * Ids begin with a timestamp, so their first bytes are much alike:
	 * mix both halves (the finalizer of splitmix64).
	 */
	memcpy(&a, id, sizeof(a));
	memcpy(&b, id + 8, sizeof(b));
	h = a ^ (b * 0x9e3779b97f4a7c15ULL);
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return (size_t)(h ^ (h >> 31));
}

/* Returns the slot of id: its own, or the empty one it would take. */
static size_t
id_slot(const struct idtab *t, const uint8_t *id)
{
	size_t i = id_hash(id) & (t->cap - 1);

	while (t->val[i] != UINT32_MAX &&
	    memcmp(t->key[i], id, PROTO_ID_LEN) != 0)
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* Returns the index stored for id, or UINT32_MAX. */
static uint32_t
id_get(const struct idtab *t, const uint8_t *id)
{
	if (t->cap == 0)
		return UINT32_MAX;
	return t->val[id_slot(t, id)];
}

/* Stores v for id (id must not be there yet). */
static void
id_put(struct idtab *t, const uint8_t *id, uint32_t v)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap) {
		struct idtab o = *t;

		t->cap = o.cap ? o.cap * 2 : 64;
		t->key = xcalloc(t->cap, sizeof(*t->key));
		t->val = xcalloc(t->cap, sizeof(*t->val));
		memset(t->val, 0xff, t->cap * sizeof(*t->val));
		for (i = 0; i < o.cap; i++)
			if (o.val[i] != UINT32_MAX) {
				size_t j = id_slot(t, o.key[i]);

				memcpy(t->key[j], o.key[i], PROTO_ID_LEN);
				t->val[j] = o.val[i];
			}
		free(o.key);
		free(o.val);
	}
	i = id_slot(t, id);
	memcpy(t->key[i], id, PROTO_ID_LEN);
	t->val[i] = v;
	t->n++;
}

static void
id_free(struct idtab *t)
{
	free(t->key);
	free(t->val);
}

/* ---- dates ------------------------------------------------------------- */

/* Days since 1970-01-01 of a YYYYMMDD date (proleptic Gregorian). */
static long
ymd_days(uint32_t ymd)
{
	long y = ymd / 10000, m = ymd / 100 % 100, d = ymd % 100, era;
	unsigned long yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned long)(y - era * 400);
	doy = (unsigned long)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

/* Returns the last day of a month (month 1-12). */
static unsigned
month_days(unsigned y, unsigned m)
{
	static const unsigned md[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
		31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return md[m - 1];
}

/* Formats YYYYMMDD as a JSON string, or null for 0. */
static json_t *
ymd_json(uint32_t ymd)
{
	char b[16];

	if (ymd == 0)
		return json_null();
	snprintf(b, sizeof(b), "%04u-%02u-%02u", ymd / 10000, ymd / 100 % 100,
	    ymd % 100);
	return json_string(b);
}

/* ---- what is gathered -------------------------------------------------- */

struct amonth {
	uint64_t cafes, attendees, new_attendees, children;
};

struct rsite {
	uint8_t id[PROTO_ID_LEN];
	int has_record;             /* its site record is on this node */
	int visible;                /* this node reads its records */
	int selected;               /* named by --site, or no --site */
	char *name, *county, *region;
	struct amonth *mon;         /* one per month of the period */
	uint64_t fac[NFACTORS];
	uint64_t all8, missed[NELEMENTS], over_five, no_elements;
	uint64_t forms, responses, q[NQUESTIONS], qresp[NQUESTIONS];
	uint64_t pfs_sum[NPFS], pfs_resp[NPFS], pfs_forms[NPFS];
	uint64_t tn[NKINDS], tp[NKINDS];
	uint64_t hosts, hosts_trained;
	struct steps steps;
	uint32_t last_cafe;         /* the latest café up to today */
};

/* A café seen in the walk, for the feedback and actions of it. */
struct rcafe {
	uint32_t site;              /* index in sites */
	uint32_t ymd;
};

/* A feedback or action record, resolved after the walk. */
struct rfollow {
	uint8_t cafe[PROTO_ID_LEN];
	uint8_t site[PROTO_ID_LEN];
	int has_site;
	uint8_t id[PROTO_ID_LEN];
	/* feedback */
	uint64_t responses, q[NQUESTIONS], pfs[NPFS];
	unsigned qset, pfsset;      /* bits: which were recorded */
	/* action */
	char *title, *status;
	uint32_t due;
};

struct rep {
	struct store *s;
	const struct sch_type *t_site, *t_cafe, *t_feedback, *t_action,
	    *t_training, *t_milestone, *t_person;
	const struct sch_field *f_factors, *f_elements, *f_kind;
	uint32_t since, until, today;
	int first_month, nmonths;   /* year * 12 + month - 1 of the first */
	int days;                   /* --days: quiet after this many */
	struct rsite *sites;
	size_t nsites;
	struct idtab site_ix;
	struct rcafe *cafes;
	size_t ncafes, capcafes;
	struct idtab cafe_ix;
	struct rfollow *fb, *act;
	size_t nfb, capfb, nact, capact;
	struct store_member self;
	int self_known;
};

/* Returns the string of a field as a malloc'd C string, or NULL. */
static char *
str_of(const struct store_rec *r, const char *name)
{
	const msgpack_object *v = store_rec_value(r, name);

	if (v == NULL || v->type != MSGPACK_OBJECT_STR)
		return NULL;
	return xasprintf("%.*s", (int)v->via.str.size, v->via.str.ptr);
}

/* Returns a count field, 0 when absent; *set tells whether present. */
static uint64_t
count_of(const struct store_rec *r, const char *name, int *set)
{
	const msgpack_object *v = store_rec_value(r, name);
	int ok = v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER;

	if (set != NULL)
		*set = ok;
	return ok ? v->via.u64 : 0;
}

/* Returns a date field as YYYYMMDD, 0 when absent. */
static uint32_t
ymd_of(const struct store_rec *r, const char *name)
{
	const msgpack_object *v = store_rec_value(r, name);
	uint32_t ymd = 0;

	if (v != NULL && v->type == MSGPACK_OBJECT_STR)
		sch_date_parse(v->via.str.ptr, v->via.str.size, &ymd);
	return ymd;
}

/* Returns the index of f's token equal to the string field, or -1. */
static int
token_index(const struct sch_field *f, const struct store_rec *r,
    const char *name)
{
	const msgpack_object *v = store_rec_value(r, name);
	int j;

	if (v == NULL || v->type != MSGPACK_OBJECT_STR)
		return -1;
	for (j = 0; f->tokens[j] != NULL; j++)
		if (strlen(f->tokens[j]) == v->via.str.size &&
		    memcmp(f->tokens[j], v->via.str.ptr, v->via.str.size) == 0)
			return j;
	return -1;
}

/* Returns the site entry of id, made when first seen. */
static struct rsite *
site_at(struct rep *rp, const uint8_t *id)
{
	uint32_t i = id_get(&rp->site_ix, id);
	struct rsite *st;

	if (i != UINT32_MAX)
		return &rp->sites[i];
	rp->sites = xreallocarray(rp->sites, rp->nsites + 1,
	    sizeof(*rp->sites));
	st = &rp->sites[rp->nsites];
	memset(st, 0, sizeof(*st));
	memcpy(st->id, id, PROTO_ID_LEN);
	st->mon = xcalloc((size_t)rp->nmonths, sizeof(*st->mon));
	id_put(&rp->site_ix, id, (uint32_t)rp->nsites);
	rp->nsites++;
	return st;
}

/* Returns the site entry a record's site field names, or NULL. */
static struct rsite *
site_of(struct rep *rp, const struct store_rec *r)
{
	const msgpack_object *v = store_rec_value(r, "site");

	if (v == NULL || v->type != MSGPACK_OBJECT_BIN ||
	    v->via.bin.size != PROTO_ID_LEN)
		return NULL;
	return site_at(rp, (const uint8_t *)v->via.bin.ptr);
}

/* Reads a reference field into id; returns 1 when present. */
static int
ref_of(const struct store_rec *r, const char *name, uint8_t id[PROTO_ID_LEN])
{
	const msgpack_object *v = store_rec_value(r, name);

	if (v == NULL || v->type != MSGPACK_OBJECT_BIN ||
	    v->via.bin.size != PROTO_ID_LEN)
		return 0;
	memcpy(id, v->via.bin.ptr, PROTO_ID_LEN);
	return 1;
}

static void
walk_cafe(struct rep *rp, const struct store_rec *r)
{
	struct rsite *st = site_of(rp, r);
	uint32_t ymd = ymd_of(r, "date");
	unsigned fac, el, j;
	struct amonth *m;
	int mo;

	if (st == NULL || ymd == 0)
		return;
	if (rp->ncafes == rp->capcafes) {
		rp->capcafes = rp->capcafes ? rp->capcafes * 2 : 1024;
		rp->cafes = xreallocarray(rp->cafes, rp->capcafes,
		    sizeof(*rp->cafes));
	}
	rp->cafes[rp->ncafes].site = (uint32_t)(st - rp->sites);
	rp->cafes[rp->ncafes].ymd = ymd;
	if (id_get(&rp->cafe_ix, r->id) == UINT32_MAX)
		id_put(&rp->cafe_ix, r->id, (uint32_t)rp->ncafes);
	rp->ncafes++;
	if (ymd <= rp->today && ymd > st->last_cafe)
		st->last_cafe = ymd;
	if (ymd < rp->since || ymd > rp->until)
		return;
	mo = (int)(ymd / 10000) * 12 + (int)(ymd / 100 % 100) - 1 -
	    rp->first_month;
	m = &st->mon[mo];
	m->cafes++;
	m->attendees += count_of(r, "attendees", NULL);
	m->new_attendees += count_of(r, "new_attendees", NULL);
	m->children += count_of(r, "children_cared_for", NULL);
	fac = sch_token_bits(rp->f_factors, store_rec_value(r, "factors"));
	for (j = 0; j < NFACTORS; j++)
		if (fac & 1u << j)
			st->fac[j]++;
	if (store_rec_value(r, "elements") == NULL)
		st->no_elements++;
	el = sch_token_bits(rp->f_elements,
	    store_rec_value(r, "elements"));
	if (el == (1u << NELEMENTS) - 1)
		st->all8++;
	for (j = 0; j < NELEMENTS; j++)
		if ((el & 1u << j) == 0)
			st->missed[j]++;
	if (count_of(r, "max_table_size", NULL) > 5)
		st->over_five++;
}

/* Keeps a feedback or action record for after the walk. */
static struct rfollow *
follow_add(struct rfollow **v, size_t *n, size_t *cap,
    const struct store_rec *r)
{
	struct rfollow *f;

	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*v = xreallocarray(*v, *cap, sizeof(**v));
	}
	f = &(*v)[(*n)++];
	memset(f, 0, sizeof(*f));
	memcpy(f->id, r->id, PROTO_ID_LEN);
	ref_of(r, "cafe", f->cafe);
	f->has_site = ref_of(r, "site", f->site);
	return f;
}

static void
walk_feedback(struct rep *rp, const struct store_rec *r)
{
	struct rfollow *f = follow_add(&rp->fb, &rp->nfb, &rp->capfb, r);
	int set, j;

	f->responses = count_of(r, "responses", NULL);
	for (j = 0; j < NQUESTIONS; j++) {
		f->q[j] = count_of(r, questions[j], &set);
		f->qset |= (unsigned)set << j;
	}
	for (j = 0; j < NPFS; j++) {
		f->pfs[j] = count_of(r, pfs_fields[j], &set);
		f->pfsset |= (unsigned)set << j;
	}
}

static void
walk_action(struct rep *rp, const struct store_rec *r)
{
	char *status = str_of(r, "status");
	struct rfollow *f;

	/* An action with no status has not been started: it is open. */
	if (status != NULL && strcmp(status, "open") != 0 &&
	    strcmp(status, "doing") != 0) {
		free(status);
		return;
	}
	f = follow_add(&rp->act, &rp->nact, &rp->capact, r);
	f->status = status != NULL ? status : xstrdup("open");
	f->title = str_of(r, "title");
	f->due = ymd_of(r, "due");
}

static void
walk_training(struct rep *rp, const struct store_rec *r)
{
	struct rsite *st = site_of(rp, r);
	uint32_t ymd = ymd_of(r, "date");
	int k = token_index(rp->f_kind, r, "kind");

	if (st == NULL || k < 0 || k >= NKINDS || ymd < rp->since ||
	    ymd > rp->until)
		return;
	st->tn[k]++;
	st->tp[k] += count_of(r, "participants", NULL);
}

static void
walk_person(struct rep *rp, const struct store_rec *r)
{
	const msgpack_object *roles = store_rec_value(r, "roles");
	struct rsite *st = site_of(rp, r);
	uint32_t i, trained;
	int host = 0;

	if (st == NULL || roles == NULL || roles->type != MSGPACK_OBJECT_ARRAY)
		return;
	for (i = 0; i < roles->via.array.size; i++) {
		const msgpack_object *t = &roles->via.array.ptr[i];

		if (t->type == MSGPACK_OBJECT_STR && ((t->via.str.size == 4 &&
		    memcmp(t->via.str.ptr, "host", 4) == 0) ||
		    (t->via.str.size == 10 && memcmp(t->via.str.ptr,
		    "table_host", 10) == 0) || (t->via.str.size == 13 &&
		    memcmp(t->via.str.ptr, "parent_leader", 13) == 0)))
			host = 1;
	}
	if (!host)
		return;
	st->hosts++;
	trained = ymd_of(r, "trained");
	if (trained != 0 && trained <= rp->until)
		st->hosts_trained++;
}

/* The one walk: every live record of the node, once. */
static int
walk_one(const struct store_rec *r, void *arg)
{
	struct rep *rp = arg;
	const struct sch_type *t = r->type;
	struct rsite *st;

	if (t == rp->t_cafe)
		walk_cafe(rp, r);
	else if (t == rp->t_feedback)
		walk_feedback(rp, r);
	else if (t == rp->t_site) {
		st = site_at(rp, r->id);
		st->has_record = 1;
		st->name = str_of(r, "name");
		st->county = str_of(r, "county");
		st->region = str_of(r, "region");
	} else if (t == rp->t_action)
		walk_action(rp, r);
	else if (t == rp->t_training)
		walk_training(rp, r);
	else if (t == rp->t_milestone) {
		if ((st = site_of(rp, r)) != NULL)
			steps_fold(&st->steps, r);
	} else if (t == rp->t_person)
		walk_person(rp, r);
	return 0;
}

/* Resolves a feedback or action to its site (and café date). */
static struct rsite *
follow_site(struct rep *rp, const struct rfollow *f, uint32_t *ymd)
{
	uint32_t i = id_get(&rp->cafe_ix, f->cafe);

	*ymd = 0;
	if (i != UINT32_MAX) {
		*ymd = rp->cafes[i].ymd;
		return &rp->sites[rp->cafes[i].site];
	}
	if (f->has_site)
		return site_at(rp, f->site);
	return NULL;
}

/* Adds the feedback records to their sites, by their café's date. */
static void
fold_feedback(struct rep *rp)
{
	size_t i;
	int j;

	for (i = 0; i < rp->nfb; i++) {
		const struct rfollow *f = &rp->fb[i];
		uint32_t ymd;
		struct rsite *st = follow_site(rp, f, &ymd);

		/* A form whose café is not (yet) here has no date: it is
		 * counted in no period. */
		if (st == NULL || ymd < rp->since || ymd > rp->until)
			continue;
		st->forms++;
		st->responses += f->responses;
		for (j = 0; j < NQUESTIONS; j++)
			if (f->qset & 1u << j) {
				st->q[j] += f->q[j];
				st->qresp[j] += f->responses;
			}
		for (j = 0; j < NPFS; j++)
			if (f->pfsset & 1u << j) {
				st->pfs_sum[j] += f->pfs[j] * f->responses;
				st->pfs_resp[j] += f->responses;
				st->pfs_forms[j]++;
			}
	}
}

/* ---- the JSON document ------------------------------------------------- */

static json_t *
hex_json(const uint8_t *p, size_t len)
{
	char hex[2 * PROTO_KEY_LEN + 1];

	proto_hex(hex, p, len);
	return json_string(hex);
}

/* A share in percent with one decimal, or null without a base. */
static json_t *
pct_json(uint64_t num, uint64_t den)
{
	if (den == 0)
		return json_null();
	return json_real((double)(long long)((num * 2000 + den) / (den * 2)) /
	    10.0);
}

/* A mean in hundredths, weighted, as a number with two decimals. */
static json_t *
mean_json(uint64_t sum, uint64_t den)
{
	if (den == 0)
		return json_null();
	return json_real((double)(long long)((sum * 2 + den) / (den * 2)) /
	    100.0);
}

/* The id and name of a site, the start of every row. */
static json_t *
row_start(const struct rsite *st)
{
	return json_pack("{s:o, s:s}", "id", hex_json(st->id, PROTO_ID_LEN),
	    "name", st->name != NULL ? st->name : "");
}

static json_t *
amonth_json(const char *month, const struct amonth *m)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I}", "month", month, "cafes",
	    (json_int_t)m->cafes, "attendees", (json_int_t)m->attendees,
	    "new_attendees", (json_int_t)m->new_attendees,
	    "children_cared_for", (json_int_t)m->children);
}

static void
amonth_add(struct amonth *a, const struct amonth *b)
{
	a->cafes += b->cafes;
	a->attendees += b->attendees;
	a->new_attendees += b->new_attendees;
	a->children += b->children;
}

/* Month label i of the period. */
static void
month_label(const struct rep *rp, int i, char *b, size_t len)
{
	int mo = rp->first_month + i;

	snprintf(b, len, "%04d-%02d", mo / 12, mo % 12 + 1);
}

/* One activity row over sites v[0..n), named key and name. */
static json_t *
activity_row(const struct rep *rp, json_t *head, struct rsite **v, size_t n,
    struct amonth *all)
{
	json_t *months = json_array();
	struct amonth tot, m;
	char b[16];
	size_t k;
	int i;

	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < rp->nmonths; i++) {
		memset(&m, 0, sizeof(m));
		for (k = 0; k < n; k++)
			amonth_add(&m, &v[k]->mon[i]);
		month_label(rp, i, b, sizeof(b));
		json_array_append_new(months, amonth_json(b, &m));
		amonth_add(&tot, &m);
		if (all != NULL)
			amonth_add(&all[i], &m);
	}
	json_object_set_new(head, "months", months);
	json_object_set_new(head, "total", amonth_json("total", &tot));
	return head;
}

/* Returns a site's group key (county or region), or a placeholder. */
static const char *
group_of(const struct rsite *st, const char *by)
{
	const char *g = strcmp(by, "county") == 0 ? st->county : st->region;

	return g != NULL && g[0] != '\0' ? g : NULL;
}

static json_t *
activity_json(const struct rep *rp, struct rsite **v, size_t n,
    const char *by)
{
	json_t *o = json_object(), *rows = json_array(), *tm = json_array();
	json_t *sr;
	struct amonth *all = xcalloc((size_t)rp->nmonths, sizeof(*all));
	struct amonth tot;
	char b[16];
	size_t i, j, k;
	int mi;

	json_object_set_new(o, "by", json_string(by));
	if (strcmp(by, "site") == 0)
		for (i = 0; i < n; i++)
			json_array_append_new(rows, activity_row(rp,
			    row_start(v[i]), &v[i], 1, all));
	else {
		/* Groups in order of name; sites without one last. */
		struct rsite **g = xcalloc(n + 1, sizeof(*g));
		char **names = xcalloc(n + 1, sizeof(*names));
		size_t ng = 0;

		for (i = 0; i < n; i++) {
			const char *gi = group_of(v[i], by);

			for (j = 0; j < ng; j++)
				if ((gi == NULL && names[j] == NULL) ||
				    (gi != NULL && names[j] != NULL &&
				    strcmp(gi, names[j]) == 0))
					break;
			if (j == ng)
				names[ng++] = gi != NULL ? xstrdup(gi) : NULL;
		}
		for (j = 0; j < ng; j++)
			for (k = j + 1; k < ng; k++)
				if (names[j] == NULL || (names[k] != NULL &&
				    strcasecmp(names[k], names[j]) < 0)) {
					char *t = names[j];

					names[j] = names[k];
					names[k] = t;
				}
		for (j = 0; j < ng; j++) {
			json_t *head, *members = json_array();
			size_t m = 0;
			char label[128];

			for (i = 0; i < n; i++) {
				const char *gi = group_of(v[i], by);

				if ((gi == NULL && names[j] == NULL) ||
				    (gi != NULL && names[j] != NULL &&
				    strcmp(gi, names[j]) == 0)) {
					g[m++] = v[i];
					json_array_append_new(members,
					    json_string(v[i]->name ?
					    v[i]->name : ""));
				}
			}
			snprintf(label, sizeof(label), "%s", names[j] != NULL ?
			    names[j] : strcmp(by, "county") == 0 ?
			    "(no county)" : "(no region)");
			head = json_pack("{s:n, s:s, s:o}", "id", "name", label,
			    "sites", members);
			json_array_append_new(rows, activity_row(rp, head, g, m,
			    all));
			free(names[j]);
		}
		free(g);
		free(names);
		/* Each site's own row too, for its page. */
		sr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(sr, activity_row(rp,
			    row_start(v[i]), &v[i], 1, NULL));
		json_object_set_new(o, "site_rows", sr);
	}
	memset(&tot, 0, sizeof(tot));
	for (mi = 0; mi < rp->nmonths; mi++) {
		month_label(rp, mi, b, sizeof(b));
		json_array_append_new(tm, amonth_json(b, &all[mi]));
		amonth_add(&tot, &all[mi]);
	}
	json_object_set_new(o, "rows", rows);
	json_object_set_new(o, "total", json_pack("{s:s, s:o, s:o}", "name",
	    "All sites", "months", tm, "total", amonth_json("total", &tot)));
	free(all);
	return o;
}

static json_t *
factors_json(const struct rep *rp, struct rsite **v, size_t n)
{
	json_t *o = json_object(), *rows = json_array(), *names = json_array();
	uint64_t tot[NFACTORS] = { 0 }, cafes = 0;
	size_t i;
	int j, mi;

	for (j = 0; j < NFACTORS; j++)
		json_array_append_new(names,
		    json_string(rp->f_factors->tokens[j]));
	json_object_set_new(o, "factors", names);
	for (i = 0; i < n; i++) {
		json_t *r = row_start(v[i]), *c = json_object();
		json_t *miss = json_array();
		uint64_t nc = 0;

		for (mi = 0; mi < rp->nmonths; mi++)
			nc += v[i]->mon[mi].cafes;
		cafes += nc;
		for (j = 0; j < NFACTORS; j++) {
			json_object_set_new(c, rp->f_factors->tokens[j],
			    json_integer((json_int_t)v[i]->fac[j]));
			tot[j] += v[i]->fac[j];
			if (v[i]->fac[j] == 0)
				json_array_append_new(miss, json_string(
				    rp->f_factors->tokens[j]));
		}
		json_object_set_new(r, "cafes", json_integer((json_int_t)nc));
		json_object_set_new(r, "counts", c);
		json_object_set_new(r, "not_covered", miss);
		json_array_append_new(rows, r);
	}
	json_object_set_new(o, "rows", rows);
	{
		json_t *c = json_object(), *miss = json_array();

		for (j = 0; j < NFACTORS; j++) {
			json_object_set_new(c, rp->f_factors->tokens[j],
			    json_integer((json_int_t)tot[j]));
			if (tot[j] == 0)
				json_array_append_new(miss, json_string(
				    rp->f_factors->tokens[j]));
		}
		json_object_set_new(o, "total", json_pack("{s:s, s:I, s:o, "
		    "s:o}", "name", "All sites", "cafes", (json_int_t)cafes,
		    "counts", c, "not_covered", miss));
	}
	return o;
}

/* One fidelity row from summed counts. */
static json_t *
fidelity_row(const struct rep *rp, json_t *r, uint64_t cafes, uint64_t all8,
    const uint64_t *missed, uint64_t over_five, uint64_t no_elements)
{
	json_t *m = json_object(), *most = json_array();
	int j, k, used[NELEMENTS] = { 0 };

	json_object_set_new(r, "cafes", json_integer((json_int_t)cafes));
	json_object_set_new(r, "all_eight", json_integer((json_int_t)all8));
	json_object_set_new(r, "all_eight_pct", pct_json(all8, cafes));
	for (j = 0; j < NELEMENTS; j++)
		json_object_set_new(m, rp->f_elements->tokens[j],
		    json_integer((json_int_t)missed[j]));
	json_object_set_new(r, "missed", m);
	/* The three elements missed most often (ties in checklist order). */
	for (k = 0; k < 3; k++) {
		int best = -1;

		for (j = 0; j < NELEMENTS; j++)
			if (!used[j] && missed[j] > 0 && (best < 0 ||
			    missed[j] > missed[best]))
				best = j;
		if (best < 0)
			break;
		used[best] = 1;
		json_array_append_new(most, json_pack("{s:s, s:I}", "element",
		    rp->f_elements->tokens[best], "cafes",
		    (json_int_t)missed[best]));
	}
	json_object_set_new(r, "most_missed", most);
	json_object_set_new(r, "over_five", json_integer((json_int_t)over_five));
	json_object_set_new(r, "no_checklist",
	    json_integer((json_int_t)no_elements));
	return r;
}

static json_t *
fidelity_json(const struct rep *rp, struct rsite **v, size_t n)
{
	json_t *o = json_object(), *rows = json_array(), *names = json_array();
	uint64_t cafes = 0, all8 = 0, missed[NELEMENTS] = { 0 }, over = 0;
	uint64_t noel = 0;
	size_t i;
	int j, mi;

	for (j = 0; j < NELEMENTS; j++)
		json_array_append_new(names,
		    json_string(rp->f_elements->tokens[j]));
	json_object_set_new(o, "elements", names);
	for (i = 0; i < n; i++) {
		uint64_t nc = 0;

		for (mi = 0; mi < rp->nmonths; mi++)
			nc += v[i]->mon[mi].cafes;
		json_array_append_new(rows, fidelity_row(rp, row_start(v[i]),
		    nc, v[i]->all8, v[i]->missed, v[i]->over_five,
		    v[i]->no_elements));
		cafes += nc;
		all8 += v[i]->all8;
		over += v[i]->over_five;
		noel += v[i]->no_elements;
		for (j = 0; j < NELEMENTS; j++)
			missed[j] += v[i]->missed[j];
	}
	json_object_set_new(o, "rows", rows);
	json_object_set_new(o, "total", fidelity_row(rp, json_pack("{s:s}",
	    "name", "All sites"), cafes, all8, missed, over, noel));
	return o;
}

/* One feedback row from summed counts. */
static json_t *
feedback_row(json_t *r, const struct rsite *sum)
{
	json_t *q = json_object(), *p = json_object();
	int j;

	json_object_set_new(r, "forms", json_integer((json_int_t)sum->forms));
	json_object_set_new(r, "responses",
	    json_integer((json_int_t)sum->responses));
	for (j = 0; j < NQUESTIONS; j++)
		json_object_set_new(q, questions[j], json_pack("{s:I, s:I, s:o}",
		    "yes", (json_int_t)sum->q[j], "of",
		    (json_int_t)sum->qresp[j], "pct", pct_json(sum->q[j],
		    sum->qresp[j])));
	json_object_set_new(r, "questions", q);
	for (j = 0; j < NPFS; j++)
		json_object_set_new(p, pfs_fields[j] + 4, json_pack("{s:o, "
		    "s:I, s:I}", "mean", mean_json(sum->pfs_sum[j],
		    sum->pfs_resp[j]), "responses",
		    (json_int_t)sum->pfs_resp[j], "forms",
		    (json_int_t)sum->pfs_forms[j]));
	json_object_set_new(r, "pfs", p);
	return r;
}

static json_t *
feedback_json(struct rsite **v, size_t n)
{
	json_t *o = json_object(), *rows = json_array(), *names;
	struct rsite sum;
	size_t i;
	int j;

	names = json_array();
	for (j = 0; j < NQUESTIONS; j++)
		json_array_append_new(names, json_string(questions[j]));
	json_object_set_new(o, "questions", names);
	names = json_array();
	for (j = 0; j < NPFS; j++)
		json_array_append_new(names, json_string(pfs_fields[j] + 4));
	json_object_set_new(o, "pfs_subscales", names);
	memset(&sum, 0, sizeof(sum));
	for (i = 0; i < n; i++) {
		json_array_append_new(rows, feedback_row(row_start(v[i]), v[i]));
		sum.forms += v[i]->forms;
		sum.responses += v[i]->responses;
		for (j = 0; j < NQUESTIONS; j++) {
			sum.q[j] += v[i]->q[j];
			sum.qresp[j] += v[i]->qresp[j];
		}
		for (j = 0; j < NPFS; j++) {
			sum.pfs_sum[j] += v[i]->pfs_sum[j];
			sum.pfs_resp[j] += v[i]->pfs_resp[j];
			sum.pfs_forms[j] += v[i]->pfs_forms[j];
		}
	}
	json_object_set_new(o, "rows", rows);
	json_object_set_new(o, "total", feedback_row(json_pack("{s:s}", "name",
	    "All sites"), &sum));
	return o;
}

/* One trainings row from summed counts. */
static json_t *
trainings_row(const struct rep *rp, json_t *r, const uint64_t *tn,
    const uint64_t *tp, uint64_t hosts, uint64_t trained)
{
	json_t *k = json_object();
	uint64_t n = 0, p = 0;
	int j;

	for (j = 0; j < NKINDS; j++) {
		json_object_set_new(k, rp->f_kind->tokens[j], json_pack("{s:I, "
		    "s:I}", "trainings", (json_int_t)tn[j], "participants",
		    (json_int_t)tp[j]));
		n += tn[j];
		p += tp[j];
	}
	json_object_set_new(r, "kinds", k);
	json_object_set_new(r, "trainings", json_integer((json_int_t)n));
	json_object_set_new(r, "participants", json_integer((json_int_t)p));
	json_object_set_new(r, "hosts", json_integer((json_int_t)hosts));
	json_object_set_new(r, "hosts_trained", json_integer((json_int_t)trained));
	return r;
}

static json_t *
trainings_json(const struct rep *rp, struct rsite **v, size_t n)
{
	json_t *o = json_object(), *rows = json_array(), *names = json_array();
	uint64_t tn[NKINDS] = { 0 }, tp[NKINDS] = { 0 }, h = 0, ht = 0;
	size_t i;
	int j;

	for (j = 0; j < NKINDS; j++)
		json_array_append_new(names, json_string(rp->f_kind->tokens[j]));
	json_object_set_new(o, "kinds", names);
	for (i = 0; i < n; i++) {
		json_array_append_new(rows, trainings_row(rp, row_start(v[i]),
		    v[i]->tn, v[i]->tp, v[i]->hosts, v[i]->hosts_trained));
		for (j = 0; j < NKINDS; j++) {
			tn[j] += v[i]->tn[j];
			tp[j] += v[i]->tp[j];
		}
		h += v[i]->hosts;
		ht += v[i]->hosts_trained;
	}
	json_object_set_new(o, "rows", rows);
	json_object_set_new(o, "total", trainings_row(rp, json_pack("{s:s}",
	    "name", "All sites"), tn, tp, h, ht));
	return o;
}

static json_t *
steps_json(struct rsite **v, size_t n)
{
	json_t *o = json_object(), *rows = json_array(), *names = json_array();
	size_t i;
	int j;

	for (j = 0; j < STEPS_N; j++)
		json_array_append_new(names, json_pack("{s:I, s:s}", "step",
		    (json_int_t)(j + 1), "name", steps_names[j]));
	json_object_set_new(o, "steps", names);
	for (i = 0; i < n; i++) {
		json_t *r = row_start(v[i]), *s = json_array(), *fl = json_array();
		unsigned reached = steps_judge(&v[i]->steps, fl);

		for (j = 0; j < STEPS_N; j++) {
			const struct steps_rec *c = &v[i]->steps.cur[j];

			json_array_append_new(s, json_pack("{s:I, s:s, s:o, "
			    "s:I}", "step", (json_int_t)(j + 1), "status",
			    steps_status_name(c->set ? c->status : STEP_NONE),
			    "date", ymd_json(c->set ? c->date : 0), "records",
			    (json_int_t)v[i]->steps.nrec[j]));
		}
		json_object_set_new(r, "steps", s);
		json_object_set_new(r, "reached", json_integer(reached));
		json_object_set_new(r, "reached_name", reached > 0 ?
		    json_string(steps_names[reached - 1]) : json_null());
		json_object_set_new(r, "flags", fl);
		json_array_append_new(rows, r);
	}
	json_object_set_new(o, "rows", rows);
	return o;
}

/* ---- attention --------------------------------------------------------- */

static void local_iso(time_t now, char *b, size_t len, char *zone,
    size_t zlen);

struct members_acc {
	struct rep *rp;
	json_t *rows;
	uint64_t now_ms;
};

static int
last_commit_one(const struct store_commit *sc, void *arg)
{
	*(uint64_t *)arg = sc->recv_ms;
	return 1;
}

/* Writes ms as local ISO 8601 into o[name], or null when 0. */
static void
when_json(json_t *o, const char *name, uint64_t ms)
{
	char t[48], zone[16];

	if (ms == 0) {
		json_object_set_new(o, name, json_null());
		return;
	}
	local_iso((time_t)(ms / 1000), t, sizeof(t), zone, sizeof(zone));
	json_object_set_new(o, name, json_string(t));
}

/*
 * A member whose log this node reads: when it last completed a sync with
 * this node (cafed keeps that for its own peers) and when its latest
 * commit reached this node; it is quiet when the later of the two is
 * that many days old, or neither happened.
 */
static int
member_one(const struct store_member *m, void *arg)
{
	struct members_acc *ma = arg;
	struct rep *rp = ma->rp;
	const struct store_info *in = store_info(rp->s);
	uint64_t seq, recv = 0, synced = 0, sseq, seen;
	long days;
	json_t *r;

	/* Nor the hub's own logs for its sites (hub keys that speak for a
	 * site): they are this hub's, not members that sync. */
	if (m->revoked || memcmp(m->key, in->node, PROTO_KEY_LEN) == 0 ||
	    (m->role == STORE_ROLE_HUB && m->has_site))
		return 0;
	if (rp->self_known && !store_scope_allows(&rp->self, in->network,
	    m->key, m))
		return 0;
	seq = store_head_seq(rp->s, m->key);
	if (seq > 0)
		store_log(rp->s, m->key, seq, last_commit_one, &recv);
	(void)store_lastseen_get(rp->s, m->key, &synced, &sseq);
	seen = synced > recv ? synced : recv;
	/* A time "after now" (a clock set back) is 0 days old. */
	days = seen == 0 ? -1 : seen >= ma->now_ms ? 0 :
	    (long)((ma->now_ms - seen) / 86400000ULL);
	if (seen != 0 && days < rp->days)
		return 0;
	r = json_pack("{s:o, s:s, s:s}", "key", hex_json(m->key,
	    PROTO_KEY_LEN), "name", m->name, "role", store_role_name(m->role));
	if (m->has_site) {
		uint32_t i = id_get(&rp->site_ix, m->site);

		json_object_set_new(r, "site", i != UINT32_MAX &&
		    rp->sites[i].name != NULL ? json_string(rp->sites[i].name) :
		    json_null());
	} else
		json_object_set_new(r, "site", json_null());
	when_json(r, "last_sync", synced);
	when_json(r, "last_commit", recv);
	json_object_set_new(r, "days", seen != 0 ? json_integer(days) :
	    json_null());
	json_array_append_new(ma->rows, r);
	return 0;
}

static int
action_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int ox = json_is_true(json_object_get(x, "overdue"));
	int oy = json_is_true(json_object_get(y, "overdue"));
	const char *dx = rep_str(x, "due"), *dy = rep_str(y, "due");

	if (ox != oy)
		return oy - ox;
	/* Earliest due first; no due date last. */
	if ((dx[0] == '\0') != (dy[0] == '\0'))
		return dx[0] == '\0' ? 1 : -1;
	if (strcmp(dx, dy) != 0)
		return strcmp(dx, dy);
	return strcmp(rep_str(x, "title"), rep_str(y, "title"));
}

static json_t *
attention_json(struct rep *rp, struct rsite **v, size_t n)
{
	json_t *o = json_object(), *quiet = json_array(), *acts = json_array();
	json_t **av;
	struct members_acc ma = { rp, json_array(), store_now_ms() };
	size_t i, na = 0;
	long today = ymd_days(rp->today);

	json_object_set_new(o, "days", json_integer(rp->days));
	for (i = 0; i < n; i++) {
		long d = v[i]->last_cafe ? today - ymd_days(v[i]->last_cafe) :
		    -1;

		if (v[i]->last_cafe != 0 && d < rp->days)
			continue;
		json_array_append_new(quiet, json_pack("{s:o, s:s, s:o, s:o}",
		    "id", hex_json(v[i]->id, PROTO_ID_LEN), "name",
		    v[i]->name ? v[i]->name : "", "last_cafe",
		    ymd_json(v[i]->last_cafe), "days", d >= 0 ?
		    json_integer(d) : json_null()));
	}
	json_object_set_new(o, "quiet", quiet);
	store_members(rp->s, member_one, &ma);
	json_object_set_new(o, "members", json_pack("{s:b, s:s, s:o}",
	    "last_sync_stored", 1, "note", "listed are the members not heard "
	    "from that many days or more: neither a completed sync with this "
	    "node (kept by its cafed, for its own peers) nor a commit of "
	    "theirs reaching it since, or never", "rows", ma.rows));
	av = xcalloc(rp->nact + 1, sizeof(*av));
	for (i = 0; i < rp->nact; i++) {
		const struct rfollow *f = &rp->act[i];
		uint32_t ymd;
		struct rsite *st = follow_site(rp, f, &ymd);
		int overdue = f->due != 0 && f->due < rp->today;

		if (st == NULL || !st->has_record || !st->visible ||
		    !st->selected)
			continue;
		av[na++] = json_pack("{s:o, s:s, s:o, s:s, s:s, s:o, s:b, "
		    "s:o, s:o}", "id", hex_json(f->id, PROTO_ID_LEN), "site",
		    st->name ? st->name : "", "site_id", hex_json(st->id,
		    PROTO_ID_LEN), "title", f->title ? f->title : "",
		    "status", f->status, "due", ymd_json(f->due), "overdue",
		    overdue, "days_overdue", overdue ? json_integer(today -
		    ymd_days(f->due)) : json_null(), "cafe_date",
		    ymd_json(ymd));
	}
	qsort(av, na, sizeof(*av), action_cmp);
	for (i = 0; i < na; i++)
		json_array_append_new(acts, av[i]);
	free(av);
	json_object_set_new(o, "actions", acts);
	return o;
}

/* ---- period and options ------------------------------------------------ */

static int
site_cmp(const void *a, const void *b)
{
	const struct rsite *x = *(struct rsite *const *)a;
	const struct rsite *y = *(struct rsite *const *)b;
	int c = strcasecmp(x->name ? x->name : "", y->name ? y->name : "");

	return c != 0 ? c : memcmp(x->id, y->id, PROTO_ID_LEN);
}

/* Parses a positive number option into *n within [lo, hi]. */
static int
num_opt(struct cli *c, const char *opt, const char *text, int lo, int hi,
    int *n)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi)
		return cli_usage_error(c, "option %s: '%s' is not a number "
		    "from %d to %d", opt, text, lo, hi);
	*n = (int)v;
	return 0;
}

/* Formats the local time of now as ISO 8601 with its offset. */
static void
local_iso(time_t now, char *b, size_t len, char *zone, size_t zlen)
{
	struct tm tm;
	char off[8];

	localtime_r(&now, &tm);
	strftime(b, len, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(off, sizeof(off), "%z", &tm);
	if (strlen(off) == 5)
		snprintf(b + strlen(b), len - strlen(b), "%.3s:%s", off,
		    off + 3);
	strftime(zone, zlen, "%Z", &tm);
}

/* Finds a site by name (any case) or id; 0, or EXIT_USAGE printed. */
static int
site_arg(struct cli *c, struct rep *rp, const char *text,
    uint8_t id[PROTO_ID_LEN])
{
	size_t i, found = 0;

	for (i = 0; i < rp->nsites; i++)
		if (rp->sites[i].has_record && rp->sites[i].name != NULL &&
		    strcasecmp(rp->sites[i].name, text) == 0) {
			if (found++ == 0)
				memcpy(id, rp->sites[i].id, PROTO_ID_LEN);
		}
	if (found == 1)
		return 0;
	if (found > 1)
		return cli_usage_error(c, "option --site: %zu sites are named "
		    "'%s'; give the id", found, text);
	return cli_resolve(c, text, rp->t_site, id);
}

/* Writes the report in fmt to f. */
static int
emit(struct cli *c, json_t *rep, const char *fmt, const char *table,
    int per_site, const char *paper, FILE *f)
{
	if (strcmp(fmt, "json") == 0) {
		json_dumpf(rep, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		    JSON_REAL_PRECISION(6));
		fputc('\n', f);
	} else if (strcmp(fmt, "text") == 0)
		report_text(rep, f);
	else if (strcmp(fmt, "html") == 0)
		report_html(rep, per_site, paper, f);
	else if (report_csv(rep, table, f) != 0)
		return -1;
	return 0;
}

/* Writes every table as NAME.csv into the folder dir. */
static int
csv_folder(struct cli *c, json_t *rep, const char *dir)
{
	size_t i;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST)
		return cli_usage_error(c, "%s: %s", dir, strerror(errno));
	for (i = 0; report_tables[i] != NULL; i++) {
		char *p = xasprintf("%s/%s.csv", dir, report_tables[i]);
		FILE *f = fopen(p, "w");

		if (f == NULL) {
			cli_usage_error(c, "%s: %s", p, strerror(errno));
			free(p);
			return EXIT_USAGE;
		}
		report_csv(rep, report_tables[i], f);
		if (fclose(f) != 0) {
			cli_usage_error(c, "%s: cannot write", p);
			free(p);
			return EXIT_USAGE;
		}
		free(p);
	}
	return 0;
}

/*
 * cafe report [--since D] [--until D | --quarter YYYYQN | --months N]
 * [--site ID|NAME ...] [--by county|region] [--days N]
 * [--format text|csv|json|html] [--table NAME] [--per-site]
 * [--paper a4|letter] [-o FILE]
 */
int
cmd_report(struct cli *c)
{
	struct rep rp;
	struct store_query q;
	const struct store_info *in = store_info(c->store);
	const char *since_s, *until_s, *quarter, *months_s, *by, *fmt, *table,
	    *out, *days_s, *paper, *sa;
	const char **site_args = NULL;
	size_t nsite_args = 0, i, nv = 0, nh = 0;
	struct rsite **v = NULL;
	json_t *rep = NULL, *hidden, *selected, *node;
	char gen[48], zone[16];
	time_t now = time(NULL);
	struct tm tm;
	int bad = 0, per_site, rc = EXIT_USAGE, months = 12;
	FILE *f = stdout;
	size_t k;

	memset(&rp, 0, sizeof(rp));
	rp.s = c->store;
	rp.days = DEFAULT_DAYS;
	since_s = cli_take(c, "--since", &bad);
	until_s = cli_take(c, "--until", &bad);
	quarter = cli_take(c, "--quarter", &bad);
	months_s = cli_take(c, "--months", &bad);
	by = cli_take(c, "--by", &bad);
	fmt = cli_take(c, "--format", &bad);
	table = cli_take(c, "--table", &bad);
	out = cli_take(c, "-o", &bad);
	if (out == NULL)
		out = cli_take(c, "--output", &bad);
	days_s = cli_take(c, "--days", &bad);
	paper = cli_take(c, "--paper", &bad);
	per_site = cli_flag(c, "--per-site");
	while ((sa = cli_take(c, "--site", &bad)) != NULL) {
		site_args = xreallocarray(site_args, nsite_args + 1,
		    sizeof(*site_args));
		site_args[nsite_args++] = sa;
	}
	if (bad || cli_rest(c, 0, 0) != 0)
		goto out;
	if (fmt == NULL)
		fmt = "text";
	if (strcmp(fmt, "text") != 0 && strcmp(fmt, "csv") != 0 &&
	    strcmp(fmt, "json") != 0 && strcmp(fmt, "html") != 0) {
		cli_usage_error(c, "option --format: '%s' is not one of: text "
		    "csv json html", fmt);
		goto out;
	}
	if (by == NULL)
		by = "site";
	else if (strcmp(by, "county") != 0 && strcmp(by, "region") != 0) {
		cli_usage_error(c, "option --by: '%s' is not one of: county "
		    "region", by);
		goto out;
	}
	if ((per_site || paper != NULL) && strcmp(fmt, "html") != 0) {
		cli_usage_error(c, "option %s: goes with --format html",
		    per_site ? "--per-site" : "--paper");
		goto out;
	}
	if (paper == NULL || strcasecmp(paper, "a4") == 0)
		paper = "A4";
	else if (strcasecmp(paper, "letter") == 0)
		paper = "Letter";
	else {
		cli_usage_error(c, "option --paper: '%s' is not a4 or letter",
		    paper);
		goto out;
	}
	if (table != NULL) {
		for (k = 0; report_tables[k] != NULL; k++)
			if (strcmp(report_tables[k], table) == 0)
				break;
		if (report_tables[k] == NULL) {
			char list[256] = "";

			for (k = 0; report_tables[k] != NULL; k++) {
				strcat(list, " ");
				strcat(list, report_tables[k]);
			}
			cli_usage_error(c, "option --table: no table '%s' "
			    "(tables:%s)", table, list);
			goto out;
		}
		if (strcmp(fmt, "csv") != 0) {
			cli_usage_error(c, "option --table: goes with --format "
			    "csv");
			goto out;
		}
	}
	if (strcmp(fmt, "csv") == 0 && table == NULL && out == NULL) {
		cli_usage_error(c, "--format csv: name a table (--table NAME) "
		    "or a folder for all of them (-o DIR)");
		goto out;
	}
	if (days_s != NULL && num_opt(c, "--days", days_s, 1, 3650,
	    &rp.days) != 0)
		goto out;

	/* The period, in local dates. */
	localtime_r(&now, &tm);
	rp.today = (uint32_t)(tm.tm_year + 1900) * 10000 +
	    (uint32_t)(tm.tm_mon + 1) * 100 + (uint32_t)tm.tm_mday;
	if ((quarter != NULL) + (months_s != NULL) + (until_s != NULL) > 1 ||
	    (since_s != NULL && (quarter != NULL || months_s != NULL))) {
		cli_usage_error(c, "give one period: --since D [--until D], "
		    "--quarter YYYYQN or --months N");
		goto out;
	}
	if (quarter != NULL) {
		unsigned y, qn;
		char tail;

		if (sscanf(quarter, "%4u%*[Qq]%1u%c", &y, &qn, &tail) != 2 ||
		    strlen(quarter) != 6 || y < 1900 || qn < 1 || qn > 4) {
			cli_usage_error(c, "option --quarter: '%s' is not a "
			    "quarter like 2026Q4", quarter);
			goto out;
		}
		rp.since = y * 10000 + (3 * qn - 2) * 100 + 1;
		rp.until = y * 10000 + 3 * qn * 100 + month_days(y, 3 * qn);
	} else if (since_s != NULL || until_s != NULL) {
		if (since_s != NULL && cli_date(c, "--since", since_s,
		    &rp.since) != 0)
			goto out;
		if (until_s != NULL && cli_date(c, "--until", until_s,
		    &rp.until) != 0)
			goto out;
		if (until_s == NULL)
			rp.until = rp.today;
		if (since_s == NULL) {
			/* --until alone: the twelve months ending with it. */
			int mo = (int)(rp.until / 10000) * 12 +
			    (int)(rp.until / 100 % 100) - 1 - 11;

			rp.since = (uint32_t)(mo / 12) * 10000 +
			    (uint32_t)(mo % 12 + 1) * 100 + 1;
		}
	} else {
		int mo;

		if (months_s != NULL && num_opt(c, "--months", months_s, 1,
		    MAX_MONTHS, &months) != 0)
			goto out;
		mo = (tm.tm_year + 1900) * 12 + tm.tm_mon - (months - 1);
		rp.since = (uint32_t)(mo / 12) * 10000 +
		    (uint32_t)(mo % 12 + 1) * 100 + 1;
		rp.until = (uint32_t)(tm.tm_year + 1900) * 10000 +
		    (uint32_t)(tm.tm_mon + 1) * 100 + month_days((unsigned)
		    (tm.tm_year + 1900), (unsigned)(tm.tm_mon + 1));
	}
	if (rp.since > rp.until) {
		cli_usage_error(c, "the period starts after it ends");
		goto out;
	}
	rp.first_month = (int)(rp.since / 10000) * 12 +
	    (int)(rp.since / 100 % 100) - 1;
	rp.nmonths = (int)(rp.until / 10000) * 12 +
	    (int)(rp.until / 100 % 100) - rp.first_month;
	if (rp.nmonths > MAX_MONTHS) {
		cli_usage_error(c, "the period is longer than %d months",
		    MAX_MONTHS);
		goto out;
	}

	rp.t_site = sch_type_find("site", 4);
	rp.t_cafe = sch_type_find("cafe", 4);
	rp.t_feedback = sch_type_find("feedback", 8);
	rp.t_action = sch_type_find("action", 6);
	rp.t_training = sch_type_find("training", 8);
	rp.t_milestone = sch_type_find("milestone", 9);
	rp.t_person = sch_type_find("person", 6);
	rp.f_factors = sch_field_find(rp.t_cafe, "factors", 7);
	rp.f_elements = sch_field_find(rp.t_cafe, "elements", 8);
	rp.f_kind = sch_field_find(rp.t_training, "kind", 4);
	rp.self_known = store_member_get(c->store, in->node, &rp.self) == 0;

	/* The one walk over the node's records. */
	memset(&q, 0, sizeof(q));
	store_list(c->store, &q, walk_one, &rp);
	fold_feedback(&rp);

	for (i = 0; i < rp.nsites; i++) {
		struct rsite *st = &rp.sites[i];

		/* A node not (yet) enrolled reads what it holds. */
		st->visible = !rp.self_known ||
		    store_member_reads_site(&rp.self, st->id);
		st->selected = nsite_args == 0;
	}
	for (i = 0; i < nsite_args; i++) {
		uint8_t id[PROTO_ID_LEN];

		if (site_arg(c, &rp, site_args[i], id) != 0)
			goto out;
		site_at(&rp, id)->selected = 1;
	}
	v = xcalloc(rp.nsites + 1, sizeof(*v));
	hidden = json_array();
	selected = json_array();
	for (i = 0; i < rp.nsites; i++) {
		struct rsite *st = &rp.sites[i];

		if (!st->has_record || !st->selected)
			continue;
		if (st->visible)
			v[nv++] = st;
		else {
			json_array_append_new(hidden, json_pack("{s:o, s:s}",
			    "id", hex_json(st->id, PROTO_ID_LEN), "name",
			    st->name ? st->name : ""));
			nh++;
		}
	}
	qsort(v, nv, sizeof(*v), site_cmp);
	for (i = 0; i < nv; i++)
		json_array_append_new(selected, json_pack("{s:o, s:s, s:s*, "
		    "s:s*}", "id", hex_json(v[i]->id, PROTO_ID_LEN), "name",
		    v[i]->name ? v[i]->name : "", "county", v[i]->county,
		    "region", v[i]->region));
	{
		/* Hidden sites in order of name too. */
		json_t **hv = xcalloc(nh + 1, sizeof(*hv));
		size_t a, b;

		for (a = 0; a < nh; a++)
			hv[a] = json_incref(json_array_get(hidden, a));
		for (a = 0; a < nh; a++)
			for (b = a + 1; b < nh; b++)
				if (strcasecmp(rep_str(hv[b], "name"),
				    rep_str(hv[a], "name")) < 0) {
					json_t *t = hv[a];

					hv[a] = hv[b];
					hv[b] = t;
				}
		json_array_clear(hidden);
		for (a = 0; a < nh; a++)
			json_array_append_new(hidden, hv[a]);
		free(hv);
	}

	local_iso(now, gen, sizeof(gen), zone, sizeof(zone));
	node = json_pack("{s:o, s:s, s:s}", "id", hex_json(in->node,
	    PROTO_KEY_LEN), "name", in->name, "role", in->role);
	rep = json_object();
	json_object_set_new(rep, "network", hex_json(in->network,
	    PROTO_KEY_LEN));
	json_object_set_new(rep, "node", node);
	json_object_set_new(rep, "generated", json_string(gen));
	json_object_set_new(rep, "timezone", json_string(zone));
	json_object_set_new(rep, "today", ymd_json(rp.today));
	{
		json_t *ml = json_array();
		char b[16];
		int mi;

		for (mi = 0; mi < rp.nmonths; mi++) {
			month_label(&rp, mi, b, sizeof(b));
			json_array_append_new(ml, json_string(b));
		}
		json_object_set_new(rep, "period", json_pack("{s:o, s:o, s:o}",
		    "since", ymd_json(rp.since), "until", ymd_json(rp.until),
		    "months", ml));
	}
	json_object_set_new(rep, "sites", selected);
	json_object_set_new(rep, "not_visible", hidden);
	json_object_set_new(rep, "activity", activity_json(&rp, v, nv, by));
	json_object_set_new(rep, "factors", factors_json(&rp, v, nv));
	json_object_set_new(rep, "fidelity", fidelity_json(&rp, v, nv));
	json_object_set_new(rep, "feedback", feedback_json(v, nv));
	json_object_set_new(rep, "trainings", trainings_json(&rp, v, nv));
	json_object_set_new(rep, "steps", steps_json(v, nv));
	json_object_set_new(rep, "attention", attention_json(&rp, v, nv));

	if (strcmp(fmt, "csv") == 0 && table == NULL) {
		rc = csv_folder(c, rep, out);
		for (k = 0; report_tables[k] != NULL; k++)
			;
		if (rc == 0)
			printf("wrote %zu tables to %s%s\n", k, out,
			    out[0] != '\0' && out[strlen(out) - 1] == '/' ? "" :
			    "/");
		goto out;
	}
	if (out != NULL && strcmp(out, "-") != 0 &&
	    (f = fopen(out, "w")) == NULL) {
		cli_usage_error(c, "%s: %s", out, strerror(errno));
		f = stdout;
		goto out;
	}
	emit(c, rep, fmt, table, per_site, paper, f);
	if (f != stdout && fclose(f) != 0) {
		f = stdout;
		cli_usage_error(c, "%s: cannot write", out);
		goto out;
	}
	f = stdout;
	rc = EXIT_OK;
out:
	if (f != stdout)
		fclose(f);
	json_decref(rep);
	free(v);
	free(site_args);
	for (i = 0; i < rp.nsites; i++) {
		free(rp.sites[i].name);
		free(rp.sites[i].county);
		free(rp.sites[i].region);
		free(rp.sites[i].mon);
	}
	free(rp.sites);
	for (i = 0; i < rp.nact; i++) {
		free(rp.act[i].title);
		free(rp.act[i].status);
	}
	free(rp.act);
	free(rp.fb);
	free(rp.cafes);
	id_free(&rp.site_ix);
	id_free(&rp.cafe_ix);
	if (rp.self_known)
		store_member_free(&rp.self);
	return rc;
}
