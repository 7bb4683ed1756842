//! hbt patch: element-wise passes split over rayon.
//!
//! Upstream runs unary, scalar and cast passes on the calling thread. In a small encoder on
//! 2 threads, with the matrix products already parallel, those serial passes were a third of
//! a training step's wall time. Chunks are fixed-size and each element's value is computed
//! exactly as before, so results do not depend on the thread count.

/// Elements per chunk handed to a worker.
#[cfg(feature = "rayon")]
const CHUNK: usize = 16 * 1024;

/// Whether a pass over `n` elements is worth splitting.
#[inline]
pub(crate) fn worth(n: usize) -> bool {
    #[cfg(feature = "rayon")]
    {
        n >= crate::ops::PARALLEL_THRESHOLD && rayon::current_num_threads() > 1
    }
    #[cfg(not(feature = "rayon"))]
    {
        let _ = n;
        false
    }
}

/// `f(chunk, offset_of_chunk)` over `dst`, chunks in parallel where [`worth`] it.
pub(crate) fn chunks_mut<T: Send>(dst: &mut [T], f: impl Fn(&mut [T], usize) + Sync) {
    #[cfg(feature = "rayon")]
    if worth(dst.len()) {
        use rayon::prelude::*;
        dst.par_chunks_mut(CHUNK)
            .enumerate()
            .for_each(|(i, c)| f(c, i * CHUNK));
        return;
    }
    f(dst, 0)
}

/// A new vector holding `f(x)` for each `x` of `src`.
pub(crate) fn map<A: Copy + Sync, B: Send>(src: &[A], f: impl Fn(A) -> B + Sync) -> Vec<B> {
    let n = src.len();
    let mut out = Vec::with_capacity(n);
    chunks_mut(&mut out.spare_capacity_mut()[..n], |o, at| {
        let src = &src[at..at + o.len()];
        for (o, &x) in o.iter_mut().zip(src) {
            o.write(f(x));
        }
    });
    // SAFETY: the loop above wrote every one of the first `n` slots.
    unsafe { out.set_len(n) };
    out
}

/// A new vector holding `f(a, b)` for each pair of `a` and `b` (same length).
pub(crate) fn map2<A: Copy + Sync, B: Copy + Sync, C: Send>(
    a: &[A],
    b: &[B],
    f: impl Fn(A, B) -> C + Sync,
) -> Vec<C> {
    assert_eq!(a.len(), b.len());
    let n = a.len();
    let mut out = Vec::with_capacity(n);
    chunks_mut(&mut out.spare_capacity_mut()[..n], |o, at| {
        let (a, b) = (&a[at..at + o.len()], &b[at..at + o.len()]);
        for ((o, &x), &y) in o.iter_mut().zip(a).zip(b) {
            o.write(f(x, y));
        }
    });
    // SAFETY: the loop above wrote every one of the first `n` slots.
    unsafe { out.set_len(n) };
    out
}

/// `n` zeroed elements (a `u128` gives the alignment `Bytes` wants), zeroed in parallel
/// where worth it: a serial `memset` of each new output was left on the calling thread.
pub(crate) fn zeroed<T: bytemuck::Zeroable + Send>(n: usize) -> Vec<T> {
    let mut out = Vec::with_capacity(n);
    chunks_mut(&mut out.spare_capacity_mut()[..n], |o, _| {
        for o in o {
            o.write(T::zeroed());
        }
    });
    // SAFETY: every one of the first `n` slots was written.
    unsafe { out.set_len(n) };
    out
}
