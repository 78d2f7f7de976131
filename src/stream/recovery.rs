//! Starting again after a crash: one daemon per state database, partial
//! outputs removed, interrupted groups redone.

use std::path::Path;

use super::{now_s, GroupState, State, StreamConfig, StreamError};
use crate::ms;

/// One daemon per state database: an exclusive `flock` on `<state>.lock`,
/// held until the returned file is dropped (the kernel drops it with a
/// killed process, so a crash never leaves a stale lock).
pub(super) fn lock_state(state: &Path) -> Result<std::fs::File, StreamError> {
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
pub(super) fn recover(db: &State, cfg: &StreamConfig) -> Result<(), StreamError> {
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
