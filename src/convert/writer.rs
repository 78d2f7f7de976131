//! The one conversion path: a Measurement Set written subband by subband.
//!
//! [`Conversion::start`] creates the main table from one header of the
//! group (rows, baselines and times are the same in every subband) and
//! writes every per-row column; [`Conversion::add`] reads, phase-corrects
//! and writes subband files into their own channels, in any order;
//! [`Conversion::finish`] writes what needs the whole band (WEIGHT and
//! FLAG_ROW of a merged band, the subtables) and puts the MS in place.
//! `convert` adds a group's files in one call, a reader thread reading
//! block k+1 while this thread writes block k; the streaming daemon adds
//! each file as it lands, so that when the last one lands only that
//! subband and the subtables are left to write.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use super::band::Band;
use super::setup::{self, Setup};
use super::{ConvertError, ConvertOptions, ConvertSummary};
use crate::group::{self, ChannelMap, GroupError};
use crate::ms::{Channels, MsLayout, MsWriter, WeightStats};
use crate::uvh5::{self, Header, RowBuffers, RowsOut, Uvh5File};

/// A group whose MS is being written subband by subband.
pub struct Conversion {
    opts: ConvertOptions,
    band: Band,
    layout: MsLayout,
    setup: Setup,
    writer: MsWriter,
    stats: WeightStats,
    /// w change of every row, metres.
    dw_m: Vec<f64>,
    /// (first joined channel, file) of each subband written, with its header.
    written: Vec<(usize, PathBuf)>,
    headers: Vec<Arc<Header>>,
    /// Per window: WEIGHT, SIGMA and FLAG_ROW written.
    weights_written: Vec<bool>,
    block_rows: usize,
    /// Read, compute, write.
    seconds: [f64; 3],
    started: Instant,
}

/// Rows `r0..r1` of one subband, `[row][chan ascending][pol]`.
struct SubBlock {
    /// Index of the file among those added.
    file: usize,
    r0: usize,
    r1: usize,
    rows: RowBuffers,
    /// Flags as stored, before [`uvh5::sanitize`].
    flag_bytes: Vec<u8>,
}

/// Blocks circulating between the reader thread and the writer.
const BLOCKS_IN_FLIGHT: usize = 2;

/// Bytes the conversion holds per row of a subband block: visibilities,
/// flags and nsamples in the blocks in flight and the writer's copy, plus
/// per-row geometry.
fn bytes_per_row(per_row: usize) -> usize {
    (BLOCKS_IN_FLIGHT + 1) * per_row * (std::mem::size_of::<num_complex::Complex32>() + 1 + 4) + 128
}

/// Memory kept out of the block budget: the group's header arrays,
/// casacore's and HDF5's caches, the program itself.
const FIXED_OVERHEAD_BYTES: usize = 192 << 20;

/// Size of one block's buffers that the conversion aims for: small blocks
/// keep the reader and the writer overlapping and the caches warm.
const TARGET_BLOCK_BYTES: usize = 32 << 20;

/// Rows per block: about [`TARGET_BLOCK_BYTES`] of buffers, fewer when
/// `max_memory_bytes` demands it (never fewer than one row).
pub(super) fn block_rows(max_memory_bytes: usize, per_row: usize, n_rows: usize) -> usize {
    let budget = max_memory_bytes.saturating_sub(FIXED_OVERHEAD_BYTES);
    let fit = budget / bytes_per_row(per_row);
    let target = TARGET_BLOCK_BYTES / (per_row * (8 + 1 + 4)).max(1);
    fit.min(target).clamp(1, n_rows.max(1))
}

