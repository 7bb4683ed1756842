//! The encoder's own thread: a dedicated Web Worker running this same wasm module, so the
//! page never freezes while the model is read and built (0.5 s of CPU work, seconds of
//! kernel compilation on a software WebGPU) or while a query or a dropped file is encoded.
//!
//! The page starts the worker with the `WebAssembly.Module` it was itself compiled from (no
//! second download or compilation); `main` sees it has no window and calls [`serve`]. The
//! page talks to it through [`EncoderWorker`]: JSON requests and replies, vectors as a
//! transferred `Float32Array`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use hbt_model::bundle::Manifest;
use hbt_model::burn::tensor::Device;
#[cfg(feature = "webgpu")]
use hbt_model::burn::tensor::wgpu::WgpuBackend;
use hbt_model::{Encoder, EncoderOptions, ModelFiles, Precision, TextKind};
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};

use crate::bench::median;
use crate::engine::Backend;
#[cfg(feature = "webgpu")]
use crate::fetch::webgpu_adapter;
use crate::fetch::{BundleReader, join_url, js_err, now, yield_to_browser};

/// GPU kernels are compiled per shape: padding queries to a multiple of 32 tokens means the
/// warm-up compiles what almost every query will use.
const QUERY_PAD: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    /// Read the model files of `manifest` (bundle at `base`) and build the encoder.
    Load {
        base: String,
        manifest: Box<Manifest>,
        force_cpu: bool,
    },
    Encode {
        texts: Vec<String>,
        kind: TextKind,
    },
    /// Time `runs` encodings of `text` after `warmups` (for `scripts/bench-browser.sh`).
    Bench {
        text: String,
        warmups: u32,
        runs: u32,
    },
}

#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    /// The worker is listening (sent once, with id 0).
    Ready,
    Progress {
        stage: String,
        done: u64,
    },
    Loaded(Loaded),
    /// Vectors come beside the JSON, `texts × dim` floats.
    /// `ms`: the worker's time on it (tokenize, encode, read back).
    Encoded {
        dim: usize,
        tokens: Vec<usize>,
        unknown: Vec<usize>,
        ms: f64,
    },
    Bench(serde_json::Value),
    Failed(String),
}

/// What the page learns about the encoder once it is built.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Loaded {
    pub backend: Backend,
    /// Loading steps in the worker, ms after it received the request.
    pub marks: Vec<(String, f64)>,
    pub cached_bytes: u64,
}

#[derive(Serialize, Deserialize)]
struct Envelope<T> {
    id: u32,
    body: T,
}

/// One message: `{json, f32?}`.
fn message(json: &str, vectors: Option<&js_sys::Float32Array>) -> JsValue {
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"json".into(), &json.into());
    if let Some(v) = vectors {
        let _ = js_sys::Reflect::set(&o, &"f32".into(), v);
    }
    o.into()
}

fn parse<T: for<'de> Deserialize<'de>>(data: &JsValue) -> Result<(Envelope<T>, Option<js_sys::Float32Array>), String> {
    let json = js_sys::Reflect::get(data, &"json".into())
        .ok()
        .and_then(|j| j.as_string())
        .ok_or("a message without its JSON part")?;
    let env = serde_json::from_str(&json).map_err(|e| format!("a malformed message ({e})"))?;
    let f32 = js_sys::Reflect::get(data, &"f32".into())
        .ok()
        .and_then(|v| v.dyn_into::<js_sys::Float32Array>().ok());
    Ok((env, f32))
}

// ---------------------------------------------------------------- the worker's side

struct Model {
    encoder: Encoder,
    unk_id: Option<u32>,
}

fn post(id: u32, body: &Reply, vectors: Option<js_sys::Float32Array>) {
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let json = serde_json::to_string(&Envelope { id, body }).unwrap_or_default();
    let msg = message(&json, vectors.as_ref());
    // The vectors' buffer moves to the page rather than being copied.
    let sent = match &vectors {
        Some(v) => scope.post_message_with_transfer(&msg, &js_sys::Array::of1(&v.buffer())),
        None => scope.post_message(&msg),
    };
    if let Err(e) = sent {
        web_sys::console::error_1(&e);
    }
}

/// Run as the encoder's worker: answer the page's requests until it terminates us.
pub fn serve() {
    // A panic here would leave the page waiting forever: tell it.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(0, &Reply::Failed(format!("the encoder's worker stopped: {info}")), None);
    }));
    let model: Rc<RefCell<Option<Rc<Model>>>> = Rc::new(RefCell::new(None));
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        let model = model.clone();
        match parse::<Request>(&ev.data()) {
            Ok((env, _)) => spawn_local(handle(env.id, env.body, model)),
            Err(e) => post(0, &Reply::Failed(e), None),
        }
    });
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    post(0, &Reply::Ready, None);
}

