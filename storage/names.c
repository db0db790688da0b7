/*
 * names.c: the name index and short ids.
 *
 * Records of a type with a "name" field (sites, persons, members) are
 * found by name as well as by id.  The "names" database maps
 * type(1) fold(name) NUL id(16) to the name as written, for live records
 * only; store_names_apply() keeps it in step with every applied op, in the
 * op's write transaction, so a look-up never scans the records.  A store
 * made before the index existed gets it built at the first look-up.
 *
 * A name is folded for comparison: ASCII letters lowered, the accented
 * Latin letters (U+00C0-U+017F) taken to their base letter, runs of
 * white space made one space and trimmed.  So "María  Peña" and
 * "maria pena" are the same name.
 *
 * Short ids.  Ids begin with a clock, so the ids of one store share their
 * first ten or so hex digits and differ at the end: the random part, or
 * the counter of ids made in the same millisecond.  So a short id is the
 * shortest end of the id (its last hex digits) that no other stored
 * record shares (removed ones included), as git abbreviates object names
 * from the part that differs, and never fewer than 4 digits.  The same
 * database keeps, under the type byte LAY_SUFFIX_TAG, every id with its hex
 * digits reversed -> the id, so both the short form and the look-up of
 * a typed end are one cursor seek.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Meta key set once the index holds every named record and every id. */
#define NAMES_META "names_index"

/* Puts the reversed-id entry of id. */
static int
suffix_put(struct store *s, MDB_txn *txn, const uint8_t *id)
{
	uint8_t key[LAY_SUFFIX_LEN];
	MDB_val k = { sizeof(key), key }, d = { PROTO_ID_LEN,
		(void *)(uintptr_t)id };
	int rc;

	lay_suffix_key(key, id);
	rc = mdb_put(txn, s->dbi[DB_NAMES], &k, &d, 0);
	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

/* Base letters of U+00C0-U+017F; '*' keeps the character as it is. */
static const char fold_table[] =
    "aaaaaaaceeeeiiiidnooooo*ouuuuy*s"
    "aaaaaaaceeeeiiiidnooooo*ouuuuy*y"
    "aaaaaaccccccccdd" "ddeeeeeeeeeegggg" "gggghhhhiiiiiiii"
    "iiiijjkkklllllll" "lllnnnnnnnnnoooo" "oooorrrrrrssssss"
    "ssttttttuuuuuuuu" "uuuuwwyyyzzzzzzs";

/* Folds n bytes of a name into out (at least n + 1 bytes). */
static size_t
fold_into(const char *in, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t i = 0, o = 0;
	int space = 0;

	while (i < n) {
		unsigned c = p[i];

		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			space = o > 0;
			i++;
			continue;
		}
		if (space) {
			out[o++] = ' ';
			space = 0;
		}
		if (c < 0x80) {
			out[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			i++;
			continue;
		}
		if ((c == 0xc3 || c == 0xc4 || c == 0xc5) && i + 1 < n &&
		    (p[i + 1] & 0xc0) == 0x80) {
			unsigned cp = (c & 0x1f) << 6 | (p[i + 1] & 0x3f);

			if (cp >= 0xc0 && cp <= 0x17f &&
			    fold_table[cp - 0xc0] != '*') {
				out[o++] = fold_table[cp - 0xc0];
				i += 2;
				continue;
			}
		}
		out[o++] = (char)c;
		i++;
	}
	out[o] = '\0';
	return o;
}

/* Folds a name (malloc'd). */
char *
store_name_fold(const char *name)
{
	size_t n = strlen(name);
	char *out = xmalloc(n + 1);

	fold_into(name, n, out);
	return out;
}

/* Returns whether t's records carry a name that the index keeps. */
static int
named(const struct sch_type *t)
{
	const struct sch_field *f;

	return t != NULL && (f = sch_field_find(t, "name", 4)) != NULL &&
	    f->type == SCH_TEXT;
}

/* Makes the index key of a record; returns its length, 0 when none. */
static size_t
name_key(const struct store_rec *r, uint8_t *key, size_t max,
    const char **name, size_t *nlen)
{
	const msgpack_object *v;
	size_t n;

	if (r->deleted || !named(r->type) ||
	    (v = store_rec_value(r, "name")) == NULL ||
	    v->type != MSGPACK_OBJECT_STR || v->via.str.size == 0 ||
	    LAY_NAME_LEN(v->via.str.size) > max)
		return 0;
	n = fold_into(v->via.str.ptr, v->via.str.size,
	    (char *)lay_name_fold(key));
	*name = v->via.str.ptr;
	*nlen = v->via.str.size;
	return lay_name_key(key, (uint8_t)store_type_index(r->type), n,
	    r->id);
}

/* Puts or deletes the index entry of a record's bytes (NULL: none). */
static int
entry(struct store *s, MDB_txn *txn, const uint8_t *id, const void *rec,
    size_t len, int add)
{
	uint8_t key[LAY_NAME_KEY_MAX];
	struct store_rec r;
	const char *name = NULL;
	size_t klen, nlen = 0;
	MDB_val k, d;
	int rc = 0;

	if (rec == NULL || store_rec_unpack(&r, id, rec, len) != 0)
		return 0;
	klen = name_key(&r, key, sizeof(key), &name, &nlen);
	if (klen > 0) {
		k.mv_size = klen;
		k.mv_data = key;
		d.mv_size = nlen;
		d.mv_data = (void *)(uintptr_t)name;
		rc = add ? mdb_put(txn, s->dbi[DB_NAMES], &k, &d, 0) :
		    mdb_del(txn, s->dbi[DB_NAMES], &k, NULL);
		rc = rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_fail(s, rc);
	}
	msgpack_unpacked_destroy(&r.up);
	return rc;
}

/* Keeps the index in step with one record write (merge.c). */
int
store_names_apply(struct store *s, MDB_txn *txn, const uint8_t *id,
    const struct sch_type *t, const void *oldrec, size_t oldlen,
    const void *newrec, size_t newlen)
{
	int rc;

	if (oldrec == NULL && (rc = suffix_put(s, txn, id)) != 0)
		return rc;
	if (!named(t))
		return 0;
	if ((rc = entry(s, txn, id, oldrec, oldlen, 0)) != 0)
		return rc;
	return entry(s, txn, id, newrec, newlen, 1);
}

/* Builds the index from the live records of the named types. */
static int
build_fn(struct store *s, MDB_txn *txn, void *arg)
{
	MDB_cursor *cur;
	MDB_val k, d, rk, rd;
	uint8_t one = 1, start[LAY_BYDATE_LEN];
	unsigned i;
	int rc;

	(void)arg;
	if ((rc = mdb_drop(txn, s->dbi[DB_NAMES], 0)) != 0)
		return store_mdb_fail(s, rc);
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_BYDATE], &cur)) != 0)
		return store_mdb_fail(s, rc);
	for (i = 0; i < sch_ntypes; i++) {
		if (!named(&sch_types[i]))
			continue;
		/* Every entry of the type, whatever its date. */
		k.mv_size = lay_bydate_from(start, (uint8_t)i, 0);
		k.mv_data = start;
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			const uint8_t *key = k.mv_data, *id;
			uint32_t ymd;

			if (k.mv_size != LAY_BYDATE_LEN ||
			    lay_bydate_type(key) != i ||
			    lay_index_entry(key, k.mv_size, LAY_BYDATE_YMD,
			    &ymd, &id) != 0)
				break;
			rk.mv_size = PROTO_ID_LEN;
			rk.mv_data = (void *)(uintptr_t)id;
			if (mdb_get(txn, s->dbi[DB_RECORDS], &rk, &rd) != 0)
				continue;
			if ((rc = entry(s, txn, id, rd.mv_data, rd.mv_size,
			    1)) != 0) {
				mdb_cursor_close(cur);
				return rc;
			}
		}
	}
	mdb_cursor_close(cur);
	/* Every id, removed records' too, for short ids. */
	if ((rc = mdb_cursor_open(txn, s->dbi[DB_RECORDS], &cur)) != 0)
		return store_mdb_fail(s, rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		if (k.mv_size == PROTO_ID_LEN &&
		    (rc = suffix_put(s, txn, k.mv_data)) != 0) {
			mdb_cursor_close(cur);
			return rc;
		}
	mdb_cursor_close(cur);
	return store_meta_put(s, txn, NAMES_META, &one, 1);
}

