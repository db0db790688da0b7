#!/usr/bin/env bash
# zbundle.t: cafe bundle export --compress writes the plain bundle as zstd
# frames (docs/formats.md, "Compressed bundle"): zstd -d gives back the
# plain export byte for byte, it is smaller, and import reads either way
# to the same store.  A compressed bundle cut short, or with a damaged
# frame, is refused with one line; --compress with --to is a usage error.
. "$(dirname "$0")/lib.sh"

ADM="$T/adm"
new_node "$ADM" "State admin" --role hub
NET="$NODE"
A="$T/a"
new_node "$A" "Hub A" --role hub --network "$NET"
enroll "$ADM" "$A" hub
cafe_in "$ADM" bundle export "$T/admin.b"
"$CAFE" --data "$A" bundle import "$T/admin.b" >/dev/null
add_rec "$A" site "name=Bundle site" county=Lake
S1="$ID"
for i in $(seq 1 60); do
	add_rec "$A" cafe site="$S1" date=2024-03-01 format=parent \
		factors=resilience attendees=$((i % 30)) "topic=Night $i of the series"
done

run_ok "plain export" "$A" bundle export "$T/plain.b"
run_ok "compressed export" "$A" bundle export "$T/z.b" --compress
ok cmp -s <(head -c 4 "$T/z.b" | od -An -tx1 | tr -d ' \n') <(printf 28b52ffd) \
	-- "the compressed bundle opens with the zstd magic"
ok cmp -s <(zstd -dc "$T/z.b") "$T/plain.b" \
	-- "zstd -d gives back the plain bundle byte for byte"
PS=$(wc -c <"$T/plain.b")
ZS=$(wc -c <"$T/z.b")
diag "plain $PS bytes, compressed $ZS"
ok [ $((ZS * 2)) -lt "$PS" ] -- "compressed is under half the plain size"

for n in p z; do
	new_node "$T/$n" "Replica $n" --role consultant --network "$NET"
done
run_ok "import the plain bundle" "$T/p" bundle import "$T/plain.b"
run_ok "import the compressed bundle" "$T/z" bundle import "$T/z.b"
is "$(status_json "$T/z" | jq -r .digest)" "$(status_json "$A" | jq -r .digest)" \
	"the compressed import holds what A holds"
is "$(status_json "$T/p" | jq -r .digest)" "$(status_json "$A" | jq -r .digest)" \
	"the plain import holds what A holds"
run_ok "importing the compressed bundle again" "$T/z" bundle import "$T/z.b"
is "$(status_json "$T/z" | jq -r .digest)" "$(status_json "$A" | jq -r .digest)" \
	"changes nothing"

# Damage: cut short, and a flipped byte in the middle.
new_node "$T/c" "Replica c" --role consultant --network "$NET"
head -c $((ZS / 2)) "$T/z.b" >"$T/cut.b"
cafe_in "$T/c" bundle import "$T/cut.b"
ok [ "$RC" -ne 0 ] -- "a compressed bundle cut short fails"
like "$ERR" "ends inside a zstd frame" "and says why"
ok [ "$(printf '%s\n' "$ERR" | grep -c .)" -le 3 ] -- "in few lines"
python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[len(b) // 2] ^= 0xff; open(sys.argv[2], "wb").write(b)' \
	"$T/z.b" "$T/flip.b"
new_node "$T/d" "Replica d" --role consultant --network "$NET"
cafe_in "$T/d" bundle import "$T/flip.b"
ok [ "$RC" -ne 0 ] -- "a compressed bundle with a damaged byte fails"
like "$ERR" "compressed bundle|refused|signature|bundle" "and says why"

cafe_in "$A" bundle export "$T/x.b" --compress --to "$NET"
ok [ "$RC" -ne 0 ] -- "--compress with --to is a usage error"
like "$ERR" "--compress" "naming the option"

done_testing
