//! The one conversion path: a Measurement Set written subband by subband.
//!
//! [`Conversion::start`] creates the main table from one header of the
//! group (rows, baselines and times are the same in every subband);
//! [`Conversion::add`] (the first also puts every per-row column, while
//! its first blocks are read) reads subband files,
//! turns each block into the MS's values in one fused pass (phase change,
//! correlation order, conjugation: [`crate::compute::Backend::transform`]
//! with [`convention::ms_maps`]) and writes them into their own channels,
//! in any order;
//! [`Conversion::finish`] writes what needs the whole band (WEIGHT and
//! FLAG_ROW of a merged band, the subtables) and puts the MS in place.
//! `convert` adds a group's files in one call, a reader thread reading
//! block k+1 while this thread writes block k (and, with QA, a QA thread
//! summing block k-1 before handing it back to the reader); the streaming
//! daemon adds
//! each file as it lands, so that when the last one lands only that
//! subband and the subtables are left to write.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use super::setup::Setup;
use super::{ConvertError, ConvertOptions, ConvertSummary};
use crate::compute::{PolMap, VisTransform};
use crate::group::{self, Band, ChannelMap, GroupError};
use crate::ms::{convention, Channels, MsLayout, MsWriter, OutputClaim, WeightStats};
use crate::qa;
use crate::uvh5::{self, Header, RowBuffers, Uvh5File};

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
    /// The fused transform's correlation maps, and the rows that take
    /// the second ([`convention::ms_maps`]).
    maps: [PolMap; 2],
    swapped: Vec<bool>,
    /// Every row's UVW, metres, until the per-row columns are written (by
    /// the first [`Conversion::add`], while its reader reads).
    uvw_pending: Option<Vec<[f64; 3]>>,
    /// First joined channel and header of each subband written.
    written: Vec<(usize, Arc<Header>)>,
    /// Per window: WEIGHT, SIGMA and FLAG_ROW written.
    weights_written: Vec<bool>,
    block_rows: usize,
    /// Read, compute, write.
    seconds: [f64; 3],
    started: Instant,
    /// Quick-look QA gathered from the blocks as they are read.
    qa: Option<qa::Tap>,
}

/// Rows `r0..r1` of the subbands being added, side by side,
/// `[row][chan ascending][pol]`.
struct SubBlock {
    /// Index of its [`Step`].
    step: usize,
    rows: RowBuffers,
}

