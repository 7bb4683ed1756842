//! Shared by the loader fuzz tests of several crates (included with `#[path]`): byte
//! mutators, a global allocator that records the largest single request, and a runner that
//! takes its case count (or a time budget) from the environment.
//!
//! - `HBT_FUZZ_CASES` (default 256): cases per loader and strategy in `cargo test`.
//! - `HBT_FUZZ_SECONDS`: instead, run each loader for this long on fresh random seeds (the
//!   long run the README reports); failures are written to `target/fuzz-failures/`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

/// The system allocator, noting the largest single allocation since the last [`reset_largest`].
pub struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// Larger single requests are refused (the process aborts with "memory allocation of N
/// bytes failed" instead of being killed by the OOM killer, and the input that did it is in
/// `target/fuzz-failures/<name>.current`).
const CAP: usize = 1 << 31;

fn note(size: usize) -> bool {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    size <= CAP
}

unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !note(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !note(new_size) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

static ACCEPTED: AtomicUsize = AtomicUsize::new(0);

/// A property calls this when the loader accepted its input, so a run can say how many
/// mutated files got past parsing into the deeper checks.
pub fn accepted() {
    ACCEPTED.fetch_add(1, Ordering::Relaxed);
}

pub fn reset_largest() {
    LARGEST.store(0, Ordering::Relaxed);
}

pub fn largest() -> usize {
    LARGEST.load(Ordering::Relaxed)
}

/// Fails the case when one allocation was larger than `factor` × the input plus `slack`
/// bytes: a header that claims a huge tensor must be refused before anything that size is
/// allocated.
pub fn check_allocation(input_len: usize, factor: usize, slack: usize) -> Result<(), TestCaseError> {
    let got = largest();
    let allowed = input_len.saturating_mul(factor).saturating_add(slack);
    if got > allowed {
        return Err(TestCaseError::fail(format!(
            "allocated {got} bytes at once for a {input_len}-byte input (allowed {allowed})"
        )));
    }
    Ok(())
}

/// Numbers that break size arithmetic when a JSON header or config claims them.
const NASTY_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "3",
    "65535",
    "2147483648",
    "4294967296",
    "100000000000",
    "18446744073709551615",
    "18446744073709551616",
    "1e308",
    "-0.0",
    "0.5",
    "null",
    "\"\"",
    "[]",
];

fn digit_runs(b: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let s = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            out.push((s, i));
        } else {
            i += 1;
        }
    }
    out
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
pub enum Edit {
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index, usize),
    Truncate(Index),
    /// Copy a span of the input over another place (duplicates keys, shifts offsets).
    Splice(Index, Index, usize),
    /// Replace a run of ASCII digits with one of [`NASTY_NUMBERS`] (or a random number).
    Number(Index, Index, u64),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Edit::Insert(i, b)),
        1 => (any::<Index>(), 1usize..64).prop_map(|(i, n)| Edit::Remove(i, n)),
        1 => any::<Index>().prop_map(Edit::Truncate),
        1 => (any::<Index>(), any::<Index>(), 1usize..256).prop_map(|(a, b, n)| Edit::Splice(a, b, n)),
        6 => (any::<Index>(), any::<Index>(), any::<u64>()).prop_map(|(a, b, n)| Edit::Number(a, b, n)),
    ]
}

pub fn apply(seed: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for e in edits {
        match e {
            Edit::Set(i, v) if !b.is_empty() => {
                let i = i.index(b.len());
                b[i] = *v;
            }
            Edit::Insert(i, v) => {
                let i = i.index(b.len() + 1);
                b.insert(i, *v);
            }
            Edit::Remove(i, n) if !b.is_empty() => {
                let i = i.index(b.len());
                let end = (i + n).min(b.len());
                b.drain(i..end);
            }
            Edit::Truncate(i) => {
                let i = i.index(b.len() + 1);
                b.truncate(i);
            }
            Edit::Splice(from, to, n) if !b.is_empty() => {
                let f = from.index(b.len());
                let span: Vec<u8> = b[f..(f + n).min(b.len())].to_vec();
                let t = to.index(b.len());
                let end = (t + span.len()).min(b.len());
                b.splice(t..end, span);
            }
            Edit::Number(run, pick, random) => {
                let runs = digit_runs(&b);
                if runs.is_empty() {
                    continue;
                }
                let (s, e) = runs[run.index(runs.len())];
                let k = pick.index(NASTY_NUMBERS.len() + 1);
                let text = NASTY_NUMBERS
                    .get(k)
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| random.to_string());
                b.splice(s..e, text.into_bytes());
            }
            _ => {}
        }
    }
    b
}

