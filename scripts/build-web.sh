#!/usr/bin/env bash
# Export the demo bundle into target/web-demo, then build the web app (trunk, release) into
# dist/; trunk's post_build hook (scripts/trunk-stage-demo.sh) copies the bundle into every
# build as dist/demo, so a later `trunk build` or `trunk serve` keeps it. The bundle:
# multilingual-e5-small (the fixture) on all of XQuAD-R in six languages and scripts (1,190
# questions and ~1,220 passages a language, so the bias view ranks a real pool), plus the
# first 20 questions of XQuAD-R's five other languages (el, hi, th, tr, vi: questions in
# scripts the passages lack, answers known), int8 weights, the eval report of the same pool
# for the app's charts, passage vectors in int8 (HBT_DEMO_VECTORS=f16: twice the bytes), and the vocabulary on demand: every one of the model's 250,037 word
# rows in a file the browser reads a few rows at a time (HBT_DEMO_VOCAB=pruned: the older
# offline bundle, pruned to the six languages' 100,000 most frequent words).
# HBT_DEMO_LIMIT=40 keeps the first 40 questions per language (a small demo).
#   HBT=path/to/hbt  HBT_E5_DIR=model  HBT_XQUAD_R=data  scripts/build-web.sh
# HBT_WEB_CPU_ONLY=1 builds the app without its WebGPU backend into dist-cpu/ instead (4.6 MB
# of wasm rather than 17: the CPU fallback alone); HBT_WEB_REUSE_DEMO=1 keeps the bundle
# already in target/web-demo rather than exporting it again.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp() { echo "build-web.sh [$(date +%T)] $*"; }
HBT=${HBT:-target/debug/hbt}
. scripts/env.sh
E5=$HBT_E5_DIR
DATA=$HBT_XQUAD_R
LANGS=${HBT_DEMO_LANGS:-de,en,es,ar,ru,zh}
limit=()
[ -n "${HBT_DEMO_LIMIT:-}" ] && limit=(--limit "$HBT_DEMO_LIMIT")
[ -x "$HBT" ] || { echo "no hbt binary at $HBT (cargo build, or set HBT)" >&2; exit 1; }

# trunk runs cargo offline; the wasm-only crates are not fetched by the native build.
cargo fetch --locked
if [ -n "${HBT_WEB_REUSE_DEMO:-}" ] && [ -f target/web-demo/manifest.json ]; then
  echo "build-web.sh: reusing the demo bundle in target/web-demo"
else
  stamp "eval for the demo report"
  "$HBT" eval --model "$E5" --bench xquad-r --data "$DATA" --languages "$LANGS" "${limit[@]}" \
    --out out/demo-eval --force >/dev/null
  # On demand (the default): the whole vocabulary, read as queries need it. Pruned: the
  # bundle's texts plus every piece the served languages' 100,000 most frequent words need
  # (wordfreq); HBT_DEMO_WORDS=0 prunes to the bundle's texts alone.
  VOCAB=${HBT_DEMO_VOCAB:-on-demand}
  WORDS=${HBT_DEMO_WORDS:-100000}
  vocab=(--vocab "$VOCAB")
  if [ "$VOCAB" = pruned ] && [ "$WORDS" -gt 0 ]; then
    python3 -c 'import wordfreq' 2>/dev/null || {
      echo "build-web.sh: the demo's word lists need PyPI's wordfreq (python3 -m pip install wordfreq), or HBT_DEMO_WORDS=0" >&2
      exit 1
    }
    python3 scripts/wordlists.py --top "$WORDS" --out target/web-demo-words ${LANGS//,/ }
    vocab+=(--vocab-words target/web-demo-words/*.txt)
  fi
  stamp "export"
  "$HBT" export --model "$E5" --corpus "$DATA" --languages "$LANGS" "${limit[@]}" "${vocab[@]}" \
    --question-languages "${HBT_DEMO_QUESTION_LANGS:-el,hi,th,tr,vi}" \
    --dtype "${HBT_DEMO_DTYPE:-q8}" --vectors "${HBT_DEMO_VECTORS:-q8}" --report out/demo-eval/report.json --force --out target/web-demo
fi
# wasm-opt for trunk's release build: binaryen 132 from npm (Trunk.toml says why not Debian's).
if [ ! -x target/binaryen/node_modules/.bin/wasm-opt ]; then
  npm install --prefix target/binaryen --no-save --no-audit --no-fund --silent binaryen@132
fi
export PATH="$PWD/target/binaryen/node_modules/.bin:$PATH"
DIST=dist
build=(--release)
if [ -n "${HBT_WEB_CPU_ONLY:-}" ]; then
  DIST=dist-cpu
  build+=(--no-default-features --dist "$DIST")
fi
stamp "trunk build ${build[*]}"
trunk build "${build[@]}"
stamp "trunk done"
[ -f "$DIST/demo/manifest.json" ] || { echo "trunk's hook did not stage the demo bundle into $DIST/demo" >&2; exit 1; }
wasm=$(ls "$DIST"/*.wasm)
echo "web app: $(du -b "$wasm" | cut -f1) bytes of wasm ($(gzip -c "$wasm" | wc -c) gzipped); $DIST/ $(du -sb "$DIST" | cut -f1) bytes with the demo bundle"
