#!/usr/bin/env bash
# probe.t: a site learns nothing of a log it may not read.  After HEADS the
# hub checks the peer's heads against its own commits at the same seqs and
# asks (WANT) for a commit it holds otherwise, as fork evidence.  A hostile
# enrolled site A claims heads with made-up hashes: for site B's log,
# which A may not read, the hub sends no WANT whatever the seq (inside B's
# log or past it) and writes no line; for the admin log, which A reads,
# the same lie gets a WANT and a line (the control: the probe sees a WANT
# when there is one).
. "$(dirname "$0")/netlib.sh"

WP="$TOOLS/wirepeer"
ok node_init hub hub -- "init hub"
run_ok "the hub adds site A" "$T/hub" add site "name=Alpha"
SA="$OUT"
run_ok "the hub adds site B" "$T/hub" add site "name=Beta"
SB="$OUT"
ENROLL=no ok node_init a site -- "init A (the prober; its cafed never runs)"
ok node_enroll a site "$SA" -- "enroll A for site A"
ENROLL=no ok node_init b site -- "init B"
ok node_enroll b site "$SB" -- "enroll B for site B"
ok link b hub -- "B dials the hub"
ok "$CAFE" --data "$T/hub" peer add a --inbound --key "${KEY[a]}" -- "A is a peer of the hub"
ok daemon_start hub -- "hub cafed"
ok daemon_start b -- "B cafed"
for i in 1 2 3; do
	run_ok "B logs café $i" "$T/b" add cafe date=today format=parent factors=resilience attendees="$i"
done
ok wait_idle b 20 -- "B syncs with the hub"
BSEQ=$("$CAFE" --data "$T/hub" status --json | jq -r --arg k "${KEY[b]}" '.heads[] | select(.origin == $k) | .seq')
ok test "${BSEQ:-0}" -ge 3 -- "the hub holds B's log (seq $BSEQ)"
HUB="127.0.0.1:$(node_port hub)"
ASEQ=$("$CAFE" --data "$T/hub" status --json | jq -r --arg k "$NETWORK" '.heads[] | select(.origin == $k) | .seq')

probe() { # ORIGIN SEQ: the WANT lines the hub sends A for that lie
	"$WP" probe "$HUB" "${KEY[hub]}" "$NETWORK" "$T/a/node.key" "$1" "$2" 2>&1
}

# The control first: a lie about the admin log, which A reads.
L0=$(wc -l <"$T/hub.log")
OUTP=$(probe "$NETWORK" 1)
like "$OUTP" "^done$" "control: the probe ran to its end"
like "$OUTP" "^want $NETWORK 1$" "control: a made-up admin head at seq 1 gets a WANT for it"
like "$(tail -n +"$((L0 + 1))" "$T/hub.log")" "holds other commits than ours" "control: and a line in the hub's log"

# B's log, at every seq inside it and past it.
for seq in 1 2 "$BSEQ" $((BSEQ + 1)) 1000; do
	L0=$(wc -l <"$T/hub.log")
	OUTP=$(probe "${KEY[b]}" "$seq")
	like "$OUTP" "^done$" "B's log at seq $seq: the probe ran to its end"
	unlike "$OUTP" "^want " "B's log at seq $seq: no WANT"
	unlike "$(tail -n +"$((L0 + 1))" "$T/hub.log")" "holds other commits" "B's log at seq $seq: no fork line"
done
# Past what the hub holds of a log A reads: nothing to compare, no WANT.
OUTP=$(probe "$NETWORK" $((ASEQ + 5)))
unlike "$OUTP" "^want " "the admin log past its head: no WANT"

ok wait_idle b 10 -- "B still syncs with the hub"

done_testing
