/*
 * flood.c: a stranger flooding a node with unauthenticated connections.
 *
 *   flood HOST PORT SOCKETS SECONDS [BIND_ADDR]
 *
 * keeps SOCKETS connections to HOST:PORT open at once for SECONDS, from
 * BIND_ADDR when given (127.0.0.2 is loopback too, another source
 * address).  Each connection sends nothing (even ones) or 64 bytes of
 * garbage (odd ones), and is opened again as soon as the node closes it
 * or after 200 ms, whichever comes first: what one unprivileged process
 * can do to hold a node's handshake slots.  Prints "connections N" (how
 * many were opened) on exit.  Exits 2 on a usage error, 1 when it could
 * not open a single connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LIFETIME_MS 200

struct slot {
	int fd;
	int sent;
	int64_t opened_ms;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Opens slot s (non-blocking connect); returns 0 or -1. */
static int
slot_open(struct slot *s, const struct sockaddr_in *to,
    const struct sockaddr_in *from)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);

	s->fd = -1;
	if (fd < 0)
		return -1;
	if (from != NULL && bind(fd, (const struct sockaddr *)from,
	    sizeof(*from)) != 0) {
		close(fd);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) != 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	s->fd = fd;
	s->sent = 0;
	s->opened_ms = mono_ms();
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in to, from;
	struct slot *slots;
	struct pollfd *pfd;
	unsigned long long opened = 0;
	unsigned char garbage[64];
	int64_t end;
	int n, i;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: flood HOST PORT SOCKETS SECONDS "
		    "[BIND_ADDR]\n");
		return 2;
	}
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)atoi(argv[2]));
	memset(&from, 0, sizeof(from));
	from.sin_family = AF_INET;
	n = atoi(argv[3]);
	if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || n < 1 ||
	    (argc == 6 && inet_pton(AF_INET, argv[5], &from.sin_addr) != 1)) {
		fprintf(stderr, "flood: bad address or count\n");
		return 2;
	}
	for (i = 0; i < (int)sizeof(garbage); i++)
		garbage[i] = (unsigned char)(i * 37 + 11);
	slots = calloc((size_t)n, sizeof(*slots));
	pfd = calloc((size_t)n, sizeof(*pfd));
	if (slots == NULL || pfd == NULL)
		return 1;
	end = mono_ms() + 1000LL * atoi(argv[4]);
	for (i = 0; i < n; i++)
		if (slot_open(&slots[i], &to, argc == 6 ? &from : NULL) == 0)
			opened++;
	while (mono_ms() < end) {
		int64_t now;

		for (i = 0; i < n; i++) {
			pfd[i].fd = slots[i].fd;
			pfd[i].events = POLLIN | (slots[i].sent ? 0 : POLLOUT);
			pfd[i].revents = 0;
		}
		if (poll(pfd, (nfds_t)n, 20) < 0 && errno != EINTR)
			return 1;
		now = mono_ms();
		for (i = 0; i < n; i++) {
			struct slot *s = &slots[i];
			char buf[256];
			int gone = 0;

			if (s->fd >= 0 && (pfd[i].revents & POLLOUT) &&
			    !s->sent) {
				s->sent = 1;
				if (i % 2 == 1 && write(s->fd, garbage,
				    sizeof(garbage)) < 0)
					gone = 1;
			}
			if (s->fd >= 0 && (pfd[i].revents & (POLLIN |
			    POLLHUP | POLLERR)) && read(s->fd, buf,
			    sizeof(buf)) <= 0)
				gone = 1;
			if (s->fd < 0 || gone || now - s->opened_ms >=
			    LIFETIME_MS) {
				if (s->fd >= 0)
					close(s->fd);
				if (slot_open(s, &to, argc == 6 ? &from :
				    NULL) == 0)
					opened++;
			}
		}
	}
	printf("connections %llu\n", opened);
	for (i = 0; i < n; i++)
		if (slots[i].fd >= 0)
			close(slots[i].fd);
	free(slots);
	free(pfd);
	return opened > 0 ? 0 : 1;
}
