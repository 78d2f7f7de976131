//! `batch plan`: the manifest of every complete group in a time window.
//!
//! One JSON line per group (its timestamp, its files with their sizes and
//! the MS it becomes), in time order, with absolute paths so that a task
//! started anywhere finds them. Incomplete groups go to a second file
//! beside the manifest, with their missing subbands. The same directory
//! planned twice gives byte-identical files.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io, write_atomic, BatchError};
use crate::convert;
use crate::group::find_groups;

/// Which groups to plan: the same choices as `convert --input`.
#[derive(Clone, Debug)]
pub struct Window<'a> {
    /// First UTC time (`YYYY-MM-DDTHH:MM:SS`, inclusive); open when `None`.
    pub start: Option<&'a str>,
    /// Last UTC time (inclusive); open when `None`.
    pub end: Option<&'a str>,
    /// Files closer than this many seconds belong to one group.
    pub tolerance_s: f64,
    /// Files a complete group has.
    pub subbands: usize,
}

/// One file of a planned group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedFile {
    pub path: PathBuf,
    pub bytes: u64,
}

/// One line of the manifest: a complete group and the MS it becomes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlannedGroup {
    /// Timestamp of the group's first file, `YYYY-MM-DDTHH:MM:SS`.
    pub group: String,
    /// `<output>/<timestamp>.ms`, the name `convert` gives it.
    pub output: PathBuf,
    /// Bytes of all its files (what the split balances).
    pub bytes: u64,
    /// In subband order.
    pub files: Vec<PlannedFile>,
}

/// A group left out of the manifest: subbands are missing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnplannedGroup {
    pub group: String,
    pub files: Vec<PathBuf>,
    pub missing: Vec<u32>,
}

/// What `batch plan` found.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub groups: Vec<PlannedGroup>,
    pub incomplete: Vec<UnplannedGroup>,
}

/// The groups of `input` in `window`, each to become an MS in `output`
/// (created if missing: the manifest names it by its absolute path).
pub fn plan(input: &Path, output: &Path, window: &Window) -> Result<Plan, BatchError> {
    let input = input.canonicalize().map_err(io(input))?;
    std::fs::create_dir_all(output).map_err(io(output))?;
    let output = output.canonicalize().map_err(io(output))?;
    let found = find_groups(
        &input,
        window.start,
        window.end,
        window.tolerance_s,
        window.subbands,
    )?;
    let mut plan = Plan {
        groups: Vec::new(),
        incomplete: Vec::new(),
    };
    for g in found {
        if !g.is_complete() {
            plan.incomplete.push(UnplannedGroup {
                group: g.timestamp,
                files: g.files,
                missing: g.missing,
            });
            continue;
        }
        let files = g
            .files
            .iter()
            .map(|path| {
                let meta = std::fs::metadata(path).map_err(io(path))?;
                Ok(PlannedFile {
                    path: path.clone(),
                    bytes: meta.len(),
                })
            })
            .collect::<Result<Vec<_>, BatchError>>()?;
        plan.groups.push(PlannedGroup {
            group: g.timestamp,
            output: output.join(convert::output_name(&g.files)),
            bytes: files.iter().map(|f| f.bytes).sum(),
            files,
        });
    }
    Ok(plan)
}

/// Where the incomplete groups of the manifest `manifest` are listed:
/// `<stem>.incomplete.jsonl` beside it.
pub fn incomplete_path(manifest: &Path) -> PathBuf {
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    manifest.with_file_name(format!("{stem}.incomplete.jsonl"))
}

fn json_lines<T: Serialize>(items: &[T]) -> String {
    items
        .iter()
        .map(|item| serde_json::to_string(item).expect("plain data serializes") + "\n")
        .collect()
}

impl Plan {
    /// Write the manifest to `manifest` and the incomplete groups to
    /// `incomplete_path` (empty when there are none), each atomically.
    pub fn write(&self, manifest: &Path) -> Result<(), BatchError> {
        write_atomic(manifest, json_lines(&self.groups).as_bytes())?;
        write_atomic(
            &incomplete_path(manifest),
            json_lines(&self.incomplete).as_bytes(),
        )
    }

    /// Bytes of every planned group.
    pub fn bytes(&self) -> u64 {
        self.groups.iter().map(|g| g.bytes).sum()
    }
}

/// A manifest read back.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    pub path: PathBuf,
    pub groups: Vec<PlannedGroup>,
}

