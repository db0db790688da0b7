#!/usr/bin/env bash
# bundle.t: cafe bundle export/import between nodes of one network: the
# same digest, counts, heads and log after an import; imports are
# idempotent; --since bundles; a bundle for another network is refused; and
# damaged bundles (a flipped signature byte, a flipped body byte, a commit
# removed, two commits swapped, a file cut short) are refused at the damage,
# naming the commit, keeping exactly the commits before it.  Finally a few
# hundred commits travel in one bundle.
. "$(dirname "$0")/lib.sh"

BT="$PY $TESTS_DIR/bundletool.py"
DUP='(already present|already|duplicates?)'
ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing

# ---- node A with a small history --------------------------------------------
# A is a hub the admin enrolled, so that its whole history is one log (the
# admin itself would write a site's records in that site's hub log).  Every
# other node of the network first imports the admin log (admin.b, ADMN
# commits), which says A may write.
ADM="$T/adm"
new_node "$ADM" "State admin" --role hub
NET="$NODE"
A="$T/a"
new_node "$A" "Hub A" --role hub --network "$NET"
AID="$NODE"
APFX="${AID:0:4}"
enroll "$ADM" "$A" hub
cafe_in "$ADM" bundle export "$T/admin.b"
ADMN="$(status_json "$ADM" | jq -r .commits)"
# with_admin DIR: DIR imports the admin log.
with_admin() { "$CAFE" --data "$1" bundle import "$T/admin.b" >/dev/null; }

add_rec "$A" site "name=Bundle site" county=Lake
S1="$ID"
add_rec "$A" person "name=Host A" roles=host,parent_leader site="$S1"
P1="$ID"
add_rec "$A" person "name=Host B" roles=table_host site="$S1"
P2="$ID"
add_rec "$A" cafe site="$S1" date=2024-03-01 format=parent factors=resilience \
	hosts="$P1,$P2" attendees=12 new_attendees=3 elements=$ELEMENTS "topic=First night"
C1="$ID"
add_rec "$A" cafe site="$S1" date=2024-03-08 format=dads factors=social_connections \
	hosts="$P1" attendees=8 elements=$ELEMENTS "topic=MARKERBODYX"
C2="$ID"
add_rec "$A" action cafe="$C1" "title=Lending library" owner=Ana status=open
add_rec "$A" action cafe="$C2" "title=Dads breakfast" status=doing
add_rec "$A" training site="$S1" date=2024-01-10 kind=host_training participants=5
add_rec "$A" feedback cafe="$C1" responses=10 felt_safe=9
cafe_in "$A" edit "$C1" attendees=14
is "$RC" 0 "edit on A"
add_rec "$A" cafe site="$S1" date=2024-03-15 format=community factors=concrete_support \
	hosts="$P2" attendees=20 elements=$ELEMENTS "topic=Third night"

