/*
 * bundle.c: carrying commits as a file.  Export writes the plain bundle
 * stream of docs/formats.md; import reads it through a fixed buffer (so a
 * huge or hostile file costs bounded memory), verifies every commit
 * exactly as a network peer would and applies batches in one transaction
 * each.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Commits applied per write transaction on import. */
#define IMPORT_BATCH 1024
/* The read buffer: room for two of the largest items. */
#define IMPORT_BUF (2 * PROTO_BUNDLE_MAX_ITEM + 4096)

struct export_arg {
	FILE *f;
	struct proto_enc w;
	const struct store_since *since;
	size_t nsince;
	uint64_t count;
	int err;
};

/* Writes one commit unless it is at or before its origin's since point. */
static int
export_commit(const struct store_commit *sc, void *arg)
{
	struct export_arg *ea = arg;
	size_t i;

	for (i = 0; i < ea->nsince; i++)
		if (memcmp(ea->since[i].origin, sc->c->origin,
		    PROTO_KEY_LEN) == 0 && sc->c->seq <= ea->since[i].seq)
			return 0;
	proto_enc_reset(&ea->w);
	proto_bundle_item(&ea->w, sc->e, sc->elen, sc->sig);
	if (fwrite(ea->w.sb.data, 1, ea->w.sb.size, ea->f) != ea->w.sb.size) {
		ea->err = errno;
		return 1;
	}
	ea->count++;
	return 0;
}

/* Writes a bundle of the log to f. */
int
store_bundle_export(struct store *s, FILE *f, const struct store_since *since,
    size_t nsince, uint64_t *count, char **cause)
{
	struct export_arg ea;

	memset(&ea, 0, sizeof(ea));
	ea.f = f;
	ea.since = since;
	ea.nsince = nsince;
	proto_enc_init(&ea.w);
	proto_bundle_header(&ea.w, s->info.network);
	if (fwrite(ea.w.sb.data, 1, ea.w.sb.size, f) != ea.w.sb.size)
		ea.err = errno;
	else
		store_log(s, NULL, 0, export_commit, &ea);
	proto_enc_free(&ea.w);
	*count = ea.count;
	if (ea.err != 0 || fflush(f) != 0) {
		*cause = xasprintf("cannot write the bundle: %s",
		    strerror(ea.err ? ea.err : errno));
		return CS_EIO;
	}
	return 0;
}

struct importer {
	struct store *s;
	FILE *f;
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

/* Moves unparsed bytes to the front and reads more; returns 0 or -1. */
static int
refill(struct importer *im)
{
	size_t got;

	memmove(im->buf, im->buf + im->pos, im->len - im->pos);
	im->len -= im->pos;
	im->pos = 0;
	while (!im->eof && im->len < IMPORT_BUF) {
		got = fread(im->buf + im->len, 1, IMPORT_BUF - im->len, im->f);
		im->len += got;
		if (got == 0) {
			if (ferror(im->f))
				return -1;
			im->eof = 1;
		}
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
		else {
			im->st->refused++;
			im->fn(first + i, it->seq ? it->origin : NULL, it->seq,
			    it->cause, im->arg);
		}
	}
	im->n = 0;
	return 0;
}

/* Reads, verifies and applies a bundle. */
int
store_bundle_import(struct store *s, FILE *f, store_refuse_fn fn, void *arg,
    struct store_import_stats *st, char **cause)
{
	struct importer im;
	uint8_t network[PROTO_KEY_LEN];
	const char *why = NULL;
	int r, rc = 0;

	memset(&im, 0, sizeof(im));
	memset(st, 0, sizeof(*st));
	im.s = s;
	im.f = f;
	im.fn = fn;
	im.arg = arg;
	im.st = st;
	im.buf = xmalloc(IMPORT_BUF);
	im.items = xcalloc(IMPORT_BATCH, sizeof(*im.items));
	if (refill(&im) != 0)
		goto ioerr;
	r = proto_bundle_parse_header(im.buf, im.len, network, &why);
	if (r <= 0) {
		*cause = xasprintf("not a readable bundle: %s",
		    r == 0 ? "file ends inside the header" : why);
		rc = CS_EDECODE;
		goto out;
	}
	if (memcmp(network, s->info.network, PROTO_KEY_LEN) != 0) {
		*cause = xstrdup("bundle belongs to another network");
		rc = CS_EPERM;
		goto out;
	}
	im.pos = (size_t)r;
	for (;;) {
		const uint8_t *e, *sig;
		size_t elen;

		r = proto_bundle_parse_item(im.buf + im.pos, im.len - im.pos,
		    &e, &elen, &sig, &why);
		if (r > 0) {
			struct store_item *it = &im.items[im.n++];

			memset(it, 0, sizeof(*it));
			it->e = e;
			it->elen = elen;
			it->sig = sig;
			im.pos += (size_t)r;
			im.index++;
			st->read++;
			if (im.n == IMPORT_BATCH && (rc = flush(&im,
			    cause)) != 0)
				goto out;
			continue;
		}
		if (r == 0 && im.pos == im.len && im.eof)
			break;	/* the clean end */
		if (r == 0 && !im.eof) {
			/* Items point into buf: apply them before moving. */
			if ((rc = flush(&im, cause)) != 0)
				goto out;
			if (refill(&im) != 0)
				goto ioerr;
			continue;
		}
		/* Damage: a cut or malformed item.  Stop here. */
		if ((rc = flush(&im, cause)) != 0)
			goto out;
		st->refused++;
		fn(im.index + 1, NULL, 0, r == 0 ?
		    "bundle ends in the middle of this commit" : why, arg);
		break;
	}
	rc = flush(&im, cause);
	goto out;
ioerr:
	*cause = xasprintf("cannot read the bundle: %s", strerror(errno));
	rc = CS_EIO;
out:
	free(im.failed.origin);
	free(im.items);
	free(im.buf);
	return rc;
}
