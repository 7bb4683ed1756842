//! Downloading bundle files with byte-level progress (a streamed response body).

use gloo_net::http::Request;
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

pub fn js_err(e: wasm_bindgen::JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "unknown JavaScript error".into())
}

// web-sys lists DecompressionStream among its unstable APIs (a cfg for the whole crate);
// every current browser has it, so it is bound here.
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    type DecompressionStream;
    #[wasm_bindgen(constructor, catch)]
    fn new(format: &str) -> Result<DecompressionStream, wasm_bindgen::JsValue>;
    #[wasm_bindgen(method, getter)]
    fn readable(this: &DecompressionStream) -> web_sys::ReadableStream;
    #[wasm_bindgen(method, getter)]
    fn writable(this: &DecompressionStream) -> web_sys::WritableStream;
}

/// Inflate zlib bytes with the browser's own `DecompressionStream` ("deflate" is zlib's
/// framing): native code, where inflating e5's 1.5 MB pieces file in wasm took ~50 ms of a
/// returning visitor's wait before the first function calls were optimised.
pub async fn inflate_zlib(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let parts = js_sys::Array::of1(&Uint8Array::from(bytes));
    let blob = web_sys::Blob::new_with_u8_array_sequence(&parts).map_err(js_err)?;
    let ds = DecompressionStream::new("deflate").map_err(js_err)?;
    let pair = web_sys::ReadableWritablePair::new(&ds.readable(), &ds.writable());
    let out = blob.stream().pipe_through(&pair);
    let resp = web_sys::Response::new_with_opt_readable_stream(Some(&out)).map_err(js_err)?;
    let buf = JsFuture::from(resp.array_buffer().map_err(js_err)?)
        .await
        .map_err(|e| format!("not zlib data: {}", js_err(e)))?;
    Ok(Uint8Array::new(&buf).to_vec())
}

/// GET `url` and return its bytes; `progress(bytes_so_far)` is called as chunks arrive.
pub async fn fetch_bytes(url: &str, progress: impl FnMut(u64)) -> Result<Vec<u8>, String> {
    let (status, bytes) = fetch_range(url, None, progress).await?;
    if !(200..300).contains(&status) {
        return Err(format!("{url}: HTTP {status}"));
    }
    Ok(bytes)
}

/// GET `url` from the HTTP cache when it holds a copy, however old (`force-cache`): for a
/// copy known to be current some other way.
pub async fn fetch_cached(url: &str) -> Result<Vec<u8>, String> {
    let req = Request::get(url).cache(web_sys::RequestCache::ForceCache);
    Ok(send(url, req, |_| {}).await?.1)
}

/// GET `url`, with `Range: bytes=first-last` (inclusive) when `range` is given; the status
/// and the body. A server that honours the range answers 206 with those bytes; one that
/// ignores it, 200 with the whole file.
pub async fn fetch_range(
    url: &str,
    range: Option<(u64, u64)>,
    progress: impl FnMut(u64),
) -> Result<(u16, Vec<u8>), String> {
    let mut req = Request::get(url);
    if let Some((a, b)) = range {
        // Past the HTTP cache: it serialises requests for one URL (a query's reads of the
        // rows file would go one at a time), and the rows are kept in the Cache API anyway.
        req = req
            .header("Range", &format!("bytes={a}-{b}"))
            .cache(web_sys::RequestCache::NoStore);
    }
    send(url, req, progress).await
}

/// Send a GET for `url`; the status and the body of a 2xx answer, any other an error.
async fn send(
    url: &str,
    req: gloo_net::http::RequestBuilder,
    progress: impl FnMut(u64),
) -> Result<(u16, Vec<u8>), String> {
    let resp = req.send().await.map_err(|e| format!("{url}: request failed: {e}"))?;
    if !resp.ok() {
        return Err(format!("{url}: HTTP {} {}", resp.status(), resp.status_text()));
    }
    let status = resp.status();
    Ok((status, read_body(url, resp, progress).await?))
}

