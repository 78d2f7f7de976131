//! The daemon's state: an embedded SQLite database (WAL mode) of files seen
//! and groups with their states, attempts, errors and timings. It survives
//! crashes: on restart the daemon resumes from it.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

use super::StreamError;

/// Where a group is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupState {
    /// Some subbands seen, waiting for the rest.
    Collecting,
    /// Past the timeout with subbands missing, waiting (policy `wait`).
    Incomplete,
    /// Ready to convert.
    Pending,
    Converting,
    Done,
    /// Gave up after the maximum number of attempts.
    Failed,
}

impl GroupState {
    pub const ALL: [GroupState; 6] = [
        GroupState::Collecting,
        GroupState::Incomplete,
        GroupState::Pending,
        GroupState::Converting,
        GroupState::Done,
        GroupState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Collecting => "collecting",
            GroupState::Incomplete => "incomplete",
            GroupState::Pending => "pending",
            GroupState::Converting => "converting",
            GroupState::Done => "done",
            GroupState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> GroupState {
        GroupState::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .unwrap_or(GroupState::Failed)
    }
}

/// One group as the database holds it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct GroupRow {
    pub timestamp: String,
    /// Unix seconds of the group's first file name.
    pub time_s: i64,
    pub state: GroupState,
    pub attempts: u32,
    pub error: Option<String>,
    /// Unix seconds (float) the first and last subband landed.
    pub first_seen_s: f64,
    pub last_landed_s: f64,
    pub finished_s: Option<f64>,
    pub ms_path: Option<PathBuf>,
}

impl GroupRow {
    /// Last file landed -> MS ready, seconds.
    pub fn latency_s(&self) -> Option<f64> {
        self.finished_s.map(|f| f - self.last_landed_s)
    }
}

/// A quarantined file and why.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Quarantined {
    pub path: PathBuf,
    pub reason: String,
}

/// What identifies one version of a landed file: a file re-sent or fixed
/// at the same path differs in one of these.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FileStamp {
    pub size: u64,
    /// Unix seconds.
    pub mtime_s: f64,
    pub ino: u64,
}

/// A file the database knows: the version it saw and what became of it.
#[derive(Clone, Debug)]
pub struct KnownFile {
    pub group: String,
    /// `ready`, `duplicate` or `quarantined`.
    pub status: String,
    pub stamp: FileStamp,
}

/// 2: files carry their inode (`ino`).
const SCHEMA_VERSION: i32 = 2;

/// The state database.
pub struct State {
    db: Connection,
    path: PathBuf,
}

