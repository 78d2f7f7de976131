//! The compute backends: one expected-value suite (pyuvdata's calc_uvw and
//! w-projection phasing, astropy's separations) run for each backend with
//! that backend's epsilon, GPU (WGSL through wgpu, lavapipe in CI) against
//! the CPU (f64 reference) on the same inputs, and the GPU's device
//! context: buffers reused across blocks, typed errors, adapters without
//! SHADER_F64, the `auto` calibration.
//!
//! Tolerances (from the project's requirements): UVW 1e-5 m GPU vs CPU for
//! baselines up to 10 km, 1e-6 m CPU vs pyuvdata; phase-corrected
//! visibilities 2e-6 rad in phase and 1e-6 in relative amplitude GPU vs
//! CPU, 1e-6 rad CPU vs pyuvdata; separations 0.1 arcsec GPU vs CPU, 1e-9
//! rad CPU vs astropy.

mod common;

use std::f64::consts::{FRAC_PI_2, PI, TAU};
use std::sync::OnceLock;

use dsa110_convert::astro::SkyPos;
use dsa110_convert::compute::auto::{self, BlockShape, Side};
use dsa110_convert::compute::cpu::CpuBackend;
use dsa110_convert::compute::gpu::{GpuBackend, GpuOptions};
use dsa110_convert::compute::rotation::uvw_rotation;
use dsa110_convert::compute::{
    Backend, ComputeError, MatchRequest, PolMap, UvwRequest, VisTransform, SPEED_OF_LIGHT_M_S,
};
use num_complex::Complex32;
use rand::{Rng, SeedableRng};

const ARCSEC: f64 = PI / 180.0 / 3600.0;

/// The GPU on any adapter (lavapipe in CI). Under CI a missing adapter is a
/// failure; elsewhere the test is skipped with a loud message.
fn gpu(max_tile_bytes: u64) -> Option<GpuBackend> {
    gpu_with(GpuOptions {
        max_tile_bytes,
        ..Default::default()
    })
}

/// As [`gpu`], opened with `options`.
fn gpu_with(options: GpuOptions) -> Option<GpuBackend> {
    common::gpu_or_skip(GpuBackend::open(options))
}

struct Geometry {
    antenna_xyz_m: Vec<[f64; 3]>,
    ant1: Vec<u32>,
    ant2: Vec<u32>,
    rotation_index: Vec<u32>,
    rotations: Vec<[f64; 9]>,
    /// (app_ra, app_dec, frame_pa, lst) per rotation.
    angles: Vec<[f64; 4]>,
}

const LON: f64 = -2.064_434; // DSA-110, radians
const LAT: f64 = 0.649_816;

/// Random antennas within `extent_m` (10 km baselines), random phase
/// centres including the poles and hour-angle wrap, zero baselines.
fn geometry(seed: u64, n_ant: usize, n_rot: usize, n_rows: usize, extent_m: f64) -> Geometry {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let antenna_xyz_m: Vec<[f64; 3]> = (0..n_ant)
        .map(|_| {
            [
                rng.random_range(-1.0..1.0) * extent_m / 2.0,
                rng.random_range(-1.0..1.0) * extent_m / 2.0,
                rng.random_range(-1.0..1.0) * extent_m / 2.0,
            ]
        })
        .collect();
    let mut angles: Vec<[f64; 4]> = (0..n_rot)
        .map(|_| {
            [
                rng.random_range(0.0..TAU),
                rng.random_range(-FRAC_PI_2..FRAC_PI_2),
                rng.random_range(-0.01..0.01),
                rng.random_range(0.0..TAU),
            ]
        })
        .collect();
    angles[0][1] = FRAC_PI_2; // north pole
    angles[1 % n_rot][1] = -FRAC_PI_2; // south pole
    angles[2 % n_rot] = [TAU - 1e-9, 0.3, 0.0, 1e-9]; // hour angle wraps through 0
    let rotations = angles
        .iter()
        .map(|a| uvw_rotation(a[0], a[1], a[2], a[3], LON))
        .collect();
    let mut ant1: Vec<u32> = (0..n_rows)
        .map(|_| rng.random_range(0..n_ant as u32))
        .collect();
    let ant2: Vec<u32> = (0..n_rows)
        .map(|_| rng.random_range(0..n_ant as u32))
        .collect();
    ant1[0] = ant2[0]; // a zero baseline
    let rotation_index = (0..n_rows)
        .map(|_| rng.random_range(0..n_rot as u32))
        .collect();
    Geometry {
        antenna_xyz_m,
        ant1,
        ant2,
        rotation_index,
        rotations,
        angles,
    }
}

