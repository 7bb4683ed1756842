//! The training loop.
//!
//! Written by hand rather than on burn-train's `Learner`: a step here draws its batch from
//! the hybrid sampler (whose position is part of the checkpoint, for exact resume), may run
//! gradient caching over micro-batches, and saves the model in Hugging Face layout, none of
//! which the Learner's dataloader/checkpointer model expresses.

//!
//! [`batch`] turns a sampler's batch into texts, [`step`] is one optimisation step (with
//! GradCache), [`checkpoint`] the durable checkpoint format, [`run`] the loop that ties
//! them to a run directory, and [`summary`] what a run leaves behind.

pub mod batch;
pub mod checkpoint;
pub mod parallel;
pub mod progress;
pub mod run;
pub mod step;
pub mod summary;

use std::cell::Cell;
use std::path::Path;
use std::rc::Rc;

use burn::module::Module;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::prelude::*;
use hbt_data::sampler::{Batch, PairSpace};
use hbt_model::bert::Bert;
use hbt_model::{Encoder, EncoderOptions, ModelFiles, TextKind, TextTokenizer, TokenBatch};

pub use batch::TrainData;
pub use checkpoint::{CheckpointState, Fingerprint};
pub use progress::{Progress, ProgressBarSink, Silent, StopHandle, StopReason};
pub use run::{Evaluation, TrainOptions, train};
pub use summary::{Communication, LogLine, RankInfo, Summary};

use crate::collective::{Collective, CommStats};
use crate::config::{Batching, TrainConfig};
use crate::error::Result;
use crate::loss::info_nce;

pub struct Trainer {
    pub cfg: TrainConfig,
    pub enc: Encoder,
    q_tok: TextTokenizer,
    p_tok: TextTokenizer,
    optim: ModuleOptimizer,
    files: ModelFiles,
    /// Bytes written to the disk so far (checkpoints and models).
    bytes_written: std::cell::Cell<u64>,
    /// What loading a checkpoint had to work around.
    pub warnings: Vec<String>,
    /// The global gradient norm of the last step, before clipping.
    pub last_grad_norm: Option<f64>,
    /// Stands in for the disk's free space when checking room for a checkpoint (tests).
    pub pretend_free_bytes: Option<u64>,
    /// The ranks this trainer is one of ([`crate::Solo`] on one device).
    comm: Rc<dyn Collective>,
    /// Bytes and seconds spent communicating, since the run started.
    comm_stats: Cell<CommStats>,
    /// Keep each step's gradients of the loss with respect to the batch's embeddings in
    /// `last_embedding_grads` (tests compare runs through them).
    pub capture_embedding_grads: bool,
    pub last_embedding_grads: Option<step::EmbeddingGrads>,
    token_slots: Cell<TokenSlots>,
    /// f16 training's dynamic loss scale (None in f32 and bf16, which need none).
    pub scaler: Option<crate::scaler::LossScaler>,
    /// Whether the last step was skipped for an overflow (f16).
    pub last_skipped: bool,
}

/// Token slots the forward passes computed (`texts × padded length`, summed), what padding
/// each side as one batch would have computed, and the real tokens among them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenSlots {
    pub computed: usize,
    pub padded: usize,
    pub real: usize,
}

