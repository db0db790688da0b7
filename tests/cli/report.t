#!/usr/bin/env bash
# report.t: cafe report on a fixed data set, every table against figures
# worked out by hand (in the comments), then the text and CSV forms
# against the JSON form cell for cell (reportcheck.py).  Three sites:
# Alpha FRC and Beta School log on their own laptops, Cedar Ñandú Center
# is typed in at the hub; months with no café, cafés just outside the
# period, feedback with PFS-2 means, trainings, hosts, milestones with
# corrections, a typo (step 6 done on a new site), two current records
# of one step, and a consultant's older milestone that reaches the hub
# after the hub's newer one.  A site's laptop sees its own site only: the
# others are listed as not visible, and what both can see agrees with
# the hub's report.  Today is pinned with faketime for the attention part.
. "$(dirname "$0")/lib.sh"

CHECK="$PY $TESTS_DIR/reportcheck.py"
ALL8=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
PERIOD=(--since 2026-01-01 --until 2026-06-30)
TODAY='2026-07-10 12:00:00'
export TZ=America/Chicago
# faketime preloads a library; let an ASan build of cafe accept that.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

# ---- the network --------------------------------------------------------------
H="$T/hub"
new_node "$H" "State hub" --role hub
HID="$NODE"
add_rec "$H" site "name=Alpha FRC" county=Adams region=North
SA="$ID"
add_rec "$H" site "name=Beta School" county=Brown region=North
SB="$ID"
add_rec "$H" site "name=Cedar Ñandú Center" county=Adams region=South
SC="$ID"

new_node "$T/a" "Alpha laptop" --role site --network "$HID"
enroll "$H" "$T/a" site "$SA"
new_node "$T/b" "Beta laptop" --role site --network "$HID"
enroll "$H" "$T/b" site "$SB"
new_node "$T/k" "Consultant" --role consultant --network "$HID"
enroll "$H" "$T/k" consultant

# ---- Alpha FRC (its laptop) -----------------------------------------------------
A="$T/a"
add_rec "$A" person "name=Ana" roles=host,parent_leader site="$SA" trained=2026-02-05
add_rec "$A" person "name=Ben" roles=table_host site="$SA"
add_rec "$A" person "name=Cy" roles=partner_staff site="$SA" trained=2026-02-05
add_rec "$A" cafe site="$SA" date=2026-01-10 format=parent \
	factors=resilience,social_connections attendees=10 new_attendees=4 \
	children_cared_for=6 max_table_size=5 elements=$ALL8
A1="$ID"
add_rec "$A" cafe site="$SA" date=2026-01-24 format=dads factors=resilience \
	attendees=6 new_attendees=1 children_cared_for=2 max_table_size=7 \
	elements=welcome,theme,agreements,pair_talk,table_talk,commitment_cards
add_rec "$A" cafe site="$SA" date=2026-03-14 format=parent \
	factors=concrete_support attendees=12 new_attendees=5 \
	children_cared_for=0 max_table_size=4 elements=$ALL8
A3="$ID"
add_rec "$A" cafe site="$SA" date=2025-12-20 format=parent \
	factors=child_development attendees=50 new_attendees=50 elements=$ALL8
A0="$ID"
add_rec "$A" feedback cafe="$A1" responses=10 felt_safe=9 learned=8 \
	will_return=10 followed_through=3 wants_role=2 pfs_resilience=5.50 \
	pfs_nurturing=6.00
add_rec "$A" feedback cafe="$A3" responses=12 felt_safe=12 learned=9 \
	will_return=11 pfs_resilience=4.80
add_rec "$A" feedback cafe="$A0" responses=40 felt_safe=1
add_rec "$A" training site="$SA" date=2026-02-05 kind=orientation participants=8
add_rec "$A" training site="$SA" date=2026-04-10 kind=host_training participants=5
add_rec "$A" training site="$SA" date=2025-11-01 kind=coaching participants=3
add_rec "$A" action cafe="$A1" "title=Ask the library" due=2026-02-01 status=open
add_rec "$A" action cafe="$A3" "title=Find a Spanish host" due=2099-01-01 status=doing
add_rec "$A" action cafe="$A1" "title=Print cards" status=done

