/*
 * cmd_member.c: the admin log from the command line.
 *
 *   cafe member add KEY --role hub|site|consultant --name NAME
 *       [--site ID] [--sites ID,...] [--all]
 *   cafe member list [--json]
 *   cafe member revoke KEY [--after SEQ]
 *
 * Only the network's admin (the node whose key is the network id, the hub
 * that made the network) writes member records; on any other node these
 * commands refuse, and so would every other node.  A revocation keeps the
 * key's commits up to a seq (by default the last one this node holds) and
 * refuses the later ones everywhere.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Refuses unless this node is the network's admin. */
static int
need_admin(struct cli *c)
{
	const struct store_info *in = store_info(c->store);

	if (memcmp(in->node, in->network, PROTO_KEY_LEN) == 0)
		return 0;
	return cli_usage_error(c, "only the network's admin (the hub whose key "
	    "is the network id) enrolls, changes or revokes members");
}

/* Parses a KEY argument; prints the error. */
static int
parse_key(struct cli *c, const char *text, uint8_t key[PROTO_KEY_LEN])
{
	if (proto_unhex(key, PROTO_KEY_LEN, text) != 0)
		return cli_usage_error(c, "'%s' is not a node id (64 hex "
		    "digits, from cafe id on that node)", text);
	return 0;
}

/*
 * Writes one member op and reports the result: the new record of en
 * (store_batch_enroll()), or, with en NULL, an edit of key's record.
 */
static int
write_member(struct cli *c, const struct store_enroll *en,
    const uint8_t key[PROTO_KEY_LEN], const struct store_kv *kv, size_t n)
{
	const struct sch_type *t = sch_type_find("member", 6);
	struct store_batch *b = store_batch_new(c->store);
	uint8_t id[PROTO_ID_LEN];
	char *cause = NULL;
	int rc;

	if (en != NULL)
		rc = store_batch_enroll(b, en, &cause);
	else {
		proto_member_id(id, key);
		rc = store_batch_put(b, t, id, 0, kv, n, &cause);
	}
	if (rc == 0) {
		free(cause);
		cause = NULL;
		rc = store_batch_commit(b, &cause);
	}
	store_batch_free(b);
	if (rc != 0) {
		cli_usage_error(c, "%s", cause);
		free(cause);
		return EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Tells whether key has a member record (live). */
static int
enrolled(struct cli *c, const uint8_t key[PROTO_KEY_LEN])
{
	struct store_member m;

	if (store_member_get(c->store, key, &m) != 0)
		return 0;
	store_member_free(&m);
	return 1;
}

static int
member_add(struct cli *c)
{
	const char *role, *name, *site, *sites;
	char refs[PROTO_MAX_ITEMS * 33 + 1];
	uint8_t key[PROTO_KEY_LEN];
	struct store_enroll en;
	enum store_role r;
	int bad = 0, all;

	role = cli_take(c, "--role", &bad);
	name = cli_take(c, "--name", &bad);
	site = cli_take(c, "--site", &bad);
	sites = cli_take(c, "--sites", &bad);
	all = cli_flag(c, "--all");
	if (bad || cli_rest(c, 1, 1) != 0)
		return EXIT_USAGE;
	if (parse_key(c, c->argv[0], key) != 0)
		return EXIT_USAGE;
	if (role == NULL || name == NULL)
		return cli_usage_error(c, "options --role and --name are "
		    "required");
	if ((r = store_role_parse(role)) == STORE_ROLE_NONE)
		return cli_usage_error(c, "option --role: '%s' is not one of: "
		    "hub site consultant", role);
	if (r == STORE_ROLE_SITE && site == NULL)
		return cli_usage_error(c, "option --site: a site key speaks "
		    "for one site; name it");
	if (r != STORE_ROLE_SITE && site != NULL)
		return cli_usage_error(c, "option --site: only for --role "
		    "site (a consultant takes --sites or --all)");
	if ((sites != NULL || all) && r != STORE_ROLE_CONSULTANT)
		return cli_usage_error(c, "options --sites and --all: only for "
		    "--role consultant");
	if (sites != NULL && all)
		return cli_usage_error(c, "options --sites and --all: give one");
	if (need_admin(c) != 0)
		return EXIT_USAGE;
	if (memcmp(key, store_info(c->store)->network, PROTO_KEY_LEN) == 0)
		return cli_usage_error(c, "that key is the network's admin: it "
		    "needs no enrollment");
	if (enrolled(c, key))
		return cli_usage_error(c, "%s is enrolled already (cafe member "
		    "list)", c->argv[0]);
	/* Sites by name, id or short id, as in any reference field. */
	if (site != NULL || sites != NULL) {
		const struct sch_type *mt = sch_type_find("member", 6);
		char *msg = NULL, *v;

		v = cli_field_value(c, sch_field_find(mt, site ? "site" :
		    "sites", site ? 4 : 5), site ? site : sites, &msg);
		if (v == NULL) {
			cli_usage_error(c, "option --%s: %s", site ? "site" :
			    "sites", msg);
			free(msg);
			return EXIT_USAGE;
		}
		snprintf(refs, sizeof(refs), "%s", v);
		free(v);
		if (site != NULL)
			site = refs;
		else
			sites = refs;
	}
	en = (struct store_enroll){ key, r, name, site, sites };
	if (write_member(c, &en, key, NULL, 0) != EXIT_OK)
		return EXIT_USAGE;
	/* Say so when the record written does not enroll the key. */
	if (!enrolled(c, key))
		return cli_fail(c, EXIT_CHECK, "%s: the member record was "
		    "written but does not enroll the key", c->argv[0]);
	return EXIT_OK;
}

static int
member_revoke(struct cli *c)
{
	const char *after;
	uint8_t key[PROTO_KEY_LEN];
	uint64_t last = 0;
	struct store_kv kv[2];
	char seq[32], *end;
	int bad = 0;

	after = cli_take(c, "--after", &bad);
	if (bad || cli_rest(c, 1, 1) != 0)
		return EXIT_USAGE;
	if (parse_key(c, c->argv[0], key) != 0)
		return EXIT_USAGE;
	if (need_admin(c) != 0)
		return EXIT_USAGE;
	if (!enrolled(c, key))
		return cli_usage_error(c, "%s is not an enrolled member",
		    c->argv[0]);
	if (after != NULL) {
		errno = 0;
		last = strtoull(after, &end, 10);
		if (*after == '\0' || *after == '-' || *end != '\0' ||
		    errno != 0 || last > 4294967295ULL)
			return cli_usage_error(c, "option --after: '%s' is not "
			    "a seq", after);
	} else
		last = store_head_seq(c->store, key);
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)last);
	kv[0] = (struct store_kv){ "status", "revoked" };
	kv[1] = (struct store_kv){ "revoked_after", seq };
	if (write_member(c, NULL, key, kv, 2) != EXIT_OK)
		return EXIT_USAGE;
	printf("revoked: commits after seq %s of that key are refused\n",
	    seq);
	return EXIT_OK;
}

