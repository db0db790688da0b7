#!/usr/bin/env bash
# verify.t: cafe verify passes on an intact log (local and received commits)
# and fails, exit 1, naming origin-prefix:seq, when a stored commit was
# altered behind the store's back.  The store is LMDB, so the damage is done
# on a copy of the data directory with mdb_dump / mdb_load (lmdb-utils): one
# byte of a stored commit flipped, then a commit removed from the log.
. "$(dirname "$0")/lib.sh"

ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing

A="$T/a"
new_node "$A" "Hub A" --role hub
AID="$NODE"
APFX="${AID:0:4}"
add_rec "$A" site "name=Verify site"
S="$ID"
for i in 1 2 3 4; do
	add_rec "$A" cafe site="$S" date=2024-06-0$i format=parent factors=resilience \
		attendees=$((10 + i)) "topic=Verify $i" elements=$ELEMENTS
done
N="$(status_json "$A" | jq -r .commits)"
ok test "$N" -ge 5 -- "A has at least 5 commits"
# A, the admin, writes the site's cafés in the site's hub log: the damage
# below is done there, in a log of four commits.
ALOG="$(status_json "$A" | jq -r '.heads | max_by(.seq) | .origin')"
LPFX="${ALOG:0:4}"
jq_is "$(status_json "$A")" "[.heads[] | select(.origin == \"$ALOG\") | .seq][0]" 4 "the site's hub log holds the four cafés"

cafe_in "$A" verify
is "$RC" 0 "verify passes on an intact node"
is "$ERR" "" "verify on an intact node: nothing on stderr"

# A second node with received commits and its own.
B="$T/b"
new_node "$B" "Hub B" --role hub --network "$AID"
enroll "$A" "$B"
cafe_in "$A" bundle export "$T/a.bundle"
cafe_in "$B" bundle import "$T/a.bundle"
is "$RC" 0 "B imports A's bundle"
add_rec "$B" cafe site="$S" date=2024-07-01 format=dads factors=resilience elements=$ELEMENTS
cafe_in "$B" verify
is "$RC" 0 "verify passes on a node with received and local commits"

# ---- concurrent writers on one node --------------------------------------------
P="$T/par"
new_node "$P" "Parallel"
add_rec "$P" site "name=Busy site"
PS="$ID"
for i in $(seq 1 16); do
	"$CAFE" --data "$P" add cafe site="$PS" date=2024-01-$((i + 10)) format=parent factors=resilience \
		"topic=Parallel $i" elements=$ELEMENTS >"$T/par.$i.out" 2>"$T/par.$i.err" &
done
wait
is "$(cat "$T"/par.*.err)" "" "16 concurrent adds: no errors"
STP="$(status_json "$P")"
# The site record and the enrollment of the site's hub log in the admin
# log; the 16 cafés in that hub log, one chain.
jq_is "$STP" '[.counts.cafe, .commits] | tojson' '[16,18]' "16 concurrent adds: 16 cafés in 18 commits"
jq_is "$STP" '[.heads[].seq] | sort | tojson' '[2,16]' "16 concurrent adds: one chain up to seq 16"
cafe_in "$P" verify
is "$RC" 0 "verify passes after concurrent adds"

# ---- damage a stored commit on a copy -----------------------------------------
if ! command -v mdb_dump >/dev/null 2>&1 || ! command -v mdb_load >/dev/null 2>&1; then
	skip "lmdb-utils (mdb_dump, mdb_load) not installed: stored-commit damage not tested"
	done_testing
fi

# Where the LMDB environment lives in the data directory.
MDB="$(find "$A" -name data.mdb | head -n 1)"
ok test -n "$MDB" -- "the data directory holds an LMDB data.mdb"
ENVDIR="$(dirname "${MDB:-$A/x}")"
REL="${ENVDIR#"$A"}"
DBS="$(mdb_dump -l "$ENVDIR" 2>&1)"
CDB="$(printf '%s\n' "$DBS" | grep -Ei '^commits?$' | head -n 1)"
[ -n "$CDB" ] || CDB="$(printf '%s\n' "$DBS" | grep -Ei 'commit' | head -n 1)"
ok test -n "$CDB" -- "the store has a commits database ($CDB)" || diag "databases: $DBS"