/// A valid file with 1–4 edits (more would rarely leave JSON parseable, and the deeper
/// checks behind the parser are the interesting part).
pub fn mutated(seed: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(edit(), 1..5).prop_map(move |edits| apply(&seed, &edits))
}

/// Arbitrary bytes (mostly short), sometimes printable JSON-ish text.
pub fn random_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        "[\\[\\]{}\",:0-9a-z\\-. ]{0,256}".prop_map(String::into_bytes),
    ]
}

fn cases() -> u32 {
    std::env::var("HBT_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

/// What a fuzz run did, for the report.
#[derive(Debug, Default)]
pub struct Tally {
    pub cases: u64,
    /// Inputs the loader accepted (counted by the property through [`accepted`]).
    pub accepted: u64,
    pub seconds: f64,
}

/// Run `check` on inputs from `strategy`. In `cargo test` the seed is fixed (a failure
/// reproduces); with `HBT_FUZZ_SECONDS` fresh seeds run until the time is spent. A failing
/// case is shrunk by proptest, written to `target/fuzz-failures/<name>.bin` and reported.
pub fn fuzz<S: Strategy<Value = Vec<u8>>>(
    name: &str,
    strategy: S,
    check: impl Fn(&[u8]) -> Result<(), TestCaseError>,
) -> Tally {
    let budget = std::env::var("HBT_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .map(Duration::from_secs_f64);
    let t0 = Instant::now();
    let mut tally = Tally::default();
    ACCEPTED.store(0, Ordering::Relaxed);
    let mut round = 0u64;
    loop {
        let config = Config {
            cases: if budget.is_some() { 256 } else { cases() },
            failure_persistence: None,
            ..Config::default()
        };
        let rng = if budget.is_some() {
            TestRng::from_seed(
                RngAlgorithm::ChaCha,
                &seed_bytes(round ^ t0.elapsed().as_nanos() as u64),
            )
        } else {
            TestRng::deterministic_rng(RngAlgorithm::ChaCha)
        };
        let mut runner = TestRunner::new_with_rng(config.clone(), rng);
        let current = failures_dir().join(format!("{name}.current"));
        let result = runner.run(&strategy, |bytes| {
            // Kept until the case returns: an abort (not a panic) leaves its input here.
            let _ = std::fs::write(&current, &bytes);
            check(&bytes)
        });
        let _ = std::fs::remove_file(&current);
        tally.cases += config.cases as u64;
        if let Err(e) = result {
            let (why, input) = match e {
                TestError::Fail(why, input) => (why.to_string(), input),
                TestError::Abort(why) => (why.to_string(), Vec::new()),
            };
            let file = failures_dir().join(format!("{name}.bin"));
            let _ = std::fs::write(&file, &input);
            panic!(
                "fuzz {name}: {why}\n  minimal input ({} bytes) written to {}\n  {:?}",
                input.len(),
                file.display(),
                String::from_utf8_lossy(&input[..input.len().min(400)])
            );
        }
        round += 1;
        match budget {
            Some(b) if t0.elapsed() < b => continue,
            _ => break,
        }
    }
    tally.seconds = t0.elapsed().as_secs_f64();
    tally.accepted = ACCEPTED.load(Ordering::Relaxed) as u64;
    eprintln!(
        "fuzz {name}: {} cases in {:.1} s, {} accepted, no failure",
        tally.cases, tally.seconds, tally.accepted
    );
    tally
}

fn failures_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn seed_bytes(x: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    for (i, c) in s.chunks_mut(8).enumerate() {
        c.copy_from_slice(&(x.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i as u64)).to_le_bytes());
    }
    s
}
