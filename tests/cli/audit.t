#!/usr/bin/env bash
# audit.t: cafe audit on a hub that received a site's log by bundle.  An
# intact network passes (exit 0) with the expected per-site figures in text
# and --json; --site filters; a byte altered in a stored commit fails
# (exit 1) naming the commit, as cafe verify does; a fork (one site key used
# on two machines) fails, showing both commits, while the records stay
# whole; a back-dated commit (stored long after its clock) is a clock
# warning, not a fault.  The site laptops are enrolled by the hub, the
# network's admin.
. "$(dirname "$0")/lib.sh"

ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing

# Months relative to today (UTC), as the audit's twelve-month window is.
mon() { date -u -d "$(date -u +%Y-%m-15) $1 month" +%Y-%m; }
THIS="$(mon 0)"
PREV="$(mon -1)"
OLD="$(mon -13)"
FIRST="$(mon -11)"

# ---- the network: a hub makes sites and milestones ----------------------------
H="$T/hub"
new_node "$H" "State hub" --role hub
HID="$NODE"
add_rec "$H" site "name=Alpha FRC" county=Adams
SA="$ID"
add_rec "$H" site "name=Beta School" county=Brown
SB="$ID"
add_rec "$H" milestone site="$SA" step=1 status=done
add_rec "$H" milestone site="$SA" step=2 status=done
add_rec "$H" milestone site="$SA" step=3 status=in_progress
add_rec "$H" milestone site="$SA" step=5 status=not_started
add_rec "$H" milestone site="$SB" step=1 status=done
cafe_in "$H" bundle export "$T/hub.bundle"
is "$RC" 0 "hub exports its log"

# ---- a site writes persons, cafés and actions ---------------------------------
S="$T/site"
new_node "$S" "Alpha laptop" --role site --network "$HID"
SID="$NODE"
SPFX="${SID:0:16}"
cafe_in "$S" bundle import "$T/hub.bundle"
is "$RC" 0 "site imports the hub's log"
# The hub (the network's admin) enrolls the laptop as site A's key: one more
# hub commit (seq 8, a member record), which the laptop must hold to write.
enroll "$H" "$S" site "$SA"
add_rec "$S" person "name=Dana Host" roles=host,parent_leader site="$SA"
P="$ID"
add_rec "$S" cafe site="$SA" date="$THIS-01" format=parent \
	factors=resilience,social_connections attendees=10 new_attendees=4 \
	hosts="$P" elements=$ELEMENTS
C1="$ID"
add_rec "$S" cafe site="$SA" date="$PREV-10" format=dads factors=concrete_support \
	attendees=8 new_attendees=2 elements=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest
C2="$ID"
add_rec "$S" cafe site="$SA" date="$OLD-05" format=community factors=child_development \
	attendees=100 new_attendees=50 elements=$ELEMENTS
C3="$ID"
add_rec "$S" action cafe="$C1" "title=Ask the library for a room" due=2000-01-15 status=open
A1="$ID"
add_rec "$S" action cafe="$C2" "title=Find a Spanish host" due=2999-12-31 status=doing
A2="$ID"
add_rec "$S" action cafe="$C1" "title=Print commitment cards" status=done
cafe_in "$S" bundle export "$T/site.bundle"
cafe_in "$H" bundle import "$T/site.bundle"
is "$RC" 0 "hub imports the site's log"

