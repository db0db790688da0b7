#!/usr/bin/env bash
# trust.t: who may write what, enforced on local writes and on bundles
# (no daemons).  The network is the hub's key (the admin); sites A and B
# speak for their own site records, consultant K reads and audits site A
# only, R is a consultant replica that reads everything, X is a key that
# was never enrolled.  Each refusal is checked for its reason, its exit
# code, and that nothing else was lost.
#
# Needs build/tests/forge (make build/tests/forge) for the commits the
# command line refuses to make: a member record signed by a site key, and
# a commit of a key that is not enrolled.

source "$(dirname "$0")/lib.sh"

TOOLS="${TOOLS:-$(cd "$(dirname "$CAFE")" && pwd)/tests}"
FORGE="$TOOLS/forge"
if [ ! -x "$FORGE" ]; then
	echo "Bail out! forge not found at $FORGE (make build/tests/forge)"
	exit 255
fi
BT="$TESTS_DIR/bundletool.py"

# head_of DIR ORIGIN: the seq DIR holds of ORIGIN's log, empty if none.
# origins DIR: the origins of DIR's heads, sorted, one a line.
origins() {
	"$CAFE" --data "$1" status --json | jq -r '.heads[].origin' | sort
}
ncafes() { "$CAFE" --data "$1" list cafe --json | jq length; }
naudits() { "$CAFE" --data "$1" list audit --json | jq length; }
# bundle_cat OUT F1 F2...: F1's header, then the items of every Fi.
bundle_cat() {
	local out="$1" f h
	shift
	h=$("$PY" "$BT" info "$1" | awk '$1 == "header" { print $2 }')
	head -c "$h" "$1" >"$out"
	for f in "$@"; do
		h=$("$PY" "$BT" info "$f" | awk '$1 == "header" { print $2 }')
		tail -c +"$((h + 1))" "$f" >>"$out"
	done
}
cafe_fields() { echo "date=$2 format=parent factors=resilience site=$1"; }

D="$T"
# --- the network -----------------------------------------------------------
new_node "$D/hub" hub --role hub
H="$NODE"
new_node "$D/a" a --role site --network "$H"
A="$NODE"
new_node "$D/b" b --role site --network "$H"
B="$NODE"
new_node "$D/k" k --role consultant --network "$H"
K="$NODE"
new_node "$D/r" r --role consultant --network "$H"
R="$NODE"
new_node "$D/x" x --role hub --network "$H"
X="$NODE"
add_rec "$D/hub" site name=SiteA
SA="$ID"
add_rec "$D/hub" site name=SiteB
SB="$ID"
run_ok "enroll A as site of SiteA" "$D/hub" member add "$A" --role site --name a --site "$SA"
run_ok "enroll B as site of SiteB" "$D/hub" member add "$B" --role site --name b --site "$SB"
run_ok "enroll K as consultant of SiteA" "$D/hub" member add "$K" --role consultant --name k --sites "$SA"
run_ok "enroll R as consultant of all sites" "$D/hub" member add "$R" --role consultant --name r --all
ADMIN_SEQ=$(head_of "$D/hub" "$H")
is "$ADMIN_SEQ" 6 "the admin log: 2 sites and 4 enrollments"

# Before it holds the admin log, a node may not write at all.
cafe_in "$D/a" add cafe $(cafe_fields "$SA" 2024-01-01)
is "$RC" 2 "a site without its enrollment cannot write (exit 2)"
like "$ERR" "not an enrolled member" "... because it is not enrolled yet"

run_ok "export the admin log" "$D/hub" bundle export "$D/admin.b"
for n in a b k r x; do
	run_ok "$n imports the admin log" "$D/$n" bundle import "$D/admin.b"
done

# --- a site writes only records of its own site ----------------------------
add_rec "$D/a" cafe $(cafe_fields "$SA" 2024-01-01)
CA1="$ID"
A_SEQ=$(head_of "$D/a" "$A")
cafe_in "$D/a" add cafe $(cafe_fields "$SB" 2024-01-02)
is "$RC" 2 "a site writing a café of another site: exit 2"
like "$ERR" "a site writes only records of its own site" "... with the reason"
is "$(ncafes "$D/a")" 1 "... and nothing written: one café, its own"
is "$(head_of "$D/a" "$A")" "$A_SEQ" "... and no commit made"
cafe_in "$D/a" add site name=Rogue
is "$RC" 2 "a site writing a site record: exit 2"
like "$ERR" "a site may not write site records" "... with the reason"
add_rec "$D/b" cafe $(cafe_fields "$SB" 2024-01-03)
CB1="$ID"