impl Trainer {
    /// Load the initial model on `device` (autodiff is added here).
    pub fn new(model_dir: &Path, device: &Device, cfg: TrainConfig) -> Result<Self> {
        cfg.validate()?;
        let files = ModelFiles::read_dir(model_dir)?;
        let mut weightless = files.clone();
        weightless.weights.clear();
        // Each side pads to its batch's longest text, rounded up as the device prefers
        // (hbt_model::pad_multiple): the encoder starts with it.
        let device = device.clone().autodiff();
        let options = EncoderOptions {
            precision: cfg.precision,
            ..Default::default()
        };
        let mut enc = Encoder::from_files(files, &device, &options)?;
        let q_tok = enc.tokenizer.with_max_len(cfg.max_query_len)?;
        let p_tok = enc.tokenizer.with_max_len(cfg.max_passage_len)?;
        // Gradients are clipped by their global norm in `step` (crate::clip), not by
        // Burn's per-tensor option.
        let adamw = AdamWConfig::new()
            .with_weight_decay(cfg.weight_decay as f32)
            .with_epsilon(1e-8);
        enc.bert = enc.bert.clone().train();
        let scaler = (cfg.precision == hbt_model::Precision::F16)
            .then(|| crate::scaler::LossScaler::new(cfg.loss_scale.unwrap_or(crate::scaler::INITIAL_SCALE)));
        Ok(Self {
            cfg,
            enc,
            q_tok,
            p_tok,
            optim: adamw.init(),
            files: weightless,
            bytes_written: Default::default(),
            warnings: Vec::new(),
            last_grad_norm: None,
            pretend_free_bytes: None,
            comm: Rc::new(crate::Solo),
            comm_stats: Cell::default(),
            capture_embedding_grads: false,
            last_embedding_grads: None,
            token_slots: Cell::default(),
            scaler,
            last_skipped: false,
        })
    }

    /// Tokenize texts as training does: the kind's prefix, its length limit, padding.
    fn tokenize(&self, texts: &[String], kind: TextKind) -> Result<TokenBatch> {
        self.tokenize_padded(texts, kind, 0)
    }

    /// As [`Trainer::tokenize`], padded to at least `min_seq` tokens.
    fn tokenize_padded(&self, texts: &[String], kind: TextKind, min_seq: usize) -> Result<TokenBatch> {
        let tok = if kind == TextKind::Query {
            &self.q_tok
        } else {
            &self.p_tok
        };
        let prefixed: Vec<String> = texts.iter().map(|t| self.enc.prefixes.apply(kind, t)).collect();
        let refs: Vec<&str> = prefixed.iter().map(String::as_str).collect();
        Ok(tok.encode_padded(&refs, min_seq)?)
    }

    /// Sentence vectors of `texts`, in order, laid out as [`TrainConfig::batching`] says.
    fn embed(&self, bert: &Bert, texts: &[String], kind: TextKind, device: &Device) -> Result<Tensor<2>> {
        let batch = self.tokenize(texts, kind)?;
        let (padded, real) = batch.slots();
        if self.cfg.batching == Batching::Packed && !texts.is_empty() {
            // Rows as long as the longest text: longer ones would fit more texts a row but
            // spend more on attention across the (masked) row.
            let packed = batch.pack(0, self.enc.tokenizer.pad_multiple);
            self.count_slots(packed.tokens.slots().0, padded, real);
            return Ok(self.enc.forward_with(bert, &self.enc.to_device_packed(&packed, device)));
        }
        let groups = if self.cfg.batching == Batching::Groups {
            let c = &self.enc.config;
            // Attention's work per token grows with the length: 4·h·L multiply-adds against
            // the linears' 2·(4h² + 2h·i), so its share per token of length is 1/(2h + i).
            let attention = 1.0 / (2 * c.hidden_size + c.intermediate_size) as f64;
            // What one more forward pass costs, in token slots. CPU: measured (e5-small, batch
            // 32, 2 threads, Intel Xeon; docs/performance.md) — 256 beat 16, 64 and 1024 in
            // f32 and bf16 alike (each pass packs every weight for the gemm, and in bf16 casts
            // it). GPU: hundreds of kernel launches a pass, and every new shape compiles its
            // kernels — a guess, unmeasured.
            let cpu = hbt_model::is_cpu(&device.clone().without_autodiff());
            let pass = if cpu { 256.0 } else { 4096.0 };
            hbt_model::length_buckets(&batch.lengths, self.enc.tokenizer.pad_multiple, attention, pass)
        } else {
            vec![(0..texts.len()).collect()]
        };
        if groups.len() == 1 {
            self.count_slots(padded, padded, real);
            return Ok(self.enc.forward_with(bert, &self.enc.to_device(&batch, device)));
        }
        let mut parts = Vec::with_capacity(groups.len());
        let mut inverse = vec![0i64; texts.len()];
        let mut at = 0;
        for g in &groups {
            let sub = batch.select(g, self.enc.tokenizer.pad_multiple);
            self.count_slots(sub.slots().0, 0, 0);
            parts.push(self.enc.forward_with(bert, &self.enc.to_device(&sub, device)));
            for &i in g {
                inverse[i] = at as i64;
                at += 1;
            }
        }
        self.count_slots(0, padded, real);
        let n = inverse.len();
        let idx = Tensor::<1, Int>::from_data(TensorData::new(inverse, [n]), device);
        Ok(Tensor::cat(parts, 0).select(0, idx))
    }

