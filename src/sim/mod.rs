//! Synthetic DSA-110 groups, written in the correlator's UVH5 layout.
//!
//! The visibilities are those the real correlator would produce for a sky of
//! point sources: fringe-stopped every integration on the meridian (hour
//! angle 0) at the pointing declination, with `uvw_array` (float32) for that
//! direction and the file labelled `phase_type = "drift"` as the correlator
//! does. For baseline b = x(ant2) - x(ant1) and a source of flux S whose
//! direction gives w coordinate `w_src` (metres), the visibility at frequency
//! f is, in pyuvdata's sign convention,
//!
//! `V = sum S * exp(+2 pi i (w_src - w_0) f / c)`
//!
//! where `w_0` is the w of the fringe-stopping direction. pyuvdata's own
//! phasing multiplies by `exp(-2 pi i (w_new - w_old) f / c)`, so phasing such
//! data to a source's position returns the flat spectrum S: a correct
//! converter plus an imager finds each source at its true ICRS position.
//!
//! Fluxes are apparent: no primary beam is applied, so an image of a single
//! source shows the flux it was given.
//!
//! The files are laid out as the correlator's h5py writer lays them out
//! ([`FileLayout::Correlator`]): per-row datasets created empty and
//! resizable, chunked as h5py chunks them ([`guess_chunk`]), one integration
//! appended at a time. Like the real files they hold a non-contiguous,
//! non-monotonic subset of the stations ([`antennas_with_data`]) with the
//! correlator's baseline order (many rows have ant_1 > ant_2), nsamples =
//! correlator dumps averaged ([`DUMPS_PER_INTEGRATION`]; fewer, with some NaN
//! visibilities, in a partial last integration when asked), the channel
//! frequencies of [`telescope::channel_freq_hz`], and float32 uvw rounded from the
//! exact (f64) w the visibilities were fringe-stopped with.

mod antennas;
mod chunk;
mod faults;
mod rows;
mod sky;
mod write;

use std::path::{Path, PathBuf};

use crate::astro::SkyPos;
use crate::astro::{Astrometer, Iers};
use crate::telescope;

pub use antennas::{antennas_with_data, correlator_baselines, CORRELATOR_ORDER};
pub use chunk::guess_chunk;
pub use faults::{SimFaults, DEAD_ANTENNA_GAIN, RFI_AMPLITUDE_JY};
pub use sky::{SimSource, NAN_CELL_PERIOD};

/// Correlator dumps (0.134217728 s each) averaged into one integration: the
/// nsamples of every cell of a full integration.
pub const DUMPS_PER_INTEGRATION: u32 = 96;

/// How a file's per-row datasets are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
pub enum FileLayout {
    /// As the correlator's h5py writer: created empty and resizable, h5py's
    /// automatic chunk shapes (a chunk holds part of a row), one
    /// integration appended at a time.
    #[default]
    Correlator,
    /// The simulator's old layout, for comparisons: every dataset written
    /// at once, the header arrays contiguous, one integration per data
    /// chunk.
    WholeIntegration,
}

/// What to simulate. [`SimConfig::default`] is a full-size group.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// How many antennas have data; which ones, and their order, follow
    /// [`antennas_with_data`] (2..=117).
    pub n_ants: usize,
    /// Integrations in the group.
    pub n_times: usize,
    /// Subband files in the group.
    pub n_subbands: usize,
    /// Channels per subband file (a divisor of 384; 48 as the real files).
    pub chans_per_subband: usize,
    /// Pointing declination (ICRS-ish, of date), radians.
    pub pointing_dec_rad: f64,
    /// UTC Julian Date of the first integration's midpoint. `None`: chosen so
    /// that the first source transits at mid-group.
    pub start_time_jd: Option<f64>,
    /// Point sources; the first is the one that transits mid-group by default.
    pub sources: Vec<SimSource>,
    /// Standard deviation of the complex Gaussian noise per real and
    /// imaginary part, Jy. 0 for none.
    pub noise_jy: f64,
    /// Gzip level for the data chunks, `None` for uncompressed.
    pub gzip_level: Option<u8>,
    /// Seed for the noise.
    pub seed: u64,
    /// Layout of the per-row datasets.
    pub layout: FileLayout,
    /// `Some(d)`: the last integration is partial, only `d` of its
    /// [`DUMPS_PER_INTEGRATION`] dumps averaged (nsamples `d`, and a NaN
    /// visibility with nsamples 0 in one cell of [`NAN_CELL_PERIOD`]).
    pub partial_last_dumps: Option<u32>,
    /// Faults to inject for testing QA: a dead antenna, a NaN subband, RFI
    /// channels (none by default).
    pub faults: SimFaults,
}

/// 3C286, a bright VLA calibrator, the default sky (ICRS, Jy at L band).
pub fn default_calibrator() -> SimSource {
    SimSource {
        name: "3C286".to_string(),
        position: SkyPos {
            ra_rad: 202.784_533_3_f64.to_radians(),
            dec_rad: 30.509_155_3_f64.to_radians(),
        },
        flux_jy: 14.9,
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        let cal = default_calibrator();
        SimConfig {
            n_ants: 96,
            n_times: 24,
            n_subbands: telescope::N_SUBBANDS,
            chans_per_subband: telescope::CHANNELS_PER_SUBBAND,
            pointing_dec_rad: cal.position.dec_rad,
            start_time_jd: None,
            sources: vec![cal],
            noise_jy: 0.0,
            gzip_level: None,
            seed: 42,
            layout: FileLayout::Correlator,
            partial_last_dumps: None,
            faults: SimFaults::default(),
        }
    }
}

