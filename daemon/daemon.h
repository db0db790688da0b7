/*
 * daemon.h: what the files of daemon/ share.
 *
 * cafed is one libuv loop.  The loop thread owns every socket, timer and
 * peer; it opens no LMDB transaction (it only asks LMDB for the last
 * transaction's id, store_txnid(), to notice writes by cafe).  Every store
 * read and write runs on one store thread (worker.c), in submission
 * order, and reports back to the loop, so the map can grow safely while
 * the daemon runs.  A received batch's signatures are checked on libuv's
 * thread pool (store_verify_items(), which touches no LMDB).
 *
 *   cafed.c    start, signals, sd_notify, the tick timer, shutdown
 *   config.c   the configuration file (inih), one table of options
 *   log.c      leveled logging to stderr
 *   worker.c   the store thread and its job queue
 *   peer.c     the peer list, outbound dialing with backoff, listening
 *   conn.c     one connection: handshake, frames, messages, keepalive
 *   sync.c     anti-entropy: heads, sending batches, flow control, relay,
 *              and the dispatch of each message (proto/session.c decides)
 *   recv.c     received batches: signatures, group commit, acks, full disk
 *   forks.c    fork detection against the peer's head hashes
 *   join.c     a joining node's invite, and the bound on failed joins
 *   control.c  the control socket that `cafe` talks to
 *   trust.c    the enrolled and revoked keys, for the handshake
 *   mirror.c   the PostgreSQL mirror, in a child process of its own
 */
#ifndef CAFESYNC_DAEMON_H
#define CAFESYNC_DAEMON_H

#include <stdarg.h>
#include <stdint.h>

#include <uv.h>

#include "../proto/proto.h"
#include "../proto/session.h"
#include "../proto/wire.h"
#include "../storage/storage.h"

/* ---- log.c ------------------------------------------------------------ */

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern int log_level;

/* Parses "error", "warn", "info" or "debug"; returns the level or -1. */
int log_level_parse(const char *s);

void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2),
    noreturn));

/* Writes a short form of a key (its first 8 bytes in hex) into buf. */
const char *log_key(const uint8_t *key, char buf[17]);

/* ---- config.c --------------------------------------------------------- */

/* A peer as configured: addr "host:port" to dial, or "" (inbound only). */
struct cfg_peer {
	char name[64];
	char addr[272];
	uint8_t key[PROTO_KEY_LEN];
};

struct cfg {
	char listen[272];            /* "host:port", or "" for none */
	int log_level;
	unsigned handshake_timeout;  /* s: from accept/connect to open */
	unsigned ping_interval;      /* s of silence before a PING */
	unsigned ping_timeout;       /* s of silence before the cut */
	unsigned backoff_min;        /* ms: first retry delay */
	unsigned backoff_max;        /* ms: longest retry delay */
	unsigned max_handshakes;     /* connections not yet authenticated */
	unsigned window;             /* bytes of unacknowledged batches */
	unsigned batch_commits;      /* commits in one batch at most */
	char *mirror_postgres;       /* [mirror] postgres: conninfo, or NULL */
	char mirror_schema[64];      /* [mirror] schema, "" for the default */
	unsigned mirror_batch;       /* [mirror] batch, 0 for the default */
	struct cfg_peer *peers;
	size_t npeers;
};

/* Sets every option to its default. */
void cfg_defaults(struct cfg *c);

/*
 * Reads a configuration file over the defaults.  Refuses a file others
 * can write.  Returns 0, or -1 with *cause (malloc'd) as "file:line:
 * message".
 */
int cfg_load(struct cfg *c, const char *path, char **cause);

/* Frees the peers. */
void cfg_free(struct cfg *c);

/* ---- mirror.c --------------------------------------------------------- */

/* Sets a [mirror] option; returns NULL or the error (malloc'd). */
char *mirror_cfg_option(struct cfg *c, const char *name, const char *value);
/* Starts the mirror process when [mirror] postgres is set. */
void mirror_daemon_start(void);
/* After a reload: restarts, starts or stops the mirror process when
 * [mirror] changed. */
void mirror_daemon_reload(void);
/* Asks the mirror process to stop; the loop runs until it has. */
void mirror_daemon_stop(void);
/* The mirror process's main (cafed --mirror-child DIR). */
int mirror_child_main(int argc, char **argv);


/* ---- worker.c --------------------------------------------------------- */

/*
 * A job for the store thread.  run() runs there (it may use the store);
 * done() runs on the loop thread afterwards, and owns the job (frees it).
 * A job submitted while the daemon stops still runs to its end, so a
 * batch is committed or rolled back, never cut in half.
 */
struct job {
	void (*run)(struct job *j);
	void (*done)(struct job *j);
	struct job *next;
	int ran;                    /* 0 when dropped at shutdown unrun */
};

