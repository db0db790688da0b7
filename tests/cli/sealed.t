#!/usr/bin/env bash
# sealed.t: cafe bundle export --to KEY seals a bundle to one node and
# cafe bundle import opens it there: the hub converges to the site's
# digest; the file shows no café text, no origin and no network, only the
# recipient's id; another node of the network is told whom it is sealed to
# (exit 2); a flipped byte in a middle chunk, a file cut at a chunk
# boundary or inside a chunk, bytes after the final chunk and a damaged
# header are refused naming the chunk or the header, with nothing
# imported; a bad --to is a usage error that writes nothing; a sealed
# bundle also imports from a pipe, and a plain bundle still imports.
. "$(dirname "$0")/lib.sh"

ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
SEAL_HDR=104          # docs/formats.md: the sealed header
SEAL_CHUNK=65557      # a full chunk on disk: 4 + 1 + 65536 + 16

# flip FILE OUT OFFSET: copies FILE to OUT with the byte at OFFSET flipped.
flip() {
	$PY -c 'import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[3])] ^= 0x5a
open(sys.argv[2], "wb").write(b)' "$1" "$2" "$3"
}

# hex_in FILE HEX: prints 1 when the bytes of HEX occur in FILE, else 0.
hex_in() {
	$PY -c 'import sys
print(1 if bytes.fromhex(sys.argv[2]) in open(sys.argv[1], "rb").read() else 0)' "$1" "$2"
}

# ---- a site with a little history, a hub and another node ---------------------
A="$T/a"
new_node "$A" "Hub A" --role hub
AID="$NODE"
NET="$AID"
B="$T/b"
new_node "$B" "Hub B" --role hub --network "$NET"
BID="$NODE"
# B reads every log: the admin writes the site's records in that site's
# hub log, which an unenrolled node does not read.  B holds its enrollment.
enroll "$A" "$B" hub
X="$T/x"
new_node "$X" "Node X" --network "$NET"
XID="$NODE"

add_rec "$A" site "name=Sealed site" county=Lake
S1="$ID"
add_rec "$A" person "name=Host A" roles=host site="$S1"
P1="$ID"
add_rec "$A" cafe site="$S1" date=2024-03-01 format=parent factors=resilience \
	hosts="$P1" attendees=12 elements=$ELEMENTS "topic=SECRETTOPICQ"
add_rec "$A" cafe site="$S1" date=2024-03-08 format=dads factors=social_connections \
	hosts="$P1" attendees=8 elements=$ELEMENTS "topic=Second night"
STA="$(status_json "$A")"
N="$(printf '%s' "$STA" | jq -r .commits)"

# ---- export --to the hub --------------------------------------------------------
cafe_in "$A" bundle export "$T/s.bundle" --to "$BID"
is "$RC" 0 "bundle export --to exits 0"
like "$ERR" "sealed to node ${BID:0:16}" "export says whom it is sealed to"
ok test -s "$T/s.bundle" -- "the sealed file is written"
is "$(head -c 15 "$T/s.bundle")" "cafesync-sealed" "the file starts with the sealed magic"
is "$(od -An -tu1 -j15 -N1 "$T/s.bundle" | tr -d ' ')" 1 "sealed version 1"
is "$(od -An -tx1 -j16 -N32 "$T/s.bundle" | tr -d ' \n')" "$BID" "bytes 16-47 are the recipient's id"
is "$(ls "$T" | grep -c '\.tmp\.')" 0 "no temporary file is left"

# The plain bundle shows the topic; the sealed one shows nothing of it.
cafe_in "$A" bundle export "$T/p.bundle"
is "$(grep -c SECRETTOPICQ "$T/p.bundle")" 1 "the plain bundle holds the topic in clear (control)"
is "$(grep -c SECRETTOPICQ "$T/s.bundle")" 0 "the sealed bundle does not show the topic"
is "$(grep -c cafesync-bundle "$T/s.bundle")" 0 "the sealed bundle does not show the plain header"
is "$(grep -c -i "$AID" "$T/s.bundle")" 0 "the sealed bundle does not show the origin in hex"
is "$(hex_in "$T/p.bundle" "$AID")" 1 "the plain bundle holds the origin's bytes (control)"
is "$(hex_in "$T/s.bundle" "$AID")" 0 "the sealed bundle does not hold the origin's (and network's) bytes"
is "$(hex_in "$T/s.bundle" "$XID")" 0 "nor any other node's"

