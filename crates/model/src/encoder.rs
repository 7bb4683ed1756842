//! A ready-to-use sentence encoder: config + tokenizer + weights + pooling + prefixes.
//!
//! Everything comes in as bytes ([`ModelFiles`]) so the same code runs in the browser;
//! native builds add [`ModelFiles::read_dir`] and saving.
//! long: loading (config, prefixes, pooling, lengths and their checks) and inference (batching,
//! length sorting, pooling) of one encoder; they share its fields and little else would read
//! better apart.

use std::path::{Path, PathBuf};

use burn::prelude::*;

use crate::bert::{BatchTensors, Bert};
use crate::config::EncoderConfig;
use crate::error::{ModelError, Result};
use crate::files::{HbtMeta, ModelFiles};
use crate::pooling::{Pooling, l2_normalize, pool};
use crate::precision::Precision;
use crate::weights::WeightMap;
use crate::words::{Int8Table, OnDemandWords};
use hbt_tokenizer::{PackedBatch, Prefixes, TextKind, TextTokenizer, TokenBatch};

/// Choices that override what the model directory says.
#[derive(Debug, Clone, Default)]
pub struct EncoderOptions {
    /// Linear layers in f32 (default), bf16 (CPU backend only) or f16 (GPU backends only).
    pub precision: Precision,
    pub pooling: Option<Pooling>,
    pub max_len: Option<usize>,
    pub prefixes: Option<Prefixes>,
    /// Skip L2 normalisation (on by default: retrieval scores are cosines).
    pub no_normalize: bool,
}

/// An encoder before its weights ([`Encoder::prepare`]).
#[derive(Debug)]
pub struct Prepared {
    origin: PathBuf,
    words: Option<OnDemandWords>,
    word_rows: Option<Vec<u8>>,
    config: EncoderConfig,
    tokenizer: TextTokenizer,
    pooling: Pooling,
    normalize: bool,
    prefixes: Prefixes,
    notes: Vec<String>,
}

/// A sentence encoder on one device.
#[derive(Debug)]
pub struct Encoder {
    pub bert: Bert,
    pub config: EncoderConfig,
    pub tokenizer: TextTokenizer,
    pub pooling: Pooling,
    pub normalize: bool,
    pub prefixes: Prefixes,
    pub device: Device,
    pub precision: Precision,
    /// Texts per forward pass in [`Encoder::embed`].
    pub batch_size: usize,
    /// What the loader decided that the model's files did not say (prefixes it assumed,
    /// say): a caller shows them as warnings.
    pub notes: Vec<String>,
}

impl Encoder {
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(dir: &Path, device: &Device, options: &EncoderOptions) -> Result<Self> {
        Self::from_files(ModelFiles::read_dir(dir)?, device, options)
    }

    pub fn from_files(mut files: ModelFiles, device: &Device, options: &EncoderOptions) -> Result<Self> {
        let weights = std::mem::take(&mut files.weights);
        Self::from_prepared(Self::prepare(files, options)?, weights, device, options)
    }

