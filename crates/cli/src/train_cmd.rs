//! `hbt train`

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use hbt_device::BackendKind;
use std::rc::Rc;

use hbt_train::{Collective, RankInfo, StopHandle, TrainConfig, TrainOptions};

#[derive(Args)]
pub struct TrainArgs {
    /// The initial model: a directory (HF layout) or hf:ORG/NAME.
    #[arg(long)]
    pub model: String,
    /// Training data: a JSON Lines file (.jsonl, .jsonl.gz), a Parquet file or a folder of
    /// Parquet shards, a `datasets` save_to_disk folder, a LAReQA or a BEIR folder. Repeat it
    /// (or give several) to mix data sets in proportion to their pairs.
    #[arg(long, num_args = 1.., required = true)]
    pub train: Vec<PathBuf>,
    /// The split of a sharded Parquet or save_to_disk folder.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Column names where they are not the defaults: ROLE=NAME,… with roles query,
    /// positive, negatives, id, lang, query_lang, passage_lang, doc.
    #[arg(long, default_value = "")]
    pub columns: hbt_data::Columns,
    #[arg(long)]
    pub out: PathBuf,
    /// mono (X-X-mono), cross (X-Y), hybrid or x-x.
    #[arg(long, default_value = "hybrid")]
    pub sampler: hbt_data::sampler::SamplerName,
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// Gradient caching over micro-batches of this size when a batch does not fit (texts a
    /// pass; with packed rows, rows a pass, each as long as the side's longest text).
    #[arg(long)]
    pub micro_batch: Option<usize>,
    /// f32; bf16 autocast for the linear layers (CPU only; AMX where the CPU has it); or f16
    /// autocast for the linears and attention products (GPU only; tensor cores on Vulkan),
    /// with dynamic loss scaling.
    #[arg(long, default_value_t = hbt_model::Precision::F32)]
    pub precision: hbt_model::Precision,
    /// f16: the loss scale to start from (default 2^16; halved on each overflow, which
    /// skips that step, doubled after 2,000 clean steps).
    #[arg(long)]
    pub loss_scale: Option<f64>,
    /// How each side of a batch is laid out for its forward pass: `packed` (several texts a
    /// row, each attending only to itself: almost no padding computed), `groups` (groups of
    /// similar length) or `padded` (one piece). The same loss, to float rounding.
    #[arg(long, default_value_t = hbt_train::Batching::Packed)]
    pub batching: hbt_train::Batching,
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
    /// Validate (and with --eval-data, score retrieval) every N steps (0: never).
    #[arg(long, default_value_t = 100)]
    pub eval_every: usize,
    /// Score retrieval on this data every --eval-every steps (rank 0; in the log and on the
    /// progress bar): a LAReQA folder (mAP), a BEIR folder or any data set `--train` takes
    /// (nDCG@10, R@100 over its rows).
    #[arg(long)]
    pub eval_data: Option<PathBuf>,
    /// Keep the weights with the best value of this --eval-data metric as model/ (and let
    /// --patience watch it): mono_map, cross_map, multi_map, multi_r@10 (LAReQA);
    /// ndcg@10, recall@100, map, mrr@10 (others).
    #[arg(long)]
    pub keep_best: Option<String>,
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
    /// Take every training option from this file (a run's summary.json, or its `config`
    /// object): the option flags above are then not read. `hbt experiment --ranks` hands
    /// its runs to `mpirun` this way.
    #[arg(long = "config")]
    pub config_file: Option<PathBuf>,
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
            batching: self.batching,
            loss_scale: self.loss_scale,
            keep_best: self.keep_best.clone(),
        }
    }
}

pub fn run(a: TrainArgs, threads: Option<usize>) -> Result<hbt_train::Summary> {
    // Launched by mpirun (or srun), this process is one rank of a data-parallel job.
    let comm = hbt_train::collective::join()?;
    let (rank, world) = (comm.rank(), comm.size());
    let result = run_rank(a, threads, comm.clone());
    match result {
        Err(e) if world > 1 => {
            // The other ranks wait in a collective for this one: end them all.
            eprintln!("hbt: error (rank {rank} of {world}, {}): {e:#}", comm.host());
            comm.abort(1)
        }
        r => r,
    }
}

