/*
 * test_store.c: unit tests of storage/ (the LMDB store and the schema).
 *
 * Covers: store_create/store_open (existing node, key file mode 0600 and
 * refusal of a key others can read; no "members" database made, and an
 * older store's accepted by the audit); a create of every record type with
 * its required fields, read back with store_get/store_rec_value; schema
 * validation per field type, both through sch_parse/sch_check and through
 * store_batch_put errors (dates, enums, sets, counts, decimals, text
 * length, unknown fields, missing required fields, references that match
 * nothing, ambiguous prefixes, and a full id not on this node accepted
 * with a warning); a batch split at the commit bounds while the LMDB map
 * grows from a tiny start; acceptance of received commits between stores
 * of one network (applied, duplicate, bad signature, seq gap, broken
 * chain, another network, fork kept as evidence and not applied, a clock
 * that does not move forward, ops that do not fit the schema); the clock
 * following a received commit from a clock a day ahead; the merge
 * property (about 60 hand-signed commits of three origins with concurrent
 * edits, applied in 20 interleavings one at a time and in batches: same
 * digest, counts, records and conflicts everywhere, and each field holds
 * the last writer's value by (hlc, origin)); the smallest delivery-order
 * cases for conflicts; conflicts from concurrent local edits and their
 * settling by a later edit; delete, listing and queries (type, site,
 * dates, no type, with_deleted); history with each edit's base; verify
 * (clean, and after tampering with a stored commit); bundle export and
 * import (same digest, re-import all duplicates, since points, another
 * network, a cut file, a damaged commit refusing the rest of its origin
 * only); who may write (storage/trust.c): an author no member record
 * enrolls is refused, received or local; a site key writes only its own
 * site's records of its role's types; only the admin writes member
 * records; a revoked key's commits after revoked_after are refused; a
 * member record whose id is not its key's prefix enrolls nobody.
 *
 * Every writing key other than the network's admin is enrolled by an
 * admin member record (role hub in the tests about merging, clocks and
 * conflicts) applied before that key's first commit.
 *
 * Every store lives in a directory under one mkdtemp() root in /tmp,
 * removed when the group ends.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <inttypes.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <sodium.h>

#include "proto/proto.h"
#include "storage/storage.h"

/* ---- fixture ---------------------------------------------------------- */

static char t_root[64];
static unsigned t_dirs;

static void rm_rf(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;
	char sub[512];

	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(t_root, sizeof t_root, "/tmp/cafesync-unit-XXXXXX");
	if (mkdtemp(t_root) == NULL)
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rm_rf(t_root);
	return 0;
}

/* A fresh, not yet existing directory path under the root. */
static void new_dir(char *out, size_t len)
{
	snprintf(out, len, "%s/n%03u", t_root, t_dirs++);
}

/*
 * Stores a test opened and has not closed yet: a test that fails half
 * way leaves them to the per-test teardown, so one failure does not leak
 * open environments into the rest of the run.
 */
#define T_OPEN_MAX 64
static struct store *t_open[T_OPEN_MAX];

static void t_track(struct store *s)
{
	for (size_t i = 0; i < T_OPEN_MAX; i++)
		if (t_open[i] == NULL) {
			t_open[i] = s;
			return;
		}
	fail_msg("too many open stores");
}

/* Closes a store the test opened. */
static void t_close(struct store *s)
{
	for (size_t i = 0; i < T_OPEN_MAX; i++)
		if (t_open[i] == s)
			t_open[i] = NULL;
	store_close(s);
}

static int test_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < T_OPEN_MAX; i++)
		if (t_open[i] != NULL) {
			store_close(t_open[i]);
			t_open[i] = NULL;
		}
	return 0;
}

static struct store *open_dir(const char *dir)
{
	struct store *s = NULL;
	char *cause = NULL;
	int rc = store_open(&s, dir, &cause);

	if (rc != 0)
		fail_msg("store_open %s: %d %s", dir, rc, cause ? cause : "");
	free(cause);
	assert_non_null(s);
	t_track(s);
	return s;
}

/* Creates and opens a node; dir (128 bytes) gets its path if not NULL. */
static struct store *mk_store(const char *name, const char *role,
    const uint8_t *network, char *dirout)
{
	char dir[128];
	char *cause = NULL;
	int rc;

	new_dir(dir, sizeof dir);
	rc = store_create(dir, name, role, network, &cause);
	if (rc != 0)
		fail_msg("store_create %s: %d %s", dir, rc, cause ? cause : "");
	free(cause);
	if (dirout != NULL)
		snprintf(dirout, 128, "%s", dir);
	return open_dir(dir);
}

static const struct sch_type *type_of(const char *name)
{
	const struct sch_type *t = sch_type_find(name, strlen(name));

	if (t == NULL)
		fail_msg("schema has no type %s", name);
	return t;
}

static unsigned type_index(const char *name)
{
	return (unsigned)(type_of(name) - sch_types);
}

static const char *hexid(const uint8_t id[PROTO_ID_LEN], char buf[33])
{
	proto_hex(buf, id, PROTO_ID_LEN);
	return buf;
}

/* One put as a batch of its own; returns the result, cause to *cause. */
static int put_kv(struct store *s, const char *type, uint8_t id[PROTO_ID_LEN],
    int create, const struct store_kv *kv, size_t n, char **cause)
{
	struct store_batch *b = store_batch_new(s);
	char *c = NULL;
	int rc;

	assert_non_null(b);
	rc = store_batch_put(b, type_of(type), id, create, kv, n, &c);
	if (rc == 0) {
		free(c);
		c = NULL;
		rc = store_batch_commit(b, &c);
	}
	store_batch_free(b);
	if (cause != NULL)
		*cause = c;
	else
		free(c);
	return rc;
}

#define NKV(a) (sizeof(a) / sizeof((a)[0]))

#define PUT_OK(s, type, id, create, ...) do {				\
	const struct store_kv kv_[] = { __VA_ARGS__ };			\
	char *c_ = NULL;						\
	int rc_ = put_kv((s), (type), (id), (create), kv_, NKV(kv_), &c_); \
	if (rc_ != 0)							\
		fail_msg("put %s: %d (%s) %s", (type), rc_,		\
		    cs_strerror(rc_), c_ ? c_ : "");			\
	free(c_);							\
} while (0)

static void del_ok(struct store *s, const uint8_t id[PROTO_ID_LEN])
{
	struct store_batch *b = store_batch_new(s);
	char *c = NULL;
	int rc = store_batch_del(b, id, &c);

	if (rc == 0)
		rc = store_batch_commit(b, &c);
	if (rc != 0)
		fail_msg("delete: %d %s", rc, c ? c : "");
	free(c);
	store_batch_free(b);
}

/* The text form (sch_format) of a field of a record. */
static void field_text(const struct store_rec *r, const char *name,
    char *buf, size_t len)
{
	const struct sch_field *f = sch_field_find(r->type, name, strlen(name));

	if (f == NULL)
		fail_msg("type %s has no field %s", r->type->name, name);
	sch_format(f, store_rec_value(r, name), buf, len);
}

static void assert_field(const struct store_rec *r, const char *name,
    const char *want)
{
	char buf[9000];

	field_text(r, name, buf, sizeof buf);
	if (strcmp(buf, want) != 0)
		fail_msg("%s.%s is '%s', expected '%s'", r->type->name, name,
		    buf, want);
}

static void get_ok(struct store *s, const uint8_t id[PROTO_ID_LEN],
    struct store_rec *r)
{
	char hex[33];
	int rc = store_get(s, id, r);

	if (rc != 0)
		fail_msg("store_get %s: %d", hexid(id, hex), rc);
}

/* What the test is doing, for failure messages. */
static char t_ctx[160];

/* ---- collected commits ------------------------------------------------ */

struct citem {
	uint8_t *e;
	size_t elen;
	uint8_t sig[PROTO_SIG_LEN];
	uint8_t origin[PROTO_KEY_LEN];
	uint8_t hash[PROTO_HASH_LEN];
	uint64_t seq;
	uint64_t hlc;
};

struct clist {
	struct citem *v;
	size_t n, cap;
};

static struct citem *clist_add(struct clist *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

static void clist_free(struct clist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].e);
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int collect_cb(const struct store_commit *sc, void *arg)
{
	struct clist *l = arg;
	struct citem *it = clist_add(l);

	it->e = malloc(sc->elen);
	assert_non_null(it->e);
	memcpy(it->e, sc->e, sc->elen);
	it->elen = sc->elen;
	memcpy(it->sig, sc->sig, PROTO_SIG_LEN);
	memcpy(it->origin, sc->c->origin, PROTO_KEY_LEN);
	memcpy(it->hash, sc->hash, PROTO_HASH_LEN);
	it->seq = sc->c->seq;
	it->hlc = sc->c->hlc;
	return 0;
}

/* Every commit of origin (or of all, origin NULL) in s. */
static void collect(struct store *s, const uint8_t *origin, struct clist *l)
{
	assert_int_equal(store_log(s, origin, 1, collect_cb, l), 0);
}

/* Applies n commits in one store_apply; results go to res (may be NULL). */
static void apply_items(struct store *s, const struct citem *const *v,
    size_t n, int *res)
{
	struct store_item *items = calloc(n ? n : 1, sizeof(*items));
	char *cause = NULL;
	int rc;

	assert_non_null(items);
	for (size_t i = 0; i < n; i++) {
		items[i].e = v[i]->e;
		items[i].elen = v[i]->elen;
		items[i].sig = v[i]->sig;
	}
	rc = store_apply(s, items, n, &cause);
	if (rc != 0)
		fail_msg("store_apply: %d %s (%s)", rc, cause ? cause : "",
		    t_ctx);
	free(cause);
	for (size_t i = 0; i < n; i++) {
		if (items[i].result != 0 && items[i].result != CS_EDUP &&
		    items[i].cause[0] == '\0')
			fail_msg("item refused (%d) without a cause",
			    items[i].result);
		if (res != NULL)
			res[i] = items[i].result;
	}
	free(items);
}

/* Applies one commit given as bytes; returns its result. */
static int apply_raw(struct store *s, const uint8_t *e, size_t elen,
    const uint8_t *sig, struct store_item *out)
{
	struct store_item it;
	char *cause = NULL;
	int rc;

	memset(&it, 0, sizeof it);
	it.e = e;
	it.elen = elen;
	it.sig = sig;
	rc = store_apply(s, &it, 1, &cause);
	if (rc != 0)
		fail_msg("store_apply: %d %s (%s)", rc, cause ? cause : "",
		    t_ctx);
	free(cause);
	if (out != NULL)
		*out = it;
	return it.result;
}

static int apply_one(struct store *s, const struct citem *c)
{
	return apply_raw(s, c->e, c->elen, c->sig, NULL);
}

static int count_pending_cb(const uint8_t origin[PROTO_KEY_LEN],
    uint64_t first, uint64_t n, const char *why, void *arg)
{
	(void)origin;
	(void)first;
	(void)why;
	*(uint64_t *)arg += n;
	return 0;
}

/* Returns how many commits wait for the admin log in s. */
static uint64_t pending_count(struct store *s)
{
	uint64_t n = 0;

	assert_int_equal(store_pending(s, count_pending_cb, &n), 0);
	return n;
}

/*
 * Applies every commit of l, in order, expecting each to apply (or to
 * wait for an admin commit later in l), and nothing to wait at the end.
 */
static void apply_all_ok(struct store *s, const struct clist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct store_item it;
		int rc = apply_raw(s, l->v[i].e, l->v[i].elen, l->v[i].sig,
		    &it);
		if (rc != 0 && rc != CS_EDUP && rc != CS_EPENDING)
			fail_msg("commit %zu (seq %" PRIu64 ") refused: %d %s",
			    i, l->v[i].seq, rc, it.cause);
	}
	if (pending_count(s) != 0)
		fail_msg("%" PRIu64 " commits still wait", pending_count(s));
}

/* ---- hand-built commits ----------------------------------------------- */

struct origin {
	uint8_t pk[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN];
	uint64_t seq;
	uint8_t prev[PROTO_HASH_LEN];
};

#define HOP_MAX 8

/* One op: values in text form (sets and lists comma-separated), NULL = nil. */
struct hop {
	unsigned kind;
	const char *type;
	uint8_t id[PROTO_ID_LEN];
	size_t nf;
	const char *names[HOP_MAX];
	const char *vals[HOP_MAX];
	size_t nb;
	const char *bnames[HOP_MAX];
	uint64_t bvals[HOP_MAX];
	int edit;       /* carries a base (maybe empty): an edit, not a create */
};

static void new_origin(struct origin *o)
{
	memset(o, 0, sizeof *o);
	crypto_sign_keypair(o->pk, o->sk);
}

/* Packs a value of field (type, name) from its text form. */
static void pack_text_value(msgpack_packer *pk, const char *type,
    const char *name, const char *val)
{
	const struct sch_type *t = sch_type_find(type, strlen(type));
	const struct sch_field *f = t ? sch_field_find(t, name, strlen(name)) :
	    NULL;

	if (val == NULL) {
		msgpack_pack_nil(pk);
		return;
	}
	if (f == NULL) {	/* a field the schema does not know */
		proto_pack_cstr(pk, val);
		return;
	}
	switch (f->type) {
	case SCH_SET:
	case SCH_LIST: {
		char copy[512], *save = NULL, *p;
		size_t n = 1;

		snprintf(copy, sizeof copy, "%s", val);
		for (const char *q = val; *q; q++)
			n += *q == ',';
		msgpack_pack_array(pk, n);
		for (p = strtok_r(copy, ",", &save); p != NULL;
		    p = strtok_r(NULL, ",", &save))
			proto_pack_cstr(pk, p);
		break;
	}
	case SCH_UINT:
	case SCH_DEC2:
		msgpack_pack_uint64(pk, strtoull(val, NULL, 10));
		break;
	case SCH_REF: {
		uint8_t id[PROTO_ID_LEN];
		assert_int_equal(proto_unhex(id, PROTO_ID_LEN, val), 0);
		msgpack_pack_bin(pk, PROTO_ID_LEN);
		msgpack_pack_bin_body(pk, id, PROTO_ID_LEN);
		break;
	}
	case SCH_KEY: {
		uint8_t key[PROTO_KEY_LEN];
		assert_int_equal(proto_unhex(key, PROTO_KEY_LEN, val), 0);
		msgpack_pack_bin(pk, PROTO_KEY_LEN);
		msgpack_pack_bin_body(pk, key, PROTO_KEY_LEN);
		break;
	}
	default:
		proto_pack_cstr(pk, val);
		break;
	}
}

/* Indexes of n names in ascending byte order. */
static void sort_names(const char *const *names, size_t n, size_t *idx)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 &&
		    strcmp(names[idx[j - 1]], names[idx[j]]) > 0; j--) {
			size_t t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
}

/* Encodes and signs a commit at an explicit seq and prev. */
static void hb_make(struct citem *out, const struct origin *o,
    const uint8_t net[PROTO_KEY_LEN], uint64_t seq, const uint8_t *prev,
    uint64_t hlc, const struct hop *ops, size_t nops)
{
	struct proto_enc w;
	size_t idx[HOP_MAX];

	proto_enc_init(&w);
	proto_commit_begin(&w, o->pk, seq, prev, hlc, (uint32_t)nops);
	for (size_t i = 0; i < nops; i++) {
		const struct hop *op = &ops[i];

		proto_op_begin(&w, op->kind, op->type, op->id,
		    (uint32_t)op->nf, op->nb > 0 || op->edit);
		sort_names(op->names, op->nf, idx);
		for (size_t j = 0; j < op->nf; j++) {
			proto_pack_cstr(&w.pk, op->names[idx[j]]);
			pack_text_value(&w.pk, op->type, op->names[idx[j]],
			    op->vals[idx[j]]);
		}
		if (op->nb > 0 || op->edit) {
			proto_op_base(&w, (uint32_t)op->nb);
			sort_names(op->bnames, op->nb, idx);
			for (size_t j = 0; j < op->nb; j++) {
				proto_pack_cstr(&w.pk, op->bnames[idx[j]]);
				msgpack_pack_uint64(&w.pk, op->bvals[idx[j]]);
			}
		}
	}
	memset(out, 0, sizeof *out);
	out->elen = w.sb.size;
	out->e = malloc(w.sb.size);
	assert_non_null(out->e);
	memcpy(out->e, w.sb.data, w.sb.size);
	proto_sign(out->sig, out->e, out->elen, net, o->sk);
	proto_hash(out->hash, out->e, out->elen, out->sig);
	memcpy(out->origin, o->pk, PROTO_KEY_LEN);
	out->seq = seq;
	out->hlc = hlc;
	proto_enc_free(&w);
}

/* Encodes and signs o's next commit, advancing its chain. */
static void hb_next(struct citem *out, struct origin *o,
    const uint8_t net[PROTO_KEY_LEN], uint64_t hlc, const struct hop *ops,
    size_t nops)
{
	hb_make(out, o, net, o->seq + 1, o->seq ? o->prev : NULL, hlc, ops,
	    nops);
	o->seq++;
	memcpy(o->prev, out->hash, PROTO_HASH_LEN);
}

static void hop_put(struct hop *op, const char *type, const uint8_t *id)
{
	memset(op, 0, sizeof *op);
	op->kind = PROTO_OP_PUT;
	op->type = type;
	memcpy(op->id, id, PROTO_ID_LEN);
}

static void hop_field(struct hop *op, const char *name, const char *val)
{
	assert_true(op->nf < HOP_MAX);
	op->names[op->nf] = name;
	op->vals[op->nf++] = val;
}

static void hop_base(struct hop *op, const char *name, uint64_t hlc)
{
	assert_true(op->nb < HOP_MAX);
	op->bnames[op->nb] = name;
	op->bvals[op->nb++] = hlc;
}

#define T_MS UINT64_C(1767225600000) /* 2026-01-01 */
#define HLC_AT(ms, ctr) (((uint64_t)(ms) << 16) | (uint64_t)(ctr))

/* ---- enrollment (storage/trust.c) ------------------------------------- */

/*
 * Every commit must come from the network's admin (the key that is the
 * network id) or from a key the admin enrolled by a member record, whose
 * id is made from the key (proto_member_id()).  The tests below that are about
 * merging, clocks and conflicts enroll their writing keys as hubs (a hub
 * writes every type but member) before those keys' commits arrive.
 */

