/*
 * conn.c: one TCP connection to a peer.  Bytes read go through the wire
 * state machine (proto/wire.c): the handshake first, then one decrypted
 * message at a time to sync.c.  Reading can pause in the middle of a
 * buffer (while the store applies a batch) and resume where it stopped.
 *
 * A connection is freed only when its handle is closed and no store job
 * refers to it any more (refs), so a job that finishes after the peer
 * went away finds a closing connection, never freed memory.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"

#define READ_BUF (64 * 1024)
/* Before the handshake is done, reads take at most this (M3 fits). */
#define PREAUTH_BUF 256
/* A connection that has sent no M1 goes after this many seconds at most. */
#define SILENT_TIMEOUT 3

/* A write in flight: the request and the bytes it writes. */
struct wreq {
	uv_write_t req;
	size_t len;
	uint8_t data[];
};

/* Frees a connection whose handle closed and whose jobs all ended. */
void
conn_unref(struct conn *c)
{
	struct conn **pp;

	if (--c->refs > 0)
		return;
	if (c->closing)
		D.conns_closing--;
	for (pp = &D.conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	sync_conn_free(c);
	wire_free(&c->w);
	free(c->rbuf);
	free(c);
}

static void
on_close(uv_handle_t *h)
{
	conn_unref(h->data);
}

/*
 * Closes the connection (once) and says why in the log.  The peer it
 * served goes back to offline (inbound) or to a reconnect (outbound).
 */
void
conn_close(struct conn *c, const char *why)
{
	struct peer *p = c->peer;
	char k[17];

	if (c->closing)
		return;
	c->closing = 1;
	D.conns_closing++;
	if (!c->open || c->joining) {
		D.handshakes--;
		listener_kick();
	}
	if (!c->outbound && !c->open) {
		/* An unfinished inbound handshake: counted, not logged, so a
		 * flood of them costs one line (flood_summary()). */
		log_debug("connection from %s: cut off: %s", c->addr, why);
		flood_note(c->host, why);
	} else if (p != NULL)
		log_info("peer %s (%s): disconnected: %s", p->name, c->addr,
		    why);
	else if (c->open)
		log_info("%s (%s): disconnected: %s",
		    log_key(c->w.peer, k), c->addr, why);
	else
		log_info("connection from %s: cut off: %s", c->addr, why);
	if (p != NULL && p->conn == c) {
		p->conn = NULL;
		if (p->addr[0] != '\0' && !D.stopping) {
			peer_set_state(p, PEER_ERROR, why);
			peer_dial_soon(p, 0);
		} else
			peer_set_state(p, p->addr[0] != '\0' ? PEER_ERROR :
			    PEER_OFFLINE, why);
	}
	uv_close((uv_handle_t *)&c->tcp, on_close);
	control_check_waiters();
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct conn *c = req->data;

	conn_close(c, c->finish_why);
	conn_unref(c);
	free(req);
}

/*
 * Closes the connection once what is queued is written (an answer that
 * ends it): the write side is shut down after the queue, then closed.
 */
void
conn_finish(struct conn *c, const char *why)
{
	uv_shutdown_t *req;

	if (c->closing || c->finishing)
		return;
	c->finishing = 1;
	c->finish_why = why;
	req = xmalloc(sizeof(*req));
	req->data = c;
	c->refs++;
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
		free(req);
		c->refs--;
		conn_close(c, why);
	}
}

static void
on_write(uv_write_t *req, int status)
{
	struct wreq *wr = (struct wreq *)req;
	struct conn *c = req->handle->data;

	if (status != 0 && status != UV_ECANCELED && !c->closing)
		conn_close(c, uv_strerror(status));
	free(wr);
}

/* Queues wr (len bytes filled in) for writing and counts it. */
static int
queue_write(struct conn *c, struct wreq *wr, size_t len)
{
	uv_buf_t b;
	int rc;

	wr->len = len;
	c->tx_bytes += len;
	if (c->open && c->peer != NULL)
		c->peer->bytes_out += len;
	b = uv_buf_init((char *)wr->data, (unsigned)len);
	if ((rc = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1,
	    on_write)) != 0) {
		free(wr);
		conn_close(c, uv_strerror(rc));
		return -1;
	}
	return 0;
}

/* Writes bytes as they are (the handshake). */
static int
write_raw(struct conn *c, const uint8_t *data, size_t len)
{
	struct wreq *wr = xmalloc(sizeof(*wr) + len);

	memcpy(wr->data, data, len);
	return queue_write(c, wr, len);
}

/* Seals a message and writes it. */
int
conn_send(struct conn *c, const struct proto_enc *msg)
{
	size_t len = wire_sealed_len(msg->sb.size);
	struct wreq *wr;

	if (c->closing)
		return -1;
	wr = xmalloc(sizeof(*wr) + len);
	if (wire_seal(&c->w, (const uint8_t *)msg->sb.data, msg->sb.size,
	    wr->data) != 0) {
		free(wr);
		conn_close(c, "a message over the frame limit");
		return -1;
	}
	return queue_write(c, wr, len);
}

