#!/usr/bin/env python3
"""Top-1 / top-5 page hits of `hbt search` on a docs bundle for a questions file.

    python3 scripts/docs-hits.py HBT BUNDLE QUESTIONS.jsonl [--code-label LABEL]

Each question line: {"lang", "q", "page"} (the page file that answers it). A page's sections
count once. The top 5 are the five results the widget shows (sections; a page counts once). Prints one JSON line per question, then a summary line: English questions and
questions in other languages apart, as the issue's targets are.
"""
import json, subprocess, sys
from collections import defaultdict

hbt, bundle, qfile = sys.argv[1:4]
qs = [json.loads(l) for l in open(qfile, encoding="utf-8") if l.strip()]
out = subprocess.run([hbt, "search", "--bundle", bundle, "--backend", "cpu", "-k", "5"] + [q["q"] for q in qs],
                     capture_output=True, text=True, check=True).stdout
hits = defaultdict(list)
for line in out.splitlines():
    h = json.loads(line)
    hits[h.get("query", qs[0]["q"])].append(h)
rows = []
for q in qs:
    pages = []
    for h in hits[q["q"]]:
        p = h["url"].split("#")[0].rsplit("/", 1)[-1]
        if p not in pages:
            pages.append(p)
    r = {"lang": q["lang"], "q": q["q"], "expected": q["page"], "top1": pages[:1] == [q["page"]], "top5": q["page"] in pages[:5], "pages": pages[:5]}
    rows.append(r)
    print(json.dumps(r, ensure_ascii=False))
def rate(f):
    xs = [r for r in rows if f(r)]
    return {"n": len(xs), "top1": sum(r["top1"] for r in xs), "top5": sum(r["top5"] for r in xs)}
print(json.dumps({"english": rate(lambda r: r["lang"] == "en"), "other": rate(lambda r: r["lang"] != "en")}))
