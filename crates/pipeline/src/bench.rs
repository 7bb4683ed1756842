//! `hbt bench`'s measurements: encoding and training-step throughput on one device, each a
//! JSON line that scripts/bench-*.sh set beside PyTorch's and ONNX Runtime's figures.
//! Throughput is measured and reported here, never asserted.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hbt_device::DeviceInfo;
use hbt_model::burn::prelude::Device;
use hbt_model::{Encoder, EncoderOptions, Precision, TextKind, TokenBatch};
use hbt_report::bias::cosine;
use serde_json::{Value, json};

use crate::error::{PipelineError, Result};

/// `{"ids", "mask"}` of a tokenized batch, so another framework can run the very same tokens
/// (scripts/bench_peers.py).
fn token_json(b: &TokenBatch) -> Value {
    let rows = |v: &[u32]| -> Vec<Vec<u32>> { v.chunks(b.seq).map(<[u32]>::to_vec).collect() };
    json!({"ids": rows(&b.ids), "mask": rows(&b.mask)})
}

fn write_json(path: &Path, v: &Value) -> Result<()> {
    let bytes = serde_json::to_vec(v).map_err(|e| PipelineError::Invalid(e.to_string()))?;
    std::fs::write(path, bytes).map_err(|e| PipelineError::io(path, e))
}

/// Share of a padded batch's token slots that are padding.
fn padding_share(b: &TokenBatch) -> f64 {
    let real: usize = b.lengths.iter().sum();
    1.0 - real as f64 / (b.batch * b.seq).max(1) as f64
}

/// The first `n` paragraphs of a LAReQA folder: long texts to encode.
pub fn long_texts(data: &Path, n: usize) -> Result<Vec<String>> {
    let c = hbt_data::load_dir(data)?;
    let texts: Vec<String> = c
        .langs
        .values()
        .flat_map(|d| d.paragraphs.iter().map(|p| p.context.clone()))
        .take(n)
        .collect();
    if texts.len() < n {
        return Err(PipelineError::Invalid(format!(
            "{}: only {} paragraphs",
            data.display(),
            texts.len()
        )));
    }
    Ok(texts)
}

/// One encoding benchmark: `texts` (one batch) truncated to `len` tokens.
pub struct EncodeBench<'a> {
    pub model: &'a Path,
    pub texts: &'a [String],
    pub len: usize,
    pub iters: usize,
    /// Untimed batches first: a GPU compiles and autotunes kernels for every new shape.
    pub warmup: usize,
    pub dump_ids: Option<&'a Path>,
}

impl EncodeBench<'_> {
    /// Times one precision on `device`; `f32_vectors`, when given, are the f32 run's vectors
    /// that this one's are compared to (the line's `min_cosine_to_f32`). Returns the line and
    /// the vectors.
    pub fn run(
        &self,
        device: &Device,
        info: &DeviceInfo,
        precision: Precision,
        f32_vectors: Option<&[Vec<f32>]>,
    ) -> Result<(Value, Vec<Vec<f32>>)> {
        let refs: Vec<&str> = self.texts.iter().map(String::as_str).collect();
        let opts = EncoderOptions {
            max_len: Some(self.len),
            precision,
            ..Default::default()
        };
        let mut enc = Encoder::load(self.model, device, &opts)?;
        enc.batch_size = refs.len();
        let tokens = enc.tokenize(&refs, TextKind::Passage)?;
        if let Some(path) = self.dump_ids {
            write_json(path, &token_json(&tokens))?;
        }
        let mut vectors = Vec::new();
        for _ in 0..self.warmup {
            vectors = enc.embed_batch(&refs, TextKind::Passage)?;
        }
        let t0 = Instant::now();
        for _ in 0..self.iters {
            vectors = enc.embed_batch(&refs, TextKind::Passage)?;
        }
        let s = t0.elapsed().as_secs_f64() / self.iters.max(1) as f64;
        let min_cos = f32_vectors
            .filter(|_| precision != Precision::F32 && !vectors.is_empty())
            .map(|base| {
                base.iter()
                    .zip(&vectors)
                    .map(|(x, y)| cosine(x, y))
                    .fold(f64::INFINITY, f64::min)
            });
        let line = json!({"bench": "encode", "backend": info.backend, "batch": refs.len(),
            "seq": tokens.seq, "seconds_per_batch": s, "texts_per_s": refs.len() as f64 / s,
            "threads": info.threads, "device": info.name, "precision": precision.to_string(),
            "amx": precision == Precision::Bf16 && hbt_model::amx_available(),
            "min_cosine_to_f32": min_cos});
        Ok((line, vectors))
    }
}

