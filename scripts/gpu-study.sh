#!/usr/bin/env bash
# On a lent GPU machine (../shared/notes/gpu.md): `hbt experiment --preset paper` (batch 100,
# lr 3e-5, weight decay 0.01, α 0.5; MLQA-R → XQuAD-R and MLQA-R) through Burn's
# wgpu/Vulkan path, cut to the device time there is (STEPS, SEEDS). The study lives in
# out/paper-gpu, which a warm machine keeps between calls: a call cut short by LIMIT_S is
# finished by the next one (trainings resume from their checkpoint, finished work is kept).
# On a GPU the preset trains in f16 (tensor cores, loss scaling). The kernel cache goes out
# as $OUT/kernels.bundle at the end; put it at .device/kernels.bundle and the next fresh
# machine imports it first, so its trainings start warm.
#
#   here:   cargo build --release -p hbt-cli --features vulkan && ../shared/tools/device-pack.sh
#   there:  run(carry=[".device"], command="STEPS=150 bash scripts/gpu-study.sh")
set -uo pipefail
OUT=${OUT:-out/gpu-study}; mkdir -p "$OUT"
source .device/setup.sh
STEPS=${STEPS:-150} SEEDS=${SEEDS:-1} LIMIT_S=${LIMIT_S:-520}
STUDY=out/paper-gpu
nvidia-smi -L | tee "$OUT/gpu.log"
t0=$(date +%s)
[ -f .device/kernels.bundle ] && .device/bin/hbt cache import .device/kernels.bundle | tee -a "$OUT/gpu.log"
# The fixture declares no prompts; hbt recognises it as e5 by its vocabulary and shape (not
# its folder's name), uses "query: " / "passage: " and says so on stderr.
HBT_SHARED=/tmp timeout "$LIMIT_S" .device/bin/hbt experiment --preset paper --init /tmp/e5 \
  --seeds "$SEEDS" --steps "$STEPS" --out "$STUDY" > "$OUT/summary-stdout.md" 2> "$OUT/study.err"
rc=$?
echo "hbt experiment exit $rc after $(( $(date +%s) - t0 )) s" | tee -a "$OUT/gpu.log"
tail -25 "$OUT/study.err"
# At most 8 files come back: the summary, its charts, and one archive of the small files.
cp "$STUDY"/summary.md "$STUDY"/xquad-r-map.png "$STUDY"/mlqa-r-map.png "$STUDY"/xquad-r-bias.png "$OUT"/ 2>/dev/null
tar -czf "$OUT/study-small.tar.gz" -C "$STUDY" --exclude='*.safetensors' --exclude='checkpoints' \
  --exclude='*.svg' --exclude='*.png' --exclude='report.json' . 2>/dev/null
rm -f "$OUT/summary-stdout.md" "$OUT/kernels.bundle"
.device/bin/hbt cache export "$OUT/kernels.bundle" --name "$(nvidia-smi -L | head -1)" 2>>"$OUT/gpu.log" >>"$OUT/gpu.log"
exit $rc
