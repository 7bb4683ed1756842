//! The training loop.
//!
//! Written by hand rather than on burn-train's `Learner`: a step here draws its batch from
//! the hybrid sampler (whose position is part of the checkpoint, for exact resume), may run
//! gradient caching over micro-batches, and saves the model in Hugging Face layout, none of
//! which the Learner's dataloader/checkpointer model expresses.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use hbt_data::sampler::{Batch, PairSpace, Sampler, SamplerKind};
use hbt_data::{Corpus, split};
use hbt_model::bert::Bert;
use hbt_model::{Encoder, EncoderOptions, ModelFiles, SaveDtype, SaveOptions, TextKind, TextTokenizer, TokenBatch};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::durable::{self, RunLock, Verified};
use crate::error::{Result, TrainError};
use crate::loss::info_nce;

/// The training and dev pair spaces of the corpora.
pub struct TrainData {
    pub corpora: Vec<Corpus>,
    pub train: Vec<PairSpace>,
    pub dev: Vec<PairSpace>,
}

impl TrainData {
    pub fn new(corpora: Vec<Corpus>, cfg: &TrainConfig) -> Result<Self> {
        if corpora.is_empty() {
            return Err(TrainError::Config("no training corpus given".into()));
        }
        let mut train = Vec::new();
        let mut dev = Vec::new();
        for c in &corpora {
            for l in &cfg.train_langs {
                if !c.langs.contains_key(l) && corpora.iter().all(|c| !c.langs.contains_key(l)) {
                    return Err(TrainError::Config(format!(
                        "--train-langs: `{l}` is in none of the training corpora"
                    )));
                }
            }
            let langs = if cfg.train_langs.is_empty() {
                None
            } else {
                Some(cfg.train_langs.as_slice())
            };
            let s = split::split_by_article(c, cfg.dev_fraction, cfg.seed);
            train.push(split::pair_space(c, Some(&s.train), langs));
            dev.push(split::pair_space(c, Some(&s.dev), langs));
        }
        if train.iter().all(|s| s.pair_count() == 0) {
            return Err(TrainError::Config(
                "the training corpus is empty: no (question, answer) pairs in the chosen languages".into(),
            ));
        }
        Ok(Self { corpora, train, dev })
    }

    /// (question, positive passage, hard negative) texts of a batch.
    fn texts(&self, spaces: &[PairSpace], batch: &Batch, hard: bool) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut q = Vec::new();
        let mut p = Vec::new();
        let mut h = Vec::new();
        for pair in &batch.pairs {
            let space = &spaces[pair.space];
            let corpus = &self.corpora[pair.space];
            let id = &space.groups[pair.group].id;
            let ql = &corpus.langs[&space.langs[pair.qlang as usize]];
            let pl = &corpus.langs[&space.langs[pair.plang as usize]];
            q.push(ql.questions[ql.by_id[id]].text.clone());
            let pq = &pl.questions[pl.by_id[id]];
            p.push(pl.candidates[pq.answer].text.clone());
            if hard {
                // The next sentence of the same paragraph (or the previous one at its end).
                let sents = pl.paragraphs[pq.paragraph].sentences.clone();
                let other = if pq.answer + 1 < sents.end {
                    pq.answer + 1
                } else if pq.answer > sents.start {
                    pq.answer - 1
                } else {
                    pq.answer
                };
                if other != pq.answer {
                    h.push(pl.candidates[other].text.clone());
                }
            }
        }
        (q, p, h)
    }
}

/// What identifies the model a checkpoint belongs to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fingerprint {
    pub architecture: String,
    pub hidden_size: usize,
    pub layers: usize,
    pub vocab_size: usize,
    pub parameters: usize,
}

