//! Charts as SVG markup: the eval report's mAP heatmap and rank-distance bars (the very
//! renderer `hbt eval` writes its chart files with, [`hbt_report::charts`]), and the PCA
//! scatter of passages. Strings rather than components: a chart is a few hundred static
//! elements that change all at once.

use std::fmt::Write;

use hbt_report::lang::display_name as language_name;

pub use hbt_report::charts::{esc, heatmap, language_colour, rank_distance_bars};

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
