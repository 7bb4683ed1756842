//! Tokenization with the `tokenizers` crate, with hbt's own truncation and padding.
//!
//! A `tokenizer.json` may carry padding and truncation settings from whoever saved it; they
//! are cleared here so that the max length is always the model's (see
//! [`TextTokenizer::new`]) and batches are padded to their own longest text.

use std::path::{Path, PathBuf};

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::error::{ModelError, Result};

/// Runs `f`, turning a panic into `Err(message)` without printing it. The `tokenizers`
/// crate panics on some malformed files (an unknown `decoder` is an `expect`); a user's
/// file must give an error, not a crash. Other threads' panics still print.
#[cfg(not(target_arch = "wasm32"))]
fn without_panics<R>(f: impl FnOnce() -> R + std::panic::UnwindSafe) -> std::result::Result<R, String> {
    use std::cell::Cell;
    thread_local!(static QUIET: Cell<bool> = const { Cell::new(false) });
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info)
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let r = std::panic::catch_unwind(f);
    QUIET.with(|q| q.set(false));
    r.map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into())
    })
}

/// In the browser panics abort; the JSON pre-check in [`TextTokenizer::new`] is what guards.
#[cfg(target_arch = "wasm32")]
fn without_panics<R>(f: impl FnOnce() -> R) -> std::result::Result<R, String> {
    Ok(f())
}

/// A tokenized, padded batch on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    pub batch: usize,
    pub seq: usize,
    /// Row-major `[batch, seq]`, padding filled with the pad id.
    pub ids: Vec<u32>,
    /// 1 for real tokens, 0 for padding.
    pub mask: Vec<u32>,
    /// Real tokens per text (after truncation).
    pub lengths: Vec<usize>,
    /// Whether each text was cut to the max length.
    pub truncated: Vec<bool>,
}

impl TokenBatch {
    pub fn row_ids(&self, i: usize) -> &[u32] {
        &self.ids[i * self.seq..i * self.seq + self.lengths[i]]
    }
}

pub struct TextTokenizer {
    inner: Tokenizer,
    bytes: Vec<u8>,
    max_len: usize,
    pad_id: u32,
    /// Pad the sequence length up to a multiple of this (GPU kernels are compiled per
    /// shape; bucketing keeps the number of shapes small).
    pub pad_multiple: usize,
    /// Ids must stay below this (the model's embedding rows): a tokenizer.json whose
    /// post-processor or added tokens name larger ids would read past the table.
    pub id_limit: Option<u32>,
    origin: PathBuf,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("origin", &self.origin)
            .field("max_len", &self.max_len)
            .field("vocab", &self.vocab_size())
            .finish()
    }
}

