//! `SaveDtype::Q8`: the word-embedding table and the linear layers in int8 with per-row scales. Checked against
//! the f32 model it came from: every value within half a quantization step, vectors of
//! real texts within cosine 0.9995 (measured 0.99990–0.99995 on e5-small, the table alone
//! 0.999997); and malformed int8 files are errors naming the file.

#[path = "../../model/tests/common/mod.rs"]
mod common;

use hbt_bundle::PruneVocab;
use hbt_model::weights::{SCALE_SUFFIX, SaveDtype, quantize_rows};
use hbt_model::{Encoder, EncoderOptions, ModelFiles, SaveOptions, TextKind, burn::prelude::Device};

const TEXTS: [&str; 6] = [
    "Wie viele Einwohner hatte Hamburg im Jahr 1900?",
    "The city lies on the bank of the Rhine and has about 300,000 inhabitants.",
    "¿Quién construyó el puente más antiguo de la ciudad?",
    "这座城市位于莱茵河畔，约有30万居民。",
    "Сколько жителей было в Москве?",
    "مدينة تقع على ضفة نهر الراين",
];

#[test]
fn quantize_rows_is_within_half_a_step() {
    let mut rng = common::Rng::new(3);
    let cols = 37;
    let mut data = rng.vec(cols * 50, 0.1);
    data[..cols].fill(0.0); // an all-zero row (pruned-away tokens look like this)
    let (q, scales) = quantize_rows(&data, cols);
    assert_eq!(scales.len(), 50);
    for (r, row) in data.chunks(cols).enumerate() {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(max == 0.0 || (scales[r] * 127.0 - max).abs() <= max * 1e-6);
        for (c, v) in row.iter().enumerate() {
            let back = q[r * cols + c] as f32 * scales[r];
            assert!(
                (back - v).abs() <= scales[r] / 2.0 + 1e-7,
                "row {r} col {c}: {v} -> {back}"
            );
        }
    }
}

