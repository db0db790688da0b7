/*
 * cafed.c: the daemon's start and stop.
 *
 *   cafed [--data DIR] [--config FILE] [--listen ADDR:PORT] [-n]
 *
 * Opens the node's store, reads the configuration, listens, dials the
 * outbound peers and runs the loop in the foreground, logging to stderr.
 * SIGTERM and SIGINT stop it cleanly: the store thread finishes the batch
 * it is applying (committed or rolled back whole) and the rest is
 * dropped, to be sent again on the next connection.  SIGHUP reloads the
 * peers and limits.  Under systemd (Type=notify) it says READY and
 * STOPPING.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/resource.h>

#include <systemd/sd-daemon.h>

#include "daemon.h"
#include "../proto/version.h"

struct daemon D;

static const char usage[] =
    "usage: cafed [--data DIR] [--config FILE] [--listen ADDR:PORT] [-n]\n"
    "       cafed --version\n"
    "  the data directory is --data, else $CAFE_DATA, else "
    "$XDG_DATA_HOME/cafesync,\n  else ~/.local/share/cafesync, as for "
    "cafe; -n checks the configuration and\n  the data directory, lists "
    "the peers kept in the store, and exits\n";


/* Prints one peer kept in the store, for -n. */
static int
print_peer(const struct store_peer *p, void *arg)
{
	(void)arg;
	printf("  peer %s %s\n", p->name, p->addr[0] ? p->addr : "(inbound)");
	return 0;
}

/* Counts the peers kept in the store. */
static int
count_peer(const struct store_peer *p, void *arg)
{
	(void)p;
	(*(size_t *)arg)++;
	return 0;
}

/* -n: checks the data directory; returns the exit code. */
static int
check_data(const char *data)
{
	struct store *s;
	char *cause = NULL;
	size_t n = 0;

	if (data == NULL) {
		fprintf(stderr, "cafed: no data directory: use --data DIR or "
		    "set CAFE_DATA\n");
		return 1;
	}
	if (store_open(&s, data, &cause) != 0) {
		fprintf(stderr, "cafed: data directory %s: %s\n", data, cause);
		free(cause);
		return 1;
	}
	store_peers(s, count_peer, &n);
	printf("cafed: data directory %s ok: node %s (%s), %zu peer%s kept "
	    "in the store\n", data, store_info(s)->name, store_info(s)->role,
	    n, n == 1 ? "" : "s");
	store_peers(s, print_peer, NULL);
	store_close(s);
	return 0;
}

/* Returns a monotonic clock in milliseconds: for intervals and deadlines,
 * which a clock step must not cut short. */
uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Once a second: keepalive and handshake deadlines, sync deadlines, a
 * look at a full disk's free space, and a look at the store in case
 * `cafe` wrote without nudging us.
 */
static void
on_tick(uv_timer_t *t)
{
	struct conn *c, *next;
	uint64_t now = now_ms();

	(void)t;
	for (c = D.conns; c != NULL; c = next) {
		next = c->next;
		conn_keepalive(c, now);
	}
	flood_summary(now);
	listener_kick();
	sync_room_check();
	if (store_txnid(D.store) > D.txnid)
		sync_heads_refresh();
	control_check_waiters();
}

