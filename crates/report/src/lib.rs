//! hbt-report: the evaluation report (every figure, the settings that produced them, and its
//! renderings as a terminal table, JSON and Markdown) and the language names that label it.
//! Serde only, so the browser app reads the very types `hbt eval` writes instead of
//! indexing untyped JSON; one list of language names serves the CLI, the charts and the page.

pub mod lang;
pub mod report;

pub use report::*;

use std::path::PathBuf;

/// A report that cannot be read or written, and the file.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Report { path: PathBuf, message: String },
    #[error(transparent)]
    Durable(#[from] hbt_durable::IoError),
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;
