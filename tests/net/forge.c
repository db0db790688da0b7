/*
 * forge.c: writes, as a one-commit plain bundle, a commit that the command
 * line refuses to make, for the trust tests (tests/cli/trust.t).
 *
 *   forge DIR OUT member KEY ROLE NAME
 *   forge DIR OUT cafe SITE DATE
 *
 * DIR is a node made by `cafe init`.  The commit is that node's next one:
 * its key (DIR/node.key) signs it, its seq is one past the node's own head
 * in DIR's store and its prev that head's hash, exactly as
 * store_batch_commit() would chain it, so that only what it says (not how
 * it is framed) can make a receiver refuse it.  It is not stored in DIR.
 *
 *   member  enrolls KEY (64 hex) with ROLE and NAME, status active: a
 *           member record as the admin writes it (its id made from the
 *           key, proto_member_id()), whoever signs it.
 *   cafe    one café of SITE (32 hex) on DATE (YYYY-MM-DD), format parent,
 *           factors resilience.
 *   put     one put of TYPE at ID, with the fields given as name=value
 *           (typed as cafe add types them; references as 32 hex; the value
 *           "nil" clears the field, even a required one; "raw:TEXT" is
 *           TEXT as a str, unchecked).  ID is 32 hex,
 *           "new" (an id this node owns), "member:KEY" (KEY's member record
 *           id) or "tag:KEY" (a new id owned by KEY).  "edit" before the
 *           fields gives the op an (empty) base: an edit, not a create.
 *
 * FORGE_HLC, when set, is the commit's clock.
 *
 * Prints the commit's "origin seq" on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "storage/storage.h"

struct head_arg {
	uint8_t node[PROTO_KEY_LEN];
	uint64_t seq;
	uint8_t hash[PROTO_HASH_LEN];
};

static int
head_one(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const uint8_t hash[PROTO_HASH_LEN], void *arg)
{
	struct head_arg *ha = arg;

	if (memcmp(origin, ha->node, PROTO_KEY_LEN) != 0)
		return 0;
	ha->seq = seq;
	memcpy(ha->hash, hash, PROTO_HASH_LEN);
	return 1;
}

static void
die(const char *what, const char *why)
{
	fprintf(stderr, "forge: %s: %s\n", what, why);
	exit(1);
}

static void
usage(void)
{
	fprintf(stderr, "usage: forge DIR OUT member KEY ROLE NAME\n"
	    "       forge DIR OUT cafe SITE DATE\n"
	    "       forge DIR OUT put TYPE ID|new|member:KEY|tag:KEY [edit] "
	    "[name=value ...]\n");
	exit(2);
}

/* Reads the node's 64-byte secret key. */
static void
read_key(const char *dir, uint8_t sk[PROTO_SK_LEN])
{
	char *path = xasprintf("%s/node.key", dir);
	int fd = open(path, O_RDONLY);

	if (fd < 0 || read(fd, sk, PROTO_SK_LEN) != PROTO_SK_LEN)
		die(path, strerror(errno));
	close(fd);
	free(path);
}

static void
unhex(uint8_t *out, size_t len, const char *text, const char *what)
{
	if (strlen(text) != 2 * len || proto_unhex(out, len, text) != 0)
		die(what, "not hex of the right length");
}

/* A resolver for sch_parse(): a reference is 32 hex digits. */
static int
resolve_hex(void *arg, const char *ref, const char *text,
    uint8_t id[PROTO_ID_LEN], char **cause)
{
	(void)arg;
	(void)ref;
	if (strlen(text) != 2 * PROTO_ID_LEN ||
	    proto_unhex(id, PROTO_ID_LEN, text) != 0) {
		*cause = xstrdup("not 32 hex digits");
		return CS_EUSAGE;
	}
	return 0;
}

static int
arg_cmp(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	size_t nx = strcspn(x, "="), ny = strcspn(y, "=");
	int c = memcmp(x, y, nx < ny ? nx : ny);

	return c != 0 ? c : (nx > ny) - (nx < ny);
}

/* Packs the put op of argv[4..argc) into w. */
static void
pack_put(struct proto_enc *w, int argc, char **argv, const uint8_t *node,
    uint64_t ms)
{
	const struct sch_type *t = sch_type_find(argv[4], strlen(argv[4]));
	uint8_t id[PROTO_ID_LEN], key[PROTO_KEY_LEN];
	char **fields, *cause = NULL, *warn = NULL;
	int i, nf = 0, edit = 0;

	if (t == NULL)
		die(argv[4], "no such type");
	if (strcmp(argv[5], "new") == 0)
		proto_id_new(id, ms, node);
	else if (strncmp(argv[5], "member:", 7) == 0) {
		unhex(key, PROTO_KEY_LEN, argv[5] + 7, "KEY");
		proto_member_id(id, key);
	} else if (strncmp(argv[5], "tag:", 4) == 0) {
		unhex(key, PROTO_KEY_LEN, argv[5] + 4, "KEY");
		proto_id_new(id, ms, key);
	} else
		unhex(id, PROTO_ID_LEN, argv[5], "ID");
	i = 6;
	if (i < argc && strcmp(argv[i], "edit") == 0) {
		edit = 1;
		i++;
	}
	fields = xcalloc((size_t)(argc - i) + 1, sizeof(*fields));
	for (; i < argc; i++)
		fields[nf++] = argv[i];
	qsort(fields, (size_t)nf, sizeof(*fields), arg_cmp);
	proto_op_begin(w, PROTO_OP_PUT, t->name, id, (uint32_t)nf, edit);
	for (i = 0; i < nf; i++) {
		size_t n = strcspn(fields[i], "=");
		const struct sch_field *f = sch_field_find(t, fields[i], n);
		const char *v = fields[i] + n + (fields[i][n] == '=');

		if (f == NULL || fields[i][n] != '=')
			die(fields[i], "not a field=value of that type");
		msgpack_pack_str(&w->pk, n);
		msgpack_pack_str_body(&w->pk, fields[i], n);
		if (strcmp(v, "nil") == 0)
			msgpack_pack_nil(&w->pk);
		else if (strncmp(v, "raw:", 4) == 0)
			proto_pack_cstr(&w->pk, v + 4);	/* text, unchecked */
		else if (sch_parse(f, v, &w->pk, resolve_hex, NULL, &cause,
		    &warn) != 0)
			die(fields[i], cause);
		free(warn);
		warn = NULL;
	}
	if (edit)
		proto_op_base(w, 0);
	free(fields);
	{
		char hex[2 * PROTO_ID_LEN + 1];

		proto_hex(hex, id, PROTO_ID_LEN);
		fprintf(stderr, "%s\n", hex);
	}
}

