//! Calibrators in the beam: weighted fluxes against an independent
//! computation (astropy separations, scipy's J1 in the Airy formula), and
//! the `calibrators` subcommand on a simulated group.

mod common;

use dsa110_convert::astro::SkyPos;
use dsa110_convert::calibrators::{beam_report, Calibrator, Catalog};
use dsa110_convert::compute::cpu::CpuBackend;
use rand::{Rng, SeedableRng};

#[test]
fn weighted_fluxes_and_peak_fields_match_astropy_and_scipy() {
    let fields: Vec<SkyPos> = (0..24)
        .map(|i| SkyPos {
            ra_rad: 3.52 + i as f64 * 9.4e-4,
            dec_rad: 0.532,
        })
        .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut sources: Vec<Calibrator> = (0..3000)
        .map(|i| Calibrator {
            name: format!("S{i}"),
            position: SkyPos {
                ra_rad: 3.53 + rng.random_range(-0.12..0.12),
                dec_rad: 0.532 + rng.random_range(-0.08..0.08),
            },
            flux_jy: rng.random_range(0.01..20.0),
        })
        .collect();
    sources.extend(Catalog::builtin().sources);
    let catalog = Catalog { sources };
    let report = beam_report(&CpuBackend, &fields, &catalog, 4.65, 1.405e9).unwrap();
    let input = serde_json::json!({
        "fields": fields.iter().map(|f| [f.ra_rad, f.dec_rad]).collect::<Vec<_>>(),
        "sources": catalog.sources.iter().map(|c| [c.position.ra_rad, c.position.dec_rad, c.flux_jy]).collect::<Vec<_>>(),
        "dish_m": 4.65, "freq_hz": 1.405e9,
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("beam.json");
    std::fs::write(&path, input.to_string()).unwrap();
    let want = common::oracle("beam_ref.py", &[&path]);
    let flux = common::f64s(&want["field_flux"]);
    for (ours, theirs) in report.field_weighted_flux_jy.iter().zip(&flux) {
        assert!(
            (ours - theirs).abs() <= 1e-9 * theirs.abs().max(1.0),
            "{ours} vs {theirs}"
        );
    }
    let peak = common::f64s(&want["peak_field"]);
    let inside = peak.iter().filter(|&&p| p >= 0.0).count();
    assert_eq!(report.in_beam.len(), inside);
    assert!(inside > 100);
    for s in &report.in_beam {
        assert_eq!(s.peak_field as f64, peak[s.source], "{}", s.name);
    }
    // 3C286 is in this strip and found at the field nearest to it.
    assert!(report.in_beam.iter().any(|s| s.name == "3C286"));
}

#[test]
fn calibrators_subcommand_lists_the_transiting_calibrator() {
    let dir = tempfile::tempdir().unwrap();
    let files = common::small_group(dir.path(), common::small_config());
    let (code, out, err) = common::run_cli(&[
        &"-q",
        &"calibrators",
        &"--backend",
        &"cpu",
        &"--json",
        &files[0],
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let first = &v[0];
    assert_eq!(first["name"], "3C286", "{v}");
    // Transits mid-group: 4 integrations, peak at field 1 or 2.
    let field = first["peak_field"].as_u64().unwrap();
    assert!(field == 1 || field == 2, "{v}");
    assert!(first["weighted_flux_jy"].as_f64().unwrap() > 14.0);
    // A declination strip over a day finds it too.
    let (code, out, _) = common::run_cli(&[
        &"-q",
        &"calibrators",
        &"--backend",
        &"cpu",
        &"--dec-deg",
        &"30.5",
        &"--start",
        &"2025-01-15T00:00:00",
        &"--end",
        &"2025-01-16T00:00:00",
        &"--step-s",
        &"60",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("3C286"), "{out}");
}
