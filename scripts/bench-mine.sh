#!/usr/bin/env bash
# `hbt mine` beside sentence-transformers' `mine_hard_negatives`, one run, same machine:
# the same model (e5-small fixture), corpus (MLQA-R as JSON Lines: every row's positive),
# queries, prompts, k (3 negatives, top sampling, no margin), batch 32, CPU threads.
# Prints wall time of each (model load + encode + search + write) and hbt's split of it.
#   scripts/bench-mine.sh [THREADS] [OUT_DIR]     (default 2, out/bench-mine)
# Needs sentence-transformers and datasets (pip; never in CI).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
THREADS=${1:-2}
OUT=${2:-out/bench-mine}
HBT=${HBT:-target/release/hbt}
mkdir -p "$OUT"
[ -f "$OUT/mlqa-r.jsonl" ] || "$HBT" data convert "$HBT_MLQA_R" --to jsonl --out "$OUT/mlqa-r.jsonl"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), threads $THREADS, $(wc -l < "$OUT/mlqa-r.jsonl") rows"
rm -f "$OUT/hbt-mined.jsonl"
t0=$(date +%s.%N)
"$HBT" --threads "$THREADS" mine --model "$HBT_E5_DIR" --data "$OUT/mlqa-r.jsonl" --out "$OUT/hbt-mined.jsonl" \
  --num-negatives 3 --batch-size 32 --backend cpu > "$OUT/hbt-mine.json" 2> "$OUT/hbt-mine.err"
t1=$(date +%s.%N)
HBT_S=$(echo "$t1 - $t0" | bc)
echo "hbt mine: $HBT_S s wall; $(python3 -c "import json; m=json.load(open('$OUT/hbt-mine.json'))['mining']; print(f\"encode {m['encode_seconds']:.1f} s, search {m['search_seconds']:.1f} s, corpus {m['corpus']}, mean scores pos {m['mean_positive_score']:.3f} neg {m['mean_negative_score']:.3f}\")")"
python3 - "$HBT_E5_DIR" "$OUT" "$THREADS" "$HBT_S" <<'PY'
import json, sys, time
t0 = time.time()
import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.util import mine_hard_negatives
model_dir, out, threads, hbt_s = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
torch.set_num_threads(threads)
rows = [json.loads(l) for l in open(f"{out}/mlqa-r.jsonl")]
ds = Dataset.from_list([{"query": r["query"], "positive": r["positive"]} for r in rows])
t_import = time.time() - t0
t1 = time.time()
m = SentenceTransformer(model_dir, device="cpu")
m.prompts = {"query": "query: ", "passage": "passage: "}
mined = mine_hard_negatives(ds, m, anchor_column_name="query", positive_column_name="positive", num_negatives=3,
                            sampling_strategy="top", query_prompt_name="query", corpus_prompt_name="passage",
                            output_format="n-tuple", batch_size=32, use_faiss=False, verbose=False)
mined.to_json(f"{out}/st-mined.jsonl")
st_s = time.time() - t1
print(f"sentence-transformers {__import__('sentence_transformers').__version__} mine_hard_negatives (torch {torch.__version__}): "
      f"{st_s:.1f} s wall from model load to written file (imports and dataset build {t_import:.1f} s not counted), {len(mined)} rows out")
print(f"hbt mine / sentence-transformers: {st_s / hbt_s:.2f}x (higher: hbt faster)")
PY
