#!/usr/bin/env bash
# The test command: unit and integration tests of every crate (CPU and wgpu on whatever
# adapter the machine has: Mesa lavapipe without a GPU), the metric cross-check against
# pytrec_eval and scikit-learn, and the wasm build of the model crate.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --features hbt-model/wgpu
# target/debug/hbt was built by the test run (for the CLI's integration tests); building it
# again with `cargo build` would resolve other features and rebuild Burn.
python3 tests/crosscheck_metrics.py target/debug/hbt
cargo build -p hbt-model --target wasm32-unknown-unknown --no-default-features --features flex,webgpu --profile wasm-ci
echo "tests/run.sh: all passed"
