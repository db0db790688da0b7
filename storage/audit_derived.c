/*
 * audit_derived.c: what store_audit() checks beyond the signed log.
 *
 * The log (the commits database) is signed; every other table is either
 * derived from it by the merge, or local state of this node.  Derived:
 * the records, the bydate and bysite indexes, the history, the conflicts
 * and the seen bases, the name and short-id index, the heads, the digest
 * and the node's clock (meta "hlc").  Local, not derived, so not compared:
 * the peers, the invites, when each peer last synced (lastseen),
 * the node's own entry in the members table (written once by cafe init;
 * membership proper is the admin's member records), the fork evidence
 * (commits never applied: cafe audit shows and checks each one), and the
 * rest of meta (the node's key, network, name and role, which store_open()
 * checks against the key file).
 *
 * The checks, in the order they run.  The file check reads the two LMDB
 * meta pages of data.mdb with pread() before the file is mapped, so a
 * truncated file is refused with a message instead of killing the reader
 * with SIGBUS.  The page walk reads the pages of every B-tree the same way
 * (on every open, only those an open reads), so a damaged page is named
 * before LMDB follows its pointers through the map.  The structure walk
 * reads every database through LMDB to its end: keys in order, each found
 * by its key, entries of the sizes the code writes, counts that hold.  The
 * derived comparison walks each derived table beside the one a replay of
 * the log built, entry by entry, and names every entry missing, extra or
 * different.  The received-time check looks at the time kept before each
 * commit.
 *
 * The page-level checks know LMDB 0.9's file layout on a 64-bit host and
 * are skipped on any other.  A page damaged in a way none of them foresaw
 * can still make LMDB fault; cafe audit, verify and status therefore run
 * in a child process and report a signal as a damaged store (cli/guard.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit_derived.h"

/* ---- the file, before it is mapped ------------------------------------ */

/*
 * The layout LMDB 0.9 (data version 1) gives its two meta pages on a
 * 64-bit host: a 16-byte page header (pgno 8, pad 2, flags 2, lower and
 * upper 2 + 2), then MDB_meta: magic 4, version 4, address 8, mapsize 8,
 * two MDB_db of 48 bytes (the free list's md_pad holds the page size;
 * md_root is the last 8 bytes of each), last_pg 8, txnid 8.  The values
 * are in the host's byte order.
 */
#define LM_PAGEHDR 16
#define LM_P_META 0x08
#define LM_MAGIC 0xBEEFC0DEu
#define LM_VERSION 1u
#define LM_OFF_FLAGS 10
#define LM_OFF_MAGIC (LM_PAGEHDR + 0)
#define LM_OFF_VERSION (LM_PAGEHDR + 4)
#define LM_OFF_MAPSIZE (LM_PAGEHDR + 16)
#define LM_OFF_DB0 (LM_PAGEHDR + 24)
#define LM_DB_SIZE 48
#define LM_OFF_PSIZE LM_OFF_DB0
#define LM_OFF_ROOT 40            /* within an MDB_db */
#define LM_OFF_LASTPG (LM_OFF_DB0 + 2 * LM_DB_SIZE)
#define LM_OFF_TXNID (LM_OFF_LASTPG + 8)
#define LM_META_END (LM_OFF_TXNID + 8)
#define LM_P_INVALID UINT64_MAX

/* One meta page, as far as the file check needs it. */
struct lm_meta {
	uint32_t psize;
	uint64_t mapsize, last_pg, txnid;
	uint64_t root[2];
};

static uint16_t
host16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint32_t
host32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t
host64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* Returns whether the page-level checks know this LMDB's file layout. */
static int
layout_known(void)
{
	int major, minor, patch;

	mdb_version(&major, &minor, &patch);
	return sizeof(void *) == 8 && sizeof(size_t) == 8 && major == 0 &&
	    minor == 9;
}

/*
 * Reads the meta page at off into m; returns NULL or why it is not one
 * (a static string).
 */
static const char *
meta_read(int fd, off_t off, struct lm_meta *m)
{
	uint8_t b[LM_META_END];
	ssize_t n = pread(fd, b, sizeof(b), off);

	if (n != (ssize_t)sizeof(b))
		return "the file ends inside it";
	if ((host16(b + LM_OFF_FLAGS) & LM_P_META) == 0 ||
	    host32(b + LM_OFF_MAGIC) != LM_MAGIC)
		return "it is not an LMDB meta page";
	if (host32(b + LM_OFF_VERSION) != LM_VERSION)
		return "it is of another LMDB data version";
	m->psize = host32(b + LM_OFF_PSIZE);
	m->mapsize = host64(b + LM_OFF_MAPSIZE);
	m->root[0] = host64(b + LM_OFF_DB0 + LM_OFF_ROOT);
	m->root[1] = host64(b + LM_OFF_DB0 + LM_DB_SIZE + LM_OFF_ROOT);
	m->last_pg = host64(b + LM_OFF_LASTPG);
	m->txnid = host64(b + LM_OFF_TXNID);
	return NULL;
}

