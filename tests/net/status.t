#!/usr/bin/env bash
# status.t: status in plain words, kept across restarts.  A site syncs with
# its hub; `cafe status` says "up to date"; the hub keeps when each member
# last completed a sync (member list), also after the hub restarts;
# --quiet-for lists the members not seen for that long; with the hub down,
# `cafe sync --wait` exits 1 naming it, and with the site's own daemon
# stopped `cafe status` still counts the changes waiting to send.
. "$(dirname "$0")/netlib.sh"

ALL=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
ok node_init hub hub -- "init hub"
run_ok "the hub adds Pine's site record" "$T/hub" add site "name=Pine County FRC"
SITE="$OUT"
ENROLL=no ok node_init pine site -- "init pine"
ok node_enroll pine site "$SITE" -- "enroll pine for its site"
ENROLL=no ok node_init ghost site -- "init ghost (enrolled, never connects)"
ok node_enroll ghost site "$SITE" -- "enroll ghost"
ok link pine hub -- "pine dials the hub"
ok daemon_start hub -- "hub cafed"
ok daemon_start pine -- "pine cafed"

run_ok "pine logs a café" "$T/pine" add cafe date=today format=dads factors=resilience elements=$ALL
ok wait_idle pine 20 -- "pine syncs with the hub"
cafe_in "$T/pine" sync
is "$RC" 0 "plain cafe sync exits 0"
like "$OUT" "asked cafed to send now to 1 peer" "and says what it did"
cafe_in "$T/pine" status
like "$OUT" "^  hub +up to date" "pine's status: the hub is up to date"
like "$OUT" "^site +Pine County FRC" "pine's status names its site"

cafe_in "$T/hub" member list --json
SEEN="$(printf '%s' "$OUT" | jq -r '.[] | select(.name == "pine") | .last_sync')"
ok test "$SEEN" != null -- "the hub knows when pine last synced ($SEEN)"
cafe_in "$T/hub" member list
like "$OUT" "pine .*last synced today [0-9]{2}:[0-9]{2}" "member list says it in words"
like "$OUT" "ghost .*last synced never" "and that ghost never synced"
cafe_in "$T/hub" member list --quiet-for 14d
like "$OUT" "ghost" "--quiet-for 14d lists ghost, never seen"
unlike "$OUT" "pine" "but not pine, seen today"

# The report's quiet members take the last sync into account: a reader
# that synced today but never wrote is not quiet; ghost, never seen, is.
ENROLL=consultant ok node_init reader consultant -- "init reader (a consultant that only reads)"
ok link reader hub -- "reader dials the hub"
ok daemon_start reader -- "reader cafed"
ok wait_idle reader 20 -- "reader syncs with the hub"
ok daemon_stop reader -- "reader cafed stops"
cafe_in "$T/hub" report --format json
jq_is "$OUT" '[.attention.members.rows[].name] | sort | join(" ")' "ghost" \
	"report: only ghost is quiet (reader synced today, with no commit)"
jq_is "$OUT" '.attention.members.rows[0] | [.last_sync, .last_commit] | tojson' '[null,null]' \
	"report: ghost never synced, nothing received"

# The hub restarts while pine is away: it still knows (the reader's
# enrollment moved the admin log, so pine synced again since).
ok daemon_stop pine -- "pine cafed stops"
ok daemon_stop hub -- "hub cafed stops"
SEEN="$("$CAFE" --data "$T/hub" member list --json | jq -r '.[] | select(.name == "pine") | .last_sync')"
ok daemon_start hub -- "hub cafed starts again"
cafe_in "$T/hub" member list --json
jq_is "$OUT" '.[] | select(.name == "pine") | .last_sync | tostring' "$SEEN" \
	"after a restart the hub still knows when pine last synced"
cafe_in "$T/hub" status
like "$OUT" "^daemon +running" "hub status: its daemon runs"

# The hub goes down; pine logs two more cafés.
ok daemon_stop hub -- "hub cafed stops"
ok daemon_start pine -- "pine cafed starts"
run_ok "pine logs a second café" "$T/pine" add cafe date=yesterday format=parent factors=resilience elements=$ALL
run_ok "and a third" "$T/pine" add cafe date=yesterday format=community factors=resilience elements=$ALL
cafe_in "$T/pine" sync --wait --timeout 3
is "$RC" 1 "sync --wait with the hub down exits 1"
like "$ERR" "not reached.*hub|hub.*not reached|not caught up: hub" "and names the hub"
ok daemon_stop pine -- "pine cafed stops"
cafe_in "$T/pine" status
is "$RC" 0 "status with the daemon stopped exits 0"
like "$OUT" "^daemon +not running" "says the daemon is not running"
like "$OUT" "^  hub +2 changes waiting to send, last sent today [0-9]{2}:[0-9]{2}" \
	"and that 2 changes wait for the hub, last sent today"

done_testing
