// The docs widget in Chromium, on a real documentation site.
//
//   node tests/browser/docs.mjs --site out/docs-site --hbt target/release/hbt --out out/docs-browser
//
// --site is what scripts/mdbook-site.sh wrote: the Rust book built by mdBook with the hbt box
// in its menu bar (book/), its docs bundle (hbt-bundles/book/) and the app (hbt-app/). The
// test serves it on localhost and checks, in order:
//  1. the page's load fetches only the widget's script, style and config (≤ 30 KB gzip
//     together), nothing of the engine, until the visitor presses "/";
//  2. a German and a Chinese question, typed into the box, land on the expected English
//     sections (Enter follows the first result), and the top 5 equal `hbt search`'s;
//  3. the box is an ARIA combobox whose listbox axe-core finds no violations in;
//  4. ↑ ↓ Esc work, a second visit answers from the cache, a warm query's encoding time;
//  5. a plain HTML page on another origin than the bundle: with CORS the box answers,
//     without it it says search is unavailable and the page keeps working; a box added by
//     client-side navigation works with the engine already loaded; the older
//     `data-hbt-bundle` snippet still mounts its frame.
// Timings are printed (never asserted); a screenshot of the open results goes to --out.
import { chromium } from "playwright-core";
import { parseArgs, serve } from "./common.mjs";
import { mkdir, writeFile, readFile, readdir, rm, symlink } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const args = parseArgs(process.argv.slice(2));
const site = resolve(args.site ?? "out/docs-site");
const hbt = resolve(args.hbt ?? "target/release/hbt");
const out = resolve(args.out ?? "out/docs-browser");
const chromePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const here = dirname(fileURLToPath(import.meta.url));
const TIMEOUT = 5 * 60_000;
await mkdir(out, { recursive: true });

// Written before the first run, from what the book's sections are about (not from results).
const QUESTIONS = [
  { lang: "de", text: "Wie erstelle ich einen neuen Vektor und füge Elemente hinzu?", page: "/book/ch08-01-vectors.html" },
  { lang: "zh", text: "如何在 Rust 中读取文件的内容?", page: "/book/ch12-02-reading-a-file.html" },
];

