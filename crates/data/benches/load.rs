//! Loading all of XQuAD-R (11 files) and building its 132 tasks.
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};

fn load(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/xquad-r");
    if !dir.is_dir() {
        eprintln!("{} not found; skipping the load benchmark", dir.display());
        return;
    }
    c.bench_function("load xquad-r (11 languages)", |b| {
        b.iter(|| hbt_data::load_dir(&dir).unwrap())
    });
    let corpus = hbt_data::load_dir(&dir).unwrap();
    c.bench_function("build xquad-r tasks", |b| b.iter(|| hbt_data::build_tasks(&corpus)));
}

criterion_group!(benches, load);
criterion_main!(benches);
