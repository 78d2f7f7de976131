//! A guard against performance regressions that does not depend on a noisy
//! clock or on the CPU: callgrind counts the instructions `convert` spends
//! per row (CPU backend, one thread) and, in the same run, the instructions
//! per row of a fixed reference workload (`simulate` of the same groups:
//! HDF5 writes, memcpy and libm trigonometry, the code whose variants glibc
//! picks by CPU features). Per-row counts are differences between two group
//! sizes, so start-up costs cancel. The guarded number is their ratio:
//! failing on more than 10% growth over the committed baseline
//! (tests/perf/instructions.json), on any CPU, and on a fall of more than
//! 20% (a stale baseline guards nothing).
//!
//! The reference is our simulator: a change to `sim` shifts the ratio too
//! (rerun with `DSA110_UPDATE_PERF_BASELINE=1`, which rewrites the baseline,
//! and say so in the commit).

mod common;

use std::path::Path;

/// Instructions callgrind counts for running the binary with `args`.
fn instructions(args: &[&dyn AsRef<std::ffi::OsStr>], dir: &Path) -> u64 {
    let out = dir.join("callgrind.out");
    let mut cmd = common::command("valgrind");
    cmd.args(["--tool=callgrind", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(common::bin())
        .arg("-q");
    for a in args {
        cmd.arg(a);
    }
    let status = cmd
        .env("RAYON_NUM_THREADS", "1")
        .status()
        .expect("running valgrind");
    assert!(status.success(), "{:?} under callgrind failed", cmd);
    let text = std::fs::read_to_string(&out).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("callgrind summary line")
}

/// Simulate a group of `n_times` integrations into `dir` under callgrind:
/// (instructions, the files).
fn simulate(dir: &Path, n_times: usize) -> (u64, Vec<std::path::PathBuf>) {
    let n_times = n_times.to_string();
    let args: [&dyn AsRef<std::ffi::OsStr>; 11] = [
        &"simulate",
        &"--n-ants",
        &"16",
        &"--n-times",
        &n_times,
        &"--channels",
        &"48",
        &"--start",
        &"2025-01-15T12:00:00",
        &"--out",
        &dir,
    ];
    let n = instructions(&args, dir.parent().unwrap());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    (n, files)
}

fn convert(files: &[std::path::PathBuf], dir: &Path) -> u64 {
    let out = dir.join("ms");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"convert",
        &"--backend",
        &"cpu",
        &"--workers",
        &"1",
        &"--overwrite",
        &"-o",
        &out,
    ];
    for f in files {
        args.push(f);
    }
    instructions(&args, dir)
}

#[test]
fn instructions_per_row_relative_to_a_reference_workload_do_not_grow() {
    if common::command("valgrind")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            !common::in_ci(),
            "CI needs valgrind (scripts/setup.sh installs it)"
        );
        eprintln!("\n*** SKIPPING perf guard: valgrind not installed ***\n");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (sim_small, small) = simulate(&dir.path().join("small"), 2);
    let (sim_big, big) = simulate(&dir.path().join("big"), 6);
    let rows = ((6 - 2) * 136) as u64;
    let reference = (sim_big - sim_small) / rows;
    let per_row = (convert(&big, dir.path()) - convert(&small, dir.path())) / rows;
    let ratio = per_row as f64 / reference as f64;
    let baseline_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/perf/instructions.json");
    if std::env::var("DSA110_UPDATE_PERF_BASELINE").is_ok() {
        let v = serde_json::json!({
            "convert_over_reference": ratio,
            "convert_instructions_per_row": per_row,
            "reference_instructions_per_row": reference,
        });
        std::fs::write(
            &baseline_path,
            serde_json::to_string_pretty(&v).unwrap() + "\n",
        )
        .unwrap();
        eprintln!("baseline written: ratio {ratio:.4} ({per_row} / {reference})");
        return;
    }
    let baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline_path).unwrap()).unwrap();
    let base = baseline["convert_over_reference"].as_f64().unwrap();
    eprintln!(
        "perf guard: convert {per_row} / reference {reference} instructions per row = {ratio:.4} \
         (baseline {base:.4})"
    );
    assert!(
        ratio <= 1.10 * base,
        "convert's instructions per row relative to the reference grew from {base:.4} to {ratio:.4} (+{:.1}%)",
        (ratio / base - 1.0) * 100.0
    );
    // A baseline far above today's ratio would let large regressions
    // through (the simulator's rewrite for the correlator layout once left
    // it at 6x the measured ratio): an improvement or a changed reference
    // updates the baseline in the same commit.
    assert!(
        ratio >= 0.80 * base,
        "the ratio fell from {base:.4} to {ratio:.4}: the baseline is stale; rerun with \
         DSA110_UPDATE_PERF_BASELINE=1 and commit tests/perf/instructions.json"
    );
}
