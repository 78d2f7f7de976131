//! `convert` end to end against pyuvdata 3.2.8 doing the same phasing and
//! writing its own MS, compared with python-casacore.

mod common;

use std::path::{Path, PathBuf};

use common::{convert, oracle, run_cli, shared_data, small_config, small_group};

/// Meridian phasing with the fields named as pyuvdata names them (no
/// calibrator renaming).
const MERIDIAN_AS_PYUVDATA: &[&str] = &[
    "--phase-center",
    "meridian",
    "--no-rename-calibrator-fields",
];

/// pyuvdata's own MS of `files` phased for `mode` (`pyuvdata_convert.py`),
/// at `out`: one window per file with `subbands` (its multi-window MS),
/// else one window.
fn pyuvdata_ms(files: &[PathBuf], mode: &str, subbands: bool, out: &Path) {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![];
    if subbands {
        args.push(&"--subbands");
    }
    args.push(&mode);
    args.push(&out);
    for f in files {
        args.push(f);
    }
    oracle("pyuvdata_convert.py", &args);
}

/// Compare our MS with pyuvdata's for `mode` in the same spectral-window
/// layout, with the tolerances.
fn compare_with_pyuvdata(
    files: &[PathBuf],
    ours: &Path,
    mode: &str,
    subbands: bool,
    dir: &Path,
) -> serde_json::Value {
    let reference = dir.join("pyuvdata.ms");
    pyuvdata_ms(files, mode, subbands, &reference);
    let cmp = oracle("compare_ms.py", &[&ours, &reference]);
    let rows = cmp["rows"].as_array().unwrap();
    assert_eq!(rows[0], rows[1], "{cmp}");
    assert_eq!(cmp["n_windows"][0], cmp["n_windows"][1], "{cmp}");
    assert_eq!(cmp["missing_rows"], serde_json::json!([0, 0]), "{cmp}");
    assert_eq!(cmp["inconsistent_rows"], serde_json::json!([0, 0]), "{cmp}");
    assert_eq!(cmp["scan_mismatch"], 0, "{cmp}");
    assert_eq!(cmp["ant_mismatch"], 0, "{cmp}");
    assert_eq!(cmp["flag_mismatch"], 0, "{cmp}");
    assert_eq!(cmp["field_id_mismatch"], 0, "{cmp}");
    assert_eq!(cmp["data_nan_mismatch"], 0, "{cmp}");
    assert!(cmp["time_max_abs_s"].as_f64().unwrap() < 1e-3, "{cmp}");
    assert!(
        cmp["uvw_max_abs_m"].as_f64().unwrap() < 1e-3,
        "UVW beyond 1 mm: {cmp}"
    );
    assert!(
        cmp["data_max_rel"].as_f64().unwrap() < 1e-5,
        "DATA beyond 1e-5: {cmp}"
    );
    assert!(cmp["weight_max_abs"].as_f64().unwrap() < 1e-6, "{cmp}");
    assert!(
        cmp["phase_dir_max_arcsec"].as_f64().unwrap() < 0.05,
        "PHASE_DIR beyond 0.05\": {cmp}"
    );
    assert_eq!(cmp["chan_freq_max_abs_hz"].as_f64().unwrap(), 0.0, "{cmp}");
    let corr = &cmp["corr_type"];
    assert_eq!(corr[0], corr[1], "{cmp}");
    cmp
}

#[test]
fn meridian_mode_matches_pyuvdata() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.noise_jy = 0.5;
    let files = small_group(&dir.path().join("in"), cfg);
    let ms = convert(&files, &dir.path().join("out"), MERIDIAN_AS_PYUVDATA);
    let cmp = compare_with_pyuvdata(&files, &ms, "meridian", true, dir.path());
    assert_eq!(cmp["n_windows"][0], 16);
    assert_eq!(cmp["n_fields"][0], 4);
    assert_eq!(cmp["field_names"][0][3], "meridian_icrs_t3");
    // pyuvdata's read_ms opens our MS and sees the same rows.
    let seen = oracle("read_ms.py", &[&ms]);
    assert_eq!(seen["Nblts"], 4 * 78);
    assert_eq!(seen["Nfreqs"], 128);
    assert_eq!(seen["Npols"], 2);
}

