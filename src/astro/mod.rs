//! Time and coordinates on ERFA: sidereal time at the array, the meridian
//! direction of each integration in ICRS, and pyuvdata's apparent
//! coordinates and frame position angle.
//!
//! All times are UTC Julian Dates (`time_jd`), split internally into
//! `(2400000.5, MJD)` for ERFA. UT1 and polar motion come from an [`Iers`]
//! table.

mod erfa;
mod iers;

pub use erfa::DateError;
pub use iers::{Iers, IersError, IersSource};

use self::erfa::{Eop, Geodetic, ObservedKind};

const MJD_ZERO: f64 = 2_400_000.5;

/// A UTC Julian Date as the Measurement Set's TIME: MJD seconds.
pub fn jd_to_mjd_s(time_jd: f64) -> f64 {
    (time_jd - MJD_ZERO) * 86_400.0
}

/// A Measurement Set's TIME (MJD seconds) as a Julian Date.
pub fn mjd_s_to_jd(time_mjd_s: f64) -> f64 {
    time_mjd_s / 86_400.0 + MJD_ZERO
}

/// A direction on the sky in radians (right ascension or longitude-like
/// angle, declination or latitude-like angle).
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable, serde::Serialize)]
#[repr(C)]
pub struct SkyPos {
    pub ra_rad: f64,
    pub dec_rad: f64,
}

/// A place on Earth: geodetic WGS84 latitude and east longitude in
/// radians, height above the ellipsoid in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Site {
    pub lat_rad: f64,
    pub lon_rad: f64,
    pub height_m: f64,
}

impl Site {
    pub fn from_degrees(lat_deg: f64, lon_deg: f64, height_m: f64) -> Site {
        Site {
            lat_rad: lat_deg.to_radians(),
            lon_rad: lon_deg.to_radians(),
            height_m,
        }
    }

    /// Earth-centred Earth-fixed (ITRF) position, metres.
    pub fn ecef_m(&self) -> [f64; 3] {
        erfa::gd2gc(self.geodetic())
    }

    fn geodetic(&self) -> Geodetic {
        Geodetic {
            elong: self.lon_rad,
            phi: self.lat_rad,
            hm: self.height_m,
        }
    }
}

/// Astrometry at one site with one Earth-orientation table.
#[derive(Clone, Debug)]
pub struct Astrometer {
    pub site: Site,
    iers: Iers,
}

fn wrap_2pi(a: f64) -> f64 {
    a.rem_euclid(std::f64::consts::TAU)
}

impl Astrometer {
    pub fn new(site: Site, iers: Iers) -> Astrometer {
        Astrometer { site, iers }
    }

    fn utc(time_jd: f64) -> (f64, f64) {
        (MJD_ZERO, time_jd - MJD_ZERO)
    }

    /// Refuse a time ERFA cannot convert (the other methods take checked
    /// times); a dubious one (past ERFA's leap-second table) is a warning.
    pub fn check_time(&self, time_jd: f64) -> Result<(), DateError> {
        if !time_jd.is_finite() {
            return Err(DateError {
                jd: time_jd,
                reason: "not a finite number",
            });
        }
        if erfa::check_utc(Self::utc(time_jd))? {
            tracing::warn!(
                "UTC Julian Date {time_jd}: dubious for ERFA (before 1960, or past the leap seconds it knows)"
            );
        }
        Ok(())
    }

    fn eop(&self, time_jd: f64) -> Eop {
        let mjd = time_jd - MJD_ZERO;
        let (xp_rad, yp_rad) = self.iers.polar_motion_rad(mjd);
        Eop {
            dut1_s: self.iers.ut1_minus_utc_s(mjd),
            xp_rad,
            yp_rad,
        }
    }

    /// Observed place of an ICRS position (`eraAtco13`, no refraction).
    fn observed(&self, time_jd: f64, pos: SkyPos) -> erfa::Observed {
        erfa::atco13(
            pos.ra_rad,
            pos.dec_rad,
            Self::utc(time_jd),
            self.eop(time_jd),
            self.site.geodetic(),
        )
    }

