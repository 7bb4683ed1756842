#!/usr/bin/env python3
"""The peers of `hbt bench`: PyTorch eager (fp32, bf16 autocast) and ONNX Runtime (fp32, int8)
on the very token ids hbt ran (`hbt bench ... --dump-ids`), the same model directory,
batch and thread count. Prints one JSON line per measurement, as `hbt bench` does.

  bench_peers.py encode MODEL_DIR IDS.json --threads 1 --iters 5 [--onnx-dir DIR]
  bench_peers.py train  MODEL_DIR STEPS.json --threads 2 [--device cuda]
  bench_peers.py query  MODEL_DIR OUT.json --data MLQA_R_DIR --lang de --tokens 32 --onnx-dir DIR
      (for bench-browser.sh: the first question of that length, its ids and PyTorch fp32
      vector, and the ONNX exports ONNX Runtime Web loads)

Needs `pip install torch transformers onnxruntime onnx onnxscript` (~3 GB; never in CI).
Timing excludes tokenization on both sides of encode (hbt's includes it: a few ms).
"""
import argparse, json, os, sys, time, warnings

warnings.filterwarnings("ignore")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def load_ids(path):
    import torch
    d = json.load(open(path))
    return torch.tensor(d["ids"], dtype=torch.long), torch.tensor(d["mask"], dtype=torch.long)


def mean_pool(states, mask):
    m = mask.unsqueeze(-1).to(states.dtype)
    v = (states * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return v / v.norm(dim=-1, keepdim=True).clamp(min=1e-12)


def timeit(fn, iters, warmup=1):
    for _ in range(warmup):
        fn()
    t0 = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t0) / iters


def encode(a):
    import numpy as np
    import torch
    from transformers import AutoModel
    torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    ids, mask = (x.to(dev) for x in load_ids(a.ids))
    b, t = ids.shape
    model = AutoModel.from_pretrained(a.model, dtype=torch.float32).to(dev).eval()

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()
    out = {}

    def run_fp32():
        with torch.inference_mode():
            out["fp32"] = mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state, mask)

    def run_bf16():
        with torch.inference_mode(), torch.autocast(dev.type, dtype=torch.bfloat16):
            out["bf16"] = mean_pool(model(input_ids=ids, attention_mask=mask).last_hidden_state.float(), mask)

    def line(name, s, **extra):
        print(json.dumps({"bench": "encode", "backend": name, "device": a.device, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": a.threads, "batch": b, "seq": t,
                          "seconds_per_batch": s, "texts_per_s": b / s, **extra}), flush=True)

    s = timeit(lambda: (run_fp32(), sync()), a.iters, warmup=3)
    line("pytorch-fp32", s)
    s = timeit(lambda: (run_bf16(), sync()), a.iters, warmup=3)
    cos = float((out["bf16"] * out["fp32"]).sum(-1).min())
    line("pytorch-bf16-autocast", s, min_cosine_to_fp32=cos)
    if a.onnx_dir and dev.type == "cpu":
        import onnxruntime as ort
        fp32, int8 = export_onnx(model, a.onnx_dir, ids, mask)
        ref = out["fp32"].cpu().numpy()
        for name, path in [("onnxruntime-fp32", fp32), ("onnxruntime-int8-dynamic", int8)]:
            so = ort.SessionOptions()
            so.intra_op_num_threads = a.threads
            so.inter_op_num_threads = 1
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy()}
            res = {}

            def run():
                h = sess.run(None, feed)[0]
                m = feed["attention_mask"][..., None].astype(np.float32)
                v = (h * m).sum(1) / m.sum(1)
                res["v"] = v / np.linalg.norm(v, axis=-1, keepdims=True)

            s = timeit(run, a.iters)
            line(name, s, min_cosine_to_fp32=float((res["v"] * ref).sum(-1).min()))


def export_onnx(model, out_dir, ids, mask):
    """fp32 ONNX via torch.onnx (TorchScript exporter) and int8 via dynamic quantization
    (per-channel), both cached in out_dir."""
    import torch
    os.makedirs(out_dir, exist_ok=True)
    fp32 = os.path.join(out_dir, "model.onnx")
    int8 = os.path.join(out_dir, "model-int8.onnx")
    class Wrapped(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    if not os.path.exists(fp32):
        torch.onnx.export(Wrapped(model), (ids[:2], mask[:2]), fp32, input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"},
                                        "last_hidden_state": {0: "b", 1: "t"}})
    if not os.path.exists(int8):
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(fp32, int8, per_channel=True, weight_type=QuantType.QInt8)
    return fp32, int8


