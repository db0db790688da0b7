/*
 * store.c: opening and creating a node's store, the node key, the meta
 * database, and the transaction runners (store_write() grows the map and
 * runs the write again; store_read_begin() follows a map another process
 * grew).  Reads are in records.c and log.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "audit_derived.h"

#define MAP_SIZE_DEFAULT ((size_t)256 << 20)

const char *const store_db_names[DB_COUNT] = { "meta", "commits", "heads",
	"records", "bysite", "bydate", "history", "conflicts",
	"forks", "seen", "peers", "invites", "pending", "names",
	"lastseen" };

/* The data directory cafe and cafed use without --data (malloc'd). */
char *
store_default_data(void)
{
	const char *v;

	if ((v = getenv("CAFE_DATA")) != NULL && v[0] != '\0')
		return xstrdup(v);
	if ((v = getenv("XDG_DATA_HOME")) != NULL && v[0] != '\0')
		return xasprintf("%s/cafesync", v);
	if ((v = getenv("HOME")) != NULL && v[0] != '\0')
		return xasprintf("%s/.local/share/cafesync", v);
	return NULL;
}

/* Returns the wall clock in milliseconds. */
uint64_t
store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Returns the index of t in the schema table. */
unsigned
store_type_index(const struct sch_type *t)
{
	return (unsigned)(t - sch_types);
}

/* Records an LMDB failure. */
int
store_mdb_fail(struct store *s, int rc)
{
	s->mdb_err = rc;
	return CS_EDB;
}

/*
 * Deletes the entries of dbi from key (klen bytes) on while their keys
 * start with key's first plen bytes.  Returns 0 or CS_EDB.
 */
int
store_drop_from(struct store *s, MDB_txn *txn, MDB_dbi dbi, const void *key,
    size_t klen, size_t plen)
{
	MDB_val k = { klen, (void *)(uintptr_t)key }, d;
	MDB_cursor *cur;
	int rc;

	if ((rc = mdb_cursor_open(txn, dbi, &cur)) != 0)
		return store_mdb_fail(s, rc);
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		if (k.mv_size < plen || memcmp(k.mv_data, key, plen) != 0)
			break;
		if ((rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_fail(s, rc);
}

/* Opens a read transaction. */
int
store_read_begin(struct store *s, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);

	if (rc == MDB_MAP_RESIZED) {
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
	}
	return rc == 0 ? 0 : CS_EDB;
}

/* Opens a read transaction and a cursor on dbi in it; on failure neither
 * stays open.  Returns 0 or CS_EDB. */
int
store_read_cursor(struct store *s, MDB_txn **txn, MDB_dbi dbi,
    MDB_cursor **cur)
{
	if (store_read_begin(s, txn) != 0)
		return CS_EDB;
	if (mdb_cursor_open(*txn, dbi, cur) != 0) {
		mdb_txn_abort(*txn);
		return CS_EDB;
	}
	return 0;
}

/* Below this much free space a failed write is taken for a full disk. */
#define SPACE_LOW ((unsigned long long)16 << 20)

/*
 * Tells whether a write that failed with rc failed for want of space: LMDB
 * reports a short write to a full disk as an I/O error.  Then fills *cause
 * with what is free and about what the write needs.
 */
int
store_space_low(struct store *s, int rc, char **cause)
{
	struct statvfs sv;
	unsigned long long avail, need;

	if ((rc != EIO && rc != ENOSPC && rc != EDQUOT) ||
	    statvfs(s->dir, &sv) != 0)
		return 0;
	avail = (unsigned long long)sv.f_bavail * sv.f_frsize;
	if (rc != ENOSPC && rc != EDQUOT && avail >= SPACE_LOW)
		return 0;
	/* The log, the records and their indexes: about three times the
	 * commits' bytes, and LMDB's own pages; at least one MB. */
	need = ((unsigned long long)s->write_hint * 3 + (1u << 20) - 1) >> 20;
	if (need < 1)
		need = 1;
	if (cause != NULL)
		*cause = xasprintf("no space left on device (%s): %.1f MB free, "
		    "about %llu MB needed", s->dir, (double)avail / 1048576.0,
		    need);
	return 1;
}

/* Runs fn in a write transaction, growing the map as needed. */
int
store_write(struct store *s, store_write_fn fn, void *arg, char **cause)
{
	MDB_txn *txn;
	MDB_envinfo ei;
	int rc, r;

	for (;;) {
		s->mdb_err = 0;
		rc = mdb_txn_begin(s->env, NULL, 0, &txn);
		if (rc == MDB_MAP_RESIZED) {
			mdb_env_set_mapsize(s->env, 0);
			continue;
		}
		if (rc != 0)
			break;
		r = fn(s, txn, arg);
		if (r != 0) {
			mdb_txn_abort(txn);
			if (s->mdb_err == MDB_MAP_FULL)
				goto grow;
			if (s->mdb_err != 0) {
				rc = s->mdb_err;
				break;
			}
			return r;
		}
		rc = mdb_txn_commit(txn);
		if (rc == 0)
			return 0;
		if (rc != MDB_MAP_FULL)
			break;
grow:
		mdb_env_info(s->env, &ei);
		rc = mdb_env_set_mapsize(s->env, ei.me_mapsize * 2);
		if (rc != 0)
			break;
	}
	if (store_space_low(s, rc, cause))
		return CS_ENOSPC;
	if (cause != NULL)
		*cause = xasprintf("store: %s", mdb_strerror(rc));
	return CS_EDB;
}

/*
 * Makes dir and its missing parents (mode 0700).  Returns 0, or the errno
 * of the first mkdir that failed (later calls and free() may change
 * errno itself).
 */
static int
mkdir_p(const char *dir)
{
	char *p = xstrdup(dir), *q;
	int err = 0;

	for (q = p + 1; *q != '\0'; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST && err == 0)
			err = errno;
		*q = '/';
	}
	if (mkdir(p, 0700) != 0 && errno != EEXIST && err == 0)
		err = errno;
	free(p);
	return err;
}

