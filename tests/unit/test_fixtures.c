/*
 * test_fixtures.c: the golden fixtures in tests/fixtures/ pin the formats
 * byte for byte (docs/formats.md gives them as worked examples).
 *
 * Everything is made from fixed inputs: three keys from fixed seeds (the
 * admin, whose key is the network id; a hub it enrolls; the recipient of
 * a sealed bundle), fixed clocks and record ids, and for the sealed
 * bundle a fixed ephemeral X25519 secret and secretstream header, which
 * the test's own libsodium random source hands out (randombytes_set_
 * implementation(): the product's code is the same, only the randomness
 * it draws is scripted).  ed25519 is deterministic, so the commits, their
 * signatures and hashes, and every bundle come out the same each time.
 *
 * Two directions, both byte for byte:
 *   - what this code makes from the inputs must equal the files: the
 *     encoder, the signature, the hash, the bundle and sealed writers have
 *     not changed what they write;
 *   - the files must decode, verify, open and import to the values this
 *     test states by hand (origins, seqs, clocks, ids, field values), so
 *     a decoder that changes along with the encoder still fails; fixtures
 *     written once are read forever.  The store's digest is computed
 *     apart too, from the five records written out by hand as formats.md
 *     defines them, and must be the one the import makes.
 *
 * The forged bundle carries an admin commit signed by the hub's key: it
 * is refused and changes nothing.  The cut bundle ends inside its last
 * commit: what came before it lands.  CAFESYNC_FIXTURES_WRITE=1 writes
 * the files anew instead of comparing (tests/fixtures/README says when
 * that is right); CAFESYNC_FIXTURES names their directory (default
 * tests/fixtures, the test runs from the top of the tree).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "proto/proto.h"
#include "storage/storage.h"

/* ---- the fixed inputs --------------------------------------------------- */

#define SEED_ADMIN 0x11      /* each key's seed: 32 bytes of this value */
#define SEED_HUB 0x22
#define SEED_RECIPIENT 0x33
#define EPH_BYTE 0x44        /* the sealed bundle's ephemeral secret */
#define STREAM_BYTE 0x55     /* ... and its secretstream header */

/* 2026-01-01T00:00:00Z, in ms: the first commit's clock and ids. */
#define T0 1767225600000ULL
#define HLC1 (T0 << 16)
#define HLC2 ((T0 + 60000) << 16)
#define HLC3 (((T0 + 120000) << 16) | 1)
#define HLCF ((T0 + 180000) << 16)

static uint8_t admin_pk[PROTO_KEY_LEN], admin_sk[PROTO_SK_LEN];
static uint8_t hub_pk[PROTO_KEY_LEN], hub_sk[PROTO_SK_LEN];
static uint8_t rcpt_pk[PROTO_KEY_LEN], rcpt_sk[PROTO_SK_LEN];
static uint8_t site_id[PROTO_ID_LEN], ana_id[PROTO_ID_LEN];
static uint8_t ben_id[PROTO_ID_LEN], cafe_id[PROTO_ID_LEN];
static uint8_t hubm_id[PROTO_ID_LEN];

static const char *fx_dir = "tests/fixtures";
static int fx_write;
static char t_root[64];

/* ---- a scripted random source ----------------------------------------- */

/*
 * While script is set, randombytes_buf() hands out its bytes in order;
 * otherwise a deterministic stream (each call a fresh ChaCha20 block
 * stream keyed by a counter), so nothing in this test depends on chance.
 */
static const uint8_t *script;
static size_t script_len, script_pos;
static uint64_t rng_calls;

static const char *
rng_name(void)
{
	return "cafesync-fixtures";
}

static void
rng_buf(void *const buf, const size_t size)
{
	uint8_t seed[randombytes_SEEDBYTES];

	if (script != NULL && script_pos + size <= script_len) {
		memcpy(buf, script + script_pos, size);
		script_pos += size;
		return;
	}
	memset(seed, 0, sizeof(seed));
	memcpy(seed, &rng_calls, sizeof(rng_calls));
	rng_calls++;
	randombytes_buf_deterministic(buf, size, seed);
}

static uint32_t
rng_random(void)
{
	uint32_t v;

	rng_buf(&v, sizeof(v));
	return v;
}

static randombytes_implementation rng = {
	rng_name, rng_random, NULL, NULL, rng_buf, NULL
};

/* ---- files -------------------------------------------------------------- */

/* Reads tests/fixtures/name whole; *len gets its size.  Fails the test
 * when it is missing. */
static uint8_t *
fx_read(const char *name, size_t *len)
{
	char path[512];
	struct stat st;
	uint8_t *b;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0)
		fail_msg("%s: cannot be read (run from the top of the tree, "
		    "or set CAFESYNC_FIXTURES)", path);
	b = malloc((size_t)st.st_size + 1);
	assert_non_null(b);
	*len = fread(b, 1, (size_t)st.st_size, f);
	fclose(f);
	assert_int_equal(*len, (size_t)st.st_size);
	return b;
}

/* Writes name (in write mode) or checks that the file holds exactly
 * these bytes. */
static void
fx_bytes(const char *name, const uint8_t *b, size_t len)
{
	char path[512];
	uint8_t *old;
	size_t olen, i;
	FILE *f;

	if (fx_write) {
		snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(b, 1, len, f), len);
		assert_int_equal(fclose(f), 0);
		return;
	}
	old = fx_read(name, &olen);
	for (i = 0; i < olen && i < len && old[i] == b[i]; i++)
		;
	if (olen != len || i != len)
		fail_msg("%s: this code writes other bytes than the fixture "
		    "(%zu bytes against %zu, first difference at byte %zu): "
		    "a format changed", name, len, olen, i);
	free(old);
}

