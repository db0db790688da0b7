/*
 * control.c: the control socket `cafe` talks to, DATA/ctl/cafed.sock in a
 * directory of mode 0700.  A lock file beside it (flock) makes sure one
 * daemon serves a data directory; a socket left by a daemon that died is
 * removed.  Only the daemon's own user (or root) may talk to it.  The
 * protocol, its commands, answers and version: proto/control.h.
 */
#define _GNU_SOURCE     /* struct ucred, SO_PEERCRED */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "daemon.h"
#include "../proto/control.h"

#define CTL_REQUEST_MS 10000     /* to send the request line */

struct ctl_client {
	uv_pipe_t pipe;
	struct ctl_client *next;
	char buf[CTL_MAX_REQUEST];
	size_t len;
	int waiting;             /* a sync waiting for peers */
	uint64_t opened_ms;
	uint64_t deadline_ms;
	int done;
};


static struct {
	uv_pipe_t server;
	int open;
	int lockfd;
	char *path;
	struct ctl_client *clients;
} C = { .lockfd = -1 };

static void
client_closed(uv_handle_t *h)
{
	struct ctl_client *cl = h->data, **pp;

	for (pp = &C.clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	free(cl);
}

static void
client_close(struct ctl_client *cl)
{
	if (!uv_is_closing((uv_handle_t *)&cl->pipe))
		uv_close((uv_handle_t *)&cl->pipe, client_closed);
}

struct ctl_write {
	uv_write_t req;
	char *text;
};

static void
on_written(uv_write_t *req, int status)
{
	struct ctl_write *w = (struct ctl_write *)req;

	(void)status;
	client_close(req->handle->data);
	free(w->text);
	free(w);
}

/* Answers with j (consumed) and closes after the write. */
static void
reply(struct ctl_client *cl, json_t *j)
{
	struct ctl_write *w = xcalloc(1, sizeof(*w));
	char *text;
	uv_buf_t b;

	json_object_set_new(j, "v", json_integer(CTL_VERSION));
	text = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	cl->done = 1;
	cl->waiting = 0;
	w->text = xasprintf("%s\n", text ? text : "{}");
	free(text);
	b = uv_buf_init(w->text, (unsigned)strlen(w->text));
	if (uv_write(&w->req, (uv_stream_t *)&cl->pipe, &b, 1,
	    on_written) != 0) {
		free(w->text);
		free(w);
		client_close(cl);
	}
}

static json_t *
hex_json(const uint8_t *b, size_t n)
{
	char hex[2 * PROTO_HASH_LEN + 1];

	proto_hex(hex, b, n);
	return json_string(hex);
}

/* The lag of a connection: origins where the two sides differ. */
static json_t *
lag_json(const struct conn *c)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < D.ours.n && json_array_size(a) < 64; i++) {
		uint64_t t = vv_get(&c->s.theirs, D.ours.e[i].origin);

		if (t == D.ours.e[i].seq ||
		    !trust_allows(c, D.ours.e[i].origin))
			continue;
		json_array_append_new(a, json_pack("{s:o, s:I, s:I}",
		    "origin", hex_json(D.ours.e[i].origin, PROTO_KEY_LEN),
		    "ours", (json_int_t)D.ours.e[i].seq,
		    "theirs", (json_int_t)t));
	}
	for (i = 0; i < c->s.theirs.n && json_array_size(a) < 64; i++) {
		if (vv_get(&D.ours, c->s.theirs.e[i].origin) != 0)
			continue;
		json_array_append_new(a, json_pack("{s:o, s:I, s:I}",
		    "origin", hex_json(c->s.theirs.e[i].origin, PROTO_KEY_LEN),
		    "ours", (json_int_t)0,
		    "theirs", (json_int_t)c->s.theirs.e[i].seq));
	}
	return a;
}

static json_t *
status_json(void)
{
	json_t *o, *peers = json_array();
	struct peer *p;

	for (p = D.peers; p != NULL; p = p->next) {
		json_t *pj = json_pack("{s:s, s:o, s:s, s:s, s:I, s:I}",
		    "name", p->name, "key", hex_json(p->key, PROTO_KEY_LEN),
		    "addr", p->addr[0] ? p->addr : "inbound",
		    "state", peer_state_name(p->state),
		    "sent", (json_int_t)p->sent,
		    "received", (json_int_t)p->received);

		json_object_set_new(pj, "bytes_in",
		    json_integer((json_int_t)p->bytes_in));
		json_object_set_new(pj, "bytes_out",
		    json_integer((json_int_t)p->bytes_out));
		json_object_set_new(pj, "error", p->error[0] ?
		    json_string(p->error) : json_null());
		json_object_set_new(pj, "last_sync", p->last_sync_ms ?
		    json_integer((json_int_t)p->last_sync_ms) : json_null());
		if (p->conn != NULL && p->conn->open) {
			uint64_t s, r;
			int exact;

			sync_counts(p->conn, &s, &r);
			/* In flight is still to send until acknowledged. */
			s += p->conn->s.inflight_commits;
			json_object_set_new(pj, "direction", json_string(
			    p->conn->outbound ? "outbound" : "inbound"));
			json_object_set_new(pj, "remote",
			    json_string(p->conn->addr));
			json_object_set_new(pj, "to_send",
			    json_integer((json_int_t)s));
			json_object_set_new(pj, "to_receive",
			    json_integer((json_int_t)r));
			s = sync_backlog_bytes(p->conn, &exact);
			json_object_set_new(pj, "bytes_to_send",
			    json_integer((json_int_t)s));
			json_object_set_new(pj, "bytes_to_send_exact",
			    json_boolean(exact));
			json_object_set_new(pj, "rate", p->rate > 0 ?
			    json_integer((json_int_t)p->rate) : json_null());
			json_object_set_new(pj, "lag", lag_json(p->conn));
			json_object_set_new(pj, "reads", json_string(
			    store_role_name(p->conn->reader.role)));
		}
		json_array_append_new(peers, pj);
	}
	o = json_pack("{s:b, s:s, s:I, s:b, s:o}", "running", 1,
	    "listen", D.cfg.listen[0] ? D.cfg.listen : "none",
	    "uptime_ms", (json_int_t)(now_ms() - D.started_ms),
	    "restore_pending", D.restore_pending, "peers", peers);
	return o;
}

