#!/usr/bin/env bash
# One process with T threads against `mpirun -np R` ranks with T/R threads each, on the
# same global batch: the e5-small training step on the CPU (batch 32 by default), and the
# seconds a step spends in collectives. Same binary, model, data, seed and lengths, one
# run after the other. Writes docs/results/ranks-<cpu>.json (or $OUT_JSON).
#
#   scripts/bench-ranks.sh            # 1 × 2 threads vs 2 ranks × 1 thread
#   STEPS=6 BATCH=32 RANKS=2 THREADS=2 scripts/bench-ranks.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
HBT=${HBT:-${CARGO_TARGET_DIR:-target}/release/hbt}
STEPS=${STEPS:-5} BATCH=${BATCH:-32} RANKS=${RANKS:-2} THREADS=${THREADS:-2}
OUT=${OUT:-out/bench-ranks}
rm -rf "$OUT"; mkdir -p "$OUT"
common=(train --model "$HBT_E5_DIR" --train "$SHARED/data/mlqa-r" --batch "$BATCH" --steps "$STEPS"
        --warmup 1 --eval-every 0 --checkpoint-every 0 --backend cpu --seed 1 --sampler hybrid)
echo "== 1 process × $THREADS threads"
"$HBT" --threads "$THREADS" "${common[@]}" --out "$OUT/one" > /dev/null
echo "== 1 process × $THREADS threads, --micro-batch $((BATCH / RANKS)) (GradCache's two passes)"
"$HBT" --threads "$THREADS" "${common[@]}" --micro-batch "$((BATCH / RANKS))" --out "$OUT/one-mb" > /dev/null
echo "== mpirun -np $RANKS, $((THREADS / RANKS)) thread(s) each"
mpirun --allow-run-as-root --oversubscribe -np "$RANKS" -x HBT_BACKEND=cpu \
  "$HBT" --threads "$((THREADS / RANKS))" "${common[@]}" --out "$OUT/ranks" > /dev/null
python3 - "$OUT" "$BATCH" "$RANKS" "$THREADS" "${OUT_JSON:-}" <<'EOF'
import json, os, statistics, sys
out, batch, ranks, threads, dest = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def run(name):
    lines = [json.loads(l) for l in open(f"{out}/{name}/train-log.jsonl") if '"loss"' in l]
    # The first step also compiles nothing on the CPU but touches every page once: skip it.
    secs = [batch / l["pairs_per_s"] for l in lines[1:]]
    comm = [l["comm_seconds"] for l in lines[1:] if "comm_seconds" in l]
    s = json.load(open(f"{out}/{name}/summary.json"))
    return {"step_seconds": secs, "median_step_s": statistics.median(secs),
            "steps_per_s": 1 / statistics.median(secs),
            "median_comm_s": statistics.median(comm) if comm else None,
            "communication": s.get("communication"), "device": s.get("device"), "ranks": s.get("ranks")}
r = {"batch": batch, "ranks": ranks, "threads_total": threads,
     "one_process": run("one"), "one_process_micro_batch": run("one-mb"), "mpirun": run("ranks")}
a, m, b = r["one_process"], r["one_process_micro_batch"], r["mpirun"]
# The same seed draws the same batches in every configuration: compare their total time
# (step times vary 2x with the batch's languages and lengths, so medians of a few are noisy).
r["speedup_vs_one_process"] = sum(a["step_seconds"]) / sum(b["step_seconds"])
r["speedup_vs_one_process_micro_batch"] = sum(m["step_seconds"]) / sum(b["step_seconds"])
cpu = (a["device"] or {}).get("name", "cpu")
print(f"CPU: {cpu}")
print(f"1 process × {threads} threads:           {a['median_step_s']:.2f} s/step ({a['steps_per_s']:.3f} steps/s)")
print(f"1 process, --micro-batch {batch // ranks}:          {m['median_step_s']:.2f} s/step")
print(f"mpirun -np {ranks} × {threads // ranks} thread(s):        {b['median_step_s']:.2f} s/step ({b['steps_per_s']:.3f} steps/s), "
      f"{b['median_comm_s']:.3f} s/step in collectives")
c = b["communication"] or {}
print(f"  per rank and step: all-reduced {c.get('reduced_bytes_per_step', 0) / 1e6:.1f} MB, all-gathered {c.get('gathered_bytes_per_step', 0) / 1e3:.1f} KB")
print(f"ranks / one process (the same steps' total time): {r['speedup_vs_one_process']:.2f}×; "
      f"/ one process with --micro-batch: {r['speedup_vs_one_process_micro_batch']:.2f}×")
slug = "".join(ch if ch.isalnum() else "-" for ch in cpu.lower()).strip("-")[:40]
dest = dest or f"docs/results/ranks-{slug}.json"
json.dump(r, open(dest, "w"), indent=1)
print(f"wrote {dest}")
EOF