/* Text forms a member op's values point at; must outlive the hb_*() call. */
struct mtext {
	char key[2 * PROTO_KEY_LEN + 1];
	char site[2 * PROTO_ID_LEN + 1];
	char after[24];
};

/* A put of key's member record at the key's prefix, role and name. */
static void member_op(struct hop *op, struct mtext *t,
    const uint8_t key[PROTO_KEY_LEN], const char *role, const char *name)
{
	uint8_t id[PROTO_ID_LEN];

	proto_member_id(id, key);
	hop_put(op, "member", id);
	proto_hex(t->key, key, PROTO_KEY_LEN);
	hop_field(op, "key", t->key);
	hop_field(op, "role", role);
	hop_field(op, "name", name);
}

#define ENROLL_MAX 4

/* The admin's next commit: a hub member record for each of n keys. */
static void enroll_next(struct citem *out, struct origin *adm, uint64_t hlc,
    const uint8_t *const *keys, size_t n)
{
	struct hop ops[ENROLL_MAX];
	struct mtext t[ENROLL_MAX];

	assert_true(n >= 1 && n <= ENROLL_MAX);
	for (size_t i = 0; i < n; i++)
		member_op(&ops[i], &t[i], keys[i], "hub", "test hub");
	hb_next(out, adm, adm->pk, hlc, ops, n);
}

/*
 * Enrolls node's key with role through a local write of the admin store
 * adm (the network's admin), then gives node adm's log, so the member
 * record is on node before node writes anything of its own.
 */
static void enroll_store(struct store *adm, struct store *node,
    const char *role)
{
	uint8_t id[PROTO_ID_LEN];
	char key[2 * PROTO_KEY_LEN + 1];
	struct clist l = { 0 };

	assert_memory_equal(store_info(adm)->node, store_info(adm)->network,
	    PROTO_KEY_LEN);
	proto_hex(key, store_info(node)->node, PROTO_KEY_LEN);
	PUT_OK(adm, "member", id, 1, { "key", key }, { "role", role },
	    { "name", "test node" });
	{
		uint8_t mid[PROTO_ID_LEN];

		proto_member_id(mid, store_info(node)->node);
		assert_memory_equal(id, mid, PROTO_ID_LEN);
	}
	collect(adm, store_info(adm)->node, &l);
	apply_all_ok(node, &l);
	clist_free(&l);
}

/* ---- schema ----------------------------------------------------------- */

/* Resolver for sch_parse(): known ids, prefixes, full unknown ids. */
struct known {
	uint8_t id[4][PROTO_ID_LEN];
	size_t n;
};

static int t_resolve(void *arg, const char *ref, const char *text,
    uint8_t id[PROTO_ID_LEN], char **cause)
{
	struct known *k = arg;
	size_t len = strlen(text), found = 0;
	char hex[33];

	(void)ref;
	for (size_t i = 0; i < k->n; i++) {
		proto_hex(hex, k->id[i], PROTO_ID_LEN);
		if (len >= 4 && len <= 32 && strncmp(hex, text, len) == 0) {
			memcpy(id, k->id[i], PROTO_ID_LEN);
			found++;
		}
	}
	if (found == 1)
		return 0;
	if (found == 0 && len == 32 && proto_unhex(id, PROTO_ID_LEN, text) == 0)
		return 1;
	*cause = strdup(found ? "ambiguous" : "no such record");
	return found ? CS_EAMBIG : CS_ENOTFOUND;
}

/* Parses text for type.field; returns rc, the packed value in out. */
static int parse_field(const char *type, const char *field, const char *text,
    struct known *k, msgpack_unpacked *out, char **warn)
{
	const struct sch_field *f = sch_field_find(type_of(type), field,
	    strlen(field));
	msgpack_sbuffer sb;
	msgpack_packer pk;
	char *cause = NULL, *w = NULL;
	int rc;

	if (f == NULL)
		fail_msg("no field %s.%s", type, field);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	rc = sch_parse(f, text, &pk, t_resolve, k, &cause, &w);
	if (rc != 0) {
		if (cause == NULL || strstr(cause, field) == NULL)
			fail_msg("%s.%s='%s': error without a cause naming "
			    "the field (%s)", type, field, text,
			    cause ? cause : "NULL");
		assert_int_equal(sb.size, 0);
	} else if (out != NULL) {
		/* str and bin objects point into the bytes: keep a copy */
		static char keep[16384];
		size_t off = 0;
		assert_true(sb.size <= sizeof keep);
		memcpy(keep, sb.data, sb.size);
		assert_int_equal(msgpack_unpack_next(out, keep, sb.size,
		    &off), MSGPACK_UNPACK_SUCCESS);
		assert_int_equal(off, sb.size);
	}
	free(cause);
	if (warn != NULL)
		*warn = w;
	else
		free(w);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int parse_rc(const char *type, const char *field, const char *text)
{
	struct known k = { .n = 0 };
	return parse_field(type, field, text, &k, NULL, NULL);
}

static void test_schema_table(void **state)
{
	static const char *const required[][4] = {
		{ "site", "name", NULL, NULL },
		{ "person", "name", "roles", NULL },
		{ "cafe", "site", "date", "format" },
		{ "action", "cafe", "title", NULL },
		{ "training", "site", "date", "kind" },
		{ "milestone", "site", "step", "status" },
		{ "feedback", "cafe", "responses", NULL },
		{ "audit", "site", "date", "finding" },
	};
	(void)state;

	assert_true(sch_ntypes >= 8);
	assert_null(sch_type_find("caf", 3));
	assert_null(sch_type_find("cafes", 5));
	/* not NUL-terminated lookups */
	assert_true(sch_type_find("cafe-x", 4) == type_of("cafe"));
	for (size_t i = 0; i < NKV(required); i++) {
		const struct sch_type *t = type_of(required[i][0]);
		for (int j = 1; j < 4 && required[i][j]; j++) {
			const struct sch_field *f = sch_field_find(t,
			    required[i][j], strlen(required[i][j]));
			if (f == NULL || !f->required)
				fail_msg("%s.%s should be a required field",
				    t->name, required[i][j]);
		}
	}
	assert_true(sch_field_find(type_of("cafe"), "factors", 7)->required);
	assert_int_equal(sch_field_find(type_of("cafe"), "factors", 7)->type,
	    SCH_SET);
	assert_null(sch_field_find(type_of("cafe"), "colour", 6));
	for (unsigned i = 0; i < sch_ntypes; i++) {
		assert_non_null(sch_types[i].help);
		for (unsigned j = 0; j < sch_types[i].nfields; j++) {
			const struct sch_field *f = &sch_types[i].fields[j];
			assert_true(strlen(f->name) <= PROTO_MAX_NAME);
			assert_non_null(sch_ftype_name(f->type));
			if (f->type == SCH_ENUM || f->type == SCH_SET)
				assert_non_null(f->tokens);
			if (f->type == SCH_REF || f->type == SCH_REFS)
				assert_non_null(sch_type_find(f->ref,
				    strlen(f->ref)));
		}
	}
	/* The exact tokens other programs depend on. */
	{
		static const char *const fac[] = { "resilience",
			"social_connections", "concrete_support",
			"child_development", "social_emotional" };
		const struct sch_field *f = sch_field_find(type_of("cafe"),
		    "factors", 7);
		for (size_t i = 0; i < 5; i++)
			assert_string_equal(f->tokens[i], fac[i]);
		assert_null(f->tokens[5]);
	}
}

static void test_schema_dates(void **state)
{
	uint32_t ymd = 0;
	(void)state;

	assert_int_equal(sch_date_parse("2026-03-14", 10, &ymd), 0);
	assert_int_equal(ymd, 20260314);
	assert_int_equal(sch_date_parse("2024-02-29", 10, &ymd), 0);
	assert_int_equal(ymd, 20240229);
	assert_int_equal(sch_date_parse("2000-02-29", 10, &ymd), 0);
	assert_int_equal(sch_date_parse("2026-12-31", 10, &ymd), 0);
	assert_int_equal(sch_date_parse("2026-02-29", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("1900-02-29", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-02-30", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-04-31", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-13-01", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-00-10", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-01-00", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-1-1", 8, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-01-1x", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("2026/01/10", 10, &ymd), -1);
	assert_int_equal(sch_date_parse("x", 1, &ymd), -1);
	assert_int_equal(sch_date_parse("", 0, &ymd), -1);
	/* length is honoured: a valid date followed by more bytes */
	assert_int_equal(sch_date_parse("2026-03-14", 9, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-03-145", 11, &ymd), -1);
	assert_int_equal(sch_date_parse("2026-03-14Z", 10, &ymd), 0);

	assert_int_equal(parse_rc("cafe", "date", "2026-03-14"), 0);
	assert_int_equal(parse_rc("cafe", "date", "2026-02-30"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "date", "2026-1-1"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "date", "x"), CS_EUSAGE);
	/* spaces around a date are trimmed; inside one they are not */
	assert_int_equal(parse_rc("cafe", "date", " 2026-03-14 "), 0);
	assert_int_equal(parse_rc("cafe", "date", "2026-03 -14"), CS_EUSAGE);
}

static void test_schema_parse(void **state)
{
	msgpack_unpacked up;
	struct known k;
	char *warn = NULL;
	char hex[33];
	char *long_text;
	(void)state;

	memset(&k, 0, sizeof k);
	randombytes_buf(k.id[0], PROTO_ID_LEN);
	k.id[0][0] = 0x12;
	k.id[0][1] = 0x34;
	k.n = 1;
	msgpack_unpacked_init(&up);

	/* enum */
	assert_int_equal(parse_field("cafe", "format", "dads", &k, &up, NULL),
	    0);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_STR);
	assert_int_equal(parse_rc("cafe", "format", "brunch"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "format", "Parent"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "format", "parent,dads"), CS_EUSAGE);

	/* set: sorted by token order, no unknown, no duplicate, no empty */
	assert_int_equal(parse_field("cafe", "factors",
	    "social_emotional,resilience,social_connections", &k, &up, NULL),
	    0);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(up.data.via.array.size, 3);
	assert_memory_equal(up.data.via.array.ptr[0].via.str.ptr,
	    "resilience", 10);
	assert_memory_equal(up.data.via.array.ptr[1].via.str.ptr,
	    "social_connections", 18);
	assert_memory_equal(up.data.via.array.ptr[2].via.str.ptr,
	    "social_emotional", 16);
	assert_int_equal(parse_rc("cafe", "factors", "resilience,hope"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "factors", "resilience,resilience"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "factors", "resilience,"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "elements",
	    "welcome,theme,agreements,pair_talk,table_talk,commitment_cards,"
	    "harvest,closing"), 0);

	/* uint */
	assert_int_equal(parse_field("cafe", "series_no", "7", &k, &up, NULL),
	    0);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(up.data.via.u64, 7);
	assert_int_equal(parse_rc("cafe", "series_no", "8"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "series_no", "0"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees", "0"), 0);
	assert_int_equal(parse_rc("cafe", "attendees", "-1"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees", "twelve"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees", "12x"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees", "1.5"), CS_EUSAGE);
	/* spaces around a number are trimmed; inside one they are not */
	assert_int_equal(parse_rc("cafe", "attendees", " 12 "), 0);
	assert_int_equal(parse_rc("cafe", "attendees", "1 2"), CS_EUSAGE);
	assert_int_equal(parse_rc("cafe", "attendees",
	    "99999999999999999999999"), CS_EUSAGE);
	assert_int_equal(parse_rc("milestone", "step", "6"), 0);
	assert_int_equal(parse_rc("milestone", "step", "7"), CS_EUSAGE);

	/* decimal with two places */
	assert_int_equal(parse_field("feedback", "pfs_resilience", "5.25", &k,
	    &up, NULL), 0);
	assert_int_equal(up.data.via.u64, 525);
	assert_int_equal(parse_field("feedback", "pfs_resilience", "3.5", &k,
	    &up, NULL), 0);
	assert_int_equal(up.data.via.u64, 350);
	assert_int_equal(parse_field("feedback", "pfs_resilience", "7", &k,
	    &up, NULL), 0);
	assert_int_equal(up.data.via.u64, 700);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "7.01"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "0.99"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "3.555"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "3."),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("feedback", "pfs_resilience", "-3"),
	    CS_EUSAGE);

	/* text bound and control characters */
	long_text = malloc(202);
	assert_non_null(long_text);
	memset(long_text, 'a', 201);
	long_text[201] = '\0';
	assert_int_equal(parse_rc("site", "name", long_text), CS_EUSAGE);
	long_text[200] = '\0';
	assert_int_equal(parse_rc("site", "name", long_text), 0);
	free(long_text);
	assert_int_equal(parse_rc("site", "name", "bell\a"), CS_EUSAGE);

	/* list */
	assert_int_equal(parse_field("site", "languages", "en, es", &k, &up,
	    NULL), 0);
	assert_int_equal(up.data.via.array.size, 2);

	/* empty: nil for optional, refused for required */
	assert_int_equal(parse_field("cafe", "topic", "", &k, &up, NULL), 0);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_NIL);
	assert_int_equal(parse_rc("cafe", "format", ""), CS_EUSAGE);

	/* references */
	assert_int_equal(parse_field("cafe", "site", "1234", &k, &up, &warn),
	    0);
	assert_null(warn);
	assert_int_equal(up.data.type, MSGPACK_OBJECT_BIN);
	assert_memory_equal(up.data.via.bin.ptr, k.id[0], PROTO_ID_LEN);
	assert_true(parse_field("cafe", "site", "ffff", &k, NULL, NULL) < 0);
	assert_true(parse_field("cafe", "site", "zz", &k, NULL, NULL) < 0);
	memset(hex, 'e', 32);
	hex[32] = '\0';
	assert_int_equal(parse_field("cafe", "site", hex, &k, &up, &warn), 0);
	assert_non_null(warn);
	free(warn);
	warn = NULL;
	assert_int_equal(up.data.via.bin.ptr[0], (char)0xee);

	msgpack_unpacked_destroy(&up);
}

/* Packs one value and runs sch_check on it. */
static int check_value(const char *type, const char *field,
    void (*pack)(msgpack_packer *, const void *), const void *arg)
{
	const struct sch_field *f = sch_field_find(type_of(type), field,
	    strlen(field));
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_unpacked up;
	size_t off = 0;
	const char *cause = NULL;
	int rc;

	assert_non_null(f);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack(&pk, arg);
	msgpack_unpacked_init(&up);
	assert_int_equal(msgpack_unpack_next(&up, sb.data, sb.size, &off),
	    MSGPACK_UNPACK_SUCCESS);
	rc = sch_check(f, &up.data, &cause);
	if (rc != 0)
		assert_non_null(cause);
	msgpack_unpacked_destroy(&up);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static void pk_str(msgpack_packer *pk, const void *a)
{
	proto_pack_cstr(pk, a);
}

static void pk_u64(msgpack_packer *pk, const void *a)
{
	msgpack_pack_uint64(pk, *(const uint64_t *)a);
}

static void pk_neg(msgpack_packer *pk, const void *a)
{
	(void)a;
	msgpack_pack_int64(pk, -3);
}

static void pk_nil(msgpack_packer *pk, const void *a)
{
	(void)a;
	msgpack_pack_nil(pk);
}

/* A comma-separated string as an array of str. */
static void pk_arr(msgpack_packer *pk, const void *a)
{
	char copy[256], *save = NULL, *p;
	size_t n = 1;

	snprintf(copy, sizeof copy, "%s", (const char *)a);
	for (const char *q = a; *q; q++)
		n += *q == ',';
	msgpack_pack_array(pk, n);
	for (p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
		proto_pack_cstr(pk, p);
}

static void pk_bin15(msgpack_packer *pk, const void *a)
{
	(void)a;
	msgpack_pack_bin(pk, 15);
	msgpack_pack_bin_body(pk, "012345678901234", 15);
}

static void test_schema_check(void **state)
{
	uint64_t v;
	char *big;
	(void)state;

	assert_int_equal(check_value("cafe", "date", pk_str, "2026-03-14"), 0);
	assert_int_equal(check_value("cafe", "date", pk_str, "2026-02-30"),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "format", pk_str, "parent"), 0);
	assert_int_equal(check_value("cafe", "format", pk_str, "brunch"),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "factors", pk_arr,
	    "resilience,social_connections"), 0);
	assert_int_equal(check_value("cafe", "factors", pk_arr,
	    "social_connections,resilience"), CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "factors", pk_arr,
	    "resilience,resilience"), CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "factors", pk_arr,
	    "resilience,hope"), CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "factors", pk_str, "resilience"),
	    CS_ESCHEMA);
	v = 7;
	assert_int_equal(check_value("cafe", "series_no", pk_u64, &v), 0);
	v = 8;
	assert_int_equal(check_value("cafe", "series_no", pk_u64, &v),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "attendees", pk_neg, NULL),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "attendees", pk_str, "12"),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "site", pk_bin15, NULL),
	    CS_ESCHEMA);
	assert_int_equal(check_value("cafe", "site", pk_str,
	    "0123456789abcdef"), CS_ESCHEMA);
	/* nil clears an optional field */
	assert_int_equal(check_value("cafe", "topic", pk_nil, NULL), 0);
	big = malloc(202);
	assert_non_null(big);
	memset(big, 't', 201);
	big[201] = '\0';
	assert_int_equal(check_value("cafe", "topic", pk_str, big),
	    CS_ESCHEMA);
	free(big);
}

/* ---- create and open -------------------------------------------------- */

