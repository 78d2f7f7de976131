//! `validate`: is each file a usable UVH5?

use std::path::PathBuf;
use std::process::ExitCode;

use crate::uvh5;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// UVH5 files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print one JSON object per file: {"file", "ok", "problems"}.
    #[arg(long)]
    pub json: bool,
}

/// Exit code 0 when every file is usable, 1 otherwise; one line per problem.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut all_ok = true;
    let mut report = Vec::new();
    for f in &args.files {
        let problems = uvh5::validate(f);
        all_ok &= problems.is_empty();
        if args.json {
            report.push(
                serde_json::json!({"file": f, "ok": problems.is_empty(), "problems": problems}),
            );
        } else if problems.is_empty() {
            println!("ok    {}", f.display());
        } else {
            for p in problems {
                println!("FAIL  {p}");
            }
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
