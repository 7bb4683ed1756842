#!/usr/bin/env python3
"""List functions over --fn-lines and files over --file-lines in crates/*/src, and whether a
sentence says why (a comment containing "long:" in the 3 lines above a function, or in a
file's first 15 lines). Exit 1 when one lacks it: the test command runs this."""
import argparse, glob, re, sys

ap = argparse.ArgumentParser()
ap.add_argument("--fn-lines", type=int, default=100)
ap.add_argument("--file-lines", type=int, default=500)
a = ap.parse_args()
bad = 0
fn_re = re.compile(r"^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")
for path in sorted(glob.glob("crates/*/src/**/*.rs", recursive=True)):
    lines = open(path, encoding="utf-8").read().split("\n")
    if len(lines) > a.file_lines:
        ok = any("long:" in l for l in lines[:15])
        print(f"{'ok ' if ok else 'BAD'} file {path}: {len(lines)} lines")
        bad += not ok
    i = 0
    while i < len(lines):
        m = fn_re.match(lines[i])
        if not m:
            i += 1
            continue
        # find the opening brace, then match braces (strings/chars rarely unbalance these files)
        j, depth, opened = i, 0, False
        while j < len(lines):
            code = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j].split("//")[0])
            code = re.sub(r"'(\\.|[^'\\])'", "''", code)
            depth += code.count("{") - code.count("}")
            if "{" in code:
                opened = True
            if opened and depth <= 0:
                break
            if not opened and code.rstrip().endswith(";"):
                break
            j += 1
        n = j - i + 1
        if opened and n > a.fn_lines:
            ok = any("long:" in l for l in lines[max(0, i - 4):i])
            print(f"{'ok ' if ok else 'BAD'} fn {path}:{i+1} {m.group(5)}: {n} lines")
            bad += not ok
        i = i + 1 if not opened else i + 1
sys.exit(1 if bad else 0)
