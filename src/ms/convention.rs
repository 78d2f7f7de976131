//! pyuvdata's conventions turned into the Measurement Set's, in one place,
//! exactly as pyuvdata's `write_ms` turns them.
//!
//! Rows arrive as UVH5 stores them: baseline and uvw = x(ant2) - x(ant1),
//! the visibility conjugated as pyuvdata defines it, AIPS polarization
//! codes in the file's order, nsamples per channel. In the MS:
//! - a row with ANTENNA1 > ANTENNA2 ("swapped", common in DSA-110 files) is
//!   turned around: antennas exchanged, visibility conjugated, uvw negated,
//!   and its cross-hands exchanged (XY <-> YX, RL <-> LR);
//! - then every row is conjugated and its uvw negated (the MS's sign);
//!   together: an unswapped row has DATA = conj(V) and UVW = -uvw, a
//!   swapped one DATA = V (cross-hands exchanged) and UVW = +uvw;
//! - correlations go in CASA's order, by Stokes code (XX, XY, YX, YY);
//! - WEIGHT is the median (numpy's) of nsamples over a row's window and
//!   SIGMA = WEIGHT^-1/2, 0 where the weight is 0.

use rayon::prelude::*;

use super::MsError;
use crate::compute::{PolMap, MAX_POLS};

/// CASA Stokes code and receptor pair of an AIPS polarization code.
pub(super) fn casa_pol(aips: i32) -> Result<(i32, [i32; 2]), MsError> {
    Ok(match aips {
        1 => (1, [0, 0]),
        2 => (2, [0, 1]),
        3 => (3, [1, 0]),
        4 => (4, [1, 1]),
        -1 => (5, [0, 0]),
        -3 => (6, [0, 1]),
        -4 => (7, [1, 0]),
        -2 => (8, [1, 1]),
        -5 => (9, [0, 0]),
        -7 => (10, [0, 1]),
        -8 => (11, [1, 0]),
        -6 => (12, [1, 1]),
        other => return Err(MsError::Polarization(other)),
    })
}

/// Where each MS correlation comes from in a row of the file.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct PolOrder {
    /// Input index of each output (CASA-ordered) correlation.
    order: Vec<usize>,
    /// Input index holding the same correlation of the turned-around
    /// baseline (XY <-> YX; itself for parallel hands).
    partner: Vec<usize>,
}

impl PolOrder {
    /// The order for the file's AIPS codes `aips`.
    pub fn new(aips: &[i32]) -> Result<PolOrder, MsError> {
        let pols: Vec<(i32, [i32; 2])> = aips
            .iter()
            .map(|&p| casa_pol(p))
            .collect::<Result<_, _>>()?;
        let mut by_code: Vec<(i32, usize)> =
            pols.iter().enumerate().map(|(i, p)| (p.0, i)).collect();
        by_code.sort();
        let partner = pols
            .iter()
            .enumerate()
            .map(|(i, (_, r))| pols.iter().position(|q| q.1 == [r[1], r[0]]).unwrap_or(i))
            .collect();
        Ok(PolOrder {
            order: by_code.into_iter().map(|(_, i)| i).collect(),
            partner,
        })
    }

    /// Input indices of the MS correlations, CASA-ordered.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// Input index of MS correlation `p` of a row, `swapped` or not.
    pub fn source(&self, p: usize, swapped: bool) -> usize {
        let i = self.order[p];
        if swapped {
            self.partner[i]
        } else {
            i
        }
    }
}

/// The row is stored with ANTENNA1 > ANTENNA2 and must be turned around.
pub fn swapped(ant1: u32, ant2: u32) -> bool {
    ant1 > ant2
}

/// ANTENNA1 <= ANTENNA2 of the MS row.
pub fn ms_antennas(ant1: u32, ant2: u32) -> (i32, i32) {
    (ant1.min(ant2) as i32, ant1.max(ant2) as i32)
}

