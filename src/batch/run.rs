//! `batch run`: one array task converts its share of the manifest.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;

use super::{BatchError, Manifest, Outcome, PlannedGroup, ResultRecord, StageSeconds};
use crate::convert::{self, ConvertError, ConvertOptions};
use crate::ms::{self, MsError, OutputState};

/// Who is running: the task, the host and the Slurm job, for the records.
#[derive(Clone, Debug)]
pub struct TaskContext {
    pub task: usize,
    pub tasks: usize,
    pub host: String,
    pub slurm_job: Option<String>,
}

impl TaskContext {
    /// The context of task `task` of `tasks` on this host; the Slurm job
    /// from `env` (`SLURM_ARRAY_JOB_ID`_`SLURM_ARRAY_TASK_ID`, else
    /// `SLURM_JOB_ID`).
    pub fn new(task: usize, tasks: usize, env: impl Fn(&str) -> Option<String>) -> TaskContext {
        let slurm_job = match (env("SLURM_ARRAY_JOB_ID"), env("SLURM_ARRAY_TASK_ID")) {
            (Some(job), Some(id)) => Some(format!("{job}_{id}")),
            _ => env("SLURM_JOB_ID"),
        };
        TaskContext {
            task,
            tasks,
            host: hostname(),
            slurm_job,
        }
    }
}

/// This machine's host name.
pub(super) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer outlives the call and its length is passed.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if rc != 0 || end == 0 {
        return "unknown-host".to_string();
    }
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// `(task, tasks)` of a Slurm array task from `env`: the task is
/// `SLURM_ARRAY_TASK_ID`, the count `SLURM_ARRAY_TASK_COUNT`, or
/// `SLURM_ARRAY_TASK_MAX - SLURM_ARRAY_TASK_MIN + 1` where that is unset.
/// For an array `--array=0-(N-1)`; a task id beyond the count is an error.
pub fn array_task(env: impl Fn(&str) -> Option<String>) -> Result<(usize, usize), BatchError> {
    let get = |var: &'static str| -> Result<usize, BatchError> {
        let value = env(var).ok_or(BatchError::NotAnArray(var))?;
        value
            .trim()
            .parse()
            .map_err(|_| BatchError::ArrayEnv { var, value })
    };
    let task = get("SLURM_ARRAY_TASK_ID")?;
    let tasks = match get("SLURM_ARRAY_TASK_COUNT") {
        Ok(n) => n,
        Err(BatchError::NotAnArray(_)) => {
            (get("SLURM_ARRAY_TASK_MAX")? + 1).saturating_sub(get("SLURM_ARRAY_TASK_MIN")?)
        }
        Err(e) => return Err(e),
    };
    if task >= tasks {
        return Err(BatchError::Task { task, tasks });
    }
    Ok((task, tasks))
}

/// The share of each of `tasks` tasks: indices into `groups`, in manifest
/// order. The split balances bytes: groups are dealt largest first, each to
/// the task with the fewest bytes so far (the lowest task on a tie), so
/// every task computes the same split from the manifest alone.
pub fn split(groups: &[PlannedGroup], tasks: usize) -> Result<Vec<Vec<usize>>, BatchError> {
    if tasks == 0 {
        return Err(BatchError::Task { task: 0, tasks });
    }
    let mut order: Vec<usize> = (0..groups.len()).collect();
    order.sort_by_key(|&i| (Reverse(groups[i].bytes), i));
    let mut least: BinaryHeap<Reverse<(u64, usize)>> =
        (0..tasks).map(|t| Reverse((0, t))).collect();
    let mut shares = vec![Vec::new(); tasks];
    for i in order {
        let Reverse((bytes, task)) = least.pop().expect("one entry per task");
        shares[task].push(i);
        least.push(Reverse((bytes + groups[i].bytes, task)));
    }
    shares.iter_mut().for_each(|s| s.sort_unstable());
    Ok(shares)
}

/// Convert the share of `ctx.task` (never replacing an MS: `opts.overwrite`
/// is ignored) and write each group's record; returns the records in
/// manifest order. A complete MS is skipped, and so is an output another
/// process holds the lock of (a duplicate task: it records its own
/// outcome). A group that fails is recorded and the task goes on; only a
/// record that cannot be written stops it.
pub fn run_task(
    manifest: &Manifest,
    ctx: &TaskContext,
    opts: &ConvertOptions,
) -> Result<Vec<ResultRecord>, BatchError> {
    let opts = ConvertOptions {
        overwrite: false,
        ..opts.clone()
    };
    if ctx.task >= ctx.tasks {
        return Err(BatchError::Task {
            task: ctx.task,
            tasks: ctx.tasks,
        });
    }
    let mine = split(&manifest.groups, ctx.tasks)?.swap_remove(ctx.task);
    let mut records = Vec::new();
    for i in mine {
        let g = &manifest.groups[i];
        let record = convert_one(g, ctx, &opts);
        match record.outcome {
            Outcome::Ok | Outcome::Failed => record.write()?,
            // Never hide the record of the conversion that made the MS,
            // even one finishing at this moment.
            Outcome::SkippedExists => record.write_unless_converted()?,
            Outcome::SkippedOtherWriter => {
                record.write_if_absent()?;
            }
        }
        match record.outcome {
            Outcome::Failed => tracing::error!(
                "{}: failed: {}",
                g.group,
                record.detail.as_deref().unwrap_or("")
            ),
            _ => tracing::info!(
                "{}: {:?}{}",
                g.group,
                record.outcome,
                record
                    .seconds
                    .map(|s| format!(" in {:.2} s", s.total))
                    .unwrap_or_default()
            ),
        }
        records.push(record);
    }
    Ok(records)
}