/* Checks data.mdb before it is mapped. */
int
audit_file_check(const char *dir, char **cause)
{
	char *path = xasprintf("%s/data.mdb", dir);
	struct lm_meta m[2];
	struct stat st;
	const char *why;
	uint64_t need, last;
	int fd, i, rc = CS_EDAMAGED;

	if (!layout_known()) {
		free(path);
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = errno == ENOENT ? CS_ENOTFOUND : CS_EIO;
		*cause = xasprintf("%s: %s", path, strerror(errno));
		free(path);
		return rc;
	}
	/* The metas first: a writer extends the file before it writes the
	 * meta page that uses the new pages, never after. */
	if ((why = meta_read(fd, 0, &m[0])) != NULL) {
		if (fstat(fd, &st) != 0)
			st.st_size = 0;
		*cause = xasprintf("store damaged: %s (%lld bytes): its first "
		    "meta page is unreadable: %s", path,
		    (long long)st.st_size, why);
		goto out;
	}
	if (m[0].psize < 256 || m[0].psize > 65536 ||
	    (m[0].psize & (m[0].psize - 1)) != 0) {
		*cause = xasprintf("store damaged: %s: its meta page gives a "
		    "page size of %u bytes", path, (unsigned)m[0].psize);
		goto out;
	}
	if ((why = meta_read(fd, (off_t)m[0].psize, &m[1])) != NULL) {
		if (fstat(fd, &st) != 0)
			st.st_size = 0;
		*cause = xasprintf("store damaged: %s (%lld bytes): its second "
		    "meta page is unreadable: %s", path,
		    (long long)st.st_size, why);
		goto out;
	}
	/* LMDB reads the newer meta; the older one must hold as well,
	 * since a reader may still be on it. */
	last = 1;
	for (i = 0; i < 2; i++) {
		int j;

		for (j = 0; j < 2; j++)
			if (m[i].root[j] != LM_P_INVALID &&
			    m[i].root[j] > m[i].last_pg) {
				*cause = xasprintf("store damaged: %s: meta "
				    "page %d names page %llu as a root, past "
				    "its last page %llu", path, i,
				    (unsigned long long)m[i].root[j],
				    (unsigned long long)m[i].last_pg);
				goto out;
			}
		if (m[i].last_pg > last)
			last = m[i].last_pg;
	}
	if (last >= UINT64_MAX / m[0].psize) {
		*cause = xasprintf("store damaged: %s: meta page says its last "
		    "page is %llu", path, (unsigned long long)last);
		goto out;
	}
	need = (last + 1) * m[0].psize;
	if (fstat(fd, &st) != 0) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		rc = CS_EIO;
		goto out;
	}
	if ((uint64_t)st.st_size < need) {
		*cause = xasprintf("store damaged: %s is %lld bytes, but its "
		    "meta pages use %llu pages of %u bytes (%llu bytes): the "
		    "file is truncated", path, (long long)st.st_size,
		    (unsigned long long)last + 1, (unsigned)m[0].psize,
		    (unsigned long long)need);
		goto out;
	}
	rc = 0;
out:
	close(fd);
	free(path);
	return rc;
}

/* ---- every page, read from the file ------------------------------------ */

/*
 * The pages of each B-tree, read with pread() rather than through LMDB's
 * map, so that a damaged page is named instead of followed: LMDB trusts a
 * page's pointers and sizes, and reads where they point.  Page layout
 * (LMDB 0.9): the 16-byte header (pgno 8, pad 2, flags 2, lower 2, upper
 * 2; an overflow page has its page count in lower and upper), then lower
 * - 16 bytes of 2-byte node offsets.  A node: lo 2, hi 2, flags 2, ksize
 * 2, the key, then the data: in a branch page lo, hi and flags make the
 * child's page number; in a leaf, lo and hi the data's size, F_BIGDATA
 * puts the data on overflow pages (its first page number in the node)
 * and F_SUBDATA marks a named database's MDB_db in the main database.
 */
#define LM_P_BRANCH 0x01
#define LM_P_LEAF 0x02
#define LM_P_OVERFLOW 0x04
#define LM_F_BIGDATA 0x01
#define LM_F_SUBDATA 0x02
#define LM_NODE 8
#define LM_DEPTH_MAX 32           /* LMDB's cursor stack */

struct pagewalk {
	int fd;
	uint32_t psize;
	uint64_t last_pg;
	uint8_t *seen;            /* a bit per page: reached once already */
	uint8_t *page;            /* psize bytes */
	const char *db;           /* the tree being walked */
	const char *only;         /* walk only this named database, or all */
	char why[300];
};

/* Marks pages [pg, pg + n) reached; returns -1 when one already was. */
static int
page_mark(struct pagewalk *w, uint64_t pg, uint64_t n)
{
	uint64_t i;

	for (i = pg; i < pg + n; i++) {
		if (w->seen[i / 8] & (1u << (i % 8)))
			return -1;
		w->seen[i / 8] |= (uint8_t)(1u << (i % 8));
	}
	return 0;
}

/* Reads page pg into w->page; returns 0 or -1 with w->why set. */
static int
page_read(struct pagewalk *w, uint64_t pg, const char *what)
{
	if (pg < 2 || pg > w->last_pg) {
		snprintf(w->why, sizeof(w->why), "database %s: %s names page "
		    "%llu, outside the file's pages 2 to %llu", w->db, what,
		    (unsigned long long)pg, (unsigned long long)w->last_pg);
		return -1;
	}
	if (pread(w->fd, w->page, w->psize, (off_t)(pg * w->psize)) !=
	    (ssize_t)w->psize) {
		snprintf(w->why, sizeof(w->why), "database %s: page %llu "
		    "cannot be read", w->db, (unsigned long long)pg);
		return -1;
	}
	if (host64(w->page) != pg) {
		snprintf(w->why, sizeof(w->why), "database %s: page %llu says "
		    "it is page %llu", w->db, (unsigned long long)pg,
		    (unsigned long long)host64(w->page));
		return -1;
	}
	return 0;
}

