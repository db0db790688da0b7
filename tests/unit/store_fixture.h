/*
 * store_fixture.h: what the unit tests of storage/ (tests/unit/test_store_*.c)
 * share: stores in temporary directories, puts and reads of records,
 * commits collected from a store and applied to another, commits built and
 * signed by hand, enrollment of writing keys, listing, and conflicts.
 *
 * Every store lives in a directory under one mkdtemp() root in /tmp, made
 * by group_setup() and removed by group_teardown(); test_teardown() closes
 * what a failed test left open.
 *
 * Every writing key other than the network's admin is enrolled by an
 * admin member record (role hub in the tests about merging, clocks and
 * conflicts) applied before that key's first commit.
 */
#ifndef CAFESYNC_TESTS_STORE_FIXTURE_H
#define CAFESYNC_TESTS_STORE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "proto/proto.h"
#include "storage/storage.h"

/* ---- temporary directories and open stores ---------------------------- */

/* Group setup: sodium_init() and the mkdtemp() root. */
int group_setup(void **state);
/* Group teardown: removes the root and everything under it. */
int group_teardown(void **state);
/* Per-test teardown: closes every store the test left open. */
int test_teardown(void **state);

/* A fresh, not yet existing directory path under the root. */
void new_dir(char *out, size_t len);
/* Opens the store in dir, failing the test if it does not open. */
struct store *open_dir(const char *dir);
/* Creates and opens a node; dir (128 bytes) gets its path if not NULL. */
struct store *mk_store(const char *name, const char *role,
    const uint8_t *network, char *dirout);
/* Closes a store the test opened. */
void t_close(struct store *s);

/* What the test is doing, for failure messages. */
extern char t_ctx[160];

/* ---- records ---------------------------------------------------------- */

#define NKV(a) (sizeof(a) / sizeof((a)[0]))

/* The schema's type of that name; fails the test if there is none. */
const struct sch_type *type_of(const char *name);
/* The index of the type in sch_types[] (and store_status counts). */
unsigned type_index(const char *name);
/* The id in hex, in buf; returns buf. */
const char *hexid(const uint8_t id[PROTO_ID_LEN], char buf[33]);

/* One put as a batch of its own; returns the result, cause to *cause. */
int put_kv(struct store *s, const char *type, uint8_t id[PROTO_ID_LEN],
    int create, const struct store_kv *kv, size_t n, char **cause);

/* A put of fields { name, value }... that must succeed. */
#define PUT_OK(s, type, id, create, ...) do {				\
	const struct store_kv kv_[] = { __VA_ARGS__ };			\
	char *c_ = NULL;						\
	int rc_ = put_kv((s), (type), (id), (create), kv_, NKV(kv_), &c_); \
	if (rc_ != 0)							\
		fail_msg("put %s: %d (%s) %s", (type), rc_,		\
		    cs_strerror(rc_), c_ ? c_ : "");			\
	free(c_);							\
} while (0)

/* Deletes a record as a batch of its own; must succeed. */
void del_ok(struct store *s, const uint8_t id[PROTO_ID_LEN]);
/* The text form (sch_format) of a field of a record. */
void field_text(const struct store_rec *r, const char *name, char *buf,
    size_t len);
/* Fails the test unless the field's text form is want. */
void assert_field(const struct store_rec *r, const char *name,
    const char *want);
/* store_get that must find the record. */
void get_ok(struct store *s, const uint8_t id[PROTO_ID_LEN],
    struct store_rec *r);

/* ---- collected commits ------------------------------------------------ */

/* One commit as bytes (e, elen, sig) and what it says of itself. */
struct citem {
	uint8_t *e;
	size_t elen;
	uint8_t sig[PROTO_SIG_LEN];
	uint8_t origin[PROTO_KEY_LEN];
	uint8_t hash[PROTO_HASH_LEN];
	uint64_t seq;
	uint64_t hlc;
};

/* A growing list of commits; zero-initialized is empty. */
struct clist {
	struct citem *v;
	size_t n, cap;
};

/* A new zeroed item at the end of l. */
struct citem *clist_add(struct clist *l);
/* Frees every item's bytes and the list, leaving it empty. */
void clist_free(struct clist *l);
/* Every commit of origin (or of all, origin NULL) in s. */
void collect(struct store *s, const uint8_t *origin, struct clist *l);

