//! hbt-model: one multilingual text encoder (BERT and XLM-R families) written on Burn.
//!
//! It reads Hugging Face checkpoints as they are published (`config.json`,
//! `model.safetensors`, `tokenizer.json`, sentence-transformers' pooling files), runs on any
//! Burn device (flex on the CPU, wgpu/vulkan on GPUs, WebGPU in the browser) and saves back
//! to the same layout. The same code compiles to `wasm32-unknown-unknown`, where every file
//! arrives as bytes ([`ModelFiles`]).
//!
//! What it is not: the tokenizer (`hbt-tokenizer`, whose types it re-exports), delivering a
//! model to a browser (`hbt-bundle`: bundles, vocabulary pruning, on-demand tables, byte
//! ranges) or choosing a device (`hbt-device`). It runs on whatever device it is given.

pub mod bert;
pub mod checkpoint;
pub mod config;
mod dense;
mod encoder;
mod error;
mod files;
pub mod int8;
mod packing;
mod pooling;
mod precision;
pub mod profile;
#[cfg(not(target_arch = "wasm32"))]
pub mod save;
#[cfg(not(target_arch = "wasm32"))]
pub mod source;
pub mod weights;
pub mod words;

pub use burn;
pub use config::{Architecture, EncoderConfig};
pub use encoder::{Encoder, EncoderOptions, Prepared};
pub use error::{ModelError, Result};
pub use files::{HbtMeta, ModelFiles};
// The encoder's inputs are the tokenizer's types: named here so a caller needs one crate.
pub use hbt_tokenizer::{
    self as tokenizer, PackedBatch, Prefixes, Span, TextKind, TextTokenizer, TokenBatch, length_buckets,
};
pub use pooling::Pooling;
pub use precision::Precision;
#[cfg(not(target_arch = "wasm32"))]
pub use save::SaveOptions;
pub use weights::SaveDtype;

use burn::prelude::Device;

/// Whether the CPU backend multiplies by bf16 weights on Intel AMX tiles here (CPU support
/// and the OS's grant checked once); without it a bf16 weight is converted per multiply,
/// which is correct but slower than f32.
pub fn amx_available() -> bool {
    #[cfg(feature = "flex")]
    {
        burn_flex::amx::available()
    }
    #[cfg(not(feature = "flex"))]
    {
        false
    }
}

/// How far a batch's texts are padded (to a multiple of this many tokens), chosen once from
/// the device: 8 on the CPU (SIMD width, little waste); 32 on a GPU, which compiles (and
/// autotunes) kernels for every new shape, so that a run meets a handful of lengths rather
/// than one per batch. Every encoder starts with it ([`Encoder::from_prepared`]).
pub fn pad_multiple(device: &Device) -> usize {
    if is_cpu(&device.clone().without_autodiff()) {
        8
    } else {
        32
    }
}

/// Whether `device` is Burn's CPU backend — with or without autodiff: Burn's device
/// equality ignores the autodiff wrapper (checked: true for `Device::flex().autodiff()`).
pub fn is_cpu(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    {
        *device == Device::flex()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}
