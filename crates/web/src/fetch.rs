//! Downloading bundle files with byte-level progress (a streamed response body).

use gloo_net::http::Request;
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

fn js_err(e: wasm_bindgen::JsValue) -> String {
    e.as_string()
        .or_else(|| js_sys::JSON::stringify(&e).ok().and_then(|s| s.as_string()))
        .unwrap_or_else(|| "unknown JavaScript error".into())
}

/// GET `url` and return its bytes; `progress(bytes_so_far)` is called as chunks arrive.
pub async fn fetch_bytes(url: &str, mut progress: impl FnMut(u64)) -> Result<Vec<u8>, String> {
    let resp = Request::get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: request failed: {e}"))?;
    if !resp.ok() {
        return Err(format!("{url}: HTTP {} {}", resp.status(), resp.status_text()));
    }
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

/// Whether the browser offers a WebGPU adapter (checked before Burn touches it, so a
/// missing adapter becomes a clear fallback rather than an error deep in the runtime).
pub async fn webgpu_adapter() -> Result<(), String> {
    let window = web_sys::window().ok_or("no window")?;
    let nav = window.navigator();
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
