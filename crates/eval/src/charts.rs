//! Charts people read: the mAP heatmap, rank distance per language, and report comparisons.
//! The first two are the browser page's own SVG ([`hbt_report::charts`]); the comparisons
//! and sweeps are drawn with plotters. PNG copies are rendered from the SVG with resvg.

use std::path::{Path, PathBuf};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::error::{EvalError, Result};
use crate::report::Report;

const FONT: &str = "DejaVu Sans, Liberation Sans, sans-serif";

fn chart_err(path: &Path, e: impl std::fmt::Display) -> EvalError {
    EvalError::Chart {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Render an SVG file to a PNG next to it.
pub fn svg_to_png(svg: &Path) -> Result<PathBuf> {
    let data = std::fs::read(svg).map_err(|e| EvalError::io(svg, e))?;
    let mut opt = resvg::usvg::Options::default();
    opt.fontdb_mut().load_system_fonts();
    let tree = resvg::usvg::Tree::from_data(&data, &opt).map_err(|e| chart_err(svg, e))?;
    let size = tree.size().to_int_size();
    let (w, h) = (size.width() * 2, size.height() * 2);
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).ok_or_else(|| chart_err(svg, "empty image"))?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(
        &tree,
        resvg::tiny_skia::Transform::from_scale(2.0, 2.0),
        &mut pixmap.as_mut(),
    );
    let png = svg.with_extension("png");
    let bytes = pixmap.encode_png().map_err(|e| chart_err(&png, e))?;
    hbt_durable::write_atomic(&png, &bytes)?;
    Ok(png)
}

/// The mAP heatmap ([`hbt_report::charts::heatmap`], the page's own) written to `path`.
pub fn heatmap(report: &Report, path: &Path) -> Result<()> {
    write_svg(path, hbt_report::charts::heatmap(report))
}

/// Mean rank distance per query language in the multilingual pool (lower is better), as
/// the page draws it ([`hbt_report::charts::rank_distance_bars`]).
pub fn rank_distance_bars(report: &Report, path: &Path) -> Result<()> {
    write_svg(path, hbt_report::charts::rank_distance_bars(report))
}

fn write_svg(path: &Path, svg: Option<String>) -> Result<()> {
    let svg = svg.ok_or_else(|| chart_err(path, "the report has no language results to chart"))?;
    hbt_durable::write_atomic(path, svg.as_bytes())?;
    Ok(())
}

const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Grouped bars: one group per metric, one bar per report; `metrics`: (name, value per report).
pub fn grouped_bars(
    title: &str,
    y_desc: &str,
    labels: &[String],
    metrics: &[(String, Vec<f64>)],
    path: &Path,
) -> Result<()> {
    let groups = metrics.len().max(1);
    let series = labels.len().max(1);
    let max = metrics
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .fold(1.0f64, f64::max)
        * 1.18;
    let width = (160 + groups * (series * 46 + 40)) as u32;
    let root = SVGBackend::new(path, (width.max(640), 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| chart_err(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 20).into_font())
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..groups as f64, 0.0..max)
        .map_err(|e| chart_err(path, e))?;
    let names: Vec<String> = metrics.iter().map(|m| m.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(groups * 2 + 1)
        .x_label_formatter(&|x: &f64| {
            let f = x.fract();
            if (f - 0.5).abs() < 1e-6 {
                names.get(*x as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .draw()
        .map_err(|e| chart_err(path, e))?;
    let w = 0.8 / series as f64;
    for (s, label) in labels.iter().enumerate() {
        let color = PALETTE[s % PALETTE.len()];
        chart
            .draw_series(metrics.iter().enumerate().map(|(g, (_, v))| {
                let x0 = g as f64 + 0.1 + w * s as f64;
                Rectangle::new([(x0, 0.0), (x0 + w * 0.92, v[s])], color.filled())
            }))
            .map_err(|e| chart_err(path, e))?
            .label(label.clone())
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled()));
        chart
            .draw_series(metrics.iter().enumerate().map(|(g, (_, v))| {
                let x = g as f64 + 0.1 + w * s as f64 + w * 0.46;
                Text::new(
                    format!("{:.1}", v[s]),
                    (x, v[s] + max * 0.01),
                    TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom)),
                )
            }))
            .map_err(|e| chart_err(path, e))?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 13))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(|e| chart_err(path, e))?;
    root.present().map_err(|e| chart_err(path, e))?;
    Ok(())
}

/// Write every chart of one report into `dir` (SVG and PNG); returns the files written.
pub fn report_charts(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if report.beir.is_some() {
        return Ok(out);
    }
    let h = dir.join("map-heatmap.svg");
    heatmap(report, &h)?;
    out.push(svg_to_png(&h)?);
    out.push(h);
    let b = dir.join("rank-distance.svg");
    rank_distance_bars(report, &b)?;
    out.push(svg_to_png(&b)?);
    out.push(b);
    Ok(out)
}

/// One panel of [`sweep`]: per x value, the seeds' figures; `reference` (the untrained
/// model, say) is drawn as a dashed line.
pub struct SweepPanel {
    pub title: String,
    pub values: Vec<Vec<f64>>,
    pub reference: Option<f64>,
}

/// A figure against a swept setting, one panel per measure: every seed a dot, the mean a
/// line, ± one sample standard deviation a bar.
// long: one chart drawn top to bottom on one plotters canvas, a panel per measure.
pub fn sweep(title: &str, xs: &[f64], panels: &[SweepPanel], path: &Path) -> Result<()> {
    let cols = 2usize;
    let rows = panels.len().div_ceil(cols).max(1);
    let root = SVGBackend::new(path, (1000, 40 + 360 * rows as u32)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| chart_err(path, e))?;
    let root = root
        .titled(title, (FONT, 20).into_font())
        .map_err(|e| chart_err(path, e))?;
    let areas = root.split_evenly((rows, cols));
    let (x0, x1) = xs.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
    let xpad = ((x1 - x0) * 0.08).max(0.05);
    for (k, (panel, area)) in panels.iter().zip(areas.iter()).enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let stats: Vec<(f64, f64, f64)> = xs
            .iter()
            .zip(&panel.values)
            .filter(|(_, v)| !v.is_empty())
            .map(|(&x, v)| {
                let (m, sd) = crate::stats::mean_std(v);
                (x, m, sd)
            })
            .collect();
        let all = panel
            .values
            .iter()
            .flatten()
            .copied()
            .chain(stats.iter().flat_map(|&(_, m, sd)| [m - sd, m + sd]))
            .chain(panel.reference);
        let (y0, y1) = all.fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(y), b.max(y)));
        if y0 > y1 {
            continue;
        }
        let ypad = ((y1 - y0) * 0.12).max(0.2);
        // Room below the data for the legend, so it never hides a point or a bar.
        let legend_room = (y1 - y0).max(0.5) * 0.45;
        let mut chart = ChartBuilder::on(area)
            .caption(&panel.title, (FONT, 16).into_font())
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(55)
            .build_cartesian_2d((x0 - xpad)..(x1 + xpad), (y0 - ypad - legend_room)..(y1 + ypad))
            .map_err(|e| chart_err(path, e))?;
        chart
            .configure_mesh()
            .x_desc("α (share of X-X-mono batches)")
            .label_style((FONT, 13))
            .draw()
            .map_err(|e| chart_err(path, e))?;
        if let Some(r) = panel.reference {
            let grey = RGBColor(120, 120, 120);
            chart
                .draw_series(DashedLineSeries::new(
                    vec![(x0 - xpad, r), (x1 + xpad, r)],
                    6,
                    4,
                    ShapeStyle::from(&grey).stroke_width(1),
                ))
                .map_err(|e| chart_err(path, e))?
                .label(format!("untrained ({r:.1})"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey));
        }
        let seeds = xs
            .iter()
            .zip(&panel.values)
            .flat_map(|(&x, v)| v.iter().map(move |&y| (x, y)));
        chart
            .draw_series(seeds.map(|p| Circle::new(p, 3, color.mix(0.45).filled())))
            .map_err(|e| chart_err(path, e))?
            .label("each seed")
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, color.mix(0.45).filled()));
        chart
            .draw_series(stats.iter().map(|&(x, m, sd)| {
                ErrorBar::new_vertical(x, m - sd, m, m + sd, ShapeStyle::from(&color).stroke_width(2), 10)
            }))
            .map_err(|e| chart_err(path, e))?;
        chart
            .draw_series(LineSeries::new(
                stats.iter().map(|&(x, m, _)| (x, m)),
                ShapeStyle::from(&color).stroke_width(2),
            ))
            .map_err(|e| chart_err(path, e))?
            .label("mean ± std")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(stats.iter().map(|&(x, m, _)| {
                Text::new(
                    format!("{m:.1}"),
                    (x, m),
                    TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom)),
                )
            }))
            .map_err(|e| chart_err(path, e))?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(|e| chart_err(path, e))?;
    }
    root.present().map_err(|e| chart_err(path, e))?;
    Ok(())
}
