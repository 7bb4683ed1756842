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
        if self.dim == 0 { 0 } else { self.data.len() / self.dim }
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
    let mut order: Vec<usize> = (0..texts.len()).collect();
    // Character length is a cheap proxy for token length.
    order.sort_by_key(|&i| std::cmp::Reverse(texts[i].chars().count()));
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
