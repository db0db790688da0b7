/*
 * bench_fanin.c: many sites reconnecting to one hub at once, in one
 * process, speaking the real protocol (proto/wire.h, the state machine
 * and encoders cafed itself uses) on libuv.
 *
 *   bench_fanin setup HUB_DIR N SITES_FILE
 *       run on the hub's store (the network's admin) while its cafed is
 *       stopped: writes N site records and N member records (role site,
 *       each speaking for its own site), as `cafe add site` and `cafe
 *       member add` would, in the few local commits the store cuts them
 *       into.  Site i's key is made from a fixed seed and i, so `storm`
 *       makes the same keys; SITES_FILE gets one site id (hex) a line.
 *
 *   bench_fanin storm HOST:PORT HUB_KEY N M SITES_FILE [HUB_PID]
 *       makes and signs M new single-op commits (one café each) for each
 *       of the N sites, then connects all N at once, each from its own
 *       loopback address (127.1.x.y, as sites on their own links), and
 *       each site: handshakes with its own key, sends HEADS (its own log
 *       only, and the schema dictionary offered, as cafed offers it),
 *       pushes the commits the hub lacks in COMMITS batches (one in
 *       flight, the next on its ACK), receives the admin log the hub
 *       sends (ZCOMMITS expanded by proto/zcodec.c, as cafed does; each
 *       commit checked to chain on the one before and its signature
 *       verified), acknowledges it, and answers PINGs.
 *       CAFESYNC_WIRE_COMPRESS=none in the environment offers no
 *       dictionary, as with cafed.  A site is caught up when the hub
 *       acknowledged all its commits and it received the admin log up to
 *       the head the hub announced.  A connection the hub cuts or refuses
 *       is dialed again after a backoff (250 ms doubling to 8 s, with
 *       jitter), as a site's cafed does.
 *
 * Once every site is caught up it prints, one "name value" per line:
 *   fanin_sites       N
 *   fanin_commits     N * M pushed and acknowledged
 *   fanin_secs        from the first connect to the last site caught up
 *   fanin_site_p50    seconds until the median site was caught up
 *   fanin_admin_seq   the admin log's head every site received
 *   fanin_admin_bytes bytes of admin commits one site received
 *   fanin_admin_wire  bytes of the COMMITS / ZCOMMITS messages that
 *                     carried them to one site (before sealing)
 *   fanin_admin_verified admin commits whose signature was verified:
 *                     each distinct commit once (every site checks the
 *                     hash of what it received against the verified one)
 *   fanin_redials     connections dialed again (refused or cut)
 *   fanin_hub_cpu_s   the hub's CPU seconds (user + system, every thread)
 *                     over fanin_secs, from /proc/HUB_PID/stat
 *   fanin_tool_cpu_s  this tool's own CPU seconds over fanin_secs
 *   fanin_idle_s      the machine's idle CPU seconds over fanin_secs, all
 *                     cores (/proc/stat)
 *   fanin_hub_hwm_kb  the hub's peak resident memory (VmHWM)
 *   fanin_hub_fds     the hub's open descriptors (/proc/HUB_PID/fd)
 *   fanin_done        1
 * (the fanin_hub_* lines only with HUB_PID), says "storm_end" and the
 * wall clock (seconds since the epoch) on stderr, and then stays connected,
 * live, answering the hub's PINGs, until SIGTERM or SIGINT; it then
 * prints fanin_live_drops (connections lost after caught up) and exits 0.
 * It exits 1 when a commit is refused, the hub sends ERROR, or the sites
 * are not all caught up within FANIN_TIMEOUT seconds (600).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>
#include <uv.h>

#include "proto/wire.h"
#include "proto/zcodec.h"
#include "storage/storage.h"

#define SEED_DOMAIN "cafesync-fanin-bench"
#define RBUF (64 * 1024)
#define REDIAL_MIN_MS 250
#define REDIAL_MAX_MS 8000
#define BATCH_ITEMS 1024

/* One commit a site pushes. */
struct item {
	uint8_t *e;
	size_t elen;
	uint8_t sig[PROTO_SIG_LEN];
};

