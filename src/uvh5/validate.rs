//! Quick usability check of a UVH5 file for the `validate` subcommand.

use std::path::Path;

use super::{RowBuffers, Uvh5File, DEFAULT_CHUNK_CACHE_BYTES};

/// Problems found in `path`, one sentence each; empty when the file is a
/// usable UVH5: Header and Data present, non-empty time_array, shapes
/// consistent with Nblts/Nfreqs/Npols, finite times, frequencies and uvw,
/// and the first and last rows of the data readable.
pub fn validate(path: &Path) -> Vec<String> {
    let mut file = match Uvh5File::open(path, DEFAULT_CHUNK_CACHE_BYTES) {
        Ok(f) => f,
        Err(e) => return vec![e.to_string()],
    };
    let h = file.header().clone();
    let mut problems = Vec::new();
    if h.n_times == 0 || h.n_bls == 0 {
        problems.push(format!(
            "{}: Ntimes = {}, Nbls = {}",
            path.display(),
            h.n_times,
            h.n_bls
        ));
    }
    let mut buf = RowBuffers::new(1, h.per_row());
    for row in [0, h.n_blts - 1] {
        if let Err(e) = file.read_rows(
            row,
            row + 1,
            &mut buf.vis,
            &mut buf.flags,
            &mut buf.nsamples,
        ) {
            problems.push(e.to_string());
            break;
        }
    }
    problems
}
