#!/usr/bin/env bash
# On a lent GPU machine (../shared/notes/gpu.md): hbt's e5-small training step at batch 100
# through Burn's wgpu/Vulkan path (fusion + autotune), in f32 and in f16 (tensor cores, loss
# scaling), texts packed several to a row (and in length groups, f16), beside PyTorch eager on CUDA (fp32 and bf16 autocast) on the very same token ids;
# encoding at batch 128 in f32 and f16; then the first step of a process with the kernel
# cache cold and warm (scripts/bench-first-step.sh). Writes JSON lines and logs under $OUT
# (or ./out/gpu-bench).
#
#   here:   cargo build --release -p hbt-cli --features vulkan && ../shared/tools/device-pack.sh
#   there:  run(carry=[".device"], command="bash scripts/gpu-bench.sh")
set -uo pipefail
OUT=${OUT:-out/gpu-bench}; mkdir -p "$OUT"
source .device/setup.sh
H=.device/bin/hbt
STEPS=${STEPS:-12} WARMUP=${WARMUP:-10}
nvidia-smi -L | tee "$OUT/gpu.log"
# Same vectors on the GPU as on the CPU (and the device line hbt prints without --backend).
texts=("Wo liegt der Mont Blanc?" "¿Quién escribió Don Quijote?" "What is the capital of Australia?" "大熊猫吃什么？")
"$H" embed --model /tmp/e5 --query "${texts[@]}" > "$OUT/gpu.jsonl" 2> >(tee -a "$OUT/gpu.log" >&2)
"$H" embed --model /tmp/e5 --backend cpu --query --compare-to "$OUT/gpu.jsonl" "${texts[@]}" 2>>"$OUT/gpu.log" \
  | tail -1 | sed 's/^/gpu vs cpu cosines: /' | tee -a "$OUT/gpu.log"
t0=$(date +%s)
# Packed rows (the default) in both precisions; length groups in f16 beside them, to choose
# the GPU's layout by measurement.
for pb in "f32 packed" "f16 packed" "f16 groups"; do
  set -- $pb
  "$H" bench train --model /tmp/e5 --data /tmp/data/mlqa-r --batch 100 --steps "$STEPS" --warmup "$WARMUP" \
    --backends wgpu --precision "$1" --batching "$2" --dump-ids "$OUT/train-ids.json" \
    2> >(tee -a "$OUT/hbt.err" >&2) | tee -a "$OUT/bench.jsonl"
done
echo "hbt train bench wall: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/gpu.log"
PYTHONUNBUFFERED=1 python3 scripts/bench_peers.py train /tmp/e5 "$OUT/train-ids.json" --device cuda | tee -a "$OUT/bench.jsonl"
rm -f "$OUT/train-ids.json"
"$H" bench encode --model /tmp/e5 --data /tmp/data/xquad-r --batch 128 --len 128 --iters 10 --warmup 3 \
  --backends wgpu --precisions f32,f16 2>>"$OUT/hbt.err" | tee -a "$OUT/bench.jsonl"
for p in f32 f16; do
  HBT_BIN=$H HBT_MODEL=/tmp/e5 HBT_SHARED=/tmp HBT_BENCH_OUT=$OUT HBT_BENCH_BATCH=100 HBT_BENCH_PRECISION=$p \
    bash scripts/bench-first-step.sh | tee -a "$OUT/bench.jsonl"
done
echo "total wall: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/gpu.log"
