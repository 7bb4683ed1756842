//! What a study is: its rows (sampler or α), seeds, data and training settings, and the presets.

use std::path::{Path, PathBuf};

use hbt_train::TrainConfig;
use serde::{Deserialize, Serialize};

use crate::error::{PipelineError, Result};

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

    pub(super) fn validate(&self) -> Result<()> {
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

/// Where [`hbt_data::fetch::locate`] finds the data (a local copy, then the fetch cache),
/// else downloaded into the cache (when online).
pub fn local_or_fetch(name: &str) -> Result<PathBuf> {
    if let Some(d) = hbt_data::fetch::locate(name) {
        return Ok(d);
    }
    let cache = hbt_data::fetch::cache_dir();
    Ok(hbt_data::fetch::fetch(name, &cache, |m| eprintln!("{m}"))?)
}

pub(super) fn read_plan(path: &Path) -> Result<Plan> {
    let bytes = std::fs::read(path).map_err(|e| PipelineError::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| PipelineError::Report {
        path: path.to_path_buf(),
        message: format!("not a study plan: {e}"),
    })
}

pub(super) fn plan_diff(old: &Plan, new: &Plan) -> String {
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
