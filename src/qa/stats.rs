//! The one pass over the cells: sums and counts per subband, small enough
//! to keep for a whole group.
//!
//! Each subband has its own sums ([`SubbandSums`]), so a block of several
//! subbands is summed by one rayon task per subband with nothing shared,
//! and blocks may come in any order. The sums need no allocation per
//! block or row.

use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

use super::report::{self, QaReport};
use super::{QaError, QaShape};

/// Rows of one or more adjacent whole subbands, `[row][channel][pol]`.
///
/// The converter has these for every block it writes (phase-corrected
/// visibilities, flags including NaN-flagging, nsamples); so have the UVH5
/// and MS readers of QA.
pub struct QaBlock<'a> {
    /// First channel of the block in the whole band (ascending frequency),
    /// a multiple of [`QaShape::subband_channels`].
    pub first_channel: usize,
    /// The block's channel centres, ascending, Hz: a whole number of
    /// subbands.
    pub freq_hz: &'a [f64],
    /// Antenna numbers of each row.
    pub ant1: &'a [u32],
    pub ant2: &'a [u32],
    /// Integration index of each row ([`QaShape::time_jd`]).
    pub integration: &'a [u32],
    /// `[row][chan][pol]` in the conjugation `conjugation` names; a NaN
    /// visibility is expected as 0 and flagged (what
    /// [`crate::uvh5::sanitize`] makes of it): QA counts flagged exact
    /// zeros as NaN. Statistics average over polarizations, so their order
    /// does not matter.
    pub vis: &'a [Complex32],
    pub flags: &'a [bool],
    pub nsamples: &'a [f32],
    pub conjugation: Conjugation,
}

/// Which visibility a block holds for a row of antennas (a1, a2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conjugation {
    /// pyuvdata's: the visibility of (a1, a2) as the row names them.
    Uvh5,
    /// The Measurement Set's DATA: the conjugate of pyuvdata's visibility
    /// of (min, max) of the pair, whichever way the row names it.
    Ms,
}

/// Baselines whose spectra QA keeps on the calibrator field: pairs of
/// antennas taken in ascending number, (a0, a1), (a2, a3), ..., so that one
/// dead antenna spoils at most one of them.
pub(super) const CALIBRATOR_BASELINES: usize = 4;

/// Sums and counts of one subband.
pub(super) struct SubbandSums {
    /// Channel centres, Hz (empty until the subband's first block).
    pub freq_hz: Vec<f64>,
    pub rows: u64,
    /// `[antenna][chan]`: sum and count of unflagged autocorrelation |V|.
    pub auto_sum: Vec<f64>,
    pub auto_n: Vec<u32>,
    /// `[integration][chan]`: sum and count of unflagged cross |V|.
    pub cross_sum: Vec<f64>,
    pub cross_n: Vec<u32>,
    /// `[antenna]`: cross |V| sum and count over its baselines (unflagged).
    pub ant_cross_sum: Vec<f64>,
    pub ant_cross_n: Vec<u64>,
    /// `[antenna]`: flagged cells and all cells of rows with the antenna.
    pub ant_flagged: Vec<u64>,
    pub ant_cells: Vec<u64>,
    /// `[integration]`: nsamples sum and count over unflagged cells;
    /// flagged cells and all cells.
    pub int_ns_sum: Vec<f64>,
    pub int_ns_n: Vec<u64>,
    pub int_flagged: Vec<u64>,
    pub int_cells: Vec<u64>,
    /// Cells of the subband: flagged, flagged exact zeros (NaN), all.
    pub flagged: u64,
    pub nan: u64,
    pub cells: u64,
    /// `[calibrator baseline][chan]`: sum and count of the pol-averaged
    /// visibility of baseline (lo, hi) on the calibrator integration.
    pub cal_sum: Vec<Complex64>,
    pub cal_n: Vec<u32>,
}

