/*
 * cmd_join.c: joining a network with a one-line invite.
 *
 *   cafe invite --role site --site ID [--expires 7d] [--addr HOST:PORT]
 *       on the admin node: prints the token
 *   cafe join TOKEN [--name NAME]
 *       on a new node: connects to the admin's cafed, proves it holds
 *       the invite's secret, is enrolled, and adds the hub as its peer
 *
 * A token is one line:
 *
 *   cafesync-invite/1/HOST:PORT/NETWORK/ROLE/INVITE/SECRET
 *
 * NETWORK is the admin's key (64 hex), which `cafe join` also expects the
 * hub to prove it holds; INVITE (32 hex) and SECRET (64 hex) are random.
 * The hub keeps only the secret's hash, and an invite works once.  The
 * session is the ordinary encrypted one (proto/wire.h) with the role
 * "join": cafe speaks it over a blocking socket, with every wait bounded.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "../proto/wire.h"
#include "cli.h"

#define TOKEN_PREFIX "cafesync-invite/1/"
#define JOIN_TIMEOUT_MS 15000

/* Parses "7d", "12h", "30m", "45s" into milliseconds; 0 or -1. */
static int
parse_duration(const char *s, uint64_t *ms)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s == '\0' || *s == '-' || errno != 0 || v == 0 ||
	    end[0] == '\0' || end[1] != '\0' || v > 3650ULL * 86400)
		return -1;
	switch (*end) {
	case 'd': v *= 86400; break;
	case 'h': v *= 3600; break;
	case 'm': v *= 60; break;
	case 's': break;
	default: return -1;
	}
	if (v > 3650ULL * 86400)
		return -1;
	*ms = v * 1000;
	return 0;
}

