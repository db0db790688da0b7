/*
 * proto.h: the cafesync change-log protocol, sans I/O.
 *
 * This header is the one public interface of proto/: the error codes every
 * layer shares, the commit codec (strict MessagePack decoding within the
 * bounds below), the signature with its domain separation, the BLAKE2b hash
 * chain, the hybrid logical clock, record ids and the plain bundle stream.
 * Nothing here touches a file, a socket or a clock except through arguments.
 *
 * The byte layouts are documented in docs/formats.md.  Changing any of them,
 * or any bound below, changes what other nodes accept: bump
 * PROTO_COMMIT_VERSION or PROTO_BUNDLE_VERSION when you do.
 */
#ifndef CAFESYNC_PROTO_H
#define CAFESYNC_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* Versions of the formats this code writes and accepts. */
#define PROTO_COMMIT_VERSION 1
#define PROTO_BUNDLE_VERSION 1

/* Sizes of the fixed binary fields. */
#define PROTO_KEY_LEN 32  /* ed25519 public key: a node's id */
#define PROTO_SK_LEN 64   /* ed25519 secret key (seed || public key) */
#define PROTO_SIG_LEN 64  /* ed25519 signature */
#define PROTO_HASH_LEN 32 /* BLAKE2b-256 */
#define PROTO_ID_LEN 16   /* record id: 48-bit ms, 32 random bits, tag */

/* Bounds.  Anything larger is refused before or while decoding. */
#define PROTO_MAX_COMMIT (1024 * 1024) /* bytes of one encoded commit E */
#define PROTO_MAX_OPS 4096             /* ops in one commit */
#define PROTO_MAX_FIELDS 64            /* fields in one op */
#define PROTO_MAX_NAME 32              /* bytes of a type or field name */
#define PROTO_MAX_VALUE 8192           /* bytes of one string or bin value */
#define PROTO_MAX_ITEMS 256            /* items of one array value */
#define PROTO_MAX_DEPTH 8              /* nesting of arrays and maps in E */

/* The string every commit signature starts with (without its NUL). */
#define PROTO_SIG_DOMAIN "cafesync-commit-v1"

/*
 * Error codes shared by every layer.  Functions return 0 on success and one
 * of these (negative) on failure; cs_strerror() names them.
 */
enum cs_error {
	CS_OK = 0,
	CS_ENOMEM = -1,    /* out of memory */
	CS_EDECODE = -2,   /* malformed encoding */
	CS_EBOUND = -3,    /* a documented size bound exceeded */
	CS_ESIG = -4,      /* signature does not verify */
	CS_ECHAIN = -5,    /* prev is not the hash of the previous commit */
	CS_ESEQ = -6,      /* seq leaves a gap after the known head */
	CS_EDUP = -7,      /* commit already stored (identical replay) */
	CS_EFORK = -8,     /* a different commit at a stored (origin, seq) */
	CS_ESCHEMA = -9,   /* an op does not validate against the schema */
	CS_ENOTFOUND = -10, /* no such record, commit or file */
	CS_EAMBIG = -11,   /* an id prefix matches more than one record */
	CS_EIO = -12,      /* an operating system call failed */
	CS_EDB = -13,      /* the LMDB store failed */
	CS_EEXIST = -14,   /* already exists */
	CS_EUSAGE = -15,   /* bad argument or input */
	CS_EVERSION = -16, /* unsupported format version */
	CS_EPERM = -17,    /* not allowed (key file mode, membership) */
	CS_ETRUNC = -18,   /* input ends in the middle of an item */
	CS_EPENDING = -19, /* held, waiting for the admin log to allow it */
	CS_ENOSPC = -20,   /* the store's disk is full */
	CS_EDAMAGED = -21, /* the store file is damaged (truncated, bad pages) */
	CS_ETIMEDOUT = -22, /* no answer in time */
};

/* Returns a static, human-readable name for an error code. */
const char *cs_strerror(int err);

/*
 * Allocation wrappers: failure (and size overflow) is fatal, so callers
 * need not test.  xasprintf() returns a malloc'd formatted string.
 */
