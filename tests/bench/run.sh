#!/bin/sh
# run.sh: cafesync's benchmarks.  `make bench` builds everything with -O2
# into build-bench/ and runs this with
#
#   CAFE=/abs/build-bench/cafe BENCH_BIN=/abs/build-bench/tests sh tests/bench/run.sh
#
# Every figure is measured in this one run, on this machine, in a private
# temporary directory (removed on exit, also on failure or Ctrl-C) made
# under $BENCH_TMP, else $TMPDIR, else /tmp: put it on the disk you want
# measured (a tmpfs makes every fsync free).  Only local files are used.
# What each figure means: docs/benchmarks.md.
#
#   a   ed25519 verify rate of libsodium, one core (bench_verify)
#   b   single-op commits authored per second, one synced LMDB write
#       transaction each (bench_author)
#   c   rows/s of `cafe import cafe FILE.csv`, 100,000 cafés of 20 sites
#   d1  commits/s of `cafe bundle import` of 100,000 single-op commits,
#       all verified, into a fresh node of the network; cafés dated in log
#       order (bench_genbundle ... ordered)
#   d2  the same with cafés dated at random over two years (the worst case
#       for the date indexes)
#   e   median wall time of `cafe list cafe --site S --since D` over the
#       cafés of (c), output to /dev/null
#   r   median wall time of `cafe report` over a year of 100,000 cafés of
#       50 sites (with 25,000 feedback forms, trainings and milestones),
#       in each format: text, json, csv (a folder) and html
#
# Sizes can be lowered for a quick try (the goals are stated for the
# defaults): BENCH_AUTHOR_N (2000), BENCH_ROWS (100000), BENCH_COMMITS
# (100000), BENCH_LIST_RUNS (20), BENCH_VERIFY_SECS (3), BENCH_REPORT_ROWS
# (100000), BENCH_REPORT_RUNS (5).
#
# Exits 0 when every benchmark ran (whether or not it met its goal), 1 when
# one could not run or a command failed, 2 on a usage error.

set -eu

if [ -z "${CAFE:-}" ] || [ -z "${BENCH_BIN:-}" ]; then
	echo "run.sh: set CAFE (the cafe binary) and BENCH_BIN (the directory" \
	    "of the bench_* binaries); make bench does" >&2
	exit 2
fi
for b in "$CAFE" "$BENCH_BIN/bench_verify" "$BENCH_BIN/bench_author" \
    "$BENCH_BIN/bench_genbundle" "$BENCH_BIN/bench_time" \
    "$BENCH_BIN/bench_list"; do
	if [ ! -x "$b" ]; then
		echo "run.sh: $b: not found or not executable" >&2
		exit 2
	fi
done

AUTHOR_N=${BENCH_AUTHOR_N:-2000}
ROWS=${BENCH_ROWS:-100000}
COMMITS=${BENCH_COMMITS:-100000}
LIST_RUNS=${BENCH_LIST_RUNS:-20}
VERIFY_SECS=${BENCH_VERIFY_SECS:-3}
REPORT_ROWS=${BENCH_REPORT_ROWS:-100000}
REPORT_RUNS=${BENCH_REPORT_RUNS:-5}
REPORT_SITES=50
NSITES=20
LIST_SINCE=2024-11-01

unset CAFE_DATA
T=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cafe-bench.XXXXXX")
trap 'rm -rf "$T"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM

# ---- helpers ---------------------------------------------------------------

say() {
	printf 'bench: %s\n' "$*" >&2
}

die() {
	printf 'bench: FAILED: %s\n' "$*" >&2
	exit 1
}

# get KEY FILE: the value of a "key value" line a bench_* program printed.
get() {
	v=$(awk -v k="$1" '$1 == k { print $2; exit }' "$2")
	[ -n "$v" ] || die "no $1 in $2"
	printf '%s\n' "$v"
}

# calc EXPR: floating-point arithmetic (comparisons give 1 or 0).  EXPR
# is parenthesized: a bare > in awk's printf arguments would redirect.
calc() {
	awk "BEGIN { printf \"%.6g\\n\", ($1) }"
}

# fmt DECIMALS NUMBER
fmt() {
	awk -v d="$1" -v n="$2" 'BEGIN { printf ("%." d "f\n", n) }'
}

