#!/usr/bin/env bash
# owner.t: a node's files belong to one user.  Run as another (root on a
# user's directory, a user on root's), cafe and cafed refuse before they
# create anything, saying whose the directory is and what to run; a ctl/
# left by a root cafed is named with how to clear it.  And cafed's log
# lines carry syslog priorities when stderr is the journal.  Needs root
# (to play two users).
. "$(dirname "$0")/lib.sh"

CAFED="${CAFED:-$(dirname "$CAFE")/cafed}"

if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
	skip "needs root and setpriv to play two users"
	done_testing
fi
NOBODY=$(id -u nobody)
chmod 711 "$T"
# nb CMD...: CMD as nobody, output in OUT, ERR, RC.
nb() {
	OUT=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$@" \
	    2>"$T/err")
	RC=$?
	ERR=$(cat "$T/err")
}

# ---- a user's node, and root -------------------------------------------
ANA="$T/ana"
mkdir -m 700 "$ANA"
chown nobody "$ANA"
nb "$CAFE" --data "$ANA" init --name "Ana's laptop"
is "$RC" 0 "nobody makes a node"
is "$(stat -c %U "$ANA/node.key")" nobody "the key is nobody's"

ERR=$("$CAFED" --data "$ANA" 2>&1)
is "$?" 1 "root's cafed on nobody's directory refuses to start"
is "$ERR" "cafed: $ANA is owned by nobody (uid $NOBODY), not by root (uid 0): run cafed as nobody (sudo -u nobody cafed --data $ANA ..., or systemctl start cafed for the service's directory)" \
	"it says whose the directory is and how to run cafed"
ok test ! -e "$ANA/ctl" -- "and creates no ctl/ there"

BOB="$T/bob"
mkdir -m 700 "$BOB"
chown nobody "$BOB"
cafe_in "$BOB" init --name "Bob"
is "$RC" 2 "root's cafe init in nobody's directory is refused"
is "$ERR" "cafe: init: $BOB is owned by nobody (uid $NOBODY), not by root (uid 0): make the node as nobody (sudo -u nobody cafe --data $BOB ...)" \
	"it says whose the directory is and how to make the node"
is "$(ls -A "$BOB")" "" "and creates nothing there"

# A key its owner cannot read: the reason is the read's (EACCES), not
# what the ownership check after it left in errno.
DAN="$T/dan"
mkdir -m 700 "$DAN"
chown nobody "$DAN"
nb "$CAFE" --data "$DAN" init --name "Dan's laptop"
chmod 000 "$DAN/node.key"
nb "$CAFE" --data "$DAN" status
is "$RC" 2 "nobody's cafe on a key nobody cannot read fails (exit 2)"
is "$ERR" "cafe: status: $DAN/node.key: Permission denied" \
	"one line naming the key and why"

# ---- a ctl/ left by root ---------------------------------------------------
mkdir -m 700 "$ANA/ctl"
nb "$CAFED" --data "$ANA"
is "$RC" 1 "nobody's cafed refuses a root-owned ctl/"
is "$ERR" "cafed: $ANA/ctl is owned by root (uid 0), not by nobody (uid $NOBODY): a cafed run as root left it; stop that cafed, then as root: rm -r $ANA/ctl" \
	"it says whose ctl/ is and how to clear it"
nb "$CAFE" --data "$ANA" sync
is "$RC" 1 "nobody's cafe sync cannot reach a root-owned ctl/"
like "$ERR" "^cafe: sync: control socket: $ANA/ctl is owned by root \(uid 0\), not by nobody \(uid $NOBODY\); if a cafed run as root left it, stop that cafed, then as root: rm -r $ANA/ctl$" \
	"cafe says whose ctl/ is too"
rmdir "$ANA/ctl"
nb "$CAFE" --data "$ANA" add site "name=Pine"
is "$RC" 0 "with ctl/ gone, nobody writes again"

# ---- root's node, and a user ---------------------------------------------------
ROOTN="$T/rootnode"
run_ok "root makes a node" "$ROOTN" init --name "Root's"
nb "$CAFE" --data "$ROOTN" status
is "$RC" 2 "nobody's cafe on root's node is refused"
is "$ERR" "cafe: status: $ROOTN is owned by root (uid 0), not by nobody (uid $NOBODY): the node is root's: run cafe as root (sudo cafe --data $ROOTN ...)" \
	"it says whose the node is"

