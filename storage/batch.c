/*
 * batch.c: local writes.  A batch parses and checks typed fields against
 * the schema, encodes ops, and at commit signs them as one or more commits
 * (split at the commit bounds) applied in one write transaction through
 * the same path as received commits.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "internal.h"

/* Recently resolved references: an import names the same site each row. */
#define REF_CACHE 64

struct ref_cache {
	uint32_t hash;
	char text[2 * PROTO_ID_LEN + 1];
	const char *ref;
	uint8_t id[PROTO_ID_LEN];
};

struct store_batch {
	struct store *s;
	struct ref_cache refs[REF_CACHE];
	unsigned nrefs;
	struct proto_enc ops;     /* the encoded ops, back to back */
	struct proto_enc vals;    /* scratch: one put's encoded values */
	msgpack_zone zone;        /* scratch: one put's decoded values */
	size_t *off;              /* where each op starts in ops */
	uint8_t (*site)[PROTO_ID_LEN]; /* each op's record's site */
	unsigned char *has_site;  /* whether it has one */
	size_t nops, cap;
	char **warn;
	size_t nwarn;
	struct stream *stream;    /* set by store_batch_stream() */
	int ids_only;             /* references are full ids, not looked up */
};

static void stream_seal(struct store_batch *b, int final);
static int stream_finish(struct store_batch *b, int commit, int *map_full,
    char **cause);

/* Starts an empty batch. */
struct store_batch *
store_batch_new(struct store *s)
{
	struct store_batch *b = xcalloc(1, sizeof(*b));

	b->s = s;
	proto_enc_init(&b->ops);
	proto_enc_init(&b->vals);
	msgpack_zone_init(&b->zone, 4096);
	return b;
}

/* Frees a batch. */
void
store_batch_free(struct store_batch *b)
{
	size_t i;

	if (b == NULL)
		return;
	if (b->stream != NULL) {
		int map_full;

		stream_finish(b, 0, &map_full, NULL);
	}
	for (i = 0; i < b->nwarn; i++)
		free(b->warn[i]);
	free(b->warn);
	free(b->off);
	free(b->site);
	free(b->has_site);
	proto_enc_free(&b->ops);
	proto_enc_free(&b->vals);
	msgpack_zone_destroy(&b->zone);
	free(b);
}

size_t
store_batch_count(const struct store_batch *b)
{
	return b->nops;
}

const char *
store_batch_warning(const struct store_batch *b, size_t i)
{
	return i < b->nwarn ? b->warn[i] : NULL;
}

/* Takes ownership of a warning. */
static void
add_warning(struct store_batch *b, char *w)
{
	b->warn = xreallocarray(b->warn, b->nwarn + 1, sizeof(*b->warn));
	b->warn[b->nwarn++] = w;
}

/* Records where a new op starts. */
static void
mark_op(struct store_batch *b, size_t at)
{
	if (b->nops == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->off = xreallocarray(b->off, b->cap, sizeof(*b->off));
		b->site = xreallocarray(b->site, b->cap, sizeof(*b->site));
		b->has_site = xreallocarray(b->has_site, b->cap, 1);
	}
	b->has_site[b->nops] = 0;
	b->off[b->nops++] = at;
}

/* Notes the site of the record the last op writes (NULL: none). */
static void
mark_site(struct store_batch *b, const msgpack_object *site)
{
	if (site == NULL || site->type != MSGPACK_OBJECT_BIN ||
	    site->via.bin.size != PROTO_ID_LEN)
		return;
	memcpy(b->site[b->nops - 1], site->via.bin.ptr, PROTO_ID_LEN);
	b->has_site[b->nops - 1] = 1;
}

