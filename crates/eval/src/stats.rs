//! Paired significance tests between two evaluations of the same questions.
//!
//! A LAReQA figure (mono / cross / multi mAP, rank distance) is a macro average over tasks
//! of a per-query value. The independent unit is the *question*: XQuAD-R asks each one in
//! every language, so its values in the 121 language-pair tasks are not independent. The
//! difference between two systems is therefore split into one contribution per question
//! (its share of the macro average), and
//! - the p-value is a paired randomization (sign-flip) test over questions: exact over all
//!   2^n sign patterns for n ≤ 16 questions, otherwise `resamples` random patterns
//!   (p = (1 + hits) / (1 + resamples));
//! - the 95% interval is a percentile bootstrap over questions.
//!
//! The sum of the contributions equals the difference of the reports' summary figures, so
//! the test is about exactly the number the table shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::metrics::average_precision;
use crate::report::Report;

/// The figures a paired test can be run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Measure {
    MonoMap,
    CrossMap,
    MultiMap,
    RankDistance,
}

impl Measure {
    pub const ALL: [Measure; 4] = [
        Measure::MonoMap,
        Measure::CrossMap,
        Measure::MultiMap,
        Measure::RankDistance,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Measure::MonoMap => "mono mAP",
            Measure::CrossMap => "cross mAP",
            Measure::MultiMap => "multi mAP",
            Measure::RankDistance => "rank distance",
        }
    }

    /// Whether a larger value is better.
    pub fn higher_is_better(self) -> bool {
        self != Measure::RankDistance
    }

    /// Scale used in tables (mAP in percent).
    pub fn scale(self) -> f64 {
        if self == Measure::RankDistance { 1.0 } else { 100.0 }
    }
}

/// The outcome of one paired test; `diff` is A − B in the table's units.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PairedTest {
    pub measure: Measure,
    pub diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    pub p: f64,
    /// Questions (independent units) the test ran over.
    pub questions: usize,
    pub resamples: usize,
    /// Whether p was computed over all sign patterns.
    pub exact: bool,
}

/// SplitMix64: small, seeded, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize
    }
}

/// Sign-flip p-value and bootstrap interval for a statistic that is the sum of
/// per-question contributions `c` (paired differences).
pub fn test_contributions(c: &[f64], resamples: usize, seed: u64) -> (f64, f64, f64, bool) {
    let n = c.len();
    let observed: f64 = c.iter().sum();
    if n == 0 {
        return (1.0, 0.0, 0.0, true);
    }
    // A tolerance so that a pattern equal to the observed one counts as "at least as
    // extreme" despite rounding.
    let tol = 1e-12 * c.iter().map(|x| x.abs()).sum::<f64>().max(1e-300);
    let (p, exact) = if n <= 16 {
        let mut hits = 0u64;
        for mask in 0u32..(1u32 << n) {
            let s: f64 = c
                .iter()
                .enumerate()
                .map(|(i, x)| if mask >> i & 1 == 1 { -x } else { *x })
                .sum();
            if s.abs() >= observed.abs() - tol {
                hits += 1;
            }
        }
        (hits as f64 / (1u64 << n) as f64, true)
    } else {
        let mut rng = Rng(seed);
        let mut hits = 0usize;
        for _ in 0..resamples {
            let mut s = 0.0;
            let mut bits = 0u64;
            for (i, x) in c.iter().enumerate() {
                if i % 64 == 0 {
                    bits = rng.next();
                }
                s += if bits >> (i % 64) & 1 == 1 { -x } else { *x };
            }
            if s.abs() >= observed.abs() - tol {
                hits += 1;
            }
        }
        ((1 + hits) as f64 / (1 + resamples) as f64, false)
    };
    let mut rng = Rng(seed ^ 0xB007_57A9);
    let mut boot: Vec<f64> = (0..resamples.max(1))
        .map(|_| (0..n).map(|_| c[rng.below(n)]).sum::<f64>())
        .collect();
    boot.sort_by(f64::total_cmp);
    let q = |f: f64| boot[((f * (boot.len() - 1) as f64).round() as usize).min(boot.len() - 1)];
    (p, q(0.025), q(0.975), exact)
}

/// Per-(unit, question) values of one measure for one report: `(group, question id, value)`
/// (task or pool, question id, value).
type TaskValue = (String, String, f64);
/// A value per question id.
/// A value per (task, question id).
type PerTaskQuestion = BTreeMap<(String, String), f64>;
type PerQuestion = BTreeMap<String, f64>;

