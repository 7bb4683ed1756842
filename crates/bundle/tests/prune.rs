//! Vocabulary pruning keeps the vectors of the full model for text inside the kept
//! vocabulary, with a far smaller embedding table, for both tokenizer families.

#[path = "../../model/tests/common/mod.rs"]
mod common;

use hbt_bundle::PruneVocab;
use hbt_model::{Encoder, EncoderOptions, TextKind, burn::prelude::Device};

const TEXTS: [&str; 6] = [
    "Die Stadt liegt am Ufer des Rheins und hat etwa 300.000 Einwohner.",
    "The city lies on the bank of the Rhine and has about 300,000 inhabitants.",
    "La ciudad está a orillas del Rin y tiene unos 300.000 habitantes.",
    "这座城市位于莱茵河畔，约有30万居民。",
    "Город расположен на берегу Рейна.",
    "مدينة تقع على ضفة نهر الراين",
];

fn check(dir: &std::path::Path) {
    let device = Device::flex();
    let full = Encoder::load(dir, &device, &EncoderOptions::default()).unwrap();
    let texts: Vec<(&str, TextKind)> = TEXTS
        .iter()
        .enumerate()
        .map(|(i, t)| (*t, if i % 2 == 0 { TextKind::Query } else { TextKind::Passage }))
        .collect();
    let (pruned, stats) = full.prune_vocab(&texts).unwrap();
    assert_eq!(stats.vocab_after, pruned.config.vocab_size);
    assert_eq!(pruned.tokenizer.vocab_size(), stats.vocab_after);
    assert!(
        stats.vocab_after * 20 < stats.vocab_before,
        "pruning kept {} of {} tokens",
        stats.vocab_after,
        stats.vocab_before
    );
    for &(t, kind) in &texts {
        let a = full.embed_batch(&[t], kind).unwrap();
        let b = pruned.embed_batch(&[t], kind).unwrap();
        let c = common::cosine(&b[0], &a[0].iter().map(|&v| v as f64).collect::<Vec<_>>());
        assert!(c >= 0.99999, "cosine {c} for {t:?}");
        // The same tokens, renumbered.
        let ta = full.tokenize(&[t], kind).unwrap();
        let tb = pruned.tokenize(&[t], kind).unwrap();
        let pieces = |e: &Encoder, ids: &[u32]| -> Vec<String> {
            ids.iter()
                .map(|&i| e.tokenizer.inner().id_to_token(i).unwrap())
                .collect()
        };
        assert_eq!(pieces(&full, ta.row_ids(0)), pieces(&pruned, tb.row_ids(0)));
    }
    // All of them in one padded batch too.
    let refs: Vec<&str> = TEXTS.to_vec();
    let a = full.embed_batch(&refs, TextKind::Passage).unwrap();
    let b = pruned.embed_batch(&refs, TextKind::Passage).unwrap();
    for (x, y) in a.iter().zip(&b) {
        let c = common::cosine(y, &x.iter().map(|&v| v as f64).collect::<Vec<_>>());
        assert!(c >= 0.99999, "batched cosine {c}");
    }

    // The pruned model survives a save/load round trip (what `hbt export` ships).
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("pruned");
    pruned
        .save(
            &out,
            &hbt_model::ModelFiles::default(),
            hbt_model::SaveOptions::default(),
        )
        .unwrap();
    let back = Encoder::load(&out, &device, &EncoderOptions::default()).unwrap();
    assert_eq!(back.config.vocab_size, stats.vocab_after);
    let c = back.embed_batch(&[TEXTS[0]], TextKind::Query).unwrap();
    let d = full.embed_batch(&[TEXTS[0]], TextKind::Query).unwrap();
    assert!(common::cosine(&c[0], &d[0].iter().map(|&v| v as f64).collect::<Vec<_>>()) >= 0.99999);
}

#[test]
fn pruned_e5_gives_the_full_models_vectors() {
    check(&common::e5_dir());
}

#[test]
fn pruned_minilm_gives_the_full_models_vectors() {
    check(&common::minilm_dir());
}