/* Resolves a reference for sch_parse(), through the batch's cache. */
static int
resolve_ref(void *arg, const char *ref, const char *text,
    uint8_t id[PROTO_ID_LEN], char **cause)
{
	struct store_batch *b = arg;
	struct store *s = b->s;
	struct ref_cache *rc_entry;
	struct store_rec r;
	uint32_t h = 2166136261u;
	const char *p;
	unsigned i;
	int rc;

	/* A batch made inside a write transaction (commit_admin()) names
	 * records by full id: a lookup would read the store as it was before
	 * the transaction, without the records it writes. */
	if (b->ids_only) {
		if (strlen(text) == 2 * PROTO_ID_LEN &&
		    proto_unhex(id, PROTO_ID_LEN, text) == 0)
			return 0;
		*cause = xasprintf("'%s' is not a full %s id", text, ref);
		return CS_EUSAGE;
	}
	for (p = text; *p != '\0'; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;	/* FNV-1a */
	for (i = 0; i < b->nrefs && i < REF_CACHE; i++)
		if (b->refs[i].hash == h && b->refs[i].ref == ref &&
		    strcmp(b->refs[i].text, text) == 0) {
			memcpy(id, b->refs[i].id, PROTO_ID_LEN);
			return 0;
		}
	rc = store_resolve(s, text, sch_type_find(ref, strlen(ref)), id, cause);
	if (rc == 0) {
		if (strlen(text) < sizeof(b->refs[0].text)) {
			rc_entry = &b->refs[b->nrefs++ % REF_CACHE];
			snprintf(rc_entry->text, sizeof(rc_entry->text), "%s",
			    text);
			rc_entry->ref = ref;
			rc_entry->hash = h;
			memcpy(rc_entry->id, id, PROTO_ID_LEN);
		}
		return 0;
	}
	if (rc == CS_ENOTFOUND && strlen(text) == 2 * PROTO_ID_LEN &&
	    proto_unhex(id, PROTO_ID_LEN, text) == 0) {
		free(*cause);
		*cause = NULL;
		/* A full id may arrive later by sync, unless it is here
		 * already as something else. */
		if (store_get(s, id, &r) != 0)
			return 1;
		*cause = r.deleted ? xasprintf("%s %s is removed", ref, text) :
		    xasprintf("%s is a %s, not a %s", text, r.type->name, ref);
		store_rec_free(&r);
		return CS_EUSAGE;
	}
	return rc;
}

/* One parsed field of a put. */
struct pfield {
	const struct sch_field *f;
	size_t start, len;     /* its encoded value in the scratch buffer */
	msgpack_object val;
};

static int
pfield_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pfield *)a)->f->name,
	    ((const struct pfield *)b)->f->name);
}

/* Returns the index of the put's field named name, or -1. */
static int
pf_index(const struct pfield *pf, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(pf[i].f->name, name) == 0)
			return (int)i;
	return -1;
}

/* Returns the value a field will hold after the put, or NULL if none. */
static const msgpack_object *
effective_value(const struct pfield *pf, size_t n, const struct store_rec *old,
    const char *name)
{
	int i = pf_index(pf, n, name);

	if (i >= 0)
		return &pf[i].val;
	return old != NULL ? store_rec_value(old, name) : NULL;
}

/* Returns the uint a field will hold after the put, or -1 if none. */
static long long
effective_uint(const struct pfield *pf, size_t n, const struct store_rec *old,
    const char *name)
{
	const msgpack_object *v = effective_value(pf, n, old, name);

	return v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
	    (long long)v->via.u64 : -1;
}

/*
 * Checks the bounds between fields (the schema's at_most column) on the
 * values the record will hold after the put; returns a malloc'd cause or
 * NULL.  sch_op_check() checks the same on the op alone, for received
 * commits, which cannot see the record their author saw.
 */
static char *
cross_check(const struct sch_type *t, const struct pfield *pf, size_t n,
    const struct store_rec *old)
{
	long long a, b;
	unsigned i;

	for (i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];

		if (f->at_most == NULL)
			continue;
		a = effective_uint(pf, n, old, f->at_most);
		b = effective_uint(pf, n, old, f->name);
		if (a >= 0 && b > a)
			return xasprintf("field %s: %lld is more than %s "
			    "(%lld)", f->name, b, f->at_most, a);
	}
	return NULL;
}

/*
 * Fills in, on a create, the fields the schema takes from a referenced
 * record (the from column: an action takes its café's site) when the put
 * names none, adding them to pf (*np fields).  A reference to a record
 * not on this node, or one without the value, fills in nothing.
 */
static void
fill_from(struct store_batch *b, const struct sch_type *t, struct pfield *pf,
    size_t *np)
{
	struct proto_enc *vals = &b->vals;
	const msgpack_object *v;
	struct store_rec r;
	unsigned i;
	int ri;

	for (i = 0; i < t->nfields; i++) {
		const struct sch_field *f = &t->fields[i];
		size_t off = 0;

		if (f->from == NULL || pf_index(pf, *np, f->name) >= 0 ||
		    (ri = pf_index(pf, *np, f->from)) < 0 ||
		    pf[ri].val.type != MSGPACK_OBJECT_BIN ||
		    pf[ri].val.via.bin.size != PROTO_ID_LEN ||
		    store_get(b->s, (const uint8_t *)pf[ri].val.via.bin.ptr,
		    &r) != 0)
			continue;
		if ((v = store_rec_value(&r, f->name)) != NULL) {
			pf[*np].f = f;
			pf[*np].start = vals->sb.size;
			msgpack_pack_object(&vals->pk, *v);
			pf[*np].len = vals->sb.size - pf[*np].start;
			msgpack_unpack(vals->sb.data + pf[*np].start,
			    pf[*np].len, &off, &b->zone, &pf[*np].val);
			(*np)++;
		}
		store_rec_free(&r);
	}
}