# ---- an intact hub passes --------------------------------------------------------
cafe_in "$H" audit --json
is "$RC" 0 "audit --json exits 0 on an intact hub" || diag "$ERR"
J="$OUT"
json_ok "$J" "audit --json prints one JSON value"
jq_is "$J" '.integrity.ok' true "integrity holds"
jq_is "$J" '.integrity.faults | length' 0 "no integrity faults"
jq_is "$J" '.integrity.forks | length' 0 "no forks"
jq_is "$J" '.integrity.replayed' true "records re-derived by replaying the log"
# The hub writes each site's milestones in that site's hub log: the admin
# log holds the two sites, the two logs' enrollments and the laptop's (5),
# site A's hub log 4 milestones, site B's 1; the laptop 7.
jq_is "$J" '.integrity.commits' 17 "17 commits re-verified (5 admin, 4 + 1 in the sites' hub logs, 7 site)"
jq_is "$J" '.integrity.origins' 4 "four origins"
jq_is "$J" '[.integrity.ops, .integrity.history] | tojson' '[17,17]' "every op is in the history"
jq_is "$J" '.clock_warnings | length' 0 "no clock warnings"
jq_is "$J" '.sites | length' 2 "both sites reported"
JA="$(printf '%s' "$J" | jq -c --arg id "$SA" '.sites[] | select(.id == $id)')"
JB="$(printf '%s' "$J" | jq -c --arg id "$SB" '.sites[] | select(.id == $id)')"
jq_is "$JA" .name "Alpha FRC" "site A's name"
jq_is "$JA" '.months | length' 12 "twelve months"
jq_is "$JA" '.months[0].month' "$FIRST" "the window starts eleven months back"
jq_is "$JA" '.months[11] | [.month, .cafes] | tojson' "[\"$THIS\",1]" "one café this month"
jq_is "$JA" '.months[10] | [.month, .cafes] | tojson' "[\"$PREV\",1]" "one café last month"
jq_is "$JA" '[.months[].cafes] | add' 2 "the café of 13 months ago is outside the window"
jq_is "$JA" '[.cafes, .attendees, .new_attendees] | tojson' '[2,18,6]' "cafés, attendance and new attendees over 12 months"
jq_is "$JA" '.factors_covered | join(",")' "resilience,social_connections,concrete_support" "factors covered"
jq_is "$JA" '.factors_missing | join(",")' "child_development,social_emotional" "factors missing"
jq_is "$JA" '.fidelity_gaps.count' 1 "one café misses fidelity elements"
jq_is "$JA" '.fidelity_gaps.cafes[0] | [.id, (.missing | join(","))] | tojson' "[\"$C2\",\"closing\"]" "the gap names the café and the element"
jq_is "$JA" '[.open_actions[].id] | sort | join(",")' "$(printf '%s\n' "$A1" "$A2" | sort | paste -sd, -)" "open and doing actions are open, done is not"
jq_is "$JA" "[.open_actions[] | select(.overdue) | .id] | join(\",\")" "$A1" "the action due in 2000 is overdue"
jq_is "$JA" "[.open_actions[] | select(.id == \"$A1\") | .due] | .[0]" "2000-01-15" "due date reported"
jq_is "$JA" .overdue_actions 1 "one overdue action"
jq_is "$JA" .step_reached 2 "step reached: highest done (2), not in progress (3)"
jq_is "$JA" '.last_change | [.origin, .seq] | tojson' "[\"$SID\",7]" "last change: the site's last commit"
jq_is "$JB" '[.cafes, .attendees, .step_reached, .fidelity_gaps.count, (.open_actions | length)] | tojson' '[0,0,1,0,0]' "site B: no cafés, step 1"
jq_is "$JB" '.factors_missing | length' 5 "site B misses all five factors"
SBLOG="$("$CAFE" --data "$H" member list --json | jq -r '.[] | select(.name | endswith(" for Beta School")) | .key')"
jq_is "$JB" '.last_change | [.origin, .seq] | tojson' "[\"$SBLOG\",1]" "site B last changed by the hub's milestone, in its hub log"

cafe_in "$H" audit
is "$RC" 0 "audit (text) exits 0"
TXT="$OUT"
like "$TXT" '^integrity: ok' "text: integrity ok"
like "$TXT" '^clocks: ok' "text: clocks ok"
like "$TXT" "^site $SA  Alpha FRC" "text: site A heading"
like "$TXT" "$PREV=1 $THIS=1\$" "text: cafés per month end with last month and this one"
like "$TXT" 'cafes 2, attendees 18, new attendees 6' "text: attendance"
like "$TXT" 'factors missing child_development,social_emotional$' "text: missing factors"
like "$TXT" "fidelity gaps +1 cafe\$" "text: fidelity gap count"
like "$TXT" "$C2 $PREV-10 missing closing" "text: the café missing closing"
like "$TXT" "open actions +2 \\(1 overdue\\)" "text: open actions"
like "$TXT" "$A1 open +due 2000-01-15 OVERDUE" "text: overdue action flagged"
like "$TXT" 'step reached +2 of 6' "text: step reached"
like "$TXT" "last change .* by $SPFX:7\$" "text: last change names the site's commit"

