//! Bad input gets a clear error naming the file and the problem, a non-zero
//! exit, and never a finished-looking Measurement Set.

mod common;

use std::path::{Path, PathBuf};

use common::{run_cli, shared_data, small_config, small_group};

fn copy(src: &Path, dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(src, &dst).unwrap();
    dst
}

/// `validate` on one file: its exit code and output.
fn validate(file: &Path) -> (i32, String) {
    let (code, out, err) = run_cli(&[&"validate", &file]);
    (code, out + &err)
}

fn assert_rejected(file: &Path, needle: &str) {
    let (code, text) = validate(file);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&file.display().to_string()),
        "message must name the file: {text}"
    );
    assert!(text.contains(needle), "expected '{needle}' in: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

/// Edit a copy of a simulated subband file with `edit` (hdf5 crate).
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&hdf5::File)) -> PathBuf {
    let files = small_group(&dir.join(format!("src-{name}")), small_config());
    let p = copy(&files[0], dir, name);
    let f = hdf5::File::open_rw(&p).unwrap();
    edit(&f);
    p
}

#[test]
fn malformed_files_are_rejected_by_name_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    let text = d.join("notes.hdf5");
    std::fs::write(&text, "this is not HDF5\n").unwrap();
    assert_rejected(&text, "cannot open as HDF5");

    let real = shared_data("uvh5-real/zen.2458432.34569.uvh5");
    let truncated = copy(&real, d, "truncated.uvh5");
    let len = std::fs::metadata(&truncated).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&truncated)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let (code, msg) = validate(&truncated);
    assert_eq!(code, 1, "{msg}");
    assert!(msg.contains("truncated.uvh5"), "{msg}");

    let no_vis = edited(d, "no_vis.hdf5", |f| {
        f.group("Data").unwrap().unlink("visdata").unwrap()
    });
    assert_rejected(&no_vis, "missing Data/visdata");

    let no_header = edited(d, "no_header.hdf5", |f| f.unlink("Header").unwrap());
    assert_rejected(&no_header, "missing group Header");

    let wrong_shape = edited(d, "wrong_shape.hdf5", |f| {
        f.dataset("Header/Nblts")
            .unwrap()
            .write_scalar(&7i64)
            .unwrap();
    });
    assert_rejected(&wrong_shape, "Nblts is 7");

    let zero_rows = edited(d, "zero_rows.hdf5", |f| {
        f.dataset("Header/Nblts")
            .unwrap()
            .write_scalar(&0i64)
            .unwrap();
    });
    assert_rejected(&zero_rows, "no rows");

    let nan_time = edited(d, "nan_time.hdf5", |f| {
        let ds = f.dataset("Header/time_array").unwrap();
        let mut t: Vec<f64> = ds.read_raw().unwrap();
        t[3] = f64::NAN;
        ds.write_raw(&t).unwrap();
    });
    assert_rejected(&nan_time, "NaN");

    let bad_dtype = edited(d, "bad_dtype.hdf5", |f| {
        let g = f.group("Data").unwrap();
        let shape = g.dataset("visdata").unwrap().shape();
        g.unlink("visdata").unwrap();
        let n: usize = shape.iter().product();
        g.new_dataset::<hdf5::types::VarLenUnicode>()
            .shape(shape)
            .create("visdata")
            .unwrap();
        let _ = n;
    });
    assert_rejected(&bad_dtype, "Data/visdata");

    // JSON output lists every file with its problems.
    let (code, out, _) = run_cli(&[&"validate", &"--json", &text, &real]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["ok"], false);
    assert_eq!(v[1]["ok"], true);
    assert_eq!(run_cli(&[&"validate", &real]).0, 0);
}

