//! `--backend auto`: a short calibration on the block size decides, per
//! kernel, whether the GPU or the CPU runs it. Each kernel runs twice on
//! each backend (the first call warms pipelines and allocates the GPU's
//! buffers) and the second, whole-call time decides: uploads, kernel and
//! read-back, what a conversion pays. The log says what was measured.

use std::time::Instant;

use num_complex::Complex32;

use super::cpu::CpuBackend;
use super::gpu::GpuBackend;
use super::sample;
use super::{Backend, ComputeError, Match, MatchRequest, UvwRequest, VisTransform};
use crate::astro::SkyPos;

/// The block a calibration measures: what one pipeline block holds.
#[derive(Clone, Copy, Debug)]
pub struct BlockShape {
    /// Rows (baseline-times) per block.
    pub rows: usize,
    /// Channels per row.
    pub n_chan: usize,
    /// Polarizations per channel.
    pub n_pol: usize,
}

impl Default for BlockShape {
    /// A quarter of a DSA-110 integration: 1164 of its 4656 baselines, 768
    /// channels, 2 polarizations (1.8 M visibilities, 14 MB).
    fn default() -> Self {
        BlockShape {
            rows: 1164,
            n_chan: 768,
            n_pol: 2,
        }
    }
}

/// Which backend runs a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Cpu,
    Gpu,
}

/// One kernel's measurement: warm whole-call seconds on each side.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Measured {
    pub gpu_s: f64,
    pub cpu_s: f64,
    pub chosen: Side,
}

impl Measured {
    fn new(gpu_s: f64, cpu_s: f64) -> Measured {
        Measured {
            gpu_s,
            cpu_s,
            chosen: if gpu_s < cpu_s { Side::Gpu } else { Side::Cpu },
        }
    }
}

/// The calibration's result for each kernel (the cross-match follows the
/// separations: the same kernel family and inputs).
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Calibration {
    pub phase: Measured,
    pub uvw: Measured,
    pub separation: Measured,
}

/// Time `f` twice; the second run's seconds.
fn warm_seconds(mut f: impl FnMut() -> Result<(), ComputeError>) -> Result<f64, ComputeError> {
    f()?;
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Measure every kernel on `gpu` and on the CPU at `shape`.
pub fn calibrate(gpu: &GpuBackend, shape: BlockShape) -> Result<Calibration, ComputeError> {
    let cpu = CpuBackend;
    let backends: [&dyn Backend; 2] = [gpu, &cpu];
    let (freq, dw) = sample::phase_inputs(shape.rows, shape.n_chan);
    let mut vis = vec![Complex32::new(1.0, 0.5); shape.rows * shape.n_chan * shape.n_pol];
    let mut phase = [0.0; 2];
    for (s, b) in phase.iter_mut().zip(backends) {
        *s = warm_seconds(|| b.phase_correct(&mut vis, shape.n_pol, &dw, &freq))?;
    }

    let rows = shape.rows;
    let inputs = sample::UvwInputs::new(96, rows);
    let req = inputs.request();
    let mut out = vec![[0.0; 3]; rows];
    let mut uvw = [0.0; 2];
    for (s, b) in uvw.iter_mut().zip(backends) {
        *s = warm_seconds(|| b.uvw(&req, &mut out))?;
    }

    let (a, b) = sample::position_pairs(rows);
    let mut seps = vec![0.0; rows];
    let mut sep = [0.0; 2];
    for (s, be) in sep.iter_mut().zip(backends) {
        *s = warm_seconds(|| be.separations(&a, &b, &mut seps))?;
    }
    Ok(Calibration {
        phase: Measured::new(phase[0], phase[1]),
        uvw: Measured::new(uvw[0], uvw[1]),
        separation: Measured::new(sep[0], sep[1]),
    })
}

/// Calibrate `gpu` against the CPU at `shape` and return what runs each
/// kernel faster: the CPU, the GPU, or a [`Routed`] mix. Logs the numbers.
pub fn calibrated(gpu: GpuBackend, shape: BlockShape) -> Result<Box<dyn Backend>, ComputeError> {
    let t = Instant::now();
    let cal = calibrate(&gpu, shape)?;
    let line = |name: &str, m: Measured| {
        format!(
            "{name} GPU {:.2} ms, CPU {:.2} ms -> {:?}",
            m.gpu_s * 1e3,
            m.cpu_s * 1e3,
            m.chosen
        )
    };
    tracing::info!(
        "backend auto: calibrated on {} rows x {} channels x {} pols in {:.2} s: {}; {}; {}",
        shape.rows,
        shape.n_chan,
        shape.n_pol,
        t.elapsed().as_secs_f64(),
        line("phase", cal.phase),
        line("uvw", cal.uvw),
        line("separation", cal.separation)
    );
    let sides = [cal.phase.chosen, cal.uvw.chosen, cal.separation.chosen];
    Ok(if sides.iter().all(|&s| s == Side::Cpu) {
        Box::new(CpuBackend)
    } else if sides.iter().all(|&s| s == Side::Gpu) {
        Box::new(gpu)
    } else {
        Box::new(Routed { gpu, cal })
    })
}

/// Each kernel on the side its calibration chose.
pub struct Routed {
    gpu: GpuBackend,
    cal: Calibration,
}

impl Routed {
    fn on(&self, side: Side) -> &dyn Backend {
        match side {
            Side::Gpu => &self.gpu,
            Side::Cpu => &CpuBackend,
        }
    }
}

impl Backend for Routed {
    fn name(&self) -> &'static str {
        "gpu+cpu"
    }

    fn description(&self) -> String {
        format!(
            "measured per kernel: phase {:?}, uvw {:?}, separation {:?}; GPU {}",
            self.cal.phase.chosen,
            self.cal.uvw.chosen,
            self.cal.separation.chosen,
            self.gpu.description()
        )
    }

    fn uvw(&self, req: &UvwRequest<'_>, out: &mut [[f64; 3]]) -> Result<(), ComputeError> {
        self.on(self.cal.uvw.chosen).uvw(req, out)
    }

    fn transform(&self, t: &VisTransform<'_>, vis: &mut [Complex32]) -> Result<(), ComputeError> {
        self.on(self.cal.phase.chosen).transform(t, vis)
    }

    fn separations(&self, a: &[SkyPos], b: &[SkyPos], out: &mut [f64]) -> Result<(), ComputeError> {
        self.on(self.cal.separation.chosen).separations(a, b, out)
    }

    fn match_within(&self, req: &MatchRequest<'_>) -> Result<Vec<Match>, ComputeError> {
        self.on(self.cal.separation.chosen).match_within(req)
    }
}