impl SubbandSums {
    fn new(n_ant: usize, n_int: usize, n_chan: usize) -> SubbandSums {
        SubbandSums {
            freq_hz: Vec::new(),
            rows: 0,
            auto_sum: vec![0.0; n_ant * n_chan],
            auto_n: vec![0; n_ant * n_chan],
            cross_sum: vec![0.0; n_int * n_chan],
            cross_n: vec![0; n_int * n_chan],
            ant_cross_sum: vec![0.0; n_ant],
            ant_cross_n: vec![0; n_ant],
            ant_flagged: vec![0; n_ant],
            ant_cells: vec![0; n_ant],
            int_ns_sum: vec![0.0; n_int],
            int_ns_n: vec![0; n_int],
            int_flagged: vec![0; n_int],
            int_cells: vec![0; n_int],
            flagged: 0,
            nan: 0,
            cells: 0,
            cal_sum: vec![Complex64::new(0.0, 0.0); CALIBRATOR_BASELINES * n_chan],
            cal_n: vec![0; CALIBRATOR_BASELINES * n_chan],
        }
    }
}

/// Where each antenna number's statistics go, and the calibrator's rows.
pub(super) struct Index {
    /// Antenna number -> position in the sorted antennas (`u32::MAX`: none).
    pub antenna: Vec<u32>,
    /// The calibrator's integration, if any.
    pub cal_integration: Option<u32>,
    /// The calibrator baselines, (lo, hi) antenna numbers.
    pub cal_baselines: Vec<(u32, u32)>,
}

/// One block's rows of one subband, as the sums see them.
struct Rows<'a> {
    block: &'a QaBlock<'a>,
    /// Offset of the subband's first value in each row, and values per row.
    offset: usize,
    row_len: usize,
    n_chan: usize,
    n_pol: usize,
}

/// Gathers the statistics of one group; see the module docs.
pub struct QaAccumulator {
    shape: QaShape,
    /// Sorted antenna numbers (the order of every per-antenna array).
    antennas: Vec<u32>,
    index: Index,
    subbands: Vec<SubbandSums>,
}

impl QaAccumulator {
    pub fn new(shape: &QaShape) -> QaAccumulator {
        let mut antennas = shape.antennas.clone();
        antennas.sort_unstable();
        antennas.dedup();
        let size = antennas.last().map_or(0, |&a| a as usize + 1);
        let mut antenna = vec![u32::MAX; size];
        for (i, &a) in antennas.iter().enumerate() {
            antenna[a as usize] = i as u32;
        }
        let cal_baselines = antennas
            .chunks_exact(2)
            .take(CALIBRATOR_BASELINES)
            .map(|p| (p[0], p[1]))
            .collect();
        let (n_ant, n_int, w) = (antennas.len(), shape.time_jd.len(), shape.subband_channels);
        QaAccumulator {
            index: Index {
                antenna,
                cal_integration: shape.calibrator.as_ref().map(|c| c.integration as u32),
                cal_baselines,
            },
            subbands: (0..shape.n_subbands())
                .map(|_| SubbandSums::new(n_ant, n_int, w))
                .collect(),
            antennas,
            shape: shape.clone(),
        }
    }

    pub fn shape(&self) -> &QaShape {
        &self.shape
    }

    /// Forget what was added of the subbands holding channels
    /// `first_channel..first_channel + n_chan`: a subband converted again
    /// (a file sent twice) is then added afresh, not counted twice.
    pub fn forget(&mut self, first_channel: usize, n_chan: usize) {
        let w = self.shape.subband_channels.max(1);
        let (n_ant, n_int) = (self.antennas.len(), self.shape.time_jd.len());
        for k in first_channel / w..(first_channel + n_chan).div_ceil(w) {
            if let Some(s) = self.subbands.get_mut(k) {
                *s = SubbandSums::new(n_ant, n_int, w);
            }
        }
    }

    /// Add the rows of `block` (one or more whole subbands). Each row of
    /// each subband should be added once.
    pub fn add(&mut self, block: &QaBlock) -> Result<(), QaError> {
        self.whole().add(block)
    }

