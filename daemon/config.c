/*
 * config.c: the configuration file, read with inih.  One table lists
 * every option of the [node] and [limits] sections with its bounds; a
 * section [peer NAME] adds a peer.  Errors come back as "file:line:
 * message".  deploy/cafed.conf is the commented example.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>

#include "daemon.h"

/* One numeric option: where it lives in struct cfg and its bounds. */
struct cfg_uint {
	const char *section;
	const char *name;
	size_t off;
	unsigned def, min, max;
};

static const struct cfg_uint uint_opts[] = {
	{ "limits", "handshake_timeout", offsetof(struct cfg,
	    handshake_timeout), 10, 1, 300 },
	{ "limits", "ping_interval", offsetof(struct cfg, ping_interval),
	    15, 1, 3600 },
	{ "limits", "ping_timeout", offsetof(struct cfg, ping_timeout),
	    45, 2, 7200 },
	{ "limits", "backoff_min", offsetof(struct cfg, backoff_min),
	    500, 10, 600000 },
	{ "limits", "backoff_max", offsetof(struct cfg, backoff_max),
	    60000, 10, 3600000 },
	{ "limits", "max_handshakes", offsetof(struct cfg, max_handshakes),
	    64, 1, 10000 },
	{ "limits", "window", offsetof(struct cfg, window),
	    4 * 1024 * 1024, WIRE_MAX_FRAME, 256 * 1024 * 1024 },
	{ "limits", "batch_commits", offsetof(struct cfg, batch_commits),
	    1024, 1, 65536 },
};
#define NUINT (sizeof(uint_opts) / sizeof(uint_opts[0]))

/* Sets the defaults. */
void
cfg_defaults(struct cfg *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	c->log_level = LOG_INFO;
	for (i = 0; i < NUINT; i++)
		*(unsigned *)(void *)((char *)c + uint_opts[i].off) =
		    uint_opts[i].def;
}

/* Frees the peers. */
void
cfg_free(struct cfg *c)
{
	free(c->peers);
	c->peers = NULL;
	c->npeers = 0;
	free(c->mirror_postgres);
	c->mirror_postgres = NULL;
}

struct parse {
	struct cfg *c;
	char *error;          /* the first error, without file:line */
	struct cfg_peer *cur; /* the peer of the current section */
	char cur_section[128];
	int cur_has_key, cur_has_addr;
};

/* Records the first error; returns 0 so inih reports its line. */
static int __attribute__((format(printf, 2, 3)))
bad(struct parse *p, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (p->error == NULL) {
		va_start(ap, fmt);
		vsnprintf(buf, sizeof(buf), fmt, ap);
		va_end(ap);
		p->error = xstrdup(buf);
	}
	return 0;
}

/* Checks that the previous peer section was complete. */
static int
peer_done(struct parse *p)
{
	if (p->cur == NULL)
		return 1;
	if (!p->cur_has_key)
		return bad(p, "[%s]: key is required", p->cur_section);
	if (!p->cur_has_addr)
		return bad(p, "[%s]: addr (host:port) or inbound = yes is "
		    "required", p->cur_section);
	p->cur = NULL;
	return 1;
}

