#!/usr/bin/env bash
# order.t: what a node accepts depends on the commits it holds, never on
# the order they came in (docs/formats.md, "Acceptance"), through bundles,
# no daemons:
#
#   - a site's bundle that reaches a fresh replica before the hub's waits
#     ("waiting for the admin log"), and lands, whole, when the hub's does;
#     the replica then holds what the hub holds and audits clean;
#   - over 20 fresh networks (hub -> site -> hub -> consultant, the site's
#     key sorting before or after the hub's as chance gives), the untouched
#     replica audits clean;
#   - a revocation that reaches a replica after the revoked key's later
#     commits withdraws them: the replica ends as one that got the
#     revocation first;
#   - nobody can take a member record's id (the squat): a site's record at
#     the id of a key the admin enrolls next is refused, and the enrollment
#     works everywhere; a site's record with another key's owner tag waits
#     (only a hub, which a role change could make of the site, writes it);
#   - received commits meet the record rules of local writes: a café with
#     only a site, new_attendees above attendees, hosts naming a café, a
#     required field cleared by an edit; each refused naming the record and
#     the rule, nothing else lost.
. "$(dirname "$0")/lib.sh"

TOOLS="${TOOLS:-$(cd "$(dirname "$CAFE")" && pwd)/tests}"
FORGE="$TOOLS/forge"
if [ ! -x "$FORGE" ]; then
	echo "Bail out! forge not found at $FORGE (make build/tests/forge)"
	exit 255
fi

ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing

digest() { "$CAFE" --data "$1" status --json | jq -r .digest; }
heads() { "$CAFE" --data "$1" status --json | jq -c '.heads | sort_by(.origin)'; }

# ---- a network: hub, site laptop, consultant replica ----------------------
# net_make DIR: a hub with two sites, a site laptop for the first, enrolled,
# that logs two cafés, an action and feedback; sets HUB SITE SA.
net_make() {
	local d="$1"
	"$CAFE" --data "$d/hub" init --name hub --role hub >/dev/null 2>&1
	HUB="$("$CAFE" --data "$d/hub" id)"
	"$CAFE" --data "$d/site" init --name laptop --role site --network "$HUB" >/dev/null 2>&1
	SITE="$("$CAFE" --data "$d/site" id)"
	SA="$("$CAFE" --data "$d/hub" add site name="Pine FRC")"
	"$CAFE" --data "$d/hub" add site name="River School" >/dev/null 2>&1
	"$CAFE" --data "$d/hub" member add "$SITE" --role site --site "$SA" --name laptop >/dev/null 2>&1
	"$CAFE" --data "$d/hub" bundle export "$d/hub1.b" >/dev/null 2>&1
	"$CAFE" --data "$d/site" bundle import "$d/hub1.b" >/dev/null 2>&1
	local c
	c="$("$CAFE" --data "$d/site" add cafe site="$SA" date=2026-10-01 format=parent \
		factors=resilience attendees=9 new_attendees=2 elements=$ELEMENTS)"
	"$CAFE" --data "$d/site" add cafe site="$SA" date=2026-10-08 format=dads elements=$ELEMENTS \
		factors=social_connections attendees=5 >/dev/null 2>&1
	"$CAFE" --data "$d/site" add action cafe="$c" title="Call the library" status=open >/dev/null 2>&1
	"$CAFE" --data "$d/site" add feedback cafe="$c" responses=8 felt_safe=8 >/dev/null 2>&1
	own "$d/site" "$d/site.b" >/dev/null 2>&1
}

# ---- the site's bundle first, then the hub's ---------------------------------
N="$T/first"
net_make "$N"
new_node "$N/rep" replica --role consultant --network "$HUB"
cafe_in "$N/rep" bundle import "$N/site.b"
is "$RC" 0 "a site's bundle before the hub's: exit 0, nothing refused"
like "$OUT" "4 waiting for the admin log, 0 refused" "... its 4 commits wait"
like "$OUT" "waiting: 4 commits of ${SITE:0:16} from seq 1: .*not an enrolled member \\(yet\\)" \
	"... named, with why"