# ---- Beta School (its laptop) -----------------------------------------------------
B="$T/b"
add_rec "$B" person "name=Dee" roles=host site="$SB" trained=2026-07-15
add_rec "$B" cafe site="$SB" date=2026-02-07 format=community \
	factors=child_development,social_emotional attendees=20 new_attendees=10 \
	children_cared_for=15 tables=4 max_table_size=6 \
	elements=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest
B1="$ID"
add_rec "$B" cafe site="$SB" date=2026-06-30 format=parent factors=social_emotional \
	attendees=9 new_attendees=0 children_cared_for=4
add_rec "$B" cafe site="$SB" date=2026-07-01 format=parent factors=resilience \
	attendees=99 elements=$ALL8
add_rec "$B" feedback cafe="$B1" responses=18 felt_safe=15 learned=18 \
	will_return=16 followed_through=5 wants_role=4 pfs_resilience=6.10 \
	pfs_social_support=5.00
add_rec "$B" training site="$SB" date=2026-06-01 kind=coaching participants=2

# ---- Cedar (at the hub) and the milestones -------------------------------------------
add_rec "$H" cafe site="$SC" date=2025-10-01 format=parent factors=resilience attendees=7
# Alpha: steps 1 and 2 done; step 3 in progress, then corrected to done by a
# later record; step 4 not started.
add_rec "$H" milestone site="$SA" step=1 status=done date=2026-01-05
add_rec "$H" milestone site="$SA" step=2 status=done date=2026-01-20
add_rec "$H" milestone site="$SA" step=3 status=in_progress date=2026-02-01
# The consultant marks Alpha's step 4 done on the replica first...
add_rec "$T/k" milestone site="$SA" step=4 status=done date=2026-02-10
add_rec "$H" milestone site="$SA" step=3 status=done date=2026-03-01
# ... and the hub, later by the clock, records it as not started.
add_rec "$H" milestone site="$SA" step=4 status=not_started date=2026-02-12
# Beta: step 1 done, and a typo: step 6 done (meant step 2).
add_rec "$H" milestone site="$SB" step=1 status=done
add_rec "$H" milestone site="$SB" step=6 status=done
BTYPO="$ID"
# Cedar: step 1 done; two records of step 2 on one date that disagree.
add_rec "$H" milestone site="$SC" step=1 status=done date=2026-03-01
add_rec "$H" milestone site="$SC" step=2 status=in_progress date=2026-03-05
add_rec "$H" milestone site="$SC" step=2 status=done date=2026-03-05

# The hub receives the laptops' logs and, last, the consultant's (whose
# step-4 record is older than the hub's).
for n in a b k; do
	cafe_in "$T/$n" bundle export "$T/$n.bundle"
	cafe_in "$H" bundle import "$T/$n.bundle"
	is "$RC" 0 "hub imports the $n log" || diag "$ERR"
done
# Alpha's laptop gets what it reads of the hub: the admin log and the
# hub's log for Alpha (the milestones), as a bundle sealed to its key.
AKEY="$("$CAFE" --data "$A" id)"
cafe_in "$H" bundle export "$T/to-a.bundle" --to "$AKEY"
cafe_in "$A" bundle import "$T/to-a.bundle"
is "$RC" 0 "Alpha's laptop gets the hub's milestones" || diag "$ERR"

report() {	# report DIR ARGS...: cafe report under the pinned today
	local d="$1"
	shift
	faketime "$TODAY" "$CAFE" --data "$d" report "$@" >"$T/.out" 2>"$T/.err" </dev/null
	RC=$?
	OUT="$(<"$T/.out")"
	ERR="$(<"$T/.err")"
}

# ---- the hub's report, JSON -------------------------------------------------------
report "$H" "${PERIOD[@]}" --format json
is "$RC" 0 "report --format json exits 0" || diag "$ERR"
J="$OUT"
printf '%s\n' "$J" >"$T/hub.json"
json_ok "$J" "the JSON form is one JSON value"
jq_is "$J" '[.period.since, .period.until, (.period.months | join(","))] | join(" ")' \
	"2026-01-01 2026-06-30 2026-01,2026-02,2026-03,2026-04,2026-05,2026-06" \
	"period: six months, each named"