fn convert_one(g: &PlannedGroup, ctx: &TaskContext, opts: &ConvertOptions) -> ResultRecord {
    let record = |outcome, detail: Option<String>, seconds, bytes| ResultRecord {
        group: g.group.clone(),
        output: g.output.clone(),
        outcome,
        detail,
        seconds,
        bytes,
        host: ctx.host.clone(),
        slurm_job: ctx.slurm_job.clone(),
        task: ctx.task,
        tasks: ctx.tasks,
        finished_utc: chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
    };
    let exists = || {
        record(
            Outcome::SkippedExists,
            Some("its MS is in place".into()),
            None,
            g.bytes,
        )
    };
    if ms::inspect(&g.output) == OutputState::Complete {
        return exists();
    }
    let files: Vec<PathBuf> = g.files.iter().map(|f| f.path.clone()).collect();
    match convert::convert_group(&files, &g.output, opts) {
        Ok(s) => record(
            Outcome::Ok,
            None,
            Some(StageSeconds {
                read: s.seconds_read,
                compute: s.seconds_compute,
                write: s.seconds_write,
                total: s.seconds_total,
            }),
            s.bytes_read,
        ),
        Err(ConvertError::Ms(MsError::Exists(_))) => exists(),
        Err(e @ ConvertError::Ms(MsError::Busy { .. })) => record(
            Outcome::SkippedOtherWriter,
            Some(e.to_string()),
            None,
            g.bytes,
        ),
        Err(e) => record(Outcome::Failed, Some(e.to_string()), None, g.bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(bytes: &[u64]) -> Vec<PlannedGroup> {
        bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| PlannedGroup {
                group: format!("g{i}"),
                output: PathBuf::from(format!("/out/g{i}.ms")),
                bytes: b,
                files: Vec::new(),
            })
            .collect()
    }

    fn split(g: &[PlannedGroup], tasks: usize) -> Vec<Vec<usize>> {
        super::split(g, tasks).unwrap()
    }

    #[test]
    fn the_split_balances_bytes_not_counts() {
        // One group bigger than the seven others together: it gets a task
        // of its own, where a split by counts would give 4 groups to each.
        let g = groups(&[61, 10, 10, 10, 10, 10, 10, 1]);
        assert_eq!(split(&g, 2), vec![vec![0], vec![1, 2, 3, 4, 5, 6, 7]]);
        // Largest first to the least loaded task: 7->t0, 6->t1, 5->t1 (11),
        // 4->t0 (11), 3->t0 (14, tie goes to t0), 2->t1 (13).
        let g = groups(&[2, 7, 4, 5, 6, 3]);
        let s = split(&g, 2);
        assert_eq!(s, vec![vec![1, 2, 5], vec![0, 3, 4]]);
        let load = |t: &Vec<usize>| t.iter().map(|&i| g[i].bytes).sum::<u64>();
        assert_eq!((load(&s[0]), load(&s[1])), (14, 13));
    }

    #[test]
    fn every_group_goes_to_exactly_one_task_and_the_split_is_stable() {
        let bytes: Vec<u64> = (0..103u64).map(|i| (i * 7919) % 1000 + 1).collect();
        let g = groups(&bytes);
        let s = split(&g, 8);
        let mut all: Vec<usize> = s.iter().flatten().copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
        // Largest-first greedy: no task exceeds the mean by more than the
        // largest group.
        let mean = bytes.iter().sum::<u64>() as f64 / 8.0;
        let largest = *bytes.iter().max().unwrap() as f64;
        for t in &s {
            let load: u64 = t.iter().map(|&i| bytes[i]).sum();
            assert!((load as f64) < mean + largest, "{load} vs mean {mean}");
        }
        assert_eq!(s, split(&g, 8));
        // More tasks than groups: the extra tasks get nothing.
        assert_eq!(split(&groups(&[5, 5]), 3), vec![vec![0], vec![1], vec![]]);
        assert!(matches!(
            super::split(&g, 0),
            Err(BatchError::Task { tasks: 0, .. })
        ));
    }

    #[test]
    fn slurm_array_variables_give_task_and_count() {
        fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
            move |k| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        }
        let count = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ];
        assert_eq!(array_task(env(&count)).unwrap(), (3, 8));
        let min_max = [
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "7"),
        ];
        assert_eq!(array_task(env(&min_max)).unwrap(), (7, 8));
        assert!(matches!(
            array_task(env(&[])),
            Err(BatchError::NotAnArray("SLURM_ARRAY_TASK_ID"))
        ));
        let beyond = [
            ("SLURM_ARRAY_TASK_ID", "9"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ];
        assert!(matches!(
            array_task(env(&beyond)),
            Err(BatchError::Task { task: 9, tasks: 8 })
        ));
        let junk = [("SLURM_ARRAY_TASK_ID", "x")];
        assert!(matches!(
            array_task(env(&junk)),
            Err(BatchError::ArrayEnv {
                var: "SLURM_ARRAY_TASK_ID",
                ..
            })
        ));
        let ctx = TaskContext::new(
            3,
            8,
            env(&[("SLURM_ARRAY_JOB_ID", "41"), ("SLURM_ARRAY_TASK_ID", "3")]),
        );
        assert_eq!(ctx.slurm_job.as_deref(), Some("41_3"));
        assert_eq!(TaskContext::new(0, 1, env(&[])).slurm_job, None);
    }
}
