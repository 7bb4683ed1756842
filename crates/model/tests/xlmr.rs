//! XLM-R architecture: a tiny random checkpoint written here, saved and reloaded; the
//! position-id offset checked by hand.

mod common;

use common::TinySpec;
use hbt_model::{
    Architecture, Encoder, EncoderConfig, EncoderOptions, ModelFiles, Pooling, SaveOptions, TextKind,
    burn::prelude::Device,
};

const TEXTS: &[&str] = &["the cat sat on the mat", "der hund", "el perro a b c d e le chat"];

fn load(dir: &std::path::Path, pooling: Option<Pooling>) -> Encoder {
    let o = EncoderOptions {
        pooling,
        ..Default::default()
    };
    Encoder::load(dir, &Device::flex(), &o).unwrap()
}

#[test]
fn position_ids_hand_computed() {
    // pad_token_id = 1: real tokens count from 2, padding stays at 1 (fairseq make_positions).
    let cfg = EncoderConfig::new_for_test(Architecture::XlmRoberta, 20, 16, 1, 4, 32, 40, 1);
    assert_eq!(cfg.position_ids(&[1, 1, 1, 1, 0, 0]), vec![2, 3, 4, 5, 1, 1]);
    assert_eq!(cfg.max_sequence_length(), 38);
    let bert = EncoderConfig::new_for_test(Architecture::Bert, 20, 16, 1, 4, 32, 40, 0);
    assert_eq!(bert.position_ids(&[1, 1, 0]), vec![0, 1, 2]);
    assert_eq!(bert.max_sequence_length(), 40);
}

#[test]
fn position_rows_below_the_offset_are_never_read() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = TinySpec::default();
    let mut t = common::write_tiny(&tmp.path().join("a"), &spec, 7, "roberta.");
    let base = load(&tmp.path().join("a"), None).embed(TEXTS, TextKind::Plain).unwrap();

    // Rows 0 and 1 (<= pad id) are unused for real tokens: changing them changes nothing.
    let (shape, pos) = t.get_mut("embeddings.position_embeddings.weight").unwrap();
    let h = shape[1];
    // Varied offsets: a constant shift would be undone by the LayerNorm's mean subtraction.
    for (k, v) in pos[..2 * h].iter_mut().enumerate() {
        *v += 3.0 * (k as f32 * 1.7).sin();
    }
    let b = tmp.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    std::fs::copy(tmp.path().join("a/config.json"), b.join("config.json")).unwrap();
    std::fs::copy(tmp.path().join("a/tokenizer.json"), b.join("tokenizer.json")).unwrap();
    std::fs::write(b.join("model.safetensors"), common::safetensors_bytes(&t, "")).unwrap();
    let same = load(&b, None).embed(TEXTS, TextKind::Plain).unwrap();
    for (x, y) in base.iter().zip(&same) {
        assert!(common::cosine32(x, y) > 0.999999);
    }
    // Row 2 is the first token's position: changing it changes every text.
    let (_, pos) = t.get_mut("embeddings.position_embeddings.weight").unwrap();
    for (k, v) in pos[2 * h..3 * h].iter_mut().enumerate() {
        *v += 3.0 * (k as f32 * 1.7).sin();
    }
    std::fs::write(b.join("model.safetensors"), common::safetensors_bytes(&t, "")).unwrap();
    let moved = load(&b, None).embed(TEXTS, TextKind::Plain).unwrap();
    for (x, y) in base.iter().zip(&moved) {
        assert!(common::cosine32(x, y) < 0.9999, "row pad+1 must be the first position");
    }
}

#[test]
fn padded_batch_equals_alone_for_xlmr() {
    let tmp = tempfile::tempdir().unwrap();
    common::write_tiny(tmp.path(), &TinySpec::default(), 3, "");
    let enc = load(tmp.path(), None);
    let batch = enc.embed_batch(TEXTS, TextKind::Plain).unwrap();
    for (i, t) in TEXTS.iter().enumerate() {
        let alone = enc.embed_batch(&[t], TextKind::Plain).unwrap();
        assert!(common::cosine32(&alone[0], &batch[i]) > 0.99999, "{t}");
    }
}

