//! `convert`: one group, or every complete group of a time window, to
//! Measurement Sets.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;

use crate::astro::IersSource;
use crate::astro::SkyPos;
use crate::calibrators::Catalog;
use crate::compute::{self, BackendChoice};
use crate::convert::{self, ConvertOptions, ConvertSummary};
use crate::group;
use crate::ms::SpwLayout;
use crate::phasing::PhaseCenterMode;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  dsa110-convert convert /data/2025-01-15T12:00:00_sb*.hdf5 -o /ms
  dsa110-convert convert --input /data --timestamp 2025-01-15T12:00:00 -o /ms
  dsa110-convert convert --input /data --start 2025-01-15T00:00:00 --end 2025-01-16T00:00:00 -o /ms

Phase centres (--phase-center):
  auto      meridian for DSA-110 correlator files (extra_keywords phase_center_epoch
            = HADEC), keep for every other file; the log says which it chose.
  meridian  one field per integration, meridian_icrs_t<i>: hour angle 0 at the
            pointing declination, converted rigorously to ICRS (ERFA).
  midpoint  one field: the meridian at mid-group; every row rephased to it
            (what an imager such as WSClean wants).
  keep      the files' own phase centre (correctly labelled non-DSA files).
  RA,DEC    one field at this ICRS position: degrees (202.78,30.51) or
            sexagesimal (13:31:08.3,+30:30:33).
  NAME      one field at a calibrator of the catalog (e.g. 3C286).
In meridian mode the field where a catalog calibrator peaks in the primary
beam (Airy, 4.65 m dish, band centre) is renamed <name>_t<idx>.
In every mode UVW are recomputed from the antenna positions and visibilities
corrected by exp(-2 pi i (w_new - w_old) f / c), w_old being the w the file's
data were fringe-stopped with (its stored uvw).

One writer per output: a conversion holds an exclusive lock on
.<name>.ms.lock beside its output from before the existence check until the
MS is in place, and writes into a partial directory of its own
(.<name>.ms.<pid>-<n>.partial). A second convert (or the stream daemon) of
the same output fails with 'another process (pid N) is writing this
Measurement Set' and exit 1; the holder of the lock removes partials left by
killed runs. With --json every group is listed with status converted,
skipped or failed.")]
pub struct Args {
    /// The files of one group (any order). Or use --input.
    pub files: Vec<PathBuf>,
    /// Directory holding `<timestamp>_sbNN.hdf5` subband files.
    #[arg(long, short, conflicts_with = "files")]
    pub input: Option<PathBuf>,
    /// With --input: the group at this UTC time (`YYYY-MM-DDTHH:MM:SS`):
    /// named for it, or with its files within --tolerance-s of it.
    #[arg(long, requires = "input", conflicts_with_all = ["start", "end"])]
    pub timestamp: Option<String>,
    /// With --input: first UTC time of the window (inclusive).
    #[arg(long, requires = "input")]
    pub start: Option<String>,
    /// With --input: last UTC time of the window (inclusive).
    #[arg(long, requires = "input")]
    pub end: Option<String>,
    #[command(flatten)]
    pub grouping: super::groups::Grouping,
    /// Convert a group that is missing subbands (with a warning naming
    /// them) instead of refusing it (explicit files) or skipping it
    /// (--input).
    #[arg(long)]
    pub allow_incomplete: bool,
    /// Output directory; each group becomes `<timestamp>.ms` there.
    #[arg(long, short, default_value = ".")]
    pub output: PathBuf,
    /// Replace existing outputs. Without it a complete MS already there is
    /// skipped (exit 0), and anything else at the output path (an empty
    /// directory, a file, a broken table) is an error (exit 1), left as it
    /// is. With it the old output stays in place until the new MS replaces
    /// it in one atomic exchange.
    #[arg(long)]
    pub overwrite: bool,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print the plan and exit without writing: per group the output, the
    /// phase-centre mode and fields, the backend, the block size, and for
    /// every file and dataset whether it is read raw (parallel positioned
    /// reads) or through the HDF5 library (one thread at a time, and why),
    /// with its chunk shape and filters.
    #[arg(long)]
    pub dry_run: bool,
}

