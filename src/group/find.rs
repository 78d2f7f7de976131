//! Finding groups in a directory by the timestamps in file names.
//!
//! One rule for `convert --input`, `batch` and the daemon: a file belongs
//! to a group when the group's time span, with the file added, is at most
//! twice the tolerance, so every file lies within the tolerance of the
//! group's own (middle) time, however the live system's stamps jitter
//! around it ([`joins_group`]). A group is named for its sb00's timestamp,
//! as the DSA-110 pipeline names it, or its earliest file's when sb00 is
//! missing ([`group_timestamp`]).

use std::path::{Path, PathBuf};

use super::GroupError;

/// A group found by file names: complete when every subband is present.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FoundGroup {
    /// The group's name, `YYYY-MM-DDTHH:MM:SS` ([`group_timestamp`]).
    pub timestamp: String,
    /// Unix seconds of its earliest and latest file names.
    pub span_s: (i64, i64),
    /// Files in subband order.
    pub files: Vec<PathBuf>,
    /// Subband numbers present.
    pub subbands: Vec<u32>,
    /// Subband numbers missing (of 0..n_subbands).
    pub missing: Vec<u32>,
    /// Files ignored because their subband was already present.
    pub duplicates: Vec<PathBuf>,
}

impl FoundGroup {
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Parse a timestamp `YYYY-MM-DDTHH:MM:SS` into Unix seconds.
pub fn parse_time_s(s: &str) -> Result<i64, GroupError> {
    chrono::NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S")
        .map(|t| t.and_utc().timestamp())
        .map_err(|_| GroupError::Time(s.to_string()))
}

/// `(timestamp, unix seconds, subband)` of a DSA-110 file name
/// `YYYY-MM-DDTHH:MM:SS_sbNN.hdf5`; `None` for other names.
pub fn parse_file_name(path: &Path) -> Option<(String, i64, u32)> {
    let name = path.file_name()?.to_str()?;
    let stem = name
        .strip_suffix(".hdf5")
        .or_else(|| name.strip_suffix(".h5"))?;
    let (ts, sb) = stem.rsplit_once("_sb")?;
    let sb: u32 = sb.parse().ok()?;
    let t = parse_time_s(ts).ok()?;
    Some((ts.to_string(), t, sb))
}

/// Whether a file stamped `t_s` joins the group whose files span
/// `first_s..=last_s` (Unix seconds): the span with it is at most twice
/// `tolerance_s`.
pub fn joins_group((first_s, last_s): (i64, i64), t_s: i64, tolerance_s: f64) -> bool {
    (last_s.max(t_s) - first_s.min(t_s)) as f64 <= 2.0 * tolerance_s
}

/// The groups in `dir` that a file stamped `timestamp`
/// (`YYYY-MM-DDTHH:MM:SS`) would join ([`joins_group`]): the group of that
/// name (its sb00's stamp), or any whose files lie within the tolerance of
/// it. `convert --input --timestamp` and `qa --input --timestamp` pick
/// their group by this.
pub fn groups_at(
    dir: &Path,
    timestamp: &str,
    tolerance_s: f64,
    n_subbands: usize,
) -> Result<Vec<FoundGroup>, GroupError> {
    let t = parse_time_s(timestamp)?;
    let mut found = find_groups(dir, None, None, tolerance_s, n_subbands)?;
    found.retain(|g| joins_group(g.span_s, t, tolerance_s));
    Ok(found)
}

/// The name of the group of `files`: the timestamp of its sb00 file, else
/// of its earliest; `None` when no file has a DSA-110 name.
pub fn group_timestamp<'a>(files: impl IntoIterator<Item = &'a Path>) -> Option<String> {
    files
        .into_iter()
        .filter_map(parse_file_name)
        .min_by_key(|(_, t, sb)| (*sb != 0, *t))
        .map(|(ts, _, _)| ts)
}

