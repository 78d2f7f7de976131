//! The output path: one writer per output, only a complete Measurement Set
//! counts as done, and `--overwrite` never loses the old MS.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{run_cli, small_config, small_group};
use dsa110_convert::ms::{self, OutputClaim, OutputState};

/// `convert` of `files` into `out` (a directory), on the CPU.
fn convert_cmd(files: &[PathBuf], out: &Path, extra: &[&str]) -> std::process::Command {
    let mut cmd = common::command(common::bin());
    cmd.args(["convert", "--backend", "cpu"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .args(files);
    cmd
}

/// A group large enough that two conversions started together overlap.
fn medium_group(dir: &Path) -> Vec<PathBuf> {
    let mut cfg = small_config();
    cfg.n_ants = 32;
    cfg.n_times = 12;
    cfg.chans_per_subband = 32;
    small_group(dir, cfg)
}

fn ms_name(files: &[PathBuf]) -> String {
    dsa110_convert::convert::output_name(files)
}

/// Every name in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_second_writer_of_one_output_fails_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let target = out.join(ms_name(&files));
    let held = OutputClaim::acquire(&target).unwrap();
    let res = convert_cmd(&files, &out, &[]).output().unwrap();
    let err = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(1), "{err}");
    assert!(err.contains("is writing this Measurement Set"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(err.contains(&target.display().to_string()), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(names(&out), vec![format!(".{}.lock", ms_name(&files))]);
    drop(held);
    assert!(convert_cmd(&files, &out, &[]).status().unwrap().success());
    assert_eq!(ms::inspect(&target), OutputState::Complete);
}

#[test]
fn two_converts_started_together_make_one_correct_ms_and_never_two_successes() {
    let dir = tempfile::tempdir().unwrap();
    let files = medium_group(&dir.path().join("in"));
    let reference = dir.path().join("reference");
    assert!(convert_cmd(&files, &reference, &["-q"])
        .status()
        .unwrap()
        .success());
    let reference = reference.join(ms_name(&files));
    let mut overlapped = 0;
    for trial in 0..4 {
        let out = dir.path().join(format!("out{trial}"));
        let spawn = || -> Child {
            convert_cmd(&files, &out, &[])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let results: Vec<_> = [a, b]
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        let wrote = results
            .iter()
            .filter(|r| r.status.success() && String::from_utf8_lossy(&r.stdout).contains("wrote"))
            .count();
        assert_eq!(wrote, 1, "exactly one conversion writes: {results:?}");
        for r in &results {
            let (out_s, err_s) = (
                String::from_utf8_lossy(&r.stdout),
                String::from_utf8_lossy(&r.stderr),
            );
            if out_s.contains("wrote") {
                continue;
            }
            // The other one either found the output taken (exit 1) or
            // found the complete MS already there (skipped, exit 0).
            let busy =
                r.status.code() == Some(1) && err_s.contains("is writing this Measurement Set");
            let skipped = r.status.success() && err_s.contains("exists, skipped");
            assert!(busy || skipped, "{out_s}\n{err_s}");
            overlapped += busy as usize;
        }
        assert_eq!(names(&out), vec![ms_name(&files)], "nothing else is left");
        common::assert_same_ms(&out.join(ms_name(&files)), &reference);
    }
    eprintln!("{overlapped} of 4 trials overlapped");
}

/// Run `convert --overwrite` and SIGKILL it after `delay`.
fn overwrite_killed_after(files: &[PathBuf], out: &Path, delay: Duration) -> bool {
    let mut child = convert_cmd(files, out, &["-q", "--overwrite"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while t.elapsed() < delay {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    !child.wait().unwrap().success()
}

#[test]
fn a_killed_overwrite_leaves_the_old_or_the_new_ms_never_neither() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let out = dir.path().join("out");
    assert!(convert_cmd(&files, &out, &["-q"])
        .status()
        .unwrap()
        .success());
    let target = out.join(ms_name(&files));
    // How long a whole overwrite takes, to spread the kills over it.
    let t = Instant::now();
    assert!(convert_cmd(&files, &out, &["-q", "--overwrite"])
        .status()
        .unwrap()
        .success());
    let whole = t.elapsed();
    let mut killed = 0;
    for k in 0..24 {
        let delay = whole.mul_f64(0.2 + 0.7 * k as f64 / 24.0);
        killed += overwrite_killed_after(&files, &out, delay) as usize;
        assert_eq!(
            ms::inspect(&target),
            OutputState::Complete,
            "after a kill at {delay:?}: {:?}",
            names(&out)
        );
    }
    assert!(killed >= 6, "only {killed} of 24 runs were killed");
    // A rerun without --overwrite skips the complete MS and cleans up what
    // the killed runs left.
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"convert", &"--backend", &"cpu", &"-o", &out];
    for f in &files {
        args.push(f);
    }
    let (code, _, err) = run_cli(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("exists, skipped"), "{err}");
    assert_eq!(names(&out), vec![ms_name(&files)]);
    let read = common::oracle("read_ms.py", &[&target]);
    assert_eq!(read["Nblts"], 4 * 78, "{read}");
    assert_eq!(read["Nfreqs"], 16 * 8, "{read}");
}

/// `convert --json` into `out`: (exit code, the JSON, stderr).
fn convert_json(files: &[PathBuf], out: &Path, extra: &[&str]) -> (i32, serde_json::Value, String) {
    let res = convert_cmd(files, out, &[&["--json"], extra].concat())
        .output()
        .unwrap();
    let json = serde_json::from_slice(&res.stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        )
    });
    (
        res.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&res.stderr).into_owned(),
    )
}

#[test]
fn something_at_the_output_path_that_is_not_an_ms_is_an_error_not_a_skip() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    type Make = fn(&Path);
    let cases: [(&str, Make); 3] = [
        ("an empty directory", |p| std::fs::create_dir(p).unwrap()),
        ("a file", |p| std::fs::write(p, "not an MS").unwrap()),
        ("a broken table", |p| {
            std::fs::create_dir(p).unwrap();
            std::fs::write(p.join("table.dat"), "garbage").unwrap();
            for sub in ["ANTENNA", "SPECTRAL_WINDOW"] {
                std::fs::create_dir(p.join(sub)).unwrap();
                std::fs::write(p.join(sub).join("table.dat"), "garbage").unwrap();
            }
        }),
    ];
    for (i, (what, make)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("out{i}"));
        std::fs::create_dir(&out).unwrap();
        let target = out.join(ms_name(&files));
        make(&target);
        let (code, json, err) = convert_json(&files, &out, &[]);
        assert_eq!(code, 1, "{what}: {json} {err}");
        assert_eq!(json[0]["status"], "failed", "{what}: {json}");
        let msg = json[0]["error"].as_str().unwrap();
        assert!(
            msg.contains("is not a complete Measurement Set"),
            "{what}: {msg}"
        );
        assert!(msg.contains(&target.display().to_string()), "{what}: {msg}");
        assert!(
            err.contains("is not a complete Measurement Set"),
            "{what}: {err}"
        );
        // Left as it was.
        assert!(
            matches!(ms::inspect(&target), OutputState::NotAnMs(_)),
            "{what}"
        );
        // --overwrite replaces it with a complete MS.
        let (code, json, err) = convert_json(&files, &out, &["--overwrite"]);
        assert_eq!(code, 0, "{what}: {err}");
        assert_eq!(json[0]["status"], "converted", "{what}: {json}");
        assert_eq!(json[0]["rows"], 4 * 78, "{what}: {json}");
        assert_eq!(ms::inspect(&target), OutputState::Complete, "{what}");
        assert_eq!(names(&out), vec![ms_name(&files)], "{what}");
    }
}

#[test]
fn a_complete_ms_at_the_output_is_skipped_and_listed_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let files = small_group(&dir.path().join("in"), small_config());
    let out = dir.path().join("out");
    let (code, json, err) = convert_json(&files, &out, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json[0]["status"], "converted", "{json}");
    let (code, json, err) = convert_json(&files, &out, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json[0]["status"], "skipped", "{json}");
    assert_eq!(
        json[0]["ms_path"],
        out.join(ms_name(&files)).display().to_string()
    );
}