static void test_create_open(void **state)
{
	char dir[128], path[256], *cause = NULL;
	uint8_t node[PROTO_KEY_LEN];
	struct store *s;
	struct stat st;
	const struct store_info *in;
	struct store_status ss;
	(void)state;

	s = mk_store("State hub", "hub", NULL, dir);
	in = store_info(s);
	assert_non_null(in);
	assert_string_equal(in->name, "State hub");
	assert_string_equal(in->role, "hub");
	/* network NULL: this node's key is the network id */
	assert_memory_equal(in->node, in->network, PROTO_KEY_LEN);
	memcpy(node, in->node, PROTO_KEY_LEN);
	assert_int_equal(store_status(s, &ss), 0);
	assert_true(ss.commits == 0);
	assert_true(ss.forks == 0);
	t_close(s);

	/* A second create refuses and keeps the node. */
	assert_int_equal(store_create(dir, "other", "hub", NULL, &cause),
	    CS_EEXIST);
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	s = open_dir(dir);
	assert_memory_equal(store_info(s)->node, node, PROTO_KEY_LEN);
	assert_string_equal(store_info(s)->name, "State hub");
	t_close(s);

	/* The directory is private, the key file 0600. */
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof path, "%s/node.key", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	/* No node here. */
	{
		char empty[128];
		struct store *s2 = NULL;
		new_dir(empty, sizeof empty);
		assert_int_equal(mkdir(empty, 0700), 0);
		assert_true(store_open(&s2, empty, &cause) < 0);
		assert_null(s2);
		assert_non_null(cause);
		free(cause);
		cause = NULL;
	}
}

/* Keeps the reason of store_audit()'s last fault in arg (300 bytes). */
static void last_fault(const struct store_audit_fault *f, void *arg)
{
	char *why = arg;

	snprintf(why, 300, "%s", f->why != NULL ? f->why : "");
}

/* Puts key "k" = "v" in the named database name of the environment in
 * dir (no store open on it); returns whether name was there before. */
static int raw_db_put(const char *dir, const char *name)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = { 1, (void *)(uintptr_t)"k" }, d = { 1,
	    (void *)(uintptr_t)"v" };
	int had;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 64), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	had = mdb_dbi_open(txn, name, 0, &dbi) == 0;
	assert_int_equal(mdb_dbi_open(txn, name, MDB_CREATE, &dbi), 0);
	assert_int_equal(mdb_put(txn, dbi, &k, &d, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	return had;
}

/*
 * The "members" database was written at creation and never read: a new
 * store no longer makes it, and an older store that holds it (with its
 * entry) audits clean; a database of a name nothing ever made is still
 * damage.
 */
static void test_retired_members_db(void **state)
{
	char dir[128], why[300] = "";
	struct store_audit_stats st;
	struct store *s;
	(void)state;

	s = mk_store("Old hub", "hub", NULL, dir);
	t_close(s);
	assert_int_equal(raw_db_put(dir, "members"), 0);
	s = open_dir(dir);
	assert_int_equal(store_audit(s, 1, last_fault, why, &st), 0);
	assert_int_equal(st.replayed, 1);
	t_close(s);
	assert_int_equal(raw_db_put(dir, "memberz"), 0);
	s = open_dir(dir);
	assert_int_equal(store_audit(s, 0, last_fault, why, &st), 1);
	assert_non_null(strstr(why, "'memberz'"));
	t_close(s);
}

static void test_key_mode(void **state)
{
	char dir[128], path[256], *cause = NULL;
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0606, 0700 };
	struct store *s;
	(void)state;

	s = mk_store("site", "site", NULL, dir);
	t_close(s);
	snprintf(path, sizeof path, "%s/node.key", dir);
	for (size_t i = 0; i < NKV(bad); i++) {
		struct store *s2 = NULL;
		int rc;

		assert_int_equal(chmod(path, bad[i]), 0);
		rc = store_open(&s2, dir, &cause);
		if (bad[i] & 077) {
			if (rc == 0)
				fail_msg("opened with a key of mode %o",
				    (unsigned)bad[i]);
			assert_null(s2);
			assert_non_null(cause);
			free(cause);
			cause = NULL;
		} else {
			/* 0700: owner only, still private */
			assert_int_equal(rc, 0);
			t_close(s2);
		}
	}
	assert_int_equal(chmod(path, 0600), 0);
	s = open_dir(dir);
	t_close(s);
	assert_int_equal(chmod(path, 0400), 0);
	s = open_dir(dir);
	t_close(s);
}

/* ---- records ---------------------------------------------------------- */

struct list_acc {
	size_t n;
	uint8_t ids[32][PROTO_ID_LEN];
	int stop_after;
};

static int list_cb(const struct store_rec *r, void *arg)
{
	struct list_acc *a = arg;

	if (a->n < 32)
		memcpy(a->ids[a->n], r->id, PROTO_ID_LEN);
	a->n++;
	return a->stop_after && a->n >= (size_t)a->stop_after;
}

static int list_has(const struct list_acc *a, const uint8_t *id)
{
	for (size_t i = 0; i < a->n && i < 32; i++)
		if (memcmp(a->ids[i], id, PROTO_ID_LEN) == 0)
			return 1;
	return 0;
}

static void list_type(struct store *s, const char *type, struct list_acc *a,
    int with_deleted)
{
	struct store_query q;

	memset(&q, 0, sizeof q);
	memset(a, 0, sizeof *a);
	q.type = type ? type_of(type) : NULL;
	q.with_deleted = with_deleted;
	assert_int_equal(store_list(s, &q, list_cb, a), 0);
}

static void test_put_every_type(void **state)
{
	uint8_t site[16], person[16], cafe[16], action[16], training[16];
	uint8_t milestone[16], feedback[16], audit[16];
	char hsite[33], hperson[33], hcafe[33], prefix[9];
	struct store *s;
	struct store_rec r;
	struct store_status st;
	const msgpack_object *v;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);

	PUT_OK(s, "site", site, 1, { "name", "Eastside Family Center" },
	    { "partner_type", "family_resource_center" },
	    { "status", "active" }, { "county", "Lane" },
	    { "languages", "en,es" }, { "started", "2025-09-01" });
	hexid(site, hsite);
	PUT_OK(s, "person", person, 1, { "name", "Ana" },
	    { "roles", "host,parent_leader" }, { "site", hsite });
	hexid(person, hperson);
	memcpy(prefix, hsite, 8);
	prefix[8] = '\0';
	PUT_OK(s, "cafe", cafe, 1, { "site", prefix }, { "date", "2026-03-14" },
	    { "format", "parent" },
	    { "factors", "social_connections,resilience" },
	    { "attendees", "12" }, { "new_attendees", "3" },
	    { "hosts", hperson },
	    { "elements", "welcome,theme,agreements,pair_talk,table_talk,"
	      "commitment_cards,harvest,closing" });
	hexid(cafe, hcafe);
	PUT_OK(s, "action", action, 1, { "cafe", hcafe },
	    { "title", "Call the library about space" });
	PUT_OK(s, "training", training, 1, { "site", hsite },
	    { "date", "2026-02-01" }, { "kind", "orientation" });
	PUT_OK(s, "milestone", milestone, 1, { "site", hsite },
	    { "step", "3" }, { "status", "in_progress" });
	PUT_OK(s, "feedback", feedback, 1, { "cafe", hcafe },
	    { "responses", "10" }, { "felt_safe", "9" },
	    { "pfs_resilience", "5.25" });
	PUT_OK(s, "audit", audit, 1, { "site", hsite },
	    { "date", "2026-03-20" }, { "finding", "Sign-in sheets kept" });

	get_ok(s, site, &r);
	assert_true(r.type == type_of("site"));
	assert_memory_equal(r.id, site, PROTO_ID_LEN);
	assert_false(r.deleted);
	assert_field(&r, "name", "Eastside Family Center");
	assert_field(&r, "partner_type", "family_resource_center");
	assert_field(&r, "status", "active");
	assert_field(&r, "languages", "en,es");
	assert_field(&r, "started", "2025-09-01");
	assert_null(store_rec_value(&r, "region"));
	assert_true(store_rec_clock(&r, "name") > 0);
	assert_true(store_rec_clock(&r, "region") == 0);
	v = store_rec_value(&r, "name");
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_STR);
	store_rec_free(&r);

	get_ok(s, person, &r);
	assert_true(r.type == type_of("person"));
	assert_field(&r, "name", "Ana");
	/* a set is stored in token order */
	assert_field(&r, "roles", "parent_leader,host");
	v = store_rec_value(&r, "site");
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_BIN);
	assert_memory_equal(v->via.bin.ptr, site, PROTO_ID_LEN);
	store_rec_free(&r);

	get_ok(s, cafe, &r);
	assert_true(r.type == type_of("cafe"));
	assert_field(&r, "site", hsite);	/* the prefix was resolved */
	assert_field(&r, "date", "2026-03-14");
	assert_field(&r, "format", "parent");
	assert_field(&r, "factors", "resilience,social_connections");
	assert_field(&r, "hosts", hperson);
	v = store_rec_value(&r, "attendees");
	assert_non_null(v);
	assert_int_equal(v->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(v->via.u64, 12);
	store_rec_free(&r);

	get_ok(s, action, &r);
	assert_true(r.type == type_of("action"));
	assert_field(&r, "cafe", hcafe);
	assert_field(&r, "title", "Call the library about space");
	store_rec_free(&r);

	get_ok(s, training, &r);
	assert_field(&r, "site", hsite);
	assert_field(&r, "kind", "orientation");
	assert_field(&r, "date", "2026-02-01");
	store_rec_free(&r);

	get_ok(s, milestone, &r);
	assert_field(&r, "step", "3");
	assert_field(&r, "status", "in_progress");
	v = store_rec_value(&r, "step");
	assert_int_equal(v->via.u64, 3);
	store_rec_free(&r);

	get_ok(s, feedback, &r);
	assert_field(&r, "cafe", hcafe);
	assert_field(&r, "responses", "10");
	v = store_rec_value(&r, "pfs_resilience");
	assert_non_null(v);
	assert_int_equal(v->via.u64, 525);
	assert_field(&r, "pfs_resilience", "5.25");
	store_rec_free(&r);

	get_ok(s, audit, &r);
	assert_true(r.type == type_of("audit"));
	assert_field(&r, "finding", "Sign-in sheets kept");
	assert_field(&r, "date", "2026-03-20");
	store_rec_free(&r);

	/* distinct ids, one commit per batch (and the admin commit that
	 * enrolled the site's hub log the first time it was written), one
	 * live record per type */
	assert_memory_not_equal(site, person, PROTO_ID_LEN);
	assert_memory_not_equal(cafe, action, PROTO_ID_LEN);
	assert_int_equal(store_status(s, &st), 0);
	assert_true(st.commits == 9);
	{
		static const char *const names[] = { "site", "person", "cafe",
			"action", "training", "milestone", "feedback",
			"audit" };
		for (size_t i = 0; i < NKV(names); i++)
			if (st.counts[type_index(names[i])] != 1)
				fail_msg("count of %s is %" PRIu64, names[i],
				    st.counts[type_index(names[i])]);
	}
	/* An unknown id reads as not found. */
	{
		uint8_t nope[16];
		memset(nope, 0x5a, sizeof nope);
		assert_int_equal(store_get(s, nope, &r), CS_ENOTFOUND);
	}
	assert_int_equal(store_verify(s, NULL, NULL), 0);
	t_close(s);
}

/* A put that must fail: the cause names the field, the batch is unchanged. */
static void put_fails(struct store *s, const char *type, const char *field,
    const struct store_kv *kv, size_t n)
{
	struct store_batch *b = store_batch_new(s);
	uint8_t id[16];
	char *cause = NULL;
	int rc;

	rc = store_batch_put(b, type_of(type), id, 1, kv, n, &cause);
	if (rc == 0)
		fail_msg("%s with %s=%s was accepted", type, kv[n - 1].name,
		    kv[n - 1].value);
	if (cause == NULL || strstr(cause, field) == NULL)
		fail_msg("%s: cause '%s' does not name %s", type,
		    cause ? cause : "NULL", field);
	assert_int_equal(store_batch_count(b), 0);
	assert_null(store_batch_warning(b, 0));
	free(cause);
	store_batch_free(b);
}

#define PUT_FAILS(s, type, field, ...) do {				\
	const struct store_kv kv_[] = { __VA_ARGS__ };			\
	put_fails((s), (type), (field), kv_, NKV(kv_));			\
} while (0)

static void test_put_validation(void **state)
{
	uint8_t site[16], site2[16], cafe[16];
	char hsite[33], unknown[33], prefix[5];
	char *long_name;
	struct store *s;
	struct store_status before, after;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", site, 1, { "name", "North" });
	hexid(site, hsite);
	assert_int_equal(store_status(s, &before), 0);

#define CAFE_BASE { "site", hsite }, { "format", "parent" }, \
	{ "factors", "resilience" }
	PUT_FAILS(s, "cafe", "date", CAFE_BASE, { "date", "2026-02-30" });
	PUT_FAILS(s, "cafe", "date", CAFE_BASE, { "date", "2026-1-1" });
	PUT_FAILS(s, "cafe", "date", CAFE_BASE, { "date", "x" });
	PUT_FAILS(s, "cafe", "format", { "site", hsite },
	    { "date", "2026-03-01" }, { "factors", "resilience" },
	    { "format", "brunch" });
	PUT_FAILS(s, "cafe", "factors", { "site", hsite },
	    { "date", "2026-03-01" }, { "format", "parent" },
	    { "factors", "resilience,hope" });
	PUT_FAILS(s, "cafe", "factors", { "site", hsite },
	    { "date", "2026-03-01" }, { "format", "parent" },
	    { "factors", "resilience,resilience" });
	PUT_FAILS(s, "cafe", "series_no", CAFE_BASE, { "date", "2026-03-01" },
	    { "series_no", "8" });
	PUT_FAILS(s, "cafe", "attendees", CAFE_BASE, { "date", "2026-03-01" },
	    { "attendees", "-4" });
	PUT_FAILS(s, "cafe", "attendees", CAFE_BASE, { "date", "2026-03-01" },
	    { "attendees", "twelve" });
	PUT_FAILS(s, "cafe", "attendees", CAFE_BASE, { "date", "2026-03-01" },
	    { "attendees", "100001" });
	PUT_FAILS(s, "cafe", "colour", CAFE_BASE, { "date", "2026-03-01" },
	    { "colour", "red" });
	/* missing required fields on create */
	PUT_FAILS(s, "cafe", "factors", { "site", hsite },
	    { "date", "2026-03-01" }, { "format", "parent" });
	PUT_FAILS(s, "person", "roles", { "name", "Bo" });
	PUT_FAILS(s, "audit", "finding", { "site", hsite },
	    { "date", "2026-03-01" });
	/* a required field given empty */
	PUT_FAILS(s, "site", "name", { "name", "" });
	/* text too long */
	long_name = malloc(202);
	assert_non_null(long_name);
	memset(long_name, 'n', 201);
	long_name[201] = '\0';
	PUT_FAILS(s, "site", "name", { "name", long_name });
	free(long_name);
	/* a reference prefix that matches nothing, or not hex */
	PUT_FAILS(s, "cafe", "site", { "date", "2026-03-01" },
	    { "format", "parent" }, { "factors", "resilience" },
	    { "site", "ffff" });
	PUT_FAILS(s, "cafe", "site", { "date", "2026-03-01" },
	    { "format", "parent" }, { "factors", "resilience" },
	    { "site", "not-an-id" });
	/* a reference to a record of another type */
	{
		uint8_t person[16];
		char hp[33];
		PUT_OK(s, "person", person, 1, { "name", "Cy" },
		    { "roles", "coach" });
		hexid(person, hp);
		PUT_FAILS(s, "cafe", "site", { "date", "2026-03-01" },
		    { "format", "parent" }, { "factors", "resilience" },
		    { "site", hp });
		assert_int_equal(store_status(s, &before), 0);
	}
	/* an ambiguous prefix: two sites made in the same run share the
	 * first hex digits of their time-based ids */
	PUT_OK(s, "site", site2, 1, { "name", "South" });
	assert_int_equal(store_status(s, &before), 0);
	memcpy(prefix, hsite, 4);
	prefix[4] = '\0';
	if (memcmp(site, site2, 2) == 0)
		PUT_FAILS(s, "cafe", "site", { "date", "2026-03-01" },
		    { "format", "parent" }, { "factors", "resilience" },
		    { "site", prefix });
	/* a full id not on this node: accepted, with a warning */
	memset(unknown, 'e', 32);
	unknown[32] = '\0';
	{
		struct store_batch *b = store_batch_new(s);
		const struct store_kv kv[] = { { "site", unknown },
			{ "date", "2026-03-01" }, { "format", "parent" },
			{ "factors", "resilience" } };
		char *cause = NULL;
		struct store_rec r;
		const char *w;

		assert_int_equal(store_batch_put(b, type_of("cafe"), cafe, 1,
		    kv, NKV(kv), &cause), 0);
		assert_int_equal(store_batch_count(b), 1);
		w = store_batch_warning(b, 0);
		assert_non_null(w);
		assert_non_null(strstr(w, "site"));
		assert_int_equal(store_batch_commit(b, &cause), 0);
		store_batch_free(b);
		get_ok(s, cafe, &r);
		assert_field(&r, "site", unknown);
		store_rec_free(&r);
	}
	/* a café missing fidelity elements: stored, with a warning */
	{
		struct store_batch *b = store_batch_new(s);
		const struct store_kv kv[] = { { "site", hsite },
			{ "date", "2026-03-02" }, { "format", "parent" },
			{ "factors", "resilience" },
			{ "elements", "welcome,theme" } };
		char *cause = NULL;
		uint8_t id[16];
		size_t nw = 0;

		assert_int_equal(store_batch_put(b, type_of("cafe"), id, 1,
		    kv, NKV(kv), &cause), 0);
		while (store_batch_warning(b, nw) != NULL)
			nw++;
		assert_true(nw >= 1);
		assert_int_equal(store_batch_commit(b, &cause), 0);
		store_batch_free(b);
	}
	/* nothing else was written by the refused puts */
	assert_int_equal(store_status(s, &after), 0);
	/* each café in its site's hub log, enrolled by an admin commit the
	 * first time it is written */
	assert_true(after.commits == before.commits + 4);
	assert_true(after.counts[type_index("cafe")] == 2);

	/* an edit of a record that does not exist */
	{
		uint8_t nope[16];
		const struct store_kv kv[] = { { "name", "X" } };
		memset(nope, 0x42, sizeof nope);
		assert_true(put_kv(s, "site", nope, 0, kv, 1, NULL) < 0);
	}
	/* an edit through the wrong type */
	{
		const struct store_kv kv[] = { { "name", "X" } };
		assert_true(put_kv(s, "person", site, 0, kv, 1, NULL) < 0);
	}
	/* an edit that clears a required field */
	{
		const struct store_kv kv[] = { { "name", "" } };
		assert_true(put_kv(s, "site", site, 0, kv, 1, NULL) < 0);
	}
	t_close(s);
}

