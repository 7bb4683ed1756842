//! The number format an encoder multiplies in.

use serde::{Deserialize, Serialize};

/// Number format of the transformer's linear layers at inference.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Everything in f32 (the reference numerics).
    #[default]
    F32,
    /// CPU only. Inference: linear weights stored in bf16, activations rounded to bf16 at
    /// each product, f32 accumulation ([`crate::bert::Bert::with_half_linears`], [`crate::dense::Dense`]).
    /// Training (an autodiff device): f32 weights cast for each product, as
    /// `torch.autocast(bfloat16)` does.
    Bf16,
    /// GPU backends only (wgpu/Vulkan, an adapter with f16 shaders). The linear layers and
    /// attention's two products take f16 operands — on Vulkan, the tensor cores' type — with
    /// layer norm, softmax, the mask and the loss in f32. Inference stores those weights in
    /// f16; training keeps f32 master weights and optimizer state, casts at each product and
    /// scales the loss dynamically (`hbt_train`'s loss scaler), as `torch.autocast(float16)`
    /// with a `GradScaler` does.
    F16,
    /// CPU inference only: linear weights in int8 (per-output scales; exactly the stored
    /// integers of a `--dtype q8` export), each token's activations in 13–15-bit integers,
    /// exact integer sums ([`crate::int8`]). For the browser's wasm fallback, where it is the
    /// fastest product; natively it runs a portable kernel and is for checking fidelity.
    Int8,
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
            Self::F16 => "f16",
            Self::Int8 => "int8",
        })
    }
}

impl Precision {
    /// The 16-bit float its linear layers multiply in (bf16, f16), if any.
    pub fn half(self) -> Option<burn::tensor::DType> {
        match self {
            Self::Bf16 => Some(burn::tensor::DType::BF16),
            Self::F16 => Some(burn::tensor::DType::F16),
            Self::F32 | Self::Int8 => None,
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "f32" | "fp32" => Ok(Self::F32),
            "bf16" => Ok(Self::Bf16),
            "f16" | "fp16" => Ok(Self::F16),
            "int8" => Ok(Self::Int8),
            o => Err(format!("unknown precision `{o}` (f32, bf16, f16, int8)")),
        }
    }
}
