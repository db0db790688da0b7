#!/usr/bin/env bash
# backlog.t: what `cafe status` says of a backlog on its way, and how soon
# a lost peer is dialed again.
#
# A site synced with its hub; the hub is frozen (SIGSTOP) and the site
# imports 3,000 cafés, many local commits.  The site's cafed sends what its
# window allows and waits for ACKs that do not come: its status must count
# every new commit as still to send (those in flight too) and their bytes
# exactly, as `cafe bundle export` carries them, in JSON and in words.
# After SIGCONT everything arrives and status says up to date.
#
# A peer whose port refuses is dialed again at backoff_min four times,
# then at twice and four times that (each times a random factor in
# [0.5, 1)), as cafed.conf(5) says.
. "$(dirname "$0")/netlib.sh"

ok node_init hub hub -- "init hub"
ok node_init site hub -- "init site"
ok link site hub -- "the site dials the hub"
ok daemon_start hub -- "hub cafed"
ok daemon_start site -- "site cafed"
run_ok "the site adds a site record" "$T/site" add site "name=Backlog FRC"
SITE_ID="$OUT"
ok wait_idle site 20 -- "the site is caught up"

"$CAFE" --data "$T/site" bundle export "$T/before.b" >/dev/null 2>&1
C0=$("$CAFE" --data "$T/site" status --json | jq -r .commits)
kill -STOP "${PID[hub]}"
f="$T/backlog.csv"
echo "site,date,format,factors,topic" >"$f"
for i in $(seq 1 3000); do
	echo "$SITE_ID,2024-06-0$(( i % 9 + 1 )),parent,resilience,backlog evening $i about what the week held"
done >>"$f"
run_ok "3,000 cafés imported while the hub is frozen" "$T/site" import cafe "$f" --format csv
"$CAFE" --data "$T/site" bundle export "$T/after.b" >/dev/null 2>&1
C1=$("$CAFE" --data "$T/site" status --json | jq -r .commits)
N=$(( C1 - C0 ))
# A bundle's bytes past its header are its commits' own (sig and E).
BYTES=$(( $(stat -c %s "$T/after.b") - $(stat -c %s "$T/before.b") ))
ok test "$N" -gt 10 -- "the import is $N local commits of $BYTES bytes"

peer_json() { "$CAFE" --data "$T/site" status --json | jq -c '.daemon.peers[0]'; }
# Each status asks cafed to walk the store for the next; the second one
# after the import has the figure.
exact() { [ "$(peer_json | jq -r .bytes_to_send_exact)" = true ]; }
ok wait_for 10 exact -- "status comes to an exact count of the bytes to send"
P="$(peer_json)"
jq_is "$P" .state syncing "the hub is shown syncing"
jq_is "$P" .to_send "$N" "every new commit is still to send, those in flight too ($N)"
B=$(jq -r .bytes_to_send <<<"$P")
# The bundle frames each item in a few bytes, the batches in flight
# theirs: within 8 bytes an item below, 2% above.
ok test "$B" -ge "$(( BYTES - 8 * N ))" -a "$B" -le "$(( BYTES + BYTES / 50 ))" -- \
    "bytes to send ($B) are the backlog's ($BYTES), framing aside"
cafe_in "$T/site" status
like "$OUT" "^  hub +syncing: $N changes \(([0-9.]+ (KB|MB))\) to send, 0 to receive" \
    "status says it in words: $(grep 'syncing' <<<"$OUT" | sed 's/^ *//')"

kill -CONT "${PID[hub]}"
ok wait_idle site 60 -- "after SIGCONT the site catches up"
cafe_in "$T/hub" status --json
jq_is "$OUT" .counts.cafe 3000 "the hub holds the 3,000 cafés"
cafe_in "$T/site" status
like "$OUT" "^  hub +up to date" "and the site's status says up to date"
P="$(peer_json)"
jq_is "$P" '[.to_send, .bytes_to_send] | tojson' "[0,0]" "nothing left to send, in JSON"

# Redial: a peer on a port of this script's block that nobody listens on.
NOWHERE=$(( _port_base + _port_next ))
run_ok "a peer on a port nobody listens on" "$T/site" peer add nowhere "127.0.0.1:$NOWHERE" \
    --key "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
printf '[node]\nlog_level = debug\n[limits]\nbackoff_min = 200\n' >"$T/redial.conf"
daemon_stop site
: >"$T/site.log"
ok daemon_start site --config "$T/redial.conf" -- "site cafed with backoff_min = 200"
six() { [ "$(grep -c 'peer nowhere: next attempt in' "$T/site.log")" -ge 6 ]; }
ok wait_for 10 six -- "the refused peer is dialed again and again"
grep -o 'peer nowhere: next attempt in [0-9]* ms' "$T/site.log" | head -n 6 |
    grep -o '[0-9]* ms' | cut -d' ' -f1 >"$T/delays"
diag "delays: $(tr '\n' ' ' <"$T/delays")"
ok awk 'NR <= 4 && ($1 < 100 || $1 > 200) { exit 1 }
    NR == 5 && ($1 < 200 || $1 > 400) { exit 1 }
    NR == 6 && ($1 < 400 || $1 > 800) { exit 1 }' "$T/delays" -- \
    "four redials at backoff_min, then doubling"

done_testing
