#!/usr/bin/env bash
# rural.t: syncs over a rural link, 256 kbit/s and a 300 ms round trip.
# The hub runs in one network namespace, the site and two consultant
# replicas in another, joined by a veth pair shaped by tc tbf to
# 256 kbit/s each way; the kernel has no netem, so the delay is a relay
# in the hub's namespace (delayrelay, 150 ms each way, the TCP handshake
# charged too) through which every node dials the hub.
#
#   a  a site that is in sync goes offline, records 30 cafés (30 commits)
#      and reconnects: the hub gets them all, and the two converge
#   b  a consultant's first replica of the hub's log (RURAL_COMMITS,
#      2,000 here, plus the admin's and the site's): all of it arrives
#   c  a second consultant's first replica is cut off midway (its cafed
#      SIGKILLed, as a laptop closed) and restarted: the restarted sync
#      is to receive only what it lacks, receives exactly that, and the
#      bytes on the link after the restart stay within what the rest
#      costs in (b), so the bytes received before the cut are not sent
#      again
#
# Nothing is timed against a goal here; tests/bench/rural.sh runs this
# script with RURAL_REPORT set and RURAL_COMMITS at 100,000 and reports
# the times against the link's limit.
. "$(dirname "$0")/netlib.sh"

netns_skip
N="${RURAL_COMMITS:-2000}"
DELAY=150

ok netns_pair 256kbit -- "two namespaces, a veth pair shaped to 256 kbit/s"
ok node_init hub hub -- "init hub (the network's admin)"
ok node_init bulk hub -- "init the writer of the hub's log"
ok node_init site hub -- "init the site"
ENROLL=consultant ok node_init c1 consultant -- "init consultant 1"
ENROLL=consultant ok node_init c2 consultant -- "init consultant 2"
ok admin_log bulk site c1 c2 -- "every node holds the admin's whole log"
RELAY_PORT=$(( _port_base + _port_next )); _port_next=$(( _port_next + 1 ))
for n in site c1 c2; do
	"$CAFE" --data "$T/$n" peer add hub "$A_HUB:$RELAY_PORT" --key "${KEY[hub]}" &&
	"$CAFE" --data "$T/hub" peer add "$n" --inbound --key "${KEY[$n]}" ||
	    fail "peer entries for $n"
done
pass "site and consultants dial the hub through the relay"

ip netns exec "$NS_HUB" "$TOOLS/delayrelay" "$A_HUB" "$RELAY_PORT" \
    "$A_HUB" "${PORT[hub]}" "$DELAY" >"$T/relay.out" 2>&1 &
PID[relay]=$!
ok wait_for 10 grep -q listening "$T/relay.out" -- "the relay holds each chunk $DELAY ms each way"
rx_bytes() { ip -n "$NS_SITE" -s -j link show "$V_SITE" | jq -r '.[0].stats64.rx.bytes'; }
tx_bytes() { ip -n "$NS_SITE" -s -j link show "$V_SITE" | jq -r '.[0].stats64.tx.bytes'; }
commits_of() { "$CAFE" --data "$T/$1" status --json 2>/dev/null | jq -r .commits; }
cafes_of() { "$CAFE" --data "$T/$1" status --json 2>/dev/null | jq -r '.counts.cafe // 0'; }
now() { date +%s.%N; }
report() { [ -n "${RURAL_REPORT:-}" ] && echo "$*" >>"$RURAL_REPORT"; return 0; }
# The hub's batches: smaller than the default here, so that the cut in
# (c) finds a replica holding some but not all of a small log
# (RURAL_BATCH=default keeps the default, as the benchmark does).
if [ "${RURAL_BATCH:-512}" != default ]; then
	printf '[limits]\nbatch_commits = %s\n' "${RURAL_BATCH:-512}" >"$T/hub.conf"
else
	: >"$T/hub.conf"
fi
chmod 600 "$T/hub.conf"

# (a) The site makes its site record and syncs it while online.
cafe_in "$T/site" add site "name=Site far"
SITE_ID="$OUT"
is "$RC" 0 "the site adds its site record"
ok ns_cafed "$NS_HUB" hub "$A_HUB" --config "$T/hub.conf" -- "start the hub's cafed"
ok ns_cafed "$NS_SITE" site "$A_SITE" -- "start the site's cafed"
ok wait_for 60 sh -c "[ \"\$('$CAFE' --data '$T/hub' status --json | jq -r .counts.site)\" = 1 ]" \
    -- "the site record crosses the link"
ok wait_idle site 60 -- "the site is caught up"
ok daemon_stop site -- "the site goes offline"
for i in $(seq 1 30); do
	"$CAFE" --data "$T/site" add cafe site="$SITE_ID" date="2024-0$(( i % 2 + 6 ))-$(printf %02d "$(( i % 28 + 1 ))")" \
	    format=parent factors=resilience topic="evening talk $i about the week" \
	    elements=welcome,theme,pair_talk,harvest >/dev/null ||
	    fail "café $i"
done
is "$(cafes_of site)" 30 "30 cafés recorded offline, one commit each"
RX0=$(rx_bytes); TX0=$(tx_bytes)
t0=$(now)
ok ns_cafed "$NS_SITE" site "$A_SITE" -- "the site comes back online"
hub_has_30() { [ "$(cafes_of hub)" = 30 ]; }
until hub_has_30 || [ "$(echo "$(now) - $t0 > 60" | bc)" = 1 ]; do sleep 0.02; done
t1=$(now)
is "$(cafes_of hub)" 30 "the hub holds the 30 cafés"
sleep 0.5
RXA=$(( $(rx_bytes) - RX0 )); TXA=$(( $(tx_bytes) - TX0 ))
TA=$(echo "$t1 - $t0" | bc -l)
diag "$(printf '(a) 30 cafés in %.3f s: %d bytes from the site, %d to it' "$TA" "$TXA" "$RXA")"
report "a $TA $TXA $RXA"
ok wait_idle site 30 -- "the site sees its cafés acknowledged"
converged "hub and site converge" hub site
ok daemon_stop site -- "the site goes offline again"

