#!/usr/bin/env python3
"""reportcheck.py: checks that a form of `cafe report` carries the numbers
of its JSON form, cell for cell.

    reportcheck.py text REPORT.json REPORT.txt
    reportcheck.py csv  REPORT.json DIR          (DIR holds every NAME.csv)
    reportcheck.py dom  REPORT.json DOM.html     (chromium --dump-dom output)

Prints one line per mismatch and exits 1 when there is any; prints the
number of cells compared and exits 0 otherwise.  Used by tests/cli/report.t
and tests/cli/report_html.t.
"""
import csv
import json
import os
import sys
from html.parser import HTMLParser

errors = []
compared = 0


def same(what, got, want):
    """Compares one cell: numbers as numbers, null as "-" or ""."""
    global compared
    compared += 1
    if want is None:
        if got not in ("-", "", "–"):
            errors.append("%s: got %r, expected no value" % (what, got))
        return
    if isinstance(want, bool):
        want = "yes" if want else "no"
    if isinstance(want, (int, float)):
        g = str(got).strip().rstrip("%")
        try:
            ok = abs(float(g) - float(want)) < 1e-9
        except ValueError:
            ok = False
        if not ok:
            errors.append("%s: got %r, expected %r" % (what, got, want))
        return
    if str(got).strip() != str(want):
        errors.append("%s: got %r, expected %r" % (what, got, want))


MEASURES = ["cafes", "attendees", "new_attendees", "children_cared_for"]
TITLES = {
    "cafes": "Activity: cafés per month",
    "attendees": "Activity: attendees per month",
    "new_attendees": "Activity: new attendees per month",
    "children_cared_for": "Activity: children cared for per month",
}


def rows_and_total(t):
    return list(t["rows"]) + ([t["total"]] if "total" in t else [])


# ---- text --------------------------------------------------------------------

def text_section(lines, title):
    """Returns the row lines of the table under a heading."""
    i = lines.index(title)
    body = []
    for ln in lines[i + 3:]:
        if ln == "":
            break
        body.append(ln)
    return body