# cafe DIR ARGS...
cafe() {
	d=$1
	shift
	"$CAFE" --data "$d" "$@"
}

# timed NAME PROGRAM ARGS...: runs PROGRAM (a file, not a shell function)
# once under bench_time, its output in $T/NAME.*; dies when it fails.
timed() {
	name=$1
	shift
	if ! "$BENCH_BIN/bench_time" -o "$T/$name.out" -e "$T/$name.err" \
	    -- "$@" >"$T/$name.time"; then
		sed 's/^/    /' "$T/$name.err" | head -5 >&2
		die "$name: $* exited $(get status "$T/$name.time")"
	fi
}

# busy: the share of CPU time (percent) the whole machine spent busy over
# one second, from /proc/stat; "?" where there is none.
busy() {
	if [ ! -r /proc/stat ]; then
		echo '?'
		return
	fi
	a=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' \
	    /proc/stat)
	sleep 1
	b=$(awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6; exit }' \
	    /proc/stat)
	echo "$a $b" | awk '{ t = ($3 - $1) + ($4 - $2)
		printf "%.0f\n", (t > 0 ? 100 * ($3 - $1) / t : 0) }'
}

loadavg() {
	if [ -r /proc/loadavg ]; then
		cut -d' ' -f1-3 /proc/loadavg
	else
		echo unknown
	fi
}

# ---- the machine -----------------------------------------------------------

CORES=$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?')
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo \
    2>/dev/null || true)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo \
    2>/dev/null || true)
LOAD0=$(loadavg)
BUSY0=$(busy)
START=$(date +%s)
say "machine: $CORES cores, ${CPU:-unknown CPU}, ${MEM:-? GiB}," \
    "${BUSY0}% busy before the start"
if [ "$BUSY0" != '?' ] && [ "$BUSY0" -gt 10 ]; then
	say "warning: other processes are using the CPU; the figures will be" \
	    "lower and noisier than on an idle machine"
fi
say "work directory: $T"

# ---- a: ed25519 verify rate --------------------------------------------------

say "(a) ed25519 verify rate, one core, ${VERIFY_SECS}s"
"$BENCH_BIN/bench_verify" "$VERIFY_SECS" >"$T/verify1" ||
    die "bench_verify failed"

# ---- b: single-op commits authored ---------------------------------------------

say "(b) $AUTHOR_N single-op commits, one batch and one transaction each"
cafe "$T/author" init --name bench-author --role site >/dev/null ||
    die "cafe init failed"
"$BENCH_BIN/bench_author" "$T/author" "$AUTHOR_N" >"$T/author.res" ||
    die "bench_author failed"
rm -rf "$T/author"

# ---- c: CSV import -------------------------------------------------------------

say "(c) CSV import of $ROWS cafés of $NSITES sites"
cafe "$T/csv" init --name bench-csv --role site >/dev/null ||
    die "cafe init failed"
i=1
: >"$T/sites"
while [ "$i" -le "$NSITES" ]; do
	cafe "$T/csv" add site name="Bench Site $i" county="County $i" \
	    >>"$T/sites" || die "cafe add site failed"
	i=$((i + 1))
done
[ "$(wc -l <"$T/sites")" -eq "$NSITES" ] || die "sites not created"

# Rows: sites in turn, dates pseudo-random over 2023-2024 (Park-Miller,
# exact in awk's doubles), so each site has cafés on every part of the
# two years and `--site S --since D` picks a few hundred.
awk -v n="$ROWS" '
BEGIN {
	split("31 28 31 30 31 30 31 31 30 31 30 31", md, " ")
	nd = 0
	for (y = 2023; y <= 2024; y++)
		for (m = 1; m <= 12; m++) {
			last = md[m] + (m == 2 && y % 4 == 0)
			for (d = 1; d <= last; d++)
				dates[nd++] = sprintf("%04d-%02d-%02d", y, m, d)
		}
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
	    "children_cared_for,language"
	x = 42
	for (i = 0; i < n; i++) {
		x = (x * 16807) % 2147483647
		a = 4 + x % 30
		printf "%s,%s,%s,%s,%d,%d,%d,%s\n", site[i % ns], dates[x % nd],
		    fmt[1 + i % 4], fac[i % 5], a, x % (a + 1) % 7, x % 11,
		    (i % 3 ? "English" : "Spanish")
	}
}' "$T/sites" >"$T/cafes.csv"
timed csv "$CAFE" --data "$T/csv" import cafe "$T/cafes.csv"
grep -q "imported $ROWS cafe records" "$T/csv.out" ||
    die "(c) import did not import $ROWS records: $(cat "$T/csv.out")"
