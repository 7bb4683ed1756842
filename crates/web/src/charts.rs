//! Charts as SVG markup: the eval report's mAP heatmap and rank-distance bars, and the PCA
//! scatter of passages. Strings rather than components: a chart is a few hundred static
//! elements that change all at once.

use std::fmt::Write;

use hbt_report::Report;
use hbt_report::lang::display_name as language_name;

use crate::analysis::language_colour;

pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// White → blue, for a value in [0, 1].
fn blue(t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        mix(247.0, 8.0),
        mix(251.0, 69.0),
        mix(255.0, 148.0)
    )
}

/// The query × candidate language mAP matrix of a LAReQA report, values in the cells.
pub fn heatmap(report: &Report) -> Option<String> {
    let langs = &report.languages;
    let tasks = &report.tasks;
    if langs.is_empty() || tasks.is_empty() {
        return None;
    }
    let idx = |l: &str| langs.iter().position(|x| x == l);
    let n = langs.len();
    let cell = 44.0;
    let (left, top) = (46.0, 40.0);
    let (w, h) = (left + cell * n as f64 + 10.0, top + cell * n as f64 + 34.0);
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-label="mAP heatmap"><text x="{}" y="16" class="chart-title" text-anchor="middle">mAP (%): query language × passage language</text>"#,
        w / 2.0
    );
    for (i, l) in langs.iter().enumerate() {
        let c = left + cell * (i as f64 + 0.5);
        let _ = write!(
            s,
            r#"<text x="{c}" y="{}" text-anchor="middle" class="axis">{}</text>"#,
            top - 6.0,
            esc(l)
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" class="axis">{}</text>"#,
            left - 6.0,
            top + cell * (i as f64 + 0.5) + 4.0,
            esc(l)
        );
    }
    for t in tasks {
        let (Some(q), Some(c), m) = (idx(&t.query_lang), idx(&t.cand_lang), t.map) else {
            continue;
        };
        let (x, y) = (left + cell * c as f64, top + cell * q as f64);
        let fg = if m > 0.55 { "#fff" } else { "#1b2430" };
        let _ = write!(
            s,
            r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{}" stroke="#fff"><title>{} → {}: {:.1}</title></rect><text x="{}" y="{}" text-anchor="middle" class="cell" fill="{fg}">{:.0}</text>"##,
            blue(m),
            esc(language_name(&langs[q])),
            esc(language_name(&langs[c])),
            100.0 * m,
            x + cell / 2.0,
            y + cell / 2.0 + 4.0,
            100.0 * m
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle" class="axis">diagonal: monolingual · off-diagonal: cross-lingual</text></svg>"#,
        w / 2.0,
        h - 10.0
    );
    Some(s)
}

/// Rank distance per query language in the multilingual pool (lower: less language bias).
pub fn rank_distance_bars(report: &Report) -> Option<String> {
    let rows: Vec<(String, f64)> = report
        .multi
        .iter()
        .map(|m| (m.query_lang.clone(), m.rank_distance))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let max = rows.iter().map(|r| r.1).fold(1.0, f64::max);
    let (left, top, bar, gap, width) = (90.0, 30.0, 18.0, 6.0, 260.0);
    let h = top + rows.len() as f64 * (bar + gap) + 30.0;
    let w = left + width + 60.0;
    let mut s = format!(
        r#"<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-label="rank distance"><text x="{}" y="16" class="chart-title" text-anchor="middle">Rank distance of parallel answers (lower = less bias)</text>"#,
        w / 2.0
    );
    for (i, (l, d)) in rows.iter().enumerate() {
        let y = top + i as f64 * (bar + gap);
        let len = width * d / max;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" class="axis">{}</text><rect x="{left}" y="{y}" width="{len:.1}" height="{bar}" fill="{}" rx="3"/><text x="{}" y="{}" class="value">{d:.1}</text>"#,
            left - 8.0,
            y + bar - 5.0,
            esc(language_name(l)),
            language_colour(i),
            left + len + 6.0,
            y + bar - 5.0
        );
    }
    s.push_str("</svg>");
    Some(s)
}

/// Passages on their first two principal components, coloured by language; grey lines
/// join the parallel answers of each question (short lines: a language-agnostic space).
/// `highlight` marks passages (the current top results) with a ring.
pub fn pca_scatter(
    points: &[(f32, f32)],
    langs: &[usize],
    groups: &[Vec<usize>],
    highlight: &[usize],
    lang_codes: &[String],
) -> String {
    let (w, h, pad) = (560.0f32, 380.0f32, 24.0f32);
    let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let sx = |x: f32| pad + (x - x0) / (x1 - x0).max(1e-6) * (w - 2.0 * pad);
    let sy = |y: f32| h - 40.0 - (y - y0) / (y1 - y0).max(1e-6) * (h - 40.0 - pad);
    let mut s =
        format!(r#"<svg viewBox="0 0 {w} {h}" class="chart pca" role="img" aria-label="PCA of passage vectors">"#);
    for g in groups {
        for win in g.windows(2) {
            let (a, b) = (points[win[0]], points[win[1]]);
            let _ = write!(
                s,
                r##"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#9aa5b1" stroke-opacity="0.45" stroke-width="1"/>"##,
                sx(a.0),
                sy(a.1),
                sx(b.0),
                sy(b.1)
            );
        }
    }
    // One path per language, each dot a zero-length round-capped segment: a pool of
    // thousands of passages is a handful of elements, not thousands (the browser took over
    // a second to lay out 7,308 circles). Smaller, fainter dots keep a large pool's shape.
    let (r, alpha) = if points.len() > 1000 {
        (1.5f32, 0.55)
    } else {
        (3.6, 0.85)
    };
    let mut paths: Vec<String> = vec![String::new(); lang_codes.len().max(1)];
    for (i, &(x, y)) in points.iter().enumerate() {
        let k = langs[i].min(paths.len() - 1);
        let _ = write!(paths[k], "M{:.1} {:.1}h0", sx(x), sy(y));
    }
    for (k, d) in paths.iter().enumerate() {
        if !d.is_empty() {
            let _ = write!(
                s,
                r#"<path d="{d}" stroke="{}" stroke-opacity="{alpha}" stroke-width="{}" stroke-linecap="round" fill="none"/>"#,
                language_colour(k),
                2.0 * r
            );
        }
    }
    for &i in highlight {
        let (x, y) = points[i];
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="7" fill="none" stroke="#111" stroke-width="1.6"/>"##,
            sx(x),
            sy(y)
        );
    }
    let mut lx = pad;
    for (i, l) in lang_codes.iter().enumerate() {
        let _ = write!(
            s,
            r#"<circle cx="{lx}" cy="{}" r="5" fill="{}"/><text x="{}" y="{}" class="axis">{}</text>"#,
            h - 14.0,
            language_colour(i),
            lx + 9.0,
            h - 10.0,
            esc(language_name(l))
        );
        lx += 18.0 + 7.5 * language_name(l).len() as f32;
    }
    s.push_str("</svg>");
    s
}