jq_is "$J" '.node.name + "/" + .node.role' "State hub/hub" "the node"
jq_is "$J" '.network' "$HID" "the network"
jq_is "$J" '.today' "2026-07-10" "today, in the local time zone"
like "$(jq -r .generated <<<"$J")" '^2026-07-10T12:00:00-05:00$' "made at, in local time with its offset"
jq_is "$J" '[.sites[].name] | join("|")' "Alpha FRC|Beta School|Cedar Ñandú Center" "sites by name"
jq_is "$J" '.not_visible | length' 0 "the hub sees every site"

# Activity.  Alpha: Jan 2 cafés (10+6 attendees, 4+1 new, 6+2 children),
# Mar 1 (12, 5, 0); the December 2025 café is outside.  Beta: Feb 1 (20,
# 10, 15), Jun 1 on the last day (9, 0, 4); July is outside.  Cedar: none.
row() { jq -c "$1" <<<"$J"; }
is "$(row '[.activity.rows[] | [.name, [.months[].cafes], .total.cafes]]')" \
	'[["Alpha FRC",[2,0,1,0,0,0],3],["Beta School",[0,1,0,0,0,1],2],["Cedar Ñandú Center",[0,0,0,0,0,0],0]]' \
	"activity: cafés per site and month, 0 for quiet months"
is "$(row '[.activity.rows[] | [[.months[].attendees], .total.attendees]]')" \
	'[[[16,0,12,0,0,0],28],[[0,20,0,0,0,9],29],[[0,0,0,0,0,0],0]]' "activity: attendees"
is "$(row '[.activity.rows[] | [[.months[].new_attendees], .total.new_attendees]]')" \
	'[[[5,0,5,0,0,0],10],[[0,10,0,0,0,0],10],[[0,0,0,0,0,0],0]]' "activity: new attendees"
is "$(row '[.activity.rows[] | [[.months[].children_cared_for], .total.children_cared_for]]')" \
	'[[[8,0,0,0,0,0],8],[[0,15,0,0,0,4],19],[[0,0,0,0,0,0],0]]' "activity: children cared for"
is "$(row '.activity.total | [.name, [.months[].cafes], .total.cafes, .total.attendees, .total.new_attendees, .total.children_cared_for]')" \
	'["All sites",[2,1,1,0,0,1],5,57,20,27]' "activity: totals per month and overall"

# Factors.  Alpha: resilience 2, social connections 1, concrete 1; Beta:
# child development 1, social-emotional 2; Cedar none.
is "$(row '[.factors.rows[] | [.cafes, [.counts[]], .not_covered]]')" \
	'[[3,[2,1,1,0,0],["child_development","social_emotional"]],[2,[0,0,0,1,2],["resilience","social_connections","concrete_support"]],[0,[0,0,0,0,0],["resilience","social_connections","concrete_support","child_development","social_emotional"]]]' \
	"factors: the site × factor matrix and the factors not covered"
is "$(row '.factors.total | [.cafes, [.counts[]], .not_covered]')" '[5,[2,1,1,1,2],[]]' "factors: statewide"

# (jq writes 0.0 as 0.)
# Fidelity.  Alpha: 2 of 3 held all eight (66.7%), the dads' café missed
# harvest and closing and had a table of 7.  Beta: B1 missed closing (a
# table of 6), B2 has no checklist (misses all eight): 0 of 2.
is "$(row '[.fidelity.rows[] | [.cafes, .all_eight, .all_eight_pct, .over_five, .no_checklist]]')" \
	'[[3,2,66.7,1,0],[2,0,0,1,1],[0,0,null,0,0]]' "fidelity: all eight, share, tables over five"
is "$(row '[.fidelity.rows[] | [.most_missed[] | "\(.element)=\(.cafes)"]]')" \
	'[["harvest=1","closing=1"],["closing=2","welcome=1","theme=1"],[]]' "fidelity: the elements most often missed"
is "$(row '.fidelity.total | [.cafes, .all_eight, .all_eight_pct, .over_five, [.most_missed[] | "\(.element)=\(.cafes)"]]')" \
	'[5,2,40,2,["closing=3","harvest=2","welcome=1"]]' "fidelity: statewide"

