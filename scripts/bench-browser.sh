#!/usr/bin/env bash
# hbt's browser encoder beside ONNX Runtime Web (npm onnxruntime-web, wasm) in one headless
# Chromium run (and transformers.js, which runs ONNX Runtime Web too): the same 32-token query (the first MLQA-R question of that length, so
# neither side pads), fp32 and int8 ONNX exports of the same model, 1 and 2 threads, median
# after 20 warm-ups, and the bytes each side loads. Writes out/bench-browser/bench-browser.md
# (a table) and .json (every time).
#   scripts/build-web.sh first (the app and its demo bundle in dist/), then
#   scripts/bench-browser.sh
# Needs PyTorch for the ONNX export (`pip install torch transformers onnxruntime onnx
# onnxscript`, ~3 GB) and npm for onnxruntime-web: a benchmark, never part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
DIST=${HBT_DIST:-dist}
OUT=${HBT_BENCH_OUT:-out/bench-browser}
ORT_WEB=${ORT_WEB_VERSION:-1.30.0}
[ -f "$DIST/demo/manifest.json" ] || { echo "bench-browser.sh: no app with a demo bundle in $DIST (run scripts/build-web.sh)" >&2; exit 1; }
python3 -c 'import torch, transformers, onnxruntime, onnx' 2>/dev/null || {
  echo "bench-browser.sh: the ONNX export needs pip install torch transformers onnxruntime onnx onnxscript" >&2
  exit 1
}
mkdir -p "$OUT"
python3 scripts/bench_peers.py query "$MODEL" "$OUT/query.json" --data "$SHARED/data/mlqa-r" \
  --lang de,en,es,ar,zh --tokens 32 --onnx-dir "$OUT/onnx"
if [ ! -f "$OUT/npm/node_modules/onnxruntime-web/package.json" ] ||
   [ "$(node -p "require('./$OUT/npm/node_modules/onnxruntime-web/package.json').version")" != "$ORT_WEB" ]; then
  npm install --prefix "$OUT/npm" --no-save --no-audit --no-fund "onnxruntime-web@$ORT_WEB"
fi
# transformers.js beside them (scripts skipped: its onnxruntime-node postinstall downloads
# from nuget), reading the same int8 export from a folder laid out as it expects.
TJS_VERSION=${TJS_VERSION:-4.3.2}
TJS=$OUT/tjs/node_modules/@huggingface/transformers
if [ ! -f "$TJS/package.json" ] || [ "$(node -p "require('./$TJS/package.json').version")" != "$TJS_VERSION" ]; then
  npm install --prefix "$OUT/tjs" --no-save --no-audit --no-fund --ignore-scripts "@huggingface/transformers@$TJS_VERSION"
fi
TJS_ORT=$TJS/node_modules/onnxruntime-web/dist
[ -d "$TJS_ORT" ] || TJS_ORT=$OUT/tjs/node_modules/onnxruntime-web/dist
mkdir -p "$OUT/tjs-models/e5/onnx"
for f in config.json tokenizer.json tokenizer_config.json; do cp "$MODEL/$f" "$OUT/tjs-models/e5/$f"; done
cp "$OUT/onnx/model-int8.onnx" "$OUT/tjs-models/e5/onnx/model_quantized.onnx"
[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund)
node tests/browser/bench.mjs --dist "$DIST" --ort "$OUT/npm/node_modules/onnxruntime-web/dist" \
  --tjs "$TJS/dist" --tjs-ort "$TJS_ORT" --tjs-models "$OUT/tjs-models" \
  --query "$OUT/query.json" --out "$OUT" --warmups "${HBT_BENCH_WARMUPS:-20}" --runs "${HBT_BENCH_RUNS:-20}"
