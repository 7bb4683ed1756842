//! hbt-bundle: delivering an encoder and its passages to a reader that is not this process —
//! above all the browser.
//!
//! The static bundle `hbt export` writes and the web app reads ([`manifest`]: the manifest,
//! the corpus, the passages reader shared by export and a visitor's dropped file), the
//! passages' vectors ([`passage_vectors`]), a vocabulary pruned to the texts a bundle needs
//! ([`prune`]), an on-demand word table made from a saved model and the reads that fetch it
//! ([`on_demand`]), a docs site's ranking of sections ([`docs`]), and a server's multi-range answer ([`byteranges`]). It builds on the
//! encoder (`hbt-model`) and the tokenizer; neither knows it exists, so a native trainer never
//! compiles it. Everything here compiles for the browser too, but writing a model to disk.

pub mod byteranges;
pub mod docs;
pub mod manifest;
pub mod on_demand;
pub mod passage_vectors;
pub mod prune;

pub use manifest::*;
#[cfg(not(target_arch = "wasm32"))]
pub use on_demand::make_on_demand;
pub use on_demand::{DEFAULT_PAGE_ROWS, OnDemandStats, pages_of, plan_ranges};
pub use prune::{PruneStats, PruneVocab};

/// Errors are the model's: every one names the model or bundle file it is about.
pub type Result<T, E = hbt_model::ModelError> = std::result::Result<T, E>;