/* Warns when a set with advice misses some of its tokens (or all). */
static void
advise_set(struct store_batch *b, const struct sch_type *t,
    const struct sch_field *f, const msgpack_object *v)
{
	char missing[PROTO_MAX_VALUE] = "";
	size_t pos = 0;
	unsigned bits;
	int j;

	if (v == NULL) {
		add_warning(b, xasprintf("%s records no %s (%s=%s,%s,...)",
		    t->name, f->advice->what, f->name, f->tokens[0],
		    f->tokens[1]));
		return;
	}
	if (v->type != MSGPACK_OBJECT_ARRAY)
		return;
	bits = sch_token_bits(f, v);
	for (j = 0; f->tokens[j] != NULL; j++)
		if (!(bits & 1u << j) &&
		    pos + strlen(f->tokens[j]) + 2 < sizeof(missing))
			pos += (size_t)snprintf(missing + pos,
			    sizeof(missing) - pos, "%s%s", pos > 0 ? "," : "",
			    f->tokens[j]);
	if (missing[0] != '\0')
		add_warning(b, xasprintf("%s misses %s: %s", t->name,
		    f->advice->what, missing));
}

/*
 * Warns about the values the schema advises against (the advice column):
 * on a create, or a put that sets any advised field, every advised field
 * of the record as it will be, the sets first, then the counts.
 */
static void
advise(struct store_batch *b, const struct sch_type *t,
    const struct pfield *pf, size_t n, const struct store_rec *old,
    int create)
{
	const struct sch_field *f;
	long long v;
	unsigned i;
	int any = create;

	for (i = 0; i < t->nfields && !any; i++)
		any = t->fields[i].advice != NULL &&
		    pf_index(pf, n, t->fields[i].name) >= 0;
	if (!any)
		return;
	for (i = 0; i < t->nfields; i++)
		if ((f = &t->fields[i])->advice != NULL && f->type == SCH_SET)
			advise_set(b, t, f, effective_value(pf, n, old,
			    f->name));
	for (i = 0; i < t->nfields; i++)
		if ((f = &t->fields[i])->advice != NULL &&
		    f->type == SCH_UINT &&
		    (v = effective_uint(pf, n, old, f->name)) >= 0 &&
		    v > (long long)f->advice->over)
			add_warning(b, xasprintf("%s has %s %lld; %s", t->name,
			    f->advice->what, v, f->advice->why));
}

/*
 * The conflicts an edit has in view: their clocks go into the op's base,
 * so the edit settles them on every node.
 */
struct seen_arg {
	char field[PROTO_MAX_ITEMS - 1][PROTO_MAX_NAME + 1];
	uint64_t hlc[PROTO_MAX_ITEMS - 1];
	size_t n;
};

static int
seen_conflict(const struct store_conflict *c, void *arg)
{
	struct seen_arg *sa = arg;

	if (sa->n == PROTO_MAX_ITEMS - 1)
		return 1;
	snprintf(sa->field[sa->n], sizeof(sa->field[0]), "%s", c->field);
	sa->hlc[sa->n++] = c->hlc;
	return 0;
}

