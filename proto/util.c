/*
 * util.c: the error names shared by every layer, fatal-on-failure
 * allocation wrappers and hex helpers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const char *const cs_errors[] = {
	"ok",
	"out of memory",
	"malformed encoding",
	"size bound exceeded",
	"bad signature",
	"prev hash does not match the previous commit",
	"seq leaves a gap",
	"already stored",
	"fork: a different commit at a stored seq",
	"schema violation",
	"not found",
	"ambiguous",
	"system call failed",
	"store failed",
	"already exists",
	"bad argument",
	"unsupported version",
	"not allowed",
	"truncated",
	"waiting for the admin log",
	"no space left on device",
	"store damaged",
	"no answer in time",
};

/* Returns a static name for err. */
const char *
cs_strerror(int err)
{
	size_t i = (size_t)(-(long)err);

	if (err > 0 || i >= sizeof(cs_errors) / sizeof(cs_errors[0]))
		return "unknown error";
	return cs_errors[i];
}

static void
oom(void)
{
	fputs("fatal: out of memory\n", stderr);
	abort();
}

/* Allocates size bytes or dies. */
void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

/* Allocates n zeroed elements or dies. */
void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

/* Resizes p to n elements of size bytes, checking the product; or dies. */
void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		oom();
	p = realloc(p, n * size != 0 ? n * size : 1);
	if (p == NULL)
		oom();
	return p;
}

/* Duplicates a string or dies. */
char *
xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

/* Returns a malloc'd formatted string or dies. */
char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		oom();
	s = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Writes 2*len lowercase hex chars of in and a NUL into out. */
void
proto_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Parses exactly 2*len hex chars into out; returns 0 or CS_EUSAGE. */
int
proto_unhex(uint8_t *out, size_t len, const char *hex)
{
	size_t i;

	if (strlen(hex) != 2 * len)
		return CS_EUSAGE;
	for (i = 0; i < len; i++) {
		int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return CS_EUSAGE;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Splits "host:port" or "[v6]:port". */
int
proto_split_addr(const char *addr, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	const char *colon, *h = addr, *p;
	size_t hl;
	char *end;
	long n;

	if (addr[0] == '[') {
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		h = addr + 1;
		hl = (size_t)(close - h);
		p = close + 2;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL || strchr(addr, ':') != colon)
			return -1;
		hl = (size_t)(colon - addr);
		p = colon + 1;
	}
	if (hl == 0 || hl >= hostlen || strlen(p) >= portlen)
		return -1;
	errno = 0;
	n = strtol(p, &end, 10);
	if (*p == '\0' || *end != '\0' || errno != 0 || n < 1 || n > 65535)
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%ld", n);
	return 0;
}
