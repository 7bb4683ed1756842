//! The Unigram tokenizer's vocabulary in a compact file (`tokenizer.pieces`, part of an
//! on-demand vocabulary: `hbt_model::words`): e5's 250,002 pieces and scores in 1.8 MB of zlib
//! rather than a 17 MB `tokenizer.json`, built into the same model without parsing 250,000
//! JSON entries.
//!
//! ```text
//! zlib of: "hbtpiece", version (2), count, score width (4 or 8), the scores in id order
//!          (f32; or f64 as byte planes of the differences of their bit patterns, which for
//!          scores sorted as sentencepiece sorts them are mostly small: 307 KB compressed
//!          for e5's rather than 533); then the pieces in (bytes, id) order: their ids as
//!          four byte planes (low byte first), one byte each of the bytes shared with the
//!          piece before, one byte each of the length of the rest, the rests one after another
//! ```
//!
//! Version 2 stores the pieces sorted so that a browser looks them up as they are, with no
//! trie to build (`Unigram::from_sorted`, tokenizers patch 9), and front-coded, which
//! compresses them to 1.19 MB where version 1's id order took 1.55 (e5). Version 1 (one
//! length byte per piece, the pieces in id order) is still read. The zlib wrapper may be
//! taken off by the reader's caller (a browser's own `DecompressionStream` is faster than
//! inflating in wasm): the plain bytes are read too.

use std::path::Path;

use tokenizers::models::unigram::SortedPieces;

use crate::error::{Result, TokenizerError};

/// The file name an on-demand vocabulary gives its pieces (`hbt.json`'s `words`).
pub const PIECES_FILE: &str = "tokenizer.pieces";
/// The pieces format's version (read back and checked).
const VERSION: u32 = 2;

const PIECES_MAGIC: &[u8; 8] = b"hbtpiece";

/// Split a Unigram `tokenizer.json` into its skeleton (the file with the vocabulary cut to
/// the pieces up to `<unk>`, which keeps it a valid tokenizer) and the compact pieces file.
pub fn split_tokenizer(json: &[u8], origin: &Path) -> Result<(Vec<u8>, Vec<u8>)> {
    let tok_err = |m: &str| TokenizerError::Tokenizer {
        path: origin.to_path_buf(),
        message: m.to_string(),
    };
    let mut v: serde_json::Value = serde_json::from_slice(json).map_err(|source| TokenizerError::Json {
        path: origin.to_path_buf(),
        source,
    })?;
    let model = v.get_mut("model").ok_or_else(|| tok_err("no `model` section"))?;
    if model.get("type").and_then(|t| t.as_str()) != Some("Unigram") {
        return Err(tok_err(
            "an on-demand vocabulary needs a Unigram (XLM-R / e5) tokenizer; use --vocab pruned or full",
        ));
    }
    let unk = model.get("unk_id").and_then(|u| u.as_u64()).unwrap_or(0) as usize;
    let vocab = model
        .get("vocab")
        .and_then(|x| x.as_array())
        .ok_or_else(|| tok_err("Unigram model without a `vocab` list"))?;
    let mut pieces = Vec::with_capacity(vocab.len());
    for (i, e) in vocab.iter().enumerate() {
        let (Some(p), Some(s)) = (e.get(0).and_then(|p| p.as_str()), e.get(1).and_then(|s| s.as_f64())) else {
            return Err(tok_err(&format!("vocab entry {i} is not [piece, score]")));
        };
        pieces.push((p.to_string(), s));
    }
    let keep: Vec<serde_json::Value> = vocab.iter().take(unk + 1).cloned().collect();
    model["vocab"] = serde_json::Value::Array(keep);
    let skeleton = serde_json::to_vec(&v).expect("JSON serializes");
    Ok((skeleton, encode_pieces(&pieces, origin)?))
}

