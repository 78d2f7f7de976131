//! The proof that phases, UVW signs and conjugation are right: WSClean
//! images a converted simulated group and finds the source at its true ICRS
//! position with its true flux (a conjugation or sign error puts it at the
//! mirror position, a phase error smears it).

mod common;

use common::{oracle, run_cli, small_group};
use dsa110_convert::astro::{Astrometer, Iers};
use dsa110_convert::sim::{self, SimConfig};
use dsa110_convert::telescope;

#[test]
fn wsclean_finds_the_source_at_its_icrs_position_and_flux_in_both_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let cal = sim::default_calibrator();
    let astro = Astrometer::new(telescope::array_site(), Iers::embedded());
    let transit = sim::transit_time_jd(&astro, cal.position, 2_460_690.5);
    let dt_day = telescope::INTEGRATION_TIME_S / 86_400.0;
    // The source transits at integration 3 of 12 and 0.05 deg south of the
    // pointing (a declination of date): it lies ~10 arcmin from the
    // midpoint phase centre, where a mirror error would show.
    let (_, dec_of_date) = astro.icrs_to_hadec(transit, cal.position);
    let cfg = SimConfig {
        n_ants: 96,
        n_times: 12,
        chans_per_subband: 4,
        pointing_dec_rad: dec_of_date + 0.05f64.to_radians(),
        start_time_jd: Some(transit - 3.0 * dt_day),
        ..SimConfig::default()
    };
    let files = small_group(&dir.path().join("in"), cfg);
    let mut found = Vec::new();
    for layout in ["subbands", "merged"] {
        let out = dir.path().join(layout);
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"-q",
            &"convert",
            &"--backend",
            &"cpu",
            &"--phase-center",
            &"midpoint",
            &"--spw-layout",
            &layout,
            &"-o",
            &out,
        ];
        for f in &files {
            args.push(f);
        }
        let (code, _, err) = run_cli(&args);
        assert_eq!(code, 0, "{err}");
        let ms = std::fs::read_dir(&out)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let work = dir.path().join(format!("img-{layout}"));
        std::fs::create_dir_all(&work).unwrap();
        let seen = oracle(
            "image_peak.py",
            &[
                &ms,
                &work,
                &cal.position.ra_rad.to_degrees().to_string(),
                &cal.position.dec_rad.to_degrees().to_string(),
            ],
        );
        eprintln!("WSClean found in the {layout} MS: {seen}");
        let sep = seen["separation_arcsec"].as_f64().unwrap();
        let peak = seen["peak_jy"].as_f64().unwrap();
        assert!(
            sep < 1.0,
            "{layout}: source found {sep:.2} arcsec from its position: {seen}"
        );
        assert!(
            (peak - cal.flux_jy).abs() < 0.02 * cal.flux_jy,
            "{layout}: peak {peak} Jy, simulated {} Jy: {seen}",
            cal.flux_jy
        );
        found.push(seen);
    }
    // All 16 windows of the subband layout are imaged: the same image as
    // the single window gives.
    assert_eq!(found[0]["pixel"], found[1]["pixel"], "{found:?}");
    let (a, b) = (
        found[0]["peak_jy"].as_f64().unwrap(),
        found[1]["peak_jy"].as_f64().unwrap(),
    );
    assert!((a - b).abs() < 1e-4 * b, "{found:?}");
}

#[test]
fn wsclean_finds_the_source_in_the_ms_the_gpu_backend_wrote() {
    use dsa110_convert::compute::gpu::{AdapterPolicy, GpuBackend};
    if let Err(e) = GpuBackend::new(AdapterPolicy::Any) {
        assert!(
            !common::in_ci(),
            "CI needs a GPU adapter (Mesa lavapipe): {e}"
        );
        eprintln!("\n*** SKIPPING GPU TEST: {e} ***\n");
        return;
    }
    // The set-up of the CPU test above, midpoint phase centre (the source
    // ~10 arcmin off it), one layout, phases corrected on the GPU.
    let dir = tempfile::tempdir().unwrap();
    let cal = sim::default_calibrator();
    let astro = Astrometer::new(telescope::array_site(), Iers::embedded());
    let transit = sim::transit_time_jd(&astro, cal.position, 2_460_690.5);
    let dt_day = telescope::INTEGRATION_TIME_S / 86_400.0;
    let (_, dec_of_date) = astro.icrs_to_hadec(transit, cal.position);
    let cfg = SimConfig {
        n_ants: 96,
        n_times: 12,
        chans_per_subband: 4,
        pointing_dec_rad: dec_of_date + 0.05f64.to_radians(),
        start_time_jd: Some(transit - 3.0 * dt_day),
        ..SimConfig::default()
    };
    let files = small_group(&dir.path().join("in"), cfg);
    let out = dir.path().join("gpu");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"-q",
        &"convert",
        &"--backend",
        &"gpu",
        &"--phase-center",
        &"midpoint",
        &"--spw-layout",
        &"merged",
        &"-o",
        &out,
    ];
    for f in &files {
        args.push(f);
    }
    let (code, _, err) = run_cli(&args);
    assert_eq!(code, 0, "{err}");
    let ms = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let work = dir.path().join("img-gpu");
    std::fs::create_dir_all(&work).unwrap();
    let seen = oracle(
        "image_peak.py",
        &[
            &ms,
            &work,
            &cal.position.ra_rad.to_degrees().to_string(),
            &cal.position.dec_rad.to_degrees().to_string(),
        ],
    );
    eprintln!("WSClean found in the GPU's MS: {seen}");
    let sep = seen["separation_arcsec"].as_f64().unwrap();
    let peak = seen["peak_jy"].as_f64().unwrap();
    assert!(
        sep < 1.0,
        "source found {sep:.2} arcsec from its position: {seen}"
    );
    assert!(
        (peak - cal.flux_jy).abs() < 0.02 * cal.flux_jy,
        "peak {peak} Jy, simulated {} Jy: {seen}",
        cal.flux_jy
    );
}
