//! `convert --dry-run`: the plan of a conversion, printed before any work
//! (as Birli does): phase centres and fields, backend, block size, and how
//! each dataset of each file will be read. Reads headers only; writes
//! nothing.

use std::path::{Path, PathBuf};

use super::setup::Setup;
use super::writer::block_rows;
use super::{Band, ConvertError, ConvertOptions, Outline};
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
    #[serde(flatten)]
    pub outline: Outline,
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
    let layout = setup.layout(band.subbands(), opts);
    let per_row = layout.n_chan() * setup.header.n_pols;
    let block_rows = block_rows(opts.max_memory_bytes, per_row, setup.n_rows());
    let files = files
        .iter()
        .map(|f| FileReads {
            path: f.header().path.clone(),
            datasets: f.datasets().to_vec(),
        })
        .collect();
    Ok(DryRun {
        outline: setup.outline(out_ms.to_path_buf(), &layout, opts, block_rows),
        files,
    })
}