def check_text(rep, path):
    lines = open(path, encoding="utf-8").read().split("\n")
    act = rep["activity"]
    rows = rows_and_total(act)
    w = min(40, max([10] + [len(r["name"]) for r in act["rows"]]))
    for m in MEASURES:
        body = text_section(lines, TITLES[m])
        if len(body) != len(rows):
            errors.append("text %s: %d rows, expected %d" % (m, len(body),
                          len(rows)))
            continue
        for ln, r in zip(body, rows):
            same("text %s name" % m, ln[:w].rstrip(), r["name"])
            cells = ln[w:].split()
            want = [x[m] for x in r["months"]] + [r["total"][m]]
            if len(cells) != len(want):
                errors.append("text %s %s: %d cells, expected %d" %
                              (m, r["name"], len(cells), len(want)))
                continue
            for c, v in zip(cells, want):
                same("text %s %s" % (m, r["name"]), c, v)

    def table(title, key):
        t = rep[key]
        rs = rows_and_total(t)
        ww = min(40, max([10] + [len(r["name"]) for r in t["rows"]]))
        body = text_section(lines, title)
        if len(body) != len(rs):
            errors.append("text %s: %d rows, expected %d" % (key, len(body),
                          len(rs)))
            return []
        out = []
        for ln, r in zip(body, rs):
            same("text %s name" % key, ln[:ww].rstrip(), r["name"])
            out.append((ln[ww:], r))
        return out

    fa = rep["factors"]
    for rest, r in table("Protective factors: cafés centred on each",
                         "factors"):
        cells = rest.split()
        same("text factors cafes %s" % r["name"], cells[0], r["cafes"])
        for j, k in enumerate(fa["factors"]):
            same("text factors %s %s" % (k, r["name"]), cells[1 + j],
                 r["counts"][k])
        nc = " ".join(cells[6:])
        same("text factors not covered %s" % r["name"], nc,
             ", ".join(r["not_covered"]) or "none")
    for rest, r in table("Fidelity: cafés that held all eight elements",
                         "fidelity"):
        cells = rest.split()
        same("text fidelity cafes %s" % r["name"], cells[0], r["cafes"])
        same("text fidelity all8 %s" % r["name"], cells[1], r["all_eight"])
        same("text fidelity share %s" % r["name"], cells[2],
             r["all_eight_pct"])
        same("text fidelity over five %s" % r["name"], cells[3],
             r["over_five"])
        mm = ", ".join("%s (%d)" % (x["element"], x["cafes"])
                       for x in r["most_missed"]) or "none"
        same("text fidelity most missed %s" % r["name"],
             " ".join(cells[4:]), mm)
    fb = rep["feedback"]
    for rest, r in table("Feedback: share of responses (PFS-2 means, "
                         "weighted by responses)", "feedback"):
        cells = rest.split()
        same("text feedback forms %s" % r["name"], cells[0], r["forms"])
        same("text feedback responses %s" % r["name"], cells[1],
             r["responses"])
        for j, q in enumerate(fb["questions"]):
            same("text feedback %s %s" % (q, r["name"]), cells[2 + j],
                 r["questions"][q]["pct"])
        same("text feedback bar", cells[7], "|")
        for j, p in enumerate(fb["pfs_subscales"]):
            same("text feedback pfs %s %s" % (p, r["name"]), cells[8 + j],
                 r["pfs"][p]["mean"])
    tr = rep["trainings"]
    for rest, r in table("Trainings (trainings/participants) and hosts",
                         "trainings"):
        cells = rest.split()
        for j, k in enumerate(tr["kinds"]):
            n, p = cells[j].split("/")
            same("text trainings %s %s" % (k, r["name"]), n,
                 r["kinds"][k]["trainings"])
            same("text trainings %s participants %s" % (k, r["name"]), p,
                 r["kinds"][k]["participants"])
        n, p = cells[4].split("/")
        same("text trainings total %s" % r["name"], n, r["trainings"])
        same("text trainings participants %s" % r["name"], p,
             r["participants"])
        same("text trainings hosts %s" % r["name"], cells[5], r["hosts"])
        same("text trainings trained %s" % r["name"], cells[6],
             r["hosts_trained"])
    words = {"done": "done", "in_progress": "doing",
             "not_started": "not yet", "none": "-"}
    st = rep["steps"]
    i = lines.index("Implementation steps")
    start = i + 2 + len(st["steps"]) + 2
    ww = min(40, max([10] + [len(r["name"]) for r in st["rows"]]))
    for k, r in enumerate(st["rows"]):
        ln = lines[start + k]
        same("text steps name", ln[:ww].rstrip(), r["name"])
        rest = ln[ww:]
        for j, s in enumerate(r["steps"]):
            same("text step %d %s" % (j + 1, r["name"]),
                 rest[2 + 9 * j:9 + 9 * j].strip(), words[s["status"]])
        same("text steps reached %s" % r["name"],
             rest[2 + 9 * 6:].split()[0], r["reached"])


# ---- CSV ---------------------------------------------------------------------

def read_csv(d, name):
    with open(os.path.join(d, name + ".csv"), newline="",
              encoding="utf-8") as f:
        return list(csv.DictReader(f))


