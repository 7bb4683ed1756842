//! An on-demand vocabulary: the word-embedding table as a file of fixed-size int8 rows that a
//! reader fetches a few at a time (one HTTP `Range` read for any run of rows), and the
//! Unigram tokenizer's 250,037 pieces in a compact, compressed form.
//!
//! A query reads a few dozen of multilingual-e5-small's 250,037 rows; the table is 96 MB in
//! int8 and the 12 layers 21 MB. A browser bundle that ships the layers and fetches rows as
//! queries need them serves every language the model knows at the size of the layers.
//!
//! ```text
//! word-rows.bin     32-byte header ("hbtrows\0", version, rows, hidden, record bytes),
//!                   then row i at 32 + i·record: f32 scale | u32 check | hidden × i8
//! tokenizer.pieces  the Unigram vocabulary, compact (`hbt_tokenizer::pieces`)
//! tokenizer.json    the file as it was, its Unigram vocabulary cut to the pieces up to <unk>
//! ```
//!
//! Each row carries a check over its id, scale and values, so a block fetched from the wrong
//! offset, cut short or corrupted is refused by the reader instead of becoming a wrong
//! vector. The values are exactly those `hbt export --dtype q8` stores for the table.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};

pub const ROWS_FILE: &str = "word-rows.bin";
pub const ROWS_HEADER: usize = 32;
const ROWS_MAGIC: &[u8; 8] = b"hbtrows\0";
const VERSION: u32 = 1;

/// What `hbt.json` says about an on-demand vocabulary: which files hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnDemandWords {
    pub rows_file: String,
    pub pieces_file: String,
    /// Rows of the table (the config's `vocab_size`).
    pub rows: usize,
}

/// Where rows live in a `word-rows.bin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsLayout {
    pub rows: usize,
    pub hidden: usize,
    /// Bytes a row: 8 + hidden.
    pub record: usize,
}

impl RowsLayout {
    pub fn new(rows: usize, hidden: usize) -> Self {
        Self {
            rows,
            hidden,
            record: 8 + hidden,
        }
    }

    /// Byte offset of row `id`.
    pub fn offset(&self, id: usize) -> u64 {
        (ROWS_HEADER + id * self.record) as u64
    }

    pub fn file_bytes(&self) -> u64 {
        self.offset(self.rows)
    }

    pub fn parse_header(bytes: &[u8], origin: &str) -> Result<Self> {
        let err = |m: String| ModelError::config(origin, m);
        if bytes.len() < ROWS_HEADER || &bytes[..8] != ROWS_MAGIC {
            return Err(err("not an hbt word-rows file (no `hbtrows` header)".into()));
        }
        let u = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes")) as usize;
        if u(8) != VERSION as usize {
            return Err(err(format!("word-rows version {} (this build reads {VERSION})", u(8))));
        }
        let l = Self::new(u(12), u(16));
        if u(20) != l.record || l.hidden == 0 {
            return Err(err(format!(
                "rows of {} bytes for {} values: the header is corrupt",
                u(20),
                l.hidden
            )));
        }
        Ok(l)
    }

    fn header(&self) -> [u8; ROWS_HEADER] {
        let mut h = [0u8; ROWS_HEADER];
        h[..8].copy_from_slice(ROWS_MAGIC);
        for (i, v) in [VERSION as usize, self.rows, self.hidden, self.record]
            .into_iter()
            .enumerate()
        {
            h[8 + 4 * i..12 + 4 * i].copy_from_slice(&(v as u32).to_le_bytes());
        }
        h
    }
}

