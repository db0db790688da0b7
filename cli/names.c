/*
 * names.c: references for people.  What a person types for a reference
 * (an id, a unique id prefix, or a name) becomes an id here, and every id
 * the command line prints goes out with a name beside its short form.
 *
 * Names are looked up in the store's name index (storage/names.c), case
 * and accents aside.  Short ids are the shortest prefix unique in this
 * store.  What was looked up is cached for the command's run, so a
 * listing of many cafés of a few sites looks each site up once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CACHE_SLOTS 1024

struct name_slot {
	int used;
	uint8_t id[PROTO_KEY_LEN];   /* a record id, or a node key */
	int is_key;
	char *shortid;
	char *label;
};

#define RECENT 32

/* A reference resolved during this command, by the text typed. */
struct recent {
	int used;
	const struct sch_type *t;
	int removed_too;
	char text[72];
	uint8_t id[PROTO_ID_LEN];
};

struct cli_names {
	struct name_slot slot[CACHE_SLOTS];
	struct recent recent[RECENT];
	unsigned nrecent;
};

/* Returns the slot for id (a 16-byte record id or a 32-byte key). */
static struct name_slot *
slot_for(struct cli *c, const uint8_t *id, int is_key)
{
	size_t len = is_key ? PROTO_KEY_LEN : PROTO_ID_LEN;
	uint32_t h = 2166136261u;
	unsigned i, n;

	if (c->names == NULL)
		c->names = xcalloc(1, sizeof(*c->names));
	/* Ids begin with a clock: hash the random tail. */
	for (i = 8; i < len; i++)
		h = (h ^ id[i]) * 16777619u;
	for (n = 0; n < CACHE_SLOTS; n++) {
		struct name_slot *sl = &c->names->slot[(h + n) % CACHE_SLOTS];

		if (!sl->used) {
			sl->used = 1;
			sl->is_key = is_key;
			memcpy(sl->id, id, len);
			return sl;
		}
		if (sl->is_key == is_key && memcmp(sl->id, id, len) == 0)
			return sl;
	}
	/* Full: reuse one slot; what it held is looked up again. */
	{
		struct name_slot *sl = &c->names->slot[h % CACHE_SLOTS];

		free(sl->shortid);
		free(sl->label);
		memset(sl, 0, sizeof(*sl));
		sl->used = 1;
		sl->is_key = is_key;
		memcpy(sl->id, id, len);
		return sl;
	}
}

/* Frees the cache. */
void
cli_names_free(struct cli *c)
{
	unsigned i;

	if (c->names == NULL)
		return;
	for (i = 0; i < CACHE_SLOTS; i++) {
		free(c->names->slot[i].shortid);
		free(c->names->slot[i].label);
	}
	free(c->names);
	c->names = NULL;
}

/* Returns the record's short id. */
const char *
cli_short(struct cli *c, const uint8_t id[PROTO_ID_LEN])
{
	struct name_slot *sl = slot_for(c, id, 0);
	char hex[2 * PROTO_ID_LEN + 1];

	if (sl->shortid == NULL) {
		int n = c->store != NULL ? store_id_short(c->store, id) : 8;

		proto_hex(hex, id, PROTO_ID_LEN);
		sl->shortid = xstrdup(hex + 2 * PROTO_ID_LEN - n);
	}
	return sl->shortid;
}

/* Writes a value of field name of r into buf ("" when absent). */
static void
rec_text(const struct store_rec *r, const char *name, char *buf, size_t len)
{
	const struct sch_field *f = sch_field_find(r->type, name, strlen(name));
	const msgpack_object *v;

	buf[0] = '\0';
	if (f != NULL && (v = store_rec_value(r, name)) != NULL)
		sch_format(f, v, buf, len);
}

