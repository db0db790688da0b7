#!/usr/bin/env bash
# invite.t: joining a network with a one-line invite.  The admin's cafed
# redeems an invite once: a second use, an expired invite, a wrong secret
# and an invite made by a node that is not the admin are refused with
# their reason, and enroll nobody.  A node that joined syncs and writes.
ENROLL=no
source "$(dirname "$0")/netlib.sh"

node_init hub hub || exit 1
SITE=$("$CAFE" --data "$T/hub" add site name="Pine County FRC")
daemon_start hub || exit 1
ADDR="127.0.0.1:$(node_port hub)"
members() { "$CAFE" --data "$T/hub" member list --json | jq 'length'; }

run_cafe --data "$T/hub" invite --role site --site "$SITE" --expires 1h --addr "$ADDR"
is "$RC" 0 "the admin makes an invite"
TOKEN=$OUT
like "$TOKEN" "^cafesync-invite/1/$ADDR/$NETWORK/site/[0-9a-f]{32}/[0-9a-f]{64}$" \
	"the token is one line: address, network, role, id, secret"

run_cafe --data "$T/pine" join "$TOKEN" --name "Pine laptop"
is "$RC" 0 "a fresh node joins with the token"
like "$OUT" "joined network ${NETWORK:0:16} as site" "join says the role it got"
is "$(members)" 1 "the hub enrolled one key"
PINE=$("$CAFE" --data "$T/pine" id)
jq_is "$("$CAFE" --data "$T/hub" member list --json)" '.[0] | "\(.key) \(.role) \(.site) \(.name)"' \
	"$PINE site $SITE Pine laptop" "the member record: the joiner's key, role, site and name"
jq_is "$("$CAFE" --data "$T/pine" peer list --json)" '.[0] | "\(.name) \(.addr)"' \
	"hub $ADDR" "the joiner has the hub as its peer"

# The joined node syncs its enrollment, then writes and pushes.
PORT[pine]=$(( _port_base + 39 ))
daemon_start pine || exit 1
ok wait_idle pine 10 -- "the joined node syncs with the hub"
run_cafe --data "$T/pine" add cafe site="$SITE" date=2026-11-10 format=parent factors=resilience
is "$RC" 0 "the joined node writes a café of its site"
ok wait_idle pine 10 -- "and pushes it"
is "$("$CAFE" --data "$T/hub" list cafe --json | jq length)" 1 "the hub holds the café"
run_cafe --data "$T/pine" add cafe site="$("$CAFE" --data "$T/hub" add site name=Other)" \
	date=2026-11-10 format=parent factors=resilience
isnt "$RC" 0 "but not a café of another site"

# A token works once.
run_cafe --data "$T/thief" join "$TOKEN" --name "someone else"
is "$RC" 1 "the same token again: exit 1"
like "$ERR" "join refused: this invite was used already" "the reason: used already"
is "$(members)" 1 "nobody else was enrolled"

# Not after it expires.
run_cafe --data "$T/hub" invite --role site --site "$SITE" --expires 1s --addr "$ADDR"
sleep 1.5
run_cafe --data "$T/late" join "$OUT"
is "$RC" 1 "an expired token: exit 1"
like "$ERR" "join refused: this invite expired" "the reason: expired"
is "$(members)" 1 "nobody was enrolled"

# A wrong secret.
run_cafe --data "$T/hub" invite --role consultant --addr "$ADDR"
GOOD=$OUT
WRONG=$(printf '%s' "$GOOD" | sed 's/.$/0/')
[ "$WRONG" = "$GOOD" ] && WRONG=$(printf '%s' "$GOOD" | sed 's/.$/1/')
run_cafe --data "$T/guess" join "$WRONG"
is "$RC" 1 "a wrong secret: exit 1"
like "$ERR" "the invite's secret does not match" "the reason: the secret"
run_cafe --data "$T/guess" join "$GOOD" --name "State consultant"
is "$RC" 0 "the right token still works after a wrong guess"
like "$OUT" "as consultant" "and gives the consultant role"
is "$(members)" 2 "two keys enrolled"

# The token off the command line: from stdin with "-", or --token-file.
run_cafe --data "$T/hub" invite --role consultant --addr "$ADDR"
printf '%s\n' "$OUT" | "$CAFE" --data "$T/viastdin" join - --name "Stdin laptop" \
	>"$T/stdin.out" 2>"$T/stdin.err"
is "$?" 0 "cafe join - reads the token from stdin"
like "$(cat "$T/stdin.out")" "as consultant" "and joins with it"
run_cafe --data "$T/hub" invite --role consultant --addr "$ADDR"
printf '%s\n' "$OUT" >"$T/token.txt"
run_cafe --data "$T/viafile" join --token-file "$T/token.txt" --name "File laptop"
is "$RC" 0 "cafe join --token-file FILE reads the token from the file"
is "$(members)" 4 "both enrolled"
grep -q "disconnected: join answered" "$T/hub.log"
is "$?" 0 "the hub closes a join connection once it has answered"
printf '' | "$CAFE" --data "$T/empty" join - >/dev/null 2>"$T/empty.err"
is "$?" 2 "an empty stdin: exit 2"
like "$(cat "$T/empty.err")" "^cafe: join: stdin: no token to read$" "one line saying why"
run_cafe --data "$T/nofile" join --token-file "$T/absent"
is "$RC" 2 "a missing token file: exit 2"
like "$ERR" "token-file .*absent: No such file" "naming the file"

# Only the admin makes invites; bad tokens and options are usage errors.
run_cafe --data "$T/pine" invite --role site --site "$SITE" --addr "$ADDR"
is "$RC" 2 "a site cannot make invites"
like "$ERR" "only the network's admin" "the reason names the admin"
run_cafe --data "$T/x" join "cafesync-invite/1/nohost/00/site/00/00"
is "$RC" 2 "a damaged token: exit 2"
like "$ERR" "^cafe: join: the invite" "one line saying what is wrong"
run_cafe --data "$T/hub" invite --role site --addr "$ADDR"
is "$RC" 2 "a site invite without --site: exit 2"
run_cafe --data "$T/hub" invite --role site --site "$SITE" --expires 7x --addr "$ADDR"
is "$RC" 2 "a bad --expires: exit 2"
like "$ERR" "is not a duration" "the reason"
run_cafe --data "$T/hub" invite --role site --site "$SITE"
is "$RC" 2 "no --addr: exit 2"
grep -q "join of .* refused: this invite was used already" "$T/hub.log"
is "$?" 0 "the hub's log names each refusal"

# Failed joins are limited per address: after five failures in a minute
# the hub refuses even a good invite from that address, unread.
for i in 1 2 3 4 5; do
	run_cafe --data "$T/guess" join "$WRONG"
done
like "$ERR" "too many failed joins|does not match|used already" "guesses fail"
run_cafe --data "$T/hub" invite --role consultant --addr "$ADDR"
run_cafe --data "$T/limited" join "$OUT" --name "Late laptop"
is "$RC" 1 "a good invite from an address with five failures: refused"
like "$ERR" "too many failed joins from this address" "the reason"
is "$(members)" 4 "nobody else was enrolled"
is "$(grep -c "failed within 60 s" "$T/hub.log")" 1 "one log line when the limit is reached"
done_testing