/* Adds a put to the batch. */
int
store_batch_put(struct store_batch *b, const struct sch_type *t,
    uint8_t id[PROTO_ID_LEN], int create, const struct store_kv *kv,
    size_t n, char **cause)
{
	struct pfield pf[PROTO_MAX_FIELDS + 1];
	struct proto_enc *vals = &b->vals;
	struct store_rec old;
	int have_old = 0, rc = CS_EUSAGE;
	size_t i, j, np = 0, mark = b->ops.sb.size, nwarn = b->nwarn;
	msgpack_zone *zone = &b->zone;
	char *w;

	*cause = NULL;
	proto_enc_reset(vals);
	msgpack_zone_clear(zone);
	if (n == 0 && !create) {
		*cause = xstrdup("no field=value to change");
		goto out;
	}
	if (n > PROTO_MAX_FIELDS) {
		*cause = xstrdup("too many fields");
		goto out;
	}
	if (!create) {
		if (store_get(b->s, id, &old) != 0) {
			*cause = xstrdup("no such record");
			rc = CS_ENOTFOUND;
			goto out;
		}
		have_old = 1;
		if (old.deleted) {
			*cause = xstrdup("record is removed");
			rc = CS_ENOTFOUND;
			goto out;
		}
		if (old.type != t) {
			*cause = xasprintf("record is a %s, not a %s",
			    old.type->name, t->name);
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		const struct sch_field *f = sch_field_find(t, kv[i].name,
		    strlen(kv[i].name));

		if (f == NULL) {
			*cause = xasprintf("field %s: %s has no such field "
			    "(see cafe help %s)", kv[i].name, t->name,
			    t->name);
			goto out;
		}
		for (j = 0; j < np; j++)
			if (pf[j].f == f) {
				*cause = xasprintf("field %s: given twice",
				    f->name);
				goto out;
			}
		pf[np].f = f;
		pf[np].start = vals->sb.size;
		w = NULL;
		if (sch_parse(f, kv[i].value, &vals->pk, resolve_ref, b,
		    cause, &w) != 0)
			goto out;
		if (w != NULL)
			add_warning(b, w);
		pf[np].len = vals->sb.size - pf[np].start;
		np++;
	}
	/* Unpack the values (zone-backed, pointing into vals). */
	for (i = 0; i < np; i++) {
		size_t off = 0;

		if (msgpack_unpack(vals->sb.data + pf[i].start, pf[i].len, &off,
		    zone, &pf[i].val) != MSGPACK_UNPACK_SUCCESS) {
			*cause = xstrdup("internal encoding error");
			goto out;
		}
	}
	if (create)
		fill_from(b, t, pf, &np);
	if (create)
		for (i = 0; i < t->nfields; i++) {
			int found = 0;

			if (!t->fields[i].required)
				continue;
			for (j = 0; j < np; j++)
				if (pf[j].f == &t->fields[i])
					found = 1;
			if (!found) {
				*cause = xasprintf("field %s: is required for "
				    "%s %s", t->fields[i].name,
				    strchr("aeiou", t->name[0]) ? "an" : "a",
				    t->name);
				goto out;
			}
		}
	if ((*cause = cross_check(t, pf, np, have_old ? &old : NULL)) != NULL)
		goto out;
	advise(b, t, pf, np, have_old ? &old : NULL, create);
	qsort(pf, np, sizeof(pf[0]), pfield_cmp);
	if (create && t->id_from != NULL) {
		/* The id derives from a key (the id_from column, proto.h). */
		const msgpack_object *key = effective_value(pf, np, NULL,
		    t->id_from);

		if (key != NULL && key->type == MSGPACK_OBJECT_BIN &&
		    key->via.bin.size == PROTO_KEY_LEN)
			proto_member_id(id, (const uint8_t *)key->via.bin.ptr);
	} else if (create)
		proto_id_new(id, store_now_ms(), b->s->info.node);
	mark_op(b, b->ops.sb.size);
	if (t->log_site != NULL)
		mark_site(b, effective_value(pf, np, have_old ? &old : NULL,
		    t->log_site));
	proto_op_begin(&b->ops, PROTO_OP_PUT, t->name, id, (uint32_t)np,
	    !create);
	for (i = 0; i < np; i++) {
		proto_pack_cstr(&b->ops.pk, pf[i].f->name);
		msgpack_sbuffer_write(&b->ops.sb, vals->sb.data + pf[i].start,
		    pf[i].len);
	}
	if (!create) {
		struct seen_arg sa;

		memset(&sa, 0, sizeof(sa));
		store_conflicts(b->s, id, seen_conflict, &sa);
		proto_op_base(&b->ops, (uint32_t)np);
		for (i = 0; i < np; i++) {
			size_t k, nc = 0;

			for (k = 0; k < sa.n; k++)
				nc += strcmp(sa.field[k], pf[i].f->name) == 0;
			proto_pack_cstr(&b->ops.pk, pf[i].f->name);
			if (nc > 0)
				msgpack_pack_array(&b->ops.pk, nc + 1);
			msgpack_pack_uint64(&b->ops.pk,
			    store_rec_clock(&old, pf[i].f->name));
			for (k = 0; k < sa.n; k++)
				if (strcmp(sa.field[k], pf[i].f->name) == 0)
					msgpack_pack_uint64(&b->ops.pk,
					    sa.hlc[k]);
		}
	}
	rc = 0;
	if (b->stream != NULL)
		stream_seal(b, 0);
out:
	if (rc != 0) {
		b->ops.sb.size = mark;
		while (b->nwarn > nwarn)
			free(b->warn[--b->nwarn]);
	}
	if (have_old)
		store_rec_free(&old);
	return rc;
}

/* Adds a delete. */
int
store_batch_del(struct store_batch *b, const uint8_t id[PROTO_ID_LEN],
    char **cause)
{
	struct store_rec r;

	if (store_get(b->s, id, &r) != 0) {
		*cause = xstrdup("no such record");
		return CS_ENOTFOUND;
	}
	if (r.deleted) {
		store_rec_free(&r);
		*cause = xstrdup("record is already removed");
		return CS_ENOTFOUND;
	}
	mark_op(b, b->ops.sb.size);
	if (r.type->log_site != NULL)
		mark_site(b, store_rec_value(&r, r.type->log_site));
	proto_op_begin(&b->ops, PROTO_OP_DEL, r.type->name, id, 0, 0);
	store_rec_free(&r);
	if (b->stream != NULL)
		stream_seal(b, 0);
	return 0;
}

/* Room kept in a commit for its header. */
#define HEADER_ROOM 128

/*
 * Returns where the commit that starts at op first ends: it takes ops
 * while it holds fewer than PROTO_MAX_OPS and stays within
 * STORE_LOCAL_COMMIT.  An op alone larger than that (a few tens of KiB
 * at most, far below PROTO_MAX_COMMIT) is a commit of its own.
 */
static size_t
chunk_end(const struct store_batch *b, size_t first)
{
	size_t i = first, bytes = 0, end;

	while (i < b->nops && i - first < PROTO_MAX_OPS) {
		end = i + 1 < b->nops ? b->off[i + 1] : b->ops.sb.size;
		if (i > first && bytes + (end - b->off[i]) >
		    STORE_LOCAL_COMMIT - HEADER_ROOM)
			break;
		bytes += end - b->off[i];
		i++;
	}
	return i;
}

/* One log's chain while commits are written in one transaction. */
struct chain {
	struct store *s;
	uint8_t origin[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN];
	uint64_t seq, hlc;
	uint8_t prev[PROTO_HASH_LEN];
	int have_prev;
	uint8_t prefix[PROTO_SIG_PREFIX_LEN];
	struct proto_enc hdr, msg;
	char *cause;
};

/* Reads the head of the log of the key sk (NULL: the node's) and the
 * clock inside txn. */
static void
chain_start(struct chain *ch, struct store *s, MDB_txn *txn,
    const uint8_t *sk)
{
	MDB_val hk = { 3, (void *)(uintptr_t)"hlc" }, d;
	uint64_t meta_hlc = 0;

	ch->s = s;
	memcpy(ch->sk, sk != NULL ? sk : s->sk, PROTO_SK_LEN);
	memcpy(ch->origin, lay_sk_pk(ch->sk), PROTO_KEY_LEN);
	ch->seq = ch->hlc = 0;
	ch->cause = NULL;
	ch->have_prev = store_head_get(s, txn, ch->origin, &ch->seq,
	    ch->prev, &ch->hlc) == 0;
	if (mdb_get(txn, s->dbi[DB_META], &hk, &d) == 0 && d.mv_size == 8)
		meta_hlc = get_be64(d.mv_data);
	if (meta_hlc > ch->hlc)
		ch->hlc = meta_hlc;
	proto_sig_prefix(ch->prefix, s->info.network);
	proto_enc_init(&ch->hdr);
	proto_enc_init(&ch->msg);
}

static void
chain_end(struct chain *ch)
{
	sodium_memzero(ch->sk, sizeof(ch->sk));
	proto_enc_free(&ch->hdr);
	proto_enc_free(&ch->msg);
}

/*
 * Makes the next commit of nops encoded ops (len bytes), signs it and
 * applies it inside txn.  The commit is laid out once, behind the
 * signature's prefix, in a buffer reused from commit to commit.  Returns
 * 0 or an error with ch->cause set when the store refused it.
 */
static int
chain_commit(struct chain *ch, MDB_txn *txn, const char *ops, size_t len,
    uint32_t nops)
{
	struct store_item item;
	uint8_t sig[PROTO_SIG_LEN];
	int rc;

	ch->hlc = hlc_tick(ch->hlc, store_now_ms());
	ch->seq++;
	proto_commit_begin(&ch->hdr, ch->origin, ch->seq,
	    ch->have_prev ? ch->prev : NULL, ch->hlc, nops);
	proto_enc_reset(&ch->msg);
	msgpack_sbuffer_write(&ch->msg.sb, (const char *)ch->prefix,
	    sizeof(ch->prefix));
	msgpack_sbuffer_write(&ch->msg.sb, ch->hdr.sb.data, ch->hdr.sb.size);
	msgpack_sbuffer_write(&ch->msg.sb, ops, len);
	proto_sign_framed(sig, (const uint8_t *)ch->msg.sb.data,
	    ch->msg.sb.size, ch->sk);
	memset(&item, 0, sizeof(item));
	item.e = (const uint8_t *)ch->msg.sb.data + sizeof(ch->prefix);
	item.elen = ch->msg.sb.size - sizeof(ch->prefix);
	item.sig = sig;
	proto_hash(ch->prev, item.e, item.elen, sig);
	ch->have_prev = 1;
	rc = store_apply_local(ch->s, txn, &item, 1);
	if (rc == 0 && item.result != 0) {
		ch->cause = item.result == CS_EPERM ?
		    xasprintf("not allowed: %s", item.cause) :
		    xasprintf("own commit refused: %s", item.cause);
		rc = item.result;
	}
	return rc;
}

/*
 * The admin's writes, by log (docs/security.md, "The hub's own writes"):
 * what every member reads (site and member records, and records of no
 * site) goes into the admin log; what belongs to one site goes into that
 * site's hub log, whose key is derived from the admin's key and the site
 * (store_site_key()) and enrolled by the admin, as a hub speaking for that
 * site, the first time it is used.  A site's hub log is read by that site
 * and whoever reads it, so a correction of site B's café reaches B, the
 * hubs and B's consultants, and no other site.
 */

/* Returns how many of s's n bytes fit in max without cutting a UTF-8
 * character. */
static int
utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return (int)n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return (int)max;
}