    /// The accumulator as one part.
    fn whole(&mut self) -> QaPart<'_> {
        QaPart {
            shape: &self.shape,
            index: &self.index,
            k0: 0,
            subbands: &mut self.subbands,
        }
    }

    /// The accumulator cut before each channel of `cuts` (ascending, each
    /// the first channel of a subband), so that each part adds its own
    /// blocks on its own thread: part 0 holds the subbands before
    /// `cuts[0]`, the last those from the last cut to the band's end.
    pub fn parts(&mut self, cuts: &[usize]) -> Result<Vec<QaPart<'_>>, QaError> {
        let w = self.shape.subband_channels.max(1);
        let mut parts = Vec::with_capacity(cuts.len() + 1);
        let mut rest = self.whole();
        for &c in cuts {
            let k = c / w;
            if c % w != 0 || k < rest.k0 || k > rest.k0 + rest.subbands.len() {
                return Err(QaError::Block(format!(
                    "cannot cut the band's subbands of {w} channels at channel {c}"
                )));
            }
            let (head, tail) = rest.subbands.split_at_mut(k - rest.k0);
            parts.push(QaPart {
                subbands: head,
                ..rest
            });
            rest = QaPart {
                shape: rest.shape,
                index: rest.index,
                k0: k,
                subbands: tail,
            };
        }
        parts.push(rest);
        Ok(parts)
    }

    /// The statistics, the problems found and the verdict.
    pub fn finish(self) -> QaReport {
        report::build(&self.shape, &self.antennas, &self.index, &self.subbands)
    }
}

/// Adjacent subbands of a [`QaAccumulator`] ([`QaAccumulator::parts`]).
pub struct QaPart<'a> {
    shape: &'a QaShape,
    index: &'a Index,
    /// Index of the first of `subbands` in the band.
    k0: usize,
    subbands: &'a mut [SubbandSums],
}

impl QaPart<'_> {
    /// Add the rows of `block` (one or more whole subbands of this part).
    /// Each row of each subband should be added once.
    pub fn add(&mut self, block: &QaBlock) -> Result<(), QaError> {
        let (w, n_pol) = (self.shape.subband_channels, self.shape.n_pols);
        let n_chan = block.freq_hz.len();
        let n_rows = block.ant1.len();
        if n_pol == 0 || n_pol > CELLS_PER_PASS {
            return Err(QaError::Block(format!(
                "{n_pol} polarizations (QA handles 1..={CELLS_PER_PASS})"
            )));
        }
        if w == 0 || block.first_channel % w != 0 || n_chan % w != 0 || n_chan == 0 {
            return Err(QaError::Block(format!(
                "channels {}..{} are not whole subbands of {w}",
                block.first_channel,
                block.first_channel + n_chan
            )));
        }
        let k0 = block.first_channel / w;
        let k1 = k0 + n_chan / w;
        if k0 < self.k0 || k1 > self.k0 + self.subbands.len() {
            return Err(QaError::Block(format!(
                "channels {}..{} beyond the {} channels from {} (the band has {})",
                block.first_channel,
                block.first_channel + n_chan,
                self.subbands.len() * w,
                self.k0 * w,
                self.shape.n_channels()
            )));
        }
        let own = k0 - self.k0..k1 - self.k0;
        let cells = n_rows * n_chan * n_pol;
        if block.ant2.len() != n_rows
            || block.integration.len() != n_rows
            || block.vis.len() != cells
            || block.flags.len() != cells
            || block.nsamples.len() != cells
        {
            return Err(QaError::Block(format!(
                "{n_rows} rows of {n_chan} channels x {n_pol} pols, but {}/{} antennas, {} integrations, {}/{}/{} cells",
                block.ant2.len(),
                n_rows,
                block.integration.len(),
                block.vis.len(),
                block.flags.len(),
                block.nsamples.len()
            )));
        }
        self.check_rows(block)?;
        for (k, sums) in (k0..k1).zip(&self.subbands[own.clone()]) {
            let n_rows_total = self.shape.n_rows as u64;
            if sums.rows + n_rows as u64 > n_rows_total {
                return Err(QaError::TooManyRows {
                    subband: self.shape.subband_names[k].clone(),
                    rows: sums.rows + n_rows as u64,
                    n_rows: n_rows_total,
                });
            }
        }
        let index = self.index;
        // Adjacent subbands per worker, each walking the rows once: a row's
        // cells of a strip lie side by side, one stream through memory
        // (a worker per subband read 2% of each row and jumped to the next).
        let own_len = own.len();
        let per = own_len.div_ceil(rayon::current_num_threads().clamp(1, own_len));
        self.subbands[own]
            .par_chunks_mut(per)
            .enumerate()
            .for_each(|(g, strip)| {
                let j0 = g * per;
                for (j, sums) in strip.iter_mut().enumerate() {
                    if sums.freq_hz.is_empty() {
                        sums.freq_hz = block.freq_hz[(j0 + j) * w..(j0 + j + 1) * w].to_vec();
                    }
                }
                let rows = Rows {
                    block,
                    offset: j0 * w * n_pol,
                    row_len: n_chan * n_pol,
                    n_chan: w,
                    n_pol,
                };
                add_strip(strip, index, &rows);
            });
        Ok(())
    }

    /// Every row's antennas and integration are the group's.
    fn check_rows(&self, block: &QaBlock) -> Result<(), QaError> {
        let n_int = self.shape.time_jd.len();
        for (&a1, &a2) in block.ant1.iter().zip(block.ant2) {
            for a in [a1, a2] {
                if self
                    .index
                    .antenna
                    .get(a as usize)
                    .is_none_or(|&i| i == u32::MAX)
                {
                    return Err(QaError::UnknownAntenna(a));
                }
            }
        }
        if let Some(&t) = block.integration.iter().find(|&&t| t as usize >= n_int) {
            return Err(QaError::Integration { index: t, n: n_int });
        }
        Ok(())
    }
}