impl Geometry {
    fn request(&self) -> UvwRequest<'_> {
        UvwRequest {
            antenna_xyz_m: &self.antenna_xyz_m,
            ant1: &self.ant1,
            ant2: &self.ant2,
            rotation_index: &self.rotation_index,
            rotations: &self.rotations,
        }
    }
}

fn uvw_of(b: &dyn Backend, g: &Geometry) -> Vec<[f64; 3]> {
    let mut out = vec![[0.0; 3]; g.ant1.len()];
    b.uvw(&g.request(), &mut out).unwrap();
    out
}

fn max_uvw_diff(a: &[[f64; 3]], b: &[[f64; 3]]) -> f64 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Random visibilities with a few NaNs, and w changes up to 5 km with the
/// edges dw = 0 and dw = 5 km.
fn phase_inputs(
    seed: u64,
    n_rows: usize,
    n_chan: usize,
    n_pol: usize,
) -> (Vec<Complex32>, Vec<f64>, Vec<f64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut vis: Vec<Complex32> = (0..n_rows * n_chan * n_pol)
        .map(|_| Complex32::new(rng.random_range(-10.0..10.0), rng.random_range(-10.0..10.0)))
        .collect();
    // A NaN in row 2 (dw != 0).
    vis[2 * n_chan * n_pol + 7] = Complex32::new(f32::NAN, 1.0);
    let mut dw: Vec<f64> = (0..n_rows)
        .map(|_| rng.random_range(-5000.0..5000.0))
        .collect();
    dw[0] = 0.0;
    dw[1] = 5000.0;
    let freq: Vec<f64> = (0..n_chan)
        .map(|c| 1.311e9 + c as f64 * 244_140.625)
        .collect();
    (vis, dw, freq)
}

fn random_positions(seed: u64, n: usize) -> Vec<SkyPos> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| SkyPos {
            ra_rad: rng.random_range(0.0..TAU),
            dec_rad: (rng.random_range(-1.0f64..1.0)).asin(),
        })
        .collect()
}

#[test]
fn gpu_uvw_equals_cpu_within_1e_5_m_for_10_km_baselines() {
    let Some(gpu) = gpu(u64::MAX) else { return };
    let g = geometry(1, 200, 50, 100_000, 10_000.0);
    let d = max_uvw_diff(&uvw_of(&gpu, &g), &uvw_of(&CpuBackend, &g));
    eprintln!("UVW GPU vs CPU: max |diff| = {d:.3e} m");
    assert!(d < 1e-5, "{d}");
}

#[test]
fn gpu_phase_correction_equals_cpu() {
    let Some(gpu) = gpu(u64::MAX) else { return };
    let (vis, dw, freq) = phase_inputs(2, 300, 768, 2);
    let (mut a, mut b) = (vis.clone(), vis.clone());
    gpu.phase_correct(&mut a, 2, &dw, &freq).unwrap();
    CpuBackend.phase_correct(&mut b, 2, &dw, &freq).unwrap();
    let (mut worst_phase, mut worst_amp) = (0.0f64, 0.0f64);
    for ((x, y), v) in a.iter().zip(&b).zip(&vis) {
        if v.re.is_nan() {
            assert!(x.re.is_nan() && y.re.is_nan(), "NaN must stay NaN");
            continue;
        }
        let phase = (num_complex::Complex64::new(x.re as f64, x.im as f64)
            / num_complex::Complex64::new(y.re as f64, y.im as f64))
        .arg()
        .abs();
        let amp = ((x.norm() as f64) / (y.norm() as f64) - 1.0).abs();
        worst_phase = worst_phase.max(phase);
        worst_amp = worst_amp.max(amp);
    }
    eprintln!("phase GPU vs CPU: max phase error {worst_phase:.3e} rad, max relative amplitude error {worst_amp:.3e}");
    assert!(worst_phase < 2e-6, "{worst_phase}");
    assert!(worst_amp < 1e-6, "{worst_amp}");
    // dw = 0 leaves the row as it was.
    assert_eq!(&a[..768 * 2], &vis[..768 * 2]);
}

