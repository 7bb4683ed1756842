#!/usr/bin/env bash
# Training on a large JSON Lines file: what the reader costs. Writes a ~2 GB file of
# synthetic multilingual rows (ids linking four languages), then trains e5-small 3 steps
# (batch 16, CPU) on it and on a 1,000-row file of the same rows, and reports each run's
# time to the first step and peak resident memory: the difference is what the 2 GB of data
# holds in memory beyond the model and the optimizer. Step times of the same run on the
# LAReQA folder (MLQA-R) and on MLQA-R as JSON Lines show whether the reader slows a step.
#   scripts/bench-own-data.sh [GB] [OUT_DIR]     (default 2, out/bench-own-data)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
GB=${1:-2}
OUT=${2:-out/bench-own-data}
HBT=${HBT:-target/release/hbt}
mkdir -p "$OUT"
if [ ! -f "$OUT/big.jsonl" ]; then
  python3 - "$OUT" "$GB" <<'PY'
import json, random, sys
out, gb = sys.argv[1], float(sys.argv[2])
random.seed(1)
words = {"en": "the of and to in is was for on with as by at from that this which river city school music water".split(),
         "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als".split(),
         "fr": "de la le et les des en un du une que est pour qui dans par plus pas au sur".split(),
         "es": "de la que el en y a los del se las por un para con no una su al es".split()}
def text(lang, n):
    return " ".join(random.choice(words[lang]) for _ in range(n))
target = int(gb * 1e9)
size = 0
with open(f"{out}/big.jsonl", "w") as big, open(f"{out}/small.jsonl", "w") as small:
    g = 0
    while size < target:
        for lang in ("en", "de", "fr", "es"):
            line = json.dumps({"id": f"g{g}", "lang": lang, "query": text(lang, 12), "positive": text(lang, 160)}, ensure_ascii=False) + "\n"
            big.write(line)
            size += len(line.encode())
            if g < 250:
                small.write(line)
        g += 1
print(f"{size / 1e9:.2f} GB, {g * 4} rows in {g} groups", file=sys.stderr)
PY
fi
ls -l "$OUT/big.jsonl" "$OUT/small.jsonl"
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
run() {  # name data
  rm -rf "$OUT/run-$1"
  /usr/bin/time -f "%M %e" -o "$OUT/time-$1" "$HBT" train --model "$HBT_E5_DIR" --train "$2" --out "$OUT/run-$1" \
    --batch 16 --steps 3 --warmup 1 --eval-every 0 --checkpoint-every 0 --backend cpu --max-passage-len 128 \
    > /dev/null 2> "$OUT/err-$1"
  read -r kb secs < "$OUT/time-$1"
  first=$(python3 -c "import json; l=[json.loads(x) for x in open('$OUT/run-$1/train-log.jsonl')]; print(' '.join(f\"{16/x['pairs_per_s']:.2f}\" for x in l))")
  echo "$1: peak resident $((kb / 1024)) MB, wall $secs s, step times $first s"
}
run small "$OUT/small.jsonl"
run big "$OUT/big.jsonl"
[ -f "$OUT/mlqa-r.jsonl" ] || "$HBT" data convert "$HBT_MLQA_R" --to jsonl --out "$OUT/mlqa-r.jsonl" 2>/dev/null
run mlqa-lareqa "$HBT_MLQA_R"
run mlqa-jsonl "$OUT/mlqa-r.jsonl"
grep -h "hbt: data" "$OUT"/err-big | head -1