/*
 * golden.txt: "name hex" lines (and # comments).  Looks name up and
 * returns its bytes (static, len set), or fails.
 */
static const uint8_t *
golden(const char *name, size_t *len)
{
	static uint8_t out[4096];
	char line[8192 + 128], key[64], hex[8192 + 1];
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/golden.txt", fx_dir);
	if ((f = fopen(path, "r")) == NULL)
		fail_msg("%s: cannot be read", path);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (line[0] == '#' || sscanf(line, "%63s %8192s", key,
		    hex) != 2 || strcmp(key, name) != 0)
			continue;
		fclose(f);
		*len = strlen(hex) / 2;
		if (*len > sizeof(out) || proto_unhex(out, *len, hex) != 0)
			fail_msg("golden.txt: %s is not hex", name);
		return out;
	}
	fclose(f);
	fail_msg("golden.txt has no %s", name);
	return NULL;
}

/* golden.txt lines this run made, written in write mode at the end. */
static char golden_out[32768];
static size_t golden_used;

/* Writes (in write mode) or checks one golden value. */
static void
fx_golden(const char *name, const uint8_t *b, size_t len)
{
	const uint8_t *g;
	char hex[2 * 4096 + 1];
	size_t glen;

	assert_true(len <= 4096);
	if (fx_write) {
		proto_hex(hex, b, len);
		golden_used += (size_t)snprintf(golden_out + golden_used,
		    sizeof(golden_out) - golden_used, "%s %s\n", name, hex);
		assert_true(golden_used < sizeof(golden_out));
		return;
	}
	g = golden(name, &glen);
	if (glen != len || memcmp(g, b, len) != 0) {
		proto_hex(hex, b, len);
		fail_msg("golden %s differs: this code gives %s", name, hex);
	}
}

/* ---- making the commits ---------------------------------------------- */

/* A record id: ms (48 bits), the owner's tag, then four fixed bytes. */
static void
mk_id(uint8_t id[PROTO_ID_LEN], uint64_t ms, const uint8_t *owner,
    uint32_t rnd)
{
	int i;

	for (i = 5; i >= 0; i--, ms >>= 8)
		id[i] = (uint8_t)ms;
	memcpy(id + PROTO_ID_TAG_OFF, owner, PROTO_ID_TAG_LEN);
	for (i = 3; i >= 0; i--, rnd >>= 8)
		id[PROTO_ID_RAND_OFF + i] = (uint8_t)rnd;
}

static void
kv_str(struct proto_enc *w, const char *k, const char *v)
{
	proto_pack_cstr(&w->pk, k);
	proto_pack_cstr(&w->pk, v);
}

static void
kv_bin(struct proto_enc *w, const char *k, const uint8_t *v, size_t len)
{
	proto_pack_cstr(&w->pk, k);
	msgpack_pack_bin_with_body(&w->pk, v, len);
}

/* Packs [tokens...]. */
static void
pack_tokens(struct proto_enc *w, const char *const *t, int n)
{
	int i;

	msgpack_pack_array(&w->pk, (size_t)n);
	for (i = 0; i < n; i++)
		proto_pack_cstr(&w->pk, t[i]);
}

/* Packs k = [tokens...]. */
static void
kv_tokens(struct proto_enc *w, const char *k, const char *const *t, int n)
{
	proto_pack_cstr(&w->pk, k);
	pack_tokens(w, t, n);
}

/* One commit: its bytes, signature and hash. */
struct fx_commit {
	struct proto_enc w;
	uint8_t sig[PROTO_SIG_LEN];
	uint8_t hash[PROTO_HASH_LEN];
};

static void
seal_commit(struct fx_commit *c, const uint8_t *sk)
{
	proto_sign(c->sig, (const uint8_t *)c->w.sb.data, c->w.sb.size,
	    admin_pk, sk);
	proto_hash(c->hash, (const uint8_t *)c->w.sb.data, c->w.sb.size,
	    c->sig);
}

/* The admin's first commit: one site. */
static void
make_c1(struct fx_commit *c)
{
	proto_enc_init(&c->w);
	proto_commit_begin(&c->w, admin_pk, 1, NULL, HLC1, 1);
	proto_op_begin(&c->w, PROTO_OP_PUT, "site", site_id, 2, 0);
	kv_str(&c->w, "name", "Pine County FRC");
	kv_str(&c->w, "status", "active");
	seal_commit(c, admin_sk);
}

/*
 * The admin's second: four ops: the hub's member record, two persons,
 * and an edit of the site with its base (the county had no value).
 */
