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
 * owns stdout and stderr; a child that exits reports its own status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

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

/*
 * Runs the rest of the command in a child when it is guarded.  Returns -1
 * in the child (and when not guarded or fork fails: go on), else, in the
 * parent, the exit status to end with.
 */
int
cli_guard(struct cli *c)
{
	const char *sig;
	pid_t pid, w;
	int i, status;

	for (i = 0; guarded[i] != NULL; i++)
		if (strcmp(guarded[i], c->cmd) == 0)
			break;
	if (guarded[i] == NULL)
		return -1;
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) < 0)
		return -1;	/* no child: run unguarded */
	if (pid == 0)
		return -1;
	do
		w = waitpid(pid, &status, 0);
	while (w < 0 && errno == EINTR);
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
