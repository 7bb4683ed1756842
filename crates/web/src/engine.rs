//! A loaded bundle: the encoder on WebGPU (or the CPU), the passages and their vectors.

use std::path::PathBuf;

use std::cell::Cell;
use std::rc::Rc;

use hbt_bundle::{BundleCorpus, Manifest, read_embeddings};
use hbt_model::TextKind;

use crate::analysis;
use crate::fetch::{BundleReader, fetch_bytes, join_url, now};
pub use crate::protocol::{Backend, RowsReport};
use crate::worker::EncoderWorker;

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
    pub fn known_question(&self, text: &str) -> Option<&hbt_bundle::BundleQuestion> {
        let t = text.trim();
        self.corpus.questions.iter().find(|q| q.text.trim() == t)
    }

    /// One question in each language that has questions but no passages here (a bundle
    /// exported with `--question-languages`): asked in scripts the passages lack.
    pub fn other_language_examples(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for q in &self.corpus.questions {
            if !self.langs.contains(&q.lang) && !out.iter().any(|(l, _)| *l == q.lang) {
                out.push((q.lang.clone(), q.text.clone()));
            }
        }
        out
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
    /// The encoder, in its own thread.
    worker: EncoderWorker,
    pub backend: Backend,
    pub manifest: Manifest,
    /// The bundle's own passages.
    pub demo: std::rc::Rc<Pool>,
    pub report: Option<hbt_report::Report>,
    /// Bundle bytes that came from the Cache API rather than the network.
    pub cached_bytes: u64,
    /// An on-demand vocabulary's rows when the encoder was ready.
    pub rows: Option<RowsReport>,
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
    /// Query to ranking, as the visitor waits for it; the ranking's share of it.
    pub millis: f64,
    pub rank_ms: f64,
    /// The encoder's worker's time on it.
    pub worker_ms: f64,
    /// An on-demand vocabulary's rows this query fetched.
    pub rows: Option<RowsReport>,
}

/// The bundle folder URL, with a trailing slash so relative names resolve inside it.
pub fn bundle_base(bundle: &str) -> String {
    let page = match web_sys::window() {
        Some(w) => w.location().href().unwrap_or_default(),
        // The docs widget's shared worker: relative to its script.
        None => crate::ports::worker_href(),
    };
    let mut b = join_url(&page, bundle);
    if !b.ends_with('/') {
        b.push('/');
    }
    b
}

impl Engine {
    /// Load a bundle: the encoder's worker reads the model and builds the encoder while
    /// this thread reads the passages, their vectors and the report, so the page keeps
    /// painting and taking keystrokes all along.
    pub async fn load(
        bundle: &str,
        force_cpu: bool,
        on_progress: impl Fn(Progress) + 'static,
    ) -> Result<Engine, String> {
        let t_load = now();
        // When each loading step ended (ms since the start): shown on the page, so a slow
        // start can be pinned on the download, the cache, parsing or the encoder.
        let mut marks: Vec<(String, f64)> = Vec::new();
        // The first mark is when the page's own loading began (ms after navigation): what
        // the browser spent on fetching and compiling the app's wasm before it ran.
        let origin = if web_sys::window().is_some() {
            "page navigation"
        } else {
            "shared worker start"
        };
        marks.push((origin.into(), -t_load));
        let base = bundle_base(bundle);
        let manifest_url = join_url(&base, hbt_bundle::MANIFEST);
        on_progress(Progress {
            stage: "manifest".into(),
            done: 0,
            total: 1,
        });
        // The worker starts (instantiating this module again) while the manifest arrives.
        let (worker, mbytes) = futures::future::join(EncoderWorker::start(), read_manifest(&manifest_url)).await;
        let worker = worker?;
        marks.push(("encoder worker started, manifest read".into(), now() - t_load));
        let mbytes = mbytes.map_err(|e| {
            format!(
                "No bundle at {base} ({e}). For the demo, run `scripts/build-web.sh` (it exports one to \
                 target/web-demo, which every `trunk build` / `trunk serve` copies in), or pass \
                 ?bundle=URL of a bundle made with `hbt export`."
            )
        })?;
        let manifest = Manifest::parse(&mbytes, &PathBuf::from(&manifest_url)).map_err(|e| e.to_string())?;
        // An on-demand vocabulary's rows file is not downloaded: not in the bar.
        let total = manifest.download_bytes().max(1);
        // One bar for both threads' bytes; the stage is whichever spoke last.
        let done = Rc::new(Cell::new((0u64, 0u64)));
        let on_progress = Rc::new(on_progress);
        let report = {
            let (on_progress, done) = (on_progress.clone(), done.clone());
            move |stage: String, model: Option<u64>, page: Option<u64>| {
                let (m, p) = done.get();
                let now_done = (model.unwrap_or(m), page.unwrap_or(p));
                done.set(now_done);
                on_progress(Progress {
                    stage,
                    done: now_done.0 + now_done.1,
                    total,
                });
            }
        };
        let model_progress = {
            let r = report.clone();
            move |stage: String, n: u64| r(stage, Some(n), None)
        };
        let page_progress = move |stage: String, n: u64| report(stage, None, Some(n));
        let t_sent = now() - t_load;
        // Both threads read at once: the worker its model, this thread the passages.
        let (loaded, page) = futures::future::join(
            worker.load(&base, &manifest, force_cpu, model_progress),
            read_pool(&base, &manifest, &page_progress),
        )
        .await;
        let (demo, report, page_cached) = page?;
        marks.push(("passages ready".into(), demo.ready_ms - t_load));
        let loaded = loaded?;
        // The worker's marks count from when it got the request.
        marks.extend(loaded.marks.iter().map(|(k, ms)| (k.clone(), t_sent + ms)));
        marks.sort_by(|a, b| a.1.total_cmp(&b.1));
        // Old files go once the app is ready: listing the cache is a round trip per entry.
        {
            let (base, manifest) = (base.clone(), manifest.clone());
            wasm_bindgen_futures::spawn_local(async move { crate::fetch::prune_bundle_cache(&base, &manifest).await });
        }
        let load_ms = now() - t_load;
        marks.push(("ready".into(), load_ms));
        Ok(Engine {
            worker,
            backend: loaded.backend,
            manifest,
            demo: Rc::new(demo.pool),
            report,
            cached_bytes: page_cached + loaded.cached_bytes,
            rows: loaded.rows,
            load_ms,
            marks,
        })
    }

