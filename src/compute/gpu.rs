//! The GPU backend: the WGSL kernels of `shaders/` run through wgpu.
//!
//! Needs an adapter with `SHADER_F64`: per-row geometry is computed in f64
//! with multiplies and adds only (no f64 trig anywhere); angles are reduced
//! in f64 and handed to f32 sin/cos within [-pi, pi]. All pipelines are
//! created in [`GpuBackend::new`]. Work larger than the adapter's binding
//! or dispatch limits is tiled.

use std::sync::Mutex;
use std::time::Instant;

use num_complex::Complex32;
use wgpu::util::DeviceExt;

use super::cpu::{check_phase, check_separations, check_uvw, separation};
use super::{Backend, ComputeError, Match, SkyPos, UvwRequest, SPEED_OF_LIGHT_M_S};

const MAX_WORKGROUPS_PER_DIM: u32 = 65_535;

/// Margin added to the radius of the GPU candidate search, radians: well
/// above the f32 kernel's error (~1e-7 rad) so no true pair is missed.
const MATCH_MARGIN_RAD: f64 = 1e-5;

/// Largest radius the GPU cross-match handles (1 rad, 57 deg); larger
/// radii run on the CPU.
const MAX_GPU_MATCH_RADIUS_RAD: f64 = 1.0;

/// Seconds spent in the last call's stages, for benchmarks.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct GpuTimings {
    /// Host to device: buffer creation and uploads.
    pub upload_s: f64,
    /// Dispatches, waited for.
    pub kernel_s: f64,
    /// Device to host: copies and mapping.
    pub download_s: f64,
}

/// One adapter as the `devices` subcommand shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub device_type: String,
    pub driver: String,
    pub shader_f64: bool,
    pub max_storage_buffer_binding_size: u64,
    pub max_buffer_size: u64,
    pub max_compute_workgroups_per_dimension: u32,
    pub max_compute_invocations_per_workgroup: u32,
}

fn instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle())
}

/// Every adapter wgpu finds.
pub fn list_adapters() -> Vec<AdapterSummary> {
    pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| {
            let info = a.get_info();
            let limits = a.limits();
            AdapterSummary {
                name: info.name,
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                driver: format!("{} {}", info.driver, info.driver_info)
                    .trim()
                    .to_string(),
                shader_f64: a.features().contains(wgpu::Features::SHADER_F64),
                max_storage_buffer_binding_size: limits.max_storage_buffer_binding_size,
                max_buffer_size: limits.max_buffer_size,
                max_compute_workgroups_per_dimension: limits.max_compute_workgroups_per_dimension,
                max_compute_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
            }
        })
        .collect()
}

struct Kernel {
    pipeline: wgpu::ComputePipeline,
    workgroup_size: u32,
}

/// wgpu implementation of [`Backend`].
pub struct GpuBackend {
    device: wgpu::Device,
    queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    /// Largest buffer one tile may bind, bytes.
    max_tile_bytes: u64,
    max_workgroups: u32,
    uvw: Kernel,
    phase: Kernel,
    separation: Kernel,
    matcher: Kernel,
    timings: Mutex<GpuTimings>,
}

/// Which adapters [`GpuBackend::new`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterPolicy {
    /// Hardware GPUs only (what `--backend auto` wants: a software
    /// rasterizer is slower than the CPU path).
    HardwareOnly,
    /// Any adapter, including CPU implementations such as Mesa's lavapipe.
    Any,
}

impl GpuBackend {
    /// Open the best adapter allowed by `policy` and build every pipeline.
    pub fn new(policy: AdapterPolicy) -> Result<GpuBackend, ComputeError> {
        Self::with_max_tile_bytes(policy, u64::MAX)
    }

