//! The streaming daemon as a user runs it: a child process watching a
//! directory that files land in over time, killed and restarted.

mod common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use dsa110_convert::sim::SimConfig;

/// Four tiny groups' worth of files: 4 subbands each, ~5 minutes apart.
fn groups(dir: &Path, n: usize) -> Vec<Vec<PathBuf>> {
    (0..n)
        .map(|g| {
            let cfg = SimConfig {
                n_ants: 8,
                n_times: 2,
                n_subbands: 4,
                chans_per_subband: 8,
                start_time_jd: Some(2_460_690.5 + g as f64 * 300.0 / 86_400.0),
                ..SimConfig::default()
            };
            common::small_group(&dir.join(format!("g{g}")), cfg)
        })
        .collect()
}

fn daemon(input: &Path, output: &Path, policy: &str) -> Child {
    daemon_with(
        input,
        output,
        &[
            "--backend",
            "cpu",
            "--stable-s",
            "0.3",
            "--quarantine-after-s",
            "1.5",
            "--incomplete-timeout-s",
            "4",
            "--incomplete",
            policy,
            "--rescan-s",
            "0.1",
        ],
    )
}

/// `stream run` of 4-subband groups from `input` into `output` with
/// `args`, logging its warnings to [`log_path`].
fn daemon_with(input: &Path, output: &Path, args: &[&str]) -> Child {
    common::command(common::bin())
        .args(["-q", "stream", "run", "--subbands", "4"])
        .args(args)
        .arg("--input")
        .arg(input)
        .arg("--output")
        .arg(output)
        .env("DSA110_LOG", "warn")
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log_path(output))
                .unwrap(),
        )
        .spawn()
        .unwrap()
}

/// Where the daemons of a test log their warnings.
fn log_path(output: &Path) -> PathBuf {
    output.with_extension("log")
}

fn status(output: &Path) -> serde_json::Value {
    let state = output.join("dsa110-stream.sqlite");
    if !state.exists() {
        // The daemon has not created its database yet.
        return serde_json::json!({"groups": [], "quarantined": []});
    }
    let (code, out, err) = common::run_cli(&[
        &"stream",
        &"status",
        &"--json",
        &"--last",
        &"50",
        &"--state",
        &output.join("dsa110-stream.sqlite"),
    ]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let t = Instant::now();
    while !ok() {
        assert!(t.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Copy `src` to `dst` in three slow appends, as a file being written.
fn land_slowly(src: &Path, dst: &Path) {
    let bytes = std::fs::read(src).unwrap();
    let third = bytes.len() / 3;
    use std::io::Write;
    let mut f = std::fs::File::create(dst).unwrap();
    for part in [
        &bytes[..third],
        &bytes[third..2 * third],
        &bytes[2 * third..],
    ] {
        f.write_all(part).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }
}

/// SIGTERM the daemon once it is running, i.e. holds the `flock` on its
/// state database's lock file, which it takes after setting its signal
/// handlers (a signal sent earlier would kill a process still starting);
/// returns its exit code, -1 when a signal ended it.
fn sigterm(child: &mut Child) -> i32 {
    let pid = child.id().to_string();
    wait_for(
        "the daemon to hold its state lock",
        Duration::from_secs(30),
        || {
            std::fs::read_to_string("/proc/locks")
                .unwrap()
                .lines()
                .any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.get(1) == Some(&"FLOCK") && f.get(4) == Some(&pid.as_str())
                })
        },
    );
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap().code().unwrap_or(-1)
}

fn ms_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".ms") || n.ends_with(".partial"))
        .collect();
    v.sort();
    v
}

/// A test's daemon set-up: an empty input directory, an output
/// directory, `src` simulated groups to deliver and the first one's
/// timestamp.
struct Feed {
    dir: tempfile::TempDir,
    input: PathBuf,
    output: PathBuf,
    src: Vec<Vec<PathBuf>>,
    t0: String,
}

