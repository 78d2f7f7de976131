//! The streaming daemon: watch a directory, assemble subband groups as their
//! files land, convert each group once, and survive crashes.
//!
//! One scheduler thread owns the state database ([`state::State`]) and the
//! directory scan; `jobs` worker threads convert groups handed over through
//! a bounded queue (a full queue leaves groups `pending` in the database:
//! backpressure). Inotify (through `notify`) wakes the scheduler early; a
//! rescan every tick is the fallback.
//!
//! A file counts once it opens as UVH5 and either inotify saw it closed
//! after writing or its size and mtime have stayed the same for `stable_s`. A file that stays unreadable for
//! `quarantine_after_s` is moved to `<input>/quarantine/` and recorded with
//! its reason. On restart, groups left `converting` have their partial MS
//! removed and are converted again, unless their MS was already renamed
//! into place (then they are `done`); `done` groups are never redone.

pub mod state;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::convert::{self, ConvertOptions};
use crate::group::parse_file_name;
use crate::ms;
use crate::uvh5;

pub use state::{GroupRow, GroupState, State};

/// Errors of the daemon.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("state database {path}: {reason}")]
    State { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Converts one group; the daemon's only dependency on the pipeline.
pub trait GroupConverter: Send + Sync {
    fn convert(&self, files: &[PathBuf], out_ms: &Path) -> Result<(), String>;
}

/// The real pipeline.
pub struct PipelineConverter(pub ConvertOptions);

impl GroupConverter for PipelineConverter {
    fn convert(&self, files: &[PathBuf], out_ms: &Path) -> Result<(), String> {
        convert::convert_group(files, out_ms, &self.0)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// What to do with a group still incomplete after the timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum IncompletePolicy {
    /// Convert the subbands that are there, with a warning.
    Convert,
    /// Mark it incomplete and wait for the missing files.
    Wait,
}

/// Settings of the daemon.
#[derive(Clone, Debug)]
pub struct StreamConfig {
    pub input: PathBuf,
    pub output: PathBuf,
    pub state: PathBuf,
    pub tolerance_s: f64,
    pub n_subbands: usize,
    pub incomplete_timeout_s: f64,
    pub incomplete: IncompletePolicy,
    pub max_attempts: u32,
    pub jobs: usize,
    pub queue: usize,
    pub stable_s: f64,
    pub quarantine_after_s: f64,
    pub tick: Duration,
}

fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn mtime_s(meta: &std::fs::Metadata) -> f64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// A file seen but not yet accepted: its size, mtime, and since when.
struct Watching {
    size: u64,
    mtime: f64,
    since: Instant,
}

struct Job {
    group: String,
    files: Vec<PathBuf>,
    out: PathBuf,
}

/// Run until `stop` is set (SIGINT/SIGTERM), then finish the groups in hand.
pub fn run(
    cfg: &StreamConfig,
    converter: Arc<dyn GroupConverter>,
    stop: Arc<AtomicBool>,
) -> Result<(), StreamError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StreamError::Io { path, source }
    };
    std::fs::create_dir_all(&cfg.output).map_err(io(&cfg.output))?;
    let _lock = lock_state(&cfg.state)?;
    let db = State::open(&cfg.state)?;
    recover(&db, cfg)?;

    let (wake_tx, wake_rx) = mpsc::channel::<Option<PathBuf>>();
    let watcher = watch(&cfg.input, wake_tx);
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(cfg.queue.max(1));
    let job_rx = Arc::new(std::sync::Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<(String, Result<(), String>)>();
    let workers: Vec<_> = (0..cfg.jobs.max(1))
        .map(|_| {
            let (rx, tx, conv) = (job_rx.clone(), done_tx.clone(), converter.clone());
            std::thread::spawn(move || loop {
                let job = match rx.lock().expect("job queue").recv() {
                    Ok(j) => j,
                    Err(_) => break,
                };
                let t = Instant::now();
                let res = conv.convert(&job.files, &job.out);
                tracing::info!(
                    "group {} converted in {:.2} s: {}",
                    job.group,
                    t.elapsed().as_secs_f64(),
                    if res.is_ok() { "ok" } else { "failed" }
                );
                if tx.send((job.group, res)).is_err() {
                    break;
                }
            })
        })
        .collect();
    drop(done_tx);

    let mut watching: HashMap<PathBuf, Watching> = HashMap::new();
    // Files inotify saw closed after writing: complete, no need to wait.
    let mut closed: HashSet<PathBuf> = HashSet::new();
    let mut in_flight = 0usize;
    tracing::info!(
        "watching {} (state {})",
        cfg.input.display(),
        cfg.state.display()
    );
    loop {
        for (group, res) in done_rx.try_iter() {
            in_flight -= 1;
            match res {
                Ok(()) => db.finish_conversion(&group, now_s())?,
                Err(e) => {
                    let state = db.fail_conversion(&group, &e, cfg.max_attempts)?;
                    tracing::error!("group {group}: {e} ({})", state.as_str());
                }
            }
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        scan(&db, cfg, &mut watching, &closed)?;
        promote(&db, cfg)?;
        for g in db.groups_in(GroupState::Pending)? {
            let files: Vec<PathBuf> = db
                .ready_files(&g.timestamp)?
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            let out = cfg.output.join(format!("{}.ms", g.timestamp));
            let job = Job {
                group: g.timestamp.clone(),
                files,
                out: out.clone(),
            };
            match job_tx.try_send(job) {
                Ok(()) => {
                    db.start_conversion(&g.timestamp, now_s(), &out)?;
                    in_flight += 1;
                }
                Err(_) => break, // queue full: stays pending
            }
        }
        if let Ok(first) = wake_rx.recv_timeout(cfg.tick) {
            closed.extend(std::iter::once(first).chain(wake_rx.try_iter()).flatten());
        }
    }
    tracing::info!("stopping: finishing {in_flight} conversion(s) in hand");
    drop(job_tx);
    drop(watcher);
    // Workers finish the jobs already queued (the queue is short), then exit.
    for (group, res) in done_rx.iter() {
        match res {
            Ok(()) => db.finish_conversion(&group, now_s())?,
            Err(e) => {
                db.fail_conversion(&group, &e, cfg.max_attempts)?;
            }
        }
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// One daemon per state database: an exclusive `flock` on `<state>.lock`,
/// held until the returned file is dropped (the kernel drops it with a
/// killed process, so a crash never leaves a stale lock).
fn lock_state(state: &Path) -> Result<std::fs::File, StreamError> {
    use std::os::unix::io::AsRawFd;
    let path = state.with_extension("lock");
    let file = std::fs::File::create(&path).map_err(|source| StreamError::Io {
        path: path.clone(),
        source,
    })?;
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        return Err(StreamError::State {
            path: state.to_path_buf(),
            reason: "another stream daemon is using this state database".into(),
        });
    }
    Ok(file)
}

/// After a crash: partial outputs removed, interrupted groups redone.
fn recover(db: &State, cfg: &StreamConfig) -> Result<(), StreamError> {
    for g in db.groups_in(GroupState::Converting)? {
        let out = cfg.output.join(format!("{}.ms", g.timestamp));
        if ms::remove_partial(&out).unwrap_or(false) {
            tracing::warn!(
                "removed the partial MS of interrupted group {}",
                g.timestamp
            );
        }
        if out.exists() {
            tracing::info!(
                "group {} was renamed into place before the crash: done",
                g.timestamp
            );
            db.finish_conversion(&g.timestamp, now_s())?;
        } else {
            tracing::warn!("group {} was interrupted: converting it again", g.timestamp);
            db.set_state(&g.timestamp, GroupState::Pending)?;
        }
    }
    Ok(())
}

/// Wake the scheduler on any change in `dir`, passing the paths of files
/// closed after writing.
fn watch(dir: &Path, wake: mpsc::Sender<Option<PathBuf>>) -> Option<notify::RecommendedWatcher> {
    use notify::event::{AccessKind, AccessMode, EventKind};
    use notify::Watcher;
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(ev) if ev.kind == EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            for p in ev.paths {
                let _ = wake.send(Some(p));
            }
        }
        // Reads (ours, while converting) are not news: waking on every one
        // of them would steal the CPU from the conversion.
        Ok(ev) if matches!(ev.kind, EventKind::Access(_)) => {}
        _ => {
            let _ = wake.send(None);
        }
    })
    .map_err(|e| tracing::warn!("no inotify ({e}); rescanning periodically"))
    .ok()?;
    match w.watch(dir, notify::RecursiveMode::NonRecursive) {
        Ok(()) => Some(w),
        Err(e) => {
            tracing::warn!(
                "cannot watch {} ({e}); rescanning periodically",
                dir.display()
            );
            None
        }
    }
}

