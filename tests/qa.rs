//! Quick-look QA (`qa`): each fault the simulator injects is found and
//! named in the JSON, a clean group is `ok`, the statistics agree with
//! numpy over the files (h5py) and over the converter's Measurement Set
//! (python-casacore) in `tests/oracle/qa_ref.py`, blocks may come in any
//! subband order and row split, and the dashboard is a PNG worth looking
//! at.

mod common;

use std::path::{Path, PathBuf};

use common::{convert, f64s, oracle, run_cli, small_config, small_group};
use dsa110_convert::group;
use dsa110_convert::qa::{self, Conjugation, QaAccumulator, QaBlock};
use dsa110_convert::sim::{antennas_with_data, SimConfig, SimFaults};
use dsa110_convert::uvh5::{Uvh5File, DEFAULT_CHUNK_CACHE_BYTES};
use serde_json::Value;

/// A simulated group and what `qa` made of it.
struct Qa {
    _dir: tempfile::TempDir,
    files: Vec<PathBuf>,
    out: PathBuf,
    report: Value,
    stdout: String,
}

/// Simulate `cfg` (the small test group: 12 antennas, 4 integrations,
/// 16 x 8 channels) and run `qa` on its files.
fn qa_of(cfg: SimConfig) -> Qa {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), cfg);
    qa_of_files(dir, files)
}

/// Run `qa` on `files` into `dir`/qa.
fn qa_of_files(dir: tempfile::TempDir, files: Vec<PathBuf>) -> Qa {
    let out = dir.path().join("qa");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"-q", &"qa", &"-o", &out];
    for f in &files {
        args.push(f);
    }
    let (code, stdout, err) = run_cli(&args);
    assert_eq!(code, 0, "qa failed: {err}");
    let report = read_report(&out);
    Qa {
        _dir: dir,
        files,
        out,
        report,
        stdout,
    }
}

/// `qa_ref.py`'s statistics of the files of `qa`, on its calibrator's
/// integration.
fn numpy_over_the_files(qa: &Qa) -> Value {
    let cal = qa.report["calibrator"]["integration"].to_string();
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"files", &cal];
    for f in &qa.files {
        args.push(f);
    }
    oracle("qa_ref.py", &args)
}

/// The one `*.qa.json` in `dir`.
fn read_report(dir: &Path) -> Value {
    let json: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".qa.json"))
        .collect();
    assert_eq!(json.len(), 1, "{json:?}");
    serde_json::from_str(&std::fs::read_to_string(&json[0]).unwrap()).unwrap()
}

fn faulty(faults: SimFaults) -> SimConfig {
    SimConfig {
        faults,
        ..small_config()
    }
}

/// The problems of `kind`.
fn problems<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == kind)
        .collect()
}

