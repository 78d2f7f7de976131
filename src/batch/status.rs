//! `batch status`: done, failed or missing, per group, from the outputs
//! and their records.

use std::path::PathBuf;

use serde::Serialize;

use super::{split, BatchError, Manifest, Outcome, ResultRecord};
use crate::ms::{self, OutputState};

/// Where a group stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// A complete MS is in place (casacore opens it).
    Done,
    /// No complete MS, and the last conversion failed (the record holds
    /// the error).
    Failed,
    /// No complete MS and no failure recorded: not converted yet, killed
    /// while converting, or an MS recorded done that is gone.
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
            let state = match (ms::inspect(&g.output), record.as_ref().map(|r| r.outcome)) {
                (OutputState::Complete, _) => GroupState::Done,
                (_, Some(Outcome::Failed)) => GroupState::Failed,
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
