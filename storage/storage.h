/*
 * storage.h: a node's LMDB store and the café schema.
 *
 * The one public interface of storage/.  A store is one LMDB environment in
 * a data directory, beside the node's key file.  It holds the signed log
 * (commits by origin and seq), the heads, the records materialized from the
 * log by per-field last-writer-wins merge, the secondary indexes, the
 * conflicts, the forks kept as evidence, the members and the meta data.
 * Every local commit and every received batch is one LMDB write
 * transaction.  storage/ knows nothing of sockets or event loops.
 *
 * The schema (one table of types and fields, schema.c) drives validation,
 * parsing of name=value text, help, CSV columns and JSON keys.
 */
#ifndef CAFESYNC_STORAGE_H
#define CAFESYNC_STORAGE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../proto/proto.h"
#include "../proto/zcodec.h"

/* ---- schema ---------------------------------------------------------- */

/* Field types and how each is encoded in an op (docs/formats.md). */
enum sch_ftype {
	SCH_TEXT,  /* str of at most max bytes */
	SCH_ENUM,  /* str, one of tokens */
	SCH_SET,   /* array of distinct tokens, sorted by token order */
	SCH_LIST,  /* array of str, each at most max bytes */
	SCH_DATE,  /* str YYYY-MM-DD, a real calendar date */
	SCH_UINT,  /* uint in [min, max] */
	SCH_DEC2,  /* uint: a decimal with two places times 100, in [min, max] */
	SCH_REF,   /* bin 16: the id of a record of type ref */
	SCH_REFS,  /* array of bin 16 ids of records of type ref */
	SCH_KEY,   /* bin 32: a node's key (its ed25519 public key) */
};
/* Outside the enum, so that a switch over it must name every type. */
#define SCH_FTYPE_COUNT (SCH_KEY + 1)

/* What other layers ask of a field type (one row each, by enum sch_ftype;
 * how each parses and checks is schema.c's table beside it). */
struct sch_ftype_info {
	const char *name;   /* as help text says it */
	int list;           /* an array of items; text separates them by commas */
	int trim;           /* spaces around typed text mean nothing */
	int refs;           /* the ids of records of type ref */
	int tokens;         /* values from the field's tokens */
	int decimals;       /* digits after the point of a stored number */
	enum sch_ftype item; /* the type of one item (a scalar: itself) */
};
extern const struct sch_ftype_info sch_ftypes[SCH_FTYPE_COUNT];
/* Tells whether type t has a whole row of traits and of behaviour: a
 * name, a check, a parse of a scalar or of a list's items (as its list
 * trait says), and a scalar item type (its own, for a scalar). */
int sch_ftype_whole(enum sch_ftype t);

/* Roles, as bits of a type's writers mask. */
#define SCH_ROLE_ADMIN 0x1
#define SCH_ROLE_SITE 0x2
#define SCH_ROLE_CONSULTANT 0x4

/*
 * Advice on a field: a value worth a warning that does not refuse it.  A
 * set with advice should hold every one of its tokens (what names them:
 * "fidelity elements"); a count with advice should be at most over (what
 * names a value, "a table of", and why names the rule).
 */
struct sch_advice {
	const char *what;
	uint32_t over;
	const char *why;
};

struct sch_field {
	const char *name;
	enum sch_ftype type;
	int required;
	uint32_t min, max;          /* SCH_UINT/DEC2 bounds; TEXT/LIST max bytes */
	const char *const *tokens;  /* ENUM and SET: NULL-terminated */
	const char *ref;            /* REF and REFS: the referenced type */
	const char *help;
	const char *at_most;        /* SCH_UINT: a field of the same record
	                             * whose value bounds this one, or NULL */
	const char *from;           /* a REF field of the same record: a new
	                             * record that names no value takes this
	                             * field's value from the record that one
	                             * references (an action its café's site),
	                             * or NULL */
	const struct sch_advice *advice; /* SCH_SET and SCH_UINT, or NULL */
};

struct sch_type {
	const char *name;
	unsigned writers;           /* SCH_ROLE_* bits */
	const struct sch_field *fields;
	unsigned nfields;
	const char *help;
	const char *id_from;        /* a SCH_KEY field a new record's id is
	                             * made from (proto_member_id()), or NULL:
	                             * a fresh id (proto_id_new()) */
	const char *log_site;       /* the SCH_REF field naming the site whose
	                             * hub log carries the admin's writes of
	                             * the record (docs/security.md), or NULL:
	                             * the admin log */
};

extern const struct sch_type sch_types[];
extern const unsigned sch_ntypes;

/*
 * The wire's compression dictionary, derived from the schema table
 * (storage/zdict.c): its bytes into w, or the dictionary itself, made
 * once and kept for the process's life.
 */
