//! The loss and its gradient against a hand-written computation and finite differences.

use burn::prelude::*;
use hbt_train::loss::info_nce;

fn rand_mat(seed: u64, r: usize, c: usize) -> Vec<f64> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..r * c)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect()
}

/// Reference InfoNCE in f64: mean over rows of -log softmax(q_i · c_j / t)_i.
#[allow(clippy::too_many_arguments)] // the formula's symbols, one each
fn reference(q: &[f64], p: &[f64], h: &[f64], b: usize, nh: usize, d: usize, t: f64, sym: bool) -> f64 {
    let dot = |a: &[f64], i: usize, bb: &[f64], j: usize| (0..d).map(|k| a[i * d + k] * bb[j * d + k]).sum::<f64>() / t;
    let ce = |rows: &dyn Fn(usize) -> Vec<f64>| -> f64 {
        (0..b)
            .map(|i| {
                let l = rows(i);
                let m = l.iter().cloned().fold(f64::MIN, f64::max);
                let lse = m + l.iter().map(|x| (x - m).exp()).sum::<f64>().ln();
                lse - l[i]
            })
            .sum::<f64>()
            / b as f64
    };
    let fwd = ce(&|i| {
        (0..b)
            .map(|j| dot(q, i, p, j))
            .chain((0..nh).map(|j| dot(q, i, h, j)))
            .collect()
    });
    if sym {
        let bwd = ce(&|i| (0..b).map(|j| dot(p, i, q, j)).collect());
        (fwd + bwd) / 2.0
    } else {
        fwd
    }
}

fn tensor(v: &[f64], r: usize, c: usize, dev: &Device) -> Tensor<2> {
    Tensor::from_data(
        TensorData::new(v.iter().map(|&x| x as f32).collect::<Vec<f32>>(), [r, c]),
        dev,
    )
}

#[test]
fn loss_matches_hand_computation() {
    let (b, d, nh) = (5, 7, 3);
    let dev = Device::flex();
    let q = rand_mat(1, b, d);
    let p = rand_mat(2, b, d);
    let h = rand_mat(3, nh, d);
    for (t, sym, hard) in [
        (0.05, false, false),
        (0.5, true, false),
        (0.1, false, true),
        (1.0, true, true),
    ] {
        let got = info_nce(
            tensor(&q, b, d, &dev),
            tensor(&p, b, d, &dev),
            hard.then(|| tensor(&h, nh, d, &dev)),
            t,
            sym,
        )
        .into_scalar::<f32>() as f64;
        let want = reference(&q, &p, &h, b, if hard { nh } else { 0 }, d, t, sym);
        assert!(
            (got - want).abs() < 1e-4 * want.abs().max(1.0),
            "t={t} sym={sym} hard={hard}: {got} vs {want}"
        );
    }
}

#[test]
fn gradient_matches_finite_differences() {
    let (b, d, nh) = (4, 6, 2);
    let dev = Device::flex().autodiff();
    let q = rand_mat(11, b, d);
    let p = rand_mat(12, b, d);
    let h = rand_mat(13, nh, d);
    let (t, sym) = (0.3, true);
    let qt = tensor(&q, b, d, &dev).require_grad();
    let pt = tensor(&p, b, d, &dev).require_grad();
    let loss = info_nce(qt.clone(), pt.clone(), Some(tensor(&h, nh, d, &dev)), t, sym);
    let grads = loss.backward();
    let gq: Vec<f32> = qt.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let gp: Vec<f32> = pt.grad(&grads).unwrap().into_data().try_to_vec::<f32>().unwrap();
    let eps = 1e-5;
    for (which, g) in [(0, &gq), (1, &gp)] {
        for k in 0..b * d {
            let mut plus = if which == 0 { q.clone() } else { p.clone() };
            let mut minus = plus.clone();
            plus[k] += eps;
            minus[k] -= eps;
            let f = |m: &Vec<f64>| {
                if which == 0 {
                    reference(m, &p, &h, b, nh, d, t, sym)
                } else {
                    reference(&q, m, &h, b, nh, d, t, sym)
                }
            };
            let num = (f(&plus) - f(&minus)) / (2.0 * eps);
            assert!(
                (g[k] as f64 - num).abs() < 1e-3,
                "d loss / d {}[{k}]: autodiff {} vs numeric {num}",
                ["q", "p"][which],
                g[k]
            );
        }
    }
}
