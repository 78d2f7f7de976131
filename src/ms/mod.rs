//! Writing CASA Measurement Sets (v2) with casacore, through
//! `rubbl_casatables`.
//!
//! Rows arrive in pyuvdata's internal convention (uvw = x2 - x1, UVH5
//! conjugation). The MS convention is the opposite, and we write it exactly
//! as pyuvdata's `write_ms` does: baselines normalised to ANTENNA1 <=
//! ANTENNA2 (conjugating and negating the swapped rows, and exchanging
//! their XY and YX), then DATA
//! conjugated and UVW negated; polarizations in CASA order (XX, XY, YX,
//! YY); WEIGHT the median of nsamples over channels and SIGMA = WEIGHT^-1/2
//! (0 where the weight is 0); ANTENNA rows indexed by antenna number.
//!
//! The MS is written under `.<name>.partial` next to its final path and
//! renamed into place by [`MsWriter::finish`] after every file is synced:
//! an interrupted run never leaves something that looks finished.

mod schema;
mod subtables;

use std::path::{Path, PathBuf};

use num_complex::Complex32;
use rayon::prelude::*;
use rubbl_casatables::{Array, GlueDataType, Table, TableCreateMode};

use crate::compute::SkyPos;

/// One row of the ANTENNA table.
#[derive(Clone, Debug, PartialEq)]
pub struct Antenna {
    pub name: String,
    pub station: String,
    /// Absolute ITRF (ECEF) position, metres.
    pub position_itrf_m: [f64; 3],
    pub diameter_m: f64,
}

/// One row of the FIELD (and SOURCE) table.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    /// ICRS, radians.
    pub phase_dir: SkyPos,
    /// MJD seconds (UTC).
    pub time_mjd_s: f64,
}

/// Everything but the rows.
#[derive(Clone, Debug)]
pub struct MsSpec {
    pub telescope_name: String,
    /// Array reference position, absolute ITRF, metres (written in the
    /// OBSERVATION table's TELESCOPE_LOCATION column, as pyuvdata does).
    pub telescope_location_itrf_m: [f64; 3],
    pub observer: String,
    pub project: String,
    /// Indexed by antenna number (gaps are rows with an empty name).
    pub antennas: Vec<Antenna>,
    /// Ascending channel centres, Hz: one spectral window.
    pub freq_hz: Vec<f64>,
    pub channel_width_hz: Vec<f64>,
    /// AIPS codes as in UVH5 (-5 XX, -6 YY, -7 XY, -8 YX; -1..-4 RR, LL,
    /// RL, LR; 1..4 I, Q, U, V).
    pub polarizations: Vec<i32>,
    pub fields: Vec<Field>,
    pub time_range_mjd_s: (f64, f64),
    /// Lines for the HISTORY table (tool, version, command line).
    pub history: Vec<String>,
    /// Add MODEL_DATA, CORRECTED_DATA (= DATA) and WEIGHT_SPECTRUM.
    pub imaging_columns: bool,
}

/// Rows in pyuvdata's internal convention.
pub struct RowBlock<'a> {
    pub time_mjd_s: &'a [f64],
    pub interval_s: &'a [f64],
    /// Antenna numbers (rows of the ANTENNA table).
    pub ant1: &'a [u32],
    pub ant2: &'a [u32],
    /// Metres, uvw = x(ant2) - x(ant1).
    pub uvw_m: &'a [[f64; 3]],
    pub field_id: &'a [u32],
    pub scan_number: &'a [i32],
    /// `[row][chan ascending][pol]`.
    pub vis: &'a [Complex32],
    pub flags: &'a [bool],
    pub nsamples: &'a [f32],
}

/// Errors of writing a Measurement Set; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum MsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("casacore: {0}")]
    Casacore(String),
    #[error("{path}: not enough free space: the Measurement Set needs about {need_mb} MB, {free_mb} MB are free")]
    NoSpace {
        path: PathBuf,
        need_mb: u64,
        free_mb: u64,
    },
    #[error("unsupported polarization code {0}")]
    Polarization(i32),
    #[error("inconsistent rows: {0}")]
    Rows(String),
}

