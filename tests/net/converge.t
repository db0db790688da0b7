#!/usr/bin/env bash
# converge.t: a hub, three sites and a full replica (a consultant dialing
# the hub) over real cafed processes.  200 cafés are written across the
# sites, some while everything is up, some while a site's daemon is
# stopped, some while the hub is down, some while a site has removed its
# hub peer.  When everything is back, all five nodes hold the same heads
# and digest, the hub lists the 200 cafés, and its status shows every peer
# idle with nothing to send.  Then live push: one `cafe add` on site 1
# reaches site 3 through the hub within seconds, and the sent/received
# counters moved.
. "$(dirname "$0")/netlib.sh"

NODES="hub s1 s2 s3 rep"
ELEMENTS=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing

logs_diag() {
	local n
	for n in $NODES; do
		diag "---- $n.log (tail)"
		diag "$(tail -n 8 "$T/$n.log" 2>/dev/null)"
	done
}

# same_all NAME...: 0 when every node shows the first one's digest and heads.
same_all() {
	local d0 h0 n
	d0=$(digest "$1"); h0=$(heads "$1")
	[ -n "$d0" ] || return 1
	for n in "$@"; do
		[ "$(digest "$n")" = "$d0" ] && [ "$(heads "$n")" = "$h0" ] || return 1
	done
	return 0
}

ncafes() { "$CAFE" --data "$T/$1" list cafe --json | jq length; }
# has_cafes NODE N: the node lists exactly N cafés (for wait_for).
has_cafes() { [ "$(ncafes "$1")" = "$2" ]; }

# add_cafes NODE SITE_ID COUNT TAG: COUNT cafés, one `cafe add` each.
add_cafes() {
	local node="$1" site="$2" count="$3" tag="$4" i bad=0
	for i in $(seq 1 "$count"); do
		"$CAFE" --data "$T/$node" add cafe site="$site" date=2024-03-01 \
			format=parent factors=resilience "topic=$tag $i" \
			elements=$ELEMENTS >/dev/null 2>"$T/add.err" || { bad=1; diag "$(cat "$T/add.err")"; }
	done
	is "$bad" 0 "$node: $count cafés added one by one ($tag)"
}

# import_cafes NODE SITE_ID COUNT TAG: COUNT cafés in one `cafe import`.
import_cafes() {
	local node="$1" site="$2" count="$3" tag="$4" i f="$T/$4.csv"
	echo "site,date,format,factors,topic,elements" >"$f"
	for i in $(seq 1 "$count"); do
		echo "$site,2024-04-0$(( i % 9 + 1 )),dads,social_connections,$tag $i,\"$ELEMENTS\""
	done >>"$f"
	cafe_in "$T/$node" import cafe "$f" --format csv
	is "$RC" 0 "$node: $count cafés imported ($tag)" || diag "$ERR"
}

ok node_init hub hub -- "init hub"
ok node_init s1 site -- "init site 1"
ok node_init s2 site -- "init site 2"
ok node_init s3 site -- "init site 3"
ok node_init rep consultant -- "init replica (consultant)"
for n in s1 s2 s3 rep; do
	link "$n" hub || fail "link $n -> hub"
done

for n in $NODES; do
	daemon_start "$n" || fail "start cafed $n"
done

# Each site has its own site record.
declare -A SITE
for n in s1 s2 s3; do
	cafe_in "$T/$n" add site "name=Site $n"
	SITE[$n]="$OUT"
	is "$RC" 0 "$n adds its site record"
done

# ---- phase 1: everything up --------------------------------------------------
import_cafes s1 "${SITE[s1]}" 40 p1-s1
add_cafes s2 "${SITE[s2]}" 10 p1-s2
ok wait_for 20 has_cafes hub 50 -- "phase 1: the hub holds the 50 cafés written while up" ||
	{ diag "hub has $(ncafes hub)"; logs_diag; }
ok wait_for 20 same_all hub s1 s2 s3 rep -- "phase 1: all five nodes agree"

# ---- phase 2: site 2's daemon is stopped -----------------------------------------
ok daemon_stop s2 -- "stop cafed on s2"
import_cafes s2 "${SITE[s2]}" 40 p2-s2
add_cafes s1 "${SITE[s1]}" 10 p2-s1
ok wait_for 20 has_cafes hub 60 -- "phase 2: the hub got site 1's new cafés" ||
	diag "hub has $(ncafes hub)"
sleep 0.5
is "$(ncafes hub)" 60 "phase 2: site 2's offline cafés are not at the hub yet"

# ---- phase 3: the hub is down (every link is down) ----------------------------
ok daemon_stop hub -- "stop cafed on the hub"
import_cafes s3 "${SITE[s3]}" 50 p3-s3
add_cafes s1 "${SITE[s1]}" 20 p3-s1
is "$("$CAFE" --data "$T/s3" list cafe --json | jq --arg s "${SITE[s3]}" '[.[] | select(.site == $s)] | length')" 50 \
	"phase 3: site 3 holds its 50 offline cafés"
