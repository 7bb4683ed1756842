//! `hbt embed`: one JSON line per text (its token ids and vector), or, with `--compare-to`,
//! each text's cosine to the vector an earlier `hbt embed` wrote for it — how the scripts
//! check one encoder (GPU, pruned bundle, int8) against another without their own maths.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use hbt_model::TextKind;
use hbt_report::bias::cosine;

use crate::ModelArgs;

#[derive(Args)]
pub struct EmbedArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Treat the texts as queries (adds the query prefix).
    #[arg(long, conflicts_with = "passage")]
    query: bool,
    /// Treat the texts as passages (adds the passage prefix).
    #[arg(long)]
    passage: bool,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// JSON lines of an earlier `hbt embed` of the same texts, in the same order: print each
    /// text's cosine to its vector there (`{"text", "cosine"}`), then one line with the
    /// minimum, the mean and the share at or above 0.999, instead of the vectors.
    #[arg(long, value_name = "FILE")]
    compare_to: Option<PathBuf>,
    texts: Vec<String>,
}

pub fn run(args: EmbedArgs) -> Result<()> {
    if args.texts.is_empty() {
        bail!("no texts given: hbt embed --model DIR [--query|--passage] TEXT...");
    }
    let reference = args
        .compare_to
        .as_ref()
        .map(|p| read_reference(p, &args.texts))
        .transpose()?;
    let (mut enc, _) = args.model.load()?;
    enc.batch_size = args.batch_size.max(1);
    let kind = if args.query {
        TextKind::Query
    } else if args.passage {
        TextKind::Passage
    } else {
        TextKind::Plain
    };
    let texts: Vec<&str> = args.texts.iter().map(String::as_str).collect();
    let vectors = enc.embed(&texts, kind)?;
    if let Some(reference) = reference {
        let want = vectors[0].len();
        if let (Some(path), Some((i, r))) = (
            &args.compare_to,
            reference.iter().enumerate().find(|(_, r)| r.len() != want),
        ) {
            bail!(
                "{}: vector {} has {} dimensions, this model's have {want}",
                path.display(),
                i + 1,
                r.len()
            );
        }
        let cos: Vec<f64> = vectors.iter().zip(&reference).map(|(a, b)| cosine(a, b)).collect();
        for (text, c) in texts.iter().zip(&cos) {
            println!("{}", serde_json::json!({ "text": text, "cosine": c }));
        }
        let n = cos.len() as f64;
        println!(
            "{}",
            serde_json::json!({
                "texts": cos.len(),
                "min_cosine": cos.iter().copied().fold(f64::INFINITY, f64::min),
                "mean_cosine": cos.iter().sum::<f64>() / n,
                "share_at_least_0_999": cos.iter().filter(|&&c| c >= 0.999).count() as f64 / n,
            })
        );
        return Ok(());
    }
    for (chunk_start, chunk) in texts.chunks(enc.batch_size).enumerate() {
        let batch = enc.tokenize(chunk, kind)?;
        for (j, text) in chunk.iter().enumerate() {
            let i = chunk_start * enc.batch_size + j;
            let line = serde_json::json!({
                "text": text,
                "kind": kind,
                "ids": batch.row_ids(j),
                "truncated": batch.truncated[j],
                "embedding": vectors[i],
            });
            println!("{line}");
        }
    }
    Ok(())
}

/// The vectors of `path` (an `hbt embed` output), checked to be for `texts`, in order.
fn read_reference(path: &PathBuf, texts: &[String]) -> Result<Vec<Vec<f32>>> {
    #[derive(serde::Deserialize)]
    struct Line {
        text: String,
        embedding: Vec<f32>,
    }
    let data = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (n, line) in data.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let l: Line = serde_json::from_str(line).with_context(|| {
            format!(
                "{}: line {}: expected an `hbt embed` line with `text` and `embedding`",
                path.display(),
                n + 1
            )
        })?;
        match texts.get(out.len()) {
            Some(t) if *t == l.text => out.push(l.embedding),
            Some(t) => bail!(
                "{}: line {}: its text {:?} is not text {} given here ({t:?}): embed the same texts in the same order",
                path.display(),
                n + 1,
                l.text,
                out.len() + 1
            ),
            None => bail!("{}: more lines than the {} texts given", path.display(), texts.len()),
        }
    }
    if out.len() != texts.len() {
        bail!(
            "{}: {} vectors for the {} texts given",
            path.display(),
            out.len(),
            texts.len()
        );
    }
    Ok(out)
}