is "$(head_of "$N/rep" "$SITE")" "" "... none is applied yet"
jq_is "$("$CAFE" --data "$N/rep" status --json)" '.pending | map(.commits) | add' 4 "status --json lists the 4 waiting"
cafe_in "$N/rep" status
like "$OUT" "waiting  4 commits of ${SITE:0:16}" "status says so in words"
"$CAFE" --data "$N/hub" bundle import "$N/site.b" >/dev/null 2>&1
"$CAFE" --data "$N/hub" bundle export "$N/hub2.b" >/dev/null 2>&1
cafe_in "$N/rep" bundle import "$N/hub2.b"
is "$RC" 0 "then the hub's bundle"
like "$OUT" "4 of the applied commits had waited for the admin log" "... lets the 4 in"
is "$(head_of "$N/rep" "$SITE")" 4 "the site's log is applied whole"
is "$(digest "$N/rep")" "$(digest "$N/hub")" "the replica holds what the hub holds"
jq_is "$("$CAFE" --data "$N/rep" status --json)" '.pending | length' 0 "nothing waits any more"
cafe_in "$N/rep" audit --json
is "$RC" 0 "the replica audits clean"
jq_is "$OUT" .integrity.ok true "... integrity ok"

# ---- 20 fresh networks, an untouched replica each -------------------------------
before=0 after=0 clean=0
for i in $(seq 1 20); do
	N="$T/net$i"
	net_make "$N"
	if [[ "$SITE" < "$HUB" ]]; then before=$((before + 1)); else after=$((after + 1)); fi
	"$CAFE" --data "$N/hub" bundle import "$N/site.b" >/dev/null 2>&1
	"$CAFE" --data "$N/hub" bundle export "$N/all.b" >/dev/null 2>&1
	"$CAFE" --data "$N/rep" init --name rep --role consultant --network "$HUB" >/dev/null 2>&1
	"$CAFE" --data "$N/rep" bundle import "$N/all.b" >/dev/null 2>&1
	if "$CAFE" --data "$N/rep" audit >/dev/null 2>&1 &&
	    [ "$(digest "$N/rep")" = "$(digest "$N/hub")" ]; then
		clean=$((clean + 1))
	else
		diag "network $i: site ${SITE:0:8} hub ${HUB:0:8}: $("$CAFE" --data "$N/rep" audit 2>&1 | grep -i fail | head -3)"
	fi
done
is "$clean" 20 "20 fresh replicas audit clean and hold the hub's records ($before with the site's key before the hub's, $after after)"

# ---- a revocation that arrives after the revoked key's later commits -------------
N="$T/revoke"
net_make "$N"
HELD="$(head_of "$N/site" "$SITE")"
"$CAFE" --data "$N/hub" bundle import "$N/site.b" >/dev/null 2>&1
run_ok "the hub revokes the laptop after seq $HELD" "$N/hub" member revoke "$SITE" --after "$HELD"
"$CAFE" --data "$N/site" add cafe site="$SA" date=2026-10-15 format=parent factors=resilience >/dev/null 2>&1
"$CAFE" --data "$N/site" add cafe site="$SA" date=2026-10-22 format=parent factors=resilience >/dev/null 2>&1
own "$N/site" "$N/site-late.b" >/dev/null 2>&1
# Replica P gets the laptop's later commits first (a data mule), then the
# hub's log with the revocation; replica Q the other way round.
new_node "$N/p" p --role consultant --network "$HUB"
new_node "$N/q" q --role consultant --network "$HUB"
"$CAFE" --data "$N/hub" bundle export "$N/hub-all.b" >/dev/null 2>&1
cafe_in "$N/p" bundle import "$N/hub1.b"
cafe_in "$N/p" bundle import "$N/site-late.b"
is "$(head_of "$N/p" "$SITE")" "$((HELD + 2))" "P, without the revocation, holds the laptop up to seq $((HELD + 2))"
cafe_in "$N/p" bundle import "$N/hub-all.b"
is "$RC" 0 "P then gets the revocation"
is "$(head_of "$N/p" "$SITE")" "$HELD" "P withdraws the two later commits: its head is back at $HELD"
like "$("$CAFE" --data "$N/p" status)" "waiting  2 commits of ${SITE:0:16} .*revoked" "... they wait, named as revoked"
cafe_in "$N/q" bundle import "$N/hub-all.b"
cafe_in "$N/q" bundle import "$N/site-late.b"
is "$(heads "$N/p")" "$(heads "$N/q")" "P and Q hold the same heads"
is "$(digest "$N/p")" "$(digest "$N/q")" "P and Q hold the same records"
is "$(digest "$N/p")" "$(digest "$N/hub")" "... and the hub's"
is "$("$CAFE" --data "$N/p" list cafe --json | jq length)" 2 "P lists the laptop's two cafés from before the revocation"
cafe_in "$N/p" audit
is "$RC" 0 "P audits clean after the withdrawal"
cafe_in "$N/p" verify
is "$RC" 0 "P verifies"