struct split_acc {
	size_t n;
	uint32_t max_ops;
	size_t max_len;
	uint64_t ops;
};

static int split_cb(const struct store_commit *sc, void *arg)
{
	struct split_acc *a = arg;

	a->n++;
	a->ops += sc->c->nops;
	if (sc->c->nops > a->max_ops)
		a->max_ops = sc->c->nops;
	if (sc->elen > a->max_len)
		a->max_len = sc->elen;
	return 0;
}

/*
 * A batch larger than one commit is split at PROTO_MAX_OPS ops and at
 * STORE_LOCAL_COMMIT bytes (which binds first for ops of this size),
 * signed as a chain and committed at once; the LMDB map, started tiny,
 * grows instead of failing.
 */
static void test_batch_split_and_growth(void **state)
{
	const size_t nsites = PROTO_MAX_OPS + 10, ncafes = 200;
	uint8_t (*ids)[PROTO_ID_LEN];
	uint8_t site[16], cafe[16];
	struct store *s, *r;
	struct store_batch *b;
	struct store_status st, sr;
	struct split_acc acc;
	struct clist l = { 0 };
	char *cause = NULL, hsite[33], name[32], *harvest;
	(void)state;

	/* storage/store.c reads the initial map size from here */
	setenv("CAFESYNC_MAP_SIZE", "262144", 1);
	s = mk_store("hub", "hub", NULL, NULL);
	ids = calloc(nsites, PROTO_ID_LEN);
	assert_non_null(ids);

	b = store_batch_new(s);
	for (size_t i = 0; i < nsites; i++) {
		const struct store_kv kv[] = { { "name", name } };
		snprintf(name, sizeof name, "Site %zu", i);
		if (store_batch_put(b, type_of("site"), ids[i], 1, kv, 1,
		    &cause) != 0)
			fail_msg("put %zu: %s", i, cause);
	}
	assert_int_equal(store_batch_count(b), nsites);
	if (store_batch_commit(b, &cause) != 0)
		fail_msg("commit: %s", cause ? cause : "");
	store_batch_free(b);

	memset(&acc, 0, sizeof acc);
	assert_int_equal(store_log(s, NULL, 1, split_cb, &acc), 0);
	assert_true(acc.n >= 3);
	assert_true(acc.max_ops <= PROTO_MAX_OPS);
	assert_true(acc.max_len <= STORE_LOCAL_COMMIT);
	assert_true(acc.ops == nsites);

	/* by bytes: 200 cafés of 8000-byte harvests */
	memcpy(site, ids[0], PROTO_ID_LEN);
	hexid(site, hsite);
	harvest = malloc(8001);
	assert_non_null(harvest);
	memset(harvest, 'h', 8000);
	harvest[8000] = '\0';
	b = store_batch_new(s);
	for (size_t i = 0; i < ncafes; i++) {
		const struct store_kv kv[] = { { "site", hsite },
			{ "date", "2026-04-01" }, { "format", "parent" },
			{ "factors", "resilience" }, { "harvest", harvest } };
		if (store_batch_put(b, type_of("cafe"), cafe, 1, kv, NKV(kv),
		    &cause) != 0)
			fail_msg("cafe %zu: %s", i, cause);
	}
	free(harvest);
	if (store_batch_commit(b, &cause) != 0)
		fail_msg("commit: %s", cause ? cause : "");
	store_batch_free(b);
	unsetenv("CAFESYNC_MAP_SIZE");

	memset(&acc, 0, sizeof acc);
	assert_int_equal(store_log(s, NULL, 1, split_cb, &acc), 0);
	assert_true(acc.n >= 1600000 / STORE_LOCAL_COMMIT);
	assert_true(acc.max_len <= STORE_LOCAL_COMMIT);
	/* and the member op that enrolled the site's hub log */
	assert_true(acc.ops == nsites + ncafes + 1);
	assert_int_equal(store_status(s, &st), 0);
	assert_true(st.counts[type_index("site")] == nsites);
	assert_true(st.counts[type_index("cafe")] == ncafes);
	assert_true(st.commits == acc.n);
	{
		struct store_rec rec;
		get_ok(s, ids[nsites - 1], &rec);
		snprintf(name, sizeof name, "Site %zu", nsites - 1);
		assert_field(&rec, "name", name);
		store_rec_free(&rec);
		get_ok(s, cafe, &rec);
		assert_int_equal(store_rec_value(&rec, "harvest")->via.str.size,
		    8000);
		store_rec_free(&rec);
	}
	assert_int_equal(store_verify(s, NULL, NULL), 0);

	/* the split commits form a chain another node accepts */
	collect(s, NULL, &l);
	r = mk_store("replica", "replica", store_info(s)->network, NULL);
	apply_all_ok(r, &l);
	assert_int_equal(store_status(r, &sr), 0);
	assert_memory_equal(st.digest, sr.digest, PROTO_HASH_LEN);
	clist_free(&l);
	free(ids);
	t_close(s);
	t_close(r);
}

/* ---- accepting received commits --------------------------------------- */

struct head_acc {
	size_t n;
	uint8_t origin[4][PROTO_KEY_LEN];
	uint64_t seq[4];
	uint8_t hash[4][PROTO_HASH_LEN];
};

static int head_cb(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const uint8_t hash[PROTO_HASH_LEN], void *arg)
{
	struct head_acc *h = arg;

	if (h->n < 4) {
		memcpy(h->origin[h->n], origin, PROTO_KEY_LEN);
		h->seq[h->n] = seq;
		memcpy(h->hash[h->n], hash, PROTO_HASH_LEN);
	}
	h->n++;
	return 0;
}

static void test_apply_between_stores(void **state)
{
	uint8_t s1[16], s2[16], s3[16];
	struct store *a, *b, *x;
	struct clist la = { 0 }, lx = { 0 };
	struct store_status sa, sb;
	struct store_rec r;
	struct head_acc h;
	struct citem bad;
	(void)state;

	a = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(a, "site", s1, 1, { "name", "One" });
	PUT_OK(a, "site", s2, 1, { "name", "Two" });
	PUT_OK(a, "site", s3, 1, { "name", "Three" });
	PUT_OK(a, "site", s1, 0, { "county", "Lane" });
	collect(a, store_info(a)->node, &la);
	assert_int_equal(la.n, 4);
	for (size_t i = 0; i < la.n; i++)
		assert_true(la.v[i].seq == i + 1);

	b = mk_store("replica", "replica", store_info(a)->network, NULL);
	assert_memory_equal(store_info(b)->network, store_info(a)->node,
	    PROTO_KEY_LEN);
	assert_memory_not_equal(store_info(b)->node, store_info(a)->node,
	    PROTO_KEY_LEN);

	/* applied, then a duplicate */
	assert_int_equal(apply_one(b, &la.v[0]), 0);
	assert_int_equal(apply_one(b, &la.v[0]), CS_EDUP);
	get_ok(b, s1, &r);
	assert_field(&r, "name", "One");
	store_rec_free(&r);

	/* seq gap: seq 3 before seq 2 */
	{
		struct store_item it;
		assert_int_equal(apply_raw(b, la.v[2].e, la.v[2].elen,
		    la.v[2].sig, &it), CS_ESEQ);
		assert_memory_equal(it.origin, store_info(a)->node,
		    PROTO_KEY_LEN);
		assert_true(it.seq == 3);
		assert_true(strlen(it.cause) > 0);
	}
	assert_int_equal(store_get(b, s3, &r), CS_ENOTFOUND);

	/* a flipped signature byte, a flipped byte of E */
	bad = la.v[1];
	bad.sig[10] ^= 0x40;
	assert_int_equal(apply_one(b, &bad), CS_ESIG);
	bad = la.v[1];
	bad.e = malloc(bad.elen);
	assert_non_null(bad.e);
	memcpy(bad.e, la.v[1].e, bad.elen);
	bad.e[bad.elen - 2] ^= 0x01;	/* inside the name "Two" */
	assert_true(apply_one(b, &bad) < 0);
	/* a truncated E */
	{
		struct store_item it;
		assert_true(apply_raw(b, bad.e, bad.elen - 1, la.v[1].sig,
		    &it) < 0);
	}
	free(bad.e);
	assert_int_equal(store_get(b, s2, &r), CS_ENOTFOUND);

	/* then the real ones, in one batch with a duplicate in the middle */
	{
		const struct citem *v[4] = { &la.v[1], &la.v[0], &la.v[2],
			&la.v[3] };
		int res[4];
		apply_items(b, v, 4, res);
		assert_int_equal(res[0], 0);
		assert_int_equal(res[1], CS_EDUP);
		assert_int_equal(res[2], 0);
		assert_int_equal(res[3], 0);
	}
	get_ok(b, s1, &r);
	assert_field(&r, "county", "Lane");
	store_rec_free(&r);
	assert_int_equal(store_status(a, &sa), 0);
	assert_int_equal(store_status(b, &sb), 0);
	assert_memory_equal(sa.digest, sb.digest, PROTO_HASH_LEN);
	assert_true(sb.counts[type_index("site")] == 3);
	assert_true(sb.commits == 4);
	memset(&h, 0, sizeof h);
	assert_int_equal(store_heads(b, head_cb, &h), 0);
	assert_int_equal(h.n, 1);
	assert_memory_equal(h.origin[0], store_info(a)->node, PROTO_KEY_LEN);
	assert_true(h.seq[0] == 4);
	assert_memory_equal(h.hash[0], la.v[3].hash, PROTO_HASH_LEN);

	/* a commit of a node of another network */
	x = mk_store("stranger", "hub", NULL, NULL);
	{
		uint8_t id[16];
		PUT_OK(x, "site", id, 1, { "name", "Elsewhere" });
	}
	collect(x, NULL, &lx);
	assert_int_equal(lx.n, 1);
	assert_int_equal(apply_one(b, &lx.v[0]), CS_ESIG);
	/* B's own network id signed over, but by a key of another network */
	assert_int_equal(store_status(b, &sb), 0);
	assert_memory_equal(sa.digest, sb.digest, PROTO_HASH_LEN);
	assert_true(sb.commits == 4);
	assert_int_equal(store_verify(b, NULL, NULL), 0);

	clist_free(&la);
	clist_free(&lx);
	t_close(a);
	t_close(b);
	t_close(x);
}

static void site_op(struct hop *op, const uint8_t *id, const char *name)
{
	hop_put(op, "site", id);
	hop_field(op, "name", name);
}

static void test_apply_chain_and_fork(void **state)
{
	struct origin adm;
	uint8_t id1[16], id2[16], junk[PROTO_HASH_LEN];
	struct citem c1, c2, c2bad, c3gap, fork1, c1other;
	struct store *b;
	struct store_rec r;
	struct store_status st;
	struct hop op;
	uint8_t net2[PROTO_KEY_LEN];
	(void)state;

	new_origin(&adm);
	randombytes_buf(id1, sizeof id1);
	randombytes_buf(id2, sizeof id2);
	randombytes_buf(junk, sizeof junk);
	/* the hand-made key is the network's admin */
	b = mk_store("replica", "replica", adm.pk, NULL);

	site_op(&op, id1, "Alpha");
	hb_next(&c1, &adm, adm.pk, HLC_AT(T_MS, 1), &op, 1);
	assert_int_equal(apply_one(b, &c1), 0);

	/* wrong prev at seq 2 */
	site_op(&op, id2, "Bravo");
	hb_make(&c2bad, &adm, adm.pk, 2, junk, HLC_AT(T_MS + 1, 0), &op, 1);
	assert_int_equal(apply_one(b, &c2bad), CS_ECHAIN);
	/* seq 3 while the head is 1 */
	hb_make(&c3gap, &adm, adm.pk, 3, junk, HLC_AT(T_MS + 2, 0), &op, 1);
	assert_int_equal(apply_one(b, &c3gap), CS_ESEQ);
	assert_int_equal(store_get(b, id2, &r), CS_ENOTFOUND);

	/* signed for another network */
	randombytes_buf(net2, sizeof net2);
	hb_make(&c1other, &adm, net2, 2, c1.hash, HLC_AT(T_MS + 1, 0), &op, 1);
	assert_int_equal(apply_one(b, &c1other), CS_ESIG);

	/* the right seq 2 */
	hb_next(&c2, &adm, adm.pk, HLC_AT(T_MS + 1, 0), &op, 1);
	assert_int_equal(apply_one(b, &c2), 0);
	get_ok(b, id2, &r);
	assert_field(&r, "name", "Bravo");
	store_rec_free(&r);

	/* a fork: another validly signed commit at seq 1 */
	site_op(&op, id1, "Mallory");
	hb_make(&fork1, &adm, adm.pk, 1, NULL, HLC_AT(T_MS + 5, 0), &op, 1);
	assert_memory_not_equal(fork1.hash, c1.hash, PROTO_HASH_LEN);
	{
		struct store_item it;
		assert_int_equal(apply_raw(b, fork1.e, fork1.elen, fork1.sig,
		    &it), CS_EFORK);
		assert_true(it.seq == 1);
		assert_memory_equal(it.origin, adm.pk, PROTO_KEY_LEN);
	}
	assert_int_equal(store_status(b, &st), 0);
	assert_true(st.forks == 1);
	assert_true(st.commits == 2);
	get_ok(b, id1, &r);
	assert_field(&r, "name", "Alpha");
	store_rec_free(&r);
	/* the original is still a duplicate, not a fork */
	assert_int_equal(apply_one(b, &c1), CS_EDUP);
	/* a fork with a bad signature is not evidence */
	fork1.sig[0] ^= 1;
	assert_int_equal(apply_one(b, &fork1), CS_ESIG);
	assert_int_equal(store_status(b, &st), 0);
	assert_true(st.forks == 1);
	/* a commit that does not move the clock forward */
	{
		struct citem c3old;
		struct origin copy = adm;
		site_op(&op, id2, "Charlie");
		hb_next(&c3old, &copy, adm.pk, HLC_AT(T_MS, 0), &op, 1);
		assert_true(apply_one(b, &c3old) < 0);
		free(c3old.e);
	}
	assert_int_equal(store_verify(b, NULL, NULL), 0);

	free(c1.e);
	free(c2.e);
	free(c2bad.e);
	free(c3gap.e);
	free(fork1.e);
	free(c1other.e);
	t_close(b);
}

/*
 * The clock: a node that has received a commit from a clock a day ahead
 * orders its own later edits after it, so its edit of that record wins.
 */
static void test_clock_follows_received(void **state)
{
	struct origin adm;
	uint8_t x[16], y[16];
	struct citem c0, c1;
	struct hop op;
	struct store *b;
	struct clist lb = { 0 };
	struct store_rec r;
	struct timespec ts;
	uint64_t future, hfut;
	(void)state;

	clock_gettime(CLOCK_REALTIME, &ts);
	future = (uint64_t)ts.tv_sec * 1000 + 86400000;
	hfut = HLC_AT(future, 3);
	new_origin(&adm);
	randombytes_buf(x, sizeof x);
	b = mk_store("hub", "hub", adm.pk, NULL);
	/* the admin enrolls b (at the present clock) so that b may write */
	{
		const uint8_t *keys[1] = { store_info(b)->node };
		enroll_next(&c0, &adm, HLC_AT((uint64_t)ts.tv_sec * 1000, 0),
		    keys, 1);
		assert_int_equal(apply_one(b, &c0), 0);
	}
	site_op(&op, x, "From the future");
	hb_next(&c1, &adm, adm.pk, hfut, &op, 1);
	assert_int_equal(apply_one(b, &c1), 0);

	PUT_OK(b, "site", y, 1, { "name", "Local" });
	PUT_OK(b, "site", x, 0, { "name", "Edited here" });
	collect(b, store_info(b)->node, &lb);
	assert_int_equal(lb.n, 2);
	for (size_t i = 0; i < lb.n; i++)
		if (lb.v[i].hlc <= hfut)
			fail_msg("local commit %zu has clock %" PRIx64 ", not "
			    "after the received %" PRIx64, i, lb.v[i].hlc,
			    hfut);
	get_ok(b, x, &r);
	assert_field(&r, "name", "Edited here");
	assert_true(store_rec_clock(&r, "name") > hfut);
	store_rec_free(&r);
	clist_free(&lb);
	free(c0.e);
	free(c1.e);
	t_close(b);
}

/* An op of an unknown type or field, or a bad value, is refused whole. */
/*
 * A commit whose clock is past PROTO_HLC_MAX_MS is refused: accepted, it
 * would push every node's clock to the end and stop local writes.
 */
static void test_apply_clock_bound(void **state)
{
	struct origin adm;
	uint8_t id1[16];
	struct citem c;
	struct store *b;
	struct hop ops[1];
	(void)state;

	new_origin(&adm);
	randombytes_buf(id1, sizeof id1);
	b = mk_store("replica", "replica", adm.pk, NULL);
	site_op(&ops[0], id1, "Alpha");
	hb_make(&c, &adm, adm.pk, 1, NULL, UINT64_MAX, ops, 1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);
	hb_make(&c, &adm, adm.pk, 1, NULL, (PROTO_HLC_MAX_MS + 1) << 16, ops,
	    1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);
	hb_make(&c, &adm, adm.pk, 1, NULL, PROTO_HLC_MAX_MS << 16, ops, 1);
	assert_int_equal(apply_one(b, &c), 0);
	free(c.e);
	t_close(b);
}

/* Text must be UTF-8, typed or received. */
static void test_text_utf8(void **state)
{
	const struct sch_type *t = sch_type_find("site", 4);
	const struct sch_field *f = sch_field_find(t, "name", 4);
	msgpack_object o;
	const char *why;
	(void)state;

	assert_int_equal(parse_rc("site", "name", "Caf\xc3\xa9 Uni\xc3\xb3n"), 0);
	assert_int_equal(parse_rc("site", "name", "bad \xff byte"), CS_EUSAGE);
	assert_int_equal(parse_rc("site", "name", "overlong \xc0\xaf"),
	    CS_EUSAGE);
	assert_int_equal(parse_rc("site", "name", "cut \xe2\x82"), CS_EUSAGE);
	memset(&o, 0, sizeof o);
	o.type = MSGPACK_OBJECT_STR;
	o.via.str.ptr = "ok \xe2\x82\xac";
	o.via.str.size = 6;
	assert_int_equal(sch_check(f, &o, &why), 0);
	o.via.str.ptr = "no \xed\xa0\x80";	/* a surrogate */
	o.via.str.size = 6;
	assert_int_equal(sch_check(f, &o, &why), CS_ESCHEMA);
	/* A name with a NUL inside is no field's name. */
	assert_null(sch_field_find(t, "name\0xyz", 8));
	assert_null(sch_field_find(t, "nam", 3));
}

