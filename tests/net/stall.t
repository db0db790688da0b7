#!/usr/bin/env bash
# stall.t: a peer that stops reading costs the hub a bounded amount of
# memory, and is cut when its keepalive runs out.
#
# The hub holds a log much larger than the memory bound below (a site's
# log of NCOMMITS commits, made by bench_genbundle and imported as a
# bundle).  wirepeer, authenticated as that site, says it has nothing
# (HEADS with no heads) and then never reads, with a tiny receive
# buffer.  The hub may keep at most its window (4 MiB) plus one batch
# unacknowledged, so its resident memory must stay flat while it would
# have to hold the whole log if it did not stop.  Then, with a 1 s ping
# interval and a 3 s timeout, the hub must cut the stalled peer and say
# so in its log.  Last, the same log still reaches a normal fresh node.

source "$(dirname "$0")/netlib.sh"

WP="$TOOLS/wirepeer"
GEN="$TOOLS/bench_genbundle"
for tool in "$WP" "$GEN"; do
	if [ ! -x "$tool" ]; then
		echo "Bail out! $tool not found (make build/tests/wirepeer build/tests/bench_genbundle)"
		exit 255
	fi
done

NCOMMITS=100000
# Growth allowed to the hub while the peer stalls, in KiB.  Its own
# buffers (RssAnon) may hold the window (4 MiB) and a batch (1 MiB) with
# slack; much of the window even sits in the kernel's send buffer, which
# RSS does not count.  VmRSS also counts the store's mapped pages that
# reading those batches touched (with the kernel's fault-around, about
# 12 MiB for 4 MiB of commits), not buffers.  Both bounds are under the
# log's size: a hub that read and queued the whole log would break both.
ANON_BOUND_KB=$((8 * 1024))
BOUND_KB=$((24 * 1024))
SAMPLE_S=10

node_init hub hub
node_init big site              # the log's author; wirepeer uses its key
node_init fresh site
HUB="127.0.0.1:$(node_port hub)"

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
log_from() { tail -n +"$1" "$T/hub.log"; }
log_mark() { wc -l <"$T/hub.log"; }
log_has() { log_from "$(($1 + 1))" | grep -Eq -- "$2"; }
hub_alive() { kill -0 "$(daemon_pid hub)" 2>/dev/null; }
same_digest() { [ "$(digest "$1")" = "$(digest "$2")" ]; }

# ---- the hub and its big log ------------------------------------------------

GENOUT=$("$GEN" "$T/big" "$NCOMMITS" "$T/big.bundle" 2>&1)
is "$?" 0 "bench_genbundle writes $NCOMMITS commits"
LOG_BYTES=$(awk '$1 == "gen_commit_bytes" { print $2 }' <<<"$GENOUT")
run_ok "the hub imports the bundle" "$T/hub" bundle import "$T/big.bundle"
like "$OUT" "$NCOMMITS applied" "every commit of the bundle is applied"
rm -f "$T/big.bundle"
diag "log: $NCOMMITS commits, ${LOG_BYTES:-?} bytes of commits; bounds: VmRSS +$((BOUND_KB / 1024)) MiB, RssAnon +$((ANON_BOUND_KB / 1024)) MiB"
ok [ "${LOG_BYTES:-0}" -gt $((BOUND_KB * 1024)) ] -- \
	"the log is larger than both memory bounds, so they mean something"

ok "$CAFE" --data "$T/hub" peer add big --inbound --key "${KEY[big]}" -- \
	"the stalling peer's key is configured on the hub"
ok daemon_start hub -- "hub starts (default keepalive: 15 s / 45 s)"

# ---- phase 1: a stalled reader and the hub's memory -------------------------

sleep 0.5
HUBPID=$(daemon_pid hub)
BASE=$(status_kb "$HUBPID" VmRSS)
BASE_ANON=$(status_kb "$HUBPID" RssAnon)
M=$(log_mark)
"$WP" stall "$HUB" "${KEY[hub]}" "$NETWORK" "$T/big/node.key" $((SAMPLE_S + 5)) \
	>"$T/stall1.out" 2>&1 &
STALL=$!
ok wait_for 5 log_has "$M" 'peer big: heads of 0 origins: 0 commits to receive, [0-9]+ to send' -- \
	"the stalled peer connected and asked for everything"

MAX=$BASE MAX_ANON=$BASE_ANON SAMPLES=""
for i in $(seq 1 $((SAMPLE_S * 2))); do
	sleep 0.5
	R=$(status_kb "$HUBPID" VmRSS) A=$(status_kb "$HUBPID" RssAnon)
	[ -z "$R" ] && break
	SAMPLES="$SAMPLES $R"
	[ "$R" -gt "$MAX" ] && MAX=$R
	[ "$A" -gt "$MAX_ANON" ] && MAX_ANON=$A
