//! The timing hook `scripts/bench-browser.sh` calls from the page (trunk exposes the wasm
//! exports as `window.wasmBindings`): the encoder alone, and the search a user waits for,
//! on the CPU fallback, so hbt can be put beside ONNX Runtime Web in the same browser.

use hbt_model::TextKind;
use wasm_bindgen::prelude::*;

use crate::engine::{Engine, now};

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Load `bundle` on the CPU backend, then time `runs` query encodings of `text` (token ids
/// to vector, read back) after `warmups` untimed ones, and as many full searches (tokenize,
/// encode, rank the bundle's passages). Returns JSON with the token ids, every time and the
/// medians, and the query vector (for a fidelity check against the peer).
#[wasm_bindgen]
pub async fn hbt_bench_encode(bundle: String, text: String, warmups: u32, runs: u32) -> Result<String, JsValue> {
    let t0 = now();
    let engine = Engine::load(&bundle, true, |_| {}).await.map_err(|e| JsValue::from_str(&e))?;
    let load_ms = now() - t0;
    let enc = &engine.encoder;
    let batch = enc
        .tokenize(&[text.as_str()], TextKind::Query)
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    let mut encode_ms = Vec::new();
    let mut vector = Vec::new();
    for i in 0..warmups + runs {
        let t = now();
        let tensors = enc.to_device(&batch, &enc.device);
        let v = enc
            .forward(&tensors)
            .into_data_async()
            .await
            .map_err(|e| JsValue::from_str(&format!("{e:?}")))?;
        let ms = now() - t;
        if i >= warmups {
            encode_ms.push(ms);
        }
        vector = v.try_to_vec::<f32>().map_err(|e| JsValue::from_str(&format!("{e:?}")))?;
    }
    let mut search_ms = Vec::new();
    for i in 0..warmups + runs {
        let r = engine.search(&engine.demo, &text).await?;
        if i >= warmups {
            search_ms.push(r.millis);
        }
    }
    let out = serde_json::json!({
        "backend": engine.backend.label(),
        "tokens": batch.lengths[0],
        "seq": batch.seq,
        "ids": batch.row_ids(0),
        "passages": engine.demo.corpus.passages.len(),
        "load_ms": load_ms,
        "encode_ms": encode_ms.clone(),
        "search_ms": search_ms.clone(),
        "encode_median_ms": median(&mut encode_ms),
        "search_median_ms": median(&mut search_ms),
        "vector": vector,
    });
    Ok(out.to_string())
}
