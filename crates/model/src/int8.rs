//! Integer linear layers for inference on a CPU without fast float products — the browser's
//! wasm fallback, where plain wasm SIMD has no fused multiply-add and an f32 product costs two
//! instructions for four multiply-adds, while `i32x4.dot_i16x8_s` does eight in one.
//!
//! Weights: int8 with one scale per output feature (for an `hbt export --dtype q8` bundle
//! these are exactly the stored integers). Activations: each token's row quantized to 16-bit
//! integers with its own scale, as many bits as the row length allows without any chance of
//! overflowing the i32 sums (15 bits for 384 inputs, 13 for 1536) — far finer than the 8-bit
//! activations of ONNX Runtime's dynamic quantization. Products are exact integer sums, so
//! the wasm SIMD kernel and the portable one give bit-identical results.

/// Output features per packed block (two `i32x4` accumulators).
const COLS: usize = 8;
/// Largest |weight| after quantization.
const W_MAX: i32 = 127;

/// A `[k, n]` linear weight (Burn's layout: inputs × outputs) in int8, packed for
/// [`PackedInt8::forward`], with its bias.
#[derive(Debug, Clone)]
pub struct PackedInt8 {
    k: usize,
    /// `k` rounded up to even: products take input pairs.
    kp: usize,
    n: usize,
    /// Per block of [`COLS`] outputs, per input pair `p`: the block's 8 outputs × inputs
    /// `2p, 2p+1`, as i16 (`[c0·2p, c0·2p+1, c1·2p, …]`); outputs past `n` are zero.
    w: Vec<i16>,
    /// One scale per output feature: weight ≈ q · scale.
    scales: Vec<f32>,
    bias: Vec<f32>,
    /// Largest |activation| after quantization: `kp · 127 · a_max` fits in an i32.
    a_max: i32,
}