#[test]
fn midpoint_mode_matches_pyuvdata() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let ms = convert(
        &files,
        &dir.path().join("out"),
        &["--phase-center", "midpoint", "--spw-layout", "merged"],
    );
    let cmp = compare_with_pyuvdata(&files, &ms, "midpoint", false, dir.path());
    assert_eq!(cmp["n_windows"][0], 1);
    assert_eq!(cmp["n_fields"][0], 1);
}

#[test]
fn fixed_position_matches_pyuvdata() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let ms = convert(
        &files,
        &dir.path().join("out"),
        &["--phase-center", "203.1,30.2"],
    );
    compare_with_pyuvdata(&files, &ms, "radec:203.1:30.2", true, dir.path());
}

#[test]
fn ata_pair_keeps_its_3c286_phase_centre_like_pyuvdata() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![
        shared_data("uvh5-real/ata.LoA.C0544.uvh5_60647_62965_9760406_3c286_0001.uvh5"),
        shared_data("uvh5-real/ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5"),
    ];
    // Their nsamples are all -1.2e12: meaningless weights, which we flag
    // (pyuvdata copies them into WEIGHT). Every visibility comes out
    // flagged, with a warning.
    let (code, _, err) = common::run_cli(&[
        &"convert",
        &"--backend",
        &"cpu",
        &"-o",
        &dir.path().join("as_is"),
        &files[0],
        &files[1],
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("negative nsamples"), "{err}");
    let name = dsa110_convert::convert::output_name(&files);
    let counts = oracle("ms_finite.py", &[&dir.path().join("as_is").join(&name)]);
    assert_eq!(counts["flagged"], 406 * 32 * 4, "{counts}");
    // With nsamples of 1 the rest matches pyuvdata.
    let fixed: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let dst = dir.path().join(f.file_name().unwrap());
            std::fs::copy(f, &dst).unwrap();
            let h = hdf5::File::open_rw(&dst).unwrap();
            let ns = h.dataset("Data/nsamples").unwrap();
            ns.write_raw(&vec![1.0f32; ns.size()]).unwrap();
            dst
        })
        .collect();
    let files = fixed;
    let ms = convert(&files, &dir.path().join("out"), &[]);
    let cmp = compare_with_pyuvdata(&files, &ms, "keep", true, dir.path());
    assert_eq!(cmp["n_windows"][0], 2);
    assert_eq!(cmp["field_names"][0][0], "3c286");
    // 4 linear polarizations in CASA order XX, XY, YX, YY.
    assert_eq!(cmp["corr_type"][0], serde_json::json!([9, 10, 11, 12]));
    let seen = oracle("read_ms.py", &[&ms]);
    assert_eq!(seen["Nfreqs"], 32);
}

#[test]
fn calibrator_field_is_renamed_where_it_transits() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.n_times = 6;
    // 3C286 transits at integration 4 of 0..6: start 4 integrations earlier.
    let astro = dsa110_convert::astro::Astrometer::new(
        dsa110_convert::telescope::array_site(),
        dsa110_convert::astro::Iers::embedded(),
    );
    let cal = dsa110_convert::sim::default_calibrator();
    let transit = dsa110_convert::sim::transit_time_jd(&astro, cal.position, 2_460_690.5);
    cfg.start_time_jd =
        Some(transit - 4.0 * dsa110_convert::telescope::INTEGRATION_TIME_S / 86_400.0);
    let files = small_group(&dir.path().join("in"), cfg);
    let ms = convert(&files, &dir.path().join("out"), &[]);
    let names = oracle("ms_field_names.py", &[&ms]);
    let names: Vec<&str> = names
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "meridian_icrs_t0",
            "meridian_icrs_t1",
            "meridian_icrs_t2",
            "meridian_icrs_t3",
            "3C286_t4",
            "meridian_icrs_t5"
        ]
    );
}

