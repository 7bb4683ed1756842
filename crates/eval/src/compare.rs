//! `hbt compare`: several reports of the same benchmark side by side.

use std::path::{Path, PathBuf};

use crate::charts::{grouped_bars, svg_to_png};
use crate::error::{EvalError, Result};
use crate::report::Report;

/// Load reports and check they describe the same benchmark and languages.
pub fn load_comparable(paths: &[PathBuf]) -> Result<Vec<Report>> {
    if paths.len() < 2 {
        return Err(EvalError::Invalid("compare needs at least two reports".into()));
    }
    let reports: Vec<Report> = paths.iter().map(|p| Report::read(p)).collect::<Result<_>>()?;
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

/// Markdown table, one row per report; the best figure per column in bold.
pub fn table(reports: &[Report]) -> String {
    let cols: Vec<(&str, bool, Box<dyn Fn(&Report) -> Option<f64>>)> = if reports[0].beir.is_some() {
        vec![
            (
                "nDCG@10",
                true,
                Box::new(|r: &Report| r.beir.as_ref().map(|b| 100.0 * b.ndcg_10)),
            ),
            (
                "Recall@100",
                true,
                Box::new(|r: &Report| r.beir.as_ref().map(|b| 100.0 * b.recall_100)),
            ),
        ]
    } else {
        vec![
            (
                "mono mAP",
                true,
                Box::new(|r: &Report| r.summary.as_ref().map(|s| 100.0 * s.mono_map)),
            ),
            (
                "cross mAP",
                true,
                Box::new(|r: &Report| r.summary.as_ref().map(|s| 100.0 * s.cross_map)),
            ),
            (
                "multi mAP",
                true,
                Box::new(|r: &Report| r.summary.as_ref().map(|s| 100.0 * s.multi_map)),
            ),
            (
                "mono R@1",
                true,
                Box::new(|r: &Report| r.summary.as_ref().map(|s| 100.0 * s.mono_r_1)),
            ),
            (
                "cross R@1",
                true,
                Box::new(|r: &Report| r.summary.as_ref().map(|s| 100.0 * s.cross_r_1)),
            ),
            (
                "multi R@10",
                true,
                Box::new(|r: &Report| r.summary.as_ref().map(|s| 100.0 * s.multi_r_10)),
            ),
            (
                "rank distance ↓",
                false,
                Box::new(|r: &Report| r.summary.as_ref().map(|s| s.rank_distance)),
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
    let best: Vec<Option<f64>> = cols
        .iter()
        .map(|(_, higher, f)| {
            reports
                .iter()
                .filter_map(|r| f(r))
                .fold(None, |acc: Option<f64>, v| match acc {
                    None => Some(v),
                    Some(a) => Some(if *higher { a.max(v) } else { a.min(v) }),
                })
        })
        .collect();
    for r in reports {
        s += &format!("| {} |", r.label());
        for (c, b) in cols.iter().zip(&best) {
            match c.2(r) {
                Some(v) if Some(v) == *b => s += &format!(" **{v:.2}** |"),
                Some(v) => s += &format!(" {v:.2} |"),
                None => s += " – |",
            }
        }
        s += "\n";
    }
    s
}

/// Paired tests between every two LAReQA reports (Markdown), or why there are none.
pub fn paired_tests(reports: &[Report]) -> String {
    if reports[0].beir.is_some() {
        return String::new();
    }
    let groups: Vec<(String, Vec<&Report>)> = reports.iter().map(|r| (r.label(), vec![r])).collect();
    match crate::stats::compare_all(&groups, 10_000, 1) {
        Ok(c) => crate::stats::markdown(&c),
        Err(e) => format!("Paired tests unavailable: {e}\n"),
    }
}

/// Write `compare.md` and the grouped-bar charts into `dir`.
pub fn write(reports: &[Report], dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::io(dir, e))?;
    let labels: Vec<String> = reports.iter().map(Report::label).collect();
    let mut out = Vec::new();
    let md = dir.join("compare.md");
    std::fs::write(
        &md,
        format!(
            "# Comparison on {}\n\n{}\n{}",
            reports[0].benchmark,
            table(reports),
            paired_tests(reports)
        ),
    )
    .map_err(|e| EvalError::io(&md, e))?;
    out.push(md);
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
            &labels,
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
            &labels,
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
            &labels,
            &m,
            &p,
        )?;
        out.push(svg_to_png(&p)?);
        out.push(p);
    }
    Ok(out)
}
