//! The training-data readers: a LAReQA folder read as rows keeps its split and pair space
//! exactly; Parquet shards by split, `save_to_disk` folders, column mapping, detection; bad
//! files refused with the file and place named.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use hbt_data::{PairData, ReadOptions, read, split};

fn shared(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared").join(p)
}

fn load(p: &Path) -> hbt_data::Result<PairData> {
    read::load(p, &ReadOptions::default())
}

#[test]
fn lareqa_as_rows_keeps_its_split_and_pair_space() {
    for name in ["xquad-r", "mlqa-r"] {
        let c = hbt_data::load_dir(&shared(&format!("data/{name}"))).unwrap();
        let d = hbt_data::pairs::from_corpus(&c).unwrap();
        for (frac, seed) in [(0.1, 1), (0.2, 7), (0.5, 3)] {
            let s = split::split_by_article(&c, frac, seed);
            let dev = split::split_groups(&d, frac, seed);
            let dev_ids: std::collections::BTreeSet<String> = (0..d.group_count())
                .filter(|&g| dev[g])
                .map(|g| d.group_id(g))
                .collect();
            assert_eq!(dev_ids, s.dev, "{name} {frac} {seed}");
            let old = split::pair_space(&c, Some(&s.train), None);
            let new = split::pairs_space(&d, Some(&|g| !dev[g]), None);
            assert_eq!(old.langs, new.langs);
            assert_eq!(old.groups.len(), new.groups.len());
            for (a, b) in old.groups.iter().zip(&new.groups) {
                assert_eq!(a.langs, b.langs);
                assert!(b.passage_langs.is_none());
            }
        }
    }
}

fn table(rows: &[(&str, &str, &str, &str)], with_lang: bool) -> RecordBatch {
    let mut cols: Vec<StringBuilder> = (0..4).map(|_| StringBuilder::new()).collect();
    for (id, lang, q, p) in rows {
        cols[0].append_value(id);
        cols[1].append_value(lang);
        cols[2].append_value(q);
        cols[3].append_value(p);
    }
    let mut fields = vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("language", DataType::Utf8, false),
        Field::new("question", DataType::Utf8, false),
        Field::new("context", DataType::Utf8, false),
    ];
    let mut arrays: Vec<ArrayRef> = cols.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    if !with_lang {
        fields.remove(1);
        arrays.remove(1);
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap()
}

fn write_parquet(path: &Path, batch: &RecordBatch) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let f = std::fs::File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(f, batch.schema(), None).unwrap();
    w.write(batch).unwrap();
    w.close().unwrap();
}

const A: &[(&str, &str, &str, &str)] = &[
    ("1", "en", "Where is Paris?", "Paris is in France."),
    ("1", "de", "Wo liegt Paris?", "Paris liegt in Frankreich."),
    ("2", "en", "How tall is it?", "It is three hundred metres tall."),
];
const B: &[(&str, &str, &str, &str)] = &[
    ("2", "de", "Wie hoch ist er?", "Er ist dreihundert Meter hoch."),
    ("3", "en", "Who built it?", "Gustave Eiffel's company built it."),
];

