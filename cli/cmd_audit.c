/*
 * cmd_audit.c: cafe audit, what a consultant runs on an offline replica.
 *
 * Three parts.  Integrity: every stored commit re-verified, the heads, the
 * history and the digest checked, the records re-derived by replaying the
 * log into a scratch store (store_audit()), and every fork kept as evidence
 * shown with the commit it competes with (store_forks()); any of these is
 * a fault and exits 1.  Clocks: commits whose clock is far from when this
 * node stored them, as warnings.  Sites: for each site (or the one named
 * by --site), its last change, its cafés per month over the last twelve
 * months, attendance, the protective factors it covered, the cafés that
 * miss fidelity elements, its open actions and the implementation step it
 * has reached, by the rule cafe report uses too (report_steps.c).  The
 * text and the --json output carry the same facts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "report.h"

/* Clock warnings: a commit's clock this far before or after its storing. */
#define BACKDATED_MS (30ULL * 86400 * 1000)
#define FUTURE_MS (1ULL * 86400 * 1000)

/* Months in the activity window, ending with the current one. */
#define WINDOW_MONTHS 12

/* Faults, gaps or actions listed in full in text output before "...". */
#define TEXT_MAX_LIST 20

static const char *const kind_names[] = { "commit", "head", "history",
	"digest", "record", "replay", "derived", "received", "damaged" };

/* Returns a JSON string of hex for len bytes, or null for NULL. */
static json_t *
hex_json(const uint8_t *p, size_t len)
{
	char hex[2 * PROTO_HASH_LEN + 1];

	if (p == NULL)
		return json_null();
	proto_hex(hex, p, len);
	return json_string(hex);
}

/* Returns an ISO time for an hlc or milliseconds, as JSON. */
static json_t *
time_json(uint64_t v, int is_hlc)
{
	char t[40];

	cli_time(v, is_hlc, t, sizeof(t));
	return json_string(t);
}

/* ---- integrity -------------------------------------------------------- */

static void
audit_fault(const struct store_audit_fault *f, void *arg)
{
	json_t *o = json_object();

	json_object_set_new(o, "kind", json_string(kind_names[f->kind]));
	json_object_set_new(o, "origin", hex_json(f->origin, PROTO_KEY_LEN));
	json_object_set_new(o, "seq", f->origin != NULL ?
	    json_integer((json_int_t)f->seq) : json_null());
	json_object_set_new(o, "id", hex_json(f->id, PROTO_ID_LEN));
	json_object_set_new(o, "why", json_string(f->why));
	json_array_append_new(arg, o);
}

static void print_integrity(json_t *in);

/*
 * A damaged store file: the rest of the audit would read through the
 * damage, so it stops at the integrity part, prints it, says "store
 * damaged: ..." and returns EXIT_CHECK.  Returns -1 when no fault says
 * the store is damaged.
 */
static int
audit_damaged(struct cli *c, json_t *faults, int json)
{
	const char *first = NULL;
	json_t *in, *out;
	size_t i;

	for (i = 0; i < json_array_size(faults) && first == NULL; i++) {
		json_t *f = json_array_get(faults, i);

		if (strcmp(json_string_value(json_object_get(f, "kind")),
		    "damaged") == 0)
			first = json_string_value(json_object_get(f, "why"));
	}
	if (first == NULL)
		return -1;
	in = json_pack("{s:b, s:b, s:O, s:s, s:I, s:I, s:I, s:I, s:I, "
	    "s:[]}", "ok", 0, "damaged", 1, "faults", faults, "replay_error",
	    "the store file is damaged", "commits", (json_int_t)0, "origins",
	    (json_int_t)0, "ops", (json_int_t)0, "history", (json_int_t)0,
	    "records", (json_int_t)0, "forks");
	out = json_pack("{s:o, s:o}", "node", hex_json(store_info(c->store)->
	    node, PROTO_KEY_LEN), "integrity", in);
	if (json)
		cli_print_json(json_incref(out));
	else
		print_integrity(in);
	cli_msg(c->cmd, "%s", first);
	json_decref(out);
	json_decref(faults);
	return EXIT_CHECK;
}

