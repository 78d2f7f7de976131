//! `batch`: reprocess an archive as a Slurm job array (plan, run, submit,
//! status); the work is done by [`crate::batch`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use super::convert::{pipeline_options, PipelineArgs};
use crate::batch::{self, GroupState, Manifest, Outcome, Plan, TaskContext, Window};
use crate::compute::BackendChoice;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
A year of DSA-110 data is about 105,000 groups: days of work for one node.
`batch` splits it over a Slurm job array, each group converted exactly once:

  dsa110-convert batch plan --input /archive --start 2025-01-01T00:00:00 \\
      --end 2025-02-01T00:00:00 --output /ms/jan --manifest /ms/jan/plan.jsonl
  dsa110-convert batch submit --manifest /ms/jan/plan.jsonl --tasks 64 \\
      --cpus 4 --time 4:00:00 --partition normal
  dsa110-convert batch status --manifest /ms/jan/plan.jsonl
  dsa110-convert batch submit --manifest /ms/jan/plan.jsonl --tasks 64 --only-missing

A group whose complete MS is in place is skipped, one process at a time
writes an output (a task finding another writer on it skips the group), an
MS appears only complete, and every group gets a record <output>.result.json
(ok / failed / skipped_exists / skipped_other_writer, the error, seconds per
stage, bytes, host, Slurm job): a task that Slurm kills, preempts, requeues
or runs twice never corrupts or doubles a group.")]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// List every complete group of a time window in a manifest (JSON lines).
    Plan(PlanArgs),
    /// Convert one task's share of a manifest (what each array task runs).
    Run(RunArgs),
    /// Write the sbatch script of the job array and submit it.
    Submit(SubmitArgs),
    /// Done, failed or missing, per group, from the outputs and their records.
    Status(StatusArgs),
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Groups are found as `convert --input` finds them (file-name time within
--tolerance-s of the group's own, middle, time; see `groups --help`). Each manifest line is one complete
group: {\"group\", \"output\", \"bytes\", \"files\": [{\"path\", \"bytes\"}]}, with
absolute paths, in time order; the same inputs give a byte-identical
manifest. Incomplete groups are listed apart, with their missing subbands,
in <manifest stem>.incomplete.jsonl beside the manifest.

Example:
  dsa110-convert batch plan --input /archive --output /ms/jan \\
      --start 2025-01-01T00:00:00 --end 2025-02-01T00:00:00")]
struct PlanArgs {
    /// Directory holding `<timestamp>_sbNN.hdf5` subband files.
    #[arg(long, short)]
    input: PathBuf,
    /// First UTC time of the window (`YYYY-MM-DDTHH:MM:SS`, inclusive).
    #[arg(long)]
    start: Option<String>,
    /// Last UTC time of the window (inclusive).
    #[arg(long)]
    end: Option<String>,
    /// Output directory: each group becomes `<timestamp>.ms` there (created).
    #[arg(long, short)]
    output: PathBuf,
    /// Where to write the manifest (default: <output>/manifest.jsonl).
    #[arg(long)]
    manifest: Option<PathBuf>,
    #[command(flatten)]
    grouping: super::groups::Grouping,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Under Slurm, --task and --tasks default to SLURM_ARRAY_TASK_ID and the
array's task count (SLURM_ARRAY_TASK_COUNT, or MAX - MIN + 1): for an array
--array=0-(N-1). The share of each task is computed from the manifest alone
(largest groups first, each to the task with the fewest bytes so far), so
every task of the array agrees on it without talking to the others.

Groups whose complete MS is in place are skipped, and so are outputs another
process is writing (a duplicate of this task, the daemon, a `convert`): that
writer records the outcome. Existing outputs are never replaced. Exit status
1 when a group failed (its record holds the error).

Example (what `batch submit` runs in each task):
  dsa110-convert batch run --manifest /ms/jan/plan.jsonl --task 3 --tasks 64")]
struct RunArgs {
    /// Manifest written by `batch plan`.
    #[arg(long)]
    manifest: PathBuf,
    /// This task's number, 0..tasks-1 (default: SLURM_ARRAY_TASK_ID).
    #[arg(long, requires = "tasks")]
    task: Option<usize>,
    /// Number of tasks the manifest is split into (default: the array's task count).
    #[arg(long, requires = "task")]
    tasks: Option<usize>,
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// Print the task's records as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
The script runs `batch run --task $SLURM_ARRAY_TASK_ID --tasks N` with the
conversion options given here, in an array --array=0-(N-1). Each task asks
for --mem = --max-memory + 384 MiB (the program's own memory beyond its
buffers, measured: README, \"On a cluster\") and --cpus-per-task = --cpus,
and runs rayon on that many threads. Logs go to
<log dir>/<job name>-<job>_<task>.out; a requeued task appends to its log
and redoes only what is not done.

Examples:
  dsa110-convert batch submit --manifest /ms/jan/plan.jsonl --tasks 64 --dry-run
  dsa110-convert batch submit --manifest /ms/jan/plan.jsonl --tasks 16 \\
      --backend gpu --gpus 1 --partition gpu --time 2:00:00
  dsa110-convert batch submit --manifest /ms/jan/plan.jsonl --tasks 64 --only-missing")]
struct SubmitArgs {
    /// Manifest written by `batch plan`.
    #[arg(long)]
    manifest: PathBuf,
    /// Array tasks (N): the manifest is split into N shares of about equal bytes.
    #[arg(long)]
    tasks: usize,
    /// Slurm partition (default: the cluster's default partition).
    #[arg(long)]
    partition: Option<String>,
    /// Time limit of each task, in Slurm's format (e.g. 30, 2:00:00, 1-00:00:00).
    #[arg(long)]
    time: Option<String>,
    /// CPUs per task.
    #[arg(long, default_value_t = 2)]
    cpus: usize,
    /// GPUs per task (--gres=gpu:G); needs --backend gpu.
    #[arg(long)]
    gpus: Option<u32>,
    /// Slurm job name; also names the logs.
    #[arg(long, default_value = "dsa110-batch")]
    job_name: String,
    /// Directory for the tasks' logs (default: the manifest's directory).
    #[arg(long)]
    log_dir: Option<PathBuf>,
    /// Only the tasks whose share holds a group that is not done (failed
    /// or missing); use the same --tasks as the first submission.
    #[arg(long)]
    only_missing: bool,
    /// Print the script instead of submitting it.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    pipeline: PipelineArgs,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
done: a complete MS is in place (one casacore opens); failed: none, and the
last conversion failed (the error is shown); missing: none and no failure
recorded (not converted yet, a task killed while converting, a writer
outside this job still at it, or an MS recorded done that is gone). Exit
status 1 unless every group is done.

Example:
  dsa110-convert batch status --manifest /ms/jan/plan.jsonl --json")]
struct StatusArgs {
    /// Manifest written by `batch plan`.
    #[arg(long)]
    manifest: PathBuf,
    /// Print JSON on stdout: counts and one entry per group with its record.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Plan(a) => plan(a),
        Command::Run(a) => run_task(a),
        Command::Submit(a) => submit(a),
        Command::Status(a) => status(a),
    }
}

fn plan(a: PlanArgs) -> anyhow::Result<ExitCode> {
    let window = Window {
        start: a.start.as_deref(),
        end: a.end.as_deref(),
        tolerance_s: a.grouping.tolerance_s,
        subbands: a.grouping.subbands,
    };
    let plan: Plan = batch::plan(&a.input, &a.output, &window)
        .with_context(|| format!("planning the groups of {}", a.input.display()))?;
    anyhow::ensure!(
        !plan.groups.is_empty(),
        "no complete group in {}{}",
        a.input.display(),
        if plan.incomplete.is_empty() {
            String::new()
        } else {
            format!(" ({} incomplete)", plan.incomplete.len())
        }
    );
    let manifest = a
        .manifest
        .unwrap_or_else(|| a.output.join("manifest.jsonl"));
    plan.write(&manifest)?;
    for g in &plan.incomplete {
        let missing: Vec<String> = g.missing.iter().map(|s| format!("sb{s:02}")).collect();
        eprintln!(
            "incomplete, left out: {} (missing {})",
            g.group,
            missing.join(" ")
        );
    }
    println!(
        "{}: {} groups, {:.2} GB; {} incomplete group(s) left out",
        manifest.display(),
        plan.groups.len(),
        plan.bytes() as f64 / 1e9,
        plan.incomplete.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn run_task(a: RunArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::read(&a.manifest)?;
    let env = |k: &str| std::env::var(k).ok();
    let (task, tasks) = match (a.task, a.tasks) {
        (Some(k), Some(n)) => (k, n),
        _ => batch::array_task(env)?,
    };
    let ctx = TaskContext::new(task, tasks, env);
    let opts = pipeline_options(&a.pipeline, false, false)?;
    let records = batch::run_task(&manifest, &ctx, &opts)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&records)?);
    } else {
        for r in &records {
            let what = match (r.outcome, &r.seconds) {
                (Outcome::Ok, Some(s)) => format!("converted in {:.2} s", s.total),
                (Outcome::SkippedExists, _) => "skipped: its MS is in place".into(),
                (Outcome::SkippedOtherWriter, _) => format!(
                    "skipped: {}",
                    r.detail.as_deref().unwrap_or("another process holds it")
                ),
                _ => format!("FAILED: {}", r.detail.as_deref().unwrap_or("")),
            };
            println!("{}  {what}", r.group);
        }
        println!(
            "task {task} of {tasks} on {}: {} group(s)",
            ctx.host,
            records.len()
        );
    }
    let failed = records.iter().any(|r| r.outcome == Outcome::Failed);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The command-line spelling of a `--flag` choice.
fn value_name(v: &impl clap::ValueEnum) -> String {
    v.to_possible_value()
        .expect("every choice has a name")
        .get_name()
        .to_string()
}

/// `batch run`'s conversion options as arguments, for the script. Every
/// field is named, so a new option cannot be forgotten here.
fn run_args(p: &PipelineArgs) -> anyhow::Result<Vec<String>> {
    let PipelineArgs {
        phase_center,
        catalog,
        no_rename_calibrator_fields,
        backend,
        max_memory,
        imaging_columns,
        spw_layout,
        telescope_name,
        workers,
        chunk_cache,
        iers,
        qa,
    } = p;
    let mut out: Vec<String> = vec![
        "--phase-center".into(),
        phase_center.clone(),
        "--backend".into(),
        value_name(backend),
        "--spw-layout".into(),
        value_name(spw_layout),
        "--max-memory".into(),
        max_memory.to_string(),
        "--chunk-cache".into(),
        chunk_cache.to_string(),
    ];
    for (flag, path) in [("--catalog", catalog), ("--iers", iers)] {
        if let Some(p) = path {
            let abs = absolute(p).with_context(|| flag.to_string())?;
            out.extend([flag.into(), abs.to_string_lossy().into_owned()]);
        }
    }
    if *no_rename_calibrator_fields {
        out.push("--no-rename-calibrator-fields".into());
    }
    if *imaging_columns {
        out.push("--imaging-columns".into());
    }
    if *qa {
        out.push("--qa".into());
    }
    if let Some(name) = telescope_name {
        out.extend(["--telescope-name".into(), name.clone()]);
    }
    if let Some(w) = workers {
        out.extend(["--workers".into(), w.to_string()]);
    }
    Ok(out)
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    p.canonicalize()
        .with_context(|| format!("cannot find {}", p.display()))
}

fn submit(a: SubmitArgs) -> anyhow::Result<ExitCode> {
    let manifest_path = absolute(&a.manifest)?;
    let manifest = Manifest::read(&manifest_path)?;
    anyhow::ensure!(a.tasks > 0, "--tasks must be at least 1");
    anyhow::ensure!(
        a.tasks <= manifest.groups.len(),
        "--tasks {} but {} lists {} group(s): use at most that many tasks",
        a.tasks,
        manifest_path.display(),
        manifest.groups.len()
    );
    anyhow::ensure!(a.cpus > 0, "--cpus must be at least 1");
    if a.gpus.is_some() {
        anyhow::ensure!(
            matches!(a.pipeline.backend, BackendChoice::Gpu),
            "--gpus needs --backend gpu (a task given a GPU must not fall back to the CPU unnoticed)"
        );
    }
    let indices: Vec<usize> = if a.only_missing {
        let states = batch::status(&manifest)?;
        batch::tasks_not_done(&manifest, &states, a.tasks)?
    } else {
        (0..a.tasks).collect()
    };
    if indices.is_empty() {
        println!(
            "every group of {} is done: nothing to submit",
            manifest_path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let log_dir = match &a.log_dir {
        Some(d) => {
            std::fs::create_dir_all(d)
                .with_context(|| format!("cannot create log directory {}", d.display()))?;
            absolute(d)?
        }
        None => manifest_path
            .parent()
            .unwrap_or(Path::new("/"))
            .to_path_buf(),
    };
    let program = std::env::current_exe().context("cannot find this program's path")?;
    let run_args = run_args(&a.pipeline)?;
    let script = batch::script(&batch::ArrayJob {
        manifest: &manifest_path,
        tasks: a.tasks,
        indices: &indices,
        job_name: &a.job_name,
        partition: a.partition.as_deref(),
        time: a.time.as_deref(),
        cpus_per_task: a.cpus,
        mem_bytes: batch::task_memory_bytes(a.pipeline.max_memory),
        gpus: a.gpus,
        log_dir: &log_dir,
        program: &program,
        run_args: &run_args,
    });
    if a.dry_run {
        print!("{script}");
        return Ok(ExitCode::SUCCESS);
    }
    let job = batch::sbatch(&script)?;
    eprintln!(
        "submitted array job {job}: tasks {} of {}; logs in {}",
        batch::array_spec(&indices),
        a.tasks,
        log_dir.display()
    );
    println!("{job}");
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Serialize)]
struct StatusJson<'a> {
    manifest: &'a Path,
    done: usize,
    failed: usize,
    missing: usize,
    groups: &'a [batch::GroupStatus],
}

fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let manifest = Manifest::read(&a.manifest)?;
    let states = batch::status(&manifest)?;
    let count = |s: GroupState| states.iter().filter(|g| g.state == s).count();
    let (done, failed, missing) = (
        count(GroupState::Done),
        count(GroupState::Failed),
        count(GroupState::Missing),
    );
    if a.json {
        let json = StatusJson {
            manifest: &a.manifest,
            done,
            failed,
            missing,
            groups: &states,
        };
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        for g in &states {
            let (state, extra) = match (g.state, &g.record) {
                (GroupState::Done, Some(r)) => (
                    "done",
                    format!(
                        "{}{} task {}{}",
                        r.host,
                        r.slurm_job
                            .as_deref()
                            .map(|j| format!(" job {j}"))
                            .unwrap_or_default(),
                        r.task,
                        r.seconds
                            .map(|s| format!(", {:.2} s", s.total))
                            .unwrap_or_default()
                    ),
                ),
                (GroupState::Failed, Some(r)) => (
                    "FAILED",
                    format!("{}: {}", r.host, r.detail.as_deref().unwrap_or("")),
                ),
                (GroupState::Done, None) => ("done", "(no record: made outside batch)".into()),
                (GroupState::Missing, Some(r)) if r.outcome == Outcome::SkippedOtherWriter => (
                    "missing",
                    format!("{}: {}", r.host, r.detail.as_deref().unwrap_or("")),
                ),
                (GroupState::Missing, Some(_)) => ("missing", "its MS is gone".into()),
                _ => ("missing", String::new()),
            };
            println!("{}  {state:<7}  {extra}", g.group);
        }
        println!(
            "{} groups: {done} done, {failed} failed, {missing} missing",
            states.len()
        );
    }
    Ok(if done == states.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Run {
        #[command(flatten)]
        pipeline: PipelineArgs,
    }

    #[test]
    fn the_scripts_run_arguments_parse_back_to_the_same_options() {
        let dir = tempfile::tempdir().unwrap();
        let (catalog, iers) = (dir.path().join("cat.csv"), dir.path().join("finals.all"));
        std::fs::write(&catalog, "").unwrap();
        std::fs::write(&iers, "").unwrap();
        let (catalog, iers) = (catalog.to_str().unwrap(), iers.to_str().unwrap());
        let cases: [&[&str]; 2] = [
            &[],
            &[
                "--phase-center",
                "13:31:08.3,+30:30:33",
                "--catalog",
                catalog,
                "--backend",
                "gpu",
                "--max-memory",
                "512MiB",
                "--chunk-cache",
                "4MiB",
                "--no-rename-calibrator-fields",
                "--imaging-columns",
                "--workers",
                "3",
                "--iers",
                iers,
            ],
        ];
        for case in cases {
            let given = Run::parse_from(std::iter::once("x").chain(case.iter().copied()));
            let args = run_args(&given.pipeline).unwrap();
            let back = Run::parse_from(std::iter::once("x".to_string()).chain(args));
            assert_eq!(
                format!("{:?}", back.pipeline),
                format!("{:?}", given.pipeline)
            );
        }
    }

    #[test]
    fn submit_help_states_the_memory_overhead_the_script_asks_for() {
        use clap::CommandFactory;
        let help = super::super::Cli::command()
            .find_subcommand_mut("batch")
            .and_then(|b| b.find_subcommand_mut("submit"))
            .expect("batch submit")
            .render_long_help()
            .to_string();
        let mib = batch::TASK_OVERHEAD_BYTES >> 20;
        assert!(
            help.contains(&format!("--max-memory + {mib} MiB")),
            "{help}"
        );
    }
}