/*
 * Adds to adm the member record that enrolls pk as site's hub log, named
 * after the hub and the site ("State hub for Pine County FRC"), within
 * the member name's 200 bytes; returns 0 or an error with *cause.
 */
static int
enroll_site_log(struct store *s, MDB_txn *txn, struct store_batch *adm,
    const uint8_t site[PROTO_ID_LEN], const uint8_t pk[PROTO_KEY_LEN],
    char **cause)
{
	MDB_val k = { PROTO_ID_LEN, (void *)(uintptr_t)site }, d;
	char name[256], hex[9], sitehex[2 * PROTO_ID_LEN + 1];
	struct store_rec r;
	const msgpack_object *v = NULL;
	const char *hub = s->info.name;
	int hn = utf8_cut(hub, strlen(hub), 80);
	size_t room = 200 - 5 - (size_t)hn;	/* the name field's bound */
	struct store_enroll en;

	proto_hex(hex, site + PROTO_ID_RAND_OFF, PROTO_ID_RAND_LEN);
	snprintf(name, sizeof(name), "%.*s for site %s", hn, hub, hex);
	if (mdb_get(txn, s->dbi[DB_RECORDS], &k, &d) == 0 &&
	    store_rec_unpack(&r, site, d.mv_data, d.mv_size) == 0) {
		v = store_rec_value(&r, "name");
		if (v != NULL && v->type == MSGPACK_OBJECT_STR)
			snprintf(name, sizeof(name), "%.*s for %.*s", hn, hub,
			    utf8_cut(v->via.str.ptr, v->via.str.size,
			    room < 160 ? room : 160), v->via.str.ptr);
		msgpack_unpacked_destroy(&r.up);
	}
	proto_hex(sitehex, site, PROTO_ID_LEN);
	memset(&en, 0, sizeof(en));
	en.key = pk;
	en.role = STORE_ROLE_HUB;
	en.name = name;
	en.site = sitehex;
	return store_batch_enroll(adm, &en, cause);
}

