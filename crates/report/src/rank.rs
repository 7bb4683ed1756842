//! One ranking order for every ranked list hbt scores or shows — the evaluator's runs and
//! metrics, and the browser's results — so a passage holds the same place in both: higher
//! score first, equal scores by position (the earlier item first), NaN after every number.

use std::cmp::Ordering;

/// `Less` when item `a` is ranked before item `b`.
pub fn order(scores: &[f32], a: usize, b: usize) -> Ordering {
    let (x, y) = (scores[a], scores[b]);
    let by_score = match (x.is_nan(), y.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        // Not NaN, so comparable; -0.0 and 0.0 tie, and fall to the index.
        (false, false) => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
    };
    by_score.then(a.cmp(&b))
}

/// The rank (1-based) of item `target`: one plus the items ranked before it. Ranks are a
/// permutation of `1..=n`.
pub fn rank_of(scores: &[f32], target: usize) -> usize {
    1 + (0..scores.len())
        .filter(|&i| order(scores, i, target) == Ordering::Less)
        .count()
}

/// Indices of the `k` best items, best first.
pub fn top_k(scores: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let cmp = |a: &usize, b: &usize| order(scores, *a, *b);
    let k = k.min(idx.len());
    if k == 0 {
        return Vec::new();
    }
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, cmp);
        idx.truncate(k);
    }
    idx.sort_by(cmp);
    idx
}

/// Every index, best first.
pub fn ranking(scores: &[f32]) -> Vec<usize> {
    top_k(scores, scores.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_agree_with_the_order_and_ties_fall_to_the_index() {
        let s = [0.5, 0.9, 0.5, f32::NAN, -0.0, 0.0, 0.9];
        let all = ranking(&s);
        assert_eq!(all, vec![1, 6, 0, 2, 4, 5, 3]);
        for (pos, &i) in all.iter().enumerate() {
            assert_eq!(rank_of(&s, i), pos + 1, "item {i}");
        }
        for k in 0..=s.len() + 1 {
            assert_eq!(top_k(&s, k), all[..k.min(s.len())].to_vec(), "k = {k}");
        }
    }
}
