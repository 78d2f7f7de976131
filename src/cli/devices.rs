//! `devices`: the GPU adapters wgpu sees.

use std::process::ExitCode;

use crate::compute::gpu;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
The phase correction runs on every adapter (f32 only). UVW, separations and
the cross-match need SHADER_F64 (f64 add/multiply: metre-accurate UVW, and
coordinate differences before rounding to f32); without it those run on the
CPU. `--backend auto` measures a hardware GPU against the CPU on a block and
runs each kernel on the faster; `--backend gpu` also accepts software
adapters such as Mesa's lavapipe (package mesa-vulkan-drivers), which the
tests use. Backends probed: Vulkan and OpenGL on Linux, Metal on macOS.
Driver messages printed while probing go to the debug log (-v).")]
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
        println!("no GPU adapter found (install a Vulkan or OpenGL driver; mesa-vulkan-drivers gives a software one)");
    }
    for a in &adapters {
        println!("{} [{}; {}]", a.name, a.backend, a.device_type);
        println!("  driver:                    {}", a.driver);
        println!(
            "  SHADER_F64:                {}",
            if a.shader_f64 { "yes" } else { "no" }
        );
        println!("  kernels on this adapter:   {}", a.kernels.describe());
        println!(
            "  timestamp queries:         {}",
            if a.timestamp_query {
                "yes (kernel times in bench)"
            } else {
                "no"
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
