//! Each layer loads and saves itself: its Hugging Face names, shapes and layouts are written
//! once, in its own `load` / `save` pair, and the encoder is a walk over its layers (as
//! candle's `bert.rs` does with `vb.pp("attention")`).
//!
//! [`Reader`] takes tensors out of a [`WeightMap`] — each at most once, so a name that two
//! layers claimed, or that none did, is reported by name — and collects every missing or
//! mis-shaped one before any error is raised. [`Writer`] puts them back under the same
//! names in the checkpoint's layouts (linears `[out, in]`), in the chosen [`SaveDtype`].
//! long: one load/save pair per layer kind, each short; apart they would scatter the names
//! that must agree between loading and saving.

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::prelude::*;

use crate::bert::{Bert, Embeddings, Int8Table, Layer, Norm, SelfAttention};
use crate::config::EncoderConfig;
use crate::dense::{Dense, Format};
use crate::error::{ModelError, Result};
use crate::int8::PackedInt8;
use crate::weights::{OwnedView, RawTensor, SaveDtype, Values, WeightMap, quantize_rows, transpose_host, values};

/// `prefix.name`, or `name` at the top.
fn at(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Parameters get ids derived from their HF name, so that a model loaded twice (a fresh
/// start and a resumed run) has the same ids and optimizer state saved by id lines up.
pub(crate) fn named<const D: usize>(name: &str, t: Tensor<D>) -> Param<Tensor<D>> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut p = Param::from_tensor(t);
    p.id = burn::module::ParamId::from(h);
    p
}

/// Takes a checkpoint's tensors into layers, by name.
pub struct Reader<'a> {
    map: &'a mut WeightMap,
    device: &'a Device,
    /// Build the transformer's linears for integer inference only ([`crate::int8`]).
    int8: bool,
    missing: Vec<String>,
}

impl<'a> Reader<'a> {
    pub fn new(map: &'a mut WeightMap, device: &'a Device, int8: bool) -> Self {
        Self {
            map,
            device,
            int8,
            missing: Vec::new(),
        }
    }

    /// The tensor `name` of exactly `shape`; a missing or mis-shaped one is noted, not fatal.
    fn take(&mut self, name: &str, shape: &[usize]) -> Option<RawTensor> {
        self.map.take(name, shape, &mut self.missing)
    }

    fn vector(&mut self, name: &str, d: usize) -> Option<Param<Tensor<1>>> {
        let t = self.take(name, &[d])?;
        Some(named(
            name,
            Tensor::from_data(TensorData::new(t.data.into_f32(), [d]), self.device),
        ))
    }

    /// Everything missing, mis-shaped or left over, as one error naming the checkpoint.
    fn finish(self) -> Result<()> {
        let unexpected: Vec<String> = self.map.tensors.keys().cloned().collect();
        if self.missing.is_empty() && unexpected.is_empty() {
            return Ok(());
        }
        let mut msg = String::new();
        if !self.missing.is_empty() {
            msg += &format!("missing or mis-shaped: {}", summarize(&self.missing));
        }
        if !unexpected.is_empty() {
            if !msg.is_empty() {
                msg += "; ";
            }
            msg += &format!("unexpected: {}", summarize(&unexpected));
        }
        Err(ModelError::Mismatch {
            path: self.map.origin.clone(),
            message: msg,
        })
    }
}

fn summarize(names: &[String]) -> String {
    const SHOW: usize = 8;
    let mut s = names.iter().take(SHOW).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > SHOW {
        s += &format!(" … and {} more", names.len() - SHOW);
    }
    s
}

/// Collects layers' tensors under their checkpoint names.
pub struct Writer {
    dtype: SaveDtype,
    out: BTreeMap<String, OwnedView>,
}

impl Writer {
    pub fn new(dtype: SaveDtype) -> Self {
        Self {
            dtype,
            out: BTreeMap::new(),
        }
    }

    pub fn into_tensors(self) -> BTreeMap<String, OwnedView> {
        self.out
    }

    fn vector(&mut self, name: &str, p: &Param<Tensor<1>>) -> Result<()> {
        let d = p.val().dims()[0];
        let v = values(p.val().reshape([1, d]))?;
        self.out.insert(name.into(), OwnedView::floats(vec![d], &v, self.dtype));
        Ok(())
    }

