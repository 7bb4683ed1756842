//! Where Burn's GPU backends keep what they learn about a machine, so that a second process
//! starts warm: autotune's choices (which matmul and reduce kernel wins for each shape) and,
//! in `vulkan` builds, the compiled SPIR-V of every kernel.
//!
//! cubecl keeps both in one database per environment under a cache root that, by default,
//! depends on the working directory (`target/environment` of the outermost Cargo workspace
//! around it, else `~/.cache/cubecl`), and caches compiled kernels only when its
//! `[compilation] cache` setting is on (off by default). hbt sets both before the first GPU
//! device exists: one directory whatever the working directory — `$HBT_KERNEL_CACHE`, else
//! `$XDG_CACHE_HOME/hbt/kernels`, else `~/.cache/hbt/kernels` — with the compilation cache
//! on. Other settings of a `cubecl.toml` (or `burn.toml`'s `[cubecl]`) and the `CUBECL_*`
//! variables are kept.
//!
//! [`export`] and [`import`] move that directory's entries between machines as one cubecl
//! bundle file (`hbt cache export` / `hbt cache import`): entries are keyed by cubecl's
//! version and the adapter, so a bundle from another GPU costs nothing but its bytes.
//!
//! WGSL builds (the `wgpu` feature alone) compile each kernel afresh in every process — cubecl
//! stores compiled code only for SPIR-V — so there the directory holds autotune's choices.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::cubecl::bundle::{self, BundleFormat, ExportOptions};
use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};

use crate::error::{DeviceError, Result};

/// The cache directory and what it held when this process first used it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KernelCache {
    pub dir: PathBuf,
    /// Bytes the directory held before this process ran anything (0: a cold start).
    pub bytes_at_start: u64,
    /// Whether this build stores compiled kernels (SPIR-V, the `vulkan` feature) or only
    /// autotune's choices (WGSL).
    pub compiled_kernels: bool,
    /// False when cubecl's configuration had been read before hbt could set it (then
    /// cubecl's own defaults or `cubecl.toml` decide where the caches are).
    pub configured: bool,
}

impl KernelCache {
    /// One line for a person: where, warm or cold, and what is kept.
    pub fn describe(&self) -> String {
        let what = if self.compiled_kernels {
            "compiled kernels and autotune choices"
        } else {
            "autotune choices (WGSL builds compile kernels in every process)"
        };
        let state = match self.bytes_at_start {
            0 => "cold (empty)".to_string(),
            b => format!("warm ({:.1} MB from earlier runs)", b as f64 / 1e6),
        };
        let whose = if self.configured {
            ""
        } else {
            " — cubecl's configuration was read before hbt could set it"
        };
        format!("kernel cache {}: {state}, keeps {what}{whose}", self.dir.display())
    }
}

/// hbt's kernel cache directory (not created here).
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HBT_KERNEL_CACHE").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("hbt").join("kernels")
}

/// Point cubecl at [`cache_dir`] with its compilation cache on; once per process, before
/// the first GPU device is created (later calls return the first call's answer).
pub fn configure() -> &'static KernelCache {
    static STATE: OnceLock<KernelCache> = OnceLock::new();
    STATE.get_or_init(|| {
        let dir = cache_dir();
        let bytes_at_start = dir_bytes(&dir);
        let _ = std::fs::create_dir_all(&dir);
        // As cubecl loads it itself: a `cubecl.toml` (or burn.toml's `[cubecl]`), then the
        // CUBECL_* variables (CUBECL_AUTOTUNE_LEVEL, say).
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        config.compilation.cache = true;
        config.environment.path = burn::cubecl::config::cache::CacheConfig::Directory(dir.clone());
        let configured = CubeClRuntimeConfig::try_set(config);
        KernelCache {
            dir,
            bytes_at_start,
            compiled_kernels: cfg!(feature = "vulkan"),
            configured,
        }
    })
}

/// What a bundle holds, per namespace: (namespace, entries, bytes).
pub type BundleSummary = Vec<(String, u64, u64)>;

/// Write the cache directory's entries to `out` (a new file: an existing one is refused,
/// not replaced). `name` labels the bundle (say, the GPU it was warmed on).
pub fn export(out: &Path, name: &str) -> Result<BundleSummary> {
    let cache = configure();
    if out.exists() {
        return Err(DeviceError::Input(format!(
            "{} exists: hbt cache export writes a new file (remove it first)",
            out.display()
        )));
    }
    if dir_bytes(&cache.dir) == 0 {
        return Err(DeviceError::Input(format!(
            "the kernel cache {} is empty: run a GPU job first (hbt bench train --backend wgpu, say)",
            cache.dir.display()
        )));
    }
    let options = ExportOptions {
        name: name.to_string(),
        // The record of how the cache was built is this machine's business.
        excluded_namespaces: vec!["records".into()],
        format: BundleFormat::Sqlite,
        ..Default::default()
    };
    bundle::export(&[&cache.dir], out, &options).map_err(|e| bundle_error(out, e))?;
    summary(out)
}

/// What the bundle `path` holds.
pub fn summary(path: &Path) -> Result<BundleSummary> {
    let b = bundle::SqliteBundle::open(path).map_err(|e| bundle_error(path, e))?;
    Ok(b.summary()
        .into_iter()
        .map(|s| (s.namespace, s.entries, s.bytes))
        .collect())
}

/// Entries copied from a bundle into the cache directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub namespaces: usize,
    pub imported: usize,
    /// Keys the directory already held (a local entry is never replaced by a bundle's).
    pub already_present: usize,
    /// Entries the directory refused (a full disk, say): they will be recomputed.
    pub failed: usize,
}

/// Copy the bundle `path`'s entries into the cache directory.
pub fn import(path: &Path) -> Result<Imported> {
    if !path.is_file() {
        return Err(DeviceError::Input(format!(
            "no kernel-cache bundle at `{}`",
            path.display()
        )));
    }
    configure();
    let b = bundle::open(path).map_err(|e| bundle_error(path, e))?;
    let r = bundle::import(b.as_ref());
    Ok(Imported {
        namespaces: r.namespaces.len(),
        imported: r.imported,
        already_present: r.skipped,
        failed: r.failed,
    })
}

fn bundle_error(path: &Path, e: bundle::BundleError) -> DeviceError {
    DeviceError::Input(format!("{}: not a usable kernel-cache bundle: {e}", path.display()))
}

/// Bytes of the files directly in `dir` (cubecl's databases and their journals).
pub fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