/// Blocks circulating between the reader thread, the writer and (with
/// QA) the QA thread.
const BLOCKS_IN_FLIGHT: usize = 4;

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
    /// files) with the subbands of `band`. Its per-row columns are written
    /// by the first [`Conversion::add`], while that reads its first blocks.
    pub fn start(
        reference: Arc<Header>,
        band: Band,
        out_ms: &Path,
        opts: &ConvertOptions,
    ) -> Result<Conversion, ConvertError> {
        let started = Instant::now();
        let claim = OutputClaim::for_new_ms(out_ms, opts.overwrite)?;
        let setup = Setup::new(reference, band.centre_hz(), opts)?;
        let group_name = out_ms
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("group");
        let fields: Vec<String> = setup.plan.fields.iter().map(|f| f.name.clone()).collect();
        let qa = (opts.qa)
            .then(|| qa::Tap::new(&setup.header, &band, group_name, &fields))
            .transpose()?;
        let subbands = band.subbands();
        if let Band::Group(g) = &band {
            if subbands.0 == 1
                && g.paths().len() > 1
                && opts.spw_layout == crate::ms::SpwLayout::Subbands
            {
                tracing::warn!("the subbands differ in channel count: writing one spectral window");
            }
        }
        let layout = setup.layout(subbands, opts);
        let n_rows = setup.n_rows();
        let n_pol = setup.header.n_pols;
        // The whole band in one block when every file is added at once.
        let per_row = layout.n_chan() * n_pol;
        let block_rows = block_rows(opts.max_memory_bytes, per_row, n_rows);
        if opts.max_memory_bytes < FIXED_OVERHEAD_BYTES + 64 * bytes_per_row(per_row) {
            tracing::warn!(
                "--max-memory {} MiB leaves room for only {block_rows} rows per block: expect a slow \
                 conversion (the converter needs about {} MiB besides its row buffers)",
                opts.max_memory_bytes >> 20,
                FIXED_OVERHEAD_BYTES >> 20
            );
        }
        let writer = MsWriter::create(claim, &layout, &setup.scan_number)?;
        let t = Instant::now();
        let uvw = setup.uvw(opts.backend.as_ref())?;
        let dw_m = setup.dw_m(&uvw);
        let maps = convention::ms_maps(&layout.polarizations)?;
        let swapped = (setup.ant1.iter().zip(&setup.ant2))
            .map(|(&a1, &a2)| convention::swapped(a1, a2))
            .collect();
        let seconds_compute = t.elapsed().as_secs_f64();
        Ok(Conversion {
            opts: opts.clone(),
            band,
            weights_written: vec![false; layout.n_windows],
            layout,
            stats: WeightStats::new(n_rows, n_pol),
            setup,
            writer,
            dw_m,
            maps,
            swapped,
            uvw_pending: Some(uvw),
            written: Vec::new(),
            block_rows,
            seconds: [0.0, seconds_compute, 0.0],
            started,
            qa,
        })
    }

    /// Read, phase-correct and write the subband files `files` (any order;
    /// a file written before is written again), each into its own channels.
    /// They are read and written in `steps` that follow the order of the
    /// main table's rows, and so of casacore's tiles.
    pub fn add(&mut self, mut files: Vec<Uvh5File>) -> Result<(), ConvertError> {
        let mut placed: Vec<(Uvh5File, ChannelMap)> = Vec::with_capacity(files.len());
        for f in files.drain(..) {
            let h = f.header();
            group::check_same_rows(h, &self.setup.header)?;
            let slot = self.band.slot(h)?;
            let taken = self
                .written
                .iter()
                .filter(|(_, w)| w.path != h.path)
                .map(|(c, w)| (*c, &w.path))
                .chain(placed.iter().map(|(f, s)| (s.offset, &f.header().path)))
                .find(|(c, _)| *c == slot.offset);
            if let Some((_, other)) = taken {
                return Err(GroupError::Placement {
                    path: h.path.clone(),
                    what: format!("its frequencies are those of {}", other.display()),
                }
                .into());
            }
            placed.push((f, slot));
        }
        placed.sort_by_key(|(_, s)| s.offset);
        if let Some(q) = self.qa.as_mut() {
            for (f, slot) in &placed {
                if self.written.iter().any(|(_, w)| w.path == f.header().path) {
                    q.forget(slot.offset, slot.n_freqs);
                }
            }
        }
        let (n_rows, n_pol) = (self.setup.n_rows(), self.setup.header.n_pols);
        let all_chans: usize = placed.iter().map(|(_, s)| s.n_freqs).sum();
        let block = block_rows(self.opts.max_memory_bytes, all_chans * n_pol, n_rows);
        let block = uvh5::whole_row_chunks(block, placed.iter().map(|(f, _)| f));
        self.block_rows = block;
        // Several files share a block only where their channels are
        // contiguous in the band.
        let contiguous = placed
            .windows(2)
            .all(|w| w[0].1.offset + w[0].1.n_freqs == w[1].1.offset);
        let per_window = self.layout.n_windows > 1 || !contiguous;
        // Each file's channels ascending, as the reader places them.
        let freq_hz: Vec<Vec<f64>> = placed
            .iter()
            .map(|(f, s)| {
                let mut f = f.header().freq_hz.clone();
                if s.reversed {
                    f.reverse();
                }
                f
            })
            .collect();
        let runs = self.writer.row_runs();
        let steps = steps(&freq_hz, n_pol, runs, per_window, block * all_chans);
        let (rows, chans) = (steps.iter())
            .map(|st| (st.r1 - st.r0, st.freq_hz.len()))
            .max_by_key(|&(r, c)| r * c)
            .unwrap_or((1, 1));
        self.writer.cache_tiles_for(rows, chans)?;
        let headers: Vec<Arc<Header>> = placed.iter().map(|(f, _)| f.shared_header()).collect();
        let slots: Vec<ChannelMap> = placed.iter().map(|(_, s)| *s).collect();
        let progress = progress_bar(self.opts.progress, (n_rows * slots.len()) as u64);
        let Conversion {
            opts,
            layout,
            writer,
            stats,
            dw_m,
            maps,
            swapped,
            written,
            weights_written,
            seconds,
            qa,
            setup,
            uvw_pending,
            ..
        } = self;
        let backend = opts.backend.as_ref();
        let (dw_m, slots, steps) = (&*dw_m, &slots, &steps);
        let (maps, swapped) = (&*maps, &swapped[..]);
        let stats_of_reader = &mut *stats;
        std::thread::scope(|s| -> Result<(), ConvertError> {
            let (full_tx, full_rx) = mpsc::sync_channel::<Result<SubBlock, ConvertError>>(1);
            let (empty_tx, empty_rx) = mpsc::sync_channel::<SubBlock>(BLOCKS_IN_FLIGHT);
            for _ in 0..BLOCKS_IN_FLIGHT {
                let b = SubBlock {
                    step: 0,
                    rows: RowBuffers::new(block, all_chans * n_pol),
                };
                empty_tx.send(b).expect("fresh channel");
            }
            // Reading, sanitizing and the fused transform: the reader thread.
            let reading = std::thread::Builder::new()
                .name("read".into())
                .spawn_scoped(s, move || {
                    let mut t = [0.0; 2];
                    for (k, step) in steps.iter().enumerate() {
                        let Ok(mut b) = empty_rx.recv() else { return t };
                        b.step = k;
                        let mut prepare = || -> Result<(), ConvertError> {
                            let clock = Instant::now();
                            let (r0, r1) = (step.r0, step.r1);
                            let n = (r1 - r0) * step.freq_hz.len() * n_pol;
                            let rows = &mut b.rows;
                            let block = group::Block {
                                vis: &mut rows.vis[..n],
                                flags: &mut rows.flags[..n],
                                nsamples: &mut rows.nsamples[..n],
                            };
                            group::read_side_by_side(
                                &mut placed[step.files.clone()],
                                r0,
                                r1,
                                block,
                            )?;
                            t[0] += clock.elapsed().as_secs_f64();
                            let clock = Instant::now();
                            let alternate = &swapped[r0..r1];
                            let transform = VisTransform {
                                dw_m: &dw_m[r0..r1],
                                freq_hz: &step.freq_hz,
                                alternate,
                                maps,
                            };
                            backend.transform(&transform, &mut rows.vis[..n])?;
                            convention::reorder_cells(&mut rows.flags[..n], maps, alternate);
                            convention::reorder_cells(&mut rows.nsamples[..n], maps, alternate);
                            // WEIGHT's statistics here, off the writer's
                            // thread (casacore's puts keep it busy).
                            let step_slots = &slots[step.files.clone()];
                            let firsts = group::firsts_side_by_side(step_slots);
                            let slices = step_slots.iter().map(|s| (s.offset, s.n_freqs));
                            stats_of_reader.add(r0, slices.zip(firsts), &b.channels(step, n_pol));
                            t[1] += clock.elapsed().as_secs_f64();
                            Ok(())
                        };
                        let res = prepare();
                        let failed = res.is_err();
                        if full_tx.send(res.map(|()| b)).is_err() || failed {
                            return t;
                        }
                    }
                    t
                })
                .map_err(ConvertError::Thread)?;
            // The per-row columns, while the reader reads the first blocks.
            if let Some(uvw) = uvw_pending.take() {
                let t = Instant::now();
                writer
                    .write_row_meta(&setup.meta(&uvw))
                    .map_err(|e| writer.explain(e))?;
                seconds[2] += t.elapsed().as_secs_f64();
            }
            // QA of each block once it is written, on a thread of its own
            // (off the reader's and the writer's way), which then hands the
            // block back to the reader.
            let (written_tx, written_rx) = mpsc::sync_channel::<SubBlock>(BLOCKS_IN_FLIGHT);
            let back = empty_tx.clone();
            let looking = qa
                .as_mut()
                .map(|q| {
                    std::thread::Builder::new()
                        .name("qa".into())
                        .spawn_scoped(s, move || {
                            for b in written_rx.iter() {
                                let step = &steps[b.step];
                                let first = slots[step.files.start].offset;
                                q.add(first, &step.freq_hz, step.r0, &b.channels(step, n_pol));
                                // The reader may have stopped after the last block.
                                let _ = back.send(b);
                            }
                        })
                        .map_err(ConvertError::Thread)
                })
                .transpose()?;
            let next = if looking.is_some() {
                &written_tx
            } else {
                &empty_tx
            };
            // Writing: this thread, which owns the casacore table.
            for received in full_rx.iter() {
                let b = received?;
                let step = &steps[b.step];
                let (r0, r1) = (step.r0, step.r1);
                let step_slots = &slots[step.files.clone()];
                let t = Instant::now();
                let channels = b.channels(step, n_pol);
                let firsts = group::firsts_side_by_side(step_slots);
                for (slot, first) in step_slots.iter().zip(firsts) {
                    writer
                        .write_channels(r0, (slot.offset, slot.n_freqs), &channels, first)
                        .map_err(|e| writer.explain(e))?;
                }
                progress.inc(((r1 - r0) * step_slots.len()) as u64);
                seconds[2] += t.elapsed().as_secs_f64();
                // To QA, or back to the reader (which may have stopped).
                let _ = next.send(b);
            }
            drop(written_tx);
            if let Some(qa) = looking {
                qa.join().expect("QA thread panicked");
            }
            let [read_s, compute_s] = reading.join().expect("reader thread panicked");
            seconds[0] += read_s;
            seconds[1] += compute_s;
            Ok(())
        })?;
        // Every subband is in: record it; a window that is one subband has
        // its WEIGHT, SIGMA and FLAG_ROW final now.
        let t = Instant::now();
        for (h, slot) in headers.iter().zip(slots) {
            written.retain(|(_, w)| w.path != h.path);
            written.push((slot.offset, h.clone()));
            if layout.window_chans == slot.n_freqs {
                let window = slot.offset / slot.n_freqs;
                writer.write_weights(stats, [window])?;
                weights_written[window] = true;
            }
            tracing::debug!("{}: subband written", h.path.display());
        }
        // Waiting for more subbands (the daemon): hand casacore's caches to
        // the kernel now, so that `finish` has little left to write.
        if written.len() * layout.channels_per_tile < layout.n_chan() {
            writer.start_writeback()?;
        }
        seconds[2] += t.elapsed().as_secs_f64();
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
                self.written
                    .iter()
                    .find(|(_, h)| h.path == *f)
                    .map(|(_, h)| h.clone())
                    .ok_or_else(|| GroupError::Placement {
                        path: f.clone(),
                        what: "a file of the group that was not converted".into(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let group = self.band.into_group(headers, &self.written)?;
        if group.freq_hz().len() != self.layout.n_chan() {
            return Err(GroupError::Placement {
                path: group.paths()[0].clone(),
                what: format!(
                    "the group's {} files have {} channels; the MS was laid out for {}",
                    files.len(),
                    group.freq_hz().len(),
                    self.layout.n_chan()
                ),
            }
            .into());
        }
        let spec = self.setup.spec(&group, &self.layout, &self.opts);
        let left: Vec<usize> = (0..self.layout.n_windows)
            .filter(|&w| !self.weights_written[w])
            .collect();
        self.writer.write_weights(&self.stats, left)?;
        let ms_path = self.writer.finish(&spec)?;
        // QA beside the MS, once the MS is in place.
        let dir = ms_path.parent().unwrap_or(Path::new("."));
        let verdict = self.qa.take().map(|q| q.finish(dir)).transpose()?.flatten();
        let [seconds_read, seconds_compute, write_s] = self.seconds;
        Ok(ConvertSummary {
            outline: (self.setup).outline(ms_path, &self.layout, &self.opts, self.block_rows),
            inputs: group.paths().to_vec(),
            seconds_read,
            seconds_compute,
            seconds_write: write_s + t.elapsed().as_secs_f64(),
            seconds_total: self.started.elapsed().as_secs_f64(),
            bytes_read: (group.paths().iter())
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum(),
            qa: verdict,
        })
    }
}

/// One read and write of a conversion: rows `r0..r1` of the files
/// `files` (indices into the files added, ascending frequency), side by
/// side in one block.
struct Step {
    files: std::ops::Range<usize>,
    r0: usize,
    r1: usize,
    /// The files' channels side by side, ascending within each file, Hz.
    freq_hz: Vec<f64>,
}

/// The steps that write the files whose channels are `freq_hz` (each
/// ascending, `n_pol` correlations per channel) in the order of the main
/// table's rows, and so of casacore's tiles (no tile created empty, written,
/// read back and written again): within each run of input rows that is
/// contiguous in every window (`runs`), window after window when
/// `per_window` (one window per subband), else every file in each block of
/// rows. At most `block_values` values per block.
fn steps(
    freq_hz: &[Vec<f64>],
    n_pol: usize,
    runs: &[(usize, usize)],
    per_window: bool,
    block_values: usize,
) -> Vec<Step> {
    let groups: Vec<std::ops::Range<usize>> = if per_window {
        (0..freq_hz.len()).map(|k| k..k + 1).collect()
    } else {
        // Every file in each block.
        let all = 0..freq_hz.len();
        vec![all]
    };
    let mut steps = Vec::new();
    for &(start, len) in runs {
        for files in &groups {
            let freq: Vec<f64> = freq_hz[files.clone()].concat();
            let rows = (block_values / (freq.len() * n_pol).max(1)).max(1);
            for r0 in (start..start + len).step_by(rows) {
                let r1 = (r0 + rows).min(start + len);
                let freq_hz = freq.clone();
                let files = files.clone();
                steps.push(Step {
                    files,
                    r0,
                    r1,
                    freq_hz,
                });
            }
        }
    }
    steps
}

impl SubBlock {
    /// The block's cells of `step`, `n_pol` correlations per channel.
    fn channels(&self, step: &Step, n_pol: usize) -> Channels<'_> {
        let n = (step.r1 - step.r0) * step.freq_hz.len() * n_pol;
        Channels {
            n_rows: step.r1 - step.r0,
            vis: &self.rows.vis[..n],
            flags: &self.rows.flags[..n],
            nsamples: &self.rows.nsamples[..n],
        }
    }
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