impl PackedInt8 {
    /// Quantize a row-major `[k, n]` weight per output column (scale = max |w| / 127, round
    /// half to even) and pack it. `bias` has `n` entries or none.
    pub fn quantize(weight: &[f32], k: usize, n: usize, bias: Option<&[f32]>) -> PackedInt8 {
        assert_eq!(weight.len(), k * n, "weight is not [k, n]");
        let mut scales = vec![0f32; n];
        for row in weight.chunks_exact(n) {
            for (s, &w) in scales.iter_mut().zip(row) {
                *s = s.max(w.abs());
            }
        }
        for s in &mut scales {
            *s /= W_MAX as f32;
        }
        let kp = k.next_multiple_of(2);
        let pairs = kp / 2;
        let blocks = n.div_ceil(COLS);
        let inv: Vec<f32> = scales.iter().map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 }).collect();
        let mut w = vec![0i16; blocks * pairs * COLS * 2];
        // Row by row (reads stream); each row fills one of the two slots of its pair in
        // every block. Ties to even: one wasm instruction (`f32.nearest`); a stored int8
        // weight times its scale comes back to itself either way.
        for (i, row) in weight.chunks_exact(n).enumerate() {
            let (p, half) = (i / 2, i % 2);
            for (b, (cols, inv)) in row.chunks(COLS).zip(inv.chunks(COLS)).enumerate() {
                let out = &mut w[(b * pairs + p) * COLS * 2..][..COLS * 2];
                for (j, (&v, &s)) in cols.iter().zip(inv).enumerate() {
                    out[2 * j + half] = (v * s).round_ties_even().clamp(-127.0, 127.0) as i16;
                }
            }
        }
        Self::assemble(k, n, w, scales, bias)
    }

    /// Pack int8 weights stored as Hugging Face lays a linear out — `[n, k]`, one row per
    /// output feature, with that row's scale (what `hbt export --dtype q8` writes) — as they
    /// are: no float copy, no transpose, no second rounding. Values must lie in ±127.
    pub fn from_int8_rows(q: &[i8], scales: Vec<f32>, k: usize, n: usize, bias: Option<&[f32]>) -> PackedInt8 {
        assert_eq!(q.len(), k * n, "weight is not [n, k]");
        assert_eq!(scales.len(), n, "scales are not [n]");
        let kp = k.next_multiple_of(2);
        let pairs = kp / 2;
        let stride = COLS * 2;
        let mut w = vec![0i16; n.div_ceil(COLS) * pairs * stride];
        // A pair of inputs at a time into column j's two slots of each of the block's rows:
        // no index arithmetic per value (a returning browser visitor packs e5's 21 M weights
        // before the box answers, in code the browser has not optimised yet).
        let clamp = |v: i8| (v as i16).max(-(W_MAX as i16));
        for (c, row) in q.chunks_exact(k.max(1)).enumerate().take(n) {
            let (b, j) = (c / COLS, c % COLS);
            let block = &mut w[b * pairs * stride..][..pairs * stride];
            for (slots, pair) in block.chunks_exact_mut(stride).zip(row.chunks(2)) {
                slots[2 * j] = clamp(pair[0]);
                if let Some(&v) = pair.get(1) {
                    slots[2 * j + 1] = clamp(v);
                }
            }
        }
        Self::assemble(k, n, w, scales, bias)
    }

    fn assemble(k: usize, n: usize, w: Vec<i16>, scales: Vec<f32>, bias: Option<&[f32]>) -> PackedInt8 {
        let kp = k.next_multiple_of(2);
        let bias = bias.map_or_else(|| vec![0.0; n], <[f32]>::to_vec);
        assert_eq!(bias.len(), n, "bias is not [n]");
        let a_max = (i32::MAX as usize / (kp.max(1) * W_MAX as usize)).min(i16::MAX as usize) as i32;
        PackedInt8 {
            k,
            kp,
            n,
            w,
            scales,
            bias,
            a_max,
        }
    }

    pub fn inputs(&self) -> usize {
        self.k
    }

    pub fn outputs(&self) -> usize {
        self.n
    }

    /// Largest |activation| after quantization (the activation bits used).
    pub fn activation_max(&self) -> i32 {
        self.a_max
    }

    /// The weight as the product sees it, `[k, n]` row-major (dequantized).
    pub fn dequantized(&self) -> Vec<f32> {
        let mut out = vec![0f32; self.k * self.n];
        for i in 0..self.k {
            for c in 0..self.n {
                let (b, j) = (c / COLS, c % COLS);
                let q = self.w[((b * (self.kp / 2) + i / 2) * COLS + j) * 2 + i % 2];
                out[i * self.n + c] = q as f32 * self.scales[c];
            }
        }
        out
    }

    /// `x [rows, k] · W + bias` into `[rows, n]`. A row holding NaN or ±inf gives NaN.
    pub fn forward(&self, x: &[f32], rows: usize) -> Vec<f32> {
        Self::forward_shared(&[self], x, rows)
            .pop()
            .expect("one layer in, one out")
    }

    /// Several layers over the same input — a self-attention's query, key and value — with
    /// the input quantized once: the same results as one [`PackedInt8::forward`] each.
    pub fn forward_shared(layers: &[&PackedInt8], x: &[f32], rows: usize) -> Vec<Vec<f32>> {
        let Some(first) = layers.first() else {
            return Vec::new();
        };
        assert!(
            layers.iter().all(|l| l.k == first.k),
            "layers sharing an input take the same inputs"
        );
        assert_eq!(x.len(), rows * first.k, "input is not [rows, k]");
        let (xq, xs) = crate::profile::time("int8: activations to int16 (requantization)", || {
            quantize_rows(x, rows, first.k, first.kp, first.a_max)
        });
        crate::profile::time("int8: integer products", || {
            layers.iter().map(|l| l.products(&xq, &xs, rows)).collect()
        })
    }

    /// The packed products of quantized rows, scaled back to f32 with the bias.
    fn products(&self, xq: &[i16], xs: &[f32], rows: usize) -> Vec<f32> {
        let mut out = vec![0f32; rows * self.n];
        let pairs = self.kp / 2;
        for b in 0..self.n.div_ceil(COLS) {
            let wb = &self.w[b * pairs * COLS * 2..(b + 1) * pairs * COLS * 2];
            let cols = COLS.min(self.n - b * COLS);
            let mut r = 0;
            while r < rows {
                let take = (rows - r).min(4);
                let mut acc = [[0i32; COLS]; 4];
                kernel::block(&xq[r * self.kp..(r + take) * self.kp], take, self.kp, wb, &mut acc);
                let (scales, bias) = (&self.scales[b * COLS..][..cols], &self.bias[b * COLS..][..cols]);
                for (i, a) in acc.iter().enumerate().take(take) {
                    let row = &mut out[(r + i) * self.n + b * COLS..][..cols];
                    kernel::scale_back(a, xs[r + i], scales, bias, row);
                }
                r += take;
            }
        }
        out
    }
}

