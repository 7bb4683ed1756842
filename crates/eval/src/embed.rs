//! Encoding many texts: sorted by length so batches carry little padding, with progress.

use hbt_model::{Encoder, TextKind};
use indicatif::ProgressBar;

use crate::error::Result;

/// Row-major vectors `[n, dim]`.
#[derive(Debug, Clone, Default)]
pub struct Vectors {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Vectors {
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

/// Embed `texts` in the encoder's batch size, longest first; returns vectors in input order.
pub fn embed_all(enc: &Encoder, texts: &[String], kind: TextKind, bar: &ProgressBar) -> Result<Vectors> {
    let dim = enc.config.hidden_size;
    let mut out = Vectors {
        dim,
        data: vec![0.0; texts.len() * dim],
    };
    if texts.is_empty() {
        return Ok(out);
    }
    // Sort by token count (characters are a poor proxy across scripts: a Chinese character
    // is often a token, a Latin one a fraction of one), so each batch pads only to texts
    // of nearly its own length. Tokenizing twice costs little next to the encoder.
    let mut lengths = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(1024) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        lengths.extend(enc.tokenize(&refs, kind)?.lengths);
    }
    let mut order: Vec<usize> = (0..texts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    for chunk in order.chunks(enc.batch_size.max(1)) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_str()).collect();
        let vs = enc.embed_batch(&batch, kind)?;
        for (&i, v) in chunk.iter().zip(vs) {
            out.data[i * dim..(i + 1) * dim].copy_from_slice(&v);
        }
        bar.inc(chunk.len() as u64);
    }
    Ok(out)
}
