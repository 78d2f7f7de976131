//! Astrometry against astropy and pyuvdata, with the same IERS data
//! (astropy's bundled IERS-A, from which the project's table is made).

mod common;

use std::f64::consts::{PI, TAU};

use common::{f64s, oracle};
use dsa110_convert::astro::{Astrometer, Iers, Site};
use dsa110_convert::compute::cpu::separation;
use dsa110_convert::compute::SkyPos;
use rand::{Rng, SeedableRng};

const ARCSEC: f64 = PI / 180.0 / 3600.0;

/// Dates spread over 2020-2030 (the IERS predictions end in late 2027;
/// beyond, both sides use the last value) and declinations -30..+90 deg.
fn cases() -> (Vec<(f64, f64)>, Vec<SkyPos>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let (jd0, jd1) = (2_458_849.5, 2_462_502.5); // 2020-01-01 .. 2030-01-01
    let mut cases: Vec<(f64, f64)> = (0..60)
        .map(|_| {
            (
                rng.random_range(jd0..jd1),
                rng.random_range(-30.0f64..90.0).to_radians(),
            )
        })
        .collect();
    cases.push((2_460_690.57, 90f64.to_radians()));
    cases.push((2_460_000.2, 89.999f64.to_radians()));
    cases.push((2_459_500.9, (-30f64).to_radians()));
    let src = cases
        .iter()
        .map(|_| SkyPos {
            ra_rad: rng.random_range(0.0..TAU),
            dec_rad: rng.random_range(-30.0f64..89.0).to_radians(),
        })
        .collect();
    (cases, src)
}

#[test]
fn astrometry_matches_astropy_and_pyuvdata() {
    let site = Site::dsa110();
    let astro = Astrometer::new(site, Iers::embedded());
    let (cases, src) = cases();
    let input = serde_json::json!({
        "lat": 37.2314, "lon": -118.2817, "alt": 1222.0,
        "cases": cases.iter().map(|c| [c.0, c.1]).collect::<Vec<_>>(),
        "src": src.iter().map(|p| [p.ra_rad, p.dec_rad]).collect::<Vec<_>>(),
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("astro.json");
    std::fs::write(&path, input.to_string()).unwrap();
    let want = oracle("astro_ref.py", &[&path]);
    let col = |k: &str| f64s(&want[k]);
    let (mra, mdec, lst) = (col("mer_ra"), col("mer_dec"), col("lst"));
    let (ara, adec, pa) = (col("app_ra"), col("app_dec"), col("frame_pa"));
    let (ha, hdec, dut1, pmx) = (col("ha"), col("hadec_dec"), col("dut1"), col("pmx"));
    let wrap = |d: f64| (d + PI).rem_euclid(TAU) - PI;
    let (mut w_mer, mut w_lst, mut w_app, mut w_pa, mut w_hadec, mut w_fast) =
        (0f64, 0f64, 0f64, 0f64, 0f64, f64::MAX);
    let mut w_fast_max = 0f64;
    for (i, &(jd, dec)) in cases.iter().enumerate() {
        let m = astro.meridian_icrs(jd, dec);
        w_mer = w_mer.max(separation(
            m,
            SkyPos {
                ra_rad: mra[i],
                dec_rad: mdec[i],
            },
        ));
        w_lst = w_lst.max(wrap(astro.lst_rad(jd) - lst[i]).abs());
        let app = astro.icrs_to_app(jd, src[i]);
        w_app = w_app.max(separation(
            app,
            SkyPos {
                ra_rad: ara[i],
                dec_rad: adec[i],
            },
        ));
        w_pa = w_pa.max((astro.frame_pos_angle(jd, src[i]) - pa[i]).abs());
        let (h, d) = astro.icrs_to_hadec(jd, src[i]);
        w_hadec = w_hadec.max(separation(
            SkyPos {
                ra_rad: -h,
                dec_rad: d,
            },
            SkyPos {
                ra_rad: -ha[i],
                dec_rad: hdec[i],
            },
        ));
        let mjd = jd - 2_400_000.5;
        assert!(
            (Iers::embedded().ut1_minus_utc_s(mjd) - dut1[i]).abs() < 1e-6,
            "UT1-UTC at JD {jd}"
        );
        assert!(
            (Iers::embedded().polar_motion_rad(mjd).0 - pmx[i]).abs() < 1e-3 * ARCSEC,
            "x_p at JD {jd}"
        );
        if dec < 80f64.to_radians() {
            let e = separation(astro.meridian_icrs_fast(jd, dec), m);
            w_fast = w_fast.min(e);
            w_fast_max = w_fast_max.max(e);
        }
    }
    eprintln!(
        "worst vs astropy/pyuvdata: meridian {:.4}\", LST {:.5}\", app {:.4}\", frame PA {:.2e} rad, HA/Dec {:.4}\"; fast path {:.0}..{:.0}\" off",
        w_mer / ARCSEC, w_lst / ARCSEC, w_app / ARCSEC, w_pa, w_hadec / ARCSEC, w_fast / ARCSEC, w_fast_max / ARCSEC
    );
    assert!(
        w_mer < 0.05 * ARCSEC,
        "meridian ICRS {} arcsec from astropy",
        w_mer / ARCSEC
    );
    assert!(
        w_lst < 0.01 * ARCSEC,
        "LST {} arcsec from pyuvdata",
        w_lst / ARCSEC
    );
    assert!(
        w_app < 0.01 * ARCSEC,
        "apparent {} arcsec from pyuvdata",
        w_app / ARCSEC
    );
    assert!(w_pa < 1e-6, "frame PA {w_pa} rad from pyuvdata");
    assert!(
        w_hadec < 0.05 * ARCSEC,
        "HA/Dec {} arcsec from astropy",
        w_hadec / ARCSEC
    );
    // The fast path is the approximate one: hundreds of arcsec off.
    assert!(
        w_fast > 100.0 * ARCSEC,
        "fast path only {} arcsec off?",
        w_fast / ARCSEC
    );
}

#[test]
fn a_finals2000a_file_loads_like_the_embedded_table() {
    let path = std::path::Path::new(&common::python())
        .parent()
        .unwrap()
        .join("../lib/python3.11/site-packages/astropy_iers_data/data/finals2000A.all");
    if !path.exists() {
        panic!(
            "astropy-iers-data's finals2000A.all not found at {}",
            path.display()
        );
    }
    let file = Iers::from_finals2000a(&path).unwrap();
    let embedded = Iers::embedded();
    for mjd in [58_849.0, 59_500.25, 60_690.7, 61_000.0] {
        assert!((file.ut1_minus_utc_s(mjd) - embedded.ut1_minus_utc_s(mjd)).abs() < 1e-7);
        let (a, b) = (file.polar_motion_rad(mjd), embedded.polar_motion_rad(mjd));
        assert!((a.0 - b.0).abs() < 1e-12 && (a.1 - b.1).abs() < 1e-12);
    }
    let bad = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bad.path(), "not an IERS table\n").unwrap();
    let e = Iers::from_finals2000a(bad.path()).unwrap_err().to_string();
    assert!(e.contains("no usable rows"), "{e}");
}