struct list_arg {
	struct cli *c;
	struct cli_jstream js;
	uint64_t quiet_ms;       /* --quiet-for: only those not seen since */
	int header;
};

static int
list_one(const struct store_member *m, void *arg)
{
	struct list_arg *la = arg;
	char key[2 * PROTO_KEY_LEN + 1], site[2 * PROTO_ID_LEN + 1] = "";
	json_t *o, *sites;
	size_t i;

	uint64_t seen = 0, seq = 0;
	char when[64];

	proto_hex(key, m->key, PROTO_KEY_LEN);
	if (m->has_site)
		proto_hex(site, m->site, PROTO_ID_LEN);
	store_lastseen_get(la->c->store, m->key, &seen, &seq);
	if (la->quiet_ms != 0 && (m->revoked || (seen != 0 &&
	    store_now_ms() - seen < la->quiet_ms)))
		return 0;
	if (!la->c->json) {
		char sname[300] = "";

		cli_when(seen, when, sizeof(when));
		if (m->has_site)
			cli_ref_text(la->c, m->site, sname, sizeof(sname));
		printf("%.16s  %-10s %-8s %-24s last synced %s%s%s", key,
		    store_role_name(m->role), m->revoked ? "revoked" :
		    "active", m->name, when, m->has_site ? "  site " : "",
		    sname);
		if (m->role == STORE_ROLE_CONSULTANT)
			printf("  reads=%s", m->scope_all ? "all" : "assigned");
		if (m->revoked)
			printf("  valid through seq %llu",
			    (unsigned long long)m->revoked_after);
		printf("\n");
		return 0;
	}
	sites = json_array();
	for (i = 0; i < m->nsites; i++) {
		char h[2 * PROTO_ID_LEN + 1];

		proto_hex(h, m->sites[i], PROTO_ID_LEN);
		json_array_append_new(sites, json_string(h));
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b, s:b}", "key", key,
	    "role", store_role_name(m->role), "name", m->name,
	    "status", m->revoked ? "revoked" : "active", "sites", sites,
	    "reads_all", m->scope_all, "revoked", m->revoked);
	json_object_set_new(o, "site", m->has_site ? json_string(site) :
	    json_null());
	json_object_set_new(o, "revoked_after", m->revoked ?
	    json_integer((json_int_t)m->revoked_after) : json_null());
	json_object_set_new(o, "last_sync", seen != 0 ?
	    json_integer((json_int_t)seen) : json_null());
	cli_jstream_add(&la->js, o);
	return 0;
}

static int
member_list(struct cli *c)
{
	struct list_arg la;
	const char *q;
	char *end;
	long v;
	int bad = 0;

	memset(&la, 0, sizeof(la));
	c->json = cli_flag(c, "--json");
	q = cli_take(c, "--quiet-for", &bad);
	if (bad || cli_rest(c, 0, 0) != 0)
		return EXIT_USAGE;
	if (q != NULL) {
		v = strtol(q, &end, 10);
		if (end == q || v < 1 || v > 36500 || (strcmp(end, "d") != 0 &&
		    strcmp(end, "") != 0 && strcmp(end, "h") != 0))
			return cli_usage_error(c, "option --quiet-for: '%s' is "
			    "not a number of days (14d) or hours (12h)", q);
		la.quiet_ms = (uint64_t)v * (strcmp(end, "h") == 0 ? 3600000 :
		    86400000);
	}
	la.c = c;
	if (c->json)
		cli_jstream_begin(&la.js);
	store_members(c->store, list_one, &la);
	if (c->json)
		cli_jstream_end(&la.js);
	return EXIT_OK;
}

/* cafe member add|list|revoke */
int
cmd_member(struct cli *c)
{
	const char *verb = c->argc > 0 ? c->argv[0] : NULL;

	if (verb == NULL)
		return cli_rest(c, 1, -1);
	c->argc--;
	c->argv++;
	if (strcmp(verb, "add") == 0)
		return member_add(c);
	if (strcmp(verb, "list") == 0)
		return member_list(c);
	if (strcmp(verb, "revoke") == 0)
		return member_revoke(c);
	return cli_usage_error(c, "'%s' is not add, list or revoke", verb);
}