#[test]
fn gpu_separations_equal_cpu_within_0_1_arcsec() {
    let Some(gpu) = gpu(u64::MAX) else { return };
    let mut a = random_positions(3, 200_000);
    let mut b = random_positions(4, 200_000);
    // Edges: identical points, tiny separations, antipodes, the poles.
    b[0] = a[0];
    b[1] = SkyPos {
        ra_rad: a[1].ra_rad + 1e-9,
        dec_rad: a[1].dec_rad,
    };
    b[2] = SkyPos {
        ra_rad: a[2].ra_rad + PI,
        dec_rad: -a[2].dec_rad,
    };
    a[3] = SkyPos {
        ra_rad: 0.0,
        dec_rad: FRAC_PI_2,
    };
    b[3] = SkyPos {
        ra_rad: 3.0,
        dec_rad: FRAC_PI_2 - 1e-6,
    };
    let (mut x, mut y) = (vec![0.0; a.len()], vec![0.0; a.len()]);
    gpu.separations(&a, &b, &mut x).unwrap();
    CpuBackend.separations(&a, &b, &mut y).unwrap();
    let worst = x
        .iter()
        .zip(&y)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0, f64::max);
    eprintln!(
        "separation GPU vs CPU: max |diff| = {:.4} arcsec",
        worst / ARCSEC
    );
    assert!(worst < 0.1 * ARCSEC, "{} arcsec", worst / ARCSEC);
}

#[test]
fn a_million_source_catalog_matches_identically_on_gpu_and_cpu() {
    let Some(gpu) = gpu(u64::MAX) else { return };
    let catalog = random_positions(5, 1_000_000);
    // 24 meridian fields along a declination strip.
    let fields: Vec<SkyPos> = (0..24)
        .map(|i| SkyPos {
            ra_rad: 3.5 + i as f64 * 9.4e-4,
            dec_rad: 0.53,
        })
        .collect();
    let radius = 3.2f64.to_radians();
    let g = gpu
        .match_within(&MatchRequest::new(&catalog, &fields, radius))
        .unwrap();
    let c = CpuBackend
        .match_within(&MatchRequest::new(&catalog, &fields, radius))
        .unwrap();
    eprintln!("cross-match: {} pairs", c.len());
    assert!(c.len() > 1000);
    assert_eq!(g, c);
}

#[test]
fn work_larger_than_a_tile_is_tiled() {
    // 64 KiB tiles force many dispatches for each kernel.
    let Some(gpu) = gpu(64 << 10) else { return };
    let geo = geometry(6, 50, 7, 20_000, 3000.0);
    assert!(max_uvw_diff(&uvw_of(&gpu, &geo), &uvw_of(&CpuBackend, &geo)) < 1e-5);
    let (vis, dw, freq) = phase_inputs(7, 64, 768, 2);
    let (mut a, mut b) = (vis.clone(), vis);
    gpu.phase_correct(&mut a, 2, &dw, &freq).unwrap();
    CpuBackend.phase_correct(&mut b, 2, &dw, &freq).unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .filter(|(x, _)| !x.re.is_nan())
        .map(|(x, y)| (x - y).norm())
        .fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "{worst}");
    let (p, q) = (random_positions(8, 10_000), random_positions(9, 10_000));
    let (mut x, mut y) = (vec![0.0; p.len()], vec![0.0; p.len()]);
    gpu.separations(&p, &q, &mut x).unwrap();
    CpuBackend.separations(&p, &q, &mut y).unwrap();
    assert!(x.iter().zip(&y).all(|(a, b)| (a - b).abs() < 0.1 * ARCSEC));
    let m = gpu
        .match_within(&MatchRequest::new(&p, &q[..100], 0.05))
        .unwrap();
    assert_eq!(
        m,
        CpuBackend
            .match_within(&MatchRequest::new(&p, &q[..100], 0.05))
            .unwrap()
    );
}

