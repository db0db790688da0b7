#!/usr/bin/env bash
# records.t: add, edit, rm, show, list and history for every record type;
# list filters (--site, --since, --until, --where); the --json shapes; id
# prefixes; warnings (fidelity, references that may arrive by sync); stats
# with every --by; export and import in CSV and JSON, round trip into
# another node, and an import with bad rows refused as a whole.
. "$(dirname "$0")/lib.sh"

HEX32='^[0-9a-f]{32}$'
A="$T/a"
new_node "$A" "Hub A" --role hub
ANODE="$NODE"

# jq over the JSON of `show ID --json` on node A; sets J.
J=
show_json() {
	cafe_in "$A" show "$1" --json
	J="$OUT"
	if [ "$RC" != 0 ]; then
		diag "show $1 --json -> exit $RC: $ERR"
		J='{}'
	fi
}

# list_ids DIR ARGS...: the sorted ids of `list ARGS --json`, space separated.
list_ids() {
	local d="$1"
	shift
	cafe_in "$d" list "$@" --json
	if [ "$RC" != 0 ]; then
		printf 'EXIT %s: %s' "$RC" "$ERR"
		return
	fi
	printf '%s' "$OUT" | jq -r '[.[].id] | sort | join(" ")' 2>&1
}

sorted() { printf '%s\n' "$@" | sort | tr '\n' ' ' | sed 's/ $//'; }

# ---- sites -----------------------------------------------------------------
add_rec "$A" site "name=North Niños FRC" "organization=North Family Center" \
	county=Adams region=north partner_type=family_resource_center \
	languages=en,es status=active started=2023-09-01
S1="$ID"
like "$S1" "$HEX32" "add prints a 32-hex id"
is "$(nlines "$OUT")" 1 "add prints the id alone on one line"
is "$ERR" "" "add site: nothing on stderr"
add_rec "$A" site "name=South School" partner_type=school status=starting
S2="$ID"
isnt "$S1" "$S2" "two records get two ids"

show_json "$S1"
jq_is "$J" '.id' "$S1" "show --json: id"
jq_is "$J" '.type' site "show --json: type"
jq_is "$J" '.name' "North Niños FRC" "show --json: text field (UTF-8 kept)"
jq_is "$J" '.organization' "North Family Center" "show --json: organization"
jq_is "$J" '.county + "/" + .region' "Adams/north" "show --json: county, region"
jq_is "$J" '.partner_type' family_resource_center "show --json: enum field"
jq_is "$J" '.languages | tojson' '["en","es"]' "show --json: a list is an array of strings"
jq_is "$J" '.status' active "show --json: status"
jq_is "$J" '.started' 2023-09-01 "show --json: a date is a YYYY-MM-DD string"
jq_is "$J" '[keys[] | select(IN("id","type","name","organization","county","region","partner_type","languages","status","started") | not)] | length' 0 \
	"show --json: a flat object with only id, type and site fields"

cafe_in "$A" show "$S1"
is "$RC" 0 "show (human) exits 0"
like "$OUT" "North Niños FRC" "show (human) shows the name"

# ---- persons ---------------------------------------------------------------
add_rec "$A" person "name=Ana Host" roles=parent_leader,host site="$S1" \
	trained=2023-10-01 languages=es
P1="$ID"
is "$ERR" "" "add person with a known site: no warning"
add_rec "$A" person "name=Ben Table" roles=table_host site="${S1:0:16}"
P2="$ID"
show_json "$P2"
jq_is "$J" '.site' "$S1" "a reference given by prefix is stored as the full id"
show_json "$P1"
jq_is "$J" '.type' person "person: type"
jq_is "$J" '.roles | sort | tojson' '["host","parent_leader"]' "person: roles is an array of tokens"
jq_is "$J" '.site' "$S1" "person: site is a 32-hex string"
jq_is "$J" '.trained' 2023-10-01 "person: trained date"
jq_is "$J" '.languages | tojson' '["es"]' "person: languages"

# A full id that is not on this node: accepted with a warning.
GHOST=0123456789abcdef0123456789abcdef
add_rec "$A" person "name=Remote Coach" roles=coach site=$GHOST
P3="$ID"
like "$ERR" '^cafe: warning: ' "unknown full-id reference: a 'cafe: warning: ' line"
show_json "$P3"
jq_is "$J" '.site' "$GHOST" "unknown full-id reference is stored"