    /// Local apparent sidereal time, radians in [0, 2 pi): GAST (IAU
    /// 2006/2000A) + s' + east longitude, as pyuvdata's `get_lst_for_time`.
    pub fn lst_rad(&self, time_jd: f64) -> f64 {
        let utc = Self::utc(time_jd);
        let tt = erfa::utc_to_tt(utc);
        let ut1 = erfa::utc_to_ut1(utc, self.eop(time_jd).dut1_s);
        wrap_2pi(erfa::gst06a(ut1, tt) + erfa::sp00(tt) + self.site.lon_rad)
    }

    /// The meridian (hour angle 0) at declination `dec_rad` in the
    /// topocentric observed HA/Dec frame (no refraction), converted
    /// rigorously to ICRS: precession-nutation, aberration, light
    /// deflection, polar motion and UT1 (`eraAtoc13`). This is astropy's
    /// `HADec(obstime, location)` -> `ICRS`.
    pub fn meridian_icrs(&self, time_jd: f64, dec_rad: f64) -> SkyPos {
        let (ra, dec) = erfa::atoc13(
            ObservedKind::HaDec,
            0.0,
            dec_rad,
            Self::utc(time_jd),
            self.eop(time_jd),
            self.site.geodetic(),
        );
        SkyPos {
            ra_rad: wrap_2pi(ra),
            dec_rad: dec,
        }
    }

    /// pyuvdata's apparent coordinates of an ICRS position: the observed
    /// (topocentric, no refraction) declination and the equinox-based
    /// observed right ascension (`eraAtco13`, RA minus the equation of the
    /// origins), as `transform_icrs_to_app` with the erfa library.
    pub fn icrs_to_app(&self, time_jd: f64, pos: SkyPos) -> SkyPos {
        let ob = self.observed(time_jd, pos);
        SkyPos {
            ra_rad: wrap_2pi(ob.ra_cio - ob.eo),
            dec_rad: ob.dec,
        }
    }

    /// Inverse of [`Astrometer::icrs_to_app`] (`transform_app_to_icrs`).
    pub fn app_to_icrs(&self, time_jd: f64, app: SkyPos) -> SkyPos {
        let utc = Self::utc(time_jd);
        let eo = erfa::equation_of_origins(erfa::utc_to_tt(utc));
        let (ra, dec) = erfa::atoc13(
            ObservedKind::RaDec,
            app.ra_rad + eo,
            app.dec_rad,
            utc,
            self.eop(time_jd),
            self.site.geodetic(),
        );
        SkyPos {
            ra_rad: wrap_2pi(ra),
            dec_rad: dec,
        }
    }

    /// Position angle between ICRS north and apparent north at the phase
    /// centre `pos` (ICRS), radians, as pyuvdata's `calc_frame_pos_angle`
    /// (offset of pi/360 along apparent declination, both ends taken back
    /// to ICRS, `-eraPas`).
    pub fn frame_pos_angle(&self, time_jd: f64, pos: SkyPos) -> f64 {
        const OFFSET: f64 = std::f64::consts::PI / 360.0;
        let app = self.icrs_to_app(time_jd, pos);
        let end = |dec: f64| {
            let (ra, dec) = if dec > std::f64::consts::FRAC_PI_2 {
                (
                    wrap_2pi(app.ra_rad + std::f64::consts::PI),
                    std::f64::consts::PI - dec,
                )
            } else if dec < -std::f64::consts::FRAC_PI_2 {
                (
                    wrap_2pi(app.ra_rad + std::f64::consts::PI),
                    -std::f64::consts::PI - dec,
                )
            } else {
                (app.ra_rad, dec)
            };
            self.app_to_icrs(
                time_jd,
                SkyPos {
                    ra_rad: ra,
                    dec_rad: dec,
                },
            )
        };
        let up = end(app.dec_rad + OFFSET);
        let dn = end(app.dec_rad - OFFSET);
        -erfa::position_angle(dn.ra_rad, dn.dec_rad, up.ra_rad, up.dec_rad)
    }

    /// Observed (topocentric, no refraction) hour angle and declination of
    /// an ICRS position, radians: astropy's `HADec` frame.
    pub fn icrs_to_hadec(&self, time_jd: f64, pos: SkyPos) -> (f64, f64) {
        let ob = self.observed(time_jd, pos);
        (ob.ha, ob.dec)
    }
}
