//! `simulate`: write a synthetic DSA-110 group in the correlator's layout.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::astro::SkyPos;
use crate::sim::{self, FileLayout, SimConfig, SimFaults, SimSource};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory to write the 16 files `<timestamp>_sbNN.hdf5` into (created
    /// if missing).
    #[arg(long, short)]
    pub out: PathBuf,
    /// Antennas with data (2..117): N stations spread over both arms and the
    /// outriggers, in a fixed non-monotonic correlator input order (see
    /// `sim::antennas_with_data`).
    #[arg(long, default_value_t = 96)]
    pub n_ants: usize,
    /// Integrations of 12.885 s in the group.
    #[arg(long, default_value_t = 24)]
    pub n_times: usize,
    /// Subband files (sb00 holds the highest frequencies).
    #[arg(long, default_value_t = 16)]
    pub subbands: usize,
    /// Channels per subband file, descending in each file: a divisor of 384
    /// (48: 244.140625 kHz each, as the telescope writes; fewer channels are
    /// wider and cover the same band).
    #[arg(long, default_value_t = 48)]
    pub channels: usize,
    /// Pointing declination, degrees. Default: the first source's declination.
    #[arg(long, allow_hyphen_values = true)]
    pub dec_deg: Option<f64>,
    /// UTC of the first integration's midpoint, `YYYY-MM-DDTHH:MM:SS[.fff]`.
    /// Default: the first source transits at mid-group on or after 2025-01-15.
    #[arg(long)]
    pub start: Option<String>,
    /// A point source `NAME,RA_DEG,DEC_DEG,FLUX_JY` (ICRS, apparent flux);
    /// repeat for several. Default: 3C286 with 14.9 Jy.
    #[arg(long = "source", value_parser = parse_source)]
    pub sources: Vec<SimSource>,
    /// Gaussian noise per real and imaginary part, Jy (0: none).
    #[arg(long, default_value_t = 0.0)]
    pub noise_jy: f64,
    /// Gzip level 1-9 for the data chunks (default: uncompressed, as the
    /// correlator writes).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub gzip: Option<u8>,
    /// Seed of the noise generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Layout of the per-row datasets: `correlator` as the telescope's
    /// writer (empty resizable datasets, h5py's chunk shapes, one
    /// integration appended at a time), or the simulator's old
    /// `whole-integration` layout for comparisons.
    #[arg(long, value_enum, default_value = "correlator")]
    pub layout: FileLayout,
    /// Make the last integration partial: only DUMPS (1..95) of its 96
    /// correlator dumps averaged (nsamples DUMPS, and some NaN visibilities
    /// with nsamples 0).
    #[arg(long, value_name = "DUMPS")]
    pub partial_last: Option<u32>,
    /// Inject a dead antenna (for testing `qa`): every baseline of antenna
    /// number N (0-based as in the files' ant_1_array: station DSA-(N+1);
    /// one of the antennas with data) scaled by 1e-3.
    #[arg(long, value_name = "N")]
    pub dead_antenna: Option<u32>,
    /// Inject a subband of NaNs (for testing `qa`): every visibility of
    /// file sbNN NaN, with nsamples 0, as when a correlator node drops out.
    #[arg(long, value_name = "NN")]
    pub nan_subband: Option<usize>,
    /// Inject RFI (for testing `qa`): 500 Jy added to every row of channel
    /// CH of the whole band, counted in ascending frequency (0 = the lowest
    /// channel, in the highest-numbered subband). Repeat for several.
    #[arg(long = "rfi-channel", value_name = "CH")]
    pub rfi_channels: Vec<usize>,
}

fn parse_source(s: &str) -> Result<SimSource, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [name, ra, dec, flux] = parts[..] else {
        return Err(format!("expected NAME,RA_DEG,DEC_DEG,FLUX_JY, got '{s}'"));
    };
    let num = |v: &str, what: &str| {
        v.parse::<f64>()
            .map_err(|_| format!("bad {what} '{v}' in '{s}'"))
    };
    Ok(SimSource {
        name: name.to_string(),
        position: SkyPos {
            ra_rad: num(ra, "RA")?.to_radians(),
            dec_rad: num(dec, "declination")?.to_radians(),
        },
        flux_jy: num(flux, "flux")?,
    })
}

/// Parse `YYYY-MM-DDTHH:MM:SS[.fff]` (UTC) into a Julian Date.
pub fn parse_utc_jd(s: &str) -> anyhow::Result<f64> {
    let t = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .with_context(|| format!("'{s}' is not a UTC time like 2025-01-15T12:00:00"))?;
    let unix_s = t.and_utc().timestamp_micros() as f64 * 1e-6;
    Ok(unix_s / 86_400.0 + 2_440_587.5)
}

impl Args {
    pub fn config(&self) -> anyhow::Result<SimConfig> {
        let mut cfg = SimConfig {
            n_ants: self.n_ants,
            n_times: self.n_times,
            n_subbands: self.subbands,
            chans_per_subband: self.channels,
            noise_jy: self.noise_jy,
            gzip_level: self.gzip,
            seed: self.seed,
            layout: self.layout,
            partial_last_dumps: self.partial_last,
            faults: SimFaults {
                dead_antenna: self.dead_antenna,
                nan_subband: self.nan_subband,
                rfi_channels: self.rfi_channels.clone(),
            },
            ..SimConfig::default()
        };
        if !self.sources.is_empty() {
            cfg.sources = self.sources.clone();
            cfg.pointing_dec_rad = cfg.sources[0].position.dec_rad;
        }
        if let Some(dec) = self.dec_deg {
            cfg.pointing_dec_rad = dec.to_radians();
        }
        cfg.start_time_jd = self.start.as_deref().map(parse_utc_jd).transpose()?;
        Ok(cfg)
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = args.config()?;
    let t0 = std::time::Instant::now();
    let (group, paths) = sim::simulate_group(&cfg, &args.out)?;
    tracing::info!(
        "wrote {} files for group {} ({} antennas, {} integrations, {} channels) in {:.1} s",
        paths.len(),
        group.timestamp,
        cfg.n_ants,
        cfg.n_times,
        cfg.n_subbands * cfg.chans_per_subband,
        t0.elapsed().as_secs_f64()
    );
    for p in &paths {
        println!("{}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