/// How each group is converted (shared by `convert` and `stream run`).
#[derive(clap::Args, Debug)]
pub struct PipelineArgs {
    /// auto | meridian | midpoint | keep | RA,DEC | a calibrator name (see below).
    #[arg(long, default_value = "auto", allow_hyphen_values = true)]
    pub phase_center: String,
    /// Calibrator catalog CSV `name,ra_deg,dec_deg,flux_jy` (default: the
    /// built-in bright VLA calibrators).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Keep the meridian field names even where a calibrator transits
    /// (default: that field becomes `<calibrator>_t<idx>`).
    #[arg(long)]
    pub no_rename_calibrator_fields: bool,
    /// Where UVW, phase corrections and separations run: gpu (WGSL via
    /// wgpu), cpu (rayon), or auto: each kernel where a short calibration
    /// at start measures it faster (a hardware GPU against the CPU; the log
    /// prints the timings).
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Bound on the pipeline's buffers (e.g. 512MiB, 2GiB).
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes)]
    pub max_memory: usize,
    /// Add MODEL_DATA (= 1+0j, CASA's unit model, as clearcal writes it),
    /// CORRECTED_DATA (= DATA) and WEIGHT_SPECTRUM (= nsamples) for
    /// calibration and imaging.
    #[arg(long)]
    pub imaging_columns: bool,
    /// Spectral windows: `subbands` (one per subband, 48 ascending
    /// channels each, window 0 the lowest band = sb15, as the DSA-110
    /// pipeline's scripts select them, e.g. spw='4~11'), or `merged` (one
    /// window of every channel). Everything else is the same in both.
    #[arg(long, value_enum, default_value = "subbands")]
    pub spw_layout: SpwLayout,
    /// TELESCOPE_NAME written in the MS (default: DSA_110 for DSA-110
    /// files, the files' own name for others). The files' OVRO_MMA is CASA's
    /// name for another array whose CASA position is wrong.
    #[arg(long, value_name = "NAME")]
    pub telescope_name: Option<String>,
    /// Threads that read, decode and phase-correct (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// HDF5 raw-data chunk cache per file (e.g. 16MiB).
    #[arg(long, default_value = "16MiB", value_parser = parse_bytes)]
    pub chunk_cache: usize,
    /// Quick-look QA of every group from the data in hand (no second read):
    /// `<group>.qa.json` and `<group>.qa.png` beside its MS, and the
    /// verdict (ok, warn, bad) in the summary (see `dsa110-convert qa
    /// --help` for the checks and thresholds).
    #[arg(long)]
    pub qa: bool,
    /// IERS finals2000A file (finals2000A.all or .data from the IERS) for
    /// UT1 - UTC and polar motion, instead of the table built in; read again
    /// whenever it changes (the daemon needs no restart).
    #[arg(long)]
    pub iers: Option<PathBuf>,
}

/// The IERS table of `--iers`, or the one built in.
pub fn iers_source(path: Option<&std::path::Path>) -> anyhow::Result<IersSource> {
    Ok(match path {
        Some(p) => IersSource::file(p)?,
        None => IersSource::embedded(),
    })
}

/// Parse a size such as `1GiB`, `512MiB`, `64M`, `1000000` into bytes.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a size like 1GiB"))?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "kb" => 1e3,
        "m" | "mib" => 1024.0 * 1024.0,
        "mb" => 1e6,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "gb" => 1e9,
        other => return Err(format!("unknown size unit '{other}' (use KiB, MiB, GiB)")),
    };
    if value <= 0.0 || !value.is_finite() {
        return Err(format!("size must be positive, got '{s}'"));
    }
    Ok((value * mult) as usize)
}

