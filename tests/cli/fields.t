#!/usr/bin/env bash
# fields.t: a command line with several mistakes reports every one at once,
# each on its own line naming the field and the rule, with a suggestion
# where one is close; tokens match in any case and are stored canonical;
# a text can come from a file; plausibility warnings never refuse.
. "$(dirname "$0")/lib.sh"

A="$T/a"
new_node "$A" "Hub" --role hub
add_rec "$A" site "name=Pine County FRC"
SITE="$ID"
ALL=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
BEFORE="$(status_json "$A" | jq -c .commits)"

# --- four mistakes, four lines
cafe_in "$A" add cafe site=pine date=11/04/2026 format=parnt factors=resilence,social_connections attendees=ten colour=red
is "$RC" 2 "four bad fields and an unknown one: exit 2"
is "$(nlines "$ERR")" 5 "five lines, one per mistake"
like "$ERR" "field date: '11/04/2026' is not a date: dates are YYYY-MM-DD: 2026-11-04\?" "the date, with the date meant"
like "$ERR" "field format: 'parnt' is not one of: .*; did you mean parent\?" "the format, did you mean parent"
like "$ERR" "field factors: 'resilence' is not one of: .*; did you mean resilience\?" "the factor, did you mean resilience"
like "$ERR" "field attendees: 'ten' is not a whole number" "the count"
like "$ERR" "field colour: .*no such field" "the unknown field"
is "$OUT" "" "nothing on stdout"
is "$(status_json "$A" | jq -c .commits)" "$BEFORE" "nothing stored"

cafe_in "$A" add cafe
is "$RC" 2 "add cafe with no fields, off a terminal: exit 2, no prompt"
is "$(nlines "$ERR")" 4 "every missing required field, one line each"
for f in site date format factors; do
	like "$ERR" "field $f: is required for a cafe \(" "names $f and its help"
done
cafe_in "$A" add cafe site=pine date=2026-11-04 format=parent factors=resilience atendees=3
like "$ERR" "field atendees: .*did you mean attendees\?" "a misspelt field name: did you mean attendees"
cafe_in "$A" add cafe site=pine date=2026-2-3 format=parent factors=resilience
like "$ERR" "2026-02-03\?" "2026-2-3: did you mean 2026-02-03"
cafe_in "$A" add cafe site=pine date=2026-02-30 format=parent factors=resilience
like "$ERR" "field date: '2026-02-30' .*no such day" "2026-02-30: no such day"

# --- tokens in any case, stored canonical
add_rec "$A" cafe site=pine date=2026-11-04 format=Parent "factors=Resilience, Child Development" \
	"elements=Welcome,THEME,agreements,pair-talk,table talk,commitment_cards,harvest,closing"
cafe_in "$A" show "$ID" --json
jq_is "$OUT" '.format' parent "format=Parent is stored as parent"
jq_is "$OUT" '.factors | join(",")' "resilience,child_development" "factors in any case and with spaces are canonical tokens"
jq_is "$OUT" '.elements | length' 8 "pair-talk and table talk are pair_talk and table_talk"
FIRST="$ID"

# --- text from a file, @@ for a leading @
printf 'Parents said the night felt safe.\nThey want a dads café.\n' >"$T/notes.txt"
add_rec "$A" cafe site=pine date=2026-11-06 format=dads factors=resilience "harvest=@$T/notes.txt" "topic=@@home" elements=$ALL
cafe_in "$A" show "$ID" --json
jq_is "$OUT" '.harvest' "$(printf 'Parents said the night felt safe.\nThey want a dads café.')" "harvest=@FILE reads the file"
jq_is "$OUT" '.topic' "@home" "@@ stands for a leading @"
cafe_in "$A" add cafe site=pine date=2026-11-06 format=dads factors=resilience "harvest=@$T/none.txt"
like "$ERR" "field harvest: cannot read .*none.txt" "a missing file is an error naming the field"

# --- "Ana's night": a quote inside a value needs no shell magic here
add_rec "$A" cafe site=pine date=2026-11-07 format=dads factors=resilience "topic=Ana's night" elements=$ALL
cafe_in "$A" show "$ID" --json
jq_is "$OUT" '.topic' "Ana's night" "an apostrophe in a quoted value is kept"

# --- plausibility warnings, never refusals
FAR="$(date -d '+90 days' +%F)"
cafe_in "$A" add cafe site=pine date="$FAR" format=community factors=resilience elements=$ALL
is "$RC" 0 "a café 90 days ahead is stored"
like "$ERR" "warning: field date: $FAR is more than 60 days ahead" "with a warning"
cafe_in "$A" add action cafe="$FIRST" title=Call due=2020-01-01
is "$RC" 0 "an action due in the past is stored"
like "$ERR" "warning: field due: 2020-01-01 is already past" "with a warning"
cafe_in "$A" add cafe site=pine date=2026-11-04 format=PARENT factors=resilience elements=$ALL
is "$RC" 0 "the same café typed twice is stored"
like "$ERR" "warning: a parent café of Pine County FRC \([0-9a-f]+\) on 2026-11-04 is already stored: [0-9a-f]*${FIRST: -4};" \
	"with a warning naming the one stored"

done_testing
