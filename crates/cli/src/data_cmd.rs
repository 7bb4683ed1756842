//! `hbt data …`

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use hbt_data::sampler::{Sampler, SamplerKind};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Per-language questions, candidates, relevant per question and skipped questions.
    Stats(StatsArgs),
    /// Print a few batches of a sampler so a person can see it work.
    Sample(SampleArgs),
    /// Download XQuAD-R or MLQA-R (pinned LAReQA commit, checksums verified).
    Fetch(FetchArgs),
}

#[derive(Args)]
pub struct StatsArgs {
    /// Corpus layout (lareqa).
    #[arg(long, default_value = "lareqa")]
    format: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    dir: PathBuf,
}

#[derive(Args)]
pub struct SampleArgs {
    /// mono, cross, hybrid or x-x.
    #[arg(long, default_value = "hybrid")]
    sampler: String,
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How many batches to print.
    #[arg(long, default_value_t = 4)]
    batches: usize,
    dir: PathBuf,
}

#[derive(Args)]
pub struct FetchArgs {
    /// xquad-r or mlqa-r.
    name: String,
    /// Where to put it (default: $HBT_DATA or ~/.cache/hbt/data).
    #[arg(long)]
    dest: Option<PathBuf>,
    /// Use this local copy instead of downloading (verified against the pinned checksums).
    #[arg(long)]
    data: Option<PathBuf>,
}

pub fn run(cmd: DataCommand) -> Result<()> {
    match cmd {
        DataCommand::Stats(a) => {
            if a.format != "lareqa" {
                bail!(
                    "unknown format `{}` (lareqa; BEIR sets are read by `hbt eval --bench beir`)",
                    a.format
                );
            }
            let c = hbt_data::load_dir(&a.dir)?;
            let stats = hbt_data::lareqa::stats(&c);
            if a.json {
                println!("{}", serde_json::to_string_pretty(&stats)?);
                return Ok(());
            }
            println!("{} ({})", c.name, a.dir.display());
            println!(
                "{:<14} {:>9} {:>10} {:>18} {:>8}",
                "language", "questions", "candidates", "relevant/question", "skipped"
            );
            for s in &stats {
                let name = hbt_data::lang::language_name(&s.lang).unwrap_or("");
                println!(
                    "{:<14} {:>9} {:>10} {:>10.2} ({}–{}) {:>8}",
                    format!("{} {}", s.lang, name),
                    s.questions,
                    s.candidates,
                    s.relevant_per_question,
                    s.min_relevant,
                    s.max_relevant,
                    s.skipped
                );
            }
            Ok(())
        }
        DataCommand::Sample(a) => {
            let c = hbt_data::load_dir(&a.dir)?;
            let space = hbt_data::split::pair_space(&c, None, None);
            let kind = SamplerKind::parse(&a.sampler, a.alpha)?;
            let s = Sampler::new(vec![space.clone()], kind, a.batch, a.seed)?;
            println!(
                "sampler {} · batch {} · seed {} · {} questions in {} languages",
                kind.name(),
                a.batch,
                a.seed,
                space.groups.len(),
                space.langs.len()
            );
            for (e, i, b) in s.stream(0, 0).take(a.batches) {
                println!("epoch {e} batch {i} [{:?}]", b.kind);
                for p in &b.pairs {
                    println!(
                        "  {} -> {}  {}",
                        space.langs[p.qlang as usize], space.langs[p.plang as usize], space.groups[p.group].id
                    );
                }
            }
            Ok(())
        }
        DataCommand::Fetch(a) => {
            if let Some(local) = a.data {
                let bad = hbt_data::fetch::verify(&a.name, &local)?;
                if bad.is_empty() {
                    println!(
                        "{}: all {} files match the pinned checksums",
                        local.display(),
                        hbt_data::fetch::known(&a.name)?.len()
                    );
                    return Ok(());
                }
                bail!("{}\n{}", bad.join("\n"), hbt_data::fetch::HOW_TO_GET);
            }
            let dest = a.dest.unwrap_or_else(hbt_data::fetch::cache_dir);
            let dir = hbt_data::fetch::fetch(&a.name, &dest, |m| eprintln!("{m}"))?;
            println!("{}", dir.display());
            Ok(())
        }
    }
}
