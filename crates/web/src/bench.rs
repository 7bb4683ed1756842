//! The timing hook `scripts/bench-browser.sh` calls from the page (trunk exposes the wasm
//! exports as `window.wasmBindings`): the encoder alone, timed in its worker, and the search
//! a user waits for (the round trip to the worker and the ranking included), on the CPU
//! fallback, so hbt can be put beside ONNX Runtime Web in the same browser.

use wasm_bindgen::prelude::*;

use crate::engine::Engine;
use crate::fetch::now;
use crate::timing::median;

/// Load `bundle` on the CPU backend, then time `runs` query encodings of `text` (token ids
/// to vector, read back) after `warmups` untimed ones, and as many full searches (tokenize,
/// encode, rank the bundle's passages). Returns JSON with the token ids, every time and the
/// medians, and the query vector (for a fidelity check against the peer).
#[wasm_bindgen]
pub async fn hbt_bench_encode(bundle: String, text: String, warmups: u32, runs: u32) -> Result<String, JsValue> {
    let t0 = now();
    let engine = Engine::load(&bundle, true, |_| {})
        .await
        .map_err(|e| JsValue::from_str(&e))?;
    let load_ms = now() - t0;
    let mut out = engine
        .bench_encode(&text, warmups, runs)
        .await
        .map_err(|e| JsValue::from_str(&e))?;
    let (mut search_ms, mut rank_ms, mut worker_ms) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..warmups + runs {
        let r = engine.search(&engine.demo, &text).await?;
        if i >= warmups {
            search_ms.push(r.millis);
            rank_ms.push(r.rank_ms);
            worker_ms.push(r.worker_ms);
        }
    }
    out["backend"] = engine.backend.label().into();
    out["passages"] = engine.demo.corpus.passages.len().into();
    out["load_ms"] = load_ms.into();
    out["search_ms"] = search_ms.clone().into();
    out["search_median_ms"] = median(&mut search_ms).into();
    out["rank_median_ms"] = median(&mut rank_ms).into();
    out["search_worker_median_ms"] = median(&mut worker_ms).into();
    Ok(out.to_string())
}
