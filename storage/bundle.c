/*
 * bundle.c: carrying commits as a file.  Export writes the plain bundle
 * stream of docs/formats.md, or seals it to one recipient node; import
 * reads either through fixed buffers (so a huge or hostile file costs
 * bounded memory), verifies every commit exactly as a network peer would
 * and applies batches in one transaction each.
 *
 * A sealed bundle is read twice: once to check that every chunk opens and
 * the final chunk is there, applying nothing, and then again to import
 * the plain bundle it carries.  So a damaged, altered or cut sealed file
 * imports nothing at all, while memory stays bounded whatever its size.
 * Input that cannot seek (a pipe) is first copied, still sealed, to an
 * unnamed temporary file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <sodium.h>
#include <zstd.h>

#include "internal.h"

/* Commits applied per write transaction on import. */
#define IMPORT_BATCH 1024
/* The read buffer: room for two of the largest items. */
#define IMPORT_BUF (2 * PROTO_BUNDLE_MAX_ITEM + 4096)
/* A compressed bundle: the plain bundle as zstd frames, made at this
 * level; its reader keeps at most 2^BUNDLE_ZWINDOW bytes of window. */
#define BUNDLE_ZLEVEL 3
#define BUNDLE_ZWINDOW 23
#define ZSTD_MAGIC "\x28\xb5\x2f\xfd"


/*
 * Where an export writes: straight to the file, or through a sealing
 * stream that gathers PROTO_SEAL_CHUNK bytes of plaintext per chunk.
 */
struct bundle_out {
	FILE *f;
	struct proto_seal *ps;     /* NULL for a plain bundle */
	uint8_t *plain;            /* plaintext of the next chunk */
	size_t plen;
	uint8_t *sealed;           /* one sealed chunk */
	ZSTD_CCtx *z;              /* compressing (plain bundles only) */
	uint8_t *zout;
	size_t zcap;
	int err;                   /* errno of the first failed write */
};

/*
 * Compresses n bytes into the current zstd frame, or with end ends the
 * frame (the next bytes start a fresh one), writing what comes out.
 */
static int
out_z(struct bundle_out *o, const uint8_t *p, size_t n, int end)
{
	ZSTD_inBuffer in = { p, n, 0 };
	ZSTD_outBuffer out;
	size_t left;

	do {
		out.dst = o->zout;
		out.size = o->zcap;
		out.pos = 0;
		left = ZSTD_compressStream2(o->z, &out, &in,
		    end ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(left)) {
			o->err = EINVAL;
			return -1;
		}
		if (out.pos > 0 && fwrite(o->zout, 1, out.pos, o->f) !=
		    out.pos) {
			o->err = errno != 0 ? errno : EIO;
			return -1;
		}
	} while (in.pos < in.size || (end && left != 0));
	return 0;
}

/* Writes n bytes to the file; returns 0 or -1 (err set). */
static int
out_raw(struct bundle_out *o, const void *p, size_t n)
{
	if (o->err == 0 && fwrite(p, 1, n, o->f) != n)
		o->err = errno != 0 ? errno : EIO;
	return o->err != 0 ? -1 : 0;
}

/* Seals the gathered plaintext as one chunk and writes it. */
static int
out_chunk(struct bundle_out *o, int final)
{
	int n;

	n = proto_seal_push(o->ps, o->sealed, o->plain, o->plen, final);
	o->plen = 0;
	if (n < 0) {
		o->err = EINVAL;
		return -1;
	}
	return out_raw(o, o->sealed, (size_t)n);
}

/*
 * Writes bundle bytes.  A full chunk is sealed only when more bytes
 * follow, so the final chunk is never empty.
 */
static int
out_write(struct bundle_out *o, const uint8_t *p, size_t n)
{
	size_t k;

	if (o->z != NULL)
		return o->err != 0 ? -1 : out_z(o, p, n, 0);
	if (o->ps == NULL)
		return out_raw(o, p, n);
	while (n > 0) {
		if (o->plen == PROTO_SEAL_CHUNK && out_chunk(o, 0) != 0)
			return -1;
		k = PROTO_SEAL_CHUNK - o->plen;
		if (k > n)
			k = n;
		memcpy(o->plain + o->plen, p, k);
		o->plen += k;
		p += k;
		n -= k;
	}
	return 0;
}

