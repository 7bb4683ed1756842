//! Making and reading an on-demand vocabulary as a bundle delivers it: a saved model turned
//! into a rows file plus compact pieces ([`make_on_demand`]), and which rows a reader asks
//! for in one request ([`pages_of`], [`plan_ranges`]). The rows file's format itself is the
//! encoder's (`hbt_model::words`): it loads such a model natively too.

/// Rows per bundle page: the unit a browser fetches and caches (one row: a query costs the
/// fewest bytes; a page of rows: fewer requests when queries share neighbouring pieces).
pub const DEFAULT_PAGE_ROWS: usize = 1;

/// Pages (of `page_rows` rows) holding `ids`, sorted, each once.
pub fn pages_of(ids: &[u32], page_rows: usize) -> Vec<u32> {
    let mut p: Vec<u32> = ids.iter().map(|&i| i / page_rows.max(1) as u32).collect();
    p.sort_unstable();
    p.dedup();
    p
}

/// Range reads for sorted, distinct `pages`: inclusive `(first, last)` runs, joined when
/// at most `gap` pages lie between them (fetching a few unneeded pages costs less than
/// another request; a dropped file's thousands of rows then come in a few large reads).
pub fn plan_ranges(pages: &[u32], gap: u32) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &p in pages {
        match out.last_mut() {
            Some((_, last)) if p <= *last + gap + 1 => *last = (*last).max(p),
            _ => out.push((p, p)),
        }
    }
    out
}

/// What [`make_on_demand`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnDemandStats {
    pub rows: usize,
    pub rows_bytes: u64,
    pub pieces: usize,
    pub pieces_bytes: u64,
    /// `tokenizer.json` before and after (the skeleton).
    pub tokenizer_bytes: (u64, u64),
    /// `model.safetensors` before and after (without the word table).
    pub weights_bytes: (u64, u64),
}

/// Turn a saved model directory (`Encoder::save`, any dtype) into an on-demand vocabulary
/// in place: the word table leaves `model.safetensors` for `word-rows.bin` (int8, exactly
/// the rows a `q8` save stores), the Unigram vocabulary leaves `tokenizer.json` for
/// `tokenizer.pieces`, and `hbt.json` names both. hbt reads the result natively (the rows
/// file read whole) and in the browser (rows fetched as queries need them).
#[cfg(not(target_arch = "wasm32"))]
pub fn make_on_demand(dir: &std::path::Path) -> crate::Result<OnDemandStats> {
    use hbt_model::ModelError;
    use hbt_model::words::{OnDemandWords, ROWS_FILE, write_rows};
    use hbt_tokenizer::{PIECES_FILE, read_pieces, split_tokenizer};
    use safetensors::{Dtype, SafeTensors};
    const WORD: &str = "embeddings.word_embeddings.weight";
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).map_err(|e| ModelError::io(&p, e))
    };
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).map_err(|e| ModelError::io(&p, e))
    };
    let wpath = dir.join("model.safetensors");
    let weights = read("model.safetensors")?;
    let st_err = |m: String| ModelError::Safetensors {
        path: wpath.clone(),
        message: m,
    };
    let st = SafeTensors::deserialize(&weights).map_err(|e| st_err(e.to_string()))?;
    let table = st.tensor(WORD).map_err(|_| st_err(format!("no `{WORD}`")))?;
    let [rows, hidden] = *table.shape() else {
        return Err(st_err(format!("`{WORD}` is not a matrix")));
    };
    let (q, scales) = match table.dtype() {
        Dtype::I8 => {
            let s = st
                .tensor(&format!("{WORD}{}", hbt_model::weights::SCALE_SUFFIX))
                .map_err(|_| st_err(format!("`{WORD}` is int8 without its scales")))?;
            let scales: Vec<f32> = s
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect();
            (table.data().iter().map(|&b| b as i8).collect(), scales)
        }
        Dtype::F16 => hbt_model::weights::quantize_rows(
            &table
                .data()
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect::<Vec<_>>(),
            hidden,
        ),
        Dtype::F32 => hbt_model::weights::quantize_rows(
            &table
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                .collect::<Vec<_>>(),
            hidden,
        ),
        d => return Err(st_err(format!("`{WORD}` has dtype {d:?}"))),
    };
    if scales.len() != rows || q.len() != rows * hidden {
        return Err(st_err(format!("`{WORD}` and its scales disagree on the rows")));
    }
    let rows_image = write_rows(&q, &scales, hidden);
    let rest: Vec<(String, safetensors::tensor::TensorView<'_>)> =
        st.tensors().into_iter().filter(|(n, _)| !n.starts_with(WORD)).collect();
    let (_, meta) = SafeTensors::read_metadata(&weights).map_err(|e| st_err(e.to_string()))?;
    let slim = safetensors::serialize(rest, meta.metadata().clone()).map_err(|e| st_err(e.to_string()))?;

    let tpath = dir.join("tokenizer.json");
    let tok = read("tokenizer.json")?;
    let (skeleton, pieces) = split_tokenizer(&tok, &tpath)?;
    let count = read_pieces(&pieces, &dir.join(PIECES_FILE))?.len();

    let mpath = dir.join("hbt.json");
    let mut meta: serde_json::Value =
        serde_json::from_slice(&read("hbt.json")?).map_err(|source| ModelError::Json {
            path: mpath.clone(),
            source,
        })?;
    meta["words"] = serde_json::to_value(OnDemandWords {
        rows_file: ROWS_FILE.into(),
        pieces_file: PIECES_FILE.into(),
        rows,
    })
    .expect("serializes");
    let mut meta_bytes = serde_json::to_vec_pretty(&meta).expect("serializes");
    meta_bytes.push(b'\n');

    write(ROWS_FILE, &rows_image)?;
    write(PIECES_FILE, &pieces)?;
    write("model.safetensors", &slim)?;
    write("tokenizer.json", &skeleton)?;
    write("hbt.json", &meta_bytes)?;
    Ok(OnDemandStats {
        rows,
        rows_bytes: rows_image.len() as u64,
        pieces: count,
        pieces_bytes: pieces.len() as u64,
        tokenizer_bytes: (tok.len() as u64, skeleton.len() as u64),
        weights_bytes: (weights.len() as u64, slim.len() as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_join_close_pages() {
        assert_eq!(
            plan_ranges(&[1, 2, 3, 7, 9, 20], 0),
            vec![(1, 3), (7, 7), (9, 9), (20, 20)]
        );
        assert_eq!(plan_ranges(&[1, 2, 3, 7, 9, 20], 3), vec![(1, 9), (20, 20)]);
        assert_eq!(pages_of(&[33, 2, 31, 2], 16), vec![0, 1, 2]);
        assert!(plan_ranges(&[], 4).is_empty());
    }
}
