/*
 * cmd_sync.c: the commands that talk to the node's daemon, cafed, over
 * its control socket (DATA/ctl/cafed.sock): peer add, rm and list, sync,
 * and the daemon's part of status; and the nudge every writing command
 * sends so that cafed pushes the new commits at once.
 *
 * The control protocol is one JSON object per line each way, versioned
 * (proto/control.h).  cafe never links libuv: this is non-blocking socket
 * code with poll() bounding every wait, the connect included, so that a
 * frozen or busy cafed (its listen backlog full) never holds up a command
 * whose write is already stored.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/*
 * Connects to the daemon's socket by deadline (cli_mono_ms()); returns a
 * non-blocking fd, or -1 with errno set (ETIMEDOUT: the backlog stayed
 * full, so the daemon is not accepting).
 */
static int
ctl_connect(const char *data, int64_t deadline)
{
	struct sockaddr_un sun;
	int fd, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/" CTL_DIR "/"
	    CTL_SOCK, data);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return -1;
	/*
	 * A Unix socket's non-blocking connect completes at once or fails
	 * with EAGAIN while the listener's backlog is full: try again every
	 * 20 ms until the deadline.
	 */
	while (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
		int e = errno;
		struct timespec ts = { 0, 20 * 1000 * 1000 };

		if ((e == EAGAIN || e == EINTR) && cli_mono_ms() + 20 <
		    deadline) {
			nanosleep(&ts, NULL);
			continue;
		}
		close(fd);
		errno = e == EAGAIN ? ETIMEDOUT : e;
		return -1;
	}
	return fd;
}

/* Writes all of buf[len] to the non-blocking fd by deadline; returns 0,
 * or -1 with errno set. */
static int
ctl_write(int fd, const char *buf, size_t len, int64_t deadline)
{
	struct pollfd pfd = { fd, POLLOUT, 0 };

	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		int64_t left;

		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		if ((left = deadline - cli_mono_ms()) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -1;
	}
	return 0;
}

/* Explains a control socket we may not reach: whose it is, what to do. */
static int
ctl_denied(const char *data, char **cause)
{
	char *dir = xasprintf("%s/" CTL_DIR, data), *who, *name;
	uid_t owner;

	if (store_owner_check(dir, &owner, &who) != 0) {
		name = store_user_name(owner);
		*cause = xasprintf("control socket: %s; if a cafed run as %s "
		    "left it, stop that cafed, then as root: rm -r %s", who,
		    name, dir);
		free(name);
		free(who);
	} else
		*cause = xasprintf("control socket in %s: %s", dir,
		    strerror(EACCES));
	free(dir);
	return CS_EIO;
}

/*
 * Checks that the answer is of this cafe's version of the protocol and
 * not a refusal; 0, or CS_EIO with *cause.
 */
static int
ctl_answer_check(json_t *rep, char **cause)
{
	json_t *v = json_object_get(rep, "v"), *e = json_object_get(rep,
	    "error");
	json_int_t theirs = json_is_integer(v) ? json_integer_value(v) : 1;

	if (!json_is_object(rep)) {
		*cause = xstrdup("cafed's answer is not a JSON object");
		return CS_EIO;
	}
	if (theirs != CTL_VERSION) {
		*cause = xasprintf("cafed speaks control protocol %lld and this "
		    "cafe %d, so cafe cannot read its answers: %s",
		    (long long)theirs, CTL_VERSION, theirs < CTL_VERSION ?
		    "the running cafed is older; restart it (after an "
		    "upgrade: systemctl restart cafed)" : "this cafe is older "
		    "than the running cafed; use the cafe installed with it");
		return CS_EIO;
	}
	if (json_is_string(e)) {
		*cause = xasprintf("cafed refused the request: %s",
		    json_string_value(e));
		return CS_EIO;
	}
	return 0;
}

/*
 * Sends one request and reads the one-line answer within timeout_ms, the
 * connect included.  Returns 0 with *reply set, CS_ENOTFOUND when no
 * daemon serves data, CS_ETIMEDOUT with *cause when one is there but does
 * not answer in time (frozen or busy), or CS_EIO with *cause (malloc'd).
 */
