#!/usr/bin/env bash
# The AVX2-only rows of scripts/bench-train.sh on a machine that has AVX-512, for sessions
# without an AVX2-only CPU: hbt built from HEAD with scripts/avx2-only.patch (gemm without
# its AVX-512 micro-kernels, macerator without AVX-512, flex's fast math on its AVX2 path,
# AMX off) beside PyTorch held to AVX2 (ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2,
# MKL_ENABLE_INSTRUCTIONS=AVX2), on the same token ids, in one run. It stands in for the
# instruction set only — not for an AMD core's ports, caches or memory — so quote it as a
# proxy beside a real AVX2-only figure, never instead of one.
# Takes bench-train.sh's variables (default here: f32, packed, PyTorch fp32 only — bf16
# autocast without AVX-512 BF16 or AMX took 102 s a step, 11× its fp32, on 1 thread) and
# arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
TREE=${HBT_AVX2_TREE:-out/avx2-tree}
export CARGO_TARGET_DIR=${HBT_AVX2_TARGET:-$PWD/target-avx2}
if [ ! -d "$TREE" ]; then
  git worktree add -f --detach "$TREE" HEAD
  git -C "$TREE" apply "$PWD/scripts/avx2-only.patch"
fi
(cd "$TREE" && cargo build --release -p hbt-cli --no-default-features --features mimalloc)
export ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2
HBT_BIN="$CARGO_TARGET_DIR/release/hbt" HBT_BENCH_PRECISIONS=${HBT_BENCH_PRECISIONS:-f32} \
  HBT_BENCH_PEERS=${HBT_BENCH_PEERS:-pytorch-fp32} \
  bash scripts/bench-train.sh "$@"