/* Describes a commit: where it sits, its hash, clocks and ops. */
static json_t *
commit_json(const struct store_commit *sc)
{
	const struct proto_commit *c = sc->c;
	json_t *o = json_object(), *ops = json_array();
	char type[PROTO_MAX_NAME + 1];
	uint32_t i;

	json_object_set_new(o, "origin", hex_json(c->origin, PROTO_KEY_LEN));
	json_object_set_new(o, "seq", json_integer((json_int_t)c->seq));
	json_object_set_new(o, "hash", hex_json(sc->hash, PROTO_HASH_LEN));
	json_object_set_new(o, "prev", hex_json(c->prev, PROTO_HASH_LEN));
	json_object_set_new(o, "hlc", json_integer((json_int_t)c->hlc));
	json_object_set_new(o, "time", time_json(c->hlc, 1));
	json_object_set_new(o, "stored_at", sc->recv_ms != 0 ?
	    time_json(sc->recv_ms, 0) : json_null());
	for (i = 0; i < c->nops; i++) {
		const struct proto_op *op = &c->ops[i];

		snprintf(type, sizeof(type), "%.*s", (int)op->type_len,
		    op->type);
		json_array_append_new(ops, json_pack("{s:s, s:s, s:o}",
		    "kind", op->kind == PROTO_OP_DEL ? "del" : "put", "type",
		    type, "id", hex_json(op->id, PROTO_ID_LEN)));
	}
	json_object_set_new(o, "ops", ops);
	return o;
}

static int
audit_fork(const struct store_fork *f, void *arg)
{
	json_t *o = json_object();

	json_object_set_new(o, "origin", hex_json(f->origin, PROTO_KEY_LEN));
	json_object_set_new(o, "seq", json_integer((json_int_t)f->seq));
	json_object_set_new(o, "evidence_ok", json_boolean(f->evidence_ok));
	json_object_set_new(o, "why", f->why != NULL ? json_string(f->why) :
	    json_null());
	json_object_set_new(o, "stored", f->stored != NULL ?
	    commit_json(f->stored) : json_null());
	json_object_set_new(o, "fork", f->fork != NULL ?
	    commit_json(f->fork) : json_null());
	json_array_append_new(arg, o);
	return 0;
}

/* ---- clocks ----------------------------------------------------------- */

static int
audit_clock(const struct store_commit *sc, void *arg)
{
	uint64_t ms = HLC_MS(sc->c->hlc);
	const char *kind;
	double days;

	if (sc->recv_ms > ms && sc->recv_ms - ms > BACKDATED_MS)
		kind = "back-dated";
	else if (ms > sc->recv_ms && ms - sc->recv_ms > FUTURE_MS)
		kind = "future-dated";
	else
		return 0;
	days = ((double)ms - (double)sc->recv_ms) / 86400000.0;
	json_array_append_new(arg, json_pack("{s:s, s:o, s:I, s:o, s:o, "
	    "s:f}", "kind", kind, "origin", hex_json(sc->c->origin,
	    PROTO_KEY_LEN), "seq", (json_int_t)sc->c->seq, "time",
	    time_json(sc->c->hlc, 1), "stored_at", time_json(sc->recv_ms, 0),
	    "days", days));
	return 0;
}

/* ---- sites ------------------------------------------------------------ */

/* What is gathered about one site. */
struct site_acc {
	uint8_t id[PROTO_ID_LEN];
	char *name;
	uint64_t last_hlc;          /* the latest clock on its records */
	uint8_t last_origin[PROTO_KEY_LEN];
	uint8_t last_rec[PROTO_ID_LEN];
	unsigned cafes[WINDOW_MONTHS];
	uint64_t attendees, new_attendees;
	unsigned factors;           /* bits of the factor tokens covered */
	json_t *gaps;               /* cafés missing fidelity elements */
	json_t *actions;            /* open actions */
	struct steps steps;         /* its milestones (report_steps.c) */
};

struct sites {
	struct store *s;
	struct site_acc *v;
	size_t n;
	const uint8_t *only;        /* --site, or NULL */
	int first_month;            /* year * 12 + month - 1 of the window */
	uint32_t today;             /* YYYYMMDD, the local date */
	const struct sch_field *factors, *elements;
};