# ---- import on the hub -----------------------------------------------------------
cafe_in "$B" bundle import "$T/s.bundle"
is "$RC" 0 "the hub imports the sealed bundle"
is "$(count_of applied "$OUT")" "$((N - 1))" "import reports $((N - 1)) applied (B held its enrollment)"
is "$(count_of refused "$OUT")" 0 "import reports 0 refused"
STB="$(status_json "$B")"
jq_is "$STB" .digest "$(printf '%s' "$STA" | jq -r .digest)" "the hub has the site's digest"
jq_is "$STB" .commits "$N" "the hub holds $N commits"
cafe_in "$B" verify
is "$RC" 0 "verify passes on the hub"
cafe_in "$B" bundle import "$T/s.bundle"
is "$RC" 0 "a second import of the sealed bundle exits 0"
is "$(count_of applied "$OUT")" 0 "second import: 0 applied"
jq_is "$(status_json "$B")" .digest "$(printf '%s' "$STA" | jq -r .digest)" "second import changes nothing"

# ---- another node of the network -----------------------------------------------------
cafe_in "$X" bundle import "$T/s.bundle"
is "$RC" 2 "another node cannot import it: exit 2"
is "$(nlines "$ERR")" 1 "one line on stderr"
like "$ERR" "sealed to node ${BID:0:16}.*this node is ${XID:0:16}" "the message says whom it is sealed to and who this is"
jq_is "$(status_json "$X")" .commits 0 "the other node holds no commits"

# ---- a bigger history: several chunks --------------------------------------------------
$PY -c 'import sys
print("site,date,format,factors,attendees,topic,elements,harvest")
for i in range(1500):
    print("%s,2024-02-%02d,parent,resilience,%d,Bulk night %d,\"%s\",Harvest notes for night %d: what parents said helped this week"
          % (sys.argv[1], i % 28 + 1, i % 40, i, sys.argv[2], i))' "$S1" "$ELEMENTS" >"$T/bulk.csv"
cafe_in "$A" import cafe "$T/bulk.csv"
is "$RC" 0 "1500 more cafés on the site"
STA2="$(status_json "$A")"
N2="$(printf '%s' "$STA2" | jq -r .commits)"
cafe_in "$A" bundle export "$T/big.bundle" --to "$BID"
is "$RC" 0 "export of the bigger sealed bundle"
SIZE="$(wc -c <"$T/big.bundle" | tr -d ' ')"
NCHUNK=$(( (SIZE - SEAL_HDR + SEAL_CHUNK - 1) / SEAL_CHUNK ))
ok test "$NCHUNK" -ge 4 -- "the bundle spans several chunks ($NCHUNK)"
is "$(grep -c 'Bulk night' "$T/big.bundle")" 0 "no café topic in the bigger sealed bundle"
STB0="$(status_json "$B" | jq -cS '{digest, commits, counts}')"

# refused NAME RC REGEX: importing $T/NAME.bundle into B fails with exit RC
# and a message matching REGEX, and B is unchanged.
refused() {
	local name="$1" rc="$2" re="$3"
	cafe_in "$B" bundle import "$T/$name.bundle"
	is "$RC" "$rc" "$name: import exits $rc"
	is "$(nlines "$ERR")" 1 "$name: one line on stderr"
	like "$ERR" "^cafe: bundle: .*$name\.bundle: " "$name: the message names the file"
	ilike "$ERR" "$re" "$name: the message says what (/$re/)"
	is "$OUT" "" "$name: nothing on stdout"
	is "$(status_json "$B" | jq -cS '{digest, commits, counts}')" "$STB0" "$name: nothing imported, nothing lost"
}

# A flipped byte in the middle of a middle chunk.
MID=$(( NCHUNK / 2 + 1 ))
OFF=$(( SEAL_HDR + (MID - 1) * SEAL_CHUNK + SEAL_CHUNK / 2 ))
flip "$T/big.bundle" "$T/flip.bundle" "$OFF"
refused flip 1 "chunk $MID([^0-9]|\$).*(authenticat|damaged|altered)"
like "$ERR" "nothing imported" "flip: says nothing was imported"

# A flipped byte in the last chunk: the commits before it are still not applied.
flip "$T/big.bundle" "$T/fliplast.bundle" "$(( SIZE - 3 ))"
refused fliplast 1 "chunk $NCHUNK([^0-9]|\$)"

# A flipped length prefix names its chunk too.
flip "$T/big.bundle" "$T/fliplen.bundle" "$(( SEAL_HDR + SEAL_CHUNK + 1 ))"
refused fliplen 1 "chunk 2([^0-9]|\$)"

# Cut at a chunk boundary: the final chunk is missing.
head -c $(( SEAL_HDR + (NCHUNK - 1) * SEAL_CHUNK )) "$T/big.bundle" >"$T/cut.bundle"
refused cut 1 "missing end.*final chunk|final chunk.*missing"

# Cut inside a chunk.
head -c $(( SIZE - 100 )) "$T/big.bundle" >"$T/cutmid.bundle"
refused cutmid 1 "ends inside chunk $NCHUNK([^0-9]|\$).*trunc"

# Bytes after the final chunk.
{ cat "$T/big.bundle"; printf 'x'; } >"$T/trail.bundle"
refused trail 1 "after the final chunk"

