//! `stream`: the daemon for the live feed, and its status.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::ms;
use crate::stream::{self, GroupState, IncompletePolicy, State, StreamConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Watch a directory and convert every group as soon as its 16 subbands are there.
    Run(Box<RunArgs>),
    /// Counts per state, the last groups with their latency, and errors;
    /// a done group whose MS is gone is marked "MS missing".
    Status(StatusArgs),
    /// Convert groups again: failed ones, or done ones whose MS is gone
    /// (a running daemon picks them up at its next tick).
    Retry(RetryArgs),
}

#[derive(clap::Args, Debug)]
struct RetryArgs {
    /// State database of a `stream run`.
    #[arg(long)]
    state: PathBuf,
    /// Groups (timestamps, as `status` lists them).
    #[arg(required_unless_present = "failed")]
    groups: Vec<String>,
    /// Every failed group.
    #[arg(long)]
    failed: bool,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "\
A file counts once inotify saw it closed after writing or renamed into the
directory (the correlator's `_incomplete` renamed to its final name, rsync's
hidden temporary renamed into place: complete when it appears, no wait), or
its size has been stable for --stable-s, and it opens as UVH5. Names other
than <timestamp>_sbNN.hdf5 are never opened. One that never opens is moved to
<input>/quarantine/ after --quarantine-after-s. Groups are assembled by
file-name time within --tolerance-s of the group's own (middle) time, as
`groups --help` says.

Each subband is converted as it lands, into its own channel slice of the
group's (hidden, partial) MS: when the last one lands only that subband, the
weights and the subtables are left, and the MS appears within about a second
of it. A group whose files do not fit the layout sbNN names (a missing
subband converted under --incomplete convert, say) is converted whole instead.

The state (files, groups, attempts, errors, timings) lives in an SQLite
database; after a crash, interrupted groups are converted again and finished
ones never are. SIGINT/SIGTERM: no new work, the conversions in hand are
finished, groups still collecting are abandoned (their partial MS removed),
exit 0.

An output another process is writing (a backfill `convert` holds its lock)
is not an error: the group waits, is tried again every few seconds, and is
done once that process's MS is in place. A file is known by its size, mtime
and inode: a new file at a quarantined path is examined afresh, a replaced
file of a failed group starts the group over. `stream retry` requeues groups
by hand.")]
struct RunArgs {
    /// Directory the correlator writes `<timestamp>_sbNN.hdf5` files into.
    #[arg(long)]
    input: PathBuf,
    /// Directory for the Measurement Sets (`<timestamp>.ms`).
    #[arg(long)]
    output: PathBuf,
    /// State database (default: <output>/dsa110-stream.sqlite).
    #[arg(long)]
    state: Option<PathBuf>,
    #[command(flatten)]
    grouping: super::groups::Grouping,
    /// Seconds after a group's first file before it counts as incomplete.
    #[arg(long, default_value_t = 600.0)]
    incomplete_timeout_s: f64,
    /// What to do with an incomplete group: convert what is there, or wait.
    #[arg(long, value_enum, default_value = "wait")]
    incomplete: IncompletePolicy,
    /// Attempts before a group that keeps failing is given up.
    #[arg(long, default_value_t = 3)]
    max_attempts: u32,
    /// Conversions at once.
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Groups queued for the converters beyond those running (backpressure).
    #[arg(long, default_value_t = 2)]
    queue: usize,
    /// Seconds a file's size must stay unchanged before it is read.
    #[arg(long, default_value_t = 1.0)]
    stable_s: f64,
    /// Seconds a stable file may stay unreadable before it is quarantined.
    #[arg(long, default_value_t = 30.0)]
    quarantine_after_s: f64,
    /// Rescan interval, seconds (inotify usually wakes the daemon sooner).
    #[arg(long, default_value_t = 1.0)]
    rescan_s: f64,
    #[command(flatten)]
    convert: super::convert::PipelineArgs,
}

#[derive(clap::Args, Debug)]
struct StatusArgs {
    /// State database of a `stream run`.
    #[arg(long)]
    state: PathBuf,
    /// Groups to list.
    #[arg(long, default_value_t = 10)]
    last: usize,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// `stream run`, the long-lived daemon.
    pub fn is_daemon(&self) -> bool {
        matches!(self.command, Command::Run(_))
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Run(a) => run_daemon(*a),
        Command::Status(a) => status(a),
        Command::Retry(a) => retry(a),
    }
}

/// The QA verdict written beside a group's MS (`stream run --qa`), if any.
fn qa_verdict(g: &stream::GroupRow) -> Option<&'static str> {
    let dir = g.ms_path.as_deref()?.parent()?;
    let (json, _) = crate::qa::output_paths(dir, &g.timestamp);
    crate::qa::read_verdict(&json).ok().map(|v| v.as_str())
}

