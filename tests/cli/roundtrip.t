#!/usr/bin/env bash
# roundtrip.t: export, fix in a spreadsheet, import again: the rows with an
# id update their records (only what changed, as edits, in history), the
# rows without create, nothing is duplicated; --dry-run says what would be
# created, changed and left alone and writes nothing; headers in any case,
# blank rows and trailing empty columns are fine; --excel writes a BOM and
# CRLF; a file that is not UTF-8 is refused with how to save it; undo
# takes an import back.
. "$(dirname "$0")/lib.sh"

A="$T/a"
new_node "$A" "Hub" --role hub
ALL=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
add_rec "$A" site "name=Pine County FRC"
add_rec "$A" person "name=María Peña" roles=host
for d in 04 11 18; do
	add_rec "$A" cafe site=pine date=2026-11-$d format=parent factors=resilience attendees=10 hosts=maria elements=$ALL
done
X18="$ID"
count() { status_json "$A" | jq -r .counts.cafe; }
commits() { status_json "$A" | jq -r .commits; }

cafe_in "$A" export cafe --format csv
is "$RC" 0 "export exits 0"
printf '%s\n' "$OUT" >"$T/cafes.csv"
like "$(head -n 1 "$T/cafes.csv")" "^id,site,date," "the header: id, then the fields"

# The same file back: nothing changes.
N="$(commits)"
cafe_in "$A" import cafe "$T/cafes.csv"
is "$RC" 0 "importing the export again exits 0"
like "$OUT" "0 created, 0 changed, 3 unchanged" "and changes nothing"
is "$(count)" 3 "still 3 cafés"
is "$(commits)" "$N" "no commit written"

# Fixed in a spreadsheet: one attendance changed, one row added without an
# id, headers in upper case, a blank row, trailing empty columns.
$PY - "$T/cafes.csv" "$T/fixed.csv" "$X18" <<'PY'
import csv, sys
src, dst, x18 = sys.argv[1], sys.argv[2], sys.argv[3]
rows = list(csv.reader(open(src, encoding="utf-8")))
head = [h.upper() for h in rows[0]] + ["", ""]
out = [head]
for r in rows[1:]:
    if r[0] == x18:
        r[head.index("ATTENDEES")] = "14"
    out.append(r + ["", ""])
out.append([""] * len(head))
new = [""] * len(head)
new[head.index("SITE")] = "Pine County FRC"
new[head.index("DATE")] = "2026-11-25"
new[head.index("FORMAT")] = "Dads"
new[head.index("FACTORS")] = "Resilience"
out.append(new)
w = csv.writer(open(dst, "w", encoding="utf-8", newline=""))
w.writerows(out)
PY
cafe_in "$A" import cafe "$T/fixed.csv" --dry-run
is "$RC" 0 "--dry-run exits 0"
like "$OUT" "change café 2026-11-18 \(parent\) \([0-9a-f]+\): attendees 10 -> 14" "--dry-run shows the change"
like "$OUT" "create cafe 2026-11-25" "--dry-run shows the new row"
like "$OUT" "1 created, 1 changed, 2 unchanged \(nothing written\)" "--dry-run counts created, changed, unchanged"
is "$(count)" 3 "--dry-run stores nothing"
cafe_in "$A" import cafe "$T/fixed.csv"
is "$RC" 0 "import of the fixed file exits 0"
like "$OUT" "imported 2 cafe records: 1 created, 1 changed, 2 unchanged" "one created, one changed"
is "$(count)" 4 "4 cafés: the 3 updated in place and the new one"
cafe_in "$A" show "$X18" --json
jq_is "$OUT" '.attendees' 14 "the changed row updated its record"
cafe_in "$A" history "$X18" --json
jq_is "$OUT" 'length' 2 "history: the add and one edit"
jq_is "$OUT" '[.[1].changes[].field] | join(",")' attendees "the edit changed attendees only"
cafe_in "$A" list cafe --where format=dads --json
jq_is "$OUT" 'length' 1 "the new row is a dads café (Dads)"
cafe_in "$A" import cafe "$T/fixed.csv"
like "$OUT" "1 created, 0 changed, 3 unchanged" "importing it twice adds only the row without an id again"
like "$ERR" "already stored" "with a warning that it is stored already"
cafe_in "$A" undo
like "$OUT" "undid the last import: 1 removed" "undo takes that import back"
is "$(count)" 4 "4 cafés again"

# --excel: BOM and CRLF, and it imports.
cafe_in "$A" export cafe --format csv --excel
"$CAFE" --data "$A" export cafe --format csv --excel >"$T/excel.csv"
is "$(head -c 3 "$T/excel.csv" | od -An -tx1 | tr -d ' ')" efbbbf "--excel starts with a UTF-8 byte-order mark"
is "$(head -n 1 "$T/excel.csv" | od -An -c | tr -s ' ' | grep -c '\\r \\n')" 1 "--excel ends lines with CRLF"
like "$(head -n 1 "$T/excel.csv")" "^.*id,site,site_name,date," "--excel puts a name column beside each reference"
like "$(sed -n 2p "$T/excel.csv")" ",Pine County FRC,.*,María Peña," "with the names"
cafe_in "$A" import cafe "$T/excel.csv"
is "$RC" 0 "an --excel export imports"
like "$OUT" "0 created, 0 changed, 4 unchanged" "and changes nothing"

# An id that is not here, and a file that is not UTF-8.
printf 'id,site,date,format,factors\nffffffffffffffffffffffffffffffff,pine,2026-11-30,parent,resilience\n' >"$T/gone.csv"
cafe_in "$A" import cafe "$T/gone.csv"
is "$RC" 0 "a row whose id is not on this node (another node's export) is imported"
like "$ERR" "1 row had an id that is not on this node: added as new records" "as a new record, with a warning"
like "$OUT" "1 created" "one created"
cafe_in "$A" undo
printf 'id,site,date,format,factors\nfff0,pine,2026-11-30,parent,resilience\n' >"$T/typo.csv"
cafe_in "$A" import cafe "$T/typo.csv"
is "$RC" 2 "a short id that matches nothing: exit 2"
like "$ERR" "typo.csv:2: no cafe named or with id 'fff0'" "names the line"
printf 'site,date,format,factors,topic\npine,2026-11-30,parent,resilience,caf\xe9 night\n' >"$T/latin1.csv"
cafe_in "$A" import cafe "$T/latin1.csv"
is "$RC" 2 "a Latin-1 file: exit 2"
like "$ERR" "latin1.csv:2: not UTF-8 text: save the file as UTF-8" "says how to save it as UTF-8"
# The same café twice in one file: stored, with a warning naming the line.
printf 'site,date,format,factors\npine,2026-11-30,parent,resilience\nPine County FRC,2026-11-30,Parent,resilience\n' >"$T/twice.csv"
cafe_in "$A" import cafe "$T/twice.csv"
is "$RC" 0 "the same café twice in a file is imported"
like "$ERR" "twice.csv:3: the same parent café on 2026-11-30 as line 2" "with a warning naming the first line"
cafe_in "$A" undo
# Every mistake of a row, each on its line.
printf 'site,date,format,factors\nnowhere,2026-13-01,brunch,resilience\n' >"$T/bad.csv"
cafe_in "$A" import cafe "$T/bad.csv"
is "$RC" 2 "a row with three mistakes: exit 2"
like "$ERR" "bad.csv:2: field site:" "the site"
like "$ERR" "bad.csv:2: field date:" "the date"
like "$ERR" "bad.csv:2: field format:" "the format"
is "$(count)" 4 "nothing imported"

done_testing