static void
make_c2(struct fx_commit *c, const uint8_t prev[PROTO_HASH_LEN])
{
	static const char *const ana_roles[] = { "parent_leader", "host" };
	static const char *const ben_roles[] = { "host" };

	proto_enc_init(&c->w);
	proto_commit_begin(&c->w, admin_pk, 2, prev, HLC2, 4);
	proto_op_begin(&c->w, PROTO_OP_PUT, "member", hubm_id, 4, 0);
	kv_bin(&c->w, "key", hub_pk, PROTO_KEY_LEN);
	kv_str(&c->w, "name", "Pine hub");
	kv_str(&c->w, "role", "hub");
	kv_str(&c->w, "status", "active");
	proto_op_begin(&c->w, PROTO_OP_PUT, "person", ana_id, 3, 0);
	kv_str(&c->w, "name", "Ana R.");
	kv_tokens(&c->w, "roles", ana_roles, 2);
	kv_bin(&c->w, "site", site_id, PROTO_ID_LEN);
	proto_op_begin(&c->w, PROTO_OP_PUT, "person", ben_id, 2, 0);
	kv_str(&c->w, "name", "Ben T.");
	kv_tokens(&c->w, "roles", ben_roles, 1);
	proto_op_begin(&c->w, PROTO_OP_PUT, "site", site_id, 1, 1);
	kv_str(&c->w, "county", "Pine");
	proto_op_base(&c->w, 1);
	proto_pack_cstr(&c->w.pk, "county");
	msgpack_pack_uint64(&c->w.pk, 0);
	seal_commit(c, admin_sk);
}

/* The hub's first: a café at the site, and Ben's record deleted. */
static void
make_c3(struct fx_commit *c)
{
	static const char *const factors[] = { "resilience",
	    "social_connections" };

	proto_enc_init(&c->w);
	proto_commit_begin(&c->w, hub_pk, 1, NULL, HLC3, 2);
	proto_op_begin(&c->w, PROTO_OP_PUT, "cafe", cafe_id, 5, 0);
	proto_pack_cstr(&c->w.pk, "attendees");
	msgpack_pack_uint64(&c->w.pk, 12);
	kv_str(&c->w, "date", "2026-01-01");
	kv_tokens(&c->w, "factors", factors, 2);
	kv_str(&c->w, "format", "parent");
	kv_bin(&c->w, "site", site_id, PROTO_ID_LEN);
	proto_op_begin(&c->w, PROTO_OP_DEL, "person", ben_id, 0, 0);
	seal_commit(c, hub_sk);
}

/* A forgery: the admin's third commit, renaming the site, signed by the
 * hub's key. */
static void
make_forged(struct fx_commit *c, const uint8_t prev[PROTO_HASH_LEN])
{
	proto_enc_init(&c->w);
	proto_commit_begin(&c->w, admin_pk, 3, prev, HLCF, 1);
	proto_op_begin(&c->w, PROTO_OP_PUT, "site", site_id, 1, 1);
	kv_str(&c->w, "name", "Forged");
	proto_op_base(&c->w, 1);
	proto_pack_cstr(&c->w.pk, "name");
	msgpack_pack_uint64(&c->w.pk, HLC1);
	seal_commit(c, hub_sk);
}

static struct fx_commit c1, c2, c3, cf;
static struct proto_enc plain, forged;
static size_t cut_len;

/* Packs a bundle of the given commits. */
static void
make_bundle(struct proto_enc *w, struct fx_commit *const *cs, int n)
{
	int i;

	proto_enc_init(w);
	proto_bundle_header(w, admin_pk);
	for (i = 0; i < n; i++)
		proto_bundle_item(w, (const uint8_t *)cs[i]->w.sb.data,
		    cs[i]->w.sb.size, cs[i]->sig);
}

/* Seals bytes to the recipient with the fixed ephemeral key and header;
 * returns a malloc'd file of *len bytes. */
static uint8_t *
make_sealed(const uint8_t *in, size_t inlen, size_t *len)
{
	uint8_t scripted[32 + 24];
	struct proto_seal *ps;
	const char *cause = NULL;
	uint8_t *out;
	size_t off, n;
	int rc;

	memset(scripted, EPH_BYTE, 32);
	memset(scripted + 32, STREAM_BYTE, 24);
	script = scripted;
	script_len = sizeof(scripted);
	script_pos = 0;
	out = malloc(PROTO_SEAL_HEADER_LEN + inlen +
	    (inlen / PROTO_SEAL_CHUNK + 1) * PROTO_SEAL_OVERHEAD);
	assert_non_null(out);
	rc = proto_seal_begin(&ps, out, rcpt_pk, &cause);
	script = NULL;
	assert_int_equal(rc, 0);
	/* Both scripted draws were taken, in that order. */
	assert_int_equal(script_pos, sizeof(scripted));
	off = PROTO_SEAL_HEADER_LEN;
	do {
		n = inlen < PROTO_SEAL_CHUNK ? inlen : PROTO_SEAL_CHUNK;
		rc = proto_seal_push(ps, out + off, in, n, n == inlen);
		assert_true(rc > 0);
		off += (size_t)rc;
		in += n;
		inlen -= n;
	} while (inlen > 0);
	proto_seal_free(ps);
	*len = off;
	return out;
}

/* ---- the expected values, stated by hand --------------------------------- */

/* Returns op field name's value in op, or NULL. */
static const msgpack_object *
op_field(const struct proto_op *op, const char *name)
{
	uint32_t i;

	for (i = 0; i < op->nfields; i++)
		if (op->fields[i].key.type == MSGPACK_OBJECT_STR &&
		    op->fields[i].key.via.str.size == strlen(name) &&
		    memcmp(op->fields[i].key.via.str.ptr, name,
		    strlen(name)) == 0)
			return &op->fields[i].val;
	return NULL;
}

static void
assert_str(const msgpack_object *o, const char *s)
{
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_STR);
	assert_int_equal(o->via.str.size, strlen(s));
	assert_memory_equal(o->via.str.ptr, s, strlen(s));
}

static void
assert_bin(const msgpack_object *o, const uint8_t *b, size_t len)
{
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_BIN);
	assert_int_equal(o->via.bin.size, len);
	assert_memory_equal(o->via.bin.ptr, b, len);
}

