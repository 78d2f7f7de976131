//! The CPU backend: rayon over rows, everything in f64. The reference the
//! GPU backend is tested against.

use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

use super::{
    Backend, ComputeError, Match, MatchRequest, UvwRequest, VisTransform, MAX_POLS,
    SPEED_OF_LIGHT_M_S,
};
use crate::astro::SkyPos;

/// Channels between exact phasors in the phase-correction recurrence.
const RECURRENCE_SPAN: usize = 32;

/// The channel spacing, Hz, when every channel lies within 1 mHz of an
/// evenly spaced grid (a phase error below 1e-7 rad for |dw| <= 5 km).
pub(super) fn uniform_step_hz(freq_hz: &[f64]) -> Option<f64> {
    let n = freq_hz.len();
    if n < 2 {
        return None;
    }
    let step = (freq_hz[n - 1] - freq_hz[0]) / (n - 1) as f64;
    freq_hz
        .iter()
        .enumerate()
        .all(|(c, &f)| (f - (freq_hz[0] + c as f64 * step)).abs() < 1e-3)
        .then_some(step)
}

/// Rayon-parallel f64 implementation of [`Backend`].
#[derive(Debug, Default)]
pub struct CpuBackend;

/// Angular separation by the Vincenty formula: accurate at every
/// separation, unlike the haversine (antipodes) or the cosine rule (small
/// angles). Radians.
pub fn separation(a: SkyPos, b: SkyPos) -> f64 {
    let (sd1, cd1) = a.dec_rad.sin_cos();
    let (sd2, cd2) = b.dec_rad.sin_cos();
    let (sdr, cdr) = (b.ra_rad - a.ra_rad).sin_cos();
    let num1 = cd2 * sdr;
    let num2 = cd1 * sd2 - sd1 * cd2 * cdr;
    let den = sd1 * sd2 + cd1 * cd2 * cdr;
    num1.hypot(num2).atan2(den)
}

/// Check the shared preconditions of a UVW request.
pub(super) fn check_uvw(req: &UvwRequest<'_>, out_len: usize) -> Result<(), ComputeError> {
    let n = req.ant1.len();
    if req.ant2.len() != n || req.rotation_index.len() != n || out_len != n {
        return Err(ComputeError::Input(format!(
            "uvw: {} rows for ant1 but {} ant2, {} rotation indices, {} outputs",
            n,
            req.ant2.len(),
            req.rotation_index.len(),
            out_len
        )));
    }
    let n_ant = req.antenna_xyz_m.len() as u32;
    if let Some(bad) = req.ant1.iter().chain(req.ant2).find(|&&a| a >= n_ant) {
        return Err(ComputeError::Input(format!(
            "uvw: antenna index {bad} >= {n_ant} antennas"
        )));
    }
    let n_rot = req.rotations.len() as u32;
    if let Some(bad) = req.rotation_index.iter().find(|&&r| r >= n_rot) {
        return Err(ComputeError::Input(format!(
            "uvw: rotation index {bad} >= {n_rot} rotations"
        )));
    }
    Ok(())
}

/// Check the shared preconditions of a transform.
pub(super) fn check_transform(t: &VisTransform<'_>, vis_len: usize) -> Result<(), ComputeError> {
    let n_pol = t.n_pol();
    if vis_len != t.dw_m.len() * t.freq_hz.len() * n_pol {
        return Err(ComputeError::Input(format!(
            "transform: {} visibilities for {} rows x {} channels x {} pols",
            vis_len,
            t.dw_m.len(),
            t.freq_hz.len(),
            n_pol
        )));
    }
    let maps_ok = t
        .maps
        .iter()
        .all(|m| m.source.len() == n_pol && m.source.iter().all(|&s| (s as usize) < n_pol));
    if n_pol == 0 || n_pol > MAX_POLS || !maps_ok {
        return Err(ComputeError::Input(format!(
            "transform: correlation maps {:?} and {:?} (1 to {MAX_POLS} sources below {n_pol} each)",
            t.maps[0].source, t.maps[1].source
        )));
    }
    if !t.alternate.is_empty() && t.alternate.len() != t.dw_m.len() {
        return Err(ComputeError::Input(format!(
            "transform: {} rows but {} row maps",
            t.dw_m.len(),
            t.alternate.len()
        )));
    }
    Ok(())
}

