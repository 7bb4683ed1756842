//! hbt-pipeline: the work that strings the libraries below it together. [`study`] runs the
//! paper's whole study (train every sampler and seed with hbt-train, evaluate with
//! hbt-eval, test the differences, chart them); [`export`] writes the bundles the browser
//! app reads (model, corpus, vectors, report); [`bench`] times encoding and training steps. It is the top floor below the CLI: nothing
//! else in the workspace depends on it, so the metrics never compile the trainer.

pub mod bench;
pub mod docs;
pub mod error;
pub mod export;
pub mod study;
pub mod train_eval;

pub use error::{PipelineError, Result};