# Feedback.  Alpha: 2 forms, 22 responses; felt safe 21/22 = 95.5%,
# learned 17/22 = 77.3%, will return 21/22 = 95.5%, followed through 3 of
# the 10 asked = 30.0%, wants a role 2/10 = 20.0%; PFS-2 resilience
# (5.50×10 + 4.80×12)/22 = 5.118 -> 5.12, nurturing 6.00 (10).  The form
# of the December café is outside.  Beta: 18 responses: 83.3%, 100.0%,
# 88.9%, 27.8%, 22.2%; resilience 6.10, social support 5.00.
is "$(row '[.feedback.rows[] | [.forms, .responses, [.questions[] | .pct]]]')" \
	'[[2,22,[95.5,77.3,95.5,30,20]],[1,18,[83.3,100,88.9,27.8,22.2]],[0,0,[null,null,null,null,null]]]' \
	"feedback: responses and shares per site"
is "$(row '[.feedback.rows[] | [.pfs[] | .mean]]')" \
	'[[5.12,6,null,null,null],[6.1,null,5,null,null],[null,null,null,null,null]]' \
	"feedback: PFS-2 means weighted by responses"
# Statewide: 40 responses: 36/40 = 90.0%, 35/40 = 87.5%, 37/40 = 92.5%,
# 8/28 = 28.6%, 6/28 = 21.4%; resilience (550×10 + 480×12 + 610×18)/40 =
# 5.56, nurturing 6.00 (10 responses), social support 5.00 (18).
is "$(row '.feedback.total | [.forms, .responses, [.questions[] | .pct], [.pfs[] | .mean], [.pfs[] | .responses]]')" \
	'[3,40,[90,87.5,92.5,28.6,21.4],[5.56,6,5,null,null],[40,10,18,0,0]]' \
	"feedback: statewide, weighted by responses"
jq_is "$J" '.feedback.total.questions.followed_through | "\(.yes)/\(.of)"' "8/28" \
	"feedback: a question's base is the responses of the forms that asked it"

# Trainings and hosts.  Alpha: an orientation (8), a host training (5);
# the 2025 coaching is outside; hosts Ana and Ben (not Cy, partner staff),
# Ana trained.  Beta: coaching (2); Dee trained after the period ends.
is "$(row '[.trainings.rows[] | [[.kinds[] | [.trainings, .participants]], .trainings, .participants, .hosts, .hosts_trained]]')" \
	'[[[[1,8],[1,5],[0,0],[0,0]],2,13,2,1],[[[0,0],[0,0],[0,0],[1,2]],1,2,1,0],[[[0,0],[0,0],[0,0],[0,0]],0,0,0,0]]' \
	"trainings by kind, participants, hosts and hosts trained"
is "$(row '.trainings.total | [.trainings, .participants, .hosts, .hosts_trained]')" '[3,15,3,1]' "trainings: statewide"

# Steps.  Alpha: the correction of step 3 wins (done); the consultant's
# step 4 "done" is older than the hub's "not started", though it arrived
# last: step reached 3.  Beta: the typo, step 6 done, gives step reached
# 1, flagged.  Cedar: step 2's two records of one date are flagged; the
# later (done) is taken: step reached 2.
jq_is "$J" '[.steps.steps[].name] | join("; ")' \
	"create the leadership challenge; first contact with the café network; teleconference with a café consultant; build the starting team; orientation with café consultants; mentoring hosts to design, evaluate and sustain" \
	"steps: the six named"
is "$(row '[.steps.rows[] | [[.steps[].status], .reached]]')" \
	'[[["done","done","done","not_started","none","none"],3],[["done","none","none","none","none","done"],1],[["done","done","none","none","none","none"],2]]' \
	"steps: current status (latest record wins) and step reached"