fn run_rank(a: TrainArgs, threads: Option<usize>, comm: Rc<dyn Collective>) -> Result<hbt_train::Summary> {
    let (rank, world) = (comm.rank(), comm.size());
    if comm.local_size() > 1 && threads.is_none() {
        // Ranks on one machine split its cores, each its own rayon pool.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = (cores / comm.local_size()).max(1);
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .with_context(|| format!("rank {rank}: a pool of {n} threads"))?;
    }
    let cfg = match &a.config_file {
        Some(p) => read_config(p)?,
        None => a.config(),
    };
    cfg.validate()?;
    let dir = hbt_model::source::resolve_model(&a.model)?;
    let (corpora, evaluation) = load_data(&a, rank)?;
    let info = hbt_device::choose_device(a.backend);
    let (device, note) = hbt_device::device_for_rank(info.kind(), comm.local_rank(), comm.local_size())?;
    let ranks = describe_ranks(&*comm, &info, note.as_deref());
    if rank == 0 {
        if world > 1 {
            eprintln!("hbt: world size {world}");
            for r in &ranks {
                eprintln!("hbt: rank {} on {}: {}", r.rank, r.host, r.device);
            }
        } else {
            eprintln!("hbt: {info}");
        }
        crate::say_precision(cfg.precision);
    }
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
    // run mid-way), a pretended free disk space (to see a full disk refused), and each
    // step's loss and embedding gradients written out (to compare runs).
    let test_env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let step_delay = test_env("HBT_TEST_STEP_DELAY_MS").map(std::time::Duration::from_millis);
    let (mut bar, mut quiet) = (hbt_train::ProgressBarSink::default(), hbt_train::Silent);
    let progress: &mut dyn hbt_train::Progress = if rank == 0 { &mut bar } else { &mut quiet };
    let mut summary = hbt_train::train(TrainOptions {
        model_dir: &dir,
        corpora,
        device: &device,
        config: cfg,
        out: &a.out,
        resume: a.resume,
        stop,
        progress,
        step_delay,
        pretend_free_bytes: test_env("HBT_TEST_FREE_BYTES"),
        collective: comm.clone(),
        dump_dir: std::env::var_os("HBT_TEST_DUMP_DIR").map(PathBuf::from),
        evaluation,
        base_model: a.model.clone(),
        device_name: Some(info.to_string().trim_start_matches("device: ").to_string()),
    })
    .context("training")?;
    if rank != 0 {
        return Ok(summary);
    }
    summary.device = Some(info);
    if world > 1 {
        summary.ranks = ranks;
        if let Some(c) = &summary.communication {
            eprintln!(
                "hbt: world size {world}: a step all-reduced {:.2} MB of gradients and all-gathered {:.1} KB of embeddings per rank; {:.3} s a step in collectives ({:.0}% of the run)",
                c.reduced_bytes_per_step as f64 / 1e6,
                c.gathered_bytes_per_step as f64 / 1e3,
                c.seconds_per_step,
                100.0 * c.seconds / summary.seconds.max(1e-9)
            );
        }
    }
    summary.write(&a.out)?;
    println!("{}", serde_json::to_string_pretty(&summary)?);
    Ok(summary)
}

/// Training options from a file: a TrainConfig, or a summary.json holding one.
fn read_config(path: &std::path::Path) -> Result<TrainConfig> {
    let bytes = std::fs::read(path).with_context(|| format!("--config {}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("--config {}: not JSON", path.display()))?;
    let v = v.get("config").cloned().unwrap_or(v);
    serde_json::from_value(v).with_context(|| format!("--config {}: not a training config", path.display()))
}

/// Every rank's host and device, as rank 0 prints and records them.
fn describe_ranks(comm: &dyn Collective, info: &hbt_device::DeviceInfo, note: Option<&str>) -> Vec<RankInfo> {
    let mut mine = info.to_string().trim_start_matches("device: ").to_string();
    if let Some(n) = note {
        mine.push_str(&format!(" ({n})"));
    } else if info.kind() == hbt_device::BackendKind::Wgpu && comm.local_size() > 1 {
        mine.push_str(&format!(" (discrete GPU {})", comm.local_rank()));
    }
    let hosts = comm.all_gather_bytes(comm.host().as_bytes());
    let devices = comm.all_gather_bytes(mine.as_bytes());
    hosts
        .iter()
        .zip(&devices)
        .enumerate()
        .map(|(rank, (h, d))| RankInfo {
            rank,
            host: String::from_utf8_lossy(h).into_owned(),
            device: String::from_utf8_lossy(d).into_owned(),
        })
        .collect()
}

/// The training data sets (described on rank 0's stderr) and the `--eval-data` evaluation.
type Loaded = (
    Vec<std::sync::Arc<hbt_data::PairData>>,
    Option<hbt_train::Evaluation<'static>>,
);

fn load_data(a: &TrainArgs, rank: usize) -> Result<Loaded> {
    let opts = hbt_data::ReadOptions {
        columns: a.columns.clone(),
        split: a.split.clone(),
    };
    let corpora = a
        .train
        .iter()
        .map(|p| hbt_data::read::load(p, &opts).map(std::sync::Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    if rank == 0 {
        for d in &corpora {
            eprintln!("hbt: {}", crate::data_cmd::describe(d));
        }
    }
    // Loaded on every rank (cheap next to the model); only rank 0 runs it.
    let evaluation = a
        .eval_data
        .as_ref()
        .map(|p| hbt_pipeline::train_eval::evaluation(p, &opts))
        .transpose()?;
    Ok((corpora, evaluation))
}