/// The MS's UVW of a row whose pyuvdata uvw is `uvw_m`.
pub fn ms_uvw(uvw_m: [f64; 3], swapped: bool) -> [f64; 3] {
    let s = if swapped { 1.0 } else { -1.0 };
    uvw_m.map(|x| s * x)
}

/// The fused transform's maps of a file with AIPS codes `aips`
/// ([`crate::compute::Backend::transform`]): map 0 for a row stored with
/// ANTENNA1 <= ANTENNA2 (CASA order, conjugated), map 1 for a swapped row
/// (cross-hands exchanged, not conjugated); the rows that take map 1 are
/// those [`swapped`] names.
pub fn ms_maps(aips: &[i32]) -> Result<[PolMap; 2], MsError> {
    let order = PolOrder::new(aips)?;
    let map = |swapped: bool| PolMap {
        source: (0..aips.len())
            .map(|p| order.source(p, swapped) as u32)
            .collect(),
        conjugate: !swapped,
    };
    Ok([map(false), map(true)])
}

/// Put the flags or nsamples `cells` (`[row][chan][pol]`) in the MS's
/// correlation order, as the transform put the visibilities: row `r` by
/// `maps[alternate[r]]` (its sources; nothing to conjugate).
pub fn reorder_cells<T: Copy + Default + Send>(
    cells: &mut [T],
    maps: &[PolMap; 2],
    alternate: &[bool],
) {
    let n_pol = maps[0].source.len();
    if n_pol == 0 || n_pol > MAX_POLS || maps.iter().all(PolMap::keeps_order) {
        return;
    }
    let per_row = cells.len() / alternate.len().max(1);
    cells
        .par_chunks_mut(per_row.max(n_pol))
        .zip(alternate)
        .for_each(|(row, &alt)| {
            let map = &maps[usize::from(alt)];
            let mut cell = [T::default(); MAX_POLS];
            for chan in row.chunks_mut(n_pol) {
                cell[..n_pol].copy_from_slice(chan);
                for (v, &s) in chan.iter_mut().zip(&map.source) {
                    *v = cell[s as usize];
                }
            }
        });
}