static void test_apply_schema(void **state)
{
	struct origin adm;
	uint8_t id1[16], id2[16];
	struct citem c;
	struct store *b;
	struct store_rec r;
	struct hop ops[2];
	(void)state;

	new_origin(&adm);
	randombytes_buf(id1, sizeof id1);
	randombytes_buf(id2, sizeof id2);
	b = mk_store("replica", "replica", adm.pk, NULL);

	/* a good op and a bad date in one commit: nothing lands */
	site_op(&ops[0], id1, "Alpha");
	hop_put(&ops[1], "cafe", id2);
	hop_field(&ops[1], "date", "2026-02-30");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 2);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);
	assert_int_equal(store_get(b, id1, &r), CS_ENOTFOUND);

	hop_put(&ops[0], "spaceship", id1);
	hop_field(&ops[0], "name", "x");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);

	hop_put(&ops[0], "site", id1);
	hop_field(&ops[0], "colour", "red");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);

	hop_put(&ops[0], "cafe", id1);
	hop_field(&ops[0], "factors", "social_connections,resilience");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 1);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);

	/* the same id put as two types in one commit */
	site_op(&ops[0], id1, "Alpha");
	hop_put(&ops[1], "person", id1);
	hop_field(&ops[1], "name", "Ana");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 2);
	assert_int_equal(apply_one(b, &c), CS_ESCHEMA);
	free(c.e);

	/* and a good one still applies at seq 1 */
	site_op(&ops[0], id1, "Alpha");
	hb_make(&c, &adm, adm.pk, 1, NULL, HLC_AT(T_MS, 0), ops, 1);
	assert_int_equal(apply_one(b, &c), 0);
	free(c.e);
	get_ok(b, id1, &r);
	assert_true(r.type == type_of("site"));
	store_rec_free(&r);
	t_close(b);
}

/* ---- the merge property ----------------------------------------------- */

#define M_ORIGINS 3
#define M_RECS 8
#define M_COMMITS 60
#define M_ORDERS 20

static uint64_t rng_state;

static uint64_t rng(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	rng_state = x;
	return x;
}

static size_t rnd(size_t n)
{
	return (size_t)(rng() % n);
}

struct mfield_model {
	int set;
	uint64_t hlc;
	int origin;
	const char *val;	/* text form; NULL is nil */
};

struct mrec_model {
	uint8_t id[PROTO_ID_LEN];
	const char *type;
	int created;
	int deleted;
	struct mfield_model f[8];
};

static const char *const site_fields_m[] = { "name", "county", "region",
	"status", "partner_type" };
static const char *const person_fields_m[] = { "name", "roles",
	"languages" };

static const char *pick_value(const char *type, const char *field)
{
	static const char *const names[] = { "Oak", "Elm", "Pine", "Ash",
		"Birch" };
	static const char *const counties[] = { "Lane", "Linn", "Coos", NULL };
	static const char *const status[] = { "exploring", "starting",
		"active", "paused", "closed" };
	static const char *const ptypes[] = { "school", "faith_based",
		"other", NULL };
	static const char *const roles[] = { "parent_leader,host", "coach",
		"host,table_host", "consultant" };
	static const char *const langs[] = { "en", "en,es", "vi,en", NULL };

	(void)type;
	if (strcmp(field, "name") == 0)
		return names[rnd(5)];
	if (strcmp(field, "county") == 0 || strcmp(field, "region") == 0)
		return counties[rnd(4)];
	if (strcmp(field, "status") == 0)
		return status[rnd(5)];
	if (strcmp(field, "partner_type") == 0)
		return ptypes[rnd(4)];
	if (strcmp(field, "roles") == 0)
		return roles[rnd(4)];
	return langs[rnd(4)];
}

static int field_slot(const char *type, const char *field)
{
	const char *const *names = strcmp(type, "site") == 0 ? site_fields_m :
	    person_fields_m;
	size_t n = strcmp(type, "site") == 0 ? NKV(site_fields_m) :
	    NKV(person_fields_m);

	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], field) == 0)
			return (int)i;
	fail_msg("no slot for %s", field);
	return -1;
}

struct merge_world {
	struct origin o[M_ORIGINS];
	struct mrec_model rec[M_RECS];
	size_t nrec;
	struct clist per[M_ORIGINS];	/* each origin's commits, in seq order */
	size_t total;
	/* o[0]'s first commit(s): o[1] and o[2] enrolled as hubs; applied to
	 * every replica before the workload, not counted in total */
	struct clist enroll;
	uint64_t hlc[M_ORIGINS];
	uint64_t conflict_loser_hlc, conflict_winner_hlc;
};

/* Does write (hlc, origin a) beat the model's current value of f? */
static int model_wins(const struct merge_world *w, const struct mfield_model *f,
    uint64_t hlc, int origin)
{
	if (!f->set)
		return 1;
	if (hlc != f->hlc)
		return hlc > f->hlc;
	return memcmp(w->o[origin].pk, w->o[f->origin].pk, PROTO_KEY_LEN) > 0;
}

static void model_put(struct merge_world *w, struct mrec_model *m,
    const struct hop *op, uint64_t hlc, int origin)
{
	m->created = 1;
	for (size_t j = 0; j < op->nf; j++) {
		struct mfield_model *f = &m->f[field_slot(m->type,
		    op->names[j])];
		if (model_wins(w, f, hlc, origin)) {
			f->set = 1;
			f->hlc = hlc;
			f->origin = origin;
			f->val = op->vals[j];
		}
	}
}

/* Emits origin oi's next commit of ops, updating the model. */
static void emit(struct merge_world *w, int oi, const struct hop *ops,
    size_t nops, uint64_t hlc)
{
	struct citem *c = clist_add(&w->per[oi]);

	hb_next(c, &w->o[oi], w->o[0].pk, hlc, ops, nops);
	w->hlc[oi] = hlc;
	w->total++;
	for (size_t i = 0; i < nops; i++) {
		struct mrec_model *m = NULL;
		for (size_t r = 0; r < w->nrec; r++)
			if (memcmp(w->rec[r].id, ops[i].id, PROTO_ID_LEN) == 0)
				m = &w->rec[r];
		assert_non_null(m);
		if (ops[i].kind == PROTO_OP_DEL)
			m->deleted = 1;
		else
			model_put(w, m, &ops[i], hlc, oi);
	}
}

/* Builds about M_COMMITS commits of three origins in network o[0]. */
static void build_world(struct merge_world *w)
{
	struct hop ops[4];
	uint64_t h0 = HLC_AT(T_MS, 0);

	memset(w, 0, sizeof *w);
	for (int i = 0; i < M_ORIGINS; i++) {
		new_origin(&w->o[i]);
		w->hlc[i] = h0;
	}
	/*
	 * The admin (o[0], the network) enrolls the other origins first, at
	 * seq 1 and clock h0, so its workload chains on after it.  No rng()
	 * here: the seed gives the same workload as before.
	 */
	{
		const uint8_t *keys[M_ORIGINS - 1];
		for (int i = 1; i < M_ORIGINS; i++)
			keys[i - 1] = w->o[i].pk;
		enroll_next(clist_add(&w->enroll), &w->o[0], h0, keys,
		    M_ORIGINS - 1);
	}
	/* origin 0 creates four sites and two persons */
	for (size_t r = 0; r < 6; r++) {
		struct mrec_model *m = &w->rec[w->nrec++];
		randombytes_buf(m->id, PROTO_ID_LEN);
		m->type = r < 4 ? "site" : "person";
	}
	for (size_t r = 0; r < 4; r++) {
		hop_put(&ops[r], "site", w->rec[r].id);
		hop_field(&ops[r], "name", "Site");
		hop_field(&ops[r], "county", "Lane");
		hop_field(&ops[r], "status", "exploring");
	}
	emit(w, 0, ops, 4, h0 + 1);
	for (size_t r = 4; r < 6; r++) {
		hop_put(&ops[r - 4], "person", w->rec[r].id);
		hop_field(&ops[r - 4], "name", "Pat");
		hop_field(&ops[r - 4], "roles", "host");
	}
	emit(w, 0, ops, 2, h0 + 2);

	/*
	 * The conflict: origins 1 and 2 both edit rec 0's county having
	 * seen only the create (base h0 + 1).  Nothing later touches it.
	 */
	hop_put(&ops[0], "site", w->rec[0].id);
	hop_field(&ops[0], "county", "Linn");
	hop_base(&ops[0], "county", h0 + 1);
	emit(w, 1, ops, 1, HLC_AT(T_MS + 10, 0));
	hop_put(&ops[0], "site", w->rec[0].id);
	hop_field(&ops[0], "county", "Coos");
	hop_base(&ops[0], "county", h0 + 1);
	emit(w, 2, ops, 1, HLC_AT(T_MS + 10, 5));
	w->hlc[0] = HLC_AT(T_MS + 10, 0);
	w->conflict_loser_hlc = HLC_AT(T_MS + 10, 0);
	w->conflict_winner_hlc = HLC_AT(T_MS + 10, 5);

	while (w->total < M_COMMITS) {
		int oi = (int)rnd(M_ORIGINS);
		size_t nops = 1 + rnd(3), k = 0;
		/* clocks close together so that origins tie now and then */
		uint64_t hlc = w->hlc[oi] + 1 + rnd(6), maxbase = 0;

		if (rnd(12) == 0 && w->nrec < M_RECS) {
			struct mrec_model *m = &w->rec[w->nrec++];
			randombytes_buf(m->id, PROTO_ID_LEN);
			m->type = "site";
			hop_put(&ops[k], "site", m->id);
			hop_field(&ops[k], "name", "New");
			k++;
		}
		for (; k < nops; k++) {
			size_t r = rnd(w->nrec);
			struct mrec_model *m = &w->rec[r];
			const char *const *names = strcmp(m->type, "site") ==
			    0 ? site_fields_m : person_fields_m;
			size_t nn = strcmp(m->type, "site") == 0 ?
			    NKV(site_fields_m) : NKV(person_fields_m);
			size_t nf = 1 + rnd(3);

			if (r != 0 && r != 1 && rnd(40) == 0) {
				memset(&ops[k], 0, sizeof ops[k]);
				ops[k].kind = PROTO_OP_DEL;
				ops[k].type = m->type;
				memcpy(ops[k].id, m->id, PROTO_ID_LEN);
				continue;
			}
			hop_put(&ops[k], m->type, m->id);
			ops[k].edit = 1;
			for (size_t j = 0; j < nf; j++) {
				const char *fn = names[rnd(nn)];
				int dup = 0;
				if (r == 0 && strcmp(fn, "county") == 0)
					continue;
				for (size_t q = 0; q < ops[k].nf; q++)
					dup |= strcmp(ops[k].names[q], fn) == 0;
				if (dup)
					continue;
				hop_field(&ops[k], fn, pick_value(m->type, fn));
				/* base: what this origin may have seen */
				if (rnd(2)) {
					uint64_t bv = m->f[field_slot(m->type,
					    fn)].hlc;
					hop_base(&ops[k], fn, bv);
					if (bv > maxbase)
						maxbase = bv;
				}
			}
			if (ops[k].nf == 0)
				hop_field(&ops[k], "name", "Fallback");
		}
		/* one record once per commit: merge ops on the same id */
		{
			int clash = 0;
			for (size_t a = 0; a < nops; a++)
				for (size_t b2 = a + 1; b2 < nops; b2++)
					clash |= memcmp(ops[a].id, ops[b2].id,
					    PROTO_ID_LEN) == 0;
			if (clash)
				nops = 1;
		}
		/* an author that saw a value has a clock past it (HLC) */
		if (hlc <= maxbase)
			hlc = maxbase + 1 + rnd(3);
		emit(w, oi, ops, nops, hlc);
	}
}

/* A random interleaving that keeps each origin's seq order. */
static void interleave(const struct merge_world *w,
    const struct citem **order)
{
	size_t next[M_ORIGINS] = { 0 }, k = 0;

	while (k < w->total) {
		int oi = (int)rnd(M_ORIGINS);
		if (next[oi] < w->per[oi].n)
			order[k++] = &w->per[oi].v[next[oi]++];
	}
}

#define CONF_MAX 1024

struct conf_acc {
	char lines[CONF_MAX][200];
	size_t n;
};

