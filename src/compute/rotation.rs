//! The rotation from Earth-fixed baselines to (u, v, w), in pyuvdata's
//! `calc_uvw` convention.

/// Row-major 3x3 matrix R with `uvw = R * (x2 - x1)` for ECEF baseline
/// offsets in metres, equal to pyuvdata's `calc_uvw(app_ra, app_dec,
/// frame_pa, lst_array, use_ant_pos=True, telescope_lon=lon_rad, ...)`.
///
/// pyuvdata rotates by the Greenwich-frame hour angle `gha = lst - app_ra -
/// lon` about z, then by `app_dec` about y, then by `frame_pa` about x, and
/// reads the result as (v, w, u): `R = P * Rx(pa) * Ry(dec) * Rz(gha)` with P
/// the row permutation [1, 2, 0]. All angles in radians.
pub fn uvw_rotation(
    app_ra_rad: f64,
    app_dec_rad: f64,
    frame_pa_rad: f64,
    lst_rad: f64,
    lon_rad: f64,
) -> [f64; 9] {
    let gha = lst_rad - app_ra_rad - lon_rad;
    let (sg, cg) = gha.sin_cos();
    let (sd, cd) = app_dec_rad.sin_cos();
    let (sp, cp) = frame_pa_rad.sin_cos();
    // Ry(dec) * Rz(gha)
    let a = [
        [cd * cg, -cd * sg, sd],
        [sg, cg, 0.0],
        [-sd * cg, sd * sg, cd],
    ];
    // Rx(pa) * a: rows 1 and 2 mix.
    let row0 = a[0];
    let row1 = [
        cp * a[1][0] - sp * a[2][0],
        cp * a[1][1] - sp * a[2][1],
        cp * a[1][2] - sp * a[2][2],
    ];
    let row2 = [
        sp * a[1][0] + cp * a[2][0],
        sp * a[1][1] + cp * a[2][1],
        sp * a[1][2] + cp * a[2][2],
    ];
    // Permute to (u, v, w) = (row1, row2, row0).
    [
        row1[0], row1[1], row1[2], row2[0], row2[1], row2[2], row0[0], row0[1], row0[2],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_orthonormal() {
        let r = uvw_rotation(1.1, 0.4, 0.02, 3.0, -2.06);
        for i in 0..3 {
            for j in 0..3 {
                let dot: f64 = (0..3).map(|k| r[3 * i + k] * r[3 * j + k]).sum();
                assert!((dot - if i == j { 1.0 } else { 0.0 }).abs() < 1e-15);
            }
        }
    }

    #[test]
    fn pole_direction_gives_w_along_earth_axis() {
        // Phase centre at the celestial pole: w is the z (polar) component.
        let r = uvw_rotation(0.3, std::f64::consts::FRAC_PI_2, 0.0, 1.0, 0.2);
        assert!((r[6]).abs() < 1e-15 && (r[7]).abs() < 1e-15 && (r[8] - 1.0).abs() < 1e-15);
    }
}
