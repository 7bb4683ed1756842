#!/usr/bin/env bash
# Build an mdBook with the hbt search box in its menu bar, and its docs bundle:
#   scripts/mdbook-site.sh BOOK OUT [BASE]
# BOOK: an mdBook (book.toml + src/, or a src/ with SUMMARY.md); OUT: the site root to
# write (OUT/BASE the book, OUT/hbt-bundles/BASE its bundle — outside the book, so that a
# rebuild keeps it and the next export re-embeds only changed sections — and OUT/hbt-app
# the app from dist/ when there is one, with the CPU-only build's engine from dist-cpu/ in
# OUT/hbt-app/cpu); BASE: the path the book is served at (default book).
# The book is built from a scratch folder with its own book.toml, which only adds the
# widget (additional-js, additional-css): BOOK is read, never written. Needs mdbook, an
# hbt binary (HBT, default target/release/hbt) and a model (HBT_MODEL, default the e5
# fixture). Extra `hbt export` flags go in HBT_EXPORT_FLAGS (e.g. --code keep).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
BOOK=$(cd "$1" && pwd); OUT=$2; BASE=${3:-book}
HBT=${HBT:-target/release/hbt}
command -v mdbook >/dev/null || { echo "mdbook-site.sh: needs mdbook (cargo install mdbook)" >&2; exit 1; }
[ -x "$HBT" ] || { echo "mdbook-site.sh: no hbt binary at $HBT" >&2; exit 1; }
mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
if [ -f "$BOOK/SUMMARY.md" ]; then SRC=$BOOK; ROOT=$(dirname "$BOOK"); else SRC=$BOOK/src; ROOT=$BOOK; fi
title=$(sed -n 's/^title *= *"\(.*\)"/\1/p' "$ROOT/book.toml" 2>/dev/null | head -1)
scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
ln -s "$SRC" "$scratch/src"
# Listings and other folders the chapters include from (`{{#include ../listings/…}}`).
for d in "$ROOT"/*/; do
  n=$(basename "$d"); [ "$n" = src ] || [ "$n" = book ] || ln -s "$d" "$scratch/$n"
done
mkdir -p "$scratch/hbt"
cp web/widget.js web/mdbook/hbt-search.css "$scratch/hbt/"
cat > "$scratch/hbt/hbt-config.js" <<JS
window.hbtSearch = { src: "/hbt-bundles/$BASE/", app: "/hbt-app/", mount: "#mdbook-menu-bar .right-buttons", position: "prepend" };
JS
cat > "$scratch/book.toml" <<TOML
[book]
title = "${title:-Documentation}"
[output.html]
additional-js = ["hbt/hbt-config.js", "hbt/widget.js"]
additional-css = ["hbt/hbt-search.css"]
TOML
rm -rf "$OUT/$BASE"
mdbook build "$scratch" -d "$OUT/$BASE" 2>&1 | grep -v ' INFO ' || true
[ -f "$OUT/$BASE/index.html" ] || { echo "mdbook-site.sh: mdbook wrote no index.html" >&2; exit 1; }
"$HBT" export --model "$HBT_MODEL" --docs "$ROOT" --base-url "/$BASE/" ${HBT_EXPORT_FLAGS:-} --out "$OUT/hbt-bundles/$BASE"
if [ -d dist ] && [ -f dist/index.html ]; then
  rm -rf "$OUT/hbt-app"; cp -r dist "$OUT/hbt-app"; rm -rf "$OUT/hbt-app/demo"
  # The widget's default engine: the CPU-only build (HBT_WEB_CPU_ONLY=1 scripts/build-web.sh),
  # its module and engine-worker.js in the app's cpu/ folder (web/widget.js says why).
  if [ -f dist-cpu/engine-worker.js ]; then
    mkdir -p "$OUT/hbt-app/cpu"
    cp dist-cpu/engine-worker.js dist-cpu/hbt-web-*.js dist-cpu/hbt-web-*_bg.wasm "$OUT/hbt-app/cpu/"
  else
    echo "mdbook-site.sh: no dist-cpu/ (HBT_WEB_CPU_ONLY=1 scripts/build-web.sh): the widget will start the full app" >&2
  fi
fi
echo "mdbook-site.sh: $OUT/$BASE (serve $OUT at / and open /$BASE/)"
