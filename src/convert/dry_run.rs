//! `convert --dry-run`: the plan of a conversion, printed before any work
//! (as Birli does): phase centres and fields, backend, block size, and how
//! each dataset of each file will be read. Reads headers only; writes
//! nothing.

use std::path::{Path, PathBuf};

use super::setup::Setup;
use super::writer::block_rows;
use super::{Band, ConvertError, ConvertOptions};
use crate::phasing::FieldPlan;
use crate::uvh5::DatasetRead;

/// How one input file will be read.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileReads {
    pub path: PathBuf,
    pub datasets: Vec<DatasetRead>,
}

/// What `convert` would do with one group.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DryRun {
    pub ms_path: PathBuf,
    pub rows: usize,
    pub channels: usize,
    pub spectral_windows: usize,
    pub polarizations: usize,
    pub phase_center_mode: String,
    /// The fields as the MS would name them (calibrators included).
    pub fields: Vec<FieldPlan>,
    pub backend: String,
    pub block_rows: usize,
    pub files: Vec<FileReads>,
}

/// Plan the conversion of `files` into `out_ms` without converting.
pub fn dry_run(
    files: &[PathBuf],
    out_ms: &Path,
    opts: &ConvertOptions,
) -> Result<DryRun, ConvertError> {
    let (files, group) = crate::group::open_files(files, opts.chunk_cache_bytes)?;
    let band = Band::Group(group);
    let setup = Setup::new(files[0].shared_header(), band.centre_hz(), opts)?;
    let (n_subbands, width) = band.subbands();
    let layout = setup.layout(n_subbands, width, opts);
    let files = files
        .iter()
        .map(|f| FileReads {
            path: f.header().path.clone(),
            datasets: f.datasets().to_vec(),
        })
        .collect();
    let n_pol = setup.header.n_pols;
    Ok(DryRun {
        ms_path: out_ms.to_path_buf(),
        rows: setup.n_rows(),
        channels: layout.n_chan(),
        spectral_windows: layout.n_windows,
        polarizations: n_pol,
        phase_center_mode: setup.plan.mode_name.clone(),
        fields: setup.plan.fields.clone(),
        backend: opts.backend.name().to_string(),
        block_rows: block_rows(
            opts.max_memory_bytes,
            layout.n_chan() * n_pol,
            setup.n_rows(),
        ),
        files,
    })
}
