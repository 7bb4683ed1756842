//! hbt-eval: scores encoders on the retrieval tasks of hbt-data exactly as the literature
//! does (LAReQA mAP over full rankings, XTREME-R mAP@20, R@k, nDCG@k, MRR@k, the
//! rank-distance language-bias score) and renders the result as tables, JSON, Markdown,
//! TREC run files and charts. It depends on the model and the data only: the study that
//! trains and then evaluates lives a floor up, in hbt-pipeline.

pub mod beir;
pub mod charts;
pub mod compare;
pub mod embed;
pub mod error;
pub mod lareqa;
pub mod metrics;
pub mod mine;
pub mod report;
pub mod stats;
pub mod trec;

pub use error::{EvalError, Result};
pub use report::Report;

/// Write a report's JSON, Markdown, table and charts into `dir`; returns the files.
pub fn write_outputs(report: &Report, dir: &std::path::Path) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| EvalError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut out = Vec::new();
    // Every file durably (the study takes a finished directory as done work).
    for (name, text) in [("report.md", report.markdown()), ("table.txt", report.table())] {
        let path = dir.join(name);
        hbt_durable::write_atomic(&path, text.as_bytes())?;
        out.push(path);
    }
    out.extend(charts::report_charts(report, dir)?);
    // Last, so that a present report.json means every output is there.
    let j = dir.join("report.json");
    report.write_json(&j)?;
    out.push(j);
    Ok(out)
}

/// What an encoder contributes to a report's `settings`, recorded the same way by
/// `hbt eval` and the study: batch, lengths, pooling, prefixes (and any assumption the loader
/// made about them), precision. Callers add what they chose (data, limit, device).
pub fn encoder_settings(enc: &hbt_model::Encoder) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let amx = enc.precision == hbt_model::Precision::Bf16 && hbt_model::amx_available();
    [
        ("batch_size", json!(enc.batch_size)),
        ("max_len", json!(enc.tokenizer.max_len())),
        ("pooling", json!(enc.pooling.to_string())),
        ("query_prefix", json!(enc.prefixes.query)),
        ("passage_prefix", json!(enc.prefixes.passage)),
        ("prefix_notes", json!(enc.notes)),
        ("precision", json!(enc.precision.to_string())),
        ("amx", json!(amx)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}