/// Parse an angle in degrees, or sexagesimal `h:m:s` (hours) / `d:m:s`.
fn parse_angle_deg(s: &str, hours: bool) -> Result<f64, String> {
    let s = s.trim();
    if !s.contains(':') {
        return s.parse().map_err(|_| format!("bad angle '{s}'"));
    }
    let negative = s.starts_with('-');
    let parts: Vec<f64> = s
        .trim_start_matches(['-', '+'])
        .split(':')
        .map(|p| p.parse::<f64>().map_err(|_| format!("bad angle '{s}'")))
        .collect::<Result<_, _>>()?;
    let [a, b, c] = parts[..] else {
        return Err(format!("bad sexagesimal angle '{s}' (want a:b:c)"));
    };
    let v = (a + b / 60.0 + c / 3600.0) * if hours { 15.0 } else { 1.0 };
    Ok(if negative { -v } else { v })
}

/// Parse `--phase-center`; names are looked up in `catalog`.
pub fn parse_phase_center(s: &str, catalog: &Catalog) -> Result<PhaseCenterMode, String> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "auto" => PhaseCenterMode::Auto,
        "meridian" => PhaseCenterMode::Meridian,
        "midpoint" => PhaseCenterMode::Midpoint,
        "keep" => PhaseCenterMode::Keep,
        _ => {
            let Some((ra, dec)) = s.split_once(',') else {
                return match catalog.find(s) {
                    Some(c) => Ok(PhaseCenterMode::Fixed {
                        name: c.name.clone(),
                        position: c.position,
                    }),
                    None => Err(format!(
                        "'{s}' is not auto, meridian, midpoint, keep, RA,DEC or a calibrator of the catalog"
                    )),
                };
            };
            let ra_deg = parse_angle_deg(ra, ra.contains(':'))?;
            let dec_deg = parse_angle_deg(dec, false)?;
            if !(-90.0..=90.0).contains(&dec_deg) {
                return Err(format!("declination {dec_deg} deg is outside [-90, 90]"));
            }
            PhaseCenterMode::Fixed {
                name: format!("J{:.4}{:+.4}", ra_deg, dec_deg),
                position: SkyPos {
                    ra_rad: ra_deg.rem_euclid(360.0).to_radians(),
                    dec_rad: dec_deg.to_radians(),
                },
            }
        }
    })
}

/// The groups to convert, each as its files.
fn groups_to_convert(args: &Args) -> anyhow::Result<Vec<Vec<PathBuf>>> {
    let Some(dir) = &args.input else {
        anyhow::ensure!(
            !args.files.is_empty(),
            "give the files of a group, or --input DIR"
        );
        check_subbands(&args.files, args)?;
        return Ok(vec![args.files.clone()]);
    };
    let (tolerance_s, n_subbands) = (args.grouping.tolerance_s, args.grouping.subbands);
    let found = match &args.timestamp {
        Some(ts) => group::groups_at(dir, ts, tolerance_s, n_subbands),
        None => group::find_groups(
            dir,
            args.start.as_deref(),
            args.end.as_deref(),
            tolerance_s,
            n_subbands,
        ),
    }
    .with_context(|| format!("looking for groups in {}", dir.display()))?;
    let mut out = Vec::new();
    for g in found {
        let mut files = g.files.clone();
        files.extend(g.duplicates.iter().cloned());
        if g.is_complete() || args.allow_incomplete {
            check_subbands(&files, args)?;
            out.push(g.files.clone());
        } else {
            tracing::warn!(
                "skipping incomplete group {}: missing {} (convert it with --allow-incomplete)",
                g.timestamp,
                subband_list(&g.missing)
            );
        }
    }
    anyhow::ensure!(
        !out.is_empty(),
        "no complete group found in {}",
        dir.display()
    );
    Ok(out)
}

/// Refuse two files of one subband (naming both), and a group missing
/// subbands unless `--allow-incomplete` (then warn, naming them). Files
/// without DSA-110 names are taken as they are.
fn check_subbands(files: &[PathBuf], args: &Args) -> anyhow::Result<()> {
    let mut seen: Vec<(u32, &PathBuf)> = Vec::new();
    for f in files {
        let Some((_, _, sb)) = group::parse_file_name(f) else {
            return Ok(());
        };
        if let Some((_, other)) = seen.iter().find(|(s, _)| *s == sb) {
            anyhow::bail!(
                "{} and {} both claim subband sb{sb:02}: remove one",
                other.display(),
                f.display()
            );
        }
        seen.push((sb, f));
    }
    let missing: Vec<u32> = (0..args.grouping.subbands as u32)
        .filter(|s| !seen.iter().any(|(sb, _)| sb == s))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    anyhow::ensure!(
        args.allow_incomplete,
        "the group of {} is missing {} of {} subbands: {} (convert what is there with --allow-incomplete)",
        files[0].display(),
        missing.len(),
        args.grouping.subbands,
        subband_list(&missing)
    );
    tracing::warn!(
        "converting an incomplete group ({} of {} subbands): missing {}",
        seen.len(),
        args.grouping.subbands,
        subband_list(&missing)
    );
    Ok(())
}

