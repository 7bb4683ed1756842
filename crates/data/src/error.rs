use std::path::PathBuf;

/// Errors name the file and, where it helps, the place inside it (article, paragraph,
/// question id) so that a malformed corpus can be fixed by hand.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON at line {line}, column {column}: {message}")]
    Json {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {place}: {message}")]
    Format {
        path: PathBuf,
        place: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Corpus { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error("download failed: {0}")]
    Fetch(String),
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
    pub(crate) fn json(path: impl Into<PathBuf>, e: serde_json::Error) -> Self {
        Self::Json {
            path: path.into(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }
}

pub type Result<T, E = DataError> = std::result::Result<T, E>;
