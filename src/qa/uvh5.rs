//! QA of a group read from its UVH5 files. The files are cut into parts
//! of whole subbands (each file its own part, unless the files differ in
//! channel count); block by block of rows, each part reads its rows
//! (ascending, NaN-flagged by [`crate::uvh5::sanitize`]) into its own
//! buffers and sums them at once, on its own thread, while they are in
//! the core's cache; the parts go through their rows independently.

use num_complex::Complex32;
use rayon::prelude::*;

use super::{Conjugation, QaAccumulator, QaBlock, QaError, QaPart, QaReport, QaShape};
use crate::group::{read_side_by_side, window_names, Block, ChannelMap, Group};
use crate::uvh5::{whole_row_chunks, Uvh5File};

/// Rows' buffers per block of the largest part: about 1 MiB, so that a
/// part's block is still in the core's cache (2 MiB of L2) when it is
/// summed (full group, 2-core VM: `qa` 0.93-0.95 s with one reader thread
/// filling 5 MiB blocks of all 16 files side by side, 0.71-0.78 s so;
/// 0.75-0.76 s with 512 KiB, 0.87-0.90 s with 2 MiB).
const BLOCK_BYTES: usize = 1 << 20;

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

/// Adjacent files of whole subbands, their buffers and their sums.
struct Part<'a> {
    files: Vec<(Uvh5File, ChannelMap)>,
    /// First channel in the band, and channels.
    first_channel: usize,
    n_chan: usize,
    vis: Vec<Complex32>,
    flags: Vec<bool>,
    nsamples: Vec<f32>,
    sums: QaPart<'a>,
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
    let (n_rows, n_pol) = (header.n_blts, header.n_pols);
    let freq_hz = group.freq_hz();
    let integration = shape.row_integrations(&header.time_jd)?;
    let (ant1, ant2) = header.row_antennas();
    // The files in parts of whole subbands: cut where the channels so far
    // fill whole subbands.
    let w = shape.subband_channels.max(1);
    let mut cuts = Vec::new();
    let mut parts_files: Vec<Vec<(Uvh5File, ChannelMap)>> = vec![Vec::new()];
    let mut at = 0;
    let maps = group.channel_maps().iter().copied();
    for (k, (file, map)) in files.into_iter().zip(maps).enumerate() {
        if k > 0 && at % w == 0 {
            cuts.push(at);
            parts_files.push(Vec::new());
        }
        at += map.n_freqs;
        parts_files.last_mut().expect("one part").push((file, map));
    }
    let widest = parts_files
        .iter()
        .map(|p| p.iter().map(|(_, m)| m.n_freqs).sum::<usize>())
        .max()
        .unwrap_or(1);
    let block = (BLOCK_BYTES / (widest * n_pol * 13).max(1)).clamp(1, n_rows.max(1));
    let block = whole_row_chunks(block, parts_files.iter().flatten().map(|(f, _)| f));
    let mut acc = QaAccumulator::new(shape);
    let mut parts: Vec<Part> = parts_files
        .into_iter()
        .zip(acc.parts(&cuts)?)
        .map(|(files, sums)| {
            let n_chan: usize = files.iter().map(|(_, m)| m.n_freqs).sum();
            let cells = block * n_chan * n_pol;
            Part {
                first_channel: files.first().map_or(0, |(_, m)| m.offset),
                files,
                n_chan,
                vis: vec![Complex32::new(0.0, 0.0); cells],
                flags: vec![false; cells],
                nsamples: vec![0.0; cells],
                sums,
            }
        })
        .collect();
    // Each part through all its rows on its own, with no wait for the
    // others between blocks.
    parts.par_iter_mut().try_for_each(|p| {
        for r0 in (0..n_rows).step_by(block) {
            let r1 = (r0 + block).min(n_rows);
            let n = (r1 - r0) * p.n_chan * n_pol;
            let rows = Block {
                vis: &mut p.vis[..n],
                flags: &mut p.flags[..n],
                nsamples: &mut p.nsamples[..n],
            };
            read_side_by_side(&mut p.files, r0, r1, rows)?;
            p.sums.add(&QaBlock {
                first_channel: p.first_channel,
                freq_hz: &freq_hz[p.first_channel..p.first_channel + p.n_chan],
                ant1: &ant1[r0..r1],
                ant2: &ant2[r0..r1],
                integration: &integration[r0..r1],
                vis: &p.vis[..n],
                flags: &p.flags[..n],
                nsamples: &p.nsamples[..n],
                conjugation: Conjugation::Uvh5,
            })?;
        }
        Ok::<(), QaError>(())
    })?;
    drop(parts);
    let mut report = acc.finish();
    report.input = "uvh5".into();
    Ok(report)
}
