//! `bench`: measure conversion on this node — each kernel on the GPU
//! (kernel time from GPU timestamps, apart from transfers) and the CPU,
//! then each backend end to end, the stages, peak memory, and the raw I/O
//! floor of the same disk, in one run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::compute::auto::BlockShape;
use crate::compute::cpu::CpuBackend;
use crate::compute::gpu::{AdapterPolicy, GpuBackend, GpuTimings};
use crate::compute::{sample, Backend};
use crate::sim::{self, SimConfig};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
First times each kernel on one pipeline block (768 channels x 2 pols x
--block-rows rows): on the GPU the whole call and, where the adapter has
timestamp queries, the kernel alone (GB/s of device memory the kernel reads
and writes), on the CPU the whole call. Then simulates a group (full size
by default: 96 antennas, 24 integrations, 16 x 48 channels, 2.3 GB in the
correlator's layout) and converts it with the CPU and, when an adapter
exists, the GPU backend, each in a child process whose peak RSS is
measured; right after each conversion it times the raw I/O floor: reading
the inputs plus writing (and syncing) as many bytes as the MS holds, on the
same disk. Each writes new files in <WORKDIR>/ms (about 7 GB with the GPU),
deleted once all are measured.

With --latency it measures the streaming daemon instead: it starts
`stream run` on an empty directory, copies the group's subbands in, one
every --spread-s / 15 seconds, then the last one, and times the last copy's
close to the MS appearing (the daemon's own figure, from its state
database, is printed too).")]
pub struct Args {
    /// Working directory (on the disk to measure).
    #[arg(long, default_value = "target/bench")]
    pub workdir: PathBuf,
    /// Antennas of the simulated group.
    #[arg(long, default_value_t = 96)]
    pub n_ants: usize,
    /// Reuse the simulated group if the working directory has one.
    #[arg(long)]
    pub reuse: bool,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Measure the streaming daemon instead: the latency from the last
    /// subband landing in its input directory to the finished MS.
    #[arg(long)]
    pub latency: bool,
    /// With --latency: seconds over which the other subbands land, evenly
    /// spaced, before the last one (0: all at once).
    #[arg(long, default_value_t = 20.0)]
    pub spread_s: f64,
    /// Rows (baseline-times) of the block the kernels are timed on.
    #[arg(long, default_value_t = 4656)]
    pub block_rows: usize,
    /// Time the kernels only (no simulated group, no end-to-end runs).
    #[arg(long)]
    pub kernels_only: bool,
}

/// One kernel's throughput on one backend.
#[derive(Debug, serde::Serialize)]
struct KernelRow {
    kernel: &'static str,
    backend: &'static str,
    /// Bytes the kernel reads and writes per call.
    bytes: u64,
    /// Whole call, seconds (best of the repeats).
    call_s: f64,
    call_gb_s: f64,
    /// GPU only: the kernel alone from timestamps, seconds and GB/s.
    kernel_s: Option<f64>,
    kernel_gb_s: Option<f64>,
    /// GPU only: the whole call less the kernel (uploads, transfers,
    /// submission, read-back).
    transfer_s: Option<f64>,
}

/// Best of five calls of `f` (after one warm-up): seconds and, for the
/// GPU, that call's stage timings.
fn best_of(
    gpu: Option<&GpuBackend>,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<(f64, Option<GpuTimings>)> {
    f()?;
    let mut best = (f64::INFINITY, None);
    for _ in 0..5 {
        let t = Instant::now();
        f()?;
        let s = t.elapsed().as_secs_f64();
        if s < best.0 {
            best = (s, gpu.map(|g| g.last_timings()));
        }
    }
    Ok(best)
}

/// Time phase, UVW and separations on `shape` on the CPU and on `gpu`.
fn kernel_rows(gpu: Option<&GpuBackend>, shape: BlockShape) -> anyhow::Result<Vec<KernelRow>> {
    let n_vis = shape.rows * shape.n_chan * shape.n_pol;
    let (freq, dw) = sample::phase_inputs(shape.rows, shape.n_chan);
    let mut vis = vec![num_complex::Complex32::new(1.0, 0.5); n_vis];
    // UVW and separations on every row of a whole group (24 integrations).
    let rows = shape.rows * 24;
    let inputs = sample::UvwInputs::new(96, rows);
    let req = inputs.request();
    let mut uvw = vec![[0.0; 3]; rows];
    let (a, b) = sample::position_pairs(rows);
    let mut seps = vec![0.0; rows];
    let mut out = Vec::new();
    let mut backends: Vec<(&'static str, &dyn Backend, Option<&GpuBackend>)> =
        vec![("cpu", &CpuBackend, None)];
    if let Some(g) = gpu {
        backends.insert(0, ("gpu", g, Some(g)));
    }
    for (name, be, g) in backends {
        let mut row = |kernel: &'static str, bytes: u64, (call_s, t): (f64, Option<GpuTimings>)| {
            let kernel_s = t.and_then(|t| t.kernel_s);
            out.push(KernelRow {
                kernel,
                backend: name,
                bytes,
                call_s,
                call_gb_s: bytes as f64 / 1e9 / call_s,
                kernel_s,
                kernel_gb_s: kernel_s.map(|k| bytes as f64 / 1e9 / k),
                transfer_s: kernel_s.map(|k| call_s - k),
            });
        };
        // Phase: each visibility read and written (8 bytes each way).
        row(
            "phase",
            n_vis as u64 * 16,
            best_of(g, || {
                Ok(be.phase_correct(&mut vis, shape.n_pol, &dw, &freq)?)
            })?,
        );
        // UVW: three u32 indices in, three f64 out per row.
        row(
            "uvw",
            rows as u64 * 36,
            best_of(g, || Ok(be.uvw(&req, &mut uvw)?))?,
        );
        // Separations: two f64 pairs in, one (sin, cos) f32 pair out.
        row(
            "separation",
            rows as u64 * 40,
            best_of(g, || Ok(be.separations(&a, &b, &mut seps)?))?,
        );
    }
    Ok(out)
}

/// Print the kernel table.
fn print_kernels(adapter: &str, shape: BlockShape, rows: &[KernelRow]) {
    println!(
        "kernels on a block of {} rows x {} channels x {} pols; GPU: {adapter}",
        shape.rows, shape.n_chan, shape.n_pol
    );
    println!(
        "{:<11} {:<7} {:>10} {:>10} {:>12} {:>12} {:>12}",
        "kernel", "backend", "call_ms", "call_GB/s", "kernel_ms", "kernel_GB/s", "transfer_ms"
    );
    let opt =
        |x: Option<f64>, scale: f64| x.map_or("-".to_string(), |v| format!("{:.3}", v * scale));
    for r in rows {
        println!(
            "{:<11} {:<7} {:>10.3} {:>10.2} {:>12} {:>12} {:>12}",
            r.kernel,
            r.backend,
            r.call_s * 1e3,
            r.call_gb_s,
            opt(r.kernel_s, 1e3),
            opt(r.kernel_gb_s, 1.0),
            opt(r.transfer_s, 1e3)
        );
    }
}

#[derive(Debug, serde::Serialize)]
struct Row {
    backend: String,
    seconds_read: f64,
    seconds_compute: f64,
    seconds_write: f64,
    seconds_total: f64,
    gb_per_s: f64,
    peak_rss_mib: f64,
    /// The raw I/O floor measured right after this conversion.
    io_floor_s: f64,
    over_io_floor: f64,
}

fn dir_bytes(p: &Path) -> u64 {
    std::fs::read_dir(p)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| {
                    let m = e
                        .metadata()
                        .map(|m| (m.is_dir(), m.len()))
                        .unwrap_or((false, 0));
                    if m.0 {
                        dir_bytes(&e.path())
                    } else {
                        m.1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Seconds to read every input and write + fsync `write_bytes` into the
/// new file `out`.
fn io_floor(inputs: &[PathBuf], write_bytes: u64, out: &Path) -> anyhow::Result<f64> {
    let t = Instant::now();
    let mut buf = vec![0u8; 8 << 20];
    for p in inputs {
        let mut f = std::fs::File::open(p)?;
        while f.read(&mut buf)? > 0 {}
    }
    let mut f = std::fs::File::create(out)?;
    let mut left = write_bytes;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        f.write_all(&buf[..n])?;
        left -= n as u64;
    }
    f.sync_all()?;
    Ok(t.elapsed().as_secs_f64())
}

/// Run `convert` in a child; its JSON summary and peak RSS in MiB.
fn convert_child(
    files: &[PathBuf],
    out: &Path,
    backend: &str,
) -> anyhow::Result<(serde_json::Value, f64)> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([
            "-q",
            "convert",
            "--json",
            "--backend",
            backend,
            "--phase-center",
            "meridian",
            "-o",
        ])
        .arg(out)
        .args(files)
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdout = String::new();
    child
        .stdout
        .as_mut()
        .context("child stdout")?
        .read_to_string(&mut stdout)?;
    let (ok, rss) = wait_with_peak_rss(&child)?;
    anyhow::ensure!(ok, "convert --backend {backend} failed");
    let summary: serde_json::Value = serde_json::from_str(&stdout)?;
    Ok((summary[0].clone(), rss))
}

/// Wait for `child`: whether it exited 0, and its peak RSS in MiB.
fn wait_with_peak_rss(child: &std::process::Child) -> anyhow::Result<(bool, f64)> {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child with owned out-parameters.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    anyhow::ensure!(
        r == pid,
        "waiting for child {pid}: {}",
        std::io::Error::last_os_error()
    );
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, usage.ru_maxrss as f64 / 1024.0))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.latency {
        return run_latency(&args);
    }
    let gpu = match GpuBackend::new(AdapterPolicy::Any) {
        Ok(g) => Some(g),
        Err(e) => {
            eprintln!("GPU: none ({e}); the CPU only");
            None
        }
    };
    let adapter = gpu.as_ref().map_or("none".to_string(), |g| g.description());
    let shape = BlockShape {
        rows: args.block_rows,
        ..BlockShape::default()
    };
    let kernels = kernel_rows(gpu.as_ref(), shape)?;
    if !args.json {
        print_kernels(&adapter, shape, &kernels);
    }
    if args.kernels_only {
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({
                    "adapter": adapter, "kernels": kernels,
                }))?
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let has_gpu = gpu.is_some();
    drop(gpu);
    end_to_end(&args, has_gpu, &adapter, kernels)
}

/// The simulated group of `args`' working directory (made if missing).
fn group_files(args: &Args) -> anyhow::Result<Vec<PathBuf>> {
    let input = args.workdir.join("hdf5");
    let cfg = SimConfig {
        n_ants: args.n_ants,
        noise_jy: 0.1,
        ..SimConfig::default()
    };
    let files: Vec<PathBuf> = match (
        args.reuse,
        crate::group::find_groups(&input, None, None, 60.0, cfg.n_subbands),
    ) {
        (true, Ok(g)) if g.len() == 1 && g[0].is_complete() => g[0].files.clone(),
        _ => {
            if input.exists() {
                std::fs::remove_dir_all(&input)?;
            }
            eprintln!(
                "simulating a group of {} antennas in {} ...",
                cfg.n_ants,
                input.display()
            );
            sim::simulate_group(&cfg, &input)?.1
        }
    };
    Ok(files)
}

fn run_latency(args: &Args) -> anyhow::Result<ExitCode> {
    let files = group_files(args)?;
    latency(
        &files,
        &args.workdir.join("stream"),
        args.spread_s,
        args.json,
    )
}

/// Each backend's conversion of the group against the raw I/O floor.
fn end_to_end(
    args: &Args,
    has_gpu: bool,
    adapter: &str,
    kernels: Vec<KernelRow>,
) -> anyhow::Result<ExitCode> {
    let files = group_files(args)?;
    // Every conversion and floor writes new files, and nothing is deleted
    // until all are measured: this VM's disk (ext4 with online discard)
    // writes 2-5x slower for seconds after 1.6 GB are deleted.
    let output = args.workdir.join("ms");
    if output.exists() {
        std::fs::remove_dir_all(&output)?;
        // SAFETY: sync(2) takes no arguments and cannot fail.
        unsafe { libc::sync() };
    }
    let in_bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let mut backends = vec!["cpu"];
    if has_gpu {
        backends.push("gpu");
    }
    let mut rows = Vec::new();
    let mut ms_bytes = 0;
    // Each conversion, then the floor for its MS's bytes: this VM's disk
    // speed drifts from minute to minute, so each pair is compared.
    for b in &backends {
        let dir = output.join(b);
        std::fs::create_dir_all(&dir)?;
        let (s, rss) = convert_child(&files, &dir, b)?;
        ms_bytes = dir_bytes(Path::new(s["ms_path"].as_str().unwrap_or_default()));
        let floor = io_floor(&files, ms_bytes, &output.join(format!("floor-{b}.tmp")))?;
        let f = |k: &str| s[k].as_f64().unwrap_or(f64::NAN);
        rows.push(Row {
            backend: b.to_string(),
            seconds_read: f("seconds_read"),
            seconds_compute: f("seconds_compute"),
            seconds_write: f("seconds_write"),
            seconds_total: f("seconds_total"),
            gb_per_s: in_bytes as f64 / 1e9 / f("seconds_total"),
            peak_rss_mib: rss,
            io_floor_s: floor,
            over_io_floor: f("seconds_total") / floor,
        });
    }
    std::fs::remove_dir_all(&output)?;
    let ratio = (rows.len() == 2).then(|| rows[0].seconds_total / rows[1].seconds_total);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "input_bytes": in_bytes, "ms_bytes": ms_bytes,
                "gpu_speedup_over_cpu": ratio, "runs": rows,
                "adapter": adapter, "kernels": kernels,
            }))?
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!("group: {:.2} GB in, MS {:.2} GB; floor_s: the raw I/O floor right after each conversion (read inputs + write MS bytes, synced)", in_bytes as f64 / 1e9, ms_bytes as f64 / 1e9);
    println!(
        "{:<8} {:>8} {:>9} {:>8} {:>8} {:>7} {:>9} {:>8} {:>8}",
        "backend",
        "read_s",
        "compute_s",
        "write_s",
        "total_s",
        "GB/s",
        "peak_MiB",
        "floor_s",
        "x_floor"
    );
    for r in &rows {
        println!(
            "{:<8} {:>8.2} {:>9.2} {:>8.2} {:>8.2} {:>7.2} {:>9.0} {:>8.2} {:>8.2}",
            r.backend,
            r.seconds_read,
            r.seconds_compute,
            r.seconds_write,
            r.seconds_total,
            r.gb_per_s,
            r.peak_rss_mib,
            r.io_floor_s,
            r.over_io_floor
        );
    }
    if let Some(x) = ratio {
        println!("GPU vs CPU end to end: {x:.2}x (the GPU backend here: {adapter})");
    }
    Ok(ExitCode::SUCCESS)
}