#[test]
fn a_calibrator_name_phases_the_group_to_its_catalog_position() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let ms = convert(
        &files,
        &dir.path().join("out"),
        &["--phase-center", "3C286"],
    );
    // The built-in catalog's 3C286: RA 202.784534, Dec 30.509155 (ICRS deg).
    let cmp = compare_with_pyuvdata(&files, &ms, "radec:202.784534:30.509155", true, dir.path());
    assert_eq!(cmp["field_names"][0][0], "3C286");
}

#[test]
fn input_directory_and_timestamp_select_a_group_stamped_seconds_apart() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let files = small_group(&input, small_config());
    // The live system stamps subbands a few seconds apart: move sb03 by 4 s.
    let name = files[3].file_name().unwrap().to_string_lossy().into_owned();
    let ts = name.split("_sb").next().unwrap();
    let later = chrono::NaiveDateTime::parse_from_str(ts, "%Y-%m-%dT%H:%M:%S").unwrap()
        + chrono::Duration::seconds(4);
    let later = later.format("%Y-%m-%dT%H:%M:%S").to_string();
    std::fs::rename(&files[3], input.join(format!("{later}_sb03.hdf5"))).unwrap();
    let out = dir.path().join("out");
    let (code, stdout, err) = run_cli(&[
        &"convert",
        &"--backend",
        &"cpu",
        &"--input",
        &input,
        &"--timestamp",
        &later,
        &"-o",
        &out,
        &"--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary[0]["inputs"].as_array().unwrap().len(), 16);
    assert_eq!(summary[0]["channels"], 128);
    assert!(out.join(format!("{ts}.ms")).exists());
}

#[test]
fn both_spectral_window_layouts_hold_the_same_rows_to_the_last_bit() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.noise_jy = 0.5;
    let files = small_group(&dir.path().join("in"), cfg);
    let subbands = convert(&files, &dir.path().join("subbands"), &[]);
    let merged = convert(
        &files,
        &dir.path().join("merged"),
        &["--spw-layout", "merged"],
    );
    let cmp = oracle("compare_ms.py", &[&subbands, &merged]);
    assert_eq!(cmp["n_windows"], serde_json::json!([16, 1]), "{cmp}");
    assert_eq!(cmp["missing_rows"], serde_json::json!([0, 0]), "{cmp}");
    assert_eq!(cmp["inconsistent_rows"], serde_json::json!([0, 0]), "{cmp}");
    assert_eq!(cmp["data_bitwise_equal"], true, "{cmp}");
    for zero in [
        "flag_mismatch",
        "flag_row_mismatch",
        "field_id_mismatch",
        "scan_mismatch",
        "ant_mismatch",
    ] {
        assert_eq!(cmp[zero], 0, "{zero}: {cmp}");
    }
    // nsamples are uniform here: every window's WEIGHT is the band's.
    for zero in [
        "weight_max_abs",
        "sigma_max_abs",
        "uvw_max_abs_m",
        "time_max_abs_s",
        "chan_freq_max_abs_hz",
        "phase_dir_max_arcsec",
    ] {
        assert_eq!(cmp[zero], 0.0, "{zero}: {cmp}");
    }
    assert_eq!(cmp["field_names"][0], cmp["field_names"][1], "{cmp}");
}