#[test]
fn parquet_shards_by_split_with_columns_mapped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("ds");
    write_parquet(&root.join("data/train-00000-of-00002.parquet"), &table(A, true));
    write_parquet(&root.join("data/train-00001-of-00002.parquet"), &table(B, true));
    write_parquet(&root.join("data/test-00000-of-00001.parquet"), &table(&A[..1], true));
    // The HF names (question, context) are aliases; `language` is an alias of lang.
    let d = load(&root).unwrap();
    assert_eq!(d.row_count(), 5);
    assert_eq!(d.group_count(), 3);
    assert_eq!(d.langs, ["de", "en"]);
    let test = read::load(
        &root,
        &ReadOptions {
            split: "test".into(),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(test.row_count(), 1);
    let e = read::load(
        &root,
        &ReadOptions {
            split: "validation".into(),
            ..Default::default()
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("no Parquet shard of split `validation` (it has: test, train)"),
        "{e}"
    );
    // Other names, mapped.
    let cols: hbt_data::Columns = "query=question,positive=context,lang=language".parse().unwrap();
    let d = read::load(
        &root,
        &ReadOptions {
            columns: cols,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(d.row_count(), 5);
    // Shards whose columns differ are refused, naming the shard.
    write_parquet(&root.join("data/train-00001-of-00002.parquet"), &table(B, false));
    let e = load(&root).unwrap_err().to_string();
    assert!(
        e.contains("train-00001-of-00002.parquet") && e.contains("differ from the first shard"),
        "{e}"
    );
}

#[test]
fn save_to_disk_folders_read_as_datasets_writes_them() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("saved");
    std::fs::create_dir_all(&dir).unwrap();
    // datasets' layout: Arrow IPC *stream* files named in state.json.
    for (i, rows) in [A, B].iter().enumerate() {
        let batch = table(rows, true);
        let f = std::fs::File::create(dir.join(format!("data-0000{i}-of-00002.arrow"))).unwrap();
        let mut w = arrow_ipc::writer::StreamWriter::try_new(f, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
    }
    std::fs::write(dir.join("dataset_info.json"), "{}").unwrap();
    std::fs::write(
        dir.join("state.json"),
        r#"{"_data_files": [{"filename": "data-00000-of-00002.arrow"}, {"filename": "data-00001-of-00002.arrow"}]}"#,
    )
    .unwrap();
    let d = load(&dir).unwrap();
    assert_eq!((d.row_count(), d.group_count()), (5, 3));
    assert_eq!(d.format, hbt_data::pairs::Format::Arrow);
    assert_eq!(d.row(3).unwrap().query, "Wie hoch ist er?");
}

#[test]
fn languages_are_detected_where_no_column_gives_them() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("nolang.jsonl");
    let rows = [
        (
            "Where can I find the opening hours of the city library?",
            "The city library is open every weekday from nine in the morning until six in the evening.",
        ),
        (
            "Wo finde ich die Öffnungszeiten der Stadtbibliothek?",
            "Die Stadtbibliothek ist an jedem Werktag von neun Uhr morgens bis sechs Uhr abends geöffnet.",
        ),
        (
            "Où puis-je trouver les horaires d'ouverture de la bibliothèque municipale ?",
            "La bibliothèque municipale est ouverte tous les jours de semaine de neuf heures à dix-huit heures.",
        ),
    ];
    let text: String = rows
        .iter()
        .map(|(q, p)| serde_json::json!({"query": q, "positive": p}).to_string() + "\n")
        .collect();
    std::fs::write(&f, text).unwrap();
    let d = load(&f).unwrap();
    let det = d.detected.clone().expect("languages were detected");
    assert_eq!(det.total(), 6, "{det:?}");
    assert_eq!(d.langs, ["de", "en", "fr"], "{det:?}");
}

/// whatlang on the XQuAD-R questions, per language: the accuracy docs/using.md quotes.
#[test]
fn detection_accuracy_on_xquad_r_questions() {
    let c = hbt_data::load_dir(&shared("data/xquad-r")).unwrap();
    let mut total = (0, 0);
    let mut lines = Vec::new();
    for (lang, d) in &c.langs {
        let ok = d
            .questions
            .iter()
            .filter(|q| hbt_data::iso::detect(&q.text) == Some(lang.as_str()))
            .count();
        total.0 += ok;
        total.1 += d.questions.len();
        lines.push(format!("{lang} {:.3}", ok as f64 / d.questions.len() as f64));
    }
    let acc = total.0 as f64 / total.1 as f64;
    eprintln!("whatlang on XQuAD-R questions: {acc:.3} overall; {}", lines.join(", "));
    // Measured 2026-12-07: see docs/using.md. A drop means the detector or its mapping broke.
    assert!(acc > 0.95, "{acc}");
}

#[test]
fn bad_files_are_refused_naming_file_and_place() {
    let tmp = tempfile::tempdir().unwrap();
    // A truncated Parquet file.
    let good = tmp.path().join("good.parquet");
    write_parquet(&good, &table(A, true));
    let bytes = std::fs::read(&good).unwrap();
    let cut = tmp.path().join("cut.parquet");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = load(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.parquet") && e.contains("Parquet"), "{e}");
    // A 100 MB row: refused by its size, not read whole.
    let big = tmp.path().join("big.jsonl");
    {
        use std::io::Write;
        let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        writeln!(w, r#"{{"query": "q", "positive": "p", "lang": "en"}}"#).unwrap();
        write!(w, r#"{{"query": "q", "lang": "en", "positive": ""#).unwrap();
        let chunk = "x".repeat(1 << 20);
        for _ in 0..100 {
            w.write_all(chunk.as_bytes()).unwrap();
        }
        writeln!(w, r#""}}"#).unwrap();
    }
    let e = load(&big).unwrap_err().to_string();
    assert!(e.contains("big.jsonl: line 2: the row is 100.0 MB"), "{e}");
    // Not UTF-8.
    let latin = tmp.path().join("latin1.jsonl");
    std::fs::write(
        &latin,
        b"{\"query\": \"caf\xe9\", \"positive\": \"p\", \"lang\": \"fr\"}\n",
    )
    .unwrap();
    let e = load(&latin).unwrap_err().to_string();
    assert!(e.contains("latin1.jsonl: line 1: not UTF-8"), "{e}");
    // Rows with and without ids.
    let mixed = tmp.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        "{\"id\": \"1\", \"query\": \"q\", \"positive\": \"p\", \"lang\": \"en\"}\n{\"query\": \"q2\", \"positive\": \"p2\", \"lang\": \"en\"}\n",
    )
    .unwrap();
    let e = load(&mixed).unwrap_err().to_string();
    assert!(e.contains("mixed.jsonl: line 2: no `id`"), "{e}");
    // An empty file.
    let empty = tmp.path().join("empty.jsonl");
    std::fs::write(&empty, "\n\n").unwrap();
    let e = load(&empty).unwrap_err().to_string();
    assert!(e.contains("empty.jsonl: no rows"), "{e}");
}

#[test]
fn streamed_rows_read_back_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("s.jsonl");
    std::fs::write(
        &f,
        "{\"query\": \"eins\", \"positive\": \"one\", \"query_lang\": \"de\", \"passage_lang\": \"en\", \"negative_1\": \"two\", \"negative_2\": \"three\"}\n\n{\"anchor\": \"deux\", \"answer\": \"zwei\", \"query_lang\": \"fr\", \"passage_lang\": \"de\"}\n",
    )
    .unwrap();
    let d = load(&f).unwrap();
    assert!(d.streams());
    assert_eq!(d.row_count(), 2);
    let r = d.row(0).unwrap();
    assert_eq!((r.query.as_str(), r.positive.as_str()), ("eins", "one"));
    assert_eq!(r.negatives, ["two", "three"]);
    assert_eq!(d.row(1).unwrap().positive, "zwei");
    let space = split::pairs_space(&d, None, None);
    assert_eq!(space.cross_pair_count(), 2);
    assert_eq!(space.pair_count(), 2);
}

/// One English query paired with a German and a French passage (two rows, one id): the
/// second row's query repeats the first's, and the row still says it is English.
#[test]
fn a_repeated_query_keeps_its_row_languages_through_convert() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("x.jsonl");
    std::fs::write(
        &f,
        "{\"id\": \"g\", \"query_lang\": \"en\", \"passage_lang\": \"de\", \"query\": \"Where?\", \"positive\": \"Hier.\"}\n\
         {\"id\": \"g\", \"query_lang\": \"en\", \"passage_lang\": \"fr\", \"query\": \"Where?\", \"positive\": \"Ici.\"}\n",
    )
    .unwrap();
    let d = load(&f).unwrap();
    assert_eq!(d.langs, ["de", "en", "fr"]);
    assert_eq!((d.row_langs(0), d.row_langs(1)), ((1, 0), (1, 2)));
    let out = tmp.path().join("y.jsonl");
    hbt_data::write::write_jsonl(&d, &out).unwrap();
    let back = load(&out).unwrap();
    assert_eq!((back.row_langs(0), back.row_langs(1)), ((1, 0), (1, 2)));
    // One query, two passages: two X-Y pairs (en→de, en→fr), no mono pair.
    let space = split::pairs_space(&d, None, None);
    assert_eq!((space.pair_count(), space.cross_pair_count()), (2, 2));
}