# ---- cafés -----------------------------------------------------------------
HARV=$'Parents said "more, please"\nand a second line'
ALL_ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
add_rec "$A" cafe site="$S1" date=2024-03-01 format=parent series_no=1 \
	"topic=Resilience night" factors=social_connections,resilience \
	hosts="$P1,$P2" "partners=Library,Clinic" language=es attendees=20 \
	new_attendees=5 children_cared_for=8 tables=4 max_table_size=5 \
	elements=$ALL_ELEMENTS "harvest=$HARV"
C1="$ID"
is "$ERR" "" "a café with every fidelity element: no warning"
add_rec "$A" cafe site="$S1" date=2024-03-31 format=dads factors=concrete_support \
	attendees=10 new_attendees=2 children_cared_for=3
C2="$ID"
like "$ERR" '^cafe: warning: ' "a café missing fidelity elements: a warning"
is "$RC" 0 "a café missing fidelity elements is still stored (exit 0)"
add_rec "$A" cafe site="$S2" date=2024-04-15 format=community \
	factors=child_development,resilience attendees=30 new_attendees=10 \
	children_cared_for=0 elements=$ALL_ELEMENTS
C3="$ID"
add_rec "$A" cafe site="${S2:0:20}" date=2024-02-29 format=virtual \
	factors=social_emotional attendees=7 new_attendees=7 elements=$ALL_ELEMENTS
C4="$ID"

add_rec "$A" cafe site="$S1" date=2024-06-01 format=parent factors=resilience \
	hosts="$P1,$GHOST" elements=$ALL_ELEMENTS
GC="$ID"
like "$ERR" '^cafe: warning: .*'"$GHOST" "a host id not on this node: a warning naming it"
show_json "$GC"
jq_is "$J" '.hosts | tojson' "[\"$P1\",\"$GHOST\"]" "... and both hosts are stored"
cafe_in "$A" rm "$GC"
is "$RC" 0 "rm that café"

show_json "$C1"
jq_is "$J" '.type' cafe "cafe: type"
jq_is "$J" '.site' "$S1" "cafe: site ref"
jq_is "$J" '.date' 2024-03-01 "cafe: date"
jq_is "$J" '.format' parent "cafe: format"
jq_is "$J" '.series_no | type' number "cafe: series_no is a number"
jq_is "$J" '.series_no' 1 "cafe: series_no"
jq_is "$J" '.topic' "Resilience night" "cafe: topic"
jq_is "$J" '.factors | sort | tojson' '["resilience","social_connections"]' "cafe: factors set"
jq_is "$J" '.hosts | sort | tojson' "$(jq -cn --arg a "$P1" --arg b "$P2" '[$a,$b] | sort')" "cafe: hosts are full ids"
jq_is "$J" '.partners | tojson' '["Library","Clinic"]' "cafe: partners list keeps its order"
jq_is "$J" '.language' es "cafe: language"
jq_is "$J" '[.attendees, .new_attendees, .children_cared_for, .tables, .max_table_size] | map(type) | unique | tojson' '["number"]' "cafe: counts are numbers"
jq_is "$J" '[.attendees, .new_attendees, .children_cared_for, .tables, .max_table_size] | tojson' '[20,5,8,4,5]' "cafe: count values"
jq_is "$J" '.elements | length' 8 "cafe: elements set has all 8"
jq_is "$J" '.harvest' "$HARV" "cafe: harvest text with quotes, a comma and a newline"
show_json "$C4"
jq_is "$J" '.date' 2024-02-29 "cafe: a leap day is a real date"
jq_is "$J" '.site' "$S2" "cafe: site given by a 20-char prefix"

# ---- actions ----------------------------------------------------------------
add_rec "$A" action cafe="$C1" "title=Start a lending library" owner=Ana \
	due=2024-05-01 status=open
A1="$ID"
add_rec "$A" action cafe="${C3:0:16}" "title=Invite the clinic" status=done "outcome=Clinic came"
A2="$ID"
show_json "$A1"
jq_is "$J" '.type' action "action: type"
jq_is "$J" '.cafe' "$C1" "action: cafe ref"
jq_is "$J" '.site' "$S1" "action: site is filled from the café"
jq_is "$J" '.title + "|" + .owner + "|" + .due + "|" + .status' "Start a lending library|Ana|2024-05-01|open" "action: fields"
show_json "$A2"
jq_is "$J" '.site' "$S2" "action 2: site filled from its café"
jq_is "$J" '.outcome' "Clinic came" "action: outcome"

