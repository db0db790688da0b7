#!/usr/bin/env bash
# errors.t: a table of bad command lines.  Each must exit 2, print nothing on
# stdout, and print exactly one line on stderr, `cafe: CMD: ...`, naming the
# field or option at fault.  Afterwards the node's counts, commits and digest
# are unchanged: nothing was stored.
. "$(dirname "$0")/lib.sh"

A="$T/a"
new_node "$A" "Errors hub" --role hub
add_rec "$A" site "name=Good site"
SITE="$ID"
add_rec "$A" site "name=Other site"
SITE2="$ID"
add_rec "$A" person "name=Host One" roles=host site="$SITE"
PERSON="$ID"
add_rec "$A" cafe site="$SITE" date=2024-03-01 format=parent factors=resilience \
	attendees=20 new_attendees=5 \
	elements=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
CAFE_ID="$ID"
add_rec "$A" feedback cafe="$CAFE_ID" responses=10
FB="$ID"
add_rec "$A" milestone site="$SITE" step=1 status=done
MS="$ID"

# The longest prefix (>= 4 hex) that two of these ids share: ambiguous.
AMBIG="$(printf '%s\n' "$SITE" "$SITE2" "$PERSON" "$CAFE_ID" "$FB" "$MS" | $PY -c '
import sys, itertools
ids = [l.strip() for l in sys.stdin if l.strip()]
best = ""
for a, b in itertools.combinations(ids, 2):
    n = 0
    while n < len(a) and a[n] == b[n]:
        n += 1
    if n > len(best):
        best = a[:n]
print(best if len(best) >= 4 else "SKIPAMBIG")')"

# The longest prefix the two sites share: ambiguous for a site reference.
SAMBIG="$($PY -c '
import sys
a, b = sys.argv[1], sys.argv[2]
n = 0
while n < len(a) and a[n] == b[n]:
    n += 1
print(a[:n] if n >= 4 else "SKIPAMBIG")' "$SITE" "$SITE2")"

# A value longer than any text field may hold.
LONG="$(head -c 9000 /dev/zero | tr '\0' x)"
NOTHERE=ffffffffffffffff

BEFORE="$(status_json "$A" | jq -cS '{counts, commits, digest}')"
ok test -n "$BEFORE" -- "status --json works before the bad commands"

# bad REGEX ARGS...: the command line must be refused as described above.
bad() {
	local re="$1" cmd
	shift
	cafe_in "$A" "$@"
	cmd="$*"
	cmd="${cmd:0:90}"
	note "$cmd -> ${ERR:0:200}"
	is "$RC" 2 "exit 2: $cmd"
	is "$(nlines "$ERR")" 1 "one stderr line: $cmd" || true
	like "$ERR" "^cafe: [^:]+: " "message is 'cafe: CMD: ...': $cmd"
	ilike "$ERR" "$re" "message names /$re/: $cmd"
	is "$OUT" "" "nothing on stdout: $cmd"
}

# Each line: REGEX the message must match | the arguments (shell-quoted).
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	re="${line%%==>*}"
	re="$(printf '%s' "$re" | sed 's/[[:space:]]*$//')"
	args="${line#*==>}"
	case "$line" in
	*SKIPAMBIG*)
		skip "no two ids share a 4-char prefix: ${args:0:40}"
		continue
		;;
	esac
	eval "set -- $args"
	bad "$re" "$@"
