//! hbt-tokenizer: text to token ids for hbt's encoders, on the host.
//!
//! A Hugging Face `tokenizer.json` through the `tokenizers` crate with hbt's own truncation
//! and padding ([`TextTokenizer`]); the query/passage prefixes ([`Prefixes`]); the compact
//! form of a Unigram vocabulary that an on-demand bundle ships instead of a 17 MB JSON
//! ([`pieces`]); a `tokenizer.json` cut to a kept vocabulary ([`prune`]); and packing a batch's
//! texts several to a row ([`PackedBatch`]). Nothing here touches a tensor: the encoder
//! (`hbt-model`) puts batches on a device.

pub mod error;
pub mod packing;
pub mod pieces;
pub mod prefixes;
pub mod prune;
pub mod tokenize;

pub use error::{Result, TokenizerError};
pub use packing::{PackedBatch, Span};
pub use pieces::{PIECES_FILE, Pieces, read_pieces, read_pieces_sorted, split_tokenizer};
pub use prefixes::{Prefixes, TextKind};
pub use tokenize::{TextTokenizer, TokenBatch, length_buckets};
