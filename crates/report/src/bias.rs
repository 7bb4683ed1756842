//! What the browser's bias view computes from a ranking: the language mix of the top-k
//! against a language-blind ranker, the ranks of known parallel answers and their rank
//! distance (max rank − min rank, as in hbt-eval and the paper), and a 2-D PCA of the
//! passages. Here rather than in the web crate so that it is tested natively.

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

/// The cosine of two vectors of any length, summed in f64 (0 against a zero vector): how
/// hbt compares one encoder's vectors with another's.
pub fn cosine(x: &[f32], y: &[f32]) -> f64 {
    let dot: f64 = x.iter().zip(y).map(|(a, b)| *a as f64 * *b as f64).sum();
    let norm = |v: &[f32]| v.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
    dot / (norm(x) * norm(y)).max(f64::MIN_POSITIVE)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (no dependency for a test).
    fn lcg(seed: &mut u64) -> f64 {
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (*seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    }

    #[test]
    fn scores_are_the_dot_products() {
        let mut seed = 1;
        let dim = 37; // not a multiple of the eight lanes
        let m: Vec<f32> = (0..5 * dim).map(|_| lcg(&mut seed) as f32).collect();
        let q: Vec<f32> = (0..dim).map(|_| lcg(&mut seed) as f32).collect();
        for (row, s) in m.chunks_exact(dim).zip(scores(&q, &m, dim)) {
            let exact: f64 = row.iter().zip(&q).map(|(a, b)| *a as f64 * *b as f64).sum();
            assert!((s as f64 - exact).abs() < 1e-5, "{s} vs {exact}");
        }
    }

    #[test]
    fn language_mix_counts_the_top_k_against_the_pool() {
        let langs = ["de", "en", "en", "ar", "en", "de"];
        let all = ["ar".to_string(), "de".into(), "en".into()];
        let order = [4, 1, 0, 3, 2, 5];
        let mix = language_mix(&order, &langs, &all, 3);
        let got: Vec<(usize, f64, f64)> = mix.iter().map(|m| (m.top_k, m.observed, m.blind)).collect();
        assert_eq!(
            got,
            vec![
                (0, 0.0, 1.0 / 6.0),
                (1, 1.0 / 3.0, 2.0 / 6.0),
                (2, 2.0 / 3.0, 3.0 / 6.0)
            ]
        );
        let total: f64 = language_mix(&order, &langs, &all, 6).iter().map(|m| m.observed).sum();
        assert!((total - 1.0).abs() < 1e-12);
    }

    #[test]
    fn answer_ranks_agree_with_the_ranking() {
        let scores = [0.1, 0.7, 0.3, 0.7, 0.2];
        let order = crate::rank::ranking(&scores);
        let (ranks, dist) = answer_ranks(&order, &[0, 3, 2]);
        for &(i, r) in &ranks {
            assert_eq!(r, crate::rank::rank_of(&scores, i));
        }
        assert_eq!(ranks, vec![(0, 5), (3, 2), (2, 3)]);
        assert_eq!(dist, Some(3));
        assert_eq!(answer_ranks(&order, &[1]).1, None, "one answer has no distance");
    }

    #[test]
    fn pca_recovers_two_known_axes() {
        // Points a·u + b·v + c + noise, u ⟂ v, var(a) > var(b) ≫ noise: the first two
        // principal coordinates are a and b (up to sign) minus their means.
        let (dim, n) = (24, 400);
        let mut seed = 7;
        let mut u: Vec<f64> = (0..dim).map(|_| lcg(&mut seed)).collect();
        let mut v: Vec<f64> = (0..dim).map(|_| lcg(&mut seed)).collect();
        let norm = |x: &mut Vec<f64>| {
            let s = x.iter().map(|a| a * a).sum::<f64>().sqrt();
            x.iter_mut().for_each(|a| *a /= s);
        };
        norm(&mut u);
        let d: f64 = u.iter().zip(&v).map(|(a, b)| a * b).sum();
        v.iter_mut().zip(&u).for_each(|(b, a)| *b -= d * a);
        norm(&mut v);
        let c: Vec<f64> = (0..dim).map(|_| lcg(&mut seed)).collect();
        let centre = |xs: &mut Vec<f64>| {
            let mu = xs.iter().sum::<f64>() / xs.len() as f64;
            xs.iter_mut().for_each(|x| *x -= mu);
        };
        let mut a: Vec<f64> = (0..n).map(|_| 4.0 * lcg(&mut seed)).collect();
        let mut b: Vec<f64> = (0..n).map(|_| 1.5 * lcg(&mut seed)).collect();
        centre(&mut a);
        centre(&mut b);
        // Uncorrelated in the sample too, so the sample's axes are exactly u and v.
        let ab = a.iter().zip(&b).map(|(x, y)| x * y).sum::<f64>() / a.iter().map(|x| x * x).sum::<f64>();
        b.iter_mut().zip(&a).for_each(|(y, x)| *y -= ab * x);
        let mut m = Vec::new();
        for i in 0..n {
            for k in 0..dim {
                m.push((a[i] * u[k] + b[i] * v[k] + c[k] + 1e-3 * lcg(&mut seed)) as f32);
            }
        }
        let p = pca2(&m, dim);
        let sign = |got: f64, want: f64| if got * want < 0.0 { -1.0 } else { 1.0 };
        let (sa, sb) = (sign(p[0].0 as f64, a[0]), sign(p[0].1 as f64, b[0]));
        for i in 0..n {
            assert!(
                (sa * p[i].0 as f64 - a[i]).abs() < 0.01,
                "row {i}: {} vs {}",
                p[i].0,
                a[i]
            );
            assert!(
                (sb * p[i].1 as f64 - b[i]).abs() < 0.01,
                "row {i}: {} vs {}",
                p[i].1,
                b[i]
            );
        }
        assert_eq!(pca2(&m[..dim], dim), vec![(0.0, 0.0)], "one row has no spread");
    }
}
