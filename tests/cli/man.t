#!/usr/bin/env bash
# man.t: the manual pages say what the programs do.  cafe(1) has a
# section for every command `cafe help` lists, holding every option of
# that command's usage, and names every record type and every environment
# variable cafe reads; cafed(8) names every option of `cafed --help`;
# cafed.conf(5) has an entry for every option of daemon/config.c, and
# cafed -n takes each entry's default and bounds and refuses one past
# them.  Each page formats without a warning.
. "$(dirname "$0")/lib.sh"

ROOT="$(cd "$TESTS_DIR/../.." && pwd)"
MAN="$ROOT/docs/man"
CAFED="${CAFED:-$(dirname "$CAFE")/cafed}"

# The page's text as plain words: fonts dropped, \- and \e made - and \.
plain() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\e/\\/g' \
	    -e 's/\\(aq/'"'"'/g' -e 's/\\c$//' "$1"
}

# The lines of a page's section: from `.SS NAME` (or .SH) to the next.
section() { # FILE MACRO NAME
	plain "$1" | awk -v m="$2" -v n="$3" '
		$1 == ".SH" || $1 == ".SS" { on = ($1 == m && substr($0, 5) == n) ; next }
		on { print }'
}

for page in cafe.1 cafed.8 cafed.conf.5; do
	ok test -f "$MAN/$page" -- "$page exists"
	warn=$(groff -man -ww -z "$MAN/$page" 2>&1)
	is "$warn" "" "$page formats without warnings"
done

# ---- cafe(1) against cafe help ------------------------------------------
run_cafe help
is "$RC" 0 "cafe help exits 0"
# The lines under "Commands:" up to the next heading.
cmds=$(awk '/^[A-Z]/ { on = ($0 == "Commands:"); next } on && /^  [a-z]/ { print $1 }' <<<"$OUT")
isnt "$cmds" "" "cafe help lists commands"
ncmd=0
for cmd in $cmds; do
	ncmd=$((ncmd + 1))
	text=$(section "$MAN/cafe.1" .SS "$cmd")
	if [ -z "$text" ]; then
		fail "cafe(1) has a section for $cmd"
		continue
	fi
	pass "cafe(1) has a section for $cmd"
	run_cafe help "$cmd"
	usage=$(head -1 <<<"$OUT")
	missing=""
	for opt in $(grep -oE -- '--[a-z][a-z-]*' <<<"$usage" | sort -u); do
		grep -qF -- "$opt" <<<"$text" || missing="$missing $opt"
	done
	is "$missing" "" "cafe(1) $cmd names every option of: $usage"
done
note "$ncmd commands"

# Every command's section is one cafe help knows (no page for a gone one).
for cmd in $(plain "$MAN/cafe.1" | awk '$1 == ".SS" { print $2 }'); do
	grep -qx -- "$cmd" <<<"$cmds" || fail "cafe(1) documents $cmd, which cafe help does not list"
done

for opt in --data --version --help; do
	like "$(section "$MAN/cafe.1" .SH OPTIONS)" "^\.B.? $opt" "cafe(1) OPTIONS has $opt"
done

# The record types, as cafe help lists them under "Record types:".
run_cafe help
types=$(awk '/^[A-Z]/ { on = ($0 == "Record types:"); next } on && /^  [a-z]/ { print $1 }' <<<"$OUT")
isnt "$types" "" "cafe help names the record types"
text=$(section "$MAN/cafe.1" .SH "RECORD TYPES")
for t in $types; do
	like "$text" "^\.B $t\$" "cafe(1) RECORD TYPES has $t"
done

# Exit codes: those of cli.h.
text=$(section "$MAN/cafe.1" .SH "EXIT STATUS")
for code in $(sed -n 's/^#define EXIT_[A-Z]* \([0-9]*\).*/\1/p' "$ROOT/cli/cli.h"); do
	like "$text" "^\.B $code\$" "cafe(1) EXIT STATUS has $code"
done

