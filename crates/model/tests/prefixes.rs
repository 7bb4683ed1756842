//! Which query/passage prefixes a model gets, decided by what the model is and declares,
//! never by its folder's name: a renamed e5 keeps its prefixes (with a warning when it does
//! not declare them), a declared prompt is followed, and a non-e5 model in a folder named
//! like e5 gets none. Vectors are checked against the float64 reference of e5 with its
//! prefixes (`../shared/fixtures`), so "applied" means the right vector, not a field.

mod common;

use std::path::Path;

use burn::prelude::Device;
use hbt_model::{Encoder, EncoderOptions, Prefixes, TextKind};

/// The e5 fixture's files under a name that says nothing about e5.
fn renamed_e5(root: &Path) -> std::path::PathBuf {
    let dir = root.join("my-encoder");
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    let src = common::e5_dir();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "1_Pooling/config.json",
    ] {
        if src.join(f).exists() {
            std::os::unix::fs::symlink(src.join(f), dir.join(f)).unwrap();
        }
    }
    dir
}

fn reference_query() -> (String, Vec<f64>) {
    let r = common::reference();
    let t = &r["models"][0]["texts"][0];
    let text = t["input"].as_str().unwrap().to_string();
    let v = t["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    (text, v)
}

fn query_cosine(enc: &Encoder) -> f64 {
    let (text, want) = reference_query();
    // The reference's text carries e5's prefix already; embed it as the user would type it.
    let typed = text.strip_prefix("query: ").unwrap_or(&text);
    common::cosine(&enc.embed(&[typed], TextKind::Query).unwrap()[0], &want)
}

#[test]
fn a_renamed_e5_without_prompts_keeps_e5_prefixes_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = renamed_e5(tmp.path());
    let enc = Encoder::load(&dir, &Device::flex(), &EncoderOptions::default()).unwrap();
    assert_eq!(enc.prefixes, Prefixes::e5());
    assert!(query_cosine(&enc) >= 0.9999);
    assert_eq!(enc.notes.len(), 1, "{:?}", enc.notes);
    assert!(enc.notes[0].contains("--query-prefix"), "{}", enc.notes[0]);
    // The flag overrides the guess, and then there is nothing to warn about.
    let options = EncoderOptions {
        prefixes: Some(Prefixes::default()),
        ..Default::default()
    };
    let plain = Encoder::load(&dir, &Device::flex(), &options).unwrap();
    assert!(plain.notes.is_empty());
    assert!(
        query_cosine(&plain) < 0.999,
        "without the prefix the vector must differ"
    );
}

#[test]
fn declared_prompts_are_followed_without_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = renamed_e5(tmp.path());
    let prompts = r#"{"prompts": {"query": "query: ", "passage": "passage: "}}"#;
    std::fs::write(dir.join("config_sentence_transformers.json"), prompts).unwrap();
    let enc = Encoder::load(&dir, &Device::flex(), &EncoderOptions::default()).unwrap();
    assert!(enc.notes.is_empty(), "{:?}", enc.notes);
    assert!(query_cosine(&enc) >= 0.9999);
    // Declared otherwise: followed, even though the model is e5.
    let other = r#"{"prompts": {"query": "Q: ", "passage": "P: "}}"#;
    std::fs::write(dir.join("config_sentence_transformers.json"), other).unwrap();
    let enc = Encoder::load(&dir, &Device::flex(), &EncoderOptions::default()).unwrap();
    assert_eq!(enc.prefixes.query, "Q: ");
    assert!(enc.notes.is_empty());
}

#[test]
fn a_folder_named_e5_does_not_make_a_model_e5() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("multilingual-e5-small");
    common::write_tiny(&dir, &common::TinySpec::default(), 7, "");
    let enc = Encoder::load(&dir, &Device::flex(), &EncoderOptions::default()).unwrap();
    assert_eq!(enc.prefixes, Prefixes::default());
    assert_eq!(enc.notes.len(), 1, "{:?}", enc.notes);
    assert!(enc.notes[0].contains("not recognisably e5"), "{}", enc.notes[0]);
}
