//! hbt-durable: the one way hbt writes a file that a later run trusts (a report a study
//! takes as finished work, a checkpoint's `latest`, a fetched data file, a saved model).
//! Data is fsynced before the rename that publishes it, and the directory after it: a
//! rename is durable only once its directory is. So a crash — not only a kill — leaves
//! either the old content or the complete new one, never a torn file under the final name.
//!
//! The lowest floor of the workspace: std only, so every crate (the wasm ones too) can use it.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// An I/O failure and the path it happened on.
#[derive(Debug)]
pub struct IoError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

impl std::fmt::Display for IoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.source)
    }
}

impl std::error::Error for IoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

pub type Result<T> = std::result::Result<T, IoError>;

fn at(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `bytes` to `path` and flush them to the disk; returns the byte count.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<u64> {
    let mut f = File::create(path).map_err(at(path))?;
    f.write_all(bytes).map_err(at(path))?;
    f.sync_all().map_err(at(path))?;
    Ok(bytes.len() as u64)
}

/// Flush a file someone else wrote (Burn's recorder, say) to the disk.
pub fn sync_file(path: &Path) -> Result<()> {
    File::open(path).and_then(|f| f.sync_all()).map_err(at(path))
}

/// Make the entries of `dir` (creations, renames, removals) durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        File::open(dir).and_then(|f| f.sync_all()).map_err(at(dir))
    }
    #[cfg(not(unix))]
    {
        let _ = dir; // directories cannot be opened for syncing here
        Ok(())
    }
}

/// `path` with `suffix` appended to its file name (`report.json` → `report.json.tmp`).
pub fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Replace `path` with `bytes` so that a crash leaves either the old or the new content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<u64> {
    let tmp = sibling(path, ".tmp");
    let n = write_synced(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(at(path))?;
    sync_dir(parent(path))?;
    Ok(n)
}

/// Publish a directory filled beside its final place (`tmp`) as `dir`: its files and
/// folders (at any depth) are synced first, then it is renamed in and the parent synced.
pub fn publish_dir(tmp: &Path, dir: &Path) -> Result<()> {
    sync_tree(tmp)?;
    std::fs::rename(tmp, dir).map_err(at(dir))?;
    sync_dir(parent(dir))
}

fn sync_tree(dir: &Path) -> Result<()> {
    for e in std::fs::read_dir(dir).map_err(at(dir))? {
        let e = e.map_err(at(dir))?;
        let t = e.file_type().map_err(at(&e.path()))?;
        if t.is_dir() {
            sync_tree(&e.path())?;
        } else if t.is_file() {
            sync_file(&e.path())?;
        }
    }
    sync_dir(dir)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_atomic_replaces_and_leaves_no_temporary() {
        let d = std::env::temp_dir().join(format!("hbt-durable-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("report.json");
        write_atomic(&p, b"old").unwrap();
        assert_eq!(write_atomic(&p, b"new!").unwrap(), 4);
        assert_eq!(std::fs::read(&p).unwrap(), b"new!");
        assert!(!sibling(&p, ".tmp").exists());
        let err = write_atomic(&d.join("missing/x.json"), b"x").unwrap_err();
        assert!(err.to_string().contains("missing/x.json.tmp"), "{err}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn publish_dir_moves_a_filled_directory_into_place() {
        let d = std::env::temp_dir().join(format!("hbt-durable-dir-{}", std::process::id()));
        let (tmp, fin) = (d.join("m.tmp"), d.join("m"));
        std::fs::create_dir_all(&tmp).unwrap();
        std::fs::write(tmp.join("a"), b"1").unwrap();
        std::fs::create_dir_all(tmp.join("sub")).unwrap();
        std::fs::write(tmp.join("sub/b"), b"2").unwrap();
        publish_dir(&tmp, &fin).unwrap();
        assert_eq!(std::fs::read(fin.join("a")).unwrap(), b"1");
        assert_eq!(std::fs::read(fin.join("sub/b")).unwrap(), b"2");
        assert!(!tmp.exists());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