static void
assert_op(const struct proto_op *op, unsigned kind, const char *type,
    const uint8_t *id, uint32_t nfields, int has_base)
{
	assert_int_equal(op->kind, kind);
	assert_int_equal(op->type_len, strlen(type));
	assert_memory_equal(op->type, type, strlen(type));
	assert_memory_equal(op->id, id, PROTO_ID_LEN);
	assert_int_equal(op->nfields, nfields);
	assert_int_equal(op->has_base, has_base);
}

/* Decodes a stored commit file and checks its envelope and signature. */
static void
decode_file(const char *name, struct proto_commit *c, uint8_t **e,
    size_t *len, const uint8_t *author, uint64_t seq, const uint8_t *prev,
    uint64_t hlc, uint32_t nops, const char *sig_name)
{
	const char *cause = NULL;
	const uint8_t *sig;
	size_t slen;

	*e = fx_read(name, len);
	if (proto_commit_decode(c, *e, *len, &cause) != 0)
		fail_msg("%s no longer decodes: %s", name, cause);
	assert_int_equal(c->version, 1);
	assert_memory_equal(c->origin, author, PROTO_KEY_LEN);
	assert_int_equal(c->seq, seq);
	if (prev == NULL)
		assert_null(c->prev);
	else
		assert_memory_equal(c->prev, prev, PROTO_HASH_LEN);
	assert_int_equal(c->hlc, hlc);
	assert_int_equal(c->nops, nops);
	sig = golden(sig_name, &slen);
	assert_int_equal(slen, PROTO_SIG_LEN);
	assert_int_equal(proto_verify(sig, *e, *len, admin_pk, author), 0);
}

/* ---- setup ----------------------------------------------------------------- */

static int
group_setup(void **state)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	const char *v;
	struct fx_commit *all[3] = { &c1, &c2, &c3 };
	struct fx_commit *fake[4] = { &c1, &c2, &cf, &c3 };

	(void)state;
	if ((v = getenv("CAFESYNC_FIXTURES")) != NULL)
		fx_dir = v;
	fx_write = getenv("CAFESYNC_FIXTURES_WRITE") != NULL &&
	    strcmp(getenv("CAFESYNC_FIXTURES_WRITE"), "1") == 0;
	if (randombytes_set_implementation(&rng) != 0 || sodium_init() < 0)
		return -1;
	memset(seed, SEED_ADMIN, sizeof(seed));
	crypto_sign_seed_keypair(admin_pk, admin_sk, seed);
	memset(seed, SEED_HUB, sizeof(seed));
	crypto_sign_seed_keypair(hub_pk, hub_sk, seed);
	memset(seed, SEED_RECIPIENT, sizeof(seed));
	crypto_sign_seed_keypair(rcpt_pk, rcpt_sk, seed);
	mk_id(site_id, T0, admin_pk, 1);
	mk_id(ana_id, T0 + 60000, admin_pk, 2);
	mk_id(ben_id, T0 + 60000, admin_pk, 3);
	mk_id(cafe_id, T0 + 120000, hub_pk, 4);
	proto_member_id(hubm_id, hub_pk);
	make_c1(&c1);
	make_c2(&c2, c1.hash);
	make_c3(&c3);
	make_forged(&cf, c2.hash);
	make_bundle(&plain, all, 3);
	make_bundle(&forged, fake, 4);
	/* cut 10 bytes into the last item's E: c3's bin header is 3 bytes */
	cut_len = plain.sb.size - c3.w.sb.size - PROTO_SIG_LEN - 3 - 2 + 10;
	snprintf(t_root, sizeof(t_root), "/tmp/cafesync-fixtures-XXXXXX");
	if (mkdtemp(t_root) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128], path[512];
	FILE *f;

	(void)state;
	proto_enc_free(&c1.w);
	proto_enc_free(&c2.w);
	proto_enc_free(&c3.w);
	proto_enc_free(&cf.w);
	proto_enc_free(&plain);
	proto_enc_free(&forged);
	if (fx_write && golden_used > 0) {
		snprintf(path, sizeof(path), "%s/golden.txt", fx_dir);
		if ((f = fopen(path, "w")) == NULL)
			return -1;
		fprintf(f, "# Golden values of the fixtures (name, then hex); "
		    "see README.\n%s", golden_out);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_root);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- the tests -------------------------------------------------------------- */

/* The keys follow from their seeds; the network id is the admin's key. */
static void
test_keys(void **state)
{
	(void)state;
	fx_golden("admin_pk", admin_pk, PROTO_KEY_LEN);
	fx_golden("hub_pk", hub_pk, PROTO_KEY_LEN);
	fx_golden("recipient_pk", rcpt_pk, PROTO_KEY_LEN);
	fx_golden("site_id", site_id, PROTO_ID_LEN);
	fx_golden("hub_member_id", hubm_id, PROTO_ID_LEN);
}

/* The first commit: its exact bytes, signature and hash, and what the
 * stored bytes decode to. */
