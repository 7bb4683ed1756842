//! The BERT / XLM-R encoder as Burn modules: embeddings, post-LN transformer layers with a
//! padding mask, and the optional BERT pooler. Weights are laid out as Burn wants them
//! (`[d_in, d_out]` linears); `weights.rs` does the Hugging Face name and layout mapping.

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::prelude::*;
use burn::tensor::activation::{gelu, softmax, tanh};
use burn::tensor::module::{attention, layer_norm};
use burn::tensor::ops::AttentionModuleOptions;

use burn::tensor::DType;

use crate::dense::{Dense, forward_shared, half_product};

/// LayerNorm with both affine terms, built from loaded tensors (burn-nn's keeps its epsilon
/// private, so a pretrained one cannot be assembled from parts).
#[derive(Module, Debug)]
pub struct Norm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    pub eps: f64,
}

impl Norm {
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        crate::profile::time("layer norm (and residual add)", || {
            layer_norm(x, self.gamma.val(), Some(self.beta.val()), self.eps)
        })
    }
}

/// GPU APIs cap a single storage buffer (wgpu's default binding limit is 128 MiB; Mesa's
/// lavapipe refuses e5's 384 MB table outright), so the word-embedding table is kept in
/// row shards of at most this many bytes.
pub const MAX_SHARD_BYTES: usize = 96 << 20;

/// Rows per word-embedding shard for a hidden size.
pub fn shard_rows(hidden: usize) -> usize {
    (MAX_SHARD_BYTES / (hidden * 4)).max(1)
}

#[derive(Module, Debug)]
pub struct Embeddings {
    /// The word-embedding table in row shards of [`shard_rows`] rows (empty when the table
    /// is held in `word_int8`, or fetched row by row by the caller: an on-demand vocabulary
    /// in the browser, [`crate::words`]).
    pub word: Vec<Embedding>,
    pub position: Embedding,
    pub token_type: Embedding,
    pub norm: Norm,
    /// An int8-stored table kept as stored for CPU inference (`Precision::Int8`): a query
    /// reads a few dozen rows, and the f32 table would cost 4× the memory and the time to
    /// widen it at every load (135 MB for the demo bundle's 88,088 rows); also an on-demand
    /// vocabulary's rows file read whole (natively). Rows are gathered on the host
    /// ([`Encoder::to_device`](crate::Encoder::to_device)), on any backend.
    #[module(skip)]
    pub word_int8: Option<std::sync::Arc<Int8Table>>,
}

pub use crate::words::Int8Table;

/// Token ids for one word-embedding shard: ids local to the shard, and (when the batch
/// spans several shards) a `[batch, seq, 1]` mask of the tokens that live in it.
#[derive(Debug, Clone)]
pub struct WordShard {
    pub shard: usize,
    pub ids: Tensor<2, Int>,
    pub mask: Option<Tensor<3>>,
}

impl Embeddings {
    /// `word_states`: the batch's word-embedding rows, gathered on the host from an int8
    /// table ([`Int8Table`]: the stored table, or the rows of an on-demand vocabulary fetched
    /// so far); otherwise `words` index the table's shards on the device.
    pub fn forward(
        &self,
        words: &[WordShard],
        word_states: Option<Tensor<3>>,
        positions: Tensor<2, Int>,
        types: Tensor<2, Int>,
    ) -> Tensor<3> {
        let mut x = self.position.forward(positions) + self.token_type.forward(types);
        if let Some(w) = word_states {
            return self.norm.forward(x + w);
        }
        assert!(
            !self.word.is_empty(),
            "this encoder's word rows come from an int8 or on-demand table: build its batches with Encoder::to_device"
        );
        for w in words {
            let e = self.word[w.shard].forward(w.ids.clone());
            x = x + match &w.mask {
                Some(m) => e * m.clone(),
                None => e,
            };
        }
        self.norm.forward(x)
    }
}