/* Signs the ops of one log (gathered in g, n ops) as commits in txn. */
static int
commit_log(struct store *s, MDB_txn *txn, const uint8_t *sk,
    struct store_batch *g, char **cause)
{
	struct chain ch;
	size_t i = 0, end;
	int rc = 0;

	chain_start(&ch, s, txn, sk);
	while (rc == 0 && i < g->nops) {
		end = chunk_end(g, i);
		rc = chain_commit(&ch, txn, g->ops.sb.data + g->off[i],
		    (end < g->nops ? g->off[end] : g->ops.sb.size) - g->off[i],
		    (uint32_t)(end - i));
		i = end;
	}
	*cause = ch.cause;
	chain_end(&ch);
	return rc;
}

/* Copies op i of b to the end of g. */
static void
gather_op(struct store_batch *g, const struct store_batch *b, size_t i)
{
	size_t end = i + 1 < b->nops ? b->off[i + 1] : b->ops.sb.size;

	mark_op(g, g->ops.sb.size);
	msgpack_sbuffer_write(&g->ops.sb, b->ops.sb.data + b->off[i],
	    end - b->off[i]);
}

/* Commits the admin's batch: the admin log first, then each site's. */
static int
commit_admin(struct store *s, MDB_txn *txn, struct store_batch *b,
    char **cause)
{
	struct store_batch *adm = store_batch_new(s), *g;
	uint8_t (*sites)[PROTO_ID_LEN] = NULL;
	uint8_t pk[PROTO_KEY_LEN], sk[PROTO_SK_LEN], mid[PROTO_ID_LEN];
	size_t i, j, nsites = 0;
	MDB_val k, d;
	int rc = 0;

	*cause = NULL;
	adm->ids_only = 1;
	for (i = 0; i < b->nops; i++) {
		if (!b->has_site[i]) {
			gather_op(adm, b, i);
			continue;
		}
		for (j = 0; j < nsites; j++)
			if (memcmp(sites[j], b->site[i], PROTO_ID_LEN) == 0)
				break;
		if (j == nsites) {
			sites = xreallocarray(sites, nsites + 1,
			    sizeof(*sites));
			memcpy(sites[nsites++], b->site[i], PROTO_ID_LEN);
		}
	}
	/* Site logs not enrolled yet are enrolled in this admin commit. */
	for (j = 0; j < nsites; j++) {
		store_site_key(s, sites[j], pk, sk);
		sodium_memzero(sk, sizeof(sk));
		proto_member_id(mid, pk);
		k.mv_size = PROTO_ID_LEN;
		k.mv_data = mid;
		if (mdb_get(txn, s->dbi[DB_RECORDS], &k, &d) == 0)
			continue;
		rc = enroll_site_log(s, txn, adm, sites[j], pk, cause);
		if (rc != 0)
			break;
	}
	if (rc == 0 && adm->nops > 0)
		rc = commit_log(s, txn, NULL, adm, cause);
	for (j = 0; j < nsites && rc == 0; j++) {
		g = store_batch_new(s);
		for (i = 0; i < b->nops; i++)
			if (b->has_site[i] &&
			    memcmp(b->site[i], sites[j], PROTO_ID_LEN) == 0)
				gather_op(g, b, i);
		store_site_key(s, sites[j], pk, sk);
		rc = commit_log(s, txn, sk, g, cause);
		sodium_memzero(sk, sizeof(sk));
		store_batch_free(g);
	}
	free(sites);
	store_batch_free(adm);
	return rc;
}

