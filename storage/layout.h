/*
 * layout.h: the byte layout of every LMDB key and value the store writes,
 * each defined once, with the helpers that pack and read them.  No other
 * file computes an offset into a key or a value: a layout that changes
 * changes here (and STORE_SCHEMA_VERSION with it, since stores in the
 * field hold the old one).
 *
 * Integers are big-endian so that keys sort by them.  "origin" and "key"
 * are node keys (PROTO_KEY_LEN), "id" record ids (PROTO_ID_LEN), "hash"
 * commit hashes (PROTO_HASH_LEN), "sig" signatures (PROTO_SIG_LEN), E a
 * commit's exact bytes, "ymd" a date as the number YYYYMMDD (0: none),
 * "type" a record type's index in sch_types.  Readers check a value's
 * size against the layout before they read it (the *_LEN and *_MIN
 * below); audit_derived.c's shape table checks every entry from them.
 *
 * Values that are MessagePack (records, peers, conflicts' values) are
 * described in docs/formats.md and where they are written: merge.c
 * (records, conflicts), peers.c (peers).
 */
#ifndef CAFESYNC_STORAGE_LAYOUT_H
#define CAFESYNC_STORAGE_LAYOUT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../proto/proto.h"

/* ---- big-endian integers ------------------------------------------------ */

static inline void
put_be64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static inline uint64_t
get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static inline void
put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t
get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/*
 * Readers, one line each (as lmdb's mdb.c defines its page accessors):
 * the bytes of a field (a pointer into the key or value), a big-endian
 * integer, and the length of what follows a fixed prefix (E after it).
 */
#define LAY_PTR(fn, off)						\
	static inline const uint8_t *fn(const uint8_t *p)		\
	{ return p + (off); }
#define LAY_U64(fn, off)						\
	static inline uint64_t fn(const uint8_t *p)			\
	{ return get_be64(p + (off)); }
#define LAY_U32(fn, off)						\
	static inline uint32_t fn(const uint8_t *p)			\
	{ return get_be32(p + (off)); }
#define LAY_TAIL(fn, off)						\
	static inline size_t fn(size_t len)				\
	{ return len - (off); }

/* ---- origin(32) seq(8): the key of commits and pending ---------------- */

#define LAY_SEQKEY_LEN (PROTO_KEY_LEN + 8)
#define LAY_SEQKEY_SEQ PROTO_KEY_LEN

/* Packs origin and seq into k. */
static inline void
lay_seqkey(uint8_t k[LAY_SEQKEY_LEN], const uint8_t *origin, uint64_t seq)
{
	memcpy(k, origin, PROTO_KEY_LEN);
	put_be64(k + LAY_SEQKEY_SEQ, seq);
}

/* Sets the seq of a key that holds its origin already. */
static inline void
lay_seqkey_seq_set(uint8_t *k, uint64_t seq)
{
	put_be64(k + LAY_SEQKEY_SEQ, seq);
}

/* The first or last key of origin's range: seq 0 or all ones. */
static inline void
lay_seqkey_bound(uint8_t k[LAY_SEQKEY_LEN], const uint8_t *origin, int last)
{
	memcpy(k, origin, PROTO_KEY_LEN);
	memset(k + LAY_SEQKEY_SEQ, last ? 0xff : 0, 8);
}

LAY_U64(lay_seqkey_seq, LAY_SEQKEY_SEQ)

/* ---- commits: origin seq -> recv_ms(8) sig(64) E ---------------------- */

#define LAY_COMMIT_RECV 0
#define LAY_COMMIT_SIG 8
#define LAY_COMMIT_E (8 + PROTO_SIG_LEN)     /* also the least value size */
#define LAY_COMMIT_LEN(elen) (LAY_COMMIT_E + (size_t)(elen))

/* Packs a commits value into v (LAY_COMMIT_LEN(elen) bytes). */
static inline void
lay_commit_pack(uint8_t *v, uint64_t recv_ms, const uint8_t *sig,
    const uint8_t *e, size_t elen)
{
	put_be64(v + LAY_COMMIT_RECV, recv_ms);
	memcpy(v + LAY_COMMIT_SIG, sig, PROTO_SIG_LEN);
	memcpy(v + LAY_COMMIT_E, e, elen);
}