rm -f "$T/cafes.csv"

# ---- e: list by site and date ----------------------------------------------------

SITE=$(head -n 1 "$T/sites")
say "(e) cafe list cafe --site ${SITE%????????????????????????} --since $LIST_SINCE," \
    "$LIST_RUNS runs"
cafe "$T/csv" list cafe --site "$SITE" --since "$LIST_SINCE" >"$T/list.out" ||
    die "cafe list failed"
LIST_ROWS=$(( $(wc -l <"$T/list.out" | tr -d ' ') - 1 ))	# less the header
"$BENCH_BIN/bench_time" -n "$LIST_RUNS" -w 2 -- "$CAFE" --data "$T/csv" \
    list cafe --site "$SITE" --since "$LIST_SINCE" >"$T/list.time" ||
    die "cafe list failed"
"$BENCH_BIN/bench_time" -n "$LIST_RUNS" -w 2 -- "$CAFE" --data "$T/csv" id \
    >"$T/id.time" || die "cafe id failed"
"$BENCH_BIN/bench_list" "$T/csv" "$SITE" "$LIST_SINCE" >"$T/list.res" ||
    die "bench_list failed"
rm -rf "$T/csv"

# ---- r: cafe report ---------------------------------------------------------------

# The store is made as (c) makes its own: sites with `cafe add`, then the
# cafés (dates over 2025) by one CSV import; then a feedback form for
# every fourth café, a training a month per site and three milestones per
# site, each by a CSV import.
say "(r) cafe report over $REPORT_ROWS cafés of $REPORT_SITES sites, a year"
cafe "$T/rep" init --name bench-report --role hub >/dev/null ||
    die "cafe init failed"
i=1
: >"$T/rsites"
while [ "$i" -le "$REPORT_SITES" ]; do
	cafe "$T/rep" add site name="Report Site $i" county="County $((i % 7))" \
	    region="Region $((i % 3))" >>"$T/rsites" || die "cafe add site failed"
	i=$((i + 1))
done
awk -v n="$REPORT_ROWS" '
BEGIN {
	split("31 28 31 30 31 30 31 31 30 31 30 31", md, " ")
	nd = 0
	for (m = 1; m <= 12; m++)
		for (d = 1; d <= md[m]; d++)
			dates[nd++] = sprintf("2025-%02d-%02d", m, d)
	split("parent dads community virtual", fmt, " ")
	fac[0] = "resilience"
	fac[1] = "\"resilience,social_connections\""
	fac[2] = "concrete_support"
	fac[3] = "\"child_development,social_emotional\""
	fac[4] = "\"social_connections,concrete_support,social_emotional\""
	el[0] = "\"welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing\""
	el[1] = "\"welcome,theme,agreements,pair_talk,table_talk,harvest\""
	el[2] = ""
	ns = 0
}
{ site[ns++] = $1 }
END {
	print "site,date,format,factors,attendees,new_attendees," \
	    "children_cared_for,max_table_size,elements"
	x = 7
	for (i = 0; i < n; i++) {
		x = (x * 16807) % 2147483647
		a = 4 + x % 30
		printf "%s,%s,%s,%s,%d,%d,%d,%d,%s\n", site[i % ns], dates[x % nd],
		    fmt[1 + i % 4], fac[i % 5], a, x % (a + 1) % 7, x % 11,
		    3 + x % 4, el[i % 3]
	}
}' "$T/rsites" >"$T/rcafes.csv"
cafe "$T/rep" import cafe "$T/rcafes.csv" >/dev/null 2>&1 ||
    die "(r) import of the cafés failed"
cafe "$T/rep" export cafe --format csv | awk -F, 'NR > 1 && NR % 4 == 0 {
	printf "%s,%d,%d,%d,%d,%d.%02d\n", $1, 12, 11, 10, 9, 4 + NR % 3, NR % 100
} BEGIN { print "cafe,responses,felt_safe,learned,will_return,pfs_resilience" }' \
    >"$T/rfeedback.csv"