/// Look at the input directory: accept files that were closed after
/// writing or are stable, and open; quarantine those that never open.
fn scan(
    db: &State,
    cfg: &StreamConfig,
    watching: &mut HashMap<PathBuf, Watching>,
    closed: &HashSet<PathBuf>,
) -> Result<(), StreamError> {
    let entries = std::fs::read_dir(&cfg.input).map_err(|source| StreamError::Io {
        path: cfg.input.clone(),
        source,
    })?;
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let Some((timestamp, time_s, subband)) = parse_file_name(&path) else {
            continue;
        };
        if db.knows_file(&path)? {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        let (size, mtime) = (meta.len(), mtime_s(&meta));
        let w = watching.entry(path.clone()).or_insert(Watching {
            size,
            mtime,
            since: Instant::now(),
        });
        if w.size != size || w.mtime != mtime {
            *w = Watching {
                size,
                mtime,
                since: Instant::now(),
            };
            continue;
        }
        let stable_for = w.since.elapsed().as_secs_f64();
        if stable_for < cfg.stable_s && !closed.contains(&path) {
            continue;
        }
        let group = db.group_for(&timestamp, time_s, cfg.tolerance_s, mtime)?;
        match uvh5::read_header(&path) {
            Ok(_) => {
                let dup = db.ready_files(&group)?.iter().any(|(sb, _)| *sb == subband);
                if dup {
                    tracing::warn!(
                        "{}: subband {subband} of group {group} already seen; ignored",
                        path.display()
                    );
                }
                db.add_file(
                    &path,
                    &group,
                    subband,
                    size,
                    if dup { "duplicate" } else { "ready" },
                    None,
                    mtime,
                )?;
                watching.remove(&path);
            }
            Err(e) if stable_for >= cfg.quarantine_after_s => {
                let dest = quarantine(&cfg.input, &path);
                let reason = format!("{e} (moved to {})", dest.display());
                tracing::error!("quarantined: {reason}");
                db.add_file(
                    &path,
                    &group,
                    subband,
                    size,
                    "quarantined",
                    Some(&reason),
                    mtime,
                )?;
                watching.remove(&path);
            }
            Err(_) => {}
        }
    }
    Ok(())
}