void storage_zdict_content(struct proto_enc *w);
const struct zc_dict *storage_zdict(void);

/* Looks a type or field up by name (len bytes, not NUL-terminated). */
const struct sch_type *sch_type_find(const char *name, size_t len);
const struct sch_field *sch_field_find(const struct sch_type *t,
    const char *name, size_t len);

/*
 * Checks the rules of one put op that need nothing but the op (the same
 * for a local write and a received commit): a create (create 1: an op
 * without a base) sets every required field, an edit clears none, and a
 * count bounded by another field (at_most) that the op also sets is within
 * it.  fields are the op's (name, value) pairs, values already checked by
 * sch_check().  Returns NULL or why not (in buf, naming the field).
 */
const char *sch_op_check(const struct sch_type *t,
    const msgpack_object_kv *fields, uint32_t n, int create, char *buf,
    size_t len);

/* Returns the bits (1 << token index) of f's tokens that the set value v
 * holds; 0 for NULL or a value that is not an array. */
unsigned sch_token_bits(const struct sch_field *f, const msgpack_object *v);

/* Returns the field's type as a word for help text ("date", "set", ...). */
const char *sch_ftype_name(enum sch_ftype t);

/*
 * Resolves a reference's text (a record id or a unique prefix of one) to an
 * id of a record of type ref.  Returns 0, or 1 when the text is a full id
 * not (yet) on this node: allowed, since it may arrive by sync, and worth a
 * warning; or a negative error with *cause (malloc'd) set.
 */
typedef int (*sch_resolve_fn)(void *arg, const char *ref, const char *text,
    uint8_t id[PROTO_ID_LEN], char **cause);

/*
 * Parses a field's text form (as typed after name=) and packs its encoded
 * value into pk.  Empty text packs nil, which clears an optional field.
 * Returns 0, or CS_EUSAGE with *cause (malloc'd) naming the field and the
 * rule.  *warn (malloc'd, or left NULL) carries a warning that does not
 * refuse the value.
 */
int sch_parse(const struct sch_field *f, const char *text, msgpack_packer *pk,
    sch_resolve_fn resolve, void *rarg, char **cause, char **warn);

/*
 * Checks a decoded value against its field: the same rules as sch_parse()
 * applies to text.  nil is accepted for optional fields.  Returns 0 or
 * CS_ESCHEMA with a static *cause.
 */
int sch_check(const struct sch_field *f, const msgpack_object *v,
    const char **cause);

/*
 * Writes a value's text form (what sch_parse() reads back) to out, a
 * buffer of size outlen, truncating if needed.  nil writes "".
 */
void sch_format(const struct sch_field *f, const msgpack_object *v,
    char *out, size_t outlen);

/* Parses YYYY-MM-DD into YYYYMMDD as an integer; returns 0 or -1. */
int sch_date_parse(const char *s, size_t len, uint32_t *ymd);

/* ---- store ------------------------------------------------------------ */

struct store;

/* What a node knows about itself (meta). */
struct store_info {
	uint8_t node[PROTO_KEY_LEN];
	uint8_t network[PROTO_KEY_LEN];
	char role[16];
	char name[64];
};

/*
 * Creates a node in dir (made if missing, mode 0700): a fresh ed25519 key
 * pair in dir/node.key (mode 0600, never overwritten) and the store with
 * its meta.  network NULL makes this node's key the network id.  Returns 0,
 * CS_EEXIST when dir already holds a node, or another error with *cause.
 */
int store_create(const char *dir, const char *name, const char *role,
    const uint8_t *network, char **cause);

/*
 * Creates a node in dir from a backed-up secret key sk (64 bytes, as in
 * node.key) for network.  Unless force, the node is marked restored: it
 * refuses local writes (CS_EPERM) until store_restore_done(), which the
 * daemon calls once a peer has given back the node's own log, so a
 * restore never forks the node's log.  Returns 0 or an error with *cause.
 */
int store_restore(const char *dir, const char *name, const char *role,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t sk[PROTO_SK_LEN],
    int force, char **cause);

/* Returns 1 while a restored node waits for its own log, else 0. */
int store_restore_pending(struct store *s);

/* Ends the wait of a restored node; returns 0 or an error with *cause. */
int store_restore_done(struct store *s, char **cause);

/*
 * Returns the id of the last committed write transaction of the store
 * (by any process): a cheap way to notice that something was written.
 */
uint64_t store_txnid(struct store *s);

/*
 * Opens the node in dir.  Refuses a key file that group or others can read.
 * Checks data.mdb's meta pages against its size before mapping it.
 * Returns 0 with *sp set, or an error with *cause (malloc'd): CS_EDAMAGED
 * ("store damaged: ...") for a truncated file or one LMDB calls corrupt.
 */
int store_open(struct store **sp, const char *dir, char **cause);