/* One simulated site: its key, its log, its connection. */
struct site {
	unsigned idx;
	uint8_t pk[PROTO_KEY_LEN], sk[PROTO_SK_LEN];
	struct item *items;          /* seq 1..M at items[0..M-1] */
	uv_tcp_t *tcp;               /* NULL when not connected */
	uv_connect_t creq;
	uv_timer_t redial;
	struct wire w;
	int open, got_heads, done, failed;
	uint64_t hub_seq;            /* our commits the hub holds */
	uint64_t in_flight;          /* commits in the batch not yet acked */
	uint64_t batch;              /* our last COMMITS batch number */
	uint64_t admin_want, admin_got, admin_bytes, admin_wire;
	uint8_t admin_head[PROTO_HASH_LEN]; /* hash of admin commit admin_got */
	unsigned attempts;
	double t_done;
};

/* Writes in flight: the request and the bytes. */
struct wr {
	uv_write_t req;
	uint8_t data[];
};

static struct {
	uv_loop_t *loop;
	struct site *sites;
	unsigned n, m;
	uint8_t hub[PROTO_KEY_LEN];
	struct sockaddr_in addr;
	unsigned ndone, redials, live_drops;
	double t0, t_all;
	long hub_pid;
	double hub_cpu0;
	double tool_cpu0, idle0;      /* this process's CPU, idle cores */
	uint8_t rbuf[RBUF];
	const struct zc_dict *zd;    /* the dictionary offered, or NULL */
	/* Admin commits verified: hash of seq s at ahash[s - 1]. */
	uint8_t (*ahash)[PROTO_HASH_LEN];
	size_t nahash, verified;
	uv_signal_t sigterm, sigint;
	uv_timer_t timeout;
	int reported;
} B;

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench_fanin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Makes site i's key pair from the fixed seed. */
static void
site_key(unsigned i, uint8_t pk[PROTO_KEY_LEN], uint8_t sk[PROTO_SK_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES], n[4];

	n[0] = (uint8_t)(i >> 24);
	n[1] = (uint8_t)(i >> 16);
	n[2] = (uint8_t)(i >> 8);
	n[3] = (uint8_t)i;
	crypto_generichash(seed, sizeof(seed), n, sizeof(n),
	    (const uint8_t *)SEED_DOMAIN, sizeof(SEED_DOMAIN) - 1);
	crypto_sign_seed_keypair(pk, sk, seed);
}

static unsigned
parse_n(const char *s, unsigned max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno != 0 || v < 1 || v > max)
		die("%s: '%s' is not a number from 1 to %u", what, s, max);
	return (unsigned)v;
}

/* ---- setup -------------------------------------------------------------- */

/* Commits b, ending the program on an error. */
static void
commit_or_die(struct store_batch *b)
{
	char *cause = NULL;

	if (store_batch_commit(b, &cause) != 0)
		die("commit: %s", cause);
	store_batch_free(b);
}

