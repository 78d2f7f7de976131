//! Batch kernels behind one trait: UVW from antenna positions, the fused
//! per-element transform of visibilities (the phase change of a new w and
//! the output's correlation order and conjugation, in one pass), and
//! angular separations.
//!
//! [`cpu::CpuBackend`] (rayon, f64) is the reference; [`gpu::GpuBackend`]
//! runs the WGSL kernels in `shaders/` through wgpu; [`auto`] measures both
//! on a block and routes each kernel to the faster. All take the same
//! inputs and are tested against the same references with a stated
//! epsilon per backend.

pub mod auto;
pub mod cpu;
pub mod gpu;
pub mod rotation;
pub mod sample;

use num_complex::Complex32;

use crate::astro::SkyPos;

/// Speed of light in vacuum, metres per second.
pub const SPEED_OF_LIGHT_M_S: f64 = 299_792_458.0;

/// A cross-match ([`Backend::match_within`]): every (point, target) pair
/// closer than `radius_rad` (none for a radius that is not positive).
#[derive(Clone, Copy, Debug)]
pub struct MatchRequest<'a> {
    pub points: &'a [SkyPos],
    pub targets: &'a [SkyPos],
    pub radius_rad: f64,
}

impl<'a> MatchRequest<'a> {
    pub fn new(points: &'a [SkyPos], targets: &'a [SkyPos], radius_rad: f64) -> Self {
        MatchRequest {
            points,
            targets,
            radius_rad,
        }
    }

    /// No pair can match: no points, no targets, or a radius that is not
    /// positive (a negative frequency makes a negative beam radius).
    pub fn matches_nothing(&self) -> bool {
        self.points.is_empty()
            || self.targets.is_empty()
            || self.radius_rad.is_nan()
            || self.radius_rad <= 0.0
    }
}

/// Everything needed to compute UVW for a block of rows.
///
/// For row `r`: `uvw[r] = R[rotation_index[r]] * (xyz[ant2[r]] - xyz[ant1[r]])`
/// (pyuvdata's convention: baseline = ant2 - ant1).
pub struct UvwRequest<'a> {
    /// Antenna positions in metres, in an Earth-fixed Cartesian frame
    /// (ECEF offsets from the array centre).
    pub antenna_xyz_m: &'a [[f64; 3]],
    /// First antenna of each row: index into `antenna_xyz_m`.
    pub ant1: &'a [u32],
    /// Second antenna of each row: index into `antenna_xyz_m`.
    pub ant2: &'a [u32],
    /// For each row, the index of its rotation in `rotations`.
    pub rotation_index: &'a [u32],
    /// Row-major 3x3 matrices taking an Earth-fixed baseline (metres) to
    /// (u, v, w) in metres, one per phase centre and integration.
    pub rotations: &'a [[f64; 9]],
}

/// How [`Backend::transform`] turns one row's correlations around:
/// output correlation `p` is input correlation `source[p]`, conjugated
/// when `conjugate`.
#[derive(Clone, Debug, PartialEq)]
pub struct PolMap {
    pub source: Vec<u32>,
    pub conjugate: bool,
}

impl PolMap {
    /// Every correlation where it is, none conjugated.
    pub fn identity(n_pol: usize) -> PolMap {
        PolMap {
            source: (0..n_pol as u32).collect(),
            conjugate: false,
        }
    }

    /// Every correlation stays where it is (conjugated or not).
    pub fn keeps_order(&self) -> bool {
        self.source
            .iter()
            .enumerate()
            .all(|(p, &s)| s as usize == p)
    }

    /// Leaves every row as it is.
    pub fn is_identity(&self) -> bool {
        !self.conjugate && self.keeps_order()
    }
}

/// Most correlations per row the transform handles (XX, XY, YX, YY).
pub const MAX_POLS: usize = 4;

/// The fused transform of a block of rows: the phase change of a new w
/// and the output's conventions (for a Measurement Set,
/// `ms::convention::ms_maps` builds `maps`).
pub struct VisTransform<'a> {
    /// w change of each row, metres.
    pub dw_m: &'a [f64],
    /// Channel centres, Hz.
    pub freq_hz: &'a [f64],
    /// Rows that take `maps[1]` (empty: every row takes `maps[0]`).
    pub alternate: &'a [bool],
    /// The two ways a row's correlations are turned around, each of
    /// `n_pol` (at most [`MAX_POLS`]) sources.
    pub maps: &'a [PolMap; 2],
}

impl VisTransform<'_> {
    pub fn n_pol(&self) -> usize {
        self.maps[0].source.len()
    }

    /// The map of row `r`.
    pub fn map(&self, r: usize) -> &PolMap {
        &self.maps[usize::from(self.alternate.get(r).copied().unwrap_or(false))]
    }
}

