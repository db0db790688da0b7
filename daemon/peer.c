/*
 * peer.c: the peers this node syncs with, from the configuration file and
 * from the store (`cafe peer add`), the listener for inbound connections,
 * and dialing outbound peers: forever, with exponential backoff and
 * jitter, so a site whose link comes and goes catches up each time it
 * comes back.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon.h"

static const char *const state_names[] = { "offline", "connecting",
	"syncing", "idle", "error" };

/* Finds a peer by key. */
struct peer *
peer_find_key(const uint8_t key[PROTO_KEY_LEN])
{
	struct peer *p;

	for (p = D.peers; p != NULL; p = p->next)
		if (memcmp(p->key, key, PROTO_KEY_LEN) == 0)
			return p;
	return NULL;
}

static struct peer *
peer_find_name(const char *name)
{
	struct peer *p;

	for (p = D.peers; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	return NULL;
}

/* Returns a state's name. */
const char *
peer_state_name(enum peer_state st)
{
	return state_names[st];
}

static void lastseen_note(const uint8_t key[PROTO_KEY_LEN], uint64_t ms);

/* Moves a peer to a state, logging the change. */
void
peer_set_state(struct peer *p, enum peer_state st, const char *error)
{
	if (error != NULL)
		snprintf(p->error, sizeof(p->error), "%s", error);
	else if (st == PEER_SYNCING || st == PEER_IDLE)
		p->error[0] = '\0';
	if (p->state == st)
		return;
	if (st == PEER_ERROR && p->error[0] != '\0')
		log_info("peer %s: %s -> error (%s)", p->name,
		    state_names[p->state], p->error);
	else
		log_info("peer %s: %s -> %s", p->name, state_names[p->state],
		    state_names[st]);
	p->state = st;
	if (st == PEER_IDLE) {
		/* Caught up: what could not be stored before has been. */
		if (!D.store_full)
			p->store_fails = 0;
		p->last_sync_ms = store_now_ms();
		/* Kept in the store, so it outlives this process. */
		lastseen_note(p->key, p->last_sync_ms);
	}
	control_check_waiters();
}

/*
 * When each peer last completed a sync is written on the store thread,
 * never on the loop (a write transaction there would wait for the store
 * thread's and hold every connection meanwhile): the syncs that complete
 * while one write runs are gathered and written in the next, in one
 * transaction, so a thousand sites caught up at once cost a few writes.
 */
static struct {
	struct store_seen *q;        /* gathered, not yet written */
	size_t n, cap;
	int writing;
} LS;

struct lastseen_job {
	struct job j;
	struct store_seen *seen;
	size_t n;
};

static void lastseen_flush(void);

static void
lastseen_run(struct job *j)
{
	struct lastseen_job *lj = (struct lastseen_job *)j;
	char *cause = NULL;

	if (store_lastseen_put_many(worker_store(), lj->seen, lj->n,
	    &cause) != 0)
		log_warnx("last sync times not kept: %s", cause ? cause :
		    "store error");
	free(cause);
}

static void
lastseen_done(struct job *j)
{
	struct lastseen_job *lj = (struct lastseen_job *)j;
	size_t i;

	LS.writing = 0;
	/* Dropped unrun at a stop: peers_free() writes them. */
	for (i = 0; !j->ran && i < lj->n; i++)
		lastseen_note(lj->seen[i].key, lj->seen[i].ms);
	free(lj->seen);
	free(lj);
	lastseen_flush();
}

static void
lastseen_flush(void)
{
	struct lastseen_job *lj;

	if (LS.writing || LS.n == 0 || D.stopping)
		return;
	lj = xcalloc(1, sizeof(*lj));
	lj->seen = LS.q;
	lj->n = LS.n;
	LS.q = NULL;
	LS.n = LS.cap = 0;
	lj->j.run = lastseen_run;
	lj->j.done = lastseen_done;
	LS.writing = 1;
	worker_submit(&lj->j);
}

static void
lastseen_note(const uint8_t key[PROTO_KEY_LEN], uint64_t ms)
{
	size_t i;

	for (i = 0; i < LS.n; i++)
		if (memcmp(LS.q[i].key, key, PROTO_KEY_LEN) == 0) {
			/* The later time wins (one put back at a stop may be
			 * older than one gathered since). */
			if (ms > LS.q[i].ms)
				LS.q[i].ms = ms;
			return;
		}
	if (LS.n == LS.cap) {
		LS.cap = LS.cap ? LS.cap * 2 : 16;
		LS.q = xreallocarray(LS.q, LS.cap, sizeof(*LS.q));
	}
	memcpy(LS.q[LS.n].key, key, PROTO_KEY_LEN);
	LS.q[LS.n++].ms = ms;
	lastseen_flush();
}

/* ---- dialing ---------------------------------------------------------- */

struct dial {
	uv_getaddrinfo_t gai;
	uv_connect_t req;
	struct peer *p;
	struct conn *c;
};

static void
on_connect(uv_connect_t *req, int status)
{
	struct dial *dl = req->data;
	struct conn *c = dl->c;
	const uint8_t *m1;
	size_t len;
	uv_buf_t b;

	free(dl);
	if (c->closing)
		return;
	if (status != 0) {
		conn_close(c, uv_strerror(status));
		return;
	}
	conn_start_read(c);
	if (c->closing)
		return;
	m1 = wire_start(&c->w, &len);
	b = uv_buf_init((char *)(uintptr_t)m1, (unsigned)len);
	/* M1 is 41 bytes: a new TCP socket takes it whole or fails. */
	if (uv_try_write((uv_stream_t *)&c->tcp, &b, 1) != (int)len)
		conn_close(c, "cannot write the handshake");
}

static void
on_resolved(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
	struct dial *dl = gai->data;
	struct peer *p = dl->p;
	struct conn *c;
	int rc;

	if (status != 0 || res == NULL || D.stopping || p == NULL ||
	    p->conn != NULL) {
		if (p != NULL && !D.stopping && p->conn == NULL) {
			peer_set_state(p, PEER_ERROR, status != 0 ?
			    uv_strerror(status) : "no address");
			peer_dial_soon(p, 0);
		}
		if (p != NULL)
			p->resolving = NULL;
		uv_freeaddrinfo(res);
		free(dl);
		return;
	}
	p->resolving = NULL;
	c = conn_new(1, p);
	p->conn = c;
	dl->c = c;
	dl->req.data = dl;
	rc = uv_tcp_connect(&dl->req, &c->tcp, res->ai_addr, on_connect);
	uv_freeaddrinfo(res);
	if (rc != 0) {
		free(dl);
		conn_close(c, uv_strerror(rc));
	}
}

/* Dials an outbound peer now. */
static void
dial(struct peer *p)
{
	struct dial *dl;
	char host[256], port[8];
	struct addrinfo hints;

	if (p->conn != NULL || p->addr[0] == '\0' || D.stopping ||
	    p->resolving != NULL)
		return;
	if (proto_split_addr(p->addr, host, sizeof(host), port,
	    sizeof(port)) != 0) {
		peer_set_state(p, PEER_ERROR, "bad address");
		return;
	}
	dl = xcalloc(1, sizeof(*dl));
	dl->p = p;
	dl->gai.data = dl;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	peer_set_state(p, PEER_CONNECTING, NULL);
	p->resolving = dl;
	if (uv_getaddrinfo(D.loop, &dl->gai, on_resolved, host, port,
	    &hints) != 0) {
		p->resolving = NULL;
		free(dl);
		peer_set_state(p, PEER_ERROR, "cannot resolve");
		peer_dial_soon(p, 0);
	}
}

static void
on_retry(uv_timer_t *t)
{
	dial(t->data);
}

/*
 * Schedules a dial: at once with now, else after a delay that doubles
 * with each failure, from backoff_min up to backoff_max, times a random
 * factor in [0.5, 1) so that many sites do not all call back together.
 * The first PEER_FAST_TRIES failures in a row (after a connection was
 * up, or at start) wait backoff_min each before the doubling starts: a
 * rural or mobile link drops for a second or two, and every second the
 * link is back but not used is lost to the backlog.
 */
#define PEER_FAST_TRIES 4

void
peer_dial_soon(struct peer *p, int now)
{
	uint64_t delay;
	unsigned shift, want;

	if (p->addr[0] == '\0' || D.stopping)
		return;
	if (p->retry == NULL) {
		p->retry = xcalloc(1, sizeof(*p->retry));
		uv_timer_init(D.loop, p->retry);
		p->retry->data = p;
	}
	if (now) {
		p->attempts = 0;
		uv_timer_stop(p->retry);
		dial(p);
		return;
	}
	/* A batch that could not be stored backs off as a failed dial
	 * does, though the dial itself works; on a full disk it starts a
	 * few doublings in: space comes back by someone's hand, not in a
	 * second, and the once-a-second look at the free space
	 * (sync_room_check) dials at once when it does. */
	shift = p->attempts < PEER_FAST_TRIES ? 0 :
	    p->attempts - PEER_FAST_TRIES + 1;
	want = p->store_fails + (D.store_full && p->store_fails > 0 ? 2 : 0);
	if (shift < want)
		shift = want;
	if (shift > 20)
		shift = 20;
	delay = (uint64_t)D.cfg.backoff_min << shift;
	if (delay > D.cfg.backoff_max)
		delay = D.cfg.backoff_max;
	delay = delay / 2 + randombytes_uniform((uint32_t)(delay / 2 + 1));
	p->attempts++;
	uv_timer_start(p->retry, on_retry, delay, 0);
	log_debug("peer %s: next attempt in %llu ms", p->name,
	    (unsigned long long)delay);
}

/* ---- the peer list ---------------------------------------------------- */

/*
 * Adds a peer for an enrolled member that connected without being
 * configured (a site that joined, say): inbound only, named by its key,
 * kept across reloads.
 */
struct peer *
peer_add_member(const uint8_t key[PROTO_KEY_LEN])
{
	struct peer *p = xcalloc(1, sizeof(*p)), **pp;
	char k[17];

	log_key(key, k);
	k[8] = '\0';
	snprintf(p->name, sizeof(p->name), "%.40s-%s", trust_name(key), k);
	memcpy(p->key, key, PROTO_KEY_LEN);
	p->member = 1;
	p->state = PEER_OFFLINE;
	for (pp = &D.peers; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = p;
	log_info("peer %s: an enrolled member, added", p->name);
	return p;
}

static void
free_timer(uv_handle_t *h)
{
	free(h);
}

/* Drops a peer: its connection closes, its timer stops. */
static void
peer_drop(struct peer *p)
{
	struct conn *c;

	if (p->resolving != NULL)
		p->resolving->p = NULL;   /* the lookup ends on its own */
	/* Closing connections still have jobs that may look at their peer. */
	for (c = D.conns; c != NULL; c = c->next)
		if (c->peer == p && c != p->conn)
			c->peer = NULL;
	if ((c = p->conn) != NULL) {
		p->conn = NULL;
		c->peer = NULL;
		conn_close(c, "peer removed from the configuration");
	}
	if (p->retry != NULL) {
		uv_close((uv_handle_t *)p->retry, free_timer);
		p->retry = NULL;
	}
	free(p);
}

struct load {
	struct cfg_peer *list;
	size_t n;
	int from_store;
	int *from;
};

static int
load_store_peer(const struct store_peer *sp, void *arg)
{
	struct load *l = arg;
	struct cfg_peer *cp;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->list[i].name, sp->name) == 0)
			break;
	if (i == l->n) {
		l->list = xreallocarray(l->list, l->n + 1, sizeof(*l->list));
		l->from = xreallocarray(l->from, l->n + 1, sizeof(*l->from));
		l->n++;
	} else
		log_warnx("peer %s: the store's entry replaces the "
		    "configuration file's", sp->name);
	cp = &l->list[i];
	memset(cp, 0, sizeof(*cp));
	snprintf(cp->name, sizeof(cp->name), "%s", sp->name);
	snprintf(cp->addr, sizeof(cp->addr), "%s", sp->addr);
	memcpy(cp->key, sp->key, PROTO_KEY_LEN);
	l->from[i] = 1;
	return 0;
}

