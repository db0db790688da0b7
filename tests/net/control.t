#!/usr/bin/env bash
# control.t: driving cafed.  `cafe peer add/rm/list` persist across a
# daemon restart and take effect at once (a peer added while cafed runs is
# dialed; a removed one is cut off, and the other side sees it offline);
# bad peer arguments exit 2 with one line on stderr; `cafe sync --wait`
# exits 0 when all peers are idle, 1 on a timeout and 1 without a daemon;
# `cafe status` without a daemon says so; `cafed -n --config` accepts a
# good file and names FILE:LINE for bad ones; a second cafed on one data
# directory refuses to start; SIGTERM stops cleanly (exit 0, "stopping");
# SIGHUP re-reads the configuration's peers.
. "$(dirname "$0")/netlib.sh"

logs_diag() {
	local n
	for n in "$@"; do
		diag "---- $n.log (tail)"
		diag "$(tail -n 10 "$T/$n.log" 2>/dev/null)"
	done
}

# peer_state NODE PEER: the state NODE's cafed shows for PEER ("" if none).
peer_state() {
	"$CAFE" --data "$T/$1" status --json | jq -r --arg p "$2" '[.daemon.peers[]? | select(.name == $p) | .state][0] // ""'
}
# q CMD...: runs CMD without output.
q() { "$@" >/dev/null 2>&1; }
state_in() {
	local s
	s="$(peer_state "$1" "$2")"; shift 2
	[[ " $* " == *" $s "* ]]
}

ok node_init hub hub -- "init hub"
# s1 never writes and is left unenrolled: cafed admits an enrolled member
# that is no configured peer, and "peer rm on the accepting side" below
# wants the hub to refuse s1 once s1 is no configured peer.
ENROLL=no ok node_init s1 site -- "init s1 (not enrolled)"
ok node_init s2 site -- "init s2"
ok node_init s3 site -- "init s3"
ok node_init ghost site -- "init ghost (a port nobody serves cafesync on)"

# ---- no daemon --------------------------------------------------------------------
cafe_in "$T/s1" status
like "$OUT" '^daemon +not running$' "status without cafed prints 'daemon   not running'"
jq_is "$(status_json "$T/s1")" .daemon null "status --json without cafed: daemon is null"
cafe_in "$T/s1" sync --wait --timeout 1
is "$RC" 1 "sync --wait without cafed exits 1"
like "$ERR" 'not running' "and says cafed is not running"
is "$(nlines "$ERR")" 1 "in one line"

# ---- peer add: bad arguments ----------------------------------------------------------
# bad_peer DESC ARGS...: peer add ARGS exits 2 with one line on stderr.
bad_peer() {
	local desc="$1"; shift
	cafe_in "$T/s1" peer add "$@"
	is "$RC" 2 "peer add, $desc: exits 2"
	is "$(nlines "$ERR")" 1 "peer add, $desc: one line on stderr" || diag "stderr: $ERR"
}
bad_peer "bad key" hub "127.0.0.1:$(node_port hub)" --key 1234xyz
like "$ERR" 'key' "the bad-key message names the key"
bad_peer "own key" me "127.0.0.1:$(node_port hub)" --key "${KEY[s1]}"
like "$ERR" 'own' "the own-key message says so"
bad_peer "bad address" hub "not-an-address" --key "${KEY[hub]}"
like "$ERR" 'not-an-address' "the bad-address message quotes the address"
bad_peer "address without port" hub "127.0.0.1" --key "${KEY[hub]}"
bad_peer "missing --key" hub "127.0.0.1:$(node_port hub)"
like "$ERR" -- '--key' "the missing-key message names --key"
bad_peer "--key without a value" hub "127.0.0.1:$(node_port hub)" --key
bad_peer "no address and no --inbound" hub --key "${KEY[hub]}"
cafe_in "$T/s1" peer list --json
jq_is "$OUT" length 0 "no peer was added by the bad commands"
cafe_in "$T/s1" peer rm nosuchpeer
is "$RC" 2 "peer rm of an unknown peer exits 2"

# ---- peer add, persisted, effective after a restart -----------------------------------
run_ok "s1: peer add hub" "$T/s1" peer add hub "127.0.0.1:$(node_port hub)" --key "${KEY[hub]}"
run_ok "hub: peer add s1 --inbound" "$T/hub" peer add s1 --inbound --key "${KEY[s1]}"
cafe_in "$T/s1" peer list
like "$OUT" "^hub +127\.0\.0\.1:$(node_port hub) +${KEY[hub]} +\(cafed not running\)" \
	"peer list without cafed shows the peer and '(cafed not running)'"