void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Operation kinds, as encoded in an op's first element. */
#define PROTO_OP_PUT 0
#define PROTO_OP_DEL 1

/*
 * One decoded op.  Every pointer points into the commit's decoded objects
 * and stays valid until proto_commit_free() on the commit that holds it.
 * base, when present, maps a field name to the clocks of the values the
 * author saw when it wrote this op: a uint (the value it replaced) or an
 * array of uints (that value first, then conflicting values it had in
 * view); nbase is 0 when the op has no base.
 */
struct proto_op {
	unsigned kind;
	const char *type;
	uint32_t type_len;
	const uint8_t *id;
	const msgpack_object_kv *fields;
	uint32_t nfields;
	const msgpack_object_kv *base;
	uint32_t nbase;
	int has_base;           /* a fifth element: an edit, not a create */
};

/*
 * One decoded commit.  origin, prev and ops point into memory owned by the
 * commit (its zone) or into the buffer passed to proto_commit_decode(),
 * which must outlive the commit.  prev is NULL at seq 1.
 */
struct proto_commit {
	uint64_t version;
	const uint8_t *origin;
	uint64_t seq;
	const uint8_t *prev;
	uint64_t hlc;
	uint32_t nops;
	struct proto_op *ops;
	msgpack_zone *zone;
};

/*
 * Decodes commit bytes E strictly: exactly one MessagePack array of the
 * documented shape, every bound checked, no trailing bytes.  On failure
 * returns CS_EDECODE, CS_ETRUNC (the bytes end inside an object),
 * CS_EBOUND or CS_EVERSION with *cause (if cause is not
 * NULL) set to a static string saying what is wrong, and frees what it made.
 */
int proto_commit_decode(struct proto_commit *c, const uint8_t *e, size_t len,
    const char **cause);

/*
 * Returns the origin in commit bytes E (the bin 32 after the array header
 * and a one-byte version) without decoding, or NULL when E does not start
 * that way: for work ahead of the decode (a signature check on another
 * thread, grouping by origin), which proto_commit_decode() still checks.
 */
const uint8_t *proto_commit_origin(const uint8_t *e, size_t len);

/* Releases what proto_commit_decode() allocated.  Safe on a zeroed commit. */
void proto_commit_free(struct proto_commit *c);

/*
 * Checks that buf holds exactly one well-formed MessagePack object, nested
 * at most max_depth deep, with no ext types and no trailing bytes, whose
 * every declared array or map count could fit in the remaining bytes (so a
 * decoder never allocates for elements that are not there).  Returns 0,
 * CS_EDECODE, CS_ETRUNC or CS_EBOUND with a static *cause.
 */
int proto_mp_check(const uint8_t *buf, size_t len, unsigned max_depth,
    const char **cause);

/*
 * A growing MessagePack buffer with its packer.  proto_enc_init() sets it
 * up empty; proto_enc_free() releases it; proto_enc_reset() empties it for
 * reuse.  Allocation failure is fatal.
 */
struct proto_enc {
	msgpack_sbuffer sb;
	msgpack_packer pk;
};
void proto_enc_init(struct proto_enc *w);
void proto_enc_reset(struct proto_enc *w);
void proto_enc_free(struct proto_enc *w);

/* Packs a C string as a MessagePack str. */
void proto_pack_cstr(msgpack_packer *pk, const char *s);

/*
 * Starts encoding a commit into w (which is reset first): packs the commit
 * array header and every element up to the ops array header for nops ops.
 * prev is NULL at seq 1.  The caller then packs each op with
 * proto_op_begin() followed by nfields key/value pairs and, when nbase is
 * not 0, nbase (field name, hlc) pairs.
 */
void proto_commit_begin(struct proto_enc *w, const uint8_t *origin,
    uint64_t seq, const uint8_t *prev, uint64_t hlc, uint32_t nops);

/*
 * Packs an op's header, up to and including its fields map header.  With
 * has_base the op array has a fifth element, the base map, whose header
 * the caller packs with proto_op_base() after the fields.
 */
void proto_op_begin(struct proto_enc *w, unsigned kind, const char *type,
    const uint8_t *id, uint32_t nfields, int has_base);