/* Finds the gathered state of a site, or NULL. */
static struct site_acc *
site_find(struct sites *ss, const uint8_t *id)
{
	size_t i;

	for (i = 0; i < ss->n; i++)
		if (memcmp(ss->v[i].id, id, PROTO_ID_LEN) == 0)
			return &ss->v[i];
	return NULL;
}

/* Returns the string value of a field as a malloc'd C string, or NULL. */
static char *
str_of(const struct store_rec *r, const char *name)
{
	const msgpack_object *v = store_rec_value(r, name);

	if (v == NULL || v->type != MSGPACK_OBJECT_STR)
		return NULL;
	return xasprintf("%.*s", (int)v->via.str.size, v->via.str.ptr);
}

/* Returns the site id a record belongs to (its own id for a site). */
static int
rec_site(struct store *s, const struct store_rec *r,
    uint8_t site[PROTO_ID_LEN])
{
	const msgpack_object *v;
	struct store_rec cafe;
	int rc = -1;

	if (strcmp(r->type->name, "site") == 0) {
		memcpy(site, r->id, PROTO_ID_LEN);
		return 0;
	}
	v = store_rec_value(r, "site");
	if (v != NULL && v->type == MSGPACK_OBJECT_BIN &&
	    v->via.bin.size == PROTO_ID_LEN) {
		memcpy(site, v->via.bin.ptr, PROTO_ID_LEN);
		return 0;
	}
	/* A follow-up record written before its café arrived: ask the café. */
	v = store_rec_value(r, "cafe");
	if (v == NULL || v->type != MSGPACK_OBJECT_BIN ||
	    v->via.bin.size != PROTO_ID_LEN ||
	    store_get(s, (const uint8_t *)v->via.bin.ptr, &cafe) != 0)
		return -1;
	v = store_rec_value(&cafe, "site");
	if (v != NULL && v->type == MSGPACK_OBJECT_BIN &&
	    v->via.bin.size == PROTO_ID_LEN) {
		memcpy(site, v->via.bin.ptr, PROTO_ID_LEN);
		rc = 0;
	}
	store_rec_free(&cafe);
	return rc;
}

/* Gathers each site's name. */
static int
site_one(const struct store_rec *r, void *arg)
{
	struct sites *ss = arg;
	struct site_acc *a;

	if (ss->only != NULL && memcmp(r->id, ss->only, PROTO_ID_LEN) != 0)
		return 0;
	ss->v = xreallocarray(ss->v, ss->n + 1, sizeof(*ss->v));
	a = &ss->v[ss->n++];
	memset(a, 0, sizeof(*a));
	memcpy(a->id, r->id, PROTO_ID_LEN);
	a->name = str_of(r, "name");
	a->gaps = json_array();
	a->actions = json_array();
	return 0;
}

/* Returns a JSON array of the tokens of f whose bit is not in bits. */
static json_t *
tokens_without(const struct sch_field *f, unsigned bits)
{
	json_t *a = json_array();
	unsigned j;

	for (j = 0; f->tokens[j] != NULL; j++)
		if ((bits & 1u << j) == 0)
			json_array_append_new(a, json_string(f->tokens[j]));
	return a;
}

/* Returns a JSON array of the tokens of f whose bit is in bits. */
static json_t *
tokens_with(const struct sch_field *f, unsigned bits)
{
	json_t *a = json_array();
	unsigned j;

	for (j = 0; f->tokens[j] != NULL; j++)
		if ((bits & 1u << j) != 0)
			json_array_append_new(a, json_string(f->tokens[j]));
	return a;
}

/* Returns the count in a field, 0 when absent. */
static uint64_t
count_of(const struct store_rec *r, const char *name)
{
	const msgpack_object *v = store_rec_value(r, name);

	return v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
	    v->via.u64 : 0;
}

/* Returns a record's date as YYYYMMDD, 0 when it has none. */
static uint32_t
ymd_of(const struct store_rec *r, const char *name)
{
	const msgpack_object *v = store_rec_value(r, name);
	uint32_t ymd = 0;

	if (v != NULL && v->type == MSGPACK_OBJECT_STR)
		sch_date_parse(v->via.str.ptr, v->via.str.size, &ymd);
	return ymd;
}

