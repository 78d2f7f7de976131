//! The streaming daemon: watch a directory, assemble subband groups as their
//! files land, convert each group once, and survive crashes.
//!
//! One scheduler thread owns the state database ([`state::State`]) and the
//! directory scan; `jobs` worker threads convert groups handed over through
//! a bounded queue (a full queue leaves groups `pending` in the database:
//! backpressure). Inotify (through `notify`) wakes the scheduler early; a
//! rescan every tick is the fallback.
//!
//! While a group is collecting, a stager thread converts each accepted
//! subband into its channel slice of the group's partial MS
//! ([`convert::Conversion`], the path `convert` takes, each subband placed
//! by its frequencies); the worker that takes the complete group only
//! finishes it, so the latency is about one subband's work, not the
//! group's. A group that is not the 16 subbands staged (converted
//! incomplete under `--incomplete convert`, or a subband that failed) is
//! converted again, whole, from the files it has.
//!
//! A file counts once it opens as UVH5 and either inotify saw it closed
//! after writing or renamed into the directory (complete when it appears)
//! or its size and mtime have stayed the same for `stable_s`. Names that are
//! not `<timestamp>_sbNN.hdf5` (the correlator's `*_incomplete.hdf5`,
//! rsync's hidden temporaries) are never opened. A file that stays unreadable for
//! `quarantine_after_s` is moved to `<input>/quarantine/` and recorded with
//! its reason. On restart, groups left `converting` have their partial MS
//! removed and are converted again, unless their MS was already renamed
//! into place (then they are `done`); `done` groups are never redone.

pub mod state;

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::convert::{self, Band, Conversion, ConvertError, ConvertOptions};
use crate::group::parse_file_name;
use crate::ms;
use crate::uvh5;

pub use state::{FileStamp, GroupRow, GroupState, KnownFile, State};

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

/// Why a group's conversion did not put its MS in place.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Convert(#[from] ConvertError),
    #[error("no subband was converted")]
    NothingStaged,
    #[error("the subband thread stopped")]
    StagerStopped,
}

impl JobError {
    /// Another process holds the output's lock: not the group's fault.
    fn is_busy(&self) -> bool {
        matches!(
            self,
            JobError::Convert(ConvertError::Ms(ms::MsError::Busy { .. }))
        )
    }

    /// A complete MS was already at the output (written by someone else).
    fn is_done_elsewhere(&self) -> bool {
        matches!(self, JobError::Convert(ConvertError::OutputExists(_)))
    }
}

enum StageMsg {
    Add(PathBuf),
    Finish(Vec<PathBuf>, mpsc::Sender<Result<(), JobError>>),
}

/// A thread converting one collecting group subband by subband as its
/// files are accepted, so that little is left to do when the last lands.
/// Dropped unfinished (daemon stopping), it abandons the group and removes
/// its partial MS.
struct Stager {
    tx: Option<mpsc::Sender<StageMsg>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Set when dropped: skip the subbands still queued.
    abandon: Arc<AtomicBool>,
}

impl Stager {
    fn spawn(opts: ConvertOptions, group: String, n_subbands: usize, out: PathBuf) -> Stager {
        let (tx, rx) = mpsc::channel::<StageMsg>();
        let abandon = Arc::new(AtomicBool::new(false));
        let abandoned = abandon.clone();
        let thread = std::thread::spawn(move || {
            let mut staged: Option<Conversion> = None;
            let mut failed: Option<ConvertError> = None;
            for msg in rx {
                if abandoned.load(Ordering::Relaxed) {
                    return;
                }
                match msg {
                    StageMsg::Add(path) if failed.is_none() => {
                        let res = stage(&mut staged, &path, n_subbands, &out, &opts);
                        if let Err(e) = res {
                            tracing::warn!(
                                "group {group}: converting {} as it landed failed: {e}",
                                path.display()
                            );
                            staged = None;
                            failed = Some(e);
                        }
                    }
                    StageMsg::Add(_) => {}
                    StageMsg::Finish(files, reply) => {
                        let res = match (staged.take(), failed.take()) {
                            (Some(s), None) => s.finish(&files).map(|_| ()).map_err(JobError::from),
                            (_, Some(e)) => Err(JobError::from(e)),
                            (None, None) => Err(JobError::NothingStaged),
                        };
                        let _ = reply.send(res);
                        return;
                    }
                }
            }
        });
        Stager {
            tx: Some(tx),
            thread: Some(thread),
            abandon,
        }
    }