    /// A `[rows, cols]` matrix; `quantized`: stored as int8 rows plus `NAME_scale` in a q8
    /// save (the word table and the linears' weights; everything else is f16 there).
    fn matrix(&mut self, name: &str, data: &[f32], rows: usize, cols: usize, quantized: bool) {
        if quantized && self.dtype == SaveDtype::Q8 {
            let (q, scales) = quantize_rows(data, cols);
            self.out.insert(name.into(), OwnedView::int8(vec![rows, cols], &q));
            self.out.insert(
                format!("{name}{}", crate::weights::SCALE_SUFFIX),
                OwnedView::floats(vec![rows], &scales, SaveDtype::F32),
            );
        } else {
            self.out
                .insert(name.into(), OwnedView::floats(vec![rows, cols], data, self.dtype));
        }
    }
}

impl Norm {
    /// `weight` and `bias` of `[d]` (LayerNorm's gamma and beta).
    pub fn load(r: &mut Reader, prefix: &str, d: usize, eps: f64) -> Option<Self> {
        let gamma = r.vector(&at(prefix, "weight"), d);
        let beta = r.vector(&at(prefix, "bias"), d);
        Some(Self {
            gamma: gamma?,
            beta: beta?,
            eps,
        })
    }

    pub fn save(&self, w: &mut Writer, prefix: &str) -> Result<()> {
        w.vector(&at(prefix, "weight"), &self.gamma)?;
        w.vector(&at(prefix, "bias"), &self.beta)
    }
}

/// A Hugging Face linear: `weight` `[out, in]` (Burn keeps `[in, out]`: transposed on the
/// host, so the device tensor is contiguous) and `bias` `[out]`.
fn load_linear(r: &mut Reader, prefix: &str, d_in: usize, d_out: usize) -> Option<(RawTensor, RawTensor)> {
    // Both are looked up before either is unwrapped, so both are reported when missing.
    let w = r.take(&at(prefix, "weight"), &[d_out, d_in]);
    let b = r.take(&at(prefix, "bias"), &[d_out]);
    Some((w?, b?))
}

pub(crate) fn linear(r: &mut Reader, prefix: &str, d_in: usize, d_out: usize) -> Option<Linear> {
    let (w, b) = load_linear(r, prefix, d_in, d_out)?;
    let wt = transpose_host(&w.data.into_f32(), d_out, d_in);
    let b = b.data.into_f32();
    Some(Linear {
        weight: named(
            &at(prefix, "weight"),
            Tensor::from_data(TensorData::new(wt, [d_in, d_out]), r.device),
        ),
        bias: Some(named(
            &at(prefix, "bias"),
            Tensor::from_data(TensorData::new(b, [d_out]), r.device),
        )),
    })
}

pub(crate) fn save_linear(l: &Linear, w: &mut Writer, prefix: &str) -> Result<()> {
    let weight = l.weight.val();
    let [d_in, d_out] = weight.dims();
    if d_in * d_out == 0 {
        return Err(ModelError::Input(format!(
            "`{prefix}` has no float weights: the encoder was loaded for int8 inference (load it in f32 to export)"
        )));
    }
    // Rows are output channels: one scale per channel in q8, as int8 weight-only schemes do.
    let wt = transpose_host(&values(weight)?, d_in, d_out);
    w.matrix(&at(prefix, "weight"), &wt, d_out, d_in, true);
    if let Some(b) = &l.bias {
        w.vector(&at(prefix, "bias"), b)?;
    }
    Ok(())
}

impl Dense {
    /// A linear of the transformer, f32 — or, for integer inference, packed for integer
    /// products ([`crate::int8`]): an int8-stored weight as stored, a float one quantized
    /// per output feature. The float weight is then left empty (no float copy, no transpose:
    /// what makes a q8 bundle load fast in the browser).
    pub fn load(r: &mut Reader, prefix: &str, d_in: usize, d_out: usize) -> Option<Self> {
        if !r.int8 {
            return linear(r, prefix, d_in, d_out).map(Dense::f32);
        }
        let (w, b) = load_linear(r, prefix, d_in, d_out)?;
        let b = b.data.into_f32();
        let (q, scales) = match w.data {
            Values::Int8Rows { q, scales } => (q, scales),
            Values::F32(v) => quantize_rows(&v, d_in),
        };
        let packed = PackedInt8::from_int8_rows(&q, scales, d_in, d_out, Some(&b));
        let empty = Tensor::from_data(TensorData::new(Vec::<f32>::new(), [0, 0]), r.device);
        let linear = Linear {
            weight: named(&at(prefix, "weight"), empty),
            bias: Some(named(
                &at(prefix, "bias"),
                Tensor::from_data(TensorData::new(b, [d_out]), r.device),
            )),
        };
        Some(Dense {
            linear,
            format: Format::Int8(Arc::new(packed)),
        })
    }

    pub fn save(&self, w: &mut Writer, prefix: &str) -> Result<()> {
        save_linear(&self.linear, w, prefix)
    }
}