cafe "$T/rep" import feedback "$T/rfeedback.csv" >/dev/null 2>&1 ||
    die "(r) import of the feedback failed"
awk 'BEGIN { print "site,date,kind,participants" }
{ for (m = 1; m <= 12; m++) printf "%s,2025-%02d-15,host_training,%d\n", $1, m, 3 + m }' \
    "$T/rsites" >"$T/rtrainings.csv"
cafe "$T/rep" import training "$T/rtrainings.csv" >/dev/null 2>&1 ||
    die "(r) import of the trainings failed"
awk 'BEGIN { print "site,step,status" }
{ print $1 ",1,done"; print $1 ",2,done"; print $1 ",3,in_progress" }' \
    "$T/rsites" >"$T/rmilestones.csv"
cafe "$T/rep" import milestone "$T/rmilestones.csv" >/dev/null 2>&1 ||
    die "(r) import of the milestones failed"
rm -f "$T/rcafes.csv" "$T/rfeedback.csv" "$T/rtrainings.csv" "$T/rmilestones.csv"
cafe "$T/rep" report --since 2025-01-01 --until 2025-12-31 --format json \
    >"$T/rep.json" || die "cafe report failed"
REPORT_CAFES=$(jq .activity.total.total.cafes "$T/rep.json")
for f in text json csv html; do
	if [ "$f" = csv ]; then
		out="-o $T/rep.csv"
	else
		out=
	fi
	# shellcheck disable=SC2086
	"$BENCH_BIN/bench_time" -n "$REPORT_RUNS" -w 1 -- "$CAFE" --data \
	    "$T/rep" report --since 2025-01-01 --until 2025-12-31 \
	    --format "$f" $out >"$T/report.$f.time" || die "cafe report --format $f failed"
done
rm -rf "$T/rep" "$T/rep.csv"

# ---- d: bundle import --------------------------------------------------------------

# bundle_bench TAG ORDER: makes a node whose log is COMMITS single-op
# commits (bench_genbundle writes them as a bundle, the node imports it),
# exports it with `cafe bundle export`, and times `cafe bundle import` of
# that file into a fresh node of the same network.
bundle_bench() {
	tag=$1
	order=$2
	say "($tag) $COMMITS signed single-op commits, $order dates"
	cafe "$T/$tag.origin" init --name "bench-$tag" --role site >/dev/null ||
	    die "cafe init failed"
	"$BENCH_BIN/bench_genbundle" "$T/$tag.origin" "$COMMITS" \
	    "$T/$tag.gen.bundle" "$order" >"$T/$tag.gen" ||
	    die "bench_genbundle failed"
	say "($tag) import into the origin node, export"
	timed "$tag.self" "$CAFE" --data "$T/$tag.origin" bundle import \
	    "$T/$tag.gen.bundle"
	timed "$tag.export" "$CAFE" --data "$T/$tag.origin" bundle export \
	    "$T/$tag.bundle"
	if cmp -s "$T/$tag.gen.bundle" "$T/$tag.bundle"; then
		echo same >"$T/$tag.cmp"
	else
		echo differs >"$T/$tag.cmp"
	fi
	rm -f "$T/$tag.gen.bundle"
	net=$(cafe "$T/$tag.origin" status |
	    awk '$1 == "network" { print $2; exit }')
	[ -n "$net" ] || die "no network id in cafe status"
	rm -rf "$T/$tag.origin"
	cafe "$T/$tag.fresh" init --name "bench-$tag-fresh" --network "$net" \
	    >/dev/null || die "cafe init --network failed"
	"$BENCH_BIN/bench_verify" 1 >"$T/$tag.verify.before" ||
	    die "bench_verify failed"
	say "($tag) timed: cafe bundle import into a fresh node"
	timed "$tag.import" "$CAFE" --data "$T/$tag.fresh" bundle import \
	    "$T/$tag.bundle"
	"$BENCH_BIN/bench_verify" 1 >"$T/$tag.verify.after" ||
	    die "bench_verify failed"
	grep -q "read $COMMITS commits: $COMMITS applied" "$T/$tag.import.out" ||
	    die "($tag) import did not apply every commit: $(cat "$T/$tag.import.out")"
	rm -rf "$T/$tag.fresh" "$T/$tag.bundle"
}

