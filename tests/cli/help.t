#!/usr/bin/env bash
# help.t: walks the command table as `cafe help` prints it: every command
# and subcommand answers --help and -h with its usage (exit 0), refuses an
# option not in its row (exit 2, naming the options it takes), and every
# option its usage line shows is accepted by its parser; `cafe help` lists
# the record types, `cafe help TYPE` shows each type's fields and an
# example; cafe and cafed print their version.
. "$(dirname "$0")/lib.sh"

A="$T/a"
new_node "$A" "Hub" --role hub

run_cafe help
is "$RC" 0 "cafe help exits 0"
HELP="$OUT"
CMDS="$(printf '%s\n' "$HELP" | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 && $1 != "Commands:" {print $1}')"
TYPES="$(printf '%s\n' "$HELP" | sed -n '/^Record types:/,/^$/p' | awk 'NF > 1 && $1 != "Record" {print $1}')"
ok test "$(printf '%s\n' "$CMDS" | wc -l)" -ge 20 -- "cafe help lists the commands ($(printf '%s' "$CMDS" | tr '\n' ' '))"
for t in site person cafe action training milestone feedback audit member; do
	like "$TYPES" "^$t$" "cafe help lists the record type $t"
done
run_cafe -h
is "$RC" 0 "cafe -h exits 0"
like "$OUT" "^Commands:" "and prints the commands"
run_cafe --version
is "$RC" 0 "cafe --version exits 0"
like "$OUT" "^cafe [0-9]+\.[0-9]+" "and prints the version"
CAFED="${CAFED:-$(dirname "$CAFE")/cafed}"
"$CAFED" --version >"$T/v" 2>&1
is "$?" 0 "cafed --version exits 0"
like "$(cat "$T/v")" "^cafed [0-9]+\.[0-9]+" "and prints the version"

for cmd in $CMDS; do
	for h in --help -h; do
		cafe_in "$A" "$cmd" $h
		is "$RC" 0 "cafe $cmd $h exits 0"
		like "$OUT" "usage: cafe $cmd( |$)" "cafe $cmd $h prints its usage"
	done
	USAGE="$OUT"
	# The subcommands: each usage line "cafe CMD SUB ...".
	SUBS="$(printf '%s\n' "$USAGE" | sed -n "s/^usage: cafe $cmd \([a-z]*\)\( .*\)\{0,1\}$/\1/p" | sort -u)"
	if printf '%s\n' "$USAGE" | grep -q "^$cmd: "; then
		for sub in $SUBS; do
			cafe_in "$A" "$cmd" "$sub" --help
			is "$RC" 0 "cafe $cmd $sub --help exits 0"
			like "$OUT" "usage: cafe $cmd $sub" "cafe $cmd $sub --help prints its usage"
			is "$(printf '%s\n' "$OUT" | grep -c '^usage:')" 1 "cafe $cmd $sub --help prints its own usage only"
			cafe_in "$A" "$cmd" "$sub" --no-such-option
			is "$RC" 2 "cafe $cmd $sub --no-such-option exits 2"
			like "$ERR" "unknown option --no-such-option" "and names the option"
		done
		continue
	fi
	[ "$cmd" = help ] && continue
	cafe_in "$A" "$cmd" --no-such-option
	is "$RC" 2 "cafe $cmd --no-such-option exits 2"
	like "$ERR" "unknown option --no-such-option" "and names the option"
	# Every option of the usage line is one the parser knows: given
	# (with a value when it takes one), it is never "unknown".
	for opt in $(printf '%s\n' "$USAGE" | head -n 1 | grep -Eo -- '--[a-z-]+( [A-Z]|\])?' | sed 's/ [A-Z]$/=V/; s/\]$//' | sort -u); do
		name="${opt%%=*}"
		if [ "$opt" != "$name" ]; then arg="$name=x"; else arg="$name"; fi
		cafe_in "$A" "$cmd" "$arg"
		unlike "$ERR" "unknown option" "cafe $cmd takes $name, as its usage says"
	done
done

for t in $TYPES; do
	run_cafe help "$t"
	is "$RC" 0 "cafe help $t exits 0"
	like "$OUT" "^$t: " "cafe help $t names the type"
	like "$OUT" "^Example:" "cafe help $t shows an example"
	f="$(printf '%s\n' "$OUT" | sed -n '/^Fields:/{n;p;}' | awk '{print $1}')"
	ok test -n "$f" -- "cafe help $t lists its fields"
done
run_cafe help audit
like "$OUT" "finding" "cafe help audit shows the audit record's fields, not the command"
run_cafe help brunch
is "$RC" 2 "cafe help of neither a command nor a type: exit 2"
cafe_in "$A" lst cafe
like "$ERR" "did you mean list\?" "a misspelt command: did you mean list"

done_testing
