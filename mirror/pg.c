/*
 * pg.c: the PostgreSQL mirror of a node's merged records (mirror.h).
 *
 * Layout.  The mirror's schema holds one table per record type, named as
 * the type, with "id" (the record id, 32 hex digits) as primary key, one
 * typed column per field of the schema table, and "written_by" (the key
 * of the node whose write is the record's latest) and "written_at" (that
 * write's clock as a time).  Removed records are deleted.  _meta holds the
 * network id, the store epoch the rows follow (see mirror_run()) and a
 * fingerprint of the layout; a different fingerprint (a newer cafe with
 * more fields, say) makes the mirror run its DDL again, which only adds
 * (CREATE ... IF NOT EXISTS, ADD COLUMN IF NOT EXISTS, CREATE OR REPLACE
 * VIEW, COMMENT).
 *
 * A batch.  From each origin's position on, the store's log is walked
 * commit by commit, gathering the ids of the records the ops touched,
 * until the batch holds cfg.batch ids (whole commits only).  Each record's
 * current merged state is read, and in one transaction: the live ones are
 * copied (COPY) into a temporary table and upserted from it, the removed
 * ones deleted, and every origin's position moved to the last commit
 * walked.  During a first mirror into empty tables, records not written
 * before in this run cannot be in the table yet, so they are copied into
 * it directly, which is what makes a first mirror about as fast as a COPY.
 *
 * A refused row.  When PostgreSQL refuses a row (a constraint a DBA
 * added, an encoding the database cannot hold), the record is named from
 * the COPY line or the failing row, the transaction is rolled back and
 * run again with that record written to _refused with the reason instead,
 * so one record never stalls the others; it is tried again whenever a
 * later commit touches it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "mirror.h"

#define DEFAULT_SCHEMA "cafesync"
#define DEFAULT_BATCH 10000
#define MAX_REFUSALS_PER_BATCH 1000
#define COPY_CHUNK (1u << 20)

/* ---- small helpers ---------------------------------------------------- */

/* A growing byte buffer; allocation failure is fatal (xreallocarray). */
struct buf {
	char *p;
	size_t len, cap;
};

static void
buf_need(struct buf *b, size_t n)
{
	size_t cap;

	if (b->len + n + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + n + 1)
		cap *= 2;
	b->p = xreallocarray(b->p, cap, 1);
	b->cap = cap;
}

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_need(b, n);
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void
buf_ch(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

static void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_need(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p != NULL)
		b->p[0] = '\0';
}

static void
buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Appends v in decimal (printf costs more than the rest of a row). */
static void
buf_u64(struct buf *b, uint64_t v)
{
	char d[24];
	int n = 0;

	do {
		d[sizeof(d) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	buf_add(b, d + sizeof(d) - n, (size_t)n);
}

/* Appends n bytes escaped for COPY's text format. */
static void
copy_esc(struct buf *b, const char *s, size_t n)
{
	size_t i, start = 0;

	for (i = 0; i < n; i++) {
		const char *e;

		switch (s[i]) {
		case '\\': e = "\\\\"; break;
		case '\t': e = "\\t"; break;
		case '\n': e = "\\n"; break;
		case '\r': e = "\\r"; break;
		default: continue;
		}
		buf_add(b, s + start, i - start);
		buf_str(b, e);
		start = i + 1;
	}
	buf_add(b, s + start, n - start);
}

/* Appends one element of an array literal, quoted. */
static void
array_elem(struct buf *b, const char *s, size_t n)
{
	size_t i, start = 0;

	buf_ch(b, '"');
	for (i = 0; i < n; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		buf_add(b, s + start, i - start);
		buf_ch(b, '\\');
		start = i;
	}
	buf_add(b, s + start, n - start);
	buf_ch(b, '"');
}

static void
hex_add(struct buf *b, const uint8_t *p, size_t n)
{
	char h[2 * PROTO_KEY_LEN + 1];

	proto_hex(h, p, n);
	buf_add(b, h, 2 * n);
}

/*
 * A set of record ids, open addressing.  Ids end in 80 random bits, so
 * their last 8 bytes make a good hash.
 */
struct idset {
	uint8_t (*ids)[PROTO_ID_LEN];
	uint8_t *used;
	size_t cap, n;
};

/*
 * Mixes all 16 bytes (splitmix64's finalizer): ids made in one import
 * share most of their bytes, and the set is indexed by the low bits.
 */
static size_t
id_hash(const uint8_t *id)
{
	uint64_t a = 0, b = 0, z;
	int i;

	for (i = 0; i < 8; i++) {
		a = a << 8 | id[i];
		b = b << 8 | id[i + 8];
	}
	z = a ^ (b * 0x9e3779b97f4a7c15ULL);
	z = (z ^ z >> 30) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ z >> 27) * 0x94d049bb133111ebULL;
	return (size_t)(z ^ z >> 31);
}

static int idset_add(struct idset *s, const uint8_t *id);

static void
idset_grow(struct idset *s)
{
	struct idset old = *s;
	size_t i;

	s->cap = old.cap ? old.cap * 2 : 1024;
	s->ids = xcalloc(s->cap, PROTO_ID_LEN);
	s->used = xcalloc(s->cap, 1);
	s->n = 0;
	for (i = 0; i < old.cap; i++)
		if (old.used[i])
			idset_add(s, old.ids[i]);
	free(old.ids);
	free(old.used);
}

/* Returns the slot of id, or where it would go. */
static size_t
idset_slot(const struct idset *s, const uint8_t *id)
{
	size_t i = id_hash(id) & (s->cap - 1);

	while (s->used[i] && memcmp(s->ids[i], id, PROTO_ID_LEN) != 0)
		i = (i + 1) & (s->cap - 1);
	return i;
}

/* Adds id; returns 1 when it was not there. */
static int
idset_add(struct idset *s, const uint8_t *id)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap)
		idset_grow(s);
	i = idset_slot(s, id);
	if (s->used[i])
		return 0;
	s->used[i] = 1;
	memcpy(s->ids[i], id, PROTO_ID_LEN);
	s->n++;
	return 1;
}

static int
idset_has(const struct idset *s, const uint8_t *id)
{
	return s->cap != 0 && s->used[idset_slot(s, id)];
}

static void
idset_clear(struct idset *s)
{
	if (s->cap != 0)
		memset(s->used, 0, s->cap);
	s->n = 0;
}

static void
idset_free(struct idset *s)
{
	free(s->ids);
	free(s->used);
	memset(s, 0, sizeof(*s));
}

/* ---- the mirror -------------------------------------------------------- */

struct pos {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
};

/* A record PostgreSQL refused in the batch being written. */
struct refusal {
	uint8_t id[PROTO_ID_LEN];
	char *reason;
};

/* What one type's part of a batch holds. */
struct tpart {
	struct buf direct;          /* COPY rows straight into the table */
	struct buf stage;           /* COPY rows into the staging table */
	struct buf del;             /* array literal of ids to delete */
	uint8_t (*dids)[PROTO_ID_LEN];   /* ids of direct, by COPY line */
	uint8_t (*sids)[PROTO_ID_LEN];   /* ids of stage, by COPY line */
	size_t nd, ns, ndel, cd, cs;
};

struct mirror {
	struct store *s;
	char *conninfo;
	char *schema;
	unsigned batch;
	mirror_log_fn log;
	void *log_arg;
	PGconn *conn;
	struct pos *pos;
	size_t npos, cpos;
	int fresh;                  /* tables were empty, no position yet */
	uint64_t epoch;             /* the store's epoch the rows follow;
	                             * UINT64_MAX: unknown */
	int reset;                  /* the next batch first empties the
	                             * tables: the epoch moved */
	struct idset seen;          /* fresh: ids this run put in a table */
	uint64_t nrefused;          /* rows in _refused */
	unsigned staged;            /* types whose staging table exists */
	size_t rotate;              /* the origin the next batch starts at */
	int stream_t, stream_which; /* the part to stream: the largest of
	                             * the last batch */
	char *cols[16];             /* per type: the column list */
	char *upsert[16];           /* per type: staging -> table */
};

