//! The LAReQA scorer on a corpus small enough to rank by hand.
//!
//! Two languages, two questions (q1, q2), each paragraph with two sentences; the answer of
//! q1 is sentence 0 and of q2 sentence 1, in both languages. Vectors are set by hand.

use std::path::Path;

use hbt_eval::embed::Vectors;
use hbt_eval::lareqa::{EmbeddedCorpus, LareqaOptions, score, summarize};
use hbt_model::burn::prelude::Device;

fn write(dir: &Path, lang: &str) {
    let v = serde_json::json!({"data": [{"title": "T", "paragraphs": [{
    "context": "Aa. Bb.", "sentence_breaks": [[0, 3], [4, 7]], "sentences": ["Aa.", "Bb."],
    "qas": [
        {"id": "q1", "question": "one?", "answers": [{"answer_start": 0, "text": "A"}]},
        {"id": "q2", "question": "two?", "answers": [{"answer_start": 4, "text": "B"}]}
    ]}]}]});
    std::fs::write(dir.join(format!("{lang}.json")), v.to_string()).unwrap();
}

fn vecs(rows: &[[f32; 2]]) -> Vectors {
    Vectors {
        dim: 2,
        data: rows.iter().flatten().copied().collect(),
    }
}

#[test]
fn hand_ranked_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "de");
    write(tmp.path(), "en");
    let corpus = hbt_data::load_dir(tmp.path()).unwrap();
    // Language order: de, en. Candidates: de0 de1 en0 en1.
    // q1 (both languages) = (1, 0). Candidate scores for q1: de0 .9, de1 .1, en0 .5, en1 .7
    // q2 (both languages) = (0, 1). Candidate scores for q2: de0 .2, de1 .8, en0 .3, en1 .6
    let q = vecs(&[[1.0, 0.0], [0.0, 1.0]]);
    let emb = EmbeddedCorpus {
        questions: vec![q.clone(), q],
        candidates: vec![vecs(&[[0.9, 0.2], [0.1, 0.8]]), vecs(&[[0.5, 0.3], [0.7, 0.6]])],
    };
    let opts = LareqaOptions {
        show_progress: false,
        ..Default::default()
    };
    let (tasks, multi) = score(&corpus, &emb, &Device::flex(), &opts).unwrap();
    let get = |name: &str| tasks.iter().find(|t| t.name == name).unwrap();
    // de->de: q1 answer de0 rank 1; q2 answer de1 rank 1.
    assert_eq!(get("de-de").map, 1.0);
    // de->en: q1 answer en0 (.5 < .7) rank 2 -> AP 1/2; q2 answer en1 (.6 > .3) rank 1.
    assert!((get("de-en").map - 0.75).abs() < 1e-12);
    assert!((get("de-en").r_1 - 0.5).abs() < 1e-12);
    // Multilingual pool for q1: order de0 .9, en1 .7, en0 .5, de1 .1; relevant de0 (1), en0 (3).
    // AP = (1/1 + 2/3)/2; rank distance 2. q2: de1 .8, en1 .6, en0 .3, de0 .2; relevant de1 (1),
    // en1 (2): AP 1, distance 1.
    let de = &multi[0];
    assert!((de.map - ((1.0 + 2.0 / 3.0) / 2.0 + 1.0) / 2.0).abs() < 1e-12);
    assert!((de.rank_distance - 1.5).abs() < 1e-12);
    // Top-10 is the whole pool (4): 2 of 4 German for each query.
    assert!((de.own_lang_top10 - 0.5).abs() < 1e-12);
    assert!((de.blind_own_lang - 0.5).abs() < 1e-12);
    let s = summarize(&tasks, &multi);
    assert_eq!(tasks.len(), 4);
    assert!(s.mono_map > 0.0 && s.cross_map > 0.0);
}