int
cli_ctl(const char *data, enum ctl_cmd cmd, json_t *args, int timeout_ms,
    json_t **reply, char **cause)
{
	json_t *req = json_pack("{s:i, s:s}", "v", CTL_VERSION, "cmd",
	    ctl_cmd_name(cmd));
	char *text, *buf = NULL, *line;
	size_t len = 0, cap = 0;
	int64_t deadline = cli_mono_ms() + timeout_ms;
	json_error_t err;
	struct pollfd pfd;
	ssize_t n;
	int fd, rc = CS_EIO;

	if (args != NULL)
		json_object_update(req, args);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	*reply = NULL;
	*cause = NULL;
	if ((fd = ctl_connect(data, deadline)) < 0) {
		free(text);
		if (errno == ENOENT || errno == ECONNREFUSED)
			return CS_ENOTFOUND;
		if (errno == EACCES)
			return ctl_denied(data, cause);
		if (errno == ETIMEDOUT) {
			*cause = xstrdup("cafed is not answering");
			return CS_ETIMEDOUT;
		}
		*cause = xasprintf("control socket: %s", strerror(errno));
		return CS_EIO;
	}
	line = xasprintf("%s\n", text);
	if (ctl_write(fd, line, strlen(line), deadline) != 0) {
		rc = errno == ETIMEDOUT ? CS_ETIMEDOUT : CS_EIO;
		*cause = rc == CS_ETIMEDOUT ? xstrdup("cafed is not answering") :
		    xasprintf("control socket: %s", strerror(errno));
		free(line);
		goto out;
	}
	free(line);
	for (;;) {
		int64_t left = deadline - cli_mono_ms();

		if (left <= 0) {
			*cause = xstrdup("cafed is not answering");
			rc = CS_ETIMEDOUT;
			goto out;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) {
			*cause = xasprintf("poll: %s", strerror(errno));
			goto out;
		}
		if (pfd.revents == 0)
			continue;
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 8192;
			if (cap > CTL_MAX_REPLY) {
				*cause = xstrdup("cafed's answer is too long");
				goto out;
			}
			buf = xreallocarray(buf, cap, 1);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (memchr(buf + len - n, '\n', (size_t)n) != NULL)
			break;
	}
	if (len == 0) {
		*cause = xstrdup("cafed closed the control connection without "
		    "an answer");
		goto out;
	}
	buf[len] = '\0';
	if ((*reply = json_loads(buf, 0, &err)) == NULL) {
		*cause = xasprintf("cafed's answer is not JSON: %s", err.text);
		goto out;
	}
	if ((rc = ctl_answer_check(*reply, cause)) != 0) {
		json_decref(*reply);
		*reply = NULL;
	}
out:
	close(fd);
	free(buf);
	free(text);
	return rc;
}

/*
 * Sends a request whose answer does not matter (nudge, reload), waiting
 * at most a second: what was written is stored either way.
 */
void
cli_ctl_tell(const char *data, enum ctl_cmd cmd)
{
	json_t *rep = NULL;
	char *cause = NULL;
	int rc = cli_ctl(data, cmd, NULL, 1000, &rep, &cause);

	if (rc == CS_ETIMEDOUT)
		cli_warn("cafed is not answering: %s when it runs again",
		    cmd == CTL_NUDGE ? "this change is stored and goes out" :
		    "it takes the change");
	else if (rc == CS_EIO)
		cli_warn("could not tell cafed (%s): %s", ctl_cmd_name(cmd),
		    cause);
	json_decref(rep);
	free(cause);
}

/*
 * Asks the running daemon for its status, within two seconds; NULL when
 * none runs.  One that does not answer gives {"answering": false}.
 */
json_t *
cli_daemon_status(struct cli *c)
{
	json_t *rep = NULL;
	char *cause = NULL;
	int rc = cli_ctl(c->data, CTL_STATUS, NULL, 2000, &rep, &cause);

	if (rc == CS_ETIMEDOUT)
		rep = json_pack("{s:b}", "answering", 0);
	else if (rc == CS_EIO) {
		json_t *e = json_string(cause);

		rep = json_pack("{s:b, s:o}", "answering", 0, "error", e ? e :
		    json_string("cafed's answer cannot be used"));
	}
	free(cause);
	return rep;
}