static void mlog(struct mirror *m, enum mirror_level level,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
mlog(struct mirror *m, enum mirror_level level, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	if (m->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m->log(m->log_arg, level, msg);
}

/* Returns whether s is a plain lower-case SQL identifier. */
static int
plain_ident(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > 63 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

struct mirror *
mirror_new(struct store *s, const struct mirror_cfg *cfg, char **cause)
{
	const char *schema = cfg->schema != NULL ? cfg->schema :
	    DEFAULT_SCHEMA;
	struct mirror *m;
	unsigned t;

	if (!plain_ident(schema)) {
		*cause = xasprintf("schema '%s': not a plain name (lower-case "
		    "letters, digits and _, at most 63)", schema);
		return NULL;
	}
	if (sch_ntypes > 16) {
		*cause = xstrdup("too many record types for the mirror");
		return NULL;
	}
	m = xcalloc(1, sizeof(*m));
	m->s = s;
	m->conninfo = xstrdup(cfg->conninfo);
	m->schema = xstrdup(schema);
	m->batch = cfg->batch ? cfg->batch : DEFAULT_BATCH;
	m->log = cfg->log;
	m->log_arg = cfg->log_arg;
	m->stream_t = (int)(sch_type_find("cafe", 4) - sch_types);
	m->stream_which = 0;
	for (t = 0; t < sch_ntypes; t++) {
		const struct sch_type *ty = &sch_types[t];
		struct buf cols = { 0 }, up = { 0 };
		unsigned i;

		buf_str(&cols, "id");
		for (i = 0; i < ty->nfields; i++)
			buf_printf(&cols, ", \"%s\"", ty->fields[i].name);
		buf_str(&cols, ", written_by, written_at");
		buf_printf(&up, "INSERT INTO \"%s\".\"%s\" (%s) SELECT %s FROM "
		    "pg_temp.\"_stage_%s\" ON CONFLICT (id) DO UPDATE SET ",
		    m->schema, ty->name, cols.p, cols.p, ty->name);
		for (i = 0; i < ty->nfields; i++)
			buf_printf(&up, "\"%s\" = EXCLUDED.\"%s\", ",
			    ty->fields[i].name, ty->fields[i].name);
		buf_str(&up, "written_by = EXCLUDED.written_by, "
		    "written_at = EXCLUDED.written_at");
		m->cols[t] = cols.p;
		m->upsert[t] = up.p;
	}
	return m;
}

void
mirror_disconnect(struct mirror *m)
{
	/*
	 * The server drops a session's locks only once its backend has
	 * noticed the closed socket; unlocking first frees the schema for
	 * the next mirror at once.
	 */
	if (m->conn != NULL && PQstatus(m->conn) == CONNECTION_OK &&
	    PQtransactionStatus(m->conn) == PQTRANS_IDLE)
		PQclear(PQexec(m->conn, "SELECT pg_advisory_unlock_all()"));
	if (m->conn != NULL)
		PQfinish(m->conn);
	m->conn = NULL;
}

void
mirror_free(struct mirror *m)
{
	unsigned t;

	if (m == NULL)
		return;
	mirror_disconnect(m);
	for (t = 0; t < sch_ntypes; t++) {
		free(m->cols[t]);
		free(m->upsert[t]);
	}
	idset_free(&m->seen);
	free(m->pos);
	free(m->conninfo);
	free(m->schema);
	free(m);
}

int
mirror_connected(const struct mirror *m)
{
	return m->conn != NULL && PQstatus(m->conn) == CONNECTION_OK;
}

const char *
mirror_schema(const struct mirror *m)
{
	return m->schema;
}

/* Returns the first line of a libpq message, without its newline. */
static char *
first_line(const char *msg)
{
	size_t n;

	if (msg == NULL || *msg == '\0')
		return xstrdup("unknown error");
	n = strcspn(msg, "\n");
	return xasprintf("%.*s", (int)n, msg);
}

/*
 * Tells a failure worth retrying (the connection, the server shutting
 * down or starting, a deadlock) from one that is not.
 */
static int
failure_code(const struct mirror *m, const PGresult *res)
{
	const char *state;

	if (m->conn == NULL || PQstatus(m->conn) != CONNECTION_OK)
		return CS_EIO;
	state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state == NULL)
		return CS_EIO;
	if (strncmp(state, "08", 2) == 0 || strncmp(state, "57", 2) == 0 ||
	    strncmp(state, "53", 2) == 0 || strncmp(state, "40", 2) == 0)
		return CS_EIO;
	return CS_EDB;
}

/* Sets *cause from a failed result (or the connection) and returns the
 * code; drops a broken connection. */
static int
pg_fail(struct mirror *m, PGresult *res, const char *what, char **cause)
{
	const char *msg = res != NULL ?
	    PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char *line;
	int code = failure_code(m, res);

	line = first_line(msg != NULL ? msg : m->conn != NULL ?
	    PQerrorMessage(m->conn) : NULL);
	free(*cause);
	*cause = xasprintf("postgres: %s: %s", what, line);
	free(line);
	if (code == CS_EIO)
		mirror_disconnect(m);
	return code;
}

/* Runs a command that returns no rows; returns 0 or an error. */
static int
exec_cmd(struct mirror *m, const char *sql, const char *what, char **cause)
{
	PGresult *res = PQexec(m->conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = pg_fail(m, res, what, cause);
	PQclear(res);
	return rc;
}

/* Runs a query with text parameters; returns the result or NULL with
 * *rc and *cause set. */
static PGresult *
query(struct mirror *m, const char *sql, int n, const char *const *params,
    const char *what, int *rc, char **cause)
{
	PGresult *res = PQexecParams(m->conn, sql, n, NULL, params, NULL,
	    NULL, 0);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		*rc = pg_fail(m, res, what, cause);
		PQclear(res);
		return NULL;
	}
	*rc = 0;
	return res;
}

/* Returns the column type of a field. */
static const char *
col_type(const struct sch_field *f)
{
	switch (f->type) {
	case SCH_SET:
	case SCH_LIST:
	case SCH_REFS:
		return "text[]";
	case SCH_DATE:
		return "date";
	case SCH_UINT:
		return f->max > 2147483647u ? "bigint" : "integer";
	case SCH_DEC2:
		return "numeric(8,2)";
	default:
		return "text";
	}
}

/* Appends a string literal, escaped by libpq for this connection. */
static void
lit_add(struct mirror *m, struct buf *b, const char *s)
{
	char *e = PQescapeLiteral(m->conn, s, strlen(s));

	if (e == NULL) {
		buf_str(b, "''");
		return;
	}
	buf_str(b, e);
	PQfreemem(e);
}

/* Appends the comment text of a field: its help and its rule. */
static void
field_comment(struct buf *b, const struct sch_field *f)
{
	unsigned i;

	buf_str(b, f->help);
	if (f->required)
		buf_str(b, "; required");
	if (f->tokens != NULL) {
		buf_str(b, f->type == SCH_SET ? "; any of: " : "; one of: ");
		for (i = 0; f->tokens[i] != NULL; i++)
			buf_printf(b, "%s%s", i ? ", " : "", f->tokens[i]);
	}
	if (f->ref != NULL)
		buf_printf(b, "; id%s of %s records (%s.id)",
		    f->type == SCH_REFS ? "s" : "", f->ref, f->ref);
	if (f->type == SCH_UINT)
		buf_printf(b, "; %u to %u", f->min, f->max);
	if (f->type == SCH_DEC2)
		buf_printf(b, "; %u.%02u to %u.%02u", f->min / 100,
		    f->min % 100, f->max / 100, f->max % 100);
}

/* Returns the field of type name, or NULL. */
static const struct sch_field *
field_of(const char *type, const char *name)
{
	const struct sch_type *t = sch_type_find(type, strlen(type));

	return t != NULL ? sch_field_find(t, name, strlen(name)) : NULL;
}

/* Appends the views (the state lead's questions) to the DDL. */
static void
views_ddl(struct mirror *m, struct buf *b)
{
	const char *s = m->schema;
	const struct sch_field *fac = field_of("cafe", "factors");
	const struct sch_type *fb = sch_type_find("feedback", 8);
	struct buf c = { 0 };
	unsigned i;

	buf_printf(b, "CREATE OR REPLACE VIEW \"%s\".cafe_named AS SELECT "
	    "c.id, c.\"date\", c.format, c.site AS site_id, st.name AS "
	    "site_name, st.county, st.region, c.series_no, c.topic, "
	    "c.factors, c.language, c.attendees, c.new_attendees, "
	    "c.children_cared_for, c.tables, c.max_table_size, c.elements, "
	    "(SELECT array_agg(p.name ORDER BY h.n) FROM "
	    "unnest(c.hosts) WITH ORDINALITY AS h(pid, n) JOIN \"%s\".person "
	    "p ON p.id = h.pid) AS host_names, c.written_by, c.written_at "
	    "FROM \"%s\".cafe c LEFT JOIN \"%s\".site st ON st.id = c.site;\n",
	    s, s, s, s);
	buf_printf(b, "COMMENT ON VIEW \"%s\".cafe_named IS 'Each café "
	    "with its site''s and hosts'' names';\n", s);

	buf_printf(b, "CREATE OR REPLACE VIEW \"%s\".site_month AS SELECT "
	    "c.site AS site_id, st.name AS site_name, "
	    "date_trunc('month', c.\"date\")::date AS month, "
	    "count(*) AS cafes, coalesce(sum(c.attendees), 0) AS attendees, "
	    "coalesce(sum(c.new_attendees), 0) AS new_attendees, "
	    "coalesce(sum(c.children_cared_for), 0) AS children_cared_for "
	    "FROM \"%s\".cafe c LEFT JOIN \"%s\".site st ON st.id = c.site "
	    "GROUP BY c.site, st.name, date_trunc('month', c.\"date\");\n",
	    s, s, s);
	buf_printf(b, "COMMENT ON VIEW \"%s\".site_month IS 'Cafés, "
	    "attendance, new attendees and children cared for per site and "
	    "month';\n", s);

	for (i = 0; fac != NULL && fac->tokens[i] != NULL; i++)
		buf_printf(&c, "%s'%s'", i ? ", " : "", fac->tokens[i]);
	buf_printf(b, "CREATE OR REPLACE VIEW \"%s\".factor_coverage AS "
	    "SELECT st.id AS site_id, st.name AS site_name, f.factor, "
	    "count(c.id) AS cafes, max(c.\"date\") AS last_cafe FROM "
	    "\"%s\".site st CROSS JOIN unnest(ARRAY[%s]::text[]) AS "
	    "f(factor) LEFT JOIN \"%s\".cafe c ON c.site = st.id AND "
	    "f.factor = ANY (c.factors) GROUP BY st.id, st.name, f.factor;\n",
	    s, s, c.p != NULL ? c.p : "", s);
	buf_printf(b, "COMMENT ON VIEW \"%s\".factor_coverage IS 'For "
	    "every site and protective factor, the cafés centred on it "
	    "(0 for a factor the site has not covered)';\n", s);
	buf_free(&c);

	buf_printf(b, "CREATE OR REPLACE VIEW \"%s\".feedback_shares AS "
	    "SELECT coalesce(f.site, c.site) AS site_id, st.name AS "
	    "site_name, count(*) AS cafes, sum(f.responses) AS responses", s);
	for (i = 0; fb != NULL && i < fb->nfields; i++) {
		const char *n = fb->fields[i].name;

		if (fb->fields[i].type != SCH_UINT ||
		    strcmp(n, "responses") == 0)
			continue;
		buf_printf(b, ", sum(f.\"%s\") AS \"%s\", round(sum(f.\"%s\")"
		    "::numeric / nullif(sum(f.responses), 0), 3) AS "
		    "\"%s_share\"", n, n, n, n);
	}
	buf_printf(b, " FROM \"%s\".feedback f LEFT JOIN \"%s\".cafe c ON "
	    "c.id = f.cafe LEFT JOIN \"%s\".site st ON st.id = "
	    "coalesce(f.site, c.site) GROUP BY coalesce(f.site, c.site), "
	    "st.name;\n", s, s, s);
	buf_printf(b, "COMMENT ON VIEW \"%s\".feedback_shares IS 'Per site, "
	    "the feedback forms returned and the share of them that answered "
	    "yes to each question';\n", s);

	buf_printf(b, "CREATE OR REPLACE VIEW \"%s\".site_activity AS SELECT "
	    "st.id AS site_id, st.name AS site_name, st.county, st.status, "
	    "count(c.id) AS cafes, max(c.\"date\") AS last_cafe, "
	    "count(c.id) FILTER (WHERE c.\"date\" >= current_date - 90) AS "
	    "cafes_last_90_days, (SELECT count(*) FROM \"%s\".action a "
	    "WHERE a.site = st.id AND coalesce(a.status, 'open') IN "
	    "('open', 'doing')) AS open_actions FROM \"%s\".site st LEFT "
	    "JOIN \"%s\".cafe c ON c.site = st.id GROUP BY st.id;\n",
	    s, s, s, s);
	buf_printf(b, "COMMENT ON VIEW \"%s\".site_activity IS 'Per site, "
	    "its cafés, the last one, those of the last 90 days and its open "
	    "actions: which sites have gone quiet';\n", s);
}

/* Builds the whole DDL of the layout into b. */
static void
layout_ddl(struct mirror *m, struct buf *b)
{
	const char *s = m->schema;
	unsigned t, i;

	buf_printf(b, "CREATE TABLE IF NOT EXISTS \"%s\"._position (origin "
	    "text PRIMARY KEY, seq bigint NOT NULL, mirrored_at timestamptz "
	    "NOT NULL DEFAULT now());\n", s);
	buf_printf(b, "COMMENT ON TABLE \"%s\"._position IS 'Per origin (a "
	    "node''s key), the last commit mirrored; moved in the same "
	    "transaction as the rows it covers';\n", s);
	buf_printf(b, "CREATE TABLE IF NOT EXISTS \"%s\"._refused (id text "
	    "PRIMARY KEY, type text NOT NULL, reason text NOT NULL, "
	    "refused_at timestamptz NOT NULL DEFAULT now());\n", s);
	buf_printf(b, "COMMENT ON TABLE \"%s\"._refused IS 'Records "
	    "PostgreSQL refused, and why; tried again when they change';\n",
	    s);
	for (t = 0; t < sch_ntypes; t++) {
		const struct sch_type *ty = &sch_types[t];
		struct buf cm = { 0 };

		buf_printf(b, "CREATE TABLE IF NOT EXISTS \"%s\".\"%s\" (id "
		    "text PRIMARY KEY);\n", s, ty->name);
		for (i = 0; i < ty->nfields; i++)
			buf_printf(b, "ALTER TABLE \"%s\".\"%s\" ADD COLUMN IF "
			    "NOT EXISTS \"%s\" %s;\n", s, ty->name,
			    ty->fields[i].name, col_type(&ty->fields[i]));
		buf_printf(b, "ALTER TABLE \"%s\".\"%s\" ADD COLUMN IF NOT "
		    "EXISTS written_by text, ADD COLUMN IF NOT EXISTS "
		    "written_at timestamptz;\n", s, ty->name);
		buf_printf(b, "COMMENT ON TABLE \"%s\".\"%s\" IS ", s,
		    ty->name);
		buf_printf(&cm, "%s (cafesync %s records)", ty->help,
		    ty->name);
		lit_add(m, b, cm.p);
		buf_str(b, ";\n");
		buf_printf(b, "COMMENT ON COLUMN \"%s\".\"%s\".id IS 'the "
		    "record id (32 hex digits)';\n", s, ty->name);
		buf_printf(b, "COMMENT ON COLUMN \"%s\".\"%s\".written_by IS "
		    "'key of the node whose write is the record''s latest';\n",
		    s, ty->name);
		buf_printf(b, "COMMENT ON COLUMN \"%s\".\"%s\".written_at IS "
		    "'when the record''s latest write was made (its clock)';\n",
		    s, ty->name);
		for (i = 0; i < ty->nfields; i++) {
			const struct sch_field *f = &ty->fields[i];

			buf_reset(&cm);
			field_comment(&cm, f);
			buf_printf(b, "COMMENT ON COLUMN \"%s\".\"%s\".\"%s\" "
			    "IS ", s, ty->name, f->name);
			lit_add(m, b, cm.p);
			buf_str(b, ";\n");
			if (f->type == SCH_REF)
				buf_printf(b, "CREATE INDEX IF NOT EXISTS "
				    "\"%s_%s_idx\" ON \"%s\".\"%s\" (\"%s\");\n",
				    ty->name, f->name, s, ty->name, f->name);
		}
		buf_free(&cm);
	}
	views_ddl(m, b);
}

/* Returns the position of origin (0 when none). */
static uint64_t
pos_get(const struct mirror *m, const uint8_t *origin)
{
	size_t i;

	for (i = 0; i < m->npos; i++)
		if (memcmp(m->pos[i].origin, origin, PROTO_KEY_LEN) == 0)
			return m->pos[i].seq;
	return 0;
}

static void
pos_set(struct mirror *m, const uint8_t *origin, uint64_t seq)
{
	size_t i;

	for (i = 0; i < m->npos; i++)
		if (memcmp(m->pos[i].origin, origin, PROTO_KEY_LEN) == 0) {
			m->pos[i].seq = seq;
			return;
		}
	if (m->npos == m->cpos) {
		m->cpos = m->cpos ? m->cpos * 2 : 16;
		m->pos = xreallocarray(m->pos, m->cpos, sizeof(*m->pos));
	}
	memcpy(m->pos[m->npos].origin, origin, PROTO_KEY_LEN);
	m->pos[m->npos++].seq = seq;
}

/* Checks or records the network, runs the DDL when the layout changed. */
static int
setup_schema(struct mirror *m, char **cause)
{
	const struct store_info *info = store_info(m->s);
	char net[2 * PROTO_KEY_LEN + 1], fp[33];
	uint8_t h[16];
	const char *p[2];
	struct buf sql = { 0 }, ddl = { 0 };
	PGresult *res;
	int rc, exists;

	proto_hex(net, info->network, PROTO_KEY_LEN);
	p[0] = m->schema;
	res = query(m, "SELECT 1 FROM pg_namespace WHERE nspname = $1", 1,
	    p, "looking up the schema", &rc, cause);
	if (res == NULL)
		return rc;
	exists = PQntuples(res) > 0;
	PQclear(res);
	if ((rc = exec_cmd(m, "BEGIN", "BEGIN", cause)) != 0)
		return rc;
	if (!exists) {
		buf_printf(&sql, "CREATE SCHEMA \"%s\"", m->schema);
		if ((rc = exec_cmd(m, sql.p, "creating the schema", cause)) != 0)
			goto fail;
		buf_reset(&sql);
		buf_printf(&sql, "COMMENT ON SCHEMA \"%s\" IS 'cafesync "
		    "records of network %s, kept by cafe mirror'", m->schema,
		    net);
		if ((rc = exec_cmd(m, sql.p, "creating the schema", cause)) != 0)
			goto fail;
		buf_reset(&sql);
	}
	buf_printf(&sql, "CREATE TABLE IF NOT EXISTS \"%s\"._meta (key text "
	    "PRIMARY KEY, value text NOT NULL)", m->schema);
	if ((rc = exec_cmd(m, sql.p, "creating the schema", cause)) != 0)
		goto fail;
	buf_reset(&sql);
	buf_printf(&sql, "SELECT key, value FROM \"%s\"._meta WHERE key IN "
	    "('network', 'layout') ORDER BY key", m->schema);
	res = query(m, sql.p, 0, NULL, "reading the schema's network", &rc,
	    cause);
	if (res == NULL)
		goto fail;
	layout_ddl(m, &ddl);
	crypto_generichash(h, sizeof(h), (const unsigned char *)ddl.p,
	    ddl.len, NULL, 0);
	proto_hex(fp, h, sizeof(h));
	{
		int i, have_net = 0, have_layout = 0;

		for (i = 0; i < PQntuples(res); i++) {
			const char *k = PQgetvalue(res, i, 0);
			const char *v = PQgetvalue(res, i, 1);

			if (strcmp(k, "network") == 0) {
				have_net = 1;
				if (strcmp(v, net) != 0) {
					free(*cause);
					*cause = xasprintf("schema %s holds "
					    "the mirror of network %.16s..., "
					    "not of this node's network "
					    "%.16s...; mirror into another "
					    "schema (--schema)", m->schema,
					    v, net);
					PQclear(res);
					rc = CS_EPERM;
					goto fail;
				}
			} else if (strcmp(v, fp) == 0)
				have_layout = 1;
		}
		PQclear(res);
		buf_reset(&sql);
		if (!have_net) {
			buf_printf(&sql, "INSERT INTO \"%s\"._meta VALUES "
			    "('network', '%s')", m->schema, net);
			if ((rc = exec_cmd(m, sql.p, "recording the network",
			    cause)) != 0)
				goto fail;
			buf_reset(&sql);
		}
		if (!have_layout) {
			if ((rc = exec_cmd(m, ddl.p, "creating the tables and "
			    "views", cause)) != 0)
				goto fail;
			buf_printf(&sql, "INSERT INTO \"%s\"._meta VALUES "
			    "('layout', '%s') ON CONFLICT (key) DO UPDATE SET "
			    "value = EXCLUDED.value", m->schema, fp);
			if ((rc = exec_cmd(m, sql.p, "recording the layout",
			    cause)) != 0)
				goto fail;
		}
	}
	rc = exec_cmd(m, "COMMIT", "COMMIT", cause);
	buf_free(&sql);
	buf_free(&ddl);
	return rc;
fail:
	if (m->conn != NULL) {
		PGresult *r = PQexec(m->conn, "ROLLBACK");

		PQclear(r);
	}
	buf_free(&sql);
	buf_free(&ddl);
	return rc;
}

/* Reads the positions, the refusals and whether the tables are empty. */
static int
read_state(struct mirror *m, char **cause)
{
	struct buf sql = { 0 };
	PGresult *res;
	unsigned t;
	int rc, i;

	buf_printf(&sql, "SELECT origin, seq FROM \"%s\"._position",
	    m->schema);
	res = query(m, sql.p, 0, NULL, "reading the positions", &rc, cause);
	if (res == NULL)
		goto out;
	m->npos = 0;
	for (i = 0; i < PQntuples(res); i++) {
		uint8_t o[PROTO_KEY_LEN];

		if (proto_unhex(o, PROTO_KEY_LEN, PQgetvalue(res, i, 0)) == 0)
			pos_set(m, o, strtoull(PQgetvalue(res, i, 1), NULL,
			    10));
	}
	PQclear(res);
	buf_reset(&sql);
	buf_printf(&sql, "SELECT (SELECT count(*) FROM \"%s\"._refused), "
	    "(SELECT value FROM \"%s\"._meta WHERE key = 'epoch')",
	    m->schema, m->schema);
	for (t = 0; t < sch_ntypes; t++)
		buf_printf(&sql, ", EXISTS (SELECT 1 FROM \"%s\".\"%s\")",
		    m->schema, sch_types[t].name);
	res = query(m, sql.p, 0, NULL, "reading the tables", &rc, cause);
	if (res == NULL)
		goto out;
	m->nrefused = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	m->epoch = PQgetisnull(res, 0, 1) ? UINT64_MAX :
	    strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	m->reset = 0;
	m->fresh = m->npos == 0;
	for (t = 0; t < sch_ntypes; t++)
		if (strcmp(PQgetvalue(res, 0, (int)t + 2), "f") != 0)
			m->fresh = 0;
	PQclear(res);
	idset_clear(&m->seen);
	m->staged = 0;
out:
	buf_free(&sql);
	return rc;
}

/* Quiets the notices of IF NOT EXISTS. */
static void
no_notice(void *arg, const char *msg)
{
}

int
mirror_connect(struct mirror *m, char **cause)
{
	char lockname[128];
	const char *p[1];
	PGresult *res;
	int rc;

	if (mirror_connected(m))
		return 0;
	mirror_disconnect(m);
	m->conn = PQconnectdb(m->conninfo);
	if (m->conn == NULL || PQstatus(m->conn) != CONNECTION_OK) {
		char *line = first_line(m->conn != NULL ?
		    PQerrorMessage(m->conn) : NULL);

		free(*cause);
		*cause = xasprintf("postgres: cannot connect: %s", line);
		free(line);
		mirror_disconnect(m);
		return CS_EIO;
	}
	PQsetNoticeProcessor(m->conn, no_notice, NULL);
	if ((rc = exec_cmd(m, "SET client_min_messages = warning; "
	    "SET client_encoding = 'UTF8'; SET datestyle = 'ISO'",
	    "setting up the session", cause)) != 0)
		goto fail;
	snprintf(lockname, sizeof(lockname), "cafesync mirror %s", m->schema);
	p[0] = lockname;
	res = query(m, "SELECT pg_try_advisory_lock(hashtext($1))", 1, p,
	    "taking the schema's lock", &rc, cause);
	if (res == NULL)
		goto fail;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		free(*cause);
		*cause = xasprintf("postgres: another mirror is writing "
		    "schema %s", m->schema);
		rc = CS_EEXIST;
		goto fail;
	}
	PQclear(res);
	if ((rc = setup_schema(m, cause)) != 0)
		goto fail;
	if ((rc = read_state(m, cause)) != 0)
		goto fail;
	return 0;
fail:
	mirror_disconnect(m);
	return rc;
}

/* ---- a batch ----------------------------------------------------------- */

struct batch {
	struct mirror *m;
	struct idset ids;           /* records touched */
	struct pos *upd;            /* origins moved, to their new seq */
	size_t nupd, cupd;
	uint64_t commits;
	uint64_t want;              /* next seq expected of the origin walked */
	int full;
	struct refusal *ref;        /* records refused, this batch */
	size_t nref;
	struct idset refset;
	struct tpart part[16];
	int stream_t;               /* the part sent while it is built, */
	int stream_which;           /* direct (0) or staged (1); -1: none */
	int stream_failed;
};

/* Gathers the ids one commit touched; stops once the batch is full. */
static int
collect_commit(const struct store_commit *sc, void *arg)
{
	struct batch *b = arg;
	const struct proto_commit *c = sc->c;
	uint32_t i;

	if (c->seq != b->want)
		return 1;            /* a gap: stop at it */
	for (i = 0; i < c->nops; i++)
		idset_add(&b->ids, c->ops[i].id);
	if (b->nupd == 0 || memcmp(b->upd[b->nupd - 1].origin, c->origin,
	    PROTO_KEY_LEN) != 0) {
		if (b->nupd == b->cupd) {
			b->cupd = b->cupd ? b->cupd * 2 : 16;
			b->upd = xreallocarray(b->upd, b->cupd,
			    sizeof(*b->upd));
		}
		memcpy(b->upd[b->nupd].origin, c->origin, PROTO_KEY_LEN);
		b->nupd++;
	}
	b->upd[b->nupd - 1].seq = c->seq;
	b->commits++;
	b->want++;
	if (b->ids.n >= b->m->batch) {
		b->full = 1;
		return 1;
	}
	return 0;
}

struct head {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
};

struct heads {
	struct head *h;
	size_t n, cap;
};

static int
head_cb(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const uint8_t hash[PROTO_HASH_LEN], void *arg)
{
	struct heads *hs = arg;

	if (hs->n == hs->cap) {
		hs->cap = hs->cap ? hs->cap * 2 : 16;
		hs->h = xreallocarray(hs->h, hs->cap, sizeof(*hs->h));
	}
	memcpy(hs->h[hs->n].origin, origin, PROTO_KEY_LEN);
	hs->h[hs->n++].seq = seq;
	return 0;
}

/* Appends a field's value in COPY text form (\N for none). */
static void
value_add(struct buf *b, const struct sch_field *f, const msgpack_object *v)
{
	struct buf a = { 0 };
	uint32_t i;

	if (v == NULL) {
		buf_str(b, "\\N");
		return;
	}
	switch (f->type) {
	case SCH_TEXT:
	case SCH_ENUM:
	case SCH_DATE:
		if (v->type != MSGPACK_OBJECT_STR)
			break;
		copy_esc(b, v->via.str.ptr, v->via.str.size);
		return;
	case SCH_UINT:
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			break;
		buf_u64(b, v->via.u64);
		return;
	case SCH_DEC2:
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
			break;
		buf_printf(b, "%llu.%02llu",
		    (unsigned long long)(v->via.u64 / 100),
		    (unsigned long long)(v->via.u64 % 100));
		return;
	case SCH_REF:
	case SCH_KEY:
		if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size >
		    PROTO_KEY_LEN)
			break;
		hex_add(b, (const uint8_t *)v->via.bin.ptr, v->via.bin.size);
		return;
	case SCH_SET:
	case SCH_LIST:
	case SCH_REFS:
		if (v->type != MSGPACK_OBJECT_ARRAY)
			break;
		buf_ch(&a, '{');
		for (i = 0; i < v->via.array.size; i++) {
			const msgpack_object *e = &v->via.array.ptr[i];

			if (i > 0)
				buf_ch(&a, ',');
			if (e->type == MSGPACK_OBJECT_STR)
				array_elem(&a, e->via.str.ptr, e->via.str.size);
			else if (e->type == MSGPACK_OBJECT_BIN &&
			    e->via.bin.size <= PROTO_KEY_LEN)
				hex_add(&a, (const uint8_t *)e->via.bin.ptr,
				    e->via.bin.size);
			else
				buf_str(&a, "NULL");
		}
		buf_ch(&a, '}');
		copy_esc(b, a.p, a.len);
		buf_free(&a);
		return;
	}
	buf_str(b, "\\N");
}