static int conf_cb(const struct store_conflict *c, void *arg)
{
	struct conf_acc *a = arg;
	char id[33], o[65], wo[65];
	char val[64] = "", win[64] = "";
	const struct sch_field *f = sch_field_find(c->type, c->field,
	    strlen(c->field));

	if (f != NULL) {
		sch_format(f, c->value, val, sizeof val);
		sch_format(f, c->winner, win, sizeof win);
	}
	proto_hex(id, c->id, PROTO_ID_LEN);
	proto_hex(o, c->origin, PROTO_KEY_LEN);
	if (c->winner_origin != NULL)
		proto_hex(wo, c->winner_origin, PROTO_KEY_LEN);
	else
		wo[0] = '\0';
	if (a->n < CONF_MAX)
		snprintf(a->lines[a->n], sizeof a->lines[0],
		    "%.8s %s %s %" PRIx64 " %.8s > %s %" PRIx64 " %.8s", id,
		    c->field, val, c->hlc, o, win, c->winner_hlc, wo);
	a->n++;
	return 0;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void conflicts_of(struct store *s, const uint8_t *id,
    struct conf_acc *a)
{
	memset(a, 0, sizeof *a);
	assert_int_equal(store_conflicts(s, id, conf_cb, a), 0);
	assert_true(a->n <= CONF_MAX);
	qsort(a->lines, a->n, sizeof a->lines[0], cmp_lines);
}

/* Checks the store's records against the model of the merge. */
static void check_model(struct store *s, const struct merge_world *w)
{
	struct store_status st;
	uint64_t live = 0, live_person = 0;

	for (size_t r = 0; r < w->nrec; r++) {
		const struct mrec_model *m = &w->rec[r];
		const char *const *names = strcmp(m->type, "site") == 0 ?
		    site_fields_m : person_fields_m;
		size_t nn = strcmp(m->type, "site") == 0 ?
		    NKV(site_fields_m) : NKV(person_fields_m);
		struct store_rec rec;

		get_ok(s, m->id, &rec);
		assert_true(rec.type == type_of(m->type));
		if (rec.deleted != m->deleted)
			fail_msg("record %zu deleted is %d, model %d", r,
			    rec.deleted, m->deleted);
		if (!m->deleted) {
			if (strcmp(m->type, "site") == 0)
				live++;
			else
				live_person++;
			for (size_t j = 0; j < nn; j++) {
				const struct mfield_model *f = &m->f[j];
				if (!f->set) {
					assert_true(store_rec_clock(&rec,
					    names[j]) == 0);
					continue;
				}
				assert_field(&rec, names[j],
				    f->val ? f->val : "");
				if (store_rec_clock(&rec, names[j]) != f->hlc)
					fail_msg("rec %zu %s clock %" PRIx64
					    ", model %" PRIx64, r, names[j],
					    store_rec_clock(&rec, names[j]),
					    f->hlc);
				assert_memory_equal(store_rec_origin(&rec,
				    names[j]), w->o[f->origin].pk,
				    PROTO_KEY_LEN);
			}
		}
		store_rec_free(&rec);
	}
	assert_int_equal(store_status(s, &st), 0);
	assert_true(st.counts[type_index("site")] == live);
	assert_true(st.counts[type_index("person")] == live_person);
	/* the enrollment commit(s) and their member records come on top of
	 * the workload */
	assert_true(st.counts[type_index("member")] == M_ORIGINS - 1);
	assert_true(st.commits == w->total + w->enroll.n);
	assert_true(st.forks == 0);
}

/* Hashes every record's bytes as read, in model order. */
static void records_hash(struct store *s, const struct merge_world *w,
    uint8_t out[32])
{
	crypto_generichash_state hs;

	crypto_generichash_init(&hs, NULL, 0, 32);
	for (size_t r = 0; r < w->nrec; r++) {
		struct store_rec rec;
		msgpack_sbuffer sb;
		msgpack_packer pk;

		get_ok(s, w->rec[r].id, &rec);
		msgpack_sbuffer_init(&sb);
		msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
		msgpack_pack_object(&pk, rec.up.data);
		crypto_generichash_update(&hs, (const uint8_t *)sb.data,
		    sb.size);
		msgpack_sbuffer_destroy(&sb);
		store_rec_free(&rec);
	}
	crypto_generichash_final(&hs, out, 32);
}

static void test_merge_convergence(void **state)
{
	struct merge_world *w = calloc(1, sizeof *w);
	const struct citem **order;
	struct store_status first, st;
	uint8_t rh_first[32], rh[32];
	struct conf_acc *conf_first = calloc(1, sizeof *conf_first);
	struct conf_acc *conf = calloc(1, sizeof *conf);
	const char *seed_env = getenv("CAFESYNC_TEST_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) :
	    UINT64_C(0x9e3779b97f4a7c15);
	int conf_bad = 0;
	char conf_msg[200] = "";
	(void)state;

	assert_non_null(w);
	assert_non_null(conf_first);
	assert_non_null(conf);
	rng_state = seed;
	build_world(w);
	order = calloc(w->total, sizeof *order);
	assert_non_null(order);

	for (int k = 0; k < M_ORDERS; k++) {
		struct store *s = mk_store("replica", "replica", w->o[0].pk,
		    NULL);
		int *res = calloc(w->total, sizeof *res);

		assert_non_null(res);
		snprintf(t_ctx, sizeof t_ctx, "merge order %d, seed %" PRIx64,
		    k, seed);
		/* the admin log first: o[1] and o[2] are enrolled */
		apply_all_ok(s, &w->enroll);
		interleave(w, order);
		if (k % 2 == 0) {
			/* one item per store_apply */
			for (size_t i = 0; i < w->total; i++)
				apply_items(s, &order[i], 1, &res[i]);
		} else {
			/* batches of 1 to 16 items */
			size_t i = 0;
			while (i < w->total) {
				size_t n = 1 + rnd(16);
				if (n > w->total - i)
					n = w->total - i;
				apply_items(s, &order[i], n, &res[i]);
				i += n;
			}
		}
		for (size_t i = 0; i < w->total; i++)
			if (res[i] != 0)
				fail_msg("order %d (seed %" PRIx64 "): item %zu "
				    "(seq %" PRIu64 ") refused: %d", k, seed,
				    i, order[i]->seq, res[i]);
		free(res);

		check_model(s, w);
		assert_int_equal(store_status(s, &st), 0);
		records_hash(s, w, rh);
		conflicts_of(s, NULL, conf);
		if (k == 0) {
			first = st;
			memcpy(rh_first, rh, sizeof rh);
			memcpy(conf_first, conf, sizeof *conf);
			/* the concurrent edits of rec 0's county: Linn lost
			 * to Coos, and that is listed */
			{
				struct conf_acc *c0 = calloc(1, sizeof *c0);
				int found = 0;
				assert_non_null(c0);
				conflicts_of(s, w->rec[0].id, c0);
				for (size_t i = 0; i < c0->n; i++)
					if (strstr(c0->lines[i],
					    " county Linn "))
						found = 1;
				if (!found)
					fail_msg("no conflict listed for the "
					    "concurrent county edits (%zu "
					    "conflicts on the record)", c0->n);
				free(c0);
			}
		} else {
			if (memcmp(first.digest, st.digest, 32) != 0)
				fail_msg("order %d (seed %" PRIx64 "): digest "
				    "differs from order 0", k, seed);
			assert_memory_equal(first.counts, st.counts,
			    sizeof st.counts);
			if (memcmp(rh_first, rh, 32) != 0)
				fail_msg("order %d: records differ", k);
			/* conflicts: checked for every order, reported at
			 * the end so the records are checked in all 20 */
			int differ = conf->n != conf_first->n;
			for (size_t i = 0; !differ && i < conf->n; i++)
				differ = strcmp(conf->lines[i],
				    conf_first->lines[i]) != 0;
			if (differ && conf_bad++ == 0)
				snprintf(conf_msg, sizeof conf_msg, "order %d "
				    "lists %zu conflicts, order 0 lists %zu",
				    k, conf->n, conf_first->n);
		}
		/* applying everything again changes nothing */
		if (k == M_ORDERS - 1) {
			int *again = calloc(w->total, sizeof *again);
			assert_non_null(again);
			apply_items(s, order, w->total, again);
			for (size_t i = 0; i < w->total; i++)
				assert_int_equal(again[i], CS_EDUP);
			free(again);
			assert_int_equal(store_status(s, &st), 0);
			assert_memory_equal(first.digest, st.digest, 32);
			assert_int_equal(store_verify(s, NULL, NULL), 0);
		}
		t_close(s);
	}
	free(order);
	for (int i = 0; i < M_ORIGINS; i++)
		clist_free(&w->per[i]);
	clist_free(&w->enroll);
	free(w);
	free(conf_first);
	free(conf);
	if (conf_bad > 0)
		fail_msg("records converged, but the conflicts listed differ "
		    "in %d of %d orders (seed %" PRIx64 "): %s", conf_bad,
		    M_ORDERS - 1, seed, conf_msg);
}

/*
 * The smallest case of the merge property for conflicts.  County of one
 * site: W1 creates it (origin 0); W2 (origin 1) edits it having seen W1;
 * W3 (origin 2) edits it having seen W2; W5 (origin 0) edits it having
 * seen only W1.  W2 was seen and replaced by W3, so it is no conflict;
 * W3 lost to W5, which had not seen it: that is the one conflict.  Every
 * delivery order (per-origin order kept) must list the same.
 *
 * With background, two more origins first leave an unrelated conflict on
 * another record, so the conflicts database is never empty.
 */
static void run_minimal(const char *const (*orders)[4], size_t norders,
    int background)
{
	struct origin o[5];
	uint8_t id[16], bid[16];
	struct citem c[4];	/* W1, W2, W3, W5 */
	struct citem bg[2];
	struct citem en;	/* o[0] enrolls o[1] to o[4] */
	struct hop op;
	const uint64_t h1 = HLC_AT(T_MS, 1), h2 = HLC_AT(T_MS, 2),
	    h3 = HLC_AT(T_MS, 3), h5 = HLC_AT(T_MS, 5);
	struct conf_acc *ca = calloc(1, sizeof *ca);
	char first[200] = "";
	size_t first_n = 0;

	assert_non_null(ca);
	for (int i = 0; i < 5; i++)
		new_origin(&o[i]);
	randombytes_buf(id, sizeof id);
	randombytes_buf(bid, sizeof bid);
	/* the admin's seq 1, before W1 (its seq 2) and W5 (its seq 3) */
	{
		const uint8_t *keys[4] = { o[1].pk, o[2].pk, o[3].pk,
			o[4].pk };
		enroll_next(&en, &o[0], HLC_AT(T_MS, 0), keys, 4);
	}
	hop_put(&op, "site", id);
	hop_field(&op, "name", "Hill");
	hop_field(&op, "county", "Lane");
	hb_next(&c[0], &o[0], o[0].pk, h1, &op, 1);
	hop_put(&op, "site", id);
	hop_field(&op, "county", "Linn");
	hop_base(&op, "county", h1);
	hb_next(&c[1], &o[1], o[0].pk, h2, &op, 1);
	hop_put(&op, "site", id);
	hop_field(&op, "county", "Coos");
	hop_base(&op, "county", h2);
	hb_next(&c[2], &o[2], o[0].pk, h3, &op, 1);
	hop_put(&op, "site", id);
	hop_field(&op, "county", "Polk");
	hop_base(&op, "county", h1);
	hb_next(&c[3], &o[0], o[0].pk, h5, &op, 1);
	/* background: two blind writes of another record's region */
	hop_put(&op, "site", bid);
	op.edit = 1;
	hop_field(&op, "region", "North");
	hb_next(&bg[0], &o[3], o[0].pk, HLC_AT(T_MS, 7), &op, 1);
	hop_put(&op, "site", bid);
	op.edit = 1;
	hop_field(&op, "region", "South");
	hb_next(&bg[1], &o[4], o[0].pk, HLC_AT(T_MS, 8), &op, 1);

	for (size_t k = 0; k < norders; k++) {
		struct store *s = mk_store("replica", "replica", o[0].pk,
		    NULL);
		struct store_rec r;

		snprintf(t_ctx, sizeof t_ctx, "enrollment");
		assert_int_equal(apply_one(s, &en), 0);
		if (background) {
			snprintf(t_ctx, sizeof t_ctx, "background");
			assert_int_equal(apply_one(s, &bg[0]), 0);
			assert_int_equal(apply_one(s, &bg[1]), 0);
			conflicts_of(s, bid, ca);
			assert_int_equal(ca->n, 1);
		}
		for (int i = 0; i < 4; i++) {
			int w = orders[k][i][1] - '0';
			int ci = w == 5 ? 3 : w - 1;
			snprintf(t_ctx, sizeof t_ctx, "order %s %s %s %s, "
			    "applying %s", orders[k][0], orders[k][1],
			    orders[k][2], orders[k][3], orders[k][i]);
			assert_int_equal(apply_one(s, &c[ci]), 0);
		}
		t_ctx[0] = '\0';
		get_ok(s, id, &r);
		assert_field(&r, "county", "Polk");
		store_rec_free(&r);
		conflicts_of(s, id, ca);
		if (k == 0) {
			first_n = ca->n;
			if (ca->n > 0)
				snprintf(first, sizeof first, "%s",
				    ca->lines[0]);
			/* one conflict: Coos (W3) lost to Polk (W5) */
			assert_int_equal(ca->n, 1);
			assert_non_null(strstr(ca->lines[0], " county Coos "));
		} else if (ca->n != first_n || (ca->n > 0 &&
		    strcmp(ca->lines[0], first) != 0)) {
			fail_msg("order %s %s %s %s lists %zu conflicts "
			    "(first: %s; second: %s), order %s %s %s %s "
			    "lists %zu (%s)", orders[k][0], orders[k][1],
			    orders[k][2], orders[k][3], ca->n,
			    ca->n ? ca->lines[0] : "",
			    ca->n > 1 ? ca->lines[1] : "", orders[0][0],
			    orders[0][1], orders[0][2], orders[0][3],
			    first_n, first);
		}
		t_close(s);
	}
	for (int i = 0; i < 4; i++)
		free(c[i].e);
	free(bg[0].e);
	free(bg[1].e);
	free(en.e);
	free(ca);
}

static void test_conflicts_order_minimal(void **state)
{
	static const char *const orders[][4] = {
		{ "W1", "W2", "W3", "W5" }, { "W1", "W2", "W5", "W3" },
		{ "W1", "W5", "W2", "W3" }, { "W1", "W3", "W5", "W2" },
		{ "W3", "W1", "W2", "W5" }, { "W3", "W2", "W1", "W5" },
		{ "W2", "W3", "W1", "W5" }, { "W3", "W1", "W5", "W2" },
	};
	(void)state;
	run_minimal(orders, NKV(orders), 1);
}

/*
 * Settling the only conflict in the store (W3, having seen W2, lands
 * after W2 lost to W5) must not fail the apply.
 */
static void test_conflict_settle_last(void **state)
{
	static const char *const orders[][4] = {
		{ "W1", "W2", "W3", "W5" }, { "W1", "W2", "W5", "W3" },
	};
	(void)state;
	run_minimal(orders, NKV(orders), 0);
}

/* Concurrent local edits through store_batch_put leave a conflict. */
static void test_local_edit_conflict(void **state)
{
	uint8_t site[16];
	struct store *a, *b;
	struct clist la = { 0 }, lb = { 0 }, la2 = { 0 };
	struct store_status sa, sb;
	struct conf_acc *ca = calloc(1, sizeof *ca), *cb = calloc(1, sizeof *cb);
	struct store_rec ra, rb;
	(void)state;

	assert_non_null(ca);
	assert_non_null(cb);
	a = mk_store("hub", "hub", NULL, NULL);
	b = mk_store("site", "site", store_info(a)->network, NULL);
	/* a is the admin; b edits a site record: enrolled as a hub */
	enroll_store(a, b, "hub");
	PUT_OK(a, "site", site, 1, { "name", "Hill" }, { "county", "Lane" });
	collect(a, NULL, &la);
	apply_all_ok(b, &la);

	/* both edit county without seeing each other; a also edits name
	 * after seeing nothing new (no conflict expected there) */
	PUT_OK(a, "site", site, 0, { "county", "Linn" });
	PUT_OK(b, "site", site, 0, { "county", "Coos" });
	PUT_OK(a, "site", site, 0, { "name", "Hilltop" });

	collect(a, store_info(a)->node, &la2);
	collect(b, store_info(b)->node, &lb);
	apply_all_ok(b, &la2);
	apply_all_ok(a, &lb);

	assert_int_equal(store_status(a, &sa), 0);
	assert_int_equal(store_status(b, &sb), 0);
	assert_memory_equal(sa.digest, sb.digest, PROTO_HASH_LEN);
	get_ok(a, site, &ra);
	get_ok(b, site, &rb);
	{
		char va[64], vb[64];
		field_text(&ra, "county", va, sizeof va);
		field_text(&rb, "county", vb, sizeof vb);
		assert_string_equal(va, vb);
		assert_true(strcmp(va, "Linn") == 0 || strcmp(va, "Coos") == 0);
	}
	assert_field(&ra, "name", "Hilltop");
	store_rec_free(&ra);
	store_rec_free(&rb);

	conflicts_of(a, site, ca);
	conflicts_of(b, site, cb);
	assert_int_equal(ca->n, 1);
	assert_int_equal(cb->n, 1);
	assert_string_equal(ca->lines[0], cb->lines[0]);
	assert_non_null(strstr(ca->lines[0], " county "));
	free(ca);
	free(cb);

	clist_free(&la);
	clist_free(&la2);
	clist_free(&lb);
	t_close(a);
	t_close(b);
}

/*
 * A conflict listed on a node is settled by a later edit of the field
 * made on that node (after the conflict was there to see): it no longer
 * shows in store_conflicts.
 */
static void test_conflict_settled_by_edit(void **state)
{
	uint8_t site[16];
	struct store *a, *b;
	struct clist la = { 0 }, lb = { 0 };
	struct conf_acc *ca = calloc(1, sizeof *ca);
	(void)state;

	assert_non_null(ca);
	a = mk_store("hub", "hub", NULL, NULL);
	b = mk_store("site", "site", store_info(a)->network, NULL);
	/* a is the admin; b edits a site record: enrolled as a hub */
	enroll_store(a, b, "hub");
	PUT_OK(a, "site", site, 1, { "name", "Hill" }, { "county", "Lane" });
	collect(a, NULL, &la);
	apply_all_ok(b, &la);
	PUT_OK(a, "site", site, 0, { "county", "Linn" });
	PUT_OK(b, "site", site, 0, { "county", "Coos" });
	collect(b, store_info(b)->node, &lb);
	apply_all_ok(a, &lb);
	conflicts_of(a, site, ca);
	assert_int_equal(ca->n, 1);

	PUT_OK(a, "site", site, 0, { "county", "Lane" });
	conflicts_of(a, site, ca);
	if (ca->n != 0)
		fail_msg("conflict still listed after an edit made with it "
		    "in view: %s", ca->lines[0]);
	free(ca);
	clist_free(&la);
	clist_free(&lb);
	t_close(a);
	t_close(b);
}

/* ---- who may write (storage/trust.c) ---------------------------------- */

static void cafe_op(struct hop *op, const uint8_t *id, const char *hsite)
{
	hop_put(op, "cafe", id);
	hop_field(op, "site", hsite);
	hop_field(op, "date", "2026-03-14");
	hop_field(op, "format", "parent");
	hop_field(op, "factors", "resilience");
}

static int count_members_cb(const struct store_member *m, void *arg)
{
	(void)m;
	(*(size_t *)arg)++;
	return 0;
}

/* Expects c to get result want_rc and a cause holding want. */
static void apply_result(struct store *s, const struct citem *c,
    int want_rc, const char *want)
{
	struct store_item it;
	int rc = apply_raw(s, c->e, c->elen, c->sig, &it);

	if (rc != want_rc)
		fail_msg("expected %d (%s), got %d (%s)", want_rc, want, rc,
		    it.cause);
	if (strstr(it.cause, want) == NULL)
		fail_msg("cause '%s' does not say '%s'", it.cause, want);
}

/* Refused for good: a rule no admin commit can change. */
#define apply_eperm(s, c, want) apply_result(s, c, CS_EPERM, want)
/* Held, waiting for an admin commit that allows it. */
#define apply_waits(s, c, want) apply_result(s, c, CS_EPENDING, want)

/*
 * A received commit of a key no member record enrolls waits, and a local
 * write of such a node is refused; once the admin enrolls the key, the
 * waiting commit lands by itself.
 */
static void test_trust_unenrolled(void **state)
{
	struct origin adm, o1;
	uint8_t id1[16], id2[16];
	struct citem c, en;
	struct hop op;
	struct store *b;
	struct store_rec r;
	struct store_status st;
	struct store_member m;
	char *cause = NULL;
	(void)state;

	new_origin(&adm);
	new_origin(&o1);
	randombytes_buf(id1, sizeof id1);
	b = mk_store("replica", "replica", adm.pk, NULL);

	site_op(&op, id1, "Alpha");
	hb_next(&c, &o1, adm.pk, HLC_AT(T_MS, 1), &op, 1);
	apply_waits(b, &c, "not an enrolled member");
	assert_int_equal(store_get(b, id1, &r), CS_ENOTFOUND);
	assert_int_equal(store_member_get(b, o1.pk, &m), CS_ENOTFOUND);
	assert_int_equal(store_status(b, &st), 0);
	assert_true(st.commits == 0);

	/* b's own node key is not enrolled either: its write fails */
	{
		const struct store_kv kv[] = { { "name", "Local" } };
		int rc = put_kv(b, "site", id2, 1, kv, NKV(kv), &cause);

		assert_int_equal(rc, CS_EPERM);
		assert_non_null(cause);
		if (strncmp(cause, "not allowed: ", 13) != 0 ||
		    strstr(cause, "not an enrolled member") == NULL)
			fail_msg("local write refused with '%s'", cause);
		free(cause);
		cause = NULL;
	}
	assert_int_equal(store_status(b, &st), 0);
	assert_true(st.commits == 0);

	/* the admin needs no record; o1 is enrolled by the admin's commit */
	assert_int_equal(store_member_get(b, adm.pk, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_ADMIN);
	store_member_free(&m);
	{
		const uint8_t *keys[1] = { o1.pk };
		enroll_next(&en, &adm, HLC_AT(T_MS, 0), keys, 1);
	}
	assert_int_equal(apply_one(b, &en), 0);
	assert_int_equal(store_member_get(b, o1.pk, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_HUB);
	assert_memory_equal(m.key, o1.pk, PROTO_KEY_LEN);
	store_member_free(&m);
	/* the waiting commit landed with the enrollment */
	assert_int_equal(apply_one(b, &c), CS_EDUP);
	get_ok(b, id1, &r);
	assert_field(&r, "name", "Alpha");
	store_rec_free(&r);
	free(c.e);
	free(en.e);
	t_close(b);
}

/*
 * A site key writes the types its role may, only for its own site, and
 * only records it made: a café naming another site, an edit of a record
 * another key made and a site record (admin's type) each wait (the admin
 * log may yet allow them, by another role); a café of its own site lands.
 */
static void test_trust_site_role(void **state)
{
	struct origin adm, sk;
	uint8_t site_a[16], site_b[16], cafe_a[16], cafe_b[16], cafe_x[16];
	char ha[33], hb[33];
	struct citem en, c, own[2];
	struct hop ops[4];
	struct mtext t;
	struct store *s;
	struct store_rec r;
	struct store_member m;
	uint8_t head[PROTO_HASH_LEN];
	(void)state;

	new_origin(&adm);
	new_origin(&sk);
	randombytes_buf(site_a, sizeof site_a);
	randombytes_buf(site_b, sizeof site_b);
	proto_id_new(cafe_a, T_MS, sk.pk);
	proto_id_new(cafe_b, T_MS, adm.pk);
	proto_id_new(cafe_x, T_MS, sk.pk);
	hexid(site_a, ha);
	hexid(site_b, hb);
	s = mk_store("replica", "replica", adm.pk, NULL);

	/* the admin: sites A and B, a café of B, sk as site A's key */
	site_op(&ops[0], site_a, "A");
	site_op(&ops[1], site_b, "B");
	cafe_op(&ops[2], cafe_b, hb);
	member_op(&ops[3], &t, sk.pk, "site", "Site A's laptop");
	hop_field(&ops[3], "site", ha);
	hb_next(&en, &adm, adm.pk, HLC_AT(T_MS, 0), ops, 4);
	assert_int_equal(apply_one(s, &en), 0);
	assert_int_equal(store_member_get(s, sk.pk, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_SITE);
	assert_true(m.has_site);
	assert_memory_equal(m.site, site_a, PROTO_ID_LEN);
	store_member_free(&m);

	/* a café naming site B */
	cafe_op(&ops[0], cafe_x, hb);
	hb_make(&c, &sk, adm.pk, 1, NULL, HLC_AT(T_MS, 1), ops, 1);
	apply_waits(s, &c, "own site");
	free(c.e);
	assert_int_equal(store_get(s, cafe_x, &r), CS_ENOTFOUND);
	t_close(s);

	/* on another node: a café of its own site, at the same seq */
	s = mk_store("replica", "replica", adm.pk, NULL);
	assert_int_equal(apply_one(s, &en), 0);
	cafe_op(&ops[0], cafe_a, ha);
	hb_next(&own[0], &sk, adm.pk, HLC_AT(T_MS, 2), ops, 1);
	assert_int_equal(apply_one(s, &own[0]), 0);
	get_ok(s, cafe_a, &r);
	assert_field(&r, "site", ha);
	store_rec_free(&r);

	/* an edit of its own café lands */
	hop_put(&ops[0], "cafe", cafe_a);
	ops[0].edit = 1;
	hop_field(&ops[0], "topic", "Routines");
	hb_next(&own[1], &sk, adm.pk, HLC_AT(T_MS, 3), ops, 1);
	assert_int_equal(apply_one(s, &own[1]), 0);
	memcpy(head, own[1].hash, sizeof head);

	/* an edit of a café another key made (site B's): it waits, as the
	 * owner rule binds a role the admin log may change */
	hop_put(&ops[0], "cafe", cafe_b);
	hop_field(&ops[0], "topic", "Moved");
	ops[0].edit = 1;
	hb_make(&c, &sk, adm.pk, 3, head, HLC_AT(T_MS, 4), ops, 1);
	apply_waits(s, &c, "belongs to another key");
	free(c.e);
	get_ok(s, cafe_b, &r);
	assert_null(store_rec_value(&r, "topic"));
	store_rec_free(&r);
	t_close(s);

	/* a site record: only admins and hubs write those (another node) */
	s = mk_store("replica", "replica", adm.pk, NULL);
	assert_int_equal(apply_one(s, &en), 0);
	assert_int_equal(apply_one(s, &own[0]), 0);
	assert_int_equal(apply_one(s, &own[1]), 0);
	site_op(&ops[0], site_a, "Renamed");
	ops[0].edit = 1;
	hb_make(&c, &sk, adm.pk, 3, head, HLC_AT(T_MS, 6), ops, 1);
	apply_waits(s, &c, "may not write site");
	free(c.e);
	get_ok(s, site_a, &r);
	assert_field(&r, "name", "A");
	store_rec_free(&r);
	t_close(s);
	free(en.e);
	free(own[0].e);
	free(own[1].e);
}

/*
 * Only the admin writes member records: a hub's enrollment of another
 * key (received, or written locally) is refused and enrolls nobody.
 */
static void test_trust_member_admin_only(void **state)
{
	struct origin adm, hub, o2;
	uint8_t id1[16], id2[16];
	struct citem en, c;
	struct hop op;
	struct mtext t;
	struct store *s, *a, *h;
	struct store_member m;
	char *cause = NULL;
	size_t nm = 0;
	(void)state;

	new_origin(&adm);
	new_origin(&hub);
	new_origin(&o2);
	randombytes_buf(id1, sizeof id1);
	randombytes_buf(id2, sizeof id2);
	s = mk_store("replica", "replica", adm.pk, NULL);
	{
		const uint8_t *keys[1] = { hub.pk };
		enroll_next(&en, &adm, HLC_AT(T_MS, 0), keys, 1);
	}
	assert_int_equal(apply_one(s, &en), 0);
	free(en.e);

	/* the hub enrolls o2 */
	member_op(&op, &t, o2.pk, "hub", "o2");
	hb_make(&c, &hub, adm.pk, 1, NULL, HLC_AT(T_MS, 1), &op, 1);
	apply_eperm(s, &c, "only the network's admin");
	free(c.e);
	assert_int_equal(store_member_get(s, o2.pk, &m), CS_ENOTFOUND);
	site_op(&op, id2, "By o2");
	hb_next(&c, &o2, adm.pk, HLC_AT(T_MS, 2), &op, 1);
	apply_waits(s, &c, "not an enrolled member");
	free(c.e);

	/* the hub's seq 1 as a site record lands: the type was refused */
	site_op(&op, id1, "By the hub");
	hb_next(&c, &hub, adm.pk, HLC_AT(T_MS, 3), &op, 1);
	assert_int_equal(apply_one(s, &c), 0);
	free(c.e);

	/* nor may the hub rewrite its own record (say, its name) */
	member_op(&op, &t, hub.pk, "hub", "Boss");
	hb_next(&c, &hub, adm.pk, HLC_AT(T_MS, 4), &op, 1);
	apply_eperm(s, &c, "only the network's admin");
	free(c.e);
	assert_int_equal(store_member_get(s, hub.pk, &m), 0);
	assert_string_equal(m.name, "test hub");
	store_member_free(&m);
	assert_int_equal(store_members(s, count_members_cb, &nm), 0);
	assert_int_equal(nm, 1);

	/* locally: an enrolled hub node's write of a member record */
	a = mk_store("admin", "hub", NULL, NULL);
	h = mk_store("hub", "hub", store_info(a)->network, NULL);
	enroll_store(a, h, "hub");
	{
		char key[2 * PROTO_KEY_LEN + 1];
		uint8_t mid[16];
		const struct store_kv kv[] = { { "key", key },
			{ "role", "hub" }, { "name", "o2" } };
		int rc;

		proto_hex(key, o2.pk, PROTO_KEY_LEN);
		rc = put_kv(h, "member", mid, 1, kv, NKV(kv), &cause);
		assert_int_equal(rc, CS_EPERM);
		assert_non_null(cause);
		if (strncmp(cause, "not allowed: ", 13) != 0 ||
		    strstr(cause, "only the network's admin") == NULL)
			fail_msg("local member write refused with '%s'",
			    cause);
		free(cause);
		cause = NULL;
		assert_int_equal(store_member_get(h, o2.pk, &m),
		    CS_ENOTFOUND);
	}
	t_close(a);
	t_close(h);
	t_close(s);
}

/*
 * A revoked key's commits up to revoked_after stay valid; later ones are
 * refused, even when their clock is older than the revocation.
 */
static void test_trust_revoked(void **state)
{
	struct origin adm, k;
	uint8_t ids[3][16];
	struct citem en, rv, kc[3];
	struct hop op;
	struct mtext t;
	struct store *s;
	struct store_rec r;
	struct store_member m;
	(void)state;

	new_origin(&adm);
	new_origin(&k);
	s = mk_store("replica", "replica", adm.pk, NULL);
	{
		const uint8_t *keys[1] = { k.pk };
		enroll_next(&en, &adm, HLC_AT(T_MS, 0), keys, 1);
	}
	for (int i = 0; i < 3; i++) {
		randombytes_buf(ids[i], sizeof ids[i]);
		site_op(&op, ids[i], "By k");
		hb_next(&kc[i], &k, adm.pk, HLC_AT(T_MS, 10 + i), &op, 1);
	}
	/* revoked after its seq 2, at a clock later than all three */
	member_op(&op, &t, k.pk, "hub", "test hub");
	hop_field(&op, "status", "revoked");
	snprintf(t.after, sizeof t.after, "%d", 2);
	hop_field(&op, "revoked_after", t.after);
	hb_next(&rv, &adm, adm.pk, HLC_AT(T_MS, 20), &op, 1);

	assert_int_equal(apply_one(s, &en), 0);
	assert_int_equal(apply_one(s, &rv), 0);
	assert_int_equal(store_member_get(s, k.pk, &m), 0);
	assert_true(m.revoked);
	assert_true(m.revoked_after == 2);
	store_member_free(&m);
	assert_int_equal(apply_one(s, &kc[0]), 0);
	assert_int_equal(apply_one(s, &kc[1]), 0);
	apply_waits(s, &kc[2], "revoked");
	get_ok(s, ids[1], &r);
	store_rec_free(&r);
	assert_int_equal(store_get(s, ids[2], &r), CS_ENOTFOUND);

	free(en.e);
	free(rv.e);
	for (int i = 0; i < 3; i++)
		free(kc[i].e);
	t_close(s);
}

/*
 * A member record whose id is not the one made from its key enrolls
 * nobody: neither the key it holds nor the key whose prefix is its id.
 */
static void test_trust_member_id_not_prefix(void **state)
{
	struct origin adm, k1, k2;
	uint8_t id1[16], id2[16];
	struct citem en, good, c1, c2;
	struct hop ops[2], op;
	struct mtext t[2];
	struct store *s, *s2;
	struct store_member m;
	size_t nm = 0;
	int rc;
	(void)state;

	new_origin(&adm);
	new_origin(&k1);
	new_origin(&k2);
	randombytes_buf(id1, sizeof id1);
	randombytes_buf(id2, sizeof id2);
	s = mk_store("replica", "replica", adm.pk, NULL);

	/* k1's record at a random id; k2's record at k1's prefix */
	member_op(&ops[0], &t[0], k1.pk, "hub", "k1");
	randombytes_buf(ops[0].id, PROTO_ID_LEN);
	assert_memory_not_equal(ops[0].id, k1.pk, PROTO_ID_LEN);
	member_op(&ops[1], &t[1], k2.pk, "hub", "k2");
	memcpy(ops[1].id, k1.pk, PROTO_ID_LEN);
	hb_next(&en, &adm, adm.pk, HLC_AT(T_MS, 0), ops, 2);
	/* stored as records or refused, as long as nobody is enrolled */
	rc = apply_one(s, &en);
	assert_true(rc == 0 || rc == CS_ESCHEMA || rc == CS_EPERM);
	assert_int_equal(store_member_get(s, k1.pk, &m), CS_ENOTFOUND);
	assert_int_equal(store_member_get(s, k2.pk, &m), CS_ENOTFOUND);
	assert_int_equal(store_members(s, count_members_cb, &nm), 0);
	assert_int_equal(nm, 0);

	site_op(&op, id1, "By k1");
	hb_next(&c1, &k1, adm.pk, HLC_AT(T_MS, 1), &op, 1);
	apply_waits(s, &c1, "not an enrolled member");
	site_op(&op, id2, "By k2");
	hb_next(&c2, &k2, adm.pk, HLC_AT(T_MS, 2), &op, 1);
	apply_waits(s, &c2, "not an enrolled member");

	/* the same commit of k1 lands once k1 has a proper record */
	s2 = mk_store("replica", "replica", adm.pk, NULL);
	{
		struct origin fresh = adm;
		const uint8_t *keys[1] = { k1.pk };

		fresh.seq = 0;
		enroll_next(&good, &fresh, HLC_AT(T_MS, 0), keys, 1);
	}
	assert_int_equal(apply_one(s2, &good), 0);
	assert_int_equal(apply_one(s2, &c1), 0);

	free(en.e);
	free(good.e);
	free(c1.e);
	free(c2.e);
	t_close(s);
	t_close(s2);
}

/* ---- delete, list, history, verify ------------------------------------ */

static void test_delete_and_list(void **state)
{
	uint8_t s1[16], s2[16], c1[16], c2[16], c3[16];
	char h1[33], h2[33];
	struct store *s;
	struct store_rec r;
	struct list_acc a;
	struct store_query q;
	struct store_status st;
	char *cause = NULL;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", s1, 1, { "name", "One" });
	PUT_OK(s, "site", s2, 1, { "name", "Two" });
	hexid(s1, h1);
	hexid(s2, h2);
	PUT_OK(s, "cafe", c1, 1, { "site", h1 }, { "date", "2026-01-10" },
	    { "format", "parent" }, { "factors", "resilience" });
	PUT_OK(s, "cafe", c2, 1, { "site", h1 }, { "date", "2026-02-10" },
	    { "format", "dads" }, { "factors", "resilience" });
	PUT_OK(s, "cafe", c3, 1, { "site", h2 }, { "date", "2026-03-01" },
	    { "format", "community" }, { "factors", "resilience" });

	list_type(s, "cafe", &a, 0);
	assert_int_equal(a.n, 3);
	list_type(s, "site", &a, 0);
	assert_int_equal(a.n, 2);

	/* by site, by date */
	memset(&q, 0, sizeof q);
	memset(&a, 0, sizeof a);
	q.type = type_of("cafe");
	q.site = s1;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 2);
	assert_memory_equal(a.ids[0], c1, 16);	/* date order */
	assert_memory_equal(a.ids[1], c2, 16);
	memset(&a, 0, sizeof a);
	q.since = 20260201;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.ids[0], c2, 16);
	memset(&q, 0, sizeof q);
	memset(&a, 0, sizeof a);
	q.type = type_of("cafe");
	q.since = 20260201;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 2);
	assert_memory_equal(a.ids[0], c2, 16);
	assert_memory_equal(a.ids[1], c3, 16);
	memset(&a, 0, sizeof a);
	q.since = 0;
	q.until = 20260131;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 1);
	assert_memory_equal(a.ids[0], c1, 16);
	/* a callback that returns non-zero stops the listing */
	memset(&q, 0, sizeof q);
	memset(&a, 0, sizeof a);
	q.type = type_of("cafe");
	a.stop_after = 1;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 1);

	/* delete */
	del_ok(s, c2);
	get_ok(s, c2, &r);
	assert_true(r.deleted);
	store_rec_free(&r);
	list_type(s, "cafe", &a, 0);
	assert_int_equal(a.n, 2);
	assert_false(list_has(&a, c2));
	assert_true(list_has(&a, c1));
	memset(&q, 0, sizeof q);
	memset(&a, 0, sizeof a);
	q.type = type_of("cafe");
	q.site = s1;
	assert_int_equal(store_list(s, &q, list_cb, &a), 0);
	assert_int_equal(a.n, 1);
	assert_int_equal(store_status(s, &st), 0);
	assert_true(st.counts[type_index("cafe")] == 2);

	/* a removed record cannot be removed, edited or resolved again */
	{
		struct store_batch *b = store_batch_new(s);
		assert_true(store_batch_del(b, c2, &cause) < 0);
		free(cause);
		cause = NULL;
		assert_int_equal(store_batch_count(b), 0);
		store_batch_free(b);
	}
	{
		const struct store_kv kv[] = { { "topic", "x" } };
		assert_true(put_kv(s, "cafe", c2, 0, kv, 1, NULL) < 0);
	}
	{
		char h[33];
		uint8_t got[16];
		hexid(c2, h);
		assert_true(store_resolve(s, h, NULL, got, &cause) < 0);
		free(cause);
		cause = NULL;
		hexid(c1, h);
		assert_int_equal(store_resolve(s, h, type_of("cafe"), got,
		    &cause), 0);
		assert_memory_equal(got, c1, 16);
		/* the right record, but not of the type asked for */
		assert_true(store_resolve(s, h, type_of("site"), got,
		    &cause) < 0);
		free(cause);
		cause = NULL;
		assert_int_equal(store_resolve(s, "abc", NULL, got, &cause),
		    CS_EUSAGE);
		free(cause);
		cause = NULL;
	}
	t_close(s);
}

