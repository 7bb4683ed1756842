use std::path::PathBuf;

/// What can go wrong reading a tokenizer or tokenizing: each names the file it came from.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("{path}: tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{0}")]
    Input(String),
}

pub type Result<T, E = TokenizerError> = std::result::Result<T, E>;
