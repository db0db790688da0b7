#!/usr/bin/env bash
# restore.t: a site loses its disk and is recreated from its backed-up
# node.key with `cafe init --restore`.  Until cafed has fetched the node's
# own log from the hub, local writes are refused (also while the hub is
# unreachable); once it is back (same head seq as before), restore_pending
# is false and the next write continues the log at old head + 1, so the
# hub sees no fork.  `--force` skips the wait.
. "$(dirname "$0")/netlib.sh"

ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing

logs_diag() {
	local n
	for n in hub s1; do
		diag "---- $n.log (tail)"
		diag "$(tail -n 10 "$T/$n.log" 2>/dev/null)"
	done
}

# own_seq NODE [ORIGIN]: the head seq of ORIGIN (default: NODE's own key).
own_seq() {
	local o="${2:-${KEY[$1]}}"
	"$CAFE" --data "$T/$1" status --json | jq -r --arg o "$o" '[.heads[] | select(.origin == $o) | .seq][0] // 0'
}
seq_is() { [ "$(own_seq "$1" "$2")" = "$3" ]; }
pending_is() { [ "$("$CAFE" --data "$T/$1" status --json | jq -r "$2")" = "$3" ]; }

ok node_init hub hub -- "init hub"
ok node_init s1 site -- "init site s1"
ok link s1 hub -- "link s1 -> hub"
ok daemon_start hub -- "start the hub"
ok daemon_start s1 -- "start s1"

cafe_in "$T/s1" add site "name=Site one"
S="$OUT"
for i in 1 2 3 4 5; do
	"$CAFE" --data "$T/s1" add cafe site="$S" date=2024-02-0$i format=parent factors=resilience \
		"topic=Before $i" elements=$ELEMENTS >/dev/null 2>&1 || fail "s1 add café $i"
	# what a replica that synced early holds: s1's log up to seq 2
	[ "$i" = 1 ] && "$CAFE" --data "$T/s1" bundle export "$T/s1-early.b" >/dev/null 2>&1
done
OLD="$(own_seq s1)"
is "$OLD" 6 "s1's own log is at seq 6"
ok wait_for 10 seq_is hub "${KEY[s1]}" "$OLD" -- "the hub holds s1's log up to seq $OLD" || logs_diag

# ---- the disk is lost ------------------------------------------------------------
cp "$T/s1/node.key" "$T/s1.key.backup"
chmod 600 "$T/s1.key.backup"
ok daemon_stop s1 -- "stop s1's cafed"
rm -rf "$T/s1"
cafe_in "$T/s1" init --restore "$T/s1.key.backup" --network "$NETWORK" --name s1 --role site
is "$RC" 0 "init --restore exits 0" || diag "$ERR"
is "$(printf '%s\n' "$OUT" | tail -n 1)" "${KEY[s1]}" "the restored node has its old key"
ilike "$ERR" 'restor' "init --restore warns that writes wait"

cafe_in "$T/s1" add cafe site="$S" date=2024-03-01 format=parent factors=resilience "topic=Too early" elements=$ELEMENTS
isnt "$RC" 0 "cafe add on the restored node fails before its log is back"
ilike "$ERR" 'restor' "the refusal mentions the restore"
cafe_in "$T/s1" status
like "$OUT" '^restore ' "status shows the restore pending"
jq_is "$(status_json "$T/s1")" .restore_pending true "status --json: restore_pending true"
is "$(own_seq s1)" 0 "the restored node holds none of its own log yet"

# ---- cafed runs but the hub is down: still refused --------------------------------
ok daemon_stop hub -- "stop the hub"
run_ok "s1: peer add hub" "$T/s1" peer add hub "127.0.0.1:$(node_port hub)" --key "${KEY[hub]}"
ok daemon_start s1 -- "start the restored node's cafed"
sleep 1.5
ST="$(status_json "$T/s1")"
jq_is "$ST" .daemon.restore_pending true "cafed: restore pending while the hub is unreachable"
cafe_in "$T/s1" add cafe site="$S" date=2024-03-01 format=parent factors=resilience "topic=Still early" elements=$ELEMENTS
isnt "$RC" 0 "cafe add still fails while the hub is unreachable"
ilike "$ERR" 'restor' "and still says why"
cafe_in "$T/s1" status
like "$OUT" 'restored: waiting' "status (daemon part) says restored: waiting"

