#!/usr/bin/env bash
# version.t: one version, from VERSION.  cafe --version and cafed --version
# print it (a build from source; the package passes its own, which
# debian/changelog must agree with), and the changelog's latest entry is
# that version.
. "$(dirname "$0")/lib.sh"

ROOT="$(cd "$TESTS_DIR/../.." && pwd)"
CAFED="${CAFED:-$(dirname "$CAFE")/cafed}"
V=$(cat "$ROOT/VERSION")
like "$V" '^[0-9]+\.[0-9]+\.[0-9]+$' "VERSION holds a version"

run_cafe --version
is "$RC" 0 "cafe --version exits 0"
is "$OUT" "cafe $V" "cafe --version prints VERSION"
run_cafe --data "$T/none" --version
is "$OUT" "cafe $V" "after --data too"
OUT=$("$CAFED" --version)
is "$?" 0 "cafed --version exits 0"
is "$OUT" "cafed $V" "cafed --version prints VERSION"
like "$("$CAFED" --help)" "cafed --version" "cafed --help names --version"

head=$(head -1 "$ROOT/debian/changelog")
is "$(sed -n 's/^cafesync (\([^)]*\)).*/\1/p' <<<"$head")" "$V" \
	"debian/changelog's latest entry is VERSION"

done_testing
