#!/usr/bin/env bash
# init.t: cafe init and cafe id: creating a node, its key file, the data
# directory from --data or $CAFE_DATA, and the refusals (re-init, bad role,
# bad network id, missing data directory, a key file others can read, a
# data directory that cannot be made).
. "$(dirname "$0")/lib.sh"

HEX64='^[0-9a-f]{64}$'

# ---- a fresh node ------------------------------------------------------
A="$T/a"
cafe_in "$A" init --name "Site A"
is "$RC" 0 "init exits 0"
like "$OUT" "$HEX64" "init prints a 64-hex node id"
is "$(nlines "$OUT")" 1 "init prints one line"
is "$ERR" "" "init writes nothing on stderr"
AID="$OUT"

ok test -d "$A" -- "init creates the data directory"
ok test -f "$A/node.key" -- "init creates node.key"
is "$(stat -c %a "$A/node.key" 2>/dev/null)" 600 "node.key has mode 0600"
is "$(stat -c %a "$A" 2>/dev/null)" 700 "the data directory has mode 0700"

cafe_in "$A" id
is "$RC" 0 "id exits 0"
is "$OUT" "$AID" "id prints the id init printed"

cafe_in "$A" status --json
is "$RC" 0 "status --json exits 0 on a fresh node"
json_ok "$OUT" "status --json is JSON"
ST="$OUT"
jq_is "$ST" '.node' "$AID" "status node is the node id"
jq_is "$ST" '.name' "Site A" "status name is the name given"
jq_is "$ST" '.network' "$AID" "without --network the node's own key is the network id"
jq_is "$ST" '.commits' 0 "a fresh node has no commits"
jq_is "$ST" '[.counts[]] | add // 0' 0 "a fresh node has no records"
jq_is "$ST" '.heads | length' 0 "a fresh node has no heads"
like "$(printf '%s' "$ST" | jq -r .digest)" "$HEX64" "status digest is 64 hex"

# ---- init again on the same directory ------------------------------------
KEYSUM="$(sha256sum "$A/node.key" | cut -d' ' -f1)"
cafe_in "$A" init --name "Other"
is "$RC" 2 "init again on the same directory exits 2"
is "$(nlines "$ERR")" 1 "init again: one line on stderr"
like "$ERR" '^cafe: init: ' "init again: message starts with 'cafe: init: '"
is "$OUT" "" "init again prints no id"
is "$(sha256sum "$A/node.key" | cut -d' ' -f1)" "$KEYSUM" "init again leaves node.key untouched"
cafe_in "$A" id
is "$OUT" "$AID" "id unchanged after the refused init"
cafe_in "$A" status --json
jq_is "$OUT" '.name' "Site A" "name unchanged after the refused init"

# ---- roles ------------------------------------------------------------------
for role in site hub consultant; do
	cafe_in "$T/role-$role" init --name "R $role" --role "$role"
	is "$RC" 0 "init --role $role exits 0"
	cafe_in "$T/role-$role" status --json
	jq_is "$OUT" '.role' "$role" "status role is $role"
done

cafe_in "$T/badrole" init --name X --role admiral
is "$RC" 2 "init --role admiral exits 2"
is "$(nlines "$ERR")" 1 "bad role: one line on stderr"
like "$ERR" '^cafe: init: .*role' "bad role: the message names the role"
ok test ! -e "$T/badrole/node.key" -- "bad role: no key file made"

# ---- network ---------------------------------------------------------------
NET="$AID"
cafe_in "$T/b" init --name "B" --network "$NET"
is "$RC" 0 "init --network HEX64 exits 0"
BID="$OUT"
isnt "$BID" "$AID" "the second node has its own key"
cafe_in "$T/b" status --json
jq_is "$OUT" '.network' "$NET" "status network is the one given"
jq_is "$OUT" '.node' "$BID" "status node is B's id"

n=0
for bad in xyz "${NET:0:63}" "${NET}0" "zz${NET:2}" ""; do
	n=$((n + 1))
	cafe_in "$T/badnet$n" init --name X --network "$bad"
	is "$RC" 2 "init --network '${bad:0:12}...' (len ${#bad}) exits 2"
	like "$ERR" '^cafe: init: .*network' "bad network: the message names the network"
	is "$(nlines "$ERR")" 1 "bad network: one line on stderr"
	ok test ! -e "$T/badnet$n/node.key" -- "bad network: no key file made"
done

cafe_in "$T/noname" init
is "$RC" 2 "init without --name exits 2"
like "$ERR" '^cafe: init: .*name' "init without --name: the message names --name"

