//! `demo`: simulate a full-size DSA-110 group, convert it, say what happened.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::compute::BackendChoice;
use crate::convert;
use crate::sim::{self, SimConfig};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Working directory for the simulated files and the Measurement Set.
    #[arg(long, default_value = "target/demo")]
    pub workdir: PathBuf,
    /// Compute backend: auto, gpu or cpu.
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// Antennas (the default 96 is the full-size group of today's array).
    #[arg(long, default_value_t = 96)]
    pub n_ants: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let input = args.workdir.join("hdf5");
    let output = args.workdir.join("ms");
    if input.exists() {
        std::fs::remove_dir_all(&input).with_context(|| format!("cleaning {}", input.display()))?;
    }
    let cfg = SimConfig {
        n_ants: args.n_ants,
        noise_jy: 0.1,
        ..SimConfig::default()
    };
    let cal = &cfg.sources[0];
    println!(
        "1. simulating a DSA-110 group: {} antennas, {} integrations of 12.885 s, {} subbands x {} channels, \
         {} ({:.1} Jy) transiting mid-group at declination {:.3} deg",
        cfg.n_ants,
        cfg.n_times,
        cfg.n_subbands,
        cfg.chans_per_subband,
        cal.name,
        cal.flux_jy,
        cfg.pointing_dec_rad.to_degrees()
    );
    let t = std::time::Instant::now();
    let (group, files) = sim::simulate_group(&cfg, &input)?;
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    println!(
        "   wrote {} files ({:.2} GB) for group {} in {:.1} s",
        files.len(),
        bytes as f64 / 1e9,
        group.timestamp,
        t.elapsed().as_secs_f64()
    );

    println!("2. converting (phase centres: meridian, one field per integration)");
    let pipeline = super::convert::PipelineArgs {
        phase_center: "meridian".into(),
        catalog: None,
        no_rename_calibrator_fields: false,
        backend: args.backend,
        max_memory: 1 << 30,
        imaging_columns: false,
        spw_layout: crate::ms::SpwLayout::Subbands,
        telescope_name: None,
        workers: None,
        chunk_cache: 16 << 20,
        iers: None,
        qa: true,
    };
    let opts = super::convert::pipeline_options(&pipeline, true, true)?;
    std::fs::create_dir_all(&output)?;
    let out = output.join(convert::output_name(&files));
    let summary = convert::convert_group(&files, &out, &opts)?;
    super::convert::print_summary(&summary);
    let fields = &summary.outline.fields;
    let (first, last) = (&fields[0], &fields[fields.len() - 1]);
    println!(
        "3. fields {} .. {}: RA {:.4} .. {:.4} deg, Dec {:.4} deg (ICRS)",
        first.name,
        last.name,
        first.position.ra_rad.to_degrees(),
        last.position.ra_rad.to_degrees(),
        first.position.dec_rad.to_degrees()
    );
    Ok(ExitCode::SUCCESS)
}