/*
 * Reads a whole small file into buf; returns its length, or -1 with errno
 * that of the call that failed (close() may change it: it is kept).
 */
static ssize_t
read_small(const char *path, uint8_t *buf, size_t max, struct stat *st)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), err;
	ssize_t n;

	if (fd < 0)
		return -1;
	if (fstat(fd, st) != 0)
		n = -1;
	else
		n = read(fd, buf, max);
	err = errno;
	close(fd);
	errno = err;
	return n;
}

/* Writes the secret key to a new file, mode 0600, never overwriting. */
static int
write_key(const char *path, const uint8_t sk[PROTO_SK_LEN], char **cause)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ssize_t n;
	int err;

	if (fd < 0) {
		/* errno first: xasprintf() may change it. */
		err = errno;
		*cause = xasprintf("%s: %s", path, strerror(err));
		return err == EEXIST ? CS_EEXIST : CS_EIO;
	}
	if ((n = write(fd, sk, PROTO_SK_LEN)) != PROTO_SK_LEN ||
	    fsync(fd) != 0) {
		/* A short write sets no errno: say what happened. */
		*cause = n >= 0 && n != PROTO_SK_LEN ?
		    xasprintf("%s: short write (%zd of %d bytes)", path, n,
		    PROTO_SK_LEN) : xasprintf("%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return CS_EIO;
	}
	close(fd);
	return 0;
}

