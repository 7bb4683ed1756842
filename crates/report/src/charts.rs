//! The report's two charts — the mAP heatmap and the rank distance per language — as SVG
//! text: one renderer for `hbt eval` (written as `.svg`, with a PNG copy rendered from it)
//! and the browser page (inlined). Standalone SVG (namespace, size, fonts and colours as
//! attributes), so a file opens anywhere and the page needs no stylesheet for it.

use std::fmt::Write;

use crate::Report;
use crate::lang::display_name;

const FONT: &str = "DejaVu Sans, Liberation Sans, Helvetica, Arial, sans-serif";
const INK: &str = "#1b2430";
const MUTED: &str = "#5b6673";
/// The monolingual diagonal's outline and the macro average's line.
const ACCENT: &str = "#e6550d";

/// Text escaped for SVG/HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A colour per language (Okabe–Ito and Tableau tones: distinguishable, print-safe).
pub fn language_colour(index: usize) -> &'static str {
    const C: [&str; 12] = [
        "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#7F3C8D", "#3B7D23", "#B8860B", "#8C564B",
        "#E15759", "#4E79A7",
    ];
    C[index % C.len()]
}

/// White → deep blue for a value in [0, 1]: readable in print and for most colour-blind
/// readers.
fn blue(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(247.0, 8.0),
        mix(251.0, 48.0),
        mix(255.0, 107.0)
    )
}

fn open(s: &mut String, w: f64, h: f64, label: &str, title: &str) {
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" class="chart" role="img" aria-label="{}" font-family="{FONT}"><rect width="{w}" height="{h}" fill="#fff"/><text x="{}" y="20" text-anchor="middle" font-size="14" font-weight="bold" fill="{INK}">{}</text>"##,
        esc(label),
        w / 2.0,
        esc(title)
    );
}

/// A chart's title: the model's label and the benchmark when the report has them.
fn title(report: &Report, what: &str) -> String {
    if report.benchmark.is_empty() {
        what.to_string()
    } else {
        format!("{} on {}: {what}", report.label(), report.benchmark)
    }
}

