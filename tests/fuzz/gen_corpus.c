/*
 * gen_corpus.c: writes the seed corpus of the fuzz targets.
 *
 *   gen_corpus OUTDIR [BUNDLE ...]
 *
 * writes OUTDIR/commit/ (valid commits encoded with proto_commit_begin(),
 * proto_op_begin() and proto_op_base(): a first commit, a café with every
 * kind of field value, an edit with a base map, a delete, a commit of
 * several ops) and OUTDIR/bundle/ (a header alone, and a bundle of those
 * commits signed for a fresh key's network).  Each BUNDLE file given (made
 * by `cafe bundle export`) is copied into OUTDIR/bundle/ and its items'
 * commit bytes E are written into OUTDIR/commit/.
 *
 * It also writes OUTDIR/wire/ (each message kind made with the wire_pack_*
 * encoders, as it is, and behind a first byte that makes fuzz_wire feed
 * it sealed through an honest handshake) and OUTDIR/seal/ (bundles sealed
 * to fuzz_seal's fixed node key behind an even first byte, and
 * plaintexts behind an odd one).
 *
 * tests/fuzz/gen_corpus.sh builds and runs it; it is not part of `make`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "proto/proto.h"
#include "proto/wire.h"

#define HLC0 ((UINT64_C(1735689600000) << 16) | 1)

static uint8_t pk[PROTO_KEY_LEN], sk[PROTO_SK_LEN];
static const char *outdir;

static void
die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
write_file(const char *sub, const char *name, const void *p, size_t n)
{
	char *path = xasprintf("%s/%s/%s", outdir, sub, name);
	FILE *f = fopen(path, "wb");

	if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
		die(path);
	free(path);
}

static void
pack_bin(msgpack_packer *pk_, const uint8_t *p, size_t n)
{
	msgpack_pack_bin(pk_, n);
	msgpack_pack_bin_body(pk_, p, n);
}

static void
fill(uint8_t *p, size_t n, uint8_t start)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(start + i * 13);
}

/* The commits: each encoder w[i] holds commit seq i+1. */
#define NCOMMITS 5

/* Signs commit i and makes its hash the next commit's prev. */
static void
seal(struct proto_enc *w, uint8_t (*sig)[PROTO_SIG_LEN], int i,
    uint8_t prev[PROTO_HASH_LEN])
{
	proto_sign(sig[i], (const uint8_t *)w[i].sb.data, w[i].sb.size, pk,
	    sk);
	proto_hash(prev, (const uint8_t *)w[i].sb.data, w[i].sb.size, sig[i]);
}

static void
make_commits(struct proto_enc *w, uint8_t (*sig)[PROTO_SIG_LEN])
{
	uint8_t site[PROTO_ID_LEN], cafe[PROTO_ID_LEN], person[PROTO_ID_LEN];
	uint8_t prev[PROTO_HASH_LEN];
	msgpack_packer *p;

	fill(site, sizeof(site), 0x01);
	fill(cafe, sizeof(cafe), 0x41);
	fill(person, sizeof(person), 0x81);

	/* seq 1: a site. */
	proto_commit_begin(&w[0], pk, 1, NULL, HLC0, 1);
	p = &w[0].pk;
	proto_op_begin(&w[0], PROTO_OP_PUT, "site", site, 3, 0);
	proto_pack_cstr(p, "languages");
	msgpack_pack_array(p, 2);
	proto_pack_cstr(p, "English");
	proto_pack_cstr(p, "Spanish");
	proto_pack_cstr(p, "name");
	proto_pack_cstr(p, "Riverside Family Resource Center");
	proto_pack_cstr(p, "partner_type");
	proto_pack_cstr(p, "family_resource_center");
	seal(w, sig, 0, prev);

	/* seq 2: a café with a ref, refs, date, enum, set, uints, text. */
	proto_commit_begin(&w[1], pk, 2, prev, HLC0 + 0x10000, 1);
	p = &w[1].pk;
	proto_op_begin(&w[1], PROTO_OP_PUT, "cafe", cafe, 9, 0);
	proto_pack_cstr(p, "attendees");
	msgpack_pack_uint64(p, 14);
	proto_pack_cstr(p, "date");
	proto_pack_cstr(p, "2025-01-15");
	proto_pack_cstr(p, "factors");
	msgpack_pack_array(p, 2);
	proto_pack_cstr(p, "resilience");
	proto_pack_cstr(p, "social_connections");
	proto_pack_cstr(p, "format");
	proto_pack_cstr(p, "parent");
	proto_pack_cstr(p, "harvest");
	proto_pack_cstr(p, "Parents named three supports.\nNext: a dads cafe.");
	proto_pack_cstr(p, "hosts");
	msgpack_pack_array(p, 1);
	pack_bin(p, person, PROTO_ID_LEN);
	proto_pack_cstr(p, "new_attendees");
	msgpack_pack_uint64(p, 3);
	proto_pack_cstr(p, "site");
	pack_bin(p, site, PROTO_ID_LEN);
	proto_pack_cstr(p, "topic");
	msgpack_pack_nil(p);
	seal(w, sig, 1, prev);

	/* seq 3: an edit carrying the clocks it saw (a uint, an array). */
	proto_commit_begin(&w[2], pk, 3, prev, HLC0 + 0x20000, 1);
	p = &w[2].pk;
	proto_op_begin(&w[2], PROTO_OP_PUT, "cafe", cafe, 2, 1);
	proto_pack_cstr(p, "attendees");
	msgpack_pack_uint64(p, 15);
	proto_pack_cstr(p, "tables");
	msgpack_pack_uint64(p, 4);
	proto_op_base(&w[2], 2);
	proto_pack_cstr(p, "attendees");
	msgpack_pack_array(p, 2);	/* the value replaced, one in view */
	msgpack_pack_uint64(p, HLC0 + 0x10000);
	msgpack_pack_uint64(p, HLC0 + 5);
	proto_pack_cstr(p, "tables");
	msgpack_pack_uint64(p, 0);
	seal(w, sig, 2, prev);

	/*
	 * seq 4: several ops, with a negative int and a bool value (the
	 * codec takes them; the schema would not).
	 */
	proto_commit_begin(&w[3], pk, 4, prev, HLC0 + 0x30000, 3);
	p = &w[3].pk;
	proto_op_begin(&w[3], PROTO_OP_PUT, "person", person, 3, 0);
	proto_pack_cstr(p, "name");
	proto_pack_cstr(p, "Ana Ruiz");
	proto_pack_cstr(p, "roles");
	msgpack_pack_array(p, 2);
	proto_pack_cstr(p, "parent_leader");
	proto_pack_cstr(p, "host");
	proto_pack_cstr(p, "site");
	pack_bin(p, site, PROTO_ID_LEN);
	proto_op_begin(&w[3], PROTO_OP_PUT, "milestone", person, 2, 0);
	proto_pack_cstr(p, "flag");
	msgpack_pack_true(p);
	proto_pack_cstr(p, "step");
	msgpack_pack_int64(p, -2);
	proto_op_begin(&w[3], PROTO_OP_DEL, "person", site, 0, 0);
	seal(w, sig, 3, prev);

	/* seq 5: a delete. */
	proto_commit_begin(&w[4], pk, 5, prev, HLC0 + 0x40000, 1);
	proto_op_begin(&w[4], PROTO_OP_DEL, "cafe", cafe, 0, 0);
	seal(w, sig, 4, prev);
}