/* Appends a record as one COPY line. */
static void
row_add(struct buf *b, const struct store_rec *r)
{
	static time_t last_secs = -1;
	static char last_fmt[40];
	const struct sch_type *t = r->type;
	const uint8_t *by = NULL;
	uint64_t hlc = 0, ms;
	time_t secs;
	struct tm tm;
	uint32_t i;

	hex_add(b, r->id, PROTO_ID_LEN);
	for (i = 0; i < t->nfields; i++) {
		buf_ch(b, '\t');
		value_add(b, &t->fields[i], store_rec_value(r,
		    t->fields[i].name));
	}
	for (i = 0; i < r->nclocks; i++) {
		const msgpack_object *c = r->clocks[i].via.array.ptr;
		const uint8_t *o = (const uint8_t *)c[1].via.bin.ptr;

		if (by == NULL || c[0].via.u64 > hlc || (c[0].via.u64 == hlc &&
		    memcmp(o, by, PROTO_KEY_LEN) > 0)) {
			hlc = c[0].via.u64;
			by = o;
		}
	}
	buf_ch(b, '\t');
	if (by != NULL)
		hex_add(b, by, PROTO_KEY_LEN);
	else
		buf_str(b, "\\N");
	ms = hlc >> 16;
	secs = (time_t)(ms / 1000);
	if (by == NULL) {
		buf_str(b, "\t\\N\n");
		return;
	}
	/* The writes of one commit share their second: format it once. */
	if (secs != last_secs) {
		if (gmtime_r(&secs, &tm) == NULL) {
			buf_str(b, "\t\\N\n");
			return;
		}
		snprintf(last_fmt, sizeof(last_fmt),
		    "\t%04d-%02d-%02d %02d:%02d:%02d.", tm.tm_year + 1900,
		    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
		    tm.tm_sec);
		last_secs = secs;
	}
	buf_str(b, last_fmt);
	buf_ch(b, (char)('0' + ms % 1000 / 100));
	buf_ch(b, (char)('0' + ms % 100 / 10));
	buf_ch(b, (char)('0' + ms % 10));
	buf_str(b, "+00\n");
}

