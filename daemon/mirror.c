/*
 * mirror.c: cafed's PostgreSQL mirror ([mirror] postgres = CONNINFO).
 *
 * The mirror runs in a process of its own: cafed starts itself again as
 * `cafed --mirror-child DIR`, with the connection string, schema and
 * batch size in its environment (not its arguments, which any user can
 * read in ps), and that process runs mirror_watch() (mirror/mirror.h)
 * over its own handle on the store.  So libpq never runs on the loop
 * thread, the store thread never waits for PostgreSQL, and a mirror
 * reading a big first batch takes no LMDB transaction in the daemon's
 * process, whose map may then grow at any time (worker.c).  LMDB readers
 * of another process never block the daemon's writer: a PostgreSQL that
 * is down, slow or restarting never blocks sync.
 *
 * The child watches the store's last transaction id every 10 ms, so a
 * commit the daemon stores reaches PostgreSQL some milliseconds later.
 * It leaves its state (positions, ok or the error it retries) in the data
 * directory, and `cafe status` counts the lag from it.  When the child
 * exits other than on cafed's request, cafed starts it again after a
 * backoff (1 s doubling to 60 s), except when it refused the schema for
 * holding another network's mirror (exit 2), which no retry mends.  A
 * reload (SIGHUP) that changes [mirror] restarts the process with the new
 * settings, or stops it when the section is gone.  The
 * child asks the kernel for SIGTERM when cafed dies, so it never outlives
 * it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>

#include "daemon.h"
#include "../mirror/mirror.h"

extern char **environ;

#define ENV_CONNINFO "CAFED_MIRROR_CONNINFO"
#define ENV_SCHEMA "CAFED_MIRROR_SCHEMA"
#define ENV_BATCH "CAFED_MIRROR_BATCH"
#define CHILD_REFUSED 2

static struct {
	uv_process_t proc;
	uv_timer_t retry;
	int running;          /* proc is a live child */
	int timer_init;
	int restart;          /* stopped for a reload: start again at once */
	unsigned backoff_ms;
	char *conninfo;       /* what the running child was given */
	char schema[64];
	unsigned batch;
} M;

