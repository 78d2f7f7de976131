//! Groups: the simulator's files as pyuvdata reads them, joining subbands in
//! ascending frequency, and the raw reader against the HDF5 library.

mod common;

use common::{f64s, oracle, shared_data, small_config, small_group};
use dsa110_convert::group;
use dsa110_convert::uvh5::{
    read_header, PhaseCenter, ReadPath, RowBuffers, RowsOut, Uvh5File, DEFAULT_CHUNK_CACHE_BYTES,
};

#[test]
fn simulated_files_read_the_same_in_pyuvdata() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.noise_jy = 1.0;
    let files = small_group(dir.path(), cfg.clone());
    let want = oracle("pyuvdata_read.py", &[&files[5]]);
    let h = read_header(&files[5]).unwrap();
    assert_eq!(h.n_blts as u64, want["Nblts"].as_u64().unwrap());
    assert_eq!(h.n_bls, 78);
    assert_eq!(h.n_bls as u64, want["Nbls"].as_u64().unwrap());
    assert_eq!(h.n_times as u64, want["Ntimes"].as_u64().unwrap());
    assert_eq!(h.time_jd, f64s(&want["time_array"]));
    assert_eq!(h.freq_hz, f64s(&want["freq_array"]));
    // Descending channels inside the file, one channel width apart (8
    // channels per file: 48 correlator channels of 30.517578125 kHz each).
    let width = dsa110_convert::telescope::channel_width_hz(cfg.chans_per_subband);
    assert_eq!(width, 48.0 * 30_517.578_125);
    assert!(h.freq_hz.windows(2).all(|w| w[0] - w[1] == width));
    let flat = |v: &[[f64; 3]]| v.iter().flatten().copied().collect::<Vec<_>>();
    assert_eq!(flat(&h.uvw_m), f64s(&want["uvw_array"]));
    assert_eq!(
        flat(&h.antenna_positions_m),
        f64s(&want["antenna_positions"])
    );
    assert_eq!(h.polarizations, vec![-5, -6]);
    assert_eq!(f64s(&want["polarization_array"]), vec![-5.0, -6.0]);
    let PhaseCenter::DsaMeridian { dec_rad } = h.phase_center else {
        panic!("{:?}", h.phase_center)
    };
    assert_eq!(dec_rad, want["extra_dec"].as_f64().unwrap());
    let mut f = Uvh5File::open(&files[5], DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    let mut buf = RowBuffers::new(h.n_blts, h.per_row());
    f.read_rows(0, h.n_blts, &mut buf.vis, &mut buf.flags, &mut buf.nsamples)
        .unwrap();
    let (re, im) = (f64s(&want["vis_re"]), f64s(&want["vis_im"]));
    for (i, v) in buf.vis.iter().enumerate() {
        assert_eq!((v.re as f64, v.im as f64), (re[i], im[i]), "visibility {i}");
    }
    // Autocorrelations carry the total flux, plus noise.
    assert!((buf.vis[0].re - 14.9).abs() < 5.0);
}