/* Applies n commits in one store_apply; results go to res (may be NULL). */
void apply_items(struct store *s, const struct citem *const *v, size_t n,
    int *res);
/* Applies one commit given as bytes; returns its result, the item to out. */
int apply_raw(struct store *s, const uint8_t *e, size_t elen,
    const uint8_t *sig, struct store_item *out);
/* Applies one collected commit; returns its result. */
int apply_one(struct store *s, const struct citem *c);
/*
 * Applies every commit of l, in order, expecting each to apply (or to
 * wait for an admin commit later in l), and nothing to wait at the end.
 */
void apply_all_ok(struct store *s, const struct clist *l);

/* ---- hand-built commits ----------------------------------------------- */

/* A key that signs commits by hand, and the head of its chain. */
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

#define T_MS UINT64_C(1767225600000) /* 2026-01-01 */
#define HLC_AT(ms, ctr) (((uint64_t)(ms) << 16) | (uint64_t)(ctr))

/* A new key pair with an empty chain. */
void new_origin(struct origin *o);
/* Encodes and signs a commit at an explicit seq and prev. */
void hb_make(struct citem *out, const struct origin *o,
    const uint8_t net[PROTO_KEY_LEN], uint64_t seq, const uint8_t *prev,
    uint64_t hlc, const struct hop *ops, size_t nops);
/* Encodes and signs o's next commit, advancing its chain. */
void hb_next(struct citem *out, struct origin *o,
    const uint8_t net[PROTO_KEY_LEN], uint64_t hlc, const struct hop *ops,
    size_t nops);
/* Starts op as a put of a record of type at id, with no fields. */
void hop_put(struct hop *op, const char *type, const uint8_t *id);
/* Adds field name = val (text form, NULL for nil) to op. */
void hop_field(struct hop *op, const char *name, const char *val);
/* Adds to op's base the clock hlc of field name. */
void hop_base(struct hop *op, const char *name, uint64_t hlc);
/* A put of a site record at id with only its name. */
void site_op(struct hop *op, const uint8_t *id, const char *name);

/* ---- enrollment (storage/trust.c) ------------------------------------- */

/*
 * Every commit must come from the network's admin (the key that is the
 * network id) or from a key the admin enrolled by a member record, whose
 * id is made from the key (proto_member_id()).  The tests about merging,
 * clocks and conflicts enroll their writing keys as hubs (a hub writes
 * every type but member) before those keys' commits arrive.
 */

/* Text forms a member op's values point at; must outlive the hb_*() call. */
struct mtext {
	char key[2 * PROTO_KEY_LEN + 1];
	char site[2 * PROTO_ID_LEN + 1];
	char after[24];
};

#define ENROLL_MAX 4

/* A put of key's member record at the key's prefix, role and name. */
void member_op(struct hop *op, struct mtext *t,
    const uint8_t key[PROTO_KEY_LEN], const char *role, const char *name);
/* The admin's next commit: a hub member record for each of n (at most
 * ENROLL_MAX) keys. */
void enroll_next(struct citem *out, struct origin *adm, uint64_t hlc,
    const uint8_t *const *keys, size_t n);
/*
 * Enrolls node's key with role through a local write of the admin store
 * adm (the network's admin), then gives node adm's log, so the member
 * record is on node before node writes anything of its own.
 */
void enroll_store(struct store *adm, struct store *node, const char *role);

/* ---- listing ---------------------------------------------------------- */

/* The ids store_list gave (the first 32) and how many it gave. */
struct list_acc {
	size_t n;
	uint8_t ids[32][PROTO_ID_LEN];
	int stop_after;
};

/* store_list callback into a struct list_acc; stops after stop_after
 * records unless that is 0. */
int list_cb(const struct store_rec *r, void *arg);
/* Whether id is among the ids a listed. */
int list_has(const struct list_acc *a, const uint8_t *id);
/* Lists every record of type (NULL: every type) into a. */
void list_type(struct store *s, const char *type, struct list_acc *a,
    int with_deleted);

/* ---- conflicts -------------------------------------------------------- */

#define CONF_MAX 1024

/* The conflicts a store lists, one line each, sorted. */
struct conf_acc {
	char lines[CONF_MAX][200];
	size_t n;
};

/* The conflicts of record id (NULL: of every record) in s, into a. */
void conflicts_of(struct store *s, const uint8_t *id, struct conf_acc *a);

#endif
