#!/bin/sh
# slowlink.sh: a site's backlog of 2,000 imported cafés over a 256 kbit/s
# link (tc tbf, network namespaces) broken for 1 s every 5 s, connection
# lost at each break: tests/net/slowlink.t run once, reporting the time
# the link was up until the hub held everything, against the link's own
# limit (backlog bytes / rate).  Goal: at most 1.3 times.  Needs root.
#
#   CAFE=... CAFED=... sh tests/bench/slowlink.sh
set -eu
R=$(mktemp "${TMPDIR:-/tmp}/cafe-slow.XXXXXX")
trap 'rm -f "$R"' EXIT
if ! SLOWLINK_REPORT="$R" CAFE="$CAFE" CAFED="$CAFED" \
    bash "$(dirname "$0")/../net/slowlink.t" >"$R.tap" 2>&1; then
	grep -v '^ok' "$R.tap" >&2; rm -f "$R.tap"; exit 1
fi
if grep -q SKIP "$R.tap"; then
	echo "s   slow flapping link: skipped ($(grep SKIP "$R.tap"))"
	rm -f "$R.tap"; exit 0
fi
rm -f "$R.tap"
read -r wire tx up downs limit <"$R"
awk -v w="$wire" -v t="$tx" -v u="$up" -v d="$downs" -v l="$limit" 'BEGIN {
	r = u / l
	printf "s   2,000-cafe backlog, 256 kbit/s, 1 s break every 5 s\n"
	printf "s     time with link up / link limit            %.2f x (%.1f s / %.1f s, %d breaks)  <= 1.3 x  %s\n",
	    r, u, l, d, r <= 1.3 ? "PASS" : "MISS"
	printf "s     bytes sent / backlog bytes                 %.2f x (%d / %d)  <= 1.3 x  %s\n",
	    t / w, t, w, t / w <= 1.3 ? "PASS" : "MISS"
}'
