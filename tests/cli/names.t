#!/usr/bin/env bash
# names.t: references by name (case and accents aside), by id and by short
# id; one match resolves, several list the candidates and exit 2, none
# says so; every listing, show, history and conflicts print names beside
# short ids, and every short id printed can be typed back; a node enrolled
# for a site takes its site as the default; date=today is the local date.
. "$(dirname "$0")/lib.sh"

H="$T/hub"
S="$T/pine"
new_node "$H" "State hub" --role hub
NET="$NODE"
add_rec "$H" site "name=Pine County FRC" county=Pine
PINE="$ID"
add_rec "$H" site "name=Riverside FRC"
RIVER="$ID"
add_rec "$H" site "name=Pine Ridge School"
RIDGE="$ID"
add_rec "$H" person "name=María Peña" roles=host site="Pine County FRC"
MARIA="$ID"
add_rec "$H" person "name=José Ñúñez" roles=parent_leader site=riverside
JOSE="$ID"
add_rec "$H" person "name=Maria Lopez" roles=host site=riverside
MLOPEZ="$ID"
add_rec "$H" person "name=Ana R." roles=host
ANA="$ID"

# --- resolution
show_field() { cafe_in "$H" show "$1" --json; printf '%s' "$OUT" | jq -r ".$2"; }
is "$(show_field "maria pena" id)" "$MARIA" "a name without accents, lower case, finds María Peña"
is "$(show_field "MARÍA  PEÑA" id)" "$MARIA" "upper case, accents and doubled spaces: the same name"
is "$(show_field "jose nunez" id)" "$JOSE" "José Ñúñez typed as jose nunez"
is "$(show_field "Riverside" id)" "$RIVER" "a unique beginning of a name resolves"
cafe_in "$H" show "Pine"
is "$RC" 2 "a name two sites begin with: exit 2"
like "$ERR" "Pine County FRC \([0-9a-f]{4,}\)" "the candidates are listed with their ids (Pine County FRC)"
like "$ERR" "Pine Ridge School \([0-9a-f]{4,}\)" "the candidates are listed with their ids (Pine Ridge School)"
is "$(nlines "$ERR")" 1 "on one line"
cafe_in "$H" add person name=X roles=host site=maria
is "$RC" 2 "site=maria: no site of that name (persons are not sites): exit 2"
like "$ERR" "field site: no site named or with id 'maria'" "says no site is named so"
cafe_in "$H" show "Nobody Here"
is "$RC" 2 "an unknown name: exit 2"
like "$ERR" "no record named or with id 'Nobody Here'" "says nothing is named so"
cafe_in "$H" add cafe site=pine date=2026-11-04 format=parent factors=resilience hosts=maria
is "$RC" 2 "hosts=maria: two persons begin with Maria: exit 2"
like "$ERR" "María Peña" "names María Peña among the candidates"
like "$ERR" "Maria Lopez" "and Maria Lopez"
unlike "$ERR" "José" "but not José"

# --- names in, names out
add_rec "$H" cafe "site=Pine County FRC" date=2026-11-04 format=parent factors=resilience \
	"hosts=maría peña,Ana R." attendees=16
CAFEID="$ID"
cafe_in "$H" show "$CAFEID" --json
jq_is "$OUT" '.site' "$PINE" "the site typed by name is stored as its id"
jq_is "$OUT" '.hosts | join(",")' "$MARIA,$ANA" "hosts typed by name are stored as ids"
cafe_in "$H" list cafe
like "$OUT" "^id +date +site +format" "list prints a header"
like "$OUT" "Pine County FRC \([0-9a-f]{4,8}\)" "list shows the site's name beside its short id"
like "$OUT" "María Peña \([0-9a-f]{4,8}\)" "list shows the hosts' names"
SHORT="$(printf '%s\n' "$OUT" | sed -n 2p | awk '{print $1}')"
like "$SHORT" "^[0-9a-f]{4,8}$" "the café's short id has 4 to 8 hex digits"
is "${CAFEID: -${#SHORT}}" "$SHORT" "the short id is the end of the id"
cafe_in "$H" show "$SHORT" --json
jq_is "$OUT" '.id' "$CAFEID" "the short id printed by list is typed back by show"
cafe_in "$H" show "${CAFEID:0:16}" --json
jq_is "$OUT" '.id' "$CAFEID" "a long id prefix still works"
cafe_in "$H" show "$CAFEID"
like "$OUT" "^site +Pine County FRC \(" "show prints the site's name"
like "$OUT" "^hosts +María Peña \([0-9a-f]+\), Ana R\. \(" "show prints the hosts' names"
# Every short id any listing printed resolves to its record.
cafe_in "$H" list person
n=0
while read -r sid rest; do
	[ "$sid" = id ] && continue
	cafe_in "$H" show "$sid" --json
	[ "$RC" = 0 ] && n=$((n + 1))
