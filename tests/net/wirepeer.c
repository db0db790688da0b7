/*
 * wirepeer.c: a hostile or odd peer, for the multi-node tests.
 *
 * It speaks the wire protocol of proto/wire.h (the sans-I/O state machine
 * the daemon itself uses) over plain blocking sockets, and checks how a
 * cafed on the other end reacts.  Each mode exits 0 when the daemon did
 * what it should and 1 with one line on stderr saying what it did
 * instead; 2 means the tool itself was misused or failed.
 *
 *   wirepeer random HOST:PORT N
 *       sends N random bytes; the daemon must close within 5 s.
 *   wirepeer unknown HOST:PORT SERVERKEYHEX NETWORKHEX
 *       handshakes with a fresh key no node configured; the daemon must
 *       close after M3 without sending M4.
 *   wirepeer oversize HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE
 *       handshakes as the node of KEYFILE (a node.key: 64 bytes), then
 *       declares a frame one byte over the limit; the daemon must close.
 *   wirepeer idle HOST:PORT N SECONDS
 *       opens N connections that send nothing; prints how many the
 *       daemon closed within SECONDS (it stops early once all are).
 *       Fails unless all were closed.
 *   wirepeer stall HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE SECONDS
 *       with a small receive buffer, handshakes as the node of KEYFILE,
 *       sends HEADS with no heads (so the daemon wants to send it its
 *       whole log), then reads nothing for SECONDS.  What the daemon
 *       does meanwhile is for the caller to watch (its memory, its log).
 *   wirepeer early HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE
 *       a proper handshake, then a PING before any HEADS; the daemon
 *       must close (HEADS comes first).
 *   wirepeer zbomb HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE
 *       a proper handshake and HEADS, then a ZCOMMITS with the schema's
 *       dictionary id whose one frame (a hundred bytes) claims 3 MiB of
 *       content; the daemon must close without expanding it.
 *   wirepeer probe HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE ORIGINHEX SEQ
 *       a proper handshake, then HEADS claiming ORIGINHEX at SEQ with a
 *       random hash; reads for 3 s and prints "want ORIGINHEX SEQ" for
 *       each head of every WANT the daemon sends (the fork check asks
 *       for a commit it holds otherwise), then "done".
 *   wirepeer ok HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE
 *       a correct session: handshake, HEADS both ways, a PING answered
 *       by its PONG.  Prints what it got: the positive control.
 *
 * The role this peer claims is "site".  Only what a test needs is here:
 * no COMMITS is ever acknowledged.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <zstd.h>

#include "proto/wire.h"
#include "storage/storage.h"

#define CLOSE_WAIT_MS 5000   /* how long the daemon has to hang up */
#define IO_WAIT_MS 5000      /* how long one handshake step may take */
#define STALL_RCVBUF 4096    /* the stalled reader's receive buffer */

/* One connection: the socket, its wire state and unfed bytes read. */
struct peer {
	int fd;
	struct wire w;
	uint8_t buf[64 * 1024];
	size_t off, len;
};

/* What read_wait() tells besides a byte count. */
#define RD_CLOSED 0          /* EOF or reset: the daemon hung up */
#define RD_TIMEOUT (-1)

static const char *prog_mode = "wirepeer";

/* Says why the daemon did not behave and exits 1. */
static void __attribute__((format(printf, 1, 2), noreturn))
verdict_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wirepeer %s: ", prog_mode);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Says why the tool could not run and exits 2. */
static void __attribute__((format(printf, 1, 2), noreturn))
tool_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "wirepeer %s: error: ", prog_mode);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Returns a monotonic clock in milliseconds. */
static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses a decimal count in [min, max]; exits on anything else. */
static unsigned long
parse_count(const char *s, unsigned long min, unsigned long max,
    const char *what)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(s, &end, 10);
	if (*s == '\0' || *s == '-' || *end != '\0' || errno != 0 ||
	    n < min || n > max)
		tool_fail("%s: '%s' is not a number from %lu to %lu", what, s,
		    min, max);
	return n;
}

/* Parses 64 hex digits into a key; exits on anything else. */
static void
parse_key(uint8_t out[PROTO_KEY_LEN], const char *hex, const char *what)
{
	if (strlen(hex) != 2 * PROTO_KEY_LEN ||
	    proto_unhex(out, PROTO_KEY_LEN, hex) != 0)
		tool_fail("%s: '%s' is not 64 hex digits", what, hex);
}

