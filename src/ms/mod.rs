//! Writing CASA Measurement Sets (v2) with casacore, through
//! `rubbl_casatables`.
//!
//! Rows arrive in pyuvdata's internal convention and are written in the
//! MS's exactly as pyuvdata's `write_ms` writes them ([`convention`]);
//! ANTENNA rows are indexed by antenna number.
//!
//! The band is one spectral window ([`SpwLayout::Merged`]) or one per
//! subband ([`SpwLayout::Subbands`], the DSA-110 pipeline's layout: a row
//! per baseline-time and window, in the order of `rows`); WEIGHT and
//! FLAG_ROW summarise a row's own window.
//!
//! The per-row columns go in first ([`MsWriter::write_row_meta`]), then
//! the channel data a subband at a time ([`MsWriter::write_channels`], with
//! [`WeightStats`] keeping what WEIGHT and FLAG_ROW need until a window's
//! subbands are in, [`MsWriter::write_weights`]); the subtables are written
//! last, by [`MsWriter::finish`], once the whole band is known.
//!
//! The MS is written under a hidden partial name next to its final path,
//! by the one process holding the output's lock ([`OutputClaim`]), and
//! put in place by [`MsWriter::finish`] after every file is synced: an
//! interrupted run never leaves something that looks finished, and an old
//! MS at the path stays until the new one replaces it.

pub mod convention;
mod info;
mod output;
mod rows;
mod schema;
mod slice;
mod subtables;
mod weights;

pub use output::{inspect, lock_path, remove_stale, OutputClaim, OutputState};
pub use weights::WeightStats;

use std::path::{Path, PathBuf};

use num_complex::Complex32;
use rubbl_casatables::{CasaScalarData, GlueDataType, Table, TableCreateMode};
// The ndarray rubbl_casatables speaks (it may differ from the crate's own).
use rubbl_core::ndarray::{Array2, ArrayView3};

use crate::astro::SkyPos;
use convention::PolOrder;
use rows::{Piece, RowMap};

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

/// Everything but the rows: what the subtables hold.
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
    /// Ascending channel centres of the whole band, Hz (split into
    /// [`MsLayout::n_windows`] windows).
    pub freq_hz: Vec<f64>,
    pub channel_width_hz: Vec<f64>,
    /// NAME of each spectral window, ascending (as many as
    /// [`MsLayout::n_windows`]).
    pub window_names: Vec<String>,
    /// AIPS codes as in UVH5 (-5 XX, -6 YY, -7 XY, -8 YX; -1..-4 RR, LL,
    /// RL, LR; 1..4 I, Q, U, V).
    pub polarizations: Vec<i32>,
    pub fields: Vec<Field>,
    pub time_range_mjd_s: (f64, f64),
    /// Lines for the HISTORY table (tool, version, command line).
    pub history: Vec<String>,
}

/// How the joined band is laid out in spectral windows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpwLayout {
    /// One window per subband, ascending (window 0 is the lowest band):
    /// what the DSA-110 pipeline's calibration scripts select from.
    Subbands,
    /// One window holding every channel.
    Merged,
}

/// What the main table needs before its first row: the windows, the
/// tiling and the optional columns.
#[derive(Clone, Debug, PartialEq)]
pub struct MsLayout {
    /// Spectral windows; each holds `window_chans` channels of the
    /// ascending band, window k channels `k * window_chans..`.
    pub n_windows: usize,
    pub window_chans: usize,
    /// Channels per tile of DATA and FLAG: a subband's width, so that
    /// writing one subband touches only its own tiles.
    pub channels_per_tile: usize,
    /// AIPS codes, as [`MsSpec::polarizations`].
    pub polarizations: Vec<i32>,
    /// Add MODEL_DATA (= 1, CASA's unit model), CORRECTED_DATA (= DATA)
    /// and WEIGHT_SPECTRUM.
    pub imaging_columns: bool,
}

impl MsLayout {
    /// The layout of a band of `(n_subbands, width)` channels: one window
    /// per subband or one for the band, tiles one subband wide.
    pub fn new(
        spw_layout: SpwLayout,
        (n_subbands, width): (usize, usize),
        polarizations: Vec<i32>,
        imaging_columns: bool,
    ) -> MsLayout {
        let (n_windows, window_chans) = match spw_layout {
            SpwLayout::Subbands => (n_subbands, width),
            SpwLayout::Merged => (1, n_subbands * width),
        };
        MsLayout {
            n_windows,
            window_chans,
            channels_per_tile: width,
            polarizations,
            imaging_columns,
        }
    }