fn kinds(report: &Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["kind"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_clean_group_is_ok() {
    let qa = qa_of(small_config());
    assert_eq!(qa.report["verdict"], "ok", "{}", qa.report["problems"]);
    assert_eq!(kinds(&qa.report), Vec::<String>::new());
    assert_eq!(
        qa.stdout,
        format!("{} ok\n", qa.report["group"].as_str().unwrap())
    );
}

#[test]
fn a_dead_antenna_is_found_and_named() {
    let dead = antennas_with_data(12)[3];
    let qa = qa_of(faulty(SimFaults {
        dead_antenna: Some(dead),
        ..SimFaults::default()
    }));
    assert_eq!(qa.report["verdict"], "bad");
    assert_eq!(kinds(&qa.report), ["dead_antenna"]);
    let p = problems(&qa.report, "dead_antenna")[0];
    assert_eq!(p["antenna"], dead);
    assert_eq!(p["antenna_name"], (dead + 1).to_string());
    assert_eq!(p["severity"], "bad");
    // The simulator scales the antenna's visibilities by 1e-3.
    assert!((p["value"].as_f64().unwrap() - 1e-3).abs() < 1e-6, "{p}");
    assert!(
        qa.stdout.contains(&format!("dead antenna {dead}")),
        "{}",
        qa.stdout
    );
}

#[test]
fn a_nan_subband_is_found_and_named() {
    let qa = qa_of(faulty(SimFaults {
        nan_subband: Some(3),
        ..SimFaults::default()
    }));
    assert_eq!(qa.report["verdict"], "bad");
    assert_eq!(kinds(&qa.report), ["nan_subband"]);
    let p = problems(&qa.report, "nan_subband")[0];
    assert_eq!(p["subband"], "sb03");
    assert_eq!(p["value"], 1.0);
    let sb03 = &qa.report["subbands"][12];
    assert_eq!(sb03["name"], "sb03");
    assert_eq!(sb03["nan_fraction"], 1.0);
}

#[test]
fn a_partial_last_integration_is_found_and_named() {
    let qa = qa_of(SimConfig {
        partial_last_dumps: Some(48),
        ..small_config()
    });
    assert_eq!(qa.report["verdict"], "warn");
    assert_eq!(kinds(&qa.report), ["partial_integration"]);
    let p = problems(&qa.report, "partial_integration")[0];
    assert_eq!(p["integration"], 3);
    // 48 of 96 dumps: half the samples of a full integration.
    assert_eq!(p["value"], 0.5);
}

#[test]
fn rfi_channels_are_found_and_named() {
    let rfi = vec![20, 21, 100];
    let qa = qa_of(faulty(SimFaults {
        rfi_channels: rfi.clone(),
        ..SimFaults::default()
    }));
    assert_eq!(qa.report["verdict"], "warn");
    assert_eq!(kinds(&qa.report), ["outlier_channels"]);
    let p = problems(&qa.report, "outlier_channels")[0];
    let channels: Vec<usize> = f64s(&p["channels"]).iter().map(|&c| c as usize).collect();
    assert_eq!(channels, rfi);
    let freq = f64s(&qa.report["freq_hz"]);
    let expected: Vec<f64> = rfi.iter().map(|&c| freq[c]).collect();
    assert_eq!(f64s(&p["freq_hz"]), expected);
}

/// Every fault at once, with noise, so that no statistic is trivially flat.
fn all_faults() -> SimConfig {
    SimConfig {
        noise_jy: 0.5,
        partial_last_dumps: Some(40),
        ..faulty(SimFaults {
            dead_antenna: Some(antennas_with_data(12)[5]),
            nan_subband: Some(10),
            rfi_channels: vec![7, 64],
        })
    }
}

/// `ours` and `theirs` agree: no data in the same places, the rest within
/// `rel` (f32 visibilities summed in f64 in another order).
fn assert_close(what: &str, ours: &Value, theirs: &Value, rel: f64) {
    let (a, b) = (f64s(ours), f64s(theirs));
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    for (k, (x, y)) in a.iter().zip(&b).enumerate() {
        if y.is_nan() {
            assert!(x.is_nan(), "{what}[{k}]: {x}, reference has no data");
        } else {
            assert!(
                (x - y).abs() <= rel * y.abs() + 1e-12,
                "{what}[{k}]: {x} vs {y}"
            );
        }
    }
}

/// Each statistic of `report` against `reference` (qa_ref.py's keys).
fn assert_statistics(report: &Value, reference: &Value) {
    let per = |list: &str, key: &str| -> Value {
        Value::Array(
            report[list]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x[key].clone())
                .collect(),
        )
    };
    assert_eq!(per("antennas", "number"), reference["antennas"]);
    assert_close("freq_hz", &report["freq_hz"], &reference["freq_hz"], 1e-15);
    assert_close(
        "auto_spectrum",
        &per("antennas", "auto_spectrum"),
        &reference["auto_spectrum"],
        1e-6,
    );
    assert_close(
        "waterfall",
        &report["cross_amp_waterfall"],
        &reference["waterfall"],
        1e-6,
    );
    assert_close(
        "antenna flagged",
        &per("antennas", "flagged_fraction"),
        &reference["antenna_flagged"],
        1e-12,
    );
    assert_close(
        "nsamples",
        &per("integrations", "nsamples_mean"),
        &reference["nsamples_mean"],
        1e-9,
    );
    assert_close(
        "subband flagged",
        &per("subbands", "flagged_fraction"),
        &reference["subband_flagged"],
        1e-12,
    );
    assert_close(
        "subband NaN",
        &per("subbands", "nan_fraction"),
        &reference["subband_nan"],
        1e-12,
    );
    let cal = &report["calibrator"];
    let baselines = cal["baselines"].as_array().unwrap();
    assert_eq!(baselines.len(), 4);
    let amp = Value::Array(baselines.iter().map(|b| b["amp"].clone()).collect());
    let phase = Value::Array(baselines.iter().map(|b| b["phase_deg"].clone()).collect());
    assert_close("calibrator amp", &amp, &reference["cal_amp"], 1e-6);
    assert_close(
        "calibrator phase",
        &phase,
        &reference["cal_phase_deg"],
        1e-4,
    );
}

#[test]
fn statistics_agree_with_numpy_over_the_files() {
    let qa = qa_of(all_faults());
    assert_eq!(qa.report["calibrator"]["name"], "3C286");
    assert_statistics(&qa.report, &numpy_over_the_files(&qa));
}

#[test]
fn files_that_differ_in_channel_count_are_one_band_with_numpys_statistics() {
    // sb00..sb07 of 8 channels, sb08..sb15 of 16: one subband, BAND.
    let dir = tempfile::tempdir().unwrap();
    let narrow = small_group(&dir.path().join("8"), all_faults());
    let wide = SimConfig {
        chans_per_subband: 16,
        ..all_faults()
    };
    let wide = small_group(&dir.path().join("16"), wide);
    let sb = |f: &PathBuf| group::parse_file_name(f).unwrap().2;
    let files: Vec<PathBuf> = (narrow.iter().filter(|f| sb(f) < 8))
        .chain(wide.iter().filter(|f| sb(f) >= 8))
        .cloned()
        .collect();
    let qa = qa_of_files(dir, files);
    assert_eq!(qa.report["n_subbands"], 1, "{}", qa.report["subbands"]);
    assert_eq!(qa.report["subbands"][0]["name"], "BAND");
    assert_statistics(&qa.report, &numpy_over_the_files(&qa));
}

#[test]
fn statistics_agree_with_casacore_over_the_measurement_set() {
    let qa = qa_of(all_faults());
    let ms = convert(&qa.files, &qa.out.join("ms"), &[]);
    let (code, stdout, err) = run_cli(&[&"-q", &"qa", &ms]);
    assert_eq!(code, 0, "qa of the MS failed: {err}");
    let report = read_report(ms.parent().unwrap());
    assert_eq!(report["input"], "ms");
    // The MS names the calibrator field; the same integration as the files'.
    assert_eq!(report["calibrator"]["name"], "3C286");
    assert_eq!(
        report["calibrator"]["integration"],
        qa.report["calibrator"]["integration"]
    );
    let cal = report["calibrator"]["integration"].to_string();
    let reference = oracle("qa_ref.py", &[&"ms", &cal, &ms]);
    assert_statistics(&report, &reference);
    // The same problems as from the files, and the same verdict line.
    assert_eq!(report["problems"], qa.report["problems"]);
    assert_eq!(stdout, qa.stdout);
}

/// Rows `[row][chan][pol]` of `n_chan` channels with the channels of each
/// row reversed (the files' channels descend).
fn ascending<T: Copy>(v: &[T], n_chan: usize, n_pol: usize) -> Vec<T> {
    v.chunks(n_chan * n_pol)
        .flat_map(|row| row.chunks(n_pol).rev().flatten().copied())
        .collect()
}

/// Feed `files` to an accumulator subband by subband in descending order,
/// in blocks of `rows_per_block` rows, skipping the subbands in `skip`.
fn per_subband(files: &[PathBuf], rows_per_block: usize, skip: &[&str]) -> qa::QaReport {
    let (_, group) = group::open_files(files, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    let shape = qa::group_shape(&group, "g");
    let w = shape.subband_channels;
    let mut acc = QaAccumulator::new(&shape);
    for (k, path) in group.paths().iter().enumerate().rev() {
        if skip.contains(&shape.subband_names[k].as_str()) {
            continue;
        }
        let mut file = Uvh5File::open(path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
        let h = file.header().clone();
        let n_pol = h.n_pols;
        let integration = shape.row_integrations(&h.time_jd).unwrap();
        let ant1: Vec<u32> = h.ant_1_array.iter().map(|&a| a as u32).collect();
        let ant2: Vec<u32> = h.ant_2_array.iter().map(|&a| a as u32).collect();
        let freq: Vec<f64> = h.freq_hz.iter().rev().copied().collect();
        for r0 in (0..h.n_blts).step_by(rows_per_block) {
            let r1 = (r0 + rows_per_block).min(h.n_blts);
            let n = (r1 - r0) * w * n_pol;
            let mut rows = dsa110_convert::uvh5::RowBuffers::new(r1 - r0, w * n_pol);
            file.read_rows(r0, r1, &mut rows.vis, &mut rows.flags, &mut rows.nsamples)
                .unwrap();
            let (vis, flags, ns) = (
                ascending(&rows.vis, w, n_pol),
                ascending(&rows.flags, w, n_pol),
                ascending(&rows.nsamples, w, n_pol),
            );
            assert_eq!(vis.len(), n);
            acc.add(&QaBlock {
                first_channel: k * w,
                freq_hz: &freq,
                ant1: &ant1[r0..r1],
                ant2: &ant2[r0..r1],
                integration: &integration[r0..r1],
                vis: &vis,
                flags: &flags,
                nsamples: &ns,
                conjugation: Conjugation::Uvh5,
            })
            .unwrap();
        }
    }
    acc.finish()
}

/// `a` and `b` equal but for rounding of sums taken in another order.
fn assert_json_close(path: &str, a: &Value, b: &Value) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!(
                (x - y).abs() <= 1e-9 * y.abs().max(1e-9),
                "{path}: {x} vs {y}"
            );
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{path}");
            for (k, (u, v)) in x.iter().zip(y).enumerate() {
                assert_json_close(&format!("{path}[{k}]"), u, v);
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{path}"
            );
            for (key, u) in x {
                if key != "input" && key != "message" {
                    assert_json_close(&format!("{path}.{key}"), u, &y[key]);
                }
            }
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn subbands_in_any_order_and_any_row_split_give_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(dir.path(), all_faults());
    let (opened, group) = group::open_files(&files, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    let whole = qa::accumulate_group(&group, opened, &qa::group_shape(&group, "g")).unwrap();
    let pieces = per_subband(&files, 37, &[]);
    assert_json_close(
        "report",
        &serde_json::to_value(&pieces).unwrap(),
        &serde_json::to_value(&whole).unwrap(),
    );
}

#[test]
fn a_subband_that_never_arrives_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(dir.path(), small_config());
    let report = serde_json::to_value(per_subband(&files, 1000, &["sb07"])).unwrap();
    assert_eq!(report["verdict"], "bad");
    assert_eq!(kinds(&report), ["missing_subband"]);
    assert_eq!(problems(&report, "missing_subband")[0]["subband"], "sb07");
}

#[test]
fn the_dashboard_is_a_png_of_the_stated_size_and_not_blank() {
    let qa = qa_of(all_faults());
    let group = qa.report["group"].as_str().unwrap();
    let (_, png_path) = qa::output_paths(&qa.out, group);
    let decoder = png::Decoder::new(std::fs::File::open(&png_path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), qa::PNG_SIZE);
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels: Vec<[u8; 3]> = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    let luma: Vec<f64> = pixels
        .iter()
        .map(|p| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64)
        .collect();
    let mean = luma.iter().sum::<f64>() / luma.len() as f64;
    let variance = luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / luma.len() as f64;
    assert!(variance > 500.0, "luminance variance {variance}: blank?");
    let inked = pixels.iter().filter(|p| **p != [255, 255, 255]).count();
    assert!(
        inked as f64 > 0.1 * pixels.len() as f64,
        "{inked} of {} pixels drawn",
        pixels.len()
    );
    // The title is in the verdict's colour: red for a bad group.
    let width = info.width as usize;
    let title_red = pixels[..60 * width]
        .iter()
        .filter(|p| p[0] > 180 && p[1] < 60 && p[2] < 60)
        .count();
    assert!(title_red > 200, "{title_red} red pixels in the title");
}

#[test]
fn a_file_that_is_not_uvh5_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("2025-01-15T12:00:00_sb00.hdf5");
    std::fs::write(&bad, b"not hdf5").unwrap();
    let (code, _, err) = run_cli(&[&"-q", &"qa", &"-o", &dir.path(), &bad]);
    assert_ne!(code, 0);
    assert!(err.contains(&bad.display().to_string()), "{err}");
    assert!(!dir.path().join("2025-01-15T12:00:00.qa.json").exists());
}

#[test]
fn a_one_window_measurement_set_is_cut_into_the_sixteen_subbands() {
    let qa = qa_of(all_faults());
    let ms = convert(&qa.files, &qa.out.join("ms"), &["--spw-layout", "merged"]);
    let (code, stdout, err) = run_cli(&[&"-q", &"qa", &ms]);
    assert_eq!(code, 0, "qa of the MS failed: {err}");
    let report = read_report(ms.parent().unwrap());
    assert_eq!(report["n_subbands"], 16);
    assert_eq!(report["subbands"][5]["name"], "sb10");
    let cal = report["calibrator"]["integration"].to_string();
    let reference = oracle("qa_ref.py", &[&"ms", &cal, &ms]);
    assert_statistics(&report, &reference);
    assert_eq!(report["problems"], qa.report["problems"]);
    assert_eq!(stdout, qa.stdout);
}

#[test]
fn a_group_found_by_directory_and_timestamp_is_the_same_group() {
    let qa = qa_of(all_faults());
    let dir = qa.files[0].parent().unwrap();
    let out = qa.out.join("by-time");
    let ts = qa.report["group"].as_str().unwrap();
    let (code, stdout, err) = run_cli(&[
        &"-q",
        &"qa",
        &"--input",
        &dir,
        &"--timestamp",
        &ts,
        &"-o",
        &out,
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout, qa.stdout);
    assert_eq!(read_report(&out), qa.report);
}

/// `convert --qa` with `extra` options on the group with every fault: the
/// QA written beside the MS, from the converter's own buffers.
fn convert_qa(qa: &Qa, extra: &[&str]) -> Value {
    let out = qa
        .out
        .parent()
        .unwrap()
        .join(format!("convert{}", extra.len()));
    let ms = convert(&qa.files, &out, &[&["--qa"], extra].concat());
    let report = read_report(ms.parent().unwrap());
    assert_eq!(report["input"], "convert");
    report
}

#[test]
fn convert_qa_finds_what_qa_of_the_files_finds_in_both_layouts() {
    let qa = qa_of(all_faults());
    for extra in [&[][..], &["--spw-layout", "merged"]] {
        let ours = convert_qa(&qa, extra);
        assert_eq!(ours["verdict"], qa.report["verdict"], "{extra:?}");
        assert_eq!(ours["problems"], qa.report["problems"], "{extra:?}");
        // The statistics are those of the files (phase corrections change
        // no amplitude, flag or nsamples).
        let cal = qa.report["calibrator"]["integration"]
            .as_i64()
            .unwrap()
            .to_string();
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"files", &cal];
        for f in &qa.files {
            args.push(f);
        }
        assert_statistics(&ours, &oracle("qa_ref.py", &args));
    }
}
