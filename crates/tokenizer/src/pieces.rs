//! The Unigram tokenizer's vocabulary in a compact file (`tokenizer.pieces`, part of an
//! on-demand vocabulary: `hbt_model::words`): e5's 250,002 pieces and scores in 1.8 MB of zlib
//! rather than a 17 MB `tokenizer.json`, built into the same model without parsing 250,000
//! JSON entries.
//!
//! ```text
//! zlib of: "hbtpiece", version, count, score width (4 or 8), the scores (f32; or f64 as
//!          byte planes of the differences of their bit patterns, which for scores sorted
//!          as sentencepiece sorts them are mostly small: 307 KB compressed for e5's rather
//!          than 533), one length byte per piece, the pieces' UTF-8 one after another
//! ```

use std::path::Path;

use crate::error::{Result, TokenizerError};

/// The file name an on-demand vocabulary gives its pieces (`hbt.json`'s `words`).
pub const PIECES_FILE: &str = "tokenizer.pieces";
/// The pieces format's version (read back and checked).
const VERSION: u32 = 1;

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
    for (p, _) in pieces {
        let n = u8::try_from(p.len()).map_err(|_| TokenizerError::Tokenizer {
            path: origin.to_path_buf(),
            message: format!("piece {p:?} is longer than 255 bytes"),
        })?;
        raw.push(n);
    }
    for (p, _) in pieces {
        raw.extend_from_slice(p.as_bytes());
    }
    Ok(miniz_oxide::deflate::compress_to_vec_zlib(&raw, 9))
}

/// The `(piece, score)` list of a pieces file. Errors name `origin`.
pub fn read_pieces(bytes: &[u8], origin: &Path) -> Result<Vec<(String, f64)>> {
    let err = |m: String| TokenizerError::Tokenizer {
        path: origin.to_path_buf(),
        message: m,
    };
    // 64 MB: ten times e5's; a corrupt stream cannot inflate without bound.
    let raw = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(bytes, 64 << 20)
        .map_err(|e| err(format!("not a compressed pieces file ({:?})", e.status)))?;
    if raw.len() < 20 || &raw[..8] != PIECES_MAGIC {
        return Err(err("not an hbt pieces file (no `hbtpiece` header)".into()));
    }
    let u = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().expect("4 bytes")) as usize;
    if u(8) != VERSION as usize {
        return Err(err(format!("pieces version {} (this build reads {VERSION})", u(8))));
    }
    let (n, width) = (u(12), u(16));
    if width != 4 && width != 8 {
        return Err(err(format!("scores of {width} bytes")));
    }
    let (scores_at, lens_at) = (20, 20 + n * width);
    let text_at = lens_at + n;
    if raw.len() < text_at {
        return Err(err(format!("{n} pieces announced, the file is shorter")));
    }
    let lens = &raw[lens_at..text_at];
    let text_len: usize = lens.iter().map(|&l| l as usize).sum();
    if raw.len() != text_at + text_len {
        return Err(err(format!(
            "{} bytes of piece text, the lengths add up to {text_len}",
            raw.len() - text_at
        )));
    }
    let scores: Vec<f64> = if width == 4 {
        raw[scores_at..lens_at]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64)
            .collect()
    } else {
        let planes = &raw[scores_at..lens_at];
        let mut prev = 0u64;
        (0..n)
            .map(|i| {
                let d = (0..8).fold(0u64, |d, k| d | (planes[k * n + i] as u64) << (8 * k));
                prev = prev.wrapping_add(d);
                f64::from_bits(prev)
            })
            .collect()
    };
    let mut at = text_at;
    let mut out = Vec::with_capacity(n);
    for (i, (&l, &score)) in lens.iter().zip(&scores).enumerate() {
        let piece =
            std::str::from_utf8(&raw[at..at + l as usize]).map_err(|_| err(format!("piece {i} is not UTF-8")))?;
        out.push((piece.to_string(), score));
        at += l as usize;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_round_trip_and_refuse_garbage() {
        let pieces = vec![
            ("<unk>".to_string(), 0.0),
            ("▁the".to_string(), -3.5),
            ("ก".to_string(), -9.25),
        ];
        let bytes = encode_pieces(&pieces, Path::new("p")).unwrap();
        assert_eq!(read_pieces(&bytes, Path::new("p")).unwrap(), pieces);
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
    }
}