/// A server's answer to several ranges in one request ([`fetch_ranges`]).
pub struct Ranged {
    pub status: u16,
    pub content_type: String,
    /// A single part's `Content-Range` (a server may join the ranges into one).
    pub content_range: Option<String>,
    /// Read only from a 206: a 200 would be the whole file.
    pub body: Vec<u8>,
}

/// GET `url` with all of `ranges` (inclusive) in one `Range` header. Only a 206's body is
/// read; any other answer's is cancelled unread — a server that does not serve several
/// ranges answers 416 (trunk serve) or sends the whole file with 200 (one that ignores the
/// header), and the caller then asks range by range.
pub async fn fetch_ranges(url: &str, ranges: &[(u64, u64)], progress: impl FnMut(u64)) -> Result<Ranged, String> {
    let spec: Vec<String> = ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
    let resp = Request::get(url)
        .header("Range", &format!("bytes={}", spec.join(",")))
        .cache(web_sys::RequestCache::NoStore)
        .send()
        .await
        .map_err(|e| format!("{url}: request failed: {e}"))?;
    let header = |name: &str| resp.headers().get(name);
    let mut out = Ranged {
        status: resp.status(),
        content_type: header("content-type").unwrap_or_default(),
        content_range: header("content-range"),
        body: Vec::new(),
    };
    if out.status == 206 {
        out.body = read_body(url, resp, progress).await?;
    } else if let Some(body) = resp.body() {
        let _ = body.cancel();
    }
    Ok(out)
}

/// A response's body, chunk by chunk; `progress(bytes so far)` as they arrive.
async fn read_body(
    url: &str,
    resp: gloo_net::http::Response,
    mut progress: impl FnMut(u64),
) -> Result<Vec<u8>, String> {
    let Some(body) = resp.body() else {
        let b = resp.binary().await.map_err(|e| format!("{url}: {e}"))?;
        progress(b.len() as u64);
        return Ok(b);
    };
    let reader: ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| format!("{url}: the response body cannot be read as a stream"))?;
    let mut out = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("{url}: download interrupted: {}", js_err(e)))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).map_err(js_err)?;
        let bytes = Uint8Array::new(&value);
        let start = out.len();
        out.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut out[start..]);
        progress(out.len() as u64);
    }
    Ok(out)
}

/// Resolve `rel` against `base` (a bundle URL ending in `/`, or a page URL).
pub fn join_url(base: &str, rel: &str) -> String {
    web_sys::Url::new_with_base(rel, base)
        .map(|u| u.href())
        .unwrap_or_else(|_| format!("{}{rel}", base))
}

#[cfg(feature = "webgpu")]
/// Whether the browser offers a WebGPU adapter (checked before Burn touches it, so a
/// missing adapter becomes a clear fallback rather than an error deep in the runtime).
pub async fn webgpu_adapter() -> Result<(), String> {
    let nav = js_sys::Reflect::get(&js_sys::global(), &"navigator".into()).map_err(js_err)?;
    let gpu = js_sys::Reflect::get(&nav, &"gpu".into()).map_err(js_err)?;
    if gpu.is_undefined() || gpu.is_null() {
        return Err("this browser does not expose WebGPU (navigator.gpu is missing)".into());
    }
    let request = js_sys::Reflect::get(&gpu, &"requestAdapter".into()).map_err(js_err)?;
    let request: js_sys::Function = request
        .dyn_into()
        .map_err(|_| "navigator.gpu.requestAdapter is not a function")?;
    let promise: js_sys::Promise = request
        .call0(&gpu)
        .map_err(js_err)?
        .dyn_into()
        .map_err(|_| "requestAdapter did not return a promise")?;
    let adapter = JsFuture::from(promise).await.map_err(js_err)?;
    if adapter.is_null() || adapter.is_undefined() {
        return Err("WebGPU is present but offers no adapter (disabled or blocklisted GPU)".into());
    }
    Ok(())
}