/* Checks the overflow pages at pg holding a value of size bytes. */
static int
overflow_check(struct pagewalk *w, uint64_t pg, uint64_t size)
{
	uint32_t n;

	if (page_read(w, pg, "a value") != 0)
		return -1;
	n = host32(w->page + 12);
	if ((host16(w->page + LM_OFF_FLAGS) & 0xff) != LM_P_OVERFLOW ||
	    n == 0 || pg + n - 1 > w->last_pg ||
	    (uint64_t)n * w->psize - LM_PAGEHDR < size) {
		snprintf(w->why, sizeof(w->why), "database %s: page %llu is "
		    "not the overflow run of a %llu-byte value", w->db,
		    (unsigned long long)pg, (unsigned long long)size);
		return -1;
	}
	if (page_mark(w, pg, n) != 0) {
		snprintf(w->why, sizeof(w->why), "database %s: page %llu is "
		    "reached twice", w->db, (unsigned long long)pg);
		return -1;
	}
	return 0;
}

static int tree_walk(struct pagewalk *w, uint64_t root, uint16_t depth,
    int main_db);

/* Walks the named database whose MDB_db is db (48 bytes), named name. */
static int
subdb_walk(struct pagewalk *w, const uint8_t *db, const char *name)
{
	const char *outer = w->db;
	uint64_t root = host64(db + LM_OFF_ROOT);
	int rc;

	if (root == LM_P_INVALID)
		return 0;
	w->db = name;
	rc = tree_walk(w, root, host16(db + 6), 0);
	w->db = outer;
	return rc;
}

/*
 * Walks the tree rooted at page pg, whose leaves must all be at depth
 * depth (md_depth).  Returns 0 or -1 with w->why set.  Pages are read
 * again after each child, since w->page is shared.
 */
static int
tree_walk_at(struct pagewalk *w, uint64_t pg, uint16_t depth, uint16_t level,
    int main_db)
{
	uint16_t flags, lower, upper, i, nkeys;

	if (level > LM_DEPTH_MAX || level > depth) {
		snprintf(w->why, sizeof(w->why), "database %s: page %llu lies "
		    "deeper than the tree's depth %u", w->db,
		    (unsigned long long)pg, (unsigned)depth);
		return -1;
	}
	if (page_read(w, pg, level == 1 ? "its root" : "a branch") != 0)
		return -1;
	if (page_mark(w, pg, 1) != 0) {
		snprintf(w->why, sizeof(w->why), "database %s: page %llu is "
		    "reached twice", w->db, (unsigned long long)pg);
		return -1;
	}
	flags = host16(w->page + LM_OFF_FLAGS);
	lower = host16(w->page + 12);
	upper = host16(w->page + 14);
	if ((flags != LM_P_BRANCH && flags != LM_P_LEAF) ||
	    (flags == LM_P_LEAF) != (level == depth)) {
		snprintf(w->why, sizeof(w->why), "database %s: page %llu is "
		    "not the %s page the tree needs there (flags 0x%x)", w->db,
		    (unsigned long long)pg, level == depth ? "leaf" : "branch",
		    (unsigned)flags);
		return -1;
	}
	if (lower < LM_PAGEHDR || (lower - LM_PAGEHDR) % 2 != 0 ||
	    lower > upper || upper > w->psize) {
		snprintf(w->why, sizeof(w->why), "database %s: page %llu has "
		    "impossible bounds (lower %u, upper %u)", w->db,
		    (unsigned long long)pg, (unsigned)lower, (unsigned)upper);
		return -1;
	}
	nkeys = (uint16_t)((lower - LM_PAGEHDR) / 2);
	for (i = 0; i < nkeys; i++) {
		uint16_t off, ksize, nflags;
		uint64_t dsize, child;
		uint8_t sub[LM_DB_SIZE];
		char name[64];

		/* Re-read: a child walked since overwrote w->page. */
		if (i > 0 && page_read(w, pg, "a branch") != 0)
			return -1;
		off = host16(w->page + LM_PAGEHDR + 2 * i);
		if (off < upper || off > w->psize - LM_NODE)
			goto badnode;
		nflags = host16(w->page + off + 4);
		ksize = host16(w->page + off + 6);
		if ((size_t)off + LM_NODE + ksize > w->psize)
			goto badnode;
		if (flags == LM_P_BRANCH) {
			child = (uint64_t)host16(w->page + off) |
			    (uint64_t)host16(w->page + off + 2) << 16 |
			    (uint64_t)nflags << 32;
			if (tree_walk_at(w, child, depth, (uint16_t)(level + 1),
			    main_db) != 0)
				return -1;
			continue;
		}
		dsize = (uint64_t)host16(w->page + off) |
		    (uint64_t)host16(w->page + off + 2) << 16;
		if ((nflags & ~(LM_F_BIGDATA | LM_F_SUBDATA)) != 0 ||
		    (nflags & LM_F_SUBDATA && (!main_db || dsize !=
		    LM_DB_SIZE)))
			goto badnode;
		if (nflags & LM_F_BIGDATA) {
			if ((size_t)off + LM_NODE + ksize + 8 > w->psize)
				goto badnode;
			child = host64(w->page + off + LM_NODE + ksize);
			if (overflow_check(w, child, dsize) != 0)
				return -1;
			continue;
		}
		if ((size_t)off + LM_NODE + ksize + dsize > w->psize)
			goto badnode;
		if (!(nflags & LM_F_SUBDATA))
			continue;
		snprintf(name, sizeof(name), "%.*s", ksize < 40 ? ksize : 40,
		    (const char *)w->page + off + LM_NODE);
		if (w->only != NULL && strcmp(name, w->only) != 0)
			continue;
		memcpy(sub, w->page + off + LM_NODE + ksize, LM_DB_SIZE);
		/* The walk names it for the messages; name outlives it. */
		if (subdb_walk(w, sub, name) != 0)
			return -1;
	}
	return 0;
badnode:
	snprintf(w->why, sizeof(w->why), "database %s: page %llu: entry %u "
	    "lies outside its page or has impossible flags", w->db,
	    (unsigned long long)pg, (unsigned)i + 1);
	return -1;
}

