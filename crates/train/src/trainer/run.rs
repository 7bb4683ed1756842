//! The loop that ties a run directory to the trainer: lock, resume, validate, step, log,
//! checkpoint, and leave `model/`, `train-log.jsonl` and `summary.json` behind.
//! (long: one run's life — start, steps with validation and retrieval scoring, finish with
//! the model and its card — read top to bottom in one place.)

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use burn::prelude::Device;
use hbt_data::PairData;
use hbt_data::sampler::{Batch, Sampler};

use super::progress::{Progress, StopHandle, StopReason};
use super::summary::Communication;
use super::{CheckpointState, Fingerprint, LogLine, Summary, TrainData, Trainer};
use crate::collective::{Collective, CommStats};
use crate::config::TrainConfig;
use crate::durable::{self, RunLock};
use crate::error::{Result, TrainError};

/// A retrieval evaluation run during training (rank 0): its data's name, and what scores
/// an encoder on it (metric → value, higher is better).
pub struct Evaluation<'a> {
    pub name: String,
    #[allow(clippy::type_complexity)]
    pub run: Box<dyn FnMut(&hbt_model::Encoder) -> Result<BTreeMap<String, f64>> + 'a>,
}

/// Everything one training run needs.
pub struct TrainOptions<'a> {
    /// The initial model (a Hugging Face directory).
    pub model_dir: &'a Path,
    /// The training data sets (several are mixed in proportion to their pairs).
    pub corpora: Vec<std::sync::Arc<PairData>>,
    pub device: &'a Device,
    pub config: TrainConfig,
    /// The run directory.
    pub out: &'a Path,
    /// Continue from `out/checkpoints/latest` rather than refuse a used directory.
    pub resume: bool,
    pub stop: StopHandle,
    pub progress: &'a mut dyn Progress,
    /// A pause after every step: lets a test kill a run mid-way on any machine.
    pub step_delay: Option<Duration>,
    /// Stands in for the disk's free space before each checkpoint: lets a test see a full
    /// disk refused without filling one.
    pub pretend_free_bytes: Option<u64>,
    /// The ranks of a data-parallel job ([`crate::Solo`]: one device). Rank 0 writes the
    /// run directory; every rank reads it on `resume` (it must be on storage all share).
    pub collective: Rc<dyn Collective>,
    /// Write each step's loss and the loss's gradients with respect to the global batch's
    /// embeddings to `DIR/step-N.json` (tests compare runs through it).
    pub dump_dir: Option<PathBuf>,
    /// Score retrieval every `eval_every` steps (`--eval-data`).
    pub evaluation: Option<Evaluation<'a>>,
    /// The initial model as the user named it (for the model card).
    pub base_model: String,
    /// The device in words (for the model card).
    pub device_name: Option<String>,
}

/// Train and write `out/model`, `out/train-log.jsonl`, `out/summary.json`.
pub fn train(o: TrainOptions<'_>) -> Result<Summary> {
    let TrainOptions {
        model_dir,
        corpora,
        device,
        config: cfg,
        out,
        resume,
        stop,
        progress,
        step_delay,
        pretend_free_bytes,
        collective,
        dump_dir,
        evaluation,
        base_model,
        device_name,
    } = o;
    cfg.validate()?;
    if let Some(m) = &cfg.keep_best
        && evaluation.is_none()
    {
        return Err(TrainError::Config(format!(
            "--keep-best {m} needs --eval-data (the data it is measured on)"
        )));
    }
    let (rank, world) = (collective.rank(), collective.size());
    if !cfg.batch_size.is_multiple_of(world) {
        return Err(TrainError::Config(format!(
            "--batch {} cannot be split evenly over {world} ranks: choose a multiple of {world}",
            cfg.batch_size
        )));
    }
    let data = TrainData::new(corpora, &cfg)?;
    let sampler = Sampler::new(
        data.train.clone(),
        cfg.sampler.kind(cfg.alpha)?,
        cfg.batch_size,
        cfg.seed,
    )?;
    let val_batches = validation_batches(&data, &cfg)?;
    // Rank 0 owns the run directory; the others only read a checkpoint from it.
    let _lock = if rank == 0 {
        std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
        let lock = RunLock::acquire(out)?;
        check_run_dir(out, resume)?;
        Some(lock)
    } else {
        None
    };
    let mut trainer = Trainer::new(model_dir, device, cfg.clone())?;
    trainer.pretend_free_bytes = pretend_free_bytes;
    trainer.set_collective(collective);
    trainer.capture_embedding_grads = dump_dir.is_some();
    trainer.check_options_agree()?;
    let state = start_state(&mut trainer, out, resume, progress)?;
    // Every rank has loaded its weights (and checkpoint) before rank 0 may write anything.
    trainer.check_weights_agree("at the start")?;
    let log_path = out.join("train-log.jsonl");
    let mut log = match rank {
        0 => Some(open_log(&log_path, resume, state.step)?),
        _ => None,
    };
    let t0 = Instant::now();
    let initial_val = initial_validation(&trainer, &data, &val_batches, state.step, &log_path)?;
    if let (0, Some(v), Some(log)) = (state.step, initial_val, log.as_mut()) {
        writeln!(log, "{}", serde_json::json!({"step": 0, "val_loss": v})).map_err(|e| TrainError::io(&log_path, e))?;
    }
    let mut run = Run {
        trainer,
        data: &data,
        val_batches: &val_batches,
        out,
        log,
        log_path,
        state,
        pairs_done: 0,
        last_val: None,
        dump_dir,
        comm_at_start: Default::default(),
        first_step: 0,
        evaluation,
        last_eval: None,
    };
    run.first_step = run.state.step;
    progress.start(cfg.max_steps, run.state.step);
    let stopped = run.steps(&sampler, &stop, progress, step_delay)?;
    progress.finish();
    let card = CardStart {
        base_model,
        device_name,
        data: &data,
    };
    run.finish(stopped, initial_val, t0.elapsed().as_secs_f64(), card)
}

