#!/usr/bin/env bash
# slowlink.t: a site's backlog crosses a slow link that keeps breaking.
# The hub and the site run in two network namespaces this test makes,
# joined by a veth pair whose site end is shaped by tc tbf to 256 kbit/s;
# every 5 s the test takes the link down for 1 s and destroys the
# connection's sockets at both ends, so each break costs a reconnect.  The site holds a
# backlog of 2,000 cafés imported from one 2,000-row CSV (many local
# commits of at most 16 KiB in one transaction).  Batches travel
# uncompressed here (CAFESYNC_WIRE_COMPRESS=none): compressed, these
# look-alike rows cross in well under a second, before the first break,
# and the test would show nothing of the pacing.  It must all reach the
# hub, and the bytes that crossed the site's end of the link over every
# attempt (Ethernet, IP and TCP headers and the kernel's retransmissions
# of what the shaper dropped included) must stay within 1.3 times the
# backlog's own bytes (its commits, E and signature, as `cafe bundle
# export` carries them): what a broken batch cost is bounded, and nothing
# stored is sent again.  What the site's cafed wrote to its sockets (its
# bytes_out) also counts the batches in flight at each break that never
# crossed; it is bounded at 1.5 times.
. "$(dirname "$0")/netlib.sh"

netns_skip
netns_pair 256kbit
is "$?" 0 "two namespaces, a veth pair shaped to 256 kbit/s"
FLAP=""
slow_cleanup() {
	[ -n "$FLAP" ] && kill "$FLAP" 2>/dev/null
	_netns_cleanup
}
trap slow_cleanup EXIT

ok node_init hub hub -- "init hub"
ok node_init site site -- "init site"
"$CAFE" --data "$T/site" peer add hub "$A_HUB:${PORT[hub]}" --key "${KEY[hub]}" &&
"$CAFE" --data "$T/hub" peer add site --inbound --key "${KEY[site]}"
is "$?" 0 "the site dials the hub across the veth"

# The backlog is written while the site's cafed is down.
cafe_in "$T/site" add site "name=Site slow"
SITE_ID="$OUT"
is "$RC" 0 "the site adds its site record"
ELEMENTS=welcome,theme,pair_talk,harvest
f="$T/backlog.csv"
echo "site,date,format,factors,topic,elements" >"$f"
for i in $(seq 1 2000); do
	echo "$SITE_ID,2024-05-0$(( i % 9 + 1 )),parent,resilience,evening talk $i about the week,\"$ELEMENTS\""
done >>"$f"
cafe_in "$T/site" import cafe "$f" --format csv
is "$RC" 0 "2,000 cafés imported in one import" || diag "$ERR"
N="$("$CAFE" --data "$T/site" status --json | jq -r .commits)"
"$CAFE" --data "$T/site" bundle export "$T/backlog.bundle" >/dev/null 2>&1
WIRE=$(stat -c %s "$T/backlog.bundle")
ok test "$WIRE" -gt 100000 -- "the backlog is $WIRE bytes"
ok test "$N" -ge "$(( WIRE / 65536 ))" -- "the import is many local commits ($N)"

tx_bytes() { ip -n "$NS_SITE" -s -j link show "$V_SITE" | jq -r '.[0].stats64.tx.bytes'; }
TX0=$(tx_bytes)

NS_ENV=CAFESYNC_WIRE_COMPRESS=none ok ns_cafed "$NS_HUB" hub "$A_HUB" -- "start cafed hub in its namespace"
NS_ENV=CAFESYNC_WIRE_COMPRESS=none ok ns_cafed "$NS_SITE" site "$A_SITE" -- "start cafed site in its namespace"
START=$(date +%s.%N)
( while :; do
	sleep 4; ip -n "$NS_SITE" link set "$V_SITE" down
	echo down >>"$T/downs"
	# A drop loses the connection, as a mobile link does: both ends'
	# sockets are destroyed (ss -K), and the site dials again.
	ip netns exec "$NS_SITE" ss -K dst "$A_HUB" >/dev/null 2>&1
	ip netns exec "$NS_HUB" ss -K dst "$A_SITE" >/dev/null 2>&1
	sleep 1; ip -n "$NS_SITE" link set "$V_SITE" up
done ) &
FLAP=$!

