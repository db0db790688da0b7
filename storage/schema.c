/*
 * schema.c: the café record types and their fields, as one table.
 *
 * Every rule about a field lives in its row: type, required, bounds, enum
 * tokens, referenced type, help, a bound by another field (at_most), a
 * value filled in from a referenced record (from), advice; every rule about
 * a type in its: writers, its id rule (id_from), the field whose site's
 * hub log carries the admin's writes (log_site).  Validation of typed text (sch_parse),
 * validation of received values (sch_check), text output (sch_format), the
 * command line's help, CSV columns and JSON keys all read this table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"

#define A SCH_ROLE_ADMIN
#define S SCH_ROLE_SITE
#define C SCH_ROLE_CONSULTANT

static const char *const partner_types[] = { "early_care",
	"neighborhood_center", "family_resource_center", "school",
	"immigrant_refugee", "faith_based", "health_department", "other",
	NULL };
static const char *const site_status[] = { "exploring", "starting",
	"active", "paused", "closed", NULL };
static const char *const person_roles[] = { "parent_leader", "host",
	"table_host", "partner_staff", "consultant", "coach", NULL };
static const char *const factors[] = { "resilience", "social_connections",
	"concrete_support", "child_development", "social_emotional", NULL };
static const char *const formats[] = { "parent", "dads", "community",
	"virtual", NULL };
static const char *const elements[] = { "welcome", "theme", "agreements",
	"pair_talk", "table_talk", "commitment_cards", "harvest", "closing",
	NULL };
static const char *const action_status[] = { "open", "doing", "done",
	"dropped", NULL };
static const char *const training_kinds[] = { "orientation",
	"host_training", "table_host_training", "coaching", NULL };
static const char *const milestone_status[] = { "not_started",
	"in_progress", "done", NULL };
static const char *const severities[] = { "info", "concern",
	"action_required", NULL };
static const char *const audit_status[] = { "open", "resolved", NULL };
static const char *const member_scopes[] = { "all", "assigned", NULL };
static const char *const member_status[] = { "active", "revoked", NULL };

#define TEXT(n, req, max, h) { n, SCH_TEXT, req, 0, max, NULL, NULL, h, NULL, \
	NULL, NULL }
#define ENUM(n, req, tok, h) { n, SCH_ENUM, req, 0, 0, tok, NULL, h, NULL, \
	NULL, NULL }
#define SET(n, req, tok, h) { n, SCH_SET, req, 0, 0, tok, NULL, h, NULL, \
	NULL, NULL }
#define SET_ADV(n, req, tok, adv, h) { n, SCH_SET, req, 0, 0, tok, NULL, h, \
	NULL, NULL, adv }
#define LIST(n, max, h) { n, SCH_LIST, 0, 0, max, NULL, NULL, h, NULL, NULL, \
	NULL }
#define DATE(n, req, h) { n, SCH_DATE, req, 0, 0, NULL, NULL, h, NULL, NULL, \
	NULL }
#define UINT(n, req, lo, hi, h) { n, SCH_UINT, req, lo, hi, NULL, NULL, h, \
	NULL, NULL, NULL }
#define UINT_LE(n, req, lo, hi, lim, h) \
	{ n, SCH_UINT, req, lo, hi, NULL, NULL, h, lim, NULL, NULL }
#define UINT_ADV(n, req, lo, hi, adv, h) \
	{ n, SCH_UINT, req, lo, hi, NULL, NULL, h, NULL, NULL, adv }
#define DEC2(n, lo, hi, h) { n, SCH_DEC2, 0, lo, hi, NULL, NULL, h, NULL, \
	NULL, NULL }
#define REF(n, req, t, h) { n, SCH_REF, req, 0, 0, NULL, t, h, NULL, NULL, \
	NULL }
#define REF_FROM(n, t, from, h) { n, SCH_REF, 0, 0, 0, NULL, t, h, NULL, \
	from, NULL }
#define REFS(n, t, h) { n, SCH_REFS, 0, 0, 0, NULL, t, h, NULL, NULL, NULL }
#define KEY(n, req, h) { n, SCH_KEY, req, 0, 0, NULL, NULL, h, NULL, NULL, \
	NULL }

/* A café should hold every fidelity element, at tables of five at most. */
static const struct sch_advice fidelity = { "fidelity elements", 0, NULL };
static const struct sch_advice table_size = { "a table of", 5,
	"tables are at most five, host included" };

