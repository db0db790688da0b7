#!/usr/bin/env bash
# ctlversion.t: the control protocol's version (proto/control.h).  A real
# cafed answers every request with its version and refuses, in words that
# name both versions, a request of another version, one without a command,
# and one that is not JSON, and keeps serving.  A stand-in for a cafed of
# the protocol before versions (its answers carry no "v", as after a
# package upgrade before cafed restarts) gets from cafe a status that says
# to restart cafed, and a write that is stored with one warning.
. "$(dirname "$0")/netlib.sh"

# ask SOCKET LINE: sends LINE on the Unix socket, prints the answer line.
ask() {
	python3 - "$1" "$2" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(5)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    b = s.recv(65536)
    if not b:
        break
    buf += b
sys.stdout.write(buf.decode())
PYEOF
}

ok node_init hub hub -- "init hub"
ok daemon_start hub -- "hub cafed"
SOCK="$T/hub/ctl/cafed.sock"

A="$(ask "$SOCK" '{"v":2,"cmd":"status"}')"
jq_is "$A" '.v' 2 "an answer carries the daemon's version"
jq_is "$A" '.running' true "... and the status"
A="$(ask "$SOCK" '{"cmd":"status"}')"
jq_is "$A" '.error' "control protocol 1, and this cafed speaks 2" \
    "a request without a version is of version 1, refused naming both"
jq_is "$A" '.v' 2 "... with the daemon's version"
A="$(ask "$SOCK" '{"v":99,"cmd":"nudge"}')"
jq_is "$A" '.error' "control protocol 99, and this cafed speaks 2" \
    "a newer version is refused naming both"
A="$(ask "$SOCK" '{"v":"two","cmd":"status"}')"
jq_is "$A" '.error' 'bad request: "v" is not a number' "a version that is not a number"
A="$(ask "$SOCK" '{"v":2}')"
jq_is "$A" '.error' 'bad request: no "cmd"' "a request without a command"
A="$(ask "$SOCK" '{"v":2,"cmd":"explode"}')"
jq_is "$A" '.error' "unknown command" "an unknown command"
A="$(ask "$SOCK" '[1,2,3]')"
jq_is "$A" '.error' "bad request: not a JSON object" "a JSON array"
A="$(ask "$SOCK" 'not json at all')"
jq_is "$A" '.error' "bad request: not a JSON object" "a line that is not JSON"
cafe_in "$T/hub" status
is "$RC" 0 "cafed still serves cafe status after all that"
like "$OUT" "^daemon +running" "... and says it runs"
cafe_in "$T/hub" sync --wait --timeout 5
is "$RC" 0 "cafe sync --wait is understood (no peer: caught up)"
daemon_stop hub

# A stand-in for a cafed of the protocol before versions: its control
# socket answers every request with a status of that time, no "v".
mkdir -p "$T/old/ctl"
cp -r "$T/hub/." "$T/old/"
rm -f "$T/old/ctl/cafed.sock"
chmod 700 "$T/old/ctl"
python3 - "$T/old/ctl/cafed.sock" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        c.recv(4096)
        c.sendall(b'{"running": true, "listen": "none", "peers": []}\n')
    except OSError:
        pass
    c.close()
PYEOF
OLD=$!
PID[old]=$OLD
for i in $(seq 1 50); do [ -S "$T/old/ctl/cafed.sock" ] && break; sleep 0.1; done

cafe_in "$T/old" status
is "$RC" 0 "status works beside a cafed of another version"
like "$OUT" "^daemon +cafed speaks control protocol 1 and this cafe 2: the running cafed is older; restart it" \
    "status says the running cafed is older and to restart it"
cafe_in "$T/old" status --json
jq_is "$OUT" '.daemon.answering' false "status --json: the daemon is not usable"
like "$(printf '%s' "$OUT" | jq -r .daemon.error)" "control protocol 1 and this cafe 2" \
    "status --json: and why"
cafe_in "$T/old" add site "name=Stored anyway"
is "$RC" 0 "a write beside it exits 0"
NEW="$OUT"
is "$(grep -c "control protocol 1" <<<"$ERR")" 1 "and warns once, naming the versions"
cafe_in "$T/old" show "$NEW"
is "$RC" 0 "the write is stored"
cafe_in "$T/old" sync --wait --timeout 2
is "$RC" 1 "cafe sync --wait fails (exit 1) with an older cafed"
like "$ERR" "restart it" "... saying to restart it"
kill "$OLD" 2>/dev/null

done_testing
