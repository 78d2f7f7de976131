//! Our UVH5 reader against h5py on the real files of ../shared/data/uvh5-real
//! (ATA, HERA, MWA: both layouts, complex64/complex128/int32 visibilities,
//! LZF-compressed flags and nsamples).

mod common;

use common::{bools, f64s, oracle, shared_data};
use dsa110_convert::uvh5::{read_header, RowBuffers, Uvh5File, DEFAULT_CHUNK_CACHE_BYTES};

const FILES: &[&str] = &[
    "uvh5-real/ata.LoA.C0352.uvh5_60647_62965_9760406_3c286_0001.uvh5",
    "uvh5-real/ata.LoA.C0544.uvh5_60647_62965_9760406_3c286_0001.uvh5",
    "uvh5-real/zen.2458432.34569.uvh5",
    "uvh5-real/zen.2458661.23480.HH.uvh5",
    "uvh5-real/1061315448_20130823175130_mini_vv_07_01.uvh5",
];

fn close(a: &[f64], b: &[f64], rel: f64, what: &str, file: &str) {
    assert_eq!(a.len(), b.len(), "{file}: {what} length");
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= rel * y.abs().max(1e-30) || x == y,
            "{file}: {what}[{i}] = {x}, h5py says {y}"
        );
    }
}