/* Closes the store and wipes the secret key from memory. */
void store_close(struct store *s);

/*
 * Whose a node's files are (owner.c).  store_owner_check() returns 0 when
 * path is missing or the effective user's, else -1 with *owner and
 * *cause "PATH is owned by NAME (uid N), not by ME (uid M)" (malloc'd).
 * store_user_text() gives "NAME (uid N)", store_user_name() "NAME"
 * (both malloc'd; the uid in digits without a passwd entry).
 */
int store_owner_check(const char *path, uid_t *owner, char **cause);
int store_files_check(const char *dir, char **cause);
char *store_user_text(uid_t uid);
char *store_user_name(uid_t uid);

/* Returns the wall clock in milliseconds since the epoch. */
uint64_t store_now_ms(void);

/* Returns the node's meta; valid until store_close(). */
const struct store_info *store_info(const struct store *s);

/*
 * Returns the node's secret key (64 bytes), for the daemon's handshake
 * signature; valid until store_close(), which wipes it.
 */
const uint8_t *store_secret_key(const struct store *s);

/*
 * Local writes.  A batch gathers ops and commits them as one or more signed
 * commits (at most PROTO_MAX_OPS ops and STORE_LOCAL_COMMIT bytes each) in
 * one LMDB write transaction: all land, or none.  Local commits are kept
 * far below PROTO_MAX_COMMIT so each crosses a slow link in a few seconds
 * and a large import reaches a peer commit by commit.
 */
struct store_batch;

#define STORE_LOCAL_COMMIT (16 * 1024) /* bytes of one local commit E */

struct store_kv {
	const char *name;
	const char *value;
};

/* Starts an empty batch. */
struct store_batch *store_batch_new(struct store *s);

/*
 * Adds a put.  With create, makes a new id into id and requires every
 * required field; without, id names an existing, live record of type t and
 * the op carries as base the clock of each field's current value.  Every
 * field is parsed and checked against the schema.  Warnings (a reference
 * that may arrive later, a café missing fidelity elements) are appended to
 * the batch's warnings.  Returns 0 or an error with *cause (malloc'd)
 * naming the field and the rule; on error the batch is unchanged.
 */
int store_batch_put(struct store_batch *b, const struct sch_type *t,
    uint8_t id[PROTO_ID_LEN], int create, const struct store_kv *kv,
    size_t n, char **cause);

/* Adds a delete of a live record.  Returns 0 or an error with *cause. */
int store_batch_del(struct store_batch *b, const uint8_t id[PROTO_ID_LEN],
    char **cause);

/* Returns the number of ops added so far. */
size_t store_batch_count(const struct store_batch *b);

/*
 * Returns the i-th warning gathered so far, or NULL past the last.  Valid
 * until store_batch_free().
 */
const char *store_batch_warning(const struct store_batch *b, size_t i);

/*
 * Starts writing the batch while it is still being filled: a thread of
 * the store's takes the write transaction now (other writers wait until
 * the batch is committed or freed) and signs and applies each commit's
 * worth of ops as soon as the batch holds it.  Nothing is durable before
 * store_batch_commit(); store_batch_free() without it writes nothing.
 * Call it on an empty batch.  Returns 0, or an error and the batch works
 * as without it.
 */
int store_batch_stream(struct store_batch *b);

/*
 * Signs and commits the batch in one transaction.  Returns 0, or an error
 * with *cause, in which case nothing was written.
 */
int store_batch_commit(struct store_batch *b, char **cause);

/* Frees a batch (committed or not). */
void store_batch_free(struct store_batch *b);

/*
 * Received commits.  Each item carries the exact bytes received; the
 * store verifies and applies the items in one write transaction, each on
 * its own: a refused item writes nothing and does not stop the others.
 * result is 0 (applied), CS_EDUP (already stored: nothing to do),
 * CS_EPENDING (held, waiting until the admin log allows it: applied by a
 * later store_apply() the moment it does) or an error, with cause saying
 * why.  origin and seq are filled whenever the
 * commit decodes, so the refusal can name the commit.
 */
struct store_item {
	const uint8_t *e;
	size_t elen;
	const uint8_t *sig;
	int result;
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
	char cause[160];
	int sig_ok;        /* set by the store: signature checked ahead */
};

/*
 * Checks the signatures of items[from..to) in the calling thread, ahead
 * of store_apply(), which then skips them: a receiver can check one batch
 * on other threads while the store writes the previous one.  Thread-safe;
 * touches nothing but the items.  A commit that does not check out is
 * checked again, and refused, by store_apply().
 */
void store_verify_items(struct store *s, struct store_item *items,
    size_t from, size_t to);

/* Applies n items; returns 0 when the transaction committed (look at each
 * item's result), or an error with *cause when nothing was written. */
int store_apply(struct store *s, struct store_item *items, size_t n,
    char **cause);