static int
cmd_setup(char **av)
{
	const struct sch_type *st = sch_type_find("site", 4);
	const struct sch_type *mt = sch_type_find("member", 6);
	unsigned n = parse_n(av[1], 100000, "N"), i;
	uint8_t (*ids)[PROTO_ID_LEN], pk[PROTO_KEY_LEN], sk[PROTO_SK_LEN];
	char *cause = NULL, name[64], hex[2 * PROTO_KEY_LEN + 1];
	char sid[2 * PROTO_ID_LEN + 1];
	struct store_batch *b;
	struct store *s;
	FILE *f;

	if (store_open(&s, av[0], &cause) != 0)
		die("%s: %s", av[0], cause);
	if (memcmp(store_info(s)->node, store_info(s)->network,
	    PROTO_KEY_LEN) != 0)
		die("%s: not the network's admin", av[0]);
	ids = xcalloc(n, sizeof(*ids));
	b = store_batch_new(s);
	for (i = 0; i < n; i++) {
		struct store_kv kv = { "name", name };

		snprintf(name, sizeof(name), "Fan-in site %u", i + 1);
		if (store_batch_put(b, st, ids[i], 1, &kv, 1, &cause) != 0)
			die("site %u: %s", i + 1, cause);
	}
	commit_or_die(b);
	b = store_batch_new(s);
	for (i = 0; i < n; i++) {
		uint8_t mid[PROTO_ID_LEN];
		struct store_kv kv[5] = {
			{ "key", hex }, { "role", "site" }, { "name", name },
			{ "status", "active" }, { "site", sid },
		};

		site_key(i, pk, sk);
		proto_hex(hex, pk, PROTO_KEY_LEN);
		proto_hex(sid, ids[i], PROTO_ID_LEN);
		snprintf(name, sizeof(name), "fanin-%u", i + 1);
		proto_member_id(mid, pk);
		if (store_batch_put(b, mt, mid, 1, kv, 5, &cause) != 0)
			die("member %u: %s", i + 1, cause);
	}
	commit_or_die(b);
	sodium_memzero(sk, sizeof(sk));
	if ((f = fopen(av[2], "w")) == NULL)
		die("%s: %s", av[2], strerror(errno));
	for (i = 0; i < n; i++) {
		proto_hex(sid, ids[i], PROTO_ID_LEN);
		fprintf(f, "%s\n", sid);
	}
	if (fclose(f) != 0)
		die("%s: %s", av[2], strerror(errno));
	free(ids);
	store_close(s);
	return 0;
}

/* ---- the sites' logs ---------------------------------------------------- */

static void
pack_bin(msgpack_packer *pk, const uint8_t *b, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, b, n);
}

/*
 * Makes site's M commits: seq 1..M chained, each one café of its own
 * site, signed for network, exactly as the store writes a local commit.
 */
static void
make_log(struct site *st, const uint8_t site_id[PROTO_ID_LEN],
    const uint8_t network[PROTO_KEY_LEN], uint64_t ms)
{
	struct proto_enc w;
	uint8_t prev[PROTO_HASH_LEN], id[PROTO_ID_LEN];
	char date[16];
	unsigned s;

	proto_enc_init(&w);
	st->items = xcalloc(B.m, sizeof(*st->items));
	for (s = 1; s <= B.m; s++) {
		struct item *it = &st->items[s - 1];

		proto_commit_begin(&w, st->pk, s, s > 1 ? prev : NULL,
		    (ms << 16) + s, 1);
		proto_id_new(id, ms, st->pk);
		proto_op_begin(&w, PROTO_OP_PUT, "cafe", id, 4, 0);
		snprintf(date, sizeof(date), "2026-%02u-%02u", 1 + s % 12,
		    1 + (st->idx + s) % 28);
		proto_pack_cstr(&w.pk, "date");
		proto_pack_cstr(&w.pk, date);
		proto_pack_cstr(&w.pk, "factors");
		msgpack_pack_array(&w.pk, 1);
		proto_pack_cstr(&w.pk, "resilience");
		proto_pack_cstr(&w.pk, "format");
		proto_pack_cstr(&w.pk, "parent");
		proto_pack_cstr(&w.pk, "site");
		pack_bin(&w.pk, site_id, PROTO_ID_LEN);
		it->elen = w.sb.size;
		it->e = xmalloc(it->elen);
		memcpy(it->e, w.sb.data, it->elen);
		proto_sign(it->sig, it->e, it->elen, network, st->sk);
		proto_hash(prev, it->e, it->elen, it->sig);
	}
	proto_enc_free(&w);
}

/* ---- the hub's figures -------------------------------------------------- */

/* The hub's CPU seconds so far (user + system), or -1. */
static double
hub_cpu(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut, stime;
	FILE *f;
	int k;

	snprintf(path, sizeof(path), "/proc/%ld/stat", B.hub_pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	/* The command name may hold spaces: count fields after its ')'. */
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return -1;
	for (k = 0; k < 12 && p != NULL; k++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, "%lu %lu", &ut, &stime) != 2)
		return -1;
	return (double)(ut + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* This process's CPU seconds so far (user + system). */
static double
tool_cpu(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) != 0)
		return -1;
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The machine's idle CPU seconds so far, every core, or -1. */
static double
idle_cpu(void)
{
	unsigned long long u, n, sy, idle, iow;
	FILE *f = fopen("/proc/stat", "r");
	int k;

	if (f == NULL)
		return -1;
	k = fscanf(f, "cpu %llu %llu %llu %llu %llu", &u, &n, &sy, &idle,
	    &iow);
	fclose(f);
	if (k != 5)
		return -1;
	return (double)(idle + iow) / (double)sysconf(_SC_CLK_TCK);
}

/* A "Name: value kB" line of /proc/PID/status, or -1. */
static long
hub_status_kb(const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", B.hub_pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
			v = atol(line + kl + 1);
			break;
		}
	fclose(f);
	return v;
}

