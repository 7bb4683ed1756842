//! An on-demand vocabulary (`hbt_model::words`) against the full model it came from: the
//! compact tokenizer cuts every XQuAD-R question of all eleven languages (and Romanian, which
//! XQuAD-R lacks) into exactly the full `tokenizer.json`'s ids; the rows file read whole gives
//! bit-for-bit the vectors of the same model saved in q8 with its table; rows fetched a few
//! at a time give those vectors too; and the vectors stay within cosine 0.999 of f32.

#[path = "../../model/tests/common/mod.rs"]
mod common;

use std::path::PathBuf;

use hbt_bundle::PruneVocab;
use hbt_model::weights::SaveDtype;
use hbt_model::words::{self, Int8Table, RowsLayout};
use hbt_model::{Encoder, EncoderOptions, ModelFiles, Precision, SaveOptions, TextKind, burn::prelude::Device};

/// Held-out questions in twelve languages, six of them in scripts or languages the demo
/// bundle's passages lack.
const TEXTS: [&str; 12] = [
    "Wie viele Einwohner hatte Hamburg im Jahr 1900?",
    "Who founded the IPCC and when did it publish its first report?",
    "¿Quién construyó el puente más antiguo de la ciudad?",
    "这座城市位于莱茵河畔，约有30万居民。",
    "Сколько жителей было в ЮАР в 1990 году?",
    "مدينة تقع على ضفة نهر الراين",
    "ใครเป็นผู้ก่อตั้งมหาวิทยาลัยแห่งนี้",
    "Πόσοι άνθρωποι ζούσαν στην πόλη το 1900;",
    "इस शहर की जनसंख्या कितनी है?",
    "Thành phố này có bao nhiêu dân vào năm 1900?",
    "Şehrin nüfusu 1900 yılında ne kadardı?",
    "Câți locuitori avea orașul în anul 1900, după recensământ?",
];

fn xquad_r() -> PathBuf {
    std::env::var_os("HBT_XQUAD_R")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/xquad-r"))
}

/// Every question of every XQuAD-R language (11 × 1,190).
fn all_questions() -> Vec<String> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(xquad_r())
        .expect("XQuAD-R at HBT_XQUAD_R or ../shared/data/xquad-r")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 11, "XQuAD-R has eleven languages");
    for f in files {
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        for a in v["data"].as_array().unwrap() {
            for p in a["paragraphs"].as_array().unwrap() {
                for q in p["qas"].as_array().unwrap() {
                    out.push(q["question"].as_str().unwrap().to_string());
                }
            }
        }
    }
    out
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    common::cosine32(a, b)
}