# --- a consultant writes no cafés, and audits only the sites it reads ------
cafe_in "$D/k" add cafe $(cafe_fields "$SA" 2024-01-04)
is "$RC" 2 "a consultant writing a café: exit 2"
like "$ERR" "a consultant may not write cafe records" "... with the reason"
is "$(ncafes "$D/k")" 0 "... and no café written"
cafe_in "$D/k" add audit site="$SB" date=2024-01-05 finding=outside
is "$RC" 2 "a consultant auditing a site outside its --sites: exit 2"
like "$ERR" "a consultant writes only records of the sites it may read" \
	"... with the reason"
is "$(naudits "$D/k")" 0 "... and no audit written"
add_rec "$D/k" audit site="$SA" date=2024-01-05 finding=inside
K_SEQ=$(head_of "$D/k" "$K")
is "$K_SEQ" 1 "an audit of its own assigned site is written"

# --- only the admin enrolls ------------------------------------------------
cafe_in "$D/a" member add "$X" --role hub --name evil
is "$RC" 2 "a site running member add: exit 2"
like "$ERR" "only the network's admin" "... with the reason"
cafe_in "$D/x" member add "$X" --role hub --name self
is "$RC" 2 "an un-enrolled hub key running member add: exit 2"
like "$ERR" "only the network's admin" "... with the reason"
cafe_in "$D/k" member revoke "$A"
is "$RC" 2 "a consultant running member revoke: exit 2"
like "$ERR" "only the network's admin" "... with the reason"
is "$(head_of "$D/a" "$A")" "$A_SEQ" "the site's log did not move"
is "$("$CAFE" --data "$D/a" member list --json | jq -r '[.[].key] | sort | join(" ")')" \
	"$(printf '%s\n' "$A" "$B" "$K" "$R" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the site's member list is still the admin's four"

# A forged enrollment: site A signs a member record making X a hub, and
# carries it to the hub between its own earlier café and B's and K's
# commits.
cafe_in "$D/a" bundle export "$D/a.b"
cafe_in "$D/b" bundle export "$D/b.b"
cafe_in "$D/k" bundle export "$D/k.b"
FORGED=$("$FORGE" "$D/a" "$D/forged1.b" member "$X" hub evil)
is "$FORGED" "$A $((A_SEQ + 1))" "forge signs A's next commit"
bundle_cat "$D/mixed.b" "$D/a.b" "$D/forged1.b" "$D/b.b" "$D/k.b"
cafe_in "$D/hub" bundle import "$D/mixed.b"
is "$RC" 1 "import of a bundle with a forged enrollment: exit 1"
like "$ERR" "\\(${A:0:16}:$((A_SEQ + 1))\\) refused: only the network's admin enrolls, changes or revokes members" \
	"... the forged commit refused with the reason"
is "$(count_of refused "$OUT")" 1 "... only it refused"
is "$(grep -c refused <<<"$ERR")" 1 "... one refused line"
is "$(count_of applied "$OUT")" 3 "... A's café, B's café and K's audit applied"
is "$(head_of "$D/hub" "$A")" "$A_SEQ" "the hub holds A's log up to the forgery"
is "$(head_of "$D/hub" "$B")" "$(head_of "$D/b" "$B")" "the hub holds B's log"
is "$(head_of "$D/hub" "$K")" "$K_SEQ" "the hub holds K's log"
is "$("$CAFE" --data "$D/hub" list cafe --json | jq -r '[.[].id] | sort | join(" ")')" \
	"$(printf '%s\n' "$CA1" "$CB1" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"the hub lists A's and B's cafés"
is "$(naudits "$D/hub")" 1 "the hub lists K's audit"
is "$("$CAFE" --data "$D/hub" member list --json | jq --arg x "$X" '[.[] | select(.key == $x)] | length')" \
	0 "X is not enrolled at the hub"
is "$(head_of "$D/hub" "$H")" "$ADMIN_SEQ" "the admin log did not move"
run_ok "verify passes on the hub" "$D/hub" verify

