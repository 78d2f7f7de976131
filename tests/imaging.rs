//! The proof that phases, UVW signs and conjugation are right: WSClean
//! images a converted simulated group and finds the source at its true ICRS
//! position with its true flux (a conjugation or sign error puts it at the
//! mirror position, a phase error smears it).

mod common;

use std::path::{Path, PathBuf};

use common::{oracle, run_cli, small_group};
use dsa110_convert::astro::{Astrometer, Iers};
use dsa110_convert::sim::{self, SimConfig, SimSource};
use dsa110_convert::telescope;

/// A full array's group of 3C286 that transits at integration 3 of 12,
/// 0.05 deg south of the pointing (a declination of date): the source lies
/// ~10 arcmin from the midpoint phase centre, where a mirror error would
/// show.
struct OffsetSource {
    dir: tempfile::TempDir,
    cal: SimSource,
    files: Vec<PathBuf>,
}

impl OffsetSource {
    fn new() -> OffsetSource {
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
        OffsetSource { dir, cal, files }
    }

    /// Convert with the midpoint phase centre on `backend` in `layout`;
    /// the MS written.
    fn convert(&self, backend: &str, layout: &str) -> PathBuf {
        let out = self.dir.path().join(format!("{backend}-{layout}"));
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
            &"-q",
            &"convert",
            &"--backend",
            &backend,
            &"--phase-center",
            &"midpoint",
            &"--spw-layout",
            &layout,
            &"-o",
            &out,
        ];
        for f in &self.files {
            args.push(f);
        }
        let (code, _, err) = run_cli(&args);
        assert_eq!(code, 0, "{err}");
        std::fs::read_dir(&out)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    /// WSClean's image of `ms`: the source within 1" of its position, with
    /// its flux within 2%. What `image_peak.py` found.
    fn assert_imaged_right(&self, ms: &Path, label: &str) -> serde_json::Value {
        let work = self.dir.path().join(format!("img-{label}"));
        std::fs::create_dir_all(&work).unwrap();
        let seen = oracle(
            "image_peak.py",
            &[
                &ms,
                &work,
                &self.cal.position.ra_rad.to_degrees().to_string(),
                &self.cal.position.dec_rad.to_degrees().to_string(),
            ],
        );
        eprintln!("WSClean found in the {label} MS: {seen}");
        let sep = seen["separation_arcsec"].as_f64().unwrap();
        let peak = seen["peak_jy"].as_f64().unwrap();
        assert!(
            sep < 1.0,
            "{label}: source found {sep:.2} arcsec from its position: {seen}"
        );
        assert!(
            (peak - self.cal.flux_jy).abs() < 0.02 * self.cal.flux_jy,
            "{label}: peak {peak} Jy, simulated {} Jy: {seen}",
            self.cal.flux_jy
        );
        seen
    }
}

#[test]
fn wsclean_finds_the_source_at_its_icrs_position_and_flux_in_both_layouts() {
    let group = OffsetSource::new();
    let found: Vec<serde_json::Value> = ["subbands", "merged"]
        .iter()
        .map(|layout| group.assert_imaged_right(&group.convert("cpu", layout), layout))
        .collect();
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
    if !common::gpu_available() {
        return;
    }
    // Phases corrected on the GPU.
    let group = OffsetSource::new();
    group.assert_imaged_right(&group.convert("gpu", "merged"), "GPU");
}