/// `sb03, sb07` for subbands 3 and 7.
fn subband_list(subbands: &[u32]) -> String {
    let names: Vec<String> = subbands.iter().map(|s| format!("sb{s:02}")).collect();
    names.join(", ")
}

/// Conversion settings from the command line; `progress` draws a bar.
pub fn pipeline_options(
    args: &PipelineArgs,
    overwrite: bool,
    progress: bool,
) -> anyhow::Result<ConvertOptions> {
    let catalog = match &args.catalog {
        Some(path) => Catalog::from_csv(path)?,
        None => Catalog::builtin(),
    };
    let phase_center = parse_phase_center(&args.phase_center, &catalog)
        .map_err(|e| anyhow::anyhow!("--phase-center: {e}"))?;
    if let Some(n) = args.workers {
        // The one pool every stage's parallel work runs in; set once.
        if rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .is_err()
        {
            tracing::debug!("--workers: the thread pool was already running");
        }
    }
    let t = std::time::Instant::now();
    let backend = compute::select(args.backend)?;
    tracing::info!(
        "backend {} ({}) ready in {:.2} s",
        backend.name(),
        backend.description(),
        t.elapsed().as_secs_f64()
    );
    Ok(ConvertOptions {
        phase_center,
        backend: Arc::from(backend),
        max_memory_bytes: args.max_memory,
        imaging_columns: args.imaging_columns,
        spw_layout: args.spw_layout,
        telescope_name: args.telescope_name.clone(),
        overwrite,
        chunk_cache_bytes: args.chunk_cache,
        progress,
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        calibrators: (!args.no_rename_calibrator_fields).then(|| Arc::new(catalog)),
        iers: Arc::new(iers_source(args.iers.as_deref())?),
        qa: args.qa,
    })
}

/// Human summary of one conversion.
pub fn print_summary(s: &ConvertSummary) {
    let gb = s.bytes_read as f64 / 1e9;
    let o = &s.outline;
    println!("wrote {}", o.ms_path.display());
    print_outline(o);
    println!(
        "  read {:.2} s | compute {:.2} s | write {:.2} s | total {:.2} s (read overlaps the rest)",
        s.seconds_read, s.seconds_compute, s.seconds_write, s.seconds_total
    );
    println!(
        "  {gb:.2} GB in, {:.2} GB/s end to end",
        gb / s.seconds_total.max(1e-9)
    );
    if let Some(qa) = &s.qa {
        println!("  QA: {qa}");
    }
}

/// The MS's shape and phase centres, for the summary and the dry run.
fn print_outline(o: &convert::Outline) {
    let names: Vec<&str> = o.fields.iter().map(|f| f.name.as_str()).collect();
    println!(
        "  {} baseline-times x {} channels in {} spectral window(s) x {} pols; backend {}; blocks of {} rows",
        o.rows, o.channels, o.spectral_windows, o.polarizations, o.backend, o.block_rows
    );
    println!(
        "  phase centres: {}, {} field(s): {}",
        o.phase_center_mode,
        names.len(),
        names.join(", ")
    );
}

/// What became of one group, for `--json`: `converted` (with the
/// summary), `skipped` (a complete MS is already there) or `failed` (with
/// the error: bad input, another process writing the output, something at
/// the output path that is not a complete MS).
#[derive(serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Outcome {
    Converted(ConvertSummary),
    Skipped { ms_path: PathBuf, reason: String },
    Failed { ms_path: PathBuf, error: String },
}

