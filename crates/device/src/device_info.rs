//! Which device runs the work, and why: the honest default backend and the start-up line.
//!
//! With no `--backend`, wgpu is used only where an adapter is a real GPU; a machine whose
//! only adapter is a software rasteriser (Mesa's lavapipe, SwiftShader: wgpu `DeviceType::Cpu`)
//! runs ~20× slower there than on Burn's CPU backend, so it gets the CPU.

use serde::{Deserialize, Serialize};

use crate::BackendKind;

/// What runs the work, as the start-up line and `report.json` / `summary.json` say it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeviceInfo {
    /// `cpu` or `wgpu`.
    pub backend: String,
    /// The adapter's name (wgpu) or the CPU model.
    pub name: String,
    /// wgpu's device type (`DiscreteGpu`, `IntegratedGpu`, `Cpu`, …) or `Cpu`.
    pub device_type: String,
    /// CPU threads Burn's flex backend uses (rayon's pool).
    pub threads: usize,
    /// The widest SIMD the CPU kernels pick at run time.
    pub simd: String,
    /// Why this backend was chosen.
    pub reason: String,
    /// GPU backends: where compiled kernels and autotune choices are kept, and whether this
    /// process found them warm ([`crate::kernels`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_cache: Option<String>,
}

impl std::fmt::Display for DeviceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.backend.as_str() {
            "cpu" => write!(
                f,
                "device: CPU (Burn flex) — {}, {} thread{}, {} — {}",
                self.name,
                self.threads,
                if self.threads == 1 { "" } else { "s" },
                self.simd,
                self.reason
            ),
            _ => write!(
                f,
                "device: wgpu — {} ({}) — {}",
                self.name, self.device_type, self.reason
            ),
        }
    }
}

/// The SIMD level this CPU offers to the kernels that choose at run time; `cpuinfo` is
/// the text of /proc/cpuinfo (empty where there is none).
fn cpu_simd(cpuinfo: &str) -> String {
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    {
        let has = |f: bool, n: &str| f.then(|| n.to_string());
        // AMX and FP16 detection are not stable in std; the kernel's flags say it.
        let flag = |f: &str| cpuinfo.split_whitespace().any(|w| w == f);
        let tags: Vec<String> = [
            has(std::arch::is_x86_feature_detected!("avx512f"), "AVX-512F"),
            has(std::arch::is_x86_feature_detected!("avx512vnni"), "VNNI"),
            has(std::arch::is_x86_feature_detected!("avx512bf16"), "BF16"),
            has(flag("avx512_fp16"), "FP16"),
            has(flag("amx_tile"), "AMX"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !tags.is_empty() {
            return tags.join("/");
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            return "AVX2+FMA".into();
        }
        "SSE2".into()
    }
    #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
    let _ = cpuinfo;
    #[cfg(target_arch = "aarch64")]
    {
        "NEON".into()
    }
    #[cfg(target_arch = "wasm32")]
    {
        if cfg!(target_feature = "simd128") {
            "wasm simd128".into()
        } else {
            "wasm scalar".into()
        }
    }
    #[cfg(not(any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "wasm32"
    )))]
    {
        "scalar".into()
    }
}

fn cpu_name(cpuinfo: &str) -> String {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|n| n.trim().to_string())
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// Threads the CPU backend runs on.
pub fn cpu_threads() -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        rayon::current_num_threads()
    }
    #[cfg(target_arch = "wasm32")]
    {
        1
    }
}

/// A wgpu adapter as listed by the instance.
#[derive(Debug, Clone)]
pub struct Adapter {
    pub name: String,
    pub device_type: String,
    /// A real GPU (discrete, integrated or virtual), not a software rasteriser.
    pub is_gpu: bool,
}

/// The adapters wgpu can see (empty in builds without wgpu).
pub fn wgpu_adapters() -> Vec<Adapter> {
    #[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
    {
        quiet_gpu_stack();
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
            .into_iter()
            .map(|a| {
                let info = a.get_info();
                Adapter {
                    name: info.name.clone(),
                    device_type: format!("{:?}", info.device_type),
                    is_gpu: matches!(
                        info.device_type,
                        wgpu::DeviceType::DiscreteGpu | wgpu::DeviceType::IntegratedGpu | wgpu::DeviceType::VirtualGpu
                    ),
                }
            })
            .collect()
    }
    #[cfg(not(all(feature = "wgpu", not(target_arch = "wasm32"))))]
    {
        Vec::new()
    }
}

