#!/usr/bin/env bash
# keystrokes.t: the README's café, logged on a site laptop through guided
# entry on a real terminal (tmux), its feedback and its action too; the
# keys typed are counted and compared with what the same records took
# before names, defaults and guided entry: the command lines the README
# had, with the 32-hex ids they needed.  The records stored hold what
# was typed.
. "$(dirname "$0")/lib.sh"

if ! command -v tmux >/dev/null; then
	echo "Bail out! tmux is required (apt-get install tmux)"
	exit 255
fi
H="$T/hub"
S="$T/pine"
new_node "$H" "State hub" --role hub
NET="$NODE"
add_rec "$H" site "name=Pine County FRC" county=Pine
SITE="$ID"
new_node "$S" "Pine laptop" --role site --network "$NET"
enroll "$H" "$S" site "$SITE"

SCREEN_LINES=300 SCREEN_DIAG=15
tmux_use
KEYS=0
# answer PROMPT_REGEX TEXT: waits for the prompt, types TEXT and Enter.
answer() {
	wait_screen "$1" || return 1
	tm send-keys -t g -l -- "$2"
	tm send-keys -t g Enter
	KEYS=$((KEYS + ${#2} + 1))
}
# session ARGS...: a shell in tmux; the command line typed counts too.
session() {
	# The old session goes once the new one runs: the tmux server exits
	# with its last session, and a new-session racing that exit fails.
	tm rename-session -t g gone 2>/dev/null
	tm new-session -d -s g -x 160 -y 60 "env -u CAFE_NO_PROMPT CAFE_DATA='$S' bash --norc --noprofile -i"
	tm kill-session -t gone 2>/dev/null
	tm send-keys -t g "PS1='\$ '; cafe() { '$CAFE' \"\$@\"; echo EXIT=\$?; }" Enter
	tm send-keys -t g "clear" Enter
	sleep 0.3
	answer '^\$$' "$*"
}

session cafe add person
answer "^name:$" "Ana R."
answer "^roles:$" "1,2"
answer "^trained:$" "."
answer "Save\? \[Y/n\]$" ""
ok wait_screen "^EXIT=0" -- "the person is stored"

session cafe add cafe
answer "^date \[[0-9-]+\]:$" ""
answer "^format:$" "1"
answer "^series_no:$" "3"
answer "^topic:$" ""
answer "^factors:$" "4,5"
answer "^hosts:$" "ana"
answer "^partners:$" ""
answer "^language:$" ""
answer "^attendees:$" "16"
answer "^new_attendees:$" "3"
answer "^children_cared_for:$" "12"
answer "^tables:$" "4"
answer "^max_table_size:$" "5"
answer "^elements:$" "all"
answer "^harvest:$" ""
answer "Save\? \[Y/n\]$" ""
ok wait_screen "^EXIT=0" -- "the café is stored"

session cafe add action
answer "^cafe \[[0-9-]+ parent \([0-9a-f]+\)\]:$" ""
answer "^title:$" "Invite the food bank"
answer "^owner:$" ""
answer "^due:$" "2026-11-15"
answer "^status:$" "."
answer "Save\? \[Y/n\]$" ""
ok wait_screen "^EXIT=0" -- "the action is stored"

session cafe add feedback
answer "^cafe \[[0-9-]+ parent \([0-9a-f]+\)\]:$" ""
answer "^responses:$" "15"
answer "^felt_safe:$" "15"
answer "^learned:$" "14"
answer "^will_return:$" "13"
answer "^followed_through:$" "."
answer "Save\? \[Y/n\]$" ""
ok wait_screen "^EXIT=0" -- "the feedback is stored"

cafe_in "$S" list cafe --json
jq_is "$OUT" '.[0] | [.site, .format, (.series_no|tostring), (.factors|join(",")), (.attendees|tostring), (.new_attendees|tostring), (.children_cared_for|tostring), (.tables|tostring), (.max_table_size|tostring), (.elements|length|tostring)] | join(" ")' \
	"$SITE parent 3 child_development,social_emotional 16 3 12 4 5 8" "the café holds every answer"
CID="$(printf '%s' "$OUT" | jq -r '.[0].id')"
cafe_in "$S" list person --json
ANA="$(printf '%s' "$OUT" | jq -r '.[0].id')"
cafe_in "$S" show "$CID" --json
jq_is "$OUT" '.hosts | join(",")' "$ANA" "hosts=ana found Ana R."
cafe_in "$S" list action --json
jq_is "$OUT" '.[0] | [.cafe, .title, .due, .site] | join("|")' "$CID|Invite the food bank|2026-11-15|$SITE" \
	"the action: its café (the default), title, due, site"
cafe_in "$S" list feedback --json
jq_is "$OUT" '.[0] | [.cafe, (.responses|tostring), (.felt_safe|tostring), (.learned|tostring), (.will_return|tostring)] | join(" ")' \
	"$CID 15 15 14 13" "the feedback"

# The same records as the README had them, with the full ids they needed
# (a 4-digit prefix is ambiguous once there are two sites).
X=0123456789abcdef0123456789abcdef
OLD="$(cat <<OLDEOF
cafe list site
ANA=\$(cafe add person name="Ana R." roles=parent_leader,host site=$X)
CAFE=\$(cafe add cafe site=$X date=2026-11-04 format=parent series_no=3 \\
    factors=child_development,social_emotional hosts=\$ANA attendees=16 \\
    new_attendees=3 children_cared_for=12 tables=4 max_table_size=5 \\
    elements=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing)
cafe add action cafe=\$CAFE title="Invite the food bank" due=2026-11-15 status=open
cafe add feedback cafe=\$CAFE responses=15 felt_safe=15 learned=14 will_return=13
OLDEOF
)"
OLDKEYS=$(( $(printf '%s\n' "$OLD" | wc -c) ))
note "keystrokes: $KEYS through guided entry, $OLDKEYS before (README command lines with full ids)"
ok test $((KEYS * 3)) -le "$OLDKEYS" -- "guided entry takes at most a third of the keys ($KEYS of $OLDKEYS)"

done_testing