done
diag "VmRSS KiB samples:$SAMPLES"
diag "VmRSS baseline $BASE KiB, max $MAX KiB (+$((MAX - BASE))); RssAnon baseline $BASE_ANON KiB, max $MAX_ANON KiB (+$((MAX_ANON - BASE_ANON)))"
ok hub_alive -- "the hub runs while the peer stalls"
if [ "${SANITIZE:-0}" = 1 ]; then
	# AddressSanitizer keeps freed memory in quarantine and adds shadow
	# memory: resident sizes say nothing there.  The count of commits
	# sent, below, still shows the flow control.
	skip "VmRSS bound: not meaningful under AddressSanitizer"
	skip "RssAnon bound: not meaningful under AddressSanitizer"
else
	ok [ $((MAX - BASE)) -lt "$BOUND_KB" ] -- \
		"the hub's VmRSS grew by less than $((BOUND_KB / 1024)) MiB while the peer stalled"
	ok [ $((MAX_ANON - BASE_ANON)) -lt "$ANON_BOUND_KB" ] -- \
		"the hub's own buffers (RssAnon) grew by less than $((ANON_BOUND_KB / 1024)) MiB"
fi

# What the hub sent: some of the log (the stall is real, data moved), far
# from all of it (flow control stopped it).
ST=$("$CAFE" --data "$T/hub" status --json)
SENT=$(jq -r '.daemon.peers[] | select(.name == "big") | .sent' <<<"$ST" 2>/dev/null)
TOSEND=$(jq -r '.daemon.peers[] | select(.name == "big") | .to_send' <<<"$ST" 2>/dev/null)
STATE=$(jq -r '.daemon.peers[] | select(.name == "big") | .state' <<<"$ST" 2>/dev/null)
diag "hub -> big: state $STATE, sent $SENT commits, $TOSEND still to send"
is "$STATE" syncing "the stalled peer is still connected (syncing) after ${SAMPLE_S} s"
ok [ "${SENT:-0}" -gt 0 ] -- "the hub sent the stalled peer part of the log"
# Commits are about LOG_BYTES / NCOMMITS bytes each: the window and one
# more batch (5 MiB) hold at most this many.
MAXSENT=$(( (5 * 1024 * 1024 + 1024 * 1024) / (LOG_BYTES / NCOMMITS) ))
ok [ "${SENT:-$NCOMMITS}" -lt "$MAXSENT" ] -- \
	"the hub stopped sending at its window (fewer than $MAXSENT of $NCOMMITS commits sent)"
unlike "$(log_from "$((M + 1))")" 'peer big \(.*\): disconnected' \
	"the hub did not cut the stalled peer before its keepalive ran out"
wait "$STALL"
is "$?" 0 "wirepeer stall ran to its end"
ok wait_for 5 log_has "$M" 'peer big \(.*\): disconnected' -- \
	"the hub saw the stalled peer go"

# ---- phase 2: the keepalive cuts the stalled peer ---------------------------

ok daemon_stop hub -- "hub stops"
printf '[limits]\nping_interval = 1\nping_timeout = 3\n' >"$T/hub.conf"
chmod 600 "$T/hub.conf"
ok daemon_start hub --config "$T/hub.conf" -- "hub starts again with ping_interval 1, ping_timeout 3"
M=$(log_mark)
"$WP" stall "$HUB" "${KEY[hub]}" "$NETWORK" "$T/big/node.key" 15 \
	>"$T/stall2.out" 2>&1 &
STALL=$!
ok wait_for 5 log_has "$M" 'peer big \(.*\): connected' -- "the stalled peer connected again"
START_MS=$(( $(date +%s%N) / 1000000 ))
ok wait_for 8 log_has "$M" 'peer big \(.*\): disconnected: keepalive: silent for [0-9]+ s' -- \
	"the hub cuts the stalled peer when its keepalive runs out" &&
	diag "cut within $(( $(date +%s%N) / 1000000 - START_MS )) ms of the stalled peer's connection"
diag "$(log_from "$((M + 1))" | grep -E 'peer big .*disconnected' | head -1)"
kill "$STALL" 2>/dev/null
wait "$STALL" 2>/dev/null
ok hub_alive -- "the hub still runs"

# ---- the data still syncs to a normal node ------------------------------------

ok link fresh hub -- "a fresh site dials the hub"
ok daemon_start fresh -- "fresh site starts"
START=$(date +%s)
ok wait_for 40 same_digest fresh hub -- "the fresh site receives the hub's whole log"
diag "fresh site synced in $(( $(date +%s) - START )) s"
converged "hub and fresh site converged" hub fresh
is "$(heads fresh | awk -v k="${KEY[big]}" '$1 == k { print $2 }')" "$NCOMMITS" \
	"the fresh site holds all $NCOMMITS commits of the big log"

done_testing
