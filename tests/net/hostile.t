#!/usr/bin/env bash
# hostile.t: a hub under attack keeps serving its real site.
#
# One hub and one site that dials it, syncing cafés.  Then, one at a time,
# wirepeer (tests/net/wirepeer.c) plays a hostile peer against the hub:
# a key no node configured, random bytes, an oversized frame after a
# proper handshake, a ZCOMMITS frame that claims 3 MiB, and 500
# connections that never speak.  After each, the
# connection must have been cut, the hub's log must name the reason, and
# a café the site writes next must still reach the hub (same digest on
# both).  Last, the hub is still running and its memory stayed small.

source "$(dirname "$0")/netlib.sh"

WP="$TOOLS/wirepeer"
if [ ! -x "$WP" ]; then
	echo "Bail out! $WP not found (make build/tests/wirepeer)"
	exit 255
fi

# 500 client sockets at once, plus what bash and wirepeer hold already.
NCONN=500
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((NCONN + 64)) ]; then
	ulimit -n $((NCONN + 64)) 2>/dev/null ||
		{ echo "Bail out! ulimit -n is $(ulimit -n); $NCONN connections need more"; exit 255; }
fi

# Peak resident memory allowed to the hub, in KiB.
RSS_MAX_KB=$((32 * 1024))

node_init hub hub
node_init site site
node_init mallory site          # configured on the hub; never runs cafed
HUB="127.0.0.1:$(node_port hub)"

# A short handshake deadline, so silent connections go fast.
printf '[limits]\nhandshake_timeout = 2\n' >"$T/hub.conf"
chmod 600 "$T/hub.conf"

ok link site hub -- "site dials hub"
ok "$CAFE" --data "$T/hub" peer add mallory --inbound --key "${KEY[mallory]}" -- \
	"mallory is a configured peer of the hub"
ok daemon_start hub --config "$T/hub.conf" -- "hub starts"
ok daemon_start site -- "site starts"
HUBPID=$(daemon_pid hub)

add_rec "$T/site" site "name=Hostile test site" county=Lake
SITE_ID=$ID

# same_digest A B: both nodes report the same digest.
same_digest() { [ "$(digest "$1")" = "$(digest "$2")" ]; }

# has_record NODE ID
has_record() { "$CAFE" --data "$T/$1" show "$2" >/dev/null 2>&1; }

# still_serves WHEN: a new café on the site reaches the hub.
NCAFE=0
still_serves() {
	local when="$1"
	NCAFE=$((NCAFE + 1))
	add_rec "$T/site" cafe site="$SITE_ID" "date=2024-04-$(printf %02d "$NCAFE")" \
		format=parent factors=resilience attendees=$((10 + NCAFE))
	ok wait_for 20 has_record hub "$ID" -- "$when: the site's café $NCAFE reaches the hub"
	ok wait_for 10 same_digest hub site -- "$when: hub and site digests match"
}

# Lines of the hub's log from line FROM on.
log_from() { tail -n +"$1" "$T/hub.log"; }
log_mark() { wc -l <"$T/hub.log"; }
# log_has FROM REGEX: the log has a matching line after FROM.
log_has() { log_from "$(($1 + 1))" | grep -Eq -- "$2"; }

# hub_log_names FROM REGEX DESC: waits briefly for the line, then asserts.
hub_log_names() {
	local from="$1" re="$2" desc="$3"
	wait_for 5 log_has "$from" "$re"
	like "$(log_from "$((from + 1))")" "$re" "$desc"
}

hub_alive() { kill -0 "$HUBPID" 2>/dev/null; }

status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

still_serves "before any attack"

# ---- positive control: the tool completes a correct session ---------------

OUTP=$("$WP" ok "$HUB" "${KEY[hub]}" "$NETWORK" "$T/mallory/node.key" 2>&1)
is "$?" 0 "control: a configured peer gets a full session (handshake, HEADS, PONG)"
like "$OUTP" '^ok: heads of [1-9][0-9]* origins' "control: the hub sent its heads"
diag "$OUTP"

# ---- a key no node configured ------------------------------------------------

M=$(log_mark)
OUTP=$("$WP" unknown "$HUB" "${KEY[hub]}" "$NETWORK" 2>&1)
is "$?" 0 "unknown key: closed after M3 without M4"
[ -n "$OUTP" ] && diag "$OUTP"
hub_log_names "$M" 'cut off: handshake: key is not a configured peer' \
	"unknown key: the hub's log names the reason"
ok hub_alive -- "unknown key: hub still running"
still_serves "after an unknown key"

# ---- random bytes --------------------------------------------------------

