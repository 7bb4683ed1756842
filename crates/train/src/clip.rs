//! Gradient clipping as the field does it (`torch.nn.utils.clip_grad_norm_`): one L2 norm
//! over all parameters' gradients together, and every gradient scaled by the same factor
//! when that norm exceeds the limit. Burn's optimizer option clips each tensor on its own,
//! which changes the direction of the update; this keeps it.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::prelude::*;

struct SquaredNorm<'a> {
    grads: &'a GradientsParams,
    parts: Vec<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorm<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            self.parts.push(g.square().sum());
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
        }
    }
}

/// The L2 norm of all of `module`'s gradients taken together.
pub fn global_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut v = SquaredNorm {
        grads,
        parts: Vec::new(),
    };
    module.visit(&mut v);
    if v.parts.is_empty() {
        return 0.0;
    }
    // One read-back for all parameters (on a GPU each would be a sync).
    let total: f32 = Tensor::cat(v.parts, 0).sum().into_scalar();
    (total as f64).sqrt()
}

/// Multiply all of `module`'s gradients by `factor`.
pub fn scale<M: Module>(module: &M, grads: &mut GradientsParams, factor: f64) {
    module.visit(&mut Scale { grads, factor });
}

/// Scale all gradients by `max_norm / (norm + 1e-6)` when their global norm exceeds
/// `max_norm` (PyTorch's formula, epsilon included); returns the norm before clipping.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let norm = global_norm(module, grads);
    clip_to(module, grads, norm, max_norm);
    norm
}

/// [`clip_global_norm`] with the norm already measured.
pub fn clip_to<M: Module>(module: &M, grads: &mut GradientsParams, norm: f64, max_norm: f64) {
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        scale(module, grads, coef);
    }
}
