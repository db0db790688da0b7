#!/bin/sh
# mirror.sh: the PostgreSQL mirror's benchmarks, against a PostgreSQL
# server this script starts (tests/net/pglib.sh: initdb in a temporary
# directory, a unix socket, default settings but track_commit_timestamp).
# `make bench` runs it after sync.sh with
#
#   CAFE=... CAFED=... sh tests/bench/mirror.sh
#
#   p1  the first mirror of MIRROR_ROWS (100,000) cafés of 20 sites, made
#       by `cafe import cafe FILE.csv` on a hub: rows per second of
#       `cafe mirror postgres` (wall time of the command, every row
#       written in its tables with their indexes, positions moved)
#   p0  the reference: PostgreSQL's own COPY of the same 100,000 cafe rows
#       (exported from the mirror's table with \copy), into a table made
#       LIKE it INCLUDING ALL (the same primary key and index), timed
#       around psql's \copy in the same run; the goal is p1 >= p0 / 2.
#       p1 and p0 run three times each, alternated, each p1 into a schema
#       dropped before it; the figures are the medians
#   l   live lag: a site's cafed pushes each of LAG_N (200) `cafe add
#       cafe` to the hub's cafed, and `cafe mirror postgres --watch` on
#       the hub writes it to PostgreSQL: per café, the commit time of its
#       row in PostgreSQL (pg_xact_commit_timestamp) minus the time the
#       site made the commit (written_at, the site's clock: same machine);
#       median and 99th percentile.  Adds are spaced 50 ms apart.
#
# Everything runs in private temporary directories, removed on exit.
set -eu

for v in CAFE CAFED; do
	eval "[ -n \"\${$v:-}\" ]" || { echo "mirror.sh: set $v" >&2; exit 2; }
done
ROWS=${MIRROR_ROWS:-100000}
LAG_N=${LAG_N:-200}
PORT=${BENCH_PORT:-$((25000 + $$ % 2000))}
NSITES=20
HERE=$(cd "$(dirname "$0")" && pwd)

unset CAFE_DATA
T=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cafe-mirror.XXXXXX")
. "$HERE/../net/pglib.sh"
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pg_cleanup
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

. "$HERE/benchlib.sh"

say "starting PostgreSQL"
pg_start -c track_commit_timestamp=on || die "PostgreSQL did not start"
"$PG_BIN/postgres" --version >"$T/pgversion"

# ---- p1: first mirror ----------------------------------------------------

say "(p1) a hub with $ROWS cafés of $NSITES sites"
net=$(cafe hub init --name hub --role hub)
i=1
: >"$T/sites"
while [ "$i" -le "$NSITES" ]; do
	cafe hub add site name="Bench Site $i" county="County $i" \
	    >>"$T/sites" || die "cafe add site failed"
	i=$((i + 1))
done
awk -v n="$ROWS" '
BEGIN {
	split("parent dads community virtual", fmt, " ")
	fac[0] = "resilience"
	fac[1] = "\"resilience,social_connections\""
	fac[2] = "concrete_support"
	fac[3] = "\"child_development,social_emotional\""
	fac[4] = "\"social_connections,concrete_support,social_emotional\""
	ns = 0
}
{ site[ns++] = $1 }
END {
	print "site,date,format,factors,attendees,new_attendees," \
	    "children_cared_for,language,elements"
	x = 42
	for (i = 0; i < n; i++) {
		x = (x * 16807) % 2147483647
		a = 4 + x % 30
		printf "%s,%04d-%02d-%02d,%s,%s,%d,%d,%d,%s,\"welcome,theme,harvest\"\n",
		    site[i % ns], 2023 + x % 2, 1 + x % 12, 1 + x % 28,
		    fmt[1 + i % 4], fac[i % 5], a, x % (a + 1) % 7, x % 11,
		    (i % 3 ? "English" : "Spanish")
	}
}' "$T/sites" >"$T/cafes.csv"
cafe hub import cafe "$T/cafes.csv" >/dev/null 2>&1 || die "import failed"
rm -f "$T/cafes.csv"
sync
sleep 1

# Three rounds of each, alternated, and the median of each: the machine
# is shared, and one round of either can land on a busy second.
say "(p1, p0) first mirror and COPY, three rounds each"
chmod 0755 "$T"
: >"$T/p1.secs"
: >"$T/p0.secs"
for round in 1 2 3; do
	pg_sql "SET client_min_messages = warning; DROP SCHEMA IF EXISTS bench CASCADE" ||
	    die "drop schema failed"
	t0=$(now)
	cafe hub mirror postgres "$PGCONN" --schema bench --json >"$T/p1.json" ||
	    die "cafe mirror failed"
	t1=$(now)
	calc "$t1 - $t0" >>"$T/p1.secs"
	[ "$(pg_sql "SELECT count(*) FROM bench.cafe")" = "$ROWS" ] ||
	    die "the mirror does not hold $ROWS cafés"
	if [ "$round" = 1 ]; then
		"$PG_BIN/psql" -X -q "$PGCONN" -c "\\copy bench.cafe TO '$T/cafes.copy'" ||
		    die "copy out failed"
	fi
	pg_sql "SET client_min_messages = warning; DROP TABLE IF EXISTS public.copyref;
	    CREATE TABLE public.copyref (LIKE bench.cafe INCLUDING ALL)" ||
	    die "create failed"
	t0=$(now)
	"$PG_BIN/psql" -X -q "$PGCONN" -c "\\copy public.copyref FROM '$T/cafes.copy'" ||
	    die "copy in failed"
	t1=$(now)
	calc "$t1 - $t0" >>"$T/p0.secs"