static void
test_first_commit(void **state)
{
	struct proto_commit c;
	uint8_t *e, h[PROTO_HASH_LEN];
	const uint8_t *sig;
	size_t len, slen;

	(void)state;
	fx_bytes("commit1.bin", (const uint8_t *)c1.w.sb.data, c1.w.sb.size);
	fx_golden("commit1_sig", c1.sig, PROTO_SIG_LEN);
	fx_golden("commit1_hash", c1.hash, PROTO_HASH_LEN);
	if (fx_write)
		return;
	memset(&c, 0, sizeof(c));
	decode_file("commit1.bin", &c, &e, &len, admin_pk, 1, NULL, HLC1, 1,
	    "commit1_sig");
	assert_op(&c.ops[0], PROTO_OP_PUT, "site", site_id, 2, 0);
	assert_str(op_field(&c.ops[0], "name"), "Pine County FRC");
	assert_str(op_field(&c.ops[0], "status"), "active");
	sig = golden("commit1_sig", &slen);
	proto_hash(h, e, len, sig);
	fx_golden("commit1_hash", h, PROTO_HASH_LEN);
	proto_commit_free(&c);
	free(e);
}

/* The multi-op commits, chained to the first; the hub's is its own
 * origin's first. */
static void
test_multi_op_commits(void **state)
{
	struct proto_commit c;
	const msgpack_object *o;
	const uint8_t *prev;
	uint8_t *e, prevbuf[PROTO_HASH_LEN];
	size_t len, plen;

	(void)state;
	fx_bytes("commit2.bin", (const uint8_t *)c2.w.sb.data, c2.w.sb.size);
	fx_golden("commit2_sig", c2.sig, PROTO_SIG_LEN);
	fx_golden("commit2_hash", c2.hash, PROTO_HASH_LEN);
	fx_bytes("commit3.bin", (const uint8_t *)c3.w.sb.data, c3.w.sb.size);
	fx_golden("commit3_sig", c3.sig, PROTO_SIG_LEN);
	fx_golden("commit3_hash", c3.hash, PROTO_HASH_LEN);
	if (fx_write)
		return;
	prev = golden("commit1_hash", &plen);
	memcpy(prevbuf, prev, sizeof(prevbuf));
	memset(&c, 0, sizeof(c));
	decode_file("commit2.bin", &c, &e, &len, admin_pk, 2, prevbuf, HLC2,
	    4, "commit2_sig");
	assert_op(&c.ops[0], PROTO_OP_PUT, "member", hubm_id, 4, 0);
	assert_bin(op_field(&c.ops[0], "key"), hub_pk, PROTO_KEY_LEN);
	assert_str(op_field(&c.ops[0], "role"), "hub");
	assert_op(&c.ops[1], PROTO_OP_PUT, "person", ana_id, 3, 0);
	o = op_field(&c.ops[1], "roles");
	assert_non_null(o);
	assert_int_equal(o->type, MSGPACK_OBJECT_ARRAY);
	assert_int_equal(o->via.array.size, 2);
	assert_str(&o->via.array.ptr[0], "parent_leader");
	assert_str(&o->via.array.ptr[1], "host");
	assert_bin(op_field(&c.ops[1], "site"), site_id, PROTO_ID_LEN);
	assert_op(&c.ops[2], PROTO_OP_PUT, "person", ben_id, 2, 0);
	assert_op(&c.ops[3], PROTO_OP_PUT, "site", site_id, 1, 1);
	assert_str(op_field(&c.ops[3], "county"), "Pine");
	assert_int_equal(c.ops[3].nbase, 1);
	assert_int_equal(c.ops[3].base[0].val.type,
	    MSGPACK_OBJECT_POSITIVE_INTEGER);
	assert_int_equal(c.ops[3].base[0].val.via.u64, 0);
	proto_commit_free(&c);
	free(e);

	memset(&c, 0, sizeof(c));
	decode_file("commit3.bin", &c, &e, &len, hub_pk, 1, NULL, HLC3, 2,
	    "commit3_sig");
	assert_op(&c.ops[0], PROTO_OP_PUT, "cafe", cafe_id, 5, 0);
	o = op_field(&c.ops[0], "attendees");
	assert_non_null(o);
	assert_int_equal(o->via.u64, 12);
	assert_str(op_field(&c.ops[0], "format"), "parent");
	assert_op(&c.ops[1], PROTO_OP_DEL, "person", ben_id, 0, 0);
	proto_commit_free(&c);
	free(e);
}

/* Parses a stored bundle into its items; returns how many (at most max),
 * *trunc set when it ends inside an item. */
static int
parse_bundle(const uint8_t *b, size_t len, const uint8_t **es, size_t *elens,
    const uint8_t **sigs, int max, int *trunc)
{
	uint8_t net[PROTO_KEY_LEN];
	const char *cause = NULL;
	size_t off;
	int rc, n = 0;

	rc = proto_bundle_parse_header(b, len, net, &cause);
	assert_true(rc > 0);
	assert_memory_equal(net, admin_pk, PROTO_KEY_LEN);
	off = (size_t)rc;
	*trunc = 0;
	while (off < len && n < max) {
		rc = proto_bundle_parse_item(b + off, len - off, &es[n],
		    &elens[n], &sigs[n], &cause);
		if (rc == 0) {
			*trunc = 1;
			break;
		}
		assert_true(rc > 0);
		off += (size_t)rc;
		n++;
	}
	return n;
}

/* The plain, forged and cut bundles: this code writes them, and the
 * stored ones hold the stored commits. */
