use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Model(#[from] hbt_model::ModelError),
    #[error(transparent)]
    Data(#[from] hbt_data::DataError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    /// The ranks of a data-parallel job disagree (options, weights): continuing would train
    /// something no single-device run would.
    #[error("data-parallel ranks disagree: {0}")]
    Ranks(String),
    #[error(transparent)]
    Durable(#[from] hbt_durable::IoError),
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error(
        "{path}: not enough free disk space for a checkpoint: {} needed, {} free (nothing was written; `latest` is unchanged)",
        gb(*need),
        gb(*free)
    )]
    DiskFull { path: PathBuf, need: u64, free: u64 },
    #[error(
        "{path} is being written by another hbt process ({holder}); wait for it to finish or stop it, or choose another --out"
    )]
    Locked { path: PathBuf, holder: String },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

pub type Result<T, E = TrainError> = std::result::Result<T, E>;

/// A tokenizer's error is the model's (the encoder's tokenizer failed).
impl From<hbt_model::tokenizer::TokenizerError> for TrainError {
    fn from(e: hbt_model::tokenizer::TokenizerError) -> Self {
        Self::Model(e.into())
    }
}