static const struct sch_field site_fields[] = {
	TEXT("name", 1, 200, "the site's name"),
	TEXT("organization", 0, 200, "the organization that runs it"),
	TEXT("county", 0, 100, "county"),
	TEXT("region", 0, 100, "region of the state"),
	ENUM("partner_type", 0, partner_types, "kind of community partner"),
	LIST("languages", 64, "languages spoken"),
	ENUM("status", 0, site_status, "where the site stands"),
	DATE("started", 0, "when the site started"),
};

static const struct sch_field person_fields[] = {
	TEXT("name", 1, 200, "the person's name"),
	SET("roles", 1, person_roles, "roles in the café team"),
	REF("site", 0, "site", "the person's site"),
	DATE("trained", 0, "when the person was trained"),
	LIST("languages", 64, "languages spoken"),
};

static const struct sch_field cafe_fields[] = {
	REF("site", 1, "site", "the site that ran the café"),
	DATE("date", 1, "the day of the café"),
	ENUM("format", 1, formats, "café format"),
	UINT("series_no", 0, 1, 7, "discussion number in the series"),
	TEXT("topic", 0, 200, "the conversation's theme"),
	SET("factors", 1, factors, "protective factors at its centre"),
	REFS("hosts", "person", "hosts (person ids)"),
	LIST("partners", 200, "community partners who joined"),
	TEXT("language", 0, 64, "language of the conversation"),
	UINT("attendees", 0, 0, 100000, "parents and caregivers attending"),
	UINT_LE("new_attendees", 0, 0, 100000, "attendees",
	    "first-time attendees"),
	UINT("children_cared_for", 0, 0, 100000, "children in child care"),
	UINT("tables", 0, 0, 1000, "number of tables"),
	UINT_ADV("max_table_size", 0, 0, 1000, &table_size,
	    "largest table, host included"),
	SET_ADV("elements", 0, elements, &fidelity,
	    "fidelity elements that happened"),
	TEXT("harvest", 0, 8000, "insights, wisdom and actions harvested"),
};

static const struct sch_field action_fields[] = {
	REF("cafe", 1, "cafe", "the café the action came from"),
	TEXT("title", 1, 200, "what is to be done"),
	TEXT("owner", 0, 200, "who follows it up"),
	DATE("due", 0, "when it is due"),
	ENUM("status", 0, action_status, "progress"),
	TEXT("outcome", 0, 2000, "what came of it"),
	REF_FROM("site", "site", "cafe", "the café's site (filled in)"),
};

static const struct sch_field training_fields[] = {
	REF("site", 1, "site", "the site trained"),
	DATE("date", 1, "the day of the training"),
	ENUM("kind", 1, training_kinds, "kind of training"),
	TEXT("trainer", 0, 200, "who trained"),
	UINT("participants", 0, 0, 10000, "number of participants"),
	TEXT("notes", 0, 2000, "notes"),
};

static const struct sch_field milestone_fields[] = {
	REF("site", 1, "site", "the site"),
	UINT("step", 1, 1, 6, "implementation step: 1 create the leadership "
	    "challenge, 2 first contact with the café network, 3 "
	    "teleconference with a café consultant, 4 build the starting "
	    "team, 5 orientation with café consultants, 6 mentoring hosts to "
	    "design, evaluate and sustain; the latest record of a step wins"),
	ENUM("status", 1, milestone_status, "where the step stands"),
	DATE("date", 0, "when it was reached"),
	TEXT("notes", 0, 2000, "notes"),
};

static const struct sch_field feedback_fields[] = {
	REF("cafe", 1, "cafe", "the café the forms came from"),
	REF_FROM("site", "site", "cafe", "the café's site (filled in)"),
	UINT("responses", 1, 0, 100000, "forms returned"),
	UINT_LE("felt_safe", 0, 0, 100000, "responses", "felt safe sharing"),
	UINT_LE("learned", 0, 0, 100000, "responses", "learned something"),
	UINT_LE("will_return", 0, 0, 100000, "responses", "will return"),
	UINT_LE("followed_through", 0, 0, 100000, "responses",
	    "followed through on an earlier commitment"),
	UINT_LE("wants_role", 0, 0, 100000, "responses",
	    "wants a role on the café team"),
	DEC2("pfs_resilience", 100, 700,
	    "PFS-2 family functioning and resilience mean"),
	DEC2("pfs_nurturing", 100, 700, "PFS-2 nurturing and attachment mean"),
	DEC2("pfs_social_support", 100, 700, "PFS-2 social supports mean"),
	DEC2("pfs_relationship", 100, 700,
	    "PFS-2 caregiver/practitioner relationship mean"),
	DEC2("pfs_concrete", 100, 700, "PFS-2 concrete supports mean"),
};