# --- a commit of a key that is not enrolled --------------------------------
FORGED=$("$FORGE" "$D/x" "$D/unenrolled.b" cafe "$SA" 2024-01-06)
is "$FORGED" "$X 1" "forge signs X's first commit"
cafe_in "$D/hub" bundle import "$D/unenrolled.b"
is "$RC" 0 "import of an un-enrolled key's commit: exit 0, nothing refused"
like "$OUT" "1 waiting for the admin log, 0 refused" "... it waits for the admin log"
like "$OUT" "waiting: 1 commit of ${X:0:16} from seq 1: author ${X:0:16} is not an enrolled member \\(yet\\)" \
	"... with the reason"
is "$(head_of "$D/hub" "$X")" "" "the hub holds nothing of X"
is "$(ncafes "$D/hub")" 2 "the hub still lists two cafés"

# --- a commit replayed from another network --------------------------------
# N2's admin enrolls N1's admin key as a hub of N2, so the replayed commits
# pass every rule but the signature, which binds them to N1.
new_node "$D/hub2" hub2 --role hub
H2="$NODE"
run_ok "N2 enrolls N1's admin key as a hub" "$D/hub2" member add "$H" --role hub --name n1admin
cafe_in "$D/hub2" bundle import "$D/admin.b"
is "$RC" 2 "a bundle of N1 into N2: refused whole, exit 2"
like "$ERR" "bundle belongs to another network" "... with the reason"
"$PY" - "$D/admin.b" "$D/replay.b" "$H" "$H2" <<'EOF'
import sys
b = open(sys.argv[1], 'rb').read()
old, new = bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4])
i = b.find(old)
assert 0 <= i < 64, 'network not in the header'
open(sys.argv[2], 'wb').write(b[:i] + new + b[i + len(old):])
EOF
cafe_in "$D/hub2" bundle import "$D/replay.b"
is "$RC" 1 "N1's commits under an N2 header: exit 1"
like "$ERR" "#1 \\(${H:0:16}:1\\) refused: signature does not verify for this network" \
	"... the first refused: its signature is N1's"
is "$(count_of applied "$OUT")" 0 "... none applied"
is "$(count_of refused "$OUT")" "$ADMIN_SEQ" "... all $ADMIN_SEQ refused"
is "$(head_of "$D/hub2" "$H")" "" "N2 holds nothing of N1's admin"
is "$("$CAFE" --data "$D/hub2" list site --json | jq length)" 0 "N2 lists no site"

# --- revocation ------------------------------------------------------------
# The hub holds A's log up to A_SEQ; A writes one more café that reaches
# the hub, then is revoked, and keeps writing offline.
add_rec "$D/a" cafe $(cafe_fields "$SA" 2024-02-01)
CA2="$ID"
cafe_in "$D/a" bundle export "$D/a2.b"
run_ok "the hub gets A's second café" "$D/hub" bundle import "$D/a2.b"
HELD=$(head_of "$D/hub" "$A")
is "$HELD" "$((A_SEQ + 1))" "the hub holds A up to its second café"
run_ok "the hub revokes A" "$D/hub" member revoke "$A"
like "$OUT" "commits after seq $HELD " "... keeping A's commits up to the seq the hub holds"
M=$("$CAFE" --data "$D/hub" member list --json)
jq_is "$M" ".[] | select(.key == \"$A\") | \"\(.status) \(.revoked) \(.revoked_after)\"" \
	"revoked true $HELD" "member list --json shows the revocation"
jq_is "$M" "[.[] | select(.revoked)] | length" 1 "... and only A revoked"
# A, offline, knows nothing and keeps writing.
add_rec "$D/a" cafe $(cafe_fields "$SA" 2024-02-02)
CA3="$ID"
add_rec "$D/a" cafe $(cafe_fields "$SA" 2024-02-03)
is "$(head_of "$D/a" "$A")" "$((HELD + 2))" "A wrote two commits after the revocation"
# The replica gets the admin log with the revocation, from the hub.
cafe_in "$D/hub" bundle export "$D/hub2.b"
run_ok "the replica imports the hub's bundle" "$D/r" bundle import "$D/hub2.b"
is "$(head_of "$D/r" "$A")" "$HELD" "the replica holds A up to the revocation"
jq_is "$("$CAFE" --data "$D/r" member list --json)" \
	".[] | select(.key == \"$A\") | \"\(.status) \(.revoked_after)\"" \
	"revoked $HELD" "the replica's member list shows the revocation"
