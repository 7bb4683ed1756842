//! Bad input gives a clear error naming the file (or a documented truncation), never a panic.

mod common;

use common::TinySpec;
use hbt_model::{Encoder, EncoderOptions, TextKind, burn::prelude::Device};

fn try_load(dir: &std::path::Path) -> Result<Encoder, hbt_model::ModelError> {
    Encoder::load(dir, &Device::flex(), &EncoderOptions::default())
}

fn tiny(dir: &std::path::Path) {
    common::write_tiny(dir, &TinySpec::default(), 1, "");
}

#[test]
fn truncated_safetensors_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    let p = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
    let e = try_load(tmp.path()).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("not a valid safetensors"),
        "{e}"
    );
    // Shorter than the 8-byte header length.
    std::fs::write(&p, [1u8, 2, 3]).unwrap();
    let e = try_load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("model.safetensors"), "{e}");
}

#[test]
fn header_offsets_past_the_file_are_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    let p = tmp.path().join("model.safetensors");
    let bytes = std::fs::read(&p).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let (name, meta) = header
        .as_object_mut()
        .unwrap()
        .iter_mut()
        .find(|(k, _)| *k != "__metadata__")
        .unwrap();
    let name = name.clone();
    meta["data_offsets"][1] = serde_json::json!(10_000_000u64);
    let h = header.to_string().into_bytes();
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend(&h);
    out.extend(&bytes[8 + n..]);
    std::fs::write(&p, out).unwrap();
    let e = try_load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("model.safetensors"), "{e} ({name})");
}

#[test]
fn config_that_does_not_match_the_weights_names_the_tensors() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    let mut cfg = common::tiny_config(&TinySpec::default());
    cfg["intermediate_size"] = 48.into();
    cfg["num_hidden_layers"] = 3.into();
    std::fs::write(tmp.path().join("config.json"), cfg.to_string()).unwrap();
    let e = try_load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("weights do not match the config"), "{e}");
    assert!(
        e.contains("encoder.layer.0.intermediate.dense.weight (shape [32, 16] in file, config needs [48, 16])"),
        "{e}"
    );
    assert!(
        e.contains("encoder.layer.2.attention.self.query.weight"),
        "missing layer not named: {e}"
    );
}

#[test]
fn unexpected_tensors_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = TinySpec::default();
    let mut t = common::tiny_tensors(&spec, 2);
    t.insert("encoder.layer.9.extra.weight".into(), (vec![2], vec![0.0, 1.0]));
    common::write_tiny(tmp.path(), &spec, 2, "");
    std::fs::write(tmp.path().join("model.safetensors"), common::safetensors_bytes(&t, "")).unwrap();
    let e = try_load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("unexpected: encoder.layer.9.extra.weight"), "{e}");
}

#[test]
fn unsupported_config_options_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    for (key, value, needle) in [
        (
            "hidden_act",
            serde_json::json!("relu"),
            "hidden_act \"relu\" is not supported",
        ),
        (
            "model_type",
            serde_json::json!("gpt2"),
            "model_type \"gpt2\" is not supported",
        ),
        (
            "position_embedding_type",
            serde_json::json!("relative_key"),
            "position_embedding_type",
        ),
        ("num_attention_heads", serde_json::json!(5), "not divisible"),
    ] {
        let mut cfg = common::tiny_config(&TinySpec::default());
        cfg[key] = value;
        std::fs::write(tmp.path().join("config.json"), cfg.to_string()).unwrap();
        let e = try_load(tmp.path()).unwrap_err().to_string();
        assert!(e.contains("config.json") && e.contains(needle), "{key}: {e}");
    }
    std::fs::write(tmp.path().join("config.json"), "{not json").unwrap();
    let e = try_load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("config.json: invalid JSON"), "{e}");
}

#[test]
fn missing_tokenizer_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    std::fs::remove_file(tmp.path().join("tokenizer.json")).unwrap();
    let e = try_load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("tokenizer.json"), "{e}");
    std::fs::write(tmp.path().join("tokenizer.json"), "{}").unwrap();
    let e = try_load(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("tokenizer.json") && e.contains("tokenizer"), "{e}");
}

#[test]
fn empty_text_list_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    let enc = try_load(tmp.path()).unwrap();
    let e = enc.embed(&[], TextKind::Query).unwrap_err().to_string();
    assert!(e.contains("empty"), "{e}");
}

#[test]
fn long_text_is_truncated_to_the_max_length_and_flagged() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    // max_position_embeddings 40, pad 1 -> 38 usable positions. The tokenizer.json asks for
    // truncation at 4 and padding to 64; both must be overridden.
    let enc = try_load(tmp.path()).unwrap();
    assert_eq!(enc.tokenizer.max_len(), 38);
    let long = vec!["cat"; 200].join(" ");
    let b = enc.tokenize(&[&long, "der hund"], TextKind::Plain).unwrap();
    assert_eq!(b.lengths, vec![38, 4]);
    assert_eq!(b.truncated, vec![true, false]);
    assert_eq!(b.seq, 38);
    assert_eq!(b.row_ids(0).last(), Some(&2), "</s> kept after truncation");
    let v = enc.embed(&[&long], TextKind::Plain).unwrap();
    assert!(v[0].iter().all(|x| x.is_finite()));
    // A max length beyond the position table is refused.
    let o = EncoderOptions {
        max_len: Some(100),
        ..Default::default()
    };
    let e = Encoder::load(tmp.path(), &Device::flex(), &o).unwrap_err().to_string();
    assert!(e.contains("exceeds the 38 positions"), "{e}");
}

#[test]
fn not_a_model_dir() {
    let e = hbt_model::source::resolve_model("/nonexistent/model")
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/model"), "{e}");
    // SAFETY: no other test in this binary reads these variables.
    unsafe { std::env::set_var("HF_HUB_OFFLINE", "1") };
    unsafe { std::env::set_var("HF_HOME", "/nonexistent-hf-home") };
    let e = hbt_model::source::resolve_model("hf:intfloat/multilingual-e5-small")
        .unwrap_err()
        .to_string();
    if cfg!(feature = "hub") {
        assert!(e.contains("HF_HUB_OFFLINE") && e.contains("hf download"), "{e}");
    } else {
        assert!(e.contains("no hub support"), "{e}");
    }
    let e = hbt_model::source::resolve_model("hf:not-a-repo")
        .unwrap_err()
        .to_string();
    assert!(e.contains("ORG/NAME") || e.contains("no hub support"), "{e}");
}

#[test]
fn half_precisions_on_the_wrong_backend_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    tiny(tmp.path());
    let f16 = EncoderOptions {
        precision: hbt_model::Precision::F16,
        ..Default::default()
    };
    let e = Encoder::load(tmp.path(), &Device::flex(), &f16)
        .unwrap_err()
        .to_string();
    assert!(e.contains("f16") && e.contains("GPU backends only"), "{e}");
    assert_eq!("fp16".parse::<hbt_model::Precision>(), Ok(hbt_model::Precision::F16));
}