#[derive(Module, Debug)]
pub struct SelfAttention {
    pub query: Dense,
    pub key: Dense,
    pub value: Dense,
    pub output: Dense,
    pub norm: Norm,
    pub heads: usize,
}

/// How a layer masks padded keys.
#[derive(Debug, Clone)]
pub enum AttentionMask {
    /// `[batch, 1, 1, seq]`: 0 for real keys, a large negative number for padding, added
    /// to the scores. Differentiable everywhere, so training uses it.
    Bias(Tensor<4>),
    /// `[batch, 1, 1, seq]`, true for padding: Burn's fused attention kernel (one pass over
    /// the scores per head, no `[batch, heads, seq, seq]` temporaries). Inference only:
    /// Burn's fused op has no backward.
    Fused(Tensor<4, Bool>),
}

impl SelfAttention {
    pub fn forward(&self, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        let [b, t, h] = x.dims();
        let d = h / self.heads;
        let split = |y: Tensor<3>| y.reshape([b, t, self.heads, d]).swap_dims(1, 2);
        let [q, k, v] = forward_shared([&self.query, &self.key, &self.value], x.clone()).map(split);
        let context = crate::profile::time("attention (scores, mask, softmax, context)", || match mask {
            AttentionMask::Bias(bias) => {
                // In f16 the two products run in f16 too; the scale, the mask (-1e9 is no f16
                // number) and the softmax stay f32, as under PyTorch's autocast.
                let half = self.query.half().filter(|&h| h == DType::F16);
                let product = |a: Tensor<4>, b: Tensor<4>| match half {
                    Some(h) => half_product(a, b, h),
                    None => a.matmul(b),
                };
                let scores = product(q, k.swap_dims(2, 3)).div_scalar((d as f64).sqrt()) + bias.clone();
                product(softmax(scores, 3), v)
            }
            AttentionMask::Fused(pad) => {
                let pad = pad.clone().expand([b, 1, t, t]);
                attention(q, k, v, Some(pad), None, AttentionModuleOptions::default())
            }
        });
        let context = context.swap_dims(1, 2).reshape([b, t, h]);
        // Post-LN: the residual is added before normalising, as in the original BERT.
        self.norm.forward(self.output.forward(context) + x)
    }
}

#[derive(Module, Debug)]
pub struct Layer {
    pub attention: SelfAttention,
    pub intermediate: Dense,
    pub output: Dense,
    pub norm: Norm,
}

impl Layer {
    pub fn forward(&self, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        let x = self.attention.forward(x, mask);
        let h = self.intermediate.forward(x.clone());
        let h = crate::profile::time("GELU", || gelu(h));
        self.norm.forward(self.output.forward(h) + x)
    }

    fn map_dense(self, f: impl Fn(Dense) -> Dense) -> Self {
        let a = self.attention;
        Self {
            attention: SelfAttention {
                query: f(a.query),
                key: f(a.key),
                value: f(a.value),
                output: f(a.output),
                norm: a.norm,
                heads: a.heads,
            },
            intermediate: f(self.intermediate),
            output: f(self.output),
            norm: self.norm,
        }
    }
}

/// The encoder: token ids in, contextual token states out (and the pooled CLS state when
/// the checkpoint has a pooler).
#[derive(Module, Debug)]
pub struct Bert {
    pub embeddings: Embeddings,
    pub layers: Vec<Layer>,
    pub pooler: Option<Linear>,
}

/// A tokenized batch on the device.
#[derive(Debug, Clone)]
pub struct BatchTensors {
    pub words: Vec<WordShard>,
    /// `[batch, seq, hidden]` word-embedding rows gathered on the host (int8 tables), used
    /// instead of `words`.
    pub word_states: Option<Tensor<3>>,
    pub positions: Tensor<2, Int>,
    pub types: Tensor<2, Int>,
    /// 1.0 for real tokens, 0.0 for padding.
    pub mask: Tensor<2>,
    /// Use Burn's fused attention op (set for CPU batches; on an autodiff device Burn runs
    /// its differentiable fallback for it, so training gets gradients either way).
    pub fused_attention: bool,
    /// Set when each row holds several texts ([`crate::PackedBatch`]).
    pub packing: Option<PackedLayout>,
}

