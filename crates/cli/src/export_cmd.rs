//! `hbt export`: a static bundle (model, corpus, passage vectors, report) for the web app.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use hbt_data::CandidateInput;
use hbt_model::SaveDtype;
use hbt_pipeline::export::{ExportOptions, export_bundle, jsonl_corpus, lareqa_corpus};
use indicatif::{ProgressBar, ProgressStyle};

use crate::ModelArgs;

#[derive(Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// A LAReQA folder (XQuAD-R / MLQA-R layout) or a JSON-lines file of
    /// {"id", "lang", "text"} passages.
    #[arg(long)]
    pub corpus: PathBuf,
    /// Comma-separated language codes to keep (LAReQA corpora).
    #[arg(long, value_delimiter = ',')]
    pub languages: Option<Vec<String>>,
    /// Keep the first N question ids and the paragraphs they come from (LAReQA corpora).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Candidate input for LAReQA passages: sentence or sentence-and-context.
    #[arg(long, default_value = "sentence")]
    pub input: CandidateInput,
    /// An `hbt eval` report.json to ship for the app's charts.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Weights precision in the bundle: f16 (default), f32, or q8 (word-embedding table and
    /// linear layers in int8 with per-row scales, the rest f16; read by hbt and its browser
    /// app only).
    #[arg(long, default_value = "f16")]
    pub dtype: String,
    /// Keep only the tokens the bundle's passages and questions use (plus specials).
    #[arg(long)]
    pub prune_vocab: bool,
    /// With --prune-vocab: also keep every piece these word lists need (one word a line,
    /// e.g. `scripts/wordlists.py`'s frequency lists of the served languages), so questions
    /// the bundle does not contain tokenize as with the full model.
    #[arg(long, num_args = 1.., requires = "prune_vocab")]
    pub vocab_words: Vec<PathBuf>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Replace a non-empty --out.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(a: ExportArgs) -> Result<()> {
    let dtype = match a.dtype.as_str() {
        "f16" => SaveDtype::F16,
        "f32" => SaveDtype::F32,
        "q8" => SaveDtype::Q8,
        o => bail!("unknown --dtype `{o}` (f16, f32, q8)"),
    };
    let (corpus, source) = if a.corpus.is_dir() {
        let c = hbt_data::load_dir(&a.corpus)?;
        let mut c = hbt_eval::lareqa::select_languages(c, a.languages.as_deref(), &a.corpus)?;
        if let Some(n) = a.limit {
            c = c.limit(n);
        }
        (lareqa_corpus(&c, a.input), a.corpus.display().to_string())
    } else if a.corpus.is_file() {
        if a.languages.is_some() || a.limit.is_some() {
            bail!("--languages and --limit apply to LAReQA folders, not to a JSON-lines file");
        }
        (jsonl_corpus(&a.corpus)?, a.corpus.display().to_string())
    } else {
        bail!(
            "{}: no such file or folder. {}",
            a.corpus.display(),
            hbt_data::fetch::HOW_TO_GET
        );
    };
    if a.model.precision != hbt_model::Precision::F32 {
        // The bundle's weights and vectors come from the f32 model; `--dtype` sets what ships.
        bail!("hbt export takes no --precision (the bundle's number format is --dtype)");
    }
    let (mut enc, _) = a.model.load()?;
    enc.batch_size = a.batch_size.max(1);
    let dir = hbt_model::source::resolve_model(&a.model.model)?;
    eprintln!(
        "exporting {} passages and {} questions in {} language(s)",
        corpus.passages.len(),
        corpus.questions.len(),
        corpus.languages().len()
    );
    let bar = ProgressBar::new(corpus.passages.len() as u64).with_style(
        ProgressStyle::with_template("embedding passages {bar:30} {pos}/{len} {per_sec} eta {eta}")
            .expect("valid template"),
    );
    let options = ExportOptions {
        dtype,
        prune_vocab: a.prune_vocab,
        vocab_words: a.vocab_words.clone(),
        overwrite: a.force,
        report: a.report.clone(),
    };
    let s = export_bundle(&enc, &dir, corpus, &source, &a.out, &options, &bar)
        .with_context(|| format!("exporting a bundle to {}", a.out.display()))?;
    bar.finish_and_clear();
    let m = &s.manifest;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("bundle      {}", a.out.display());
    println!(
        "model       {} ({}), {} passages × {} dims",
        m.model.label, m.model.dtype, m.passages, m.dim
    );
    println!("languages   {}", m.languages.join(", "));
    if let Some(v) = &m.model.vocab {
        println!(
            "vocabulary  {} → {} tokens; weights {:.1} MiB → {:.1} MiB ({:.1}× smaller)",
            v.before,
            v.after,
            mib(v.weights_bytes_full),
            mib(v.weights_bytes_pruned),
            v.weights_bytes_full as f64 / v.weights_bytes_pruned.max(1) as f64
        );
    }
    println!(
        "size        {:.1} MiB in {} files ({:.1} s)",
        mib(m.total_bytes()),
        m.files.len(),
        s.seconds
    );
    Ok(())
}
