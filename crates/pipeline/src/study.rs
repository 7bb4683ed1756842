//! The paper's study as a library: for every sampler (or α) and seed, fine-tune the initial
//! model, evaluate it on every test benchmark, and summarise with seeds' spread and paired
//! tests. The untrained model is a row of its own.
//!
//! ```no_run
//! # fn main() -> hbt_pipeline::Result<()> {
//! use hbt_pipeline::study::{Preset, Study};
//! let plan = Preset::Quick.plan()?; // or Plan::new(init, train, tests) and set its fields
//! let study = Study::plan(plan, "out/study".as_ref())?;
//! let device = hbt_model::choose_device(None);
//! study.run(&device, &mut |m| eprintln!("{m}"))?;
//! let summary = study.summary()?; // also written to out/study/summary.md
//! print!("{}", summary.markdown);
//! # Ok(()) }
//! ```
//!
//! A study directory is resumable: finished trainings (`runs/NAME-sSEED/summary.json`) and
//! evaluations (`…/report.json`) are never redone, an interrupted training resumes from its
//! checkpoint, and `plan.json` pins the plan so that a different one is refused rather
//! than mixed into the same tables.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hbt_data::CandidateInput;
use hbt_model::{BackendKind, DeviceInfo, Encoder, EncoderOptions};
use hbt_train::TrainConfig;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};
use hbt_eval::lareqa::LareqaOptions;
use hbt_eval::report::Report;
use hbt_eval::stats::{Comparison, Measure, mean_std};

/// Version of `plan.json` / `timing.json`; bumped when their meaning changes.
pub const PLAN_SCHEMA: u32 = 1;

/// One training configuration of the study (trained once per seed).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunSpec {
    /// Row name in the tables and prefix of its run directories (`hybrid-a0.5`).
    pub name: String,
    /// mono, cross, hybrid or x-x.
    pub sampler: String,
    pub alpha: f64,
}

impl RunSpec {
    /// The rows for a list of samplers at one α (hybrid is named after its α).
    pub fn samplers(samplers: &[&str], alpha: f64) -> Vec<RunSpec> {
        samplers
            .iter()
            .map(|s| RunSpec {
                name: if *s == "hybrid" {
                    format!("hybrid-a{alpha}")
                } else {
                    s.to_string()
                },
                sampler: s.to_string(),
                alpha,
            })
            .collect()
    }

    /// Hybrid at each α (α = 1 is all X-X-mono batches, α = 0 all X-Y).
    pub fn alpha_sweep(alphas: &[f64]) -> Vec<RunSpec> {
        alphas
            .iter()
            .map(|&a| RunSpec {
                name: format!("hybrid-a{a}"),
                sampler: "hybrid".into(),
                alpha: a,
            })
            .collect()
    }
}

/// Everything a study needs; `plan.json` in the study directory is this, serialised.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Plan {
    #[serde(default)]
    pub schema: u32,
    /// Model directory or `hf:ORG/NAME`.
    pub init: String,
    /// Training corpora (LAReQA folders).
    pub train: Vec<PathBuf>,
    /// Test benchmarks: (xquad-r | mlqa-r, LAReQA folder).
    pub tests: Vec<(String, PathBuf)>,
    pub runs: Vec<RunSpec>,
    pub seeds: u64,
    /// Training settings shared by every run (sampler, α and seed are set per run).
    pub config: TrainConfig,
    /// Evaluate on the first N question ids of each benchmark (all when `None`).
    pub limit: Option<usize>,
    /// Set when the runs are an α sweep: the summary then draws figures against α.
    #[serde(default)]
    pub alpha_sweep: Option<Vec<f64>>,
    /// The preset this plan came from, if any (for the summary's header).
    #[serde(default)]
    pub preset: Option<String>,
}

impl Plan {
    /// The paper's training settings (TrainConfig's defaults), mono / cross / hybrid α 0.5,
    /// 3 seeds, full evaluation.
    pub fn new(init: impl Into<String>, train: Vec<PathBuf>, tests: Vec<(String, PathBuf)>) -> Plan {
        let config = TrainConfig::default();
        Plan {
            schema: PLAN_SCHEMA,
            init: init.into(),
            train,
            tests,
            runs: RunSpec::samplers(&["mono", "cross", "hybrid"], config.alpha),
            seeds: 3,
            config,
            limit: None,
            alpha_sweep: None,
            preset: None,
        }
    }

