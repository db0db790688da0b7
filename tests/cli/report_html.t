#!/usr/bin/env bash
# report_html.t: the HTML form of cafe report in a real browser.  Debian's
# chromium (installed here when missing, with poppler-utils) renders the
# report headless: the DOM it built must carry the JSON form's figures
# cell for cell and a text alternative and a data table for every chart
# (reportcheck.py dom); a screenshot is taken (PNG) and the page printed
# to PDF, A4 and Letter, with the expected pages (a page per site with
# --per-site) and the figures in the PDF's text.  No request may leave
# the page: chromium's every connection goes through a proxy on
# 127.0.0.1 that serves nothing and counts, and a page that does fetch
# something is shown to be counted.
. "$(dirname "$0")/lib.sh"

CHECK="$PY $TESTS_DIR/reportcheck.py"
ALL8=welcome,theme,agreements,pair_talk,table_talk,commitment_cards,harvest,closing
PERIOD=(--since 2026-01-01 --until 2026-06-30)
export TZ=Europe/Paris

if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftotext >/dev/null 2>&1; then
	note "installing chromium and poppler-utils"
	(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
		chromium poppler-utils) >"$T/apt.log" 2>&1
fi
if ! command -v chromium >/dev/null 2>&1 || ! command -v pdfinfo >/dev/null 2>&1; then
	echo "Bail out! chromium and poppler-utils are needed (apt-get install chromium poppler-utils): $(tail -n 2 "$T/apt.log" 2>/dev/null)"
	exit 255
fi

# ---- a small network: a hub, three sites, Alpha's laptop ------------------------
H="$T/hub"
new_node "$H" "State hub" --role hub
HID="$NODE"
add_rec "$H" site "name=Alpha FRC" county=Adams
SA="$ID"
add_rec "$H" site "name=Beta <School> & Co" county=Brown
SB="$ID"
add_rec "$H" site "name=Cedar Ñandú Center" county=Adams
SC="$ID"
new_node "$T/a" "Alpha laptop" --role site --network "$HID"
enroll "$H" "$T/a" site "$SA"
A="$T/a"
add_rec "$A" person "name=Ana" roles=host site="$SA" trained=2026-01-15
add_rec "$A" cafe site="$SA" date=2026-01-10 format=parent factors=resilience,social_connections \
	attendees=10 new_attendees=4 children_cared_for=6 max_table_size=5 elements=$ALL8
A1="$ID"
add_rec "$A" cafe site="$SA" date=2026-03-14 format=dads factors=concrete_support \
	attendees=12 new_attendees=5 children_cared_for=3 max_table_size=6 elements=welcome,theme
add_rec "$A" feedback cafe="$A1" responses=10 felt_safe=9 learned=8 will_return=10 \
	followed_through=3 wants_role=2 pfs_resilience=5.50
add_rec "$A" training site="$SA" date=2026-02-05 kind=orientation participants=8
add_rec "$A" action cafe="$A1" "title=Ask the library" due=2026-02-01 status=open
add_rec "$H" cafe site="$SB" date=2026-02-07 format=community factors=child_development,social_emotional \
	attendees=20 new_attendees=10 children_cared_for=15 elements=$ALL8
add_rec "$H" cafe site="$SB" date=2026-06-30 format=parent factors=social_emotional attendees=9
add_rec "$H" milestone site="$SA" step=1 status=done
add_rec "$H" milestone site="$SA" step=2 status=in_progress
add_rec "$H" milestone site="$SB" step=1 status=done
add_rec "$H" milestone site="$SB" step=6 status=done
cafe_in "$A" bundle export "$T/a.bundle"
cafe_in "$H" bundle import "$T/a.bundle"
is "$RC" 0 "the hub imports Alpha's log" || diag "$ERR"
ok admin_log_copy "$H" "$A" -- "Alpha's laptop holds the hub's log"

cafe_in "$H" report "${PERIOD[@]}" --format json -o "$T/rep.json"
is "$RC" 0 "report --format json" || diag "$ERR"
cafe_in "$H" report "${PERIOD[@]}" --format html -o "$T/rep.html"
is "$RC" 0 "report --format html -o FILE" || diag "$ERR"
HTML="$(<"$T/rep.html")"

# ---- the file itself: self-contained -------------------------------------------
like "$HTML" "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'" \
	"a Content-Security-Policy that forbids every fetch"
