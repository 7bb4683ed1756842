//! The worker's side: build the encoder from a bundle, answer encode and bench requests.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;

use hbt_bundle::Manifest;
use hbt_model::burn::tensor::Device;
#[cfg(feature = "webgpu")]
use hbt_model::burn::tensor::wgpu::WgpuBackend;
use hbt_model::{Encoder, EncoderOptions, ModelFiles, Precision, TextKind};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

#[cfg(feature = "webgpu")]
use crate::fetch::webgpu_adapter;
use crate::fetch::{BundleReader, join_url, now, yield_to_browser};
use crate::ports::MessagePort;
use crate::protocol::{Backend, Envelope, Loaded, QUERY_PAD, Reply, Request, RowsReport, message, parse};
use crate::timing::median;
use crate::worker::rows::{BULK_GAP, QUERY_GAP, WordRows};
use hbt_model::TokenBatch;
use hbt_model::bert::BatchTensors;

struct Model {
    encoder: Encoder,
    unk_id: Option<u32>,
    /// An on-demand vocabulary's rows (held, cached, fetched as texts need them).
    rows: Option<Rc<WordRows>>,
}

impl Model {
    /// The batch on the encoder's device; an on-demand vocabulary's missing rows are read
    /// first (runs `gap` pages apart in one read).
    async fn tensors(
        &self,
        batch: &TokenBatch,
        gap: u32,
        progress: &dyn Fn(u64),
    ) -> Result<(BatchTensors, Option<RowsReport>), String> {
        let enc = &self.encoder;
        let Some(rows) = &self.rows else {
            return Ok((enc.to_device(batch, &enc.device), None));
        };
        let report = rows.ensure(&batch.ids, gap, progress).await?;
        Ok((self.held_tensors(batch)?, Some(report)))
    }

    /// The batch on the device from rows already held.
    fn held_tensors(&self, batch: &TokenBatch) -> Result<BatchTensors, String> {
        let enc = &self.encoder;
        match &self.rows {
            None => Ok(enc.to_device(batch, &enc.device)),
            Some(rows) => enc
                .to_device_with_rows(batch, &rows.table.borrow(), &enc.device)
                .map_err(|missing| format!("word rows {missing:?} are not held")),
        }
    }
}

thread_local! {
    /// The port the server answers on when it runs in its client's thread ([`serve_on`]);
    /// `None` in its own worker, where it answers the worker's owner.
    static PORT: RefCell<Option<MessagePort>> = const { RefCell::new(None) };
}

fn post(id: u32, body: &Reply, vectors: Option<js_sys::Float32Array>) {
    let json = serde_json::to_string(&Envelope { id, body }).unwrap_or_default();
    let msg = message(&json, vectors.as_ref());
    // The vectors' buffer moves to the page rather than being copied.
    let transfer = vectors.as_ref().map(|v| js_sys::Array::of1(&v.buffer()));
    let sent = PORT.with_borrow(|port| match (port, &transfer) {
        (Some(p), Some(t)) => p.post_message_with_transfer(&msg, t),
        (Some(p), None) => p.post_message(&msg),
        (None, t) => {
            let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
            match t {
                Some(t) => scope.post_message_with_transfer(&msg, t),
                None => scope.post_message(&msg),
            }
        }
    });
    if let Err(e) = sent {
        web_sys::console::error_1(&e);
    }
}

/// How far a batch's texts are padded: to [`QUERY_PAD`] on WebGPU (one kernel shape for
/// almost every query); not at all on the CPU, which computes every padded row — padding a
/// 14-token question to 32 more than doubled its encoding there.
fn query_pad(backend: &Backend) -> usize {
    match backend {
        Backend::WebGpu => QUERY_PAD,
        Backend::Cpu(_) => 1,
    }
}

/// Run as the encoder's worker: answer the page's requests until it terminates us.
pub fn serve() {
    // A panic here would leave the page waiting forever: tell it.
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(0, &Reply::Failed(format!("the encoder's worker stopped: {info}")), None);
    }));
    let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    listen(|f| scope.set_onmessage(f));
}

/// Serve on `port`, in this thread: for a shared worker, which cannot start a worker of its
/// own (its panic hook is the caller's).
pub fn serve_on(port: MessagePort) {
    PORT.set(Some(port.clone()));
    listen(|f| port.set_onmessage(f));
}