/* Parses yes/no. */
static int
parse_bool(const char *v, int *out)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
	    strcmp(v, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* Handles one peer section's key. */
static int
peer_option(struct parse *p, const char *section, const char *name,
    const char *value)
{
	struct cfg *c = p->c;
	char host[256], port[8];
	size_t i;
	int b;

	if (p->cur == NULL || strcmp(p->cur_section, section) != 0) {
		const char *pname = section + 5;

		if (!peer_done(p))
			return 0;
		while (*pname == ' ')
			pname++;
		if (*pname == '\0' || strlen(pname) >= sizeof(p->cur->name))
			return bad(p, "[%s]: a peer needs a name of 1 to 63 "
			    "bytes", section);
		for (i = 0; i < c->npeers; i++)
			if (strcmp(c->peers[i].name, pname) == 0)
				return bad(p, "[%s]: peer '%s' is defined "
				    "twice", section, pname);
		c->peers = xreallocarray(c->peers, c->npeers + 1,
		    sizeof(*c->peers));
		p->cur = &c->peers[c->npeers++];
		memset(p->cur, 0, sizeof(*p->cur));
		snprintf(p->cur->name, sizeof(p->cur->name), "%s", pname);
		snprintf(p->cur_section, sizeof(p->cur_section), "%s",
		    section);
		p->cur_has_key = p->cur_has_addr = 0;
	}
	if ((strcmp(name, "key") == 0 && p->cur_has_key) ||
	    ((strcmp(name, "addr") == 0 || strcmp(name, "inbound") == 0) &&
	    p->cur_has_addr))
		return bad(p, "[%s] %s: given twice (is the section repeated?)",
		    section, name);
	if (strcmp(name, "key") == 0) {
		if (proto_unhex(p->cur->key, PROTO_KEY_LEN, value) != 0)
			return bad(p, "[%s] key: '%s' is not a node key (64 "
			    "hex digits)", section, value);
		p->cur_has_key = 1;
	} else if (strcmp(name, "addr") == 0) {
		if (strlen(value) >= sizeof(p->cur->addr) ||
		    proto_split_addr(value, host, sizeof(host), port,
		    sizeof(port)) != 0)
			return bad(p, "[%s] addr: '%s' is not host:port",
			    section, value);
		snprintf(p->cur->addr, sizeof(p->cur->addr), "%s", value);
		p->cur_has_addr = 1;
	} else if (strcmp(name, "inbound") == 0) {
		if (parse_bool(value, &b) != 0)
			return bad(p, "[%s] inbound: '%s' is not yes or no",
			    section, value);
		if (b)
			p->cur->addr[0] = '\0';
		p->cur_has_addr = 1;
	} else
		return bad(p, "[%s]: unknown option '%s'", section, name);
	return 1;
}

/* inih's handler: one name = value in a section. */
static int
handler(void *arg, const char *section, const char *name, const char *value)
{
	struct parse *p = arg;
	struct cfg *c = p->c;
	char host[256], port[8];
	unsigned long n;
	char *end;
	size_t i;

	if (strncmp(section, "peer ", 5) == 0)
		return peer_option(p, section, name, value);
	if (!peer_done(p))
		return 0;
	if (strcmp(section, "node") == 0) {
		if (strcmp(name, "listen") == 0) {
			if (strcmp(value, "none") == 0) {
				c->listen[0] = '\0';
				return 1;
			}
			if (strlen(value) >= sizeof(c->listen) ||
			    proto_split_addr(value, host, sizeof(host), port,
			    sizeof(port)) != 0)
				return bad(p, "[node] listen: '%s' is not "
				    "host:port or none", value);
			snprintf(c->listen, sizeof(c->listen), "%s", value);
			return 1;
		}
		if (strcmp(name, "log_level") == 0) {
			if ((c->log_level = log_level_parse(value)) < 0)
				return bad(p, "[node] log_level: '%s' is not "
				    "one of error warn info debug", value);
			return 1;
		}
		return bad(p, "[node]: unknown option '%s'", name);
	}
	for (i = 0; i < NUINT; i++) {
		const struct cfg_uint *o = &uint_opts[i];
		char range[64];

		if (strcmp(section, o->section) != 0 ||
		    strcmp(name, o->name) != 0)
			continue;
		errno = 0;
		n = strtoul(value, &end, 10);
		snprintf(range, sizeof(range), "%u to %u", o->min, o->max);
		if (*value == '\0' || *value == '-' || *end != '\0' ||
		    errno != 0 || n < o->min || n > o->max)
			return bad(p, "%s: must be a number from %s", name,
			    range);
		*(unsigned *)(void *)((char *)c + o->off) = (unsigned)n;
		return 1;
	}
	if (strcmp(section, "limits") == 0)
		return bad(p, "[limits]: unknown option '%s'", name);
	if (strcmp(section, "mirror") == 0) {
		char *err = mirror_cfg_option(c, name, value);

		if (err == NULL)
			return 1;
		bad(p, "%s", err);
		free(err);
		return 0;
	}
	return bad(p, "unknown section [%s]", section);
}

/* Reads the file over the defaults. */
int
cfg_load(struct cfg *c, const char *path, char **cause)
{
	struct parse p = { c, NULL, NULL, "", 0, 0 };
	struct stat st;
	FILE *f;
	int line;

	memset(&st, 0, sizeof(st));
	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 022) != 0) {
		*cause = xasprintf("%s: writable by others (mode %03o); "
		    "chmod go-w it", path, (unsigned)(st.st_mode & 0777));
		fclose(f);
		return -1;
	}
	line = ini_parse_file(f, handler, &p);
	fclose(f);
	if (line == 0 && p.error == NULL && !peer_done(&p))
		line = -2;
	/* The checks across options, after the file: bad() keeps the first
	 * error, so a second neither hides it nor leaks it. */
	if (line == 0 && c->ping_timeout <= c->ping_interval)
		bad(&p, "[limits] ping_timeout: must be longer than "
		    "ping_interval");
	if (line == 0 && c->backoff_max < c->backoff_min)
		bad(&p, "[limits] backoff_max: must not be shorter than "
		    "backoff_min");
	if (line == 0 && c->mirror_postgres != NULL &&
	    strstr(c->mirror_postgres, "password") != NULL &&
	    (st.st_mode & 044) != 0)
		bad(&p, "[mirror] postgres: holds a password in a file others "
		    "can read; put it in ~/.pgpass or PGPASSFILE, or chmod "
		    "go-r the file");
	if (line != 0 || p.error != NULL) {
		if (line > 0)
			*cause = xasprintf("%s:%d: %s", path, line,
			    p.error ? p.error : "syntax error");
		else
			*cause = xasprintf("%s: %s", path,
			    p.error ? p.error : "cannot be read");
		free(p.error);
		return -1;
	}
	return 0;
}