jq_is "$J" '[.steps.rows[0].steps[] | .records] | tojson' '[1,1,2,2,0,0]' "steps: every record counted"
jq_is "$J" '.steps.rows[0].flags | length' 0 "steps: Alpha has nothing flagged"
is "$(row '[.steps.rows[1].flags[] | [.step, .kind]]')" '[[6,"out_of_order"]]' "steps: the typo is flagged"
like "$(jq -r '.steps.rows[1].flags[0].text' <<<"$J")" 'step 6 .* is done while step 2 .* is not recorded' "steps: the flag says why"
is "$(row '[.steps.rows[2].flags[] | [.step, .kind]]')" '[[2,"two_current"]]' "steps: two current records of one step are flagged"

# Attention, as of 2026-07-10: Alpha's last café was 2026-03-14 (118 days),
# Cedar's 2025-10-01 (282 days); Beta's 2026-07-01 is recent.  The open
# action due 2026-02-01 is 159 days overdue and comes first.
is "$(row '[.attention.quiet[] | [.name, .last_cafe, .days]]')" \
	'[["Alpha FRC","2026-03-14",118],["Cedar Ñandú Center","2025-10-01",282]]' "attention: quiet sites"
is "$(row '[.attention.actions[] | [.site, .title, .status, .overdue, .days_overdue]]')" \
	'[["Alpha FRC","Ask the library","open",true,159],["Alpha FRC","Find a Spanish host","doing",false,null]]' \
	"attention: open and in-progress actions, overdue first"
jq_is "$J" '.attention.members.last_sync_stored' true "attention: says that last sync times are kept"

# The members' latest commits reached the hub just now: none is listed;
# sixty days on, all three are, named.
cafe_in "$H" report "${PERIOD[@]}" --format json
jq_is "$OUT" '.attention.members.rows | length' 0 "attention: no member silent today"
OUT="$(faketime -f '+60d' "$CAFE" --data "$H" report "${PERIOD[@]}" --format json)"
jq_is "$OUT" '[.attention.members.rows[] | "\(.name)/\(.role)/\(.days)"] | sort | join(" ")' \
	"Alpha laptop/site/60 Beta laptop/site/60 Consultant/consultant/60" \
	"attention: sixty days later, every member's last commit is 60 days old"
# These logs came by bundle: no member ever synced with this hub's cafed.
jq_is "$OUT" '[.attention.members.rows[].last_sync] | unique | tojson' '[null]' "attention: no member synced with the hub"
jq_is "$OUT" '[.attention.members.rows[] | select(.name == "Alpha laptop") | .site] | join("")' \
	"Alpha FRC" "attention: a site key's site by name"
report "$H" "${PERIOD[@]}" --format json --days 200
jq_is "$OUT" '[.attention.quiet[].name] | join("|")' "Cedar Ñandú Center" "--days 200: only Cedar is quiet"

# The same records in another order give the same steps: a replica that
# receives the consultant's log first, then the laptops', then the hub's.
cafe_in "$H" bundle export "$T/hub.bundle"
for order in "k a b hub" "hub"; do
	R="$T/replica-${order// /}"
	"$CAFE" --data "$R" init --name "Replica" --network "$HID" >/dev/null 2>&1
	for n in $order; do
		"$CAFE" --data "$R" bundle import "$T/$n.bundle" >/dev/null 2>&1
	done
	report "$R" "${PERIOD[@]}" --format json
	f='[.steps.rows[] | [[.steps[].status], .reached, [.flags[].kind]]]'
	is "$(jq -c "$f" <<<"$OUT")" "$(jq -c "$f" <<<"$J")" \
		"steps: a replica fed in the order '$order' agrees with the hub"
done

# ---- the text and CSV forms carry the same numbers ------------------------------
report "$H" "${PERIOD[@]}"
is "$RC" 0 "report (text) exits 0" || diag "$ERR"
printf '%s\n' "$OUT" >"$T/hub.txt"
TXT="$OUT"
unlike "$TXT" "$SA|$SB|$SC" "text: names, not ids"
like "$TXT" '^Cedar Ñandú Center +0 +0 +0 +0 +0 +0 +0$' "text: UTF-8 names aligned"
like "$TXT" 'Beta School: step 6 .* is done while step 2' "text: the flag"
like "$TXT" 'made +2026-07-10 12:00 CDT' "text: the local time and zone"
agree() {	# agree FORM JSON FILE DESC: reportcheck.py passes
	local out
	if out="$($CHECK "$1" "$2" "$3" 2>&1)"; then
		pass "$4"
		note "$out"
	else
		fail "$4" "$out"
	fi
}
disagree() {	# disagree FORM JSON FILE DESC: reportcheck.py fails
	if $CHECK "$1" "$2" "$3" >/dev/null 2>&1; then
		fail "$4" "reportcheck.py $1 passed on a wrong figure"
	else
		pass "$4"
	fi
}
agree text "$T/hub.json" "$T/hub.txt" "text and JSON agree cell for cell"

