//! Random and mutated bytes for every file hbt-model reads from users: config.json,
//! tokenizer.json, model.safetensors (header and tensors, and their shapes against the
//! config), the web bundle's manifest, corpus and passage vectors (f16, int8), and an
//! on-demand vocabulary's rows file and pieces. Each input gives
//! `Ok` or a typed error naming the file, never a panic, and no single allocation larger than
//! the input justifies. `HBT_FUZZ_CASES` / `HBT_FUZZ_SECONDS`: see tests/fuzz/mod.rs.

#[path = "../../model/tests/common/mod.rs"]
mod common;
#[path = "../../../tests/fuzz/mod.rs"]
mod fuzz;

use std::path::Path;

use common::TinySpec;
use fuzz::{accepted, check_allocation, fuzz, mutated, random_bytes, reset_largest};
use hbt_bundle::{BundleCorpus, Manifest};
use hbt_model::TextTokenizer;
use hbt_model::burn::prelude::Device;
use hbt_model::config::EncoderConfig;
use hbt_model::{Encoder, EncoderOptions, ModelFiles, TextKind};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

#[global_allocator]
static ALLOC: fuzz::Largest = fuzz::Largest;

/// Decoding f16 weights to f32 doubles them; Burn keeps one more copy while building.
const FACTOR: usize = 8;
const SLACK: usize = 4 << 20;

const TEXTS: &[&str] = &[
    "hello world",
    "",
    "héllo wörld ☃ 大熊猫 🐼",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
];

fn origin() -> &'static Path {
    Path::new("/fuzz/model")
}

fn tiny_files() -> ModelFiles {
    let spec = TinySpec::default();
    let t = common::tiny_tensors(&spec, 7);
    ModelFiles {
        origin: origin().to_path_buf(),
        config: common::tiny_config(&spec).to_string().into_bytes(),
        weights: vec![(origin().join("model.safetensors"), common::safetensors_bytes(&t, ""))],
        tokenizer: common::tiny_tokenizer_json().into_bytes(),
        ..Default::default()
    }
}

fn files_len(f: &ModelFiles) -> usize {
    f.config.len() + f.tokenizer.len() + f.weights.iter().map(|w| w.1.len()).sum::<usize>()
}

/// The property for a whole model directory: loads and embeds, or a clear error.
fn load_and_embed(files: ModelFiles) -> Result<(), TestCaseError> {
    let len = files_len(&files);
    reset_largest();
    match Encoder::from_files(files, &Device::flex(), &EncoderOptions::default()) {
        Ok(enc) => {
            accepted();
            for kind in [TextKind::Query, TextKind::Passage, TextKind::Plain] {
                if let Ok(v) = enc.embed(TEXTS, kind) {
                    prop_assert_eq!(v.len(), TEXTS.len());
                }
            }
        }
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(msg.contains("/fuzz/model"), "error does not name the file: {msg}");
        }
    }
    check_allocation(len, FACTOR, SLACK)
}

fn unigram_tokenizer() -> String {
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [
            {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 3, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
        ],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "Nmt"}, {"type": "NFKC"}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "</s>", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]}, "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}
        },
        "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
        "model": {"type": "Unigram", "unk_id": 3, "byte_fallback": false, "vocab": [
            ["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁", -2.0], ["▁hello", -3.0], ["▁world", -3.5],
            ["a", -5.0], ["b", -5.0], ["e", -5.0], ["h", -5.0], ["l", -5.0], ["o", -5.0], ["w", -5.0], ["r", -5.0], ["d", -5.0]
        ]}
    })
    .to_string()
}

fn wordpiece_tokenizer() -> String {
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [
            {"id": 0, "content": "[PAD]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 1, "content": "[UNK]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 2, "content": "[CLS]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
            {"id": 3, "content": "[SEP]", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
        ],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100,
            "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5, "##s": 6, "h": 7, "##e": 8, "##llo": 9}}
    })
    .to_string()
}