async fn handle(id: u32, req: Request, model: Rc<RefCell<Option<Rc<Model>>>>) {
    let loaded = model.borrow().clone();
    let outcome = match req {
        Request::Load {
            base,
            manifest,
            force_cpu,
        } => match load(id, &base, &manifest, force_cpu).await {
            Ok((m, info)) => {
                *model.borrow_mut() = Some(Rc::new(m));
                Ok((Reply::Loaded(info), None))
            }
            Err(e) => Err(e),
        },
        Request::Encode { texts, kind } => match loaded {
            Some(m) => encode(&m, &texts, kind).await,
            None => Err("the encoder is not loaded yet".into()),
        },
        Request::Bench { text, warmups, runs } => match loaded {
            Some(m) => bench(&m.encoder, &text, warmups, runs)
                .await
                .map(|v| (Reply::Bench(v), None)),
            None => Err("the encoder is not loaded yet".into()),
        },
    };
    match outcome {
        Ok((reply, vectors)) => post(id, &reply, vectors),
        Err(e) => post(id, &Reply::Failed(e), None),
    }
}

async fn init_device(force_cpu: bool) -> (Device, Backend) {
    if force_cpu {
        return (
            Device::flex(),
            Backend::Cpu("the CPU was requested (?backend=cpu)".into()),
        );
    }
    #[cfg(not(feature = "webgpu"))]
    return (
        Device::flex(),
        Backend::Cpu("this build of the app leaves out the WebGPU backend: built without its webgpu feature".into()),
    );
    #[cfg(feature = "webgpu")]
    {
        if let Err(why) = webgpu_adapter().await {
            return (Device::flex(), Backend::Cpu(why));
        }
        match Device::wgpu_options()
            .graphics_api(WgpuBackend::WebGpu)
            .init_async()
            .await
        {
            Ok(d) => (d, Backend::WebGpu),
            Err(e) => (Device::flex(), Backend::Cpu(format!("WebGPU failed to start: {e}"))),
        }
    }
}

async fn load(id: u32, base: &str, manifest: &Manifest, force_cpu: bool) -> Result<(Model, Loaded), String> {
    let t0 = now();
    let mut marks = Vec::new();
    let reader = BundleReader::open(base, manifest).await;
    let progress = |stage: String, done: u64| post(id, &Reply::Progress { stage, done }, None);
    let dir = &manifest.model.dir;
    // All at once: each file is a round trip to the browser's cache, and seven of e5's nine
    // are a few hundred bytes. (Reading the weights on a helper thread while this one builds
    // the tokenizer made a second visit slower on a 2-core machine: the cache answers in turn
    // and the threads compete.)
    let named = futures::future::try_join_all(manifest.model.files.iter().map(|f| {
        let (reader, progress) = (&reader, &progress);
        async move { Ok::<_, String>((f.clone(), reader.read(&format!("{dir}/{f}"), "model", progress).await?)) }
    }))
    .await?;
    marks.push(("model files".to_string(), now() - t0));
    let mut files = ModelFiles::from_named(&PathBuf::from(join_url(base, dir)), named).map_err(|e| e.to_string())?;
    progress("starting the encoder".into(), reader.done.get());
    let (device, mut backend) = init_device(force_cpu).await;
    // On the CPU, an int8 bundle's linears multiply as integers (`hbt_model::int8`: the
    // stored int8 weights, 16-bit activations): wasm SIMD's integer dot product does eight
    // multiply-adds an instruction, its f32 products four in two.
    let cpu_options = EncoderOptions {
        precision: if manifest.model.dtype.eq_ignore_ascii_case("q8") {
            Precision::Int8
        } else {
            Precision::F32
        },
        ..Default::default()
    };
    let options = if backend == Backend::WebGpu {
        EncoderOptions::default()
    } else {
        cpu_options.clone()
    };
    let loading = |e: hbt_model::ModelError| format!("the bundle's model does not load: {e}");
    // The files outlive the build only for WebGPU's fallback: a clone copies the whole model.
    let fallback = (backend == Backend::WebGpu).then(|| files.clone());
    let weights = std::mem::take(&mut files.weights);
    // In two steps, to show where the time goes: the tokenizer (its trie of 88,088 pieces),
    // then the weights.
    let prepared = Encoder::prepare(files, &options).map_err(loading)?;
    marks.push(("tokenizer".to_string(), now() - t0));
    let mut encoder = Encoder::from_prepared(prepared, weights, &device, &options).map_err(loading)?;
    encoder.tokenizer.pad_multiple = QUERY_PAD;
    marks.push(("encoder".to_string(), now() - t0));
    if encoder.config.hidden_size != manifest.dim {
        return Err(format!(
            "the model's vectors have {} dimensions but the passage vectors {}",
            encoder.config.hidden_size, manifest.dim
        ));
    }
    // One warm-up query compiles the GPU kernels now rather than on the first search,
    // and proves the backend works before the page relies on it.
    if let Some(files) = fallback {
        if let Err(e) = encoder.embed_batch_async(&["warm-up"], TextKind::Query).await {
            backend = Backend::Cpu(format!("WebGPU failed on the first query: {e}"));
            encoder = Encoder::from_files(files, &Device::flex(), &cpu_options).map_err(|e| e.to_string())?;
            encoder.tokenizer.pad_multiple = QUERY_PAD;
        }
        marks.push(("warm-up".to_string(), now() - t0));
    }
    let unk_id = ["<unk>", "[UNK]"].iter().find_map(|t| encoder.tokenizer.token_to_id(t));
    let info = Loaded {
        backend,
        marks,
        cached_bytes: reader.cached_bytes.get(),
    };
    Ok((Model { encoder, unk_id }, info))
}

