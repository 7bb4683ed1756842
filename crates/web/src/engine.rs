//! A loaded bundle: the encoder on WebGPU (or the CPU), the passages and their vectors.

use std::path::PathBuf;

use hbt_model::bundle::{BundleCorpus, Manifest, read_embeddings};
use hbt_model::burn::tensor::Device;
use hbt_model::burn::tensor::wgpu::WgpuBackend;
use hbt_model::{Encoder, EncoderOptions, ModelFiles, TextKind};

use crate::analysis;
use crate::fetch::{fetch_bytes, join_url, webgpu_adapter};

/// Which Burn backend runs the encoder, and why.
#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub stage: String,
    pub done: u64,
    pub total: u64,
}

pub struct Engine {
    pub encoder: Encoder,
    pub backend: Backend,
    pub manifest: Manifest,
    pub corpus: BundleCorpus,
    pub vectors: Vec<f32>,
    pub dim: usize,
    pub langs: Vec<String>,
    pub pca: Vec<(f32, f32)>,
    pub report: Option<serde_json::Value>,
    unk_id: Option<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    pub query: String,
    pub vector: Vec<f32>,
    pub scores: Vec<f32>,
    pub order: Vec<usize>,
    pub tokens: usize,
    pub unknown_tokens: usize,
    pub millis: f64,
}

const QUERY_PAD: usize = 32;

