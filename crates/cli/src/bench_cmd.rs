//! `hbt bench`: throughput measurements (never assertions).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};
use hbt_device::BackendKind;
use hbt_model::Precision;
use hbt_pipeline::bench;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Encoding throughput: batches of `--batch` texts truncated to `--len` tokens.
    Encode(EncodeArgs),
    /// Training-step throughput: pairs/s and time per step.
    Train(TrainBenchArgs),
}

#[derive(Args)]
pub struct EncodeArgs {
    #[arg(long)]
    model: String,
    /// Where to take long texts from (a LAReQA folder; contexts are used).
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 128)]
    len: usize,
    #[arg(long, default_value_t = 5)]
    iters: usize,
    /// Untimed batches first: a GPU compiles and autotunes kernels for every new shape.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    #[arg(long, value_delimiter = ',', default_value = "cpu")]
    backends: Vec<BackendKind>,
    /// Precisions to time (f32; bf16 — CPU only; f16 — GPU only); after f32, each other
    /// line reports the cosine of its vectors to the f32 ones.
    #[arg(long, value_delimiter = ',', default_value = "f32")]
    precisions: Vec<Precision>,
    /// Write the tokenized batch (`{"ids", "mask"}`) as JSON, so another framework can
    /// run the very same tokens (scripts/bench_peers.py).
    #[arg(long)]
    dump_ids: Option<PathBuf>,
}

#[derive(Args)]
pub struct TrainBenchArgs {
    #[arg(long)]
    model: String,
    #[arg(long)]
    data: PathBuf,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Untimed steps first: a GPU compiles and autotunes kernels for every new shape.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    #[arg(long, value_delimiter = ',', default_value = "cpu")]
    backends: Vec<BackendKind>,
    /// Gradient caching micro-batch (texts per forward pass; packed rows: rows per pass).
    #[arg(long)]
    micro_batch: Option<usize>,
    /// f32; bf16 autocast for the linear layers (CPU only); or f16 autocast for the linears
    /// and attention products (GPU only), with dynamic loss scaling — as `hbt train`.
    #[arg(long, default_value_t = Precision::F32)]
    precision: Precision,
    /// How each side of a batch is laid out: packed rows, length groups, or padded (as
    /// before issue 31).
    #[arg(long, default_value_t = hbt_train::Batching::Packed)]
    batching: hbt_train::Batching,
    /// Write every step's tokenized queries and passages as JSON (scripts/bench_peers.py).
    #[arg(long)]
    dump_ids: Option<PathBuf>,
}

/// Parse and dispatch: the measurements are `hbt_pipeline::bench`'s; this loops over the
/// asked-for backends and precisions and prints one JSON line each.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Encode(a) => {
            let texts = bench::long_texts(&a.data, a.batch)?;
            let dir = hbt_model::source::resolve_model(&a.model)?;
            let b = bench::EncodeBench {
                model: &dir,
                texts: &texts,
                len: a.len,
                iters: a.iters,
                warmup: a.warmup,
                dump_ids: a.dump_ids.as_deref(),
            };
            for backend in &a.backends {
                let info = crate::select_device(Some(*backend));
                let device = hbt_device::device(*backend)?;
                let mut f32_vectors: Option<Vec<Vec<f32>>> = None;
                for &precision in &a.precisions {
                    crate::say_precision(precision);
                    let (line, vectors) = b.run(&device, &info, precision, f32_vectors.as_deref())?;
                    if precision == Precision::F32 {
                        f32_vectors = Some(vectors);
                    }
                    println!("{line}");
                }
            }
        }
        BenchCommand::Train(a) => {
            let b = bench::TrainBench {
                model: hbt_model::source::resolve_model(&a.model)?,
                corpus: hbt_data::load_dir(&a.data)?,
                config: hbt_train::TrainConfig {
                    batch_size: a.batch,
                    max_steps: a.steps + a.warmup,
                    warmup_steps: 0,
                    eval_every: 0,
                    checkpoint_every: 0,
                    micro_batch: a.micro_batch,
                    precision: a.precision,
                    batching: a.batching,
                    ..Default::default()
                },
                warmup: a.warmup,
                dump_ids: a.dump_ids,
            };
            for backend in &a.backends {
                let info = crate::select_device(Some(*backend));
                crate::say_precision(a.precision);
                let device = hbt_device::device(*backend)?;
                println!("{}", b.run(&device, &info)?);
            }
        }
    }
    Ok(())
}