/* Splits a bundle file into commit seeds. */
static void
split_bundle(const char *path, int k)
{
	FILE *f = fopen(path, "rb");
	uint8_t net[PROTO_KEY_LEN], *buf;
	const uint8_t *e, *sig;
	size_t len, pos, elen;
	const char *why;
	char name[64];
	const char *base;
	int r, n = 0;
	struct stat st;

	if (f == NULL || fstat(fileno(f), &st) != 0)
		die(path);
	len = (size_t)st.st_size;
	buf = xmalloc(len + 1);
	if (fread(buf, 1, len, f) != len)
		die(path);
	fclose(f);
	base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	write_file("bundle", base, buf, len);
	r = proto_bundle_parse_header(buf, len, net, &why);
	if (r <= 0) {
		fprintf(stderr, "gen_corpus: %s: not a bundle\n", path);
		exit(1);
	}
	for (pos = (size_t)r; pos < len; pos += (size_t)r) {
		r = proto_bundle_parse_item(buf + pos, len - pos, &e, &elen,
		    &sig, &why);
		if (r <= 0)
			break;
		snprintf(name, sizeof(name), "export%d_%02d", k, ++n);
		write_file("commit", name, e, elen);
	}
	free(buf);
}

/* Appends the commits w, signed sig, to out as bundle items. */
static void
pack_items(struct proto_enc *out, const struct proto_enc *w,
    const uint8_t (*sig)[PROTO_SIG_LEN])
{
	int i;

	for (i = 0; i < NCOMMITS; i++) {
		struct proto_enc item;

		proto_enc_init(&item);
		proto_bundle_item(&item, (const uint8_t *)w[i].sb.data,
		    w[i].sb.size, sig[i]);
		msgpack_sbuffer_write(&out->sb, item.sb.data, item.sb.size);
		proto_enc_free(&item);
	}
}

/* Writes msg as it is and behind fuzz_wire's "sealed, 4096-byte steps". */
static void
write_wire(const char *name, struct proto_enc *msg)
{
	char *sealed = xasprintf("%s_sealed", name);
	uint8_t *b = xmalloc(msg->sb.size + 1);

	write_file("wire", name, msg->sb.data, msg->sb.size);
	b[0] = (uint8_t)(3 | (11 << 2));
	memcpy(b + 1, msg->sb.data, msg->sb.size);
	write_file("wire", sealed, b, msg->sb.size + 1);
	free(b);
	free(sealed);
}

