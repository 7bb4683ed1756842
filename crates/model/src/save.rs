//! Saving an encoder as a Hugging Face + sentence-transformers directory.

use std::path::{Path, PathBuf};

use crate::encoder::Encoder;
use crate::error::{ModelError, Result};
use crate::files::ModelFiles;
use crate::pooling::Pooling;
use crate::weights::{SaveDtype, export_tensors, to_safetensors};

#[derive(Debug, Clone, Copy)]
pub struct SaveOptions {
    pub dtype: SaveDtype,
    /// Replace an existing non-empty directory (otherwise that is an error).
    pub overwrite: bool,
}

impl Default for SaveOptions {
    fn default() -> Self {
        Self {
            dtype: SaveDtype::F32,
            overwrite: false,
        }
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    }
    std::fs::write(&p, bytes).map_err(|e| ModelError::io(&p, e))
}

fn json(v: &serde_json::Value) -> Vec<u8> {
    let mut s = serde_json::to_string_pretty(v).expect("a JSON value serializes");
    s.push('\n');
    s.into_bytes()
}

/// Fill a directory beside its final place, then rename it into place, so that a crash
/// leaves either the old directory or the complete new one. A non-empty `dir` is refused
/// unless `overwrite`.
pub fn write_dir_atomically<T, E: From<ModelError>>(
    dir: &Path,
    overwrite: bool,
    fill: impl FnOnce(&Path) -> std::result::Result<T, E>,
) -> std::result::Result<T, E> {
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir)
            .map_err(|e| ModelError::io(dir, e))?
            .next()
            .is_some();
        if non_empty && !overwrite {
            return Err(ModelError::io(
                dir,
                std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    "directory exists and is not empty (refusing to overwrite; --force replaces it)",
                ),
            )
            .into());
        }
    }
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let parent = dir
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&parent).map_err(|e| ModelError::io(&parent, e))?;
    let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
    let out = fill(&tmp)?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    }
    hbt_durable::publish_dir(&tmp, dir).map_err(|e| ModelError::io(e.path, e.source))?;
    Ok(out)
}

impl Encoder {
    /// Write the model so that both hbt and sentence-transformers open it. The directory is
    /// written beside its final place and renamed into it, so a crash leaves either the old
    /// directory or the complete new one.
    pub fn save(&self, dir: &Path, extra: &ModelFiles, options: SaveOptions) -> Result<()> {
        write_dir_atomically(dir, options.overwrite, |tmp| {
            self.write_files(tmp, extra, options.dtype)
        })
    }

    fn write_files(&self, dir: &Path, extra: &ModelFiles, dtype: SaveDtype) -> Result<()> {
        let c = &self.config;
        write(dir, "config.json", &json(&c.to_json()))?;
        write(dir, "model.safetensors", &to_safetensors(&self.bert, dtype)?)?;
        write(dir, "tokenizer.json", self.tokenizer.bytes())?;
        let tok_cfg = match &extra.tokenizer_config {
            Some(b) => b.clone(),
            None => json(&default_tokenizer_config(self)),
        };
        write(dir, "tokenizer_config.json", &tok_cfg)?;
        write(
            dir,
            "sentence_bert_config.json",
            &json(&serde_json::json!({"max_seq_length": self.tokenizer.max_len(), "do_lower_case": false})),
        )?;
        write(
            dir,
            "1_Pooling/config.json",
            &json(&self.pooling.to_st_json(c.hidden_size)),
        )?;
        let mut modules = vec![
            serde_json::json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
            serde_json::json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
        ];
        if self.pooling == Pooling::Pooler {
            // sentence-transformers has no "BERT pooler" mode; LaBSE expresses the same thing
            // as CLS pooling followed by a tanh Dense layer, so the pooler is saved that way too.
            let tensors = export_tensors(&self.bert, dtype)?;
            let w = &tensors["pooler.dense.weight"];
            let b = &tensors["pooler.dense.bias"];
            let bytes = safetensors::serialize([("linear.weight", w), ("linear.bias", b)], None)
                .map_err(|e| ModelError::Backend(e.to_string()))?;
            write(dir, "2_Dense/model.safetensors", &bytes)?;
            write(
                dir,
                "2_Dense/config.json",
                &json(&serde_json::json!({
                    "in_features": c.hidden_size, "out_features": c.hidden_size, "bias": true,
                    "activation_function": "torch.nn.modules.activation.Tanh"
                })),
            )?;
            modules.push(serde_json::json!({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}));
        }
        if self.normalize {
            let idx = modules.len();
            modules.push(serde_json::json!({"idx": idx, "name": idx.to_string(), "path": format!("{idx}_Normalize"), "type": "sentence_transformers.models.Normalize"}));
            std::fs::create_dir_all(dir.join(format!("{idx}_Normalize"))).map_err(|e| ModelError::io(dir, e))?;
        }
        write(dir, "modules.json", &json(&serde_json::Value::Array(modules)))?;
        let mut prompts = serde_json::Map::new();
        if !self.prefixes.query.is_empty() || !self.prefixes.passage.is_empty() {
            prompts.insert("query".into(), self.prefixes.query.clone().into());
            prompts.insert("passage".into(), self.prefixes.passage.clone().into());
        }
        write(
            dir,
            "config_sentence_transformers.json",
            &json(
                &serde_json::json!({"prompts": prompts, "default_prompt_name": null, "similarity_fn_name": "cosine"}),
            ),
        )?;
        write(
            dir,
            "hbt.json",
            &json(&serde_json::to_value(self.meta()).expect("metadata serializes")),
        )?;
        Ok(())
    }
}

/// Without a `tokenizer_config.json`, transformers 5 wraps an XLM-R tokenizer.json as
/// WordPiece; naming the class keeps the saved model loadable.
fn default_tokenizer_config(e: &Encoder) -> serde_json::Value {
    let tok = &e.tokenizer;
    let has = |t: &str| tok.token_to_id(t).is_some();
    if has("<s>") && has("</s>") {
        serde_json::json!({
            "tokenizer_class": "XLMRobertaTokenizer",
            "model_max_length": tok.max_len(),
            "bos_token": "<s>", "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>",
            "unk_token": "<unk>", "pad_token": "<pad>", "mask_token": "<mask>",
        })
    } else {
        serde_json::json!({
            "tokenizer_class": "BertTokenizer",
            "model_max_length": tok.max_len(),
            "do_lower_case": true,
            "cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]",
            "pad_token": "[PAD]", "mask_token": "[MASK]",
        })
    }
}
