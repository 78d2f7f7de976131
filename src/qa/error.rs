//! Errors of QA; each names the file, or says which block did not fit.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum QaError {
    /// A block that does not fit the group's [`super::QaShape`].
    #[error("QA block does not fit the group: {0}")]
    Block(String),
    #[error("QA: antenna {0} is not one of the group's antennas")]
    UnknownAntenna(u32),
    #[error("QA: integration {index} of a group of {n} integrations")]
    Integration { index: u32, n: usize },
    #[error("QA: subband {subband} got {rows} rows, the group has {n_rows}")]
    TooManyRows {
        subband: String,
        rows: u64,
        n_rows: u64,
    },
    #[error(transparent)]
    Group(#[from] crate::group::GroupError),
    #[error("{path}: {what}")]
    Ms { path: PathBuf, what: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: drawing the dashboard: {what}")]
    Plot { path: PathBuf, what: String },
}
