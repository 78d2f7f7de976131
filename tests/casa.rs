//! CASA is an oracle, like pyuvdata: the tasks of the DSA-110 pipeline's
//! calibration and imaging (listobs, flagdata, setjy, bandpass, gaincal,
//! applycal, tclean, split, concat; casatasks 6.7 from PyPI, offline) run
//! on our Measurement Sets as `convert` writes them, in both spectral-window
//! layouts, with no repair step, and give the right numbers.
//!
//! The input is a noise-free simulated group of 3C286 (14.9 Jy, flat
//! spectrum, unpolarized, no primary beam), so calibration must find unit
//! gains and the image the source at its catalog position with its flux.

mod common;

use std::path::{Path, PathBuf};

use common::{casa, small_group};
use dsa110_convert::astro::{Astrometer, Iers};
use dsa110_convert::sim::{self, SimConfig};
use dsa110_convert::telescope;

/// Integrations per simulated group.
const N_TIMES: usize = 4;
/// Channels per subband.
const CHANS: usize = 4;
/// 3C286's simulated flux, Jy.
const FLUX_JY: f64 = 14.9;

/// A noise-free group of 3C286 starting `offset` integrations before its
/// transit, 96 antennas over both arms, written into `dir`.
fn calibrator_group(dir: &Path, offset: f64) -> Vec<PathBuf> {
    let cal = sim::default_calibrator();
    let astro = Astrometer::new(telescope::array_site(), Iers::embedded());
    let transit = sim::transit_time_jd(&astro, cal.position, 2_460_690.5);
    let dt_day = telescope::INTEGRATION_TIME_S / 86_400.0;
    let cfg = SimConfig {
        n_ants: 96,
        n_times: N_TIMES,
        chans_per_subband: CHANS,
        start_time_jd: Some(transit - offset * dt_day),
        ..SimConfig::default()
    };
    small_group(dir, cfg)
}

/// `convert` `files` into `out_dir` with `--spw-layout layout` and `extra`;
/// returns the MS.
fn convert(files: &[PathBuf], out_dir: &Path, layout: &str, extra: &[&str]) -> PathBuf {
    common::convert(files, out_dir, &[&["--spw-layout", layout], extra].concat())
}

/// A scratch directory for one CASA run.
fn work(dir: &Path, name: &str) -> PathBuf {
    let w = dir.join(name);
    std::fs::create_dir_all(&w).unwrap();
    w
}

fn f64_of(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn assert_no_casa_problems(result: &serde_json::Value) {
    let problems = result["casa_problems"].as_array().unwrap();
    assert!(problems.is_empty(), "CASA logged WARN/SEVERE: {result}");
}

/// The layouts and the spectral windows each should have.
const LAYOUTS: [(&str, usize); 2] = [("subbands", 16), ("merged", 1)];

#[test]
fn listobs_reads_both_layouts_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let files = calibrator_group(&dir.path().join("in"), 2.0);
    for (layout, spws) in LAYOUTS {
        let ms = convert(&files, &dir.path().join(layout), layout, &[]);
        let w = work(dir.path(), &format!("listobs-{layout}"));
        let r = casa("casa_listobs.py", &w, &[&ms, &w.join("listobs.txt")]);
        assert_no_casa_problems(&r);
        assert_eq!(r["spws"], spws, "{r}");
        assert_eq!(r["fields"], N_TIMES, "{r}");
        assert_eq!(r["scans"], N_TIMES, "{r}");
        assert_eq!(r["nrows"], 96 * 97 / 2 * N_TIMES * spws, "{r}");
    }
}