int worker_start(uv_loop_t *loop, struct store *s);
void worker_submit(struct job *j);
/* Waits for the running job, drops the queued ones, stops the thread. */
void worker_stop(void);
/* The store, for run() callbacks only. */
struct store *worker_store(void);

/* ---- peer.c / conn.c / sync.c ----------------------------------------- */

enum peer_state {
	PEER_OFFLINE,      /* no connection (inbound peer not connected) */
	PEER_CONNECTING,   /* dialing or in the handshake */
	PEER_SYNCING,      /* connected, commits to send or to receive */
	PEER_IDLE,         /* connected and caught up */
	PEER_ERROR,        /* the last attempt failed: see error */
};

struct conn;
struct dial;

struct peer {
	struct peer *next;
	char name[64];
	char addr[272];              /* "" when inbound only */
	uint8_t key[PROTO_KEY_LEN];
	int from_store;              /* added by `cafe peer add` */
	int member;                  /* not configured: an enrolled member */
	struct conn *conn;           /* the open (or opening) connection */
	enum peer_state state;
	char error[200];
	uv_timer_t *retry;           /* outbound: the reconnect timer */
	unsigned attempts;           /* failed dials since the last open */
	unsigned store_fails;        /* batches from it this node could not
	                              * store (a full disk) since one it could */
	uint64_t last_sync_ms;       /* when last caught up, or 0 */
	uint64_t sent, received;     /* commits, over every connection */
	uint64_t bytes_in, bytes_out; /* on the wire, over every connection */
	double rate;                 /* bytes/s the link to it last showed */
	int mark;                    /* used while reloading */
	struct dial *resolving;      /* a name lookup pointing at us */
};

struct rx_batch;

/* Bounds of the session's queues (proto/session.h), per connection. */
#define SYNC_MAX_WANTS SESSION_MAX_WANTS
#define SYNC_MAX_EXTRA SESSION_MAX_EXTRA
/* Batches a sender may have unacknowledged, besides the byte window. */
#define SYNC_MAX_UNACKED SESSION_MAX_UNACKED
/* Received batches held (checked, applied or waiting) before reading
 * pauses and TCP pushes back on the sender. */
#define SYNC_RX_QUEUE 3

struct conn {
	struct conn *next;
	uv_tcp_t tcp;
	struct peer *peer;           /* NULL until known */
	int outbound;
	int open;                    /* handshake done */
	int joining;                 /* a node redeeming an invite */
	int finishing;               /* closes once its writes are done */
	const char *finish_why;      /* (a static string) */
	int closing;
	int refs;                    /* the handle and each job in flight */
	char addr[272];              /* the remote address, for logs */
	char host[64];               /* its host part (inbound) */
	int progressed;              /* inbound: sent a well-formed M1 */
	struct wire w;
	uint64_t opened_ms, last_rx_ms;
	uint64_t rx_bytes, tx_bytes; /* on the wire, handshake included */
	uint64_t ping_nonce;
	int ping_out;
	/* Reading: our own buffer, so that reading can pause mid-buffer. */
	uint8_t *rbuf;
	size_t rbuf_size;            /* small until the handshake is done */
	size_t roff, rlen;
	int paused;
	/* The sync session (proto/session.h): what the peer has, what to
	 * send it next, what is in flight, the pace, fork evidence, and
	 * what the peer may read (s.scope: every log, or only the origins
	 * in s.scope.set, sorted, worked out once by trust_set_reader() at
	 * open and when the admin log moves, so trust_allows() costs no
	 * walk of the members per origin asked about). */
	struct sync_session s;
	/* Receiving: batches in the store's hands. */
	int ztx;                     /* the peer offered our dictionary */
	struct rx_batch *rxq, **rxq_tail; /* received, in order */
	unsigned rxq_len;
	int applying;                /* the first of rxq is being applied */
	struct store_failed failed;
	uint64_t rx_commits, rx_refused;
	/* Who the peer is in the admin log, set when it opens: what it
	 * may read (trust_allows()). */
	struct store_member reader;
	/* Sending: what status shows of the backlog. */
	uint64_t bl_unsent;          /* unsent bytes the last walk found */
	uint64_t bl_mark;            /* s.sent_plain when that walk was planned */
	int bl_known, bl_exact;
};

