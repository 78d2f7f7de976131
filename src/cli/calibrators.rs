//! `calibrators`: which catalog sources a group (or a declination strip over
//! a time range) sees, their beam-weighted flux and where each transits.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::astro::Astrometer;
use crate::calibrators::{self, Catalog};
use crate::compute::{self, BackendChoice};
use crate::telescope;
use crate::uvh5::{self, PhaseCenter};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Each field is the meridian (hour angle 0) at the pointing declination at one
time, in ICRS. A source counts when it lies within the first null of the
primary beam (Airy pattern of a 4.65 m dish at the band centre, 3.2 deg at
1.405 GHz); its weighted flux is flux x beam power at its peak field.

Examples:
  dsa110-convert calibrators /data/2025-01-15T12:00:00_sb00.hdf5
  dsa110-convert calibrators --dec-deg 30.5 --start 2025-01-15T00:00:00 --end 2025-01-16T00:00:00")]
pub struct Args {
    /// A file of the group (any subband): its times and pointing declination
    /// are used.
    #[arg(conflicts_with_all = ["dec_deg", "start", "end"])]
    pub file: Option<PathBuf>,
    /// Pointing declination, degrees (with --start and --end).
    #[arg(long, allow_hyphen_values = true, requires_all = ["start", "end"])]
    pub dec_deg: Option<f64>,
    /// First UTC time, `YYYY-MM-DDTHH:MM:SS`.
    #[arg(long)]
    pub start: Option<String>,
    /// Last UTC time, `YYYY-MM-DDTHH:MM:SS`.
    #[arg(long)]
    pub end: Option<String>,
    /// Spacing of the fields over the time range, seconds (default: one
    /// DSA-110 integration).
    #[arg(long, default_value_t = telescope::INTEGRATION_TIME_S)]
    pub step_s: f64,
    /// Band centre for the beam, Hz.
    #[arg(long, default_value_t = 1.405e9)]
    pub freq_hz: f64,
    /// Catalog CSV `name,ra_deg,dec_deg,flux_jy` (default: built-in VLA calibrators).
    #[arg(long)]
    pub catalog: Option<PathBuf>,
    /// Where the cross-match runs.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// IERS finals2000A file for UT1 - UTC and polar motion (default: the
    /// table built in).
    #[arg(long)]
    pub iers: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let catalog = match &args.catalog {
        Some(p) => Catalog::from_csv(p)?,
        None => Catalog::builtin(),
    };
    let iers = super::convert::iers_source(args.iers.as_deref())?.table()?;
    let astro = Astrometer::new(telescope::array_site(), iers);
    let (dec_rad, times_jd) = match &args.file {
        Some(path) => {
            let h = uvh5::read_header(path)?;
            let PhaseCenter::DsaMeridian { dec_rad } = h.phase_center else {
                anyhow::bail!(
                    "{}: not a DSA-110 correlator file (no meridian pointing declination)",
                    path.display()
                );
            };
            let mut t = h.time_jd.clone();
            t.sort_by(f64::total_cmp);
            t.dedup();
            (dec_rad, t)
        }
        None => {
            let dec = args
                .dec_deg
                .context("give a file of a group, or --dec-deg with --start and --end")?;
            let start = super::simulate::parse_utc_jd(args.start.as_deref().unwrap_or_default())?;
            let end = super::simulate::parse_utc_jd(args.end.as_deref().unwrap_or_default())?;
            anyhow::ensure!(end >= start, "--end is before --start");
            anyhow::ensure!(args.step_s > 0.0, "--step-s must be positive");
            let n = ((end - start) * 86_400.0 / args.step_s).floor() as usize + 1;
            (
                dec.to_radians(),
                (0..n)
                    .map(|i| start + i as f64 * args.step_s / 86_400.0)
                    .collect(),
            )
        }
    };
    let fields: Vec<_> = times_jd
        .iter()
        .map(|&t| astro.meridian_icrs(t, dec_rad))
        .collect();
    let backend = compute::select(args.backend)?;
    let report = calibrators::beam_report(
        backend.as_ref(),
        &fields,
        &catalog,
        telescope::DISH_DIAMETER_M,
        args.freq_hz,
    )?;
    if args.json {
        let rows: Vec<_> = report
            .in_beam
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "flux_jy": s.flux_jy,
                    "peak_field": s.peak_field,
                    "peak_time_utc": crate::sim::format_timestamp(times_jd[s.peak_field]),
                    "separation_deg": s.peak_separation_rad.to_degrees(),
                    "weighted_flux_jy": s.peak_weighted_flux_jy,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if report.in_beam.is_empty() {
        println!("no catalog source within the primary beam's first null");
    } else {
        println!(
            "{:<12} {:>9} {:>6} {:>20} {:>9} {:>12}",
            "name", "flux_Jy", "field", "peak (UTC)", "sep_deg", "weighted_Jy"
        );
        for s in &report.in_beam {
            println!(
                "{:<12} {:>9.2} {:>6} {:>20} {:>9.3} {:>12.3}",
                s.name,
                s.flux_jy,
                s.peak_field,
                crate::sim::format_timestamp(times_jd[s.peak_field]),
                s.peak_separation_rad.to_degrees(),
                s.peak_weighted_flux_jy
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
