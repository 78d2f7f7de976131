//! Reading rows of several files of a group side by side in one buffer.

use num_complex::Complex32;
use rayon::prelude::*;

use super::{ChannelMap, GroupError};
use crate::uvh5::{sanitize, RowsOut, Uvh5File};

/// One block of rows, `[row][chan][pol]`, the files' channels side by side.
pub struct Block<'a> {
    pub vis: &'a mut [Complex32],
    pub flags: &'a mut [bool],
    pub nsamples: &'a mut [f32],
    /// Room for the flags as stored, before [`sanitize`].
    pub flag_bytes: &'a mut [u8],
}

/// Rows `r0..r1` of `files` into `block`, side by side in the order given
/// (each file's channels ascending: its map's `reversed` is honoured, its
/// `offset` is not), then sanitized; each file warns once about the values
/// [`sanitize`] flagged. Every buffer of `block` holds exactly `(r1 - r0)`
/// rows of all the files' channels.
pub fn read_side_by_side(
    files: &mut [(Uvh5File, ChannelMap)],
    r0: usize,
    r1: usize,
    block: Block,
) -> Result<(), GroupError> {
    let Some(n_pol) = files.first().map(|(f, _)| f.header().n_pols) else {
        return Ok(());
    };
    let chans: usize = files.iter().map(|(_, m)| m.n_freqs).sum();
    let per_row = chans * n_pol;
    // Per file, its values in a row of the block.
    let mut ranges: Vec<std::ops::Range<usize>> = Vec::with_capacity(files.len());
    {
        let out = RowsOut::new(block.vis, block.flag_bytes, block.nsamples, chans, n_pol);
        let mut at = 0;
        for (file, map) in files.iter_mut() {
            file.read_into(r0, r1, at, map.reversed, &out)?;
            ranges.push(at * n_pol..(at + map.n_freqs) * n_pol);
            at += map.n_freqs;
        }
    }
    let unusable = block
        .vis
        .par_chunks_mut(per_row)
        .zip(block.flag_bytes.par_chunks(per_row))
        .zip(block.flags.par_chunks_mut(per_row))
        .zip(block.nsamples.par_chunks_mut(per_row))
        .fold(
            || vec![0usize; ranges.len()],
            |mut counts, (((v, fb), f), ns)| {
                for (count, r) in counts.iter_mut().zip(&ranges) {
                    let r = r.clone();
                    *count += sanitize(
                        &mut v[r.clone()],
                        &fb[r.clone()],
                        &mut f[r.clone()],
                        &mut ns[r],
                    );
                }
                counts
            },
        )
        .reduce(
            || vec![0usize; ranges.len()],
            |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
        );
    for ((file, _), count) in files.iter_mut().zip(unusable) {
        file.warn_unusable(count, r0, r1);
    }
    Ok(())
}