/* Reads the peers of the store (on the store thread). */
struct peers_job {
	struct job j;
	struct load l;
};

static void
peers_run(struct job *j)
{
	struct peers_job *pj = (struct peers_job *)j;

	store_peers(worker_store(), load_store_peer, &pj->l);
}

/*
 * Replaces the peer list with the configuration's peers and the store's:
 * unchanged peers keep their connection; removed or changed ones lose it;
 * new ones are dialed.
 */
static void
peers_apply(struct load *l)
{
	struct peer *p, **pp;
	size_t i;

	/* Members that connected on their own stay. */
	for (p = D.peers; p != NULL; p = p->next)
		p->mark = p->member;
	for (i = 0; i < l->n; i++) {
		const struct cfg_peer *cp = &l->list[i];

		if (memcmp(cp->key, D.info.node, PROTO_KEY_LEN) == 0) {
			log_warnx("peer %s: has this node's own key; ignored",
			    cp->name);
			continue;
		}
		p = peer_find_name(cp->name);
		if (p != NULL && (memcmp(p->key, cp->key,
		    PROTO_KEY_LEN) != 0 || strcmp(p->addr, cp->addr) != 0)) {
			p->mark = 0;   /* changed: drop and add anew */
			p = NULL;
		}
		if (p == NULL && peer_find_key(cp->key) != NULL &&
		    peer_find_key(cp->key)->mark) {
			log_warnx("peer %s: same key as peer %s; ignored",
			    cp->name, peer_find_key(cp->key)->name);
			continue;
		}
		if (p != NULL) {
			p->mark = 1;
			p->from_store = l->from[i];
			continue;
		}
		p = xcalloc(1, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", cp->name);
		snprintf(p->addr, sizeof(p->addr), "%s", cp->addr);
		memcpy(p->key, cp->key, PROTO_KEY_LEN);
		p->from_store = l->from[i];
		p->mark = 1;
		p->state = PEER_OFFLINE;
		/* Keep names unique: a changed peer's old entry goes. */
		for (pp = &D.peers; *pp != NULL; pp = &(*pp)->next)
			;
		*pp = p;
		log_info("peer %s: added (%s)", p->name,
		    p->addr[0] ? p->addr : "inbound only");
	}
	/* Names are unique among kept peers; unmarked ones go. */
	pp = &D.peers;
	while ((p = *pp) != NULL) {
		if (p->mark) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		log_info("peer %s: removed", p->name);
		peer_drop(p);
	}
	for (p = D.peers; p != NULL; p = p->next)
		if (p->addr[0] != '\0' && p->conn == NULL &&
		    (p->retry == NULL || !uv_is_active(
		    (uv_handle_t *)p->retry)))
			dial(p);
	control_check_waiters();
}

static void
peers_done(struct job *j)
{
	struct peers_job *pj = (struct peers_job *)j;

	if (j->ran && !D.stopping)
		peers_apply(&pj->l);
	free(pj->l.list);
	free(pj->l.from);
	free(pj);
}

/* Starts (re)loading the peers: the configuration's now, the store's on
 * the store thread. */
static void
peers_start_load(void)
{
	struct peers_job *pj = xcalloc(1, sizeof(*pj));
	size_t i;

	pj->l.n = D.cfg.npeers;
	pj->l.list = xreallocarray(NULL, pj->l.n + 1, sizeof(*pj->l.list));
	pj->l.from = xcalloc(pj->l.n + 1, sizeof(*pj->l.from));
	for (i = 0; i < D.cfg.npeers; i++)
		pj->l.list[i] = D.cfg.peers[i];
	pj->j.run = peers_run;
	pj->j.done = peers_done;
	worker_submit(&pj->j);
}

/* Loads the peers at start. */
int
peers_load(char **cause)
{
	(void)cause;
	peers_start_load();
	return 0;
}

/* Reloads the configuration file (SIGHUP) and the store's peers. */
void
peers_reload(void)
{
	struct cfg nc;
	char *cause = NULL;

	if (D.config_path != NULL) {
		cfg_defaults(&nc);
		if (cfg_load(&nc, D.config_path, &cause) != 0) {
			log_warnx("reload: %s; keeping the old configuration",
			    cause);
			free(cause);
			cfg_free(&nc);
			return;
		}
		/* Peers and limits change now; the listen address needs a
		 * restart. */
		if (strcmp(nc.listen, D.cfg.listen) != 0)
			log_warnx("reload: listen changed; restart cafed to "
			    "use it");
		snprintf(nc.listen, sizeof(nc.listen), "%s", D.cfg.listen);
		cfg_free(&D.cfg);
		D.cfg = nc;
		log_level = D.cfg.log_level;
	}
	log_info("reloading peers");
	peers_start_load();
}

/* Frees every peer (at exit, the store thread stopped): what was still
 * gathered of the last sync times is written here. */
void
peers_free(void)
{
	struct peer *p, *next;

	if (store_lastseen_put_many(D.store, LS.q, LS.n, NULL) != 0)
		log_warnx("last sync times of %zu peers not kept", LS.n);
	free(LS.q);
	LS.q = NULL;
	LS.n = LS.cap = 0;

	for (p = D.peers; p != NULL; p = next) {
		next = p->next;
		peer_drop(p);
	}
	D.peers = NULL;
}

/* ---- listening -------------------------------------------------------- */

/*
 * Unfinished inbound connections.  Each source host may hold at most
 * HOST_SHARE of max_handshakes (in eighths); at the bound, or over its
 * share, a silent connection (no M1 yet) goes to make room: the host's
 * own oldest when it is over its share, else the oldest of the host that
 * holds the most; one of another address only once SILENT_GRACE_MS
 * old.  A connection that sent a well-formed M1 is never cut
 * for a newcomer: when only those are left, the newcomer is refused if
 * its address is over its share, and otherwise waits in the listen
 * backlog: accepting pauses until a handshake ends (listener_kick()).
 * A thousand sites reconnecting at once then each wait a few
 * milliseconds for a slot, where a refusal would cost each its backoff
 * (half a second, doubling) and the hub a handshake redone.  A
 * stranger's connections cost a slot for a few seconds at most
 * (conn_keepalive()), a small read buffer and no log line: flood_note()
 * counts them and flood_summary() says so once per FLOOD_LOG_MS.
 */
/* More than one process's flood of sockets: a site's SYN is not dropped
 * behind a full accept queue (the kernel caps it at somaxconn). */
#define LISTEN_BACKLOG 4096
#define HOST_SHARE 2             /* eighths of max_handshakes */
/* How long a new connection may stay silent before another address's
 * newcomer may cut it: on a burst of sites, a site's M1 follows its
 * connect by a round trip, and it is not to be taken for silent. */
#define SILENT_GRACE_MS 500
#define FLOOD_LOG_MS 10000

/* The number of unfinished inbound connections of host. */
static unsigned
host_handshakes(const char *host)
{
	struct conn *c;
	unsigned n = 0;

	for (c = D.conns; c != NULL; c = c->next)
		if (!c->open && !c->closing && !c->outbound &&
		    strcmp(c->host, host) == 0)
			n++;
	return n;
}

/*
 * Whether c's socket holds an M1 not read yet (its magic, peeked): a
 * connection accepted in the same burst as a flood has had no read yet,
 * and is not to be taken for silent.
 */
static int
m1_pending(struct conn *c)
{
	uv_os_fd_t fd;
	char magic[8];

	if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0)
		return 0;
	return recv(fd, magic, sizeof(magic), MSG_PEEK | MSG_DONTWAIT) ==
	    (ssize_t)sizeof(magic) && memcmp(magic, "cafesync",
	    sizeof(magic)) == 0;
}