fn convert_fails(files: &[PathBuf], out: &Path, needle: &str) {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"convert",
        &"--allow-incomplete",
        &"--backend",
        &"cpu",
        &"-o",
        &out,
    ];
    for f in files {
        args.push(f);
    }
    let (code, _, err) = run_cli(&args);
    assert_ne!(code, 0, "convert should fail: {err}");
    assert!(err.contains(needle), "expected '{needle}' in: {err}");
    assert!(!err.contains("panicked"), "{err}");
    let finished: Vec<_> = std::fs::read_dir(out)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().ends_with(".ms"))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        finished.is_empty(),
        "a finished-looking MS was left: {finished:?}"
    );
}

#[test]
fn groups_that_do_not_belong_together_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let a = small_group(&dir.path().join("a"), small_config());
    let mut later = small_config();
    later.start_time_jd = Some(2_460_700.0);
    let b = small_group(&dir.path().join("b"), later);
    let out = dir.path().join("out");
    // Files of two different groups mixed.
    convert_fails(
        &[a[0].clone(), a[1].clone(), b[2].clone()],
        &out,
        "files of two different groups",
    );
    // The same subband twice: overlapping frequencies.
    let twin = copy(&a[3], dir.path(), "twin_sb03.hdf5");
    convert_fails(&[a[3].clone(), twin], &out, "frequencies overlap");
}

#[test]
fn unusable_outputs_give_clear_errors_and_no_finished_ms() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    // An output "directory" that is a file.
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    convert_fails(&files, &blocker, "blocker");

    // A full disk: a 512 KiB tmpfs (needs root; CI runs as root).
    let small = dir.path().join("small");
    if !mount_tmpfs(&small, "512k") {
        eprintln!("*** SKIPPING full-disk check: cannot mount a tmpfs here ***");
        return;
    }
    let result =
        std::panic::catch_unwind(|| convert_fails(&files, &small, "not enough free space"));
    let leftovers: Vec<_> = std::fs::read_dir(&small)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    common::command("umount").arg(&small).status().unwrap();
    result.unwrap();
    assert!(leftovers.is_empty(), "left on the full disk: {leftovers:?}");
}

/// Create `dir` and mount a tmpfs of `size` (e.g. `512k`) on it; false
/// when mounting is not allowed here (needs root), which fails the test
/// under CI (CI runs as root).
fn mount_tmpfs(dir: &Path, size: &str) -> bool {
    std::fs::create_dir(dir).unwrap();
    let mounted = common::command("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        mounted || !common::in_ci(),
        "CI must be able to mount a tmpfs for the full-disk tests"
    );
    mounted
}

/// Fill the filesystem of `dir` with a file of zeros until it is full.
fn fill_disk(dir: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(dir.join("filler")).unwrap();
    let chunk = vec![0u8; 1 << 20];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
}

/// A group big enough that its MS takes a while to write (32 antennas, 16
/// integrations, full 48-channel subbands): room for a disk to fill or a
/// kill to land mid-write.
fn mid_size_group(dir: &Path) -> Vec<PathBuf> {
    let mut cfg = small_config();
    cfg.n_ants = 32;
    cfg.n_times = 16;
    cfg.chans_per_subband = 48;
    small_group(dir, cfg)
}