fn listen(set_onmessage: impl FnOnce(Option<&js_sys::Function>)) {
    let model: Rc<RefCell<Option<Rc<Model>>>> = Rc::new(RefCell::new(None));
    let on_message = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |ev: web_sys::MessageEvent| {
        let model = model.clone();
        match parse::<Request>(&ev.data()) {
            Ok((env, _)) => spawn_local(handle(env.id, env.body, model)),
            Err(e) => post(0, &Reply::Failed(e), None),
        }
    });
    set_onmessage(Some(on_message.as_ref().unchecked_ref()));
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
        Request::Prefetch { texts, kind } => match loaded {
            Some(m) => prefetch(id, &m, &texts, kind)
                .await
                .map(|r| (Reply::Prefetched(r), None)),
            None => Err("the encoder is not loaded yet".into()),
        },
        Request::Bench { text, warmups, runs } => match loaded {
            Some(m) => bench(&m, &text, warmups, runs).await.map(|v| (Reply::Bench(v), None)),
            None => Err("the encoder is not loaded yet".into()),
        },
    };
    match outcome {
        Ok((reply, vectors)) => post(id, &reply, vectors),
        Err(e) => post(id, &Reply::Failed(e), None),
    }
    // Rows read for this request go to the cache after the reply, not before it.
    let m = model.borrow().clone();
    if let Some(rows) = m.as_ref().and_then(|m| m.rows.as_ref()) {
        rows.flush().await;
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

/// Read the bundle's model files and build the encoder (WebGPU, else the CPU), with its
/// word rows when they come on demand.
// long: the loading steps in the order the page's marks show them (files, tokenizer, encoder,
// word rows, warm-up with WebGPU's fallback); each step is a call, the rest is their marks.
async fn load(id: u32, base: &str, manifest: &Manifest, force_cpu: bool) -> Result<(Model, Loaded), String> {
    let t0 = now();
    let mut marks = Vec::new();
    let reader = BundleReader::open(base, manifest).await;
    let progress = |stage: String, done: u64| post(id, &Reply::Progress { stage, done }, None);
    let dir = &manifest.model.dir;
    // All at once: each file is a round trip to the browser's cache, and seven of e5's nine
    // are a few hundred bytes. The tokenizer (a trie of every piece: the longest step of a
    // second visit) is built as soon as its files are in, while the weights still arrive.
    // (Reading the weights on a helper thread made a second visit slower on a 2-core
    // machine: the cache answers in turn and the threads compete.)
    let read_all = |names: Vec<String>| {
        let (reader, progress) = (&reader, &progress);
        futures::future::try_join_all(names.into_iter().map(move |f| async move {
            let bytes = reader.read(&format!("{dir}/{f}"), "model", progress).await?;
            Ok::<_, String>((f, bytes))
        }))
    };
    let is_weights = |f: &String| f.ends_with(".safetensors") && !f.contains('/');
    let (weights, rest): (Vec<String>, Vec<String>) = manifest.model.files.iter().cloned().partition(is_weights);
    let origin = PathBuf::from(join_url(base, dir));
    let loading = |e: hbt_model::ModelError| format!("the bundle's model does not load: {e}");
    // On the CPU, an int8 bundle's linears multiply as integers (`hbt_model::int8`: the
    // stored int8 weights, 16-bit activations): wasm SIMD's integer dot product does eight
    // multiply-adds an instruction, its f32 products four in two. (Preparing reads no
    // precision: the tokenizer and the settings are the same for both.)
    let cpu_options = EncoderOptions {
        precision: if manifest.model.dtype.eq_ignore_ascii_case("q8") {
            Precision::Int8
        } else {
            Precision::F32
        },
        ..Default::default()
    };
    let prepare = async {
        let mut named = read_all(rest).await?;
        // The pieces file inflated by the browser (native code) rather than in wasm; a
        // stream it cannot inflate goes to the reader as it is, which names the file.
        for (name, bytes) in named.iter_mut() {
            if name == hbt_model::tokenizer::PIECES_FILE
                && !bytes.starts_with(b"hbtpiece")
                && let Ok(plain) = crate::fetch::inflate_zlib(bytes).await
            {
                *bytes = plain;
            }
        }
        let read_at = now() - t0;
        let files = ModelFiles::from_named(&origin, named).map_err(|e| e.to_string())?;
        let prepared = Encoder::prepare(files.clone(), &cpu_options).map_err(loading)?;
        Ok::<_, String>((files, prepared, read_at, now() - t0))
    };
    let (weights, prepared, (device, mut backend)) =
        futures::future::join3(read_all(weights), prepare, init_device(force_cpu)).await;
    let (mut files, prepared, read_at, tokenizer_at) = prepared?;
    marks.push(("tokenizer and config files read".to_string(), read_at));
    marks.push(("tokenizer".to_string(), tokenizer_at));
    files.weights = weights?.into_iter().map(|(n, b)| (origin.join(n), b)).collect();
    marks.push(("model files".to_string(), now() - t0));
    progress("starting the encoder".into(), reader.done.get());
    let options = if backend == Backend::WebGpu {
        EncoderOptions::default()
    } else {
        cpu_options.clone()
    };
    // The files outlive the build only for WebGPU's fallback: a clone copies the whole model.
    let fallback = (backend == Backend::WebGpu).then(|| files.clone());
    let weights = std::mem::take(&mut files.weights);
    let mut encoder = Encoder::from_prepared(prepared, weights, &device, &options).map_err(loading)?;
    encoder.tokenizer.pad_multiple = query_pad(&backend);
    marks.push(("encoder".to_string(), now() - t0));
    // An on-demand vocabulary: which rows this browser kept on earlier visits.
    let rows = match &manifest.model.word_rows {
        Some(info) => {
            let r = WordRows::open(base, manifest, info).await?;
            marks.push(("word rows listed".to_string(), now() - t0));
            Some(Rc::new(r))
        }
        None => None,
    };
    if rows.is_none() && encoder.words_on_demand() {
        return Err("the bundle's model fetches its word rows on demand, but the manifest says nothing of them (no model.word_rows)".into());
    }
    if encoder.config.hidden_size != manifest.dim {
        return Err(format!(
            "the model's vectors have {} dimensions but the passage vectors {}",
            encoder.config.hidden_size, manifest.dim
        ));
    }
    let mut model = Model {
        encoder,
        unk_id: None,
        rows,
    };
    // WebGPU's warm-up encodes with them, so it waits for them; the CPU path need not when
    // this browser kept them: they are read back from its cache once the page is ready.
    let mut warm_rows = common_rows(&model, fallback.is_none()).await?;
    if warm_rows.is_some() {
        marks.push(("common word rows".to_string(), now() - t0));
    }
    if let Some(files) = fallback {
        match warm_up(&model).await {
            Ok(r) => warm_rows = r.or(warm_rows),
            // Rows that cannot be read are the bundle's fault, not WebGPU's.
            Err(WarmUp::Rows(e)) => return Err(e),
            Err(WarmUp::Gpu(e)) => {
                backend = Backend::Cpu(format!("WebGPU failed on the first query: {e}"));
                model.encoder = Encoder::from_files(files, &Device::flex(), &cpu_options).map_err(|e| e.to_string())?;
                model.encoder.tokenizer.pad_multiple = query_pad(&backend);
            }
        }
        marks.push(("warm-up".to_string(), now() - t0));
    }
    model.unk_id = ["<unk>", "[UNK]"]
        .iter()
        .find_map(|t| model.encoder.tokenizer.token_to_id(t));
    let rows = model.rows.as_ref().map(|r| RowsReport {
        held: r.held(),
        total: manifest.model.word_rows.as_ref().map_or(0, |w| w.layout.rows),
        fallback: r.fallback(),
        ..warm_rows.unwrap_or_default()
    });
    let info = Loaded {
        backend,
        rows,
        marks,
        cached_bytes: reader.cached_bytes.get(),
    };
    Ok((model, info))
}

/// The word rows every query needs (the specials and the query prefix's pieces), read while
/// the page loads: the first question then reads only its own rows, and whether the server
/// answers ranges (or sends the whole table: the fallback) is known before it is asked.
/// With `later`, rows this browser kept on an earlier visit are read back from its cache
/// after the page is ready (no server is asked, so there is nothing to probe), and `None`.
async fn common_rows(m: &Model, later: bool) -> Result<Option<RowsReport>, String> {
    let Some(rows) = &m.rows else { return Ok(None) };
    let batch = m.encoder.tokenize(&[""], TextKind::Query).map_err(|e| e.to_string())?;
    if later && rows.kept(&batch.ids) {
        let rows = Rc::clone(rows);
        // A failure here is the first query's to report: it reads whatever is still missing.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = rows.ensure(&batch.ids, QUERY_GAP, &|_| {}).await;
        });
        return Ok(None);
    }
    rows.ensure(&batch.ids, QUERY_GAP, &|_| {}).await.map(Some)
}

