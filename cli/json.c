/*
 * json.c: records and values as JSON, keyed and typed by the schema.
 * Dates are "YYYY-MM-DD" strings, sets and lists arrays of strings, counts
 * integers, decimals reals, references 32-hex strings.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Converts a scalar item. */
static json_t *
item_json(enum sch_ftype t, const msgpack_object *o)
{
	char hex[2 * PROTO_KEY_LEN + 1];

	switch (o->type) {
	case MSGPACK_OBJECT_STR:
		return json_stringn(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_BIN:
		if (o->via.bin.size != PROTO_ID_LEN &&
		    o->via.bin.size != PROTO_KEY_LEN)
			return json_null();
		proto_hex(hex, (const uint8_t *)o->via.bin.ptr,
		    o->via.bin.size);
		return json_string(hex);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (sch_ftypes[t].decimals == 2)
			return json_real((double)o->via.u64 / 100.0);
		return json_integer((json_int_t)o->via.u64);
	default:
		return json_null();
	}
}

/* Converts a field value. */
json_t *
cli_value_json(const struct sch_field *f, const msgpack_object *v)
{
	json_t *a;
	uint32_t i;

	if (v == NULL || v->type == MSGPACK_OBJECT_NIL)
		return json_null();
	if (v->type != MSGPACK_OBJECT_ARRAY)
		return item_json(f->type, v);
	a = json_array();
	for (i = 0; i < v->via.array.size; i++)
		json_array_append_new(a, item_json(f->type,
		    &v->via.array.ptr[i]));
	return a;
}

/* Converts a record to a flat object in schema field order. */
json_t *
cli_rec_json(const struct store_rec *r)
{
	char hex[2 * PROTO_KEY_LEN + 1];
	json_t *o = json_object();
	unsigned i;

	proto_hex(hex, r->id, PROTO_ID_LEN);
	json_object_set_new(o, "id", json_string(hex));
	json_object_set_new(o, "type", json_string(r->type->name));
	for (i = 0; i < r->type->nfields; i++) {
		const struct sch_field *f = &r->type->fields[i];
		const msgpack_object *v = store_rec_value(r, f->name);

		if (v != NULL)
			json_object_set_new(o, f->name, cli_value_json(f, v));
	}
	if (r->deleted)
		json_object_set_new(o, "deleted", json_true());
	return o;
}

/* Prints JSON to stdout and releases it. */
void
cli_print_json(json_t *j)
{
	json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(6));
	fputc('\n', stdout);
	json_decref(j);
}

/* Starts a JSON array streamed to stdout, one element a line. */
void
cli_jstream_begin(struct cli_jstream *js)
{
	js->n = 0;
	fputc('[', stdout);
}

/* Prints one element of a streamed array and releases it. */
void
cli_jstream_add(struct cli_jstream *js, json_t *j)
{
	fputs(js->n++ > 0 ? ",\n" : "\n", stdout);
	json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(6));
	json_decref(j);
}

/* Ends a streamed array. */
void
cli_jstream_end(struct cli_jstream *js)
{
	fputs(js->n > 0 ? "\n]\n" : "]\n", stdout);
}
