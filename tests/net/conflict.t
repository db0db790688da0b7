#!/usr/bin/env bash
# conflict.t: the same café edited on two sites while they are apart, then
# reconnected over cafed.  Round 1: both sites' daemons are stopped while
# they edit; round 2: both sites removed their hub peer while they edit.
# After each round every node (hub, two sites, a replica) has the same
# digest, the same value for the field, and `cafe conflicts --json` lists
# the losing value, identically on every node; fields only one side
# changed survive without a conflict.
. "$(dirname "$0")/netlib.sh"

NODES="hub s1 s2 rep"
ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing

logs_diag() {
	local n
	for n in $NODES; do
		diag "---- $n.log (tail)"
		diag "$(tail -n 8 "$T/$n.log" 2>/dev/null)"
	done
}

same_all() {
	local d0 h0 n
	d0=$(digest "$1"); h0=$(heads "$1")
	[ -n "$d0" ] || return 1
	for n in "$@"; do
		[ "$(digest "$n")" = "$d0" ] && [ "$(heads "$n")" = "$h0" ] || return 1
	done
	return 0
}

conflicts_of() { "$CAFE" --data "$T/$1" conflicts --json | jq -cS 'sort_by(.id, .field, .value)'; }

ok node_init hub hub -- "init hub"
ok node_init s1 site -- "init s1"
ok node_init s2 site -- "init s2"
ok node_init rep consultant -- "init replica"
for n in s1 s2 rep; do link "$n" hub || fail "link $n -> hub"; done
for n in $NODES; do daemon_start "$n" || fail "start cafed $n"; done

cafe_in "$T/s1" add site "name=Shared"
S="$OUT"
cafe_in "$T/s1" add cafe site="$S" date=2024-05-01 format=parent factors=resilience \
	"topic=Original" attendees=10 elements=$ELEMENTS
C="$OUT"
is "$RC" 0 "s1 adds the café"
ok wait_for 10 "$CAFE" --data "$T/s2" show "$C" -- "s2 receives the café" || logs_diag
ok wait_for 10 same_all hub s1 s2 rep -- "all agree before the split"
cafe_in "$T/hub" conflicts --json
jq_is "$OUT" length 0 "no conflicts before the split"

# check_round DESC FIELD V1 V2: after reconnecting, every node shows one
# conflict on FIELD of C whose losing value is the one that is not shown.
check_round() {
	local desc="$1" field="$2" v1="$3" v2="$4" win lose cf0 n
	ok wait_for 30 same_all hub s1 s2 rep -- "$desc: all nodes reach the same digest and heads" || logs_diag
	converged "$desc: converged" hub s1 s2 rep
	cafe_in "$T/hub" show "$C" --json
	win="$(printf '%s' "$OUT" | jq -r ".$field")"
	like "$win" "^($v1|$v2)\$" "$desc: the $field is one of the two edits"
	if [ "$win" = "$v1" ]; then lose="$v2"; else lose="$v1"; fi
	cf0="$(conflicts_of hub)"
	for n in $NODES; do
		cafe_in "$T/$n" show "$C" --json
		jq_is "$OUT" ".$field" "$win" "$desc: $n shows the winning $field"
		cafe_in "$T/$n" conflicts --json
		is "$RC" 0 "$desc: conflicts --json on $n exits 0"
		jq_is "$OUT" "[.[] | select(.id == \"$C\" and .field == \"$field\")] | length" 1 \
			"$desc: $n lists one conflict on $field"
		jq_is "$OUT" "[.[] | select(.id == \"$C\" and .field == \"$field\") | [.type, .value, .winner] | join(\"|\")] | .[0]" \
			"cafe|$lose|$win" "$desc: $n lists the losing value and the winner"
		is "$(conflicts_of "$n")" "$cf0" "$desc: $n lists the same conflicts as the hub"
	done
}

# ---- round 1: both site daemons stopped ------------------------------------------
ok daemon_stop s1 -- "stop cafed on s1"
ok daemon_stop s2 -- "stop cafed on s2"
run_ok "s1 edits the topic offline" "$T/s1" edit "$C" topic=FromS1
run_ok "s2 edits the topic offline" "$T/s2" edit "$C" topic=FromS2
run_ok "s1 edits attendees offline" "$T/s1" edit "$C" attendees=11
run_ok "s2 edits the harvest offline" "$T/s2" edit "$C" "harvest=S2 harvest"
cafe_in "$T/hub" show "$C" --json
jq_is "$OUT" .topic Original "the hub has neither edit while the sites are down"
ok daemon_start s1 -- "restart cafed on s1"
ok daemon_start s2 -- "restart cafed on s2"
check_round "round 1" topic FromS1 FromS2
for n in $NODES; do
	cafe_in "$T/$n" show "$C" --json
	is "$(printf '%s' "$OUT" | jq -r '[.attendees, .harvest] | map(tostring) | join("|")')" "11|S2 harvest" \
		"round 1: $n keeps both one-sided edits" || diag "show -> $RC: $OUT $ERR"
	cafe_in "$T/$n" conflicts --json
	jq_is "$OUT" "[.[] | select(.field == \"attendees\" or .field == \"harvest\")] | length" 0 \
		"round 1: $n has no conflict for one-sided edits" || diag "conflicts -> $RC: $OUT $ERR"
done

# ---- round 2: both sites remove their hub peer -------------------------------------
run_ok "s1: peer rm hub" "$T/s1" peer rm hub
run_ok "s2: peer rm hub" "$T/s2" peer rm hub
# The hub must see both go before the edits, or they would be pushed.
ok wait_for 10 sh -c "'$CAFE' --data '$T/hub' status --json | jq -e '[.daemon.peers[] | select(.name == \"s1\" or .name == \"s2\") | .state] | all(. == \"offline\" or . == \"error\")'" \
	-- "round 2: the hub sees both sites disconnect"
run_ok "s1 edits the language while unlinked" "$T/s1" edit "$C" language=en
run_ok "s2 edits the language while unlinked" "$T/s2" edit "$C" language=es
sleep 0.5
cafe_in "$T/hub" show "$C" --json
jq_is "$OUT" '.language // "none"' none "the hub has neither language edit while unlinked"
run_ok "s1: peer add hub again" "$T/s1" peer add hub "127.0.0.1:$(node_port hub)" --key "${KEY[hub]}"
run_ok "s2: peer add hub again" "$T/s2" peer add hub "127.0.0.1:$(node_port hub)" --key "${KEY[hub]}"
check_round "round 2" language en es
for n in $NODES; do
	cafe_in "$T/$n" conflicts --json
	jq_is "$OUT" "[.[] | select(.id == \"$C\")] | length" 2 "round 2: $n lists both conflicts (topic, language)"
done
jq_is "$(status_json "$T/hub")" .forks 0 "no forks on the hub"

done_testing
