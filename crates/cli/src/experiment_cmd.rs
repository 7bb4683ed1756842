//! `hbt experiment`: the paper's study as one command, a thin layer over
//! `hbt_pipeline::study` (plan, run, summary). Re-running the same command after an
//! interruption finishes only what is missing.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use hbt_device::BackendKind;
use hbt_pipeline::study::{Launch, Plan, Preset, RunSpec, Study, TrainJob};

#[derive(Args)]
pub struct ExperimentArgs {
    /// `quick` (minutes on 2 cores, every output once), `cpu` (3 seeds, all of XQuAD-R,
    /// ≤ 90 min on 2 cores) or `paper` (the paper's settings, for a GPU); flags override.
    #[arg(long)]
    pub preset: Option<Preset>,
    /// The initial model (directory or hf:ORG/NAME).
    #[arg(long)]
    pub init: Option<String>,
    /// Training corpora (LAReQA folders).
    #[arg(long, num_args = 1..)]
    pub train: Vec<PathBuf>,
    /// Test benchmarks: `xquad-r=DIR`, `mlqa-r=DIR`, or a folder named after its benchmark.
    #[arg(long, num_args = 1..)]
    pub test: Vec<String>,
    #[arg(long, value_delimiter = ',')]
    pub samplers: Option<Vec<String>>,
    #[arg(long)]
    pub alpha: Option<f64>,
    /// Train hybrid at each of these α instead of the sampler list (the paper's grid).
    #[arg(long, value_delimiter = ',')]
    pub alpha_sweep: Option<Vec<f64>>,
    /// Seeds per sampler (default 3; 1 with `--preset quick`).
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
    #[arg(long, conflicts_with = "all_ids")]
    pub limit: Option<usize>,
    /// Evaluate on every question id (overrides a preset's limit).
    #[arg(long)]
    pub all_ids: bool,
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// The trainings' number format (f32, bf16 on the CPU, f16 on a GPU). Default: f32,
    /// except the `paper` preset on a GPU, which trains in f16 (tensor cores, loss scaling).
    #[arg(long)]
    pub precision: Option<hbt_model::Precision>,
    /// How the trainings lay out each side of a batch (`hbt train --batching`; default
    /// packed).
    #[arg(long)]
    pub batching: Option<hbt_train::Batching>,
    /// Train each run data-parallel on this many ranks, through `mpirun -np N` (extra
    /// launcher options, a hostfile say, in $HBT_MPIRUN_ARGS); evaluation stays here.
    #[arg(long, default_value_t = 1)]
    pub ranks: usize,
}

fn plan(a: &ExperimentArgs) -> Result<Plan> {
    let mut p = match a.preset {
        Some(preset) => preset.plan()?,
        None => {
            let Some(init) = &a.init else {
                bail!("--init MODEL is required (or --preset quick|cpu|paper)")
            };
            Plan::new(init.clone(), Vec::new(), Vec::new())
        }
    };
    if let Some(init) = &a.init {
        p.init = init.clone();
    }
    if !a.train.is_empty() {
        p.train = a.train.clone();
    }
    if !a.test.is_empty() {
        p.tests = a
            .test
            .iter()
            .map(|t| match t.split_once('=') {
                Some((n, d)) => (n.to_string(), PathBuf::from(d)),
                None => {
                    let d = PathBuf::from(t);
                    let n = d
                        .file_name()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    (n, d)
                }
            })
            .collect();
    }
    if let Some(alpha) = a.alpha {
        p.config.alpha = alpha;
    }
    if let Some(s) = &a.samplers {
        let names: Vec<&str> = s.iter().map(String::as_str).collect();
        p.runs = RunSpec::samplers(&names, p.config.alpha);
    } else if a.alpha.is_some() {
        p.runs = RunSpec::samplers(&["mono", "cross", "hybrid"], p.config.alpha);
    }
    if let Some(alphas) = &a.alpha_sweep {
        p.sweep_alpha(alphas);
    }
    if let Some(n) = a.seeds {
        p.seeds = n;
    }
    if let Some(s) = a.steps {
        p.config.max_steps = s;
        // Keep warm-up, validation and checkpoints inside a shortened run.
        p.config.warmup_steps = p.config.warmup_steps.min(s / 10);
        p.config.eval_every = p.config.eval_every.min(s);
        p.config.checkpoint_every = p.config.checkpoint_every.min(s);
    }
    if let Some(b) = a.batch {
        p.config.batch_size = b;
    }
    if let Some(lr) = a.lr {
        p.config.lr = lr;
    }
    if let Some(n) = a.limit {
        p.limit = Some(n);
    }
    if a.all_ids {
        p.limit = None;
    }
    if p.train.is_empty() || p.tests.is_empty() {
        bail!("--train and --test are required (or --preset quick|cpu|paper)");
    }
    Ok(p)
}

