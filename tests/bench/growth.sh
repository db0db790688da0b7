#!/usr/bin/env bash
# growth.sh: what an incremental sync costs as a hub's store grows.
# `make bench` runs it as
#
#   CAFE=... CAFED=... TOOLS=/abs/build-bench/tests bash tests/bench/growth.sh
#
# Two hubs on 127.0.0.1, each the admin of its own network, with the same
# origins: the admin, one writer whose log the hub holds (GROWTH_SMALL,
# 1,000, and GROWTH_BIG, 1,000,000 commits, made by bench_genbundle and
# imported by `cafe bundle import`), and GROWTH_SITES (9) sites, each
# enrolled with role site (it reads the admin's log and its own, so the
# writer's log never crosses) holding GROWTH_PUSH (100) cafés it recorded
# offline, one commit each, dated after the writer's (GROWTH_DATES, see
# below).  Both hubs' cafeds run; the sites' cafeds are
# started one at a time, a site of one hub then one of the other, each
# timed from its start until `cafe sync --wait` returns on it (the hub
# stored and acknowledged the 100 commits; the script checks the hub's
# head of the site's log).  The figure is the median over the sites, big
# hub against small.  Goal: at most 1.2 times.  Also shown, with no goal:
# the CPU time the hub's cafed spent on each sync (all its threads, from
# /proc/PID/task/*/schedstat), which the machine's other load moves far
# less than the wall time, and the time of `cafe status --json` on each
# hub.
#
# The hub's store has just been written by the import, so its pages are
# in the page cache: this measures the work an incremental sync does,
# not the disk reads a cold store would add.
#
# Everything runs in a private temporary directory, removed on exit.
set -u
. "$(dirname "$0")/../net/netlib.sh" >/dev/null

SMALL=${GROWTH_SMALL:-1000}
BIG=${GROWTH_BIG:-1000000}
SITES=${GROWTH_SITES:-9}
PUSH=${GROWTH_PUSH:-100}
# The sites' cafés: dated after every café the writer's log holds (2023
# and 2024), as a week's new cafés are, or (GROWTH_DATES=stored) among
# them, so that each lands in another leaf of the date index.
case "${GROWTH_DATES:-recent}" in
recent) FROM=2025-01-01 ;;
stored) FROM=2024-01-01 ;;
*) echo "growth.sh: GROWTH_DATES is recent or stored" >&2; exit 2 ;;
esac

say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: FAILED: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }

# start NAME: cafed for NAME, waiting for its control socket every 5 ms
# (daemon_start's 50 ms would blur the times measured here).
start() {
	local i
	"$CAFED" --data "$T/$1" --listen "127.0.0.1:${PORT[$1]}" >>"$T/$1.log" 2>&1 &
	PID[$1]=$!
	for i in $(seq 1 2000); do
		[ -S "$T/$1/ctl/cafed.sock" ] && return 0
		sleep 0.005
	done
	die "cafed $1 did not start"
}

# hub_of SIZE COMMITS: makes hub h$SIZE, its writer and its sites, and
# fills them; prints nothing.
hub_of() {
	local tag="$1" n="$2" i sid d
	NETWORK="" ADMIN=""
	node_init "h$tag" hub >/dev/null || die "init h$tag"
	node_init "w$tag" hub >/dev/null || die "init w$tag"
	for i in $(seq 1 "$SITES"); do
		sid=$("$CAFE" --data "$T/h$tag" add site "name=Site $tag $i") || die "add site"
		ENROLL="site:$sid" node_init "p${tag}_$i" site >/dev/null || die "init p${tag}_$i"
		SID["p${tag}_$i"]=$sid
	done
	say "($tag) the writer's log of $n commits"
	"$TOOLS/bench_genbundle" "$T/w$tag" "$n" "$T/w$tag.bundle" >"$T/w$tag.gen" ||
	    die "bench_genbundle"
	"$CAFE" --data "$T/h$tag" bundle import "$T/w$tag.bundle" >/dev/null ||
	    die "bundle import into h$tag"
	rm -f "$T/w$tag.bundle"
	say "($tag) $SITES sites record $PUSH cafés each"
	for i in $(seq 1 "$SITES"); do
		for d in $(seq 1 "$PUSH"); do
			"$CAFE" --data "$T/p${tag}_$i" add cafe site="${SID[p${tag}_$i]}" \
			    date="$(date -u -d "$FROM + $d days" +%F)" format=parent \
			    factors=resilience topic="talk $d" \
			    elements=welcome,theme,pair_talk,harvest >/dev/null 2>&1 ||
			    die "add cafe"
		done
		link "p${tag}_$i" "h$tag" || die "link"
	done
}