    pub async fn search(&self, pool: &Pool, query: &str) -> Result<SearchResult, String> {
        let t0 = now();
        let e = self.worker.encode(&[query], TextKind::Query).await?;
        let t_rank = now();
        let scores = analysis::scores(&e.vectors, &pool.vectors, pool.dim);
        let order = hbt_report::rank::ranking(&scores);
        let rank_ms = now() - t_rank;
        Ok(SearchResult {
            query: query.to_string(),
            vector: e.vectors,
            scores,
            order,
            tokens: e.tokens[0],
            unknown_tokens: e.unknown[0],
            millis: now() - t0,
            rank_ms,
            worker_ms: e.worker_ms,
            rows: e.rows,
        })
    }

    /// Embed a visitor's passages as `hbt export` embeds the bundle's (passage prefix,
    /// batches of 8) in the encoder's worker, calling `progress(what, fraction done)`: an
    /// on-demand vocabulary's rows first (a few large reads), then each batch.
    pub async fn embed_pool(
        &self,
        label: String,
        passages: Vec<hbt_bundle::Passage>,
        progress: impl Fn(String, f64) + Clone + 'static,
    ) -> Result<Pool, String> {
        let dim = self.demo.dim;
        let total = passages.len();
        let mut vectors = Vec::with_capacity(total * dim);
        if self.manifest.model.word_rows.is_some() {
            let texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
            let p = progress.clone();
            progress("Fetching the word rows these passages need".into(), 0.0);
            let r = self
                .worker
                .prefetch(&texts, TextKind::Passage, move |_, bytes| {
                    p(
                        format!(
                            "Fetching the word rows these passages need: {:.1} MB",
                            bytes as f64 / 1e6
                        ),
                        0.0,
                    )
                })
                .await?;
            progress(
                format!(
                    "{} word rows in {} reads ({:.1} MB); embedding",
                    r.rows,
                    r.requests,
                    r.bytes as f64 / 1e6
                ),
                0.0,
            );
        }
        let label_of = |done: usize| format!("Embedding {done} / {total} passages in this browser");
        progress(label_of(0), 0.0);
        for chunk in passages.chunks(POOL_BATCH) {
            let texts: Vec<&str> = chunk.iter().map(|p| p.text.as_str()).collect();
            let e = self.worker.encode(&texts, TextKind::Passage).await?;
            vectors.extend(e.vectors);
            let done = vectors.len() / dim;
            progress(label_of(done), done as f64 / total.max(1) as f64);
        }
        let corpus = BundleCorpus {
            passages,
            questions: Vec::new(),
        };
        let langs = corpus.languages();
        Ok(Pool::new(label, corpus, vectors, dim, langs))
    }

