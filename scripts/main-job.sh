#!/usr/bin/env bash
# The main job on a default that works out of the box: evaluate multilingual-e5-small on
# XQuAD-R (all 11 languages, CPU) and write the report and charts to out/main-job.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${HBT_SHARED:-$(cd .. && pwd)/shared}
MODEL=${HBT_MODEL:-$HOME/.cache/hbt-fixtures/multilingual-e5-small}
if [ ! -f "$MODEL/model.safetensors" ]; then
  python3 -c 'import numpy' 2>/dev/null || python3 -m pip install -q numpy
  python3 "$SHARED/tools/make-e5-small.py" "$MODEL"
fi
cargo run --release -p hbt-cli -- eval --model "$MODEL" --bench xquad-r --data "$SHARED/data/xquad-r" \
  --out out/main-job --force "$@"
