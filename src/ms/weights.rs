//! WEIGHT and FLAG_ROW of rows whose channels arrive slice by slice.
//!
//! WEIGHT is the median of nsamples over the channels of a row's spectral
//! window (per polarization) and FLAG_ROW says every one of them is
//! flagged, so with one window for the whole band neither can be written
//! before the last subband is in. Keeping every nsamples value
//! would cost as much memory as the data; instead each slice keeps one value
//! per row and polarization when its channels agree (the usual case: a
//! correlator integrates every channel alike) and all of them otherwise.
//! The median of a row is then found from (value, count) pairs.

use std::collections::HashMap;

use super::{Channels, MsError};

/// The nsamples of one channel slice.
struct Slice {
    n_chan: usize,
    /// Per row and polarization: the value every channel has, when `uniform`.
    value: Vec<f32>,
    uniform: Vec<bool>,
    /// The channel values of the (row, pol) entries that are not uniform.
    mixed: HashMap<usize, Vec<f32>>,
    /// Per row: every channel of the slice flagged.
    all_flagged: Vec<bool>,
}

impl Slice {
    /// Row `row`'s nsamples `ns` and flags `fl`, `[chan][pol]`.
    #[inline(always)]
    fn add_row(&mut self, row: usize, n_pol: usize, ns: &[f32], fl: &[bool]) {
        // Folds without an early exit, which the compiler vectorizes.
        self.all_flagged[row] = fl.iter().fold(true, |all, &f| all & f);
        // Every channel equal to the one before it, in every polarization
        // (the usual case): one pass.
        let all_uniform = (ns[n_pol..].iter().zip(ns)).fold(true, |all, (a, b)| all & (a == b));
        for p in 0..n_pol {
            let k = row * n_pol + p;
            let first = ns[p];
            let uniform = all_uniform || ns[p..].iter().step_by(n_pol).all(|&v| v == first);
            self.value[k] = first;
            self.uniform[k] = uniform;
            if !uniform {
                self.mixed
                    .insert(k, ns[p..].iter().step_by(n_pol).copied().collect());
            } else if !self.mixed.is_empty() {
                self.mixed.remove(&k);
            }
        }
    }
}

/// Accumulates slices (keyed by their first channel) of rows
/// `[row][chan][pol]`, already in MS polarization order.
pub struct WeightStats {
    n_rows: usize,
    n_pol: usize,
    slices: HashMap<usize, Slice>,
}

impl WeightStats {
    pub fn new(n_rows: usize, n_pol: usize) -> WeightStats {
        WeightStats {
            n_rows,
            n_pol,
            slices: HashMap::new(),
        }
    }

    /// Record rows `row0..` of slices of the band, each `((chan0, n_chan),
    /// block_chan0)`: `n_chan` channels from `chan0` of the band, taken
    /// from channels `block_chan0..` of `block` (a slice added again
    /// replaces what it had for those rows). Row by row, every slice of a
    /// row in one pass: the slices of a row lie side by side in memory.
    pub fn add(
        &mut self,
        row0: usize,
        slices: impl IntoIterator<Item = ((usize, usize), usize)>,
        block: &Channels,
    ) {
        let (n_rows, n_pol) = (self.n_rows, self.n_pol);
        if block.n_rows == 0 {
            return;
        }
        let block_per_row = block.nsamples.len() / block.n_rows;
        // Out of the map while they are filled, each with its cells.
        let mut taken: Vec<(usize, Slice, std::ops::Range<usize>)> = slices
            .into_iter()
            .map(|((chan0, n_chan), block_chan0)| {
                let slice = self.slices.remove(&chan0).unwrap_or_else(|| Slice {
                    n_chan,
                    value: vec![0.0; n_rows * n_pol],
                    uniform: vec![true; n_rows * n_pol],
                    mixed: HashMap::new(),
                    all_flagged: vec![false; n_rows],
                });
                let cells = block_chan0 * n_pol..(block_chan0 + n_chan) * n_pol;
                (chan0, slice, cells)
            })
            .collect();
        for (r, (ns_row, fl_row)) in block
            .nsamples
            .chunks_exact(block_per_row)
            .zip(block.flags.chunks_exact(block_per_row))
            .enumerate()
        {
            let row = row0 + r;
            for (_, slice, cells) in taken.iter_mut() {
                let (ns, fl) = (&ns_row[cells.clone()], &fl_row[cells.clone()]);
                slice.add_row(row, n_pol, ns, fl);
            }
        }
        for (chan0, slice, _) in taken {
            self.slices.insert(chan0, slice);
        }
    }