#[test]
fn pyuvdata_reads_both_layouts_back_as_xx_yy_with_the_data_of_its_own_ms() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.noise_jy = 0.5;
    let files = small_group(&dir.path().join("in"), cfg);
    for (layout, subbands) in [("subbands", true), ("merged", false)] {
        let ms = convert(
            &files,
            &dir.path().join(layout),
            &[MERIDIAN_AS_PYUVDATA, &["--spw-layout", layout]].concat(),
        );
        let reference = dir.path().join(format!("pyuvdata-{layout}.ms"));
        pyuvdata_ms(&files, "meridian", subbands, &reference);
        let seen = oracle("pyuvdata_readback.py", &[&ms, &reference]);
        assert_eq!(
            seen["pols"][0],
            serde_json::json!(["xx", "yy"]),
            "{layout}: {seen}"
        );
        assert_eq!(seen["pols"][0], seen["pols"][1], "{layout}: {seen}");
        assert_eq!(seen["Nspws"][0], seen["Nspws"][1], "{layout}: {seen}");
        assert!(
            seen["data_max_rel"].as_f64().unwrap() < 1e-5,
            "{layout}: {seen}"
        );
        assert_eq!(seen["flag_mismatch"], 0, "{layout}: {seen}");
        assert_eq!(seen["freq_max_abs_hz"], 0.0, "{layout}: {seen}");
    }
}

#[test]
fn the_ms_is_a_dsa_110_measurement_set_at_the_array_position() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let ms = convert(&files, &dir.path().join("out"), &[]);
    let seen = oracle("read_ms.py", &[&ms]);
    assert_eq!(seen["table_type"], "Measurement Set", "{seen}");
    let sb = |n: usize| format!("sb{n:02}");
    let names: Vec<String> = (0..16).rev().map(sb).collect();
    assert_eq!(seen["spw_names"], serde_json::json!(names), "{seen}");
    assert_eq!(seen["telescope"], "DSA_110", "{seen}");
    // pyuvdata takes the array position from OBSERVATION's
    // TELESCOPE_LOCATION: the station table's array reference position.
    let want = dsa110_convert::telescope::array_site().ecef_m();
    let got = common::f64s(&seen["telescope_xyz_m"]);
    for k in 0..3 {
        assert!((got[k] - want[k]).abs() < 1e-3, "{got:?} vs {want:?}");
    }
    // --telescope-name overrides the name.
    let renamed = convert(
        &files,
        &dir.path().join("renamed"),
        &["--telescope-name", "OVRO_DSA"],
    );
    assert_eq!(oracle("read_ms.py", &[&renamed])["telescope"], "OVRO_DSA");
    // A group missing sb07: each window keeps the name of its subband.
    let without: Vec<PathBuf> = files
        .iter()
        .filter(|f| !f.to_string_lossy().ends_with("_sb07.hdf5"))
        .cloned()
        .collect();
    // Refused unless asked for, naming what is missing.
    let refused = dir.path().join("refused");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"convert", &"-o", &refused];
    for f in &without {
        args.push(f);
    }
    let (code, _, err) = run_cli(&args);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("missing 1 of 16 subbands: sb07"), "{err}");
    assert!(err.contains("--allow-incomplete"), "{err}");
    let partial = convert(
        &without,
        &dir.path().join("partial"),
        &["--allow-incomplete"],
    );
    let seen = oracle("read_ms.py", &[&partial]);
    let names: Vec<String> = (0..16).rev().filter(|&n| n != 7).map(sb).collect();
    assert_eq!(seen["spw_names"], serde_json::json!(names), "{seen}");
    // One subband alone is one window named for it; the merged band, BAND.
    let sb03: Vec<PathBuf> = (files.iter())
        .filter(|f| f.to_string_lossy().ends_with("_sb03.hdf5"))
        .cloned()
        .collect();
    let one = convert(&sb03, &dir.path().join("one"), &["--allow-incomplete"]);
    let seen = oracle("read_ms.py", &[&one]);
    assert_eq!(seen["spw_names"], serde_json::json!(["sb03"]), "{seen}");
    let merged = dir.path().join("merged");
    let merged = convert(&files, &merged, &["--spw-layout", "merged"]);
    let seen = oracle("read_ms.py", &[&merged]);
    assert_eq!(seen["spw_names"], serde_json::json!(["BAND"]), "{seen}");
}

