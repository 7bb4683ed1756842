//! hbt-device: which Burn device runs the work, and why — the backend a user asked for or
//! the honest default (wgpu only where an adapter is a real GPU), the start-up line every
//! command prints ([`DeviceInfo`]), one device per data-parallel rank, and where GPU
//! backends keep compiled kernels and autotune choices ([`kernels`]).
//!
//! Apart from the encoder (`hbt-model` runs on whatever device it is given) and from the
//! browser, which initialises WebGPU itself: only the native commands that print and choose
//! a device build on it.

pub mod device_info;
pub mod error;
#[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
pub mod kernels;

pub use device_info::{Adapter, DeviceInfo, choose_device, cpu_threads, quiet_gpu_stack, wgpu_adapters};
pub use error::{DeviceError, Result};

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
        BackendKind::Cpu => Err(DeviceError::Backend("built without the `flex` (CPU) backend".into())),
        #[cfg(all(feature = "vulkan", not(target_arch = "wasm32")))]
        BackendKind::Wgpu => Ok(Device::vulkan(Default::default())),
        #[cfg(all(feature = "wgpu", not(feature = "vulkan"), not(target_arch = "wasm32")))]
        BackendKind::Wgpu => Ok(Device::wgpu(Default::default())),
        #[cfg(target_arch = "wasm32")]
        BackendKind::Wgpu => Err(DeviceError::Backend(
            "in the browser, initialise WebGPU asynchronously (Device::wgpu_options().init_async())".into(),
        )),
        #[cfg(all(not(feature = "wgpu"), not(target_arch = "wasm32")))]
        BackendKind::Wgpu => Err(DeviceError::Backend("built without the `wgpu` backend".into())),
    }
}