/*
 * Origins with a refused commit: their later commits are refused too, so
 * nothing after a damaged or missing commit lands.  Owned by the caller;
 * a receiver keeps one per connection.
 */
struct store_failed {
	uint8_t (*origin)[PROTO_KEY_LEN];
	size_t n;
	uint64_t drained;  /* pending commits accepted, added up across calls */
};

/*
 * Calls fn for each origin with commits waiting for the admin log: how
 * many, the first seq, and why the first waits (as the admin log held now
 * says).  A non-zero return from fn stops.  Returns 0 or CS_EDB.
 */
typedef int (*store_pending_fn)(const uint8_t origin[PROTO_KEY_LEN],
    uint64_t first, uint64_t n, const char *why, void *arg);
int store_pending(struct store *s, store_pending_fn fn, void *arg);

/* Applies items as store_apply() does, refusing items of failed origins
 * and adding the origins of refused items to failed. */
int store_apply_ex(struct store *s, struct store_item *items, size_t n,
    struct store_failed *failed, char **cause);

/*
 * A materialized record, as read.  clocks is the record's table of
 * [hlc, origin] pairs; fields is the map name -> [value, clock index]
 * sorted by name.  Use the accessors below.  Valid until
 * store_rec_free().
 */
struct store_rec {
	const struct sch_type *type;
	uint8_t id[PROTO_ID_LEN];
	int deleted;
	const msgpack_object *clocks;
	uint32_t nclocks;
	const msgpack_object_kv *fields;
	uint32_t nfields;
	msgpack_unpacked up;
	uint8_t *raw;               /* owned copy of the bytes, or NULL */
};

/* Returns the value of field name, or NULL when absent or nil. */
const msgpack_object *store_rec_value(const struct store_rec *r,
    const char *name);

/* Returns the clock of field name (0 when absent). */
uint64_t store_rec_clock(const struct store_rec *r, const char *name);

/* Returns the origin that wrote field name, or NULL when absent. */
const uint8_t *store_rec_origin(const struct store_rec *r, const char *name);

/* Releases a record read by store_get(). */
void store_rec_free(struct store_rec *r);

/* Reads a record by id; returns 0 or CS_ENOTFOUND. */
int store_get(struct store *s, const uint8_t id[PROTO_ID_LEN],
    struct store_rec *r);

/*
 * Resolves text (a full id or a unique hex prefix, at least 4 chars) to an
 * id.  type, when not NULL, requires a record of that type.  Returns 0,
 * CS_ENOTFOUND or CS_EAMBIG or CS_EUSAGE with *cause (malloc'd).
 */
int store_resolve(struct store *s, const char *text,
    const struct sch_type *type, uint8_t id[PROTO_ID_LEN], char **cause);

/* Resolves like store_resolve(), removed records included, any type. */
int store_resolve_all(struct store *s, const char *text,
    uint8_t id[PROTO_ID_LEN], char **cause);

/* Filters for store_list(); zero means no filter. */
struct store_query {
	const struct sch_type *type;
	const uint8_t *site;       /* records whose site field is this id */
	uint32_t since, until;     /* YYYYMMDD bounds on the date field */
	int with_deleted;
};

/* Called for each record; a non-zero return stops the listing. */
typedef int (*store_rec_fn)(const struct store_rec *r, void *arg);

/* Lists live records matching q in (date, id) or id order. */
int store_list(struct store *s, const struct store_query *q, store_rec_fn fn,
    void *arg);

/*
 * Walks one origin's stored commits from seq from, in order, stopping at
 * a gap, handing each one's exact bytes (valid during the call) to fn.
 * fn returns 0 to go on, > 0 to stop, < 0 to stop with that error.
 */
typedef int (*store_raw_fn)(uint64_t seq, const uint8_t *e, size_t elen,
    const uint8_t *sig, void *arg);
int store_log_raw(struct store *s, const uint8_t origin[PROTO_KEY_LEN],
    uint64_t from, store_raw_fn fn, void *arg);

/* One stored commit, as handed to callbacks; valid during the call. */
struct store_commit {
	const struct proto_commit *c;
	const uint8_t *e;
	size_t elen;
	const uint8_t *sig;
	const uint8_t *hash;
	uint64_t recv_ms;          /* when this node stored it */
};

typedef int (*store_commit_fn)(const struct store_commit *sc, void *arg);

/* Walks the log of one origin (or of all, origin NULL) from seq from. */
int store_log(struct store *s, const uint8_t *origin, uint64_t from,
    store_commit_fn fn, void *arg);

/* One change to a record, for store_history(). */
struct store_change {
	const struct store_commit *sc;
	const struct proto_op *op;
};
typedef int (*store_change_fn)(const struct store_change *ch, void *arg);

