#!/usr/bin/env bash
# order.t: over real cafed daemons, acceptance that does not depend on
# arrival order, and the hub's writes reaching only the readers of the
# records they touch.
#
# The hub (the admin) has sites A and B, each with a laptop, and a full
# replica REP, all dialing the hub.
#
#   - The hub corrects one of B's cafés and sets a milestone of B: both
#     travel in the hub's log for site B, which B and REP read and A does
#     not; A holds nothing of B.  A correction of A's café reaches A.
#   - A large admin import (5,000 people, about a mebibyte, many commits)
#     followed by the enrollment of a new site C, which logs a café: a
#     fresh replica FRESH that syncs from the hub afterwards converges
#     without a restart (the admin log goes alone and first, and a commit
#     that came before its author's enrollment would wait, not stall).
. "$(dirname "$0")/netlib.sh"
ENROLL=no

NODES="hub a b rep c fresh"

st() { "$CAFE" --data "$T/$1" status --json; }
head_of() { st "$1" | jq -r --arg o "$2" '.heads[] | select(.origin == $o) | .seq'; }
head_is() { [ "$(head_of "$1" "$2")" = "$3" ]; }
origins() { st "$1" | jq -r '.heads[].origin' | sort; }
expect() { printf '%s\n' "$@" | sort; }
add_cafe() {
	"$CAFE" --data "$T/$1" add cafe site="$2" date=2026-10-01 format=parent \
		factors=resilience "topic=$3" 2>"$T/add.err" | tail -n 1
}
topic_of() { "$CAFE" --data "$T/$1" show "$2" --json 2>/dev/null | jq -r .topic; }
topic_is() { [ "$(topic_of "$1" "$2")" = "$3" ]; }
logs_diag() {
	local n
	for n in $NODES; do
		diag "---- $n.log (tail)"
		diag "$(tail -n 6 "$T/$n.log" 2>/dev/null)"
	done
}

ok node_init hub hub -- "init hub (the admin)"
for n in a b c; do ok node_init "$n" site -- "init site laptop $n"; done
ok node_init rep consultant -- "init the replica"
ok node_init fresh consultant -- "init a fresh replica"
H="${KEY[hub]}"
cafe_in "$T/hub" add site name=SiteA
SA="$OUT"
cafe_in "$T/hub" add site name=SiteB
SB="$OUT"
cafe_in "$T/hub" add site name=SiteC
SC="$OUT"
run_ok "enroll A" "$T/hub" member add "${KEY[a]}" --role site --name a --site "$SA"
run_ok "enroll B" "$T/hub" member add "${KEY[b]}" --role site --name b --site "$SB"
run_ok "enroll REP" "$T/hub" member add "${KEY[rep]}" --role consultant --name rep --all
run_ok "enroll FRESH" "$T/hub" member add "${KEY[fresh]}" --role consultant --name fresh --all
for n in a b rep; do link "$n" hub || fail "link $n -> hub"; done
for n in hub a b rep; do daemon_start "$n" || fail "start cafed $n"; done

CA=$(add_cafe a "$SA" "a one")
CB=$(add_cafe b "$SB" "b one")
for n in a b rep; do wait_idle "$n" 20 >/dev/null 2>&1; done
ok wait_for 20 topic_is rep "$CB" "b one" -- "REP has B's café"

# ---- the hub's corrections stay with the site they touch ------------------------
run_ok "the hub corrects B's café" "$T/hub" edit "$CB" "topic=b corrected"
run_ok "the hub sets a milestone of B" "$T/hub" add milestone site="$SB" step=1 status=done
run_ok "the hub corrects A's café" "$T/hub" edit "$CA" "topic=a corrected"
BLOG="$("$CAFE" --data "$T/hub" history "$CB" --json | jq -r '.[-1].origin')"
ALOG="$("$CAFE" --data "$T/hub" history "$CA" --json | jq -r '.[-1].origin')"
isnt "$BLOG" "$H" "the correction of B's café is not in the admin log"
isnt "$BLOG" "$ALOG" "... and not in the log of A's corrections"
jq_is "$("$CAFE" --data "$T/hub" member list --json)" ".[] | select(.key == \"$BLOG\") | [.role, .site] | tojson" \
	"[\"hub\",\"$SB\"]" "the hub's log for B is enrolled as a hub speaking for site B"
