use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Model(#[from] hbt_model::ModelError),
    #[error(transparent)]
    Device(#[from] hbt_device::DeviceError),
    #[error(transparent)]
    Data(#[from] hbt_data::DataError),
    #[error(transparent)]
    Train(#[from] hbt_train::TrainError),
    #[error(transparent)]
    Eval(#[from] hbt_eval::EvalError),
    #[error(transparent)]
    Durable(#[from] hbt_durable::IoError),
    #[error(transparent)]
    ReportFile(#[from] hbt_report::ReportError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Report { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

impl PipelineError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = PipelineError> = std::result::Result<T, E>;
