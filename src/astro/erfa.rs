//! Safe wrappers over the few ERFA routines the project calls.
//!
//! ERFA is the C library astropy wraps (Debian's liberfa, through `erfa-sys`).
//! Dates are two-part Julian Dates `(jd1, jd2)` as ERFA wants them.

use erfa_sys as sys;

/// A UTC date ERFA refuses (`eraUtctai`'s negative statuses): outside the
/// calendar ERFA handles, or not a calendar date at all.
#[derive(Debug, thiserror::Error)]
#[error("UTC Julian Date {jd}: {reason}")]
pub struct DateError {
    pub jd: f64,
    pub reason: &'static str,
}

/// Whether ERFA accepts the UTC date `utc`: `Ok(true)` when it is usable
/// but "dubious" (before 1960, where UTC is undefined, or beyond the leap
/// seconds ERFA knows), `Ok(false)` when fine. Every routine below that takes a
/// UTC date gives its status only to say this, so dates are checked here
/// once ([`super::Astrometer::check_time`]) before they reach them.
pub fn check_utc(utc: (f64, f64)) -> Result<bool, DateError> {
    let (mut tai1, mut tai2) = (0.0, 0.0);
    // SAFETY: scalar inputs, outputs we own.
    let status = unsafe { sys::eraUtctai(utc.0, utc.1, &mut tai1, &mut tai2) };
    let jd = utc.0 + utc.1;
    match status {
        0 => Ok(false),
        1 => Ok(true),
        -1 => Err(DateError {
            jd,
            reason: "unacceptable date (outside the calendar ERFA handles)",
        }),
        _ => Err(DateError {
            jd,
            reason: "not a valid calendar date",
        }),
    }
}

/// Observed place of an ICRS direction (`eraAtco13`), no refraction.
pub struct Observed {
    /// Observed hour angle, radians.
    pub ha: f64,
    /// Observed declination, radians.
    pub dec: f64,
    /// Observed right ascension (CIO-based), radians.
    pub ra_cio: f64,
    /// Equation of the origins (ERA - GST), radians.
    pub eo: f64,
}

/// Earth-orientation inputs of the `*13` routines.
#[derive(Clone, Copy, Debug)]
pub struct Eop {
    /// UT1 - UTC, seconds.
    pub dut1_s: f64,
    /// Polar motion, radians.
    pub xp_rad: f64,
    pub yp_rad: f64,
}

/// Geodetic site in ERFA's terms: east longitude, latitude (radians), height (m).
#[derive(Clone, Copy, Debug)]
pub struct Geodetic {
    pub elong: f64,
    pub phi: f64,
    pub hm: f64,
}

/// ICRS astrometric (rc, dc) to observed, for a stationary source.
pub fn atco13(rc: f64, dc: f64, utc: (f64, f64), eop: Eop, site: Geodetic) -> Observed {
    let (mut aob, mut zob, mut hob, mut dob, mut rob, mut eo) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    // SAFETY: pure function of its scalar inputs writing six doubles we own.
    // Its status only warns of dubious years (outside 1960..), never fails
    // for valid UTC dates.
    unsafe {
        sys::eraAtco13(
            rc, dc, 0.0, 0.0, 0.0, 0.0, utc.0, utc.1, eop.dut1_s, site.elong, site.phi, site.hm,
            eop.xp_rad, eop.yp_rad, 0.0, 0.0, 0.0, 0.0, &mut aob, &mut zob, &mut hob, &mut dob,
            &mut rob, &mut eo,
        );
    }
    Observed {
        ha: hob,
        dec: dob,
        ra_cio: rob,
        eo,
    }
}

/// Which pair of observed coordinates `atoc13` gets.
#[derive(Clone, Copy, Debug)]
pub enum ObservedKind {
    /// Hour angle and declination.
    HaDec,
    /// CIO-based right ascension and declination.
    RaDec,
}

