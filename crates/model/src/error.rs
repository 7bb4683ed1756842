use std::path::PathBuf;

/// Everything that can go wrong between a model directory on disk and a vector.
///
/// Every variant that comes from a file names it, so a user can see which file to fix.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: not a valid safetensors file: {message}")]
    Safetensors { path: PathBuf, message: String },
    #[error("{path}: tensor `{name}` {message}")]
    Tensor {
        path: PathBuf,
        name: String,
        message: String,
    },
    #[error("{path}: weights do not match the config: {message}")]
    Mismatch { path: PathBuf, message: String },
    #[error(transparent)]
    Tokenizer(#[from] hbt_tokenizer::TokenizerError),
    #[error(
        "no model at `{0}`: expected a directory with config.json, model.safetensors and tokenizer.json, or hf:ORG/NAME"
    )]
    NotFound(String),
    #[error("hf:{repo}: {message}")]
    Hub { repo: String, message: String },
    #[error("{0}")]
    Input(String),
    #[error("backend error: {0}")]
    Backend(String),
}

impl ModelError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
    pub fn config(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Config {
            path: path.into(),
            message: message.into(),
        }
    }
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;
