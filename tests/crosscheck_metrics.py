#!/usr/bin/env python3
"""Cross-check hbt's ranking metrics against pytrec_eval and scikit-learn.

Random runs and graded qrels are scored by `hbt score` and by pytrec_eval (trec_eval's own
code); binary AP is also checked against sklearn's average_precision_score. Every figure
must agree to 1e-6.

usage: crosscheck_metrics.py PATH/TO/hbt
"""
import json
import random
import subprocess
import sys
import tempfile

import numpy as np
import pytrec_eval
from sklearn.metrics import average_precision_score


def main():
    hbt = sys.argv[1]
    rng = random.Random(1234)
    run, qrels = {}, {}
    for q in range(60):
        qid = f"q{q}"
        n = rng.randint(5, 150)
        docs = [f"d{i}" for i in range(n)]
        run[qid] = {d: rng.random() for d in docs}
        rel = rng.sample(docs, rng.randint(1, min(12, n)))
        qrels[qid] = {d: rng.choice([1, 1, 2, 3]) for d in rel}
        if rng.random() < 0.3:  # judged but never retrieved
            qrels[qid][f"missing{q}"] = 1
    with tempfile.TemporaryDirectory() as tmp:
        rp, qp = f"{tmp}/run.trec", f"{tmp}/qrels.trec"
        with open(rp, "w") as f:
            for q, docs in run.items():
                for rank, (d, s) in enumerate(sorted(docs.items(), key=lambda x: -x[1])):
                    f.write(f"{q} Q0 {d} {rank + 1} {s!r} x\n")
        with open(qp, "w") as f:
            for q, rels in qrels.items():
                for d, r in rels.items():
                    f.write(f"{q} 0 {d} {r}\n")
        out = subprocess.run([hbt, "score", "--run", rp, "--qrels", qp], check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout)
    ev = pytrec_eval.RelevanceEvaluator(qrels, {"map", "ndcg_cut.10", "recall.100", "recall.10", "recip_rank", "map_cut.20"})
    # reciprocal rank at 10: trec_eval's recip_rank has no cutoff; cut the run instead.
    run10 = {q: dict(sorted(d.items(), key=lambda x: -x[1])[:10]) for q, d in run.items()}
    rr10 = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(run10)
    theirs = ev.evaluate(run)
    pairs = {"ap": "map", "ndcg_10": "ndcg_cut_10", "recall_100": "recall_100", "recall_10": "recall_10", "map_cut_20": "map_cut_20"}
    worst = 0.0
    for q in run:
        for ours_k, trec_k in pairs.items():
            d = abs(ours[q][ours_k] - theirs[q][trec_k])
            worst = max(worst, d)
            assert d < 1e-6, (q, ours_k, ours[q][ours_k], theirs[q][trec_k])
        d = abs(ours[q]["rr_10"] - rr10[q]["recip_rank"])
        assert d < 1e-6, (q, "rr_10", ours[q]["rr_10"], rr10[q]["recip_rank"])
        # sklearn: binary AP over the full ranking, when every relevant doc was retrieved.
        if all(d in run[q] for d in qrels[q]):
            docs = list(run[q])
            y = np.array([1 if qrels[q].get(d, 0) > 0 else 0 for d in docs])
            s = np.array([run[q][d] for d in docs])
            sk = average_precision_score(y, s)
            d = abs(ours[q]["ap"] - sk)
            worst = max(worst, d)
            assert d < 1e-6, (q, "sklearn ap", ours[q]["ap"], sk)
    print(f"crosscheck: {len(run)} queries, hbt agrees with pytrec_eval and sklearn (max diff {worst:.2e})")


if __name__ == "__main__":
    main()