# ---- trainings ----------------------------------------------------------------
add_rec "$A" training site="$S1" date=2023-10-01 kind=host_training \
	"trainer=State lead" participants=6 "notes=Two new hosts"
T1="$ID"
add_rec "$A" training site="$S2" date=2024-01-10 kind=orientation
T2="$ID"
show_json "$T1"
jq_is "$J" '.type' training "training: type"
jq_is "$J" '[.site, .date, .kind, .trainer, (.participants|tostring), .notes] | join("|")' \
	"$S1|2023-10-01|host_training|State lead|6|Two new hosts" "training: fields"
jq_is "$J" '.participants | type' number "training: participants is a number"

# ---- milestones ----------------------------------------------------------------
add_rec "$A" milestone site="$S1" step=5 status=done date=2023-10-01 "notes=Orientation held"
M1="$ID"
add_rec "$A" milestone site="$S2" step=2 status=in_progress
M2="$ID"
show_json "$M1"
jq_is "$J" '.type' milestone "milestone: type"
jq_is "$J" '.step | type' number "milestone: step is a number"
jq_is "$J" '[.site, (.step|tostring), .status, .date, .notes] | join("|")' \
	"$S1|5|done|2023-10-01|Orientation held" "milestone: fields"

# ---- feedback -------------------------------------------------------------------
add_rec "$A" feedback cafe="$C1" responses=18 felt_safe=17 learned=16 will_return=15 \
	followed_through=5 wants_role=3 pfs_resilience=5.25 pfs_nurturing=6 \
	pfs_social_support=4.5 pfs_relationship=7.00 pfs_concrete=1.00
F1="$ID"
show_json "$F1"
jq_is "$J" '.type' feedback "feedback: type"
jq_is "$J" '.site' "$S1" "feedback: site is filled from the café"
jq_is "$J" '[.responses, .felt_safe, .learned, .will_return, .followed_through, .wants_role] | tojson' \
	'[18,17,16,15,5,3]' "feedback: counts"
jq_is "$J" '[.pfs_resilience, .pfs_nurturing, .pfs_social_support, .pfs_relationship, .pfs_concrete] | map(type) | unique | tojson' \
	'["number"]' "feedback: PFS means are JSON numbers"
jq_is "$J" '[.pfs_resilience, .pfs_nurturing, .pfs_social_support, .pfs_relationship, .pfs_concrete] | map(. * 100 | round) | tojson' \
	'[525,600,450,700,100]' "feedback: PFS values with two decimals"

# ---- audits -----------------------------------------------------------------
add_rec "$A" audit site="$S1" date=2024-04-20 "finding=Tables of six" severity=concern status=open
AU1="$ID"
show_json "$AU1"
jq_is "$J" '.type' audit "audit: type"
jq_is "$J" '[.site, .date, .finding, .severity, .status] | join("|")' \
	"$S1|2024-04-20|Tables of six|concern|open" "audit: fields"