/// Stream `files` into a fresh daemon's input directory and time the last
/// one's landing to its group's MS being in place.
fn latency(files: &[PathBuf], dir: &Path, spread_s: f64, json: bool) -> anyhow::Result<ExitCode> {
    let (input, output) = (dir.join("in"), dir.join("out"));
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(&input)?;
    let child = Command::new(std::env::current_exe()?)
        .args(["stream", "run", "--backend", "cpu", "--input"])
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .spawn()?;
    let result = (|| -> anyhow::Result<(f64, Option<f64>)> {
        let state = crate::stream::default_state_path(&output);
        wait_until(Duration::from_secs(30), || state.exists())
            .context("the daemon did not start")?;
        let (last, rest) = files.split_last().context("no files")?;
        let gap = Duration::from_secs_f64(spread_s / rest.len().max(1) as f64);
        for f in rest {
            std::fs::copy(f, input.join(f.file_name().context("file name")?))?;
            std::thread::sleep(gap);
        }
        std::fs::copy(last, input.join(last.file_name().context("file name")?))?;
        let landed = Instant::now();
        tracing::debug!("{} landed", last.display());
        let ms = output.join(crate::convert::output_name(files));
        wait_until(Duration::from_secs(600), || ms.exists())
            .context("the MS did not appear within 10 minutes")?;
        let seen = landed.elapsed().as_secs_f64();
        let db = crate::stream::State::open(&state)?;
        let mut recorded = None;
        wait_until(Duration::from_secs(30), || {
            recorded = db
                .recent(1)
                .ok()
                .and_then(|g| g.first().and_then(|g| g.latency_s()));
            recorded.is_some()
        })
        .context("the daemon did not record the group as done")?;
        Ok((seen, recorded))
    })();
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let (ok, peak_rss_mib) = wait_with_peak_rss(&child)?;
    let (seen, recorded) = result?;
    anyhow::ensure!(ok, "the daemon did not exit 0 on SIGTERM");
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "spread_s": spread_s, "latency_s": seen, "daemon_latency_s": recorded,
                "daemon_peak_rss_mib": peak_rss_mib,
            }))?
        );
    } else {
        println!(
            "last subband landed -> MS in place: {seen:.2} s (the daemon recorded {}); \
             the other {} subbands landed over {spread_s:.0} s before it; daemon peak RSS {peak_rss_mib:.0} MiB",
            recorded.map_or("nothing".into(), |r| format!("{r:.2} s")),
            files.len() - 1,
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Poll `ok` every 5 ms until it holds; an error after `timeout`.
fn wait_until(timeout: Duration, mut ok: impl FnMut() -> bool) -> anyhow::Result<()> {
    let t = Instant::now();
    while !ok() {
        anyhow::ensure!(t.elapsed() < timeout, "timed out after {timeout:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}