/* silent_victim() without the peek. */
static struct conn *
silent_pick(const char *host)
{
	struct conn *c, *old = NULL;
	unsigned most = 0, n;
	uint64_t now = now_ms();

	for (c = D.conns; c != NULL; c = c->next) {
		if (c->open || c->closing || c->outbound || c->progressed)
			continue;
		if (host != NULL && strcmp(c->host, host) != 0)
			continue;
		if (host == NULL && now - c->opened_ms < SILENT_GRACE_MS)
			continue;
		n = host != NULL ? 1 : host_handshakes(c->host);
		if (old == NULL || n > most || (n == most &&
		    c->opened_ms <= old->opened_ms)) {
			old = c;
			most = n;
		}
	}
	return old;
}

/*
 * The oldest silent unfinished inbound connection of host, or (host NULL)
 * of the host holding the most unfinished connections; NULL when none.
 */
static struct conn *
silent_victim(const char *host)
{
	struct conn *old;

	while ((old = silent_pick(host)) != NULL && m1_pending(old))
		old->progressed = 1;
	return old;
}

/* Counts one unfinished inbound connection cut, from host, for why. */
void
flood_note(const char *host, const char *why)
{
	if (D.flood_n++ == 0)
		D.flood_since_ms = now_ms();
	snprintf(D.flood_host, sizeof(D.flood_host), "%s", host);
	snprintf(D.flood_why, sizeof(D.flood_why), "%s", why);
	flood_summary(now_ms());
}

