//! Vocabulary pruning: keep only the tokens a set of texts uses.
//!
//! A multilingual encoder spends most of its weights on the word-embedding table
//! (multilingual-e5-small: 96 M of 118 M parameters for 250 k tokens). A browser bundle that
//! only ever encodes text in a few languages needs a sliver of it. Pruning keeps the rows of
//! the tokens the given texts use (plus every special token), renumbers them densely, and
//! rewrites `tokenizer.json` to the new ids, so that text whose tokens were all kept gives
//! exactly the vectors of the full model.
//!
//! Why the tokenization of kept text cannot change:
//! * WordPiece (BERT) is greedy longest-match: every piece it chose was kept and no longer
//!   piece existed before, so none exists after.
//! * Unigram (XLM-R) takes the best-scoring segmentation; the original best one is still
//!   available and every other one was available before. The one trap is its unknown-token
//!   fallback, which it adds at a position only when no single-character piece starts
//!   there: so the single-character piece of every character of the texts is kept too.
//!
//! [`PruneVocab::prune_vocab`] also checks this on the texts themselves and refuses to return a
//! model that tokenizes any of them differently.

use std::collections::BTreeSet;

use hbt_model::checkpoint::word_shards;
use hbt_model::weights::values;
use hbt_model::{Encoder, ModelError, TextKind, TextTokenizer};
use hbt_tokenizer::TokenizerError;
use hbt_tokenizer::prune::{prune_tokenizer_json, remap_table};
use serde_json::Value;

use crate::Result;

/// What pruning kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneStats {
    pub vocab_before: usize,
    pub vocab_after: usize,
    /// Word-embedding parameters before and after.
    pub params_before: usize,
    pub params_after: usize,
}

/// Vocabulary pruning, as a method of the encoder it prunes.
pub trait PruneVocab {
    /// A copy of this encoder whose vocabulary holds only what `texts` use (each with the
    /// prefix of its kind), every special token, and every id up to the padding id.
    fn prune_vocab(&self, texts: &[(&str, TextKind)]) -> Result<(Encoder, PruneStats)>;
    /// [`PruneVocab::prune_vocab`], also keeping every vocabulary piece for which
    /// `keep_piece` (given the piece as the tokenizer spells it, `▁` included) says so.
    fn prune_vocab_keeping(
        &self,
        texts: &[(&str, TextKind)],
        keep_piece: &dyn Fn(&str) -> bool,
    ) -> Result<(Encoder, PruneStats)>;
}

impl PruneVocab for Encoder {
    /// A copy of this encoder whose vocabulary holds only what `texts` use (each with the
    /// prefix of its kind), every special token, and every id up to the padding id.
    fn prune_vocab(&self, texts: &[(&str, TextKind)]) -> Result<(Encoder, PruneStats)> {
        self.prune_vocab_keeping(texts, &|_| false)
    }