static void
push_id(uint8_t (**ids)[PROTO_ID_LEN], size_t *n, size_t *cap,
    const uint8_t *id)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 256;
		*ids = xreallocarray(*ids, *cap, PROTO_ID_LEN);
	}
	memcpy((*ids)[(*n)++], id, PROTO_ID_LEN);
}

static void
parts_reset(struct batch *b)
{
	unsigned t;

	for (t = 0; t < sch_ntypes; t++) {
		struct tpart *p = &b->part[t];

		buf_reset(&p->direct);
		buf_reset(&p->stage);
		buf_reset(&p->del);
		p->nd = p->ns = p->ndel = 0;
	}
}

static void
batch_free(struct batch *b)
{
	unsigned t;
	size_t i;

	for (t = 0; t < 16; t++) {
		struct tpart *p = &b->part[t];

		buf_free(&p->direct);
		buf_free(&p->stage);
		buf_free(&p->del);
		free(p->dids);
		free(p->sids);
	}
	for (i = 0; i < b->nref; i++)
		free(b->ref[i].reason);
	free(b->ref);
	free(b->upd);
	idset_free(&b->ids);
	idset_free(&b->refset);
}

/* Starts a COPY ... FROM STDIN; returns 0 or an error. */
static int
copy_begin(struct mirror *m, const char *sql, char **cause)
{
	PGresult *res = PQexec(m->conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COPY_IN)
		rc = pg_fail(m, res, "COPY", cause);
	PQclear(res);
	return rc;
}

