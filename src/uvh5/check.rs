//! The per-file checks of every header value the conversion depends on:
//! finite and in range. Run by [`super::read_header`] and
//! [`super::Uvh5File::open`], so `validate`, `convert` and the daemon apply
//! exactly the same ones.

use super::{malformed, Header, PhaseCenter, Uvh5Error};

/// Site latitude, degrees.
pub const LATITUDE_DEG: (f64, f64) = (-90.0, 90.0);
/// Site longitude, degrees (east; either convention).
pub const LONGITUDE_DEG: (f64, f64) = (-180.0, 360.0);
/// Site altitude above the WGS84 ellipsoid, metres.
pub const ALTITUDE_M: (f64, f64) = (-1.0e3, 1.0e4);
/// Integration times, UTC Julian Date: 1960-01-01 (where UTC, and ERFA's
/// leap-second table, begin) to 2100-01-01.
pub const TIME_JD: (f64, f64) = (2_436_934.5, 2_488_069.5);
/// Integration time of a row, seconds: positive, at most a day.
pub const INTEGRATION_TIME_S: (f64, f64) = (0.0, 86_400.0);
/// Channel centres, Hz: positive, at most 1 THz.
pub const FREQ_HZ: (f64, f64) = (0.0, 1.0e12);
/// Largest |channel width|, Hz (zero is refused).
pub const MAX_CHANNEL_WIDTH_HZ: f64 = 1.0e12;
/// Largest |component| of a baseline or antenna offset, metres.
pub const MAX_LENGTH_M: f64 = 1.0e8;
/// Antenna diameters, metres.
pub const DIAMETER_M: (f64, f64) = (0.0, 1.0e3);
/// Largest antenna number (the ANTENNA table has one row per number).
pub const MAX_ANTENNA_NUMBER: i64 = 65_535;

fn outside(v: f64, (lo, hi): (f64, f64)) -> bool {
    !(v.is_finite() && v >= lo && v <= hi)
}

/// The first index where `bad` holds, with its value.
fn first_bad<T: Copy>(v: &[T], bad: impl Fn(T) -> bool) -> Option<(usize, T)> {
    v.iter().copied().enumerate().find(|&(_, x)| bad(x))
}

