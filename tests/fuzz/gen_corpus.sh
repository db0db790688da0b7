#!/bin/sh
# gen_corpus.sh: (re)writes the fuzz seed corpus in tests/fuzz/corpus/.
#
#   sh tests/fuzz/gen_corpus.sh        (from the top of the tree, after make)
#
# Builds tests/fuzz/gen_corpus.c against proto/ into a temporary directory,
# makes a tiny node with build/cafe (a site, a person, a café, an edit and
# a removal), exports its log with `cafe bundle export`, and runs
# gen_corpus, which writes synthetic commits and bundles made with the
# proto_* encoder plus the exported bundle and each of its commits.
set -eu

top=$(cd "$(dirname "$0")/../.." && pwd)
cafe=${CAFE:-$top/build/cafe}
out=$top/tests/fuzz/corpus
cc=${CC:-cc}

[ -x "$cafe" ] || { echo "gen_corpus.sh: $cafe not found (run make)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cafe-corpus.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

$cc -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O1 -I"$top" \
	-Wall -Wextra -Werror -o "$tmp/gen_corpus" "$top/tests/fuzz/gen_corpus.c" \
	"$top"/proto/*.c -lmsgpackc -lsodium

n="$tmp/node"
"$cafe" --data "$n" init --name seed-site --role site >/dev/null
site=$("$cafe" --data "$n" add site name="Riverside FRC" county=Lane \
	languages=English,Spanish)
person=$("$cafe" --data "$n" add person name="Ana Ruiz" \
	roles=parent_leader,host site="$site")
cafe_id=$("$cafe" --data "$n" add cafe site="$site" date=2025-01-15 \
	format=parent factors=resilience,social_connections attendees=14 \
	new_attendees=3 hosts="$person" topic="Taking care of ourselves" \
	elements=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing \
	2>/dev/null)
"$cafe" --data "$n" edit "$cafe_id" attendees=15 tables=4 >/dev/null
"$cafe" --data "$n" rm "$person" >/dev/null
"$cafe" --data "$n" bundle export "$tmp/cafe_export.bundle" 2>/dev/null

rm -rf "$out"
mkdir -p "$out"
"$tmp/gen_corpus" "$out" "$tmp/cafe_export.bundle"
nc=$(find "$out/commit" -type f | wc -l)
nb=$(find "$out/bundle" -type f | wc -l)
nw=$(find "$out/wire" -type f | wc -l)
ns=$(find "$out/seal" -type f | wc -l)
echo "corpus: $nc commit, $nb bundle, $nw wire, $ns seal seeds in $out"