#[test]
fn empty_inputs_work_on_both_backends() {
    let gpu = gpu(u64::MAX);
    let backends: Vec<&dyn Backend> = match &gpu {
        Some(g) => vec![&CpuBackend, g],
        None => vec![&CpuBackend],
    };
    for b in backends {
        let req = UvwRequest {
            antenna_xyz_m: &[[0.0; 3]],
            ant1: &[],
            ant2: &[],
            rotation_index: &[],
            rotations: &[[0.0; 9]],
        };
        b.uvw(&req, &mut []).unwrap();
        b.phase_correct(&mut [], 2, &[], &[1e9]).unwrap();
        b.separations(&[], &[], &mut []).unwrap();
        assert!(b
            .match_within(&MatchRequest::new(&[], &[], 0.1))
            .unwrap()
            .is_empty());
        // Mismatched lengths are errors, not panics.
        assert!(b
            .phase_correct(&mut [Complex32::new(1.0, 0.0)], 2, &[1.0], &[1e9])
            .is_err());
    }
}

/// The pyuvdata / astropy reference of one set of inputs.
struct Reference {
    geometry: Geometry,
    vis: Vec<Complex32>,
    dw: Vec<f64>,
    freq: Vec<f64>,
    a: Vec<SkyPos>,
    b: Vec<SkyPos>,
    uvw: Vec<f64>,
    vis_re: Vec<f64>,
    vis_im: Vec<f64>,
    sep: Vec<f64>,
}

/// One backend's epsilon against the references.
struct Epsilon {
    uvw_m: f64,
    phase_rad: f64,
    separation_rad: f64,
}

/// The CPU: f64 throughout.
const CPU_EPSILON: Epsilon = Epsilon {
    uvw_m: 1e-6,
    phase_rad: 1e-6,
    separation_rad: 1e-9,
};

/// The GPU: f64 UVW, f32 phasors (budget in phase.wgsl) and f32
/// spherical trig (budget in sphere.wgsl).
const GPU_EPSILON: Epsilon = Epsilon {
    uvw_m: 1e-5,
    phase_rad: 2e-6,
    separation_rad: 0.1 * ARCSEC,
};

/// Inputs and the oracle's answers, computed once per test binary.
fn reference() -> &'static Reference {
    static REF: OnceLock<Reference> = OnceLock::new();
    REF.get_or_init(|| {
        let g = geometry(10, 30, 6, 2000, 10_000.0);
        let (vis, dw, freq) = phase_inputs(11, 2000, 64, 1);
        let vis: Vec<Complex32> = vis
            .into_iter()
            .map(|v| {
                if v.re.is_nan() {
                    Complex32::new(1.0, 1.0)
                } else {
                    v
                }
            })
            .collect();
        let (a, b) = (random_positions(12, 1000), random_positions(13, 1000));
        let input = serde_json::json!({
            "lat": LAT, "lon": LON,
            "app_ra": g.angles.iter().map(|x| x[0]).collect::<Vec<_>>(),
            "app_dec": g.angles.iter().map(|x| x[1]).collect::<Vec<_>>(),
            "frame_pa": g.angles.iter().map(|x| x[2]).collect::<Vec<_>>(),
            "lst": g.angles.iter().map(|x| x[3]).collect::<Vec<_>>(),
            "antpos": g.antenna_xyz_m.iter().flatten().collect::<Vec<_>>(),
            "ant1": g.ant1, "ant2": g.ant2, "time_index": g.rotation_index,
            "dw": dw, "freq": freq,
            "vis_re": vis.iter().map(|v| v.re).collect::<Vec<_>>(),
            "vis_im": vis.iter().map(|v| v.im).collect::<Vec<_>>(),
            "sep_a": a.iter().flat_map(|p| [p.ra_rad, p.dec_rad]).collect::<Vec<_>>(),
            "sep_b": b.iter().flat_map(|p| [p.ra_rad, p.dec_rad]).collect::<Vec<_>>(),
        });
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.json");
        std::fs::write(&path, input.to_string()).unwrap();
        let want = common::oracle("compute_ref.py", &[&path]);
        Reference {
            geometry: g,
            vis,
            dw,
            freq,
            a,
            b,
            uvw: common::f64s(&want["uvw"]),
            vis_re: common::f64s(&want["vis_re"]),
            vis_im: common::f64s(&want["vis_im"]),
            sep: common::f64s(&want["sep"]),
        }
    })
}