struct commit_arg {
	struct store_batch *b;
	char *cause;
	store_write_fn post;      /* run after the commits, or NULL */
	void *post_arg;
};

/* Splits, signs and applies the whole batch inside one transaction. */
static int
commit_fn(struct store *s, MDB_txn *txn, void *arg)
{
	struct commit_arg *ca = arg;
	struct store_batch *b = ca->b;
	struct chain ch;
	size_t i = 0, end;
	int rc = 0;

	free(ca->cause);
	ca->cause = NULL;
	if (memcmp(s->info.node, s->info.network, PROTO_KEY_LEN) == 0 &&
	    b->nops > 0) {
		rc = commit_admin(s, txn, b, &ca->cause);
		if (rc == 0 && ca->post != NULL)
			rc = ca->post(s, txn, ca->post_arg);
		return rc;
	}
	chain_start(&ch, s, txn, NULL);
	while (rc == 0 && i < b->nops) {
		end = chunk_end(b, i);
		rc = chain_commit(&ch, txn, b->ops.sb.data + b->off[i],
		    (end < b->nops ? b->off[end] : b->ops.sb.size) - b->off[i],
		    (uint32_t)(end - i));
		i = end;
	}
	ca->cause = ch.cause;
	chain_end(&ch);
	if (rc == 0 && ca->post != NULL)
		rc = ca->post(s, txn, ca->post_arg);
	return rc;
}

/* ---- streaming ----------------------------------------------------------
 *
 * A large batch (an import) can be committed while it is still being
 * filled: a worker thread holds the write transaction and signs and
 * applies each commit's worth of ops as soon as the batch has it, so
 * parsing and writing overlap.  The ops of a finished commit are copied
 * out for the worker (the batch's own buffer keeps growing), and nothing
 * is durable before store_batch_commit(): a batch freed uncommitted, or a
 * failure, aborts the transaction.  When the map fills, the worker gives
 * up and the commit runs again, whole, through store_write().
 */
struct chunk {
	char *ops;
	size_t len;
	uint32_t nops;
};

struct stream {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk *chunks;
	size_t nchunks, cap;
	size_t sealed;            /* ops handed to the worker so far */
	int done;                 /* no more chunks will come */
	int commit;               /* with done: commit (else abort) */
	int rc;                   /* the worker's result */
	int map_full;
	int started;              /* the worker holds its transaction */
	char *cause;
};

/* The worker: one write transaction, one commit per chunk. */
static void *
stream_main(void *arg)
{
	struct store_batch *b = arg;
	struct stream *st = b->stream;
	struct store *s = b->s;
	struct chain ch;
	MDB_txn *txn;
	size_t ci = 0;
	int rc, commit;

	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	}
	pthread_mutex_lock(&st->mu);
	st->started = 1;
	pthread_cond_broadcast(&st->cv);
	if (rc != 0) {
		st->rc = CS_EDB;
		st->cause = xasprintf("store: %s", mdb_strerror(rc));
		pthread_mutex_unlock(&st->mu);
		return NULL;
	}
	pthread_mutex_unlock(&st->mu);
	s->mdb_err = 0;
	chain_start(&ch, s, txn, NULL);
	for (;;) {
		struct chunk c;

		pthread_mutex_lock(&st->mu);
		while (ci >= st->nchunks && !st->done)
			pthread_cond_wait(&st->cv, &st->mu);
		if (ci >= st->nchunks || (st->done && !st->commit)) {
			pthread_mutex_unlock(&st->mu);
			break;
		}
		c = st->chunks[ci++];
		pthread_mutex_unlock(&st->mu);
		if ((rc = chain_commit(&ch, txn, c.ops, c.len, c.nops)) != 0)
			break;
	}
	pthread_mutex_lock(&st->mu);
	while (rc == 0 && !st->done)
		pthread_cond_wait(&st->cv, &st->mu);
	commit = rc == 0 && st->commit;
	pthread_mutex_unlock(&st->mu);
	if (commit) {
		rc = mdb_txn_commit(txn);
		if (rc != 0) {
			s->mdb_err = rc;
			rc = CS_EDB;
		}
	} else
		mdb_txn_abort(txn);
	pthread_mutex_lock(&st->mu);
	st->map_full = s->mdb_err == MDB_MAP_FULL;
	st->rc = rc;
	if (ch.cause == NULL && rc == CS_EDB &&
	    store_space_low(s, s->mdb_err, &ch.cause))
		rc = CS_ENOSPC;
	st->cause = ch.cause != NULL ? ch.cause : rc == CS_EDB ?
	    xasprintf("store: %s", mdb_strerror(s->mdb_err)) : NULL;
	pthread_mutex_unlock(&st->mu);
	chain_end(&ch);
	return NULL;
}