/* Formats YYYYMMDD as a JSON date string. */
static json_t *
ymd_json(uint32_t ymd)
{
	char buf[16];

	if (ymd == 0)
		return json_null();
	snprintf(buf, sizeof(buf), "%04u-%02u-%02u", ymd / 10000,
	    ymd / 100 % 100, ymd % 100);
	return json_string(buf);
}

/* Walks every record once: last changes, cafés, actions, milestones. */
static int
rec_one(const struct store_rec *r, void *arg)
{
	struct sites *ss = arg;
	struct site_acc *a;
	uint8_t site[PROTO_ID_LEN];
	const char *type = r->type->name;
	uint32_t i;

	if (rec_site(ss->s, r, site) != 0 || (a = site_find(ss, site)) == NULL)
		return 0;
	/* The latest clock in the record's table is its last change. */
	for (i = 0; i < r->nclocks; i++) {
		const msgpack_object *c = r->clocks[i].via.array.ptr;
		uint64_t h = c[0].via.u64;
		const uint8_t *o = (const uint8_t *)c[1].via.bin.ptr;

		if (h > a->last_hlc || (h == a->last_hlc &&
		    memcmp(o, a->last_origin, PROTO_KEY_LEN) > 0)) {
			a->last_hlc = h;
			memcpy(a->last_origin, o, PROTO_KEY_LEN);
			memcpy(a->last_rec, r->id, PROTO_ID_LEN);
		}
	}
	if (r->deleted)
		return 0;
	if (strcmp(type, "cafe") == 0) {
		uint32_t ymd = ymd_of(r, "date");
		int month = (int)(ymd / 10000) * 12 + (int)(ymd / 100 % 100) - 1;
		unsigned have = sch_token_bits(ss->elements,
		    store_rec_value(r, "elements"));
		unsigned all;

		if (ymd != 0 && month >= ss->first_month &&
		    month < ss->first_month + WINDOW_MONTHS) {
			a->cafes[month - ss->first_month]++;
			a->attendees += count_of(r, "attendees");
			a->new_attendees += count_of(r, "new_attendees");
			a->factors |= sch_token_bits(ss->factors,
			    store_rec_value(r, "factors"));
		}
		for (i = 0; ss->elements->tokens[i] != NULL; i++)
			;
		all = (1u << i) - 1;
		if ((have & all) != all)
			json_array_append_new(a->gaps, json_pack("{s:o, s:o, "
			    "s:o}", "id", hex_json(r->id, PROTO_ID_LEN), "date",
			    ymd_json(ymd), "missing",
			    tokens_without(ss->elements, have)));
	} else if (strcmp(type, "action") == 0) {
		char *status = str_of(r, "status");
		char *title = str_of(r, "title");
		uint32_t due = ymd_of(r, "due");

		/* An action with no status has not been started. */
		if (status == NULL || strcmp(status, "open") == 0 ||
		    strcmp(status, "doing") == 0)
			json_array_append_new(a->actions, json_pack("{s:o, "
			    "s:s, s:s, s:o, s:b}", "id", hex_json(r->id,
			    PROTO_ID_LEN), "title", title ? title : "",
			    "status", status ? status : "open", "due",
			    ymd_json(due), "overdue", due != 0 &&
			    due < ss->today));
		free(status);
		free(title);
	} else if (strcmp(type, "milestone") == 0)
		steps_fold(&a->steps, r);
	return 0;
}

struct seq_find {
	uint64_t hlc;
	const uint8_t *origin;
	uint64_t seq;
};

/* Finds the seq of the commit that wrote a clock into a record. */
static int
seq_one(const struct store_change *ch, void *arg)
{
	struct seq_find *sf = arg;

	if (ch->sc->c->hlc == sf->hlc && memcmp(ch->sc->c->origin,
	    sf->origin, PROTO_KEY_LEN) == 0) {
		sf->seq = ch->sc->c->seq;
		return 1;
	}
	return 0;
}

