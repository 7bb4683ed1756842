//! Dynamic loss scaling for f16 training, as `torch.amp.GradScaler` does it.
//!
//! Gradients that pass through f16 products are f16 on the way back: small ones round to
//! zero. Multiplying the loss by a large scale lifts them into f16's range; the parameter
//! gradients (f32, on the master weights) are divided by it again before clipping and the
//! optimizer. A scale too large overflows instead: the step is then skipped (no update, no
//! optimizer state change), the scale halved, and training goes on with the next batch.
//! After `growth_interval` clean steps in a row the scale doubles, to find the largest
//! that does not overflow.

use serde::{Deserialize, Serialize};

/// PyTorch's defaults: start at 2^16, halve on overflow, double after 2,000 clean steps.
pub const INITIAL_SCALE: f64 = 65536.0;
pub const GROWTH_INTERVAL: usize = 2000;
/// The largest scale: f16's largest finite value is 65504, so past 2^24 a scale only overflows.
pub const MAX_SCALE: f64 = 16_777_216.0;

/// The scaler's state (kept in checkpoints, so a resumed run scales as the first part did).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossScaler {
    /// What the loss is multiplied by before the backward pass.
    pub scale: f64,
    /// Clean steps since the scale last changed.
    pub clean_steps: usize,
    pub growth_interval: usize,
    /// Steps skipped for an overflow, since the run began.
    pub skipped: usize,
}

impl LossScaler {
    pub fn new(scale: f64) -> Self {
        Self {
            scale,
            clean_steps: 0,
            growth_interval: GROWTH_INTERVAL,
            skipped: 0,
        }
    }

    /// Take note of a backward pass whose unscaled gradients were `finite` (all of them, as
    /// their global norm says) and adjust the scale; returns whether the step may update
    /// the weights.
    pub fn update(&mut self, finite: bool) -> bool {
        if !finite {
            // Never below 1: an overflow at scale 1 is the model's own, and halving further
            // would only shrink gradients into f16's underflow.
            self.scale = (self.scale * 0.5).max(1.0);
            self.clean_steps = 0;
            self.skipped += 1;
            return false;
        }
        self.clean_steps += 1;
        if self.clean_steps >= self.growth_interval {
            self.scale = (self.scale * 2.0).min(MAX_SCALE);
            self.clean_steps = 0;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overflow_halves_and_skips_clean_steps_grow() {
        let mut s = LossScaler::new(1024.0);
        s.growth_interval = 3;
        assert!(!s.update(false));
        assert_eq!((s.scale, s.skipped), (512.0, 1));
        assert!(s.update(true) && s.update(true));
        assert_eq!(s.scale, 512.0);
        // The third clean step in a row doubles it.
        assert!(s.update(true));
        assert_eq!((s.scale, s.clean_steps), (1024.0, 0));
        // An overflow restarts the count.
        assert!(s.update(true) && !s.update(false) && s.update(true) && s.update(true));
        assert_eq!((s.scale, s.skipped), (512.0, 2));
        let mut low = LossScaler::new(1.0);
        low.update(false);
        assert_eq!(low.scale, 1.0);
    }
}
