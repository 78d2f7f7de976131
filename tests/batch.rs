//! `batch` on a real Slurm: the one-node cluster `scripts/slurm.sh start`
//! runs on this machine (`make test` starts it before the tests and stops
//! it after). Without a cluster these tests skip, and under CI they fail.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dsa110_convert::batch::{self, Manifest};
use serde_json::Value;

/// A cluster the Slurm commands reach: its `SLURM_CONF` (the test
/// cluster's, when the environment names none).
struct Slurm {
    conf: PathBuf,
}

impl Slurm {
    fn get() -> Option<Slurm> {
        let conf = std::env::var_os("SLURM_CONF")
            .map(PathBuf::from)
            .unwrap_or_else(|| common::repo().join("target/slurm/slurm.conf"));
        let slurm = Slurm { conf };
        // Without a configuration the Slurm commands search DNS for a
        // controller for a minute: ask only when the file is there.
        let up = slurm.conf.is_file()
            && slurm
                .cmd("sinfo")
                .args(["-h", "-o", "%t"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .is_some_and(|s| ["idle", "mix", "alloc"].iter().any(|t| s.contains(t)));
        if up {
            return Some(slurm);
        }
        let why = format!(
            "no Slurm cluster answers (SLURM_CONF={}): run `scripts/slurm.sh start`",
            slurm.conf.display()
        );
        assert!(!common::in_ci(), "{why}");
        eprintln!("skipped: {why}");
        None
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = common::command(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// `dsa110-convert` with this cluster's SLURM_CONF; panics unless it
    /// exits 0; returns stdout.
    fn cli(&self, args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
        let mut c = self.cmd(common::bin().to_str().unwrap());
        for a in args {
            c.arg(a);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "dsa110-convert {:?} failed:\n{}",
            args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self.cmd(program).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Each array task of `job`: its `scontrol` fields (JobState, ExitCode,
    /// MinMemoryNode, ...), by array task id.
    fn tasks(&self, job: &str) -> BTreeMap<usize, BTreeMap<String, String>> {
        self.run("scontrol", &["-o", "show", "job", job])
            .lines()
            .map(|line| {
                let fields: BTreeMap<String, String> = line
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                let id = fields["ArrayTaskId"]
                    .parse()
                    .expect("one array task per line");
                (id, fields)
            })
            .collect()
    }

    /// Wait until nothing of `job` is pending or running.
    fn wait(&self, job: &str) {
        let t = Instant::now();
        while !self
            .run("squeue", &["-h", "-j", job, "-o", "%i"])
            .trim()
            .is_empty()
        {
            assert!(
                t.elapsed() < Duration::from_secs(600),
                "job {job} still queued after 10 minutes:\n{}",
                self.run("squeue", &[])
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// `n` small groups (16 subbands, 12 antennas by default) five minutes
/// apart in `dir`; returns their files, oldest first.
fn archive(dir: &Path, n: usize, n_ants: usize) -> Vec<Vec<PathBuf>> {
    (0..n)
        .map(|g| {
            let mut cfg = common::small_config();
            cfg.n_ants = n_ants;
            cfg.start_time_jd = Some(2_460_690.6 + g as f64 * 300.0 / 86_400.0);
            common::small_group(dir, cfg)
        })
        .collect()
}

/// What `convert --input` writes for the same groups, in `dir`.
fn reference(input: &Path, dir: &Path) {
    let (code, _, err) = common::run_cli(&[
        &"-q",
        &"convert",
        &"--backend",
        &"cpu",
        &"--input",
        &input,
        &"-o",
        &dir,
    ]);
    assert_eq!(code, 0, "{err}");
}

/// The `.ms` entries of `dir`, and its hidden entries (partial MSs, locks,
/// temporary records: nothing of the sort may be left when all is done).
fn outputs(dir: &Path) -> (Vec<String>, Vec<String>) {
    let mut ms = Vec::new();
    let mut hidden = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            hidden.push(name);
        } else if name.ends_with(".ms") {
            ms.push(name);
        }
    }
    ms.sort();
    hidden.sort();
    (ms, hidden)
}

/// An archive of 8 simulated groups of `n_ants` antennas (`groups`, under
/// `dir/in`), the MS `convert` writes for each (`refs`), and its `batch
/// plan` manifest for `out`.
struct Planned {
    dir: tempfile::TempDir,
    out: PathBuf,
    refs: PathBuf,
    groups: Vec<Vec<PathBuf>>,
    manifest: Manifest,
}

impl Planned {
    fn new(slurm: &Slurm, n_ants: usize) -> Planned {
        let dir = tempfile::tempdir().unwrap();
        let (input, out, refs) = (
            dir.path().join("in"),
            dir.path().join("out"),
            dir.path().join("ref"),
        );
        let groups = archive(&input, 8, n_ants);
        reference(&input, &refs);
        let manifest = plan(slurm, &input, &out);
        Planned {
            dir,
            out,
            refs,
            groups,
            manifest,
        }
    }
}

fn plan(slurm: &Slurm, input: &Path, out: &Path) -> Manifest {
    let manifest = out.join("manifest.jsonl");
    slurm.cli(&[&"batch", &"plan", &"--input", &input, &"--output", &out]);
    Manifest::read(&manifest).unwrap()
}

fn status(slurm: &Slurm, manifest: &Path) -> Value {
    let out = slurm
        .cmd(common::bin().to_str().unwrap())
        .args(["batch", "status", "--json", "--manifest"])
        .arg(manifest)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The groups `status` reports in `state`.
fn in_state(status: &Value, state: &str) -> Vec<String> {
    status["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["state"] == state)
        .map(|g| g["group"].as_str().unwrap().to_string())
        .collect()
}

/// The options every test converts with: the CPU backend; `max_memory` sets
/// the block size (under 192 MiB: one row per block, a conversion of
/// seconds, long enough to be interrupted).
fn submit(
    slurm: &Slurm,
    manifest: &Path,
    tasks: usize,
    max_memory: &str,
    extra: &[&str],
) -> String {
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![
        &"batch",
        &"submit",
        &"--manifest",
        &manifest,
        &"--cpus",
        &"1",
        &"--backend",
        &"cpu",
        &"--max-memory",
        &max_memory,
    ];
    let tasks = tasks.to_string();
    args.extend([&"--tasks" as &dyn AsRef<std::ffi::OsStr>, &tasks]);
    for e in extra {
        args.push(e);
    }
    slurm.cli(&args).trim().to_string()
}

#[test]
fn an_array_of_four_tasks_converts_each_of_eight_groups_once_as_convert_does() {
    let Some(slurm) = Slurm::get() else { return };
    let Planned {
        dir: _dir,
        out,
        refs,
        groups,
        manifest,
    } = Planned::new(&slurm, 12);
    assert_eq!(manifest.groups.len(), 8);

    let job = submit(&slurm, &manifest.path, 4, "1GiB", &[]);
    slurm.wait(&job);

    let tasks = slurm.tasks(&job);
    assert_eq!(tasks.keys().copied().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    for (id, t) in &tasks {
        assert_eq!(t["JobState"], "COMPLETED", "task {id}: {t:?}");
        assert_eq!(t["ExitCode"], "0:0", "task {id}");
        // --max-memory 1 GiB plus the measured 384 MiB of the program itself.
        assert_eq!(t["MinMemoryNode"], "1408M", "task {id}");
    }
    // Exactly one MS per group, nothing partial, each as `convert` writes it.
    let (ms, hidden) = outputs(&out);
    let (expected, _) = outputs(&refs);
    assert_eq!(ms, expected);
    assert_eq!(ms.len(), 8);
    assert!(hidden.is_empty(), "{hidden:?}");
    for name in &ms {
        common::assert_same_ms(&out.join(name), &refs.join(name));
    }
    // `batch status` agrees, and each record says who did what.
    let st = status(&slurm, &manifest.path);
    assert_eq!(
        (
            st["done"].as_u64(),
            st["failed"].as_u64(),
            st["missing"].as_u64()
        ),
        (Some(8), Some(0), Some(0))
    );
    let host = slurm.run("hostname", &[]).trim().to_string();
    let mut per_task = [0; 4];
    for (g, files) in st["groups"].as_array().unwrap().iter().zip(&groups) {
        let r = &g["record"];
        assert_eq!(g["state"], "done");
        assert_eq!(r["outcome"], "ok");
        assert_eq!(r["host"], host.as_str());
        let bytes: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        assert_eq!(r["bytes"].as_u64(), Some(bytes));
        let task = r["task"].as_u64().unwrap() as usize;
        assert_eq!(r["slurm_job"], format!("{job}_{task}").as_str());
        per_task[task] += 1;
    }
    // Eight groups of equal size: two per task.
    assert_eq!(per_task, [2; 4]);
}

#[test]
fn a_task_cancelled_while_converting_is_finished_by_only_missing_and_nothing_twice() {
    let Some(slurm) = Slurm::get() else { return };
    let Planned {
        dir: _dir,
        out,
        refs,
        groups: _,
        manifest,
    } = Planned::new(&slurm, 24);

    let job = submit(&slurm, &manifest.path, 4, "1MiB", &[]);
    // Cancel task 1 once its first group's partial MS is there.
    let mine = batch::split(&manifest.groups, 4).unwrap();
    let first = &manifest.groups[mine[1][0]];
    let t = Instant::now();
    let name = first
        .output
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    while !outputs(&out)
        .1
        .iter()
        .any(|p| p.starts_with(&format!(".{name}.")))
    {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "task 1 never started {}",
            first.group
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    slurm.run("scancel", &[&format!("{job}_1")]);
    slurm.wait(&job);
    let tasks = slurm.tasks(&job);
    assert_eq!(tasks[&1]["JobState"], "CANCELLED", "{:?}", tasks[&1]);
    for id in [0, 2, 3] {
        assert_eq!(tasks[&id]["JobState"], "COMPLETED", "{:?}", tasks[&id]);
    }

    // What task 1 did not finish is missing; everything else is done.
    let st = status(&slurm, &manifest.path);
    let missing = in_state(&st, "missing");
    let of_task_1: Vec<String> = mine[1]
        .iter()
        .map(|&i| manifest.groups[i].group.clone())
        .collect();
    assert!(!missing.is_empty());
    assert!(
        missing.iter().all(|g| of_task_1.contains(g)),
        "{missing:?} not all of {of_task_1:?}"
    );
    assert_eq!(in_state(&st, "done").len() + missing.len(), 8);
    let (_, hidden) = outputs(&out);
    for p in &hidden {
        assert!(
            missing.iter().any(|g| p.contains(g.as_str())),
            "{p} left by a done group"
        );
    }
    // The done groups: their MS (inode, mtime) and record, to see that
    // nothing converts them again.
    let done: Vec<_> = manifest
        .groups
        .iter()
        .filter(|g| !missing.contains(&g.group))
        .map(|g| {
            let m = std::fs::metadata(&g.output).unwrap();
            let record = std::fs::read(batch::record_path(&g.output)).unwrap();
            (g.output.clone(), m.ino(), m.mtime_nsec(), record)
        })
        .collect();

    let again = submit(&slurm, &manifest.path, 4, "1MiB", &["--only-missing"]);
    assert_ne!(again, job);
    slurm.wait(&again);
    let tasks = slurm.tasks(&again);
    assert_eq!(
        tasks.keys().copied().collect::<Vec<_>>(),
        vec![1],
        "only task 1 again"
    );
    assert_eq!(tasks[&1]["JobState"], "COMPLETED");

    let st = status(&slurm, &manifest.path);
    assert_eq!(st["done"].as_u64(), Some(8), "{st}");
    for (path, ino, mtime, record) in &done {
        let m = std::fs::metadata(path).unwrap();
        assert_eq!(
            (m.ino(), m.mtime_nsec()),
            (*ino, *mtime),
            "{} converted twice",
            path.display()
        );
        assert_eq!(&std::fs::read(batch::record_path(path)).unwrap(), record);
    }
    let (ms, hidden) = outputs(&out);
    assert_eq!(ms.len(), 8);
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
    for g in st["groups"].as_array().unwrap() {
        if missing.iter().any(|m| g["group"] == m.as_str()) {
            assert_eq!(g["record"]["slurm_job"], format!("{again}_1").as_str());
            let name = format!("{}.ms", g["group"].as_str().unwrap());
            common::assert_same_ms(&out.join(&name), &refs.join(&name));
        }
    }
}

#[test]
fn the_same_task_twice_at_once_leaves_one_good_ms_per_group() {
    let Some(slurm) = Slurm::get() else { return };
    let Planned {
        dir,
        out,
        refs,
        groups: _,
        manifest,
    } = Planned::new(&slurm, 24);

    // Two array elements, both task 0 of 2; each waits for the other to
    // start, so the two really convert at the same time.
    let barrier = dir.path().join("started");
    std::fs::create_dir(&barrier).unwrap();
    let run = format!(
        "touch {b}/$SLURM_ARRAY_TASK_ID; while [ $(ls {b} | wc -l) -lt 2 ]; do sleep 0.05; done; \
         exec {bin} batch run --manifest {m} --task 0 --tasks 2 --backend cpu --max-memory 1MiB --json",
        b = barrier.display(),
        bin = common::bin().display(),
        m = manifest.path.display()
    );
    let log = dir.path().join("twice-%a.json");
    let err = dir.path().join("twice-%a.err");
    let job = slurm
        .run(
            "sbatch",
            &[
                "--parsable",
                "--array=0-1",
                "--cpus-per-task=1",
                "--mem=512M",
                "-o",
                log.to_str().unwrap(),
                "-e",
                err.to_str().unwrap(),
                "--wrap",
                &run,
            ],
        )
        .trim()
        .to_string();
    slurm.wait(&job);
    for (id, t) in slurm.tasks(&job) {
        assert_eq!(
            (t["JobState"].as_str(), t["ExitCode"].as_str()),
            ("COMPLETED", "0:0"),
            "element {id}"
        );
    }

    // Task 0's groups: each converted by exactly one of the two; the other
    // found it locked or done.
    let share = &batch::split(&manifest.groups, 2).unwrap()[0];
    let mut converted: BTreeMap<String, usize> = BTreeMap::new();
    let mut locked = 0;
    for element in 0..2 {
        let text =
            std::fs::read_to_string(dir.path().join(format!("twice-{element}.json"))).unwrap();
        let records: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(records.as_array().unwrap().len(), share.len());
        for r in records.as_array().unwrap() {
            match r["outcome"].as_str().unwrap() {
                "ok" => {
                    *converted
                        .entry(r["group"].as_str().unwrap().to_string())
                        .or_default() += 1
                }
                "skipped_other_writer" => locked += 1,
                other => assert_eq!(other, "skipped_exists", "{r}"),
            }
        }
    }
    let expected: BTreeMap<String, usize> = share
        .iter()
        .map(|&i| (manifest.groups[i].group.clone(), 1))
        .collect();
    assert_eq!(converted, expected);
    // Started together, the two met on the first group at least.
    assert!(
        locked >= 1,
        "the two never wrote one output at the same time"
    );
    let (ms, hidden) = outputs(&out);
    assert_eq!(ms.len(), share.len());
    assert!(hidden.is_empty(), "{hidden:?}");
    for &i in share {
        let g = &manifest.groups[i];
        let record = batch::ResultRecord::read(&g.output).unwrap().unwrap();
        assert_eq!(record.outcome, batch::Outcome::Ok, "{record:?}");
        let name = format!("{}.ms", g.group);
        common::assert_same_ms(&out.join(&name), &refs.join(&name));
    }
}
