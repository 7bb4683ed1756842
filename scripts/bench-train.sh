#!/usr/bin/env bash
# Training-step time, e5-small, batch 32 from MLQA-R's hybrid sampler (queries ≤ 64,
# passages ≤ 128 tokens): hbt beside PyTorch eager (fp32, bf16 autocast) on the same token
# ids, 1 and 2 threads, in one run; hbt in f32 and in bf16 autocast (AMX where the CPU has
# it), each in the batch layouts of HBT_BENCH_BATCHINGS (default: packed, hbt's default;
# e.g. "packed groups padded"). Extra arguments go to `hbt bench train` (e.g. --micro-batch
# 8). One JSON line per measurement.
source "$(dirname "$0")/bench-common.sh"
STEPS=${HBT_BENCH_STEPS:-3}
PRECISIONS=${HBT_BENCH_PRECISIONS:-f32 bf16}
BATCHINGS=${HBT_BENCH_BATCHINGS:-packed}
for t in $THREADS; do
  for p in $PRECISIONS; do
    for b in $BATCHINGS; do
      "$HBT" --threads "$t" bench train --model "$MODEL" --data "$SHARED/data/mlqa-r" --batch 32 --steps "$STEPS" \
        --precision "$p" --batching "$b" --dump-ids "$OUT/train-ids.json" "$@"
    done
  done
  if python3 -c 'import torch, transformers' 2>/dev/null; then
    python3 scripts/bench_peers.py train "$MODEL" "$OUT/train-ids.json" --threads "$t"
  else
    echo "(peers skipped: pip install torch transformers)" >&2
  fi
done