fn encode_pieces(pieces: &[(String, f64)], origin: &Path) -> Result<Vec<u8>> {
    // f32 scores where they are exactly f32 (sentencepiece's are), else f64.
    let narrow = pieces.iter().all(|(_, s)| (*s as f32) as f64 == *s);
    let mut raw = Vec::new();
    raw.extend_from_slice(PIECES_MAGIC);
    raw.extend_from_slice(&VERSION.to_le_bytes());
    raw.extend_from_slice(&(pieces.len() as u32).to_le_bytes());
    raw.extend_from_slice(&(if narrow { 4u32 } else { 8 }).to_le_bytes());
    if narrow {
        for (_, s) in pieces {
            raw.extend_from_slice(&(*s as f32).to_le_bytes());
        }
    } else {
        let mut prev = 0u64;
        let deltas: Vec<u64> = pieces
            .iter()
            .map(|(_, s)| {
                let d = s.to_bits().wrapping_sub(prev);
                prev = s.to_bits();
                d
            })
            .collect();
        for k in 0..8 {
            raw.extend(deltas.iter().map(|d| (d >> (8 * k)) as u8));
        }
    }
    if let Some((p, _)) = pieces.iter().find(|(p, _)| p.len() > 255) {
        return Err(TokenizerError::Tokenizer {
            path: origin.to_path_buf(),
            message: format!("piece {p:?} is longer than 255 bytes"),
        });
    }
    let mut order: Vec<u32> = (0..pieces.len() as u32).collect();
    order.sort_by(|&a, &b| (pieces[a as usize].0.as_bytes(), a).cmp(&(pieces[b as usize].0.as_bytes(), b)));
    for k in 0..4 {
        raw.extend(order.iter().map(|id| (id >> (8 * k)) as u8));
    }
    let key = |r: usize| pieces[order[r] as usize].0.as_bytes();
    let shared: Vec<usize> = (0..order.len())
        .map(|r| match r {
            0 => 0,
            _ => key(r).iter().zip(key(r - 1)).take_while(|(a, b)| a == b).count(),
        })
        .collect();
    raw.extend(shared.iter().map(|&s| s as u8));
    raw.extend((0..order.len()).map(|r| (key(r).len() - shared[r]) as u8));
    for (r, &s) in shared.iter().enumerate() {
        raw.extend_from_slice(&key(r)[s..]);
    }
    Ok(miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9))
}

/// A pieces file read: version 1's list, or version 2's sorted pieces and each id's score.
pub enum Pieces {
    List(Vec<(String, f64)>),
    Sorted(SortedPieces, Vec<f64>),
}

/// The `(piece, score)` list of a pieces file, in id order. Errors name `origin`.
pub fn read_pieces(bytes: &[u8], origin: &Path) -> Result<Vec<(String, f64)>> {
    Ok(match read_pieces_sorted(bytes, origin)? {
        Pieces::List(list) => list,
        Pieces::Sorted(sorted, scores) => {
            let mut list: Vec<(String, f64)> = scores.into_iter().map(|s| (String::new(), s)).collect();
            for r in 0..sorted.len() {
                let (key, id) = sorted.entry(r);
                // UTF-8 was checked as the file was read.
                list[id as usize].0 = String::from_utf8_lossy(key).into_owned();
            }
            list
        }
    })
}

/// A pieces file as stored: version 2's sorted pieces go to `Unigram::from_sorted` as they
/// are. `bytes` may be zlib (as written) or already inflated.
pub fn read_pieces_sorted(bytes: &[u8], origin: &Path) -> Result<Pieces> {
    let err = |m: String| TokenizerError::Tokenizer {
        path: origin.to_path_buf(),
        message: m,
    };
    let inflated;
    let raw = if bytes.starts_with(PIECES_MAGIC) {
        bytes
    } else {
        // 64 MB: ten times e5's; a corrupt stream cannot inflate without bound.
        inflated = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(bytes, 64 << 20)
            .map_err(|e| err(format!("not a compressed pieces file ({:?})", e.status)))?;
        &inflated[..]
    };
    if raw.len() < 20 || &raw[..8] != PIECES_MAGIC {
        return Err(err("not an hbt pieces file (no `hbtpiece` header)".into()));
    }
    let u = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().expect("4 bytes")) as usize;
    let version = u(8);
    if version != 1 && version != VERSION as usize {
        return Err(err(format!(
            "pieces version {version} (this build reads 1 and {VERSION})"
        )));
    }
    let (n, width) = (u(12), u(16));
    if width != 4 && width != 8 {
        return Err(err(format!("scores of {width} bytes")));
    }
    let scores_at = 20;
    let scores_end = n
        .checked_mul(width)
        .and_then(|b| b.checked_add(scores_at))
        .filter(|&e| e <= raw.len())
        .ok_or_else(|| err(format!("{n} pieces announced, the file is shorter")))?;
    let scores: Vec<f64> = if width == 4 {
        raw[scores_at..scores_end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
            .collect()
    } else {
        let planes = &raw[scores_at..scores_end];
        let mut prev = 0u64;
        (0..n)
            .map(|i| {
                let d = (0..8).fold(0u64, |d, k| d | (planes[k * n + i] as u64) << (8 * k));
                prev = prev.wrapping_add(d);
                f64::from_bits(prev)
            })
            .collect()
    };
    let rest = &raw[scores_end..];
    Ok(if version == 1 {
        Pieces::List(pieces_v1(rest, scores, &err)?)
    } else {
        Pieces::Sorted(pieces_v2(rest, n, &err)?, scores)
    })
}

