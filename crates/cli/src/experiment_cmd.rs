//! `hbt experiment`: the paper's study as one command. For every sampler (or α) and seed:
//! train, then evaluate on every test benchmark; the untrained model is evaluated too.
//! Finished runs (a `summary.json`, a `report.json`) are never redone, so re-running the
//! same command after an interruption finishes only what is missing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, Result, bail};
use clap::Args;
use hbt_data::CandidateInput;
use hbt_eval::Report;
use hbt_eval::lareqa::LareqaOptions;
use hbt_model::{BackendKind, Encoder, EncoderOptions};
use hbt_train::TrainConfig;

#[derive(Args)]
pub struct ExperimentArgs {
    /// `cpu`: e5-small fixture, MLQA-R → XQuAD-R, sized for a CPU run under an hour.
    #[arg(long)]
    pub preset: Option<String>,
    /// The initial model (directory or hf:ORG/NAME).
    #[arg(long)]
    pub init: Option<String>,
    /// Training corpora (LAReQA folders).
    #[arg(long, num_args = 1..)]
    pub train: Vec<PathBuf>,
    /// Test benchmarks: `xquad-r=DIR`, `mlqa-r=DIR`, or a folder named after its benchmark.
    #[arg(long, num_args = 1..)]
    pub test: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "mono,cross,hybrid")]
    pub samplers: Vec<String>,
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// Train hybrid at each of these α instead of the sampler list (the paper's grid).
    #[arg(long, value_delimiter = ',')]
    pub alpha_sweep: Option<Vec<f64>>,
    /// Seeds per sampler (default 3; 1 with `--preset cpu`, to stay under an hour on 2 cores).
    #[arg(long)]
    pub seeds: Option<u64>,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long)]
    pub steps: Option<usize>,
    #[arg(long)]
    pub batch: Option<usize>,
    #[arg(long)]
    pub lr: Option<f64>,
    /// Evaluate on the first N question ids of each test benchmark.
    #[arg(long)]
    pub limit: Option<usize>,
    #[arg(long)]
    pub backend: Option<BackendKind>,
}

struct Plan {
    init: String,
    train: Vec<PathBuf>,
    tests: Vec<(String, PathBuf)>,
    cfg: TrainConfig,
    limit: Option<usize>,
}

fn shared_dir() -> PathBuf {
    std::env::var_os("HBT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared"))
}

fn plan(a: &ExperimentArgs) -> Result<Plan> {
    let mut cfg = TrainConfig {
        alpha: a.alpha,
        ..Default::default()
    };
    let (mut init, mut train, mut tests, mut limit) = (a.init.clone(), a.train.clone(), Vec::new(), a.limit);
    match a.preset.as_deref() {
        None => {}
        Some("cpu") => {
            // Sized for two CPU cores (about 15 e5-small texts/s forward on Burn's flex
            // backend): 30 steps of batch 12 per run (360 pairs), the evaluation on the first
            // 60 XQuAD-R question ids in all 11 languages (~1,400 texts).
            let fixture = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_default()
                .join(".cache/hbt-fixtures/multilingual-e5-small");
            init.get_or_insert_with(|| {
                if fixture.join("config.json").is_file() {
                    fixture.display().to_string()
                } else {
                    "hf:intfloat/multilingual-e5-small".into()
                }
            });
            if train.is_empty() {
                train.push(local_or_fetch("mlqa-r")?);
            }
            if a.test.is_empty() {
                tests.push(("xquad-r".to_string(), local_or_fetch("xquad-r")?));
            }
            cfg.batch_size = 12;
            cfg.max_steps = 30;
            cfg.warmup_steps = 3;
            cfg.lr = 2e-5;
            cfg.eval_every = 10;
            cfg.val_batches = 2;
            cfg.checkpoint_every = 10;
            cfg.max_query_len = 48;
            cfg.max_passage_len = 96;
            limit.get_or_insert(60);
        }
        Some(p) => bail!("unknown preset `{p}` (cpu)"),
    }
    for t in &a.test {
        let (name, dir) = match t.split_once('=') {
            Some((n, d)) => (n.to_string(), PathBuf::from(d)),
            None => {
                let d = PathBuf::from(t);
                (
                    d.file_name()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                    d,
                )
            }
        };
        if !matches!(name.as_str(), "xquad-r" | "mlqa-r") {
            bail!(
                "test benchmark `{name}` ({}): expected xquad-r or mlqa-r (name it as NAME=DIR)",
                dir.display()
            );
        }
        tests.push((name, dir));
    }
    if let Some(s) = a.steps {
        cfg.max_steps = s;
    }
    if let Some(b) = a.batch {
        cfg.batch_size = b;
    }
    if let Some(lr) = a.lr {
        cfg.lr = lr;
    }
    let Some(init) = init else {
        bail!("--init MODEL is required (or --preset cpu)")
    };
    if train.is_empty() || tests.is_empty() {
        bail!("--train and --test are required (or --preset cpu)");
    }
    Ok(Plan {
        init,
        train,
        tests,
        cfg,
        limit,
    })
}