impl Feed {
    fn new(n_groups: usize) -> Feed {
        let dir = tempfile::tempdir().unwrap();
        let (input, output) = (dir.path().join("in"), dir.path().join("out"));
        std::fs::create_dir_all(&input).unwrap();
        let src = groups(&dir.path().join("src"), n_groups);
        let t0 = timestamp(&src[0]);
        Feed {
            dir,
            input,
            output,
            src,
            t0,
        }
    }
}

/// Wait (up to 60 s) until `stream status` of `output` shows group `ts`
/// in `state`.
fn wait_for_state(output: &Path, ts: &str, state: &str) {
    wait_for(
        &format!("group {ts} {state}"),
        Duration::from_secs(60),
        || state_of(&status(output), ts) == state,
    );
}

fn state_of(st: &serde_json::Value, ts: &str) -> String {
    st["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["timestamp"] == ts)
        .map(|g| g["state"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn timestamp(files: &[PathBuf]) -> String {
    files[0]
        .file_name()
        .unwrap()
        .to_string_lossy()
        .split("_sb")
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn groups_landing_over_time_are_converted_once_bad_files_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir_all(&input).unwrap();
    let src = groups(&dir.path().join("src"), 4);
    let mut child = daemon(&input, &output, "wait");
    // Group 0: subbands in shuffled order, landing slowly.
    for i in [2, 0, 3, 1] {
        land_slowly(&src[0][i], &input.join(src[0][i].file_name().unwrap()));
    }
    // A duplicate of group 0's sb01, stamped 5 s later (same group, same subband).
    let t = chrono::NaiveDateTime::parse_from_str(&timestamp(&src[0]), "%Y-%m-%dT%H:%M:%S")
        .unwrap()
        + chrono::Duration::seconds(5);
    let dup_name = format!("{}_sb01.hdf5", t.format("%Y-%m-%dT%H:%M:%S"));
    assert_ne!(dup_name, src[0][1].file_name().unwrap().to_string_lossy());
    std::fs::copy(&src[0][1], input.join(&dup_name)).unwrap();
    // Group 1: complete, in reverse order.
    for f in src[1].iter().rev() {
        std::fs::copy(f, input.join(f.file_name().unwrap())).unwrap();
    }
    // Group 2: sb02 truncated (never opens), so the group stays incomplete.
    for (i, f) in src[2].iter().enumerate() {
        let dst = input.join(f.file_name().unwrap());
        if i == 2 {
            let b = std::fs::read(f).unwrap();
            std::fs::write(&dst, &b[..b.len() / 3]).unwrap();
        } else {
            std::fs::copy(f, &dst).unwrap();
        }
    }
    // Group 3: sb03 lands only after the group was declared incomplete.
    for f in &src[3][..3] {
        std::fs::copy(f, input.join(f.file_name().unwrap())).unwrap();
    }
    let (t0, t1, t2) = (timestamp(&src[0]), timestamp(&src[1]), timestamp(&src[2]));
    let t3 = timestamp(&src[3]);
    wait_for(
        "groups 0 and 1 done, groups 2 and 3 incomplete",
        Duration::from_secs(60),
        || {
            let st = status(&output);
            state_of(&st, &t0) == "done"
                && state_of(&st, &t1) == "done"
                && state_of(&st, &t2) == "incomplete"
                && state_of(&st, &t3) == "incomplete"
        },
    );
    let late = &src[3][3];
    std::fs::copy(late, input.join(late.file_name().unwrap())).unwrap();
    wait_for("group 3 done", Duration::from_secs(60), || {
        state_of(&status(&output), &t3) == "done"
    });
    assert_eq!(sigterm(&mut child), 0, "SIGTERM must exit 0");
    let st = status(&output);
    for g in st["groups"].as_array().unwrap() {
        if g["state"] == "done" {
            assert_eq!(g["attempts"], 1, "converted more than once: {g}");
            assert!(g["latency_s"].as_f64().unwrap() < 30.0, "{g}");
        }
    }
    let q = st["quarantined"].as_array().unwrap();
    assert_eq!(q.len(), 1, "{st}");
    assert!(q[0]["path"].as_str().unwrap().ends_with("_sb02.hdf5"));
    assert!(input
        .join("quarantine")
        .join(src[2][2].file_name().unwrap())
        .exists());
    assert_eq!(
        ms_names(&output),
        vec![format!("{t0}.ms"), format!("{t1}.ms"), format!("{t3}.ms")]
    );
    // Stopping abandoned group 2's subbands: no partial MS is left.
    let left: Vec<String> = std::fs::read_dir(&output)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // Groups 0, 1 and 3 were converted subband by subband as they landed
    // (no fallback to a whole-group conversion), into the MS `convert`
    // writes.
    let log = std::fs::read_to_string(log_path(&output)).unwrap();
    assert!(log.contains("quarantined"), "{log}");
    assert!(!log.contains("converting the group whole"), "{log}");
    for (k, t) in [(0, &t0), (1, &t1), (3, &t3)] {
        let batch = common::convert(
            &src[k],
            &dir.path().join(format!("batch{k}")),
            &["--subbands", "4"],
        );
        common::assert_same_ms(&output.join(format!("{t}.ms")), &batch);
    }
}

#[test]
fn incomplete_groups_are_converted_under_the_convert_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir_all(&input).unwrap();
    let src = groups(&dir.path().join("src"), 1);
    for f in &src[0][..3] {
        std::fs::copy(f, input.join(f.file_name().unwrap())).unwrap();
    }
    let mut child = daemon(&input, &output, "convert");
    let t0 = timestamp(&src[0]);
    wait_for(
        "the incomplete group converted",
        Duration::from_secs(60),
        || state_of(&status(&output), &t0) == "done",
    );
    // A second daemon on the same state database is refused.
    let second = common::command(common::bin())
        .args(["-q", "stream", "run", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .output()
        .unwrap();
    assert!(!second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another stream daemon"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert_eq!(sigterm(&mut child), 0);
    assert_eq!(ms_names(&output), vec![format!("{t0}.ms")]);
    // Three subbands are not the layout of four: the subbands converted as
    // they landed were dropped and the group converted whole.
    let log = std::fs::read_to_string(log_path(&output)).unwrap();
    assert!(log.contains("converting the group whole"), "{log}");
}

/// Where a killed daemon (process `pid`) was in its groups, from what it
/// left in `output` (a SIGKILL runs no clean-up): its partial MS with
/// subtables (finishing a group: subtables, sync, rename), one without
/// (writing rows, subband by subband), or none of its own (before rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Phase {
    BeforeRows,
    Rows,
    Finishing,
}

fn partials_of(output: &Path, pid: u32) -> Vec<PathBuf> {
    let tag = format!(".{pid}-");
    std::fs::read_dir(output)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    let n = p.file_name().unwrap().to_string_lossy().into_owned();
                    n.ends_with(".partial") && n.contains(&tag)
                })
                .collect()
        })
        .unwrap_or_default()
}

fn phase_left(output: &Path, pid: u32) -> Phase {
    let partials = partials_of(output, pid);
    if partials.iter().any(|p| p.join("ANTENNA").exists()) {
        Phase::Finishing
    } else if partials.is_empty() {
        Phase::BeforeRows
    } else {
        Phase::Rows
    }
}

/// Whether process `pid` holds a `flock` (the daemon takes its state
/// lock before anything else).
fn holds_flock(pid: u32) -> bool {
    let pid = pid.to_string();
    std::fs::read_to_string("/proc/locks")
        .unwrap()
        .lines()
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&"FLOCK") && f.get(4) == Some(&pid.as_str())
        })
}

