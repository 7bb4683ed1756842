//! The CPU kernels hbt's speed rests on, against independent f64 references: the vectorised
//! GELU and its gradient (patched burn-flex, vendor/), softmax, and Burn's fused attention
//! against the matmul/softmax path with padding.
#![cfg(feature = "flex")]

use hbt_model::burn::prelude::*;
use hbt_model::burn::tensor::activation::{gelu, softmax};
use hbt_model::burn::tensor::module::attention;
use hbt_model::burn::tensor::ops::AttentionModuleOptions;

fn values(t: Tensor<1>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn gelu_f64(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

#[test]
fn gelu_matches_exact_erf_gelu() {
    let dev = Device::flex();
    // Every float step of 1e-3 over the range BERT activations take, and the tails.
    let xs: Vec<f32> = (-12_000..12_000)
        .map(|i| i as f32 * 1e-3)
        .chain([-40.0, 40.0, 0.0])
        .collect();
    let n = xs.len();
    let got = values(gelu(Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &dev)));
    let worst = xs
        .iter()
        .zip(&got)
        .map(|(&x, &g)| (g as f64 - gelu_f64(x as f64)).abs() / (x as f64).abs().max(1.0))
        .fold(0.0, f64::max);
    // Absolute near 0, relative to |x| beyond: f32's own rounding is ~6e-8 of |x|.
    assert!(
        worst < 5e-7,
        "worst GELU error {worst} (absolute, or relative to |x| > 1)"
    );
}

#[test]
fn gelu_gradient_matches_exact_derivative() {
    let dev = Device::flex().autodiff();
    let xs: Vec<f32> = (-800..800).map(|i| i as f32 * 1e-2).collect();
    let n = xs.len();
    let x = Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &dev).require_grad();
    let g = gelu(x.clone()).sum().backward();
    let grad = values(x.grad(&g).unwrap());
    let worst = xs
        .iter()
        .zip(&grad)
        .map(|(&x, &d)| {
            let x = x as f64;
            let want = 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
                + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            (d as f64 - want).abs()
        })
        .fold(0.0, f64::max);
    assert!(worst < 2e-6, "worst absolute GELU-gradient error {worst}");
}

#[test]
fn softmax_matches_f64_and_zeroes_masked_entries() {
    let dev = Device::flex();
    let (rows, cols) = (7, 131);
    let mut xs: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919 % 1000) as f32 / 50.0) - 10.0)
        .collect();
    for r in 0..rows {
        xs[r * cols + 3] = -1e9; // a padded key
        xs[r * cols + 5] = f32::NEG_INFINITY;
    }
    let got = softmax(
        Tensor::<2>::from_data(TensorData::new(xs.clone(), [rows, cols]), &dev),
        1,
    )
    .into_data()
    .try_to_vec::<f32>()
    .unwrap();
    for r in 0..rows {
        let row = &xs[r * cols..(r + 1) * cols];
        let m = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
        let z: f64 = row.iter().map(|&x| (x as f64 - m).exp()).sum();
        for c in 0..cols {
            let want = (row[c] as f64 - m).exp() / z;
            let g = got[r * cols + c] as f64;
            assert!(
                (g - want).abs() <= 1e-6 * want.max(1e-3),
                "row {r} col {c}: {g} vs {want}"
            );
        }
        assert_eq!(got[r * cols + 3], 0.0);
        assert_eq!(got[r * cols + 5], 0.0);
    }
}