struct export_arg {
	struct store *s;
	struct store_member *reader;   /* sealed to a member: its scope */
	uint8_t last[PROTO_KEY_LEN];   /* the origin last decided on */
	int last_ok;
	int skip_admin;
	struct bundle_out *o;
	struct proto_enc w;
	const struct store_since *since;
	size_t nsince;
	uint64_t count;
	uint8_t zlast[PROTO_KEY_LEN];  /* compressing: the frame's origin */
};

/* Writes one commit unless it is at or before its origin's since point. */
static int
export_commit(const struct store_commit *sc, void *arg)
{
	struct export_arg *ea = arg;
	size_t i;

	if (ea->skip_admin && memcmp(sc->c->origin, ea->s->info.network,
	    PROTO_KEY_LEN) == 0)
		return 0;	/* written first */
	if (ea->reader != NULL) {
		if (memcmp(ea->last, sc->c->origin, PROTO_KEY_LEN) != 0) {
			struct store_member author;
			int known;

			memcpy(ea->last, sc->c->origin, PROTO_KEY_LEN);
			known = store_member_get(ea->s, sc->c->origin,
			    &author) == 0;
			ea->last_ok = store_scope_allows(ea->reader,
			    ea->s->info.network, sc->c->origin,
			    known ? &author : NULL);
			if (known)
				store_member_free(&author);
		}
		if (!ea->last_ok)
			return 0;
	}
	for (i = 0; i < ea->nsince; i++)
		if (memcmp(ea->since[i].origin, sc->c->origin,
		    PROTO_KEY_LEN) == 0 && sc->c->seq <= ea->since[i].seq)
			return 0;
	/* One zstd frame per origin: no frame mixes two origins' bytes. */
	if (ea->o->z != NULL && ea->count > 0 &&
	    memcmp(ea->zlast, sc->c->origin, PROTO_KEY_LEN) != 0 &&
	    out_z(ea->o, NULL, 0, 1) != 0)
		return 1;
	memcpy(ea->zlast, sc->c->origin, PROTO_KEY_LEN);
	proto_enc_reset(&ea->w);
	proto_bundle_item(&ea->w, sc->e, sc->elen, sc->sig);
	if (out_write(ea->o, (const uint8_t *)ea->w.sb.data,
	    ea->w.sb.size) != 0)
		return 1;
	ea->count++;
	return 0;
}

/*
 * Writes a bundle of the log to f, sealed to the node to when it is not
 * NULL.  Returns 0, CS_EUSAGE for a key that cannot be sealed to, or
 * CS_EIO, with *cause.
 */