/// One training-step benchmark: `warmup` untimed steps, then `config.max_steps - warmup`
/// timed ones, on hybrid batches (α 0.5) of the corpus.
pub struct TrainBench {
    pub model: PathBuf,
    pub corpus: hbt_data::Corpus,
    pub config: hbt_train::TrainConfig,
    pub warmup: usize,
    /// Write every step's tokenized queries and passages (scripts/bench_peers.py).
    pub dump_ids: Option<PathBuf>,
}

impl TrainBench {
    pub fn run(&self, device: &Device, info: &DeviceInfo) -> Result<Value> {
        let cfg = self.config.clone();
        let (batch, steps) = (cfg.batch_size, cfg.max_steps);
        if steps <= self.warmup {
            return Err(PipelineError::Invalid(
                "--steps must be at least 1 (timed steps come after --warmup)".into(),
            ));
        }
        let data = hbt_train::trainer::TrainData::new(
            vec![std::sync::Arc::new(hbt_data::pairs::from_corpus(&self.corpus)?)],
            &cfg,
        )?;
        let sampler = hbt_data::Sampler::new(data.train.clone(), hbt_data::SamplerKind::Hybrid(0.5), batch, 1)?;
        let mut tr = hbt_train::Trainer::new(&self.model, device, cfg.clone())?;
        let batches: Vec<_> = sampler.stream(0, 0).take(steps).map(|b| b.2).collect();
        let tokenized = batches
            .iter()
            .map(|b| tr.tokenized(&data, b))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        if let Some(path) = &self.dump_ids {
            let steps: Vec<_> = tokenized
                .iter()
                .map(|(q, p)| json!({"query": token_json(q), "passage": token_json(p)}))
                .collect();
            write_json(path, &json!({"steps": steps, "warmup": self.warmup}))?;
        }
        let mean = |f: &dyn Fn(&(TokenBatch, TokenBatch)) -> f64| {
            tokenized.iter().map(f).sum::<f64>() / tokenized.len() as f64
        };
        let (q_pad, p_pad) = (mean(&|t| padding_share(&t.0)), mean(&|t| padding_share(&t.1)));
        let (q_seq, p_seq) = (mean(&|t| t.0.seq as f64), mean(&|t| t.1.seq as f64));
        // Each step is timed to the end of its optimizer update (GPU queues are
        // asynchronous), so first-sight kernel compilation shows in the warm-up times and the
        // median is robust to a shape first seen after the warm-up. Token slots the timed
        // steps' forward passes computed (packing and length groups skip padding), beside the
        // padded batches' shares above.
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
        let warm = timed(&batches[..self.warmup], false)?;
        let times = timed(&batches[self.warmup..], true)?;
        let computed_padding = 1.0 - slots.real as f64 / slots.computed.max(1) as f64;
        let s = times.iter().sum::<f64>() / times.len() as f64;
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        Ok(json!({"bench": "train", "backend": info.backend, "batch": batch,
            "seconds_per_step": s, "median_seconds_per_step": median, "pairs_per_s": batch as f64 / s,
            "step_seconds": times, "warmup_seconds": warm, "threads": info.threads,
            "device": info.name, "micro_batch": cfg.micro_batch, "precision": cfg.precision.to_string(),
            "query_seq_mean": q_seq, "passage_seq_mean": p_seq,
            "query_padding_share": q_pad, "passage_padding_share": p_pad,
            "batching": cfg.batching.to_string(), "token_slots": slots,
            "computed_padding_share": computed_padding,
            "skipped_steps": tr.scaler.as_ref().map(|s| s.skipped),
            "loss_scale": tr.scaler.as_ref().map(|s| s.scale)}))
    }
}
