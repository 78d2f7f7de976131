//! QA of a group read from its UVH5 files: a reader thread fills blocks
//! of rows of the joined band (ascending, NaN-flagged by
//! [`crate::uvh5::sanitize`]) on one thread while the accumulator sums the
//! previous block on the others.

use std::sync::mpsc;

use num_complex::Complex32;

use super::{Conjugation, QaAccumulator, QaBlock, QaError, QaReport, QaShape};
use crate::group::{read_side_by_side, window_names, Block, ChannelMap, Group};
use crate::uvh5::{whole_row_chunks, Uvh5File};

/// Rows' buffers per block: about 4 MiB, small enough that the statistics
/// find a block still in the cache where the reader placed it (full group,
/// 2-core VM: `qa` 2.3 -> 1.8 s and 2.5 -> 1.4 CPU-s in user space against
/// 32 MiB blocks; 1 MiB blocks cut the correlator's row chunks and are
/// slower again).
const BLOCK_BYTES: usize = 4 << 20;

/// The shape of `group` named `name`: its subbands named as the MS names
/// its spectral windows ([`window_names`]: `sbNN` by frequency, `SPW<k>`
/// for other files), or one subband `BAND` for the whole band when the
/// files differ in channel count.
pub fn group_shape(group: &Group, name: &str) -> QaShape {
    let width = group.subband_width();
    let n_subbands = group.freq_hz().len() / width.max(1);
    let mut shape = QaShape::from_header(group.header(), name, n_subbands, width);
    shape.subband_names = window_names(group, n_subbands);
    shape
}

/// Row buffers of one block.
struct Buffers {
    r0: usize,
    r1: usize,
    vis: Vec<Complex32>,
    flags: Vec<bool>,
    nsamples: Vec<f32>,
}

/// Read every row of `group`, whose open `files` are in its order
/// ([`crate::group::open_files`]), and gather its QA for `shape` (from
/// [`group_shape`], with the calibrator set when known).
pub fn accumulate_group(
    group: &Group,
    files: Vec<Uvh5File>,
    shape: &QaShape,
) -> Result<QaReport, QaError> {
    let header = group.header();
    let n_rows = header.n_blts;
    let freq_hz = group.freq_hz();
    let per_row = freq_hz.len() * header.n_pols;
    let integration = shape.row_integrations(&header.time_jd)?;
    let ant1: Vec<u32> = header.ant_1_array.iter().map(|&a| a as u32).collect();
    let ant2: Vec<u32> = header.ant_2_array.iter().map(|&a| a as u32).collect();
    let block = (BLOCK_BYTES / (per_row * 10).max(1)).clamp(1, n_rows.max(1));
    let mut files: Vec<(Uvh5File, ChannelMap)> = files
        .into_iter()
        .zip(group.channel_maps().iter().copied())
        .collect();
    let block = whole_row_chunks(block, files.iter().map(|(f, _)| f));
    let mut acc = QaAccumulator::new(shape);
    std::thread::scope(|s| -> Result<(), QaError> {
        let (full_tx, full_rx) = mpsc::sync_channel::<Result<Buffers, QaError>>(1);
        let (empty_tx, empty_rx) = mpsc::sync_channel::<Buffers>(2);
        for _ in 0..2 {
            empty_tx
                .send(Buffers {
                    r0: 0,
                    r1: 0,
                    vis: vec![Complex32::new(0.0, 0.0); block * per_row],
                    flags: vec![false; block * per_row],
                    nsamples: vec![0.0; block * per_row],
                })
                .expect("fresh channel");
        }
        s.spawn(move || {
            for r0 in (0..n_rows).step_by(block) {
                let Ok(mut b) = empty_rx.recv() else { break };
                let r1 = (r0 + block).min(n_rows);
                let n = (r1 - r0) * per_row;
                let rows = Block {
                    vis: &mut b.vis[..n],
                    flags: &mut b.flags[..n],
                    nsamples: &mut b.nsamples[..n],
                };
                let read = read_side_by_side(&mut files, r0, r1, rows);
                (b.r0, b.r1) = (r0, r1);
                let failed = read.is_err();
                if full_tx
                    .send(read.map(|()| b).map_err(QaError::from))
                    .is_err()
                    || failed
                {
                    break;
                }
            }
        });
        for received in full_rx.iter() {
            let b = received?;
            let n = (b.r1 - b.r0) * per_row;
            acc.add(&QaBlock {
                first_channel: 0,
                freq_hz,
                ant1: &ant1[b.r0..b.r1],
                ant2: &ant2[b.r0..b.r1],
                integration: &integration[b.r0..b.r1],
                vis: &b.vis[..n],
                flags: &b.flags[..n],
                nsamples: &b.nsamples[..n],
                conjugation: Conjugation::Uvh5,
            })?;
            // The reader may have stopped after the last block.
            let _ = empty_tx.send(b);
        }
        Ok(())
    })?;
    let mut report = acc.finish();
    report.input = "uvh5".into();
    Ok(report)
}