/// Sum the rows of one block into `strip`, adjacent subbands whose first
/// cell in a row is `rows.offset`, row by row.
fn add_strip(strip: &mut [SubbandSums], index: &Index, rows: &Rows) {
    // A constant polarization count for the usual cases, so that the cell
    // loop is unrolled and vectorized.
    match rows.n_pol {
        2 => add_strip_pols(strip, index, rows, 2),
        1 => add_strip_pols(strip, index, rows, 1),
        4 => add_strip_pols(strip, index, rows, 4),
        n_pol => add_strip_pols(strip, index, rows, n_pol),
    }
}

#[inline(always)]
fn add_strip_pols(strip: &mut [SubbandSums], index: &Index, rows: &Rows, n_pol: usize) {
    let n_rows = rows.block.ant1.len();
    let per_row = rows.n_chan * n_pol;
    for sums in strip.iter_mut() {
        sums.rows += n_rows as u64;
    }
    for r in 0..n_rows {
        let start = r * rows.row_len + rows.offset;
        for (j, sums) in strip.iter_mut().enumerate() {
            sums.add_row(index, rows, r, start + j * per_row, n_pol);
        }
    }
}

impl SubbandSums {
    /// Sum row `r` of a block, whose cells of this subband start at `start`.
    #[inline(always)]
    fn add_row(&mut self, index: &Index, rows: &Rows, r: usize, start: usize, n_pol: usize) {
        let b = rows.block;
        let w = rows.n_chan;
        let per_row = w * n_pol;
        let cells = start..start + per_row;
        let (vis, flags, ns) = (
            &b.vis[cells.clone()],
            &b.flags[cells.clone()],
            &b.nsamples[cells],
        );
        let (a1, a2, t) = (b.ant1[r], b.ant2[r], b.integration[r] as usize);
        let (i1, i2) = (
            index.antenna[a1 as usize] as usize,
            index.antenna[a2 as usize] as usize,
        );
        // An autocorrelation's sums per antenna, a cross-correlation's per
        // integration.
        let auto = i1 == i2;
        let (sums, counts, at) = if auto {
            (&mut self.auto_sum, &mut self.auto_n, i1)
        } else {
            (&mut self.cross_sum, &mut self.cross_n, t)
        };
        let span = at * w..(at + 1) * w;
        let row = sum_cells(
            vis,
            flags,
            ns,
            n_pol,
            &mut sums[span.clone()],
            &mut counts[span],
        );
        if !auto {
            for i in [i1, i2] {
                self.ant_cross_sum[i] += row.amp_sum;
                self.ant_cross_n[i] += row.unflagged;
            }
            if index.cal_integration == Some(t as u32) {
                self.add_calibrator(index, (a1, a2), b.conjugation, vis, flags, n_pol);
            }
        }
        let all = per_row as u64;
        if auto {
            self.ant_flagged[i1] += row.flagged;
            self.ant_cells[i1] += all;
        } else {
            for i in [i1, i2] {
                self.ant_flagged[i] += row.flagged;
                self.ant_cells[i] += all;
            }
        }
        self.int_ns_sum[t] += row.ns_sum;
        self.int_ns_n[t] += row.unflagged;
        self.int_flagged[t] += row.flagged;
        self.int_cells[t] += all;
        self.flagged += row.flagged;
        self.nan += row.nan;
        self.cells += all;
    }