    /// Everything but the weights: config, pooling, prefixes and the tokenizer (`files.weights`
    /// is ignored). Apart so that a caller can time the two (the browser's worker shows where
    /// a second visit's load goes: the tokenizer was most of the encoder's build there).
    pub fn prepare(files: ModelFiles, options: &EncoderOptions) -> Result<Prepared> {
        let o = &files.origin;
        let config = EncoderConfig::from_bytes(&files.config, &o.join("config.json"))?;
        let meta: Option<HbtMeta> = match &files.hbt_meta {
            Some(b) => Some(serde_json::from_slice(b).map_err(|source| ModelError::Json {
                path: o.join("hbt.json"),
                source,
            })?),
            None => None,
        };
        let pooling = match (options.pooling, &meta, &files.st_pooling) {
            (Some(p), _, _) => p,
            (None, Some(m), _) => m.pooling,
            (None, None, Some(b)) => Pooling::from_st_bytes(b, &o.join("1_Pooling/config.json"))?,
            (None, None, None) => Pooling::Mean,
        };
        // sentence-transformers' max_seq_length when present, else the position table's limit.
        let st_max = match &files.st_config {
            Some(b) => {
                let v: serde_json::Value = serde_json::from_slice(b).map_err(|source| ModelError::Json {
                    path: o.join("sentence_bert_config.json"),
                    source,
                })?;
                v.get("max_seq_length").and_then(|m| m.as_u64()).map(|m| m as usize)
            }
            None => None,
        };
        let limit = config.max_sequence_length();
        let max_len = options.max_len.or(st_max).unwrap_or(limit);
        if max_len > limit {
            return Err(ModelError::config(
                o.join("config.json"),
                format!("max length {max_len} exceeds the {limit} positions the model has"),
            ));
        }
        let mut notes = Vec::new();
        let prefixes = match (&options.prefixes, &meta) {
            (Some(p), _) => p.clone(),
            (None, Some(m)) => m.prefixes.clone(),
            (None, None) => match prompts_from_st(
                files.st_prompts.as_deref(),
                &o.join("config_sentence_transformers.json"),
            )? {
                Some(p) => p,
                None => {
                    let (p, note) = undeclared_prefixes(&config, o);
                    notes.extend(note);
                    p
                }
            },
        };
        let normalize = !options.no_normalize && meta.as_ref().map(|m| m.normalize).unwrap_or(true);
        let words = meta.as_ref().and_then(|m| m.words.clone());
        let mut tokenizer = tokenizer_for(files.tokenizer, files.pieces, words.as_ref(), o, max_len, &config)?;
        tokenizer.id_limit = u32::try_from(config.vocab_size).ok();
        // Ids a post-processor adds are not in the vocabulary: one probe text checks them
        // against the embedding rows now rather than at the first query.
        tokenizer.encode(&["hbt probe"])?;
        // Every id the tokenizer can emit must have an embedding row, or a lookup would
        // read past the table.
        let (size, top) = tokenizer.vocab_extent();
        let top = top.map_or(0, |m| m as usize + 1);
        if size > config.vocab_size || top > config.vocab_size {
            return Err(ModelError::Mismatch {
                path: o.join("tokenizer.json"),
                message: format!(
                    "the tokenizer has {} tokens with ids up to {} but the model's vocab_size is {}",
                    size,
                    top.saturating_sub(1),
                    config.vocab_size
                ),
            });
        }
        if config.pad_token_id as usize >= config.vocab_size {
            return Err(ModelError::config(
                o.join("config.json"),
                format!(
                    "pad_token_id {} is outside the vocabulary ({} rows)",
                    config.pad_token_id, config.vocab_size
                ),
            ));
        }
        Ok(Prepared {
            origin: files.origin,
            words,
            word_rows: files.word_rows,
            config,
            tokenizer,
            pooling,
            normalize,
            prefixes,
            notes,
        })
    }

