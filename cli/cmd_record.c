/*
 * cmd_record.c: the commands that write records: add, edit, rm and
 * restore.  add and edit check every field given at once (fields.c) and,
 * on a terminal, ask for what is missing or wrong (prompt.c); rm removes
 * the records named in one batch, all or none, and warns of the records
 * that still refer to them; restore brings a removed record back as a new
 * one and re-points those records to it (cli_restore_one(), which cafe
 * undo uses too).  The commands that read records are in cmd_list.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Prints a batch's warnings, then commits it; returns an exit code. */
static int
commit_batch(struct cli *c, struct store_batch *b)
{
	const char *w;
	char *cause = NULL;
	size_t i;

	for (i = 0; (w = store_batch_warning(b, i)) != NULL; i++)
		cli_warn("%s", w);
	if (store_batch_commit(b, &cause) != 0) {
		cli_fail(c, EXIT_USAGE, "%s", cause);
		free(cause);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Adds argv[from..] (name=value each) to a put. */
static void
put_args(struct cli *c, struct cli_put *p, int from)
{
	int i;

	for (i = from; i < c->argc; i++) {
		char *eq = strchr(c->argv[i], '=');

		if (eq == NULL || eq == c->argv[i]) {
			p->err = xreallocarray(p->err, p->nerr + 1,
			    sizeof(*p->err));
			/* A field's name alone: its error stands for it. */
			p->err[p->nerr].f = sch_field_find(p->t, c->argv[i],
			    strlen(c->argv[i]));
			p->err[p->nerr].msg = xasprintf("'%s' is not "
			    "field=value", c->argv[i]);
			p->nerr++;
			continue;
		}
		*eq = '\0';
		cli_put_add(c, p, c->argv[i], eq + 1);
		*eq = '=';
	}
}

/* Writes a prepared put as one batch; id is made (create) or given. */
static int
write_put(struct cli *c, struct cli_put *p, uint8_t id[PROTO_ID_LEN],
    int create)
{
	struct store_kv kv[PROTO_MAX_FIELDS + 4];
	struct store_batch *b;
	char *cause = NULL;
	size_t i;
	int rc;

	for (i = 0; i < p->n; i++) {
		kv[i].name = p->fv[i].f->name;
		kv[i].value = p->fv[i].value;
	}
	b = store_batch_new(c->store);
	if (store_batch_put(b, p->t, id, create, kv, p->n, &cause) != 0) {
		rc = cli_usage_error(c, "%s", cause);
		free(cause);
	} else {
		/* Warnings only for what is written. */
		for (i = 0; i < p->nwarn; i++)
			cli_warn("%s", p->warn[i]);
		rc = commit_batch(c, b);
	}
	store_batch_free(b);
	return rc;
}

/* cafe add TYPE field=value ... */
int
cmd_add(struct cli *c)
{
	const struct sch_type *t;
	struct cli_put p;
	uint8_t id[PROTO_ID_LEN];
	char hex[2 * PROTO_ID_LEN + 1], what[300];
	struct store_rec r;
	int rc;

	if (cli_rest(c, 1, -1) != 0)
		return EXIT_USAGE;
	if ((t = cli_type(c, c->argv[0])) == NULL)
		return EXIT_USAGE;
	cli_put_init(&p, t);
	put_args(c, &p, 1);
	cli_put_finish(c, &p, NULL);
	if (p.nerr > 0 && cli_interactive(c) &&
	    (rc = cli_guided(c, &p, NULL)) != EXIT_OK) {
		cli_put_free(&p);
		return rc;
	}
	if (cli_put_errors(c, &p, NULL) > 0) {
		cli_put_free(&p);
		return EXIT_USAGE;
	}
	rc = write_put(c, &p, id, 1);
	cli_put_free(&p);
	if (rc != EXIT_OK)
		return rc;
	proto_hex(hex, id, PROTO_ID_LEN);
	printf("%s\n", hex);
	cli_undo_note(c, "add", id, NULL, NULL);
	if (cli_stderr_tty() && store_get(c->store, id, &r) == 0) {
		cli_rec_describe(&r, what, sizeof(what));
		fprintf(stderr, "added %s (%s)\n", what, cli_short(c, id));
		store_rec_free(&r);
	}
	return EXIT_OK;
}

/* cafe edit ID field=value ... */
int
cmd_edit(struct cli *c)
{
	struct store_rec old, now;
	struct cli_put p;
	uint8_t id[PROTO_ID_LEN];
	char what[300], *a, *b;
	size_t i;
	int rc;

	if (cli_rest(c, 1, -1) != 0)
		return EXIT_USAGE;
	if (cli_resolve(c, c->argv[0], NULL, id) != 0)
		return EXIT_USAGE;
	if (store_get(c->store, id, &old) != 0)
		return cli_usage_error(c, "no record %s", c->argv[0]);
	cli_put_init(&p, old.type);
	if (c->argc < 2) {
		if (!cli_interactive(c)) {
			cli_put_free(&p);
			store_rec_free(&old);
			return cli_usage_error(c, "missing field=value to "
			    "change; usage: cafe edit ID field=value ...");
		}
		rc = cli_guided(c, &p, &old);
		if (rc != EXIT_OK) {
			cli_put_free(&p);
			store_rec_free(&old);
			return rc;
		}
	} else {
		put_args(c, &p, 1);
		cli_put_finish(c, &p, &old);
	}
	if (p.nerr > 0 && cli_interactive(c) &&
	    (rc = cli_guided(c, &p, &old)) != EXIT_OK) {
		cli_put_free(&p);
		store_rec_free(&old);
		return rc;
	}
	cli_rec_describe(&old, what, sizeof(what));
	if (cli_put_errors(c, &p, NULL) > 0) {
		rc = EXIT_USAGE;
		goto out;
	}
	if (p.n == 0) {
		printf("nothing to change: %s (%s) already has %s\n", what,
		    cli_short(c, id), p.unchanged == 1 ? "that value" :
		    "those values");
		rc = EXIT_OK;
		goto out;
	}
	rc = write_put(c, &p, id, 0);
	if (rc != EXIT_OK || store_get(c->store, id, &now) != 0)
		goto out;
	a = xmalloc(PROTO_MAX_VALUE * 4);
	b = xmalloc(PROTO_MAX_VALUE * 4);
	for (i = 0; i < p.n; i++) {
		const struct sch_field *f = p.fv[i].f;

		cli_value_text(c, f, store_rec_value(&old, f->name), a,
		    PROTO_MAX_VALUE * 4);
		cli_value_text(c, f, store_rec_value(&now, f->name), b,
		    PROTO_MAX_VALUE * 4);
		cli_one_line(a);
		cli_one_line(b);
		if (strlen(a) > 60)
			strcpy(a + 57, "...");
		if (strlen(b) > 60)
			strcpy(b + 57, "...");
		printf("%s %s -> %s on %s (%s)\n", f->name, a, b, what,
		    cli_short(c, id));
	}
	cli_undo_note(c, "edit", id, &old, &p);
	free(a);
	free(b);
	store_rec_free(&now);
out:
	cli_put_free(&p);
	store_rec_free(&old);
	return rc;
}

/* Records that still refer to a record, for rm's warning. */
struct referrer_arg {
	struct cli *c;
	const uint8_t *id;
	const struct sch_field *f;
	char *list;
	int n;
	uint8_t (*ids)[PROTO_ID_LEN];     /* when gathering, the referrers */
	const struct sch_field **fields;
};

static int
referrer_one(const struct store_rec *r, void *arg)
{
	struct referrer_arg *ra = arg;
	const msgpack_object *v = store_rec_value(r, ra->f->name);
	uint32_t i;
	int hit = 0;
	char what[300], *s;

	if (v == NULL)
		return 0;
	if (v->type == MSGPACK_OBJECT_BIN && v->via.bin.size == PROTO_ID_LEN)
		hit = memcmp(v->via.bin.ptr, ra->id, PROTO_ID_LEN) == 0;
	else if (v->type == MSGPACK_OBJECT_ARRAY)
		for (i = 0; i < v->via.array.size; i++) {
			const msgpack_object *o = &v->via.array.ptr[i];

			hit |= o->type == MSGPACK_OBJECT_BIN &&
			    o->via.bin.size == PROTO_ID_LEN &&
			    memcmp(o->via.bin.ptr, ra->id, PROTO_ID_LEN) == 0;
		}
	if (!hit)
		return 0;
	ra->ids = xreallocarray(ra->ids, (size_t)ra->n + 1, PROTO_ID_LEN);
	memcpy(ra->ids[ra->n], r->id, PROTO_ID_LEN);
	ra->fields = xreallocarray(ra->fields, (size_t)ra->n + 1,
	    sizeof(*ra->fields));
	ra->fields[ra->n] = ra->f;
	ra->n++;
	if (ra->n <= 5) {
		cli_rec_describe(r, what, sizeof(what));
		s = xasprintf("%s%s%s (%s)", ra->list ? ra->list : "",
		    ra->list ? ", " : "", what, cli_short(ra->c, r->id));
		free(ra->list);
		ra->list = s;
	}
	return 0;
}

/*
 * Finds the live records whose reference fields name id, a record of
 * type t: through the site index for site fields, else by type.
 */
static void
referrers(struct cli *c, const uint8_t id[PROTO_ID_LEN],
    const struct sch_type *t, struct referrer_arg *ra)
{
	unsigned i, j;

	memset(ra, 0, sizeof(*ra));
	ra->c = c;
	ra->id = id;
	for (i = 0; i < sch_ntypes; i++)
		for (j = 0; j < sch_types[i].nfields; j++) {
			const struct sch_field *f = &sch_types[i].fields[j];
			struct store_query q;

			if (!sch_ftypes[f->type].refs ||
			    strcmp(f->ref, t->name) != 0)
				continue;
			memset(&q, 0, sizeof(q));
			q.type = &sch_types[i];
			if (strcmp(f->name, "site") == 0)
				q.site = id;
			ra->f = f;
			store_list(c->store, &q, referrer_one, ra);
		}
}

static void
referrers_free(struct referrer_arg *ra)
{
	free(ra->list);
	free(ra->ids);
	free(ra->fields);
}

/* cafe rm ID ... */
int
cmd_rm(struct cli *c)
{
	struct store_batch *b;
	uint8_t (*ids)[PROTO_ID_LEN];
	char *cause = NULL, what[300];
	int rc = EXIT_OK, i, j, bad = 0;

	if (cli_rest(c, 1, -1) != 0)
		return EXIT_USAGE;
	ids = xcalloc((size_t)c->argc, PROTO_ID_LEN);
	for (i = 0; i < c->argc; i++) {
		if (cli_resolve(c, c->argv[i], NULL, ids[i]) != 0) {
			bad = 1;
			continue;
		}
		for (j = 0; j < i; j++)
			if (memcmp(ids[j], ids[i], PROTO_ID_LEN) == 0) {
				cli_usage_error(c, "%s: named twice",
				    c->argv[i]);
				bad = 1;
			}
	}
	if (bad) {
		free(ids);
		return EXIT_USAGE;
	}
	b = store_batch_new(c->store);
	for (i = 0; i < c->argc && rc == EXIT_OK; i++)
		if (store_batch_del(b, ids[i], &cause) != 0) {
			rc = cli_usage_error(c, "%s: %s", c->argv[i], cause);
			free(cause);
		}
	if (rc == EXIT_OK)
		rc = commit_batch(c, b);
	store_batch_free(b);
	for (i = 0; i < c->argc && rc == EXIT_OK; i++) {
		struct store_rec r;
		struct referrer_arg ra;

		if (store_get(c->store, ids[i], &r) != 0)
			continue;
		cli_rec_describe(&r, what, sizeof(what));
		printf("removed %s (%s)\n", what, cli_short(c, ids[i]));
		referrers(c, ids[i], r.type, &ra);
		if (ra.n > 0)
			cli_warn("%d record%s still refer%s to %s (%s): %s%s; "
			    "cafe restore %s brings it back", ra.n,
			    ra.n == 1 ? "" : "s", ra.n == 1 ? "s" : "", what,
			    cli_short(c, ids[i]), ra.list, ra.n > 5 ?
			    ", ..." : "", cli_short(c, ids[i]));
		referrers_free(&ra);
		store_rec_free(&r);
	}
	if (rc == EXIT_OK)
		cli_undo_removed(c, ids, (size_t)c->argc);
	free(ids);
	return rc;
}

/*
 * Brings a removed record back: a removal is final in the log, so the
 * record comes back as a new record with the removed one's last fields,
 * and the live records that still referred to the removed one are made
 * to refer to the new one, in the same batch.  Prints the new id.
 */
int
cli_restore_one(struct cli *c, const uint8_t old_id[PROTO_ID_LEN],
    uint8_t new_id[PROTO_ID_LEN], int quiet)
{
	struct store_rec r;
	struct store_kv kv[PROTO_MAX_FIELDS];
	struct store_batch *b;
	struct referrer_arg ra;
	char *vals[PROTO_MAX_FIELDS], *cause = NULL, what[300];
	char hex[2 * PROTO_ID_LEN + 1];
	size_t n = 0, i;
	int rc = EXIT_OK, k;

	if (store_get(c->store, old_id, &r) != 0)
		return cli_usage_error(c, "no such record");
	if (!r.deleted) {
		cli_rec_describe(&r, what, sizeof(what));
		store_rec_free(&r);
		return cli_usage_error(c, "%s (%s) is not removed", what,
		    cli_short(c, old_id));
	}
	for (i = 0; i < r.type->nfields; i++) {
		const struct sch_field *f = &r.type->fields[i];
		const msgpack_object *v = store_rec_value(&r, f->name);

		if (v == NULL)
			continue;
		vals[n] = xmalloc(PROTO_MAX_VALUE * 4);
		sch_format(f, v, vals[n], PROTO_MAX_VALUE * 4);
		kv[n].name = f->name;
		kv[n].value = vals[n];
		n++;
	}
	b = store_batch_new(c->store);
	if (store_batch_put(b, r.type, new_id, 1, kv, n, &cause) != 0) {
		rc = cli_usage_error(c, "cannot restore: %s", cause);
		free(cause);
		goto out;
	}
	/* Re-point what referred to the removed record. */
	referrers(c, old_id, r.type, &ra);
	for (k = 0; k < ra.n && rc == EXIT_OK; k++) {
		struct store_rec o;
		struct store_kv one;
		char *text = xmalloc(PROTO_MAX_VALUE * 4), *p;
		char oh[2 * PROTO_ID_LEN + 1];

		if (store_get(c->store, ra.ids[k], &o) != 0) {
			free(text);
			continue;
		}
		sch_format(ra.fields[k], store_rec_value(&o, ra.fields[k]->name),
		    text, PROTO_MAX_VALUE * 4);
		proto_hex(oh, old_id, PROTO_ID_LEN);
		proto_hex(hex, new_id, PROTO_ID_LEN);
		if ((p = strstr(text, oh)) != NULL)
			memcpy(p, hex, 2 * PROTO_ID_LEN);
		one.name = ra.fields[k]->name;
		one.value = text;
		if (store_batch_put(b, o.type, ra.ids[k], 0, &one, 1,
		    &cause) != 0) {
			rc = cli_usage_error(c, "cannot re-point %s: %s",
			    cli_short(c, ra.ids[k]), cause);
			free(cause);
		}
		store_rec_free(&o);
		free(text);
	}
	if (rc == EXIT_OK)
		rc = commit_batch(c, b);
	if (rc == EXIT_OK && !quiet) {
		cli_rec_describe(&r, what, sizeof(what));
		proto_hex(hex, new_id, PROTO_ID_LEN);
		printf("restored %s as %s", what, hex);
		if (ra.n > 0)
			printf(" (%d record%s re-pointed to it)", ra.n,
			    ra.n == 1 ? "" : "s");
		putchar('\n');
	}
	referrers_free(&ra);
out:
	store_batch_free(b);
	for (i = 0; i < n; i++)
		free(vals[i]);
	store_rec_free(&r);
	return rc;
}

/* cafe restore ID ... */
int
cmd_restore(struct cli *c)
{
	uint8_t id[PROTO_ID_LEN], nid[PROTO_ID_LEN];
	int i, rc;

	if (cli_rest(c, 1, -1) != 0)
		return EXIT_USAGE;
	for (i = 0; i < c->argc; i++) {
		if (cli_resolve_all(c, c->argv[i], id) != 0)
			return EXIT_USAGE;
		if ((rc = cli_restore_one(c, id, nid, 0)) != EXIT_OK)
			return rc;
	}
	return EXIT_OK;
}