#[test]
fn the_per_row_columns_are_stored_as_casa_stores_them_in_whole_pages() {
    // casacore's default, one standard manager of 32-row buckets (3460
    // bytes), made the kernel zero the rest of a page around each of the
    // full group's 56k bucket writes. Now the columns that change between
    // rows in 1 MiB buckets, those that change only between scans and
    // windows in an incremental manager, and UVW in tiles of 1024 rows
    // (as CASA's simulator has them).
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let ms = convert(&files, &dir.path().join("out"), &[]);
    let seen = oracle("ms_storage.py", &[&ms]);
    let managers = seen["managers"].as_array().unwrap();
    let holder = |column: &str| {
        let held =
            |m: &&serde_json::Value| (m["columns"].as_array().unwrap().iter()).any(|c| c == column);
        managers
            .iter()
            .find(held)
            .unwrap_or_else(|| panic!("{column}: {seen}"))
    };
    assert_eq!(holder("UVW")["type"], "TiledColumnStMan", "{seen}");
    assert_eq!(holder("UVW")["name"], "TiledUVW", "{seen}");
    assert_eq!(
        holder("UVW")["tile_shape"],
        serde_json::json!([3, 1024]),
        "{seen}"
    );
    for per_row in ["ANTENNA1", "ANTENNA2", "DATA_DESC_ID", "FLAG_ROW"] {
        assert_eq!(
            holder(per_row)["type"],
            "StandardStMan",
            "{per_row}: {seen}"
        );
        assert_eq!(
            holder(per_row)["bucket_bytes"],
            1 << 20,
            "{per_row}: {seen}"
        );
    }
    for per_run in [
        "TIME",
        "TIME_CENTROID",
        "INTERVAL",
        "EXPOSURE",
        "FIELD_ID",
        "SCAN_NUMBER",
    ] {
        assert_eq!(
            holder(per_run)["type"],
            "IncrementalStMan",
            "{per_run}: {seen}"
        );
    }
    for tiled in ["DATA", "FLAG", "WEIGHT", "SIGMA"] {
        assert_eq!(holder(tiled)["type"], "TiledColumnStMan", "{tiled}: {seen}");
    }
    // Every data-manager file in the directory belongs to one of them (the
    // manager the rows were first given leaves none behind).
    let numbers: std::collections::BTreeSet<String> = (seen["files"].as_array().unwrap().iter())
        .map(|f| {
            let f = f.as_str().unwrap().trim_start_matches("table.f");
            f.chars().take_while(char::is_ascii_digit).collect()
        })
        .collect();
    assert_eq!(numbers.len(), managers.len(), "{seen}");
}

#[test]
fn a_calibrator_transiting_at_a_group_boundary_is_named_in_that_group_only() {
    let dir = tempfile::tempdir().unwrap();
    let astro = dsa110_convert::astro::Astrometer::new(
        dsa110_convert::telescope::array_site(),
        dsa110_convert::astro::Iers::embedded(),
    );
    let cal = dsa110_convert::sim::default_calibrator();
    let transit = dsa110_convert::sim::transit_time_jd(&astro, cal.position, 2_460_690.5);
    let dt = dsa110_convert::telescope::INTEGRATION_TIME_S / 86_400.0;
    // 3C286 transits 0.3 integrations after the midpoint of the first
    // group's last integration, inside its span; the next group starts
    // 0.7 integrations after the transit and sees it at its first field.
    let names = |start_jd: f64, name: &str| -> Vec<String> {
        let mut cfg = small_config();
        cfg.n_times = 6;
        cfg.start_time_jd = Some(start_jd);
        let files = small_group(&dir.path().join(name), cfg);
        let ms = convert(&files, &dir.path().join(format!("{name}-out")), &[]);
        serde_json::from_value(oracle("ms_field_names.py", &[&ms])).unwrap()
    };
    let first = names(transit - 5.3 * dt, "first");
    let second = names(transit + 0.7 * dt, "second");
    assert_eq!(first[5], "3C286_t5", "{first:?}");
    assert!(
        second.iter().all(|n| n.starts_with("meridian_icrs_t")),
        "{second:?}"
    );
}