#[test]
fn sigkill_at_any_point_loses_nothing_and_converts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir_all(&input).unwrap();
    // Groups large enough (8 MB MSs) that finishing one takes a while.
    let src: Vec<Vec<PathBuf>> = (0..4)
        .map(|g| {
            let cfg = SimConfig {
                n_ants: 24,
                n_times: 8,
                n_subbands: 4,
                chans_per_subband: 48,
                start_time_jd: Some(2_460_690.5 + g as f64 * 300.0 / 86_400.0),
                ..SimConfig::default()
            };
            common::small_group(&dir.path().join(format!("src/g{g}")), cfg)
        })
        .collect();
    for f in src.iter().flatten() {
        std::fs::copy(f, input.join(f.file_name().unwrap())).unwrap();
    }
    let stamps: Vec<String> = src.iter().map(|g| timestamp(g)).collect();
    let mut first_seen: std::collections::HashMap<String, SystemTimeKey> = Default::default();
    let mut landed: std::collections::HashMap<Phase, usize> = Default::default();
    let mut kills = 0;
    // Kills right after a rename, before the database knows.
    let mut after_rename = 0;
    // Aim at each phase in turn: as soon as the daemon runs (before any
    // row of its own), once it writes a group's rows, once it writes a
    // group's subtables, right after an MS appears.
    for round in 0..24 {
        let mut child = daemon(&input, &output, "wait");
        let pid = child.id();
        let t = Instant::now();
        let done_before = first_seen.len();
        loop {
            let names = if output.exists() {
                ms_names(&output)
            } else {
                vec![]
            };
            record(&output, &names, &mut first_seen);
            let hit = match round % 4 {
                0 => holds_flock(pid),
                1 => !partials_of(&output, pid).is_empty(),
                2 => partials_of(&output, pid)
                    .iter()
                    .any(|p| p.join("ANTENNA").exists()),
                _ => first_seen.len() > done_before,
            };
            if hit
                || t.elapsed() > Duration::from_secs(20)
                || names.iter().filter(|n| n.ends_with(".ms")).count() == 4
            {
                break;
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        *landed.entry(phase_left(&output, pid)).or_default() += 1;
        record(&output, &ms_names(&output), &mut first_seen);
        after_rename += (round % 4 == 3 && first_seen.len() > done_before) as usize;
        if ms_names(&output)
            .iter()
            .filter(|n| n.ends_with(".ms"))
            .count()
            == 4
        {
            break;
        }
    }
    eprintln!("{kills} kills landed: {landed:?}, {after_rename} right after a rename");
    assert!(
        after_rename >= 2,
        "{after_rename} kills right after a rename"
    );
    for phase in [Phase::BeforeRows, Phase::Rows, Phase::Finishing] {
        assert!(
            landed.get(&phase).copied().unwrap_or(0) >= 2,
            "fewer than 2 kills landed while {phase:?}: {landed:?}"
        );
    }
    // A last clean run finishes whatever is left.
    let mut child = daemon(&input, &output, "wait");
    wait_for("all four groups done", Duration::from_secs(120), || {
        let st = status(&output);
        stamps.iter().all(|t| state_of(&st, t) == "done")
    });
    assert_eq!(sigterm(&mut child), 0);
    let names = ms_names(&output);
    assert_eq!(
        names,
        stamps.iter().map(|t| format!("{t}.ms")).collect::<Vec<_>>(),
        "after {kills} kills"
    );
    // Nothing converted twice: every MS is the one that first appeared.
    record(&output, &names, &mut first_seen);
    for n in &names {
        assert_eq!(
            first_seen[n],
            key(&output.join(n)),
            "{n} was rewritten after it was finished"
        );
    }
}

type SystemTimeKey = (u64, std::time::SystemTime);

fn key(p: &Path) -> SystemTimeKey {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).unwrap();
    (m.ino(), m.modified().unwrap())
}