/// A small embedding table (positions, token types): `weight` `[rows, d]`, never quantized.
fn load_embedding(r: &mut Reader, prefix: &str, rows: usize, d: usize) -> Option<Embedding> {
    let name = at(prefix, "weight");
    let t = r.take(&name, &[rows, d])?;
    let weight = Tensor::from_data(TensorData::new(t.data.into_f32(), [rows, d]), r.device);
    Some(Embedding {
        weight: named(&name, weight),
    })
}

fn save_embedding(e: &Embedding, w: &mut Writer, prefix: &str) -> Result<()> {
    let t = e.weight.val();
    let [rows, d] = t.dims();
    w.matrix(&at(prefix, "weight"), &values(t)?, rows, d, false);
    Ok(())
}

/// The word-embedding table `[rows, h]` (row-major) as row shards of [`crate::bert::shard_rows`].
/// Takes the table by value: the last shard keeps its allocation (the whole table, when it
/// fits one shard), so a 100 MB table is not copied once more while a model loads.
pub fn word_shards(mut data: Vec<f32>, h: usize, device: &Device) -> Vec<Embedding> {
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
                    &format!("embeddings.{}.weight#{k}", Embeddings::WORD),
                    Tensor::from_data(TensorData::new(chunk, shape), device),
                ),
            }
        })
        .collect()
}

impl Embeddings {
    /// Hugging Face's names, under `embeddings`.
    const WORD: &str = "word_embeddings";
    const POSITION: &str = "position_embeddings";
    const TOKEN_TYPE: &str = "token_type_embeddings";
    const NORM: &str = "LayerNorm";

    /// `words_external`: an on-demand vocabulary, whose rows are not in the weights (the
    /// encoder gets them from the rows file, [`crate::words`]).
    pub fn load(r: &mut Reader, cfg: &EncoderConfig, words_external: bool) -> Option<Self> {
        let (h, prefix) = (cfg.hidden_size, "embeddings");
        let word = if words_external {
            Some((Vec::new(), None))
        } else {
            let int8 = r.int8;
            let device = r.device;
            r.take(&at(&at(prefix, Self::WORD), "weight"), &[cfg.vocab_size, h])
                .map(|w| match w.data {
                    // Integer inference reads the stored rows; everything else widens them.
                    Values::Int8Rows { q, scales } if int8 => {
                        (Vec::new(), Some(Arc::new(Int8Table::dense(q, scales, h))))
                    }
                    data => (word_shards(data.into_f32(), h, device), None),
                })
        };
        let position = load_embedding(r, &at(prefix, Self::POSITION), cfg.max_position_embeddings, h);
        let token_type = load_embedding(r, &at(prefix, Self::TOKEN_TYPE), cfg.type_vocab_size, h);
        let norm = Norm::load(r, &at(prefix, Self::NORM), h, cfg.layer_norm_eps);
        let (word, word_int8) = word?;
        Some(Self {
            word,
            word_int8,
            position: position?,
            token_type: token_type?,
            norm: norm?,
        })
    }

    pub fn save(&self, w: &mut Writer) -> Result<()> {
        let prefix = "embeddings";
        if self.word.is_empty() {
            return Err(ModelError::Input(
                "the word table is held in int8 (a model loaded for int8 inference, or an on-demand vocabulary): load a full checkpoint in f32 to save or export it".into(),
            ));
        }
        let mut word = Vec::new();
        let mut rows = 0;
        for shard in &self.word {
            let t = shard.weight.val();
            rows += t.dims()[0];
            word.extend(values(t)?);
        }
        let h = word.len() / rows.max(1);
        w.matrix(&at(&at(prefix, Self::WORD), "weight"), &word, rows, h, true);
        save_embedding(&self.position, w, &at(prefix, Self::POSITION))?;
        save_embedding(&self.token_type, w, &at(prefix, Self::TOKEN_TYPE))?;
        self.norm.save(w, &at(prefix, Self::NORM))
    }
}

impl SelfAttention {
    /// Hugging Face's names, under a layer's `attention`.
    const DENSE: [&str; 4] = ["self.query", "self.key", "self.value", "output.dense"];
    const NORM: &str = "output.LayerNorm";

    pub fn load(r: &mut Reader, prefix: &str, cfg: &EncoderConfig) -> Option<Self> {
        let h = cfg.hidden_size;
        let [query, key, value, output] = Self::DENSE.map(|n| Dense::load(r, &at(prefix, n), h, h));
        let norm = Norm::load(r, &at(prefix, Self::NORM), h, cfg.layer_norm_eps);
        Some(Self {
            query: query?,
            key: key?,
            value: value?,
            output: output?,
            norm: norm?,
            heads: cfg.num_attention_heads,
        })
    }