/// Give a simulated group varied nsamples and flags: some rows with
/// nsamples that differ between channels, others uniform at per-row
/// values; some rows fully flagged, some single channels flagged.
fn vary_nsamples_and_flags(files: &[PathBuf]) {
    for (k, f) in files.iter().enumerate() {
        let file = hdf5::File::open_rw(f).unwrap();
        let ns = file.dataset("Data/nsamples").unwrap();
        let shape = ns.shape();
        let (n_rows, n_chan, n_pol) = (shape[0], shape[2], shape[3]);
        let mut nsamples = Vec::with_capacity(n_rows * n_chan * n_pol);
        let mut flags = Vec::with_capacity(n_rows * n_chan * n_pol);
        for r in 0..n_rows {
            for c in 0..n_chan {
                for p in 0..n_pol {
                    nsamples.push(if r % 3 == 0 {
                        1.0 + ((r * 7 + (k * n_chan + c) * 3 + p) % 5) as f32 * 0.25
                    } else {
                        (1 + (r + k) % 4) as f32 * 0.5
                    });
                    flags.push(r % 5 == 0 || (r % 7 == 0 && c == 3));
                }
            }
        }
        ns.write_raw(&nsamples).unwrap();
        file.dataset("Data/flags")
            .unwrap()
            .write_raw(&flags)
            .unwrap();
    }
}

/// What `convert --backend cpu` with [`MERIDIAN_AS_PYUVDATA`] uses.
fn meridian_on_the_cpu() -> dsa110_convert::convert::ConvertOptions {
    use dsa110_convert::convert::ConvertOptions;
    use dsa110_convert::phasing::PhaseCenterMode;
    ConvertOptions {
        phase_center: PhaseCenterMode::Meridian,
        backend: std::sync::Arc::new(dsa110_convert::compute::cpu::CpuBackend),
        max_memory_bytes: 1 << 30,
        imaging_columns: false,
        spw_layout: dsa110_convert::ms::SpwLayout::Subbands,
        telescope_name: None,
        overwrite: false,
        chunk_cache_bytes: 1 << 20,
        progress: false,
        command_line: "test".into(),
        calibrators: None,
        iers: std::sync::Arc::new(dsa110_convert::astro::IersSource::embedded()),
        qa: false,
    }
}

/// The daemon's way of converting: subbands added one file at a time, in
/// `order` (indices into `files`), each placed by its frequencies in a
/// DSA-110 band of 16, then finished with the group `files`.
fn convert_as_daemon(
    files: &[PathBuf],
    order: &[usize],
    out: &Path,
    opts: &dsa110_convert::convert::ConvertOptions,
) -> Result<(), dsa110_convert::convert::ConvertError> {
    use dsa110_convert::convert::Conversion;
    use dsa110_convert::group::Band;
    use dsa110_convert::uvh5::Uvh5File;
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let open = |k: usize| Uvh5File::open(&files[k], 1 << 20).unwrap();
    let first = open(order[0]);
    let band = Band::dsa110(first.header(), 16)?;
    let mut conversion = Conversion::start(first.shared_header(), band, out, opts)?;
    for &k in order {
        conversion.add(vec![open(k)])?;
    }
    assert!(
        !out.exists(),
        "the MS must not appear before the group is finished"
    );
    conversion.finish(files).map(|_| ())
}