/* Hands every finished commit's worth of ops (all, when final) over. */
static void
stream_seal(struct store_batch *b, int final)
{
	struct stream *st = b->stream;
	size_t end, from, to;

	while (st->sealed < b->nops) {
		end = chunk_end(b, st->sealed);
		if (end == b->nops && !final)
			break;	/* the last chunk may still grow */
		from = b->off[st->sealed];
		to = end < b->nops ? b->off[end] : b->ops.sb.size;
		pthread_mutex_lock(&st->mu);
		if (st->nchunks == st->cap) {
			st->cap = st->cap ? st->cap * 2 : 16;
			st->chunks = xreallocarray(st->chunks, st->cap,
			    sizeof(*st->chunks));
		}
		st->chunks[st->nchunks].ops = xmalloc(to - from);
		memcpy(st->chunks[st->nchunks].ops, b->ops.sb.data + from,
		    to - from);
		st->chunks[st->nchunks].len = to - from;
		st->chunks[st->nchunks].nops = (uint32_t)(end - st->sealed);
		st->nchunks++;
		pthread_cond_broadcast(&st->cv);
		pthread_mutex_unlock(&st->mu);
		st->sealed = end;
	}
}

/* Tells the worker to commit or abort, waits for it and frees it. */
static int
stream_finish(struct store_batch *b, int commit, int *map_full,
    char **cause)
{
	struct stream *st = b->stream;
	size_t i;
	int rc;

	pthread_mutex_lock(&st->mu);
	st->done = 1;
	st->commit = commit;
	pthread_cond_broadcast(&st->cv);
	pthread_mutex_unlock(&st->mu);
	pthread_join(st->thread, NULL);
	rc = st->rc;
	*map_full = st->map_full;
	if (cause != NULL)
		*cause = st->cause;
	else
		free(st->cause);
	for (i = 0; i < st->nchunks; i++)
		free(st->chunks[i].ops);
	free(st->chunks);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	free(st);
	b->stream = NULL;
	return rc;
}

/* Starts committing the batch in the background as it fills. */
int
store_batch_stream(struct store_batch *b)
{
	struct stream *st;

	if (b->stream != NULL || b->nops != 0)
		return CS_EUSAGE;
	if (store_restore_pending(b->s))
		return CS_EPERM;
	/* The admin's writes are split by site at commit (commit_admin()). */
	if (memcmp(b->s->info.node, b->s->info.network, PROTO_KEY_LEN) == 0)
		return CS_EUSAGE;
	st = xcalloc(1, sizeof(*st));
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	b->stream = st;
	if (pthread_create(&st->thread, NULL, stream_main, b) != 0) {
		pthread_mutex_destroy(&st->mu);
		pthread_cond_destroy(&st->cv);
		free(st);
		b->stream = NULL;
		return CS_EIO;
	}
	/*
	 * Wait until the worker holds its transaction: it may have to adopt
	 * a map another process grew, which LMDB allows only while this
	 * process has no transaction open, and the caller's reads start next.
	 */
	pthread_mutex_lock(&st->mu);
	while (!st->started)
		pthread_cond_wait(&st->cv, &st->mu);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

/* Signs and commits the batch. */
int
store_batch_commit(struct store_batch *b, char **cause)
{
	return store_batch_commit_post(b, NULL, NULL, cause);
}

/* Commits the batch and runs post in the same transaction (internal.h). */
int
store_batch_commit_post(struct store_batch *b, store_write_fn post, void *arg,
    char **cause)
{
	struct commit_arg ca = { b, NULL, post, arg };
	int rc, map_full = 0;

	*cause = NULL;
	if ((rc = store_write_allowed(b->s, cause)) != 0)
		return rc;
	if (b->stream != NULL && post != NULL)
		return CS_EUSAGE;
	if (b->stream != NULL) {
		stream_seal(b, 1);
		rc = stream_finish(b, 1, &map_full, cause);
		if (!map_full)
			return rc;
		/* The map filled: grow it and write the whole batch again. */
		free(*cause);
		*cause = NULL;
	}
	if (b->nops == 0)
		return 0;
	b->s->write_hint = b->ops.sb.size;
	rc = store_write(b->s, commit_fn, &ca, cause);
	if (rc != 0 && *cause == NULL)
		*cause = ca.cause != NULL ? ca.cause :
		    xstrdup(cs_strerror(rc));
	else
		free(ca.cause);
	return rc;
}
