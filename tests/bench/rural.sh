#!/bin/sh
# rural.sh: syncs over a rural link, 256 kbit/s each way (tc tbf on a veth
# pair between two network namespaces) and a 300 ms round trip (a relay
# holding every chunk 150 ms each way): tests/net/rural.t run once, with
# the hub's default batches, reporting
#
#   a  an incremental sync of 30 new cafés (30 commits) from a site that
#      reconnects: time from its cafed's start until the hub holds them,
#      against (bytes on the wire in the busier direction / rate + 3 round
#      trips).  Goal: at most 1.2 times.
#   b  a consultant's first replica of BENCH_RURAL_COMMITS (100,000)
#      commits: time from its cafed's start until it holds them all,
#      against the bytes it received on the link / rate.  Goal: at most
#      1.1 times.
#   c  the same replica SIGKILLed once it holds a fifth of the log and
#      restarted: the bytes on the link after the restart against what the
#      rest cost in b, and the bytes received twice in all (before the
#      cut, after it, less b's whole).
#
# Bytes are the site end's veth counters (Ethernet frames, so TCP/IP and
# the handshake included).  Needs root.
#
#   CAFE=... CAFED=... TOOLS=.../tests sh tests/bench/rural.sh
set -eu
R=$(mktemp "${TMPDIR:-/tmp}/cafe-rural.XXXXXX")
trap 'rm -f "$R" "$R.tap"' EXIT
if ! RURAL_REPORT="$R" RURAL_COMMITS="${BENCH_RURAL_COMMITS:-100000}" \
    RURAL_BATCH=default CAFE="$CAFE" CAFED="$CAFED" TOOLS="$TOOLS" \
    bash "$(dirname "$0")/../net/rural.t" >"$R.tap" 2>&1; then
	grep -v '^ok' "$R.tap" >&2; exit 1
fi
if grep -q SKIP "$R.tap"; then
	echo "r   rural link: skipped ($(grep SKIP "$R.tap"))"
	exit 0
fi
awk 'BEGIN { rate = 256000 / 8; rtt = 0.3 }
$1 == "a" { ta = $2; wa = ($3 > $4 ? $3 : $4) }
$1 == "b" { tb = $2; wb = $3; nb = $5 }
$1 == "c" { held = $2; tot = $3; r1 = $4; r2 = $5; rest = $6; full = $7 }
END {
	la = wa / rate + 3 * rtt; ra = ta / la
	lb = wb / rate; rb = tb / lb
	printf "r   rural link, 256 kbit/s each way, 300 ms round trip\n"
	printf "r     a  30 new cafes, time / (bytes / rate + 3 RTT)    %.2f x (%.2f s / %.2f s, %d bytes)  <= 1.2 x  %s\n",
	    ra, ta, la, wa, ra <= 1.2 ? "PASS" : "MISS"
	printf "r     b  first replica of %d commits, time / (bytes / rate)  %.3f x (%.1f s / %.1f s, %d bytes, %.1f bytes a commit)  <= 1.1 x  %s\n",
	    nb, rb, tb, lb, wb, wb / nb, rb <= 1.1 ? "PASS" : "MISS"
	printf "r     c  cut at %d of %d commits: %d bytes before, %d after (the rest costs %d at b'\''s rate): %.3f x\n",
	    held, tot, r1, r2, rest, r2 / rest
	printf "r        bytes received twice: %d (%.2f%% of b'\''s %d)\n",
	    r1 + r2 - full, 100 * (r1 + r2 - full) / full, full
}' "$R"
