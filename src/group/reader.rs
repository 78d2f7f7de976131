//! Reading rows of every subband into one joined buffer, in parallel.

use num_complex::Complex32;
use rayon::prelude::*;

use super::{ChannelMap, Group, GroupError};
use crate::uvh5::{RowBuffers, Uvh5File};

/// Reads rows of all files of a group into `[row][joined chan][pol]`.
///
/// Phase 1: `workers` threads each read their share of the files with
/// positioned reads (no HDF5 lock for the bulk data) into per-file buffers
/// kept between calls. Phase 2: rayon gathers each output row from the
/// files, reversing descending channels.
pub struct GroupReader {
    files: Vec<(Uvh5File, ChannelMap, RowBuffers)>,
    workers: usize,
    n_pol: usize,
    n_chan: usize,
}

impl GroupReader {
    pub(super) fn new(group: &Group, workers: usize) -> Result<GroupReader, GroupError> {
        let files = group
            .paths()
            .iter()
            .zip(group.channel_maps())
            .map(|(p, m)| {
                Ok((
                    Uvh5File::open(p, group.chunk_cache_bytes)?,
                    *m,
                    RowBuffers::default(),
                ))
            })
            .collect::<Result<Vec<_>, GroupError>>()?;
        Ok(GroupReader {
            files,
            workers: workers.max(1),
            n_pol: group.header().n_pols,
            n_chan: group.freq_hz().len(),
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
        let per_file = self.files.len().div_ceil(self.workers);
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .files
                .chunks_mut(per_file)
                .map(|share| {
                    s.spawn(move || -> Result<(), GroupError> {
                        for (file, map, buf) in share.iter_mut() {
                            let n = rows * map.n_freqs * file.header().n_pols;
                            buf.vis.resize(n, Complex32::new(0.0, 0.0));
                            buf.flags.resize(n, false);
                            buf.nsamples.resize(n, 0.0);
                            file.read_rows(
                                r0,
                                r1,
                                &mut buf.vis,
                                &mut buf.flags,
                                &mut buf.nsamples,
                            )?;
                        }
                        Ok(())
                    })
                })
                .collect();
            handles
                .into_iter()
                .try_for_each(|h| h.join().expect("reader thread panicked"))
        })?;

        let (n_chan, n_pol) = (self.n_chan, self.n_pol);
        let per_row = n_chan * n_pol;
        let files = &self.files;
        vis.par_chunks_mut(per_row)
            .zip(flags.par_chunks_mut(per_row))
            .zip(nsamples.par_chunks_mut(per_row))
            .enumerate()
            .for_each(|(row, ((v, f), ns))| {
                for (_, map, buf) in files {
                    let width = map.n_freqs * n_pol;
                    let src = row * width;
                    for c in 0..map.n_freqs {
                        let from = src + if map.reversed { map.n_freqs - 1 - c } else { c } * n_pol;
                        let to = (map.offset + c) * n_pol;
                        v[to..to + n_pol].copy_from_slice(&buf.vis[from..from + n_pol]);
                        f[to..to + n_pol].copy_from_slice(&buf.flags[from..from + n_pol]);
                        ns[to..to + n_pol].copy_from_slice(&buf.nsamples[from..from + n_pol]);
                    }
                }
            });
        Ok(())
    }
}