/* Walks a whole tree from its root. */
static int
tree_walk(struct pagewalk *w, uint64_t root, uint16_t depth, int main_db)
{
	if (depth == 0 || depth > LM_DEPTH_MAX) {
		snprintf(w->why, sizeof(w->why), "database %s: its depth %u is "
		    "impossible", w->db, (unsigned)depth);
		return -1;
	}
	return tree_walk_at(w, root, depth, 1, main_db);
}

/*
 * Walks the trees of the newest of the meta pages m read from fd: the free
 * list and the main database with every named one (only: just that one).
 * Returns 0, or -1 with why (len bytes) saying what is damaged.
 */
static int
pages_walk(int fd, const struct lm_meta m[2], const char *only, char *why,
    size_t len)
{
	struct pagewalk w;
	uint8_t b[LM_META_END];
	int i, newest = m[0].txnid < m[1].txnid, rc = 0;

	if (pread(fd, b, sizeof(b), (off_t)newest * m[0].psize) !=
	    (ssize_t)sizeof(b)) {
		snprintf(why, len, "the newest meta page cannot be read");
		return -1;
	}
	memset(&w, 0, sizeof(w));
	w.fd = fd;
	w.psize = m[0].psize;
	w.last_pg = m[newest].last_pg;
	w.only = only;
	w.seen = xcalloc(w.last_pg / 8 + 1, 1);
	w.page = xmalloc(w.psize);
	for (i = only != NULL; i < 2 && rc == 0; i++) {
		const uint8_t *db = b + LM_OFF_DB0 + i * LM_DB_SIZE;
		uint64_t root = host64(db + LM_OFF_ROOT);

		if (root == LM_P_INVALID)
			continue;
		w.db = i == 0 ? "of free pages" : "of databases";
		if (tree_walk(&w, root, host16(db + 6), i == 1) != 0) {
			snprintf(why, len, "%s", w.why);
			rc = -1;
		}
	}
	free(w.seen);
	free(w.page);
	return rc;
}

