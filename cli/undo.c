/*
 * undo.c: the last local write, and `cafe undo`, which takes it back.
 *
 * Each add, edit, rm, restore and import notes what it did in the data
 * directory's last-write.json (written to a temporary file and renamed):
 * the records it made, the fields it changed with their values before,
 * the records it removed.  `cafe undo` reads it and, in new commits,
 * removes what was made, puts the old values back and restores what was
 * removed; then forgets it, so undo goes back one write only.  The log
 * keeps everything: an undo is itself a write that syncs.  last-added.json
 * keeps the last record of each type added here: guided entry offers the
 * last café as the default café of an action or a feedback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define UNDO_FILE "last-write.json"
/* The last record of each type added here: type -> id. */
#define LAST_FILE "last-added.json"

/* Writes the journal atomically. */
static void
journal_save(struct cli *c, json_t *j)
{
	char *path = xasprintf("%s/%s", c->data, UNDO_FILE);
	char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());

	if (json_dump_file(j, tmp, JSON_COMPACT) != 0 ||
	    rename(tmp, path) != 0) {
		cli_warn("cannot write %s: cafe undo will not know this write",
		    path);
		remove(tmp);
	}
	free(tmp);
	free(path);
	json_decref(j);
}

/* Starts a journal entry. */
static json_t *
journal_new(const char *what)
{
	return json_pack("{s:s, s:I, s:[], s:[], s:[]}", "cmd", what, "time",
	    (json_int_t)store_now_ms(), "created", "edited", "removed");
}

static json_t *
hex_json(const uint8_t id[PROTO_ID_LEN])
{
	char hex[2 * PROTO_ID_LEN + 1];

	proto_hex(hex, id, PROTO_ID_LEN);
	return json_string(hex);
}

/* The old values of the fields p changes on old, as text. */
static json_t *
old_fields(const struct store_rec *old, const struct cli_put *p)
{
	json_t *o = json_object();
	char *buf;
	size_t i;

	if (p == NULL)
		return o;
	buf = xmalloc(PROTO_MAX_VALUE * 4);
	for (i = 0; i < p->n; i++) {
		const struct sch_field *f = p->fv[i].f;
		const msgpack_object *v = store_rec_value(old, f->name);

		if (v == NULL) {
			json_object_set_new(o, f->name, json_null());
			continue;
		}
		sch_format(f, v, buf, PROTO_MAX_VALUE * 4);
		json_object_set_new(o, f->name, json_string(buf));
	}
	free(buf);
	return o;
}

void
cli_undo_note(struct cli *c, const char *what, const uint8_t id[PROTO_ID_LEN],
    const struct store_rec *old, const struct cli_put *p)
{
	json_t *j = journal_new(what);

	if (old == NULL) {
		struct store_rec r;
		char *path = xasprintf("%s/%s", c->data, LAST_FILE);
		char *tmp = xasprintf("%s.%ld.tmp", path, (long)getpid());
		json_t *last = json_load_file(path, 0, NULL);

		json_array_append_new(json_object_get(j, "created"),
		    hex_json(id));
		if (last == NULL || !json_is_object(last)) {
			json_decref(last);
			last = json_object();
		}
		if (store_get(c->store, id, &r) == 0) {
			json_object_set_new(last, r.type->name, hex_json(id));
			store_rec_free(&r);
			if (json_dump_file(last, tmp, JSON_COMPACT) != 0 ||
			    rename(tmp, path) != 0)
				remove(tmp);
		}
		json_decref(last);
		free(tmp);
		free(path);
	}
	else
		json_array_append_new(json_object_get(j, "edited"),
		    json_pack("{s:o, s:o}", "id", hex_json(id), "fields",
		    old_fields(old, p)));
	journal_save(c, j);
}

void
cli_undo_removed(struct cli *c, uint8_t (*ids)[PROTO_ID_LEN], size_t n)
{
	json_t *j = journal_new("rm");
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(json_object_get(j, "removed"),
		    hex_json(ids[i]));
	journal_save(c, j);
}

void
cli_undo_import(struct cli *c, json_t *created, json_t *edited)
{
	json_t *j = journal_new("import");

	json_object_set(j, "created", created);
	json_object_set(j, "edited", edited);
	journal_save(c, j);
}