static const struct sch_field audit_fields[] = {
	REF("site", 1, "site", "the site audited"),
	DATE("date", 1, "the day of the finding"),
	TEXT("finding", 1, 4000, "what was found"),
	ENUM("severity", 0, severities, "how serious"),
	ENUM("status", 0, audit_status, "open or resolved"),
};

/*
 * The admin log: one member record per enrolled key, written only by the
 * network's admin (the key that is the network id).  Its id is made from
 * the key in a space no other record may use (proto_member_id()), so a key
 * has one record, found without a search, that nobody else can occupy.
 */
static const struct sch_field member_fields[] = {
	KEY("key", 1, "the node's id (its key, 64 hex digits)"),
	ENUM("role", 1, STORE_ROLE_TOKENS, "what the node may write and read"),
	TEXT("name", 1, 200, "who or what the node is"),
	REF("site", 0, "site", "the site a site key speaks for"),
	REFS("sites", "site", "the sites a consultant may read"),
	ENUM("scope", 0, member_scopes,
	    "a consultant's reading: all sites, or the assigned ones"),
	ENUM("status", 0, member_status, "active, or revoked"),
	UINT("revoked_after", 0, 0, 4294967295U,
	    "revoked: the last of the key's commits that stays valid"),
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Every type but member and site itself is carried, when the admin writes
 * it, by the hub log of the site its "site" field names; a member record,
 * read by every node, by the admin log, and its id is made from its key.
 */
const struct sch_type sch_types[] = {
	{ "site", A, site_fields, N(site_fields), "a pilot site", NULL,
	    NULL },
	{ "person", A | S, person_fields, N(person_fields),
	    "a host, parent leader, partner or coach", NULL, "site" },
	{ "cafe", S, cafe_fields, N(cafe_fields), "one café conversation",
	    NULL, "site" },
	{ "action", S, action_fields, N(action_fields),
	    "a follow-up action from a café", NULL, "site" },
	{ "training", A | S | C, training_fields, N(training_fields),
	    "an orientation, training or coaching", NULL, "site" },
	{ "milestone", A | C, milestone_fields, N(milestone_fields),
	    "an implementation step's status", NULL, "site" },
	{ "feedback", S, feedback_fields, N(feedback_fields),
	    "participant feedback totals for a café", NULL, "site" },
	{ "audit", C, audit_fields, N(audit_fields), "a consultant's finding",
	    NULL, "site" },
	{ "member", A, member_fields, N(member_fields),
	    "an enrolled node key and its role (the admin log)", "key", NULL },
};
const unsigned sch_ntypes = N(sch_types);

/* Finds a type by name. */
const struct sch_type *
sch_type_find(const char *name, size_t len)
{
	unsigned i;

	for (i = 0; i < sch_ntypes; i++)
		if (strlen(sch_types[i].name) == len &&
		    memcmp(sch_types[i].name, name, len) == 0)
			return &sch_types[i];
	return NULL;
}

/* Finds a field of t by name. */
const struct sch_field *
sch_field_find(const struct sch_type *t, const char *name, size_t len)
{
	unsigned i;

	/* name is len bytes and may hold anything, a NUL included. */
	for (i = 0; i < t->nfields; i++)
		if (len > 0 && t->fields[i].name[0] == name[0] &&
		    strlen(t->fields[i].name) == len &&
		    memcmp(t->fields[i].name, name, len) == 0)
			return &t->fields[i];
	return NULL;
}

/* Returns the index of token s (len bytes) in tokens, or -1. */
static int
token_index(const char *const *tokens, const char *s, size_t len)
{
	int i;

	for (i = 0; tokens[i] != NULL; i++)
		if (strlen(tokens[i]) == len && memcmp(tokens[i], s, len) == 0)
			return i;
	return -1;
}

/* Writes the tokens of an enum, space-separated, for error messages. */
static char *
token_list(const char *const *tokens)
{
	size_t n = 1, i;
	char *s;

	for (i = 0; tokens[i] != NULL; i++)
		n += strlen(tokens[i]) + 1;
	s = xmalloc(n);
	s[0] = '\0';
	for (i = 0; tokens[i] != NULL; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, tokens[i]);
	}
	return s;
}

static int
is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Parses YYYY-MM-DD (a real date, years 1900-2999) into YYYYMMDD. */
int
sch_date_parse(const char *s, size_t len, uint32_t *ymd)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
		31, 30, 31 };
	unsigned y = 0, m, d, i;

	if (len != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return -1;
	for (i = 0; i < 4; i++)
		y = y * 10 + (unsigned)(s[i] - '0');
	m = (unsigned)(s[5] - '0') * 10 + (unsigned)(s[6] - '0');
	d = (unsigned)(s[8] - '0') * 10 + (unsigned)(s[9] - '0');
	if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1)
		return -1;
	if (d > mdays[m - 1] + (m == 2 && is_leap(y)))
		return -1;
	*ymd = y * 10000 + m * 100 + d;
	return 0;
}