/// Errors of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("invalid simulation settings: {0}")]
    Config(String),
    #[error("{n} antennas asked for: it must be 2..={max}, the stations of the array")]
    Antennas { n: usize, max: usize },
    #[error("{n} channels per subband asked for: it must divide the 384 correlator channels of a subband")]
    Channels { n: usize },
    #[error("a partial last integration of {dumps} dumps asked for: it must be 1..{max}")]
    PartialDumps { dumps: u32, max: u32 },
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: hdf5::Error },
    #[error("cannot create output directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The description of one simulated group, shared by its subband files.
#[derive(Clone, Debug)]
pub struct SimGroup {
    pub config: SimConfig,
    /// Midpoint of each integration, UTC JD.
    pub time_jd: Vec<f64>,
    /// File name timestamp, `YYYY-MM-DDTHH:MM:SS`.
    pub timestamp: String,
}

/// Plan a group: fix the start time (transit of the first source at
/// mid-group unless given) and the timestamp.
pub fn plan(config: &SimConfig, astro: &Astrometer) -> Result<SimGroup, SimError> {
    let max = telescope::stations().len();
    if config.n_ants < 2 || config.n_ants > max {
        return Err(SimError::Antennas {
            n: config.n_ants,
            max,
        });
    }
    if telescope::averaged_channels(config.chans_per_subband).is_none() {
        return Err(SimError::Channels {
            n: config.chans_per_subband,
        });
    }
    if let Some(dumps) = config.partial_last_dumps {
        if dumps == 0 || dumps >= DUMPS_PER_INTEGRATION {
            return Err(SimError::PartialDumps {
                dumps,
                max: DUMPS_PER_INTEGRATION,
            });
        }
    }
    if config.n_times == 0 || config.n_subbands == 0 {
        return Err(SimError::Config(
            "n_times and n_subbands must be at least 1".into(),
        ));
    }
    config.faults.check(
        &antennas_with_data(config.n_ants),
        config.n_subbands,
        config.chans_per_subband,
    )?;
    if !(-90f64.to_radians()..=90f64.to_radians()).contains(&config.pointing_dec_rad) {
        return Err(SimError::Config(
            "pointing declination outside [-90, 90] deg".into(),
        ));
    }
    let dt_day = telescope::INTEGRATION_TIME_S / 86_400.0;
    let start = match config.start_time_jd {
        Some(t) => t,
        None => {
            let target =
                config.sources.first().map(|s| s.position).ok_or_else(|| {
                    SimError::Config("no start time and no source to transit".into())
                })?;
            let mid = transit_time_jd(astro, target, DEFAULT_EPOCH_JD);
            mid - dt_day * (config.n_times as f64 - 1.0) / 2.0
        }
    };
    let time_jd = (0..config.n_times)
        .map(|i| start + dt_day * i as f64)
        .collect();
    // The correlator stamps files with the start of the first integration.
    let timestamp = format_timestamp(start - dt_day / 2.0);
    Ok(SimGroup {
        config: config.clone(),
        time_jd,
        timestamp,
    })
}

/// Default date around which transits are sought: 2025-01-15 00:00 UTC.
const DEFAULT_EPOCH_JD: f64 = 2_460_690.5;

/// The UTC JD, after `after_jd`, at which `pos` crosses the local meridian.
pub fn transit_time_jd(astro: &Astrometer, pos: SkyPos, after_jd: f64) -> f64 {
    const SIDEREAL_DAY: f64 = 0.997_269_566_3;
    let mut t = after_jd;
    for _ in 0..8 {
        let (ha, _) = astro.icrs_to_hadec(t, pos);
        // Wrap to [-pi, pi); move forward to the next transit on the first step.
        let ha =
            (ha + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
        let mut dt = -ha / std::f64::consts::TAU * SIDEREAL_DAY;
        if t + dt < after_jd {
            dt += SIDEREAL_DAY;
        }
        t += dt;
    }
    t
}

/// `YYYY-MM-DDTHH:MM:SS` of a UTC Julian Date (rounded to the second).
pub fn format_timestamp(time_jd: f64) -> String {
    let secs = ((time_jd - 2_440_587.5) * 86_400.0).round() as i64;
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_else(|| "invalid-time".to_string())
}

/// Simulate a group and write its files into `out_dir`; returns their paths
/// in subband order (sb00 first).
pub fn simulate_group(
    config: &SimConfig,
    out_dir: &Path,
) -> Result<(SimGroup, Vec<PathBuf>), SimError> {
    let astro = Astrometer::new(telescope::array_site(), Iers::embedded());
    let group = plan(config, &astro)?;
    std::fs::create_dir_all(out_dir).map_err(|source| SimError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let model = sky::Model::new(&group, &astro);
    let mut paths = Vec::with_capacity(config.n_subbands);
    for sb in 0..config.n_subbands {
        let path = out_dir.join(format!("{}_sb{:02}.hdf5", group.timestamp, sb));
        let data = model.subband(sb);
        write::write_subband(&path, &group, &model, sb, &data).map_err(|source| {
            SimError::Write {
                path: path.clone(),
                source,
            }
        })?;
        paths.push(path);
    }
    Ok((group, paths))
}
