/*
 * crypto.c: commit signatures with domain separation, the hash chain, the
 * hybrid logical clock and record ids.
 *
 * A signature covers PROTO_SIG_DOMAIN || network || E, so a commit signed
 * for one network (or for any other purpose) never verifies in another.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto.h"

#define DOMAIN_LEN (sizeof(PROTO_SIG_DOMAIN) - 1)
#define STACK_MSG 4096

/*
 * Builds the signed message into a stack buffer when small, else a heap
 * one; returns the buffer, which the caller frees when it is not stack.
 */
static uint8_t *
sig_message(uint8_t *stack, const uint8_t *e, size_t len,
    const uint8_t network[PROTO_KEY_LEN], size_t *mlen)
{
	uint8_t *m;

	*mlen = DOMAIN_LEN + PROTO_KEY_LEN + len;
	m = *mlen <= STACK_MSG ? stack : xmalloc(*mlen);
	proto_sig_prefix(m, network);
	memcpy(m + DOMAIN_LEN + PROTO_KEY_LEN, e, len);
	return m;
}

/* Signs E for network with sk. */
void
proto_sign(uint8_t sig[PROTO_SIG_LEN], const uint8_t *e, size_t len,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t sk[PROTO_SK_LEN])
{
	uint8_t stack[STACK_MSG], *m;
	size_t mlen;

	m = sig_message(stack, e, len, network, &mlen);
	crypto_sign_detached(sig, NULL, m, mlen, sk);
	if (m != stack)
		free(m);
}

/* Writes the signed message's prefix. */
void
proto_sig_prefix(uint8_t out[PROTO_SIG_PREFIX_LEN],
    const uint8_t network[PROTO_KEY_LEN])
{
	memcpy(out, PROTO_SIG_DOMAIN, DOMAIN_LEN);
	memcpy(out + DOMAIN_LEN, network, PROTO_KEY_LEN);
}

/* Signs prefix || E laid out by the caller. */
void
proto_sign_framed(uint8_t sig[PROTO_SIG_LEN], const uint8_t *m, size_t mlen,
    const uint8_t sk[PROTO_SK_LEN])
{
	crypto_sign_detached(sig, NULL, m, mlen, sk);
}

/* Verifies sig over E for network by pk; returns 0 or CS_ESIG. */
int
proto_verify(const uint8_t sig[PROTO_SIG_LEN], const uint8_t *e, size_t len,
    const uint8_t network[PROTO_KEY_LEN], const uint8_t pk[PROTO_KEY_LEN])
{
	uint8_t stack[STACK_MSG], *m;
	size_t mlen;
	int rc;

	m = sig_message(stack, e, len, network, &mlen);
	rc = crypto_sign_verify_detached(sig, m, mlen, pk) == 0 ? 0 : CS_ESIG;
	if (m != stack)
		free(m);
	return rc;
}

/* Computes BLAKE2b-256 over E || sig. */
void
proto_hash(uint8_t out[PROTO_HASH_LEN], const uint8_t *e, size_t len,
    const uint8_t sig[PROTO_SIG_LEN])
{
	crypto_generichash_state st;

	crypto_generichash_init(&st, NULL, 0, PROTO_HASH_LEN);
	crypto_generichash_update(&st, e, len);
	crypto_generichash_update(&st, sig, PROTO_SIG_LEN);
	crypto_generichash_final(&st, out, PROTO_HASH_LEN);
}

/* Returns a clock for a new local event, strictly after last. */
uint64_t
hlc_tick(uint64_t last, uint64_t wall_ms)
{
	uint64_t now = (wall_ms & 0xffffffffffffULL) << 16;

	if (now > last)
		return now;
	/* Received clocks are bounded (PROTO_HLC_MAX_MS): never wraps. */
	return last == UINT64_MAX ? last : last + 1;
}

/* Returns the clock after seeing remote. */
uint64_t
hlc_merge(uint64_t last, uint64_t remote)
{
	return remote > last ? remote : last;
}

/*
 * Makes a time-ordered record id owned by key.  The previous id lives in a
 * static: ids are made by one thread of one process at a time in this
 * program.
 */
void
proto_id_new(uint8_t id[PROTO_ID_LEN], uint64_t wall_ms,
    const uint8_t key[PROTO_KEY_LEN])
{
	/* The time and the random part, as one 10-byte number. */
	enum { N = 6 + PROTO_ID_RAND_LEN };
	static uint8_t last[N];
	uint8_t next[N];
	int i;

	for (i = 0; i < 6; i++)
		next[i] = (uint8_t)(wall_ms >> (40 - 8 * i));
	/*
	 * Within the millisecond of the previous id (or when the clock
	 * steps back) the previous id plus one serves: no new randomness.
	 */
	if (memcmp(next, last, 6) > 0)
		randombytes_buf(next + 6, PROTO_ID_RAND_LEN);
	else
		memcpy(next, last, N);
	if (memcmp(next, last, N) <= 0) {
		memcpy(next, last, N);
		for (i = N - 1; i >= 0; i--)
			if (++next[i] != 0)
				break;
	}
	memcpy(last, next, N);
	memcpy(id, next, 6);
	memcpy(id + PROTO_ID_TAG_OFF, key, PROTO_ID_TAG_LEN);
	memcpy(id + PROTO_ID_RAND_OFF, next + 6, PROTO_ID_RAND_LEN);
}

/* Tells whether id carries key's owner tag. */
int
proto_id_owned(const uint8_t id[PROTO_ID_LEN],
    const uint8_t key[PROTO_KEY_LEN])
{
	return memcmp(id + PROTO_ID_TAG_OFF, key, PROTO_ID_TAG_LEN) == 0;
}

/* Makes the id of key's member record: 6 zero bytes, then key's first 10. */
void
proto_member_id(uint8_t id[PROTO_ID_LEN], const uint8_t key[PROTO_KEY_LEN])
{
	memset(id, 0, 6);
	memcpy(id + 6, key, PROTO_ID_LEN - 6);
}

/* Tells whether id lies in the member records' space. */
int
proto_id_reserved(const uint8_t id[PROTO_ID_LEN])
{
	static const uint8_t zero[6];

	return memcmp(id, zero, 6) == 0;
}
