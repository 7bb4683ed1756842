#!/usr/bin/env bash
# Does a folder `hbt train` wrote load in sentence-transformers, and give hbt's vectors?
# Trains e5-small for a few steps on a JSON Lines file (MLQA-R converted), then embeds the
# same queries and passages with `hbt embed --query/--passage` and with
# SentenceTransformer(folder).encode(prompt_name=query/passage), and prints each text's
# cosine. Needs a Python with sentence-transformers (pip, ~3 GB; never in CI).
#   scripts/check-st-load.sh [OUT_DIR]     (default out/st-load)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
OUT=${1:-out/st-load}
HBT=${HBT:-target/release/hbt}
mkdir -p "$OUT"
python3 -c 'import sentence_transformers' 2>/dev/null || { echo "sentence-transformers is not installed: python3 -m pip install sentence-transformers" >&2; exit 1; }
[ -f "$OUT/mlqa-r.jsonl" ] || "$HBT" data convert "$HBT_MLQA_R" --to jsonl --out "$OUT/mlqa-r.jsonl"
if [ ! -f "$OUT/run/model/model.safetensors" ]; then
  rm -rf "$OUT/run"
  "$HBT" train --model "$HBT_E5_DIR" --train "$OUT/mlqa-r.jsonl" --sampler hybrid --batch 16 --steps 4 --warmup 1 \
    --eval-every 0 --checkpoint-every 0 --backend cpu --out "$OUT/run" > "$OUT/train-summary.json"
fi
MODEL="$OUT/run/model"
QUERIES=("Wie viele Menschen leben in Berlin?" "What is the capital of Vietnam?" "¿Quién escribió Don Quijote?" "北京有多少人口？")
PASSAGES=("Berlin hat rund 3,7 Millionen Einwohner." "Hanoi is the capital of Vietnam." "Miguel de Cervantes escribió Don Quijote." "北京市常住人口约两千万。")
"$HBT" embed --model "$MODEL" --query "${QUERIES[@]}" --backend cpu > "$OUT/hbt-queries.jsonl"
"$HBT" embed --model "$MODEL" --passage "${PASSAGES[@]}" --backend cpu > "$OUT/hbt-passages.jsonl"
python3 - "$MODEL" "$OUT" "${QUERIES[@]}" -- "${PASSAGES[@]}" <<'PY' | tee "$OUT/st-load.txt"
import json, sys
import numpy as np
from sentence_transformers import SentenceTransformer, __version__
model_dir, out = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
k = rest.index("--")
queries, passages = rest[:k], rest[k + 1:]
m = SentenceTransformer(model_dir, device="cpu")
print(f"sentence-transformers {__version__} loaded {model_dir}: prompts {m.prompts}, modules {[type(x).__name__ for x in m]}")
worst = 1.0
for kind, texts in (("query", queries), ("passage", passages)):
    st = m.encode(texts, prompt_name=kind, normalize_embeddings=True)
    hbt = [json.loads(l)["embedding"] for l in open(f"{out}/hbt-{'queries' if kind == 'query' else 'passages'}.jsonl")]
    for t, a, b in zip(texts, st, hbt):
        b = np.asarray(b, dtype=np.float32)
        c = float(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b))
        worst = min(worst, c)
        print(f"{kind:8s} cosine {c:.6f}  {t}")
print(f"minimum cosine {worst:.6f} ({'ok' if worst >= 0.9999 else 'BELOW 0.9999'})")
sys.exit(0 if worst >= 0.9999 else 1)
PY