def check_csv(rep, d):
    act = rep["activity"]
    got = read_csv(d, "activity")
    want = []
    for r in rows_and_total(act):
        for x in r["months"] + [r["total"]]:
            want.append((r.get("id") or "", r["name"], x))
    if len(got) != len(want):
        errors.append("csv activity: %d rows, expected %d" % (len(got),
                      len(want)))
    for g, (i, n, x) in zip(got, want):
        same("csv activity site_id", g["site_id"], i)
        same("csv activity site", g["site"], n)
        same("csv activity month", g["month"], x["month"])
        for m in MEASURES:
            same("csv activity %s %s %s" % (m, n, x["month"]), g[m], x[m])

    def rows(name, key):
        t = rep[key]
        g = read_csv(d, name)
        rs = rows_and_total(t)
        if len(g) != len(rs):
            errors.append("csv %s: %d rows, expected %d" % (name, len(g),
                          len(rs)))
            return []
        for a, b in zip(g, rs):
            same("csv %s site" % name, a["site"], b["name"])
            same("csv %s site_id" % name, a["site_id"], b.get("id") or "")
        return list(zip(g, rs))

    fa = rep["factors"]
    for g, r in rows("factors", "factors"):
        same("csv factors cafes", g["cafes"], r["cafes"])
        for k in fa["factors"]:
            same("csv factors %s %s" % (k, r["name"]), g[k], r["counts"][k])
        same("csv not covered", g["not_covered"], " ".join(r["not_covered"]))
    fi = rep["fidelity"]
    for g, r in rows("fidelity", "fidelity"):
        for k in ("cafes", "all_eight", "all_eight_pct", "over_five",
                  "no_checklist"):
            same("csv fidelity %s %s" % (k, r["name"]), g[k], r[k])
        for e in fi["elements"]:
            same("csv fidelity missed %s %s" % (e, r["name"]),
                 g["missed_" + e], r["missed"][e])
    fb = rep["feedback"]
    for g, r in rows("feedback", "feedback"):
        same("csv feedback forms", g["forms"], r["forms"])
        same("csv feedback responses", g["responses"], r["responses"])
        for q in fb["questions"]:
            same("csv feedback %s %s" % (q, r["name"]), g[q],
                 r["questions"][q]["yes"])
            same("csv feedback %s_of %s" % (q, r["name"]), g[q + "_of"],
                 r["questions"][q]["of"])
            same("csv feedback %s_pct %s" % (q, r["name"]), g[q + "_pct"],
                 r["questions"][q]["pct"])
        for p in fb["pfs_subscales"]:
            same("csv pfs %s %s" % (p, r["name"]), g["pfs_%s_mean" % p],
                 r["pfs"][p]["mean"])
            same("csv pfs %s responses %s" % (p, r["name"]),
                 g["pfs_%s_responses" % p], r["pfs"][p]["responses"])
    tr = rep["trainings"]
    for g, r in rows("trainings", "trainings"):
        for k in tr["kinds"]:
            same("csv trainings %s" % k, g[k], r["kinds"][k]["trainings"])
            same("csv trainings %s participants" % k,
                 g[k + "_participants"], r["kinds"][k]["participants"])
        for k in ("trainings", "participants", "hosts", "hosts_trained"):
            same("csv trainings %s %s" % (k, r["name"]), g[k], r[k])
    for g, r in rows("steps", "steps"):
        for s in r["steps"]:
            same("csv step %d %s" % (s["step"], r["name"]),
                 g["step%d" % s["step"]], s["status"])
        same("csv reached %s" % r["name"], g["reached"], r["reached"])
        same("csv flags %s" % r["name"], g["flags"],
             "; ".join(x["text"] for x in r["flags"]))
    at = rep["attention"]
    for name, arr, keys in (
            ("quiet", at["quiet"], ("id", "name", "last_cafe", "days")),
            ("actions", at["actions"], ("id", "site", "title", "status",
                                        "due", "overdue", "days_overdue")),
            ("not_visible", rep["not_visible"], ("id", "name"))):
        g = read_csv(d, name)
        if len(g) != len(arr):
            errors.append("csv %s: %d rows, expected %d" % (name, len(g),
                          len(arr)))
            continue
        for a, b in zip(g, arr):
            for k in keys:
                same("csv %s %s" % (name, k), a[k], b[k])


# ---- DOM -----------------------------------------------------------------------

