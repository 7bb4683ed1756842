//! Training and evaluating what a study directory is missing, and the wall time kept per
//! invocation.

use std::path::{Path, PathBuf};

use hbt_data::CandidateInput;
use hbt_device::{BackendKind, DeviceInfo};
use hbt_model::{Encoder, EncoderOptions};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use hbt_eval::lareqa::LareqaOptions;
use hbt_eval::report::Report;

use super::Study;

/// Wall time spent on a study directory, over every invocation that worked on it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Timing {
    pub invocations: Vec<Invocation>,
}

impl Timing {
    /// A study directory's `timing.json`; empty where there is none yet (or it is
    /// unreadable: the wall time is a report, not an input to any result).
    pub fn read(dir: &Path) -> Timing {
        std::fs::read(dir.join("timing.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Invocation {
    pub seconds: f64,
    pub device: String,
    pub trained: usize,
    pub evaluated: usize,
    /// Ranks each training ran on (data-parallel; 1 for studies made before).
    #[serde(default = "one")]
    pub ranks: usize,
    /// The trainings' number format (f32 for studies made before it was recorded).
    #[serde(default)]
    pub precision: hbt_model::Precision,
    /// GPU runs: the kernel cache and whether this invocation found it warm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_cache: Option<String>,
}

fn one() -> usize {
    1
}

/// One training of the study, as a launcher is handed it.
pub struct TrainJob<'a> {
    pub model_dir: &'a Path,
    /// The training corpora's directories.
    pub train: &'a [PathBuf],
    pub config: hbt_train::TrainConfig,
    pub out: &'a Path,
    /// Continue from `out`'s last checkpoint.
    pub resume: bool,
}

/// How the study's trainings run when not in this process: `train` starts one (through
/// `mpirun`, say), waits for it, and returns the summary it left in `out`.
pub struct Launch<'a> {
    pub ranks: usize,
    pub train: &'a mut dyn FnMut(&TrainJob) -> Result<hbt_train::Summary>,
}

/// A training in this process, on the study's device.
fn train_here(
    job: TrainJob<'_>,
    corpora: &[std::sync::Arc<hbt_data::PairData>],
    device: &DeviceInfo,
) -> Result<hbt_train::Summary> {
    let dev = hbt_device::device(device.kind())?;
    let mut bar = hbt_train::ProgressBarSink::default();
    let mut s = hbt_train::train(hbt_train::TrainOptions {
        model_dir: job.model_dir,
        corpora: corpora.to_vec(),
        device: &dev,
        config: job.config,
        out: job.out,
        resume: job.resume,
        stop: Default::default(),
        progress: &mut bar,
        step_delay: None,
        pretend_free_bytes: None,
        collective: std::rc::Rc::new(hbt_train::Solo),
        dump_dir: None,
        evaluation: None,
        base_model: job.model_dir.display().to_string(),
        device_name: Some(device.to_string()),
    })?;
    s.device = Some(device.clone());
    s.write(job.out)?;
    Ok(s)
}

impl Study {
    /// Train and evaluate whatever is missing; `progress` gets one line per stage. Holds the
    /// directory's lock (one writer at a time).
    // long: the plan walked once (the initial model, then every run × seed trained and
    // evaluated), timing recorded after each stage so that a killed invocation still counts.
    pub fn run(&self, device: &DeviceInfo, progress: &mut dyn FnMut(&str)) -> Result<Timing> {
        self.run_with(device, None, progress)
    }

