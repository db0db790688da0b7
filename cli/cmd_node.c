/*
 * cmd_node.c: commands about the node and its log: init, id, status, log,
 * verify, bundle export and import.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <sodium.h>

#include "cli.h"

/* Reads a backed-up node key (64 bytes, as node.key); 0 or EXIT_USAGE. */
static int
read_keyfile(struct cli *c, const char *path, uint8_t sk[PROTO_SK_LEN])
{
	FILE *f = fopen(path, "rb");
	size_t n;
	int extra;

	if (f == NULL)
		return cli_usage_error(c, "option --restore: %s: %s", path,
		    strerror(errno));
	n = fread(sk, 1, PROTO_SK_LEN, f);
	extra = fgetc(f);
	fclose(f);
	if (n != PROTO_SK_LEN || extra != EOF)
		return cli_usage_error(c, "option --restore: %s: not a node "
		    "key (a node.key file holds exactly %d bytes)", path,
		    PROTO_SK_LEN);
	return 0;
}

/*
 * cafe init --name NAME [--role ROLE] [--network HEX]
 *     [--restore KEYFILE [--force]]
 */
int
cmd_init(struct cli *c)
{
	const char *name, *role, *net, *restore;
	uint8_t network[PROTO_KEY_LEN], sk[PROTO_SK_LEN];
	char *cause = NULL, hex[2 * PROTO_KEY_LEN + 1];
	struct store *s;
	int bad = 0, rc, force;

	name = cli_take(c, "--name", &bad);
	role = cli_take(c, "--role", &bad);
	net = cli_take(c, "--network", &bad);
	restore = cli_take(c, "--restore", &bad);
	force = cli_flag(c, "--force");
	if (bad || cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	if (name == NULL)
		return cli_usage_error(c, "option --name: is required");
	if (role == NULL)
		role = "site";
	if (store_role_parse(role) == STORE_ROLE_NONE)
		return cli_usage_error(c, "option --role: '%s' is not one of: "
		    "site hub consultant", role);
	if (net != NULL && proto_unhex(network, PROTO_KEY_LEN, net) != 0)
		return cli_usage_error(c, "option --network: not a network id "
		    "(64 hex digits)");
	if (force && restore == NULL)
		return cli_usage_error(c, "option --force: only with "
		    "--restore");
	if (restore != NULL) {
		if (read_keyfile(c, restore, sk) != 0)
			return EXIT_USAGE;
		/* A hub's network id is its own key. */
		if (net == NULL)
			memcpy(network, sk + 32, PROTO_KEY_LEN);
		rc = store_restore(c->data, name, role, network, sk, force,
		    &cause);
		sodium_memzero(sk, sizeof(sk));
	} else
		rc = store_create(c->data, name, role, net ? network : NULL,
		    &cause);
	if (rc != 0) {
		cli_usage_error(c, "%s", cause);
		free(cause);
		return EXIT_USAGE;
	}
	if (store_open(&s, c->data, &cause) != 0) {
		cli_usage_error(c, "%s", cause);
		free(cause);
		return EXIT_USAGE;
	}
	proto_hex(hex, store_info(s)->node, PROTO_KEY_LEN);
	printf("%s\n", hex);
	if (restore != NULL && !force)
		cli_warn("restored: local writes wait until cafed has fetched "
		    "this node's own log from a peer (cafe peer add, then "
		    "start cafed)");
	store_close(s);
	return EXIT_OK;
}

/* cafe id */
int
cmd_id(struct cli *c)
{
	char hex[2 * PROTO_KEY_LEN + 1];

	if (cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	proto_hex(hex, store_info(c->store)->node, PROTO_KEY_LEN);
	printf("%s\n", hex);
	return EXIT_OK;
}

static int
head_json(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const uint8_t hash[PROTO_HASH_LEN], void *arg)
{
	char o[2 * PROTO_KEY_LEN + 1], h[2 * PROTO_HASH_LEN + 1];

	proto_hex(o, origin, PROTO_KEY_LEN);
	proto_hex(h, hash, PROTO_HASH_LEN);
	json_array_append_new(arg, json_pack("{s:s, s:I, s:s}", "origin", o,
	    "seq", (json_int_t)seq, "hash", h));
	return 0;
}

/* Adds one origin's waiting commits to a JSON array. */
static int
pending_json(const uint8_t origin[PROTO_KEY_LEN], uint64_t first, uint64_t n,
    const char *why, void *arg)
{
	char o[65];

	proto_hex(o, origin, PROTO_KEY_LEN);
	json_array_append_new(arg, json_pack("{s:s, s:I, s:I, s:s}", "origin",
	    o, "first", (json_int_t)first, "commits", (json_int_t)n, "why",
	    why));
	return 0;
}

/* cafe status [--json] */
int
cmd_status(struct cli *c)
{
	const struct store_info *in = store_info(c->store);
	struct store_status st;
	char node[65], net[65], dig[65];
	json_t *o, *counts, *heads, *daemon, *pending;
	size_t i;
	unsigned t;
	int rc;

	c->json = cli_flag(c, "--json");
	if (cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	if ((rc = store_status(c->store, &st)) != 0)
		return rc == CS_EDAMAGED ? cli_fail(c, EXIT_CHECK, "store "
		    "damaged: an index cannot be read to its end (cafe audit "
		    "says more)") : cli_fail(c, EXIT_USAGE, "cannot read the "
		    "store");
	proto_hex(node, in->node, PROTO_KEY_LEN);
	proto_hex(net, in->network, PROTO_KEY_LEN);
	proto_hex(dig, st.digest, PROTO_HASH_LEN);
	counts = json_object();
	for (t = 0; t < sch_ntypes; t++)
		json_object_set_new(counts, sch_types[t].name,
		    json_integer((json_int_t)st.counts[t]));
	heads = json_array();
	store_heads(c->store, head_json, heads);
	pending = json_array();
	store_pending(c->store, pending_json, pending);
	daemon = cli_daemon_status(c);
	if (c->json) {
		o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:s, "
		    "s:b}", "node", node, "name", in->name, "role", in->role,
		    "network", net, "counts", counts, "heads", heads,
		    "commits", (json_int_t)st.commits,
		    "forks", (json_int_t)st.forks, "digest", dig,
		    "restore_pending", store_restore_pending(c->store));
		json_object_set_new(o, "daemon", daemon ? daemon :
		    json_null());
		json_object_set_new(o, "pending", pending);
		json_object_set_new(o, "mirrors", cli_mirror_status(c));
		{
			uint8_t site[PROTO_ID_LEN];
			char sh[2 * PROTO_ID_LEN + 1];

			if (cli_own_site(c, site) == 0) {
				proto_hex(sh, site, PROTO_ID_LEN);
				json_object_set_new(o, "site", json_pack(
				    "{s:s, s:s}", "id", sh, "name",
				    cli_label(c, site)));
			} else
				json_object_set_new(o, "site", json_null());
		}
		cli_print_json(o);
		return EXIT_OK;
	}
	printf("node     %s (%s)\n", in->name, in->role);
	{
		uint8_t site[PROTO_ID_LEN];
		char buf[300];

		if (cli_own_site(c, site) == 0) {
			cli_ref_text(c, site, buf, sizeof(buf));
			printf("site     %s: site= defaults to it\n", buf);
		}
	}
	printf("id       %s\nnetwork  %s\ndigest   %s\n"
	    "commits  %llu\n", node, net, dig,
	    (unsigned long long)st.commits);
	if (st.forks > 0)
		printf("forks    %llu (see cafe log)\n",
		    (unsigned long long)st.forks);
	if (store_restore_pending(c->store))
		printf("restore  waiting for this node's own log from a peer; "
		    "local writes are refused until then\n");
	for (i = 0; i < json_array_size(pending); i++) {
		json_t *p = json_array_get(pending, i);

		printf("waiting  %lld commits of %.16s (from seq %lld): %s\n",
		    (long long)json_integer_value(json_object_get(p,
		    "commits")), json_string_value(json_object_get(p,
		    "origin")), (long long)json_integer_value(
		    json_object_get(p, "first")), json_string_value(
		    json_object_get(p, "why")));
	}
	json_decref(pending);
	printf("records ");
	for (t = 0; t < sch_ntypes; t++)
		printf(" %s=%llu", sch_types[t].name,
		    (unsigned long long)st.counts[t]);
	printf("\nheads\n");
	for (i = 0; i < json_array_size(heads); i++) {
		json_t *h = json_array_get(heads, i);
		uint8_t okey[PROTO_KEY_LEN];

		if (proto_unhex(okey, PROTO_KEY_LEN, json_string_value(
		    json_object_get(h, "origin"))) != 0)
			continue;
		printf("  %-24s %.16s seq %lld\n", cli_author(c, okey),
		    json_string_value(json_object_get(h, "origin")),
		    (long long)json_integer_value(json_object_get(h, "seq")));
	}
	cli_print_peers(c, daemon);
	json_decref(daemon);
	{
		json_t *mirrors = cli_mirror_status(c);

		cli_print_mirror(mirrors);
		json_decref(mirrors);
	}
	json_decref(counts);
	json_decref(heads);
	return EXIT_OK;
}

struct log_arg {
	struct cli *c;
	json_t *a;
	int json;
};

static int
log_commit(const struct store_commit *sc, void *arg)
{
	struct log_arg *la = arg;
	char o[65], h[65], t[40];

	proto_hex(o, sc->c->origin, PROTO_KEY_LEN);
	proto_hex(h, sc->hash, PROTO_HASH_LEN);
	cli_time(sc->c->hlc, 1, t, sizeof(t));
	if (la->json)
		json_array_append_new(la->a, json_pack("{s:s, s:I, s:s, s:I, "
		    "s:s, s:I}", "origin", o, "seq", (json_int_t)sc->c->seq,
		    "hash", h, "hlc", (json_int_t)sc->c->hlc, "time", t,
		    "ops", (json_int_t)sc->c->nops));
	else {
		char lt[40];

		cli_time_local(HLC_MS(sc->c->hlc), lt, sizeof(lt));
		printf("%s  by %s (%.16s:%llu)  %u op%s  %.16s\n", lt,
		    cli_author(la->c, sc->c->origin), o,
		    (unsigned long long)sc->c->seq, sc->c->nops,
		    sc->c->nops == 1 ? "" : "s", h);
	}
	return 0;
}

/* cafe log [--origin HEX] [--json] */
int
cmd_log(struct cli *c)
{
	struct log_arg la = { c, NULL, 0 };
	const char *ohex;
	uint8_t origin[PROTO_KEY_LEN];
	int bad = 0;

	la.json = cli_flag(c, "--json");
	ohex = cli_take(c, "--origin", &bad);
	if (bad || cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	if (ohex != NULL && proto_unhex(origin, PROTO_KEY_LEN, ohex) != 0)
		return cli_usage_error(c, "option --origin: not a node id "
		    "(64 hex digits)");
	if (la.json)
		la.a = json_array();
	store_log(c->store, ohex ? origin : NULL, 0, log_commit, &la);
	if (la.json)
		cli_print_json(la.a);
	return EXIT_OK;
}

static void
verify_fault(const uint8_t origin[PROTO_KEY_LEN], uint64_t seq,
    const char *why, void *arg)
{
	char o[65];

	if (origin == NULL) {
		fprintf(stderr, "cafe: verify: %s\n", why);
		return;
	}
	proto_hex(o, origin, PROTO_KEY_LEN);
	fprintf(stderr, "cafe: verify: commit %.16s:%llu: %s\n", o,
	    (unsigned long long)seq, why);
}

/* cafe verify */
int
cmd_verify(struct cli *c)
{
	struct store_status st;
	int faults;

	if (cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	faults = store_verify(c->store, verify_fault, NULL);
	if (faults < 0)
		return cli_fail(c, EXIT_CHECK, "cannot read the store");
	if (faults > 0) {
		fprintf(stderr, "cafe: verify: %d fault%s found\n", faults,
		    faults == 1 ? "" : "s");
		return EXIT_CHECK;
	}
	store_status(c->store, &st);
	printf("ok: %llu commits verified (the signed log only; cafe audit "
	    "also checks the records and indexes derived from it)\n",
	    (unsigned long long)st.commits);
	return EXIT_OK;
}

/* Parses HEX64:SEQ. */
static int
parse_since(const char *text, struct store_since *sp)
{
	const char *colon = strchr(text, ':');
	char hex[2 * PROTO_KEY_LEN + 1], *end;

	if (colon == NULL || colon - text != 2 * PROTO_KEY_LEN)
		return -1;
	memcpy(hex, text, 2 * PROTO_KEY_LEN);
	hex[2 * PROTO_KEY_LEN] = '\0';
	if (proto_unhex(sp->origin, PROTO_KEY_LEN, hex) != 0)
		return -1;
	if (colon[1] < '0' || colon[1] > '9')
		return -1;
	errno = 0;
	sp->seq = strtoull(colon + 1, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/*
 * Writes a bundle atomically: temp file, fsync, rename.  With --to KEY it
 * is sealed to the node KEY, so only that node can read it.
 */
static int
bundle_export(struct cli *c)
{
	struct store_since *since = NULL;
	const char *v, *path, *to, *why = NULL;
	uint8_t tokey[PROTO_KEY_LEN];
	size_t n = 0;
	uint64_t count = 0;
	char *tmp = NULL, *cause = NULL;
	FILE *f = NULL;
	int bad = 0, zc, rc = EXIT_USAGE;

	while ((v = cli_take(c, "--since", &bad)) != NULL) {
		since = xreallocarray(since, n + 1, sizeof(*since));
		if (parse_since(v, &since[n]) != 0) {
			cli_usage_error(c, "option --since: '%s' is not "
			    "NODEID:SEQ (64 hex digits, a colon, a number)", v);
			goto out;
		}
		n++;
	}
	to = cli_take(c, "--to", &bad);
	zc = cli_flag(c, "--compress");
	if (bad || cli_rest(c, 2, 2) != 0)
		goto out;
	if (zc && to != NULL) {
		cli_usage_error(c, "option --compress: not with --to");
		goto out;
	}
	if (to != NULL && (strlen(to) != 2 * PROTO_KEY_LEN ||
	    proto_unhex(tokey, PROTO_KEY_LEN, to) != 0)) {
		cli_usage_error(c, "option --to: '%s' is not a node id (64 "
		    "hex digits, as `cafe id` prints)", to);
		goto out;
	}
	if (to != NULL && proto_seal_key_check(tokey, &why) != 0) {
		cli_usage_error(c, "option --to: '%s' is %s", to, why);
		goto out;
	}
	path = c->argv[1];
	if (strcmp(path, "-") == 0)
		f = stdout;
	else {
		int fd;

		tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
		/* Mode 0600 whatever the umask: a plain bundle holds every
		 * record in clear; and no symlink planted at the name. */
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, 0600);
		if (fd < 0 || fchmod(fd, 0600) != 0 ||
		    (f = fdopen(fd, "wb")) == NULL) {
			cli_usage_error(c, "%s: %s", tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto out;
		}
	}
	if ((to != NULL ? store_bundle_export_sealed(c->store, f, tokey, since,
	    n, &count, &cause) : zc ? store_bundle_export_compressed(c->store,
	    f, since, n, &count, &cause) : store_bundle_export(c->store, f,
	    since, n, &count, &cause)) != 0) {
		cli_fail(c, EXIT_USAGE, "%s", cause);
		goto out;
	}
	if (f != stdout) {
		if (fsync(fileno(f)) != 0 || fclose(f) != 0) {
			f = NULL;
			cli_usage_error(c, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		f = NULL;
		if (rename(tmp, path) != 0) {
			cli_usage_error(c, "%s: %s", path, strerror(errno));
			goto out;
		}
		free(tmp);
		tmp = NULL;
		if (to != NULL)
			fprintf(stderr, "wrote %llu commits to %s, sealed to "
			    "node %.16s...\n", (unsigned long long)count, path,
			    to);
		else
			fprintf(stderr, "wrote %llu commits to %s\n",
			    (unsigned long long)count, path);
	}
	rc = EXIT_OK;
out:
	if (f != NULL && f != stdout)
		fclose(f);
	if (tmp != NULL)
		unlink(tmp);
	free(tmp);
	free(cause);
	free(since);
	return rc;
}

/* Prints one origin's commits that wait for the admin log. */
static int
print_waiting(const uint8_t origin[PROTO_KEY_LEN], uint64_t first,
    uint64_t n, const char *why, void *arg)
{
	char o[17];

	proto_hex(o, origin, 8);
	printf("waiting: %llu commit%s of %s from seq %llu: %s\n",
	    (unsigned long long)n, n == 1 ? "" : "s", o,
	    (unsigned long long)first, why);
	return 0;
}

static void
import_refused(uint64_t index, const uint8_t *origin, uint64_t seq,
    const char *why, void *arg)
{
	char o[65];

	if (origin != NULL) {
		proto_hex(o, origin, PROTO_KEY_LEN);
		fprintf(stderr, "cafe: bundle: commit #%llu (%.16s:%llu) "
		    "refused: %s\n", (unsigned long long)index, o,
		    (unsigned long long)seq, why);
	} else
		fprintf(stderr, "cafe: bundle: commit #%llu refused: %s\n",
		    (unsigned long long)index, why);
}

/*
 * Reads a bundle, plain or sealed, from a file or stdin.  A sealed bundle
 * that fails to open (a damaged, altered or cut chunk) exits EXIT_CHECK,
 * as a damaged plain bundle does; one sealed to another node or with a
 * header this code does not read exits EXIT_USAGE.  Neither applies
 * anything of it.
 */
static int
bundle_import(struct cli *c)
{
	struct store_import_stats st;
	char *cause = NULL;
	FILE *f;
	int rc;

	if (cli_rest(c, 2, 2) != 0)
		return EXIT_USAGE;
	if (strcmp(c->argv[1], "-") == 0)
		f = stdin;
	else if ((f = fopen(c->argv[1], "rb")) == NULL)
		return cli_usage_error(c, "%s: %s", c->argv[1],
		    strerror(errno));
	rc = store_bundle_import(c->store, f, import_refused, NULL, &st,
	    &cause);
	if (f != stdin)
		fclose(f);
	if (rc != 0) {
		rc = rc == CS_ESIG || rc == CS_ETRUNC ? EXIT_CHECK : EXIT_USAGE;
		cli_fail(c, rc, "%s: %s", c->argv[1], cause);
		free(cause);
		return rc;
	}
	printf("read %llu commits: %llu applied, %llu already present, "
	    "%llu waiting for the admin log, %llu refused\n",
	    (unsigned long long)st.read, (unsigned long long)st.applied,
	    (unsigned long long)st.dup, (unsigned long long)st.pending,
	    (unsigned long long)st.refused);
	if (st.drained > 0)
		printf("%llu of the applied commits had waited for the admin "
		    "log\n", (unsigned long long)st.drained);
	store_pending(c->store, print_waiting, NULL);
	return st.refused > 0 ? EXIT_CHECK : EXIT_OK;
}

/* cafe bundle export|import ... */
int
cmd_bundle(struct cli *c)
{
	if (c->argc >= 1 && strcmp(c->argv[0], "export") == 0)
		return bundle_export(c);
	if (c->argc >= 1 && strcmp(c->argv[0], "import") == 0)
		return bundle_import(c);
	return cli_usage_error(c, "expected export or import; usage: cafe "
	    "bundle export FILE [--since NODEID:SEQ ...] [--to KEY | --compress] | "
	    "bundle import FILE");
}