# A's later commits reach the replica by bundle.
cafe_in "$D/a" bundle export "$D/a3.b"
cafe_in "$D/r" bundle import "$D/a3.b"
is "$RC" 0 "A's post-revocation commits at the replica: exit 0, kept waiting"
like "$OUT" "waiting: 2 commits of ${A:0:16} from seq $((HELD + 1)): author ${A:0:16} \\(a\\) was revoked: its commits after seq $HELD are not accepted" \
	"... both wait: was revoked"
is "$(count_of 'waiting for the admin log' "$OUT")" 2 "... two waiting"
is "$(head_of "$D/r" "$A")" "$HELD" "the replica's head of A did not move"
is "$("$CAFE" --data "$D/r" list cafe --json | jq -r '[.[].id] | sort | join(" ")')" \
	"$(printf '%s\n' "$CA1" "$CA2" "$CB1" | sort | tr '\n' ' ' | sed 's/ $//')" \
	"A's earlier cafés stay listed, the later ones never appear"
cafe_in "$D/r" show "$CA3"
isnt "$RC" 0 "A's post-revocation café is not on the replica"
cafe_in "$D/hub" bundle import "$D/a3.b"
is "$RC" 0 "the hub keeps them waiting too"
like "$OUT" "was revoked" "... as revoked"
is "$(head_of "$D/hub" "$A")" "$HELD" "the hub's head of A did not move"
run_ok "verify passes on the replica" "$D/r" verify
run_ok "audit passes on the replica" "$D/r" audit

# --- sealed export --to applies the recipient's read scope -----------------
# The hub holds H, A, B and K's logs.  Each sealed bundle goes into a fresh
# copy of the recipient (its key restored into an empty directory).
fresh() {
	# fresh NAME ROLE KEYDIR: an empty node with KEYDIR's key
	"$CAFE" --data "$D/$1" init --name "$1" --role "$2" --network "$H" \
		--restore "$D/$3/node.key" >/dev/null 2>&1
}
expect_origins() { printf '%s\n' "$@" | sort; }
is "$(origins "$D/hub")" "$(expect_origins "$H" "$A" "$B" "$K")" \
	"the hub holds the logs of H, A, B and K"
run_ok "sealed export to B" "$D/hub" bundle export "$D/toB.b" --to "$B"
ok fresh b2 site b -- "a fresh copy of B"
run_ok "the fresh copy of B opens it" "$D/b2" bundle import "$D/toB.b"
is "$(origins "$D/b2")" "$(expect_origins "$H" "$B")" \
	"a site's sealed bundle holds the admin log and its own log only"
is "$(head_of "$D/b2" "$H")" "$(head_of "$D/hub" "$H")" "... the whole admin log"
is "$(head_of "$D/b2" "$B")" "$(head_of "$D/hub" "$B")" "... and the whole of B's log"
is "$("$CAFE" --data "$D/b2" list cafe --json | jq -r '[.[].id] | join(" ")')" "$CB1" \
	"... so the copy lists B's café only"
cafe_in "$D/a" bundle import "$D/toB.b"
isnt "$RC" 0 "A cannot open the bundle sealed to B"
run_ok "sealed export to K" "$D/hub" bundle export "$D/toK.b" --to "$K"
ok fresh k2 consultant k -- "a fresh copy of K"
run_ok "the fresh copy of K opens it" "$D/k2" bundle import "$D/toK.b"
is "$(origins "$D/k2")" "$(expect_origins "$H" "$A" "$K")" \
	"a consultant of SiteA gets the admin log, A's log and its own, not B's"
run_ok "sealed export to R" "$D/hub" bundle export "$D/toR.b" --to "$R"
ok fresh r2 consultant r -- "a fresh copy of R"
run_ok "the fresh copy of R opens it" "$D/r2" bundle import "$D/toR.b"
is "$(origins "$D/r2")" "$(origins "$D/hub")" "a consultant of all sites gets every log"
# A (revoked above) gets no sealed bundle, and no file is left behind.
cafe_in "$D/hub" bundle export "$D/toA.b" --to "$A"
is "$RC" 2 "sealed export to a revoked key: exit 2"
like "$ERR" "recipient: that key was revoked" "the reason names the revocation"
ok test ! -e "$D/toA.b" -- "no bundle file is left"

done_testing
