//! `groups`: which subband files belong together, and what is missing.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::group::find_groups;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Files are named YYYY-MM-DDTHH:MM:SS_sbNN.hdf5. The live system may stamp the
subbands of one group up to about a minute apart, so a file joins a group
when the group's time span with it is at most twice --tolerance-s: every
file lies within --tolerance-s of the group's own (middle) time. A group is
named for its sb00 file's timestamp (the earliest when sb00 is missing).")]
pub struct Args {
    /// Directory holding the subband files.
    pub dir: PathBuf,
    /// Only groups starting at or after this UTC time (YYYY-MM-DDTHH:MM:SS).
    #[arg(long)]
    pub start: Option<String>,
    /// Only groups starting at or before this UTC time (YYYY-MM-DDTHH:MM:SS).
    #[arg(long)]
    pub end: Option<String>,
    #[command(flatten)]
    pub grouping: Grouping,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// The grouping rule's two numbers, the same for every command that groups
/// files (`groups`, `convert --input`, `batch`, `stream`, `qa --input`).
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct Grouping {
    /// Subband files within this many seconds of their group's own time
    /// (the middle of its files' stamps) belong to it.
    #[arg(long, default_value_t = 60.0)]
    pub tolerance_s: f64,
    /// Subbands in a complete group (sb00 .. sbNN-1).
    #[arg(long, default_value_t = 16)]
    pub subbands: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let groups = find_groups(
        &args.dir,
        args.start.as_deref(),
        args.end.as_deref(),
        args.grouping.tolerance_s,
        args.grouping.subbands,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&groups)?);
        return Ok(ExitCode::SUCCESS);
    }
    let complete = groups.iter().filter(|g| g.is_complete()).count();
    for g in &groups {
        if g.is_complete() {
            println!("{}  complete    {} files", g.timestamp, g.files.len());
        } else {
            let missing: Vec<String> = g.missing.iter().map(|s| format!("sb{s:02}")).collect();
            println!(
                "{}  INCOMPLETE  {} files, missing {}",
                g.timestamp,
                g.files.len(),
                missing.join(" ")
            );
        }
        for d in &g.duplicates {
            println!("    duplicate subband ignored: {}", d.display());
        }
    }
    println!(
        "{} groups: {} complete, {} incomplete",
        groups.len(),
        complete,
        groups.len() - complete
    );
    Ok(ExitCode::SUCCESS)
}
