//! The simulator writes what the correlator writes: h5py's chunk shapes,
//! the correlator writer's layout (checked against an h5py re-write of the
//! same arrays, tests/oracle/correlator_writer.py), its antenna and
//! baseline order, its channel frequencies, nsamples and header types.

mod common;

use std::path::{Path, PathBuf};

use common::{oracle, run_cli, small_config};
use dsa110_convert::sim::{
    antennas_with_data, correlator_baselines, guess_chunk, simulate_group, FileLayout, SimConfig,
    DUMPS_PER_INTEGRATION,
};
use dsa110_convert::telescope;
use dsa110_convert::uvh5::{read_header, Header, RowBuffers, Uvh5File, DEFAULT_CHUNK_CACHE_BYTES};
use serde_json::Value;

/// A group small enough to be quick, with the real 48 channels (so the
/// real chunk shapes) and rows enough for several chunks per integration
/// boundary: 12 antennas (78 baselines), 5 integrations, 2 subbands.
fn config() -> SimConfig {
    SimConfig {
        n_ants: 12,
        n_times: 5,
        n_subbands: 2,
        noise_jy: 1.0,
        ..SimConfig::default()
    }
}

fn simulate(dir: &Path, cfg: &SimConfig) -> Vec<PathBuf> {
    simulate_group(cfg, dir).expect("simulating").1
}

/// h5py's description of each file's datasets (correlator_writer.py describe).
fn describe(files: &[&Path]) -> Vec<Value> {
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = std::iter::once(&"describe" as _)
        .chain(files.iter().map(|f| f as &dyn AsRef<std::ffi::OsStr>))
        .collect();
    oracle("correlator_writer.py", &args)
        .as_array()
        .expect("a list")
        .clone()
}

