//! `hbt bench`: throughput measurements (never assertions).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hbt_device::BackendKind;
use hbt_model::{Encoder, EncoderOptions, Precision, TextKind};

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

fn token_json(b: &hbt_model::TokenBatch) -> serde_json::Value {
    let rows = |v: &[u32]| -> Vec<Vec<u32>> { v.chunks(b.seq).map(<[u32]>::to_vec).collect() };
    serde_json::json!({"ids": rows(&b.ids), "mask": rows(&b.mask)})
}

fn write_json(path: &PathBuf, v: &serde_json::Value) -> Result<()> {
    std::fs::write(path, serde_json::to_vec(v)?).with_context(|| format!("writing {}", path.display()))
}

use hbt_report::bias::cosine;

/// Share of a padded batch's token slots that are padding.
fn padding_share(b: &hbt_model::TokenBatch) -> f64 {
    let real: usize = b.lengths.iter().sum();
    1.0 - real as f64 / (b.batch * b.seq).max(1) as f64
}

fn long_texts(data: &std::path::Path, n: usize) -> Result<Vec<String>> {
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

// long: one arm per benchmark (encode, train), each reading its inputs, timing them and
// printing; they share the device and output set-up above them.
pub fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Encode(a) => {
            let texts = long_texts(&a.data, a.batch)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let dir = hbt_model::source::resolve_model(&a.model)?;
            for backend in &a.backends {
                let info = crate::select_device(Some(*backend));
                let device = hbt_device::device(*backend)?;
                let mut f32_vectors: Option<Vec<Vec<f32>>> = None;
                for &precision in &a.precisions {
                    crate::say_precision(precision);
                    let opts = EncoderOptions {
                        max_len: Some(a.len),
                        precision,
                        ..Default::default()
                    };
                    let mut enc = Encoder::load(&dir, &device, &opts)?;
                    enc.batch_size = a.batch;
                    let tokens = enc.tokenize(&refs, TextKind::Passage)?;
                    if let Some(path) = &a.dump_ids {
                        write_json(path, &token_json(&tokens))?;
                    }
                    let mut vectors = Vec::new();
                    for _ in 0..a.warmup {
                        vectors = enc.embed_batch(&refs, TextKind::Passage)?;
                    }
                    let t0 = Instant::now();
                    for _ in 0..a.iters {
                        vectors = enc.embed_batch(&refs, TextKind::Passage)?;
                    }
                    let s = t0.elapsed().as_secs_f64() / a.iters as f64;
                    let min_cos = match (&f32_vectors, precision) {
                        (Some(base), p) if p != Precision::F32 && !vectors.is_empty() => Some(
                            base.iter()
                                .zip(&vectors)
                                .map(|(x, y)| cosine(x, y))
                                .fold(f64::INFINITY, f64::min),
                        ),
                        _ => None,
                    };
                    if precision == Precision::F32 {
                        f32_vectors = Some(vectors);
                    }
                    println!(
                        "{}",
                        serde_json::json!({"bench": "encode", "backend": format!("{backend:?}").to_lowercase(), "batch": a.batch,
                            "seq": tokens.seq, "seconds_per_batch": s, "texts_per_s": a.batch as f64 / s,
                            "threads": info.threads, "device": info.name, "precision": precision.to_string(),
                            "amx": precision == Precision::Bf16 && hbt_model::amx_available(),
                            "min_cosine_to_f32": min_cos})
                    );
                }
            }
            Ok(())
        }
        BenchCommand::Train(a) => {
            if a.steps == 0 {
                bail!("--steps must be at least 1 (timed steps come after --warmup)");
            }
            let dir = hbt_model::source::resolve_model(&a.model)?;
            let corpus = hbt_data::load_dir(&a.data)?;
            for backend in &a.backends {
                let cfg = hbt_train::TrainConfig {
                    batch_size: a.batch,
                    max_steps: a.steps + a.warmup,
                    warmup_steps: 0,
                    eval_every: 0,
                    checkpoint_every: 0,
                    micro_batch: a.micro_batch,
                    precision: a.precision,
                    batching: a.batching,
                    ..Default::default()
                };
                let data = hbt_train::trainer::TrainData::new(vec![corpus.clone()], &cfg)?;
                let sampler =
                    hbt_data::Sampler::new(data.train.clone(), hbt_data::SamplerKind::Hybrid(0.5), a.batch, 1)?;
                let info = crate::select_device(Some(*backend));
                crate::say_precision(a.precision);
                let device = hbt_device::device(*backend)?;
                let mut tr = hbt_train::Trainer::new(&dir, &device, cfg)?;
                let batches: Vec<_> = sampler.stream(0, 0).take(a.steps + a.warmup).map(|b| b.2).collect();
                let tokenized = batches
                    .iter()
                    .map(|b| tr.tokenized(&data, b))
                    .collect::<Result<Vec<_>, _>>()?;
                if let Some(path) = &a.dump_ids {
                    let steps: Vec<_> = tokenized
                        .iter()
                        .map(|(q, p)| serde_json::json!({"query": token_json(q), "passage": token_json(p)}))
                        .collect();
                    write_json(path, &serde_json::json!({"steps": steps, "warmup": a.warmup}))?;
                }
                let mean = |f: &dyn Fn(&(hbt_model::TokenBatch, hbt_model::TokenBatch)) -> f64| {
                    tokenized.iter().map(f).sum::<f64>() / tokenized.len() as f64
                };
                let (q_pad, p_pad) = (mean(&|t| padding_share(&t.0)), mean(&|t| padding_share(&t.1)));
                let (q_seq, p_seq) = (mean(&|t| t.0.seq as f64), mean(&|t| t.1.seq as f64));
                // Each step is timed to the end of its optimizer update (GPU queues are
                // asynchronous), so first-sight kernel compilation shows in the warm-up times
                // and the median is robust to a shape first seen after the warm-up.
                // Token slots the timed steps' forward passes computed (length groups skip
                // padding), beside the padded batches' shares above.
                let mut slots = hbt_train::trainer::TokenSlots::default();
                let mut timed = |bs: &[hbt_data::Batch], count: bool| -> Result<Vec<f64>> {
                    bs.iter()
                        .map(|b| -> Result<f64> {
                            let t0 = Instant::now();
                            tr.step(&data, b, 1e-5)?;
                            tr.sync();
                            let t = t0.elapsed().as_secs_f64();
                            if count {
                                let s = tr.take_token_slots();
                                slots.computed += s.computed;
                                slots.padded += s.padded;
                                slots.real += s.real;
                            }
                            Ok(t)
                        })
                        .collect()
                };
                let warm = timed(&batches[..a.warmup], false)?;
                let times = timed(&batches[a.warmup..], true)?;
                let computed_padding = 1.0 - slots.real as f64 / slots.computed.max(1) as f64;
                let s = times.iter().sum::<f64>() / times.len() as f64;
                let mut sorted = times.clone();
                sorted.sort_by(f64::total_cmp);
                let median = sorted[sorted.len() / 2];
                println!(
                    "{}",
                    serde_json::json!({"bench": "train", "backend": format!("{backend:?}").to_lowercase(), "batch": a.batch,
                        "seconds_per_step": s, "median_seconds_per_step": median, "pairs_per_s": a.batch as f64 / s,
                        "step_seconds": times, "warmup_seconds": warm, "threads": info.threads,
                        "device": info.name, "micro_batch": a.micro_batch, "precision": a.precision.to_string(),
                        "query_seq_mean": q_seq, "passage_seq_mean": p_seq,
                        "query_padding_share": q_pad, "passage_padding_share": p_pad,
                        "batching": a.batching.to_string(), "token_slots": slots,
                        "computed_padding_share": computed_padding,
                        "skipped_steps": tr.scaler.as_ref().map(|s| s.skipped),
                        "loss_scale": tr.scaler.as_ref().map(|s| s.scale)})
                );
            }
            Ok(())
        }
    }
}
