#!/usr/bin/env bash
# trust.t: read scopes and revocation over real cafed daemons.
#
# The hub is the network's admin.  Sites A and B (role site, each with its
# site record), a consultant replica REP (reads all) and a consultant C2
# (reads site A only) dial the hub.  After a full sync: A holds the admin
# log and its own log, nothing of B's (and its received counter is the
# admin log's length); C2 holds A's cafés, not B's; REP holds everything
# and its audit passes.  Then the hub revokes A while it is connected: A is
# cut, cannot shake hands again, and the cafés it writes afterwards never
# reach the hub or REP, while B keeps syncing.  Last, a data mule: B, no
# longer dialing the hub, syncs with a consultant's laptop LAP; with B
# offline, LAP syncs with the hub, and B's cafés reach the hub and REP.
#
# Enrollment is done here with `cafe member add` on the hub before any
# daemon starts, with each node's role and sites (ENROLL=no: node_init runs
# a plain `cafe init`); every node gets the admin log by sync.
. "$(dirname "$0")/netlib.sh"
ENROLL=no

NODES="hub a b rep c2 lap"

logs_diag() {
	local n
	for n in $NODES; do
		diag "---- $n.log (tail)"
		diag "$(tail -n 8 "$T/$n.log" 2>/dev/null)"
	done
}

st() { "$CAFE" --data "$T/$1" status --json; }
# head_of NODE ORIGIN: the seq NODE holds of ORIGIN's log, empty if none.
head_of() { st "$1" | jq -r --arg o "$2" '.heads[] | select(.origin == $o) | .seq'; }
head_is() { [ "$(head_of "$1" "$2")" = "$3" ]; }
origins() { st "$1" | jq -r '.heads[].origin' | sort; }
expect() { printf '%s\n' "$@" | sort; }
# peer_field NODE PEER FIELD: a field of PEER in NODE's status.
peer_field() {
	st "$1" | jq -r --arg p "$2" ".daemon.peers[] | select(.name == \$p) | .$3"
}
cafe_ids() { "$CAFE" --data "$T/$1" list cafe --json | jq -r '.[].id' | sort; }
# add_cafe NODE SITE TOPIC: one café; prints its id.
add_cafe() {
	"$CAFE" --data "$T/$1" add cafe site="$2" date=2024-03-01 format=parent \
		factors=resilience "topic=$3" 2>"$T/add.err" | tail -n 1
}
log_has() { grep -q -- "$2" "$T/$1.log"; }

ok node_init hub hub -- "init hub (the admin)"
ok node_init a site -- "init site A"
ok node_init b site -- "init site B"
ok node_init rep consultant -- "init replica (consultant)"
ok node_init c2 consultant -- "init consultant C2"
ok node_init lap consultant -- "init laptop (consultant)"
H="${KEY[hub]}" A="${KEY[a]}" B="${KEY[b]}"
is "$NETWORK" "$H" "the network is the hub's key"

cafe_in "$T/hub" add site name=SiteA
SA="$OUT"
cafe_in "$T/hub" add site name=SiteB
SB="$OUT"
run_ok "enroll A" "$T/hub" member add "$A" --role site --name a --site "$SA"
run_ok "enroll B" "$T/hub" member add "$B" --role site --name b --site "$SB"
run_ok "enroll REP" "$T/hub" member add "${KEY[rep]}" --role consultant --name rep --all
run_ok "enroll C2 for site A" "$T/hub" member add "${KEY[c2]}" --role consultant --name c2 --sites "$SA"
run_ok "enroll LAP" "$T/hub" member add "${KEY[lap]}" --role consultant --name lap --all
ADMIN_SEQ=$(head_of hub "$H")
is "$ADMIN_SEQ" 7 "the admin log: 2 sites, 5 enrollments"

for n in a b rep c2; do
	link "$n" hub || fail "link $n -> hub"
done
for n in hub a b rep c2; do
	daemon_start "$n" || fail "start cafed $n"
done
for n in a b rep c2; do
	ok wait_for 15 head_is "$n" "$H" "$ADMIN_SEQ" -- "$n has the admin log"
done

# --- writes, then a full sync ---------------------------------------------
for i in 1 2 3; do CA[$i]=$(add_cafe a "$SA" "a $i"); done
for i in 1 2; do CB[$i]=$(add_cafe b "$SB" "b $i"); done
is "$(head_of a "$A") $(head_of b "$B")" "3 2" "A wrote 3 cafés, B 2"
run_ok "C2 audits site A" "$T/c2" add audit site="$SA" date=2024-03-02 finding=ok
run_ok "REP sets a milestone of site B" "$T/rep" add milestone site="$SB" step=1 status=done
for n in a b rep c2; do wait_idle "$n" 20 >/dev/null 2>&1; done
ok wait_for 20 head_is hub "$B" 2 -- "the hub has B's log"
ok wait_for 20 head_is hub "$A" 3 -- "the hub has A's log"
ok wait_for 20 head_is rep "${KEY[c2]}" 1 -- "REP has C2's audit"
for n in hub a b rep c2; do wait_idle "$n" 20 >/dev/null 2>&1; done

# Site A: the admin log and its own, nothing else.
is "$(origins a)" "$(expect "$H" "$A")" "A's heads: the admin log and its own log only"
is "$(head_of a "$B")" "" "B's origin is never in A's heads"
is "$(cafe_ids a)" "$(expect "${CA[@]}")" "A lists its own three cafés, none of B's"
is "$("$CAFE" --data "$T/a" list milestone --json | jq length) $("$CAFE" --data "$T/a" list audit --json | jq length)" \
	"0 0" "A holds neither REP's milestone nor C2's audit"
