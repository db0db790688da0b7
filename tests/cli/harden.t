#!/usr/bin/env bash
# harden.t: one hostile site against everyone else, through bundles.
#
#   - a commit whose clock is at the very end (year 2200, counter full) is
#     accepted from its author, but every other node keeps writing, the
#     admin's revocation included, with clocks of its own time;
#   - text with a C1 control (U+009B, a terminal's CSI) or a bidirectional
#     override (U+202E) is refused, typed or received, naming the field;
#   - a record that names no site stays with its author: a site can
#     neither rename nor remove the hub's person of no site;
#   - a plain bundle, which holds every record in clear, is written 0600
#     whatever the umask.
. "$(dirname "$0")/lib.sh"

TOOLS="${TOOLS:-$(cd "$(dirname "$CAFE")" && pwd)/tests}"
FORGE="$TOOLS/forge"
if [ ! -x "$FORGE" ]; then
	echo "Bail out! forge not found at $FORGE (make build/tests/forge)"
	exit 255
fi

digest() { "$CAFE" --data "$1" status --json | jq -r .digest; }
# hlc_ms DIR ORIGIN: the milliseconds of ORIGIN's last commit's clock.
hlc_ms() {
	"$CAFE" --data "$1" log --origin "$2" --json | jq -r 'max_by(.seq) | .hlc / 65536 | floor'
}

H="$T/hub"
new_node "$H" "State hub" --role hub
HID="$NODE"
add_rec "$H" site "name=Pine FRC"
SA="$ID"
S="$T/site"
new_node "$S" "Pine laptop" --role site --network "$HID"
SID="$NODE"
enroll "$H" "$S" site "$SA"
R="$T/rep"
new_node "$R" "Replica" --role consultant --network "$HID"
enroll "$H" "$R" consultant

# ---- the clock at its end ------------------------------------------------------
END=$(( (7258118400000 << 16) | 65535 ))
FORGE_HLC="$END" "$FORGE" "$S" "$T/end.b" cafe "$SA" 2026-10-01 >/dev/null
run_ok "the hub takes the site's commit from the end of time" "$H" bundle import "$T/end.b"
is "$(head_of "$H" "$SID")" 1 "... it is accepted: the author's clock is its own"
NOW_MS=$(( $(date +%s) * 1000 ))
add_rec "$H" site "name=After the end"
ok test "$(hlc_ms "$H" "$HID")" -lt $(( NOW_MS + 86400000 )) -- \
	"the hub's next commit carries a clock of its own time, not the end's"
for i in 1 2 3; do add_rec "$H" site "name=More $i"; done
cafe_in "$H" member revoke "$SID"
is "$RC" 0 "the admin can still revoke the site" || diag "$ERR"
cafe_in "$H" bundle export "$T/hub.b"
run_ok "the replica takes the hub's log and the commit from the end" "$R" bundle import "$T/hub.b"
add_rec "$R" audit site="$SA" date=2026-10-02 "finding=Clock set far ahead on the laptop"
ok test "$(hlc_ms "$R" "$("$CAFE" --data "$R" id)")" -lt $(( NOW_MS + 86400000 )) -- \
	"the replica writes on, with a clock of its own time"
cafe_in "$R" audit --json
jq_is "$OUT" '[.clock_warnings[] | select(.origin == "'"$SID"'")] | length' 1 \
	"the replica's audit warns of the site's clock far ahead"

# ---- C1 controls and bidirectional overrides ---------------------------------------
CSI="$(printf '\xc2\x9b')"
RLO="$(printf '\xe2\x80\xae')"
for what in CSI RLO; do
	eval "ch=\$$what"
	cafe_in "$H" add site "name=Evil${ch}site"
	is "$RC" 2 "typed: a name with $what is refused (exit 2)"
	like "$ERR" "field name: .*control character or a bidirectional override" "typed $what: names the field and the rule"
done
S2="$T/site2"
new_node "$S2" "River laptop" --role site --network "$HID"
S2ID="$NODE"
add_rec "$H" site "name=River"
SB="$ID"
enroll "$H" "$S2" site "$SB"
cafe_in "$H" bundle export "$T/hub2.b"
"$FORGE" "$S2" "$T/rlo.b" put person new "name=raw:Ana${RLO}tfel" roles=host site="$SB" >/dev/null 2>&1
BEFORE="$(digest "$H")"
cafe_in "$H" bundle import "$T/rlo.b"
is "$RC" 1 "received: a person whose name holds U+202E is refused"
like "$ERR" "refused: person [0-9a-f]{16}: field name: " "... naming the record and the field"
is "$(digest "$H")" "$BEFORE" "... and nothing changed"

# ---- a record of no site stays with its author --------------------------------------
add_rec "$H" person "name=State coach" roles=coach
P="$ID"
cafe_in "$H" bundle export "$T/hub3.b"
cafe_in "$S2" bundle import "$T/hub3.b"
cafe_in "$S2" show "$P"
is "$RC" 0 "the site holds the hub's person of no site"
cafe_in "$S2" edit "$P" "name=Taken over" site="$SB"
is "$RC" 2 "the site cannot claim it (exit 2)"
like "$ERR" "created|belongs to another key" "... it belongs to another key"
cafe_in "$S2" rm "$P"
is "$RC" 2 "nor remove it (exit 2)"
"$FORGE" "$S2" "$T/claim.b" put person "$P" edit "name=Taken over" site="$SB" >/dev/null 2>&1
cafe_in "$H" bundle import "$T/claim.b"
is "$RC" 0 "received, the claim does not land: it waits"
like "$OUT" "waiting: 1 commit of ${S2ID:0:16} .*belongs to another key" "... and says why"
jq_is "$("$CAFE" --data "$H" show "$P" --json)" '[.name, .site] | tojson' '["State coach",null]' \
	"the hub's person keeps its name and no site"

# ---- bundles are not for every eye ------------------------------------------------
(umask 000 && "$CAFE" --data "$H" bundle export "$T/open.b" >/dev/null 2>&1)
is "$(stat -c %a "$T/open.b")" 600 "a plain bundle is written 0600 under umask 000"
(umask 000 && "$CAFE" --data "$H" bundle export "$T/sealed.b" --to "$S2ID" >/dev/null 2>&1)
is "$(stat -c %a "$T/sealed.b")" 600 "a sealed one too"

done_testing