fn tokenizer_property(bytes: &[u8]) -> Result<(), TestCaseError> {
    reset_largest();
    let path = origin().join("tokenizer.json");
    match TextTokenizer::new(bytes.to_vec(), &path, 16, 1) {
        Ok(t) => {
            accepted();
            if let Ok(b) = t.encode(TEXTS) {
                prop_assert_eq!(b.batch, TEXTS.len());
                prop_assert!(b.seq <= 16, "truncation ignored: {} tokens", b.seq);
            }
        }
        Err(e) => prop_assert!(e.to_string().contains("tokenizer.json"), "{e}"),
    }
    check_allocation(bytes.len(), 64, SLACK)
}

fn manifest_seed() -> Vec<u8> {
    serde_json::json!({
        "format": hbt_bundle::FORMAT, "created_by": "hbt 0.1.0",
        "model": {"dir": "model", "label": "e5", "dtype": "f16", "files": ["config.json", "model.safetensors", "tokenizer.json"],
                  "vocab": {"before": 250002, "after": 2231, "weights_bytes_full": 470000000u64, "weights_bytes_pruned": 44000000u64}},
        "corpus": "corpus.json", "embeddings": "embeddings.safetensors", "report": "report.json",
        "languages": ["de", "en"], "passages": 2, "questions": 1, "dim": 4, "source": "xquad-r",
        "files": [{"path": "corpus.json", "bytes": 300}, {"path": "model/model.safetensors", "bytes": 44000000u64}]
    })
    .to_string()
    .into_bytes()
}

fn corpus_seed() -> Vec<u8> {
    serde_json::json!({
        "passages": [{"id": "0", "lang": "de", "text": "Hallo Welt."}, {"id": "1", "lang": "en", "text": "Hello world."}],
        "questions": [{"id": "q1", "lang": "en", "text": "Which world?", "answers": [0, 1]}]
    })
    .to_string()
    .into_bytes()
}

fn must_name(e: impl std::fmt::Display, file: &str) -> Result<(), TestCaseError> {
    let m = e.to_string();
    prop_assert!(m.contains(file), "error does not name {file}: {m}");
    Ok(())
}

#[test]
fn model_loaders_never_panic_on_random_or_mutated_files() {
    inputs_that_once_crashed_are_errors_naming_the_file();
    let base = tiny_files();
    // Each file of a model directory, mutated while the others stay valid.
    fuzz("config.json", mutated(base.config.clone()), |b| {
        let mut f = tiny_files();
        f.config = b.to_vec();
        load_and_embed(f)
    });
    fuzz("config.json-random", random_bytes(), |b| {
        reset_largest();
        match EncoderConfig::from_bytes(b, &origin().join("config.json")) {
            Ok(_) => accepted(),
            Err(e) => must_name(e, "config.json")?,
        }
        check_allocation(b.len(), FACTOR, SLACK)
    });
    fuzz("model.safetensors", mutated(base.weights[0].1.clone()), |b| {
        let mut f = tiny_files();
        f.weights[0].1 = b.to_vec();
        load_and_embed(f)
    });
    fuzz("model.safetensors-random", random_bytes(), |b| {
        let mut f = tiny_files();
        f.weights[0].1 = b.to_vec();
        load_and_embed(f)
    });
    fuzz("tokenizer.json-model", mutated(base.tokenizer.clone()), |b| {
        let mut f = tiny_files();
        f.tokenizer = b.to_vec();
        load_and_embed(f)
    });
    fuzz(
        "tokenizer.json-unigram",
        mutated(unigram_tokenizer().into_bytes()),
        tokenizer_property,
    );
    fuzz(
        "tokenizer.json-wordpiece",
        mutated(wordpiece_tokenizer().into_bytes()),
        tokenizer_property,
    );
    fuzz("tokenizer.json-random", random_bytes(), tokenizer_property);
    let sbert = br#"{"word_embedding_dimension": 16, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": false}"#;
    fuzz("1_Pooling-config.json", mutated(sbert.to_vec()), |b| {
        let mut f = tiny_files();
        f.st_pooling = Some(b.to_vec());
        load_and_embed(f)
    });
    // The web bundle.
    let manifest = origin().join("manifest.json");
    let check_manifest = |b: &[u8]| {
        reset_largest();
        match Manifest::parse(b, &manifest) {
            Ok(_) => accepted(),
            Err(e) => must_name(e, "manifest.json")?,
        }
        check_allocation(b.len(), FACTOR, SLACK)
    };
    fuzz("manifest.json", mutated(manifest_seed()), check_manifest);
    fuzz("manifest.json-random", random_bytes(), check_manifest);
    let corpus = origin().join("corpus.json");
    fuzz("corpus.json", mutated(corpus_seed()), |b| {
        reset_largest();
        match BundleCorpus::parse(b, &corpus) {
            Ok(c) => {
                accepted();
                for q in &c.questions {
                    prop_assert!(q.answers.iter().all(|&a| a < c.passages.len()));
                }
            }
            Err(e) => must_name(e, "corpus.json")?,
        }
        check_allocation(b.len(), FACTOR, SLACK)
    });
    let vectors: Vec<f32> = (0..8).map(|i| i as f32 / 8.0).collect();
    let emb = hbt_bundle::embeddings_safetensors(2, 4, &vectors).unwrap();
    let emb_path = origin().join("embeddings.safetensors");
    let check_emb = |b: &[u8]| {
        reset_largest();
        match hbt_bundle::read_embeddings(b, &emb_path) {
            Ok((n, dim, data)) => {
                accepted();
                prop_assert_eq!(n * dim, data.len())
            }
            Err(e) => must_name(e, "embeddings.safetensors")?,
        }
        check_allocation(b.len(), FACTOR, SLACK)
    };
    fuzz("embeddings.safetensors", mutated(emb), check_emb);
    fuzz("embeddings.safetensors-random", random_bytes(), check_emb);
    let emb_q8 = hbt_bundle::embeddings_safetensors_q8(2, 4, &vectors).unwrap();
    fuzz("embeddings.safetensors-q8", mutated(emb_q8), check_emb);
    on_demand_files();
}