    /// The encoder from [`Encoder::prepare`]'s result and the safetensors files' bytes
    /// (`model.safetensors` or every shard, by path).
    pub fn from_prepared(
        prepared: Prepared,
        weights: Vec<(PathBuf, Vec<u8>)>,
        device: &Device,
        options: &EncoderOptions,
    ) -> Result<Self> {
        let Prepared {
            origin,
            words,
            word_rows,
            config,
            tokenizer,
            pooling,
            normalize,
            prefixes,
            notes,
        } = prepared;
        let int8 = options.precision == Precision::Int8;
        if int8 && (device.is_autodiff() || !crate::is_cpu(device)) {
            return Err(ModelError::Input(
                "int8 precision is for inference on the CPU backend (use f32 or bf16 to train, f32 on the GPU)".into(),
            ));
        }
        if weights.is_empty() {
            return Err(ModelError::NotFound(
                origin.join("model.safetensors").display().to_string(),
            ));
        }
        let mut map = WeightMap {
            origin: weights
                .first()
                .map(|(p, _)| p.clone())
                .unwrap_or_else(|| origin.join("model.safetensors")),
            ..Default::default()
        };
        for (path, bytes) in &weights {
            map.add_safetensors(bytes, path)?;
        }
        drop(weights);
        let mut bert = Bert::load(
            &config,
            &mut map,
            device,
            pooling == Pooling::Pooler,
            int8,
            words.is_some(),
        )?;
        if let (Some(w), Some(bytes)) = (&words, word_rows) {
            attach_word_rows(&mut bert, w, &bytes, &origin, &config)?;
        }
        let plain = device.clone().without_autodiff();
        match options.precision {
            Precision::Bf16 if !crate::is_cpu(&plain) => {
                // The bf16 products are the patched flex's (AMX); GPU backends are not wired
                // (on Vulkan bf16 is a storage type only: f16 is the tensor cores' type).
                return Err(ModelError::Input(
                    "bf16 precision runs on the CPU backend only (use --backend cpu, or --precision f16 on the GPU)"
                        .into(),
                ));
            }
            Precision::F16 if crate::is_cpu(&plain) => {
                return Err(ModelError::Input(
                    "f16 precision runs on the GPU backends only (use --backend wgpu, or --precision bf16 on the CPU)"
                        .into(),
                ));
            }
            Precision::F16 if !plain.supports_dtype(burn::tensor::DType::F16) => {
                return Err(ModelError::Input(
                    "this GPU adapter offers no f16 arithmetic (wgpu's SHADER_F16 / Vulkan's shaderFloat16): use --precision f32"
                        .into(),
                ));
            }
            _ => {}
        }
        if let Some(half) = options.precision.half() {
            // Inference stores the weights in the half type once; training keeps f32 weights
            // for the optimizer and casts them in each forward pass (autocast).
            bert = bert.with_half_linears(half, !device.is_autodiff());
        }
        let mut tokenizer = tokenizer;
        tokenizer.pad_multiple = crate::pad_multiple(device);
        Ok(Self {
            bert,
            config,
            tokenizer,
            pooling,
            normalize,
            prefixes,
            device: device.clone(),
            precision: options.precision,
            batch_size: 32,
            notes,
        })
    }

    /// Tokenize texts (with the prefix for `kind`).
    pub fn tokenize(&self, texts: &[&str], kind: TextKind) -> Result<TokenBatch> {
        let prefixed: Vec<String> = texts.iter().map(|t| self.prefixes.apply(kind, t)).collect();
        let refs: Vec<&str> = prefixed.iter().map(String::as_str).collect();
        Ok(self.tokenizer.encode(&refs)?)
    }

    /// Whether the word rows come from the caller: an on-demand vocabulary whose rows file
    /// was not read (the browser fetches rows as queries need them and passes them to
    /// [`Encoder::to_device_with_rows`]).
    pub fn words_on_demand(&self) -> bool {
        let e = &self.bert.embeddings;
        e.word.is_empty() && e.word_int8.is_none()
    }

    /// Move a host batch to the device, with the architecture's position ids. An encoder
    /// whose rows come from the caller ([`Encoder::words_on_demand`]) takes
    /// [`Encoder::to_device_with_rows`] instead; given here, its forward pass panics.
    pub fn to_device(&self, batch: &TokenBatch, device: &Device) -> BatchTensors {
        self.to_device_at(batch, None, device)
    }

    /// [`Encoder::to_device`] with the rows' position ids given (`[batch · seq]`), or
    /// counted from each row's mask (one text a row) when `None`.
    fn to_device_at(&self, batch: &TokenBatch, positions: Option<Vec<i64>>, device: &Device) -> BatchTensors {
        let rows = self.bert.embeddings.word_int8.as_ref().map(|table| {
            table
                .gather(&batch.ids)
                .expect("a dense table holds every id the tokenizer emits")
        });
        self.tensors(batch, rows, positions, device)
    }