/// with the weight each group has in the macro average.
fn values(r: &Report, m: Measure) -> Result<(Vec<TaskValue>, BTreeMap<String, f64>)> {
    let ids = &r.question_ids;
    let missing = || {
        EvalError::Invalid(format!(
            "report {} has no per-query results (written before hbt kept them); evaluate again",
            r.label()
        ))
    };
    let qid = |i: u32| ids.get(i as usize).cloned().ok_or_else(missing);
    let mut out = Vec::new();
    let mut groups = Vec::new();
    match m {
        Measure::MonoMap | Measure::CrossMap => {
            let kind = if m == Measure::MonoMap { "mono" } else { "cross" };
            for t in r.tasks.iter().filter(|t| t.kind == kind && t.queries > 0) {
                let pq = t.per_query.as_ref().ok_or_else(missing)?;
                groups.push(t.name.clone());
                for (&q, &rank) in pq.qids.iter().zip(&pq.ranks) {
                    out.push((t.name.clone(), qid(q)?, average_precision(&[rank as usize], 1)));
                }
            }
        }
        Measure::MultiMap | Measure::RankDistance => {
            for t in &r.multi {
                let pq = t.per_query.as_ref().ok_or_else(missing)?;
                groups.push(t.query_lang.clone());
                for (&q, ranks) in pq.qids.iter().zip(&pq.ranks) {
                    let rs: Vec<usize> = ranks.iter().map(|&x| x as usize).collect();
                    let v = if m == Measure::MultiMap {
                        average_precision(&rs, rs.len())
                    } else {
                        (rs.iter().max().unwrap_or(&0) - rs.iter().min().unwrap_or(&0)) as f64
                    };
                    out.push((t.query_lang.clone(), qid(q)?, v));
                }
            }
        }
    }
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for (g, _, _) in &out {
        *count.entry(g.clone()).or_default() += 1;
    }
    let ng = groups.len().max(1) as f64;
    let weights = count.into_iter().map(|(g, n)| (g, 1.0 / (ng * n as f64))).collect();
    Ok((out, weights))
}

/// Mean over `reports` (seeds of one system) of each (group, question)'s value.
fn seed_means(reports: &[&Report], m: Measure) -> Result<(PerTaskQuestion, PerQuestion)> {
    let mut sum: BTreeMap<(String, String), (f64, usize)> = BTreeMap::new();
    let mut weights = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        let (v, w) = values(r, m)?;
        if i == 0 {
            weights = w;
        } else if w.len() != weights.len() {
            return Err(EvalError::Invalid(format!(
                "reports {} and {} cover different tasks",
                reports[0].label(),
                r.label()
            )));
        }
        for (g, q, x) in v {
            let e = sum.entry((g, q)).or_default();
            e.0 += x;
            e.1 += 1;
        }
    }
    let n = reports.len();
    if sum.values().any(|&(_, k)| k != n) {
        return Err(EvalError::Invalid(
            "the seeds' reports were scored on different questions".into(),
        ));
    }
    Ok((sum.into_iter().map(|(k, (s, _))| (k, s / n as f64)).collect(), weights))
}

/// Paired test of system A (one report per seed) against system B on `m`: per question,
/// its seed-mean values' difference weighted as in the macro average, summed over tasks.
pub fn paired(a: &[&Report], b: &[&Report], m: Measure, resamples: usize, seed: u64) -> Result<PairedTest> {
    if a.is_empty() || b.is_empty() {
        return Err(EvalError::Invalid("a paired test needs a report on each side".into()));
    }
    let (va, wa) = seed_means(a, m)?;
    let (vb, wb) = seed_means(b, m)?;
    if va.len() != vb.len() || wa != wb || va.keys().ne(vb.keys()) {
        return Err(EvalError::Invalid(format!(
            "{} and {} were not scored on the same tasks and questions; a paired test needs both",
            a[0].label(),
            b[0].label()
        )));
    }
    let mut per_q: BTreeMap<&str, f64> = BTreeMap::new();
    for ((g, q), x) in &va {
        let y = vb[&(g.clone(), q.clone())];
        *per_q.entry(q.as_str()).or_default() += wa[g] * (x - y) * m.scale();
    }
    let c: Vec<f64> = per_q.into_values().collect();
    let (p, lo, hi, exact) = test_contributions(&c, resamples, seed);
    Ok(PairedTest {
        measure: m,
        diff: c.iter().sum(),
        ci_low: lo,
        ci_high: hi,
        p,
        questions: c.len(),
        resamples,
        exact,
    })
}

impl Measure {
    /// The figure as the summary table shows it.
    pub fn of(self, s: &crate::report::Summary) -> f64 {
        match self {
            Measure::MonoMap => 100.0 * s.mono_map,
            Measure::CrossMap => 100.0 * s.cross_map,
            Measure::MultiMap => 100.0 * s.multi_map,
            Measure::RankDistance => s.rank_distance,
        }
    }
}