/* Writes what a record is, in a few words, into buf. */
void
cli_rec_label(const struct store_rec *r, char *buf, size_t len)
{
	char a[256], b[256];

	if (sch_field_find(r->type, "name", 4) != NULL) {
		rec_text(r, "name", buf, len);
		return;
	}
	if (strcmp(r->type->name, "cafe") == 0) {
		rec_text(r, "date", a, sizeof(a));
		rec_text(r, "format", b, sizeof(b));
		snprintf(buf, len, "%s %s", a, b);
	} else if (strcmp(r->type->name, "action") == 0) {
		rec_text(r, "title", buf, len);
	} else if (strcmp(r->type->name, "training") == 0) {
		rec_text(r, "date", a, sizeof(a));
		rec_text(r, "kind", b, sizeof(b));
		snprintf(buf, len, "%s %s", a, b);
	} else if (strcmp(r->type->name, "milestone") == 0) {
		rec_text(r, "step", a, sizeof(a));
		rec_text(r, "status", b, sizeof(b));
		snprintf(buf, len, "step %s %s", a, b);
	} else if (strcmp(r->type->name, "feedback") == 0) {
		rec_text(r, "responses", a, sizeof(a));
		snprintf(buf, len, "%s responses", a);
	} else if (strcmp(r->type->name, "audit") == 0) {
		rec_text(r, "date", a, sizeof(a));
		rec_text(r, "finding", b, 40);
		snprintf(buf, len, "%s %s", a, b);
	} else
		buf[0] = '\0';
}

/* Writes "café 2026-11-19 (dads)", "person Ana R.": a record for echoes. */
void
cli_rec_describe(const struct store_rec *r, char *buf, size_t len)
{
	char a[256], b[256];

	if (strcmp(r->type->name, "cafe") == 0) {
		rec_text(r, "date", a, sizeof(a));
		rec_text(r, "format", b, sizeof(b));
		snprintf(buf, len, "café %s (%s)", a, b);
		return;
	}
	cli_rec_label(r, a, sizeof(a));
	snprintf(buf, len, "%s %s", r->type->name, a);
}

/* Returns the record's label ("" when not on this node). */
const char *
cli_label(struct cli *c, const uint8_t id[PROTO_ID_LEN])
{
	struct name_slot *sl = slot_for(c, id, 0);
	struct store_rec r;
	char buf[256];

	if (sl->label == NULL) {
		buf[0] = '\0';
		if (c->store != NULL && store_get(c->store, id, &r) == 0) {
			cli_rec_label(&r, buf, sizeof(buf));
			store_rec_free(&r);
		}
		sl->label = xstrdup(buf);
	}
	return sl->label;
}

/* Writes "Name (short)" for a reference, or the short id alone. */
void
cli_ref_text(struct cli *c, const uint8_t id[PROTO_ID_LEN], char *buf,
    size_t len)
{
	const char *l = cli_label(c, id);

	if (l[0] != '\0')
		snprintf(buf, len, "%s (%s)", l, cli_short(c, id));
	else
		snprintf(buf, len, "%s", cli_short(c, id));
}

/* Returns a node key's name: its member record, this node, or hex. */
const char *
cli_author(struct cli *c, const uint8_t key[PROTO_KEY_LEN])
{
	struct name_slot *sl = slot_for(c, key, 1);
	const struct store_info *in;
	struct store_member m;
	char hex[2 * PROTO_KEY_LEN + 1];

	if (sl->label != NULL)
		return sl->label;
	in = c->store != NULL ? store_info(c->store) : NULL;
	if (in != NULL && memcmp(in->node, key, PROTO_KEY_LEN) == 0 &&
	    in->name[0] != '\0')
		sl->label = xstrdup(in->name);
	else if (c->store != NULL && store_member_get(c->store, key, &m) == 0) {
		sl->label = xstrdup(m.name);
		store_member_free(&m);
	}
	else if (in != NULL && memcmp(in->network, key, PROTO_KEY_LEN) == 0)
		sl->label = xstrdup("the network's admin");
	else {
		proto_hex(hex, key, PROTO_KEY_LEN);
		hex[8] = '\0';
		sl->label = xstrdup(hex);
	}
	return sl->label;
}

/* Candidates gathered for one reference. */
#define MAX_CANDS 8

struct cand_set {
	struct {
		uint8_t id[PROTO_ID_LEN];
		const struct sch_type *t;
		char name[96];
		int exact;
	} c[MAX_CANDS];
	int n, nexact, more;
};