cafe_in "$T/noval" init --name
is "$RC" 2 "init --name without a value exits 2"
like "$ERR" '^cafe: init: .*name' "init --name without a value: the message names --name"

# ---- $CAFE_DATA and --data -------------------------------------------------
E="$T/e"
CAFE_DATA="$E" run_cafe init --name "E"
is "$RC" 0 "init with \$CAFE_DATA exits 0"
EID="$OUT"
ok test -f "$E/node.key" -- "\$CAFE_DATA names the data directory"
CAFE_DATA="$E" run_cafe id
is "$OUT" "$EID" "id with \$CAFE_DATA"
CAFE_DATA="$A" run_cafe --data "$E" id
is "$OUT" "$EID" "--data wins over \$CAFE_DATA"

# Neither --data nor $CAFE_DATA (HOME is an empty scratch directory).
run_cafe id
isnt "$RC" 0 "id with no data directory and no node fails"
is "$(nlines "$ERR")" 1 "id with no data directory: one line on stderr"
like "$ERR" '^cafe: id: ' "id with no data directory: message starts with 'cafe: id: '"
is "$OUT" "" "id with no data directory prints no id"

run_cafe init --name Nowhere
if [ "$RC" = 0 ]; then
	# The architecture allows a per-user default: it must be under $HOME.
	like "$(find "$HOME" -name node.key)" 'node.key' \
		"init with no --data nor \$CAFE_DATA uses a per-user default under \$HOME"
else
	is "$RC" 2 "init with no --data nor \$CAFE_DATA exits 2"
	like "$ERR" '^cafe: init: .*(--data|CAFE_DATA)' "the message names --data or CAFE_DATA"
fi

cafe_in "$T/nothing-here" id
isnt "$RC" 0 "id on a directory without a node fails"
like "$ERR" '^cafe: id: ' "id on an empty directory: 'cafe: id: ' message"
is "$(nlines "$ERR")" 1 "id on an empty directory: one line on stderr"

run_cafe --data
is "$RC" 2 "--data without a value exits 2"
like "$ERR" 'data' "--data without a value: the message names --data"
is "$(nlines "$ERR")" 1 "--data without a value: one line on stderr"

run_cafe
is "$RC" 2 "no command at all exits 2"

# ---- a key file others can read is refused -------------------------------
chmod 0644 "$A/node.key"
cafe_in "$A" id
isnt "$RC" 0 "a group/world-readable node.key is refused"
like "$ERR" 'node\.key' "the refusal names node.key"
is "$(nlines "$ERR")" 1 "key refusal: one line on stderr"
chmod 0600 "$A/node.key"
cafe_in "$A" id
is "$OUT" "$AID" "after chmod 0600 the node opens again"

# ---- a store of another format -------------------------------------------------
# Format 1 (record ids without an owner tag) cannot be given owners after
# the fact: such a store is refused, saying what to do; a newer one too.
if command -v mdb_dump >/dev/null 2>&1 && command -v mdb_load >/dev/null 2>&1; then
	for v in 1 3; do
		O="$T/format$v"
		cp -a "$A" "$O"
		mdb_dump -s meta "$O" | awk -v v="$v" '
			prev == " 736368656d61" { printf " %08x\n", v; prev = ""; next }
			{ print; prev = $0 }' >"$T/meta$v.dump"
		mdb_load -s meta -f "$T/meta$v.dump" "$O" 2>/dev/null
		cafe_in "$O" status
		is "$RC" 2 "a store of format $v is refused (exit 2)"
		is "$(nlines "$ERR")" 1 "format $v: one line on stderr"
		if [ "$v" = 1 ]; then
			like "$ERR" "format 1, older than this cafesync's 2.*cafe init --restore" \
				"format 1: says it is older and how to make the node anew"
		else
			like "$ERR" "format 3, newer than format 2, which this cafesync reads: run the cafesync that wrote it, or a newer one" \
				"format 3: says to run a newer cafesync"
		fi
	done
	cafe_in "$A" id
	is "$OUT" "$AID" "the original store still opens"
else
	skip "lmdb-utils not installed: other formats not tested"
fi

# ---- a data directory that cannot be made ------------------------------
# The reason is the first mkdir's that failed, not whatever errno held
# after the calls that followed it.
: >"$T/plainfile"
cafe_in "$T/plainfile/a/b" init --name "Nowhere"
is "$RC" 2 "init under a plain file fails (exit 2)"
is "$ERR" "cafe: init: $T/plainfile/a/b: Not a directory" \
	"one line naming the directory and why"
ok test ! -e "$T/plainfile/a" -- "nothing is made"

done_testing
