//! Quick usability check of a UVH5 file for the `validate` subcommand.

use std::path::Path;

use super::{RowBuffers, Uvh5File, DEFAULT_CHUNK_CACHE_BYTES};

/// Problems found in `path`, one sentence each; empty when the file is a
/// usable UVH5: it opens as the conversion opens it (Header and Data
/// present, shapes consistent with Nblts/Nfreqs/Npols, and every value the
/// conversion uses finite and in range: [`super::check`]), and the first
/// and last rows of the data are readable.
pub fn validate(path: &Path) -> Vec<String> {
    let mut file = match Uvh5File::open(path, DEFAULT_CHUNK_CACHE_BYTES) {
        Ok(f) => f,
        Err(e) => return vec![e.to_string()],
    };
    let h = file.header().clone();
    let mut problems = Vec::new();
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