static int
bundle_export(struct store *s, FILE *f, const uint8_t *to, int compress,
    const struct store_since *since, size_t nsince, uint64_t *count,
    char **cause)
{
	struct bundle_out o;
	struct export_arg ea;
	struct store_member reader;
	uint8_t hdr[PROTO_SEAL_HEADER_LEN];
	const char *why = NULL;
	int rc = 0;

	memset(&o, 0, sizeof(o));
	memset(&ea, 0, sizeof(ea));
	*count = 0;
	o.f = f;
	if (to != NULL && store_member_get(s, to, &reader) == 0) {
		int revoked = reader.revoked;

		store_member_free(&reader);
		if (revoked) {
			*cause = xstrdup("recipient: that key was revoked by "
			    "the network's admin");
			return CS_EUSAGE;
		}
	}
	if (to != NULL) {
		if (proto_seal_begin(&o.ps, hdr, to, &why) != 0) {
			*cause = xasprintf("recipient: %s", why);
			return CS_EUSAGE;
		}
		o.plain = xmalloc(PROTO_SEAL_CHUNK);
		o.sealed = xmalloc(PROTO_SEAL_MAX_SEALED);
		out_raw(&o, hdr, sizeof(hdr));
	}
	if (compress) {
		o.z = ZSTD_createCCtx();
		if (o.z == NULL)
			abort();
		ZSTD_CCtx_setParameter(o.z, ZSTD_c_compressionLevel,
		    BUNDLE_ZLEVEL);
		ZSTD_CCtx_setParameter(o.z, ZSTD_c_windowLog, BUNDLE_ZWINDOW);
		o.zcap = ZSTD_CStreamOutSize();
		o.zout = xmalloc(o.zcap);
	}
	ea.o = &o;
	ea.s = s;
	ea.since = since;
	ea.nsince = nsince;
	if (to != NULL && store_member_get(s, to, &reader) == 0)
		ea.reader = &reader;
	else if (to != NULL) {
		/* Not enrolled (yet): the admin log only. */
		memset(&reader, 0, sizeof(reader));
		memcpy(reader.key, to, PROTO_KEY_LEN);
		ea.reader = &reader;
	}
	proto_enc_init(&ea.w);
	proto_bundle_header(&ea.w, s->info.network);
	/* The admin log goes first: it says who may write the rest. */
	if (out_write(&o, (const uint8_t *)ea.w.sb.data, ea.w.sb.size) == 0) {
		store_log(s, s->info.network, 0, export_commit, &ea);
		ea.skip_admin = 1;
		store_log(s, NULL, 0, export_commit, &ea);
	}
	if (ea.reader != NULL)
		store_member_free(ea.reader);
	if (o.ps != NULL && o.err == 0)
		out_chunk(&o, 1);
	if (o.z != NULL && o.err == 0)
		out_z(&o, NULL, 0, 1);
	proto_enc_free(&ea.w);
	*count = ea.count;
	if (o.err == 0 && fflush(f) != 0)
		o.err = errno;
	if (o.err != 0) {
		*cause = xasprintf("cannot write the bundle: %s",
		    strerror(o.err));
		rc = CS_EIO;
	}
	if (o.plain != NULL)
		sodium_memzero(o.plain, PROTO_SEAL_CHUNK);
	free(o.plain);
	free(o.sealed);
	free(o.zout);
	ZSTD_freeCCtx(o.z);
	proto_seal_free(o.ps);
	return rc;
}

/* Writes a plain bundle of the log to f. */
int
store_bundle_export(struct store *s, FILE *f, const struct store_since *since,
    size_t nsince, uint64_t *count, char **cause)
{
	return bundle_export(s, f, NULL, 0, since, nsince, count, cause);
}

/* Writes a compressed plain bundle of the log to f. */
int
store_bundle_export_compressed(struct store *s, FILE *f,
    const struct store_since *since, size_t nsince, uint64_t *count,
    char **cause)
{
	return bundle_export(s, f, NULL, 1, since, nsince, count, cause);
}

/* Writes a bundle of the log to f, sealed to the node to. */
int
store_bundle_export_sealed(struct store *s, FILE *f,
    const uint8_t to[PROTO_KEY_LEN], const struct store_since *since,
    size_t nsince, uint64_t *count, char **cause)
{
	return bundle_export(s, f, to, 0, since, nsince, count, cause);
}

/*
 * Reads a sealed bundle: the header, then one chunk at a time into a
 * plaintext buffer that the importer reads as if it were a plain file.
 */
struct opener {
	FILE *f;
	struct proto_seal *ps;
	uint8_t *sealed;           /* sealed bytes read, not yet opened */
	size_t slen;
	uint8_t *plain;            /* the last chunk opened */
	size_t plen, ppos;
	int eof;                   /* f has no more bytes */
	int final;                 /* the final chunk was opened */
};

/* Reads into buf until n bytes or the end; returns 0 or CS_EIO. */
static int
read_full(FILE *f, uint8_t *buf, size_t n, size_t *got)
{
	size_t r;

	*got = 0;
	while (*got < n) {
		r = fread(buf + *got, 1, n - *got, f);
		*got += r;
		if (r == 0)
			return ferror(f) ? CS_EIO : 0;
	}
	return 0;
}

/* Releases an opener, wiping what it decrypted. */
static void
opener_free(struct opener *op)
{
	if (op->plain != NULL)
		sodium_memzero(op->plain, PROTO_SEAL_CHUNK);
	free(op->plain);
	free(op->sealed);
	proto_seal_free(op->ps);
	memset(op, 0, sizeof(*op));
}

