//! Converting a group subband by subband, as its files land: the streaming
//! daemon's path.
//!
//! The block pipeline needs every subband before it can write a row. Here
//! the main table is created from the first file to arrive (rows,
//! baselines and times are the same in every subband), and each subband is
//! read, phase-corrected and written into its own channel slice of DATA and
//! FLAG (tiles one subband wide) as soon as it is in. When the last one
//! lands, only that subband, WEIGHT, FLAG_ROW and the subtables are left to
//! write: the latency no longer grows with the group.
//!
//! Where a subband goes follows DSA-110's naming: `sbNN` holds the
//! `NN`-th highest band, so its channels are joined channels
//! `(n_subbands - 1 - NN) * width ..` in ascending frequency.
//! [`IncrementalConversion::finish`] checks that against the group's real
//! frequency layout ([`Group::open`]); any difference is an error, and the
//! caller converts the group whole instead.

use super::pipeline::block_rows;
use super::setup::{self, Setup};
use super::{ConvertError, ConvertOptions, ConvertSummary};
use crate::group::{self, parse_file_name, Group, GroupError};
use crate::ms::{Channels, MsLayout, MsWriter, WeightStats};
use crate::uvh5::{self, RowBuffers, RowsOut, Uvh5File};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

/// A group whose MS is being written subband by subband.
pub struct IncrementalConversion {
    out_ms: PathBuf,
    opts: ConvertOptions,
    n_subbands: usize,
    /// Channels per subband.
    width: usize,
    /// The main table's layout.
    layout: MsLayout,
    setup: Setup,
    writer: MsWriter,
    stats: WeightStats,
    /// w change of every row, metres.
    dw_m: Vec<f64>,
    /// The file written into each slice, by its first joined channel.
    written: HashMap<usize, PathBuf>,
    /// Windows whose WEIGHT, SIGMA and FLAG_ROW are written.
    weights_written: HashSet<usize>,
    /// The header of each file written, as it was read then.
    headers: HashMap<PathBuf, uvh5::Header>,
    seconds_read: f64,
    seconds_compute: f64,
    seconds_write: f64,
    started: Instant,
}

impl IncrementalConversion {
    /// Create the MS of the group `first` belongs to, `n_subbands`
    /// subbands as wide as `first`, and write every per-row column.
    pub fn start(
        first: &Path,
        n_subbands: usize,
        out_ms: &Path,
        opts: &ConvertOptions,
    ) -> Result<IncrementalConversion, ConvertError> {
        let started = Instant::now();
        let claim = setup::claim_output(out_ms, opts)?;
        let header = uvh5::read_header(first).map_err(GroupError::from)?;
        let setup = Setup::new(&header, opts)?;
        let width = header.n_freqs;
        let n_rows = setup.n_rows();
        let layout = setup.layout(n_subbands, width, opts);
        let mut writer = MsWriter::create(claim, &layout, setup.scan_number())?;
        let t = Instant::now();
        let mut uvw = vec![[0.0; 3]; n_rows];
        setup.uvw(opts.backend.as_ref(), 0, &mut uvw)?;
        let mut dw_m = vec![0.0; n_rows];
        setup.dw_m(0, &uvw, &mut dw_m);
        let seconds_compute = t.elapsed().as_secs_f64();
        let t = Instant::now();
        writer.write_row_meta(0, &setup.meta(0, &uvw))?;
        Ok(IncrementalConversion {
            out_ms: out_ms.to_path_buf(),
            opts: opts.clone(),
            n_subbands,
            width,
            layout: layout.clone(),
            stats: WeightStats::new(n_rows, header.n_pols),
            setup,
            writer,
            dw_m,
            written: HashMap::new(),
            weights_written: HashSet::new(),
            headers: HashMap::new(),
            seconds_read: 0.0,
            seconds_compute,
            seconds_write: t.elapsed().as_secs_f64(),
            started,
        })
    }

    /// First joined channel of the subband file `path`.
    fn slot(&self, path: &Path) -> Result<usize, ConvertError> {
        let input = |what: String| ConvertError::Input {
            path: path.to_path_buf(),
            what,
        };
        let (_, _, sb) = parse_file_name(path)
            .ok_or_else(|| input("not a subband file name (<timestamp>_sbNN.hdf5)".into()))?;
        let sb = sb as usize;
        if sb >= self.n_subbands {
            return Err(input(format!(
                "subband {sb} of a group of {} subbands",
                self.n_subbands
            )));
        }
        Ok((self.n_subbands - 1 - sb) * self.width)
    }

