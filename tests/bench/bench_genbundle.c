/*
 * bench_genbundle.c: writes a bundle of N single-op commits signed by a
 * node, quickly, for the bundle import benchmark.
 *
 *   bench_genbundle DIR N OUT [ordered|scattered [OPS]]
 *
 * DIR is a node made by `cafe init --role site`.  Reads its key (DIR/
 * node.key) and its network from the store, then builds the node's log
 * from seq 1 with the proto_* encoder, exactly as store_batch_commit()
 * would: 20 sites, then cafés (site, date, format, factors, attendees,
 * new_attendees) spread over those sites and two years (2023-2024), one op
 * per commit, each chained
 * to the previous commit's hash, with a clock that moves forward, signed
 * with proto_sign() for the network.  Writes the plain bundle to OUT.
 * "ordered" (the default) gives the cafés dates that move forward with
 * the log, as a site that logs each café after it happens; "scattered"
 * gives each a pseudo-random date of the two years, so that every index
 * insert by date lands on a random page (the worst case for the store).
 * Authoring the same log through store_batch would cost one synced LMDB
 * transaction per commit (see bench_author); this costs a signature.
 *
 * With OPS (default 1) above 1, the first commit holds the 20 sites and
 * every other commit OPS cafés.
 *
 * Prints, one "name value" per line:
 *   gen_commits     N
 *   gen_ops         ops in all
 *   gen_commit_bytes  the commits' own bytes: E and signature, summed
 *   gen_bytes       size of OUT
 *   gen_per_s       commits encoded, signed and hashed per second
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage.h"

#define NSITES 20

static const char *const formats[] = { "parent", "dads", "community",
	"virtual" };

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
pack_id(msgpack_packer *pk, const uint8_t id[PROTO_ID_LEN])
{
	msgpack_pack_bin(pk, PROTO_ID_LEN);
	msgpack_pack_bin_body(pk, id, PROTO_ID_LEN);
}

/* Reads the node's 64-byte secret key. */
static void
read_key(const char *dir, uint8_t sk[PROTO_SK_LEN])
{
	char *path = xasprintf("%s/node.key", dir);
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, sk, PROTO_SK_LEN) != PROTO_SK_LEN) {
		fprintf(stderr, "bench_genbundle: %s: %s\n", path,
		    strerror(errno));
		exit(1);
	}
	close(fd);
	free(path);
}

/* The key of the node whose log is made: the owner of every record. */
static uint8_t gen_node[PROTO_KEY_LEN];

/* Packs the op of site i. */
static void
pack_site(struct proto_enc *w, uint8_t site[PROTO_ID_LEN], long i,
    uint64_t ms)
{
	char name[32];

	proto_id_new(site, ms, gen_node);
	proto_op_begin(w, PROTO_OP_PUT, "site", site, 1, 0);
	snprintf(name, sizeof(name), "Bench Site %02ld", i);
	proto_pack_cstr(&w->pk, "name");
	proto_pack_cstr(&w->pk, name);
}

/* Packs café i of total, dated in order or scattered over two years. */
static void
pack_cafe(struct proto_enc *w, uint8_t sites[][PROTO_ID_LEN], long i,
    long total, int scattered, uint64_t ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	long day = scattered ? (i * 7919) % 731 :
	    (long)((double)i * 731 / (double)total);
	int y = day < 365 ? 2023 : 2024;
	int yd = (int)(day < 365 ? day : day - 365);
	uint8_t id[PROTO_ID_LEN];
	char date[32];
	int m = 0;

	if (day > 730)
		day = 730;
	while (yd >= mdays[m] + (m == 1 && y == 2024)) {
		yd -= mdays[m] + (m == 1 && y == 2024);
		m++;
	}
	snprintf(date, sizeof(date), "%04d-%02d-%02d", y, m + 1, yd + 1);
	proto_id_new(id, ms, gen_node);
	proto_op_begin(w, PROTO_OP_PUT, "cafe", id, 6, 0);
	proto_pack_cstr(&w->pk, "attendees");
	msgpack_pack_uint64(&w->pk, (uint64_t)(6 + i % 25));
	proto_pack_cstr(&w->pk, "date");
	proto_pack_cstr(&w->pk, date);
	proto_pack_cstr(&w->pk, "factors");
	msgpack_pack_array(&w->pk, 2);
	proto_pack_cstr(&w->pk, "resilience");
	proto_pack_cstr(&w->pk, "social_connections");
	proto_pack_cstr(&w->pk, "format");
	proto_pack_cstr(&w->pk, formats[i % 4]);
	proto_pack_cstr(&w->pk, "new_attendees");
	msgpack_pack_uint64(&w->pk, (uint64_t)(i % 6));
	proto_pack_cstr(&w->pk, "site");
	pack_id(&w->pk, sites[i % NSITES]);
}