/* Tells whether a sync may answer: no peer still on its way. */
static int
all_caught_up(int *idle)
{
	struct peer *p;

	*idle = 0;
	if (D.heads_loading || D.heads_again)
		return 0;
	for (p = D.peers; p != NULL; p = p->next) {
		if (p->resolving != NULL)
			return 0;
		if (p->conn == NULL)
			continue;
		if (!p->conn->open || !sync_caught_up(p->conn))
			return 0;
		(*idle)++;
	}
	return 1;
}

static json_t *
sync_answer(int ok)
{
	json_t *o = json_pack("{s:b}", "ok", ok), *pending = json_array(),
	    *offline = json_array();
	struct peer *p;

	for (p = D.peers; p != NULL; p = p->next) {
		if (p->conn != NULL && p->conn->open &&
		    sync_caught_up(p->conn))
			continue;
		if (p->conn != NULL || p->resolving != NULL)
			json_array_append_new(pending, json_string(p->name));
		else
			json_array_append_new(offline, json_pack("{s:s, s:s}",
			    "name", p->name, "reason", p->error[0] ?
			    p->error : peer_state_name(p->state)));
	}
	json_object_set_new(o, "pending", pending);
	json_object_set_new(o, "offline", offline);
	return o;
}

/* Answers every sync that may now answer. */
void
control_check_waiters(void)
{
	struct ctl_client *cl;
	uint64_t now = now_ms();
	int idle, ok = -1;

	/* Every connection's state moves this; with a thousand peers,
	 * whether all are caught up is worked out only for a waiter. */
	for (cl = C.clients; cl != NULL; cl = cl->next) {
		/* A client that never finishes its request line goes. */
		if (!cl->done && !cl->waiting &&
		    now - cl->opened_ms > CTL_REQUEST_MS)
			client_close(cl);
		if (!cl->waiting)
			continue;
		if (ok < 0)
			ok = all_caught_up(&idle);
		if (ok)
			reply(cl, sync_answer(1));
		else if (now >= cl->deadline_ms || D.stopping)
			reply(cl, sync_answer(0));
	}
}

static void
handle(struct ctl_client *cl, const char *line)
{
	json_error_t err;
	json_t *req = json_loads(line, 0, &err), *t, *v;
	const char *name;
	json_int_t version;
	struct peer *p;
	int cmd;

	if (req == NULL || !json_is_object(req)) {
		json_decref(req);
		reply(cl, json_pack("{s:s}", "error", "bad request: not a JSON "
		    "object"));
		return;
	}
	v = json_object_get(req, "v");
	version = v == NULL ? 1 : json_is_integer(v) ? json_integer_value(v) :
	    0;
	name = json_string_value(json_object_get(req, "cmd"));
	if (version != CTL_VERSION) {
		char *why = !json_is_integer(v) ? xstrdup("bad request: \"v\" "
		    "is not an integer") : xasprintf("control protocol %lld, "
		    "and this cafed speaks %d: %s", (long long)version,
		    CTL_VERSION, version > CTL_VERSION ? "restart cafed "
		    "after an upgrade" : "use the cafe installed with this "
		    "cafed");

		reply(cl, json_pack("{s:s}", "error", why));
		free(why);
		json_decref(req);
		return;
	}
	if ((cmd = ctl_cmd_parse(name)) < 0) {
		reply(cl, json_pack("{s:s}", "error", name == NULL ?
		    "bad request: no \"cmd\"" : "unknown command"));
		json_decref(req);
		return;
	}
	if (cmd == CTL_STATUS) {
		reply(cl, status_json());
		/* The next status has fresh bytes to send. */
		sync_backlog_refresh();
	}
	else if (cmd == CTL_NUDGE) {
		sync_heads_refresh();
		reply(cl, json_pack("{s:b}", "ok", 1));
	} else if (cmd == CTL_RELOAD) {
		peers_reload();
		reply(cl, json_pack("{s:b}", "ok", 1));
	} else {
		t = json_object_get(req, "timeout");
		cl->deadline_ms = now_ms() + 1000 * (uint64_t)(json_is_integer(t)
		    && json_integer_value(t) > 0 ? json_integer_value(t) : 30);
		for (p = D.peers; p != NULL; p = p->next)
			if (p->conn == NULL)
				peer_dial_soon(p, 1);
		sync_heads_refresh();
		cl->waiting = 1;
	}
	json_decref(req);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct ctl_client *cl = h->data;

	(void)hint;
	*buf = uv_buf_init(cl->buf + cl->len,
	    (unsigned)(sizeof(cl->buf) - cl->len - 1));
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_client *cl = s->data;
	char *nl;

	(void)buf;
	if (nread < 0) {
		client_close(cl);
		return;
	}
	cl->len += (size_t)nread;
	cl->buf[cl->len] = '\0';
	if ((nl = strchr(cl->buf, '\n')) == NULL) {
		if (cl->len >= sizeof(cl->buf) - 1)
			client_close(cl);
		return;
	}
	*nl = '\0';
	uv_read_stop(s);
	handle(cl, cl->buf);
}