/*
 * The handshake is done: find the peer, keep one connection per peer,
 * and start syncing.
 */
static int
on_open(struct conn *c)
{
	struct peer *p = c->outbound ? c->peer : peer_find_key(c->w.peer);
	const uint8_t *pref;
	int c_is_pref;
	char k[17];

	if (!c->outbound && strcmp(c->w.peer_role, WIRE_ROLE_JOIN) == 0) {
		/*
		 * Only a JOIN may follow (sync.c); no peer, no sync.  Until it
		 * is answered the connection counts as a handshake (so
		 * max_handshakes bounds joins too), and its frames are small.
		 */
		c->open = 1;
		c->joining = 1;
		wire_set_max_frame(&c->w, 512);
		c->last_rx_ms = now_ms();
		log_info("connection from %s: %s wants to join", c->addr,
		    log_key(c->w.peer, k));
		return 0;
	}

	if (p == NULL && !c->outbound && trust_key_state(c->w.peer) > 0)
		p = peer_add_member(c->w.peer);
	if (p == NULL) {
		conn_close(c, "no longer a configured peer");
		return -1;
	}
	/*
	 * Both nodes may dial each other at once.  Of two connections
	 * between the same pair, both ends keep the one dialed by the node
	 * with the smaller key, so they agree without a word.
	 */
	pref = memcmp(D.info.node, p->key, PROTO_KEY_LEN) < 0 ? D.info.node :
	    p->key;
	c_is_pref = (c->outbound ? D.info.node : p->key) == pref;
	if (p->conn != NULL && p->conn != c && !p->conn->closing) {
		/*
		 * Two connections in the same direction are not a race of
		 * dials: the old one is dead and not yet noticed, or the key
		 * runs on two machines.  The newer one wins either way, and
		 * its HEADS exchange shows a fork if there is one.
		 */
		int same_dir = p->conn->outbound == c->outbound;

		if (!same_dir && !c_is_pref) {
			c->peer = NULL;
			conn_close(c, "a connection to this peer exists");
			return -1;
		}
		conn_close(p->conn, same_dir ? "replaced by a newer "
		    "connection of the same key" : "replaced by a connection "
		    "both ends prefer");
	}
	c->peer = p;
	p->conn = c;
	c->open = 1;
	p->bytes_in += c->rx_bytes;
	p->bytes_out += c->tx_bytes;
	D.handshakes--;
	listener_kick();
	c->last_rx_ms = now_ms();
	p->attempts = 0;
	if (p->retry != NULL)
		uv_timer_stop(p->retry);
	trust_set_reader(c);
	log_info("peer %s (%s): connected (%s, %s)", p->name, c->addr,
	    c->outbound ? "outbound" : "inbound", c->w.peer_role);
	peer_set_state(p, PEER_SYNCING, NULL);
	sync_open(c);
	return 0;
}

/*
 * Feeds the buffered bytes to the wire machine and handles its events,
 * until the bytes run out or reading pauses.
 */
static void
process(struct conn *c)
{
	struct wire_event ev;
	const char *cause;
	size_t used;

	while (!c->closing && !c->paused) {
		if (wire_feed(&c->w, c->rbuf + c->roff, c->rlen - c->roff,
		    &used, &ev, &cause) != 0) {
			conn_close(c, cause);
			return;
		}
		c->roff += used;
		switch (ev.type) {
		case WIRE_EV_NONE:
			return;
		case WIRE_EV_SEND:
			/* An accepting side answers only a well-formed M1. */
			c->progressed = 1;
			if (write_raw(c, ev.data, ev.len) != 0)
				return;
			break;
		case WIRE_EV_OPEN:
			if (on_open(c) != 0)
				return;
			break;
		case WIRE_EV_MSG:
			if (sync_msg(c, ev.data, ev.len) != 0)
				return;
			break;
		}
	}
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct conn *c = h->data;

	size_t want = c->open ? READ_BUF : PREAUTH_BUF;

	(void)hint;
	/* Reading is stopped whenever unprocessed bytes are held, so the
	 * buffer holds nothing to keep when it grows. */
	if (c->rbuf_size != want) {
		free(c->rbuf);
		c->rbuf = xmalloc(want);
		c->rbuf_size = want;
	}
	*buf = uv_buf_init((char *)c->rbuf, (unsigned)want);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	(void)buf;
	if (nread == 0)
		return;
	if (nread < 0) {
		conn_close(c, nread == UV_EOF ? "closed by the peer" :
		    uv_strerror((int)nread));
		return;
	}
	c->roff = 0;
	c->rlen = (size_t)nread;
	c->rx_bytes += (uint64_t)nread;
	if (c->open && c->peer != NULL)
		c->peer->bytes_in += (uint64_t)nread;
	c->last_rx_ms = now_ms();
	process(c);
	/*
	 * Every byte used: the read buffer goes until the next read.  A hub
	 * with a thousand sites connected, most of them quiet, would
	 * otherwise hold READ_BUF for each (64 MiB), and the size of the
	 * largest frame each sent.  A paused connection keeps its buffer:
	 * its bytes wait there.
	 */
	if (!c->paused && c->roff >= c->rlen && c->rbuf != NULL) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rbuf_size = 0;
		wire_trim(&c->w);
	}
}

