#!/usr/bin/env bash
# deb-test.sh OUT: the Debian package, as a state's IT person would use it.
#
# Builds the package twice (this version, and a newer one), makes a clean
# Debian 12 root with debootstrap (from the mirror apt uses here), and in
# it: installs the package, checks the files and their modes, the conffile,
# the unit's boot link, cafe --version, man -w, cafed -n with the packaged
# configuration, the cafesync user and /var/lib/cafesync; makes a node
# the documented way and checks the refusals of another user; runs cafed
# as the cafesync user, writes through it as root, edits the
# configuration, installs the newer package over the running daemon and
# checks that the data, the key and the edit are kept; then removes
# (node and configuration kept) and purges (both gone).
#
# When debootstrap cannot make a root (no mirror reachable), the test runs
# on this machine instead, only if no cafesync package, user or
# /var/lib/cafesync is there, and undoes it all at the end (purge, then
# the user and the group).  CAFESYNC_DEB_TEST_ROOT=host forces that.
#
# Prints TAP; exits non-zero when any check fails.
set -u

out=${1:?usage: deb-test.sh OUT}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
export DEBIAN_FRONTEND=noninteractive

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }
diag() { sed 's/^/# /' <<<"$1" >&2; }
# check DESC CMD...: passes when CMD exits 0.
check() {
	local desc=$1 o
	shift
	if o=$("$@" 2>&1); then ok "$desc"; else notok "$desc"; diag "$o"; fi
}
is() { # GOT WANT DESC
	if [ "$1" = "$2" ]; then ok "$3"; else
		notok "$3"; diag "got:      '$1'"; diag "expected: '$2'"; fi
}
like() { # GOT REGEX DESC
	if grep -qE -- "$2" <<<"$1"; then ok "$3"; else
		notok "$3"; diag "got: '$1'"; diag "expected to match: /$2/"; fi
}
bail() { echo "Bail out! $*"; exit 1; }
t0=$(date +%s)
elapsed() { echo "# $1: $(( $(date +%s) - t0 )) s since the start"; }

[ "$(id -u)" = 0 ] || bail "needs root (debootstrap, chroot, apt-get)"

# ---- the two packages ------------------------------------------------------
V1=$(cat "$top/VERSION")
V2="$V1+upgrade1"
sh "$top/tests/deb/build.sh" "$out" || bail "the package does not build"
DEB_BUILD_OPTIONS=nocheck sh "$top/tests/deb/build.sh" "$out" "$V2" ||
	bail "the newer package does not build"
DEB1=$(ls "$out"/cafesync_"$V1"_*.deb)
DEB2=$(ls "$out"/cafesync_"$V2"_*.deb)
elapsed "two packages built"