bundle_bench d1 ordered
bundle_bench d2 scattered

"$BENCH_BIN/bench_verify" "$VERIFY_SECS" >"$T/verify2" ||
    die "bench_verify failed"
LOAD1=$(loadavg)
ELAPSED=$(( $(date +%s) - START ))

# ---- figures ---------------------------------------------------------------------

# a: the median of the long verify runs at the start and the end and the
# short ones bracketing each timed import.
VERIFY=$(for f in "$T/verify1" "$T/verify2" "$T"/d?.verify.*; do
	get verify_per_s "$f"
done | sort -n | awk '{ v[NR] = $1 } END {
	print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }')
VERIFY_LO=$(for f in "$T/verify1" "$T/verify2" "$T"/d?.verify.*; do
	get verify_per_s "$f"; done | sort -n | head -n 1)
VERIFY_HI=$(for f in "$T/verify1" "$T/verify2" "$T"/d?.verify.*; do
	get verify_per_s "$f"; done | sort -n | tail -n 1)
VERIFY_CPU=$(get verify_per_cpu_s "$T/verify1")
PROTO_VERIFY=$(get proto_verify_per_s "$T/verify1")

AUTHOR=$(get author_per_s "$T/author.res")
CSV_MS=$(get median_ms "$T/csv.time")
CSV_RATE=$(calc "$ROWS / ($CSV_MS / 1000)")
LIST_MS=$(get median_ms "$T/list.time")
ID_MS=$(get median_ms "$T/id.time")

# d_rate TAG: commits per second of wall-clock time of the timed import.
d_rate() {
	calc "$COMMITS / ($(get median_ms "$T/$1.import.time") / 1000)"
}

D1_RATE=$(d_rate d1)
D2_RATE=$(d_rate d2)
D1_RATIO=$(calc "100 * $D1_RATE / $VERIFY")
D2_RATIO=$(calc "100 * $D2_RATE / $VERIFY")

verdict() {	# verdict OK-EXPRESSION
	if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo PASS; else echo MISS; fi
}

row() {	# row ID WHAT MEASURED GOAL RESULT
	printf '%-3s %-47s %-22s %-14s %s\n' "$1" "$2" "$3" "$4" "$5"
}

echo
echo "cafesync benchmarks ($(date -u +%Y-%m-%dT%H:%MZ), ${ELAPSED}s)"
echo "machine: $CORES cores, ${CPU:-unknown CPU}, ${MEM:-? GiB} RAM;" \
    "${BUSY0}% busy before the start; load average $LOAD0 at start," \
    "$LOAD1 at end"
if [ "$BUSY0" != '?' ] && [ "$BUSY0" -gt 10 ]; then
	echo "warning: the machine was ${BUSY0}% busy just before the start:" \
	    "other processes shared the cores, figures are low and noisy"
fi
SPREAD=$(calc "100 * ($VERIFY_HI - $VERIFY_LO) / $VERIFY_HI")
if [ "$(calc "$SPREAD > 10")" = 1 ]; then
	echo "warning: the verify rate varied by $(fmt 0 "$SPREAD")% during the" \
	    "run: other processes competed for the cores; rerun on an idle" \
	    "machine before comparing figures"
fi
echo "work directory on: $(df -P "$T" | awk 'NR == 2 { print $1 }')" \
    "(disk type unknown)"
echo
row "" "figure" "measured" "goal" "result"
row a "ed25519 verify, libsodium, 1 core" \
    "$(fmt 0 "$VERIFY") verifies/s" "(reference)" "-"
row b "single-op commits authored ($AUTHOR_N, fsync'd)" \
    "$(fmt 0 "$AUTHOR") commits/s" "none set" "-"
row c "CSV import, $ROWS cafes" "$(fmt 0 "$CSV_RATE") rows/s" \
    ">= 100000/s" "$(verdict "$CSV_RATE >= 100000")"
row d1 "bundle import, $COMMITS commits, dates in order" \
    "$(fmt 0 "$D1_RATE") commits/s" ">= 70% of a" \
    "$(verdict "$D1_RATIO >= 70") ($(fmt 0 "$D1_RATIO")% of a)"
