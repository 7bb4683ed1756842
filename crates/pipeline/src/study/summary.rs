//! The study's summary: tables over seeds, paired tests, per-seed and per-language figures, charts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::error::{PipelineError, Result};
use hbt_eval::report::Report;
use hbt_eval::stats::{Comparison, Measure, mean_std};

use super::{Study, Timing};

/// What `Study::summary` gives back (and writes as `summary.md` beside its charts).
#[derive(Debug, Clone)]
pub struct StudySummary {
    pub markdown: String,
    /// Per benchmark: every pair of rows on every tested measure.
    pub comparisons: BTreeMap<String, Vec<Comparison>>,
    pub charts: Vec<PathBuf>,
}

/// Per benchmark: each row's name and its seeds' reports.
pub type Rows = BTreeMap<String, Vec<(String, Vec<Report>)>>;

impl Study {
    /// The finished rows per benchmark: `initial`, then each run with its seeds' reports
    /// (runs or seeds not evaluated yet are left out).
    pub fn rows(&self) -> Result<Rows> {
        let mut rows: BTreeMap<String, Vec<(String, Vec<Report>)>> = BTreeMap::new();
        for (bench, _) in &self.plan.tests {
            let mut v = Vec::new();
            let init = self.dir.join("initial").join(bench).join("report.json");
            if init.is_file() {
                v.push(("initial".to_string(), vec![Report::read(&init)?]));
            }
            for run in &self.plan.runs {
                let mut rs = Vec::new();
                for seed in 1..=self.plan.seeds {
                    let f = self.run_dir(&run.name, seed).join(format!("eval-{bench}/report.json"));
                    if f.is_file() {
                        rs.push(Report::read(&f)?);
                    }
                }
                if !rs.is_empty() {
                    v.push((run.name.clone(), rs));
                }
            }
            rows.insert(bench.clone(), v);
        }
        Ok(rows)
    }

