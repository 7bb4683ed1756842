//! Random and mutated bytes for the corpus loaders (LAReQA JSON, BEIR corpus / queries /
//! topics / qrels, gzip too): each input gives a corpus whose indices all hold, or an error
//! naming the file; never a panic, and no allocation the input does not justify.
//! `HBT_FUZZ_CASES` / `HBT_FUZZ_SECONDS`: see tests/fuzz/mod.rs.

#[path = "../../../tests/fuzz/mod.rs"]
mod fuzz;

use std::io::Write;
use std::path::Path;

use fuzz::{accepted, check_allocation, fuzz, mutated, random_bytes, reset_largest};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[global_allocator]
static ALLOC: fuzz::Largest = fuzz::Largest;

const SLACK: usize = 1 << 20;

fn lareqa_seed() -> Vec<u8> {
    serde_json::json!({"data": [
        {"title": "Alpha", "paragraphs": [
            {"context": "One sentence. Zwei Sätze.", "sentences": ["One sentence.", "Zwei Sätze."],
             "sentence_breaks": [[0, 13], [14, 25]],
             "qas": [{"id": "q1", "question": "Which?", "answers": [{"answer_start": 14, "text": "Zwei"}]},
                     {"id": "q2", "question": "What?", "answers": [{"answer_start": 0, "text": "One"}]}]}
        ]},
        {"title": "Beta", "paragraphs": [
            {"context": "大熊猫吃竹子。", "sentences": ["大熊猫吃竹子。"], "sentence_breaks": [[0, 7]],
             "qas": [{"id": "q3", "question": "吃什么？", "answers": [{"answer_start": 4, "text": "竹子"}]}]}
        ]}
    ]})
    .to_string()
    .into_bytes()
}

fn names(e: &impl std::fmt::Display, dir: &Path) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(m.contains(&*dir.to_string_lossy()), "error does not name the file: {m}");
    Ok(())
}

fn lareqa_property(dir: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    std::fs::write(dir.join("en.json"), bytes).unwrap();
    reset_largest();
    match hbt_data::load_dir(dir) {
        Ok(c) => {
            accepted();
            for d in c.langs.values() {
                for q in &d.questions {
                    prop_assert!(q.answer < d.candidates.len() && q.paragraph < d.paragraphs.len());
                    prop_assert!(d.paragraphs[q.paragraph].sentences.contains(&q.answer));
                }
                for p in &d.paragraphs {
                    prop_assert!(p.sentences.end <= d.candidates.len() && p.article < d.articles.len());
                }
            }
        }
        Err(e) => names(&e, dir)?,
    }
    check_allocation(bytes.len(), 8, SLACK)
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

const CORPUS: &[u8] = b"{\"_id\": \"d1\", \"title\": \"A\", \"text\": \"First doc.\"}\n{\"_id\": \"d2\", \"title\": \"\", \"text\": \"Zweites Dokument.\"}\n";
const QUERIES: &[u8] = b"{\"_id\": \"q1\", \"text\": \"first?\"}\n{\"_id\": \"q2\", \"text\": \"zweites?\"}\n";
const TOPICS: &[u8] = b"q1\tfirst?\nq2\tzweites?\n";
const QRELS: &[u8] = b"query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\n";

/// Writes a BEIR directory with one file replaced and loads it.
fn beir_property(dir: &Path, which: &str, bytes: &[u8], factor: usize) -> Result<(), TestCaseError> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    let put = |name: &str, default: &[u8]| {
        let b = if name == which { bytes } else { default };
        if !(which == "topics.tsv" && name == "queries.jsonl") {
            std::fs::write(dir.join(name), b).unwrap();
        }
    };
    if which == "corpus.jsonl.gz" {
        std::fs::write(dir.join("corpus.jsonl.gz"), bytes).unwrap();
    } else {
        put("corpus.jsonl", CORPUS);
    }
    put("queries.jsonl", QUERIES);
    if which == "topics.tsv" {
        std::fs::write(dir.join("topics.tsv"), bytes).unwrap();
    }
    put("qrels/test.tsv", QRELS);
    reset_largest();
    match hbt_data::beir::load_beir(dir, "test") {
        Ok(s) => {
            accepted();
            let ids: std::collections::HashSet<&str> = s.docs.iter().map(|d| d.id.as_str()).collect();
            for rels in s.qrels.values() {
                prop_assert!(rels.keys().all(|d| ids.contains(d.as_str())));
            }
        }
        Err(e) => names(&e, dir)?,
    }
    check_allocation(bytes.len(), factor, SLACK)
}

