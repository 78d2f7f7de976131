//! Helpers shared by the integration tests: the oracle Python (pyuvdata,
//! python-casacore, astropy, h5py in the venv `make test` creates) and the
//! real data files in ../shared/data.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Root of the repository.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/data/<rel>` beside the repository.
pub fn shared_data(rel: &str) -> PathBuf {
    let p = repo().join("..").join("shared").join("data").join(rel);
    assert!(p.exists(), "shared data file missing: {}", p.display());
    p
}

/// The Python of a venv that `make test` creates: `$env` when set (the
/// Makefile sets it), else `<repo>/<dir>/bin/python`.
fn venv_python(env: &str, dir: &str) -> PathBuf {
    if let Ok(p) = std::env::var(env) {
        return PathBuf::from(p);
    }
    let venv = repo().join(dir).join("bin/python");
    assert!(
        venv.exists(),
        "{dir} missing: run `make test` (or scripts/setup.sh) first"
    );
    venv
}

/// The Python interpreter of the oracle venv (pyuvdata, python-casacore,
/// astropy, h5py).
pub fn python() -> PathBuf {
    venv_python("DSA110_PYTHON", ".venv")
}

/// A `Command` for `program` whose child inherits no descriptor beyond
/// stdin/stdout/stderr.
///
/// Why: the tests run in parallel threads, and HDF5 opens files without
/// close-on-exec while holding a `flock` on them. A child spawned by one
/// test while another test is writing its simulated group would inherit
/// that descriptor and keep the lock for its whole life, so the other
/// test's next open of the file (pyuvdata, or our own reader) fails with
/// "unable to lock file, errno = 11".
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    // SAFETY: close_range is a single async-signal-safe system call; marking
    // descriptors close-on-exec leaves std's own exec-status pipe working.
    unsafe {
        cmd.pre_exec(|| {
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
            if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Run `tests/oracle/<script>` with `args`; parse its stdout as JSON.
/// Panics with the script's stderr when it fails.
pub fn oracle(script: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> serde_json::Value {
    run_oracle(command(python()), script, args)
}

/// Run the oracle `script` with `python` (a command, set up); its JSON is
/// the last line of its stdout starting with `{` (CASA may print before).
fn run_oracle(
    mut python: Command,
    script: &str,
    args: &[&dyn AsRef<std::ffi::OsStr>],
) -> serde_json::Value {
    python.arg(repo().join("tests/oracle").join(script));
    for a in args {
        python.arg(a);
    }
    let out = python.output().expect("running the oracle python");
    assert!(
        out.status.success(),
        "oracle {script} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{') || l.starts_with('['))
        .unwrap_or("");
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("oracle {script} printed no JSON ({e}):\n{stdout}"))
}

/// A JSON array of numbers as `Vec<f64>` (nested arrays flattened).
/// A JSON array of booleans (h5py's flags) as `bool`s.
pub fn bools(v: &serde_json::Value) -> Vec<bool> {
    v.as_array()
        .expect("an array of booleans")
        .iter()
        .map(|b| b.as_bool().expect("a boolean"))
        .collect()
}

pub fn f64s(v: &serde_json::Value) -> Vec<f64> {
    fn walk(v: &serde_json::Value, out: &mut Vec<f64>) {
        match v {
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            serde_json::Value::Number(n) => out.push(n.as_f64().unwrap()),
            serde_json::Value::Null => out.push(f64::NAN),
            other => panic!("not a number: {other}"),
        }
    }
    let mut out = Vec::new();
    walk(v, &mut out);
    out
}

/// True under CI (the CI sets CI=true): GPU tests must then fail, not skip,
/// when no adapter exists.
pub fn in_ci() -> bool {
    std::env::var("CI")
        .map(|v| !v.is_empty() && v != "false")
        .unwrap_or(false)
}

/// What opening a GPU backend gave, or `None` where no adapter exists (the
/// test is then skipped loudly); under CI a missing adapter fails the test.
pub fn gpu_or_skip<T, E: std::fmt::Display>(opened: Result<T, E>) -> Option<T> {
    match opened {
        Ok(g) => Some(g),
        Err(e) if in_ci() => panic!("CI needs a GPU adapter (Mesa lavapipe): {e}"),
        Err(e) => {
            eprintln!("\n*** SKIPPING GPU TEST: {e} ***\n");
            None
        }
    }
}

/// Whether the GPU backend can run here (lavapipe in CI): see [`gpu_or_skip`].
pub fn gpu_available() -> bool {
    use dsa110_convert::compute::gpu::{AdapterPolicy, GpuBackend};
    gpu_or_skip(GpuBackend::new(AdapterPolicy::Any)).is_some()
}

/// Path of the built command-line binary.
pub fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_dsa110-convert"))
}

/// Simulate a small DSA-110 group into `dir`; returns its files.
pub fn small_group(dir: &Path, cfg: dsa110_convert::sim::SimConfig) -> Vec<PathBuf> {
    dsa110_convert::sim::simulate_group(&cfg, dir)
        .expect("simulating")
        .1
}

/// A small, quick configuration: 12 antennas, 4 integrations, 16 x 8
/// channels. The 12 antennas (`sim::antennas_with_data`) span both arms and
/// reach an outrigger: about 780 m east-west by 1700 m north-south, so v and
/// w are hundreds of metres (tests/sim.rs checks the extents).
pub fn small_config() -> dsa110_convert::sim::SimConfig {
    dsa110_convert::sim::SimConfig {
        n_ants: 12,
        n_times: 4,
        chans_per_subband: 8,
        ..Default::default()
    }
}

/// Run the CLI with `args`; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&dyn AsRef<std::ffi::OsStr>]) -> (i32, String, String) {
    let mut cmd = command(bin());
    for a in args {
        cmd.arg(a);
    }
    let out = cmd.output().expect("running dsa110-convert");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Convert `files` with the CLI (CPU backend) into `out_dir`, adding
/// `extra` arguments; returns the one MS written there.
pub fn convert(files: &[PathBuf], out_dir: &Path, extra: &[&str]) -> PathBuf {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"-q", &"convert", &"--backend", &"cpu", &"-o", &out_dir];
    for e in extra {
        args.push(e);
    }
    for f in files {
        args.push(f);
    }
    let (code, _, err) = run_cli(&args);
    assert_eq!(code, 0, "convert failed: {err}");
    let ms: Vec<PathBuf> = std::fs::read_dir(out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ms"))
        .collect();
    assert_eq!(ms.len(), 1, "{ms:?}");
    ms[0].clone()
}

/// Assert that two of our Measurement Sets of the same group hold the same
/// rows (python-casacore, `compare_ms.py`): flags, FLAG_ROW, WEIGHT, SIGMA,
/// UVW, field names and channel frequencies identical, DATA within 1e-6
/// relative (phasors computed over different channel spans).
pub fn assert_same_ms(ours: &Path, theirs: &Path) {
    let cmp = oracle("compare_ms.py", &[&ours, &theirs]);
    assert_eq!(cmp["flag_mismatch"], 0, "{cmp}");
    assert_eq!(cmp["flag_row_mismatch"], 0, "{cmp}");
    assert_eq!(cmp["weight_max_abs"], 0.0, "{cmp}");
    assert_eq!(cmp["sigma_max_abs"], 0.0, "{cmp}");
    assert_eq!(cmp["uvw_max_abs_m"], 0.0, "{cmp}");
    assert!(cmp["data_max_rel"].as_f64().unwrap() < 1e-6, "{cmp}");
    assert_eq!(cmp["field_names"][0], cmp["field_names"][1], "{cmp}");
    assert_eq!(cmp["chan_freq_max_abs_hz"], 0.0, "{cmp}");
}

/// The Python of the CASA venv (casatools, casatasks and casadata from
/// PyPI, which `make test` creates as `.venv-casa`). CASA bundles its own
/// casacore, so it runs in its own process, never beside python-casacore.
pub fn casa_python() -> PathBuf {
    venv_python("DSA110_CASA_PYTHON", ".venv-casa")
}

/// Run the CASA oracle `tests/oracle/<script>` with `args`, CASA set up
/// offline in `work` (its config under `work/home/.casa`, its log
/// `work/casa.log`, its scratch files in `work`) as the README tells CASA
/// users to set it up: measures that know DSA_110 (`make test` makes them
/// with scripts/casa_add_dsa110.py in `.venv-casa/measures`). Parses its
/// stdout as JSON; panics with the script's stderr when it fails.
pub fn casa(script: &str, work: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> serde_json::Value {
    let measures = casa_python()
        .parent()
        .and_then(Path::parent)
        .expect("venv/bin/python")
        .join("measures");
    assert!(
        measures.join("geodetic").is_dir(),
        "CASA measures with DSA_110 missing: run `make test` (or scripts/setup.sh) first"
    );
    casa_with_measures(script, work, Some(&measures), args)
}

/// [`casa`] with `measures` as CASA's measures directory (`None`: the
/// casadata package's, which does not know DSA_110).
pub fn casa_with_measures(
    script: &str,
    work: &Path,
    measures: Option<&Path>,
    args: &[&dyn AsRef<std::ffi::OsStr>],
) -> serde_json::Value {
    let home = work.join("home");
    std::fs::create_dir_all(home.join(".casa")).expect("CASA home");
    let log = work.join("casa.log");
    std::fs::write(
        home.join(".casa/config.py"),
        format!(
            "import casadata\n\
             measurespath = {}\n\
             measures_auto_update = False\n\
             data_auto_update = False\n\
             logfile = {:?}\n",
            measures.map_or("casadata.datapath".to_string(), |m| format!(
                "{:?}",
                m.display().to_string()
            )),
            log.display().to_string()
        ),
    )
    .expect("CASA config");
    let mut cmd = command(casa_python());
    cmd.current_dir(work)
        .env("HOME", &home)
        .env("CASA_LOG", &log)
        .env("PYTHONPATH", repo().join("tests/oracle"));
    run_oracle(cmd, script, args)
}
