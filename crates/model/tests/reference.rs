//! The encoder against the numpy reference (`shared/tools/bert_reference.py`, float64):
//! identical token ids, cosine >= 0.9999 per text, alone and in padded batches.

mod common;

use hbt_model::{Encoder, EncoderOptions, TextKind, burn::prelude::Device};

fn check_model(idx: usize, dir: &std::path::Path) {
    let reference = common::reference();
    let model = &reference["models"][idx];
    let texts = model["texts"].as_array().unwrap();
    let device = Device::flex();
    let enc = Encoder::load(dir, &device, &EncoderOptions::default()).unwrap();
    assert_eq!(
        enc.tokenizer.max_len() as u64,
        model["max_seq_length"].as_u64().unwrap()
    );

    let inputs: Vec<&str> = texts.iter().map(|t| t["input"].as_str().unwrap()).collect();
    let want: Vec<Vec<f64>> = texts
        .iter()
        .map(|t| {
            t["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();

    // Token ids: the whole list in one batch (inputs already carry their prefixes).
    let batch = enc.tokenize(&inputs, TextKind::Plain).unwrap();
    for (i, t) in texts.iter().enumerate() {
        let ids: Vec<u32> = t["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(batch.row_ids(i), ids.as_slice(), "token ids differ for {:?}", inputs[i]);
    }

    // Each text alone (no padding at all).
    for (i, text) in inputs.iter().enumerate() {
        let v = enc.embed_batch(&[text], TextKind::Plain).unwrap();
        let c = common::cosine(&v[0], &want[i]);
        assert!(c >= 0.9999, "alone: cosine {c} < 0.9999 for {text:?}");
    }
    // All texts in one padded batch: short texts share it with a max-length one.
    let all = enc.embed_batch(&inputs, TextKind::Plain).unwrap();
    for (i, text) in inputs.iter().enumerate() {
        let c = common::cosine(&all[i], &want[i]);
        assert!(c >= 0.9999, "in a padded batch: cosine {c} < 0.9999 for {text:?}");
    }
}

#[test]
fn multilingual_e5_small_matches_reference() {
    check_model(0, &common::e5_dir());
}

#[test]
fn all_minilm_l6_v2_matches_reference() {
    check_model(1, &common::minilm_dir());
}

#[test]
fn e5_prefixes_are_applied() {
    let enc = Encoder::load(&common::e5_dir(), &Device::flex(), &EncoderOptions::default()).unwrap();
    let q = enc
        .embed(&["how many people live in Berlin?"], TextKind::Query)
        .unwrap();
    let reference = common::reference();
    let want: Vec<f64> = reference["models"][0]["texts"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(common::cosine(&q[0], &want) >= 0.9999);
}

/// `Precision::Bf16` (linear weights in bf16, AMX products where the CPU has them) against
/// the same float64 reference: cosine ≥ 0.999 per text, alone and in a padded batch.
#[test]
fn bf16_linears_stay_within_0_999_of_the_reference() {
    for (idx, dir) in [(0, common::e5_dir()), (1, common::minilm_dir())] {
        let reference = common::reference();
        let texts = reference["models"][idx]["texts"].as_array().unwrap();
        let options = EncoderOptions {
            precision: hbt_model::Precision::Bf16,
            ..Default::default()
        };
        let enc = Encoder::load(&dir, &Device::flex(), &options).unwrap();
        let inputs: Vec<&str> = texts.iter().map(|t| t["input"].as_str().unwrap()).collect();
        let want = |i: usize| -> Vec<f64> {
            texts[i]["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        };
        let all = enc.embed_batch(&inputs, TextKind::Plain).unwrap();
        for (i, text) in inputs.iter().enumerate() {
            let alone = enc.embed_batch(&[text], TextKind::Plain).unwrap();
            for (how, v) in [("alone", &alone[0]), ("batched", &all[i])] {
                let c = common::cosine(v, &want(i));
                assert!(c >= 0.999, "bf16, {how}: cosine {c} < 0.999 for {text:?}");
            }
        }
    }
}