    /// Keep the pol-averaged visibility of a calibrator baseline, as
    /// pyuvdata's visibility of (lo, hi).
    fn add_calibrator(
        &mut self,
        index: &Index,
        (a1, a2): (u32, u32),
        conjugation: Conjugation,
        vis: &[Complex32],
        flags: &[bool],
        n_pol: usize,
    ) {
        let pair = (a1.min(a2), a1.max(a2));
        let Some(slot) = index.cal_baselines.iter().position(|&b| b == pair) else {
            return;
        };
        let w = self.freq_hz.len();
        for c in 0..w {
            let mut v = Complex64::new(0.0, 0.0);
            let mut n = 0;
            for p in 0..n_pol {
                let k = c * n_pol + p;
                if !flags[k] {
                    v += Complex64::new(vis[k].re as f64, vis[k].im as f64);
                    n += 1;
                }
            }
            if n > 0 {
                let v = v / n as f64;
                // pyuvdata's visibility of (min, max).
                self.cal_sum[slot * w + c] += match conjugation {
                    Conjugation::Uvh5 if a1 <= a2 => v,
                    _ => v.conj(),
                };
                self.cal_n[slot * w + c] += 1;
            }
        }
    }
}

/// What one row adds besides its per-channel sums.
struct RowTotals {
    flagged: u64,
    nan: u64,
    /// nsamples summed over the unflagged cells, and their number.
    ns_sum: f64,
    unflagged: u64,
    /// |V| summed over the unflagged cells.
    amp_sum: f64,
}

/// Cells handled per pass of [`sum_cells`] (a multiple of 1, 2 and 4 pols).
const CELLS_PER_PASS: usize = 64;

/// Add one row's cells `[chan][pol]`: per channel the sum of the unflagged
/// |V| and their count into `sum` and `n`; returns the row's totals.
///
/// In passes of [`CELLS_PER_PASS`] cells: first |V|, nsamples and the
/// flags of every cell, branch-free (a flagged cell's bits masked to +0.0,
/// since a select compiled to branches) so that the
/// compiler vectorizes it, then the per-channel sums; inlined where
/// `n_pol` is a constant.
#[inline(always)]
fn sum_cells(
    vis: &[Complex32],
    flags: &[bool],
    ns: &[f32],
    n_pol: usize,
    sum: &mut [f64],
    n: &mut [u32],
) -> RowTotals {
    let (mut nan, mut unflagged, mut ns_sum, mut amp_sum) = (0u64, 0u64, 0f64, 0f64);
    let pass = CELLS_PER_PASS / n_pol * n_pol;
    let mut amp = [0f32; CELLS_PER_PASS];
    let mut samples = [0f32; CELLS_PER_PASS];
    let mut good = [0u32; CELLS_PER_PASS];
    let chans_per_pass = pass / n_pol;
    let passes = vis
        .chunks(pass)
        .zip(flags.chunks(pass))
        .zip(ns.chunks(pass))
        .zip(
            sum.chunks_mut(chans_per_pass)
                .zip(n.chunks_mut(chans_per_pass)),
        );
    for (((v, f), s), (acc, count)) in passes {
        let m = v.len();
        let (f, s) = (&f[..m], &s[..m]);
        let (amp, samples, good) = (&mut amp[..m], &mut samples[..m], &mut good[..m]);
        let mut nan_pass = 0u32;
        for i in 0..m {
            let power = v[i].re * v[i].re + v[i].im * v[i].im;
            let flagged = u32::from(f[i]);
            // All ones for an unflagged cell, zero for a flagged one: a
            // flagged cell's values become +0.0 by masking their bits.
            let keep = flagged.wrapping_sub(1);
            amp[i] = f32::from_bits(power.sqrt().to_bits() & keep);
            samples[i] = f32::from_bits(s[i].to_bits() & keep);
            good[i] = keep & 1;
            nan_pass += flagged & u32::from(power == 0.0);
        }
        nan += u64::from(nan_pass);
        // Per channel: no sum carried from one channel to the next.
        for (c, (acc, count)) in acc.iter_mut().zip(count.iter_mut()).enumerate() {
            let cell = c * n_pol..(c + 1) * n_pol;
            let a: f32 = amp[cell.clone()].iter().sum();
            *acc += a as f64;
            *count += good[cell].iter().sum::<u32>();
        }
        // The row's totals in independent lanes.
        amp_sum += lane_sum(amp) as f64;
        ns_sum += lane_sum(samples) as f64;
        unflagged += u64::from(good.iter().sum::<u32>());
    }
    RowTotals {
        flagged: vis.len() as u64 - unflagged,
        nan,
        ns_sum,
        unflagged,
        amp_sum,
    }
}