/// Mesa's Vulkan drivers print "error: XDG_RUNTIME_DIR is invalid or not set in the
/// environment" while probing for a Wayland display when that variable is unset (CI,
/// containers, ssh sessions). It is not an error for hbt, which never opens a window: point
/// it at a private directory so the probe fails quietly. `HBT_VERBOSE=1` (or `-v`) leaves
/// the environment alone.
pub fn quiet_gpu_stack() {
    #[cfg(all(unix, not(target_arch = "wasm32")))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            if std::env::var_os("HBT_VERBOSE").is_some() || std::env::var_os("XDG_RUNTIME_DIR").is_some() {
                return;
            }
            let dir = std::env::temp_dir().join(format!("hbt-runtime-{}", std::process::id()));
            if std::fs::create_dir_all(&dir).is_ok() {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
                // SAFETY: called once, before any GPU thread exists (callers do this first
                // thing, before a device is created).
                unsafe { std::env::set_var("XDG_RUNTIME_DIR", &dir) };
            }
        });
    }
}

impl DeviceInfo {
    /// The backend this describes.
    pub fn kind(&self) -> BackendKind {
        if self.backend == "cpu" {
            BackendKind::Cpu
        } else {
            BackendKind::Wgpu
        }
    }
}

/// The device to run on, described: the backend asked for (`--backend`, else
/// `HBT_BACKEND`), or wgpu only where a real GPU is present. wgpu's adapters are listed at
/// most once (each listing starts a wgpu instance).
pub fn choose_device(requested: Option<BackendKind>) -> DeviceInfo {
    let adapters = std::cell::OnceCell::new();
    let adapters = || adapters.get_or_init(wgpu_adapters);
    let (kind, reason) = choose_backend(requested, adapters);
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let (name, device_type) = match kind {
        BackendKind::Cpu => (cpu_name(&cpuinfo), "Cpu".to_string()),
        BackendKind::Wgpu => {
            // cubecl's default device prefers a discrete GPU, then integrated, then the rest.
            let rank = |a: &&Adapter| match a.device_type.as_str() {
                "DiscreteGpu" => 0,
                "IntegratedGpu" => 1,
                "VirtualGpu" => 2,
                _ => 3,
            };
            match adapters().iter().min_by_key(rank) {
                Some(a) => (a.name.clone(), a.device_type.clone()),
                None => ("no adapter found".into(), String::new()),
            }
        }
    };
    DeviceInfo {
        backend: if kind == BackendKind::Cpu { "cpu" } else { "wgpu" }.into(),
        name,
        device_type,
        threads: cpu_threads(),
        simd: cpu_simd(&cpuinfo),
        reason,
        kernel_cache: kernel_cache(kind),
    }
}

fn kernel_cache(kind: BackendKind) -> Option<String> {
    #[cfg(all(feature = "wgpu", not(target_arch = "wasm32")))]
    if kind == BackendKind::Wgpu {
        return Some(crate::kernels::configure().describe());
    }
    let _ = kind;
    None
}

fn choose_backend<'a>(
    requested: Option<BackendKind>,
    adapters: impl Fn() -> &'a Vec<Adapter>,
) -> (BackendKind, String) {
    if let Some(kind) = requested {
        return (kind, "asked for with --backend".into());
    }
    if let Ok(v) = std::env::var("HBT_BACKEND")
        && let Ok(kind) = v.parse::<BackendKind>()
    {
        return (kind, format!("HBT_BACKEND={v}"));
    }
    if !cfg!(feature = "wgpu") {
        return (BackendKind::Cpu, "this build has no GPU backend".into());
    }
    let adapters = adapters();
    if let Some(gpu) = adapters.iter().find(|a| a.is_gpu) {
        return (
            BackendKind::Wgpu,
            format!("found GPU {} ({})", gpu.name, gpu.device_type),
        );
    }
    let seen = if adapters.is_empty() {
        "no wgpu adapter".to_string()
    } else {
        let names: Vec<String> = adapters
            .iter()
            .map(|a| format!("{} ({})", a.name, a.device_type))
            .collect();
        format!(
            "only software adapters ({}), ~20× slower than the CPU backend",
            names.join(", ")
        )
    };
    (BackendKind::Cpu, format!("no GPU: {seen}"))
}