/* Packs the base map header; call after the op's fields. */
void proto_op_base(struct proto_enc *w, uint32_t nbase);

/*
 * Signs E for network: ed25519 over PROTO_SIG_DOMAIN || network || E.
 */
void proto_sign(uint8_t sig[PROTO_SIG_LEN], const uint8_t *e, size_t len,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t sk[PROTO_SK_LEN]);

/* Bytes before E in the signed message: the domain, then the network. */
#define PROTO_SIG_PREFIX_LEN (sizeof(PROTO_SIG_DOMAIN) - 1 + PROTO_KEY_LEN)

/* Writes the signed message's prefix for network into out. */
void proto_sig_prefix(uint8_t out[PROTO_SIG_PREFIX_LEN],
    const uint8_t network[PROTO_KEY_LEN]);

/*
 * Signs a message the caller laid out itself as the prefix followed by E
 * (saving proto_sign()'s copy of a large E).  The same signature as
 * proto_sign() over E.
 */
void proto_sign_framed(uint8_t sig[PROTO_SIG_LEN], const uint8_t *m,
    size_t mlen, const uint8_t sk[PROTO_SK_LEN]);

/* Verifies a signature made by proto_sign(); returns 0 or CS_ESIG. */
int proto_verify(const uint8_t sig[PROTO_SIG_LEN], const uint8_t *e,
    size_t len, const uint8_t network[PROTO_KEY_LEN],
    const uint8_t pk[PROTO_KEY_LEN]);

/* Computes a commit's hash: BLAKE2b-256 over E || sig. */
void proto_hash(uint8_t out[PROTO_HASH_LEN], const uint8_t *e, size_t len,
    const uint8_t sig[PROTO_SIG_LEN]);

/*
 * Hybrid logical clock: 48 bits of milliseconds since the epoch, then a
 * 16-bit counter.  hlc_tick() returns the clock for a new local event,
 * strictly greater than last; hlc_merge() returns the clock after seeing a
 * remote clock (the larger of the two).
 */
#define HLC_MS(h) ((h) >> 16)
/*
 * The latest clock a commit may carry: 2200-01-01T00:00:00Z.  Later ones
 * are refused, so no commit can push every node's clock to its end.
 */
#define PROTO_HLC_MAX_MS 7258118400000ULL
/*
 * How far past this node's wall clock a received clock may be and still
 * move the node's own clock: one day.  A commit from further ahead is
 * accepted (its author's clock is its author's), but the node's next
 * commits do not follow it, so one far-future commit cannot use up every
 * other node's clock (nor stop the admin from writing a revocation).
 */
#define PROTO_HLC_FUTURE_MS 86400000ULL
uint64_t hlc_tick(uint64_t last, uint64_t wall_ms);
uint64_t hlc_merge(uint64_t last, uint64_t remote);

/*
 * Record ids (formats.md, "Keys and ids"): 48-bit milliseconds,
 * big-endian, the owner tag (the first 6 bytes of the key of the node
 * that made the record), then 32 random bits: ids sort by time, and the
 * ids of one store differ at their end, which short ids show.  The tag
 * makes who created a
 * record part of its id, so a rule about ownership needs nothing but the
 * op; nobody can make an id with another key's tag without grinding 2^48
 * keys.  Member records live apart: 6 zero bytes (a time of 0), then the
 * member key's first 10 bytes; no other record may have a time of 0.
 */
#define PROTO_ID_TAG_OFF 6
#define PROTO_ID_TAG_LEN 6
#define PROTO_ID_RAND_OFF 12
#define PROTO_ID_RAND_LEN 4

/*
 * Makes a record id owned by key.  Ids made by one process are strictly
 * increasing: within one millisecond (or when the clock steps back) the
 * previous id plus one is used (time and random part counted as one
 * number, the tag kept).
 */
void proto_id_new(uint8_t id[PROTO_ID_LEN], uint64_t wall_ms,
    const uint8_t key[PROTO_KEY_LEN]);

/* Tells whether id carries key's owner tag. */
int proto_id_owned(const uint8_t id[PROTO_ID_LEN],
    const uint8_t key[PROTO_KEY_LEN]);

