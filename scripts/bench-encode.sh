#!/usr/bin/env bash
# Encoding throughput, batch 32 × 128 tokens, e5-small: hbt on cpu (and wgpu when given
# `cpu,wgpu`) next to the numpy reference (shared/tools/bert_reference.py) in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${HBT_SHARED:-$(cd .. && pwd)/shared}
MODEL=${HBT_MODEL:-$HOME/.cache/hbt-fixtures/multilingual-e5-small}
BACKENDS=${1:-cpu}
HBT=${HBT_BIN:-target/release/hbt}
[ -x "$HBT" ] || cargo build --release -p hbt-cli
"$HBT" bench encode --model "$MODEL" --data "$SHARED/data/xquad-r" --batch 32 --len 128 --backends "$BACKENDS"
python3 - "$SHARED" "$MODEL" <<'PY'
import json, sys, time, glob
sys.path.insert(0, sys.argv[1] + "/tools")
from bert_reference import Bert
m = Bert(sys.argv[2])
m.tok.enable_truncation(max_length=128)
texts = []
for f in sorted(glob.glob(sys.argv[1] + "/data/xquad-r/*.json")):
    for a in json.load(open(f))["data"]:
        for p in a["paragraphs"]:
            texts.append("passage: " + p["context"])
texts = texts[:32]
m.embed(texts[0])
t0 = time.time()
for t in texts:
    m.embed(t)
s = time.time() - t0
print(json.dumps({"bench": "encode", "backend": "numpy-reference (float64, one text at a time)", "batch": 32, "seq": 128, "seconds_per_batch": s, "texts_per_s": 32 / s}))
PY