int
main(int argc, char **argv)
{
	struct store *s;
	struct proto_enc w, item;
	uint8_t sk[PROTO_SK_LEN], node[PROTO_KEY_LEN], net[PROTO_KEY_LEN];
	uint8_t prev[PROTO_HASH_LEN], sig[PROTO_SIG_LEN];
	uint8_t sites[NSITES][PROTO_ID_LEN];
	char *cause = NULL;
	uint64_t hlc, ms, seq;
	unsigned long bytes = 0, commit_bytes = 0;
	double t0, t;
	long n, ops = 1, k = 0, total, j, nops;
	int scattered = 0;
	FILE *f;

	if (argc >= 5 && strcmp(argv[4], "scattered") == 0)
		scattered = 1;
	else if (argc >= 5 && strcmp(argv[4], "ordered") != 0)
		argc = 0;
	if (argc == 6 && ((ops = atol(argv[5])) < 1 || ops > PROTO_MAX_OPS))
		argc = 0;
	if (argc < 4 || argc > 6 || (n = atol(argv[2])) <= NSITES) {
		fprintf(stderr, "usage: bench_genbundle DIR N OUT "
		    "[ordered|scattered [OPS]] (N > %d commits of OPS ops)\n",
		    NSITES);
		return 2;
	}
	if (store_open(&s, argv[1], &cause) != 0) {
		fprintf(stderr, "bench_genbundle: %s\n", cause);
		return 1;
	}
	memcpy(node, store_info(s)->node, PROTO_KEY_LEN);
	memcpy(gen_node, node, PROTO_KEY_LEN);
	memcpy(net, store_info(s)->network, PROTO_KEY_LEN);
	store_close(s);
	read_key(argv[1], sk);
	if (memcmp(sk + 32, node, PROTO_KEY_LEN) != 0) {
		fprintf(stderr, "bench_genbundle: key and store differ\n");
		return 1;
	}
	if ((f = fopen(argv[3], "wb")) == NULL) {
		fprintf(stderr, "bench_genbundle: %s: %s\n", argv[3],
		    strerror(errno));
		return 1;
	}
	proto_enc_init(&w);
	proto_enc_init(&item);
	proto_bundle_header(&item, net);
	fwrite(item.sb.data, 1, item.sb.size, f);
	bytes += item.sb.size;

	/* With one op a commit, the first NSITES commits are the sites;
	 * with more, the first commit holds them all. */
	total = ops == 1 ? n - NSITES : (n - 1) * ops;
	ms = wall_ms();
	hlc = ms << 16;
	t0 = now_s();
	for (seq = 1; seq <= (uint64_t)n; seq++) {
		int sites_commit = ops == 1 ? seq <= NSITES : seq == 1;

		nops = sites_commit ? (ops == 1 ? 1 : NSITES) : ops;
		hlc = hlc_tick(hlc, ms);
		proto_commit_begin(&w, node, seq, seq > 1 ? prev : NULL, hlc,
		    (uint32_t)nops);
		for (j = 0; j < nops; j++) {
			if (sites_commit)
				pack_site(&w, sites[ops == 1 ? (long)seq - 1 :
				    j], ops == 1 ? (long)seq - 1 : j, ms);
			else
				pack_cafe(&w, sites, k++, total, scattered,
				    ms);
		}
		proto_sign(sig, (const uint8_t *)w.sb.data, w.sb.size, net, sk);
		proto_hash(prev, (const uint8_t *)w.sb.data, w.sb.size, sig);
		commit_bytes += w.sb.size + PROTO_SIG_LEN;
		proto_enc_reset(&item);
		proto_bundle_item(&item, (const uint8_t *)w.sb.data, w.sb.size,
		    sig);
		if (fwrite(item.sb.data, 1, item.sb.size, f) != item.sb.size) {
			fprintf(stderr, "bench_genbundle: %s: %s\n", argv[3],
			    strerror(errno));
			return 1;
		}
		bytes += item.sb.size;
	}
	t = now_s() - t0;
	if (fclose(f) != 0) {
		fprintf(stderr, "bench_genbundle: %s: %s\n", argv[3],
		    strerror(errno));
		return 1;
	}
	proto_enc_free(&w);
	proto_enc_free(&item);
	memset(sk, 0, sizeof(sk));
	printf("gen_commits %ld\n", n);
	printf("gen_ops %ld\n", k + (ops == 1 ? NSITES : NSITES));
	printf("gen_bytes %lu\n", bytes);
	printf("gen_commit_bytes %lu\n", commit_bytes);
	printf("gen_per_s %.0f\n", (double)n / t);
	return 0;
}