    /// As [`GpuBackend::new`], with tiles no larger than `max_tile_bytes`
    /// (the tests use it to exercise tiling without allocating gigabytes).
    pub fn with_max_tile_bytes(
        policy: AdapterPolicy,
        max_tile_bytes: u64,
    ) -> Result<GpuBackend, ComputeError> {
        let t0 = Instant::now();
        let adapters = pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()));
        let rank = |a: &wgpu::Adapter| match a.get_info().device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        let mut seen = Vec::new();
        let mut candidates: Vec<wgpu::Adapter> = adapters
            .into_iter()
            .filter(|a| {
                let info = a.get_info();
                seen.push(format!(
                    "{} ({:?}, {:?})",
                    info.name, info.backend, info.device_type
                ));
                policy == AdapterPolicy::Any || info.device_type != wgpu::DeviceType::Cpu
            })
            .collect();
        candidates.sort_by_key(rank);
        let Some(adapter) = candidates.into_iter().next() else {
            let detail = if seen.is_empty() {
                " (no Vulkan driver: install mesa-vulkan-drivers for the software one)".to_string()
            } else {
                format!(
                    " among {} (software adapters are only used with --backend gpu)",
                    seen.join(", ")
                )
            };
            return Err(ComputeError::NoAdapter(detail));
        };
        let info = adapter.get_info();
        if !adapter.features().contains(wgpu::Features::SHADER_F64) {
            return Err(ComputeError::MissingFeature {
                adapter: info.name,
                what: "SHADER_F64 (f64 arithmetic in shaders, needed for metre-accurate UVW)"
                    .into(),
            });
        }
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("dsa110-convert"),
            required_features: wgpu::Features::SHADER_F64,
            required_limits: limits.clone(),
            ..Default::default()
        }))
        .map_err(|e| ComputeError::Device(format!("{}: {e}", info.name)))?;
        let max_tile_bytes = max_tile_bytes
            .min(limits.max_storage_buffer_binding_size)
            .min(limits.max_buffer_size);
        let max_workgroups = limits
            .max_compute_workgroups_per_dimension
            .min(MAX_WORKGROUPS_PER_DIM);
        let sphere = include_str!("../../shaders/sphere.wgsl");
        let make = |label: &str, source: String, workgroup_size: u32| {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
            Kernel {
                pipeline: device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(label),
                    layout: None,
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                }),
                workgroup_size,
            }
        };
        let uvw = make("uvw", include_str!("../../shaders/uvw.wgsl").into(), 64);
        let phase = make(
            "phase",
            include_str!("../../shaders/phase.wgsl").into(),
            256,
        );
        let separation = make(
            "separation",
            format!(
                "{sphere}\n{}",
                include_str!("../../shaders/separation.wgsl")
            ),
            256,
        );
        let matcher = make(
            "match",
            format!("{sphere}\n{}", include_str!("../../shaders/match.wgsl")),
            256,
        );
        let warmup_s = t0.elapsed().as_secs_f64();
        tracing::info!(
            "GPU {} ({:?}, {}): pipelines ready in {:.2} s",
            info.name,
            info.backend,
            info.driver,
            warmup_s
        );
        Ok(GpuBackend {
            device,
            queue,
            info,
            max_tile_bytes,
            max_workgroups,
            uvw,
            phase,
            separation,
            matcher,
            timings: Mutex::new(GpuTimings::default()),
        })
    }

    /// Stage timings of the last call (summed over its tiles).
    pub fn last_timings(&self) -> GpuTimings {
        *self.timings.lock().expect("timings lock")
    }

    fn storage(&self, label: &str, bytes: &[u8]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            })
    }

    fn uniform(&self, bytes: &[u8]) -> wgpu::Buffer {
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some("params"),
                contents: bytes,
                usage: wgpu::BufferUsages::UNIFORM,
            })
    }

    /// Grid for `threads` invocations: (x, y) workgroups and the grid width
    /// in invocations that the shaders use to flatten (x, y).
    fn grid(&self, threads: u64, workgroup_size: u32) -> (u32, u32, u32) {
        let groups = threads.div_ceil(workgroup_size as u64).max(1);
        let x = groups.min(self.max_workgroups as u64) as u32;
        let y = groups.div_ceil(x as u64) as u32;
        (x, y, x * workgroup_size)
    }

    /// Run `kernel` over `threads` invocations with `buffers` bound in
    /// order, then copy `out` back; returns its bytes.
    fn run(
        &self,
        kernel: &Kernel,
        threads: u64,
        buffers: &[&wgpu::Buffer],
        out: &wgpu::Buffer,
        timings: &mut GpuTimings,
    ) -> Result<Vec<u8>, ComputeError> {
        let t = Instant::now();
        let layout = kernel.pipeline.get_bind_group_layout(0);
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        let bind = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &layout,
            entries: &entries,
        });
        let (x, y, _) = self.grid(threads, kernel.workgroup_size);
        let mut enc = self.device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&kernel.pipeline);
            pass.set_bind_group(0, &bind, &[]);
            pass.dispatch_workgroups(x, y, 1);
        }
        self.queue.submit([enc.finish()]);
        self.wait()?;
        timings.kernel_s += t.elapsed().as_secs_f64();

        self.run_copy(out, out.size(), timings)
    }

    fn wait(&self) -> Result<(), ComputeError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| ComputeError::Device(format!("{}: {e}", self.info.name)))
    }

    /// Rows per tile when a row needs `bytes_per_row` in its largest buffer.
    fn tile_rows(&self, bytes_per_row: u64) -> usize {
        (self.max_tile_bytes / bytes_per_row.max(1)).clamp(1, u32::MAX as u64 / 4) as usize
    }

    fn store_timings(&self, t: GpuTimings) {
        *self.timings.lock().expect("timings lock") = t;
    }
}

