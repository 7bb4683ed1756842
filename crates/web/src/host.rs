//! `?engine=1`: the app as the engine of the `<hbt-search>` element (web/widget.js). The
//! element draws the search box and results in the host page; this frame, hidden, loads
//! the bundle and encoder (worker, wasm, model) and answers its questions over
//! `postMessage`: `{"type":"search","id":N,"q":"…","k":5}` → `{"type":"results",…}`, with
//! `progress`, `ready` and `error` messages while it loads. Messages are JSON text, and
//! only the parent page's are answered.

use std::cell::RefCell;
use std::rc::Rc;

// Not leptos's spawn_local: no Leptos app is mounted in this frame, so its executor is never set up.
use serde_json::json;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

use crate::engine::Engine;
use crate::ports::{MessagePort, SharedWorkerGlobalScope};

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
                post(ready_message(&e));
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
        if from_parent {
            answer(&engine, &ev.data(), post);
        }
    });
    if let Some(w) = web_sys::window() {
        let _ = w.add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    }
    // The listener lives as long as the frame.
    on_message.forget();
}

/// Answer one message of the element (`search`; anything else is ignored) through `reply`.
fn answer(engine: &Rc<Engine>, data: &JsValue, reply: impl Fn(serde_json::Value) + 'static) {
    let Some(text) = data.as_string() else { return };
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
                reply(
                    json!({"type": "results", "id": id, "q": q, "ms": r.millis, "encode_ms": r.worker_ms, "hits": hits}),
                );
            }
            Err(err) => reply(json!({"type": "error", "id": id, "message": err})),
        }
    });
}

fn ready_message(e: &Engine) -> serde_json::Value {
    json!({
        "type": "ready",
        "passages": e.demo.corpus.passages.len(),
        "backend": e.backend.label(),
        "load_ms": e.load_ms,
        "cached_bytes": e.cached_bytes,
        // When each loading step ended, ms after the engine's start (the first, negative,
        // is the navigation of the frame or worker that runs it): where a slow start went.
        "marks": e.marks.iter().map(|(k, ms)| json!([k, (ms * 10.0).round() / 10.0])).collect::<Vec<_>>(),
    })
}

/// The engine's state in a shared worker, for the pages that connect to it.
#[derive(Default)]
struct Shared {
    ports: RefCell<Vec<MessagePort>>,
    engine: RefCell<Option<Rc<Engine>>>,
    /// What a page connecting now is told first: the last progress, or "ready".
    last: RefCell<Option<serde_json::Value>>,
}

thread_local! {
    /// The shared worker's state, for its panic hook (which must be `Send`: no `Rc` in it).
    static SHARED: RefCell<Option<Rc<Shared>>> = const { RefCell::new(None) };
}

fn send(port: &MessagePort, v: &serde_json::Value) {
    let _ = port.post_message(&JsValue::from_str(&v.to_string()));
}

impl Shared {
    fn broadcast(&self, v: serde_json::Value) {
        for p in self.ports.borrow().iter() {
            send(p, &v);
        }
        *self.last.borrow_mut() = Some(v);
    }
}

/// The engine as a shared worker (`engine-worker.js?bundle=URL`, started by web/widget.js —
/// in the page, or in web/engine.html for an app on another origin — with
/// `extendedLifetime`): one engine for every page of a site that a tab or window shows, kept
/// by the browser across the navigation from one page to the next, so that a docs site's
/// next page finds it loaded. Each page (or its engine frame) connects a port and speaks the
/// frame protocol above over it; a page that connects to a loaded engine hears "ready" at
/// once, with `kept: true` and the engine's age.
pub fn serve_shared() {
    let scope: SharedWorkerGlobalScope = js_sys::global().unchecked_into();
    let q = web_sys::Url::new(&crate::ports::worker_href())
        .ok()
        .map(|u| u.search_params());
    let get = |k: &str| q.as_ref().and_then(|q| q.get(k));
    let bundle = get("bundle").unwrap_or_default();
    let force_cpu = get("backend").is_some_and(|b| b == "cpu");
    let shared = Rc::new(Shared::default());
    SHARED.set(Some(shared.clone()));
    // A panic leaves this module unusable: say so to every page, and end the worker so that
    // the next page starts a fresh one rather than finding this one.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        let msg = json!({"type": "error", "message": format!("the search engine stopped: {info}")});
        if let Ok(Some(s)) = SHARED.try_with(|s| s.try_borrow().ok().and_then(|s| s.clone())) {
            s.broadcast(msg);
        }
        let scope: SharedWorkerGlobalScope = js_sys::global().unchecked_into();
        scope.close();
    }));
    let born = crate::fetch::now();
    let connect = {
        let shared = shared.clone();
        move |port: MessagePort| {
            let s2 = shared.clone();
            let p2 = port.clone();
            let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
                let Some(engine) = s2.engine.borrow().clone() else {
                    return;
                };
                let p3 = p2.clone();
                answer(&engine, &ev.data(), move |v| send(&p3, &v));
            });
            port.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
            on_message.forget();
            let first = match (&*shared.engine.borrow(), &*shared.last.borrow()) {
                (Some(e), _) => {
                    let mut m = ready_message(e);
                    m["kept"] = json!(true);
                    m["engine_age_ms"] = json!((crate::fetch::now() - born).round());
                    Some(m)
                }
                (None, last) => last.clone(),
            };
            if let Some(m) = first {
                send(&port, &m);
            }
            shared.ports.borrow_mut().push(port);
        }
    };
    // Pages that connected while the module was starting were queued by engine-worker.js.
    if let Ok(queued) = js_sys::Reflect::get(&scope, &"hbtPorts".into()) {
        for p in js_sys::Array::from(&queued).iter() {
            if let Ok(p) = p.dyn_into::<MessagePort>() {
                connect(p);
            }
        }
    }
    let on_connect = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        if let Ok(p) = ev.ports().get(0).dyn_into::<MessagePort>() {
            connect(p);
        }
    });
    scope.set_onconnect(Some(on_connect.as_ref().unchecked_ref()));
    on_connect.forget();
    spawn_local(async move {
        let s2 = shared.clone();
        let progress = move |p: crate::engine::Progress| {
            s2.broadcast(json!({"type": "progress", "stage": p.stage, "done": p.done, "total": p.total}));
        };
        match Engine::load(&bundle, force_cpu, progress).await {
            Ok(e) => {
                let m = ready_message(&e);
                *shared.engine.borrow_mut() = Some(Rc::new(e));
                shared.broadcast(m);
            }
            Err(err) => {
                // Nothing to keep: the next page tries afresh (the bundle may be back).
                shared.broadcast(json!({"type": "error", "message": err}));
                scope.close();
            }
        }
    });
}