is "$(peer_field hub a reads)" site "the hub's status: A's peer reads as a site"
is "$(peer_field hub b reads)" site "the hub's status: B's peer reads as a site"
is "$(peer_field hub c2 reads)" consultant "the hub's status: C2's peer reads as a consultant"
is "$(peer_field a hub received)" "$ADMIN_SEQ" \
	"A received exactly the admin log's $ADMIN_SEQ commits, nothing else"
is "$(peer_field hub a sent)" "$ADMIN_SEQ" "the hub sent A exactly the admin log"
is "$(peer_field hub a lag | jq -c .)" "[]" "the hub shows no lag toward A"
is "$(origins b)" "$(expect "$H" "$B")" "B's heads: the admin log and its own log only"
is "$(cafe_ids b)" "$(expect "${CB[@]}")" "B lists its own two cafés only"

# Consultant C2, for site A: A's cafés, not B's.
is "$(origins c2)" "$(expect "$H" "$A" "${KEY[c2]}")" \
	"C2's heads: the admin log, A's log and its own"
is "$(cafe_ids c2)" "$(expect "${CA[@]}")" "C2 lists A's cafés, none of B's"

# The full replica: everything, and its audit passes.
converged "REP holds what the hub holds" hub rep
is "$(origins rep)" "$(expect "$H" "$A" "$B" "${KEY[rep]}" "${KEY[c2]}")" \
	"REP's heads: every origin"
is "$(cafe_ids rep)" "$(expect "${CA[@]}" "${CB[@]}")" "REP lists all five cafés"
run_ok "audit passes on REP" "$T/rep" audit

# --- revocation of a connected key ----------------------------------------
is "$(peer_field hub a state)" idle "A is connected to the hub before the revocation"
run_ok "the hub revokes A" "$T/hub" member revoke "$A"
like "$OUT" "after seq 3 " "... keeping A's three commits"
ok wait_for 10 log_has hub "a: its key was revoked" -- "the hub cuts A (hub log: its key was revoked)"
like "$(grep -- "peer a " "$T/hub.log" | grep disconnected)" "key revoked by the network's admin" \
	"... the connection closed as key revoked"
ok wait_for 10 head_is rep "$H" "$((ADMIN_SEQ + 1))" -- "the revocation reaches REP"
CA4=$(add_cafe a "$SA" "a after revocation")
is "$(head_of a "$A")" 4 "A, not knowing, writes a café after the revocation" ||
	diag "$(cat "$T/add.err")"
# A restart makes A dial again at once.
daemon_stop a
daemon_start a || fail "restart cafed a"
ok wait_for 15 log_has hub "cut off: handshake: key revoked" -- \
	"A cannot reconnect (hub log: handshake: key revoked)"
isnt "$(peer_field hub a state)" idle "the hub shows A not connected"
# B keeps syncing meanwhile.
CB3=$(add_cafe b "$SB" "b after revocation")
ok wait_for 15 head_is hub "$B" 3 -- "B's new café reaches the hub"
ok wait_for 15 head_is rep "$B" 3 -- "... and REP"
wait_idle hub 10 >/dev/null 2>&1
is "$(head_of hub "$A")" 3 "A's post-revocation commit never reaches the hub"
is "$(head_of rep "$A")" 3 "... nor REP"
is "$(cafe_ids rep | grep -c -- "${CA4:-none}")" 0 "REP does not list A's late café"
is "$(cafe_ids rep)" "$(expect "${CA[@]}" "${CB[@]}" "$CB3")" "A's three earlier cafés stay listed on REP"
jq_is "$("$CAFE" --data "$T/rep" member list --json)" \
	".[] | select(.key == \"$A\") | \"\(.status) \(.revoked_after)\"" "revoked 3" \
	"REP's member list shows A revoked after seq 3"
daemon_stop a

# --- a data mule -----------------------------------------------------------
# B stops dialing the hub and lists LAP as a peer; LAP syncs with B, then,
# with B offline, with the hub.
daemon_stop b
ok "$CAFE" --data "$T/b" peer rm hub -- "B no longer dials the hub"
ok link lap b -- "LAP dials B; B lists LAP"
daemon_start b || fail "restart cafed b"
CB4=$(add_cafe b "$SB" "b mule 1")
CB5=$(add_cafe b "$SB" "b mule 2")
is "$(head_of b "$B")" 5 "B wrote two cafés the hub has not seen"
daemon_start lap || fail "start cafed lap"
ok wait_for 20 head_is lap "$B" 5 -- "LAP carries B's log away"
is "$(head_of lap "$H")" "$((ADMIN_SEQ + 1))" "... and the admin log, from B"
is "$(head_of hub "$B")" 3 "the hub has not got B's last cafés yet"
daemon_stop b
daemon_stop lap
ok link lap hub -- "LAP dials the hub"
daemon_start lap || fail "restart cafed lap"
ok wait_for 20 head_is hub "$B" 5 -- "B's cafés reach the hub through LAP"
is "$(cafe_ids hub | grep -cE -- "^(${CB4:-x}|${CB5:-x})$")" 2 "the hub lists both"
is "$(peer_field hub lap reads)" consultant "the hub's status: LAP reads as a consultant"
ok wait_for 20 head_is rep "$B" 5 -- "... and REP gets them from the hub"
run_ok "audit passes on REP" "$T/rep" audit
run_ok "verify passes on REP" "$T/rep" verify

[ "$_tap_fail" -gt 0 ] && logs_diag
done_testing