/* store_query.with_deleted lists removed records too. */
static void test_list_with_deleted(void **state)
{
	uint8_t s1[16], s2[16];
	struct store *s;
	struct list_acc a;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", s1, 1, { "name", "One" });
	PUT_OK(s, "site", s2, 1, { "name", "Two" });
	del_ok(s, s2);
	list_type(s, "site", &a, 0);
	assert_int_equal(a.n, 1);
	list_type(s, "site", &a, 1);
	assert_int_equal(a.n, 2);
	assert_true(list_has(&a, s2));
	/* with the site and date filters too */
	{
		uint8_t c1[16], c2[16];
		char h1[33];
		struct store_query q;

		hexid(s1, h1);
		PUT_OK(s, "cafe", c1, 1, { "site", h1 },
		    { "date", "2026-01-10" }, { "format", "parent" },
		    { "factors", "resilience" });
		PUT_OK(s, "cafe", c2, 1, { "site", h1 },
		    { "date", "2026-02-10" }, { "format", "parent" },
		    { "factors", "resilience" });
		del_ok(s, c2);
		memset(&q, 0, sizeof q);
		q.type = type_of("cafe");
		q.site = s1;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 1);
		q.with_deleted = 1;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 2);
		q.since = 20260201;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 1);
		assert_memory_equal(a.ids[0], c2, 16);
		/* another site's filter matches none */
		q.site = s2;
		q.since = 0;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 0);
	}
	t_close(s);
}