/*
 * Reads and checks the header of the sealed bundle at f's position and
 * starts the opening stream with this node's key.  Returns 0, CS_EIO,
 * CS_EDECODE or CS_EVERSION (a header that is not one this code reads),
 * or CS_EPERM (sealed to another node) with *cause.
 */
static int
opener_start(struct opener *op, struct store *s, FILE *f, char **cause)
{
	uint8_t hdr[PROTO_SEAL_HEADER_LEN], to[PROTO_KEY_LEN];
	char want[2 * PROTO_KEY_LEN + 1], have[2 * PROTO_KEY_LEN + 1];
	const char *why = NULL;
	size_t got;
	int rc;

	memset(op, 0, sizeof(*op));
	op->f = f;
	if (read_full(f, hdr, sizeof(hdr), &got) != 0) {
		*cause = xasprintf("cannot read the bundle: %s",
		    strerror(errno));
		return CS_EIO;
	}
	rc = proto_seal_parse_header(hdr, got, to, &why);
	if (rc != 0) {
		*cause = xasprintf("not a readable sealed bundle: header: %s",
		    why);
		return rc == CS_EVERSION ? CS_EVERSION : CS_EDECODE;
	}
	/* Say which node can open it before any key is used. */
	if (memcmp(to, s->info.node, PROTO_KEY_LEN) != 0) {
		proto_hex(want, to, PROTO_KEY_LEN);
		proto_hex(have, s->info.node, PROTO_KEY_LEN);
		*cause = xasprintf("sealed to node %.16s..., this node is "
		    "%.16s...", want, have);
		return CS_EPERM;
	}
	rc = proto_seal_open_begin(&op->ps, hdr, s->sk, &why);
	if (rc != 0) {
		*cause = xasprintf("not a readable sealed bundle: header: %s",
		    why);
		return rc == CS_EPERM ? CS_EPERM : CS_EDECODE;
	}
	op->sealed = xmalloc(PROTO_SEAL_MAX_SEALED);
	op->plain = xmalloc(PROTO_SEAL_CHUNK);
	return 0;
}

/*
 * Opens the next chunk into op->plain.  Returns 0; CS_ESIG with *cause
 * naming the chunk when it is damaged, altered, out of order or followed
 * by more bytes; CS_ETRUNC when the file ends inside a chunk or without
 * the final chunk; or CS_EIO.
 */
static int
opener_next(struct opener *op, char **cause)
{
	unsigned long long n = proto_seal_chunks(op->ps) + 1;
	const char *why = NULL;
	size_t got;
	int r, c;

	for (;;) {
		r = proto_seal_pull(op->ps, op->sealed, op->slen, op->plain,
		    &op->plen, &op->final, &why);
		if (r > 0)
			break;
		if (r < 0) {
			*cause = xasprintf("sealed bundle: chunk %llu: %s", n,
			    why);
			return CS_ESIG;
		}
		if (op->eof) {
			if (op->slen == 0)
				*cause = xasprintf("sealed bundle: missing "
				    "end: the file ends after chunk %llu "
				    "without the final chunk (truncated)",
				    n - 1);
			else
				*cause = xasprintf("sealed bundle: the file "
				    "ends inside chunk %llu (truncated)", n);
			return CS_ETRUNC;
		}
		if (read_full(op->f, op->sealed + op->slen,
		    PROTO_SEAL_MAX_SEALED - op->slen, &got) != 0)
			goto ioerr;
		op->slen += got;
		if (op->slen < PROTO_SEAL_MAX_SEALED)
			op->eof = 1;
	}
	memmove(op->sealed, op->sealed + r, op->slen - (size_t)r);
	op->slen -= (size_t)r;
	op->ppos = 0;
	if (op->final) {
		/* The final chunk ends the file: anything after is damage. */
		if (op->slen == 0 && !op->eof) {
			if ((c = fgetc(op->f)) == EOF && ferror(op->f))
				goto ioerr;
			if (c != EOF)
				op->slen = 1;
			op->eof = 1;
		}
		if (op->slen != 0) {
			*cause = xasprintf("sealed bundle: data after the "
			    "final chunk (chunk %llu)", n);
			return CS_ESIG;
		}
	}
	return 0;
ioerr:
	*cause = xasprintf("cannot read the bundle: %s", strerror(errno));
	return CS_EIO;
}