/* Converts a site's gathered state to JSON. */
static json_t *
site_json(struct sites *ss, struct site_acc *a)
{
	json_t *o = json_object(), *months = json_array();
	uint64_t total = 0;
	char m[16];
	int i;

	json_object_set_new(o, "id", hex_json(a->id, PROTO_ID_LEN));
	json_object_set_new(o, "name", a->name ? json_string(a->name) :
	    json_null());
	if (a->last_hlc != 0) {
		struct seq_find sf = { a->last_hlc, a->last_origin, 0 };

		store_history(ss->s, a->last_rec, seq_one, &sf);
		json_object_set_new(o, "last_change", json_pack("{s:o, s:o, "
		    "s:o, s:o}", "time", time_json(a->last_hlc, 1), "origin",
		    hex_json(a->last_origin, PROTO_KEY_LEN), "seq",
		    sf.seq != 0 ? json_integer((json_int_t)sf.seq) :
		    json_null(), "record", hex_json(a->last_rec,
		    PROTO_ID_LEN)));
	} else
		json_object_set_new(o, "last_change", json_null());
	for (i = 0; i < WINDOW_MONTHS; i++) {
		int mo = ss->first_month + i;

		snprintf(m, sizeof(m), "%04d-%02d", mo / 12, mo % 12 + 1);
		json_array_append_new(months, json_pack("{s:s, s:I}", "month",
		    m, "cafes", (json_int_t)a->cafes[i]));
		total += a->cafes[i];
	}
	json_object_set_new(o, "months", months);
	json_object_set_new(o, "cafes", json_integer((json_int_t)total));
	json_object_set_new(o, "attendees",
	    json_integer((json_int_t)a->attendees));
	json_object_set_new(o, "new_attendees",
	    json_integer((json_int_t)a->new_attendees));
	json_object_set_new(o, "factors_covered", tokens_with(ss->factors,
	    a->factors));
	json_object_set_new(o, "factors_missing", tokens_without(ss->factors,
	    a->factors));
	json_object_set_new(o, "fidelity_gaps", json_pack("{s:I, s:O}",
	    "count", (json_int_t)json_array_size(a->gaps), "cafes", a->gaps));
	json_object_set_new(o, "open_actions", json_incref(a->actions));
	{
		json_int_t overdue = 0;
		size_t k;

		for (k = 0; k < json_array_size(a->actions); k++)
			overdue += json_is_true(json_object_get(
			    json_array_get(a->actions, k), "overdue"));
		json_object_set_new(o, "overdue_actions",
		    json_integer(overdue));
	}
	{
		json_t *flags = json_array(), *st = json_array();
		unsigned k;

		json_object_set_new(o, "step_reached",
		    json_integer(steps_judge(&a->steps, flags)));
		for (k = 0; k < STEPS_N; k++)
			json_array_append_new(st, json_pack("{s:I, s:s, s:s}",
			    "step", (json_int_t)(k + 1), "name", steps_names[k],
			    "status", steps_status_name(a->steps.cur[k].set ?
			    a->steps.cur[k].status : STEP_NONE)));
		json_object_set_new(o, "steps", st);
		json_object_set_new(o, "step_flags", flags);
	}
	return o;
}

/* ---- text output ------------------------------------------------------ */

/* Returns the string of key k of o, or "" (or "-" for null). */
static const char *
sget(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL || json_is_null(v))
		return "-";
	return json_is_string(v) ? json_string_value(v) : "";
}

