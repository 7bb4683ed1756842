//! Hugging Face safetensors in and out: names, prefixes, dtypes and layouts.
//!
//! Loading keeps the raw checkpoint apart from the model: a [`WeightMap`] holds every tensor
//! as f32 by its canonical name (no `bert.`/`roberta.` prefix), and [`build_bert`] takes from
//! it exactly what the config needs, so missing, mis-shaped and unexpected tensors are all
//! reported by name.
//! long: the safetensors map and the model builder that consumes it; the builder's float and
//! int8 paths share the map's take-and-check helpers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::prelude::*;
use safetensors::{Dtype, SafeTensors};

use crate::bert::{Bert, Embeddings, Int8Table, Layer, Norm, SelfAttention};
use crate::config::EncoderConfig;
use crate::dense::{Dense, Format};
use crate::error::{ModelError, Result};
use crate::int8::PackedInt8;

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
    pub tensors: BTreeMap<String, RawTensor>,
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

    fn take(&mut self, name: &str, shape: &[usize], missing: &mut Vec<String>) -> Option<RawTensor> {
        match self.tensors.remove(name) {
            None => {
                missing.push(name.to_string());
                None
            }
            Some(t) if t.shape != shape => {
                // Put it back so the mismatch is reported once, with both shapes.
                missing.push(format!(
                    "{name} (shape {:?} in file, config needs {:?})",
                    t.shape, shape
                ));
                None
            }
            Some(t) => Some(t),
        }
    }
}

/// Parameters get ids derived from their HF name, so that a model loaded twice (a fresh
/// start and a resumed run) has the same ids and optimizer state saved by id lines up.
fn named<const D: usize>(name: &str, t: Tensor<D>) -> Param<Tensor<D>> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut p = Param::from_tensor(t);
    p.id = burn::module::ParamId::from(h);
    p
}

fn tensor1(t: RawTensor, device: &Device) -> Tensor<1> {
    let data = t.data.into_f32();
    let n = data.len();
    Tensor::from_data(TensorData::new(data, [n]), device)
}

/// `[rows, cols]` as stored.
fn tensor2(t: RawTensor, device: &Device) -> Tensor<2> {
    let shape = [t.shape[0], t.shape[1]];
    Tensor::from_data(TensorData::new(t.data.into_f32(), shape), device)
}

/// HF linears are `[out, in]`; Burn's are `[in, out]`. Transposed on the host so the device
/// tensor is contiguous.
fn transpose_host(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
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

struct Builder<'a> {
    map: &'a mut WeightMap,
    device: &'a Device,
    missing: Vec<String>,
}

impl Builder<'_> {
    /// A linear's HF `[out, in]` weight and its bias (both are looked up, so both are
    /// reported when missing).
    fn take_linear(&mut self, name: &str, d_in: usize, d_out: usize) -> Option<(RawTensor, RawTensor)> {
        let w = self
            .map
            .take(&format!("{name}.weight"), &[d_out, d_in], &mut self.missing);
        let b = self.map.take(&format!("{name}.bias"), &[d_out], &mut self.missing);
        Some((w?, b?))
    }
    fn linear(&mut self, name: &str, d_in: usize, d_out: usize) -> Option<Linear> {
        let (w, b) = self.take_linear(name, d_in, d_out)?;
        let wt = transpose_host(&w.data.into_f32(), d_out, d_in);
        Some(Linear {
            weight: named(
                &format!("{name}.weight"),
                Tensor::from_data(TensorData::new(wt, [d_in, d_out]), self.device),
            ),
            bias: Some(named(&format!("{name}.bias"), tensor1(b, self.device))),
        })
    }
    /// The linear packed for integer products ([`crate::int8`]); an int8-stored weight is
    /// packed as stored, a float one quantized per output feature. The float weight is left
    /// empty: inference reads only the packed copy.
    fn linear_int8(&mut self, name: &str, d_in: usize, d_out: usize) -> Option<Dense> {
        let (w, b) = self.take_linear(name, d_in, d_out)?;
        let b = b.data.into_f32();
        let (q, scales) = match w.data {
            Values::Int8Rows { q, scales } => (q, scales),
            Values::F32(v) => quantize_rows(&v, d_in),
        };
        let packed = PackedInt8::from_int8_rows(&q, scales, d_in, d_out, Some(&b));
        let empty = Tensor::from_data(TensorData::new(Vec::<f32>::new(), [0, 0]), self.device);
        let linear = Linear {
            weight: named(&format!("{name}.weight"), empty),
            bias: Some(named(
                &format!("{name}.bias"),
                Tensor::from_data(TensorData::new(b, [d_out]), self.device),
            )),
        };
        Some(Dense {
            linear,
            format: Format::Int8(std::sync::Arc::new(packed)),
        })
    }
    fn norm(&mut self, name: &str, d: usize, eps: f64) -> Option<Norm> {
        let g = self.map.take(&format!("{name}.weight"), &[d], &mut self.missing);
        let b = self.map.take(&format!("{name}.bias"), &[d], &mut self.missing);
        Some(Norm {
            gamma: named(&format!("{name}.weight"), tensor1(g?, self.device)),
            beta: named(&format!("{name}.bias"), tensor1(b?, self.device)),
            eps,
        })
    }
    fn embedding(&mut self, name: &str, rows: usize, d: usize) -> Option<Embedding> {
        let w = self
            .map
            .take(&format!("{name}.weight"), &[rows, d], &mut self.missing)?;
        Some(Embedding {
            weight: named(&format!("{name}.weight"), tensor2(w, self.device)),
        })
    }
}

