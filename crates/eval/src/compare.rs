//! `hbt compare`: several reports of the same benchmark side by side.

use std::path::{Path, PathBuf};

use crate::charts::{grouped_bars, svg_to_png};
use crate::error::{EvalError, Result};
use crate::report::Report;
use crate::stats::{self, Comparison, Measure};

/// Load reports and check they describe the same benchmark and languages.
pub fn load_comparable(paths: &[PathBuf]) -> Result<Vec<Report>> {
    if paths.len() < 2 {
        return Err(EvalError::Invalid("compare needs at least two reports".into()));
    }
    let reports: Vec<Report> = paths.iter().map(|p| Ok(Report::read(p)?)).collect::<Result<_>>()?;
    let first = &reports[0];
    for (r, p) in reports.iter().zip(paths).skip(1) {
        if r.benchmark != first.benchmark {
            return Err(EvalError::Report {
                path: p.clone(),
                message: format!(
                    "is a report on {} but {} is on {}; compare reports of one benchmark",
                    r.benchmark,
                    paths[0].display(),
                    first.benchmark
                ),
            });
        }
        if r.languages != first.languages {
            return Err(EvalError::Report {
                path: p.clone(),
                message: format!(
                    "covers languages {:?}, {} covers {:?}",
                    r.languages,
                    paths[0].display(),
                    first.languages
                ),
            });
        }
    }
    Ok(reports)
}

/// What `hbt compare` computes once and then prints, writes as Markdown and as JSON.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Compared {
    pub benchmark: String,
    pub labels: Vec<String>,
    /// Paired tests between every two reports on every measure (LAReQA reports only).
    pub tests: Vec<Comparison>,
    /// Why there are no paired tests, where there are none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tests_unavailable: Option<String>,
    /// Per measure tested: the report that is best *and* beats the runner-up
    /// significantly (the one bolded in the table), if any.
    pub significant_best: Vec<(Measure, Option<String>)>,
}