#[test]
fn subband_by_subband_conversion_matches_pyuvdata_and_convert() {
    use dsa110_convert::convert::ConvertOptions;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.noise_jy = 0.5;
    let files = small_group(&dir.path().join("in"), cfg);
    vary_nsamples_and_flags(&files);
    let batch = convert(&files, &dir.path().join("batch"), MERIDIAN_AS_PYUVDATA);
    let opts = meridian_on_the_cpu();
    // Subbands in a scrambled order, one of them twice (a re-sent file).
    let order = [9, 2, 15, 0, 7, 7, 12, 4, 1, 14, 3, 11, 6, 13, 5, 10, 8];
    let out = dir.path().join("incremental/group.ms");
    convert_as_daemon(&files, &order, &out, &opts).unwrap();
    let cmp = compare_with_pyuvdata(&files, &out, "meridian", true, dir.path());
    assert!(cmp["weight_max_abs"].as_f64().unwrap() < 1e-6, "{cmp}");
    common::assert_same_ms(&out, &batch);

    // The merged layout too, as convert writes it.
    let batch_merged = convert(
        &files,
        &dir.path().join("batch_merged"),
        &[MERIDIAN_AS_PYUVDATA, &["--spw-layout", "merged"]].concat(),
    );
    let out_merged = dir.path().join("incremental/merged.ms");
    let opts_merged = ConvertOptions {
        spw_layout: dsa110_convert::ms::SpwLayout::Merged,
        ..opts.clone()
    };
    let ascending: Vec<usize> = (0..16).collect();
    convert_as_daemon(&files, &ascending, &out_merged, &opts_merged).unwrap();
    common::assert_same_ms(&out_merged, &batch_merged);

    // With the imaging columns: CORRECTED_DATA = DATA, MODEL_DATA = 1,
    // WEIGHT_SPECTRUM = nsamples (its median over channels is WEIGHT).
    let batch_img = convert(
        &files,
        &dir.path().join("batch_img"),
        &[MERIDIAN_AS_PYUVDATA, &["--imaging-columns"]].concat(),
    );
    let out_img = dir.path().join("incremental/imaging.ms");
    let opts_img = ConvertOptions {
        imaging_columns: true,
        ..opts.clone()
    };
    let descending: Vec<usize> = (0..16).rev().collect();
    convert_as_daemon(&files, &descending, &out_img, &opts_img).unwrap();
    for ms in [&batch_img, &out_img] {
        let img = oracle("imaging_columns.py", &[ms]);
        assert_eq!(img["corrected_minus_data_max_abs"], 0.0, "{img}");
        assert_eq!(img["model_minus_one_max_abs"], 0.0, "{img}");
        assert_eq!(img["weight_vs_spectrum_median_max_abs"], 0.0, "{img}");
        assert!(
            img["spectrum_distinct_values"].as_u64().unwrap() > 4,
            "{img}"
        );
    }
    common::assert_same_ms(&out_img, &batch_img);
}

#[test]
fn subbands_go_where_their_frequencies_say_whatever_their_names() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let batch = convert(&files, &dir.path().join("batch"), MERIDIAN_AS_PYUVDATA);
    // sb01 and sb02 renamed into each other.
    let swapped_dir = dir.path().join("swapped");
    std::fs::create_dir_all(&swapped_dir).unwrap();
    let swapped: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            let name = if name.ends_with("_sb01.hdf5") {
                name.replace("_sb01", "_sb02")
            } else if name.ends_with("_sb02.hdf5") {
                name.replace("_sb02", "_sb01")
            } else {
                name
            };
            let to = swapped_dir.join(name);
            std::fs::copy(f, &to).unwrap();
            to
        })
        .collect();
    let opts = meridian_on_the_cpu();
    let out = dir.path().join("daemon/swapped.ms");
    let order: Vec<usize> = (0..16).collect();
    convert_as_daemon(&swapped, &order, &out, &opts).unwrap();
    common::assert_same_ms(&out, &batch);
    let batch_swapped = convert(
        &swapped,
        &dir.path().join("batch_swapped"),
        MERIDIAN_AS_PYUVDATA,
    );
    common::assert_same_ms(&batch_swapped, &batch);

    // A group missing a subband is not the band laid out: refused, and
    // nothing is left behind.
    let out2 = dir.path().join("daemon/missing.ms");
    let err = convert_as_daemon(&files[1..], &(0..15).collect::<Vec<_>>(), &out2, &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("the MS was laid out for 128"), "{err}");
    assert!(!out2.exists());
    let left: Vec<_> = std::fs::read_dir(out2.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".missing.ms"))
        .collect();
    assert!(left.is_empty(), "partial or lock left: {left:?}");
}