LAY_U64(lay_commit_recv, LAY_COMMIT_RECV)
LAY_PTR(lay_commit_sig, LAY_COMMIT_SIG)
LAY_PTR(lay_commit_e, LAY_COMMIT_E)

/* The bytes of E in a value of len bytes (at least LAY_COMMIT_E). */
LAY_TAIL(lay_commit_elen, LAY_COMMIT_E)

/* ---- heads: origin -> seq(8) hash(32) hlc(8) -------------------------- */

#define LAY_HEAD_SEQ 0
#define LAY_HEAD_HASH 8
#define LAY_HEAD_HLC (8 + PROTO_HASH_LEN)
#define LAY_HEAD_LEN (LAY_HEAD_HLC + 8)

static inline void
lay_head_pack(uint8_t v[LAY_HEAD_LEN], uint64_t seq, const uint8_t *hash,
    uint64_t hlc)
{
	put_be64(v + LAY_HEAD_SEQ, seq);
	memcpy(v + LAY_HEAD_HASH, hash, PROTO_HASH_LEN);
	put_be64(v + LAY_HEAD_HLC, hlc);
}

/* Points at where a head's hash goes, for writing it in place. */
static inline uint8_t *
lay_head_hash_at(uint8_t v[LAY_HEAD_LEN])
{
	return v + LAY_HEAD_HASH;
}

LAY_U64(lay_head_seq, LAY_HEAD_SEQ)
LAY_PTR(lay_head_hash, LAY_HEAD_HASH)
LAY_U64(lay_head_hlc, LAY_HEAD_HLC)

/* ---- pending: origin seq -> recv_ms(8) hash(32) hlc(8) sig(64) E ------ */

#define LAY_PEND_RECV 0
#define LAY_PEND_HASH 8
#define LAY_PEND_HLC (LAY_PEND_HASH + PROTO_HASH_LEN)
#define LAY_PEND_SIG (LAY_PEND_HLC + 8)
#define LAY_PEND_E (LAY_PEND_SIG + PROTO_SIG_LEN)  /* the least size */
#define LAY_PEND_LEN(elen) (LAY_PEND_E + (size_t)(elen))

static inline void
lay_pend_pack(uint8_t *v, uint64_t recv_ms, const uint8_t *hash,
    uint64_t hlc, const uint8_t *sig, const uint8_t *e, size_t elen)
{
	put_be64(v + LAY_PEND_RECV, recv_ms);
	memcpy(v + LAY_PEND_HASH, hash, PROTO_HASH_LEN);
	put_be64(v + LAY_PEND_HLC, hlc);
	memcpy(v + LAY_PEND_SIG, sig, PROTO_SIG_LEN);
	memcpy(v + LAY_PEND_E, e, elen);
}

LAY_U64(lay_pend_recv, LAY_PEND_RECV)
LAY_PTR(lay_pend_hash, LAY_PEND_HASH)
LAY_U64(lay_pend_hlc, LAY_PEND_HLC)
LAY_PTR(lay_pend_sig, LAY_PEND_SIG)
LAY_PTR(lay_pend_e, LAY_PEND_E)

/* The bytes of E in a value of len bytes (at least LAY_PEND_E). */
LAY_TAIL(lay_pend_elen, LAY_PEND_E)

/* ---- forks: origin(32) seq(8) hash(32) -> sig(64) E -------------------- */

#define LAY_FORK_HASH LAY_SEQKEY_LEN
#define LAY_FORK_KEY_LEN (LAY_SEQKEY_LEN + PROTO_HASH_LEN)
#define LAY_FORK_SIG 0
#define LAY_FORK_E PROTO_SIG_LEN
#define LAY_FORK_LEN(elen) (LAY_FORK_E + (size_t)(elen))

static inline void
lay_fork_key(uint8_t k[LAY_FORK_KEY_LEN], const uint8_t *origin, uint64_t seq,
    const uint8_t *hash)
{
	lay_seqkey(k, origin, seq);
	memcpy(k + LAY_FORK_HASH, hash, PROTO_HASH_LEN);
}

LAY_PTR(lay_fork_key_hash, LAY_FORK_HASH)

