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
}

/// The first channel of each file's channels in a row of a block that
/// holds the files side by side, in their order.
pub fn firsts_side_by_side<'a>(maps: impl IntoIterator<Item = &'a ChannelMap>) -> Vec<usize> {
    maps.into_iter()
        .scan(0, |at, m| {
            let first = *at;
            *at += m.n_freqs;
            Some(first)
        })
        .collect()
}

/// Rows `r0..r1` of `files` into `block`, side by side in the order given
/// (each file's channels ascending: its map's `reversed` is honoured, its
/// `offset` is not), then [`sanitize`]d where the reader found values to
/// flag; each file warns once about them. Every buffer of `block` holds
/// exactly `(r1 - r0)` rows of all the files' channels.
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
    let firsts = firsts_side_by_side(files.iter().map(|(_, m)| m));
    // Per file, its values in a row of the block and its rows to sanitize;
    // the files in parallel (a small block has few chunk runs per file).
    let dirty = {
        let out = RowsOut::new(block.vis, block.flags, block.nsamples, chans, n_pol);
        files
            .par_iter_mut()
            .zip(&firsts)
            .map(|((file, map), &at)| {
                let rows = file.read_into(r0, r1, at, map.reversed, &out)?;
                Ok((at * n_pol..(at + map.n_freqs) * n_pol, rows))
            })
            .collect::<Result<Vec<_>, GroupError>>()?
    };
    for ((file, _), (values, rows)) in files.iter_mut().zip(dirty) {
        let buffers = (&mut *block.vis, &mut *block.flags, &mut *block.nsamples);
        let unusable = sanitize(buffers, per_row, values, &rows);
        file.warn_unusable(unusable, r0, r1);
    }
    Ok(())
}