/* Sends COPY data; returns 0, or -1 when the connection failed (the
 * COPY's end then says why). */
static int
copy_put(struct mirror *m, const struct buf *data)
{
	size_t off;

	for (off = 0; off < data->len; off += COPY_CHUNK) {
		size_t n = data->len - off < COPY_CHUNK ? data->len - off :
		    COPY_CHUNK;

		if (PQputCopyData(m->conn, data->p + off, (int)n) != 1)
			return -1;
	}
	return 0;
}

/* Ends a COPY; returns its result (the caller clears it), or NULL with
 * *rc set when the connection failed. */
static PGresult *
copy_end(struct mirror *m, int *rc, char **cause)
{
	PGresult *res, *last = NULL;

	if (PQputCopyEnd(m->conn, NULL) != 1) {
		*rc = pg_fail(m, NULL, "COPY", cause);
		return NULL;
	}
	while ((res = PQgetResult(m->conn)) != NULL) {
		if (last == NULL)
			last = res;
		else
			PQclear(res);
	}
	*rc = 0;
	return last;
}

/*
 * Finds which record of the batch a failed statement names: the COPY
 * line (ids, n: the ids by line), or the failing row's id in the detail.
 * Returns 1 with id filled, else 0.
 */
static int
refused_id(const struct batch *b, const PGresult *res,
    uint8_t (*ids)[PROTO_ID_LEN], size_t n, uint8_t id[PROTO_ID_LEN])
{
	const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
	const char *det = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *p;
	char hex[2 * PROTO_ID_LEN + 1];

	if (ids != NULL && ctx != NULL && (p = strstr(ctx, ", line ")) != NULL) {
		unsigned long line = strtoul(p + 7, NULL, 10);

		if (line >= 1 && line <= n) {
			memcpy(id, ids[line - 1], PROTO_ID_LEN);
			return 1;
		}
	}
	if (det != NULL && (p = strstr(det, "Failing row contains (")) != NULL) {
		memcpy(hex, p + 22, 2 * PROTO_ID_LEN);
		hex[2 * PROTO_ID_LEN] = '\0';
		if (strlen(p + 22) >= 2 * PROTO_ID_LEN &&
		    proto_unhex(id, PROTO_ID_LEN, hex) == 0 &&
		    idset_has(&b->ids, id))
			return 1;
	}
	return 0;
}