/* Once per FLOOD_LOG_MS at most: one line for what flood_note() counted. */
void
flood_summary(uint64_t now)
{
	/* The first after a quiet spell is said at once, the rest of a
	 * burst in one line later. */
	if (D.flood_n == 0 || now - D.flood_logged_ms < FLOOD_LOG_MS)
		return;
	if (D.flood_n == 1)
		log_info("connection from %s: cut off: %s", D.flood_host,
		    D.flood_why);
	else
		log_warnx("cut %llu unfinished handshakes in the last %llu s "
		    "(the latest from %s: %s)", (unsigned long long)D.flood_n,
		    (unsigned long long)((now - D.flood_since_ms + 999) /
		    1000), D.flood_host, D.flood_why);
	D.flood_n = 0;
	D.flood_logged_ms = now;
}

/*
 * Makes room for a connection from host; returns 0, or -1 when it is to
 * be refused.
 */
static int
handshake_room(const char *host)
{
	unsigned share = D.cfg.max_handshakes * HOST_SHARE / 8;
	struct conn *v;

	if (share < 2)
		share = 2;
	if (host_handshakes(host) >= share) {
		if ((v = silent_victim(host)) == NULL)
			return -1;
		conn_close(v, "over its address's share of handshakes");
	}
	/* The newcomer is counted in D.handshakes already. */
	if (D.handshakes > D.cfg.max_handshakes) {
		if ((v = silent_victim(NULL)) == NULL)
			return -1;
		conn_close(v, "too many handshakes at once");
	}
	return 0;
}