done
rm -f "$T/cafes.copy"
median() { sort -g "$1" | sed -n 2p; }
P1_SECS=$(median "$T/p1.secs")
P0_SECS=$(median "$T/p0.secs")
P1_ROWS=$(jq -r .rows "$T/p1.json")
P1_TX=$(jq -r .transactions "$T/p1.json")

# ---- l: live lag ------------------------------------------------------------

say "(l) live lag, $LAG_N cafés added on a site"
site=$(cafe site init --name site --role site --network "$net")
cafe hub peer add site --inbound --key "$site"
cafe site peer add hub "127.0.0.1:$PORT" --key "$net"
SITE_ID=$(head -n 1 "$T/sites")
cafe hub member add "$site" --role site --name site --site "$SITE_ID" \
    >/dev/null || die "member add site failed"
start hub --listen "127.0.0.1:$PORT"
start site
i=0
until cafe site member list --json 2>/dev/null |
    jq -e --arg k "$site" 'any(.[]; .key == $k)' >/dev/null; do
	i=$((i + 1)); [ $i -lt 600 ] || die "the site never received its enrollment"
	sleep 0.05
done
"$CAFE" --data "$T/hub" mirror postgres "$PGCONN" --schema bench --watch \
    >"$T/watch.out" 2>"$T/watch.err" &
PIDS="$PIDS $!"
WATCH=$!
i=0
until [ -s "$T/watch.out" ]; do
	i=$((i + 1)); [ $i -lt 600 ] || die "the mirror did not catch up"
	sleep 0.05
done
i=0
while [ "$i" -lt "$LAG_N" ]; do
	cafe site add cafe site="$SITE_ID" date=2026-01-01 format=parent \
	    factors=resilience topic="lag $i" attendees=5 >/dev/null 2>&1 ||
	    die "cafe add failed"
	sleep 0.05
	i=$((i + 1))
done
i=0
until [ "$(pg_sql "SELECT count(*) FROM bench.cafe WHERE topic LIKE 'lag %'")" = "$LAG_N" ]; do
	i=$((i + 1)); [ $i -lt 600 ] || die "not every café reached PostgreSQL"
	sleep 0.05
done
pg_sql "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY l), \
    percentile_cont(0.99) WITHIN GROUP (ORDER BY l), max(l) FROM ( \
    SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - written_at) \
    * 1000 AS l FROM bench.cafe WHERE topic LIKE 'lag %') x" >"$T/lag" ||
    die "lag query failed"
kill "$WATCH"

# ---- figures -----------------------------------------------------------------

P1_RATE=$(calc "$P1_ROWS / $P1_SECS")
P0_RATE=$(calc "$ROWS / $P0_SECS")
RATIO=$(calc "100 * $P1_RATE / $P0_RATE")
LAG_MED=$(cut -d'|' -f1 "$T/lag")
LAG_P99=$(cut -d'|' -f2 "$T/lag")
LAG_MAX=$(cut -d'|' -f3 "$T/lag")
verdict() {
	if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo PASS; else echo MISS; fi
}

echo
echo "PostgreSQL mirror benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(cat "$T/pgversion")"
echo
echo "| | figure | measured | goal | result |"
echo "|---|---|---|---|---|"
echo "| p1 | first mirror, $ROWS cafés | $(fmt 0 "$P1_RATE") rows/s | ≥ 50% of p0 | $(verdict "$RATIO >= 50") ($(fmt 0 "$RATIO")% of p0) |"
echo "| p0 | PostgreSQL COPY of the same $ROWS rows | $(fmt 0 "$P0_RATE") rows/s | (reference) | – |"
echo "| l | live lag site → hub → PostgreSQL, median | $(fmt 1 "$LAG_MED") ms | < 100 ms | $(verdict "$LAG_MED < 100") |"
echo "| l | live lag, p99 | $(fmt 1 "$LAG_P99") ms | < 1000 ms | $(verdict "$LAG_P99 < 1000") |"
echo
printf '%s\n' "- p1: \`cafe mirror\` took $(fmt 3 "$P1_SECS") s (median of $(tr '\n' ' ' <"$T/p1.secs")s) for $P1_ROWS rows in $P1_TX transactions."
printf '%s\n' "- p0: psql's \`\\copy\` took $(fmt 3 "$P0_SECS") s (median of $(tr '\n' ' ' <"$T/p0.secs")s)."
printf '%s\n' "- l: $LAG_N cafés, the slowest $(fmt 1 "$LAG_MAX") ms."
