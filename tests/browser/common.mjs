// What the browser tests and the browser benchmark share: the content types their local
// servers send, a static server, the command-line parsing and the cosine of two vectors.

import { createServer } from "node:http";
import { readFile, open, stat } from "node:fs/promises";
import { join, extname } from "node:path";
import { gzipSync } from "node:zlib";

/** What a static host compresses on the wire (GitHub Pages, Netlify and Cloudflare gzip or
 * brotli these types); an on-demand vocabulary's rows (Range reads) and the already
 * compressed tokenizer pieces go as they are. */
const COMPRESS = new Set([".html", ".js", ".mjs", ".css", ".wasm", ".json", ".safetensors", ".svg"]);

export const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".css": "text/css",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".safetensors": "application/octet-stream",
  ".bin": "application/octet-stream",
  ".pieces": "application/octet-stream",
  ".svg": "image/svg+xml",
  ".png": "image/png",
};

/** `--name value` pairs of argv into an object. */
export function parseArgs(argv) {
  return Object.fromEntries(argv.reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
}

export function cosine(a, b) {
  let d = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return d / Math.sqrt(na * nb);
}

/**
 * A static server for `root` on a free local port (404 for anything missing or outside it).
 * It answers `Range: bytes=a-b` with 206 and those bytes, and several ranges
 * (`bytes=a-b,c-d`) with one 206 `multipart/byteranges` body, as nginx and Apache do, and
 * counts what it sent in `server.log`: one `{path, range, status, bytes}` per request.
 * Options, to test a client against other servers and ones that misbehave: `singleRange`
 * (416 to several ranges, as trunk serve's tower-http does), `noRange` (ignore Range: 200
 * and the whole file, as python3 -m http.server does), `shiftRange` (answer each range with
 * the bytes `shiftRange` further on: a wrong answer of the right length), `gzip` (default
 * on: compress COMPRESS types for clients that accept it, as static hosts do).
 * `cors`: allow any origin (a bundle on a CDN); off, as on a host that does not say so.
 * `bytes` in the log is what went on the wire, `raw` the file's bytes.
 */
export function serve(root, { noRange = false, singleRange = false, shiftRange = 0, gzip = true, cors = false, validators: revalidate = true } = {}) {
  const log = [];
  const gzipped = new Map();
  const server = createServer(async (req, res) => {
    if (cors) {
      // What a bundle on another origin needs: reads by any page, Range (several ranges
      // make the browser ask first), and the range headers readable.
      res.setHeader("access-control-allow-origin", "*");
      res.setHeader("access-control-expose-headers", "content-range, content-length, accept-ranges");
      if (req.method === "OPTIONS") {
        res.writeHead(204, { "access-control-allow-headers": "range", "access-control-allow-methods": "GET, HEAD", "access-control-max-age": "600" });
        return res.end();
      }
    }
    try {
      let path = decodeURIComponent(new URL(req.url, "http://x").pathname);
      if (path.endsWith("/")) path += "index.html";
      const file = join(root, path);
      if (!file.startsWith(root)) throw new Error("outside root");
      const type = MIME[extname(file)] ?? "application/octet-stream";
      const ranged = noRange ? null : await rangeAnswer(file, req.headers.range, type, { singleRange, shiftRange });
      if (ranged) {
        log.push({ path, range: req.headers.range, status: ranged.status, bytes: ranged.body.length, raw: ranged.body.length, ranges: ranged.ranges });
        res.writeHead(ranged.status, ranged.headers);
        return res.end(ranged.body);
      }
      // Validators as static hosts send them (Netlify: revalidate every time, an ETag):
      // a second visit gets 304s and the browser's HTTP cache — where Chromium also keeps
      // compiled wasm, which only a response from that cache can reuse.
      const st = await stat(file);
      const etag = `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`;
      const validators = revalidate ? { etag, "cache-control": "no-cache" } : {};
      if (revalidate && req.headers["if-none-match"] === etag) {
        log.push({ path, status: 304, bytes: 0, raw: 0 });
        res.writeHead(304, validators);
        return res.end();
      }
      const body = await readFile(file);
      const ranges = noRange ? {} : { "accept-ranges": "bytes" };
      if (gzip && COMPRESS.has(extname(file)) && /\bgzip\b/.test(req.headers["accept-encoding"] ?? "")) {
        // Keyed by the file's validator too: a file rewritten while the server runs is served new.
        const key = `${file}\n${etag}`;
        if (!gzipped.has(key)) gzipped.set(key, gzipSync(body, { level: 6 }));
        const z = gzipped.get(key);
        log.push({ path, status: 200, bytes: z.length, raw: body.length });
        res.writeHead(200, { "content-type": type, "content-length": z.length, "content-encoding": "gzip", vary: "accept-encoding", ...validators });
        return res.end(z);
      }
      log.push({ path, range: req.headers.range, status: 200, bytes: body.length, raw: body.length });
      res.writeHead(200, { "content-type": type, "content-length": body.length, ...ranges, ...validators });
      res.end(body);
    } catch {
      log.push({ path: req.url, status: 404, bytes: 0 });
      res.writeHead(404);
      res.end("not found");
    }
  });
  server.log = log;
  return new Promise((ok) => server.listen(0, "127.0.0.1", () => ok(server)));
}

/**
 * A static host's answer to `Range: bytes=a-b[,c-d…]` for `file`, or null when `range` is
 * absent or not a byte-range list (the caller sends the whole file). One range: 206 with its
 * bytes; several: one 206 `multipart/byteranges` body, as nginx and Apache answer; 416 for a
 * range past the end or, with `singleRange` (trunk serve's tower-http), for several.
 * `shiftRange` answers each range with the bytes that much further on (a misbehaving server).
 */
export async function rangeAnswer(file, range, type, { singleRange = false, shiftRange = 0 } = {}) {
  const spec = /^bytes=((\d+-\d*)(,\s*\d+-\d*)*)$/.exec(range ?? "");
  if (!spec) return null;
  // Only the ranges are read: a static host does not read a 98 MB file per request.
  const size = (await stat(file)).size;
  const ranges = spec[1].split(",").map((r) => {
    const [a, b] = r.trim().split("-");
    return [Number(a), Math.min(b === "" ? size - 1 : Number(b), size - 1)];
  });
  if (ranges.some(([a, b]) => a >= size || a > b) || (singleRange && ranges.length > 1)) {
    return { status: 416, headers: { "content-range": `bytes */${size}` }, body: Buffer.alloc(0), ranges: ranges.length };
  }
  const fh = await open(file);
  const parts = [];
  try {
    for (const [a, b] of ranges) {
      const want = Math.max(0, Math.min(b + 1 + shiftRange, size) - (a + shiftRange));
      const part = Buffer.alloc(want);
      await fh.read(part, 0, want, a + shiftRange);
      parts.push(part);
    }
  } finally {
    await fh.close();
  }
  let headers = { "content-type": type, "content-range": `bytes ${ranges[0][0]}-${ranges[0][1]}/${size}` };
  let body = parts[0];
  if (ranges.length > 1) {
    const boundary = "hbt-test-boundary-3f9c";
    const chunks = ranges.flatMap(([a, b], i) => [
      Buffer.from(`\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${a}-${b}/${size}\r\n\r\n`),
      parts[i],
    ]);
    body = Buffer.concat([...chunks, Buffer.from(`\r\n--${boundary}--\r\n`)]);
    headers = { "content-type": `multipart/byteranges; boundary=${boundary}` };
  }
  return { status: 206, headers: { ...headers, "content-length": body.length, "accept-ranges": "bytes" }, body, ranges: ranges.length };
}