/// Where a run starts: step 0, or (`resume`) the last checkpoint in `out`.
fn start_state(
    trainer: &mut Trainer,
    out: &Path,
    resume: bool,
    progress: &mut dyn Progress,
) -> Result<CheckpointState> {
    let cfg = trainer.cfg.clone();
    if !resume {
        return Ok(CheckpointState {
            step: 0,
            epoch: 0,
            batch_index: 0,
            best_val: None,
            bad_evals: 0,
            best_metric: None,
            best_metrics: None,
            model: Fingerprint::of(&trainer.enc),
            config: cfg,
            loss_scaler: None,
        });
    }
    let mut state = trainer.load_checkpoint(out)?.ok_or_else(|| {
        TrainError::Config(format!(
            "--resume: no checkpoint under {}",
            out.join("checkpoints").display()
        ))
    })?;
    state.config = cfg;
    for w in &trainer.warnings {
        progress.warn(w);
    }
    Ok(state)
}

/// The validation loss before step 1, as every rank sees it: rank 0 measures it (or, on
/// resume, reads what the run's first part measured) and shares it.
fn initial_validation(
    trainer: &Trainer,
    data: &TrainData,
    batches: &[Batch],
    step: usize,
    log_path: &Path,
) -> Result<Option<f64>> {
    let v = match (trainer.collective().rank(), step) {
        (0, 0) => validate(trainer, data, batches)?,
        (0, _) => logged_initial_val(log_path),
        _ => None,
    };
    Ok(trainer.rank0_value(v))
}

/// A run in progress: the trainer, where it is, and where it writes.
struct Run<'a> {
    trainer: Trainer,
    data: &'a TrainData,
    val_batches: &'a [Batch],
    out: &'a Path,
    /// The step log (rank 0's).
    log: Option<File>,
    log_path: PathBuf,
    state: CheckpointState,
    pairs_done: usize,
    last_val: Option<f64>,
    dump_dir: Option<PathBuf>,
    /// Communication before the first step of this process (the start-up checks).
    comm_at_start: CommStats,
    /// The step this process started from (a resumed run counts only its own steps).
    first_step: usize,
    evaluation: Option<Evaluation<'a>>,
    /// The latest retrieval scores (for the card where no metric picks the kept weights).
    last_eval: Option<BTreeMap<String, f64>>,
}

/// What the model card needs from the start of the run.
struct CardStart<'a> {
    base_model: String,
    device_name: Option<String>,
    data: &'a TrainData,
}