# ---- an audit that cannot replay the log proves less: not ok ----------------------
# The replay's scratch store goes under $TMPDIR; one that is a file, not a
# directory, cannot hold it.  Every other check still runs and holds, but
# the records were not re-derived from the log, so the audit is not ok.
: >"$T/not-a-dir"
TMPDIR="$T/not-a-dir" cafe_in "$H" audit --json
is "$RC" 1 "audit exits 1 when the log cannot be replayed"
jq_is "$OUT" '.integrity.ok' false "--json: integrity not ok"
jq_is "$OUT" '.integrity.replayed' false "--json: not replayed"
jq_is "$OUT" '.integrity.faults | length' 0 "--json: and no fault found"
like "$(jq -r '.integrity.replay_error' <<<"$OUT")" '.' "--json: replay_error says why"
like "$ERR" 'integrity not established: the records could not be re-derived from the log' \
	"stderr: integrity not established, and why"
TMPDIR="$T/not-a-dir" cafe_in "$H" audit
is "$RC" 1 "text: exits 1 as well"
like "$OUT" '^integrity: NOT ESTABLISHED' "text: integrity not established, not ok"
like "$OUT" 'records NOT re-derived: .*Not a directory' "text: says the records were not re-derived, and why"
cafe_in "$H" audit --json
jq_is "$OUT" '.integrity.ok' true "with a usable TMPDIR the same store audits ok"

# ---- --site -----------------------------------------------------------------------
cafe_in "$H" audit --site "${SB:0:20}" --json
is "$RC" 0 "audit --site PREFIX exits 0"
jq_is "$OUT" '[.sites[].name] | tojson' '["Beta School"]' "--site reports that site only"
jq_is "$OUT" '.integrity.ok' true "--site still checks integrity"
cafe_in "$H" audit --site "${SA:0:20}"
unlike "$OUT" "Beta School" "--site in text leaves other sites out"
like "$OUT" "Alpha FRC" "--site in text shows the site"
cafe_in "$H" audit --site ffffffffffff
is "$RC" 2 "--site naming no site exits 2"
is "$(nlines "$ERR")" 1 "one line on stderr"
cafe_in "$H" audit --site "$P"
is "$RC" 2 "--site naming a person exits 2"
cafe_in "$H" audit --site
is "$RC" 2 "--site without a value exits 2"
cafe_in "$H" audit extra
is "$RC" 2 "a stray argument exits 2"

# A copy of the intact hub for the back-dated commit, below.
cp -a "$H" "$T/hub-clock"

# ---- a stored commit altered --------------------------------------------------------
if command -v mdb_dump >/dev/null 2>&1 && command -v mdb_load >/dev/null 2>&1; then
	cat >"$T/flip.py" <<'EOF'
import sys
dump, origin, seq = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(dump).read().split('\n')
end = lines.index('HEADER=END')
head, body = lines[:end + 1], lines[end + 1:]
tail = body[body.index('DATA=END'):]
body = body[:body.index('DATA=END')]
pairs = [(body[i], body[i + 1]) for i in range(0, len(body), 2)]
want = origin + '%016x' % seq
i = [n for n, (k, v) in enumerate(pairs) if k.strip() == want][0]
k, v = pairs[i]
h = v.strip()
mid = len(h) // 2 - (len(h) // 2) % 2
b = int(h[mid:mid + 2], 16) ^ 0x5a
pairs = [(k, ' ' + h[:mid] + '%02x' % b + h[mid + 2:])]
sys.stdout.write('\n'.join(head + [x for p in pairs for x in p] + tail))
EOF
	D="$T/damaged"
	cp -a "$H" "$D"
	mdb_dump -s commits "$H" >"$T/commits.dump" 2>"$T/dump.err"
	$PY "$T/flip.py" "$T/commits.dump" "$SID" 3 >"$T/flip.dump"
	mdb_load -s commits -f "$T/flip.dump" "$D" 2>"$T/load.err"
	is "$?" 0 "one byte of the site's commit 3 altered in a copy" || diag "$(cat "$T/load.err")"
	cafe_in "$D" audit
	is "$RC" 1 "audit exits 1 when a stored commit was altered"
	like "$OUT" '^integrity: FAILED' "text: integrity failed"
	like "$OUT" "commit $SPFX:3: " "text names the altered commit"
	like "$ERR" 'integrity does not hold' "one line on stderr says so"
	cafe_in "$D" audit --json
	is "$RC" 1 "audit --json exits 1 too"
	jq_is "$OUT" '.integrity.ok' false "json: integrity does not hold"
	jq_is "$OUT" "[.integrity.faults[] | select(.kind == \"commit\") | \"\\(.origin):\\(.seq)\"] | join(\" \")" "$SID:3" "json names exactly the altered commit"
	jq_is "$OUT" "[.integrity.faults[] | select(.kind == \"commit\") | .why][0] | test(\"^the (signature does not verify|stored bytes do not decode)\")" true "json says why"
	cafe_in "$D" verify
	is "$RC" 1 "cafe verify fails on the same copy"
	cafe_in "$H" audit
	is "$RC" 0 "the original hub still passes"

	# A materialized record altered (the log left alone): only the
	# replay and the digest can see it.
	R="$T/record"
	cp -a "$H" "$R"
	mdb_dump -s records "$H" >"$T/records.dump" 2>"$T/dump.err"
	sed 's/a9416c70686120465243/a9416c70686120465244/' "$T/records.dump" >"$T/records2.dump"
	isnt "$(cmp -s "$T/records.dump" "$T/records2.dump"; echo $?)" 0 "site A's stored name altered (Alpha FRC to Alpha FRD)"
	mdb_load -s records -f "$T/records2.dump" "$R" 2>"$T/load.err"
	cafe_in "$R" verify
	is "$RC" 0 "cafe verify cannot see an altered record"
	cafe_in "$R" audit --json
	is "$RC" 1 "audit exits 1 when a stored record was altered"
	jq_is "$OUT" '[.integrity.faults[].kind] | sort | join(",")' "digest,record" "the digest and the re-derived record disagree"
	jq_is "$OUT" '[.integrity.faults[] | select(.kind == "record") | .id] | join(",")' "$SA" "the fault names the altered record"
	cafe_in "$R" audit
	like "$OUT" "record $SA: the stored record differs from the one the log makes" "text names the altered record"