/* Records a refusal of id for this batch, from a failed result. */
static void
add_refusal(struct batch *b, const uint8_t *id, const PGresult *res)
{
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *det = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	char *line = first_line(msg);

	b->ref = xreallocarray(b->ref, b->nref + 1, sizeof(*b->ref));
	memcpy(b->ref[b->nref].id, id, PROTO_ID_LEN);
	if (det != NULL && strncmp(det, "Failing row", 11) != 0) {
		char *d = first_line(det);

		b->ref[b->nref].reason = xasprintf("%s (%s)", line, d);
		free(d);
	} else
		b->ref[b->nref].reason = xstrdup(line);
	free(line);
	b->nref++;
	idset_add(&b->refset, id);
}

/*
 * Reads each touched record's state and sorts it into the parts.  The
 * part being streamed (a COPY open for it) is sent in pieces as it grows,
 * so PostgreSQL parses and inserts while the store is still read.
 */
static void
build_parts(struct batch *b)
{
	struct mirror *m = b->m;
	struct buf *sb = NULL;
	size_t i;

	if (b->stream_t >= 0)
		sb = b->stream_which ? &b->part[b->stream_t].stage :
		    &b->part[b->stream_t].direct;

	parts_reset(b);
	for (i = 0; i < b->ids.cap; i++) {
		const uint8_t *id = b->ids.ids[i];
		struct store_rec r;
		struct tpart *p;
		int fresh;

		if (!b->ids.used[i])
			continue;
		if (store_get(m->s, id, &r) != 0)
			continue;    /* never stored: nothing to mirror */
		p = &b->part[r.type - sch_types];
		fresh = m->fresh && !idset_has(&m->seen, id);
		if (r.deleted) {
			if (!fresh) {
				buf_ch(&p->del, p->ndel ? ',' : '{');
				hex_add(&p->del, id, PROTO_ID_LEN);
				p->ndel++;
			}
		} else if (idset_has(&b->refset, id)) {
			/* written to _refused instead */
		} else if (fresh) {
			row_add(&p->direct, &r);
			push_id(&p->dids, &p->nd, &p->cd, id);
		} else {
			row_add(&p->stage, &r);
			push_id(&p->sids, &p->ns, &p->cs, id);
		}
		store_rec_free(&r);
		if (sb != NULL && sb->len >= 256 * 1024 && !b->stream_failed) {
			if (copy_put(m, sb) != 0)
				b->stream_failed = 1;
			buf_reset(sb);
		}
	}
}

/*
 * Looks at the result of a COPY of part t (which: direct or staged):
 * returns 0 when it went in, 1 when a record was refused (b->ref has it)
 * or direct copies must stop, or an error.  Clears res.
 */
