//! The e5 forward on Burn's wgpu backend (Mesa lavapipe on a machine without a GPU).
#![cfg(feature = "wgpu")]

mod common;

use hbt_model::{BackendKind, Encoder, EncoderOptions, TextKind};

#[test]
fn e5_on_wgpu_matches_reference() {
    let reference = common::reference();
    let texts = reference["models"][0]["texts"].as_array().unwrap();
    let device = hbt_model::device(BackendKind::Wgpu).unwrap();
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
