//! `hbt export`: a static bundle (model, corpus, passage vectors, report) for the web app.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use hbt_bundle::VocabKind;
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
    #[arg(long, required_unless_present = "docs", conflicts_with = "docs")]
    pub corpus: Option<PathBuf>,
    /// A documentation site instead: an mdBook (its folder or `src/`), a Markdown tree
    /// (Docusaurus / MkDocs `docs/`) or a built HTML site. One passage per section, linked
    /// to `page#anchor`. Defaults then: --dtype q8 --vectors q8 --vocab on-demand, and an
    /// existing docs bundle at --out is updated in place, re-embedding only changed sections.
    #[arg(long)]
    pub docs: Option<PathBuf>,
    /// With --docs: the URL the site is served at (`https://example.org/book/` or `/book/`).
    #[arg(long, requires = "docs")]
    pub base_url: Option<String>,
    /// With --docs: how code blocks enter a passage: keep (as text, listings included) or
    /// drop (prose only).
    #[arg(long, requires = "docs", default_value = "keep")]
    pub code: hbt_data::docs::CodePolicy,
    /// With --docs: the anchor rule, mdbook or github (default: mdbook for mdBooks and
    /// HTML, github for other Markdown).
    #[arg(long, requires = "docs")]
    pub slugs: Option<hbt_data::docs::SlugRule>,
    /// With --docs: characters a passage holds before a section is split (with overlap).
    #[arg(long, requires = "docs", default_value_t = 1200)]
    pub max_chars: usize,
    /// Comma-separated language codes to keep (LAReQA corpora).
    #[arg(long, value_delimiter = ',')]
    pub languages: Option<Vec<String>>,
    /// Keep the first N question ids and the paragraphs they come from (LAReQA corpora).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Languages whose questions (not passages) ship as well, the first --example-questions
    /// of each: questions in scripts the passages lack, whose answers are known.
    #[arg(long, value_delimiter = ',')]
    pub question_languages: Option<Vec<String>>,
    /// Questions a --question-languages language ships.
    #[arg(long, default_value_t = 20)]
    pub example_questions: usize,
    /// Candidate input for LAReQA passages: sentence or sentence-and-context.
    #[arg(long, default_value = "sentence")]
    pub input: CandidateInput,
    /// An `hbt eval` report.json to ship for the app's charts.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Weights precision in the bundle: f16 (default), f32, or q8 (word-embedding table and
    /// linear layers in int8 with per-row scales, the rest f16; read by hbt and its browser
    /// app only).
    #[arg(long)]
    pub dtype: Option<String>,
    /// How the vocabulary ships: `full` (the whole table in the weights), `pruned` (the
    /// rows the bundle's texts and --vocab-words need: an offline bundle), or `on-demand`
    /// (the whole table as int8 rows the browser fetches as queries need them, and the full
    /// tokenizer in a compact file: every language the model knows, at the layers' size).
    #[arg(long)]
    pub vocab: Option<VocabKind>,
    /// The same as --vocab pruned.
    #[arg(long, conflicts_with = "vocab")]
    pub prune_vocab: bool,
    /// With --vocab pruned: also keep every piece these word lists need (one word a line,
    /// e.g. `scripts/wordlists.py`'s frequency lists of the served languages), so questions
    /// the bundle does not contain tokenize as with the full model.
    #[arg(long, num_args = 1..)]
    pub vocab_words: Vec<PathBuf>,
    /// With --vocab on-demand: rows a page, the unit the browser fetches and caches.
    #[arg(long, default_value_t = hbt_bundle::DEFAULT_PAGE_ROWS)]
    pub page_rows: usize,
    /// Passage vectors: f16 (default) or q8 (int8 with one scale a passage: half the bytes).
    #[arg(long)]
    pub vectors: Option<String>,
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
    let docs = a.docs.is_some();
    // A docs site's bundle is for visitors: small (int8) and every language (on demand).
    let dtype_name = a
        .dtype
        .clone()
        .unwrap_or_else(|| if docs { "q8" } else { "f16" }.into());
    let vectors_name = a
        .vectors
        .clone()
        .unwrap_or_else(|| if docs { "q8" } else { "f16" }.into());
    let default_vocab = if docs { VocabKind::OnDemand } else { VocabKind::Full };
    let dtype = match dtype_name.as_str() {
        "f16" => SaveDtype::F16,
        "f32" => SaveDtype::F32,
        "q8" => SaveDtype::Q8,
        o => bail!("unknown --dtype `{o}` (f16, f32, q8)"),
    };
    let vocab = if a.prune_vocab {
        VocabKind::Pruned
    } else {
        a.vocab.unwrap_or(default_vocab)
    };
    if !a.vocab_words.is_empty() && vocab != VocabKind::Pruned {
        bail!("--vocab-words chooses what a pruned vocabulary keeps: add --vocab pruned");
    }
    if a.page_rows == 0 {
        bail!("--page-rows must be at least 1");
    }
    let (corpus, source) = match &a.docs {
        Some(dir) => docs_corpus(&a, dir)?,
        None => load_corpus(&a)?,
    };
    // An incremental update replaces the docs bundle it reads; anything else needs --force.
    let update = docs && hbt_pipeline::docs::is_docs_bundle(&a.out);
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
        vocab,
        page_rows: a.page_rows,
        q8_vectors: match vectors_name.as_str() {
            "f16" => false,
            "q8" => true,
            o => bail!("unknown --vectors `{o}` (f16, q8)"),
        },
        vocab_words: a.vocab_words.clone(),
        overwrite: a.force || update,
        report: a.report.clone(),
        incremental: docs,
    };
    let s = export_bundle(&enc, &dir, corpus, &source, &a.out, &options, &bar)
        .with_context(|| format!("exporting a bundle to {}", a.out.display()))?;
    bar.finish_and_clear();
    print_summary(&s, &a.out, docs);
    Ok(())
}

