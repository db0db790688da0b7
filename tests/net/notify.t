#!/usr/bin/env bash
# notify.t: cafed under a service manager.  With NOTIFY_SOCKET set (as
# systemd does for Type=notify), cafed says READY=1 once it serves and
# STOPPING=1 when SIGTERM arrives; the notifications are read here from a
# datagram socket the test makes itself.
source "$(dirname "$0")/netlib.sh"

node_init hub hub || exit 1
SOCK="$T/notify.sock"
"$PY" - "$SOCK" >"$T/notify.out" 2>&1 <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
try:
    while True:
        m = s.recv(4096).decode()
        print(m.replace("\n", " ").strip(), flush=True)
        if "STOPPING=1" in m:
            break
except socket.timeout:
    print("timeout", flush=True)
PYEOF
LISTENER=$!
for i in $(seq 1 50); do [ -S "$SOCK" ] && break; sleep 0.05; done
ok [ -S "$SOCK" ] -- "the notification socket is ready"

NOTIFY_SOCKET="$SOCK" daemon_start hub
wait_for 5 grep -q "READY=1" "$T/notify.out"
like "$(cat "$T/notify.out")" "READY=1" "cafed says READY=1 once it serves"
ok "$CAFE" --data "$T/hub" sync -- "the control socket answers after READY"
unlike "$(cat "$T/notify.out")" "STOPPING" "no STOPPING while it runs"

daemon_stop hub
is "$?" 0 "SIGTERM: cafed exits 0"
wait "$LISTENER" 2>/dev/null
like "$(cat "$T/notify.out")" "STOPPING=1" "cafed says STOPPING=1 on SIGTERM"
done_testing