/* Walks every op that touched id, in clock order. */
int store_history(struct store *s, const uint8_t id[PROTO_ID_LEN],
    store_change_fn fn, void *arg);

/* One head: the last commit of an origin. */
typedef int (*store_head_fn)(const uint8_t origin[PROTO_KEY_LEN],
    uint64_t seq, const uint8_t hash[PROTO_HASH_LEN], void *arg);
int store_heads(struct store *s, store_head_fn fn, void *arg);

/* Returns the seq of origin's head, 0 when this node holds none of it. */
uint64_t store_head_seq(struct store *s, const uint8_t origin[PROTO_KEY_LEN]);

/*
 * Returns the store's derivation epoch: how many times the records were
 * derived anew because accepted commits were withdrawn (an admin commit
 * that revoked or changed a member).  It moves in the transaction of the
 * withdrawal, so a reader that saw epoch e and sees it again knows every
 * record changed since by a commit past the heads it saw; one that sees
 * it moved must read the records anew (mirror/ does).  0 when never.
 */
uint64_t store_epoch(struct store *s);

/* One conflict: a value that lost to a write that had not seen it. */
struct store_conflict {
	const struct sch_type *type;
	const uint8_t *id;
	const char *field;
	const msgpack_object *value;      /* the losing value */
	uint64_t hlc;
	const uint8_t *origin;
	const msgpack_object *winner;     /* the value that won */
	uint64_t winner_hlc;
	const uint8_t *winner_origin;
};
typedef int (*store_conflict_fn)(const struct store_conflict *c, void *arg);
int store_conflicts(struct store *s, const uint8_t *id,
    store_conflict_fn fn, void *arg);

/* Counts of live records per type (indexed as sch_types) and the digest. */
struct store_status {
	uint64_t counts[16];
	uint64_t commits;
	uint64_t forks;
	uint8_t digest[PROTO_HASH_LEN];
};
/* Fills st; returns 0, CS_EDB, or CS_EDAMAGED when the index cannot be
 * read to its end (st then holds what could be counted). */
int store_status(struct store *s, struct store_status *st);

/*
 * Re-checks every stored commit: decoding, signature and chain.  Calls fn
 * for each fault with the commit's origin, seq and reason; origin is NULL
 * for a store that cannot be read to its end (why then starts "store
 * damaged:").  Returns the number of faults (0 when all hold) or a
 * negative error.  It checks the log only: store_audit() checks what is
 * derived from it.
 */
typedef void (*store_fault_fn)(const uint8_t origin[PROTO_KEY_LEN],
    uint64_t seq, const char *why, void *arg);
int store_verify(struct store *s, store_fault_fn fn, void *arg);

/* ---- trust ------------------------------------------------------------ */

/*
 * Membership, from the admin log (trust.c).  The admin is the key that is
 * the network id; every other node is enrolled by a member record.
 */
enum store_role {
	STORE_ROLE_NONE,
	STORE_ROLE_ADMIN,
	STORE_ROLE_HUB,
	STORE_ROLE_SITE,
	STORE_ROLE_CONSULTANT,
};

struct store_member {
	uint8_t key[PROTO_KEY_LEN];
	char name[64];
	enum store_role role;
	int has_site;                  /* a site key: the site it speaks for */
	uint8_t site[PROTO_ID_LEN];
	uint8_t (*sites)[PROTO_ID_LEN];  /* a consultant's sites (owned) */
	size_t nsites;
	int scope_all;                 /* reads every site */
	int revoked;
	uint64_t revoked_after;        /* revoked: last valid seq */
};

/*
 * The one table of role names, by enum store_role, NULL after the last:
 * "none", "admin", "hub", "site", "consultant".  From STORE_ROLE_HUB on
 * it lists the roles a key is enrolled with (the member record's enum,
 * cafe init --role, an invite's role).
 */
extern const char *const store_role_names[];
#define STORE_ROLE_TOKENS (&store_role_names[STORE_ROLE_HUB])

/* Returns "admin", "hub", "site", "consultant" or "none". */
const char *store_role_name(enum store_role r);

/* Parses a role a key may be enrolled with: STORE_ROLE_HUB, _SITE or
 * _CONSULTANT, or STORE_ROLE_NONE for anything else ("admin" included). */
enum store_role store_role_parse(const char *s);

/*
 * A new member record (docs/formats.md, "The admin log"): key, role, name,
 * status active; for a site key the site it speaks for; for a consultant
 * the sites it reads (scope assigned) or, with sites NULL, every site
 * (scope all).  site and sites are as a reference field takes them (hex
 * ids, comma-separated).
 */
struct store_enroll {
	const uint8_t *key;
	enum store_role role;
	const char *name;
	const char *site;
	const char *sites;
};