static void accept_one(uv_stream_t *server);

/*
 * Whether a newcomer would find no room: every handshake slot is held by
 * a connection that sent an M1 (none silent to cut).
 */
static int
handshakes_full(void)
{
	return D.handshakes >= D.cfg.max_handshakes &&
	    silent_victim(NULL) == NULL;
}

/*
 * Connections closed but not yet freed (their handles close at the end of
 * the loop's turn): while a flood makes them pile up, accepting waits for
 * the next turn, so memory stays bounded however fast strangers connect.
 */
static int
accept_backlogged(void)
{
	return D.conns_closing >= D.cfg.max_handshakes;
}

static void
on_accept_idle(uv_idle_t *h)
{
	if (accept_backlogged())
		return;
	uv_idle_stop(h);
	if (handshakes_full()) {
		D.accept_waiting = 1;
		return;
	}
	accept_one((uv_stream_t *)&D.listener);
}

/* Called when a handshake ends, and once a second (a silent connection
 * may have outlived its grace since). */
void
listener_kick(void)
{
	if (!D.accept_waiting || D.stopping || handshakes_full())
		return;
	D.accept_waiting = 0;
	if (!uv_is_active((uv_handle_t *)&D.accept_idle))
		uv_idle_start(&D.accept_idle, on_accept_idle);
}

