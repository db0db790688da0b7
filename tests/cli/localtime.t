#!/usr/bin/env bash
# localtime.t: people read local time.  history, log and conflicts print
# times in the time zone TZ names; JSON keeps UTC ISO-8601; "today" and
# "overdue" use the local date.
. "$(dirname "$0")/lib.sh"

if [ ! -e /usr/share/zoneinfo/America/Denver ] || ! command -v faketime >/dev/null; then
	skip "no tzdata or faketime"
	done_testing
fi
A="$T/a"
# Every commit is made at a faked time: the clock never steps back.
# (faketime preloads a library: let an ASan build of cafe accept that)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"
FT() { TZ=America/Denver faketime "$@"; }
FT '2026-11-04 23:00:00' "$CAFE" --data "$A" init --name Hub --role hub >/dev/null
FT '2026-11-04 23:10:00' "$CAFE" --data "$A" add site "name=Pine County FRC" >/dev/null
ALL=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
# 23:30 on 4 November in Denver is 06:30 UTC on the 5th.
TZ=America/Denver faketime '2026-11-04 23:30:00' "$CAFE" --data "$A" add cafe site=pine date=today \
	format=parent factors=resilience elements=$ALL >"$T/o" 2>"$T/e"
ID="$(tail -n 1 "$T/o")"
hist() { TZ="$1" "$CAFE" --data "$A" history "$ID" | head -n 1; }
like "$(hist America/Denver)" "^2026-11-04 23:30 +created" "history in Denver: 2026-11-04 23:30"
like "$(hist UTC)" "^2026-11-05 06:30 +created" "history in UTC: 2026-11-05 06:30"
like "$(hist Asia/Kolkata)" "^2026-11-05 12:00 +created" "history in Kolkata: 2026-11-05 12:00"
like "$(TZ=America/Denver "$CAFE" --data "$A" log | tail -n 1)" "^2026-11-04 23:30 +by Hub" "log in local time"
J1="$(TZ=America/Denver "$CAFE" --data "$A" history "$ID" --json | jq -r '.[0].time')"
J2="$(TZ=Asia/Kolkata "$CAFE" --data "$A" history "$ID" --json | jq -r '.[0].time')"
like "$J1" "^2026-11-05T06:30:[0-9.]+Z$" "JSON keeps UTC"
is "$J2" "$J1" "whatever TZ says"
cafe_in "$A" show "$ID" --json
jq_is "$OUT" '.date' 2026-11-04 "date=today was the Denver date"

# An action due on the 4th is not overdue at 23:30 on the 4th in Denver.
FT '2026-11-04 23:35:00' "$CAFE" --data "$A" add action cafe="$ID" title=Call due=2026-11-04 >/dev/null 2>&1
ok test $? = 0 -- "add an action due on the 4th"
J="$(FT '2026-11-04 23:30:00' "$CAFE" --data "$A" audit --json 2>/dev/null)"
jq_is "$J" '.today' 2026-11-04 "audit's today is the local date"
jq_is "$J" '[.. | objects | select(has("overdue")) | .overdue] | any' false "the action due today is not overdue"
J="$(FT '2026-11-05 08:00:00' "$CAFE" --data "$A" audit --json 2>/dev/null)"
jq_is "$J" '[.. | objects | select(has("overdue")) | .overdue] | any' true "the next morning it is"

done_testing
