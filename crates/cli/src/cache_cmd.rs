//! `hbt cache`: the GPU kernel cache (compiled kernels, autotune choices) — where it is, and
//! moving it to a fresh machine so its first training step starts warm.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum CacheCommand {
    /// Where the cache is, how much it holds, and what this build keeps in it.
    Info,
    /// Write the cache's entries to one bundle file (a new file).
    Export {
        out: PathBuf,
        /// A label for the bundle, such as the GPU it was warmed on.
        #[arg(long, default_value = "hbt")]
        name: String,
    },
    /// Copy a bundle's entries into this machine's cache (entries already here are kept).
    Import { bundle: PathBuf },
}

pub fn run(cmd: CacheCommand) -> Result<()> {
    #[cfg(feature = "wgpu")]
    {
        use anyhow::Context;
        use hbt_device::kernels;
        let cache = kernels::configure();
        eprintln!("hbt: {}", cache.describe());
        let show = |s: &kernels::BundleSummary| {
            for (namespace, entries, bytes) in s {
                println!("{namespace}\t{entries} entries\t{bytes} bytes");
            }
        };
        match cmd {
            CacheCommand::Info => {
                println!("{}\t{} bytes", cache.dir.display(), kernels::dir_bytes(&cache.dir));
            }
            CacheCommand::Export { out, name } => {
                let s = kernels::export(&out, &name).with_context(|| format!("exporting to {}", out.display()))?;
                eprintln!(
                    "hbt: wrote {} ({} bytes)",
                    out.display(),
                    std::fs::metadata(&out)?.len()
                );
                show(&s);
            }
            CacheCommand::Import { bundle } => {
                let r = kernels::import(&bundle).with_context(|| format!("importing {}", bundle.display()))?;
                println!(
                    "{} entries imported into {} ({} already there, {} refused) from {} namespaces",
                    r.imported,
                    cache.dir.display(),
                    r.already_present,
                    r.failed,
                    r.namespaces
                );
                if r.failed > 0 {
                    bail!("{} entries could not be written to {}", r.failed, cache.dir.display());
                }
            }
        }
        Ok(())
    }
    #[cfg(not(feature = "wgpu"))]
    {
        let _ = cmd;
        bail!("this hbt was built without a GPU backend: it has no kernel cache")
    }
}