# pick.py DUMP ORIGIN SEQ MODE: prints the dump with the commit (ORIGIN, SEQ)
# altered (MODE flip: one byte in the middle of its value) or left out
# (MODE drop); the key is found as the one holding ORIGIN then SEQ as a
# big-endian 8-byte integer, else as the SEQ-th key in order.
cat >"$T/pick.py" <<'EOF'
import sys
dump, origin, seq, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
lines = open(dump).read().split('\n')
end = lines.index('HEADER=END')
head, body = lines[:end + 1], lines[end + 1:]
tail = body[body.index('DATA=END'):]
body = body[:body.index('DATA=END')]
pairs = [(body[i], body[i + 1]) for i in range(0, len(body), 2)]
want = origin + '%016x' % seq
idx = [i for i, (k, v) in enumerate(pairs) if want in k.strip()]
if not idx:
    idx = [seq - 1]
i = idx[0]
k, v = pairs[i]
if mode == 'flip':
    h = v.strip()
    mid = (len(h) // 4) * 2 + (len(h) // 8) * 2
    b = int(h[mid:mid + 2], 16) ^ 0x5a
    pairs = [(k, ' ' + h[:mid] + '%02x' % b + h[mid + 2:])]
else:
    del pairs[i]
out = head + [x for p in pairs for x in p] + tail
sys.stdout.write('\n'.join(out))
EOF

# flip one byte of commit seq 3
C1="$T/flip"
cp -a "$A" "$C1"
mdb_dump -s "$CDB" "$ENVDIR" >"$T/commits.dump" 2>"$T/dump.err"
ok test -s "$T/commits.dump" -- "mdb_dump of the commits database" || diag "$(cat "$T/dump.err")"
$PY "$T/pick.py" "$T/commits.dump" "$ALOG" 3 flip >"$T/flip.dump"
mdb_load -s "$CDB" -f "$T/flip.dump" "$C1$REL" 2>"$T/load.err"
is "$?" 0 "mdb_load the altered commit into a copy" || diag "$(cat "$T/load.err")"
cafe_in "$C1" verify
is "$RC" 1 "verify exits 1 when a stored commit was altered"
like "$ERR" "$LPFX[0-9a-f]*:3([^0-9]|\$)" "verify names $LPFX..:3"
cafe_in "$A" verify
is "$RC" 0 "the original node still verifies"

# drop commit seq 3: rebuild a copy of the whole environment without it
C2="$T/drop"
cp -a "$A" "$C2"
rm -f "$C2$REL/data.mdb" "$C2$REL/lock.mdb"
mdb_dump -a "$ENVDIR" >"$T/all.dump" 2>"$T/dump.err"
$PY - "$T/all.dump" "$CDB" "$T/commits-drop.dump" "$T/rest.dump" <<'EOF'
import sys
text = open(sys.argv[1]).read()
chunks, cur = [], []
for line in text.split('\n'):
    cur.append(line)
    if line == 'DATA=END':
        chunks.append('\n'.join(cur) + '\n')
        cur = []
commits = [c for c in chunks if ('\ndatabase=%s\n' % sys.argv[2]) in '\n' + c]
rest = [c for c in chunks if c not in commits]
open(sys.argv[3], 'w').write(commits[0])
open(sys.argv[4], 'w').write(''.join(rest))
EOF
$PY "$T/pick.py" "$T/commits-drop.dump" "$ALOG" 3 drop >"$T/drop.dump"
mdb_load -f "$T/rest.dump" "$C2$REL" 2>"$T/load.err" &&
	mdb_load -s "$CDB" -f "$T/drop.dump" "$C2$REL" 2>>"$T/load.err"
is "$?" 0 "mdb_load a copy of the store without commit 3" || diag "$(cat "$T/load.err")"
cafe_in "$C2" verify
is "$RC" 1 "verify exits 1 when a commit is missing from the chain"
like "$ERR" "$LPFX[0-9a-f]*:[34]([^0-9]|\$)" "verify names $LPFX..:3 or $LPFX..:4"

done_testing