#[test]
fn fused_attention_equals_the_masked_softmax_path() {
    let dev = Device::flex();
    let (b, h, t, d) = (3, 4, 37, 16);
    let r = |seed: usize, n: usize| -> Vec<f32> {
        (0..n)
            .map(|i| (((i + seed) * 2654435761usize % 10007) as f32 / 10007.0) - 0.5)
            .collect()
    };
    let q = Tensor::<4>::from_data(TensorData::new(r(1, b * h * t * d), [b, h, t, d]), &dev);
    let k = Tensor::<4>::from_data(TensorData::new(r(2, b * h * t * d), [b, h, t, d]), &dev);
    let v = Tensor::<4>::from_data(TensorData::new(r(3, b * h * t * d), [b, h, t, d]), &dev);
    let lengths = [37usize, 20, 1];
    let keep: Vec<f32> = lengths
        .iter()
        .flat_map(|&l| (0..t).map(move |i| (i < l) as u8 as f32))
        .collect();
    let keep = Tensor::<2>::from_data(TensorData::new(keep, [b, t]), &dev);
    let bias = (keep.clone() - 1.0).mul_scalar(1e9).reshape([b, 1, 1, t]);
    let plain = softmax(
        q.clone()
            .matmul(k.clone().swap_dims(2, 3))
            .div_scalar((d as f64).sqrt())
            + bias,
        3,
    )
    .matmul(v.clone());
    let pad = keep.lower_elem(0.5).reshape([b, 1, 1, t]).expand([b, 1, t, t]);
    let opts = AttentionModuleOptions::default();
    let fused = attention(q.clone(), k.clone(), v.clone(), Some(pad.clone()), None, opts);
    let diff = (fused.clone() - plain).abs().max().into_scalar::<f32>();
    assert!(diff < 1e-5, "fused vs plain attention: max difference {diff}");
    // Heads as a transformer splits them: `[b, t, h, d]` projections viewed as `[b, h, t, d]`
    // (strided: the patched flex reads them in place and writes its output the same way).
    let split = |x: Tensor<4>| x.swap_dims(1, 2).into_data().convert::<f32>();
    let as_view = |data: TensorData| Tensor::<4>::from_data(data, &dev).swap_dims(1, 2);
    let (qs, ks, vs) = (
        as_view(split(q.clone())),
        as_view(split(k.clone())),
        as_view(split(v.clone())),
    );
    let strided = attention(qs, ks, vs, Some(pad.clone()), None, opts);
    let merged = strided.clone().swap_dims(1, 2).reshape([b, t, h * d]);
    let want = fused.clone().swap_dims(1, 2).reshape([b, t, h * d]);
    let diff = (merged - want).abs().max().into_scalar::<f32>();
    assert!(diff == 0.0, "strided heads vs contiguous heads: max difference {diff}");
    let diff = (strided - fused.clone()).abs().max().into_scalar::<f32>();
    assert!(
        diff == 0.0,
        "strided output read as [b, h, t, d]: max difference {diff}"
    );
    // Padding cannot leak: new values at the third text's padded keys change nothing there.
    let v2 = v.slice_assign(s![2..3, .., 1..t, ..], Tensor::ones([1, h, t - 1, d], &dev) * 100.0);
    let fused2 = attention(q, k, v2, Some(pad), None, opts);
    let leak = (fused2 - fused)
        .slice(s![2..3, .., .., ..])
        .abs()
        .max()
        .into_scalar::<f32>();
    assert_eq!(leak, 0.0, "padded keys changed a text's attention output");
}

/// A deterministic pseudo-random f32 in [-2, 2) (no rand dependency needed).
fn lcg(seed: &mut u64) -> f32 {
    *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*seed >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
}

fn bf16_round(x: f32) -> f64 {
    half::bf16::from_f32(x).to_f64()
}

/// Entry `(i, j)` of `a [· × k] · b [k × n]` in f64 on bf16-rounded operands, and the sum of
/// its terms' magnitudes (the scale of f32 accumulation error).
fn rounded_dot(a: &[f32], b: &[f32], (k, n): (usize, usize), (i, j): (usize, usize)) -> (f64, f64) {
    (0..k)
        .map(|p| bf16_round(a[i * k + p]) * bf16_round(b[p * n + j]))
        .fold((0.0, 0.0), |(w, s), t| (w + t, s + t.abs()))
}