fn pairs_bytes(p: &[SkyPos]) -> &[u8] {
    bytemuck::cast_slice(p)
}

impl Backend for GpuBackend {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn description(&self) -> String {
        format!(
            "{} ({:?}, {:?}, {})",
            self.info.name, self.info.backend, self.info.device_type, self.info.driver
        )
    }

    fn uvw(&self, req: &UvwRequest<'_>, out: &mut [[f64; 3]]) -> Result<(), ComputeError> {
        check_uvw(req, out.len())?;
        let mut timings = GpuTimings::default();
        if out.is_empty() {
            self.store_timings(timings);
            return Ok(());
        }
        let t = Instant::now();
        let ants = self.storage("antennas", bytemuck::cast_slice(req.antenna_xyz_m));
        let rots = self.storage("rotations", bytemuck::cast_slice(req.rotations));
        timings.upload_s += t.elapsed().as_secs_f64();
        let tile = self.tile_rows(3 * 8);
        for start in (0..out.len()).step_by(tile) {
            let end = (start + tile).min(out.len());
            let n = end - start;
            let t = Instant::now();
            let rows: Vec<u32> = (start..end)
                .flat_map(|i| [req.ant1[i], req.ant2[i], req.rotation_index[i]])
                .collect();
            let rows = self.storage("rows", bytemuck::cast_slice(&rows));
            let result = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("uvw"),
                size: (n * 3 * 8) as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let (_, _, width) = self.grid(n as u64, self.uvw.workgroup_size);
            let params = self.uniform(bytemuck::cast_slice(&[n as u32, width, 0, 0]));
            timings.upload_s += t.elapsed().as_secs_f64();
            let bytes = self.run(
                &self.uvw,
                n as u64,
                &[&params, &ants, &rows, &rots, &result],
                &result,
                &mut timings,
            )?;
            out[start..end].copy_from_slice(bytemuck::cast_slice(&bytes));
        }
        self.store_timings(timings);
        Ok(())
    }

    fn phase_correct(
        &self,
        vis: &mut [Complex32],
        n_pol: usize,
        dw_m: &[f64],
        freq_hz: &[f64],
    ) -> Result<(), ComputeError> {
        check_phase(vis.len(), n_pol, dw_m, freq_hz)?;
        let mut timings = GpuTimings::default();
        let n_chan = freq_hz.len();
        if vis.is_empty() {
            self.store_timings(timings);
            return Ok(());
        }
        let t = Instant::now();
        let foc: Vec<f64> = freq_hz.iter().map(|f| f / SPEED_OF_LIGHT_M_S).collect();
        let foc = self.storage("freq_over_c", bytemuck::cast_slice(&foc));
        timings.upload_s += t.elapsed().as_secs_f64();
        let per_row = n_chan * n_pol;
        let tile = self.tile_rows((per_row * 8) as u64);
        for start in (0..dw_m.len()).step_by(tile) {
            let end = (start + tile).min(dw_m.len());
            let n = end - start;
            let t = Instant::now();
            let dw = self.storage("dw", bytemuck::cast_slice(&dw_m[start..end]));
            let data = self.storage(
                "vis",
                bytemuck::cast_slice(&vis[start * per_row..end * per_row]),
            );
            let threads = (n * n_chan) as u64;
            let (_, _, width) = self.grid(threads, self.phase.workgroup_size);
            let params = self.uniform(bytemuck::cast_slice(&[
                n as u32,
                n_chan as u32,
                n_pol as u32,
                width,
            ]));
            timings.upload_s += t.elapsed().as_secs_f64();
            let bytes = self.run(
                &self.phase,
                threads,
                &[&params, &dw, &foc, &data],
                &data,
                &mut timings,
            )?;
            vis[start * per_row..end * per_row].copy_from_slice(bytemuck::cast_slice(&bytes));
        }
        self.store_timings(timings);
        Ok(())
    }

    fn separations(&self, a: &[SkyPos], b: &[SkyPos], out: &mut [f64]) -> Result<(), ComputeError> {
        check_separations(a, b, out)?;
        let mut timings = GpuTimings::default();
        let tile = self.tile_rows(16);
        for start in (0..a.len()).step_by(tile) {
            let end = (start + tile).min(a.len());
            let n = end - start;
            let t = Instant::now();
            let ba = self.storage("a", pairs_bytes(&a[start..end]));
            let bb = self.storage("b", pairs_bytes(&b[start..end]));
            let result = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("separations"),
                size: (n * 8) as u64,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let (_, _, width) = self.grid(n as u64, self.separation.workgroup_size);
            let params = self.uniform(bytemuck::cast_slice(&[n as u32, width, 0, 0]));
            timings.upload_s += t.elapsed().as_secs_f64();
            let bytes = self.run(
                &self.separation,
                n as u64,
                &[&params, &ba, &bb, &result],
                &result,
                &mut timings,
            )?;
            // (sin, cos) pairs: atan2 in f64 here, not on the GPU.
            let parts: &[[f32; 2]] = bytemuck::cast_slice(&bytes);
            for (o, p) in out[start..end].iter_mut().zip(parts) {
                *o = (p[0] as f64).atan2(p[1] as f64);
            }
        }
        self.store_timings(timings);
        Ok(())
    }