fn record(
    output: &Path,
    names: &[String],
    seen: &mut std::collections::HashMap<String, SystemTimeKey>,
) {
    for n in names.iter().filter(|n| n.ends_with(".ms")) {
        if let Ok(k) = std::panic::catch_unwind(|| key(&output.join(n))) {
            seen.entry(n.clone()).or_insert(k);
        }
    }
}

fn copy_into(files: &[PathBuf], input: &Path) {
    for f in files {
        std::fs::copy(f, input.join(f.file_name().unwrap())).unwrap();
    }
}

fn group_json(st: &serde_json::Value, ts: &str) -> serde_json::Value {
    st["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["timestamp"] == ts)
        .cloned()
        .unwrap_or_default()
}

#[test]
fn a_group_whose_output_another_process_writes_waits_and_is_then_done() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in"), dir.path().join("out"));
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(&output).unwrap();
    let src = groups(&dir.path().join("src"), 1);
    let t0 = timestamp(&src[0]);
    let target = output.join(format!("{t0}.ms"));
    // A backfill `convert` (here: this test) holds the output.
    let held = dsa110_convert::ms::OutputClaim::acquire(&target).unwrap();
    let mut child = daemon(&input, &output, "wait");
    copy_into(&src[0], &input);
    wait_for(
        "the daemon to find the output busy",
        Duration::from_secs(60),
        || {
            let g = group_json(&status(&output), &t0);
            g["state"] == "pending"
                && g["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("is writing this Measurement Set"))
        },
    );
    assert_eq!(
        group_json(&status(&output), &t0)["attempts"],
        0,
        "busy is not an attempt"
    );
    // The other writer puts its MS in place and lets go.
    let elsewhere = common::convert(&src[0], &dir.path().join("elsewhere"), &["--subbands", "4"]);
    std::fs::rename(elsewhere, &target).unwrap();
    let placed = key(&target);
    drop(held);
    wait_for_state(&output, &t0, "done");
    assert_eq!(sigterm(&mut child), 0);
    assert_eq!(
        key(&target),
        placed,
        "the daemon rewrote the other writer's MS"
    );
    assert_eq!(ms_names(&output), vec![format!("{t0}.ms")]);
}

#[test]
fn a_good_file_resent_to_a_quarantined_path_completes_its_group() {
    let Feed {
        dir: _dir,
        input,
        output,
        src,
        t0,
    } = Feed::new(1);
    copy_into(&src[0][..3], &input);
    let bad = input.join(src[0][3].file_name().unwrap());
    std::fs::write(&bad, "not HDF5").unwrap();
    let mut child = daemon(&input, &output, "wait");
    wait_for(
        "the bad file quarantined, the group incomplete",
        Duration::from_secs(60),
        || {
            let st = status(&output);
            st["quarantined"].as_array().unwrap().len() == 1 && state_of(&st, &t0) == "incomplete"
        },
    );
    // The correlator sends the file again, good this time.
    std::fs::copy(&src[0][3], &bad).unwrap();
    wait_for_state(&output, &t0, "done");
    assert_eq!(sigterm(&mut child), 0);
    assert_eq!(
        dsa110_convert::ms::inspect(&output.join(format!("{t0}.ms"))),
        dsa110_convert::ms::OutputState::Complete
    );
}

#[test]
fn a_failed_group_starts_over_when_its_bad_file_is_replaced() {
    let Feed {
        dir: _dir,
        input,
        output,
        src,
        t0,
    } = Feed::new(2);
    // sb03 holds another group's rows under group 0's name: it opens, but
    // the group cannot be converted.
    copy_into(&src[0][..3], &input);
    let wrong = input.join(src[0][3].file_name().unwrap());
    std::fs::copy(&src[1][3], &wrong).unwrap();
    let mut child = daemon(&input, &output, "wait");
    wait_for("the group failed", Duration::from_secs(90), || {
        state_of(&status(&output), &t0) == "failed"
    });
    std::fs::remove_file(&wrong).unwrap();
    std::fs::copy(&src[0][3], &wrong).unwrap();
    wait_for_state(&output, &t0, "done");
    assert_eq!(sigterm(&mut child), 0);
    let log = std::fs::read_to_string(log_path(&output)).unwrap();
    assert!(log.contains("failed"), "{log}");
    assert_eq!(ms_names(&output), vec![format!("{t0}.ms")]);
}

#[test]
fn status_notices_a_missing_ms_and_retry_converts_it_again() {
    let Feed {
        dir: _dir,
        input,
        output,
        src,
        t0,
    } = Feed::new(1);
    copy_into(&src[0], &input);
    let mut child = daemon(&input, &output, "wait");
    wait_for_state(&output, &t0, "done");
    // A file replaced after its group is done is logged, not converted.
    let again = input.join(src[0][2].file_name().unwrap());
    std::fs::remove_file(&again).unwrap();
    std::fs::copy(&src[0][2], &again).unwrap();
    wait_for("the replacement logged", Duration::from_secs(30), || {
        std::fs::read_to_string(log_path(&output))
            .unwrap_or_default()
            .contains("replaced while group")
    });
    let db = output.join("dsa110-stream.sqlite");
    let retry = |groups: &[&str]| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"stream", &"retry", &"--state", &db];
        for g in groups {
            args.push(g);
        }
        common::run_cli(&args)
    };
    // Its MS in place: a retry is refused.
    let (code, _, err) = retry(&[&t0]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("remove"), "{err}");
    assert_eq!(group_json(&status(&output), &t0)["ms_missing"], false);
    std::fs::remove_dir_all(output.join(format!("{t0}.ms"))).unwrap();
    assert_eq!(group_json(&status(&output), &t0)["ms_missing"], true);
    let (_, text, _) = common::run_cli(&[&"stream", &"status", &"--state", &db]);
    assert!(text.contains("MS missing"), "{text}");
    let (code, text, err) = retry(&[&t0]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("requeued"), "{text}");
    wait_for("the group done again", Duration::from_secs(60), || {
        let g = group_json(&status(&output), &t0);
        g["state"] == "done" && g["ms_missing"] == false
    });
    assert_eq!(sigterm(&mut child), 0);
    // An unknown group is an error.
    assert_eq!(retry(&["2000-01-01T00:00:00"]).0, 1);
}

