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
 * tests/fuzz/gen_corpus.sh builds and runs it; it is not part of `make`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "proto/proto.h"

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
	for (i = 0; i < 2; i++) {
		dir = xasprintf("%s/%s", outdir, i ? "bundle" : "commit");
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
	for (i = 0; i < NCOMMITS; i++) {
		struct proto_enc item;

		proto_enc_init(&item);
		proto_bundle_item(&item, (const uint8_t *)w[i].sb.data,
		    w[i].sb.size, sig[i]);
		msgpack_sbuffer_write(&b.sb, item.sb.data, item.sb.size);
		proto_enc_free(&item);
	}
	write_file("bundle", "gen_five_commits", b.sb.data, b.sb.size);
	proto_enc_free(&b);
	for (i = 0; i < NCOMMITS; i++)
		proto_enc_free(&w[i]);

	for (i = 2; i < argc; i++)
		split_bundle(argv[i], i - 1);
	return 0;
}
