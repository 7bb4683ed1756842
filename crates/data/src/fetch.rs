//! `hbt data fetch`: the LAReQA files from a pinned commit, checksums verified.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// What a user without the data is told.
pub const HOW_TO_GET: &str = "Get XQuAD-R / MLQA-R with `hbt data fetch xquad-r` (or mlqa-r) when online, \
or download the <lang>.json files from https://github.com/google-research-datasets/lareqa \
(folders xquad-r/ and mlqa-r/) and pass their folder with --data DIR.";

pub const COMMIT: &str = "d09b337d6c94904bcc7b4b84f18782519c16a401";

/// (path in the LAReQA repository, sha256).
pub const FILES: &[(&str, &str)] = &[
    (
        "xquad-r/ar.json",
        "c52922d3b8ac1ae03ed5ac38647ad59870dca3dda2beefe18ecdc30729acb69d",
    ),
    (
        "xquad-r/de.json",
        "16fb0f4bf4916154b585a20c24c66074591c9718a1affe764ff4697572328949",
    ),
    (
        "xquad-r/el.json",
        "163fd43ee785a30eb534ae2061e9eaa766a7ee4e8ffce5e4b422480c150f64b6",
    ),
    (
        "xquad-r/en.json",
        "7b0954f39297c27a31fef610f0883337dd2907fa8699151dc922afdd0fa12ffe",
    ),
    (
        "xquad-r/es.json",
        "f8e836b2d91009c4363e04315f7ede363eedbbb49c67dda60de6c4aa782f58de",
    ),
    (
        "xquad-r/hi.json",
        "ea45ba8ae4513d1533b222bebdc02a90bc319c055d3aeea68584a053d2e92872",
    ),
    (
        "xquad-r/ru.json",
        "7f4dff853538b9a5fcc28c070b8bb983a5c5d190ac747b8e005a1ada9cab18f1",
    ),
    (
        "xquad-r/th.json",
        "c3a041864c3a9fb0b4dd91cfdf99cf36b411b3e704c58a303c97bc6dc786cfe4",
    ),
    (
        "xquad-r/tr.json",
        "f3e8c13002bbce154a4578f535f7533cb70f3da08840e6b62735935baec7bd94",
    ),
    (
        "xquad-r/vi.json",
        "e35926bf5cc6fc6ecbdfca49467aabeb454f08d152d7818143a906bd31dde995",
    ),
    (
        "xquad-r/zh.json",
        "80c2cde7b9c2fb134c303cbb52f2ba396ead9eb0014aec43993543d2ba9e93ed",
    ),
    (
        "mlqa-r/ar.json",
        "2132fbc03208535c0fe01f2e2c5121d06f9c2aa799af93b0a719dbc105bdf137",
    ),
    (
        "mlqa-r/de.json",
        "ce9454dc5aa6f2d85c23cd6e49cb367fbb7c4c6e62d7f71e355c6b5dae4d0886",
    ),
    (
        "mlqa-r/en.json",
        "fedd9a5cc0848dda80caf84aa36f482adaae230526a3f6e9e86926a93ef3b1e4",
    ),
    (
        "mlqa-r/es.json",
        "70ecba276b8c96a692b120693a595d076ce94ad21d4b28311538a9fcbfe0f9d7",
    ),
    (
        "mlqa-r/hi.json",
        "4dd0fb3c06f737a5481d705bc1dcac7876712a5815c9265908fbb3a0696cb654",
    ),
    (
        "mlqa-r/vi.json",
        "9d3baff6ba03e6793b25594217265ea59a136b9733833dca8a9582a84a78ff85",
    ),
    (
        "mlqa-r/zh.json",
        "57f01d2fff50cf3392805635b01445339f225ad5bf28ba8443b12f8dbd1e69dc",
    ),
];

/// The default cache: `$HBT_DATA` or `~/.cache/hbt/data`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HBT_DATA") {
        return PathBuf::from(d);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache/hbt/data")
}

/// Where a benchmark's data already is, looked for one way by every command: a local copy in
/// `$HBT_SHARED/data/NAME` (default `../shared/data/NAME`), else the fetch cache.
pub fn locate(name: &str) -> Option<PathBuf> {
    let shared = std::env::var_os("HBT_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared"));
    [shared.join("data").join(name), cache_dir().join(name)]
        .into_iter()
        .find(|d| d.is_dir())
}

pub fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

/// Which corpora `fetch` knows.
pub fn known(name: &str) -> Result<Vec<(&'static str, &'static str)>> {
    let files: Vec<_> = FILES
        .iter()
        .copied()
        .filter(|(p, _)| p.starts_with(&format!("{name}/")))
        .collect();
    if files.is_empty() {
        return Err(DataError::Invalid(format!("unknown corpus `{name}` (xquad-r, mlqa-r)")));
    }
    Ok(files)
}

/// Verify a local copy against the pinned checksums; returns the files that differ.
pub fn verify(name: &str, dir: &Path) -> Result<Vec<String>> {
    let mut bad = Vec::new();
    for (p, sum) in known(name)? {
        let file = dir.join(Path::new(p).file_name().expect("a file name"));
        if !file.is_file() {
            bad.push(format!("{}: missing", file.display()));
        } else if sha256_file(&file)? != sum {
            bad.push(format!(
                "{}: checksum differs from LAReQA@{}",
                file.display(),
                &COMMIT[..8]
            ));
        }
    }
    Ok(bad)
}

/// Download `name` into `<dest>/<name>/`, verifying each file; existing good files are kept.
#[cfg(feature = "fetch")]
pub fn fetch(name: &str, dest: &Path, mut progress: impl FnMut(&str)) -> Result<PathBuf> {
    let files = known(name)?;
    let dir = dest.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, e))?;
    for (p, sum) in files {
        let file = dir.join(Path::new(p).file_name().expect("a file name"));
        if file.is_file() && sha256_file(&file)? == sum {
            progress(&format!("{} ok (cached)", file.display()));
            continue;
        }
        let url = format!("https://raw.githubusercontent.com/google-research-datasets/lareqa/{COMMIT}/{p}");
        progress(&format!("downloading {url}"));
        let body = ureq::get(&url)
            .call()
            .map_err(|e| DataError::Fetch(format!("{url}: {e}. {HOW_TO_GET}")))?
            .into_body()
            .read_to_vec()
            .map_err(|e| DataError::Fetch(format!("{url}: {e}")))?;
        let got = format!("{:x}", Sha256::digest(&body));
        if got != sum {
            return Err(DataError::Fetch(format!(
                "{url}: sha256 {got} does not match the pinned {sum}"
            )));
        }
        // Durably: a present file is taken as fetched and checked on every later run.
        hbt_durable::write_atomic(&file, &body).map_err(|e| DataError::io(e.path, e.source))?;
    }
    Ok(dir)
}
