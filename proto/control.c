/*
 * control.c: the names of the control protocol's commands (control.h).
 */
#include <string.h>

#include "proto/control.h"

static const char *const ctl_names[CTL_NCMDS] = {
	[CTL_STATUS] = "status",
	[CTL_NUDGE] = "nudge",
	[CTL_RELOAD] = "reload",
	[CTL_SYNC] = "sync",
};

const char *
ctl_cmd_name(enum ctl_cmd cmd)
{
	return (unsigned)cmd < CTL_NCMDS ? ctl_names[cmd] : NULL;
}

int
ctl_cmd_parse(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < CTL_NCMDS; i++)
		if (strcmp(name, ctl_names[i]) == 0)
			return i;
	return -1;
}
