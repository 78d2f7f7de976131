//! The raw reader on any chunk layout: files rewritten by h5py the way the
//! correlator writer lays out its bytes (empty resizable datasets, h5py's
//! automatic chunks, one integration appended at a time), compressed
//! variants, a chunk grid that divides nothing evenly, and the real files.
//! Every case is read raw and through the HDF5 library (bit for bit equal)
//! and compared with h5py's own reading of the same file.

mod common;

use std::path::{Path, PathBuf};

use common::{bools, f64s, oracle, shared_data, small_config, small_group};
use dsa110_convert::uvh5::{
    read_header, ReadPath, RowBuffers, Uvh5File, DEFAULT_CHUNK_CACHE_BYTES,
};

/// A simulated subband file rewritten by `tests/oracle/relayout.py` in
/// `mode`; returns the file and the chunk shapes h5py chose.
fn relayout(dir: &Path, mode: &str) -> (PathBuf, serde_json::Value) {
    relayout_of(&source_file(dir), dir, mode)
}

/// A subband file of a small simulated group with noise, in `dir/sim`.
fn source_file(dir: &Path) -> PathBuf {
    let mut cfg = small_config();
    cfg.noise_jy = 1.0;
    small_group(&dir.join("sim"), cfg).swap_remove(3)
}

/// `src` rewritten by `tests/oracle/relayout.py` in `mode` into `dir`.
fn relayout_of(src: &Path, dir: &Path, mode: &str) -> (PathBuf, serde_json::Value) {
    let dst = dir.join(format!("{mode}.hdf5"));
    let chunks = oracle("relayout.py", &[&src, &dst, &mode]);
    (dst, chunks)
}