/// ../shared/data/NAME when it is there, else the fetch cache (downloading when online).
fn local_or_fetch(name: &str) -> Result<PathBuf> {
    let local = shared_dir().join("data").join(name);
    if local.is_dir() {
        return Ok(local);
    }
    let cached = hbt_data::fetch::cache_dir().join(name);
    if cached.is_dir() {
        return Ok(cached);
    }
    Ok(hbt_data::fetch::fetch(name, &hbt_data::fetch::cache_dir(), |m| {
        eprintln!("{m}")
    })?)
}

fn eval_into(
    model_dir: &Path,
    bench: &str,
    data: &Path,
    limit: Option<usize>,
    backend: BackendKind,
    label: &str,
    out: &Path,
) -> Result<Report> {
    let done = out.join("report.json");
    if done.is_file() {
        return Ok(Report::read(&done)?);
    }
    let device = hbt_model::device(backend)?;
    let mut enc = Encoder::load(model_dir, &device, &EncoderOptions::default())?;
    enc.batch_size = 64;
    enc.tokenizer.pad_multiple = 8;
    let mut corpus = hbt_data::load_dir(data)?;
    if let Some(n) = limit {
        corpus = corpus.limit(n);
    }
    let settings = serde_json::json!({"limit": limit, "input": CandidateInput::Sentence, "backend": format!("{backend:?}").to_lowercase()});
    let mut r = hbt_eval::lareqa::evaluate(
        &enc,
        &corpus,
        bench,
        &model_dir.display().to_string(),
        settings,
        &LareqaOptions::default(),
    )?;
    r.label = Some(label.to_string());
    hbt_eval::write_outputs(&r, out)?;
    Ok(r)
}

use hbt_eval::stats::{Measure, mean_std};