/// Mean and sample standard deviation (0 for fewer than two values).
pub fn mean_std(v: &[f64]) -> (f64, f64) {
    let m = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// Mean and sample standard deviation of one measure over a system's seeds.
pub fn seed_spread(reports: &[&Report], m: Measure) -> (f64, f64) {
    let v: Vec<f64> = reports
        .iter()
        .filter_map(|r| r.summary.as_ref().map(|s| m.of(s)))
        .collect();
    mean_std(&v)
}

/// One pair of systems on one measure, with the verdict a reader can act on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub test: PairedTest,
    /// The larger of the two systems' seed standard deviations (0 with one seed each).
    pub seed_spread: f64,
    /// `a`, `b`, or `None`: no difference (p ≥ 0.05, or within the seeds' spread).
    pub better: Option<String>,
    /// Seeds (reports) behind each side.
    pub seeds: (usize, usize),
}

/// Significance level for the verdicts.
pub const ALPHA: f64 = 0.05;

/// Every pair of systems (each a list of seed reports) on every measure.
pub fn compare_all(groups: &[(String, Vec<&Report>)], resamples: usize, seed: u64) -> Result<Vec<Comparison>> {
    let mut out = Vec::new();
    for i in 0..groups.len() {
        for j in i + 1..groups.len() {
            let (na, ra) = &groups[i];
            let (nb, rb) = &groups[j];
            for m in Measure::ALL {
                let test = paired(ra, rb, m, resamples, seed)?;
                let spread = seed_spread(ra, m).1.max(seed_spread(rb, m).1);
                let significant = test.p < ALPHA && test.diff.abs() > spread;
                let a_better = (test.diff > 0.0) == m.higher_is_better();
                out.push(Comparison {
                    a: na.clone(),
                    b: nb.clone(),
                    seed_spread: spread,
                    better: significant.then(|| if a_better { na.clone() } else { nb.clone() }),
                    seeds: (ra.len(), rb.len()),
                    test,
                });
            }
        }
    }
    Ok(out)
}

/// The system that is best on `m` *and* beats the runner-up significantly, if any.
pub fn significant_best(groups: &[(String, Vec<&Report>)], comps: &[Comparison], m: Measure) -> Option<usize> {
    let means: Vec<f64> = groups.iter().map(|(_, r)| seed_spread(r, m).0).collect();
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by(|&x, &y| {
        let c = means[x].total_cmp(&means[y]);
        if m.higher_is_better() { c.reverse() } else { c }
    });
    let (&best, &second) = (order.first()?, order.get(1)?);
    let c = comps.iter().find(|c| {
        c.test.measure == m
            && ((c.a == groups[best].0 && c.b == groups[second].0)
                || (c.a == groups[second].0 && c.b == groups[best].0))
    })?;
    (c.better.as_deref() == Some(groups[best].0.as_str())).then_some(best)
}

/// Markdown: one row per pair and measure.
pub fn markdown(comps: &[Comparison]) -> String {
    markdown_noting(comps, &[])
}

/// [`markdown`], where the systems named in `untrained` are deterministic (an untrained
/// model has no training noise), so one "seed" of theirs needs no caveat.
pub fn markdown_noting(comps: &[Comparison], untrained: &[&str]) -> String {
    let Some(first) = comps.first() else {
        return String::new();
    };
    let mut s = format!(
        "Paired tests over {} questions (sign-flip randomization: {}; 95% bootstrap interval of {} resamples; \
         a difference counts when p < {ALPHA} and it exceeds the seeds' spread):\n\n\
         | A | B | measure | A − B | 95% interval | p | seed spread | verdict |\n|---|---|---|---:|---|---:|---:|---|\n",
        first.test.questions,
        if first.test.exact {
            "exact, every sign pattern".to_string()
        } else {
            format!("{} random sign patterns", first.test.resamples)
        },
        first.test.resamples
    );
    let single = |n: &str, seeds: usize| seeds < 2 && !untrained.contains(&n);
    if comps.iter().any(|c| single(&c.a, c.seeds.0) || single(&c.b, c.seeds.1)) {
        s.insert_str(
            0,
            "With one seed on a side, how much training runs vary is unknown: such a verdict covers the \
             sample of questions only, not the training noise (use `--seeds 3`).\n\n",
        );
    }
    for c in comps {
        let t = &c.test;
        s += &format!(
            "| {} | {} | {} | {:+.2} | [{:+.2}, {:+.2}] | {} | {:.2} | {} |\n",
            c.a,
            c.b,
            t.measure.label(),
            t.diff,
            t.ci_low,
            t.ci_high,
            if t.p < 0.001 {
                "< 0.001".to_string()
            } else {
                format!("{:.3}", t.p)
            },
            c.seed_spread,
            match &c.better {
                Some(w) => format!("**{w}** better"),
                None => "no difference".into(),
            }
        );
    }
    s
}