/* Opens the environment and every named database. */
static int
env_open(struct store *s, const char *dir, char **cause)
{
	MDB_txn *txn;
	const char *env_size = getenv("CAFESYNC_MAP_SIZE");
	size_t size = MAP_SIZE_DEFAULT;
	int rc, i;

	if (env_size != NULL && atol(env_size) > 0)
		size = (size_t)atol(env_size);
	if ((rc = mdb_env_create(&s->env)) != 0 ||
	    (rc = mdb_env_set_maxdbs(s->env, DB_COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, size)) != 0)
		goto fail;
	rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
	if (rc != 0)
		goto fail;
	/* The map may already be larger than asked: adopt the file's size. */
	mdb_env_set_mapsize(s->env, 0);
	/*
	 * Open the databases in a read transaction when they all exist, so
	 * a reader never waits for the writer's lock; create them otherwise.
	 */
	if (store_read_begin(s, &txn) == 0) {
		/* Before LMDB reads a page through the map: the pages every
		 * open reads, from the file, in this snapshot. */
		if ((rc = audit_open_pages(dir, cause)) != 0) {
			mdb_txn_abort(txn);
			return rc;
		}
		for (i = 0; i < DB_COUNT; i++)
			if (mdb_dbi_open(txn, store_db_names[i], 0,
			    &s->dbi[i]) != 0)
				break;
		if (i == DB_COUNT && mdb_txn_commit(txn) == 0)
			return 0;
		if (i != DB_COUNT)
			mdb_txn_abort(txn);
	}
	if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
		goto fail;
	for (i = 0; i < DB_COUNT; i++)
		if ((rc = mdb_dbi_open(txn, store_db_names[i], MDB_CREATE,
		    &s->dbi[i])) != 0) {
			mdb_txn_abort(txn);
			goto fail;
		}
	if ((rc = mdb_txn_commit(txn)) != 0)
		goto fail;
	return 0;
fail:
	if (rc == MDB_INVALID || rc == MDB_CORRUPTED ||
	    rc == MDB_PAGE_NOTFOUND || rc == MDB_VERSION_MISMATCH) {
		*cause = xasprintf("store damaged: %s/data.mdb: %s", dir,
		    mdb_strerror(rc));
		return CS_EDAMAGED;
	}
	*cause = xasprintf("%s: cannot open the store: %s", dir,
	    mdb_strerror(rc));
	return CS_EDB;
}

