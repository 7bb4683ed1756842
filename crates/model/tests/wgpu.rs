//! The e5 forward on Burn's wgpu backend (Mesa lavapipe on a machine without a GPU).
#![cfg(feature = "wgpu")]

mod common;

use hbt_device::BackendKind;
use hbt_model::{Encoder, EncoderOptions, TextKind};

#[test]
fn e5_on_wgpu_matches_reference() {
    let reference = common::reference();
    let texts = reference["models"][0]["texts"].as_array().unwrap();
    let device = hbt_device::device(BackendKind::Wgpu).unwrap();
    let enc = Encoder::load(&common::e5_dir(), &device, &EncoderOptions::default()).unwrap();
    // A padded batch of six texts of different lengths and scripts. (The 512-token text is
    // left to the CPU test: software Vulkan takes minutes over it.)
    let pick: Vec<usize> = (0..6).collect();
    let inputs: Vec<&str> = pick.iter().map(|&i| texts[i]["input"].as_str().unwrap()).collect();
    let got = enc.embed_batch(&inputs, TextKind::Plain).unwrap();
    for (k, &i) in pick.iter().enumerate() {
        let want: Vec<f64> = texts[i]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let c = common::cosine(&got[k], &want);
        assert!(c >= 0.999, "wgpu: cosine {c} < 0.999 for {:?}", inputs[k]);
    }
}

/// `--precision f16` inference: the linears' weights stored in f16 and attention's products
/// on f16 operands (norms, softmax and mask in f32) keep every vector at cosine ≥ 0.999 to
/// the float64 reference and to the same backend's f32 vectors.
#[test]
fn e5_in_f16_on_wgpu_stays_within_cosine_0999() {
    let reference = common::reference();
    let texts = reference["models"][0]["texts"].as_array().unwrap();
    let device = hbt_device::device(BackendKind::Wgpu).unwrap();
    if !device.supports_dtype(hbt_model::burn::tensor::DType::F16) {
        // The refusal is the behaviour to check on an adapter without f16 shaders.
        let f16 = EncoderOptions {
            precision: hbt_model::Precision::F16,
            ..Default::default()
        };
        let e = Encoder::load(&common::e5_dir(), &device, &f16).unwrap_err().to_string();
        assert!(e.contains("no f16"), "{e}");
        return;
    }
    let load = |precision| {
        let options = EncoderOptions {
            precision,
            ..Default::default()
        };
        Encoder::load(&common::e5_dir(), &device, &options).unwrap()
    };
    let inputs: Vec<&str> = (0..6).map(|i| texts[i]["input"].as_str().unwrap()).collect();
    let half = load(hbt_model::Precision::F16)
        .embed_batch(&inputs, TextKind::Plain)
        .unwrap();
    let full = load(hbt_model::Precision::F32)
        .embed_batch(&inputs, TextKind::Plain)
        .unwrap();
    for (k, text) in inputs.iter().enumerate() {
        let want: Vec<f64> = texts[k]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let to_reference = common::cosine(&half[k], &want);
        let f32_vector: Vec<f64> = full[k].iter().map(|&v| v as f64).collect();
        let to_f32 = common::cosine(&half[k], &f32_vector);
        eprintln!(
            "f16 on wgpu: 1 - cosine {:.2e} to the reference, {:.2e} to f32, {text:?}",
            1.0 - to_reference,
            1.0 - to_f32
        );
        assert!(
            to_reference >= 0.999 && to_f32 >= 0.999,
            "{text:?}: {to_reference}, {to_f32}"
        );
        // The f16 path ran: its rounding shows in the vector.
        assert!(half[k] != full[k], "{text:?}: the f16 vector is the f32 one");
    }
}

/// Texts packed several to a row (the trainer's default layout) embed on the GPU path as
/// the padded batch does: block-diagonal mask as an additive bias, position ids restarting
/// per text, pooling per text.
#[test]
fn e5_packed_rows_on_wgpu_equal_the_padded_batch() {
    use hbt_model::burn::prelude::*;
    let reference = common::reference();
    let texts = reference["models"][0]["texts"].as_array().unwrap();
    let device = hbt_device::device(BackendKind::Wgpu).unwrap();
    let enc = Encoder::load(&common::e5_dir(), &device, &EncoderOptions::default()).unwrap();
    let inputs: Vec<&str> = (0..6).map(|i| texts[i]["input"].as_str().unwrap()).collect();
    let batch = enc.tokenize(&inputs, TextKind::Plain).unwrap();
    let packed = batch.pack(0, 8);
    assert!(packed.tokens.batch < inputs.len(), "no two texts share a row");
    let rows = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    let a = rows(enc.forward(&enc.to_device(&batch, &device)));
    let b = rows(enc.forward(&enc.to_device_packed(&packed, &device)));
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
    eprintln!("wgpu: packed vs padded, largest difference {worst:e}");
    assert!(worst <= 2e-5 && b.iter().all(|v| v.is_finite()), "{worst}");
}
