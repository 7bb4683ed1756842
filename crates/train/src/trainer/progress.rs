//! How a run is steered and watched: the stop handle a Ctrl-C handler holds, why a run
//! ended, and where it reports progress.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::LogLine;

/// Asks a running training to stop after its current step (and checkpoint, so that
/// `--resume` continues it). Clones share one flag: hand one to a Ctrl-C handler.
#[derive(Debug, Clone, Default)]
pub struct StopHandle(Arc<AtomicBool>);

impl StopHandle {
    /// Ask for the stop; returns whether it had been asked for before.
    pub fn stop(&self) -> bool {
        self.0.swap(true, Ordering::SeqCst)
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Why a run ended (`summary.json`'s `stopped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StopReason {
    #[serde(rename = "max steps")]
    MaxSteps,
    #[serde(rename = "interrupted")]
    Interrupted,
    #[serde(rename = "sampler exhausted")]
    SamplerExhausted,
    #[serde(rename = "early stopping")]
    EarlyStopping,
}

/// Where a run reports what it does; the CLI shows a bar, the study and tests choose.
pub trait Progress {
    /// The run starts at step `at` of `total`.
    fn start(&mut self, _total: usize, _at: usize) {}
    /// A step finished (its line as logged).
    fn step(&mut self, _line: &LogLine) {}
    /// Something was worked around (a damaged checkpoint passed over, say).
    fn warn(&mut self, message: &str);
    fn finish(&mut self) {}
}

/// Reports nothing but warnings, on stderr.
pub struct Silent;

impl Progress for Silent {
    fn warn(&mut self, message: &str) {
        eprintln!("hbt: warning: {message}");
    }
}

/// An indicatif bar: step, loss, learning rate, pairs/s and the last validation loss.
pub struct ProgressBarSink {
    bar: ProgressBar,
    last_val: Option<f64>,
    /// The last retrieval scores, as `metric value` pairs.
    last_eval: Option<String>,
}

impl Default for ProgressBarSink {
    fn default() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template("{spinner} step {pos}/{len} [{bar:30}] {msg} eta {eta}")
                .expect("template")
                .progress_chars("=> "),
        );
        Self {
            bar,
            last_val: None,
            last_eval: None,
        }
    }
}

impl Progress for ProgressBarSink {
    fn start(&mut self, total: usize, at: usize) {
        self.bar.set_length(total as u64);
        self.bar.set_position(at as u64);
    }
    fn step(&mut self, l: &LogLine) {
        self.last_val = l.val_loss.or(self.last_val);
        if let Some(e) = &l.eval {
            let s: Vec<String> = e.iter().take(2).map(|(k, v)| format!("{k} {v:.3}")).collect();
            self.last_eval = Some(s.join(" "));
        }
        self.bar.set_position(l.step as u64);
        self.bar.set_message(format!(
            "loss {:.4} lr {:.2e} {:.1} pairs/s{}{}",
            l.loss,
            l.lr,
            l.pairs_per_s,
            self.last_val.map(|v| format!(" val {v:.4}")).unwrap_or_default(),
            self.last_eval.as_ref().map(|e| format!(" {e}")).unwrap_or_default()
        ));
    }
    fn warn(&mut self, message: &str) {
        self.bar.suspend(|| eprintln!("hbt: warning: {message}"));
    }
    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}