/* Builds the index once, for a store made before it existed. */
static int
names_ready(struct store *s)
{
	MDB_txn *txn;
	uint8_t v;
	int have;
	char *cause = NULL;

	if (s->names_ok)
		return 0;
	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	have = store_meta_get(txn, s->dbi[DB_META], NAMES_META, &v, 1,
	    NULL) == 0;
	mdb_txn_abort(txn);
	if (!have && store_write(s, build_fn, NULL, &cause) != 0) {
		free(cause);
		return CS_EDB;
	}
	/* Once built it stays built: every write keeps it. */
	s->names_ok = 1;
	return 0;
}

/* Finds named records by folded name. */
int
store_names_find(struct store *s, const struct sch_type *t, const char *text,
    store_name_fn fn, void *arg)
{
	uint8_t key[LAY_NAME_KEY_MAX];
	char name[PROTO_MAX_VALUE + 1];
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	size_t n = strlen(text), fl;
	unsigned i;
	int rc, stop = 0;

	if (LAY_NAME_LEN(n) > sizeof(key))
		return 0;
	if (names_ready(s) != 0 || store_read_begin(s, &txn) != 0)
		return CS_EDB;
	if (mdb_cursor_open(txn, s->dbi[DB_NAMES], &cur) != 0) {
		mdb_txn_abort(txn);
		return CS_EDB;
	}
	for (i = 0; i < sch_ntypes && !stop; i++) {
		if ((t != NULL && &sch_types[i] != t) || !named(&sch_types[i]))
			continue;
		fl = fold_into(text, n, (char *)lay_name_start(key,
		    (uint8_t)i));
		if (fl == 0)
			break;
		k.mv_size = LAY_NAME_FOLD + fl;
		k.mv_data = key;
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
		    rc == 0 && !stop; rc = mdb_cursor_get(cur, &k, &d,
		    MDB_NEXT)) {
			const uint8_t *kk = k.mv_data;

			if (k.mv_size < LAY_NAME_LEN(fl) ||
			    memcmp(kk, key, LAY_NAME_FOLD + fl) != 0)
				break;
			if (d.mv_size > PROTO_MAX_VALUE)
				continue;
			memcpy(name, d.mv_data, d.mv_size);
			name[d.mv_size] = '\0';
			stop = fn(&sch_types[i], lay_name_id(kk, k.mv_size),
			    name, k.mv_size == LAY_NAME_LEN(fl), arg);
		}
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}

