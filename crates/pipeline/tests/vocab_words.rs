//! `hbt export --vocab-words`: a vocabulary pruned to the bundle's texts *and* word lists of
//! the served languages tokenizes (and so embeds) unseen queries made of listed words as the
//! full multilingual-e5-small does, whatever their capitalisation in the list; pruned to the
//! texts alone, it does not.

use std::path::PathBuf;

use hbt_bundle::PruneVocab;
use hbt_model::{Encoder, EncoderOptions, TextKind, burn::prelude::Device};
use hbt_pipeline::export::word_list_texts;

fn e5_dir() -> PathBuf {
    let d = std::env::var_os("HBT_E5_DIR").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/hbt-fixtures/multilingual-e5-small")
    });
    assert!(
        d.join("model.safetensors").is_file(),
        "e5 fixture missing at {} (see .ci/run)",
        d.display()
    );
    d
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let n = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (n(a) * n(b))
}

/// Queries no bundle text contains; every word is in the lists below (lowercased there).
const UNSEEN: [&str; 4] = [
    "Wie viele Einwohner hatte Hamburg damals?",
    "Which river flows through Vienna and Budapest?",
    "¿Quién construyó el puente más antiguo?",
    "Сколько жителей было в Москве?",
];
const WORDS: &str = "wie\nviele\neinwohner\nhatte\nhamburg\ndamals\nwhich\nriver\nflows\nthrough\nvienna\nand\n\
budapest\nquién\nconstruyó\nel\npuente\nmás\nantiguo\nсколько\nжителей\nбыло\nв\nмоскве\n";
/// What the bundle itself holds (its punctuation covers the queries').
const BUNDLE: [&str; 2] = [
    "Die Stadt liegt am Ufer des Rheins?",
    "¿La ciudad está a orillas del Rin, сколько?",
];

#[test]
fn word_lists_make_unseen_queries_tokenize_as_with_the_full_model() {
    let device = Device::flex();
    let full = Encoder::load(&e5_dir(), &device, &EncoderOptions::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("words.txt");
    std::fs::write(&list, WORDS).unwrap();
    let words = word_list_texts(std::slice::from_ref(&list)).unwrap();
    let bundle: Vec<(&str, TextKind)> = BUNDLE.iter().map(|t| (*t, TextKind::Query)).collect();

    let mut with_words = bundle.clone();
    with_words.extend(words.iter().map(|t| (t.as_str(), TextKind::Plain)));
    let (pruned, stats) = full.prune_vocab(&with_words).unwrap();
    assert!(
        stats.vocab_after * 100 < stats.vocab_before,
        "kept {} tokens",
        stats.vocab_after
    );
    let (texts_only, _) = full.prune_vocab(&bundle).unwrap();

    let pieces = |e: &Encoder, t: &str| -> Vec<String> {
        let b = e.tokenize(&[t], TextKind::Query).unwrap();
        b.row_ids(0)
            .iter()
            .map(|&i| e.tokenizer.inner().id_to_token(i).unwrap())
            .collect()
    };
    let mut differs_without = 0;
    for q in UNSEEN {
        assert_eq!(pieces(&full, q), pieces(&pruned, q), "{q}");
        let a = full.embed_batch(&[q], TextKind::Query).unwrap();
        let b = pruned.embed_batch(&[q], TextKind::Query).unwrap();
        let c = cosine(&a[0], &b[0]);
        assert!(c >= 0.99999, "cosine {c} for {q}");
        if pieces(&full, q) != pieces(&texts_only, q) {
            differs_without += 1;
        }
    }
    assert_eq!(
        differs_without,
        UNSEEN.len(),
        "pruned to its texts alone, the bundle should not cover these queries"
    );
}

#[test]
fn bad_word_lists_are_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty.txt");
    std::fs::write(&empty, "\n \n").unwrap();
    let e = word_list_texts(std::slice::from_ref(&empty)).unwrap_err().to_string();
    assert!(e.contains("empty.txt") && e.contains("no words"), "{e}");
    let binary = tmp.path().join("binary.txt");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let e = word_list_texts(std::slice::from_ref(&binary)).unwrap_err().to_string();
    assert!(e.contains("binary.txt") && e.contains("UTF-8"), "{e}");
    let missing = tmp.path().join("missing.txt");
    let e = word_list_texts(std::slice::from_ref(&missing)).unwrap_err().to_string();
    assert!(e.contains("missing.txt"), "{e}");
}