static void
test_bundles(void **state)
{
	const uint8_t *es[8], *sigs[8], *g;
	size_t elens[8], len, glen, clen[3];
	uint8_t *b, *cb[3];
	int n, trunc, i;

	(void)state;
	fx_bytes("plain.bundle", (const uint8_t *)plain.sb.data,
	    plain.sb.size);
	fx_bytes("forged.bundle", (const uint8_t *)forged.sb.data,
	    forged.sb.size);
	fx_bytes("cut.bundle", (const uint8_t *)plain.sb.data, cut_len);
	if (fx_write)
		return;
	cb[0] = fx_read("commit1.bin", &clen[0]);
	cb[1] = fx_read("commit2.bin", &clen[1]);
	cb[2] = fx_read("commit3.bin", &clen[2]);
	b = fx_read("plain.bundle", &len);
	n = parse_bundle(b, len, es, elens, sigs, 8, &trunc);
	assert_int_equal(n, 3);
	assert_int_equal(trunc, 0);
	for (i = 0; i < 3; i++) {
		char name[32];

		assert_int_equal(elens[i], clen[i]);
		assert_memory_equal(es[i], cb[i], clen[i]);
		snprintf(name, sizeof(name), "commit%d_sig", i + 1);
		g = golden(name, &glen);
		assert_memory_equal(sigs[i], g, PROTO_SIG_LEN);
	}
	free(b);
	/* forged: the third item claims the admin, the hub signed it */
	b = fx_read("forged.bundle", &len);
	n = parse_bundle(b, len, es, elens, sigs, 8, &trunc);
	assert_int_equal(n, 4);
	{
		struct proto_commit c;
		const char *cause = NULL;

		memset(&c, 0, sizeof(c));
		assert_int_equal(proto_commit_decode(&c, es[2], elens[2],
		    &cause), 0);
		assert_memory_equal(c.origin, admin_pk, PROTO_KEY_LEN);
		assert_int_equal(c.seq, 3);
		proto_commit_free(&c);
		assert_int_equal(proto_verify(sigs[2], es[2], elens[2],
		    admin_pk, admin_pk), CS_ESIG);
		assert_int_equal(proto_verify(sigs[2], es[2], elens[2],
		    admin_pk, hub_pk), 0);
	}
	free(b);
	/* cut: two whole items, then the third ends early */
	b = fx_read("cut.bundle", &len);
	n = parse_bundle(b, len, es, elens, sigs, 8, &trunc);
	assert_int_equal(n, 2);
	assert_int_equal(trunc, 1);
	free(b);
	for (i = 0; i < 3; i++)
		free(cb[i]);
}

/* The sealed bundle: sealing the plain bundle with the fixed ephemeral
 * key and header gives the file; the file opens with the recipient's key
 * to the plain bundle, and its header is as formats.md lays it out. */
static void
test_sealed_bundle(void **state)
{
	uint8_t *s, *old, *pb, out[PROTO_SEAL_CHUNK], eph_sk[32], eph_pk[32];
	uint8_t rcpt[PROTO_KEY_LEN];
	struct proto_seal *ps;
	const char *cause = NULL;
	size_t len, olen, plen, outlen, off;
	int final = 0, rc;

	(void)state;
	s = make_sealed((const uint8_t *)plain.sb.data, plain.sb.size, &len);
	fx_bytes("sealed.bundle", s, len);
	free(s);
	if (fx_write)
		return;
	old = fx_read("sealed.bundle", &olen);
	pb = fx_read("plain.bundle", &plen);
	assert_memory_equal(old, "cafesync-sealed", 15);
	assert_int_equal(old[15], 1);
	assert_int_equal(proto_seal_parse_header(old, olen, rcpt, &cause), 0);
	assert_memory_equal(rcpt, rcpt_pk, PROTO_KEY_LEN);
	memset(eph_sk, EPH_BYTE, sizeof(eph_sk));
	crypto_scalarmult_base(eph_pk, eph_sk);
	assert_memory_equal(old + 48, eph_pk, 32);
	for (off = 80; off < 104; off++)
		assert_int_equal(old[off], STREAM_BYTE);
	assert_int_equal(proto_seal_open_begin(&ps, old, rcpt_sk, &cause), 0);
	off = PROTO_SEAL_HEADER_LEN;
	rc = proto_seal_pull(ps, old + off, olen - off, out, &outlen, &final,
	    &cause);
	assert_int_equal(rc, (int)(olen - off));
	assert_int_equal(final, 1);
	assert_int_equal(outlen, plen);
	assert_memory_equal(out, pb, plen);
	proto_seal_free(ps);
	/* another node's key does not open it */
	assert_int_equal(proto_seal_open_begin(&ps, old, hub_sk, &cause),
	    CS_EPERM);
	free(old);
	free(pb);
}

struct refusals {
	int n;
	uint64_t index[8];
	char why[8][160];
};

static void
refuse_cb(uint64_t index, const uint8_t *origin, uint64_t seq,
    const char *why, void *arg)
{
	struct refusals *r = arg;

	(void)origin;
	(void)seq;
	if (r->n < 8) {
		r->index[r->n] = index;
		snprintf(r->why[r->n], sizeof(r->why[0]), "%s", why);
	}
	r->n++;
}

/* A fresh hub of the admin's network with the given key (NULL: a
 * fixed one), opened. */
static struct store *
fresh_store(const char *name, const uint8_t *sk)
{
	uint8_t seed[crypto_sign_SEEDBYTES], pk[PROTO_KEY_LEN];
	uint8_t own[PROTO_SK_LEN];
	char dir[256], *cause = NULL;
	struct store *s = NULL;

	if (sk == NULL) {
		memset(seed, 0x66, sizeof(seed));
		crypto_sign_seed_keypair(pk, own, seed);
		sk = own;
	}
	snprintf(dir, sizeof(dir), "%s/%s", t_root, name);
	if (store_restore(dir, name, "hub", admin_pk, sk, 1, &cause) != 0 ||
	    store_open(&s, dir, &cause) != 0)
		fail_msg("store %s: %s", name, cause ? cause : "");
	return s;
}

