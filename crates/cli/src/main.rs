//! `hbt`: the command line over the hbt libraries (model, data, train, eval).

use std::path::PathBuf;

mod bench_cmd;
mod cache_cmd;
mod data_cmd;
mod embed_cmd;
mod eval_cmd;
mod experiment_cmd;
mod export_cmd;
mod mine_cmd;
mod search_cmd;
mod train_cmd;

use anyhow::{Context, Result};

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Keep freed memory mapped instead of handing it back to the OS after mimalloc's default
/// delay: a training step frees and re-allocates hundreds of MB of activations, and every
/// page handed back was faulted in and zeroed by the kernel again on the next step (38% of
/// a bf16 training step's CPU time in `clear_page_erms`; 7.5 vs 8.9 s a step at batch 32).
/// `MIMALLOC_PURGE_DELAY` in the environment still wins.
#[cfg(feature = "mimalloc")]
fn keep_freed_memory() {
    unsafe extern "C" {
        fn mi_option_get(option: i32) -> std::ffi::c_long;
        fn mi_option_set(option: i32, value: std::ffi::c_long);
    }
    // `mi_option_purge_delay` in mimalloc v3's option enum (libmimalloc-sys 0.1.49, whose
    // build reads 1000 here: `MIMALLOC_PURGE_DELAY=5` reads back 5); only changed while it
    // holds that default, so another enum layout is left alone.
    const PURGE_DELAY: i32 = 15;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: plain option getters/setters of the linked mimalloc.
        unsafe {
            if mi_option_get(PURGE_DELAY) == 1000 {
                mi_option_set(PURGE_DELAY, -1);
            }
        }
    }
}

use clap::{Args, Parser, Subcommand};
use hbt_device::BackendKind;
use hbt_model::{Encoder, EncoderOptions, Pooling, Precision, Prefixes};

#[derive(Parser)]
#[command(
    name = "hbt",
    version,
    about = "Hybrid-batch training and evaluation of multilingual text encoders"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// CPU threads for Burn's CPU backend (default: all cores, or RAYON_NUM_THREADS).
    #[arg(long, global = true)]
    threads: Option<usize>,
    /// Show the GPU stack's own diagnostics on stderr (hidden by default).
    #[arg(short, long, global = true)]
    verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Embed texts; one JSON line per text.
    Embed(embed_cmd::EmbedArgs),
    /// Describe a model: architecture, sizes, vocabulary, pooling.
    Info(ModelArgs),
    /// Corpora: statistics, sampler previews, downloads.
    #[command(subcommand)]
    Data(data_cmd::DataCommand),
    /// Evaluate a model on XQuAD-R, MLQA-R or a BEIR-style set.
    Eval(eval_cmd::EvalArgs),
    /// Put several eval reports side by side (table and charts).
    Compare(eval_cmd::CompareArgs),
    /// Score a TREC run against qrels (per-query JSON).
    Score(eval_cmd::ScoreArgs),
    /// Fine-tune an encoder with hybrid (or mono / cross / x-x) batches.
    Train(train_cmd::TrainArgs),
    /// Mine hard negatives with a model: each row gets the best-scored passages that are not
    /// its positive nor a translation of it.
    Mine(mine_cmd::MineArgs),
    /// Reproduce the study: samplers × seeds, trained and evaluated, with a summary.
    Experiment(experiment_cmd::ExperimentArgs),
    /// Write a static bundle (model, corpus, passage vectors, report) for the web app.
    Export(export_cmd::ExportArgs),
    /// Search a docs bundle (`hbt export --docs`) as its browser widget does: one JSON line
    /// a result (rank, score, url, page, section, language, snippet).
    Search(search_cmd::SearchArgs),
    /// Throughput benchmarks (encoding, training steps).
    #[command(subcommand)]
    Bench(bench_cmd::BenchCommand),
    /// The GPU kernel cache: where it is; export it to, or import it from, a bundle file.
    #[command(subcommand)]
    Cache(cache_cmd::CacheCommand),
}

#[derive(Args, Clone)]
pub struct ModelArgs {
    /// A model directory (HF layout) or hf:ORG/NAME.
    #[arg(long)]
    pub model: String,
    /// Override the pooling the model declares (mean, cls, pooler).
    #[arg(long)]
    pooling: Option<Pooling>,
    /// Override the max sequence length (tokens, specials included).
    #[arg(long)]
    max_len: Option<usize>,
    /// Prefix for queries (e5: "query: "); overrides what the model declares.
    #[arg(long)]
    query_prefix: Option<String>,
    /// Prefix for passages (e5: "passage: ").
    #[arg(long)]
    passage_prefix: Option<String>,
    /// cpu (Burn flex) or wgpu; default: wgpu only where a real GPU is present.
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// Linear layers in f32; bf16 (CPU only: Intel AMX tiles where the CPU has them; cosine
    /// ≥ 0.999 to f32, see docs/performance.md); f16 (GPU only: weights stored in f16, the
    /// linears and attention products on f16 operands, tensor cores on Vulkan); int8 (CPU).
    #[arg(long, default_value_t = Precision::F32)]
    pub precision: Precision,
}