static void
on_connection(uv_stream_t *server, int status)
{
	if (status != 0) {
		log_warnx("accept: %s", uv_strerror(status));
		return;
	}
	if (accept_backlogged() || D.accept_waiting || handshakes_full()) {
		/* libuv stops watching the listener until uv_accept(). */
		if (!D.accept_waiting &&
		    !uv_is_active((uv_handle_t *)&D.accept_idle))
			uv_idle_start(&D.accept_idle, on_accept_idle);
		return;
	}
	accept_one(server);
}

static void
accept_one(uv_stream_t *server)
{
	struct conn *c;
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	char ip[64];

	c = conn_new(0, NULL);
	snprintf(c->host, sizeof(c->host), "?");
	if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c, "accept failed");
		return;
	}
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, ip,
			    sizeof(ip));
			snprintf(c->addr, sizeof(c->addr), "[%s]:%u", ip,
			    ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
		} else {
			uv_ip4_name((struct sockaddr_in *)&ss, ip,
			    sizeof(ip));
			snprintf(c->addr, sizeof(c->addr), "%s:%u", ip,
			    ntohs(((struct sockaddr_in *)&ss)->sin_port));
		}
		snprintf(c->host, sizeof(c->host), "%s", ip);
	}
	log_debug("connection from %s", c->addr);
	/* c counts already: room is made as if it were not there yet. */
	c->closing = 1;
	if (handshake_room(c->host) != 0) {
		c->closing = 0;
		conn_close(c, "no room for another handshake");
		return;
	}
	c->closing = 0;
	conn_start_read(c);
}

/* Listens on the configured address. */
int
listener_start(char **cause)
{
	char host[256], port[8];
	struct sockaddr_storage ss;
	int rc;

	if (D.cfg.listen[0] == '\0')
		return 0;
	if (proto_split_addr(D.cfg.listen, host, sizeof(host), port,
	    sizeof(port)) != 0) {
		*cause = xasprintf("listen: '%s' is not host:port",
		    D.cfg.listen);
		return -1;
	}
	if (uv_ip4_addr(host, atoi(port), (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, atoi(port), (struct sockaddr_in6 *)&ss) != 0) {
		*cause = xasprintf("listen: '%s' is not an IP address",
		    host);
		return -1;
	}
	uv_tcp_init(D.loop, &D.listener);
	uv_idle_init(D.loop, &D.accept_idle);
	if ((rc = uv_tcp_bind(&D.listener, (struct sockaddr *)&ss, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&D.listener, LISTEN_BACKLOG,
	    on_connection)) != 0) {
		*cause = xasprintf("listen on %s: %s", D.cfg.listen,
		    uv_strerror(rc));
		uv_close((uv_handle_t *)&D.listener, NULL);
		return -1;
	}
	D.listening = 1;
	log_info("listening on %s", D.cfg.listen);
	return 0;
}