static inline void
lay_fork_pack(uint8_t *v, const uint8_t *sig, const uint8_t *e, size_t elen)
{
	memcpy(v + LAY_FORK_SIG, sig, PROTO_SIG_LEN);
	memcpy(v + LAY_FORK_E, e, elen);
}

LAY_PTR(lay_fork_sig, LAY_FORK_SIG)
LAY_PTR(lay_fork_e, LAY_FORK_E)

/* The bytes of E in a value of len bytes (at least LAY_FORK_E). */
LAY_TAIL(lay_fork_elen, LAY_FORK_E)

/* ---- history: id(16) hlc(8) origin(32) seq(8) op(4) -> type(1) --------- */

#define LAY_HIST_HLC PROTO_ID_LEN
#define LAY_HIST_ORIGIN (LAY_HIST_HLC + 8)
#define LAY_HIST_SEQ (LAY_HIST_ORIGIN + PROTO_KEY_LEN)
#define LAY_HIST_OP (LAY_HIST_SEQ + 8)
#define LAY_HIST_KEY_LEN (LAY_HIST_OP + 4)
/* The origin and seq, together: the commits key of the op's commit. */
#define LAY_HIST_COMMIT LAY_HIST_ORIGIN

static inline void
lay_hist_key(uint8_t k[LAY_HIST_KEY_LEN], const uint8_t *id, uint64_t hlc,
    const uint8_t *origin, uint64_t seq, uint32_t op)
{
	memcpy(k, id, PROTO_ID_LEN);
	put_be64(k + LAY_HIST_HLC, hlc);
	memcpy(k + LAY_HIST_ORIGIN, origin, PROTO_KEY_LEN);
	put_be64(k + LAY_HIST_SEQ, seq);
	put_be32(k + LAY_HIST_OP, op);
}

/* Sets the op index of a history key. */
static inline void
lay_hist_op_set(uint8_t *k, uint32_t op)
{
	put_be32(k + LAY_HIST_OP, op);
}

LAY_U64(lay_hist_hlc, LAY_HIST_HLC)
LAY_PTR(lay_hist_origin, LAY_HIST_ORIGIN)
LAY_U64(lay_hist_seq, LAY_HIST_SEQ)
LAY_U32(lay_hist_op, LAY_HIST_OP)

/* Copies the origin and seq of a history key out as a commits key. */
static inline void
lay_hist_commit(uint8_t out[LAY_SEQKEY_LEN], const uint8_t *k)
{
	memcpy(out, k + LAY_HIST_COMMIT, LAY_SEQKEY_LEN);
}

/* ---- bysite: type(1) site(16) ymd(4) id(16) -> "" --------------------- */

#define LAY_BYSITE_SITE 1
#define LAY_BYSITE_YMD (1 + PROTO_ID_LEN)
#define LAY_BYSITE_ID (LAY_BYSITE_YMD + 4)
#define LAY_BYSITE_LEN (LAY_BYSITE_ID + PROTO_ID_LEN)

/* Packs the key; returns its length. */
static inline size_t
lay_bysite_key(uint8_t k[LAY_BYSITE_LEN], uint8_t type, const uint8_t *site,
    uint32_t ymd, const uint8_t *id)
{
	k[0] = type;
	memcpy(k + LAY_BYSITE_SITE, site, PROTO_ID_LEN);
	put_be32(k + LAY_BYSITE_YMD, ymd);
	memcpy(k + LAY_BYSITE_ID, id, PROTO_ID_LEN);
	return LAY_BYSITE_LEN;
}

/* The prefix of one type and site's entries, from ymd on; returns the
 * prefix's length (LAY_BYSITE_YMD) and fills the ymd after it. */
static inline size_t
lay_bysite_from(uint8_t k[LAY_BYSITE_LEN], uint8_t type, const uint8_t *site,
    uint32_t ymd)
{
	k[0] = type;
	memcpy(k + LAY_BYSITE_SITE, site, PROTO_ID_LEN);
	put_be32(k + LAY_BYSITE_YMD, ymd);
	return LAY_BYSITE_YMD;
}

/* ---- bydate: type(1) ymd(4) id(16) -> "" ------------------------------ */