/* Walks every page of every tree of the newest meta page. */
int
audit_pages(struct store *s, audit_report_fn fn, void *ctx)
{
	char *path = xasprintf("%s/data.mdb", s->dir);
	struct lm_meta m[2];
	char why[300], msg[400];
	int fd, rc = 0;

	fd = layout_known() ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	/* audit_file_check() has said why a file cannot be read. */
	if (fd >= 0 && meta_read(fd, 0, &m[0]) == NULL && m[0].psize >= 256 &&
	    meta_read(fd, (off_t)m[0].psize, &m[1]) == NULL &&
	    pages_walk(fd, m, NULL, why, sizeof(why)) != 0) {
		snprintf(msg, sizeof(msg), "store damaged: %s: %s", path, why);
		fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL, msg);
		rc = 1;
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* Walks the pages every command reads on open. */
int
audit_open_pages(const char *dir, char **cause)
{
	char *path = xasprintf("%s/data.mdb", dir);
	struct lm_meta m[2];
	char why[300];
	int fd, rc = 0;

	fd = layout_known() ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	if (fd >= 0 && meta_read(fd, 0, &m[0]) == NULL && m[0].psize >= 256 &&
	    meta_read(fd, (off_t)m[0].psize, &m[1]) == NULL &&
	    pages_walk(fd, m, "meta", why, sizeof(why)) != 0) {
		*cause = xasprintf("store damaged: %s: %s", path, why);
		rc = CS_EDAMAGED;
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

/* ---- the walk of every database --------------------------------------- */

/* The database being walked (an enum store_db), or -1, for store_reading(). */
static volatile sig_atomic_t reading = -1;

/* Names the database being walked. */
const char *
store_reading(void)
{
	int i = (int)reading;

	return i >= 0 && i < DB_COUNT ? store_db_names[i] : NULL;
}

/*
 * The shape of each database's entries, as the code writes them: key
 * sizes (kmax 0: no bound) and value sizes (vmax 0 with vmin 0: empty).
 * A value of another size is read from bytes the code never wrote there.
 */
static const struct shape {
	int db;
	size_t kmin, kmax, vmin, vmax;
} shapes[] = {
	{ DB_COMMITS, LAY_SEQKEY_LEN, LAY_SEQKEY_LEN, LAY_COMMIT_E + 1,
	    SIZE_MAX },
	{ DB_HEADS, PROTO_KEY_LEN, PROTO_KEY_LEN, LAY_HEAD_LEN, LAY_HEAD_LEN },
	{ DB_RECORDS, PROTO_ID_LEN, PROTO_ID_LEN, 1, SIZE_MAX },
	{ DB_BYSITE, LAY_BYSITE_LEN, LAY_BYSITE_LEN, 0, 0 },
	{ DB_BYDATE, LAY_BYDATE_LEN, LAY_BYDATE_LEN, 0, 0 },
	{ DB_HISTORY, LAY_HIST_KEY_LEN, LAY_HIST_KEY_LEN, 1, 1 },
	{ DB_PENDING, LAY_SEQKEY_LEN, LAY_SEQKEY_LEN, LAY_PEND_E + 1,
	    SIZE_MAX },
	{ DB_CONFLICTS, LAY_CONFLICT_KEY_MIN, LAY_CONFLICT_KEY_MAX, 1,
	    SIZE_MAX },
	{ DB_FORKS, LAY_FORK_KEY_LEN, LAY_FORK_KEY_LEN, LAY_FORK_E + 1,
	    SIZE_MAX },
	{ DB_SEEN, LAY_SEEN_KEY_MIN, LAY_SEEN_KEY_MAX, 0, 0 },
	{ DB_NAMES, LAY_SUFFIX_LEN, LAY_NAME_KEY_MAX, 1, SIZE_MAX },
	{ DB_LASTSEEN, PROTO_KEY_LEN, PROTO_KEY_LEN, LAY_LASTSEEN_LEN,
	    LAY_LASTSEEN_LEN },
};

/* Returns why entry k, d of database db has a shape the code never
 * writes, or NULL. */
static const char *
shape_check(int db, const MDB_val *k, const MDB_val *d)
{
	size_t i;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		if (shapes[i].db != db)
			continue;
		if (k->mv_size < shapes[i].kmin || k->mv_size > shapes[i].kmax)
			return "a key of a size this table never holds";
		if (d->mv_size < shapes[i].vmin || d->mv_size > shapes[i].vmax)
			return "a value of a size this table never holds";
	}
	return NULL;
}

/*
 * Databases older versions made and nothing reads any more: "members"
 * held each node's own name and role from its creation (member records
 * in the admin log say who is a member).  A store may still hold them.
 */
static const char *const retired_db_names[] = { "members" };

/* Returns 1 when the name k is one of the retired databases. */
static int
retired_db(const MDB_val *k)
{
	size_t i;

	for (i = 0; i < sizeof(retired_db_names) /
	    sizeof(retired_db_names[0]); i++)
		if (strlen(retired_db_names[i]) == k->mv_size &&
		    memcmp(retired_db_names[i], k->mv_data, k->mv_size) == 0)
			return 1;
	return 0;
}

/*
 * Checks the names in LMDB's main database: each is one of the store's
 * databases, or a retired one (a name altered in place leaves a database
 * nothing reads, and the store opens an empty one in its stead).  Returns
 * 1 when the main database cannot be read, else 0.
 */
static int
main_names(MDB_txn *txn, audit_report_fn fn, void *ctx)
{
	MDB_dbi main;
	MDB_cursor *cur;
	MDB_val k, d;
	char why[300];
	int rc, i;

	if ((rc = mdb_dbi_open(txn, NULL, 0, &main)) != 0 ||
	    (rc = mdb_cursor_open(txn, main, &cur)) != 0) {
		snprintf(why, sizeof(why), "store damaged: the list of "
		    "databases cannot be read: %s", mdb_strerror(rc));
		fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL, why);
		return 1;
	}
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		for (i = 0; i < DB_COUNT; i++)
			if (strlen(store_db_names[i]) == k.mv_size &&
			    memcmp(store_db_names[i], k.mv_data,
			    k.mv_size) == 0)
				break;
		if (i < DB_COUNT || retired_db(&k))
			continue;
		snprintf(why, sizeof(why), "store damaged: the store holds a "
		    "database named '%.*s', which this program never makes "
		    "(a name altered in place?)", (int)(k.mv_size < 40 ?
		    k.mv_size : 40), (const char *)k.mv_data);
		fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL, why);
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		snprintf(why, sizeof(why), "store damaged: the list of "
		    "databases cannot be read to its end: %s",
		    mdb_strerror(rc));
		fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL, why);
		return 1;
	}
	return 0;
}

