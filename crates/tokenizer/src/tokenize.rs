//! Tokenization with the `tokenizers` crate, with hbt's own truncation and padding.
//!
//! A `tokenizer.json` may carry padding and truncation settings from whoever saved it; they
//! are cleared here so that the max length is always the model's (see
//! [`TextTokenizer::new`]) and batches are padded to their own longest text.

use std::path::{Path, PathBuf};

use tokenizers::models::unigram::Unigram;
use tokenizers::{AddedToken, Model, Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::pieces::Pieces;

use crate::error::{Result, TokenizerError};

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

    /// The texts `rows` (in that order) as a batch of their own, padded only to their
    /// longest, rounded up to `pad_multiple` (never past this batch's length).
    pub fn select(&self, rows: &[usize], pad_multiple: usize) -> TokenBatch {
        let longest = rows.iter().map(|&r| self.lengths[r]).max().unwrap_or(0);
        let seq = longest.next_multiple_of(pad_multiple.max(1)).clamp(1, self.seq.max(1));
        let mut out = TokenBatch {
            batch: rows.len(),
            seq,
            ids: Vec::with_capacity(rows.len() * seq),
            mask: Vec::with_capacity(rows.len() * seq),
            lengths: Vec::with_capacity(rows.len()),
            truncated: Vec::with_capacity(rows.len()),
        };
        for &r in rows {
            let at = r * self.seq;
            out.ids.extend_from_slice(&self.ids[at..at + seq]);
            out.mask.extend_from_slice(&self.mask[at..at + seq]);
            out.lengths.push(self.lengths[r]);
            out.truncated.push(self.truncated[r]);
        }
        out
    }

    /// Token slots a forward pass computes (`batch × seq`) and the real tokens among them.
    pub fn slots(&self) -> (usize, usize) {
        (self.batch * self.seq, self.lengths.iter().sum())
    }
}

/// How a batch of texts is split into groups of similar length, each padded only to its own
/// longest text, so that no FLOP is spent on most of the padding: texts sorted longest
/// first, cut into consecutive groups that minimise the work — each group's token slots
/// (`texts × padded length`, with attention's `length²` share) plus a fixed cost per forward
/// pass (`pass_tokens`: what one more pass costs, in token slots; a few on the CPU, many on
/// a GPU, where each pass launches hundreds of kernels and each new shape compiles them).
/// Returns the groups' row indices; one group holding every row in order when splitting
/// does not pay.
pub fn length_buckets(
    lengths: &[usize],
    pad_multiple: usize,
    attention_share: f64,
    pass_tokens: f64,
) -> Vec<Vec<usize>> {
    let n = lengths.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let padded = |l: usize| l.max(1).next_multiple_of(pad_multiple.max(1)) as f64;
    // Work of texts order[a..b] in one pass: they pad to order[a]'s length.
    let work = |a: usize, b: usize| {
        let l = padded(lengths[order[a]]);
        (b - a) as f64 * l * (1.0 + attention_share * l) + pass_tokens
    };
    // best[b]: least work for order[..b]; cut[b]: where its last group starts.
    let mut best = vec![0f64; n + 1];
    let mut cut = vec![0usize; n + 1];
    for b in 1..=n {
        best[b] = f64::INFINITY;
        for a in 0..b {
            let w = best[a] + work(a, b);
            if w < best[b] {
                best[b] = w;
                cut[b] = a;
            }
        }
    }
    let mut groups = Vec::new();
    let mut b = n;
    while b > 0 {
        groups.push(order[cut[b]..b].to_vec());
        b = cut[b];
    }
    groups.reverse();
    if groups.len() <= 1 {
        return vec![(0..n).collect()];
    }
    groups
}

/// hbt's truncation: the model's max length, longest text first, from the right.
fn truncation(max_len: usize) -> TruncationParams {
    TruncationParams {
        max_length: max_len,
        strategy: TruncationStrategy::LongestFirst,
        stride: 0,
        direction: TruncationDirection::Right,
    }
}