/// Read every row of `path` through the raw path and through the library.
fn both_paths(path: &std::path::Path) -> (RowBuffers, RowBuffers, [ReadPath; 3]) {
    let h = read_header(path).unwrap();
    let mut out = Vec::new();
    let mut paths = [ReadPath::Library; 3];
    for library in [false, true] {
        let mut f = Uvh5File::open(path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
        if library {
            f.force_library();
        } else {
            paths = f.read_paths();
        }
        let mut b = RowBuffers::new(h.n_blts, h.per_row());
        f.read_rows(0, h.n_blts, &mut b.vis, &mut b.flags, &mut b.nsamples)
            .unwrap();
        out.push(b);
    }
    let lib = out.pop().unwrap();
    (out.pop().unwrap(), lib, paths)
}

#[test]
fn raw_parallel_reads_equal_the_hdf5_library_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let plain = small_group(&dir.path().join("plain"), small_config());
    let mut gz = small_config();
    gz.gzip_level = Some(4);
    gz.noise_jy = 1.0;
    let gzipped = small_group(&dir.path().join("gzip"), gz.clone());
    // The correlator layout (chunks that split rows) and the simulator's
    // old layout (one integration per chunk): both read raw.
    let whole = |mut c: dsa110_convert::sim::SimConfig| {
        c.layout = dsa110_convert::sim::FileLayout::WholeIntegration;
        c
    };
    let plain_whole = small_group(&dir.path().join("plain-whole"), whole(small_config()));
    let gzipped_whole = small_group(&dir.path().join("gzip-whole"), whole(gz));
    for (file, expect_raw) in [
        (&plain[0], true),
        (&gzipped[0], true),
        (&plain_whole[0], true),
        (&gzipped_whole[0], true),
        (&shared_data("uvh5-real/zen.2458661.23480.HH.uvh5"), false),
    ] {
        let (raw, lib, paths) = both_paths(file);
        if expect_raw {
            assert_eq!(paths, [ReadPath::Raw; 3], "{}", file.display());
        }
        assert_eq!(
            raw.vis
                .iter()
                .map(|v| (v.re.to_bits(), v.im.to_bits()))
                .collect::<Vec<_>>(),
            lib.vis
                .iter()
                .map(|v| (v.re.to_bits(), v.im.to_bits()))
                .collect::<Vec<_>>(),
            "{}",
            file.display()
        );
        assert_eq!(raw.flags, lib.flags);
        assert_eq!(raw.nsamples, lib.nsamples);
    }
}

#[test]
fn joined_group_is_ascending_and_equals_the_files_reversed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.noise_jy = 1.0;
    let files = small_group(dir.path(), cfg);
    // Any order in, ascending frequency out.
    let mut shuffled = files.clone();
    shuffled.reverse();
    shuffled.swap(3, 9);
    let (_, group) = group::open_files(&shuffled, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    let f = group.freq_hz();
    assert_eq!(f.len(), 128);
    assert!(f.windows(2).all(|w| w[1] > w[0]));
    assert_eq!(group.paths()[0], files[15]);
    let h = group.header();
    let per_row = f.len() * h.n_pols;
    // Every file into its channel map of one joined buffer.
    let mut joined = RowBuffers::new(h.n_blts, per_row);
    {
        let out = RowsOut::new(
            &mut joined.vis,
            &mut joined.flags,
            &mut joined.nsamples,
            f.len(),
            h.n_pols,
        );
        for (path, map) in group.paths().iter().zip(group.channel_maps()) {
            let mut file = Uvh5File::open(path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
            file.read_into(0, h.n_blts, map.offset, map.reversed, &out)
                .unwrap();
        }
    }
    // sb00 (highest) channel 0 is the last joined channel; sb15 channel 7 the first.
    let mut sb0 = Uvh5File::open(&files[0], DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    let hs = sb0.header().clone();
    let mut b = RowBuffers::new(hs.n_blts, hs.per_row());
    sb0.read_rows(0, hs.n_blts, &mut b.vis, &mut b.flags, &mut b.nsamples)
        .unwrap();
    for row in [0, 17, hs.n_blts - 1] {
        for c in 0..8 {
            for p in 0..2 {
                assert_eq!(
                    joined.vis[row * per_row + (127 - c) * 2 + p],
                    b.vis[(row * 8 + c) * 2 + p]
                );
            }
        }
    }
}

#[test]
fn groups_subcommand_lists_complete_and_incomplete_groups() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(dir.path(), small_config());
    std::fs::remove_file(&files[7]).unwrap();
    let (code, out, err) = common::run_cli(&[&"groups", &"--json", &dir.path()]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["missing"], serde_json::json!([7]));
    let (_, text, _) = common::run_cli(&[&"groups", &dir.path()]);
    assert!(
        text.contains("INCOMPLETE") && text.contains("missing sb07"),
        "{text}"
    );
}
