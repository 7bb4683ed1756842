//! The page's side: start the worker, send requests, await their replies.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use hbt_bundle::Manifest;
use hbt_model::TextKind;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

use crate::fetch::js_err;
use crate::ports::MessagePort;
use crate::protocol::{Envelope, Loaded, Reply, Request, RowsReport, message, parse};

/// Vectors of an [`EncoderWorker::encode`] call, in the order of the texts.
pub struct Encoded {
    /// The worker's time on the request.
    pub worker_ms: f64,
    pub vectors: Vec<f32>,
    pub tokens: Vec<usize>,
    pub unknown: Vec<usize>,
    /// An on-demand vocabulary's rows this encode fetched.
    pub rows: Option<RowsReport>,
}

/// Where the worker's loading progress goes (stage, bytes done), set per load.
type ProgressSink = Rc<RefCell<Option<Box<dyn Fn(String, u64)>>>>;

type Waiters = RefCell<HashMap<u32, (js_sys::Function, js_sys::Function)>>;

/// Where the encoder's requests go: its own worker, or — in a shared worker, which cannot
/// start workers of its own — a message port to the server running in this same thread.
enum Channel {
    Worker(web_sys::Worker),
    Port(MessagePort),
}

impl Channel {
    fn post(&self, msg: &JsValue) -> Result<(), JsValue> {
        match self {
            Channel::Worker(w) => w.post_message(msg),
            Channel::Port(p) => p.post_message(msg),
        }
    }

    fn set_onmessage(&self, f: Option<&js_sys::Function>) {
        match self {
            Channel::Worker(w) => w.set_onmessage(f),
            // Setting a port's handler also starts its queue.
            Channel::Port(p) => p.set_onmessage(f),
        }
    }
}

/// The page's handle on the encoder's worker; dropping it terminates the worker.
pub struct EncoderWorker {
    worker: Channel,
    next: Cell<u32>,
    waiters: Rc<Waiters>,
    progress: ProgressSink,
    _on_message: Closure<dyn FnMut(web_sys::MessageEvent)>,
    _on_error: Closure<dyn FnMut(web_sys::ErrorEvent)>,
}

#[wasm_bindgen]
extern "C" {
    /// This module's JavaScript glue (trunk's hashed `hbt-web-….js`): the worker imports it.
    #[wasm_bindgen(thread_local_v2, js_namespace = ["import", "meta"], js_name = url)]
    static GLUE_URL: String;
}

impl Drop for EncoderWorker {
    fn drop(&mut self) {
        match &self.worker {
            Channel::Worker(w) => w.terminate(),
            Channel::Port(p) => p.close(),
        }
    }
}

fn reject_all(waiters: &Waiters, why: &str) {
    for (_, (_, reject)) in waiters.borrow_mut().drain() {
        let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(why));
    }
}