#[test]
fn flagdata_flags_a_subband_and_a_scan_by_the_expected_fractions() {
    let dir = tempfile::tempdir().unwrap();
    let files = calibrator_group(&dir.path().join("in"), 2.0);
    // The lowest subband (sb15) is spw 0 of the subband layout and the
    // first CHANS channels of the merged window.
    let lowest = format!("0:0~{}", CHANS - 1);
    for (layout, spw) in [("subbands", "0"), ("merged", lowest.as_str())] {
        let ms = convert(&files, &dir.path().join(layout), layout, &[]);
        let w = work(dir.path(), &format!("flagdata-{layout}"));
        let r = casa("casa_flagdata.py", &w, &[&ms, &spw, &"2"]);
        assert_no_casa_problems(&r);
        assert_eq!(f64_of(&r["before"]["total"]), 0.0, "{r}");
        // One subband of 16 and one scan (integration) of N_TIMES.
        let (s, t) = (1.0 / 16.0, 1.0 / N_TIMES as f64);
        let expected = s + t - s * t;
        let total = f64_of(&r["after"]["total"]);
        assert!(
            (total - expected).abs() < 1e-12,
            "{total} vs {expected}: {r}"
        );
        if layout == "subbands" {
            let per_spw = &r["after"]["spw"];
            assert_eq!(f64_of(&per_spw["0"]), 1.0, "{r}");
            assert!((f64_of(&per_spw["5"]) - t).abs() < 1e-12, "{r}");
        }
    }
}

#[test]
fn setjy_bandpass_gaincal_applycal_find_unit_gains() {
    let dir = tempfile::tempdir().unwrap();
    let files = calibrator_group(&dir.path().join("in"), 2.0);
    for (layout, _) in LAYOUTS {
        let ms = convert(
            &files,
            &dir.path().join(layout),
            layout,
            &["--phase-center", "3C286", "--imaging-columns"],
        );
        let w = work(dir.path(), &format!("cal-{layout}"));
        let r = casa(
            "casa_calibrate.py",
            &w,
            &[&ms, &w, &"3C286", &FLUX_JY.to_string(), &"10"],
        );
        // Solutions for every antenna with data (the tables also hold
        // flagged rows for the stations without), both polarizations:
        // per channel for B, per integration and window for G.
        let windows = if layout == "subbands" { 16 } else { 1 };
        let solutions = [
            ("B", 96 * 2 * 16 * CHANS),
            ("G", 96 * 2 * N_TIMES * windows),
        ];
        for (table, n) in solutions {
            let t = &r[table];
            assert_eq!(t["exists"], true, "{table}: {r}");
            assert_eq!(t["nan"], 0, "{table}: {r}");
            assert_eq!(t["unflagged"], n, "{table}: {r}");
            assert!(f64_of(&t["amp_min"]) > 1.0 - 1e-3, "{table}: {r}");
            assert!(f64_of(&t["amp_max"]) < 1.0 + 1e-3, "{table}: {r}");
            assert!(f64_of(&t["phase_min_deg"]) > -0.1, "{table}: {r}");
            assert!(f64_of(&t["phase_max_deg"]) < 0.1, "{table}: {r}");
        }
        let c = &r["corrected_over_model"];
        assert_eq!(c["nan"], 0, "{r}");
        assert!(f64_of(&c["amp_min"]) > 1.0 - 1e-3, "{r}");
        assert!(f64_of(&c["amp_max"]) < 1.0 + 1e-3, "{r}");
        assert!(f64_of(&c["phase_max_abs_deg"]) < 0.1, "{r}");
    }
}

#[test]
fn gaincal_without_a_model_solves_against_the_unit_model_column() {
    let dir = tempfile::tempdir().unwrap();
    let files = calibrator_group(&dir.path().join("in"), 2.0);
    let ms = convert(
        &files,
        &dir.path().join("out"),
        "subbands",
        &["--phase-center", "3C286", "--imaging-columns"],
    );
    let w = work(dir.path(), "gaincal");
    let r = casa(
        "casa_calibrate.py",
        &w,
        &[&ms, &w, &"3C286", &"none", &"10"],
    );
    let g = &r["G"];
    assert_eq!(g["exists"], true, "gaincal wrote no table: {r}");
    assert_eq!(g["nan"], 0, "{r}");
    assert_eq!(g["unflagged"], 96 * 2 * N_TIMES * 16, "{r}");
    // Against a 1 Jy model each antenna carries sqrt(14.9) of the source.
    let expected = FLUX_JY.sqrt();
    assert!(
        (f64_of(&g["amp_min"]) - expected).abs() < 1e-3 * expected,
        "{r}"
    );
    assert!(
        (f64_of(&g["amp_max"]) - expected).abs() < 1e-3 * expected,
        "{r}"
    );
}