/// What was written, for people.
fn print_summary(s: &hbt_pipeline::export::ExportSummary, out: &std::path::Path, docs: bool) {
    let m = &s.manifest;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!("bundle      {}", out.display());
    println!(
        "model       {} ({}), {} passages × {} dims",
        m.model.label, m.model.dtype, m.passages, m.dim
    );
    println!("languages   {}", m.languages.join(", "));
    if docs {
        if s.reused > 0 {
            println!(
                "sections    {} embedded, {} unchanged (vectors kept from the bundle that was there)",
                s.embedded, s.reused
            );
        } else {
            println!("sections    {} embedded", s.embedded);
        }
    }
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
    if let (Some(o), Some(w)) = (&s.on_demand, &m.model.word_rows) {
        println!(
            "vocabulary  {} rows on demand: {} ({:.1} MiB, {} bytes a row, {} a page); tokenizer {:.1} MiB → {:.1} MiB ({} pieces in {})",
            o.rows,
            w.path,
            mib(o.rows_bytes),
            w.layout.record,
            w.page_rows,
            mib(o.tokenizer_bytes.0),
            mib(o.tokenizer_bytes.1 + o.pieces_bytes),
            o.pieces,
            hbt_tokenizer::PIECES_FILE
        );
    }
    println!(
        "size        {:.1} MiB in {} files ({:.1} s); {:.1} MiB downloaded before the first answer",
        mib(m.total_bytes()),
        m.files.len(),
        s.seconds,
        mib(m.download_bytes())
    );
}

/// The bundle's passages and questions, and where they came from: a LAReQA folder (passage
/// languages, question-only languages, a limit) or a JSON-lines file.
fn load_corpus(a: &ExportArgs) -> Result<(hbt_bundle::BundleCorpus, String)> {
    let path = a.corpus.as_ref().context("--corpus or --docs is required")?;
    Ok(if path.is_dir() {
        let c = hbt_data::load_dir(path)?;
        // Passage languages and question-only languages, loaded together: a question's
        // answers are found by its id in every passage language.
        let all: Option<Vec<String>> = match (&a.languages, &a.question_languages) {
            (Some(p), Some(q)) => Some(p.iter().chain(q).cloned().collect()),
            (p, _) => p.clone(),
        };
        let mut c = hbt_eval::lareqa::select_languages(c, all.as_deref(), path)?;
        if let Some(n) = a.limit {
            c = c.limit(n);
        }
        let passage_langs: Option<Vec<String>> = a
            .question_languages
            .as_ref()
            .map(|q| c.languages().into_iter().filter(|l| !q.contains(l)).collect());
        let corpus = lareqa_corpus(&c, a.input, passage_langs.as_deref(), a.example_questions);
        (corpus, path.display().to_string())
    } else if path.is_file() {
        if a.languages.is_some() || a.limit.is_some() || a.question_languages.is_some() {
            bail!("--languages, --question-languages and --limit apply to LAReQA folders, not to a JSON-lines file");
        }
        (jsonl_corpus(path)?, path.display().to_string())
    } else {
        bail!(
            "{}: no such file or folder. {}",
            path.display(),
            hbt_data::fetch::HOW_TO_GET
        );
    })
}

/// A docs site's sections as the bundle's passages; warnings (skipped files) on stderr.
fn docs_corpus(a: &ExportArgs, dir: &std::path::Path) -> Result<(hbt_bundle::BundleCorpus, String)> {
    if a.languages.is_some() || a.limit.is_some() || a.question_languages.is_some() || a.report.is_some() {
        bail!("--languages, --question-languages, --limit and --report are for benchmark corpora, not --docs");
    }
    let opts = hbt_data::docs::DocsOptions {
        base_url: a.base_url.clone().unwrap_or_default(),
        code: a.code,
        max_chars: a.max_chars,
        slugs: a.slugs,
        ..Default::default()
    };
    if a.base_url.is_none() {
        eprintln!("hbt: no --base-url: result links are relative to the page the widget is on");
    }
    let site = hbt_data::docs::read_site(dir, &opts)?;
    for w in &site.warnings {
        eprintln!("hbt: warning: {w}");
    }
    let corpus = hbt_pipeline::docs::docs_corpus(&site);
    let mut langs: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &site.sections {
        *langs.entry(s.lang.as_str()).or_default() += 1;
    }
    eprintln!(
        "hbt: {} ({}): {} pages, {} sections; languages {}",
        dir.display(),
        site.kind.label(),
        site.pages,
        site.sections.len(),
        langs
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((corpus, dir.display().to_string()))
}