impl EncoderWorker {
    /// Start the worker on this page's own wasm module and wait until it listens. In a
    /// shared worker (the docs widget's engine), which has no `Worker` to start, the
    /// encoder's server runs in this thread behind a `MessageChannel` instead: the same
    /// requests and replies, and this thread is already off any page's main thread.
    pub async fn start() -> Result<EncoderWorker, String> {
        if crate::ports::in_shared_worker() {
            let ch = crate::ports::MessageChannel::new().map_err(js_err)?;
            super::server::serve_on(ch.port1());
            return Self::connect(Channel::Port(ch.port2()), None).await;
        }
        let glue = GLUE_URL.with(String::clone);
        // The worker imports the glue, instantiates the module the page sends, and `main`
        // (run by the glue's start) finds no window and serves.
        let script = format!(
            "import init from {glue:?};\nself.onmessage = (e) => {{ self.onmessage = null; \
             init({{ module_or_path: e.data }}).catch((err) => self.postMessage({{ json: JSON.stringify({{ id: 0, body: {{ Failed: 'the encoder worker did not start: ' + err }} }}) }})); }};\n"
        );
        let parts = js_sys::Array::of1(&JsValue::from_str(&script));
        let opts = web_sys::BlobPropertyBag::new();
        opts.set_type("text/javascript");
        let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts).map_err(js_err)?;
        let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_err)?;
        let wopts = web_sys::WorkerOptions::new();
        wopts.set_type(web_sys::WorkerType::Module);
        wopts.set_name("hbt-encoder");
        let worker = web_sys::Worker::new_with_options(&url, &wopts)
            .map_err(|e| format!("this browser cannot start the encoder's worker: {}", js_err(e)))?;
        let _ = web_sys::Url::revoke_object_url(&url);
        Self::connect(Channel::Worker(worker), Some(wasm_bindgen::module())).await
    }

    /// Listen to the server's replies; send it `module` to start on, if it needs one; wait
    /// for its first "ready".
    async fn connect(worker: Channel, module: Option<JsValue>) -> Result<EncoderWorker, String> {
        let waiters: Rc<Waiters> = Rc::new(RefCell::new(HashMap::new()));
        let progress: ProgressSink = Rc::new(RefCell::new(None));
        let (w2, p2) = (waiters.clone(), progress.clone());
        let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
            let data = ev.data();
            let (env, _) = match parse::<Reply>(&data) {
                Ok(x) => x,
                Err(e) => return reject_all(&w2, &format!("the encoder's worker sent {e}")),
            };
            match env.body {
                Reply::Progress { stage, done } => {
                    if let Some(p) = p2.borrow().as_ref() {
                        p(stage, done)
                    }
                }
                // A failure without a request (a panic) ends every request in flight.
                Reply::Failed(why) if env.id == 0 => reject_all(&w2, &why),
                _ => {
                    if let Some((resolve, _)) = w2.borrow_mut().remove(&env.id) {
                        let _ = resolve.call1(&JsValue::NULL, &data);
                    }
                }
            }
        });
        let w3 = waiters.clone();
        let on_error = Closure::<dyn FnMut(web_sys::ErrorEvent)>::new(move |ev: web_sys::ErrorEvent| {
            reject_all(&w3, &format!("the encoder's worker failed: {}", ev.message()));
        });
        let ready = Self::waiter(&waiters, 0);
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        if let Channel::Worker(w) = &worker {
            w.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        }
        if let Some(module) = module {
            worker
                .post(&module)
                .map_err(|e| format!("the encoder's worker cannot receive the module: {}", js_err(e)))?;
        }
        let w = EncoderWorker {
            worker,
            next: Cell::new(1),
            waiters,
            progress,
            _on_message: on_message,
            _on_error: on_error,
        };
        JsFuture::from(ready).await.map_err(js_err)?;
        Ok(w)
    }

    fn waiter(waiters: &Rc<Waiters>, id: u32) -> js_sys::Promise {
        js_sys::Promise::new(&mut |resolve, reject| {
            waiters.borrow_mut().insert(id, (resolve, reject));
        })
    }

    async fn call(&self, req: Request) -> Result<(Reply, Option<js_sys::Float32Array>), String> {
        let id = self.next.get();
        self.next.set(id + 1);
        let reply = Self::waiter(&self.waiters, id);
        let json = serde_json::to_string(&Envelope { id, body: req }).map_err(|e| e.to_string())?;
        self.worker.post(&message(&json, None)).map_err(js_err)?;
        let data = JsFuture::from(reply).await.map_err(js_err)?;
        let (env, f32) = parse::<Reply>(&data)?;
        match env.body {
            Reply::Failed(why) => Err(why),
            body => Ok((body, f32)),
        }
    }

    /// Build the encoder of the bundle at `base` in the worker; `progress(stage, model
    /// bytes read)` while its files arrive.
    pub async fn load(
        &self,
        base: &str,
        manifest: &Manifest,
        force_cpu: bool,
        progress: impl Fn(String, u64) + 'static,
    ) -> Result<Loaded, String> {
        *self.progress.borrow_mut() = Some(Box::new(progress));
        let req = Request::Load {
            base: base.to_string(),
            manifest: Box::new(manifest.clone()),
            force_cpu,
        };
        let out = self.call(req).await;
        *self.progress.borrow_mut() = None;
        match out? {
            (Reply::Loaded(l), _) => Ok(l),
            (other, _) => Err(format!("the encoder's worker answered {other:?} to a load")),
        }
    }

    pub async fn encode(&self, texts: &[&str], kind: TextKind) -> Result<Encoded, String> {
        let req = Request::Encode {
            texts: texts.iter().map(|t| t.to_string()).collect(),
            kind,
        };
        match self.call(req).await? {
            (
                Reply::Encoded {
                    dim,
                    tokens,
                    unknown,
                    ms,
                    rows,
                },
                Some(v),
            ) if v.length() as usize == texts.len() * dim => Ok(Encoded {
                worker_ms: ms,
                vectors: v.to_vec(),
                tokens,
                unknown,
                rows,
            }),
            (other, _) => Err(format!("the encoder's worker answered {other:?} to an encode")),
        }
    }

    /// Read the word rows `texts` need in few large reads; `progress(bytes read)`.
    pub async fn prefetch(
        &self,
        texts: &[&str],
        kind: TextKind,
        progress: impl Fn(String, u64) + 'static,
    ) -> Result<RowsReport, String> {
        *self.progress.borrow_mut() = Some(Box::new(progress));
        let req = Request::Prefetch {
            texts: texts.iter().map(|t| t.to_string()).collect(),
            kind,
        };
        let out = self.call(req).await;
        *self.progress.borrow_mut() = None;
        match out? {
            (Reply::Prefetched(r), _) => Ok(r),
            (other, _) => Err(format!("the encoder's worker answered {other:?} to a prefetch")),
        }
    }

    pub async fn bench(&self, text: &str, warmups: u32, runs: u32) -> Result<serde_json::Value, String> {
        match self
            .call(Request::Bench {
                text: text.to_string(),
                warmups,
                runs,
            })
            .await?
        {
            (Reply::Bench(v), _) => Ok(v),
            (other, _) => Err(format!("the encoder's worker answered {other:?} to a benchmark")),
        }
    }
}