fn now() -> f64 {
    web_sys::window()
        .and_then(|w| w.performance())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

/// The bundle folder URL, with a trailing slash so relative names resolve inside it.
pub fn bundle_base(bundle: &str) -> String {
    let page = web_sys::window()
        .and_then(|w| w.location().href().ok())
        .unwrap_or_default();
    let mut b = join_url(&page, bundle);
    if !b.ends_with('/') {
        b.push('/');
    }
    b
}

async fn init_device(force_cpu: bool) -> (Device, Backend) {
    if force_cpu {
        return (
            Device::flex(),
            Backend::Cpu("the CPU was requested (?backend=cpu)".into()),
        );
    }
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

impl Engine {
    pub async fn load(bundle: &str, force_cpu: bool, on_progress: impl Fn(Progress)) -> Result<Engine, String> {
        let base = bundle_base(bundle);
        let manifest_url = join_url(&base, hbt_model::bundle::MANIFEST);
        on_progress(Progress {
            stage: "manifest".into(),
            done: 0,
            total: 1,
        });
        let mbytes = fetch_bytes(&manifest_url, |_| {}).await.map_err(|e| {
            format!(
                "No bundle at {base} ({e}). For the demo, run `scripts/build-web.sh` (it exports one to \
                 target/web-demo, which every `trunk build` / `trunk serve` copies in), or pass \
                 ?bundle=URL of a bundle made with `hbt export`."
            )
        })?;
        let manifest = Manifest::parse(&mbytes, &PathBuf::from(&manifest_url)).map_err(|e| e.to_string())?;
        let total = manifest.total_bytes().max(1);
        let mut done = 0u64;
        let mut fetch = async |rel: String, stage: &str| -> Result<Vec<u8>, String> {
            let url = join_url(&base, &rel);
            let before = done;
            let bytes = fetch_bytes(&url, |n| {
                on_progress(Progress {
                    stage: stage.to_string(),
                    done: before + n,
                    total,
                })
            })
            .await?;
            if let Some(want) = manifest.size_of(&rel)
                && want != bytes.len() as u64
            {
                return Err(format!(
                    "{url}: {} bytes, but the manifest says {want} (a truncated or stale file)",
                    bytes.len()
                ));
            }
            done += bytes.len() as u64;
            Ok(bytes)
        };
        let mut named = Vec::new();
        for f in &manifest.model.files {
            let rel = format!("{}/{f}", manifest.model.dir);
            named.push((f.clone(), fetch(rel, "model").await?));
        }
        let corpus_bytes = fetch(manifest.corpus.clone(), "corpus").await?;
        let emb_bytes = fetch(manifest.embeddings.clone(), "passage vectors").await?;
        let report = match &manifest.report {
            Some(r) => {
                let b = fetch(r.clone(), "report").await?;
                Some(serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", join_url(&base, r)))?)
            }
            None => None,
        };
        let corpus = BundleCorpus::parse(&corpus_bytes, &PathBuf::from(join_url(&base, &manifest.corpus)))
            .map_err(|e| e.to_string())?;
        let (n, dim, vectors) = read_embeddings(&emb_bytes, &PathBuf::from(join_url(&base, &manifest.embeddings)))
            .map_err(|e| e.to_string())?;
        if n != corpus.passages.len() {
            return Err(format!(
                "{}: {n} passage vectors for {} passages",
                manifest.embeddings,
                corpus.passages.len()
            ));
        }
        let files = ModelFiles::from_named(&PathBuf::from(join_url(&base, &manifest.model.dir)), named)
            .map_err(|e| e.to_string())?;

        on_progress(Progress {
            stage: "starting the encoder".into(),
            done: total,
            total,
        });
        let (device, mut backend) = init_device(force_cpu).await;
        let mut encoder = Encoder::from_files(files.clone(), &device, &EncoderOptions::default())
            .map_err(|e| format!("the bundle's model does not load: {e}"))?;
        // GPU kernels are compiled per shape: padding queries to a multiple of 32 tokens
        // means the warm-up below compiles what almost every query will use.
        encoder.tokenizer.pad_multiple = QUERY_PAD;
        if encoder.config.hidden_size != dim {
            return Err(format!(
                "the model's vectors have {} dimensions but the passage vectors {dim}",
                encoder.config.hidden_size
            ));
        }
        // One warm-up query compiles the GPU kernels now rather than on the first search,
        // and proves the backend works before the page relies on it.
        if backend == Backend::WebGpu
            && let Err(e) = encoder.embed_batch_async(&["warm-up"], TextKind::Query).await
        {
            backend = Backend::Cpu(format!("WebGPU failed on the first query: {e}"));
            encoder =
                Encoder::from_files(files, &Device::flex(), &EncoderOptions::default()).map_err(|e| e.to_string())?;
            encoder.tokenizer.pad_multiple = QUERY_PAD;
        }
        let unk_id = ["<unk>", "[UNK]"].iter().find_map(|t| encoder.tokenizer.token_to_id(t));
        let langs = if manifest.languages.is_empty() {
            corpus.languages()
        } else {
            manifest.languages.clone()
        };
        let pca = analysis::pca2(&vectors, dim);
        Ok(Engine {
            encoder,
            backend,
            manifest,
            corpus,
            vectors,
            dim,
            langs,
            pca,
            report,
            unk_id,
        })
    }

    pub async fn search(&self, query: &str) -> Result<SearchResult, String> {
        let t0 = now();
        let batch = self
            .encoder
            .tokenize(&[query], TextKind::Query)
            .map_err(|e| e.to_string())?;
        let ids = batch.row_ids(0);
        let unknown_tokens = self
            .unk_id
            .map(|u| ids.iter().filter(|&&i| i == u).count())
            .unwrap_or(0);
        let tokens = ids.len();
        let vector = self
            .encoder
            .embed_batch_async(&[query], TextKind::Query)
            .await
            .map_err(|e| e.to_string())?
            .remove(0);
        let scores = analysis::scores(&vector, &self.vectors, self.dim);
        let order = analysis::rank(&scores);
        Ok(SearchResult {
            query: query.to_string(),
            vector,
            scores,
            order,
            tokens,
            unknown_tokens,
            millis: now() - t0,
        })
    }

    /// A bundle question with exactly this text, if any (its answers are known).
    pub fn known_question(&self, text: &str) -> Option<&hbt_model::bundle::BundleQuestion> {
        let t = text.trim();
        self.corpus.questions.iter().find(|q| q.text.trim() == t)
    }

    /// One example question per language (for the example buttons), up to `n`.
    pub fn examples(&self, n: usize) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for l in &self.langs {
            if let Some(q) = self.corpus.questions.iter().find(|q| &q.lang == l) {
                out.push((l.clone(), q.text.clone()));
            }
            if out.len() >= n {
                break;
            }
        }
        out
    }

    pub fn lang_index(&self, lang: &str) -> usize {
        self.langs.iter().position(|l| l == lang).unwrap_or(0)
    }
}
