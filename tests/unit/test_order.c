/*
 * test_order.c: a property test of commit acceptance (storage/trust.c,
 * storage/apply.c): what a node accepts depends on the commits it holds,
 * never on the order or the batching they came in.
 *
 * For each seed (a deterministic PRNG; the seed, the order and the node
 * are in every failure message) the test builds a network by signing
 * commits by hand: an admin (the key that is the network id), 3 to 5
 * site keys and 1 or 2 consultants, their keys picked from a sorted pool
 * so that every order of the admin's, the sites' and the consultants' key
 * bytes occurs across the seeds (as whole blocks in seeds 0-5, mixed in
 * 6-11).  The admin log holds site records, the enrollments (one site and
 * one consultant enrolled late, after they wrote), a site key turned hub
 * (it then writes what only a hub may), a consultant whose assigned sites
 * change (commits naming a site it lost are withdrawn back to pending), a
 * revocation with revoked_after below the key's head, and one commit of
 * 2000 person and site records near 1 MiB (in half the seeds it also
 * carries the member changes and 70 more enrollments, so a transaction
 * touches more member records than are re-judged one by one); the member
 * changes are whole puts in some seeds, edits that saw the enrollment in
 * others.  The sites write cafés of their own site with every required
 * field, persons, edits and a delete; the admin edits the same fields at
 * the same clock (a conflict, the tie broken by the key order) and
 * deletes a person a site edits.  Squats, each at the seq after its
 * origin's last commit: a site writes a person at the member id of the
 * key enrolled late, a site writes a café whose id carries another key's
 * tag, a consultant creates an audit that names no site.
 *
 * Every commit of every origin is then given to fresh stores (joined to
 * the network as hubs) in many orders: origin by origin, admin last,
 * admin first, the admin's first commit first and its others last,
 * random interleavings keeping each origin's seq order, and orders that
 * break it (shuffled, reversed), which are delivered again until nothing
 * changes, as sync would; one commit per store_apply_ex() call, random
 * batch sizes, or all in one call.  Every node must end with the same
 * heads, the same pending commits (store_pending(), and probed by giving
 * each origin's commits after its head once more: a held one is a
 * duplicate), the same digest and record counts, the same members, the
 * same conflicts; the squats refused and the enrollment they aimed at in
 * place; store_audit() with replay finding no fault; and a node given
 * everything in seq order must not change when given it all again.  The
 * expected heads, pending commits and members are also computed by the
 * test's own model of the rules from the final admin log: the revoked
 * key's head is its revoked_after, the late site's cafés are all applied,
 * the concurrent edit leaves one conflict whose loser is the smaller
 * (hlc, origin).  Each seed must also hold, drain and withdraw commits
 * somewhere, or the orders would not reach what the promise rests on.
 *
 * Four more cases, three seeds each with a smaller large commit, add one
 * thing to the same network (tests named by it):
 *   hub_foreign    the site turned hub edits another site's café right
 *                  after the change (a hub may);
 *   revoked_squat  the revoked site writes a café with another key's
 *                  tag after its last commit (refused, or held behind
 *                  its waiting commits: the same on every node);
 *   hub_type       the hub puts a person at the id of a training the
 *                  admin writes (either may land: the same everywhere);
 *   unenroll       the admin deletes the consultant's member record.
 *
 * ORDER_SEED=n runs seed n alone (every case); ORDER_SEEDS=n runs n seeds
 * of the main property; ORDER_NO_AUDIT=1 skips store_audit() (to see
 * what differs past an audit fault); ORDER_DEBUG=1 prints every item's
 * result and each node's state.
 *
 * Stores live under one mkdtemp() root in /dev/shm (or /tmp), removed at
 * the end; TMPDIR points there too, for the audit's scratch stores.
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
	struct stat st;

	(void)state;
	if (sodium_init() < 0)
		return -1;
	/* tmpfs when there is one: every apply is a synced transaction */
	snprintf(t_root, sizeof t_root, "%s/cafesync-order-XXXXXX",
	    stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(t_root) == NULL)
		return -1;
	setenv("TMPDIR", t_root, 1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rm_rf(t_root);
	return 0;
}

#define T_OPEN_MAX 32
static struct store *t_open[T_OPEN_MAX];
static char t_opendir[T_OPEN_MAX][128];

/* Closes a store the test opened and removes its directory. */
static void t_close(struct store *s)
{
	for (size_t i = 0; i < T_OPEN_MAX; i++)
		if (t_open[i] == s) {
			t_open[i] = NULL;
			store_close(s);
			rm_rf(t_opendir[i]);
			return;
		}
	store_close(s);
}

static void world_free_current(void);
static void snaps_free(void);

static int test_teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < T_OPEN_MAX; i++)
		if (t_open[i] != NULL)
			t_close(t_open[i]);
	world_free_current();
	snaps_free();
	return 0;
}

/* What the test is doing, for failure messages. */
static char t_ctx[200];

/* A fresh store joined to network as a hub (it reads every log). */
static struct store *mk_node(const uint8_t network[PROTO_KEY_LEN])
{
	char dir[128];
	char *cause = NULL;
	struct store *s = NULL;
	int rc;

	snprintf(dir, sizeof dir, "%s/n%04u", t_root, t_dirs++);
	rc = store_create(dir, "node", "hub", network, &cause);
	if (rc != 0)
		fail_msg("store_create %s: %d %s (%s)", dir, rc,
		    cause ? cause : "", t_ctx);
	free(cause);
	cause = NULL;
	rc = store_open(&s, dir, &cause);
	if (rc != 0)
		fail_msg("store_open %s: %d %s (%s)", dir, rc,
		    cause ? cause : "", t_ctx);
	free(cause);
	for (size_t i = 0; i < T_OPEN_MAX; i++)
		if (t_open[i] == NULL) {
			t_open[i] = s;
			snprintf(t_opendir[i], sizeof t_opendir[i], "%s", dir);
			return s;
		}
	fail_msg("too many open stores");
	return NULL;
}

/* ---- a growing text buffer -------------------------------------------- */

struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->n;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->n : NULL, room, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < room) {
			b->n += (size_t)n;
			return;
		}
		b->cap = b->cap ? 2 * b->cap + (size_t)n : 256 + (size_t)n;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
		if (b->n == 0)
			b->p[0] = '\0';
	}
}

