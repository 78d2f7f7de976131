//! The block loop: a reader thread fills row blocks from all subbands while
//! the calling thread computes and writes the previous block.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use num_complex::Complex32;

use super::setup::{self, Setup};
use super::{ConvertError, ConvertOptions, ConvertSummary};
use crate::group::Group;
use crate::ms::{Channels, MsWriter, RowBlock};

/// Row buffers of one block, `[row][chan ascending][pol]`, with the new
/// UVW (metres) and w change of each row.
struct Block {
    r0: usize,
    r1: usize,
    vis: Vec<Complex32>,
    flags: Vec<bool>,
    nsamples: Vec<f32>,
    uvw: Vec<[f64; 3]>,
    dw: Vec<f64>,
}

/// Blocks circulating between the reader, compute and writer stages.
const BLOCKS_IN_FLIGHT: usize = 3;

impl Block {
    fn new(rows: usize, per_row: usize) -> Block {
        Block {
            r0: 0,
            r1: 0,
            vis: vec![Complex32::new(0.0, 0.0); rows * per_row],
            flags: vec![false; rows * per_row],
            nsamples: vec![0.0; rows * per_row],
            uvw: vec![[0.0; 3]; rows],
            dw: vec![0.0; rows],
        }
    }
}

/// Bytes the pipeline holds per row: visibilities, flags and nsamples in
/// three buffers (two in flight, one inside the writer) plus per-row
/// geometry.
fn bytes_per_row(per_row: usize) -> usize {
    3 * per_row * (std::mem::size_of::<Complex32>() + 1 + 4) + 128
}

/// Memory kept out of the block budget: the group's header arrays,
/// casacore's and HDF5's caches, the program itself.
const FIXED_OVERHEAD_BYTES: usize = 192 << 20;

/// Size of one block's row buffers that the pipeline aims for: small
/// blocks keep the reader, the kernels and the writer overlapping and the
/// caches warm (measured: 32 MiB blocks convert a full-size group ~30%
/// faster than 200 MiB ones, in half the memory).
const TARGET_BLOCK_BYTES: usize = 32 << 20;

/// Rows per block: about [`TARGET_BLOCK_BYTES`] of buffers, fewer when
/// `max_memory_bytes` demands it (never fewer than one row).
pub(super) fn block_rows(max_memory_bytes: usize, per_row: usize, n_rows: usize) -> usize {
    let budget = max_memory_bytes.saturating_sub(FIXED_OVERHEAD_BYTES);
    let fit = budget / bytes_per_row(per_row);
    let target = TARGET_BLOCK_BYTES / (per_row * (std::mem::size_of::<Complex32>() + 1 + 4)).max(1);
    fit.min(target).clamp(1, n_rows.max(1))
}