#[test]
fn every_header_field_and_all_data_match_h5py() {
    for rel in FILES {
        let path = shared_data(rel);
        let want = oracle("uvh5_dump.py", &[&path]);
        let h = read_header(&path).unwrap();
        assert_eq!(
            h.telescope_name,
            want["telescope_name"].as_str().unwrap(),
            "{rel}"
        );
        assert_eq!(h.instrument, want["instrument"].as_str().unwrap(), "{rel}");
        close(
            &[h.latitude_deg, h.longitude_deg, h.altitude_m],
            &[
                want["latitude"].as_f64().unwrap(),
                want["longitude"].as_f64().unwrap(),
                want["altitude"].as_f64().unwrap(),
            ],
            0.0,
            "location",
            rel,
        );
        for (ours, key) in [
            (h.n_blts, "Nblts"),
            (h.n_bls, "Nbls"),
            (h.n_times, "Ntimes"),
            (h.n_freqs, "Nfreqs"),
            (h.n_pols, "Npols"),
            (h.n_ants_data, "Nants_data"),
            (h.n_ants_telescope, "Nants_telescope"),
        ] {
            assert_eq!(ours as u64, want[key].as_u64().unwrap(), "{rel}: {key}");
        }
        let ints = |k: &str| f64s(&want[k]).iter().map(|&x| x as i64).collect::<Vec<_>>();
        assert_eq!(h.ant_1_array, ints("ant_1_array"), "{rel}");
        assert_eq!(h.ant_2_array, ints("ant_2_array"), "{rel}");
        assert_eq!(h.antenna_numbers, ints("antenna_numbers"), "{rel}");
        assert_eq!(
            h.polarizations
                .iter()
                .map(|&p| p as i64)
                .collect::<Vec<_>>(),
            ints("polarization_array"),
            "{rel}"
        );
        let names: Vec<String> = want["antenna_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().trim().to_string())
            .collect();
        assert_eq!(h.antenna_names, names, "{rel}");
        let flat = |v: &[[f64; 3]]| v.iter().flatten().copied().collect::<Vec<_>>();
        close(
            &flat(&h.antenna_positions_m),
            &f64s(&want["antenna_positions"]),
            0.0,
            "antenna_positions",
            rel,
        );
        close(
            &flat(&h.uvw_m),
            &f64s(&want["uvw_array"]),
            0.0,
            "uvw_array",
            rel,
        );
        close(
            &h.time_jd,
            &f64s(&want["time_array"]),
            0.0,
            "time_array",
            rel,
        );
        close(
            &h.integration_time_s,
            &f64s(&want["integration_time"]),
            0.0,
            "integration_time",
            rel,
        );
        close(
            &h.freq_hz,
            &f64s(&want["freq_array"]),
            0.0,
            "freq_array",
            rel,
        );
        close(
            &h.channel_width_hz,
            &f64s(&want["channel_width"]),
            0.0,
            "channel_width",
            rel,
        );

        let mut file = Uvh5File::open(&path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
        let mut buf = RowBuffers::new(h.n_blts, h.per_row());
        file.read_rows(0, h.n_blts, &mut buf.vis, &mut buf.flags, &mut buf.nsamples)
            .unwrap();
        // What no conversion can use comes back flagged, as 0: NaN or
        // infinite visibilities, NaN, infinite or negative nsamples (the
        // ATA files' nsamples are all -1.2e12).
        let (mut want_re, mut want_im) = (f64s(&want["vis_re"]), f64s(&want["vis_im"]));
        let mut want_ns = f64s(&want["nsamples"]);
        let mut flags = bools(&want["flags"]);
        for k in 0..flags.len() {
            if !(want_re[k].is_finite() && want_im[k].is_finite()) {
                (want_re[k], want_im[k], flags[k]) = (0.0, 0.0, true);
            }
            if !(want_ns[k].is_finite() && want_ns[k] >= 0.0) {
                (want_ns[k], flags[k]) = (0.0, true);
            }
        }
        let re: Vec<f64> = buf.vis.iter().map(|v| v.re as f64).collect();
        let im: Vec<f64> = buf.vis.iter().map(|v| v.im as f64).collect();
        close(&re, &want_re, 1e-6, "visdata.re", rel);
        close(&im, &want_im, 1e-6, "visdata.im", rel);
        assert_eq!(buf.flags, flags, "{rel}: flags");
        let ns: Vec<f64> = buf.nsamples.iter().map(|&x| x as f64).collect();
        close(&ns, &want_ns, 0.0, "nsamples", rel);
    }
}

#[test]
fn reading_a_row_range_equals_the_same_rows_of_a_full_read() {
    let path = shared_data(FILES[2]);
    let h = read_header(&path).unwrap();
    let mut file = Uvh5File::open(&path, DEFAULT_CHUNK_CACHE_BYTES).unwrap();
    let mut all = RowBuffers::new(h.n_blts, h.per_row());
    file.read_rows(0, h.n_blts, &mut all.vis, &mut all.flags, &mut all.nsamples)
        .unwrap();
    let (r0, r1) = (17, 53);
    let mut part = RowBuffers::new(r1 - r0, h.per_row());
    file.read_rows(r0, r1, &mut part.vis, &mut part.flags, &mut part.nsamples)
        .unwrap();
    let span = r0 * h.per_row()..r1 * h.per_row();
    assert_eq!(part.vis, all.vis[span.clone()]);
    assert_eq!(part.flags, all.flags[span.clone()]);
    assert_eq!(part.nsamples, all.nsamples[span]);
}

#[test]
fn phase_centres_are_read_from_the_catalog() {
    use dsa110_convert::uvh5::PhaseCenter;
    let h = read_header(&shared_data(FILES[0])).unwrap();
    let PhaseCenter::Sidereal {
        name,
        ra_rad,
        dec_rad,
    } = h.phase_center
    else {
        panic!("ATA file not sidereal: {:?}", h.phase_center)
    };
    assert_eq!(name, "3c286");
    assert!((ra_rad - 3.539257703155924).abs() < 1e-15);
    assert!((dec_rad - 0.5324852119872784).abs() < 1e-15);
    // HERA: unprojected (zenith), MWA: old "drift" label without DSA keywords.
    assert_eq!(
        read_header(&shared_data(FILES[2])).unwrap().phase_center,
        PhaseCenter::Drift
    );
    assert_eq!(
        read_header(&shared_data(FILES[4])).unwrap().phase_center,
        PhaseCenter::Drift
    );
}