# ---- edit, clear, history, rm for every type ------------------------------------
# lifecycle TYPE "ADD FIELDS" "EDIT field=value" FIELD NEWVALUE CLEARFIELD
lifecycle() {
	local type="$1" addf="$2" edit="$3" field="$4" newval="$5" clear="$6" x hist pre
	eval "set -- $addf"
	add_rec "$A" "$type" "$@"
	x="$ID"
	pre="${x:0:16}"
	cafe_in "$A" edit "$pre" "$edit"
	is "$RC" 0 "$type: edit by a 16-char prefix exits 0"
	show_json "$pre"
	jq_is "$J" ".$field | tostring" "$newval" "$type: the edit shows"
	jq_is "$J" '.id' "$x" "$type: show by prefix finds the record"
	cafe_in "$A" edit "$x" "$clear="
	is "$RC" 0 "$type: edit $clear= (clear) exits 0"
	show_json "$x"
	jq_is "$J" ".$clear" null "$type: $clear cleared"
	cafe_in "$A" history "$pre" --json
	is "$RC" 0 "$type: history --json exits 0"
	hist="$OUT"
	jq_is "$hist" 'length' 3 "$type: history has the add and two edits"
	jq_is "$hist" '[.[].op] | join(",")' "put,put,put" "$type: history ops"
	# The admin writes a site's records in that site's hub log.
	jq_is "$hist" '[.[].origin] | unique | length' 1 "$type: history has one author"
	case "$(printf '%s' "$hist" | jq -r '.[0].origin')" in
	"$ANODE") pass "$type: the author is this node" ;;
	*) jq_is "$(status_json "$A")" "[.heads[].origin] | index(\"$(printf '%s' "$hist" | jq -r '.[0].origin')\") != null" true \
		"$type: the author is one of this node's logs" ;;
	esac
	jq_is "$hist" '[.[].seq] | (. == sort and (unique | length) == 3)' true "$type: history seqs increase"
	jq_is "$hist" '[.[].hlc | type] | unique | join(",")' number "$type: history hlc are numbers"
	jq_is "$hist" '[.[].time | type] | unique | join(",")' string "$type: history time are strings"
	jq_is "$hist" "[.[1].changes[] | select(.field == \"$field\") | .new | tostring] | join(\",\")" \
		"$newval" "$type: history shows the edit's new value of $field"
	jq_is "$hist" "[.[2].changes[] | select(.field == \"$clear\") | .new] | tojson" \
		"[null]" "$type: history shows $clear cleared"
	jq_is "$hist" "[.[2].changes[] | select(.field == \"$clear\") | .old] | length" \
		1 "$type: history shows the old value of $clear"
	cafe_in "$A" rm "$pre"
	is "$RC" 0 "$type: rm by prefix exits 0"
	cafe_in "$A" list "$type" --json
	jq_is "$OUT" "[.[] | select(.id == \"$x\")] | length" 0 "$type: a removed record is not listed"
	cafe_in "$A" show "$x"
	if [ "$RC" = 0 ]; then
		ilike "$OUT" 'removed|deleted' "$type: show of a removed record says it is removed"
	else
		is "$RC" 2 "$type: show of a removed record exits 2"
	fi
	cafe_in "$A" edit "$x" "$edit"
	is "$RC" 2 "$type: edit of a removed record exits 2"
	cafe_in "$A" rm "$x"
	is "$RC" 2 "$type: rm twice exits 2"
	cafe_in "$A" history "$x" --json
	is "$RC" 0 "$type: history of a removed record still works"
	jq_is "$OUT" '.[-1].op' del "$type: history ends with the del"
}

lifecycle site '"name=Tmp Site" county=Lake' "county=Hill" county Hill county
lifecycle person '"name=Tmp Person" roles=host site='"$S1"' languages=en' \
	"name=Renamed" name Renamed languages
lifecycle cafe 'site='"$S2"' date=2024-05-01 format=parent factors=resilience topic=Tmp elements='"$ALL_ELEMENTS" \
	"attendees=12" attendees 12 topic
lifecycle action 'cafe='"$C2"' "title=Tmp action" owner=Bo' "status=doing" status doing owner
lifecycle training 'site='"$S1"' date=2024-02-02 kind=coaching trainer=Zed' \
	"participants=4" participants 4 trainer
lifecycle milestone 'site='"$S2"' step=3 status=not_started notes=Tmp' \
	"status=in_progress" status in_progress notes
lifecycle feedback 'cafe='"$C2"' responses=9 learned=2' "felt_safe=9" felt_safe 9 learned
lifecycle audit 'site='"$S2"' date=2024-05-05 "finding=Tmp finding" severity=info' \
	"status=resolved" status resolved severity