/* Returns the number of leading hex digits a and b share. */
static int
common_nibbles(const uint8_t *a, const uint8_t *b)
{
	int i;

	for (i = 0; i < PROTO_ID_LEN; i++)
		if (a[i] != b[i])
			return 2 * i + ((a[i] & 0xf0) == (b[i] & 0xf0));
	return 2 * PROTO_ID_LEN;
}

/* Returns whether a cursor entry is a reversed-id entry. */
static int
is_suffix(const MDB_val *k)
{
	return lay_is_suffix(k->mv_data, k->mv_size);
}

/* Returns the length of id's shortest unique end, in hex digits. */
int
store_id_short(struct store *s, const uint8_t id[PROTO_ID_LEN])
{
	uint8_t key[LAY_SUFFIX_LEN];
	const uint8_t *rev = lay_suffix_rev(key);
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k = { sizeof(key), key }, d;
	int n = 0, c;

	lay_suffix_key(key, id);
	if (names_ready(s) != 0 || store_read_begin(s, &txn) != 0)
		return 2 * PROTO_ID_LEN;
	if (mdb_cursor_open(txn, s->dbi[DB_NAMES], &cur) != 0) {
		mdb_txn_abort(txn);
		return 2 * PROTO_ID_LEN;
	}
	if (mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE) == 0) {
		if (is_suffix(&k) && memcmp(k.mv_data, key, sizeof(key)) == 0) {
			if (mdb_cursor_get(cur, &k, &d, MDB_NEXT) == 0 &&
			    is_suffix(&k))
				n = common_nibbles(rev,
				    lay_suffix_rev(k.mv_data));
			k.mv_size = sizeof(key);
			k.mv_data = key;
			mdb_cursor_get(cur, &k, &d, MDB_SET);
		} else if (is_suffix(&k))
			n = common_nibbles(rev,
			    lay_suffix_rev(k.mv_data));
		if (mdb_cursor_get(cur, &k, &d, MDB_PREV) == 0 &&
		    is_suffix(&k) && (c = common_nibbles(rev,
		    lay_suffix_rev(k.mv_data))) > n)
			n = c;
	} else if (mdb_cursor_get(cur, &k, &d, MDB_LAST) == 0 &&
	    is_suffix(&k))
		n = common_nibbles(rev, lay_suffix_rev(k.mv_data));
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	n++;
	if (n < 4)
		n = 4;
	return n > 2 * PROTO_ID_LEN ? 2 * PROTO_ID_LEN : n;
}

/* Calls fn for each stored id whose hex digits end with text. */
int
store_id_ends(struct store *s, const char *text,
    int (*fn)(const uint8_t id[PROTO_ID_LEN], void *arg), void *arg)
{
	uint8_t key[LAY_SUFFIX_LEN];
	size_t n = strlen(text), i;
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	int rc;

	if (n == 0 || n > 2 * PROTO_ID_LEN)
		return 0;
	memset(key, 0, sizeof(key));
	key[LAY_NAME_TYPE] = LAY_SUFFIX_TAG;
	/* The reversed digits: the last typed comes first. */
	for (i = 0; i < n; i++) {
		char ch = text[n - 1 - i];
		int v = ch >= '0' && ch <= '9' ? ch - '0' :
		    ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 :
		    ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

		if (v < 0)
			return 0;
		key[LAY_SUFFIX_REV + i / 2] |= (uint8_t)(i % 2 ? v : v << 4);
	}
	if (names_ready(s) != 0 || store_read_begin(s, &txn) != 0)
		return CS_EDB;
	if (mdb_cursor_open(txn, s->dbi[DB_NAMES], &cur) != 0) {
		mdb_txn_abort(txn);
		return CS_EDB;
	}
	k.mv_size = LAY_SUFFIX_REV + (n + 1) / 2;
	k.mv_data = key;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (!is_suffix(&k) || d.mv_size != PROTO_ID_LEN ||
		    common_nibbles(lay_suffix_rev(key),
		    lay_suffix_rev(k.mv_data)) <
		    (int)n)
			break;
		if (fn(d.mv_data, arg) != 0)
			break;
	}
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}
