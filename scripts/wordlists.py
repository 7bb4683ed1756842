#!/usr/bin/env python3
"""Write each language's most frequent words (PyPI's `wordfreq`) as one-word-a-line lists
for `hbt export --prune-vocab --vocab-words DIR/*.txt`.

usage: scripts/wordlists.py --top N --out DIR LANG [LANG ...]
needs: pip install wordfreq (build time only; the lists are plain text afterwards)
"""
import argparse
import os
import sys

try:
    import wordfreq
except ImportError:
    sys.exit("wordlists.py: needs PyPI's wordfreq (python3 -m pip install wordfreq)")

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--top", type=int, required=True, help="words per language, most frequent first")
ap.add_argument("--out", required=True)
ap.add_argument("langs", nargs="+")
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)
for lang in a.langs:
    try:
        words = wordfreq.top_n_list(lang, a.top)
    except LookupError as e:
        sys.exit(f"wordlists.py: {lang}: {e} (wordfreq has no list for it)")
    path = os.path.join(a.out, f"{lang}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(words) + "\n")
    print(f"{path}: {len(words)} words", file=sys.stderr)