/// The query × passage language mAP matrix of a LAReQA report, values (%) in the cells and
/// the diagonal (monolingual) outlined, with the multilingual pool's mAP as a last column.
/// `None` for a report without language tasks (BEIR).
pub fn heatmap(report: &Report) -> Option<String> {
    let langs = &report.languages;
    if langs.is_empty() || report.tasks.is_empty() {
        return None;
    }
    let m = report.map_matrix();
    let n = langs.len();
    let cell = 44.0;
    let (left, top, gap) = (46.0, 64.0, 12.0);
    let has_pool = !report.multi.is_empty();
    let cols = n as f64 + if has_pool { 1.0 } else { 0.0 };
    let w = (left + cell * cols + if has_pool { gap } else { 0.0 } + 16.0).max(420.0);
    let h = top + cell * n as f64 + 40.0;
    let mut s = String::new();
    open(&mut s, w, h, "mAP heatmap", &title(report, "mAP (%)"));
    let axis = |s: &mut String, x: f64, y: f64, anchor: &str, text: &str, bold: bool| {
        let _ = write!(
            s,
            r#"<text x="{x}" y="{y}" text-anchor="{anchor}" font-size="12" fill="{MUTED}"{}>{}</text>"#,
            if bold { r#" font-weight="bold""# } else { "" },
            esc(text)
        );
    };
    axis(
        &mut s,
        left + cell * n as f64 / 2.0,
        40.0,
        "middle",
        "passage language",
        false,
    );
    let pool_x = left + cell * n as f64 + gap;
    if has_pool {
        axis(&mut s, pool_x + cell / 2.0, 40.0, "middle", "pool", true);
    }
    for (i, l) in langs.iter().enumerate() {
        axis(&mut s, left + cell * (i as f64 + 0.5), top - 8.0, "middle", l, false);
        axis(&mut s, left - 8.0, top + cell * (i as f64 + 0.5) + 4.0, "end", l, false);
    }
    if has_pool {
        axis(&mut s, pool_x + cell / 2.0, top - 8.0, "middle", "multi", false);
    }
    for (q, row) in m.iter().enumerate() {
        let pool = report
            .multi
            .iter()
            .find(|r| r.query_lang == langs[q])
            .map(|r| 100.0 * r.map);
        let cells = row
            .iter()
            .enumerate()
            .map(|(c, v)| (left + cell * c as f64, *v, Some(c)));
        let pool_cell = has_pool.then_some((pool_x, pool, None));
        for (x, v, c) in cells.chain(pool_cell) {
            let y = top + cell * q as f64;
            let (fill, fg) = match v {
                Some(v) => (blue(v / 100.0), if v > 55.0 { "#fff" } else { INK }),
                None => ("#e6e6e6".to_string(), INK),
            };
            let against = match c {
                Some(c) => display_name(&langs[c]).to_string(),
                None => "the multilingual pool".into(),
            };
            let value = v.map_or("–".to_string(), |v| format!("{v:.1}"));
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{}" height="{}" fill="{fill}" stroke="#fff"><title>{} → {}: {value}</title></rect><text x="{}" y="{}" text-anchor="middle" font-size="12" fill="{fg}">{}</text>"##,
                cell - 1.0,
                cell - 1.0,
                esc(display_name(&langs[q])),
                esc(&against),
                x + cell / 2.0,
                y + cell / 2.0 + 4.0,
                v.map_or("–".to_string(), |v| format!("{v:.0}"))
            );
            if c == Some(q) {
                let _ = write!(
                    s,
                    r#"<rect x="{}" y="{}" width="{}" height="{}" fill="none" stroke="{ACCENT}" stroke-width="2"/>"#,
                    x + 1.0,
                    y + 1.0,
                    cell - 3.0,
                    cell - 3.0
                );
            }
        }
    }
    axis(
        &mut s,
        w / 2.0,
        h - 12.0,
        "middle",
        "rows: query · outlined: monolingual · pool: every language",
        false,
    );
    s.push_str("</svg>");
    Some(s)
}