/* Makes the id of key's member record. */
void proto_member_id(uint8_t id[PROTO_ID_LEN],
    const uint8_t key[PROTO_KEY_LEN]);

/* Tells whether id lies in the member records' space (a time of 0). */
int proto_id_reserved(const uint8_t id[PROTO_ID_LEN]);

/* Hex helpers.  proto_hex() writes 2*len chars and a NUL into out. */
void proto_hex(char *out, const uint8_t *in, size_t len);
/* Parses exactly 2*len hex chars; returns 0 or CS_EUSAGE. */
int proto_unhex(uint8_t *out, size_t len, const char *hex);

/*
 * Splits a peer address "host:port" (or "[v6]:port") into host and a
 * port in 1..65535.  Returns 0, or -1 when it is not of that shape or a
 * part does not fit its buffer.
 */
int proto_split_addr(const char *addr, char *host, size_t hostlen,
    char *port, size_t portlen);

/*
 * Plain bundle stream: a header map {"format": "cafesync-bundle",
 * "version": 1, "network": bin 32}, then one [E (bin), sig (bin 64)] array
 * per commit.  proto_bundle_header() packs the header.
 */
void proto_bundle_header(struct proto_enc *w,
    const uint8_t network[PROTO_KEY_LEN]);

/* Packs one bundle item. */
void proto_bundle_item(struct proto_enc *w, const uint8_t *e, size_t len,
    const uint8_t sig[PROTO_SIG_LEN]);

/* Largest encoded header and item the parser accepts. */
#define PROTO_BUNDLE_MAX_HEADER 256
#define PROTO_BUNDLE_MAX_ITEM (PROTO_MAX_COMMIT + PROTO_SIG_LEN + 16)

/*
 * Parses a bundle header at the start of buf.  Returns the number of bytes
 * it used (> 0) with network filled in, 0 when more bytes are needed (and
 * len < PROTO_BUNDLE_MAX_HEADER), or a negative error with a static cause.
 */
int proto_bundle_parse_header(const uint8_t *buf, size_t len,
    uint8_t network[PROTO_KEY_LEN], const char **cause);

/*
 * Parses one bundle item at the start of buf.  Returns the bytes used (> 0)
 * with *e, *elen and *sig pointing into buf, 0 when more bytes are needed,
 * or a negative error with a static cause.
 */
int proto_bundle_parse_item(const uint8_t *buf, size_t len,
    const uint8_t **e, size_t *elen, const uint8_t **sig, const char **cause);

/* ---- sealed bundles ---------------------------------------------------- */

/*
 * A sealed bundle is a plain bundle encrypted to one recipient node, so a
 * lost file gives nothing away (docs/formats.md, "Sealed bundle").  The
 * file is a fixed header, then chunks, each a 4-byte big-endian length
 * and one crypto_secretstream_xchacha20poly1305 message of at most
 * PROTO_SEAL_CHUNK plaintext bytes; the last carries TAG_FINAL, so a cut
 * file is told apart from a whole one.
 *
 *   header: "cafesync-sealed" (15) || version (1) || recipient (32, the
 *           node id) || ephemeral X25519 public key (32) ||
 *           secretstream header (24)
 *
 * The stream key is BLAKE2b-256 keyed with X25519(ephemeral, recipient's
 * curve25519 key) over PROTO_SEAL_DOMAIN || the header's first 80 bytes,
 * so an altered version, recipient or ephemeral key makes the first chunk
 * fail to open.  Bump PROTO_SEAL_VERSION when any of this changes.
 */
#define PROTO_SEAL_VERSION 1
#define PROTO_SEAL_MAGIC "cafesync-sealed"          /* without its NUL */
#define PROTO_SEAL_MAGIC_LEN (sizeof(PROTO_SEAL_MAGIC) - 1)
#define PROTO_SEAL_DOMAIN "cafesync-sealed-v1"      /* key derivation */
#define PROTO_SEAL_HEADER_LEN 104
#define PROTO_SEAL_CHUNK (64 * 1024)   /* most plaintext bytes in a chunk */
#define PROTO_SEAL_OVERHEAD (4 + 17)   /* length prefix, tag byte and MAC */
#define PROTO_SEAL_MAX_SEALED (PROTO_SEAL_CHUNK + PROTO_SEAL_OVERHEAD)

