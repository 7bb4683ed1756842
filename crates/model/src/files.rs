//! A model directory's files as bytes ([`ModelFiles`]): read from disk natively, or handed
//! over one by one by the browser ([`ModelFiles::from_named`]); and hbt's own `hbt.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::pooling::Pooling;
use crate::words::OnDemandWords;
use hbt_tokenizer::Prefixes;

/// hbt's own metadata saved next to the HF files (`hbt.json`): what sentence-transformers'
/// files cannot say (the BERT pooler as sentence vector; the prefixes for older ST).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HbtMeta {
    pub pooling: Pooling,
    pub normalize: bool,
    pub prefixes: Prefixes,
    /// An on-demand vocabulary ([`crate::words`]): the word table and the tokenizer's
    /// pieces are in these files rather than in `model.safetensors` / `tokenizer.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub words: Option<OnDemandWords>,
}

/// The files of a model directory, as bytes.
#[derive(Debug, Clone, Default)]
pub struct ModelFiles {
    /// Where they came from (used to name files in errors).
    pub origin: PathBuf,
    pub config: Vec<u8>,
    /// `(file name, bytes)` for `model.safetensors` or each shard.
    pub weights: Vec<(PathBuf, Vec<u8>)>,
    pub tokenizer: Vec<u8>,
    pub st_pooling: Option<Vec<u8>>,
    pub st_config: Option<Vec<u8>>,
    pub st_prompts: Option<Vec<u8>>,
    pub hbt_meta: Option<Vec<u8>>,
    /// Kept to be saved back as-is (transformers needs it to pick the tokenizer class).
    pub tokenizer_config: Option<Vec<u8>>,
    /// An on-demand vocabulary's pieces file (`hbt.json`'s `words`).
    pub pieces: Option<Vec<u8>>,
    /// An on-demand vocabulary's rows file, read whole (natively); the browser fetches rows
    /// as queries need them instead ([`Encoder::to_device_with_rows`]).
    pub word_rows: Option<Vec<u8>>,
}

#[cfg(not(target_arch = "wasm32"))]
fn read_opt(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ModelError::io(path, e)),
    }
}

impl ModelFiles {
    /// Read a Hugging Face / sentence-transformers model directory.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(ModelError::NotFound(dir.display().to_string()));
        }
        let need = |name: &str| -> Result<Vec<u8>> {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| ModelError::io(&p, e))
        };
        let mut weights = Vec::new();
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        if single.exists() {
            weights.push((single.clone(), need("model.safetensors")?));
        } else if index.exists() {
            let map = crate::weights::WeightMap::from_dir(dir)?;
            drop(map); // validates the index; shards are re-read below as bytes
            let v: serde_json::Value =
                serde_json::from_slice(&need("model.safetensors.index.json")?).map_err(|source| ModelError::Json {
                    path: index.clone(),
                    source,
                })?;
            let mut files: Vec<String> = v["weight_map"]
                .as_object()
                .into_iter()
                .flat_map(|o| o.values().filter_map(|f| f.as_str().map(String::from)))
                .collect();
            files.sort();
            files.dedup();
            for f in files {
                weights.push((dir.join(&f), need(&f)?));
            }
        } else {
            return Err(ModelError::io(
                single,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no model.safetensors (nor model.safetensors.index.json)",
                ),
            ));
        }
        let hbt_meta = read_opt(&dir.join("hbt.json"))?;
        let (mut pieces, mut word_rows) = (None, None);
        if let Some(w) = hbt_meta
            .as_deref()
            .and_then(|b| on_demand_words(b, &dir.join("hbt.json")).transpose())
        {
            let w = w?;
            pieces = Some(need(&w.pieces_file)?);
            word_rows = Some(need(&w.rows_file)?);
        }
        Ok(Self {
            origin: dir.to_path_buf(),
            config: need("config.json")?,
            weights,
            tokenizer: need("tokenizer.json")?,
            st_pooling: read_opt(&dir.join("1_Pooling/config.json"))?,
            st_config: read_opt(&dir.join("sentence_bert_config.json"))?,
            st_prompts: read_opt(&dir.join("config_sentence_transformers.json"))?,
            hbt_meta,
            tokenizer_config: read_opt(&dir.join("tokenizer_config.json"))?,
            pieces,
            word_rows,
        })
    }
}

/// The `words` entry of an `hbt.json`, if it has one.
#[cfg(not(target_arch = "wasm32"))]
fn on_demand_words(hbt_json: &[u8], origin: &Path) -> Result<Option<OnDemandWords>> {
    #[derive(Deserialize)]
    struct Only {
        #[serde(default)]
        words: Option<OnDemandWords>,
    }
    serde_json::from_slice::<Only>(hbt_json)
        .map(|o| o.words)
        .map_err(|source| ModelError::Json {
            path: origin.to_path_buf(),
            source,
        })
}

impl ModelFiles {
    /// Model files fetched one by one (the browser), by their path inside the model folder.
    /// The weights may come later ([`crate::Encoder::prepare`]); a model without any is an
    /// error when it is built.
    pub fn from_named(origin: &Path, files: Vec<(String, Vec<u8>)>) -> Result<Self> {
        let mut out = ModelFiles {
            origin: origin.to_path_buf(),
            ..Default::default()
        };
        for (name, bytes) in files {
            match name.as_str() {
                "config.json" => out.config = bytes,
                "tokenizer.json" => out.tokenizer = bytes,
                "1_Pooling/config.json" => out.st_pooling = Some(bytes),
                "sentence_bert_config.json" => out.st_config = Some(bytes),
                "config_sentence_transformers.json" => out.st_prompts = Some(bytes),
                "hbt.json" => out.hbt_meta = Some(bytes),
                hbt_tokenizer::PIECES_FILE => out.pieces = Some(bytes),
                "tokenizer_config.json" => out.tokenizer_config = Some(bytes),
                n if n.ends_with(".safetensors") && !n.contains('/') => out.weights.push((origin.join(n), bytes)),
                _ => {}
            }
        }
        for (what, missing) in [
            ("config.json", out.config.is_empty()),
            ("tokenizer.json", out.tokenizer.is_empty()),
        ] {
            if missing {
                return Err(ModelError::NotFound(origin.join(what).display().to_string()));
            }
        }
        Ok(out)
    }
}
