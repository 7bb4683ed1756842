//! Where an encode's time goes: wall time per step of the forward pass, by a clock the
//! caller gives (the browser's worker passes `performance.now`), summed until read. Off unless
//! started: the forward pass then reads one thread-local flag per step. Steps are timed where
//! they run (the CPU backend computes each op when it is called), so the steps add up to the
//! encode.

use std::cell::{Cell, RefCell};

thread_local! {
    static CLOCK: Cell<Option<fn() -> f64>> = const { Cell::new(None) };
    static TOTALS: RefCell<Vec<(&'static str, f64)>> = const { RefCell::new(Vec::new()) };
}

/// Start summing step times on this thread, read by `clock` (milliseconds).
pub fn start(clock: fn() -> f64) {
    TOTALS.with_borrow_mut(Vec::clear);
    CLOCK.set(Some(clock));
}

/// Stop, and return each step's summed time (ms), in the order steps first ran.
pub fn stop() -> Vec<(&'static str, f64)> {
    CLOCK.set(None);
    TOTALS.take()
}

/// Run `f`, adding its time to step `what` when profiling.
pub fn time<R>(what: &'static str, f: impl FnOnce() -> R) -> R {
    let Some(clock) = CLOCK.get() else { return f() };
    let t = clock();
    let r = f();
    let dt = clock() - t;
    TOTALS.with_borrow_mut(|v| match v.iter_mut().find(|(k, _)| *k == what) {
        Some(e) => e.1 += dt,
        None => v.push((what, dt)),
    });
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_add_up_and_nothing_is_kept_when_off() {
        time("off", || ());
        start(|| 1.0);
        time("a", || ());
        time("b", || ());
        time("a", || ());
        assert_eq!(stop(), vec![("a", 0.0), ("b", 0.0)]);
        time("after", || ());
        start(|| 0.0);
        assert!(stop().is_empty());
    }
}
