//! Reading UVH5 files: the header into a typed [`Header`], and rows of
//! visibilities, flags and nsamples into buffers the caller owns.
//!
//! Two layouts are understood: the DSA-110 correlator's (old pyuvdata: spw
//! axis, `freq_array` of shape (1, N), scalar `channel_width`, float32
//! `uvw_array`, `phase_type = "drift"`) and the current pyuvdata one (1-D
//! `freq_array`, per-channel widths, `phase_center_catalog`).

mod btree;
pub mod check;
mod chunks;
mod data;
mod h5;
mod validate;

use std::path::{Path, PathBuf};

pub use chunks::LibraryReason;
pub use data::{
    sanitize, whole_row_chunks, DatasetRead, ReadPath, RowBuffers, RowsOut, Uvh5File,
    DEFAULT_CHUNK_CACHE_BYTES,
};
pub use validate::validate;

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
    Sidereal {
        name: String,
        ra_rad: f64,
        dec_rad: f64,
    },
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

/// Errors of reading a UVH5 file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum Uvh5Error {
    #[error("{path}: cannot open as HDF5 ({reason}); is it a UVH5 file, or truncated?")]
    Open { path: PathBuf, reason: String },
    #[error("{path}: missing {what}")]
    Missing { path: PathBuf, what: String },
    #[error("{path}: {what}")]
    Malformed { path: PathBuf, what: String },
    #[error("{path}: unsupported {what}")]
    Unsupported { path: PathBuf, what: String },
    #[error("{path}: reading rows {r0}..{r1}: {reason}")]
    Read {
        path: PathBuf,
        r0: usize,
        r1: usize,
        reason: String,
    },
}

impl Header {
    /// Visibilities per row: channels times polarizations.
    pub fn per_row(&self) -> usize {
        self.n_freqs * self.n_pols
    }

    /// Each row's antenna numbers (`ant_1_array`, `ant_2_array`) as `u32`:
    /// headers are read with every row's antennas among `antenna_numbers`,
    /// all in 0..=65535 ([`check`]).
    pub fn row_antennas(&self) -> (Vec<u32>, Vec<u32>) {
        let as_u32 = |a: &[i64]| a.iter().map(|&n| n as u32).collect();
        (as_u32(&self.ant_1_array), as_u32(&self.ant_2_array))
    }
}

fn malformed(path: &Path, what: String) -> Uvh5Error {
    Uvh5Error::Malformed {
        path: path.to_path_buf(),
        what,
    }
}