/*
 * Reads up to n bytes of the plain bundle the sealed file carries.
 * *got is 0 only at its end, after the final chunk.  Returns 0 or the
 * error of opener_next().
 */
static int
opener_read(struct opener *op, uint8_t *buf, size_t n, size_t *got,
    char **cause)
{
	size_t k;
	int rc;

	*got = 0;
	while (op->ppos == op->plen) {
		if (op->final)
			return 0;
		if ((rc = opener_next(op, cause)) != 0)
			return rc;
	}
	k = op->plen - op->ppos;
	if (k > n)
		k = n;
	memcpy(buf, op->plain + op->ppos, k);
	op->ppos += k;
	*got = k;
	return 0;
}

struct importer {
	struct store *s;
	FILE *f;
	struct opener *op;    /* reads through a sealed bundle, or NULL */
	ZSTD_DStream *zd;     /* reads through a compressed one, or NULL */
	ZSTD_inBuffer zin;
	uint8_t *zbuf;
	size_t zleft;         /* 0 between frames */
	int zeof;
	uint8_t *buf;
	size_t len, pos;      /* bytes in buf; bytes parsed */
	int eof;
	struct store_item *items;
	size_t n;
	uint64_t index;       /* 1-based index of the last item parsed */
	struct store_failed failed;
	store_refuse_fn fn;
	void *arg;
	struct store_import_stats *st;
};

/*
 * Decompresses up to n bytes of a compressed bundle into buf (*got 0 at
 * its end only).  Returns 0, or CS_EDECODE / CS_EIO with *cause.
 */
static int
zread(struct importer *im, uint8_t *buf, size_t n, size_t *got, char **cause)
{
	ZSTD_outBuffer out = { buf, n, 0 };
	size_t k;

	while (out.pos == 0) {
		if (im->zin.pos == im->zin.size) {
			if (im->zeof) {
				if (im->zleft == 0)
					break;
				*cause = xstrdup("bundle: the file ends inside "
				    "a zstd frame");
				return CS_EDECODE;
			}
			k = fread(im->zbuf, 1, IMPORT_BUF, im->f);
			if (k == 0 && ferror(im->f)) {
				*cause = xasprintf("cannot read the bundle: "
				    "%s", strerror(errno));
				return CS_EIO;
			}
			im->zeof = k == 0;
			im->zin.src = im->zbuf;
			im->zin.size = k;
			im->zin.pos = 0;
			continue;
		}
		im->zleft = ZSTD_decompressStream(im->zd, &out, &im->zin);
		if (ZSTD_isError(im->zleft)) {
			*cause = xasprintf("bundle: not a valid compressed "
			    "bundle: %s", ZSTD_getErrorName(im->zleft));
			return CS_EDECODE;
		}
	}
	*got = out.pos;
	return 0;
}

/*
 * Moves unparsed bytes to the front and reads more, from the file or
 * through the opener.  Returns 0 or an error with *cause.
 */
static int
refill(struct importer *im, char **cause)
{
	size_t got;
	int rc;

	memmove(im->buf, im->buf + im->pos, im->len - im->pos);
	im->len -= im->pos;
	im->pos = 0;
	while (!im->eof && im->len < IMPORT_BUF) {
		if (im->op != NULL || im->zd != NULL) {
			rc = im->op != NULL ? opener_read(im->op,
			    im->buf + im->len, IMPORT_BUF - im->len, &got,
			    cause) : zread(im, im->buf + im->len,
			    IMPORT_BUF - im->len, &got, cause);
			if (rc != 0)
				return rc;
		} else {
			got = fread(im->buf + im->len, 1,
			    IMPORT_BUF - im->len, im->f);
			if (got == 0 && ferror(im->f)) {
				*cause = xasprintf("cannot read the bundle: "
				    "%s", strerror(errno));
				return CS_EIO;
			}
		}
		im->len += got;
		if (got == 0)
			im->eof = 1;
	}
	return 0;
}