#[test]
fn the_daemon_on_the_gpu_writes_the_ms_the_cpu_convert_writes() {
    if !common::gpu_available() {
        return;
    }
    let feed = Feed::new(1);
    std::fs::create_dir_all(&feed.output).unwrap();
    // Midpoint: a real phase correction (meridian's is zero here).
    let mut child = daemon_with(
        &feed.input,
        &feed.output,
        &[
            "--backend",
            "gpu",
            "--phase-center",
            "midpoint",
            "--stable-s",
            "0.3",
            "--rescan-s",
            "0.1",
        ],
    );
    copy_into(&feed.src[0], &feed.input);
    wait_for_state(&feed.output, &feed.t0, "done");
    assert_eq!(sigterm(&mut child), 0);
    let streamed = feed.output.join(ms_names(&feed.output)[0].clone());
    let reference = common::convert(
        &feed.src[0],
        &feed.dir.path().join("batch"),
        &["--subbands", "4", "--phase-center", "midpoint"],
    );
    let cmp = common::oracle("compare_ms.py", &[&streamed, &reference]);
    eprintln!("stream --backend gpu vs convert --backend cpu: {cmp}");
    assert_eq!(cmp["flag_mismatch"], 0, "{cmp}");
    assert_eq!(cmp["missing_rows"], serde_json::json!([0, 0]), "{cmp}");
    assert!(cmp["uvw_max_abs_m"].as_f64().unwrap() < 1e-5, "{cmp}");
    assert!(cmp["data_max_rel"].as_f64().unwrap() < 2e-6, "{cmp}");
    let log = std::fs::read_to_string(log_path(&feed.output)).unwrap_or_default();
    assert!(!log.contains("XDG_RUNTIME_DIR"), "driver chatter: {log}");
}

