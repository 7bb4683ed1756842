//! hbt-data: everything between corpus files on disk and batches of (query, passage) pairs.
//!
//! * [`read`], [`pairs`], [`write`]: training rows from JSON Lines, Parquet, Arrow, LAReQA or
//!   BEIR, grouped by id (the hybrid sampler's unit), and written back as JSON Lines or Parquet;
//! * [`iso`]: language codes and detection;
//! * [`docs`]: a documentation site (mdBook, Markdown tree, built HTML) as section passages;
//! * [`lareqa`]: XQuAD-R / MLQA-R (SQuAD JSON with sentence breaks), parallel by question id;
//! * [`beir`]: BEIR / MIRACL-style corpora, queries and qrels;
//! * [`tasks`]: the mono-, cross- and multilingual retrieval tasks the evaluator scores;
//! * [`split`]: seeded train/dev splits by article and the pair spaces of a corpus;
//! * [`sampler`]: the X-X-mono, X-Y, hybrid and X-X batch samplers;
//! * [`fetch`]: downloading the LAReQA files (pinned, checksummed).

pub mod beir;
pub mod docs;
pub mod error;
pub mod fetch;
pub mod iso;
pub use hbt_report::lang;
pub mod lareqa;
pub mod pairs;
pub mod read;
pub mod sampler;
pub mod split;
mod tables;
pub mod tasks;
pub mod write;

pub use error::{DataError, Result};
pub use lareqa::{CandidateInput, Corpus, load_dir};
pub use pairs::{PairData, PairStats};
pub use read::{Columns, ReadOptions};
pub use sampler::{Batch, BatchKind, Pair, PairSpace, Sampler, SamplerKind, SamplerName};
pub use tasks::{CandRef, Task, TaskKind, build_tasks};
