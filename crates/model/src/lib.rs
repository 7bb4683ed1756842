//! hbt-model: one multilingual text encoder (BERT and XLM-R families) written on Burn.
//!
//! It reads Hugging Face checkpoints as they are published (`config.json`,
//! `model.safetensors`, `tokenizer.json`, sentence-transformers' pooling files), runs on any
//! Burn device (flex on the CPU, wgpu/vulkan on GPUs, WebGPU in the browser) and saves back
//! to the same layout. The same code compiles to `wasm32-unknown-unknown`, where every file
//! arrives as bytes ([`ModelFiles`]).

pub mod bert;
pub mod bundle;
pub mod byteranges;
pub mod config;
pub mod dense;
pub mod device_info;
pub mod encoder;
pub mod error;
pub mod int8;
#[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
pub mod kernels;
pub mod packing;
pub mod passage_vectors;
pub mod pieces;
pub mod pooling;
pub mod profile;
pub mod prune;
#[cfg(not(target_arch = "wasm32"))]
pub mod save;
#[cfg(not(target_arch = "wasm32"))]
pub mod source;
pub mod tokenize;
pub mod vocab;
pub mod weights;

pub use burn;
pub use config::{Architecture, EncoderConfig};
pub use device_info::{DeviceInfo, choose_device};
pub use encoder::{Encoder, EncoderOptions, HbtMeta, ModelFiles, Precision, Prefixes, Prepared, TextKind};
pub use error::{ModelError, Result};
pub use packing::{PackedBatch, Span};
pub use pooling::Pooling;
pub use prune::PruneStats;
#[cfg(not(target_arch = "wasm32"))]
pub use save::SaveOptions;
pub use tokenize::{TextTokenizer, TokenBatch, length_buckets};
pub use weights::SaveDtype;

use burn::prelude::Device;

/// Which Burn device to run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// Burn's flex backend on the CPU.
    Cpu,
    /// Burn's wgpu backend (Vulkan/Metal/DX12 natively; WebGPU in a browser).
    Wgpu,
}

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cpu" | "flex" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            o => Err(format!("unknown backend `{o}` (cpu, wgpu)")),
        }
    }
}

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

/// The device for one of `local_size` processes sharing this machine (data-parallel
/// ranks): on wgpu, discrete GPU `local_rank` when there is one per process, else the
/// default adapter (shared; the note says so). The CPU is always the CPU: the ranks split
/// its cores through their thread pools instead.
pub fn device_for_rank(kind: BackendKind, local_rank: usize, local_size: usize) -> Result<(Device, Option<String>)> {
    #[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
    if kind == BackendKind::Wgpu && local_size > 1 {
        let gpus = device_info::wgpu_adapters()
            .iter()
            .filter(|a| a.device_type == "DiscreteGpu")
            .count();
        if gpus >= local_size {
            let which = burn::tensor::DeviceKind::DiscreteGpu(local_rank);
            device_info::quiet_gpu_stack();
            kernels::configure();
            #[cfg(feature = "vulkan")]
            return Ok((Device::vulkan(which), None));
            #[cfg(not(feature = "vulkan"))]
            return Ok((Device::wgpu(which), None));
        }
        return Ok((
            device(kind)?,
            Some(format!(
                "{local_size} ranks on this machine share one wgpu adapter ({gpus} discrete GPUs)"
            )),
        ));
    }
    let _ = (local_rank, local_size);
    Ok((device(kind)?, None))
}

/// The Burn device for a backend, or an error when this build lacks it.
pub fn device(kind: BackendKind) -> Result<Device> {
    #[cfg(not(target_arch = "wasm32"))]
    if kind == BackendKind::Wgpu {
        // Autotune results and compiled kernels persist in one directory (kernels.rs).
        device_info::quiet_gpu_stack();
        #[cfg(feature = "wgpu")]
        kernels::configure();
    }
    match kind {
        #[cfg(feature = "flex")]
        BackendKind::Cpu => Ok(Device::flex()),
        #[cfg(not(feature = "flex"))]
        BackendKind::Cpu => Err(ModelError::Backend("built without the `flex` (CPU) backend".into())),
        #[cfg(all(feature = "vulkan", not(target_arch = "wasm32")))]
        BackendKind::Wgpu => Ok(Device::vulkan(Default::default())),
        #[cfg(all(feature = "wgpu", not(feature = "vulkan"), not(target_arch = "wasm32")))]
        BackendKind::Wgpu => Ok(Device::wgpu(Default::default())),
        #[cfg(target_arch = "wasm32")]
        BackendKind::Wgpu => Err(ModelError::Backend(
            "in the browser, initialise WebGPU asynchronously (Device::wgpu_options().init_async())".into(),
        )),
        #[cfg(all(not(feature = "wgpu"), not(target_arch = "wasm32")))]
        BackendKind::Wgpu => Err(ModelError::Backend("built without the `wgpu` backend".into())),
    }
}