/* Reads a node.key (the 64-byte ed25519 secret key); exits on error. */
static void
read_keyfile(uint8_t sk[PROTO_SK_LEN], const char *path)
{
	uint8_t extra;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		tool_fail("%s: %s", path, strerror(errno));
	if (read(fd, sk, PROTO_SK_LEN) != PROTO_SK_LEN ||
	    read(fd, &extra, 1) != 0)
		tool_fail("%s: not a 64-byte node key", path);
	close(fd);
}

/*
 * Connects to HOST:PORT with a blocking TCP socket.  A rcvbuf above 0 is
 * set before connecting, so that the window offered at the SYN already
 * reflects it.  Returns the socket; exits when it cannot connect.
 */
static int
dial(const char *hostport, int rcvbuf)
{
	char host[256], port[8];
	struct addrinfo hints, *res, *ai;
	int fd = -1, rc, one = 1;

	if (proto_split_addr(hostport, host, sizeof(host), port,
	    sizeof(port)) != 0)
		tool_fail("'%s' is not HOST:PORT", hostport);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0)
		tool_fail("%s: %s", host, gai_strerror(rc));
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
		if (fd < 0)
			continue;
		if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF,
		    &rcvbuf, sizeof(rcvbuf)) != 0)
			tool_fail("SO_RCVBUF: %s", strerror(errno));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		tool_fail("cannot connect to %s: %s", hostport,
		    strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * Waits up to ms for bytes and reads at most cap of them.  Returns the
 * count, RD_CLOSED when the daemon hung up (EOF or a reset), or
 * RD_TIMEOUT.  Exits on any other error.
 */
static ssize_t
read_wait(int fd, uint8_t *buf, size_t cap, int ms)
{
	struct pollfd pfd;
	ssize_t n;
	int rc;

	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		rc = poll(&pfd, 1, ms);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			tool_fail("poll: %s", strerror(errno));
		if (rc == 0)
			return RD_TIMEOUT;
		n = recv(fd, buf, cap, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ECONNRESET || errno == EPIPE))
			return RD_CLOSED;
		if (n < 0)
			tool_fail("recv: %s", strerror(errno));
		return n;
	}
}

/*
 * Writes every byte.  Returns 0, or -1 when the daemon already hung up
 * (EPIPE or a reset); exits on any other error.
 */
