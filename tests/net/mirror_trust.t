#!/usr/bin/env bash
# mirror_trust.t: the PostgreSQL mirror follows what the store accepts,
# whatever the order the admin log and a site's log arrive in (see
# docs/formats.md, "Acceptance", and docs/analytics.md, "Withdrawn
# commits").  Through bundles into consultant replicas, no daemons, each
# step followed by a one-shot `cafe mirror postgres`, after which every
# table's count and checksum of ids and the cafés' values equal the
# store's:
#   - a site's commits reaching the replica before the admin commit that
#     enrolls it wait (nothing of them in PostgreSQL), then land when the
#     hub's own log arrives, and reach PostgreSQL;
#   - a revocation reaching a replica after the revoked key's later
#     commits (a new café, an edit of a mirrored café, a removal of a
#     mirrored action) were mirrored withdraws them: the new café leaves
#     PostgreSQL, the edited café and the removed action are back as they
#     were, in one transaction; a mirror run once more after it does
#     nothing; a later write is mirrored as usual;
#   - a replica that gets the revocation first, the late commits after,
#     mirrored into a schema of its own: the same rows as the first.
. "$(dirname "$0")/netlib.sh"
. "$(dirname "$0")/pglib.sh"
trap 'pg_cleanup; _net_cleanup' EXIT

if ! pg_bin_dir >/dev/null; then
	echo "1..0 # SKIP no PostgreSQL server installed"
	exit 0
fi
ok pg_start -c fsync=off -- "a private PostgreSQL server starts"
[ -n "$PGCONN" ] || { echo "Bail out! no PostgreSQL"; exit 255; }

sql() { pg_sql "$1" 2>>"$T/sql.err"; }

TYPES="site person cafe action training milestone feedback audit member"
ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing


# store_rows DIR: per type, the count and a checksum of the ids, then a
# checksum of the cafés' values; pg_rows SCHEMA the same from PostgreSQL.
store_rows() {
	local t
	for t in $TYPES; do
		"$CAFE" --data "$1" export "$t" --format json |
			jq -r '.[] | .id' | LC_ALL=C sort |
			{ ids="$(cat)"; printf '%s %s %s\n' "$t" \
			  "$(printf '%s' "$ids" | grep -c .)" \
			  "$(printf '%s' "$ids" | md5sum | cut -d' ' -f1)"; }
	done
	"$CAFE" --data "$1" export cafe --format json |
		jq -r '.[] | [.id, .site, .date, .format, (.factors | join(",")),
			(.attendees // "" | tostring), (.new_attendees // "" | tostring)] | join("|")' |
		LC_ALL=C sort | md5sum | cut -d' ' -f1
}
pg_rows() {
	local t
	for t in $TYPES; do
		printf '%s %s %s\n' "$t" "$(sql "SELECT count(*) FROM $1.$t")" \
			"$(sql "SELECT md5(coalesce(string_agg(id, E'\n' ORDER BY id COLLATE \"C\"), ''))
				FROM $1.$t")"
	done
	sql "SELECT md5(coalesce(string_agg(id || '|' || site || '|' || \"date\" || '|' || format
		|| '|' || array_to_string(factors, ',') || '|' || coalesce(attendees::text, '')
		|| '|' || coalesce(new_attendees::text, ''), E'\n' ORDER BY id COLLATE \"C\") || E'\n', ''))
		FROM $1.cafe"
}
# mirrored DIR SCHEMA DESC: a one-shot mirror, then the rows are the store's.
mirrored() {
	local out rc
	out="$("$CAFE" --data "$1" mirror postgres "$PGCONN" --schema "$2" 2>&1)"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$3"
		diag "cafe mirror: exit $rc: $out"
		return
	fi
	local want got
	want="$(store_rows "$1")"
	got="$(pg_rows "$2")"
	is "$got" "$want" "$3"
}

# ---- a network: hub, a site laptop enrolled, its first records -------------
N="$T/net"
mkdir -p "$N"
"$CAFE" --data "$N/hub" init --name hub --role hub >/dev/null 2>&1
HUB="$("$CAFE" --data "$N/hub" id)"
"$CAFE" --data "$N/site" init --name laptop --role site --network "$HUB" >/dev/null 2>&1
SITE="$("$CAFE" --data "$N/site" id)"
SA="$("$CAFE" --data "$N/hub" add site name="Pine FRC")"
"$CAFE" --data "$N/hub" add site name="River School" >/dev/null 2>&1
"$CAFE" --data "$N/hub" member add "$SITE" --role site --site "$SA" --name laptop >/dev/null 2>&1
"$CAFE" --data "$N/hub" bundle export "$N/hub1.b" >/dev/null 2>&1
"$CAFE" --data "$N/site" bundle import "$N/hub1.b" >/dev/null 2>&1
C1="$("$CAFE" --data "$N/site" add cafe site="$SA" date=2026-10-01 format=parent \
	factors=resilience attendees=9 new_attendees=2 elements=$ELEMENTS)"
"$CAFE" --data "$N/site" add cafe site="$SA" date=2026-10-08 format=dads elements=$ELEMENTS \
	factors=social_connections attendees=5 >/dev/null 2>&1
A1="$("$CAFE" --data "$N/site" add action cafe="$C1" title="Call the library" status=open)"
"$CAFE" --data "$N/site" add feedback cafe="$C1" responses=8 felt_safe=8 >/dev/null 2>&1
HELD="$(head_of "$N/site" "$SITE")"
own "$N/site" "$N/site.b" >/dev/null 2>&1
isnt "$C1" "" "the laptop logs two cafés, an action and feedback (seq 1..$HELD)"

# ---- the site's commits before the admin commit that enrolls it -------------
new_node "$N/p" p --role consultant --network "$HUB"
cafe_in "$N/p" bundle import "$N/site.b"
like "$OUT" "$HELD waiting for the admin log" "P gets the laptop's log first: its $HELD commits wait"
mirrored "$N/p" p "... PostgreSQL holds none of them, as the store"
is "$(sql "SELECT count(*) FROM p.cafe")" 0 "... no café in PostgreSQL"
own "$N/hub" "$N/hub-own.b" >/dev/null 2>&1
cafe_in "$N/p" bundle import "$N/hub-own.b"
like "$OUT" "$HELD of the applied commits had waited" "P then gets the hub's own log: the $HELD land"
mirrored "$N/p" p "... and reach PostgreSQL: the rows are the store's"
is "$(sql "SELECT count(*) FROM p.cafe")" 2 "... both cafés"

# ---- later commits mirrored, then a revocation that withdraws them ---------
"$CAFE" --data "$N/hub" bundle import "$N/site.b" >/dev/null 2>&1
run_ok "the hub revokes the laptop after seq $HELD" "$N/hub" member revoke "$SITE" --after "$HELD"
C3="$("$CAFE" --data "$N/site" add cafe site="$SA" date=2026-10-15 format=parent \
	factors=resilience elements=$ELEMENTS)"
"$CAFE" --data "$N/site" edit "$C1" attendees=30 >/dev/null 2>&1
"$CAFE" --data "$N/site" rm "$A1" >/dev/null 2>&1
own "$N/site" "$N/site-late.b" >/dev/null 2>&1
cafe_in "$N/p" bundle import "$N/site-late.b"
is "$(head_of "$N/p" "$SITE")" "$((HELD + 3))" "P, without the revocation, takes the laptop's 3 later commits"
mirrored "$N/p" p "... mirrored: the rows are the store's"
is "$(sql "SELECT count(*) FROM p.cafe WHERE id = '$C3'")" 1 "... the late café is in PostgreSQL"
is "$(sql "SELECT attendees FROM p.cafe WHERE id = '$C1'")" 30 "... so is the edit"
is "$(sql "SELECT count(*) FROM p.action")" 0 "... and the removal"
"$CAFE" --data "$N/hub" bundle export "$N/hub-all.b" >/dev/null 2>&1
cafe_in "$N/p" bundle import "$N/hub-all.b"
is "$(head_of "$N/p" "$SITE")" "$HELD" "P then gets the revocation: the 3 are withdrawn"
mirrored "$N/p" p "... mirrored: the rows are the store's again"
is "$(sql "SELECT count(*) FROM p.cafe WHERE id = '$C3'")" 0 "... the late café left PostgreSQL"
is "$(sql "SELECT attendees FROM p.cafe WHERE id = '$C1'")" 9 "... the edited café is as it was"
is "$(sql "SELECT count(*) FROM p.action WHERE id = '$A1'")" 1 "... the removed action is back"
is "$(sql "SELECT count(*) FROM p._position")" \
	"$("$CAFE" --data "$N/p" status --json | jq '.heads | length')" "... a position per head"
is "$(sql "SELECT seq FROM p._position WHERE origin = '$SITE'")" "$HELD" "... the laptop's at $HELD"
run_ok "a mirror run once more" "$N/p" mirror postgres "$PGCONN" --schema p --json
jq_is "$OUT" .commits 0 "... covers no commit: nothing to do"
"$CAFE" --data "$N/hub" add site name="Lake Library" >/dev/null 2>&1
own "$N/hub" "$N/hub-late.b" >/dev/null 2>&1
"$CAFE" --data "$N/p" bundle import "$N/hub-late.b" >/dev/null 2>&1
mirrored "$N/p" p "a later write of the hub is mirrored as usual"
is "$(sql "SELECT count(*) FROM p.site")" 3 "... its site is there"

# ---- the other order: the revocation first, the late commits after ---------
new_node "$N/q" q --role consultant --network "$HUB"
cafe_in "$N/q" bundle import "$N/hub-all.b"
mirrored "$N/q" q "Q gets the hub's log with the revocation first: mirrored"
cafe_in "$N/q" bundle import "$N/site-late.b"
mirrored "$N/q" q "... then the late commits, which wait: mirrored"
"$CAFE" --data "$N/q" bundle import "$N/hub-late.b" >/dev/null 2>&1
mirrored "$N/q" q "... then the hub's later write: mirrored"
is "$(pg_rows q)" "$(pg_rows p)" "Q's rows in PostgreSQL are P's"

done_testing
