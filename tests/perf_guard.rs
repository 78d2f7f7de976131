//! A guard against performance regressions that does not depend on a noisy
//! clock: callgrind counts the instructions `convert` spends per row (CPU
//! backend, one thread), as the difference between two group sizes measured
//! in one run, so start-up costs cancel. Failing on more than 10% growth
//! over the committed baseline (tests/perf/instructions.json).
//!
//! Instruction counts depend on the CPU (glibc picks memcpy and libm
//! variants by CPU features): on a CPU model other than the baseline's the
//! comparison is skipped with a loud message. `DSA110_UPDATE_PERF_BASELINE=1`
//! rewrites the baseline.

mod common;

use std::path::Path;

use dsa110_convert::sim::SimConfig;

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Instructions callgrind counts for converting `files`.
fn instructions(files: &[std::path::PathBuf], dir: &Path) -> u64 {
    let out = dir.join("callgrind.out");
    let status = common::command("valgrind")
        .args(["--tool=callgrind", "-q"])
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(common::bin())
        .args([
            "-q",
            "convert",
            "--backend",
            "cpu",
            "--workers",
            "1",
            "--overwrite",
            "-o",
        ])
        .arg(dir.join("ms"))
        .args(files)
        .env("RAYON_NUM_THREADS", "1")
        .status()
        .expect("running valgrind");
    assert!(status.success(), "convert under callgrind failed");
    let text = std::fs::read_to_string(&out).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("callgrind summary line")
}

#[test]
fn instructions_per_row_do_not_grow() {
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
    let group = |n_times: usize| SimConfig {
        n_ants: 16,
        n_times,
        chans_per_subband: 48,
        ..SimConfig::default()
    };
    let small = common::small_group(&dir.path().join("small"), group(2));
    let big = common::small_group(&dir.path().join("big"), group(6));
    let rows = (6 - 2) * 136;
    let per_row = (instructions(&big, dir.path()) - instructions(&small, dir.path())) / rows as u64;
    let model = cpu_model();
    let baseline_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/perf/instructions.json");
    if std::env::var("DSA110_UPDATE_PERF_BASELINE").is_ok() {
        let v = serde_json::json!({"cpu_model": model, "instructions_per_row": per_row});
        std::fs::write(
            &baseline_path,
            serde_json::to_string_pretty(&v).unwrap() + "\n",
        )
        .unwrap();
        eprintln!("baseline written: {per_row} instructions per row on {model}");
        return;
    }
    let baseline: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline_path).unwrap()).unwrap();
    let (base_model, base) = (
        baseline["cpu_model"].as_str().unwrap(),
        baseline["instructions_per_row"].as_u64().unwrap(),
    );
    eprintln!("perf guard: {per_row} instructions per row (baseline {base} on {base_model}; this CPU: {model})");
    if base_model != model {
        eprintln!("\n*** perf guard not compared: baseline recorded on another CPU model ***\n");
        return;
    }
    assert!(
        per_row as f64 <= 1.10 * base as f64,
        "instructions per row grew from {base} to {per_row} (+{:.1}%)",
        (per_row as f64 / base as f64 - 1.0) * 100.0
    );
}
