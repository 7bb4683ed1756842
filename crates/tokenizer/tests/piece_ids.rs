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

/// The questions and contexts of a SQuAD-style file (XQuAD-R's), every string under those keys.
fn texts(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("question" | "context", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => texts(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| texts(x, out)),
        _ => {}
    }
}

/// A bundle's pieces file (version 2) holds the pieces sorted, and the browser looks them up
/// as they are (`Unigram::from_sorted`, tokenizers patch 9) rather than building a trie: the
/// same ids for XQuAD-R's questions and paragraphs in its eleven languages, for their
/// characters shuffled into strings no language has, and for text split mid-character.
#[test]
fn sorted_pieces_tokenize_as_the_trie_does() {
    let dir = e5_dir();
    let path = dir.join("tokenizer.json");
    let bytes = std::fs::read(&path).unwrap();
    let full = TextTokenizer::new(bytes.clone(), &path, 512, 1).unwrap();
    let (skeleton, pieces) = split_tokenizer(&bytes, &path).unwrap();
    let read = hbt_tokenizer::read_pieces_sorted(&pieces, &path).unwrap();
    assert!(
        matches!(read, hbt_tokenizer::Pieces::Sorted(..)),
        "split_tokenizer writes the sorted order"
    );
    let split = TextTokenizer::with_pieces(skeleton, &pieces, &path, &dir.join("tokenizer.pieces"), 512, 1).unwrap();
    let data = std::env::var_os("HBT_XQUAD_R")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/xquad-r"));
    let mut all = Vec::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap_or_else(|e| panic!("XQuAD-R at {}: {e}", data.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 11, "{} files in {}", files.len(), data.display());
    for f in &files {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
        let mut t = Vec::new();
        texts(&v, &mut t);
        t.truncate(300);
        all.extend(t);
    }
    // Characters of every language mixed: pieces no real word reaches.
    let chars: Vec<char> = all.iter().flat_map(|t| t.chars()).collect();
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    for _ in 0..500 {
        let len = 1 + next() % 40;
        all.push((0..len).map(|_| chars[next() % chars.len()]).collect());
    }
    for chunk in all.chunks(64) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let (a, b) = (full.encode(&refs).unwrap(), split.encode(&refs).unwrap());
        for i in 0..refs.len() {
            assert_eq!(a.row_ids(i), b.row_ids(i), "{:?}", refs[i]);
        }
    }
    eprintln!(
        "{} texts: the same ids from the sorted pieces as from the trie",
        all.len()
    );
}
