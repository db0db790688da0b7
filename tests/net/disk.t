#!/usr/bin/env bash
# disk.t: a replica whose disk fills in the middle of a sync.  Its data
# directory is a tmpfs the test mounts, 2 MB, while the hub holds about
# 8 MB of log.  The replica must say what happened in words ("no space
# left on device (DIR): N MB free, about M MB needed"), keep its log to a
# few lines a second (no line per commit, no reconnect every half second:
# it backs off as after a failed dial), lose nothing it stored, and catch
# up by itself once the disk has room again (the test grows the tmpfs).
# Needs root (mount); skipped otherwise.
. "$(dirname "$0")/netlib.sh"

if [ "$(id -u)" != 0 ] || ! command -v mount >/dev/null 2>&1; then
	skip "not root: cannot mount the small tmpfs this test needs"
	done_testing
	exit 0
fi

ok node_init hub hub -- "init hub"
mkdir -p "$T/rep"
if ! mount -t tmpfs -o size=2m,mode=0700 tmpfs "$T/rep" 2>"$T/mount.err"; then
	skip "cannot mount a tmpfs here: $(cat "$T/mount.err")"
	done_testing
	exit 0
fi
MOUNTED="$T/rep"
unmount() { [ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null; MOUNTED=; }
trap 'unmount; _net_cleanup' EXIT
ENROLL=consultant ok node_init rep consultant -- "init the replica on a 2 MB tmpfs"

cafe_in "$T/hub" add site "name=Big site"
S="$OUT"
$PY -c 'import sys
print("name,roles,site")
for i in range(30000):
    print("Host number %d of the big site with a name long enough,host,%s" % (i, sys.argv[1]))' "$S" >"$T/people.csv"
run_ok "the hub imports 30,000 people" "$T/hub" import person "$T/people.csv"
HUBHEADS="$("$CAFE" --data "$T/hub" status --json | jq -c '.heads | sort_by(.origin)')"

ok link rep hub -- "link rep -> hub"
ok daemon_start hub -- "start the hub"
ok daemon_start rep -- "start the replica"
full_said() { grep -q "no space left on device ($T/rep): [0-9.]* MB free, about [0-9]* MB needed" "$T/rep.log"; }
ok wait_for 30 full_said -- "the replica says its disk is full, in words" || diag "$(tail -5 "$T/rep.log")"
like "$(grep 'not stored' "$T/rep.log" | head -1)" 'batch [0-9]+ not stored: no space left on device' \
	"... as the reason a batch was not stored"
sleep 6
L0="$(wc -l <"$T/rep.log")"
sleep 6
L1="$(wc -l <"$T/rep.log")"
ok test $(( L1 - L0 )) -le 12 -- "while full, at most a couple of log lines a second ($(( L1 - L0 )) in 6 s)" ||
	diag "$(sed -n "$L0,\$p" "$T/rep.log" | head -20)"
is "$(grep -c 'not stored' "$T/rep.log")" 1 "one line says the disk is full, not one per batch or per commit"
CONN0="$(grep -c 'connected (outbound' "$T/rep.log")"
ok test "$CONN0" -le 8 -- "the replica backs off instead of dialing every half second ($CONN0 connections)"
run_ok "what the replica stored still verifies" "$T/rep" verify

# ---- room again ---------------------------------------------------------------------
ok mount -o remount,size=200m "$T/rep" -- "the disk gets room (the tmpfs grows to 200 MB)"
caught_up() {
	[ "$("$CAFE" --data "$T/rep" status --json | jq -c '.heads | sort_by(.origin)')" = "$HUBHEADS" ]
}
ok wait_for 90 caught_up -- "the replica catches up by itself" || diag "$(tail -5 "$T/rep.log")"
like "$(cat "$T/rep.log")" 'the disk has room again' "... and says the disk has room again"
# The room is said with how much is free (seen once a second in the free
# space, or by a batch stored), and the replica dials again after it.
ROOM_LINE="$(grep -n 'the disk has room again: [0-9]* MB free' "$T/rep.log" | head -1 | cut -d: -f1)"
ok test -n "$ROOM_LINE" -- "the room is said with how much is free: 'the disk has room again: N MB free'"
ok test -n "$ROOM_LINE" -a "$(sed -n "${ROOM_LINE:-1},\$p" "$T/rep.log" | grep -c 'connected (outbound')" -ge 1 -- \
	"... and the replica dials the hub after it"
converged "replica and hub converged" hub rep
run_ok "the replica verifies" "$T/rep" verify
daemon_stop rep
unmount

done_testing
