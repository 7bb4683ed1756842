//! A linear layer that owns its number format: the transformer's products are f32, bf16, f16
//! or int8 by what the layer *is*, so the encoder's forward pass passes none of it along.

use std::sync::Arc;

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::DType;

use crate::int8::PackedInt8;

/// How a [`Dense`] layer multiplies.
#[derive(Debug, Clone, Default)]
pub enum Format {
    /// f32 weight, f32 product (the reference numerics).
    #[default]
    F32,
    /// bf16 products (CPU only). A weight stored in bf16 ([`Dense::to_bf16`] with `store`,
    /// inference) multiplies the f32 input directly; an f32 weight (training) is cast for the
    /// product, as PyTorch's `autocast(bfloat16)` does — input and weight rounded to bf16,
    /// the product rounded to bf16, the bias added in f32 — so gradients flow through the
    /// casts and the optimizer keeps f32 weights.
    Bf16,
    /// f16 products (GPU backends), as PyTorch's `autocast(float16)` does: input and weight
    /// in f16 (the weight stored so for inference, cast from the f32 master weight in
    /// training), the product accumulated in f32 by the matmul kernel and handed on in f32,
    /// the bias added in f32. On Vulkan these are the operands the tensor cores take
    /// (`VK_KHR_cooperative_matrix` serves f16, not f32 or bf16).
    F16,
    /// The integer product ([`crate::int8`]) with this packed weight (bias included). The
    /// float weight is empty: the packed copy is the only one, so such a layer cannot be
    /// trained or saved in float.
    Int8(Arc<PackedInt8>),
}

/// `y = x·W + b` over `[batch, seq, in]`, in the layer's [`Format`].
#[derive(Module, Debug)]
pub struct Dense {
    /// Weight `[in, out]` and bias (Burn's layout; `weights.rs` maps Hugging Face's).
    pub linear: Linear,
    #[module(skip)]
    pub format: Format,
}

impl Dense {
    pub fn f32(linear: Linear) -> Self {
        Self {
            linear,
            format: Format::F32,
        }
    }

    /// Whether the layer multiplies in integers (and so has no float weight).
    pub fn is_int8(&self) -> bool {
        matches!(self.format, Format::Int8(_))
    }

    /// The 16-bit float the layer multiplies in, if any.
    pub fn half(&self) -> Option<DType> {
        match self.format {
            Format::Bf16 => Some(DType::BF16),
            Format::F16 => Some(DType::F16),
            _ => None,
        }
    }

    /// The same layer multiplying in `half` (bf16 or f16); with `store`, the weight itself
    /// is kept in it (inference: half the memory; for bf16, Burn flex multiplies f32
    /// activations by it on AMX tiles where the CPU has them); without, the f32 weight is
    /// cast at each product (training: the optimizer keeps f32 master weights).
    pub fn into_half(self, half: DType, store: bool) -> Self {
        let format = match half {
            DType::BF16 => Format::Bf16,
            DType::F16 => Format::F16,
            other => panic!("into_half takes bf16 or f16, not {other:?}"),
        };
        let linear = if store {
            Linear {
                weight: self.linear.weight.map(|w| w.cast(half)),
                bias: self.linear.bias,
            }
        } else {
            self.linear
        };
        Self { linear, format }
    }

    /// Tokens are folded into rows, one `[batch·seq, in] × [in, out]` product: Burn's
    /// `Linear::forward` keeps the product batched when each text's rows fill the CPU gemm's
    /// tiles, and flex then packs the same weight once per text (32 times a layer at batch 32).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, k] = x.dims();
        if let Format::Int8(p) = &self.format {
            return int8_product(p, x);
        }
        let w = self.linear.weight.val();
        let n = w.dims()[1];
        let x = x.reshape([b * t, k]);
        let y = match (self.half(), w.dtype()) {
            // flex's patched product: f32 activations by the stored bf16 weight (AMX).
            (Some(DType::BF16), DType::BF16) => x.matmul(w),
            (Some(h), _) => half_product(x, w, h),
            _ => x.matmul(w),
        };
        let y = match &self.linear.bias {
            Some(bias) => y + bias.val().unsqueeze_dim(0),
            None => y,
        };
        y.reshape([b, t, n])
    }
}

/// `a·b` with both operands in `half` (a no-op cast for one already in it) and the result
/// back in f32 — autocast's product; gradients flow back through both casts in f32.
pub fn half_product<const D: usize>(a: Tensor<D>, b: Tensor<D>, half: DType) -> Tensor<D> {
    let cast = |t: Tensor<D>| if t.dtype() == half { t } else { t.cast(half) };
    cast(a).matmul(cast(b)).cast(DType::F32)
}

/// The integer product on the host: the CPU backend's tensors are host memory already, and a
/// `[tokens, in]` activation is small next to the weight.
fn int8_product(p: &PackedInt8, x: Tensor<3>) -> Tensor<3> {
    int8_products(&[p], x).pop().expect("one layer in, one out")
}

/// Layers reading one input — a self-attention's query, key and value — in one pass when all
/// are int8: one trip to the host and one requantization instead of three, the same numbers.
pub fn forward_shared<const N: usize>(layers: [&Dense; N], x: Tensor<3>) -> [Tensor<3>; N] {
    let packed: Vec<&PackedInt8> = layers
        .iter()
        .filter_map(|l| match &l.format {
            Format::Int8(p) => Some(p.as_ref()),
            _ => None,
        })
        .collect();
    if packed.len() == N && packed.iter().all(|p| p.inputs() == packed[0].inputs()) {
        let ys = int8_products(&packed, x);
        return ys.try_into().unwrap_or_else(|_| unreachable!("one output a layer"));
    }
    layers.map(|l| l.forward(x.clone()))
}

fn int8_products(layers: &[&PackedInt8], x: Tensor<3>) -> Vec<Tensor<3>> {
    let [b, t, k] = x.dims();
    let device = x.device();
    let rows = crate::profile::time("int8: tensor to host and back", || {
        x.reshape([b * t, k])
            .into_data()
            .try_into_vec::<f32>()
            .expect("the encoder's activations are f32")
    });
    let ys = PackedInt8::forward_shared(layers, &rows, b * t);
    crate::profile::time("int8: tensor to host and back", || {
        ys.into_iter()
            .zip(layers)
            .map(|(y, p)| {
                Tensor::<2>::from_data(TensorData::new(y, [b * t, p.outputs()]), &device).reshape([b, t, p.outputs()])
            })
            .collect()
    })
}
