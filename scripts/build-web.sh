#!/usr/bin/env bash
# Export the demo bundle into target/web-demo, then build the web app (trunk, release) into
# dist/; trunk's post_build hook (scripts/trunk-stage-demo.sh) copies the bundle into every
# build as dist/demo, so a later `trunk build` or `trunk serve` keeps it. The bundle:
# multilingual-e5-small (the fixture) on the first XQuAD-R questions in six languages and
# scripts, vocabulary pruned, with a small eval report for the app's charts.
#   HBT=path/to/hbt  HBT_E5_DIR=model  HBT_XQUAD_R=data  scripts/build-web.sh
set -euo pipefail
cd "$(dirname "$0")/.."
HBT=${HBT:-target/debug/hbt}
E5=${HBT_E5_DIR:-$HOME/.cache/hbt-fixtures/multilingual-e5-small}
DATA=${HBT_XQUAD_R:-../shared/data/xquad-r}
LANGS=${HBT_DEMO_LANGS:-de,en,es,ar,ru,zh}
[ -x "$HBT" ] || { echo "no hbt binary at $HBT (cargo build, or set HBT)" >&2; exit 1; }

# trunk runs cargo offline; the wasm-only crates are not fetched by the native build.
cargo fetch --locked
"$HBT" eval --model "$E5" --bench xquad-r --data "$DATA" --languages "$LANGS" --limit 40 \
  --out out/demo-eval --force >/dev/null
"$HBT" export --model "$E5" --corpus "$DATA" --languages "$LANGS" --limit 40 --prune-vocab \
  --report out/demo-eval/report.json --force --out target/web-demo
trunk build --release
[ -f dist/demo/manifest.json ] || { echo "trunk's hook did not stage the demo bundle into dist/demo" >&2; exit 1; }
wasm=$(ls dist/*.wasm)
echo "web app: $(du -b "$wasm" | cut -f1) bytes of wasm ($(gzip -c "$wasm" | wc -c) gzipped); dist/ $(du -sb dist | cut -f1) bytes with the demo bundle"