/* Returns whether s is a plain lower-case SQL identifier. */
static int
plain_name(const char *s)
{
	size_t i;

	if (s[0] == '\0' || strlen(s) > 63 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' ||
		    (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return 1;
}

char *
mirror_cfg_option(struct cfg *c, const char *name, const char *value)
{
	char *end;
	unsigned long n;

	if (strcmp(name, "postgres") == 0) {
		if (*value == '\0')
			return xstrdup("[mirror] postgres: needs a libpq "
			    "connection string or URI");
		free(c->mirror_postgres);
		c->mirror_postgres = xstrdup(value);
		return NULL;
	}
	if (strcmp(name, "schema") == 0) {
		if (!plain_name(value))
			return xasprintf("[mirror] schema: '%s' is not a plain "
			    "name (lower-case letters, digits and _, at most "
			    "63)", value);
		snprintf(c->mirror_schema, sizeof(c->mirror_schema), "%s",
		    value);
		return NULL;
	}
	if (strcmp(name, "batch") == 0) {
		n = strtoul(value, &end, 10);
		if (*value < '0' || *value > '9' || *end != '\0' || n < 1 ||
		    n > 1000000)
			return xasprintf("[mirror] batch: must be a number from "
			    "1 to 1000000");
		c->mirror_batch = (unsigned)n;
		return NULL;
	}
	return xasprintf("[mirror]: unknown option '%s'", name);
}

static void mirror_spawn(void);

static void
on_retry(uv_timer_t *t)
{
	(void)t;
	if (!D.stopping && D.cfg.mirror_postgres != NULL && !M.running)
		mirror_spawn();
}

static void
on_proc_close(uv_handle_t *h)
{
	(void)h;
}

static void
on_exit_cb(uv_process_t *p, int64_t status, int sig)
{
	M.running = 0;
	uv_close((uv_handle_t *)p, on_proc_close);
	if (D.stopping || D.cfg.mirror_postgres == NULL)
		return;
	if (M.restart) {
		M.restart = 0;
		M.backoff_ms = 1000;
		uv_timer_start(&M.retry, on_retry, 0, 0);
		return;
	}
	if (status == CHILD_REFUSED) {
		log_warnx("mirror: the schema holds another network's mirror; "
		    "not retrying (fix [mirror] and reload or restart cafed)");
		return;
	}
	log_warnx("mirror: the mirror process ended (%s %d); starting it "
	    "again in %u ms", sig ? "signal" : "status",
	    sig ? sig : (int)status, M.backoff_ms);
	uv_timer_start(&M.retry, on_retry, M.backoff_ms, 0);
	M.backoff_ms = M.backoff_ms * 2 > 60000 ? 60000 : M.backoff_ms * 2;
}

/* Starts the child. */
static void
mirror_spawn(void)
{
	uv_process_options_t o;
	uv_stdio_container_t io[3];
	char *args[4], **env, batch[32];
	size_t n = 0, i;
	int rc;

	for (n = 0; environ[n] != NULL; n++)
		;
	env = xcalloc(n + 4, sizeof(*env));
	for (i = 0; i < n; i++)
		env[i] = environ[i];
	env[n++] = xasprintf("%s=%s", ENV_CONNINFO, D.cfg.mirror_postgres);
	env[n++] = xasprintf("%s=%s", ENV_SCHEMA, D.cfg.mirror_schema[0] ?
	    D.cfg.mirror_schema : "cafesync");
	snprintf(batch, sizeof(batch), "%u", D.cfg.mirror_batch);
	env[n++] = xasprintf("%s=%s", ENV_BATCH, batch);
	args[0] = "cafed";
	args[1] = "--mirror-child";
	args[2] = D.data;
	args[3] = NULL;
	memset(&o, 0, sizeof(o));
	memset(io, 0, sizeof(io));
	io[0].flags = UV_IGNORE;
	io[1].flags = UV_INHERIT_FD;
	io[1].data.fd = 1;
	io[2].flags = UV_INHERIT_FD;
	io[2].data.fd = 2;
	o.file = "/proc/self/exe";
	o.args = args;
	o.env = env;
	o.stdio = io;
	o.stdio_count = 3;
	o.exit_cb = on_exit_cb;
	rc = uv_spawn(D.loop, &M.proc, &o);
	for (i = n - 3; i < n; i++)
		free(env[i]);
	free(env);
	if (rc != 0) {
		uv_close((uv_handle_t *)&M.proc, on_proc_close);
		log_warnx("mirror: cannot start the mirror process: %s; "
		    "retrying in %u ms", uv_strerror(rc), M.backoff_ms);
		uv_timer_start(&M.retry, on_retry, M.backoff_ms, 0);
		M.backoff_ms = M.backoff_ms * 2 > 60000 ? 60000 :
		    M.backoff_ms * 2;
		return;
	}
	M.running = 1;
	free(M.conninfo);
	M.conninfo = xstrdup(D.cfg.mirror_postgres);
	snprintf(M.schema, sizeof(M.schema), "%s", D.cfg.mirror_schema);
	M.batch = D.cfg.mirror_batch;
	log_info("mirror: postgres schema %s: mirror process %d started",
	    D.cfg.mirror_schema[0] ? D.cfg.mirror_schema : "cafesync",
	    M.proc.pid);
}

void
mirror_daemon_start(void)
{
	if (D.cfg.mirror_postgres == NULL)
		return;
	if (!M.timer_init) {
		uv_timer_init(D.loop, &M.retry);
		M.timer_init = 1;
	}
	M.backoff_ms = 1000;
	mirror_spawn();
}

void
mirror_daemon_reload(void)
{
	if (!M.running) {
		if (D.cfg.mirror_postgres != NULL && !D.stopping) {
			if (!M.timer_init) {
				uv_timer_init(D.loop, &M.retry);
				M.timer_init = 1;
			}
			M.backoff_ms = 1000;
			uv_timer_start(&M.retry, on_retry, 0, 0);
		}
		return;
	}
	if (D.cfg.mirror_postgres != NULL &&
	    strcmp(D.cfg.mirror_postgres, M.conninfo) == 0 &&
	    strcmp(D.cfg.mirror_schema, M.schema) == 0 &&
	    D.cfg.mirror_batch == M.batch)
		return;
	log_info("mirror: [mirror] changed: %s the mirror process",
	    D.cfg.mirror_postgres != NULL ? "restarting" : "stopping");
	M.restart = D.cfg.mirror_postgres != NULL;
	uv_process_kill(&M.proc, SIGTERM);
}

void
mirror_daemon_stop(void)
{
	if (M.running)
		uv_process_kill(&M.proc, SIGTERM);
	if (M.timer_init) {
		uv_timer_stop(&M.retry);
		uv_close((uv_handle_t *)&M.retry, NULL);
		M.timer_init = 0;
	}
	free(M.conninfo);
	M.conninfo = NULL;
}

/* ---- the child ---------------------------------------------------------- */

static volatile sig_atomic_t child_stop;

static void
on_child_signal(int sig)
{
	child_stop = sig;
}

static void
child_log(void *arg, enum mirror_level level, const char *msg)
{
	(void)arg;
	if (level == MIRROR_WARN)
		log_warnx("mirror: %s", msg);
	else
		log_info("mirror: %s", msg);
}

static void
child_caught_up(void *arg, const struct mirror_stats *st)
{
	struct mirror *m = arg;

	log_info("mirror: postgres schema %s up to date: %llu commits, %llu "
	    "records written, %llu removed, %llu refused",
	    mirror_schema(m), (unsigned long long)st->commits,
	    (unsigned long long)st->rows, (unsigned long long)st->removed,
	    (unsigned long long)st->refused);
}

int
mirror_child_main(int argc, char **argv)
{
	struct mirror_cfg cfg;
	struct sigaction sa;
	struct store *s;
	struct mirror *m;
	const char *batch = getenv(ENV_BATCH);
	char *cause = NULL, *conninfo;
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() == 1)
		return 0;             /* cafed died before the line above */
	if (argc != 3 || getenv(ENV_CONNINFO) == NULL) {
		fprintf(stderr, "cafed: --mirror-child is for cafed itself\n");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	conninfo = xstrdup(getenv(ENV_CONNINFO));
	unsetenv(ENV_CONNINFO);
	memset(&cfg, 0, sizeof(cfg));
	cfg.conninfo = conninfo;
	cfg.schema = getenv(ENV_SCHEMA);
	cfg.batch = batch != NULL ? (unsigned)strtoul(batch, NULL, 10) : 0;
	cfg.log = child_log;
	if (store_open(&s, argv[2], &cause) != 0) {
		log_warnx("mirror: %s", cause);
		free(cause);
		free(conninfo);
		return 1;
	}
	if ((m = mirror_new(s, &cfg, &cause)) == NULL) {
		log_warnx("mirror: %s", cause);
		free(cause);
		store_close(s);
		free(conninfo);
		return CHILD_REFUSED;
	}
	rc = mirror_watch(m, &child_stop, argv[2], child_caught_up, m);
	mirror_free(m);
	store_close(s);
	free(conninfo);
	return rc == CS_EPERM ? CHILD_REFUSED : 0;
}