/// The oracle and CLI children of one test must not inherit another test's
/// HDF5 descriptors: HDF5 opens files without close-on-exec and holds a
/// `flock` on them, so an inherited descriptor keeps a file being written
/// locked for the child's whole life (CI once saw pyuvdata fail with
/// "unable to lock file, errno = 11" this way).
#[test]
fn test_children_do_not_keep_hdf5_files_locked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("locked.hdf5");
    let file = hdf5::File::create(&path).unwrap();
    let mut child = common::command("sleep").arg("5").spawn().unwrap();
    drop(file);
    let reopened = hdf5::File::open(&path).map(|_| ());
    child.kill().unwrap();
    child.wait().unwrap();
    reopened.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
}

/// `convert --backend gpu` of `files` into `out_dir` with `extra`; the MS.
fn convert_on_gpu(files: &[PathBuf], out_dir: &Path, extra: &[&str]) -> PathBuf {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"-q", &"convert", &"--backend", &"gpu", &"-o", &out_dir];
    for e in extra {
        args.push(e);
    }
    for f in files {
        args.push(f);
    }
    let (code, _, err) = run_cli(&args);
    assert_eq!(code, 0, "convert --backend gpu failed: {err}");
    assert!(
        !err.contains("XDG_RUNTIME_DIR"),
        "driver chatter on stderr: {err}"
    );
    out_dir.join(
        std::fs::read_dir(out_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .find(|n| n.to_string_lossy().ends_with(".ms"))
            .expect("an MS"),
    )
}

#[test]
fn gpu_meridian_mode_matches_pyuvdata() {
    if !common::gpu_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.noise_jy = 0.5;
    let files = small_group(&dir.path().join("in"), cfg);
    let ms = convert_on_gpu(&files, &dir.path().join("out"), MERIDIAN_AS_PYUVDATA);
    let cmp = compare_with_pyuvdata(&files, &ms, "meridian", true, dir.path());
    assert_eq!(cmp["n_windows"][0], 16);
}

#[test]
fn gpu_midpoint_mode_with_large_w_changes_matches_pyuvdata_and_the_cpu() {
    if !common::gpu_available() {
        return;
    }
    // 24 integrations (a full group's span, 5 minutes) of 2 km baselines:
    // w changes by tens of metres between the meridian and the midpoint,
    // hundreds of turns of phase at 1.4 GHz.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.n_times = 24;
    let files = small_group(&dir.path().join("in"), cfg);
    let midpoint = ["--phase-center", "midpoint", "--spw-layout", "merged"];
    let gpu = convert_on_gpu(&files, &dir.path().join("gpu"), &midpoint);
    let cmp = compare_with_pyuvdata(&files, &gpu, "midpoint", false, dir.path());
    assert_eq!(cmp["n_fields"][0], 1);
    let cpu = convert(&files, &dir.path().join("cpu"), &midpoint);
    let same = oracle("compare_ms.py", &[&gpu, &cpu]);
    eprintln!(
        "GPU vs CPU midpoint MS: DATA {} relative, UVW {} m",
        same["data_max_rel"], same["uvw_max_abs_m"]
    );
    assert!(same["data_max_rel"].as_f64().unwrap() < 2e-6, "{same}");
    assert!(same["uvw_max_abs_m"].as_f64().unwrap() < 1e-5, "{same}");
    // The correction is not a no-op: DATA differs from the meridian MS.
    let meridian = convert(
        &files,
        &dir.path().join("meridian"),
        &["--phase-center", "meridian", "--spw-layout", "merged"],
    );
    let moved = oracle("compare_ms.py", &[&gpu, &meridian]);
    assert!(moved["data_max_rel"].as_f64().unwrap() > 0.1, "{moved}");
}
