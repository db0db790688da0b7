#!/usr/bin/env bash
# resume.t: an interrupted sync resumes where it stopped, never from the
# start.  A sender (a site) holds a 50,000-commit log (bench_genbundle +
# bundle import); a receiver (a full replica) holding nothing but the
# admin's log (two member records, which the sender holds too) dials it.
# Midway (the receiver holds some but not all commits) its cafed is
# SIGKILLed; what it holds is counted, it is restarted, and the second
# sync must move only the rest: the receiver's log line "heads of N
# origins: M commits to receive" has M = total - held, its received
# counter and the sender's sent counter grow by that much, and the end
# state is identical on both sides with `cafe verify` passing.
. "$(dirname "$0")/netlib.sh"

N=50000

logs_diag() {
	local n
	for n in snd rcv; do
		diag "---- $n.log (tail)"
		diag "$(tail -n 10 "$T/$n.log" 2>/dev/null)"
	done
}

commits_of() { "$CAFE" --data "$T/$1" status --json 2>/dev/null | jq -r .commits; }

ok node_init hub hub -- "init hub (the network id)"
ok node_init snd site -- "init the sender (site)"
ok node_init rcv consultant -- "init the receiver (full replica)"
# node_init enrolled both on the hub (the admin) and gave each the admin's
# log as it stood: give the sender the receiver's member record too, so the
# two start alike but for the sender's own log.
ok admin_log snd rcv -- "sender and receiver hold the admin's whole log"
ADMIN_N="$(commits_of hub)"
is "$ADMIN_N" 2 "the admin's log: two member records"

"$TOOLS/bench_genbundle" "$T/snd" "$N" "$T/big.bundle" >"$T/gen.out" 2>&1
is "$?" 0 "bench_genbundle writes $N commits" || diag "$(cat "$T/gen.out")"
cafe_in "$T/snd" bundle import "$T/big.bundle"
is "$RC" 0 "the sender imports its own $N-commit log" || diag "$ERR"
rm -f "$T/big.bundle"
TOTAL="$(commits_of snd)"
is "$TOTAL" "$(( N + ADMIN_N ))" "the sender holds its $N commits and the admin's $ADMIN_N"
is "$(commits_of rcv)" "$ADMIN_N" "the receiver starts with the admin's log only"

# Smaller batches than the default give the poll below more chances to
# see the receiver midway.
cat >"$T/snd.conf" <<EOF
[limits]
batch_commits = 512
EOF
chmod 600 "$T/snd.conf"

ok link rcv snd -- "the receiver dials the sender"
ok daemon_start snd --config "$T/snd.conf" -- "start the sender's cafed"
ok daemon_start rcv -- "start the receiver's cafed"

# Kill the receiver once it holds some but not all of the log.
seen=""
killed=0
end=$(( $(date +%s) + 60 ))
while [ "$(date +%s)" -le "$end" ]; do
	c="$(commits_of rcv)"
	seen="$seen $c"
	if [ -n "$c" ] && [ "$c" -gt 5000 ] && [ "$c" -lt "$TOTAL" ]; then
		daemon_kill rcv
		killed=1
		break
	fi
	[ -n "$c" ] && [ "$c" -ge "$TOTAL" ] && break
	sleep 0.05
done
ok test "$killed" = 1 -- "the receiver was killed midway (it held more than 5000 but not all)" ||
	{ diag "commits seen while polling:$seen"; logs_diag; }
if [ "$killed" != 1 ]; then
	done_testing
fi

HELD="$(commits_of rcv)"
note "receiver held $HELD of $TOTAL commits at the kill (polled:$(echo "$seen" | tr ' ' '\n' | tail -n 4 | tr '\n' ' '))"
ok test "$HELD" -gt 0 -a "$HELD" -lt "$TOTAL" -- "what the receiver holds after the kill is partial ($HELD)"
ok sh -c "'$CAFE' --data '$T/rcv' verify >/dev/null" -- "the receiver's store verifies after the SIGKILL"
# Let the sender notice the dead connection before reading its counter.
ok wait_for 10 sh -c "'$CAFE' --data '$T/snd' status --json | jq -e '.daemon.peers[] | select(.name == \"rcv\") | .state != \"idle\" and .state != \"syncing\"'" \
	-- "the sender sees the receiver gone"
SENT0="$("$CAFE" --data "$T/snd" status --json | jq '.daemon.peers[] | select(.name == "rcv") | .sent')"
note "the sender had sent $SENT0 commits before the kill"

LOGLINES0=$(wc -l <"$T/rcv.log")
t0=$(date +%s%N)
ok daemon_start rcv -- "restart the receiver's cafed"
ok wait_for 90 sh -c "[ \"\$('$CAFE' --data '$T/rcv' status --json | jq -r .commits)\" = '$TOTAL' ]" \
	-- "the receiver gets the whole log after the restart" || logs_diag
ok wait_idle rcv 30 -- "the receiver is caught up (sync --wait)"
note "the resumed sync took $(( ($(date +%s%N) - t0) / 1000000 )) ms"

LINE="$(tail -n +"$(( LOGLINES0 + 1 ))" "$T/rcv.log" | grep -E 'peer snd: heads of [0-9]+ origins: [0-9]+ commits to receive' | head -n 1)"
like "$LINE" 'heads of [0-9]+ origins' "the restarted receiver logs the heads exchange" || logs_diag
M="$(printf '%s' "$LINE" | sed -nE 's/.*: ([0-9]+) commits to receive.*/\1/p')"
is "$M" "$(( TOTAL - HELD ))" "after the restart only the rest is to receive (total $TOTAL - held $HELD)"
ok test "${M:-$TOTAL}" -lt "$TOTAL" -- "the resumed sync did not start over (${M:-?} < $TOTAL)"

RX="$("$CAFE" --data "$T/rcv" status --json | jq '.daemon.peers[] | select(.name == "snd") | .received')"
is "$RX" "$(( TOTAL - HELD ))" "the restarted receiver received exactly the rest"
SENT1="$("$CAFE" --data "$T/snd" status --json | jq '.daemon.peers[] | select(.name == "rcv") | .sent')"
is "$(( SENT1 - SENT0 ))" "$(( TOTAL - HELD ))" "the sender sent exactly the rest after the restart ($SENT0 -> $SENT1)"
ok test "$(( SENT1 - SENT0 ))" -lt "$TOTAL" -- "the sender's second sync is shorter than the whole log"

AFTER="$(commits_of rcv)"
ok test "$AFTER" -ge "$HELD" -- "nothing committed before the kill was lost ($HELD -> $AFTER)"
converged "sender and receiver converged" snd rcv
is "$(digest rcv)" "$(digest snd)" "identical digests"
cafe_in "$T/rcv" verify
is "$RC" 0 "cafe verify passes on the receiver" || diag "$OUT $ERR"
cafe_in "$T/rcv" list cafe --json
is "$(printf '%s' "$OUT" | jq length)" "$("$CAFE" --data "$T/snd" list cafe --json | jq length)" \
	"the receiver lists as many cafés as the sender"
unlike "$(cat "$T/rcv.log")" 'refused commit|not stored|protocol:' "no refused commits or protocol errors in the receiver's log"

done_testing