/* Puts a meta key. */
int
store_meta_put(struct store *s, MDB_txn *txn, const char *key, const void *v,
    size_t len)
{
	MDB_val k = { strlen(key), (void *)(uintptr_t)key };
	MDB_val d = { len, (void *)(uintptr_t)v };
	int rc = mdb_put(txn, s->dbi[DB_META], &k, &d, 0);

	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

struct create_arg {
	const char *name;
	const char *role;
	int restore;
};

/* Writes the meta and members of a new node. */
static int
create_fn(struct store *s, MDB_txn *txn, void *arg)
{
	struct create_arg *ca = arg;
	uint8_t ver[LAY_SCHEMA_LEN];
	uint8_t digest[PROTO_HASH_LEN] = { 0 };
	int rc;

	put_be32(ver, STORE_SCHEMA_VERSION);
	if ((rc = store_meta_put(s, txn, "schema", ver, sizeof(ver))) != 0 ||
	    (rc = store_meta_put(s, txn, "node", s->info.node, PROTO_KEY_LEN)) != 0 ||
	    (rc = store_meta_put(s, txn, "network", s->info.network,
	    PROTO_KEY_LEN)) != 0 ||
	    (rc = store_meta_put(s, txn, "role", ca->role, strlen(ca->role))) != 0 ||
	    (rc = store_meta_put(s, txn, "name", ca->name, strlen(ca->name))) != 0 ||
	    (rc = store_meta_put(s, txn, "digest", digest, sizeof(digest))) != 0)
		return rc;
	if (ca->restore && (rc = store_meta_put(s, txn, "restore", "1", 1)) != 0)
		return rc;
	/* Membership arrives with the admin log, as member records. */
	return 0;
}

/*
 * Creates a node in dir with the key sk (NULL: a fresh one); restore
 * marks it as waiting for its own log (see store_restore()).
 */
static int
create_node(const char *dir, const char *name, const char *role,
    const uint8_t *network, const uint8_t *sk, int restore, char **cause)
{
	struct store s;
	struct create_arg ca = { name, role, restore };
	uint8_t pk[PROTO_KEY_LEN];
	char *path;
	struct stat st;
	int rc;

	memset(&s, 0, sizeof(s));
	if (sodium_init() < 0) {
		*cause = xstrdup("libsodium failed to initialise");
		return CS_EIO;
	}
	if (strlen(name) == 0 || strlen(name) >= sizeof(s.info.name)) {
		*cause = xasprintf("name: must be 1 to %zu bytes",
		    sizeof(s.info.name) - 1);
		return CS_EUSAGE;
	}
	if ((rc = mkdir_p(dir)) != 0) {
		*cause = xasprintf("%s: %s", dir, strerror(rc));
		return CS_EIO;
	}
	/* Files made here by root would lock the directory's owner out. */
	{
		uid_t owner;
		char *who, *uname;

		if (store_owner_check(dir, &owner, &who) != 0) {
			uname = store_user_name(owner);
			*cause = xasprintf("%s: make the node as %s (sudo -u "
			    "%s cafe --data %s ...)", who, uname, uname, dir);
			free(uname);
			free(who);
			return CS_EPERM;
		}
	}
	path = xasprintf("%s/data.mdb", dir);
	rc = stat(path, &st);
	free(path);
	if (rc == 0) {
		*cause = xasprintf("%s already holds a node", dir);
		return CS_EEXIST;
	}
	if (sk != NULL) {
		memcpy(s.sk, sk, PROTO_SK_LEN);
		memcpy(pk, lay_sk_pk(sk), PROTO_KEY_LEN);
	} else
		crypto_sign_keypair(pk, s.sk);
	path = xasprintf("%s/%s", dir, STORE_KEY_FILE);
	rc = write_key(path, s.sk, cause);
	if (rc == CS_EEXIST) {
		free(*cause);
		*cause = xasprintf("%s already holds a node key", dir);
	}
	if (rc != 0) {
		free(path);
		sodium_memzero(s.sk, sizeof(s.sk));
		return rc;
	}
	memcpy(s.info.node, pk, PROTO_KEY_LEN);
	memcpy(s.info.network, network != NULL ? network : pk, PROTO_KEY_LEN);
	if ((rc = env_open(&s, dir, cause)) == 0)
		rc = store_write(&s, create_fn, &ca, cause);
	if (s.env != NULL)
		mdb_env_close(s.env);
	if (rc != 0)
		unlink(path);
	free(path);
	sodium_memzero(s.sk, sizeof(s.sk));
	return rc;
}

/* Creates a node with a fresh key. */
int
store_create(const char *dir, const char *name, const char *role,
    const uint8_t *network, char **cause)
{
	return create_node(dir, name, role, network, NULL, 0, cause);
}

/* Creates a node from a backed-up key. */
int
store_restore(const char *dir, const char *name, const char *role,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t sk[PROTO_SK_LEN],
    int force, char **cause)
{
	uint8_t pk[PROTO_KEY_LEN];

	if (sodium_init() < 0) {
		*cause = xstrdup("libsodium failed to initialise");
		return CS_EIO;
	}
	/* The public half must be the one the secret half derives. */
	crypto_sign_ed25519_sk_to_pk(pk, sk);
	if (memcmp(pk, lay_sk_pk(sk), PROTO_KEY_LEN) != 0) {
		*cause = xstrdup("the key file is not an ed25519 node key "
		    "(its two halves do not match)");
		return CS_EUSAGE;
	}
	return create_node(dir, name, role, network, sk, !force, cause);
}

/* Tells whether the node still waits for its own log after a restore. */
int
store_restore_pending(struct store *s)
{
	MDB_txn *txn;
	char v[4];
	int pending;

	if (store_read_begin(s, &txn) != 0)
		return 0;
	pending = store_meta_get(txn, s->dbi[DB_META], "restore", v,
	    sizeof(v), NULL) == 0;
	mdb_txn_abort(txn);
	return pending;
}

static int
restore_done_fn(struct store *s, MDB_txn *txn, void *arg)
{
	MDB_val k = { 7, (void *)(uintptr_t)"restore" };
	int rc = mdb_del(txn, s->dbi[DB_META], &k, NULL);

	(void)arg;
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : store_mdb_fail(s, rc);
}

/* Lets a restored node write again. */
int
store_restore_done(struct store *s, char **cause)
{
	return store_write(s, restore_done_fn, NULL, cause);
}

/* Refuses local writes while a restore waits for the node's own log. */
int
store_write_allowed(struct store *s, char **cause)
{
	if (!store_restore_pending(s))
		return 0;
	*cause = xstrdup("this node was restored from its key and may not "
	    "write until cafed has fetched its own log from a peer "
	    "(see cafe status)");
	return CS_EPERM;
}

/* Returns the id of the store's last committed write transaction. */
uint64_t
store_txnid(struct store *s)
{
	MDB_envinfo ei;

	if (mdb_env_info(s->env, &ei) != 0)
		return 0;
	return (uint64_t)ei.me_last_txnid;
}

/* Reads a meta value into buf. */
int
store_meta_get(MDB_txn *txn, MDB_dbi dbi, const char *key, void *buf, size_t max,
    size_t *len)
{
	MDB_val k = { strlen(key), (void *)(uintptr_t)key }, d;

	if (mdb_get(txn, dbi, &k, &d) != 0 || d.mv_size > max)
		return -1;
	memcpy(buf, d.mv_data, d.mv_size);
	if (len != NULL)
		*len = d.mv_size;
	return 0;
}

/* Opens the node in dir. */
int
store_open(struct store **sp, const char *dir, char **cause)
{
	struct store *s = xcalloc(1, sizeof(*s));
	uint8_t ver[LAY_SCHEMA_LEN];
	char *path;
	struct stat st;
	MDB_txn *txn;
	size_t n;
	ssize_t kl;
	int rc;

	*sp = NULL;
	if (sodium_init() < 0) {
		*cause = xstrdup("libsodium failed to initialise");
		free(s);
		return CS_EIO;
	}
	if ((rc = store_files_check(dir, cause)) != 0) {
		free(s);
		return rc;
	}
	path = xasprintf("%s/%s", dir, STORE_KEY_FILE);
	kl = read_small(path, s->sk, sizeof(s->sk), &st);
	if (kl < 0) {
		/* Kept: store_owner_check() below may change errno. */
		int err = errno;
		uid_t owner;
		char *who, *name;

		if (err == EACCES &&
		    store_owner_check(dir, &owner, &who) != 0) {
			name = store_user_name(owner);
			*cause = owner == 0 ?
			    xasprintf("%s: the node is root's: run cafe as "
			    "root (sudo cafe --data %s ...)", who, dir) :
			    xasprintf("%s: the node is %s's: run cafe as %s "
			    "(sudo -u %s cafe --data %s ...) or as root", who,
			    name, name, name, dir);
			free(name);
			free(who);
		} else
			*cause = err == ENOENT ?
			    xasprintf("%s holds no node (run cafe init)", dir) :
			    xasprintf("%s: %s", path, strerror(err));
		free(path);
		free(s);
		return CS_ENOTFOUND;
	}
	if ((st.st_mode & 077) != 0) {
		*cause = xasprintf("%s: readable by others (mode %03o); "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		free(path);
		store_close(s);
		return CS_EPERM;
	}
	if (kl != PROTO_SK_LEN || st.st_size != PROTO_SK_LEN) {
		*cause = xasprintf("%s: not a node key", path);
		free(path);
		store_close(s);
		return CS_EIO;
	}
	free(path);
	s->dir = xstrdup(dir);
	/* A truncated file would fault when mapped pages past its end are
	 * read: check it first.  A missing one is made empty by LMDB and
	 * refused below for its missing meta data. */
	if ((rc = audit_file_check(dir, cause)) == CS_ENOTFOUND) {
		free(*cause);
		*cause = NULL;
	} else if (rc != 0) {
		store_close(s);
		return rc;
	}
	if ((rc = env_open(s, dir, cause)) != 0) {
		store_close(s);
		return rc;
	}
	if (store_read_begin(s, &txn) != 0) {
		*cause = xasprintf("%s: cannot read the store", dir);
		store_close(s);
		return CS_EDB;
	}
	if (store_meta_get(txn, s->dbi[DB_META], "schema", ver, sizeof(ver),
	    NULL) == 0 &&
	    get_be32(ver) != STORE_SCHEMA_VERSION) {
		mdb_txn_abort(txn);
		*cause = get_be32(ver) < STORE_SCHEMA_VERSION ?
		    xasprintf("%s: the store is of format %u, older than "
		    "this cafesync's %u, whose record ids carry their owner: "
		    "move it aside, then make the node anew from its key "
		    "(cafe init --restore DIR/node.key) and sync it", dir,
		    (unsigned)get_be32(ver), STORE_SCHEMA_VERSION) :
		    xasprintf("%s: the store is of format %u, newer than "
		    "format %u, which this cafesync reads: run the cafesync "
		    "that wrote it, or a newer one", dir,
		    (unsigned)get_be32(ver), (unsigned)STORE_SCHEMA_VERSION);
		store_close(s);
		return CS_EVERSION;
	}
	if (store_meta_get(txn, s->dbi[DB_META], "schema", ver, 4, NULL) != 0 ||
	    store_meta_get(txn, s->dbi[DB_META], "node", s->info.node,
	    PROTO_KEY_LEN, NULL) != 0 ||
	    store_meta_get(txn, s->dbi[DB_META], "network", s->info.network,
	    PROTO_KEY_LEN, NULL) != 0 ||
	    store_meta_get(txn, s->dbi[DB_META], "role", s->info.role,
	    sizeof(s->info.role) - 1, &n) != 0) {
		MDB_val mk = { 6, (void *)(uintptr_t)"schema" }, md;

		rc = mdb_get(txn, s->dbi[DB_META], &mk, &md);
		mdb_txn_abort(txn);
		if (rc != 0 && rc != MDB_NOTFOUND) {
			*cause = xasprintf("store damaged: %s/data.mdb: the "
			    "meta data cannot be read: %s", dir,
			    mdb_strerror(rc));
			store_close(s);
			return CS_EDAMAGED;
		}
		*cause = xasprintf("%s: the store's meta data is missing or "
		    "of another schema version", dir);
		store_close(s);
		return CS_EDB;
	}
	s->info.role[n] = '\0';
	if (store_meta_get(txn, s->dbi[DB_META], "name", s->info.name,
	    sizeof(s->info.name) - 1, &n) == 0)
		s->info.name[n] = '\0';
	mdb_txn_abort(txn);
	if (memcmp(lay_sk_pk(s->sk), s->info.node, PROTO_KEY_LEN) != 0) {
		*cause = xasprintf("%s: the key file does not belong to this "
		    "store", dir);
		store_close(s);
		return CS_EPERM;
	}
	*sp = s;
	return 0;
}

/* Closes the store. */
void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	if (s->env != NULL)
		mdb_env_close(s->env);
	sodium_memzero(s->sk, sizeof(s->sk));
	free(s->dir);
	free(s);
}

/* Returns the node's meta. */
const struct store_info *
store_info(const struct store *s)
{
	return &s->info;
}

/* Returns the node's secret key. */
const uint8_t *
store_secret_key(const struct store *s)
{
	return s->sk;
}

/* Reads a head inside txn. */
int
store_head_get(struct store *s, MDB_txn *txn, const uint8_t *origin,
    uint64_t *seq, uint8_t hash[PROTO_HASH_LEN], uint64_t *hlc)
{
	MDB_val k = { PROTO_KEY_LEN, (void *)(uintptr_t)origin }, d;

	if (mdb_get(txn, s->dbi[DB_HEADS], &k, &d) != 0 ||
	    d.mv_size != LAY_HEAD_LEN)
		return CS_ENOTFOUND;
	*seq = lay_head_seq(d.mv_data);
	if (hash != NULL)
		memcpy(hash, lay_head_hash(d.mv_data), PROTO_HASH_LEN);
	if (hlc != NULL)
		*hlc = lay_head_hlc(d.mv_data);
	return 0;
}
