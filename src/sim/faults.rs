//! Faults the simulator injects on request, so that quick-look QA
//! ([`crate::qa`]) can be tested against known truth: a dead antenna, a
//! subband of NaNs (a correlator node that dropped out) and RFI spikes in
//! a few channels. The partial last integration is
//! [`super::SimConfig::partial_last_dumps`].

use num_complex::Complex32;

use super::sky::SubbandData;
use super::SimError;

/// Visibility gain of every baseline of a dead antenna: its
/// autocorrelation power 30 dB below the others' (a dish whose receiver is
/// off still gives a little power, rarely exact zeros).
pub const DEAD_ANTENNA_GAIN: f32 = 1e-3;

/// Amplitude added by RFI in an affected channel, every row and
/// polarization, in the simulator's Jy: far above any simulated sky.
pub const RFI_AMPLITUDE_JY: f32 = 500.0;

/// Which faults to inject; [`SimFaults::default`] injects none.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimFaults {
    /// Antenna number (0-based, as `ant_1_array` holds it; station
    /// DSA-(N+1)) whose every baseline is scaled by [`DEAD_ANTENNA_GAIN`].
    /// It must be one of the antennas with data.
    pub dead_antenna: Option<u32>,
    /// Subband file number (sb00 = highest band) whose visibilities are all
    /// NaN with nsamples 0, as NaN-aware averaging leaves a subband whose
    /// correlator node sent nothing.
    pub nan_subband: Option<usize>,
    /// Channels of the whole band (ascending frequency: 0 is the lowest
    /// channel of the highest-numbered subband) where every row and
    /// polarization gets RFI of [`RFI_AMPLITUDE_JY`] added: real and
    /// positive in the autocorrelations, with a phase that changes from
    /// row to row in the cross-correlations.
    pub rfi_channels: Vec<usize>,
}

impl SimFaults {
    /// Check the faults against a group of `antennas` (numbers with data),
    /// `n_subbands` files of `chans_per_subband` channels.
    pub(super) fn check(
        &self,
        antennas: &[u32],
        n_subbands: usize,
        chans_per_subband: usize,
    ) -> Result<(), SimError> {
        if let Some(a) = self.dead_antenna {
            if !antennas.contains(&a) {
                return Err(SimError::Config(format!(
                    "dead antenna {a} has no data in this group: choose one of {antennas:?}"
                )));
            }
        }
        if let Some(sb) = self.nan_subband {
            if sb >= n_subbands {
                return Err(SimError::Config(format!(
                    "NaN subband {sb} of a group of {n_subbands} subbands"
                )));
            }
        }
        let n_chan = n_subbands * chans_per_subband;
        if let Some(c) = self.rfi_channels.iter().find(|&&c| c >= n_chan) {
            return Err(SimError::Config(format!(
                "RFI channel {c} of a band of {n_chan} channels"
            )));
        }
        Ok(())
    }

    /// Inject the faults into subband file `sb` of `n_subbands`, whose
    /// `data` is `[row][chan (descending)][pol]` with `n_chan` channels,
    /// rows time-major over `baselines`.
    pub(super) fn apply(
        &self,
        sb: usize,
        n_subbands: usize,
        n_chan: usize,
        baselines: &[(u32, u32)],
        data: &mut SubbandData,
    ) {
        let per_row = n_chan * N_POL;
        add_rfi(
            &self.rfi_in_file(sb, n_subbands, n_chan),
            per_row,
            baselines,
            &mut data.vis,
        );
        if let Some(dead) = self.dead_antenna {
            for (row, cells) in data.vis.chunks_exact_mut(per_row).enumerate() {
                let (a1, a2) = baselines[row % baselines.len()];
                if a1 == dead || a2 == dead {
                    cells.iter_mut().for_each(|v| *v *= DEAD_ANTENNA_GAIN);
                }
            }
        }
        if self.nan_subband == Some(sb) {
            data.vis.fill(Complex32::new(f32::NAN, f32::NAN));
            data.nsamples.fill(0.0);
        }
    }

    /// The channels of `rfi_channels` in subband file `sb`, as the file's
    /// own (descending) channel indices.
    fn rfi_in_file(&self, sb: usize, n_subbands: usize, n_chan: usize) -> Vec<usize> {
        // Joined (ascending) channels of this file: its channel m is joined
        // channel first + (n_chan - 1 - m).
        let first = (n_subbands - 1 - sb) * n_chan;
        self.rfi_channels
            .iter()
            .filter(|&&c| (first..first + n_chan).contains(&c))
            .map(|&c| n_chan - 1 - (c - first))
            .collect()
    }
}

/// Add RFI to the file channels `channels` of every row of `vis` (rows of
/// `per_row` cells over `baselines`).
fn add_rfi(channels: &[usize], per_row: usize, baselines: &[(u32, u32)], vis: &mut [Complex32]) {
    if channels.is_empty() {
        return;
    }
    for (row, cells) in vis.chunks_exact_mut(per_row).enumerate() {
        let (a1, a2) = baselines[row % baselines.len()];
        let rfi = if a1 == a2 {
            Complex32::new(RFI_AMPLITUDE_JY, 0.0)
        } else {
            // A phase that wanders from row to row (golden-ratio turns).
            let turns = (row as f64 * 0.618_033_988_749_895).fract();
            let (s, c) = (std::f64::consts::TAU * turns).sin_cos();
            Complex32::new(RFI_AMPLITUDE_JY * c as f32, RFI_AMPLITUDE_JY * s as f32)
        };
        for &m in channels {
            for p in 0..N_POL {
                cells[m * N_POL + p] += rfi;
            }
        }
    }
}

/// Polarizations of a simulated file (XX, YY).
const N_POL: usize = 2;