class Dom(HTMLParser):
    """Gathers tables (id -> rows of cell texts) and charts."""

    def __init__(self):
        super().__init__()
        self.tables = {}
        self.svgs = []
        self.cur = None
        self.row = None
        self.cell = None
        self.svg = None
        self.in_title = self.in_desc = False
        self.tags = []
        self.scripts = 0
        self.external = []
        self.in_summary = False
        self.in_b = False
        self.summary = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            if k in a:
                self.external.append("%s %s=%s" % (tag, k, a[k]))
        if tag == "ul" and a.get("id") == "summary":
            self.in_summary = True
        elif tag == "b" and self.in_summary:
            self.in_b = True
            self.summary.append("")
        if tag == "table":
            self.cur = a.get("id", "")
            self.tables[self.cur] = []
        elif tag == "tr" and self.cur is not None:
            self.row = []
        elif tag in ("td", "th") and self.row is not None:
            self.cell = ""
        elif tag == "svg":
            self.svg = {"id": a.get("id"), "role": a.get("role"),
                        "labelledby": a.get("aria-labelledby"),
                        "table": a.get("data-table"), "title": "",
                        "desc": ""}
        elif tag == "title" and self.svg is not None:
            self.in_title = True
        elif tag == "desc" and self.svg is not None:
            self.in_desc = True

    def handle_endtag(self, tag):
        if tag == "ul":
            self.in_summary = False
        elif tag == "b":
            self.in_b = False
        if tag in ("td", "th") and self.cell is not None:
            self.row.append(self.cell.strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.cur].append(self.row)
            self.row = None
        elif tag == "table":
            self.cur = None
        elif tag == "svg" and self.svg is not None:
            self.svgs.append(self.svg)
            self.svg = None
        elif tag == "title":
            self.in_title = False
        elif tag == "desc":
            self.in_desc = False

    def handle_data(self, data):
        if self.in_b:
            self.summary[-1] += data
        if self.cell is not None:
            self.cell += data
        if self.svg is not None and self.in_title:
            self.svg["title"] += data
        if self.svg is not None and self.in_desc:
            self.svg["desc"] += data