impl TextTokenizer {
    /// `max_len` counts special tokens, as sentence-transformers' `max_seq_length` does.
    pub fn new(bytes: Vec<u8>, origin: &Path, max_len: usize, pad_id: u32) -> Result<Self> {
        let err = |message: String| ModelError::Tokenizer {
            path: origin.to_path_buf(),
            message,
        };
        // Plain JSON first: a syntax error gets serde's line and column, and never reaches
        // the tokenizers crate's panicking paths.
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let mut inner = without_panics(|| Tokenizer::from_bytes(&bytes))
            .map_err(|p| err(format!("cannot parse (the tokenizers library gave up: {p})")))?
            .map_err(|e| err(format!("cannot parse: {e}")))?;
        if max_len < 2 {
            return Err(err(format!("max length {max_len} leaves no room for special tokens")));
        }
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| err(format!("cannot set truncation: {e}")))?;
        // Some malformed files parse but panic on first use (a template naming a special
        // token it does not define): one probe text, after the file's own padding and
        // truncation are replaced by ours, finds them here as an error.
        let probe = without_panics(|| inner.encode("hbt probe", true).map(|_| ()))
            .map_err(|p| err(format!("cannot encode with it (the tokenizers library gave up: {p})")))?;
        probe.map_err(|e| err(format!("cannot encode with it: {e}")))?;
        Ok(Self {
            inner,
            bytes,
            max_len,
            pad_id,
            pad_multiple: 1,
            id_limit: None,
            origin: origin.to_path_buf(),
        })
    }

    /// The same tokenizer with a shorter max length (never longer than the model allows).
    pub fn with_max_len(&self, max_len: usize) -> Result<Self> {
        let mut t = Self::new(self.bytes.clone(), &self.origin, max_len.min(self.max_len), self.pad_id)?;
        t.pad_multiple = self.pad_multiple;
        t.id_limit = self.id_limit;
        Ok(t)
    }

    pub fn max_len(&self) -> usize {
        self.max_len
    }
    pub fn vocab_size(&self) -> usize {
        self.vocab_extent().0
    }
    /// Distinct ids and the largest the tokenizer can emit (ids need not be contiguous). The tokenizers crate answers both by building a map of
    /// every token (88,088 strings for the demo bundle, a noticeable share of a browser's
    /// model load), but a Unigram model's ids are its rows `0..n`: only added tokens can
    /// lie outside them.
    pub fn vocab_extent(&self) -> (usize, Option<u32>) {
        if let tokenizers::ModelWrapper::Unigram(u) = self.inner.get_model() {
            let n = tokenizers::Model::get_vocab_size(u);
            let mut extra: Vec<u32> = self
                .inner
                .get_added_tokens_decoder()
                .into_keys()
                .filter(|&id| id as usize >= n)
                .collect();
            extra.sort_unstable();
            extra.dedup();
            let top = extra.last().copied().or_else(|| n.checked_sub(1).map(|m| m as u32));
            return (n + extra.len(), top);
        }
        let vocab = self.inner.get_vocab(true);
        (vocab.len(), vocab.into_values().max())
    }
    /// The `tokenizer.json` bytes as loaded (saved back unchanged).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    /// Tokenize and pad a batch. An empty list is an error: callers that may have nothing
    /// to encode should check first.
    pub fn encode(&self, texts: &[&str]) -> Result<TokenBatch> {
        if texts.is_empty() {
            return Err(ModelError::Input("no texts to encode (the text list is empty)".into()));
        }
        let encodings = without_panics(|| self.inner.encode_batch(texts.to_vec(), true))
            .map_err(|p| ModelError::Tokenizer {
                path: self.origin.clone(),
                message: format!("encoding failed (the tokenizers library gave up: {p})"),
            })?
            .map_err(|e| ModelError::Tokenizer {
                path: self.origin.clone(),
                message: format!("encoding failed: {e}"),
            })?;
        let longest = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0).max(1);
        let m = self.pad_multiple.max(1);
        let seq = (longest.div_ceil(m) * m).min(self.max_len.max(longest));
        let batch = texts.len();
        let mut ids = vec![self.pad_id; batch * seq];
        let mut mask = vec![0u32; batch * seq];
        let mut lengths = Vec::with_capacity(batch);
        let mut truncated = Vec::with_capacity(batch);
        for (i, e) in encodings.iter().enumerate() {
            if let Some(limit) = self.id_limit
                && let Some(&bad) = e.get_ids().iter().find(|&&id| id >= limit)
            {
                return Err(ModelError::Tokenizer {
                    path: self.origin.clone(),
                    message: format!(
                        "produced token id {bad}, but the model has {limit} embedding rows (an added token or the post_processor names an id outside the vocabulary)"
                    ),
                });
            }
            let n = e.get_ids().len();
            ids[i * seq..i * seq + n].copy_from_slice(e.get_ids());
            mask[i * seq..i * seq + n].fill(1);
            lengths.push(n);
            truncated.push(!e.get_overflowing().is_empty());
        }
        Ok(TokenBatch {
            batch,
            seq,
            ids,
            mask,
            lengths,
            truncated,
        })
    }

    /// As [`TextTokenizer::encode`], padded to at least `min_seq` tokens: a data-parallel
    /// rank pads its share of a batch as the whole batch pads, so that every text is
    /// computed exactly as on one device.
    pub fn encode_padded(&self, texts: &[&str], min_seq: usize) -> Result<TokenBatch> {
        let b = self.encode(texts)?;
        if b.seq >= min_seq {
            return Ok(b);
        }
        let seq = min_seq;
        let mut ids = vec![self.pad_id; b.batch * seq];
        let mut mask = vec![0u32; b.batch * seq];
        for i in 0..b.batch {
            ids[i * seq..i * seq + b.seq].copy_from_slice(&b.ids[i * b.seq..(i + 1) * b.seq]);
            mask[i * seq..i * seq + b.seq].copy_from_slice(&b.mask[i * b.seq..(i + 1) * b.seq]);
        }
        Ok(TokenBatch { seq, ids, mask, ..b })
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}