# ---- the squat ------------------------------------------------------------------
N="$T/squat"
net_make "$N"
new_node "$N/second" "second laptop" --role site --network "$HUB"
K2="$("$CAFE" --data "$N/second" id)"
"$FORGE" "$N/site" "$N/squat.b" put person "member:$K2" name=Squat roles=host site="$SA" \
	>/dev/null 2>"$N/squat.id"
cafe_in "$N/hub" bundle import "$N/site.b"
cafe_in "$N/hub" bundle import "$N/squat.b"
is "$RC" 1 "a site's record at a member record's id: refused (exit 1)"
like "$ERR" "refused: .*member records' space" "... because only the admin writes there"
run_ok "the hub then enrolls that key" "$N/hub" member add "$K2" --role site --site "$SA" --name second
jq_is "$("$CAFE" --data "$N/hub" member list --json)" ".[] | select(.key == \"$K2\") | .status" active \
	"... and it is enrolled on the hub"
new_node "$N/rep" replica --role consultant --network "$HUB"
cafe_in "$N/rep" bundle import "$N/squat.b"
is "$RC" 1 "the squat first, on a fresh replica: refused too"
"$CAFE" --data "$N/hub" bundle export "$N/hub2.b" >/dev/null 2>&1
cafe_in "$N/rep" bundle import "$N/hub2.b"
jq_is "$("$CAFE" --data "$N/rep" member list --json)" ".[] | select(.key == \"$K2\") | .status" active \
	"the replica enrolls the key as the hub did"
run_ok "the hub revokes it" "$N/hub" member revoke "$K2"
"$CAFE" --data "$N/hub" bundle export "$N/hub3.b" >/dev/null 2>&1
cafe_in "$N/rep" bundle import "$N/hub3.b"
jq_is "$("$CAFE" --data "$N/rep" member list --json)" ".[] | select(.key == \"$K2\") | .status" revoked \
	"... and the revocation reaches the replica"
is "$(digest "$N/rep")" "$(digest "$N/hub")" "replica and hub agree"
"$FORGE" "$N/site" "$N/tag.b" put person "tag:$HUB" name=Taken roles=host site="$SA" 2>/dev/null >/dev/null 2>&1
cafe_in "$N/hub" bundle import "$N/tag.b"
is "$RC" 0 "a site's record with another key's owner tag: not applied, it waits"
like "$OUT" "waiting: 1 commit of ${SITE:0:16} .*belongs to another key" \
	"... because the id belongs to another key (only a hub role would allow it)"
is "$(digest "$N/rep")" "$(digest "$N/hub")" "... and changes nothing"

# ---- received commits meet the record rules ---------------------------------------
N="$T/rules"
net_make "$N"
cafe_in "$N/hub" bundle import "$N/site.b"
C1="$("$CAFE" --data "$N/site" list cafe --json | jq -r '.[0].id')"
refused_rule() {
	local name="$1" want="$2"
	shift 2
	before="$(digest "$N/hub")"
	"$FORGE" "$N/site" "$N/$name.b" put "$@" >/dev/null 2>"$N/$name.id" ||
		diag "forge: $(cat "$N/$name.id")"
	cafe_in "$N/hub" bundle import "$N/$name.b"
	is "$RC" 1 "$name: refused (exit 1)"
	like "$ERR" "refused: $want" "$name: names the record and the rule"
	is "$(digest "$N/hub")" "$before" "$name: nothing else changed"
}
refused_rule "cafe-only-site" "cafe [0-9a-f]{16}: cafe field date: is required" cafe new site="$SA"
refused_rule "new-above-attendees" "cafe [0-9a-f]{16}: cafe field new_attendees: 9 is more than attendees \\(4\\)" \
	cafe new site="$SA" date=2026-10-01 format=parent factors=resilience attendees=4 new_attendees=9
refused_rule "hosts-a-cafe" "cafe [0-9a-f]{16}: field hosts: [0-9a-f]{8}\\.\\.\\. is a cafe, not a person" \
	cafe new site="$SA" date=2026-10-01 format=parent factors=resilience hosts="$C1"
refused_rule "required-cleared" "cafe ${C1:0:16}: cafe field format: is required and may not be cleared" \
	cafe "$C1" edit format=nil
cafe_in "$N/hub" verify
is "$RC" 0 "the hub verifies after the refusals"

done_testing
