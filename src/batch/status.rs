//! `batch status`: done, failed or missing, per group, from the records.

use std::path::PathBuf;

use serde::Serialize;

use super::{split, BatchError, Manifest, Outcome, ResultRecord};

/// Where a group stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// Its MS is in place and its record says converted (or found in place).
    Done,
    /// Its last conversion failed (the record holds the error).
    Failed,
    /// Not converted yet: no record, or an MS recorded done is gone.
    Missing,
}

/// One group's state and its record.
#[derive(Clone, Debug, Serialize)]
pub struct GroupStatus {
    pub group: String,
    pub output: PathBuf,
    pub state: GroupState,
    pub record: Option<ResultRecord>,
}

/// The state of every group of `manifest`, in manifest order.
pub fn status(manifest: &Manifest) -> Result<Vec<GroupStatus>, BatchError> {
    manifest
        .groups
        .iter()
        .map(|g| {
            let record = ResultRecord::read(&g.output)?;
            let state = match record.as_ref().map(|r| r.outcome) {
                Some(Outcome::Failed) => GroupState::Failed,
                Some(Outcome::Ok | Outcome::SkippedExists) if g.output.exists() => GroupState::Done,
                _ => GroupState::Missing,
            };
            Ok(GroupStatus {
                group: g.group.clone(),
                output: g.output.clone(),
                state,
                record,
            })
        })
        .collect()
}

/// The tasks of a `tasks`-way split whose share holds a group that is not
/// done: what `batch submit --only-missing` runs again.
pub fn tasks_not_done(
    manifest: &Manifest,
    states: &[GroupStatus],
    tasks: usize,
) -> Result<Vec<usize>, BatchError> {
    Ok(split(&manifest.groups, tasks)?
        .iter()
        .enumerate()
        .filter(|(_, mine)| mine.iter().any(|&i| states[i].state != GroupState::Done))
        .map(|(task, _)| task)
        .collect())
}
