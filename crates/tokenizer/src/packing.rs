//! Packing a batch's texts several to a row, so that a forward pass computes almost no
//! padding: each text keeps its own position ids, attends only to itself (a block-diagonal
//! mask) and is pooled on its own. `hbt_model::Encoder::to_device_packed` puts a packed batch
//! on the device; the trainer embeds each side of a batch this way by default.

use crate::tokenize::TokenBatch;

/// Where a text lies in a [`PackedBatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub row: usize,
    pub start: usize,
    pub len: usize,
}

/// A batch's texts packed several to a row, so that a forward pass computes almost no
/// padding: each text keeps its own position ids, attends only to itself (a block-diagonal
/// mask) and is pooled on its own (`hbt_model::Encoder::to_device_packed`).
#[derive(Debug, Clone, PartialEq)]
pub struct PackedBatch {
    /// `rows × row length`; `lengths` are the real tokens per row.
    pub tokens: TokenBatch,
    /// Each text's place, in the original batch's order.
    pub spans: Vec<Span>,
    /// The most texts any row holds.
    pub per_row: usize,
}

impl TokenBatch {
    /// Packs the texts into rows of `row_len` token slots (at least the longest text, rounded
    /// up to `pad_multiple`): longest first, each into the first row with room for it
    /// (first-fit decreasing, within 11/9 of the fewest rows possible).
    pub fn pack(&self, row_len: usize, pad_multiple: usize) -> PackedBatch {
        let longest = self.lengths.iter().copied().max().unwrap_or(0);
        let len = row_len.max(longest).max(1).next_multiple_of(pad_multiple.max(1));
        let mut order: Vec<usize> = (0..self.batch).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(self.lengths[i]));
        let mut used: Vec<usize> = Vec::new();
        let mut count: Vec<usize> = Vec::new();
        let mut spans = vec![
            Span {
                row: 0,
                start: 0,
                len: 0
            };
            self.batch
        ];
        for i in order {
            let l = self.lengths[i];
            let row = match used.iter().position(|&u| u + l <= len) {
                Some(r) => r,
                None => {
                    used.push(0);
                    count.push(0);
                    used.len() - 1
                }
            };
            spans[i] = Span {
                row,
                start: used[row],
                len: l,
            };
            used[row] += l;
            count[row] += 1;
        }
        let rows = used.len();
        // The batch's own pad id (any valid id would do: padding is masked and never pooled).
        let pad = match self.mask.iter().position(|&m| m == 0) {
            Some(i) => self.ids[i],
            None => self.ids.first().copied().unwrap_or(0),
        };
        let mut tokens = TokenBatch {
            batch: rows,
            seq: len,
            ids: vec![pad; rows * len],
            mask: vec![0; rows * len],
            lengths: used,
            truncated: vec![false; rows],
        };
        for (i, s) in spans.iter().enumerate() {
            let at = s.row * len + s.start;
            tokens.ids[at..at + s.len].copy_from_slice(self.row_ids(i));
            tokens.mask[at..at + s.len].fill(1);
        }
        PackedBatch {
            tokens,
            spans,
            per_row: count.into_iter().max().unwrap_or(0),
        }
    }
}

impl PackedBatch {
    /// Cuts the packing into parts of at most `rows_per_part` consecutive rows, each a
    /// packing of its own: the original indices of the texts it holds (row by row, left to
    /// right) and those rows, unchanged. Gradient caching embeds a side part by part: each
    /// pass then holds `rows_per_part` full rows, whatever the texts' lengths.
    pub fn split_rows(&self, rows_per_part: usize) -> Vec<(Vec<usize>, PackedBatch)> {
        let (rows, len) = (self.tokens.batch, self.tokens.seq);
        let k = rows_per_part.max(1);
        let mut by_row: Vec<Vec<usize>> = vec![Vec::new(); rows];
        for (i, s) in self.spans.iter().enumerate() {
            by_row[s.row].push(i);
        }
        for texts in &mut by_row {
            texts.sort_by_key(|&i| self.spans[i].start);
        }
        (0..rows)
            .step_by(k)
            .map(|first| {
                let end = (first + k).min(rows);
                let texts: Vec<usize> = by_row[first..end].iter().flatten().copied().collect();
                let spans = texts
                    .iter()
                    .map(|&i| Span {
                        row: self.spans[i].row - first,
                        ..self.spans[i]
                    })
                    .collect();
                let tokens = TokenBatch {
                    batch: end - first,
                    seq: len,
                    ids: self.tokens.ids[first * len..end * len].to_vec(),
                    mask: self.tokens.mask[first * len..end * len].to_vec(),
                    lengths: self.tokens.lengths[first..end].to_vec(),
                    truncated: self.tokens.truncated[first..end].to_vec(),
                };
                let per_row = by_row[first..end].iter().map(Vec::len).max().unwrap_or(0);
                (texts, PackedBatch { tokens, spans, per_row })
            })
            .collect()
    }
}