    fn count_slots(&self, computed: usize, padded: usize, real: usize) {
        let mut s = self.token_slots.get();
        s.computed += computed;
        s.padded += padded;
        s.real += real;
        self.token_slots.set(s);
    }

    /// Token slots computed since the last call (and reset).
    pub fn take_token_slots(&self) -> TokenSlots {
        self.token_slots.take()
    }

    fn embed_padded(
        &self,
        bert: &Bert,
        texts: &[String],
        kind: TextKind,
        device: &Device,
        min_seq: usize,
    ) -> Result<Tensor<2>> {
        let t = self.enc.to_device(&self.tokenize_padded(texts, kind, min_seq)?, device);
        Ok(self.enc.forward_with(bert, &t))
    }

    /// A batch's queries and passages as the training step tokenizes them (prefixes,
    /// truncation, padding): what a benchmark hands to another framework, and what padding
    /// statistics are computed from.
    pub fn tokenized(&self, data: &TrainData, batch: &Batch) -> Result<(TokenBatch, TokenBatch)> {
        let (q, p, _) = data.texts(&data.train, batch, self.cfg.hard_negatives)?;
        Ok((
            self.tokenize(&q, TextKind::Query)?,
            self.tokenize(&p, TextKind::Passage)?,
        ))
    }

    /// Waits until the device has run all queued work (GPU queues are asynchronous: a
    /// timing that ends without this leaves the last optimizer step uncounted).
    pub fn sync(&self) {
        // Reading one value back waits for every kernel queued before it.
        let _ = self
            .enc
            .bert
            .embeddings
            .position
            .weight
            .val()
            .slice([0..1, 0..1])
            .into_data();
    }

    /// The loss of one batch without gradients.
    pub fn eval_loss(&self, data: &TrainData, spaces: &[PairSpace], batch: &Batch) -> Result<f64> {
        let plain = self.enc.device.clone().without_autodiff();
        let bert = self.enc.bert.valid();
        let (q, p, h) = data.texts(spaces, batch, self.cfg.hard_negatives)?;
        let qv = self.embed(&bert, &q, TextKind::Query, &plain)?;
        let pv = self.embed(&bert, &p, TextKind::Passage, &plain)?;
        let hv = if h.is_empty() {
            None
        } else {
            Some(self.embed(&bert, &h, TextKind::Passage, &plain)?)
        };
        Ok(info_nce(qv, pv, hv, self.cfg.temperature, self.cfg.symmetric).into_scalar::<f32>() as f64)
    }

    /// Train as one rank of `comm`'s job: each step embeds this rank's share of the batch.
    pub fn set_collective(&mut self, comm: Rc<dyn Collective>) {
        self.comm = comm;
    }

    pub fn collective(&self) -> &dyn Collective {
        &*self.comm
    }

    /// Bytes and seconds spent communicating so far.
    pub fn comm_stats(&self) -> CommStats {
        self.comm_stats.get()
    }

    /// Runs a collective, counting its time.
    fn communicate<T>(&self, f: impl FnOnce(&dyn Collective) -> T) -> T {
        let mut s = self.comm_stats.get();
        let r = s.time(|| f(&*self.comm));
        self.comm_stats.set(s);
        r
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.get()
    }

    fn wrote(&self, n: u64) {
        self.bytes_written.set(self.bytes_written.get() + n);
    }
}