/// Open `path` read-only as HDF5, with a clear error when it is not one.
pub(crate) fn open_hdf5(path: &Path, chunk_cache_bytes: usize) -> Result<hdf5::File, Uvh5Error> {
    if let Err(e) = std::fs::metadata(path) {
        return Err(Uvh5Error::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        });
    }
    // No file locks: we only read, the correlator may still hold the file,
    // and a lock inherited by another process (a fork elsewhere in the
    // caller) would otherwise make a healthy file unreadable.
    hdf5::File::with_options()
        .with_fapl(|p| {
            p.chunk_cache(521, chunk_cache_bytes, 0.75)
                .file_locking(false)
        })
        .open(path)
        .map_err(|e| Uvh5Error::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// Read the header of `path` (either layout).
pub fn read_header(path: &Path) -> Result<Header, Uvh5Error> {
    let file = open_hdf5(path, DEFAULT_CHUNK_CACHE_BYTES)?;
    header_of(&file, path)
}

pub(crate) fn header_of(file: &hdf5::File, path: &Path) -> Result<Header, Uvh5Error> {
    let h = file.group("Header").map_err(|_| Uvh5Error::Missing {
        path: path.to_path_buf(),
        what: "group Header".into(),
    })?;
    let n_blts = h5::usize_scalar(&h, "Nblts", path)?;
    let n_freqs = h5::usize_scalar(&h, "Nfreqs", path)?;
    let n_pols = h5::usize_scalar(&h, "Npols", path)?;
    let freq_ds = h5::dataset(&h, "freq_array", path)?;
    let layout = if freq_ds.ndim() == 2 {
        Layout::Legacy
    } else {
        Layout::Current
    };
    let freq_hz = h5::f64_vec(&h, "freq_array", path)?;
    let channel_width_hz = match h5::f64_vec(&h, "channel_width", path)?[..] {
        [w] => vec![w; n_freqs],
        ref v => v.to_vec(),
    };
    let uvw = h5::f64_vec(&h, "uvw_array", path)?;
    let pos = h5::f64_vec(&h, "antenna_positions", path)?;
    let names = h5::strings(&h5::dataset(&h, "antenna_names", path)?, path)?;
    let extra = h.group("extra_keywords").ok();
    let extra_f64 = |name: &str| {
        extra
            .as_ref()
            .and_then(|g| h5::f64_scalar(g, name, path).ok())
    };
    let extra_str = |name: &str| {
        extra
            .as_ref()
            .and_then(|g| h5::opt_string(g, name, path).ok().flatten())
    };
    let phase_type = h5::opt_string(&h, "phase_type", path)?;
    let instrument = h5::opt_string(&h, "instrument", path)?.unwrap_or_default();
    let dsa_dec = match (
        extra_str("phase_center_epoch"),
        extra_f64("phase_center_dec"),
    ) {
        (Some(epoch), Some(dec)) if epoch.eq_ignore_ascii_case("HADEC") => Some(dec),
        (_, Some(dec)) if instrument == "DSA" && phase_type.as_deref() == Some("drift") => {
            Some(dec)
        }
        _ => None,
    };
    let phase_center = match dsa_dec {
        Some(dec_rad) => PhaseCenter::DsaMeridian { dec_rad },
        None => catalog_phase_center(&h, path)?,
    };
    let vis = file
        .dataset("Data/visdata")
        .map_err(|_| Uvh5Error::Missing {
            path: path.to_path_buf(),
            what: "Data/visdata".into(),
        })?;
    let header = Header {
        path: path.to_path_buf(),
        layout,
        telescope_name: h5::opt_string(&h, "telescope_name", path)?.unwrap_or_default(),
        instrument,
        object_name: h5::opt_string(&h, "object_name", path)?.unwrap_or_default(),
        history: h5::opt_string(&h, "history", path)?.unwrap_or_default(),
        latitude_deg: h5::f64_scalar(&h, "latitude", path)?,
        longitude_deg: h5::f64_scalar(&h, "longitude", path)?,
        altitude_m: h5::f64_scalar(&h, "altitude", path)?,
        n_blts,
        n_bls: h5::usize_scalar(&h, "Nbls", path)?,
        n_times: h5::usize_scalar(&h, "Ntimes", path)?,
        n_freqs,
        n_pols,
        n_spws: h5::usize_scalar(&h, "Nspws", path)?,
        n_ants_data: h5::usize_scalar(&h, "Nants_data", path)?,
        n_ants_telescope: h5::usize_scalar(&h, "Nants_telescope", path)?,
        ant_1_array: h5::i64_vec(&h, "ant_1_array", path)?,
        ant_2_array: h5::i64_vec(&h, "ant_2_array", path)?,
        antenna_numbers: h5::i64_vec(&h, "antenna_numbers", path)?,
        antenna_names: names,
        antenna_positions_m: pos.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
        antenna_diameters_m: h
            .dataset("antenna_diameters")
            .ok()
            .and_then(|d| d.read_raw::<f64>().ok()),
        uvw_m: uvw.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect(),
        time_jd: time_array(&h, path)?,
        integration_time_s: h5::f64_vec(&h, "integration_time", path)?,
        freq_hz,
        channel_width_hz,
        polarizations: h5::i64_vec(&h, "polarization_array", path)?
            .iter()
            .map(|&p| p as i32)
            .collect(),
        phase_center,
        vis_dtype: vis
            .dtype()
            .and_then(|t| t.to_descriptor())
            .map(|d| d.to_string())
            .unwrap_or_else(|_| "unknown".into()),
    };
    check_shapes(&header, &vis)?;
    check::check_values(&header)?;
    Ok(header)
}

/// `time_array`, which must be stored as float64: a float32 Julian Date
/// resolves only a quarter of a day.
fn time_array(h: &hdf5::Group, path: &Path) -> Result<Vec<f64>, Uvh5Error> {
    let ds = h5::dataset(h, "time_array", path)?;
    let size = ds.dtype().map(|t| t.size()).unwrap_or(0);
    if size < 8 {
        return Err(malformed(
            path,
            format!("time_array is stored in {size} bytes per value: Julian Dates need float64"),
        ));
    }
    h5::f64_vec(h, "time_array", path)
}

/// The first entry of `phase_center_catalog` (current layout), or drift.
fn catalog_phase_center(h: &hdf5::Group, path: &Path) -> Result<PhaseCenter, Uvh5Error> {
    let Ok(cat) = h.group("phase_center_catalog") else {
        return Ok(PhaseCenter::Drift);
    };
    let mut ids = cat.member_names().unwrap_or_default();
    ids.sort();
    let Some(first) = ids.first().and_then(|id| cat.group(id).ok()) else {
        return Ok(PhaseCenter::Drift);
    };
    if ids.len() > 1 {
        tracing::warn!(
            "{}: {} phase centres in the catalog; using the first",
            path.display(),
            ids.len()
        );
    }
    let kind = h5::opt_string(&first, "cat_type", path)?.unwrap_or_default();
    if kind != "sidereal" {
        return Ok(PhaseCenter::Drift);
    }
    Ok(PhaseCenter::Sidereal {
        name: h5::opt_string(&first, "cat_name", path)?.unwrap_or_default(),
        ra_rad: h5::f64_scalar(&first, "cat_lon", path)?,
        dec_rad: h5::f64_scalar(&first, "cat_lat", path)?,
    })
}

/// Shapes consistent with Nblts, Nfreqs, Npols; no empty or non-finite axes.
fn check_shapes(hd: &Header, vis: &hdf5::Dataset) -> Result<(), Uvh5Error> {
    let p = &hd.path;
    if hd.n_blts == 0 || hd.time_jd.is_empty() {
        return Err(malformed(
            p,
            "no rows (Nblts = 0 or empty time_array)".into(),
        ));
    }
    if hd.n_freqs == 0 || hd.n_pols == 0 {
        return Err(malformed(
            p,
            format!("Nfreqs = {}, Npols = {}: no data", hd.n_freqs, hd.n_pols),
        ));
    }
    let per_row = [
        ("time_array", hd.time_jd.len()),
        ("integration_time", hd.integration_time_s.len()),
        ("ant_1_array", hd.ant_1_array.len()),
        ("ant_2_array", hd.ant_2_array.len()),
        ("uvw_array", hd.uvw_m.len()),
    ];
    for (name, len) in per_row {
        if len != hd.n_blts {
            return Err(malformed(
                p,
                format!("{name} has {len} entries, Nblts is {}", hd.n_blts),
            ));
        }
    }
    if hd.freq_hz.len() != hd.n_freqs || hd.channel_width_hz.len() != hd.n_freqs {
        return Err(malformed(
            p,
            format!(
                "freq_array/channel_width have {}/{} entries, Nfreqs is {}",
                hd.freq_hz.len(),
                hd.channel_width_hz.len(),
                hd.n_freqs
            ),
        ));
    }
    if hd.polarizations.len() != hd.n_pols {
        return Err(malformed(
            p,
            format!(
                "polarization_array has {} entries, Npols is {}",
                hd.polarizations.len(),
                hd.n_pols
            ),
        ));
    }
    if hd.antenna_names.len() != hd.antenna_numbers.len()
        || hd.antenna_positions_m.len() != hd.antenna_numbers.len()
    {
        return Err(malformed(
            p,
            "antenna_names, antenna_numbers and antenna_positions differ in length".into(),
        ));
    }
    let shape = vis.shape();
    let expected: Vec<usize> = match hd.layout {
        Layout::Legacy => vec![hd.n_blts, 1, hd.n_freqs, hd.n_pols],
        Layout::Current => vec![hd.n_blts, hd.n_freqs, hd.n_pols],
    };
    if shape != expected {
        return Err(malformed(
            p,
            format!("Data/visdata has shape {shape:?}, expected {expected:?}"),
        ));
    }
    let finite = |v: &[f64]| v.iter().all(|x| x.is_finite());
    if !finite(&hd.time_jd) || !finite(&hd.freq_hz) || !hd.uvw_m.iter().all(|u| finite(u)) {
        return Err(malformed(
            p,
            "NaN or infinite values in time_array, freq_array or uvw_array".into(),
        ));
    }
    Ok(())
}
