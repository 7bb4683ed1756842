# Sourced by the bench-*.sh scripts: where the data, the model, hbt and the outputs are.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
THREADS=${HBT_BENCH_THREADS:-1 2}
HBT=${HBT_BIN:-target/release/hbt}
[ -x "$HBT" ] || cargo build --release -p hbt-cli
OUT=${HBT_BENCH_OUT:-out/bench}
mkdir -p "$OUT"
