#!/usr/bin/env bash
# audit_damage.t: cafe audit on a store altered underneath it.  Every table
# derived from the log (records, the bydate and bysite indexes, history,
# conflicts, seen bases, heads, digest, the node's clock) is altered by one
# bit, in turn, and the audit fails naming the table; a received time that
# cannot be right fails it too.  The same bit flipped in place in the file
# (keys out of order) fails it.  A truncated store and a store with a
# damaged page give "store damaged" and exit 1 from audit, verify and
# status, never a signal; random single-bit changes anywhere in the used
# pages never kill them, and every change to what the log derives is seen.
. "$(dirname "$0")/lib.sh"

ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
TOOL="$PY $TESTS_DIR/storetool.py"
for c in mdb_dump mdb_load mdb_copy mdb_stat; do
	if ! command -v "$c" >/dev/null 2>&1; then
		echo "Bail out! $c is required (apt-get install lmdb-utils)"
		exit 255
	fi
done
# Scratch stores and the guard's directories go here, to be counted.
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR"
# A crash must reach cafe's guard as a signal, not as a sanitizer report.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0:handle_sigbus=0:handle_abort=0:handle_sigfpe=0:handle_sigill=0"

# ---- a hub and a site, with every derived table filled ---------------------
H="$T/hub"
new_node "$H" "Hub" --role hub
HID="$NODE"
add_rec "$H" site "name=Alpha FRC" county=Adams
SA="$ID"
S="$T/site"
new_node "$S" "Alpha laptop" --role site --network "$HID"
enroll "$H" "$S" site "$SA"
add_rec "$S" person "name=Dana Host" roles=host site="$SA"
add_rec "$S" cafe site="$SA" date=2026-03-01 format=parent factors=resilience \
	attendees=10 new_attendees=4 topic=Start elements=$ELEMENTS
C="$ID"
run_ok "the site edits its café (a seen base)" "$S" edit "$C" attendees=11
cafe_in "$S" bundle export "$T/s1.bundle"
cafe_in "$H" bundle import "$T/s1.bundle"
is "$RC" 0 "the hub imports the site's log" || diag "$ERR"
# Both edit the topic without seeing the other's edit: a conflict.
run_ok "the hub edits the topic" "$H" edit "$C" topic=FromHub
run_ok "the site edits the topic" "$S" edit "$C" topic=FromSite
cafe_in "$S" bundle export "$T/s2.bundle"
cafe_in "$H" bundle import "$T/s2.bundle"
is "$RC" 0 "the hub imports the site's edit" || diag "$ERR"

# Eighty cafés in one commit: branch pages, and a commit on overflow pages.
{
	echo "site,date,format,factors,attendees,topic,elements"
	for i in $(seq 1 80); do
		printf '%s,2025-%02d-%02d,parent,resilience,%d,Topic number %d,"%s"\n' \
			"$SA" $((i % 12 + 1)) $((i % 28 + 1)) "$i" "$i" "$ELEMENTS"
	done
} >"$T/cafes.csv"
run_ok "the hub imports eighty cafés" "$H" import cafe "$T/cafes.csv" --format csv

cafe_in "$H" audit --json
is "$RC" 0 "the untouched hub audits clean" || diag "$OUT$ERR"
jq_is "$OUT" '.integrity.damaged' false "--json: not damaged"
for db in records bydate bysite history conflicts seen heads; do
	n="$($TOOL entries "$H" "$db" | wc -l)"
	[ "$n" -gt 0 ] && pass "the hub holds $db entries ($n)" || fail "the hub holds $db entries"
done

W="$T/w"
# fresh: W becomes a copy of the hub.
fresh() {
	rm -rf "$W"
	cp -a "$H" "$W"
}

fresh
$TOOL rewrite "$W"
cafe_in "$W" audit
is "$RC" 0 "a store rewritten unchanged by mdb_dump and mdb_load audits clean" || diag "$OUT$ERR"

# ---- one bit of each derived table -------------------------------------------
# flip DB MATCH PART OFFSET BIT KIND WHY DESC: on a fresh copy, flips the
# bit and checks the audit fails with a fault of KIND whose reason matches
# WHY, in --json and in the text.
flip() {
	local db="$1" match="$2" part="$3" off="$4" bit="$5" kind="$6" why="$7" desc="$8"

	fresh
	if ! $TOOL flip "$W" "$db" "$match" "$part" "$off" "$bit" >"$T/flip.out" 2>"$T/flip.err"; then
		fail "$desc: flip" "$(cat "$T/flip.err")"
		return
	fi
	cafe_in "$W" audit --json
	is "$RC" 1 "$desc: the audit fails"
	jq_is "$OUT" "[.integrity.faults[] | select(.kind == \"$kind\" and (.why | test(\"$why\")))] | length > 0" true \
		"$desc: a $kind fault says so" || diag "$OUT"
	cafe_in "$W" audit
	like "$OUT" "^  $kind[ :].*$why" "$desc: the text names it"
	like "$ERR" "integrity does not hold" "$desc: and says integrity does not hold"
}