unlike "$HTML" '<script|https?:|src=|url\(|@import|<link|@font-face' \
	"no script, link, font, image or URL in the file"
like "$HTML" '@page\{size:A4' "a print stylesheet (A4)"
like "$HTML" 'Beta &lt;School&gt; &amp; Co' "names are escaped"

# ---- a proxy that serves nothing and counts what reaches it ----------------------
cat >"$T/proxy.py" <<'EOF'
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(16)
open(sys.argv[1] + ".port", "w").write(str(s.getsockname()[1]))
log = open(sys.argv[1], "a", buffering=1)
def one(c):
    c.settimeout(2)
    try:
        line = c.recv(4096).split(b"\r\n")[0].decode("latin-1")
    except Exception:
        line = "?"
    log.write(line + "\n")
    c.close()
while True:
    c, _ = s.accept()
    threading.Thread(target=one, args=(c,), daemon=True).start()
EOF
: >"$T/proxy.log"
$PY "$T/proxy.py" "$T/proxy.log" &
PROXY_PID=$!
trap 'kill "$PROXY_PID" 2>/dev/null; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -s "$T/proxy.log.port" ] && break; sleep 0.1; done
PORT="$(cat "$T/proxy.log.port" 2>/dev/null)"
isnt "$PORT" "" "a counting proxy listens on 127.0.0.1:$PORT"

# chrome ARGS... URL: headless chromium, its own profile, every request
# through the proxy, no background traffic of its own.
chrome() {
	chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$T/profile" --proxy-server="http://127.0.0.1:$PORT" \
		--proxy-bypass-list='<-loopback>' --disable-background-networking \
		--disable-component-update --disable-sync --disable-default-apps \
		--disable-extensions --no-default-browser-check --metrics-recording-only \
		--disable-features=Translate,OptimizationHints,MediaRouter \
		--virtual-time-budget=3000 "$@" 2>>"$T/chrome.err"
}

# The proxy does catch a page that fetches (no CSP): the control.
printf '<!DOCTYPE html><html><body><img src="http://report.invalid/x.png">%s</body></html>\n' \
	"<p>control</p>" >"$T/control.html"
chrome --dump-dom "file://$T/control.html" >"$T/control.dom"
like "$(cat "$T/proxy.log")" 'report\.invalid' "control: a page that fetches is seen by the proxy"
: >"$T/proxy.log"

# ---- the DOM --------------------------------------------------------------------
chrome --dump-dom "file://$T/rep.html" >"$T/rep.dom"
like "$(head -c 200 "$T/rep.dom")" '<html' "chromium renders the report (--dump-dom)" ||
	diag "$(tail -n 5 "$T/chrome.err")"
OUT="$($CHECK dom "$T/rep.json" "$T/rep.dom" 2>&1)"
is "$?" 0 "the rendered DOM carries the JSON's figures; every chart has a title, a description and a table" ||
	diag "$OUT"
note "$OUT"
like "$(grep -c '<svg' "$T/rep.dom")" '^[5-9]$' "five charts or more"
like "$(cat "$T/rep.dom")" 'id="period">2026-01-01 to 2026-06-30' "the period in the header"
like "$(cat "$T/rep.dom")" '<dt>Node</dt><dd>State hub \(hub\)' "the node in the header"
like "$(cat "$T/rep.dom")" "<dd>$HID</dd>" "the network in the header"
like "$(cat "$T/rep.dom")" '<dt>Made</dt><dd>20[0-9-]{8} [0-9:]{5} CE(S)?T' "the time, local (Paris)"
# A wrong figure in the JSON makes the DOM check fail.
sed 's/"attendees": 10,/"attendees": 11,/' "$T/rep.json" >"$T/bad.json"
if $CHECK dom "$T/bad.json" "$T/rep.dom" >/dev/null 2>&1; then
	fail "the DOM check notices a wrong figure"
else
	pass "the DOM check notices a wrong figure"
fi

# ---- screenshot and PDF ---------------------------------------------------------
chrome --screenshot="$T/rep.png" --window-size=900,1400 --hide-scrollbars "file://$T/rep.html" >/dev/null
is "$(head -c 8 "$T/rep.png" | od -An -tx1 | tr -d ' \n')" 89504e470d0a1a0a "a PNG screenshot"
is "$($PY -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % struct.unpack(">II", d[16:24]))' "$T/rep.png")" \
	900x1400 "the screenshot's size"
