//! Reading rows of every subband into one joined buffer, in parallel.

use num_complex::Complex32;
use rayon::prelude::*;

use super::{ChannelMap, Group, GroupError};
use crate::uvh5::{sanitize, RowsOut, Uvh5File};

/// Reads rows of all files of a group into `[row][joined chan][pol]`.
///
/// `workers` threads each read their share of the files; each file's
/// chunks are read raw (no HDF5 lock) and scattered straight to their
/// joined channels, reversed into ascending order, by rayon workers. No
/// per-file copy and no second pass but [`sanitize`].
pub struct GroupReader {
    files: Vec<(Uvh5File, ChannelMap)>,
    workers: usize,
    n_pol: usize,
    n_chan: usize,
    /// The stored flag bytes of the last block.
    flag_bytes: Vec<u8>,
}

impl GroupReader {
    pub(super) fn new(group: &Group, workers: usize) -> Result<GroupReader, GroupError> {
        let files = group
            .paths()
            .iter()
            .zip(group.channel_maps())
            .map(|(p, m)| Ok((Uvh5File::open(p, group.chunk_cache_bytes)?, *m)))
            .collect::<Result<Vec<_>, GroupError>>()?;
        Ok(GroupReader {
            files,
            workers: workers.max(1),
            n_pol: group.header().n_pols,
            n_chan: group.freq_hz().len(),
            flag_bytes: Vec::new(),
        })
    }

    /// Rows `[r0, r1)` of every file into the joined buffers, each of
    /// `(r1 - r0) * n_chan * n_pol` values.
    pub fn read_rows(
        &mut self,
        r0: usize,
        r1: usize,
        vis: &mut [Complex32],
        flags: &mut [bool],
        nsamples: &mut [f32],
    ) -> Result<(), GroupError> {
        let rows = r1.saturating_sub(r0);
        let n = rows * self.n_chan * self.n_pol;
        if vis.len() != n || flags.len() != n || nsamples.len() != n {
            return Err(GroupError::Buffer(format!(
                "buffers of {}/{}/{} values for {rows} rows x {} channels x {} pols",
                vis.len(),
                flags.len(),
                nsamples.len(),
                self.n_chan,
                self.n_pol
            )));
        }
        let mut bytes = std::mem::take(&mut self.flag_bytes);
        bytes.resize(n, 0);
        let read = {
            let out = RowsOut::new(vis, &mut bytes, nsamples, self.n_chan, self.n_pol);
            let out = &out;
            let per_file = self.files.len().div_ceil(self.workers);
            std::thread::scope(|s| {
                let handles: Vec<_> = self
                    .files
                    .chunks_mut(per_file)
                    .map(|share| {
                        s.spawn(move || -> Result<(), GroupError> {
                            for (file, map) in share.iter_mut() {
                                file.read_into(r0, r1, map.offset, map.reversed, out)?;
                            }
                            Ok(())
                        })
                    })
                    .collect();
                handles
                    .into_iter()
                    .try_for_each(|h| h.join().expect("reader thread panicked"))
            })
        };
        let unusable = self.sanitize(vis, &bytes, flags, nsamples);
        self.flag_bytes = bytes;
        read?;
        for ((file, _), n) in self.files.iter_mut().zip(unusable) {
            file.warn_unusable(n, r0, r1);
        }
        Ok(())
    }

    /// [`sanitize`] the joined rows; how many values of each file it flagged.
    fn sanitize(
        &self,
        vis: &mut [Complex32],
        bytes: &[u8],
        flags: &mut [bool],
        nsamples: &mut [f32],
    ) -> Vec<usize> {
        let per_row = self.n_chan * self.n_pol;
        let ranges: Vec<std::ops::Range<usize>> = self
            .files
            .iter()
            .map(|(_, m)| m.offset * self.n_pol..(m.offset + m.n_freqs) * self.n_pol)
            .collect();
        vis.par_chunks_mut(per_row)
            .zip(bytes.par_chunks(per_row))
            .zip(flags.par_chunks_mut(per_row))
            .zip(nsamples.par_chunks_mut(per_row))
            .fold(
                || vec![0usize; ranges.len()],
                |mut counts, (((v, b), f), ns)| {
                    for (count, r) in counts.iter_mut().zip(&ranges) {
                        let r = r.clone();
                        *count += sanitize(
                            &mut v[r.clone()],
                            &b[r.clone()],
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
            )
    }
}
