#!/usr/bin/env bash
# fanin.t: fan-in at a small scale, not timed (tests/bench/fanin.sh times
# it at 1,000 sites).  The hub enrolls FANIN_SITES (100) sites, each with
# its own site record and key (bench_fanin setup); then bench_fanin storm
# connects them all at once, each from its own loopback address, each
# pushing FANIN_COMMITS (5) new single-op commits and receiving the admin
# log (compressed: the sites offer the dictionary), and keeps them
# connected.  A real site connected to the hub writes
# during the storm.  Asserted: every simulated site was caught up (the hub
# acknowledged all its commits and it received the admin log up to the
# hub's head), the hub holds every site's log at its last seq and nothing
# more, the real site's write reached the hub, the storm's connections
# stayed up, and the hub's store verifies.
. "$(dirname "$0")/netlib.sh"

FANIN="$TOOLS/bench_fanin"
[ -x "$FANIN" ] || { echo "Bail out! $FANIN not found (make build/tests/bench_fanin)"; exit 1; }
N=${FANIN_SITES:-100}
M=${FANIN_COMMITS:-5}

ok node_init hub hub -- "init hub"
HUB=${KEY[hub]}
LIVE_SITE=$("$CAFE" --data "$T/hub" add site name="Live FRC")
ENROLL=site:$LIVE_SITE ok node_init live site -- "init a real site"
ok link live hub -- "the real site dials the hub"
ok "$FANIN" setup "$T/hub" "$N" "$T/sites" -- "the hub enrolls $N sites"
is "$(wc -l <"$T/sites")" "$N" "setup made $N site records"
ok daemon_start hub -- "start hub"
ok daemon_start live -- "start the real site"
ok wait_idle live 30 -- "the real site is in sync before the storm"
ADMIN_SEQ=$(heads hub | awk -v k="$HUB" '$1 == k { print $2 }')

"$FANIN" storm "127.0.0.1:$(node_port hub)" "$HUB" "$N" "$M" "$T/sites" \
    "$(daemon_pid hub)" >"$T/storm" 2>"$T/storm.err" &
STORM=$!
"$CAFE" --data "$T/live" add cafe site="$LIVE_SITE" date=2026-03-04 \
    format=parent factors=resilience attendees=7 >/dev/null 2>&1 ||
	diag "the real site's write failed"
ok wait_for 120 grep -q '^fanin_done' "$T/storm" -- \
    "all $N sites caught up" ||
	diag "$(cat "$T/storm.err"; tail -n 20 "$T/hub.log")"
val() { awk -v k="$1" '$1 == k { print $2 }' "$T/storm"; }
is "$(val fanin_commits)" "$((N * M))" "the hub acknowledged $((N * M)) commits"
is "$(val fanin_admin_seq)" "$ADMIN_SEQ" \
    "every site received the admin log up to the hub's head ($ADMIN_SEQ)"
is "$(val fanin_admin_verified)" "$ADMIN_SEQ" \
    "each admin commit chained and its signature verified"
ok test "$(val fanin_admin_wire)" -lt "$(val fanin_admin_bytes)" -- \
    "the sites offered the dictionary and got the admin log compressed"
diag "storm: $(tr '\n' ' ' <"$T/storm")"

# Each simulated site's key, from the store: the member records setup made.
"$CAFE" --data "$T/hub" member list --json |
    jq -r '.[] | select(.name | startswith("fanin-")) | .key' | sort >"$T/keys"
is "$(wc -l <"$T/keys")" "$N" "the hub holds $N simulated members"
heads hub | sort >"$T/heads"
is "$(join "$T/keys" "$T/heads" | awk -v m="$M" '$2 == m' | wc -l)" "$N" \
    "the hub holds each simulated site's log up to seq $M"
is "$(join "$T/keys" "$T/heads" | awk -v m="$M" '$2 != m' | wc -l)" 0 \
    "and no site's log at another seq"
live_on_hub() { heads hub | awk -v k="${KEY[live]}" '$1 == k && $2 >= 1 { f = 1 } END { exit !f }'; }
ok wait_for 20 live_on_hub -- \
    "the real site's write during the storm reached the hub"

# Still connected, live: the storm answered the hub's pings meanwhile.
kill -TERM "$STORM"
wait "$STORM"
is "$?" 0 "the storm ended cleanly on SIGTERM"
is "$(val fanin_live_drops)" 0 "no site lost its connection once caught up"
run_ok "the hub's store verifies" "$T/hub" verify
is "$(jq -r .commits <<<"$(status_json "$T/hub")")" \
    "$(( $(jq -r .commits <<<"$(status_json "$T/live")") + N * M ))" \
    "the hub holds the real site's and the admin's commits and $((N * M)) more"
done_testing
