//! The GPU kernel cache (`hbt_device::kernels`): a GPU process writes it, the next one finds
//! it warm, and `hbt cache export` / `import` carry it to a fresh directory (a fresh
//! machine). Runs on lavapipe where there is no GPU.
#![cfg(feature = "wgpu")]

mod common;

use std::path::Path;
use std::process::Output;

use common::hbt;

fn embed(cache: &Path) -> Output {
    let o = hbt()
        .args(["embed", "--backend", "wgpu", "--model"])
        .arg(common::minilm())
        .args(["a kernel cache", "ein Zwischenspeicher für Kernel"])
        .env("HBT_KERNEL_CACHE", cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

fn cache_cmd(cache: &Path, args: &[&str]) -> Output {
    hbt()
        .arg("cache")
        .args(args)
        .env("HBT_KERNEL_CACHE", cache)
        .output()
        .unwrap()
}

/// `namespace \t N entries \t B bytes` lines → total entries.
fn entries(stdout: &[u8]) -> u64 {
    String::from_utf8_lossy(stdout)
        .lines()
        .filter_map(|l| l.split('\t').nth(1)?.strip_suffix(" entries")?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_second_process_finds_the_kernel_cache_warm_and_a_bundle_carries_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (here, fresh) = (tmp.path().join("here"), tmp.path().join("fresh"));
    let first = String::from_utf8_lossy(&embed(&here).stderr).to_string();
    assert!(
        first.contains(&format!("kernel cache {}: cold (empty)", here.display())),
        "{first}"
    );
    assert!(
        hbt_device::kernels::dir_bytes(&here) > 0,
        "the first GPU process wrote nothing to {here:?}"
    );
    let second = String::from_utf8_lossy(&embed(&here).stderr).to_string();
    assert!(second.contains("warm ("), "{second}");

    let bundle = tmp.path().join("kernels.bundle");
    let o = cache_cmd(&here, &["export", bundle.to_str().unwrap(), "--name", "lavapipe"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let exported = entries(&o.stdout);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("autotune"),
        "autotune's choices are in the bundle: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    // An existing file is not replaced.
    let again = cache_cmd(&here, &["export", bundle.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));

    // A fresh machine: everything exported arrives; a second import adds nothing.
    let o = cache_cmd(&fresh, &["import", bundle.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        said.starts_with(&format!("{exported} entries imported")),
        "{said} (exported {exported})"
    );
    let o = cache_cmd(&fresh, &["import", bundle.to_str().unwrap()]);
    let said = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        said.starts_with(&format!(
            "0 entries imported into {} ({exported} already there",
            fresh.display()
        )),
        "{said}"
    );
    // What the fresh directory holds exports back to the same entries.
    let back = tmp.path().join("back.bundle");
    let o = cache_cmd(&fresh, &["export", back.to_str().unwrap()]);
    assert_eq!(entries(&o.stdout), exported);
    let warm = String::from_utf8_lossy(&embed(&fresh).stderr).to_string();
    assert!(warm.contains("warm ("), "{warm}");

    // Not a bundle, and no file at all: errors that name the file.
    let junk = tmp.path().join("junk.bundle");
    std::fs::write(&junk, b"not a bundle").unwrap();
    for bad in [&junk, &tmp.path().join("missing.bundle")] {
        let o = cache_cmd(&fresh, &["import", bad.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(bad.to_str().unwrap()), "{err}");
    }
}