is "$(ncafes hub)" 60 "phase 3: the (stopped) hub does not have them"
ok daemon_start hub -- "restart cafed on the hub"
ok daemon_start s2 -- "restart cafed on s2"

# ---- phase 4: site 3 removes its hub peer, writes, adds it again ----------------
ok wait_for 30 has_cafes hub 170 -- "phase 4: after the restarts the hub has 170 cafés" ||
	{ diag "hub has $(ncafes hub)"; logs_diag; }
run_ok "s3: peer rm hub" "$T/s3" peer rm hub
ok wait_for 10 sh -c "'$CAFE' --data '$T/hub' status --json | jq -e '.daemon.peers[] | select(.name == \"s3\") | .state == \"offline\" or .state == \"error\"'" \
	-- "phase 4: the hub sees s3 go offline once s3 removes it"
import_cafes s3 "${SITE[s3]}" 30 p4-s3
sleep 1
is "$(ncafes hub)" 170 "phase 4: site 3's cafés do not reach the hub without the peer"
run_ok "s3: peer add hub again" "$T/s3" peer add hub "127.0.0.1:$(node_port hub)" --key "${KEY[hub]}"

# ---- everything comes back -----------------------------------------------------
ok wait_for 40 same_all hub s1 s2 s3 rep -- "all nodes reach the same heads and digest" || logs_diag
for n in $NODES; do
	wait_idle "$n" 20 >/dev/null 2>"$T/w.err" || diag "wait_idle $n: $(cat "$T/w.err")"
done
converged "hub, 3 sites and the replica converged" hub s1 s2 s3 rep
is "$(ncafes hub)" 200 "the hub lists 200 cafés"
is "$(ncafes rep)" 200 "the replica lists 200 cafés"
cafe_in "$T/hub" list site --json
jq_is "$OUT" length 3 "the hub lists the 3 site records"
jq_is "$(status_json "$T/hub")" .forks 0 "no forks on the hub"

ST="$(status_json "$T/hub")"
jq_is "$ST" '.daemon.peers | length' 4 "the hub's status lists 4 peers"
jq_is "$ST" '[.daemon.peers[] | .state] | unique | join(",")' idle "every peer of the hub is idle" ||
	diag "$(printf '%s' "$ST" | jq -c '.daemon.peers[] | {name,state,error}')"
jq_is "$ST" '[.daemon.peers[] | .to_send] | unique | join(",")' 0 "the hub has nothing to send to any peer"
jq_is "$ST" '[.daemon.peers[] | .to_receive] | unique | join(",")' 0 "the hub has nothing to receive from any peer"

# ---- live push: site 1 -> hub -> site 3 ------------------------------------------
S1_RX0=$(status_json "$T/hub" | jq '.daemon.peers[] | select(.name == "s1") | .received')
S3_TX0=$(status_json "$T/hub" | jq '.daemon.peers[] | select(.name == "s3") | .sent')
t0=$(date +%s%N)
cafe_in "$T/s1" add cafe site="${SITE[s1]}" date=2024-06-01 format=virtual factors=resilience \
	"topic=Live push" elements=$ELEMENTS
LIVE="$OUT"
is "$RC" 0 "s1 adds one café while all is up"
ok wait_for 5 "$CAFE" --data "$T/s3" show "$LIVE" -- "the café appears on s3 within 5 s (via the hub)" || logs_diag
note "live push s1 -> hub -> s3 took $(( ($(date +%s%N) - t0) / 1000000 )) ms"
ok wait_for 5 "$CAFE" --data "$T/rep" show "$LIVE" -- "and on the replica"
cafe_in "$T/s3" show "$LIVE" --json
jq_is "$OUT" .topic "Live push" "s3 holds the café's content"

ST="$(status_json "$T/hub")"
S1_RX=$(printf '%s' "$ST" | jq '.daemon.peers[] | select(.name == "s1") | .received')
S3_TX=$(printf '%s' "$ST" | jq '.daemon.peers[] | select(.name == "s3") | .sent')
ok test "$S1_RX" -gt "$S1_RX0" -- "hub: received from s1 went up with the live write ($S1_RX0 -> $S1_RX)"
ok test "$S3_TX" -gt "$S3_TX0" -- "hub: sent to s3 went up with the relay ($S3_TX0 -> $S3_TX)"
ok test "$(status_json "$T/s1" | jq '.daemon.peers[0].sent')" -gt 0 -- "s1's status shows sent > 0"
ok test "$(status_json "$T/s3" | jq '.daemon.peers[0].received')" -gt 0 -- "s3's status shows received > 0"
ok test "$(status_json "$T/rep" | jq '.daemon.peers[0].received')" -gt 0 -- "the replica's status shows received > 0"
ok wait_for 10 same_all hub s1 s2 s3 rep -- "all converge again after the live write"

for n in $NODES; do
	grep -E 'refused commit|not stored|protocol:' "$T/$n.log" >/dev/null && diag "$n.log: $(grep -E 'refused commit|not stored|protocol:' "$T/$n.log" | head -3)"
done
done_testing