/// Print what `convert` would do with each group.
fn print_dry_runs(
    groups: &[Vec<PathBuf>],
    args: &Args,
    opts: &ConvertOptions,
) -> anyhow::Result<()> {
    let mut plans = Vec::new();
    for files in groups {
        let out = args.output.join(convert::output_name(files));
        plans.push(convert::dry_run(files, &out, opts)?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plans)?);
        return Ok(());
    }
    for p in &plans {
        println!("{} (dry run: nothing written)", p.outline.ms_path.display());
        print_outline(&p.outline);
        for f in &p.files {
            println!("  {}", f.path.display());
            for d in &f.datasets {
                let chunk = d
                    .chunk
                    .as_ref()
                    .map_or("contiguous".to_string(), |c| format!("chunks {c:?}"));
                let filters = if d.filters.is_empty() {
                    "no filter".to_string()
                } else {
                    d.filters.join("+")
                };
                let path = match (&d.path, &d.why_library) {
                    (crate::uvh5::ReadPath::Raw, _) => "raw".to_string(),
                    (_, Some(why)) => format!("library ({why})"),
                    (_, None) => "library".to_string(),
                };
                println!("    {:<14} {chunk}, {filters}: {path}", d.name);
            }
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Bad options are reported before the inputs are looked at.
    let opts = pipeline_options(&args.pipeline, args.overwrite, !args.json)?;
    let groups = groups_to_convert(&args)?;
    if args.dry_run {
        print_dry_runs(&groups, &args, &opts)?;
        return Ok(ExitCode::SUCCESS);
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create output directory {}", args.output.display()))?;
    let mut outcomes = Vec::new();
    for files in &groups {
        let out = args.output.join(convert::output_name(files));
        let outcome = match convert::convert_group(files, &out, &opts) {
            Ok(s) => {
                if !args.json {
                    print_summary(&s);
                }
                Outcome::Converted(s)
            }
            // Only a complete MS counts as done (checked under the output's lock).
            Err(convert::ConvertError::Ms(crate::ms::MsError::Exists(_))) => {
                tracing::info!("{} exists, skipped (use --overwrite)", out.display());
                Outcome::Skipped {
                    ms_path: out,
                    reason: "a complete Measurement Set is already there".into(),
                }
            }
            Err(e) => {
                if groups.len() == 1 && !args.json {
                    return Err(e.into());
                }
                tracing::error!("{}: {e}", out.display());
                Outcome::Failed {
                    ms_path: out,
                    error: e.to_string(),
                }
            }
        };
        outcomes.push(outcome);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcomes)?);
    }
    let failed = outcomes.iter().any(|o| matches!(o, Outcome::Failed { .. }));
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_binary_and_decimal_units() {
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("1 parsec").is_err());
        assert!(parse_bytes("-5M").is_err());
    }

    #[test]
    fn phase_centres_parse_in_degrees_and_sexagesimal() {
        let cat = Catalog::builtin();
        let parse = |s| parse_phase_center(s, &cat);
        assert_eq!(parse("auto").unwrap(), PhaseCenterMode::Auto);
        assert_eq!(parse("Midpoint").unwrap(), PhaseCenterMode::Midpoint);
        let PhaseCenterMode::Fixed { position, .. } = parse("13:31:08.288,+30:30:32.96").unwrap()
        else {
            panic!("not fixed")
        };
        assert!((position.ra_rad.to_degrees() - 202.784_533).abs() < 1e-6);
        assert!((position.dec_rad.to_degrees() - 30.509_155_6).abs() < 1e-6);
        let PhaseCenterMode::Fixed { position, .. } = parse("-10.5,-45.25").unwrap() else {
            panic!("not fixed")
        };
        assert!((position.ra_rad.to_degrees() - 349.5).abs() < 1e-12);
        assert!((position.dec_rad.to_degrees() + 45.25).abs() < 1e-12);
        assert!(parse("10,95").is_err());
        assert!(parse("somewhere").is_err());
        let PhaseCenterMode::Fixed { name, position } = parse("3C286").unwrap() else {
            panic!("not fixed")
        };
        assert_eq!(name, "3C286");
        assert!((position.dec_rad.to_degrees() - 30.509155).abs() < 1e-6);
    }
}