/// The word-embedding table `[rows, h]` (row-major) as row shards of [`crate::bert::shard_rows`].
/// Takes the table by value: the last shard keeps its allocation (the whole table, when it
/// fits one shard), so a 100 MB table is not copied once more while a model loads.
pub(crate) fn word_shards(mut data: Vec<f32>, h: usize, device: &Device) -> Vec<Embedding> {
    let rows = crate::bert::shard_rows(h);
    let n = data.len().div_ceil(rows * h);
    if n == 0 {
        return Vec::new();
    }
    let mut shards: Vec<Vec<f32>> = Vec::with_capacity(n);
    for k in (1..n).rev() {
        shards.push(data.split_off(k * rows * h));
    }
    shards.push(data);
    shards
        .into_iter()
        .rev()
        .enumerate()
        .map(|(k, chunk)| {
            let shape = [chunk.len() / h, h];
            Embedding {
                weight: named(
                    &format!("embeddings.word_embeddings.weight#{k}"),
                    Tensor::from_data(TensorData::new(chunk, shape), device),
                ),
            }
        })
        .collect()
}

/// Build the encoder from a checkpoint. `want_pooler`: load `pooler.dense` (required when
/// pooling is `Pooler`; otherwise loaded when present so that a save round-trips it).
/// `int8`: build the transformer linears for integer inference only ([`crate::int8`]): the
/// packed int8 weights are the model, the float linears are left empty (no float copy, no
/// transpose: what makes a q8 bundle load fast in the browser). Such an encoder cannot be
/// trained or exported.
// long: one pass over the checkpoint's tensors, each moved into its place in the model, the
// layer loop most of it; the int8 and float paths differ only in how a linear is built.
pub fn build_bert(
    cfg: &EncoderConfig,
    map: &mut WeightMap,
    device: &Device,
    want_pooler: bool,
    int8: bool,
    words_external: bool,
) -> Result<Bert> {
    let h = cfg.hidden_size;
    let eps = cfg.layer_norm_eps;
    let has_pooler = map.tensors.contains_key("pooler.dense.weight");
    if want_pooler && !has_pooler {
        return Err(ModelError::Mismatch {
            path: map.origin.clone(),
            message: "pooling is `pooler` but the checkpoint has no pooler.dense weights".into(),
        });
    }
    let origin = map.origin.clone();
    let mut b = Builder {
        map,
        device,
        missing: Vec::new(),
    };
    // An on-demand vocabulary's rows are not in the weights: the encoder gets them from the
    // rows file ([`crate::vocab`]).
    let word = if words_external {
        Some((Vec::new(), None))
    } else {
        b.map
            .take(
                "embeddings.word_embeddings.weight",
                &[cfg.vocab_size, h],
                &mut b.missing,
            )
            .map(|w| match w.data {
                // Integer inference reads the stored rows; everything else widens them.
                Values::Int8Rows { q, scales } if int8 => {
                    (Vec::new(), Some(std::sync::Arc::new(Int8Table::dense(q, scales, h))))
                }
                data => (word_shards(data.into_f32(), h, device), None),
            })
    };
    let position = b.embedding("embeddings.position_embeddings", cfg.max_position_embeddings, h);
    let token_type = b.embedding("embeddings.token_type_embeddings", cfg.type_vocab_size, h);
    let norm = b.norm("embeddings.LayerNorm", h, eps);
    // A config may claim any number of layers; name the first one the weights lack and
    // summarise the rest, rather than walk (and list) billions of absent tensors.
    let file_layers = b
        .map
        .tensors
        .keys()
        .filter_map(|k| {
            k.strip_prefix("encoder.layer.")?
                .split('.')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .max()
        .map_or(0, |m| m + 1);
    let walk = cfg.num_hidden_layers.min(file_layers + 1);
    if cfg.num_hidden_layers > walk {
        b.missing.push(format!(
            "encoder.layer.{walk}..{} (config.json has num_hidden_layers = {}, the weights {file_layers})",
            cfg.num_hidden_layers - 1,
            cfg.num_hidden_layers
        ));
    }
    let mut layers = Vec::new();
    for i in 0..walk {
        let p = format!("encoder.layer.{i}");
        let mut lin = |name: &str, d_in: usize, d_out: usize| {
            let name = format!("{p}.{name}");
            if int8 {
                b.linear_int8(&name, d_in, d_out)
            } else {
                b.linear(&name, d_in, d_out).map(Dense::f32)
            }
        };
        let query = lin("attention.self.query", h, h);
        let key = lin("attention.self.key", h, h);
        let value = lin("attention.self.value", h, h);
        let output = lin("attention.output.dense", h, h);
        let inter = lin("intermediate.dense", h, cfg.intermediate_size);
        let out = lin("output.dense", cfg.intermediate_size, h);
        let anorm = b.norm(&format!("{p}.attention.output.LayerNorm"), h, eps);
        let onorm = b.norm(&format!("{p}.output.LayerNorm"), h, eps);
        // Every piece is looked up before any is unwrapped, so all missing names are reported.
        if let (Some(query), Some(key), Some(value), Some(output), Some(anorm), Some(inter), Some(out), Some(onorm)) =
            (query, key, value, output, anorm, inter, out, onorm)
        {
            layers.push(Layer {
                attention: SelfAttention {
                    query,
                    key,
                    value,
                    output,
                    norm: anorm,
                    heads: cfg.num_attention_heads,
                },
                intermediate: inter,
                output: out,
                norm: onorm,
            });
        }
    }
    let pooler = if has_pooler {
        b.linear("pooler.dense", h, h)
    } else {
        None
    };
    let missing = std::mem::take(&mut b.missing);
    let unexpected: Vec<String> = b.map.tensors.keys().cloned().collect();
    if !missing.is_empty() || !unexpected.is_empty() {
        let mut msg = String::new();
        if !missing.is_empty() {
            msg += &format!("missing or mis-shaped: {}", summarize(&missing));
        }
        if !unexpected.is_empty() {
            if !msg.is_empty() {
                msg += "; ";
            }
            msg += &format!("unexpected: {}", summarize(&unexpected));
        }
        return Err(ModelError::Mismatch {
            path: origin,
            message: msg,
        });
    }
    let (word, word_int8) = word.unwrap();
    Ok(Bert {
        embeddings: Embeddings {
            word,
            word_int8,
            position: position.unwrap(),
            token_type: token_type.unwrap(),
            norm: norm.unwrap(),
        },
        layers,
        pooler,
    })
}

fn summarize(names: &[String]) -> String {
    const SHOW: usize = 8;
    let mut s = names.iter().take(SHOW).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOW {
        s += &format!(" … and {} more", names.len() - SHOW);
    }
    s
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

pub(crate) fn values(t: Tensor<2>) -> Result<Vec<f32>> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| ModelError::Backend(format!("{e:?}")))
}

fn view(shape: Vec<usize>, data: &[f32], dtype: SaveDtype) -> OwnedView {
    let bytes = match dtype {
        SaveDtype::F32 => data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        SaveDtype::F16 | SaveDtype::Q8 => data
            .iter()
            .flat_map(|v| half::f16::from_f32(*v).to_le_bytes())
            .collect(),
    };
    OwnedView {
        shape,
        bytes,
        dtype: match dtype {
            SaveDtype::F32 => Dtype::F32,
            SaveDtype::F16 | SaveDtype::Q8 => Dtype::F16,
        },
    }
}

/// A matrix as int8 rows plus `NAME_scale`.
fn q8_matrix(out: &mut BTreeMap<String, OwnedView>, name: &str, data: &[f32], rows: usize, cols: usize) {
    let (q, scales) = quantize_rows(data, cols);
    out.insert(
        name.to_string(),
        OwnedView {
            shape: vec![rows, cols],
            bytes: q.iter().map(|&v| v as u8).collect(),
            dtype: Dtype::I8,
        },
    );
    out.insert(
        format!("{name}{SCALE_SUFFIX}"),
        view(vec![rows], &scales, SaveDtype::F32),
    );
}

/// Every weight of `bert` under its Hugging Face name (no prefix), HF layouts.
pub fn export_tensors(bert: &Bert, dtype: SaveDtype) -> Result<BTreeMap<String, OwnedView>> {
    let mut out = BTreeMap::new();
    let put_linear = |out: &mut BTreeMap<String, OwnedView>, name: &str, l: &Linear| -> Result<()> {
        let w = l.weight.val();
        let [d_in, d_out] = w.dims();
        if d_in * d_out == 0 {
            return Err(ModelError::Input(format!(
                "`{name}` has no float weights: the encoder was loaded for int8 inference (load it in f32 to export)"
            )));
        }
        let wt = transpose_host(&values(w)?, d_in, d_out);
        if dtype == SaveDtype::Q8 {
            // Rows are output channels: one scale per channel, as int8 weight-only schemes do.
            q8_matrix(out, &format!("{name}.weight"), &wt, d_out, d_in);
        } else {
            out.insert(format!("{name}.weight"), view(vec![d_out, d_in], &wt, dtype));
        }
        if let Some(b) = &l.bias {
            let b = values(b.val().reshape([1, d_out]))?;
            out.insert(format!("{name}.bias"), view(vec![d_out], &b, dtype));
        }
        Ok(())
    };
    let put_norm = |out: &mut BTreeMap<String, OwnedView>, name: &str, n: &Norm| -> Result<()> {
        let d = n.gamma.val().dims()[0];
        out.insert(
            format!("{name}.weight"),
            view(vec![d], &values(n.gamma.val().reshape([1, d]))?, dtype),
        );
        out.insert(
            format!("{name}.bias"),
            view(vec![d], &values(n.beta.val().reshape([1, d]))?, dtype),
        );
        Ok(())
    };
    let put_emb = |out: &mut BTreeMap<String, OwnedView>, name: &str, e: &Embedding| -> Result<()> {
        let w = e.weight.val();
        let shape = w.dims().to_vec();
        out.insert(format!("{name}.weight"), view(shape, &values(w)?, dtype));
        Ok(())
    };
    let e = &bert.embeddings;
    if e.word.is_empty() {
        return Err(ModelError::Input(
            "the word table is held in int8 (a model loaded for int8 inference, or an on-demand vocabulary): load a full checkpoint in f32 to save or export it".into(),
        ));
    }
    let mut word = Vec::new();
    let mut rows = 0;
    for shard in &e.word {
        let w = shard.weight.val();
        rows += w.dims()[0];
        word.extend(values(w)?);
    }
    let h = word.len() / rows.max(1);
    if dtype == SaveDtype::Q8 {
        q8_matrix(&mut out, "embeddings.word_embeddings.weight", &word, rows, h);
    } else {
        out.insert(
            "embeddings.word_embeddings.weight".into(),
            view(vec![rows, h], &word, dtype),
        );
    }
    put_emb(&mut out, "embeddings.position_embeddings", &e.position)?;
    put_emb(&mut out, "embeddings.token_type_embeddings", &e.token_type)?;
    put_norm(&mut out, "embeddings.LayerNorm", &e.norm)?;
    for (i, l) in bert.layers.iter().enumerate() {
        let p = format!("encoder.layer.{i}");
        let a = &l.attention;
        let denses = [
            ("attention.self.query", &a.query),
            ("attention.self.key", &a.key),
            ("attention.self.value", &a.value),
            ("attention.output.dense", &a.output),
            ("intermediate.dense", &l.intermediate),
            ("output.dense", &l.output),
        ];
        for (name, d) in denses {
            put_linear(&mut out, &format!("{p}.{name}"), &d.linear)?;
        }
        put_norm(&mut out, &format!("{p}.attention.output.LayerNorm"), &a.norm)?;
        put_norm(&mut out, &format!("{p}.output.LayerNorm"), &l.norm)?;
    }
    if let Some(p) = &bert.pooler {
        put_linear(&mut out, "pooler.dense", p)?;
    }
    Ok(out)
}

/// Serialize the encoder's weights as a safetensors file image.
pub fn to_safetensors(bert: &Bert, dtype: SaveDtype) -> Result<Vec<u8>> {
    let tensors = export_tensors(bert, dtype)?;
    let mut meta = std::collections::HashMap::new();
    meta.insert("format".to_string(), "pt".to_string());
    safetensors::serialize(tensors.iter().map(|(k, v)| (k.clone(), v)), Some(meta))
        .map_err(|e| ModelError::Backend(format!("serializing safetensors: {e}")))
}
