//! Ranking metrics, defined as trec_eval / pytrec_eval define them.
//!
//! A ranking is given by the 1-based ranks of the relevant items (sorted ascending) and,
//! for graded metrics, their gains. Average precision runs over the full ranking (LAReQA's
//! mAP); `ap_at_k` divides by min(|R|, k) as XTREME-R's mAP@20 does.

/// Sum of precision at the rank of each relevant item ranked within the top k.
fn precision_sum(ranks: &[usize], k: usize) -> f64 {
    ranks
        .iter()
        .enumerate()
        .take_while(|(_, r)| **r <= k)
        .map(|(i, &r)| (i + 1) as f64 / r as f64)
        .sum()
}

/// Average precision with no cutoff: mean over relevant items of precision at their rank.
/// Relevant items never retrieved count as 0 (they are absent from `ranks`).
pub fn average_precision(ranks: &[usize], n_relevant: usize) -> f64 {
    if n_relevant == 0 {
        return 0.0;
    }
    precision_sum(ranks, usize::MAX) / n_relevant as f64
}

/// AP over the top k, divided by min(|R|, k) (XTREME-R's mAP@k).
pub fn ap_at_k(ranks: &[usize], n_relevant: usize, k: usize) -> f64 {
    if n_relevant == 0 {
        return 0.0;
    }
    precision_sum(ranks, k) / n_relevant.min(k) as f64
}

/// AP over the top k divided by |R| (trec_eval's `map_cut_k`).
pub fn map_cut(ranks: &[usize], n_relevant: usize, k: usize) -> f64 {
    if n_relevant == 0 {
        return 0.0;
    }
    precision_sum(ranks, k) / n_relevant as f64
}

pub fn recall_at_k(ranks: &[usize], n_relevant: usize, k: usize) -> f64 {
    if n_relevant == 0 {
        return 0.0;
    }
    ranks.iter().filter(|&&r| r <= k).count() as f64 / n_relevant as f64
}

/// Reciprocal rank of the first relevant item within the top k.
pub fn rr_at_k(ranks: &[usize], k: usize) -> f64 {
    match ranks.first() {
        Some(&r) if r <= k => 1.0 / r as f64,
        _ => 0.0,
    }
}

/// nDCG@k with linear gains (trec_eval's `ndcg_cut`): gain / log2(rank + 1).
/// `ranked`: (rank, gain) of retrieved relevant items; `all_gains`: every judged gain > 0.
pub fn ndcg_at_k(ranked: &[(usize, f64)], all_gains: &[f64], k: usize) -> f64 {
    let dcg: f64 = ranked
        .iter()
        .filter(|(r, _)| *r <= k)
        .map(|(r, g)| g / ((*r + 1) as f64).log2())
        .sum();
    let mut ideal = all_gains.to_vec();
    ideal.sort_by(|a, b| b.partial_cmp(a).unwrap());
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, g)| g / ((i + 2) as f64).log2())
        .sum();
    if idcg == 0.0 { 0.0 } else { dcg / idcg }
}

/// Ranks and top-k in the one order the browser shows too ([`hbt_report::rank`]).
pub use hbt_report::rank::{rank_of, top_k};

/// Per-query figures from a scored run, as trec_eval computes them.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct QueryMetrics {
    pub ap: f64,
    pub ndcg_10: f64,
    pub recall_100: f64,
    pub recall_10: f64,
    pub rr_10: f64,
    pub map_cut_20: f64,
}

/// Score one query of a run: `run` holds (doc, score); `qrels` (doc, graded relevance).
/// Ordering: score descending, then doc id descending (trec_eval's tie-break).
pub fn score_query(run: &[(String, f64)], qrels: &std::collections::HashMap<String, i32>) -> QueryMetrics {
    let mut ranked: Vec<&(String, f64)> = run.iter().collect();
    ranked.sort_by(|a, b| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.0.cmp(&a.0))
    });
    let mut ranks = Vec::new();
    let mut graded = Vec::new();
    for (i, (d, _)) in ranked.iter().enumerate() {
        if let Some(&g) = qrels.get(d)
            && g > 0
        {
            ranks.push(i + 1);
            graded.push((i + 1, g as f64));
        }
    }
    let gains: Vec<f64> = qrels.values().filter(|&&g| g > 0).map(|&g| g as f64).collect();
    let n = gains.len();
    QueryMetrics {
        ap: average_precision(&ranks, n),
        ndcg_10: ndcg_at_k(&graded, &gains, 10),
        recall_100: recall_at_k(&ranks, n, 100),
        recall_10: recall_at_k(&ranks, n, 10),
        rr_10: rr_at_k(&ranks, 10),
        map_cut_20: map_cut(&ranks, n, 20),
    }
}

pub fn mean(xs: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in xs {
        s += x;
        n += 1;
    }
    if n == 0 { 0.0 } else { s / n as f64 }
}
