//! BEIR / MIRACL layouts from small fixtures written here.

use hbt_data::beir::load_beir;

#[test]
fn beir_jsonl_and_tsv_qrels() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    std::fs::write(
        d.join("corpus.jsonl"),
        "{\"_id\": \"d1\", \"title\": \"Berlin\", \"text\": \"Capital.\"}\n{\"_id\": \"d2\", \"text\": \"Other.\"}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("queries.jsonl"),
        "{\"_id\": \"q1\", \"text\": \"capital of germany\"}\n",
    )
    .unwrap();
    std::fs::create_dir_all(d.join("qrels")).unwrap();
    std::fs::write(d.join("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td1\t1\n").unwrap();
    let s = load_beir(d, "test").unwrap();
    assert_eq!(s.docs.len(), 2);
    assert_eq!(s.docs[0].passage(), "Berlin Capital.");
    assert_eq!(s.qrels["q1"]["d1"], 1);
}

#[test]
fn miracl_topics_gz_corpus_and_trec_qrels() {
    use std::io::Write;
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(d.join("corpus.jsonl.gz")).unwrap(),
        flate2::Compression::default(),
    );
    writeln!(gz, "{{\"docid\": \"7#0\", \"title\": \"T\", \"text\": \"x\"}}").unwrap();
    gz.finish().unwrap();
    std::fs::write(d.join("topics.dev.tsv"), "3\twas ist x\n").unwrap();
    std::fs::write(d.join("qrels.dev.trec"), "3 0 7#0 1\n").unwrap();
    let s = load_beir(d, "dev").unwrap();
    assert_eq!(s.queries[0].text, "was ist x");
    assert_eq!(s.qrels["3"]["7#0"], 1);
    // A judged document that is not in the corpus is an error naming the qrels file.
    std::fs::write(d.join("qrels.dev.trec"), "3 0 missing 1\n").unwrap();
    let e = load_beir(d, "dev").unwrap_err().to_string();
    assert!(e.contains("qrels.dev.trec") && e.contains("missing"), "{e}");
    // A malformed corpus line names its line.
    std::fs::write(d.join("corpus.jsonl"), "{\"_id\": \"a\", \"text\": \"ok\"}\n{oops}\n").unwrap();
    let e = load_beir(d, "dev").unwrap_err().to_string();
    assert!(e.contains("corpus.jsonl") && e.contains("line 2"), "{e}");
}