/// An on-demand vocabulary's files: the rows file (whole, as hbt reads it natively, and as
/// a range read of rows from the browser's server) and the compressed pieces.
fn on_demand_files() {
    use hbt_model::words::{Int8Table, ROWS_HEADER, RowsLayout, write_rows};
    let q: Vec<i8> = (0..3 * 4).map(|i| (i as i8).wrapping_mul(29)).collect();
    let rows = write_rows(&q, &[0.5, 0.25, 2.0], 4);
    let check_rows = |b: &[u8]| {
        reset_largest();
        match Int8Table::from_rows_file(b, "word-rows.bin") {
            Ok(t) => {
                accepted();
                prop_assert_eq!(t.q.len(), t.rows() * t.hidden)
            }
            Err(e) => must_name(e, "word-rows.bin")?,
        }
        check_allocation(b.len(), FACTOR, SLACK)
    };
    fuzz("word-rows.bin", mutated(rows.clone()), check_rows);
    fuzz("word-rows.bin-random", random_bytes(), check_rows);
    // A server's answer to a range read of rows 1.. (any length, any bytes).
    let layout = RowsLayout::new(3, 4);
    fuzz(
        "word-rows.bin-range",
        mutated(rows[ROWS_HEADER + layout.record..].to_vec()),
        |b| {
            let mut t = Int8Table::sparse(4);
            match t.insert_records(&layout, 1, b, "word-rows.bin") {
                Ok(n) => {
                    accepted();
                    prop_assert!(n <= 2);
                }
                Err(e) => must_name(e, "word-rows.bin")?,
            }
            Ok(())
        },
    );
    let unigram = serde_json::json!({"model": {"type": "Unigram", "unk_id": 0,
        "vocab": [["<unk>", 0.0], ["▁a", -1.5], ["b", -2.25], ["▁ab", -3.125]]}});
    let (_, pieces) = hbt_tokenizer::split_tokenizer(unigram.to_string().as_bytes(), Path::new("t.json")).unwrap();
    let pieces_path = origin().join("tokenizer.pieces");
    let check_pieces = |b: &[u8]| {
        reset_largest();
        match hbt_tokenizer::read_pieces(b, &pieces_path) {
            Ok(_) => accepted(),
            Err(e) => must_name(e, "tokenizer.pieces")?,
        }
        // Inflating is bounded (64 MB) whatever a corrupt stream claims.
        check_allocation(b.len(), FACTOR, 80 << 20)
    };
    fuzz("tokenizer.pieces", mutated(pieces), check_pieces);
    fuzz("tokenizer.pieces-random", random_bytes(), check_pieces);
    // A server's multipart answer to several ranges: parts lie inside the body, in order.
    let mut body = Vec::new();
    for (a, part) in [(32u64, &rows[32..40]), (50, &rows[50..53])] {
        body.extend_from_slice(
            format!(
                "\r\n--B\r\nContent-Range: bytes {a}-{}/999\r\n\r\n",
                a + part.len() as u64 - 1
            )
            .as_bytes(),
        );
        body.extend_from_slice(part);
    }
    body.extend_from_slice(b"\r\n--B--\r\n");
    let check_multipart = |b: &[u8]| {
        if let Ok(parts) = hbt_bundle::byteranges::parts(b, "B") {
            accepted();
            for p in parts {
                let at = p.bytes.as_ptr() as usize - b.as_ptr() as usize;
                prop_assert!(at + p.bytes.len() <= b.len());
            }
        }
        Ok(())
    };
    fuzz("multipart/byteranges", mutated(body), check_multipart);
    fuzz("multipart/byteranges-random", random_bytes(), check_multipart);
}

