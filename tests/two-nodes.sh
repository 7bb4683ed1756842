#!/usr/bin/env bash
# Multi-node training as users run it: `mpirun --hostfile` over two "nodes" (network
# namespaces with their own host names, the second reached over ssh, ranks talking TCP
# only; scripts/two-nodes.sh), against the same two ranks on one machine (shared memory).
# The collectives are the same sums in the same order, so the models must be identical
# bytes; the summary must name both hosts. Needs root (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
HBT=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/hbt}")
OUT=$(realpath -m "${2:-out/two-nodes}")
rm -rf "$OUT"; mkdir -p "$OUT"
trap 'scripts/two-nodes.sh down' EXIT
scripts/two-nodes.sh up
args=(--threads 1 train --model "$HBT_MINILM_DIR" --train "$HBT_MLQA_R" --batch 8 --steps 3 --warmup 0
      --lr 1e-4 --seed 5 --checkpoint-every 0 --eval-every 0 --max-query-len 24 --max-passage-len 32
      --backend cpu)
HBT_BACKEND=cpu scripts/two-nodes.sh run "$HBT" "${args[@]}" --out "$OUT/nodes" > "$OUT/nodes.json" 2> "$OUT/nodes.err" \
  || { cat "$OUT/nodes.err"; exit 1; }
mpirun --allow-run-as-root --oversubscribe -np 2 -x HBT_BACKEND=cpu "$HBT" "${args[@]}" --out "$OUT/local" \
  > /dev/null 2> "$OUT/local.err" || { cat "$OUT/local.err"; exit 1; }
grep -E "world size|rank [01] on" "$OUT/nodes.err"
python3 - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]
s = json.load(open(f"{out}/nodes/summary.json"))
hosts = [r["host"] for r in s["ranks"]]
assert s["world_size"] == 2 and hosts == ["node-a", "node-b"], hosts
c = s["communication"]
print(f"two nodes over TCP: {c['seconds_per_step']:.3f} s a step in collectives, "
      f"{c['reduced_bytes_per_step'] / 1e6:.1f} MB all-reduced per rank and step")
EOF
cmp "$OUT/nodes/model/model.safetensors" "$OUT/local/model/model.safetensors"
echo "two nodes: the same model, byte for byte, as two ranks on one machine"