/// One pair of a catalog cross-match: `points[point]` lies within the
/// requested radius of `targets[target]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Match {
    pub point: u32,
    pub target: u32,
    pub separation_rad: f64,
}

/// Which implementation to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// Measure: each kernel on whichever of a hardware GPU and the CPU ran
    /// a calibration block faster (the CPU when there is no hardware GPU).
    Auto,
    /// The GPU; an error when no suitable adapter exists.
    Gpu,
    /// The CPU (rayon), the f64 reference.
    Cpu,
}

/// Errors of the compute backends.
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error("no GPU adapter found{0}")]
    NoAdapter(String),
    #[error("GPU adapter '{adapter}' lacks {what}")]
    MissingFeature { adapter: String, what: String },
    #[error("GPU out of memory ({0}): use a smaller --max-memory or --backend cpu")]
    OutOfMemory(String),
    #[error("GPU validation error: {0}")]
    Validation(String),
    #[error("GPU device lost ({0}): the driver reset or removed it; rerun, or use --backend cpu")]
    DeviceLost(String),
    #[error("GPU did not finish {what} within {seconds} s (hung driver?); use --backend cpu")]
    Timeout { what: String, seconds: f64 },
    #[error("GPU device error: {0}")]
    Device(String),
    #[error("inconsistent input: {0}")]
    Input(String),
}

/// The three batch operations, implemented once on the CPU and once on the GPU.
pub trait Backend: Send + Sync {
    /// Short name for logs and summaries: "cpu" or "gpu".
    fn name(&self) -> &'static str;

    /// Human description (thread count, or adapter name and driver).
    fn description(&self) -> String;

    /// UVW in metres for every row of `req`, written to `out` (same length
    /// as `req.ant1`).
    fn uvw(&self, req: &UvwRequest<'_>, out: &mut [[f64; 3]]) -> Result<(), ComputeError>;

    /// The fused per-element transform of `vis`, `[row][chan][pol]` in
    /// place, in one pass: each visibility multiplied by
    /// `exp(-2 pi i dw_m[row] freq_hz[chan] / c)`, then each row's
    /// correlations reordered and conjugated by its [`PolMap`].
    fn transform(&self, t: &VisTransform<'_>, vis: &mut [Complex32]) -> Result<(), ComputeError>;

    /// [`Backend::transform`] with every correlation left where it is: the
    /// phase correction alone.
    fn phase_correct(
        &self,
        vis: &mut [Complex32],
        n_pol: usize,
        dw_m: &[f64],
        freq_hz: &[f64],
    ) -> Result<(), ComputeError> {
        let maps = [PolMap::identity(n_pol), PolMap::identity(n_pol)];
        let t = VisTransform {
            dw_m,
            freq_hz,
            alternate: &[],
            maps: &maps,
        };
        self.transform(&t, vis)
    }

    /// Element-wise angular separation `out[i] = sep(a[i], b[i])`, radians.
    fn separations(&self, a: &[SkyPos], b: &[SkyPos], out: &mut [f64]) -> Result<(), ComputeError>;

    /// Every (point, target) pair of `req` closer than its radius, sorted
    /// by point then target.
    fn match_within(&self, req: &MatchRequest<'_>) -> Result<Vec<Match>, ComputeError>;
}

/// Open the backend `choice` asks for; `Cpu` never touches a GPU driver.
/// `Auto` calibrates on a DSA-110 block ([`auto::BlockShape::default`]).
pub fn select(choice: BackendChoice) -> Result<Box<dyn Backend>, ComputeError> {
    select_for(choice, auto::BlockShape::default())
}

/// As [`select`], `Auto` calibrating on blocks of `shape`. It only
/// considers hardware adapters: a software one such as lavapipe runs on
/// the cores the CPU backend uses (`gpu` accepts it). The log says what
/// was measured and chosen.
pub fn select_for(
    choice: BackendChoice,
    shape: auto::BlockShape,
) -> Result<Box<dyn Backend>, ComputeError> {
    match choice {
        BackendChoice::Cpu => Ok(Box::new(cpu::CpuBackend)),
        BackendChoice::Gpu => Ok(Box::new(gpu::GpuBackend::new(gpu::AdapterPolicy::Any)?)),
        BackendChoice::Auto => match gpu::GpuBackend::new(gpu::AdapterPolicy::HardwareOnly) {
            Ok(g) => auto::calibrated(g, shape),
            Err(e) => {
                tracing::info!("backend auto: the CPU ({e})");
                Ok(Box::new(cpu::CpuBackend))
            }
        },
    }
}
