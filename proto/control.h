/*
 * control.h: the control protocol between `cafe` and its node's cafed,
 * the one definition both sides use (cli/cmd_sync.c, daemon/control.c).
 *
 * A Unix stream socket, DATA/CTL_DIR/CTL_SOCK, in a directory of mode 0700
 * beside the lock file CTL_LOCK that makes one daemon serve a data
 * directory; only the daemon's own user (or root) may connect.  One
 * request per connection: a JSON object on one line of at most
 * CTL_MAX_REQUEST bytes,
 *
 *   {"v": CTL_VERSION, "cmd": NAME, ...}
 *
 * and one answer, a JSON object on one line of at most CTL_MAX_REPLY
 * bytes, always carrying the daemon's "v"; a refusal is
 * {"v": N, "error": TEXT}.  The commands:
 *
 *   status    the node, its peers and their sync state: {"running": true,
 *             "listen", "uptime_ms", "restore_pending", "peers": [{"name",
 *             "key", "addr", "state", "sent", "received", "bytes_in",
 *             "bytes_out", "error", "last_sync", and while connected
 *             "direction", "remote", "to_send", "to_receive",
 *             "bytes_to_send", "bytes_to_send_exact", "rate", "lag",
 *             "reads"}, ...]}
 *   nudge     the store changed: push what is new now; {"ok": true}
 *   reload    re-read the peers (after `cafe peer add/rm`); {"ok": true}
 *   sync      "timeout": S: dial every offline peer now and answer once
 *             every connected peer is caught up, or at S seconds:
 *             {"ok", "pending": [NAME, ...], "offline": [{"name",
 *             "reason"}, ...]}
 *
 * Versions: a request or an answer without "v" is of version 1 (the
 * protocol before it carried one, which this one only adds fields to).
 * cafed refuses a request of another version than its own, and cafe
 * refuses an answer of another version than its own, each saying which is
 * which and what to do: after a package upgrade the cafed still running is
 * the old one until it restarts, and the shape of an answer may differ.
 * Bump CTL_VERSION when a command or a field above changes meaning or
 * goes; adding a field does not need it.
 */
#ifndef CAFESYNC_CONTROL_H
#define CAFESYNC_CONTROL_H

#define CTL_VERSION 1
#define CTL_DIR "ctl"
#define CTL_SOCK "cafed.sock"
#define CTL_LOCK "cafed.lock"
#define CTL_MAX_REQUEST 4096
#define CTL_MAX_REPLY (1024 * 1024)

enum ctl_cmd {
	CTL_STATUS,
	CTL_NUDGE,
	CTL_RELOAD,
	CTL_SYNC,
	CTL_NCMDS
};

/* The command's name on the wire. */
const char *ctl_cmd_name(enum ctl_cmd cmd);

/* The command named name, or -1. */
int ctl_cmd_parse(const char *name);

#endif
