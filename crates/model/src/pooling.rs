//! Sentence pooling, as sentence-transformers' `1_Pooling/config.json` describes it.

use std::path::Path;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Mean over real (non-padding) tokens.
    Mean,
    /// The first token's state.
    Cls,
    /// BERT's pooler: dense + tanh over the CLS state (LaBSE's sentence vector).
    Pooler,
}

impl std::str::FromStr for Pooling {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "mean" => Ok(Self::Mean),
            "cls" => Ok(Self::Cls),
            "pooler" => Ok(Self::Pooler),
            o => Err(format!("unknown pooling `{o}` (mean, cls, pooler)")),
        }
    }
}

impl std::fmt::Display for Pooling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Mean => "mean",
            Self::Cls => "cls",
            Self::Pooler => "pooler",
        })
    }
}

#[derive(Deserialize)]
struct StPooling {
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

impl Pooling {
    /// Read sentence-transformers' pooling config.
    pub fn from_st_bytes(bytes: &[u8], origin: &Path) -> Result<Self> {
        let c: StPooling = serde_json::from_slice(bytes).map_err(|source| ModelError::Json {
            path: origin.to_path_buf(),
            source,
        })?;
        if c.pooling_mode_max_tokens || c.pooling_mode_mean_sqrt_len_tokens {
            return Err(ModelError::config(
                origin,
                "max and mean-sqrt-len pooling are not supported (mean or cls)",
            ));
        }
        match (c.pooling_mode_mean_tokens, c.pooling_mode_cls_token) {
            (true, false) => Ok(Self::Mean),
            (false, true) => Ok(Self::Cls),
            (true, true) => Err(ModelError::config(
                origin,
                "several pooling modes at once are not supported",
            )),
            (false, false) => Err(ModelError::config(origin, "no pooling mode is enabled")),
        }
    }

    /// The `1_Pooling/config.json` written on save (the pooler is saved as CLS: the dense
    /// layer travels in the weights, and hbt reads it back from `hbt.json`).
    pub fn to_st_json(self, hidden: usize) -> serde_json::Value {
        serde_json::json!({
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": self != Self::Mean,
            "pooling_mode_mean_tokens": self == Self::Mean,
            "pooling_mode_max_tokens": false,
            "pooling_mode_mean_sqrt_len_tokens": false,
            "pooling_mode_weightedmean_tokens": false,
            "pooling_mode_lasttoken": false,
            "include_prompt": true
        })
    }
}

/// Pool token states `[batch, seq, hidden]` into sentence vectors `[batch, hidden]`.
pub fn pool(states: Tensor<3>, mask: Tensor<2>, pooling: Pooling, pooled: Option<Tensor<2>>) -> Tensor<2> {
    let [b, t, h] = states.dims();
    match pooling {
        Pooling::Mean => {
            let m = mask.reshape([b, t, 1]);
            let sum = (states * m.clone()).sum_dim(1).reshape([b, h]);
            let count = m.sum_dim(1).reshape([b, 1]).clamp_min(1e-9);
            sum / count
        }
        Pooling::Cls => states.slice(s![.., 0..1, ..]).reshape([b, h]),
        Pooling::Pooler => pooled.expect("the pooler is checked at load time"),
    }
}

/// L2-normalise rows; the epsilon keeps an all-zero vector at zero instead of NaN.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}