/// The crashes the long fuzz runs found, kept as plain regression cases. (Called from the
/// one test of this binary: the allocation bound reads a process-wide counter.)
fn inputs_that_once_crashed_are_errors_naming_the_file() {
    let base = tiny_files();
    let cfg = String::from_utf8(base.config.clone()).unwrap();
    let tok = String::from_utf8(base.tokenizer.clone()).unwrap();
    let cases: Vec<(&str, ModelFiles)> = vec![
        // 2^32 layers: the builder listed billions of missing tensors (out of memory).
        ("num_hidden_layers", {
            let mut f = tiny_files();
            f.config = cfg
                .replace("\"num_hidden_layers\":2", "\"num_hidden_layers\":4294967296")
                .into_bytes();
            f
        }),
        // A post-processor id past the embedding table (index out of bounds in the lookup).
        ("embedding rows", {
            let mut f = tiny_files();
            f.tokenizer = tok.replace("\"ids\":[2]", "\"ids\":[65535]").into_bytes();
            f
        }),
        // A template naming a special token it does not define (tokenizers panics on use).
        ("cannot encode", {
            let mut f = tiny_files();
            let single = "{\"SpecialToken\":{\"id\":\"</s>\",\"type_id\":0}}]";
            let i = tok.find("\"single\"").unwrap();
            let j = i + tok[i..].find(single).unwrap();
            f.tokenizer = format!(
                "{}{}{}",
                &tok[..j],
                single.replace("</s>", "#/s>"),
                &tok[j + single.len()..]
            )
            .into_bytes();
            f
        }),
        // A decoder that is neither tagged nor legacy (tokenizers' `expect("Helper")`).
        ("tokenizer.json", {
            let mut f = tiny_files();
            f.tokenizer = tok.replace("\"decoder\":null", "\"decoder\":{\"type\":7}").into_bytes();
            f
        }),
    ];
    // A tokenizer.json asking for padding to 10^11 tokens: hbt's own padding replaces it
    // before anything is encoded (a probe encode once ran first and tried to allocate it).
    let mut f = tiny_files();
    assert!(tok.contains("{\"Fixed\":64}"));
    f.tokenizer = tok.replace("{\"Fixed\":64}", "{\"Fixed\":100000000000}").into_bytes();
    let enc = Encoder::from_files(f, &Device::flex(), &EncoderOptions::default()).unwrap();
    assert_eq!(enc.embed(TEXTS, TextKind::Query).unwrap().len(), TEXTS.len());
    for (what, files) in cases {
        assert!(
            files.config != base.config || files.tokenizer != base.tokenizer,
            "{what}: case not applied"
        );
        let e = Encoder::from_files(files, &Device::flex(), &EncoderOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{what}: accepted"))
            .to_string();
        assert!(e.contains("/fuzz/model") && e.contains(what), "{what}: {e}");
    }
}
