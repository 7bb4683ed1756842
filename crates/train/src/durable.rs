//! Checkpoints that survive a crash, not only a kill: files are written through hbt-durable
//! (fsynced, published by rename, directory synced). Checkpoints carry a manifest of sizes and CRC-32s so a damaged one is recognised at
//! resume; free space is checked before a checkpoint is written; one process writes a run
//! directory at a time.

use std::fs::File;
use std::io::{Read, Write};

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// The manifest's name inside a checkpoint directory.
pub const MANIFEST: &str = "manifest.json";

pub use hbt_durable::{sibling, sync_dir, sync_file, write_atomic, write_synced};

/// One file of a checkpoint as it was written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileSum {
    pub name: String,
    pub bytes: u64,
    pub crc32: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub files: Vec<FileSum>,
}

impl Manifest {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.bytes).sum()
    }
}

fn sum_file(path: &Path) -> std::io::Result<(u64, u32)> {
    let mut f = File::open(path)?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, h.finalize()))
}

/// Checksum `names` in `dir` (read back from the disk) and write the manifest durably.
pub fn write_manifest(dir: &Path, names: &[&str]) -> Result<Manifest> {
    let mut files = Vec::new();
    for name in names {
        let p = dir.join(name);
        let (bytes, crc32) = sum_file(&p).map_err(|e| TrainError::io(&p, e))?;
        files.push(FileSum {
            name: name.to_string(),
            bytes,
            crc32,
        });
    }
    let m = Manifest { files };
    write_synced(
        &dir.join(MANIFEST),
        &serde_json::to_vec_pretty(&m).expect("manifest serializes"),
    )?;
    Ok(m)
}

/// The manifest of a checkpoint, unchecked (for its recorded sizes).
pub fn read_manifest(dir: &Path) -> Option<Manifest> {
    serde_json::from_slice(&std::fs::read(dir.join(MANIFEST)).ok()?).ok()
}

/// What [`verify`] found.
#[derive(Debug, PartialEq)]
pub enum Verified {
    Intact(Manifest),
    /// Written before checkpoints had manifests: cannot be checked.
    Unverifiable,
    Damaged(String),
}

/// Check every file of a checkpoint against its manifest (size first, then CRC-32).
pub fn verify(dir: &Path) -> Verified {
    let mp = dir.join(MANIFEST);
    let bytes = match std::fs::read(&mp) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return if dir.join("state.json").is_file() {
                Verified::Unverifiable
            } else {
                Verified::Damaged("no manifest.json and no state.json".into())
            };
        }
        Err(e) => return Verified::Damaged(format!("{MANIFEST}: {e}")),
    };
    let m: Manifest = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => return Verified::Damaged(format!("{MANIFEST} is unreadable: {e}")),
    };
    for f in &m.files {
        let p = dir.join(&f.name);
        let size = match std::fs::metadata(&p) {
            Ok(md) => md.len(),
            Err(e) => return Verified::Damaged(format!("{}: {e}", f.name)),
        };
        if size != f.bytes {
            return Verified::Damaged(format!("{} has {size} bytes, {} were written", f.name, f.bytes));
        }
        match sum_file(&p) {
            Ok((_, crc)) if crc == f.crc32 => {}
            Ok((_, crc)) => {
                return Verified::Damaged(format!(
                    "{} fails its checksum (CRC-32 {crc:08x}, written {:08x})",
                    f.name, f.crc32
                ));
            }
            Err(e) => return Verified::Damaged(format!("{}: {e}", f.name)),
        }
    }
    Verified::Intact(m)
}

/// Bytes available to this user on the file system holding `dir` (None where unknown).
pub fn free_space(dir: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
        let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: `c` is a valid NUL-terminated path and `s` a writable statvfs.
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut s) };
        if rc != 0 {
            return None;
        }
        Some(s.f_bavail as u64 * s.f_frsize as u64)
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        None
    }
}

/// Fail before writing `need` bytes under `dir` when the disk cannot hold them (with a
/// margin: the file system needs room of its own). `pretend_free` stands in for the disk's
/// free space, so the refusal can be tested without filling a disk.
pub fn ensure_space(dir: &Path, need: u64, pretend_free: Option<u64>) -> Result<()> {
    let free = pretend_free.or_else(|| free_space(dir));
    let Some(free) = free else { return Ok(()) };
    let want = need + need / 20 + (64 << 20);
    if free < want {
        return Err(TrainError::DiskFull {
            path: dir.to_path_buf(),
            need: want,
            free,
        });
    }
    Ok(())
}

/// The one process allowed to write a run directory. Held through an OS file lock on
/// `<dir>/.hbt.lock` (released by the kernel when the process dies, so a stale lock from a
/// killed run is simply taken over); the file names the holder's pid for the message.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
    pub path: PathBuf,
}

pub const LOCK_FILE: &str = ".hbt.lock";

impl RunLock {
    pub fn acquire(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| TrainError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut s = String::new();
                let _ = file.read_to_string(&mut s);
                let holder = s.trim().parse::<u32>().ok();
                return Err(TrainError::Locked {
                    path: dir.to_path_buf(),
                    holder: holder
                        .map(|p| format!("pid {p}"))
                        .unwrap_or_else(|| "pid unknown".into()),
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(TrainError::io(&path, e)),
        }
        // Ours now: record who holds it (a previous holder's pid may still be there).
        file.set_len(0).map_err(|e| TrainError::io(&path, e))?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes())
            .map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { _file: file, path })
    }
}

/// Bytes of every file under `dir` (what a run leaves on the disk).
pub fn dir_bytes(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.filter_map(|e| e.ok())
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}