#[test]
fn corpus_loaders_never_panic_on_random_or_mutated_files() {
    let tmp = tempfile::tempdir().unwrap();
    let lq = tmp.path().join("lareqa");
    std::fs::create_dir_all(&lq).unwrap();
    fuzz("lareqa", mutated(lareqa_seed()), |b| lareqa_property(&lq, b));
    fuzz("lareqa-random", random_bytes(), |b| lareqa_property(&lq, b));
    let bd = tmp.path().join("beir");
    for (which, seed) in [
        ("corpus.jsonl", CORPUS),
        ("queries.jsonl", QUERIES),
        ("topics.tsv", TOPICS),
        ("qrels/test.tsv", QRELS),
    ] {
        fuzz(
            &format!("beir-{}", which.replace('/', "-")),
            mutated(seed.to_vec()),
            |b| beir_property(&bd, which, b, 16),
        );
    }
    fuzz("beir-qrels-random", random_bytes(), |b| {
        beir_property(&bd, "qrels/test.tsv", b, 16)
    });
    // Deflate expands at most ~1032:1; a gzip corpus may justify that much.
    fuzz("beir-corpus.jsonl.gz", mutated(gz(CORPUS)), |b| {
        beir_property(&bd, "corpus.jsonl.gz", b, 2100)
    });
    fuzz(
        "beir-corpus.jsonl.gz-content",
        mutated(CORPUS.to_vec()).prop_map(|b| gz(&b)),
        |b| beir_property(&bd, "corpus.jsonl.gz", b, 2100),
    );
}

/// A training set's invariants: every group's entries name real rows and languages, and
/// every row reads back.
fn pairs_ok(d: &hbt_data::PairData) -> Result<(), TestCaseError> {
    prop_assert!(d.row_count() >= 1);
    for g in 0..d.group_count() {
        for e in d.entries(g) {
            prop_assert!((e.row as usize) < d.row_count() && (e.lang as usize) < d.langs.len());
            prop_assert_eq!(d.row_group(e.row as usize), g);
        }
    }
    for r in 0..d.row_count() {
        let row = d.row(r).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(!row.query.trim().is_empty() && !row.positive.trim().is_empty());
    }
    Ok(())
}

fn pairs_property(path: &Path, bytes: &[u8], factor: usize) -> Result<(), TestCaseError> {
    std::fs::write(path, bytes).unwrap();
    reset_largest();
    match hbt_data::read::load(path, &hbt_data::ReadOptions::default()) {
        Ok(d) => {
            accepted();
            pairs_ok(&d)?;
        }
        Err(e) => names(&e, path)?,
    }
    check_allocation(bytes.len(), factor, SLACK)
}

const JSONL: &[u8] =
    br#"{"id": "a", "lang": "en", "query": "Where is it?", "positive": "It is here.", "negatives": ["Not there."]}
{"id": "a", "lang": "de", "query": "Wo ist es?", "positive": "Es ist hier."}
{"id": "b", "query_lang": "en", "passage_lang": "fr", "query": "Who?", "positive": "Lui.", "negative": "Elle."}
"#;

#[test]
fn training_data_readers_never_panic_on_random_or_mutated_files() {
    let tmp = tempfile::tempdir().unwrap();
    let j = tmp.path().join("pairs.jsonl");
    fuzz("pairs-jsonl", mutated(JSONL.to_vec()), |b| pairs_property(&j, b, 16));
    fuzz("pairs-jsonl-random", random_bytes(), |b| pairs_property(&j, b, 16));
    let jz = tmp.path().join("pairs.jsonl.gz");
    fuzz("pairs-jsonl.gz", mutated(gz(JSONL)), |b| pairs_property(&jz, b, 2100));
    // A Parquet seed written by the library itself, then damaged.
    std::fs::write(&j, JSONL).unwrap();
    let d = hbt_data::read::load(&j, &hbt_data::ReadOptions::default()).unwrap();
    let seed = tmp.path().join("seed.parquet");
    hbt_data::write::write_parquet(&d, &seed).unwrap();
    let p = tmp.path().join("pairs.parquet");
    // Snappy pages expand; the reader may hold a page and its decoded columns at once.
    fuzz("pairs-parquet", mutated(std::fs::read(&seed).unwrap()), |b| {
        pairs_property(&p, b, 4096)
    });
}