/// Where a packed batch's texts lie in its rows, on the device.
#[derive(Debug, Clone)]
pub struct PackedLayout {
    /// `[rows, 1, seq, seq]`, true where a token may not attend: every key of another text.
    /// A row's padding is a block of its own, so no query sees only masked keys (an
    /// all-masked softmax would be NaN, and 0 · NaN survives pooling).
    pub blocked: Tensor<4, Bool>,
    /// `[rows, texts a row holds at most, seq]`: each text's pooling weights over its row
    /// (1/length on its tokens for mean pooling, 1 on its first token for CLS).
    pub weights: Tensor<3>,
    /// `[texts]`: where each text's vector lies among the `rows × texts per row` pooled
    /// ones, in the batch's order.
    pub texts: Tensor<1, Int>,
}

impl Bert {
    /// Token states `[batch, seq, hidden]`.
    pub fn forward(&self, input: &BatchTensors) -> Tensor<3> {
        let [b, t] = input.mask.dims();
        let mask = if let Some(p) = &input.packing {
            match input.fused_attention {
                true => AttentionMask::Fused(p.blocked.clone()),
                false => AttentionMask::Bias(p.blocked.clone().float().mul_scalar(-1e9)),
            }
        } else if input.fused_attention {
            AttentionMask::Fused(input.mask.clone().lower_elem(0.5).reshape([b, 1, 1, t]))
        } else {
            // Masked keys get -1e9: exp underflows to exactly 0 in f32, so padding cannot
            // change a real token's attention weights and a padded text embeds like the same
            // text alone.
            AttentionMask::Bias((input.mask.clone() - 1.0).mul_scalar(1e9).reshape([b, 1, 1, t]))
        };
        let mut x = self.embeddings.forward(
            &input.words,
            input.word_states.clone(),
            input.positions.clone(),
            input.types.clone(),
        );
        for layer in &self.layers {
            x = layer.forward(x, &mask);
        }
        x
    }

    /// The same encoder with every transformer linear in `half` ([`Dense::into_half`]); with
    /// `store` (inference) the weights themselves are kept in it.
    ///
    /// bf16 (CPU): Burn flex (hbt's patched copy, vendor/) multiplies f32 activations by
    /// stored bf16 weights on the AMX tiles where the CPU has them (activations rounded to
    /// bf16 as they are packed, f32 accumulation and output — PyTorch's bf16 autocast for
    /// linears), and by a converted weight elsewhere; attention stays f32.
    /// f16 (GPU): the linears and attention's two products take f16 operands (tensor cores
    /// on Vulkan); the scale, mask and softmax stay f32.
    /// Embeddings, LayerNorm, GELU and the pooler stay f32 in both.
    pub fn with_half_linears(self, half: DType, store: bool) -> Self {
        let layers = self
            .layers
            .into_iter()
            .map(|l| l.map_dense(|d| d.into_half(half, store)))
            .collect();
        Self { layers, ..self }
    }

    /// Whether the transformer multiplies in integers (a model loaded for int8 inference:
    /// it has no float copy of those weights).
    pub fn is_int8(&self) -> bool {
        self.layers.iter().any(|l| l.attention.query.is_int8())
    }

    /// BERT's pooler: `tanh(W · h_CLS + b)`; `None` when the checkpoint has no pooler.
    pub fn pooler_output(&self, states: Tensor<3>) -> Option<Tensor<2>> {
        let [b, _, h] = states.dims();
        self.pooler_on(states.slice(s![.., 0..1, ..]).reshape([b, h]))
    }

    /// The pooler over CLS states `[batch, hidden]` already picked out.
    pub fn pooler_on(&self, cls: Tensor<2>) -> Option<Tensor<2>> {
        Some(tanh(self.pooler.as_ref()?.forward(cls)))
    }
}