ok daemon_start hub -- "start the hub"
ok daemon_start s1 -- "start s1"
ok wait_for 10 state_in hub s1 idle -- "s1 connects to the hub (hub sees s1 idle)" || logs_diag hub s1
cafe_in "$T/s1" peer list --json
jq_is "$OUT" '.[0] | [.name, .addr, .key, .state] | join(" ")' "hub 127.0.0.1:$(node_port hub) ${KEY[hub]} idle" \
	"peer list --json shows the peer with its state"
cafe_in "$T/s1" sync --wait --timeout 1
is "$RC" 0 "sync --wait --timeout 1 exits 0 when all peers are idle" || diag "$ERR"
jq_is "$(status_json "$T/s1")" '[.daemon.peers[].state] | join(",")' idle "s1's status: its one peer is idle"

ok daemon_stop s1 -- "stop s1 (SIGTERM exits 0)"
like "$(cat "$T/s1.log")" 'stopping \(SIGTERM\)' "the log says stopping (SIGTERM)"
like "$(cat "$T/s1.log")" 'stopped' "the log says stopped"
ok test ! -e "$T/s1/ctl/cafed.sock" -- "the control socket is removed on stop"
ok wait_for 10 state_in hub s1 offline error -- "the hub sees s1 go offline"
cafe_in "$T/s1" peer list --json
jq_is "$OUT" '[.[].name] | join(",")' hub "the peer survives the restart (stored)"
ok daemon_start s1 -- "restart s1"
ok wait_for 10 state_in hub s1 idle -- "s1 reconnects after its restart" || logs_diag hub s1

# ---- a second cafed on the same data directory -------------------------------------
timeout 10 "$CAFED" --data "$T/s1" --listen "127.0.0.1:$(node_port ghost)" >"$T/second.out" 2>&1
SRC=$?
ok test "$SRC" -ne 0 -a "$SRC" -ne 124 -- "a second cafed on s1's data directory exits non-zero (rc $SRC)"
like "$(cat "$T/second.out")" 'another cafed' "and says another cafed serves it"
ok q "$CAFE" --data "$T/s1" status -- "the first cafed still answers"
ok kill -0 "$(daemon_pid s1)" -- "the first cafed still runs"

# ---- peer add/rm while cafed runs --------------------------------------------------------
ok daemon_start s2 -- "start s2 (no peers)"
run_ok "hub: peer add s2 --inbound (while running)" "$T/hub" peer add s2 --inbound --key "${KEY[s2]}"
run_ok "s2: peer add hub (while running)" "$T/s2" peer add hub "127.0.0.1:$(node_port hub)" --key "${KEY[hub]}"
ok wait_for 10 state_in s2 hub idle -- "s2 dials the new peer without a restart" || logs_diag hub s2
ok wait_for 10 state_in hub s2 idle -- "the hub sees s2 idle"
cafe_in "$T/s2" add site "name=Two"
SID="$OUT"
ok wait_for 10 q "$CAFE" --data "$T/hub" show "$SID" -- "a write on s2 reaches the hub over the new peer"
run_ok "s2: peer rm hub (while running)" "$T/s2" peer rm hub
ok wait_for 10 state_in hub s2 offline error -- "the hub sees s2 offline after the rm" || logs_diag hub s2
jq_is "$(status_json "$T/s2")" '.daemon.peers | length' 0 "s2's cafed no longer lists the hub"
cafe_in "$T/s2" add site "name=Two, unlinked"
SID2="$OUT"
sleep 1
nok q "$CAFE" --data "$T/hub" show "$SID2" -- "a write on s2 no longer reaches the hub"
ok daemon_stop s2 -- "stop s2"
ok daemon_start s2 -- "restart s2"
cafe_in "$T/s2" peer list --json
jq_is "$OUT" length 0 "the rm persisted across the restart"
sleep 1
is "$(peer_state hub s2)" offline "s2 does not reconnect after its restart"

# ---- rm on the accepting side ------------------------------------------------------------
run_ok "hub: peer rm s1 (the inbound side, while running)" "$T/hub" peer rm s1
ok wait_for 10 sh -c "! '$CAFE' --data '$T/hub' status --json | jq -e '.daemon.peers[] | select(.name == \"s1\")' >/dev/null" \
	-- "the hub's cafed drops s1"
ok wait_for 10 state_in s1 hub offline error connecting -- "s1 loses the hub once the hub removed it" || logs_diag hub s1
sleep 1
isnt "$(peer_state s1 hub)" idle "s1 stays disconnected (the hub refuses an unknown key)"
run_ok "hub: peer add s1 --inbound again" "$T/hub" peer add s1 --inbound --key "${KEY[s1]}"
cafe_in "$T/s1" sync --wait --timeout 20
ok wait_for 20 state_in s1 hub idle -- "s1 is back once the hub knows it again" || logs_diag hub s1