/* cafe undo [--dry-run] */
int
cmd_undo(struct cli *c)
{
	char *path, *cause = NULL, what[300];
	json_t *j, *v, *fields;
	json_error_t je;
	struct store_batch *b;
	uint8_t id[PROTO_ID_LEN], nid[PROTO_ID_LEN];
	size_t i, nrm = 0, ned = 0, nrs = 0;
	const char *name;
	int dry, rc = EXIT_OK;

	dry = cli_flag(c, "--dry-run");
	if (cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	path = xasprintf("%s/%s", c->data, UNDO_FILE);
	j = json_load_file(path, 0, &je);
	if (j == NULL) {
		free(path);
		return cli_usage_error(c, "nothing to undo: no write of this "
		    "node's is noted (only the last one can be undone)");
	}
	b = store_batch_new(c->store);
	json_array_foreach(json_object_get(j, "created"), i, v) {
		struct store_rec r;

		if (!json_is_string(v) || proto_unhex(id, PROTO_ID_LEN,
		    json_string_value(v)) != 0 || store_get(c->store, id,
		    &r) != 0)
			continue;
		if (!r.deleted) {
			cli_rec_describe(&r, what, sizeof(what));
			printf("%s %s (%s)\n", dry ? "would remove" : "removing",
			    what, cli_short(c, id));
			if (store_batch_del(b, id, &cause) != 0) {
				rc = cli_usage_error(c, "%s", cause);
				free(cause);
				cause = NULL;
			}
			nrm++;
		}
		store_rec_free(&r);
	}
	json_array_foreach(json_object_get(j, "edited"), i, v) {
		struct store_kv kv[PROTO_MAX_FIELDS];
		struct store_rec r;
		size_t n = 0;
		json_t *fv;

		if (proto_unhex(id, PROTO_ID_LEN, json_string_value(
		    json_object_get(v, "id")) ? json_string_value(
		    json_object_get(v, "id")) : "") != 0 ||
		    store_get(c->store, id, &r) != 0)
			continue;
		fields = json_object_get(v, "fields");
		json_object_foreach(fields, name, fv) {
			if (n == PROTO_MAX_FIELDS)
				break;
			kv[n].name = name;
			kv[n].value = json_is_string(fv) ?
			    json_string_value(fv) : "";
			n++;
		}
		cli_rec_describe(&r, what, sizeof(what));
		printf("%s %zu field%s of %s (%s)\n", dry ? "would put back" :
		    "putting back", n, n == 1 ? "" : "s", what,
		    cli_short(c, id));
		if (!r.deleted && n > 0 && store_batch_put(b, r.type, id, 0, kv,
		    n, &cause) != 0) {
			rc = cli_usage_error(c, "%s", cause);
			free(cause);
			cause = NULL;
		}
		ned++;
		store_rec_free(&r);
	}
	if (rc == EXIT_OK && !dry && store_batch_count(b) > 0 &&
	    store_batch_commit(b, &cause) != 0) {
		rc = cli_usage_error(c, "%s", cause);
		free(cause);
	}
	store_batch_free(b);
	json_array_foreach(json_object_get(j, "removed"), i, v) {
		if (rc != EXIT_OK || !json_is_string(v) ||
		    proto_unhex(id, PROTO_ID_LEN, json_string_value(v)) != 0)
			continue;
		if (dry) {
			printf("would restore %s\n", cli_short(c, id));
			nrs++;
			continue;
		}
		if ((rc = cli_restore_one(c, id, nid, 0)) == EXIT_OK)
			nrs++;
	}
	if (rc == EXIT_OK && !dry) {
		remove(path);
		printf("undid the last %s: %zu removed, %zu put back, %zu "
		    "restored\n", json_string_value(json_object_get(j, "cmd")),
		    nrm, ned, nrs);
	}
	json_decref(j);
	free(path);
	return rc;
}

/* The record of type t this node added last, if any (last-added.json). */
int
cli_last_added(struct cli *c, const struct sch_type *t,
    uint8_t id[PROTO_ID_LEN])
{
	char *path = xasprintf("%s/%s", c->data, LAST_FILE);
	json_t *j = json_load_file(path, 0, NULL), *v;
	struct store_rec r;
	int rc = -1;

	free(path);
	if (j == NULL || t == NULL)
		goto out;
	v = json_object_get(j, t->name);
	if (json_is_string(v) && proto_unhex(id, PROTO_ID_LEN,
	    json_string_value(v)) == 0 && store_get(c->store, id, &r) == 0) {
		if (r.type == t && !r.deleted)
			rc = 0;
		store_rec_free(&r);
	}
out:
	json_decref(j);
	return rc;
}
