/*
 * peers.c: the peers a node syncs with, kept in the store's "peers"
 * database so that `cafe peer add` and `cafe peer rm` persist whether or
 * not the daemon runs; the daemon reads them at start and on reload.
 */
#include <string.h>

#include "internal.h"

/* Packs a peer's value: {"addr": str, "key": bin 32}. */
static void
peer_pack(struct proto_enc *w, const struct store_peer *p)
{
	msgpack_pack_map(&w->pk, 2);
	proto_pack_cstr(&w->pk, "addr");
	proto_pack_cstr(&w->pk, p->addr);
	proto_pack_cstr(&w->pk, "key");
	msgpack_pack_bin(&w->pk, PROTO_KEY_LEN);
	msgpack_pack_bin_body(&w->pk, p->key, PROTO_KEY_LEN);
}

/* Unpacks a stored peer; returns 0 or -1 when the value is damaged. */
static int
peer_unpack(struct store_peer *p, const MDB_val *k, const MDB_val *d)
{
	msgpack_unpacked up;
	const msgpack_object *o;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (k->mv_size == 0 || k->mv_size >= sizeof(p->name))
		return -1;
	memcpy(p->name, k->mv_data, k->mv_size);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, d->mv_data, d->mv_size, NULL) !=
	    MSGPACK_UNPACK_SUCCESS)
		goto out;
	o = &up.data;
	if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size != 2)
		goto out;
	const msgpack_object *a = &o->via.map.ptr[0].val;
	const msgpack_object *key = &o->via.map.ptr[1].val;
	if (a->type != MSGPACK_OBJECT_STR || a->via.str.size >= sizeof(p->addr) ||
	    key->type != MSGPACK_OBJECT_BIN || key->via.bin.size != PROTO_KEY_LEN)
		goto out;
	memcpy(p->addr, a->via.str.ptr, a->via.str.size);
	memcpy(p->key, key->via.bin.ptr, PROTO_KEY_LEN);
	rc = 0;
out:
	msgpack_unpacked_destroy(&up);
	return rc;
}

static int
peer_put_fn(struct store *s, MDB_txn *txn, void *arg)
{
	const struct store_peer *p = arg;
	struct proto_enc w;
	MDB_val k = { strlen(p->name), (void *)(uintptr_t)p->name }, d;
	int rc;

	proto_enc_init(&w);
	peer_pack(&w, p);
	d.mv_size = w.sb.size;
	d.mv_data = w.sb.data;
	rc = mdb_put(txn, s->dbi[DB_PEERS], &k, &d, 0);
	proto_enc_free(&w);
	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

/* Adds or replaces a peer. */
int
store_peer_put(struct store *s, const struct store_peer *p, char **cause)
{
	size_t n = strlen(p->name);

	if (n == 0 || n >= sizeof(p->name)) {
		*cause = xasprintf("peer name: must be 1 to %zu bytes",
		    sizeof(p->name) - 1);
		return CS_EUSAGE;
	}
	return store_write(s, peer_put_fn, (void *)(uintptr_t)p, cause);
}

static int
peer_del_fn(struct store *s, MDB_txn *txn, void *arg)
{
	const char *name = arg;
	MDB_val k = { strlen(name), (void *)(uintptr_t)name };
	int rc = mdb_del(txn, s->dbi[DB_PEERS], &k, NULL);

	if (rc == MDB_NOTFOUND)
		return CS_ENOTFOUND;
	return rc == 0 ? 0 : store_mdb_fail(s, rc);
}

/* Removes a peer. */
int
store_peer_del(struct store *s, const char *name, char **cause)
{
	int rc = store_write(s, peer_del_fn, (void *)(uintptr_t)name, cause);

	if (rc == CS_ENOTFOUND)
		*cause = xasprintf("no peer named '%s'", name);
	return rc;
}

/* Walks the peers by name. */
int
store_peers(struct store *s, store_peer_fn fn, void *arg)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val k, d;
	struct store_peer p;
	int rc;

	if (store_read_cursor(s, &txn, s->dbi[DB_PEERS], &cur) != 0)
		return CS_EDB;
	for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT))
		if (peer_unpack(&p, &k, &d) == 0 && fn(&p, arg) != 0)
			break;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return 0;
}