/// Sum of `v` in eight independent lanes (so that it vectorizes).
#[inline(always)]
fn lane_sum(v: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let mut chunks = v.chunks_exact(8);
    for c in &mut chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    lanes.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::qa::CalibratorField;

    /// Two antennas, one integration, one subband of two channels, two pols.
    fn shape() -> QaShape {
        QaShape {
            group: "t".into(),
            antennas: vec![7, 3],
            antenna_names: vec!["8".into(), "4".into()],
            time_jd: vec![2_460_000.5],
            n_rows: 3,
            subband_names: vec!["sb00".into()],
            subband_channels: 2,
            n_pols: 2,
            calibrator: None,
        }
    }

    #[test]
    fn sums_are_exact_on_a_hand_made_block() {
        let mut acc = QaAccumulator::new(&shape());
        let c = |re: f32, im: f32| Complex32::new(re, im);
        // Rows: auto 3, cross (7, 3), auto 7; cells [chan][pol].
        let vis = [
            [c(2.0, 0.0), c(4.0, 0.0), c(6.0, 0.0), c(8.0, 0.0)],
            [c(3.0, 4.0), c(0.0, 0.0), c(0.0, 1.0), c(6.0, 8.0)],
            [c(1.0, 0.0), c(1.0, 0.0), c(1.0, 0.0), c(1.0, 0.0)],
        ]
        .concat();
        let flags = [
            [false, false, false, true],
            [false, true, false, false],
            [false; 4],
        ]
        .concat();
        let nsamples = [[96.0, 96.0, 96.0, 0.0], [96.0, 0.0, 48.0, 48.0], [96.0; 4]].concat();
        acc.add(&QaBlock {
            first_channel: 0,
            freq_hz: &[1.0e9, 1.1e9],
            ant1: &[3, 7, 7],
            ant2: &[3, 3, 7],
            integration: &[0, 0, 0],
            vis: &vis,
            flags: &flags,
            nsamples: &nsamples,
            conjugation: Conjugation::Uvh5,
        })
        .unwrap();
        let r = acc.finish();
        // Antenna 3: (2 + 4) / 2 and 6 (its flagged 8 left out).
        assert_eq!(r.antennas[0].number, 3);
        assert_eq!(r.antennas[0].auto_spectrum, [3.0, 6.0]);
        assert_eq!(r.antennas[1].auto_spectrum, [1.0, 1.0]);
        // The cross row: |3+4i| = 5 (the flagged 0 is NaN, left out), then (1 + 10) / 2.
        assert_eq!(r.cross_amp_waterfall, [[5.0, 5.5]]);
        // 2 flagged cells of 12; one of them an exact zero.
        assert_eq!(r.subbands[0].flagged_fraction, 2.0 / 12.0);
        assert_eq!(r.subbands[0].nan_fraction, 1.0 / 12.0);
        // Antenna 3: rows auto 3 and (7, 3): 2 of 8 cells flagged.
        assert_eq!(r.antennas[0].flagged_fraction, 0.25);
        // nsamples of the 10 unflagged cells.
        assert_eq!(
            r.integrations[0].nsamples_mean,
            (3.0 * 96.0 + 96.0 + 2.0 * 48.0 + 4.0 * 96.0) / 10.0
        );
    }

    #[test]
    fn the_calibrator_spectrum_is_pyuvdatas_visibility_of_lo_hi_in_either_conjugation() {
        let mut shape = shape();
        shape.calibrator = Some(CalibratorField {
            name: "3C286".into(),
            integration: 0,
        });
        let c = |re: f32, im: f32| Complex32::new(re, im);
        // pyuvdata's V(3, 7) is 1 + i in both channels: a file row (3, 7)
        // holds 1 + i, a row (7, 3) V(7, 3) = 1 - i; the MS holds
        // conj(V(3, 7)) = 1 - i whichever way the row was stored.
        let cases = [
            (Conjugation::Uvh5, [3, 7], c(1.0, 1.0)),
            (Conjugation::Uvh5, [7, 3], c(1.0, -1.0)),
            (Conjugation::Ms, [3, 7], c(1.0, -1.0)),
            (Conjugation::Ms, [7, 3], c(1.0, -1.0)),
        ];
        for (conjugation, [a1, a2], v) in cases {
            let mut acc = QaAccumulator::new(&shape);
            let (vis, flags, ns) = (vec![v; 4], vec![false; 4], vec![96.0; 4]);
            acc.add(&QaBlock {
                first_channel: 0,
                freq_hz: &[1.0e9, 1.1e9],
                ant1: &[a1],
                ant2: &[a2],
                integration: &[0],
                vis: &vis,
                flags: &flags,
                nsamples: &ns,
                conjugation,
            })
            .unwrap();
            let cal = acc.finish().calibrator.unwrap();
            let b = &cal.baselines[0];
            assert_eq!((b.ant1, b.ant2), (3, 7));
            for phase in &b.phase_deg {
                assert!(
                    (phase - 45.0).abs() < 1e-9,
                    "{conjugation:?} ({a1}, {a2}): {phase}"
                );
            }
        }
    }

    /// One autocorrelation row of antenna 3, two channels from
    /// `first_channel`, two pols.
    fn auto_row(first_channel: usize, vis: &[Complex32]) -> QaBlock<'_> {
        QaBlock {
            first_channel,
            freq_hz: &[1.0e9, 1.1e9],
            ant1: &[3],
            ant2: &[3],
            integration: &[0],
            vis,
            flags: &[false; 4],
            nsamples: &[96.0; 4],
            conjugation: Conjugation::Uvh5,
        }
    }

    #[test]
    fn parts_add_only_their_own_subbands_and_cut_only_between_subbands() {
        let mut two = shape();
        two.subband_names = vec!["sb01".into(), "sb00".into()];
        let mut acc = QaAccumulator::new(&two);
        let (low, high) = ([Complex32::new(2.0, 0.0); 4], [Complex32::new(5.0, 0.0); 4]);
        assert!(acc.parts(&[1]).is_err(), "a cut inside a subband");
        let mut parts = acc.parts(&[2]).unwrap();
        assert!(
            parts[0].add(&auto_row(2, &high)).is_err(),
            "sb00 is not part 0's"
        );
        parts[0].add(&auto_row(0, &low)).unwrap();
        parts[1].add(&auto_row(2, &high)).unwrap();
        drop(parts);
        assert_eq!(acc.finish().antennas[0].auto_spectrum, [2.0, 2.0, 5.0, 5.0]);
    }

    #[test]
    fn blocks_that_do_not_fit_are_errors() {
        let mut acc = QaAccumulator::new(&shape());
        let vis = vec![Complex32::new(1.0, 0.0); 4];
        let (flags, ns) = (vec![false; 4], vec![96.0; 4]);
        let block = |ant1: &'static [u32], freq: &'static [f64], first: usize| QaBlock {
            first_channel: first,
            freq_hz: freq,
            ant1,
            ant2: &[3],
            integration: &[0],
            vis: &vis,
            flags: &flags,
            nsamples: &ns,
            conjugation: Conjugation::Uvh5,
        };
        assert!(matches!(
            acc.add(&block(&[5], &[1.0, 2.0], 0)),
            Err(QaError::UnknownAntenna(5))
        ));
        assert!(matches!(
            acc.add(&block(&[3], &[1.0], 0)),
            Err(QaError::Block(_))
        ));
        assert!(matches!(
            acc.add(&block(&[3], &[1.0, 2.0], 2)),
            Err(QaError::Block(_))
        ));
        assert!(matches!(
            acc.add(&block(&[3, 3], &[1.0, 2.0], 0)),
            Err(QaError::Block(_))
        ));
        for _ in 0..3 {
            acc.add(&block(&[3], &[1.0, 2.0], 0)).unwrap();
        }
        assert!(matches!(
            acc.add(&block(&[3], &[1.0, 2.0], 0)),
            Err(QaError::TooManyRows {
                rows: 4,
                n_rows: 3,
                ..
            })
        ));
    }
}
