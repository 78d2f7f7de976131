//! `devices`: the GPU adapters wgpu sees.

use std::process::ExitCode;

use crate::compute::gpu;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
The GPU backend needs SHADER_F64 (f64 add/multiply in shaders: per-row UVW and
w differences are computed in f64). `--backend auto` uses a hardware GPU with
it and the CPU otherwise; `--backend gpu` also accepts software adapters such
as Mesa's lavapipe (package mesa-vulkan-drivers), which the tests use.")]
pub struct Args {
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let adapters = gpu::list_adapters();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&adapters)?);
        return Ok(ExitCode::SUCCESS);
    }
    if adapters.is_empty() {
        println!("no GPU adapter found (install a Vulkan driver; mesa-vulkan-drivers gives a software one)");
    }
    for a in &adapters {
        println!("{} [{}; {}]", a.name, a.backend, a.device_type);
        println!("  driver:                    {}", a.driver);
        println!(
            "  SHADER_F64:                {}",
            if a.shader_f64 {
                "yes"
            } else {
                "no (unusable here)"
            }
        );
        println!(
            "  max storage binding:       {} MiB",
            a.max_storage_buffer_binding_size >> 20
        );
        println!(
            "  max buffer:                {} MiB",
            a.max_buffer_size >> 20
        );
        println!(
            "  max workgroups/dimension:  {}",
            a.max_compute_workgroups_per_dimension
        );
        println!(
            "  max invocations/workgroup: {}",
            a.max_compute_invocations_per_workgroup
        );
    }
    Ok(ExitCode::SUCCESS)
}
