//! `qa`: quick-look QA of groups, from their UVH5 files or a Measurement
//! Set: `<group>.qa.png` (the dashboard), `<group>.qa.json` (statistics,
//! problems, verdict) and one verdict line per group on stdout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::astro::{Astrometer, Iers, Site};
use crate::calibrators::{self, Catalog};
use crate::compute::cpu::CpuBackend;
use crate::convert;
use crate::group;
use crate::phasing::{PhaseCenterMode, Plan};
use crate::qa::{self, CalibratorField, QaReport};
use crate::uvh5::{Header, DEFAULT_CHUNK_CACHE_BYTES};

#[derive(clap::Args, Debug)]
#[command(after_help = after_help())]
pub struct Args {
    /// The UVH5 files of one group (any order), or Measurement Sets (one
    /// group each).
    pub inputs: Vec<PathBuf>,
    /// Directory of UVH5 files; with --timestamp, QA of the group at that
    /// time (named for it, or with its files within --tolerance-s of it).
    #[arg(long, requires = "timestamp", conflicts_with = "inputs")]
    pub input: Option<PathBuf>,
    /// `YYYY-MM-DDTHH:MM:SS` of the group in --input.
    #[arg(long, requires = "input")]
    pub timestamp: Option<String>,
    #[command(flatten)]
    pub grouping: super::groups::Grouping,
    /// Directory for the PNG and JSON (default: beside each Measurement
    /// Set; the current directory for UVH5 files).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Calibrator catalog CSV `name,ra_deg,dec_deg,flux_jy` used to find
    /// the calibrator field of UVH5 files (default: the built-in bright VLA
    /// calibrators); a Measurement Set names it itself (`<name>_t<idx>`).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
}

/// Examples, outputs, and the thresholds of the verdict.
fn after_help() -> String {
    format!(
        "Examples:
  dsa110-convert qa /data/2025-01-15T12:00:00_sb*.hdf5 -o /qa
  dsa110-convert qa --input /data --timestamp 2025-01-15T12:00:00 -o /qa
  dsa110-convert qa /ms/2025-01-15T12:00:00.ms

Each group gets <group>.qa.png (dashboard: autocorrelation power per antenna,
cross-amplitude waterfall, flagged fraction per antenna and subband, flagged
and NaN fraction per subband, calibrator amplitude and phase, nsamples deficit
per integration, the problems) and <group>.qa.json (schema in docs/qa.md),
and one line on stdout: <group> <verdict>[: problems].

{}",
        qa::verdict::HELP
    )
}

/// Whether `path` is a casacore table (a Measurement Set directory).
fn is_table(path: &Path) -> bool {
    path.join("table.dat").is_file()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut reports = Vec::new();
    if let (Some(dir), Some(ts)) = (&args.input, &args.timestamp) {
        let files = group_in(dir, ts, args.grouping)?;
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
        reports.push((uvh5_group(&files, &args)?, out));
    } else if args.inputs.is_empty() {
        anyhow::bail!("give UVH5 files, Measurement Sets, or --input DIR --timestamp T");
    } else if args.inputs.iter().all(|p| is_table(p)) {
        for ms in &args.inputs {
            let name = ms
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("group")
                .to_string();
            let report = qa::accumulate_ms(ms, &name)?;
            let out = args.out.clone().unwrap_or_else(|| {
                ms.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
            });
            reports.push((report, out));
        }
    } else if let Some(ms) = args.inputs.iter().find(|p| is_table(p)) {
        anyhow::bail!(
            "{} is a Measurement Set: give either Measurement Sets or the UVH5 files of one group",
            ms.display()
        );
    } else {
        let out = args.out.clone().unwrap_or_else(|| PathBuf::from("."));
        reports.push((uvh5_group(&args.inputs, &args)?, out));
    }
    for (report, out) in &reports {
        std::fs::create_dir_all(out)
            .with_context(|| format!("cannot create output directory {}", out.display()))?;
        let (json, png) = qa::write_outputs(report, out)?;
        tracing::info!("wrote {} and {}", json.display(), png.display());
        println!("{} {}", report.group, report.summary);
    }
    Ok(ExitCode::SUCCESS)
}

/// The files of the group in `dir` at `timestamp`
/// ([`group::groups_at`], as `convert --input --timestamp` picks it).
fn group_in(
    dir: &Path,
    timestamp: &str,
    grouping: super::groups::Grouping,
) -> anyhow::Result<Vec<PathBuf>> {
    let g = group::groups_at(dir, timestamp, grouping.tolerance_s, grouping.subbands)?
        .into_iter()
        .next()
        .with_context(|| {
            format!(
                "no group at {timestamp} (within {} s) in {}",
                grouping.tolerance_s,
                dir.display()
            )
        })?;
    if !g.is_complete() {
        tracing::warn!(
            "group {}: subbands {:?} missing; QA reports them missing",
            g.timestamp,
            g.missing
        );
    }
    Ok(g.files)
}

/// QA of the UVH5 files of one group.
fn uvh5_group(files: &[PathBuf], args: &Args) -> anyhow::Result<QaReport> {
    let (opened, group) = group::open_files(files, DEFAULT_CHUNK_CACHE_BYTES)?;
    let name = convert::output_name(files);
    let name = name.strip_suffix(".ms").unwrap_or(&name);
    let mut shape = qa::group_shape(&group, name);
    let catalog = match &args.catalog {
        Some(path) => Catalog::from_csv(path)?,
        None => Catalog::builtin(),
    };
    shape.calibrator = calibrator_field(group.header(), group.freq_hz(), &catalog)?;
    Ok(qa::accumulate_group(&group, opened, &shape)?)
}

/// The integration where a catalog calibrator that transits during the
/// group peaks in the beam, as `convert` names it in meridian mode
/// (brightest first); `None` for files not phased to the meridian.
fn calibrator_field(
    header: &Header,
    freq_hz: &[f64],
    catalog: &Catalog,
) -> anyhow::Result<Option<CalibratorField>> {
    let site = Site::from_degrees(header.latitude_deg, header.longitude_deg, header.altitude_m);
    let astro = Astrometer::new(site, Iers::embedded());
    let plan = Plan::new(header, &PhaseCenterMode::Auto, &astro)?;
    if plan.mode_name != "meridian" || freq_hz.is_empty() {
        return Ok(None);
    }
    let positions: Vec<_> = plan.fields.iter().map(|f| f.position).collect();
    let centre_hz = 0.5 * (freq_hz[0] + freq_hz[freq_hz.len() - 1]);
    let integration_s = header.integration_time_s.first().copied().unwrap_or(0.0);
    let report =
        calibrators::transiting(&CpuBackend, &positions, catalog, centre_hz, integration_s)?;
    Ok(report.in_beam.first().map(|s| CalibratorField {
        name: s.name.clone(),
        integration: s.peak_field,
    }))
}