static long
hub_fds(void)
{
	char path[64];
	struct dirent *de;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/fd", B.hub_pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Prints the figures, once every site is caught up. */
static void
report(void)
{
	double *t = xcalloc(B.n, sizeof(*t));
	struct timespec ts;
	unsigned i;

	B.t_all = now_s();
	for (i = 0; i < B.n; i++)
		t[i] = B.sites[i].t_done - B.t0;
	qsort(t, B.n, sizeof(*t), cmp_double);
	printf("fanin_sites %u\n", B.n);
	printf("fanin_commits %llu\n", (unsigned long long)B.n * B.m);
	printf("fanin_secs %.3f\n", B.t_all - B.t0);
	printf("fanin_site_p50 %.3f\n", t[B.n / 2]);
	printf("fanin_admin_seq %llu\n",
	    (unsigned long long)B.sites[0].admin_want);
	printf("fanin_admin_bytes %llu\n",
	    (unsigned long long)B.sites[0].admin_bytes);
	printf("fanin_admin_wire %llu\n",
	    (unsigned long long)B.sites[0].admin_wire);
	printf("fanin_admin_verified %zu\n", B.verified);
	printf("fanin_redials %u\n", B.redials);
	printf("fanin_tool_cpu_s %.2f\n", tool_cpu() - B.tool_cpu0);
	printf("fanin_idle_s %.2f\n", idle_cpu() - B.idle0);
	if (B.hub_pid > 0) {
		printf("fanin_hub_cpu_s %.2f\n", hub_cpu() - B.hub_cpu0);
		printf("fanin_hub_hwm_kb %ld\n", hub_status_kb("VmHWM"));
		printf("fanin_hub_fds %ld\n", hub_fds());
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "storm_end %lld.%09ld\n", (long long)ts.tv_sec,
	    ts.tv_nsec);
	printf("fanin_done 1\n");
	fflush(stdout);
	free(t);
	B.reported = 1;
	uv_timer_stop(&B.timeout);
}

/* ---- one site's session ------------------------------------------------- */

static void site_dial(struct site *st);

static void
on_redial(uv_timer_t *t)
{
	site_dial(t->data);
}

static void
on_tcp_closed(uv_handle_t *h)
{
	free(h);
}

/* Drops site's connection and dials again after a backoff. */
static void
site_lost(struct site *st, const char *why)
{
	unsigned ms;

	if (st->tcp == NULL)
		return;
	if (getenv("FANIN_VERBOSE") != NULL)
		fprintf(stderr, "bench_fanin: site %u: %s\n", st->idx + 1,
		    why);
	uv_close((uv_handle_t *)st->tcp, on_tcp_closed);
	st->tcp = NULL;
	wire_free(&st->w);
	if (st->done)
		B.live_drops++;
	st->open = st->got_heads = 0;
	st->in_flight = 0;
	B.redials++;
	ms = REDIAL_MIN_MS << (st->attempts < 5 ? st->attempts : 5);
	if (ms > REDIAL_MAX_MS)
		ms = REDIAL_MAX_MS;
	st->attempts++;
	ms = ms / 2 + randombytes_uniform(ms);
	uv_timer_start(&st->redial, on_redial, ms, 0);
}

static void
on_write(uv_write_t *req, int status)
{
	(void)status;     /* a failed write shows as a failed read */
	free(req);
}

static void
write_bytes(struct site *st, const uint8_t *data, size_t len, int copy)
{
	struct wr *wr;
	uv_buf_t b;

	wr = xmalloc(sizeof(*wr) + len);
	if (copy)
		memcpy(wr->data, data, len);
	b = uv_buf_init((char *)wr->data, (unsigned)len);
	if (uv_write(&wr->req, (uv_stream_t *)st->tcp, &b, 1, on_write) != 0)
		free(wr);
}

/* Seals msg and writes it. */
static void
send_msg(struct site *st, const struct proto_enc *msg)
{
	size_t len = wire_sealed_len(msg->sb.size);
	struct wr *wr = xmalloc(sizeof(*wr) + len);
	uv_buf_t b;

	if (wire_seal(&st->w, (const uint8_t *)msg->sb.data, msg->sb.size,
	    wr->data) != 0)
		die("site %u: cannot seal %zu bytes", st->idx + 1,
		    msg->sb.size);
	b = uv_buf_init((char *)wr->data, (unsigned)len);
	if (uv_write(&wr->req, (uv_stream_t *)st->tcp, &b, 1, on_write) != 0)
		free(wr);
}

/* Sends the next COMMITS batch the hub lacks, if any and none in flight. */
static void
push_more(struct site *st)
{
	struct proto_enc e;
	uint64_t from = st->hub_seq, n = 0;
	size_t bytes = 0;

	if (st->in_flight > 0 || from >= B.m)
		return;
	while (from + n < B.m && n < BATCH_ITEMS &&
	    bytes + st->items[from + n].elen + 80 <= WIRE_BATCH_BYTES) {
		bytes += st->items[from + n].elen + 80;
		n++;
	}
	proto_enc_init(&e);
	wire_pack_commits_begin(&e, ++st->batch, n);
	for (uint64_t k = 0; k < n; k++)
		proto_bundle_item(&e, st->items[from + k].e,
		    st->items[from + k].elen, st->items[from + k].sig);
	send_msg(st, &e);
	proto_enc_free(&e);
	st->in_flight = n;
}

static void
check_done(struct site *st)
{
	if (st->done || !st->got_heads || st->hub_seq < B.m ||
	    st->admin_got < st->admin_want)
		return;
	st->done = 1;
	st->attempts = 0;
	st->t_done = now_s();
	if (++B.ndone == B.n)
		report();
}

/*
 * Checks admin commit c (bytes e/elen, signature sig), the next one site
 * st lacks: it must chain on the one before, and its signature must be
 * the hub's.  Every site receives the same admin log, so a signature is
 * verified once per distinct commit; a commit whose hash is one already
 * verified at that seq is the same bytes.
 */
static void
admin_check(struct site *st, const struct proto_commit *c,
    const uint8_t *e, size_t elen, const uint8_t *sig)
{
	uint8_t h[PROTO_HASH_LEN];

	if (c->seq != st->admin_got + 1)
		die("site %u: admin commit %llu after %llu", st->idx + 1,
		    (unsigned long long)c->seq,
		    (unsigned long long)st->admin_got);
	if (c->seq > 1 && (c->prev == NULL ||
	    memcmp(c->prev, st->admin_head, PROTO_HASH_LEN) != 0))
		die("site %u: admin commit %llu does not chain on %llu",
		    st->idx + 1, (unsigned long long)c->seq,
		    (unsigned long long)st->admin_got);
	proto_hash(h, e, elen, sig);
	if (c->seq > B.nahash || memcmp(B.ahash[c->seq - 1], h,
	    PROTO_HASH_LEN) != 0) {
		if (proto_verify(sig, e, elen, B.hub, c->origin) != 0)
			die("site %u: admin commit %llu: bad signature",
			    st->idx + 1, (unsigned long long)c->seq);
		if (c->seq > B.nahash) {
			B.ahash = xreallocarray(B.ahash, c->seq, sizeof(*B.ahash));
			memset(B.ahash + B.nahash, 0,
			    (c->seq - B.nahash) * sizeof(*B.ahash));
			B.nahash = c->seq;
		}
		memcpy(B.ahash[c->seq - 1], h, PROTO_HASH_LEN);
		B.verified++;
	}
	memcpy(st->admin_head, h, PROTO_HASH_LEN);
	st->admin_got = c->seq;
}

/* Handles one message from the hub; returns -1 to drop the session. */
static int
on_msg(struct site *st, const uint8_t *data, size_t len)
{
	struct wire_msg m;
	struct proto_enc e;
	const char *cause = NULL;
	size_t i;

	if (wire_msg_decode(&m, data, len, &cause) != 0)
		die("site %u: a message from the hub does not decode: %s",
		    st->idx + 1, cause);
	switch (m.type) {
	case WIRE_MSG_HEADS:
		st->got_heads = 1;
		st->hub_seq = 0;
		for (i = 0; i < m.nheads; i++) {
			if (memcmp(m.heads[i].origin, st->pk,
			    PROTO_KEY_LEN) == 0)
				st->hub_seq = m.heads[i].seq;
			else if (memcmp(m.heads[i].origin, B.hub,
			    PROTO_KEY_LEN) == 0 &&
			    m.heads[i].seq > st->admin_want)
				st->admin_want = m.heads[i].seq;
			else
				die("site %u: the hub's HEADS names an "
				    "origin a site may not read",
				    st->idx + 1);
		}
		if (st->hub_seq > B.m)
			die("site %u: the hub holds %llu of our commits, we "
			    "made %u", st->idx + 1,
			    (unsigned long long)st->hub_seq, B.m);
		push_more(st);
		break;
	case WIRE_MSG_COMMITS:
		st->admin_wire += len;
		for (i = 0; i < m.nitems; i++) {
			struct proto_commit c;

			if (proto_commit_decode(&c, m.items[i].e,
			    m.items[i].elen, &cause) != 0)
				die("site %u: a commit from the hub does not "
				    "decode: %s", st->idx + 1, cause);
			if (memcmp(c.origin, B.hub, PROTO_KEY_LEN) != 0)
				die("site %u: the hub sent a log a site may "
				    "not read", st->idx + 1);
			admin_check(st, &c, m.items[i].e, m.items[i].elen,
			    m.items[i].sig);
			st->admin_bytes += m.items[i].elen + PROTO_SIG_LEN;
			proto_commit_free(&c);
		}
		proto_enc_init(&e);
		wire_pack_ack(&e, m.n, m.nitems, 0);
		send_msg(st, &e);
		proto_enc_free(&e);
		break;
	case WIRE_MSG_ACK:
		if (m.n != st->batch || st->in_flight == 0)
			die("site %u: ACK of batch %llu, ours is %llu",
			    st->idx + 1, (unsigned long long)m.n,
			    (unsigned long long)st->batch);
		if (m.refused > 0 || m.applied != st->in_flight)
			die("site %u: the hub applied %llu and refused %llu "
			    "of %llu commits", st->idx + 1,
			    (unsigned long long)m.applied,
			    (unsigned long long)m.refused,
			    (unsigned long long)st->in_flight);
		st->hub_seq += st->in_flight;
		st->in_flight = 0;
		push_more(st);
		break;
	case WIRE_MSG_PING:
		proto_enc_init(&e);
		wire_pack_ping(&e, WIRE_MSG_PONG, m.n);
		send_msg(st, &e);
		proto_enc_free(&e);
		break;
	case WIRE_MSG_PONG:
		break;
	case WIRE_MSG_ERROR:
		die("site %u: the hub sent ERROR: %.*s", st->idx + 1,
		    (int)m.reason_len, m.reason);
	default:
		die("site %u: unexpected message type 0x%02x", st->idx + 1,
		    m.type);
	}
	wire_msg_free(&m);
	check_done(st);
	return 0;
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	(void)h;
	(void)hint;
	*buf = uv_buf_init((char *)B.rbuf, sizeof(B.rbuf));
}

/* Every byte read is fed at once: the wire state keeps partial frames. */
static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct site *st = s->data;
	struct wire_event ev;
	struct proto_enc e;
	const char *cause = NULL;
	uint8_t head[PROTO_HASH_LEN];
	size_t off = 0, used;

	if (nread == 0)
		return;
	if (nread < 0) {
		site_lost(st, st->open ? "the hub closed the session" :
		    "the hub closed during the handshake");
		return;
	}
	for (;;) {
		if (wire_feed(&st->w, (const uint8_t *)buf->base + off,
		    (size_t)nread - off, &used, &ev, &cause) != 0)
			die("site %u: %s", st->idx + 1, cause);
		off += used;
		switch (ev.type) {
		case WIRE_EV_NONE:
			return;
		case WIRE_EV_SEND:
			write_bytes(st, ev.data, ev.len, 1);
			break;
		case WIRE_EV_OPEN:
			st->open = 1;
			/*
			 * Our HEADS: our own log, nothing of the admin's,
			 * and the dictionary we can expand.
			 */
			proto_hash(head, st->items[B.m - 1].e,
			    st->items[B.m - 1].elen, st->items[B.m - 1].sig);
			proto_enc_init(&e);
			wire_pack_heads_begin_offer(&e, 1);
			wire_pack_head(&e, st->pk, B.m, head);
			if (B.zd != NULL) {
				uint32_t id = zc_dict_id(B.zd);

				wire_pack_offer(&e, &id, 1);
			} else
				wire_pack_offer(&e, NULL, 0);
			send_msg(st, &e);
			proto_enc_free(&e);
			break;
		case WIRE_EV_MSG:
			if (ev.len > 1 && (ev.data[0] & 0xf0) == 0x90 &&
			    ev.data[1] == WIRE_MSG_ZCOMMITS) {
				/* Expanded into the COMMITS it stands for. */
				int rc;

				proto_enc_init(&e);
				if (zc_expand(B.zd, ev.data, ev.len, &e,
				    &cause) != 0)
					die("site %u: ZCOMMITS: %s",
					    st->idx + 1, cause);
				rc = on_msg(st, (const uint8_t *)e.sb.data,
				    e.sb.size);
				st->admin_wire += ev.len - e.sb.size;
				proto_enc_free(&e);
				if (rc != 0)
					return;
			} else if (on_msg(st, ev.data, ev.len) != 0)
				return;
			if (st->tcp == NULL)
				return;
			break;
		}
	}
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct site *st = req->data;
	const uint8_t *m1;
	size_t len;

	if (status != 0) {
		site_lost(st, uv_strerror(status));
		return;
	}
	uv_tcp_nodelay(st->tcp, 1);
	m1 = wire_start(&st->w, &len);
	write_bytes(st, m1, len, 1);
	uv_read_start((uv_stream_t *)st->tcp, on_alloc, on_read);
}

