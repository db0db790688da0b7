#!/usr/bin/env bash
# cli.sh: how long each everyday command takes on a store of 100,000 cafés
# (BENCH_ROWS), with name look-ups through the index: the median and the
# slowest of RUNS runs of each, wall time of the whole process, and a PASS
# when every median is under 50 ms.  Run by `make bench` after run.sh;
# CAFE names the (optimized) binary.
set -u
CAFE="${CAFE:?set CAFE to the cafe binary}"
ROWS="${BENCH_ROWS:-100000}"
RUNS="${BENCH_CLI_RUNS:-15}"
LIMIT_MS=50
T="$(mktemp -d "${TMPDIR:-/tmp}/cafe-bench-cli.XXXXXX")"
trap 'rm -rf "$T"' EXIT
D="$T/node"
say() { printf '%s\n' "$*" >&2; }
die() { say "cli.sh: $*"; exit 1; }
cafe() { "$CAFE" --data "$D" "$@"; }

say "(cli) a store of $ROWS cafés of 20 sites, 200 persons"
cafe init --name "Bench hub" --role hub >/dev/null || die "init"
for i in $(seq 1 20); do cafe add site name="Bench Site $i" >/dev/null || die "add site"; done
{
	echo "name,roles"
	for i in $(seq 1 200); do echo "Person $i,host"; done
} >"$T/persons.csv"
cafe import person "$T/persons.csv" >/dev/null || die "import persons"
awk -v n="$ROWS" 'BEGIN {
	print "site,date,format,factors,attendees,hosts,elements"
	split("parent dads community virtual", fmt, " ")
	x = 7
	for (i = 0; i < n; i++) {
		x = (x * 16807) % 2147483647
		printf "Bench Site %d,%04d-%02d-%02d,%s,resilience,%d,Person %d,all\n",
		    1 + i % 20, 2023 + x % 3, 1 + x % 12, 1 + x % 28,
		    fmt[1 + i % 4], 5 + x % 20, 1 + x % 200
	}
}' >"$T/cafes.csv"
cafe import cafe "$T/cafes.csv" >"$T/import.out" 2>/dev/null || die "import cafés"
grep -q "imported $ROWS cafe records" "$T/import.out" || die "import: $(cat "$T/import.out")"
ONE="$(cafe list cafe --site "Bench Site 7" --since 2025-12-01 --json | jq -r '.[0].id')"
SHORT="$(cafe list cafe --site "Bench Site 7" --since 2025-12-01 | sed -n 2p | awk '{print $1}')"
[ -n "$SHORT" ] || die "no short id"
say "(cli) short id of a café among $ROWS: $SHORT (${#SHORT} hex digits)"

# timed NAME CMD...: RUNS runs; prints "NAME median max".
timed() {
	local name="$1" i t0 t1
	shift
	: >"$T/times"
	for i in $(seq 1 "$RUNS"); do
		t0=$(date +%s%N)
		"$@" >/dev/null 2>&1
		t1=$(date +%s%N)
		echo $(( (t1 - t0) / 1000 )) >>"$T/times"
	done
	sort -n "$T/times" | awk -v name="$name" '{ a[NR] = $1 } END {
		printf "%s %.1f %.1f\n", name, a[int((NR + 1) / 2)] / 1000, a[NR] / 1000 }'
}
N=0
edit_next() { N=$((N + 1)); cafe edit "$SHORT" attendees=$(( 10 + N % 50 )); }
add_named() { cafe add cafe site="bench site 3" date=2026-11-04 format=Parent factors=Resilience hosts="person 12" attendees=9 elements=all; }
{
	timed "show-by-short-id" cafe show "$SHORT"
	timed "show-site-by-name" cafe show "Bench Site 7"
	timed "add-with-names" add_named
	timed "edit-with-echo" edit_next
	cafe edit "$SHORT" attendees=33 >/dev/null
	timed "edit-no-op" cafe edit "$SHORT" attendees=33
	timed "history" cafe history "$SHORT"
	timed "list-site-month" cafe list cafe --site "Bench Site 7" --since 2025-12-01
	timed "list-person" cafe list person
	timed "status" cafe status
	timed "errors-at-once" cafe add cafe site=nowhere date=11/04/2026 format=parnt factors=resilence
	timed "help" cafe add --help
} >"$T/res"
printf '\n(cli) each command on %s cafés: median and slowest of %s runs, ms (limit %s ms)\n' "$ROWS" "$RUNS" "$LIMIT_MS"
fail=0
while read -r name med max; do
	verdict=PASS
	awk -v m="$med" -v l="$LIMIT_MS" 'BEGIN { exit !(m < l) }' || { verdict=FAIL; fail=1; }
	printf '  %-20s %7s %7s  %s\n' "$name" "$med" "$max" "$verdict"
done <"$T/res"
exit $fail