impl Compared {
    pub fn of(reports: &[Report]) -> Compared {
        let labels: Vec<String> = reports.iter().map(Report::label).collect();
        let groups: Vec<(String, Vec<&Report>)> = reports.iter().map(|r| (r.label(), vec![r])).collect();
        let (tests, tests_unavailable) = if reports[0].beir.is_some() {
            (
                Vec::new(),
                Some("BEIR reports carry no per-query ranks for paired tests".into()),
            )
        } else {
            match stats::compare_all(&groups, 10_000, 1) {
                Ok(c) => (c, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            }
        };
        let significant_best = if tests.is_empty() {
            Vec::new()
        } else {
            Measure::ALL
                .iter()
                .map(|&m| {
                    (
                        m,
                        stats::significant_best(&groups, &tests, m).map(|i| labels[i].clone()),
                    )
                })
                .collect()
        };
        Compared {
            benchmark: reports[0].benchmark.clone(),
            labels,
            tests,
            tests_unavailable,
            significant_best,
        }
    }

    fn bold(&self, m: Option<Measure>, label: &str) -> bool {
        m.is_some_and(|m| {
            self.significant_best
                .iter()
                .any(|(x, b)| *x == m && b.as_deref() == Some(label))
        })
    }

    /// The paired tests as Markdown, or why there are none.
    pub fn tests_markdown(&self) -> String {
        match &self.tests_unavailable {
            Some(why) => format!("Paired tests unavailable: {why}\n"),
            None => stats::markdown(&self.tests),
        }
    }
}

type Figure = Box<dyn Fn(&Report) -> Option<f64>>;
type Column = (&'static str, Option<Measure>, Figure);

/// Markdown table, one row per report. A figure is bold only where the paired tests
/// support it: best on that measure and significantly better than the runner-up (as in
/// the study's summary); measures without a test are never bold.
pub fn table(reports: &[Report], compared: &Compared) -> String {
    let summary =
        |f: fn(&crate::report::Summary) -> f64| -> Figure { Box::new(move |r: &Report| r.summary.as_ref().map(f)) };
    let cols: Vec<Column> = if reports[0].beir.is_some() {
        vec![
            (
                "nDCG@10",
                None,
                Box::new(|r: &Report| r.beir.as_ref().map(|b| 100.0 * b.ndcg_10)),
            ),
            (
                "Recall@100",
                None,
                Box::new(|r: &Report| r.beir.as_ref().map(|b| 100.0 * b.recall_100)),
            ),
        ]
    } else {
        vec![
            ("mono mAP", Some(Measure::MonoMap), summary(|s| 100.0 * s.mono_map)),
            ("cross mAP", Some(Measure::CrossMap), summary(|s| 100.0 * s.cross_map)),
            ("multi mAP", Some(Measure::MultiMap), summary(|s| 100.0 * s.multi_map)),
            ("mono R@1", None, summary(|s| 100.0 * s.mono_r_1)),
            ("cross R@1", None, summary(|s| 100.0 * s.cross_r_1)),
            ("multi R@10", None, summary(|s| 100.0 * s.multi_r_10)),
            (
                "rank distance ↓",
                Some(Measure::RankDistance),
                summary(|s| s.rank_distance),
            ),
        ]
    };
    let mut s = format!("| model ({}) |", reports[0].benchmark);
    for c in &cols {
        s += &format!(" {} |", c.0);
    }
    s += "\n|---|";
    for _ in &cols {
        s += "---:|";
    }
    s += "\n";
    for r in reports {
        let label = r.label();
        s += &format!("| {label} |");
        for (_, m, f) in &cols {
            match f(r) {
                Some(v) if compared.bold(*m, &label) => s += &format!(" **{v:.2}** |"),
                Some(v) => s += &format!(" {v:.2} |"),
                None => s += " – |",
            }
        }
        s += "\n";
    }
    s += "\nBold: best on a tested measure and significantly better than the runner-up (paired test, p < 0.05).\n";
    s
}

/// Write `compare.md`, `compare.json` (the paired tests and verdicts, for scripts) and the
/// grouped-bar charts into `dir`.
pub fn write(reports: &[Report], compared: &Compared, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    let labels = &compared.labels;
    let mut out = Vec::new();
    let md = dir.join("compare.md");
    let text = format!(
        "# Comparison on {}\n\n{}\n{}",
        reports[0].benchmark,
        table(reports, compared),
        compared.tests_markdown()
    );
    hbt_durable::write_atomic(&md, text.as_bytes())?;
    out.push(md);
    let json = dir.join("compare.json");
    let body = serde_json::to_vec_pretty(compared).expect("a comparison serializes");
    hbt_durable::write_atomic(&json, &body)?;
    out.push(json);
    if reports[0].beir.is_none() {
        let get = |f: fn(&crate::report::Summary) -> f64| {
            reports
                .iter()
                .map(|r| r.summary.as_ref().map(f).unwrap_or(0.0))
                .collect::<Vec<f64>>()
        };
        let maps = vec![
            ("mono mAP".to_string(), get(|s| 100.0 * s.mono_map)),
            ("cross mAP".to_string(), get(|s| 100.0 * s.cross_map)),
            ("multi mAP".to_string(), get(|s| 100.0 * s.multi_map)),
        ];
        let p = dir.join("compare-map.svg");
        grouped_bars(
            &format!("mAP on {} (higher is better)", reports[0].benchmark),
            "mAP (%)",
            labels,
            &maps,
            &p,
        )?;
        out.push(svg_to_png(&p)?);
        out.push(p);
        let bias = vec![("rank distance".to_string(), get(|s| s.rank_distance))];
        let p = dir.join("compare-bias.svg");
        grouped_bars(
            &format!("Language bias on {} (lower is better)", reports[0].benchmark),
            "mean rank distance",
            labels,
            &bias,
            &p,
        )?;
        out.push(svg_to_png(&p)?);
        out.push(p);
    } else {
        let get = |f: fn(&crate::report::BeirResult) -> f64| {
            reports
                .iter()
                .map(|r| r.beir.as_ref().map(f).unwrap_or(0.0))
                .collect::<Vec<f64>>()
        };
        let m = vec![
            ("nDCG@10".to_string(), get(|b| 100.0 * b.ndcg_10)),
            ("Recall@100".to_string(), get(|b| 100.0 * b.recall_100)),
        ];
        let p = dir.join("compare-beir.svg");
        grouped_bars(
            &format!("{} (higher is better)", reports[0].benchmark),
            "%",
            labels,
            &m,
            &p,
        )?;
        out.push(svg_to_png(&p)?);
        out.push(p);
    }
    Ok(out)
}