async fn encode(m: &Model, texts: &[String], kind: TextKind) -> Result<(Reply, Option<js_sys::Float32Array>), String> {
    let t0 = now();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let enc = &m.encoder;
    let batch = enc.tokenize(&refs, kind).map_err(|e| e.to_string())?;
    let (mut tokens, mut unknown) = (Vec::new(), Vec::new());
    for r in 0..texts.len() {
        let ids = batch.row_ids(r);
        tokens.push(ids.len());
        unknown.push(m.unk_id.map(|u| ids.iter().filter(|&&i| i == u).count()).unwrap_or(0));
    }
    let flat = enc
        .forward(&enc.to_device(&batch, &enc.device))
        .into_data_async()
        .await
        .map_err(|e| format!("{e:?}"))?
        .try_to_vec::<f32>()
        .map_err(|e| format!("{e:?}"))?;
    let reply = Reply::Encoded {
        dim: enc.config.hidden_size,
        tokens,
        unknown,
        ms: now() - t0,
    };
    Ok((reply, Some(js_sys::Float32Array::from(flat.as_slice()))))
}

/// Token ids to vector, read back: the encoder alone, timed where it runs.
async fn bench(enc: &Encoder, text: &str, warmups: u32, runs: u32) -> Result<serde_json::Value, String> {
    let mut tokenize_ms = Vec::new();
    for _ in 0..runs.max(1) {
        let t = now();
        enc.tokenize(&[text], TextKind::Query).map_err(|e| e.to_string())?;
        tokenize_ms.push(now() - t);
    }
    let batch = enc.tokenize(&[text], TextKind::Query).map_err(|e| e.to_string())?;
    let mut encode_ms = Vec::new();
    let mut vector = Vec::new();
    for i in 0..warmups + runs {
        let t = now();
        let tensors = enc.to_device(&batch, &enc.device);
        let v = enc
            .forward(&tensors)
            .into_data_async()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let ms = now() - t;
        if i >= warmups {
            encode_ms.push(ms);
        }
        vector = v.try_to_vec::<f32>().map_err(|e| format!("{e:?}"))?;
        // Messages (the page's own requests) are not starved by a long benchmark.
        yield_to_browser().await;
    }
    Ok(serde_json::json!({
        "tokens": batch.lengths[0],
        "seq": batch.seq,
        "ids": batch.row_ids(0),
        "encode_ms": encode_ms.clone(),
        "encode_median_ms": median(&mut encode_ms),
        "tokenize_median_ms": median(&mut tokenize_ms),
        "vector": vector,
    }))
}

// ---------------------------------------------------------------- the page's side

/// Vectors of an [`EncoderWorker::encode`] call, in the order of the texts.
pub struct Encoded {
    /// The worker's time on the request.
    pub worker_ms: f64,
    pub vectors: Vec<f32>,
    pub tokens: Vec<usize>,
    pub unknown: Vec<usize>,
}

type Waiters = RefCell<HashMap<u32, (js_sys::Function, js_sys::Function)>>;

/// The page's handle on the encoder's worker; dropping it terminates the worker.
pub struct EncoderWorker {
    worker: web_sys::Worker,
    next: Cell<u32>,
    waiters: Rc<Waiters>,
    progress: Rc<RefCell<Option<Box<dyn Fn(String, u64)>>>>,
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
        self.worker.terminate();
    }
}

fn reject_all(waiters: &Waiters, why: &str) {
    for (_, (_, reject)) in waiters.borrow_mut().drain() {
        let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(why));
    }
}

impl EncoderWorker {
    /// Start the worker on this page's own wasm module and wait until it listens.
    pub async fn start() -> Result<EncoderWorker, String> {
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

        let waiters: Rc<Waiters> = Rc::new(RefCell::new(HashMap::new()));
        let progress: Rc<RefCell<Option<Box<dyn Fn(String, u64)>>>> = Rc::new(RefCell::new(None));
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
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let ready = Self::waiter(&waiters, 0);
        worker
            .post_message(&wasm_bindgen::module())
            .map_err(|e| format!("the encoder's worker cannot receive the module: {}", js_err(e)))?;
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
        self.worker.post_message(&message(&json, None)).map_err(js_err)?;
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
                },
                Some(v),
            ) if v.length() as usize == texts.len() * dim => Ok(Encoded {
                worker_ms: ms,
                vectors: v.to_vec(),
                tokens,
                unknown,
            }),
            (other, _) => Err(format!("the encoder's worker answered {other:?} to an encode")),
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
