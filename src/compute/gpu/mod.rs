//! The GPU backend: the WGSL kernels of `shaders/` run through wgpu.
//!
//! One [`GpuBackend`] is opened per conversion and keeps its device
//! buffers (a `pool` sized to the first block, grown only for a larger
//! one) for every block it is handed. Each block tile is one submission:
//! the queued uploads, the dispatch and the copy to a mapped staging buffer
//! in one command buffer; results are copied from the mapped range straight
//! into the caller's slice. Device errors, device loss and hung waits are
//! typed [`ComputeError`]s (`context`).
//!
//! The phase kernel is f32 only (per-row terms reduced on the host in f64,
//! [`phase_terms`]) and runs on every adapter; UVW, separations and the
//! cross-match need SHADER_F64 (their shader headers say why) and run on
//! the CPU on adapters without it. No kernel calls trig on f64. Work larger
//! than the device's binding or dispatch limits is tiled.

mod context;
pub mod phase_terms;
mod pool;
mod probe;

use std::num::NonZeroU64;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use num_complex::Complex32;

pub use probe::{list_adapters, platform_backends, probed_backends, AdapterSummary, KernelSupport};

use super::cpu::{check_separations, check_transform, check_uvw, separation, CpuBackend};
use super::{Backend, ComputeError, Match, MatchRequest, PolMap, UvwRequest, VisTransform};
use crate::astro::SkyPos;
use context::Context;
use phase_terms::{Term, CHANNELS_PER_ANCHOR};
use pool::Pool;

const MAX_WORKGROUPS_PER_DIM: u32 = 65_535;

/// Margin added to the radius of the GPU candidate search, radians: well
/// above the f32 kernel's error (~1e-7 rad) so no true pair is missed.
const MATCH_MARGIN_RAD: f64 = 1e-5;

/// Largest radius the GPU cross-match handles (1 rad, 57 deg); larger
/// radii run on the CPU.
const MAX_GPU_MATCH_RADIUS_RAD: f64 = 1.0;

/// Seconds spent in the last call's stages (summed over its tiles).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct GpuTimings {
    /// Host side of the uploads: queueing the block's bytes for the device.
    pub upload_s: f64,
    /// Submit to results mapped: transfers both ways plus the kernel, as
    /// the host waits for them.
    pub submit_wait_s: f64,
    /// The kernel alone, from GPU timestamps (None when the adapter has no
    /// timestamp queries).
    pub kernel_s: Option<f64>,
    /// Copying the mapped results into the caller's buffer.
    pub readback_s: f64,
}

/// Which adapters [`GpuBackend::open`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdapterPolicy {
    /// Hardware GPUs only (a software rasterizer runs on the same cores as
    /// the CPU backend and cannot beat it).
    HardwareOnly,
    /// Any adapter, including CPU implementations such as Mesa's lavapipe.
    Any,
}

/// How to open the GPU backend.
#[derive(Clone, Debug)]
pub struct GpuOptions {
    pub policy: AdapterPolicy,
    /// Largest buffer one tile may bind, bytes (the tests lower it to
    /// exercise tiling without allocating gigabytes).
    pub max_tile_bytes: u64,
    /// Lower the device's buffer limits to this many bytes (the tests use
    /// it to make a request the device must refuse).
    pub device_buffer_limit: Option<u64>,
    /// Longest wait for one submission before [`ComputeError::Timeout`].
    pub timeout: Duration,
    /// Open the device without SHADER_F64 even where the adapter has it,
    /// as on adapters that lack it (the tests use it).
    pub without_f64: bool,
}

impl Default for GpuOptions {
    fn default() -> Self {
        GpuOptions {
            policy: AdapterPolicy::Any,
            max_tile_bytes: u64::MAX,
            device_buffer_limit: None,
            timeout: Duration::from_secs(60),
            without_f64: false,
        }
    }
}

struct Kernel {
    pipeline: wgpu::ComputePipeline,
    workgroup_size: u32,
}