impl ModelArgs {
    fn options(&self) -> EncoderOptions {
        let prefixes = match (&self.query_prefix, &self.passage_prefix) {
            (None, None) => None,
            (q, p) => Some(Prefixes {
                query: q.clone().unwrap_or_default(),
                passage: p.clone().unwrap_or_default(),
            }),
        };
        EncoderOptions {
            pooling: self.pooling,
            max_len: self.max_len,
            prefixes,
            no_normalize: false,
            precision: self.precision,
        }
    }

    fn dir(&self) -> Result<PathBuf> {
        Ok(hbt_model::source::resolve_model(&self.model)?)
    }

    /// Choose the device (and say which on stderr), then load the model on it.
    pub fn load(&self) -> Result<(Encoder, hbt_device::DeviceInfo)> {
        let info = select_device(self.backend);
        say_precision(self.precision);
        let device = hbt_device::device(info.kind())?;
        let dir = self.dir()?;
        let enc =
            Encoder::load(&dir, &device, &self.options()).with_context(|| format!("loading model {}", self.model))?;
        for n in &enc.notes {
            eprintln!("hbt: warning: {n}");
        }
        Ok((enc, info))
    }
}

/// Say how a bf16 run multiplies here: on the AMX tiles, or (no AMX) by widening each
/// weight to f32, which is correct but slower than plain f32.
pub fn say_precision(p: Precision) {
    if p == Precision::Int8 {
        eprintln!(
            "hbt: precision int8 — int8 linear weights, 16-bit activations, integer sums (the browser's CPU kernel; natively a portable loop, for checking fidelity, not speed)"
        );
    }
    if p == Precision::F16 {
        eprintln!(
            "hbt: precision f16 — linear layers and attention products on f16 operands (tensor cores where Vulkan offers them), norms, softmax and loss in f32"
        );
    }
    if p == Precision::Bf16 {
        if hbt_model::amx_available() {
            eprintln!("hbt: precision bf16 — linear layers on the CPU's AMX tiles (f32 accumulation)");
        } else {
            eprintln!(
                "hbt: precision bf16 — this CPU (or OS) offers no AMX: bf16 weights are widened to f32 at each product, slower than --precision f32"
            );
        }
    }
}

/// The backend to run on (asked for, or the honest default) with the line that says so.
pub fn select_device(requested: Option<BackendKind>) -> hbt_device::DeviceInfo {
    let info = hbt_device::choose_device(requested);
    eprintln!("hbt: {info}");
    if let Some(k) = &info.kernel_cache {
        eprintln!("hbt: {k}");
    }
    info
}

fn info(args: ModelArgs) -> Result<()> {
    let (enc, device) = args.load()?;
    let c = &enc.config;
    let params = c.parameter_count(enc.bert.pooler.is_some());
    let v = serde_json::json!({
        "model": args.model,
        "architecture": c.architecture.model_type(),
        "layers": c.num_hidden_layers,
        "hidden_size": c.hidden_size,
        "heads": c.num_attention_heads,
        "intermediate_size": c.intermediate_size,
        "vocab_size": c.vocab_size,
        "tokenizer_vocab": enc.tokenizer.vocab_size(),
        "max_len": enc.tokenizer.max_len(),
        "position_embeddings": c.max_position_embeddings,
        "parameters": params,
        "pooling": enc.pooling.to_string(),
        "has_pooler": enc.bert.pooler.is_some(),
        "normalize": enc.normalize,
        "query_prefix": enc.prefixes.query,
        "passage_prefix": enc.prefixes.passage,
        "device": device,
    });
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

fn main() {
    #[cfg(feature = "mimalloc")]
    keep_freed_memory();
    let cli = Cli::parse();
    if cli.verbose {
        // SAFETY: single-threaded here, before anything reads the environment.
        unsafe { std::env::set_var("HBT_VERBOSE", "1") };
    }
    hbt_device::device_info::quiet_gpu_stack();
    if let Some(n) = cli.threads {
        if n == 0 {
            eprintln!("hbt: error: --threads must be at least 1");
            std::process::exit(2);
        }
        // Burn's flex backend runs its kernels on rayon's global pool.
        if let Err(e) = rayon::ThreadPoolBuilder::new().num_threads(n).build_global() {
            eprintln!("hbt: error: --threads {n}: {e}");
            std::process::exit(2);
        }
    }
    let result = match cli.command {
        Command::Embed(a) => embed_cmd::run(a),
        Command::Info(a) => info(a),
        Command::Data(c) => data_cmd::run(c),
        Command::Eval(a) => eval_cmd::run_eval(a).map(|_| ()),
        Command::Compare(a) => eval_cmd::compare(a),
        Command::Score(a) => eval_cmd::score(a),
        Command::Train(a) => train_cmd::run(a, cli.threads).map(|_| ()),
        Command::Mine(a) => mine_cmd::run(a),
        Command::Experiment(a) => experiment_cmd::run(a),
        Command::Export(a) => export_cmd::run(a),
        Command::Search(a) => search_cmd::run(a),
        Command::Bench(c) => bench_cmd::run(c),
        Command::Cache(c) => cache_cmd::run(c),
    };
    // Test hook: the process's peak resident memory (what the streaming test reads).
    if std::env::var_os("HBT_TEST_PEAK_RSS").is_some()
        && let Ok(s) = std::fs::read_to_string("/proc/self/status")
        && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
    {
        eprintln!("hbt: peak resident {}", l.trim_start_matches("VmHWM:").trim());
    }
    if let Err(e) = result {
        eprintln!("hbt: error: {e:#}");
        std::process::exit(1);
    }
}