impl Run<'_> {
    /// Step until `max_steps`, a stop request, the sampler's end or early stopping.
    fn steps(
        &mut self,
        sampler: &Sampler,
        stop: &StopHandle,
        progress: &mut dyn Progress,
        step_delay: Option<Duration>,
    ) -> Result<StopReason> {
        let cfg = self.trainer.cfg.clone();
        let rank0 = self.trainer.collective().rank() == 0;
        let mut stream = sampler.stream(self.state.epoch, self.state.batch_index);
        self.comm_at_start = self.trainer.comm_stats();
        while self.state.step < cfg.max_steps {
            // A stop asked of any rank stops all after the same step.
            if self.trainer.any_rank_stops(stop.is_stopped()) {
                return Ok(StopReason::Interrupted);
            }
            let Some((epoch, index, batch)) = stream.next() else {
                return Ok(StopReason::SamplerExhausted);
            };
            let line = self.step(epoch, index, &batch)?;
            if let Some(log) = self.log.as_mut() {
                writeln!(log, "{}", serde_json::to_string(&line).expect("log line"))
                    .map_err(|e| TrainError::io(&self.log_path, e))?;
            }
            if let (Some(dir), true) = (&self.dump_dir, rank0) {
                dump_step(
                    dir,
                    self.state.step,
                    line.loss,
                    self.trainer.last_embedding_grads.as_ref(),
                )?;
            }
            progress.step(&line);
            if cfg.checkpoint_every > 0 && self.state.step.is_multiple_of(cfg.checkpoint_every) {
                // The weights about to be kept must be every rank's weights.
                self.trainer
                    .check_weights_agree(&format!("after step {}", self.state.step))?;
                if rank0 {
                    self.trainer.save_checkpoint(self.out, &self.state)?;
                }
            }
            if let Some(d) = step_delay {
                std::thread::sleep(d);
            }
            if cfg.patience > 0 && self.state.bad_evals >= cfg.patience {
                return Ok(StopReason::EarlyStopping);
            }
        }
        Ok(StopReason::MaxSteps)
    }

    /// One optimisation step, then validation when it is due (keeping the best weights).
    fn step(&mut self, epoch: u64, index: usize, batch: &Batch) -> Result<LogLine> {
        let cfg = &self.trainer.cfg;
        let (lr, eval_every) = (cfg.lr_at(self.state.step + 1), cfg.eval_every);
        let t = Instant::now();
        let comm_before = self.trainer.comm_stats().seconds;
        let loss = self.trainer.step(self.data, batch, lr)?;
        let rank0 = self.trainer.collective().rank() == 0;
        let world = self.trainer.collective().size();
        let st = &mut self.state;
        st.step += 1;
        st.epoch = epoch;
        st.batch_index = index + 1;
        self.pairs_done += batch.pairs.len();
        let mut line = LogLine {
            step: st.step,
            epoch,
            kind: format!("{:?}", batch.kind).to_lowercase(),
            loss,
            lr,
            pairs_per_s: batch.pairs.len() as f64 / t.elapsed().as_secs_f64(),
            grad_norm: self.trainer.last_grad_norm,
            val_loss: None,
            langs: batch_langs(self.data, batch),
            eval: None,
            comm_seconds: (world > 1).then(|| self.trainer.comm_stats().seconds - comm_before),
            token_slots: Some(self.trainer.take_token_slots()),
            loss_scale: self.trainer.scaler.as_ref().map(|s| s.scale),
            skipped: self.trainer.last_skipped.then_some(true),
        };
        let due = eval_every > 0 && st.step.is_multiple_of(eval_every);
        let mut metric_decides = false;
        if due && let Some(ev) = self.evaluation.as_mut() {
            let scores = if rank0 {
                Some((ev.run)(&self.trainer.inference_encoder())?)
            } else {
                None
            };
            if let Some(name) = &self.trainer.cfg.keep_best {
                let mine = match &scores {
                    Some(s) => Some(*s.get(name).ok_or_else(|| {
                        TrainError::Config(format!(
                            "--keep-best {name}: the evaluation has no such metric (it has {})",
                            s.keys().cloned().collect::<Vec<_>>().join(", ")
                        ))
                    })?),
                    None => None,
                };
                // Rank 0 measured; every rank takes its value, so all decide alike.
                if let Some(v) = self.trainer.rank0_value(mine) {
                    metric_decides = true;
                    let st = &mut self.state;
                    if st.best_metric.is_none_or(|b| v > b) {
                        st.best_metric = Some(v);
                        st.best_metrics = scores.clone();
                        st.bad_evals = 0;
                        if rank0 {
                            self.trainer.save_model(&self.out.join("best"))?;
                        }
                    } else {
                        st.bad_evals += 1;
                    }
                }
            }
            self.last_eval = scores.clone();
            line.eval = scores;
        }
        let st = &mut self.state;
        if due
            && let Some(v) = {
                // Rank 0 validates; all ranks take its value, so all decide alike.
                let v = if rank0 {
                    validate(&self.trainer, self.data, self.val_batches)?
                } else {
                    None
                };
                self.trainer.rank0_value(v)
            }
        {
            line.val_loss = Some(v);
            self.last_val = Some(v);
            if metric_decides {
                st.best_val = Some(st.best_val.map_or(v, |b| b.min(v)));
            } else if st.best_val.is_none_or(|b| v < b) {
                st.best_val = Some(v);
                st.bad_evals = 0;
                if rank0 {
                    self.trainer.save_model(&self.out.join("best"))?;
                }
            } else {
                st.bad_evals += 1;
            }
        }
        Ok(line)
    }

    /// Checkpoint if the run must be resumable, publish `model/`, write the summary and
    /// drop checkpoints a finished run no longer needs (rank 0; the other ranks only
    /// confirm their weights are rank 0's).
    fn finish(self, stopped: StopReason, initial_val: Option<f64>, secs: f64, card: CardStart<'_>) -> Result<Summary> {
        let Run {
            trainer,
            out,
            state,
            log_path,
            comm_at_start,
            evaluation,
            last_eval,
            ..
        } = self;
        let cfg = trainer.cfg.clone();
        let (rank, world) = (trainer.collective().rank(), trainer.collective().size());
        trainer.check_weights_agree("at the end")?;
        let interrupted = stopped == StopReason::Interrupted;
        let comm = trainer.comm_stats();
        let steps_here = state.step.saturating_sub(self.first_step).max(1) as f64;
        let communication = (world > 1).then(|| Communication {
            reduced_bytes_per_step: ((comm.reduced_bytes - comm_at_start.reduced_bytes) as f64 / steps_here) as u64,
            gathered_bytes_per_step: ((comm.gathered_bytes - comm_at_start.gathered_bytes) as f64 / steps_here) as u64,
            seconds: comm.seconds - comm_at_start.seconds,
            seconds_per_step: (comm.seconds - comm_at_start.seconds) / steps_here,
        });
        let mut summary = Summary {
            steps: state.step,
            initial_val_loss: initial_val,
            best_val_loss: state.best_val,
            final_val_loss: if interrupted { None } else { self.last_val },
            seconds: secs,
            pairs_per_s: self.pairs_done as f64 / secs.max(1e-9),
            stopped,
            model_dir: out.join("model"),
            config: cfg,
            device: None,
            bytes_written: 0,
            bytes_on_disk: 0,
            warnings: trainer.warnings.clone(),
            world_size: world,
            ranks: Vec::new(),
            communication,
            loss_scaler: trainer.scaler.clone(),
        };
        if rank != 0 {
            return Ok(summary);
        }
        // An interrupted run needs its checkpoint to resume; a finished one only on request.
        if interrupted || summary.config.keep_checkpoints {
            trainer.save_checkpoint(out, &state)?;
        }
        summary.model_dir = publish_model(&trainer, out, &out.join("best"), interrupted)?;
        let eval = match (&evaluation, &state.best_metrics, last_eval) {
            (Some(e), Some(best), _) if summary.config.keep_best.is_some() => Some((e.name.clone(), best.clone())),
            (Some(e), _, Some(last)) => Some((e.name.clone(), last)),
            _ => None,
        };
        write_card(&summary, &card, eval, &trainer)?;
        let log_bytes = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        summary.bytes_written = trainer.bytes_written() + log_bytes;
        summary.write(out)?;
        if !interrupted && !summary.config.keep_checkpoints {
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
}

/// `dir/step-N.json`: a step's loss and the loss's gradients with respect to the global
/// batch's embeddings (row-major; empty when the step did not keep them).
fn dump_step(dir: &Path, step: usize, loss: f64, emb: Option<&super::step::EmbeddingGrads>) -> Result<()> {
    let v = serde_json::json!({
        "loss": loss,
        "dim": emb.map(|e| e.dim),
        "queries": emb.map(|e| &e.queries),
        "passages": emb.map(|e| &e.passages),
        "hard": emb.map(|e| &e.hard),
    });
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let path = dir.join(format!("step-{step}.json"));
    std::fs::write(&path, v.to_string()).map_err(|e| TrainError::io(&path, e))
}

/// The mean loss over the fixed validation batches (None without any).
fn validate(trainer: &Trainer, data: &TrainData, batches: &[Batch]) -> Result<Option<f64>> {
    if batches.is_empty() {
        return Ok(None);
    }
    let mut s = 0.0;
    for b in batches {
        s += trainer.eval_loss(data, &data.dev, b)?;
    }
    Ok(Some(s / batches.len() as f64))
}

/// The fixed validation batches: drawn once from the dev split, the same at every check.
fn validation_batches(data: &TrainData, cfg: &TrainConfig) -> Result<Vec<Batch>> {
    let dev_groups = data.dev.iter().map(|s| s.groups.len()).max().unwrap_or(0);
    if dev_groups < 2 || cfg.eval_every == 0 {
        return Ok(Vec::new());
    }
    let kind = cfg.sampler.kind(cfg.alpha)?;
    let vs = Sampler::new(data.dev.clone(), kind, cfg.batch_size.min(dev_groups), cfg.seed ^ 0xDE7)?;
    Ok(vs.stream(0, 0).take(cfg.val_batches).map(|(_, _, b)| b).collect())
}

/// Refuse to mix runs: a finished run without checkpoints cannot be extended, and a used
/// directory is only continued on request.
fn check_run_dir(out: &Path, resume: bool) -> Result<()> {
    let has_checkpoint = out.join("checkpoints/latest").exists();
    if out.join("summary.json").is_file() && !has_checkpoint {
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
    if !resume && has_checkpoint {
        return Err(TrainError::Config(format!(
            "{} already holds a training run; pass --resume to continue it, or another --out",
            out.display()
        )));
    }
    Ok(())
}

/// The step log, opened for appending. On resume, steps logged after the checkpoint are
/// replayed, so their old lines go and the log reads as one uninterrupted run.
fn open_log(path: &Path, resume: bool, step: usize) -> Result<File> {
    if resume && path.exists() {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let keep: String = text
            .lines()
            .filter(|l| {
                serde_json::from_str::<serde_json::Value>(l)
                    .ok()
                    .and_then(|v| v["step"].as_u64())
                    .is_some_and(|s| s as usize <= step)
            })
            .map(|l| format!("{l}\n"))
            .collect();
        durable::write_atomic(path, keep.as_bytes())?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| TrainError::io(path, e))
}

fn logged_initial_val(log_path: &Path) -> Option<f64> {
    std::fs::read_to_string(log_path).ok().and_then(|t| {
        t.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|v| v["step"].as_u64() == Some(0))
            .and_then(|v| v["val_loss"].as_f64())
    })
}

/// `out/model`: the best validated weights when there are any (`best/` renamed, not a
/// second copy), else the last step's.
fn publish_model(trainer: &Trainer, out: &Path, best_dir: &Path, interrupted: bool) -> Result<PathBuf> {
    let model_dir_out = out.join("model");
    if model_dir_out.exists() {
        std::fs::remove_dir_all(&model_dir_out).map_err(|e| TrainError::io(&model_dir_out, e))?;
    }
    if best_dir.join("model.safetensors").exists() && !interrupted {
        std::fs::rename(best_dir, &model_dir_out).map_err(|e| TrainError::io(&model_dir_out, e))?;
        durable::sync_dir(out)?;
    } else {
        trainer.save_model(&model_dir_out)?;
    }
    Ok(model_dir_out)
}

/// A batch's (query → passage) languages with their counts.
fn batch_langs(data: &TrainData, batch: &Batch) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in &batch.pairs {
        let langs = &data.train[p.space].langs;
        let (q, d) = (&langs[p.qlang as usize], &langs[p.plang as usize]);
        let key = if q == d { q.clone() } else { format!("{q}→{d}") };
        *m.entry(key).or_insert(0) += 1;
    }
    m
}