/* One message of each kind. */
static void
make_wire(const struct proto_enc *w, const uint8_t (*sig)[PROTO_SIG_LEN])
{
	struct proto_enc m;
	uint8_t h1[PROTO_HASH_LEN], h2[PROTO_HASH_LEN];
	uint8_t inv[WIRE_INVITE_LEN], sec[WIRE_SECRET_LEN];

	fill(h1, sizeof(h1), 0x11);
	fill(h2, sizeof(h2), 0x77);
	fill(inv, sizeof(inv), 0x21);
	fill(sec, sizeof(sec), 0x31);
	proto_enc_init(&m);
	wire_pack_heads_begin(&m, 2);
	wire_pack_head(&m, pk, 5, h1);
	wire_pack_head(&m, sk, 0, h2);
	write_wire("heads", &m);
	wire_pack_want_begin(&m, 2);
	wire_pack_want(&m, pk, 1);
	wire_pack_want(&m, sk, 3);
	write_wire("want", &m);
	wire_pack_commits_begin(&m, 7, NCOMMITS);
	pack_items(&m, w, sig);
	write_wire("commits", &m);
	wire_pack_ack(&m, 7, 4, 1);
	write_wire("ack", &m);
	wire_pack_ping(&m, WIRE_MSG_PING, 42);
	write_wire("ping", &m);
	wire_pack_ping(&m, WIRE_MSG_PONG, 42);
	write_wire("pong", &m);
	wire_pack_error(&m, "protocol: a reason");
	write_wire("error", &m);
	wire_pack_join(&m, inv, sec, "Pine laptop");
	write_wire("join", &m);
	wire_pack_joined(&m, "site");
	write_wire("joined", &m);
	proto_enc_free(&m);
}

/* Seals bundle b to fuzz_seal's fixed key; writes it and its plaintext. */
static void
make_seal(const struct proto_enc *b)
{
	uint8_t seed[crypto_sign_SEEDBYTES], npk[PROTO_KEY_LEN];
	uint8_t nsk[PROTO_SK_LEN], hdr[PROTO_SEAL_HEADER_LEN];
	struct proto_seal *ps;
	const char *cause;
	size_t n = b->sb.size, half = n / 2, len;
	uint8_t *out = xmalloc(1 + PROTO_SEAL_HEADER_LEN + n +
	    2 * PROTO_SEAL_OVERHEAD);
	int r;

	memset(seed, 0x5e, sizeof(seed));
	crypto_sign_seed_keypair(npk, nsk, seed);
	if (proto_seal_begin(&ps, hdr, npk, &cause) != 0) {
		fprintf(stderr, "gen_corpus: seal: %s\n", cause);
		exit(1);
	}
	out[0] = 0;
	memcpy(out + 1, hdr, sizeof(hdr));
	len = 1 + sizeof(hdr);
	r = proto_seal_push(ps, out + len, (const uint8_t *)b->sb.data,
	    half, 0);
	len += (size_t)r;
	r = proto_seal_push(ps, out + len, (const uint8_t *)b->sb.data + half,
	    n - half, 1);
	len += (size_t)r;
	proto_seal_free(ps);
	write_file("seal", "sealed_bundle", out, len);
	write_file("seal", "sealed_header_only", out, 1 + sizeof(hdr));
	out[0] = 1;
	memcpy(out + 1, b->sb.data, n);
	write_file("seal", "plain_bundle", out, n + 1);
	free(out);
	sodium_memzero(nsk, sizeof(nsk));
}

int
main(int argc, char **argv)
{
	struct proto_enc w[NCOMMITS], b;
	uint8_t sig[NCOMMITS][PROTO_SIG_LEN];
	char name[64], *dir;
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: gen_corpus OUTDIR [BUNDLE ...]\n");
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	outdir = argv[1];
	for (i = 0; i < 4; i++) {
		static const char *const sub[] = { "commit", "bundle", "wire",
		    "seal" };

		dir = xasprintf("%s/%s", outdir, sub[i]);
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			die(dir);
		free(dir);
	}
	/* A fixed seed keeps the corpus stable from run to run. */
	{
		uint8_t seed[crypto_sign_SEEDBYTES];

		fill(seed, sizeof(seed), 0x5a);
		crypto_sign_seed_keypair(pk, sk, seed);
	}
	for (i = 0; i < NCOMMITS; i++)
		proto_enc_init(&w[i]);
	make_commits(w, sig);
	for (i = 0; i < NCOMMITS; i++) {
		snprintf(name, sizeof(name), "gen_seq%d", i + 1);
		write_file("commit", name, w[i].sb.data, w[i].sb.size);
	}

	proto_enc_init(&b);
	proto_bundle_header(&b, pk);
	write_file("bundle", "gen_header_only", b.sb.data, b.sb.size);
	pack_items(&b, w, (const uint8_t (*)[PROTO_SIG_LEN])sig);
	write_file("bundle", "gen_five_commits", b.sb.data, b.sb.size);
	make_seal(&b);
	proto_enc_free(&b);
	make_wire(w, (const uint8_t (*)[PROTO_SIG_LEN])sig);
	for (i = 0; i < NCOMMITS; i++)
		proto_enc_free(&w[i]);

	for (i = 2; i < argc; i++)
		split_bundle(argv[i], i - 1);
	return 0;
}