    /// [`Encoder::to_device`] with the word rows from `table` (the rows of an on-demand
    /// vocabulary fetched so far); the ids it lacks are the error.
    pub fn to_device_with_rows(
        &self,
        batch: &TokenBatch,
        table: &Int8Table,
        device: &Device,
    ) -> std::result::Result<BatchTensors, Vec<u32>> {
        let rows = table.gather(&batch.ids)?;
        Ok(self.tensors(batch, Some(rows), None, device))
    }

    fn tensors(
        &self,
        batch: &TokenBatch,
        word_rows: Option<Vec<f32>>,
        positions: Option<Vec<i64>>,
        device: &Device,
    ) -> BatchTensors {
        let (b, t) = (batch.batch, batch.seq);
        let word_states =
            word_rows.map(|r| Tensor::<3>::from_data(TensorData::new(r, [b, t, self.config.hidden_size]), device));
        let rows = crate::bert::shard_rows(self.config.hidden_size);
        let mut shards: Vec<usize> = if word_states.is_some() {
            Vec::new()
        } else {
            batch.ids.iter().map(|&i| i as usize / rows).collect()
        };
        shards.sort_unstable();
        shards.dedup();
        let words = shards
            .iter()
            .map(|&s| {
                let ids: Vec<i64> = batch
                    .ids
                    .iter()
                    .map(|&i| {
                        if i as usize / rows == s {
                            (i as usize % rows) as i64
                        } else {
                            0
                        }
                    })
                    .collect();
                let mask = (shards.len() > 1).then(|| {
                    let m: Vec<f32> = batch
                        .ids
                        .iter()
                        .map(|&i| (i as usize / rows == s) as u8 as f32)
                        .collect();
                    Tensor::<3>::from_data(TensorData::new(m, [b, t, 1]), device)
                });
                crate::bert::WordShard {
                    shard: s,
                    ids: Tensor::from_data(TensorData::new(ids, [b, t]), device),
                    mask,
                }
            })
            .collect();
        let positions = positions.unwrap_or_else(|| {
            (0..b)
                .flat_map(|r| self.config.position_ids(&batch.mask[r * t..(r + 1) * t]))
                .collect()
        });
        let mask: Vec<f32> = batch.mask.iter().map(|&m| m as f32).collect();
        BatchTensors {
            words,
            word_states,
            positions: Tensor::from_data(TensorData::new(positions, [b, t]), device),
            types: Tensor::zeros([b, t], device),
            mask: Tensor::from_data(TensorData::new(mask, [b, t]), device),
            // Burn's fused attention where it is faster and no gradient is needed: the CPU
            // without autodiff. GPUs keep the matmul/softmax path, which wgpu's fusion
            // compiles into few kernels anyway.
            fused_attention: crate::is_cpu(device),
            packing: None,
        }
    }

    /// [`Encoder::to_device`] for texts packed several to a row: position ids restart at
    /// each text, attention stays within it, and [`Encoder::forward`] pools each text on
    /// its own — the vectors of the padded batch, to float rounding, in its order.
    pub fn to_device_packed(&self, packed: &PackedBatch, device: &Device) -> BatchTensors {
        let (positions, layout) = crate::packing::layout(packed, &self.config, self.pooling, device);
        let mut t = self.to_device_at(&packed.tokens, Some(positions), device);
        t.packing = Some(layout);
        t
    }

    /// Sentence vectors `[batch, hidden]` for a tokenized batch; differentiable when the
    /// device has autodiff, so training uses this too.
    pub fn forward(&self, batch: &BatchTensors) -> Tensor<2> {
        self.forward_with(&self.bert, batch)
    }

