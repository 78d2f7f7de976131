//! Astrometry against astropy and pyuvdata, with the same IERS data
//! (astropy's bundled IERS-A, from which the project's table is made).

mod common;

use std::f64::consts::{PI, TAU};

use common::{f64s, oracle};
use dsa110_convert::astro::SkyPos;
use dsa110_convert::astro::{Astrometer, Iers};
use dsa110_convert::compute::cpu::separation;
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
    let site = dsa110_convert::telescope::array_site();
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
    let (mut w_mer, mut w_lst, mut w_app, mut w_pa, mut w_hadec) = (0f64, 0f64, 0f64, 0f64, 0f64);
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
    }
    eprintln!(
        "worst vs astropy/pyuvdata: meridian {:.4}\", LST {:.5}\", app {:.4}\", frame PA {:.2e} rad, HA/Dec {:.4}\"",
        w_mer / ARCSEC, w_lst / ARCSEC, w_app / ARCSEC, w_pa, w_hadec / ARCSEC
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

/// A finals2000A file (fixed columns, Bulletin A only) with UT1 - UTC
/// `dut1_s` and polar motion 0 every day of `mjds`, flagged as predictions
/// (`P`) from `predicted_from` on.
fn finals2000a(
    path: &std::path::Path,
    mjds: std::ops::Range<u32>,
    dut1_s: f64,
    predicted_from: u32,
) {
    let mut text = String::new();
    for mjd in mjds {
        let mut line = vec![b' '; 80];
        let mut put =
            |col: usize, s: String| line[col - 1..col - 1 + s.len()].copy_from_slice(s.as_bytes());
        let flag = if mjd >= predicted_from { "P" } else { "I" };
        put(1, "250101".into());
        put(8, format!("{:8.2}", mjd as f64));
        put(17, flag.into());
        put(19, format!("{:9.6}", 0.0));
        put(38, format!("{:9.6}", 0.0));
        put(58, flag.into());
        put(59, format!("{:10.7}", dut1_s));
        text.push_str(std::str::from_utf8(&line).unwrap());
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

#[test]
fn an_iers_file_is_read_again_when_it_changes() {
    use dsa110_convert::astro::IersSource;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("finals2000A.all");
    finals2000a(&path, 60_000..60_100, 0.1, 60_050);
    let source = IersSource::file(&path).unwrap();
    let table = source.table().unwrap();
    assert_eq!(table.ut1_minus_utc_s(60_010.5), 0.1);
    assert_eq!(table.predicted_from_mjd(), Some(60_050.0));
    // A refreshed file (a longer one, other values) replaces it in place.
    std::thread::sleep(std::time::Duration::from_millis(20));
    finals2000a(&path, 60_000..60_200, -0.2, 60_150);
    let table = source.table().unwrap();
    assert_eq!(table.ut1_minus_utc_s(60_010.5), -0.2);
    assert_eq!(table.range_mjd(), (60_000.0, 60_199.0));
    assert_eq!(table.predicted_from_mjd(), Some(60_150.0));
    // The embedded table knows where its predictions start.
    assert!(Iers::embedded()
        .predicted_from_mjd()
        .is_some_and(|p| p > 60_000.0));
}

#[test]
fn convert_with_iers_moves_the_meridian_by_the_earth_rotation_of_the_ut1_change() {
    let dir = tempfile::tempdir().unwrap();
    let files = common::small_group(&dir.path().join("in"), common::small_config());
    // 2025-01-15 is MJD 60690: tables around it with UT1 - UTC 0 and 0.2 s.
    let (zero, shifted) = (dir.path().join("zero.all"), dir.path().join("shifted.all"));
    finals2000a(&zero, 60_600..60_800, 0.0, 60_650);
    finals2000a(&shifted, 60_600..60_800, 0.2, 60_650);
    let ra_of = |iers: &std::path::Path, out: &str| -> (Vec<f64>, String) {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"convert",
            &"--backend",
            &"cpu",
            &"--json",
            &"--iers",
            &iers,
            &"-o",
        ];
        let out = dir.path().join(out);
        args.push(&out);
        for f in &files {
            args.push(f);
        }
        let (code, stdout, err) = common::run_cli(&args);
        assert_eq!(code, 0, "{err}");
        let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let ra = v[0]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["position"]["ra_rad"].as_f64().unwrap())
            .collect();
        (ra, err)
    };
    let (a, warned) = ra_of(&zero, "a");
    let (b, _) = ra_of(&shifted, "b");
    // Predictions are used, and said so with the table's age.
    assert!(warned.contains("IERS predictions"), "{warned}");
    assert!(warned.contains("days ago"), "{warned}");
    // 0.2 s later in UT1: the meridian is 0.2 s x 15.041 "/s further east.
    let expected = 0.2 * 15.0 * 1.002_737_909 * ARCSEC;
    for (ra_a, ra_b) in a.iter().zip(&b) {
        let d = (ra_b - ra_a).rem_euclid(TAU);
        assert!(
            (d - expected).abs() < 0.005 * ARCSEC,
            "{} arcsec",
            d / ARCSEC
        );
    }
    // A file that is not a finals2000A table is refused up front.
    let bad = dir.path().join("bad.all");
    std::fs::write(&bad, "no\n").unwrap();
    let (code, _, err) = common::run_cli(&[
        &"convert",
        &"--iers",
        &bad,
        &"-o",
        &dir.path().join("c"),
        &files[0],
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.all"), "{err}");
}

#[test]
fn dates_erfa_cannot_convert_are_typed_errors() {
    let astro = Astrometer::new(dsa110_convert::telescope::array_site(), Iers::embedded());
    assert!(astro.check_time(2_460_690.5).is_ok());
    // Before the calendar ERFA handles: eraUtctai refuses.
    let e = astro.check_time(-1.0e9).unwrap_err().to_string();
    assert!(
        e.contains("-1000000000") && e.contains("unacceptable date"),
        "{e}"
    );
    assert!(astro.check_time(f64::NAN).is_err());
    // Before 1960 or far in the future: dubious, a warning, not an error
    // (the header checks refuse those times anyway: uvh5::check::TIME_JD).
    assert!(astro.check_time(2_430_000.5).is_ok());
    assert!(astro.check_time(2_488_000.5).is_ok());
}
