#!/usr/bin/env bash
# The test command: unit and integration tests of every native crate (CPU, and wgpu on
# whatever adapter the machine has: Mesa lavapipe without a GPU), the metric cross-check
# against pytrec_eval and scikit-learn, the web app's release build with trunk plus the demo
# bundle from `hbt export`, and the end-to-end browser test in headless Chromium. The CLI's
# tests include data-parallel training under mpirun; tests/two-nodes.sh runs it across two
# network namespaces (root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
T0=${CI_T0:-$(date +%s)}
phase() { echo "== [$(( ($(date +%s) - T0) / 60 )) min $(( ($(date +%s) - T0) % 60 )) s] $*"; }
# hbt-web is wasm-only; it is built by trunk below. The release profile: Burn's kernels
# dominate the tests' time, they are optimised in either profile, and a developer's
# `cargo build --release` (the binary the README and benchmarks use) shares its build.
# Bounded autotuning on whatever wgpu adapter there is (lavapipe in CI).
export CUBECL_AUTOTUNE_LEVEL=${CUBECL_AUTOTUNE_LEVEL:-minimal}
phase "format and lints"
cargo fmt --all --check
cargo clippy --workspace --exclude hbt-web --all-targets --features hbt-model/wgpu,hbt-device/wgpu -- -D warnings
cargo clippy -p hbt-web --target wasm32-unknown-unknown -- -D warnings
# No function over ~100 lines or file over ~500 in crates/*/src without a sentence saying why.
python3 scripts/long-code.py
# The docs reader's anchors are checked against mdBook's own output: CI has mdbook.
export HBT_REQUIRE_MDBOOK=1
phase "native tests"
cargo test --release --workspace --exclude hbt-web --features hbt-model/wgpu,hbt-device/wgpu
# target/release/hbt was built by the test run (for the CLI's integration tests).
HBT="${CARGO_TARGET_DIR:-target}/release/hbt"
phase "two nodes (mpirun --hostfile over two network namespaces)"
tests/two-nodes.sh "$HBT" out/two-nodes
phase "metric cross-check"
python3 tests/crosscheck_metrics.py "$HBT"
phase "web build (default)"
# HBT_DEMO_BUNDLE_CACHE (set by .ci/run): the demo bundle an earlier run exported with the
# same code and data; reused as it is, or exported here and kept for the next run.
reuse=()
if [ -n "${HBT_DEMO_BUNDLE_CACHE:-}" ] && [ -f "$HBT_DEMO_BUNDLE_CACHE/manifest.json" ]; then
  rm -rf target/web-demo && mkdir -p target && cp -r "$HBT_DEMO_BUNDLE_CACHE" target/web-demo
  reuse=(HBT_WEB_REUSE_DEMO=1)
fi
env HBT="$HBT" "${reuse[@]}" scripts/build-web.sh
if [ -n "${HBT_DEMO_BUNDLE_CACHE:-}" ] && [ ${#reuse[@]} = 0 ]; then
  rm -rf "$HBT_DEMO_BUNDLE_CACHE.tmp" && cp -r target/web-demo "$HBT_DEMO_BUNDLE_CACHE.tmp"
  rm -rf "$HBT_DEMO_BUNDLE_CACHE" && mv "$HBT_DEMO_BUNDLE_CACHE.tmp" "$HBT_DEMO_BUNDLE_CACHE"
fi
phase "browser e2e (default)"
node tests/browser/e2e.mjs --dist dist --hbt "$HBT" --out out/browser
phase "web build (CPU-only)"
HBT="$HBT" HBT_WEB_CPU_ONLY=1 HBT_WEB_REUSE_DEMO=1 scripts/build-web.sh
phase "docs site: the Rust book by mdBook with the widget, its bundle, in Chromium"
# HBT_DOCS_BUNDLE_CACHE (set by .ci/run): a bundle an earlier run exported with the same
# encoder code; the export then re-embeds only the sections whose text changed, and says so.
if [ -n "${HBT_DOCS_BUNDLE_CACHE:-}" ] && [ -f "$HBT_DOCS_BUNDLE_CACHE/manifest.json" ] && [ ! -e out/docs-site/hbt-bundles/book ]; then
  mkdir -p out/docs-site/hbt-bundles && cp -r "$HBT_DOCS_BUNDLE_CACHE" out/docs-site/hbt-bundles/book
fi
HBT="$HBT" scripts/mdbook-site.sh "$HBT_SHARED/data/docs/rust-book" out/docs-site book
if [ -n "${HBT_DOCS_BUNDLE_CACHE:-}" ]; then
  rm -rf "$HBT_DOCS_BUNDLE_CACHE.tmp" && cp -r out/docs-site/hbt-bundles/book "$HBT_DOCS_BUNDLE_CACHE.tmp"
  rm -rf "$HBT_DOCS_BUNDLE_CACHE" && mv "$HBT_DOCS_BUNDLE_CACHE.tmp" "$HBT_DOCS_BUNDLE_CACHE"
fi
node tests/browser/docs.mjs --site out/docs-site --hbt "$HBT" --out out/docs-browser
# The app built without its WebGPU backend (the CPU fallback alone, a third of the wasm),
# tested below in a browser that has WebGPU; the docs widget's default engine.
phase "browser e2e (CPU-only)"
node tests/browser/e2e.mjs --dist dist-cpu --hbt "$HBT" --out out/browser-cpu-only --cpu-only
phase "done"
echo "tests/run.sh: all passed"
