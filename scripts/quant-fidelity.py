#!/usr/bin/env python3
"""How far can the weights shrink? Weight-only quantization schemes against the f32 model,
in a plain forward pass (float64, PyTorch ops), on held-out XQuAD-R questions (articles 20 and
later; 25 a language for e5-small's six, 150 English for all-MiniLM-L6-v2).

Schemes: per-row int8 (what `hbt export --dtype q8` stores: the word table and every linear),
4-bit word table only (groups of 32 along a row, an f16 scale a group, levels -7..7) with
int8 linears, and 4-bit everything (the same symmetric 4-bit, and llama.cpp's Q4_0: d =
signed max / -8, levels -8..7).

Read the e5 rows with care: the fixture e5-small is itself dequantized from a Q4_0 package
(`../shared/tools/make-e5-small.py`), so Q4_0 with the same groups gives its weights back
exactly. all-MiniLM-L6-v2 is a genuine f32 checkpoint: its rows are what 4 bits cost.

usage: quant-fidelity.py [--e5 DIR] [--minilm DIR] [--data DIR]   (needs numpy, torch,
       tokenizers; a few minutes on 2 cores; never in CI)
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "tools"))
from bert_reference import load_safetensors  # noqa: E402
from tokenizers import Tokenizer  # noqa: E402


def q8_rows(w):
    s = np.abs(w).max(1, keepdims=True) / 127
    s[s == 0] = 1
    return np.round(w / s) * s


def q4_groups(w, levels, g=32):
    """Groups of g along each row, an f16 scale each."""
    r, c = w.shape
    b = w.reshape(-1, g)
    if levels == "q4_0":  # llama.cpp: the signed value of largest magnitude maps to -8
        mx = b[np.arange(len(b)), np.abs(b).argmax(1)]
        d, lo, hi = mx / -8, -8, 7
    else:
        d, lo, hi = np.abs(b).max(1) / 7, -7, 7
    d = d.astype(np.float16).astype(np.float64)
    d[d == 0] = 1
    return (np.clip(np.round(b / d[:, None]), lo, hi) * d[:, None]).reshape(r, c)


SCHEMES = [
    ("int8 per row, table + linears (hbt q8)", q8_rows, q8_rows),
    ("4-bit table, int8 linears", lambda w: q4_groups(w, "sym"), q8_rows),
    ("4-bit table + linears (symmetric)", lambda w: q4_groups(w, "sym"), lambda w: q4_groups(w, "sym")),
    ("4-bit table + linears (Q4_0)", lambda w: q4_groups(w, "q4_0"), lambda w: q4_groups(w, "q4_0")),
]


class Model:
    def __init__(self, d):
        self.cfg = json.load(open(f"{d}/config.json"))
        self.w0 = load_safetensors(f"{d}/model.safetensors")
        self.tok = Tokenizer.from_file(f"{d}/tokenizer.json")
        self.tok.no_padding()
        self.tok.enable_truncation(max_length=512)

    def set(self, table=None, linear=None):
        self.w = {k: torch.tensor(v) for k, v in self.w0.items()}
        if table:
            k = "embeddings.word_embeddings.weight"
            self.w[k] = torch.tensor(table(self.w0[k]))
        if linear:
            for k, v in self.w0.items():
                if k.startswith("encoder.layer") and k.endswith(".weight") and v.ndim == 2:
                    self.w[k] = torch.tensor(linear(v))

    def embed(self, text):
        c, w = self.cfg, self.w
        ids = self.tok.encode(text).ids
        T, H, nh = len(ids), c["hidden_size"], c["num_attention_heads"]
        eps = c.get("layer_norm_eps", 1e-12)
        ln = lambda x, a, b: torch.nn.functional.layer_norm(x, (H,), w[a], w[b], eps)
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:T]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = ln(x, "embeddings.LayerNorm.weight", "embeddings.LayerNorm.bias")
        hd = H // nh
        for i in range(c["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            lin = lambda v, n: v @ w[p + n + ".weight"].T + w[p + n + ".bias"]
            q, k, v = (lin(x, "attention.self." + n).reshape(T, nh, hd).transpose(0, 1)
                       for n in ("query", "key", "value"))
            a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd), -1) @ v
            x = ln(lin(a.transpose(0, 1).reshape(T, H), "attention.output.dense") + x,
                   p + "attention.output.LayerNorm.weight", p + "attention.output.LayerNorm.bias")
            x = ln(lin(torch.nn.functional.gelu(lin(x, "intermediate.dense")), "output.dense") + x,
                   p + "output.LayerNorm.weight", p + "output.LayerNorm.bias")
        e = x.mean(0)
        return e / e.norm()


def questions(data, langs, prefix, n):
    out = []
    for lang in langs:
        arts = json.load(open(f"{data}/{lang}.json"))["data"][20:]
        qs = [qa["question"] for a in arts for p in a["paragraphs"] for qa in p["qas"]]
        out += [prefix + q for q in qs[:n]]
    return out


def main():
    home = os.path.expanduser("~/.cache/hbt-fixtures")
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--e5", default=os.environ.get("HBT_E5_DIR", f"{home}/multilingual-e5-small"))
    ap.add_argument("--minilm", default=os.environ.get("HBT_MINILM_DIR", f"{home}/all-MiniLM-L6-v2"))
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "xquad-r"))
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.set_default_dtype(torch.float64)
    print("| model | weights | held-out questions | mean cosine to f32 | min | share ≥ 0.999 | share ≥ 0.998 |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for label, d, langs, prefix, n in [
        ("all-MiniLM-L6-v2 (f32 checkpoint)", a.minilm, ["en"], "", 150),
        ("multilingual-e5-small (fixture: dequantized Q4_0)", a.e5, ["de", "en", "es", "ar", "ru", "zh"], "query: ", 25),
    ]:
        m = Model(d)
        texts = questions(a.data, langs, prefix, n)
        m.set()
        ref = [m.embed(t) for t in texts]
        for name, table, linear in SCHEMES:
            m.set(table, linear)
            cs = np.array([float(m.embed(t) @ r) for t, r in zip(texts, ref)])
            print(f"| {label} | {name} | {len(cs)} | {cs.mean():.6f} | {cs.min():.6f} | "
                  f"{np.mean(cs >= 0.999):.0%} | {np.mean(cs >= 0.998):.0%} |", flush=True)


if __name__ == "__main__":
    main()