enum WarmUp {
    Rows(String),
    Gpu(String),
}

/// One query through the encoder: compiles the GPU kernels now rather than on the first
/// search, and proves the backend works before the page relies on it.
async fn warm_up(m: &Model) -> Result<Option<RowsReport>, WarmUp> {
    let enc = &m.encoder;
    let batch = enc
        .tokenize(&["warm-up"], TextKind::Query)
        .map_err(|e| WarmUp::Rows(e.to_string()))?;
    let (tensors, rows) = m.tensors(&batch, QUERY_GAP, &|_| {}).await.map_err(WarmUp::Rows)?;
    enc.forward(&tensors)
        .into_data_async()
        .await
        .map_err(|e| WarmUp::Gpu(format!("{e:?}")))?;
    Ok(rows)
}

/// Read the word rows of a visitor's texts in a few large reads, before their batches.
async fn prefetch(id: u32, m: &Model, texts: &[String], kind: TextKind) -> Result<RowsReport, String> {
    let Some(rows) = &m.rows else {
        return Ok(RowsReport::default());
    };
    let mut ids = Vec::new();
    for chunk in texts.chunks(256) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let batch = m.encoder.tokenize(&refs, kind).map_err(|e| e.to_string())?;
        ids.extend(batch.ids);
        ids.sort_unstable();
        ids.dedup();
    }
    let progress = |done: u64| {
        post(
            id,
            &Reply::Progress {
                stage: "word rows".into(),
                done,
            },
            None,
        )
    };
    rows.ensure(&ids, BULK_GAP, &progress).await
}

