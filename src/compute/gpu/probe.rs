//! Finding adapters without alarming anyone: no window-system surfaces, the
//! backends this platform has, and driver chatter kept off the user's
//! stderr (it goes to the debug log, seen with `-v`).
//!
//! Mesa's implicit `VK_LAYER_MESA_device_select` layer connects to Wayland
//! while the Vulkan loader enumerates devices, and libwayland prints
//! `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` on a
//! headless node. The layer only reorders devices (wgpu ranks them itself);
//! enumeration runs with file descriptor 2 captured (the environment is
//! left alone: changing it while other threads run is not sound).

/// The wgpu backends compiled for this platform (see Cargo.toml).
pub fn platform_backends() -> wgpu::Backends {
    if cfg!(target_os = "macos") {
        wgpu::Backends::METAL
    } else if cfg!(windows) {
        wgpu::Backends::DX12 | wgpu::Backends::VULKAN
    } else {
        wgpu::Backends::VULKAN | wgpu::Backends::GL
    }
}

/// The backends to probe: [`platform_backends`], or those `WGPU_BACKEND`
/// names (e.g. `vulkan`, `gl`), wgpu's own variable.
pub fn probed_backends() -> wgpu::Backends {
    wgpu::Backends::from_env().unwrap_or_else(platform_backends)
}

/// A wgpu instance without a display handle (no surfaces, compute only).
pub(super) fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = probed_backends();
    wgpu::Instance::new(desc)
}

/// Every adapter of [`probed_backends`], found quietly.
pub(super) fn enumerate() -> Vec<wgpu::Adapter> {
    quietly(|| pollster::block_on(instance().enumerate_adapters(probed_backends())))
}

/// Run `f` with the process's stderr captured; what the drivers printed
/// goes to the debug log, one line per event. With debug logging on (`-v`)
/// nothing is captured: the drivers print as they will. The capture is
/// process-wide, so probing happens once, when a command opens its backend
/// (before its worker threads start).
pub(super) fn quietly<T>(f: impl FnOnce() -> T) -> T {
    if tracing::enabled!(tracing::Level::DEBUG) {
        return f();
    }
    let capture = Capture::start();
    let out = f();
    if let Some(text) = capture.and_then(Capture::finish) {
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            tracing::debug!("GPU driver: {line}");
        }
    }
    out
}

/// File descriptor 2 redirected to an anonymous file, restored on finish.
#[cfg(target_os = "linux")]
struct Capture {
    saved: libc::c_int,
    file: libc::c_int,
}

#[cfg(target_os = "linux")]
impl Capture {
    fn start() -> Option<Capture> {
        // SAFETY: plain descriptor calls on descriptors we own; failures
        // leave stderr as it was.
        unsafe {
            let file = libc::memfd_create(c"gpu-probe-stderr".as_ptr(), libc::MFD_CLOEXEC);
            if file < 0 {
                return None;
            }
            let saved = libc::dup(2);
            if saved < 0 || libc::dup2(file, 2) < 0 {
                libc::close(file);
                if saved >= 0 {
                    libc::close(saved);
                }
                return None;
            }
            Some(Capture { saved, file })
        }
    }

    fn finish(self) -> Option<String> {
        // SAFETY: restores the saved stderr and reads back our own file.
        unsafe {
            libc::dup2(self.saved, 2);
            libc::close(self.saved);
            let mut text = Vec::new();
            let mut buf = [0u8; 4096];
            libc::lseek(self.file, 0, libc::SEEK_SET);
            loop {
                let n = libc::read(self.file, buf.as_mut_ptr().cast(), buf.len());
                if n <= 0 {
                    break;
                }
                text.extend_from_slice(&buf[..n as usize]);
            }
            libc::close(self.file);
            Some(String::from_utf8_lossy(&text).into_owned())
        }
    }
}

/// Elsewhere the drivers' output is left alone.
#[cfg(not(target_os = "linux"))]
struct Capture;

#[cfg(not(target_os = "linux"))]
impl Capture {
    fn start() -> Option<Capture> {
        None
    }

    fn finish(self) -> Option<String> {
        None
    }
}

/// Which kernels an adapter runs itself; the others run on the CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct KernelSupport {
    /// Phase correction: f32 only (per-row terms reduced on the host).
    pub phase: bool,
    /// UVW: f64 multiply-add (SHADER_F64).
    pub uvw: bool,
    /// Separations and the cross-match: f64 coordinate differences (SHADER_F64).
    pub separation: bool,
}

impl KernelSupport {
    pub fn of(features: wgpu::Features) -> KernelSupport {
        let f64 = features.contains(wgpu::Features::SHADER_F64);
        KernelSupport {
            phase: true,
            uvw: f64,
            separation: f64,
        }
    }

    /// "phase, uvw, separation" or the like; the ones this adapter runs.
    pub fn describe(&self) -> String {
        let mut on = vec![];
        let mut off = vec![];
        for (name, yes) in [
            ("phase", self.phase),
            ("uvw", self.uvw),
            ("separation+match", self.separation),
        ] {
            if yes {
                on.push(name)
            } else {
                off.push(name)
            }
        }
        if off.is_empty() {
            on.join(", ")
        } else {
            format!(
                "{} (on the CPU: {}, they need SHADER_F64)",
                on.join(", "),
                off.join(", ")
            )
        }
    }
}

/// One adapter as the `devices` subcommand shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub shader_f64: bool,
    pub timestamp_query: bool,
    pub kernels: KernelSupport,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
}

/// Every adapter wgpu finds on this platform's backends.
pub fn list_adapters() -> Vec<AdapterSummary> {
    enumerate()
        .iter()
        .map(|a| {
            let info = a.get_info();
            let limits = a.limits();
            let features = a.features();
            AdapterSummary {
                name: info.name,
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_string(),
                shader_f64: features.contains(wgpu::Features::SHADER_F64),
                timestamp_query: features.contains(wgpu::Features::TIMESTAMP_QUERY),
                kernels: KernelSupport::of(features),
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
                max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            }
        })
        .collect()
}