/// Each row to integers in `[-a_max, a_max]` with scale max |x| / a_max (rows padded to
/// `kp`); a row of zeros gets scale 0, a row with NaN or ±inf scale NaN.
fn quantize_rows(x: &[f32], rows: usize, k: usize, kp: usize, a_max: i32) -> (Vec<i16>, Vec<f32>) {
    let mut q = vec![0i16; rows * kp];
    let mut scales = vec![0f32; rows];
    for r in 0..rows {
        let row = &x[r * k..(r + 1) * k];
        let m = kernel::max_abs(row);
        if !m.is_finite() {
            scales[r] = f32::NAN;
            continue;
        }
        if m == 0.0 {
            continue;
        }
        kernel::round_row(row, a_max as f32 / m, a_max as f32, &mut q[r * kp..r * kp + k]);
        scales[r] = m / a_max as f32;
    }
    (q, scales)
}

/// The portable forms of the element-wise steps; the wasm SIMD kernel gives the same bits
/// (the same IEEE products, ties-to-even rounding and clamps, in the same order).
mod scalar {
    /// max |v| over the row; NaN if any value is NaN.
    pub fn max_abs(row: &[f32]) -> f32 {
        row.iter().fold(0f32, |m, v| {
            if v.is_nan() || m.is_nan() {
                f32::NAN
            } else {
                m.max(v.abs())
            }
        })
    }

    /// `round(v · inv)` clamped to ±a_max.
    pub fn round_row(row: &[f32], inv: f32, a_max: f32, out: &mut [i16]) {
        for (d, &v) in out.iter_mut().zip(row) {
            *d = (v * inv).round_ties_even().clamp(-a_max, a_max) as i16;
        }
    }

