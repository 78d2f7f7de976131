//! The conversion: one group of subband files in, one Measurement Set out.
//!
//! One path for `convert` and the streaming daemon ([`Conversion`]): the
//! per-row columns are written from one header, then each subband is read
//! block by block, transformed into the MS's values (phase, correlation
//! order, conjugation, in one pass) and written into its own channels (in
//! any order, as its file is at hand), then the subtables. Where a
//! subband's channels go comes from its frequencies ([`Band`]). Memory is
//! bounded by [`ConvertOptions::max_memory_bytes`].
//!
//! Phasing: for every row the new UVW comes from the antenna positions and
//! the rotation of its field ([`crate::phasing::Plan`]); the visibilities are
//! multiplied by `exp(-2 pi i (w_new - w_old) f / c)` where `w_old` is the w
//! stored in the file — the w the correlator fringe-stopped with (the
//! DSA-110 files say "drift", but their data and uvw are for the meridian).

mod dry_run;
mod setup;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::astro::IersSource;
use crate::calibrators::Catalog;
use crate::compute::{Backend, ComputeError};
use crate::group::Band;
use crate::ms::SpwLayout;
use crate::phasing::{FieldPlan, PhaseCenterMode};

pub use dry_run::{dry_run, DryRun, FileReads};
pub use writer::Conversion;

/// Settings of one conversion.
#[derive(Clone)]
pub struct ConvertOptions {
    pub phase_center: PhaseCenterMode,
    pub backend: Arc<dyn Backend>,
    /// Upper bound for the pipeline's row buffers, bytes.
    pub max_memory_bytes: usize,
    /// Add MODEL_DATA (= 1), CORRECTED_DATA (= DATA) and WEIGHT_SPECTRUM.
    pub imaging_columns: bool,
    /// One spectral window per subband, or one for the whole band.
    pub spw_layout: SpwLayout,
    /// TELESCOPE_NAME of the MS; `None`: `DSA_110` for DSA-110 files, the
    /// files' own name for the rest.
    pub telescope_name: Option<String>,
    /// Replace an existing output.
    pub overwrite: bool,
    /// HDF5 raw-data chunk cache per file, bytes.
    pub chunk_cache_bytes: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Command line recorded in the MS HISTORY table.
    pub command_line: String,
    /// In meridian mode, rename the field where a catalog calibrator peaks
    /// in the primary beam to `<name>_t<idx>`; `None` renames nothing.
    pub calibrators: Option<Arc<Catalog>>,
    /// UT1 - UTC and polar motion (read again for each group when a file).
    pub iers: Arc<IersSource>,
    /// Gather quick-look QA while converting and write `<group>.qa.json`
    /// and `<group>.qa.png` beside the MS ([`crate::qa`]).
    pub qa: bool,
}

/// The shape of a conversion's MS: as planned (`--dry-run`) and as written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outline {
    pub ms_path: PathBuf,
    pub rows: usize,
    pub channels: usize,
    pub spectral_windows: usize,
    pub polarizations: usize,
    pub phase_center_mode: String,
    /// The fields as the MS names them (calibrators included).
    pub fields: Vec<FieldPlan>,
    pub backend: String,
    pub block_rows: usize,
}

/// What a conversion did, for the summary and `--json`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ConvertSummary {
    #[serde(flatten)]
    pub outline: Outline,
    pub inputs: Vec<PathBuf>,
    pub seconds_read: f64,
    pub seconds_compute: f64,
    pub seconds_write: f64,
    pub seconds_total: f64,
    pub bytes_read: u64,
    /// With [`ConvertOptions::qa`]: the verdict and the one-line summary.
    pub qa: Option<String>,
}

/// Errors of a conversion; each names the file or output involved.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Phasing(#[from] crate::phasing::PhasingError),
    #[error(transparent)]
    Group(#[from] crate::group::GroupError),
    #[error(transparent)]
    Ms(#[from] crate::ms::MsError),
    #[error("compute backend failed: {0}")]
    Compute(#[from] ComputeError),
    #[error(transparent)]
    Iers(#[from] crate::astro::IersError),
    #[error("cannot start a conversion thread (reader or QA): {0}")]
    Thread(std::io::Error),
    #[error(transparent)]
    Qa(#[from] crate::qa::QaError),
}

/// Convert one group (`files`, any order) into the Measurement Set `out_ms`.
/// The MS appears at `out_ms` only when complete.
pub fn convert_group(
    files: &[PathBuf],
    out_ms: &Path,
    opts: &ConvertOptions,
) -> Result<ConvertSummary, ConvertError> {
    let (files, group) = crate::group::open_files(files, opts.chunk_cache_bytes)?;
    let (reference, paths) = (group.headers()[0].clone(), group.paths().to_vec());
    let mut conversion = Conversion::start(reference, Band::Group(group), out_ms, opts)?;
    conversion.add(files)?;
    conversion.finish(&paths)
}

/// The default output name of a group: `<timestamp>.ms`, the timestamp
/// of its sb00 file (else its earliest, [`crate::group::group_timestamp`])
/// for DSA-110 file names, else the first file's stem.
pub fn output_name(files: &[PathBuf]) -> String {
    if let Some(ts) = crate::group::group_timestamp(files.iter().map(|p| p.as_path())) {
        return format!("{ts}.ms");
    }
    let stem = files
        .iter()
        .min()
        .and_then(|p| p.file_stem())
        .and_then(|s| s.to_str())
        .unwrap_or("group");
    format!("{stem}.ms")
}
