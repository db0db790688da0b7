/*
 * delayrelay.c: a TCP relay that adds a fixed delay to every byte, for
 * the rural-link tests and benchmark (the kernel here has no netem).
 *
 *   delayrelay LISTEN_ADDR PORT TARGET_ADDR PORT DELAY_MS
 *
 * Accepts connections on LISTEN_ADDR:PORT and, for each, connects to
 * TARGET_ADDR:PORT and copies bytes both ways.  Every chunk read from
 * one side is held DELAY_MS before it is written to the other, in the
 * order it was read, so a relay in the middle of a link adds 2 * DELAY_MS
 * to the round trip that the two ends see (TCP's own acknowledgements
 * stay local to each leg).  The kernel completes the dialer's TCP
 * handshake with the relay at once, so the relay charges it here: what
 * the dialer sends is delivered no sooner than three DELAY_MS after the
 * accept, when its first bytes would have arrived had the SYN and the
 * SYN-ACK crossed the delayed link too.  A half-close is passed on once the bytes
 * before it are delivered; a reset or an error on either side closes
 * both.  At most RELAY_HOLD bytes are held per direction: past that the
 * relay stops reading that side, so a fast sender meets the slow link's
 * back-pressure and the relay's memory stays bounded.  Plain poll(2), one
 * thread.  Prints "listening" on stdout once it accepts; runs until
 * killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RELAY_PAIRS 64
#define RELAY_CHUNK 16384
#define RELAY_HOLD (1024 * 1024)

/* One chunk held until it is due, then written out. */
struct chunk {
	struct chunk *next;
	int64_t due_ms;
	size_t len, off;
	unsigned char data[];
};

/* One direction: bytes read from fd src, held, then written to dst. */
struct dir {
	int src, dst;
	struct chunk *head, *tail;
	size_t held;
	int64_t not_before_ms; /* nothing read is due before this */
	int eof;        /* src said EOF; pass it on once head is NULL */
	int shut;       /* dst was shut for writing */
};

struct pair {
	int used;
	int fd[2];      /* 0: accepted side, 1: target side */
	struct dir d[2]; /* d[0]: fd[0] -> fd[1]; d[1]: fd[1] -> fd[0] */
};

static struct pair pairs[RELAY_PAIRS];
static int64_t delay_ms;

/* Returns CLOCK_MONOTONIC in milliseconds. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Fills sa from a dotted address and a port; returns 0 or -1. */
static int
addr_of(const char *host, const char *port, struct sockaddr_in *sa)
{
	char *end;
	long p = strtol(port, &end, 10);

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (*end != '\0' || p <= 0 || p > 65535 ||
	    inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	sa->sin_port = htons((uint16_t)p);
	return 0;
}

/* Frees a pair's held chunks and closes both its sockets. */
static void
pair_close(struct pair *p)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct chunk *c = p->d[i].head, *n;

		for (; c != NULL; c = n) {
			n = c->next;
			free(c);
		}
		close(p->fd[i]);
	}
	memset(p, 0, sizeof(*p));
}

/* Accepts one connection and dials the target for it (blocking connect:
 * the target is local to the relay).  A failure drops the connection. */
static void
pair_open(int lfd, const struct sockaddr_in *target)
{
	int a, t, i, one = 1;

	a = accept(lfd, NULL, NULL);
	if (a < 0)
		return;
	for (i = 0; i < RELAY_PAIRS && pairs[i].used; i++)
		;
	t = socket(AF_INET, SOCK_STREAM, 0);
	if (i == RELAY_PAIRS || t < 0 ||
	    connect(t, (const struct sockaddr *)target, sizeof(*target)) < 0) {
		if (t >= 0)
			close(t);
		close(a);
		return;
	}
	setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(t, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(a, F_SETFL, fcntl(a, F_GETFL) | O_NONBLOCK);
	fcntl(t, F_SETFL, fcntl(t, F_GETFL) | O_NONBLOCK);
	memset(&pairs[i], 0, sizeof(pairs[i]));
	pairs[i].used = 1;
	pairs[i].fd[0] = a;
	pairs[i].fd[1] = t;
	pairs[i].d[0].src = a;
	pairs[i].d[0].dst = t;
	pairs[i].d[1].src = t;
	pairs[i].d[1].dst = a;
	pairs[i].d[0].not_before_ms = now_ms() + 3 * delay_ms;
}

/* Reads what src has into a new chunk due delay_ms from now.  Returns 0,
 * or -1 when the pair must close. */
static int
dir_read(struct dir *d, int64_t now)
{
	struct chunk *c = malloc(sizeof(*c) + RELAY_CHUNK);
	ssize_t n;

	if (c == NULL)
		return -1;
	n = read(d->src, c->data, RELAY_CHUNK);
	if (n <= 0) {
		free(c);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n < 0)
			return -1;
		d->eof = 1;
		return 0;
	}
	c->next = NULL;
	c->due_ms = now + delay_ms;
	if (c->due_ms < d->not_before_ms)
		c->due_ms = d->not_before_ms;
	c->len = (size_t)n;
	c->off = 0;
	if (d->tail != NULL)
		d->tail->next = c;
	else
		d->head = c;
	d->tail = c;
	d->held += (size_t)n;
	return 0;
}