/*
 * Adds the op that creates e's member record (at the key's member id) to
 * batch b: the one recipe cafe member add, invite redemption and the
 * admin's enrollment of a site's hub log (batch.c) share.
 * Returns 0 or an error with *cause, as store_batch_put().
 */
int store_batch_enroll(struct store_batch *b, const struct store_enroll *e,
    char **cause);

/*
 * Looks up a key's membership: 0 with *m filled (free it with
 * store_member_free()), CS_ENOTFOUND when the key is not enrolled.
 */
int store_member_get(struct store *s, const uint8_t key[PROTO_KEY_LEN],
    struct store_member *m);
void store_member_free(struct store_member *m);

/* Calls fn for every member record (revoked ones too); valid during the
 * call. */
typedef int (*store_member_fn)(const struct store_member *m, void *arg);
int store_members(struct store *s, store_member_fn fn, void *arg);

/*
 * Derives the key of site's hub log from this node's (the admin's) secret
 * key: the same key for the same site on every restore of the admin key,
 * usable by nobody without it.  Fills pk and sk (wipe sk after use).
 */
void store_site_key(const struct store *s, const uint8_t site[PROTO_ID_LEN],
    uint8_t pk[PROTO_KEY_LEN], uint8_t sk[PROTO_SK_LEN]);

/* Tells whether m may read (and write for) site. */
int store_member_reads_site(const struct store_member *m,
    const uint8_t site[PROTO_ID_LEN]);

/*
 * Read scope: tells whether reader may receive the log of origin, whose
 * membership is author (NULL when origin is not enrolled).  Everyone
 * receives the admin log and its own log; the admin, hubs and consultants
 * reading all sites receive everything; a consultant with assigned sites
 * receives the logs of those sites' keys; a site nothing more.
 */
int store_scope_allows(const struct store_member *reader,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t origin[PROTO_KEY_LEN],
    const struct store_member *author);

/*
 * Invites (invite.c).  The admin makes a one-time invite: a random id and
 * secret, the role and site the joining key gets, and an expiry; the
 * store keeps the secret's hash only.  Redeeming checks the secret, the
 * expiry and that the invite is unused, marks it used, and enrolls the
 * joining key, all in one transaction: an invite works once.
 */
#define STORE_INVITE_ID_LEN 16
#define STORE_INVITE_SECRET_LEN 32

struct store_invite {
	uint8_t id[STORE_INVITE_ID_LEN];
	uint8_t secret[STORE_INVITE_SECRET_LEN];   /* only when made */
	char role[16];
	int has_site;
	uint8_t site[PROTO_ID_LEN];
	uint64_t expires_ms;                     /* set when made */
};

/*
 * Makes an invite (admin only) that works for ttl_ms from now: fills id,
 * secret and expires_ms; 0 or an error with *cause.
 */
int store_invite_make(struct store *s, struct store_invite *inv,
    uint64_t ttl_ms, char **cause);

/*
 * Redeems an invite for key, enrolling it under name.  Returns 0 with
 * *role set (a static string), or an error with *cause (malloc'd) saying
 * why, the invite left as it was: CS_ENOTFOUND (unknown), CS_EPERM (wrong
 * secret, used, expired, the key enrolled already), CS_EUSAGE (a name or
 * role the member record refuses), or the store's error.
 */
int store_invite_redeem(struct store *s, const uint8_t id[STORE_INVITE_ID_LEN],
    const uint8_t secret[STORE_INVITE_SECRET_LEN],
    const uint8_t key[PROTO_KEY_LEN], const char *name, const char **role,
    char **cause);

/* ---- peers ------------------------------------------------------------ */

/*
 * A peer the node syncs with, kept in the store so that `cafe peer add`
 * works with or without a running daemon.  addr is "host:port" to dial,
 * or "" for a peer that only connects to us.
 */
struct store_peer {
	char name[64];
	char addr[272];
	uint8_t key[PROTO_KEY_LEN];
};

/* Adds or replaces a peer (by name); returns 0 or an error with *cause. */
int store_peer_put(struct store *s, const struct store_peer *p,
    char **cause);

/* Removes a peer; returns 0, CS_ENOTFOUND, or an error with *cause. */
int store_peer_del(struct store *s, const char *name, char **cause);

/* Calls fn for each peer, by name; a non-zero return stops. */
typedef int (*store_peer_fn)(const struct store_peer *p, void *arg);
int store_peers(struct store *s, store_peer_fn fn, void *arg);

/* ---- bundles ---------------------------------------------------------- */

/* A starting point for an export: commits of origin after seq. */
struct store_since {
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t seq;
};

/*
 * Writes a plain bundle of every commit (after the since points given for
 * some origins) to f.  *count gets the number of commits written.
 */
int store_bundle_export(struct store *s, FILE *f,
    const struct store_since *since, size_t nsince, uint64_t *count,
    char **cause);