fn casacore(e: impl std::fmt::Display) -> MsError {
    MsError::Casacore(e.to_string())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> MsError + '_ {
    move |source| MsError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// CASA Stokes code and receptor pair of an AIPS polarization code.
fn casa_pol(aips: i32) -> Result<(i32, [i32; 2]), MsError> {
    Ok(match aips {
        1 => (1, [0, 0]),
        2 => (2, [0, 1]),
        3 => (3, [1, 0]),
        4 => (4, [1, 1]),
        -1 => (5, [0, 0]),
        -3 => (6, [0, 1]),
        -4 => (7, [1, 0]),
        -2 => (8, [1, 1]),
        -5 => (9, [0, 0]),
        -7 => (10, [0, 1]),
        -8 => (11, [1, 0]),
        -6 => (12, [1, 1]),
        other => return Err(MsError::Polarization(other)),
    })
}

/// The temporary directory an MS is written in before its rename.
pub fn partial_path(final_path: &Path) -> PathBuf {
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_path.with_file_name(format!(".{name}.partial"))
}

/// Remove a leftover partial MS of `final_path` (from a crashed run).
pub fn remove_partial(final_path: &Path) -> Result<bool, MsError> {
    let p = partial_path(final_path);
    if p.exists() {
        std::fs::remove_dir_all(&p).map_err(io(&p))?;
        return Ok(true);
    }
    Ok(false)
}

/// Bytes an MS of these dimensions takes, roughly.
fn estimated_bytes(spec: &MsSpec, n_rows: usize) -> u64 {
    let per_row_vis = (spec.freq_hz.len() * spec.polarizations.len()) as u64;
    let data_cols = if spec.imaging_columns { 3 } else { 1 };
    let per_row =
        per_row_vis * (8 * data_cols + 1 + if spec.imaging_columns { 4 } else { 0 }) + 200;
    per_row * n_rows as u64 + (1 << 20)
}

fn free_bytes(dir: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path and an owned statvfs struct.
    (unsafe { libc::statvfs(c.as_ptr(), &mut s) } == 0)
        .then(|| s.f_bavail as u64 * s.f_frsize as u64)
}

/// A Measurement Set being written.
pub struct MsWriter {
    final_path: PathBuf,
    tmp: PathBuf,
    table: Option<Table>,
    n_rows: usize,
    n_chan: usize,
    /// Input polarization index of each output (CASA-ordered) correlation.
    pol_order: Vec<usize>,
    /// Input polarization index holding the same correlation of the swapped
    /// baseline (XY <-> YX, RL <-> LR; itself for parallel hands).
    pol_partner: Vec<usize>,
    imaging_columns: bool,
    /// Row buffers kept between blocks (fresh ones cost page faults).
    scratch: Scratch,
}

#[derive(Default)]
struct Scratch {
    data: Vec<Complex32>,
    flags: Vec<bool>,
    spectrum: Vec<f32>,
    weight: Vec<f32>,
}

impl MsWriter {
    /// Create the MS for `n_rows` rows under a temporary name beside
    /// `final_path`, with every subtable filled from `spec`.
    pub fn create(final_path: &Path, spec: &MsSpec, n_rows: usize) -> Result<MsWriter, MsError> {
        let dir = final_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let meta = std::fs::metadata(dir).map_err(io(dir))?;
        if !meta.is_dir() {
            return Err(MsError::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            });
        }
        let need = estimated_bytes(spec, n_rows);
        if let Some(free) = free_bytes(dir) {
            if free < need {
                return Err(MsError::NoSpace {
                    path: dir.to_path_buf(),
                    need_mb: need >> 20,
                    free_mb: free >> 20,
                });
            }
        }
        let tmp = partial_path(final_path);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        // Probe writability with a plain directory first: casacore's
        // message for an unwritable directory is obscure.
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        std::fs::remove_dir(&tmp).map_err(io(&tmp))?;

        let mut order: Vec<(i32, usize)> = spec
            .polarizations
            .iter()
            .enumerate()
            .map(|(i, &p)| casa_pol(p).map(|(code, _)| (code, i)))
            .collect::<Result<_, _>>()?;
        order.sort();
        let pol_order: Vec<usize> = order.iter().map(|&(_, i)| i).collect();
        let receptors: Vec<[i32; 2]> = spec
            .polarizations
            .iter()
            .map(|&p| casa_pol(p).map(|(_, r)| r))
            .collect::<Result<_, _>>()?;
        let pol_partner = receptors
            .iter()
            .enumerate()
            .map(|(i, r)| {
                receptors
                    .iter()
                    .position(|q| *q == [r[1], r[0]])
                    .unwrap_or(i)
            })
            .collect();
        let n_chan = spec.freq_hz.len();
        let n_pol = spec.polarizations.len();

        let pol_shape = [n_pol as u64];
        let mut desc = schema::describe("MAIN", &schema::main_columns(&pol_shape))?;
        // casacore's MeasurementSet insists on FLAG_CATEGORY's category names.
        let categories: Vec<String> = ["FLAG_CMD", "ORIGINAL", "USER"].map(String::from).to_vec();
        desc.put_column_keyword("FLAG_CATEGORY", "CATEGORY", &categories)
            .map_err(casacore)?;
        let mut table = Table::new(&tmp, desc, 0, TableCreateMode::New).map_err(casacore)?;
        let cell = [n_chan as u64, n_pol as u64];
        // About 1 MiB tiles: rows x channels x pols.
        let tile_rows = ((1 << 20) / (n_chan * n_pol * 8).max(1)).clamp(1, 1024) as u64;
        let tile = [tile_rows, n_chan as u64, n_pol as u64];
        let mut big = vec![
            (GlueDataType::TpComplex, "DATA"),
            (GlueDataType::TpBool, "FLAG"),
        ];
        if spec.imaging_columns {
            big.push((GlueDataType::TpComplex, "MODEL_DATA"));
            big.push((GlueDataType::TpComplex, "CORRECTED_DATA"));
            big.push((GlueDataType::TpFloat, "WEIGHT_SPECTRUM"));
        }
        for (ty, name) in big {
            table
                .add_tiled_array_column(ty, name, None, &cell, &tile, &format!("Tiled{name}"), true)
                .map_err(casacore)?;
        }
        table.put_keyword("MS_VERSION", &2.0f32).map_err(casacore)?;
        table.add_rows(n_rows).map_err(casacore)?;
        subtables::write_all(&mut table, &tmp, spec, &pol_order)?;
        Ok(MsWriter {
            final_path: final_path.to_path_buf(),
            tmp,
            table: Some(table),
            n_rows,
            n_chan,
            pol_order,
            pol_partner,
            imaging_columns: spec.imaging_columns,
            scratch: Scratch::default(),
        })
    }

    /// Write `block` at rows `first_row..`.
    pub fn write_rows(&mut self, first_row: usize, block: &RowBlock) -> Result<(), MsError> {
        let n = block.ant1.len();
        let n_pol = self.pol_order.len();
        let per_row = self.n_chan * n_pol;
        let lens = [
            block.time_mjd_s.len(),
            block.interval_s.len(),
            block.ant2.len(),
            block.uvw_m.len(),
            block.field_id.len(),
            block.scan_number.len(),
        ];
        if lens.iter().any(|&l| l != n)
            || block.vis.len() != n * per_row
            || block.flags.len() != n * per_row
            || block.nsamples.len() != n * per_row
            || first_row + n > self.n_rows
        {
            return Err(MsError::Rows(format!(
                "{n} rows at {first_row} of {} with per-row lengths {lens:?} and {}/{}/{} values",
                self.n_rows,
                block.vis.len(),
                block.flags.len(),
                block.nsamples.len()
            )));
        }
        let table = self.table.as_mut().expect("table open until finish");
        let swap: Vec<bool> = (0..n).map(|r| block.ant1[r] > block.ant2[r]).collect();
        let ant1: Vec<i32> = (0..n)
            .map(|r| block.ant1[r].min(block.ant2[r]) as i32)
            .collect();
        let ant2: Vec<i32> = (0..n)
            .map(|r| block.ant1[r].max(block.ant2[r]) as i32)
            .collect();
        // MS convention: UVW = -uvw, DATA = conj(vis); a swapped row is
        // conjugated and negated once more.
        let uvw = Array::from_shape_fn((n, 3), |(r, k)| {
            if swap[r] {
                block.uvw_m[r][k]
            } else {
                -block.uvw_m[r][k]
            }
        });
        let (pol, partner, n_chan) = (&self.pol_order, &self.pol_partner, self.n_chan);
        // Per output row: conjugated (unless swapped) visibilities, flags,
        // nsamples in CASA polarization order (a swapped baseline reads XY
        // where YX was), and WEIGHT as the median of nsamples over channels.
        let Scratch {
            mut data,
            mut flags,
            mut spectrum,
            mut weight,
        } = std::mem::take(&mut self.scratch);
        data.resize(n * per_row, Complex32::new(0.0, 0.0));
        flags.resize(n * per_row, false);
        spectrum.resize(n * per_row, 0.0);
        weight.resize(n * n_pol, 0.0);
        data.par_chunks_mut(per_row)
            .zip(flags.par_chunks_mut(per_row))
            .zip(spectrum.par_chunks_mut(per_row))
            .zip(weight.par_chunks_mut(n_pol))
            .enumerate()
            .for_each(|(r, (((d, f), w_spec), w))| {
                let src = r * per_row;
                for p in 0..n_pol {
                    let i = if swap[r] { partner[pol[p]] } else { pol[p] };
                    for c in 0..n_chan {
                        let k = src + c * n_pol + i;
                        let v = block.vis[k];
                        d[c * n_pol + p] = if swap[r] { v } else { v.conj() };
                        f[c * n_pol + p] = block.flags[k];
                        w_spec[c * n_pol + p] = block.nsamples[k];
                    }
                    let mut column: Vec<f32> = (0..n_chan).map(|c| w_spec[c * n_pol + p]).collect();
                    w[p] = median(&mut column);
                }
            });
        let shape3 = (n, n_chan, n_pol);
        let data = Array::from_shape_vec(shape3, data).expect("n x chan x pol");
        let flags = Array::from_shape_vec(shape3, flags).expect("n x chan x pol");
        let weight = Array::from_shape_vec((n, n_pol), weight).expect("n x pol");
        let sigma = weight.mapv(|w| if w > 0.0 { w.powf(-0.5) } else { 0.0 });
        let flag_row: Vec<bool> = (0..n)
            .map(|r| {
                block.flags[r * per_row..(r + 1) * per_row]
                    .iter()
                    .all(|&f| f)
            })
            .collect();
        let row0 = first_row as u64;
        table
            .put_column_range_array("DATA", row0, &data)
            .map_err(casacore)?;
        let spectrum_back = if self.imaging_columns {
            table
                .put_column_range_array("CORRECTED_DATA", row0, &data)
                .map_err(casacore)?;
            let model = Array::from_elem(data.dim(), Complex32::new(0.0, 0.0));
            table
                .put_column_range_array("MODEL_DATA", row0, &model)
                .map_err(casacore)?;
            let spectrum = Array::from_shape_vec(shape3, spectrum).expect("n x chan x pol");
            table
                .put_column_range_array("WEIGHT_SPECTRUM", row0, &spectrum)
                .map_err(casacore)?;
            spectrum.into_raw_vec_and_offset().0
        } else {
            spectrum
        };
        table
            .put_column_range_array("FLAG", row0, &flags)
            .map_err(casacore)?;
        table
            .put_column_range_array("UVW", row0, &uvw)
            .map_err(casacore)?;
        table
            .put_column_range_array("WEIGHT", row0, &weight)
            .map_err(casacore)?;
        table
            .put_column_range_array("SIGMA", row0, &sigma)
            .map_err(casacore)?;
        table
            .put_column_range_scalar("ANTENNA1", row0, &ant1)
            .map_err(casacore)?;
        table
            .put_column_range_scalar("ANTENNA2", row0, &ant2)
            .map_err(casacore)?;
        table
            .put_column_range_scalar("TIME", row0, block.time_mjd_s)
            .map_err(casacore)?;
        table
            .put_column_range_scalar("TIME_CENTROID", row0, block.time_mjd_s)
            .map_err(casacore)?;
        table
            .put_column_range_scalar("INTERVAL", row0, block.interval_s)
            .map_err(casacore)?;
        table
            .put_column_range_scalar("EXPOSURE", row0, block.interval_s)
            .map_err(casacore)?;
        let field: Vec<i32> = block.field_id.iter().map(|&f| f as i32).collect();
        table
            .put_column_range_scalar("FIELD_ID", row0, &field)
            .map_err(casacore)?;
        table
            .put_column_range_scalar("SCAN_NUMBER", row0, block.scan_number)
            .map_err(casacore)?;
        table
            .put_column_range_scalar("FLAG_ROW", row0, &flag_row)
            .map_err(casacore)?;
        let zeros = vec![0i32; n];
        for name in [
            "ARRAY_ID",
            "DATA_DESC_ID",
            "FEED1",
            "FEED2",
            "OBSERVATION_ID",
            "PROCESSOR_ID",
        ] {
            table
                .put_column_range_scalar(name, row0, &zeros)
                .map_err(casacore)?;
        }
        table
            .put_column_range_scalar("STATE_ID", row0, &vec![-1i32; n])
            .map_err(casacore)?;
        self.scratch = Scratch {
            data: data.into_raw_vec_and_offset().0,
            flags: flags.into_raw_vec_and_offset().0,
            spectrum: spectrum_back,
            weight: weight.into_raw_vec_and_offset().0,
        };
        Ok(())
    }

    /// Close the tables, sync every file and rename the MS into place.
    pub fn finish(mut self) -> Result<PathBuf, MsError> {
        drop(self.table.take());
        sync_tree(&self.tmp)?;
        std::fs::rename(&self.tmp, &self.final_path).map_err(io(&self.final_path))?;
        if let Some(dir) = self
            .final_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        Ok(self.final_path.clone())
    }
}

