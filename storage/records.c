/*
 * records.c: reading records back: a record's value and clocks, by id or
 * by a unique prefix of one (store_resolve; short ids and names are
 * names.c's), listings and queries by type, site and date, and the
 * conflicts kept beside the records.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Unpacks a record value. */
int
store_rec_unpack(struct store_rec *r, const uint8_t *id, const void *data,
    size_t len)
{
	const msgpack_object *a;
	size_t off = 0;

	uint32_t i;

	memset(r, 0, sizeof(*r));
	memcpy(r->id, id, PROTO_ID_LEN);
	msgpack_unpacked_init(&r->up);
	if (msgpack_unpack_next(&r->up, data, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || r->up.data.type != MSGPACK_OBJECT_ARRAY ||
	    r->up.data.via.array.size != 4)
		goto bad;
	a = r->up.data.via.array.ptr;
	if (a[0].type != MSGPACK_OBJECT_STR ||
	    a[2].type != MSGPACK_OBJECT_ARRAY || a[3].type != MSGPACK_OBJECT_MAP)
		goto bad;
	r->type = sch_type_find(a[0].via.str.ptr, a[0].via.str.size);
	if (r->type == NULL)
		goto bad;
	r->clocks = a[2].via.array.ptr;
	r->nclocks = a[2].via.array.size;
	for (i = 0; i < r->nclocks; i++) {
		const msgpack_object *c = &r->clocks[i];

		if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 2 ||
		    c->via.array.ptr[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    c->via.array.ptr[1].type != MSGPACK_OBJECT_BIN ||
		    c->via.array.ptr[1].via.bin.size != PROTO_KEY_LEN)
			goto bad;
	}
	if (a[1].type != MSGPACK_OBJECT_NIL &&
	    (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    a[1].via.u64 >= r->nclocks))
		goto bad;
	r->deleted = a[1].type != MSGPACK_OBJECT_NIL;
	r->fields = a[3].via.map.ptr;
	r->nfields = a[3].via.map.size;
	for (i = 0; i < r->nfields; i++) {
		const msgpack_object *k = &r->fields[i].key;
		const msgpack_object *v = &r->fields[i].val;

		if (k->type != MSGPACK_OBJECT_STR ||
		    v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2 ||
		    v->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    v->via.array.ptr[1].via.u64 >= r->nclocks)
			goto bad;
	}
	return 0;
bad:
	msgpack_unpacked_destroy(&r->up);
	return CS_EDB;
}

/* Finds the [value, clock index] entry of a field. */
static const msgpack_object *
rec_entry(const struct store_rec *r, const char *name)
{
	size_t n = strlen(name);
	uint32_t i;

	for (i = 0; i < r->nfields; i++) {
		const msgpack_object *k = &r->fields[i].key;

		if (k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0)
			return r->fields[i].val.via.array.ptr;
	}
	return NULL;
}

/* Returns the [hlc, origin] clock of an entry. */
static const msgpack_object *
entry_clock(const struct store_rec *r, const msgpack_object *e)
{
	return r->clocks[e[1].via.u64].via.array.ptr;
}

/* Returns a field's value, or NULL when absent or nil. */
const msgpack_object *
store_rec_value(const struct store_rec *r, const char *name)
{
	const msgpack_object *e = rec_entry(r, name);

	return e == NULL || e[0].type == MSGPACK_OBJECT_NIL ? NULL : &e[0];
}

/* Returns a field's clock. */
uint64_t
store_rec_clock(const struct store_rec *r, const char *name)
{
	const msgpack_object *e = rec_entry(r, name);

	return e == NULL ? 0 : entry_clock(r, e)[0].via.u64;
}

/* Returns the origin that wrote a field. */
const uint8_t *
store_rec_origin(const struct store_rec *r, const char *name)
{
	const msgpack_object *e = rec_entry(r, name);

	return e == NULL ? NULL :
	    (const uint8_t *)entry_clock(r, e)[1].via.bin.ptr;
}

/* Frees a record. */
void
store_rec_free(struct store_rec *r)
{
	msgpack_unpacked_destroy(&r->up);
	free(r->raw);
	r->raw = NULL;
}

/* Reads a record by id into an owned copy. */
int
store_get(struct store *s, const uint8_t id[PROTO_ID_LEN],
    struct store_rec *r)
{
	MDB_txn *txn;
	MDB_val k = { PROTO_ID_LEN, (void *)(uintptr_t)id }, d;
	uint8_t *copy;
	int rc;

	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	if (mdb_get(txn, s->dbi[DB_RECORDS], &k, &d) != 0) {
		mdb_txn_abort(txn);
		return CS_ENOTFOUND;
	}
	copy = xmalloc(d.mv_size);
	memcpy(copy, d.mv_data, d.mv_size);
	mdb_txn_abort(txn);
	rc = store_rec_unpack(r, id, copy, d.mv_size);
	if (rc != 0) {
		free(copy);
		return rc;
	}
	r->raw = copy;
	return 0;
}

/* Parses up to 32 hex chars into bytes; returns the nibble count or -1. */
static int
parse_prefix(const char *text, uint8_t *out)
{
	int n = 0;

	memset(out, 0, PROTO_ID_LEN);
	for (; text[n] != '\0'; n++) {
		char c = text[n];
		int v;

		if (n >= 2 * PROTO_ID_LEN)
			return -1;
		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		out[n / 2] |= (uint8_t)(n % 2 ? v : v << 4);
	}
	return n;
}

/* Returns whether key begins with the first nibbles of prefix. */
static int
prefix_match(const uint8_t *key, const uint8_t *prefix, int nibbles)
{
	int full = nibbles / 2;

	if (memcmp(key, prefix, (size_t)full) != 0)
		return 0;
	return nibbles % 2 == 0 || (key[full] & 0xf0) == prefix[full];
}

/* Resolves an id or unique prefix among live (or all) records. */
static int
resolve(struct store *s, const char *text, const struct sch_type *type,
    int removed_too, uint8_t id[PROTO_ID_LEN], char **cause)
{
	uint8_t prefix[PROTO_ID_LEN];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	struct store_rec r;
	int n, rc, found = 0;

	n = parse_prefix(text, prefix);
	if (n < 4) {
		*cause = xasprintf("'%s' is not a record id (at least 4 hex "
		    "digits)", text);
		return CS_EUSAGE;
	}
	if (store_read_cursor(s, &txn, s->dbi[DB_RECORDS], &cur) != 0) {
		*cause = xstrdup("cannot read the store");
		return CS_EDB;
	}
	k.mv_size = PROTO_ID_LEN;
	k.mv_data = prefix;
	rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
	while (rc == 0 && prefix_match(k.mv_data, prefix, n)) {
		if (store_rec_unpack(&r, k.mv_data, d.mv_data, d.mv_size) == 0) {
			int ok = (removed_too || !r.deleted) &&
			    (type == NULL || r.type == type);

			msgpack_unpacked_destroy(&r.up);
			if (ok) {
				if (found++ == 0)
					memcpy(id, k.mv_data, PROTO_ID_LEN);
				else
					break;
			}
		}
		rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (found == 1)
		return 0;
	if (found > 1) {
		*cause = xasprintf("id prefix '%s' is ambiguous", text);
		return CS_EAMBIG;
	}
	*cause = xasprintf("no %s with id '%s'", type ? type->name : "record",
	    text);
	return CS_ENOTFOUND;
}

/* Resolves among live records. */
int
store_resolve(struct store *s, const char *text, const struct sch_type *type,
    uint8_t id[PROTO_ID_LEN], char **cause)
{
	return resolve(s, text, type, 0, id, cause);
}

/* Resolves among live and removed records. */
int
store_resolve_all(struct store *s, const char *text,
    uint8_t id[PROTO_ID_LEN], char **cause)
{
	return resolve(s, text, NULL, 1, id, cause);
}

/* Returns the date (YYYYMMDD) of a record, 0 when it has none. */
static uint32_t
rec_ymd(const struct store_rec *r)
{
	const msgpack_object *v = store_rec_value(r, "date");
	uint32_t ymd = 0;

	if (v != NULL && v->type == MSGPACK_OBJECT_STR)
		sch_date_parse(v->via.str.ptr, v->via.str.size, &ymd);
	return ymd;
}

/* Returns whether r passes q's type, site, date and removal filters. */
static int
rec_matches(const struct store_rec *r, const struct store_query *q)
{
	const msgpack_object *site;
	uint32_t ymd;

	if ((q->type != NULL && r->type != q->type) ||
	    (r->deleted && !q->with_deleted))
		return 0;
	if (q->site != NULL) {
		site = store_rec_value(r, "site");
		if (site == NULL || site->type != MSGPACK_OBJECT_BIN ||
		    site->via.bin.size != PROTO_ID_LEN ||
		    memcmp(site->via.bin.ptr, q->site, PROTO_ID_LEN) != 0)
			return 0;
	}
	ymd = rec_ymd(r);
	return (q->since == 0 || ymd >= q->since) &&
	    (q->until == 0 || (ymd != 0 && ymd <= q->until));
}

/* Lists records matching q. */
int
store_list(struct store *s, const struct store_query *q, store_rec_fn fn,
    void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d, rk, rd;
	uint8_t start[LAY_BYSITE_LEN], type;
	size_t plen;
	MDB_dbi dbi;
	int rc, stop = 0, scan = q->type == NULL || q->with_deleted;

	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	/*
	 * The indexes hold live records of one type; any other question
	 * walks the records themselves.
	 */
	type = scan ? 0 : (uint8_t)store_type_index(q->type);
	if (scan) {
		dbi = s->dbi[DB_RECORDS];
		plen = 0;
		k.mv_size = 0;
	} else if (q->site != NULL) {
		dbi = s->dbi[DB_BYSITE];
		plen = lay_bysite_from(start, type, q->site, q->since);
		k.mv_size = plen + LAY_YMD_LEN;
	} else {
		dbi = s->dbi[DB_BYDATE];
		plen = lay_bydate_from(start, type, q->since);
		/* from since on, or every entry of the type */
		k.mv_size = q->since != 0 || q->until != 0 ?
		    plen + LAY_YMD_LEN : plen;
	}
	k.mv_data = start;
	if (mdb_cursor_open(txn, dbi, &cur) != 0) {
		mdb_txn_abort(txn);
		return CS_EDB;
	}
	rc = mdb_cursor_get(cur, &k, &d, scan ? MDB_FIRST : MDB_SET_RANGE);
	for (; rc == 0 && !stop; rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *key = k.mv_data, *id = key;
		struct store_rec r;
		uint32_t ymd;

		if (scan) {
			if (k.mv_size < PROTO_ID_LEN)
				break;
		} else {
			if (memcmp(key, start, plen) != 0 ||
			    lay_index_entry(key, k.mv_size, plen, &ymd,
			    &id) != 0)
				break;
			if (q->until != 0 && ymd > q->until)
				break;
			if (ymd < q->since)
				continue;
		}
		if (scan)
			rd = d;
		else {
			rk.mv_size = PROTO_ID_LEN;
			rk.mv_data = (void *)(uintptr_t)id;
			if (mdb_get(txn, s->dbi[DB_RECORDS], &rk, &rd) != 0)
				continue;
		}
		if (store_rec_unpack(&r, id, rd.mv_data, rd.mv_size) != 0)
			continue;
		if (rec_matches(&r, q))
			stop = fn(&r, arg);
		msgpack_unpacked_destroy(&r.up);
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

/* Walks the conflicts (of one record, or all). */
int
store_conflicts(struct store *s, const uint8_t *id, store_conflict_fn fn,
    void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d, rk, rd;
	uint8_t zero[PROTO_ID_LEN] = { 0 };
	int rc;

	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	k.mv_size = PROTO_ID_LEN;
	k.mv_data = (void *)(uintptr_t)(id != NULL ? id : zero);
	if (mdb_cursor_open(txn, s->dbi[DB_CONFLICTS], &cur) != 0) {
		mdb_txn_abort(txn);
		return CS_EDB;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *key = k.mv_data, *name, *origin;
		struct store_conflict c;
		struct store_rec r;
		msgpack_unpacked up;
		size_t off = 0, nlen;
		char field[PROTO_MAX_NAME + 1];
		const msgpack_object *e;
		uint64_t hlc;
		int stop;

		if (id != NULL && (k.mv_size < PROTO_ID_LEN ||
		    memcmp(key, id, PROTO_ID_LEN) != 0))
			break;
		if (lay_field_key_parse(key, k.mv_size, 1, &name, &nlen, &hlc,
		    &origin) != 0 || nlen > PROTO_MAX_NAME)
			continue;
		memcpy(field, name, nlen);
		field[nlen] = '\0';
		rk.mv_size = PROTO_ID_LEN;
		rk.mv_data = (void *)(uintptr_t)key;
		if (mdb_get(txn, s->dbi[DB_RECORDS], &rk, &rd) != 0 ||
		    store_rec_unpack(&r, key, rd.mv_data, rd.mv_size) != 0)
			continue;
		msgpack_unpacked_init(&up);
		if (msgpack_unpack_next(&up, d.mv_data, d.mv_size, &off) !=
		    MSGPACK_UNPACK_SUCCESS) {
			msgpack_unpacked_destroy(&up);
			msgpack_unpacked_destroy(&r.up);
			continue;
		}
		e = rec_entry(&r, field);
		c.type = r.type;
		c.id = key;
		c.field = field;
		c.value = &up.data;
		c.hlc = hlc;
		c.origin = origin;
		c.winner = e != NULL ? &e[0] : NULL;
		c.winner_hlc = store_rec_clock(&r, field);
		c.winner_origin = store_rec_origin(&r, field);
		stop = fn(&c, arg);
		msgpack_unpacked_destroy(&up);
		msgpack_unpacked_destroy(&r.up);
		if (stop)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}
