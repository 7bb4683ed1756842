#!/usr/bin/env bash
# Reading a large training file, to the first training step: hbt against sentence-transformers
# on the same rows, same machine, one run. Writes ROWS rows of synthetic multilingual pairs
# (ids linking four languages) as JSON Lines, converts them to Parquet with `hbt data
# convert`, then for each file measures wall time and peak resident memory (/usr/bin/time) of
#   hbt:  `hbt train --steps 1` (read, group, plan, load e5-small, one step of batch 16);
#   ST:   `load_dataset("json"|"parquet")` (cold: a fresh datasets cache per run) +
#         SentenceTransformer(e5-small) + SentenceTransformerTrainer(MultipleNegativesRanking-
#         Loss, batch 16, max_steps 1) + train().
# Both on the CPU with the same threads (HBT_BENCH_THREADS, default all cores), sequence
# lengths capped at 128 in both. Needs PyPI's sentence-transformers, datasets and accelerate
# (never in CI).
#   scripts/bench-read.sh [ROWS] [OUT_DIR]     (default 1000000, out/bench-read)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
ROWS=${1:-1000000}
OUT=${2:-out/bench-read}
HBT=${HBT:-target/release/hbt}
THREADS=${HBT_BENCH_THREADS:-$(nproc)}
mkdir -p "$OUT"
python3 -c 'import sentence_transformers, datasets, accelerate' 2>/dev/null || {
  echo "bench-read.sh: needs python3 -m pip install sentence-transformers datasets accelerate" >&2; exit 1; }
if [ ! -f "$OUT/rows.jsonl" ]; then
  python3 - "$OUT/rows.jsonl" "$ROWS" <<'PY'
import json, random, sys
path, rows = sys.argv[1], int(sys.argv[2])
random.seed(1)
words = {"en": "the of and to in is was for on with as by at from that this which river city school music water".split(),
         "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als".split(),
         "fr": "de la le et les des en un du une que est pour qui dans par plus pas au sur".split(),
         "es": "de la que el en y a los del se las por un para con no una su al es".split()}
text = lambda lang, n: " ".join(random.choice(words[lang]) for _ in range(n))
with open(path, "w") as f:
    for i in range(rows):
        lang = ("en", "de", "fr", "es")[i % 4]
        f.write(json.dumps({"id": f"g{i // 4}", "lang": lang, "query": text(lang, 12), "positive": text(lang, 80)}, ensure_ascii=False) + "\n")
PY
fi
[ -f "$OUT/rows.parquet" ] || "$HBT" data convert "$OUT/rows.jsonl" --to parquet --out "$OUT/rows.parquet" 2>/dev/null
{
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $THREADS threads; no GPU"
  echo "files: $(wc -l < "$OUT/rows.jsonl") rows; rows.jsonl $(du -m "$OUT/rows.jsonl" | cut -f1) MB, rows.parquet $(du -m "$OUT/rows.parquet" | cut -f1) MB"
  python3 -c 'import sentence_transformers as s, datasets as d, torch as t; print(f"sentence-transformers {s.__version__}, datasets {d.__version__}, torch {t.__version__}")'
} | tee "$OUT/result.txt"

hbt_run() {  # name file
  rm -rf "$OUT/hbt-$1"
  /usr/bin/time -f "%M %e" -o "$OUT/time-hbt-$1" "$HBT" train --model "$HBT_E5_DIR" \
    --train "$2" --out "$OUT/hbt-$1" --batch 16 --steps 1 --warmup 1 --eval-every 0 --checkpoint-every 0 \
    --backend cpu --threads "$THREADS" --max-query-len 128 --max-passage-len 128 > /dev/null 2> "$OUT/err-hbt-$1"
  read -r kb secs < "$OUT/time-hbt-$1"
  echo "hbt $1: to the end of the first step ${secs} s, peak resident $((kb / 1024)) MB" | tee -a "$OUT/result.txt"
}
st_run() {  # name file format
  rm -rf "$OUT/st-cache" "$OUT/st-$1"
  HF_DATASETS_CACHE="$OUT/st-cache" OMP_NUM_THREADS=$THREADS /usr/bin/time -f "%M %e" -o "$OUT/time-st-$1" \
    python3 - "$2" "$3" "$HBT_E5_DIR" "$OUT/st-$1" "$THREADS" > "$OUT/log-st-$1" 2>&1 <<'PY'
import sys, time
t0 = time.time()
import torch
from datasets import load_dataset
from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from sentence_transformers.losses import MultipleNegativesRankingLoss
path, fmt, model_dir, out, threads = sys.argv[1:6]
torch.set_num_threads(int(threads))
t_import = time.time()
ds = load_dataset(fmt, data_files=path, split="train").select_columns(["query", "positive"])
t_data = time.time()
model = SentenceTransformer(model_dir, device="cpu")
model.max_seq_length = 128
args = SentenceTransformerTrainingArguments(output_dir=out, per_device_train_batch_size=16, max_steps=1,
    warmup_steps=1, learning_rate=2e-5, report_to=[], save_strategy="no", use_cpu=True, dataloader_num_workers=0)
trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=ds, loss=MultipleNegativesRankingLoss(model))
t_trainer = time.time()
trainer.train()
t_end = time.time()
print(f"imports {t_import - t0:.1f} s, load_dataset {t_data - t_import:.1f} s ({len(ds)} rows), "
      f"model + trainer {t_trainer - t_data:.1f} s, first step {t_end - t_trainer:.1f} s")
PY
  read -r kb secs < "$OUT/time-st-$1"
  echo "sentence-transformers $1: to the end of the first step ${secs} s, peak resident $((kb / 1024)) MB ($(tail -1 "$OUT/log-st-$1"))" | tee -a "$OUT/result.txt"
}
hbt_run jsonl "$OUT/rows.jsonl"
hbt_run parquet "$OUT/rows.parquet"
st_run jsonl "$OUT/rows.jsonl" json
st_run parquet "$OUT/rows.parquet" parquet
rm -rf "$OUT/st-cache"