impl Manifest {
    /// Read a manifest written by [`Plan::write`]; a line that is not a
    /// planned group is an error naming the line.
    pub fn read(path: &Path) -> Result<Manifest, BatchError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let groups = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| BatchError::Manifest {
                    path: path.to_path_buf(),
                    line: i + 1,
                    what: e.to_string(),
                })
            })
            .collect::<Result<Vec<PlannedGroup>, _>>()?;
        if groups.is_empty() {
            return Err(BatchError::EmptyManifest(path.to_path_buf()));
        }
        Ok(Manifest {
            path: path.to_path_buf(),
            groups,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Window = Window {
        start: None,
        end: None,
        tolerance_s: 60.0,
        subbands: 4,
    };

    /// Files of three groups, written in `order`: 12:00 (4 subbands, 1 s
    /// apart), 12:05 (sb02 missing), 12:10 (4 subbands); file sizes 100 +
    /// 10 * subband bytes.
    fn archive(dir: &Path, order: &[usize]) {
        let names: Vec<String> = (0..4)
            .map(|sb| format!("2025-01-15T12:00:0{sb}_sb{sb:02}.hdf5"))
            .chain(
                [0, 1, 3]
                    .iter()
                    .map(|sb| format!("2025-01-15T12:05:00_sb{sb:02}.hdf5")),
            )
            .chain((0..4).map(|sb| format!("2025-01-15T12:10:00_sb{sb:02}.hdf5")))
            .collect();
        for &i in order {
            let sb: usize = names[i][22..24].parse().unwrap();
            std::fs::write(dir.join(&names[i]), vec![0u8; 100 + 10 * sb]).unwrap();
        }
    }

    #[test]
    fn a_plan_lists_complete_groups_in_time_order_and_incomplete_ones_apart() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("in");
        std::fs::create_dir(&input).unwrap();
        archive(&input, &(0..11).collect::<Vec<_>>());
        let manifest = d.path().join("plan.jsonl");
        plan(&input, &d.path().join("out"), &WINDOW)
            .unwrap()
            .write(&manifest)
            .unwrap();

        let (i, o) = (
            input.canonicalize().unwrap(),
            d.path().join("out").canonicalize().unwrap(),
        );
        let line = |ts: &str, stamps: [&str; 4]| {
            let files: Vec<String> = (0..4)
                .map(|sb| {
                    format!(
                        r#"{{"path":"{}/{}_sb{sb:02}.hdf5","bytes":{}}}"#,
                        i.display(),
                        stamps[sb],
                        100 + 10 * sb
                    )
                })
                .collect();
            format!(
                r#"{{"group":"{ts}","output":"{}/{}.ms","bytes":460,"files":[{}]}}"#,
                o.display(),
                stamps[0],
                files.join(",")
            ) + "\n"
        };
        let expected = line(
            "2025-01-15T12:00:00",
            [
                "2025-01-15T12:00:00",
                "2025-01-15T12:00:01",
                "2025-01-15T12:00:02",
                "2025-01-15T12:00:03",
            ],
        ) + &line("2025-01-15T12:10:00", ["2025-01-15T12:10:00"; 4]);
        assert_eq!(std::fs::read_to_string(&manifest).unwrap(), expected);
        let incomplete = std::fs::read_to_string(d.path().join("plan.incomplete.jsonl")).unwrap();
        let sb = |n: u32| format!("\"{}/2025-01-15T12:05:00_sb{n:02}.hdf5\"", i.display());
        assert_eq!(
            incomplete,
            format!(
                r#"{{"group":"2025-01-15T12:05:00","files":[{},{},{}],"missing":[2]}}"#,
                sb(0),
                sb(1),
                sb(3)
            ) + "\n"
        );
        let read = Manifest::read(&manifest).unwrap();
        assert_eq!(read.groups.len(), 2);
        assert_eq!(read.groups[1].files[3].bytes, 130);
    }

    #[test]
    fn the_same_inputs_give_a_byte_identical_plan() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        archive(&a, &(0..11).collect::<Vec<_>>());
        let out = d.path().join("out");
        plan(&a, &out, &WINDOW)
            .unwrap()
            .write(&d.path().join("1.jsonl"))
            .unwrap();
        plan(&a, &out, &WINDOW)
            .unwrap()
            .write(&d.path().join("2.jsonl"))
            .unwrap();
        // The same files created in the opposite order (another directory
        // order on disk), through a path with `..` in it.
        std::fs::create_dir(&b).unwrap();
        archive(&b, &(0..11).rev().collect::<Vec<_>>());
        std::fs::rename(&a, d.path().join("a-old")).unwrap();
        std::fs::rename(&b, &a).unwrap();
        plan(&d.path().join("out/../a"), &out, &WINDOW)
            .unwrap()
            .write(&d.path().join("3.jsonl"))
            .unwrap();
        let read = |n: &str| std::fs::read(d.path().join(n)).unwrap();
        assert!(!read("1.jsonl").is_empty());
        assert_eq!(read("1.jsonl"), read("2.jsonl"));
        assert_eq!(read("1.jsonl"), read("3.jsonl"));
        assert_eq!(read("1.incomplete.jsonl"), read("3.incomplete.jsonl"));
    }

    #[test]
    fn a_bad_manifest_line_is_named() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("m.jsonl");
        std::fs::write(&path, "{\"group\":\"x\"}\n").unwrap();
        let err = Manifest::read(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}, line 1: ", path.display())),
            "{err}"
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(
            Manifest::read(&path),
            Err(BatchError::EmptyManifest(_))
        ));
    }
}