/* Writes when ms was, for people: "today 21:40", "Tuesday 21:40". */
void
cli_when(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000), now = time(NULL);
	struct tm tm, tn;
	long days;

	if (ms == 0) {
		snprintf(buf, len, "never");
		return;
	}
	localtime_r(&t, &tm);
	localtime_r(&now, &tn);
	tm.tm_isdst = tn.tm_isdst = -1;
	{
		struct tm a = tm, b = tn;

		a.tm_hour = b.tm_hour = 12;
		a.tm_min = b.tm_min = a.tm_sec = b.tm_sec = 0;
		days = (long)((mktime(&b) - mktime(&a)) / 86400);
	}
	if (days == 0)
		strftime(buf, len, "today %H:%M", &tm);
	else if (days == 1)
		strftime(buf, len, "yesterday %H:%M", &tm);
	else if (days > 1 && days < 7)
		strftime(buf, len, "%A %H:%M", &tm);
	else
		strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
}

struct peers_arg {
	struct cli *c;
	json_t *daemon;
	uint64_t own;           /* this node's own head seq */
	int n;
};

/* Finds the daemon's object for a peer name, or NULL. */
static json_t *
daemon_peer(json_t *d, const char *name)
{
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(d, "peers"), i, p)
		if (strcmp(json_string_value(json_object_get(p, "name")),
		    name) == 0)
			return p;
	return NULL;
}

/* Writes a size for people: "640 bytes", "31 KB", "2.4 MB". */
static void
size_words(uint64_t b, char *buf, size_t len)
{
	if (b < 1000)
		snprintf(buf, len, "%llu bytes", (unsigned long long)b);
	else if (b < 999500)
		snprintf(buf, len, "%llu KB", (unsigned long long)(b + 500) / 1000);
	else if (b < 9950000)
		snprintf(buf, len, "%.1f MB", (double)b / 1e6);
	else
		snprintf(buf, len, "%llu MB",
		    (unsigned long long)(b + 500000) / 1000000);
}

/* Writes a time left for people: "12 s", "3 min 20 s", "2 h 5 min". */
static void
left_words(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%llu s", (unsigned long long)(s ? s : 1));
	else if (s < 3600)
		snprintf(buf, len, "%llu min %llu s", (unsigned long long)s / 60,
		    (unsigned long long)s % 60);
	else
		snprintf(buf, len, "%llu h %llu min",
		    (unsigned long long)s / 3600,
		    (unsigned long long)s % 3600 / 60);
}

/*
 * A syncing peer: the changes and bytes still to send, the rate the link
 * has shown and the time that leaves, and what is still to receive.
 */
static void
syncing_words(json_t *dp, uint64_t waiting)
{
	json_t *b = json_object_get(dp, "bytes_to_send"),
	    *r = json_object_get(dp, "rate");
	char size[32], rate[32], left[32];

	printf("syncing: %llu change%s", (unsigned long long)waiting,
	    waiting == 1 ? "" : "s");
	if (json_is_integer(b) && json_integer_value(b) > 0) {
		uint64_t bytes = (uint64_t)json_integer_value(b);

		size_words(bytes, size, sizeof(size));
		printf(" (%s%s) to send", json_is_false(json_object_get(dp,
		    "bytes_to_send_exact")) ? "about " : "", size);
		if (json_is_integer(r) && json_integer_value(r) > 0) {
			uint64_t bps = (uint64_t)json_integer_value(r);

			size_words(bps, rate, sizeof(rate));
			left_words(bytes / bps, left, sizeof(left));
			printf(" at %s/s, about %s left", rate, left);
		}
	} else
		printf(" to send");
	printf(", %lld to receive", (long long)json_integer_value(
	    json_object_get(dp, "to_receive")));
}