/* Parses an unsigned decimal integer; returns 0 or -1. */
static int
parse_uint(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* Parses a decimal with at most two places into hundredths. */
static int
parse_dec2(const char *s, uint64_t *v)
{
	uint64_t whole = 0, frac = 0;
	int places = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		whole = whole * 10 + (uint64_t)(*s - '0');
		if (whole > 1000000)
			return -1;
	}
	if (*s == '.') {
		s++;
		for (; *s >= '0' && *s <= '9' && places < 2; s++, places++)
			frac = frac * 10 + (uint64_t)(*s - '0');
		if (places == 0)
			return -1;
		if (places == 1)
			frac *= 10;
	}
	if (*s != '\0')
		return -1;
	*v = whole * 100 + frac;
	return 0;
}

/*
 * Splits a comma-separated list in place; returns the item count or -1 when
 * there are too many.  Items are trimmed of spaces; empty items are kept
 * for the caller to refuse.
 */
static int
split_list(char *s, char **items, int max)
{
	int n = 0;
	char *p = s;

	for (;;) {
		char *comma = strchr(p, ','), *end;

		if (n == max)
			return -1;
		if (comma != NULL)
			*comma = '\0';
		while (*p == ' ')
			p++;
		end = p + strlen(p);
		while (end > p && end[-1] == ' ')
			*--end = '\0';
		items[n++] = p;
		if (comma == NULL)
			return n;
		p = comma + 1;
	}
}

/* Sorts set token indexes (insertion sort: sets are tiny). */
static void
sort_ints(int *a, int n)
{
	int i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && a[j - 1] > a[j]; j--) {
			int t = a[j];

			a[j] = a[j - 1];
			a[j - 1] = t;
		}
}

/*
 * Returns whether n bytes are UTF-8 with no control characters but tab
 * and newline: what a text value may hold, typed or received.
 */