/* Accepts a client of our own user. */
static void
on_connection(uv_stream_t *server, int status)
{
	struct ctl_client *cl;
	struct ucred cr;
	socklen_t len = sizeof(cr);
	uv_os_fd_t fd;

	if (status != 0)
		return;
	cl = xcalloc(1, sizeof(*cl));
	cl->opened_ms = now_ms();
	uv_pipe_init(D.loop, &cl->pipe, 0);
	cl->pipe.data = cl;
	cl->next = C.clients;
	C.clients = cl;
	if (uv_accept(server, (uv_stream_t *)&cl->pipe) != 0) {
		client_close(cl);
		return;
	}
	if (uv_fileno((uv_handle_t *)&cl->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0 ||
	    (cr.uid != getuid() && cr.uid != 0)) {
		log_warnx("control: refused a client of another user");
		client_close(cl);
		return;
	}
	uv_read_start((uv_stream_t *)&cl->pipe, on_alloc, on_read);
}

/* Creates the socket; fails when another daemon serves this directory. */
/*
 * What a daemon of another user makes or opens here would lock the owner
 * out (or follow what the owner planted): refused before the store is
 * opened.  Returns 0 or -1 with *cause.
 */
int
control_owner_check(char **cause)
{
	char *who, *name;
	uid_t owner;

	if (store_owner_check(D.data, &owner, &who) != 0) {
		name = store_user_name(owner);
		*cause = xasprintf("%s: run cafed as %s (sudo -u %s cafed "
		    "--data %s ..., or systemctl start cafed for the service's "
		    "directory)", who, name, name, D.data);
		free(name);
		free(who);
		return -1;
	}
	return 0;
}

int
control_start(char **cause)
{
	char *dir = xasprintf("%s/" CTL_DIR, D.data), *lock, *who, *name;
	struct stat st;
	uid_t owner;
	int rc;

	if (control_owner_check(cause) != 0) {
		free(dir);
		return -1;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		*cause = xasprintf("%s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	if (store_owner_check(dir, &owner, &who) != 0) {
		name = store_user_name(owner);
		*cause = xasprintf("%s: a cafed run as %s left it; stop that "
		    "cafed, then as root: rm -r %s", who, name, dir);
		free(name);
		free(who);
		free(dir);
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) ||
	    (st.st_mode & 077) != 0) {
		*cause = xasprintf("%s: must be a directory with mode 0700 "
		    "(chmod 700 it)", dir);
		free(dir);
		return -1;
	}
	lock = xasprintf("%s/" CTL_LOCK, dir);
	C.lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lock);
	if (C.lockfd < 0 || flock(C.lockfd, LOCK_EX | LOCK_NB) != 0) {
		*cause = xasprintf("another cafed already serves %s",
		    D.data);
		free(dir);
		return -1;
	}
	C.path = xasprintf("%s/" CTL_SOCK, dir);
	free(dir);
	/* We hold the lock: a socket here was left by a daemon that died. */
	unlink(C.path);
	uv_pipe_init(D.loop, &C.server, 0);
	if ((rc = uv_pipe_bind(&C.server, C.path)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&C.server, 16,
	    on_connection)) != 0) {
		*cause = xasprintf("%s: %s", C.path, uv_strerror(rc));
		uv_close((uv_handle_t *)&C.server, NULL);
		return -1;
	}
	chmod(C.path, 0600);
	C.open = 1;
	return 0;
}

/* Removes the socket and closes every client. */
void
control_stop(void)
{
	struct ctl_client *cl;

	for (cl = C.clients; cl != NULL; cl = cl->next)
		if (cl->waiting)
			reply(cl, sync_answer(0));
		else
			client_close(cl);
	if (C.open) {
		uv_close((uv_handle_t *)&C.server, NULL);
		unlink(C.path);
		C.open = 0;
	}
	free(C.path);
	C.path = NULL;
	if (C.lockfd >= 0)
		close(C.lockfd);
	C.lockfd = -1;
}