    /// [`Encoder::forward`] with another copy of the weights (e.g. `bert.valid()`, the
    /// gradient-free view of a model being trained).
    pub fn forward_with(&self, bert: &Bert, batch: &BatchTensors) -> Tensor<2> {
        let states = bert.forward(batch);
        let v = match &batch.packing {
            // Each text's weights over its row pick out its mean or first token.
            Some(p) => {
                let [rows, _, h] = states.dims();
                let k = p.weights.dims()[1];
                let v = p
                    .weights
                    .clone()
                    .matmul(states)
                    .reshape([rows * k, h])
                    .select(0, p.texts.clone());
                match self.pooling {
                    Pooling::Pooler => bert.pooler_on(v).expect("the pooler is checked at load time"),
                    _ => v,
                }
            }
            None => {
                let pooled = match self.pooling {
                    Pooling::Pooler => bert.pooler_output(states.clone()),
                    _ => None,
                };
                pool(states, batch.mask.clone(), self.pooling, pooled)
            }
        };
        if self.normalize { l2_normalize(v) } else { v }
    }

    /// Embed texts in batches of `batch_size`; one vector per text, in order.
    pub fn embed(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        if texts.is_empty() {
            return Err(ModelError::Input("no texts to embed (the text list is empty)".into()));
        }
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(self.batch_size.max(1)) {
            out.extend(self.embed_batch(chunk, kind)?);
        }
        Ok(out)
    }

    fn refuse_on_demand(&self) -> Result<()> {
        if self.words_on_demand() {
            return Err(ModelError::Input(
                "this encoder's word rows are fetched on demand: encode through to_device_with_rows".into(),
            ));
        }
        Ok(())
    }

    /// Embed one batch in a single forward pass.
    pub fn embed_batch(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        self.refuse_on_demand()?;
        let batch = self.tokenize(texts, kind)?;
        let tensors = self.to_device(&batch, &self.device);
        let v = self.forward(&tensors);
        let h = self.config.hidden_size;
        let flat = v
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::Backend(format!("{e:?}")))?;
        Ok(flat.chunks(h).map(<[f32]>::to_vec).collect())
    }

    /// [`Encoder::embed_batch`] for devices that read back only asynchronously (WebGPU in
    /// a browser, where blocking the main thread is not allowed).
    pub async fn embed_batch_async(&self, texts: &[&str], kind: TextKind) -> Result<Vec<Vec<f32>>> {
        self.refuse_on_demand()?;
        let batch = self.tokenize(texts, kind)?;
        let tensors = self.to_device(&batch, &self.device);
        let v = self.forward(&tensors);
        let h = self.config.hidden_size;
        let flat = v
            .into_data_async()
            .await
            .map_err(|e| ModelError::Backend(format!("{e:?}")))?
            .try_to_vec::<f32>()
            .map_err(|e| ModelError::Backend(format!("{e:?}")))?;
        Ok(flat.chunks(h).map(<[f32]>::to_vec).collect())
    }

    pub fn meta(&self) -> HbtMeta {
        HbtMeta {
            pooling: self.pooling,
            normalize: self.normalize,
            prefixes: self.prefixes.clone(),
            words: None,
        }
    }
}

/// The tokenizer of a model directory: `tokenizer.json`, or with an on-demand vocabulary its
/// skeleton and the pieces file (whose table must have the config's rows).
fn tokenizer_for(
    json: Vec<u8>,
    pieces: Option<Vec<u8>>,
    words: Option<&OnDemandWords>,
    o: &Path,
    max_len: usize,
    config: &EncoderConfig,
) -> Result<TextTokenizer> {
    let tokenizer = match (words, pieces) {
        (None, _) => TextTokenizer::new(json, &o.join("tokenizer.json"), max_len, config.pad_token_id)?,
        (Some(w), Some(pieces)) => TextTokenizer::with_pieces(
            json,
            &pieces,
            &o.join("tokenizer.json"),
            &o.join(&w.pieces_file),
            max_len,
            config.pad_token_id,
        )?,
        (Some(w), None) => return Err(ModelError::NotFound(o.join(&w.pieces_file).display().to_string())),
    };
    if let Some(w) = words
        && w.rows != config.vocab_size
    {
        return Err(ModelError::Mismatch {
            path: o.join("hbt.json"),
            message: format!(
                "{} has {} rows but config.json's vocab_size is {}",
                w.rows_file, w.rows, config.vocab_size
            ),
        });
    }
    Ok(tokenizer)
}

