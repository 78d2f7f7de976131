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
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"convert", &"--backend", &"cpu", &"-o", &out];
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
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"convert", &"--backend", &"cpu", &"-o", &blocker];
    for f in &files {
        args.push(f);
    }
    let (code, _, err) = run_cli(&args);
    assert_ne!(code, 0);
    assert!(err.contains("blocker"), "{err}");

    // A full disk: a 512 KiB tmpfs (needs root; CI runs as root).
    let small = dir.path().join("small");
    std::fs::create_dir(&small).unwrap();
    let mounted = common::command("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&small)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            !common::in_ci(),
            "CI must be able to mount a tmpfs for the full-disk test"
        );
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

#[test]
fn a_run_killed_halfway_leaves_no_finished_ms_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_config();
    cfg.n_ants = 32;
    cfg.n_times = 24;
    cfg.chans_per_subband = 48;
    let files = small_group(&dir.path().join("in"), cfg);
    let out = dir.path().join("out");
    let run = || {
        let mut cmd = common::command(common::bin());
        cmd.args([
            "-q",
            "convert",
            "--backend",
            "cpu",
            "--max-memory",
            "256MiB",
            "-o",
        ])
        .arg(&out)
        .args(&files);
        cmd
    };
    let mut child = run().spawn().unwrap();
    // Kill it once the partial MS exists, i.e. mid-write.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let partial = std::fs::read_dir(&out)
            .map(|r| {
                r.filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            })
            .unwrap_or(false);
        if partial || std::time::Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let _ = child.kill();
    child.wait().unwrap();
    let names = |d: &Path| -> Vec<String> {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    assert!(
        !names(&out).iter().any(|n| n.ends_with(".ms")),
        "a killed run left {:?}",
        names(&out)
    );
    // A rerun cleans the leftover and completes.
    assert!(run().status().unwrap().success());
    let after = names(&out);
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(after[0].ends_with(".ms"));
}