/* Returns the integer of key k of o. */
static long long
iget(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* Prints a list of strings, comma-separated, or "none". */
static void
print_list(json_t *a)
{
	size_t i;

	if (json_array_size(a) == 0)
		fputs("none", stdout);
	for (i = 0; i < json_array_size(a); i++)
		printf("%s%s", i > 0 ? "," : "",
		    json_string_value(json_array_get(a, i)));
}

/* Prints one side of a fork. */
static void
print_commit(const char *label, json_t *c)
{
	json_t *ops;
	size_t i;

	if (json_is_null(c)) {
		printf("    %-7s none stored\n", label);
		return;
	}
	ops = json_object_get(c, "ops");
	printf("    %-7s %.16s:%lld  hash %.16s  prev %.16s  clock %s  "
	    "stored %s\n", label, sget(c, "origin"), iget(c, "seq"),
	    sget(c, "hash"), sget(c, "prev"), sget(c, "time"),
	    sget(c, "stored_at"));
	printf("            %zu op%s:", json_array_size(ops),
	    json_array_size(ops) == 1 ? "" : "s");
	for (i = 0; i < json_array_size(ops) && i < TEXT_MAX_LIST; i++) {
		json_t *op = json_array_get(ops, i);

		printf(" %s %s %.12s", sget(op, "kind"), sget(op, "type"),
		    sget(op, "id"));
	}
	printf("%s\n", i < json_array_size(ops) ? " ..." : "");
}

/* Prints the integrity part. */
static void
print_integrity(json_t *in)
{
	json_t *faults = json_object_get(in, "faults");
	json_t *forks = json_object_get(in, "forks");
	size_t i, nf = json_array_size(faults), nk = json_array_size(forks);

	if (nf == 0 && nk == 0 && json_is_true(json_object_get(in, "ok")))
		printf("integrity: ok\n");
	else if (nf == 0 && nk == 0)
		printf("integrity: NOT ESTABLISHED: the records could not be "
		    "re-derived from the log\n");
	else
		printf("integrity: FAILED: %zu fault%s, %zu fork%s\n", nf,
		    nf == 1 ? "" : "s", nk, nk == 1 ? "" : "s");
	printf("  %lld commits of %lld origins re-verified (decoding, "
	    "signature, chain, heads)\n", iget(in, "commits"),
	    iget(in, "origins"));
	printf("  %lld ops checked against %lld history entries; digest "
	    "recomputed over %lld records\n", iget(in, "ops"),
	    iget(in, "history"), iget(in, "records"));
	if (json_is_true(json_object_get(in, "replayed")))
		printf("  records re-derived by replaying the log (%lld ms); "
		    "bydate, bysite, conflicts, seen compared\n  received "
		    "times and the node's clock checked; peers and invites "
		    "are this node's own\n", iget(in, "replay_ms"));
	else
		printf("  records NOT re-derived: %s\n",
		    sget(in, "replay_error"));
	for (i = 0; i < nf && i < TEXT_MAX_LIST; i++) {
		json_t *f = json_array_get(faults, i);

		int rec = strcmp(sget(f, "kind"), "record") == 0;

		if (!json_is_null(json_object_get(f, "origin")))
			printf("  %s %.16s:%lld", sget(f, "kind"),
			    sget(f, "origin"), iget(f, "seq"));
		else
			printf("  %s", sget(f, "kind"));
		if (!json_is_null(json_object_get(f, "id")))
			printf("%s %s", rec ? "" : " record", sget(f, "id"));
		printf(": %s\n", sget(f, "why"));
	}
	if (nf > TEXT_MAX_LIST)
		printf("  ... and %zu more (see --json)\n", nf - TEXT_MAX_LIST);
	for (i = 0; i < nk; i++) {
		json_t *k = json_array_get(forks, i);

		printf("  fork %.16s:%lld: two different commits signed by "
		    "one key at one seq; the second is kept as evidence, "
		    "never applied\n", sget(k, "origin"), iget(k, "seq"));
		if (!json_is_null(json_object_get(k, "why")))
			printf("    %s\n", sget(k, "why"));
		print_commit("stored", json_object_get(k, "stored"));
		print_commit("fork", json_object_get(k, "fork"));
	}
}

/* Prints the clock warnings. */
static void
print_clocks(json_t *w)
{
	size_t i, n = json_array_size(w);

	if (n == 0) {
		printf("clocks: ok\n");
		return;
	}
	printf("clocks: %zu warning%s\n", n, n == 1 ? "" : "s");
	for (i = 0; i < n && i < TEXT_MAX_LIST; i++) {
		json_t *c = json_array_get(w, i);

		printf("  %.16s:%lld %s: clock %s, stored here %s (%+.1f "
		    "days)\n", sget(c, "origin"), iget(c, "seq"),
		    sget(c, "kind"), sget(c, "time"), sget(c, "stored_at"),
		    json_real_value(json_object_get(c, "days")));
	}
	if (n > TEXT_MAX_LIST)
		printf("  ... and %zu more (see --json)\n", n - TEXT_MAX_LIST);
}

/* Prints one site. */
static void
print_site(json_t *o)
{
	json_t *months = json_object_get(o, "months");
	json_t *gaps = json_object_get(json_object_get(o, "fidelity_gaps"),
	    "cafes");
	json_t *acts = json_object_get(o, "open_actions");
	json_t *last = json_object_get(o, "last_change");
	size_t i;

	printf("\nsite %s  %s\n", sget(o, "id"), sget(o, "name"));
	if (json_is_null(last))
		printf("  last change     none\n");
	else if (json_is_null(json_object_get(last, "seq")))
		printf("  last change     %s by %.16s\n", sget(last, "time"),
		    sget(last, "origin"));
	else
		printf("  last change     %s by %.16s:%lld\n",
		    sget(last, "time"), sget(last, "origin"),
		    iget(last, "seq"));
	printf("  cafes by month ");
	for (i = 0; i < json_array_size(months); i++) {
		json_t *m = json_array_get(months, i);

		printf(" %s=%lld", sget(m, "month"), iget(m, "cafes"));
	}
	printf("\n  last 12 months  cafes %lld, attendees %lld, new "
	    "attendees %lld\n", iget(o, "cafes"), iget(o, "attendees"),
	    iget(o, "new_attendees"));
	printf("  factors covered ");
	print_list(json_object_get(o, "factors_covered"));
	printf("\n  factors missing ");
	print_list(json_object_get(o, "factors_missing"));
	printf("\n  fidelity gaps   %zu cafe%s\n", json_array_size(gaps),
	    json_array_size(gaps) == 1 ? "" : "s");
	for (i = 0; i < json_array_size(gaps) && i < TEXT_MAX_LIST; i++) {
		json_t *g = json_array_get(gaps, i);

		printf("    %s %s missing ", sget(g, "id"), sget(g, "date"));
		print_list(json_object_get(g, "missing"));
		printf("\n");
	}
	if (json_array_size(gaps) > TEXT_MAX_LIST)
		printf("    ... and %zu more (see --json)\n",
		    json_array_size(gaps) - TEXT_MAX_LIST);
	printf("  open actions    %zu (%lld overdue)\n", json_array_size(acts),
	    iget(o, "overdue_actions"));
	for (i = 0; i < json_array_size(acts) && i < TEXT_MAX_LIST; i++) {
		json_t *a = json_array_get(acts, i);

		printf("    %s %-5s due %-10s%s  %s\n", sget(a, "id"),
		    sget(a, "status"), sget(a, "due"),
		    json_is_true(json_object_get(a, "overdue")) ?
		    " OVERDUE" : "", sget(a, "title"));
	}
	if (json_array_size(acts) > TEXT_MAX_LIST)
		printf("    ... and %zu more (see --json)\n",
		    json_array_size(acts) - TEXT_MAX_LIST);
	if (iget(o, "step_reached") == 0)
		printf("  step reached    none done\n");
	else
		printf("  step reached    %lld of 6 (%s)\n",
		    iget(o, "step_reached"), steps_names[iget(o,
		    "step_reached") - 1]);
	for (i = 0; i < json_array_size(json_object_get(o, "step_flags"));
	    i++)
		printf("  step flagged    %s\n", sget(json_array_get(
		    json_object_get(o, "step_flags"), i), "text"));
}

/* ---- the command ------------------------------------------------------ */

/* cafe audit [--site ID] [--json] */
int
cmd_audit(struct cli *c)
{
	const struct sch_type *site_t = sch_type_find("site", 4);
	const struct sch_type *cafe_t = sch_type_find("cafe", 4);
	struct store_audit_stats st;
	struct store_query q;
	struct sites ss;
	uint8_t only[PROTO_ID_LEN];
	const char *site;
	json_t *out, *in, *faults, *forks, *clocks, *sites;
	time_t now = time(NULL);
	struct tm tm;
	int bad = 0, json, nfaults, rc;
	size_t i;

	json = cli_flag(c, "--json");
	site = cli_take(c, "--site", &bad);
	if (bad || cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	if (site != NULL && cli_resolve(c, site, site_t, only) != 0)
		return EXIT_USAGE;

	faults = json_array();
	nfaults = store_audit(c->store, 1, audit_fault, faults, &st);
	if (nfaults < 0) {
		json_decref(faults);
		return cli_fail(c, EXIT_CHECK, "cannot read the store");
	}
	if ((rc = audit_damaged(c, faults, json)) >= 0)
		return rc;
	forks = json_array();
	if (store_forks(c->store, audit_fork, forks) < 0) {
		json_decref(faults);
		json_decref(forks);
		return cli_fail(c, EXIT_CHECK, "cannot read the store");
	}
	clocks = json_array();
	store_log(c->store, NULL, 0, audit_clock, clocks);

	memset(&ss, 0, sizeof(ss));
	ss.s = c->store;
	ss.only = site != NULL ? only : NULL;
	localtime_r(&now, &tm);	/* "today" and "overdue": the local date */
	ss.today = (uint32_t)(tm.tm_year + 1900) * 10000 +
	    (uint32_t)(tm.tm_mon + 1) * 100 + (uint32_t)tm.tm_mday;
	ss.first_month = (tm.tm_year + 1900) * 12 + tm.tm_mon -
	    (WINDOW_MONTHS - 1);
	ss.factors = sch_field_find(cafe_t, "factors", 7);
	ss.elements = sch_field_find(cafe_t, "elements", 8);
	memset(&q, 0, sizeof(q));
	q.type = site_t;
	store_list(c->store, &q, site_one, &ss);
	if (ss.n > 0) {
		/* One walk over every record, removed ones included, so a
		 * removal counts as a change. */
		memset(&q, 0, sizeof(q));
		q.with_deleted = 1;
		store_list(c->store, &q, rec_one, &ss);
	}
	sites = json_array();
	for (i = 0; i < ss.n; i++) {
		json_array_append_new(sites, site_json(&ss, &ss.v[i]));
		free(ss.v[i].name);
		json_decref(ss.v[i].gaps);
		json_decref(ss.v[i].actions);
	}
	free(ss.v);

	in = json_object();
	/* An audit that could not re-derive the records proves less than
	 * it should: not ok, whatever else held. */
	json_object_set_new(in, "ok", json_boolean(nfaults == 0 &&
	    json_array_size(forks) == 0 && st.replayed));
	json_object_set_new(in, "damaged", json_false());
	json_object_set_new(in, "commits", json_integer((json_int_t)st.commits));
	json_object_set_new(in, "origins", json_integer((json_int_t)st.origins));
	json_object_set_new(in, "ops", json_integer((json_int_t)st.ops));
	json_object_set_new(in, "history", json_integer((json_int_t)st.history));
	json_object_set_new(in, "records", json_integer((json_int_t)st.records));
	json_object_set_new(in, "replayed", json_boolean(st.replayed));
	json_object_set_new(in, "replay_ms",
	    json_integer((json_int_t)st.replay_ms));
	json_object_set_new(in, "replay_error", st.replay_error[0] != '\0' ?
	    json_string(st.replay_error) : json_null());
	json_object_set_new(in, "faults", faults);
	json_object_set_new(in, "forks", forks);
	rc = json_is_true(json_object_get(in, "ok")) ? EXIT_OK : EXIT_CHECK;

	out = json_object();
	json_object_set_new(out, "node", hex_json(store_info(c->store)->node,
	    PROTO_KEY_LEN));
	json_object_set_new(out, "today", ymd_json(ss.today));
	json_object_set_new(out, "integrity", in);
	json_object_set_new(out, "clock_warnings", clocks);
	json_object_set_new(out, "sites", sites);
	if (json)
		cli_print_json(json_incref(out));
	else {
		print_integrity(in);
		print_clocks(clocks);
		for (i = 0; i < json_array_size(sites); i++)
			print_site(json_array_get(sites, i));
	}
	if (rc != EXIT_OK && nfaults == 0 && json_array_size(forks) == 0)
		cli_msg(c->cmd, "integrity not established: the records could "
		    "not be re-derived from the log (%s)", st.replay_error);
	else if (rc != EXIT_OK)
		cli_msg(c->cmd, "integrity does not hold: %d fault%s, %zu "
		    "fork%s", nfaults, nfaults == 1 ? "" : "s",
		    json_array_size(forks), json_array_size(forks) == 1 ?
		    "" : "s");
	json_decref(out);
	return rc;
}
