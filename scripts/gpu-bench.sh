#!/usr/bin/env bash
# On a lent GPU machine (../shared/notes/gpu.md): hbt's e5-small training step at batch 100
# through Burn's wgpu/Vulkan path (fusion + autotune) beside PyTorch eager on CUDA (fp32 and
# bf16 autocast) on the very same token ids, then encoding at batch 128. Writes JSON lines
# and logs under $OUT (or ./out/gpu-bench).
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
"$H" bench train --model /tmp/e5 --data /tmp/data/mlqa-r --batch 100 --steps "$STEPS" --warmup "$WARMUP" \
  --backends wgpu --dump-ids "$OUT/train-ids.json" 2> >(tee -a "$OUT/hbt.err" >&2) | tee -a "$OUT/bench.jsonl"
echo "hbt train bench wall: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/gpu.log"
PYTHONUNBUFFERED=1 python3 scripts/bench_peers.py train /tmp/e5 "$OUT/train-ids.json" --device cuda | tee -a "$OUT/bench.jsonl"
rm -f "$OUT/train-ids.json"
"$H" bench encode --model /tmp/e5 --data /tmp/data/xquad-r --batch 128 --len 128 --iters 10 --warmup 3 \
  --backends wgpu 2>>"$OUT/hbt.err" | tee -a "$OUT/bench.jsonl"
echo "total wall: $(( $(date +%s) - t0 )) s" | tee -a "$OUT/gpu.log"