#define LAY_BYDATE_TYPE 0
#define LAY_BYDATE_YMD 1
#define LAY_BYDATE_ID (1 + 4)
#define LAY_BYDATE_LEN (LAY_BYDATE_ID + PROTO_ID_LEN)

/* The type index of a bydate key (its entries sort by it first). */
static inline uint8_t
lay_bydate_type(const uint8_t *k)
{
	return k[LAY_BYDATE_TYPE];
}

static inline size_t
lay_bydate_key(uint8_t k[LAY_BYDATE_LEN], uint8_t type, uint32_t ymd,
    const uint8_t *id)
{
	k[0] = type;
	put_be32(k + LAY_BYDATE_YMD, ymd);
	memcpy(k + LAY_BYDATE_ID, id, PROTO_ID_LEN);
	return LAY_BYDATE_LEN;
}

/* The prefix of one type's entries, from ymd on; returns its length. */
static inline size_t
lay_bydate_from(uint8_t k[LAY_BYDATE_LEN], uint8_t type, uint32_t ymd)
{
	k[0] = type;
	put_be32(k + LAY_BYDATE_YMD, ymd);
	return LAY_BYDATE_YMD;
}

/* The bytes of the ymd of bysite and bydate keys. */
#define LAY_YMD_LEN 4

/*
 * Reads an index key of len bytes whose type (and site) prefix is plen
 * bytes long (bydate's LAY_BYDATE_YMD, bysite's LAY_BYSITE_YMD): its date
 * and its id.  Returns 0, or -1 when the key is too short for that.
 */
static inline int
lay_index_entry(const uint8_t *k, size_t len, size_t plen, uint32_t *ymd,
    const uint8_t **id)
{
	if (len < plen + LAY_YMD_LEN + PROTO_ID_LEN)
		return -1;
	*ymd = get_be32(k + plen);
	*id = k + plen + LAY_YMD_LEN;
	return 0;
}

/* ---- seen: id(16) field NUL hlc(8) -> "" ------------------------------ */
/* ---- conflicts: id(16) field NUL hlc(8) origin(32) -> value ------------ */

#define LAY_SEEN_KEY_MAX (PROTO_ID_LEN + PROTO_MAX_NAME + 1 + 8)
#define LAY_CONFLICT_KEY_MAX (LAY_SEEN_KEY_MAX + PROTO_KEY_LEN)
#define LAY_SEEN_KEY_MIN (PROTO_ID_LEN + 2 + 8)
#define LAY_CONFLICT_KEY_MIN (LAY_SEEN_KEY_MIN + PROTO_KEY_LEN)

/* Packs a seen key (name of nlen bytes, at most PROTO_MAX_NAME); returns
 * its length.  A conflicts key of the same field and clock starts so. */
static inline size_t
lay_seen_key(uint8_t k[LAY_SEEN_KEY_MAX], const uint8_t *id, const char *name,
    size_t nlen, uint64_t hlc)
{
	memcpy(k, id, PROTO_ID_LEN);
	memcpy(k + PROTO_ID_LEN, name, nlen);
	k[PROTO_ID_LEN + nlen] = 0;
	put_be64(k + PROTO_ID_LEN + nlen + 1, hlc);
	return PROTO_ID_LEN + nlen + 1 + 8;
}

/* Packs a conflicts key; returns its length. */
static inline size_t
lay_conflict_key(uint8_t k[LAY_CONFLICT_KEY_MAX], const uint8_t *id,
    const char *name, size_t nlen, uint64_t hlc, const uint8_t *origin)
{
	size_t n = lay_seen_key(k, id, name, nlen, hlc);

	memcpy(k + n, origin, PROTO_KEY_LEN);
	return n + PROTO_KEY_LEN;
}

/*
 * The prefix of one record's field in seen or conflicts: id, name, NUL;
 * returns its length.
 */
static inline size_t
lay_field_prefix(uint8_t k[LAY_SEEN_KEY_MAX], const uint8_t *id,
    const char *name, size_t nlen)
{
	memcpy(k, id, PROTO_ID_LEN);
	memcpy(k + PROTO_ID_LEN, name, nlen);
	k[PROTO_ID_LEN + nlen] = 0;
	return PROTO_ID_LEN + nlen + 1;
}