HEXC="$C"
flip records "$HEXC" value -1 0 record "differs from the one the log makes" "a record's value"
flip bydate "$HEXC" key -1 0 derived "index bydate: entry [(]cafe, 2026-03-01[)] is missing" "a bydate key"
cafe_in "$W" list cafe --json
jq_is "$OUT" "[.[] | select(.id == \"$C\")] | length" 0 "(the altered bydate key hides the café from cafe list)"
flip bydate "$HEXC" key -1 0 derived "index bydate: entry [(]cafe, 2026-03-01[)] is extra" "a bydate key, the other side"
flip bydate "$HEXC" key 3 0 derived "index bydate: entry [(]cafe, 2026-03-01[)] is missing" "a bydate key's date"
flip bysite "$HEXC" key -1 0 derived "index bysite: entry [(]cafe, site ${SA:0:12}, 2026-03-01[)] is missing" "a bysite key"
flip bysite "$HEXC" key 1 0 derived "index bysite: entry [(]cafe, site [0-9a-f]{12}, 2026-03-01[)] is extra" "a bysite key's site"
flip history "$HEXC" key -1 0 history "not in its record's history" "a history key"
flip conflicts "$HEXC" key -1 0 derived "conflicts: the overwritten value of field topic .* is missing" "a conflicts key"
flip conflicts "$HEXC" value -1 0 derived "conflicts: the overwritten value of field topic .* differs" "a conflicts value"
flip seen "$HEXC" key -1 0 derived "seen: the base of field [a-z]+ at clock .* is missing" "a seen key"
# A name entry ends with its record's id; a short-id entry is the tag fe
# and the id's hex digits reversed.
flip names "$SA" key -1 0 derived "names: the name .alpha frc. of a site is missing" "a name entry"
flip names "fe$(rev <<<"$SA")" key -1 0 derived "names: the short-id entry of a record is missing" "a short-id entry"
flip heads "${HID}" value 12 0 head "hash is not the hash of the last commit" "a head's hash"
flip heads "${HID}" value 44 0 head "clock is not the last commit's" "a head's clock"
flip meta "$(printf digest | od -An -tx1 | tr -d ' \n')" value 0 0 digest "not the digest of the stored records" "the digest"
# The clock's top byte is 0x01 from 2004 to 2039: clearing its bit moves
# the node's clock 35 years back.
flip meta "$(printf hlc | od -An -tx1 | tr -d ' \n')" value 0 0 derived "node's clock .* is behind" "the node's clock"
flip commits "${HID}0000000000000002" value -1 0 commit "signature does not verify" "a commit's bytes"

# ---- received times -------------------------------------------------------------
flip commits "${HID}0000000000000002" value 0 6 received "more than a day after this machine's clock" \
	"a received time in the future"
# A received time is ms since 1970 in 8 big-endian bytes; its byte 2 is
# 0x01 from 2004 to 2039: clearing its bit moves it 35 years back.
flip commits "${HID}0000000000000003" value 2 0 received "more than a day before seq 2 of its origin" \
	"a received time before its predecessor's"


# ---- the same bit flipped in place in the file ------------------------------------
# No rewrite: the key changes where it lies, as a disk or a hex editor would
# change it.  A compacted copy has no stale pages, so the key is found once.
inplace() {
	local db="$1" hex="$2" desc="$3" offs
	fresh
	$TOOL compact "$W"
	offs="$($TOOL find "$W" "$hex")"
	is "$(nlines "$offs")" 1 "$desc: the key is in the file once"
	$TOOL flipbit "$W" "$((${offs%%$'\n'*} + ${#hex} / 2 - 1))" 0
	cafe_in "$W" audit
	is "$RC" 1 "$desc: the audit fails"
	like "$OUT" "(index $db: entry|store damaged: database $db)" "$desc: it names the $db table"
}
BYDATE_KEY="$($TOOL entries "$H" bydate | awk -v c="$C" 'index($1, c) {print $1}')"
BYSITE_KEY="$($TOOL entries "$H" bysite | awk -v c="$C" 'index($1, c) {print $1}')"
inplace bydate "$BYDATE_KEY" "a bydate key altered in place"
inplace bysite "$BYSITE_KEY" "a bysite key altered in place"

