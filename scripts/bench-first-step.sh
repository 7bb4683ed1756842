#!/usr/bin/env bash
# The first training step of a process with the GPU kernel cache cold (an empty
# $HBT_KERNEL_CACHE) and then warm (the same directory, a second process), through
# `hbt bench train --backends wgpu`. One JSON line per process: the bench line plus
# "kernel_cache" (cold/warm) and "process_seconds" (start to exit, model load included).
#   HBT_BIN       the hbt to time (a `--features vulkan` build also keeps compiled SPIR-V;
#                 the default WGSL build keeps autotune's choices only)
#   HBT_BENCH_BATCH / HBT_BENCH_PRECISION   batch (8) and precision (f32)
# Without a GPU this runs on Mesa's lavapipe: the seconds are software Vulkan's, which shows
# what the cache saves, never a GPU's speed.
source "$(dirname "$0")/bench-common.sh"
BATCH=${HBT_BENCH_BATCH:-8}
PRECISION=${HBT_BENCH_PRECISION:-f32}
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
for state in cold warm; do
  t0=$(date +%s.%N)
  line=$(HBT_KERNEL_CACHE=$cache "$HBT" bench train --model "$MODEL" --data "$SHARED/data/mlqa-r" \
    --batch "$BATCH" --steps 2 --warmup 1 --backends wgpu --precision "$PRECISION" "$@" \
    2> "$OUT/first-step-$state.err")
  t1=$(date +%s.%N)
  grep "kernel cache" "$OUT/first-step-$state.err" >&2 || true
  python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["kernel_cache"]=sys.argv[2]; d["process_seconds"]=float(sys.argv[4])-float(sys.argv[3]); print(json.dumps(d))' \
    "$line" "$state" "$t0" "$t1"
done
