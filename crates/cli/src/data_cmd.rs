//! `hbt data …`

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Subcommand};
use hbt_data::sampler::{Sampler, SamplerKind};

#[derive(Subcommand)]
pub enum DataCommand {
    /// Per-language counts: for a LAReQA folder questions, candidates, relevant per question
    /// and skipped questions; for any other data set rows, groups and languages.
    Stats(StatsArgs),
    /// Rewrite a data set (LAReQA, BEIR, JSON Lines, Parquet, save_to_disk) as JSON Lines or
    /// Parquet: the same rows, groups and train/dev split.
    Convert(ConvertArgs),
    /// Print a few batches of a sampler so a person can see it work.
    Sample(SampleArgs),
    /// Download XQuAD-R or MLQA-R (pinned LAReQA commit, checksums verified).
    Fetch(FetchArgs),
}

#[derive(Args)]
pub struct StatsArgs {
    /// `lareqa` for LAReQA's per-language table, `rows` for the training rows' counts, or
    /// `auto` (LAReQA's table for a LAReQA folder).
    #[arg(long, default_value = "auto")]
    format: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    read: ReadArgs,
    dir: PathBuf,
}

/// How a data set is read (as `hbt train` reads it).
#[derive(Args, Clone)]
pub struct ReadArgs {
    /// The split of a sharded Parquet or save_to_disk folder.
    #[arg(long, default_value = "train")]
    split: String,
    /// Column names where they are not the defaults: ROLE=NAME,…
    #[arg(long, default_value = "")]
    columns: hbt_data::Columns,
}

impl ReadArgs {
    pub fn options(&self) -> hbt_data::ReadOptions {
        hbt_data::ReadOptions {
            columns: self.columns.clone(),
            split: self.split.clone(),
        }
    }
}

#[derive(Args)]
pub struct ConvertArgs {
    /// jsonl (a `.gz` name compresses it) or parquet.
    #[arg(long)]
    to: String,
    /// The file to write (refused if it exists, unless --force).
    #[arg(long)]
    out: PathBuf,
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    read: ReadArgs,
    input: PathBuf,
}

/// One line on a data set: what it is, its size and languages (detected ones said so).
pub fn describe(d: &hbt_data::PairData) -> String {
    let s = d.stats();
    let langs: Vec<String> = s.languages.iter().map(|(l, c)| format!("{l} {}", c.queries)).collect();
    let mut line = format!(
        "data {} ({}): {} rows, {} groups ({} in several languages), {} cross-lingual rows{}; queries by language: {}",
        d.source.display(),
        s.format,
        s.rows,
        s.groups,
        s.multilingual_groups,
        s.cross_lingual_rows,
        if d.streams() {
            ", read from the file as it trains"
        } else {
            ""
        },
        langs.join(", ")
    );
    if let Some(det) = &s.detected {
        line.push_str(&format!(
            " (languages detected with whatlang for {} texts: no lang column)",
            det.total()
        ));
    }
    line
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
    #[command(flatten)]
    read: ReadArgs,
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
        DataCommand::Convert(a) => {
            let d = hbt_data::read::load(&a.input, &a.read.options())?;
            if a.out.exists() && !a.force {
                bail!(
                    "{} exists: give another --out, or --force to replace it",
                    a.out.display()
                );
            }
            eprintln!("hbt: {}", describe(&d));
            let n = match a.to.as_str() {
                "jsonl" => hbt_data::write::write_jsonl(&d, &a.out)?,
                "parquet" => hbt_data::write::write_parquet(&d, &a.out)?,
                o => bail!("--to {o}: jsonl or parquet"),
            };
            println!("{}: {n} rows ({})", a.out.display(), a.to);
            Ok(())
        }
        DataCommand::Stats(a) => stats(a),
        DataCommand::Sample(a) => {
            let c = hbt_data::read::load(&a.dir, &a.read.options())?;
            let space = hbt_data::split::pairs_space(&c, None, None);
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
                        space.langs[p.qlang as usize],
                        space.langs[p.plang as usize],
                        c.group_id(space.groups[p.group].index as usize)
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

fn stats(a: StatsArgs) -> Result<()> {
    let lareqa = match a.format.as_str() {
        "lareqa" => true,
        "rows" => false,
        "auto" => hbt_data::read::format_of(&a.dir)? == hbt_data::pairs::Format::Lareqa,
        o => bail!("unknown --format `{o}` (auto, lareqa, rows)"),
    };
    if !lareqa {
        let d = hbt_data::read::load(&a.dir, &a.read.options())?;
        let s = d.stats();
        if a.json {
            println!("{}", serde_json::to_string_pretty(&s)?);
            return Ok(());
        }
        println!("{}", describe(&d));
        println!("{:<14} {:>9} {:>9}", "language", "queries", "passages");
        for (l, c) in &s.languages {
            let name = hbt_data::lang::language_name(l).unwrap_or("");
            println!("{:<14} {:>9} {:>9}", format!("{l} {name}"), c.queries, c.passages);
        }
        return Ok(());
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