/* Applies the items gathered so far and reports refusals. */
static int
flush(struct importer *im, char **cause)
{
	uint64_t first = im->index - im->n + 1;
	size_t i;
	int rc;

	if (im->n == 0)
		return 0;
	rc = store_apply_ex(im->s, im->items, im->n, &im->failed, cause);
	if (rc != 0)
		return rc;
	for (i = 0; i < im->n; i++) {
		struct store_item *it = &im->items[i];

		if (it->result == 0)
			im->st->applied++;
		else if (it->result == CS_EDUP)
			im->st->dup++;
		else if (it->result == CS_EPENDING)
			im->st->pending++;
		else {
			im->st->refused++;
			im->fn(first + i, it->seq ? it->origin : NULL, it->seq,
			    it->cause, im->arg);
		}
	}
	im->n = 0;
	return 0;
}

/*
 * Reads, verifies and applies the plain bundle stream that refill()
 * gives, from the bytes already in im->buf on.  Returns 0 when the stream
 * was read to its end, or an error with *cause.
 */
static int
import_plain(struct importer *im, char **cause)
{
	struct store_import_stats *st = im->st;
	uint8_t network[PROTO_KEY_LEN];
	const char *why = NULL;
	int r, rc;

	if ((rc = refill(im, cause)) != 0)
		return rc;
	r = proto_bundle_parse_header(im->buf, im->len, network, &why);
	if (r <= 0) {
		*cause = xasprintf("not a readable bundle: %s",
		    r == 0 ? "file ends inside the header" : why);
		return CS_EDECODE;
	}
	if (memcmp(network, im->s->info.network, PROTO_KEY_LEN) != 0) {
		*cause = xstrdup("bundle belongs to another network");
		return CS_EPERM;
	}
	im->pos = (size_t)r;
	for (;;) {
		const uint8_t *e, *sig;
		size_t elen;

		r = proto_bundle_parse_item(im->buf + im->pos,
		    im->len - im->pos, &e, &elen, &sig, &why);
		if (r > 0) {
			struct store_item *it = &im->items[im->n++];

			memset(it, 0, sizeof(*it));
			it->e = e;
			it->elen = elen;
			it->sig = sig;
			im->pos += (size_t)r;
			im->index++;
			st->read++;
			if (im->n == IMPORT_BATCH &&
			    (rc = flush(im, cause)) != 0)
				return rc;
			continue;
		}
		if (r == 0 && im->pos == im->len && im->eof)
			break;	/* the clean end */
		if (r == 0 && !im->eof) {
			/* Items point into buf: apply them before moving. */
			if ((rc = flush(im, cause)) != 0)
				return rc;
			if ((rc = refill(im, cause)) != 0)
				return rc;
			continue;
		}
		/* Damage: a cut or malformed item.  Stop here. */
		if ((rc = flush(im, cause)) != 0)
			return rc;
		st->refused++;
		im->fn(im->index + 1, NULL, 0, r == 0 ?
		    "bundle ends in the middle of this commit" : why, im->arg);
		break;
	}
	return flush(im, cause);
}

/*
 * Copies what is left of the importer's file, after the bytes already in
 * its buffer, to an unnamed temporary file, so that a sealed bundle read
 * from a pipe can be read twice.  The copy is the sealed bytes: nothing
 * decrypted touches the disk.  Returns 0 with *tp at its start, or CS_EIO
 * with *cause.
 */
static int
spool(struct importer *im, FILE **tp, char **cause)
{
	FILE *t;
	size_t got;

	*tp = NULL;
	if ((t = tmpfile()) == NULL)
		goto fail;
	if (fwrite(im->buf, 1, im->len, t) != im->len)
		goto fail;
	while (!im->eof) {
		got = fread(im->buf, 1, IMPORT_BUF, im->f);
		if (got == 0) {
			if (ferror(im->f))
				goto fail;
			im->eof = 1;
		} else if (fwrite(im->buf, 1, got, t) != got)
			goto fail;
	}
	if (fflush(t) != 0 || fseeko(t, 0, SEEK_SET) != 0)
		goto fail;
	*tp = t;
	return 0;
fail:
	*cause = xasprintf("cannot read the bundle: %s", strerror(errno));
	if (t != NULL)
		fclose(t);
	return CS_EIO;
}