/// SIGMA of a WEIGHT.
pub fn sigma(weight: f32) -> f32 {
    if weight > 0.0 {
        weight.powf(-0.5)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compute::cpu::CpuBackend;
    use crate::compute::{Backend, VisTransform};
    use num_complex::Complex32;

    const XX_YY: [i32; 2] = [-5, -6];
    /// pyuvdata's usual 4-pol order from a correlator: XX, YY, XY, YX.
    const LINEAR4: [i32; 4] = [-5, -6, -7, -8];

    /// One row of one channel through the conventions, its correlations
    /// through the fused transform with no phase change: (antennas, uvw,
    /// correlations).
    fn row(
        pols: &[i32],
        ant: (u32, u32),
        uvw: [f64; 3],
        vis: &[Complex32],
    ) -> ((i32, i32), [f64; 3], Vec<Complex32>) {
        let s = swapped(ant.0, ant.1);
        let maps = ms_maps(pols).unwrap();
        let mut data = vis.to_vec();
        let t = VisTransform {
            dw_m: &[0.0],
            freq_hz: &[1.4e9],
            alternate: &[s],
            maps: &maps,
        };
        CpuBackend.transform(&t, &mut data).unwrap();
        (ms_antennas(ant.0, ant.1), ms_uvw(uvw, s), data)
    }

    fn c(re: f32, im: f32) -> Complex32 {
        Complex32::new(re, im)
    }

    #[test]
    fn aips_codes_map_to_casa_stokes_codes() {
        assert_eq!(casa_pol(-5).unwrap(), (9, [0, 0]));
        assert_eq!(casa_pol(-6).unwrap(), (12, [1, 1]));
        assert_eq!(casa_pol(-7).unwrap(), (10, [0, 1]));
        assert_eq!(casa_pol(-1).unwrap(), (5, [0, 0]));
        assert!(casa_pol(-9).is_err());
        assert!(PolOrder::new(&[-5, 0]).is_err());
    }

    #[test]
    fn an_unswapped_two_pol_row_is_conjugated_with_uvw_negated() {
        let (ants, uvw, data) = row(
            &XX_YY,
            (3, 7),
            [1.0, -2.0, 0.5],
            &[c(1.0, 2.0), c(3.0, -4.0)],
        );
        assert_eq!(ants, (3, 7));
        assert_eq!(uvw, [-1.0, 2.0, -0.5]);
        assert_eq!(data, vec![c(1.0, -2.0), c(3.0, 4.0)]);
    }

    #[test]
    fn a_swapped_two_pol_row_keeps_its_values_and_uvw() {
        let (ants, uvw, data) = row(
            &XX_YY,
            (7, 3),
            [1.0, -2.0, 0.5],
            &[c(1.0, 2.0), c(3.0, -4.0)],
        );
        assert_eq!(ants, (3, 7));
        assert_eq!(uvw, [1.0, -2.0, 0.5]);
        assert_eq!(data, vec![c(1.0, 2.0), c(3.0, -4.0)]);
    }

    #[test]
    fn four_pols_go_in_casa_order() {
        // File order XX, YY, XY, YX; MS order XX, XY, YX, YY.
        let vis = [c(1.0, 1.0), c(4.0, 4.0), c(2.0, 2.0), c(3.0, 3.0)];
        let (_, _, data) = row(&LINEAR4, (0, 1), [0.0; 3], &vis);
        assert_eq!(
            data,
            vec![c(1.0, -1.0), c(2.0, -2.0), c(3.0, -3.0), c(4.0, -4.0)]
        );
    }

    #[test]
    fn a_swapped_four_pol_row_exchanges_its_cross_hands() {
        // Turned around, the baseline's XY is the stored YX (and vice versa).
        let vis = [c(1.0, 1.0), c(4.0, 4.0), c(2.0, 2.0), c(3.0, 3.0)];
        let (_, _, data) = row(&LINEAR4, (1, 0), [0.0; 3], &vis);
        assert_eq!(
            data,
            vec![c(1.0, 1.0), c(3.0, 3.0), c(2.0, 2.0), c(4.0, 4.0)]
        );
    }

    #[test]
    fn flags_and_nsamples_follow_their_visibilities() {
        // Two rows (unswapped, swapped) of one channel, file order XX, YY, XY, YX.
        let maps = ms_maps(&LINEAR4).unwrap();
        let mut nsamples = [1.0f32, 4.0, 2.0, 3.0, 1.0, 4.0, 2.0, 3.0];
        reorder_cells(&mut nsamples, &maps, &[false, true]);
        assert_eq!(nsamples, [1.0, 2.0, 3.0, 4.0, 1.0, 3.0, 2.0, 4.0]);
        // Two pols in CASA order stay as they are.
        let mut flags = [true, false, false, true];
        reorder_cells(&mut flags, &ms_maps(&XX_YY).unwrap(), &[false, true]);
        assert_eq!(flags, [true, false, false, true]);
    }

    #[test]
    fn an_autocorrelation_is_not_swapped() {
        assert!(!swapped(5, 5));
        let (ants, uvw, _) = row(&XX_YY, (5, 5), [0.0, 0.0, 0.0], &[c(1.0, 0.0), c(1.0, 0.0)]);
        assert_eq!(ants, (5, 5));
        assert_eq!(uvw, [-0.0, -0.0, -0.0]);
    }

    #[test]
    fn sigma_is_the_inverse_square_root_of_the_weight() {
        assert_eq!(sigma(4.0), 0.5);
        assert_eq!(sigma(96.0), 96f32.powf(-0.5));
        assert_eq!(sigma(0.0), 0.0);
    }
}