/*
 * Reads a seen or conflicts key of len bytes (with_origin: a conflicts
 * key): the field name (not NUL-terminated) and its length, the clock
 * and, for conflicts, the origin.  Returns 0, or -1 when the key is not
 * of that shape.
 */
static inline int
lay_field_key_parse(const uint8_t *k, size_t len, int with_origin,
    const uint8_t **name, size_t *nlen, uint64_t *hlc,
    const uint8_t **origin)
{
	size_t tail = 8 + (with_origin ? PROTO_KEY_LEN : 0);
	const uint8_t *nul;

	if (len < PROTO_ID_LEN + 2 + tail)
		return -1;
	nul = (const uint8_t *)memchr(k + PROTO_ID_LEN, 0,
	    len - PROTO_ID_LEN - tail);
	if (nul == NULL || nul == k + PROTO_ID_LEN ||
	    (size_t)(nul - k) + 1 + tail != len)
		return -1;
	*name = k + PROTO_ID_LEN;
	*nlen = (size_t)(nul - *name);
	*hlc = get_be64(nul + 1);
	if (origin != NULL)
		*origin = with_origin ? nul + 9 : NULL;
	return 0;
}

/* ---- invites: id(16) -> hash(32) expires_ms(8) used(1) has_site(1)
 *      site(16) role(16, NUL-padded) ----------------------------------- */

#define LAY_INVITE_HASH 0
#define LAY_INVITE_EXPIRES PROTO_HASH_LEN
#define LAY_INVITE_USED (LAY_INVITE_EXPIRES + 8)
#define LAY_INVITE_HAS_SITE (LAY_INVITE_USED + 1)
#define LAY_INVITE_SITE (LAY_INVITE_HAS_SITE + 1)
#define LAY_INVITE_ROLE (LAY_INVITE_SITE + PROTO_ID_LEN)
#define LAY_INVITE_ROLE_LEN 16
#define LAY_INVITE_LEN (LAY_INVITE_ROLE + LAY_INVITE_ROLE_LEN)

/* Packs an unused invite: role is cut to 15 bytes and NUL-padded. */
static inline void
lay_invite_pack(uint8_t v[LAY_INVITE_LEN], const uint8_t *hash,
    uint64_t expires_ms, int has_site, const uint8_t *site, const char *role)
{
	memset(v, 0, LAY_INVITE_LEN);
	memcpy(v + LAY_INVITE_HASH, hash, PROTO_HASH_LEN);
	put_be64(v + LAY_INVITE_EXPIRES, expires_ms);
	v[LAY_INVITE_HAS_SITE] = (uint8_t)(has_site != 0);
	memcpy(v + LAY_INVITE_SITE, site, PROTO_ID_LEN);
	memcpy(v + LAY_INVITE_ROLE, role,
	    strnlen(role, LAY_INVITE_ROLE_LEN - 1));
}

LAY_PTR(lay_invite_hash, LAY_INVITE_HASH)
LAY_U64(lay_invite_expires, LAY_INVITE_EXPIRES)

static inline int
lay_invite_used(const uint8_t *v)
{
	return v[LAY_INVITE_USED] != 0;
}

static inline void
lay_invite_mark_used(uint8_t *v)
{
	v[LAY_INVITE_USED] = 1;
}

static inline int
lay_invite_has_site(const uint8_t *v)
{
	return v[LAY_INVITE_HAS_SITE] != 0;
}

LAY_PTR(lay_invite_site, LAY_INVITE_SITE)

/* Copies the role out, NUL-terminated (out holds LAY_INVITE_ROLE_LEN). */
static inline void
lay_invite_role(char out[LAY_INVITE_ROLE_LEN], const uint8_t *v)
{
	memcpy(out, v + LAY_INVITE_ROLE, LAY_INVITE_ROLE_LEN - 1);
	out[LAY_INVITE_ROLE_LEN - 1] = '\0';
}

/* ---- lastseen: key(32) -> ms(8) seq(8) -------------------------------- */

#define LAY_LASTSEEN_MS 0
#define LAY_LASTSEEN_SEQ 8
#define LAY_LASTSEEN_LEN 16