/// The begin/end timestamps of one compute pass.
struct Timestamps {
    queries: wgpu::QuerySet,
    /// Nanoseconds per timestamp tick.
    period_ns: f64,
}

/// What one call changes: the buffers and the last call's timings.
struct State {
    pool: Pool,
    timings: GpuTimings,
    /// Host scratch for the phase kernel's per-row terms, reused.
    terms: Vec<Term>,
}

/// wgpu implementation of [`Backend`].
pub struct GpuBackend {
    ctx: Context,
    support: KernelSupport,
    /// Largest buffer one tile may bind, bytes.
    max_tile_bytes: u64,
    max_workgroups: u32,
    phase: Kernel,
    uvw: Option<Kernel>,
    separation: Option<Kernel>,
    matcher: Option<Kernel>,
    timestamps: Option<Timestamps>,
    state: Mutex<State>,
}

/// One storage or uniform binding: a pooled buffer and the bytes in use.
type Binding = (wgpu::Buffer, u64);

const STORAGE_IN: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_DST);
const STORAGE_OUT: wgpu::BufferUsages = wgpu::BufferUsages::STORAGE
    .union(wgpu::BufferUsages::COPY_SRC)
    .union(wgpu::BufferUsages::COPY_DST);

impl GpuBackend {
    /// Open the best adapter allowed by `policy` and build every pipeline.
    pub fn new(policy: AdapterPolicy) -> Result<GpuBackend, ComputeError> {
        Self::open(GpuOptions {
            policy,
            ..Default::default()
        })
    }

    /// As [`GpuBackend::new`], with tiles no larger than `max_tile_bytes`.
    pub fn with_max_tile_bytes(
        policy: AdapterPolicy,
        max_tile_bytes: u64,
    ) -> Result<GpuBackend, ComputeError> {
        Self::open(GpuOptions {
            policy,
            max_tile_bytes,
            ..Default::default()
        })
    }

    /// Open a device as `options` say. Driver output while probing goes
    /// to the debug log, not to stderr.
    pub fn open(options: GpuOptions) -> Result<GpuBackend, ComputeError> {
        let t0 = Instant::now();
        // Logged outside the capture, which would swallow it.
        let g = probe::quietly(|| Self::open_loudly(options))?;
        tracing::info!(
            "GPU {} ({:?}, {}): pipelines ready in {:.2} s; kernels on the GPU: {}; timestamps: {}",
            g.ctx.info.name,
            g.ctx.info.backend,
            g.ctx.info.driver,
            t0.elapsed().as_secs_f64(),
            g.support.describe(),
            if g.timestamps.is_some() { "yes" } else { "no" },
        );
        Ok(g)
    }