    pub fn save(&self, w: &mut Writer, prefix: &str) -> Result<()> {
        for (n, d) in Self::DENSE
            .iter()
            .zip([&self.query, &self.key, &self.value, &self.output])
        {
            d.save(w, &at(prefix, n))?;
        }
        self.norm.save(w, &at(prefix, Self::NORM))
    }
}

impl Layer {
    /// Hugging Face's names, under `encoder.layer.{i}`.
    const ATTENTION: &str = "attention";
    const INTERMEDIATE: &str = "intermediate.dense";
    const OUTPUT: &str = "output.dense";
    const NORM: &str = "output.LayerNorm";

    pub fn load(r: &mut Reader, prefix: &str, cfg: &EncoderConfig) -> Option<Self> {
        let (h, i) = (cfg.hidden_size, cfg.intermediate_size);
        let attention = SelfAttention::load(r, &at(prefix, Self::ATTENTION), cfg);
        let intermediate = Dense::load(r, &at(prefix, Self::INTERMEDIATE), h, i);
        let output = Dense::load(r, &at(prefix, Self::OUTPUT), i, h);
        let norm = Norm::load(r, &at(prefix, Self::NORM), h, cfg.layer_norm_eps);
        Some(Self {
            attention: attention?,
            intermediate: intermediate?,
            output: output?,
            norm: norm?,
        })
    }

    pub fn save(&self, w: &mut Writer, prefix: &str) -> Result<()> {
        self.attention.save(w, &at(prefix, Self::ATTENTION))?;
        self.intermediate.save(w, &at(prefix, Self::INTERMEDIATE))?;
        self.output.save(w, &at(prefix, Self::OUTPUT))?;
        self.norm.save(w, &at(prefix, Self::NORM))
    }
}

impl Bert {
    const POOLER: &str = "pooler.dense";

    fn layer_prefix(i: usize) -> String {
        format!("encoder.layer.{i}")
    }

    /// The encoder from a checkpoint's tensors, each taken once; anything missing,
    /// mis-shaped or left over is one error naming them. `want_pooler`: `pooler.dense` is
    /// required (pooling is `Pooler`); otherwise it is loaded when present, so that a save
    /// round-trips it. `int8`: the linears packed for integer inference only (such an
    /// encoder cannot be trained or exported). `words_external`: an on-demand vocabulary.
    pub fn load(
        cfg: &EncoderConfig,
        map: &mut WeightMap,
        device: &Device,
        want_pooler: bool,
        int8: bool,
        words_external: bool,
    ) -> Result<Self> {
        let has_pooler = map.tensors.contains_key(&at(Self::POOLER, "weight"));
        if want_pooler && !has_pooler {
            return Err(ModelError::Mismatch {
                path: map.origin.clone(),
                message: "pooling is `pooler` but the checkpoint has no pooler.dense weights".into(),
            });
        }
        // A config may claim any number of layers; name the first one the weights lack and
        // summarise the rest, rather than walk (and list) billions of absent tensors.
        let file_layers = map
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
        let mut r = Reader::new(map, device, int8);
        let embeddings = Embeddings::load(&mut r, cfg, words_external);
        let walk = cfg.num_hidden_layers.min(file_layers + 1);
        if cfg.num_hidden_layers > walk {
            r.missing.push(format!(
                "encoder.layer.{walk}..{} (config.json has num_hidden_layers = {}, the weights {file_layers})",
                cfg.num_hidden_layers - 1,
                cfg.num_hidden_layers
            ));
        }
        let layers: Vec<Option<Layer>> = (0..walk)
            .map(|i| Layer::load(&mut r, &Self::layer_prefix(i), cfg))
            .collect();
        let h = cfg.hidden_size;
        let pooler = if has_pooler {
            linear(&mut r, Self::POOLER, h, h)
        } else {
            None
        };
        r.finish()?;
        // finish() found nothing missing, so every part is there.
        Ok(Self {
            embeddings: embeddings.expect("checked by finish"),
            layers: layers.into_iter().map(|l| l.expect("checked by finish")).collect(),
            pooler,
        })
    }

    /// Every weight under its Hugging Face name (no `bert.` prefix), in HF layouts.
    pub fn save(&self, w: &mut Writer) -> Result<()> {
        self.embeddings.save(w)?;
        for (i, l) in self.layers.iter().enumerate() {
            l.save(w, &Self::layer_prefix(i))?;
        }
        if let Some(p) = &self.pooler {
            save_linear(p, w, Self::POOLER)?;
        }
        Ok(())
    }
}
