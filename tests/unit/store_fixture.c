/*
 * store_fixture.c: what the unit tests of storage/ share (see
 * store_fixture.h): temporary stores, puts and reads, collected and
 * hand-built commits, enrollment, listing and conflicts.
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
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/proto.h"
#include "storage/storage.h"
#include "tests/unit/store_fixture.h"

/* ---- temporary directories and open stores ---------------------------- */

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

int group_setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	snprintf(t_root, sizeof t_root, "/tmp/cafesync-unit-XXXXXX");
	if (mkdtemp(t_root) == NULL)
		return -1;
	return 0;
}

int group_teardown(void **state)
{
	(void)state;
	rm_rf(t_root);
	return 0;
}

/* A fresh, not yet existing directory path under the root. */
void new_dir(char *out, size_t len)
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
void t_close(struct store *s)
{
	for (size_t i = 0; i < T_OPEN_MAX; i++)
		if (t_open[i] == s)
			t_open[i] = NULL;
	store_close(s);
}

int test_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < T_OPEN_MAX; i++)
		if (t_open[i] != NULL) {
			store_close(t_open[i]);
			t_open[i] = NULL;
		}
	return 0;
}

struct store *open_dir(const char *dir)
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
struct store *mk_store(const char *name, const char *role,
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

/* ---- records ---------------------------------------------------------- */

const struct sch_type *type_of(const char *name)
{
	const struct sch_type *t = sch_type_find(name, strlen(name));

	if (t == NULL)
		fail_msg("schema has no type %s", name);
	return t;
}

unsigned type_index(const char *name)
{
	return (unsigned)(type_of(name) - sch_types);
}

const char *hexid(const uint8_t id[PROTO_ID_LEN], char buf[33])
{
	proto_hex(buf, id, PROTO_ID_LEN);
	return buf;
}

/* One put as a batch of its own; returns the result, cause to *cause. */
int put_kv(struct store *s, const char *type, uint8_t id[PROTO_ID_LEN],
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

void del_ok(struct store *s, const uint8_t id[PROTO_ID_LEN])
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
void field_text(const struct store_rec *r, const char *name,
    char *buf, size_t len)
{
	const struct sch_field *f = sch_field_find(r->type, name, strlen(name));

	if (f == NULL)
		fail_msg("type %s has no field %s", r->type->name, name);
	sch_format(f, store_rec_value(r, name), buf, len);
}

void assert_field(const struct store_rec *r, const char *name,
    const char *want)
{
	char buf[9000];

	field_text(r, name, buf, sizeof buf);
	if (strcmp(buf, want) != 0)
		fail_msg("%s.%s is '%s', expected '%s'", r->type->name, name,
		    buf, want);
}

void get_ok(struct store *s, const uint8_t id[PROTO_ID_LEN],
    struct store_rec *r)
{
	char hex[33];
	int rc = store_get(s, id, r);

	if (rc != 0)
		fail_msg("store_get %s: %d", hexid(id, hex), rc);
}

/* What the test is doing, for failure messages. */
char t_ctx[160];

/* ---- collected commits ------------------------------------------------ */

struct citem *clist_add(struct clist *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		assert_non_null(l->v);
	}
	memset(&l->v[l->n], 0, sizeof(l->v[0]));
	return &l->v[l->n++];
}

void clist_free(struct clist *l)
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
void collect(struct store *s, const uint8_t *origin, struct clist *l)
{
	assert_int_equal(store_log(s, origin, 1, collect_cb, l), 0);
}

/* Applies n commits in one store_apply; results go to res (may be NULL). */
void apply_items(struct store *s, const struct citem *const *v,
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
int apply_raw(struct store *s, const uint8_t *e, size_t elen,
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

int apply_one(struct store *s, const struct citem *c)
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
void apply_all_ok(struct store *s, const struct clist *l)
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

void new_origin(struct origin *o)
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
void hb_make(struct citem *out, const struct origin *o,
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
void hb_next(struct citem *out, struct origin *o,
    const uint8_t net[PROTO_KEY_LEN], uint64_t hlc, const struct hop *ops,
    size_t nops)
{
	hb_make(out, o, net, o->seq + 1, o->seq ? o->prev : NULL, hlc, ops,
	    nops);
	o->seq++;
	memcpy(o->prev, out->hash, PROTO_HASH_LEN);
}

void hop_put(struct hop *op, const char *type, const uint8_t *id)
{
	memset(op, 0, sizeof *op);
	op->kind = PROTO_OP_PUT;
	op->type = type;
	memcpy(op->id, id, PROTO_ID_LEN);
}

void hop_field(struct hop *op, const char *name, const char *val)
{
	assert_true(op->nf < HOP_MAX);
	op->names[op->nf] = name;
	op->vals[op->nf++] = val;
}

void hop_base(struct hop *op, const char *name, uint64_t hlc)
{
	assert_true(op->nb < HOP_MAX);
	op->bnames[op->nb] = name;
	op->bvals[op->nb++] = hlc;
}

void site_op(struct hop *op, const uint8_t *id, const char *name)
{
	hop_put(op, "site", id);
	hop_field(op, "name", name);
}

/* ---- enrollment (storage/trust.c) ------------------------------------- */

/* A put of key's member record at the key's prefix, role and name. */
void member_op(struct hop *op, struct mtext *t,
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

/* The admin's next commit: a hub member record for each of n keys. */
void enroll_next(struct citem *out, struct origin *adm, uint64_t hlc,
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
void enroll_store(struct store *adm, struct store *node,
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

/* ---- listing ---------------------------------------------------------- */

int list_cb(const struct store_rec *r, void *arg)
{
	struct list_acc *a = arg;

	if (a->n < 32)
		memcpy(a->ids[a->n], r->id, PROTO_ID_LEN);
	a->n++;
	return a->stop_after && a->n >= (size_t)a->stop_after;
}

int list_has(const struct list_acc *a, const uint8_t *id)
{
	for (size_t i = 0; i < a->n && i < 32; i++)
		if (memcmp(a->ids[i], id, PROTO_ID_LEN) == 0)
			return 1;
	return 0;
}

void list_type(struct store *s, const char *type, struct list_acc *a,
    int with_deleted)
{
	struct store_query q;

	memset(&q, 0, sizeof q);
	memset(a, 0, sizeof *a);
	q.type = type ? type_of(type) : NULL;
	q.with_deleted = with_deleted;
	assert_int_equal(store_list(s, &q, list_cb, a), 0);
}

/* ---- conflicts -------------------------------------------------------- */

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

void conflicts_of(struct store *s, const uint8_t *id,
    struct conf_acc *a)
{
	memset(a, 0, sizeof *a);
	assert_int_equal(store_conflicts(s, id, conf_cb, a), 0);
	assert_true(a->n <= CONF_MAX);
	qsort(a->lines, a->n, sizeof a->lines[0], cmp_lines);
}