    fn open_loudly(options: GpuOptions) -> Result<GpuBackend, ComputeError> {
        let adapter = best_adapter(options.policy)?;
        let available = adapter.features();
        let mut features =
            available & (wgpu::Features::SHADER_F64 | wgpu::Features::TIMESTAMP_QUERY);
        if options.without_f64 {
            features.remove(wgpu::Features::SHADER_F64);
        }
        let mut limits = adapter.limits();
        if let Some(cap) = options.device_buffer_limit {
            limits.max_buffer_size = limits.max_buffer_size.min(cap);
            limits.max_storage_buffer_binding_size =
                limits.max_storage_buffer_binding_size.min(cap);
        }
        let ctx = Context::open(&adapter, features, limits.clone(), options.timeout)?;
        let support = KernelSupport::of(features);
        let max_tile_bytes = options
            .max_tile_bytes
            .min(limits.max_storage_buffer_binding_size)
            .min(limits.max_buffer_size);
        let max_workgroups = limits
            .max_compute_workgroups_per_dimension
            .min(MAX_WORKGROUPS_PER_DIM);
        let sphere = include_str!("../../../shaders/sphere.wgsl");
        let make = |label: &str, source: String, workgroup_size: u32| {
            ctx.scoped(label, || {
                let module = ctx
                    .device
                    .create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(label),
                        source: wgpu::ShaderSource::Wgsl(source.into()),
                    });
                Kernel {
                    pipeline: ctx.device.create_compute_pipeline(
                        &wgpu::ComputePipelineDescriptor {
                            label: Some(label),
                            layout: None,
                            module: &module,
                            entry_point: Some("main"),
                            compilation_options: Default::default(),
                            cache: None,
                        },
                    ),
                    workgroup_size,
                }
            })
        };
        let phase = make(
            "phase",
            include_str!("../../../shaders/phase.wgsl").into(),
            256,
        )?;
        let uvw = support
            .uvw
            .then(|| make("uvw", include_str!("../../../shaders/uvw.wgsl").into(), 64))
            .transpose()?;
        let (separation, matcher) = if support.separation {
            (
                Some(make(
                    "separation",
                    format!(
                        "{sphere}\n{}",
                        include_str!("../../../shaders/separation.wgsl")
                    ),
                    256,
                )?),
                Some(make(
                    "match",
                    format!("{sphere}\n{}", include_str!("../../../shaders/match.wgsl")),
                    256,
                )?),
            )
        } else {
            (None, None)
        };
        let timestamps = features
            .contains(wgpu::Features::TIMESTAMP_QUERY)
            .then(|| {
                ctx.scoped("timestamp queries", || Timestamps {
                    queries: ctx.device.create_query_set(&wgpu::QuerySetDescriptor {
                        label: Some("kernel timestamps"),
                        ty: wgpu::QueryType::Timestamp,
                        count: 2,
                    }),
                    period_ns: ctx.queue.get_timestamp_period() as f64,
                })
            })
            .transpose()?;
        Ok(GpuBackend {
            ctx,
            support,
            max_tile_bytes,
            max_workgroups,
            phase,
            uvw,
            separation,
            matcher,
            timestamps,
            state: Mutex::new(State {
                pool: Pool::default(),
                timings: GpuTimings::default(),
                terms: Vec::new(),
            }),
        })
    }

    /// Stage timings of the last call (summed over its tiles).
    pub fn last_timings(&self) -> GpuTimings {
        self.lock().timings
    }

    /// Device buffers created since the backend was opened: constant once
    /// the first block of a conversion has been seen.
    pub fn buffer_allocations(&self) -> u64 {
        self.lock().pool.allocations()
    }

    /// Which kernels run on this adapter.
    pub fn kernels(&self) -> KernelSupport {
        self.support
    }

    /// Whether kernel times come from GPU timestamps.
    pub fn has_timestamps(&self) -> bool {
        self.timestamps.is_some()
    }

    /// Whether this is a software (CPU) implementation such as lavapipe.
    pub fn is_software(&self) -> bool {
        self.ctx.info.device_type == wgpu::DeviceType::Cpu
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Grid for `threads` invocations: (x, y) workgroups and the grid width
    /// in invocations that the shaders use to flatten (x, y).
    fn grid(&self, threads: u64, workgroup_size: u32) -> (u32, u32, u32) {
        let groups = threads.div_ceil(workgroup_size as u64).max(1);
        let x = groups.min(self.max_workgroups as u64) as u32;
        let y = groups.div_ceil(x as u64) as u32;
        (x, y, x * workgroup_size)
    }

    /// Rows per tile when a row needs `bytes_per_row` in its largest buffer.
    fn tile_rows(&self, bytes_per_row: u64) -> usize {
        (self.max_tile_bytes / bytes_per_row.max(1)).clamp(1, u32::MAX as u64 / 4) as usize
    }

    /// A pooled buffer of `role` holding `bytes` (queued for upload).
    fn upload(
        &self,
        st: &mut State,
        role: &'static str,
        usage: wgpu::BufferUsages,
        bytes: &[u8],
    ) -> Result<Binding, ComputeError> {
        let t = Instant::now();
        let buffer = st.pool.get(&self.ctx, role, bytes.len() as u64, usage)?;
        if !bytes.is_empty() {
            self.ctx
                .scoped(role, || self.ctx.queue.write_buffer(&buffer, 0, bytes))?;
        }
        st.timings.upload_s += t.elapsed().as_secs_f64();
        Ok((buffer, bytes.len() as u64))
    }

    /// The uniform parameters of a dispatch (eight u32 words).
    fn params(&self, st: &mut State, words: [u32; 8]) -> Result<Binding, ComputeError> {
        self.upload(
            st,
            "params",
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            bytemuck::cast_slice(&words),
        )
    }

    /// One submission: dispatch `kernel` over `threads` with `bindings` in
    /// order, copy the first `out_bytes` of binding `out` to the staging
    /// buffer, wait (bounded) and hand the mapped bytes to `read`.
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &self,
        st: &mut State,
        what: &'static str,
        kernel: &Kernel,
        threads: u64,
        bindings: &[&Binding],
        out: usize,
        out_bytes: u64,
        read: impl FnOnce(&[u8]),
    ) -> Result<(), ComputeError> {
        let staging = st.pool.get(
            &self.ctx,
            "staging",
            out_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        let stamps = match &self.timestamps {
            Some(ts) => Some((
                ts,
                st.pool.get(
                    &self.ctx,
                    "timestamps",
                    16,
                    wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                )?,
                st.pool.get(
                    &self.ctx,
                    "timestamps-staging",
                    16,
                    wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                )?,
            )),
            None => None,
        };
        let (x, y, _) = self.grid(threads, kernel.workgroup_size);
        let commands = self.ctx.scoped(what, || {
            let layout = kernel.pipeline.get_bind_group_layout(0);
            let entries: Vec<wgpu::BindGroupEntry> = bindings
                .iter()
                .enumerate()
                .map(|(i, (buffer, bytes))| wgpu::BindGroupEntry {
                    binding: i as u32,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer,
                        offset: 0,
                        // An empty input binds a minimal slice; the kernel never reads it.
                        size: NonZeroU64::new((*bytes).max(16).next_multiple_of(4)),
                    }),
                })
                .collect();
            let bind = self
                .ctx
                .device
                .create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(what),
                    layout: &layout,
                    entries: &entries,
                });
            let mut enc = self.ctx.device.create_command_encoder(&Default::default());
            {
                let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                    label: Some(what),
                    timestamp_writes: stamps.as_ref().map(|(ts, _, _)| {
                        wgpu::ComputePassTimestampWrites {
                            query_set: &ts.queries,
                            beginning_of_pass_write_index: Some(0),
                            end_of_pass_write_index: Some(1),
                        }
                    }),
                });
                pass.set_pipeline(&kernel.pipeline);
                pass.set_bind_group(0, &bind, &[]);
                pass.dispatch_workgroups(x, y, 1);
            }
            enc.copy_buffer_to_buffer(&bindings[out].0, 0, &staging, 0, out_bytes);
            if let Some((ts, resolved, ts_staging)) = &stamps {
                enc.resolve_query_set(&ts.queries, 0..2, resolved, 0);
                enc.copy_buffer_to_buffer(resolved, 0, ts_staging, 0, 16);
            }
            enc.finish()
        })?;
        let t = Instant::now();
        let mut mapped = vec![(&staging, out_bytes)];
        if let Some((_, _, ts_staging)) = &stamps {
            mapped.push((ts_staging, 16));
        }
        let mut readback_s = 0.0;
        let mut kernel_s = None;
        self.ctx.submit_and_read(what, commands, &mapped, |views| {
            let t = Instant::now();
            read(views[0]);
            readback_s = t.elapsed().as_secs_f64();
            if let (Some(ts), Some(v)) = (&self.timestamps, views.get(1)) {
                let ticks: &[u64] = bytemuck::cast_slice(v);
                kernel_s = Some(ticks[1].saturating_sub(ticks[0]) as f64 * ts.period_ns * 1e-9);
            }
        })?;
        st.timings.submit_wait_s += t.elapsed().as_secs_f64() - readback_s;
        st.timings.readback_s += readback_s;
        if let Some(k) = kernel_s {
            *st.timings.kernel_s.get_or_insert(0.0) += k;
        }
        Ok(())
    }
}

