//! What vendor/README.md's patch 1 buys, in one binary: GELU, its gradient's erf and the
//! softmax exponentials as the patched flex computes them (vectorised polynomials, rows over
//! rayon) against the scalar libm loop upstream runs per element (`erff`, `expf`), on an
//! e5-small layer's activations (32 texts × 128 tokens × 1,536). The patched flex is the
//! only flex this workspace builds, so upstream's formula is written out here, as upstream
//! has it: `0.5·x·(1 + erf(x/√2))` and `exp(x − max)` one float at a time.
//!
//! `RAYON_NUM_THREADS=1 cargo bench -p hbt-model --bench patches`: one thread, as the scalar
//! loop has (the patched flex also splits large passes over rayon: patch 5). Timings are
//! printed, never asserted.

use criterion::{Criterion, criterion_group, criterion_main};
use hbt_model::burn::prelude::*;
use hbt_model::burn::tensor::activation::{gelu, softmax};

const ROWS: usize = 32 * 128;
const COLS: usize = 1536;

fn activations() -> Vec<f32> {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..ROWS * COLS)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Roughly the spread of pre-GELU activations: most within ±4.
            ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 8.0
        })
        .collect()
}

fn gelu_libm(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = 0.5 * v * (1.0 + libm::erff(v * std::f32::consts::FRAC_1_SQRT_2));
    }
}

fn softmax_libm(x: &[f32], out: &mut [f32], cols: usize) {
    for (row, o) in x.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (o, &v) in o.iter_mut().zip(row) {
            *o = libm::expf(v - max);
            sum += *o;
        }
        o.iter_mut().for_each(|v| *v /= sum);
    }
}

fn patches(c: &mut Criterion) {
    let x = activations();
    let dev = Device::flex();
    let t = Tensor::<2>::from_data(TensorData::new(x.clone(), [ROWS, COLS]), &dev);
    let mut out = vec![0f32; x.len()];
    let mut g = c.benchmark_group("patch 1: erf/exp");
    g.sample_size(10);
    g.bench_function("gelu, patched flex (vectorised erf)", |b| {
        b.iter(|| gelu(t.clone()).into_data())
    });
    g.bench_function("gelu, scalar libm erff (upstream's formula)", |b| {
        b.iter(|| gelu_libm(&x, &mut out))
    });
    g.bench_function("softmax rows, patched flex (vectorised exp)", |b| {
        b.iter(|| softmax(t.clone(), 1).into_data())
    });
    g.bench_function("softmax rows, scalar libm expf (upstream's formula)", |b| {
        b.iter(|| softmax_libm(&x, &mut out, COLS))
    });
    g.finish();
}

criterion_group!(benches, patches);
criterion_main!(benches);
