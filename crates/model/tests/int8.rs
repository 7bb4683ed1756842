//! `Precision::Int8` (`hbt_model::int8`): int8 weights, 16-bit activations, integer sums.
//! The packed product is checked against f64 sums of the values it quantized (packing and
//! indexing, odd shapes, zero and NaN rows, no i32 overflow at the extremes) and against the
//! f32 product (the quantization error); the whole encoder against f32 on real questions.

mod common;

use hbt_model::int8::PackedInt8;
use hbt_model::{Encoder, EncoderOptions, Precision, TextKind, burn::prelude::Device};

/// The activations as the product quantizes them: per row, max |x| / a_max.
fn quantized_rows(x: &[f32], rows: usize, k: usize, a_max: i32) -> Vec<f64> {
    let mut out = vec![0f64; x.len()];
    for r in 0..rows {
        let row = &x[r * k..(r + 1) * k];
        let m = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        if m == 0.0 {
            continue;
        }
        let inv = a_max as f32 / m;
        let s = m / a_max as f32;
        for (i, v) in row.iter().enumerate() {
            let q = (v * inv).round_ties_even().clamp(-a_max as f32, a_max as f32);
            out[r * k + i] = q as f64 * s as f64;
        }
    }
    out
}

/// `x · W + b` in f64 from the dequantized weight and activations.
fn reference(p: &PackedInt8, x: &[f32], rows: usize, bias: &[f32]) -> Vec<f64> {
    let (k, n) = (p.inputs(), p.outputs());
    let w = p.dequantized();
    let xq = quantized_rows(x, rows, k, p.activation_max());
    let mut y = vec![0f64; rows * n];
    for r in 0..rows {
        for c in 0..n {
            let s: f64 = (0..k).map(|i| xq[r * k + i] * w[i * n + c] as f64).sum();
            y[r * n + c] = s + bias[c] as f64;
        }
    }
    y
}

#[test]
fn packed_product_equals_the_sums_of_its_quantized_values() {
    let mut rng = common::Rng::new(11);
    // Odd k (a padded pair), n past a block of 8, rows not a multiple of 4; and e5's shapes.
    for (rows, k, n) in [(5, 7, 13), (1, 1, 1), (9, 384, 384), (6, 1536, 384), (3, 384, 1536)] {
        let w = rng.vec(k * n, 0.05);
        let bias = rng.vec(n, 0.1);
        let mut x = rng.vec(rows * k, 2.0);
        x[..k].fill(0.0); // a zero row (padding) gives the bias alone
        let p = PackedInt8::quantize(&w, k, n, Some(&bias));
        // Weights within half a step of their column's scale.
        let dq = p.dequantized();
        for c in 0..n {
            let max = (0..k).map(|i| w[i * n + c].abs()).fold(0f32, f32::max);
            for i in 0..k {
                assert!((dq[i * n + c] - w[i * n + c]).abs() <= max / 127.0 / 2.0 * 1.0001 + 1e-9);
            }
        }
        let y = p.forward(&x, rows);
        let want = reference(&p, &x, rows, &bias);
        let exact: Vec<f64> = (0..rows * n)
            .map(|j| {
                let (r, c) = (j / n, j % n);
                (0..k).map(|i| x[r * k + i] as f64 * w[i * n + c] as f64).sum::<f64>() + bias[c] as f64
            })
            .collect();
        let rms = (exact.iter().map(|v| v * v).sum::<f64>() / exact.len() as f64).sqrt();
        let mut err2 = 0.0;
        for j in 0..rows * n {
            // The integer sum is exact: only the final f32 scaling rounds.
            assert!(
                (y[j] as f64 - want[j]).abs() <= 1e-5 * want[j].abs().max(rms),
                "{rows}x{k}x{n} [{j}]: {} vs {}",
                y[j],
                want[j]
            );
            err2 += (y[j] as f64 - exact[j]).powi(2);
        }
        // And the quantization error is small next to the values.
        let rel = (err2 / (rows * n) as f64).sqrt() / rms;
        assert!(
            rel < 5e-3,
            "{rows}x{k}x{n}: relative error {rel} against the f32 product"
        );
        for c in 0..n {
            assert_eq!(y[c], bias[c], "a zero row must give the bias");
        }
    }
}

#[test]
fn extremes_do_not_overflow_and_nan_propagates() {
    // Every weight and activation at its largest, one sign: the sums reach k · 127 · a_max.
    for k in [384, 1536, 3072, 4097] {
        let n = 8;
        let p = PackedInt8::quantize(&vec![1.0; k * n], k, n, None);
        assert!(k as i64 * 127 * p.activation_max() as i64 <= i32::MAX as i64);
        let y = p.forward(&vec![-3.0; k], 1);
        for v in &y {
            assert!(
                (*v as f64 + 3.0 * k as f64).abs() <= 1e-5 * 3.0 * k as f64,
                "k {k}: {v}"
            );
        }
    }
    let p = PackedInt8::quantize(&[0.5, -0.25, 1.0, 2.0], 2, 2, Some(&[1.0, 1.0]));
    let y = p.forward(&[1.0, f32::NAN, 1.0, 2.0], 2);
    assert!(
        y[0].is_nan() && y[1].is_nan(),
        "a NaN input row must give NaN, got {y:?}"
    );
    assert!((y[2] - 3.5).abs() < 1e-2 && (y[3] - 4.75).abs() < 1e-2, "{y:?}");
    // A NaN before finite values, and ±inf: the row's maximum must not lose it.
    for row in [[f32::NAN, 1.0], [f32::INFINITY, 1.0], [1.0, f32::NEG_INFINITY]] {
        let y = p.forward(&row, 1);
        assert!(y.iter().all(|v| v.is_nan()), "{row:?} must give NaN, got {y:?}");
    }
}