#[derive(Clone)]
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
        let err = |message: String| TokenizerError::Tokenizer {
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
            .with_truncation(Some(truncation(max_len)))
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

    /// A Unigram tokenizer from a skeleton `tokenizer.json` (its normalizer, pre-tokenizer,
    /// post-processor and added tokens; the vocabulary cut short) and the full vocabulary
    /// from a pieces file ([`crate::pieces`]): the model the full file describes, built
    /// without parsing 250,000 JSON entries.
    pub fn with_pieces(
        skeleton: Vec<u8>,
        pieces: &[u8],
        origin: &Path,
        pieces_origin: &Path,
        max_len: usize,
        pad_id: u32,
    ) -> Result<Self> {
        let err = |path: &Path, message: String| TokenizerError::Tokenizer {
            path: path.to_path_buf(),
            message,
        };
        let mut v: serde_json::Value =
            serde_json::from_slice(&skeleton).map_err(|e| err(origin, format!("not valid JSON: {e}")))?;
        let model = &v["model"];
        if model["type"].as_str() != Some("Unigram") {
            return Err(err(origin, "a pieces file goes with a Unigram tokenizer.json".into()));
        }
        let unk = model["unk_id"].as_u64().map(|u| u as usize);
        let byte_fallback = model["byte_fallback"].as_bool().unwrap_or(false);
        let read = crate::pieces::read_pieces_sorted(pieces, pieces_origin)?;
        let unigram = match read {
            Pieces::Sorted(sorted, scores) => Unigram::from_sorted(sorted, scores, unk, byte_fallback),
            Pieces::List(vocab) => Unigram::from(vocab, unk, byte_fallback),
        }
        .map_err(|e| err(pieces_origin, format!("cannot build the Unigram model: {e}")))?;
        // The skeleton's pieces are the first of the full list: a pieces file of another
        // vocabulary is caught here rather than as odd vectors.
        let head = model["vocab"].as_array().map(Vec::as_slice).unwrap_or(&[]);
        for (i, e) in head.iter().enumerate() {
            if unigram.id_to_token(i as u32).as_deref() != e.get(0).and_then(|p| p.as_str()) {
                return Err(err(
                    pieces_origin,
                    format!("piece {i} differs from tokenizer.json's: the two files are of different vocabularies"),
                ));
            }
        }
        // Added tokens take their ids from the model they are added to: parsed with the
        // skeleton's few pieces, XLM-R's `<mask>` (piece 250,001) would get id 4. So the
        // skeleton is parsed without them, and they are added to the full model.
        let added = v
            .get_mut("added_tokens")
            .map(|a| std::mem::replace(a, serde_json::Value::Array(Vec::new())))
            .unwrap_or_default();
        let added: Vec<(AddedToken, Option<u64>)> = added
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .map(|a| {
                let flag = |k: &str, default: bool| a[k].as_bool().unwrap_or(default);
                let content = a["content"].as_str().unwrap_or("").to_string();
                let special = flag("special", false);
                let token = AddedToken::from(content, special)
                    .single_word(flag("single_word", false))
                    .lstrip(flag("lstrip", false))
                    .rstrip(flag("rstrip", false))
                    .normalized(flag("normalized", !special));
                (token, a["id"].as_u64())
            })
            .collect();
        let without = serde_json::to_vec(&v).expect("JSON serializes");
        let mut t = Self::new(without, origin, max_len, pad_id)?;
        t.bytes = skeleton;
        t.inner.with_model(unigram);
        let tokens: Vec<AddedToken> = added.iter().map(|(a, _)| a.clone()).collect();
        t.inner.add_tokens(&tokens);
        for (a, id) in &added {
            let got = t.inner.token_to_id(&a.content);
            if let Some(id) = id
                && got != Some(*id as u32)
            {
                return Err(err(
                    pieces_origin,
                    format!(
                        "added token {:?} has id {id} in tokenizer.json but {got:?} in the pieces' vocabulary: the two files are of different vocabularies",
                        a.content
                    ),
                ));
            }
        }
        Ok(t)
    }

    /// The same tokenizer with a shorter max length (never longer than the model allows).
    pub fn with_max_len(&self, max_len: usize) -> Result<Self> {
        let max_len = max_len.min(self.max_len);
        if max_len < 2 {
            return Err(TokenizerError::Tokenizer {
                path: self.origin.clone(),
                message: format!("max length {max_len} leaves no room for special tokens"),
            });
        }
        let mut inner = self.inner.clone();
        inner
            .with_truncation(Some(truncation(max_len)))
            .map_err(|e| TokenizerError::Tokenizer {
                path: self.origin.clone(),
                message: format!("cannot set truncation: {e}"),
            })?;
        Ok(Self {
            inner,
            bytes: self.bytes.clone(),
            max_len,
            pad_id: self.pad_id,
            pad_multiple: self.pad_multiple,
            id_limit: self.id_limit,
            origin: self.origin.clone(),
        })
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
            return Err(TokenizerError::Input(
                "no texts to encode (the text list is empty)".into(),
            ));
        }
        let encodings = without_panics(|| self.inner.encode_batch(texts.to_vec(), true))
            .map_err(|p| TokenizerError::Tokenizer {
                path: self.origin.clone(),
                message: format!("encoding failed (the tokenizers library gave up: {p})"),
            })?
            .map_err(|e| TokenizerError::Tokenizer {
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
                return Err(TokenizerError::Tokenizer {
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

#[cfg(test)]
mod bucket_tests {
    use super::*;

    fn slots(groups: &[Vec<usize>], lengths: &[usize], m: usize) -> usize {
        groups
            .iter()
            .map(|g| g.len() * g.iter().map(|&i| lengths[i]).max().unwrap().next_multiple_of(m))
            .sum()
    }

    #[test]
    fn groups_cover_every_text_once_and_never_cost_more_than_one_batch() {
        let lengths = [9, 40, 12, 13, 64, 7, 33, 8, 50, 10, 11, 9];
        for pass in [0.0, 16.0, 200.0] {
            let g = length_buckets(&lengths, 8, 4e-4, pass);
            let mut all: Vec<usize> = g.concat();
            all.sort_unstable();
            assert_eq!(all, (0..lengths.len()).collect::<Vec<_>>(), "pass {pass}");
            let one = lengths.len() * 64;
            assert!(slots(&g, &lengths, 8) as f64 + pass * g.len() as f64 <= one as f64 + pass);
        }
        // Free passes: every padded length its own group, so nothing but rounding is padding.
        let g = length_buckets(&lengths, 8, 0.0, 0.0);
        let real: usize = lengths.iter().map(|l| l.next_multiple_of(8)).sum();
        assert_eq!(slots(&g, &lengths, 8), real);
        // Dear passes (a GPU's kernel launches): one batch, in the caller's order.
        assert_eq!(
            length_buckets(&lengths, 8, 0.0, 1e9),
            vec![(0..lengths.len()).collect::<Vec<_>>()]
        );
        assert_eq!(length_buckets(&[], 8, 0.0, 16.0), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn a_selected_group_keeps_its_texts_and_pads_less() {
        let b = TokenBatch {
            batch: 3,
            seq: 8,
            ids: vec![5, 6, 7, 8, 9, 10, 0, 0, 5, 6, 0, 0, 0, 0, 0, 0, 5, 6, 7, 0, 0, 0, 0, 0],
            mask: vec![1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0],
            lengths: vec![6, 2, 3],
            truncated: vec![false, false, true],
        };
        let s = b.select(&[2, 1], 4);
        assert_eq!((s.batch, s.seq), (2, 4));
        assert_eq!(s.ids, vec![5, 6, 7, 0, 5, 6, 0, 0]);
        assert_eq!(s.mask, vec![1, 1, 1, 0, 1, 1, 0, 0]);
        assert_eq!(
            (s.lengths.clone(), s.truncated.clone()),
            (vec![3, 2], vec![true, false])
        );
        assert_eq!(s.row_ids(0), b.row_ids(2));
        assert_eq!(b.select(&[0], 32).seq, 8, "never longer than the batch");
    }
}