/// Every row of `path` through our reader.
fn rows(path: &Path) -> (Header, RowBuffers) {
    let mut f = Uvh5File::open(path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    let h = f.header().clone();
    let mut b = RowBuffers::new(h.n_blts, h.per_row());
    f.read_rows(0, h.n_blts, &mut b.vis, &mut b.flags, &mut b.nsamples)
        .unwrap();
    (h, b)
}

/// A header as JSON, without the path.
fn header_json(h: &Header) -> Value {
    let mut v = serde_json::to_value(h).unwrap();
    v.as_object_mut().unwrap().remove("path");
    v
}

fn assert_same_rows(a: &RowBuffers, b: &RowBuffers, what: &str) {
    let bits = |r: &RowBuffers| {
        r.vis
            .iter()
            .map(|v| (v.re.to_bits(), v.im.to_bits()))
            .collect::<Vec<_>>()
    };
    assert!(bits(a) == bits(b), "{what}: visibilities differ");
    assert!(a.flags == b.flags, "{what}: flags differ");
    let ns = |r: &RowBuffers| r.nsamples.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(ns(a) == ns(b), "{what}: nsamples differ");
}

/// East and north offsets (metres) of the 0-based antenna numbers `ants`
/// from the array centre, on a local tangent plane.
fn east_north_m(ants: &[u32]) -> Vec<(f64, f64)> {
    const EARTH_RADIUS_M: f64 = 6_371_000.0;
    let stations = telescope::stations();
    let (lat0, lon0) = (
        telescope::ARRAY_LATITUDE_DEG.to_radians(),
        telescope::ARRAY_LONGITUDE_DEG.to_radians(),
    );
    ants.iter()
        .map(|&a| {
            let s = &stations[a as usize];
            (
                (s.longitude_deg.to_radians() - lon0) * lat0.cos() * EARTH_RADIUS_M,
                (s.latitude_deg.to_radians() - lat0) * EARTH_RADIUS_M,
            )
        })
        .collect()
}

fn extent(v: impl Iterator<Item = f64> + Clone) -> f64 {
    v.clone().fold(f64::NEG_INFINITY, f64::max) - v.fold(f64::INFINITY, f64::min)
}

#[test]
fn chunk_shapes_are_h5pys() {
    let mut cases: Vec<(Vec<usize>, usize)> = vec![
        // The DSA-110 datasets, 48 channels x 2 polarizations.
        (vec![0, 1, 48, 2], 8),
        (vec![0, 1, 48, 2], 1),
        (vec![0, 1, 48, 2], 4),
        (vec![0], 8),
        (vec![0, 3], 4),
        (vec![0, 3], 8),
        // Odd shapes: tiny, huge, fixed, scalar-like, huge elements.
        (vec![1], 1),
        (vec![7], 3),
        (vec![1000, 1000], 8),
        (vec![100_000, 3], 8),
        (vec![0, 1, 1, 1], 16),
        (vec![5, 0, 7], 2),
        (vec![3, 3], 4 << 20),
        (vec![0, 2048, 2048], 1),
    ];
    for n_freqs in [1, 4, 8, 16, 32, 64, 384, 768, 1024] {
        for n_pols in [1, 2, 4] {
            for typesize in [1, 4, 8, 16] {
                cases.push((vec![0, 1, n_freqs, n_pols], typesize));
                cases.push((vec![0, n_freqs, n_pols], typesize));
            }
        }
    }
    let json = serde_json::to_string(&cases).unwrap();
    let want = oracle("correlator_writer.py", &[&"guess_chunk", &json]);
    let want = want.as_array().unwrap();
    assert_eq!(want.len(), cases.len());
    for ((shape, typesize), w) in cases.iter().zip(want) {
        let w: Vec<usize> = serde_json::from_value(w.clone()).unwrap();
        assert_eq!(
            guess_chunk(shape, *typesize),
            w,
            "shape {shape:?}, {typesize} bytes"
        );
    }
    // The data doc's numbers.
    assert_eq!(guess_chunk(&[0, 1, 48, 2], 8), [128, 1, 12, 1]);
    assert_eq!(guess_chunk(&[0, 1, 48, 2], 1), [256, 1, 24, 1]);
    assert_eq!(guess_chunk(&[0, 1, 48, 2], 4), [256, 1, 12, 1]);
    assert_eq!(guess_chunk(&[0], 8), [1024]);
    assert_eq!(guess_chunk(&[0, 3], 4), [512, 3]);
}

#[test]
fn files_are_laid_out_as_h5pys_correlator_writer_lays_them_out() {
    for gzip_level in [None, Some(4)] {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SimConfig {
            gzip_level,
            partial_last_dumps: Some(40),
            ..config()
        };
        let files = simulate(dir.path(), &cfg);
        for ours in &files {
            let theirs = dir.path().join("theirs.hdf5");
            oracle("correlator_writer.py", &[&"rewrite", ours, &theirs]);
            let d = describe(&[ours, &theirs]);
            let (a, b) = (d[0].as_object().unwrap(), d[1].as_object().unwrap());
            assert_eq!(
                a.keys().collect::<Vec<_>>(),
                b.keys().collect::<Vec<_>>(),
                "{gzip_level:?}"
            );
            for (name, x) in a {
                // Shape, maxshape, chunks, storage, HDF5 type, filters, the
                // order of the chunks in the file, small values.
                assert_eq!(x, &b[name], "{name}, gzip {gzip_level:?}");
            }
            let vis = &a["Data/visdata"];
            assert_eq!(vis["chunks"], serde_json::json!([128, 1, 12, 1]));
            assert_eq!(vis["maxshape"], serde_json::json!([null, 1, 48, 2]));
            assert_eq!(a["Header/uvw_array"]["chunks"], serde_json::json!([512, 3]));
            assert_eq!(a["Header/freq_array"]["layout"], "contiguous");
            assert_eq!(
                vis["compression"],
                gzip_level.map_or(Value::Null, |_| "gzip".into())
            );
            // Our reader reads both files the same.
            let (ha, ra) = rows(ours);
            let (hb, rb) = rows(&theirs);
            assert_eq!(header_json(&ha), header_json(&hb));
            assert_same_rows(&ra, &rb, &format!("{}", ours.display()));
            std::fs::remove_file(&theirs).unwrap();
        }
    }
}

#[test]
fn the_whole_integration_layout_holds_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        partial_last_dumps: Some(7),
        ..config()
    };
    let corr = simulate(&dir.path().join("corr"), &cfg);
    let whole = simulate(
        &dir.path().join("whole"),
        &SimConfig {
            layout: FileLayout::WholeIntegration,
            ..cfg
        },
    );
    let (ha, ra) = rows(&corr[1]);
    let (hb, rb) = rows(&whole[1]);
    assert_eq!(header_json(&ha), header_json(&hb));
    assert_same_rows(&ra, &rb, "whole-integration layout");
    let d = describe(&[&whole[1]]);
    assert_eq!(
        d[0]["Data/visdata"]["chunks"],
        serde_json::json!([78, 1, 48, 2])
    );
    assert_eq!(d[0]["Header/ant_1_array"]["layout"], "contiguous");
}

#[test]
fn channel_frequencies_follow_the_correlators_formula() {
    let dir = tempfile::tempdir().unwrap();
    let files = simulate(
        dir.path(),
        &SimConfig {
            n_ants: 2,
            n_times: 1,
            ..SimConfig::default()
        },
    );
    assert_eq!(files.len(), 16);
    for (n, f) in files.iter().enumerate() {
        let h = read_header(f).unwrap();
        assert_eq!(h.freq_hz.len(), 48);
        for (m, &got) in h.freq_hz.iter().enumerate() {
            let want = 1.53e9 - (1024.0 + 384.0 * n as f64 + 8.0 * m as f64 + 3.5) * 30517.578125;
            assert_eq!(got, want, "sb{n:02} channel {m}");
        }
        assert!(h.channel_width_hz.iter().all(|&w| w == 244_140.625));
    }
    assert_eq!(
        read_header(&files[0]).unwrap().freq_hz[0],
        1_498_643_188.476_562_5
    );
    assert_eq!(
        read_header(&files[15]).unwrap().freq_hz[47],
        1_311_387_329.101_562_5
    );
}