#[test]
fn layers_sharing_an_input_give_what_each_gives_alone() {
    // A query, key and value over one input (odd k, n not a multiple of the block), 5 rows.
    let (k, rows) = (37, 5);
    let x: Vec<f32> = (0..rows * k).map(|i| ((i * 7919) % 211) as f32 / 50.0 - 2.1).collect();
    let layers: Vec<PackedInt8> = [13, 8, 21]
        .iter()
        .enumerate()
        .map(|(l, &n)| {
            let w: Vec<f32> = (0..k * n)
                .map(|i| ((i * 31 + l * 17) % 97) as f32 / 40.0 - 1.2)
                .collect();
            let b: Vec<f32> = (0..n).map(|c| c as f32 / 10.0 - l as f32).collect();
            PackedInt8::quantize(&w, k, n, Some(&b))
        })
        .collect();
    let shared = PackedInt8::forward_shared(&layers.iter().collect::<Vec<_>>(), &x, rows);
    for (l, y) in layers.iter().zip(&shared) {
        let alone = l.forward(&x, rows);
        assert_eq!(y.len(), rows * l.outputs());
        assert!(
            y.iter().zip(&alone).all(|(a, b)| a.to_bits() == b.to_bits()),
            "shared and alone differ for n = {}",
            l.outputs()
        );
    }
}

/// Questions of neither the tests' fixtures nor XQuAD-R's first articles, six scripts.
const QUESTIONS: [&str; 8] = [
    "Wie viele Menschen lebten im Jahr 1900 in der Stadt?",
    "When did the first railway line open in the region?",
    "¿Cuántos habitantes tenía la ciudad a principios del siglo XX?",
    "Сколько людей жило в городе в 1900 году?",
    "吉尔吉斯斯坦的主要宗教为什么是伊斯兰教？",
    "هل تزول الإصابة بمرض ذبابة الرمال عبر الوقت؟",
    "Quanti abitanti aveva la città nel 1900?",
    "Kaç kişi şehirde yaşıyordu?",
];

#[test]
fn int8_e5_keeps_the_vectors_of_f32() {
    let device = Device::flex();
    let f32_enc = Encoder::load(&common::e5_dir(), &device, &EncoderOptions::default()).unwrap();
    let opts = EncoderOptions {
        precision: Precision::Int8,
        ..Default::default()
    };
    let int8_enc = Encoder::load(&common::e5_dir(), &device, &opts).unwrap();
    for kind in [TextKind::Query, TextKind::Passage] {
        let a = f32_enc.embed_batch(&QUESTIONS, kind).unwrap();
        let b = int8_enc.embed_batch(&QUESTIONS, kind).unwrap();
        let cos: Vec<f64> = a.iter().zip(&b).map(|(x, y)| common::cosine32(x, y)).collect();
        eprintln!("int8 vs f32 ({kind:?}): cosines {cos:.5?}");
        // The bar for the browser's int8 bundle (ONNX Runtime's int8 reaches 0.996).
        for (c, q) in cos.iter().zip(QUESTIONS) {
            assert!(*c >= 0.998, "{q:?} ({kind:?}): cosine {c} between int8 and f32");
        }
    }
    // Training is refused with a reason.
    #[cfg(feature = "autodiff")]
    {
        let ad = Device::flex().autodiff();
        let err = Encoder::load(&common::e5_dir(), &ad, &opts).unwrap_err().to_string();
        assert!(err.contains("int8 precision is for inference"), "{err}");
    }
}

/// Weights stored as int8 rows (`hbt export --dtype q8`, `[n, k]` with per-row scales) pack
/// to the same layout as quantizing their float values per output column.
#[test]
fn stored_int8_rows_pack_as_their_float_values_quantize() {
    for (k, n) in [(7, 9), (384, 24), (1536, 17)] {
        let q: Vec<i8> = (0..k * n)
            .map(|i| ((i * 37 + 11) % 255) as i32 - 127)
            .map(|v| v as i8)
            .collect();
        // Each row must reach ±127 for the float path to find the same scale.
        let q: Vec<i8> = q
            .chunks(k)
            .flat_map(|r| {
                let mut r = r.to_vec();
                r[0] = 127;
                r
            })
            .collect();
        let scales: Vec<f32> = (0..n).map(|c| 0.01 + c as f32 * 1e-3).collect();
        let bias: Vec<f32> = (0..n).map(|c| c as f32 * 0.5).collect();
        let stored = PackedInt8::from_int8_rows(&q, scales.clone(), k, n, Some(&bias));
        // The same weight in Burn's [k, n] float layout.
        let mut w = vec![0f32; k * n];
        for c in 0..n {
            for i in 0..k {
                w[i * n + c] = q[c * k + i] as f32 * scales[c];
            }
        }
        let float = PackedInt8::quantize(&w, k, n, Some(&bias));
        assert_eq!(stored.dequantized(), float.dequantized(), "{k}x{n}");
        let x: Vec<f32> = (0..3 * k).map(|i| ((i * 13) % 29) as f32 - 14.0).collect();
        assert_eq!(stored.forward(&x, 3), float.forward(&x, 3), "{k}x{n}");
    }
}