/* Starts reading (after connect or accept). */
void
conn_start_read(struct conn *c)
{
	int rc;

	uv_tcp_nodelay(&c->tcp, 1);
	if ((rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc,
	    on_read)) != 0)
		conn_close(c, uv_strerror(rc));
}

/* Stops taking bytes until conn_resume(); bytes already read wait. */
void
conn_pause(struct conn *c)
{
	if (c->paused || c->closing)
		return;
	c->paused = 1;
	uv_read_stop((uv_stream_t *)&c->tcp);
}

/* Handles the bytes that waited, then reads again. */
void
conn_resume(struct conn *c)
{
	if (!c->paused || c->closing)
		return;
	c->paused = 0;
	process(c);
	if (!c->closing && !c->paused)
		conn_start_read(c);
}

/* Decides whether a peer that proved its key may connect. */
static int
authorize(void *arg, const uint8_t key[PROTO_KEY_LEN], const char *role,
    const char **why)
{
	(void)arg;
	if (memcmp(key, D.info.node, PROTO_KEY_LEN) == 0) {
		*why = "handshake: the peer has this node's own key";
		return -1;
	}
	/* A joining node proves its invite after the handshake. */
	if (strcmp(role, WIRE_ROLE_JOIN) == 0) {
		if (memcmp(D.info.node, D.info.network, PROTO_KEY_LEN) != 0) {
			*why = "handshake: a join, but only the network's "
			    "admin takes invites";
			return -1;
		}
		if (trust_key_state(key) < 0) {
			*why = "handshake: key revoked by the network's admin";
			return -1;
		}
		return 0;
	}
	switch (trust_key_state(key)) {
	case -1:
		*why = "handshake: key revoked by the network's admin";
		return -1;
	case 0:
		if (peer_find_key(key) == NULL) {
			*why = "handshake: key is not a configured peer nor "
			    "an enrolled member";
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* Makes a connection: the handle, the wire state, the list entry. */
struct conn *
conn_new(int outbound, struct peer *p)
{
	struct conn *c = xcalloc(1, sizeof(*c));
	const uint8_t *sk = NULL;

	uv_tcp_init(D.loop, &c->tcp);
	c->tcp.data = c;
	c->refs = 1;
	c->outbound = outbound;
	c->peer = p;
	c->opened_ms = now_ms();
	snprintf(c->addr, sizeof(c->addr), "%s", outbound ? p->addr : "?");
	sk = store_secret_key(D.store);
	wire_init(&c->w, outbound, D.info.network, sk, D.info.role,
	    outbound ? p->key : NULL, outbound ? NULL : authorize, NULL);
	c->next = D.conns;
	D.conns = c;
	D.handshakes++;
	return c;
}

/* Sends a PING after silence, and cuts a peer silent for too long. */
void
conn_keepalive(struct conn *c, uint64_t now)
{
	struct proto_enc e;
	uint64_t quiet = now - c->last_rx_ms;
	char why[64];

	if (c->closing)
		return;
	if (!c->outbound && !c->open && !c->progressed) {
		if (now - c->opened_ms >= 1000ULL * (D.cfg.handshake_timeout <
		    SILENT_TIMEOUT ? D.cfg.handshake_timeout : SILENT_TIMEOUT))
			conn_close(c, "no handshake");
		return;
	}
	if (!c->open || c->joining) {
		if (now - c->opened_ms >= D.cfg.handshake_timeout * 1000ULL *
		    (c->joining ? 2 : 1))
			conn_close(c, c->joining ? "join timed out" :
			    "handshake timed out");
		return;
	}
	if (quiet >= D.cfg.ping_timeout * 1000ULL) {
		snprintf(why, sizeof(why), "keepalive: silent for %llu s",
		    (unsigned long long)(quiet / 1000));
		conn_close(c, why);
		return;
	}
	if (quiet >= D.cfg.ping_interval * 1000ULL && !c->ping_out &&
	    c->s.heads_sent) {
		proto_enc_init(&e);
		wire_pack_ping(&e, WIRE_MSG_PING, ++c->ping_nonce);
		c->ping_out = 1;
		conn_send(c, &e);
		proto_enc_free(&e);
	}
}
