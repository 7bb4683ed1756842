#!/usr/bin/env bash
# Encoding throughput, e5-small, the first 32 XQuAD-R contexts truncated to 128 tokens,
# mean pooled: hbt (CPU in f32 and bf16 — AMX where the CPU has it — and wgpu when given
# `cpu,wgpu`) beside PyTorch eager (fp32, bf16
# autocast) and ONNX Runtime (fp32, int8 dynamic) on the same token ids, 1 and 2 threads,
# in one run. One JSON line per measurement. The peers need `pip install torch transformers
# onnxruntime onnx onnxscript` (~3 GB, never in CI); without them only hbt runs.
source "$(dirname "$0")/bench-common.sh"
BACKENDS=${1:-cpu}
ITERS=${HBT_BENCH_ITERS:-5}
# bf16 is a CPU path: with a GPU backend in the list only f32 is timed.
PRECISIONS=${HBT_BENCH_PRECISIONS:-f32,bf16}
[ "$BACKENDS" = cpu ] || PRECISIONS=f32
for t in $THREADS; do
  "$HBT" --threads "$t" bench encode --model "$MODEL" --data "$SHARED/data/xquad-r" --batch 32 --len 128 \
    --iters "$ITERS" --backends "$BACKENDS" --precisions "$PRECISIONS" --dump-ids "$OUT/encode-ids.json"
  if python3 -c 'import torch, transformers, onnxruntime' 2>/dev/null; then
    python3 scripts/bench_peers.py encode "$MODEL" "$OUT/encode-ids.json" --threads "$t" --iters "$ITERS" \
      --onnx-dir "$OUT/onnx"
  else
    echo "(peers skipped: pip install torch transformers onnxruntime onnx onnxscript)" >&2
  fi
done
