use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
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
    #[error("{path}: {message}")]
    Report { path: PathBuf, message: String },
    #[error("chart {path}: {message}")]
    Chart { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Durable(#[from] hbt_durable::IoError),
    #[error(transparent)]
    ReportFile(#[from] hbt_report::ReportError),
}

impl EvalError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = EvalError> = std::result::Result<T, E>;