#[test]
fn an_on_demand_vocabulary_tokenizes_and_embeds_as_the_full_model() {
    let device = Device::flex();
    let e5 = common::e5_dir();
    let full = Encoder::load(&e5, &device, &EncoderOptions::default()).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (q8_dir, od_dir) = (tmp.path().join("q8"), tmp.path().join("od"));
    for dir in [&q8_dir, &od_dir] {
        let save = SaveOptions {
            dtype: SaveDtype::Q8,
            overwrite: false,
        };
        full.save(dir, &ModelFiles::default(), save).unwrap();
    }
    let stats = hbt_bundle::make_on_demand(&od_dir).unwrap();
    println!("{stats:?}");
    assert_eq!(stats.rows, full.config.vocab_size);
    assert_eq!(stats.rows_bytes, RowsLayout::new(stats.rows, 384).file_bytes());
    // The skeleton keeps the normalizer's character map (~310 KB), not the vocabulary.
    assert!(stats.tokenizer_bytes.1 * 40 < stats.tokenizer_bytes.0, "{stats:?}");
    assert!(
        stats.pieces_bytes * 4 < stats.tokenizer_bytes.0,
        "pieces {} bytes vs tokenizer.json {}",
        stats.pieces_bytes,
        stats.tokenizer_bytes.0
    );

    // The tokenizer: every XQuAD-R question, and the held-out texts.
    let od_int8 = EncoderOptions {
        precision: Precision::Int8,
        ..Default::default()
    };
    let od = Encoder::load(&od_dir, &device, &od_int8).unwrap();
    let mut texts = all_questions();
    texts.extend(TEXTS.iter().map(|t| t.to_string()));
    for chunk in texts.chunks(256) {
        let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
        let (a, b) = (
            full.tokenize(&refs, TextKind::Query).unwrap(),
            od.tokenize(&refs, TextKind::Query).unwrap(),
        );
        assert_eq!(a.ids, b.ids, "the pieces file tokenizes otherwise than tokenizer.json");
    }
    println!("{} questions tokenize identically", texts.len());

    // Vectors: the rows file read whole = the q8 model's own table, bit for bit.
    let q8 = Encoder::load(&q8_dir, &device, &od_int8).unwrap();
    let want = q8.embed(&TEXTS, TextKind::Query).unwrap();
    assert_eq!(od.embed(&TEXTS, TextKind::Query).unwrap(), want);
    let f32_vecs = full.embed(&TEXTS, TextKind::Query).unwrap();
    for (i, (a, b)) in want.iter().zip(&f32_vecs).enumerate() {
        let c = cosine(a, b);
        println!("{:?}: cosine to f32 {c:.6}", &TEXTS[i]);
        assert!(c >= 0.999, "{}: cosine {c} to the f32 model", TEXTS[i]);
    }
    // In f32 too (the browser's WebGPU path widens the int8 rows).
    let od_f32 = Encoder::load(&od_dir, &device, &EncoderOptions::default()).unwrap();
    for (a, b) in od_f32.embed(&TEXTS, TextKind::Query).unwrap().iter().zip(&f32_vecs) {
        assert!(cosine(a, b) >= 0.999);
    }

    // Rows fetched as the browser does: none at first, then exactly the rows a batch needs.
    let mut files = ModelFiles::read_dir(&od_dir).unwrap();
    let rows_file = files.word_rows.take().unwrap();
    let browser = Encoder::from_files(files, &device, &od_int8).unwrap();
    assert!(browser.words_on_demand());
    assert!(
        browser.embed(&TEXTS[..1], TextKind::Query).is_err(),
        "no rows, no vector"
    );
    let batch = browser.tokenize(&TEXTS, TextKind::Query).unwrap();
    let layout = RowsLayout::parse_header(&rows_file, "word-rows.bin").unwrap();
    let mut table = Int8Table::sparse(layout.hidden);
    let need = table.missing(&batch.ids);
    assert!(browser.to_device_with_rows(&batch, &table, &device).is_err());
    for (first, last) in hbt_bundle::plan_ranges(&need, 2) {
        let (a, b) = (layout.offset(first as usize), layout.offset(last as usize + 1));
        table
            .insert_records(&layout, first as usize, &rows_file[a as usize..b as usize], "rows")
            .unwrap();
    }
    assert!(table.missing(&batch.ids).is_empty());
    println!(
        "{} texts need {} rows ({} bytes of {})",
        TEXTS.len(),
        need.len(),
        need.len() * layout.record,
        rows_file.len()
    );
    let tensors = browser.to_device_with_rows(&batch, &table, &device).unwrap();
    let flat = browser.forward(&tensors).into_data().try_to_vec::<f32>().unwrap();
    let got: Vec<Vec<f32>> = flat.chunks(384).map(<[f32]>::to_vec).collect();
    assert_eq!(got, want, "rows fetched on demand give the vectors of the whole table");

    // Saving such a model is refused (its table is int8), rather than writing an empty one.
    let err = od_f32
        .save(
            &tmp.path().join("again"),
            &ModelFiles::default(),
            SaveOptions::default(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("int8"), "{err}");
}

#[test]
fn broken_on_demand_files_are_errors_naming_the_file() {
    let device = Device::flex();
    let full = Encoder::load(&common::e5_dir(), &device, &EncoderOptions::default()).unwrap();
    // A pruned model keeps the test small; the files are the same kind.
    let (small, _) = full
        .prune_vocab(&[("Hamburg hat viele Brücken.", TextKind::Query)])
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("od");
    small
        .save(&dir, &ModelFiles::default(), SaveOptions::default())
        .unwrap();
    hbt_bundle::make_on_demand(&dir).unwrap();
    Encoder::load(&dir, &device, &EncoderOptions::default()).unwrap();

    let broken = |file: &str, f: &dyn Fn(&mut Vec<u8>)| {
        let d = tmp.path().join(format!("broken-{}", file.replace('.', "-")));
        std::fs::create_dir_all(&d).unwrap();
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, d.join(p.file_name().unwrap())).unwrap();
            }
        }
        let mut b = std::fs::read(d.join(file)).unwrap();
        f(&mut b);
        std::fs::write(d.join(file), b).unwrap();
        Encoder::load(&d, &device, &EncoderOptions::default())
            .unwrap_err()
            .to_string()
    };
    let e = broken(words::ROWS_FILE, &|b| b.truncate(b.len() - 100));
    assert!(e.contains(words::ROWS_FILE) && e.contains("truncated"), "{e}");
    let e = broken(words::ROWS_FILE, &|b| {
        let n = b.len();
        b[n - 7] ^= 0x40
    });
    assert!(e.contains(words::ROWS_FILE) && e.contains("fails its check"), "{e}");
    let e = broken(hbt_tokenizer::PIECES_FILE, &|b| b.truncate(b.len() / 2));
    assert!(e.contains(hbt_tokenizer::PIECES_FILE), "{e}");
    let e = broken(hbt_tokenizer::PIECES_FILE, &|b| *b = b"not zlib".to_vec());
    assert!(
        e.contains(hbt_tokenizer::PIECES_FILE) && e.contains("compressed"),
        "{e}"
    );
    let e = broken("hbt.json", &|b| {
        *b = String::from_utf8(b.clone())
            .unwrap()
            .replace(hbt_tokenizer::PIECES_FILE, "gone.pieces")
            .into_bytes()
    });
    assert!(e.contains("gone.pieces"), "{e}");
}