/// A summary column: its name, its figure, and the paired test behind it (R@k have none).
type Metric = (&'static str, Option<Measure>, fn(&hbt_eval::report::Summary) -> f64);
const METRICS: [Metric; 7] = [
    ("mono mAP", Some(Measure::MonoMap), |s| 100.0 * s.mono_map),
    ("cross mAP", Some(Measure::CrossMap), |s| 100.0 * s.cross_map),
    ("multi mAP", Some(Measure::MultiMap), |s| 100.0 * s.multi_map),
    ("mono R@1", None, |s| 100.0 * s.mono_r_1),
    ("cross R@1", None, |s| 100.0 * s.cross_r_1),
    ("multi R@10", None, |s| 100.0 * s.multi_r_10),
    ("rank dist. ↓", Some(Measure::RankDistance), |s| s.rank_distance),
];

/// Each row's seed reports, as the paired tests take them.
fn groups(rows: &[(String, Vec<Report>)]) -> Vec<(String, Vec<&Report>)> {
    rows.iter().map(|(n, rs)| (n.clone(), rs.iter().collect())).collect()
}

fn summary_table(bench: &str, rows: &[(String, Vec<Report>)], comps: &[hbt_eval::stats::Comparison]) -> String {
    let groups = groups(rows);
    let stats: Vec<Vec<(f64, f64)>> = rows
        .iter()
        .map(|(_, rs)| {
            METRICS
                .iter()
                .map(|(_, _, f)| mean_std(&rs.iter().filter_map(|r| r.summary.as_ref().map(f)).collect::<Vec<_>>()))
                .collect()
        })
        .collect();
    let mut s = format!("### {bench}\n\n| run | seeds |");
    for (n, _, _) in METRICS {
        s += &format!(" {n} |");
    }
    s += "\n|---|---:|";
    for _ in METRICS {
        s += "---:|";
    }
    s += "\n";
    for (i, (name, rs)) in rows.iter().enumerate() {
        s += &format!("| {name} | {} |", rs.len());
        for (k, (_, test, _)) in METRICS.iter().enumerate() {
            // Bold only a winner that a paired test separates from the runner-up.
            let best = test.and_then(|m| hbt_eval::stats::significant_best(&groups, comps, m));
            let (m, sd) = stats[i][k];
            let cell = if rs.len() > 1 {
                format!("{m:.2} ± {sd:.2}")
            } else {
                format!("{m:.2}")
            };
            s += &if best == Some(i) {
                format!(" **{cell}** |")
            } else {
                format!(" {cell} |")
            };
        }
        s += "\n";
    }
    s
}

/// Each seed's figure, so a reader sees the spread behind mean ± std.
fn per_seed(rows: &[(String, Vec<Report>)]) -> String {
    let mut s = String::from("Per seed (in seed order):\n\n| run |");
    for m in Measure::ALL {
        s += &format!(" {} |", m.label());
    }
    s += "\n|---|";
    for _ in Measure::ALL {
        s += "---|";
    }
    s += "\n";
    for (name, rs) in rows {
        s += &format!("| {name} |");
        for m in Measure::ALL {
            let v: Vec<String> = rs
                .iter()
                .filter_map(|r| r.summary.as_ref().map(|x| format!("{:.2}", m.of(x))))
                .collect();
            s += &format!(" {} |", v.join(" / "));
        }
        s += "\n";
    }
    s
}

fn per_language(bench: &str, rows: &[(String, Vec<Report>)]) -> String {
    let langs = rows
        .iter()
        .flat_map(|(_, r)| r.first())
        .map(|r| r.languages.clone())
        .next()
        .unwrap_or_default();
    let mut s =
        format!("### {bench}: per query language (multilingual-pool mAP / rank distance, mean over seeds)\n\n| run |");
    for l in &langs {
        s += &format!(" {l} |");
    }
    s += "\n|---|";
    for _ in &langs {
        s += "---:|";
    }
    s += "\n";
    for (name, rs) in rows {
        s += &format!("| {name} |");
        for l in &langs {
            let m: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.multi.iter().find(|m| &m.query_lang == l))
                .map(|m| 100.0 * m.map)
                .collect();
            let d: Vec<f64> = rs
                .iter()
                .filter_map(|r| r.multi.iter().find(|m| &m.query_lang == l))
                .map(|m| m.rank_distance)
                .collect();
            s += &format!(" {:.1} / {:.1} |", mean_std(&m).0, mean_std(&d).0);
        }
        s += "\n";
    }
    s
}