    /// Replace the runs by a sweep of hybrid over `alphas`.
    pub fn sweep_alpha(&mut self, alphas: &[f64]) {
        self.runs = RunSpec::alpha_sweep(alphas);
        self.alpha_sweep = Some(alphas.to_vec());
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(PipelineError::Invalid(m));
        if self.runs.is_empty() {
            return bad("the study has no runs (samplers or α values)".into());
        }
        if self.seeds == 0 {
            return bad("--seeds must be at least 1".into());
        }
        if self.train.is_empty() || self.tests.is_empty() {
            return bad("a study needs training corpora and test benchmarks".into());
        }
        for (name, dir) in &self.tests {
            if !matches!(name.as_str(), "xquad-r" | "mlqa-r") {
                return bad(format!(
                    "test benchmark `{name}` ({}): expected xquad-r or mlqa-r (name it as NAME=DIR)",
                    dir.display()
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for r in &self.runs {
            hbt_data::sampler::SamplerKind::parse(&r.sampler, r.alpha)?;
            if !names.insert(&r.name) || r.name == "initial" {
                return bad(format!("run name `{}` is used twice", r.name));
            }
            let mut cfg = self.config.clone();
            cfg.sampler = r.sampler.parse()?;
            cfg.alpha = r.alpha;
            cfg.validate().map_err(|e| PipelineError::Invalid(e.to_string()))?;
        }
        Ok(())
    }
}

/// The presets, sized by measurement on the reference machine (2 Xeon cores) — see the
/// README's cost model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Every output once, in a few minutes on 2 cores: 1 seed, 20 steps of batch 8,
    /// evaluation on 40 XQuAD-R question ids.
    Quick,
    /// The largest study that fits 90 minutes on 2 cores with a margin for other work: 3
    /// seeds × mono / cross / hybrid, 40 steps of batch 12, evaluation on all 1190 XQuAD-R ids.
    Cpu,
    /// The paper's settings for a GPU: batch 100, lr 3e-5, weight decay 0.01, α 0.5, 1000
    /// steps, 3 seeds, full XQuAD-R and MLQA-R evaluation.
    Paper,
}

impl std::str::FromStr for Preset {
    type Err = PipelineError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "quick" => Ok(Preset::Quick),
            "cpu" => Ok(Preset::Cpu),
            "paper" => Ok(Preset::Paper),
            _ => Err(PipelineError::Invalid(format!(
                "unknown preset `{s}` (quick, cpu, paper)"
            ))),
        }
    }
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Quick => "quick",
            Preset::Cpu => "cpu",
            Preset::Paper => "paper",
        }
    }

    /// The preset's plan: multilingual-e5-small (the local fixture when there is one), MLQA-R's
    /// 7 languages to train, XQuAD-R's 11 to test (el, ru, th, tr zero-shot), data from
    /// `$HBT_SHARED/data` (default `../shared/data`), else the download cache.
    pub fn plan(self) -> Result<Plan> {
        let fixture = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_default()
            .join(".cache/hbt-fixtures/multilingual-e5-small");
        let init = if fixture.join("config.json").is_file() {
            fixture.display().to_string()
        } else {
            "hf:intfloat/multilingual-e5-small".into()
        };
        let mlqa = local_or_fetch("mlqa-r")?;
        let mut tests = vec![("xquad-r".to_string(), local_or_fetch("xquad-r")?)];
        if self == Preset::Paper {
            tests.push(("mlqa-r".to_string(), mlqa.clone()));
        }
        let mut p = Plan::new(init, vec![mlqa], tests);
        p.preset = Some(self.name().into());
        let c = &mut p.config;
        match self {
            Preset::Quick => {
                p.seeds = 1;
                (c.batch_size, c.max_steps, c.warmup_steps) = (8, 20, 2);
                p.limit = Some(40);
            }
            Preset::Cpu => {
                // Cost model (README): 10 full evaluations of ~4.5 min and 9 trainings of
                // ~3.8 s a step of batch 12 at these lengths: ~68 min alone, under 90 with a
                // 30% slowdown from other work on the machine.
                p.seeds = 3;
                (c.batch_size, c.max_steps, c.warmup_steps) = (12, 40, 4);
            }
            Preset::Paper => {}
        }
        if self != Preset::Paper {
            // Both CPU presets: e5's usual fine-tuning lr, short texts, two validation
            // batches; a validation and a checkpoint twice a run.
            c.lr = 2e-5;
            c.val_batches = 2;
            c.max_query_len = 48;
            c.max_passage_len = 96;
            c.eval_every = c.max_steps / 2;
            c.checkpoint_every = c.max_steps / 2;
        }
        Ok(p)
    }
}

