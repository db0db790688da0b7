/*
 * lastseen.c: when this node last completed a sync with each key.
 *
 * The daemon records, per peer key, the wall clock of the last sync that
 * reached the end (both sides caught up), in the "lastseen" database:
 * key(32) -> ms(8) seq(8), big-endian, where seq is this node's own
 * head then: what the peer held of this node's log, so that `cafe status`
 * can count the changes still waiting for it with no daemon running.  It outlives the daemon, so a hub can tell
 * which sites have not synced for a fortnight even after a restart.
 */
#include <string.h>

#include "internal.h"

struct put_arg {
	const uint8_t *key;
	uint64_t ms;
};

static int
put_fn(struct store *s, MDB_txn *txn, void *arg)
{
	struct put_arg *pa = arg;
	uint8_t v[LAY_LASTSEEN_LEN], hash[PROTO_HASH_LEN];
	MDB_val k = { PROTO_KEY_LEN, (void *)(uintptr_t)pa->key };
	MDB_val d = { sizeof(v), v };
	uint64_t seq = 0, hlc;
	int rc;

	if (store_head_get(s, txn, s->info.node, &seq, hash, &hlc) != 0)
		seq = 0;
	lay_lastseen_pack(v, pa->ms, seq);
	rc = mdb_put(txn, s->dbi[DB_LASTSEEN], &k, &d, 0);
	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

/* Records that a sync with key completed at ms, with this node's head. */
int
store_lastseen_put(struct store *s, const uint8_t key[PROTO_KEY_LEN],
    uint64_t ms, char **cause)
{
	struct put_arg pa = { key, ms };

	return store_write(s, put_fn, &pa, cause);
}

/* Reads when a sync with key last completed. */
int
store_lastseen_get(struct store *s, const uint8_t key[PROTO_KEY_LEN],
    uint64_t *ms, uint64_t *seq)
{
	MDB_txn *txn;
	MDB_val k = { PROTO_KEY_LEN, (void *)(uintptr_t)key }, d;
	int rc;

	*ms = 0;
	*seq = 0;
	if (store_read_begin(s, &txn) != 0)
		return CS_EDB;
	rc = mdb_get(txn, s->dbi[DB_LASTSEEN], &k, &d);
	if (rc == 0 && d.mv_size == LAY_LASTSEEN_LEN) {
		*ms = lay_lastseen_ms(d.mv_data);
		*seq = lay_lastseen_seq(d.mv_data);
	}
	mdb_txn_abort(txn);
	return rc == 0 && *ms != 0 ? 0 : CS_ENOTFOUND;
}

struct put_many_arg {
	const struct store_seen *seen;
	size_t n;
};

static int
put_many_fn(struct store *s, MDB_txn *txn, void *arg)
{
	struct put_many_arg *pm = arg;
	size_t i;
	int rc;

	for (i = 0; i < pm->n; i++) {
		struct put_arg pa = { pm->seen[i].key, pm->seen[i].ms };

		if ((rc = put_fn(s, txn, &pa)) != 0)
			return rc;
	}
	return 0;
}

/* Records n completed syncs in one transaction (the daemon's batches). */
int
store_lastseen_put_many(struct store *s, const struct store_seen *seen,
    size_t n, char **cause)
{
	struct put_many_arg pm = { seen, n };

	return n == 0 ? 0 : store_write(s, put_many_fn, &pm, cause);
}
