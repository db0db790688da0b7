#!/usr/bin/env bash
# readme.t: runs the README's walk-through as written: every ```sh block of
# the "A walk through" section, in order, in one shell, each command
# required to succeed.  Only the hub's address, the listen address and the
# USB stick's path are replaced (by 127.0.0.1, a free port and a scratch
# directory); cafe and cafed are this build's.  Then checks what the
# walk-through promises it shows.
. "$(dirname "$0")/lib.sh"

CAFED="${CAFED:-$(dirname "$CAFE")/cafed}"
README="$TESTS_DIR/../../README.md"
PORT="$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
mkdir -p "$T/usb"

# The blocks, in order.
$PY - "$README" >"$T/walk.sh" <<'PY'
import sys
text = open(sys.argv[1], encoding="utf-8").read()
sec = text.split("\n## A walk through\n", 1)[1].split("\n## ", 1)[0]
out, inside = [], False
for line in sec.split("\n"):
    if line.startswith("```"):
        inside = line.strip() == "```sh" if not inside else False
        continue
    if inside:
        out.append(line)
print("\n".join(out))
PY
ok test "$(grep -c . "$T/walk.sh")" -ge 30 -- "the walk-through has its commands ($(grep -c . "$T/walk.sh") lines)"
sed -i -e "s/hub\.example\.org:7300/127.0.0.1:$PORT/g" -e "s/0\.0\.0\.0:7300/127.0.0.1:$PORT/g" \
	-e "s#/media/usb#$T/usb#g" "$T/walk.sh"
{
	printf 'set -eE\n'
	printf 'cafe() { %q "$@"; }\n' "$CAFE"
	printf 'cafed() { %q "$@" 2>>%q; }\n' "$CAFED" "$T/cafed.log"
	printf 'trap %q ERR\n' 'echo "WALK FAILED at line $LINENO: $BASH_COMMAND" >&2'
	# Each `cafed &` is a subshell running the function: stop its cafed too.
	# set +e: a daemon already gone (pkill finds nothing) is no failure.
	printf 'trap %q EXIT\n' 'set +e; for p in $(jobs -p); do pkill -P "$p"; kill "$p"; done 2>/dev/null; wait 2>/dev/null'
	# The daemons need a moment to listen before the next command dials.
	sed -e 's/^\(cafed .*&\)\(.*\)$/\1\2\nsleep 0.5/' "$T/walk.sh"
} >"$T/run.sh"
(cd "$T" && bash "$T/run.sh") >"$T/walk.out" 2>"$T/walk.err"
RC=$?
is "$RC" 0 "every command of the walk-through succeeds" || diag "$(tail -n 20 "$T/walk.err")"
unlike "$(cat "$T/walk.err")" "WALK FAILED" "no command failed"
W="$(cat "$T/walk.out")"
like "$W" "^cafesync-invite/1/127\.0\.0\.1:$PORT/" "the invite is one line"
like "$W" "^site +Pine County FRC \([0-9a-f]+\): site= defaults to it" "status names the laptop's site"
like "$W" "^id +date +site +format +attendees" "list cafe prints a header"
like "$W" "Pine County FRC \([0-9a-f]+\) +parent +16" "and the café with its site's name"
like "$W" "Ana R\. \([0-9a-f]+\)" "and its host's name"
like "$W" "^attendees 16 -> 17 on café [0-9-]+ \(parent\)" "edit echoes the change"
like "$W" "created by Pine laptop" "history names the laptop"
like "$W" "^removed café [0-9-]+ \(parent\)" "rm says what it removed"
like "$(cat "$T/walk.err")" "2 records still refer to" "and warns of the action and the feedback"
like "$W" "^restored café [0-9-]+ \(parent\) as [0-9a-f]{32} \(2 records re-pointed to it\)" "restore brings it back"
like "$W" "^  hub +up to date" "status: the hub is up to date"
like "$W" "would import .* unchanged \(nothing written\)" "the round trip's --dry-run changes nothing"
like "$W" "Pine County FRC +[0-9]+ " "the hub's stats by site name Pine"
done_testing