/* Imports a fixture file into s; returns the stats, refusals in *r. */
static int
import_file(struct store *s, const char *name, struct refusals *r,
    struct store_import_stats *st)
{
	char path[512], *cause = NULL;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	memset(r, 0, sizeof(*r));
	memset(st, 0, sizeof(*st));
	rc = store_bundle_import(s, f, refuse_cb, r, st, &cause);
	fclose(f);
	free(cause);
	return rc;
}

/* The digest and counts a store holds, checked or written as name. */
static void
check_store(struct store *s, const char *name)
{
	struct store_status ss;

	assert_int_equal(store_status(s, &ss), 0);
	fx_golden(name, ss.digest, PROTO_HASH_LEN);
}

/* ---- the digest, by the letter of docs/formats.md ("Merge") ------------- */

static void
pack_clock(struct proto_enc *w, uint64_t hlc, const uint8_t *origin)
{
	msgpack_pack_array(&w->pk, 2);
	msgpack_pack_uint64(&w->pk, hlc);
	msgpack_pack_bin_with_body(&w->pk, origin, PROTO_KEY_LEN);
}

/* Starts a record [type, tombstone, clocks, {fields}]: del is the
 * tombstone's clock index or -1; the clocks follow as n (hlc, origin). */
static void
rec_begin(struct proto_enc *w, const char *type, int del, int n,
    uint64_t h0, const uint8_t *o0, uint64_t h1, const uint8_t *o1,
    uint32_t nfields)
{
	proto_enc_reset(w);
	msgpack_pack_array(&w->pk, 4);
	proto_pack_cstr(&w->pk, type);
	if (del < 0)
		msgpack_pack_nil(&w->pk);
	else
		msgpack_pack_uint64(&w->pk, (uint64_t)del);
	msgpack_pack_array(&w->pk, (size_t)n);
	pack_clock(w, h0, o0);
	if (n > 1)
		pack_clock(w, h1, o1);
	msgpack_pack_map(&w->pk, nfields);
}

/* A field name and the array header of its [value, clock index]. */
static void
rec_field(struct proto_enc *w, const char *name)
{
	proto_pack_cstr(&w->pk, name);
	msgpack_pack_array(&w->pk, 2);
}

/* XORs BLAKE2b-256(id || record) into digest. */
static void
rec_mix(uint8_t digest[PROTO_HASH_LEN], const uint8_t *id,
    const struct proto_enc *w)
{
	crypto_generichash_state st;
	uint8_t h[PROTO_HASH_LEN];
	int i;

	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, id, PROTO_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)w->sb.data,
	    w->sb.size);
	crypto_generichash_final(&st, h, sizeof(h));
	for (i = 0; i < PROTO_HASH_LEN; i++)
		digest[i] ^= h[i];
}

/*
 * The digest of the store plain.bundle makes, computed from the records
 * formats.md says the three commits add up to, written out by hand: the
 * site with two clocks (its county from the edit), the hub's member
 * record, Ana, Ben with the hub's tombstone, the café.
 */
static void
expected_digest(uint8_t digest[PROTO_HASH_LEN])
{
	static const char *const ana_roles[] = { "parent_leader", "host" };
	static const char *const ben_roles[] = { "host" };
	static const char *const factors[] = { "resilience",
	    "social_connections" };
	struct proto_enc w;

	memset(digest, 0, PROTO_HASH_LEN);
	proto_enc_init(&w);
	rec_begin(&w, "site", -1, 2, HLC1, admin_pk, HLC2, admin_pk, 3);
	rec_field(&w, "county");
	proto_pack_cstr(&w.pk, "Pine");
	msgpack_pack_uint64(&w.pk, 1);
	rec_field(&w, "name");
	proto_pack_cstr(&w.pk, "Pine County FRC");
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "status");
	proto_pack_cstr(&w.pk, "active");
	msgpack_pack_uint64(&w.pk, 0);
	rec_mix(digest, site_id, &w);

	rec_begin(&w, "member", -1, 1, HLC2, admin_pk, 0, NULL, 4);
	rec_field(&w, "key");
	msgpack_pack_bin_with_body(&w.pk, hub_pk, PROTO_KEY_LEN);
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "name");
	proto_pack_cstr(&w.pk, "Pine hub");
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "role");
	proto_pack_cstr(&w.pk, "hub");
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "status");
	proto_pack_cstr(&w.pk, "active");
	msgpack_pack_uint64(&w.pk, 0);
	rec_mix(digest, hubm_id, &w);

	rec_begin(&w, "person", -1, 1, HLC2, admin_pk, 0, NULL, 3);
	rec_field(&w, "name");
	proto_pack_cstr(&w.pk, "Ana R.");
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "roles");
	pack_tokens(&w, ana_roles, 2);
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "site");
	msgpack_pack_bin_with_body(&w.pk, site_id, PROTO_ID_LEN);
	msgpack_pack_uint64(&w.pk, 0);
	rec_mix(digest, ana_id, &w);

	rec_begin(&w, "person", 1, 2, HLC2, admin_pk, HLC3, hub_pk, 2);
	rec_field(&w, "name");
	proto_pack_cstr(&w.pk, "Ben T.");
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "roles");
	pack_tokens(&w, ben_roles, 1);
	msgpack_pack_uint64(&w.pk, 0);
	rec_mix(digest, ben_id, &w);

	rec_begin(&w, "cafe", -1, 1, HLC3, hub_pk, 0, NULL, 5);
	rec_field(&w, "attendees");
	msgpack_pack_uint64(&w.pk, 12);
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "date");
	proto_pack_cstr(&w.pk, "2026-01-01");
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "factors");
	pack_tokens(&w, factors, 2);
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "format");
	proto_pack_cstr(&w.pk, "parent");
	msgpack_pack_uint64(&w.pk, 0);
	rec_field(&w, "site");
	msgpack_pack_bin_with_body(&w.pk, site_id, PROTO_ID_LEN);
	msgpack_pack_uint64(&w.pk, 0);
	rec_mix(digest, cafe_id, &w);
	proto_enc_free(&w);
}