# ---- a truncated store ---------------------------------------------------------------
fresh
SIZE="$(stat -c %s "$H/data.mdb")"
PSIZE="$(mdb_stat -e "$H" | awk -F: '/Page size/ {print $2 + 0}')"
for cut in 0 100 $((PSIZE + 100)) $((SIZE / 2)) $((SIZE - PSIZE)); do
	fresh
	truncate -s "$cut" "$W/data.mdb"
	for cmd in audit verify status; do
		cafe_in "$W" "$cmd"
		is "$RC" 1 "$cmd on data.mdb cut to $cut of $SIZE bytes exits 1"
		like "$ERR" "^cafe: $cmd: store damaged: .*data.mdb" "$cmd: it says the store is damaged"
	done
done
like "$ERR" "the file is truncated" "a file shorter than its pages says it is truncated"
fresh
$TOOL compact "$W"
$TOOL damage "$W" 2 zero
cafe_in "$W" audit --json
is "$RC" 1 "a zeroed page: audit --json exits 1"
jq_is "$OUT" '[.integrity.ok, .integrity.damaged, (.integrity.faults[0].kind)] | tojson' '[false,true,"damaged"]' \
	"--json: not ok, damaged, a damaged fault"
jq_is "$OUT" '.integrity.faults[0].why | test("^store damaged: .*page 2 says it is page 0")' true "--json: the fault names the page"
fresh
truncate -s "$((SIZE / 2))" "$W/data.mdb"
cafe_in "$W" list cafe
is "$RC" 1 "any command refuses a truncated store (exit 1)"

# ---- a damaged page --------------------------------------------------------------------
# Every page of a compacted copy is in use.  Each one in turn is zeroed,
# filled with ones, with random bytes, or has its header overwritten.  A
# page of a B-tree, or the first page of a long value, is "store damaged";
# the pages after it hold the value's bytes only, and a commit there no
# longer verifies.
fresh
$TOOL compact "$W"
cp "$W/data.mdb" "$T/compact.mdb"
$TOOL pages "$W" >"$T/pages"
npages="$(wc -l <"$T/pages")"
[ "$npages" -gt 20 ] && pass "the compacted hub has $npages pages" || fail "the compacted hub has more than 20 pages"
grep -q ' branch$' "$T/pages" && pass "some are branch pages" || fail "some are branch pages"
grep -q ' overflow$' "$T/pages" && pass "one is an overflow page" || fail "one is an overflow page"
sig=0 audit_ok=0 audit_named=0 verify_dmg=0 status_dmg=0 runs=0 other=0 crashed=0
while read -r page kind; do
	[ "$kind" = meta ] && continue
	for how in zero ones random header; do
		cp "$T/compact.mdb" "$W/data.mdb"
		rm -f "$W/lock.mdb"
		$TOOL damage "$W" "$page" "$how" "$page"
		runs=$((runs + 1))
		cafe_in "$W" audit
		[ "$RC" -ge 128 ] && { sig=$((sig + 1)); diag "audit died on page $page ($kind) $how: $RC"; }
		[[ $ERR =~ crashed ]] && crashed=$((crashed + 1))
		[ "$RC" = 1 ] || { audit_ok=$((audit_ok + 1)); diag "audit exit $RC on page $page ($kind) $how"; }
		case "$kind" in
		overflow-data) [[ $ERR =~ "integrity does not hold" ]] || { other=$((other + 1)); diag "page $page ($kind) $how: $ERR"; } ;;
		*) [[ $ERR =~ "cafe: audit: store damaged: " ]] && audit_named=$((audit_named + 1)) || diag "page $page ($kind) $how: $ERR" ;;
		esac
		cafe_in "$W" verify
		[ "$RC" -ge 128 ] && { sig=$((sig + 1)); diag "verify died on page $page $how: $RC"; }
		[ "$RC" -le 1 ] || { other=$((other + 1)); diag "verify exit $RC on page $page $how"; }
		[[ $RC = 1 && $ERR =~ "cafe: verify: store damaged: " ]] && verify_dmg=$((verify_dmg + 1))
		cafe_in "$W" status
		[ "$RC" -ge 128 ] && { sig=$((sig + 1)); diag "status died on page $page $how: $RC"; }
		[ "$RC" -le 1 ] || { other=$((other + 1)); diag "status exit $RC on page $page $how"; }
		[[ $RC = 1 && $ERR =~ "cafe: status: store damaged: " ]] && status_dmg=$((status_dmg + 1))
	done
done <"$T/pages"
nover="$(grep -c ' overflow-data' "$T/pages")"
is "$sig" 0 "no damaged page kills audit, verify or status with a signal ($runs damaged stores)"
is "$audit_ok" 0 "the audit fails (exit 1) on every damaged page"
is "$audit_named" "$((runs - 4 * nover))" "it says \"store damaged\" for every damaged page but those inside a long value"
is "$other" 0 "a page inside a long value fails the audit by the commit it holds; verify and status exit 0 or 1"
is "$crashed" 0 "the audit names each damaged page before LMDB reads it: it never needs its guard here"
[ "$verify_dmg" -gt 0 ] && pass "verify says \"store damaged\" (exit 1) when the log's pages are damaged ($verify_dmg)" || \
	fail "verify says \"store damaged\" when the log's pages are damaged"