/// Convert one group (`files`, any order) into the Measurement Set `out_ms`.
/// The MS appears at `out_ms` only when complete.
pub fn convert_group(
    files: &[PathBuf],
    out_ms: &Path,
    opts: &ConvertOptions,
) -> Result<ConvertSummary, ConvertError> {
    let t_total = Instant::now();
    let claim = setup::claim_output(out_ms, opts)?;
    let group = Group::open(files, opts.chunk_cache_bytes)?;
    let mut setup = Setup::new(group.header(), opts)?;
    let n_rows = setup.n_rows();
    let freq_hz = group.freq_hz().to_vec();
    let n_chan = freq_hz.len();
    let n_pol = setup.header.n_pols;
    let per_row = n_chan * n_pol;
    let spec = setup.spec(&freq_hz, group.channel_width_hz(), opts)?;
    let layout = setup.layout(n_chan, group.subband_width(), opts);

    let block = block_rows(opts.max_memory_bytes, per_row, n_rows);
    if opts.max_memory_bytes < FIXED_OVERHEAD_BYTES + 64 * bytes_per_row(per_row) {
        tracing::warn!(
            "--max-memory {} MiB leaves room for only {block} rows per block: expect a slow conversion \
             (the converter needs about {} MiB besides its row buffers)",
            opts.max_memory_bytes >> 20,
            FIXED_OVERHEAD_BYTES >> 20
        );
    }
    tracing::debug!("blocks of {block} rows");

    let mut writer = MsWriter::create(claim, &layout, n_rows)?;
    let progress = progress_bar(opts.progress, n_rows as u64);
    let mut seconds_write = 0.0;

    // Three stages, one block each in flight: the reader thread fills a
    // block, the compute thread applies UVW and phases to the previous one,
    // and this thread writes the one before (casacore tables stay on the
    // thread that opened them).
    let mut reader = group.reader(opts.read_workers)?;
    let (seconds_read, seconds_compute) =
        std::thread::scope(|s| -> Result<(f64, f64), ConvertError> {
            let (full_tx, full_rx) = mpsc::sync_channel::<Result<Block, ConvertError>>(1);
            let (done_tx, done_rx) = mpsc::sync_channel::<Result<Block, ConvertError>>(1);
            let (empty_tx, empty_rx) = mpsc::sync_channel::<Block>(BLOCKS_IN_FLIGHT);
            for _ in 0..BLOCKS_IN_FLIGHT {
                empty_tx
                    .send(Block::new(block, per_row))
                    .expect("fresh channel");
            }
            let reading = s.spawn(move || {
                let mut seconds = 0.0;
                for r0 in (0..n_rows).step_by(block) {
                    let Ok(mut b) = empty_rx.recv() else { break };
                    let r1 = (r0 + block).min(n_rows);
                    let n = (r1 - r0) * per_row;
                    let t = Instant::now();
                    let res = reader
                        .read_rows(
                            r0,
                            r1,
                            &mut b.vis[..n],
                            &mut b.flags[..n],
                            &mut b.nsamples[..n],
                        )
                        .map_err(ConvertError::from);
                    seconds += t.elapsed().as_secs_f64();
                    b.r0 = r0;
                    b.r1 = r1;
                    let failed = res.is_err();
                    if full_tx.send(res.map(|()| b)).is_err() || failed {
                        break;
                    }
                }
                seconds
            });
            let (setup, freq_hz) = (&setup, &freq_hz);
            let backend = opts.backend.as_ref();
            let computing = s.spawn(move || {
                let mut seconds = 0.0;
                for received in full_rx.iter() {
                    let t = Instant::now();
                    let res = received.and_then(|mut b| {
                        let rows = b.r1 - b.r0;
                        setup.uvw(backend, b.r0, &mut b.uvw[..rows])?;
                        setup.dw_m(b.r0, &b.uvw[..rows], &mut b.dw[..rows]);
                        backend.phase_correct(
                            &mut b.vis[..rows * per_row],
                            n_pol,
                            &b.dw[..rows],
                            freq_hz,
                        )?;
                        Ok(b)
                    });
                    seconds += t.elapsed().as_secs_f64();
                    let failed = res.is_err();
                    if done_tx.send(res).is_err() || failed {
                        break;
                    }
                }
                seconds
            });

            for received in done_rx.iter() {
                let b = received?;
                let (r0, r1) = (b.r0, b.r1);
                let rows = r1 - r0;
                let n = rows * per_row;
                let t = Instant::now();
                writer
                    .write_rows(
                        r0,
                        &RowBlock {
                            meta: setup.meta(r0, &b.uvw[..rows]),
                            channels: Channels {
                                ant1: &setup.ant1[r0..r1],
                                ant2: &setup.ant2[r0..r1],
                                vis: &b.vis[..n],
                                flags: &b.flags[..n],
                                nsamples: &b.nsamples[..n],
                            },
                        },
                    )
                    .map_err(|e| writer.explain(e))?;
                seconds_write += t.elapsed().as_secs_f64();
                progress.inc(rows as u64);
                // The reader may have stopped after the last block: ignore a closed channel.
                let _ = empty_tx.send(b);
            }
            let read = reading.join().expect("reader thread panicked");
            let compute = computing.join().expect("compute thread panicked");
            Ok((read, compute))
        })?;

    let t = Instant::now();
    let ms_path = writer.finish(&spec)?;
    seconds_write += t.elapsed().as_secs_f64();
    progress.finish_and_clear();
    let seconds = [
        seconds_read,
        seconds_compute,
        seconds_write,
        t_total.elapsed().as_secs_f64(),
    ];
    Ok(setup.summary(ms_path, &group, opts, block, seconds))
}

fn progress_bar(enabled: bool, rows: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(rows);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} rows ({per_sec}, eta {eta})",
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
        // 768 channels x 2 pols: 1536 * 13 = 19968 bytes per row per copy.
        let per_row = 768 * 2;
        let rows = block_rows(1 << 30, per_row, 111_744);
        assert_eq!(rows, (32 << 20) / 19_968);
        // A tight budget shrinks the blocks to fit it.
        let tight = FIXED_OVERHEAD_BYTES + 100 * bytes_per_row(per_row);
        assert_eq!(block_rows(tight, per_row, 111_744), 100);
        // Below one row's worth it still makes progress, row by row.
        assert_eq!(block_rows(1, per_row, 111_744), 1);
        // Never more rows than the group has.
        assert_eq!(block_rows(1 << 30, per_row, 50), 50);
    }
}