# Two chunks swapped.
$PY -c 'import sys
b = open(sys.argv[1], "rb").read()
h, c = int(sys.argv[3]), int(sys.argv[4])
c1, c2 = b[h:h + c], b[h + c:h + 2 * c]
open(sys.argv[2], "wb").write(b[:h] + c2 + c1 + b[h + 2 * c:])' \
	"$T/big.bundle" "$T/swap.bundle" "$SEAL_HDR" "$SEAL_CHUNK"
refused swap 1 "chunk 1([^0-9]|\$)"

# The header: another version, an altered ephemeral key, cut short.
flip "$T/big.bundle" "$T/version.bundle" 15
refused version 2 "header.*version"
flip "$T/big.bundle" "$T/eph.bundle" 60
refused eph 1 "chunk 1([^0-9]|\$)"
head -c 60 "$T/big.bundle" >"$T/short.bundle"
refused short 2 "header"

# The intact file then imports, and the hub converges.
cafe_in "$B" bundle import "$T/big.bundle"
is "$RC" 0 "the intact bigger bundle imports"
is "$(count_of applied "$OUT")" "$((N2 - N))" "$((N2 - N)) applied"
jq_is "$(status_json "$B")" .digest "$(printf '%s' "$STA2" | jq -r .digest)" "the hub has the site's digest again"

# ---- from a pipe and from stdout --------------------------------------------------------
D="$T/d"
new_node "$D" "Hub D" --role hub --network "$NET"
DID="$NODE"
# Enrolled as a hub, so that a bundle sealed to D carries every log.
run_ok "the admin enrolls D as a hub" "$A" member add "$DID" --role hub --name "Hub D"
STA2="$(status_json "$A")"
N2="$(printf '%s' "$STA2" | jq -r .commits)"
"$CAFE" --data "$A" bundle export - --to "$DID" >"$T/d.bundle" 2>"$T/.err"
is "$?" 0 "export --to to stdout"
flip "$T/d.bundle" "$T/dflip.bundle" "$(( SIZE / 2 ))"
"$CAFE" --data "$D" bundle import - <"$T/dflip.bundle" >"$T/.out" 2>"$T/.err"
is "$?" 1 "a damaged sealed bundle on stdin exits 1"
cat "$T/dflip.bundle" | "$CAFE" --data "$D" bundle import - >"$T/.out" 2>"$T/.err"
is "$?" 1 "a damaged sealed bundle from a pipe exits 1"
like "$(<"$T/.err")" "chunk [0-9]+: .*nothing imported" "pipe: the message names the chunk"
jq_is "$(status_json "$D")" .commits 0 "stdin and pipe: nothing imported"
head -c $(( SEAL_HDR + SEAL_CHUNK )) "$T/d.bundle" | "$CAFE" --data "$D" bundle import - >"$T/.out" 2>"$T/.err"
is "$?" 1 "a cut sealed bundle from a pipe exits 1"
jq_is "$(status_json "$D")" .commits 0 "cut pipe: nothing imported"
cat "$T/d.bundle" | "$CAFE" --data "$D" bundle import - >"$T/.out" 2>"$T/.err"
is "$?" 0 "a sealed bundle imports from a pipe"
is "$(count_of applied "$(<"$T/.out")")" "$N2" "pipe: $N2 applied"
jq_is "$(status_json "$D")" .digest "$(printf '%s' "$STA2" | jq -r .digest)" "pipe: converged"

# ---- bad --to --------------------------------------------------------------------------
for bad in nothex "${BID:0:63}" "${BID}00" "$(printf '0%.0s' $(seq 64))" "zz${BID:2}"; do
	rm -f "$T/bad.bundle"
	cafe_in "$A" bundle export "$T/bad.bundle" --to "$bad"
	is "$RC" 2 "--to '${bad:0:12}...': exit 2"
	is "$(nlines "$ERR")" 1 "--to '${bad:0:12}...': one line on stderr"
	like "$ERR" "option --to" "--to '${bad:0:12}...': the message names the option"
	ok test ! -e "$T/bad.bundle" -- "--to '${bad:0:12}...': no file written"
done
cafe_in "$A" bundle export "$T/bad.bundle" --to
is "$RC" 2 "--to without a value: exit 2"
is "$(ls "$T" | grep -c 'bad.bundle')" 0 "no temporary file is left"

# ---- a plain bundle still imports -------------------------------------------------------
P="$T/p"
new_node "$P" "Plain P" --network "$NET"
cafe_in "$A" bundle export "$T/plain.bundle"
is "$(head -c 15 "$T/plain.bundle" | grep -c cafesync-sealed)" 0 "without --to the bundle is plain"
cafe_in "$P" bundle import "$T/plain.bundle"
is "$RC" 0 "a plain bundle imports"
jq_is "$(status_json "$P")" .digest "$(printf '%s' "$STA2" | jq -r .digest)" "plain: converged"

done_testing