/* Prints one peer's state in plain words. */
static int
peer_words(const struct store_peer *sp, void *arg)
{
	struct peers_arg *pa = arg;
	json_t *dp = pa->daemon ? daemon_peer(pa->daemon, sp->name) : NULL;
	const char *st = dp ? json_string_value(json_object_get(dp, "state")) :
	    NULL;
	json_t *err = dp ? json_object_get(dp, "error") : NULL;
	uint64_t ms = 0, seq = 0, waiting;
	char last[64];

	pa->n++;
	store_lastseen_get(pa->c->store, sp->key, &ms, &seq);
	waiting = pa->own > seq ? pa->own - seq : 0;
	if (dp != NULL && json_is_integer(json_object_get(dp, "to_send")))
		waiting = (uint64_t)json_integer_value(json_object_get(dp,
		    "to_send"));
	cli_when(ms, last, sizeof(last));
	printf("  %-16s ", sp->name);
	if (st != NULL && strcmp(st, "idle") == 0)
		printf("up to date");
	else if (st != NULL && strcmp(st, "syncing") == 0)
		syncing_words(dp, waiting);
	else {
		if (waiting > 0)
			printf("%llu change%s waiting to send, ",
			    (unsigned long long)waiting,
			    waiting == 1 ? "" : "s");
		else if (ms != 0)
			printf("nothing waiting to send, ");
		if (ms != 0)
			printf("last sent %s", last);
		else
			printf("never synced");
		if (st != NULL && strcmp(st, "connecting") == 0)
			printf("; connecting");
		else if (json_is_string(err))
			printf("; not reached since %s: %s", ms != 0 ? last :
			    "the daemon started", json_string_value(err));
		else if (st != NULL && sp->addr[0] == '\0')
			printf("; waits for it to connect");
	}
	printf("\n");
	return 0;
}

/* Prints the peers of `cafe status` in plain words, daemon or not. */
void
cli_print_peers(struct cli *c, json_t *d)
{
	struct peers_arg pa = { c, d, 0, 0 };

	pa.own = store_head_seq(c->store, store_info(c->store)->node);
	if (d == NULL)
		printf("daemon   not running\n         nothing is sent or "
		    "received until cafed starts\n");
	else if (json_is_string(json_object_get(d, "error"))) {
		printf("daemon   %s\n         writes are stored, and cafed "
		    "still sends them\n", json_string_value(json_object_get(d,
		    "error")));
		d = pa.daemon = NULL;
	} else if (json_is_false(json_object_get(d, "answering"))) {
		printf("daemon   cafed is not answering (stopped or stuck?)\n"
		    "         writes are stored and go out when it runs "
		    "again\n");
		d = pa.daemon = NULL;
	} else
		printf("daemon   running, listening on %s%s\n",
		    json_string_value(json_object_get(d, "listen")),
		    json_is_true(json_object_get(d, "restore_pending")) ?
		    "; restored: waiting for this node's own log" : "");
	printf("peers\n");
	store_peers(c->store, peer_words, &pa);
	if (pa.n == 0)
		printf("  none (cafe peer add, or cafe join)\n");
}

/* ---- cafe peer -------------------------------------------------------- */

struct peer_list {
	json_t *a;
	json_t *states;    /* name -> daemon's peer object, or NULL */
};

static int
peer_add_json(const struct store_peer *p, void *arg)
{
	struct peer_list *pl = arg;
	char key[2 * PROTO_KEY_LEN + 1];
	json_t *o, *dp = NULL;
	size_t i;

	proto_hex(key, p->key, PROTO_KEY_LEN);
	o = json_pack("{s:s, s:s, s:s}", "name", p->name, "addr",
	    p->addr[0] ? p->addr : "inbound", "key", key);
	if (pl->states != NULL) {
		json_t *x;

		for (i = 0; (x = json_array_get(pl->states, i)) != NULL; i++)
			if (strcmp(json_string_value(json_object_get(x, "name")),
			    p->name) == 0)
				dp = x;
	}
	json_object_set_new(o, "state", dp ? json_incref(json_object_get(dp,
	    "state")) : json_null());
	json_array_append_new(pl->a, o);
	return 0;
}

