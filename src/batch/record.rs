//! The result record a task leaves beside each output:
//! `<timestamp>.ms.result.json`, replaced atomically.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io, temporary_path, write_atomic, BatchError};

/// What became of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Converted by this task.
    Ok,
    /// The conversion failed; `detail` says why.
    Failed,
    /// Its MS was already in place (an earlier task, `convert`, the daemon).
    SkippedExists,
    /// Another process held the output's lock (a duplicate of this task,
    /// the daemon, a `convert`): that writer records its own outcome.
    SkippedOtherWriter,
}

/// Seconds per stage of a conversion (reading overlaps the rest).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageSeconds {
    pub read: f64,
    pub compute: f64,
    pub write: f64,
    pub total: f64,
}

/// One group's record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultRecord {
    pub group: String,
    pub output: PathBuf,
    pub outcome: Outcome,
    /// The error of a failed conversion, or why the group was skipped.
    pub detail: Option<String>,
    /// Of a conversion that ran to its end.
    pub seconds: Option<StageSeconds>,
    /// Bytes read by the conversion; else the manifest's size of the files.
    pub bytes: u64,
    /// Host the task ran on.
    pub host: String,
    /// Slurm job of the task, `<array job>_<array task>` (or the job id);
    /// `None` outside Slurm.
    pub slurm_job: Option<String>,
    /// The task's number and the number of tasks of the split.
    pub task: usize,
    pub tasks: usize,
    /// When the record was written, UTC `YYYY-MM-DDTHH:MM:SS`.
    pub finished_utc: String,
}

/// `<output>.result.json`.
pub fn record_path(output: &Path) -> PathBuf {
    let mut name = output.file_name().unwrap_or_default().to_os_string();
    name.push(".result.json");
    output.with_file_name(name)
}

impl ResultRecord {
    /// Write this record beside its output, replacing any earlier one in
    /// one rename.
    pub fn write(&self) -> Result<(), BatchError> {
        write_atomic(&record_path(&self.output), self.text().as_bytes())
    }

    /// Write this record only where the output has none yet (atomically:
    /// a hard link fails on an existing record); false when one was there.
    /// For a writer that skipped: the one holding the output may have
    /// recorded its outcome already, or will replace this record with it.
    pub fn write_if_absent(&self) -> Result<bool, BatchError> {
        let path = record_path(&self.output);
        let tmp = temporary_path(&path);
        std::fs::write(&tmp, self.text()).map_err(io(&tmp))?;
        let linked = std::fs::hard_link(&tmp, &path);
        std::fs::remove_file(&tmp).map_err(io(&tmp))?;
        match linked {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Write this record of a skip unless the output's record is of the
    /// conversion that made the MS ([`Outcome::Ok`]): it stays. Any other
    /// record (an earlier failure, a skip) is replaced. Safe against that
    /// conversion's writer finishing at the same moment ([`Self::write`]
    /// renames over the path): the old record is first taken away by a
    /// rename of our own and looked at, and ours goes in only where the
    /// path is empty, so an `Ok` that lands in between is never replaced.
    pub fn write_unless_converted(&self) -> Result<(), BatchError> {
        let path = record_path(&self.output);
        let taken = temporary_path(&path).with_extension("taken");
        loop {
            if self.write_if_absent()? {
                return Ok(());
            }
            match std::fs::rename(&path, &taken) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(&path)(e)),
            }
            let converted = Self::read_file(taken.clone())
                .is_ok_and(|r| r.is_some_and(|r| r.outcome == Outcome::Ok));
            if converted {
                // Put it back, unless a newer record took the path meanwhile.
                match std::fs::hard_link(&taken, &path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io(&path)(e)),
                }
            }
            std::fs::remove_file(&taken).map_err(io(&taken))?;
            if converted {
                return Ok(());
            }
        }
    }

    fn text(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data serializes") + "\n"
    }

    /// The record of `output`, if one was written.
    pub fn read(output: &Path) -> Result<Option<ResultRecord>, BatchError> {
        Self::read_file(record_path(output))
    }

    /// The record in the file `path`, if there is one.
    fn read_file(path: PathBuf) -> Result<Option<ResultRecord>, BatchError> {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(&path)(e)),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| BatchError::Record {
                path,
                what: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dir: &Path, outcome: Outcome, host: &str) -> ResultRecord {
        ResultRecord {
            group: "2025-01-15T02:33:54".into(),
            output: dir.join("2025-01-15T02:33:54.ms"),
            outcome,
            detail: None,
            seconds: None,
            bytes: 1,
            host: host.into(),
            slurm_job: None,
            task: 0,
            tasks: 1,
            finished_utc: "2026-12-04T00:00:00".into(),
        }
    }

    fn recorded(r: &ResultRecord) -> (Outcome, String) {
        let r = ResultRecord::read(&r.output).unwrap().unwrap();
        (r.outcome, r.host)
    }

    /// Nothing but the record itself is left in the directory.
    fn only_the_record(dir: &Path) {
        let names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["2025-01-15T02:33:54.ms.result.json"]);
    }

    /// What the record says after a skip ("b") is recorded where `earlier`
    /// (by "a") was, if anything.
    fn after_a_skip_over(earlier: Option<Outcome>) -> (Outcome, String) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(outcome) = earlier {
            record(dir.path(), outcome, "a").write().unwrap();
        }
        let skip = record(dir.path(), Outcome::SkippedExists, "b");
        skip.write_unless_converted().unwrap();
        only_the_record(dir.path());
        recorded(&skip)
    }

    #[test]
    fn a_skip_is_recorded_where_nothing_is() {
        let after = after_a_skip_over(None);
        assert_eq!(after, (Outcome::SkippedExists, "b".into()));
    }

    #[test]
    fn a_skip_never_replaces_the_record_of_the_conversion_that_made_the_ms() {
        let after = after_a_skip_over(Some(Outcome::Ok));
        assert_eq!(after, (Outcome::Ok, "a".into()));
    }

    #[test]
    fn a_skip_replaces_an_earlier_failure_of_an_ms_now_in_place() {
        let after = after_a_skip_over(Some(Outcome::Failed));
        assert_eq!(after, (Outcome::SkippedExists, "b".into()));
    }
}
