//! `hbt mine`: hard negatives by the model itself, written beside each row as `negatives`.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;

use crate::ModelArgs;
use crate::data_cmd::ReadArgs;

#[derive(Args)]
pub struct MineArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// The data set (any format `hbt train` reads).
    #[arg(long)]
    data: PathBuf,
    /// Where to write it with its mined `negatives` (.parquet, else JSON Lines; refused if it
    /// exists, unless --force).
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    force: bool,
    /// Negatives a row gets.
    #[arg(long, default_value_t = 3)]
    num_negatives: usize,
    /// Skip this many best-scored candidates (they are often unlabelled positives).
    #[arg(long, default_value_t = 0)]
    range_min: usize,
    /// Look no further than this many best-scored candidates.
    #[arg(long)]
    range_max: Option<usize>,
    /// Drop a candidate scored above the positive's score minus this.
    #[arg(long)]
    margin: Option<f32>,
    /// Drop a candidate scored above this.
    #[arg(long)]
    max_score: Option<f32>,
    /// Texts per forward pass.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[command(flatten)]
    read: ReadArgs,
}

pub fn run(a: MineArgs) -> Result<()> {
    if a.out.exists() && !a.force {
        bail!(
            "{} exists: give another --out, or --force to replace it",
            a.out.display()
        );
    }
    if a.num_negatives == 0 {
        bail!("--num-negatives must be at least 1");
    }
    let data = hbt_data::read::load(&a.data, &a.read.options())?;
    eprintln!("hbt: {}", crate::data_cmd::describe(&data));
    let (mut enc, _) = a.model.load()?;
    enc.batch_size = a.batch_size.max(1);
    let opts = hbt_eval::mine::MineOptions {
        num_negatives: a.num_negatives,
        range_min: a.range_min,
        range_max: a.range_max,
        margin: a.margin,
        max_score: a.max_score,
        ..Default::default()
    };
    let mined = hbt_eval::mine::mine(&enc, &data, &opts)?;
    let n = hbt_data::write::write(&data, &a.out, Some(&mined.negatives))?;
    eprintln!(
        "hbt: mined {} negatives for {n} rows from a corpus of {} passages ({} rows got fewer than {}); mean score positive {:.3}, negative {:.3}; encoding {:.1} s, search {:.1} s",
        mined.negatives.iter().map(Vec::len).sum::<usize>(),
        mined.corpus,
        mined.short_rows,
        a.num_negatives,
        mined.mean_positive_score,
        mined.mean_negative_score,
        mined.encode_seconds,
        mined.search_seconds
    );
    println!(
        "{}",
        serde_json::to_string(&serde_json::json!({"out": a.out, "rows": n, "mining": mined}))?
    );
    Ok(())
}