#[test]
fn files_renamed_into_place_are_taken_at_once_and_partials_never_opened() {
    let feed = Feed::new(1);
    std::fs::create_dir_all(&feed.output).unwrap();
    // A stability wait far longer than the test may take: only the rename
    // can tell the daemon a file is complete.
    let mut child = daemon_with(
        &feed.input,
        &feed.output,
        &[
            "--backend",
            "cpu",
            "--stable-s",
            "600",
            "--quarantine-after-s",
            "1",
            "--rescan-s",
            "0.1",
        ],
    );
    // Garbage under the names of files still being delivered: opened, they
    // would be quarantined after 1 s.
    let name = |f: &PathBuf| f.file_name().unwrap().to_string_lossy().into_owned();
    let stem = name(&feed.src[0][0]).trim_end_matches(".hdf5").to_string();
    let incomplete = feed.input.join(format!("{stem}_incomplete.hdf5"));
    let rsync_tmp = feed
        .input
        .join(format!(".{}.Xa12bC", name(&feed.src[0][0])));
    std::fs::write(&incomplete, b"still being written").unwrap();
    std::fs::write(&rsync_tmp, b"still being copied").unwrap();
    let t = Instant::now();
    for (i, f) in feed.src[0].iter().enumerate() {
        // Half as the correlator delivers, half as rsync does.
        let tmp = if i % 2 == 0 {
            feed.input.join(format!(
                "{}_incomplete.hdf5",
                name(f).trim_end_matches(".hdf5")
            ))
        } else {
            feed.input.join(format!(".{}.Tmp{i}", name(f)))
        };
        std::fs::copy(f, &tmp).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        std::fs::rename(&tmp, feed.input.join(name(f))).unwrap();
    }
    wait_for_state(&feed.output, &feed.t0, "done");
    let took = t.elapsed().as_secs_f64();
    std::fs::write(&incomplete, b"still being written").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let st = status(&feed.output);
    assert_eq!(sigterm(&mut child), 0);
    assert!(took < 60.0, "converted after {took:.1} s");
    assert_eq!(st["quarantined"], serde_json::json!([]), "{st}");
    assert!(rsync_tmp.exists() && incomplete.exists());
    assert!(!feed.input.join("quarantine").exists());
}