# cpu_ns PID: the CPU time all of PID's threads have used, in ns.
cpu_ns() {
	cat /proc/"$1"/task/*/schedstat 2>/dev/null |
	    awk '{ n += $1 } END { printf "%.0f\n", n }'
}

# push_one TAG I: starts site I of hub h$TAG, appends the seconds until it
# was caught up to $T/$TAG.times and the CPU the hub's cafed spent
# meanwhile (and in the 0.2 s after, for what an ACK leaves behind) to
# $T/$TAG.cpu.
push_one() {
	local tag="$1" p="p${1}_$2" t0 t1 c0 c1 own hub
	own=$(head_of "$T/$p" "${KEY[$p]}")
	hub=${PID[h$tag]}
	c0=$(cpu_ns "$hub")
	t0=$(now)
	start "$p"
	"$CAFE" --data "$T/$p" sync --wait --timeout 60 >/dev/null || die "$p sync --wait"
	t1=$(now)
	sleep 0.2
	c1=$(cpu_ns "$hub")
	[ "$(head_of "$T/h$tag" "${KEY[$p]}")" = "$own" ] ||
	    die "h$tag does not hold $p's $own commits after sync --wait"
	daemon_stop "$p"
	echo "$t1 - $t0" | bc -l >>"$T/$tag.times"
	echo "($c1 - $c0) / 1000000000" | bc -l >>"$T/$tag.cpu"
}

# status_time TAG: the median seconds of three `cafe status --json` on
# hub h$TAG (its counts walk the by-date index: they grow with the store).
status_time() {
	local i t0
	for i in 1 2 3; do
		t0=$(now)
		"$CAFE" --data "$T/h$1" status --json >/dev/null || die "status h$1"
		echo "$(now) - $t0" | bc -l
	done >"$T/$1.status"
	median "$T/$1.status"
}

# peer_bytes NODE PEER FIELD: NODE's cafed's bytes_in or bytes_out for PEER.
peer_bytes() {
	"$CAFE" --data "$T/$1" status --json |
	    jq -r --arg p "$2" ".daemon.peers[] | select(.name == \$p) | .$3"
}

# heads_bytes ORIGINS: prints the sizes of the two HEADS frames, the
# hub's and the consultant's, and how many origins the hub's named.
heads_bytes() {
	local n="$1" i d key b0 b1 c1 line
	NETWORK="" ADMIN=""
	node_init hh hub >/dev/null || die "init hh"
	say "(heads) $n writers of 21 commits each, enrolled on the hub"
	for i in $(seq 1 "$n"); do
		d="$T/o$i"
		key=$("$CAFE" --data "$d" init --name "o$i" --role hub --network "$NETWORK") &&
		"$CAFE" --data "$T/hh" member add "$key" --role hub --name "o$i" >/dev/null &&
		"$TOOLS/bench_genbundle" "$d" 21 "$d.bundle" >/dev/null &&
		"$CAFE" --data "$T/hh" bundle import "$d.bundle" >/dev/null ||
		    die "writer $i"
		rm -rf "$d" "$d.bundle"
	done
	ENROLL=consultant node_init hc consultant >/dev/null || die "init hc"
	link hc hh || die "link hc"
	start hh
	start hc
	"$CAFE" --data "$T/hc" sync --wait --timeout 300 >/dev/null || die "hc sync --wait"
	daemon_stop hc
	b0=$(peer_bytes hh hc bytes_out)
	start hc
	"$CAFE" --data "$T/hc" sync --wait --timeout 60 >/dev/null || die "hc sync --wait"
	sleep 0.5
	b1=$(peer_bytes hh hc bytes_out)
	c1=$(peer_bytes hc hh bytes_out)
	line=$(grep -E 'peer hh: heads of [0-9]+ origins' "$T/hc.log" | tail -n 1)
	daemon_stop hc
	daemon_stop hh
	echo "$(( b1 - b0 - 194 )) $(( c1 - 194 )) $(printf '%s' "$line" | sed -nE 's/.*heads of ([0-9]+) origins.*/\1/p')"
}

median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
declare -A SID
hub_of small "$SMALL"
hub_of big "$BIG"
du -sm "$T/hsmall" "$T/hbig" | awk '{ print "bench: store " $2 ": " $1 " MB" }' >&2
say "timed: $SITES sites of each hub, in turns"
# Both hubs run at once and their sites take turns, so that a change in
# the machine's load falls on both alike.
start hsmall
start hbig
sync; sleep 1
for i in $(seq 1 "$SITES"); do
	push_one small "$i"
	push_one big "$i"
done
daemon_stop hsmall
daemon_stop hbig
ms=$(median "$T/small.times"); mb=$(median "$T/big.times")
cs=$(median "$T/small.cpu"); cb=$(median "$T/big.cpu")
ss=$(status_time small); sb=$(status_time big)
heads_bytes "${GROWTH_ORIGINS:-1000}" >"$T/heads"
read -r hb hc ho <"$T/heads"
awk -v s="$ms" -v b="$mb" -v ns="$SMALL" -v nb="$BIG" -v p="$PUSH" -v k="$SITES" \
    -v ss="$ss" -v sb="$sb" -v from="$FROM" -v cs="$cs" -v cb="$cb" -v hb="$hb" -v hc="$hc" -v ho="$ho" \
    -v ts="$(tr '\n' ' ' <"$T/small.times")" -v tb="$(tr '\n' ' ' <"$T/big.times")" 'BEGIN {
	r = b / s
	printf "g   incremental sync of %d commits (cafés dated from %s), a site to its hub, median of %d sites\n", p, from, k
	printf "g     against %d commits / against %d             %.2f x (%.0f ms / %.0f ms)  <= 1.2 x  %s\n",
	    nb, ns, r, b * 1000, s * 1000, r <= 1.2 ? "PASS" : "MISS"
	printf "g     the hub'\''s CPU a sync, median: %.1f ms against %d, %.1f ms against %d (none set)\n",
	    cb * 1000, nb, cs * 1000, ns
	printf "g     runs, small hub (s): %s\n", ts
	printf "g     runs, big hub (s):   %s\n", tb
	printf "g   cafe status --json, median of 3: %.0f ms against %d commits, %.0f ms against %d (none set)\n",
	    sb * 1000, nb, ss * 1000, ns
	printf "g   HEADS of a hub to a consultant, heads of %d origins  %d bytes (its own back: %d)  < 80,000  %s\n",
	    ho, hb, hc, hb < 80000 && hc < 80000 ? "PASS" : "MISS"
	fflush()
}'
