//! Reprocessing an archive on a Slurm cluster: a job array converts every
//! complete group of a time window, each group exactly once.
//!
//! [`plan()`] finds the groups with the grouping `convert --input` uses
//! ([`crate::group::find_groups`]) and writes a manifest, one JSON line per
//! group; [`split`] gives each of N array tasks its part, balancing bytes;
//! [`run_task`] converts one task's part and leaves a [`ResultRecord`]
//! beside every output; [`status()`] reads the records back; [`script`]
//! writes the sbatch script of the array and [`sbatch`] submits it.
//!
//! Exactly once, whatever Slurm does (preempt, requeue, run a task twice): a
//! group whose complete MS is in place is skipped; one process at a time
//! writes an output (its lock, [`crate::ms::OutputClaim`]), and a task that
//! finds the lock held skips the group and leaves it to the holder; an MS
//! appears only complete; a killed conversion leaves no record and its
//! partial MS is removed by the next writer; records are replaced
//! atomically.

mod plan;
mod record;
mod run;
mod status;
mod submit;

use std::path::PathBuf;

pub use plan::{plan, Manifest, Plan, PlannedFile, PlannedGroup, UnplannedGroup, Window};
pub use record::{record_path, Outcome, ResultRecord, StageSeconds};
pub use run::{array_task, run_task, split, TaskContext};
pub use status::{status, tasks_not_done, GroupState, GroupStatus};
pub use submit::{array_spec, sbatch, script, task_memory_bytes, ArrayJob, TASK_OVERHEAD_BYTES};

/// Errors of planning, running and submitting; each names its file.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Group(#[from] crate::group::GroupError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {what}")]
    Manifest {
        path: PathBuf,
        line: usize,
        what: String,
    },
    #[error("{0}: the manifest lists no group")]
    EmptyManifest(PathBuf),
    #[error("{path}: unreadable result record: {what}")]
    Record { path: PathBuf, what: String },
    #[error("task {task} is not one of the {tasks} tasks (0..={last})", last = .tasks.saturating_sub(1))]
    Task { task: usize, tasks: usize },
    #[error("give --task and --tasks, or run inside a Slurm job array ({0} is not set)")]
    NotAnArray(&'static str),
    #[error("{var}='{value}' is not a task number")]
    ArrayEnv { var: &'static str, value: String },
    #[error("cannot run sbatch (is Slurm installed and on PATH?): {0}")]
    SbatchMissing(std::io::Error),
    #[error("sbatch failed ({status}): {stderr}")]
    Sbatch {
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("sbatch printed no job id: '{0}'")]
    SbatchOutput(String),
}

fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> BatchError + '_ {
    move |source| BatchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Write `bytes` to `path` atomically: a temporary file beside it (named
/// for this host and process, so concurrent writers never share one),
/// synced, then renamed over `path`.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> Result<(), BatchError> {
    use std::io::Write;
    let tmp = temporary_path(path);
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// `.<name>.<host>.<pid>.tmp` beside `path`.
fn temporary_path(path: &std::path::Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.{}.{}.tmp",
        run::hostname(),
        std::process::id()
    ))
}
