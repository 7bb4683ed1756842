//! Naming a model: a local directory, or `hf:ORG/NAME` fetched once into the Hugging Face
//! cache (`HF_HOME`, default `~/.cache/huggingface`) with hf-hub.

use std::path::PathBuf;

use crate::error::{ModelError, Result};

const REQUIRED: &[&str] = &["config.json", "tokenizer.json", "model.safetensors"];
const OPTIONAL: &[&str] = &[
    "tokenizer_config.json",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
    "config_sentence_transformers.json",
];

/// Resolve a model name to a local directory, downloading when it is `hf:` and not cached.
pub fn resolve_model(spec: &str) -> Result<PathBuf> {
    match spec.strip_prefix("hf:") {
        Some(repo) => resolve_hub(repo),
        None => {
            let p = PathBuf::from(spec);
            if p.join("config.json").is_file() {
                Ok(p)
            } else if p.is_dir() {
                Err(ModelError::io(
                    p.join("config.json"),
                    std::io::Error::new(std::io::ErrorKind::NotFound, "not a model directory: no config.json"),
                ))
            } else {
                Err(ModelError::NotFound(spec.to_string()))
            }
        }
    }
}

fn offline() -> bool {
    matches!(
        std::env::var("HF_HUB_OFFLINE").map(|v| v.to_lowercase()).as_deref(),
        Ok("1" | "true" | "yes" | "on")
    )
}

#[cfg(feature = "hub")]
fn resolve_hub(repo: &str) -> Result<PathBuf> {
    use hf_hub::{Cache, Repo, api::sync::ApiBuilder};
    if repo.split('/').count() != 2 || repo.split('/').any(str::is_empty) {
        return Err(ModelError::Hub {
            repo: repo.into(),
            message: "expected hf:ORG/NAME".into(),
        });
    }
    let cache = Cache::from_env();
    let cached = cache.repo(Repo::model(repo.to_string()));
    if let Some(cfg) = REQUIRED.iter().map(|f| cached.get(f)).collect::<Option<Vec<_>>>() {
        return Ok(cfg[0].parent().expect("a cached file has a folder").to_path_buf());
    }
    if offline() {
        return Err(ModelError::Hub {
            repo: repo.into(),
            message: format!(
                "not in the Hugging Face cache ({}) and HF_HUB_OFFLINE is set; download it on a \
                 connected machine (e.g. `hf download {repo}`) or pass a local directory",
                cache.path().display()
            ),
        });
    }
    let api = ApiBuilder::from_env()
        .with_progress(true)
        .build()
        .map_err(|e| ModelError::Hub {
            repo: repo.into(),
            message: e.to_string(),
        })?;
    let r = api.model(repo.to_string());
    let mut dir = None;
    for f in REQUIRED {
        let p = r.get(f).map_err(|e| ModelError::Hub {
            repo: repo.into(),
            message: format!("could not fetch {f}: {e} (no network? pass a local directory, or pre-fill the cache)"),
        })?;
        dir = p.parent().map(|d| d.to_path_buf());
    }
    for f in OPTIONAL {
        let _ = r.get(f); // optional: many models do not have them
    }
    Ok(dir.expect("REQUIRED is not empty"))
}

#[cfg(not(feature = "hub"))]
fn resolve_hub(repo: &str) -> Result<PathBuf> {
    let _ = (REQUIRED, OPTIONAL, offline());
    Err(ModelError::Hub {
        repo: repo.into(),
        message: "this build has no hub support (feature `hub`); pass a local directory".into(),
    })
}