# ---- list and its filters ----------------------------------------------------
is "$(list_ids "$A" cafe)" "$(sorted "$C1" "$C2" "$C3" "$C4")" "list cafe: every live café"
cafe_in "$A" list cafe --json
jq_is "$OUT" '[.[] | .type] | unique | join(",")' cafe "list --json: objects carry their type"
jq_is "$OUT" "[.[] | select(.id == \"$C1\") | .attendees] | tojson" "[20]" "list --json: the same fields as show"
cafe_in "$A" show "$C1" --json
SHOWC1="$(printf '%s' "$OUT" | jq -cS .)"
cafe_in "$A" list cafe --json
is "$(printf '%s' "$OUT" | jq -cS "[.[] | select(.id == \"$C1\")][0]")" "$SHOWC1" \
	"list --json and show --json give the same object"
is "$(list_ids "$A" site)" "$(sorted "$S1" "$S2")" "list site"
is "$(list_ids "$A" cafe --site "$S1")" "$(sorted "$C1" "$C2")" "list cafe --site (full id)"
is "$(list_ids "$A" cafe --site "${S2:0:16}")" "$(sorted "$C3" "$C4")" "list cafe --site (prefix)"
is "$(list_ids "$A" cafe --since 2024-03-01)" "$(sorted "$C1" "$C2" "$C3")" "list --since is inclusive"
is "$(list_ids "$A" cafe --until 2024-03-31)" "$(sorted "$C1" "$C2" "$C4")" "list --until is inclusive"
is "$(list_ids "$A" cafe --since 2024-03-01 --until 2024-03-31)" "$(sorted "$C1" "$C2")" "list --since --until"
is "$(list_ids "$A" cafe --since 2024-03-02 --until 2024-03-30)" "" "list with an empty window"
cafe_in "$A" list cafe --since 2030-01-01 --json
is "$(printf '%s' "$OUT" | jq -c .)" "[]" "an empty list --json is []"
is "$(list_ids "$A" cafe --site "$S1" --since 2024-03-15)" "$C2" "list --site with --since"
is "$(list_ids "$A" cafe --where format=dads)" "$C2" "list --where format=dads"
is "$(list_ids "$A" cafe --where format=parent --where language=es)" "$C1" "two --where are and-ed"
is "$(list_ids "$A" cafe --where format=parent --where language=en)" "" "two --where, no match"
is "$(list_ids "$A" cafe --site "$S2" --where format=community)" "$C3" "list --site with --where"
is "$(list_ids "$A" action --where status=open)" "$A1" "list action --where status=open"
is "$(list_ids "$A" action --site "$S1")" "$A1" "list action --site (site filled from the café)"
is "$(list_ids "$A" person --site "$S1")" "$(sorted "$P1" "$P2")" "list person --site"
is "$(list_ids "$A" training --since 2024-01-01)" "$T2" "list training --since"
is "$(list_ids "$A" training --until 2023-12-31)" "$T1" "list training --until"
is "$(list_ids "$A" milestone --where status=done)" "$M1" "list milestone --where status=done"
is "$(list_ids "$A" milestone --site "$S2")" "$M2" "list milestone --site"
is "$(list_ids "$A" feedback --site "$S1")" "$F1" "list feedback --site (site filled from the café)"
is "$(list_ids "$A" audit --site "$S1" --since 2024-04-01)" "$AU1" "list audit --site --since"
cafe_in "$A" list cafe
is "$RC" 0 "list (human) exits 0"
ok test "$(nlines "$OUT")" -ge 4 -- "list (human) prints at least a line per café"

# ---- stats --------------------------------------------------------------------
cafe_in "$A" stats --json
is "$RC" 0 "stats --json exits 0"
is "$(printf '%s' "$OUT" | jq -c '{cafes, attendees, new_attendees, children_cared_for}')" \
	'{"cafes":4,"attendees":67,"new_attendees":24,"children_cared_for":11}' "stats totals (removed cafés not counted)"
cafe_in "$A" stats
is "$RC" 0 "stats (human) exits 0"
like "$OUT" '67' "stats (human) shows the attendance"

# by_is BY KEY... : checks one row of `stats --by BY --json` per key.
stats_by() {
	cafe_in "$A" stats --by "$1" --json
	is "$RC" 0 "stats --by $1 --json exits 0"
	SB="$OUT"
	jq_is "$SB" 'type' array "stats --by $1: an array"
}
row_is() {
	# row_is KEY|ALTKEY EXPECTED desc
	local k1="${1%%|*}" k2="${1##*|}"
	is "$(printf '%s' "$SB" | jq -c --arg a "$k1" --arg b "$k2" \
		'[.[] | select(.key == $a or .key == $b) | {cafes, attendees, new_attendees, children_cared_for}]')" \
		"[$2]" "$3"
}
stats_by site
jq_is "$SB" 'length' 2 "stats --by site: one row per site"
row_is "$S1|North Niños FRC" '{"cafes":2,"attendees":30,"new_attendees":7,"children_cared_for":11}' "stats --by site: North"
row_is "$S2|South School" '{"cafes":2,"attendees":37,"new_attendees":17,"children_cared_for":0}' "stats --by site: South"
stats_by month
jq_is "$SB" '[.[].key] | sort | join(",")' "2024-02,2024-03,2024-04" "stats --by month: keys YYYY-MM"
row_is "2024-03|2024-03" '{"cafes":2,"attendees":30,"new_attendees":7,"children_cared_for":11}' "stats --by month: March"
row_is "2024-02|2024-02" '{"cafes":1,"attendees":7,"new_attendees":7,"children_cared_for":0}' "stats --by month: February"
stats_by format
jq_is "$SB" '[.[].key] | sort | join(",")' "community,dads,parent,virtual" "stats --by format: keys are tokens"
row_is "dads|dads" '{"cafes":1,"attendees":10,"new_attendees":2,"children_cared_for":3}' "stats --by format: dads"
stats_by factor
jq_is "$SB" '[.[].key] | sort | join(",")' \
	"child_development,concrete_support,resilience,social_connections,social_emotional" "stats --by factor: keys are tokens"
row_is "resilience|resilience" '{"cafes":2,"attendees":50,"new_attendees":15,"children_cared_for":8}' \
	"stats --by factor: a café counts under each of its factors"
row_is "social_emotional|social_emotional" '{"cafes":1,"attendees":7,"new_attendees":7,"children_cared_for":0}' \
	"stats --by factor: social_emotional"

# ---- export -------------------------------------------------------------------
declare -A FIELDS=(
	[site]="id name organization county region partner_type languages status started"
	[person]="id name roles site trained languages"
	[cafe]="id site date format series_no topic factors hosts partners language attendees new_attendees children_cared_for tables max_table_size elements harvest"
	[action]="id cafe title owner due status outcome site"
	[training]="id site date kind trainer participants notes"
	[milestone]="id site step status date notes"
	[feedback]="id cafe site responses felt_safe learned will_return followed_through wants_role pfs_resilience pfs_nurturing pfs_social_support pfs_relationship pfs_concrete"
	[audit]="id site date finding severity status"
)
TYPES="site person cafe action training milestone feedback audit"
declare -A NLIVE=([site]=2 [person]=3 [cafe]=4 [action]=2 [training]=2 [milestone]=2 [feedback]=1 [audit]=1)

mkdir -p "$T/exp"
for ty in $TYPES; do
	cafe_in "$A" export "$ty" --format csv
	is "$RC" 0 "export $ty --format csv exits 0"
	printf '%s\n' "$OUT" >"$T/exp/$ty.csv"
	hdr="$($PY -c 'import csv,sys; print(",".join(next(csv.reader(open(sys.argv[1])))))' "$T/exp/$ty.csv")"
	is "${hdr%%,*}" id "export $ty csv: id is the first column"
	is "$(printf '%s' "$hdr" | tr ',' '\n' | sort | tr '\n' ' ')" \
		"$(printf '%s\n' ${FIELDS[$ty]} | sort | tr '\n' ' ')" "export $ty csv: the header names the fields"
	is "$($PY -c 'import csv,sys; print(sum(1 for _ in csv.reader(open(sys.argv[1]))) - 1)' "$T/exp/$ty.csv")" \
		"${NLIVE[$ty]}" "export $ty csv: one row per live record"
	cafe_in "$A" export "$ty" --format json
	is "$RC" 0 "export $ty --format json exits 0"
	printf '%s\n' "$OUT" >"$T/exp/$ty.json"
	jq_is "$OUT" 'length' "${NLIVE[$ty]}" "export $ty json: one object per live record"
	cafe_in "$A" list "$ty" --json
	is "$(jq -cS 'sort_by(.id)' "$T/exp/$ty.json")" "$(printf '%s' "$OUT" | jq -cS 'sort_by(.id)')" \
		"export $ty json: the same objects as list --json"
done
# The CSV cell of a quoted harvest survives csv parsing.
is "$($PY -c '
import csv,sys
rows=list(csv.DictReader(open(sys.argv[1])))
print([r["harvest"] for r in rows if r["id"]==sys.argv[2]][0])' "$T/exp/cafe.csv" "$C1")" \
	"$HARV" "export csv: quotes, commas and newlines are quoted properly"

# ---- import: round trip into other nodes ----------------------------------------
# strip ids (and references, which keep pointing at A's records) to compare
norm() { jq -cS 'map(del(.id)) | sort_by(tojson)'; }
for fmt in csv json; do
	B="$T/rt-$fmt"
	new_node "$B" "RT $fmt"
	for ty in $TYPES; do
		before="$(status_json "$B" | jq -c '[.heads[] | {(.origin): .seq}] | add // {}')"
		cafe_in "$B" import "$ty" "$T/exp/$ty.$fmt"
		is "$RC" 0 "import $ty from $fmt exits 0"
		[ "$RC" = 0 ] || diag "$ERR"
		after="$(status_json "$B" | jq -c '[.heads[] | {(.origin): .seq}] | add // {}')"
		# One commit in each log the import wrote (a site's records go
		# into the admin's hub log for that site, enrolled on first use).
		is "$(jq -rn --argjson b "$before" --argjson a "$after" \
			'[$a | to_entries[] | .value - ($b[.key] // 0)] | map(select(. != 0)) | unique | map(tostring) | join(",")')" \
			1 "import $ty from $fmt is one commit per log"
		cafe_in "$B" list "$ty" --json
		got="$OUT"
		cafe_in "$A" list "$ty" --json
		is "$(printf '%s' "$got" | norm)" "$(printf '%s' "$OUT" | norm)" \
			"import $ty from $fmt: equivalent records"
		is "$(printf '%s\n%s' "$got" "$OUT" | jq -s '[.[0][].id] - [.[1][].id] | length')" "${NLIVE[$ty]}" \
			"import $ty from $fmt: new ids"
	done
done

cp "$T/exp/cafe.json" "$T/exp/cafe-noext"
cafe_in "$T/rt-json" import cafe "$T/exp/cafe-noext"
is "$RC" 2 "import of a file without .csv/.json and no --format exits 2"
like "$ERR" 'format' "... and the message names the format"
cafe_in "$T/rt-json" import cafe "$T/exp/cafe-noext" --format json
is "$RC" 0 "import --format json reads a file without extension"

# ---- import with bad rows: nothing stored -----------------------------------------
ST0="$(status_json "$A" | jq -cS '{counts, commits, digest}')"
# Rows 2 and 3 go bad; LINES gets the file lines they start on (a quoted
# newline in an earlier cell makes a row span two lines).
LINES="$($PY - "$T/exp/cafe.csv" "$T/bad.csv" <<'EOF'
import csv, io, sys
rows = list(csv.reader(open(sys.argv[1], newline='')))
h = rows[0]
rows[2][h.index('date')] = '2024-02-30'
rows[3][h.index('factors')] = 'resilience,happiness'
line, starts, out = 1, [], io.StringIO()
for r in rows:
    starts.append(line)
    buf = io.StringIO()
    csv.writer(buf, lineterminator='\n').writerow(r)
    line += buf.getvalue().count('\n')
    out.write(buf.getvalue())
open(sys.argv[2], 'w', newline='').write(out.getvalue())
print(starts[1], starts[2], starts[3])
EOF
)"
read -r L1 L2 L3 <<<"$LINES"
cafe_in "$A" import cafe "$T/bad.csv"
is "$RC" 2 "import csv with bad rows exits 2"
like "$ERR" "bad\.csv:$L2: field date" "the error names line $L2 and field date"
like "$ERR" "bad\.csv:$L3: field factors" "the error names line $L3 and field factors"
unlike "$ERR" "bad\.csv:$L1:" "the good row on line $L1 is not blamed"
is "$(status_json "$A" | jq -cS '{counts, commits, digest}')" "$ST0" "bad csv import: nothing stored"