else
	skip "lmdb-utils not installed: altered-commit audit not tested"
fi

# ---- a fork: one site key used on two machines -------------------------------------
cp -a "$S" "$T/site-copy"
S2="$T/site-copy"
add_rec "$S" cafe site="$SA" date="$THIS-02" format=parent factors=resilience \
	attendees=7 "topic=First machine" elements=$ELEMENTS
FA="$ID"
add_rec "$S2" cafe site="$SA" date="$THIS-03" format=parent factors=resilience \
	attendees=9 "topic=Second machine" elements=$ELEMENTS
FB="$ID"
cafe_in "$S" bundle export "$T/fork-a.bundle"
cafe_in "$S2" bundle export "$T/fork-b.bundle"
cafe_in "$H" bundle import "$T/fork-a.bundle"
is "$RC" 0 "hub imports the first machine's bundle"
cafe_in "$H" bundle import "$T/fork-b.bundle"
is "$RC" 1 "hub refuses the second machine's commit (a fork)"
like "$ERR" "fork" "the refusal says fork"
cafe_in "$H" audit --json
is "$RC" 1 "audit exits 1 on a hub holding a fork"
J="$OUT"
jq_is "$J" '.integrity.faults | length' 0 "the fork is the only fault: the log itself holds"
jq_is "$J" '.integrity.forks | length' 1 "one fork reported"
jq_is "$J" '.integrity.forks[0] | [.origin, .seq, .evidence_ok] | tojson' "[\"$SID\",8,true]" "the fork names the site's key and seq 8"
jq_is "$J" '.integrity.forks[0].stored.ops | map(.type + " " + .id) | join(",")' "cafe $FA" "the stored commit holds the first machine's café"
jq_is "$J" '.integrity.forks[0].fork.ops | map(.type + " " + .id) | join(",")' "cafe $FB" "the fork holds the second machine's café"
jq_is "$J" '.integrity.forks[0] | (.stored.hash != .fork.hash) and (.stored.prev == .fork.prev)' true "two commits with one prev and two hashes"
jq_is "$J" '.integrity.forks[0] | [.stored.origin, .stored.seq, .fork.origin, .fork.seq] | tojson' "[\"$SID\",8,\"$SID\",8]" "both commits at the same origin and seq"
jq_is "$J" '.integrity.forks[0] | (.stored.hlc > 0) and (.fork.hlc > 0) and (.stored.time | test("Z$"))' true "both commits' clocks shown"
cafe_in "$H" audit
like "$OUT" "fork $SPFX:8:" "text: the fork is named"
like "$OUT" "stored +$SPFX:8 +hash [0-9a-f]{16}" "text: the stored commit"
like "$OUT" "fork +$SPFX:8 +hash [0-9a-f]{16}" "text: the fork commit"
like "$OUT" "put cafe ${FA:0:12}" "text: the stored commit's op"
like "$OUT" "put cafe ${FB:0:12}" "text: the fork's op"
cafe_in "$H" show "$FA" --json
is "$RC" 0 "the first machine's café is intact on the hub"
jq_is "$OUT" .topic "First machine" "its fields are the first machine's"
cafe_in "$H" show "$FB"
isnt "$RC" 0 "the fork's café was never applied"
cafe_in "$H" list cafe --site "$SA" --json
is "$RC" 0 "listing cafés works after the fork"
jq_is "$OUT" 'length' 4 "four cafés at site A"
cafe_in "$H" verify
is "$RC" 0 "the log itself still verifies"