/// Move a bad file to `<input>/quarantine/`; returns where it went.
fn quarantine(input: &Path, path: &Path) -> PathBuf {
    let dir = input.join("quarantine");
    let dest = dir.join(path.file_name().unwrap_or_default());
    match std::fs::create_dir_all(&dir).and_then(|_| std::fs::rename(path, &dest)) {
        Ok(()) => dest,
        Err(e) => {
            tracing::warn!(
                "cannot move {} to quarantine ({e}); leaving it",
                path.display()
            );
            path.to_path_buf()
        }
    }
}

/// Collecting/incomplete groups become pending when complete, or after the
/// timeout under the `convert` policy.
fn promote(db: &State, cfg: &StreamConfig) -> Result<(), StreamError> {
    let now = now_s();
    let mut groups = db.groups_in(GroupState::Collecting)?;
    groups.extend(db.groups_in(GroupState::Incomplete)?);
    for g in groups {
        let files = db.ready_files(&g.timestamp)?;
        if files.len() >= cfg.n_subbands {
            db.set_state(&g.timestamp, GroupState::Pending)?;
        } else if g.state == GroupState::Collecting
            && now - g.first_seen_s > cfg.incomplete_timeout_s
        {
            let have: Vec<u32> = files.iter().map(|(sb, _)| *sb).collect();
            let missing: Vec<u32> = (0..cfg.n_subbands as u32)
                .filter(|s| !have.contains(s))
                .collect();
            match (cfg.incomplete, files.is_empty()) {
                (IncompletePolicy::Convert, false) => {
                    tracing::warn!("group {} incomplete after {:.0} s (missing {missing:?}): converting what is there", g.timestamp, cfg.incomplete_timeout_s);
                    db.set_state(&g.timestamp, GroupState::Pending)?;
                }
                _ => {
                    tracing::warn!(
                        "group {} incomplete (missing {missing:?}): waiting",
                        g.timestamp
                    );
                    db.set_state(&g.timestamp, GroupState::Incomplete)?;
                }
            }
        }
    }
    Ok(())
}