/* The daemon: one per process. */
struct daemon {
	uv_loop_t *loop;
	struct store *store;
	struct store_info info;
	char *data;
	char *config_path;
	struct cfg cfg;
	uv_tcp_t listener;
	uv_idle_t accept_idle;       /* accepting waits for closes (peer.c) */
	int accept_waiting;          /* ... or for a handshake to end */
	unsigned conns_closing;      /* closed, not yet freed */
	int listening;
	uv_timer_t tick;
	uv_signal_t sig[3];
	struct peer *peers;
	struct conn *conns;
	unsigned handshakes;         /* connections not yet open */
	/* Unfinished inbound connections refused or cut since the last
	 * summary line (peer.c: flood_note()). */
	uint64_t flood_n, flood_since_ms, flood_logged_ms;
	char flood_host[64];
	char flood_why[96];
	struct vv ours;              /* this node's heads */
	uint64_t txnid;              /* the last store write we know of */
	int heads_loading;
	int heads_again;
	struct store_member *members; /* the admin log, for the loop */
	size_t nmembers;
	int keys_loading, keys_again;
	int restore_pending;         /* waiting for our own log back */
	int store_full;              /* a batch failed for want of space, and
	                              * the disk has not had room since */
	uint64_t full_free;          /* free bytes on the data's disk then */
	int restore_ready;           /* a peer told us how far it goes */
	uint64_t restore_target;
	int stopping;
	uint64_t started_ms;
};

extern struct daemon D;

uint64_t now_ms(void);                  /* monotonic */

/* peer.c */
int peers_load(char **cause);           /* config + store peers */
void peers_reload(void);                /* again, applying changes */
struct peer *peer_find_key(const uint8_t key[PROTO_KEY_LEN]);
struct peer *peer_add_member(const uint8_t key[PROTO_KEY_LEN]);
void peer_set_state(struct peer *p, enum peer_state st, const char *error);
void peer_dial_soon(struct peer *p, int now);
void peers_free(void);
const char *peer_state_name(enum peer_state st);
int listener_start(char **cause);
/* A handshake ended: accepting goes on if it waited for one. */
void listener_kick(void);

/* conn.c */
struct conn *conn_new(int outbound, struct peer *p);
void conn_start_read(struct conn *c);
void conn_close(struct conn *c, const char *why);
void conn_unref(struct conn *c);
void conn_finish(struct conn *c, const char *why);
void flood_note(const char *host, const char *why);
void flood_summary(uint64_t now);
/* Seals msg and writes it; returns 0 or -1 (the connection is closing). */
int conn_send(struct conn *c, const struct proto_enc *msg);
void conn_pause(struct conn *c);
void conn_resume(struct conn *c);
/* Handles one decrypted message (sync.c). */
int sync_msg(struct conn *c, const uint8_t *data, size_t len);
void conn_keepalive(struct conn *c, uint64_t now);

/* sync.c */
void sync_open(struct conn *c);         /* the handshake is done */
void sync_pump(struct conn *c);         /* send what the peer lacks */
void sync_pump_all(void);
void sync_heads_refresh(void);          /* re-read our heads, then pump */
/* recv.c */
void sync_room_check(void);             /* a full disk has room again? */
/* Between sync.c and the files it dispatches to (forks.c, recv.c, join.c). */
int sync_protocol_error(struct conn *c, const char *why); /* ERROR, close */
void sync_restore_check(struct conn *c);  /* restoring: caught up yet? */
void sync_pump_origin(const uint8_t *origin); /* one origin moved: pump */
void sync_fork_check(struct conn *c, const struct wire_msg *m); /* HEADS */
int sync_on_want(struct conn *c, const struct wire_msg *m, const char **why);
int sync_on_commits(struct conn *c, const uint8_t *data, size_t len);
int sync_on_join(struct conn *c, const uint8_t *data, size_t len);
void sync_conn_free(struct conn *c);
/* Counts for status: commits to send and to receive. */
void sync_counts(const struct conn *c, uint64_t *to_send,
    uint64_t *to_recv);
int sync_caught_up(const struct conn *c);
/*
 * The bytes still to send to a peer, for status (unsent and
 * unacknowledged).  cafed answers a status at once from what the last walk
 * of the store found, less what was sent since; sync_backlog_refresh()
 * starts a new walk of every connection on the store thread, bounded in
 * commits, unless one is on its way.  *exact 0: estimated (past the walk's
 * bound, or no walk yet).
 */
uint64_t sync_backlog_bytes(const struct conn *c, int *exact);
void sync_backlog_refresh(void);
void sync_update_state(struct conn *c);

/* trust.c */
void trust_reload(void);                /* re-read the admin log */
/* Returns 1 enrolled, -1 revoked, 0 neither. */
int trust_key_state(const uint8_t key[PROTO_KEY_LEN]);
/* Tells whether the connection's peer may receive origin's log. */
int trust_allows(const struct conn *c, const uint8_t *origin);
/* Sets c->reader, and what it may read, from the admin log (at open). */
void trust_set_reader(struct conn *c);
/* Frees what trust_set_reader() made. */
void trust_conn_free(struct conn *c);
/* Returns the member name of key, or "member". */
const char *trust_name(const uint8_t key[PROTO_KEY_LEN]);
void trust_free(void);

/* control.c */
int control_owner_check(char **cause);
int control_start(char **cause);
void control_stop(void);
void control_check_waiters(void);       /* a peer's state moved */

#endif /* CAFESYNC_DAEMON_H */