def check_dom(rep, path):
    d = Dom()
    d.feed(open(path, encoding="utf-8").read())
    if d.scripts:
        errors.append("dom: %d script elements" % d.scripts)
    for e in d.external:
        errors.append("dom: a reference to another resource: %s" % e)
    if len(d.svgs) < 5:
        errors.append("dom: %d charts, expected at least 5" % len(d.svgs))
    for s in d.svgs:
        if s["role"] != "img" or not s["title"].strip() or \
                not s["desc"].strip() or not s["labelledby"]:
            errors.append("dom: chart %s has no text alternative" % s["id"])
        if not s["table"] or s["table"] not in d.tables or \
                len(d.tables[s["table"]]) < 2:
            errors.append("dom: chart %s has no data table" % s["id"])
    act = rep["activity"]
    t = act["total"]["total"]
    want = [t["cafes"], t["attendees"], t["new_attendees"],
            t["children_cared_for"], rep["fidelity"]["total"]["all_eight_pct"],
            rep["feedback"]["total"]["responses"],
            len(rep["attention"]["quiet"]),
            len([x for x in rep["attention"]["actions"] if x["overdue"]])]
    if len(d.summary) != len(want):
        errors.append("dom summary: %d figures, expected %d" %
                      (len(d.summary), len(want)))
    for g, w in zip(d.summary, want):
        same("dom summary", g, w)
    for m, tid in zip(MEASURES, ("t-cafes", "t-attendees", "t-new",
                                 "t-children")):
        rows = d.tables.get(tid, [])[1:]
        want = rows_and_total(act)
        if len(rows) != len(want):
            errors.append("dom %s: %d rows, expected %d" % (tid, len(rows),
                          len(want)))
            continue
        for g, r in zip(rows, want):
            same("dom %s name" % tid, g[0], r["name"])
            vals = [x[m] for x in r["months"]] + [r["total"][m]]
            for c, v in zip(g[1:], vals):
                same("dom %s %s" % (tid, r["name"]), c, v)
    att = d.tables.get("t-attendance", [])[1:]
    tot = act["total"]
    for g, x in zip(att, tot["months"] + [tot["total"]]):
        same("dom attendance month", g[0], x["month"])
        for c, m in zip(g[1:], MEASURES):
            same("dom attendance %s %s" % (m, x["month"]), c, x[m])

    def rows(tid, key):
        g = d.tables.get(tid, [])[1:]
        rs = rows_and_total(rep[key]) if key != "steps" else \
            rep[key]["rows"]
        if len(g) != len(rs):
            errors.append("dom %s: %d rows, expected %d" % (tid, len(g),
                          len(rs)))
            return []
        for a, b in zip(g, rs):
            same("dom %s name" % tid, a[0], b["name"])
        return list(zip(g, rs))

    fa = rep["factors"]
    for g, r in rows("t-factors", "factors"):
        same("dom factors cafes", g[1], r["cafes"])
        for j, k in enumerate(fa["factors"]):
            same("dom factors %s %s" % (k, r["name"]), g[2 + j],
                 r["counts"][k])
    for g, r in rows("t-fidelity", "fidelity"):
        same("dom fidelity cafes %s" % r["name"], g[1], r["cafes"])
        same("dom fidelity all8 %s" % r["name"], g[2], r["all_eight"])
        same("dom fidelity share %s" % r["name"], g[3], r["all_eight_pct"])
        same("dom fidelity over five %s" % r["name"], g[4], r["over_five"])
    fb = rep["feedback"]
    for g, r in rows("t-feedback", "feedback"):
        same("dom feedback forms", g[1], r["forms"])
        same("dom feedback responses", g[2], r["responses"])
        for j, q in enumerate(fb["questions"]):
            same("dom feedback %s %s" % (q, r["name"]), g[3 + j],
                 r["questions"][q]["pct"])
    for g, r in rows("t-feedback-pfs", "feedback"):
        for j, p in enumerate(fb["pfs_subscales"]):
            same("dom pfs %s %s" % (p, r["name"]), g[1 + 2 * j],
                 r["pfs"][p]["mean"])
            same("dom pfs responses %s %s" % (p, r["name"]), g[2 + 2 * j],
                 r["pfs"][p]["responses"])
    tr = rep["trainings"]
    for g, r in rows("t-trainings", "trainings"):
        for j, k in enumerate(tr["kinds"]):
            same("dom trainings %s" % k, g[1 + 2 * j],
                 r["kinds"][k]["trainings"])
            same("dom trainings %s participants" % k, g[2 + 2 * j],
                 r["kinds"][k]["participants"])
        same("dom hosts %s" % r["name"], g[9], r["hosts"])
        same("dom hosts trained %s" % r["name"], g[10], r["hosts_trained"])
    labels = {"done": "done", "in_progress": "in progress",
              "not_started": "not started", "none": "not recorded"}
    for g, r in rows("t-steps", "steps"):
        for j, s in enumerate(r["steps"]):
            same("dom step %d %s" % (j + 1, r["name"]), g[1 + j],
                 labels[s["status"]])
        same("dom reached %s" % r["name"], g[7], r["reached"])


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("text", "csv", "dom"):
        sys.stderr.write(__doc__)
        return 2
    rep = json.load(open(sys.argv[2], encoding="utf-8"))
    {"text": check_text, "csv": check_csv, "dom": check_dom}[sys.argv[1]](
        rep, sys.argv[3])
    for e in errors[:40]:
        print(e)
    if errors:
        print("%d mismatches of %d cells" % (len(errors), compared))
        return 1
    print("%d cells agree" % compared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