/* cafe invite --role R [--site ID] [--expires D] [--addr HOST:PORT] */
int
cmd_invite(struct cli *c)
{
	const struct store_info *in = store_info(c->store);
	const char *role, *site, *expires, *addr;
	struct store_invite inv;
	uint64_t ms = 7ULL * 86400 * 1000;
	char host[256], port[16], net[65], id[33], secret[65], *cause = NULL;
	int bad = 0, rc;

	role = cli_take(c, "--role", &bad);
	site = cli_take(c, "--site", &bad);
	expires = cli_take(c, "--expires", &bad);
	addr = cli_take(c, "--addr", &bad);
	if (bad || cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	if (store_role_parse(role) == STORE_ROLE_NONE)
		return cli_usage_error(c, "option --role: give site, hub or "
		    "consultant");
	if ((store_role_parse(role) == STORE_ROLE_SITE) != (site != NULL))
		return cli_usage_error(c, "option --site: a site invite names "
		    "its site, and only a site invite does");
	if (expires != NULL && parse_duration(expires, &ms) != 0)
		return cli_usage_error(c, "option --expires: '%s' is not a "
		    "duration like 7d, 12h, 30m or 45s", expires);
	if (addr == NULL)
		return cli_usage_error(c, "option --addr: give the HOST:PORT "
		    "the new node dials to reach this hub's cafed");
	if (proto_split_addr(addr, host, sizeof(host), port,
	    sizeof(port)) != 0 || strchr(addr, '/') != NULL)
		return cli_usage_error(c, "option --addr: '%s' is not "
		    "host:port", addr);
	if (memcmp(in->node, in->network, PROTO_KEY_LEN) != 0)
		return cli_usage_error(c, "only the network's admin (the hub "
		    "whose key is the network id) makes invites");
	memset(&inv, 0, sizeof(inv));
	snprintf(inv.role, sizeof(inv.role), "%s", role);
	if (site != NULL) {
		if (cli_resolve(c, site, sch_type_find("site", 4),
		    inv.site) != 0)
			return EXIT_USAGE;
		inv.has_site = 1;
	}
	if ((rc = store_invite_make(c->store, &inv, ms, &cause)) != 0) {
		cli_usage_error(c, "%s", cause);
		free(cause);
		return EXIT_USAGE;
	}
	proto_hex(net, in->network, PROTO_KEY_LEN);
	proto_hex(id, inv.id, sizeof(inv.id));
	proto_hex(secret, inv.secret, sizeof(inv.secret));
	printf(TOKEN_PREFIX "%s/%s/%s/%s/%s\n", addr, net, role, id, secret);
	sodium_memzero(&inv, sizeof(inv));
	sodium_memzero(secret, sizeof(secret));
	return EXIT_OK;
}

/* A parsed token. */
struct token {
	char addr[272];
	uint8_t network[PROTO_KEY_LEN];
	char role[16];
	uint8_t invite[WIRE_INVITE_LEN];
	uint8_t secret[WIRE_SECRET_LEN];
};

/* Parses a token; returns 0 or -1 with *why. */
static int
parse_token(const char *text, struct token *t, const char **why)
{
	char buf[600], *part[5], *p;
	char host[256], port[16];
	int i;

	*why = "not a cafesync invite (it starts " TOKEN_PREFIX ")";
	if (strncmp(text, TOKEN_PREFIX, strlen(TOKEN_PREFIX)) != 0 ||
	    strlen(text) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", text + strlen(TOKEN_PREFIX));
	p = buf;
	for (i = 0; i < 5; i++) {
		part[i] = p;
		p = strchr(p, '/');
		if (i < 4) {
			if (p == NULL) {
				*why = "the invite is cut short";
				return -1;
			}
			*p++ = '\0';
		}
	}
	if (p != NULL) {
		*why = "the invite has extra parts";
		return -1;
	}
	*why = "the invite's address is not host:port";
	if (strlen(part[0]) >= sizeof(t->addr) || proto_split_addr(part[0],
	    host, sizeof(host), port, sizeof(port)) != 0)
		return -1;
	snprintf(t->addr, sizeof(t->addr), "%s", part[0]);
	*why = "the invite's network id is damaged";
	if (proto_unhex(t->network, PROTO_KEY_LEN, part[1]) != 0)
		return -1;
	*why = "the invite's role is not site, hub or consultant";
	if (store_role_parse(part[2]) == STORE_ROLE_NONE)
		return -1;
	snprintf(t->role, sizeof(t->role), "%s", part[2]);
	*why = "the invite's id or secret is damaged";
	if (proto_unhex(t->invite, WIRE_INVITE_LEN, part[3]) != 0 ||
	    proto_unhex(t->secret, WIRE_SECRET_LEN, part[4]) != 0)
		return -1;
	sodium_memzero(buf, sizeof(buf));
	return 0;
}

/* Connects to addr within the deadline; returns the fd or -1 (*why). */
static int
dial(const char *addr, int64_t deadline_ms, const char **why)
{
	char host[256], port[16];
	struct addrinfo hints, *res, *ai;
	int fd = -1;

	proto_split_addr(addr, host, sizeof(host), port, sizeof(port));
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (getaddrinfo(host, port, &hints, &res) != 0) {
		*why = "cannot resolve the hub's address";
		return -1;
	}
	*why = "cannot connect to the hub (is its cafed running?)";
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;
		int err = 0, flags;
		socklen_t elen = sizeof(err);
		int64_t left;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		/* A connect that does not outlast the deadline. */
		flags = fcntl(fd, F_GETFL);
		fcntl(fd, F_SETFL, flags | O_NONBLOCK);
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			if (errno != EINPROGRESS)
				err = errno;
			else {
				pfd.fd = fd;
				pfd.events = POLLOUT;
				left = deadline_ms - cli_mono_ms();
				if (left <= 0 || poll(&pfd, 1, (int)left) != 1 ||
				    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err,
				    &elen) != 0)
					err = err ? err : ETIMEDOUT;
			}
		}
		if (err == 0) {
			fcntl(fd, F_SETFL, flags);
			break;
		}
		if (err == ETIMEDOUT)
			*why = "the hub did not answer in time";
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Writes all of buf; 0 or -1. */
static int
write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Runs the session: handshake as "join", JOIN, then waits for JOINED or
 * ERROR.  Returns 0 with role filled, or -1 with why (a static string or
 * reason, which holds the hub's own words).
 */
static int
run_join(int fd, const struct token *t, const uint8_t *sk, const char *name,
    char *role, size_t rolelen, char *reason, size_t reasonlen,
    const char **why)
{
	struct wire w;
	struct wire_event ev;
	struct wire_msg m;
	struct proto_enc e;
	uint8_t buf[4096], *sealed;
	const uint8_t *m1;
	const char *cause;
	size_t len, off, used;
	int64_t deadline = cli_mono_ms() + JOIN_TIMEOUT_MS;
	int rc = -1, sent = 0;
	ssize_t n;

	wire_init(&w, 1, t->network, sk, WIRE_ROLE_JOIN, t->network, NULL,
	    NULL);
	m1 = wire_start(&w, &len);
	if (write_all(fd, m1, len) != 0) {
		*why = "the hub closed the connection";
		goto out;
	}
	for (;;) {
		struct pollfd pfd = { fd, POLLIN, 0 };
		int64_t left = deadline - cli_mono_ms();

		if (left <= 0) {
			*why = "the hub did not answer in time";
			goto out;
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			*why = sent ? "the hub closed the connection without "
			    "an answer" : "the hub refused the connection "
			    "(does it take invites?)";
			goto out;
		}
		off = 0;
		for (;;) {
			if (wire_feed(&w, buf + off, (size_t)n - off, &used,
			    &ev, &cause) != 0) {
				snprintf(reason, reasonlen, "%s", cause);
				*why = reason;
				goto out;
			}
			off += used;
			if (ev.type == WIRE_EV_NONE)
				break;
			if (ev.type == WIRE_EV_SEND &&
			    write_all(fd, ev.data, ev.len) != 0) {
				*why = "the hub closed the connection";
				goto out;
			}
			if (ev.type == WIRE_EV_OPEN) {
				proto_enc_init(&e);
				wire_pack_join(&e, t->invite, t->secret, name);
				sealed = xmalloc(wire_sealed_len(e.sb.size));
				wire_seal(&w, (const uint8_t *)e.sb.data,
				    e.sb.size, sealed);
				rc = write_all(fd, sealed,
				    wire_sealed_len(e.sb.size));
				free(sealed);
				proto_enc_free(&e);
				if (rc != 0) {
					rc = -1;
					*why = "the hub closed the connection";
					goto out;
				}
				rc = -1;
				sent = 1;
			}
			if (ev.type == WIRE_EV_MSG) {
				if (wire_msg_decode(&m, ev.data, ev.len,
				    &cause) != 0) {
					*why = "the hub's answer does not "
					    "decode";
					goto out;
				}
				if (m.type == WIRE_MSG_JOINED) {
					snprintf(role, rolelen, "%.*s",
					    (int)m.reason_len, m.reason);
					rc = 0;
				} else if (m.type == WIRE_MSG_ERROR) {
					snprintf(reason, reasonlen, "%.*s",
					    (int)m.reason_len, m.reason);
					*why = reason;
				} else
					*why = "the hub sent something else "
					    "than an answer";
				wire_msg_free(&m);
				goto out;
			}
		}
	}
out:
	wire_free(&w);
	return rc;
}

/*
 * Reads a token's one line from f into buf (the trailing newline and
 * carriage return dropped); returns 0 or -1 with *why.
 */
static int
read_token_line(FILE *f, char *buf, size_t size, const char **why)
{
	size_t n;

	if (fgets(buf, (int)size, f) == NULL) {
		*why = "no token to read";
		return -1;
	}
	n = strlen(buf);
	if (n == size - 1 && buf[n - 1] != '\n' && !feof(f)) {
		*why = "the token is longer than any token";
		return -1;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

/*
 * Takes the token's text: the argument, or with "-" a line of stdin, or
 * with --token-file FILE the file's first line (kept out of the command
 * line, which other users see in ps).  Returns 0 or EXIT_USAGE.
 */
static int
take_token(struct cli *c, const char *file, char *buf, size_t size)
{
	const char *why = NULL;
	FILE *f;
	int rc;

	if (file != NULL) {
		if (cli_rest(c, 0, 0) != 0)
			return EXIT_USAGE;
		if ((f = fopen(file, "r")) == NULL)
			return cli_usage_error(c, "--token-file %s: %s", file,
			    strerror(errno));
		rc = read_token_line(f, buf, size, &why);
		fclose(f);
		if (rc != 0)
			return cli_usage_error(c, "--token-file %s: %s", file,
			    why);
		return 0;
	}
	if (cli_rest(c, 1, 1) != 0)
		return EXIT_USAGE;
	if (strcmp(c->argv[0], "-") == 0) {
		if (read_token_line(stdin, buf, size, &why) != 0)
			return cli_usage_error(c, "stdin: %s", why);
		return 0;
	}
	if (strlen(c->argv[0]) >= size)
		return cli_usage_error(c, "the token is longer than any token");
	snprintf(buf, size, "%s", c->argv[0]);
	return 0;
}

/* cafe join TOKEN|-|--token-file FILE [--name NAME] */
int
cmd_join(struct cli *c)
{
	struct token t;
	struct store *s = NULL;
	struct store_peer p;
	const char *name, *file, *why = NULL;
	char *cause = NULL, role[WIRE_MAX_NAME + 1], reason[256];
	char text[600];
	char net[65], hostname[64];
	int bad = 0, fd, rc = EXIT_USAGE;

	name = cli_take(c, "--name", &bad);
	file = cli_take(c, "--token-file", &bad);
	if (bad)
		return EXIT_USAGE;
	if ((rc = take_token(c, file, text, sizeof(text))) != 0)
		return rc;
	rc = EXIT_USAGE;
	bad = parse_token(text, &t, &why);
	sodium_memzero(text, sizeof(text));
	if (bad != 0)
		return cli_usage_error(c, "%s", why);
	if (name == NULL) {
		if (gethostname(hostname, sizeof(hostname)) != 0)
			snprintf(hostname, sizeof(hostname), "new node");
		hostname[sizeof(hostname) - 1] = '\0';
		name = hostname;
	}
	if (strlen(name) == 0 || strlen(name) > WIRE_MAX_NAME)
		return cli_usage_error(c, "option --name: 1 to %d bytes",
		    WIRE_MAX_NAME);
	/* A node made by an earlier, failed join is used again. */
	if (store_open(&s, c->data, &cause) != 0) {
		free(cause);
		cause = NULL;
		if (store_create(c->data, name, t.role, t.network,
		    &cause) != 0 || store_open(&s, c->data, &cause) != 0) {
			cli_usage_error(c, "%s", cause);
			free(cause);
			return EXIT_USAGE;
		}
	} else if (memcmp(store_info(s)->network, t.network,
	    PROTO_KEY_LEN) != 0) {
		store_close(s);
		return cli_usage_error(c, "%s holds a node of another network",
		    c->data);
	}
	if ((fd = dial(t.addr, cli_mono_ms() + JOIN_TIMEOUT_MS, &why)) < 0) {
		cli_fail(c, EXIT_CHECK, "%s: %s", t.addr, why);
		rc = EXIT_CHECK;
		goto out;
	}
	if (run_join(fd, &t, store_secret_key(s), name, role, sizeof(role),
	    reason, sizeof(reason), &why) != 0) {
		close(fd);
		cli_fail(c, EXIT_CHECK, "join refused: %s", why);
		rc = EXIT_CHECK;
		goto out;
	}
	close(fd);
	memset(&p, 0, sizeof(p));
	snprintf(p.name, sizeof(p.name), "hub");
	snprintf(p.addr, sizeof(p.addr), "%s", t.addr);
	memcpy(p.key, t.network, PROTO_KEY_LEN);
	if (store_peer_put(s, &p, &cause) != 0) {
		cli_usage_error(c, "%s", cause);
		free(cause);
		goto out;
	}
	cli_ctl_tell(c->data, CTL_RELOAD);
	proto_hex(net, t.network, PROTO_KEY_LEN);
	printf("joined network %.16s as %s; the hub is peer 'hub' (%s).\n"
	    "start cafed (cafed --data %s) to sync; writing waits until this "
	    "node holds its enrollment (cafe sync --wait)\n", net, role,
	    t.addr, c->data);
	rc = EXIT_OK;
out:
	sodium_memzero(&t, sizeof(t));
	store_close(s);
	return rc;
}