/*
 * The state of one sealing or opening stream: the secretstream state and
 * the number of chunks done.  Opaque; proto_seal_free() wipes and frees it.
 */
struct proto_seal;

/*
 * Returns 1 when buf starts with the sealed magic (or with a prefix of it
 * when len is shorter than the magic, but not empty), else 0.  A plain
 * bundle starts with a MessagePack map, never with 'c'.
 */
int proto_seal_detect(const uint8_t *buf, size_t len);

/*
 * Checks that key is an ed25519 public key a bundle can be sealed to (it
 * maps to a usable curve25519 key).  Returns 0, or CS_EUSAGE with a
 * static *cause.
 */
int proto_seal_key_check(const uint8_t key[PROTO_KEY_LEN],
    const char **cause);

/*
 * Starts sealing to recipient: makes a fresh ephemeral key, derives the
 * stream key and writes the header into hdr.  Returns 0 with *sp set (free
 * it with proto_seal_free()), or CS_EUSAGE with a static *cause when
 * recipient is not a usable key.  libsodium must be initialised.
 */
int proto_seal_begin(struct proto_seal **sp,
    uint8_t hdr[PROTO_SEAL_HEADER_LEN], const uint8_t recipient[PROTO_KEY_LEN],
    const char **cause);

/*
 * Seals len bytes of plaintext (at most PROTO_SEAL_CHUNK) as the next
 * chunk into out, which must hold len + PROTO_SEAL_OVERHEAD bytes; final
 * marks the last chunk.  Returns the chunk's length, or CS_EUSAGE when len
 * is too large or the final chunk was already sealed.
 */
int proto_seal_push(struct proto_seal *ps, uint8_t *out, const uint8_t *in,
    size_t len, int final);

/*
 * Parses a sealed header: checks the magic and the version and copies the
 * recipient out.  Returns 0, CS_ETRUNC when len is shorter than the
 * header, CS_EDECODE (not a sealed bundle) or CS_EVERSION, with a static
 * *cause.
 */
int proto_seal_parse_header(const uint8_t *buf, size_t len,
    uint8_t recipient[PROTO_KEY_LEN], const char **cause);

/*
 * Starts opening a sealed stream with this node's secret key sk (64
 * bytes, as node.key).  Returns 0 with *sp set, or the error of
 * proto_seal_parse_header(), or CS_EPERM when the header names another
 * recipient, or CS_ESIG when the ephemeral key is unusable, with a static
 * *cause.  A wrong key is not always caught here: an altered header is
 * caught by the first chunk failing to open.
 */
int proto_seal_open_begin(struct proto_seal **sp,
    const uint8_t hdr[PROTO_SEAL_HEADER_LEN], const uint8_t sk[PROTO_SK_LEN],
    const char **cause);

/*
 * Opens the chunk at the start of buf (len bytes) into out, which must
 * hold PROTO_SEAL_CHUNK bytes.  Returns the bytes of buf used (> 0) with
 * *outlen and *final set; 0 when more bytes are needed (len is less than
 * PROTO_SEAL_MAX_SEALED then); or a negative error with a static *cause:
 * CS_EBOUND (a length outside the chunk bounds), CS_ESIG (the chunk does
 * not authenticate: damaged, altered, reordered or from another stream),
 * CS_EDECODE (a chunk after the final one, or an unknown tag).  After an
 * error the stream stays failed.
 */
int proto_seal_pull(struct proto_seal *ps, const uint8_t *buf, size_t len,
    uint8_t *out, size_t *outlen, int *final, const char **cause);

/* Returns the number of chunks sealed or opened so far. */
uint64_t proto_seal_chunks(const struct proto_seal *ps);

/* Wipes and frees a stream state; NULL is allowed. */
void proto_seal_free(struct proto_seal *ps);

#endif /* CAFESYNC_PROTO_H */