/// A done group whose MS is no longer a complete MS at its path.
fn ms_missing(g: &stream::GroupRow) -> bool {
    g.state == GroupState::Done
        && g.ms_path
            .as_deref()
            .is_some_and(|p| ms::inspect(p) != ms::OutputState::Complete)
}

fn retry(a: RetryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.state.exists(),
        "no state database at {}",
        a.state.display()
    );
    let db = State::open(&a.state)?;
    let mut groups = a.groups.clone();
    if a.failed {
        groups.extend(
            db.groups_in(GroupState::Failed)?
                .into_iter()
                .map(|g| g.timestamp),
        );
    }
    let mut refused = false;
    for g in &groups {
        let Some(row) = db.group(g)? else {
            eprintln!("error: no group {g} in {}", a.state.display());
            refused = true;
            continue;
        };
        match row.state {
            GroupState::Done if !ms_missing(&row) => {
                eprintln!(
                    "error: group {g} is done and its MS is in place; remove {} first to convert it again",
                    row.ms_path.as_deref().unwrap_or(std::path::Path::new("it")).display()
                );
                refused = true;
            }
            GroupState::Converting | GroupState::Pending => {
                println!("{g}: already {}", row.state.as_str());
            }
            _ => {
                db.requeue(g, GroupState::Collecting)?;
                println!("{g}: requeued (was {})", row.state.as_str());
            }
        }
    }
    Ok(if refused {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn run_daemon(a: RunArgs) -> anyhow::Result<ExitCode> {
    let opts = super::convert::pipeline_options(&a.convert, false, false)?;
    let cfg = StreamConfig {
        state: a
            .state
            .clone()
            .unwrap_or_else(|| stream::default_state_path(&a.output)),
        input: a.input,
        output: a.output,
        tolerance_s: a.grouping.tolerance_s,
        n_subbands: a.grouping.subbands,
        incomplete_timeout_s: a.incomplete_timeout_s,
        incomplete: a.incomplete,
        max_attempts: a.max_attempts,
        jobs: a.jobs,
        queue: a.queue,
        stable_s: a.stable_s,
        quarantine_after_s: a.quarantine_after_s,
        tick: Duration::from_secs_f64(a.rescan_s.max(0.05)),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone())?;
    }
    stream::run(&cfg, opts, stop)?;
    tracing::info!("stopped cleanly");
    Ok(ExitCode::SUCCESS)
}

fn status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.state.exists(),
        "no state database at {}",
        a.state.display()
    );
    let db = State::open(&a.state)?;
    let counts = db.counts()?;
    let recent = db.recent(a.last)?;
    let quarantined = db.quarantined()?;
    if a.json {
        let counts: serde_json::Map<String, serde_json::Value> = counts
            .iter()
            .map(|(s, n)| (s.as_str().to_string(), (*n).into()))
            .collect();
        let groups: Vec<serde_json::Value> = recent
            .iter()
            .map(|g| serde_json::json!({"timestamp": g.timestamp, "state": g.state, "attempts": g.attempts, "latency_s": g.latency_s(), "error": g.error, "ms": g.ms_path, "ms_missing": ms_missing(g), "qa": qa_verdict(g)}))
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({"counts": counts, "groups": groups, "quarantined": quarantined})
            )?
        );
        return Ok(ExitCode::SUCCESS);
    }
    let line: Vec<String> = counts
        .iter()
        .map(|(s, n)| format!("{} {n}", s.as_str()))
        .collect();
    println!("{}", line.join(", "));
    for g in &recent {
        let latency = g
            .latency_s()
            .map(|l| format!("{l:.1} s"))
            .unwrap_or_else(|| "-".into());
        let qa = qa_verdict(g)
            .map(|v| format!("  QA {v}"))
            .unwrap_or_default();
        println!(
            "{}  {:<10}  attempts {}  latency {latency}{qa}",
            g.timestamp,
            g.state.as_str(),
            g.attempts
        );
        if let (Some(e), true) = (&g.error, g.state != GroupState::Done) {
            println!("    error: {e}");
        }
        if ms_missing(g) {
            println!(
                "    MS missing: {} (stream retry {} converts it again)",
                g.ms_path
                    .as_deref()
                    .unwrap_or(std::path::Path::new(""))
                    .display(),
                g.timestamp
            );
        }
    }
    for q in &quarantined {
        println!("quarantined {}: {}", q.path.display(), q.reason);
    }
    Ok(ExitCode::SUCCESS)
}