# ---- sync --wait times out when a peer never finishes ------------------------------
# A plain TCP listener that accepts and never speaks: the dial succeeds
# but the handshake never completes.
"$PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("ready", flush=True)
conns = []
while True:
    c, _ = s.accept(); conns.append(c)
' "$(node_port ghost)" >"$T/ghost.out" 2>&1 &
GHOST=$!
wait_for 5 grep -q ready "$T/ghost.out"
run_ok "s2: peer add ghost" "$T/s2" peer add ghost "127.0.0.1:$(node_port ghost)" --key "${KEY[ghost]}"
t0=$(date +%s%N)
cafe_in "$T/s2" sync --wait --timeout 1
is "$RC" 1 "sync --wait --timeout 1 exits 1 while a peer is stuck in its handshake"
like "$ERR" 'timed out' "and says it timed out"
like "$ERR" 'ghost' "and names the peer"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok test "$ms" -lt 4000 -- "the timeout is honoured (${ms} ms)"
kill "$GHOST" 2>/dev/null; wait "$GHOST" 2>/dev/null
run_ok "s2: peer rm ghost" "$T/s2" peer rm ghost

# ---- cafed -n --config ------------------------------------------------------------------
cat >"$T/good.conf" <<EOF
# a comment
[node]
listen = 127.0.0.1:$(node_port ghost)
log_level = debug

[limits]
ping_interval = 5
ping_timeout = 20
batch_commits = 100

[peer hub]
addr = 127.0.0.1:$(node_port hub)
key = ${KEY[hub]}

[peer other]
inbound = yes
key = ${KEY[s2]}
EOF
chmod 600 "$T/good.conf"
"$CAFED" -n --config "$T/good.conf" --data "$T/ghost" >"$T/n.out" 2>"$T/n.err"
is "$?" 0 "cafed -n accepts a good configuration" || diag "$(cat "$T/n.err")"
like "$(cat "$T/n.out")" "configuration ok: listen 127\.0\.0\.1:$(node_port ghost), 2 peers" \
	"and reports its listen address and 2 peers"

# bad_conf DESC EXPECTED_RE: cafed -n rejects $T/bad.conf (written by the caller).
bad_conf() {
	local desc="$1" re="$2" rc
	chmod 600 "$T/bad.conf"
	"$CAFED" -n --config "$T/bad.conf" >"$T/n.out" 2>"$T/n.err"
	rc=$?
	is "$rc" 2 "cafed -n rejects $desc (exit 2)"
	like "$(cat "$T/n.err")" "$re" "cafed -n: $desc: message" || true
	is "$(nlines "$(cat "$T/n.err")")" 1 "cafed -n: $desc: one line"
}
F="$T/bad.conf"
printf '[node]\nlisten = nowhere\n' >"$F"
bad_conf "a bad listen address" "^cafed: $F:2: \[node\] listen: 'nowhere'"
printf '[node]\nlog_level = info\nlog_level = loud\n' >"$F"
bad_conf "a bad log_level" "^cafed: $F:3: \[node\] log_level: 'loud'"
printf '[node]\ncolour = blue\n' >"$F"
bad_conf "an unknown [node] option" "^cafed: $F:2: \[node\]: unknown option 'colour'"
printf '[limits]\n\nwindow = 5\n' >"$F"
bad_conf "a window below its minimum" "^cafed: $F:3: window: must be a number from"
printf '[limits]\nbatch_commits = -1\n' >"$F"
bad_conf "a negative number" "^cafed: $F:2: batch_commits: must be a number"
printf '[limits]\nbatch_commits = 10x\n' >"$F"
bad_conf "a number with junk" "^cafed: $F:2: batch_commits"
printf '[frobs]\nx = 1\n' >"$F"
bad_conf "an unknown section" "^cafed: $F:2: unknown section \[frobs\]"
printf '[peer hub]\naddr = 127.0.0.1:1\nkey = abc\n' >"$F"
bad_conf "a bad peer key" "^cafed: $F:3: \[peer hub\] key: 'abc'"
printf '[peer hub]\naddr = localhost\nkey = %s\n' "${KEY[hub]}" >"$F"
bad_conf "a bad peer addr" "^cafed: $F:2: \[peer hub\] addr: 'localhost'"
printf '[peer hub]\ninbound = perhaps\nkey = %s\n' "${KEY[hub]}" >"$F"
bad_conf "a bad inbound value" "^cafed: $F:2: \[peer hub\] inbound"
printf '[peer hub]\nkey = %s\n[node]\nlog_level = info\n' "${KEY[hub]}" >"$F"
bad_conf "a peer without addr or inbound" "^cafed: $F:4: \[peer hub\]: addr .* required"
printf '[peer a]\ninbound = yes\nkey = %s\n[node]\nlog_level = info\n[peer a]\ninbound = yes\nkey = %s\n' "${KEY[hub]}" "${KEY[s2]}" >"$F"
bad_conf "a peer defined twice" "^cafed: $F:7: \[peer a\]: peer 'a' is defined twice"
# Two [peer a] sections in a row look like one section to inih: the
# repeated option gives it away.
printf '[peer a]\ninbound = yes\nkey = %s\n[peer a]\naddr = 127.0.0.1:1\nkey = %s\n' "${KEY[hub]}" "${KEY[s2]}" >"$F"
bad_conf "a peer defined twice in consecutive sections" "^cafed: $F:5: \[peer a\] addr: given twice"
printf '[peer hub]\naddr = 127.0.0.1:1\nmtu = 9000\nkey = %s\n' "${KEY[hub]}" >"$F"
bad_conf "an unknown peer option" "^cafed: $F:3: \[peer hub\]: unknown option 'mtu'"
printf '[node]\nthis line has no equals sign\n' >"$F"
bad_conf "a syntax error" "^cafed: $F:2: "
# Errors found only at the end of the file name the file.
printf '[limits]\nping_interval = 30\nping_timeout = 30\n' >"$F"
bad_conf "ping_timeout not above ping_interval" "^cafed: $F: \[limits\] ping_timeout"
printf '[peer hub]\naddr = 127.0.0.1:1\n' >"$F"
bad_conf "a last peer without a key" "^cafed: $F: \[peer hub\]: key is required"
printf '[node]\nlog_level = info\n' >"$F"
chmod 666 "$F"
"$CAFED" -n --config "$F" >"$T/n.out" 2>"$T/n.err"
is "$?" 2 "cafed -n rejects a configuration writable by others"
like "$(cat "$T/n.err")" 'writable by others' "and says why"
"$CAFED" -n --config "$T/no-such.conf" >"$T/n.out" 2>"$T/n.err"
is "$?" 2 "cafed -n rejects a missing configuration file"
like "$(cat "$T/n.err")" "no-such\.conf" "and names it"