#[test]
fn a_disk_that_fills_during_the_casacore_writes_gives_an_error_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let files = mid_size_group(&dir.path().join("in"));
    let small = dir.path().join("small");
    if !mount_tmpfs(&small, "256m") {
        eprintln!("*** SKIPPING mid-write full-disk check: cannot mount a tmpfs here ***");
        return;
    }
    let result = std::panic::catch_unwind(|| {
        let mut failed_mid_write = 0;
        // Another process fills the disk once this many bytes of the MS
        // (about 120 MB in all) are written.
        for written in [4u64 << 20, 24 << 20, 64 << 20] {
            let mut child = common::command(common::bin())
                .args([
                    "-q",
                    "convert",
                    "--allow-incomplete",
                    "--backend",
                    "cpu",
                    "-o",
                ])
                .arg(&small)
                .args(&files)
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            while partial_of(&small, pid).is_none_or(|p| bytes_in(&p) <= written)
                && std::time::Instant::now() < deadline
                && child.try_wait().unwrap().is_none()
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            fill_disk(&small);
            let out = child.wait_with_output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                !err.contains("terminate") && !err.contains("panicked"),
                "{err}"
            );
            let left: Vec<String> = std::fs::read_dir(&small)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != "filler")
                .collect();
            match out.status.code() {
                // The cached rest fitted in the space held for the final flush.
                Some(0) => assert_eq!(left, vec![convert_name(&files)]),
                Some(1) => {
                    assert!(err.contains("the disk is full"), "{err}");
                    assert!(left.is_empty(), "a failed write left {left:?}");
                    failed_mid_write += 1;
                }
                other => panic!("exit {other:?}: {err}"),
            }
            std::fs::remove_file(small.join("filler")).unwrap();
            for n in left {
                std::fs::remove_dir_all(small.join(n)).unwrap();
            }
        }
        assert!(failed_mid_write > 0, "the disk never filled mid-write");
        // With room again, a rerun completes.
        assert_eq!(
            run_cli(&[
                &"-q",
                &"convert",
                &"--allow-incomplete",
                &"--backend",
                &"cpu",
                &"-o",
                &small,
                &files[0]
            ])
            .0,
            0
        );
    });
    common::command("umount").arg(&small).status().unwrap();
    result.unwrap();
}

/// Where a killed `convert` (process `pid`) was, from what it left in
/// `out` (a SIGKILL runs no clean-up): no partial MS of its own yet
/// (setting up), its partial without subtables (writing rows), its partial
/// with subtables (finishing: subtables, sync, rename), or the MS in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Phase {
    Setup,
    Rows,
    Finishing,
    Done,
}

fn phase_left(out: &Path, pid: u32) -> Phase {
    if let Some(partial) = partial_of(out, pid) {
        return if partial.join("ANTENNA").exists() {
            Phase::Finishing
        } else {
            Phase::Rows
        };
    }
    let done = std::fs::read_dir(out)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(".ms"))
        })
        .unwrap_or(false);
    if done {
        Phase::Done
    } else {
        Phase::Setup
    }
}

/// The partial MS process `pid` writes in `out` (`.<name>.<pid>-<n>.partial`).
fn partial_of(out: &Path, pid: u32) -> Option<PathBuf> {
    let tag = format!(".{pid}-");
    std::fs::read_dir(out)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().into_owned();
            n.ends_with(".partial") && n.contains(&tag)
        })
}

/// Bytes of the files in `dir`.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .filter_map(|e| e.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn sigkills_while_setting_up_writing_rows_and_finishing_leave_no_finished_ms() {
    let dir = tempfile::tempdir().unwrap();
    let files = mid_size_group(&dir.path().join("in"));
    let out = dir.path().join("out");
    let run = |out: &Path| {
        let mut cmd = common::command(common::bin());
        cmd.args([
            "-q",
            "convert",
            "--allow-incomplete",
            "--backend",
            "cpu",
            "--max-memory",
            "256MiB",
            "-o",
        ])
        .arg(out)
        .args(&files);
        cmd
    };
    let reference = dir.path().join("reference");
    assert!(run(&reference).status().unwrap().success());
    let ms = convert_name(&files);
    let lock = out.join(format!(".{ms}.lock"));
    let mut landed: std::collections::HashMap<Phase, usize> = Default::default();
    for round in 0..15 {
        let mut child = run(&out).spawn().unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        // Aim at each phase in turn: as soon as the output's lock is taken
        // (setting up), once rows are being written, once the subtables are.
        loop {
            let hit = match round % 3 {
                0 => std::fs::read_to_string(&lock).is_ok_and(|p| p == pid.to_string()),
                1 => partial_of(&out, pid).is_some_and(|p| bytes_in(&p) > 4 << 20),
                _ => partial_of(&out, pid).is_some_and(|p| p.join("ANTENNA").exists()),
            };
            if hit || std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_micros(500));
        }
        let _ = child.kill();
        child.wait().unwrap();
        let phase = phase_left(&out, pid);
        *landed.entry(phase).or_default() += 1;
        // Whatever the phase, the output path holds nothing or a complete MS.
        match dsa110_convert::ms::inspect(&out.join(&ms)) {
            dsa110_convert::ms::OutputState::NotAnMs(why) => {
                panic!("a kill while {phase:?} left a broken MS: {why}")
            }
            dsa110_convert::ms::OutputState::Complete => {
                assert_eq!(phase, Phase::Done);
                std::fs::remove_dir_all(out.join(&ms)).unwrap();
            }
            dsa110_convert::ms::OutputState::Absent => {}
        }
    }
    eprintln!("kills landed: {landed:?}");
    for phase in [Phase::Setup, Phase::Rows, Phase::Finishing] {
        assert!(
            landed.get(&phase).copied().unwrap_or(0) >= 3,
            "fewer than 3 of 15 kills landed while {phase:?}: {landed:?}"
        );
    }
    // A rerun cleans the leftovers and completes, with the right rows.
    assert!(run(&out).status().unwrap().success());
    let after: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(after, vec![ms.clone()]);
    common::assert_same_ms(&out.join(&ms), &reference.join(&ms));
}