# ---- a back-dated commit ------------------------------------------------------------
# A commit whose clock is long before the time a node stored it.  Every
# writer must first hold the admin's log, whose clock its own clock then
# follows (hybrid logical clock), so a node's wrong clock alone no longer
# makes such a commit; a laptop that stays offline for a year does: the
# café is written now and the hub stores it 400 days later (faketime).
if command -v faketime >/dev/null 2>&1; then
	O="$T/old"
	new_node "$O" "Old laptop" --role site --network "$HID"
	OID="$NODE"
	enroll "$T/hub-clock" "$O" site "$SB"
	"$CAFE" --data "$O" add cafe site="$SB" \
		date=2020-01-01 format=parent factors=resilience elements=$ELEMENTS \
		>"$T/old.out" 2>"$T/old.err"
	is "$?" 0 "a café added on the laptop" || diag "$(cat "$T/old.err")"
	OTIME="$("$CAFE" --data "$O" log --json | jq -r --arg o "$OID" '.[] | select(.origin == $o and .seq == 1) | .time')"
	like "$OTIME" '^20[0-9-]+T[0-9:.]+Z$' "the laptop's commit has a clock"
	cafe_in "$O" bundle export "$T/old.bundle"
	LATER="$(date -u -d '+400 days' '+%Y-%m-%d %H:%M:%S')"
	# AddressSanitizer wants to be first in the library list; faketime
	# preloads itself.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		TZ=UTC faketime "$LATER" "$CAFE" --data "$T/hub-clock" bundle import "$T/old.bundle" \
		>"$T/later.out" 2>"$T/later.err"
	is "$?" 0 "the hub imports it 400 days later" || diag "$(cat "$T/later.err")"
	# Audited today, the hub holds a commit it says it received 400 days
	# from now: that received time cannot be right.
	cafe_in "$T/hub-clock" audit --json
	is "$RC" 1 "audited before the day the hub says it received it, the audit fails"
	jq_is "$OUT" '[.integrity.faults[] | select(.kind == "received") | [.origin, .seq]] | tojson' "[[\"$OID\",1]]" "a received-time fault names the commit"
	# On the day it stored it, the hub's clock is the later one.
	later_audit() {
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
			TZ=UTC faketime "$LATER" "$CAFE" --data "$T/hub-clock" audit "$@" \
			>"$T/.out" 2>"$T/.err" </dev/null
		RC=$?
		OUT="$(<"$T/.out")"
		ERR="$(<"$T/.err")"
	}
	later_audit --json
	is "$RC" 0 "a back-dated commit does not fail the audit"
	jq_is "$OUT" '.clock_warnings | length' 1 "one clock warning"
	jq_is "$OUT" '.clock_warnings[0] | [.kind, .origin, .seq] | tojson' "[\"back-dated\",\"$OID\",1]" "it names the back-dated commit"
	jq_is "$OUT" '.clock_warnings[0].time' "$OTIME" "with its clock"
	jq_is "$OUT" ".clock_warnings[0] | (.stored_at > \"$OTIME\") and (.stored_at | startswith(\"${LATER:0:10}T\")) and (.days < -30)" true "and when this node stored it"
	later_audit
	like "$OUT" "^clocks: 1 warning" "text: one clock warning"
	like "$OUT" "${OID:0:16}:1 back-dated: clock ${OTIME:0:16}:[0-9.]+Z, stored here ${LATER:0:10}T"  "text: both times"
	like "$OUT" '^integrity: ok' "text: integrity still ok"
	cafe_in "$O" audit --json
	jq_is "$OUT" '.clock_warnings | length' 0 "no warning where the commit was written (stored under the same clock)"
else
	skip "faketime not installed: back-dated commit not tested"
fi

done_testing