    /// As [`Study::run`], each training started by `launch` (on several ranks, say).
    // long: see run.
    pub fn run_with(
        &self,
        device: &DeviceInfo,
        mut launch: Option<Launch<'_>>,
        progress: &mut dyn FnMut(&str),
    ) -> Result<Timing> {
        let t0 = std::time::Instant::now();
        let _lock = hbt_train::RunLock::acquire(&self.dir)?;
        let p = &self.plan;
        let backend = device.kind();
        let init_dir = hbt_model::source::resolve_model(&p.init)?;
        let corpora: Vec<_> = p
            .train
            .iter()
            .map(|d| hbt_data::read::load(d, &hbt_data::ReadOptions::default()).map(std::sync::Arc::new))
            .collect::<Result<_, _>>()?;
        let tests: Vec<(String, hbt_data::Corpus)> = p
            .tests
            .iter()
            .map(|(n, d)| {
                let c = hbt_data::load_dir(d)?;
                Ok((
                    n.clone(),
                    match p.limit {
                        Some(l) => c.limit(l),
                        None => c,
                    },
                ))
            })
            .collect::<Result<_>>()?;
        // Recorded after every stage, so that the time of an invocation that is killed still
        // counts in the summary's wall time.
        let path = self.dir.join("timing.json");
        let mut timing = Timing::read(&self.dir);
        timing.invocations.push(Invocation {
            seconds: 0.0,
            device: device.to_string(),
            trained: 0,
            evaluated: 0,
            ranks: launch.as_ref().map_or(1, |l| l.ranks),
            precision: self.plan.config.precision,
            kernel_cache: device.kernel_cache.clone(),
        });
        let mut record = |trained: usize, evaluated: usize| -> Result<()> {
            let inv = timing.invocations.last_mut().expect("pushed above");
            inv.seconds = t0.elapsed().as_secs_f64();
            (inv.trained, inv.evaluated) = (trained, evaluated);
            let bytes = serde_json::to_vec_pretty(&timing).expect("timing serialises");
            hbt_train::durable::write_atomic(&path, &bytes)?;
            Ok(())
        };
        let (mut trained, mut evaluated) = (0, 0);
        for (bench, corpus) in &tests {
            let out = self.dir.join("initial").join(bench);
            if !out.join("report.json").is_file() {
                progress(&format!("== initial model on {bench}"));
                self.evaluate(&init_dir, bench, corpus, backend, "initial", &out)?;
                evaluated += 1;
                record(trained, evaluated)?;
            }
        }
        for run in &p.runs {
            for seed in 1..=p.seeds {
                let run_dir = self.run_dir(&run.name, seed);
                if !run_dir.join("summary.json").is_file() {
                    let resume = run_dir.join("checkpoints/latest").is_file();
                    progress(&format!(
                        "== train {} seed {seed}{}",
                        run.name,
                        if resume { " (resuming)" } else { "" }
                    ));
                    let mut cfg = p.config.clone();
                    cfg.sampler = run.sampler.parse()?;
                    cfg.alpha = run.alpha;
                    cfg.seed = seed;
                    let job = TrainJob {
                        model_dir: &init_dir,
                        train: &p.train,
                        config: cfg,
                        out: &run_dir,
                        resume,
                    };
                    let s = match launch.as_mut() {
                        Some(l) => (l.train)(&job)?,
                        None => train_here(job, &corpora, device)?,
                    };
                    trained += 1;
                    record(trained, evaluated)?;
                    progress(&format!(
                        "   {} steps, val loss {:?} -> {:?}, {:.0} s",
                        s.steps, s.initial_val_loss, s.best_val_loss, s.seconds
                    ));
                }
                for (bench, corpus) in &tests {
                    let out = run_dir.join(format!("eval-{bench}"));
                    if !out.join("report.json").is_file() {
                        progress(&format!("== eval {} seed {seed} on {bench}", run.name));
                        let label = format!("{}-s{seed}", run.name);
                        self.evaluate(&run_dir.join("model"), bench, corpus, backend, &label, &out)?;
                        evaluated += 1;
                        record(trained, evaluated)?;
                    }
                }
            }
        }
        record(trained, evaluated)?;
        Ok(timing)
    }

    fn evaluate(
        &self,
        model_dir: &Path,
        bench: &str,
        corpus: &hbt_data::Corpus,
        backend: BackendKind,
        label: &str,
        out: &Path,
    ) -> Result<Report> {
        let device = hbt_device::device(backend)?;
        let mut enc = Encoder::load(model_dir, &device, &EncoderOptions::default())?;
        // Length buckets come from the device (hbt_model::pad_multiple); a GPU also takes
        // larger batches.
        enc.batch_size = if hbt_model::is_cpu(&device) { 64 } else { 128 };
        // The prefixes go on record, with any assumption the loader made about them (a model
        // that declares none but is recognisably e5): a run without them is another experiment.
        let mut settings = hbt_eval::encoder_settings(&enc);
        settings.insert("limit".into(), serde_json::json!(self.plan.limit));
        settings.insert("input".into(), serde_json::json!(CandidateInput::Sentence));
        settings.insert(
            "backend".into(),
            serde_json::json!(format!("{backend:?}").to_lowercase()),
        );
        let settings = serde_json::Value::Object(settings);
        let mut r = hbt_eval::lareqa::evaluate(
            &enc,
            corpus,
            bench,
            &model_dir.display().to_string(),
            settings,
            &LareqaOptions::default(),
        )?;
        r.label = Some(label.to_string());
        hbt_eval::write_outputs(&r, out)?;
        Ok(r)
    }
}