/// The expected-value suite: `backend` against pyuvdata and astropy.
fn matches_pyuvdata_and_astropy(backend: &dyn Backend, eps: &Epsilon) {
    let r = reference();
    let name = backend.name();
    let uvw: Vec<f64> = uvw_of(backend, &r.geometry).into_iter().flatten().collect();
    let d = uvw
        .iter()
        .zip(&r.uvw)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    eprintln!("UVW {name} vs pyuvdata calc_uvw: {d:.3e} m");
    assert!(d < eps.uvw_m, "{name}: {d} m");

    let mut ours = r.vis.clone();
    backend.phase_correct(&mut ours, 1, &r.dw, &r.freq).unwrap();
    let worst = ours
        .iter()
        .zip(r.vis_re.iter().zip(&r.vis_im))
        .map(|(v, (re, im))| {
            (num_complex::Complex64::new(v.re as f64, v.im as f64)
                / num_complex::Complex64::new(*re, *im))
            .arg()
            .abs()
        })
        .fold(0.0, f64::max);
    eprintln!("phase {name} vs pyuvdata _apply_w_proj: {worst:.3e} rad");
    assert!(worst < eps.phase_rad, "{name}: {worst} rad");

    let mut sep = vec![0.0; r.a.len()];
    backend.separations(&r.a, &r.b, &mut sep).unwrap();
    let d = sep
        .iter()
        .zip(&r.sep)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max);
    eprintln!("separation {name} vs astropy: {:.4} arcsec", d / ARCSEC);
    assert!(d < eps.separation_rad, "{name}: {d} rad");
    // Sanity of the inputs: a quarter-turn phase at dw = c / f / 4.
    let mut one = vec![Complex32::new(1.0, 0.0)];
    backend
        .phase_correct(&mut one, 1, &[SPEED_OF_LIGHT_M_S / 1e9 / 4.0], &[1e9])
        .unwrap();
    assert!((one[0] - Complex32::new(0.0, -1.0)).norm() < 1e-6, "{name}");
}

/// The Measurement Set's maps for a file in pyuvdata's correlator order
/// XX, YY, XY, YX, written out by hand: an unswapped row goes to XX, XY,
/// YX, YY conjugated; a swapped row exchanges its cross-hands and is not
/// conjugated.
fn ms_maps_by_hand() -> [PolMap; 2] {
    [
        PolMap {
            source: vec![0, 2, 3, 1],
            conjugate: true,
        },
        PolMap {
            source: vec![0, 3, 2, 1],
            conjugate: false,
        },
    ]
}