#[test]
fn test_groups_are_two_dimensional_subsets_in_correlator_order() {
    let counts = [8, 12, 24, 32, 96, small_config().n_ants];
    for n in counts {
        let ants = antennas_with_data(n);
        assert_eq!(ants.len(), n);
        let mut sorted = ants.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), n, "{n}: distinct antennas");
        assert_ne!(sorted, ants, "{n}: the correlator order is not sorted");
        assert_ne!(
            sorted,
            (0..n as u32).collect::<Vec<_>>(),
            "{n}: not the first n"
        );
        let en = east_north_m(&ants);
        let (east, north) = (
            extent(en.iter().map(|p| p.0)),
            extent(en.iter().map(|p| p.1)),
        );
        // Both arms: the east-west arm is ~400 m long, the north-south ~440 m.
        assert!(
            east > 300.0 && north > 300.0,
            "{n}: {east:.0} m x {north:.0} m"
        );
    }
    assert_eq!(antennas_with_data(96).len(), 96);
    assert!(
        antennas_with_data(96).iter().any(|&a| a >= 102),
        "outriggers"
    );
}

#[test]
fn baselines_run_in_correlator_order_with_uvw_from_ant_1_to_ant_2() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config();
    let files = simulate(dir.path(), &cfg);
    let h = read_header(&files[0]).unwrap();
    let ants = antennas_with_data(cfg.n_ants);
    let bls = correlator_baselines(&ants);
    assert_eq!(h.n_ants_data, cfg.n_ants);
    assert_eq!(h.n_bls, bls.len());
    for t in 0..cfg.n_times {
        for (k, &(a1, a2)) in bls.iter().enumerate() {
            let r = t * bls.len() + k;
            assert_eq!((h.ant_1_array[r], h.ant_2_array[r]), (a1 as i64, a2 as i64));
        }
    }
    let swapped = (0..h.n_bls)
        .filter(|&r| h.ant_1_array[r] > h.ant_2_array[r])
        .count();
    assert!(swapped > h.n_bls / 4, "{swapped} rows with ant_1 > ant_2");
    // uvw = pos(ant_2) - pos(ant_1): its length is the baseline's, u points
    // east from ant_1 to ant_2 (the meridian frame), stored as float32.
    for r in 0..h.n_bls {
        let (a1, a2) = (h.ant_1_array[r] as usize, h.ant_2_array[r] as usize);
        let (p1, p2) = (h.antenna_positions_m[a1], h.antenna_positions_m[a2]);
        let b: f64 = (0..3).map(|i| (p2[i] - p1[i]).powi(2)).sum::<f64>().sqrt();
        let uvw = h.uvw_m[r];
        let len = uvw.iter().map(|x| x * x).sum::<f64>().sqrt();
        assert!((len - b).abs() < 1e-3, "row {r}: |uvw| {len} vs {b} m");
        let en = east_north_m(&[a1 as u32, a2 as u32]);
        let east = en[1].0 - en[0].0;
        // (Our tangent plane uses a spherical Earth: 0.3% off.)
        assert!(
            (uvw[0] - east).abs() < 1.0 + 0.01 * east.abs(),
            "row {r}: u {} vs {east} m",
            uvw[0]
        );
        for x in uvw {
            assert_eq!(x, x as f32 as f64, "float32 uvw");
        }
    }
}

#[test]
fn nsamples_count_dumps_and_a_partial_last_integration_has_fewer_and_nans() {
    let dir = tempfile::tempdir().unwrap();
    let files = simulate(
        dir.path(),
        &SimConfig {
            partial_last_dumps: Some(40),
            ..config()
        },
    );
    let (h, b) = rows(&files[1]);
    let per_int = h.n_bls * h.per_row();
    let last = per_int * (h.n_times - 1);
    // Full integrations: every cell averages all dumps, none flagged.
    assert!(b.nsamples[..last]
        .iter()
        .all(|&n| n == DUMPS_PER_INTEGRATION as f32));
    assert!(!b.flags[..last].iter().any(|&f| f));
    // The partial one: fewer dumps, and NaN (no valid dump, nsamples 0)
    // here and there, which the reader flags.
    let (mut partial, mut nan) = (0, 0);
    for k in last..b.nsamples.len() {
        match b.nsamples[k] {
            40.0 => {
                partial += 1;
                assert!(!b.flags[k], "cell {k}");
            }
            0.0 => {
                nan += 1;
                assert!(b.flags[k], "NaN cell {k} not flagged");
            }
            other => panic!("cell {k}: nsamples {other}"),
        }
    }
    assert!(
        nan > 0 && partial > 50 * nan,
        "{partial} partial, {nan} NaN"
    );
}

