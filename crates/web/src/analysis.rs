//! What the bias view computes from a ranking: the language mix of the top-k against a
//! language-blind ranker, the ranks of known parallel answers and their rank distance
//! (max rank − min rank, as in hbt-eval and the paper), and a 2-D PCA of the passages.

/// Passage indices by descending score (ties by index, so the order is deterministic).
pub fn rank(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    order
}

/// Dot products of `q` with each row of `m` (`[n, dim]`); vectors are unit length, so these
/// are cosines.
pub fn scores(q: &[f32], m: &[f32], dim: usize) -> Vec<f32> {
    // Eight partial sums: a single running sum is one long chain of dependent adds that
    // the compiler may not reorder into SIMD lanes.
    const L: usize = 8;
    m.chunks_exact(dim)
        .map(|row| {
            let mut acc = [0f32; L];
            let (rc, qc) = (row.chunks_exact(L), q.chunks_exact(L));
            let tail: f32 = rc.remainder().iter().zip(qc.remainder()).map(|(a, b)| a * b).sum();
            for (r, q) in rc.zip(qc) {
                for i in 0..L {
                    acc[i] += r[i] * q[i];
                }
            }
            acc.iter().sum::<f32>() + tail
        })
        .collect()
}

/// One language's share of the top-k and what a ranker blind to language would give
/// (its share of the pool).
#[derive(Debug, Clone, PartialEq)]
pub struct LangShare {
    pub lang: String,
    pub top_k: usize,
    pub observed: f64,
    pub blind: f64,
}

pub fn language_mix(order: &[usize], langs: &[&str], all: &[String], k: usize) -> Vec<LangShare> {
    let k = k.min(order.len()).max(1);
    let n = langs.len().max(1) as f64;
    all.iter()
        .map(|l| {
            let in_top = order.iter().take(k).filter(|&&i| langs[i] == l).count();
            let pool = langs.iter().filter(|&&x| x == l).count();
            LangShare {
                lang: l.clone(),
                top_k: in_top,
                observed: in_top as f64 / k as f64,
                blind: pool as f64 / n,
            }
        })
        .collect()
}

/// 1-based ranks of `answers` in `order`, and their rank distance.
pub fn answer_ranks(order: &[usize], answers: &[usize]) -> (Vec<(usize, usize)>, Option<usize>) {
    let mut pos = vec![0usize; order.len()];
    for (r, &i) in order.iter().enumerate() {
        pos[i] = r + 1;
    }
    let ranks: Vec<(usize, usize)> = answers.iter().map(|&a| (a, pos[a])).collect();
    let dist = match (ranks.iter().map(|r| r.1).max(), ranks.iter().map(|r| r.1).min()) {
        (Some(hi), Some(lo)) if ranks.len() > 1 => Some(hi - lo),
        _ => None,
    };
    (ranks, dist)
}

/// Rows the components are fitted on, at most: spread evenly over a large pool, they give
/// the same picture, and fitting all 7,308 passages of the demo took ~1 s of the page's
/// only thread on every load.
const PCA_FIT_ROWS: usize = 1500;

/// The first two principal components of the rows of `m` (`[n, dim]`), by power
/// iteration with deflation (fitted on at most [`PCA_FIT_ROWS`] evenly spread rows);
/// returns one `(x, y)` per row.
pub fn pca2(m: &[f32], dim: usize) -> Vec<(f32, f32)> {
    let n = m.len() / dim.max(1);
    if n < 2 {
        return vec![(0.0, 0.0); n];
    }
    let mut mean = vec![0f64; dim];
    for row in m.chunks_exact(dim) {
        for (a, &v) in mean.iter_mut().zip(row) {
            *a += v as f64;
        }
    }
    mean.iter_mut().for_each(|a| *a /= n as f64);
    let step = n.div_ceil(PCA_FIT_ROWS);
    let x: Vec<f64> = m
        .chunks_exact(dim)
        .step_by(step)
        .flat_map(|row| row.iter().zip(&mean).map(|(&v, &mu)| v as f64 - mu).collect::<Vec<_>>())
        .collect();
    // Covariance times a vector without forming the covariance: Xᵀ(Xv).
    let cov_mul = |v: &[f64]| -> Vec<f64> {
        let xv: Vec<f64> = x
            .chunks_exact(dim)
            .map(|r| r.iter().zip(v).map(|(a, b)| a * b).sum())
            .collect();
        let mut out = vec![0f64; dim];
        for (r, s) in x.chunks_exact(dim).zip(&xv) {
            for (o, a) in out.iter_mut().zip(r) {
                *o += a * s;
            }
        }
        out
    };
    let normalize = |v: &mut Vec<f64>| {
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt().max(1e-12);
        v.iter_mut().for_each(|a| *a /= norm);
    };
    let mut comps: Vec<Vec<f64>> = Vec::new();
    for c in 0..2 {
        // A fixed, non-degenerate start keeps the picture the same on every load.
        let mut v: Vec<f64> = (0..dim).map(|i| 1.0 + ((i * 7 + c * 13) % 11) as f64 / 11.0).collect();
        normalize(&mut v);
        for _ in 0..100 {
            let mut w = cov_mul(&v);
            for p in &comps {
                let d: f64 = w.iter().zip(p).map(|(a, b)| a * b).sum();
                w.iter_mut().zip(p).for_each(|(a, b)| *a -= d * b);
            }
            normalize(&mut w);
            let same: f64 = w.iter().zip(&v).map(|(a, b)| a * b).sum();
            v = w;
            if 1.0 - same.abs() < 1e-12 {
                break;
            }
        }
        comps.push(v);
    }
    m.chunks_exact(dim)
        .map(|r| {
            let p = |c: &Vec<f64>| {
                r.iter()
                    .zip(c)
                    .zip(&mean)
                    .map(|((&a, b), mu)| (a as f64 - mu) * b)
                    .sum::<f64>() as f32
            };
            (p(&comps[0]), p(&comps[1]))
        })
        .collect()
}

pub use hbt_report::lang::display_name as language_name;

/// A colour per language (Okabe–Ito and Tableau tones: distinguishable, print-safe).
pub fn language_colour(index: usize) -> &'static str {
    const C: [&str; 12] = [
        "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F3C8D", "#3B7D23", "#B8860B", "#8C564B",
        "#E15759", "#4E79A7",
    ];
    C[index % C.len()]
}
