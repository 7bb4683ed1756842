//! A `tokenizer.json` rewritten to a kept subset of its vocabulary, ids renumbered densely
//! in their old order (vocabulary pruning's tokenizer half: `hbt_bundle::prune`).

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use crate::error::{Result, TokenizerError};

/// Old token id → new id, for the kept ids in ascending order (order is preserved, so ids
/// up to the padding id keep their value and XLM-R's position offsets stay right).
pub fn remap_table(keep: &BTreeSet<u32>) -> HashMap<u32, u32> {
    keep.iter().enumerate().map(|(new, &old)| (old, new as u32)).collect()
}

fn tok_err(origin: &std::path::Path, message: impl Into<String>) -> TokenizerError {
    TokenizerError::Tokenizer {
        path: origin.to_path_buf(),
        message: message.into(),
    }
}

/// Rewrite a `tokenizer.json` to a kept subset of its vocabulary. Supports the models of
/// the encoders hbt runs: Unigram (XLM-R, e5) and WordPiece (BERT, MiniLM).
pub fn prune_tokenizer_json(bytes: &[u8], keep: &BTreeSet<u32>, origin: &std::path::Path) -> Result<Vec<u8>> {
    let mut v: Value = serde_json::from_slice(bytes).map_err(|source| TokenizerError::Json {
        path: origin.to_path_buf(),
        source,
    })?;
    let map = remap_table(keep);
    let remap = |old: u64| -> Result<u64> {
        map.get(&(old as u32))
            .map(|&n| n as u64)
            .ok_or_else(|| tok_err(origin, format!("special token id {old} is not among the kept ids")))
    };
    let model = v
        .get_mut("model")
        .ok_or_else(|| tok_err(origin, "no `model` section"))?;
    match model.get("type").and_then(Value::as_str) {
        Some("Unigram") => {
            let vocab = model["vocab"]
                .as_array()
                .ok_or_else(|| tok_err(origin, "Unigram model without a `vocab` list"))?;
            let kept: Vec<Value> = keep
                .iter()
                .map(|&i| {
                    vocab
                        .get(i as usize)
                        .cloned()
                        .ok_or_else(|| tok_err(origin, format!("token id {i} is outside the vocabulary")))
                })
                .collect::<Result<_>>()?;
            model["vocab"] = Value::Array(kept);
            if let Some(u) = model.get("unk_id").and_then(Value::as_u64) {
                model["unk_id"] = remap(u)?.into();
            }
        }
        Some("WordPiece") => {
            let vocab = model["vocab"]
                .as_object()
                .ok_or_else(|| tok_err(origin, "WordPiece model without a `vocab` map"))?;
            let kept: serde_json::Map<String, Value> = vocab
                .iter()
                .filter_map(|(piece, id)| {
                    let id = id.as_u64()? as u32;
                    map.get(&id).map(|&n| (piece.clone(), Value::from(n)))
                })
                .collect();
            model["vocab"] = Value::Object(kept);
        }
        other => {
            return Err(tok_err(
                origin,
                format!("vocabulary pruning supports Unigram and WordPiece tokenizers, not {other:?}"),
            ));
        }
    }
    if let Some(added) = v.get_mut("added_tokens").and_then(Value::as_array_mut) {
        for t in added {
            if let Some(id) = t.get("id").and_then(Value::as_u64) {
                t["id"] = remap(id)?.into();
            }
        }
    }
    if let Some(p) = v.get_mut("post_processor") {
        remap_post_processor(p, &remap)?;
    }
    if let Some(pad) = v.get_mut("padding").filter(|p| p.is_object())
        && let Some(id) = pad.get("pad_id").and_then(Value::as_u64)
    {
        pad["pad_id"] = remap(id)?.into();
    }
    Ok(serde_json::to_vec(&v).expect("a JSON value serializes"))
}

/// Special-token ids live in the post-processor too: `[token, id]` pairs in
/// Roberta/BertProcessing, `ids` lists in TemplateProcessing, nested in Sequence.
fn remap_post_processor(p: &mut Value, remap: &dyn Fn(u64) -> Result<u64>) -> Result<()> {
    match p.get("type").and_then(Value::as_str) {
        Some("RobertaProcessing") | Some("BertProcessing") => {
            for key in ["sep", "cls"] {
                if let Some(id) = p.get(key).and_then(|pair| pair.get(1)).and_then(Value::as_u64) {
                    p[key][1] = remap(id)?.into();
                }
            }
        }
        Some("TemplateProcessing") => {
            if let Some(specials) = p.get_mut("special_tokens").and_then(Value::as_object_mut) {
                for s in specials.values_mut() {
                    if let Some(ids) = s.get_mut("ids").and_then(Value::as_array_mut) {
                        for id in ids {
                            if let Some(old) = id.as_u64() {
                                *id = remap(old)?.into();
                            }
                        }
                    }
                }
            }
        }
        Some("Sequence") => {
            if let Some(ps) = p.get_mut("processors").and_then(Value::as_array_mut) {
                for q in ps {
                    remap_post_processor(q, remap)?;
                }
            }
        }
        _ => {}
    }
    Ok(())
}