static void
pack_bin(msgpack_packer *pk, const uint8_t *b, size_t n)
{
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, b, n);
}

int
main(int argc, char **argv)
{
	struct store *s;
	struct proto_enc w, item;
	struct head_arg ha;
	uint8_t sk[PROTO_SK_LEN], net[PROTO_KEY_LEN], sig[PROTO_SIG_LEN];
	uint8_t key[PROTO_KEY_LEN], id[PROTO_ID_LEN];
	const char *dir, *out, *kind;
	char *cause = NULL, hex[2 * PROTO_KEY_LEN + 1];
	struct timespec ts;
	uint64_t ms;
	FILE *f;

	if (argc < 4)
		usage();
	dir = argv[1];
	out = argv[2];
	kind = argv[3];
	if (!((strcmp(kind, "member") == 0 && argc == 7) ||
	    (strcmp(kind, "cafe") == 0 && argc == 6) ||
	    (strcmp(kind, "put") == 0 && argc >= 6)))
		usage();

	if (store_open(&s, dir, &cause) != 0)
		die(dir, cause);
	memset(&ha, 0, sizeof(ha));
	memcpy(ha.node, store_info(s)->node, PROTO_KEY_LEN);
	memcpy(net, store_info(s)->network, PROTO_KEY_LEN);
	store_heads(s, head_one, &ha);
	store_close(s);
	read_key(dir, sk);
	if (memcmp(sk + 32, ha.node, PROTO_KEY_LEN) != 0)
		die(dir, "key and store differ");

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	proto_enc_init(&w);
	/* A second ahead, so the clock moves forward from the head, unless
	 * FORGE_HLC gives the clock (a number, any base strtoull reads). */
	proto_commit_begin(&w, ha.node, ha.seq + 1, ha.seq > 0 ? ha.hash :
	    NULL, getenv("FORGE_HLC") != NULL ? strtoull(getenv("FORGE_HLC"),
	    NULL, 0) : (ms + 1000) << 16, 1);
	if (strcmp(kind, "put") == 0)
		pack_put(&w, argc, argv, ha.node, ms);
	else if (strcmp(kind, "member") == 0) {
		unhex(key, PROTO_KEY_LEN, argv[4], "KEY");
		proto_member_id(id, key);
		proto_op_begin(&w, PROTO_OP_PUT, "member", id, 4, 0);
		proto_pack_cstr(&w.pk, "key");
		pack_bin(&w.pk, key, PROTO_KEY_LEN);
		proto_pack_cstr(&w.pk, "name");
		proto_pack_cstr(&w.pk, argv[6]);
		proto_pack_cstr(&w.pk, "role");
		proto_pack_cstr(&w.pk, argv[5]);
		proto_pack_cstr(&w.pk, "status");
		proto_pack_cstr(&w.pk, "active");
	} else {
		unhex(id, PROTO_ID_LEN, argv[4], "SITE");
		memcpy(key, id, PROTO_ID_LEN);	/* the site */
		proto_id_new(id, ms, ha.node);
		proto_op_begin(&w, PROTO_OP_PUT, "cafe", id, 4, 0);
		proto_pack_cstr(&w.pk, "date");
		proto_pack_cstr(&w.pk, argv[5]);
		proto_pack_cstr(&w.pk, "factors");
		msgpack_pack_array(&w.pk, 1);
		proto_pack_cstr(&w.pk, "resilience");
		proto_pack_cstr(&w.pk, "format");
		proto_pack_cstr(&w.pk, "parent");
		proto_pack_cstr(&w.pk, "site");
		pack_bin(&w.pk, key, PROTO_ID_LEN);
	}
	proto_sign(sig, (const uint8_t *)w.sb.data, w.sb.size, net, sk);
	memset(sk, 0, sizeof(sk));

	if ((f = fopen(out, "wb")) == NULL)
		die(out, strerror(errno));
	proto_enc_init(&item);
	proto_bundle_header(&item, net);
	proto_bundle_item(&item, (const uint8_t *)w.sb.data, w.sb.size, sig);
	if (fwrite(item.sb.data, 1, item.sb.size, f) != item.sb.size ||
	    fclose(f) != 0)
		die(out, strerror(errno));
	proto_enc_free(&item);
	proto_enc_free(&w);
	proto_hex(hex, ha.node, PROTO_KEY_LEN);
	printf("%s %llu\n", hex, (unsigned long long)(ha.seq + 1));
	return 0;
}