/// An on-demand vocabulary's rows file, read whole, as the encoder's int8 word table.
fn attach_word_rows(
    bert: &mut Bert,
    w: &OnDemandWords,
    bytes: &[u8],
    origin: &Path,
    config: &EncoderConfig,
) -> Result<()> {
    let path = origin.join(&w.rows_file);
    let table = Int8Table::from_rows_file(bytes, &path.display().to_string())?;
    if table.rows() != config.vocab_size || table.hidden != config.hidden_size {
        return Err(ModelError::Mismatch {
            path,
            message: format!(
                "{} rows of {} values, but config.json says {} of {}",
                table.rows(),
                table.hidden,
                config.vocab_size,
                config.hidden_size
            ),
        });
    }
    bert.embeddings.word_int8 = Some(std::sync::Arc::new(table));
    Ok(())
}

fn prompts_from_st(bytes: Option<&[u8]>, origin: &Path) -> Result<Option<Prefixes>> {
    let Some(b) = bytes else { return Ok(None) };
    let v: serde_json::Value = serde_json::from_slice(b).map_err(|source| ModelError::Json {
        path: origin.to_path_buf(),
        source,
    })?;
    let p = &v["prompts"];
    let (q, d) = (
        p.get("query").and_then(|s| s.as_str()),
        p.get("passage").and_then(|s| s.as_str()),
    );
    Ok(match (q, d) {
        (None, None) => None,
        (q, d) => Some(Prefixes {
            query: q.unwrap_or("").into(),
            passage: d.unwrap_or("").into(),
        }),
    })
}

/// The e5 family is trained with "query: " / "passage: " and loses much without them (about
/// 2.5 points of multilingual mAP on XQuAD-R, untrained). A model that declares no prompts
/// gets them only when the model itself says it is e5 — `_name_or_path` in its config, or
/// multilingual-e5-small's exact shape (a BERT over its 250,037-piece vocabulary, 12 layers
/// of 384) — never because of what its folder is called; either way with a note naming the
/// flags, since the guess changes every vector. A folder named like e5 whose model is not
/// recognisably e5 gets no prefixes, and a note saying so.
fn undeclared_prefixes(config: &EncoderConfig, origin: &Path) -> (Prefixes, Option<String>) {
    let is_e5 = |s: &str| s.to_lowercase().contains("e5-") || s.to_lowercase().contains("-e5");
    let name = config.raw.get("_name_or_path").and_then(|v| v.as_str()).unwrap_or("");
    let e5_small_shape = config.architecture.model_type() == "bert"
        && config.vocab_size == 250_037
        && config.hidden_size == 384
        && config.num_hidden_layers == 12;
    let flags = "--query-prefix/--passage-prefix set them (or add prompts to config_sentence_transformers.json)";
    let why = if is_e5(name) {
        Some(format!("its config.json names it `{name}`"))
    } else if e5_small_shape {
        Some("it has multilingual-e5-small's vocabulary and shape".to_string())
    } else {
        None
    };
    match why {
        Some(why) => (
            Prefixes::e5(),
            Some(format!(
                "{}: the model declares no query/passage prompts; using e5's \"query: \" / \"passage: \" because {why}; {flags}",
                origin.display()
            )),
        ),
        None => {
            let dir = origin.file_name().and_then(|s| s.to_str()).unwrap_or("");
            let note = is_e5(dir).then(|| {
                format!(
                    "{}: the folder's name says e5 but the model declares no prompts and is not recognisably e5, so no prefixes are used; {flags}",
                    origin.display()
                )
            });
            (Prefixes::default(), note)
        }
    }
}
