// What a returning visitor waits for, app by app: each --dist is served in turn, visited
// once (the bundle goes into the Cache API), then reloaded --visits times; each reload's
// load marks (the worker's "model files", "tokenizer" and "encoder" steps, and "ready") are
// read from the page. Prints one JSON line per app with each step's median in ms, so two
// builds of the app can be compared in one browser run (scripts/bench-second-visit.sh).
//
//   node tests/browser/second-visit.mjs --dist dist-a,dist-b [--visits 7]
import { chromium } from "playwright-core";
import { parseArgs, serve } from "./common.mjs";
import { resolve } from "node:path";

const args = parseArgs(process.argv.slice(2));
const dists = (args.dist ?? "dist").split(",").map((d) => resolve(d));
const VISITS = Number(args.visits ?? 7);


const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--no-first-run", "--disable-gpu", "--disable-features=WebGPU"],
});
try {
  for (const dist of dists) {
    const server = await serve(dist);
    const page = await (await browser.newContext()).newPage();
    const url = `http://127.0.0.1:${server.address().port}/`;
    await page.goto(url);
    await page.waitForSelector("#load-info", { timeout: 300_000 });
    const steps = {};
    for (let v = 0; v < VISITS; v++) {
      await page.reload();
      await page.waitForSelector("#load-info", { timeout: 300_000 });
      const marks = Object.fromEntries(JSON.parse(await page.getAttribute("#load-info", "data-marks")));
      const at = (k) => {
        if (!(k in marks)) throw new Error(`${dist}: no "${k}" mark in ${JSON.stringify(marks)}`);
        return marks[k];
      };
      const add = (k, ms) => (steps[k] ??= []).push(ms);
      add("model_files_ms", at("model files") - at("encoder worker started, manifest read"));
      add("tokenizer_ms", at("tokenizer") - at("model files"));
      add("encoder_ms", at("encoder") - at("tokenizer"));
      add("ready_ms", at("ready"));
    }
    const out = { dist, visits: VISITS };
    for (const [k, xs] of Object.entries(steps)) out[k] = Math.round(median(xs) * 10) / 10;
    console.log(JSON.stringify(out));
    await page.close();
    server.close();
  }
} finally {
  await browser.close();
}