#[test]
fn save_and_reload_gives_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    common::write_tiny(&src, &TinySpec::default(), 11, "roberta.");
    for pooling in [Pooling::Mean, Pooling::Cls, Pooling::Pooler] {
        let enc = load(&src, Some(pooling));
        let before = enc.embed(TEXTS, TextKind::Plain).unwrap();
        let out = tmp.path().join(format!("saved-{pooling}"));
        enc.save(&out, &ModelFiles::default(), SaveOptions::default()).unwrap();
        for f in [
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "tokenizer_config.json",
            "modules.json",
            "1_Pooling/config.json",
            "hbt.json",
        ] {
            assert!(out.join(f).is_file(), "{f} not written");
        }
        // HF names, no prefix, HF layout.
        let bytes = std::fs::read(out.join("model.safetensors")).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let q = st.tensor("encoder.layer.0.intermediate.dense.weight").unwrap();
        assert_eq!(q.shape(), &[32, 16]);
        let again = load(&out, None);
        assert_eq!(again.pooling, pooling);
        let after = again.embed(TEXTS, TextKind::Plain).unwrap();
        assert_eq!(before, after, "f32 save/reload must be bit-identical ({pooling})");
        // Saving over a non-empty directory is refused unless asked.
        let err = enc
            .save(&out, &ModelFiles::default(), SaveOptions::default())
            .unwrap_err();
        assert!(err.to_string().contains("refusing to overwrite"), "{err}");
    }
}

#[test]
fn f16_and_bf16_checkpoints_load() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = TinySpec::default();
    let t = common::write_tiny(&tmp.path().join("f32"), &spec, 5, "");
    let reference = load(&tmp.path().join("f32"), None)
        .embed(TEXTS, TextKind::Plain)
        .unwrap();
    for (dt, conv) in [
        (
            safetensors::Dtype::F16,
            (|x: f32| half::f16::from_f32(x).to_le_bytes().to_vec()) as fn(f32) -> Vec<u8>,
        ),
        (safetensors::Dtype::BF16, |x: f32| {
            half::bf16::from_f32(x).to_le_bytes().to_vec()
        }),
    ] {
        let data: Vec<(String, Vec<usize>, Vec<u8>)> = t
            .iter()
            .map(|(k, (s, v))| {
                (
                    format!("roberta.{k}"),
                    s.clone(),
                    v.iter().flat_map(|&x| conv(x)).collect(),
                )
            })
            .collect();
        let views: Vec<_> = data
            .iter()
            .map(|(k, s, b)| {
                (
                    k.clone(),
                    safetensors::tensor::TensorView::new(dt, s.clone(), b).unwrap(),
                )
            })
            .collect();
        let dir = tmp.path().join(format!("{dt:?}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(tmp.path().join("f32/config.json"), dir.join("config.json")).unwrap();
        std::fs::copy(tmp.path().join("f32/tokenizer.json"), dir.join("tokenizer.json")).unwrap();
        std::fs::write(
            dir.join("model.safetensors"),
            safetensors::serialize(views, None).unwrap(),
        )
        .unwrap();
        let got = load(&dir, None).embed(TEXTS, TextKind::Plain).unwrap();
        for (a, b) in got.iter().zip(&reference) {
            assert!(common::cosine32(a, b) > 0.99, "{dt:?}");
        }
    }
}

#[test]
fn sharded_checkpoint_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = TinySpec::default();
    let one = tmp.path().join("one");
    let t = common::write_tiny(&one, &spec, 9, "");
    let want = load(&one, None).embed(TEXTS, TextKind::Plain).unwrap();
    let dir = tmp.path().join("sharded");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(one.join("config.json"), dir.join("config.json")).unwrap();
    std::fs::copy(one.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
    let (a, b): (Vec<_>, Vec<_>) = t.into_iter().partition(|(k, _)| k.starts_with("embeddings"));
    let mut map = serde_json::Map::new();
    for (name, part) in [
        ("model-00001-of-00002.safetensors", a),
        ("model-00002-of-00002.safetensors", b),
    ] {
        for (k, _) in &part {
            map.insert(k.clone(), name.into());
        }
        let part: std::collections::BTreeMap<_, _> = part.into_iter().collect();
        std::fs::write(dir.join(name), common::safetensors_bytes(&part, "")).unwrap();
    }
    std::fs::write(
        dir.join("model.safetensors.index.json"),
        serde_json::json!({"metadata": {}, "weight_map": map}).to_string(),
    )
    .unwrap();
    let got = load(&dir, None).embed(TEXTS, TextKind::Plain).unwrap();
    assert_eq!(got, want);
}
