#!/usr/bin/env bash
# format.t: the store's format version.  A store of a newer format than
# this cafesync reads is refused by cafe and cafed, naming both formats,
# and left as it was: put back to this format, it opens with every record.
# (A store of format 1, older, is refused too, with what to do: init.t.)
. "$(dirname "$0")/lib.sh"

CAFED="${CAFED:-$(dirname "$CAFE")/cafed}"
if ! command -v mdb_dump >/dev/null || ! command -v mdb_load >/dev/null; then
	echo "Bail out! mdb_dump and mdb_load are required (apt-get install lmdb-utils)"
	exit 255
fi

# set_format DIR N: rewrites the meta key "schema" (4 bytes, big-endian).
set_format() {
	# mdb_load does not know the page size line mdb_dump writes.
	mdb_dump -s meta "$1" | grep -v '^db_pagesize=' >"$T/meta.dump" || return 1
	awk -v v="$(printf '%08x' "$2")" '
		prev == " 736368656d61" { print " " v; prev = ""; next }
		{ print; prev = $0 }' "$T/meta.dump" >"$T/meta.new"
	mdb_load -s meta -f "$T/meta.new" "$1"
}

A="$T/a"
run_ok "init" "$A" init --name "Format node"
run_ok "add a site" "$A" add site "name=Pine"
cafe_in "$A" status
BEFORE=$(grep -E '^(node|digest|commits|records)' <<<"$OUT")

ok set_format "$A" 3 -- "the store is marked format 3"
cafe_in "$A" status
is "$RC" 2 "cafe refuses a store of a newer format"
is "$ERR" "cafe: status: $A: the store is of format 3, newer than format 2, which this cafesync reads: run the cafesync that wrote it, or a newer one" \
	"its message names both formats and what to do"
cafe_in "$A" add site "name=Other"
is "$RC" 2 "cafe add refuses it too"
ERR=$("$CAFED" --data "$A" 2>&1)
is "$?" 1 "cafed refuses it"
like "$ERR" "^cafed: $A: the store is of format 3, newer than format 2" "with the same message"

ok set_format "$A" 2 -- "the store is put back to format 2"
cafe_in "$A" status
is "$RC" 0 "it opens again"
is "$(grep -E '^(node|digest|commits|records)' <<<"$OUT")" "$BEFORE" \
	"with every record, and nothing written while refused"
run_ok "verify" "$A" verify

done_testing