    /// Channels of the whole band.
    pub fn n_chan(&self) -> usize {
        self.n_windows * self.window_chans
    }
}

/// The per-row columns other than the channel data and the weights, in
/// pyuvdata's internal convention.
pub struct RowMeta<'a> {
    pub time_mjd_s: &'a [f64],
    pub interval_s: &'a [f64],
    /// Antenna numbers (rows of the ANTENNA table).
    pub ant1: &'a [u32],
    pub ant2: &'a [u32],
    /// Metres, uvw = x(ant2) - x(ant1).
    pub uvw_m: &'a [[f64; 3]],
    pub field_id: &'a [u32],
    pub scan_number: &'a [i32],
}

/// Channel data of rows, `[row][chan ascending][pol]`, in the MS's
/// correlation order and conjugation ([`convention::ms_maps`] applied by
/// the fused transform, [`convention::reorder_cells`] to flags and
/// nsamples).
pub struct Channels<'a> {
    pub n_rows: usize,
    pub vis: &'a [Complex32],
    pub flags: &'a [bool],
    pub nsamples: &'a [f32],
}

/// Errors of writing a Measurement Set; each names the path.
#[derive(Debug, thiserror::Error)]
pub enum MsError {
    #[error("output {0} exists (use --overwrite to replace it)")]
    Exists(PathBuf),
    #[error("output {path} is not a complete Measurement Set ({reason}); not touched (use --overwrite to replace it)")]
    NotAnMs { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("casacore: {0}")]
    Casacore(String),
    #[error("{path}: another process{} is writing this Measurement Set", holder.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Busy { path: PathBuf, holder: Option<u32> },
    #[error("{path}: not enough free space: the Measurement Set needs about {need_mb} MB, {free_mb} MB are free")]
    NoSpace {
        path: PathBuf,
        need_mb: u64,
        free_mb: u64,
    },
    #[error("{path}: the disk is full ({free_kb} KiB free): {cause}")]
    DiskFull {
        path: PathBuf,
        free_kb: u64,
        cause: String,
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

/// Bytes an MS of these dimensions takes, roughly.
fn estimated_bytes(layout: &MsLayout, n_rows: usize) -> u64 {
    let per_row_vis = (layout.n_chan() * layout.polarizations.len()) as u64;
    let data_cols = if layout.imaging_columns { 3 } else { 1 };
    let per_row = per_row_vis * (8 * data_cols + 1 + if layout.imaging_columns { 4 } else { 0 })
        + 200 * layout.n_windows as u64;
    per_row * n_rows as u64 + (1 << 20)
}

/// Bytes casacore may still have to write when the MS is flushed and
/// closed (what [`output::Reserve`] holds): the scalar columns' cache
/// (sized for every row), the tiled columns' caches (tiles of up to 1024
/// rows; a block of rows spans up to three of them across every channel),
/// the subtables and headers; never more than the whole main table.
fn final_flush_bytes(layout: &MsLayout, n_rows: usize) -> u64 {
    let per_row_vis = (layout.n_chan() * layout.polarizations.len()) as u64;
    let bytes_per_vis = if layout.imaging_columns {
        8 + 1 + 8 + 8 + 4
    } else {
        8 + 1
    };
    let tiles = per_row_vis * bytes_per_vis * (n_rows as u64 + 1024).min(3 * 1024);
    // Main-table rows: one per baseline-time and window.
    let scalars = (n_rows as u64 * layout.n_windows as u64 * 200)
        .div_ceil(4096)
        .max(64)
        * 4096;
    scalars + tiles + (8 << 20)
}

/// The per-row weight columns, each in its own tiled storage manager.
const WEIGHT_COLUMNS: [&str; 2] = ["WEIGHT", "SIGMA"];

fn free_bytes(dir: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    let mut s: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid NUL-terminated path and an owned statvfs struct.
    (unsafe { libc::statvfs(c.as_ptr(), &mut s) } == 0)
        .then(|| s.f_bavail as u64 * s.f_frsize as u64)
}

/// Whether a casacore message reports ENOSPC (casacore appends glibc's
/// `strerror(errno)` to its I/O errors).
fn names_enospc(message: &str) -> bool {
    message.contains("No space left on device")
}

/// A Measurement Set being written: per-row columns, then subbands and
/// weights, then the subtables at [`MsWriter::finish`].
pub struct MsWriter {
    final_path: PathBuf,
    tmp: PathBuf,
    /// The output's lock, held until the writer is finished or dropped.
    claim: OutputClaim,
    /// Room for the final flush, released just before it.
    reserve: Option<output::Reserve>,
    table: Option<Table>,
    /// Baseline-times of the group (input rows).
    n_rows: usize,
    /// Where each input row goes in each window.
    rows: RowMap,
    layout: MsLayout,
    /// Where each MS correlation comes from.
    pols: PolOrder,
    /// Row buffers kept between blocks (fresh ones cost page faults).
    scratch: Scratch,
    /// MODEL_DATA's unit model, as long as the largest block.
    ones: Vec<Complex32>,
    /// The tiled columns, and the rows of their tiles.
    tiled: Vec<&'static str>,
    tile_rows: usize,
    /// Visibility bytes put since the kernel was last asked to write back.
    unsynced_bytes: usize,
}

/// Visibility bytes put between two writeback hints to the kernel
/// ([`MsWriter::hint_writeback`]): the disk writes the MS while the rest
/// of it is put, so the final sync has little left (below the kernel's
/// own threshold, a tenth of memory by default, it would write nothing
/// before the sync).
const WRITEBACK_BYTES: usize = 128 << 20;

/// A copy of some channels of a block, for a put of fewer channels than
/// the block has.
#[derive(Default)]
struct Scratch {
    data: Vec<Complex32>,
    flags: Vec<bool>,
    spectrum: Vec<f32>,
}

impl Scratch {
    /// Copy `len` values from `start` of every row (`per_row` values) of
    /// `block`.
    fn copy_channels(&mut self, block: &Channels, start: usize, len: usize, per_row: usize) {
        fn copy<T: Copy>(out: &mut Vec<T>, src: &[T], start: usize, len: usize, per_row: usize) {
            out.clear();
            for row in src.chunks(per_row) {
                out.extend_from_slice(&row[start..start + len]);
            }
        }
        copy(&mut self.data, block.vis, start, len, per_row);
        copy(&mut self.flags, block.flags, start, len, per_row);
        copy(&mut self.spectrum, block.nsamples, start, len, per_row);
    }
}

impl MsWriter {
    /// Create the main table for the group's rows (one scan number per
    /// baseline-time) under a partial name of its own beside the claimed
    /// output path.
    pub fn create(
        claim: OutputClaim,
        layout: &MsLayout,
        scan_number: &[i32],
    ) -> Result<MsWriter, MsError> {
        let n_rows = scan_number.len();
        let final_path = claim.final_path().to_path_buf();
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
        let flush_bytes = final_flush_bytes(layout, n_rows);
        let need = estimated_bytes(layout, n_rows) + flush_bytes;
        if let Some(free) = free_bytes(dir) {
            if free < need {
                return Err(MsError::NoSpace {
                    path: dir.to_path_buf(),
                    need_mb: need >> 20,
                    free_mb: free >> 20,
                });
            }
        }
        let reserve = claim.reserve(flush_bytes)?;
        let tmp = claim.new_partial();
        // Probe writability with a plain directory first: casacore's
        // message for an unwritable directory is obscure.
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        std::fs::remove_dir(&tmp).map_err(io(&tmp))?;

        let pols = PolOrder::new(&layout.polarizations)?;
        let cell_chan = layout.window_chans;
        let n_pol = layout.polarizations.len();
        if layout.n_windows == 0
            || layout.channels_per_tile == 0
            || cell_chan % layout.channels_per_tile != 0
        {
            return Err(MsError::Rows(format!(
                "{} windows of {cell_chan} channels in tiles of {} channels",
                layout.n_windows, layout.channels_per_tile
            )));
        }
        let rows = RowMap::new(scan_number, layout.n_windows);

        let mut desc = schema::describe("MAIN", &schema::main_columns())?;
        // casacore's MeasurementSet insists on FLAG_CATEGORY's category names.
        let categories: Vec<String> = ["FLAG_CMD", "ORIGINAL", "USER"].map(String::from).to_vec();
        desc.put_column_keyword("FLAG_CATEGORY", "CATEGORY", &categories)
            .map_err(casacore)?;
        let mut table = Table::new(&tmp, desc, 0, TableCreateMode::New).map_err(casacore)?;
        // The per-row columns in 1 MiB buckets (whole pages, 77 buckets for
        // a full group instead of casacore's default of 56k buckets of 32
        // rows), except those that change only between runs of rows, which
        // an incremental manager stores once per run (80 MB instead of 195).
        const BUCKET_BYTES: usize = 1 << 20;
        slice::bind_row_columns(&tmp, schema::INCREMENTAL, BUCKET_BYTES)?;
        let cell = [cell_chan as u64, n_pol as u64];
        // About 1 MiB tiles: rows x (one subband's) channels x pols.
        let tile_chan = layout.channels_per_tile;
        let tile_rows = ((1 << 20) / (tile_chan * n_pol * 8).max(1)).clamp(1, 1024) as u64;
        let tile = [tile_rows, tile_chan as u64, n_pol as u64];
        let mut big = vec![
            (GlueDataType::TpComplex, "DATA"),
            (GlueDataType::TpBool, "FLAG"),
        ];
        if layout.imaging_columns {
            big.push((GlueDataType::TpComplex, "MODEL_DATA"));
            big.push((GlueDataType::TpComplex, "CORRECTED_DATA"));
            big.push((GlueDataType::TpFloat, "WEIGHT_SPECTRUM"));
        }
        for &(ty, name) in &big {
            table
                .add_tiled_array_column(ty, name, None, &cell, &tile, &format!("Tiled{name}"), true)
                .map_err(casacore)?;
        }
        // WEIGHT and SIGMA tiled too (as CASA's own MSs have them), apart
        // from the per-row columns: a window's weights, written when its
        // subbands are in, then touch only their own tiles.
        const WEIGHT_TILE_ROWS: u64 = 4096;
        for name in WEIGHT_COLUMNS {
            table
                .add_tiled_array_column(
                    GlueDataType::TpFloat,
                    name,
                    None,
                    &[n_pol as u64],
                    &[WEIGHT_TILE_ROWS, n_pol as u64],
                    &format!("Tiled{name}"),
                    true,
                )
                .map_err(casacore)?;
        }
        table.put_keyword("MS_VERSION", &2.0f32).map_err(casacore)?;
        // The scalar and small array columns are written one column at a
        // time: with casacore's default cache of a few buckets every bucket
        // would be re-read and re-written once per column. Cache them all
        // (at most about 200 bytes per row; slots are only filled when used), and
        // before the rows are added, which would otherwise write every
        // bucket out once empty (193 MB of the full group's 1.6 GB MS).
        let buckets = (rows.n_rows() * 200).div_ceil(BUCKET_BYTES).max(2) as u64;
        table
            .set_standard_stman_cache_size("StandardStMan", buckets)
            .map_err(casacore)?;
        table.add_rows(rows.n_rows()).map_err(casacore)?;
        // Windows' weights are written window by window, and the windows'
        // rows interleave in every tile: hold all their tiles (8 bytes a
        // row each), or each tile is written once per window.
        let weight_tiles = (rows.n_rows() as u64).div_ceil(WEIGHT_TILE_ROWS) as usize;
        for name in WEIGHT_COLUMNS {
            slice::set_tile_cache(&tmp, &format!("Tiled{name}"), weight_tiles)?;
        }
        Ok(MsWriter {
            final_path,
            tmp,
            claim,
            reserve: Some(reserve),
            table: Some(table),
            n_rows,
            rows,
            layout: layout.clone(),
            pols,
            scratch: Scratch::default(),
            ones: Vec::new(),
            tiled: big.iter().map(|&(_, name)| name).collect(),
            tile_rows: tile_rows as usize,
            unsynced_bytes: 0,
        })
    }

    /// (first input row, number of rows) of the runs of input rows that are
    /// contiguous in each window of the main table, in the table's order.
    pub fn row_runs(&self) -> &[(usize, usize)] {
        self.rows.runs()
    }

    /// Size the tile caches for puts of `rows` input rows by `chans`
    /// channels, so that every tile such a block touches stays in memory
    /// until it is complete (casacore would otherwise size the cache for
    /// one put, and write, read back and rewrite the tiles that one put
    /// shares with the next).
    pub fn cache_tiles_for(&mut self, rows: usize, chans: usize) -> Result<(), MsError> {
        let across = chans.div_ceil(self.layout.channels_per_tile);
        let tiles = across * (rows.div_ceil(self.tile_rows) + 3);
        for name in &self.tiled {
            slice::set_tile_cache(&self.tmp, &format!("Tiled{name}"), tiles)?;
        }
        Ok(())
    }

    /// A casacore error of this writer, said plainly when the disk is full:
    /// when casacore names ENOSPC, or when less than 1 MiB is free (its
    /// message for a short write often names a stale errno; and space may
    /// be free again by the time it is checked, so the message alone is
    /// enough).
    pub fn explain(&self, e: MsError) -> MsError {
        let dir = self.tmp.parent().unwrap_or(Path::new("."));
        let free = free_bytes(dir);
        match e {
            MsError::Casacore(cause)
                if free.is_some_and(|f| f < 1 << 20) || names_enospc(&cause) =>
            {
                MsError::DiskFull {
                    path: self.final_path.clone(),
                    free_kb: free.unwrap_or(0) >> 10,
                    cause,
                }
            }
            e => e,
        }
    }

    fn table(&mut self) -> &mut Table {
        self.table.as_mut().expect("table open until finish")
    }

    fn check_rows(&self, first_row: usize, n: usize, what: &str) -> Result<(), MsError> {
        if first_row + n > self.n_rows {
            return Err(MsError::Rows(format!(
                "{what}: {n} rows at {first_row} of {}",
                self.n_rows
            )));
        }
        Ok(())
    }

    /// Write one subband (`n_chan` channels from `chan0` of the band) of
    /// rows `first_row..`, taken from channels `block_chan0..` of `block`
    /// (whose nsamples and flags go to a [`WeightStats`] for WEIGHT and
    /// FLAG_ROW). With one window per subband the subband must be a whole
    /// window. Every [`WRITEBACK_BYTES`] the kernel is asked to write back.
    pub fn write_channels(
        &mut self,
        first_row: usize,
        (chan0, n_chan): (usize, usize),
        block: &Channels,
        block_chan0: usize,
    ) -> Result<(), MsError> {
        let (windows, chans) = (self.layout.n_windows, self.layout.window_chans);
        let range_err = || {
            MsError::Rows(format!(
                "channels {chan0}..{} of {windows} windows of {chans} channels",
                chan0 + n_chan
            ))
        };
        if chan0 + n_chan > self.layout.n_chan() {
            return Err(range_err());
        }
        let (window, within) = if windows == 1 {
            (0, Some((chan0, n_chan)))
        } else if chan0 % chans == 0 && n_chan == chans {
            (chan0 / chans, None)
        } else {
            return Err(range_err());
        };
        let n_pol = self.layout.polarizations.len();
        let n = block.n_rows;
        let block_chans = block.vis.len() / (n * n_pol).max(1);
        let src_per_row = block_chans * n_pol;
        if block_chan0 + n_chan > block_chans
            || block.vis.len() != n * src_per_row
            || block.flags.len() != n * src_per_row
            || block.nsamples.len() != n * src_per_row
        {
            return Err(MsError::Rows(format!(
                "{n} rows of {block_chans} channels x {n_pol} pols with {}/{}/{} values",
                block.vis.len(),
                block.flags.len(),
                block.nsamples.len()
            )));
        }
        self.check_rows(first_row, n, "channel data")?;
        // The block's own buffers when it is these channels, else a copy
        // of them.
        let mut scratch = std::mem::take(&mut self.scratch);
        let cells = if block_chan0 == 0 && n_chan == block_chans {
            (block.vis, block.flags, block.nsamples)
        } else {
            scratch.copy_channels(block, block_chan0 * n_pol, n_chan * n_pol, src_per_row);
            (&scratch.data[..], &scratch.flags[..], &scratch.spectrum[..])
        };
        let put_bytes = std::mem::size_of_val(cells.0);
        let res = self.put_channels(first_row, n, window, within, cells);
        self.scratch = scratch;
        self.unsynced_bytes += put_bytes;
        if self.unsynced_bytes >= WRITEBACK_BYTES {
            self.hint_writeback();
            self.unsynced_bytes = 0;
        }
        res
    }

    /// Put `cells` (DATA, FLAG, WEIGHT_SPECTRUM) of `n` rows (input rows
    /// `first_row..`) into `window`: whole cells, or the channel range
    /// `within` of the cells.
    fn put_channels(
        &mut self,
        first_row: usize,
        n: usize,
        window: usize,
        within: Option<(usize, usize)>,
        (data, flags, spectrum): (&[Complex32], &[bool], &[f32]),
    ) -> Result<(), MsError> {
        let n_pol = self.layout.polarizations.len();
        let imaging = self.layout.imaging_columns;
        let (chan0, n_chan) = within.unwrap_or((0, self.layout.window_chans));
        let block = Block {
            tmp: self.tmp.clone(),
            pieces: self.rows.pieces(first_row, first_row + n, window),
            first_row,
            chans: (chan0, n_chan),
            n_pol,
            whole: n_chan == self.layout.window_chans,
        };
        let table = self.table.as_mut().expect("table open until finish");
        block.put(table, "DATA", data)?;
        block.put(table, "FLAG", flags)?;
        if imaging {
            block.put(table, "CORRECTED_DATA", data)?;
            if self.ones.len() < data.len() {
                self.ones.resize(data.len(), Complex32::new(1.0, 0.0));
            }
            block.put(table, "MODEL_DATA", &self.ones[..data.len()])?;
            block.put(table, "WEIGHT_SPECTRUM", spectrum)?;
        }
        Ok(())
    }

    /// Write WEIGHT, SIGMA = WEIGHT^-1/2 (0 where the weight is 0) and
    /// FLAG_ROW of `windows` from `stats`, once it holds their subbands:
    /// each window's from its own channels.
    pub fn write_weights(
        &mut self,
        stats: &WeightStats,
        windows: impl IntoIterator<Item = usize>,
    ) -> Result<(), MsError> {
        let chans = self.layout.window_chans;
        let n_pol = self.layout.polarizations.len();
        for window in windows {
            let (weight, flag_row) = stats.finish(window * chans, chans)?;
            let sigma: Vec<f32> = weight.iter().map(|&w| convention::sigma(w)).collect();
            for p in self.rows.pieces(0, self.n_rows, window) {
                let (i, row0) = (p.input, p.output as u64);
                let cells = |v: &[f32]| -> Array2<f32> {
                    Array2::from_shape_vec(
                        (p.len, n_pol),
                        v[i * n_pol..(i + p.len) * n_pol].to_vec(),
                    )
                    .expect("rows x pols")
                };
                let table = self.table();
                table
                    .put_column_range_array("WEIGHT", row0, &cells(&weight))
                    .map_err(casacore)?;
                table
                    .put_column_range_array("SIGMA", row0, &cells(&sigma))
                    .map_err(casacore)?;
                table
                    .put_column_range_scalar("FLAG_ROW", row0, &flag_row[i..i + p.len])
                    .map_err(casacore)?;
            }
        }
        Ok(())
    }

    /// Write the per-row columns other than channel data and weights of
    /// every row, in every window: antennas (ANTENNA1 <= ANTENNA2), times,
    /// UVW (MS sign), ids (DATA_DESC_ID = the window). Once, into the new
    /// table: whole columns at once, so that the standard storage manager
    /// fills bucket after bucket, and the incremental columns only where
    /// they change, which holds for every later row only on a first put.
    pub fn write_row_meta(&mut self, meta: &RowMeta) -> Result<(), MsError> {
        let n = self.n_rows;
        let lens = [
            meta.ant1.len(),
            meta.time_mjd_s.len(),
            meta.interval_s.len(),
            meta.ant2.len(),
            meta.uvw_m.len(),
            meta.field_id.len(),
            meta.scan_number.len(),
        ];
        if lens.iter().any(|&l| l != n) {
            return Err(MsError::Rows(format!(
                "{n} rows with per-row lengths {lens:?}"
            )));
        }
        // Input row and window of every main-table row.
        let out_rows = self.rows.n_rows();
        let mut source = vec![(0usize, 0i32); out_rows];
        for window in 0..self.layout.n_windows {
            for p in self.rows.pieces(0, n, window) {
                for k in 0..p.len {
                    source[p.output + k] = (p.input + k, window as i32);
                }
            }
        }
        let col_i32 = |f: &dyn Fn(usize, i32) -> i32| -> Vec<i32> {
            source.iter().map(|&(r, w)| f(r, w)).collect()
        };
        let col_f64 = |v: &[f64]| -> Vec<f64> { source.iter().map(|&(r, _)| v[r]).collect() };
        let ants = |r: usize| convention::ms_antennas(meta.ant1[r], meta.ant2[r]);
        let uvw: Vec<f64> = source
            .iter()
            .flat_map(|&(r, _)| {
                let swapped = convention::swapped(meta.ant1[r], meta.ant2[r]);
                convention::ms_uvw(meta.uvw_m[r], swapped)
            })
            .collect();
        let tmp = self.tmp.clone();
        slice::put_column(&tmp, "UVW", out_rows, 3, &uvw)?;
        let ints: [(&str, Vec<i32>); 11] = [
            ("ANTENNA1", col_i32(&|r, _| ants(r).0)),
            ("ANTENNA2", col_i32(&|r, _| ants(r).1)),
            ("FIELD_ID", col_i32(&|r, _| meta.field_id[r] as i32)),
            ("SCAN_NUMBER", col_i32(&|r, _| meta.scan_number[r])),
            ("DATA_DESC_ID", col_i32(&|_, w| w)),
            ("STATE_ID", vec![-1; out_rows]),
            ("ARRAY_ID", vec![0; out_rows]),
            ("FEED1", vec![0; out_rows]),
            ("FEED2", vec![0; out_rows]),
            ("OBSERVATION_ID", vec![0; out_rows]),
            ("PROCESSOR_ID", vec![0; out_rows]),
        ];
        for (name, values) in ints {
            self.put_scalars(name, &values)?;
        }
        let doubles: [(&str, &[f64]); 4] = [
            ("TIME", meta.time_mjd_s),
            ("TIME_CENTROID", meta.time_mjd_s),
            ("INTERVAL", meta.interval_s),
            ("EXPOSURE", meta.interval_s),
        ];
        for (name, values) in doubles {
            self.put_scalars(name, &col_f64(values))?;
        }
        Ok(())
    }

    /// Put `values` (one per main-table row) into the scalar column
    /// `name`: a whole-column put, or into an incremental column only the
    /// rows whose value differs from the row before, in row order (a put
    /// past the last row put holds for every later row).
    fn put_scalars<T: slice::ColumnValue + CasaScalarData + PartialEq>(
        &mut self,
        name: &str,
        values: &[T],
    ) -> Result<(), MsError> {
        if !schema::INCREMENTAL.contains(&name) {
            return slice::put_column(&self.tmp, name, values.len(), 0, values);
        }
        let table = self.table();
        for (row, v) in values.iter().enumerate() {
            if row == 0 || values[row - 1] != *v {
                table.put_cell(name, row as u64, v).map_err(casacore)?;
            }
        }
        Ok(())
    }

    /// Hand the kernel what casacore caches of the table (no fsync) and
    /// start writing it to disk without waiting: [`MsWriter::finish`] then
    /// has only what came after to write and little to wait for.
    pub fn start_writeback(&mut self) -> Result<(), MsError> {
        slice::flush(&self.tmp, false).map_err(|e| self.explain(e))?;
        self.hint_writeback();
        Ok(())
    }

    /// Ask the kernel to start writing the table's files to disk, without
    /// waiting (a hint; nothing to report): what casacore has written so
    /// far goes to disk while the rest is written, instead of all of it in
    /// the final sync.
    fn hint_writeback(&self) {
        let Ok(entries) = std::fs::read_dir(&self.tmp) else {
            return;
        };
        for path in entries.filter_map(|e| e.ok()).map(|e| e.path()) {
            if let Ok(f) = std::fs::File::open(&path) {
                use std::os::unix::io::AsRawFd;
                // SAFETY: a descriptor we own; the range 0..0 means the whole file.
                unsafe { libc::sync_file_range(f.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
            }
        }
    }

    /// Write the subtables from `spec`, close the tables, label the main
    /// table a Measurement Set, sync every file and put the MS in place
    /// (replacing what is there only then).
    pub fn finish(mut self, spec: &MsSpec) -> Result<PathBuf, MsError> {
        if spec.freq_hz.len() != self.layout.n_chan()
            || spec.window_names.len() != self.layout.n_windows
            || spec.polarizations != self.layout.polarizations
        {
            return Err(MsError::Rows(format!(
                "subtables for {} channels in {} windows and polarizations {:?}, rows of {} channels in {} and {:?}",
                spec.freq_hz.len(),
                spec.window_names.len(),
                spec.polarizations,
                self.layout.n_chan(),
                self.layout.n_windows,
                self.layout.polarizations
            )));
        }
        let (tmp, pol_order) = (self.tmp.clone(), self.pols.order().to_vec());
        let t = std::time::Instant::now();
        // From here casacore writes what it cached, some of it from
        // destructors: give it the room held for that.
        drop(self.reserve.take());
        subtables::write_all(self.table(), &tmp, spec, &pol_order).map_err(|e| self.explain(e))?;
        // Written here, where a failure (a full disk) is an error; the
        // destructor then has nothing left to write.
        slice::flush(&tmp, true).map_err(|e| self.explain(e))?;
        drop(self.table.take());
        info::label_measurement_set(&tmp)?;
        let closed_s = t.elapsed().as_secs_f64();
        sync_tree(&self.tmp)?;
        tracing::debug!(
            "{}: subtables written and tables closed in {closed_s:.2} s, synced in {:.2} s",
            self.final_path.display(),
            t.elapsed().as_secs_f64() - closed_s
        );
        self.claim.install(&self.tmp)?;
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

/// Where a block of prepared `[row][chan][pol]` values goes in the tiled
/// columns.
struct Block {
    /// The table's directory, for `slice.cc`.
    tmp: PathBuf,
    /// The main-table rows of the block's input rows.
    pieces: Vec<Piece>,
    /// Input row of the block's first value.
    first_row: usize,
    /// The channels of the cells written: (first, count).
    chans: (usize, usize),
    n_pol: usize,
    /// Whole cells through rubbl, else channel slices through `slice.cc`.
    whole: bool,
}

impl Block {
    /// Put `values` into `column`.
    fn put<T: slice::SliceValue + CasaScalarData>(
        &self,
        table: &mut Table,
        column: &str,
        values: &[T],
    ) -> Result<(), MsError> {
        let (chan0, n_chan) = self.chans;
        let per_row = n_chan * self.n_pol;
        for p in &self.pieces {
            let i = (p.input - self.first_row) * per_row;
            let values = &values[i..i + p.len * per_row];
            if self.whole {
                let cube = ArrayView3::from_shape((p.len, n_chan, self.n_pol), values)
                    .expect("row x chan x pol");
                table
                    .put_column_range_array(column, p.output as u64, &cube)
                    .map_err(casacore)?;
            } else {
                slice::put(
                    &self.tmp, column, p.output, chan0, n_chan, self.n_pol, values,
                )?;
            }
        }
        Ok(())
    }
}

impl Drop for MsWriter {
    /// An unfinished MS is removed, and so is the old MS a finished one
    /// replaced (exchanged to the partial path); then the lock goes.
    fn drop(&mut self) {
        if self.table.is_some() {
            // Unfinished: closing should not write, but casacore's storage
            // managers still flush their buffers from destructors, where a
            // failing write aborts the process: give them the room held for
            // that (a disk filled by someone else is what failed).
            drop(self.reserve.take());
            if let Err(e) = slice::mark_for_delete(&self.tmp) {
                tracing::warn!("{e}");
            }
            drop(self.table.take());
        }
        // A directory, or whatever was at the output before (a file too).
        let _ = output::remove_any(&self.tmp);
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

#[cfg(test)]
mod tests {
    use super::names_enospc;

    #[test]
    fn a_short_write_that_casacore_reports_as_enospc_is_a_full_disk() {
        // casacore 3.x's message, as a full tmpfs gave it in tests/bad_input.rs.
        let casacore = "FiledesIO::write - write error in /tmp/x/.g.ms.1-1.partial/table.f3_TSM0: \
                        No space left on device";
        assert!(names_enospc(casacore));
        assert!(!names_enospc(
            "FiledesIO::write - write error in /tmp/x/table.f3: Bad file descriptor"
        ));
    }
}