static int
send_all(int fd, const uint8_t *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -1;
		if (n < 0)
			tool_fail("send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Reads until the daemon hangs up, throwing away what it sends, for at
 * most ms.  Returns 0 when it hung up, -1 on the deadline; *got counts
 * the bytes thrown away.
 */
static int
drain_until_closed(int fd, int ms, size_t *got)
{
	uint8_t buf[16 * 1024];
	long long end = mono_ms() + ms;
	ssize_t n;

	*got = 0;
	for (;;) {
		long long left = end - mono_ms();

		if (left <= 0)
			return -1;
		n = read_wait(fd, buf, sizeof(buf), (int)left);
		if (n == RD_CLOSED)
			return 0;
		if (n == RD_TIMEOUT)
			return -1;
		*got += (size_t)n;
	}
}

/* Seals one message and writes it; returns send_all()'s answer. */
static int
send_msg(struct peer *pe, const struct proto_enc *e)
{
	size_t len = wire_sealed_len(e->sb.size);
	uint8_t *out = xmalloc(len);
	int rc;

	if (wire_seal(&pe->w, (const uint8_t *)e->sb.data, e->sb.size,
	    out) != 0)
		tool_fail("cannot seal a message of %zu bytes", e->sb.size);
	rc = send_all(pe->fd, out, len);
	free(out);
	return rc;
}

/* How a handshake ended. */
enum hs_end {
	HS_OPEN,             /* both sides proved their keys */
	HS_CLOSED_HELLO,     /* the daemon hung up before M2 */
	HS_CLOSED_AUTH,      /* the daemon hung up after M3, without M4 */
};

/*
 * Runs the connecting side of the handshake with sk: M1, M2, M3, M4.
 * Bytes read past M4 stay in pe->buf for next_msg().  Returns how it
 * ended; a daemon that misbehaves otherwise (a bad M2 or M4, silence)
 * ends the program.
 */
static enum hs_end
handshake(struct peer *pe, const char *hostport, int rcvbuf,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t sk[PROTO_SK_LEN],
    const uint8_t server[PROTO_KEY_LEN])
{
	struct wire_event ev;
	const uint8_t *m1;
	const char *cause = NULL;
	size_t len, used;
	ssize_t n;
	int m3_sent = 0;

	pe->fd = dial(hostport, rcvbuf);
	pe->off = pe->len = 0;
	wire_init(&pe->w, 1, network, sk, "site", server, NULL, NULL);
	m1 = wire_start(&pe->w, &len);
	if (send_all(pe->fd, m1, len) != 0)
		return HS_CLOSED_HELLO;
	for (;;) {
		if (pe->off == pe->len) {
			/*
			 * Read one byte at a time past M3 would be slow;
			 * reading whatever comes is fine, since the rest is
			 * kept for next_msg().
			 */
			n = read_wait(pe->fd, pe->buf, sizeof(pe->buf),
			    IO_WAIT_MS);
			if (n == RD_CLOSED)
				return m3_sent ? HS_CLOSED_AUTH :
				    HS_CLOSED_HELLO;
			if (n == RD_TIMEOUT)
				verdict_fail("the daemon said nothing for %d "
				    "ms during the handshake (%s)",
				    IO_WAIT_MS, m3_sent ? "after M3" :
				    "after M1");
			pe->off = 0;
			pe->len = (size_t)n;
		}
		if (wire_feed(&pe->w, pe->buf + pe->off, pe->len - pe->off,
		    &used, &ev, &cause) != 0)
			verdict_fail("the daemon's handshake is wrong: %s",
			    cause ? cause : "?");
		pe->off += used;
		switch (ev.type) {
		case WIRE_EV_NONE:
			break;
		case WIRE_EV_SEND:
			if (send_all(pe->fd, ev.data, ev.len) != 0)
				return HS_CLOSED_AUTH;
			m3_sent = 1;
			break;
		case WIRE_EV_OPEN:
			return HS_OPEN;
		case WIRE_EV_MSG:
			tool_fail("a message before the handshake ended");
		}
	}
}

/*
 * Returns the next message from the daemon (valid until the next call),
 * waiting up to ms; exits when the daemon hangs up, stays silent or sends
 * a frame that does not open.
 */
static struct wire_event
next_msg(struct peer *pe, int ms)
{
	struct wire_event ev;
	const char *cause = NULL;
	long long end = mono_ms() + ms;
	size_t used;
	ssize_t n;

	for (;;) {
		if (wire_feed(&pe->w, pe->buf + pe->off, pe->len - pe->off,
		    &used, &ev, &cause) != 0)
			verdict_fail("a frame from the daemon does not open: "
			    "%s", cause ? cause : "?");
		pe->off += used;
		if (ev.type == WIRE_EV_MSG)
			return ev;
		if (pe->off < pe->len)
			continue;
		if (end - mono_ms() <= 0)
			verdict_fail("no message from the daemon in %d ms",
			    ms);
		n = read_wait(pe->fd, pe->buf, sizeof(pe->buf),
		    (int)(end - mono_ms()));
		if (n == RD_CLOSED)
			verdict_fail("the daemon hung up on a correct "
			    "session");
		if (n == RD_TIMEOUT)
			verdict_fail("no message from the daemon in %d ms",
			    ms);
		pe->off = 0;
		pe->len = (size_t)n;
	}
}

/* Sends HEADS with no heads: "I have nothing". */
static int
send_empty_heads(struct peer *pe)
{
	struct proto_enc e;
	int rc;

	proto_enc_init(&e);
	wire_pack_heads_begin(&e, 0);
	rc = send_msg(pe, &e);
	proto_enc_free(&e);
	return rc;
}

/* Handshakes as a configured peer; a refusal is the daemon's fault. */
static void
open_as(struct peer *pe, const char *hostport, int rcvbuf,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t sk[PROTO_SK_LEN],
    const uint8_t server[PROTO_KEY_LEN])
{
	switch (handshake(pe, hostport, rcvbuf, network, sk, server)) {
	case HS_OPEN:
		return;
	case HS_CLOSED_HELLO:
		verdict_fail("the daemon hung up before M2");
	case HS_CLOSED_AUTH:
		verdict_fail("the daemon refused this configured peer's key "
		    "(closed after M3)");
	}
}

/* ---- modes ------------------------------------------------------------- */

/* random HOST:PORT N */
static int
mode_random(char **av)
{
	unsigned long n = parse_count(av[1], 1, 64UL * 1024 * 1024, "N");
	uint8_t *junk = xmalloc(n);
	size_t got;
	int fd;

	randombytes_buf(junk, n);
	fd = dial(av[0], 0);
	/* The daemon may hang up at the first wrong byte: that is fine. */
	(void)send_all(fd, junk, n);
	free(junk);
	if (drain_until_closed(fd, CLOSE_WAIT_MS, &got) != 0)
		verdict_fail("the connection is still open %d ms after %lu "
		    "random bytes", CLOSE_WAIT_MS, n);
	close(fd);
	printf("random: closed after %lu random bytes (%zu bytes back)\n", n,
	    got);
	return 0;
}

/* unknown HOST:PORT SERVERKEYHEX NETWORKHEX */
static int
mode_unknown(char **av)
{
	uint8_t server[PROTO_KEY_LEN], network[PROTO_KEY_LEN];
	uint8_t pk[PROTO_KEY_LEN], sk[PROTO_SK_LEN];
	static struct peer pe;

	parse_key(server, av[1], "SERVERKEYHEX");
	parse_key(network, av[2], "NETWORKHEX");
	crypto_sign_keypair(pk, sk);
	switch (handshake(&pe, av[0], 0, network, sk, server)) {
	case HS_OPEN:
		verdict_fail("the daemon sent M4 to a key no node "
		    "configured: the session is open");
	case HS_CLOSED_HELLO:
		verdict_fail("the daemon hung up before M2");
	case HS_CLOSED_AUTH:
		break;
	}
	/*
	 * Hung up after M3, and M4 never came: any byte after M2 would have
	 * been M4's, and the wire state would hold it.
	 */
	if (pe.w.state != WIRE_ST_AUTH || pe.w.hs_len != 0)
		verdict_fail("%zu bytes of M4 came before the hang-up",
		    pe.w.hs_len);
	wire_free(&pe.w);
	close(pe.fd);
	sodium_memzero(sk, sizeof(sk));
	printf("unknown: closed after M3, no M4\n");
	return 0;
}

/* oversize HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE */
static int
mode_oversize(char **av)
{
	uint8_t server[PROTO_KEY_LEN], network[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN], junk[4096];
	static struct peer pe;
	uint32_t big = (uint32_t)WIRE_MAX_FRAME + WIRE_ABYTES + 1;
	uint8_t prefix[4];
	size_t got;

	parse_key(server, av[1], "SERVERKEYHEX");
	parse_key(network, av[2], "NETWORKHEX");
	read_keyfile(sk, av[3]);
	open_as(&pe, av[0], 0, network, sk, server);
	sodium_memzero(sk, sizeof(sk));
	prefix[0] = (uint8_t)(big >> 24);
	prefix[1] = (uint8_t)(big >> 16);
	prefix[2] = (uint8_t)(big >> 8);
	prefix[3] = (uint8_t)big;
	randombytes_buf(junk, sizeof(junk));
	if (send_all(pe.fd, prefix, sizeof(prefix)) == 0)
		(void)send_all(pe.fd, junk, sizeof(junk));
	/* What the daemon sent after opening (its HEADS) is thrown away. */
	if (drain_until_closed(pe.fd, CLOSE_WAIT_MS, &got) != 0)
		verdict_fail("the connection is still open %d ms after a "
		    "frame declaring %lu bytes", CLOSE_WAIT_MS,
		    (unsigned long)big);
	wire_free(&pe.w);
	close(pe.fd);
	printf("oversize: closed after a frame declaring %lu bytes\n",
	    (unsigned long)big);
	return 0;
}

/*
 * early HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE: a proper handshake,
 * then a PING before any HEADS; the daemon must end the session.
 */
static int
mode_early(char **av)
{
	uint8_t server[PROTO_KEY_LEN], network[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN];
	static struct peer pe;
	struct proto_enc e;
	size_t got;

	parse_key(server, av[1], "SERVERKEYHEX");
	parse_key(network, av[2], "NETWORKHEX");
	read_keyfile(sk, av[3]);
	open_as(&pe, av[0], 0, network, sk, server);
	sodium_memzero(sk, sizeof(sk));
	proto_enc_init(&e);
	wire_pack_ping(&e, WIRE_MSG_PING, 7);
	(void)send_msg(&pe, &e);
	proto_enc_free(&e);
	if (drain_until_closed(pe.fd, CLOSE_WAIT_MS, &got) != 0)
		verdict_fail("the connection is still open %d ms after a "
		    "PING sent before HEADS", CLOSE_WAIT_MS);
	wire_free(&pe.w);
	close(pe.fd);
	printf("early: closed after a PING before HEADS\n");
	return 0;
}

/* zbomb HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE */
static int
mode_zbomb(char **av)
{
	uint8_t server[PROTO_KEY_LEN], network[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN], *zero, *frame;
	size_t big = 3 * 1024 * 1024, cap = ZSTD_compressBound(big), n, got;
	static struct peer pe;
	struct proto_enc e;

	parse_key(server, av[1], "SERVERKEYHEX");
	parse_key(network, av[2], "NETWORKHEX");
	read_keyfile(sk, av[3]);
	open_as(&pe, av[0], 0, network, sk, server);
	sodium_memzero(sk, sizeof(sk));
	proto_enc_init(&e);
	wire_pack_heads_begin(&e, 0);
	(void)send_msg(&pe, &e);
	zero = xcalloc(1, big);
	frame = xcalloc(1, cap);
	n = ZSTD_compress(frame, cap, zero, big, 1);
	if (ZSTD_isError(n))
		tool_fail("zstd: %s", ZSTD_getErrorName(n));
	proto_enc_reset(&e);
	msgpack_pack_array(&e.pk, 5);
	msgpack_pack_uint64(&e.pk, WIRE_MSG_ZCOMMITS);
	msgpack_pack_uint64(&e.pk, 1);
	msgpack_pack_uint32(&e.pk, zc_dict_id(storage_zdict()));
	msgpack_pack_uint64(&e.pk, 1);
	msgpack_pack_array(&e.pk, 1);
	msgpack_pack_bin(&e.pk, n);
	msgpack_pack_bin_body(&e.pk, frame, n);
	(void)send_msg(&pe, &e);
	proto_enc_free(&e);
	free(zero);
	free(frame);
	if (drain_until_closed(pe.fd, CLOSE_WAIT_MS, &got) != 0)
		verdict_fail("the connection is still open %d ms after a "
		    "ZCOMMITS frame claiming 3 MiB", CLOSE_WAIT_MS);
	wire_free(&pe.w);
	close(pe.fd);
	printf("zbomb: closed after a %zu-byte frame claiming 3 MiB\n", n);
	return 0;
}

/* idle HOST:PORT N SECONDS */
static int
mode_idle(char **av)
{
	unsigned long n = parse_count(av[1], 1, 100000, "N");
	unsigned long secs = parse_count(av[2], 1, 3600, "SECONDS");
	struct pollfd *pfd = xcalloc(n, sizeof(*pfd));
	unsigned long i, closed = 0;
	long long start, end, left;
	uint8_t buf[512];
	ssize_t r;
	int rc;

	for (i = 0; i < n; i++) {
		pfd[i].fd = dial(av[0], 0);
		pfd[i].events = POLLIN;
	}
	start = mono_ms();
	end = start + (long long)secs * 1000;
	while (closed < n && (left = end - mono_ms()) > 0) {
		rc = poll(pfd, n, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0)
			tool_fail("poll: %s", strerror(errno));
		for (i = 0; i < n && rc > 0; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			rc--;
			r = recv(pfd[i].fd, buf, sizeof(buf), 0);
			if (r > 0)
				continue;    /* the daemon speaks first? */
			if (r < 0 && errno != ECONNRESET && errno != EINTR)
				tool_fail("recv: %s", strerror(errno));
			if (r < 0 && errno == EINTR)
				continue;
			close(pfd[i].fd);
			pfd[i].fd = -1;
			closed++;
		}
	}
	for (i = 0; i < n; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	free(pfd);
	printf("idle: %lu of %lu closed in %.1f s\n", closed, n,
	    (double)(mono_ms() - start) / 1000.0);
	if (closed < n)
		verdict_fail("only %lu of %lu silent connections were closed "
		    "within %lu s", closed, n, secs);
	return 0;
}

/* stall HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE SECONDS */
static int
mode_stall(char **av)
{
	uint8_t server[PROTO_KEY_LEN], network[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN];
	static struct peer pe;
	unsigned long secs = parse_count(av[4], 1, 3600, "SECONDS");
	struct timespec ts;

	parse_key(server, av[1], "SERVERKEYHEX");
	parse_key(network, av[2], "NETWORKHEX");
	read_keyfile(sk, av[3]);
	open_as(&pe, av[0], STALL_RCVBUF, network, sk, server);
	sodium_memzero(sk, sizeof(sk));
	if (send_empty_heads(&pe) != 0)
		verdict_fail("the daemon hung up before our HEADS");
	/* From here on nothing is read: the daemon's writes back up. */
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = 0;
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	wire_free(&pe.w);
	close(pe.fd);
	return 0;
}

/* ok HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE */
static int
mode_probe(char **av)
{
	uint8_t server[PROTO_KEY_LEN], network[PROTO_KEY_LEN];
	uint8_t origin[PROTO_KEY_LEN], hash[PROTO_HASH_LEN];
	uint8_t sk[PROTO_SK_LEN];
	static struct peer pe;
	struct wire_event ev;
	struct wire_msg m;
	struct proto_enc e;
	const char *cause = NULL;
	char hex[2 * PROTO_KEY_LEN + 1];
	long long end = mono_ms() + 3000;
	unsigned long long seq;
	size_t i, used;
	char *tail;

	parse_key(server, av[1], "SERVERKEYHEX");
	parse_key(network, av[2], "NETWORKHEX");
	read_keyfile(sk, av[3]);
	parse_key(origin, av[4], "ORIGINHEX");
	seq = strtoull(av[5], &tail, 10);
	if (*av[5] == '\0' || *tail != '\0' || seq == 0)
		verdict_fail("SEQ: '%s' is not a seq from 1", av[5]);
	open_as(&pe, av[0], 0, network, sk, server);
	sodium_memzero(sk, sizeof(sk));
	randombytes_buf(hash, sizeof(hash));
	proto_enc_init(&e);
	wire_pack_heads_begin(&e, 1);
	wire_pack_head(&e, origin, seq, hash);
	if (send_msg(&pe, &e) != 0)
		verdict_fail("the daemon hung up before our HEADS");
	proto_enc_free(&e);
	for (;;) {
		if (wire_feed(&pe.w, pe.buf + pe.off, pe.len - pe.off, &used,
		    &ev, &cause) != 0)
			verdict_fail("a frame from the daemon does not open: "
			    "%s", cause ? cause : "?");
		pe.off += used;
		if (ev.type == WIRE_EV_MSG) {
			if (wire_msg_decode(&m, ev.data, ev.len, &cause) != 0)
				verdict_fail("a message from the daemon does "
				    "not decode: %s", cause ? cause : "?");
			for (i = 0; m.type == WIRE_MSG_WANT && i < m.nheads;
			    i++) {
				proto_hex(hex, m.heads[i].origin,
				    PROTO_KEY_LEN);
				printf("want %s %llu\n", hex, (unsigned long long)
				    m.heads[i].seq);
			}
			wire_msg_free(&m);
			continue;
		}
		if (pe.off < pe.len)
			continue;
		if (end - mono_ms() <= 0)
			break;
		ssize_t n = read_wait(pe.fd, pe.buf, sizeof(pe.buf),
		    (int)(end - mono_ms()));
		if (n == RD_CLOSED || n == RD_TIMEOUT)
			break;
		pe.off = 0;
		pe.len = (size_t)n;
	}
	printf("done\n");
	return 0;
}

static int
mode_ok(char **av)
{
	uint8_t server[PROTO_KEY_LEN], network[PROTO_KEY_LEN];
	uint8_t sk[PROTO_SK_LEN];
	static struct peer pe;
	struct wire_event ev;
	struct wire_msg m;
	struct proto_enc e;
	const char *cause = NULL;
	uint64_t nonce = 0;
	size_t nheads = 0, commits = 0;
	int got_heads = 0;

	parse_key(server, av[1], "SERVERKEYHEX");
	parse_key(network, av[2], "NETWORKHEX");
	read_keyfile(sk, av[3]);
	open_as(&pe, av[0], 0, network, sk, server);
	sodium_memzero(sk, sizeof(sk));
	if (send_empty_heads(&pe) != 0)
		verdict_fail("the daemon hung up before our HEADS");
	/*
	 * HEADS must come first.  The PING goes only once it came: the
	 * daemon answers a PING at once, while its HEADS waits for the
	 * store thread, so a PING sent with our HEADS is answered before
	 * the daemon's HEADS.  COMMITS may come before the PONG (they are
	 * not acknowledged, which only slows the daemon).
	 */
	for (;;) {
		ev = next_msg(&pe, IO_WAIT_MS);
		if (wire_msg_decode(&m, ev.data, ev.len, &cause) != 0)
			verdict_fail("a message from the daemon does not "
			    "decode: %s", cause ? cause : "?");
		switch (m.type) {
		case WIRE_MSG_HEADS:
			if (got_heads)
				verdict_fail("HEADS twice");
			got_heads = 1;
			nheads = m.nheads;
			randombytes_buf(&nonce, sizeof(nonce));
			proto_enc_init(&e);
			wire_pack_ping(&e, WIRE_MSG_PING, nonce);
			if (send_msg(&pe, &e) != 0)
				verdict_fail("the daemon hung up before our "
				    "PING");
			proto_enc_free(&e);
			break;
		case WIRE_MSG_COMMITS:
			if (!got_heads)
				verdict_fail("COMMITS before HEADS");
			commits += m.nitems;
			break;
		case WIRE_MSG_PONG:
			if (!got_heads)
				verdict_fail("PONG before HEADS");
			if (m.n != nonce)
				verdict_fail("PONG with another nonce");
			wire_msg_free(&m);
			goto done;
		case WIRE_MSG_ERROR:
			verdict_fail("the daemon sent ERROR: %.*s",
			    (int)m.reason_len, m.reason);
		case WIRE_MSG_PING:
			if (!got_heads)
				verdict_fail("PING before HEADS");
			break;
		default:
			verdict_fail("unexpected message type 0x%02x",
			    m.type);
		}
		wire_msg_free(&m);
	}
done:
	wire_free(&pe.w);
	close(pe.fd);
	printf("ok: heads of %zu origins, %zu commits, pong\n", nheads,
	    commits);
	return 0;
}

static const struct {
	const char *name;
	int nargs;                 /* after the mode */
	int (*run)(char **);
	const char *usage;
} modes[] = {
	{ "random", 2, mode_random, "HOST:PORT N" },
	{ "unknown", 3, mode_unknown, "HOST:PORT SERVERKEYHEX NETWORKHEX" },
	{ "oversize", 4, mode_oversize,
	    "HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE" },
	{ "early", 4, mode_early,
	    "HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE" },
	{ "zbomb", 4, mode_zbomb,
	    "HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE" },
	{ "idle", 3, mode_idle, "HOST:PORT N SECONDS" },
	{ "stall", 5, mode_stall,
	    "HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE SECONDS" },
	{ "probe", 6, mode_probe,
	    "HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE ORIGINHEX SEQ" },
	{ "ok", 4, mode_ok, "HOST:PORT SERVERKEYHEX NETWORKHEX KEYFILE" },
};

static void __attribute__((noreturn))
usage(void)
{
	size_t i;

	fprintf(stderr, "usage:\n");
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(stderr, "  wirepeer %s %s\n", modes[i].name,
		    modes[i].usage);
	exit(2);
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2)
		usage();
	signal(SIGPIPE, SIG_IGN);
	if (sodium_init() < 0)
		tool_fail("libsodium does not start");
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		if (strcmp(argv[1], modes[i].name) != 0)
			continue;
		if (argc - 2 != modes[i].nargs)
			usage();
		prog_mode = modes[i].name;
		return modes[i].run(argv + 2);
	}
	usage();
}