    /// Time the encoder in its worker (token ids to vector, `runs` after `warmups`).
    pub async fn bench_encode(&self, text: &str, warmups: u32, runs: u32) -> Result<serde_json::Value, String> {
        self.worker.bench(text, warmups, runs).await
    }
}

/// The bundle's manifest. In the docs widget's shared worker, the widget (widget.js
/// `connectShared`, in the page or in `engine.html`) revalidated it a moment ago and named
/// the worker by it (`?manifest=HASH-LENGTH`): that copy is taken from the HTTP cache, saving
/// a second round trip to the server before anything else can start; a cached copy that is
/// not the one named (or none) is fetched as any file.
async fn read_manifest(url: &str) -> Result<Vec<u8>, String> {
    if let Some(named) = named_manifest()
        && let Ok(bytes) = crate::fetch::fetch_cached(url).await
        && manifest_name(&bytes) == named
    {
        return Ok(bytes);
    }
    fetch_bytes(url, |_| {}).await
}

/// The `manifest` parameter of the shared worker's URL, if this is one.
fn named_manifest() -> Option<String> {
    if !crate::ports::in_shared_worker() {
        return None;
    }
    web_sys::Url::new(&crate::ports::worker_href())
        .ok()?
        .search_params()
        .get("manifest")
}

/// The widget's name for a manifest: FNV-1a (32 bits) over the text's UTF-16 code units, in
/// hex, and their count — what JavaScript's `charCodeAt` and `length` see.
fn manifest_name(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let (mut h, mut n) = (0x811c_9dc5u32, 0usize);
    for unit in text.encode_utf16() {
        h = (h ^ u32::from(unit)).wrapping_mul(0x0100_0193);
        n += 1;
    }
    format!("{h:x}-{n}")
}

struct PagePool {
    pool: Pool,
    /// When it was parsed (this thread's clock).
    ready_ms: f64,
}

/// The page's share of loading: the bundle's passages, their vectors and the report.
async fn read_pool(
    base: &str,
    manifest: &Manifest,
    progress: &impl Fn(String, u64),
) -> Result<(PagePool, Option<hbt_report::Report>, u64), String> {
    let reader = BundleReader::open(base, manifest).await;
    // Read at once (each a round trip to the cache or the server), parsed one by one.
    let (corpus_bytes, emb_bytes, report_bytes) = futures::future::try_join3(
        reader.read(&manifest.corpus, "corpus", progress),
        reader.read(&manifest.embeddings, "passage vectors", progress),
        async {
            match &manifest.report {
                Some(r) => reader.read(r, "report", progress).await.map(Some),
                None => Ok(None),
            }
        },
    )
    .await?;
    let report = match (&manifest.report, report_bytes) {
        (Some(r), Some(b)) => Some(
            serde_json::from_slice::<hbt_report::Report>(&b)
                .map_err(|e| format!("{}: not an hbt eval report ({e})", join_url(base, r)))?,
        ),
        _ => None,
    };
    // Parsing is this thread's only heavy work while loading: one step a task, so a
    // keystroke waits for one of them at most.
    crate::fetch::yield_to_browser().await;
    let corpus = BundleCorpus::parse(&corpus_bytes, &PathBuf::from(join_url(base, &manifest.corpus)))
        .map_err(|e| e.to_string())?;
    crate::fetch::yield_to_browser().await;
    let (n, dim, vectors) =
        read_embeddings(&emb_bytes, &PathBuf::from(join_url(base, &manifest.embeddings))).map_err(|e| e.to_string())?;
    if n != corpus.passages.len() {
        return Err(format!(
            "{}: {n} passage vectors for {} passages",
            manifest.embeddings,
            corpus.passages.len()
        ));
    }
    if dim != manifest.dim {
        return Err(format!(
            "{}: vectors of {dim} dimensions, but the manifest says {}",
            manifest.embeddings, manifest.dim
        ));
    }
    let langs = if manifest.languages.is_empty() {
        corpus.languages()
    } else {
        manifest.languages.clone()
    };
    // The source is the exporter's path: its last component names the benchmark.
    let source = manifest
        .source
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(&manifest.source);
    let label = format!("the bundle's passages ({source})");
    let pool = Pool::new(label, corpus, vectors, dim, langs);
    Ok((PagePool { pool, ready_ms: now() }, report, reader.cached_bytes.get()))
}

/// Passages embedded per forward pass for a dropped file.
const POOL_BATCH: usize = 8;
