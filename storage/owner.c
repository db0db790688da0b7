/*
 * owner.c: whose a node's files are.  A data directory, its key and its
 * ctl/ directory belong to one user; when the one running cafe or cafed is
 * another (root on a user's directory, a user on the service's), the
 * message says whose they are and what to run instead.
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
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

/*
 * Before a node is opened: its directory and the files in it that exist
 * (the key, data.mdb, lock.mdb, which LMDB opens itself and would follow)
 * must be the effective user's, root included, and the files plain files,
 * never symbolic links another user could have planted.  Returns 0, or
 * CS_EPERM with *cause one line naming the file and why.
 */
int
store_files_check(const char *dir, char **cause)
{
	static const char *const files[] = { STORE_KEY_FILE, "data.mdb",
	    "lock.mdb" };
	struct stat st;
	uid_t owner;
	char *who, *name, *path;
	size_t i;

	if (store_owner_check(dir, &owner, &who) != 0) {
		name = store_user_name(owner);
		*cause = owner == 0 ?
		    xasprintf("%s: the node is root's: run cafe as root (sudo "
		    "cafe --data %s ...)", who, dir) :
		    xasprintf("%s: the node is %s's: run cafe as %s (sudo -u "
		    "%s cafe --data %s ...)", who, name, name, name, dir);
		free(name);
		free(who);
		return CS_EPERM;
	}
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path = xasprintf("%s/%s", dir, files[i]);
		if (lstat(path, &st) != 0) {
			free(path);
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			*cause = xasprintf("%s is a symbolic link: a node's "
			    "files are plain files; refusing to follow it",
			    path);
			free(path);
			return CS_EPERM;
		}
		if (!S_ISREG(st.st_mode)) {
			*cause = xasprintf("%s is not a plain file", path);
			free(path);
			return CS_EPERM;
		}
		if (st.st_uid != geteuid()) {
			who = store_user_text(st.st_uid);
			name = store_user_text(geteuid());
			*cause = xasprintf("%s is owned by %s, not by %s; "
			    "refusing to open it", path, who, name);
			free(who);
			free(name);
			free(path);
			return CS_EPERM;
		}
		free(path);
	}
	return 0;
}