impl Conversion {
    /// Create the MS of the group described by `reference` (any of its
    /// files) with the subbands of `band`, and write every per-row column.
    pub fn start(
        reference: Arc<Header>,
        band: Band,
        out_ms: &Path,
        opts: &ConvertOptions,
    ) -> Result<Conversion, ConvertError> {
        let started = Instant::now();
        let claim = setup::claim_output(out_ms, opts)?;
        let setup = Setup::new(reference, band.centre_hz(), opts)?;
        let (n_subbands, width) = band.subbands();
        if let Band::Group(g) = &band {
            if n_subbands == 1
                && g.paths().len() > 1
                && opts.spw_layout == crate::ms::SpwLayout::Subbands
            {
                tracing::warn!("the subbands differ in channel count: writing one spectral window");
            }
        }
        let layout = setup.layout(n_subbands, width, opts);
        let n_rows = setup.n_rows();
        let n_pol = setup.header.n_pols;
        let block_rows = block_rows(opts.max_memory_bytes, width * n_pol, n_rows);
        if opts.max_memory_bytes < FIXED_OVERHEAD_BYTES + 64 * bytes_per_row(width * n_pol) {
            tracing::warn!(
                "--max-memory {} MiB leaves room for only {block_rows} rows per block: expect a slow \
                 conversion (the converter needs about {} MiB besides its row buffers)",
                opts.max_memory_bytes >> 20,
                FIXED_OVERHEAD_BYTES >> 20
            );
        }
        let mut writer = MsWriter::create(claim, &layout, setup.scan_number())?;
        let t = Instant::now();
        let mut uvw = vec![[0.0; 3]; n_rows];
        setup.uvw(opts.backend.as_ref(), 0, &mut uvw)?;
        let mut dw_m = vec![0.0; n_rows];
        setup.dw_m(0, &uvw, &mut dw_m);
        let seconds_compute = t.elapsed().as_secs_f64();
        let t = Instant::now();
        writer
            .write_row_meta(0, &setup.meta(0, &uvw))
            .map_err(|e| writer.explain(e))?;
        Ok(Conversion {
            opts: opts.clone(),
            band,
            weights_written: vec![false; layout.n_windows],
            layout,
            stats: WeightStats::new(n_rows, n_pol),
            setup,
            writer,
            dw_m,
            written: Vec::new(),
            headers: Vec::new(),
            block_rows,
            seconds: [0.0, seconds_compute, t.elapsed().as_secs_f64()],
            started,
        })
    }