/// The Cache API store that keeps bundle files between visits.
const CACHE: &str = "hbt-bundle-v1";

/// The browser's cache for bundle files, where it offers one (secure contexts only:
/// https or localhost); without it every visit downloads, as before.
pub async fn open_cache() -> Option<web_sys::Cache> {
    let storage = match web_sys::window() {
        Some(w) => w.caches().ok()?,
        None => worker_scope().caches().ok()?,
    };
    JsFuture::from(storage.open(CACHE)).await.ok()?.dyn_into().ok()
}

/// The cache key of a bundle file: its URL with the file's content hash, so a changed file
/// misses and an unchanged one hits, whatever the HTTP cache headers say.
pub fn cache_key(url: &str, sha256: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}sha256={sha256}")
}

/// The cached bytes for `key`, if present and of the expected size, when one is expected
/// (anything else is dropped from the cache and fetched again).
pub async fn cache_get(cache: &web_sys::Cache, key: &str, want: Option<u64>) -> Option<Vec<u8>> {
    let hit = JsFuture::from(cache.match_with_str(key)).await.ok()?;
    if hit.is_undefined() || hit.is_null() {
        return None;
    }
    let resp: web_sys::Response = hit.dyn_into().ok()?;
    let buf = JsFuture::from(resp.array_buffer().ok()?).await.ok()?;
    let bytes = Uint8Array::new(&buf).to_vec();
    if want.is_some_and(|w| bytes.len() as u64 != w) {
        let _ = JsFuture::from(cache.delete_with_str(key)).await;
        return None;
    }
    Some(bytes)
}

/// Store a verified file. A full quota only costs the next visit a download.
pub async fn cache_put(cache: &web_sys::Cache, key: &str, bytes: &[u8]) {
    let arr = Uint8Array::from(bytes);
    if let Ok(resp) = web_sys::Response::new_with_opt_buffer_source(Some(&arr)) {
        let _ = JsFuture::from(cache.put_with_str(key, &resp)).await;
    }
}

/// Delete cached files under `base` that are not in `keep` (older versions of the bundle),
/// nor entries of a kept file (its key followed by `&…`).
pub async fn cache_prune(cache: &web_sys::Cache, base: &str, keep: &[String]) {
    let Ok(keys) = JsFuture::from(cache.keys()).await else {
        return;
    };
    for req in js_sys::Array::from(&keys).iter() {
        let Ok(req) = req.dyn_into::<web_sys::Request>() else {
            continue;
        };
        let url = req.url();
        // A kept key's own entries (`KEY&rows=…`: an on-demand vocabulary's fetched rows).
        let kept = keep
            .iter()
            .any(|k| url == *k || url.strip_prefix(k.as_str()).is_some_and(|r| r.starts_with('&')));
        if url.starts_with(base) && !kept {
            let _ = JsFuture::from(cache.delete_with_str(&url)).await;
        }
    }
}

/// Let the browser paint and handle input before the next piece of work (a zero-delay
/// timer: the encoder's CPU work otherwise holds the page's only thread).
pub async fn yield_to_browser() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = match web_sys::window() {
            Some(w) => w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0),
            None => worker_scope().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0),
        };
    });
    let _ = JsFuture::from(promise).await;
}

/// The global scope when this code runs in the encoder's Web Worker (no window there).
pub fn worker_scope() -> web_sys::WorkerGlobalScope {
    js_sys::global().unchecked_into()
}

thread_local! {
    /// This thread's `performance`, looked up once: the profiler reads the clock hundreds of
    /// times an encode, and each lookup through the global scope is several JS calls.
    static PERFORMANCE: Option<web_sys::Performance> = match web_sys::window() {
        Some(w) => w.performance(),
        None => worker_scope().performance(),
    };
}

