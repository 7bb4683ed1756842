// hbt's browser encoder beside ONNX Runtime Web, in one headless Chromium run (WebGPU off:
// both on wasm). Called by scripts/bench-browser.sh, which prepares everything it reads:
//
//   node tests/browser/bench.mjs --dist dist --ort DIR --query out/bench-browser/query.json \
//        --out out/bench-browser [--warmups 20] [--runs 20]
//
// The same query (query.json: its text, the full tokenizer's ids and PyTorch's fp32 vector)
// goes to hbt's app (the demo bundle, the CPU fallback) and to ONNX Runtime Web (fp32 and
// int8 ONNX exports of the same model). Each side is timed from token ids to a vector, the
// median of --runs after --warmups untimed runs (Chromium's wasm tiers up over the first
// 10–30); hbt's full search (tokenize, encode, rank the bundle's passages) is timed too.
// Every response a page loads is counted, so the sizes are what a visitor downloads.
// Cross-origin isolation headers are sent, so ONNX Runtime can use 2 threads.
import { chromium } from "playwright-core";
import { MIME, cosine, parseArgs, rangeAnswer } from "./common.mjs";
import { createServer } from "node:http";
import { readFile, writeFile, mkdir, stat, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { gzipSync } from "node:zlib";
import { join, extname, resolve } from "node:path";
import assert from "node:assert/strict";

const args = parseArgs(process.argv.slice(2));
const dist = resolve(args.dist ?? "dist");
const ortDir = resolve(args.ort);
const out = resolve(args.out ?? "out/bench-browser");
const query = JSON.parse(await readFile(resolve(args.query), "utf8"));
const WARMUPS = Number(args.warmups ?? 20);
const RUNS = Number(args.runs ?? 20);
// transformers.js (optional): its dist/, the onnxruntime-web it bundles the JS of (its wasm
// comes from here, not a CDN), and a model folder laid out as it expects (e5/config.json,
// tokenizer files, onnx/model_quantized.onnx: the same int8 export ORT Web runs).
const tjs = args.tjs ? { dist: resolve(args.tjs), ort: resolve(args["tjs-ort"]), models: resolve(args["tjs-models"]) } : null;
const chromePath = process.env.CHROMIUM ?? "/usr/bin/chromium";

// The ONNX Runtime Web page: the wasm-only build of ort, nothing else.
const ORT_PAGE = `<!DOCTYPE html><html><head><meta charset="utf-8"><script src="/ort/ort.wasm.min.js"></script></head><body>ort</body></html>`;

// What the server sent, by path: each benchmark clears it before its page loads, so the
// sizes are what that page downloaded (counted here: a page's streamed wasm and model
// responses are not readable from the browser side).
const served = new Map();
const gzipCache = new Map();

function serve() {
  const roots = [
    ...(tjs ? [["/tjs/", tjs.dist], ["/tjs-ort/", tjs.ort], ["/tjs-models/", tjs.models]] : []),
    ["/ort/", ortDir],
    ["/onnx/", resolve(query.onnx.fp32, "..")],
    ["/", dist],
  ];
  const server = createServer(async (req, res) => {
    const headers = { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" };
    try {
      let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      if (path === "/ort-bench.html") {
        res.writeHead(200, { ...headers, "content-type": MIME[".html"] });
        return res.end(ORT_PAGE);
      }
      if (path.endsWith("/")) path += "index.html";
      const [prefix, root] = roots.find(([p]) => path.startsWith(p));
      const file = join(root, path.slice(prefix.length));
      if (!file.startsWith(root)) throw new Error("outside root");
      // As a static host does: an ETag, and 304 for a copy the browser already has.
      const st = await stat(file);
      const etag = `"${st.size}-${Math.round(st.mtimeMs)}"`;
      if (req.headers["if-none-match"] === etag) {
        res.writeHead(304, { ...headers, etag });
        return res.end();
      }
      // The rows of an on-demand vocabulary come by Range reads, as from any static host.
      const type = MIME[extname(file)] ?? "application/octet-stream";
      const ranged = await rangeAnswer(file, req.headers.range, type);
      if (ranged) {
        const prev = served.get(path);
        served.set(path, { bytes: (prev?.bytes ?? 0) + ranged.body.length, gzip: null, requests: (prev?.requests ?? 0) + 1 });
        res.writeHead(ranged.status, { ...headers, ...ranged.headers });
        return res.end(ranged.body);
      }
      const body = await readFile(file);
      const data = path.startsWith("/onnx/") || path.startsWith("/demo/") || path.startsWith("/tjs-models/");
      if (!data && !gzipCache.has(file)) gzipCache.set(file, gzipSync(body, { level: 6 }).length);
      const prev = served.get(path);
      served.set(path, { bytes: (prev?.bytes ?? 0) + body.length, gzip: data ? null : (prev?.gzip ?? 0) + gzipCache.get(file), requests: (prev?.requests ?? 0) + 1 });
      res.writeHead(200, { ...headers, etag, "cache-control": "no-cache", "content-type": MIME[extname(file)] ?? "application/octet-stream", "content-length": body.length });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end("not found");
    }
  });
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

function sizes(files, isModel) {
  let model = 0, runtime = 0, runtimeGz = 0;
  for (const [url, f] of files) {
    if (isModel(url)) model += f.bytes;
    else {
      runtime += f.bytes;
      runtimeGz += f.gzip;
    }
  }
  return { model_bytes: model, runtime_bytes: runtime, runtime_gzip_bytes: runtimeGz, files: Object.fromEntries(files) };
}

const LAUNCH_ARGS = ["--no-sandbox", "--no-first-run", "--disable-gpu", "--disable-features=WebGPU", "--disable-background-networking"];

async function benchHbt(base) {
  // A profile on disk, as a visitor's browser has: an incognito context's memory cache
  // would not keep a 30 MB wasm file for the second visit.
  const profile = await mkdtemp(join(tmpdir(), "hbt-bench-profile-"));
  const context = await chromium.launchPersistentContext(profile, { executablePath: chromePath, headless: true, args: LAUNCH_ARGS });
  const page = await context.newPage();
  // When the ready line enters the page, by the page's own clock (ms after navigation):
  // polling for it from here would add the test's own latency.
  await page.addInitScript(() => {
    new MutationObserver((_, obs) => {
      if (document.getElementById("load-info")) {
        window.__hbtReadyAt = performance.now();
        requestAnimationFrame(() => { window.__hbtPaintedAt = performance.now(); });
        obs.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  const logs = [];
  page.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e) => logs.push(`pageerror: ${e.message}`));
  served.clear();
  const t0 = Date.now();
  await page.goto(`${base}/index.html?backend=cpu`);
  await page.waitForSelector("#load-info, #error", { timeout: 600_000 });
  const firstReadyMs = Date.now() - t0;
  if (await page.$("#error")) throw new Error(`hbt app error: ${await page.textContent("#error")}\n${logs.join("\n")}`);
  const marksFirst = JSON.parse(await page.getAttribute("#load-info", "data-marks"));
  const loaded = sizes(new Map(served), (u) => u.startsWith("/demo/"));
  served.clear();
  // A second visit: the bundle comes from the Cache API, the wasm from the HTTP cache.
  const t1 = Date.now();
  // A new navigation to the page, as a returning visitor makes (not a forced reload).
  await page.goto("about:blank");
  await page.goto(`${base}/index.html?backend=cpu`);
  await page.waitForSelector("#load-info", { timeout: 600_000 });
  const secondReadyMs = Date.now() - t1;
  const secondVisitNetworkBytes = [...served.values()].reduce((a, f) => a + f.bytes, 0);
  const secondVisitFiles = Object.fromEntries(served);
  const cachedBytes = Number(await page.getAttribute("#load-info", "data-cached-bytes"));
  const marksSecond = JSON.parse(await page.getAttribute("#load-info", "data-marks"));
  // When the page showed it was ready, ms after navigation (the marks are relative to the
  // app's own start, which "page navigation" places).
  await page.waitForFunction(() => window.__hbtPaintedAt !== undefined);
  const [readyPerfSecond, paintedPerfSecond] = await page.evaluate(() => [window.__hbtReadyAt, window.__hbtPaintedAt]);
  const raw = await page.evaluate(
    ([text, w, r]) => window.wasmBindings.hbt_bench_encode("demo/", text, w, r),
    [query.text, WARMUPS, RUNS],
  );
  await context.close();
  await rm(profile, { recursive: true, force: true });
  const r = JSON.parse(raw);
  return { ...r, first_visit_ready_ms: firstReadyMs, second_visit_ready_ms: secondReadyMs, second_visit_cached_bytes: cachedBytes, second_visit_network_bytes: secondVisitNetworkBytes, second_visit_files: secondVisitFiles, load_marks_first: marksFirst, load_marks_second: marksSecond, second_visit_ready_perf_ms: readyPerfSecond, second_visit_painted_perf_ms: paintedPerfSecond, ...loaded };
}

async function benchOrt(browser, base, precision, threads) {
  const context = await browser.newContext();
  const page = await context.newPage();
  served.clear();
  await page.goto(`${base}/ort-bench.html`);
  const model = `/onnx/${precision === "int8" ? "model-int8.onnx" : "model.onnx"}`;
  const r = await page.evaluate(
    async ([model, ids, threads, w, runs]) => {
      const ort = window.ort;
      ort.env.wasm.numThreads = threads;
      ort.env.wasm.simd = true;
      ort.env.wasm.wasmPaths = "/ort/";
      const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      const n = ids.length;
      const feeds = {
        input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, n]),
        attention_mask: new ort.Tensor("int64", new BigInt64Array(n).fill(1n), [1, n]),
      };
      const times = [];
      let vec;
      for (let i = 0; i < w + runs; i++) {
        const t = performance.now();
        const o = await session.run(feeds);
        const h = o.last_hidden_state;
        const dim = h.dims[2];
        const v = new Float32Array(dim);
        for (let tkn = 0; tkn < n; tkn++) for (let d = 0; d < dim; d++) v[d] += h.data[tkn * dim + d] / n;
        const ms = performance.now() - t;
        if (i >= w) times.push(ms);
        vec = Array.from(v);
      }
      return { times, vec, isolated: window.crossOriginIsolated };
    },
    [model, query.ids, threads, WARMUPS, RUNS],
  );
  await context.close();
  const sorted = [...r.times].sort((a, b) => a - b);
  const med = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return { encode_ms: r.times, encode_median_ms: med, vector: r.vec, cross_origin_isolated: r.isolated, ...sizes(new Map(served), (u) => u.startsWith("/onnx/")) };
}

/** transformers.js's feature-extraction pipeline on the q8 export, text in, mean-pooled
 * vector out (its own tokenizer included: its users pay for it on every query). */
async function benchTjs(browser, base, threads) {
  const context = await browser.newContext();
  const page = await context.newPage();
  served.clear();
  await page.goto(`${base}/ort-bench.html`);
  const r = await page.evaluate(
    async ([text, threads, w, runs]) => {
      const { pipeline, env } = await import("/tjs/transformers.min.js");
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      env.localModelPath = "/tjs-models/";
      env.useBrowserCache = false;
      env.backends.onnx.wasm.wasmPaths = "/tjs-ort/";
      env.backends.onnx.wasm.numThreads = threads;
      const extract = await pipeline("feature-extraction", "e5", { dtype: "q8", device: "wasm" });
      const ids = Array.from(extract.tokenizer(text).input_ids.data, Number);
      const times = [];
      let vec;
      for (let i = 0; i < w + runs; i++) {
        const t = performance.now();
        const o = await extract(text, { pooling: "mean", normalize: false });
        const ms = performance.now() - t;
        if (i >= w) times.push(ms);
        vec = Array.from(o.data);
      }
      return { times, vec, ids, isolated: window.crossOriginIsolated };
    },
    [`query: ${query.text}`, threads, WARMUPS, RUNS],
  );
  await context.close();
  const sorted = [...r.times].sort((a, b) => a - b);
  const med = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  const files = new Map(served);
  return { encode_ms: r.times, encode_median_ms: med, vector: r.vec, ids: r.ids, cross_origin_isolated: r.isolated, ...sizes(files, (u) => u.startsWith("/tjs-models/")) };
}

async function main() {
  await mkdir(out, { recursive: true });
  await stat(join(dist, "demo", "manifest.json")).catch(() => {
    throw new Error(`${dist}/demo/manifest.json is missing: run scripts/build-web.sh first`);
  });
  const manifest = JSON.parse(await readFile(join(dist, "demo", "manifest.json"), "utf8"));
  const server = await serve();
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: chromePath,
    headless: true,
    args: LAUNCH_ARGS,
  });
  const rows = [];
  try {
    const version = browser.version();
    console.log(`Chromium ${version}; query (${query.lang}, ${query.ids.length} tokens): ${query.text}`);
    const h = await benchHbt(base);
    assert.equal(h.backend, "CPU");
    // Where hbt's encode goes in its worker (each step timed, over the same runs again).
    if (h.profile) {
      const steps = h.profile.steps_ms.map(([k, ms]) => `${k} ${ms.toFixed(2)} ms`).join(", ");
      console.log(`hbt encode, profiled: ${h.profile.encode_ms.toFixed(2)} ms = ${steps}, other ${h.profile.other_ms.toFixed(2)} ms`);
    }
    assert.equal(h.tokens, query.ids.length, `hbt's bundle tokenizes the query to ${h.tokens} tokens, the full tokenizer to ${query.ids.length}`);
    rows.push({
      system: "hbt (CPU fallback, in its Web Worker, simd128)",
      // A q8 bundle's linears multiply as integers on the CPU (hbt_model::int8).
      precision: `${/^q8$/i.test(manifest.model.dtype) ? "int8 weights × 16-bit activations (integer products)" : `f32 compute, ${manifest.model.dtype} weights`}, vocabulary ${manifest.model.vocab?.after ?? "full"}`,
      threads: 1,
      encode_median_ms: h.encode_median_ms,
      search_median_ms: h.search_median_ms,
      tokenize_median_ms: h.tokenize_median_ms,
      rank_median_ms: h.rank_median_ms,
      search_worker_median_ms: h.search_worker_median_ms,
      passages: h.passages,
      cosine_to_pytorch: cosine(h.vector, query.torch_fp32),
      model_bytes: h.model_bytes,
      runtime_bytes: h.runtime_bytes,
      runtime_gzip_bytes: h.runtime_gzip_bytes,
      first_visit_ready_ms: h.first_visit_ready_ms,
      second_visit_ready_ms: h.second_visit_ready_ms,
      second_visit_cached_bytes: h.second_visit_cached_bytes,
      second_visit_network_bytes: h.second_visit_network_bytes,
      raw: h,
    });
    console.log(JSON.stringify({ ...rows.at(-1), raw: undefined }));
    for (const [precision, threads] of [["fp32", 1], ["int8", 1], ["fp32", 2], ["int8", 2]]) {
      const o = await benchOrt(browser, base, precision, threads);
      rows.push({
        system: "ONNX Runtime Web (wasm)",
        precision,
        threads,
        encode_median_ms: o.encode_median_ms,
        cosine_to_pytorch: cosine(o.vector, query.torch_fp32),
        cross_origin_isolated: o.cross_origin_isolated,
        model_bytes: o.model_bytes,
        runtime_bytes: o.runtime_bytes,
        runtime_gzip_bytes: o.runtime_gzip_bytes,
        raw: o,
      });
      console.log(JSON.stringify({ ...rows.at(-1), raw: undefined }));
    }
    if (tjs) {
      for (const threads of [1, 2]) {
        const t = await benchTjs(browser, base, threads);
        assert.deepEqual(t.ids, query.ids, "transformers.js tokenizes the query differently from the full tokenizer");
        rows.push({
          system: "transformers.js 4.3 (its ONNX Runtime Web, wasm), text to vector incl. its tokenizer",
          precision: "q8 (the int8 export above)",
          threads,
          encode_median_ms: t.encode_median_ms,
          cosine_to_pytorch: cosine(t.vector, query.torch_fp32),
          cross_origin_isolated: t.cross_origin_isolated,
          model_bytes: t.model_bytes,
          runtime_bytes: t.runtime_bytes,
          runtime_gzip_bytes: t.runtime_gzip_bytes,
          raw: t,
        });
        console.log(JSON.stringify({ ...rows.at(-1), raw: undefined }));
      }
    }
    const ortFp32 = rows.find((r) => r.precision === "fp32" && r.threads === 1);
    const mb = (b) => (b / 1e6).toFixed(1);
    const lines = [
      `Chromium ${version}, headless, WebGPU off (wasm on both sides); query (${query.lang}, ${query.ids.length} tokens): "${query.text}"; median of ${RUNS} runs after ${WARMUPS} warm-ups.`,
      "",
      "| system | precision | threads | encode ms (median) | × ORT Web fp32 1 thread | cosine to PyTorch fp32 | model MB loaded | runtime MB (gzip) |",
      "|---|---|---|---|---|---|---|---|",
      ...rows.map((r) =>
        `| ${r.system} | ${r.precision} | ${r.threads} | ${r.encode_median_ms.toFixed(1)} | ${(ortFp32.encode_median_ms / r.encode_median_ms).toFixed(2)} | ${r.cosine_to_pytorch.toFixed(5)} | ${mb(r.model_bytes)} | ${mb(r.runtime_bytes)} (${mb(r.runtime_gzip_bytes)}) |`,
      ),
      "",
      `hbt, what a visitor sees: search (tokenize + encode in the worker, rank ${rows[0].passages} passages on the page) ${rows[0].search_median_ms.toFixed(1)} ms median ` +
        `(the worker's share ${rows[0].search_worker_median_ms.toFixed(1)} ms, of which tokenizing ${rows[0].tokenize_median_ms.toFixed(1)} ms; ranking ${rows[0].rank_median_ms.toFixed(1)} ms); ` +
        `first visit ready in ${(rows[0].first_visit_ready_ms / 1e3).toFixed(1)} s (local server), second visit ${(rows[0].second_visit_ready_ms / 1e3).toFixed(1)} s ` +
        `with ${mb(rows[0].second_visit_cached_bytes)} MB from the Cache API and ${mb(rows[0].second_visit_network_bytes)} MB over the network ` +
        `(the app's own loading steps, s after its start, second visit: ${rows[0].raw.load_marks_second.map(([k, ms]) => `${k} ${(ms / 1e3).toFixed(2)}`).join(", ")}; the ready line in the page ${(rows[0].raw.second_visit_ready_perf_ms / 1e3).toFixed(2)} s after navigation, painted ${(rows[0].raw.second_visit_painted_perf_ms / 1e3).toFixed(2)} s). "× ORT" above 1 means faster than ONNX Runtime Web fp32 on 1 thread.`,
    ];
    await writeFile(join(out, "bench-browser.md"), lines.join("\n") + "\n");
    await writeFile(join(out, "bench-browser.json"), JSON.stringify({ chromium: version, query, warmups: WARMUPS, runs: RUNS, rows }, null, 1));
    console.log(lines.join("\n"));
  } finally {
    await browser.close();
    server.close();
  }
}

main().catch((e) => {
  console.error(`bench-browser FAILED: ${e.stack ?? e}`);
  process.exit(1);
});