/// Observed place to ICRS astrometric (`eraAtoc13`), no refraction.
pub fn atoc13(
    kind: ObservedKind,
    ob1: f64,
    ob2: f64,
    utc: (f64, f64),
    eop: Eop,
    site: Geodetic,
) -> (f64, f64) {
    let t: &[u8; 2] = match kind {
        ObservedKind::HaDec => b"H\0",
        ObservedKind::RaDec => b"R\0",
    };
    let (mut rc, mut dc) = (0.0, 0.0);
    // SAFETY: `t` is NUL-terminated; outputs are two doubles we own.
    unsafe {
        sys::eraAtoc13(
            t.as_ptr().cast(),
            ob1,
            ob2,
            utc.0,
            utc.1,
            eop.dut1_s,
            site.elong,
            site.phi,
            site.hm,
            eop.xp_rad,
            eop.yp_rad,
            0.0,
            0.0,
            0.0,
            0.0,
            &mut rc,
            &mut dc,
        );
    }
    (rc, dc)
}

/// UTC to TT, two-part Julian Dates.
pub fn utc_to_tt(utc: (f64, f64)) -> (f64, f64) {
    let (mut tai1, mut tai2, mut tt1, mut tt2) = (0.0, 0.0, 0.0, 0.0);
    // SAFETY: scalar inputs, outputs we own.
    unsafe {
        sys::eraUtctai(utc.0, utc.1, &mut tai1, &mut tai2);
        sys::eraTaitt(tai1, tai2, &mut tt1, &mut tt2);
    }
    (tt1, tt2)
}

/// UTC to UT1 given UT1 - UTC in seconds.
pub fn utc_to_ut1(utc: (f64, f64), dut1_s: f64) -> (f64, f64) {
    let (mut u1, mut u2) = (0.0, 0.0);
    // SAFETY: scalar inputs, outputs we own.
    unsafe {
        sys::eraUtcut1(utc.0, utc.1, dut1_s, &mut u1, &mut u2);
    }
    (u1, u2)
}

/// Greenwich apparent sidereal time, IAU 2006/2000A, radians.
pub fn gst06a(ut1: (f64, f64), tt: (f64, f64)) -> f64 {
    // SAFETY: pure function of scalars.
    unsafe { sys::eraGst06a(ut1.0, ut1.1, tt.0, tt.1) }
}

/// The TIO locator s', radians.
pub fn sp00(tt: (f64, f64)) -> f64 {
    // SAFETY: pure function of scalars.
    unsafe { sys::eraSp00(tt.0, tt.1) }
}

/// Equation of the origins at `tt` (IAU 2006/2000A), radians: the value
/// added to a CIO-based RA to make it equinox-based, with opposite sign.
pub fn equation_of_origins(tt: (f64, f64)) -> f64 {
    let mut rnpb = [[0.0f64; 3]; 3];
    let (mut x, mut y) = (0.0, 0.0);
    // SAFETY: fixed-size 3x3 matrix and scalars we own.
    unsafe {
        sys::eraPnm06a(tt.0, tt.1, rnpb.as_mut_ptr());
        sys::eraBpn2xy(rnpb.as_mut_ptr(), &mut x, &mut y);
        let s = sys::eraS06(tt.0, tt.1, x, y);
        sys::eraEors(rnpb.as_mut_ptr(), s)
    }
}

/// Position angle of B with respect to A (`eraPas`), radians.
pub fn position_angle(a_lon: f64, a_lat: f64, b_lon: f64, b_lat: f64) -> f64 {
    // SAFETY: pure function of scalars.
    unsafe { sys::eraPas(a_lon, a_lat, b_lon, b_lat) }
}

/// Geodetic (WGS84) to geocentric Cartesian, metres.
pub fn gd2gc(site: Geodetic) -> [f64; 3] {
    let mut xyz = [0.0f64; 3];
    // SAFETY: n = 1 (WGS84) is valid; output is three doubles we own.
    unsafe {
        sys::eraGd2gc(1, site.elong, site.phi, site.hm, xyz.as_mut_ptr());
    }
    xyz
}
