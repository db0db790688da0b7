#!/usr/bin/env bash
# guided.t: guided entry on a real terminal.  A tmux session runs
# `cafe add cafe` with required fields missing; the test reads the screen
# (capture-pane) and types answers (send-keys), a wrong date and a
# misspelt factor among them, corrected when asked again; the record
# stored holds the answers.  Then `cafe edit ID` with no field walks the
# fields with their values as defaults.  Off a terminal nothing is asked.
. "$(dirname "$0")/lib.sh"

if ! command -v tmux >/dev/null; then
	echo "Bail out! tmux is required (apt-get install tmux)"
	exit 255
fi
A="$T/a"
new_node "$A" "Hub" --role hub
add_rec "$A" site "name=Pine County FRC"
SITE="$ID"
add_rec "$A" site "name=Riverside FRC"

tmux_use

tm new-session -d -s g -x 150 -y 60 \
	"env -u CAFE_NO_PROMPT TERM=xterm '$CAFE' --data '$A' add cafe attendees=16; echo EXIT=\$?; sleep 60"
ok wait_screen "^site: the site that ran the café \(required\)" -- "asks for the site with its help line"
ok wait_screen "^site:$" -- "the site prompt"
type_line "pine"
ok wait_screen "^date \[[0-9]{4}-[0-9]{2}-[0-9]{2}\]:$" -- "asks for the date, today in brackets"
type_line "2026-13-04"
ok wait_screen "'2026-13-04' is not a date" -- "a wrong date is refused at once"
ok wait_screen "^date \[[0-9-]+\]:$" -- "and asked again"
type_line "2026-11-04"
ok wait_screen "^  1\) parent" -- "the formats are numbered"
ok wait_screen "^format:$" -- "the format prompt"
type_line "1"
ok wait_screen "^series_no:$" -- "then the optional fields, in order"
ok wait_screen "Enter skips a field, \. skips the rest" -- "which Enter skips"
type_line ""
ok wait_screen "^topic:$" -- "the topic prompt"
type_line ""
ok wait_screen "^  4\) child_development" -- "the factors are numbered"
ok wait_screen "^factors:$" -- "the factors prompt"
type_line "resilence"
ok wait_screen "did you mean resilience\?" -- "a misspelt factor: did you mean resilience"
type_line "resilience,4"
ok wait_screen "^hosts:$" -- "the hosts prompt"
type_line "."
ok wait_screen "^New cafe:" -- "a summary"
ok wait_screen "^  site +Pine County FRC \(" -- "the summary names the site"
ok wait_screen "^  factors +resilience,child_development" -- "the summary shows the factors"
ok wait_screen "Save\? \[Y/n\]$" -- "asks to confirm"
type_line ""
ok wait_screen "^EXIT=0" -- "cafe add exits 0"
cafe_in "$A" list cafe --json
jq_is "$OUT" 'length' 1 "one café stored"
jq_is "$OUT" '.[0] | [.site, .date, .format, (.factors | join(",")), (.attendees | tostring)] | join(" ")' \
	"$SITE 2026-11-04 parent resilience,child_development 16" "the café holds the answers given"
CID="$(printf '%s' "$OUT" | jq -r '.[0].id')"
# the old session goes once the new one runs (the server exits with its last)
tm rename-session -t g gone

# cafe edit ID on a terminal: each field, its value as the default.
tm new-session -d -s g -x 150 -y 60 \
	"env -u CAFE_NO_PROMPT TERM=xterm '$CAFE' --data '$A' edit '$CID'; echo EXIT=\$?; sleep 60"
tm kill-session -t gone
ok wait_screen "^site \[Pine County FRC \([0-9a-f]+\)\]:$" -- "edit: the site, its name as the default"
type_line ""
ok wait_screen "^date \[2026-11-04\]:$" -- "edit: the date as the default"
type_line ""
ok wait_screen "^format \[parent\]:$" -- "edit: the format"
type_line "dads"
# Enter keeps each other value: answer each prompt as it appears.
prompts() { screen | grep -Ec '^[a-z_]+ \[.*\]:( .*)?$|^[a-z_]+:$' ; }
answered=3
for i in $(seq 1 300); do
	screen | grep -q "Save? \[Y/n\]" && break
	if [ "$(prompts)" -gt "$answered" ]; then
		type_line ""
		answered=$((answered + 1))
	fi
	sleep 0.05
done
ok wait_screen "^Changes to cafe:" -- "edit: a summary of the changes"
ok wait_screen "^  format +dads" -- "which shows the new format only"
type_line "y"
ok wait_screen "format parent -> dads on café" -- "the change is echoed"
ok wait_screen "^EXIT=0" -- "cafe edit exits 0"
cafe_in "$A" show "$CID" --json
jq_is "$OUT" '[.format, (.attendees | tostring)] | join(" ")' "dads 16" "the edit stored dads and kept the rest"

# A long text written in $EDITOR: "!" at its question.  The editor is
# given with an option, as EDITOR often is, and the scratch file is made
# in $TMPDIR, here a directory whose name has a space and a quote: the
# file's path must reach the editor as one argument, unparsed.
cat >"$T/editor.sh" <<'SH'
#!/bin/sh
[ "$1" = "-n" ] && [ $# = 2 ] || exit 1
case "$2" in "$TMPDIR"/cafe-text.*) ;; *) exit 1 ;; esac
printf 'Parents asked for a dads night.\nAnd child care.\n' >"$2"
SH
chmod +x "$T/editor.sh"
mkdir -p "$T/tmp it's"
# the old session goes once the new one runs (the server exits with its last)
tm rename-session -t g gone
tm new-session -d -s g -x 150 -y 60 \
	"env -u CAFE_NO_PROMPT TERM=xterm TMPDIR=\"$T/tmp it's\" EDITOR='$T/editor.sh -n' '$CAFE' --data '$A' edit '$CID'; echo EXIT=\$?; sleep 60"
tm kill-session -t gone
answered=0
for i in $(seq 1 300); do
	screen | grep -q '^harvest:$' && break
	if [ "$(prompts)" -gt "$answered" ]; then
		type_line ""
		answered=$((answered + 1))
	fi
	sleep 0.05
done
ok wait_screen "^  \(! opens \\\$EDITOR\)" -- "the harvest question offers the editor"
type_line "!"
ok wait_screen "^  harvest +Parents asked for a dads night\. And child care\." -- "the summary shows the editor's text on one line"
type_line ""
ok wait_screen "^EXIT=0" -- "cafe edit exits 0"
cafe_in "$A" show "$CID" --json
jq_is "$OUT" '.harvest' "$(printf 'Parents asked for a dads night.\nAnd child care.')" "the harvest written in the editor is stored"
is "$(ls -A "$T/tmp it's")" "" "the scratch file in \$TMPDIR is gone"

# Off a terminal: no question, an error.
cafe_in "$A" add cafe attendees=3
is "$RC" 2 "off a terminal cafe add does not ask: exit 2"
like "$ERR" "field site: is required" "it says what is missing"

done_testing
