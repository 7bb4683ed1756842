//! The paired tests against independent computations: a hand-worked example, scipy's
//! `permutation_test` (values computed with scipy 1.x, `permutation_type='samples'`,
//! statistic = mean difference, two-sided), and the identity that the test's difference is
//! the difference of the report's own summary figures.

use hbt_eval::embed::Vectors;
use hbt_eval::lareqa::{EmbeddedCorpus, LareqaOptions, question_ids, score, summarize};
use hbt_eval::report::Report;
use hbt_eval::stats::{Measure, paired, test_contributions};
use hbt_model::burn::prelude::Device;

#[test]
fn exact_p_values_match_a_hand_count_and_scipy() {
    // d = (1, 2, 3, 4): of the 16 sign patterns only all-plus and all-minus reach |sum| 10.
    let (p, _, _, exact) = test_contributions(&[1.0, 2.0, 3.0, 4.0], 10_000, 1);
    assert!(exact);
    assert_eq!(p, 2.0 / 16.0);
    // scipy: permutation_test((d,), mean, permutation_type='samples') -> 0.05322265625 (exact).
    let d = [0.8, -0.3, 1.2, 0.5, -0.1, 0.9, 0.4, -0.6, 1.1, 0.2, 0.7, -0.2];
    let (p, _, _, exact) = test_contributions(&d, 10_000, 1);
    assert!(exact);
    assert!((p - 0.05322265625).abs() < 1e-12, "{p}");
}

const D40: [f64; 40] = [
    0.151, 0.449, -0.124, -0.741, -0.305, -0.842, 0.21, 1.49, -0.342, -0.47, 0.64, 0.507, 0.255, -0.78, 0.121, 0.845,
    -1.194, -0.308, -1.751, -1.14, -1.692, -0.085, -1.117, 0.421, 0.307, -0.037, -2.367, -0.389, 0.101, 0.263, -1.38,
    -0.328, -0.829, -0.659, 1.211, -0.658, 0.117, 1.034, -0.434, 0.038,
];

#[test]
fn sampled_p_value_matches_scipy() {
    // scipy with 200,000 random sign patterns: p = 0.06638 (its own error ±0.0006).
    let (p, lo, hi, exact) = test_contributions(&D40, 20_000, 7);
    assert!(!exact);
    assert!((p - 0.06638).abs() < 0.008, "{p}");
    let sum: f64 = D40.iter().sum();
    assert!(lo < sum && sum < hi, "{lo} {sum} {hi}");
    // The interval is a bootstrap of the sum: about ±1.96·sqrt(n)·sd wide.
    let m = sum / 40.0;
    let sd = (D40.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 39.0).sqrt();
    let half = 1.96 * 40f64.sqrt() * sd;
    assert!(((hi - lo) / 2.0 - half).abs() < 0.15 * half, "{lo} {hi} vs ±{half}");
    // Same seed, same answer.
    assert_eq!(test_contributions(&D40, 20_000, 7), (p, lo, hi, exact));
}

fn xquad_reports() -> (Report, Report) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/xquad-r");
    let corpus = hbt_data::load_dir(&dir)
        .unwrap()
        .restrict(&["de".into(), "en".into(), "zh".into()])
        .unwrap()
        .limit(40);
    let mut state = 1u64;
    let mut rnd = |n: usize| -> Vectors {
        let data = (0..n * 8)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect();
        Vectors { dim: 8, data }
    };
    let mut report = |seed_shift: usize| {
        for _ in 0..seed_shift {
            rnd(1);
        }
        let emb = EmbeddedCorpus {
            questions: corpus.langs.values().map(|d| rnd(d.questions.len())).collect(),
            candidates: corpus.langs.values().map(|d| rnd(d.candidates.len())).collect(),
        };
        let opts = LareqaOptions {
            show_progress: false,
            ..Default::default()
        };
        let (tasks, multi) = score(&corpus, &emb, &Device::flex(), &opts).unwrap();
        Report {
            hbt_report: hbt_eval::report::REPORT_VERSION,
            benchmark: "xquad-r".into(),
            model: "random".into(),
            data: dir.display().to_string(),
            settings: serde_json::Value::Null,
            languages: corpus.languages(),
            summary: Some(summarize(&tasks, &multi)),
            tasks,
            multi,
            beir: None,
            seconds: 0.0,
            label: None,
            question_ids: question_ids(&corpus),
        }
    };
    (report(0), report(3))
}