/* Dials the hub from the site's own loopback address. */
static void
site_dial(struct site *st)
{
	struct sockaddr_in src;
	uint32_t a = (127u << 24) | (1u << 16) | (st->idx + 1);
	int rc;

	st->tcp = xcalloc(1, sizeof(*st->tcp));
	uv_tcp_init(B.loop, st->tcp);
	st->tcp->data = st;
	wire_init(&st->w, 1, B.hub, st->sk, "site", B.hub, NULL, NULL);
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	src.sin_addr.s_addr = htonl(a);
	if ((rc = uv_tcp_bind(st->tcp, (struct sockaddr *)&src, 0)) != 0)
		die("bind 127.1.x.y: %s", uv_strerror(rc));
	st->creq.data = st;
	if ((rc = uv_tcp_connect(&st->creq, st->tcp,
	    (struct sockaddr *)&B.addr, on_connect)) != 0)
		site_lost(st, uv_strerror(rc));
}

static void
on_timeout(uv_timer_t *t)
{
	(void)t;
	die("only %u of %u sites caught up in time", B.ndone, B.n);
}

static void
close_one(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, h->type == UV_TCP ? on_tcp_closed : NULL);
}

static void
on_signal(uv_signal_t *s, int signum)
{
	(void)s;
	(void)signum;
	if (B.reported)
		printf("fanin_live_drops %u\n", B.live_drops);
	fflush(stdout);
	uv_walk(B.loop, close_one, NULL);
}