/// `$HBT_SHARED/data/NAME` (default `../shared/data/NAME`) when it is there, else the fetch
/// cache (downloading when online).
pub fn local_or_fetch(name: &str) -> Result<PathBuf> {
    let shared = std::env::var_os("HBT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared"));
    let local = shared.join("data").join(name);
    if local.is_dir() {
        return Ok(local);
    }
    let cache = hbt_data::fetch::cache_dir();
    if cache.join(name).is_dir() {
        return Ok(cache.join(name));
    }
    Ok(hbt_data::fetch::fetch(name, &cache, |m| eprintln!("{m}"))?)
}

/// Wall time spent on a study directory, over every invocation that worked on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timing {
    pub invocations: Vec<Invocation>,
}

impl Timing {
    /// A study directory's `timing.json`; empty where there is none yet (or it is
    /// unreadable: the wall time is a report, not an input to any result).
    pub fn read(dir: &Path) -> Timing {
        std::fs::read(dir.join("timing.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invocation {
    pub seconds: f64,
    pub device: String,
    pub trained: usize,
    pub evaluated: usize,
}

/// What `Study::summary` gives back (and writes as `summary.md` beside its charts).
#[derive(Debug, Clone)]
pub struct StudySummary {
    pub markdown: String,
    /// Per benchmark: every pair of rows on every tested measure.
    pub comparisons: BTreeMap<String, Vec<Comparison>>,
    pub charts: Vec<PathBuf>,
}

/// Per benchmark: each row's name and its seeds' reports.
pub type Rows = BTreeMap<String, Vec<(String, Vec<Report>)>>;

/// A planned study in its directory.
pub struct Study {
    plan: Plan,
    dir: PathBuf,
}

impl Study {
    /// Check the plan, create `dir` and pin the plan in `dir/plan.json`. A directory that
    /// already holds a different plan is refused (its results would be mixed).
    pub fn plan(mut plan: Plan, dir: &Path) -> Result<Study> {
        plan.schema = PLAN_SCHEMA;
        plan.validate()?;
        std::fs::create_dir_all(dir).map_err(|e| PipelineError::io(dir, e))?;
        let path = dir.join("plan.json");
        if path.is_file() {
            let old = read_plan(&path)?;
            if old != plan {
                return Err(PipelineError::Report {
                    path,
                    message: format!(
                        "this directory holds a different study ({}); choose another --out, or \
                         delete the directory to start over",
                        plan_diff(&old, &plan)
                    ),
                });
            }
        } else {
            let bytes = serde_json::to_vec_pretty(&plan).expect("a plan serialises");
            std::fs::write(&path, bytes).map_err(|e| PipelineError::io(&path, e))?;
        }
        Ok(Study {
            plan,
            dir: dir.to_path_buf(),
        })
    }

    /// Open a planned study directory (to summarise it, say).
    pub fn open(dir: &Path) -> Result<Study> {
        let plan = read_plan(&dir.join("plan.json"))?;
        Ok(Study {
            plan,
            dir: dir.to_path_buf(),
        })
    }

    pub fn plan_ref(&self) -> &Plan {
        &self.plan
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where run `name`'s seed `seed` trains.
    pub fn run_dir(&self, name: &str, seed: u64) -> PathBuf {
        self.dir.join("runs").join(format!("{name}-s{seed}"))
    }

    /// Train and evaluate whatever is missing; `progress` gets one line per stage. Holds the
    /// directory's lock (one writer at a time).
    pub fn run(&self, device: &DeviceInfo, progress: &mut dyn FnMut(&str)) -> Result<Timing> {
        let t0 = std::time::Instant::now();
        let _lock = hbt_train::RunLock::acquire(&self.dir)?;
        let p = &self.plan;
        let backend = device.kind();
        let init_dir = hbt_model::source::resolve_model(&p.init)?;
        let corpora: Vec<_> = p
            .train
            .iter()
            .map(|d| hbt_data::load_dir(d))
            .collect::<Result<_, _>>()?;
        let tests: Vec<(String, hbt_data::Corpus)> = p
            .tests
            .iter()
            .map(|(n, d)| {
                let c = hbt_data::load_dir(d)?;
                Ok((
                    n.clone(),
                    match p.limit {
                        Some(l) => c.limit(l),
                        None => c,
                    },
                ))
            })
            .collect::<Result<_>>()?;
        // Recorded after every stage, so that the time of an invocation that is killed still
        // counts in the summary's wall time.
        let path = self.dir.join("timing.json");
        let mut timing = Timing::read(&self.dir);
        timing.invocations.push(Invocation {
            seconds: 0.0,
            device: device.to_string(),
            trained: 0,
            evaluated: 0,
        });
        let mut record = |trained: usize, evaluated: usize| -> Result<()> {
            let inv = timing.invocations.last_mut().expect("pushed above");
            inv.seconds = t0.elapsed().as_secs_f64();
            (inv.trained, inv.evaluated) = (trained, evaluated);
            let bytes = serde_json::to_vec_pretty(&timing).expect("timing serialises");
            hbt_train::durable::write_atomic(&path, &bytes)?;
            Ok(())
        };
        let (mut trained, mut evaluated) = (0, 0);
        for (bench, corpus) in &tests {
            let out = self.dir.join("initial").join(bench);
            if !out.join("report.json").is_file() {
                progress(&format!("== initial model on {bench}"));
                self.evaluate(&init_dir, bench, corpus, backend, "initial", &out)?;
                evaluated += 1;
                record(trained, evaluated)?;
            }
        }
        for run in &p.runs {
            for seed in 1..=p.seeds {
                let run_dir = self.run_dir(&run.name, seed);
                if !run_dir.join("summary.json").is_file() {
                    let resume = run_dir.join("checkpoints/latest").is_file();
                    progress(&format!(
                        "== train {} seed {seed}{}",
                        run.name,
                        if resume { " (resuming)" } else { "" }
                    ));
                    let mut cfg = p.config.clone();
                    cfg.sampler = run.sampler.parse()?;
                    cfg.alpha = run.alpha;
                    cfg.seed = seed;
                    let dev = hbt_model::device(backend)?;
                    let mut bar = hbt_train::ProgressBarSink::default();
                    let mut s = hbt_train::train(hbt_train::TrainOptions {
                        model_dir: &init_dir,
                        corpora: corpora.clone(),
                        device: &dev,
                        config: cfg,
                        out: &run_dir,
                        resume,
                        stop: Default::default(),
                        progress: &mut bar,
                        step_delay: None,
                        pretend_free_bytes: None,
                    })?;
                    s.device = Some(device.clone());
                    s.write(&run_dir)?;
                    trained += 1;
                    record(trained, evaluated)?;
                    progress(&format!(
                        "   {} steps, val loss {:?} -> {:?}, {:.0} s",
                        s.steps, s.initial_val_loss, s.best_val_loss, s.seconds
                    ));
                }
                for (bench, corpus) in &tests {
                    let out = run_dir.join(format!("eval-{bench}"));
                    if !out.join("report.json").is_file() {
                        progress(&format!("== eval {} seed {seed} on {bench}", run.name));
                        let label = format!("{}-s{seed}", run.name);
                        self.evaluate(&run_dir.join("model"), bench, corpus, backend, &label, &out)?;
                        evaluated += 1;
                        record(trained, evaluated)?;
                    }
                }
            }
        }
        record(trained, evaluated)?;
        Ok(timing)
    }

    fn evaluate(
        &self,
        model_dir: &Path,
        bench: &str,
        corpus: &hbt_data::Corpus,
        backend: BackendKind,
        label: &str,
        out: &Path,
    ) -> Result<Report> {
        let device = hbt_model::device(backend)?;
        let mut enc = Encoder::load(model_dir, &device, &EncoderOptions::default())?;
        // Length buckets of 8 tokens suit the CPU; a GPU compiles (and autotunes) kernels for
        // every new shape, so there the buckets are 32 wide and the batches larger.
        let cpu = hbt_model::is_cpu(&device);
        enc.batch_size = if cpu { 64 } else { 128 };
        enc.tokenizer.pad_multiple = if cpu { 8 } else { 32 };
        // The prefixes go on record: a model directory that does not declare them gets e5's
        // only when its name says e5, and a run without them is a different experiment.
        let settings = serde_json::json!({
            "limit": self.plan.limit,
            "input": CandidateInput::Sentence,
            "backend": format!("{backend:?}").to_lowercase(),
            "prefixes": enc.prefixes,
            "prefix_notes": enc.notes,
        });
        let mut r = hbt_eval::lareqa::evaluate(
            &enc,
            corpus,
            bench,
            &model_dir.display().to_string(),
            settings,
            &LareqaOptions::default(),
        )?;
        r.label = Some(label.to_string());
        hbt_eval::write_outputs(&r, out)?;
        Ok(r)
    }

    /// The finished rows per benchmark: `initial`, then each run with its seeds' reports
    /// (runs or seeds not evaluated yet are left out).
    pub fn rows(&self) -> Result<Rows> {
        let mut rows: BTreeMap<String, Vec<(String, Vec<Report>)>> = BTreeMap::new();
        for (bench, _) in &self.plan.tests {
            let mut v = Vec::new();
            let init = self.dir.join("initial").join(bench).join("report.json");
            if init.is_file() {
                v.push(("initial".to_string(), vec![Report::read(&init)?]));
            }
            for run in &self.plan.runs {
                let mut rs = Vec::new();
                for seed in 1..=self.plan.seeds {
                    let f = self.run_dir(&run.name, seed).join(format!("eval-{bench}/report.json"));
                    if f.is_file() {
                        rs.push(Report::read(&f)?);
                    }
                }
                if !rs.is_empty() {
                    v.push((run.name.clone(), rs));
                }
            }
            rows.insert(bench.clone(), v);
        }
        Ok(rows)
    }

    /// Tables, paired tests and charts of what is finished; writes `summary.md`.
    pub fn summary(&self) -> Result<StudySummary> {
        let p = &self.plan;
        let rows = self.rows()?;
        let timing = Timing::read(&self.dir);
        let names = |v: &[PathBuf]| {
            v.iter()
                .map(|d| d.file_name().unwrap_or_default().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("+")
        };
        let mut md = format!(
            "# Study{}: {} → {}\n\ninit `{}`; {} seed(s); {} steps of batch {} (lr {}, weight decay {}, temperature {}, \
             max lengths {}/{}); evaluation on {}.\nMean ± sample std over seeds; rank distance: lower is better. \
             **Bold**: the best row, only where a paired test over questions puts it ahead of the runner-up \
             (p < 0.05, and by more than the seeds' spread); columns without a test (R@k) are not marked.\n\n",
            p.preset
                .as_ref()
                .map(|s| format!(" (preset `{s}`)"))
                .unwrap_or_default(),
            names(&p.train),
            p.tests.iter().map(|t| t.0.clone()).collect::<Vec<_>>().join(", "),
            p.init,
            p.seeds,
            p.config.max_steps,
            p.config.batch_size,
            p.config.lr,
            p.config.weight_decay,
            p.config.temperature,
            p.config.max_query_len,
            p.config.max_passage_len,
            match p.limit {
                Some(n) => format!("the first {n} question ids of each benchmark"),
                None => "every question id".into(),
            },
        );
        if let Some(r) = rows
            .values()
            .flat_map(|v| v.first())
            .flat_map(|(_, r)| r.first())
            .next()
        {
            md += &match r.settings.get("prefixes") {
                Some(pf) if pf["query"].as_str().is_some_and(|q| !q.is_empty()) => format!(
                    "Prefixes: queries `{}`, passages `{}`.\n\n",
                    pf["query"].as_str().unwrap_or(""),
                    pf["passage"].as_str().unwrap_or("")
                ),
                Some(_) => {
                    "Prefixes: none (the model directory declares none and is not named as an e5 model).\n\n".into()
                }
                None => String::new(),
            };
        }
        let mut comparisons = BTreeMap::new();
        let mut charts = Vec::new();
        for (bench, rs) in &rows {
            if p.tests.iter().any(|(b, d)| b == bench && p.train.contains(d)) {
                md += &format!(
                    "Note: {bench} is also the training corpus: its figures are in-domain (seen questions), not zero-shot.\n\n"
                );
            }
            let groups: Vec<(String, Vec<&Report>)> = rs.iter().map(|(n, r)| (n.clone(), r.iter().collect())).collect();
            let comps = hbt_eval::stats::compare_all(&groups, 10_000, 1);
            md += &summary_table(bench, rs, &groups, comps.as_deref().unwrap_or(&[]));
            md += "\n";
            md += &per_seed(rs);
            md += "\n";
            match &comps {
                Ok(c) => md += &hbt_eval::stats::markdown_noting(c, &["initial"]),
                Err(e) => md += &format!("Paired tests unavailable: {e}\n"),
            }
            md += "\n";
            md += &per_language(bench, rs);
            md += "\n";
            let made = self.charts(bench, rs)?;
            for c in &made {
                if c.extension().is_some_and(|e| e == "png") {
                    let f = c.file_name().unwrap_or_default().to_string_lossy();
                    md += &format!("![{f}]({f})\n");
                }
            }
            md += "\n";
            charts.extend(made);
            if let Ok(c) = comps {
                comparisons.insert(bench.clone(), c);
            }
        }
        let total: f64 = timing.invocations.iter().map(|i| i.seconds).sum();
        md += &format!(
            "Wall time: {:.1} min over {} invocation(s) ({}).\n",
            total / 60.0,
            timing.invocations.len(),
            timing
                .invocations
                .iter()
                .map(|i| format!(
                    "{:.1} min, {} trained, {} evaluated, {}",
                    i.seconds / 60.0,
                    i.trained,
                    i.evaluated,
                    i.device
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let path = self.dir.join("summary.md");
        std::fs::write(&path, &md).map_err(|e| PipelineError::io(&path, e))?;
        Ok(StudySummary {
            markdown: md,
            comparisons,
            charts,
        })
    }

    fn charts(&self, bench: &str, rs: &[(String, Vec<Report>)]) -> Result<Vec<PathBuf>> {
        use hbt_eval::charts;
        let mut out = Vec::new();
        let labels: Vec<String> = rs.iter().map(|r| r.0.clone()).collect();
        let mean_of = |m: Measure| {
            rs.iter()
                .map(|(_, v)| {
                    mean_std(
                        &v.iter()
                            .filter_map(|r| r.summary.as_ref().map(|s| m.of(s)))
                            .collect::<Vec<_>>(),
                    )
                    .0
                })
                .collect::<Vec<_>>()
        };
        let maps: Vec<(String, Vec<f64>)> = [Measure::MonoMap, Measure::CrossMap, Measure::MultiMap]
            .iter()
            .map(|&m| (m.label().to_string(), mean_of(m)))
            .collect();
        let p1 = self.dir.join(format!("{bench}-map.svg"));
        charts::grouped_bars(
            &format!("{bench}: mAP by training sampler (mean over seeds)"),
            "mAP (%)",
            &labels,
            &maps,
            &p1,
        )?;
        out.push(charts::svg_to_png(&p1)?);
        out.push(p1);
        let p2 = self.dir.join(format!("{bench}-bias.svg"));
        charts::grouped_bars(
            &format!("{bench}: language bias (rank distance, lower is better)"),
            "mean rank distance",
            &labels,
            &[("rank distance".to_string(), mean_of(Measure::RankDistance))],
            &p2,
        )?;
        out.push(charts::svg_to_png(&p2)?);
        out.push(p2);
        if let Some(alphas) = &self.plan.alpha_sweep {
            // One panel per measure: each seed a dot, the mean a line, ± one std a bar; the
            // untrained model a dashed reference.
            let mut panels = Vec::new();
            for m in Measure::ALL {
                let per_alpha: Vec<Vec<f64>> = alphas
                    .iter()
                    .map(|a| {
                        rs.iter()
                            .find(|(n, _)| *n == format!("hybrid-a{a}"))
                            .map(|(_, v)| v.iter().filter_map(|r| r.summary.as_ref().map(|s| m.of(s))).collect())
                            .unwrap_or_default()
                    })
                    .collect();
                let initial = rs
                    .iter()
                    .find(|(n, _)| n == "initial")
                    .and_then(|(_, v)| v.first()?.summary.as_ref().map(|s| m.of(s)));
                panels.push(charts::SweepPanel {
                    title: format!(
                        "{}{}",
                        m.label(),
                        if m.higher_is_better() { "" } else { " (lower is better)" }
                    ),
                    values: per_alpha,
                    reference: initial,
                });
            }
            let p3 = self.dir.join(format!("{bench}-alpha.svg"));
            charts::sweep(
                &format!(
                    "{bench}: hybrid batches against α (share of X-X-mono batches; {} seed(s) each)",
                    self.plan.seeds
                ),
                alphas,
                &panels,
                &p3,
            )?;
            out.push(charts::svg_to_png(&p3)?);
            out.push(p3);
        }
        Ok(out)
    }
}

fn read_plan(path: &Path) -> Result<Plan> {
    let bytes = std::fs::read(path).map_err(|e| PipelineError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| PipelineError::Report {
        path: path.to_path_buf(),
        message: format!("not a study plan: {e}"),
    })
}

fn plan_diff(old: &Plan, new: &Plan) -> String {
    let mut d = Vec::new();
    if old.init != new.init {
        d.push(format!("init {} vs {}", old.init, new.init));
    }
    if old.train != new.train || old.tests != new.tests {
        d.push("other data".into());
    }
    if old.runs != new.runs {
        d.push("other runs".into());
    }
    if old.seeds != new.seeds {
        d.push(format!("{} seeds vs {}", old.seeds, new.seeds));
    }
    if old.config != new.config {
        d.push("other training settings".into());
    }
    if old.limit != new.limit {
        d.push(format!("limit {:?} vs {:?}", old.limit, new.limit));
    }
    if d.is_empty() {
        d.push("other settings".into());
    }
    d.join(", ")
}

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

fn summary_table(
    bench: &str,
    rows: &[(String, Vec<Report>)],
    groups: &[(String, Vec<&Report>)],
    comps: &[Comparison],
) -> String {
    let mut s = format!("### {bench}\n\n| run | seeds |");
    for (n, _, _) in METRICS {
        s += &format!(" {n} |");
    }
    s += "\n|---|---:|";
    for _ in METRICS {
        s += "---:|";
    }
    s += "\n";
    // Bold only a winner that a paired test separates from the runner-up.
    let best: Vec<Option<usize>> = METRICS
        .iter()
        .map(|(_, test, _)| test.and_then(|m| hbt_eval::stats::significant_best(groups, comps, m)))
        .collect();
    for (i, (name, rs)) in rows.iter().enumerate() {
        s += &format!("| {name} | {} |", rs.len());
        for (k, (_, _, f)) in METRICS.iter().enumerate() {
            let (m, sd) = mean_std(&rs.iter().filter_map(|r| r.summary.as_ref().map(f)).collect::<Vec<_>>());
            let cell = if rs.len() > 1 {
                format!("{m:.2} ± {sd:.2}")
            } else {
                format!("{m:.2}")
            };
            s += &if best[k] == Some(i) {
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
            let pick = |f: fn(&hbt_eval::report::MultiResult) -> f64| {
                let v: Vec<f64> = rs
                    .iter()
                    .filter_map(|r| r.multi.iter().find(|m| &m.query_lang == l))
                    .map(f)
                    .collect();
                mean_std(&v).0
            };
            s += &format!(" {:.1} / {:.1} |", pick(|m| 100.0 * m.map), pick(|m| m.rank_distance));
        }
        s += "\n";
    }
    s
}