# The hub's log: N commits of another writer, imported while it is down.
"$TOOLS/bench_genbundle" "$T/bulk" "$N" "$T/bulk.bundle" >"$T/gen.out" 2>&1
is "$?" 0 "bench_genbundle writes $N commits" || diag "$(cat "$T/gen.out")"
ok daemon_stop hub -- "stop the hub for the import"
cafe_in "$T/hub" bundle import "$T/bulk.bundle"
is "$RC" 0 "the hub imports the $N-commit log" || diag "$ERR"
rm -f "$T/bulk.bundle"
TOTAL="$(commits_of hub)"
ok ns_cafed "$NS_HUB" hub "$A_HUB" --config "$T/hub.conf" -- "restart the hub's cafed"

# (b) A first replica, uninterrupted.
START_C=$(commits_of c1)
RX0=$(rx_bytes); TX0=$(tx_bytes)
t0=$(now)
ok ns_cafed "$NS_SITE" c1 "$A_SITE" -- "start consultant 1"
ok wait_for $(( N / 20 + 120 )) sh -c "[ \"\$('$CAFE' --data '$T/c1' status --json | jq -r .commits)\" = '$TOTAL' ]" \
    -- "consultant 1 receives all $TOTAL commits"
t1=$(now)
RXB=$(( $(rx_bytes) - RX0 )); TXB=$(( $(tx_bytes) - TX0 ))
TB=$(echo "$t1 - $t0" | bc -l)
diag "$(printf '(b) %d commits in %.1f s: %d bytes to the replica, %d from it' \
    "$(( TOTAL - START_C ))" "$TB" "$RXB" "$TXB")"
report "b $TB $RXB $TXB $(( TOTAL - START_C ))"
converged "hub and consultant 1 converge" hub c1
ok daemon_stop c1 -- "consultant 1 goes offline"

# (c) The same first replica, cut off midway and restarted.
RX0=$(rx_bytes)
ok ns_cafed "$NS_SITE" c2 "$A_SITE" -- "start consultant 2"
killed=0 seen=""
end=$(( $(date +%s) + N / 20 + 120 ))
while [ "$(date +%s)" -le "$end" ]; do
	c="$(commits_of c2)"
	seen="$seen $c"
	if [ -n "$c" ] && [ "$(( (c - START_C) * 5 ))" -ge "$(( TOTAL - START_C ))" ]; then
		daemon_kill c2
		killed=1
		break
	fi
	sleep 0.1
done
ok test "$killed" = 1 -- "consultant 2 was cut off midway" ||
    diag "commits seen:$(echo "$seen" | tr ' ' '\n' | tail -n 5 | tr '\n' ' ')"
sleep 1
RX1=$(( $(rx_bytes) - RX0 ))
HELD="$(commits_of c2)"
ok test "$HELD" -gt "$START_C" -a "$HELD" -lt "$TOTAL" -- "it holds part of the log ($HELD of $TOTAL)"
ok sh -c "'$CAFE' --data '$T/c2' verify >/dev/null" -- "its store verifies after the SIGKILL"
LOGLINES0=$(wc -l <"$T/c2.log")
RX0=$(rx_bytes)
ok ns_cafed "$NS_SITE" c2 "$A_SITE" -- "restart consultant 2"
ok wait_for $(( N / 20 + 120 )) sh -c "[ \"\$('$CAFE' --data '$T/c2' status --json | jq -r .commits)\" = '$TOTAL' ]" \
    -- "consultant 2 receives the rest"
RX2=$(( $(rx_bytes) - RX0 ))
LINE="$(tail -n +"$(( LOGLINES0 + 1 ))" "$T/c2.log" | grep -E 'peer hub: heads of [0-9]+ origins: [0-9]+ commits to receive' | head -n 1)"
M="$(printf '%s' "$LINE" | sed -nE 's/.*: ([0-9]+) commits to receive.*/\1/p')"
is "$M" "$(( TOTAL - HELD ))" "the restarted replica is to receive only what it lacks ($TOTAL - $HELD)"
RECV="$("$CAFE" --data "$T/c2" status --json | jq '.daemon.peers[] | select(.name == "hub") | .received')"
is "$RECV" "$(( TOTAL - HELD ))" "and receives exactly that"
# What the rest costs at (b)'s bytes per commit, with 16 KB for the
# handshake, heads and a partly filled last packet.
REST=$(( RXB * (TOTAL - HELD) / (TOTAL - START_C) ))
diag "$(printf '(c) cut at %d of %d commits: %d bytes before the cut, %d after (the rest at (b)'"'"'s rate: %d; all of (b): %d)' \
    "$HELD" "$TOTAL" "$RX1" "$RX2" "$REST" "$RXB")"
report "c $HELD $TOTAL $RX1 $RX2 $REST $RXB"
ok test "$RX2" -le "$(( REST * 11 / 10 + 16384 ))" -- "bytes after the restart ($RX2) within what the rest costs ($REST)"
ok test "$RX2" -lt "$(( RXB * 9 / 10 ))" -- "the restart did not start over ($RX2 < $RXB)"
converged "hub and consultant 2 converge" hub c2

done_testing
