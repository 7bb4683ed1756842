//! hbt patch: `f32 × bf16 → f32` matrix products on Intel AMX.
//!
//! A Linear layer whose weight is stored in bf16 multiplies f32 activations by it here: the
//! activations are rounded to bf16 while they are packed (so no separate cast pass), the
//! tiles accumulate in f32 (`tdpbf16ps`), and the result is written as f32 — PyTorch's
//! `autocast(bfloat16)` numerics for the product, without its bf16 output rounding.
//!
//! AMX intrinsics are unstable in Rust, so the tile instructions are inline assembly. Linux
//! hands out the tile register state only on request (`arch_prctl(ARCH_REQ_XCOMP_PERM)`),
//! which [`available`] makes once per process. Where AMX is missing (other CPUs, other
//! OSes, wasm) callers fall back to converting the weight to f32 and using gemm.

// The packing helpers serve only the x86-64 Linux kernels.
#![cfg_attr(not(all(target_arch = "x86_64", target_os = "linux", feature = "std")), allow(dead_code, unused_imports))]

use alloc::vec;
use alloc::vec::Vec;
use burn_std::bf16;

/// Whether this process can run the AMX kernels: the CPU has AMX-TILE and AMX-BF16 and the
/// kernel granted the tile data state. Checked once.
pub fn available() -> bool {
    #[cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]
    {
        static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *AVAILABLE.get_or_init(imp::detect)
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux", feature = "std")))]
    {
        false
    }
}

/// A strided 2-D view: element `(i, j)` is at `ptr + i * row_stride + j * col_stride`.
#[derive(Clone, Copy)]
pub struct View<T> {
    pub ptr: *const T,
    pub row_stride: isize,
    pub col_stride: isize,
}

// SAFETY: a view is only read, and the caller keeps its tensor alive for the call.
unsafe impl<T> Send for View<T> {}
unsafe impl<T> Sync for View<T> {}

/// The left operand: f32 (rounded to bf16 as it is packed) or bf16.
#[derive(Clone, Copy)]
pub enum Lhs {
    F32(View<f32>),
    Bf16(View<bf16>),
}

/// Where the `m × n` row-major result goes: f32 as accumulated, or rounded to bf16.
/// The slices may be uninitialised: every one of the `m × n` elements is written.
pub enum Out<'a> {
    F32(&'a mut [core::mem::MaybeUninit<f32>]),
    Bf16(&'a mut [core::mem::MaybeUninit<bf16>]),
}

/// `out[m × n] (row-major) = a[m × k] · b[k × n]` on the AMX tiles.
///
/// # Safety
/// Every element the views address for the given sizes must be readable, `out` must hold
/// `m * n` elements, and [`available`] must have returned true.
pub unsafe fn matmul(m: usize, k: usize, n: usize, a: Lhs, b: View<bf16>, out: Out<'_>) {
    let len = match &out {
        Out::F32(o) => o.len(),
        Out::Bf16(o) => o.len(),
    };
    assert!(len >= m * n);
    #[cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]
    unsafe {
        imp::matmul(m, k, n, a, b, out)
    }
    #[cfg(not(all(target_arch = "x86_64", target_os = "linux", feature = "std")))]
    {
        let _ = (m, k, n, a, b, out);
        unreachable!("AMX kernels called where `available()` is false")
    }
}

/// Rows and columns of one register block: 2 × 2 tiles of 16 × 16 f32.
const BLOCK: usize = 32;
/// bf16 values along k in one tile row (64 bytes).
const TILE_K: usize = 32;

fn round_up(x: usize, to: usize) -> usize {
    x.div_ceil(to) * to
}

/// `b` packed for the tiles: for each 16-column strip, `k/2` rows of 16 (even, odd) pairs
/// — the layout `tdpbf16ps` wants for its second operand. Zero beyond `k` and `n`.
fn pack_b(k: usize, n: usize, b: View<bf16>) -> (Vec<u16>, usize) {
    let kp = round_up(k.max(1), TILE_K);
    let np = round_up(n.max(1), BLOCK);
    let strip = kp * 16; // u16 per 16-column strip
    let mut packed = vec![0u16; strip * (np / 16)];
    // Strips are disjoint: a large weight (every product of a training step packs its
    // freshly updated weight) is packed over rayon.
    let fill = |(s, out): (usize, &mut [u16])| {
        // The whole view (Sync), not its raw pointer field, is what the closure captures.
        let b = &b;
        let cols = n.saturating_sub(s * 16).min(16);
        for kk in 0..k {
            let (pair, lane) = (kk / 2, kk % 2);
            for jj in 0..cols {
                let j = s * 16 + jj;
                // SAFETY: (kk, j) is inside the caller's view.
                let v = unsafe { *b.ptr.offset(kk as isize * b.row_stride + j as isize * b.col_stride) };
                out[pair * 32 + jj * 2 + lane] = v.to_bits();
            }
        }
    };
    #[cfg(feature = "rayon")]
    if k * n >= 64 * 1024 {
        use rayon::prelude::*;
        packed.par_chunks_mut(strip).enumerate().for_each(fill);
        return (packed, strip);
    }
    packed.chunks_mut(strip).enumerate().for_each(fill);
    (packed, strip)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]
#[target_feature(enable = "avx512f,avx512bw")]
fn round_row(src: &[f32], dst: &mut [u16]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = crate::fastmath::f32_to_bf16_bits(*s);
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]
mod imp {
    use super::*;
    use core::arch::asm;
    use core::arch::x86_64::__cpuid_count;

    pub(super) fn detect() -> bool {
        // CPUID.(EAX=7, ECX=0):EDX bit 22 = AMX-BF16, bit 24 = AMX-TILE; AVX-512 F/BW for
        // the packing loops.
        let leaf7 = __cpuid_count(7, 0);
        let amx = leaf7.edx & (1 << 22) != 0 && leaf7.edx & (1 << 24) != 0;
        if !amx || !std::is_x86_feature_detected!("avx512bw") {
            return false;
        }
        const SYS_ARCH_PRCTL: usize = 158;
        const ARCH_REQ_XCOMP_PERM: usize = 0x1023;
        const XFEATURE_XTILEDATA: usize = 18;
        let ret: isize;
        // SAFETY: arch_prctl only changes this process's permitted xsave features.
        unsafe {
            asm!(
                "syscall",
                inlateout("rax") SYS_ARCH_PRCTL as isize => ret,
                in("rdi") ARCH_REQ_XCOMP_PERM,
                in("rsi") XFEATURE_XTILEDATA,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        ret == 0
    }

    /// Palette 1: tiles 0–3 hold the 2 × 2 f32 accumulators, 4–5 two 16-row strips of `a`,
    /// 6–7 two 16-column strips of `b`; every tile is 16 rows of 64 bytes.
    #[repr(C, align(64))]
    struct TileConfig {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        colsb: [u16; 16],
        rows: [u8; 16],
    }

    const CONFIG: TileConfig = {
        let mut c = TileConfig { palette: 1, start_row: 0, reserved: [0; 14], colsb: [0; 16], rows: [0; 16] };
        let mut t = 0;
        while t < 8 {
            c.colsb[t] = 64;
            c.rows[t] = 16;
            t += 1;
        }
        c
    };

    /// The output's base pointer, shared by the row-block tasks (which write disjoint blocks).
    #[derive(Clone, Copy)]
    enum OutPtr {
        F32(*mut f32),
        Bf16(*mut u16),
    }
    unsafe impl Send for OutPtr {}
    unsafe impl Sync for OutPtr {}

    pub(super) unsafe fn matmul(m: usize, k: usize, n: usize, a: Lhs, b: View<bf16>, out: Out<'_>) {
        if m == 0 || n == 0 {
            return;
        }
        let out = match out {
            Out::F32(o) => OutPtr::F32(o.as_mut_ptr().cast()),
            Out::Bf16(o) => OutPtr::Bf16(o.as_mut_ptr().cast()),
        };
        let kp = round_up(k.max(1), TILE_K);
        let (packed_b, strip) = pack_b(k, n, b);
        let m_blocks = m.div_ceil(BLOCK);
        let n_blocks = n.div_ceil(BLOCK);
        // Split the columns too when there are fewer row blocks than threads (short
        // queries), so every core has work.
        #[cfg(feature = "rayon")]
        let threads = rayon::current_num_threads();
        #[cfg(not(feature = "rayon"))]
        let threads = 1;
        let n_groups = if m_blocks >= 2 * threads { 1 } else { n_blocks.min(2 * threads) };
        let per_group = n_blocks.div_ceil(n_groups);
        let task = |t: usize| {
            let (mb, g) = (t / n_groups, t % n_groups);
            let nbs = g * per_group..((g + 1) * per_group).min(n_blocks);
            // SAFETY: tasks write disjoint (row block, column group) regions of `out`.
            unsafe { row_block(mb, nbs, m, k, n, kp, a, &packed_b, strip, out) };
        };
        let tasks = m_blocks * n_groups;
        #[cfg(feature = "rayon")]
        {
            use rayon::prelude::*;
            if tasks > 1 && m * n * k >= crate::ops::PARALLEL_THRESHOLD {
                (0..tasks).into_par_iter().for_each(task);
                return;
            }
        }
        (0..tasks).for_each(task);
    }

    #[allow(clippy::too_many_arguments)]
    unsafe fn row_block(
        mb: usize,
        nbs: core::ops::Range<usize>,
        m: usize,
        k: usize,
        n: usize,
        kp: usize,
        a: Lhs,
        packed_b: &[u16],
        strip: usize,
        out: OutPtr,
    ) {
        // This block's 32 rows of `a`, rounded to bf16 and zero-padded to 32 × kp.
        let row0 = mb * BLOCK;
        let rows = (m - row0).min(BLOCK);
        thread_local! {
            // Packed rows of `a`, kept per thread: a fresh 24–98 KB buffer per block cost a
            // memset and page faults for every block of every product.
            static SCRATCH: core::cell::RefCell<(Vec<u16>, Vec<f32>)> = const { core::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        SCRATCH.with_borrow_mut(|(pa, tmp)| {
            pa.resize(BLOCK * kp, 0);
            tmp.resize(k, 0.0);
            for r in 0..BLOCK {
                let row = &mut pa[r * kp..(r + 1) * kp];
                if r >= rows {
                    row.fill(0);
                    continue;
                }
                let i = (row0 + r) as isize;
                let (dst, pad) = row.split_at_mut(k);
                pad.fill(0);
                match a {
                    Lhs::F32(a) if a.col_stride == 1 => {
                        let src = unsafe { core::slice::from_raw_parts(a.ptr.offset(i * a.row_stride), k) };
                        unsafe { round_row(src, dst) };
                    }
                    Lhs::F32(a) => {
                        for (j, t) in tmp.iter_mut().enumerate() {
                            *t = unsafe { *a.ptr.offset(i * a.row_stride + j as isize * a.col_stride) };
                        }
                        unsafe { round_row(tmp, dst) };
                    }
                    Lhs::Bf16(a) if a.col_stride == 1 => {
                        let src = unsafe { core::slice::from_raw_parts(a.ptr.offset(i * a.row_stride), k) };
                        for (d, s) in dst.iter_mut().zip(src) {
                            *d = s.to_bits();
                        }
                    }
                    Lhs::Bf16(a) => {
                        for (j, d) in dst.iter_mut().enumerate() {
                            *d = unsafe { *a.ptr.offset(i * a.row_stride + j as isize * a.col_stride) }.to_bits();
                        }
                    }
                }
            }
            unsafe { tiles(pa, nbs, row0, rows, n, kp, packed_b, strip, out) };
        });
    }

    /// The tile loop over one packed row block and its column blocks.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tiles(
        pa: &[u16],
        nbs: core::ops::Range<usize>,
        row0: usize,
        rows: usize,
        n: usize,
        kp: usize,
        packed_b: &[u16],
        strip: usize,
        out: OutPtr,
    ) {
        let a_stride = kp * 2; // bytes between tile rows of `a`
        let mut spill = [0f32; BLOCK * BLOCK];
        unsafe { asm!("ldtilecfg [{}]", in(reg) &CONFIG, options(nostack, readonly)) };
        for nb in nbs {
            let col0 = nb * BLOCK;
            let cols = (n - col0).min(BLOCK);
            let b0 = packed_b[(2 * nb) * strip..].as_ptr();
            let b1 = packed_b[(2 * nb + 1) * strip..].as_ptr();
            unsafe {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    options(nostack, nomem)
                );
            }
            for kk in 0..kp / TILE_K {
                unsafe {
                    asm!(
                        "tileloadd tmm4, [{a0} + {sa}*1]",
                        "tileloadd tmm6, [{b0} + {sb}*1]",
                        "tdpbf16ps tmm0, tmm4, tmm6",
                        "tileloadd tmm7, [{b1} + {sb}*1]",
                        "tdpbf16ps tmm1, tmm4, tmm7",
                        "tileloadd tmm5, [{a1} + {sa}*1]",
                        "tdpbf16ps tmm2, tmm5, tmm6",
                        "tdpbf16ps tmm3, tmm5, tmm7",
                        a0 = in(reg) pa.as_ptr().add(kk * TILE_K),
                        a1 = in(reg) pa.as_ptr().add(16 * kp + kk * TILE_K),
                        b0 = in(reg) b0.add(kk * 512),
                        b1 = in(reg) b1.add(kk * 512),
                        sa = in(reg) a_stride,
                        sb = in(reg) 64usize,
                        options(nostack, readonly)
                    );
                }
            }
            // Whole f32 blocks go straight to `out`; edge blocks and bf16 output through a
            // local buffer.
            let (dst, ld) = match out {
                OutPtr::F32(o) if rows == BLOCK && cols == BLOCK => (unsafe { o.add(row0 * n + col0) }, n),
                _ => (spill.as_mut_ptr(), BLOCK),
            };
            unsafe {
                asm!(
                    "tilestored [{c0} + {s}*1], tmm0",
                    "tilestored [{c1} + {s}*1], tmm1",
                    "tilestored [{c2} + {s}*1], tmm2",
                    "tilestored [{c3} + {s}*1], tmm3",
                    c0 = in(reg) dst,
                    c1 = in(reg) dst.add(16),
                    c2 = in(reg) dst.add(16 * ld),
                    c3 = in(reg) dst.add(16 * ld + 16),
                    s = in(reg) ld * 4,
                    options(nostack)
                );
            }
            if dst == spill.as_mut_ptr() {
                for r in 0..rows {
                    let src = &spill[r * BLOCK..r * BLOCK + cols];
                    let at = (row0 + r) * n + col0;
                    match out {
                        OutPtr::F32(o) => unsafe { core::slice::from_raw_parts_mut(o.add(at), cols) }.copy_from_slice(src),
                        OutPtr::Bf16(o) => {
                            let o = unsafe { core::slice::from_raw_parts_mut(o.add(at), cols) };
                            for (d, s) in o.iter_mut().zip(src) {
                                *d = crate::fastmath::f32_to_bf16_bits(*s);
                            }
                        }
                    }
                }
            }
        }
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }
}