/// FNV-1a over a row's id, scale and values: a row read from another offset has another id.
pub fn row_check(id: u32, scale: f32, q: &[i8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    let mut eat = |b: u8| h = (h ^ b as u32).wrapping_mul(0x0100_0193);
    id.to_le_bytes().into_iter().for_each(&mut eat);
    scale.to_le_bytes().into_iter().for_each(&mut eat);
    q.iter().for_each(|&v| eat(v as u8));
    h
}

/// The `word-rows.bin` image of an int8 table (`q`: rows × hidden, one scale a row).
pub fn write_rows(q: &[i8], scales: &[f32], hidden: usize) -> Vec<u8> {
    let layout = RowsLayout::new(scales.len(), hidden);
    let mut out = Vec::with_capacity(layout.file_bytes() as usize);
    out.extend_from_slice(&layout.header());
    for (id, (row, &s)) in q.chunks_exact(hidden).zip(scales).enumerate() {
        out.extend_from_slice(&s.to_le_bytes());
        out.extend_from_slice(&row_check(id as u32, s, row).to_le_bytes());
        out.extend(row.iter().map(|&v| v as u8));
    }
    out
}

/// A `[rows, hidden]` table in int8 with one scale per row: all of it (dense, row = id), or
/// the rows fetched so far of an on-demand table (sparse: `index` maps id → row).
#[derive(Debug, Clone, Default)]
pub struct Int8Table {
    pub q: Vec<i8>,
    pub scales: Vec<f32>,
    pub hidden: usize,
    pub index: Option<HashMap<u32, u32>>,
}

impl Int8Table {
    pub fn dense(q: Vec<i8>, scales: Vec<f32>, hidden: usize) -> Self {
        Self {
            q,
            scales,
            hidden,
            index: None,
        }
    }

    /// An empty on-demand table.
    pub fn sparse(hidden: usize) -> Self {
        Self {
            hidden,
            index: Some(HashMap::new()),
            ..Default::default()
        }
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.scales.len()
    }

    fn slot(&self, id: u32) -> Option<usize> {
        match &self.index {
            Some(ix) => ix.get(&id).map(|&r| r as usize),
            None => ((id as usize) < self.scales.len()).then_some(id as usize),
        }
    }

    pub fn has(&self, id: u32) -> bool {
        self.slot(id).is_some()
    }

    /// The ids of `ids` this table does not hold, sorted, each once.
    pub fn missing(&self, ids: &[u32]) -> Vec<u32> {
        let mut m: Vec<u32> = ids.iter().copied().filter(|&i| !self.has(i)).collect();
        m.sort_unstable();
        m.dedup();
        m
    }

    /// The rows of `ids`, dequantized, one after another; the ids it lacks as the error.
    pub fn gather(&self, ids: &[u32]) -> std::result::Result<Vec<f32>, Vec<u32>> {
        let h = self.hidden;
        let mut out = vec![0f32; ids.len() * h];
        let mut lacking = Vec::new();
        for (dst, &id) in out.chunks_exact_mut(h.max(1)).zip(ids) {
            match self.slot(id) {
                Some(r) => {
                    let s = self.scales[r];
                    for (d, &v) in dst.iter_mut().zip(&self.q[r * h..(r + 1) * h]) {
                        *d = v as f32 * s;
                    }
                }
                None => lacking.push(id),
            }
        }
        if lacking.is_empty() {
            Ok(out)
        } else {
            lacking.sort_unstable();
            lacking.dedup();
            Err(lacking)
        }
    }

    /// Take the rows `first..` of a word-rows file from `bytes` (one range read of whole
    /// records), each checked: a wrong offset, a short read or a flipped bit is an error
    /// naming `origin` and the row. Returns the rows added. A dense table takes none (it
    /// holds every row already).
    pub fn insert_records(&mut self, layout: &RowsLayout, first: usize, bytes: &[u8], origin: &str) -> Result<usize> {
        let err = |m: String| ModelError::config(origin, m);
        if layout.hidden != self.hidden {
            return Err(err(format!(
                "rows of {} values, but the model's are {}",
                layout.hidden, self.hidden
            )));
        }
        if !bytes.len().is_multiple_of(layout.record) {
            return Err(err(format!(
                "{} bytes from row {first} is not a whole number of {}-byte rows (a truncated file or a wrong answer to a range request)",
                bytes.len(),
                layout.record
            )));
        }
        let n = bytes.len() / layout.record;
        if first + n > layout.rows {
            return Err(err(format!(
                "rows {first}..{} asked of a table of {}",
                first + n,
                layout.rows
            )));
        }
        let mut added = 0;
        for (k, rec) in bytes.chunks_exact(layout.record).enumerate() {
            let id = (first + k) as u32;
            let scale = f32::from_le_bytes(rec[0..4].try_into().expect("4 bytes"));
            let check = u32::from_le_bytes(rec[4..8].try_into().expect("4 bytes"));
            let q: &[i8] = bytemuck_i8(&rec[8..]);
            if row_check(id, scale, q) != check || !scale.is_finite() {
                return Err(err(format!(
                    "row {id} fails its check (the file is corrupt, or the server answered with other bytes than asked)"
                )));
            }
            let Some(index) = &mut self.index else { continue };
            if index.contains_key(&id) {
                continue;
            }
            index.insert(id, self.scales.len() as u32);
            self.scales.push(scale);
            self.q.extend_from_slice(q);
            added += 1;
        }
        Ok(added)
    }

    /// A whole word-rows file as a dense table (every row checked).
    pub fn from_rows_file(bytes: &[u8], origin: &str) -> Result<Self> {
        let layout = RowsLayout::parse_header(bytes, origin)?;
        if bytes.len() as u64 != layout.file_bytes() {
            return Err(ModelError::config(
                origin,
                format!(
                    "{} bytes, but {} rows of {} need {} (a truncated file)",
                    bytes.len(),
                    layout.rows,
                    layout.record,
                    layout.file_bytes()
                ),
            ));
        }
        let mut t = Self::sparse(layout.hidden);
        t.insert_records(&layout, 0, &bytes[ROWS_HEADER..], origin)?;
        // Inserted in id order: the sparse index is the identity.
        t.index = None;
        Ok(t)
    }
}

fn bytemuck_i8(b: &[u8]) -> &[i8] {
    // SAFETY: i8 and u8 have the same size and alignment, and every bit pattern is valid.
    unsafe { std::slice::from_raw_parts(b.as_ptr() as *const i8, b.len()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_and_any_wrong_byte_or_offset_is_refused() {
        let hidden = 5;
        let q: Vec<i8> = (0..4 * hidden).map(|i| (i as i8).wrapping_mul(37)).collect();
        let scales = [0.5, 0.25, 1.0, 0.125];
        let file = write_rows(&q, &scales, hidden);
        let layout = RowsLayout::parse_header(&file, "w").unwrap();
        assert_eq!(layout, RowsLayout::new(4, hidden));
        assert_eq!(file.len() as u64, layout.file_bytes());
        let dense = Int8Table::from_rows_file(&file, "w").unwrap();
        assert_eq!((dense.q.clone(), dense.scales.clone()), (q.clone(), scales.to_vec()));

        let mut t = Int8Table::sparse(hidden);
        let (a, b) = (layout.offset(1) as usize, layout.offset(3) as usize);
        assert_eq!(t.insert_records(&layout, 1, &file[a..b], "w").unwrap(), 2);
        assert_eq!(t.missing(&[3, 1, 0, 2, 0]), vec![0, 3]);
        assert_eq!(t.gather(&[2, 1]).unwrap(), dense.gather(&[2, 1]).unwrap());
        assert_eq!(t.gather(&[2, 3, 0]).unwrap_err(), vec![0, 3]);
        // The bytes of rows 1..3 offered as rows 0..2: another id, so the check fails.
        let e = t.insert_records(&layout, 0, &file[a..b], "w").unwrap_err().to_string();
        assert!(e.contains("row 0 fails its check"), "{e}");
        let mut bad = file.clone();
        bad[b - 1] ^= 1;
        assert!(
            Int8Table::sparse(hidden)
                .insert_records(&layout, 1, &bad[a..b], "w")
                .is_err()
        );
        let short = Int8Table::sparse(hidden).insert_records(&layout, 1, &file[a..b - 3], "w");
        assert!(short.unwrap_err().to_string().contains("not a whole number"));
        let cut = Int8Table::from_rows_file(&file[..file.len() - 1], "w").unwrap_err();
        assert!(cut.to_string().contains("truncated"), "{cut}");
    }
}