# ---- planted files: root follows no link and opens no one else's file --------
PRECIOUS="$T/precious"
printf 'root-owned, must stay as it is\n' >"$PRECIOUS"
SUM=$(sha256sum <"$PRECIOUS")
CAR="$T/car"
mkdir -m 700 "$CAR"
chown nobody "$CAR"
nb "$CAFE" --data "$CAR" init --name "Car's laptop"
is "$RC" 0 "nobody makes another node"
nb rm -f "$CAR/lock.mdb"
nb ln -s "$PRECIOUS" "$CAR/lock.mdb"
run_cafe --data "$CAR" status
is "$RC" 2 "root's cafe status on nobody's node with a planted lock.mdb link: refused"
is "$ERR" "cafe: status: $CAR is owned by nobody (uid $NOBODY), not by root (uid 0): the node is nobody's: run cafe as nobody (sudo -u nobody cafe --data $CAR ...)" \
	"one line: whose the node is and what to run"
ERR=$("$CAFED" --data "$CAR" 2>&1)
is "$?" 1 "root's cafed refuses it too"
is "$(sha256sum <"$PRECIOUS")" "$SUM" "the link's root-owned target is untouched"
is "$(stat -c %s "$PRECIOUS")" 31 "not truncated"

# In root's own node: a lock.mdb link, a data.mdb another user owns.
"$CAFE" --data "$ROOTN" status >/dev/null 2>&1
mv "$ROOTN/lock.mdb" "$T/lock.saved"
ln -s "$PRECIOUS" "$ROOTN/lock.mdb"
run_cafe --data "$ROOTN" status
is "$RC" 2 "a lock.mdb that is a symbolic link: refused"
is "$ERR" "cafe: status: $ROOTN/lock.mdb is a symbolic link: a node's files are plain files; refusing to follow it" \
	"one line naming the file and why"
ERR=$("$CAFED" --data "$ROOTN" 2>&1)
is "$?" 1 "cafed refuses it too"
like "$ERR" "lock.mdb is a symbolic link" "naming the file"
is "$(sha256sum <"$PRECIOUS")" "$SUM" "the target is untouched"
rm "$ROOTN/lock.mdb"
mv "$T/lock.saved" "$ROOTN/lock.mdb"
chown nobody "$ROOTN/data.mdb"
run_cafe --data "$ROOTN" status
is "$RC" 2 "a data.mdb another user owns: refused"
is "$ERR" "cafe: status: $ROOTN/data.mdb is owned by nobody (uid $NOBODY), not by root (uid 0); refusing to open it" \
	"one line naming the file and whose it is"
chown root "$ROOTN/data.mdb"
run_cafe --data "$ROOTN" status
is "$RC" 0 "given back, root's node opens again"

# ---- journal priorities ----------------------------------------------------------
# run_cafed LOG [JOURNAL_STREAM]: cafed on root's node until it serves.
run_cafed() {
	local pid i
	env ${2:+JOURNAL_STREAM=$2} "$CAFED" --data "$ROOTN" 2>"$1" &
	pid=$!
	for i in $(seq 100); do
		grep -q "serving" "$1" 2>/dev/null && break
		sleep 0.05
	done
	kill "$pid"
	wait "$pid" 2>/dev/null
}
: >"$T/j.log"
run_cafed "$T/j.log" "$(stat -c %d:%i "$T/j.log")"
like "$(head -1 "$T/j.log")" "^<6>info: node [0-9a-f]{16} \(Root's, site\) serving " \
	"stderr is the journal: an info line starts with <6>, no time"
like "$(cat "$T/j.log")" "^<6>info: stopping \(SIGTERM\)$" "SIGTERM's line too"
: >"$T/other"
run_cafed "$T/p.log" "$(stat -c %d:%i "$T/other")"
like "$(head -1 "$T/p.log")" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z cafed info: node " \
	"JOURNAL_STREAM naming another file: the line carries its time"

done_testing