/// The expected-value case of the fused transform: a quarter turn of phase
/// (dw = c / f / 4 multiplies by -i), then each row's correlations in the
/// MS's order and conjugation; a row with no phase change is still
/// reordered.
fn transforms_one_row_of_each_kind(backend: &dyn Backend) {
    let c = Complex32::new;
    let file_row = [c(1.0, 2.0), c(4.0, 8.0), c(2.0, 4.0), c(3.0, 6.0)];
    let mut vis = [file_row, file_row, file_row].concat();
    let f = 1.4e9;
    let quarter = SPEED_OF_LIGHT_M_S / f / 4.0;
    let maps = ms_maps_by_hand();
    let t = VisTransform {
        dw_m: &[quarter, quarter, 0.0],
        freq_hz: &[f],
        alternate: &[false, true, true],
        maps: &maps,
    };
    backend.transform(&t, &mut vis).unwrap();
    // (a + bi)(-i) = b - ai; conjugated: b + ai.
    let want = [
        [c(2.0, 1.0), c(4.0, 2.0), c(6.0, 3.0), c(8.0, 4.0)],
        [c(2.0, -1.0), c(6.0, -3.0), c(4.0, -2.0), c(8.0, -4.0)],
        [c(1.0, 2.0), c(3.0, 6.0), c(2.0, 4.0), c(4.0, 8.0)],
    ]
    .concat();
    for (k, (got, want)) in vis.iter().zip(&want).enumerate() {
        assert!(
            (got - want).norm() < 1e-5,
            "{}: cell {k}: {got} != {want}",
            backend.name()
        );
    }
    // A map that names a correlation the rows lack is refused.
    let bad = [
        PolMap::identity(4),
        PolMap {
            source: vec![0, 1, 2, 4],
            conjugate: false,
        },
    ];
    let t = VisTransform { maps: &bad, ..t };
    assert!(matches!(
        backend.transform(&t, &mut vis),
        Err(ComputeError::Input(_))
    ));
}

#[test]
fn cpu_transform_phases_reorders_and_conjugates_each_row() {
    transforms_one_row_of_each_kind(&CpuBackend);
}

#[test]
fn gpu_transform_phases_reorders_and_conjugates_each_row() {
    let Some(gpu) = gpu(u64::MAX) else { return };
    transforms_one_row_of_each_kind(&gpu);
}

#[test]
fn gpu_transform_equals_cpu_on_swapped_and_unswapped_four_pol_rows() {
    // Tiles of 64 rows: the row bits of every tile start at its first row.
    let Some(gpu) = gpu(64 * 96 * 4 * 8) else {
        return;
    };
    let (vis, dw, freq) = phase_inputs(5, 1000, 96, 4);
    let mut rng = rand::rngs::StdRng::seed_from_u64(6);
    let alternate: Vec<bool> = (0..dw.len()).map(|_| rng.random_bool(0.5)).collect();
    let maps = ms_maps_by_hand();
    let t = VisTransform {
        dw_m: &dw,
        freq_hz: &freq,
        alternate: &alternate,
        maps: &maps,
    };
    let (mut a, mut b) = (vis.clone(), vis.clone());
    gpu.transform(&t, &mut a).unwrap();
    CpuBackend.transform(&t, &mut b).unwrap();
    let mut worst = 0.0f32;
    for (x, y) in a.iter().zip(&b).filter(|(_, y)| !y.re.is_nan()) {
        worst = worst.max((x - y).norm() / y.norm().max(1e-30));
    }
    eprintln!("transform GPU vs CPU: max relative error {worst:.3e}");
    assert!(worst < 3e-6, "{worst}");
}

#[test]
fn cpu_matches_pyuvdata_calc_uvw_phasing_and_astropy_separations() {
    matches_pyuvdata_and_astropy(&CpuBackend, &CPU_EPSILON);
}

#[test]
fn gpu_matches_pyuvdata_calc_uvw_phasing_and_astropy_separations() {
    let Some(gpu) = gpu(u64::MAX) else { return };
    matches_pyuvdata_and_astropy(&gpu, &GPU_EPSILON);
}