# ---- a stale replica first: it holds s1's log only up to seq 2 ----------------------
# Only the admin, or a hub, says how far a node's log goes: a replica that
# synced early would let the node write seq 3 again, a fork at the hub.
ENROLL=consultant ok node_init stale consultant -- "init a replica that synced early (a consultant)"
run_ok "the stale replica holds s1's log up to seq 2" "$T/stale" bundle import "$T/s1-early.b"
is "$(own_seq stale "${KEY[s1]}")" 2 "... exactly seq 2"
run_ok "s1: peer add stale" "$T/s1" peer add stale "127.0.0.1:$(node_port stale)" --key "${KEY[stale]}"
run_ok "stale: s1 may dial in" "$T/stale" peer add s1 --inbound --key "${KEY[s1]}"
ok daemon_start stale -- "start the stale replica's cafed"
ok wait_for 20 seq_is s1 "${KEY[s1]}" 2 -- "s1 gets its seqs 1-2 from the stale replica" || logs_diag
sleep 1
jq_is "$(status_json "$T/s1")" .daemon.restore_pending true "the stale replica does not end the restore"
cafe_in "$T/s1" add cafe site="$S" date=2024-03-01 format=parent factors=resilience "topic=Not yet" elements=$ELEMENTS
isnt "$RC" 0 "cafe add is still refused: no seq 3 written twice"
ok daemon_stop stale -- "stop the stale replica"

# ---- the hub comes back ------------------------------------------------------------
ok daemon_start hub -- "restart the hub"
ok wait_for 20 pending_is s1 .restore_pending false -- "restore_pending turns false once the log is back" || logs_diag
jq_is "$(status_json "$T/s1")" .daemon.restore_pending false "status --json: the daemon's restore_pending is false"
is "$(own_seq s1)" "$OLD" "s1's own log is back to the same head seq ($OLD)"
# (the admin log grew by the stale replica's enrollment since the loss)
same_as_hub() { [ "$(digest "$1")" = "$(digest hub)" ]; }
ok wait_for 10 same_as_hub s1 -- "s1 holds again what the hub holds"
like "$(cat "$T/s1.log")" "own log is back" "cafed logs that the own log is back"
cafe_in "$T/s1" list cafe --json
jq_is "$OUT" length 5 "the five cafés are back"

cafe_in "$T/s1" add cafe site="$S" date=2024-03-02 format=parent factors=resilience "topic=After restore" elements=$ELEMENTS
is "$RC" 0 "cafe add succeeds after the restore" || diag "$ERR"
NEWC="$OUT"
is "$(own_seq s1)" "$(( OLD + 1 ))" "the new write continues the log at old head + 1"
ok wait_for 10 seq_is hub "${KEY[s1]}" "$(( OLD + 1 ))" -- "the hub receives the new write" || logs_diag
cafe_in "$T/hub" show "$NEWC" --json
jq_is "$OUT" .topic "After restore" "the hub holds the new café"
jq_is "$(status_json "$T/hub")" .forks 0 "the hub sees no fork"
jq_is "$(status_json "$T/s1")" .forks 0 "the restored node sees no fork"
converged "hub and the restored site converged" hub s1
unlike "$(cat "$T/hub.log")" 'fork|refused commit' "the hub's log shows no fork or refused commit"

# ---- --force skips the wait ----------------------------------------------------------
cafe_in "$T/forced" init --restore "$T/s1.key.backup" --network "$NETWORK" --name s1f --role site --force
is "$RC" 0 "init --restore --force exits 0" || diag "$ERR"
jq_is "$(status_json "$T/forced")" .restore_pending false "--force: no restore pending"
# s1's key is enrolled, but a node writes only once it holds the admin's
# member record: a bundle of the admin's log, no daemon.
ok admin_log forced -- "--force: the node imports the admin's log (bundle)"
cafe_in "$T/forced" add site "name=Forced"
is "$RC" 0 "--force: cafe add works at once without any daemon" || diag "$ERR"
cafe_in "$T/forced" status
unlike "$OUT" '^restore ' "--force: status shows no restore pending"

# ---- init --restore's own errors ----------------------------------------------------
cafe_in "$T/bad1" init --restore "$T/nonexistent.key" --network "$NETWORK" --name x --role site
is "$RC" 2 "init --restore with a missing key file exits 2"
printf 'not a key' >"$T/junk.key"; chmod 600 "$T/junk.key"
cafe_in "$T/bad2" init --restore "$T/junk.key" --network "$NETWORK" --name x --role site
is "$RC" 2 "init --restore with a junk key file exits 2"
cafe_in "$T/bad3" init --name x --role site --network "$NETWORK" --force
is "$RC" 2 "--force without --restore exits 2"

done_testing