#[test]
fn the_test_is_about_the_tables_figures() {
    let (a, b) = xquad_reports();
    let (sa, sb) = (a.summary.clone().unwrap(), b.summary.clone().unwrap());
    for (m, want) in [
        (Measure::MonoMap, 100.0 * (sa.mono_map - sb.mono_map)),
        (Measure::CrossMap, 100.0 * (sa.cross_map - sb.cross_map)),
        (Measure::MultiMap, 100.0 * (sa.multi_map - sb.multi_map)),
        (Measure::RankDistance, sa.rank_distance - sb.rank_distance),
    ] {
        let t = paired(&[&a], &[&b], m, 2000, 3).unwrap();
        assert!((t.diff - want).abs() < 1e-9, "{m:?}: {} vs {want}", t.diff);
        assert_eq!(t.questions, 40);
        assert!(t.ci_low <= t.diff && t.diff <= t.ci_high, "{t:?}");
        // Against itself: no difference, p = 1.
        let z = paired(&[&a], &[&a], m, 2000, 3).unwrap();
        assert_eq!((z.diff, z.p), (0.0, 1.0));
    }
    // Two seeds that are the same report average to that report.
    let one = paired(&[&a], &[&b], Measure::CrossMap, 2000, 3).unwrap();
    let two = paired(&[&a, &a], &[&b], Measure::CrossMap, 2000, 3).unwrap();
    assert!((one.diff - two.diff).abs() < 1e-12 && one.p == two.p);
    // It survives a JSON round trip (reports are read back by `hbt compare`).
    let back: Report = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    assert_eq!(back.question_ids, a.question_ids);
    for (x, y) in back.tasks.iter().zip(&a.tasks) {
        assert_eq!(x.per_query, y.per_query);
    }
    for (x, y) in back.multi.iter().zip(&a.multi) {
        assert_eq!(x.per_query, y.per_query);
    }
    let again = paired(&[&back], &[&b], Measure::CrossMap, 2000, 3).unwrap();
    assert!((again.diff - one.diff).abs() < 1e-9 && again.p == one.p);
}

#[test]
fn reports_without_per_query_results_are_refused() {
    let (mut a, b) = xquad_reports();
    for t in &mut a.tasks {
        t.per_query = None;
    }
    let e = paired(&[&a], &[&b], Measure::MonoMap, 100, 1).unwrap_err().to_string();
    assert!(e.contains("no per-query results"), "{e}");
}

#[test]
fn the_one_seed_caveat_names_trained_systems_only() {
    use hbt_eval::stats::{Comparison, PairedTest, markdown, markdown_noting};
    let c = |a: &str, b: &str, seeds: (usize, usize)| Comparison {
        a: a.into(),
        b: b.into(),
        test: PairedTest {
            measure: Measure::MultiMap,
            diff: -1.0,
            ci_low: -1.5,
            ci_high: -0.5,
            p: 0.001,
            questions: 100,
            resamples: 10_000,
            exact: false,
        },
        seed_spread: 0.2,
        better: Some(b.into()),
        seeds,
    };
    let caveat = "With one seed on a side";
    // The untrained model is one deterministic run: comparing it needs no seed caveat...
    let against_initial = [c("initial", "mono", (1, 3)), c("mono", "cross", (3, 3))];
    assert!(!markdown_noting(&against_initial, &["initial"]).contains(caveat));
    assert!(markdown(&against_initial).contains(caveat));
    // ...but a trained system with one seed does.
    let one_trained = [c("initial", "mono", (1, 1))];
    assert!(markdown_noting(&one_trained, &["initial"]).contains(caveat));
}