report "$H" "${PERIOD[@]}" --format csv -o "$T/csv"
is "$RC" 0 "report --format csv -o DIR writes every table" || diag "$ERR"
agree csv "$T/hub.json" "$T/csv" "CSV and JSON agree cell for cell"
report "$H" "${PERIOD[@]}" --format csv --table activity
is "$OUT" "$(cat "$T/csv/activity.csv")" "--table activity prints the same table"
like "$OUT" "^$SA,Alpha FRC,2026-01,2,16,5,8$" "csv: id beside the name"
like "$OUT" '^,All sites,total,5,57,20,27$' "csv: the statewide total row"

# A broken report must fail the checker: change one figure.
sed 's/"attendees": 16,/"attendees": 17,/' "$T/hub.json" >"$T/bad.json"
disagree text "$T/bad.json" "$T/hub.txt" "the checker notices a wrong figure (text)"
disagree csv "$T/bad.json" "$T/csv" "the checker notices a wrong figure (CSV)"

# ---- periods, sites, grouping ---------------------------------------------------
report "$H" --quarter 2026Q1 --format json
jq_is "$OUT" '[.period.since, .period.until, ([.activity.rows[].total.cafes] | tojson)] | join(" ")' \
	"2026-01-01 2026-03-31 [3,1,0]" "--quarter 2026Q1"
report "$H" --months 3 --format json
jq_is "$OUT" '[.period.since, .period.until, ([.activity.rows[].total.cafes] | tojson)] | join(" ")' \
	"2026-05-01 2026-07-31 [0,2,0]" "--months 3: the three months ending with this one"
report "$H" "${PERIOD[@]}" --format json --site "beta school" --site "${SA:0:24}"
jq_is "$OUT" '[.activity.rows[].name] | join("|")' "Alpha FRC|Beta School" "--site by name (any case) and by id prefix"
jq_is "$OUT" '.activity.total.total.cafes' 5 "--site: totals of the sites named"
report "$H" "${PERIOD[@]}" --format json --by county
is "$(jq -c '[.activity.rows[] | [.name, .sites, .total.cafes, .total.attendees]]' <<<"$OUT")" \
	'[["Adams",["Alpha FRC","Cedar Ñandú Center"],3,28],["Brown",["Beta School"],2,29]]' "--by county"
is "$(jq -c '.activity.site_rows' <<<"$OUT")" "$(jq -c '.activity.rows' "$T/hub.json")" \
	"--by county: each site's own row is kept too (site_rows)"
report "$H" "${PERIOD[@]}" --format json --by region
is "$(jq -c '[.activity.rows[] | [.name, [.months[].cafes]]]' <<<"$OUT")" \
	'[["North",[2,1,1,0,0,1]],["South",[0,0,0,0,0,0]]]' "--by region"
report "$H" "${PERIOD[@]}" --format json -o "$T/out.json"
is "$RC" 0 "-o FILE" || diag "$ERR"
is "$(jq -c .activity "$T/out.json")" "$(jq -c .activity "$T/hub.json")" "-o FILE writes the same report"

# ---- a site's laptop: its own site only -------------------------------------------
report "$A" "${PERIOD[@]}" --format json
is "$RC" 0 "the site's report exits 0" || diag "$ERR"
JA="$OUT"
jq_is "$JA" '[.sites[].name] | join("|")' "Alpha FRC" "the site's laptop shows its own site"
jq_is "$JA" '[.not_visible[].name] | join("|")' "Beta School|Cedar Ñandú Center" \
	"and names the sites it cannot see"
