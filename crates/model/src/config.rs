//! The encoder configuration, read straight from a Hugging Face `config.json`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

/// The architectures hbt implements. Both are post-LN BERT encoders; they differ in how
/// position ids are assigned (see [`EncoderConfig::position_ids`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// `model_type: "bert"`: LaBSE, multilingual-e5, MiniLM, mBERT.
    Bert,
    /// `model_type: "xlm-roberta"`: positions start at `pad_token_id + 1` and skip padding.
    XlmRoberta,
}

impl Architecture {
    /// The prefix Hugging Face puts before weight names in a headed checkpoint.
    pub fn weight_prefix(self) -> &'static str {
        match self {
            Architecture::Bert => "bert.",
            Architecture::XlmRoberta => "roberta.",
        }
    }
    pub fn model_type(self) -> &'static str {
        match self {
            Architecture::Bert => "bert",
            Architecture::XlmRoberta => "xlm-roberta",
        }
    }
}

/// The subset of `config.json` the forward pass depends on, validated.
///
/// `raw` keeps the file as it was read so that saving a model writes back every field,
/// including the ones hbt does not interpret.
#[derive(Debug, Clone)]
pub struct EncoderConfig {
    pub architecture: Architecture,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pad_token_id: u32,
    pub raw: serde_json::Value,
}

#[derive(Deserialize)]
struct RawConfig {
    model_type: Option<String>,
    vocab_size: Option<usize>,
    hidden_size: Option<usize>,
    num_hidden_layers: Option<usize>,
    num_attention_heads: Option<usize>,
    intermediate_size: Option<usize>,
    hidden_act: Option<String>,
    max_position_embeddings: Option<usize>,
    type_vocab_size: Option<usize>,
    layer_norm_eps: Option<f64>,
    pad_token_id: Option<u32>,
    position_embedding_type: Option<String>,
    is_decoder: Option<bool>,
}

