//! The sky model: per-integration geometry and per-subband visibilities.

use num_complex::Complex32;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use super::{channel_freq_hz, SimGroup};
use crate::astro::Astrometer;
use crate::compute::rotation::uvw_rotation;
use crate::compute::{SkyPos, SPEED_OF_LIGHT_M_S};
use crate::telescope;

/// A point source: ICRS position (radians) and apparent flux density (Jy).
#[derive(Clone, Debug, PartialEq)]
pub struct SimSource {
    pub name: String,
    pub position: SkyPos,
    pub flux_jy: f64,
}

/// Geometry shared by all subbands of a group.
pub(super) struct Model {
    /// ECEF offsets of every station from the array position, metres.
    pub antenna_xyz_m: Vec<[f64; 3]>,
    /// Per baseline: (ant1, ant2), ant1 <= ant2, autocorrelations included.
    pub baselines: Vec<(u32, u32)>,
    /// Per row (time-major): uvw of the fringe-stopping direction, metres.
    pub uvw_m: Vec<[f64; 3]>,
    /// Per row and source: w_src - w_0, metres.
    dw_m: Vec<f64>,
    fluxes_jy: Vec<f64>,
    n_times: usize,
    chans_per_subband: usize,
    noise_jy: f64,
    seed: u64,
}

/// Third row of a row-major 3x3 matrix times `b`: the w coordinate.
fn w_of(r: &[f64; 9], b: [f64; 3]) -> f64 {
    r[6] * b[0] + r[7] * b[1] + r[8] * b[2]
}

fn mat_vec(r: &[f64; 9], b: [f64; 3]) -> [f64; 3] {
    [
        r[0] * b[0] + r[1] * b[1] + r[2] * b[2],
        r[3] * b[0] + r[4] * b[1] + r[5] * b[2],
        w_of(r, b),
    ]
}

impl Model {
    pub fn new(group: &SimGroup, astro: &Astrometer) -> Model {
        let cfg = &group.config;
        let site = telescope::array_site();
        let origin = site.ecef_m();
        let antenna_xyz_m: Vec<[f64; 3]> = telescope::stations()
            .iter()
            .map(|s| {
                let p = s.ecef_m();
                [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]]
            })
            .collect();
        let n = cfg.n_ants as u32;
        let baselines: Vec<(u32, u32)> = (0..n).flat_map(|a| (a..n).map(move |b| (a, b))).collect();

        let mut uvw_m = Vec::with_capacity(baselines.len() * cfg.n_times);
        let mut dw_m = Vec::with_capacity(baselines.len() * cfg.n_times * cfg.sources.len());
        for &t in &group.time_jd {
            let lst = astro.lst_rad(t);
            // The correlator's direction: hour angle 0 at the pointing declination.
            let r0 = uvw_rotation(lst, cfg.pointing_dec_rad, 0.0, lst, site.lon_rad);
            let r_src: Vec<[f64; 9]> = cfg
                .sources
                .iter()
                .map(|s| {
                    let app = astro.icrs_to_app(t, s.position);
                    uvw_rotation(app.ra_rad, app.dec_rad, 0.0, lst, site.lon_rad)
                })
                .collect();
            for &(a1, a2) in &baselines {
                let (p1, p2) = (antenna_xyz_m[a1 as usize], antenna_xyz_m[a2 as usize]);
                let b = [p2[0] - p1[0], p2[1] - p1[1], p2[2] - p1[2]];
                let uvw = mat_vec(&r0, b);
                uvw_m.push(uvw);
                // The correlator fringe-stops with the w it records, and it
                // records float32: use that rounded w, so the file is
                // self-consistent to the last bit.
                let w0_recorded = uvw[2] as f32 as f64;
                dw_m.extend(r_src.iter().map(|r| w_of(r, b) - w0_recorded));
            }
        }
        Model {
            antenna_xyz_m,
            baselines,
            uvw_m,
            dw_m,
            fluxes_jy: cfg.sources.iter().map(|s| s.flux_jy).collect(),
            n_times: cfg.n_times,
            chans_per_subband: cfg.chans_per_subband,
            noise_jy: cfg.noise_jy,
            seed: cfg.seed,
        }
    }

    pub fn n_rows(&self) -> usize {
        self.baselines.len() * self.n_times
    }

    /// Visibilities of one subband, `[row][chan (descending freq)][pol]`.
    /// Sources are unpolarized: XX and YY each see the full flux (the
    /// pyuvdata/CASA convention for linear feeds, I = (XX + YY) / 2).
    pub fn subband(&self, sb: usize) -> Vec<Complex32> {
        const N_POL: usize = 2;
        let n_chan = self.chans_per_subband;
        let freqs: Vec<f64> = (0..n_chan)
            .map(|c| channel_freq_hz(sb, c, n_chan))
            .collect();
        let n_src = self.fluxes_jy.len();
        let mut vis = vec![Complex32::new(0.0, 0.0); self.n_rows() * n_chan * N_POL];
        let noise = Normal::new(0.0, self.noise_jy.max(0.0)).expect("finite noise level");
        vis.par_chunks_mut(n_chan * N_POL)
            .enumerate()
            .for_each(|(row, out)| {
                let dws = &self.dw_m[row * n_src..(row + 1) * n_src];
                let mut rng = (self.noise_jy > 0.0).then(|| {
                    rand::rngs::StdRng::seed_from_u64(self.seed ^ ((sb as u64) << 40) ^ row as u64)
                });
                for (c, &f) in freqs.iter().enumerate() {
                    let mut v = num_complex::Complex64::new(0.0, 0.0);
                    for (&dw, &s) in dws.iter().zip(&self.fluxes_jy) {
                        // Reduce to turns in f64 before the trig.
                        let turns = (dw * f / SPEED_OF_LIGHT_M_S).fract();
                        let (sin, cos) = (std::f64::consts::TAU * turns).sin_cos();
                        v += num_complex::Complex64::new(s * cos, s * sin);
                    }
                    for p in 0..N_POL {
                        let mut vp = v;
                        if let Some(rng) = rng.as_mut() {
                            vp += num_complex::Complex64::new(noise.sample(rng), noise.sample(rng));
                        }
                        out[c * N_POL + p] = Complex32::new(vp.re as f32, vp.im as f32);
                    }
                }
            });
        vis
    }
}