/// Every group of `dir` whose time span starts in `[start, end]`
/// (inclusive, `YYYY-MM-DDTHH:MM:SS`; open when `None`), files clustered
/// by [`joins_group`].
pub fn find_groups(
    dir: &Path,
    start: Option<&str>,
    end: Option<&str>,
    tolerance_s: f64,
    n_subbands: usize,
) -> Result<Vec<FoundGroup>, GroupError> {
    let start = start.map(parse_time_s).transpose()?;
    let end = end.map(parse_time_s).transpose()?;
    let entries = std::fs::read_dir(dir).map_err(|source| GroupError::Dir {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<(i64, u32, String, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter_map(|p| parse_file_name(&p).map(|(ts, t, sb)| (t, sb, ts, p)))
        .collect();
    files.sort();
    // (first, last) time of each group's files, and the group.
    let mut groups: Vec<((i64, i64), FoundGroup)> = Vec::new();
    for (t, sb, _, path) in files {
        match groups.last_mut() {
            Some((span, _)) if joins_group(*span, t, tolerance_s) => span.1 = t,
            _ => groups.push((
                (t, t),
                FoundGroup {
                    timestamp: String::new(),
                    span_s: (t, t),
                    files: Vec::new(),
                    subbands: Vec::new(),
                    missing: Vec::new(),
                    duplicates: Vec::new(),
                },
            )),
        }
        let g = &mut groups.last_mut().expect("a group exists").1;
        if g.subbands.contains(&sb) {
            g.duplicates.push(path);
        } else {
            g.subbands.push(sb);
            g.files.push(path);
        }
    }
    Ok(groups
        .into_iter()
        .filter(|((t, _), _)| start.is_none_or(|s| *t >= s) && end.is_none_or(|e| *t <= e))
        .map(|(span, mut g)| {
            g.span_s = span;
            g.timestamp = group_timestamp(g.files.iter().map(|p| p.as_path())).unwrap_or_default();
            let mut order: Vec<usize> = (0..g.files.len()).collect();
            order.sort_by_key(|&i| g.subbands[i]);
            g.files = order.iter().map(|&i| g.files[i].clone()).collect();
            g.subbands = order.iter().map(|&i| g.subbands[i]).collect();
            g.missing = (0..n_subbands as u32)
                .filter(|s| !g.subbands.contains(s))
                .collect();
            g
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, name: &str) {
        std::fs::write(dir.join(name), b"").unwrap();
    }

    #[test]
    fn file_names_parse() {
        let (ts, _, sb) = parse_file_name(Path::new("/x/2025-01-15T12:00:03_sb07.hdf5")).unwrap();
        assert_eq!((ts.as_str(), sb), ("2025-01-15T12:00:03", 7));
        assert!(parse_file_name(Path::new("notes.txt")).is_none());
        assert!(parse_file_name(Path::new("2025-13-15T12:00:03_sb07.hdf5")).is_none());
        // Files still being delivered are not subband files: the
        // correlator's before its final rename, rsync's hidden temporary.
        for partial in [
            "2025-01-15T12:00:03_sb07_incomplete.hdf5",
            ".2025-01-15T12:00:03_sb07.hdf5.Xa12bC",
            ".2025-01-15T12:00:03_sb07.hdf5",
        ] {
            assert!(parse_file_name(Path::new(partial)).is_none(), "{partial}");
        }
    }

    /// A group whose subbands are stamped 55 s either side of 12:00:00
    /// (sb00 among the late: named 12:00:55), and the next group, five
    /// minutes on, all stamped 12:05:00.
    fn jittered_groups() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        for sb in 0..16 {
            let stamp = if sb % 2 == 0 { "12:00:55" } else { "11:59:05" };
            touch(d.path(), &format!("2025-01-15T{stamp}_sb{sb:02}.hdf5"));
            touch(d.path(), &format!("2025-01-15T12:05:00_sb{sb:02}.hdf5"));
        }
        d
    }

    #[test]
    fn a_group_stamped_55_s_either_side_of_its_time_is_one_group() {
        let d = jittered_groups();
        let groups = find_groups(d.path(), None, None, 60.0, 16).unwrap();
        assert_eq!(groups.len(), 2);
        assert!(groups[0].is_complete() && groups[1].is_complete());
        assert_eq!(groups[0].timestamp, "2025-01-15T12:00:55");
        assert!(joins_group((0, 110), 120, 60.0));
        assert!(!joins_group((0, 110), 121, 60.0));
        assert!(!joins_group((10, 110), -11, 60.0));
    }

    #[test]
    fn a_timestamp_picks_the_group_it_would_join() {
        let d = jittered_groups();
        let at = |ts: &str| -> Vec<String> {
            let found = groups_at(d.path(), &format!("2025-01-15T{ts}"), 60.0, 16).unwrap();
            found.into_iter().map(|g| g.timestamp).collect()
        };
        // Its name, its earliest stamp and its middle all pick it.
        for ts in ["12:00:55", "11:59:05", "12:00:00"] {
            assert_eq!(at(ts), ["2025-01-15T12:00:55"], "{ts}");
        }
        assert_eq!(at("12:05:30"), ["2025-01-15T12:05:00"]);
        // A time that would stretch either group past 2 x 60 s.
        assert!(at("12:02:30").is_empty());
    }

    #[test]
    fn clusters_within_tolerance_and_lists_missing_subbands() {
        let d = tempfile::tempdir().unwrap();
        // Group A: 16 subbands stamped up to 4 s apart.
        for sb in 0..16 {
            touch(
                d.path(),
                &format!("2025-01-15T12:00:0{}_sb{sb:02}.hdf5", sb % 5),
            );
        }
        // Group B, 5 minutes later: subband 3 missing, subband 5 twice.
        for sb in (0..16).filter(|&s| s != 3) {
            touch(d.path(), &format!("2025-01-15T12:05:10_sb{sb:02}.hdf5"));
        }
        touch(d.path(), "2025-01-15T12:05:12_sb05.hdf5");
        touch(d.path(), "unrelated.hdf5");
        let groups = find_groups(d.path(), None, None, 60.0, 16).unwrap();
        assert_eq!(groups.len(), 2);
        assert!(groups[0].is_complete());
        assert_eq!(groups[0].timestamp, "2025-01-15T12:00:00");
        assert_eq!(groups[0].files.len(), 16);
        assert_eq!(groups[1].missing, vec![3]);
        assert_eq!(groups[1].duplicates.len(), 1);
        // A tolerance of 1 s splits group A.
        assert!(find_groups(d.path(), None, None, 1.0, 16).unwrap().len() > 2);
        // Named for sb00's stamp, which need not be the earliest.
        assert_eq!(groups[1].timestamp, "2025-01-15T12:05:10");
        // The window selects by the group's first timestamp.
        let late = find_groups(d.path(), Some("2025-01-15T12:01:00"), None, 60.0, 16).unwrap();
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].timestamp, "2025-01-15T12:05:10");
        let early = find_groups(d.path(), None, Some("2025-01-15T12:00:00"), 60.0, 16).unwrap();
        assert_eq!(early.len(), 1);
        assert!(matches!(
            find_groups(d.path(), Some("yesterday"), None, 60.0, 16),
            Err(GroupError::Time(_))
        ));
    }
}