/// Check the shared preconditions of element-wise separations.
pub(super) fn check_separations(
    a: &[SkyPos],
    b: &[SkyPos],
    out: &[f64],
) -> Result<(), ComputeError> {
    if a.len() != b.len() || a.len() != out.len() {
        return Err(ComputeError::Input(format!(
            "separations: {} and {} positions, {} outputs",
            a.len(),
            b.len(),
            out.len()
        )));
    }
    Ok(())
}

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn description(&self) -> String {
        format!("rayon, {} threads, f64", rayon::current_num_threads())
    }

    fn uvw(&self, req: &UvwRequest<'_>, out: &mut [[f64; 3]]) -> Result<(), ComputeError> {
        check_uvw(req, out.len())?;
        out.par_iter_mut().enumerate().for_each(|(i, uvw)| {
            let (p1, p2) = (
                req.antenna_xyz_m[req.ant1[i] as usize],
                req.antenna_xyz_m[req.ant2[i] as usize],
            );
            let b = [p2[0] - p1[0], p2[1] - p1[1], p2[2] - p1[2]];
            let r = &req.rotations[req.rotation_index[i] as usize];
            for (k, c) in uvw.iter_mut().enumerate() {
                *c = r[3 * k] * b[0] + r[3 * k + 1] * b[1] + r[3 * k + 2] * b[2];
            }
        });
        Ok(())
    }

    fn transform(&self, t: &VisTransform<'_>, vis: &mut [Complex32]) -> Result<(), ComputeError> {
        check_transform(t, vis.len())?;
        let (n_chan, n_pol) = (t.freq_hz.len(), t.n_pol());
        if n_chan == 0 {
            return Ok(());
        }
        let step_hz = uniform_step_hz(t.freq_hz);
        vis.par_chunks_mut(n_chan * n_pol)
            .zip(t.dw_m)
            .enumerate()
            .for_each(|(r, (row, &dw))| {
                let map = t.map(r);
                if dw == 0.0 && map.is_identity() {
                    return;
                }
                let exact = |f: f64| {
                    // Turns reduced in f64 before the trig.
                    let turns = (dw * f / SPEED_OF_LIGHT_M_S).fract();
                    let (s, c) = (-std::f64::consts::TAU * turns).sin_cos();
                    Complex64::new(c, s)
                };
                match n_pol {
                    1 => turn_row::<1>(row, t.freq_hz, step_hz, exact, map),
                    2 => turn_row::<2>(row, t.freq_hz, step_hz, exact, map),
                    _ => turn_row::<MAX_POLS>(row, t.freq_hz, step_hz, exact, map),
                }
            });
        Ok(())
    }

    fn separations(&self, a: &[SkyPos], b: &[SkyPos], out: &mut [f64]) -> Result<(), ComputeError> {
        check_separations(a, b, out)?;
        out.par_iter_mut()
            .zip(a.par_iter().zip(b))
            .for_each(|(o, (&p, &q))| *o = separation(p, q));
        Ok(())
    }

    fn match_within(&self, req: &MatchRequest<'_>) -> Result<Vec<Match>, ComputeError> {
        if req.matches_nothing() {
            return Ok(Vec::new());
        }
        let (points, targets, radius_rad) = (req.points, req.targets, req.radius_rad);
        // Targets sorted by declination: a point only scans the band
        // |dec - dec_p| <= radius, found by binary search.
        let mut order: Vec<u32> = (0..targets.len() as u32).collect();
        order.sort_by(|&i, &j| {
            targets[i as usize]
                .dec_rad
                .total_cmp(&targets[j as usize].dec_rad)
        });
        let decs: Vec<f64> = order.iter().map(|&i| targets[i as usize].dec_rad).collect();
        let mut out: Vec<Match> = points
            .par_iter()
            .enumerate()
            .flat_map_iter(|(p, &pos)| {
                let lo = decs.partition_point(|&d| d < pos.dec_rad - radius_rad);
                let hi = decs
                    .partition_point(|&d| d <= pos.dec_rad + radius_rad)
                    .max(lo);
                let mut found: Vec<Match> = order[lo..hi]
                    .iter()
                    .filter_map(|&t| {
                        let sep = separation(pos, targets[t as usize]);
                        (sep < radius_rad).then_some(Match {
                            point: p as u32,
                            target: t,
                            separation_rad: sep,
                        })
                    })
                    .collect();
                found.sort_by_key(|m| m.target);
                found
            })
            .collect();
        out.sort_by_key(|m| (m.point, m.target));
        Ok(out)
    }
}