    /// Read, phase-correct and write the subband files `files` (any order;
    /// a file written before is written again), each into its own channels.
    pub fn add(&mut self, files: Vec<Uvh5File>) -> Result<(), ConvertError> {
        let mut slots: Vec<ChannelMap> = Vec::with_capacity(files.len());
        for f in &files {
            let h = f.header();
            group::check_same_rows(h, &self.setup.header)?;
            let slot = self.band.slot(h)?;
            let taken = self
                .written
                .iter()
                .filter(|(_, p)| *p != h.path)
                .map(|(c, p)| (*c, p))
                .chain(
                    files
                        .iter()
                        .zip(&slots)
                        .map(|(f, s)| (s.offset, &f.header().path)),
                )
                .find(|(c, _)| *c == slot.offset);
            if let Some((_, other)) = taken {
                return Err(ConvertError::Input {
                    path: h.path.clone(),
                    what: format!("its frequencies are those of {}", other.display()),
                });
            }
            slots.push(slot);
        }
        let headers: Vec<Arc<Header>> = files.iter().map(|f| f.shared_header()).collect();
        let (n_rows, n_pol) = (self.setup.n_rows(), self.setup.header.n_pols);
        let max_chans = slots.iter().map(|s| s.n_freqs).max().unwrap_or(0);
        let block = self.block_rows;
        let progress = progress_bar(self.opts.progress, (n_rows * files.len()) as u64);
        let Conversion {
            opts,
            layout,
            setup,
            writer,
            stats,
            dw_m,
            written,
            headers: kept,
            weights_written,
            seconds,
            ..
        } = self;
        let backend = opts.backend.as_ref();
        let dw_m = &*dw_m;
        let slots = &slots;
        std::thread::scope(|s| -> Result<(), ConvertError> {
            let (full_tx, full_rx) = mpsc::sync_channel::<Result<SubBlock, ConvertError>>(1);
            let (empty_tx, empty_rx) = mpsc::sync_channel::<SubBlock>(BLOCKS_IN_FLIGHT);
            for _ in 0..BLOCKS_IN_FLIGHT {
                let rows = RowBuffers::new(block, max_chans * n_pol);
                let flag_bytes = vec![0; rows.flags.len()];
                let b = SubBlock {
                    file: 0,
                    r0: 0,
                    r1: 0,
                    rows,
                    flag_bytes,
                };
                empty_tx.send(b).expect("fresh channel");
            }
            // Reading, sanitizing and phase-correcting: the reader thread.
            let reading = std::thread::Builder::new()
                .name("read".into())
                .spawn_scoped(s, move || {
                    let mut t = [0.0; 2];
                    for (k, (mut file, slot)) in files.into_iter().zip(slots).enumerate() {
                        let mut freq_hz = file.header().freq_hz.clone();
                        if slot.reversed {
                            freq_hz.reverse();
                        }
                        for r0 in (0..n_rows).step_by(block) {
                            let Ok(b) = empty_rx.recv() else { return t };
                            let res = read_block(
                                &mut file,
                                slot,
                                k,
                                r0,
                                (r0 + block).min(n_rows),
                                b,
                                &mut t[0],
                            )
                            .and_then(|mut b| {
                                let clock = Instant::now();
                                let n = (b.r1 - b.r0) * slot.n_freqs * n_pol;
                                let res = backend.phase_correct(
                                    &mut b.rows.vis[..n],
                                    n_pol,
                                    &dw_m[b.r0..b.r1],
                                    &freq_hz,
                                );
                                t[1] += clock.elapsed().as_secs_f64();
                                Ok(res.map(|()| b)?)
                            });
                            let failed = res.is_err();
                            if full_tx.send(res).is_err() || failed {
                                return t;
                            }
                        }
                    }
                    t
                })
                .map_err(ConvertError::Thread)?;
            // Writing: this thread, which owns the casacore table.
            for received in full_rx.iter() {
                let b = received?;
                let slot = slots[b.file];
                let n = (b.r1 - b.r0) * slot.n_freqs * n_pol;
                let t = Instant::now();
                let channels = Channels {
                    ant1: &setup.ant1[b.r0..b.r1],
                    ant2: &setup.ant2[b.r0..b.r1],
                    vis: &b.rows.vis[..n],
                    flags: &b.rows.flags[..n],
                    nsamples: &b.rows.nsamples[..n],
                };
                writer
                    .write_channels(b.r0, slot.offset, slot.n_freqs, &channels, stats)
                    .map_err(|e| writer.explain(e))?;
                progress.inc((b.r1 - b.r0) as u64);
                if b.r1 == n_rows {
                    // The subband is in: record it; a window that is this
                    // subband has its WEIGHT, SIGMA and FLAG_ROW final now.
                    let h = &headers[b.file];
                    written.retain(|(_, p)| *p != h.path);
                    written.push((slot.offset, h.path.clone()));
                    kept.retain(|k| k.path != h.path);
                    kept.push(h.clone());
                    if layout.window_chans == slot.n_freqs {
                        let window = slot.offset / slot.n_freqs;
                        writer.write_weights(stats, [window])?;
                        weights_written[window] = true;
                    }
                    tracing::debug!("{}: subband written", h.path.display());
                }
                seconds[2] += t.elapsed().as_secs_f64();
                // The reader may have stopped after the last block.
                let _ = empty_tx.send(b);
            }
            let [read_s, compute_s] = reading.join().expect("reader thread panicked");
            seconds[0] += read_s;
            seconds[1] += compute_s;
            // Waiting for more subbands (the daemon): hand casacore's caches
            // to the kernel now, so that `finish` has little left to write.
            if written.len() * layout.channels_per_tile < layout.n_chan() {
                let t = Instant::now();
                writer.start_writeback()?;
                seconds[2] += t.elapsed().as_secs_f64();
            }
            Ok(())
        })?;
        progress.finish_and_clear();
        Ok(())
    }

