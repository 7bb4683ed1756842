//! `hbt train`

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use hbt_model::BackendKind;
use hbt_train::{StopHandle, TrainConfig, TrainOptions};

#[derive(Args)]
pub struct TrainArgs {
    /// The initial model: a directory (HF layout) or hf:ORG/NAME.
    #[arg(long)]
    pub model: String,
    /// Training corpora (LAReQA folders); several are mixed in proportion to their size.
    #[arg(long, num_args = 1.., required = true)]
    pub train: Vec<PathBuf>,
    #[arg(long)]
    pub out: PathBuf,
    /// mono (X-X-mono), cross (X-Y), hybrid or x-x.
    #[arg(long, default_value = "hybrid")]
    pub sampler: hbt_data::sampler::SamplerName,
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Gradient caching over micro-batches of this size when a batch does not fit.
    #[arg(long)]
    pub micro_batch: Option<usize>,
    /// f32, or bf16 autocast for the linear layers (CPU only; AMX where the CPU has it).
    #[arg(long, default_value_t = hbt_model::Precision::F32)]
    pub precision: hbt_model::Precision,
    #[arg(long, default_value_t = 3e-5)]
    pub lr: f64,
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    #[arg(long, default_value_t = 1000)]
    pub steps: usize,
    #[arg(long, default_value_t = 100)]
    pub warmup: usize,
    #[arg(long, default_value_t = 0.05)]
    pub temperature: f64,
    /// Add the passage → query direction to the loss.
    #[arg(long)]
    pub symmetric: bool,
    /// One hard negative per pair: a neighbouring sentence of the answer's paragraph.
    #[arg(long)]
    pub hard_negatives: bool,
    /// Clip the gradients' global L2 norm to this (PyTorch's clip_grad_norm_; 0 disables).
    #[arg(long, default_value_t = 1.0)]
    pub grad_clip: f64,
    #[arg(long, default_value_t = 64)]
    pub max_query_len: usize,
    #[arg(long, default_value_t = 128)]
    pub max_passage_len: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Train only on these languages (comma-separated); the rest stay zero-shot.
    #[arg(long, value_delimiter = ',')]
    pub train_langs: Vec<String>,
    #[arg(long, default_value_t = 0.1)]
    pub dev_fraction: f64,
    #[arg(long, default_value_t = 100)]
    pub eval_every: usize,
    #[arg(long, default_value_t = 4)]
    pub val_batches: usize,
    /// Early stopping after this many validations without improvement (0: off).
    #[arg(long, default_value_t = 0)]
    pub patience: usize,
    /// Write a checkpoint (weights + optimizer state, ~3× the f32 model) every N steps.
    #[arg(long, default_value_t = 100)]
    pub checkpoint_every: usize,
    /// Checkpoints kept on the disk while running (the newest N).
    #[arg(long, default_value_t = 1)]
    pub keep_last: usize,
    /// Keep the final checkpoint of a finished run (so `--resume` with more `--steps` can
    /// extend it); otherwise a finished run keeps only `model/` and `summary.json`.
    #[arg(long)]
    pub keep_checkpoints: bool,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// wgpu (default when an adapter exists) or cpu.
    #[arg(long)]
    pub backend: Option<BackendKind>,
}

impl TrainArgs {
    pub fn config(&self) -> TrainConfig {
        TrainConfig {
            sampler: self.sampler,
            alpha: self.alpha,
            batch_size: self.batch,
            micro_batch: self.micro_batch,
            precision: self.precision,
            lr: self.lr,
            weight_decay: self.weight_decay,
            warmup_steps: self.warmup,
            max_steps: self.steps,
            temperature: self.temperature,
            symmetric: self.symmetric,
            hard_negatives: self.hard_negatives,
            grad_clip: (self.grad_clip > 0.0).then_some(self.grad_clip),
            max_query_len: self.max_query_len,
            max_passage_len: self.max_passage_len,
            seed: self.seed,
            train_langs: self.train_langs.clone(),
            dev_fraction: self.dev_fraction,
            eval_every: self.eval_every,
            val_batches: self.val_batches,
            patience: self.patience,
            checkpoint_every: self.checkpoint_every,
            keep_last: self.keep_last,
            keep_checkpoints: self.keep_checkpoints,
        }
    }
}

pub fn run(a: TrainArgs) -> Result<hbt_train::Summary> {
    let cfg = a.config();
    cfg.validate()?;
    let dir = hbt_model::source::resolve_model(&a.model)?;
    let corpora = a
        .train
        .iter()
        .map(|p| hbt_data::load_dir(p))
        .collect::<Result<Vec<_>, _>>()?;
    let info = crate::select_device(a.backend);
    crate::say_precision(a.precision);
    let device = hbt_model::device(info.kind())?;
    let stop = StopHandle::default();
    let s2 = stop.clone();
    // First Ctrl-C: finish the step, checkpoint, exit cleanly. A second one kills.
    let _ = ctrlc::set_handler(move || {
        if s2.stop() {
            std::process::exit(130);
        }
        eprintln!("\nhbt: interrupt — saving a checkpoint (Ctrl-C again to kill)");
    });
    // Test hooks, read here so the library reads no environment: slower steps (to kill a
    // run mid-way) and a pretended free disk space (to see a full disk refused).
    let test_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let step_delay = test_env("HBT_TEST_STEP_DELAY_MS").map(std::time::Duration::from_millis);
    let mut bar = hbt_train::ProgressBarSink::default();
    let mut summary = hbt_train::train(TrainOptions {
        model_dir: &dir,
        corpora,
        device: &device,
        config: cfg,
        out: &a.out,
        resume: a.resume,
        stop,
        progress: &mut bar,
        step_delay,
        pretend_free_bytes: test_env("HBT_TEST_FREE_BYTES"),
    })
    .context("training")?;
    summary.device = Some(info);
    summary.write(&a.out)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(summary)
}
