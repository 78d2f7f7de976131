//! `validate`: is each file a usable UVH5?

use std::path::PathBuf;
use std::process::ExitCode;

use crate::uvh5;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Each file gets exactly the per-file checks `convert` and `stream run` apply
when they open it, and its first and last rows are read. Every value the
conversion depends on must be finite and in range:
  latitude            -90 .. 90 deg          longitude   -180 .. 360 deg
  altitude            -1000 .. 10000 m
  time_array          JD 2436934.5 .. 2488069.5 (1960-01-01 .. 2100-01-01), float64
  integration_time    (0, 86400] s
  freq_array          (0, 1e12] Hz, strictly ascending or descending
  channel_width       non-zero, |w| <= 1e12 Hz
  uvw_array, antenna_positions   |component| <= 1e8 m
  antenna_numbers     0 .. 65535, unique; ant_1/ant_2_array among them
  antenna_diameters   (if present) one per antenna, 0 .. 1000 m
  polarization_array  AIPS codes -8..-1, 1..4, none repeated
  phase centre        declination (extra_keywords/phase_center_dec or the
                      catalog's cat_lat) in [-pi/2, pi/2] rad, RA finite
  Nblts, Ntimes, Nbls, Nfreqs, Npols > 0 and consistent with the arrays
Visibilities that are NaN or infinite, and nsamples that are NaN, infinite or
negative, are not errors: the conversion flags them (written as 0, weight 0)
and warns.")]
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
