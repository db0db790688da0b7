/*
 * watch.c: a mirror that keeps watching the store (cafe mirror --watch,
 * cafed's [mirror] section), and the state file it leaves in the data
 * directory so that `cafe status` can say how far the mirror lags.
 *
 * The state file holds the positions the mirror has committed, not a
 * lag: cafe status counts the lag itself against the heads of the moment,
 * so the figure is fresh even while the mirror sleeps in a backoff.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "mirror.h"

#define STATUS_PREFIX "mirror-"
#define STATUS_SUFFIX ".status"

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
pos_json(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq, void *arg)
{
	char hex[2 * PROTO_KEY_LEN + 1];

	proto_hex(hex, origin, PROTO_KEY_LEN);
	json_object_set_new(arg, hex, json_integer((json_int_t)seq));
}

void
mirror_status_write(struct mirror *m, const char *data, const char *state,
    const char *error)
{
	json_t *o, *pos = json_object();
	char *path, *tmp;

	mirror_positions(m, pos_json, pos);
	o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:o}", "kind", "postgres",
	    "schema", mirror_schema(m), "pid", (json_int_t)getpid(),
	    "state", state, "updated_ms", (json_int_t)store_now_ms(),
	    "positions", pos);
	json_object_set_new(o, "error", error ? json_string(error) :
	    json_null());
	path = xasprintf("%s/" STATUS_PREFIX "%s" STATUS_SUFFIX, data,
	    mirror_schema(m));
	tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
	if (json_dump_file(o, tmp, JSON_COMPACT) == 0) {
		if (rename(tmp, path) != 0)
			unlink(tmp);
	} else
		unlink(tmp);
	free(tmp);
	free(path);
	json_decref(o);
}

int
mirror_watch(struct mirror *m, const volatile sig_atomic_t *stop,
    const char *data,
    void (*caught_up)(void *arg, const struct mirror_stats *st), void *arg)
{
	struct store *s = mirror_store(m);
	struct mirror_stats st;
	uint64_t seen = 0, changed_ms = 0, ran_ms = 0;
	long backoff = 100, slept;
	int failing = 0, first = 1, rc;
	char *cause = NULL;

	while (!*stop) {
		uint64_t txn = store_txnid(s), now = store_now_ms();

		/*
		 * The store's last transaction id (its meta page) can name
		 * a commit a moment before a new read transaction sees it:
		 * LMDB writes and syncs the meta page, then publishes the
		 * snapshot to readers.  A run started in that moment finds
		 * nothing new, and waiting for the id to change again would
		 * leave the commit behind until the next one.  So after a
		 * change the mirror runs again on every check for half a
		 * second (a run that finds nothing new costs a walk of the
		 * heads, not a word to PostgreSQL), and once a second in
		 * any case.
		 */
		if (txn != seen) {
			seen = txn;
			changed_ms = now;
		} else if (!failing && !first && now - changed_ms > 500 &&
		    now - ran_ms < 1000) {
			sleep_ms(10);
			continue;
		} else if (!failing && !first && now - changed_ms <= 500 &&
		    now - ran_ms < 10) {
			sleep_ms(10);
			continue;
		}
		ran_ms = now;
		memset(&st, 0, sizeof(st));
		rc = mirror_run(m, &st, &cause);
		if (rc == 0) {
			if (failing)
				mirror_logf(m, MIRROR_INFO, "postgres: working "
				    "again, caught up");
			if (first && caught_up != NULL)
				caught_up(arg, &st);
			if (data != NULL && (failing || first ||
			    st.commits > 0))
				mirror_status_write(m, data, "ok", NULL);
			failing = first = 0;
			backoff = 100;
			continue;
		}
		if (rc == CS_EPERM) {
			mirror_logf(m, MIRROR_WARN, "%s", cause);
			if (data != NULL)
				mirror_status_write(m, data, "refused", cause);
			free(cause);
			return CS_EPERM;
		}
		if (!failing) {
			mirror_logf(m, MIRROR_WARN, "%s; retrying until it "
			    "works", cause);
			if (data != NULL)
				mirror_status_write(m, data, "retrying", cause);
		}
		failing = 1;
		free(cause);
		cause = NULL;
		for (slept = 0; slept < backoff && !*stop; slept += 10)
			sleep_ms(10);
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
	if (data != NULL)
		mirror_status_write(m, data, "stopped", NULL);
	return 0;
}

/* Takes the receive time of the first commit walked, then stops. */
static int
first_recv(const struct store_commit *sc, void *arg)
{
	*(uint64_t *)arg = sc->recv_ms;
	return 1;
}

struct lag_arg {
	struct store *s;
	json_t *pos;
	uint64_t lag, oldest;
};

static int
lag_head(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const uint8_t hash[PROTO_HASH_LEN], void *arg)
{
	struct lag_arg *la = arg;
	char hex[2 * PROTO_KEY_LEN + 1];
	json_t *p;
	uint64_t at = 0, pos;

	proto_hex(hex, origin, PROTO_KEY_LEN);
	p = json_object_get(la->pos, hex);
	pos = json_is_integer(p) ? (uint64_t)json_integer_value(p) : 0;
	if (seq <= pos)
		return 0;
	la->lag += seq - pos;
	store_log(la->s, origin, pos + 1, first_recv, &at);
	if (at != 0 && (la->oldest == 0 || at < la->oldest))
		la->oldest = at;
	return 0;
}

json_t *
mirror_status_read(struct store *s, const char *data)
{
	json_t *all = json_array();
	struct dirent *de;
	DIR *d;

	if ((d = opendir(data)) == NULL)
		return all;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct lag_arg la = { s, NULL, 0, 0 };
		json_t *o, *pid;
		char *path;
		uint64_t now;

		if (n <= strlen(STATUS_PREFIX) + strlen(STATUS_SUFFIX) ||
		    strncmp(de->d_name, STATUS_PREFIX,
		    strlen(STATUS_PREFIX)) != 0 ||
		    strcmp(de->d_name + n - strlen(STATUS_SUFFIX),
		    STATUS_SUFFIX) != 0)
			continue;
		path = xasprintf("%s/%s", data, de->d_name);
		o = json_load_file(path, 0, NULL);
		free(path);
		if (!json_is_object(o)) {
			json_decref(o);
			continue;
		}
		pid = json_object_get(o, "pid");
		json_object_set_new(o, "running", json_boolean(
		    json_is_integer(pid) && json_integer_value(pid) > 0 &&
		    (kill((pid_t)json_integer_value(pid), 0) == 0 ||
		    errno == EPERM)));
		la.pos = json_object_get(o, "positions");
		store_heads(s, lag_head, &la);
		now = store_now_ms();
		json_object_set_new(o, "lag", json_integer((json_int_t)la.lag));
		json_object_set_new(o, "behind_ms", json_integer((json_int_t)
		    (la.lag > 0 && la.oldest != 0 && now > la.oldest ?
		    now - la.oldest : 0)));
		json_array_append_new(all, o);
	}
	closedir(d);
	return all;
}
