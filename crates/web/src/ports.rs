//! Bindings for message ports and the shared worker's scope, which the docs widget's engine
//! uses (host.rs, worker/): declared here rather than by web-sys features, whose change
//! would rebuild web-sys and every crate on it for both targets.

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    pub type MessageChannel;
    #[wasm_bindgen(constructor, catch)]
    pub fn new() -> Result<MessageChannel, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn port1(this: &MessageChannel) -> MessagePort;
    #[wasm_bindgen(method, getter)]
    pub fn port2(this: &MessageChannel) -> MessagePort;

    #[derive(Clone)]
    pub type MessagePort;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    pub fn post_message(this: &MessagePort, message: &JsValue) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = postMessage)]
    pub fn post_message_with_transfer(this: &MessagePort, message: &JsValue, transfer: &JsValue)
    -> Result<(), JsValue>;
    /// Setting the handler also starts the port's queue.
    #[wasm_bindgen(method, setter)]
    pub fn set_onmessage(this: &MessagePort, handler: Option<&js_sys::Function>);
    #[wasm_bindgen(method)]
    pub fn close(this: &MessagePort);

    #[wasm_bindgen(extends = web_sys::WorkerGlobalScope)]
    pub type SharedWorkerGlobalScope;
    #[wasm_bindgen(method, setter)]
    pub fn set_onconnect(this: &SharedWorkerGlobalScope, handler: Option<&js_sys::Function>);
    #[wasm_bindgen(method)]
    pub fn close(this: &SharedWorkerGlobalScope);
}

/// Whether this code runs in a shared worker (`instanceof` is false, not an error, where
/// the name is not defined).
pub fn in_shared_worker() -> bool {
    js_sys::global().has_type::<SharedWorkerGlobalScope>()
}

/// The worker's own URL (`self.location.href`), in any worker.
pub fn worker_href() -> String {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &"location".into())
        .and_then(|l| js_sys::Reflect::get(&l, &"href".into()))
        .ok()
        .and_then(|h| h.as_string())
        .unwrap_or_default()
}