/* Adds a candidate unless it is there already. */
static void
cand_add(struct cand_set *cs, const struct sch_type *t, const uint8_t *id,
    const char *name, int exact)
{
	int i;

	for (i = 0; i < cs->n; i++)
		if (memcmp(cs->c[i].id, id, PROTO_ID_LEN) == 0) {
			if (exact && !cs->c[i].exact) {
				cs->c[i].exact = 1;
				cs->nexact++;
			}
			return;
		}
	if (cs->n == MAX_CANDS) {
		cs->more = 1;
		return;
	}
	memcpy(cs->c[cs->n].id, id, PROTO_ID_LEN);
	cs->c[cs->n].t = t;
	snprintf(cs->c[cs->n].name, sizeof(cs->c[0].name), "%s", name);
	cs->c[cs->n].exact = exact;
	cs->nexact += exact;
	cs->n++;
}

static int
name_found(const struct sch_type *t, const uint8_t id[PROTO_ID_LEN],
    const char *name, int exact, void *arg)
{
	struct cand_set *cs = arg;

	cand_add(cs, t, id, name, exact);
	return cs->more;
}

/* Gathers the ids ending with typed hex digits, of the wanted type. */
struct ends_arg {
	struct cli *c;
	struct cand_set *cs;
	const struct sch_type *t;
	int removed_too;
};

static int
end_found(const uint8_t id[PROTO_ID_LEN], void *arg)
{
	struct ends_arg *ea = arg;
	struct store_rec r;

	if (store_get(ea->c->store, id, &r) != 0)
		return 0;
	if ((ea->t == NULL || r.type == ea->t) &&
	    (!r.deleted || ea->removed_too))
		cand_add(ea->cs, r.type, id, "", 0);
	store_rec_free(&r);
	return ea->cs->more;
}

/* Returns whether text is hex digits only. */
static int
all_hex(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') ||
		    (*s >= 'A' && *s <= 'F')))
			return 0;
	return 1;
}

/* Writes the candidates as "Name (id), ..." into a malloc'd string. */
static char *
cand_list(struct cli *c, const struct cand_set *cs, int exact_only)
{
	char *s = xstrdup(""), *n;
	int i, first = 1;

	for (i = 0; i < cs->n; i++) {
		char hex[2 * PROTO_ID_LEN + 1];

		if (exact_only && !cs->c[i].exact)
			continue;
		(void)hex;
		n = xasprintf("%s%s%s (%s)", s, first ? "" : ", ",
		    cs->c[i].name[0] ? cs->c[i].name :
		    cli_label(c, cs->c[i].id), cli_short(c, cs->c[i].id));
		free(s);
		s = n;
		first = 0;
	}
	if (cs->more) {
		n = xasprintf("%s, ...", s);
		free(s);
		s = n;
	}
	return s;
}

/*
 * Resolves what was typed for a reference to a record of type t (NULL:
 * any type): a full id, a unique id prefix, or a name.  Returns 0 with
 * id set; 1 when text is a full id not on this node (it may come by sync);
 * CS_EAMBIG with the candidates in *cause, CS_ENOTFOUND or CS_EUSAGE with
 * *cause (malloc'd).  removed_too also finds removed records by id.
 */
static int ref_resolve(struct cli *c, const struct sch_type *t,
    const char *text, int removed_too, uint8_t id[PROTO_ID_LEN],
    char **cause);

int
cli_ref_resolve(struct cli *c, const struct sch_type *t, const char *text,
    int removed_too, uint8_t id[PROTO_ID_LEN], char **cause)
{
	size_t tl = strlen(text);
	int rc;

	if (c->names == NULL)
		c->names = xcalloc(1, sizeof(*c->names));

	*cause = NULL;
	/* The same text again (an import names a few sites over and over). */
	if (c->names != NULL && tl < sizeof(c->names->recent[0].text)) {
		unsigned k;

		for (k = 0; k < RECENT; k++) {
			struct recent *r = &c->names->recent[k];

			if (r->used && r->t == t && r->removed_too ==
			    removed_too && strcmp(r->text, text) == 0) {
				memcpy(id, r->id, PROTO_ID_LEN);
				return 0;
			}
		}
	}
	rc = ref_resolve(c, t, text, removed_too, id, cause);
	if (rc == 0 && tl < sizeof(c->names->recent[0].text)) {
		struct recent *r = &c->names->recent[c->names->nrecent++ %
		    RECENT];

		r->used = 1;
		r->t = t;
		r->removed_too = removed_too;
		snprintf(r->text, sizeof(r->text), "%s", text);
		memcpy(r->id, id, PROTO_ID_LEN);
	}
	return rc;
}