async fn encode(m: &Model, texts: &[String], kind: TextKind) -> Result<(Reply, Option<js_sys::Float32Array>), String> {
    let t0 = now();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let enc = &m.encoder;
    let batch = enc.tokenize(&refs, kind).map_err(|e| e.to_string())?;
    let (tensors, rows) = m.tensors(&batch, QUERY_GAP, &|_| {}).await?;
    let (mut tokens, mut unknown) = (Vec::new(), Vec::new());
    for r in 0..texts.len() {
        let ids = batch.row_ids(r);
        tokens.push(ids.len());
        unknown.push(m.unk_id.map(|u| ids.iter().filter(|&&i| i == u).count()).unwrap_or(0));
    }
    let flat = enc
        .forward(&tensors)
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
        rows,
    };
    Ok((reply, Some(js_sys::Float32Array::from(flat.as_slice()))))
}

/// Token ids to vector, read back: the encoder alone, timed where it runs.
async fn bench(m: &Model, text: &str, warmups: u32, runs: u32) -> Result<serde_json::Value, String> {
    let enc = &m.encoder;
    let mut tokenize_ms = Vec::new();
    for _ in 0..runs.max(1) {
        let t = now();
        enc.tokenize(&[text], TextKind::Query).map_err(|e| e.to_string())?;
        tokenize_ms.push(now() - t);
    }
    let batch = enc.tokenize(&[text], TextKind::Query).map_err(|e| e.to_string())?;
    // Rows first (not timed: a warm query holds them).
    m.tensors(&batch, QUERY_GAP, &|_| {}).await?;
    let mut encode_ms = Vec::new();
    let mut vector = Vec::new();
    for i in 0..warmups + runs {
        let t = now();
        let tensors = m.held_tensors(&batch)?;
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
    // The same encodes again with each step of the forward pass timed (apart: the clock
    // reads stay out of the figures above).
    hbt_model::profile::start(now);
    let t = now();
    for _ in 0..runs.max(1) {
        enc.forward(&m.held_tensors(&batch)?)
            .into_data_async()
            .await
            .map_err(|e| format!("{e:?}"))?;
    }
    let per = runs.max(1) as f64;
    let profiled_ms = (now() - t) / per;
    let steps: Vec<(&str, f64)> = hbt_model::profile::stop()
        .into_iter()
        .map(|(k, ms)| (k, ms / per))
        .collect();
    let timed: f64 = steps.iter().map(|s| s.1).sum();
    Ok(serde_json::json!({
        "profile": {
            "encode_ms": profiled_ms,
            "steps_ms": steps,
            "other_ms": profiled_ms - timed,
        },
        "tokens": batch.lengths[0],
        "seq": batch.seq,
        "ids": batch.row_ids(0),
        "encode_ms": encode_ms.clone(),
        "encode_median_ms": median(&mut encode_ms),
        "tokenize_median_ms": median(&mut tokenize_ms),
        "vector": vector,
    }))
}
