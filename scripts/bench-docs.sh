#!/usr/bin/env bash
# hbt's docs widget beside Pagefind on the Rust book (../shared/data/docs/rust-book), in one
# Chromium run on this machine: top-1 / top-5 page hits of bench/rust-book-questions.jsonl
# (52 questions, 11 languages, written before any run), bytes before the first answer and
# time to it. Results: docs/results/docs-widget-DATE/ (raw.jsonl, table.md).
#   HBT=target/release/hbt scripts/bench-docs.sh
# Needs mdbook, the web app in dist/ and its CPU-only build in dist-cpu/ (scripts/build-web.sh,
# then HBT_WEB_CPU_ONLY=1 scripts/build-web.sh: the widget's engine) and npm (Pagefind from npm).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
SITE=out/docs-site
OUT=docs/results/docs-widget-$(date +%Y-%m-%d)
scripts/mdbook-site.sh "$HBT_SHARED/data/docs/rust-book" "$SITE" book
[ -x target/pagefind/node_modules/.bin/pagefind ] || npm install --prefix target/pagefind --no-save --no-audit --no-fund --silent pagefind@1
# The chapters only, as hbt indexes them (print.html repeats every chapter on one page).
target/pagefind/node_modules/.bin/pagefind --site "$SITE/book" --glob "{ch,appendix,foreword,title-page}*.html" --output-path "$SITE/book/pagefind" | tail -3
(cd tests/browser && [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --silent)
{ lscpu | sed -n 's/^Model name: *//p' | head -1 | sed "s/^/cpu: /;s/\$/, $(nproc) cores/"
  ${CHROMIUM:-chromium} --version 2>/dev/null; echo "pagefind $(target/pagefind/node_modules/.bin/pagefind --version)"
  mdbook --version; } > /tmp/bench-docs-cpu.txt
node tests/browser/docs-bench.mjs --site "$SITE" --questions bench/rust-book-questions.jsonl --out "$OUT"
cp /tmp/bench-docs-cpu.txt "$OUT/machine.txt"
echo "bench-docs.sh: $OUT"