const flags = ["--no-sandbox", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-gpu", "--disable-features=WebGPU"];
const browser = await chromium.launch({ executablePath: chromePath, headless: true, args: flags });
const server = await serve(site);
const base = `http://127.0.0.1:${server.address().port}`;
const report = {};

function hbtSearch(q) {
  const o = execFileSync(hbt, ["search", "--bundle", join(site, "hbt-bundles/book"), "--backend", "cpu", "-k", "6", q], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  return o.trim().split("\n").map((l) => JSON.parse(l));
}

/** The widget's top 5 are `hbt search`'s: the same sections in the same order, each score
 * within 0.002 — except that two sections whose native scores are within 0.002 of each other
 * (a tie at the browser's rounding) may trade places, in the order or at the fifth place. */
function sameTop5(web, native) {
  const TIE = 2e-3;
  const nativeScore = new Map(native.map((h) => [h.url, h.score]));
  for (const [j, h] of web.entries()) {
    const ns = nativeScore.get(h.url);
    assert.ok(ns !== undefined, `widget result ${j + 1} (${h.url}) is not in hbt search's top 6`);
    assert.ok(Math.abs(ns - h.score) < TIE, `${h.url}: widget score ${h.score}, hbt search ${ns}`);
    if (h.url !== native[j].url) {
      assert.ok(Math.abs(ns - native[j].score) < TIE, `result ${j + 1}: widget ${h.url} (${ns}), hbt search ${native[j].url} (${native[j].score}): not a tie`);
    }
  }
  assert.equal(web.length, 5);
}

/** Type `q` into the page's box and wait for its results (the `hbt-results` event). */
async function ask(page, q) {
  const wait = page.evaluate(
    () => new Promise((ok) => document.addEventListener("hbt-results", (e) => ok({ hits: e.detail.hits, ms: e.detail.ms, encode_ms: e.detail.encode_ms, t: performance.now() }), { once: true }))
  );
  const box = page.locator("hbt-search input");
  await box.fill(q);
  return wait;
}

/** Focus the box `#id` of `page`, type `q`; resolves with that box's hits. */
async function askBox(page, id, q) {
  await page.locator(`#${id} input`).focus();
  const wait = page.evaluate((id) => new Promise((ok) => document.querySelector(`#${id}`).addEventListener("hbt-results", (e) => ok(e.detail.hits), { once: true })), id);
  await page.locator(`#${id} input`).fill(q);
  return wait;
}

try {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  page.on("pageerror", (e) => console.log("page error:", e.message));
  // The engine's frame logs its panics (console_error_panic_hook) and load failures here.
  page.on("console", (m) => m.type() === "error" && console.log("console error:", m.text()));
  // Each page's "ready" from its engine: `kept` when the page found it loaded.
  await page.addInitScript(() => {
    window.__hbtReady = [];
    document.addEventListener("hbt-ready", (e) => window.__hbtReady.push(e.detail));
  });

  // 1. What the page loads before anyone touches the box.
  const start = server.log.length;
  await page.goto(`${base}/book/ch01-01-installation.html`, { waitUntil: "networkidle" });
  await page.waitForSelector("hbt-search");
  const before = server.log.slice(start);
  const hbtFiles = before.filter((r) => r.path.startsWith("/book/hbt/"));
  const hbtBytes = hbtFiles.reduce((s, r) => s + r.bytes, 0);
  // mdBook 0.5 puts a content hash in additional files' names (widget-bf1a9c16.js).
  const unhashed = (p) => p.replace(/-[0-9a-f]{8}(\.\w+)$/, "$1");
  assert.deepEqual(hbtFiles.map((r) => unhashed(r.path)).sort(), ["/book/hbt/hbt-config.js", "/book/hbt/hbt-search.css", "/book/hbt/widget.js"]);
  assert.ok(!before.some((r) => r.path.startsWith("/hbt-app/") || r.path.startsWith("/hbt-bundles/")), "the engine loaded before any interaction");
  assert.ok(hbtBytes <= 30 * 1024, `the widget adds ${hbtBytes} bytes before interaction`);
  report.bytes_before_interaction = hbtBytes;
  console.log(`docs: before interaction the widget adds ${hbtBytes} bytes (gzip) in ${hbtFiles.length} files; no engine request`);

  // 2. "/" focuses the box and starts the engine; the first question is typed at once.
  const t0 = await page.evaluate(() => performance.now());
  await page.keyboard.press("/");
  assert.equal(await page.evaluate(() => document.querySelector("hbt-search").shadowRoot.activeElement?.tagName), "INPUT");
  const answers = [];
  for (const [i, q] of QUESTIONS.entries()) {
    const r = await ask(page, q.text);
    if (i === 0) {
      report.first_answer_after_focus_ms = r.t - t0;
      console.log(`docs: first answer ${((r.t - t0) / 1000).toFixed(2)} s after "/" (cold cache, CPU backend)`);
    }
    if (i === 0) {
      // The engine that answered: the CPU-only build (the app's cpu/ folder), not the full
      // app, whose wasm is three times the size (web/widget.js says why).
      const engineFiles = server.log.slice(start).map((r) => r.path).filter((p) => p.startsWith("/hbt-app/"));
      assert.ok(engineFiles.some((p) => /^\/hbt-app\/cpu\/hbt-web-[0-9a-f]+_bg\.wasm$/.test(p)), `the CPU-only engine did not load: ${engineFiles.join(", ")}`);
      assert.ok(!engineFiles.some((p) => /^\/hbt-app\/hbt-web-[0-9a-f]+_bg\.wasm$/.test(p)), `the full app's wasm loaded for a CPU engine: ${engineFiles.join(", ")}`);
      console.log(`docs: the engine is the CPU-only build: ${engineFiles.join(", ")}`);
      // The manifest crosses the network once: the widget revalidates it, the worker takes
      // that copy from the HTTP cache (it is named in the worker's URL).
      const manifestReads = server.log.slice(start).filter((r) => r.path === "/hbt-bundles/book/manifest.json").length;
      assert.equal(manifestReads, 1, "the manifest was fetched more than once on the engine's start");
    }
    const native = hbtSearch(q.text);
    console.log(`docs: ${q.lang} "${q.text}"`);
    r.hits.forEach((h, j) => console.log(`   ${h.rank}. ${h.score.toFixed(4)} ${h.url}   | hbt search: ${native[j]?.score.toFixed(4)} ${native[j]?.url}`));
    sameTop5(r.hits, native);
    answers.push(r);
  }

  // 3. ARIA: a combobox owning a listbox of options, checked by axe-core.
  const aria = await page.evaluate(() => {
    const root = document.querySelector("hbt-search").shadowRoot;
    const input = root.querySelector("input");
    const list = root.getElementById(input.getAttribute("aria-controls"));
    return { role: input.getAttribute("role"), expanded: input.getAttribute("aria-expanded"), listRole: list?.getAttribute("role"), options: list?.querySelectorAll("[role=option]").length };
  });
  assert.deepEqual(aria, { role: "combobox", expanded: "true", listRole: "listbox", options: 5 });
  await page.addScriptTag({ path: join(here, "node_modules/axe-core/axe.min.js") });
  const axe = await page.evaluate(async () => {
    const r = await window.axe.run(document.querySelector("hbt-search"), { resultTypes: ["violations"] });
    return r.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`);
  });
  assert.deepEqual(axe, [], `axe-core violations: ${axe.join("; ")}`);
  console.log("docs: axe-core finds no violations in the open widget");

  // 4. Keys: ↓ ↓ ↑ selects the first option; Esc closes; the screenshot shows the results.
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("ArrowUp");
  const active = await page.evaluate(() => {
    const root = document.querySelector("hbt-search").shadowRoot;
    return root.querySelector("input").getAttribute("aria-activedescendant") === root.querySelector("[role=option]").id;
  });
  assert.ok(active, "↓ ↓ ↑ did not select the first option");
  await page.screenshot({ path: join(out, "widget-mdbook.png") });
  await page.keyboard.press("Escape");
  assert.equal(await page.evaluate(() => document.querySelector("hbt-search").shadowRoot.querySelector("input").getAttribute("aria-expanded")), "false");

  // Enter follows the first result: each question lands on its English section.
  for (const q of QUESTIONS) {
    await ask(page, q.text);
    await Promise.all([page.waitForURL((u) => u.pathname === q.page), page.locator("hbt-search input").press("Enter")]);
    const url = new URL(page.url());
    console.log(`docs: ${q.lang} question → ${url.pathname}${url.hash}`);
    assert.equal(url.pathname, q.page);
    // The page reloaded (mdBook pages are separate documents): focus the new box.
    await page.waitForSelector("hbt-search");
    await page.locator("hbt-search input").focus();
  }

  // The next page of the site: its box connects to the engine the last page loaded (the
  // shared worker the browser kept across the page load), not to a new one.
  const t1 = await page.evaluate(() => performance.now());
  const again = await ask(page, "Was ist Ownership?");
  const ready = await page.evaluate(() => window.__hbtReady[0]);
  assert.ok(ready?.kept, `the next page's engine was not the one already loaded: ${JSON.stringify(ready)}`);
  report.next_page_first_answer_ms = again.t - t1;
  const warm = [];
  for (const q of ["Was sind Closures?", "什么是生命周期?", "¿Cómo se usan los traits?"]) warm.push((await ask(page, q)).encode_ms);
  report.warm_encode_ms = warm;
  console.log(`docs: the next page found the engine loaded (${(ready.engine_age_ms / 1000).toFixed(1)} s old): first answer ${(again.t - t1).toFixed(0)} ms after the question; warm queries encoded in ${warm.map((m) => m.toFixed(1)).join(", ")} ms`);

  // A re-exported bundle (here: its manifest rewritten) gets a new engine, not the one a
  // tab has kept since: the engine is named by the manifest as the server has it now.
  const manifestPath = join(site, "hbt-bundles/book/manifest.json");
  const manifestText = await readFile(manifestPath, "utf8");
  await writeFile(manifestPath, manifestText + "\n");
  const changedAt = server.log.length;
  try {
    await page.goto(`${base}/book/ch04-01-what-is-ownership.html`, { waitUntil: "load" });
    await page.locator("hbt-search input").focus();
    const r = await ask(page, QUESTIONS[0].text);
    sameTop5(r.hits, hbtSearch(QUESTIONS[0].text));
    const fresh = await page.evaluate(() => window.__hbtReady[0]);
    assert.ok(fresh && !fresh.kept, `a changed bundle was answered by the engine kept from before it: ${JSON.stringify(fresh)}`);
    // The new engine's start: one manifest request, and its module (a content-hashed name)
    // straight from the HTTP cache, not revalidated.
    const restart = server.log.slice(changedAt).map((r) => `${r.status} ${r.path}`);
    assert.equal(restart.filter((l) => l.endsWith("/hbt-bundles/book/manifest.json")).length, 1, `manifest requests: ${restart.join(", ")}`);
    assert.ok(!restart.some((l) => /\/cpu\/hbt-web-[0-9a-f]+_bg\.wasm$/.test(l)), `the engine's module was requested again: ${restart.join(", ")}`);
  } finally {
    await writeFile(manifestPath, manifestText);
  }
  console.log("docs: a changed bundle (its manifest) starts a new engine rather than the kept one");

  // 4b. A returning searcher: the next page starts the engine by itself once idle (from the
  // caches), so the box answers as soon as it is asked; preload="none" opts out.
  const p3 = await context.newPage();
  p3.setDefaultTimeout(TIMEOUT);
  await p3.addInitScript(() => {
    window.__hbtReady = new Promise((ok) => document.addEventListener("hbt-ready", () => ok(performance.now()), { once: true }));
  });
  await p3.goto(`${base}/book/ch03-00-common-programming-concepts.html`, { waitUntil: "load" });
  const readyAt = await p3.evaluate(() => window.__hbtReady);
  const focusAt = await p3.evaluate(() => performance.now());
  const warmStart = await ask(p3, QUESTIONS[0].text);
  sameTop5(warmStart.hits, hbtSearch(QUESTIONS[0].text));
  report.warm_start = { ready_after_load_ms: Math.round(readyAt), first_answer_after_focus_ms: Math.round(warmStart.t - focusAt) };
  console.log(`docs: returning searcher: engine ready ${(readyAt / 1000).toFixed(2)} s into the page untouched; first answer ${(warmStart.t - focusAt).toFixed(0)} ms after focus`);
  await p3.close();
  await writeFile(join(site, "no-preload.html"), `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>No preload</title>
<script src="/hbt-app/widget.js" defer></script></head><body><hbt-search src="/hbt-bundles/book/" app="/hbt-app/" preload="none"></hbt-search></body></html>`);
  const p4 = await context.newPage();
  const quietAt = server.log.length;
  await p4.goto(`${base}/no-preload.html`, { waitUntil: "load" });
  await p4.waitForTimeout(3000);
  assert.ok(!server.log.slice(quietAt).some((r) => /^\/hbt-app\/(index|engine|cpu\/)/.test(r.path) || r.path.startsWith("/hbt-bundles/")), 'preload="none": the engine started without being asked');
  await p4.close();
  console.log('docs: preload="none": nothing loads until the box is used');

  // 5. A plain HTML site whose bundle is on another origin.
  const bundleCors = await serve(join(site, "hbt-bundles/book"), { cors: true });
  const bundleClosed = await serve(join(site, "hbt-bundles/book"));
  // The app on another origin (a CDN): the element starts the engine through engine.html.
  const appOther = await serve(join(site, "hbt-app"));
  const other = (s) => `http://localhost:${s.address().port}/`;
  const plain = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Plain docs page</title>
<script src="/hbt-app/widget.js" defer></script></head><body><main><h1>Plain page</h1>
<hbt-search id="open" src="${other(bundleCors)}" app="/hbt-app/"></hbt-search>
<hbt-search id="closed" src="${other(bundleClosed)}" app="/hbt-app/" style="margin-top:1em"></hbt-search>
<button id="b" onclick="this.textContent='clicked'">host button</button>
<hbt-search id="framed" src="/hbt-bundles/book/" app="/hbt-app/" engine="frame" style="margin-top:1em"></hbt-search>
<hbt-search id="full" src="/hbt-bundles/book/" app="/hbt-app-full/" style="margin-top:1em"></hbt-search>
<hbt-search id="cdn" src="${other(bundleCors)}" app="${other(appOther)}" style="margin-top:1em"></hbt-search>
<div id="spa"></div>
<div data-hbt-bundle="/hbt-bundles/book/" data-hbt-height="200px"></div></main></body></html>`;
  await writeFile(join(site, "plain.html"), plain);
  // An app folder deployed without the CPU-only build (dist/ alone): links to hbt-app's
  // files but its cpu/ folder.
  await rm(join(site, "hbt-app-full"), { recursive: true, force: true });
  await mkdir(join(site, "hbt-app-full"));
  for (const f of await readdir(join(site, "hbt-app"))) if (f !== "cpu") await symlink(join(site, "hbt-app", f), join(site, "hbt-app-full", f));
  const p2 = await context.newPage();
  p2.setDefaultTimeout(TIMEOUT);
  await p2.goto(`${base}/plain.html`);
  await p2.locator("#closed input").focus();
  await p2.waitForFunction(() => /unavailable/.test(document.querySelector("#closed").shadowRoot.querySelector(".status").textContent), null, { timeout: TIMEOUT });
  const closedMsg = await p2.evaluate(() => document.querySelector("#closed").shadowRoot.querySelector(".status").textContent);
  console.log(`docs: bundle without CORS: "${closedMsg}"`);
  await p2.click("#b");
  assert.equal(await p2.textContent("#b"), "clicked");
  const wait = askBox(p2, "open", QUESTIONS[0].text);
  const crossHits = await wait;
  assert.equal(crossHits[0].url, answers[0].hits[0].url, "a bundle on another origin (CORS) answers as the same bundle does");
  console.log("docs: bundle on another origin with CORS: the same first result");
  // engine="frame" (the path of browsers without a long-lived shared worker): the app
  // itself runs the engine in the frame, and answers the same.
  const waitFramed = askBox(p2, "framed", QUESTIONS[0].text);
  sameTop5(await waitFramed, hbtSearch(QUESTIONS[0].text));
  assert.ok(server.log.some((r) => r.path.startsWith("/hbt-app/index.html")), 'engine="frame" did not load the app in its frame');
  console.log('docs: engine="frame" answers with the app in the frame, the same top 5');
  // Without cpu/ the engine is the full app's, in a shared worker all the same.
  const waitFull = askBox(p2, "full", QUESTIONS[0].text);
  sameTop5(await waitFull, hbtSearch(QUESTIONS[0].text));
  const fullLog = server.log.map((r) => `${r.status} ${r.path}`).filter((l) => l.includes("/hbt-app-full/"));
  assert.ok(fullLog.some((l) => /^404 \/hbt-app-full\/cpu\/engine-worker\.js/.test(l)), `no try of cpu/ first: ${fullLog.join(", ")}`);
  assert.ok(fullLog.some((l) => /^200 \/hbt-app-full\/engine-worker\.js/.test(l)) && fullLog.some((l) => /^200 \/hbt-app-full\/hbt-web-[0-9a-f]+_bg\.wasm/.test(l)), `the full app's engine did not start: ${fullLog.join(", ")}`);
  console.log("docs: an app folder without cpu/ starts the full app's engine (shared worker), the same top 5");
  const waitCdn = askBox(p2, "cdn", QUESTIONS[0].text);
  const cdnHits = await waitCdn;
  assert.equal(cdnHits[0].url, answers[0].hits[0].url, "an app on another origin answers as the same bundle does");
  const cdnLog = appOther.log.map((r) => r.path);
  assert.ok(cdnLog.includes("/engine.html") && cdnLog.includes("/cpu/engine-worker.js"), `the app on another origin: ${cdnLog.join(", ")}`);
  console.log("docs: an app on another origin (engine.html in a frame there, its CPU engine) gives the same first result");
  // Client-side navigation: a new box inserted later mounts and answers (shared engine).
  const frames = await p2.evaluate(() => document.querySelectorAll("iframe[title='hbt search engine']").length);
  const routedAt = server.log.length;
  await p2.evaluate((src) => {
    history.pushState({}, "", "/plain.html#next");
    document.querySelector("#open").remove();
    document.querySelector("#spa").innerHTML = `<hbt-search id="later" src="${src}" app="/hbt-app/"></hbt-search>`;
  }, other(bundleCors));
  const wait2 = askBox(p2, "later", QUESTIONS[1].text);
  assert.equal((await wait2)[0].url, answers[1].hits[0].url);
  assert.equal(await p2.evaluate(() => document.querySelectorAll("iframe[title='hbt search engine']").length), frames, "a new box started a second engine");
  assert.ok(!server.log.slice(routedAt).some((r) => /engine(-worker)?\.(js|html)$|_bg\.wasm$/.test(r.path)), "a new box started a second engine");
  assert.equal(await p2.locator("[data-hbt-bundle] iframe.hbt-widget-frame").count(), 1, "the older data-hbt-bundle snippet did not mount");
  console.log("docs: a box added by client-side navigation answers with the loaded engine; the older snippet mounts its frame");
  bundleCors.close();
  bundleClosed.close();
  appOther.close();
  await writeFile(join(out, "docs-browser.json"), JSON.stringify(report, null, 2));
  console.log("docs browser test: all passed");
} finally {
  await browser.close();
  server.close();
}