/* cafe peer add NAME ADDR|--inbound --key HEX; peer rm NAME; peer list */
int
cmd_peer(struct cli *c)
{
	const char *verb = c->argc > 0 ? c->argv[0] : NULL;
	struct store_peer p;
	char *cause = NULL;
	int bad = 0, rc;

	if (verb == NULL)
		return cli_rest(c, 1, -1);
	c->argc--;
	c->argv++;
	if (strcmp(verb, "add") == 0) {
		const char *key = cli_take(c, "--key", &bad);
		int inbound = cli_flag(c, "--inbound");
		char host[256], port[16];

		if (bad || cli_rest(c, inbound ? 1 : 2, inbound ? 1 : 2) != 0)
			return EXIT_USAGE;
		memset(&p, 0, sizeof(p));
		if (key == NULL)
			return cli_usage_error(c, "option --key: is required "
			    "(the peer's node id, from cafe id)");
		if (proto_unhex(p.key, PROTO_KEY_LEN, key) != 0)
			return cli_usage_error(c, "option --key: '%s' is not "
			    "a node id (64 hex digits)", key);
		if (memcmp(p.key, store_info(c->store)->node,
		    PROTO_KEY_LEN) == 0)
			return cli_usage_error(c, "option --key: that is this "
			    "node's own id");
		if (strlen(c->argv[0]) == 0 ||
		    strlen(c->argv[0]) >= sizeof(p.name))
			return cli_usage_error(c, "peer name: must be 1 to "
			    "%zu bytes", sizeof(p.name) - 1);
		snprintf(p.name, sizeof(p.name), "%s", c->argv[0]);
		if (!inbound) {
			if (strlen(c->argv[1]) >= sizeof(p.addr) ||
			    proto_split_addr(c->argv[1], host, sizeof(host),
			    port, sizeof(port)) != 0)
				return cli_usage_error(c, "address '%s': not "
				    "host:port (or give --inbound)",
				    c->argv[1]);
			snprintf(p.addr, sizeof(p.addr), "%s", c->argv[1]);
		}
		if ((rc = store_peer_put(c->store, &p, &cause)) != 0) {
			cli_usage_error(c, "%s", cause);
			free(cause);
			return EXIT_USAGE;
		}
		cli_ctl_tell(c->data, CTL_RELOAD);
		return EXIT_OK;
	}
	if (strcmp(verb, "rm") == 0) {
		if (cli_rest(c, 1, 1) != 0)
			return EXIT_USAGE;
		if ((rc = store_peer_del(c->store, c->argv[0], &cause)) != 0) {
			cli_usage_error(c, "%s", cause);
			free(cause);
			return EXIT_USAGE;
		}
		cli_ctl_tell(c->data, CTL_RELOAD);
		return EXIT_OK;
	}
	if (strcmp(verb, "list") == 0) {
		struct peer_list pl;
		json_t *d, *x;
		size_t i;

		c->json = cli_flag(c, "--json");
		if (cli_rest(c, 0, 0) != 0)
			return EXIT_USAGE;
		d = cli_daemon_status(c);
		pl.a = json_array();
		pl.states = d ? json_object_get(d, "peers") : NULL;
		store_peers(c->store, peer_add_json, &pl);
		if (c->json)
			cli_print_json(json_incref(pl.a));
		else
			for (i = 0; (x = json_array_get(pl.a, i)) != NULL; i++) {
				json_t *st = json_object_get(x, "state");

				printf("%-16s %-24s %s %s\n",
				    json_string_value(json_object_get(x, "name")),
				    json_string_value(json_object_get(x, "addr")),
				    json_string_value(json_object_get(x, "key")),
				    json_is_string(st) ? json_string_value(st) :
				    d ? "-" : "(cafed not running)");
			}
		json_decref(pl.a);
		json_decref(d);
		return EXIT_OK;
	}
	return cli_usage_error(c, "'%s' is not add, rm or list; usage: cafe "
	    "peer add NAME HOST:PORT|--inbound --key HEX | peer rm NAME | "
	    "peer list [--json]", verb);
}

/* ---- cafe sync -------------------------------------------------------- */

struct dial_arg {
	const char *name;
	int dials;
};

/* Tells whether the stored peer named da->name is one this node dials. */
static int
dials(const struct store_peer *p, void *arg)
{
	struct dial_arg *da = arg;

	if (strcmp(p->name, da->name) == 0)
		da->dials = p->addr[0] != '\0';
	return 0;
}

