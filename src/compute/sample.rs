//! Synthetic inputs of the kernels' real sizes, for timing them: the
//! calibration of `--backend auto`, `bench` and the criterion benches.
//! Deterministic patterns, not physics.

use super::rotation::uvw_rotation;
use super::UvwRequest;
use crate::astro::SkyPos;

/// Channel frequencies (Hz, the DSA-110 band's spacing) and per-row w
/// changes (metres, up to a few hundred) for the phase kernel.
pub fn phase_inputs(rows: usize, n_chan: usize) -> (Vec<f64>, Vec<f64>) {
    let freq_hz = (0..n_chan)
        .map(|c| 1.311e9 + c as f64 * 244_140.625)
        .collect();
    let dw_m = (0..rows).map(|r| (r % 997) as f64 * 1.7 - 800.0).collect();
    (freq_hz, dw_m)
}

/// `rows` rows of baselines between `n_ant` antennas over 24 rotations,
/// for the UVW kernel.
pub struct UvwInputs {
    antenna_xyz_m: Vec<[f64; 3]>,
    ant1: Vec<u32>,
    ant2: Vec<u32>,
    rotation_index: Vec<u32>,
    rotations: Vec<[f64; 9]>,
}

impl UvwInputs {
    pub fn new(n_ant: u32, rows: usize) -> UvwInputs {
        UvwInputs {
            antenna_xyz_m: (0..n_ant)
                .map(|i| [i as f64 * 10.0, (i * i) as f64 % 2000.0, i as f64])
                .collect(),
            ant1: (0..rows as u32).map(|i| i % n_ant).collect(),
            ant2: (0..rows as u32).map(|i| (i / n_ant) % n_ant).collect(),
            rotation_index: (0..rows as u32).map(|i| i % 24).collect(),
            rotations: (0..24)
                .map(|t| uvw_rotation(3.5 + t as f64 * 1e-3, 0.53, 1e-3, 3.5, -2.06))
                .collect(),
        }
    }

    pub fn request(&self) -> UvwRequest<'_> {
        UvwRequest {
            antenna_xyz_m: &self.antenna_xyz_m,
            ant1: &self.ant1,
            ant2: &self.ant2,
            rotation_index: &self.rotation_index,
            rotations: &self.rotations,
        }
    }
}

/// `n` pairs of sky positions spread over the sphere, for the separation
/// kernels.
pub fn position_pairs(n: usize) -> (Vec<SkyPos>, Vec<SkyPos>) {
    let a: Vec<SkyPos> = (0..n)
        .map(|i| SkyPos {
            ra_rad: (i as f64 * 0.37) % std::f64::consts::TAU,
            dec_rad: ((i as f64 * 0.11) % 3.0) - 1.5,
        })
        .collect();
    let b = a.iter().rev().copied().collect();
    (a, b)
}