row d2 "bundle import, $COMMITS commits, dates at random" \
    "$(fmt 0 "$D2_RATE") commits/s" ">= 70% of a" \
    "$(verdict "$D2_RATIO >= 70") ($(fmt 0 "$D2_RATIO")% of a)"
row e "list --site --since ($LIST_ROWS rows), median" \
    "$(fmt 1 "$LIST_MS") ms" "< 20 ms" "$(verdict "$LIST_MS < 20")"
for f in text json csv html; do
	ms=$(get median_ms "$T/report.$f.time")
	row r "report, $REPORT_ROWS cafes of $REPORT_SITES sites, $f" \
	    "$(fmt 0 "$ms") ms" "< 1000 ms" "$(verdict "$ms < 1000")"
done
echo
echo "details:"
echo "  a  verify runs in this benchmark: $(fmt 0 "$VERIFY_LO") to" \
    "$(fmt 0 "$VERIFY_HI") /s (a is their median);" \
    "$(fmt 0 "$VERIFY_CPU") per CPU-second;" \
    "through proto_verify() $(fmt 0 "$PROTO_VERIFY") /s"
echo "  b  one batch (new, put, commit, free): p50" \
    "$(get author_p50_ms "$T/author.res") ms, p99" \
    "$(get author_p99_ms "$T/author.res") ms, max" \
    "$(get author_max_ms "$T/author.res") ms"
echo "  c  cafe import: $(fmt 0 "$CSV_MS") ms wall, $(fmt 0 \
    "$(get cpu_ms "$T/csv.time")") ms CPU, $(get write_mb "$T/csv.time")" \
    "MB written"
for tag in d1 d2; do
	ms=$(get median_ms "$T/$tag.import.time")
	cpu=$(get cpu_ms "$T/$tag.import.time")
	# The verify rate nearest in time: the runs just before and after.
	near=$(calc "($(get verify_per_s "$T/$tag.verify.before") + \
	    $(get verify_per_s "$T/$tag.verify.after")) / 2")
	percpu=$(calc "$COMMITS / ($cpu / 1000)")
	echo "  $tag cafe bundle import: $(fmt 0 "$ms") ms wall," \
	    "$(fmt 0 "$cpu") ms CPU, $(get write_mb "$T/$tag.import.time") MB" \
	    "written; $(fmt 0 "$percpu") commits per CPU-second" \
	    "($(fmt 0 "$(calc "100 * $percpu / $VERIFY_CPU")")% of a per" \
	    "CPU-second); verify rate just before/after: $(fmt 0 "$near") /s" \
	    "(import at $(fmt 0 "$(calc "100 * $COMMITS / ($ms / 1000) / $near")")%" \
	    "of it)"
	echo "     generating and signing the log: $(get gen_per_s "$T/$tag.gen")" \
	    "commits/s; import into the origin node: $(fmt 0 \
	    "$(get median_ms "$T/$tag.self.time")") ms; export: $(fmt 0 \
	    "$(get median_ms "$T/$tag.export.time")") ms (bytes" \
	    "$(cat "$T/$tag.cmp") as generated)"
done
echo "  e  list: min $(fmt 1 "$(get min_ms "$T/list.time")") ms, max" \
    "$(fmt 1 "$(get max_ms "$T/list.time")") ms, CPU $(fmt 1 \
    "$(get cpu_ms "$T/list.time")") ms; \`cafe id\` (start, open, close):" \
    "median $(fmt 1 "$ID_MS") ms"
echo "     in one process: store_open $(get list_open_ms "$T/list.res") ms," \
    "first query $(get list_cold_ms "$T/list.res") ms" \
    "($(get list_cold_faults "$T/list.res") page faults), repeated query" \
    "$(get list_warm_ms "$T/list.res") ms"
echo "  r  cafe report: a year of $REPORT_CAFES cafés in the period (the" \
    "statewide total), median of $REPORT_RUNS runs; CPU text $(fmt 0 \
    "$(get cpu_ms "$T/report.text.time")") ms, json $(fmt 0 \
    "$(get cpu_ms "$T/report.json.time")") ms, csv $(fmt 0 \
    "$(get cpu_ms "$T/report.csv.time")") ms, html $(fmt 0 \
    "$(get cpu_ms "$T/report.html.time")") ms"