fn convert_name(files: &[PathBuf]) -> String {
    dsa110_convert::convert::output_name(files)
}

fn set_f64(f: &hdf5::File, name: &str, v: f64) {
    f.dataset(name).unwrap().write_scalar(&v).unwrap();
}

fn map_f64(f: &hdf5::File, name: &str, edit: impl FnOnce(&mut Vec<f64>)) {
    let ds = f.dataset(name).unwrap();
    let mut v: Vec<f64> = ds.read_raw().unwrap();
    edit(&mut v);
    ds.write_raw(&v).unwrap();
}

fn map_i64(f: &hdf5::File, name: &str, edit: impl FnOnce(&mut Vec<i64>)) {
    let ds = f.dataset(name).unwrap();
    let mut v: Vec<i64> = ds.read_raw().unwrap();
    edit(&mut v);
    ds.write_raw(&v).unwrap();
}

/// Replace `Header/<name>` by a 1-D dataset of `T`.
fn replace_with<T: hdf5::H5Type>(f: &hdf5::File, name: &str, v: &[T]) {
    let h = f.group("Header").unwrap();
    let _ = h.unlink(name);
    h.new_dataset::<T>()
        .shape(v.len())
        .create(name)
        .unwrap()
        .write_raw(v)
        .unwrap();
}

type Edit = fn(&hdf5::File);