/* Walks every database to its end. */
int
audit_structure(struct store *s, MDB_txn *txn, audit_report_fn fn,
    void *ctx)
{
	uint8_t prev[512];
	size_t plen;
	char why[300];
	MDB_cursor *cur;
	MDB_val k, d, found;
	MDB_stat ms;
	uint64_t n;
	const char *shape;
	int i, rc, have;

	if ((rc = main_names(txn, fn, ctx)) != 0)
		return rc;
	for (i = 0; i < DB_COUNT; i++) {
		reading = i;
		if ((rc = mdb_cursor_open(txn, s->dbi[i], &cur)) != 0) {
			snprintf(why, sizeof(why), "store damaged: database "
			    "%s cannot be read: %s", store_db_names[i],
			    mdb_strerror(rc));
			fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL, why);
			reading = -1;
			return 1;
		}
		n = 0;
		have = 0;
		plen = 0;
		for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
		    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
			size_t m = k.mv_size < plen ? k.mv_size : plen;
			int c = have ? memcmp(prev, k.mv_data, m) : -1;

			if (c == 0)
				c = (plen > k.mv_size) - (plen < k.mv_size);
			if (c >= 0) {
				snprintf(why, sizeof(why), "store damaged: "
				    "database %s: entry %llu is not after the "
				    "one before it: a key was altered in "
				    "place", store_db_names[i],
				    (unsigned long long)n + 1);
				fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL,
				    why);
			}
			if (mdb_get(txn, s->dbi[i], &k, &found) != 0 ||
			    found.mv_data != d.mv_data) {
				snprintf(why, sizeof(why), "store damaged: "
				    "database %s: entry %llu cannot be found "
				    "by its key: a branch page misdirects the "
				    "search", store_db_names[i],
				    (unsigned long long)n + 1);
				fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL,
				    why);
			}
			if ((shape = shape_check(i, &k, &d)) != NULL) {
				snprintf(why, sizeof(why), "store damaged: "
				    "database %s: entry %llu has %s (%zu-byte "
				    "key, %zu-byte value)", store_db_names[i],
				    (unsigned long long)n + 1, shape, k.mv_size,
				    d.mv_size);
				fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL,
				    why);
			}
			plen = k.mv_size < sizeof(prev) ? k.mv_size :
			    sizeof(prev);
			memcpy(prev, k.mv_data, plen);
			have = 1;
			n++;
		}
		mdb_cursor_close(cur);
		if (rc != MDB_NOTFOUND) {
			snprintf(why, sizeof(why), "store damaged: database "
			    "%s: LMDB stops after %llu entries: %s",
			    store_db_names[i], (unsigned long long)n,
			    mdb_strerror(rc));
			fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL, why);
			reading = -1;
			return 1;
		}
		if (mdb_stat(txn, s->dbi[i], &ms) == 0 && ms.ms_entries != n) {
			snprintf(why, sizeof(why), "store damaged: database "
			    "%s: its header counts %llu entries, but %llu "
			    "are stored", store_db_names[i],
			    (unsigned long long)ms.ms_entries,
			    (unsigned long long)n);
			fn(ctx, STORE_AUDIT_DAMAGED, NULL, 0, NULL, why);
		}
	}
	reading = -1;
	return 0;
}

/* ---- derived tables against the replay -------------------------------- */

/* Formats the wall-clock part of an hlc as ISO 8601 UTC. */
static void
hlc_text(uint64_t hlc, char *buf, size_t len)
{
	uint64_t ms = HLC_MS(hlc);
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(buf, len, "clock %llu", (unsigned long long)hlc);
		return;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (unsigned)(ms % 1000));
}

/* Formats YYYYMMDD as a date, or "no date". */
static void
ymd_text(uint32_t ymd, char *buf, size_t len)
{
	if (ymd == 0)
		snprintf(buf, len, "no date");
	else
		snprintf(buf, len, "%04u-%02u-%02u", ymd / 10000,
		    ymd / 100 % 100, ymd % 100);
}

/* Returns the name of the type at index i, or "type ?". */
static const char *
type_text(uint8_t i)
{
	return i < sch_ntypes ? sch_types[i].name : "an unknown type";
}

/*
 * Describes an entry of table db (its key k) into buf, and sets *id to
 * the record it is about (NULL when the key is too short to tell).
 */
static void
entry_text(int db, const MDB_val *k, char *buf, size_t len,
    const uint8_t **id)
{
	const uint8_t *p = k->mv_data, *name, *origin, *fold;
	char a[80], b[2 * PROTO_ID_LEN + 1], hx[2 * 24 + 1];
	uint64_t hlc;
	uint32_t ymd;
	size_t fl, flen;
	uint8_t ntype;

	*id = NULL;
	switch (db) {
	case DB_BYDATE:
		if (k->mv_size != LAY_BYDATE_LEN ||
		    lay_index_entry(p, k->mv_size, LAY_BYDATE_YMD, &ymd,
		    id) != 0)
			break;
		ymd_text(ymd, a, sizeof(a));
		snprintf(buf, len, "index bydate: entry (%s, %s)",
		    type_text(p[0]), a);
		return;
	case DB_BYSITE:
		if (k->mv_size != LAY_BYSITE_LEN ||
		    lay_index_entry(p, k->mv_size, LAY_BYSITE_YMD, &ymd,
		    id) != 0)
			break;
		ymd_text(ymd, a, sizeof(a));
		proto_hex(b, p + LAY_BYSITE_SITE, PROTO_ID_LEN);
		snprintf(buf, len, "index bysite: entry (%s, site %.12s, %s)",
		    type_text(p[0]), b, a);
		return;
	case DB_CONFLICTS:
	case DB_SEEN:
		if (lay_field_key_parse(p, k->mv_size, db == DB_CONFLICTS,
		    &name, &fl, &hlc, &origin) != 0)
			break;
		*id = p;
		hlc_text(hlc, a, sizeof(a));
		if (db == DB_SEEN) {
			snprintf(buf, len, "seen: the base of field %.*s at "
			    "clock %s", (int)fl, (const char *)name, a);
			return;
		}
		proto_hex(b, origin, 8);
		snprintf(buf, len, "conflicts: the overwritten value of field "
		    "%.*s written at %s by %s", (int)fl, (const char *)name,
		    a, b);
		return;
	case DB_NAMES:
		if (lay_is_suffix(p, k->mv_size)) {
			snprintf(buf, len, "names: the short-id entry of a "
			    "record");
			return;
		}
		if (lay_name_parse(p, k->mv_size, &ntype, &fold, &flen,
		    id) != 0)
			break;
		snprintf(buf, len, "names: the name \"%.*s\" of a %s",
		    (int)(flen < 60 ? flen : 60), (const char *)fold,
		    type_text(ntype));
		return;
	default:
		break;
	}
	proto_hex(hx, p, k->mv_size < 24 ? k->mv_size : 24);
	snprintf(buf, len, "%s: entry %s%s (%zu-byte key)",
	    db == DB_BYDATE ? "index bydate" : db == DB_BYSITE ?
	    "index bysite" : store_db_names[db], hx, k->mv_size > 24 ? "..." :
	    "", k->mv_size);
}

