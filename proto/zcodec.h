/*
 * zcodec.h: COMMITS batches compressed with zstd and a shared dictionary,
 * sans I/O.
 *
 * A ZCOMMITS message (wire.h, 0x22) carries the same items as a COMMITS
 * message, each run of consecutive items of one origin compressed as its
 * own zstd frame with a fresh context and the dictionary both sides
 * agreed on in HEADS.  zc_compress() turns a packed COMMITS message into
 * a ZCOMMITS one; zc_expand() turns a ZCOMMITS message back into the
 * exact COMMITS message bytes, never producing more than WIRE_MAX_FRAME.
 * Commits are signed, hashed and stored as their plain bytes: only the
 * transport is compressed.
 */
#ifndef CAFESYNC_ZCODEC_H
#define CAFESYNC_ZCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define ZC_NONE 0u               /* the id that means no compression */
#define ZC_LEVEL 3

/* A dictionary, ready to compress and decompress with.  Opaque. */
struct zc_dict;

/*
 * Makes a dictionary of raw content (copied).  Its id is the first four
 * bytes of BLAKE2b-256 of the content, big-endian, never ZC_NONE: two
 * nodes agree on an id only if they hold the same bytes.
 */
struct zc_dict *zc_dict_new(const uint8_t *content, size_t len);
uint32_t zc_dict_id(const struct zc_dict *d);
void zc_dict_free(struct zc_dict *d);

/*
 * Packs into out (reset first) the ZCOMMITS message for the COMMITS
 * message msg/len (as wire_pack_commits_begin() and proto_bundle_item()
 * pack it): one zstd frame per run of one origin's items, each compressed
 * with a fresh context.  Returns 0, or CS_EDECODE if msg is not a COMMITS
 * message.
 */
int zc_compress(const struct zc_dict *d, const uint8_t *msg, size_t len,
    struct proto_enc *out);

/*
 * Expands the ZCOMMITS message msg/len into out (reset first): the COMMITS
 * message it stands for.  d is the dictionary this side offered (NULL: it
 * offered none).  A frame that names another dictionary, does not state
 * its size, claims or yields more than what is left of WIRE_MAX_FRAME, or
 * does not decompress to whole items is refused.  Returns 0, or
 * CS_EDECODE / CS_EBOUND with a static *cause.
 */
int zc_expand(const struct zc_dict *d, const uint8_t *msg, size_t len,
    struct proto_enc *out, const char **cause);

#endif /* CAFESYNC_ZCODEC_H */