/* cafe sync [--wait] [--timeout S] [--json] */
int
cmd_sync(struct cli *c)
{
	const char *t;
	long timeout = 30;
	char *end, *cause = NULL;
	json_t *req, *rep = NULL, *x, *lst;
	int bad = 0, wait, rc;
	size_t i;

	wait = cli_flag(c, "--wait");
	c->json = cli_flag(c, "--json");
	t = cli_take(c, "--timeout", &bad);
	if (bad || cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	if (t != NULL) {
		errno = 0;
		timeout = strtol(t, &end, 10);
		if (*t == '\0' || *end != '\0' || errno != 0 || timeout < 1 ||
		    timeout > 86400)
			return cli_usage_error(c, "option --timeout: '%s' is "
			    "not a number of seconds from 1 to 86400", t);
	}
	req = json_pack("{s:I}", "timeout", (json_int_t)timeout);
	rc = cli_ctl(c->data, wait ? CTL_SYNC : CTL_NUDGE, req, wait ?
	    (int)(timeout * 1000 + 5000) : 5000, &rep, &cause);
	json_decref(req);
	if (rc == CS_ENOTFOUND)
		return cli_fail(c, EXIT_CHECK, "cafed is not running for %s "
		    "(start it: cafed --data %s)", c->data, c->data);
	if (rc != 0) {
		cli_fail(c, EXIT_CHECK, "%s", cause);
		free(cause);
		return EXIT_CHECK;
	}
	if (!wait) {
		json_t *d = cli_daemon_status(c), *p;
		size_t n = json_array_size(json_object_get(d, "peers"));

		json_decref(rep);
		if (c->json) {
			cli_print_json(d != NULL ? d : json_null());
			return EXIT_OK;
		}
		if (!json_is_array(json_object_get(d, "peers"))) {
			/* Asked; its state cannot be read just now. */
			printf("asked cafed to send now\n");
			json_decref(d);
			return EXIT_OK;
		}
		printf("asked cafed to send now to %zu peer%s\n", n,
		    n == 1 ? "" : "s");
		json_array_foreach(json_object_get(d, "peers"), i, p)
			printf("  %-16s %s\n", json_string_value(
			    json_object_get(p, "name")), json_string_value(
			    json_object_get(p, "state")));
		if (n == 0)
			printf("  no peer (cafe peer add, or cafe join)\n");
		json_decref(d);
		return EXIT_OK;
	}
	if (c->json)
		cli_print_json(json_incref(rep));
	{
		char names[256] = "";
		int failed = 0;

		/* A peer this node dials and did not reach: not synced. */
		lst = json_object_get(rep, "offline");
		for (i = 0; (x = json_array_get(lst, i)) != NULL; i++) {
			const char *nm = json_string_value(json_object_get(x,
			    "name"));
			struct dial_arg da = { nm, 0 };

			store_peers(c->store, dials, &da);
			cli_warn("peer %s not reached: %s", nm,
			    json_string_value(json_object_get(x, "reason")));
			if (da.dials && strlen(names) + strlen(nm) + 2 <
			    sizeof(names)) {
				strcat(names, " ");
				strcat(names, nm);
				failed = 1;
			}
		}
		if (failed && json_is_true(json_object_get(rep, "ok"))) {
			json_decref(rep);
			return cli_fail(c, EXIT_CHECK, "not synced: not "
			    "reached:%s", names);
		}
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		char names[256] = "";

		lst = json_object_get(rep, "pending");
		for (i = 0; (x = json_array_get(lst, i)) != NULL; i++) {
			if (strlen(names) + strlen(json_string_value(x)) + 2 <
			    sizeof(names)) {
				strcat(names, " ");
				strcat(names, json_string_value(x));
			}
		}
		json_decref(rep);
		return cli_fail(c, EXIT_CHECK, "timed out after %ld s; not "
		    "caught up:%s", timeout, names[0] ? names : " (none)");
	}
	if (!c->json)
		printf("caught up with every peer reached\n");
	json_decref(rep);
	return EXIT_OK;
}
