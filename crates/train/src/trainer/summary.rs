//! What a run leaves behind: one log line a step and the run's summary.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::durable;
use crate::error::Result;

#[derive(Debug, Clone, Serialize)]
pub struct LogLine {
    pub step: usize,
    pub epoch: u64,
    pub kind: String,
    pub loss: f64,
    pub lr: f64,
    pub pairs_per_s: f64,
    /// Global L2 norm of the gradients before clipping.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_loss: Option<f64>,
    /// The batch's languages: query → passage language, with counts (`en→de: 3`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub langs: std::collections::BTreeMap<String, usize>,
    /// Retrieval scores of the current weights on `--eval-data`, when it ran this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eval: Option<std::collections::BTreeMap<String, f64>>,
    /// Seconds this step spent in collectives (data-parallel runs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm_seconds: Option<f64>,
    /// Token slots this step's forward passes computed, against padding each side whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_slots: Option<super::TokenSlots>,
    /// f16: the loss scale after this step (halved by an overflow, doubled after a clean
    /// stretch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<f64>,
    /// f16: the step overflowed and left the weights alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<bool>,
}

/// One rank of a data-parallel run: where it ran.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankInfo {
    pub rank: usize,
    pub host: String,
    pub device: String,
}

/// What a data-parallel run communicated, per rank.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Communication {
    /// Gradient bytes a rank all-reduced a step (dense layers plus the word-embedding rows
    /// the step touched).
    pub reduced_bytes_per_step: u64,
    /// Embedding bytes a rank contributed to the all-gather a step.
    pub gathered_bytes_per_step: u64,
    /// Seconds in collectives over the run (waiting for the slowest rank included).
    pub seconds: f64,
    pub seconds_per_step: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub steps: usize,
    pub initial_val_loss: Option<f64>,
    pub best_val_loss: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub seconds: f64,
    pub pairs_per_s: f64,
    pub stopped: crate::trainer::StopReason,
    pub model_dir: PathBuf,
    pub config: TrainConfig,
    /// What ran the training (filled in by the caller that chose the device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<hbt_device::DeviceInfo>,
    /// Bytes this run wrote (checkpoints, `best/`, `model/`, logs), resumed parts included
    /// only from this process on.
    #[serde(default)]
    pub bytes_written: u64,
    /// Bytes the run directory holds at the end.
    #[serde(default)]
    pub bytes_on_disk: u64,
    /// What was recovered from (a damaged checkpoint passed over, say).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Ranks of a data-parallel run (1: one device).
    #[serde(default = "one")]
    pub world_size: usize,
    /// Each rank's host and device (filled in by the caller that chose them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranks: Vec<RankInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communication: Option<Communication>,
    /// f16 runs: the loss scaler at the end (its scale, and the steps skipped for overflows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scaler: Option<crate::scaler::LossScaler>,
}

fn one() -> usize {
    1
}

impl Summary {
    /// Write `summary.json` in `out` (atomically).
    pub fn write(&self, out: &Path) -> Result<()> {
        durable::write_atomic(
            &out.join("summary.json"),
            &serde_json::to_vec_pretty(self).expect("summary"),
        )?;
        Ok(())
    }
}