static void
walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Stops: no new work, running batch finished, every handle closed. */
static void
stop(const char *why)
{
	struct conn *c;

	if (D.stopping)
		return;
	D.stopping = 1;
	sd_notify(0, "STOPPING=1");
	log_info("stopping (%s)", why);
	control_stop();
	mirror_daemon_stop();
	if (D.listening) {
		uv_close((uv_handle_t *)&D.listener, NULL);
		uv_close((uv_handle_t *)&D.accept_idle, NULL);
	}
	for (c = D.conns; c != NULL; c = c->next)
		conn_close(c, "cafed is stopping");
	worker_stop();
	peers_free();
	uv_timer_stop(&D.tick);
	uv_close((uv_handle_t *)&D.tick, NULL);
	uv_close((uv_handle_t *)&D.sig[0], NULL);
	uv_close((uv_handle_t *)&D.sig[1], NULL);
	uv_close((uv_handle_t *)&D.sig[2], NULL);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	(void)h;
	if (signum == SIGHUP) {
		log_info("SIGHUP: reloading");
		peers_reload();
		mirror_daemon_reload();
		return;
	}
	stop(signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/*
 * Raises the soft limit on open descriptors to the hard one: a hub holds
 * a socket per connected site, and the usual soft limit (1024) is below
 * what a thousand sites at once need.  Says so when it stays lower.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn("setrlimit RLIMIT_NOFILE");
}

int
main(int argc, char **argv)
{
	const char *data = NULL, *config = NULL, *listen = NULL;
	char *cause = NULL, *def;
	int check = 0, i, rc;

	if (argc > 1 && strcmp(argv[1], "--mirror-child") == 0)
		return mirror_child_main(argc, argv);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0)
			check = 1;
		else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
			data = argv[++i];
		else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
			listen = argv[++i];
		else if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0) {
			fputs(usage, stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0 ||
		    strcmp(argv[i], "-V") == 0) {
			printf("cafed %s\n", CAFESYNC_VERSION);
			return 0;
		} else {
			fprintf(stderr, "cafed: %s: unknown option or missing "
			    "value\n%s", argv[i], usage);
			return 2;
		}
	}
	cfg_defaults(&D.cfg);
	if (config != NULL && cfg_load(&D.cfg, config, &cause) != 0) {
		fprintf(stderr, "cafed: %s\n", cause);
		free(cause);
		return 2;
	}
	if (listen != NULL) {
		char host[256], port[8];

		if (strlen(listen) >= sizeof(D.cfg.listen) ||
		    proto_split_addr(listen, host, sizeof(host), port,
		    sizeof(port)) != 0) {
			fprintf(stderr, "cafed: --listen: '%s' is not "
			    "host:port\n", listen);
			return 2;
		}
		snprintf(D.cfg.listen, sizeof(D.cfg.listen), "%s", listen);
	}
	def = data == NULL ? store_default_data() : NULL;
	if (def != NULL)
		data = def;
	if (check) {
		printf("cafed: configuration ok: listen %s, %zu peers%s\n",
		    D.cfg.listen[0] ? D.cfg.listen : "none", D.cfg.npeers,
		    D.cfg.mirror_postgres ? ", a PostgreSQL mirror" : "");
		cfg_free(&D.cfg);
		rc = check_data(data);
		free(def);
		return rc;
	}
	if (data == NULL) {
		fprintf(stderr, "cafed: no data directory: use --data DIR or "
		    "set CAFE_DATA\n");
		return 2;
	}
	log_level = D.cfg.log_level;
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	D.data = xstrdup(data);
	D.config_path = config ? xstrdup(config) : NULL;
	D.started_ms = now_ms();
	if (control_owner_check(&cause) != 0 ||
	    store_open(&D.store, data, &cause) != 0) {
		fprintf(stderr, "cafed: %s\n", cause);
		free(cause);
		return 1;
	}
	D.info = *store_info(D.store);
	D.restore_pending = store_restore_pending(D.store);
	D.loop = uv_default_loop();
	if (control_start(&cause) != 0 || listener_start(&cause) != 0) {
		fprintf(stderr, "cafed: %s\n", cause);
		free(cause);
		control_stop();
		store_close(D.store);
		return 1;
	}
	if (worker_start(D.loop, D.store) != 0)
		fatalx("cannot start the store thread");
	uv_timer_init(D.loop, &D.tick);
	uv_timer_start(&D.tick, on_tick, 1000, 1000);
	uv_signal_init(D.loop, &D.sig[0]);
	uv_signal_init(D.loop, &D.sig[1]);
	uv_signal_init(D.loop, &D.sig[2]);
	uv_signal_start(&D.sig[0], on_signal, SIGTERM);
	uv_signal_start(&D.sig[1], on_signal, SIGINT);
	uv_signal_start(&D.sig[2], on_signal, SIGHUP);
	{
		char k[17];

		log_info("node %s (%s, %s) serving %s%s",
		    log_key(D.info.node, k), D.info.name, D.info.role, data,
		    D.restore_pending ? "; restored: waiting for its own "
		    "log before local writes" : "");
	}
	trust_reload();
	sync_heads_refresh();
	peers_load(&cause);
	mirror_daemon_start();
	sd_notify(0, "READY=1");
	uv_run(D.loop, UV_RUN_DEFAULT);
	/* Close whatever is left (resolver requests end on their own). */
	uv_walk(D.loop, walk_close, NULL);
	uv_run(D.loop, UV_RUN_DEFAULT);
	rc = uv_loop_close(D.loop);
	store_close(D.store);
	vv_free(&D.ours);
	trust_free();
	cfg_free(&D.cfg);
	free(D.data);
	free(def);
	free(D.config_path);
	log_info("stopped");
	return rc == 0 ? 0 : 1;
}
