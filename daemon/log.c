/*
 * log.c: leveled logging to stderr.  Each line carries a UTC time, the
 * level and the message; the level is checked before anything is
 * formatted, and errno is preserved across every call.  When stderr is
 * the journal (systemd sets JOURNAL_STREAM to its device:inode), a line
 * starts with its syslog priority (<3> error ... <7> debug) instead of
 * the time, so that journald files it under its level.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon.h"

int log_level = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info",
	"debug" };
static const int level_prio[] = { 3, 4, 6, 7 };

/* Returns 1 when stderr is the journal's stream, checked once. */
static int
to_journal(void)
{
	static int known = -1;
	const char *v;
	unsigned long long dev, ino;
	struct stat st;

	if (known < 0) {
		v = getenv("JOURNAL_STREAM");
		known = v != NULL && sscanf(v, "%llu:%llu", &dev, &ino) == 2 &&
		    fstat(2, &st) == 0 && (unsigned long long)st.st_dev ==
		    dev && (unsigned long long)st.st_ino == ino;
	}
	return known;
}

/* Parses a level name. */
int
log_level_parse(const char *s)
{
	int i;

	for (i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

/* Writes one line: time, level, message and, with err, strerror(err). */
static void vlog(int level, int err, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void
vlog(int level, int err, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	int saved = errno;

	if (level > log_level)
		return;
	flockfile(stderr);
	if (to_journal())
		fprintf(stderr, "<%d>%s: ", level_prio[level],
		    level_names[level]);
	else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ cafed %s: ", when,
		    ts.tv_nsec / 1000000, level_names[level]);
	}
	vfprintf(stderr, fmt, ap);
	if (err != 0)
		fprintf(stderr, ": %s", strerror(err));
	fputc('\n', stderr);
	funlockfile(stderr);
	errno = saved;
}

/* Logs a warning with the current errno's text. */
void
log_warn(const char *fmt, ...)
{
	va_list ap;
	int err = errno;

	va_start(ap, fmt);
	vlog(LOG_WARN, err, fmt, ap);
	va_end(ap);
}

/* Logs a warning. */
void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_WARN, 0, fmt, ap);
	va_end(ap);
}

/* Logs a change worth knowing. */
void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

/* Logs detail for debugging. */
void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

/* Logs an error and exits with status 1. */
void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Formats the first 8 bytes of a key in hex. */
const char *
log_key(const uint8_t *key, char buf[17])
{
	proto_hex(buf, key, 8);
	return buf;
}