# ---- SIGHUP re-reads the configuration ---------------------------------------------------
run_ok "hub: peer add s3 --inbound" "$T/hub" peer add s3 --inbound --key "${KEY[s3]}"
printf '[node]\nlog_level = info\n' >"$T/s3.conf"
chmod 600 "$T/s3.conf"
ok daemon_start s3 --config "$T/s3.conf" -- "start s3 with a configuration without peers"
jq_is "$(status_json "$T/s3")" '.daemon.peers | length' 0 "s3 starts with no peers"
cat >"$T/s3.conf" <<EOF
[node]
log_level = info

[peer hub]
addr = 127.0.0.1:$(node_port hub)
key = ${KEY[hub]}
EOF
kill -HUP "$(daemon_pid s3)"
ok wait_for 10 state_in s3 hub idle -- "after SIGHUP s3 dials the peer the configuration now names" || logs_diag s3 hub
ok wait_for 10 state_in hub s3 idle -- "the hub sees s3 idle"
like "$(cat "$T/s3.log")" 'SIGHUP: reloading' "s3's log says it reloaded"
cafe_in "$T/s3" peer list --json
jq_is "$OUT" length 0 "a configuration peer is not written to the store"
# A broken configuration on SIGHUP keeps the old one.
printf '[node]\nlog_level = loud\n' >"$T/s3.conf"
kill -HUP "$(daemon_pid s3)"
ok wait_for 5 grep -q 'keeping the old configuration' "$T/s3.log" -- "a bad configuration on SIGHUP is refused and logged"
ok kill -0 "$(daemon_pid s3)" -- "cafed survives a bad configuration on SIGHUP"
sleep 0.5
is "$(peer_state s3 hub)" idle "and keeps its peer"
# Removing the peer from the configuration disconnects it.
printf '[node]\nlog_level = info\n' >"$T/s3.conf"
kill -HUP "$(daemon_pid s3)"
ok wait_for 10 state_in hub s3 offline error -- "a peer removed from the configuration is cut off on SIGHUP" || logs_diag s3 hub
jq_is "$(status_json "$T/s3")" '.daemon.peers | length' 0 "s3 lists no peer after that reload"

# ---- SIGTERM --------------------------------------------------------------------------------
for n in s1 s2 s3 hub; do
	pid="$(daemon_pid "$n")"
	daemon_stop "$n"
	is "$?" 0 "SIGTERM stops $n's cafed with exit 0"
	like "$(tail -n 5 "$T/$n.log")" 'stopping \(SIGTERM\)' "$n's log says stopping"
	nok kill -0 "$pid" -- "$n's cafed is gone" 2>/dev/null
done

done_testing
