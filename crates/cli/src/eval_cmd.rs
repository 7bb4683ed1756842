//! `hbt eval`, `hbt compare`, `hbt score`.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use hbt_data::CandidateInput;
use hbt_eval::lareqa::LareqaOptions;

use crate::ModelArgs;

#[derive(Args)]
pub struct EvalArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// xquad-r, mlqa-r (LAReQA layout) or beir (BEIR/MIRACL layout).
    #[arg(long)]
    pub bench: String,
    /// The benchmark's folder (default: the `hbt data fetch` cache).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Where report.json, report.md, table.txt and charts go.
    #[arg(long)]
    pub out: PathBuf,
    /// Keep only the first N question ids (a quick run).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Comma-separated language codes to keep.
    #[arg(long, value_delimiter = ',')]
    pub languages: Option<Vec<String>>,
    /// Write TREC run and qrels files per task into this folder.
    #[arg(long)]
    pub runs: Option<PathBuf>,
    /// Candidate input: sentence or sentence-and-context.
    #[arg(long, default_value = "sentence")]
    pub input: CandidateInput,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// qrels split for BEIR sets.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Label for this model in reports and comparisons.
    #[arg(long)]
    pub label: Option<String>,
    /// Replace an existing report in --out.
    #[arg(long)]
    pub force: bool,
}

pub fn data_dir(bench: &str, data: Option<PathBuf>) -> Result<PathBuf> {
    // Found as the study finds it (a local copy in $HBT_SHARED/data, then the fetch cache).
    let dir = data
        .or_else(|| hbt_data::fetch::locate(bench))
        .unwrap_or_else(|| hbt_data::fetch::cache_dir().join(bench));
    if !dir.is_dir() {
        bail!("{}: no such directory. {}", dir.display(), hbt_data::fetch::HOW_TO_GET);
    }
    Ok(dir)
}

pub fn run_eval(a: EvalArgs) -> Result<hbt_eval::Report> {
    if a.out.join("report.json").exists() && !a.force {
        bail!(
            "{}: a report is already there (pass --force to replace it)",
            a.out.join("report.json").display()
        );
    }
    let dir = data_dir(&a.bench, a.data.clone())?;
    let (mut enc, device) = a.model.load()?;
    enc.batch_size = a.batch_size.max(1);
    let mut settings = hbt_eval::encoder_settings(&enc);
    for (k, v) in [
        ("backend", serde_json::to_value(&device.backend)?),
        ("device", serde_json::to_value(&device)?),
        ("limit", serde_json::to_value(a.limit)?),
        ("languages", serde_json::to_value(&a.languages)?),
        ("input", serde_json::to_value(a.input)?),
    ] {
        settings.insert(k.into(), v);
    }
    let settings = serde_json::Value::Object(settings);
    let mut report = match a.bench.as_str() {
        "xquad-r" | "mlqa-r" => {
            let corpus = hbt_data::load_dir(&dir)?;
            let mut corpus = hbt_eval::lareqa::select_languages(corpus, a.languages.as_deref(), &dir)?;
            if let Some(n) = a.limit {
                corpus = corpus.limit(n);
            }
            let opts = LareqaOptions {
                input: a.input,
                runs: a.runs.clone(),
                ..Default::default()
            };
            hbt_eval::lareqa::evaluate(&enc, &corpus, &a.bench, &a.model.model, settings, &opts)?
        }
        "beir" => {
            let set = hbt_data::beir::load_beir(&dir, &a.split)?;
            let name = dir
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let (report, run) = hbt_eval::beir::evaluate(&enc, &set, &name, &a.model.model, settings, true)?;
            if let Some(runs) = &a.runs {
                let mut file = hbt_eval::trec::RunFile::default();
                let mut ids: Vec<_> = run.keys().collect();
                ids.sort();
                for q in ids {
                    file.ranked(q, run[q].iter().map(|(d, s)| (d.clone(), s)));
                }
                file.write(runs, &name)?;
            }
            report
        }
        other => bail!("unknown benchmark `{other}` (xquad-r, mlqa-r, beir)"),
    };
    report.label = a.label.clone();
    let files = hbt_eval::write_outputs(&report, &a.out)?;
    print!("{}", report.table());
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    Ok(report)
}

#[derive(Args)]
pub struct CompareArgs {
    /// Two or more report.json files of one benchmark.
    reports: Vec<PathBuf>,
    #[arg(long)]
    out: PathBuf,
}

pub fn compare(a: CompareArgs) -> Result<()> {
    let reports = hbt_eval::compare::load_comparable(&a.reports)?;
    let compared = hbt_eval::compare::Compared::of(&reports);
    print!("{}", hbt_eval::compare::table(&reports, &compared));
    print!("\n{}", compared.tests_markdown());
    for f in hbt_eval::compare::write(&reports, &compared, &a.out)? {
        eprintln!("wrote {}", f.display());
    }
    Ok(())
}

#[derive(Args)]
pub struct ScoreArgs {
    /// TREC run file: `qid Q0 docid rank score tag`.
    #[arg(long)]
    run: PathBuf,
    /// qrels: TREC (`qid 0 docid rel`) or BEIR TSV.
    #[arg(long)]
    qrels: PathBuf,
}

fn lines(path: &PathBuf) -> Result<Vec<(usize, Vec<String>)>> {
    let f = std::fs::File::open(path).with_context(|| path.display().to_string())?;
    let mut out = Vec::new();
    for (i, l) in std::io::BufReader::new(f).lines().enumerate() {
        let l = l.with_context(|| path.display().to_string())?;
        let v: Vec<String> = l.split_whitespace().map(String::from).collect();
        if !v.is_empty() {
            out.push((i + 1, v));
        }
    }
    Ok(out)
}

/// Per-query metrics of a TREC run, as JSON (the cross-check against pytrec_eval uses it).
pub fn score(a: ScoreArgs) -> Result<()> {
    let mut run: HashMap<String, Vec<(String, f64)>> = HashMap::new();
    for (n, f) in lines(&a.run)? {
        if f.len() != 6 {
            bail!("{}: line {n}: expected `qid Q0 docid rank score tag`", a.run.display());
        }
        let s: f64 = f[4]
            .parse()
            .with_context(|| format!("{}: line {n}: score `{}`", a.run.display(), f[4]))?;
        run.entry(f[0].clone()).or_default().push((f[2].clone(), s));
    }
    let mut qrels: HashMap<String, HashMap<String, i32>> = HashMap::new();
    for (n, f) in lines(&a.qrels)? {
        let (q, d, r) = match f.len() {
            4 => (&f[0], &f[2], &f[3]),
            3 if f[0] != "query-id" => (&f[0], &f[1], &f[2]),
            3 => continue,
            _ => bail!("{}: line {n}: expected `qid 0 docid rel`", a.qrels.display()),
        };
        let r: i32 = r
            .parse()
            .with_context(|| format!("{}: line {n}: relevance `{r}`", a.qrels.display()))?;
        qrels.entry(q.clone()).or_default().insert(d.clone(), r);
    }
    let mut out = serde_json::Map::new();
    for (q, docs) in &run {
        if let Some(rels) = qrels.get(q) {
            out.insert(
                q.clone(),
                serde_json::to_value(hbt_eval::metrics::score_query(docs, rels))?,
            );
        }
    }
    println!("{}", serde_json::Value::Object(out));
    Ok(())
}
