/*
 * zdict.c: the wire's compression dictionary, made from the schema table.
 *
 * The bytes are the MessagePack strs a commit repeats: every type name,
 * field name and enum or set token, in table order, and the op kind
 * words.  They are derived deterministically from sch_types[], so two
 * nodes built from the same schema hold the same dictionary and the same
 * id (zc_dict_new()), and a schema change changes the id: such nodes then
 * fall back to no compression rather than misread each other.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage.h"

static struct zc_dict *the_dict;
static pthread_once_t the_once = PTHREAD_ONCE_INIT;

/* Packs each string of a NULL-terminated list. */
static void
pack_list(struct proto_enc *w, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		proto_pack_cstr(&w->pk, *list);
}

/* Builds the dictionary's bytes into w. */
void
storage_zdict_content(struct proto_enc *w)
{
	unsigned i, k;

	proto_enc_reset(w);
	for (i = 0; i < sch_ntypes; i++) {
		proto_pack_cstr(&w->pk, sch_types[i].name);
		for (k = 0; k < sch_types[i].nfields; k++) {
			proto_pack_cstr(&w->pk, sch_types[i].fields[k].name);
			pack_list(w, sch_types[i].fields[k].tokens);
		}
	}
}

static void
build(void)
{
	struct proto_enc w;

	proto_enc_init(&w);
	storage_zdict_content(&w);
	the_dict = zc_dict_new((const uint8_t *)w.sb.data, w.sb.size);
	proto_enc_free(&w);
}

/* Returns the schema's dictionary, made on first use (thread-safe). */
const struct zc_dict *
storage_zdict(void)
{
	pthread_once(&the_once, build);
	return the_dict;
}
