#!/usr/bin/env bash
# compress.t: over real cafed daemons, COMMITS batches travel compressed
# (ZCOMMITS, the schema's dictionary) between two nodes that both offer
# it, and plain to and from a node that offers none
# (CAFESYNC_WIRE_COMPRESS=none); either way every node converges.
#
# The hub and X each write cafés before they meet, so batches in both
# directions hold runs of two origins (the hub's enrollments and cafés,
# then X's).  Y offers no dictionary and dials the same hub.  X and Y
# receive the same commits from the hub: X's bytes in are the fewer.
. "$(dirname "$0")/netlib.sh"

NODES="hub x y"

add_cafes() {
	local i
	for i in $(seq 1 "$2"); do
		"$CAFE" --data "$T/$1" add cafe site="$3" date=2026-10-01 \
			format=parent factors=resilience \
			"topic=$1 conversation number $i about resilience" \
			>/dev/null 2>&1 || return 1
	done
}
bytes_in() {
	"$CAFE" --data "$T/$1" status --json | jq -r '.daemon.peers[0].bytes_in'
}

ok node_init hub hub -- "init hub (the admin)"
ok node_init x hub -- "init x"
ok node_init y hub -- "init y"
cafe_in "$T/hub" add site name=SiteA
SA="$OUT"
ok add_cafes hub 40 "$SA" -- "the hub logs 40 cafés"
admin_log x y
ok add_cafes x 25 "$SA" -- "x logs 25 cafés"
link x hub || fail "link x -> hub"
link y hub || fail "link y -> hub"

ok daemon_start hub -- "start the hub"
ok daemon_start x -- "start x"
ok wait_for 30 grep -q "peer hub: batches to it compressed" "$T/x.log" \
	-- "x compresses its batches to the hub"
ok wait_for 30 grep -q "peer x: batches to it compressed" "$T/hub.log" \
	-- "the hub compresses its batches to x"
ok wait_idle x -- "x is caught up"
ok wait_idle hub -- "the hub is caught up"
converged "hub and x converge over compressed batches" hub x

CAFESYNC_WIRE_COMPRESS=none daemon_start y || fail "start y (no compression)"
ok wait_for 30 grep -q "peer hub: batches to it not compressed" "$T/y.log" \
	-- "y, offering none, sends plain batches"
ok wait_for 30 grep -q "peer y: batches to it not compressed" "$T/hub.log" \
	-- "the hub sends y plain batches"
ok wait_idle y -- "y is caught up"
converged "hub, x and y converge" hub x y

BX=$(bytes_in x)
BY=$(bytes_in y)
diag "bytes in: x $BX (compressed), y $BY (plain)"
ok [ "$BX" -gt 0 ] -- "x counted bytes in"
ok [ $(( BX * 10 )) -lt $(( BY * 7 )) ] -- \
	"x received under 0.7 times y's bytes for the same commits"
if grep "zcommits" "$T/hub.log" "$T/x.log" "$T/y.log"; then
	fail "no node refused a ZCOMMITS frame"
else
	pass "no node refused a ZCOMMITS frame"
fi

done_testing
