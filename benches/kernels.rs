//! Each kernel, CPU against GPU, over sizes. For the GPU three numbers: the
//! whole call (upload + kernel + download, what the pipeline pays), the
//! kernel alone (`gpu_kernel`, from GPU timestamp queries; skipped on
//! adapters without them) and the rest (`gpu_transfer`: queueing uploads,
//! transfers, submission and read-back, the whole call less the kernel).
//! Sizes: 1e3..1e7 elements; set DSA110_BENCH_1E8=1 for 1e8.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dsa110_convert::astro::SkyPos;
use dsa110_convert::compute::cpu::CpuBackend;
use dsa110_convert::compute::gpu::{AdapterPolicy, GpuBackend, GpuTimings};
use dsa110_convert::compute::{sample, Backend, MatchRequest};
use num_complex::Complex32;

fn sizes() -> Vec<usize> {
    let mut s = vec![1_000, 100_000, 10_000_000];
    if std::env::var("DSA110_BENCH_1E8").is_ok() {
        s.push(100_000_000);
    }
    s
}

fn backends() -> Vec<(&'static str, Box<dyn Backend>)> {
    let mut v: Vec<(&'static str, Box<dyn Backend>)> = vec![("cpu", Box::new(CpuBackend))];
    match GpuBackend::new(AdapterPolicy::Any) {
        Ok(g) => v.push(("gpu", Box::new(g))),
        Err(e) => eprintln!("no GPU for the benches: {e}"),
    }
    v
}

/// For the GPU, also time the kernel alone (GPU timestamps) and the
/// transfers around it, from the backend's stage timings.
fn kernel_only(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    n: usize,
    gpu: &GpuBackend,
    mut f: impl FnMut(),
) {
    if !gpu.has_timestamps() {
        eprintln!("gpu_kernel skipped: the adapter has no timestamp queries");
        return;
    }
    let mut stage = |name: &str, pick: fn(&GpuTimings) -> f64| {
        c.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    f();
                    total += Duration::from_secs_f64(pick(&gpu.last_timings()).max(0.0));
                }
                total
            })
        });
    };
    stage("gpu_kernel", |t| t.kernel_s.unwrap_or(0.0));
    stage("gpu_transfer", |t| {
        t.upload_s + t.submit_wait_s + t.readback_s - t.kernel_s.unwrap_or(0.0)
    });
}

fn uvw(c: &mut Criterion) {
    let gpu = GpuBackend::new(AdapterPolicy::Any).ok();
    let mut g = c.benchmark_group("uvw");
    g.sample_size(10);
    for n in sizes().into_iter().filter(|&n| n <= 10_000_000) {
        let inputs = sample::UvwInputs::new(117, n);
        let req = inputs.request();
        let mut out = vec![[0.0; 3]; n];
        g.throughput(Throughput::Elements(n as u64));
        for (name, b) in backends() {
            g.bench_function(BenchmarkId::new(name, n), |bch| {
                bch.iter(|| b.uvw(&req, &mut out).unwrap())
            });
        }
        if let Some(gpu) = &gpu {
            kernel_only(&mut g, n, gpu, || gpu.uvw(&req, &mut out).unwrap());
        }
    }
}

fn phase(c: &mut Criterion) {
    let gpu = GpuBackend::new(AdapterPolicy::Any).ok();
    let mut g = c.benchmark_group("phase");
    g.sample_size(10);
    for n in sizes() {
        // Rows of 768 channels x 2 pols.
        let rows = (n / 1536).max(1);
        let dw: Vec<f64> = (0..rows).map(|r| (r % 1000) as f64 * 1.3).collect();
        let freq: Vec<f64> = (0..768).map(|c| 1.311e9 + c as f64 * 244_140.625).collect();
        let mut vis = vec![Complex32::new(1.0, 0.5); rows * 1536];
        g.throughput(Throughput::Elements((rows * 1536) as u64));
        for (name, b) in backends() {
            g.bench_function(BenchmarkId::new(name, rows * 1536), |bch| {
                bch.iter(|| b.phase_correct(&mut vis, 2, &dw, &freq).unwrap())
            });
        }
        if let Some(gpu) = &gpu {
            kernel_only(&mut g, rows * 1536, gpu, || {
                gpu.phase_correct(&mut vis, 2, &dw, &freq).unwrap()
            });
        }
    }
}

fn separation(c: &mut Criterion) {
    let gpu = GpuBackend::new(AdapterPolicy::Any).ok();
    let mut g = c.benchmark_group("separation");
    g.sample_size(10);
    for n in sizes() {
        let (a, b) = sample::position_pairs(n);
        let mut out = vec![0.0; n];
        g.throughput(Throughput::Elements(n as u64));
        for (name, be) in backends() {
            g.bench_function(BenchmarkId::new(name, n), |bch| {
                bch.iter(|| be.separations(&a, &b, &mut out).unwrap())
            });
        }
        if let Some(gpu) = &gpu {
            kernel_only(&mut g, n, gpu, || {
                gpu.separations(&a, &b, &mut out).unwrap()
            });
        }
        // Catalog cross-match: n sources against 24 meridian fields.
        let fields: Vec<SkyPos> = (0..24)
            .map(|i| SkyPos {
                ra_rad: 3.5 + i as f64 * 9.4e-4,
                dec_rad: 0.53,
            })
            .collect();
        for (name, be) in backends() {
            g.bench_function(BenchmarkId::new(format!("{name}_match24"), n), |bch| {
                bch.iter(|| {
                    be.match_within(&MatchRequest::new(&a, &fields, 0.056))
                        .unwrap()
                })
            });
        }
    }
}

criterion_group!(benches, uvw, phase, separation);
criterion_main!(benches);