/* Resolves a reference; see cli_ref_resolve(). */
static int
ref_resolve(struct cli *c, const struct sch_type *t, const char *text,
    int removed_too, uint8_t id[PROTO_ID_LEN], char **cause)
{
	struct cand_set cs;
	const char *what = t != NULL ? t->name : "record";
	char *list, *pc = NULL;
	uint8_t pid[PROTO_ID_LEN];
	size_t tl = strlen(text);
	int rc;

	while (*text == ' ')
		text++, tl--;
	while (tl > 0 && text[tl - 1] == ' ')
		tl--;
	if (tl == 0) {
		*cause = xasprintf("give a %s's name or id", what);
		return CS_EUSAGE;
	}
	if (tl == 2 * PROTO_ID_LEN && proto_unhex(id, PROTO_ID_LEN,
	    text) == 0) {
		struct store_rec r;

		if (store_get(c->store, id, &r) != 0)
			return 1;
		rc = 0;
		if (t != NULL && r.type != t) {
			*cause = xasprintf("%.32s is a %s, not a %s", text,
			    r.type->name, t->name);
			rc = CS_EUSAGE;
		} else if (r.deleted && !removed_too) {
			*cause = xasprintf("%s %.32s is removed (cafe restore "
			    "brings it back)", r.type->name, text);
			rc = CS_ENOTFOUND;
		}
		store_rec_free(&r);
		return rc;
	}
	memset(&cs, 0, sizeof(cs));
	{
		char *copy = xasprintf("%.*s", (int)tl, text);

		store_names_find(c->store, t, copy, name_found, &cs);
		if (cs.nexact == 1) {
			int i;

			for (i = 0; !cs.c[i].exact; i++)
				;
			memcpy(id, cs.c[i].id, PROTO_ID_LEN);
			free(copy);
			return 0;
		}
		if (cs.nexact > 1) {
			list = cand_list(c, &cs, 1);
			*cause = xasprintf("'%s' names %d %ss: %s; give the id",
			    copy, cs.nexact, what, list);
			free(list);
			free(copy);
			return CS_EAMBIG;
		}
		if (tl >= 4 && all_hex(copy)) {
			struct ends_arg ea = { c, &cs, t, removed_too };

			/* The end of an id, as short ids are printed. */
			store_id_ends(c->store, copy, end_found, &ea);
			rc = removed_too ? store_resolve_all(c->store, copy,
			    pid, &pc) : store_resolve(c->store, copy, t, pid,
			    &pc);
			if (rc == 0)
				cand_add(&cs, t, pid, "", 0);
			else if (rc == CS_EAMBIG && cs.n == 0) {
				*cause = xasprintf("id prefix '%s' is shared by "
				    "several %ss; type more of it", copy, what);
				free(pc);
				free(copy);
				return CS_EAMBIG;
			}
			free(pc);
		}
		if (cs.n == 1) {
			memcpy(id, cs.c[0].id, PROTO_ID_LEN);
			free(copy);
			return 0;
		}
		if (cs.n > 1) {
			list = cand_list(c, &cs, 0);
			*cause = xasprintf("'%s' matches %d %ss: %s; give more "
			    "of the name or the id", copy, cs.n, what, list);
			free(list);
			free(copy);
			return CS_EAMBIG;
		}
		*cause = xasprintf("no %s named or with id '%s' (cafe list %s "
		    "shows them)", what, copy, t != NULL ? t->name : "TYPE");
		free(copy);
		return CS_ENOTFOUND;
	}
}