    /// WEIGHT (`[row][pol]`) and FLAG_ROW of every row over channels
    /// `chan0..chan0 + n_chan`, once the slices cover them.
    pub fn finish(&self, chan0: usize, n_chan: usize) -> Result<(Vec<f32>, Vec<bool>), MsError> {
        let within = |c: &usize| (chan0..chan0 + n_chan).contains(c);
        let covered: usize = self
            .slices
            .iter()
            .filter(|(c, _)| within(c))
            .map(|(_, s)| s.n_chan)
            .sum();
        if covered != n_chan {
            return Err(MsError::Rows(format!(
                "channel slices cover {covered} of channels {chan0}..{}",
                chan0 + n_chan
            )));
        }
        let mut slices: Vec<&Slice> = self
            .slices
            .iter()
            .filter(|(c, _)| within(c))
            .map(|(_, s)| s)
            .collect();
        slices.sort_by_key(|s| s.n_chan);
        let mut weight = vec![0.0; self.n_rows * self.n_pol];
        let mut pairs = Vec::new();
        for (k, w) in weight.iter_mut().enumerate() {
            pairs.clear();
            for s in &slices {
                if s.uniform[k] {
                    pairs.push((s.value[k], s.n_chan));
                } else {
                    pairs.extend(s.mixed[&k].iter().map(|&v| (v, 1)));
                }
            }
            *w = weighted_median(&mut pairs);
        }
        let flag_row = (0..self.n_rows)
            .map(|r| slices.iter().all(|s| s.all_flagged[r]))
            .collect();
        Ok((weight, flag_row))
    }
}

/// The median of values given as (value, multiplicity), as numpy computes
/// it over the expanded values (mean of the middle two for an even count).
pub(super) fn weighted_median(pairs: &mut [(f32, usize)]) -> f32 {
    let n: usize = pairs.iter().map(|p| p.1).sum();
    if n == 0 {
        return 0.0;
    }
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let nth = |k: usize| {
        let mut seen = 0;
        for &(v, count) in pairs.iter() {
            seen += count;
            if seen > k {
                return v;
            }
        }
        unreachable!("k < n")
    };
    if n % 2 == 1 {
        nth(n / 2)
    } else {
        0.5 * (nth(n / 2 - 1) + nth(n / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numpy_median(v: &[f32]) -> f32 {
        let mut s = v.to_vec();
        s.sort_by(f32::total_cmp);
        let n = s.len();
        if n % 2 == 1 {
            s[n / 2]
        } else {
            0.5 * (s[n / 2 - 1] + s[n / 2])
        }
    }

    #[test]
    fn weighted_median_equals_the_median_of_the_expanded_values() {
        let mut pairs = vec![(2.0, 3), (1.0, 1), (5.0, 2)];
        // 1 2 2 2 5 5 -> (2 + 2) / 2
        assert_eq!(weighted_median(&mut pairs), 2.0);
        let mut pairs = vec![(1.0, 2), (3.0, 2)];
        assert_eq!(weighted_median(&mut pairs), 2.0);
        let mut pairs = vec![(4.0, 1), (1.0, 1), (3.0, 1)];
        assert_eq!(weighted_median(&mut pairs), 3.0);
        assert_eq!(weighted_median(&mut []), 0.0);
    }

    #[test]
    fn slices_give_the_median_and_flag_row_of_whole_rows() {
        // 3 rows, 2 pols, 3 slices of 4 channels; slice 1 of row 1 mixed.
        let (n_rows, n_pol, width) = (3, 2, 4);
        let full: Vec<f32> = (0..n_rows * 12 * n_pol)
            .map(|i| {
                let (r, c, p) = (i / (12 * n_pol), (i / n_pol) % 12, i % n_pol);
                if r == 1 && (4..8).contains(&c) {
                    (c * 3 + p) as f32 % 7.0
                } else {
                    (r + c / 4 + 2 * p) as f32
                }
            })
            .collect();
        let flags: Vec<bool> = (0..full.len()).map(|i| i / (12 * n_pol) == 2).collect();
        let mut stats = WeightStats::new(n_rows, n_pol);
        // Each slice taken from the whole rows, as from a block of several
        // subbands side by side.
        let block = Channels {
            n_rows,
            vis: &[],
            flags: &flags,
            nsamples: &full,
        };
        for chan0 in [8, 0, 4] {
            stats.add(0, [((chan0, width), chan0)], &block);
        }
        assert!(stats.finish(0, 16).is_err());
        // WEIGHT over channels `chans` is numpy's median of them.
        let assert_medians = |weight: &[f32], chans: std::ops::Range<usize>| {
            for r in 0..n_rows {
                for p in 0..n_pol {
                    let column: Vec<f32> = chans
                        .clone()
                        .map(|c| full[(r * 12 + c) * n_pol + p])
                        .collect();
                    assert_eq!(
                        weight[r * n_pol + p],
                        numpy_median(&column),
                        "row {r} pol {p}"
                    );
                }
            }
        };
        let (weight, flag_row) = stats.finish(0, 12).unwrap();
        assert_medians(&weight, 0..12);
        assert_eq!(flag_row, vec![false, false, true]);
        // One window per slice: each from its own channels.
        let (weight, _) = stats.finish(4, 4).unwrap();
        assert_medians(&weight, 4..8);
    }
}
