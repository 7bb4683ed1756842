//! Training settings. The defaults are the paper's: AdamW, lr 3e-5, weight decay 0.01,
//! batch 100, α = 0.5, temperature 0.05.

use hbt_data::sampler::SamplerName;
use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainConfig {
    /// mono, cross, hybrid or x-x.
    pub sampler: SamplerName,
    pub alpha: f64,
    pub batch_size: usize,
    /// Texts per forward pass with gradients (packed rows: rows per pass, each as long as
    /// the side's longest text, so a pass never holds more than `m` such texts); below
    /// `batch_size` the batch is processed with gradient caching (exact in-batch negatives
    /// over the whole batch).
    pub micro_batch: Option<usize>,
    pub lr: f64,
    pub weight_decay: f64,
    /// Steps of linear warm-up from 0, then linear decay to 0 at `max_steps`.
    pub warmup_steps: usize,
    pub max_steps: usize,
    pub temperature: f64,
    pub symmetric: bool,
    /// Add one hard negative per pair: another sentence of the answer's paragraph.
    pub hard_negatives: bool,
    /// Clip the gradients' global L2 norm (all parameters together, as PyTorch's
    /// `clip_grad_norm_`) to this value.
    pub grad_clip: Option<f64>,
    pub max_query_len: usize,
    pub max_passage_len: usize,
    pub seed: u64,
    /// Languages to train on (others are left out, for zero-shot tests); all when empty.
    pub train_langs: Vec<String>,
    /// Fraction of articles held out for validation.
    pub dev_fraction: f64,
    /// Validate every N steps (0: never).
    pub eval_every: usize,
    /// Batches of the dev split used for the validation loss.
    pub val_batches: usize,
    /// Stop after this many validations without improvement (0: never).
    pub patience: usize,
    /// Write a checkpoint every N steps (0: only on interrupt, or at the end with
    /// `keep_checkpoints`).
    pub checkpoint_every: usize,
    /// Checkpoints kept on the disk while running (the newest; each holds the weights and
    /// the optimizer state, ~3× the model in f32).
    #[serde(default = "one")]
    pub keep_last: usize,
    /// Keep the final checkpoint (with optimizer state) of a finished run, so it can be
    /// resumed for more steps. Off: a finished run keeps only `model/` (and `best/` where
    /// it differs).
    #[serde(default)]
    pub keep_checkpoints: bool,
    /// Linear layers in f32, bf16 autocast (CPU only: f32 weights and optimizer, the
    /// products on bf16 — Intel AMX where the CPU has it) or f16 autocast (GPU only: linears
    /// and attention products on f16, dynamic loss scaling).
    #[serde(default)]
    pub precision: hbt_model::Precision,
    /// How each side of a batch is laid out for its forward pass ([`Batching`]). A
    /// checkpoint written before this setting existed resumes in length groups (what it ran
    /// in unless it turned them off: padded and grouped differ only in float rounding).
    #[serde(default = "Batching::before_packing")]
    pub batching: Batching,
    /// f16 only: the loss scale to start from ([`crate::scaler`]; 2^16 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scale: Option<f64>,
    /// With a retrieval evaluation (`--eval-data`): the metric whose best value keeps the
    /// weights as `model/` and that `patience` watches (higher is better); None: the
    /// validation loss does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_best: Option<String>,
}

/// How each side (queries, passages, hard negatives) of a batch is laid out for its forward
/// pass. All three give the padded batch's loss and gradients to float rounding; in-batch
/// negatives and the batch's composition never change (the vectors are put back in order
/// before the loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Batching {
    /// Several texts a row ([`hbt_model::PackedBatch`]): one pass a side with almost no
    /// padding; each text attends only to itself (a block-diagonal mask), its position ids
    /// restart and it is pooled on its own. Fastest on the CPU (docs/performance.md).
    Packed,
    /// Groups of similar length, each padded to its own longest text
    /// ([`hbt_model::length_buckets`]): several passes a side.
    Groups,
    /// Each side padded to its longest text as one piece.
    Padded,
}

impl Batching {
    fn before_packing() -> Self {
        Self::Groups
    }
}

impl std::str::FromStr for Batching {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "packed" => Ok(Self::Packed),
            "groups" => Ok(Self::Groups),
            "padded" => Ok(Self::Padded),
            o => Err(format!("unknown batching `{o}` (packed, groups, padded)")),
        }
    }
}

impl std::fmt::Display for Batching {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Packed => "packed",
            Self::Groups => "groups",
            Self::Padded => "padded",
        })
    }
}

fn one() -> usize {
    1
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            sampler: SamplerName::Hybrid,
            alpha: 0.5,
            batch_size: 100,
            micro_batch: None,
            lr: 3e-5,
            weight_decay: 0.01,
            warmup_steps: 100,
            max_steps: 1000,
            temperature: 0.05,
            symmetric: false,
            hard_negatives: false,
            grad_clip: Some(1.0),
            max_query_len: 64,
            max_passage_len: 128,
            seed: 1,
            train_langs: Vec::new(),
            dev_fraction: 0.1,
            eval_every: 100,
            val_batches: 4,
            patience: 0,
            checkpoint_every: 100,
            keep_last: 1,
            keep_checkpoints: false,
            precision: hbt_model::Precision::F32,
            batching: Batching::Packed,
            loss_scale: None,
            keep_best: None,
        }
    }
}

impl TrainConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(TrainError::Config(m));
        if !(0.0..=1.0).contains(&self.alpha) {
            return bad(format!("--alpha must lie in [0, 1], got {}", self.alpha));
        }
        if self.batch_size < 2 {
            return bad("--batch must be at least 2 (in-batch negatives need company)".into());
        }
        if let Some(m) = self.micro_batch
            && (m == 0 || m > self.batch_size)
        {
            return bad(format!("--micro-batch {m} must lie in 1..={}", self.batch_size));
        }
        if self.temperature <= 0.0 {
            return bad(format!("--temperature must be positive, got {}", self.temperature));
        }
        if self.lr <= 0.0 || self.max_steps == 0 {
            return bad("--lr and --steps must be positive".into());
        }
        if !(0.0..1.0).contains(&self.dev_fraction) {
            return bad(format!("--dev-fraction must lie in [0, 1), got {}", self.dev_fraction));
        }
        if self.keep_last == 0 {
            return bad("--keep-last must be at least 1 (the checkpoint a resume starts from)".into());
        }
        if let Some(s) = self.loss_scale {
            if self.precision != hbt_model::Precision::F16 {
                return bad("--loss-scale applies to --precision f16 only".into());
            }
            if !(1.0..=crate::scaler::MAX_SCALE).contains(&s) {
                return bad(format!("--loss-scale must lie in [1, 2^24], got {s}"));
            }
        }
        if self.max_query_len < 3 || self.max_passage_len < 3 {
            return bad("max query/passage lengths must be at least 3 tokens".into());
        }
        Ok(())
    }

    /// Learning rate at `step` (1-based): linear warm-up, then linear decay to 0.
    pub fn lr_at(&self, step: usize) -> f64 {
        if self.warmup_steps > 0 && step <= self.warmup_steps {
            return self.lr * step as f64 / self.warmup_steps as f64;
        }
        let rest = self.max_steps.saturating_sub(self.warmup_steps).max(1) as f64;
        let done = step.saturating_sub(self.warmup_steps) as f64;
        (self.lr * (1.0 - done / rest)).max(0.0)
    }
}