    fn match_within(
        &self,
        points: &[SkyPos],
        targets: &[SkyPos],
        radius_rad: f64,
    ) -> Result<Vec<Match>, ComputeError> {
        let mut timings = GpuTimings::default();
        let mut out = Vec::new();
        if points.is_empty() || targets.is_empty() || radius_rad.is_nan() || radius_rad <= 0.0 {
            self.store_timings(timings);
            return Ok(out);
        }
        if radius_rad + MATCH_MARGIN_RAD >= MAX_GPU_MATCH_RADIUS_RAD {
            // The kernel's tan(radius) test needs radii well below 90 deg.
            return super::cpu::CpuBackend.match_within(points, targets, radius_rad);
        }
        let t = Instant::now();
        let tgt = self.storage("targets", pairs_bytes(targets));
        timings.upload_s += t.elapsed().as_secs_f64();
        let tile = self.tile_rows(16);
        let mut capacity: u32 = 1 << 16;
        let mut start = 0;
        while start < points.len() {
            let end = (start + tile).min(points.len());
            let n = end - start;
            let t = Instant::now();
            let pts = self.storage("points", pairs_bytes(&points[start..end]));
            let count = self.storage("count", bytemuck::cast_slice(&[0u32]));
            let pairs = self.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("pairs"),
                size: capacity as u64 * 8,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            });
            let (_, _, width) = self.grid(n as u64, self.matcher.workgroup_size);
            let radius = radius_rad + MATCH_MARGIN_RAD;
            let mut params = [0u32; 8];
            params[..4].copy_from_slice(&[n as u32, targets.len() as u32, capacity, width]);
            params[4] = (radius as f32).to_bits();
            params[5] = (radius.tan() as f32).to_bits();
            let params = self.uniform(bytemuck::cast_slice(&params));
            timings.upload_s += t.elapsed().as_secs_f64();
            let bytes = self.run(
                &self.matcher,
                n as u64,
                &[&params, &pts, &tgt, &count, &pairs],
                &count,
                &mut timings,
            )?;
            let found: u32 = bytemuck::cast_slice::<u8, u32>(&bytes)[0];
            if found > capacity {
                // Not enough room: grow and redo this tile.
                capacity = found.checked_next_power_of_two().unwrap_or(u32::MAX);
                if capacity as u64 * 8 > self.max_tile_bytes {
                    return Err(ComputeError::Input(format!(
                        "match: {found} candidate pairs exceed one GPU buffer; use a smaller radius or the CPU"
                    )));
                }
                continue;
            }
            if found > 0 {
                let mut t2 = GpuTimings::default();
                let bytes = self.run_copy(&pairs, found as u64 * 8, &mut t2)?;
                timings.download_s += t2.download_s;
                for pair in bytemuck::cast_slice::<u8, [u32; 2]>(&bytes) {
                    let (p, q) = (start as u32 + pair[0], pair[1]);
                    let sep = separation(points[p as usize], targets[q as usize]);
                    if sep < radius_rad {
                        out.push(Match {
                            point: p,
                            target: q,
                            separation_rad: sep,
                        });
                    }
                }
            }
            start = end;
        }
        out.sort_by_key(|m| (m.point, m.target));
        self.store_timings(timings);
        Ok(out)
    }
}

impl GpuBackend {
    /// Copy the first `size` bytes of `buffer` back to the host.
    fn run_copy(
        &self,
        buffer: &wgpu::Buffer,
        size: u64,
        timings: &mut GpuTimings,
    ) -> Result<Vec<u8>, ComputeError> {
        let t = Instant::now();
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
        self.queue.submit([enc.finish()]);
        let (tx, rx) = std::sync::mpsc::channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        self.wait()?;
        rx.recv()
            .map_err(|_| ComputeError::Device("buffer mapping was dropped".into()))?
            .map_err(|e| ComputeError::Device(format!("mapping the results: {e}")))?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| ComputeError::Device(format!("mapping the results: {e}")))?
            .to_vec();
        staging.unmap();
        timings.download_s += t.elapsed().as_secs_f64();
        Ok(bytes)
    }
}