impl EncoderConfig {
    /// Read and validate `config.json` from a file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Validate a `config.json` given as bytes; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        let raw: serde_json::Value = serde_json::from_slice(bytes).map_err(|source| ModelError::Json {
            path: origin.to_path_buf(),
            source,
        })?;
        let c: RawConfig = serde_json::from_value(raw.clone()).map_err(|source| ModelError::Json {
            path: origin.to_path_buf(),
            source,
        })?;
        let err = |m: String| ModelError::config(origin, m);
        let architecture = match c.model_type.as_deref() {
            Some("bert") => Architecture::Bert,
            Some("xlm-roberta") | Some("roberta") => Architecture::XlmRoberta,
            Some(other) => {
                return Err(err(format!(
                    "model_type \"{other}\" is not supported (hbt implements \"bert\" and \"xlm-roberta\")"
                )));
            }
            None => return Err(err("missing \"model_type\"".into())),
        };
        let need = |v: Option<usize>, name: &str| -> Result<usize> {
            match v {
                Some(0) => Err(err(format!("\"{name}\" must be positive"))),
                Some(v) => Ok(v),
                None => Err(err(format!("missing \"{name}\""))),
            }
        };
        let act = c.hidden_act.as_deref().unwrap_or("gelu");
        if act != "gelu" {
            return Err(err(format!(
                "hidden_act \"{act}\" is not supported (hbt implements the exact erf GELU, \"gelu\")"
            )));
        }
        if let Some(p) = c.position_embedding_type.as_deref()
            && p != "absolute"
        {
            return Err(err(format!(
                "position_embedding_type \"{p}\" is not supported (only \"absolute\")"
            )));
        }
        if c.is_decoder == Some(true) {
            return Err(err("is_decoder: true; hbt loads encoders only".into()));
        }
        let hidden_size = need(c.hidden_size, "hidden_size")?;
        let num_attention_heads = need(c.num_attention_heads, "num_attention_heads")?;
        if hidden_size % num_attention_heads != 0 {
            return Err(err(format!(
                "hidden_size {hidden_size} is not divisible by num_attention_heads {num_attention_heads}"
            )));
        }
        let type_vocab_size = c.type_vocab_size.unwrap_or(match architecture {
            Architecture::Bert => 2,
            Architecture::XlmRoberta => 1,
        });
        let pad_token_id = c.pad_token_id.unwrap_or(match architecture {
            Architecture::Bert => 0,
            Architecture::XlmRoberta => 1,
        });
        let cfg = Self {
            architecture,
            vocab_size: need(c.vocab_size, "vocab_size")?,
            hidden_size,
            num_hidden_layers: need(c.num_hidden_layers, "num_hidden_layers")?,
            num_attention_heads,
            intermediate_size: need(c.intermediate_size, "intermediate_size")?,
            max_position_embeddings: need(c.max_position_embeddings, "max_position_embeddings")?,
            type_vocab_size: type_vocab_size.max(1),
            layer_norm_eps: c.layer_norm_eps.unwrap_or(1e-12),
            pad_token_id,
            raw,
        };
        if cfg.max_sequence_length() == 0 {
            return Err(err(format!(
                "max_position_embeddings {} leaves no room for tokens after the XLM-R position offset",
                cfg.max_position_embeddings
            )));
        }
        Ok(cfg)
    }

    /// The longest input the position table allows. XLM-R spends `pad_token_id + 1` rows of
    /// its table before the first real position (514 rows give 512 tokens).
    pub fn max_sequence_length(&self) -> usize {
        match self.architecture {
            Architecture::Bert => self.max_position_embeddings,
            Architecture::XlmRoberta => self
                .max_position_embeddings
                .saturating_sub(self.pad_token_id as usize + 1),
        }
    }

    /// Position ids for one row of a padded batch, given its attention mask.
    ///
    /// BERT counts 0, 1, 2 … for every slot. XLM-R (fairseq's `make_positions`) counts only
    /// real tokens, starting at `pad_token_id + 1`, and gives padding `pad_token_id`.
    pub fn position_ids(&self, mask: &[u32]) -> Vec<i64> {
        match self.architecture {
            Architecture::Bert => (0..mask.len() as i64).collect(),
            Architecture::XlmRoberta => {
                let pad = self.pad_token_id as i64;
                let mut seen = 0i64;
                mask.iter()
                    .map(|&m| {
                        if m == 0 {
                            pad
                        } else {
                            seen += 1;
                            pad + seen
                        }
                    })
                    .collect()
            }
        }
    }

    /// Parameter count implied by the config (the pooler included when `with_pooler`).
    pub fn parameter_count(&self, with_pooler: bool) -> usize {
        let h = self.hidden_size;
        let i = self.intermediate_size;
        let emb = (self.vocab_size + self.max_position_embeddings + self.type_vocab_size) * h + 2 * h;
        let layer = 4 * (h * h + h) + 2 * h + (h * i + i) + (i * h + h) + 2 * h + 2 * h;
        emb + self.num_hidden_layers * layer + if with_pooler { h * h + h } else { 0 }
    }

    /// The JSON written back on save: the original file with sizes that may have changed
    /// (a pruned vocabulary) brought up to date.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = self.raw.clone();
        if let Some(o) = v.as_object_mut() {
            o.insert("vocab_size".into(), self.vocab_size.into());
            o.insert("model_type".into(), self.architecture.model_type().into());
        }
        v
    }

    /// A config built in code (tests, tiny models), in the same shape as one read from disk.
    #[allow(clippy::too_many_arguments)]
    pub fn new_for_test(
        architecture: Architecture,
        vocab_size: usize,
        hidden_size: usize,
        num_hidden_layers: usize,
        num_attention_heads: usize,
        intermediate_size: usize,
        max_position_embeddings: usize,
        pad_token_id: u32,
    ) -> Self {
        let type_vocab_size = if architecture == Architecture::Bert { 2 } else { 1 };
        let raw = serde_json::json!({
            "model_type": architecture.model_type(),
            "architectures": [if architecture == Architecture::Bert { "BertModel" } else { "XLMRobertaModel" }],
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "num_hidden_layers": num_hidden_layers,
            "num_attention_heads": num_attention_heads,
            "intermediate_size": intermediate_size,
            "hidden_act": "gelu",
            "max_position_embeddings": max_position_embeddings,
            "type_vocab_size": type_vocab_size,
            "layer_norm_eps": 1e-12,
            "pad_token_id": pad_token_id,
            "position_embedding_type": "absolute",
        });
        Self::from_bytes(raw.to_string().as_bytes(), &PathBuf::from("<test config>")).expect("a test config is valid")
    }
}