M=$(log_mark)
OUTP=$("$WP" random "$HUB" 4096 2>&1)
is "$?" 0 "random bytes: the connection is cut"
[ -n "$OUTP" ] && diag "$OUTP"
# Unfinished handshakes are logged one line per burst (the first after a
# quiet spell at once, the rest in a summary within 10 s).
wait_for 12 log_has "$M" '(cut off|the latest from [^:]*): handshake: bad magic'
like "$(log_from "$((M + 1))")" '(cut off|the latest from [^:]*): handshake: bad magic' \
	"random bytes: the hub's log names the reason"
ok hub_alive -- "random bytes: hub still running"
still_serves "after random bytes"

# ---- an oversized frame after a proper handshake ----------------------------

M=$(log_mark)
OUTP=$("$WP" oversize "$HUB" "${KEY[hub]}" "$NETWORK" "$T/mallory/node.key" 2>&1)
is "$?" 0 "oversized frame: the connection is cut"
[ -n "$OUTP" ] && diag "$OUTP"
hub_log_names "$M" 'peer mallory \(.*\): connected' \
	"oversized frame: the handshake itself succeeded"
hub_log_names "$M" 'peer mallory \(.*\): disconnected: frame: declared length over the limit' \
	"oversized frame: the hub's log names the reason"
ok hub_alive -- "oversized frame: hub still running"
still_serves "after an oversized frame"

# ---- a message before HEADS -------------------------------------------------

M=$(log_mark)
OUTP=$("$WP" early "$HUB" "${KEY[hub]}" "$NETWORK" "$T/mallory/node.key" 2>&1)
is "$?" 0 "PING before HEADS: the connection is cut"
[ -n "$OUTP" ] && diag "$OUTP"
hub_log_names "$M" 'peer mallory \(.*\): disconnected: protocol: HEADS must come first' \
	"PING before HEADS: the hub's log names the reason"
ok hub_alive -- "PING before HEADS: hub still running"
still_serves "after a PING before HEADS"

# ---- a compressed frame that claims more than a batch may hold ----------------

M=$(log_mark)
OUTP=$("$WP" zbomb "$HUB" "${KEY[hub]}" "$NETWORK" "$T/mallory/node.key" 2>&1)
is "$?" 0 "ZCOMMITS claiming 3 MiB: the connection is cut"
[ -n "$OUTP" ] && diag "$OUTP"
hub_log_names "$M" 'peer mallory \(.*\): disconnected: message: a zcommits frame claims more than a batch may hold' \
	"ZCOMMITS claiming 3 MiB: the hub's log names the reason"
ok hub_alive -- "ZCOMMITS claiming 3 MiB: hub still running"
still_serves "after a ZCOMMITS claiming 3 MiB"

# ---- 500 connections that never speak ----------------------------------------

M=$(log_mark)
START=$(date +%s)
OUTP=$("$WP" idle "$HUB" "$NCONN" 15 2>&1)
RC=$?
is "$RC" 0 "silent flood: all $NCONN connections are cut within 15 s"
diag "$OUTP ($(( $(date +%s) - START )) s)"
wait_for 12 log_has "$M" 'cut [0-9]+ unfinished handshakes in the last [0-9]+ s'
like "$(log_from "$((M + 1))")" 'cut [0-9]+ unfinished handshakes in the last [0-9]+ s' \
	"silent flood: the hub's log counts the cut handshakes in a summary"
NCUT=$(log_from "$((M + 1))" | grep -Ec 'cut off|unfinished handshakes')
ok [ "$NCUT" -le 3 ] -- "silent flood: $NCUT log lines for $NCONN connections (not one each)"
ok hub_alive -- "silent flood: hub still running"
# The site's connection was open before the flood and stays up: the
# flood only ever evicts connections still in their handshake.
unlike "$(log_from "$((M + 1))")" 'peer site \(.*\): disconnected' \
	"silent flood: the site's connection was not cut"
still_serves "after the silent flood"

# ---- the hub afterwards ------------------------------------------------------

ok hub_alive -- "the hub survived every attack"
RSS=$(status_kb "$HUBPID" VmRSS)
HWM=$(status_kb "$HUBPID" VmHWM)
diag "hub VmRSS ${RSS} KiB, peak VmHWM ${HWM} KiB, bound ${RSS_MAX_KB} KiB"
ok [ "${HWM:-999999999}" -lt "$RSS_MAX_KB" ] -- "hub peak RSS stayed under $((RSS_MAX_KB / 1024)) MiB"
NFD=$(ls "/proc/$HUBPID/fd" | wc -l)
diag "hub holds $NFD file descriptors"
ok [ "$NFD" -lt 64 ] -- "hub holds no leftover sockets from the attacks"
ok wait_idle site 20 -- "site is caught up with the hub"
converged "hub and site converged" hub site

done_testing