cafes_on_hub() { "$CAFE" --data "$T/hub" status --json | jq -r .counts.cafe; }
# While it crosses, the site's status says what is left and how fast it
# goes: bytes still to send and the rate, in JSON and in words.
sample() {
	"$CAFE" --data "$T/site" status --json 2>/dev/null |
	    jq -r '.daemon.peers[0] | select(.state == "syncing") |
	    "\(.bytes_to_send) \(.rate) \(.to_send)"' >>"$T/samples"
	"$CAFE" --data "$T/site" status 2>/dev/null |
	    grep -E 'syncing: [0-9]+ changes? \((about )?[0-9.]+ (KB|MB|bytes)\) to send at [0-9.]+ (KB|bytes)/s, about [0-9]+ (s|min [0-9]+ s) left' \
	    >>"$T/words"
}
END_BY=$(( $(date +%s) + 200 ))
while [ "$(cafes_on_hub)" != 2000 ] && [ "$(date +%s)" -le "$END_BY" ]; do
	sample
	sleep 0.2
done
is "$(cafes_on_hub)" 2000 "all 2,000 cafés reach the hub across the flapping link"
kill "$FLAP" 2>/dev/null; wait "$FLAP" 2>/dev/null; FLAP=""
ip -n "$NS_SITE" link set "$V_SITE" up
TX=$(( $(tx_bytes) - TX0 ))
END=$(date +%s.%N)
DOWNS=0
[ -f "$T/downs" ] && DOWNS=$(wc -l <"$T/downs")
# The link's up time during the delivery, against its own limit.
UP=$(echo "$END - $START - $DOWNS" | bc -l)
LIMIT=$(echo "$WIRE * 8 / 256000" | bc -l)
diag "$(printf 'backlog %d bytes, sent %d bytes; delivered in %.1f s of link up (%d breaks), the link limit %.1f s' \
    "$WIRE" "$TX" "$UP" "$DOWNS" "$LIMIT")"
APP=$("$CAFE" --data "$T/site" status --json | jq -r '.daemon.peers[0].bytes_out')
diag "the site's cafed wrote $APP bytes over every connection"
[ -n "${SLOWLINK_REPORT:-}" ] &&
    echo "$WIRE $TX $UP $DOWNS $LIMIT $APP" >"$SLOWLINK_REPORT"
ok test "$DOWNS" -ge 1 -- "the link broke during the delivery ($DOWNS times)"
ok test "$(( TX * 10 ))" -le "$(( WIRE * 13 ))" -- "bytes across the link ($TX) within 1.3 times the backlog ($WIRE)"
ok test "$(( APP * 10 ))" -le "$(( WIRE * 15 ))" -- "bytes cafed wrote ($APP) within 1.5 times the backlog ($WIRE)"

# The samples taken with a rate: bytes to send within the backlog, the
# rate within what a 256 kbit/s link can show, and what is left falling.
grep -v null "$T/samples" >"$T/rated" || true
ok test "$(wc -l <"$T/rated")" -ge 3 -- \
    "status showed bytes to send and a rate while syncing ($(wc -l <"$T/rated") samples)"
read -r B0 R0 C0 <"$T/rated"
BN=$(tail -n 1 "$T/rated" | cut -d' ' -f1)
ok test "$B0" -gt 0 -a "$B0" -le "$WIRE" -- "bytes to send ($B0) within the backlog ($WIRE)"
ok test "$BN" -lt "$B0" -- "bytes to send fall as it crosses ($B0, then $BN)"
ok awk -v r="$R0" 'BEGIN { exit !(r >= 4000 && r <= 40000) }' -- \
    "the rate shown ($R0 bytes/s) is the link's order (32,000 bytes/s)"
ok test -s "$T/words" -- "status says it in words: $(head -n 1 "$T/words" | sed 's/^ *//')"

converged "hub and site converge" hub site

done_testing
