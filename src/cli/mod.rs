//! Command-line front end: one file per subcommand; the library does the work.
//! Errors are typed in the library and rendered for humans here.

mod batch;
mod bench;
mod calibrators;
mod convert;
mod demo;
mod devices;
mod groups;
mod qa;
mod simulate;
mod stream;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Convert DSA-110 UVH5 subband groups into CASA Measurement Sets.
///
/// Every ~5 minutes DSA-110 writes 16 UVH5 files (one per subband, 48
/// channels each). This tool joins them along frequency, computes rigorous
/// meridian phase centres, recomputes UVW, corrects phases on the GPU or
/// the CPU, and writes one Measurement Set.
#[derive(Parser, Debug)]
#[command(name = "dsa110-convert", version, propagate_version = true)]
pub struct Cli {
    /// More log output (-v: debug, -vv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only errors on stderr; no progress bars.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Convert subband groups into Measurement Sets.
    Convert(convert::Args),
    /// Measure conversion on this node: each backend, stages, peak memory, I/O floor.
    Bench(bench::Args),
    /// List the catalog calibrators in the beam of a group or a declination strip.
    Calibrators(calibrators::Args),
    /// Simulate a full-size group, convert it and print what happened.
    Demo(demo::Args),
    /// Check that files are usable UVH5 (one line per problem; exit 1 if any).
    Validate(validate::Args),
    /// Find subband groups in a directory by the timestamps in file names.
    Groups(groups::Args),
    /// List the GPU adapters wgpu can see, with their limits and features.
    Devices(devices::Args),
    /// The streaming daemon for the live feed (`stream run`), and its `status`.
    Stream(stream::Args),
    /// Write a synthetic DSA-110 group (16 UVH5 files) in the correlator's layout.
    Simulate(simulate::Args),
    /// Reprocess an archive as a Slurm job array: plan, run, submit, status.
    Batch(batch::Args),
    /// Quick-look QA of groups: a dashboard PNG and a JSON verdict each.
    Qa(qa::Args),
}

/// Parse the command line, set up logging, run the subcommand and turn any
/// error into a message on stderr and a non-zero exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    // Output piped into `head` and closed early ends the process quietly,
    // as any Unix filter does: Rust ignores SIGPIPE, which turns the next
    // print into a panic. The daemon keeps ignoring it (a closed log pipe
    // must not stop it; it prints nothing on stdout).
    if !matches!(&cli.command, Command::Stream(a) if a.is_daemon()) {
        // SAFETY: restoring a signal's default disposition, before any thread exists.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    let result = match cli.command {
        Command::Convert(args) => convert::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Calibrators(args) => calibrators::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Validate(args) => validate::run(args),
        Command::Groups(args) => groups::run(args),
        Command::Devices(args) => devices::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Stream(args) => stream::run(args),
        Command::Batch(args) => batch::run(args),
        Command::Qa(args) => qa::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(verbose: u8, quiet: bool) {
    let default = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("DSA110_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