#[test]
fn gpu_without_f64_runs_the_phase_kernel_and_the_rest_on_the_cpu() {
    // An adapter without SHADER_F64 (most integrated GPUs, Metal, GL).
    let Some(gpu) = gpu_with(GpuOptions {
        without_f64: true,
        ..Default::default()
    }) else {
        return;
    };
    let k = gpu.kernels();
    assert!(k.phase && !k.uvw && !k.separation, "{k:?}");
    matches_pyuvdata_and_astropy(&gpu, &GPU_EPSILON);
    // The phase kernel did run on the device: it allocated its buffers.
    assert!(gpu.buffer_allocations() > 0);
}

/// Phase-correct `vis` block by block as a conversion does.
fn phase_blocks(b: &dyn Backend, vis: &mut [Complex32], dw: &[f64], freq: &[f64], rows: usize) {
    let per_row = freq.len() * 2;
    for (v, d) in vis.chunks_mut(rows * per_row).zip(dw.chunks(rows)) {
        b.phase_correct(v, 2, d, freq).unwrap();
    }
}

#[test]
fn blocks_after_the_first_allocate_no_device_buffer() {
    let Some(gpu) = gpu(u64::MAX) else { return };
    let geo = geometry(20, 40, 8, 4000, 3000.0);
    let (vis, dw, freq) = phase_inputs(21, 400, 768, 2);
    // First block: the pool is sized.
    let mut first = vis[..40 * 1536].to_vec();
    gpu.phase_correct(&mut first, 2, &dw[..40], &freq).unwrap();
    let mut uvw = vec![[0.0; 3]; 400];
    let req = UvwRequest {
        antenna_xyz_m: &geo.antenna_xyz_m,
        ant1: &geo.ant1[..400],
        ant2: &geo.ant2[..400],
        rotation_index: &geo.rotation_index[..400],
        rotations: &geo.rotations,
    };
    gpu.uvw(&req, &mut uvw).unwrap();
    let after_first = gpu.buffer_allocations();
    assert!(after_first > 0);
    // Nine more blocks of the same size (the last one shorter).
    let (mut a, mut b) = (vis.clone(), vis);
    phase_blocks(&gpu, &mut a[40 * 1536..], &dw[40..], &freq, 40);
    for start in (400..4000).step_by(400) {
        let req = UvwRequest {
            antenna_xyz_m: &geo.antenna_xyz_m,
            ant1: &geo.ant1[start..start + 400],
            ant2: &geo.ant2[start..start + 400],
            rotation_index: &geo.rotation_index[start..start + 400],
            rotations: &geo.rotations,
        };
        gpu.uvw(&req, &mut uvw).unwrap();
    }
    assert_eq!(gpu.buffer_allocations(), after_first, "a block allocated");
    // And the results are right.
    a[..40 * 1536].copy_from_slice(&first);
    phase_blocks(&CpuBackend, &mut b, &dw, &freq, 40);
    let worst = a
        .iter()
        .zip(&b)
        .filter(|(x, _)| !x.re.is_nan())
        .map(|(x, y)| (x - y).norm() / y.norm().max(1e-3))
        .fold(0.0f32, f32::max);
    assert!(worst < 3e-6, "{worst}");
    // A larger block grows the pool once, then stays.
    let (mut big, dw2, freq2) = phase_inputs(22, 80, 768, 2);
    gpu.phase_correct(&mut big, 2, &dw2, &freq2).unwrap();
    let grown = gpu.buffer_allocations();
    assert!(grown > after_first);
    gpu.phase_correct(&mut big, 2, &dw2, &freq2).unwrap();
    assert_eq!(gpu.buffer_allocations(), grown);
}

