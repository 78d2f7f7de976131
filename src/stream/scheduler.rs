//! The scheduler: one thread owning the state database, handing complete
//! groups to the conversion workers and recording what became of them.

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use super::recovery::{lock_state, recover};
use super::stager::Stager;
use super::watcher::{scan, watch, Watching};
use super::{
    now_s, Disposition, GroupState, IncompletePolicy, JobError, State, StreamConfig, StreamError,
};
use crate::convert::{self, ConvertOptions};

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
                    Some(Err(e))
                        if matches!(
                            e.disposition(),
                            Disposition::DoneElsewhere | Disposition::RetryAfter(_)
                        ) =>
                    {
                        Err(e)
                    }
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
    tracing::info!(
        "watching {} (state {})",
        cfg.input.display(),
        cfg.state.display()
    );
    loop {
        for (group, res) in done_rx.try_iter() {
            in_flight -= 1;
            if let Some(wait) = record_result(&db, cfg, &group, res)? {
                deferred.insert(group, Instant::now() + wait.max(cfg.tick));
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

/// Record what became of a conversion of `group` ([`Disposition`]); how
/// long to wait before trying it again when that is not its fault (the
/// group stays pending, and is done once another process's MS is in place).
fn record_result(
    db: &State,
    cfg: &StreamConfig,
    group: &str,
    res: Result<f64, JobError>,
) -> Result<Option<Duration>, StreamError> {
    let e = match res {
        Ok(finished_s) => {
            db.finish_conversion(group, finished_s)?;
            return Ok(None);
        }
        Err(e) => e,
    };
    match e.disposition() {
        Disposition::DoneElsewhere => {
            tracing::info!("group {group}: another process put its MS in place: done");
            db.finish_conversion(group, now_s())?;
        }
        Disposition::RetryAfter(wait) => {
            tracing::warn!("group {group}: {e}; trying again in {} s", wait.as_secs());
            db.defer_conversion(group, &e.to_string())?;
            return Ok(Some(wait));
        }
        Disposition::BadInput => {
            let state = db.fail_conversion(group, &e.to_string(), 0)?;
            tracing::error!(
                "group {group}: {e} (bad input: {}, not retried)",
                state.as_str()
            );
        }
        Disposition::Attempt => {
            let state = db.fail_conversion(group, &e.to_string(), cfg.max_attempts)?;
            tracing::error!("group {group}: {e} ({})", state.as_str());
        }
    }
    Ok(None)
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
