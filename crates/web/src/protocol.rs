//! What the page and the encoder's worker say to each other: JSON requests and replies in
//! an envelope with the caller's id, vectors beside them as a transferred `Float32Array`.
//! Both sides import this module and neither imports the other's.

use hbt_bundle::Manifest;
use hbt_model::TextKind;
use serde::{Deserialize, Serialize};

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// What fetching rows cost one request of the page, and where the table stands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowsReport {
    /// Range reads (or the one whole download) made for this request.
    pub requests: u32,
    pub bytes: u64,
    /// Rows this request needed that were not held.
    pub rows: usize,
    /// Of them, rows read from this browser's cache (kept by an earlier visit).
    pub cached: usize,
    pub ms: f64,
    /// Rows held now, of the table's.
    pub held: usize,
    pub total: usize,
    /// Why every row is held after one download (a server without `Range`), if so.
    pub fallback: Option<String>,
}

/// Which Burn backend runs the encoder, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Backend {
    WebGpu,
    /// Burn's flex backend on the CPU; the reason WebGPU was not used.
    Cpu(String),
}

impl Backend {
    pub fn label(&self) -> &'static str {
        match self {
            Backend::WebGpu => "WebGPU",
            Backend::Cpu(_) => "CPU",
        }
    }
}

/// GPU kernels are compiled per shape: padding queries to a multiple of 32 tokens means the
/// warm-up compiles what almost every query will use.
pub(crate) const QUERY_PAD: usize = 32;

#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
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
    /// Fetch the word rows `texts` need in few large reads (a dropped file, before its
    /// batches are encoded); progress as bytes arrive.
    Prefetch {
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
pub(crate) enum Reply {
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
        /// An on-demand vocabulary's rows this request fetched.
        rows: Option<RowsReport>,
    },
    Prefetched(RowsReport),
    Bench(serde_json::Value),
    Failed(String),
}

/// What the page learns about the encoder once it is built.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Loaded {
    pub backend: Backend,
    /// An on-demand vocabulary's rows at the start (from this browser's cache) and after
    /// the warm-up query.
    pub rows: Option<RowsReport>,
    /// Loading steps in the worker, ms after it received the request.
    pub marks: Vec<(String, f64)>,
    pub cached_bytes: u64,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Envelope<T> {
    pub id: u32,
    pub body: T,
}

/// One message: `{json, f32?}`.
pub(crate) fn message(json: &str, vectors: Option<&js_sys::Float32Array>) -> JsValue {
    let o = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&o, &"json".into(), &json.into());
    if let Some(v) = vectors {
        let _ = js_sys::Reflect::set(&o, &"f32".into(), v);
    }
    o.into()
}

pub(crate) fn parse<T: for<'de> Deserialize<'de>>(
    data: &JsValue,
) -> Result<(Envelope<T>, Option<js_sys::Float32Array>), String> {
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