STA="$(status_json "$A")"
N="$(printf '%s' "$STA" | jq -r "[.heads[] | select(.origin == \"$AID\") | .seq][0]")"
ok test "$N" -ge 11 -- "A has at least 11 commits ($N)"

# ---- export ------------------------------------------------------------------
# Without the admin log, which every node of the network imports first.
cafe_in "$A" bundle export "$T/full.bundle" --since "$NET:$ADMN"
is "$RC" 0 "bundle export exits 0"
ok test -s "$T/full.bundle" -- "bundle export writes the file"
INFO="$($BT info "$T/full.bundle" 2>&1)"
is "$?" 0 "the bundle parses as header + [E, sig] items" || diag "$INFO"
is "$(printf '%s\n' "$INFO" | tail -n +2 | wc -l | tr -d ' ')" "$N" "the bundle holds every commit"
is "$(printf '%s\n' "$INFO" | tail -n +2 | awk '{print $7}' | sort -u)" "$AID" "every commit's origin is A"
is "$(printf '%s\n' "$INFO" | tail -n +2 | awk '{printf "%s ", $8}')" "$(seq 1 "$N" | tr '\n' ' ')" \
	"commits are in log order, seq 1..$N"
like "$(head -c 64 "$T/full.bundle" | tr -c 'a-z-' '.')" 'cafesync-bundle' "the header names the format"

# ---- import into B ------------------------------------------------------------
B="$T/b"
new_node "$B" "Hub B" --role hub --network "$NET"
with_admin "$B"
cafe_in "$B" bundle import "$T/full.bundle"
is "$RC" 0 "bundle import into B exits 0"
is "$(count_of applied "$OUT")" "$N" "import reports $N applied"
is "$(count_of "$DUP" "$OUT")" 0 "import reports 0 already present"
is "$(count_of refused "$OUT")" 0 "import reports 0 refused"
STB="$(status_json "$B")"
jq_is "$STB" .digest "$(printf '%s' "$STA" | jq -r .digest)" "B has A's digest"
jq_is "$STB" '.counts | tojson' "$(printf '%s' "$STA" | jq -c .counts)" "B has A's counts"
jq_is "$STB" '.commits' "$((N + ADMN))" "B holds $N commits and the admin log"
jq_is "$STB" "[.heads[] | select(.origin == \"$AID\") | {seq, hash}] | tojson" \
	"$(printf '%s' "$STA" | jq -c "[.heads[] | select(.origin == \"$AID\") | {seq, hash}]")" "B's head for A equals A's own"
cafe_in "$A" log --json
LOGA="$(printf '%s' "$OUT" | jq -c '[.[] | {origin, seq, hash, hlc}] | sort_by(.origin, .seq)')"
cafe_in "$B" log --json
is "$(printf '%s' "$OUT" | jq -c '[.[] | {origin, seq, hash, hlc}] | sort_by(.origin, .seq)')" "$LOGA" \
	"B's log equals A's (origin, seq, hash, hlc)"
cafe_in "$B" show "$C1" --json
jq_is "$OUT" '.attendees' 14 "B shows A's edited café"
cafe_in "$A" list cafe --json
LISTA="$(printf '%s' "$OUT" | jq -cS 'sort_by(.id)')"
cafe_in "$B" list cafe --json
is "$(printf '%s' "$OUT" | jq -cS 'sort_by(.id)')" "$LISTA" "B lists the same cafés as A"
cafe_in "$B" verify
is "$RC" 0 "verify passes on B"

# ---- idempotent ---------------------------------------------------------------
cafe_in "$B" bundle import "$T/full.bundle"
is "$RC" 0 "a second import exits 0"
is "$(count_of applied "$OUT")" 0 "second import: 0 applied"
is "$(count_of "$DUP" "$OUT")" "$N" "second import: $N already present"
is "$(count_of refused "$OUT")" 0 "second import: 0 refused"
jq_is "$(status_json "$B")" '[.digest, .commits] | tojson' "$(printf '%s' "$STB" | jq -c '[.digest, .commits]')" \
	"second import changes nothing"

# ---- --since -------------------------------------------------------------------
add_rec "$A" cafe site="$S1" date=2024-03-22 format=parent factors=child_development elements=$ELEMENTS
cafe_in "$A" edit "$C2" "topic=Renamed"
is "$RC" 0 "another edit on A"
add_rec "$A" audit site="$S1" date=2024-04-01 "finding=All good" severity=info
N2="$(status_json "$A" | jq -r "[.heads[] | select(.origin == \"$AID\") | .seq][0]")"
is "$N2" "$((N + 3))" "A now has $((N + 3)) commits"
cafe_in "$A" bundle export "$T/since.bundle" --since "$AID:$N" --since "$NET:$ADMN"
is "$RC" 0 "bundle export --since exits 0"
is "$($BT info "$T/since.bundle" | tail -n +2 | awk '{printf "%s ", $8}')" "$(seq $((N + 1)) "$N2" | tr '\n' ' ')" \
	"the --since bundle holds only seq $((N + 1))..$N2"
cafe_in "$B" bundle import "$T/since.bundle"
is "$RC" 0 "import of the --since bundle into B exits 0"
is "$(count_of applied "$OUT")" 3 "--since import: 3 applied"
jq_is "$(status_json "$B")" .digest "$(status_json "$A" | jq -r .digest)" "B has A's digest again"

F="$T/f"
new_node "$F" "Fresh F" --network "$NET"
with_admin "$F"
cafe_in "$F" bundle import "$T/since.bundle"
is "$RC" 1 "a --since bundle into a node lacking the earlier commits exits 1"
like "$ERR" "#1([^0-9]|\$).*$APFX[0-9a-f]*:$((N + 1))([^0-9]|\$)|$APFX[0-9a-f]*:$((N + 1))([^0-9]|\$).*#1([^0-9]|\$)" \
	"the refusal names #1 and $APFX..:$((N + 1))"
is "$(count_of refused "$OUT")" 3 "--since bundle into F: 3 refused"
jq_is "$(status_json "$F")" .commits "$ADMN" "F holds no commits but the admin log"

# ---- another network -------------------------------------------------------------
X="$T/x"
new_node "$X" "Other network"
cafe_in "$X" bundle import "$T/full.bundle"
isnt "$RC" 0 "a bundle of another network is refused"
like "$ERR" 'network' "the refusal names the network"
jq_is "$(status_json "$X")" .commits 0 "the other network's node holds no commits"

# names_at TEXT POS SEQ: a line of TEXT names #POS and APFX..:SEQ
names_at() {
	printf '%s\n' "$1" | grep -E "#$2([^0-9]|\$)" | grep -Eq "$APFX[0-9a-f]*:$3([^0-9]|\$)"
}

# ---- not a bundle, an empty file ---------------------------------------------------
head -c 200 /dev/urandom >"$T/junk.bundle"
: >"$T/empty.bundle"
for f in junk empty; do
	cafe_in "$B" bundle import "$T/$f.bundle"
	isnt "$RC" 0 "a $f file is not imported"
	is "$(nlines "$ERR")" 1 "$f file: one line on stderr"
	like "$ERR" "^cafe: bundle( import)?: .*$f\.bundle" "$f file: the message names the file"
done
jq_is "$(status_json "$B")" .digest "$(status_json "$A" | jq -r .digest)" "junk files change nothing on B"

# ---- a fork: a node restored from an old copy writes a different seq ----------------
cp -a "$A" "$T/a-old"
add_rec "$A" site "name=After the copy"
add_rec "$T/a-old" site "name=Forked history"
cafe_in "$A" bundle export "$T/a-new.bundle" --since "$NET:$ADMN"
cafe_in "$T/a-old" bundle export "$T/a-fork.bundle" --since "$NET:$ADMN"
cafe_in "$B" bundle import "$T/a-new.bundle"
is "$RC" 0 "B imports A's newest commit"
DIGB="$(status_json "$B" | jq -r .digest)"
NF="$(status_json "$B" | jq -r "[.heads[] | select(.origin == \"$AID\") | .seq][0]")"
cafe_in "$B" bundle import "$T/a-fork.bundle"
is "$RC" 1 "a forked commit is refused: exit 1"
is "$(count_of refused "$OUT")" 1 "fork: 1 refused"
is "$(count_of "$DUP" "$OUT")" "$((NF - 1))" "fork: the shared history is already present"
ok names_at "$ERR" "$NF" "$NF" -- "fork: stderr names #$NF and $APFX..:$NF" || diag "$ERR"
ilike "$ERR" 'fork' "fork: the reason says fork"
jq_is "$(status_json "$B")" '[.digest, .commits] | tojson' "[\"$DIGB\",$((NF + ADMN))]" "fork: nothing applied on B"
N2=$((N2 + 1))

# ---- damaged bundles ------------------------------------------------------------
cafe_in "$A" bundle export "$T/full2.bundle" --since "$NET:$ADMN"
K="$($BT find "$T/full2.bundle" MARKERBODYX | head -n 1)"
ok test -n "$K" -a "${K:-0}" -ge 2 -a "${K:-0}" -le $((N2 - 2)) -- "the marked commit is in the middle (#$K of $N2)"
KSEQ="$($BT info "$T/full2.bundle" | awk -v k="$K" '$1 == k {print $8}')"
is "$KSEQ" "$K" "item #$K is seq $K"
DIGA="$(status_json "$A" | jq -r .digest)"


# damaged NAME SEQ-NAMED WHY-REGEX: imports $T/NAME.bundle into a fresh node.
damaged() {
	local name="$1" seqnamed="$2" why="$3" d="$T/dmg-$1" st
	new_node "$d" "Damage $name" --network "$NET"
	with_admin "$d"
	cafe_in "$d" bundle import "$T/$name.bundle"
	isnt "$RC" 0 "$name: import exits non-zero"
	is "$RC" 1 "$name: import exits 1"
	if [ -n "$seqnamed" ]; then
		ok names_at "$ERR" "$K" "$seqnamed" -- "$name: stderr names #$K and $APFX..:$seqnamed" || diag "stderr: $ERR"
	else
		like "$ERR" "#$K([^0-9]|\$)" "$name: stderr names #$K"
	fi
	ilike "$ERR" "$why" "$name: the reason is given (/$why/)"
	ok test "$(count_of refused "$OUT")" -ge 1 -- "$name: at least one refused in the counts"
	is "$(count_of applied "$OUT")" "$((K - 1))" "$name: $((K - 1)) applied"
	st="$(status_json "$d")"
	jq_is "$st" .commits "$((K - 1 + ADMN))" "$name: the node holds exactly the $((K - 1)) commits before the damage"
	jq_is "$st" "[.heads[] | select(.origin == \"$AID\") | .seq] | tojson" "[$((K - 1))]" "$name: head of A is seq $((K - 1))"
	cafe_in "$d" log --json
	jq_is "$OUT" "[.[] | select(.origin == \"$AID\") | .seq] | sort | map(tostring) | join(\" \")" "$(seq 1 $((K - 1)) | tr '\n' ' ' | sed 's/ $//')" \
		"$name: log holds seq 1..$((K - 1))"
	cafe_in "$d" verify
	is "$RC" 0 "$name: verify passes on what was kept"
	# The intact bundle then completes the node.
	cafe_in "$d" bundle import "$T/full2.bundle"
	is "$RC" 0 "$name: the intact bundle imports afterwards"
	is "$(count_of "$DUP" "$OUT")" "$((K - 1))" "$name: $((K - 1)) already present"
	jq_is "$(status_json "$d")" .digest "$DIGA" "$name: then the node has A's digest"
}

$BT flipsig "$T/full2.bundle" "$T/sig.bundle" "$K"
damaged sig "$K" 'sig'

$BT flipbody "$T/full2.bundle" "$T/body.bundle" "$K" MARKERBODYX
damaged body "$K" 'sig'

$BT drop "$T/full2.bundle" "$T/drop.bundle" "$K"
damaged drop "$((K + 1))" 'seq|gap|missing|chain|prev|order|head'

$BT swap "$T/full2.bundle" "$T/swap.bundle" "$K"
damaged swap "$((K + 1))" 'seq|gap|missing|chain|prev|order|head'

$BT cut "$T/full2.bundle" "$T/cut.bundle" "$K"
damaged cut "" 'trunc|short|cut|end|eof|incomplete'

# ---- a few hundred commits ----------------------------------------------------------
M=300
G="$T/g"
new_node "$G" "Hub G" --role hub
GID="$NODE"
add_rec "$G" site "name=Big site"
GS="$ID"
fails=0
for i in $(seq 2 $M); do
	cafe_in "$G" add cafe site="$GS" date=2024-01-01 format=parent factors=resilience \
		attendees=$((i % 40)) "topic=Cafe $i" elements=$ELEMENTS
	[ "$RC" = 0 ] || fails=$((fails + 1))
done
is "$fails" 0 "$((M - 1)) more cafés added on G"
STG="$(status_json "$G")"
ok test "$(printf '%s' "$STG" | jq -r .commits)" -ge $M -- "G has at least $M commits"
cafe_in "$G" bundle export "$T/big.bundle"
is "$RC" 0 "export of the big bundle"
H="$T/h"
new_node "$H" "Hub H" --network "$GID"
cafe_in "$H" bundle import "$T/big.bundle"
is "$RC" 0 "import of the big bundle"
is "$(count_of applied "$OUT")" "$(printf '%s' "$STG" | jq -r .commits)" "every commit applied"
STH="$(status_json "$H")"
jq_is "$STH" .digest "$(printf '%s' "$STG" | jq -r .digest)" "big bundle: same digest"
jq_is "$STH" .counts.cafe "$((M - 1))" "big bundle: every café"
cafe_in "$H" stats --json
jq_is "$OUT" .cafes "$((M - 1))" "big bundle: stats count every café"
cafe_in "$H" bundle import "$T/big.bundle"
is "$(count_of "$DUP" "$OUT")" "$(printf '%s' "$STG" | jq -r .commits)" "big bundle again: all already present"

done_testing