/// The two maps as `phase.wgsl` reads them: map m's sources in byte m,
/// two bits each; its conjugation in bit 16 + m.
fn packed_maps(maps: &[PolMap; 2]) -> u32 {
    maps.iter().enumerate().fold(0, |word, (m, map)| {
        let sources = map
            .source
            .iter()
            .enumerate()
            .fold(0, |b, (p, &s)| b | (s << (2 * p)));
        word | (sources << (8 * m)) | (u32::from(map.conjugate) << (16 + m))
    })
}

/// One bit per row of `start..end` (from bit 0): the row takes map 1.
fn row_bits(alternate: &[bool], start: usize, end: usize) -> Vec<u32> {
    let mut bits = vec![0u32; (end - start).div_ceil(32).max(1)];
    if !alternate.is_empty() {
        for (i, _) in alternate[start..end].iter().enumerate().filter(|(_, &a)| a) {
            bits[i / 32] |= 1 << (i % 32);
        }
    }
    bits
}

/// The best adapter `policy` allows, ranked discrete > integrated > virtual
/// > other > software, Vulkan before GL at equal rank.
fn best_adapter(policy: AdapterPolicy) -> Result<wgpu::Adapter, ComputeError> {
    let adapters = probe::enumerate();
    let rank = |a: &wgpu::Adapter| {
        let info = a.get_info();
        let kind = match info.device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Other => 3,
            wgpu::DeviceType::Cpu => 4,
        };
        (kind, info.backend == wgpu::Backend::Gl)
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
    candidates.into_iter().next().ok_or_else(|| {
        ComputeError::NoAdapter(if seen.is_empty() {
            " (no Vulkan or OpenGL driver: install mesa-vulkan-drivers for the software one)"
                .to_string()
        } else {
            format!(
                " among {} (software adapters are only used with --backend gpu)",
                seen.join(", ")
            )
        })
    })
}