    fn add(&self, path: PathBuf) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(StageMsg::Add(path));
        }
    }

    /// Finish the group with its `files`; the error when the subbands
    /// converted so far are not that group.
    fn finish(mut self, files: Vec<PathBuf>) -> Result<(), JobError> {
        let (reply_tx, reply_rx) = mpsc::channel();
        let tx = self.tx.take().ok_or(JobError::StagerStopped)?;
        tx.send(StageMsg::Finish(files, reply_tx))
            .map_err(|_| JobError::StagerStopped)?;
        reply_rx.recv().unwrap_or(Err(JobError::StagerStopped))
    }
}

/// Convert the subband file `path` into the group's MS, starting the MS
/// with it when it is the first.
fn stage(
    staged: &mut Option<Conversion>,
    path: &Path,
    n_subbands: usize,
    out: &Path,
    opts: &ConvertOptions,
) -> Result<(), ConvertError> {
    let file = uvh5::Uvh5File::open(path, opts.chunk_cache_bytes)
        .map_err(crate::group::GroupError::from)?;
    let conversion = match staged {
        Some(c) => c,
        None => {
            let band = Band::dsa110(file.header(), n_subbands)?;
            staged.insert(Conversion::start(file.shared_header(), band, out, opts)?)
        }
    };
    conversion.add(vec![file])
}

