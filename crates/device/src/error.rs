/// What can go wrong choosing a device or moving its kernel cache.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("backend error: {0}")]
    Backend(String),
    #[error("{0}")]
    Input(String),
}

pub type Result<T, E = DeviceError> = std::result::Result<T, E>;