# Every variable cafe's sources read (cli, storage, proto).
text=$(section "$MAN/cafe.1" .SH ENVIRONMENT)
for v in $(cat "$ROOT"/cli/*.c "$ROOT"/storage/*.c "$ROOT"/proto/*.c |
    grep -oE 'getenv\("[A-Z_]+"\)' | sed 's/getenv("\(.*\)")/\1/' | sort -u); do
	like "$text" "^\.B $v\$" "cafe(1) ENVIRONMENT has $v"
done

# ---- cafed(8) against cafed --help --------------------------------------
out=$("$CAFED" --help)
is "$?" 0 "cafed --help exits 0"
text=$(section "$MAN/cafed.8" .SH OPTIONS)
for opt in $(grep -oE -- '(^|[ [])-(-[a-z]+|[a-z])' <<<"$out" | tr -d ' [' | sort -u); do
	like "$text" "^\.B[IR]? $opt( |\$)" "cafed(8) OPTIONS has $opt"
done
# storage/audit.c runs in cafe audit only (its TMPDIR is in cafe(1)).
text=$(section "$MAN/cafed.8" .SH ENVIRONMENT)
for v in $(ls "$ROOT"/daemon/*.c "$ROOT"/storage/*.c | grep -v /audit.c |
    xargs cat |
    grep -oE 'getenv\("[A-Z_]+"\)' | sed 's/getenv("\(.*\)")/\1/' | sort -u); do
	like "$text" "^\.B $v\$" "cafed(8) ENVIRONMENT has $v"
done

# ---- cafed.conf(5) against daemon/config.c -------------------------------
# The entries: "SECTION NAME LINE" for each .TP followed by \fBname\fR = ...
entries=$(awk '
	$1 == ".SH" { sec = $2; gsub(/"|\[|\]/, "", sec); next }
	$1 == ".TP" { tp = 1; next }
	tp && /^\\fB[a-z_]+\\fR = / {
		name = $0; sub(/^\\fB/, "", name); sub(/\\fR.*/, "", name)
		print sec, name, $0
	}
	{ tp = 0 }' "$MAN/cafed.conf.5")
# Options of config.c: the numeric table ("section", "name") and the names
# the handlers compare.
opts=$( { grep -oE '\{ "[a-z]+", "[a-z_]+"' "$ROOT/daemon/config.c" |
	sed 's/{ "\([a-z]*\)", "\([a-z_]*\)"/\1 \2/'
	grep -oE 'strcmp\(name, "[a-z_]+"\)' "$ROOT/daemon/config.c" |
	sed 's/strcmp(name, "\([a-z_]*\)")/any \1/'; } | sort -u)
isnt "$opts" "" "config.c has options"
while read -r sec name; do
	if [ "$sec" = any ]; then
		like "$entries" "^[a-z]+ $name " "cafed.conf(5) has an entry for $name"
	else
		like "$entries" "^$sec $name " "cafed.conf(5) [$sec] has an entry for $name"
	fi
done <<<"$opts"

# Each documented entry is an option cafed -n takes: its default, and for
# a number its bounds (one past them refused).  The base keeps the
# cross-checks (ping_timeout > ping_interval, backoff_max >= backoff_min)
# out of the way; the option under test comes after it and wins.
BASE='ping_interval = 1
ping_timeout = 7200
backoff_min = 10
backoff_max = 3600000'
conf_rc() { # SECTION NAME VALUE: cafed -n's exit code on that file
	local f="$T/cafed.conf"
	if [ "$1" = limits ]; then
		printf '[limits]\n%s\n%s = %s\n' "$BASE" "$2" "$3" >"$f"
	else
		printf '[%s]\n%s = %s\n' "$1" "$2" "$3" >"$f"
	fi
	"$CAFED" -n --data "$T/node" --config "$f" >/dev/null 2>&1
	echo $?
}
# cafed -n checks the data directory too: a node for it to find.
"$CAFE" --data "$T/node" init --name "man page node" >/dev/null 2>&1
ok test -f "$T/node/node.key" -- "a node for cafed -n"
while read -r sec name line; do
	[ "$sec" = node ] || [ "$sec" = limits ] || continue
	def=$(sed -n 's/.*(default \([^,)]*\).*/\1/p' <<<"$line")
	isnt "$def" "" "cafed.conf(5) gives $name a default"
	is "$(conf_rc "$sec" "$name" "$def")" 0 "cafed -n takes $name = $def"
	if [[ $line =~ \(default\ [0-9]+,\ ([0-9]+)\ to\ ([0-9]+)\) ]]; then
		lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]}
		is "$(conf_rc "$sec" "$name" "$lo")" 0 "cafed -n takes $name = $lo"
		is "$(conf_rc "$sec" "$name" "$hi")" 0 "cafed -n takes $name = $hi"
		is "$(conf_rc "$sec" "$name" $((lo - 1)))" 2 "cafed -n refuses $name = $((lo - 1))"
		is "$(conf_rc "$sec" "$name" $((hi + 1)))" 2 "cafed -n refuses $name = $((hi + 1))"
	fi
	# Every word in bold after "=" is a value cafed takes (log_level's).
	for v in $(sed -e 's/ (default.*//' -e 's/^[^=]*= //' <<<"$line" |
	    grep -oE '\\fB[a-z]+\\fR' | sed 's/\\fB\(.*\)\\fR/\1/'); do
		is "$(conf_rc "$sec" "$name" "$v")" 0 "cafed -n takes $name = $v"
	done
done <<<"$entries"
is "$(conf_rc limits no_such_option 1)" 2 "cafed -n refuses an option the page does not have"

done_testing
