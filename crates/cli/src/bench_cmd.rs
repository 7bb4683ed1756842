//! `hbt bench`: throughput measurements (never assertions).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use hbt_model::{BackendKind, Encoder, EncoderOptions, TextKind};

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
    #[arg(long, value_delimiter = ',', default_value = "cpu")]
    backends: Vec<BackendKind>,
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
    #[arg(long, value_delimiter = ',', default_value = "cpu")]
    backends: Vec<BackendKind>,
}

fn long_texts(data: &PathBuf, n: usize) -> Result<Vec<String>> {
    let c = hbt_data::load_dir(data)?;
    let texts: Vec<String> = c
        .langs
        .values()
        .flat_map(|d| d.paragraphs.iter().map(|p| p.context.clone()))
        .take(n)
        .collect();
    if texts.len() < n {
        bail!("{}: only {} paragraphs", data.display(), texts.len());
    }
    Ok(texts)
}

pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Encode(a) => {
            let texts = long_texts(&a.data, a.batch)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            for backend in &a.backends {
                let device = hbt_model::device(*backend)?;
                let dir = hbt_model::source::resolve_model(&a.model)?;
                let opts = EncoderOptions {
                    max_len: Some(a.len),
                    ..Default::default()
                };
                let mut enc = Encoder::load(&dir, &device, &opts)?;
                enc.batch_size = a.batch;
                let tokens = enc.tokenize(&refs, TextKind::Passage)?;
                enc.embed_batch(&refs, TextKind::Passage)?; // warm-up: kernels compile on first sight
                let t0 = Instant::now();
                for _ in 0..a.iters {
                    enc.embed_batch(&refs, TextKind::Passage)?;
                }
                let s = t0.elapsed().as_secs_f64() / a.iters as f64;
                println!(
                    "{}",
                    serde_json::json!({"bench": "encode", "backend": format!("{backend:?}").to_lowercase(), "batch": a.batch,
                        "seq": tokens.seq, "seconds_per_batch": s, "texts_per_s": a.batch as f64 / s})
                );
            }
            Ok(())
        }
        BenchCommand::Train(a) => {
            let dir = hbt_model::source::resolve_model(&a.model)?;
            let corpus = hbt_data::load_dir(&a.data)?;
            for backend in &a.backends {
                let cfg = hbt_train::TrainConfig {
                    batch_size: a.batch,
                    max_steps: a.steps + 1,
                    warmup_steps: 0,
                    eval_every: 0,
                    checkpoint_every: 0,
                    ..Default::default()
                };
                let data = hbt_train::trainer::TrainData::new(vec![corpus.clone()], &cfg)?;
                let sampler =
                    hbt_data::Sampler::new(data.train.clone(), hbt_data::SamplerKind::Hybrid(0.5), a.batch, 1)?;
                let device = hbt_model::device(*backend)?;
                let mut tr = hbt_train::Trainer::new(&dir, &device, cfg)?;
                let batches: Vec<_> = sampler.stream(0, 0).take(a.steps + 1).map(|b| b.2).collect();
                tr.step(&data, &batches[0], 1e-5)?; // warm-up
                let t0 = Instant::now();
                for b in &batches[1..] {
                    tr.step(&data, b, 1e-5)?;
                }
                let s = t0.elapsed().as_secs_f64() / a.steps as f64;
                println!(
                    "{}",
                    serde_json::json!({"bench": "train", "backend": format!("{backend:?}").to_lowercase(), "batch": a.batch,
                        "seconds_per_step": s, "pairs_per_s": a.batch as f64 / s})
                );
            }
            Ok(())
        }
    }
}