/// Mean rank distance of the parallel answers per query language in the multilingual pool
/// (lower: less language bias), with the macro average as a line. `None` without a pool.
pub fn rank_distance_bars(report: &Report) -> Option<String> {
    let rows: Vec<(&str, f64)> = report
        .multi
        .iter()
        .map(|m| (m.query_lang.as_str(), m.rank_distance))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let avg = report.summary.as_ref().map(|s| s.rank_distance);
    let max = rows.iter().map(|r| r.1).chain(avg).fold(1.0, f64::max);
    let (left, top, bar, gap, width) = (110.0, 40.0, 18.0, 6.0, 340.0);
    let h = top + rows.len() as f64 * (bar + gap) + 40.0;
    let w = left + width + 80.0;
    let mut s = String::new();
    let what = "rank distance (lower = less bias)";
    let title = if report.benchmark.is_empty() {
        what.to_string()
    } else {
        format!("{}: {what}", report.label())
    };
    open(&mut s, w, h, "rank distance", &title);
    let bottom = top + rows.len() as f64 * (bar + gap);
    // The average first, so bars and their values are drawn over it.
    if let Some(a) = avg {
        let x = left + width * a / max;
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{bottom}" stroke="{ACCENT}" stroke-width="2" stroke-dasharray="5 3"/><text x="{x:.1}" y="{}" text-anchor="middle" font-size="12" fill="{ACCENT}">macro average {a:.1}</text>"#,
            top - 4.0,
            bottom + 14.0
        );
    }
    for (i, (l, d)) in rows.iter().enumerate() {
        let y = top + i as f64 * (bar + gap);
        let len = width * d / max;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end" font-size="12" fill="{MUTED}">{}</text><rect x="{left}" y="{y}" width="{len:.1}" height="{bar}" fill="{}" rx="3"><title>{}: {d:.2}</title></rect><text x="{}" y="{}" font-size="12" fill="{INK}" stroke="#fff" stroke-width="3" paint-order="stroke">{d:.1}</text>"##,
            left - 8.0,
            y + bar - 5.0,
            esc(display_name(l)),
            language_colour(i),
            esc(display_name(l)),
            left + len + 6.0,
            y + bar - 5.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" font-size="12" fill="{MUTED}">max − min rank of a question's parallel answers</text></svg>"#,
        w / 2.0,
        h - 8.0
    );
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let task = |q: &str, c: &str, map: f64| {
            serde_json::json!({"name": format!("{q}-{c}"), "kind": if q == c { "mono" } else { "cross" },
                "query_lang": q, "cand_lang": c, "queries": 3, "candidates": 3, "map": map,
                "map_20": map, "r_1": 0.5, "r_10": 0.9, "mrr_10": 0.6})
        };
        let multi = |q: &str, map: f64, d: f64| {
            serde_json::json!({"query_lang": q, "queries": 3, "candidates": 6, "map": map,
                "map_20": map, "r_10": 0.9, "rank_distance": d, "own_lang_top10": 0.6, "blind_own_lang": 0.5})
        };
        serde_json::from_value(serde_json::json!({
            "hbt_report": 1, "benchmark": "xquad-r", "model": "/m/e5<small>", "data": "d",
            "settings": {}, "languages": ["de", "th"], "seconds": 1.0,
            "summary": hbt_summary(),
            "tasks": [task("de", "de", 0.8123), task("de", "th", 0.61), task("th", "de", 0.59), task("th", "th", 0.7)],
            "multi": [multi("de", 0.55, 2.0), multi("th", 0.45, 3.0)],
        }))
        .unwrap()
    }

    fn hbt_summary() -> serde_json::Value {
        let mut s = serde_json::to_value(crate::Summary::default()).unwrap();
        s["rank_distance"] = 2.5.into();
        s
    }

    #[test]
    fn the_heatmap_shows_every_cell_of_the_report_and_outlines_the_diagonal() {
        let svg = heatmap(&report()).unwrap();
        for (v, tip) in [
            ("81", "German → German: 81.2"),
            ("61", "German → Thai: 61.0"),
            ("59", "Thai → German: 59.0"),
            ("70", "Thai → Thai: 70.0"),
            ("55", "German → the multilingual pool: 55.0"),
            ("45", "Thai → the multilingual pool: 45.0"),
        ] {
            assert!(svg.contains(&format!(">{v}</text>")), "cell {v} missing");
            assert!(
                svg.contains(&format!("<title>{tip}</title>")),
                "tooltip `{tip}` missing"
            );
        }
        assert_eq!(
            svg.matches(&format!(r#"stroke="{ACCENT}""#)).count(),
            2,
            "one outline per language"
        );
        assert!(svg.contains("e5&lt;small&gt; on xquad-r"), "the label is escaped");
        assert!(svg.starts_with("<svg xmlns=") && svg.ends_with("</svg>"));
    }

    #[test]
    fn rank_distance_bars_are_proportional_with_the_macro_average() {
        let svg = rank_distance_bars(&report()).unwrap();
        // The bars are the rounded rectangles.
        let widths: Vec<f64> = svg
            .split("<rect ")
            .filter(|r| r.contains(r#"rx="3""#))
            .filter_map(|r| r.split(r#"width=""#).nth(1)?.split('"').next()?.parse().ok())
            .collect();
        assert_eq!(widths.len(), 2, "{widths:?}");
        assert!((widths[1] / widths[0] - 1.5).abs() < 1e-3, "3.0 vs 2.0: {widths:?}");
        assert!(svg.contains("macro average 2.5"));
        let mut r = report();
        r.multi.clear();
        assert!(rank_distance_bars(&r).is_none() && heatmap(&r).is_some());
    }

    #[test]
    fn escapes_markup_in_labels() {
        assert_eq!(esc(r#"<a & "b">"#), "&lt;a &amp; &quot;b&quot;&gt;");
    }
}
