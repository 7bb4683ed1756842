//! Every piece of e5's 250,002-piece Unigram vocabulary maps to its id, read straight from
//! `tokenizer.json`'s list (the vendored `tokenizers` keeps the ids in its trie instead of a
//! token → id map: `vendor/README.md`, patch 8), both for the full file and for the
//! skeleton + pieces form an on-demand bundle ships; strings that are not pieces map to none.

use std::collections::HashMap;
use std::path::PathBuf;

use hbt_tokenizer::{TextTokenizer, split_tokenizer};

/// The e5-small fixture written by `../shared/tools/make-e5-small.py` (CI makes it).
fn e5_dir() -> PathBuf {
    let dir = std::env::var_os("HBT_E5_DIR").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/hbt-fixtures/multilingual-e5-small")
    });
    assert!(
        dir.join("tokenizer.json").is_file(),
        "the e5 fixture is not at {} (set HBT_E5_DIR; make it with ../shared/tools/make-e5-small.py)",
        dir.display()
    );
    dir
}

#[test]
fn every_piece_maps_to_its_id_as_listed() {
    let dir = e5_dir();
    let path = dir.join("tokenizer.json");
    let bytes = std::fs::read(&path).unwrap();
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let vocab = json["model"]["vocab"].as_array().unwrap();
    // The list as a map, a piece given twice keeping its last id (what `tokenizers` did).
    let mut expected: HashMap<&str, u32> = HashMap::new();
    for (id, e) in vocab.iter().enumerate() {
        expected.insert(e[0].as_str().unwrap(), id as u32);
    }
    assert!(vocab.len() > 250_000, "{} pieces", vocab.len());
    let full = TextTokenizer::new(bytes.clone(), &path, 512, 1).unwrap();
    let (skeleton, pieces) = split_tokenizer(&bytes, &path).unwrap();
    let split = TextTokenizer::with_pieces(skeleton, &pieces, &path, &dir.join("tokenizer.pieces"), 512, 1).unwrap();
    for (piece, &id) in &expected {
        assert_eq!(full.token_to_id(piece), Some(id), "{piece:?}");
        assert_eq!(split.token_to_id(piece), Some(id), "{piece:?} (pieces file)");
    }
    // Prefixes and extensions of pieces that are not pieces themselves.
    let absent: Vec<String> = expected
        .keys()
        .flat_map(|p| [format!("{p}\u{0}"), format!("{p}\u{1f9ec}\u{1f9ec}")])
        .filter(|s| !expected.contains_key(s.as_str()))
        .take(10_000)
        .collect();
    assert!(absent.len() >= 1000);
    for s in &absent {
        assert_eq!(full.token_to_id(s), None, "{s:?}");
        assert_eq!(split.token_to_id(s), None, "{s:?}");
    }
}