/// Every value of `h` the conversion uses, checked for finiteness and
/// range (the constants of this module); the first problem, naming the
/// file and the field.
pub(super) fn check_values(h: &Header) -> Result<(), Uvh5Error> {
    let fail = |what: String| Err(malformed(&h.path, what));
    for (name, v, range, unit) in [
        ("latitude", h.latitude_deg, LATITUDE_DEG, "deg"),
        ("longitude", h.longitude_deg, LONGITUDE_DEG, "deg"),
        ("altitude", h.altitude_m, ALTITUDE_M, "m"),
    ] {
        if outside(v, range) {
            return fail(format!(
                "Header/{name} is {v} {unit}, outside [{}, {}]",
                range.0, range.1
            ));
        }
    }
    if h.n_times == 0 || h.n_bls == 0 {
        return fail(format!("Ntimes = {}, Nbls = {}", h.n_times, h.n_bls));
    }
    if let Some((i, t)) = first_bad(&h.time_jd, |t| outside(t, TIME_JD)) {
        return fail(format!(
            "time_array[{i}] is JD {t}, outside [{}, {}] (1960-01-01 to 2100-01-01)",
            TIME_JD.0, TIME_JD.1
        ));
    }
    if let Some((i, t)) = first_bad(&h.integration_time_s, |t| {
        outside(t, INTEGRATION_TIME_S) || t == 0.0
    }) {
        return fail(format!(
            "integration_time[{i}] is {t} s: not in (0, {}]",
            INTEGRATION_TIME_S.1
        ));
    }
    if let Some((i, f)) = first_bad(&h.freq_hz, |f| outside(f, FREQ_HZ) || f == 0.0) {
        return fail(format!(
            "freq_array[{i}] is {f} Hz: not in (0, {}]",
            FREQ_HZ.1
        ));
    }
    let f = &h.freq_hz;
    if !(f.windows(2).all(|w| w[1] > w[0]) || f.windows(2).all(|w| w[1] < w[0])) {
        return Err(Uvh5Error::Unsupported {
            path: h.path.clone(),
            what: "channel order: freq_array is neither ascending nor descending".into(),
        });
    }
    if let Some((i, w)) = first_bad(&h.channel_width_hz, |w| {
        !w.is_finite() || w == 0.0 || w.abs() > MAX_CHANNEL_WIDTH_HZ
    }) {
        return fail(format!(
            "channel_width[{i}] is {w} Hz: not a non-zero width of at most {MAX_CHANNEL_WIDTH_HZ} Hz"
        ));
    }
    let long = |v: [f64; 3]| v.iter().any(|x| outside(*x, (-MAX_LENGTH_M, MAX_LENGTH_M)));
    if let Some((i, u)) = first_bad(&h.uvw_m, long) {
        return fail(format!(
            "uvw_array[{i}] is {u:?} m: not finite or longer than {MAX_LENGTH_M} m"
        ));
    }
    if let Some((i, p)) = first_bad(&h.antenna_positions_m, long) {
        return fail(format!(
            "antenna_positions[{i}] is {p:?} m: not finite or farther than {MAX_LENGTH_M} m"
        ));
    }
    check_antennas(h)?;
    if let Some((_, p)) = first_bad(&h.polarizations, |p| !matches!(p, -8..=-1 | 1..=4)) {
        return fail(format!(
            "polarization_array holds {p}, not an AIPS code (-8..-1, 1..4)"
        ));
    }
    if (1..h.polarizations.len()).any(|i| h.polarizations[..i].contains(&h.polarizations[i])) {
        return fail(format!(
            "polarization_array {:?} repeats a polarization",
            h.polarizations
        ));
    }
    let dec_range = (-std::f64::consts::FRAC_PI_2, std::f64::consts::FRAC_PI_2);
    match &h.phase_center {
        PhaseCenter::DsaMeridian { dec_rad } if outside(*dec_rad, dec_range) => fail(format!(
            "extra_keywords/phase_center_dec is {dec_rad} rad, outside [-pi/2, pi/2]"
        )),
        PhaseCenter::Sidereal {
            ra_rad, dec_rad, ..
        } if !ra_rad.is_finite() || outside(*dec_rad, dec_range) => fail(format!(
            "phase_center_catalog position (cat_lon {ra_rad}, cat_lat {dec_rad}) rad: \
             not finite, or the latitude outside [-pi/2, pi/2]"
        )),
        _ => Ok(()),
    }
}

/// Antenna numbers in range and unique, diameters one per antenna and in
/// range, and every row's antennas among the numbers.
fn check_antennas(h: &Header) -> Result<(), Uvh5Error> {
    let fail = |what: String| Err(malformed(&h.path, what));
    let numbers = &h.antenna_numbers;
    if let Some((_, n)) = first_bad(numbers, |n| !(0..=MAX_ANTENNA_NUMBER).contains(&n)) {
        return fail(format!(
            "antenna number {n} outside 0..={MAX_ANTENNA_NUMBER}"
        ));
    }
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    if sorted.windows(2).any(|w| w[0] == w[1]) {
        return fail("antenna_numbers repeats a number".into());
    }
    if let Some(d) = &h.antenna_diameters_m {
        if d.len() != numbers.len() {
            return fail(format!(
                "antenna_diameters has {} entries for {} antennas",
                d.len(),
                numbers.len()
            ));
        }
        if let Some((i, v)) = first_bad(d, |v| outside(v, DIAMETER_M)) {
            return fail(format!(
                "antenna_diameters[{i}] is {v} m, outside [{}, {}]",
                DIAMETER_M.0, DIAMETER_M.1
            ));
        }
    }
    for (name, rows) in [
        ("ant_1_array", &h.ant_1_array),
        ("ant_2_array", &h.ant_2_array),
    ] {
        if let Some((i, n)) = first_bad(rows, |n| sorted.binary_search(&n).is_err()) {
            return fail(format!(
                "{name}[{i}] is antenna {n}, which is not in antenna_numbers"
            ));
        }
    }
    Ok(())
}