/* Writes the chunks that are due to dst, in order; passes on an EOF once
 * everything before it went out.  Returns 0, or -1 when the pair must
 * close. */
static int
dir_write(struct dir *d, int64_t now)
{
	while (d->head != NULL && d->head->due_ms <= now) {
		struct chunk *c = d->head;
		ssize_t n = write(d->dst, c->data + c->off, c->len - c->off);

		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? 0 : -1;
		c->off += (size_t)n;
		d->held -= (size_t)n;
		if (c->off < c->len)
			return 0;
		d->head = c->next;
		if (d->head == NULL)
			d->tail = NULL;
		free(c);
	}
	if (d->head == NULL && d->eof && !d->shut) {
		shutdown(d->dst, SHUT_WR);
		d->shut = 1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in listen_sa, target_sa;
	struct pollfd pfd[1 + 2 * RELAY_PAIRS];
	int lfd, one = 1;

	if (argc != 6 || addr_of(argv[1], argv[2], &listen_sa) < 0 ||
	    addr_of(argv[3], argv[4], &target_sa) < 0 ||
	    (delay_ms = atol(argv[5])) < 0) {
		fprintf(stderr, "usage: delayrelay LISTEN_ADDR PORT TARGET_ADDR PORT DELAY_MS\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (const struct sockaddr *)&listen_sa, sizeof(listen_sa)) < 0 ||
	    listen(lfd, 16) < 0) {
		fprintf(stderr, "delayrelay: %s:%s: %s\n", argv[1], argv[2],
		    strerror(errno));
		return 1;
	}
	printf("listening\n");
	fflush(stdout);

	for (;;) {
		int64_t now = now_ms(), next = -1;
		nfds_t n = 0;
		int i, k, timeout;

		pfd[n].fd = lfd;
		pfd[n].events = POLLIN;
		n++;
		for (i = 0; i < RELAY_PAIRS; i++) {
			struct pair *p = &pairs[i];

			if (!p->used)
				continue;
			for (k = 0; k < 2; k++) {
				struct dir *in = &p->d[k], *out = &p->d[1 - k];

				/* fd[k] is in's source and out's destination. */
				pfd[n].fd = p->fd[k];
				pfd[n].events = 0;
				if (!in->eof && in->held < RELAY_HOLD)
					pfd[n].events |= POLLIN;
				if (out->head != NULL && out->head->due_ms <= now)
					pfd[n].events |= POLLOUT;
				if (out->head != NULL && out->head->due_ms > now &&
				    (next < 0 || out->head->due_ms < next))
					next = out->head->due_ms;
				/* Nothing to wait for on it: a hang-up would
				 * wake poll at once, again and again. */
				if (pfd[n].events == 0)
					pfd[n].fd = -1;
				n++;
			}
		}
		timeout = next < 0 ? -1 : (int)(next - now);
		if (poll(pfd, n, timeout) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "delayrelay: poll: %s\n", strerror(errno));
			return 1;
		}
		now = now_ms();
		n = 1;
		for (i = 0; i < RELAY_PAIRS; i++) {
			struct pair *p = &pairs[i];
			int bad = 0;

			if (!p->used)
				continue;
			for (k = 0; k < 2; k++, n++) {
				if ((pfd[n].revents & (POLLIN | POLLHUP | POLLERR)) &&
				    (pfd[n].events & POLLIN) &&
				    dir_read(&p->d[k], now) < 0)
					bad = 1;
				if (pfd[n].revents & POLLERR)
					bad = 1;
			}
			for (k = 0; k < 2 && !bad; k++)
				if (dir_write(&p->d[k], now) < 0)
					bad = 1;
			if (bad || (p->d[0].shut && p->d[1].shut))
				pair_close(p);
		}
		if (pfd[0].revents & POLLIN)
			pair_open(lfd, &target_sa);
	}
}