#[test]
fn tclean_finds_the_calibrator_at_its_position_and_flux_in_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let files = calibrator_group(&dir.path().join("in"), 2.0);
    let cal = sim::default_calibrator();
    for (layout, _) in LAYOUTS {
        let ms = convert(
            &files,
            &dir.path().join(layout),
            layout,
            &["--phase-center", "3C286"],
        );
        let w = work(dir.path(), &format!("tclean-{layout}"));
        let r = casa(
            "casa_tclean.py",
            &w,
            &[
                &ms,
                &w,
                &cal.position.ra_rad.to_degrees().to_string(),
                &cal.position.dec_rad.to_degrees().to_string(),
                &"20",
                &"256",
            ],
        );
        assert!(f64_of(&r["separation_arcsec"]) < 0.1, "{layout}: {r}");
        let peak = f64_of(&r["peak_jy"]);
        assert!((peak - FLUX_JY).abs() < 0.01 * FLUX_JY, "{layout}: {r}");
    }
}

#[test]
fn split_and_concat_of_two_consecutive_groups_work() {
    let dir = tempfile::tempdir().unwrap();
    // The second group starts where the first ends.
    let a = calibrator_group(&dir.path().join("a"), 2.0);
    let b = calibrator_group(&dir.path().join("b"), 2.0 - N_TIMES as f64);
    for (layout, spws) in LAYOUTS {
        let ms_a = convert(&a, &dir.path().join(format!("{layout}-a")), layout, &[]);
        let ms_b = convert(&b, &dir.path().join(format!("{layout}-b")), layout, &[]);
        let w = work(dir.path(), &format!("split-{layout}"));
        let selection = if spws > 1 { "0~3" } else { "0:0~15" };
        let r = casa("casa_split_concat.py", &w, &[&ms_a, &ms_b, &w, &selection]);
        let rows_per_window = 96 * 97 / 2 * N_TIMES;
        assert_eq!(r["split"]["rows"], rows_per_window * spws.min(4), "{r}");
        assert_eq!(r["split"]["spws"], spws.min(4), "{r}");
        assert_eq!(r["concat"]["rows"], 2 * rows_per_window * spws, "{r}");
        assert_eq!(r["concat"]["times"], 2 * N_TIMES, "{r}");
        assert_eq!(r["concat"]["spws"], spws, "{r}");
        // Every table carries the type label CASA's own split gives it
        // ("Measurement Set" for the main table, none for subtables).
        for (table, types) in r["info_type"].as_object().unwrap() {
            assert_eq!(types[0], types[1], "{table}: {r}");
        }
        assert_eq!(r["info_type"]["MAIN"][0], "Measurement Set", "{r}");
    }
}

#[test]
fn casa_refuses_an_unknown_dsa_110_and_places_it_right_once_it_is_added() {
    let dir = tempfile::tempdir().unwrap();
    let files = calibrator_group(&dir.path().join("in"), 2.0);
    let ms = convert(&files, &dir.path().join("out"), "subbands", &[]);
    // CASA as installed does not know DSA_110 and says so, rather than
    // fall back to another array's position.
    let w = work(dir.path(), "unknown");
    let r = common::casa_with_measures("casa_observatory.py", &w, None, &[&ms]);
    assert_eq!(r["telescope"], "DSA_110", "{r}");
    assert_eq!(r["known"], false, "{r}");
    let error = r["antennaoffset_error"].as_str().unwrap_or_default();
    assert!(error.contains("not recognized"), "{r}");
    // With the README's recipe (scripts/casa_add_dsa110.py, which `make
    // test` ran), CASA places the array at the station table's reference
    // position and antenna 0 (station 1) within the array.
    let w = work(dir.path(), "added");
    let r = casa("casa_observatory.py", &w, &[&ms]);
    assert_eq!(r["known"], true, "{r}");
    let want = telescope::array_site().ecef_m();
    let got: Vec<f64> = r["itrf_m"].as_array().unwrap().iter().map(f64_of).collect();
    for k in 0..3 {
        assert!((got[k] - want[k]).abs() < 0.01, "{got:?} vs {want:?}");
    }
    let offset: Vec<f64> = r["antenna0_offset_m"]
        .as_array()
        .unwrap()
        .iter()
        .map(f64_of)
        .collect();
    assert!(offset.iter().all(|x| x.abs() < 2_000.0), "{r}");
}