    /// Read, phase-correct and write one subband file (again, if its slice
    /// was written before).
    pub fn add(&mut self, path: &Path) -> Result<(), ConvertError> {
        let t_add = Instant::now();
        let chan0 = self.slot(path)?;
        let mut file =
            Uvh5File::open(path, self.opts.chunk_cache_bytes).map_err(GroupError::from)?;
        let header = file.header().clone();
        let h = &header;
        group::check_same_rows(h, &self.setup.header)?;
        if h.n_freqs != self.width {
            return Err(ConvertError::Input {
                path: path.to_path_buf(),
                what: format!(
                    "{} channels, the group's first file has {}",
                    h.n_freqs, self.width
                ),
            });
        }
        let reversed = group::direction(h);
        let mut freq_hz = h.freq_hz.clone();
        if reversed {
            freq_hz.reverse();
        }
        let n_pol = h.n_pols;
        let n_rows = self.setup.n_rows();
        let per_row = self.width * n_pol;
        let block = block_rows(self.opts.max_memory_bytes, per_row, n_rows);
        // Two stages, as the block pipeline: a reader thread reads, puts the
        // channels in ascending order and phase-corrects block k+1 while
        // this thread (which owns the casacore table) writes block k.
        let (dw_m, backend) = (&self.dw_m, self.opts.backend.as_ref());
        let (writer, stats, setup) = (&mut self.writer, &mut self.stats, &self.setup);
        let width = self.width;
        let (read_s, compute_s, write_s) = std::thread::scope(|s| -> Result<_, ConvertError> {
            let (full_tx, full_rx) = mpsc::sync_channel::<Result<SubBlock, ConvertError>>(1);
            let (empty_tx, empty_rx) = mpsc::sync_channel::<SubBlock>(BLOCKS_IN_FLIGHT);
            for _ in 0..BLOCKS_IN_FLIGHT {
                empty_tx
                    .send(SubBlock {
                        r0: 0,
                        r1: 0,
                        rows: RowBuffers::new(block, per_row),
                        flag_bytes: vec![0; block * per_row],
                    })
                    .expect("fresh channel");
            }
            let reading = s.spawn(move || {
                let (mut read_s, mut compute_s) = (0.0, 0.0);
                for r0 in (0..n_rows).step_by(block) {
                    let Ok(mut b) = empty_rx.recv() else { break };
                    b.r0 = r0;
                    b.r1 = (r0 + block).min(n_rows);
                    let n = (b.r1 - r0) * per_row;
                    let t = Instant::now();
                    let read = file.read_into(
                        r0,
                        b.r1,
                        0,
                        reversed,
                        &RowsOut::new(
                            &mut b.rows.vis[..n],
                            &mut b.flag_bytes[..n],
                            &mut b.rows.nsamples[..n],
                            width,
                            n_pol,
                        ),
                    );
                    let res = read
                        .map_err(|e| ConvertError::from(GroupError::from(e)))
                        .and_then(|()| {
                            let rows = &mut b.rows;
                            let unusable = uvh5::sanitize(
                                &mut rows.vis[..n],
                                &b.flag_bytes[..n],
                                &mut rows.flags[..n],
                                &mut rows.nsamples[..n],
                            );
                            file.warn_unusable(unusable, r0, b.r1);
                            read_s += t.elapsed().as_secs_f64();
                            let t = Instant::now();
                            let res = backend.phase_correct(
                                &mut rows.vis[..n],
                                n_pol,
                                &dw_m[r0..b.r1],
                                &freq_hz,
                            );
                            compute_s += t.elapsed().as_secs_f64();
                            Ok(res?)
                        });
                    let failed = res.is_err();
                    if full_tx.send(res.map(|()| b)).is_err() || failed {
                        break;
                    }
                }
                (read_s, compute_s)
            });
            let mut write_s = 0.0;
            for received in full_rx.iter() {
                let b = received?;
                let (r0, r1) = (b.r0, b.r1);
                let n = (r1 - r0) * per_row;
                let t = Instant::now();
                writer
                    .write_channels(
                        r0,
                        chan0,
                        width,
                        &Channels {
                            ant1: &setup.ant1[r0..r1],
                            ant2: &setup.ant2[r0..r1],
                            vis: &b.rows.vis[..n],
                            flags: &b.rows.flags[..n],
                            nsamples: &b.rows.nsamples[..n],
                        },
                        stats,
                    )
                    .map_err(|e| writer.explain(e))?;
                write_s += t.elapsed().as_secs_f64();
                // The reader may have stopped after the last block.
                let _ = empty_tx.send(b);
            }
            let (read_s, compute_s) = reading.join().expect("reader thread panicked");
            Ok((read_s, compute_s, write_s))
        })?;
        self.seconds_read += read_s;
        self.seconds_compute += compute_s;
        self.seconds_write += write_s;
        self.written.insert(chan0, path.to_path_buf());
        self.headers.insert(path.to_path_buf(), header);
        // A window that is this subband: its WEIGHT, SIGMA and FLAG_ROW
        // are final now, not work left for the last subband.
        if self.layout.window_chans == width {
            let window = chan0 / width;
            self.writer.write_weights(&self.stats, [window])?;
            self.weights_written.insert(window);
        }
        // The last subband's caches are written by `finish` anyway.
        if self.written.len() < self.n_subbands {
            self.writer.start_writeback()?;
        }
        tracing::debug!(
            "{}: subband written in {:.2} s (so far: read {:.2} s, compute {:.2} s, write {:.2} s)",
            path.display(),
            t_add.elapsed().as_secs_f64(),
            self.seconds_read,
            self.seconds_compute,
            self.seconds_write
        );
        Ok(())
    }