#[test]
fn the_daemon_with_qa_writes_it_beside_the_ms_and_status_shows_the_verdict() {
    let feed = Feed::new(1);
    let mut child = daemon_with(&feed.input, &feed.output, &["--backend", "cpu", "--qa"]);
    for f in &feed.src[0] {
        std::fs::copy(f, feed.input.join(f.file_name().unwrap())).unwrap();
    }
    wait_for_state(&feed.output, &feed.t0, "done");
    assert_eq!(sigterm(&mut child), 0);
    // The same verdict and problems as `qa` of the files.
    let json = feed.output.join(format!("{}.qa.json", feed.t0));
    let png = feed.output.join(format!("{}.qa.png", feed.t0));
    assert!(png.is_file(), "{}", png.display());
    let ours: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(ours["input"], "convert");
    let files_qa = feed.dir.path().join("qa");
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"-q", &"qa", &"-o", &files_qa];
    for f in &feed.src[0] {
        args.push(f);
    }
    let (code, _, err) = common::run_cli(&args);
    assert_eq!(code, 0, "{err}");
    let theirs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(files_qa.join(format!("{}.qa.json", feed.t0))).unwrap(),
    )
    .unwrap();
    assert_eq!(ours["verdict"], theirs["verdict"]);
    assert_eq!(ours["problems"], theirs["problems"]);
    assert_eq!(
        group_json(&status(&feed.output), &feed.t0)["qa"],
        theirs["verdict"]
    );
}
