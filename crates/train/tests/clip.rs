//! Global-norm clipping against a hand-computed example (PyTorch's `clip_grad_norm_`
//! formula): gradients (3, 4) and (12) have the joint norm 13.

use burn::module::Module;
use burn::nn::LinearConfig;
use burn::optim::GradientsParams;
use burn::prelude::*;
use hbt_train::clip::{clip_global_norm, global_norm};

fn setup() -> (burn::nn::Linear, GradientsParams) {
    let device = Device::flex();
    let lin = LinearConfig::new(2, 1).init(&device);
    let mut grads = GradientsParams::new();
    grads.register(lin.weight.id, Tensor::<2>::from_floats([[3.0], [4.0]], &device));
    grads.register(lin.bias.as_ref().unwrap().id, Tensor::<1>::from_floats([12.0], &device));
    (lin, grads)
}

fn values<const D: usize>(g: &GradientsParams, id: burn::module::ParamId) -> Vec<f32> {
    g.get::<D>(id).unwrap().into_data().try_to_vec().unwrap()
}

#[test]
fn global_norm_is_one_norm_over_all_parameters() {
    let (lin, grads) = setup();
    assert!((global_norm(&lin, &grads) - 13.0).abs() < 1e-6);
    assert_eq!(lin.num_params(), 3);
}

#[test]
fn clipping_scales_every_gradient_by_the_same_factor() {
    let (lin, mut grads) = setup();
    let before = clip_global_norm(&lin, &mut grads, 6.5);
    assert!((before - 13.0).abs() < 1e-6);
    let f = 6.5 / (13.0 + 1e-6);
    let w = values::<2>(&grads, lin.weight.id);
    let b = values::<1>(&grads, lin.bias.as_ref().unwrap().id);
    for (got, want) in w.iter().chain(&b).zip([3.0 * f, 4.0 * f, 12.0 * f]) {
        assert!((*got as f64 - want).abs() < 1e-5, "{got} vs {want}");
    }
    // The direction is kept (per-tensor clipping would not: 12 → 6.5 alone, 3,4 untouched).
    assert!((b[0] / w[0] - 4.0).abs() < 1e-5);
    assert!((global_norm(&lin, &grads) - 6.5).abs() < 1e-4);
}

#[test]
fn gradients_under_the_limit_are_untouched() {
    let (lin, mut grads) = setup();
    clip_global_norm(&lin, &mut grads, 20.0);
    assert_eq!(values::<2>(&grads, lin.weight.id), vec![3.0, 4.0]);
    assert_eq!(values::<1>(&grads, lin.bias.as_ref().unwrap().id), vec![12.0]);
}