/// Every row of `path`, read raw (unless the file needs the library) and
/// through the library.
fn read_both(path: &Path) -> (RowBuffers, RowBuffers, [ReadPath; 3]) {
    let h = read_header(path).unwrap();
    let read = |library: bool| {
        let mut f = Uvh5File::open(path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
        if library {
            f.force_library();
        }
        let paths = f.read_paths();
        let mut b = RowBuffers::new(h.n_blts, h.per_row());
        f.read_rows(0, h.n_blts, &mut b.vis, &mut b.flags, &mut b.nsamples)
            .unwrap();
        (b, paths)
    };
    let (raw, paths) = read(false);
    let (lib, _) = read(true);
    (raw, lib, paths)
}

fn bits(b: &RowBuffers) -> Vec<(u32, u32)> {
    b.vis
        .iter()
        .map(|v| (v.re.to_bits(), v.im.to_bits()))
        .collect()
}

/// Raw equals library bit for bit, and both equal h5py's values.
fn assert_reads_like_h5py(path: &Path) {
    let (raw, lib, _) = read_both(path);
    assert_eq!(bits(&raw), bits(&lib), "visdata raw vs library");
    assert_eq!(raw.flags, lib.flags, "flags raw vs library");
    assert_eq!(raw.nsamples, lib.nsamples, "nsamples raw vs library");
    let want = oracle("uvh5_dump.py", &[&path]);
    let (re, im) = (f64s(&want["vis_re"]), f64s(&want["vis_im"]));
    for (i, v) in raw.vis.iter().enumerate() {
        assert_eq!((v.re as f64, v.im as f64), (re[i], im[i]), "visibility {i}");
    }
    let flags = bools(&want["flags"]);
    assert_eq!(raw.flags, flags);
    assert!(raw.flags.iter().any(|&f| f) && raw.flags.iter().any(|&f| !f));
    let ns: Vec<f32> = f64s(&want["nsamples"]).iter().map(|&x| x as f32).collect();
    assert_eq!(raw.nsamples, ns);
    // The per-row header arrays, read raw from chunks as well.
    let h = read_header(path).unwrap();
    assert_eq!(h.time_jd, f64s(&want["time_array"]));
    let ants = |v: &[i64]| v.iter().map(|&a| a as f64).collect::<Vec<_>>();
    assert_eq!(ants(&h.ant_1_array), f64s(&want["ant_1_array"]));
    assert_eq!(ants(&h.ant_2_array), f64s(&want["ant_2_array"]));
    let uvw: Vec<f64> = h.uvw_m.iter().flatten().copied().collect();
    assert_eq!(uvw, f64s(&want["uvw_array"]));
    assert_eq!(h.integration_time_s, f64s(&want["integration_time"]));
}

/// The reader reports h5py's chunk shapes and reads every dataset raw.
fn assert_raw_with_h5py_chunks(path: &Path, chunks: &serde_json::Value) {
    let f = Uvh5File::open(path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    for d in f.datasets() {
        assert_eq!(d.path, ReadPath::Raw, "{} {:?}", d.name, d.why_library);
        let want: Vec<usize> = f64s(&chunks[d.name]).iter().map(|&c| c as usize).collect();
        assert_eq!(d.chunk.as_deref(), Some(&want[..]), "{}", d.name);
    }
}

#[test]
fn correlator_layout_reads_raw_like_h5py() {
    let dir = tempfile::tempdir().unwrap();
    let (path, chunks) = relayout(dir.path(), "correlator");
    assert_raw_with_h5py_chunks(&path, &chunks);
    // h5py's chunks cut rows: a chunk holds part of a row's channels.
    let vis_chunk = f64s(&chunks["Data/visdata"]);
    assert!(vis_chunk[3] < 2.0 || vis_chunk[2] < 8.0, "{vis_chunk:?}");
    assert_reads_like_h5py(&path);
}

#[test]
fn unusable_values_in_raw_chunks_come_back_flagged_as_zero() {
    let dir = tempfile::tempdir().unwrap();
    let src = source_file(dir.path());
    let (clean, _) = relayout_of(&src, dir.path(), "correlator");
    let (dirty, out) = relayout_of(&src, dir.path(), "dirty");
    // What h5py reads of the clean file, with the poisoned cells as the
    // reader must return them: 0 and flagged; the flag byte 2 as true.
    let want = oracle("uvh5_dump.py", &[&clean]);
    let (mut re, mut im, mut ns) = (
        f64s(&want["vis_re"]),
        f64s(&want["vis_im"]),
        f64s(&want["nsamples"]),
    );
    let mut flags = bools(&want["flags"]);
    let cells = |key: &str| -> Vec<usize> {
        f64s(&out["poisoned"][key])
            .iter()
            .map(|&k| k as usize)
            .collect()
    };
    for k in cells("vis") {
        (re[k], im[k], flags[k]) = (0.0, 0.0, true);
    }
    for k in cells("nsamples") {
        (ns[k], flags[k]) = (0.0, true);
    }
    let flag_byte = out["poisoned"]["flag"].as_u64().unwrap() as usize;
    flags[flag_byte] = true;

    let (raw, lib, paths) = read_both(&dirty);
    assert_eq!(paths, [ReadPath::Raw; 3]);
    for (k, v) in raw.vis.iter().enumerate() {
        assert_eq!((v.re as f64, v.im as f64), (re[k], im[k]), "visibility {k}");
    }
    let ns_raw: Vec<f64> = raw.nsamples.iter().map(|&x| x as f64).collect();
    assert_eq!(ns_raw, ns);
    assert_eq!(raw.flags, flags);
    // The library path sanitizes the same way.
    assert_eq!(bits(&raw), bits(&lib), "visdata raw vs library");
    assert_eq!(raw.nsamples, lib.nsamples, "nsamples raw vs library");
    let differ: Vec<usize> = (0..flags.len())
        .filter(|&k| raw.flags[k] != lib.flags[k])
        .collect();
    assert!(differ.is_empty() || differ == [flag_byte], "{differ:?}");
}

#[test]
fn gzip_and_shuffle_chunks_read_raw_like_h5py() {
    let dir = tempfile::tempdir().unwrap();
    let (path, chunks) = relayout(dir.path(), "gzip-shuffle");
    assert_raw_with_h5py_chunks(&path, &chunks);
    let f = Uvh5File::open(&path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    assert_eq!(f.datasets()[0].filters, ["shuffle", "deflate(4)"]);
    assert_reads_like_h5py(&path);
}

#[test]
fn lzf_chunks_read_raw_like_h5py() {
    let dir = tempfile::tempdir().unwrap();
    let (path, chunks) = relayout(dir.path(), "lzf");
    assert_raw_with_h5py_chunks(&path, &chunks);
    assert_reads_like_h5py(&path);
}

#[test]
fn a_chunk_grid_that_divides_nothing_evenly_reads_like_h5py() {
    let dir = tempfile::tempdir().unwrap();
    let (path, chunks) = relayout(dir.path(), "odd");
    assert_raw_with_h5py_chunks(&path, &chunks);
    assert_reads_like_h5py(&path);
}

#[test]
fn row_ranges_cutting_chunks_equal_the_same_rows_of_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = relayout(dir.path(), "odd");
    let (all, _, _) = read_both(&path);
    let h = read_header(&path).unwrap();
    let per_row = h.per_row();
    let mut f = Uvh5File::open(&path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    for (r0, r1) in [(0, 1), (3, 11), (6, 7), (50, 200), (h.n_blts - 5, h.n_blts)] {
        let mut b = RowBuffers::new(r1 - r0, per_row);
        f.read_rows(r0, r1, &mut b.vis, &mut b.flags, &mut b.nsamples)
            .unwrap();
        let span = r0 * per_row..r1 * per_row;
        assert_eq!(b.vis, all.vis[span.clone()], "rows {r0}..{r1}");
        assert_eq!(b.flags, all.flags[span.clone()], "rows {r0}..{r1}");
        assert_eq!(b.nsamples, all.nsamples[span], "rows {r0}..{r1}");
    }
}

#[test]
fn real_files_read_raw_where_they_can_and_equal_the_library_bit_for_bit() {
    // (file, visdata, flags, nsamples read raw?)
    let cases = [
        (
            "uvh5-real/ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5",
            [true; 3],
        ),
        (
            "uvh5-real/ata.LoA.C0544.uvh5_60647_62965_9760406_3c286_0001.uvh5",
            [true; 3],
        ),
        // int32 and complex128 visibilities: the library converts them;
        // their LZF flags and nsamples are decoded raw.
        ("uvh5-real/zen.2458432.34569.uvh5", [false, true, true]),
        ("uvh5-real/zen.2458661.23480.HH.uvh5", [false, true, true]),
        (
            "uvh5-real/1061315448_20130823175130_mini_vv_07_01.uvh5",
            [false, true, true],
        ),
    ];
    for (rel, want) in cases {
        let path = shared_data(rel);
        let (raw, lib, paths) = read_both(&path);
        let raw_paths = paths.map(|p| p == ReadPath::Raw);
        assert_eq!(raw_paths, want, "{rel}");
        assert_eq!(bits(&raw), bits(&lib), "{rel}");
        assert_eq!(raw.flags, lib.flags, "{rel}");
        assert_eq!(raw.nsamples, lib.nsamples, "{rel}");
    }
}

#[test]
fn convert_dry_run_prints_each_datasets_read_path_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("sim"), small_config());
    let out = dir.path().join("out");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"convert",
        &"--dry-run",
        &"--json",
        &"--backend",
        &"cpu",
        &"-o",
        &out,
    ];
    for f in &files {
        args.push(f);
    }
    let (code, stdout, stderr) = common::run_cli(&args);
    assert_eq!(code, 0, "{stderr}");
    assert!(!out.exists(), "a dry run wrote {}", out.display());
    let plans: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let plan = &plans[0];
    assert_eq!(plan["files"].as_array().unwrap().len(), files.len());
    assert_eq!(plan["spectral_windows"], 16);
    assert_eq!(plan["phase_center_mode"], "meridian");
    assert_eq!(
        plan["fields"].as_array().unwrap().len(),
        small_config().n_times
    );
    for f in plan["files"].as_array().unwrap() {
        for d in f["datasets"].as_array().unwrap() {
            assert_eq!(d["path"], "raw", "{d}");
            assert!(d["chunk"].is_array(), "{d}");
        }
    }
    // A file whose visibilities (complex128) the library converts says so, and why.
    let mwa = shared_data("uvh5-real/1061315448_20130823175130_mini_vv_07_01.uvh5");
    let (code, text, stderr) = common::run_cli(&[
        &"convert",
        &"--dry-run",
        &"--backend",
        &"cpu",
        &"--phase-center",
        &"10,-30",
        &"-o",
        &out,
        &mwa,
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        text.contains("Data/visdata") && text.contains("library (stored type differs"),
        "{text}"
    );
    assert!(!out.exists());
}