/* The digest by hand is the one stored in golden.txt. */
static void
test_digest_by_hand(void **state)
{
	uint8_t d[PROTO_HASH_LEN];

	(void)state;
	if (fx_write)
		return;
	expected_digest(d);
	fx_golden("digest_full", d, PROTO_HASH_LEN);
}

/*
 * What the bundles make: the plain and the sealed bundle the same store
 * (three commits, the expected digest, Ben deleted, the café there); the
 * forged one refuses its forgery and makes the same store; the cut one
 * keeps the two whole commits.  A store given the plain bundle exports it
 * again byte for byte.
 */
static void
test_store_digest(void **state)
{
	struct store_import_stats st;
	struct store_member m;
	struct store_rec r;
	struct refusals ref;
	struct store *s;
	uint8_t *pb;
	size_t plen;
	char *cause = NULL;
	(void)state;

	if (fx_write) {
		/* The digests come from importing the files just written. */
		s = fresh_store("w-plain", NULL);
		assert_int_equal(import_file(s, "plain.bundle", &ref, &st), 0);
		check_store(s, "digest_full");
		store_close(s);
		s = fresh_store("w-cut", NULL);
		import_file(s, "cut.bundle", &ref, &st);
		check_store(s, "digest_cut");
		store_close(s);
		return;
	}
	s = fresh_store("plain", NULL);
	assert_int_equal(import_file(s, "plain.bundle", &ref, &st), 0);
	assert_int_equal(st.applied, 3);
	assert_int_equal(st.refused, 0);
	check_store(s, "digest_full");
	assert_int_equal(store_member_get(s, hub_pk, &m), 0);
	assert_int_equal(m.role, STORE_ROLE_HUB);
	store_member_free(&m);
	assert_int_equal(store_get(s, cafe_id, &r), 0);
	store_rec_free(&r);
	assert_int_equal(store_get(s, ben_id, &r), 0);
	assert_int_equal(r.deleted, 1);
	store_rec_free(&r);
	assert_int_equal(store_get(s, site_id, &r), 0);
	assert_str(store_rec_value(&r, "county"), "Pine");
	assert_str(store_rec_value(&r, "name"), "Pine County FRC");
	store_rec_free(&r);
	/* the store's own export is the plain bundle, byte for byte */
	{
		FILE *f = tmpfile();
		uint64_t count = 0;
		uint8_t *eb;
		long elen;

		assert_non_null(f);
		assert_int_equal(store_bundle_export(s, f, NULL, 0, &count,
		    &cause), 0);
		assert_int_equal(count, 3);
		elen = ftell(f);
		pb = fx_read("plain.bundle", &plen);
		assert_int_equal((size_t)elen, plen);
		eb = malloc(plen);
		assert_non_null(eb);
		rewind(f);
		assert_int_equal(fread(eb, 1, plen, f), plen);
		assert_memory_equal(eb, pb, plen);
		free(eb);
		free(pb);
		fclose(f);
	}
	store_close(s);

	s = fresh_store("sealed", rcpt_sk);
	assert_int_equal(import_file(s, "sealed.bundle", &ref, &st), 0);
	assert_int_equal(st.applied, 3);
	check_store(s, "digest_full");
	store_close(s);

	s = fresh_store("forged", NULL);
	import_file(s, "forged.bundle", &ref, &st);
	assert_int_equal(st.applied, 3);
	assert_int_equal(st.refused, 1);
	assert_int_equal(ref.n, 1);
	assert_int_equal(ref.index[0], 3);
	check_store(s, "digest_full");
	assert_int_equal(store_get(s, site_id, &r), 0);
	assert_str(store_rec_value(&r, "name"), "Pine County FRC");
	store_rec_free(&r);
	store_close(s);

	s = fresh_store("cut", NULL);
	import_file(s, "cut.bundle", &ref, &st);
	assert_int_equal(st.applied, 2);
	assert_int_equal(st.refused, 1);
	check_store(s, "digest_cut");
	assert_int_equal(store_get(s, ben_id, &r), 0);
	assert_int_equal(r.deleted, 0);
	store_rec_free(&r);
	assert_int_equal(store_get(s, cafe_id, &r), CS_ENOTFOUND);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_first_commit),
		cmocka_unit_test(test_multi_op_commits),
		cmocka_unit_test(test_bundles),
		cmocka_unit_test(test_sealed_bundle),
		cmocka_unit_test(test_store_digest),
		cmocka_unit_test(test_digest_by_hand),
	};

	return cmocka_run_group_tests_name("fixtures", tests, group_setup,
	    group_teardown);
}
