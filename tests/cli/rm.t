#!/usr/bin/env bash
# rm.t: rm takes several records, says what it removed, warns of records
# that still refer to them; restore brings a removed record back with its
# last fields and re-points what referred to it; list --removed shows
# removed records; edit echoes each change and writes nothing when nothing
# changes; undo takes back the last add, edit, rm or import.
. "$(dirname "$0")/lib.sh"

A="$T/a"
new_node "$A" "Hub" --role hub
ALL=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
add_rec "$A" site "name=Pine County FRC"
add_rec "$A" cafe site=pine date=2026-11-19 format=dads factors=resilience attendees=7 elements=$ALL
C1="$ID"
add_rec "$A" cafe site=pine date=2026-11-20 format=parent factors=resilience elements=$ALL
C2="$ID"
add_rec "$A" action cafe="$C1" "title=Invite the food bank"
ACT="$ID"
add_rec "$A" feedback cafe="$C1" responses=5
FB="$ID"
commits() { status_json "$A" | jq -r .commits; }

# --- edit: echo and no-op
cafe_in "$A" edit "$C1" attendees=12
is "$RC" 0 "edit exits 0"
like "$OUT" "^attendees 7 -> 12 on café 2026-11-19 \(dads\) \([0-9a-f]+\)$" "edit echoes the change and the café"
N="$(commits)"
cafe_in "$A" edit "$C1" attendees=12 format=DADS
is "$RC" 0 "an edit that changes nothing exits 0"
like "$OUT" "nothing to change: café 2026-11-19 \(dads\)" "and says nothing changes"
is "$(commits)" "$N" "and writes no commit"

# --- rm several, with the references warning
cafe_in "$A" rm "$C1" "$C2"
is "$RC" 0 "rm of two cafés exits 0"
like "$OUT" "^removed café 2026-11-19 \(dads\) \(" "says it removed the first (type, date, name)"
like "$OUT" "^removed café 2026-11-20 \(parent\) \(" "and the second"
like "$ERR" "warning: 2 records still refer to 2026-11-19 dads|warning: 2 records still refer to café 2026-11-19 \(dads\)" \
	"warns that two records still refer to the first"
like "$ERR" "action Invite the food bank" "naming the action"
like "$ERR" "feedback 5 responses" "and the feedback"
cafe_in "$A" list cafe --json
jq_is "$OUT" 'length' 0 "no café is listed"
cafe_in "$A" list cafe --removed
like "$OUT" "2026-11-19 +Pine County FRC" "list --removed shows the removed cafés"
cafe_in "$A" rm "$ACT" "$ACT"
is "$RC" 2 "the same record twice: exit 2"
cafe_in "$A" rm "$ACT" ffffffffffffffffffff
is "$RC" 2 "one unknown id among several: exit 2"
cafe_in "$A" show "$ACT" --json
jq_is "$OUT" '.title' "Invite the food bank" "and nothing was removed"

# --- restore
cafe_in "$A" restore "$C1"
is "$RC" 0 "restore exits 0"
like "$OUT" "^restored café 2026-11-19 \(dads\) as [0-9a-f]{32} \(2 records re-pointed to it\)" "says it restored the café and re-pointed two records"
NEW="$(printf '%s' "$OUT" | grep -Eo '[0-9a-f]{32}')"
cafe_in "$A" show "$NEW" --json
jq_is "$OUT" '[.date, .format, .attendees] | map(tostring) | join(" ")' "2026-11-19 dads 12" "with its last fields"
cafe_in "$A" show "$ACT" --json
jq_is "$OUT" '.cafe' "$NEW" "the action refers to the restored café"
cafe_in "$A" restore "$NEW"
is "$RC" 2 "restore of a live record: exit 2"
like "$ERR" "is not removed" "says it is not removed"

# --- undo
N="$(commits)"
add_rec "$A" cafe site=pine date=2026-12-01 format=virtual factors=resilience elements=$ALL
OOPS="$ID"
cafe_in "$A" undo --dry-run
like "$OUT" "would remove café 2026-12-01 \(virtual\)" "undo --dry-run says what it would do"
cafe_in "$A" show "$OOPS" --json
is "$RC" 0 "and does nothing"
cafe_in "$A" undo
is "$RC" 0 "undo exits 0"
like "$OUT" "undid the last add: 1 removed" "undo of an add removes the record"
cafe_in "$A" show "$OOPS"
is "$RC" 2 "the record is gone"
cafe_in "$A" undo
is "$RC" 2 "a second undo: nothing to undo, exit 2"
cafe_in "$A" edit "$NEW" attendees=30
cafe_in "$A" undo
cafe_in "$A" show "$NEW" --json
jq_is "$OUT" '.attendees' 12 "undo of an edit puts the old value back"
cafe_in "$A" rm "$FB"
cafe_in "$A" undo
like "$OUT" "restored feedback 5 responses" "undo of an rm restores the record"
cafe_in "$A" list feedback --json
jq_is "$OUT" 'length' 1 "one feedback again"

done_testing