[ "$status_dmg" -gt 0 ] && pass "status says \"store damaged\" (exit 1) when what it reads is damaged ($status_dmg)" || \
	fail "status says \"store damaged\" when what it reads is damaged"

# ---- the guard: a crash is a damaged store --------------------------------------------
# A fault inside LMDB that no check foresaw kills the child that runs the
# command: the parent says "store damaged".  The fault is sent by hand to
# a long audit (5000 commits); a SIGTERM is passed on as it is.
if [ -x "${TOOLS:-}/bench_genbundle" ]; then
	G="$T/gen"
	new_node "$G" "Generator" --role site
	"$TOOLS/bench_genbundle" "$G" 5000 "$T/gen.bundle" >/dev/null
	GR="$T/genr"
	new_node "$GR" "Replica" --role hub --network "$NODE"
	cafe_in "$GR" bundle import "$T/gen.bundle"
	is "$RC" 0 "a replica of 5000 commits" || diag "$ERR"
	# guarded SIG: runs cafe audit, sends SIG to its child; sets RC, ERR.
	guarded() {
		local gp child i
		"$CAFE" --data "$GR" audit >"$T/g.out" 2>"$T/g.err" </dev/null &
		gp=$!
		child=
		for i in $(seq 1 500); do
			child="$(pgrep -P "$gp" || true)"
			[ -n "$child" ] && break
			sleep 0.01
		done
		[ -n "$child" ] && kill "-$1" "$child"
		wait "$gp"
		RC=$?
		ERR="$(<"$T/g.err")"
	}
	guarded SEGV
	is "$RC" 1 "a child killed by SIGSEGV: the audit exits 1"
	like "$ERR" "^cafe: audit: store damaged: reading .*crashed" "and says the store is damaged"
	guarded BUS
	is "$RC" 1 "a child killed by SIGBUS: the audit exits 1"
	like "$ERR" "^cafe: audit: store damaged: reading .*crashed" "and says the store is damaged"
	guarded TERM
	is "$RC" 143 "a child ended by SIGTERM: the command ends the same way"
	unlike "$ERR" "store damaged" "without calling the store damaged"
	is "$(ls -A "$TMPDIR" | wc -l)" 0 "no scratch store stays behind an audit that crashed"
else
	skip "bench_genbundle not built (make check builds it): the guard not tested"
fi

# ---- random single bits ---------------------------------------------------------------
# Bits anywhere past the two meta pages (an older meta page's clock flipped
# ahead is a valid older store).  Whatever the bit does, no command dies of
# it, and when it changes what a non-local table holds as mdb_dump reads it
# (or mdb_dump cannot read the store) the audit fails.
cp "$T/compact.mdb" "$W/data.mdb"
rm -f "$W/lock.mdb"
BASE="$($TOOL content "$W")"
NFLIPS="${AUDIT_FLIPS:-150}"
CSIZE="$(stat -c %s "$T/compact.mdb")"
sig=0 unseen=0 changed=0 same=0
RANDOM=7
for i in $(seq 1 "$NFLIPS"); do
	off=$((2 * PSIZE + (RANDOM * 32768 + RANDOM) % (CSIZE - 2 * PSIZE)))
	bit=$((RANDOM % 8))
	cp "$T/compact.mdb" "$W/data.mdb"
	rm -f "$W/lock.mdb"
	$TOOL flipbit "$W" "$off" "$bit"
	now="$($TOOL content "$W")"
	for cmd in verify status audit; do
		cafe_in "$W" "$cmd"
		[ "$RC" -ge 128 ] && { sig=$((sig + 1)); diag "$cmd died on bit $bit of byte $off: $RC"; }
	done
	if [ "$now" != "$BASE" ]; then
		changed=$((changed + 1))
		[ "$RC" = 1 ] || { unseen=$((unseen + 1)); diag "bit $bit of byte $off changes the tables, audit exit $RC"; }
	else
		same=$((same + 1))
	fi
done
is "$sig" 0 "no single bit kills audit, verify or status ($NFLIPS bits)"
is "$unseen" 0 "every bit that changes a table the log derives fails the audit ($changed of $NFLIPS; $same change nothing mdb_dump shows)"
[ "$changed" -gt $((NFLIPS / 4)) ] && pass "a good part of the bits change a table" || fail "a good part of the bits change a table ($changed)"

done_testing