static int
cmd_storm(char **av, int ac)
{
	char host[64], port[8], line[128];
	uint8_t sid[PROTO_ID_LEN];
	struct timespec ts;
	struct rlimit rl;
	unsigned i;
	uint64_t ms;
	FILE *f;

	if (proto_split_addr(av[0], host, sizeof(host), port,
	    sizeof(port)) != 0 || uv_ip4_addr(host, atoi(port), &B.addr) != 0)
		die("'%s' is not IPv4:PORT", av[0]);
	if (strlen(av[1]) != 2 * PROTO_KEY_LEN ||
	    proto_unhex(B.hub, PROTO_KEY_LEN, av[1]) != 0)
		die("HUB_KEY: not 64 hex digits");
	B.n = parse_n(av[2], 60000, "N");
	B.m = parse_n(av[3], 100000, "M");
	B.hub_pid = ac > 5 ? atol(av[5]) : 0;
	/* A descriptor per site, and a few. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < B.n + 16)
		die("%u sites need %u descriptors, the limit is %llu", B.n,
		    B.n + 16, (unsigned long long)rl.rlim_cur);
	B.loop = uv_default_loop();
	if (getenv("CAFESYNC_WIRE_COMPRESS") == NULL ||
	    strcmp(getenv("CAFESYNC_WIRE_COMPRESS"), "none") != 0)
		B.zd = storage_zdict();
	B.sites = xcalloc(B.n, sizeof(*B.sites));
	if ((f = fopen(av[4], "r")) == NULL)
		die("%s: %s", av[4], strerror(errno));
	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (i = 0; i < B.n; i++) {
		struct site *st = &B.sites[i];

		if (fgets(line, sizeof(line), f) != NULL)
			line[strcspn(line, "\n")] = '\0';
		else
			line[0] = '\0';
		if (strlen(line) != 2 * PROTO_ID_LEN ||
		    proto_unhex(sid, PROTO_ID_LEN, line) != 0)
			die("%s: no site id on line %u (setup made fewer "
			    "sites?)", av[4], i + 1);
		st->idx = i;
		site_key(i, st->pk, st->sk);
		make_log(st, sid, B.hub, ms);
		uv_timer_init(B.loop, &st->redial);
		st->redial.data = st;
	}
	fclose(f);
	uv_signal_init(B.loop, &B.sigterm);
	uv_signal_start(&B.sigterm, on_signal, SIGTERM);
	uv_signal_init(B.loop, &B.sigint);
	uv_signal_start(&B.sigint, on_signal, SIGINT);
	uv_timer_init(B.loop, &B.timeout);
	uv_timer_start(&B.timeout, on_timeout, 1000ULL *
	    (getenv("FANIN_TIMEOUT") ? strtoull(getenv("FANIN_TIMEOUT"),
	    NULL, 10) : 600), 0);
	if (B.hub_pid > 0)
		B.hub_cpu0 = hub_cpu();
	B.tool_cpu0 = tool_cpu();
	B.idle0 = idle_cpu();
	B.t0 = now_s();
	fprintf(stderr, "bench_fanin: dialing %u sites\n", B.n);
	for (i = 0; i < B.n; i++)
		site_dial(&B.sites[i]);
	uv_run(B.loop, UV_RUN_DEFAULT);
	for (i = 0; i < B.n; i++) {
		unsigned k;

		for (k = 0; k < B.m; k++)
			free(B.sites[i].items[k].e);
		free(B.sites[i].items);
		wire_free(&B.sites[i].w);
		sodium_memzero(B.sites[i].sk, sizeof(B.sites[i].sk));
	}
	free(B.sites);
	free(B.ahash);
	if (uv_loop_close(B.loop) != 0)
		die("handles left open at exit");
	return B.reported ? 0 : 1;
}

int
main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		die("libsodium does not start");
	if (argc == 5 && strcmp(argv[1], "setup") == 0)
		return cmd_setup(argv + 2);
	if ((argc == 7 || argc == 8) && strcmp(argv[1], "storm") == 0)
		return cmd_storm(argv + 2, argc - 2);
	fprintf(stderr, "usage: bench_fanin setup HUB_DIR N SITES_FILE\n"
	    "       bench_fanin storm HOST:PORT HUB_KEY N M SITES_FILE "
	    "[HUB_PID]\n");
	return 2;
}
