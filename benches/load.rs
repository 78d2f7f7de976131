//! Loading a group as the converter loads it: `cat` of the same files (the
//! floor: reading their bytes into memory), opening the files (headers and
//! chunk lists), the raw path reading subband after subband in blocks of
//! the converter's size (32 MiB of buffers) with 1..16 worker threads, and
//! the HDF5 library path (serialised by the crate's global lock) with
//! several chunk cache sizes. The group is `DSA110_BENCH_GROUP` (a directory holding one
//! group, e.g. real files) or simulated once into target/bench-load
//! (DSA110_BENCH_ANTS antennas, default 48; 96 is full size), in the
//! simulator's default layout, the correlator's.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dsa110_convert::group;
use dsa110_convert::sim::{self, SimConfig};
use dsa110_convert::uvh5::{RowBuffers, Uvh5File};

fn group_files() -> Vec<PathBuf> {
    if let Ok(dir) = std::env::var("DSA110_BENCH_GROUP") {
        let found =
            dsa110_convert::group::find_groups(std::path::Path::new(&dir), None, None, 60.0, 16)
                .expect("DSA110_BENCH_GROUP: a directory of subband files");
        assert!(
            found.len() == 1 && found[0].is_complete(),
            "DSA110_BENCH_GROUP must hold one complete group"
        );
        return found[0].files.clone();
    }
    let ants: usize = std::env::var("DSA110_BENCH_ANTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("target/bench-load/{ants}"));
    if let Ok(found) = dsa110_convert::group::find_groups(&dir, None, None, 60.0, 16) {
        if found.len() == 1 && found[0].is_complete() {
            return found[0].files.clone();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    sim::simulate_group(
        &SimConfig {
            n_ants: ants,
            ..SimConfig::default()
        },
        &dir,
    )
    .unwrap()
    .1
}

fn load(c: &mut Criterion) {
    let files = group_files();
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let mut g = c.benchmark_group("load_group");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    let mut whole = vec![0u8; bytes as usize];
    g.bench_function("cat", |b| {
        b.iter(|| {
            let mut at = 0;
            for f in &files {
                let mut file = std::fs::File::open(f).unwrap();
                let n = std::fs::metadata(f).unwrap().len() as usize;
                std::io::Read::read_exact(&mut file, &mut whole[at..at + n]).unwrap();
                at += n;
            }
        })
    });
    // As `convert` and `qa` open a group: the files in parallel.
    let open = || -> Vec<Uvh5File> { group::open_files(&files, 16 << 20).unwrap().0 };
    g.bench_function("open", |b| b.iter(open));
    let mut opened = open();
    let h = opened[0].header().clone();
    let per_row = h.per_row();
    let block = ((32 << 20) / (per_row * 13)).min(h.n_blts);
    let mut buf = RowBuffers::new(block, per_row);
    g.bench_function("library_sequential", |b| {
        b.iter(|| {
            for f in &files {
                let mut file = Uvh5File::open(f, 16 << 20).unwrap();
                file.force_library();
                let mut one = RowBuffers::new(h.n_blts, file.header().per_row());
                file.read_rows(0, h.n_blts, &mut one.vis, &mut one.flags, &mut one.nsamples)
                    .unwrap();
            }
        })
    });
    for workers in [1, 2, 4, 8, 16] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(workers)
            .build()
            .unwrap();
        g.bench_function(BenchmarkId::new("raw_parallel", workers), |b| {
            b.iter(|| {
                pool.install(|| {
                    for file in &mut opened {
                        for r0 in (0..h.n_blts).step_by(block) {
                            let n = (block.min(h.n_blts - r0)) * per_row;
                            let r1 = r0 + n / per_row;
                            file.read_rows(
                                r0,
                                r1,
                                &mut buf.vis[..n],
                                &mut buf.flags[..n],
                                &mut buf.nsamples[..n],
                            )
                            .unwrap();
                        }
                    }
                })
            })
        });
    }
    for cache_mib in [1usize, 16, 64] {
        g.bench_function(
            BenchmarkId::new("library_chunk_cache_mib", cache_mib),
            |b| {
                b.iter(|| {
                    let mut file = Uvh5File::open(&files[0], cache_mib << 20).unwrap();
                    file.force_library();
                    let mut one = RowBuffers::new(h.n_blts, file.header().per_row());
                    file.read_rows(0, h.n_blts, &mut one.vis, &mut one.flags, &mut one.nsamples)
                        .unwrap();
                })
            },
        );
    }
}

criterion_group!(benches, load);
criterion_main!(benches);