static int
copy_checked(struct batch *b, PGresult *res, unsigned t, int which,
    char **cause)
{
	struct mirror *m = b->m;
	struct tpart *pt = &b->part[t];
	const char *state;
	uint8_t id[PROTO_ID_LEN];
	int rc;

	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return 0;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (!which && state != NULL && strcmp(state, "23505") == 0) {
		/*
		 * A row was there after all (written by hand, say): no
		 * more direct copies, upsert everything.
		 */
		m->fresh = 0;
		PQclear(res);
		return 1;
	}
	if (refused_id(b, res, which ? pt->sids : pt->dids,
	    which ? pt->ns : pt->nd, id)) {
		add_refusal(b, id, res);
		PQclear(res);
		return 1;
	}
	rc = pg_fail(m, res, "COPY", cause);
	PQclear(res);
	return rc;
}

/* Upserts part t from its staging table; returns as copy_checked(). */
static int
upsert_part(struct batch *b, unsigned t, char **cause)
{
	struct mirror *m = b->m;
	PGresult *res = PQexec(m->conn, m->upsert[t]);
	uint8_t id[PROTO_ID_LEN];
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (refused_id(b, res, NULL, 0, id)) {
			add_refusal(b, id, res);
			rc = 1;
		} else
			rc = pg_fail(m, res, "upsert", cause);
	}
	PQclear(res);
	return rc;
}

/*
 * Makes the staging table of type t for this connection, the first time
 * it is needed (a first mirror into empty tables needs none).  Returns 0
 * or an error.
 */
static int
stage_table(struct mirror *m, unsigned t, char **cause)
{
	struct buf sql = { 0 };
	int rc;

	if (m->staged & (1u << t))
		return 0;
	buf_printf(&sql, "CREATE TEMP TABLE IF NOT EXISTS \"_stage_%s\" "
	    "(LIKE \"%s\".\"%s\" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
	    sch_types[t].name, m->schema, sch_types[t].name);
	rc = exec_cmd(m, sql.p, "making a staging table", cause);
	buf_free(&sql);
	if (rc == 0)
		m->staged |= 1u << t;
	return rc;
}

/* Writes the COPY statement of part t into sql. */
static void
copy_sql(const struct mirror *m, struct buf *sql, unsigned t, int which)
{
	buf_reset(sql);
	if (which)
		buf_printf(sql, "COPY pg_temp.\"_stage_%s\" (%s) FROM STDIN",
		    sch_types[t].name, m->cols[t]);
	else
		buf_printf(sql, "COPY \"%s\".\"%s\" (%s) FROM STDIN",
		    m->schema, sch_types[t].name, m->cols[t]);
}

/*
 * Inside the transaction begun: empties the record tables, the refusals
 * and the positions, and records the epoch m->reset is for.  DELETE, not
 * TRUNCATE: readers see the old rows until the transaction commits.
 */
static int
reset_tables(struct mirror *m, char **cause)
{
	struct buf sql = { 0 };
	unsigned t;
	int rc;

	for (t = 0; t < sch_ntypes; t++)
		buf_printf(&sql, "DELETE FROM \"%s\".\"%s\"; ", m->schema,
		    sch_types[t].name);
	buf_printf(&sql, "DELETE FROM \"%s\"._refused; DELETE FROM "
	    "\"%s\"._position; INSERT INTO \"%s\"._meta VALUES ('epoch', "
	    "'%llu') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
	    m->schema, m->schema, m->schema, (unsigned long long)m->epoch);
	rc = exec_cmd(m, sql.p, "mirroring the records anew", cause);
	buf_free(&sql);
	return rc;
}

/*
 * Writes the batch's parts, refusals and positions in one transaction.
 * Returns 0 when committed, 1 when a record was refused (b->ref has it;
 * build and write again), or an error.
 */
static int
write_batch(struct batch *b, char **cause)
{
	struct mirror *m = b->m;
	struct buf sql = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
	const char *p[3];
	PGresult *res;
	unsigned t;
	size_t i;
	int rc;

	unsigned staged0 = m->staged;

	if ((rc = exec_cmd(m, "BEGIN", "BEGIN", cause)) != 0)
		return rc;
	if (m->reset && (rc = reset_tables(m, cause)) != 0)
		goto fail;
	/*
	 * The part the last batch wrote most of is sent while the batch is
	 * built; the others once it is.
	 */
	b->stream_t = m->stream_t;
	b->stream_which = m->fresh ? m->stream_which : 1;
	b->stream_failed = 0;
	if (b->stream_which &&
	    (rc = stage_table(m, (unsigned)b->stream_t, cause)) != 0)
		goto fail;
	copy_sql(m, &sql, (unsigned)b->stream_t, b->stream_which);
	if ((rc = copy_begin(m, sql.p, cause)) != 0)
		goto fail;
	parts_reset(b);
	build_parts(b);
	{
		struct tpart *pt = &b->part[b->stream_t];

		if (!b->stream_failed)
			copy_put(m, b->stream_which ? &pt->stage : &pt->direct);
		res = copy_end(m, &rc, cause);
		if (res == NULL)
			goto fail;
		if ((rc = copy_checked(b, res, (unsigned)b->stream_t,
		    b->stream_which, cause)) != 0)
			goto fail;
		if (b->stream_which && pt->ns > 0 &&
		    (rc = upsert_part(b, (unsigned)b->stream_t, cause)) != 0)
			goto fail;
	}
	for (t = 0; t < sch_ntypes; t++) {
		struct tpart *pt = &b->part[t];
		const char *tn = sch_types[t].name;
		int which;

		for (which = 0; which < 2; which++) {
			const struct buf *data = which ? &pt->stage :
			    &pt->direct;

			if (data->len == 0 || ((int)t == b->stream_t &&
			    which == b->stream_which))
				continue;
			if (which && (rc = stage_table(m, t, cause)) != 0)
				goto fail;
			copy_sql(m, &sql, t, which);
			if ((rc = copy_begin(m, sql.p, cause)) != 0)
				goto fail;
			copy_put(m, data);
			res = copy_end(m, &rc, cause);
			if (res == NULL)
				goto fail;
			if ((rc = copy_checked(b, res, t, which, cause)) != 0)
				goto fail;
			if (which && (rc = upsert_part(b, t, cause)) != 0)
				goto fail;
		}
		if (pt->ndel > 0) {
			buf_reset(&sql);
			buf_printf(&sql, "DELETE FROM \"%s\".\"%s\" WHERE id = "
			    "ANY ($1::text[])", m->schema, tn);
			buf_reset(&a1);
			buf_add(&a1, pt->del.p, pt->del.len);
			buf_ch(&a1, '}');
			p[0] = a1.p;
			res = query(m, sql.p, 1, p, "delete", &rc, cause);
			if (res == NULL)
				goto fail;
			PQclear(res);
		}
	}
	if (m->nrefused > 0 || b->nref > 0) {
		buf_reset(&a1);
		buf_ch(&a1, '{');
		for (i = 0; i < b->ids.cap; i++) {
			if (!b->ids.used[i])
				continue;
			if (a1.len > 1)
				buf_ch(&a1, ',');
			hex_add(&a1, b->ids.ids[i], PROTO_ID_LEN);
		}
		buf_ch(&a1, '}');
		buf_reset(&sql);
		buf_printf(&sql, "DELETE FROM \"%s\"._refused WHERE id = ANY "
		    "($1::text[])", m->schema);
		p[0] = a1.p;
		res = query(m, sql.p, 1, p, "clearing refusals", &rc, cause);
		if (res == NULL)
			goto fail;
		PQclear(res);
	}
	if (b->nref > 0) {
		buf_reset(&a1);
		buf_reset(&a2);
		buf_reset(&a3);
		for (i = 0; i < b->nref; i++) {
			struct store_rec r;
			const char *tn = "?";

			if (store_get(m->s, b->ref[i].id, &r) == 0) {
				tn = r.type->name;
				store_rec_free(&r);
			}
			buf_ch(&a1, i ? ',' : '{');
			hex_add(&a1, b->ref[i].id, PROTO_ID_LEN);
			buf_ch(&a2, i ? ',' : '{');
			buf_str(&a2, tn);
			buf_ch(&a3, i ? ',' : '{');
			array_elem(&a3, b->ref[i].reason,
			    strlen(b->ref[i].reason));
		}
		buf_ch(&a1, '}');
		buf_ch(&a2, '}');
		buf_ch(&a3, '}');
		buf_reset(&sql);
		buf_printf(&sql, "INSERT INTO \"%s\"._refused (id, type, "
		    "reason) SELECT * FROM unnest($1::text[], $2::text[], "
		    "$3::text[])", m->schema);
		p[0] = a1.p;
		p[1] = a2.p;
		p[2] = a3.p;
		res = query(m, sql.p, 3, p, "recording refusals", &rc, cause);
		if (res == NULL)
			goto fail;
		PQclear(res);
	}
	buf_reset(&a1);
	buf_reset(&a2);
	for (i = 0; i < b->nupd; i++) {
		buf_ch(&a1, i ? ',' : '{');
		hex_add(&a1, b->upd[i].origin, PROTO_KEY_LEN);
		buf_printf(&a2, "%c%llu", i ? ',' : '{',
		    (unsigned long long)b->upd[i].seq);
	}
	buf_ch(&a1, '}');
	buf_ch(&a2, '}');
	buf_reset(&sql);
	buf_printf(&sql, "INSERT INTO \"%s\"._position (origin, seq) SELECT * "
	    "FROM unnest($1::text[], $2::bigint[]) ON CONFLICT (origin) DO "
	    "UPDATE SET seq = EXCLUDED.seq, mirrored_at = now()", m->schema);
	p[0] = a1.p;
	p[1] = a2.p;
	res = query(m, sql.p, 2, p, "moving the positions", &rc, cause);
	if (res == NULL)
		goto fail;
	PQclear(res);
	rc = exec_cmd(m, "COMMIT", "COMMIT", cause);
	goto out;
fail:
	/* Staging tables made in this transaction went with it. */
	m->staged = staged0;
	if (m->conn != NULL && PQstatus(m->conn) == CONNECTION_OK) {
		res = PQexec(m->conn, "ROLLBACK");
		PQclear(res);
	}
out:
	buf_free(&sql);
	buf_free(&a1);
	buf_free(&a2);
	buf_free(&a3);
	return rc;
}