static void sb_free(struct sbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

static const char *sb_str(const struct sbuf *b)
{
	return b->p ? b->p : "";
}

/* Strings the hand-built ops point at; freed with the world. */
static char **t_strs;
static size_t t_nstrs, t_capstrs;

static const char *sdup(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static const char *sdup(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	assert_true(n >= 0);
	s = malloc((size_t)n + 1);
	assert_non_null(s);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	if (t_nstrs == t_capstrs) {
		t_capstrs = t_capstrs ? 2 * t_capstrs : 1024;
		t_strs = realloc(t_strs, t_capstrs * sizeof(*t_strs));
		assert_non_null(t_strs);
	}
	t_strs[t_nstrs++] = s;
	return s;
}

static void sfree_all(void)
{
	for (size_t i = 0; i < t_nstrs; i++)
		free(t_strs[i]);
	free(t_strs);
	t_strs = NULL;
	t_nstrs = t_capstrs = 0;
}

/* ---- deterministic randomness ----------------------------------------- */

static uint64_t rng_s;

static void rng_seed(uint64_t s)
{
	s += UINT64_C(0x9E3779B97F4A7C15);
	s = (s ^ (s >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	s = (s ^ (s >> 27)) * UINT64_C(0x94D049BB133111EB);
	s ^= s >> 31;
	rng_s = s != 0 ? s : 1;
}

static uint64_t rng(void)
{
	uint64_t x = rng_s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_s = x;
	return x * UINT64_C(0x2545F4914F6CDD1D);
}

static size_t rnd(size_t n)
{
	return (size_t)(rng() % n);
}

static void shuffle(size_t *v, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd(i), t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

/* A string of n random lower-case letters. */
static const char *rletters(size_t n)
{
	char buf[512];

	assert_true(n < sizeof buf);
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)('a' + rnd(26));
	buf[n] = '\0';
	return sdup("%s", buf);
}

/* ---- hand-built commits (as tests/unit/store_fixture.c) -------------- */

struct citem {
	uint8_t *e;
	size_t elen;
	uint8_t sig[PROTO_SIG_LEN];
	uint8_t origin[PROTO_KEY_LEN];
	uint8_t hash[PROTO_HASH_LEN];
	uint64_t seq;
	uint64_t hlc;
};

struct origin {
	uint8_t pk[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN];
	uint64_t seq;
	uint8_t prev[PROTO_HASH_LEN];
};

#define HOP_MAX 8

/* One op: values in text form (lists comma-separated), NULL = nil. */
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
};

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
	assert_non_null(f);
	switch (f->type) {
	case SCH_SET:
	case SCH_LIST:
	case SCH_REFS: {
		char *copy = strdup(val), *save = NULL, *p;
		size_t n = 1;

		assert_non_null(copy);
		for (const char *q = val; *q; q++)
			n += *q == ',';
		msgpack_pack_array(pk, n);
		for (p = strtok_r(copy, ",", &save); p != NULL;
		    p = strtok_r(NULL, ",", &save)) {
			if (f->type == SCH_REFS) {
				uint8_t id[PROTO_ID_LEN];

				assert_int_equal(proto_unhex(id, PROTO_ID_LEN,
				    p), 0);
				msgpack_pack_bin(pk, PROTO_ID_LEN);
				msgpack_pack_bin_body(pk, id, PROTO_ID_LEN);
			} else
				proto_pack_cstr(pk, p);
		}
		free(copy);
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
		    (uint32_t)op->nf, op->nb > 0);
		sort_names(op->names, op->nf, idx);
		for (size_t j = 0; j < op->nf; j++) {
			proto_pack_cstr(&w.pk, op->names[idx[j]]);
			pack_text_value(&w.pk, op->type, op->names[idx[j]],
			    op->vals[idx[j]]);
		}
		if (op->nb > 0) {
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

static void hop_del(struct hop *op, const char *type, const uint8_t *id)
{
	memset(op, 0, sizeof *op);
	op->kind = PROTO_OP_DEL;
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

/* ---- the key pool ----------------------------------------------------- */

/*
 * Keys from fixed seeds, sorted by their bytes: a network picks some in
 * ascending order and hands them to its roles in the order it wants the
 * roles' keys to sort in.
 */
#define POOL 192
static struct origin pool[POOL];
static int pool_ready;

static int origin_cmp(const void *a, const void *b)
{
	const struct origin *x = a, *y = b;

	return memcmp(x->pk, y->pk, PROTO_KEY_LEN);
}

static void pool_init(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES];

	if (pool_ready)
		return;
	rng_seed(UINT64_C(0xC0FFEE));
	for (size_t i = 0; i < POOL; i++) {
		for (size_t j = 0; j < sizeof seed; j++)
			seed[j] = (uint8_t)rng();
		memset(&pool[i], 0, sizeof pool[i]);
		crypto_sign_seed_keypair(pool[i].pk, pool[i].sk, seed);
	}
	qsort(pool, POOL, sizeof pool[0], origin_cmp);
	pool_ready = 1;
}

/* ---- the world: a network's commits and the model of its rules -------- */

enum { A_ADMIN, A_SITE, A_CONS };

#define MAXACT 8     /* admin, 5 sites, 2 consultants */
#define MAXX 8       /* site records */
#define MAXC 16      /* commits of one origin */
#define MAXMOP 4     /* ops of a non-admin commit */
#define NDUMMY 70    /* extra enrollments in a bulk admin commit */
#define BIG_OPS 2000

/* What the model needs of an op of a non-admin commit. */
struct mop {
	const char *type;
	uint8_t id[PROTO_ID_LEN];
	int create;          /* a put without base */
	int site;            /* index of the site it names, or -1 */
};

/* One signed commit of the world. */
struct wc {
	struct citem ci;
	int actor;
	int squat;           /* 1 to 4: a squat, off its origin's chain */
	int uncertain;       /* refused or not, the same on every node */
	int nmop;
	struct mop mop[MAXMOP];
};

struct actor {
	char name[16];
	int cls;
	struct origin o;
	int x;               /* a site key's site */
	/* membership as the admin log ends (the model) */
	int enrolled;
	enum store_role role;
	int has_site;
	int site;
	unsigned sites;      /* a consultant's sites, as a bit mask */
	int scope_all;
	int revoked;
	uint64_t after;
	/* its commits: indexes into the world's */
	size_t chain[MAXC];
	size_t nchain;
	long squat;
	/* the model's verdict on its chain */
	int uncertain;       /* the rules do not say what waits: nodes agree */
	int head_uncertain;  /* nor what lands */
	uint64_t exp_head;
	uint64_t exp_pending;
	int squat_waits;     /* its squat waits at the end of its log */
};

/* Cases kept apart from the main property (see the tests at the end). */
enum twist {
	T_NONE,
	T_HUB_FOREIGN,    /* the site turned hub edits another site's café */
	T_REVOKED_SQUAT,  /* the revoked site squats behind its held commits */
	T_HUB_TYPE,       /* the hub puts a person at an admin record's id */
	T_UNENROLL,       /* the admin deletes the consultant's member record */
};
static const char *const twist_name[] = { "", ", the hub edits another "
	"site's café", ", the revoked site squats", ", the hub takes an admin "
	"record's id", ", the consultant's member record deleted" };

struct world {
	unsigned seed;
	enum twist twist;
	size_t big_ops;
	int block;           /* keys sorted by role blocks (else mixed) */
	int perm;            /* the order of the blocks */
	int bulk;            /* member changes ride in the large commit */
	int nact, nsites, ncons, nx;
	struct actor a[MAXACT];
	uint8_t x[MAXX][PROTO_ID_LEN];
	uint64_t x_hlc;
	struct wc *wc;
	size_t nwc, capwc;
	uint64_t step;
	uint32_t idctr;
	int s_late, s_hub, s_rev, s_plain, s_edit, s_sq1, c_asg, c_all;
	int xa, xb, xc;
	uint64_t rev_after;  /* the revoked site's last valid seq */
	uint8_t squat1_id[PROTO_ID_LEN], squat2_id[PROTO_ID_LEN];
	uint8_t squat4_id[PROTO_ID_LEN];
	uint8_t conf_id[PROTO_ID_LEN];  /* café both edit at one clock */
	uint64_t conf_hlc;
	uint8_t late[8][PROTO_ID_LEN];  /* the late site's cafés */
	int nlate;
	uint8_t big_first[PROTO_ID_LEN], big_last[PROTO_ID_LEN];
	size_t big_elen;
	uint8_t dummy[NDUMMY][PROTO_KEY_LEN];
	int ndummy;
};

static struct world *t_world;
static size_t *t_order;      /* the delivery order being tried */

static void world_free(struct world *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->nwc; i++)
		free(w->wc[i].ci.e);
	free(w->wc);
	free(w);
}

static void world_free_current(void)
{
	world_free(t_world);
	t_world = NULL;
	free(t_order);
	t_order = NULL;
	sfree_all();
}

static const uint8_t *net(const struct world *w)
{
	return w->a[0].o.pk;
}

static uint64_t tick(struct world *w)
{
	return HLC_AT(T_MS + ++w->step, 0);
}

/* Names an origin by its role in the world (or its first bytes, in buf
 * of at least 9 bytes). */
static const char *who(const struct world *w, const uint8_t *pk, char *buf,
    size_t len)
{
	for (int i = 0; i < w->nact; i++)
		if (memcmp(w->a[i].o.pk, pk, PROTO_KEY_LEN) == 0)
			return w->a[i].name;
	assert_true(len >= 9);
	proto_hex(buf, pk, 4);
	return buf;
}

/* An id of the owner's tag (proto_id_new()'s layout), from the PRNG. */
static void mk_id(struct world *w, uint8_t id[PROTO_ID_LEN],
    const uint8_t *owner)
{
	uint64_t ms = T_MS + w->step;
	uint32_t r = (uint32_t)(rng() & 0xffff0000u) | (++w->idctr & 0xffff);

	for (int i = 0; i < 6; i++)
		id[i] = (uint8_t)(ms >> (40 - 8 * i));
	memcpy(id + PROTO_ID_TAG_OFF, owner, PROTO_ID_TAG_LEN);
	id[PROTO_ID_RAND_OFF] = (uint8_t)(r >> 24);
	id[PROTO_ID_RAND_OFF + 1] = (uint8_t)(r >> 16);
	id[PROTO_ID_RAND_OFF + 2] = (uint8_t)(r >> 8);
	id[PROTO_ID_RAND_OFF + 3] = (uint8_t)r;
	assert_true(proto_id_owned(id, owner));
	assert_false(proto_id_reserved(id));
}

static const char *hexs(const uint8_t *p, size_t n)
{
	char buf[2 * PROTO_KEY_LEN + 1];

	proto_hex(buf, p, n);
	return sdup("%s", buf);
}

static struct wc *wc_new(struct world *w, size_t *idx)
{
	if (w->nwc == w->capwc) {
		w->capwc = w->capwc ? 2 * w->capwc : 64;
		w->wc = realloc(w->wc, w->capwc * sizeof(*w->wc));
		assert_non_null(w->wc);
	}
	memset(&w->wc[w->nwc], 0, sizeof(w->wc[0]));
	*idx = w->nwc;
	return &w->wc[w->nwc++];
}

/* Signs actor ai's next commit of ops; returns its index. */
static size_t emit(struct world *w, int ai, uint64_t hlc,
    const struct hop *ops, size_t nops, const struct mop *m, int nm)
{
	struct actor *a = &w->a[ai];
	size_t idx;
	struct wc *c = wc_new(w, &idx);

	assert_true(nm <= MAXMOP);
	hb_next(&c->ci, &a->o, net(w), hlc, ops, nops);
	c->actor = ai;
	c->nmop = nm;
	if (nm > 0)
		memcpy(c->mop, m, (size_t)nm * sizeof(*m));
	assert_true(a->nchain < MAXC);
	a->chain[a->nchain++] = idx;
	return idx;
}

/* Signs a squat: a commit at the seq after actor ai's last, off chain. */
static void emit_squat(struct world *w, int ai, int kind, uint64_t hlc,
    const struct hop *ops, size_t nops, const struct mop *m, int nm)
{
	struct actor *a = &w->a[ai];
	size_t idx;
	struct wc *c = wc_new(w, &idx);

	hb_make(&c->ci, &a->o, net(w), a->o.seq + 1, a->o.seq ? a->o.prev :
	    NULL, hlc, ops, nops);
	c->actor = ai;
	c->squat = kind;
	c->nmop = nm;
	memcpy(c->mop, m, (size_t)nm * sizeof(*m));
	a->squat = (long)idx;
}

static void mop_set(struct mop *m, const char *type, const uint8_t *id,
    int create, int site)
{
	m->type = type;
	memcpy(m->id, id, PROTO_ID_LEN);
	m->create = create;
	m->site = site;
}

/* Token subsets in schema order. */
static const char *const factor_tok[] = { "resilience", "social_connections",
	"concrete_support", "child_development", "social_emotional" };
static const char *const format_tok[] = { "parent", "dads", "community",
	"virtual" };

static const char *rfactors(void)
{
	unsigned mask = 1 + (unsigned)rnd(31);
	char buf[200] = "";

	for (unsigned i = 0; i < 5; i++)
		if (mask & (1u << i)) {
			if (buf[0] != '\0')
				strcat(buf, ",");
			strcat(buf, factor_tok[i]);
		}
	return sdup("%s", buf);
}

static const char *rdate(void)
{
	return sdup("2026-%02u-%02u", 1 + (unsigned)rnd(12),
	    1 + (unsigned)rnd(28));
}

/* A café create of site x with every required field. */
static void cafe_hop(struct world *w, struct hop *op, const uint8_t *id,
    int x, const char *topic, const char *hosts)
{
	hop_put(op, "cafe", id);
	hop_field(op, "site", hexs(w->x[x], PROTO_ID_LEN));
	hop_field(op, "date", rdate());
	hop_field(op, "format", format_tok[rnd(4)]);
	hop_field(op, "factors", rfactors());
	hop_field(op, "topic", topic);
	if (hosts != NULL)
		hop_field(op, "hosts", hosts);
	hop_field(op, "attendees", sdup("%u", (unsigned)rnd(40)));
}

/*
 * A member record put: a create (every required field), or with base
 * the clock of the enrollment, an edit of what changes (role, site,
 * sites, scope, status, revoked_after) that saw the enrollment.
 */
static void member_hop(struct world *w, struct hop *op, int ai,
    enum store_role role, int x, unsigned sites, const char *scope,
    int revoked, uint64_t after, uint64_t base)
{
	struct actor *a = &w->a[ai];
	uint8_t id[PROTO_ID_LEN];
	static const char *const rn[] = { "none", "admin", "hub", "site",
		"consultant" };

	proto_member_id(id, a->o.pk);
	hop_put(op, "member", id);
	if (base == 0) {
		hop_field(op, "key", hexs(a->o.pk, PROTO_KEY_LEN));
		hop_field(op, "name", a->name);
	} else {
		hop_base(op, "role", base);
		if (a->has_site)
			hop_base(op, "site", base);
		if (a->sites != 0)
			hop_base(op, "sites", base);
		if (a->cls == A_CONS)
			hop_base(op, "scope", base);
	}
	hop_field(op, "role", rn[role]);
	if (x >= 0)
		hop_field(op, "site", hexs(w->x[x], PROTO_ID_LEN));
	if (sites != 0) {
		char buf[400] = "";

		for (int i = 0; i < w->nx; i++)
			if (sites & (1u << i)) {
				if (buf[0] != '\0')
					strcat(buf, ",");
				proto_hex(buf + strlen(buf), w->x[i],
				    PROTO_ID_LEN);
			}
		hop_field(op, "sites", sdup("%s", buf));
	}
	if (scope != NULL)
		hop_field(op, "scope", scope);
	if (revoked) {
		hop_field(op, "status", "revoked");
		hop_field(op, "revoked_after", sdup("%" PRIu64, after));
	}
	/* the admin log is written in seq order: the last put wins */
	a->enrolled = 1;
	a->role = role;
	a->has_site = x >= 0;
	a->site = x;
	a->sites = sites;
	a->scope_all = role == STORE_ROLE_HUB ||
	    (role == STORE_ROLE_CONSULTANT && ((scope != NULL &&
	    strcmp(scope, "all") == 0) || (scope == NULL && sites == 0)));
	a->revoked = revoked;
	a->after = revoked ? after : 0;
}

/* ---- the model of the rules ------------------------------------------- */

enum verdict { V_OK, V_PENDING, V_REFUSE };

static unsigned writers_of(const char *type)
{
	const struct sch_type *t = sch_type_find(type, strlen(type));

	assert_non_null(t);
	return t->writers;
}

static int site_required(const char *type)
{
	const struct sch_type *t = sch_type_find(type, strlen(type));
	const struct sch_field *f = sch_field_find(t, "site", 4);

	return f != NULL && f->required;
}

static int has_site_field(const char *type)
{
	const struct sch_type *t = sch_type_find(type, strlen(type));

	return sch_field_find(t, "site", 4) != NULL;
}

/*
 * Judges a non-admin commit by the final admin log, written from the
 * rules as the brief states them, not from trust.c.
 */
static enum verdict judge(const struct world *w, const struct wc *c)
{
	const struct actor *a = &w->a[c->actor];
	unsigned bit;

	for (int i = 0; i < c->nmop; i++)
		if (strcmp(c->mop[i].type, "member") == 0 ||
		    proto_id_reserved(c->mop[i].id))
			return V_REFUSE;
	if (!a->enrolled)
		return V_PENDING;
	if (a->revoked && c->ci.seq > a->after)
		return V_PENDING;
	if (a->role == STORE_ROLE_HUB)
		return V_OK;
	bit = a->role == STORE_ROLE_SITE ? SCH_ROLE_SITE : SCH_ROLE_CONSULTANT;
	for (int i = 0; i < c->nmop; i++) {
		const struct mop *m = &c->mop[i];
		int reads;

		/* The owner rules bind a role the admin log may change:
		 * they wait, as the role rules do. */
		if ((writers_of(m->type) & bit) == 0)
			return V_PENDING;
		if (!proto_id_owned(m->id, a->o.pk))
			return V_PENDING;
		if (m->create && has_site_field(m->type) && m->site < 0)
			return site_required(m->type) ? V_REFUSE : V_PENDING;
		if (m->site < 0)
			continue;
		reads = a->role == STORE_ROLE_SITE ? a->site == m->site :
		    a->scope_all || (a->sites & (1u << m->site)) != 0;
		if (!reads)
			return V_PENDING;
	}
	return V_OK;
}

/* Fills each actor's expected head and pending count. */
static void model(struct world *w)
{
	for (int i = 0; i < w->nact; i++) {
		struct actor *a = &w->a[i];
		size_t k;

		a->exp_head = a->nchain;
		a->exp_pending = 0;
		if (i == 0)
			continue;
		for (k = 0; k < a->nchain; k++) {
			enum verdict v = judge(w, &w->wc[a->chain[k]]);

			if (v == V_REFUSE && !w->wc[a->chain[k]].uncertain)
				fail_msg("seed %u: the generator made %s's seq "
				    "%zu break a permanent rule", w->seed,
				    a->name, k + 1);
			if (v == V_PENDING)
				break;
		}
		a->exp_head = k;
		a->exp_pending = a->nchain - k;
		a->squat_waits = 0;
		if (a->squat < 0 || w->wc[a->squat].uncertain)
			continue;
		/* The member-id squat breaks a permanent rule; the others
		 * (another key's tag, a record of no site) wait at the end
		 * of their origin's log. */
		if (w->wc[a->squat].squat == 1 &&
		    judge(w, &w->wc[a->squat]) != V_REFUSE)
			fail_msg("seed %u: the model does not refuse %s's "
			    "squat", w->seed, a->name);
		if (judge(w, &w->wc[a->squat]) == V_PENDING) {
			a->exp_pending++;
			a->squat_waits = 1;
		}
	}
}

/* ---- building the world ----------------------------------------------- */

static const int perms[6][3] = {
	{ A_ADMIN, A_SITE, A_CONS }, { A_ADMIN, A_CONS, A_SITE },
	{ A_SITE, A_ADMIN, A_CONS }, { A_SITE, A_CONS, A_ADMIN },
	{ A_CONS, A_ADMIN, A_SITE }, { A_CONS, A_SITE, A_ADMIN },
};
static const char *const cls_name[] = { "admin", "sites", "consultants" };

/* Picks the actors' keys from the pool in the order the seed wants. */
static void pick_keys(struct world *w)
{
	size_t idx[POOL], slots[MAXACT], order[MAXACT];
	size_t n = (size_t)w->nact, k = 0;

	for (size_t i = 0; i < POOL; i++)
		idx[i] = i;
	shuffle(idx, POOL);
	for (size_t i = 0; i < n; i++)
		slots[i] = idx[i];
	/* ascending keys */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && slots[j - 1] > slots[j]; j--) {
			size_t t = slots[j];
			slots[j] = slots[j - 1];
			slots[j - 1] = t;
		}
	if (w->block) {
		for (int b = 0; b < 3; b++) {
			int cls = perms[w->perm][b];
			size_t first = k;

			for (int i = 0; i < w->nact; i++)
				if (w->a[i].cls == cls)
					order[k++] = (size_t)i;
			shuffle(order + first, k - first);
		}
	} else {
		for (size_t i = 0; i < n; i++)
			order[i] = i;
		shuffle(order, n);
	}
	for (size_t i = 0; i < n; i++) {
		w->a[order[i]].o = pool[slots[i]];
		w->a[order[i]].o.seq = 0;
	}
	/* the blocks really sort so */
	if (w->block)
		for (size_t i = 1; i < n; i++)
			assert_true(memcmp(w->a[order[i - 1]].o.pk,
			    w->a[order[i]].o.pk, PROTO_KEY_LEN) < 0);
}

/* The large admin commit: BIG_OPS person and site records, plus the
 * member changes and NDUMMY enrollments when bulk. */
static void big_commit(struct world *w, const struct hop *extra,
    size_t nextra)
{
	size_t n = w->big_ops + nextra + (w->bulk ? NDUMMY : 0), k = 0;
	struct hop *ops = calloc(n, sizeof(*ops));
	uint64_t hlc = tick(w);
	size_t idx;

	assert_non_null(ops);
	for (size_t i = 0; i < w->big_ops; i++) {
		uint8_t id[PROTO_ID_LEN];
		struct hop *op = &ops[k++];

		mk_id(w, id, net(w));
		if (i == 0)
			memcpy(w->big_first, id, PROTO_ID_LEN);
		if (i == w->big_ops - 1)
			memcpy(w->big_last, id, PROTO_ID_LEN);
		if (i % 20 == 7) {
			hop_put(op, "site", id);
			hop_field(op, "name", rletters(180));
			hop_field(op, "county", rletters(60));
			hop_field(op, "region", rletters(60));
			hop_field(op, "languages", sdup("%s,%s,%s",
			    rletters(40), rletters(40), rletters(40)));
		} else {
			hop_put(op, "person", id);
			hop_field(op, "name", rletters(190));
			hop_field(op, "roles", i % 3 ? "parent_leader,host" :
			    "table_host");
			hop_field(op, "site", hexs(w->x[rnd((size_t)w->nx)],
			    PROTO_ID_LEN));
			hop_field(op, "languages", sdup("%s,%s,%s,%s",
			    rletters(45), rletters(45), rletters(45),
			    rletters(45)));
		}
	}
	for (size_t i = 0; i < nextra; i++)
		ops[k++] = extra[i];
	if (w->bulk)
		for (int i = 0; i < NDUMMY; i++) {
			struct hop *op = &ops[k++];
			uint8_t id[PROTO_ID_LEN];

			for (size_t j = 0; j < PROTO_KEY_LEN; j++)
				w->dummy[i][j] = (uint8_t)rng();
			w->dummy[i][0] |= 1;	/* not the reserved space */
			proto_member_id(id, w->dummy[i]);
			hop_put(op, "member", id);
			hop_field(op, "key", hexs(w->dummy[i],
			    PROTO_KEY_LEN));
			hop_field(op, "role", i % 2 ? "hub" : "consultant");
			hop_field(op, "name", sdup("dummy %d", i));
		}
	w->ndummy = w->bulk ? NDUMMY : 0;
	assert_true(k == n);
	idx = emit(w, 0, hlc, ops, n, NULL, 0);
	w->big_elen = w->wc[idx].ci.elen;
	if (w->big_elen > PROTO_MAX_COMMIT ||
	    (w->big_ops == BIG_OPS && w->big_elen < 900 * 1024))
		fail_msg("seed %u: the large commit is %zu bytes", w->seed,
		    w->big_elen);
	free(ops);
}

/*
 * The member changes: the hub, the consultant's sites, the revocation;
 * whole puts in some seeds (each field a rival of its enrollment's, so a
 * conflict), edits that saw the enrollment in others.
 */
static size_t member_changes(struct world *w, struct hop *ops)
{
	struct actor *r = &w->a[w->s_rev];
	uint64_t base = w->seed % 3 != 0 ? w->x_hlc : 0;

	member_hop(w, &ops[0], w->s_hub, STORE_ROLE_HUB, w->a[w->s_hub].x, 0,
	    NULL, 0, 0, base);
	member_hop(w, &ops[1], w->c_asg, STORE_ROLE_CONSULTANT, -1,
	    (1u << w->xa) | (1u << w->xc), "assigned", 0, 0, base);
	member_hop(w, &ops[2], w->s_rev, STORE_ROLE_SITE, r->x, 0, NULL, 1,
	    w->rev_after, base);
	return 3;
}

struct rec {
	uint8_t id[PROTO_ID_LEN];
	uint64_t hlc;        /* the clock of its fields as created */
};

static void build_world(struct world *w, unsigned seed, enum twist tw,
    size_t big_ops)
{
	struct hop ops[MAXX + MAXACT + 4];
	struct mop m[MAXMOP];
	struct rec person[MAXACT], cafe1[MAXACT], cafe2[MAXACT], cafe3[MAXACT];
	size_t order[MAXACT], nsa = 0;
	uint64_t h;
	int n;

	memset(w, 0, sizeof *w);
	w->seed = seed;
	w->twist = tw;
	w->big_ops = big_ops;
	rng_seed(seed);
	w->perm = (int)(seed % 6);
	w->block = (seed / 6) % 2 == 0;
	w->bulk = (int)((seed + seed / 6) % 2);
	w->nsites = 3 + (int)rnd(3);
	w->ncons = 1 + (int)rnd(2);
	w->nact = 1 + w->nsites + w->ncons;
	w->nx = w->nsites + 2;
	for (int i = 0; i < w->nact; i++) {
		struct actor *a = &w->a[i];

		a->cls = i == 0 ? A_ADMIN : i <= w->nsites ? A_SITE : A_CONS;
		a->x = a->cls == A_SITE ? i - 1 : -1;
		a->squat = -1;
		if (i == 0)
			snprintf(a->name, sizeof a->name, "admin");
		else if (a->cls == A_SITE)
			snprintf(a->name, sizeof a->name, "S%u", (unsigned)i % 10);
		else
			snprintf(a->name, sizeof a->name, "C%u",
			    (unsigned)(i - w->nsites) % 10);
	}
	pick_keys(w);
	w->a[0].enrolled = 1;
	w->a[0].role = STORE_ROLE_ADMIN;

	/* who plays what */
	for (int i = 1; i <= w->nsites; i++)
		order[nsa++] = (size_t)i;
	shuffle(order, nsa);
	w->s_late = (int)order[0];
	w->s_hub = (int)order[1];
	w->s_rev = (int)order[2];
	w->s_plain = w->nsites >= 4 ? (int)order[3] : -1;
	w->s_edit = w->s_plain >= 0 ? w->s_plain : w->s_late;
	w->s_sq1 = w->s_plain >= 0 ? w->s_plain : w->s_hub;
	w->c_asg = w->nsites + 1;
	w->c_all = w->ncons == 2 ? w->nsites + 2 : -1;
	{
		size_t xs[MAXX];

		for (size_t i = 0; i < (size_t)w->nx; i++)
			xs[i] = i;
		shuffle(xs, (size_t)w->nx);
		w->xa = (int)xs[0];
		w->xb = (int)xs[1];
		w->xc = (int)xs[2];
	}
	w->rev_after = 2 + rnd(3);

	/* A1: the site records, every early enrollment */
	h = tick(w);
	w->x_hlc = h;
	n = 0;
	for (int i = 0; i < w->nx; i++) {
		mk_id(w, w->x[i], net(w));
		hop_put(&ops[n], "site", w->x[i]);
		hop_field(&ops[n], "name", sdup("Site %d", i));
		hop_field(&ops[n++], "county", rletters(8));
	}
	for (int i = 1; i <= w->nsites; i++)
		if (i != w->s_late)
			member_hop(w, &ops[n++], i, STORE_ROLE_SITE,
			    w->a[i].x, 0, NULL, 0, 0, 0);
	member_hop(w, &ops[n++], w->c_asg, STORE_ROLE_CONSULTANT, -1,
	    (1u << w->xa) | (1u << w->xb), "assigned", 0, 0, 0);
	emit(w, 0, h, ops, (size_t)n, NULL, 0);

	/* the sites write: a person and cafés of their own site */
	shuffle(order, nsa);
	for (size_t k = 0; k < nsa; k++) {
		int i = (int)order[k];
		struct actor *a = &w->a[i];

		h = tick(w);
		mk_id(w, person[i].id, a->o.pk);
		mk_id(w, cafe1[i].id, a->o.pk);
		person[i].hlc = cafe1[i].hlc = h;
		hop_put(&ops[0], "person", person[i].id);
		hop_field(&ops[0], "name", sdup("Host of %s", a->name));
		hop_field(&ops[0], "roles", "host,table_host");
		hop_field(&ops[0], "site", hexs(w->x[a->x], PROTO_ID_LEN));
		cafe_hop(w, &ops[1], cafe1[i].id, a->x, "first",
		    hexs(person[i].id, PROTO_ID_LEN));
		mop_set(&m[0], "person", person[i].id, 1, a->x);
		mop_set(&m[1], "cafe", cafe1[i].id, 1, a->x);
		emit(w, i, h, ops, 2, m, 2);

		h = tick(w);
		mk_id(w, cafe2[i].id, a->o.pk);
		cafe2[i].hlc = h;
		cafe_hop(w, &ops[0], cafe2[i].id, a->x, "second", NULL);
		mop_set(&m[0], "cafe", cafe2[i].id, 1, a->x);
		emit(w, i, h, ops, 1, m, 1);

		h = tick(w);
		mk_id(w, cafe3[i].id, a->o.pk);
		cafe3[i].hlc = h;
		cafe_hop(w, &ops[0], cafe3[i].id, a->x, "third", NULL);
		mop_set(&m[0], "cafe", cafe3[i].id, 1, a->x);
		emit(w, i, h, ops, 1, m, 1);
		if (i == w->s_late) {
			memcpy(w->late[w->nlate++], cafe1[i].id, PROTO_ID_LEN);
			memcpy(w->late[w->nlate++], cafe2[i].id, PROTO_ID_LEN);
			memcpy(w->late[w->nlate++], cafe3[i].id, PROTO_ID_LEN);
		}
	}

	/* the revoked site goes on: edits and cafés past revoked_after */
	{
		int i = w->s_rev;
		struct actor *a = &w->a[i];
		uint8_t id[PROTO_ID_LEN];

		h = tick(w);
		hop_put(&ops[0], "cafe", cafe1[i].id);
		hop_field(&ops[0], "topic", "edited by its site");
		hop_base(&ops[0], "topic", cafe1[i].hlc);
		mop_set(&m[0], "cafe", cafe1[i].id, 0, -1);
		emit(w, i, h, ops, 1, m, 1);
		h = tick(w);
		mk_id(w, id, a->o.pk);
		cafe_hop(w, &ops[0], id, a->x, "fifth", NULL);
		mop_set(&m[0], "cafe", id, 1, a->x);
		emit(w, i, h, ops, 1, m, 1);
		h = tick(w);
		hop_put(&ops[0], "cafe", cafe3[i].id);
		hop_field(&ops[0], "topic", "late edit by its site");
		hop_base(&ops[0], "topic", cafe3[i].hlc);
		mop_set(&m[0], "cafe", cafe3[i].id, 0, -1);
		emit(w, i, h, ops, 1, m, 1);
		assert_true(w->rev_after < a->nchain);
	}

	/* a site and the admin edit one field at one clock: a conflict */
	h = tick(w);
	memcpy(w->conf_id, cafe1[w->s_edit].id, PROTO_ID_LEN);
	w->conf_hlc = h;
	hop_put(&ops[0], "cafe", w->conf_id);
	hop_field(&ops[0], "topic", "the site's topic");
	hop_base(&ops[0], "topic", cafe1[w->s_edit].hlc);
	mop_set(&m[0], "cafe", w->conf_id, 0, -1);
	emit(w, w->s_edit, h, ops, 1, m, 1);
	hop_put(&ops[0], "cafe", w->conf_id);
	hop_field(&ops[0], "topic", "the admin's topic");
	hop_base(&ops[0], "topic", cafe1[w->s_edit].hlc);
	/* an edit that saw the value it replaces: no conflict */
	hop_put(&ops[1], "cafe", cafe2[w->s_edit].id);
	hop_field(&ops[1], "topic", "seen by the admin");
	hop_base(&ops[1], "topic", cafe2[w->s_edit].hlc);
	/* the revoked site's café, which its withdrawn edit also edits */
	hop_put(&ops[2], "cafe", cafe3[w->s_rev].id);
	hop_field(&ops[2], "topic", "the admin's edit");
	hop_base(&ops[2], "topic", cafe3[w->s_rev].hlc);
	emit(w, 0, h, ops, 3, NULL, 0);

	/* the assigned consultant writes for sites a, b and c */
	{
		int i = w->c_asg;
		struct actor *a = &w->a[i];
		uint8_t tr[PROTO_ID_LEN];
		uint64_t tr_hlc;
		int nc = 5 + (int)rnd(3);

		h = tick(w);
		mk_id(w, tr, a->o.pk);
		tr_hlc = h;
		hop_put(&ops[0], "training", tr);
		hop_field(&ops[0], "site", hexs(w->x[w->xa], PROTO_ID_LEN));
		hop_field(&ops[0], "date", rdate());
		hop_field(&ops[0], "kind", "coaching");
		hop_field(&ops[0], "notes", "first visit");
		mop_set(&m[0], "training", tr, 1, w->xa);
		emit(w, i, h, ops, 1, m, 1);
		for (int k = 1; k < nc; k++) {
			int xs[3] = { w->xa, w->xb, w->xc };
			int x = xs[rnd(3)];
			uint8_t id[PROTO_ID_LEN];

			h = tick(w);
			if (k == 2) {
				hop_put(&ops[0], "training", tr);
				hop_field(&ops[0], "notes", "second visit");
				hop_base(&ops[0], "notes", tr_hlc);
				mop_set(&m[0], "training", tr, 0, -1);
				emit(w, i, h, ops, 1, m, 1);
				continue;
			}
			mk_id(w, id, a->o.pk);
			switch (rnd(3)) {
			case 0:
				hop_put(&ops[0], "training", id);
				hop_field(&ops[0], "date", rdate());
				hop_field(&ops[0], "kind", "orientation");
				mop_set(&m[0], "training", id, 1, x);
				break;
			case 1:
				hop_put(&ops[0], "milestone", id);
				hop_field(&ops[0], "step", sdup("%u",
				    1 + (unsigned)rnd(6)));
				hop_field(&ops[0], "status", "in_progress");
				mop_set(&m[0], "milestone", id, 1, x);
				break;
			default:
				hop_put(&ops[0], "audit", id);
				hop_field(&ops[0], "date", rdate());
				hop_field(&ops[0], "finding", rletters(30));
				mop_set(&m[0], "audit", id, 1, x);
				break;
			}
			hop_field(&ops[0], "site", hexs(w->x[x], PROTO_ID_LEN));
			emit(w, i, h, ops, 1, m, 1);
		}
	}

	/* the consultant reading every site writes before its enrollment */
	if (w->c_all >= 0)
		for (int k = 0; k < 2; k++) {
			uint8_t id[PROTO_ID_LEN];
			int x = (int)rnd((size_t)w->nx);

			h = tick(w);
			mk_id(w, id, w->a[w->c_all].o.pk);
			hop_put(&ops[0], "audit", id);
			hop_field(&ops[0], "site", hexs(w->x[x], PROTO_ID_LEN));
			hop_field(&ops[0], "date", rdate());
			hop_field(&ops[0], "finding", rletters(20));
			mop_set(&m[0], "audit", id, 1, x);
			emit(w, w->c_all, h, ops, 1, m, 1);
		}

	/* the large admin commit, and the member changes */
	if (w->bulk) {
		struct hop mc[3];
		size_t nmc = member_changes(w, mc);

		big_commit(w, mc, nmc);
	} else {
		struct hop mc[3];
		size_t nmc, v[3] = { 0, 1, 2 };

		big_commit(w, NULL, 0);
		nmc = member_changes(w, mc);
		shuffle(v, nmc);
		for (size_t k = 0; k < nmc; k++)
			emit(w, 0, tick(w), &mc[v[k]], 1, NULL, 0);
	}

	/* the site turned hub writes what only a hub may */
	{
		int i = w->s_hub;
		struct actor *a = &w->a[i];
		uint8_t id[PROTO_ID_LEN];
		int other = (a->x + 1) % w->nx;

		if (tw == T_HUB_FOREIGN) {
			/* a hub may: the owner rule binds sites and
			 * consultants only; first after the
			 * change, so nothing of its waits before it */
			h = tick(w);
			hop_put(&ops[0], "cafe", cafe3[w->s_late].id);
			hop_field(&ops[0], "topic", "edited by the hub");
			hop_base(&ops[0], "topic", cafe3[w->s_late].hlc);
			mop_set(&m[0], "cafe", cafe3[w->s_late].id, 0, -1);
			emit(w, i, h, ops, 1, m, 1);
		}
		h = tick(w);
		mk_id(w, id, a->o.pk);
		hop_put(&ops[0], "site", id);
		hop_field(&ops[0], "name", "a site the hub made");
		mop_set(&m[0], "site", id, 1, -1);
		emit(w, i, h, ops, 1, m, 1);
		h = tick(w);
		hop_put(&ops[0], "site", w->x[a->x]);
		hop_field(&ops[0], "name", "renamed by the hub");
		hop_base(&ops[0], "name", w->x_hlc);
		mop_set(&m[0], "site", w->x[a->x], 0, -1);
		emit(w, i, h, ops, 1, m, 1);
		h = tick(w);
		mk_id(w, id, a->o.pk);
		cafe_hop(w, &ops[0], id, other, "for another site", NULL);
		mop_set(&m[0], "cafe", id, 1, other);
		emit(w, i, h, ops, 1, m, 1);
	}

	/* late enrollments */
	h = tick(w);
	n = 0;
	member_hop(w, &ops[n++], w->s_late, STORE_ROLE_SITE,
	    w->a[w->s_late].x, 0, NULL, 0, 0, 0);
	if (w->c_all >= 0)
		member_hop(w, &ops[n++], w->c_all, STORE_ROLE_CONSULTANT, -1,
		    0, rnd(2) ? "all" : NULL, 0, 0, 0);
	emit(w, 0, h, ops, (size_t)n, NULL, 0);
	for (int k = 0; k < 2; k++) {
		int i = w->s_late;
		uint8_t id[PROTO_ID_LEN];

		h = tick(w);
		mk_id(w, id, w->a[i].o.pk);
		cafe_hop(w, &ops[0], id, w->a[i].x, "after enrollment", NULL);
		mop_set(&m[0], "cafe", id, 1, w->a[i].x);
		emit(w, i, h, ops, 1, m, 1);
		memcpy(w->late[w->nlate++], id, PROTO_ID_LEN);
	}
	if (w->c_all >= 0) {
		uint8_t id[PROTO_ID_LEN];
		int x = (int)rnd((size_t)w->nx);

		h = tick(w);
		mk_id(w, id, w->a[w->c_all].o.pk);
		hop_put(&ops[0], "milestone", id);
		hop_field(&ops[0], "site", hexs(w->x[x], PROTO_ID_LEN));
		hop_field(&ops[0], "step", "2");
		hop_field(&ops[0], "status", "done");
		mop_set(&m[0], "milestone", id, 1, x);
		emit(w, w->c_all, h, ops, 1, m, 1);
	}

	/* the admin deletes a person its site edits at the same clock */
	h = tick(w);
	hop_del(&ops[0], "person", person[w->s_edit].id);
	hop_put(&ops[1], "cafe", cafe1[w->s_late].id);
	hop_field(&ops[1], "attendees", "12");
	hop_base(&ops[1], "attendees", cafe1[w->s_late].hlc);
	n = 2;
	if (tw == T_HUB_TYPE) {
		uint8_t id[PROTO_ID_LEN];
		size_t k;

		mk_id(w, id, net(w));
		hop_put(&ops[n], "training", id);
		hop_field(&ops[n], "site", hexs(w->x[0], PROTO_ID_LEN));
		hop_field(&ops[n], "date", "2026-05-05");
		hop_field(&ops[n++], "kind", "orientation");
		/* the hub, having seen it, puts a person at that id */
		hop_put(&ops[n], "person", id);
		hop_field(&ops[n], "name", "a person at the admin's id");
		hop_field(&ops[n], "roles", "host");
		mop_set(&m[0], "person", id, 1, -1);
		k = emit(w, w->s_hub, h, &ops[n], 1, m, 1);
		w->wc[k].uncertain = 1;
		w->a[w->s_hub].uncertain = 1;
		w->a[w->s_hub].head_uncertain = 1;
	}
	if (tw == T_UNENROLL) {
		uint8_t id[PROTO_ID_LEN];
		struct actor *c = &w->a[w->c_asg];

		proto_member_id(id, c->o.pk);
		hop_del(&ops[n++], "member", id);
		c->enrolled = 0;
		c->role = STORE_ROLE_NONE;
		c->has_site = 0;
		c->sites = 0;
		c->scope_all = 0;
	}
	emit(w, 0, h, ops, (size_t)n, NULL, 0);
	hop_put(&ops[0], "person", person[w->s_edit].id);
	hop_field(&ops[0], "name", "renamed by its site");
	hop_base(&ops[0], "name", person[w->s_edit].hlc);
	mop_set(&m[0], "person", person[w->s_edit].id, 0, -1);
	emit(w, w->s_edit, h, ops, 1, m, 1);
	h = tick(w);
	if (w->s_edit == w->s_late)	/* not among the late cafés then */
		memmove(w->late[1], w->late[2], (size_t)(--w->nlate - 1) *
		    PROTO_ID_LEN);
	hop_del(&ops[0], "cafe", cafe2[w->s_edit].id);
	mop_set(&m[0], "cafe", cafe2[w->s_edit].id, 0, -1);
	emit(w, w->s_edit, h, ops, 1, m, 1);

	/* the squats */
	h = tick(w);
	proto_member_id(w->squat1_id, w->a[w->s_late].o.pk);
	hop_put(&ops[0], "person", w->squat1_id);
	hop_field(&ops[0], "name", "squatter");
	hop_field(&ops[0], "roles", "host");
	hop_field(&ops[0], "site", hexs(w->x[w->a[w->s_sq1].x], PROTO_ID_LEN));
	mop_set(&m[0], "person", w->squat1_id, 1, w->a[w->s_sq1].x);
	emit_squat(w, w->s_sq1, 1, h, ops, 1, m, 1);
	mk_id(w, w->squat2_id, w->a[w->s_hub].o.pk);
	cafe_hop(w, &ops[0], w->squat2_id, w->a[w->s_late].x, "not mine",
	    NULL);
	mop_set(&m[0], "cafe", w->squat2_id, 1, w->a[w->s_late].x);
	emit_squat(w, w->s_late, 2, h, ops, 1, m, 1);
	if (w->c_all >= 0) {
		/* a consultant's create that names no site */
		uint8_t id[PROTO_ID_LEN];

		mk_id(w, w->squat4_id, w->a[w->c_all].o.pk);
		memcpy(id, w->squat4_id, PROTO_ID_LEN);
		hop_put(&ops[0], "audit", id);
		hop_field(&ops[0], "date", rdate());
		hop_field(&ops[0], "finding", "of no site");
		mop_set(&m[0], "audit", id, 1, -1);
		emit_squat(w, w->c_all, 4, h, ops, 1, m, 1);
	}
	if (tw == T_REVOKED_SQUAT) {
		/* a café with another key's tag, after the revoked site's
		 * last commit: refused, whatever waits before it */
		uint8_t id[PROTO_ID_LEN];
		int x = w->a[w->s_rev].x;

		mk_id(w, id, w->a[w->s_late].o.pk);
		cafe_hop(w, &ops[0], id, x, "not mine either", NULL);
		mop_set(&m[0], "cafe", id, 1, x);
		emit_squat(w, w->s_rev, 3, h, ops, 1, m, 1);
		/* revoked, and not its tag: it waits either way */
	}

	model(w);
}

/* ---- delivery orders -------------------------------------------------- */

enum okind { O_BYORIGIN, O_ADMIN_LAST, O_ADMIN_FIRST, O_ADMIN_SPLIT,
	O_INTERLEAVE, O_SHUFFLE, O_REVERSE };
static const char *const okind_name[] = { "origin by origin", "admin last",
	"admin first", "admin's first commit first, its others last",
	"interleaved", "shuffled", "reversed" };
enum bkind { B_ONE, B_RANDOM, B_ALL };
static const char *const bkind_name[] = { "one per call", "random batches",
	"all in one call" };

/* An origin's commits in seq order, its squat last. */
static size_t origin_list(const struct world *w, int ai, size_t *v)
{
	const struct actor *a = &w->a[ai];
	size_t n = 0;

	for (size_t k = 0; k < a->nchain; k++)
		v[n++] = a->chain[k];
	if (a->squat >= 0)
		v[n++] = (size_t)a->squat;
	return n;
}

/* Random interleaving of the lists of actors in set, seq order kept. */
static size_t interleave(const struct world *w, const int *set, int nset,
    size_t *out)
{
	size_t lists[MAXACT][MAXC + 1], len[MAXACT], pos[MAXACT];
	size_t total = 0, n = 0;

	for (int i = 0; i < nset; i++) {
		len[i] = origin_list(w, set[i], lists[i]);
		pos[i] = 0;
		total += len[i];
	}
	while (n < total) {
		size_t r = rnd(total - n);
		int i;

		for (i = 0; i < nset; i++) {
			size_t left = len[i] - pos[i];

			if (r < left)
				break;
			r -= left;
		}
		out[n++] = lists[i][pos[i]++];
	}
	return n;
}

static size_t make_order(const struct world *w, enum okind kind, size_t *v)
{
	int set[MAXACT], nset = 0;
	size_t n = 0;

	switch (kind) {
	case O_BYORIGIN: {
		size_t ord[MAXACT];

		for (int i = 0; i < w->nact; i++)
			ord[i] = (size_t)i;
		shuffle(ord, (size_t)w->nact);
		for (int i = 0; i < w->nact; i++)
			n += origin_list(w, (int)ord[i], v + n);
		break;
	}
	case O_ADMIN_LAST:
	case O_ADMIN_FIRST:
		for (int i = 1; i < w->nact; i++)
			set[nset++] = i;
		if (kind == O_ADMIN_FIRST)
			n += origin_list(w, 0, v);
		n += interleave(w, set, nset, v + n);
		if (kind == O_ADMIN_LAST)
			n += origin_list(w, 0, v + n);
		break;
	case O_ADMIN_SPLIT: {
		size_t al[MAXC + 1], na = origin_list(w, 0, al);

		v[n++] = al[0];
		for (int i = 1; i < w->nact; i++)
			set[nset++] = i;
		n += interleave(w, set, nset, v + n);
		for (size_t i = 1; i < na; i++)
			v[n++] = al[i];
		break;
	}
	case O_INTERLEAVE:
		for (int i = 0; i < w->nact; i++)
			set[nset++] = i;
		n = interleave(w, set, nset, v);
		break;
	case O_SHUFFLE:
		for (size_t i = 0; i < w->nwc; i++)
			v[i] = i;
		n = w->nwc;
		shuffle(v, n);
		break;
	case O_REVERSE:
		for (int i = 0; i < w->nact; i++)
			n += origin_list(w, i, v + n);
		for (size_t i = 0; i < n / 2; i++) {
			size_t t = v[i];

			v[i] = v[n - 1 - i];
			v[n - 1 - i] = t;
		}
		break;
	}
	assert_true(n == w->nwc);
	return n;
}

/* What one delivery pass did. */
struct pass {
	int changed;          /* an item applied or newly held */
	uint64_t held;        /* items held on arrival (CS_EPENDING) */
	uint64_t drained;     /* held commits that landed later */
	uint64_t withdrawn;   /* accepted commits taken back */
	size_t refused_chain; /* chain commits refused for good */
	char first_bad[300];
};

static int result_is_refusal(int r)
{
	return r == CS_EPERM || r == CS_ESCHEMA;
}

/*
 * Gives the node the commits v[0..n) in that order, in calls of the
 * batch kind's sizes; failed carries refused origins across the calls
 * when use_failed (a connection's), else each item stands alone.
 */
static void deliver(struct store *s, const struct world *w, const size_t *v,
    size_t n, enum bkind bk, int use_failed, int in_order, struct pass *p)
{
	struct store_item *items = calloc(n ? n : 1, sizeof(*items));
	struct store_failed failed;
	uint64_t heads[MAXACT];
	size_t i = 0;

	assert_non_null(items);
	memset(&failed, 0, sizeof failed);
	memset(p, 0, sizeof *p);
	for (int k = 0; k < w->nact; k++)
		heads[k] = store_head_seq(s, w->a[k].o.pk);
	while (i < n) {
		size_t m = bk == B_ONE ? 1 : bk == B_ALL ? n - i :
		    1 + rnd(16);
		char *cause = NULL;
		int rc;

		if (m > n - i)
			m = n - i;
		memset(items, 0, m * sizeof(*items));
		for (size_t j = 0; j < m; j++) {
			const struct citem *c = &w->wc[v[i + j]].ci;

			items[j].e = c->e;
			items[j].elen = c->elen;
			items[j].sig = c->sig;
		}
		rc = store_apply_ex(s, items, m, use_failed ? &failed : NULL,
		    &cause);
		if (rc != 0)
			fail_msg("store_apply_ex: %d %s (%s)", rc,
			    cause ? cause : "", t_ctx);
		free(cause);
		for (int k = 0; k < w->nact; k++) {
			uint64_t hs = store_head_seq(s, w->a[k].o.pk);

			if (hs < heads[k])
				p->withdrawn += heads[k] - hs;
			heads[k] = hs;
		}
		for (size_t j = 0; j < m; j++) {
			const struct wc *c = &w->wc[v[i + j]];
			int r = items[j].result;

			if (r == CS_EPENDING)
				p->held++;
			char nb[16];

			if (r == 0 || r == CS_EPENDING)
				p->changed = 1;
			if (getenv("ORDER_DEBUG") != NULL)
				fprintf(stderr, "  %s seq %" PRIu64 "%s: %d %s\n",
				    who(w, c->ci.origin, nb, sizeof nb),
				    c->ci.seq, c->squat ? " (squat)" : "", r,
				    items[j].cause);
			if (r != 0 && r != CS_EDUP && r != CS_EPENDING &&
			    items[j].cause[0] == '\0')
				fail_msg("%s seq %" PRIu64 " refused (%d) "
				    "without a cause (%s)", who(w,
				    c->ci.origin, nb, sizeof nb), c->ci.seq, r,
				    t_ctx);
			/* a chain commit refused when its origin's order
			 * was kept: nothing could make it come again */
			if (in_order && !c->squat && !c->uncertain && r != 0 &&
			    r != CS_EDUP &&
			    r != CS_EPENDING) {
				if (p->refused_chain++ == 0)
					snprintf(p->first_bad,
					    sizeof p->first_bad, "%s seq %"
					    PRIu64 " refused: %d (%s) %s",
					    who(w, c->ci.origin, nb,
					    sizeof nb), c->ci.seq, r,
					    cs_strerror(r), items[j].cause);
			}
		}
		i += m;
	}
	if (failed.drained > 0)
		p->changed = 1;
	p->drained = failed.drained;
	free(failed.origin);
	free(items);
}

/* ---- what a node holds ------------------------------------------------ */

struct snap {
	struct sbuf heads, status, members, conflicts, waiting, pending, squats;
};

static void snap_free(struct snap *n)
{
	sb_free(&n->heads);
	sb_free(&n->status);
	sb_free(&n->members);
	sb_free(&n->conflicts);
	sb_free(&n->waiting);
	sb_free(&n->pending);
	sb_free(&n->squats);
}

struct cb_arg {
	const struct world *w;
	struct sbuf *b;
	char **lines;
	size_t n, cap;
};

static void cb_line(struct cb_arg *a, const char *line)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		a->lines = realloc(a->lines, a->cap * sizeof(*a->lines));
		assert_non_null(a->lines);
	}
	a->lines[a->n] = strdup(line);
	assert_non_null(a->lines[a->n]);
	a->n++;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Sorts the lines into the buffer and frees them. */
static void cb_flush(struct cb_arg *a)
{
	if (a->n > 0)
		qsort(a->lines, a->n, sizeof(*a->lines), cmp_str);
	for (size_t i = 0; i < a->n; i++) {
		sb_printf(a->b, "%s\n", a->lines[i]);
		free(a->lines[i]);
	}
	free(a->lines);
	a->lines = NULL;
	a->n = a->cap = 0;
}

static int head_cb(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const uint8_t hash[PROTO_HASH_LEN], void *arg)
{
	struct cb_arg *a = arg;
	char nb[16], hx[17], line[96];

	proto_hex(hx, hash, 8);
	snprintf(line, sizeof line, "head %s seq %" PRIu64 " %s",
	    who(a->w, origin, nb, sizeof nb), seq, hx);
	cb_line(a, line);
	return 0;
}

static int waiting_cb(const uint8_t origin[PROTO_KEY_LEN], uint64_t first,
    uint64_t n, const char *why, void *arg)
{
	struct cb_arg *a = arg;
	char nb[16], line[400];

	snprintf(line, sizeof line, "waiting %s first %" PRIu64 " n %" PRIu64
	    ": %s", who(a->w, origin, nb, sizeof nb), first, n, why);
	cb_line(a, line);
	return 0;
}

static int member_cb(const struct store_member *m, void *arg)
{
	struct cb_arg *a = arg;
	char nb[16], line[600], sx[2 * PROTO_ID_LEN + 1] = "-";
	struct sbuf sites = { 0 };

	if (m->has_site)
		proto_hex(sx, m->site, 8);
	for (size_t i = 0; i < m->nsites; i++) {
		char h[17];

		proto_hex(h, m->sites[i], 8);
		sb_printf(&sites, "%s%s", i ? "," : "", h);
	}
	snprintf(line, sizeof line, "member %s role %s name '%s' site %s "
	    "sites [%s] scope_all %d revoked %d after %" PRIu64,
	    who(a->w, m->key, nb, sizeof nb), store_role_name(m->role),
	    m->name, sx, sb_str(&sites), m->scope_all, m->revoked,
	    m->revoked_after);
	sb_free(&sites);
	cb_line(a, line);
	return 0;
}

static int conflict_cb(const struct store_conflict *c, void *arg)
{
	struct cb_arg *a = arg;
	char nb[16], wb[16], id[33], line[700];
	char val[200] = "", win[200] = "";
	const struct sch_field *f = sch_field_find(c->type, c->field,
	    strlen(c->field));

	if (f != NULL) {
		sch_format(f, c->value, val, sizeof val);
		sch_format(f, c->winner, win, sizeof win);
	}
	proto_hex(id, c->id, PROTO_ID_LEN);
	snprintf(line, sizeof line, "conflict %s %s.%s '%s' %" PRIx64 " %s "
	    "< '%s' %" PRIx64 " %s", id, c->type->name, c->field, val, c->hlc,
	    who(a->w, c->origin, nb, sizeof nb), win, c->winner_hlc,
	    c->winner_origin ? who(a->w, c->winner_origin, wb, sizeof wb) :
	    "-");
	cb_line(a, line);
	return 0;
}

/* Reads what a node holds, all but the probes. */
static void snap_take(struct store *s, const struct world *w, struct snap *n)
{
	struct cb_arg a;
	struct store_status st;
	char dg[2 * PROTO_HASH_LEN + 1];

	memset(n, 0, sizeof *n);
	memset(&a, 0, sizeof a);
	a.w = w;
	a.b = &n->heads;
	assert_int_equal(store_heads(s, head_cb, &a), 0);
	cb_flush(&a);
	a.b = &n->members;
	assert_int_equal(store_members(s, member_cb, &a), 0);
	cb_flush(&a);
	a.b = &n->conflicts;
	assert_int_equal(store_conflicts(s, NULL, conflict_cb, &a), 0);
	cb_flush(&a);
	a.b = &n->waiting;
	assert_int_equal(store_pending(s, waiting_cb, &a), 0);
	cb_flush(&a);
	assert_int_equal(store_status(s, &st), 0);
	proto_hex(dg, st.digest, PROTO_HASH_LEN);
	sb_printf(&n->status, "digest %s\ncommits %" PRIu64 "\n", dg,
	    st.commits);
	for (unsigned i = 0; i < sch_ntypes && i < 16; i++)
		sb_printf(&n->status, "count %s %" PRIu64 "\n",
		    sch_types[i].name, st.counts[i]);
}

/*
 * Probes the pending commits: each origin's commits after its head are
 * given again; a held one is a duplicate.  The first that is not ends
 * the probe of its origin (it may have been written: the probe runs
 * after everything else is read).  Then the squats are given again.
 */
static void snap_probe(struct store *s, const struct world *w, struct snap *n)
{
	for (int i = 0; i < w->nact; i++) {
		const struct actor *a = &w->a[i];
		uint64_t head = store_head_seq(s, a->o.pk), k, held = 0;
		int last = 0;

		for (k = head; k < a->nchain; k++) {
			const struct citem *c = &w->wc[a->chain[k]].ci;
			struct store_item it;
			char *cause = NULL;

			memset(&it, 0, sizeof it);
			it.e = c->e;
			it.elen = c->elen;
			it.sig = c->sig;
			if (store_apply(s, &it, 1, &cause) != 0)
				fail_msg("probe: store_apply: %s (%s)",
				    cause ? cause : "", t_ctx);
			free(cause);
			if (it.result != CS_EDUP) {
				last = it.result;
				break;
			}
			held++;
		}
		sb_printf(&n->pending, "pending %s after %" PRIu64 ": %" PRIu64
		    "%s", a->name, head, held, k < a->nchain ? "" : "\n");
		if (k < a->nchain)
			sb_printf(&n->pending, ", seq %" PRIu64 " not held "
			    "(given again: %d %s)\n", k + 1, last,
			    cs_strerror(last));
	}
	for (int i = 0; i < w->nact; i++) {
		const struct actor *a = &w->a[i];
		struct store_item it;
		const struct citem *c;
		char *cause = NULL;

		if (a->squat < 0)
			continue;
		c = &w->wc[a->squat].ci;
		memset(&it, 0, sizeof it);
		it.e = c->e;
		it.elen = c->elen;
		it.sig = c->sig;
		if (store_apply(s, &it, 1, &cause) != 0)
			fail_msg("probe: store_apply: %s (%s)",
			    cause ? cause : "", t_ctx);
		free(cause);
		if (result_is_refusal(it.result))
			sb_printf(&n->squats, "squat %d of %s given again: "
			    "refused\n", w->wc[a->squat].squat, a->name);
		else if (it.result == CS_EDUP || it.result == CS_EPENDING)
			sb_printf(&n->squats, "squat %d of %s given again: "
			    "waits\n", w->wc[a->squat].squat, a->name);
		else
			sb_printf(&n->squats, "squat %d of %s given again: "
			    "%d %s (%s)\n", w->wc[a->squat].squat, a->name,
			    it.result, cs_strerror(it.result), it.cause);
	}
}

/* The length of the line at s. */
static int line_len(const char *s)
{
	const char *e = strchr(s, '\n');

	return (int)(e != NULL ? (size_t)(e - s) : strlen(s));
}

/* Fails naming the first line where two sections differ. */
static void section_cmp(const char *what, const struct sbuf *ref,
    const struct sbuf *got, const char *refctx)
{
	const char *a = sb_str(ref), *b = sb_str(got);

	if (strcmp(a, b) == 0)
		return;
	while (*a != '\0' && *b != '\0') {
		const char *ea = strchr(a, '\n'), *eb = strchr(b, '\n');
		size_t la = ea ? (size_t)(ea - a) : strlen(a);
		size_t lb = eb ? (size_t)(eb - b) : strlen(b);

		if (la != lb || memcmp(a, b, la) != 0)
			break;
		a += la + (ea != NULL);
		b += lb + (eb != NULL);
	}
	/* in full (cmocka's messages are cut at 1 KiB) */
	fprintf(stderr, "--- %s of %s:\n%s--- %s of this node (%s):\n%s",
	    what, refctx, sb_str(ref), what, t_ctx, sb_str(got));
	fail_msg("%s differ (%s) from %s: first difference: this node has "
	    "'%.*s', the other '%.*s'", what, t_ctx, refctx, line_len(b), b,
	    line_len(a), a);
}

static void snap_cmp(const struct snap *ref, const struct snap *got,
    const char *refctx)
{
	section_cmp("heads", &ref->heads, &got->heads, refctx);
	section_cmp("pending commits (store_pending)", &ref->waiting,
	    &got->waiting, refctx);
	section_cmp("pending commits (given again)", &ref->pending,
	    &got->pending, refctx);
	section_cmp("members", &ref->members, &got->members, refctx);
	section_cmp("digest and counts", &ref->status, &got->status, refctx);
	section_cmp("conflicts", &ref->conflicts, &got->conflicts, refctx);
	section_cmp("squats", &ref->squats, &got->squats, refctx);
}

/* What run_seed() holds, freed by the teardown when a check fails. */
static struct snap t_snaps[3];

static void snaps_free(void)
{
	for (size_t i = 0; i < 3; i++)
		snap_free(&t_snaps[i]);
}

/* ---- checks against the model ----------------------------------------- */

struct fault_acc {
	const struct world *w;
	struct sbuf b;
	int n;
};

static void audit_cb(const struct store_audit_fault *f, void *arg)
{
	struct fault_acc *a = arg;
	static const char *const kinds[] = { "commit", "head", "history",
		"digest", "record", "replay" };
	char nb[16];

	if (a->n++ < 6)
		sb_printf(&a->b, "  %s fault: %s seq %" PRIu64 ": %s\n",
		    (unsigned)f->kind < 6 ? kinds[f->kind] : "?",
		    f->origin ? who(a->w, f->origin, nb, sizeof nb) : "-",
		    f->seq, f->why ? f->why : "");
}

static void check_audit(struct store *s, const struct world *w)
{
	struct fault_acc acc;
	struct store_audit_stats st;
	int rc;

	memset(&acc, 0, sizeof acc);
	memset(&st, 0, sizeof st);
	acc.w = w;
	rc = store_audit(s, 1, audit_cb, &acc, &st);
	if (rc != 0 || !st.replayed) {
		fprintf(stderr, "store_audit faults (%s):\n%s", t_ctx,
		    sb_str(&acc.b));
		sb_free(&acc.b);
		fail_msg("store_audit with replay: %d fault(s), replayed %d "
		    "%s (%s)", rc, st.replayed, st.replay_error, t_ctx);
	}
	sb_free(&acc.b);
}

static void check_model(struct store *s, const struct world *w)
{
	struct store_member m;
	struct store_rec r;
	size_t nm = 0;

	for (int i = 0; i < w->nact; i++) {
		const struct actor *a = &w->a[i];
		uint64_t head = store_head_seq(s, a->o.pk);

		if (head != a->exp_head && !a->head_uncertain)
			fail_msg("%s's head is seq %" PRIu64 ", the rules "
			    "give %" PRIu64 " of its %zu (%s)", a->name, head,
			    a->exp_head, a->nchain, t_ctx);
		if (i == 0)
			continue;
		if (!a->enrolled) {
			if (store_member_get(s, a->o.pk, &m) != CS_ENOTFOUND)
				fail_msg("%s is still a member (%s)", a->name,
				    t_ctx);
			continue;
		}
		if (store_member_get(s, a->o.pk, &m) != 0)
			fail_msg("%s is not a member (%s)", a->name, t_ctx);
		if (m.role != a->role || m.revoked != a->revoked ||
		    m.revoked_after != a->after ||
		    (a->role == STORE_ROLE_CONSULTANT &&
		    m.scope_all != a->scope_all))
			fail_msg("%s is a %s (revoked %d after %" PRIu64
			    ", all %d), the admin log says %s (%d, %" PRIu64
			    ", %d) (%s)", a->name, store_role_name(m.role),
			    m.revoked, m.revoked_after, m.scope_all,
			    store_role_name(a->role), a->revoked, a->after,
			    a->scope_all, t_ctx);
		if (a->has_site && (!m.has_site ||
		    memcmp(m.site, w->x[a->site], PROTO_ID_LEN) != 0))
			fail_msg("%s does not speak for its site (%s)",
			    a->name, t_ctx);
		if (a->role == STORE_ROLE_CONSULTANT && !a->scope_all) {
			unsigned got = 0;

			for (size_t k = 0; k < m.nsites; k++)
				for (int x = 0; x < w->nx; x++)
					if (memcmp(m.sites[k], w->x[x],
					    PROTO_ID_LEN) == 0)
						got |= 1u << x;
			if (got != a->sites || m.nsites != 2)
				fail_msg("%s reads sites %#x, the admin log "
				    "says %#x (%s)", a->name, got, a->sites,
				    t_ctx);
		}
		store_member_free(&m);
	}
	{
		const struct actor *r2 = &w->a[w->s_rev];

		if (store_head_seq(s, r2->o.pk) != r2->after)
			fail_msg("the revoked %s's head is not its "
			    "revoked_after %" PRIu64 " (%s)", r2->name,
			    r2->after, t_ctx);
	}
	{
		struct cb_arg a;
		size_t want = (size_t)w->ndummy;

		memset(&a, 0, sizeof a);
		a.w = w;
		assert_int_equal(store_members(s, member_cb, &a), 0);
		nm = a.n;
		for (size_t k = 0; k < a.n; k++)
			free(a.lines[k]);
		free(a.lines);
		for (int i = 1; i < w->nact; i++)
			want += w->a[i].enrolled != 0;
		if (nm != want)
			fail_msg("%zu members, the admin log enrolls %zu (%s)",
			    nm, want, t_ctx);
	}
	/* squat 1: the member id holds the late site's member record */
	if (store_get(s, w->squat1_id, &r) != 0)
		fail_msg("the late site's member record is missing (%s)",
		    t_ctx);
	if (strcmp(r.type->name, "member") != 0 || r.deleted)
		fail_msg("the late site's member id holds a %s (%s)",
		    r.type->name, t_ctx);
	{
		const msgpack_object *k = store_rec_value(&r, "key");

		if (k == NULL || k->type != MSGPACK_OBJECT_BIN ||
		    k->via.bin.size != PROTO_KEY_LEN ||
		    memcmp(k->via.bin.ptr, w->a[w->s_late].o.pk,
		    PROTO_KEY_LEN) != 0)
			fail_msg("the late site's member record has another "
			    "key (%s)", t_ctx);
	}
	store_rec_free(&r);
	/* squat 2: a café with another key's tag is nowhere */
	if (store_get(s, w->squat2_id, &r) != CS_ENOTFOUND)
		fail_msg("a café with another key's tag was stored (%s)",
		    t_ctx);
	/* squat 4: nor a consultant's audit of no site */
	if (w->c_all >= 0 && store_get(s, w->squat4_id, &r) != CS_ENOTFOUND)
		fail_msg("a consultant's audit of no site was stored (%s)",
		    t_ctx);
	/* the late site's cafés are all applied */
	for (int k = 0; k < w->nlate; k++) {
		char hx[33];

		proto_hex(hx, w->late[k], PROTO_ID_LEN);
		if (store_get(s, w->late[k], &r) != 0)
			fail_msg("the late site's café %s is missing (%s)",
			    hx, t_ctx);
		if (strcmp(r.type->name, "cafe") != 0 || r.deleted ||
		    store_rec_value(&r, "date") == NULL)
			fail_msg("the late site's café %s is not whole (%s)",
			    hx, t_ctx);
		store_rec_free(&r);
	}
	/* the large commit's records */
	if (store_get(s, w->big_first, &r) != 0)
		fail_msg("the large commit's first record is missing (%s)",
		    t_ctx);
	store_rec_free(&r);
	if (store_get(s, w->big_last, &r) != 0)
		fail_msg("the large commit's last record is missing (%s)",
		    t_ctx);
	store_rec_free(&r);
	/* the concurrent edit: one conflict, the smaller clock loses */
	{
		struct cb_arg a;
		const uint8_t *ad = w->a[0].o.pk, *se = w->a[w->s_edit].o.pk;
		int admin_wins = memcmp(ad, se, PROTO_KEY_LEN) > 0;
		char want[300], nb[16];
		const char *lv = admin_wins ? "the site's topic" :
		    "the admin's topic";
		const char *wv = admin_wins ? "the admin's topic" :
		    "the site's topic";
		int found = 0;

		memset(&a, 0, sizeof a);
		a.w = w;
		assert_int_equal(store_conflicts(s, w->conf_id, conflict_cb,
		    &a), 0);
		snprintf(want, sizeof want, "cafe.topic '%s' %" PRIx64 " %s "
		    "< '%s' %" PRIx64 " %s", lv, w->conf_hlc,
		    admin_wins ? w->a[w->s_edit].name : "admin", wv,
		    w->conf_hlc, admin_wins ? "admin" :
		    who(w, se, nb, sizeof nb));
		for (size_t k = 0; k < a.n; k++) {
			if (strstr(a.lines[k], want) != NULL)
				found++;
			free(a.lines[k]);
		}
		free(a.lines);
		if (found != 1 || a.n != 1)
			fail_msg("the concurrent edit of a café's topic left "
			    "%zu conflicts, not one '%s' (%s)", a.n, want,
			    t_ctx);
	}
}

/* Copies the line of text that starts with prefix into b (or nothing). */
static void copy_line(struct sbuf *b, const char *text, const char *prefix)
{
	size_t n = strlen(prefix);

	for (const char *p = text; *p != '\0'; ) {
		int len = line_len(p);

		if (strncmp(p, prefix, n) == 0) {
			sb_printf(b, "%.*s\n", len, p);
			return;
		}
		p += len + (p[len] == '\n');
	}
}

static void check_pending_model(const struct snap *n, const struct world *w)
{
	struct sbuf want = { 0 }, got = { 0 };

	/* store_pending(): the model's, and why each waits */
	for (int i = 0; i < w->nact; i++) {
		const struct actor *a = &w->a[i];
		char prefix[64];

		snprintf(prefix, sizeof prefix, "waiting %s ", a->name);
		copy_line(&got, sb_str(&n->waiting), prefix);
		if (a->uncertain)
			copy_line(&want, sb_str(&n->waiting), prefix);
		else if (a->exp_pending > 0) {
			char line[64];

			snprintf(line, sizeof line, "waiting %s first %" PRIu64
			    " n %" PRIu64 ": ", a->name, a->exp_head + 1,
			    a->exp_pending);
			/* the reason is the store's to word */
			copy_line(&want, sb_str(&n->waiting), line);
			if (strstr(sb_str(&want), line) == NULL)
				sb_printf(&want, "%s(some reason)\n", line);
		}
	}
	section_cmp("pending commits (store_pending)", &want, &got,
	    "the rules");
	if (strstr(sb_str(&n->waiting), "allowed now") != NULL)
		fail_msg("a commit the admin log allows still waits (%s):\n%s",
		    t_ctx, sb_str(&n->waiting));
	sb_free(&want);
	sb_free(&got);
	for (int i = 0; i < w->nact; i++) {
		char prefix[64];

		if (!w->a[i].uncertain) {
			/* the probe gives the chain again, not the squat */
			sb_printf(&want, "pending %s after %" PRIu64 ": %"
			    PRIu64 "\n", w->a[i].name, w->a[i].exp_head,
			    w->a[i].exp_pending - (uint64_t)w->a[i].squat_waits);
			continue;
		}
		snprintf(prefix, sizeof prefix, "pending %s ", w->a[i].name);
		copy_line(&want, sb_str(&n->pending), prefix);
	}
	for (int i = 0; i < w->nact; i++) {
		const struct actor *a = &w->a[i];
		char prefix[64];

		if (a->squat < 0)
			continue;
		snprintf(prefix, sizeof prefix, "squat %d of %s ",
		    w->wc[a->squat].squat, a->name);
		if (w->wc[a->squat].uncertain)
			copy_line(&want, sb_str(&n->squats), prefix);
		else
			sb_printf(&want, "%sgiven again: %s\n", prefix,
			    judge(w, &w->wc[a->squat]) == V_REFUSE ? "refused" :
			    "waits");
	}
	sb_printf(&got, "%s%s", sb_str(&n->pending), sb_str(&n->squats));
	section_cmp("pending commits and squats (given again)", &want, &got,
	    "the rules");
	sb_free(&got);
	sb_free(&want);
}

/* ---- the property ----------------------------------------------------- */

struct plan {
	enum okind o;
	enum bkind b;
};

static const struct plan plans[] = {
	{ O_BYORIGIN, B_ONE }, { O_BYORIGIN, B_ALL },
	{ O_ADMIN_LAST, B_ONE }, { O_ADMIN_LAST, B_RANDOM },
	{ O_ADMIN_FIRST, B_ONE }, { O_ADMIN_FIRST, B_ALL },
	{ O_ADMIN_SPLIT, B_ONE }, { O_ADMIN_SPLIT, B_RANDOM },
	{ O_INTERLEAVE, B_ONE }, { O_INTERLEAVE, B_RANDOM },
	{ O_INTERLEAVE, B_RANDOM }, { O_SHUFFLE, B_RANDOM },
	{ O_SHUFFLE, B_ONE }, { O_REVERSE, B_ALL },
};
#define NPLANS (sizeof plans / sizeof plans[0])

static void run_seed(unsigned seed, enum twist tw, size_t big_ops)
{
	struct world *w = calloc(1, sizeof(*w));
	struct snap *ref = &t_snaps[0], *got = &t_snaps[1],
	    *again = &t_snaps[2];
	char refctx[200] = "";
	uint64_t held = 0, drained = 0, withdrawn = 0;
	size_t *v;

	assert_non_null(w);
	world_free_current();
	t_world = w;
	pool_init();
	build_world(w, seed, tw, big_ops);
	v = t_order = calloc(w->nwc, sizeof(*v));
	assert_non_null(v);
	print_message("seed %u%s: %d sites, %d consultant(s), keys %s%s%s%s, "
	    "%s, %zu commits, large one %zu bytes\n", seed, twist_name[tw],
	    w->nsites, w->ncons,
	    w->block ? "in blocks " : "mixed",
	    w->block ? cls_name[perms[w->perm][0]] : "",
	    w->block ? " < " : "", w->block ? sdup("%s < %s",
	    cls_name[perms[w->perm][1]], cls_name[perms[w->perm][2]]) : "",
	    w->bulk ? "member changes in the large commit" :
	    "member changes apart", w->nwc, w->big_elen);
	snaps_free();
	for (size_t p = 0; p < NPLANS; p++) {
		const struct plan *pl = &plans[p];
		int in_order = pl->o != O_SHUFFLE && pl->o != O_REVERSE;
		struct store *s = mk_node(net(w));
		struct pass ps;
		size_t n;
		int passes = 0;

		snprintf(t_ctx, sizeof t_ctx, "seed %u%s, node %zu: %s, %s",
		    seed, twist_name[tw], p, okind_name[pl->o],
		    bkind_name[pl->b]);
		n = make_order(w, pl->o, v);
		deliver(s, w, v, n, pl->b, 1, in_order, &ps);
		held += ps.held;
		drained += ps.drained;
		withdrawn += ps.withdrawn;
		passes++;
		if (in_order && ps.refused_chain > 0)
			fail_msg("%zu commit(s) refused though each origin's "
			    "came in seq order, first: %s (%s)",
			    ps.refused_chain, ps.first_bad, t_ctx);
		if (in_order) {
			/* everything again changes nothing */
			snap_take(s, w, got);
			deliver(s, w, v, n, B_ALL, 1, 1, &ps);
			snap_take(s, w, again);
			if (ps.changed)
				print_error("a node given everything in seq "
				    "order changed when given it again\n");
			snap_cmp(got, again, "the same node before "
			    "everything was given again");
			if (ps.changed)
				fail_msg("given everything again, the node "
				    "applied or held more (%s)", t_ctx);
			snap_free(got);
			snap_free(again);
		} else {
			/* a pass with a connection's failed set can stop
			 * at the first gap of every origin: go on until a
			 * pass of items on their own changes nothing */
			ps.changed = 1;
			while (ps.changed) {
				if (++passes > 64)
					fail_msg("still changing after 64 "
					    "passes (%s)", t_ctx);
				deliver(s, w, v, n, pl->b, 0, 0, &ps);
				held += ps.held;
				withdrawn += ps.withdrawn;
			}
			snprintf(t_ctx + strlen(t_ctx),
			    sizeof t_ctx - strlen(t_ctx), ", %d passes",
			    passes);
		}
		snap_take(s, w, got);
		if (getenv("ORDER_NO_AUDIT") == NULL)
			check_audit(s, w);
		check_model(s, w);
		snap_probe(s, w, got);
		check_pending_model(got, w);
		if (getenv("ORDER_DEBUG") != NULL)
			printf("%s:\n%s%s%s%s%s%s%s", t_ctx,
			    sb_str(&got->heads), sb_str(&got->waiting),
			    sb_str(&got->pending), sb_str(&got->squats),
			    sb_str(&got->members), sb_str(&got->conflicts),
			    sb_str(&got->status));
		if (p == 0) {
			*ref = *got;
			memset(got, 0, sizeof *got);
			snprintf(refctx, sizeof refctx, "%s", t_ctx);
		} else {
			snap_cmp(ref, got, refctx);
			snap_free(got);
		}
		t_close(s);
	}
	snap_free(ref);
	print_message("seed %u%s: %zu nodes agree; %" PRIu64 " commits held on "
	    "arrival, %" PRIu64 " landed later in the same pass, %" PRIu64
	    " withdrawn\n", seed, twist_name[tw], NPLANS, held, drained,
	    withdrawn);
	/* the orders reach the paths the promise rests on */
	if (held == 0 || drained == 0 || withdrawn == 0)
		fail_msg("seed %u%s: no order held (%" PRIu64 "), drained (%"
		    PRIu64 ") or withdrew (%" PRIu64 ") a commit", seed,
		    twist_name[tw], held, drained, withdrawn);
	world_free_current();
}

struct case_ {
	unsigned seed;
	enum twist tw;
	size_t big_ops;
};

static void test_order_case(void **state)
{
	const struct case_ *c = *state;

	run_seed(c->seed, c->tw, c->big_ops);
}

/*
 * The main property runs NSEEDS_DEFAULT seeds (ORDER_SEEDS=n for more);
 * each twist runs NTWIST_SEEDS seeds of its own with a smaller large
 * commit.  ORDER_SEED=n runs seed n alone, for every case.
 */
#define NSEEDS_DEFAULT 12
#define NTWIST_SEEDS 3
#define TWIST_SEED0 100
#define TWIST_BIG_OPS 100
#define NCASES_MAX 300

int main(void)
{
	static struct case_ cases[NCASES_MAX];
	static char names[NCASES_MAX][48];
	static struct CMUnitTest tests[NCASES_MAX];
	static const char *const tw_tag[] = { "order", "hub_foreign",
		"revoked_squat", "hub_type", "unenroll" };
	const char *one = getenv("ORDER_SEED"), *cnt = getenv("ORDER_SEEDS");
	size_t nseeds = NSEEDS_DEFAULT, n = 0;

	if (cnt != NULL && *cnt != '\0')
		nseeds = strtoul(cnt, NULL, 10);
	if (nseeds > NCASES_MAX - 4 * NTWIST_SEEDS)
		nseeds = NCASES_MAX - 4 * NTWIST_SEEDS;
	if (one != NULL && *one != '\0') {
		unsigned sd = (unsigned)strtoul(one, NULL, 10);

		for (int t = T_NONE; t <= T_UNENROLL; t++) {
			cases[n].seed = sd;
			cases[n].tw = (enum twist)t;
			cases[n++].big_ops = t == T_NONE ? BIG_OPS :
			    TWIST_BIG_OPS;
		}
	} else {
		for (size_t i = 0; i < nseeds; i++) {
			cases[n].seed = (unsigned)i;
			cases[n].tw = T_NONE;
			cases[n++].big_ops = BIG_OPS;
		}
		for (int t = T_HUB_FOREIGN; t <= T_UNENROLL; t++)
			for (unsigned i = 0; i < NTWIST_SEEDS; i++) {
				cases[n].seed = TWIST_SEED0 + i;
				cases[n].tw = (enum twist)t;
				cases[n++].big_ops = TWIST_BIG_OPS;
			}
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof names[i], "%s_seed_%u",
		    tw_tag[cases[i].tw], cases[i].seed);
		tests[i].name = names[i];
		tests[i].test_func = test_order_case;
		tests[i].setup_func = NULL;
		tests[i].teardown_func = test_teardown;
		tests[i].initial_state = &cases[i];
	}
	return _cmocka_run_group_tests("order", tests, n, group_setup,
	    group_teardown);
}