    /// Tables, paired tests and charts of what is finished; writes `summary.md`.
    // long: summary.md assembled section by section (table, tests, seeds, languages, charts,
    // wall time), in the order a reader meets them.
    pub fn summary(&self) -> Result<StudySummary> {
        let p = &self.plan;
        let rows = self.rows()?;
        let timing = Timing::read(&self.dir);
        let names = |v: &[PathBuf]| {
            v.iter()
                .map(|d| d.file_name().unwrap_or_default().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("+")
        };
        let mut md = format!(
            "# Study{}: {} → {}\n\ninit `{}`; {} seed(s); {} steps of batch {} (lr {}, weight decay {}, temperature {}, \
             max lengths {}/{}, batches {}); evaluation on {}.\nMean ± sample std over seeds; rank distance: lower is better. \
             **Bold**: the best row, only where a paired test over questions puts it ahead of the runner-up \
             (p < 0.05, and by more than the seeds' spread); columns without a test (R@k) are not marked.\n\n",
            p.preset
                .as_ref()
                .map(|s| format!(" (preset `{s}`)"))
                .unwrap_or_default(),
            names(&p.train),
            p.tests.iter().map(|t| t.0.clone()).collect::<Vec<_>>().join(", "),
            p.init,
            p.seeds,
            p.config.max_steps,
            p.config.batch_size,
            p.config.lr,
            p.config.weight_decay,
            p.config.temperature,
            p.config.max_query_len,
            p.config.max_passage_len,
            match p.config.batching {
                hbt_train::Batching::Packed => "packed several texts a row",
                hbt_train::Batching::Groups => "in length groups",
                hbt_train::Batching::Padded => "padded",
            },
            match p.limit {
                Some(n) => format!("the first {n} question ids of each benchmark"),
                None => "every question id".into(),
            },
        );
        if let Some(r) = rows
            .values()
            .flat_map(|v| v.first())
            .flat_map(|(_, r)| r.first())
            .next()
        {
            // `query_prefix` / `passage_prefix` as `hbt eval` records them; studies made before
            // hbt_eval::encoder_settings kept one `prefixes` object.
            let s = &r.settings;
            let (q, p) = match s.get("prefixes") {
                Some(pf) => (pf.get("query"), pf.get("passage")),
                None => (s.get("query_prefix"), s.get("passage_prefix")),
            };
            md += &match (q.and_then(|v| v.as_str()), p.and_then(|v| v.as_str())) {
                (Some(q), p) if !q.is_empty() => {
                    format!("Prefixes: queries `{q}`, passages `{}`.\n\n", p.unwrap_or(""))
                }
                (Some(_), _) => "Prefixes: none (the model declares none and is not recognisably e5).\n\n".into(),
                (None, _) => String::new(),
            };
        }
        let mut comparisons = BTreeMap::new();
        let mut charts = Vec::new();
        for (bench, rs) in &rows {
            if p.tests.iter().any(|(b, d)| b == bench && p.train.contains(d)) {
                md += &format!(
                    "Note: {bench} is also the training corpus: its figures are in-domain (seen questions), not zero-shot.\n\n"
                );
            }
            let groups: Vec<(String, Vec<&Report>)> = rs.iter().map(|(n, r)| (n.clone(), r.iter().collect())).collect();
            let comps = hbt_eval::stats::compare_all(&groups, 10_000, 1);
            md += &summary_table(bench, rs, &groups, comps.as_deref().unwrap_or(&[]));
            md += "\n";
            md += &per_seed(rs);
            md += "\n";
            match &comps {
                Ok(c) => md += &hbt_eval::stats::markdown_noting(c, &["initial"]),
                Err(e) => md += &format!("Paired tests unavailable: {e}\n"),
            }
            md += "\n";
            md += &per_language(bench, rs);
            md += "\n";
            let made = self.charts(bench, rs)?;
            for c in &made {
                if c.extension().is_some_and(|e| e == "png") {
                    let f = c.file_name().unwrap_or_default().to_string_lossy();
                    md += &format!("![{f}]({f})\n");
                }
            }
            md += "\n";
            charts.extend(made);
            if let Ok(c) = comps {
                comparisons.insert(bench.clone(), c);
            }
        }
        let total: f64 = timing.invocations.iter().map(|i| i.seconds).sum();
        md += &format!(
            "Wall time: {:.1} min over {} invocation(s) ({}).\n",
            total / 60.0,
            timing.invocations.len(),
            timing
                .invocations
                .iter()
                .map(|i| format!(
                    "{:.1} min, {} trained, {} evaluated, {}{}, training in {}{}",
                    i.seconds / 60.0,
                    i.trained,
                    i.evaluated,
                    if i.ranks > 1 {
                        format!("trainings on {} ranks (mpirun) of ", i.ranks)
                    } else {
                        String::new()
                    },
                    i.device,
                    i.precision,
                    i.kernel_cache.as_ref().map(|k| format!(", {k}")).unwrap_or_default()
                ))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let path = self.dir.join("summary.md");
        std::fs::write(&path, &md).map_err(|e| PipelineError::io(&path, e))?;
        Ok(StudySummary {
            markdown: md,
            comparisons,
            charts,
        })
    }

    fn charts(&self, bench: &str, rs: &[(String, Vec<Report>)]) -> Result<Vec<PathBuf>> {
        use hbt_eval::charts;
        let mut out = Vec::new();
        let labels: Vec<String> = rs.iter().map(|r| r.0.clone()).collect();
        let mean_of = |m: Measure| {
            rs.iter()
                .map(|(_, v)| {
                    mean_std(
                        &v.iter()
                            .filter_map(|r| r.summary.as_ref().map(|s| m.of(s)))
                            .collect::<Vec<_>>(),
                    )
                    .0
                })
                .collect::<Vec<_>>()
        };
        let maps: Vec<(String, Vec<f64>)> = [Measure::MonoMap, Measure::CrossMap, Measure::MultiMap]
            .iter()
            .map(|&m| (m.label().to_string(), mean_of(m)))
            .collect();
        let p1 = self.dir.join(format!("{bench}-map.svg"));
        charts::grouped_bars(
            &format!("{bench}: mAP by training sampler (mean over seeds)"),
            "mAP (%)",
            &labels,
            &maps,
            &p1,
        )?;
        out.push(charts::svg_to_png(&p1)?);
        out.push(p1);
        let p2 = self.dir.join(format!("{bench}-bias.svg"));
        charts::grouped_bars(
            &format!("{bench}: language bias (rank distance, lower is better)"),
            "mean rank distance",
            &labels,
            &[("rank distance".to_string(), mean_of(Measure::RankDistance))],
            &p2,
        )?;
        out.push(charts::svg_to_png(&p2)?);
        out.push(p2);
        if let Some(alphas) = &self.plan.alpha_sweep {
            // One panel per measure: each seed a dot, the mean a line, ± one std a bar; the
            // untrained model a dashed reference.
            let mut panels = Vec::new();
            for m in Measure::ALL {
                let per_alpha: Vec<Vec<f64>> = alphas
                    .iter()
                    .map(|a| {
                        rs.iter()
                            .find(|(n, _)| *n == format!("hybrid-a{a}"))
                            .map(|(_, v)| v.iter().filter_map(|r| r.summary.as_ref().map(|s| m.of(s))).collect())
                            .unwrap_or_default()
                    })
                    .collect();
                let initial = rs
                    .iter()
                    .find(|(n, _)| n == "initial")
                    .and_then(|(_, v)| v.first()?.summary.as_ref().map(|s| m.of(s)));
                panels.push(charts::SweepPanel {
                    title: format!(
                        "{}{}",
                        m.label(),
                        if m.higher_is_better() { "" } else { " (lower is better)" }
                    ),
                    values: per_alpha,
                    reference: initial,
                });
            }
            let p3 = self.dir.join(format!("{bench}-alpha.svg"));
            charts::sweep(
                &format!(
                    "{bench}: hybrid batches against α (share of X-X-mono batches; {} seed(s) each)",
                    self.plan.seeds
                ),
                alphas,
                &panels,
                &p3,
            )?;
            out.push(charts::svg_to_png(&p3)?);
            out.push(p3);
        }
        Ok(out)
    }
}

/// A summary column: its name, its figure, and the paired test behind it (R@k have none).
type Metric = (&'static str, Option<Measure>, fn(&hbt_eval::report::Summary) -> f64);
const METRICS: [Metric; 7] = [
    ("mono mAP", Some(Measure::MonoMap), |s| 100.0 * s.mono_map),
    ("cross mAP", Some(Measure::CrossMap), |s| 100.0 * s.cross_map),
    ("multi mAP", Some(Measure::MultiMap), |s| 100.0 * s.multi_map),
    ("mono R@1", None, |s| 100.0 * s.mono_r_1),
    ("cross R@1", None, |s| 100.0 * s.cross_r_1),
    ("multi R@10", None, |s| 100.0 * s.multi_r_10),
    ("rank dist. ↓", Some(Measure::RankDistance), |s| s.rank_distance),
];

fn summary_table(
    bench: &str,
    rows: &[(String, Vec<Report>)],
    groups: &[(String, Vec<&Report>)],
    comps: &[Comparison],
) -> String {
    let mut s = format!("### {bench}\n\n| run | seeds |");
    for (n, _, _) in METRICS {
        s += &format!(" {n} |");
    }
    s += "\n|---|---:|";
    for _ in METRICS {
        s += "---:|";
    }
    s += "\n";
    // Bold only a winner that a paired test separates from the runner-up.
    let best: Vec<Option<usize>> = METRICS
        .iter()
        .map(|(_, test, _)| test.and_then(|m| hbt_eval::stats::significant_best(groups, comps, m)))
        .collect();
    for (i, (name, rs)) in rows.iter().enumerate() {
        s += &format!("| {name} | {} |", rs.len());
        for (k, (_, _, f)) in METRICS.iter().enumerate() {
            let (m, sd) = mean_std(&rs.iter().filter_map(|r| r.summary.as_ref().map(f)).collect::<Vec<_>>());
            let cell = if rs.len() > 1 {
                format!("{m:.2} ± {sd:.2}")
            } else {
                format!("{m:.2}")
            };
            s += &if best[k] == Some(i) {
                format!(" **{cell}** |")
            } else {
                format!(" {cell} |")
            };
        }
        s += "\n";
    }
    s
}

/// Each seed's figure, so a reader sees the spread behind mean ± std.
fn per_seed(rows: &[(String, Vec<Report>)]) -> String {
    let mut s = String::from("Per seed (in seed order):\n\n| run |");
    for m in Measure::ALL {
        s += &format!(" {} |", m.label());
    }
    s += "\n|---|";
    for _ in Measure::ALL {
        s += "---|";
    }
    s += "\n";
    for (name, rs) in rows {
        s += &format!("| {name} |");
        for m in Measure::ALL {
            let v: Vec<String> = rs
                .iter()
                .filter_map(|r| r.summary.as_ref().map(|x| format!("{:.2}", m.of(x))))
                .collect();
            s += &format!(" {} |", v.join(" / "));
        }
        s += "\n";
    }
    s
}

fn per_language(bench: &str, rows: &[(String, Vec<Report>)]) -> String {
    let langs = rows
        .iter()
        .flat_map(|(_, r)| r.first())
        .map(|r| r.languages.clone())
        .next()
        .unwrap_or_default();
    let mut s =
        format!("### {bench}: per query language (multilingual-pool mAP / rank distance, mean over seeds)\n\n| run |");
    for l in &langs {
        s += &format!(" {l} |");
    }
    s += "\n|---|";
    for _ in &langs {
        s += "---:|";
    }
    s += "\n";
    for (name, rs) in rows {
        s += &format!("| {name} |");
        for l in &langs {
            let pick = |f: fn(&hbt_eval::report::MultiResult) -> f64| {
                let v: Vec<f64> = rs
                    .iter()
                    .filter_map(|r| r.multi.iter().find(|m| &m.query_lang == l))
                    .map(f)
                    .collect();
                mean_std(&v).0
            };
            s += &format!(" {:.1} / {:.1} |", pick(|m| 100.0 * m.map), pick(|m| m.rank_distance));
        }
        s += "\n";
    }
    s
}
