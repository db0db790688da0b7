#!/usr/bin/env bash
# cafed.t: cafed finds the data directory cafe uses ($CAFE_DATA, else
# $XDG_DATA_HOME/cafesync, else ~/.local/share/cafesync); cafed -n checks
# it as well as the configuration and lists the peers kept in the store;
# cafed --version; of two errors across options in the configuration,
# the first is reported.  And `stats --by site` cuts a long UTF-8 name on a
# character, marked.
. "$(dirname "$0")/lib.sh"

CAFED="${CAFED:-$(dirname "$CAFE")/cafed}"
D="$HOME/.local/share/cafesync"
run_cafe init --name "Home node" --role hub
is "$RC" 0 "cafe init with no --data and no CAFE_DATA uses ~/.local/share/cafesync"
ok test -e "$D/node.key" -- "the node is in ~/.local/share/cafesync"
KEY="$("$CAFE" --data "$T/other" init --name Other --role hub)"
run_cafe peer add hub 127.0.0.1:9 --key "$KEY"
is "$RC" 0 "a peer added" || diag "$ERR"
"$CAFED" -n >"$T/o" 2>"$T/e"
is "$?" 0 "cafed -n with no --data finds cafe's data directory"
like "$(cat "$T/o")" "data directory $D ok: node Home node \(hub\), 1 peer kept in the store" "and reports the node and its peers"
like "$(cat "$T/o")" "peer hub 127.0.0.1:9" "listing the peer"
CAFE_DATA="$T/none" "$CAFED" -n >"$T/o" 2>"$T/e"
is "$?" 1 "cafed -n on a data directory without a node: exit 1"
like "$(cat "$T/e")" "data directory $T/none: .*holds no node" "saying so"
XDG_DATA_HOME="$T/xdg" "$CAFE" init --name "XDG node" --role hub >/dev/null
XDG_DATA_HOME="$T/xdg" "$CAFED" -n >"$T/o" 2>&1
like "$(cat "$T/o")" "data directory $T/xdg/cafesync ok: node XDG node" "XDG_DATA_HOME, as for cafe"

# Two errors found only at the end of the file: the first is reported
# (and, under AddressSanitizer, neither is leaked: the exit code says so).
printf '[limits]\nping_interval = 30\nping_timeout = 30\nbackoff_min = 900\nbackoff_max = 800\n' >"$T/two.conf"
chmod 600 "$T/two.conf"
"$CAFED" -n --config "$T/two.conf" >"$T/o" 2>"$T/e"
is "$?" 2 "cafed -n rejects a configuration with two errors across options (exit 2)"
like "$(cat "$T/e")" "^cafed: $T/two.conf: \[limits\] ping_timeout: must be longer" "and names the first"
is "$(wc -l <"$T/e" | tr -d ' ')" 1 "in one line"
printf '[limits]\nbackoff_min = 900\nbackoff_max = 800\n' >"$T/one.conf"
chmod 600 "$T/one.conf"
"$CAFED" -n --config "$T/one.conf" >"$T/o" 2>"$T/e"
like "$(cat "$T/e")" "^cafed: $T/one.conf: \[limits\] backoff_max: must not be shorter" "backoff_max below backoff_min alone is named"

LONG="Centro de Recursos Familiares del Condado de Piñón Árbol"
run_cafe add site "name=$LONG"
SITE="$OUT"
run_cafe add cafe site="$SITE" date=2026-11-04 format=parent factors=resilience elements=all
run_cafe stats --by site
is "$RC" 0 "stats --by site exits 0"
LINE="$(printf '%s\n' "$OUT" | grep '^Centro')"
like "$LINE" "^Centro de Recursos Familiares del… +1 " "a long name is cut on a character, with a mark"
printf '%s' "$LINE" | iconv -f UTF-8 -t UTF-8 >/dev/null 2>&1
is "$?" 0 "the line is valid UTF-8"
done_testing