static int
utf8_clean(const unsigned char *p, size_t n)
{
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		unsigned char c = p[i];

		if (c < 0x80) {
			if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* No overlong forms, surrogates or code points past U+10FFFF;
		 * no C1 control (a terminal obeys some, U+009B is CSI), and
		 * no bidirectional embedding, override or isolate (U+202A-E,
		 * U+2066-9), which make a listing show other text than it
		 * holds. */
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
		    (cp >= 0x80 && cp <= 0x9f) ||
		    (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			return 0;
		i += len;
	}
	return 1;
}

/* Checks typed text; returns 0 or -1. */
static int
text_clean(const char *s)
{
	return utf8_clean((const unsigned char *)s, strlen(s)) ? 0 : -1;
}

/* ---- field types: one row of behaviour each ---------------------------
 *
 * What a field type does is one row of the table below (as Redis keeps a
 * type's operations in one table): how typed text becomes a value
 * (parse, after the spaces around it are dropped unless the type keeps
 * them), how a received value is checked (check: a scalar, or each item
 * of a list), and the traits other layers ask about (sch_ftypes[] in
 * storage.h).  A list type names its item type; its text is split at
 * commas, and its items parse with parse_items.
 */

/* What a parse needs besides the field and the text. */
struct pctx {
	msgpack_packer *pk;
	sch_resolve_fn resolve;
	void *rarg;
	char **cause;
	char **warn;
};

static int
parse_text(const struct sch_field *f, const char *text, struct pctx *x)
{
	if (strlen(text) > f->max) {
		*x->cause = xasprintf("field %s: longer than %u bytes",
		    f->name, (unsigned)f->max);
		return CS_EUSAGE;
	}
	if (text_clean(text) != 0) {
		*x->cause = xasprintf("field %s: is not UTF-8 text, or holds a "
		    "control character or a bidirectional override", f->name);
		return CS_EUSAGE;
	}
	proto_pack_cstr(x->pk, text);
	return 0;
}

static int
parse_enum(const struct sch_field *f, const char *text, struct pctx *x)
{
	char *list;

	if (token_index(f->tokens, text, strlen(text)) < 0) {
		list = token_list(f->tokens);
		*x->cause = xasprintf("field %s: '%s' is not one of: %s",
		    f->name, text, list);
		free(list);
		return CS_EUSAGE;
	}
	proto_pack_cstr(x->pk, text);
	return 0;
}

static int
parse_date(const struct sch_field *f, const char *text, struct pctx *x)
{
	uint32_t ymd;

	if (sch_date_parse(text, strlen(text), &ymd) != 0) {
		*x->cause = xasprintf("field %s: '%s' is not a date "
		    "(YYYY-MM-DD)", f->name, text);
		return CS_EUSAGE;
	}
	proto_pack_cstr(x->pk, text);
	return 0;
}

static int
parse_count(const struct sch_field *f, const char *text, struct pctx *x)
{
	uint64_t v;

	if (parse_uint(text, &v) != 0 || v < f->min || v > f->max) {
		*x->cause = xasprintf("field %s: '%s' is not a whole number "
		    "from %u to %u", f->name, text, (unsigned)f->min,
		    (unsigned)f->max);
		return CS_EUSAGE;
	}
	msgpack_pack_uint64(x->pk, v);
	return 0;
}

static int
parse_decimal(const struct sch_field *f, const char *text, struct pctx *x)
{
	uint64_t v;

	if (parse_dec2(text, &v) != 0 || v < f->min || v > f->max) {
		*x->cause = xasprintf("field %s: '%s' is not a number from "
		    "%u.%02u to %u.%02u with at most two decimals", f->name,
		    text, (unsigned)f->min / 100, (unsigned)f->min % 100,
		    (unsigned)f->max / 100, (unsigned)f->max % 100);
		return CS_EUSAGE;
	}
	msgpack_pack_uint64(x->pk, v);
	return 0;
}

/* Resolves one reference into id; warns (once) of one not here yet. */
static int
resolve_one(const struct sch_field *f, const char *text, uint8_t *id,
    struct pctx *x)
{
	char *rcause;
	int rc = x->resolve(x->rarg, f->ref, text, id, &rcause);

	if (rc < 0) {
		*x->cause = xasprintf("field %s: %s", f->name, rcause);
		free(rcause);
		return CS_EUSAGE;
	}
	if (rc == 1 && x->warn != NULL && *x->warn == NULL)
		*x->warn = xasprintf("field %s: %s %s is not on this node yet",
		    f->name, f->ref, text);
	return 0;
}

static int
parse_ref(const struct sch_field *f, const char *text, struct pctx *x)
{
	uint8_t id[PROTO_ID_LEN];

	if (resolve_one(f, text, id, x) != 0)
		return CS_EUSAGE;
	msgpack_pack_bin(x->pk, PROTO_ID_LEN);
	msgpack_pack_bin_body(x->pk, id, PROTO_ID_LEN);
	return 0;
}

static int
parse_key(const struct sch_field *f, const char *text, struct pctx *x)
{
	uint8_t key[PROTO_KEY_LEN];

	if (proto_unhex(key, PROTO_KEY_LEN, text) != 0) {
		*x->cause = xasprintf("field %s: '%s' is not a node id "
		    "(64 hex digits)", f->name, text);
		return CS_EUSAGE;
	}
	msgpack_pack_bin(x->pk, PROTO_KEY_LEN);
	msgpack_pack_bin_body(x->pk, key, PROTO_KEY_LEN);
	return 0;
}

/* The most items a set's text may hold. */
#define SET_MAX_ITEMS 64

/* A set: distinct tokens, packed in the tokens' order. */
static int
items_set(const struct sch_field *f, char **items, int n, struct pctx *x)
{
	int idx[SET_MAX_ITEMS], i, j;
	char *list;

	for (i = 0; i < n; i++) {
		idx[i] = token_index(f->tokens, items[i], strlen(items[i]));
		if (idx[i] < 0) {
			list = token_list(f->tokens);
			*x->cause = xasprintf("field %s: '%s' is not one of: "
			    "%s", f->name, items[i], list);
			free(list);
			return CS_EUSAGE;
		}
		for (j = 0; j < i; j++)
			if (idx[j] == idx[i]) {
				*x->cause = xasprintf("field %s: '%s' is given "
				    "twice", f->name, items[i]);
				return CS_EUSAGE;
			}
	}
	sort_ints(idx, n);
	msgpack_pack_array(x->pk, (size_t)n);
	for (i = 0; i < n; i++)
		proto_pack_cstr(x->pk, f->tokens[idx[i]]);
	return 0;
}

/* A list: texts, as given. */
static int
items_list(const struct sch_field *f, char **items, int n, struct pctx *x)
{
	int i;

	for (i = 0; i < n; i++)
		if (strlen(items[i]) > f->max || text_clean(items[i]) != 0) {
			*x->cause = xasprintf("field %s: item '%.40s' is longer "
			    "than %u bytes or holds a control character",
			    f->name, items[i], (unsigned)f->max);
			return CS_EUSAGE;
		}
	msgpack_pack_array(x->pk, (size_t)n);
	for (i = 0; i < n; i++)
		proto_pack_cstr(x->pk, items[i]);
	return 0;
}

/* References: every one resolved before any is packed. */
static int
items_refs(const struct sch_field *f, char **items, int n, struct pctx *x)
{
	uint8_t (*ids)[PROTO_ID_LEN] = xcalloc((size_t)n, PROTO_ID_LEN);
	int i;

	for (i = 0; i < n; i++)
		if (resolve_one(f, items[i], ids[i], x) != 0) {
			free(ids);
			return CS_EUSAGE;
		}
	msgpack_pack_array(x->pk, (size_t)n);
	for (i = 0; i < n; i++) {
		msgpack_pack_bin(x->pk, PROTO_ID_LEN);
		msgpack_pack_bin_body(x->pk, ids[i], PROTO_ID_LEN);
	}
	free(ids);
	return 0;
}

/* Checks a str object against an enum's tokens. */
static int
is_token(const char *const *tokens, const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_STR &&
	    token_index(tokens, o->via.str.ptr, o->via.str.size) >= 0;
}

/* Returns whether a received str is clean text. */
static int
str_clean(const msgpack_object *o)
{
	return utf8_clean((const unsigned char *)o->via.str.ptr,
	    o->via.str.size);
}

/* The checks of one received scalar or list item; 0 when it fits.  last
 * is the previous item's token index (sets: strictly increasing). */
static int
check_text(const struct sch_field *f, const msgpack_object *o, int *last)
{
	(void)last;
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size <= f->max &&
	    str_clean(o) ? 0 : -1;
}

static int
check_item_text(const struct sch_field *f, const msgpack_object *o,
    int *last)
{
	return o->type == MSGPACK_OBJECT_STR && o->via.str.size > 0 ?
	    check_text(f, o, last) : -1;
}

static int
check_enum(const struct sch_field *f, const msgpack_object *o, int *last)
{
	(void)last;
	return is_token(f->tokens, o) ? 0 : -1;
}

static int
check_set_item(const struct sch_field *f, const msgpack_object *o, int *last)
{
	int k;

	if (o->type != MSGPACK_OBJECT_STR)
		return -1;
	k = token_index(f->tokens, o->via.str.ptr, o->via.str.size);
	if (k <= *last)
		return -1;
	*last = k;
	return 0;
}

static int
check_date(const struct sch_field *f, const msgpack_object *o, int *last)
{
	uint32_t ymd;

	(void)f;
	(void)last;
	return o->type == MSGPACK_OBJECT_STR &&
	    sch_date_parse(o->via.str.ptr, o->via.str.size, &ymd) == 0 ? 0 : -1;
}

static int
check_number(const struct sch_field *f, const msgpack_object *o, int *last)
{
	(void)last;
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 >= f->min && o->via.u64 <= f->max ? 0 : -1;
}

static int
check_id(const struct sch_field *f, const msgpack_object *o, int *last)
{
	(void)f;
	(void)last;
	return o->type == MSGPACK_OBJECT_BIN &&
	    o->via.bin.size == PROTO_ID_LEN ? 0 : -1;
}

static int
check_key(const struct sch_field *f, const msgpack_object *o, int *last)
{
	(void)f;
	(void)last;
	return o->type == MSGPACK_OBJECT_BIN &&
	    o->via.bin.size == PROTO_KEY_LEN ? 0 : -1;
}

/* The behaviour of each field type, by enum sch_ftype. */
static const struct ftype_ops {
	int (*parse)(const struct sch_field *, const char *, struct pctx *);
	int (*parse_items)(const struct sch_field *, char **, int,
	    struct pctx *);
	int (*check)(const struct sch_field *, const msgpack_object *, int *);
} ftype_ops[] = {
	[SCH_TEXT] = { parse_text, NULL, check_text },
	[SCH_ENUM] = { parse_enum, NULL, check_enum },
	[SCH_SET] = { NULL, items_set, check_set_item },
	[SCH_LIST] = { NULL, items_list, check_item_text },
	[SCH_DATE] = { parse_date, NULL, check_date },
	[SCH_UINT] = { parse_count, NULL, check_number },
	[SCH_DEC2] = { parse_decimal, NULL, check_number },
	[SCH_REF] = { parse_ref, NULL, check_id },
	[SCH_REFS] = { NULL, items_refs, check_id },
	[SCH_KEY] = { parse_key, NULL, check_key },
};

/* The traits of each field type (storage.h). */
const struct sch_ftype_info sch_ftypes[SCH_FTYPE_COUNT] = {
	/*          name                 list trim refs tokens dec item */
	[SCH_TEXT] = { "text",               0, 0, 0, 0, 0, SCH_TEXT },
	[SCH_ENUM] = { "one of",             0, 1, 0, 1, 0, SCH_ENUM },
	[SCH_SET] =  { "set of",             1, 1, 0, 1, 0, SCH_ENUM },
	[SCH_LIST] = { "list",               1, 0, 0, 0, 0, SCH_TEXT },
	[SCH_DATE] = { "date (YYYY-MM-DD, 1900-2999)",
	                                     0, 1, 0, 0, 0, SCH_DATE },
	[SCH_UINT] = { "count",              0, 1, 0, 0, 0, SCH_UINT },
	[SCH_DEC2] = { "decimal",            0, 1, 0, 0, 2, SCH_DEC2 },
	[SCH_REF] =  { "id",                 0, 1, 1, 0, 0, SCH_REF },
	[SCH_REFS] = { "ids",                1, 1, 1, 0, 0, SCH_REF },
	[SCH_KEY] =  { "key",                0, 1, 0, 0, 0, SCH_KEY },
};

/* Tells whether type t has a whole row in both tables (storage.h). */
int
sch_ftype_whole(enum sch_ftype t)
{
	const struct ftype_ops *o;
	const struct sch_ftype_info *i;

	if ((unsigned)t >= SCH_FTYPE_COUNT ||
	    (unsigned)t >= sizeof(ftype_ops) / sizeof(ftype_ops[0]))
		return 0;
	o = &ftype_ops[t];
	i = &sch_ftypes[t];
	if (i->name == NULL || o->check == NULL ||
	    (unsigned)i->item >= SCH_FTYPE_COUNT ||
	    sch_ftypes[i->item].list)
		return 0;
	return i->list ? o->parse_items != NULL && o->parse == NULL :
	    o->parse != NULL && o->parse_items == NULL && i->item == t;
}

/* Names a field type for help text. */
const char *
sch_ftype_name(enum sch_ftype t)
{
	return sch_ftypes[t].name;
}

/* Parses text for field f and packs its value. */
int
sch_parse(const struct sch_field *f, const char *text, msgpack_packer *pk,
    sch_resolve_fn resolve, void *rarg, char **cause, char **warn)
{
	const struct ftype_ops *ops = &ftype_ops[f->type];
	struct pctx x = { pk, resolve, rarg, cause, warn };
	char *copy = NULL, *items[PROTO_MAX_ITEMS];
	int n, i, rc = CS_EUSAGE;

	*cause = NULL;
	if (sch_ftypes[f->type].trim) {
		/* Spaces around a token, number, date or id mean nothing. */
		size_t tl;

		while (*text == ' ')
			text++;
		tl = strlen(text);
		if (tl > 0 && text[tl - 1] == ' ') {
			copy = xstrdup(text);
			while (tl > 0 && copy[tl - 1] == ' ')
				copy[--tl] = '\0';
			rc = sch_parse(f, copy, pk, resolve, rarg, cause, warn);
			free(copy);
			return rc;
		}
	}
	if (text[0] == '\0') {
		if (f->required) {
			*cause = xasprintf("field %s: is required and cannot "
			    "be empty", f->name);
			return CS_EUSAGE;
		}
		msgpack_pack_nil(pk);
		return 0;
	}
	if (!sch_ftypes[f->type].list)
		return ops->parse(f, text, &x);
	copy = xstrdup(text);
	n = split_list(copy, items, f->type == SCH_SET ? SET_MAX_ITEMS :
	    PROTO_MAX_ITEMS);
	if (n < 0) {
		*cause = xasprintf("field %s: too many items", f->name);
		goto out;
	}
	for (i = 0; i < n; i++)
		if (items[i][0] == '\0') {
			*cause = xasprintf("field %s: has an empty item",
			    f->name);
			goto out;
		}
	rc = ops->parse_items(f, items, n, &x);
out:
	free(copy);
	return rc;
}

/* Checks a decoded value against field f. */
int
sch_check(const struct sch_field *f, const msgpack_object *v,
    const char **cause)
{
	const struct ftype_ops *ops = &ftype_ops[f->type];
	uint32_t i;
	int last = -1;

	if (v->type == MSGPACK_OBJECT_NIL)
		return 0;
	if (!sch_ftypes[f->type].list) {
		if (ops->check(f, v, &last) != 0)
			goto bad;
		return 0;
	}
	if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size == 0)
		goto bad;
	for (i = 0; i < v->via.array.size; i++)
		if (ops->check(f, &v->via.array.ptr[i], &last) != 0)
			goto bad;
	return 0;
bad:
	if (cause != NULL)
		*cause = "a value does not fit its field";
	return CS_ESCHEMA;
}