impl Fingerprint {
    fn of(enc: &Encoder) -> Self {
        Self {
            architecture: enc.config.architecture.model_type().into(),
            hidden_size: enc.config.hidden_size,
            layers: enc.config.num_hidden_layers,
            vocab_size: enc.config.vocab_size,
            parameters: enc.config.parameter_count(enc.bert.pooler.is_some()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckpointState {
    pub step: usize,
    /// Sampler position of the next batch.
    pub epoch: u64,
    pub batch_index: usize,
    pub best_val: Option<f64>,
    pub bad_evals: usize,
    pub config: TrainConfig,
    pub model: Fingerprint,
}

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
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub steps: usize,
    pub initial_val_loss: Option<f64>,
    pub best_val_loss: Option<f64>,
    pub final_val_loss: Option<f64>,
    pub seconds: f64,
    pub pairs_per_s: f64,
    pub stopped: String,
    pub model_dir: PathBuf,
    pub config: TrainConfig,
    /// What ran the training (filled in by the caller that chose the device).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<hbt_model::DeviceInfo>,
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
}

/// Names of the files in a checkpoint directory, in the order they are written.
const CHECKPOINT_FILES: [&str; 3] = ["model.safetensors", "optimizer.bpk", "state.json"];

impl Trainer {
    /// Load the initial model on `device` (autodiff is added here).
    pub fn new(model_dir: &Path, device: &Device, cfg: TrainConfig) -> Result<Self> {
        cfg.validate()?;
        let files = ModelFiles::read_dir(model_dir)?;
        let mut weightless = files.clone();
        weightless.weights.clear();
        // Each side pads to its batch's longest text, rounded up: to 8 on the CPU (SIMD
        // width, little waste), to 32 on GPUs so a run compiles a handful of kernel shapes
        // (2 query and 4 passage lengths at 64/128 tokens) instead of one per batch.
        let pad_multiple = if hbt_model::is_cpu(&device.clone().without_autodiff()) {
            8
        } else {
            32
        };
        let device = device.clone().autodiff();
        let options = EncoderOptions {
            precision: cfg.precision,
            ..Default::default()
        };
        let mut enc = Encoder::from_files(files, &device, &options)?;
        enc.tokenizer.pad_multiple = pad_multiple;
        let q_tok = enc.tokenizer.with_max_len(cfg.max_query_len)?;
        let p_tok = enc.tokenizer.with_max_len(cfg.max_passage_len)?;
        // Gradients are clipped by their global norm in `step` (crate::clip), not by
        // Burn's per-tensor option.
        let adamw = AdamWConfig::new()
            .with_weight_decay(cfg.weight_decay as f32)
            .with_epsilon(1e-8);
        enc.bert = enc.bert.clone().train();
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
        })
    }

    /// Tokenize texts as training does: the kind's prefix, its length limit, padding.
    fn tokenize(&self, texts: &[String], kind: TextKind) -> Result<TokenBatch> {
        let tok = if kind == TextKind::Query {
            &self.q_tok
        } else {
            &self.p_tok
        };
        let prefixed: Vec<String> = texts.iter().map(|t| self.enc.prefixes.apply(kind, t)).collect();
        let refs: Vec<&str> = prefixed.iter().map(String::as_str).collect();
        Ok(tok.encode(&refs)?)
    }

    fn embed(&self, bert: &Bert, texts: &[String], kind: TextKind, device: &Device) -> Result<Tensor<2>> {
        let t = self.enc.to_device(&self.tokenize(texts, kind)?, device);
        Ok(self.enc.forward_with(bert, &t))
    }

    /// A batch's queries and passages as the training step tokenizes them (prefixes,
    /// truncation, padding): what a benchmark hands to another framework, and what padding
    /// statistics are computed from.
    pub fn tokenized(&self, data: &TrainData, batch: &Batch) -> Result<(TokenBatch, TokenBatch)> {
        let (q, p, _) = data.texts(&data.train, batch, self.cfg.hard_negatives);
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
        let (q, p, h) = data.texts(spaces, batch, self.cfg.hard_negatives);
        let qv = self.embed(&bert, &q, TextKind::Query, &plain)?;
        let pv = self.embed(&bert, &p, TextKind::Passage, &plain)?;
        let hv = if h.is_empty() {
            None
        } else {
            Some(self.embed(&bert, &h, TextKind::Passage, &plain)?)
        };
        Ok(info_nce(qv, pv, hv, self.cfg.temperature, self.cfg.symmetric).into_scalar::<f32>() as f64)
    }

    /// One optimisation step on a batch; returns the loss.
    pub fn step(&mut self, data: &TrainData, batch: &Batch, lr: f64) -> Result<f64> {
        let (q, p, h) = data.texts(&data.train, batch, self.cfg.hard_negatives);
        let dev = self.enc.device.clone();
        let (loss, grads) = match self.cfg.micro_batch.filter(|&m| m < q.len()) {
            None => {
                let qv = self.embed(&self.enc.bert, &q, TextKind::Query, &dev)?;
                let pv = self.embed(&self.enc.bert, &p, TextKind::Passage, &dev)?;
                let hv = if h.is_empty() {
                    None
                } else {
                    Some(self.embed(&self.enc.bert, &h, TextKind::Passage, &dev)?)
                };
                let loss = info_nce(qv, pv, hv, self.cfg.temperature, self.cfg.symmetric);
                let value = loss.clone().into_scalar::<f32>() as f64;
                let grads = GradientsParams::from_grads(loss.backward(), &self.enc.bert);
                (value, grads)
            }
            Some(m) => self.grad_cache_step(&q, &p, &h, m)?,
        };
        let mut grads = grads;
        self.last_grad_norm = Some(match self.cfg.grad_clip {
            Some(c) => crate::clip::clip_global_norm(&self.enc.bert, &mut grads, c),
            None => crate::clip::global_norm(&self.enc.bert, &grads),
        });
        self.enc.bert = self.optim.step(lr, self.enc.bert.clone(), grads);
        Ok(loss)
    }

    /// Gradient caching (Gao et al. 2021): embed the whole batch without gradients, take the
    /// loss's gradient with respect to the embeddings, then re-run each micro-batch with
    /// gradients and back-propagate `<embedding, cached gradient>`. Exact full-batch
    /// negatives at the memory of one micro-batch, for one extra forward pass.
    fn grad_cache_step(&self, q: &[String], p: &[String], h: &[String], m: usize) -> Result<(f64, GradientsParams)> {
        let dev = self.enc.device.clone();
        let plain = dev.clone().without_autodiff();
        let frozen = self.enc.bert.valid();
        let embed_all = |texts: &[String], kind: TextKind| -> Result<Tensor<2>> {
            let parts: Vec<Tensor<2>> = texts
                .chunks(m)
                .map(|c| self.embed(&frozen, c, kind, &plain))
                .collect::<Result<_>>()?;
            Ok(Tensor::cat(parts, 0))
        };
        // Micro-batches of texts sorted by token length, so each pads only to texts of
        // about its own length; the loss sees the embeddings back in batch order.
        let sorted = |texts: &[String], kind: TextKind| -> Result<(Vec<String>, Tensor<2>, Tensor<2>)> {
            let lengths = self.tokenize(texts, kind)?.lengths;
            let mut order: Vec<usize> = (0..texts.len()).collect();
            order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
            let mut inverse = vec![0i64; order.len()];
            for (j, &i) in order.iter().enumerate() {
                inverse[i] = j as i64;
            }
            let texts: Vec<String> = order.iter().map(|&i| texts[i].clone()).collect();
            let leaf = Tensor::<2>::from_data(embed_all(&texts, kind)?.into_data(), &dev).require_grad();
            let n = inverse.len();
            let in_order = leaf
                .clone()
                .select(0, Tensor::<1, Int>::from_data(TensorData::new(inverse, [n]), &dev));
            Ok((texts, leaf, in_order))
        };
        let (qs, ql, qv) = sorted(q, TextKind::Query)?;
        let (ps, pl, pv) = sorted(p, TextKind::Passage)?;
        let hard = if h.is_empty() {
            None
        } else {
            Some(sorted(h, TextKind::Passage)?)
        };
        let loss = info_nce(
            qv,
            pv,
            hard.as_ref().map(|x| x.2.clone()),
            self.cfg.temperature,
            self.cfg.symmetric,
        );
        let value = loss.clone().into_scalar::<f32>() as f64;
        let g = loss.backward();
        let cached = |t: &Tensor<2>| t.grad(&g).map(|x| Tensor::<2>::from_data(x.into_data(), &dev));
        let (gq, gp) = (cached(&ql), cached(&pl));
        let gh = hard.as_ref().and_then(|x| cached(&x.1));
        let hs: &[String] = hard.as_ref().map(|x| x.0.as_slice()).unwrap_or(&[]);
        let mut acc = GradientsAccumulator::new();
        for (texts, kind, grad) in [
            (qs.as_slice(), TextKind::Query, gq),
            (ps.as_slice(), TextKind::Passage, gp),
            (hs, TextKind::Passage, gh),
        ] {
            let Some(grad) = grad else { continue };
            for (i, c) in texts.chunks(m).enumerate() {
                let e = self.embed(&self.enc.bert, c, kind, &dev)?;
                let rows = c.len();
                let gslice = grad.clone().slice(s![i * m..i * m + rows, ..]);
                let surrogate = (e * gslice).sum();
                acc.accumulate(
                    &self.enc.bert,
                    GradientsParams::from_grads(surrogate.backward(), &self.enc.bert),
                );
            }
        }
        Ok((value, acc.grads()))
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.get()
    }

    fn wrote(&self, n: u64) {
        self.bytes_written.set(self.bytes_written.get() + n);
    }

    /// A checkpoint's size on the disk: the last one's, or weights plus AdamW's two moments.
    fn checkpoint_size(&self, ckpts: &Path) -> u64 {
        if let Ok(name) = std::fs::read_to_string(ckpts.join("latest"))
            && let Some(m) = durable::read_manifest(&ckpts.join(name.trim()))
        {
            return m.total_bytes();
        }
        self.enc.bert.num_params() as u64 * 4 * 3 + (1 << 20)
    }

    /// Write a checkpoint durably: files, their checksums, a rename into place, then the
    /// `latest` pointer, each flushed to the disk before the next step depends on it. A
    /// crash at any point leaves `latest` naming a whole checkpoint. Keeps the newest
    /// `keep_last`.
    fn save_checkpoint(&self, dir: &Path, state: &CheckpointState) -> Result<()> {
        let ckpts = dir.join("checkpoints");
        std::fs::create_dir_all(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?;
        durable::ensure_space(&ckpts, self.checkpoint_size(&ckpts))?;
        let name = format!("step-{:07}", state.step);
        let tmp = ckpts.join(format!(".{name}.partial"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        let weights = hbt_model::weights::to_safetensors(&self.enc.bert, SaveDtype::F32)?;
        durable::write_synced(&tmp.join(CHECKPOINT_FILES[0]), &weights)?;
        drop(weights);
        let opt = tmp.join(CHECKPOINT_FILES[1]);
        self.optim.save(&opt).map_err(|e| TrainError::Checkpoint {
            path: tmp.clone(),
            message: format!("saving optimizer state: {e:?}"),
        })?;
        durable::sync_file(&opt)?;
        durable::write_synced(
            &tmp.join(CHECKPOINT_FILES[2]),
            &serde_json::to_vec_pretty(state).expect("state serializes"),
        )?;
        let manifest = durable::write_manifest(&tmp, &CHECKPOINT_FILES)?;
        self.wrote(manifest.total_bytes());
        durable::sync_dir(&tmp)?;
        let fin = ckpts.join(&name);
        if fin.exists() {
            std::fs::remove_dir_all(&fin).map_err(|e| TrainError::io(&fin, e))?;
        }
        std::fs::rename(&tmp, &fin).map_err(|e| TrainError::io(&fin, e))?;
        durable::sync_dir(&ckpts)?;
        // The pointer moves only once the checkpoint is complete on the disk.
        durable::write_atomic(&ckpts.join("latest"), name.as_bytes())?;
        let all = checkpoint_dirs(&ckpts)?;
        for old in all.iter().skip(self.cfg.keep_last) {
            if old != &fin {
                std::fs::remove_dir_all(old).map_err(|e| TrainError::io(old, e))?;
            }
        }
        Ok(())
    }

    /// Load the newest intact checkpoint under `dir`, checking it belongs to this model and
    /// config. One whose files fail their manifest (a crash, a full disk, bit rot) is passed
    /// over with a warning in favour of the one before it.
    pub fn load_checkpoint(&mut self, dir: &Path) -> Result<Option<CheckpointState>> {
        let ckpts = dir.join("checkpoints");
        let latest = std::fs::read_to_string(ckpts.join("latest")).ok();
        let mut candidates = checkpoint_dirs(&ckpts).unwrap_or_default();
        if let Some(name) = latest.as_deref().map(str::trim) {
            let named = ckpts.join(name);
            if named.is_dir() {
                candidates.retain(|p| p != &named);
                candidates.insert(0, named);
            } else {
                self.warnings.push(format!(
                    "{} names `{name}`, which is missing; looking for an earlier checkpoint",
                    ckpts.join("latest").display()
                ));
            }
        } else if candidates.is_empty() {
            return Ok(None);
        }
        let mut damaged = Vec::new();
        for path in candidates {
            match durable::verify(&path) {
                Verified::Intact(_) => {}
                Verified::Unverifiable => self.warnings.push(format!(
                    "checkpoint {} has no manifest (written by an older hbt); loading it unverified",
                    path.display()
                )),
                Verified::Damaged(why) => {
                    self.warnings.push(format!(
                        "checkpoint {} is damaged ({why}); falling back to the one before it",
                        path.display()
                    ));
                    damaged.push(format!("{}: {why}", path.display()));
                    continue;
                }
            }
            return self.load_checkpoint_dir(&path).map(Some);
        }
        Err(TrainError::Checkpoint {
            path: ckpts,
            message: if damaged.is_empty() {
                "`latest` names no checkpoint and none is left; start again without --resume".into()
            } else {
                format!(
                    "every checkpoint is damaged ({}); start again without --resume",
                    damaged.join("; ")
                )
            },
        })
    }

    fn load_checkpoint_dir(&mut self, path: &Path) -> Result<CheckpointState> {
        let path = path.to_path_buf();
        let err = |m: String| TrainError::Checkpoint {
            path: path.clone(),
            message: m,
        };
        let state: CheckpointState = serde_json::from_slice(
            &std::fs::read(path.join("state.json")).map_err(|e| TrainError::io(path.join("state.json"), e))?,
        )
        .map_err(|e| err(format!("state.json: {e}")))?;
        let mine = Fingerprint::of(&self.enc);
        if state.model != mine {
            return Err(err(format!(
                "was written for another model ({:?}); this model is {:?}",
                state.model, mine
            )));
        }
        let mut a = state.config.clone();
        let mut b = self.cfg.clone();
        for c in [&mut a, &mut b] {
            c.max_steps = 0;
            c.patience = 0;
            c.eval_every = 0;
            c.checkpoint_every = 0;
            c.keep_last = 1;
            c.keep_checkpoints = false;
        }
        if a != b {
            return Err(err(
                "was written with other training settings (sampler, batch, seed, lr, …); resume with the same ones"
                    .into(),
            ));
        }
        let mut files = self.files.clone();
        let wpath = path.join("model.safetensors");
        files.weights = vec![(
            wpath.clone(),
            std::fs::read(&wpath).map_err(|e| TrainError::io(&wpath, e))?,
        )];
        let enc = Encoder::from_files(files, &self.enc.device, &EncoderOptions::default())?;
        self.enc.bert = enc.bert.train();
        let optim = std::mem::replace(&mut self.optim, AdamWConfig::new().init());
        self.optim = optim
            .load(path.join("optimizer.bpk"))
            .map_err(|e| err(format!("optimizer state: {e:?}")))?;
        Ok(state)
    }

    pub fn save_model(&self, dir: &Path) -> Result<()> {
        self.enc.save(
            dir,
            &self.files,
            SaveOptions {
                dtype: SaveDtype::F32,
                overwrite: true,
            },
        )?;
        // A crash must not leave `best/` or `model/` half-written behind a summary that
        // points at it.
        let mut bytes = 0;
        for e in std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?.flatten() {
            if e.file_type().is_ok_and(|t| t.is_file()) {
                durable::sync_file(&e.path())?;
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
        durable::sync_dir(dir)?;
        self.wrote(bytes);
        Ok(())
    }
}

/// `step-*` checkpoint directories under `ckpts`, newest first.
fn checkpoint_dirs(ckpts: &Path) -> Result<Vec<PathBuf>> {
    let rd = match std::fs::read_dir(ckpts) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(TrainError::io(ckpts, e)),
    };
    let mut all: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("step-")))
        .collect();
    all.sort();
    all.reverse();
    Ok(all)
}

/// Train and write `out/model`, `out/train-log.jsonl`, `out/summary.json`.
pub fn train(
    model_dir: &Path,
    corpora: Vec<Corpus>,
    device: &Device,
    cfg: TrainConfig,
    out: &Path,
    resume: bool,
    stop: Arc<AtomicBool>,
    show: bool,
) -> Result<Summary> {
    cfg.validate()?;
    let data = TrainData::new(corpora, &cfg)?;
    let kind = SamplerKind::parse(&cfg.sampler, cfg.alpha)?;
    let sampler = Sampler::new(data.train.clone(), kind, cfg.batch_size, cfg.seed)?;
    let dev_groups = data.dev.iter().map(|s| s.groups.len()).max().unwrap_or(0);
    let val_batches: Vec<Batch> = if dev_groups >= 2 && cfg.eval_every > 0 {
        let vs = Sampler::new(data.dev.clone(), kind, cfg.batch_size.min(dev_groups), cfg.seed ^ 0xDE7)?;
        vs.stream(0, 0).take(cfg.val_batches).map(|(_, _, b)| b).collect()
    } else {
        Vec::new()
    };
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    let _lock = RunLock::acquire(out)?;
    let finished = out.join("summary.json").is_file();
    if finished && !out.join("checkpoints/latest").exists() {
        return Err(TrainError::Config(if resume {
            format!(
                "{}: this run finished and kept no checkpoint to resume from (train with --keep-checkpoints to extend a run later)",
                out.display()
            )
        } else {
            format!(
                "{} already holds a finished training run; choose another --out",
                out.display()
            )
        }));
    }
    let mut trainer = Trainer::new(model_dir, device, cfg.clone())?;
    let fp = Fingerprint::of(&trainer.enc);
    let mut state = CheckpointState {
        step: 0,
        epoch: 0,
        batch_index: 0,
        best_val: None,
        bad_evals: 0,
        config: cfg.clone(),
        model: fp,
    };
    if resume {
        match trainer.load_checkpoint(out)? {
            Some(s) => state = s,
            None => {
                return Err(TrainError::Config(format!(
                    "--resume: no checkpoint under {}",
                    out.join("checkpoints").display()
                )));
            }
        }
        state.config = cfg.clone();
        for w in &trainer.warnings {
            eprintln!("hbt: warning: {w}");
        }
    } else if out.join("checkpoints/latest").exists() {
        return Err(TrainError::Config(format!(
            "{} already holds a training run; pass --resume to continue it, or another --out",
            out.display()
        )));
    }
    let log_path = out.join("train-log.jsonl");
    if resume && log_path.exists() {
        // Steps logged after the checkpoint are replayed; drop their old lines so the log
        // reads as one uninterrupted run.
        let text = std::fs::read_to_string(&log_path).map_err(|e| TrainError::io(&log_path, e))?;
        let keep: String = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["step"].as_u64())
                    .is_some_and(|s| s as usize <= state.step)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        durable::write_atomic(&log_path, keep.as_bytes())?;
    }
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| TrainError::io(&log_path, e))?;
    let val = |t: &Trainer| -> Result<Option<f64>> {
        if val_batches.is_empty() {
            return Ok(None);
        }
        let mut s = 0.0;
        for b in &val_batches {
            s += t.eval_loss(&data, &data.dev, b)?;
        }
        Ok(Some(s / val_batches.len() as f64))
    };
    let t0 = Instant::now();
    let initial_val = if state.step == 0 {
        val(&trainer)?
    } else {
        // A resumed run reports the validation loss its first part measured before step 1.
        std::fs::read_to_string(&log_path).ok().and_then(|t| {
            t.lines()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .find(|v| v["step"].as_u64() == Some(0))
                .and_then(|v| v["val_loss"].as_f64())
        })
    };
    if let (0, Some(v)) = (state.step, initial_val) {
        writeln!(log, "{}", serde_json::json!({"step": 0, "val_loss": v})).map_err(|e| TrainError::io(&log_path, e))?;
    }
    let bar = if show {
        ProgressBar::new(cfg.max_steps as u64)
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} step {pos}/{len} [{bar:30}] {msg} eta {eta}")
            .expect("template")
            .progress_chars("=> "),
    );
    bar.set_position(state.step as u64);
    let mut pairs_done = 0usize;
    let mut last_val = None;
    let mut stopped = "max steps".to_string();
    let best_dir = out.join("best");
    let mut stream = sampler.stream(state.epoch, state.batch_index);
    let step_delay: Option<u64> = std::env::var("HBT_TEST_STEP_DELAY_MS")
        .ok()
        .and_then(|v| v.parse().ok());
    while state.step < cfg.max_steps {
        if stop.load(Ordering::SeqCst) {
            stopped = "interrupted".into();
            break;
        }
        let Some((epoch, index, batch)) = stream.next() else {
            stopped = "sampler exhausted".into();
            break;
        };
        let step_t = Instant::now();
        let lr = cfg.lr_at(state.step + 1);
        let loss = trainer.step(&data, &batch, lr)?;
        state.step += 1;
        state.epoch = epoch;
        state.batch_index = index + 1;
        pairs_done += batch.pairs.len();
        let pps = batch.pairs.len() as f64 / step_t.elapsed().as_secs_f64();
        let mut line = LogLine {
            step: state.step,
            epoch,
            kind: format!("{:?}", batch.kind).to_lowercase(),
            loss,
            lr,
            pairs_per_s: pps,
            grad_norm: trainer.last_grad_norm,
            val_loss: None,
        };
        if cfg.eval_every > 0 && state.step % cfg.eval_every == 0 {
            if let Some(v) = val(&trainer)? {
                line.val_loss = Some(v);
                last_val = Some(v);
                if state.best_val.is_none_or(|b| v < b) {
                    state.best_val = Some(v);
                    state.bad_evals = 0;
                    trainer.save_model(&best_dir)?;
                } else {
                    state.bad_evals += 1;
                }
            }
        }
        writeln!(log, "{}", serde_json::to_string(&line).expect("log line"))
            .map_err(|e| TrainError::io(&log_path, e))?;
        bar.set_position(state.step as u64);
        bar.set_message(format!(
            "loss {loss:.4} lr {lr:.2e} {pps:.1} pairs/s{}",
            last_val.map(|v| format!(" val {v:.4}")).unwrap_or_default()
        ));
        if cfg.checkpoint_every > 0 && state.step % cfg.checkpoint_every == 0 {
            trainer.save_checkpoint(out, &state)?;
        }
        if let Some(ms) = step_delay {
            // Test hook: slows steps down so a test can kill the process mid-run.
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
        if cfg.patience > 0 && state.bad_evals >= cfg.patience {
            stopped = "early stopping".into();
            break;
        }
    }
    bar.finish_and_clear();
    let interrupted = stopped == "interrupted";
    // An interrupted run needs its checkpoint to resume; a finished one only on request.
    if interrupted || cfg.keep_checkpoints {
        trainer.save_checkpoint(out, &state)?;
    }
    let model_dir_out = out.join("model");
    if model_dir_out.exists() {
        std::fs::remove_dir_all(&model_dir_out).map_err(|e| TrainError::io(&model_dir_out, e))?;
    }
    if best_dir.join("model.safetensors").exists() && !interrupted {
        // The best validated weights are the result: `best/` becomes `model/` (a rename,
        // not a second copy).
        std::fs::rename(&best_dir, &model_dir_out).map_err(|e| TrainError::io(&model_dir_out, e))?;
        durable::sync_dir(out)?;
    } else {
        trainer.save_model(&model_dir_out)?;
    }
    let final_val = if interrupted { None } else { last_val };
    let cfg_keep = cfg.keep_checkpoints;
    let secs = t0.elapsed().as_secs_f64();
    let mut summary = Summary {
        steps: state.step,
        initial_val_loss: initial_val,
        best_val_loss: state.best_val,
        final_val_loss: final_val,
        seconds: secs,
        pairs_per_s: pairs_done as f64 / secs.max(1e-9),
        stopped,
        model_dir: model_dir_out,
        config: cfg,
        device: None,
        bytes_written: 0,
        bytes_on_disk: 0,
        warnings: trainer.warnings.clone(),
    };
    let log_bytes = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
    summary.bytes_written = trainer.bytes_written() + log_bytes;
    summary.write(out)?;
    if !interrupted && !cfg_keep {
        // The run is complete on the disk (model, summary): its checkpoints can go.
        let ckpts = out.join("checkpoints");
        if ckpts.exists() {
            std::fs::remove_dir_all(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?;
            durable::sync_dir(out)?;
        }
    }
    summary.bytes_on_disk = durable::dir_bytes(out);
    summary.write(out)?;
    Ok(summary)
}