pub fn run(a: ExperimentArgs) -> Result<()> {
    let p = plan(&a)?;
    let seeds = a.seeds.unwrap_or(if a.preset.is_some() { 1 } else { 3 });
    let t0 = std::time::Instant::now();
    let device_info = crate::select_device(a.backend);
    let backend = device_info.kind();
    std::fs::create_dir_all(&a.out).with_context(|| a.out.display().to_string())?;
    // One study writer at a time (each run's own directory is locked again by training).
    let _lock = hbt_train::RunLock::acquire(&a.out)?;
    let init_dir = hbt_model::source::resolve_model(&p.init)?;
    let corpora: Vec<_> = p
        .train
        .iter()
        .map(|d| hbt_data::load_dir(d))
        .collect::<Result<_, _>>()?;
    // Runs: (name, sampler, alpha).
    let runs: Vec<(String, String, f64)> = match &a.alpha_sweep {
        Some(alphas) => alphas
            .iter()
            .map(|&al| (format!("hybrid-a{al}"), "hybrid".to_string(), al))
            .collect(),
        None => a
            .samplers
            .iter()
            .map(|s| {
                (
                    if s == "hybrid" {
                        format!("hybrid-a{}", p.cfg.alpha)
                    } else {
                        s.clone()
                    },
                    s.clone(),
                    p.cfg.alpha,
                )
            })
            .collect(),
    };
    for (_, s, al) in &runs {
        hbt_data::sampler::SamplerKind::parse(s, *al)?;
    }
    std::fs::write(
        a.out.join("plan.json"),
        serde_json::to_vec_pretty(&serde_json::json!({
            "init": p.init, "train": p.train, "tests": p.tests, "runs": runs, "seeds": seeds, "config": p.cfg, "limit": p.limit,
        }))?,
    )?;
    let mut rows: BTreeMap<String, Vec<(String, Vec<Report>)>> = BTreeMap::new();
    for (bench, dir) in &p.tests {
        eprintln!("== initial model on {bench}");
        let r = eval_into(
            &init_dir,
            bench,
            dir,
            p.limit,
            backend,
            "initial",
            &a.out.join("initial").join(bench),
        )?;
        rows.entry(bench.clone()).or_default().push(("initial".into(), vec![r]));
    }
    for (name, sampler, alpha) in &runs {
        let mut per_bench: BTreeMap<String, Vec<Report>> = BTreeMap::new();
        for seed in 1..=seeds {
            let run_dir = a.out.join("runs").join(format!("{name}-s{seed}"));
            let mut cfg = p.cfg.clone();
            cfg.sampler = sampler.clone();
            cfg.alpha = *alpha;
            cfg.seed = seed;
            if !run_dir.join("summary.json").is_file() {
                let resume = run_dir.join("checkpoints/latest").is_file();
                eprintln!("== train {name} seed {seed}{}", if resume { " (resuming)" } else { "" });
                let device = hbt_model::device(backend)?;
                let mut summary = hbt_train::train(
                    &init_dir,
                    corpora.clone(),
                    &device,
                    cfg,
                    &run_dir,
                    resume,
                    Arc::new(AtomicBool::new(false)),
                    true,
                )?;
                summary.device = Some(device_info.clone());
                summary.write(&run_dir)?;
                eprintln!(
                    "   {} steps, val loss {:?} -> {:?}, {:.0} s",
                    summary.steps, summary.initial_val_loss, summary.best_val_loss, summary.seconds
                );
            }
            for (bench, dir) in &p.tests {
                eprintln!("== eval {name} seed {seed} on {bench}");
                let r = eval_into(
                    &run_dir.join("model"),
                    bench,
                    dir,
                    p.limit,
                    backend,
                    &format!("{name}-s{seed}"),
                    &run_dir.join(format!("eval-{bench}")),
                )?;
                per_bench.entry(bench.clone()).or_default().push(r);
            }
        }
        for (bench, rs) in per_bench {
            rows.entry(bench).or_default().push((name.clone(), rs));
        }
    }
    // Summary.
    let secs = t0.elapsed().as_secs_f64();
    let mut md = format!(
        "# Experiment: {} → {}\n\ninit `{}`; train {}; {} seed(s); {} steps of batch {} (lr {}, temperature {}); eval limit {:?}.\nMean ± sample std over seeds; rank distance: lower is better. **Bold**: the best row, only where a paired test over questions puts it ahead of the runner-up (p < 0.05, and by more than the seeds' spread); columns without a test (R@k) are not marked.\n\n",
        p.train
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        p.tests.iter().map(|t| t.0.clone()).collect::<Vec<_>>().join(", "),
        p.init,
        p.train
            .iter()
            .map(|d| d.file_name().unwrap_or_default().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("+"),
        seeds,
        p.cfg.max_steps,
        p.cfg.batch_size,
        p.cfg.lr,
        p.cfg.temperature,
        p.limit,
    );
    for (bench, rs) in &rows {
        let comps = hbt_eval::stats::compare_all(&groups(rs), 10_000, 1);
        md += &summary_table(bench, rs, comps.as_deref().unwrap_or(&[]));
        md += "\n";
        md += &per_seed(rs);
        md += "\n";
        match &comps {
            Ok(c) => md += &hbt_eval::stats::markdown(c),
            Err(e) => md += &format!("Paired tests unavailable: {e}\n"),
        }
        md += "\n";
        md += &per_language(bench, rs);
        md += "\n";
        // Charts over the seed means: grouped bars, and metric-vs-α lines for a sweep.
        let labels: Vec<String> = rs.iter().map(|r| r.0.clone()).collect();
        let mean_of = |f: fn(&hbt_eval::report::Summary) -> f64| {
            rs.iter()
                .map(|(_, v)| mean_std(&v.iter().filter_map(|r| r.summary.as_ref().map(f)).collect::<Vec<_>>()).0)
                .collect::<Vec<_>>()
        };
        let maps: Vec<(String, Vec<f64>)> = METRICS[..3]
            .iter()
            .map(|(n, _, f)| (n.to_string(), mean_of(*f)))
            .collect();
        let p1 = a.out.join(format!("{bench}-map.svg"));
        hbt_eval::charts::grouped_bars(
            &format!("{bench}: mAP by training sampler (mean over seeds)"),
            "mAP (%)",
            &labels,
            &maps,
            &p1,
        )?;
        hbt_eval::charts::svg_to_png(&p1)?;
        let p2 = a.out.join(format!("{bench}-bias.svg"));
        hbt_eval::charts::grouped_bars(
            &format!("{bench}: language bias (rank distance, lower is better)"),
            "mean rank distance",
            &labels,
            &[("rank distance".to_string(), mean_of(METRICS[6].2))],
            &p2,
        )?;
        hbt_eval::charts::svg_to_png(&p2)?;
        md += &format!("![mAP]({bench}-map.png)\n![bias]({bench}-bias.png)\n\n");
        if let Some(alphas) = &a.alpha_sweep {
            let series: Vec<(String, Vec<f64>)> = METRICS[..3]
                .iter()
                .map(|(n, _, f)| (n.to_string(), mean_of(*f)[1..].to_vec()))
                .collect();
            let p3 = a.out.join(format!("{bench}-alpha.svg"));
            hbt_eval::charts::lines(
                &format!("{bench}: mAP against α (share of X-X-mono batches)"),
                "α",
                "mAP (%)",
                alphas,
                &series,
                &p3,
            )?;
            hbt_eval::charts::svg_to_png(&p3)?;
            let p4 = a.out.join(format!("{bench}-alpha-bias.svg"));
            hbt_eval::charts::lines(
                &format!("{bench}: rank distance against α (lower is better)"),
                "α",
                "mean rank distance",
                alphas,
                &[("rank distance".into(), mean_of(METRICS[6].2)[1..].to_vec())],
                &p4,
            )?;
            hbt_eval::charts::svg_to_png(&p4)?;
            md += &format!("![alpha]({bench}-alpha.png)\n![alpha-bias]({bench}-alpha-bias.png)\n\n");
        }
    }
    md += &format!("Wall time of this invocation: {:.1} min.\n", secs / 60.0);
    std::fs::write(a.out.join("summary.md"), &md)?;
    print!("{md}");
    eprintln!("wrote {}", a.out.join("summary.md").display());
    Ok(())
}