    /// Check that `files`, the complete group, are the subbands written,
    /// where they belong; write WEIGHT, FLAG_ROW and the subtables; rename
    /// the MS into place.
    pub fn finish(mut self, files: &[PathBuf]) -> Result<ConvertSummary, ConvertError> {
        // The headers read when each subband was written (a file not
        // written is read here, and then fails the checks below).
        let headers = files
            .iter()
            .map(|f| match self.headers.remove(f) {
                Some(h) => Ok(h),
                None => uvh5::read_header(f),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(GroupError::from)?;
        let group = Group::from_headers(headers, self.opts.chunk_cache_bytes)?;
        let n_chan = group.freq_hz().len();
        if n_chan != self.width * self.n_subbands || self.written.len() != files.len() {
            return Err(ConvertError::Input {
                path: group.paths()[0].clone(),
                what: format!(
                    "the group has {} files and {n_chan} channels; {} subbands of {} channels were written",
                    files.len(),
                    self.written.len(),
                    self.width
                ),
            });
        }
        for (path, map) in group.paths().iter().zip(group.channel_maps()) {
            if self.written.get(&map.offset) != Some(path) {
                return Err(ConvertError::Input {
                    path: path.clone(),
                    what: format!(
                        "belongs at channel {} of the joined band, not where its subband number put it",
                        map.offset
                    ),
                });
            }
        }
        let t = Instant::now();
        tracing::debug!(
            "{}: {} subbands checked",
            self.out_ms.display(),
            files.len()
        );
        let spec = self.setup.spec(&group, &self.layout, &self.opts)?;
        let left: Vec<usize> = (0..self.layout.n_windows)
            .filter(|w| !self.weights_written.contains(w))
            .collect();
        self.writer.write_weights(&self.stats, left)?;
        tracing::debug!(
            "{}: WEIGHT and FLAG_ROW written after {:.2} s",
            self.out_ms.display(),
            t.elapsed().as_secs_f64()
        );
        let ms_path = self.writer.finish(&spec)?;
        let seconds = [
            self.seconds_read,
            self.seconds_compute,
            self.seconds_write + t.elapsed().as_secs_f64(),
            self.started.elapsed().as_secs_f64(),
        ];
        Ok(self.setup.summary(
            ms_path,
            &group,
            self.layout.n_windows,
            &self.opts,
            0,
            seconds,
        ))
    }
}

/// Rows `r0..r1` of one subband, `[row][chan ascending][pol]`.
struct SubBlock {
    r0: usize,
    r1: usize,
    rows: RowBuffers,
    /// Flags as stored, before [`uvh5::sanitize`].
    flag_bytes: Vec<u8>,
}

/// Blocks circulating between the reader thread and the writer.
const BLOCKS_IN_FLIGHT: usize = 2;
