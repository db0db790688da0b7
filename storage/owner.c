/*
 * owner.c: whose a node's files are.  A data directory, its key and its
 * ctl/ directory belong to one user; when the one running cafe or cafed is
 * another (root on a user's directory, a user on the service's), the
 * message says whose they are and what to run instead.
 */
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Returns "name (uid N)", or "uid N" without a passwd entry (malloc'd). */
char *
store_user_text(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		return xasprintf("%s (uid %u)", pw.pw_name, (unsigned)uid);
	return xasprintf("uid %u", (unsigned)uid);
}

/* Returns the user name for uid, or "uid N" without one (malloc'd). */
char *
store_user_name(uid_t uid)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL)
		return xstrdup(pw.pw_name);
	return xasprintf("%u", (unsigned)uid);
}

/*
 * Checks that path, when it exists, belongs to the effective user.
 * Returns 0 if so (or when it does not exist); else -1 with *owner set
 * and *cause "PATH is owned by NAME (uid N), not by ME (uid M)".
 */
int
store_owner_check(const char *path, uid_t *owner, char **cause)
{
	struct stat st;
	char *them, *me;

	if (stat(path, &st) != 0 || st.st_uid == geteuid())
		return 0;
	*owner = st.st_uid;
	them = store_user_text(st.st_uid);
	me = store_user_text(geteuid());
	*cause = xasprintf("%s is owned by %s, not by %s", path, them, me);
	free(them);
	free(me);
	return -1;
}