/*
 * Writes the same plain bundle as zstd frames, a fresh frame at each
 * origin (docs/formats.md, "Compressed bundle").  Returns as
 * store_bundle_export().
 */
int store_bundle_export_compressed(struct store *s, FILE *f,
    const struct store_since *since, size_t nsince, uint64_t *count,
    char **cause);

/*
 * Writes a bundle like store_bundle_export(), sealed to the node whose id
 * is to (docs/formats.md, "Sealed bundle"): only that node's secret key
 * opens it.  Returns 0, CS_EUSAGE when to is not a key a bundle can be
 * sealed to, or CS_EIO, with *cause.
 */
int store_bundle_export_sealed(struct store *s, FILE *f,
    const uint8_t to[PROTO_KEY_LEN], const struct store_since *since,
    size_t nsince, uint64_t *count, char **cause);

/* Called for each refused commit of an import (index is 1-based). */
typedef void (*store_refuse_fn)(uint64_t index, const uint8_t *origin,
    uint64_t seq, const char *why, void *arg);

struct store_import_stats {
	uint64_t read, applied, dup, refused;
	uint64_t pending;     /* held, waiting for the admin log */
	uint64_t drained;     /* pending commits the import's admin commits
	                       * let in (counted in applied too) */
};

/*
 * Reads a plain bundle from f, verifies every commit as a network peer
 * would and applies what is valid, in batches.  After a refused commit,
 * later commits of the same origin are refused too.  A damaged or cut
 * stream stops the import at the damage (counted as one refusal).  Returns
 * 0 when the stream was read to its end, or an error with *cause; look at
 * stats for refusals.
 *
 * A sealed bundle is recognised by its magic and opened with this node's
 * key; then the plain bundle inside is imported as above.  Nothing is
 * applied unless every chunk opens and the final one is there, so a
 * failure leaves the store as it was: CS_EPERM when it is sealed to
 * another node, CS_EDECODE or CS_EVERSION for a header this code does not
 * read, CS_ESIG for a damaged, altered or reordered chunk (or bytes after
 * the final one), CS_ETRUNC for a file that ends early, each with *cause
 * naming the header or the chunk.  A sealed bundle read from a pipe is
 * first copied, still sealed, to a temporary file, since it is read twice.
 */
int store_bundle_import(struct store *s, FILE *f, store_refuse_fn fn,
    void *arg, struct store_import_stats *stats, char **cause);

/* ---- audit ------------------------------------------------------------ */

/*
 * What an integrity fault is about (store_audit()):
 *   COMMIT   a stored commit that does not decode, is filed under another
 *            (origin, seq), breaks its origin's chain, is missing from it,
 *            or whose signature does not verify;
 *   HEAD     a head that disagrees with the last stored commit of its
 *            origin, or that names a commit not stored;
 *   HISTORY  an applied op missing from its record's history, or a history
 *            entry that names no stored commit or op;
 *   DIGEST   the stored digest is not the digest of the stored records;
 *   RECORD   a record that differs from the one replaying the log gives;
 *   REPLAY   a commit that verifies but that replaying the log refuses;
 *   DERIVED  an entry of a table the merge derives (the bydate and bysite
 *            indexes, the conflicts, the seen bases) missing, extra or
 *            different from what replaying the log gives, or the node's
 *            clock behind a stored commit's;
 *   RECEIVED a received time kept before a commit that cannot be right
 *            (none, in the future, or before its predecessor's);
 *   DAMAGED  the store file itself: a page LMDB cannot read, keys out of
 *            order, a database's count that is not its entries'.
 */
enum store_audit_kind {
	STORE_AUDIT_COMMIT,
	STORE_AUDIT_HEAD,
	STORE_AUDIT_HISTORY,
	STORE_AUDIT_DIGEST,
	STORE_AUDIT_RECORD,
	STORE_AUDIT_REPLAY,
	STORE_AUDIT_DERIVED,
	STORE_AUDIT_RECEIVED,
	STORE_AUDIT_DAMAGED,
};

/* One fault; every pointer is valid during the callback only. */
struct store_audit_fault {
	enum store_audit_kind kind;
	const uint8_t *origin;     /* the commit's or head's origin, or NULL */
	uint64_t seq;              /* with origin: the commit's seq */
	const uint8_t *id;         /* the record (HISTORY, RECORD), or NULL */
	const char *why;
};
typedef void (*store_audit_fault_fn)(const struct store_audit_fault *f,
    void *arg);

/* What store_audit() looked at. */
struct store_audit_stats {
	uint64_t commits;          /* stored commits checked */
	uint64_t origins;          /* origins with stored commits */
	uint64_t ops;              /* ops of the commits that verify */
	uint64_t history;          /* history entries */
	uint64_t records;          /* stored records, removed ones included */
	int replayed;              /* 1 when the log was replayed */
	uint64_t replay_ms;        /* how long the replay took */
	char replay_error[160];    /* why the replay could not run, or "" */
};

