#!/usr/bin/env bash
# ctlversion.t: the control protocol's version (proto/control.h).  A real
# cafed answers every request with its version, serves a request without
# one as version 1, and refuses, in words that name both versions and
# what to do, a request of another version, one without a command, and
# one that is not JSON, and keeps serving.  Beside stand-ins for cafed:
# one of the protocol before versions (no "v" in its answers) is read as
# version 1; one of a newer version gets from cafe a status that says so
# and what to do, and a write that is stored with one warning.
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

A="$(ask "$SOCK" '{"v":1,"cmd":"status"}')"
jq_is "$A" '.v' 1 "an answer carries the daemon's version"
jq_is "$A" '.running' true "... and the status"
A="$(ask "$SOCK" '{"cmd":"status"}')"
jq_is "$A" '.running' true "a request without a version is of version 1, and served"
A="$(ask "$SOCK" '{"v":99,"cmd":"nudge"}')"
jq_is "$A" '.error' "control protocol 99, and this cafed speaks 1: restart cafed after an upgrade" \
    "a newer version is refused, naming both and what to do"
jq_is "$A" '.v' 1 "... with the daemon's version"
A="$(ask "$SOCK" '{"v":0,"cmd":"nudge"}')"
jq_is "$A" '.error' "control protocol 0, and this cafed speaks 1: use the cafe installed with this cafed" \
    "an older version is refused, naming both and what to do"
A="$(ask "$SOCK" '{"v":"two","cmd":"status"}')"
jq_is "$A" '.error' 'bad request: "v" is not an integer' "a version that is not an integer"
A="$(ask "$SOCK" '{"v":1}')"
jq_is "$A" '.error' 'bad request: no "cmd"' "a request without a command"
A="$(ask "$SOCK" '{"v":1,"cmd":"explode"}')"
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

# Stand-ins for a cafed of another version: its control socket answers
# every request with a status of its own.
mkdir -p "$T/old/ctl"
cp -r "$T/hub/." "$T/old/"
rm -f "$T/old/ctl/cafed.sock"
chmod 700 "$T/old/ctl"
standin() {
	python3 - "$T/old/ctl/cafed.sock" "$1" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(16)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    try:
        c.recv(4096)
        c.sendall(sys.argv[2].encode() + b"\n")
    except OSError:
        pass
    c.close()
PYEOF
	PID[old]=$!
	for i in $(seq 1 50); do [ -S "$T/old/ctl/cafed.sock" ] && break; sleep 0.1; done
}
standin_stop() { kill "${PID[old]}" 2>/dev/null; wait "${PID[old]}" 2>/dev/null; rm -f "$T/old/ctl/cafed.sock"; }

# The protocol before versions: no "v" in its answers, and compatible.
standin '{"running": true, "listen": "127.0.0.1:1", "peers": []}'
cafe_in "$T/old" status
is "$RC" 0 "status beside a cafed of the protocol before versions"
like "$OUT" "^daemon +running, listening on 127.0.0.1:1" "... reads its answer (no \"v\" is version 1)"
standin_stop

# A newer protocol.
standin '{"v": 2, "running": true, "listen": "none", "peers": []}'
cafe_in "$T/old" status
is "$RC" 0 "status works beside a cafed of a newer version"
like "$OUT" "^daemon +cafed speaks control protocol 2 and this cafe 1, so cafe cannot read its answers: this cafe is older than the running cafed; use the cafe installed with it" \
    "status says this cafe is older and what to do"
cafe_in "$T/old" status --json
jq_is "$OUT" '.daemon.answering' false "status --json: the daemon's answers are not usable"
like "$(printf '%s' "$OUT" | jq -r .daemon.error)" "control protocol 2 and this cafe 1" \
    "status --json: and why"
cafe_in "$T/old" add site "name=Stored anyway"
is "$RC" 0 "a write beside it exits 0"
NEW="$OUT"
is "$(grep -c "control protocol 2" <<<"$ERR")" 1 "and warns once, naming the versions"
cafe_in "$T/old" show "$NEW"
is "$RC" 0 "the write is stored"
cafe_in "$T/old" sync --wait --timeout 2
is "$RC" 1 "cafe sync --wait fails (exit 1) beside it"
like "$ERR" "use the cafe installed with it" "... saying what to do"
standin_stop

done_testing