/// `performance.now()` of this thread: ms since the page (or the worker) started.
pub fn now() -> f64 {
    PERFORMANCE.with(|p| p.as_ref().map_or(0.0, |p| p.now()))
}

/// Resolve after the browser has painted the current DOM (a frame callback, then a task):
/// for work that should not hold back what is already on the page.
pub async fn after_paint() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let Some(w) = web_sys::window() else { return };
        let later = wasm_bindgen::closure::Closure::once_into_js(move || {
            if let Some(w) = web_sys::window() {
                let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
            }
        });
        let _ = w.request_animation_frame(later.unchecked_ref());
    });
    let _ = JsFuture::from(promise).await;
}

/// Reads the files of one bundle: from the Cache API when this browser kept them (keyed by
/// the manifest's content hash), otherwise over the network with a size check, storing
/// what passed for the next visit. The page and the encoder's worker each use one, for
/// their own files.
pub struct BundleReader<'a> {
    base: &'a str,
    manifest: &'a hbt_bundle::Manifest,
    cache: Option<web_sys::Cache>,
    /// Bytes read so far, and how many of them came from the cache (cells: reads may run
    /// concurrently, each file's lookup a round trip to the browser's cache).
    pub done: std::cell::Cell<u64>,
    pub cached_bytes: std::cell::Cell<u64>,
}

impl<'a> BundleReader<'a> {
    pub async fn open(base: &'a str, manifest: &'a hbt_bundle::Manifest) -> BundleReader<'a> {
        BundleReader {
            base,
            manifest,
            cache: open_cache().await,
            done: Default::default(),
            cached_bytes: Default::default(),
        }
    }

    /// The bytes of bundle file `rel`; `progress(stage, bytes read so far)` as they arrive.
    pub async fn read(&self, rel: &str, stage: &str, progress: &impl Fn(String, u64)) -> Result<Vec<u8>, String> {
        let url = join_url(self.base, rel);
        let file = self.manifest.file(rel);
        let key = match (&self.cache, file.and_then(|f| f.sha256.as_deref())) {
            (Some(_), Some(sha)) => Some(cache_key(&url, sha)),
            _ => None,
        };
        if let (Some(c), Some(k), Some(f)) = (&self.cache, &key, file)
            && let Some(bytes) = cache_get(c, k, Some(f.bytes)).await
        {
            self.done.set(self.done.get() + bytes.len() as u64);
            self.cached_bytes.set(self.cached_bytes.get() + bytes.len() as u64);
            progress(format!("{stage} (from this browser's cache)"), self.done.get());
            return Ok(bytes);
        }
        // Counted as they arrive: other files may be downloading at the same time.
        let mut seen = 0;
        let bytes = fetch_bytes(&url, |n| {
            self.done.set(self.done.get() + n - seen);
            seen = n;
            progress(stage.to_string(), self.done.get())
        })
        .await?;
        if let Some(want) = file.map(|f| f.bytes)
            && want != bytes.len() as u64
        {
            return Err(format!(
                "{url}: {} bytes, but the manifest says {want} (a truncated or stale file)",
                bytes.len()
            ));
        }
        // Only files that passed the size check are kept for the next visit.
        if let (Some(c), Some(k)) = (&self.cache, &key) {
            cache_put(c, k, &bytes).await;
        }
        Ok(bytes)
    }
}

/// Drop cached files of the bundle at `base` that its manifest no longer lists (an older
/// version's): called once both readers are done, so neither's new files are pruned.
pub async fn prune_bundle_cache(base: &str, manifest: &hbt_bundle::Manifest) {
    let Some(cache) = open_cache().await else { return };
    let keep: Vec<String> = manifest
        .files
        .iter()
        .filter_map(|f| Some(cache_key(&join_url(base, &f.path), f.sha256.as_deref()?)))
        .collect();
    cache_prune(&cache, base, &keep).await;
}