/// Entry `(i, j)` of an f32 activation times a bf16 weight in f64, as the CPU backend defines
/// it here: on AMX tiles the activation is rounded to bf16 too; elsewhere the weight is
/// converted to f32 and the activation kept as it is.
fn mixed_dot(a: &[f32], b: &[f32], (k, n): (usize, usize), (i, j): (usize, usize)) -> (f64, f64) {
    if hbt_model::amx_available() {
        return rounded_dot(a, b, (k, n), (i, j));
    }
    (0..k)
        .map(|p| a[i * k + p] as f64 * bf16_round(b[p * n + j]))
        .fold((0.0, 0.0), |(w, s), t| (w + t, s + t.abs()))
}

/// f32 activations times a bf16 weight (the patched flex's AMX kernel where the CPU has it,
/// gemm on a converted weight elsewhere) equals the f64 product of [`mixed_dot`]:
/// every shape edge of the 32 × 32 register blocks and 32-deep k steps, a transposed
/// (strided) weight, a transposed activation, and a batched activation against a shared weight.
#[test]
fn f32_by_bf16_matmul_matches_f64_on_rounded_operands() {
    use hbt_model::burn::tensor::DType;
    let dev = Device::flex();
    let mut seed = 7u64;
    for &(m, k, n) in &[
        (1, 1, 1),
        (1, 384, 384),
        (17, 33, 15),
        (32, 32, 32),
        (33, 64, 47),
        (100, 384, 1536),
        (70, 1536, 384),
        (5, 31, 100),
    ] {
        for transposed in [false, true] {
            let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
            let at = Tensor::<2>::from_data(TensorData::new(a.clone(), [m, k]), &dev);
            let bt = Tensor::<2>::from_data(TensorData::new(b.clone(), [k, n]), &dev);
            let (at, bt) = if transposed {
                // The same matrices, stored transposed and viewed back (strided operands).
                let a_t: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
                let b_t: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
                (
                    Tensor::<2>::from_data(TensorData::new(a_t, [k, m]), &dev).transpose(),
                    Tensor::<2>::from_data(TensorData::new(b_t, [n, k]), &dev).transpose(),
                )
            } else {
                (at, bt)
            };
            let got = at.matmul(bt.cast(DType::BF16));
            assert_eq!(got.dtype(), DType::F32);
            let got = got.into_data().try_to_vec::<f32>().unwrap();
            let mut worst = 0.0f64;
            for i in 0..m {
                for j in 0..n {
                    let (want, scale) = mixed_dot(&a, &b, (k, n), (i, j));
                    // f32 accumulation over k terms: error ≲ k · 2^-24 · Σ|terms|.
                    let err = (got[i * n + j] as f64 - want).abs() / (scale.max(1e-3) * k as f64 * 6e-8);
                    worst = worst.max(err);
                }
            }
            assert!(
                worst < 1.0,
                "{m}×{k}×{n} (transposed {transposed}): error {worst} of the f32 bound"
            );
        }
    }
    // A batched activation against one shared weight, as a Linear layer multiplies it.
    let (b0, t, k, n) = (3, 45, 64, 40);
    let a: Vec<f32> = (0..b0 * t * k).map(|_| lcg(&mut seed)).collect();
    let w: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
    let x = Tensor::<3>::from_data(TensorData::new(a.clone(), [b0, t, k]), &dev);
    let wt = Tensor::<2>::from_data(TensorData::new(w.clone(), [k, n]), &dev).cast(DType::BF16);
    let got = x.matmul(wt.unsqueeze::<3>()).into_data().try_to_vec::<f32>().unwrap();
    for r in 0..b0 * t {
        for j in 0..n {
            let (want, _) = mixed_dot(&a[r * k..(r + 1) * k], &w, (k, n), (0, j));
            assert!((got[r * n + j] as f64 - want).abs() < 1e-4, "batched row {r} col {j}");
        }
    }
}

