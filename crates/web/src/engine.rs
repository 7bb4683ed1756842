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

/// Passages to search, with their vectors: the bundle's, or a file the visitor dropped.
pub struct Pool {
    /// What the page calls it (the bundle's source, or the file name).
    pub label: String,
    pub corpus: BundleCorpus,
    pub vectors: Vec<f32>,
    pub dim: usize,
    /// Languages of the passages, in display order.
    pub langs: Vec<String>,
    /// Passage-map coordinates, computed on first use: the page is usable before them.
    pca: std::cell::OnceCell<Vec<(f32, f32)>>,
}

impl Pool {
    pub fn new(label: String, corpus: BundleCorpus, vectors: Vec<f32>, dim: usize, langs: Vec<String>) -> Pool {
        Pool {
            label,
            corpus,
            vectors,
            dim,
            langs,
            pca: std::cell::OnceCell::new(),
        }
    }

    pub fn pca(&self) -> &[(f32, f32)] {
        self.pca.get_or_init(|| analysis::pca2(&self.vectors, self.dim))
    }

    /// A question of the pool with exactly this text, if any (its answers are known).
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

pub struct Engine {
    pub encoder: Encoder,
    pub backend: Backend,
    pub manifest: Manifest,
    /// The bundle's own passages.
    pub demo: std::rc::Rc<Pool>,
    pub report: Option<serde_json::Value>,
    unk_id: Option<u32>,
    /// Bundle bytes that came from the Cache API rather than the network.
    pub cached_bytes: u64,
    /// From the start of loading to a working encoder.
    pub load_ms: f64,
    /// Loading steps and when each ended, ms after the start.
    pub marks: Vec<(String, f64)>,
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

pub(crate) fn now() -> f64 {
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
        let t_load = now();
        // When each loading step ended (ms since the start): shown on the page, so a slow
        // start can be pinned on the download, the cache, parsing or the encoder.
        let mut marks: Vec<(String, f64)> = Vec::new();
        // The first mark is when the page's own loading began (ms after navigation): what
        // the browser spent on fetching and compiling the app's wasm before it ran.
        marks.push(("page navigation".into(), -t_load));
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
        let cache = crate::fetch::open_cache().await;
        let mut done = 0u64;
        let mut cached_bytes = 0u64;
        let mut keys = Vec::new();
        let mut fetch = async |rel: String, stage: &str| -> Result<Vec<u8>, String> {
            let url = join_url(&base, &rel);
            let file = manifest.file(&rel);
            // Files with a content hash come from the Cache API when this browser has them.
            let key = match (&cache, file.and_then(|f| f.sha256.as_deref())) {
                (Some(_), Some(sha)) => Some(crate::fetch::cache_key(&url, sha)),
                _ => None,
            };
            if let (Some(c), Some(k), Some(f)) = (&cache, &key, file) {
                keys.push(k.clone());
                if let Some(bytes) = crate::fetch::cache_get(c, k, f.bytes).await {
                    done += bytes.len() as u64;
                    cached_bytes += bytes.len() as u64;
                    on_progress(Progress {
                        stage: format!("{stage} (from this browser's cache)"),
                        done,
                        total,
                    });
                    return Ok(bytes);
                }
            }
            let before = done;
            let bytes = fetch_bytes(&url, |n| {
                on_progress(Progress {
                    stage: stage.to_string(),
                    done: before + n,
                    total,
                })
            })
            .await?;
            if let Some(want) = file.map(|f| f.bytes)
                && want != bytes.len() as u64
            {
                return Err(format!(
                    "{url}: {} bytes, but the manifest says {want} (a truncated or stale file)",
                    bytes.len()
                ));
            }
            // Only files that passed the size check are kept for the next visit.
            if let (Some(c), Some(k)) = (&cache, &key) {
                crate::fetch::cache_put(c, k, &bytes).await;
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
        if let Some(c) = &cache {
            crate::fetch::cache_prune(c, &base, &keys).await;
        }
        marks.push(("download".into(), now() - t_load));
        // The page has one thread: between the heavy steps below, let it paint and take
        // keystrokes (a visitor may be typing a query meanwhile).
        crate::fetch::yield_to_browser().await;
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
        marks.push(("parse".into(), now() - t_load));
        let (device, mut backend) = init_device(force_cpu).await;
        crate::fetch::yield_to_browser().await;
        let mut encoder = Encoder::from_files(files.clone(), &device, &EncoderOptions::default())
            .map_err(|e| format!("the bundle's model does not load: {e}"))?;
        marks.push(("encoder".into(), now() - t_load));
        crate::fetch::yield_to_browser().await;
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
        marks.push(("warm-up".into(), now() - t_load));
        crate::fetch::yield_to_browser().await;
        // The source is the exporter's path: its last component names the benchmark.
        let source = manifest.source.trim_end_matches('/').rsplit('/').next().unwrap_or(&manifest.source);
        let label = format!("the bundle's passages ({source})");
        let demo = std::rc::Rc::new(Pool::new(label, corpus, vectors, dim, langs));
        marks.push(("passage map".into(), now() - t_load));
        Ok(Engine {
            encoder,
            backend,
            manifest,
            demo,
            report,
            unk_id,
            cached_bytes,
            load_ms: now() - t_load,
            marks,
        })
    }

    pub async fn search(&self, pool: &Pool, query: &str) -> Result<SearchResult, String> {
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
        let scores = analysis::scores(&vector, &pool.vectors, pool.dim);
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

    /// Embed a visitor's passages as `hbt export` embeds the bundle's (passage prefix,
    /// batches of 8), calling `progress(done, total)` between batches and yielding to the
    /// browser there, so the bar moves and the page stays responsive.
    pub async fn embed_pool(
        &self,
        label: String,
        passages: Vec<hbt_model::bundle::Passage>,
        progress: impl Fn(usize, usize),
    ) -> Result<Pool, String> {
        let dim = self.encoder.config.hidden_size;
        let total = passages.len();
        let mut vectors = Vec::with_capacity(total * dim);
        progress(0, total);
        for chunk in passages.chunks(POOL_BATCH) {
            let texts: Vec<&str> = chunk.iter().map(|p| p.text.as_str()).collect();
            for v in self
                .encoder
                .embed_batch_async(&texts, TextKind::Passage)
                .await
                .map_err(|e| e.to_string())?
            {
                vectors.extend(v);
            }
            progress(vectors.len() / dim, total);
            crate::fetch::yield_to_browser().await;
        }
        let corpus = BundleCorpus {
            passages,
            questions: Vec::new(),
        };
        let langs = corpus.languages();
        Ok(Pool::new(label, corpus, vectors, dim, langs))
    }
}

/// Passages embedded per forward pass for a dropped file.
const POOL_BATCH: usize = 8;