/// The text's length against the length bytes that cut it: their sum, or an error.
fn check_text(lens: &[u8], text: &[u8], err: &dyn Fn(String) -> TokenizerError) -> Result<usize> {
    let text_len: usize = lens.iter().map(|&l| l as usize).sum();
    if text.len() != text_len {
        return Err(err(format!(
            "{} bytes of piece text, the lengths add up to {text_len}",
            text.len()
        )));
    }
    Ok(text_len)
}

/// Version 1: one length byte per piece, then the pieces in id order.
fn pieces_v1(rest: &[u8], scores: Vec<f64>, err: &dyn Fn(String) -> TokenizerError) -> Result<Vec<(String, f64)>> {
    let n = scores.len();
    if rest.len() < n {
        return Err(err(format!("{n} pieces announced, the file is shorter")));
    }
    let (lens, text) = rest.split_at(n);
    check_text(lens, text, err)?;
    let mut at = 0;
    let mut out = Vec::with_capacity(n);
    for (i, (&l, score)) in lens.iter().zip(scores).enumerate() {
        let piece =
            std::str::from_utf8(&text[at..at + l as usize]).map_err(|_| err(format!("piece {i} is not UTF-8")))?;
        out.push((piece.to_string(), score));
        at += l as usize;
    }
    Ok(out)
}

