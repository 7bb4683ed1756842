//! The paper's study as a library: for every sampler (or α) and seed, fine-tune the initial
//! model, evaluate it on every test benchmark, and summarise with seeds' spread and paired
//! tests. The untrained model is a row of its own.
//!
//! ```no_run
//! # fn main() -> hbt_pipeline::Result<()> {
//! use hbt_pipeline::study::{Preset, Study};
//! let plan = Preset::Quick.plan()?; // or Plan::new(init, train, tests) and set its fields
//! let study = Study::plan(plan, "out/study".as_ref())?;
//! let device = hbt_device::choose_device(None);
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
//!
//! [`plan`] is what a study is (rows, seeds, presets), [`run`] trains and evaluates what
//! is missing, [`summary`] turns the reports into tables, tests and charts.

mod plan;
mod run;
mod summary;

use std::path::{Path, PathBuf};

pub use plan::{PLAN_SCHEMA, Plan, Preset, RunSpec, local_or_fetch};
use plan::{plan_diff, read_plan};
pub use run::{Invocation, Launch, Timing, TrainJob};
pub use summary::{Rows, StudySummary};

use crate::error::{PipelineError, Result};

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
            // Durably: a later run trusts it to say which study the directory holds.
            hbt_durable::write_atomic(&path, &bytes)?;
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
}
