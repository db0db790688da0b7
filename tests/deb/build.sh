#!/bin/sh
# build.sh OUT [VERSION]: builds the Debian package from this checkout
# with dpkg-buildpackage -us -uc -b, in a copy of the tree under OUT (so
# the checkout stays clean), and leaves OUT/cafesync_*.deb.  With VERSION,
# the copy gets a changelog entry and a VERSION file of that version (for
# the upgrade test); without, VERSION and debian/changelog must agree and
# lintian checks the package (its output in OUT/lintian.txt; any error or
# warning fails).
set -eu

out=${1:?usage: build.sh OUT [VERSION]}
newver=${2:-}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)

want=$(cat "$top/VERSION")
have=$(cd "$top" && dpkg-parsechangelog -S Version)
if [ "$want" != "$have" ]; then
	echo "build.sh: debian/changelog is at $have but VERSION says $want:" \
	    "make them agree (dch -v $want, or edit VERSION)" >&2
	exit 1
fi
ver=${newver:-$want}
src="$out/src-$ver"
rm -rf "$src"
mkdir -p "$src"
# The files git knows of, committed or not, and new ones not ignored.
(cd "$top" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
    xargs -0 cp --parents -t "$src")
if [ -n "$newver" ]; then
	echo "$newver" >"$src/VERSION"
	{
		printf 'cafesync (%s) bookworm; urgency=medium\n\n' "$newver"
		printf '  * Test build of a newer version.\n\n'
		printf ' -- %s  %s\n\n' "cafesync developers <dev@cafesync.invalid>" \
		    "$(date -R)"
		cat "$top/debian/changelog"
	} >"$src/debian/changelog"
fi
rm -f "$out"/cafesync_"$ver"_*.deb "$out"/cafesync_"$ver"_*.changes \
    "$out"/cafesync_"$ver"_*.buildinfo
(cd "$src" && DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -us -uc -b >"$out/build-$ver.log" 2>&1) || {
	tail -40 "$out/build-$ver.log" >&2
	echo "build.sh: dpkg-buildpackage failed; the log: $out/build-$ver.log" >&2
	exit 1
}
deb=$(ls "$out"/cafesync_"$ver"_*.deb)
echo "built $deb"
if [ -z "$newver" ]; then
	changes=$(ls "$out"/cafesync_"$ver"_*.changes)
	# --fail-on: an error or a warning not justified in the overrides
	# (debian/cafesync.lintian-overrides), which are shown too.  Lintian
	# would rather not run as root: as root, it runs as nobody.
	as=""
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		as="setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME=/tmp"
	fi
	if $as lintian --display-info --pedantic --display-experimental \
	    --show-overrides --fail-on error,warning \
	    "$changes" >"$out/lintian.txt" 2>&1; then
		lrc=0
	else
		lrc=$?
	fi
	echo "lintian $(lintian --version | sed 's/^Lintian v//'):"
	if [ -s "$out/lintian.txt" ]; then
		sed 's/^/  /' "$out/lintian.txt"
	else
		echo "  (no tags)"
	fi
	if [ "$lrc" != 0 ]; then
		echo "build.sh: lintian found errors or warnings" >&2
		exit 1
	fi
fi
