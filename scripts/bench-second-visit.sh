#!/usr/bin/env bash
# What hbt's vendored tokenizers (vendor/tokenizers: the Unigram trie's children in a sorted
# Vec) buys a returning visitor: the CPU-only app built twice — with the patch, and with
# crates.io's tokenizers 0.22.2 — on the same demo bundle, each reloaded from the Cache API
# several times in one headless Chromium; prints each build's median worker steps (model
# files read, tokenizer built, encoder built) and time to ready, as JSON lines.
#   scripts/build-web.sh first (the demo bundle in target/web-demo), then
#   scripts/bench-second-visit.sh [VISITS]
# Not part of CI: two wasm builds.
set -euo pipefail
cd "$(dirname "$0")/.."
VISITS=${1:-7}
OUT=${HBT_BENCH_OUT:-out/bench-second-visit}
[ -f target/web-demo/manifest.json ] || { echo "no demo bundle in target/web-demo (run scripts/build-web.sh)" >&2; exit 1; }
mkdir -p "$OUT"
export PATH="$PWD/target/binaryen/node_modules/.bin:$PATH"
build() { # DIST: the CPU-only app with the demo bundle
  trunk build --release --no-default-features --dist "$1" >"$OUT/trunk-$1.log" 2>&1
  [ -f "$1/demo/manifest.json" ] || { echo "trunk did not stage the demo bundle into $1" >&2; exit 1; }
}
build dist-cpu
# The same app with upstream tokenizers: the patch line taken out of the workspace manifest
# for this one build (Cargo.toml and Cargo.lock are restored however the build ends).
cp Cargo.toml "$OUT/Cargo.toml.orig"; cp Cargo.lock "$OUT/Cargo.lock.orig"
restore() { cp "$OUT/Cargo.toml.orig" Cargo.toml; cp "$OUT/Cargo.lock.orig" Cargo.lock; }
trap restore EXIT
sed -i '/^tokenizers = { path = "vendor\/tokenizers" }/d' Cargo.toml
cargo fetch >/dev/null   # crates.io's tokenizers (trunk builds offline)
build dist-cpu-upstream-tokenizers
restore
trap - EXIT
node tests/browser/second-visit.mjs --dist dist-cpu,dist-cpu-upstream-tokenizers --visits "$VISITS" | tee "$OUT/second-visit.jsonl"