jq -c '.[1].date = "2024-13-01" | .[]' "$T/exp/cafe.json" |
	awk 'BEGIN{print "["} NR>1{print ","} {print} END{print "]"}' >"$T/bad.json"
cafe_in "$A" import cafe "$T/bad.json"
is "$RC" 2 "import json with a bad row exits 2"
# one object per line: "[" on line 1, the second object on line 4
is "$(grep -n 2024-13-01 "$T/bad.json" | cut -d: -f1)" 4 "(the bad object is on line 4 of bad.json)"
like "$ERR" 'bad\.json:4: field date' "the json error names line 4 (where the bad object is) and field date"
is "$(status_json "$A" | jq -cS '{counts, commits, digest}')" "$ST0" "bad json import: nothing stored"

{ head -n 1 "$T/exp/cafe.csv" | sed 's/$/,colour/'; tail -n +2 "$T/exp/cafe.csv" | sed 's/$/,red/'; } >"$T/badcol.csv"
cafe_in "$A" import cafe "$T/badcol.csv"
is "$RC" 2 "import csv with an unknown column exits 2"
like "$ERR" 'colour' "the error names the unknown column"
is "$(status_json "$A" | jq -cS '{counts, commits, digest}')" "$ST0" "unknown column import: nothing stored"

done_testing