/// Every header value the conversion depends on, broken one at a time:
/// (case, text the error must contain, the edit).
const BROKEN_HEADERS: &[(&str, &str, Edit)] = &[
    ("dec NaN", "phase_center_dec", |f| {
        set_f64(f, "Header/extra_keywords/phase_center_dec", f64::NAN)
    }),
    ("dec 95 deg", "phase_center_dec", |f| {
        set_f64(
            f,
            "Header/extra_keywords/phase_center_dec",
            95f64.to_radians(),
        )
    }),
    ("dec 1000 rad", "phase_center_dec", |f| {
        set_f64(f, "Header/extra_keywords/phase_center_dec", 1000.0)
    }),
    ("latitude NaN", "Header/latitude", |f| {
        set_f64(f, "Header/latitude", f64::NAN)
    }),
    ("latitude 95", "Header/latitude", |f| {
        set_f64(f, "Header/latitude", 95.0)
    }),
    ("longitude inf", "Header/longitude", |f| {
        set_f64(f, "Header/longitude", f64::INFINITY)
    }),
    ("altitude NaN", "Header/altitude", |f| {
        set_f64(f, "Header/altitude", f64::NAN)
    }),
    ("integration NaN", "integration_time", |f| {
        map_f64(f, "Header/integration_time", |v| v[1] = f64::NAN)
    }),
    ("integration 0", "integration_time", |f| {
        map_f64(f, "Header/integration_time", |v| v.fill(0.0))
    }),
    ("integration < 0", "integration_time", |f| {
        map_f64(f, "Header/integration_time", |v| v[0] = -12.9)
    }),
    ("width NaN", "channel_width", |f| {
        set_f64(f, "Header/channel_width", f64::NAN)
    }),
    ("width 0", "channel_width", |f| {
        set_f64(f, "Header/channel_width", 0.0)
    }),
    ("JD 0", "time_array", |f| {
        map_f64(f, "Header/time_array", |v| v.fill(0.0))
    }),
    ("year 3000", "time_array", |f| {
        map_f64(f, "Header/time_array", |v| {
            v.iter_mut().for_each(|t| *t += 356_000.0)
        })
    }),
    ("JD 1e12", "time_array", |f| {
        map_f64(f, "Header/time_array", |v| v[2] = 1e12)
    }),
    ("time float32", "float64", |f| {
        let v: Vec<f64> = f.dataset("Header/time_array").unwrap().read_raw().unwrap();
        replace_with(
            f,
            "time_array",
            &v.iter().map(|&t| t as f32).collect::<Vec<_>>(),
        );
    }),
    ("freq < 0", "freq_array", |f| {
        map_f64(f, "Header/freq_array", |v| {
            v.iter_mut().for_each(|x| *x = -*x)
        })
    }),
    ("freq 0", "freq_array", |f| {
        map_f64(f, "Header/freq_array", |v| v[3] = 0.0)
    }),
    (
        "freq not monotonic",
        "neither ascending nor descending",
        |f| map_f64(f, "Header/freq_array", |v| v.swap(1, 2)),
    ),
    ("unknown antenna", "not in antenna_numbers", |f| {
        map_i64(f, "Header/ant_1_array", |v| v[5] = 500)
    }),
    ("antenna number 70000", "outside 0..=65535", |f| {
        map_i64(f, "Header/antenna_numbers", |v| v[0] = 70_000)
    }),
    ("diameters short", "antenna_diameters", |f| {
        let n = f.dataset("Header/antenna_numbers").unwrap().size();
        replace_with(f, "antenna_diameters", &vec![4.65f64; n - 1]);
    }),
    ("diameters NaN", "antenna_diameters", |f| {
        let n = f.dataset("Header/antenna_numbers").unwrap().size();
        replace_with(f, "antenna_diameters", &vec![f64::NAN; n]);
    }),
    ("uvw NaN", "uvw_array", |f| {
        map_f64(f, "Header/uvw_array", |v| v[4] = f64::NAN)
    }),
    ("antenna position inf", "antenna_positions", |f| {
        map_f64(f, "Header/antenna_positions", |v| v[7] = f64::INFINITY)
    }),
    ("polarization 9", "polarization_array", |f| {
        map_i64(f, "Header/polarization_array", |v| v[1] = 9)
    }),
    ("polarization twice", "repeats", |f| {
        map_i64(f, "Header/polarization_array", |v| v[1] = v[0])
    }),
    ("Ntimes 0", "Ntimes", |f| {
        f.dataset("Header/Ntimes")
            .unwrap()
            .write_scalar(&0i64)
            .unwrap()
    }),
];

#[test]
fn every_broken_header_value_is_refused_alike_by_validate_and_convert() {
    let dir = tempfile::tempdir().unwrap();
    let good = small_group(&dir.path().join("good"), small_config());
    for (k, (case, needle, edit)) in BROKEN_HEADERS.iter().enumerate() {
        let input = dir.path().join(format!("case{k}"));
        std::fs::create_dir(&input).unwrap();
        let files: Vec<PathBuf> = good
            .iter()
            .map(|f| copy(f, &input, &f.file_name().unwrap().to_string_lossy()))
            .collect();
        edit(&hdf5::File::open_rw(&files[5]).unwrap());
        let (code, text) = validate(&files[5]);
        assert_eq!(code, 1, "{case}: validate accepted it: {text}");
        assert!(
            text.contains(needle),
            "{case}: expected '{needle}' in: {text}"
        );
        assert!(
            text.contains(&files[5].display().to_string()),
            "{case}: {text}"
        );
        let out = dir.path().join(format!("out{k}"));
        convert_fails(&files, &out, needle);
        let (_, _, err) = run_cli(&[
            &"convert",
            &"--allow-incomplete",
            &"--backend",
            &"cpu",
            &"-o",
            &out,
            &files[0],
            &files[5],
        ]);
        assert!(
            err.contains(&files[5].display().to_string()),
            "{case}: {err}"
        );
    }
}

