//! The checkpoint format: weights, AdamW's state and the sampler's position, each file
//! checksummed in a manifest and published by rename before `latest` moves to it.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::AdamWConfig;
use hbt_model::{Encoder, EncoderOptions, SaveDtype, SaveOptions};
use serde::{Deserialize, Serialize};

use super::Trainer;
use crate::config::TrainConfig;
use crate::durable::{self, Verified};
use crate::error::{Result, TrainError};

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
    pub(crate) fn of(enc: &Encoder) -> Self {
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
    /// `keep_best`: the best value of the metric so far, and every metric at that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_metric: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_metrics: Option<std::collections::BTreeMap<String, f64>>,
    pub config: TrainConfig,
    pub model: Fingerprint,
    /// f16 runs: the loss scaler where the checkpoint was taken.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_scaler: Option<crate::scaler::LossScaler>,
}

/// Names of the files in a checkpoint directory, in the order they are written.
const CHECKPOINT_FILES: [&str; 3] = ["model.safetensors", "optimizer.bpk", "state.json"];

impl Trainer {
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
    pub(crate) fn save_checkpoint(&self, dir: &Path, state: &CheckpointState) -> Result<()> {
        let ckpts = dir.join("checkpoints");
        std::fs::create_dir_all(&ckpts).map_err(|e| TrainError::io(&ckpts, e))?;
        durable::ensure_space(&ckpts, self.checkpoint_size(&ckpts), self.pretend_free_bytes)?;
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
        let state = CheckpointState {
            loss_scaler: self.scaler.clone(),
            ..state.clone()
        };
        durable::write_synced(
            &tmp.join(CHECKPOINT_FILES[2]),
            &serde_json::to_vec_pretty(&state).expect("state serializes"),
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
        if state.loss_scaler.is_some() {
            self.scaler.clone_from(&state.loss_scaler);
        }
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

    /// The current weights as an inference encoder (no autodiff graph): what a retrieval
    /// evaluation during training embeds with.
    pub fn inference_encoder(&self) -> hbt_model::Encoder {
        let e = &self.enc;
        hbt_model::Encoder {
            bert: e.bert.valid(),
            config: e.config.clone(),
            tokenizer: e.tokenizer.clone(),
            pooling: e.pooling,
            normalize: e.normalize,
            prefixes: e.prefixes.clone(),
            device: e.device.clone().without_autodiff(),
            precision: e.precision,
            batch_size: 32,
            notes: Vec::new(),
        }
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
        // `Encoder::save` publishes the directory through hbt_durable::publish_dir (every
        // file and the directory fsynced before the rename), so a crash cannot leave `best/`
        // or `model/` half-written behind a summary that points at it.
        let bytes = std::fs::read_dir(dir)
            .map_err(|e| TrainError::io(dir, e))?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
            .sum();
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