/// A bf16 × bf16 product (bf16 autocast's Linear layers and their gradients: AMX where the
/// CPU has it) equals the f64 product rounded once to bf16, for plain and transposed
/// operands, within one bf16 rounding step plus the f32 accumulation bound.
#[test]
fn bf16_matmul_matches_f64_rounded_once() {
    use hbt_model::burn::tensor::DType;
    let dev = Device::flex();
    let mut seed = 11u64;
    for &(m, k, n) in &[(1, 1, 1), (33, 64, 47), (128, 384, 96), (40, 1536, 33)] {
        for transposed in [false, true] {
            let a: Vec<f32> = (0..m * k).map(|_| lcg(&mut seed)).collect();
            let b: Vec<f32> = (0..k * n).map(|_| lcg(&mut seed)).collect();
            let (at, bt) = if transposed {
                let a_t: Vec<f32> = (0..k * m).map(|i| a[(i % m) * k + i / m]).collect();
                let b_t: Vec<f32> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
                (
                    Tensor::<2>::from_data(TensorData::new(a_t, [k, m]), &dev)
                        .cast(DType::BF16)
                        .transpose(),
                    Tensor::<2>::from_data(TensorData::new(b_t, [n, k]), &dev)
                        .cast(DType::BF16)
                        .transpose(),
                )
            } else {
                (
                    Tensor::<2>::from_data(TensorData::new(a.clone(), [m, k]), &dev).cast(DType::BF16),
                    Tensor::<2>::from_data(TensorData::new(b.clone(), [k, n]), &dev).cast(DType::BF16),
                )
            };
            let got = at.matmul(bt);
            assert_eq!(got.dtype(), DType::BF16);
            let got = got.cast(DType::F32).into_data().try_to_vec::<f32>().unwrap();
            for i in 0..m {
                for j in 0..n {
                    let (want, scale) = rounded_dot(&a, &b, (k, n), (i, j));
                    let tol = want.abs() * 2f64.powi(-8) + scale * k as f64 * 6e-8;
                    let g = got[i * n + j] as f64;
                    assert!(
                        (g - want).abs() <= tol,
                        "{m}×{k}×{n} ({transposed}) [{i},{j}]: {g} vs {want}"
                    );
                }
            }
        }
    }
}

/// f32 → bf16 casts (vectorised in the patched flex) give `half`'s values exactly, ties,
/// subnormals, infinities and NaN included; bf16 → f32 is exact.
#[test]
fn bf16_casts_equal_half() {
    use hbt_model::burn::tensor::DType;
    let dev = Device::flex();
    let mut seed = 3u64;
    let mut xs: Vec<f32> = (0..5000).map(|_| lcg(&mut seed) * 1e3).collect();
    xs.extend((0..5000).map(|_| f32::from_bits((lcg(&mut seed).to_bits() >> 3) ^ 0x8000_0000)));
    xs.extend([
        0.0,
        -0.0,
        1.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::MAX,
        f32::MIN_POSITIVE,
        1e-40,
        f32::from_bits(0x3f80_8000), // a tie: rounds to even (down)
        f32::from_bits(0x3f81_8000), // a tie: rounds to even (up)
        f32::from_bits(0x7f7f_ffff),
    ]);
    let n = xs.len();
    let t = Tensor::<1>::from_data(TensorData::new(xs.clone(), [n]), &dev).cast(DType::BF16);
    let back = t.clone().cast(DType::F32).into_data().try_to_vec::<f32>().unwrap();
    for (x, b) in xs.iter().zip(&back) {
        let want = half::bf16::from_f32(*x).to_f32();
        assert!(
            want.to_bits() == b.to_bits(),
            "{x:e} ({:#x}): {b:e} vs half's {want:e}",
            x.to_bits()
        );
    }
    let nan = Tensor::<1>::from_data(TensorData::new(vec![f32::NAN], [1]), &dev)
        .cast(DType::BF16)
        .cast(DType::F32);
    assert!(nan.into_data().try_to_vec::<f32>().unwrap()[0].is_nan());
}

