//! [Unigram](https://arxiv.org/abs/1804.10959) model.
mod lattice;
mod model;
mod serialization;
// hbt's patch: pieces stored in sorted order (see sorted.rs).
mod sorted;
mod trainer;
mod trie;

pub use lattice::*;
pub use model::*;
pub use sorted::{SortedPieces, SortedPiecesError};
pub use trainer::*;