    /// An output block's integer sums back to floats: `a · (row scale · column scale) + bias`.
    pub fn scale_back(a: &[i32], xs: f32, scales: &[f32], bias: &[f32], out: &mut [f32]) {
        for (((y, &a), &s), &b) in out.iter_mut().zip(a).zip(scales).zip(bias) {
            *y = a as f32 * (xs * s) + b;
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod kernel {
    use super::{COLS, scalar};
    use core::arch::wasm32::*;

    /// max |v| four lanes at a time (`f32x4.max` propagates NaN as the portable fold does).
    pub fn max_abs(row: &[f32]) -> f32 {
        let chunks = row.chunks_exact(4);
        let tail = scalar::max_abs(chunks.remainder());
        let mut m = f32x4_splat(0.0);
        for c in chunks {
            // SAFETY: a chunk is 4 f32s; wasm loads need no alignment.
            let v = unsafe { v128_load(c.as_ptr() as *const v128) };
            m = f32x4_max(m, f32x4_abs(v));
        }
        let lanes = [
            f32x4_extract_lane::<0>(m),
            f32x4_extract_lane::<1>(m),
            f32x4_extract_lane::<2>(m),
            f32x4_extract_lane::<3>(m),
            tail,
        ];
        scalar::max_abs(&lanes)
    }

    /// Eight values a step: multiply, round to nearest even, clamp, convert, narrow.
    pub fn round_row(row: &[f32], inv: f32, a_max: f32, out: &mut [i16]) {
        let n8 = row.len().min(out.len()) / 8 * 8;
        let (inv4, hi, lo) = (f32x4_splat(inv), f32x4_splat(a_max), f32x4_splat(-a_max));
        let one = |v: v128| i32x4_trunc_sat_f32x4(f32x4_pmin(f32x4_pmax(f32x4_nearest(f32x4_mul(v, inv4)), lo), hi));
        for i in (0..n8).step_by(8) {
            // SAFETY: i + 8 <= n8 <= row.len() and out.len(); wasm loads/stores need no alignment.
            unsafe {
                let a = v128_load(row.as_ptr().add(i) as *const v128);
                let b = v128_load(row.as_ptr().add(i + 4) as *const v128);
                v128_store(out.as_mut_ptr().add(i) as *mut v128, i16x8_narrow_i32x4(one(a), one(b)));
            }
        }
        scalar::round_row(&row[n8..], inv, a_max, &mut out[n8..]);
    }

    /// A full block of 8 outputs with two `f32x4` steps; a partial one the portable way.
    pub fn scale_back(a: &[i32; COLS], xs: f32, scales: &[f32], bias: &[f32], out: &mut [f32]) {
        if out.len() < COLS || scales.len() < COLS || bias.len() < COLS {
            return scalar::scale_back(a, xs, scales, bias, out);
        }
        let x = f32x4_splat(xs);
        for h in [0, 4] {
            // SAFETY: h + 4 <= COLS <= the length of a, scales, bias and out (checked above).
            unsafe {
                let ai = v128_load(a.as_ptr().add(h) as *const v128);
                let s = v128_load(scales.as_ptr().add(h) as *const v128);
                let b = v128_load(bias.as_ptr().add(h) as *const v128);
                let y = f32x4_add(f32x4_mul(f32x4_convert_i32x4(ai), f32x4_mul(x, s)), b);
                v128_store(out.as_mut_ptr().add(h) as *mut v128, y);
            }
        }
    }

    /// Up to 4 rows × 8 outputs: per input pair, one splat of the row's two values and two
    /// `dot_i16x8` against the block's packed pair — the integer sums of the portable kernel.
    pub fn block(xq: &[i16], rows: usize, kp: usize, wb: &[i16], acc: &mut [[i32; COLS]; 4]) {
        match rows {
            4 => rows_n::<4>(xq, kp, wb, acc),
            3 => rows_n::<3>(xq, kp, wb, acc),
            2 => rows_n::<2>(xq, kp, wb, acc),
            _ => rows_n::<1>(xq, kp, wb, acc),
        }
    }

    fn rows_n<const R: usize>(xq: &[i16], kp: usize, wb: &[i16], acc: &mut [[i32; COLS]; 4]) {
        assert!(xq.len() >= R * kp && wb.len() >= kp * COLS);
        let mut lo = [i32x4_splat(0); R];
        let mut hi = [i32x4_splat(0); R];
        let (x, w) = (xq.as_ptr(), wb.as_ptr());
        for p in 0..kp / 2 {
            // SAFETY: p < kp/2, so w + 16p + 16 <= kp·8 = wb.len() and every row read
            // x + i·kp + 2p + 2 <= R·kp <= xq.len() (asserted above); wasm loads need no alignment.
            unsafe {
                let w0 = v128_load(w.add(p * 16) as *const v128);
                let w1 = v128_load(w.add(p * 16 + 8) as *const v128);
                for i in 0..R {
                    let a = i32x4_splat((x.add(i * kp + 2 * p) as *const i32).read_unaligned());
                    lo[i] = i32x4_add(lo[i], i32x4_dot_i16x8(a, w0));
                    hi[i] = i32x4_add(hi[i], i32x4_dot_i16x8(a, w1));
                }
            }
        }
        for i in 0..R {
            let out = &mut acc[i];
            out[0] = i32x4_extract_lane::<0>(lo[i]);
            out[1] = i32x4_extract_lane::<1>(lo[i]);
            out[2] = i32x4_extract_lane::<2>(lo[i]);
            out[3] = i32x4_extract_lane::<3>(lo[i]);
            out[4] = i32x4_extract_lane::<0>(hi[i]);
            out[5] = i32x4_extract_lane::<1>(hi[i]);
            out[6] = i32x4_extract_lane::<2>(hi[i]);
            out[7] = i32x4_extract_lane::<3>(hi[i]);
        }
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod kernel {
    use super::COLS;
    pub use super::scalar::{max_abs, round_row, scale_back};

    /// The same integer sums as the wasm SIMD kernel, one row at a time.
    pub fn block(xq: &[i16], rows: usize, kp: usize, wb: &[i16], acc: &mut [[i32; COLS]; 4]) {
        for (i, out) in acc.iter_mut().enumerate().take(rows) {
            let row = &xq[i * kp..(i + 1) * kp];
            for (p, pair) in row.chunks_exact(2).enumerate() {
                let (a0, a1) = (pair[0] as i32, pair[1] as i32);
                let wp = &wb[p * COLS * 2..(p + 1) * COLS * 2];
                for (j, o) in out.iter_mut().enumerate() {
                    *o += a0 * wp[2 * j] as i32 + a1 * wp[2 * j + 1] as i32;
                }
            }
        }
    }
}