ok wait_for 20 topic_is b "$CB" "b corrected" -- "B gets the hub's correction of its café"
ok wait_for 20 topic_is a "$CA" "a corrected" -- "A gets the hub's correction of its café"
ok wait_for 20 topic_is rep "$CB" "b corrected" -- "REP gets the correction of B's café"
ok wait_for 20 head_is b "$BLOG" 2 -- "B holds the hub's log for B (the correction and the milestone)"
for n in a b rep; do wait_idle "$n" 20 >/dev/null 2>&1; done
is "$(origins a)" "$(expect "$H" "${KEY[a]}" "$ALOG")" \
	"A's heads: the admin log, its own log and the hub's log for A, nothing of B"
is "$(head_of a "$BLOG")" "" "the hub's log for B is not on A"
is "$("$CAFE" --data "$T/a" list cafe --json | jq -r '[.[].id] | join(",")')" "$CA" "A lists only its own café"
is "$("$CAFE" --data "$T/a" list milestone --json | jq length)" 0 "A holds no milestone of B"
cafe_in "$T/a" show "$CB"
isnt "$RC" 0 "B's café is not on A, not even in part"
is "$("$CAFE" --data "$T/b" list milestone --json | jq -r '.[0].site')" "$SB" "B holds its milestone"
converged "REP holds what the hub holds" hub rep

# ---- one large admin commit, then a new site's enrollment --------------------------
$PY -c 'import sys
print("name,roles,languages")
for i in range(5000):
    print("Statewide coach number %d with a long name to make the commit large %s,coach,English" % (i, "x" * 120))' >"$T/people.csv"
cafe_in "$T/hub" import person "$T/people.csv"
is "$RC" 0 "the hub imports 5,000 people (records of no site: the admin log)" || diag "$ERR"
ADM1="$(head_of hub "$H")"
cafe_in "$T/hub" log --origin "$H" --json
# Local commits are at most 16 KiB: the import is a long run of admin
# commits (about a mebibyte in all), written in one transaction.
BIG="$(printf '%s' "$OUT" | jq '[.[] | select((.ops | length) > 1)] | length')"
ok test "$BIG" -ge 40 -- "the import is a long run of admin commits ($BIG)"
run_ok "then the hub enrolls site C" "$T/hub" member add "${KEY[c]}" --role site --name c --site "$SC"
link c hub || fail "link c -> hub"
daemon_start c || fail "start cafed c"
ok wait_for 30 head_is c "$H" "$((ADM1 + 1))" -- "C gets the admin log, its enrollment last"
CC=$(add_cafe c "$SC" "c one")
ok wait_for 20 topic_is hub "$CC" "c one" -- "the hub has C's café"
link fresh hub || fail "link fresh -> hub"
daemon_start fresh || fail "start cafed fresh"
cafe_in "$T/fresh" sync --wait --timeout 60
is "$RC" 0 "a fresh replica catches up with the hub, no restart" || logs_diag
ok wait_for 30 topic_is fresh "$CC" "c one" -- "FRESH holds C's café"
wait_idle fresh 20 >/dev/null 2>&1
converged "FRESH holds what the hub holds" hub fresh
jq_is "$(st fresh)" '.pending | length' 0 "nothing waits on FRESH"
run_ok "FRESH audits clean" "$T/fresh" audit
if grep -q "refused commit" "$T/fresh.log"; then
	fail "FRESH refused no commit"
	diag "$(grep 'refused commit' "$T/fresh.log" | head -3)"
else
	pass "FRESH refused no commit"
fi

done_testing
