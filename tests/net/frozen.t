#!/usr/bin/env bash
# frozen.t: logging a café never waits on a hung daemon.  A site's cafed is
# frozen with SIGSTOP; 50 `cafe add` run against its data directory, in
# waves of 10 at once so that the unanswered nudges fill the control
# socket's listen backlog (16) as they would over an evening: each returns
# within 3 s, exit 0, with its record stored, and says once that cafed is
# not answering.  `cafe status` says so too, within its own bound.  After
# SIGCONT every café reaches the hub.
. "$(dirname "$0")/netlib.sh"

ALL=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
ok node_init hub hub -- "init hub"
run_ok "the hub adds Pine's site record" "$T/hub" add site "name=Pine County FRC"
SITE="$OUT"
ENROLL=no ok node_init pine site -- "init pine"
ok node_enroll pine site "$SITE" -- "enroll pine for its site"
ok link pine hub -- "pine dials the hub"
ok daemon_start hub -- "hub cafed"
ok daemon_start pine -- "pine cafed"
ok wait_idle pine 20 -- "pine syncs with the hub"

kill -STOP "$(daemon_pid pine)"
N=50 WAVE=10
slow=0 failed=0 unsaid=0
for w in $(seq 0 $((N / WAVE - 1))); do
	pids=""
	for j in $(seq 1 $WAVE); do
		i=$((w * WAVE + j))
		(
			s=$(date +%s%N)
			# timeout: a cafe that blocks fails here instead of hanging.
			CAFE_NO_PROMPT=1 timeout 20 "$CAFE" --data "$T/pine" add cafe \
			    date=today format=parent factors=resilience \
			    elements=$ALL attendees="$i" \
			    >"$T/add.$i.out" 2>"$T/add.$i.err"
			echo "$? $(( ($(date +%s%N) - s) / 1000000 ))" >"$T/add.$i.rc"
		) &
		pids="$pids $!"
	done
	# shellcheck disable=SC2086
	wait $pids	# not the daemons, which are children too
done
for i in $(seq 1 $N); do
	read -r rc ms <"$T/add.$i.rc"
	[ "$rc" = 0 ] || { failed=$((failed + 1)); diag "add $i: exit $rc: $(cat "$T/add.$i.err")"; }
	[ "$ms" -le 3000 ] || { slow=$((slow + 1)); diag "add $i took $ms ms"; }
	# Either it told cafed (the backlog took it) or it said, once, that
	# cafed is not answering.
	n=$(grep -c "not answering" "$T/add.$i.err")
	[ "$n" -le 1 ] || { unsaid=$((unsaid + 1)); diag "add $i said it $n times"; }
done
is "$failed" 0 "all $N cafe add exit 0 with the daemon frozen"
is "$slow" 0 "each returns within 3 s"
is "$unsaid" 0 "none says more than once that cafed is not answering"
said=$(cat "$T"/add.*.err | grep -c "cafed is not answering: this change is stored")
ok test "$said" -gt 0 -- "those past the backlog say the change is stored and goes out later ($said of $N)"
got=$("$CAFE" --data "$T/pine" list cafe --json | jq length)
is "$got" "$N" "the $N cafés are stored on pine"

s=$(date +%s%N)
cafe_in "$T/pine" status
ms=$(( ($(date +%s%N) - s) / 1000000 ))
is "$RC" 0 "status with the daemon frozen exits 0"
like "$OUT" "^daemon +cafed is not answering" "and says cafed is not answering"
like "$OUT" "^  hub +$N changes waiting to send" "and counts the $N changes waiting for the hub"
ok test "$ms" -le 5000 -- "within its bound ($ms ms)"
cafe_in "$T/pine" sync --wait --timeout 2
is "$RC" 1 "sync --wait with the daemon frozen exits 1"
like "$ERR" "not answering" "and says why"

kill -CONT "$(daemon_pid pine)"
hub_has() { [ "$("$CAFE" --data "$T/hub" list cafe --json | jq length)" = "$N" ]; }
ok wait_for 30 hub_has -- "after SIGCONT all $N cafés reach the hub"
ok wait_idle pine 20 -- "pine is idle again"
cafe_in "$T/pine" status
like "$OUT" "^  hub +up to date" "and up to date with the hub"

done_testing
