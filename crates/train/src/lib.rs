//! hbt-train: fine-tunes a shared dual encoder (one set of weights for queries and
//! passages) with InfoNCE over in-batch negatives, drawing batches from hbt-data's
//! X-X-mono / X-Y / hybrid / X-X samplers, on Burn's wgpu backend or the CPU.

pub mod card;
pub mod clip;
pub mod collective;
pub mod config;
pub mod durable;
pub mod error;
pub mod loss;
pub mod scaler;
pub mod trainer;

pub use collective::{Collective, CommStats, Solo};
pub use config::{Batching, TrainConfig};
pub use durable::RunLock;
pub use error::{Result, TrainError};
pub use scaler::LossScaler;
pub use trainer::{
    Communication, Evaluation, Progress, ProgressBarSink, RankInfo, Silent, StopHandle, StopReason, Summary,
    TrainOptions, Trainer, train,
};