fn db_err(path: &Path) -> impl Fn(rusqlite::Error) -> StreamError + '_ {
    move |e| StreamError::State {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

impl State {
    /// Open (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<State, StreamError> {
        let e = db_err(path);
        let db = Connection::open(path).map_err(&e)?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(&e)?;
        // NORMAL: a commit survives the daemon crashing; a power cut may
        // forget the last ones, which recovery redoes (an MS renamed into
        // place counts as done). FULL would fsync every commit, and on ext4
        // such an fsync waits for the writeback of the MS being written.
        db.pragma_update(None, "synchronous", "NORMAL")
            .map_err(&e)?;
        db.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(&e)?;
        let version: i32 = db
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(&e)?;
        if version > SCHEMA_VERSION {
            return Err(StreamError::State {
                path: path.to_path_buf(),
                reason: format!(
                    "schema version {version} is newer than this program's {SCHEMA_VERSION}"
                ),
            });
        }
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS files (
                path TEXT PRIMARY KEY, group_ts TEXT NOT NULL, subband INTEGER NOT NULL,
                size INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT, landed_s REAL NOT NULL);
             CREATE TABLE IF NOT EXISTS groups (
                timestamp TEXT PRIMARY KEY, time_s INTEGER NOT NULL, state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0, error TEXT, first_seen_s REAL NOT NULL,
                last_landed_s REAL NOT NULL, started_s REAL, finished_s REAL, ms_path TEXT);",
        )
        .map_err(&e)?;
        let has_ino = db.prepare("SELECT ino FROM files LIMIT 0").is_ok();
        if !has_ino {
            db.execute_batch("ALTER TABLE files ADD COLUMN ino INTEGER NOT NULL DEFAULT 0")
                .map_err(&e)?;
        }
        // The latest file stamp of a group (its earliest is time_s).
        let has_last = db.prepare("SELECT last_s FROM groups LIMIT 0").is_ok();
        if !has_last {
            db.execute_batch("ALTER TABLE groups ADD COLUMN last_s INTEGER")
                .map_err(&e)?;
        }
        db.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(&e)?;
        Ok(State {
            db,
            path: path.to_path_buf(),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StreamError + '_ {
        db_err(&self.path)
    }

    /// What the database knows of `path` (ready, duplicate or quarantined).
    pub fn known_file(&self, path: &Path) -> Result<Option<KnownFile>, StreamError> {
        self.db
            .query_row(
                "SELECT group_ts, status, size, landed_s, ino FROM files WHERE path = ?1",
                [path.to_string_lossy()],
                |r| {
                    Ok(KnownFile {
                        group: r.get(0)?,
                        status: r.get(1)?,
                        stamp: FileStamp {
                            size: r.get::<_, i64>(2)? as u64,
                            mtime_s: r.get(3)?,
                            ino: r.get::<_, i64>(4)? as u64,
                        },
                    })
                },
            )
            .optional()
            .map_err(self.err())
    }

    /// Forget `path`: the next scan examines it as a new file.
    pub fn forget_file(&self, path: &Path) -> Result<(), StreamError> {
        self.db
            .execute(
                "DELETE FROM files WHERE path = ?1",
                [path.to_string_lossy()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// Remember that `path` is now `stamp` (a change that was only logged).
    pub fn restamp_file(&self, path: &Path, stamp: FileStamp) -> Result<(), StreamError> {
        self.db
            .execute(
                "UPDATE files SET size = ?2, landed_s = ?3, ino = ?4 WHERE path = ?1",
                params![
                    path.to_string_lossy(),
                    stamp.size as i64,
                    stamp.mtime_s,
                    stamp.ino as i64
                ],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The row of `group`, if the database has it.
    pub fn group(&self, group: &str) -> Result<Option<GroupRow>, StreamError> {
        Ok(self
            .query_groups("WHERE timestamp = ?1", params![group])?
            .into_iter()
            .next())
    }

    /// The state of `group`, if the database has it.
    pub fn group_state(&self, group: &str) -> Result<Option<GroupState>, StreamError> {
        self.db
            .query_row(
                "SELECT state FROM groups WHERE timestamp = ?1",
                [group],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map(|s| s.map(|s| GroupState::parse(&s)))
            .map_err(self.err())
    }

    /// Start `group` over: `state` (collecting, to take its files again,
    /// or pending, to convert what it has), no attempts, no error.
    pub fn requeue(&self, group: &str, state: GroupState) -> Result<bool, StreamError> {
        let n = self
            .db
            .execute(
                "UPDATE groups SET state = ?2, attempts = 0, error = NULL, finished_s = NULL WHERE timestamp = ?1",
                params![group, state.as_str()],
            )
            .map_err(self.err())?;
        Ok(n > 0)
    }

    /// The group a file stamped `time_s` belongs to: the existing group it
    /// joins by the one grouping rule ([`crate::group::joins_group`]; the
    /// nearest to its middle time if several), whose span then takes it in,
    /// else a new one named `timestamp`.
    pub fn group_for(
        &self,
        timestamp: &str,
        time_s: i64,
        tolerance_s: f64,
        now_s: f64,
    ) -> Result<String, StreamError> {
        let reach = (2.0 * tolerance_s).ceil() as i64;
        let mut near = self
            .db
            .prepare(
                "SELECT timestamp, time_s, COALESCE(last_s, time_s) FROM groups WHERE time_s BETWEEN ?1 AND ?2",
            )
            .map_err(self.err())?;
        let candidates = near
            .query_map(params![time_s - reach, time_s + reach], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    (r.get::<_, i64>(1)?, r.get::<_, i64>(2)?),
                ))
            })
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(self.err())?;
        let joined = candidates
            .into_iter()
            .filter(|(_, span)| crate::group::joins_group(*span, time_s, tolerance_s))
            .min_by_key(|(_, (a, b))| (a + b - 2 * time_s).abs());
        if let Some((ts, _)) = joined {
            self.db
                .execute(
                    "UPDATE groups SET time_s = MIN(time_s, ?2), last_s = MAX(COALESCE(last_s, time_s), ?2) WHERE timestamp = ?1",
                    params![ts, time_s],
                )
                .map_err(self.err())?;
            return Ok(ts);
        }
        self.db
            .execute(
                "INSERT INTO groups (timestamp, time_s, last_s, state, first_seen_s, last_landed_s) VALUES (?1, ?2, ?2, 'collecting', ?3, ?3)",
                params![timestamp, time_s, now_s],
            )
            .map_err(self.err())?;
        Ok(timestamp.to_string())
    }

    /// Record a landed file (`stamp`: the version seen; its mtime counts
    /// as its landing time): `ready`, `duplicate` or `quarantined`.
    pub fn add_file(
        &self,
        path: &Path,
        group: &str,
        subband: u32,
        stamp: FileStamp,
        status: &str,
        reason: Option<&str>,
    ) -> Result<(), StreamError> {
        let now_s = stamp.mtime_s;
        self.db
            .execute(
                "INSERT OR REPLACE INTO files (path, group_ts, subband, size, status, reason, landed_s, ino) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![path.to_string_lossy(), group, subband, stamp.size as i64, status, reason, now_s, stamp.ino as i64],
            )
            .map_err(self.err())?;
        if status == "ready" {
            self.db
                .execute(
                    "UPDATE groups SET last_landed_s = MAX(last_landed_s, ?2) WHERE timestamp = ?1",
                    params![group, now_s],
                )
                .map_err(self.err())?;
        }
        Ok(())
    }

    /// Ready files of a group with their subbands.
    pub fn ready_files(&self, group: &str) -> Result<Vec<(u32, PathBuf)>, StreamError> {
        let mut st = self
            .db
            .prepare("SELECT subband, path FROM files WHERE group_ts = ?1 AND status = 'ready' ORDER BY subband")
            .map_err(self.err())?;
        let rows = st
            .query_map([group], |r| {
                Ok((r.get::<_, u32>(0)?, PathBuf::from(r.get::<_, String>(1)?)))
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    pub fn set_state(&self, group: &str, state: GroupState) -> Result<(), StreamError> {
        self.db
            .execute(
                "UPDATE groups SET state = ?2 WHERE timestamp = ?1",
                params![group, state.as_str()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub fn start_conversion(&self, group: &str, now_s: f64, ms: &Path) -> Result<(), StreamError> {
        self.db
            .execute(
                "UPDATE groups SET state = 'converting', attempts = attempts + 1, started_s = ?2, ms_path = ?3 WHERE timestamp = ?1",
                params![group, now_s, ms.to_string_lossy()],
            )
            .map_err(self.err())?;
        Ok(())
    }

    pub fn finish_conversion(&self, group: &str, now_s: f64) -> Result<(), StreamError> {
        self.db
            .execute("UPDATE groups SET state = 'done', finished_s = ?2, error = NULL WHERE timestamp = ?1", params![group, now_s])
            .map_err(self.err())?;
        Ok(())
    }

    /// An attempt that could not start because another process is
    /// writing the group's output: back to pending, the attempt not
    /// counted, `reason` kept as the error.
    pub fn defer_conversion(&self, group: &str, reason: &str) -> Result<(), StreamError> {
        self.db
            .execute(
                "UPDATE groups SET state = 'pending', attempts = MAX(attempts - 1, 0), error = ?2 WHERE timestamp = ?1",
                params![group, reason],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// A failed attempt: back to pending, or failed after `max_attempts`.
    pub fn fail_conversion(
        &self,
        group: &str,
        error: &str,
        max_attempts: u32,
    ) -> Result<GroupState, StreamError> {
        let attempts: u32 = self
            .db
            .query_row(
                "SELECT attempts FROM groups WHERE timestamp = ?1",
                [group],
                |r| r.get(0),
            )
            .map_err(self.err())?;
        let state = if attempts >= max_attempts {
            GroupState::Failed
        } else {
            GroupState::Pending
        };
        self.db
            .execute(
                "UPDATE groups SET state = ?2, error = ?3 WHERE timestamp = ?1",
                params![group, state.as_str(), error],
            )
            .map_err(self.err())?;
        Ok(state)
    }

    /// Groups in `state`, oldest first.
    pub fn groups_in(&self, state: GroupState) -> Result<Vec<GroupRow>, StreamError> {
        self.query_groups("WHERE state = ?1 ORDER BY time_s", params![state.as_str()])
    }

    /// The `n` most recent groups.
    pub fn recent(&self, n: usize) -> Result<Vec<GroupRow>, StreamError> {
        self.query_groups("ORDER BY time_s DESC LIMIT ?1", params![n as i64])
    }

    fn query_groups(
        &self,
        tail: &str,
        p: impl rusqlite::Params,
    ) -> Result<Vec<GroupRow>, StreamError> {
        let sql = format!(
            "SELECT timestamp, time_s, state, attempts, error, first_seen_s, last_landed_s, finished_s, ms_path FROM groups {tail}"
        );
        let mut st = self.db.prepare(&sql).map_err(self.err())?;
        let rows = st
            .query_map(p, |r| {
                Ok(GroupRow {
                    timestamp: r.get(0)?,
                    time_s: r.get(1)?,
                    state: GroupState::parse(&r.get::<_, String>(2)?),
                    attempts: r.get(3)?,
                    error: r.get(4)?,
                    first_seen_s: r.get(5)?,
                    last_landed_s: r.get(6)?,
                    finished_s: r.get(7)?,
                    ms_path: r.get::<_, Option<String>>(8)?.map(PathBuf::from),
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Groups per state.
    pub fn counts(&self) -> Result<Vec<(GroupState, u64)>, StreamError> {
        GroupState::ALL
            .into_iter()
            .map(|s| {
                self.db
                    .query_row(
                        "SELECT COUNT(*) FROM groups WHERE state = ?1",
                        [s.as_str()],
                        |r| r.get::<_, i64>(0),
                    )
                    .map(|n| (s, n as u64))
                    .map_err(self.err())
            })
            .collect()
    }

    pub fn quarantined(&self) -> Result<Vec<Quarantined>, StreamError> {
        let mut st = self
            .db
            .prepare("SELECT path, COALESCE(reason, '') FROM files WHERE status = 'quarantined' ORDER BY path")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| {
                Ok(Quarantined {
                    path: PathBuf::from(r.get::<_, String>(0)?),
                    reason: r.get(1)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}