/* A query without a type ("zero means no filter") lists every type. */
static void test_list_no_type(void **state)
{
	uint8_t s1[16], p1[16];
	char h1[33];
	struct store *s;
	struct list_acc a;
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", s1, 1, { "name", "One" });
	hexid(s1, h1);
	PUT_OK(s, "person", p1, 1, { "name", "Ana" }, { "roles", "host" },
	    { "site", h1 });
	list_type(s, NULL, &a, 0);
	/* and the member record of site One's hub log */
	assert_int_equal(a.n, 3);
	assert_true(list_has(&a, s1));
	assert_true(list_has(&a, p1));
	/* no type, a date bound: only dated records in range */
	{
		uint8_t c1[16], t1[16];
		struct store_query q;

		PUT_OK(s, "cafe", c1, 1, { "site", h1 },
		    { "date", "2026-03-10" }, { "format", "parent" },
		    { "factors", "resilience" });
		PUT_OK(s, "training", t1, 1, { "site", h1 },
		    { "date", "2025-12-01" }, { "kind", "coaching" });
		memset(&q, 0, sizeof q);
		q.since = 20260101;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		assert_int_equal(a.n, 1);
		assert_memory_equal(a.ids[0], c1, 16);
		/* no type, a site: every record of that site */
		memset(&q, 0, sizeof q);
		q.site = s1;
		memset(&a, 0, sizeof a);
		assert_int_equal(store_list(s, &q, list_cb, &a), 0);
		/* person, cafe, training, and the member record of the
		 * site's hub log */
		assert_int_equal(a.n, 4);
		assert_false(list_has(&a, s1));
	}
	t_close(s);
}

struct hist_acc {
	size_t n;
	uint64_t name_base[16];	/* first clock of the op's base for name */
	uint64_t hlc[16];
	unsigned kind[16];
	char name[16][32];
	uint64_t seq[16];
};

static int hist_cb(const struct store_change *ch, void *arg)
{
	struct hist_acc *h = arg;

	if (h->n < 16) {
		h->hlc[h->n] = ch->sc->c->hlc;
		h->kind[h->n] = ch->op->kind;
		h->seq[h->n] = ch->sc->c->seq;
		h->name[h->n][0] = '\0';
		h->name_base[h->n] = 0;
		for (uint32_t i = 0; i < ch->op->nbase; i++) {
			const msgpack_object_kv *kv = &ch->op->base[i];
			const msgpack_object *v = &kv->val;
			if (kv->key.via.str.size != 4 ||
			    memcmp(kv->key.via.str.ptr, "name", 4) != 0)
				continue;
			if (v->type == MSGPACK_OBJECT_ARRAY &&
			    v->via.array.size > 0)
				v = &v->via.array.ptr[0];
			if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
				h->name_base[h->n] = v->via.u64;
		}
		for (uint32_t i = 0; i < ch->op->nfields; i++) {
			const msgpack_object_kv *kv = &ch->op->fields[i];
			if (kv->key.via.str.size == 4 &&
			    memcmp(kv->key.via.str.ptr, "name", 4) == 0 &&
			    kv->val.type == MSGPACK_OBJECT_STR)
				snprintf(h->name[h->n], 32, "%.*s",
				    (int)kv->val.via.str.size,
				    kv->val.via.str.ptr);
		}
	}
	h->n++;
	return 0;
}

static void test_history(void **state)
{
	uint8_t s1[16], s2[16];
	struct store *s;
	struct hist_acc h;
	static const char *const names[] = { "v1", "v2", "v3", "v4" };
	(void)state;

	s = mk_store("hub", "hub", NULL, NULL);
	PUT_OK(s, "site", s1, 1, { "name", "v1" });
	PUT_OK(s, "site", s2, 1, { "name", "other" });
	PUT_OK(s, "site", s1, 0, { "name", "v2" });
	PUT_OK(s, "site", s2, 0, { "name", "other2" });
	PUT_OK(s, "site", s1, 0, { "name", "v3" }, { "county", "Lane" });
	PUT_OK(s, "site", s1, 0, { "name", "v4" });
	del_ok(s, s1);

	memset(&h, 0, sizeof h);
	assert_int_equal(store_history(s, s1, hist_cb, &h), 0);
	assert_int_equal(h.n, 5);
	/* an edit carries as base the clock of the value it replaced: the
	 * v2 edit saw v1's clock, the v3 edit saw v2's */
	assert_true(h.name_base[0] == 0);
	assert_true(h.name_base[1] == h.hlc[0]);
	assert_true(h.name_base[2] == h.hlc[1]);
	assert_true(h.name_base[3] == h.hlc[2]);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(h.kind[i], PROTO_OP_PUT);
		assert_string_equal(h.name[i], names[i]);
	}
	assert_int_equal(h.kind[4], PROTO_OP_DEL);
	for (size_t i = 1; i < 5; i++) {
		assert_true(h.hlc[i] > h.hlc[i - 1]);
		assert_true(h.seq[i] > h.seq[i - 1]);
	}
	memset(&h, 0, sizeof h);
	assert_int_equal(store_history(s, s2, hist_cb, &h), 0);
	assert_int_equal(h.n, 2);
	{
		uint8_t nope[16];
		memset(nope, 0x77, sizeof nope);
		memset(&h, 0, sizeof h);
		assert_int_equal(store_history(s, nope, hist_cb, &h), 0);
		assert_int_equal(h.n, 0);
	}
	t_close(s);
}

struct fault_acc {
	size_t n;
	uint64_t seq;	/* of the first fault */
};

static void fault_cb(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const char *why, void *arg)
{
	struct fault_acc *f = arg;

	(void)origin;
	assert_non_null(why);
	if (f->n++ == 0)
		f->seq = seq;
}

static void test_verify(void **state)
{
	char dir[128];
	uint8_t s1[16];
	struct store *s;
	struct fault_acc f;
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val k, d;
	int n = 0;
	(void)state;

	s = mk_store("hub", "hub", NULL, dir);
	PUT_OK(s, "site", s1, 1, { "name", "One" });
	PUT_OK(s, "site", s1, 0, { "name", "Uno" });
	PUT_OK(s, "site", s1, 0, { "county", "Lane" });
	memset(&f, 0, sizeof f);
	assert_int_equal(store_verify(s, fault_cb, &f), 0);
	assert_int_equal(f.n, 0);
	t_close(s);

	/* Alter the last byte of the second stored commit behind the
	 * store's back: verify must find it. */
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 32), 0);
	assert_int_equal(mdb_env_set_mapsize(env, (size_t)1 << 30), 0);
	assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "commits", 0, &dbi), 0);
	assert_int_equal(mdb_cursor_open(txn, dbi, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		if (++n == 2) {
			uint8_t *copy = malloc(d.mv_size);
			MDB_val nd;
			assert_non_null(copy);
			memcpy(copy, d.mv_data, d.mv_size);
			copy[d.mv_size - 1] ^= 0x01;
			nd.mv_size = d.mv_size;
			nd.mv_data = copy;
			assert_int_equal(mdb_cursor_put(cur, &k, &nd,
			    MDB_CURRENT), 0);
			free(copy);
			break;
		}
	mdb_cursor_close(cur);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	assert_int_equal(n, 2);

	s = open_dir(dir);
	memset(&f, 0, sizeof f);
	assert_true(store_verify(s, fault_cb, &f) >= 1);
	assert_true(f.n >= 1);
	assert_true(f.seq == 2);
	t_close(s);
}

/* ---- bundles ---------------------------------------------------------- */

struct refuse_acc {
	size_t n;
};

static void refuse_cb(uint64_t index, const uint8_t *origin, uint64_t seq,
    const char *why, void *arg)
{
	struct refuse_acc *r = arg;

	(void)index;
	(void)origin;
	(void)seq;
	assert_non_null(why);
	r->n++;
}

static void test_bundle(void **state)
{
	uint8_t s1[16], s2[16], p1[16];
	char h1[33];
	struct store *a, *b, *c, *d, *x;
	struct clist la = { 0 };
	struct store_status sb, sc;
	struct store_import_stats is;
	struct refuse_acc ra = { 0 };
	uint64_t count = 0, total;
	char *cause = NULL;
	FILE *f;
	long size;
	(void)state;

	/*
	 * A writes, B receives A's log and writes its own: two origins.
	 * A is the network's admin: its seq 1 is the member record that
	 * enrolls B (as a hub: B edits a site record), so A's writes below
	 * are its seqs 2 to 4.
	 */
	a = mk_store("hub", "hub", NULL, NULL);
	b = mk_store("site", "site", store_info(a)->network, NULL);
	enroll_store(a, b, "hub");
	PUT_OK(a, "site", s1, 1, { "name", "One" });
	PUT_OK(a, "site", s2, 1, { "name", "Two" });
	PUT_OK(a, "site", s1, 0, { "county", "Lane" });
	collect(a, NULL, &la);
	apply_all_ok(b, &la);
	hexid(s1, h1);
	PUT_OK(b, "person", p1, 1, { "name", "Ana" }, { "roles", "host" },
	    { "site", h1 });
	PUT_OK(b, "site", s2, 0, { "region", "Coast" });
	assert_int_equal(store_status(b, &sb), 0);
	total = sb.commits;
	/* 3 of A's writes and 2 of B's, and A's member record of B */
	assert_true(total == 6);

	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(store_bundle_export(b, f, NULL, 0, &count, &cause), 0);
	assert_true(count == total);
	size = ftell(f);
	assert_true(size > 0);

	/* import into a fresh store of the network */
	c = mk_store("replica", "replica", store_info(a)->network, NULL);
	rewind(f);
	assert_int_equal(store_bundle_import(c, f, refuse_cb, &ra, &is,
	    &cause), 0);
	assert_true(is.read == total);
	assert_true(is.applied == total);
	assert_true(is.dup == 0);
	assert_true(is.refused == 0);
	assert_int_equal(ra.n, 0);
	assert_int_equal(store_status(c, &sc), 0);
	assert_memory_equal(sb.digest, sc.digest, PROTO_HASH_LEN);
	assert_memory_equal(sb.counts, sc.counts, sizeof sb.counts);
	assert_true(sc.commits == total);

	/* again: all duplicates, nothing changes */
	rewind(f);
	assert_int_equal(store_bundle_import(c, f, refuse_cb, &ra, &is,
	    &cause), 0);
	assert_true(is.read == total);
	assert_true(is.dup == total);
	assert_true(is.applied == 0);
	assert_true(is.refused == 0);
	assert_int_equal(store_status(c, &sc), 0);
	assert_memory_equal(sb.digest, sc.digest, PROTO_HASH_LEN);
	assert_int_equal(store_verify(c, NULL, NULL), 0);

	/* a cut file: what comes before the cut lands, the cut is one
	 * refusal */
	{
		FILE *g = tmpfile();
		char *buf = malloc((size_t)size);
		struct store *e;

		assert_non_null(g);
		assert_non_null(buf);
		rewind(f);
		assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
		assert_int_equal(fwrite(buf, 1, (size_t)size - 3, g),
		    (size_t)size - 3);
		rewind(g);
		e = mk_store("replica", "replica", store_info(a)->network,
		    NULL);
		memset(&ra, 0, sizeof ra);
		store_bundle_import(e, g, refuse_cb, &ra, &is, &cause);
		free(cause);
		cause = NULL;
		assert_true(is.applied == total - 1);
		assert_true(is.refused == 1);
		assert_int_equal(ra.n, 1);
		t_close(e);
		fclose(g);
		free(buf);
	}

	/* since points: after A's seq 3 (its second write) and B's seq 1 */
	{
		FILE *g = tmpfile();
		struct store_since since[2];

		assert_non_null(g);
		memcpy(since[0].origin, store_info(a)->node, PROTO_KEY_LEN);
		since[0].seq = 3;
		memcpy(since[1].origin, store_info(b)->node, PROTO_KEY_LEN);
		since[1].seq = 1;
		assert_int_equal(store_bundle_export(b, g, since, 2, &count,
		    &cause), 0);
		assert_true(count == 2);
		/* a store that has the rest takes exactly these */
		d = mk_store("replica", "replica", store_info(a)->network,
		    NULL);
		apply_all_ok(d, &la);
		{
			struct clist lb1 = { 0 };
			collect(b, store_info(b)->node, &lb1);
			assert_int_equal(lb1.n, 2);
			assert_int_equal(apply_one(d, &lb1.v[0]), 0);
			clist_free(&lb1);
		}
		rewind(g);
		assert_int_equal(store_bundle_import(d, g, refuse_cb, &ra, &is,
		    &cause), 0);
		assert_true(is.read == 2);
		/* A's seq 4 was already there via la; B's seq 2 is new */
		assert_true(is.applied + is.dup == 2);
		assert_true(is.refused == 0);
		assert_int_equal(store_status(d, &sc), 0);
		assert_memory_equal(sb.digest, sc.digest, PROTO_HASH_LEN);
		t_close(d);
		fclose(g);
	}

	/*
	 * A hand-made bundle with A's seq 3 (its second write) damaged: seq
	 * 3 and the seq 4 behind it are refused, B's commits (another
	 * origin, enrolled by A's seq 1, which is intact) still land.
	 */
	{
		FILE *g = tmpfile();
		struct proto_enc w;
		struct clist all = { 0 };
		struct store *e;
		size_t refused_a = 0;

		assert_non_null(g);
		collect(b, NULL, &all);
		assert_int_equal(all.n, total);
		proto_enc_init(&w);
		proto_bundle_header(&w, store_info(a)->network);
		/* the admin log first, as senders put it (storage/trust.c):
		 * B's commits need A's seq 1, which enrolls B */
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < all.n; i++) {
				const struct citem *ci = &all.v[i];
				int of_a = memcmp(ci->origin,
				    store_info(a)->node, PROTO_KEY_LEN) == 0;
				uint8_t sig[PROTO_SIG_LEN];

				if (of_a != (pass == 0))
					continue;
				memcpy(sig, ci->sig, sizeof sig);
				if (of_a && ci->seq == 3)
					sig[5] ^= 0x10;
				if (of_a && ci->seq >= 3)
					refused_a++;
				proto_bundle_item(&w, ci->e, ci->elen, sig);
			}
		}
		assert_int_equal(fwrite(w.sb.data, 1, w.sb.size, g),
		    w.sb.size);
		proto_enc_free(&w);
		rewind(g);
		e = mk_store("replica", "replica", store_info(a)->network,
		    NULL);
		memset(&ra, 0, sizeof ra);
		assert_int_equal(store_bundle_import(e, g, refuse_cb, &ra, &is,
		    &cause), 0);
		assert_int_equal(refused_a, 2);
		assert_true(is.read == total);
		assert_true(is.refused == 2);
		assert_true(is.applied == total - 2);
		assert_int_equal(ra.n, 2);
		{
			struct store_rec r;
			get_ok(e, p1, &r);	/* B's person landed */
			store_rec_free(&r);
			get_ok(e, s1, &r);	/* A's seq 4 did not */
			assert_null(store_rec_value(&r, "county"));
			store_rec_free(&r);
		}
		t_close(e);
		fclose(g);
		clist_free(&all);
	}

	/* a store of another network takes nothing */
	x = mk_store("stranger", "hub", NULL, NULL);
	{
		struct store_status sx0, sx1;
		int rc;
		assert_int_equal(store_status(x, &sx0), 0);
		rewind(f);
		memset(&is, 0, sizeof is);
		rc = store_bundle_import(x, f, refuse_cb, &ra, &is, &cause);
		free(cause);
		cause = NULL;
		assert_true(rc < 0 || is.refused > 0);
		assert_true(is.applied == 0);
		assert_int_equal(store_status(x, &sx1), 0);
		assert_memory_equal(sx0.digest, sx1.digest, PROTO_HASH_LEN);
		assert_true(sx1.commits == 0);
	}
	/* not a bundle at all */
	{
		FILE *g = tmpfile();
		int rc;
		assert_non_null(g);
		fputs("name,date\nfoo,2026-01-01\n", g);
		rewind(g);
		rc = store_bundle_import(c, g, refuse_cb, &ra, &is, &cause);
		assert_true(rc < 0);
		assert_non_null(cause);
		free(cause);
		cause = NULL;
		fclose(g);
	}

	fclose(f);
	clist_free(&la);
	t_close(a);
	t_close(b);
	t_close(c);
	t_close(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_schema_table, test_teardown),
		cmocka_unit_test_teardown(test_schema_dates, test_teardown),
		cmocka_unit_test_teardown(test_schema_parse, test_teardown),
		cmocka_unit_test_teardown(test_schema_check, test_teardown),
		cmocka_unit_test_teardown(test_create_open, test_teardown),
		cmocka_unit_test_teardown(test_key_mode, test_teardown),
		cmocka_unit_test_teardown(test_retired_members_db,
		    test_teardown),
		cmocka_unit_test_teardown(test_put_every_type, test_teardown),
		cmocka_unit_test_teardown(test_put_validation, test_teardown),
		cmocka_unit_test_teardown(test_batch_split_and_growth,
		    test_teardown),
		cmocka_unit_test_teardown(test_apply_between_stores, test_teardown),
		cmocka_unit_test_teardown(test_apply_chain_and_fork, test_teardown),
		cmocka_unit_test_teardown(test_apply_schema, test_teardown),
		cmocka_unit_test_teardown(test_apply_clock_bound, test_teardown),
		cmocka_unit_test(test_text_utf8),
		cmocka_unit_test_teardown(test_clock_follows_received,
		    test_teardown),
		cmocka_unit_test_teardown(test_merge_convergence, test_teardown),
		cmocka_unit_test_teardown(test_conflict_settle_last, test_teardown),
		cmocka_unit_test_teardown(test_conflicts_order_minimal, test_teardown),
		cmocka_unit_test_teardown(test_local_edit_conflict, test_teardown),
		cmocka_unit_test_teardown(test_conflict_settled_by_edit, test_teardown),
		cmocka_unit_test_teardown(test_trust_unenrolled, test_teardown),
		cmocka_unit_test_teardown(test_trust_site_role, test_teardown),
		cmocka_unit_test_teardown(test_trust_member_admin_only,
		    test_teardown),
		cmocka_unit_test_teardown(test_trust_revoked, test_teardown),
		cmocka_unit_test_teardown(test_trust_member_id_not_prefix,
		    test_teardown),
		cmocka_unit_test_teardown(test_delete_and_list, test_teardown),
		cmocka_unit_test_teardown(test_list_with_deleted, test_teardown),
		cmocka_unit_test_teardown(test_list_no_type, test_teardown),
		cmocka_unit_test_teardown(test_history, test_teardown),
		cmocka_unit_test_teardown(test_verify, test_teardown),
		cmocka_unit_test_teardown(test_bundle, test_teardown),
	};
	return cmocka_run_group_tests_name("store", tests, group_setup,
	    group_teardown);
}
