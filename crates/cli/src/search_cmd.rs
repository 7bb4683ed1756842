//! `hbt search`: a docs bundle's ranking from the command line, the widget's results.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use hbt_device::BackendKind;
use hbt_pipeline::docs::DocsIndex;

#[derive(Args)]
pub struct SearchArgs {
    /// A bundle written by `hbt export --docs` (or any hbt bundle).
    #[arg(long)]
    bundle: PathBuf,
    /// Results to print (sections; a long section's pieces are one result).
    #[arg(short, long, default_value_t = 5)]
    k: usize,
    /// cpu (Burn flex) or wgpu; default: wgpu only where a real GPU is present.
    #[arg(long)]
    backend: Option<BackendKind>,
    /// The encoder's number format (f32, int8, …); default: int8 for an int8 bundle (the
    /// browser's CPU path, which the widget takes without WebGPU), f32 otherwise.
    #[arg(long)]
    precision: Option<hbt_model::Precision>,
    /// The questions; each prints its results (a `query` field tells them apart).
    #[arg(required = true)]
    queries: Vec<String>,
}

pub fn run(a: SearchArgs) -> Result<()> {
    if a.k == 0 {
        bail!("-k must be at least 1");
    }
    if let Some(q) = a.queries.iter().find(|q| q.trim().is_empty()) {
        bail!("an empty question ({q:?}): nothing to search for");
    }
    let info = crate::select_device(a.backend);
    let device = hbt_device::device(info.kind())?;
    let index = DocsIndex::open(&a.bundle, &device, a.precision)
        .with_context(|| format!("opening bundle {}", a.bundle.display()))?;
    eprintln!(
        "hbt: {} passages of {} in {}",
        index.corpus.passages.len(),
        index.manifest.source,
        a.bundle.display()
    );
    for q in &a.queries {
        for hit in index.search(q, a.k)? {
            let mut v = serde_json::to_value(&hit)?;
            if a.queries.len() > 1 {
                v["query"] = serde_json::Value::String(q.clone());
            }
            println!("{v}");
        }
    }
    Ok(())
}