done <<<"$OUT"
is "$n" 4 "each of the 4 short ids of list person is typed back"
cafe_in "$H" edit "$SHORT" attendees=17
cafe_in "$H" history "$SHORT"
like "$OUT" "created by State hub" "history names the author"
like "$OUT" "hosts: \(none\) -> María Peña \(" "history prints references by name"
like "$OUT" "attendees: 16 -> 17" "history shows the edit"
cafe_in "$H" log
like "$OUT" "by State hub" "log names the author"

# --- conflicts: two nodes edit the same field, by bundle, names shown
R="$T/replica"
new_node "$R" "State replica" --role hub --network "$NET"
enroll "$H" "$R" hub
cafe_in "$H" bundle export "$T/all.bundle"
cafe_in "$R" bundle import "$T/all.bundle"
run_ok "replica edits the topic" "$R" edit "$CAFEID" "topic=Replica topic"
run_ok "hub edits the topic" "$H" edit "$CAFEID" "topic=Hub topic"
cafe_in "$R" bundle export "$T/r.bundle"
cafe_in "$H" bundle import "$T/r.bundle"
cafe_in "$H" conflicts
like "$OUT" "café 2026-11-04 \(parent\) \([0-9a-f]+\) topic: .* by (State replica|State hub) at .* lost to .* by (State hub|State replica)" \
	"conflicts names the café and both authors"

# --- the site default on a node enrolled for a site
new_node "$S" "Pine laptop" --role site --network "$NET"
enroll "$H" "$S" site "Pine County FRC"
cafe_in "$S" status
like "$OUT" "^site +Pine County FRC \([0-9a-f]+\)" "status shows the node's site by name"
add_rec "$S" cafe date=2026-11-05 format=dads factors=resilience
cafe_in "$S" show "$ID" --json
jq_is "$OUT" '.site' "$PINE" "site= defaults to the node's site"
cafe_in "$S" add cafe site=Riverside date=2026-11-05 format=dads factors=resilience
is "$RC" 2 "another site given explicitly is still checked (refused: not its own)"
cafe_in "$H" add cafe date=2026-11-05 format=dads factors=resilience
is "$RC" 2 "the hub has no default site: exit 2"
like "$ERR" "field site: is required" "and says site is required"

# --- date=today and date=yesterday, local date
if [ -e /usr/share/zoneinfo/America/Denver ] && command -v faketime >/dev/null; then
	# (faketime preloads a library: let an ASan build of cafe accept that)
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
	# 23:30 in Denver is 06:30 UTC the next day.
	TZ=America/Denver faketime '2026-11-04 23:30:00' "$CAFE" --data "$S" add cafe date=today \
		format=parent factors=resilience >"$T/o" 2>"$T/e"
	cafe_in "$S" show "$(tail -n 1 "$T/o")" --json
	jq_is "$OUT" '.date' 2026-11-04 "date=today at 23:30 in Denver is the Denver date"
	TZ=America/Denver faketime '2026-11-04 23:30:00' "$CAFE" --data "$S" add cafe date=yesterday \
		format=dads factors=resilience >"$T/o" 2>"$T/e"
	cafe_in "$S" show "$(tail -n 1 "$T/o")" --json
	jq_is "$OUT" '.date' 2026-11-03 "date=yesterday is the day before, locally"
else
	skip "no tzdata or faketime"
	skip "no tzdata or faketime"
fi

done_testing