/// Version 2: the pieces in (bytes, id) order, front-coded, with their ids.
fn pieces_v2(rest: &[u8], n: usize, err: &dyn Fn(String) -> TokenizerError) -> Result<SortedPieces> {
    if rest.len() < 6 * n {
        return Err(err(format!("{n} pieces announced, the file is shorter")));
    }
    let (planes, rest) = rest.split_at(4 * n);
    let (shared, rest) = rest.split_at(n);
    let (suffix_lens, text) = rest.split_at(n);
    let text_len = check_text(suffix_lens, text, err)?;
    let ids: Vec<u32> = (0..n)
        .map(|r| (0..4).fold(0u32, |id, k| id | (planes[k * n + r] as u32) << (8 * k)))
        .collect();
    let mut bytes = Vec::with_capacity(text_len + shared.iter().map(|&s| s as usize).sum::<usize>());
    let mut ends = Vec::with_capacity(n);
    let (mut prev, mut at) = (0, 0);
    for r in 0..n {
        let (s, l) = (shared[r] as usize, suffix_lens[r] as usize);
        let start = bytes.len();
        if s > start - prev {
            return Err(err(format!(
                "sorted piece {r} shares more bytes than the piece before it has"
            )));
        }
        bytes.extend_from_within(prev..prev + s);
        bytes.extend_from_slice(&text[at..at + l]);
        at += l;
        let id = ids[r];
        std::str::from_utf8(&bytes[start..]).map_err(|_| err(format!("piece {id} is not UTF-8")))?;
        ends.push(bytes.len() as u32);
        prev = start;
    }
    SortedPieces::new(bytes, ends, ids).map_err(|e| err(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Version 1's layout, as earlier bundles hold it.
    fn encode_v1(pieces: &[(String, f32)]) -> Vec<u8> {
        let mut raw = PIECES_MAGIC.to_vec();
        for x in [1u32, pieces.len() as u32, 4] {
            raw.extend_from_slice(&x.to_le_bytes());
        }
        raw.extend(pieces.iter().flat_map(|(_, s)| s.to_le_bytes()));
        raw.extend(pieces.iter().map(|(p, _)| p.len() as u8));
        raw.extend(pieces.iter().flat_map(|(p, _)| p.as_bytes().to_vec()));
        miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6)
    }

    #[test]
    fn pieces_round_trip_and_refuse_garbage() {
        let pieces = vec![
            ("<unk>".to_string(), 0.0),
            ("▁the".to_string(), -3.5),
            ("ก".to_string(), -9.25),
            ("▁th".to_string(), -4.0),
            ("▁the".to_string(), -5.0),
        ];
        let bytes = encode_pieces(&pieces, Path::new("p")).unwrap();
        assert_eq!(read_pieces(&bytes, Path::new("p")).unwrap(), pieces);
        // Inflated by the caller (as a browser does): the same.
        let plain = miniz_oxide::inflate::decompress_to_vec_zlib(&bytes).unwrap();
        assert_eq!(read_pieces(&plain, Path::new("p")).unwrap(), pieces);
        let Pieces::Sorted(sorted, _) = read_pieces_sorted(&plain, Path::new("p")).unwrap() else {
            panic!("version 2 stores the sorted order")
        };
        let entries: Vec<(&[u8], u32)> = (0..sorted.len()).map(|r| sorted.entry(r)).collect();
        assert_eq!(
            entries,
            vec![
                ("<unk>".as_bytes(), 0),
                ("ก".as_bytes(), 2),
                ("▁th".as_bytes(), 3),
                ("▁the".as_bytes(), 1),
                ("▁the".as_bytes(), 4)
            ]
        );
        assert_eq!(
            sorted.get("▁the".as_bytes()),
            Some(4),
            "a piece given twice keeps its last id"
        );
        assert_eq!(sorted.get("▁t".as_bytes()), None);
        let wide = vec![
            ("a".to_string(), 0.1),
            ("▁b".to_string(), -3.25),
            ("c".to_string(), -7.471577644348145),
            ("d".to_string(), -1e-300),
        ];
        let b = encode_pieces(&wide, Path::new("p")).unwrap();
        assert_eq!(
            read_pieces(&b, Path::new("p")).unwrap(),
            wide,
            "an f64 score stays exact"
        );
        assert!(read_pieces(b"junk", Path::new("p")).is_err());
        assert!(read_pieces(&bytes[..bytes.len() - 2], Path::new("p")).is_err());
        // Version 1 is still read (no sorted order: the model builds its trie).
        let v1: Vec<(String, f32)> = vec![("<unk>".into(), 0.0), ("▁a".into(), -1.5)];
        let Pieces::List(old) = read_pieces_sorted(&encode_v1(&v1), Path::new("p")).unwrap() else {
            panic!("version 1 has no sorted order")
        };
        assert_eq!(old, vec![("<unk>".to_string(), 0.0), ("▁a".to_string(), -1.5)]);
    }

    #[test]
    fn corrupt_sorted_pieces_are_refused_with_their_reason() {
        let pieces: Vec<(String, f64)> = ["<unk>", "ab", "abc", "b"]
            .iter()
            .map(|p| (p.to_string(), -1.0))
            .collect();
        let plain =
            miniz_oxide::inflate::decompress_to_vec_zlib(&encode_pieces(&pieces, Path::new("p")).unwrap()).unwrap();
        let n = pieces.len();
        let at = 20 + 4 * n; // the id planes
        let edit = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = plain.clone();
            f(&mut b);
            read_pieces_sorted(&b, Path::new("x.pieces"))
                .err()
                .expect("refused")
                .to_string()
        };
        // Two pieces given the same id.
        let e = edit(&|b| b[at + 1] = b[at]);
        assert!(e.contains("x.pieces") && e.contains("given twice"), "{e}");
        // The first piece claims to share a byte with a piece before it.
        let e = edit(&|b| b[at + 4 * n] = 1);
        assert!(e.contains("shares more bytes"), "{e}");
        // The last piece ("b") made "a": no longer after "abc".
        let e = edit(&|b| *b.last_mut().unwrap() = b'a');
        assert!(e.contains("not after"), "{e}");
        // Text shorter than the lengths say.
        let e = edit(&|b| {
            b.pop();
        });
        assert!(e.contains("lengths add up"), "{e}");
    }
}