impl Drop for MsWriter {
    /// An unfinished MS is removed.
    fn drop(&mut self) {
        if self.table.take().is_some() {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// fsync every file and directory below `dir`.
fn sync_tree(dir: &Path) -> Result<(), MsError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io(&path))?;
        }
    }
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// Median as numpy computes it (mean of the middle two for even counts),
/// by selection rather than a full sort.
fn median(v: &mut [f32]) -> f32 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (below, &mut mid, _) = v.select_nth_unstable_by(n / 2, f32::total_cmp);
    if n % 2 == 1 {
        mid
    } else {
        let lower = below
            .iter()
            .copied()
            .max_by(f32::total_cmp)
            .expect("n >= 2");
        0.5 * (lower + mid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_matches_numpy() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn polarizations_map_to_casa_codes() {
        assert_eq!(casa_pol(-5).unwrap(), (9, [0, 0]));
        assert_eq!(casa_pol(-6).unwrap(), (12, [1, 1]));
        assert_eq!(casa_pol(-7).unwrap(), (10, [0, 1]));
        assert!(casa_pol(-9).is_err());
    }

    #[test]
    fn partial_path_is_hidden_beside_the_output() {
        assert_eq!(
            partial_path(Path::new("/out/x.ms")),
            PathBuf::from("/out/.x.ms.partial")
        );
    }
}