jq_is "$JA" '[.activity.rows[].name] | join("|")' "Alpha FRC" "no rows (no zeros) for the sites it cannot see"
# (The hub also holds the consultant's older step-4 record, which the
# site does not read: the count of records differs, not the status.)
for t in activity factors fidelity feedback trainings steps; do
	f=".$t.rows[] | select(.name == \"Alpha FRC\") | del(.steps[]?.records)"
	is "$(jq -c "$f" <<<"$JA")" "$(jq -c "$f" <<<"$J")" \
		"site and hub agree on Alpha: $t" || diag "site: $(jq -c "$f" <<<"$JA")" "hub: $(jq -c "$f" <<<"$J")"
done
is "$(jq -c '.attention.actions' <<<"$JA")" "$(jq -c '.attention.actions' <<<"$J")" \
	"site and hub agree on Alpha's actions"
report "$A" "${PERIOD[@]}"
like "$OUT" 'not visible from this node' "text: says which sites it cannot see"
like "$OUT" '^  Beta School$' "text: names them"
unlike "$OUT" '^Beta School +[0-9]' "text: never as a row of zeros"

# ---- the typo corrected: the latest record wins -----------------------------------
add_rec "$H" milestone site="$SB" step=6 status=not_started notes="entered by mistake"
report "$H" "${PERIOD[@]}" --format json
is "$(jq -c '.steps.rows[1] | [[.steps[].status], .reached, (.flags | length)]' <<<"$OUT")" \
	'[["done","none","none","none","none","not_started"],1,0]' "a later not_started record corrects the typo"
cafe_in "$H" rm "$BTYPO"
cafe_in "$H" audit --json
is "$(jq -c '[.sites[] | select(.name == "Beta School") | .step_reached, (.step_flags | length), [.steps[].status]]' <<<"$OUT")" \
	'[1,0,["done","none","none","none","none","not_started"]]' "audit uses the same rule"
cafe_in "$H" audit --json
is "$(jq -c '[.sites[] | .step_reached]' <<<"$OUT")" '[3,1,2]' "audit: the same steps reached as the report"
jq_is "$OUT" '[.sites[] | select(.name == "Cedar Ñandú Center") | .step_flags[].kind] | join(",")' \
	two_current "audit: the same flags"

# ---- wide characters --------------------------------------------------------------
# A name in wide (East Asian) characters and one with a combining accent
# take their display columns: every row of a table ends at one column.
add_rec "$H" site "name=東京カフェ Center" county=Tokyo
add_rec "$H" site "name=Café Zoe" county=Zed
cafe_in "$H" report "${PERIOD[@]}"
printf '%s\n' "$OUT" >"$T/wide.txt"
WIDTHS="$($PY - "$T/wide.txt" <<'EOF2'
import sys, unicodedata
def width(s):
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
i = lines.index("Activity: cafés per month")
rows = []
for ln in lines[i + 2:]:
    if ln == "":
        break
    rows.append(width(ln))
print(" ".join(str(w) for w in sorted(set(rows))), len(rows))
EOF2
)"
like "$WIDTHS" '^[0-9]+ 7$' "text: seven lines (head, five sites, total) of one display width with wide and combining characters ($WIDTHS)"
like "$OUT" '東京カフェ Center' "text: the wide name in full"

# ---- bad input ------------------------------------------------------------------
bad() {	# bad WHAT ARGS...: exit 2, one line naming what
	local what="$1"
	shift
	cafe_in "$H" report "$@"
	is "$RC" 2 "report $*: exit 2"
	like "$ERR" "$what" "report $*: names $what"
	is "$(nlines "$ERR")" 1 "report $*: one line"
}
bad "--format" --format pdf
bad "--by" --by month
bad "--quarter" --quarter 2026Q5
bad "--since" --since 2026-13-01
bad "starts after it ends" --since 2026-06-01 --until 2026-01-01
bad "one period" --quarter 2026Q1 --months 3
bad "Nowhere" --site Nowhere
bad "--table" --format csv --table nope
bad "--table NAME" --format csv
bad "--days" --days 0
bad "--per-site" --per-site
bad "--paper" --format html --paper a3
bad "unknown option" --colour

done_testing
