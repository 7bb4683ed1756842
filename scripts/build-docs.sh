#!/usr/bin/env bash
# hbt's own docs (README.md and docs/*.md) as an mdBook site with the hbt search box:
#   scripts/build-docs.sh [OUT]        (default out/hbt-docs; then serve OUT, open /docs/)
# Writes a SUMMARY.md over the pages into a scratch src/ (links to the real files), then
# scripts/mdbook-site.sh builds the book, exports its docs bundle and copies the app (dist/,
# from scripts/build-web.sh, with dist-cpu/'s engine from HBT_WEB_CPU_ONLY=1 build-web.sh)
# beside it. Needs mdbook and an hbt binary (HBT).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/hbt-docs}
src=target/hbt-docs-book/src
rm -rf target/hbt-docs-book; mkdir -p "$src"
ln -s "$PWD/README.md" "$src/README.md"
{
  echo "# Summary"; echo
  echo "[hbt](README.md)"; echo
  for f in docs/*.md; do
    ln -s "$PWD/$f" "$src/$(basename "$f")"
    title=$(sed -n 's/^# \(.*\)/\1/p' "$f" | head -1)
    echo "- [${title:-$(basename "$f" .md)}]($(basename "$f"))"
  done
} > "$src/SUMMARY.md"
printf '[book]\ntitle = "hbt"\n' > target/hbt-docs-book/book.toml
scripts/mdbook-site.sh target/hbt-docs-book "$OUT" docs