/*
 * Imports the sealed bundle whose first bytes are in im->buf and that
 * starts at offset start of im->f (-1 when im->f cannot seek).  The first
 * pass opens every chunk and throws the plaintext away; only when all of
 * them open and the final one is there does the second pass import.  The
 * second pass checks every chunk again, so a file changed between the two
 * stops there, having applied only commits that were verified.
 */
static int
import_sealed(struct importer *im, off_t start, char **cause)
{
	struct opener op;
	FILE *src = im->f, *tmp = NULL;
	char *why = NULL;
	int rc;

	memset(&op, 0, sizeof(op));
	if (start < 0 || fseeko(src, start, SEEK_SET) != 0) {
		if ((rc = spool(im, &tmp, cause)) != 0)
			return rc;
		src = tmp;
		start = 0;
	}
	/* Pass 1: every chunk must open, up to the final one. */
	if ((rc = opener_start(&op, im->s, src, cause)) != 0)
		goto out;
	while (!op.final)
		if ((rc = opener_next(&op, &why)) != 0) {
			*cause = rc == CS_EIO ? xstrdup(why) :
			    xasprintf("%s; nothing imported", why);
			goto out;
		}
	opener_free(&op);
	/* Pass 2: import the plain bundle inside. */
	if (fseeko(src, start, SEEK_SET) != 0) {
		*cause = xasprintf("cannot read the bundle: %s",
		    strerror(errno));
		rc = CS_EIO;
		goto out;
	}
	clearerr(src);
	if ((rc = opener_start(&op, im->s, src, cause)) != 0)
		goto out;
	im->op = &op;
	im->len = im->pos = 0;
	im->eof = 0;
	rc = import_plain(im, cause);
	im->op = NULL;
out:
	opener_free(&op);
	free(why);
	if (tmp != NULL)
		fclose(tmp);
	return rc;
}

/* Reads, verifies and applies a plain or sealed bundle. */
int
store_bundle_import(struct store *s, FILE *f, store_refuse_fn fn, void *arg,
    struct store_import_stats *st, char **cause)
{
	struct importer im;
	off_t start;
	int rc;

	memset(&im, 0, sizeof(im));
	memset(st, 0, sizeof(*st));
	im.s = s;
	im.f = f;
	im.fn = fn;
	im.arg = arg;
	im.st = st;
	im.buf = xmalloc(IMPORT_BUF);
	im.items = xcalloc(IMPORT_BATCH, sizeof(*im.items));
	/* Where the bundle starts, to read a sealed one again; -1: a pipe. */
	start = ftello(f);
	if ((rc = refill(&im, cause)) != 0)
		goto out;
	if (proto_seal_detect(im.buf, im.len))
		rc = import_sealed(&im, start, cause);
	else if (im.len >= 4 && memcmp(im.buf, ZSTD_MAGIC, 4) == 0) {
		/* Compressed: what was read is the first compressed bytes. */
		im.zd = ZSTD_createDStream();
		if (im.zd == NULL)
			abort();
		ZSTD_DCtx_setParameter(im.zd, ZSTD_d_windowLogMax,
		    BUNDLE_ZWINDOW);
		im.zbuf = xmalloc(IMPORT_BUF);
		memcpy(im.zbuf, im.buf, im.len);
		im.zin.src = im.zbuf;
		im.zin.size = im.len;
		im.zin.pos = 0;
		im.zeof = im.eof;
		im.len = im.pos = 0;
		im.eof = 0;
		if ((rc = refill(&im, cause)) == 0)
			rc = import_plain(&im, cause);
	} else
		rc = import_plain(&im, cause);
out:
	st->drained = im.failed.drained;
	st->applied += st->drained;
	free(im.failed.origin);
	free(im.items);
	free(im.buf);
	free(im.zbuf);
	ZSTD_freeDStream(im.zd);
	return rc;
}