#[test]
fn a_request_larger_than_the_device_allows_is_an_error_not_a_panic() {
    // A device limited to 1 MiB buffers, and one row of 2 MiB (131072
    // channels x 2 pols x 8 bytes): tiling cannot split a row.
    let Some(gpu) = gpu_with(GpuOptions {
        device_buffer_limit: Some(1 << 20),
        ..Default::default()
    }) else {
        return;
    };
    let freq: Vec<f64> = (0..131_072).map(|c| 1.3e9 + c as f64 * 1e3).collect();
    let mut vis = vec![Complex32::new(1.0, 0.0); 131_072 * 2];
    let err = gpu
        .phase_correct(&mut vis, 2, &[100.0], &freq)
        .expect_err("a 2 MiB buffer on a 1 MiB device");
    eprintln!("oversized request: {err}");
    assert!(
        matches!(
            err,
            ComputeError::Validation(_) | ComputeError::OutOfMemory(_)
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("vis"), "names the buffer: {err}");
    // The device is still usable for requests that fit.
    let (mut small, dw, f) = phase_inputs(23, 8, 768, 2);
    let mut want = small.clone();
    gpu.phase_correct(&mut small, 2, &dw, &f).unwrap();
    CpuBackend.phase_correct(&mut want, 2, &dw, &f).unwrap();
    assert!(small
        .iter()
        .zip(&want)
        .filter(|(x, _)| !x.re.is_nan())
        .all(|(x, y)| (x - y).norm() < 1e-4));
}

#[test]
fn phase_kernel_is_exact_over_many_anchors_and_large_w() {
    // 10000 channels (three anchors of 4096) and dw up to 5 km: the f32
    // kernel's host-reduced terms hold 2e-6 rad everywhere.
    let Some(gpu) = gpu(u64::MAX) else { return };
    let (vis, dw, _) = phase_inputs(24, 12, 10_000, 1);
    let freq: Vec<f64> = (0..10_000)
        .map(|c| 1.28e9 + c as f64 * 30_517.578_125)
        .collect();
    let (mut a, mut b) = (vis.clone(), vis);
    gpu.phase_correct(&mut a, 1, &dw, &freq).unwrap();
    CpuBackend.phase_correct(&mut b, 1, &dw, &freq).unwrap();
    let worst = a
        .iter()
        .zip(&b)
        .filter(|(x, _)| !x.re.is_nan())
        .map(|(x, y)| {
            (num_complex::Complex64::new(x.re as f64, x.im as f64)
                / num_complex::Complex64::new(y.re as f64, y.im as f64))
            .arg()
            .abs()
        })
        .fold(0.0, f64::max);
    eprintln!("phase GPU vs CPU over 10000 channels: {worst:.3e} rad");
    assert!(worst < 2e-6, "{worst}");
}

#[test]
fn auto_calibration_measures_both_backends_and_picks_the_faster() {
    let Some(gpu) = gpu(u64::MAX) else { return };
    let shape = BlockShape {
        rows: 64,
        n_chan: 768,
        n_pol: 2,
    };
    let cal = auto::calibrate(&gpu, shape).unwrap();
    for m in [cal.phase, cal.uvw, cal.separation] {
        assert!(m.gpu_s > 0.0 && m.cpu_s > 0.0, "{m:?}");
        let faster = if m.gpu_s < m.cpu_s {
            Side::Gpu
        } else {
            Side::Cpu
        };
        assert_eq!(m.chosen, faster, "{m:?}");
    }
    // Whatever it chose computes the same values as the reference.
    let chosen = auto::calibrated(gpu, shape).unwrap();
    eprintln!(
        "auto on lavapipe: {} ({})",
        chosen.name(),
        chosen.description()
    );
    matches_pyuvdata_and_astropy(chosen.as_ref(), &GPU_EPSILON);
}

#[test]
fn a_wait_on_the_device_is_bounded() {
    // A 1 ns bound on a 25 MB block: the wait gives up with a typed error
    // instead of blocking (a hung driver must not hang the daemon).
    let Some(gpu) = gpu_with(GpuOptions {
        timeout: std::time::Duration::from_nanos(1),
        ..Default::default()
    }) else {
        return;
    };
    let (mut vis, dw, freq) = phase_inputs(25, 2000, 768, 2);
    let err = gpu
        .phase_correct(&mut vis, 2, &dw, &freq)
        .expect_err("a 1 ns wait");
    eprintln!("bounded wait: {err}");
    assert!(matches!(err, ComputeError::Timeout { .. }), "{err:?}");
}