/*
 * Checks the store's integrity: every stored commit (decoding, signature,
 * chain, as store_verify() does, and its key), the heads against the log,
 * every applied op against the history and back, and the stored digest
 * against the stored records.  With replay, also applies every commit that
 * verifies to an empty scratch store in a temporary directory ($TMPDIR or
 * /tmp; removed before returning), in the order this node received them,
 * and compares the records it derives with the stored ones byte for byte:
 * this costs about as much as importing the whole log once.  When the
 * scratch store cannot be made, written or read back to compare (or this
 * store's tables cannot be read for it), st->replay_error says why and
 * st->replayed stays 0.  Calls fn for each fault.  Returns the number of
 * faults (0 when all hold, and with replay only if st->replayed is set),
 * or CS_EDB when the store cannot be read.
 */
int store_audit(struct store *s, int replay, store_audit_fault_fn fn,
    void *arg, struct store_audit_stats *st);

/*
 * One fork kept as evidence: a second, different commit of origin at a
 * seq this node already holds.  stored is the commit applied at that seq
 * (NULL when none is stored); fork is the evidence (NULL when its bytes
 * no longer decode, why saying so); fork->recv_ms is 0 since the time a
 * fork arrived is not kept.  evidence_ok is 1 when the fork's signature
 * verifies for this network and its bytes hash to the hash it is filed
 * under.  Valid during the callback only.
 */
struct store_fork {
	const uint8_t *origin;
	uint64_t seq;
	const struct store_commit *stored;
	const struct store_commit *fork;
	int evidence_ok;
	const char *why;
};
typedef int (*store_fork_fn)(const struct store_fork *f, void *arg);

/*
 * Names the database a walk of the store is reading (a static string), or
 * returns NULL: for a report from a signal handler when LMDB faults on a
 * damaged page (async-signal-safe).
 */
const char *store_reading(void);

/* Walks the forks kept as evidence, by (origin, seq, hash); a non-zero
 * return from fn stops.  Returns the number walked or CS_EDB. */
int store_forks(struct store *s, store_fork_fn fn, void *arg);

/*
 * The data directory without --data: $CAFE_DATA, else
 * $XDG_DATA_HOME/cafesync, else $HOME/.local/share/cafesync (malloc'd),
 * or NULL when none of them is set.  cafe and cafed agree on it.
 */
char *store_default_data(void);

/* ---- names and short ids (names.c, lastseen.c) ------------------------ */

/* Folds a name for comparison: case and accents dropped, spaces made one
 * (malloc'd). */
char *store_name_fold(const char *name);

/*
 * Called for each record whose folded name begins with the folded text:
 * its type, id, name as written, and whether the whole name matched.
 * Valid during the call; a non-zero return stops.
 */
typedef int (*store_name_fn)(const struct sch_type *t,
    const uint8_t id[PROTO_ID_LEN], const char *name, int exact, void *arg);

/*
 * Finds live records of type t (NULL: every type with a name) by name
 * through the name index, never a scan.  Returns 0 or CS_EDB.
 */
int store_names_find(struct store *s, const struct sch_type *t,
    const char *text, store_name_fn fn, void *arg);

/*
 * Short ids are the end of an id: ids begin with a clock, so the ids of a
 * store differ at the end.  store_id_short() returns how many of id's
 * last hex digits no other stored record's id ends with (at least 4);
 * store_id_ends() calls fn for each stored id (removed records' too)
 * whose hex digits end with text, through an index; a non-zero return
 * stops.  Returns 0 or CS_EDB.
 */
int store_id_short(struct store *s, const uint8_t id[PROTO_ID_LEN]);
int store_id_ends(struct store *s, const char *text,
    int (*fn)(const uint8_t id[PROTO_ID_LEN], void *arg), void *arg);

/*
 * When this node last completed a sync with the node key (kept in the
 * store, across restarts), and how much of this node's own log (its head
 * seq then) that sync left the peer holding.  get returns 0 with *ms and
 * *seq, or CS_ENOTFOUND.
 */
int store_lastseen_put(struct store *s, const uint8_t key[PROTO_KEY_LEN],
    uint64_t ms, char **cause);
/* A completed sync to record: with which key, when. */
struct store_seen {
	uint8_t key[PROTO_KEY_LEN];
	uint64_t ms;
};
int store_lastseen_put_many(struct store *s, const struct store_seen *seen,
    size_t n, char **cause);
int store_lastseen_get(struct store *s, const uint8_t key[PROTO_KEY_LEN],
    uint64_t *ms, uint64_t *seq);

#endif /* CAFESYNC_STORAGE_H */
