/*
 * join.c: a new site joining with an invite over the wire, and the bound
 * on failed joins per address.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "daemon.h"

/*
 * Failed joins per source address: at JOIN_FAILS_MAX failures within
 * JOIN_FAIL_WINDOW_MS, an address's joins are refused unread until the
 * window ends, so invite secrets cannot be guessed at speed.  The table
 * is small and fixed; a full table reuses its oldest slot.
 */
#define JOIN_FAILS_MAX 5
#define JOIN_FAIL_WINDOW_MS 60000
#define JOIN_FAIL_SLOTS 64

static struct join_fail {
	char host[64];
	uint64_t since_ms;
	unsigned fails;
} join_fails[JOIN_FAIL_SLOTS];

/* The host part of "host:port" or "[v6]:port" into host. */
static void
addr_host(const char *addr, char *host, size_t size)
{
	const char *colon = strrchr(addr, ':');
	size_t n = colon != NULL ? (size_t)(colon - addr) : strlen(addr);

	snprintf(host, size, "%.*s", (int)n, addr);
}

/* The slot of addr's host, made (oldest reused) when make is set. */
static struct join_fail *
join_fail_slot(const char *addr, int make)
{
	struct join_fail *f, *old = &join_fails[0];
	uint64_t now = now_ms();
	char host[64];

	addr_host(addr, host, sizeof(host));
	for (f = join_fails; f < join_fails + JOIN_FAIL_SLOTS; f++) {
		if (f->fails > 0 && now - f->since_ms >= JOIN_FAIL_WINDOW_MS)
			f->fails = 0;
		if (f->fails > 0 && strcmp(f->host, host) == 0)
			return f;
		if (f->fails == 0 || (old->fails > 0 &&
		    f->since_ms < old->since_ms))
			old = f;
	}
	if (!make)
		return NULL;
	snprintf(old->host, sizeof(old->host), "%s", host);
	old->since_ms = now;
	old->fails = 0;
	return old;
}

/* Counts a failed join from addr; says so once when the limit is hit. */
static void
join_failed(const char *addr)
{
	struct join_fail *f = join_fail_slot(addr, 1);

	if (++f->fails == JOIN_FAILS_MAX)
		log_warnx("joins from %s: %u failed within %d s; refusing "
		    "its joins for the rest of that time", f->host, f->fails,
		    JOIN_FAIL_WINDOW_MS / 1000);
}

struct join_job {
	struct job j;
	struct conn *c;
	uint8_t invite[WIRE_INVITE_LEN];
	uint8_t secret[WIRE_SECRET_LEN];
	uint8_t key[PROTO_KEY_LEN];
	char name[WIRE_MAX_NAME + 1];
	const char *role;
	char *cause;
	int rc;
};

static void
join_run(struct job *j)
{
	struct join_job *jj = (struct join_job *)j;

	jj->rc = store_invite_redeem(worker_store(), jj->invite, jj->secret,
	    jj->key, jj->name, &jj->role, &jj->cause);
}

static void
join_done(struct job *j)
{
	struct join_job *jj = (struct join_job *)j;
	struct conn *c = jj->c;
	struct proto_enc m;
	char k[17];

	log_key(jj->key, k);
	if (j->ran && jj->rc == 0) {
		log_info("%s (%s) joined with an invite as %s", jj->name, k,
		    jj->role);
		trust_reload();
		sync_heads_refresh();
	} else if (j->ran) {
		log_warnx("connection from %s: join of %s refused: %s",
		    c->addr, k, jj->cause ? jj->cause : "failed");
		join_failed(c->addr);
	}
	if (j->ran && !c->closing) {
		proto_enc_init(&m);
		if (jj->rc == 0)
			wire_pack_joined(&m, jj->role);
		else
			wire_pack_error(&m, jj->cause ? jj->cause :
			    "join refused");
		conn_send(c, &m);
		proto_enc_free(&m);
		/* Closed once the answer is written. */
		conn_finish(c, "join answered");
	}
	sodium_memzero(jj->secret, sizeof(jj->secret));
	free(jj->cause);
	free(jj);
	conn_unref(c);
}

/* A joining node's only message: redeem its invite on the store thread. */
int
sync_on_join(struct conn *c, const uint8_t *data, size_t len)
{
	struct join_job *jj;
	struct join_fail *f;
	struct proto_enc e;
	struct wire_msg m;
	const char *cause;

	if (wire_msg_decode(&m, data, len, &cause) != 0)
		return sync_protocol_error(c, cause);
	if (m.type != WIRE_MSG_JOIN || c->joining > 1) {
		wire_msg_free(&m);
		return sync_protocol_error(c, "protocol: a joining node sends one "
		    "JOIN and nothing else");
	}
	c->joining = 2;
	if ((f = join_fail_slot(c->addr, 0)) != NULL &&
	    f->fails >= JOIN_FAILS_MAX) {
		proto_enc_init(&e);
		wire_pack_error(&e, "too many failed joins from this address; "
		    "try again in a minute");
		conn_send(c, &e);
		proto_enc_free(&e);
		conn_finish(c, "join refused: too many failed joins");
		return 0;
	}
	jj = xcalloc(1, sizeof(*jj));
	jj->c = c;
	memcpy(jj->invite, m.invite, WIRE_INVITE_LEN);
	memcpy(jj->secret, m.secret, WIRE_SECRET_LEN);
	memcpy(jj->key, c->w.peer, PROTO_KEY_LEN);
	snprintf(jj->name, sizeof(jj->name), "%.*s", (int)m.reason_len,
	    m.reason);
	wire_msg_free(&m);
	jj->j.run = join_run;
	jj->j.done = join_done;
	c->refs++;
	worker_submit(&jj->j);
	return 0;
}