# ---- the root ----------------------------------------------------------------
# The mirror apt uses for bookworm: deb822 URIs: or a one-line deb entry.
mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk 'tolower($1) == "uris:" { u = $2 }
		     tolower($1) == "suites:" && / bookworm( |$)/ && u != "" {
			print u; exit }' "$f"
	done
	cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
	    awk '$1 == "deb" && $0 ~ / bookworm / {
		for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; exit } }'
}
MIRROR=$(mirror | head -1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

R=""
MODE=chroot
DAEMON=""
cleanup() {
	[ -n "$DAEMON" ] && kill "$DAEMON" 2>/dev/null && sleep 1
	if [ "$MODE" = chroot ] && [ -n "$R" ]; then
		umount "$R/proc" 2>/dev/null || umount -l "$R/proc" 2>/dev/null
		# Never into a mount that is still there.
		mountpoint -q "$R/proc" || rm -rf --one-file-system "$R"
	elif [ "$MODE" = host ]; then
		# Undo whatever is left of the install on this machine.
		apt-get -o DPkg::Lock::Timeout=300 purge -y cafesync >/dev/null 2>&1
		userdel cafesync 2>/dev/null
		groupdel cafesync 2>/dev/null
		rm -rf /var/lib/cafesync /etc/cafesync /tmp/cafesync-deb-test
	fi
}
trap cleanup EXIT

if [ "${CAFESYNC_DEB_TEST_ROOT:-}" != host ]; then
	R=$(mktemp -d /var/tmp/cafesync-deb-root.XXXXXX)
	chmod 755 "$R"
	echo "# debootstrap bookworm from $MIRROR into $R"
	s=$(date +%s)
	if debootstrap --variant=minbase --include=man-db bookworm "$R" \
	    "$MIRROR" >"$out/debootstrap.log" 2>&1; then
		echo "# debootstrap took $(( $(date +%s) - s )) s"
	else
		tail -5 "$out/debootstrap.log" | sed 's/^/# /'
		echo "# debootstrap failed: falling back to this machine"
		rm -rf --one-file-system "$R"
		R=""
		MODE=host
	fi
else
	MODE=host
fi
if [ "$MODE" = chroot ]; then
	# apt and the maintainer scripts get by without /proc, if need be.
	mount -t proc proc "$R/proc" ||
		echo "# cannot mount /proc in the root: going on without it"
	# debootstrap made the device nodes (null, zero, ...) in the root.
	cp /etc/resolv.conf "$R/etc/resolv.conf"
	TMPR=/tmp
	ROOTCMD=(chroot "$R")
else
	if dpkg-query -W cafesync >/dev/null 2>&1 || getent passwd cafesync \
	    >/dev/null || getent group cafesync >/dev/null ||
	    [ -e /var/lib/cafesync ] || [ -e /etc/cafesync ]; then
		MODE=none
		bail "no root to test in, and this machine already has a" \
		    "cafesync package, user or directory: not touching it"
	fi
	echo "# testing on this machine; everything is undone at the end"
	R=""
	TMPR=/tmp/cafesync-deb-test
	mkdir -p "$TMPR"
	ROOTCMD=()
fi
# inroot CMD...: runs CMD in the root (or here), with a clean environment.
ENVCMD=(/usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive)
inroot() { "${ROOTCMD[@]}" "${ENVCMD[@]}" "$@"; }
# apt-get waits for another apt on this machine rather than failing.
APT=(apt-get -o DPkg::Lock::Timeout=300 -y -q)
cp "$DEB1" "$DEB2" "$R$TMPR/"
D1=$TMPR/$(basename "$DEB1")
D2=$TMPR/$(basename "$DEB2")
elapsed "root ready ($MODE)"

# as USER CMD...: runs CMD in the root as USER (setpriv execs: no fork).
as() {
	local u=$1
	shift
	inroot setpriv --reuid="$u" --regid="$(inroot id -g "$u")" --init-groups "$@"
}
# node: the packaged node's data directory, outside the root.
NODE=$R/var/lib/cafesync
DATA=/var/lib/cafesync
CONF=/etc/cafesync/cafed.conf

# ---- install -----------------------------------------------------------------
if [ "$MODE" = chroot ]; then
	inroot "${APT[@]}" update >"$out/apt.log" 2>&1 || bail "apt-get update in the root failed"
fi
check "apt-get install ./cafesync_${V1}_*.deb" \
	inroot "${APT[@]}" install "$D1"
is "$(inroot dpkg-query -W -f '${Status} ${Version}' cafesync 2>&1)" \
	"install ok installed $V1" "dpkg knows cafesync $V1"
elapsed "installed"

# Files: mode owner:group path.
while read -r mode og path; do
	is "$(inroot stat -c '%a %U:%G' "$path" 2>&1)" "$mode $og" "$path is $mode $og"
done <<'EOF'
755 root:root /usr/bin/cafe
755 root:root /usr/sbin/cafed
644 root:root /lib/systemd/system/cafed.service
755 root:root /etc/cafesync
644 root:root /etc/cafesync/cafed.conf
644 root:root /usr/lib/sysusers.d/cafesync.conf
644 root:root /usr/lib/tmpfiles.d/cafesync.conf
644 root:root /usr/share/man/man1/cafe.1.gz
644 root:root /usr/share/man/man5/cafed.conf.5.gz
644 root:root /usr/share/man/man8/cafed.8.gz
644 root:root /usr/share/doc/cafesync/copyright
644 root:root /usr/share/doc/cafesync/README.md.gz
644 root:root /usr/share/doc/cafesync/examples/cafed.conf
644 root:root /usr/share/doc/cafesync/examples/cafed-hub.conf
644 root:root /usr/share/doc/cafesync/examples/cafed-site.conf
644 root:root /usr/share/doc/cafesync/examples/cafed-replica.conf
700 cafesync:cafesync /var/lib/cafesync
EOF
like "$(inroot dpkg-query -W -f '${Conffiles}' cafesync)" "^ /etc/cafesync/cafed.conf [0-9a-f]{32}$" \
	"/etc/cafesync/cafed.conf is a conffile"
is "$(inroot readlink /etc/systemd/system/multi-user.target.wants/cafed.service)" \
	/lib/systemd/system/cafed.service "cafed.service is enabled: it starts on boot"
is "$(inroot find /var/lib/cafesync -mindepth 1 | wc -l)" 0 "/var/lib/cafesync starts empty"
if [ "$MODE" = chroot ] && inroot test -x /usr/bin/systemd-analyze; then
	check "systemd-analyze verify cafed.service" \
		inroot systemd-analyze verify /lib/systemd/system/cafed.service
fi

# The user: a system uid, its home the data directory, no login shell.
pw=$(inroot getent passwd cafesync)
like "$pw" "^cafesync:x:[0-9]+:[0-9]+:[^:]*:/var/lib/cafesync:/usr/sbin/nologin$" \
	"the cafesync user: home /var/lib/cafesync, shell nologin"
uid=$(cut -d: -f3 <<<"$pw")
if [ -n "$uid" ] && [ "$uid" -lt 1000 ]; then ok "cafesync is a system user (uid $uid)"; else
	notok "cafesync is a system user (uid '$uid')"; fi
like "$(inroot getent group cafesync)" "^cafesync:x:[0-9]+:" "the cafesync group"

# Versions and manual pages.
is "$(inroot cafe --version 2>&1)" "cafe $V1" "cafe --version prints the package version"
is "$(inroot cafed --version 2>&1)" "cafed $V1" "cafed --version prints the package version"
is "$(inroot man -w cafe cafed cafed.conf 2>&1)" "/usr/share/man/man1/cafe.1.gz
/usr/share/man/man8/cafed.8.gz
/usr/share/man/man5/cafed.conf.5.gz" "man -w cafe cafed cafed.conf"
like "$(inroot env MANWIDTH=80 man -P cat cafe 2>/dev/null)" "^ +cafe +init +--name +NAME" \
	"man cafe shows the commands"

# The packaged configuration, checked as the unit's ExecStartPre does.
o=$(as cafesync cafed -n --data "$DATA" --config "$CONF" 2>&1)
is "$?" 1 "cafed -n --config $CONF, as cafesync, before the node is made: exit 1"
like "$o" "^cafed: configuration ok: listen none, 0 peers$" "cafed -n: the packaged configuration is good"

# ---- the node, made the documented way ----------------------------------------
o=$(inroot cafe --data "$DATA" init --name "State hub" --role hub 2>&1)
is "$?" 2 "root may not make the node in cafesync's directory"
like "$o" "is owned by cafesync \(uid [0-9]+\), not by root \(uid 0\).*sudo -u cafesync cafe --data $DATA" \
	"the refusal says whose the directory is and what to run"
is "$(inroot find /var/lib/cafesync -mindepth 1 | wc -l)" 0 "the refusal left nothing behind"
HUB=$(as cafesync cafe --data "$DATA" init --name "State hub" --role hub 2>&1)
like "$HUB" "^[0-9a-f]{64}$" "sudo -u cafesync cafe init makes the node"
is "$(inroot stat -c '%a %U' "$DATA/node.key" 2>&1)" "600 cafesync" "node.key is 0600, cafesync's"
KEYSUM=$(inroot sha256sum "$DATA/node.key")
like "$KEYSUM" "^[0-9a-f]{64} " "the key's checksum, to compare after the upgrade"

o=$(inroot cafed --data "$DATA" --config "$CONF" 2>&1)
is "$?" 1 "cafed run as root on cafesync's directory refuses to start"
like "$o" "is owned by cafesync \(uid [0-9]+\), not by root.*run cafed as cafesync" \
	"cafed says whose it is and how to run it"
is "$(inroot test -e "$DATA/ctl" && echo left || echo none)" none "and leaves no root-owned ctl/"
o=$(as nobody cafe --data "$DATA" status 2>&1)
is "$?" 2 "another user's cafe is refused"
like "$o" "is owned by cafesync \(uid [0-9]+\), not by nobody.*the node is cafesync's: run cafe as cafesync" \
	"its message says whose the node is"

# ---- the daemon, as the unit runs it -------------------------------------------
start_cafed() { # LOG: cafed as cafesync, in the background; sets DAEMON
	# One simple command, each program exec'ing the next: $! is cafed.
	"${ROOTCMD[@]}" "${ENVCMD[@]}" setpriv --reuid=cafesync \
	    --regid="$(inroot id -g cafesync)" --init-groups \
	    cafed --data "$DATA" --config "$CONF" >"$1" 2>&1 &
	DAEMON=$!
	local i
	for i in $(seq 50); do
		[ -S "$NODE/ctl/cafed.sock" ] && return 0
		sleep 0.1
	done
	return 1
}
stop_cafed() { # SIGTERM, as systemctl stop sends; waits for the exit
	[ -n "$DAEMON" ] || return 0
	kill "$DAEMON"
	wait "$DAEMON" 2>/dev/null
	DAEMON=""
}
if start_cafed "$out/cafed-1.log" && kill -0 "$DAEMON"; then
	ok "cafed starts as cafesync on the packaged configuration"
else
	notok "cafed starts as cafesync on the packaged configuration"
	diag "$(cat "$out/cafed-1.log")"
fi
# The administrator works as the service's user: root itself is refused
# on a directory that is not its own (it would follow what that user
# planted there).
o=$(inroot cafe --data "$DATA" add site "name=Pine County FRC" county=Pine 2>&1)
like "$o" "is owned by cafesync .*sudo -u cafesync cafe --data $DATA" \
	"root is refused on the service's store, and told what to run"
SITE=$(as cafesync cafe --data "$DATA" add site "name=Pine County FRC" county=Pine 2>&1)
like "$SITE" "^[0-9a-f]{32}$" "the administrator, as cafesync, adds a record to the service's store"
check "and a person" as cafesync cafe --data "$DATA" add person "name=Ana R." roles=host site="$SITE"
check "cafe sync reaches the running cafed through its socket" \
	as cafesync cafe --data "$DATA" sync
is "$(inroot find /var/lib/cafesync ! -user cafesync | wc -l)" 0 \
	"every file in /var/lib/cafesync is still cafesync's"
BEFORE=$(as cafesync cafe --data "$DATA" status | grep -E '^(node|digest|commits|records)')
like "$BEFORE" "^commits +[1-9]" "the node holds commits"
# The edit a hub's administrator makes: listen (on a free port of
# 127.0.0.1; the root shares this machine's network).
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
check "the administrator edits $CONF" \
	inroot sed -i "s/^listen = none\$/listen = 127.0.0.1:$PORT/" "$CONF"
like "$(inroot cat "$CONF")" "^listen = 127.0.0.1:$PORT$" "the edit is there"

# ---- upgrade over the running daemon ---------------------------------------------
check "apt-get install of $V2 over $V1 with cafed running" \
	inroot "${APT[@]}" install "$D2"
is "$(inroot dpkg-query -W -f '${Status} ${Version}' cafesync 2>&1)" \
	"install ok installed $V2" "dpkg knows cafesync $V2"
if kill -0 "$DAEMON" 2>/dev/null; then ok "the running cafed survived the upgrade"; else
	notok "the running cafed survived the upgrade"; fi
is "$(inroot cafe --version 2>&1)" "cafe $V2" "cafe --version prints the new version"
like "$(inroot cat "$CONF")" "^listen = 127.0.0.1:$PORT$" "the upgrade kept the edited conffile"
is "$(inroot sha256sum "$DATA/node.key")" "$KEYSUM" "the upgrade kept the node key"
is "$(inroot stat -c '%a %U:%G' "$DATA" 2>&1)" "700 cafesync:cafesync" \
	"/var/lib/cafesync is still 0700 cafesync's"
# What the package's postinst asks systemd to do: restart the daemon.
stop_cafed
if ! [ -e "$NODE/ctl/cafed.sock" ] && start_cafed "$out/cafed-2.log" &&
    kill -0 "$DAEMON"; then
	ok "the new cafed starts on the kept data"
else
	notok "the new cafed starts on the kept data"
	diag "$(cat "$out/cafed-2.log")"
fi
is "$(as cafesync cafe --data "$DATA" status | grep -E '^(node|digest|commits|records)')" \
	"$BEFORE" "the upgrade kept every record: same node, commits and digest"
check "cafe verify after the upgrade" as cafesync cafe --data "$DATA" verify
check "cafe sync reaches the new cafed" as cafesync cafe --data "$DATA" sync
like "$(cat "$out/cafed-2.log")" "cafed info: listening on 127.0.0.1:$PORT$" \
	"the new cafed runs on the kept configuration (it listens)"
stop_cafed
elapsed "upgraded"

# ---- remove, then purge ------------------------------------------------------------
check "apt-get remove cafesync" inroot "${APT[@]}" remove cafesync
is "$(inroot dpkg-query -W -f '${Status}' cafesync 2>&1)" "deinstall ok config-files" \
	"removed, its configuration kept"
is "$(inroot sh -c 'test -e /usr/bin/cafe || test -e /usr/sbin/cafed || echo gone')" gone \
	"the programs are gone"
is "$(inroot sha256sum "$DATA/node.key" 2>&1)" "$KEYSUM" "remove keeps the node (key and store)"
like "$(inroot cat "$CONF" 2>&1)" "^listen = 127.0.0.1:$PORT$" "remove keeps the configuration"
check "apt-get purge cafesync" inroot "${APT[@]}" purge cafesync
like "$(inroot dpkg-query -W -f '${Status}' cafesync 2>&1)" "^(unknown ok not-installed|.*no packages found.*)$" \
	"purged: dpkg holds nothing of it"
is "$(inroot sh -c 'test -e /var/lib/cafesync || echo gone')" gone "purge deletes /var/lib/cafesync"
is "$(inroot sh -c 'test -e /etc/cafesync || echo gone')" gone "purge deletes /etc/cafesync"
is "$(inroot sh -c 'test -e /etc/systemd/system/multi-user.target.wants/cafed.service || echo gone')" \
	gone "purge removes the boot link"
like "$(inroot getent passwd cafesync)" "^cafesync:" "the cafesync user is kept, as Debian keeps system users"
elapsed "removed and purged"

echo "1..$n"
[ "$failed" = 0 ] || { echo "# $failed of $n failed"; exit 1; }