/// Element-wise passes over tensors past flex's parallel threshold (256 K elements) run
/// split over rayon (vendor/burn-flex `par`, `zip`): each value must be exactly what one
/// thread computes element by element — in place and into a new buffer, contiguous and
/// broadcast — and the casts and `exp` must keep their per-element references.
#[test]
fn large_elementwise_passes_equal_per_element_references() {
    use hbt_model::burn::tensor::DType;
    let dev = Device::flex();
    let (rows, cols) = (700, 384); // 268,800 elements
    let mut seed = 11u64;
    let xs: Vec<f32> = (0..rows * cols).map(|_| lcg(&mut seed) * 3.0).collect();
    let ys: Vec<f32> = (0..rows * cols).map(|_| lcg(&mut seed)).collect();
    let bias: Vec<f32> = (0..cols).map(|_| lcg(&mut seed)).collect();
    let t = |v: &[f32]| Tensor::<2>::from_data(TensorData::new(v.to_vec(), [rows, cols]), &dev);
    let b = Tensor::<2>::from_data(TensorData::new(bias.clone(), [1, cols]), &dev);
    let vec = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    let check = |name: &str, got: Vec<f32>, want: &dyn Fn(usize) -> f32| {
        assert_eq!(got.len(), rows * cols, "{name}: length");
        for (i, g) in got.iter().enumerate() {
            assert!(
                g.to_bits() == want(i).to_bits(),
                "{name}: element {i}: {g} vs {}",
                want(i)
            );
        }
    };
    let x = t(&xs);
    // A bias row added in place (unique lhs) and into a new buffer (lhs still shared).
    check("x + bias, in place", vec(t(&xs) + b.clone()), &|i| {
        xs[i] + bias[i % cols]
    });
    check("x + bias, new buffer", vec(x.clone() + b.clone()), &|i| {
        xs[i] + bias[i % cols]
    });
    check("bias - x, new buffer", vec(b.clone() - x.clone()), &|i| {
        bias[i % cols] - xs[i]
    });
    // Two dense operands, neither reusable.
    let y = t(&ys);
    check("x * y, new buffer", vec(x.clone() * y.clone()), &|i| xs[i] * ys[i]);
    check("x / y, in place", vec(t(&xs) / y.clone()), &|i| xs[i] / ys[i]);
    // Scalars, in place and into a new buffer.
    check("x * 0.125, in place", vec(t(&xs).mul_scalar(0.125)), &|i| xs[i] * 0.125);
    check("x - 3, new buffer", vec(x.clone().sub_scalar(3.0)), &|i| xs[i] - 3.0);
    // A transposed (strided) view against a broadcast column.
    let col: Vec<f32> = (0..rows).map(|_| lcg(&mut seed)).collect();
    let c = Tensor::<2>::from_data(TensorData::new(col.clone(), [1, rows]), &dev);
    let xt = vec(x.clone().swap_dims(0, 1) + c);
    for (i, g) in xt.iter().enumerate() {
        let (j, r) = (i / rows, i % rows); // output [cols, rows]
        let want = xs[r * cols + j] + col[r];
        assert!(g.to_bits() == want.to_bits(), "x^T + column: ({j}, {r}): {g} vs {want}");
    }
    // Casts against `half`, exp against f64.
    let back = vec(x.clone().cast(DType::BF16).cast(DType::F32));
    check("f32 -> bf16 -> f32", back, &|i| half::bf16::from_f32(xs[i]).to_f32());
    let e = vec(x.clone().exp());
    for (i, g) in e.iter().enumerate() {
        let want = (xs[i] as f64).exp();
        assert!(
            (*g as f64 - want).abs() <= 2e-7 * want,
            "exp({}) = {g}, want {want}",
            xs[i]
        );
    }
    let edges = Tensor::<1>::from_data(TensorData::new(vec![f32::NAN, 100.0, -100.0, 0.0], [4]), &dev);
    let e = values(edges.exp());
    assert!(
        e[0].is_nan() && e[1] == f32::INFINITY && e[2] == 0.0 && e[3] == 1.0,
        "exp edges: {e:?}"
    );
}