impl Backend for GpuBackend {
    fn name(&self) -> &'static str {
        "gpu"
    }

    fn description(&self) -> String {
        format!(
            "{} ({:?}, {:?}, {}; kernels: {})",
            self.ctx.info.name,
            self.ctx.info.backend,
            self.ctx.info.device_type,
            self.ctx.info.driver,
            self.support.describe()
        )
    }

    fn uvw(&self, req: &UvwRequest<'_>, out: &mut [[f64; 3]]) -> Result<(), ComputeError> {
        check_uvw(req, out.len())?;
        let Some(kernel) = &self.uvw else {
            return CpuBackend.uvw(req, out);
        };
        let mut st = self.lock();
        st.timings = GpuTimings::default();
        if out.is_empty() {
            return Ok(());
        }
        let st = &mut *st;
        let ants = self.upload(
            st,
            "antennas",
            STORAGE_IN,
            bytemuck::cast_slice(req.antenna_xyz_m),
        )?;
        let rots = self.upload(
            st,
            "rotations",
            STORAGE_IN,
            bytemuck::cast_slice(req.rotations),
        )?;
        let tile = self.tile_rows(3 * 8);
        for start in (0..out.len()).step_by(tile) {
            let end = (start + tile).min(out.len());
            let n = end - start;
            let a1 = self.upload(
                st,
                "ant1",
                STORAGE_IN,
                bytemuck::cast_slice(&req.ant1[start..end]),
            )?;
            let a2 = self.upload(
                st,
                "ant2",
                STORAGE_IN,
                bytemuck::cast_slice(&req.ant2[start..end]),
            )?;
            let ri = self.upload(
                st,
                "rotation_index",
                STORAGE_IN,
                bytemuck::cast_slice(&req.rotation_index[start..end]),
            )?;
            let result = st
                .pool
                .get(&self.ctx, "uvw", (n * 24) as u64, STORAGE_OUT)?;
            let result = (result, (n * 24) as u64);
            let (_, _, width) = self.grid(n as u64, kernel.workgroup_size);
            let params = self.params(st, [n as u32, width, 0, 0, 0, 0, 0, 0])?;
            let dst: &mut [u8] = bytemuck::cast_slice_mut(&mut out[start..end]);
            self.dispatch(
                st,
                "uvw",
                kernel,
                n as u64,
                &[&params, &ants, &a1, &a2, &ri, &rots, &result],
                6,
                (n * 24) as u64,
                |bytes| dst.copy_from_slice(bytes),
            )?;
        }
        Ok(())
    }

    fn transform(&self, t: &VisTransform<'_>, vis: &mut [Complex32]) -> Result<(), ComputeError> {
        check_transform(t, vis.len())?;
        let (dw_m, freq_hz, n_pol) = (t.dw_m, t.freq_hz, t.n_pol());
        let n_chan = freq_hz.len();
        let mut st = self.lock();
        st.timings = GpuTimings::default();
        if vis.is_empty() {
            return Ok(());
        }
        let step_hz = match super::cpu::uniform_step_hz(freq_hz) {
            Some(s) => s,
            None if n_chan == 1 => 0.0,
            None => {
                tracing::debug!("phase: channels not evenly spaced, corrected on the CPU");
                return CpuBackend.transform(t, vis);
            }
        };
        let st = &mut *st;
        let per_row = n_chan * n_pol;
        let anchors = phase_terms::anchors(n_chan);
        let tile = self.tile_rows((per_row * 8) as u64);
        for start in (0..dw_m.len()).step_by(tile) {
            let end = (start + tile).min(dw_m.len());
            let n = end - start;
            let mut terms = std::mem::take(&mut st.terms);
            terms.resize(n * anchors, [[0.0; 4]; 2]);
            phase_terms::fill(&dw_m[start..end], freq_hz[0], step_hz, n_chan, &mut terms);
            let uploaded = self.upload(st, "phase-terms", STORAGE_IN, bytemuck::cast_slice(&terms));
            st.terms = terms;
            let terms = uploaded?;
            let bits = row_bits(t.alternate, start, end);
            let alternate = self.upload(st, "row-maps", STORAGE_IN, bytemuck::cast_slice(&bits))?;
            let block = &mut vis[start * per_row..end * per_row];
            let data = self.upload(st, "vis", STORAGE_OUT, bytemuck::cast_slice(block))?;
            let threads = (n * n_chan) as u64;
            let (_, _, width) = self.grid(threads, self.phase.workgroup_size);
            let params = self.params(
                st,
                [
                    n as u32,
                    n_chan as u32,
                    n_pol as u32,
                    width,
                    anchors as u32,
                    CHANNELS_PER_ANCHOR as u32,
                    packed_maps(t.maps),
                    0,
                ],
            )?;
            let bytes = data.1;
            let dst: &mut [u8] = bytemuck::cast_slice_mut(block);
            self.dispatch(
                st,
                "phase",
                &self.phase,
                threads,
                &[&params, &terms, &data, &alternate],
                2,
                bytes,
                |mapped| dst.copy_from_slice(mapped),
            )?;
        }
        Ok(())
    }

    fn separations(&self, a: &[SkyPos], b: &[SkyPos], out: &mut [f64]) -> Result<(), ComputeError> {
        check_separations(a, b, out)?;
        let Some(kernel) = &self.separation else {
            return CpuBackend.separations(a, b, out);
        };
        let mut st = self.lock();
        st.timings = GpuTimings::default();
        let st = &mut *st;
        let tile = self.tile_rows(16);
        for start in (0..a.len()).step_by(tile) {
            let end = (start + tile).min(a.len());
            let n = end - start;
            let ba = self.upload(st, "a", STORAGE_IN, bytemuck::cast_slice(&a[start..end]))?;
            let bb = self.upload(st, "b", STORAGE_IN, bytemuck::cast_slice(&b[start..end]))?;
            let result = st
                .pool
                .get(&self.ctx, "separations", (n * 8) as u64, STORAGE_OUT)?;
            let result = (result, (n * 8) as u64);
            let (_, _, width) = self.grid(n as u64, kernel.workgroup_size);
            let params = self.params(st, [n as u32, width, 0, 0, 0, 0, 0, 0])?;
            let dst = &mut out[start..end];
            self.dispatch(
                st,
                "separations",
                kernel,
                n as u64,
                &[&params, &ba, &bb, &result],
                3,
                (n * 8) as u64,
                |bytes| {
                    // (sin, cos) pairs: atan2 in f64 here, not on the GPU.
                    let parts: &[[f32; 2]] = bytemuck::cast_slice(bytes);
                    for (o, p) in dst.iter_mut().zip(parts) {
                        *o = (p[0] as f64).atan2(p[1] as f64);
                    }
                },
            )?;
        }
        Ok(())
    }

    fn match_within(&self, req: &MatchRequest<'_>) -> Result<Vec<Match>, ComputeError> {
        if req.matches_nothing() {
            return Ok(Vec::new());
        }
        let (points, targets, radius_rad) = (req.points, req.targets, req.radius_rad);
        let mut out = Vec::new();
        let Some(kernel) = &self.matcher else {
            return CpuBackend.match_within(req);
        };
        if radius_rad + MATCH_MARGIN_RAD >= MAX_GPU_MATCH_RADIUS_RAD {
            // The kernel's tan(radius) test needs radii well below 90 deg.
            return CpuBackend.match_within(req);
        }
        let mut st = self.lock();
        st.timings = GpuTimings::default();
        let st = &mut *st;
        let tgt = self.upload(st, "targets", STORAGE_IN, bytemuck::cast_slice(targets))?;
        let tile = self.tile_rows(16);
        let mut capacity: u32 = 1 << 16;
        let mut start = 0;
        while start < points.len() {
            let end = (start + tile).min(points.len());
            let n = end - start;
            let pts = self.upload(
                st,
                "points",
                STORAGE_IN,
                bytemuck::cast_slice(&points[start..end]),
            )?;
            let count = self.upload(st, "count", STORAGE_OUT, bytemuck::cast_slice(&[0u32]))?;
            let pairs = st
                .pool
                .get(&self.ctx, "pairs", capacity as u64 * 8, STORAGE_OUT)?;
            let pairs = (pairs, capacity as u64 * 8);
            let (_, _, width) = self.grid(n as u64, kernel.workgroup_size);
            let radius = radius_rad + MATCH_MARGIN_RAD;
            let params = self.params(
                st,
                [
                    n as u32,
                    targets.len() as u32,
                    capacity,
                    width,
                    (radius as f32).to_bits(),
                    (radius.tan() as f32).to_bits(),
                    0,
                    0,
                ],
            )?;
            let mut found = 0u32;
            self.dispatch(
                st,
                "match",
                kernel,
                n as u64,
                &[&params, &pts, &tgt, &count, &pairs],
                3,
                4,
                |bytes| found = bytemuck::cast_slice::<u8, u32>(bytes)[0],
            )?;
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
                self.copy_back(st, &pairs.0, found as u64 * 8, |bytes| {
                    for pair in bytemuck::cast_slice::<u8, [u32; 2]>(bytes) {
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
                })?;
            }
            start = end;
        }
        out.sort_by_key(|m| (m.point, m.target));
        Ok(out)
    }
}

impl GpuBackend {
    /// Copy the first `bytes` of `buffer` back (one submission) and hand
    /// them to `read`.
    fn copy_back(
        &self,
        st: &mut State,
        buffer: &wgpu::Buffer,
        bytes: u64,
        read: impl FnOnce(&[u8]),
    ) -> Result<(), ComputeError> {
        let staging = st.pool.get(
            &self.ctx,
            "staging",
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        let commands = self.ctx.scoped("read-back", || {
            let mut enc = self.ctx.device.create_command_encoder(&Default::default());
            enc.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
            enc.finish()
        })?;
        let t = Instant::now();
        self.ctx
            .submit_and_read("read-back", commands, &[(&staging, bytes)], |v| read(v[0]))?;
        st.timings.submit_wait_s += t.elapsed().as_secs_f64();
        Ok(())
    }
}
