#!/usr/bin/env bash
# The main job on a default that works out of the box: the study's CPU preset.
# multilingual-e5-small (fixture, or hf:intfloat/multilingual-e5-small when online) is
# fine-tuned on MLQA-R with X-X-mono, X-Y and hybrid (α 0.5) batches (3 seeds each, 40 steps
# of batch 12), and every model is evaluated on all of XQuAD-R (11 languages, 4 never
# trained on; 1190 question ids), with paired tests; ~70 min on 2 cores. Results:
# out/experiment-cpu/summary.md and charts. Re-running resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
if [ ! -f "$MODEL/model.safetensors" ] && [ -f "$SHARED/tools/make-e5-small.py" ]; then
  python3 -c 'import numpy' 2>/dev/null || python3 -m pip install -q numpy
  python3 "$SHARED/tools/make-e5-small.py" "$MODEL"
fi
# Data-parallel training (mpirun) needs OpenMPI and libclang to build; the main job trains
# on one process, so a machine without them builds hbt without that feature.
features=()
if ! pkg-config --exists ompi 2>/dev/null || ! ldconfig -p | grep -q libclang; then
  echo "main-job: OpenMPI or libclang not found: building hbt without the distributed feature (apt-get install libopenmpi-dev libclang-dev openmpi-bin adds it)" >&2
  features=(--no-default-features --features wgpu,mimalloc)
fi
cargo run --release -p hbt-cli "${features[@]}" -- experiment --preset cpu --out out/experiment-cpu "$@"