def train(a):
    import torch
    from transformers import AutoModel
    torch.set_num_threads(a.threads)
    dumped = json.load(open(a.ids))
    steps, warmup = dumped["steps"], max(1, dumped.get("warmup", 1))
    dev = torch.device(a.device)
    model = AutoModel.from_pretrained(a.model, dtype=torch.float32).to(dev).train()
    # hbt's defaults: AdamW (wd 0.01, eps 1e-8), InfoNCE at temperature 0.05, in-batch negatives.
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01, eps=1e-8)
    batches = [tuple(torch.tensor(s[side][k], device=dev) for side in ("query", "passage") for k in ("ids", "mask"))
               for s in steps]

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def step(batch, bf16):
        qi, qm, pi, pm = batch
        ctx = torch.autocast(dev.type, dtype=torch.bfloat16) if bf16 else torch.autocast(dev.type, enabled=False)
        with ctx:
            q = mean_pool(model(input_ids=qi, attention_mask=qm).last_hidden_state.float(), qm)
            p = mean_pool(model(input_ids=pi, attention_mask=pm).last_hidden_state.float(), pm)
        logits = q @ p.T / 0.05
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(q), device=dev))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # HBT_BENCH_PEERS: a comma-separated subset of the two (default: both).
    wanted = os.environ.get("HBT_BENCH_PEERS", "pytorch-fp32,pytorch-bf16-autocast").split(",")
    for name, bf16 in [(n, b) for n, b in [("pytorch-fp32", False), ("pytorch-bf16-autocast", True)] if n in wanted]:
        def timed(bs):
            out = []
            for b in bs:
                t0 = time.perf_counter()
                step(b, bf16)
                sync()
                out.append(time.perf_counter() - t0)
            return out

        warm = timed(batches[:warmup])
        times = timed(batches[warmup:])
        s = sum(times) / len(times)
        print(json.dumps({"bench": "train", "backend": name, "device": a.device, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "threads": a.threads, "batch": len(batches[0][0]),
                          "seconds_per_step": s, "median_seconds_per_step": sorted(times)[len(times) // 2],
                          "pairs_per_s": len(batches[0][0]) / s, "step_seconds": times, "warmup_seconds": warm}),
              flush=True)


def query(a):
    """Pick the first question, trying the languages of `--lang` in order, whose "query: "-prefixed
    tokenization has exactly `tokens` ids (no padding on either side of the browser benchmark), and write its
    ids, the PyTorch fp32 mean-pooled vector and the ONNX exports."""
    import torch
    from transformers import AutoModel, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(a.model)
    pick = None
    for lang in a.lang.split(","):
        path = os.path.join(a.data, f"{lang}.json")
        qs = [qa["question"] for art in json.load(open(path))["data"] for para in art["paragraphs"] for qa in para["qas"]]
        for q in qs:
            ids = tok("query: " + q)["input_ids"]
            if len(ids) == a.tokens:
                pick = (q, ids, lang, path)
                break
        if pick:
            break
    if not pick:
        sys.exit(f"{a.data}: no {a.lang} question tokenizes to exactly {a.tokens} tokens")
    text, ids, lang, path = pick
    model = AutoModel.from_pretrained(a.model, dtype=torch.float32).eval()
    t = torch.tensor([ids], dtype=torch.long)
    m = torch.ones_like(t)
    with torch.inference_mode():
        v = mean_pool(model(input_ids=t, attention_mask=m).last_hidden_state, m)[0]
    fp32, int8 = export_onnx(model, a.onnx_dir, t.repeat(2, 1), m.repeat(2, 1))
    json.dump({"text": text, "lang": lang, "source": path, "ids": ids, "torch_fp32": v.tolist(),
               "onnx": {"fp32": fp32, "int8": int8}}, open(a.ids, "w"))
    print(f"query ({lang}, {len(ids)} tokens): {text}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["encode", "train", "query"])
    p.add_argument("model")
    p.add_argument("ids")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--onnx-dir")
    p.add_argument("--device", default="cpu", help="torch device (cpu or cuda)")
    p.add_argument("--data", help="query: a LAReQA folder")
    p.add_argument("--lang", default="de")
    p.add_argument("--tokens", type=int, default=32)
    a = p.parse_args()
    {"encode": encode, "train": train, "query": query}[a.what](a)


if __name__ == "__main__":
    sys.exit(main())
