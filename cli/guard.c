/*
 * guard.c: the commands that diagnose a store never die with it.
 *
 * cafe audit, verify and status read every page of a store that may be
 * damaged.  store_open() refuses a truncated file before mapping it and
 * the walks stop at pages LMDB calls damaged, but a page damaged in a way
 * LMDB does not check (a node offset, a key length) can still make it
 * read outside its map.  So these commands run in a child process, before
 * the store is opened (an LMDB environment must not cross a fork), and the
 * parent turns a child killed by a signal into "store damaged: ..." and
 * exit status 1.  Nothing has been printed before the fork, so the child
 * owns stdout and stderr; a child that exits reports its own status.  The
 * child's TMPDIR is a directory the parent makes and removes afterwards,
 * so the scratch store of an audit that crashed does not stay behind.
 */
#include <errno.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define PATH_MAX_GUARD 4096

/* The commands run in a child process. */
static const char *const guarded[] = { "audit", "verify", "status", NULL };

/* Returns whether a child killed by sig met a damaged page: a bad
 * address, or LMDB's or the allocator's abort on impossible sizes. */
static int
damage_signal(int sig)
{
	return sig == SIGSEGV || sig == SIGBUS || sig == SIGABRT ||
	    sig == SIGFPE || sig == SIGILL || sig == SIGTRAP;
}

/* The child's report of a fault: "cafe: CMD: store damaged: reading
 * database " NAME " of DIR/data.mdb faulted: ...", made ready before. */
static char fault_head[128];
static char fault_tail[PATH_MAX_GUARD];

/* Writes s to stderr; async-signal-safe. */
static void
put_err(const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/*
 * In the child, on a fault while a walk names the database it reads:
 * says which, and exits 1.  Otherwise the default action runs again
 * (SA_RESETHAND) and the parent reports the signal.
 */
static void
on_fault(int sig)
{
	const char *db = store_reading();

	if (db == NULL) {
		raise(sig);
		return;
	}
	put_err(fault_head);
	put_err(db);
	put_err(fault_tail);
	_exit(EXIT_CHECK);
}

/* Installs on_fault() for the signals a damaged page raises. */
static void
catch_faults(struct cli *c)
{
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	struct sigaction sa;
	size_t i;

	snprintf(fault_head, sizeof(fault_head), "cafe: %s: store damaged: "
	    "reading database ", c->cmd);
	snprintf(fault_tail, sizeof(fault_tail), " of %s/data.mdb crashed: a "
	    "page of the file is damaged; restore this node from a peer or a "
	    "backup\n", c->data);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* Removes dir and what it holds, a few levels deep at most. */
static void
rm_tree(const char *dir, int depth)
{
	DIR *d;
	struct dirent *e;
	struct stat st;
	char *p;

	if (depth > 4 || (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		p = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p, depth + 1);
		else
			unlink(p);
		free(p);
	}
	closedir(d);
	rmdir(dir);
}

/*
 * Runs the rest of the command in a child when it is guarded.  Returns -1
 * in the child (and when not guarded or fork fails: go on), else, in the
 * parent, the exit status to end with.
 */
int
cli_guard(struct cli *c)
{
	const char *sig;
	char *tmpdir;
	pid_t pid, w;
	int i, status;

	for (i = 0; guarded[i] != NULL; i++)
		if (strcmp(guarded[i], c->cmd) == 0)
			break;
	if (guarded[i] == NULL)
		return -1;
	tmpdir = xasprintf("%s/cafe-guard.XXXXXX", cli_tmpdir());
	if (mkdtemp(tmpdir) == NULL) {
		free(tmpdir);
		tmpdir = NULL;
	}
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0) {
		if (tmpdir != NULL)
			rmdir(tmpdir);
		free(tmpdir);
		return -1;	/* no child: run unguarded */
	}
	if (pid == 0) {
		if (tmpdir != NULL)
			setenv("TMPDIR", tmpdir, 1);
		free(tmpdir);
		catch_faults(c);
		return -1;
	}
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
	if (tmpdir != NULL)
		rm_tree(tmpdir, 0);
	free(tmpdir);
	if (w < 0)
		return cli_fail(c, EXIT_CHECK, "cannot wait for the command");
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (!WIFSIGNALED(status))
		return EXIT_CHECK;
	if (!damage_signal(WTERMSIG(status))) {
		/* Interrupted, or its reader went away: end the same way. */
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	sig = strsignal(WTERMSIG(status));
	return cli_fail(c, EXIT_CHECK, "store damaged: reading %s/data.mdb "
	    "crashed (signal %d, %s): a page of the file is damaged; restore "
	    "this node from a peer or a backup", c->data, WTERMSIG(status),
	    sig != NULL ? sig : "unknown");
}
