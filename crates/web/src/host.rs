//! `?engine=1`: the app as the engine of the `<hbt-search>` element (web/widget.js). The
//! element draws the search box and results in the host page; this frame, hidden, loads
//! the bundle and encoder (worker, wasm, model) and answers its questions over
//! `postMessage`: `{"type":"search","id":N,"q":"…","k":5}` → `{"type":"results",…}`, with
//! `progress`, `ready` and `error` messages while it loads. Messages are JSON text, and
//! only the parent page's are answered.

use std::rc::Rc;

// Not leptos's spawn_local: no Leptos app is mounted in this frame, so its executor is never set up.
use serde_json::json;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::engine::Engine;

fn parent() -> Option<web_sys::Window> {
    web_sys::window()?.parent().ok().flatten()
}

fn post(v: serde_json::Value) {
    if let Some(p) = parent() {
        // The results are the bundle's public text; the element checks where they come from.
        let _ = p.post_message(&JsValue::from_str(&v.to_string()), "*");
    }
}

pub fn serve(bundle: String, force_cpu: bool) {
    spawn_local(async move {
        let progress = |p: crate::engine::Progress| {
            post(json!({"type": "progress", "stage": p.stage, "done": p.done, "total": p.total}));
        };
        match Engine::load(&bundle, force_cpu, progress).await {
            Ok(e) => {
                post(json!({
                    "type": "ready",
                    "passages": e.demo.corpus.passages.len(),
                    "backend": e.backend.label(),
                    "load_ms": e.load_ms,
                    "cached_bytes": e.cached_bytes,
                    // When each loading step ended, ms after the frame's start (the first,
                    // negative, is the frame's navigation): where a slow start went.
                    "marks": e.marks.iter().map(|(k, ms)| json!([k, (ms * 10.0).round() / 10.0])).collect::<Vec<_>>(),
                }));
                listen(Rc::new(e));
            }
            Err(err) => post(json!({"type": "error", "message": err})),
        }
    });
}

fn listen(engine: Rc<Engine>) {
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        let from_parent = match (ev.source(), parent()) {
            (Some(s), Some(p)) => js_sys::Object::is(&s, p.as_ref()),
            _ => false,
        };
        let Some(text) = ev.data().as_string() else { return };
        if !from_parent {
            return;
        }
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&text) else {
            return;
        };
        if msg["type"] != "search" {
            return;
        }
        let (id, q) = (msg["id"].clone(), msg["q"].as_str().unwrap_or("").to_string());
        let k = msg["k"].as_u64().unwrap_or(5).clamp(1, 50) as usize;
        let engine = engine.clone();
        spawn_local(async move {
            let pool = engine.demo.clone();
            match engine.search(&pool, &q).await {
                Ok(r) => {
                    let hits = hbt_bundle::docs::top_sections(&pool.corpus, &pool.vectors, pool.dim, &r.vector, k);
                    let hits: Vec<serde_json::Value> = hits
                        .iter()
                        .map(|h| {
                            let p = &pool.corpus.passages[h.passage];
                            json!({
                                "rank": h.rank,
                                "score": h.score,
                                "url": p.url.clone().unwrap_or_else(|| p.id.clone()),
                                "page": p.page.clone().unwrap_or_default(),
                                "section": p.section.clone().unwrap_or_default(),
                                "lang": p.lang,
                                "snippet": hbt_bundle::docs::snippet(p, 160),
                            })
                        })
                        .collect();
                    post(
                        json!({"type": "results", "id": id, "q": q, "ms": r.millis, "encode_ms": r.worker_ms, "hits": hits}),
                    );
                }
                Err(err) => post(json!({"type": "error", "id": id, "message": err})),
            }
        });
    });
    if let Some(w) = web_sys::window() {
        let _ = w.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    }
    // The listener lives as long as the frame.
    on_message.forget();
}