/* Appends s to out (outlen bytes), keeping a NUL. */
static void
append(char *out, size_t outlen, size_t *pos, const char *s, size_t n)
{
	if (*pos + 1 >= outlen)
		return;
	if (n > outlen - 1 - *pos)
		n = outlen - 1 - *pos;
	memcpy(out + *pos, s, n);
	*pos += n;
	out[*pos] = '\0';
}

/* Formats one scalar item of f's value. */
static void
format_item(const msgpack_object *o, enum sch_ftype t, char *out,
    size_t outlen, size_t *pos)
{
	char buf[2 * PROTO_KEY_LEN + 1];

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		append(out, outlen, pos, o->via.str.ptr, o->via.str.size);
		break;
	case MSGPACK_OBJECT_BIN:
		if (o->via.bin.size == PROTO_ID_LEN ||
		    o->via.bin.size == PROTO_KEY_LEN) {
			proto_hex(buf, (const uint8_t *)o->via.bin.ptr,
			    o->via.bin.size);
			append(out, outlen, pos, buf, strlen(buf));
		}
		break;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (sch_ftypes[t].decimals == 2)
			snprintf(buf, sizeof(buf), "%llu.%02llu",
			    (unsigned long long)(o->via.u64 / 100),
			    (unsigned long long)(o->via.u64 % 100));
		else
			snprintf(buf, sizeof(buf), "%llu",
			    (unsigned long long)o->via.u64);
		append(out, outlen, pos, buf, strlen(buf));
		break;
	default:
		break;
	}
}