/// `model/README.md`: the Hugging Face model card.
fn write_card(
    summary: &Summary,
    card: &CardStart<'_>,
    eval: Option<(String, BTreeMap<String, f64>)>,
    trainer: &Trainer,
) -> Result<()> {
    let mut languages: Vec<String> = card
        .data
        .train
        .iter()
        .flat_map(|s| {
            let mut used = vec![false; s.langs.len()];
            for g in &s.groups {
                for &l in g.langs.iter().chain(g.passage_langs()) {
                    used[l as usize] = true;
                }
            }
            s.langs
                .iter()
                .zip(used)
                .filter(|(_, u)| *u)
                .map(|(l, _)| l.clone())
                .collect::<Vec<_>>()
        })
        .collect();
    languages.sort();
    languages.dedup();
    let info = crate::card::CardInfo {
        base_model: card.base_model.clone(),
        datasets: card
            .data
            .corpora
            .iter()
            .map(|d| {
                (
                    d.name.clone(),
                    d.source.display().to_string(),
                    d.format.as_str().to_string(),
                    d.row_count(),
                )
            })
            .collect(),
        languages,
        steps: summary.steps,
        seconds: summary.seconds,
        eval,
        best_val_loss: summary.best_val_loss,
        device: card.device_name.clone(),
        query_prefix: trainer.enc.prefixes.query.clone(),
        passage_prefix: trainer.enc.prefixes.passage.clone(),
    };
    let text = crate::card::model_card(&summary.config, &info);
    let path = summary.model_dir.join("README.md");
    hbt_durable::write_atomic(&path, text.as_bytes())?;
    Ok(())
}
