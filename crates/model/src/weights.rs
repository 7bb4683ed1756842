//! Hugging Face safetensors in and out: names, prefixes, dtypes and layouts.
//!
//! Loading keeps the raw checkpoint apart from the model: a [`WeightMap`] holds every tensor
//! as f32 by its canonical name (no `bert.`/`roberta.` prefix), and the layers take from it
//! exactly what the config needs ([`crate::checkpoint`]), so missing, mis-shaped and
//! unexpected tensors are all reported by name.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use safetensors::{Dtype, SafeTensors};

use crate::bert::Bert;
use crate::checkpoint::Writer;
use crate::error::{ModelError, Result};

/// One tensor from a checkpoint.
#[derive(Debug, Clone)]
pub struct RawTensor {
    pub shape: Vec<usize>,
    pub data: Values,
    pub file: PathBuf,
}

/// A tensor's values: f32, or an int8 matrix as stored (`hbt export --dtype q8`), kept so
/// that int8 inference packs the stored integers without a float round trip.
#[derive(Debug, Clone)]
pub enum Values {
    F32(Vec<f32>),
    /// Row-major int8 with one scale per row.
    Int8Rows {
        q: Vec<i8>,
        scales: Vec<f32>,
    },
}

impl Values {
    pub fn into_f32(self) -> Vec<f32> {
        match self {
            Values::F32(v) => v,
            Values::Int8Rows { q, scales } => {
                let cols = q.len() / scales.len().max(1);
                let mut out = Vec::with_capacity(q.len());
                for (row, s) in q.chunks_exact(cols.max(1)).zip(&scales) {
                    out.extend(row.iter().map(|&b| b as f32 * s));
                }
                out
            }
        }
    }
}

/// Every tensor of a checkpoint by canonical name.
#[derive(Debug, Default)]
pub struct WeightMap {
    pub origin: PathBuf,
    /// What is left to take.
    pub tensors: BTreeMap<String, RawTensor>,
    /// The names taken so far, in order (each leaves `tensors` when taken, so a second
    /// taker finds it missing).
    pub taken: Vec<String>,
}

/// Names in HF checkpoints that are not weights of the encoder and are skipped on purpose:
/// the `position_ids` buffer and task heads (MLM / NSP) that sentence encoders do not use.
fn is_ignorable(name: &str) -> bool {
    name.ends_with("position_ids") || name.starts_with("lm_head.") || name.starts_with("cls.")
}

fn canonical(name: &str) -> String {
    let n = name
        .strip_prefix("bert.")
        .or_else(|| name.strip_prefix("roberta."))
        .or_else(|| name.strip_prefix("xlm_roberta."))
        .unwrap_or(name);
    // Old TF-converted BERT checkpoints call LayerNorm's parameters gamma/beta.

    if let Some(p) = n.strip_suffix(".gamma") {
        format!("{p}.weight")
    } else if let Some(p) = n.strip_suffix(".beta") {
        format!("{p}.bias")
    } else {
        n.to_string()
    }
}

fn to_f32(dtype: Dtype, bytes: &[u8]) -> Option<Vec<f32>> {
    Some(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
            .collect(),
        _ => return None,
    })
}

/// An int8 matrix and its per-row scales (`NAME_scale`, one a row, in the same file).
fn int8_rows(
    st: &SafeTensors<'_>,
    name: &str,
    view: &safetensors::tensor::TensorView<'_>,
    origin: &Path,
) -> Result<Values> {
    let err = |message: String| ModelError::Tensor {
        path: origin.to_path_buf(),
        name: name.to_string(),
        message,
    };
    let shape = view.shape();
    let [rows, _] = shape else {
        return Err(err(format!(
            "is int8 with shape {shape:?}; hbt reads int8 matrices only"
        )));
    };
    let scale_name = format!("{name}{SCALE_SUFFIX}");
    let scales = st
        .tensor(&scale_name)
        .map_err(|_| err(format!("is int8 but `{scale_name}` (its per-row scales) is missing")))?;
    if scales.shape() != [*rows] {
        return Err(err(format!(
            "has {rows} rows but `{scale_name}` has shape {:?}",
            scales.shape()
        )));
    }
    let scales = to_f32(scales.dtype(), scales.data())
        .ok_or_else(|| err(format!("`{scale_name}` has dtype {:?}", scales.dtype())))?;
    if let Some(bad) = scales.iter().find(|s| !s.is_finite()) {
        return Err(err(format!("`{scale_name}` holds {bad}")));
    }
    Ok(Values::Int8Rows {
        q: view.data().iter().map(|&b| b as i8).collect(),
        scales,
    })
}