    /// [`PruneVocab::prune_vocab`], also keeping every vocabulary piece for which `keep_piece`
    /// (given the piece as the tokenizer spells it, `▁` included) says so: whole classes of
    /// pieces that no finite list of texts covers, such as numbers.
    // long: the steps share the kept-id map and check one another (tokenizer remapped, table
    // sliced, every text re-tokenized to the same pieces); apart, each would need all of it.
    fn prune_vocab_keeping(
        &self,
        texts: &[(&str, TextKind)],
        keep_piece: &dyn Fn(&str) -> bool,
    ) -> Result<(Encoder, PruneStats)> {
        if texts.is_empty() {
            return Err(ModelError::Input("vocabulary pruning needs at least one text".into()));
        }
        let origin = std::path::PathBuf::from("tokenizer.json");
        let tok_json: Value = serde_json::from_slice(self.tokenizer.bytes()).map_err(|source| ModelError::Json {
            path: origin.clone(),
            source,
        })?;
        let mut keep: BTreeSet<u32> = (0..=self.config.pad_token_id).collect();
        for t in tok_json["added_tokens"].as_array().into_iter().flatten() {
            if let Some(id) = t["id"].as_u64() {
                keep.insert(id as u32);
            }
        }
        if let Some(u) = tok_json["model"]["unk_id"].as_u64() {
            keep.insert(u as u32);
        }
        if let Some(u) = tok_json["model"]["unk_token"]
            .as_str()
            .and_then(|t| self.tokenizer.token_to_id(t))
        {
            keep.insert(u);
        }
        let mut full_ids: Vec<Vec<u32>> = Vec::with_capacity(texts.len());
        let mut chars = BTreeSet::new();
        for (text, kind) in texts {
            let b = self.tokenize(&[text], *kind)?;
            let ids = b.row_ids(0).to_vec();
            keep.extend(ids.iter().copied());
            full_ids.push(ids);
            chars.extend(self.prefixes.apply(*kind, text).chars());
        }
        // Single-character pieces (bare and word-initial) keep Unigram's unknown fallback
        // from appearing where it did not before (see the module docs).
        for c in chars {
            for piece in [c.to_string(), format!("\u{2581}{c}")] {
                if let Some(id) = self.tokenizer.token_to_id(&piece) {
                    keep.insert(id);
                }
            }
        }
        for (piece, id) in self.tokenizer.inner().get_vocab(false) {
            if keep_piece(&piece) {
                keep.insert(id);
            }
        }
        if let Some(&max) = keep.iter().next_back()
            && max as usize >= self.config.vocab_size
        {
            return Err(ModelError::Mismatch {
                path: origin,
                message: format!(
                    "token id {max} is outside the model's vocabulary of {}",
                    self.config.vocab_size
                ),
            });
        }
        let new_tok = prune_tokenizer_json(self.tokenizer.bytes(), &keep, &origin)?;
        let mut tokenizer = TextTokenizer::new(new_tok, &origin, self.tokenizer.max_len(), self.config.pad_token_id)?;
        tokenizer.pad_multiple = self.tokenizer.pad_multiple;
        tokenizer.id_limit = u32::try_from(keep.len()).ok();

        if self.bert.is_int8() || self.bert.embeddings.word_int8.is_some() {
            return Err(ModelError::Input(
                "this encoder was loaded for int8 inference: load it in f32 to prune its vocabulary".into(),
            ));
        }
        let h = self.config.hidden_size;
        let mut table = Vec::with_capacity(self.config.vocab_size * h);
        for shard in &self.bert.embeddings.word {
            table.extend(values(shard.weight.val())?);
        }
        let mut pruned = Vec::with_capacity(keep.len() * h);
        for &id in &keep {
            pruned.extend_from_slice(&table[id as usize * h..(id as usize + 1) * h]);
        }
        let mut bert = self.bert.clone();
        bert.embeddings.word = word_shards(pruned, h, &self.device);
        let mut config = self.config.clone();
        config.vocab_size = keep.len();
        let out = Encoder {
            bert,
            config,
            tokenizer,
            pooling: self.pooling,
            normalize: self.normalize,
            prefixes: self.prefixes.clone(),
            device: self.device.clone(),
            precision: self.precision,
            batch_size: self.batch_size,
            notes: self.notes.clone(),
        };

        let map = remap_table(&keep);
        for ((text, kind), old) in texts.iter().zip(&full_ids) {
            let b = out.tokenize(&[text], *kind)?;
            let want: Vec<u32> = old.iter().map(|i| map[i]).collect();
            if b.row_ids(0) != want.as_slice() {
                return Err(ModelError::from(TokenizerError::Tokenizer {
                    path: origin,
                    message: format!("pruning changed how this text is tokenized: {text:?}"),
                }));
            }
        }
        let stats = PruneStats {
            vocab_before: self.config.vocab_size,
            vocab_after: keep.len(),
            params_before: self.config.vocab_size * h,
            params_after: keep.len() * h,
        };
        Ok((out, stats))
    }
}