#[test]
fn q8_e5_keeps_the_vectors_of_f32() {
    let device = Device::flex();
    let full = Encoder::load(&common::e5_dir(), &device, &EncoderOptions::default()).unwrap();
    let texts: Vec<(&str, TextKind)> = TEXTS.iter().map(|t| (*t, TextKind::Query)).collect();
    // Pruned first: the test then saves ~40 MB, not 470.
    let (small, _) = full.prune_vocab(&texts).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let (f16_dir, q8_dir) = (tmp.path().join("f16"), tmp.path().join("q8"));
    for (dir, dtype) in [(&f16_dir, SaveDtype::F16), (&q8_dir, SaveDtype::Q8)] {
        small
            .save(
                dir,
                &ModelFiles::default(),
                SaveOptions {
                    dtype,
                    overwrite: false,
                },
            )
            .unwrap();
    }
    let size = |d: &std::path::Path| std::fs::metadata(d.join("model.safetensors")).unwrap().len();
    // Each int8 matrix saves a byte a value over f16 and costs a 4-byte scale a row (the
    // header grows by the scales' entries); the word table and every linear layer are int8.
    let q8_bytes = std::fs::read(q8_dir.join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&q8_bytes).unwrap();
    let int8: Vec<(String, Vec<usize>)> = st
        .tensors()
        .into_iter()
        .filter(|(_, t)| t.dtype() == safetensors::Dtype::I8)
        .map(|(n, t)| (n, t.shape().to_vec()))
        .collect();
    assert!(int8.iter().any(|(n, _)| n == "embeddings.word_embeddings.weight"));
    assert_eq!(int8.len(), 1 + 6 * small.config.num_hidden_layers, "{int8:?}");
    let expect: u64 = int8.iter().map(|(_, s)| (s[0] * s[1]) as u64 - 4 * s[0] as u64).sum();
    let saved = size(&f16_dir) - size(&q8_dir);
    assert!(saved.abs_diff(expect) < 8192, "saved {saved} bytes, expected ~{expect}");
    let q8 = Encoder::load(&q8_dir, &device, &EncoderOptions::default()).unwrap();
    let f16 = Encoder::load(&f16_dir, &device, &EncoderOptions::default()).unwrap();
    let refs: Vec<&str> = TEXTS.to_vec();
    let a = small.embed_batch(&refs, TextKind::Query).unwrap();
    let b = q8.embed_batch(&refs, TextKind::Query).unwrap();
    let c = f16.embed_batch(&refs, TextKind::Query).unwrap();
    for i in 0..TEXTS.len() {
        let cq = common::cosine32(&b[i], &a[i]);
        let cf = common::cosine32(&c[i], &a[i]);
        eprintln!("{}: q8 {cq:.6} f16 {cf:.6}", TEXTS[i]);
        assert!(cq >= 0.9995, "q8 cosine {cq} for {}", TEXTS[i]);
        assert!(cq < 1.0 - 1e-9, "q8 should not be exact: was the table quantized?");
    }
    // Integer inference on the q8 files (the browser's CPU path) reads the stored integers:
    // the table stays int8, the linears are packed from the stored rows with their scales,
    // so only the activations' 16-bit rounding separates it from the q8 model widened to f32.
    let opts = EncoderOptions {
        precision: hbt_model::Precision::Int8,
        ..Default::default()
    };
    let int8 = Encoder::load(&q8_dir, &device, &opts).unwrap();
    let table = int8
        .bert
        .embeddings
        .word_int8
        .as_ref()
        .expect("the int8 table is kept as stored");
    assert_eq!(table.rows(), small.config.vocab_size);
    assert!(int8.bert.embeddings.word.is_empty());
    let d = int8.embed_batch(&refs, TextKind::Query).unwrap();
    for i in 0..TEXTS.len() {
        let c = common::cosine32(&d[i], &b[i]);
        assert!(c >= 0.99999, "int8 inference vs q8 in f32: cosine {c} for {}", TEXTS[i]);
    }
    // Such an encoder holds no float linears: saving it is an error, not an empty file.
    let err = int8
        .save(
            &tmp.path().join("again"),
            &ModelFiles::default(),
            SaveOptions {
                dtype: SaveDtype::F16,
                overwrite: false,
            },
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("int8 inference"), "{err}");
}

#[test]
fn int8_without_its_scales_is_an_error_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    common::write_tiny(&dir, &common::TinySpec::default(), 1, "");
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let name = "embeddings.word_embeddings.weight";
    let shape = st.tensor(name).unwrap().shape().to_vec();
    let q = vec![1u8; shape[0] * shape[1]];
    let rewrite = |scales: Option<Vec<f32>>| {
        let mut views: Vec<(String, safetensors::tensor::TensorView<'_>)> =
            st.tensors().into_iter().filter(|(n, _)| n != name).collect();
        views.push((
            name.into(),
            safetensors::tensor::TensorView::new(safetensors::Dtype::I8, shape.clone(), &q).unwrap(),
        ));
        let sb: Vec<u8> = scales
            .unwrap_or_default()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        if !sb.is_empty() {
            let n = sb.len() / 4;
            views.push((
                format!("{name}{SCALE_SUFFIX}"),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![n], &sb).unwrap(),
            ));
            std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
        } else {
            std::fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();
        }
    };
    rewrite(None);
    let e = Encoder::load(&dir, &Device::flex(), &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.safetensors") && e.contains("_scale"), "{e}");
    rewrite(Some(vec![0.01; shape[0] - 1]));
    let e = Encoder::load(&dir, &Device::flex(), &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.safetensors") && e.contains("rows"), "{e}");
    rewrite(Some(vec![f32::NAN; shape[0]]));
    let e = Encoder::load(&dir, &Device::flex(), &EncoderOptions::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("model.safetensors") && e.contains("NaN"), "{e}");
    rewrite(Some(vec![0.01; shape[0]]));
    Encoder::load(&dir, &Device::flex(), &EncoderOptions::default()).unwrap();
}
