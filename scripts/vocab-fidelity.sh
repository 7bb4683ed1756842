#!/usr/bin/env bash
# What a visitor's questions get from each kind of demo bundle: held-out questions in twelve
# languages — every 37th question of XQuAD-R's articles 20 and later in all eleven of its
# languages (the demo's passages are six of them), and ten Romanian questions written for
# this — embedded by a bundle's model as the browser's CPU path runs it (`--precision int8`:
# int8 linears, the bundle's int8 word rows; bit-identical to the wasm kernel) and compared
# with the full f32 model. Prints, per bundle and language, the share at cosine >= 0.999 and
# the lowest cosine, and writes them to $OUT/vocab-fidelity.{md,json}.
#   HBT=target/release/hbt scripts/vocab-fidelity.sh BUNDLE_DIR...   (default: target/web-demo)
set -euo pipefail
cd "$(dirname "$0")/.."
HBT=${HBT:-target/release/hbt}
. scripts/env.sh
OUT=${OUT:-out/vocab-fidelity}
BUNDLES=("${@:-target/web-demo}")
mkdir -p "$OUT"
python3 - "$HBT_XQUAD_R" > "$OUT/heldout.jsonl" <<'PY'
import json, os, sys
data = sys.argv[1]
for f in sorted(os.listdir(data)):
    if not f.endswith(".json"):
        continue
    lang = f[:-5]
    d = json.load(open(os.path.join(data, f), encoding="utf-8"))
    qs = [q["question"] for a in d["data"][20:] for p in a["paragraphs"] for q in p["qas"]]
    for q in qs[::37]:
        print(json.dumps({"lang": lang, "text": q}, ensure_ascii=False))
# Romanian (XQuAD has it, XQuAD-R does not): questions of the same kind, with its diacritics.
for q in [
    "Câți locuitori avea orașul în anul 1900, după recensământ?",
    "Cine a construit podul cel mai vechi din București?",
    "În ce an a devenit România membră a Uniunii Europene?",
    "Ce râu traversează orașul Cluj-Napoca?",
    "Care este cel mai înalt vârf din Munții Făgăraș?",
    "De ce a fost mutată capitala țării în secolul al XVII-lea?",
    "Cât de lungă este coasta României la Marea Neagră?",
    "Unde s-a născut Mihai Eminescu și ce a studiat la Viena?",
    "Ce echipă a câștigat campionatul de fotbal în 1986?",
    "Câte limbi oficiale are Elveția și care sunt acestea?",
]:
    print(json.dumps({"lang": "ro", "text": q}, ensure_ascii=False))
PY
texts() { python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in open(sys.argv[1])]' "$OUT/heldout.jsonl" | tr '\n' '\0'; }
texts | xargs -0 "$HBT" embed --model "$HBT_E5_DIR" --query 2>/dev/null > "$OUT/full.jsonl"
for b in "${BUNDLES[@]}"; do
  name=$(basename "$b")
  texts | xargs -0 "$HBT" embed --model "$b/model" --precision int8 --query --compare-to "$OUT/full.jsonl" 2>/dev/null \
    > "$OUT/$name.cos.jsonl"
done
python3 - "$OUT" "${BUNDLES[@]}" <<'PY'
import json, os, sys
out, bundles = sys.argv[1], sys.argv[2:]
held = [json.loads(l) for l in open(os.path.join(out, "heldout.jsonl"), encoding="utf-8")]
langs = list(dict.fromkeys(h["lang"] for h in held))
rows, report = [], {}
for b in bundles:
    name = os.path.basename(b.rstrip("/"))
    m = json.load(open(os.path.join(b, "manifest.json")))
    kind = m["model"].get("vocab_kind", "full")
    cos = [json.loads(l) for l in open(os.path.join(out, f"{name}.cos.jsonl"), encoding="utf-8")]
    cos = [c["cosine"] for c in cos if "cosine" in c]
    assert len(cos) == len(held), f"{name}: {len(cos)} cosines for {len(held)} questions"
    per = {}
    for l in langs:
        cs = [c for c, h in zip(cos, held) if h["lang"] == l]
        per[l] = {"n": len(cs), "at_0999": sum(c >= 0.999 for c in cs) / len(cs), "min": min(cs)}
    ok = sum(c >= 0.999 for c in cos)
    report[name] = {"vocab_kind": kind, "questions": len(cos), "at_0999": ok / len(cos), "min": min(cos), "languages": per}
    rows.append(f"| {name} ({kind}) | " + " | ".join(f"{per[l]['at_0999']:.0%} ({per[l]['min']:.5f})" for l in langs) + f" | **{ok}/{len(cos)}** |")
head = "| bundle | " + " | ".join(langs) + " | all |"
md = "\n".join([head, "|" + "---|" * (len(langs) + 2), *rows])
print(md)
open(os.path.join(out, "vocab-fidelity.md"), "w").write(md + "\n")
json.dump(report, open(os.path.join(out, "vocab-fidelity.json"), "w"), indent=1)
PY