done <<EOF
# --- dates
date       ==> add cafe site=$SITE date=2024-02-30 format=parent factors=resilience
date       ==> add cafe site=$SITE date=2023-02-29 format=parent factors=resilience
date       ==> add cafe site=$SITE date=2024-13-01 format=parent factors=resilience
date       ==> add cafe site=$SITE date=2024-00-10 format=parent factors=resilience
date       ==> add cafe site=$SITE date=2024-04-31 format=parent factors=resilience
date       ==> add cafe site=$SITE date=24-03-01 format=parent factors=resilience
date       ==> add cafe site=$SITE date=2024/03/01 format=parent factors=resilience
date       ==> add cafe site=$SITE date=2024-3-1 format=parent factors=resilience
date       ==> add cafe site=$SITE date=2024-03-01x format=parent factors=resilience
date       ==> add cafe site=$SITE date=tomorrow format=parent factors=resilience
started    ==> add site name=S started=2024-02-31
trained    ==> add person name=P roles=host trained=yesterday
due        ==> add action cafe=$CAFE_ID title=T due=2024-06-31
date       ==> add training site=$SITE date=2024-9-09 kind=orientation
date       ==> add audit site=$SITE date=20240101 finding=F
date       ==> edit $CAFE_ID date=2024-02-30
# --- enumerations and sets
factors    ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience,happiness
factors    ==> add cafe site=$SITE date=2024-03-01 format=parent factors=Resilence
format     ==> add cafe site=$SITE date=2024-03-01 format=brunch factors=resilience
elements   ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience elements=welcome,karaoke
roles      ==> add person name=P roles=host,chef
partner_type ==> add site name=S partner_type=bank
status     ==> add site name=S status=thriving
kind       ==> add training site=$SITE date=2024-01-01 kind=lecture
status     ==> add milestone site=$SITE step=1 status=finished
severity   ==> add audit site=$SITE date=2024-01-01 finding=F severity=catastrophic
status     ==> add action cafe=$CAFE_ID title=T status=maybe
factors    ==> edit $CAFE_ID factors=nope
# --- counts and numbers
attendees  ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience attendees=-3
attendees  ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience attendees=ten
attendees  ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience attendees=3.5
attendees  ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience attendees=99999999999999999999999
children_cared_for ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience children_cared_for=-1
series_no  ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience series_no=8
series_no  ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience series_no=0
step       ==> add milestone site=$SITE step=7 status=done
step       ==> add milestone site=$SITE step=0 status=done
participants ==> add training site=$SITE date=2024-01-01 kind=orientation participants=-2
responses  ==> add feedback cafe=$CAFE_ID responses=-1
pfs_resilience ==> add feedback cafe=$CAFE_ID responses=5 pfs_resilience=7.01
pfs_resilience ==> add feedback cafe=$CAFE_ID responses=5 pfs_resilience=0.99
pfs_concrete ==> add feedback cafe=$CAFE_ID responses=5 pfs_concrete=3.333
pfs_nurturing ==> add feedback cafe=$CAFE_ID responses=5 pfs_nurturing=high
felt_safe  ==> add feedback cafe=$CAFE_ID responses=5 felt_safe=6
wants_role ==> add feedback cafe=$CAFE_ID responses=5 wants_role=9
felt_safe  ==> edit $FB felt_safe=11
step       ==> edit $MS step=9
# --- new_attendees > attendees
new_attendees ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience attendees=5 new_attendees=6
new_attendees ==> edit $CAFE_ID new_attendees=21
new_attendees|attendees ==> edit $CAFE_ID attendees=4
# --- text over the limit
topic      ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience topic=$LONG
harvest    ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience harvest=$LONG
name       ==> add site name=$LONG
finding    ==> add audit site=$SITE date=2024-01-01 finding=$LONG
# --- unknown field, unknown type
colour     ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience colour=red
colour     ==> edit $CAFE_ID colour=red
title      ==> edit $CAFE_ID title=x
brunch     ==> add brunch name=x
brunch     ==> list brunch
brunch     ==> export brunch --format csv
type       ==> add
# --- missing required field, clearing one
factors    ==> add cafe site=$SITE date=2024-03-01 format=parent
site       ==> add cafe date=2024-03-01 format=parent factors=resilience
date       ==> add cafe site=$SITE format=parent factors=resilience
format     ==> add cafe site=$SITE date=2024-03-01 factors=resilience
name       ==> add site organization=Org
roles      ==> add person name=P
cafe       ==> add action title=T
title      ==> add action cafe=$CAFE_ID
responses  ==> add feedback cafe=$CAFE_ID
kind       ==> add training site=$SITE date=2024-01-01
finding    ==> add audit site=$SITE date=2024-01-01
step       ==> add milestone site=$SITE status=done
factors    ==> edit $CAFE_ID factors=
site       ==> edit $CAFE_ID site=
name       ==> add site name=
# --- a field without =
name       ==> add site name
# --- references
site       ==> add cafe site=$NOTHERE date=2024-03-01 format=parent factors=resilience
site       ==> add cafe site=$PERSON date=2024-03-01 format=parent factors=resilience
hosts      ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience hosts=$SITE
hosts      ==> add cafe site=$SITE date=2024-03-01 format=parent factors=resilience hosts=$PERSON,$NOTHERE
cafe       ==> add action cafe=$SITE title=T
site       ==> add person name=P roles=host site=abc
site       ==> add person name=P roles=host site=zzzzzzzz
site       ==> add person name=P roles=host site=${SAMBIG}
# --- ids: unknown, ambiguous, too short, not hex
$NOTHERE   ==> show $NOTHERE
$NOTHERE   ==> edit $NOTHERE topic=x
$NOTHERE   ==> rm $NOTHERE
$NOTHERE   ==> history $NOTHERE
ambiguous|$AMBIG ==> show $AMBIG
ambiguous|$AMBIG ==> edit $AMBIG topic=x
ambiguous|$AMBIG ==> rm $AMBIG
abc        ==> show abc
zzzz       ==> show zzzzzzzz
id         ==> show
id         ==> edit
id         ==> rm
# --- commands and options
frobnicate ==> frobnicate
--bogus    ==> list cafe --bogus
--bogus    ==> add cafe --bogus
--bogus    ==> --bogus id
--bogus    ==> stats --bogus
--site     ==> list cafe --site
--since    ==> list cafe --since
--until    ==> list cafe --until
--where    ==> list cafe --where
--format   ==> export cafe --format
--by       ==> stats --by
since      ==> list cafe --since 2024-99-01
until      ==> list cafe --until yesterday
where|nosuch ==> list cafe --where nosuch=1
where|format ==> list cafe --where format
site       ==> list cafe --site $NOTHERE
format     ==> export cafe --format xml
by         ==> stats --by weekday
format     ==> import cafe /dev/null --format xml
jsn        ==> show $CAFE_ID --jsn
field|argument ==> edit $CAFE_ID
# --- files and bundles
nonexistent|No such ==> import cafe $T/nonexistent.csv
nonexistent|No such ==> bundle import $T/nonexistent.bundle
since      ==> bundle export $T/never.bundle --since nothex
since      ==> bundle export $T/never.bundle --since $SITE:1
since      ==> bundle export $T/never.bundle --since
bundle|export|import ==> bundle
bundle|frob ==> bundle frob
EOF


AFTER="$(status_json "$A" | jq -cS '{counts, commits, digest}')"
is "$AFTER" "$BEFORE" "status --json counts, commits and digest unchanged: nothing stored"

# And the node still works.
add_rec "$A" cafe site="$SITE" date=2024-03-02 format=dads factors=resilience \
	elements=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
jq_is "$(status_json "$A")" '.counts.cafe' 2 "a good add after the bad ones is stored"

done_testing