like "$(wc -c <"$T/rep.png")" '^[0-9]{5,}$' "the screenshot is not blank (>= 10 kB)"

chrome --no-pdf-header-footer --print-to-pdf="$T/rep.pdf" "file://$T/rep.html" >/dev/null
PAGES="$(pdfinfo "$T/rep.pdf" | awk '/^Pages:/ { print $2 }')"
like "$PAGES" '^[2-5]$' "the statewide report prints on 2 to 5 A4 pages ($PAGES)"
like "$(pdfinfo "$T/rep.pdf" | grep '^Page size')" '59[45](\.[0-9]+)? x 841' "A4 pages"
pdftotext -layout "$T/rep.pdf" "$T/rep.txt"
[ -n "${REPORT_KEEP:-}" ] && cp "$T/rep.txt" "$T/rep.pdf" "$T/rep.png" "$REPORT_KEEP/"
TXT="$(<"$T/rep.txt")"
like "$TXT" 'Café report' "the PDF's text: the title"
like "$TXT" "Alpha FRC +0 +0 +1 +0 +0 +0 +1|Alpha FRC +1 +0 +1 +0 +0 +0 +2" "the PDF's text: Alpha's cafés per month"
TOTAL="$(jq -r '.activity.total.total.attendees' "$T/rep.json")"
like "$TXT" "All sites( +[0-9]+){6} +$TOTAL" "the PDF's text: the statewide attendees ($TOTAL), as in the JSON"
PCT="$(printf '%.1f' "$(jq -r '.feedback.total.questions.felt_safe.pct' "$T/rep.json")")"
like "$TXT" "felt safe sharing +$PCT%" "the PDF's text: the feedback share ($PCT%), as in the JSON"
like "$(pdftotext "$T/rep.pdf" - | tr -s ' \n' '  ')" 'step 6 \(mentoring hosts to design, evaluate and sustain\) is done while step 2' \
	"the PDF's text: the flagged step"

cafe_in "$H" report "${PERIOD[@]}" --format html --per-site -o "$T/per.html"
chrome --no-pdf-header-footer --print-to-pdf="$T/per.pdf" "file://$T/per.html" >/dev/null
PER="$(pdfinfo "$T/per.pdf" | awk '/^Pages:/ { print $2 }')"
is "$PER" "$((PAGES + 3))" "--per-site: a page for each of the three sites ($PER pages)"
for i in 1 2 3; do
	name="$(jq -r ".sites[$((i - 1))].name" "$T/rep.json")"
	first="$(pdftotext -f $((PAGES + i)) -l $((PAGES + i)) "$T/per.pdf" - | grep -m1 .)"
	is "$first" "Site: $name" "--per-site: page $((PAGES + i)) is $name's"
done

cafe_in "$H" report "${PERIOD[@]}" --format html --paper letter -o "$T/letter.html"
chrome --no-pdf-header-footer --print-to-pdf="$T/letter.pdf" "file://$T/letter.html" >/dev/null
like "$(pdfinfo "$T/letter.pdf" | grep '^Page size')" '612 x 792' "--paper letter: Letter pages"

# ---- a site's laptop says what it cannot see ------------------------------------
cafe_in "$A" report "${PERIOD[@]}" --format html -o "$T/site.html"
cafe_in "$A" report "${PERIOD[@]}" --format json -o "$T/site.json"
chrome --dump-dom "file://$T/site.html" >"$T/site.dom"
OUT="$($CHECK dom "$T/site.json" "$T/site.dom" 2>&1)"
is "$?" 0 "the site's report: DOM and JSON agree" || diag "$OUT"
like "$(cat "$T/site.dom")" 'Not visible from this node:</strong> Beta &lt;School&gt; &amp; Co, Cedar Ñandú Center' \
	"the site's report names the sites it cannot see"
unlike "$(grep -o '<table id="t-cafes".*' "$T/site.dom" | head -c 4000)" 'Cedar' \
	"and shows no row of zeros for them"

# ---- nothing left the pages -----------------------------------------------------
# Chromium's own update, clock and account checks go to Google's hosts
# whatever the page; they are not the page's and are left out.
sleep 0.5
is "$(grep -Ev '^[A-Z]+ (https?://)?[a-z0-9.-]*(google\.com|googleapis\.com|gstatic\.com)[:/]' "$T/proxy.log")" "" \
	"no request of any report page reached the network"

done_testing