#[test]
fn header_strings_and_extra_keywords_are_typed_like_the_correlators() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config();
    let files = simulate(dir.path(), &cfg);
    let d = &describe(&[&files[0]])[0];
    const NULLPAD: i64 = 1;
    const ASCII: i64 = 0;
    const UTF8: i64 = 1;
    let epoch = &d["Header/extra_keywords/phase_center_epoch"];
    assert_eq!(epoch["h5type"]["size"], "variable");
    assert_eq!(epoch["h5type"]["cset"], UTF8);
    assert_eq!(epoch["value"], "HADEC");
    for name in [
        "Header/telescope_name",
        "Header/instrument",
        "Header/phase_type",
        "Header/history",
        "Header/object_name",
        "Header/extra_keywords/fs_table",
        "Header/extra_keywords/applied_delays_ns",
    ] {
        let t = &d[name]["h5type"];
        let value = d[name]["value"].as_str().unwrap();
        assert_eq!(t["class"], "string", "{name}");
        assert_eq!(t["size"].as_u64(), Some(value.len() as u64), "{name}");
        assert_eq!(
            (&t["strpad"], &t["cset"]),
            (&NULLPAD.into(), &ASCII.into()),
            "{name}"
        );
    }
    assert_eq!(d["Header/telescope_name"]["value"], "OVRO_MMA");
    assert_eq!(d["Header/phase_type"]["value"], "drift");
    assert!(d["Header/extra_keywords/fs_table"]["value"]
        .as_str()
        .unwrap()
        .ends_with(".npz"));
    let delays: Vec<i64> = d["Header/extra_keywords/applied_delays_ns"]["value"]
        .as_str()
        .unwrap()
        .split(' ')
        .map(|s| s.parse().unwrap())
        .collect();
    assert_eq!(delays.len(), 2 * cfg.n_ants);
    assert_eq!(d["Header/antenna_names"]["dtype"], "|S4");
    assert_eq!(d["Header/spw_array"]["value"], serde_json::json!([1]));
    assert_eq!(d["Header/uvw_array"]["dtype"], "<f4");
    assert_eq!(d["Data/flags"]["h5type"]["class"], "enum");
    assert_eq!(d["Data/visdata"]["h5type"]["class"], "compound");
}

#[test]
fn the_cli_takes_layout_and_partial_last_and_refuses_bad_channel_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("g");
    let (code, stdout, err) = run_cli(&[
        &"-q",
        &"simulate",
        &"--out",
        &out,
        &"--n-ants",
        &"8",
        &"--n-times",
        &"2",
        &"--subbands",
        &"1",
        &"--channels",
        &"8",
        &"--layout",
        &"whole-integration",
        &"--partial-last",
        &"10",
    ]);
    assert_eq!(code, 0, "{err}");
    let file = PathBuf::from(stdout.trim());
    let (h, b) = rows(&file);
    assert_eq!(h.n_bls, 36);
    assert!(b.nsamples[h.n_bls * h.per_row()..]
        .iter()
        .all(|&n| n == 10.0 || n == 0.0));
    let d = describe(&[&file]);
    assert_eq!(
        d[0]["Data/visdata"]["chunks"],
        serde_json::json!([36, 1, 8, 2])
    );
    let (code, _, err) = run_cli(&[&"simulate", &"--out", &out, &"--channels", &"7"]);
    assert_ne!(code, 0);
    assert!(err.contains("384"), "{err}");
}

#[test]
fn a_group_with_a_partial_last_integration_converts_with_its_nan_cells_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig {
        partial_last_dumps: Some(30),
        ..small_config()
    };
    let files = simulate(&dir.path().join("in"), &cfg);
    let ms = common::convert(&files, &dir.path().join("out"), &[]);
    let got = oracle("ms_finite.py", &[&ms]);
    for k in [
        "nonfinite_data",
        "nonfinite_weight",
        "nonfinite_sigma",
        "nonfinite_uvw",
    ] {
        assert_eq!(got[k], 0, "{k}: {got}");
    }
    // One NaN cell of NAN_CELL_PERIOD per file in the last integration.
    let cells = (cfg.n_ants * (cfg.n_ants + 1) / 2) * cfg.chans_per_subband * 2;
    let nan_per_file = cells.div_ceil(dsa110_convert::sim::NAN_CELL_PERIOD);
    assert_eq!(
        got["flagged"].as_u64(),
        Some((nan_per_file * cfg.n_subbands) as u64),
        "{got}"
    );
}
