//! QA's per-block cost beside the converter's: `QaAccumulator::add` on one
//! full-size block (one integration of 96 antennas: 4656 rows x 768
//! channels x 2 pols, 1% of the cells flagged, the calibrator's
//! integration) against the CPU phase correction of the same block, which
//! the converter runs on every block anyway. `convert --qa` adds the first
//! to each block; the budget is 5% of the conversion. Beside them,
//! WEIGHT's statistics of the block, which every conversion takes on the
//! same (reader) thread.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dsa110_convert::compute::cpu::CpuBackend;
use dsa110_convert::compute::{sample, Backend};
use dsa110_convert::ms::{Channels, WeightStats};
use dsa110_convert::qa::{CalibratorField, Conjugation, QaAccumulator, QaBlock, QaShape};
use dsa110_convert::sim::{antennas_with_data, correlator_baselines};
use num_complex::Complex32;

fn qa_block(c: &mut Criterion) {
    let antennas = antennas_with_data(96);
    let baselines = correlator_baselines(&antennas);
    let (rows, n_chan, n_pol) = (baselines.len(), 768, 2);
    let cells = rows * n_chan * n_pol;
    let shape = QaShape {
        group: "bench".into(),
        antenna_names: antennas.iter().map(|a| (a + 1).to_string()).collect(),
        antennas: antennas.clone(),
        time_jd: vec![2_460_690.5],
        // Room for every repetition of the block.
        n_rows: usize::MAX / 2,
        subband_names: QaShape::dsa_subband_names(16),
        subband_channels: 48,
        n_pols: n_pol,
        calibrator: Some(CalibratorField {
            name: "3C286".into(),
            integration: 0,
        }),
    };
    let (freq_hz, dw) = sample::phase_inputs(rows, n_chan);
    let vis: Vec<Complex32> = (0..cells)
        .map(|k| Complex32::new((k % 97) as f32 * 0.1, (k % 89) as f32 * -0.1))
        .collect();
    let flags: Vec<bool> = (0..cells).map(|k| k % 100 == 0).collect();
    let nsamples = vec![96.0f32; cells];
    let ant1: Vec<u32> = baselines.iter().map(|b| b.0).collect();
    let ant2: Vec<u32> = baselines.iter().map(|b| b.1).collect();
    let integration = vec![0u32; rows];
    let mut acc = QaAccumulator::new(&shape);
    let block = QaBlock {
        first_channel: 0,
        freq_hz: &freq_hz,
        ant1: &ant1,
        ant2: &ant2,
        integration: &integration,
        vis: &vis,
        flags: &flags,
        nsamples: &nsamples,
        conjugation: Conjugation::Uvh5,
    };
    let mut g = c.benchmark_group("qa_block_4656x768x2");
    g.throughput(Throughput::Bytes((cells * 13) as u64));
    g.bench_function("qa_add", |b| b.iter(|| acc.add(&block).unwrap()));
    let mut scratch = vis.clone();
    g.bench_function("cpu_phase_correct", |b| {
        b.iter(|| {
            CpuBackend
                .phase_correct(&mut scratch, n_pol, &dw, &freq_hz)
                .unwrap()
        })
    });
    // WEIGHT's statistics of the same block, which the converter's reader
    // thread takes beside QA's (16 subbands of 48 channels).
    let mut stats = WeightStats::new(rows, n_pol);
    let channels = Channels {
        n_rows: rows,
        vis: &vis,
        flags: &flags,
        nsamples: &nsamples,
    };
    g.bench_function("weight_stats_add", |b| {
        b.iter(|| {
            stats.add(0, (0..16).map(|sb| ((sb * 48, 48), sb * 48)), &channels);
        })
    });
    g.finish();
}

criterion_group!(benches, qa_block);
criterion_main!(benches);
