#!/usr/bin/env bash
# fork.t: one site key used on two machines.  A site's data directory is
# copied to a second laptop while its daemon is down, and both write a
# different café at the same seq.  The hub and the consultant's replica
# detect the fork (a WANT for the other commit, kept as evidence), audit
# shows both commits and fails, neither corrupts the records, and the
# daemons keep syncing everything else.
source "$(dirname "$0")/netlib.sh"

node_init hub hub || exit 1
SA=$("$CAFE" --data "$T/hub" add site name="Site A")
SB=$("$CAFE" --data "$T/hub" add site name="Site B")
ENROLL=site:$SA node_init a site || exit 1
ENROLL=site:$SB node_init b site || exit 1
ENROLL=consultant node_init rep consultant || exit 1
for n in a b rep; do link "$n" hub || exit 1; done
daemon_start hub || exit 1
for n in a b rep; do daemon_start "$n" || exit 1; done
for n in a b rep; do ok wait_idle "$n" 10 -- "$n syncs"; done

cafe_add() { "$CAFE" --data "$T/$1" add cafe site="$2" date="$3" format=parent factors=resilience topic="$4" 2>/dev/null; }
C1=$(cafe_add a "$SA" 2026-11-01 first)
ok wait_idle a 10 -- "a's first café is pushed"

# The key goes onto a second machine while a's daemon is down.
daemon_stop a
cp -r "$T/a" "$T/a2"
rm -rf "$T/a2/ctl"
PORT[a2]=$(( _port_base + 38 ))
PID_A_SEQ=$("$CAFE" --data "$T/a" status --json | jq -r --arg k "${KEY[a]}" '.heads[] | select(.origin == $k) | .seq')
CX=$(cafe_add a "$SA" 2026-11-02 "from machine one")
CY=$(cafe_add a2 "$SA" 2026-11-03 "from machine two")
isnt "$CX" "" "machine one writes a café"
isnt "$CY" "" "machine two writes another café at the same seq"
is "$("$CAFE" --data "$T/a2" status --json | jq -r --arg k "${KEY[a]}" '.heads[] | select(.origin == $k) | .seq')" \
	"$((PID_A_SEQ + 1))" "both machines are at the same seq"

daemon_start a || exit 1
ok wait_idle a 10 -- "machine one syncs its café"
daemon_start a2 || exit 1
forks() { "$CAFE" --data "$T/$1" status --json | jq -r .forks; }
# (a function, so that wait_for asks again each time)
forks_is() { [ "$(forks "$1")" = "$2" ]; }
ok wait_for 15 forks_is hub 1 -- "the hub keeps the fork as evidence"
wait_for 15 forks_is rep 1
is "$(forks rep)" 1 "the replica gets the evidence from the hub"
like "$(cat "$T/hub.log")" "holds other commits than ours at 1 heads: asking for them as fork evidence" \
	"the hub's log says why it asked"

run_cafe --data "$T/rep" audit
is "$RC" 1 "audit on the replica fails"
like "$OUT" "fork ${KEY[a]:0:16}:$((PID_A_SEQ + 1))" "audit names the forked origin and seq"
like "$OUT" "stored  ${KEY[a]:0:16}:$((PID_A_SEQ + 1))" "and shows the stored commit"
like "$OUT" "fork    ${KEY[a]:0:16}:$((PID_A_SEQ + 1))" "and the fork"
run_cafe --data "$T/hub" audit
is "$RC" 1 "audit on the hub fails too"

# Neither corrupts the records: the hub holds machine one's café, not both.
is "$("$CAFE" --data "$T/hub" list cafe --json | jq length)" 2 "the hub lists two of a's cafés, not three"
run_cafe --data "$T/hub" show "$CX"
is "$RC" 0 "the stored side's café is intact"
run_cafe --data "$T/hub" show "$CY"
isnt "$RC" 0 "the fork's café was never applied"
run_cafe --data "$T/hub" verify
is "$RC" 0 "the hub's log still verifies"

# Everything else keeps syncing.
CB=$(cafe_add b "$SB" 2026-11-05 "site b goes on")
ok wait_for 10 "$CAFE" --data "$T/rep" show "$CB" -- "site B's café still reaches the replica"
converged "hub and replica agree on every record" hub rep
done_testing