/// One row of the transform, `N` correlations per channel (`MAX_POLS`
/// also serves 3): each channel's phasor times its cells, then the map's
/// reordering and conjugation.
///
/// Evenly spaced channels (`step_hz`): the phasor of channel `a + j` is
/// the exact phasor of anchor channel `a` (every [`RECURRENCE_SPAN`]th)
/// times `step^j`, the powers of the one-channel step made once per row by
/// repeated multiplication (drift below 1e-14 rad). Each channel's phasor
/// is then one complex multiply of its own, not a chain through the row,
/// so that consecutive channels do not wait on one another.
#[inline(always)]
fn turn_row<const N: usize>(
    row: &mut [Complex32],
    freq_hz: &[f64],
    step_hz: Option<f64>,
    exact: impl Fn(f64) -> Complex64,
    map: &super::PolMap,
) {
    let n_pol = map.source.len();
    let mut source = [0usize; N];
    for (s, &m) in source.iter_mut().zip(&map.source) {
        *s = m as usize;
    }
    let apply = |chan: &mut [Complex32], rot: Complex64| {
        let r = Complex32::new(rot.re as f32, rot.im as f32);
        let mut cell = [Complex32::new(0.0, 0.0); N];
        for (out, &s) in cell.iter_mut().zip(&source[..n_pol]) {
            *out = chan[s] * r;
        }
        for (v, x) in chan.iter_mut().zip(&cell) {
            *v = if map.conjugate { x.conj() } else { *x };
        }
    };
    let Some(step_hz) = step_hz else {
        for (chan, &f) in row.chunks_exact_mut(n_pol).zip(freq_hz) {
            apply(chan, exact(f));
        }
        return;
    };
    let step = exact(step_hz);
    let mut powers = [Complex64::new(1.0, 0.0); RECURRENCE_SPAN];
    for j in 1..RECURRENCE_SPAN {
        powers[j] = powers[j - 1] * step;
    }
    let spans = row
        .chunks_mut(RECURRENCE_SPAN * n_pol)
        .zip(freq_hz.chunks(RECURRENCE_SPAN));
    for (span, f) in spans {
        let anchor = exact(f[0]);
        for (chan, power) in span.chunks_exact_mut(n_pol).zip(&powers) {
            apply(chan, anchor * power);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separation_matches_analytic_cases() {
        let p = |ra: f64, dec: f64| SkyPos {
            ra_rad: ra.to_radians(),
            dec_rad: dec.to_radians(),
        };
        assert!((separation(p(0.0, 0.0), p(90.0, 0.0)).to_degrees() - 90.0).abs() < 1e-12);
        assert!((separation(p(10.0, 89.0), p(190.0, 89.0)).to_degrees() - 2.0).abs() < 1e-12);
        assert!((separation(p(0.0, 0.0), p(180.0, 0.0)).to_degrees() - 180.0).abs() < 1e-12);
        // One milliarcsecond at the equator.
        let mas = (1e-3 / 3600.0_f64).to_radians();
        assert!(
            (separation(
                p(0.0, 0.0),
                SkyPos {
                    ra_rad: mas,
                    dec_rad: 0.0
                }
            ) - mas)
                .abs()
                < 1e-20
        );
    }

    #[test]
    fn phase_correction_rotates_by_minus_two_pi_dw_over_lambda() {
        // dw = c / f / 4: a quarter turn, V -> V * exp(-i pi/2) = -i V.
        let f = 1.4e9;
        let mut vis = vec![Complex32::new(1.0, 0.0); 2];
        CpuBackend
            .phase_correct(&mut vis, 2, &[SPEED_OF_LIGHT_M_S / f / 4.0], &[f])
            .unwrap();
        for v in vis {
            assert!((v - Complex32::new(0.0, -1.0)).norm() < 1e-7, "{v}");
        }
    }

    #[test]
    fn a_radius_that_is_not_positive_matches_nothing() {
        // A negative frequency makes a negative beam radius: no match, no panic.
        let p = [SkyPos {
            ra_rad: 1.0,
            dec_rad: 0.5,
        }];
        for radius in [-0.1, 0.0, f64::NAN] {
            assert!(CpuBackend
                .match_within(&MatchRequest::new(&p, &p, radius))
                .unwrap()
                .is_empty());
        }
        assert_eq!(
            CpuBackend
                .match_within(&MatchRequest::new(&p, &p, 0.1))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn mismatched_lengths_are_errors() {
        let mut vis = vec![Complex32::new(1.0, 0.0); 3];
        assert!(CpuBackend
            .phase_correct(&mut vis, 2, &[1.0], &[1e9])
            .is_err());
        let req = UvwRequest {
            antenna_xyz_m: &[[0.0; 3]],
            ant1: &[0],
            ant2: &[1],
            rotation_index: &[0],
            rotations: &[[0.0; 9]],
        };
        let e = CpuBackend
            .uvw(&req, &mut [[0.0; 3]])
            .unwrap_err()
            .to_string();
        assert!(e.contains("antenna index 1"), "{e}");
    }
}