impl Drop for Stager {
    fn drop(&mut self) {
        self.abandon.store(true, Ordering::Relaxed);
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
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

impl StreamConfig {
    /// Where the MS of the group stamped `group` goes.
    fn ms_path(&self, group: &str) -> PathBuf {
        self.output.join(format!("{group}.ms"))
    }
}

/// The state database's place when none is given: beside the MSs.
pub fn default_state_path(output: &Path) -> PathBuf {
    output.join("dsa110-stream.sqlite")
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
    /// The group's subbands converted so far, if any.
    stager: Option<Stager>,
}

/// Run until `stop` is set (SIGINT/SIGTERM), then finish the groups in hand.
pub fn run(
    cfg: &StreamConfig,
    opts: ConvertOptions,
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
    let watcher = watch(&cfg.input, wake_tx.clone());
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(cfg.queue.max(1));
    let job_rx = Arc::new(std::sync::Mutex::new(job_rx));
    // (group, the time its MS was in place or the error).
    let (done_tx, done_rx) = mpsc::channel::<(String, Result<f64, JobError>)>();
    let workers: Vec<_> = (0..cfg.jobs.max(1))
        .map(|_| {
            let (rx, tx, opts) = (job_rx.clone(), done_tx.clone(), opts.clone());
            let wake = wake_tx.clone();
            std::thread::spawn(move || loop {
                let job = match rx.lock().expect("job queue").recv() {
                    Ok(j) => j,
                    Err(_) => break,
                };
                let t = Instant::now();
                let whole = || {
                    convert::convert_group(&job.files, &job.out, &opts)
                        .map(|_| ())
                        .map_err(JobError::from)
                };
                let res = match job.stager.map(|st| st.finish(job.files.clone())) {
                    Some(Ok(())) => Ok(()),
                    Some(Err(e)) if e.is_busy() || e.is_done_elsewhere() => Err(e),
                    Some(Err(e)) => {
                        tracing::warn!("group {}: {e}; converting the group whole", job.group);
                        whole()
                    }
                    None => whole(),
                };
                tracing::info!(
                    "group {} converted in {:.2} s: {}",
                    job.group,
                    t.elapsed().as_secs_f64(),
                    if res.is_ok() { "ok" } else { "failed" }
                );
                if tx.send((job.group, res.map(|()| now_s()))).is_err() {
                    break;
                }
                let _ = wake.send(None);
            })
        })
        .collect();
    drop(done_tx);

    let mut watching: HashMap<PathBuf, Watching> = HashMap::new();
    // Names of files inotify saw closed after writing: complete, no need
    // to wait.
    let mut closed: HashSet<OsString> = HashSet::new();
    let mut in_flight = 0usize;
    let mut stagers: HashMap<String, Stager> = HashMap::new();
    // Groups whose output another process holds, and when to try again.
    let mut deferred: HashMap<String, Instant> = HashMap::new();
    let busy_retry = cfg.tick.max(Duration::from_secs(2));
    tracing::info!(
        "watching {} (state {})",
        cfg.input.display(),
        cfg.state.display()
    );
    loop {
        for (group, res) in done_rx.try_iter() {
            in_flight -= 1;
            if record_result(&db, cfg, &group, res)? {
                deferred.insert(group, Instant::now() + busy_retry);
            }
        }
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let accepted = scan(&db, cfg, &mut watching, &closed)?;
        if !accepted.is_empty() {
            // Groups not handed to a worker yet (an incomplete group may
            // still get its missing subband).
            let mut collecting: HashSet<String> = HashSet::new();
            for state in [GroupState::Collecting, GroupState::Incomplete] {
                collecting.extend(db.groups_in(state)?.into_iter().map(|g| g.timestamp));
            }
            for (group, path) in accepted {
                if !collecting.contains(&group) {
                    continue;
                }
                match stagers.get(&group) {
                    Some(st) => st.add(path),
                    None => {
                        let out = cfg.ms_path(&group);
                        let st = Stager::spawn(opts.clone(), group.clone(), cfg.n_subbands, out);
                        // After a restart, files accepted before it come first.
                        for (_, p) in db.ready_files(&group)? {
                            st.add(p);
                        }
                        stagers.insert(group, st);
                    }
                }
            }
        }
        promote(&db, cfg)?;
        for g in db.groups_in(GroupState::Pending)? {
            if deferred
                .get(&g.timestamp)
                .is_some_and(|t| Instant::now() < *t)
            {
                continue;
            }
            deferred.remove(&g.timestamp);
            let files: Vec<PathBuf> = db
                .ready_files(&g.timestamp)?
                .into_iter()
                .map(|(_, p)| p)
                .collect();
            let out = cfg.ms_path(&g.timestamp);
            let job = Job {
                group: g.timestamp.clone(),
                files,
                out: out.clone(),
                stager: stagers.remove(&g.timestamp),
            };
            match job_tx.try_send(job) {
                Ok(()) => {
                    db.start_conversion(&g.timestamp, now_s(), &out)?;
                    in_flight += 1;
                }
                Err(mpsc::TrySendError::Full(job) | mpsc::TrySendError::Disconnected(job)) => {
                    // Queue full: the group stays pending, its stager kept.
                    if let Some(st) = job.stager {
                        stagers.insert(job.group, st);
                    }
                    break;
                }
            }
        }
        if let Ok(first) = wake_rx.recv_timeout(cfg.tick) {
            // By name: inotify reports the watched directory as the kernel
            // resolved it, not as it was given.
            closed.extend(
                std::iter::once(first)
                    .chain(wake_rx.try_iter())
                    .flatten()
                    .filter_map(|p| p.file_name().map(|n| n.to_os_string())),
            );
        }
    }
    tracing::info!("stopping: finishing {in_flight} conversion(s) in hand");
    // Groups still collecting are abandoned (their partial MS removed).
    drop(stagers);
    drop(job_tx);
    drop(watcher);
    // Workers finish the jobs already queued (the queue is short), then exit.
    for (group, res) in done_rx.iter() {
        record_result(&db, cfg, &group, res)?;
    }
    for w in workers {
        let _ = w.join();
    }
    Ok(())
}

/// Record what became of a conversion of `group`; true when another
/// process is writing its output (not an attempt: the group stays pending,
/// to be tried again later, and is done once that process's MS is in
/// place).
fn record_result(
    db: &State,
    cfg: &StreamConfig,
    group: &str,
    res: Result<f64, JobError>,
) -> Result<bool, StreamError> {
    match res {
        Ok(finished_s) => db.finish_conversion(group, finished_s)?,
        Err(e) if e.is_done_elsewhere() => {
            tracing::info!("group {group}: another process put its MS in place: done");
            db.finish_conversion(group, now_s())?;
        }
        Err(e) if e.is_busy() => {
            tracing::warn!("group {group}: {e}; trying again later");
            db.defer_conversion(group, &e.to_string())?;
            return Ok(true);
        }
        Err(e) => {
            let state = db.fail_conversion(group, &e.to_string(), cfg.max_attempts)?;
            tracing::error!("group {group}: {e} ({})", state.as_str());
        }
    }
    Ok(false)
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
    // Groups converted subband by subband while collecting start over.
    // (An output another process is writing keeps its partials.)
    for state in [GroupState::Collecting, GroupState::Incomplete] {
        for g in db.groups_in(state)? {
            let _ = ms::remove_stale(&cfg.ms_path(&g.timestamp));
        }
    }
    // A pending group with its MS in place finished before a power cut
    // took the database's last commits.
    let mut interrupted = db.groups_in(GroupState::Converting)?;
    interrupted.extend(db.groups_in(GroupState::Pending)?);
    for g in interrupted {
        let out = cfg.ms_path(&g.timestamp);
        if ms::remove_stale(&out).is_ok_and(|n| n > 0) {
            tracing::warn!(
                "removed the partial MS of interrupted group {}",
                g.timestamp
            );
        }
        if ms::inspect(&out) == ms::OutputState::Complete {
            tracing::info!(
                "group {} was renamed into place before the crash: done",
                g.timestamp
            );
            db.finish_conversion(&g.timestamp, now_s())?;
        } else if g.state == GroupState::Converting {
            tracing::warn!("group {} was interrupted: converting it again", g.timestamp);
            db.set_state(&g.timestamp, GroupState::Pending)?;
        }
    }
    Ok(())
}

/// Wake the scheduler on any change in `dir`, passing the paths of files
/// that are complete: closed after writing, or renamed into place (how the
/// correlator, `<name>_incomplete.hdf5` -> `<name>.hdf5`, and rsync, a hidden
/// temporary renamed at the end, deliver a finished file).
fn watch(dir: &Path, wake: mpsc::Sender<Option<PathBuf>>) -> Option<notify::RecommendedWatcher> {
    use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
    use notify::Watcher;
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(ev) if ev.kind == EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            for p in ev.paths {
                let _ = wake.send(Some(p));
            }
        }
        // The new name of a rename: the last path of the event.
        Ok(ev)
            if matches!(
                ev.kind,
                EventKind::Modify(ModifyKind::Name(RenameMode::To | RenameMode::Both))
            ) =>
        {
            if let Some(p) = ev.paths.last() {
                let _ = wake.send(Some(p.clone()));
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
    closed: &HashSet<OsString>,
) -> Result<Vec<(String, PathBuf)>, StreamError> {
    let mut accepted = Vec::new();
    let entries = std::fs::read_dir(&cfg.input).map_err(|source| StreamError::Io {
        path: cfg.input.clone(),
        source,
    })?;
    for entry in entries.filter_map(|e| e.ok()) {
        let path = entry.path();
        let Some((timestamp, time_s, subband)) = parse_file_name(&path) else {
            continue;
        };
        let Ok(meta) = entry.metadata() else { continue };
        let (size, mtime) = (meta.len(), mtime_s(&meta));
        let stamp = FileStamp {
            size,
            mtime_s: mtime,
            ino: std::os::unix::fs::MetadataExt::ino(&meta),
        };
        if let Some(known) = db.known_file(&path)? {
            if known.stamp == stamp || !examine_again(db, &path, &known, stamp)? {
                continue;
            }
        }
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
            // Seen growing, but closed since: complete now.
            if !closed.contains(&entry.file_name()) {
                continue;
            }
        }
        let stable_for = w.since.elapsed().as_secs_f64();
        if stable_for < cfg.stable_s && !closed.contains(&entry.file_name()) {
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
                    stamp,
                    if dup { "duplicate" } else { "ready" },
                    None,
                )?;
                watching.remove(&path);
                tracing::debug!("accepted {}", path.display());
                if !dup {
                    accepted.push((group, path));
                }
            }
            Err(e) if stable_for >= cfg.quarantine_after_s => {
                let dest = quarantine(&cfg.input, &path);
                let reason = format!("{e} (moved to {})", dest.display());
                tracing::error!("quarantined: {reason}");
                db.add_file(&path, &group, subband, stamp, "quarantined", Some(&reason))?;
                watching.remove(&path);
            }
            Err(_) => {}
        }
    }
    Ok(accepted)
}