    /// Check that `files`, the complete group, are the subbands written,
    /// where they belong; write what is left of WEIGHT and FLAG_ROW and the
    /// subtables; put the MS in place.
    pub fn finish(mut self, files: &[PathBuf]) -> Result<ConvertSummary, ConvertError> {
        let t = Instant::now();
        let headers = files
            .iter()
            .map(|f| {
                self.headers
                    .iter()
                    .find(|h| h.path == *f)
                    .cloned()
                    .ok_or_else(|| ConvertError::Input {
                        path: f.clone(),
                        what: "a file of the group that was not converted".into(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let group = self.band.into_group(headers, &self.written)?;
        if group.freq_hz().len() != self.layout.n_chan() {
            return Err(ConvertError::Input {
                path: group.paths()[0].clone(),
                what: format!(
                    "the group's {} files have {} channels; the MS was laid out for {}",
                    files.len(),
                    group.freq_hz().len(),
                    self.layout.n_chan()
                ),
            });
        }
        let spec = self.setup.spec(&group, &self.layout, &self.opts);
        let left: Vec<usize> = (0..self.layout.n_windows)
            .filter(|&w| !self.weights_written[w])
            .collect();
        self.writer.write_weights(&self.stats, left)?;
        let ms_path = self.writer.finish(&spec)?;
        let [read_s, compute_s, write_s] = self.seconds;
        let seconds = [
            read_s,
            compute_s,
            write_s + t.elapsed().as_secs_f64(),
            self.started.elapsed().as_secs_f64(),
        ];
        Ok(self.setup.summary(
            ms_path,
            &group,
            self.layout.n_windows,
            &self.opts,
            self.block_rows,
            seconds,
        ))
    }
}

/// Read rows `r0..r1` of `file` (subband `k`, going to `slot`) into `b`,
/// channels ascending, and sanitize them; adds the seconds to `seconds`.
fn read_block(
    file: &mut Uvh5File,
    slot: &ChannelMap,
    k: usize,
    r0: usize,
    r1: usize,
    mut b: SubBlock,
    seconds: &mut f64,
) -> Result<SubBlock, ConvertError> {
    let t = Instant::now();
    let n_pol = file.header().n_pols;
    let n = (r1 - r0) * slot.n_freqs * n_pol;
    let rows = &mut b.rows;
    let out = RowsOut::new(
        &mut rows.vis[..n],
        &mut b.flag_bytes[..n],
        &mut rows.nsamples[..n],
        slot.n_freqs,
        n_pol,
    );
    file.read_into(r0, r1, 0, slot.reversed, &out)
        .map_err(GroupError::from)?;
    let unusable = uvh5::sanitize(
        &mut rows.vis[..n],
        &b.flag_bytes[..n],
        &mut rows.flags[..n],
        &mut rows.nsamples[..n],
    );
    file.warn_unusable(unusable, r0, r1);
    (b.file, b.r0, b.r1) = (k, r0, r1);
    *seconds += t.elapsed().as_secs_f64();
    Ok(b)
}

fn progress_bar(enabled: bool, rows: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(rows);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} subband rows ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_aim_at_32_mib_within_the_budget() {
        // One 48-channel subband x 2 pols: 96 * 13 = 1248 bytes per row.
        let per_row = 48 * 2;
        let rows = block_rows(1 << 30, per_row, 111_744);
        assert_eq!(rows, (32 << 20) / 1_248);
        // A tight budget shrinks the blocks to fit it.
        let tight = FIXED_OVERHEAD_BYTES + 100 * bytes_per_row(per_row);
        assert_eq!(block_rows(tight, per_row, 111_744), 100);
        // Below one row's worth it still makes progress, row by row.
        assert_eq!(block_rows(1, per_row, 111_744), 1);
        // Never more rows than the group has.
        assert_eq!(block_rows(1 << 30, per_row, 50), 50);
    }
}
