#!/usr/bin/env bash
# The demo bundle's vocabulary against what a user types: for each word-list size (0 = the
# bundle's own texts only), export the bundle, then embed held-out XQuAD-R questions (articles
# 20 and later, which no bundle of --limit 40 contains; 25 a language) with the bundle's model
# and with the full model, and print kept tokens, bundle size and the cosines per language.
#   HBT=target/release/hbt scripts/vocab-tradeoff.sh [SIZES...]     (needs pip's wordfreq)
set -euo pipefail
cd "$(dirname "$0")/.."
HBT=${HBT:-target/release/hbt}
. scripts/env.sh
E5=$HBT_E5_DIR
DATA=$HBT_XQUAD_R
LANGS=${HBT_DEMO_LANGS:-de,en,es,ar,ru,zh}
OUT=${OUT:-out/vocab-tradeoff}
DTYPE=${DTYPE:-f16}   # f16, or q8: the word-embedding table in int8
SIZES=("${@:-0 2000 10000 30000}"); SIZES=(${SIZES[*]})
mkdir -p "$OUT"
python3 - "$DATA" "$LANGS" > "$OUT/heldout.jsonl" <<'PY'
import json, sys
data, langs = sys.argv[1], sys.argv[2].split(",")
for l in langs:
    d = json.load(open(f"{data}/{l}.json", encoding="utf-8"))
    qs = [q["question"] for a in d["data"][20:] for p in a["paragraphs"] for q in p["qas"]]
    for q in qs[:25]:
        print(json.dumps({"lang": l, "text": q}, ensure_ascii=False))
PY
embed() { # MODEL [ARGS] -> one JSON line a question (with --compare-to: its cosine)
  python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in open(sys.argv[1])]' "$OUT/heldout.jsonl" \
    | tr '\n' '\0' | xargs -0 "$HBT" embed --model "$1" "${@:2}" --query 2>/dev/null
}
embed "$E5" > "$OUT/full.jsonl"
echo "| word list (top N a language) | kept tokens | bundle MB | model MB | min cosine | share ≥ 0.999 | mean cosine per language |"
echo "|---|---:|---:|---:|---:|---:|---|"
for n in "${SIZES[@]}"; do
  words=()
  if [ "$n" -gt 0 ]; then
    python3 scripts/wordlists.py --top "$n" --out "$OUT/words-$n" ${LANGS//,/ } 2>/dev/null
    words=(--vocab-words "$OUT"/words-"$n"/*.txt)
  fi
  "$HBT" export --model "$E5" --corpus "$DATA" --languages "$LANGS" --limit 40 --prune-vocab "${words[@]}" \
    --dtype "$DTYPE" --force --out "$OUT/bundle-$n" >/dev/null 2>"$OUT/export-$n.log"
  # The cosines are hbt's (`embed --compare-to`); Python only lays out the table.
  embed "$OUT/bundle-$n/model" --compare-to "$OUT/full.jsonl" > "$OUT/bundle-$n.cosines.jsonl"
  python3 - "$n" "$OUT" <<'PY'
import json, os, sys
n, out = sys.argv[1], sys.argv[2]
langs = [json.loads(l)["lang"] for l in open(f"{out}/heldout.jsonl")]
*per_text, total = [json.loads(l) for l in open(f"{out}/bundle-{n}.cosines.jsonl")]
cos = [t["cosine"] for t in per_text]
m = json.load(open(f"{out}/bundle-{n}/manifest.json"))
size = lambda d: sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(d) for f in fs) / 1e6
mean = lambda xs: sum(xs) / len(xs)
per = " ".join(f"{l} {mean([c for c, x in zip(cos, langs) if x == l]):.4f}" for l in dict.fromkeys(langs))
print(f"| {n if n != '0' else 'none (bundle texts)'} | {m['model']['vocab']['after']} | {size(f'{out}/bundle-{n}'):.1f} | "
      f"{size(f'{out}/bundle-{n}/model'):.1f} | {total['min_cosine']:.4f} | {total['share_at_least_0_999']:.0%} | {per} |")
PY
done
