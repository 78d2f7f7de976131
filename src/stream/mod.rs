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
//! ([`crate::convert::Conversion`], the path `convert` takes, each subband placed
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

mod recovery;
mod scheduler;
mod stager;
pub mod state;
mod watcher;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::convert::ConvertError;

pub use scheduler::run;
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

/// What the scheduler does with a group whose conversion failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Another process put a complete MS in place: the group is done.
    DoneElsewhere,
    /// Not the group's fault (another process holds the output, the disk
    /// is full): try again after this long, not counted as an attempt.
    RetryAfter(Duration),
    /// The input files are bad (unreadable, inconsistent, not the group
    /// they claim): failed now, as no retry can help.
    BadInput,
    /// Anything else (a bug, a device error): retried up to
    /// `--max-attempts`.
    Attempt,
}

impl JobError {
    pub(crate) fn disposition(&self) -> Disposition {
        use crate::ms::MsError;
        use crate::phasing::PhasingError;
        let JobError::Convert(e) = self else {
            return Disposition::Attempt;
        };
        match e {
            ConvertError::Ms(MsError::Exists(_)) => Disposition::DoneElsewhere,
            ConvertError::Ms(MsError::Busy { .. }) => {
                Disposition::RetryAfter(Duration::from_secs(2))
            }
            ConvertError::Ms(MsError::NoSpace { .. } | MsError::DiskFull { .. }) => {
                Disposition::RetryAfter(Duration::from_secs(60))
            }
            ConvertError::Group(_)
            | ConvertError::Phasing(PhasingError::PhaseCenter { .. } | PhasingError::Date { .. }) => {
                Disposition::BadInput
            }
            _ => Disposition::Attempt,
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
    pub(crate) fn ms_path(&self, group: &str) -> PathBuf {
        self.output.join(format!("{group}.ms"))
    }
}

/// The state database's place when none is given: beside the MSs.
pub fn default_state_path(output: &Path) -> PathBuf {
    output.join("dsa110-stream.sqlite")
}

pub(crate) fn now_s() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub(crate) fn mtime_s(meta: &std::fs::Metadata) -> f64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}
