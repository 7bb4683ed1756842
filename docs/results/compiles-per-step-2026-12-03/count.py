"""Kernels compiled and autotune results per training step, from a timestamped stderr log.

usage: python3 count.py RUN.json RUN.log.gz
RUN.json: `hbt bench train` output (warmup_seconds + step_seconds, in order);
RUN.log.gz: its stderr with cubecl's compilation/autotune logs (cubecl.toml here), each line
prefixed with seconds since start. Steps are placed end to end from the first compile line
(model loading compiles nothing), so a count may shift by a line at a step boundary.
"""
import gzip, json, sys

d = json.load(open(sys.argv[1]))
steps = d.get("warmup_seconds", []) + d["step_seconds"]
lines = gzip.open(sys.argv[2], "rt").read().splitlines()
t = lambda l: float(l.split()[0])
compiles = [l for l in lines if "[Compiling kernel]" in l]
tuned = [l for l in lines if "Fastest result" in l]
ends = [t(compiles[0])]
for s in steps:
    ends.append(ends[-1] + s)

def per_step(ls):
    out = [0] * len(steps)
    for l in ls:
        for i in range(len(steps)):
            if ends[i] - 0.01 <= t(l) < ends[i + 1]:
                out[i] += 1
                break
    return out

print("seconds  ", [round(s, 1) for s in steps])
print("compiled ", per_step(compiles), "of", len(compiles))
print("autotuned", per_step(tuned), "of", len(tuned))
