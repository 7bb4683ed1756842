//! hbt-report: the evaluation report (every figure, the settings that produced them, and its
//! renderings as a terminal table, JSON, Markdown and the two SVG charts), the language
//! names that label it, the one ranking order, and the bias view's analysis. Serde only, so
//! the browser app reads the very types `hbt eval` writes instead of indexing untyped JSON,
//! and draws, ranks and names languages with the same code as the CLI.

pub mod bias;
pub mod charts;
pub mod lang;
pub mod rank;
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
