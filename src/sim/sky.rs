//! The sky model: per-integration geometry and per-subband visibilities.

use num_complex::Complex32;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;

use super::antennas::{antennas_with_data, correlator_baselines};
use super::{SimFaults, SimGroup, DUMPS_PER_INTEGRATION};
use crate::astro::Astrometer;
use crate::astro::SkyPos;
use crate::compute::rotation::uvw_rotation;
use crate::compute::SPEED_OF_LIGHT_M_S;
use crate::telescope;
use crate::telescope::channel_freq_hz;

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
    /// Antennas with data (0-based antenna numbers) in correlator order.
    pub antennas: Vec<u32>,
    /// Per baseline, in the correlator's order: (ant1, ant2), 0-based
    /// antenna numbers, autocorrelations included; ant1 > ant2 for many.
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
    /// Correlator dumps averaged into the last integration, when partial.
    partial_last_dumps: Option<u32>,
    n_subbands: usize,
    faults: SimFaults,
}

/// One subband's per-cell arrays, `[row][chan (descending freq)][pol]`.
pub(super) struct SubbandData {
    pub vis: Vec<Complex32>,
    /// Samples (correlator dumps) averaged into each cell.
    pub nsamples: Vec<f32>,
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
        let antennas = antennas_with_data(cfg.n_ants);
        let baselines = correlator_baselines(&antennas);

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
                // The correlator fringe-stops with the exact w (f64) and
                // records it as float32: the file's w is off by up to half
                // a float32 step, as a real file's is.
                dw_m.extend(r_src.iter().map(|r| w_of(r, b) - uvw[2]));
            }
        }
        Model {
            antenna_xyz_m,
            antennas,
            baselines,
            uvw_m,
            dw_m,
            fluxes_jy: cfg.sources.iter().map(|s| s.flux_jy).collect(),
            n_times: cfg.n_times,
            chans_per_subband: cfg.chans_per_subband,
            noise_jy: cfg.noise_jy,
            seed: cfg.seed,
            partial_last_dumps: cfg.partial_last_dumps,
            n_subbands: cfg.n_subbands,
            faults: cfg.faults.clone(),
        }
    }

    pub fn n_rows(&self) -> usize {
        self.baselines.len() * self.n_times
    }

    /// Visibilities and nsamples of one subband.
    ///
    /// Sources are unpolarized: XX and YY each see the full flux (the
    /// pyuvdata/CASA convention for linear feeds, I = (XX + YY) / 2). Every
    /// cell averages [`DUMPS_PER_INTEGRATION`] dumps, except in a partial
    /// last integration ([`partial_last`]); then the faults asked for are
    /// injected ([`SimFaults`]).
    pub fn subband(&self, sb: usize) -> SubbandData {
        let mut vis = self.visibilities(sb);
        let mut nsamples = vec![DUMPS_PER_INTEGRATION as f32; vis.len()];
        if let Some(dumps) = self.partial_last_dumps {
            let per_int = self.baselines.len() * self.chans_per_subband * 2;
            let first = per_int * (self.n_times - 1);
            partial_last(&mut vis[first..], &mut nsamples[first..], dumps);
        }
        let mut data = SubbandData { vis, nsamples };
        self.faults.apply(
            sb,
            self.n_subbands,
            self.chans_per_subband,
            &self.baselines,
            &mut data,
        );
        data
    }

    /// Visibilities of one subband, `[row][chan (descending freq)][pol]`.
    fn visibilities(&self, sb: usize) -> Vec<Complex32> {
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

/// Cells of a partial last integration whose every dump was NaN: one in
/// [`NAN_CELL_PERIOD`] (cell index within the integration divisible by it).
pub const NAN_CELL_PERIOD: usize = 97;

/// Make one integration's cells partial as the correlator's NaN-aware
/// averaging leaves them when only `dumps` dumps arrived: nsamples `dumps`,
/// and in one cell of [`NAN_CELL_PERIOD`] a NaN visibility with nsamples 0
/// (no valid dump).
fn partial_last(vis: &mut [Complex32], nsamples: &mut [f32], dumps: u32) {
    for (k, (v, n)) in vis.iter_mut().zip(nsamples.iter_mut()).enumerate() {
        if k % NAN_CELL_PERIOD == 0 {
            *v = Complex32::new(f32::NAN, f32::NAN);
            *n = 0.0;
        } else {
            *n = dumps as f32;
        }
    }
}