/// A known path holds a new file (`stamp` differs from the one seen):
/// whether to examine it afresh, as a file just landed. A re-sent
/// quarantined or duplicate file is; so is a replaced file of a group
/// still collecting (its slice is written again) or failed (the group
/// starts over). A file replaced under a group that is done, or being
/// converted, is logged and otherwise left alone.
fn examine_again(
    db: &State,
    path: &Path,
    known: &KnownFile,
    stamp: FileStamp,
) -> Result<bool, StreamError> {
    let group = &known.group;
    let state = db.group_state(group)?;
    let again = match (known.status.as_str(), state) {
        ("quarantined" | "duplicate", _) => {
            tracing::info!(
                "{}: a new file ({}): examining it again",
                path.display(),
                known.status
            );
            true
        }
        (_, Some(GroupState::Failed)) => {
            tracing::info!(
                "{}: replaced; group {group} (failed) starts over",
                path.display()
            );
            db.requeue(group, GroupState::Collecting)?;
            true
        }
        (_, Some(GroupState::Collecting | GroupState::Incomplete) | None) => true,
        (_, Some(s)) => {
            tracing::warn!(
                "{}: replaced while group {group} is {}: not converted again \
                 (remove its MS and run `stream retry {group}` to redo it)",
                path.display(),
                s.as_str()
            );
            false
        }
    };
    if again {
        db.forget_file(path)?;
    } else {
        db.restamp_file(path, stamp)?;
    }
    Ok(again)
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