impl WeightMap {
    /// Add the tensors of one safetensors file given as bytes.
    pub fn add_safetensors(&mut self, bytes: &[u8], origin: &Path) -> Result<()> {
        let st = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Safetensors {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        for (name, view) in st.iter() {
            if is_ignorable(name)
                || (name.ends_with(SCALE_SUFFIX)
                    && st
                        .names()
                        .iter()
                        .any(|n| **n == name[..name.len() - SCALE_SUFFIX.len()]))
            {
                continue;
            }
            let data = if view.dtype() == Dtype::I8 {
                int8_rows(&st, name, &view, origin)?
            } else {
                Values::F32(to_f32(view.dtype(), view.data()).ok_or_else(|| ModelError::Tensor {
                    path: origin.to_path_buf(),
                    name: name.to_string(),
                    message: format!(
                        "has dtype {:?}; hbt reads F32, F16, BF16, F64 and I8 (with per-row scales) weights",
                        view.dtype()
                    ),
                })?)
            };
            let key = canonical(name);
            if self.tensors.contains_key(&key) {
                return Err(ModelError::Tensor {
                    path: origin.to_path_buf(),
                    name: name.to_string(),
                    message: "appears twice (with and without a prefix, or in two shards)".into(),
                });
            }
            self.tensors.insert(
                key,
                RawTensor {
                    shape: view.shape().to_vec(),
                    data,
                    file: origin.to_path_buf(),
                },
            );
        }
        Ok(())
    }

    /// Read `model.safetensors`, or the shards listed in `model.safetensors.index.json`.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let mut map = WeightMap {
            origin: dir.join("model.safetensors"),
            ..Default::default()
        };
        let single = dir.join("model.safetensors");
        let index = dir.join("model.safetensors.index.json");
        if single.exists() {
            let bytes = std::fs::read(&single).map_err(|e| ModelError::io(&single, e))?;
            map.add_safetensors(&bytes, &single)?;
        } else if index.exists() {
            map.origin = index.clone();
            let text = std::fs::read(&index).map_err(|e| ModelError::io(&index, e))?;
            let v: serde_json::Value = serde_json::from_slice(&text).map_err(|source| ModelError::Json {
                path: index.clone(),
                source,
            })?;
            let wm = v
                .get("weight_map")
                .and_then(|w| w.as_object())
                .ok_or_else(|| ModelError::config(&index, "no \"weight_map\" object"))?;
            let mut files: Vec<&str> = wm.values().filter_map(|f| f.as_str()).collect();
            files.sort();
            files.dedup();
            for f in files {
                if f.contains("..") || f.starts_with('/') {
                    return Err(ModelError::config(
                        &index,
                        format!("shard name `{f}` leaves the model directory"),
                    ));
                }
                let p = dir.join(f);
                let bytes = std::fs::read(&p).map_err(|e| ModelError::io(&p, e))?;
                map.add_safetensors(&bytes, &p)?;
            }
        } else {
            return Err(ModelError::io(
                single,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no model.safetensors (nor a sharded index)",
                ),
            ));
        }
        Ok(map)
    }

    pub(crate) fn take(&mut self, name: &str, shape: &[usize], missing: &mut Vec<String>) -> Option<RawTensor> {
        match self.tensors.remove(name) {
            None => {
                missing.push(name.to_string());
                None
            }
            Some(t) if t.shape != shape => {
                // Not put back: the mismatch is reported once, here, with both shapes.
                missing.push(format!(
                    "{name} (shape {:?} in file, config needs {:?})",
                    t.shape, shape
                ));
                None
            }
            Some(t) => {
                self.taken.push(name.to_string());
                Some(t)
            }
        }
    }
}