static inline void
lay_lastseen_pack(uint8_t v[LAY_LASTSEEN_LEN], uint64_t ms, uint64_t seq)
{
	put_be64(v + LAY_LASTSEEN_MS, ms);
	put_be64(v + LAY_LASTSEEN_SEQ, seq);
}

LAY_U64(lay_lastseen_ms, LAY_LASTSEEN_MS)
LAY_U64(lay_lastseen_seq, LAY_LASTSEEN_SEQ)

/* ---- node.key: the libsodium secret key, seed(32) then public key(32) -- */

static inline const uint8_t *
lay_sk_pk(const uint8_t sk[PROTO_SK_LEN])
{
	return sk + (PROTO_SK_LEN - PROTO_KEY_LEN);
}

/* ---- meta "schema": format(4) ----------------------------------------- */

#define LAY_SCHEMA_LEN 4

/* ---- names: type(1) fold(name) NUL id(16) -> the name as written ------
 * and, under LAY_SUFFIX_TAG in place of a type, every id's hex digits
 * reversed(16) -> id (storage/names.c). */

#define LAY_NAME_TYPE 0
#define LAY_NAME_FOLD 1
#define LAY_NAME_LEN(flen) (LAY_NAME_FOLD + (size_t)(flen) + 1 + PROTO_ID_LEN)
/* The longest names key: a longer name is not indexed. */
#define LAY_NAME_KEY_MAX 512

/* Where a name's folded bytes go (the caller folds into it). */
static inline uint8_t *
lay_name_fold(uint8_t *k)
{
	return k + LAY_NAME_FOLD;
}

/* Starts a name key (or the prefix of a look-up) of type; returns where
 * its folded bytes go. */
static inline uint8_t *
lay_name_start(uint8_t *k, uint8_t type)
{
	k[LAY_NAME_TYPE] = type;
	return k + LAY_NAME_FOLD;
}

/* Reads a name key of len bytes: its type, folded name and id.  Returns
 * 0, or -1 when it is too short or has no NUL after the name. */
static inline int
lay_name_parse(const uint8_t *k, size_t len, uint8_t *type,
    const uint8_t **fold, size_t *flen, const uint8_t **id)
{
	if (len < LAY_NAME_LEN(0) || k[len - PROTO_ID_LEN - 1] != '\0')
		return -1;
	*type = k[LAY_NAME_TYPE];
	*fold = k + LAY_NAME_FOLD;
	*flen = len - LAY_NAME_LEN(0);
	*id = k + len - PROTO_ID_LEN;
	return 0;
}

/* Completes a name key whose flen folded bytes are in place; returns its
 * length. */
static inline size_t
lay_name_key(uint8_t *k, uint8_t type, size_t flen, const uint8_t *id)
{
	k[0] = type;
	k[LAY_NAME_FOLD + flen] = '\0';
	memcpy(k + LAY_NAME_FOLD + flen + 1, id, PROTO_ID_LEN);
	return LAY_NAME_LEN(flen);
}

/* The id of a name key of len bytes. */
static inline const uint8_t *
lay_name_id(const uint8_t *k, size_t len)
{
	return k + len - PROTO_ID_LEN;
}

#define LAY_SUFFIX_TAG 0xfe
#define LAY_SUFFIX_REV 1
#define LAY_SUFFIX_LEN (LAY_SUFFIX_REV + PROTO_ID_LEN)

/* The reversed-id key of id: its hex digits last to first, as bytes. */
static inline void
lay_suffix_key(uint8_t k[LAY_SUFFIX_LEN], const uint8_t *id)
{
	int i;

	k[LAY_NAME_TYPE] = LAY_SUFFIX_TAG;
	for (i = 0; i < PROTO_ID_LEN; i++)
		k[LAY_SUFFIX_REV + PROTO_ID_LEN - 1 - i] =
		    (uint8_t)(id[i] << 4 | id[i] >> 4);
}

/* Whether a names key of len bytes is a reversed-id entry. */
static inline int
lay_is_suffix(const uint8_t *k, size_t len)
{
	return len == LAY_SUFFIX_LEN && k[LAY_NAME_TYPE] == LAY_SUFFIX_TAG;
}

LAY_PTR(lay_suffix_rev, LAY_SUFFIX_REV)

#endif /* CAFESYNC_STORAGE_LAYOUT_H */
