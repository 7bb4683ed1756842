//! Hard negatives mined by the model itself, as sentence-transformers' `mine_hard_negatives`
//! does: embed every distinct positive passage of the data (the corpus) and every query,
//! rank the corpus for each query, and keep the best-scored passages that are neither the
//! query's positive nor a passage of its group (a translation of the positive: same `id`).
//!
//! Filters, in `mine_hard_negatives`' order and meaning: skip the `range_min` best, look no
//! further than `range_max`, drop a candidate scored above `max_score`, or above the
//! positive's score minus `margin`; keep `num_negatives`.

use std::collections::HashMap;

use hbt_data::PairData;
use hbt_model::burn::prelude::*;
use hbt_model::{Encoder, TextKind};

use crate::embed::embed_all;
use crate::error::{EvalError, Result};
use crate::lareqa::bar;

#[derive(Debug, Clone)]
pub struct MineOptions {
    pub num_negatives: usize,
    pub range_min: usize,
    pub range_max: Option<usize>,
    pub margin: Option<f32>,
    pub max_score: Option<f32>,
    /// Queries scored at once against the whole corpus (memory: this × corpus × 4 bytes).
    pub chunk: usize,
    pub show_progress: bool,
}

impl Default for MineOptions {
    fn default() -> Self {
        Self {
            num_negatives: 3,
            range_min: 0,
            range_max: None,
            margin: None,
            max_score: None,
            chunk: 256,
            show_progress: true,
        }
    }
}

/// Each row's mined negatives (best first), and what it took.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Mined {
    #[serde(skip)]
    pub negatives: Vec<Vec<String>>,
    pub rows: usize,
    pub corpus: usize,
    /// Rows that got fewer than `num_negatives` (the filters left too few candidates).
    pub short_rows: usize,
    pub mean_positive_score: f64,
    pub mean_negative_score: f64,
    pub encode_seconds: f64,
    pub search_seconds: f64,
}

/// Mine hard negatives for every row of `data`.
// long: corpus building, two encodings and the filtered top-k walk, each a few lines,
// kept in one place so the filters read in mine_hard_negatives' order.
pub fn mine(enc: &Encoder, data: &PairData, opts: &MineOptions) -> Result<Mined> {
    let n = data.row_count();
    // The corpus: distinct positives, each with the groups it belongs to.
    let mut corpus: Vec<String> = Vec::new();
    let mut groups_of: Vec<Vec<u32>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut queries = Vec::with_capacity(n);
    let mut positive_of = Vec::with_capacity(n);
    for r in 0..n {
        let row = data.row(r)?;
        let g = data.row_group(r) as u32;
        let k = match index.get(&row.positive) {
            Some(&k) => k,
            None => {
                index.insert(row.positive.clone(), corpus.len());
                corpus.push(row.positive);
                groups_of.push(Vec::new());
                corpus.len() - 1
            }
        };
        if !groups_of[k].contains(&g) {
            groups_of[k].push(g);
        }
        positive_of.push(k);
        queries.push(row.query);
    }
    drop(index);
    let t0 = std::time::Instant::now();
    let b = bar(corpus.len() + n, "embedding corpus and queries", opts.show_progress);
    let pv = embed_all(enc, &corpus, TextKind::Passage, &b)?;
    let qv = embed_all(enc, &queries, TextKind::Query, &b)?;
    b.finish_and_clear();
    let encode_seconds = t0.elapsed().as_secs_f64();
    let t1 = std::time::Instant::now();
    let dim = pv.dim;
    let m = corpus.len();
    let device = &enc.device;
    let cand_t: Tensor<2> = Tensor::<2>::from_data(TensorData::new(pv.data.clone(), [m, dim]), device).transpose();
    let depth = opts.range_max.unwrap_or(m).min(m);
    let mut out = Mined {
        negatives: vec![Vec::new(); n],
        rows: n,
        corpus: m,
        encode_seconds,
        ..Mined::default()
    };
    let (mut pos_sum, mut neg_sum, mut neg_n) = (0.0f64, 0.0f64, 0usize);
    let b = bar(n, "mining", opts.show_progress);
    let chunk = opts.chunk.max(1);
    for start in (0..n).step_by(chunk) {
        let end = (start + chunk).min(n);
        let q = Tensor::<2>::from_data(
            TensorData::new(qv.data[start * dim..end * dim].to_vec(), [end - start, dim]),
            device,
        );
        let scores: Vec<f32> = q
            .matmul(cand_t.clone())
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| EvalError::Invalid(format!("reading scores from the device: {e:?}")))?;
        for (k, r) in (start..end).enumerate() {
            let s = &scores[k * m..(k + 1) * m];
            let g = data.row_group(r) as u32;
            let pos = s[positive_of[r]];
            pos_sum += pos as f64;
            // The candidates that may be negatives, best first (ties: corpus order): the
            // positive and its group's passages are out before ranks are counted.
            let allowed = |c: u32| c as usize != positive_of[r] && !groups_of[c as usize].contains(&g);
            let mut order: Vec<u32> = (0..m as u32).filter(|&c| allowed(c)).collect();
            let top = depth.min(order.len());
            let by_score = |a: &u32, b: &u32| s[*b as usize].total_cmp(&s[*a as usize]).then(a.cmp(b));
            if top < order.len() {
                order.select_nth_unstable_by(top, by_score);
                order.truncate(top);
            }
            order.sort_unstable_by(by_score);
            let mut picked = Vec::new();
            for &c in order.iter().skip(opts.range_min) {
                let c = c as usize;
                let sc = s[c];
                if opts.max_score.is_some_and(|x| sc > x) || opts.margin.is_some_and(|mg| sc > pos - mg) {
                    continue;
                }
                neg_sum += sc as f64;
                neg_n += 1;
                picked.push(corpus[c].clone());
                if picked.len() == opts.num_negatives {
                    break;
                }
            }
            if picked.len() < opts.num_negatives {
                out.short_rows += 1;
            }
            out.negatives[r] = picked;
        }
        b.inc((end - start) as u64);
    }
    b.finish_and_clear();
    out.search_seconds = t1.elapsed().as_secs_f64();
    out.mean_positive_score = pos_sum / n.max(1) as f64;
    out.mean_negative_score = neg_sum / neg_n.max(1) as f64;
    Ok(out)
}