/* Reports one entry of table db that differs; how says in what way. */
static void
derived_fault(int db, const MDB_val *k, const char *how, audit_report_fn fn,
    void *ctx)
{
	char what[200], why[400];
	const uint8_t *id;

	entry_text(db, k, what, sizeof(what), &id);
	snprintf(why, sizeof(why), "%s %s", what, how);
	fn(ctx, STORE_AUDIT_DERIVED, NULL, 0, id, why);
}

/* What each compared table loses when an entry is missing. */
static const char *
missing_text(int db)
{
	switch (db) {
	case DB_BYDATE:
		return "is missing: the log makes it but the store lacks it, "
		    "so listings and counts skip the record";
	case DB_BYSITE:
		return "is missing: the log makes it but the store lacks it, "
		    "so the site's listings skip the record";
	case DB_CONFLICTS:
		return "is missing: the log keeps it as a conflict but the "
		    "store does not show it";
	case DB_NAMES:
		return "is missing: the log makes it but the store lacks it, "
		    "so the record is not found by its name or short id";
	default:
		return "is missing: the log makes it but the store lacks it";
	}
}

/*
 * Walks dbi a (in txn) and dbi b (in stx) side by side in key order and
 * calls fn for each key only one holds and each key whose values differ.
 * Returns 0, or CS_EDB when either cannot be read to the end (a walk cut
 * short must not pass for one that found nothing).
 */
int
audit_table_diff(MDB_txn *txn, MDB_dbi a, MDB_txn *stx, MDB_dbi b,
    audit_diff_fn fn, void *arg)
{
	MDB_cursor *cs, *cr;
	MDB_val ks, ds, kr, dr;
	int rs, rr, c;

	if (mdb_cursor_open(txn, a, &cs) != 0)
		return CS_EDB;
	if (mdb_cursor_open(stx, b, &cr) != 0) {
		mdb_cursor_close(cs);
		return CS_EDB;
	}
	rs = mdb_cursor_get(cs, &ks, &ds, MDB_FIRST);
	rr = mdb_cursor_get(cr, &kr, &dr, MDB_FIRST);
	/* To the end of both, or the first read error (then no fault is
	 * made up from what the other side still holds). */
	while ((rs == 0 || rr == 0) && (rs == 0 || rs == MDB_NOTFOUND) &&
	    (rr == 0 || rr == MDB_NOTFOUND)) {
		if (rs != 0)
			c = 1;
		else if (rr != 0)
			c = -1;
		else {
			size_t m = ks.mv_size < kr.mv_size ? ks.mv_size :
			    kr.mv_size;

			c = memcmp(ks.mv_data, kr.mv_data, m);
			if (c == 0)
				c = (ks.mv_size > kr.mv_size) -
				    (ks.mv_size < kr.mv_size);
		}
		if (c < 0) {
			fn(AUDIT_EXTRA, &ks, arg);
			rs = mdb_cursor_get(cs, &ks, &ds, MDB_NEXT);
		} else if (c > 0) {
			fn(AUDIT_MISSING, &kr, arg);
			rr = mdb_cursor_get(cr, &kr, &dr, MDB_NEXT);
		} else {
			if (ds.mv_size != dr.mv_size ||
			    (ds.mv_size > 0 && memcmp(ds.mv_data, dr.mv_data,
			    ds.mv_size) != 0))
				fn(AUDIT_DIFFERS, &ks, arg);
			rs = mdb_cursor_get(cs, &ks, &ds, MDB_NEXT);
			rr = mdb_cursor_get(cr, &kr, &dr, MDB_NEXT);
		}
	}
	mdb_cursor_close(cs);
	mdb_cursor_close(cr);
	return (rs == MDB_NOTFOUND || rs == 0) &&
	    (rr == MDB_NOTFOUND || rr == 0) ? 0 : CS_EDB;
}

/* Where table_diff_one() reports a derived table's differences. */
struct table_diff {
	int db;
	audit_report_fn fn;
	void *ctx;
};

/* Reports one difference of a derived table. */
static void
table_diff_one(enum audit_diff d, const MDB_val *k, void *arg)
{
	const struct table_diff *t = arg;

	derived_fault(t->db, k, d == AUDIT_EXTRA ? "is extra: the store "
	    "holds it but no commit in the log makes it" :
	    d == AUDIT_MISSING ? missing_text(t->db) :
	    "differs from the one the log makes", t->fn, t->ctx);
}