/* Formats a value as the text sch_parse() reads. */
void
sch_format(const struct sch_field *f, const msgpack_object *v, char *out,
    size_t outlen)
{
	size_t pos = 0;
	uint32_t i;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (v == NULL)
		return;
	if (v->type != MSGPACK_OBJECT_ARRAY) {
		format_item(v, f->type, out, outlen, &pos);
		return;
	}
	for (i = 0; i < v->via.array.size; i++) {
		if (i > 0)
			append(out, outlen, &pos, ",", 1);
		format_item(&v->via.array.ptr[i], f->type, out, outlen, &pos);
	}
}

/* Returns the op's value of the field named name, or NULL. */
static const msgpack_object *
op_value(const msgpack_object_kv *fields, uint32_t n, const char *name)
{
	size_t len = strlen(name);
	uint32_t i;

	for (i = 0; i < n; i++)
		if (fields[i].key.via.str.size == len &&
		    memcmp(fields[i].key.via.str.ptr, name, len) == 0)
			return &fields[i].val;
	return NULL;
}

/* Checks one put op's own rules (storage.h). */
const char *
sch_op_check(const struct sch_type *t, const msgpack_object_kv *fields,
    uint32_t n, int create, char *buf, size_t len)
{
	const msgpack_object *v, *lim;
	unsigned i;

	for (i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];

		v = op_value(fields, n, f->name);
		if (f->required && create && (v == NULL ||
		    v->type == MSGPACK_OBJECT_NIL)) {
			snprintf(buf, len, "%s field %s: is required", t->name,
			    f->name);
			return buf;
		}
		if (f->required && !create && v != NULL &&
		    v->type == MSGPACK_OBJECT_NIL) {
			snprintf(buf, len, "%s field %s: is required and may "
			    "not be cleared", t->name, f->name);
			return buf;
		}
		if (f->at_most == NULL || v == NULL ||
		    v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    (lim = op_value(fields, n, f->at_most)) == NULL ||
		    lim->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    v->via.u64 <= lim->via.u64)
			continue;
		snprintf(buf, len, "%s field %s: %llu is more than %s (%llu)",
		    t->name, f->name, (unsigned long long)v->via.u64,
		    f->at_most, (unsigned long long)lim->via.u64);
		return buf;
	}
	return NULL;
}

/* Returns the bits of f's tokens held by the set value v (storage.h). */
unsigned
sch_token_bits(const struct sch_field *f, const msgpack_object *v)
{
	unsigned bits = 0, j;
	uint32_t i;

	if (v == NULL || v->type != MSGPACK_OBJECT_ARRAY)
		return 0;
	for (i = 0; i < v->via.array.size; i++) {
		const msgpack_object *t = &v->via.array.ptr[i];

		if (t->type != MSGPACK_OBJECT_STR)
			continue;
		for (j = 0; f->tokens[j] != NULL; j++)
			if (strlen(f->tokens[j]) == t->via.str.size &&
			    memcmp(f->tokens[j], t->via.str.ptr,
			    t->via.str.size) == 0)
				bits |= 1u << j;
	}
	return bits;
}