/* Writes one gathered batch, refusing records PostgreSQL refuses. */
static int
flush_batch(struct batch *b, struct mirror_stats *st, char **cause)
{
	struct mirror *m = b->m;
	unsigned t, tries;
	size_t i;
	int rc;

	for (tries = 0;; tries++) {
		rc = write_batch(b, cause);
		if (rc != 1)
			break;
		if (tries >= MAX_REFUSALS_PER_BATCH) {
			free(*cause);
			*cause = xstrdup("postgres: too many records refused "
			    "in one batch");
			return CS_EDB;
		}
	}
	if (rc != 0)
		return rc;
	m->reset = 0;
	for (i = 0; i < b->nref; i++) {
		char hex[2 * PROTO_ID_LEN + 1];

		proto_hex(hex, b->ref[i].id, PROTO_ID_LEN);
		mlog(m, MIRROR_WARN, "record %s refused by PostgreSQL: %s",
		    hex, b->ref[i].reason);
	}
	for (t = 0; t < sch_ntypes; t++) {
		struct tpart *p = &b->part[t];
		struct tpart *big = &b->part[m->stream_t];

		if (p->nd + p->ns > big->nd + big->ns) {
			m->stream_t = (int)t;
			m->stream_which = p->nd >= p->ns ? 0 : 1;
		}
		st->rows += p->nd + p->ns;
		st->removed += p->ndel;
		if (m->fresh)
			for (i = 0; i < p->nd; i++)
				idset_add(&m->seen, p->dids[i]);
	}
	st->refused += b->nref;
	st->commits += b->commits;
	st->batches++;
	/* Refusals of ids this batch touched were cleared, then added. */
	if (m->nrefused > 0 || b->nref > 0) {
		PGresult *res;
		struct buf sql = { 0 };

		buf_printf(&sql, "SELECT count(*) FROM \"%s\"._refused",
		    m->schema);
		res = PQexec(m->conn, sql.p);
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
			m->nrefused = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		buf_free(&sql);
	}
	for (i = 0; i < b->nupd; i++)
		pos_set(m, b->upd[i].origin, b->upd[i].seq);
	return 0;
}

int
mirror_run(struct mirror *m, struct mirror_stats *st, char **cause)
{
	struct heads hs = { 0 };
	int rc = 0;

	if ((rc = mirror_connect(m, cause)) != 0)
		return rc;
	/*
	 * The epoch moved (or is not recorded yet): commits were withdrawn
	 * and the records derived anew, so rows may have changed with no
	 * commit past the positions.  Mirror everything anew from seq 1,
	 * the emptying of the tables in the transaction of the first batch.
	 * The epoch is read before the log: a withdrawal after it moves it
	 * again, and the next run starts anew once more.
	 */
	{
		uint64_t e = store_epoch(m->s);

		if (e != m->epoch) {
			m->epoch = e;
			m->reset = 1;
			m->npos = 0;
			m->fresh = 1;
			m->nrefused = 0;
			idset_clear(&m->seen);
		}
	}
	for (;;) {
		struct batch b;
		size_t i, k, start;

		memset(&b, 0, sizeof(b));
		b.m = m;
		hs.n = 0;
		store_heads(m->s, head_cb, &hs);
		/*
		 * Each batch starts at the next origin, so that a long backlog
		 * of one origin (a site that was offline for weeks) does not
		 * hold the others' fresh commits back until it is through.
		 */
		start = hs.n > 0 ? m->rotate++ % hs.n : 0;
		for (k = 0; k < hs.n && !b.full; k++) {
			uint64_t from;

			i = (start + k) % hs.n;
			from = pos_get(m, hs.h[i].origin);
			if (hs.h[i].seq <= from)
				continue;
			b.want = from + 1;
			store_log(m->s, hs.h[i].origin, from + 1,
			    collect_commit, &b);
		}
		if (b.commits == 0 && m->reset) {
			/* Nothing accepted is left: only empty the tables. */
			batch_free(&b);
			if ((rc = exec_cmd(m, "BEGIN", "BEGIN", cause)) == 0 &&
			    (rc = reset_tables(m, cause)) == 0 &&
			    (rc = exec_cmd(m, "COMMIT", "COMMIT", cause)) == 0)
				m->reset = 0;
			else if (m->conn != NULL &&
			    PQstatus(m->conn) == CONNECTION_OK)
				PQclear(PQexec(m->conn, "ROLLBACK"));
			break;
		}
		if (b.commits == 0) {
			batch_free(&b);
			break;
		}
		rc = flush_batch(&b, st, cause);
		batch_free(&b);
		if (rc != 0)
			break;
	}
	free(hs.h);
	return rc;
}

uint64_t
mirror_lag(struct mirror *m)
{
	struct heads hs = { 0 };
	uint64_t lag = 0;
	size_t i;

	store_heads(m->s, head_cb, &hs);
	for (i = 0; i < hs.n; i++) {
		uint64_t p = pos_get(m, hs.h[i].origin);

		if (hs.h[i].seq > p)
			lag += hs.h[i].seq - p;
	}
	free(hs.h);
	return lag;
}

void
mirror_positions(const struct mirror *m, mirror_pos_fn fn, void *arg)
{
	size_t i;

	for (i = 0; i < m->npos; i++)
		fn(m->pos[i].origin, m->pos[i].seq, arg);
}

void
mirror_logf(struct mirror *m, enum mirror_level level, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	if (m->log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	m->log(m->log_arg, level, msg);
}

struct store *
mirror_store(const struct mirror *m)
{
	return m->s;
}