pub fn run(a: ExperimentArgs) -> Result<()> {
    let mut plan = plan(&a)?;
    let device = crate::select_device(a.backend);
    plan.config.precision = match a.precision {
        Some(p) => p,
        None if plan.preset.as_deref() == Some("paper") && device.kind() == BackendKind::Wgpu => {
            hbt_model::Precision::F16
        }
        None => plan.config.precision,
    };
    crate::say_precision(plan.config.precision);
    if let Some(b) = a.batching {
        plan.config.batching = b;
    }
    let study = Study::plan(plan, &a.out)?;
    if a.ranks > 1 {
        let mut train = |job: &TrainJob| mpirun_train(job, a.ranks, device.kind());
        let launch = Launch {
            ranks: a.ranks,
            train: &mut train,
        };
        study.run_with(&device, Some(launch), &mut |m| eprintln!("{m}"))?;
    } else {
        study.run(&device, &mut |m| eprintln!("{m}"))?;
    }
    let s = study.summary()?;
    print!("{}", s.markdown);
    eprintln!("wrote {}", a.out.join("summary.md").display());
    Ok(())
}

/// One training of the study as `mpirun -np N hbt train --config FILE …`: the options go
/// in a file beside the run directory, so that the ranks train exactly the study's config.
fn mpirun_train(job: &TrainJob, ranks: usize, backend: BackendKind) -> hbt_pipeline::Result<hbt_train::Summary> {
    let fail = |m: String| hbt_pipeline::PipelineError::Invalid(m);
    let exe = std::env::current_exe().map_err(|e| fail(format!("the hbt binary: {e}")))?;
    let name = job
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = job.out.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| fail(format!("{}: {e}", parent.display())))?;
    let cfg_path = parent.join(format!("{name}.config.json"));
    let json = serde_json::to_vec_pretty(&job.config).expect("config serialises");
    hbt_train::durable::write_atomic(&cfg_path, &json)?;
    let mut c = std::process::Command::new("mpirun");
    // OpenMPI refuses root without this; the container CI and many cloud images run as root.
    if std::env::var("USER").is_ok_and(|u| u == "root") || is_root() {
        c.arg("--allow-run-as-root");
    }
    if let Ok(extra) = std::env::var("HBT_MPIRUN_ARGS") {
        c.args(extra.split_whitespace());
    }
    c.args(["-np", &ranks.to_string()]).arg(&exe).arg("train");
    c.arg("--config").arg(&cfg_path).arg("--model").arg(job.model_dir);
    c.arg("--train").args(job.train).arg("--out").arg(job.out);
    c.args(["--backend", if backend == BackendKind::Cpu { "cpu" } else { "wgpu" }]);
    if job.resume {
        c.arg("--resume");
    }
    // The ranks' summary JSON on stdout is not the study's output.
    c.stdout(std::process::Stdio::null());
    let status = c
        .status()
        .map_err(|e| fail(format!("mpirun (install openmpi-bin, or train without --ranks): {e}")))?;
    if !status.success() {
        return Err(fail(format!(
            "mpirun -np {ranks} hbt train --out {} failed ({status}); re-run to resume it",
            job.out.display()
        )));
    }
    let path = job.out.join("summary.json");
    let bytes = std::fs::read(&path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| fail(format!("{}: {e}", path.display())))
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            == Some("0")
    })
}
