//! Reading UVH5 files: the header into a typed [`Header`], and rows of
//! visibilities, flags and nsamples into buffers the caller owns.
//!
//! Two layouts are understood: the DSA-110 correlator's (old pyuvdata: spw
//! axis, `freq_array` of shape (1, N), scalar `channel_width`, float32
//! `uvw_array`, `phase_type = "drift"`) and the current pyuvdata one (1-D
//! `freq_array`, per-channel widths, `phase_center_catalog`).

use std::path::PathBuf;

/// Which on-disk layout a file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Layout {
    /// Old pyuvdata layout with a spectral-window axis (DSA-110 correlator).
    Legacy,
    /// Current pyuvdata layout, no spw axis.
    Current,
}

/// Where the file says its data are phased.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub enum PhaseCenter {
    /// DSA-110 correlator: labelled "drift" but fringe-stopped on the
    /// meridian (hour angle 0) at this declination, radians.
    DsaMeridian { dec_rad: f64 },
    /// A fixed ICRS (or FK5 J2000) position, radians.
    Sidereal { name: String, ra_rad: f64, dec_rad: f64 },
    /// Truly unphased (zenith drift) data.
    Drift,
}

/// Everything in `Header/` that the converter uses, with units in the names.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Header {
    pub path: PathBuf,
    pub layout: Layout,
    pub telescope_name: String,
    pub instrument: String,
    pub object_name: String,
    pub history: String,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub altitude_m: f64,
    pub n_blts: usize,
    pub n_bls: usize,
    pub n_times: usize,
    pub n_freqs: usize,
    pub n_pols: usize,
    pub n_spws: usize,
    pub n_ants_data: usize,
    pub n_ants_telescope: usize,
    /// Antenna numbers of each row (as in `ant_1_array`).
    pub ant_1_array: Vec<i64>,
    pub ant_2_array: Vec<i64>,
    pub antenna_numbers: Vec<i64>,
    pub antenna_names: Vec<String>,
    /// ECEF offsets from the array position, metres, one per antenna number.
    pub antenna_positions_m: Vec<[f64; 3]>,
    pub antenna_diameters_m: Option<Vec<f64>>,
    /// Per row, metres, as stored (float32 in the DSA-110 layout).
    pub uvw_m: Vec<[f64; 3]>,
    /// Per row, UTC Julian Date of the integration midpoint.
    pub time_jd: Vec<f64>,
    /// Per row, seconds.
    pub integration_time_s: Vec<f64>,
    /// Channel centres in file order (DSA-110: descending), Hz.
    pub freq_hz: Vec<f64>,
    /// Channel widths in file order, Hz (signed as stored).
    pub channel_width_hz: Vec<f64>,
    /// AIPS polarization codes (-5 XX, -6 YY, ...).
    pub polarizations: Vec<i32>,
    pub phase_center: PhaseCenter,
    /// Data type of `Data/visdata` as stored.
    pub vis_dtype: String,
}