/// complex64 as h5py stores it.
#[derive(hdf5::H5Type, Clone, Copy)]
#[repr(C)]
struct C32 {
    r: f32,
    i: f32,
}

#[test]
fn nan_visibilities_and_bad_nsamples_are_flagged_with_no_weight() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let clean = dir.path().join("clean");
    assert_eq!(
        run_cli(&[
            &"-q",
            &"convert",
            &"--allow-incomplete",
            &"--backend",
            &"cpu",
            &"-o",
            &clean,
            &files[0],
            &files[1]
        ])
        .0,
        0
    );
    // In one file: 3 NaN/inf visibilities, 2 NaN/negative nsamples, at
    // distinct unflagged values.
    {
        let f = hdf5::File::open_rw(&files[0]).unwrap();
        let vis = f.dataset("Data/visdata").unwrap();
        let mut v: Vec<C32> = vis.read_raw().unwrap();
        v[10] = C32 {
            r: f32::NAN,
            i: 0.0,
        };
        v[20] = C32 {
            r: 1.0,
            i: f32::INFINITY,
        };
        v[30] = C32 {
            r: f32::NEG_INFINITY,
            i: f32::NAN,
        };
        vis.write_raw(&v).unwrap();
        let ns = f.dataset("Data/nsamples").unwrap();
        let mut n: Vec<f32> = ns.read_raw().unwrap();
        n[40] = f32::NAN;
        n[50] = -1.0;
        ns.write_raw(&n).unwrap();
    }
    let bad = dir.path().join("bad");
    let (code, _, err) = run_cli(&[
        &"convert",
        &"--allow-incomplete",
        &"--backend",
        &"cpu",
        &"-o",
        &bad,
        &files[0],
        &files[1],
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("flagged"), "a warning says so: {err}");
    let ms = convert_name(&files[..1]);
    let clean = common::oracle("ms_finite.py", &[&clean.join(&ms)]);
    let bad = common::oracle("ms_finite.py", &[&bad.join(&ms)]);
    for key in [
        "nonfinite_data",
        "nonfinite_weight",
        "nonfinite_sigma",
        "nonfinite_uvw",
    ] {
        assert_eq!(bad[key], 0, "{key}: {bad}");
    }
    assert_eq!(
        bad["flagged"].as_u64().unwrap(),
        clean["flagged"].as_u64().unwrap() + 5,
        "{bad} vs {clean}"
    );
}

/// Run the CLI with its stdout a pipe closed before it prints, as in
/// `dsa110-convert ... | head -0`: (exit status, stderr).
fn with_stdout_closed(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (std::process::ExitStatus, String) {
    let mut cmd = common::command(common::bin());
    for a in args {
        cmd.arg(a);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn output_into_a_closed_pipe_ends_quietly_without_a_panic() {
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(dir.path(), small_config());
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"validate"];
    for f in &files {
        args.push(f);
    }
    let (status, err) = with_stdout_closed(&args);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?} {err}");
    // `stream status` of a database with groups in it.
    let db = dir.path().join("state.sqlite");
    let state = dsa110_convert::stream::State::open(&db).unwrap();
    for k in 0..50 {
        state
            .group_for(
                &format!("2025-01-15T12:{k:02}:00"),
                1_736_942_400 + 60 * k,
                1.0,
                0.0,
            )
            .unwrap();
    }
    drop(state);
    let (status, err) =
        with_stdout_closed(&[&"stream", &"status", &"--last", &"50", &"--state", &db]);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?} {err}");
}
