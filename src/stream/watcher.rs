//! Watching the input directory: which files have landed complete, which
//! group each belongs to, and which never open (quarantined).

use std::collections::{HashMap, HashSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use super::{mtime_s, FileStamp, GroupState, KnownFile, State, StreamConfig, StreamError};
use crate::group::parse_file_name;
use crate::uvh5;

/// A file seen but not yet accepted: its size, mtime, and since when.
pub(super) struct Watching {
    size: u64,
    mtime: f64,
    since: Instant,
}

/// Wake the scheduler on any change in `dir`, passing the paths of files
/// that are complete: closed after writing, or renamed into place (how the
/// correlator, `<name>_incomplete.hdf5` -> `<name>.hdf5`, and rsync, a hidden
/// temporary renamed at the end, deliver a finished file).
pub(super) fn watch(
    dir: &Path,
    wake: mpsc::Sender<Option<PathBuf>>,
) -> Option<notify::RecommendedWatcher> {
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
pub(super) fn scan(
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
