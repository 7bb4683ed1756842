//! `--precision f16` training on Burn's wgpu backend (Mesa's lavapipe on a machine without a
//! GPU): autocast's numerics against f32, and the dynamic loss scaler skipping an overflowing
//! step and recovering. One process, so the kernels are compiled once for all of it.
#![cfg(feature = "wgpu")]

mod common;

use hbt_data::sampler::Batch;
use hbt_device::BackendKind;
use hbt_model::{Precision, SaveDtype};
use hbt_train::trainer::TrainData;
use hbt_train::{TrainConfig, Trainer};

fn config(precision: Precision, loss_scale: Option<f64>) -> TrainConfig {
    TrainConfig {
        batch_size: 6,
        warmup_steps: 0,
        max_steps: 20,
        eval_every: 0,
        checkpoint_every: 0,
        max_query_len: 24,
        max_passage_len: 32,
        seed: 5,
        precision,
        loss_scale,
        ..Default::default()
    }
}

fn weights(tr: &Trainer) -> Vec<u8> {
    hbt_model::weights::to_safetensors(&tr.enc.bert, SaveDtype::F32).unwrap()
}

#[test]
fn f16_training_follows_f32_and_the_loss_scaler_skips_overflows() {
    let device = hbt_device::device(BackendKind::Wgpu).unwrap();
    if !device.supports_dtype(hbt_model::burn::tensor::DType::F16) {
        eprintln!("this wgpu adapter has no f16 shaders: f16 training is refused (see the model's wgpu tests)");
        return;
    }
    // A real pretrained encoder: a random one's InfoNCE gradient is float noise.
    let model = common::minilm();
    let corpus = hbt_data::load_dir(&common::shared("data/mlqa-r")).unwrap();
    let base = config(Precision::F32, None);
    let data = TrainData::new(
        vec![std::sync::Arc::new(hbt_data::pairs::from_corpus(&corpus).unwrap())],
        &base,
    )
    .unwrap();
    let batches: Vec<Batch> = hbt_data::Sampler::new(data.train.clone(), hbt_data::SamplerKind::Hybrid(0.5), 6, 5)
        .unwrap()
        .stream(0, 0)
        .take(12)
        .map(|b| b.2)
        .collect();
    let lr = 1e-4;

    // f16 against f32 over four steps. The scale starts at 2^10, which this model's first
    // batches do not overflow, so both runs take every step.
    let mut curves = Vec::new();
    for (precision, scale) in [(Precision::F32, None), (Precision::F16, Some(1024.0))] {
        let mut tr = Trainer::new(&model, &device, config(precision, scale)).unwrap();
        let losses: Vec<f64> = batches[..4]
            .iter()
            .map(|b| {
                let l = tr.step(&data, b, lr).unwrap();
                assert!(!tr.last_skipped, "{precision}: a step was skipped at scale {scale:?}");
                l
            })
            .collect();
        curves.push(losses);
    }
    for (step, (a, b)) in curves[0].iter().zip(&curves[1]).enumerate() {
        let rel = (a - b).abs() / a.abs();
        eprintln!("step {}: loss f32 {a:.6}, f16 {b:.6} (relative {rel:.2e})", step + 1);
        // Step 1 starts from the same weights: only the products' rounding differs. Later
        // steps also carry the f16 gradients' differences in the weights.
        let tol = if step == 0 { 1e-3 } else { 1e-2 };
        assert!(rel <= tol, "step {}: f16 loss {b} vs f32 {a}", step + 1);
    }

    // 2^24 overflows f16's range (65504) in the backward pass: each such step is skipped —
    // the weights untouched — and the scale halved, until one fits and the step is taken.
    let mut tr = Trainer::new(&model, &device, config(Precision::F16, Some(16_777_216.0))).unwrap();
    let start = weights(&tr);
    let mut scale = 16_777_216.0;
    let mut skipped = 0;
    for b in batches.iter().cycle().take(24) {
        let loss = tr.step(&data, b, lr).unwrap();
        assert!(loss.is_finite(), "the loss itself is f32: {loss}");
        let now = tr.scaler.as_ref().unwrap().scale;
        if !tr.last_skipped {
            assert_eq!(now, scale, "a clean step keeps the scale");
            break;
        }
        skipped += 1;
        assert_eq!(now, scale / 2.0, "an overflow halves the scale");
        assert!(weights(&tr) == start, "a skipped step changed the weights");
        scale = now;
    }
    assert!(skipped >= 1, "2^24 should overflow f16 in the backward pass");
    assert!(
        !tr.last_skipped,
        "no step fitted after {skipped} halvings (scale {scale})"
    );
    assert_eq!(tr.scaler.as_ref().unwrap().skipped, skipped);
    let after = weights(&tr);
    assert!(after != start, "the step after the overflows left the weights alone");
    let st = safetensors::SafeTensors::deserialize(&after).unwrap();
    for (name, t) in st.tensors() {
        assert!(
            common::f32s(t.data()).iter().all(|v| v.is_finite()),
            "{name} is not finite after the recovered step"
        );
    }
    eprintln!("loss scaler: {skipped} steps skipped from 2^24, recovered at scale {scale}");
}