/* Compares the derived tables with the replay's. */
int
audit_derived_compare(struct store *s, MDB_txn *txn, struct store *scr,
    audit_report_fn fn, void *ctx, char **cause)
{
	static const int tables[] = { DB_BYDATE, DB_BYSITE, DB_CONFLICTS,
		DB_SEEN, DB_NAMES };
	struct table_diff t = { 0, fn, ctx };
	MDB_txn *stx;
	size_t i;

	if (store_read_begin(scr, &stx) != 0) {
		*cause = xstrdup("cannot read the replayed copy to compare");
		return CS_EDB;
	}
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		t.db = tables[i];
		if (audit_table_diff(txn, s->dbi[t.db], stx, scr->dbi[t.db],
		    table_diff_one, &t) != 0) {
			mdb_txn_abort(stx);
			*cause = xasprintf("cannot read the %s database to the "
			    "end to compare it", store_db_names[t.db]);
			return CS_EDB;
		}
	}
	mdb_txn_abort(stx);
	return 0;
}

/* ---- received times --------------------------------------------------- */

/* Formats milliseconds as ISO 8601 UTC. */
static void
ms_text(uint64_t ms, char *buf, size_t len)
{
	hlc_text(ms << 16, buf, len);
}

/* Checks the received times and the node's clock. */
void
audit_received(struct store *s, MDB_txn *txn, uint64_t now,
    audit_report_fn fn, void *ctx)
{
	uint8_t origin[PROTO_KEY_LEN];
	uint64_t prev_seq = 0, prev_recv = 0, max_hlc = 0, max_seq = 0;
	uint64_t node_hlc = 0;
	const uint8_t *max_origin = NULL;
	uint8_t max_key[PROTO_KEY_LEN];
	char why[400], a[80], b[80];
	MDB_cursor *cur;
	MDB_val k, d, hk = { 3, (void *)(uintptr_t)"hlc" };
	int rc, have = 0;

	if (mdb_cursor_open(txn, s->dbi[DB_COMMITS], &cur) != 0)
		return;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
		const uint8_t *key = k.mv_data;
		uint64_t seq, recv;

		/* check_commit() reports entries of the wrong shape. */
		if (k.mv_size != LAY_SEQKEY_LEN || d.mv_size < LAY_COMMIT_SIG)
			continue;
		seq = lay_seqkey_seq(key);
		recv = lay_commit_recv(d.mv_data);
		if (!have || memcmp(origin, key, PROTO_KEY_LEN) != 0) {
			memcpy(origin, key, PROTO_KEY_LEN);
			have = 1;
			prev_seq = 0;
		}
		ms_text(recv, a, sizeof(a));
		if (recv == 0)
			fn(ctx, STORE_AUDIT_RECEIVED, key, seq, NULL, "no time "
			    "is kept for when this node received it");
		else if (recv > now && recv - now > AUDIT_RECV_FUTURE_MS) {
			ms_text(now, b, sizeof(b));
			snprintf(why, sizeof(why), "received at %s, more than "
			    "a day after this machine's clock (%s)", a, b);
			fn(ctx, STORE_AUDIT_RECEIVED, key, seq, NULL, why);
		} else if (prev_seq != 0 && seq == prev_seq + 1 &&
		    prev_recv != 0 && recv < prev_recv &&
		    prev_recv - recv > AUDIT_RECV_STEPBACK_MS) {
			ms_text(prev_recv, b, sizeof(b));
			snprintf(why, sizeof(why), "received at %s, more than "
			    "a day before seq %llu of its origin (%s), which "
			    "this node had to hold first", a,
			    (unsigned long long)prev_seq, b);
			fn(ctx, STORE_AUDIT_RECEIVED, key, seq, NULL, why);
		}
		prev_seq = seq;
		prev_recv = recv;
		/* The newest clock the node had to follow: a commit's clock
		 * more than a day past when it was received does not move
		 * the node's (docs/formats.md, "Hybrid logical clock"). */
		if (d.mv_size > LAY_COMMIT_E) {
			struct proto_commit c;
			const char *cwhy;

			if (proto_commit_decode(&c, lay_commit_e(d.mv_data),
			    lay_commit_elen(d.mv_size), &cwhy) == 0) {
				if (HLC_MS(c.hlc) <= recv + PROTO_HLC_FUTURE_MS &&
				    c.hlc > max_hlc) {
					max_hlc = c.hlc;
					max_seq = seq;
					memcpy(max_key, key, PROTO_KEY_LEN);
					max_origin = max_key;
				}
				proto_commit_free(&c);
			}
		}
	}
	mdb_cursor_close(cur);
	if (mdb_get(txn, s->dbi[DB_META], &hk, &d) == 0 && d.mv_size == 8)
		node_hlc = get_be64(d.mv_data);
	if (max_origin != NULL && node_hlc < max_hlc) {
		hlc_text(node_hlc, a, sizeof(a));
		hlc_text(max_hlc, b, sizeof(b));
		snprintf(why, sizeof(why), "the node's clock (meta hlc, %s) is "
		    "behind the clock of a stored commit (%s): applying a "
		    "commit merges its clock into the node's", node_hlc != 0 ?
		    a : "absent", b);
		fn(ctx, STORE_AUDIT_DERIVED, max_origin, max_seq, NULL, why);
	}
}
