#!/usr/bin/env bash
# flood.t: a stranger floods the hub with unauthenticated connections
# (tests/net/flood.c: 500 sockets at once from one process, each silent or
# sending garbage, opened again as soon as it is closed or after 200 ms)
# while a real site restarts and writes.  From the flood's own address
# (127.0.0.1, as the site) and then from another one (127.0.0.2): the
# site's handshake gets through and its write reaches the hub within
# seconds, the hub's resident memory stays under FLOOD_RSS_KB (the bound
# docs/security.md states) and its log grows by a few lines, not a line
# per connection.
. "$(dirname "$0")/netlib.sh"

FLOOD="$TOOLS/flood"
[ -x "$FLOOD" ] || { echo "Bail out! $FLOOD not found (make build/tests/flood)"; exit 1; }
FLOOD_RSS_KB=16384

ok node_init hub hub -- "init hub"
ok node_init site hub -- "init site"
ok link site hub -- "site dials hub"
SITE=$("$CAFE" --data "$T/hub" add site name="Flooded FRC")
ok daemon_start hub -- "start hub"
ok daemon_start site -- "start site"
ok wait_idle site 15 -- "site and hub in sync before the flood"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$(daemon_pid hub)/status"; }
has_name() { "$CAFE" --data "$T/hub" list site --json | jq -e --arg n "$1" 'map(select(.name == $n)) | length == 1' >/dev/null; }

# round FROM_ADDR TAG: flood from FROM_ADDR (empty: 127.0.0.1) for 12 s,
# restart the site 1 s in, write on it, and check what the hub does.
round() {
	local from="$1" tag="$2" lines0 lines1 maxrss=0 r i
	daemon_stop site
	lines0=$(wc -l <"$T/hub.log")
	"$FLOOD" 127.0.0.1 "$(node_port hub)" 500 12 $from >"$T/flood.$tag" 2>&1 &
	local fpid=$!
	sleep 1
	ok daemon_start site -- "$tag: the site starts during the flood"
	"$CAFE" --data "$T/site" add site name="Written in the $tag flood" >/dev/null
	ok wait_for 8 has_name "Written in the $tag flood" -- \
		"$tag: the site's write reaches the hub within 8 s of the flood" ||
		diag "$(tail -n 20 "$T/hub.log"; echo ---; tail -n 20 "$T/site.log")"
	for i in $(seq 1 20); do
		kill -0 "$fpid" 2>/dev/null || break
		r=$(rss_kb); [ "${r:-0}" -gt "$maxrss" ] && maxrss=$r
		sleep 0.25
	done
	wait "$fpid"
	is "$?" 0 "$tag: the flood ran ($(cat "$T/flood.$tag"))"
	r=$(rss_kb); [ "${r:-0}" -gt "$maxrss" ] && maxrss=$r
	diag "$tag: hub VmRSS at most $maxrss kB during the flood"
	if [ "${SANITIZE:-0}" = 1 ]; then
		# AddressSanitizer's shadow memory and quarantine: resident
		# sizes say nothing there.
		skip "$tag: hub RSS bound: not meaningful under AddressSanitizer"
	else
		ok [ "$maxrss" -lt "$FLOOD_RSS_KB" ] -- "$tag: hub RSS $maxrss kB < $FLOOD_RSS_KB kB"
	fi
	sleep 1.2
	lines1=$(wc -l <"$T/hub.log")
	diag "$tag: hub log lines during the flood: $((lines1 - lines0))"
	ok [ $((lines1 - lines0)) -le 8 ] -- "$tag: the hub's log grew by $((lines1 - lines0)) lines (at most 8)"
	like "$(tail -n $((lines1 - lines0)) "$T/hub.log")" \
		"cut [0-9]+ unfinished handshakes in the last [0-9]+ s" \
		"$tag: one summary line counts the connections cut"
}

diag "hub VmRSS before the floods: $(rss_kb) kB"
round "" "same-address"
if ip addr show lo 2>/dev/null | grep -q "127.0.0.1/8"; then
	round 127.0.0.2 "other-address"
else
	skip "127.0.0.2 is not loopback here"
fi
ok wait_idle site 15 -- "after the floods the site is in sync"
converged "hub and site hold the same log" hub site
done_testing