/// HF linears are `[out, in]`; Burn's are `[in, out]`. Transposed on the host so the device
/// tensor is contiguous.
pub(crate) fn transpose_host(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    // In 32 × 32 tiles: a plain double loop writes a new cache line per element, and the
    // 21 M weights of e5-small's layers are transposed at every load (the browser's too).
    const T: usize = 32;
    let mut out = vec![0.0; data.len()];
    for r0 in (0..rows).step_by(T) {
        for c0 in (0..cols).step_by(T) {
            for r in r0..(r0 + T).min(rows) {
                for c in c0..(c0 + T).min(cols) {
                    out[c * rows + r] = data[r * cols + c];
                }
            }
        }
    }
    out
}

/// A tensor read back from the device for saving.
pub struct OwnedView {
    shape: Vec<usize>,
    bytes: Vec<u8>,
    dtype: Dtype,
}

impl safetensors::View for &OwnedView {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

/// Precision of saved weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveDtype {
    F32,
    F16,
    /// Weight-only int8: the word-embedding table and every linear layer's weight as I8
    /// with one f32 scale per row (`NAME` beside `NAME_scale`; a linear layer's rows are
    /// its output channels), everything else f16; dequantized on load. hbt reads it back
    /// (natively and in the browser); Hugging Face's loaders do not.
    Q8,
}

/// The name of the per-row scales of an int8 tensor.
pub const SCALE_SUFFIX: &str = "_scale";

/// Symmetric per-row int8: each row's largest magnitude maps to 127.
pub fn quantize_rows(data: &[f32], cols: usize) -> (Vec<i8>, Vec<f32>) {
    let mut q = Vec::with_capacity(data.len());
    let mut scales = Vec::with_capacity(data.len() / cols.max(1));
    for row in data.chunks(cols.max(1)) {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
        scales.push(scale);
        q.extend(row.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8));
    }
    (q, scales)
}

pub fn values(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| ModelError::Backend(format!("{e:?}")))
}

impl OwnedView {
    /// Floats as `dtype` stores them (q8 saves everything but the int8 matrices in f16).
    pub(crate) fn floats(shape: Vec<usize>, data: &[f32], dtype: SaveDtype) -> Self {
        let bytes = match dtype {
            SaveDtype::F32 => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            SaveDtype::F16 | SaveDtype::Q8 => data
                .iter()
                .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
                .collect(),
        };
        Self {
            shape,
            bytes,
            dtype: match dtype {
                SaveDtype::F32 => Dtype::F32,
                SaveDtype::F16 | SaveDtype::Q8 => Dtype::F16,
            },
        }
    }

    pub(crate) fn int8(shape: Vec<usize>, q: &[i8]) -> Self {
        Self {
            shape,
            bytes: q.iter().map(|&v| v as u8).collect(),
            dtype: Dtype::I8,
        }
    }
}

/// Every weight of `bert` under its Hugging Face name (no prefix), HF layouts: a walk over
/// its layers, each saving itself ([`crate::checkpoint`]).
pub fn export_tensors(bert: &Bert, dtype: SaveDtype) -> Result<BTreeMap<String, OwnedView>> {
    let mut w = Writer::new(dtype);
    bert.save(&mut w)?;
    Ok(w.into_tensors())
}

/// Serialize the encoder's weights as a safetensors file image.
pub fn to_safetensors(bert: &Bert, dtype: SaveDtype) -> Result<Vec<u8>> {
    let tensors = export_tensors(bert, dtype)?;
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(tensors.iter().map(|(k, v)| (k.clone(), v)), Some(meta))
        .map_err(|e| ModelError::Backend(format!("serializing safetensors: {e}")))
}
