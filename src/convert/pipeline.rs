//! The block loop: a reader thread fills row blocks from all subbands while
//! the calling thread computes and writes the previous block.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use num_complex::Complex32;

use super::plan::Plan;
use super::{ConvertError, ConvertOptions, ConvertSummary};
use crate::astro::{Astrometer, Iers, Site};
use crate::calibrators::{self, Catalog};
use crate::compute::UvwRequest;
use crate::group::Group;
use crate::ms::{Antenna, Field, MsSpec, MsWriter, RowBlock};
use crate::telescope;
use crate::uvh5::{Header, PhaseCenter};

/// Row buffers of one block, `[row][chan ascending][pol]`, with the new
/// UVW (metres) and w change of each row.
struct Block {
    r0: usize,
    r1: usize,
    vis: Vec<Complex32>,
    flags: Vec<bool>,
    nsamples: Vec<f32>,
    uvw: Vec<[f64; 3]>,
    dw: Vec<f64>,
}

/// Blocks circulating between the reader, compute and writer stages.
const BLOCKS_IN_FLIGHT: usize = 3;

impl Block {
    fn new(rows: usize, per_row: usize) -> Block {
        Block {
            r0: 0,
            r1: 0,
            vis: vec![Complex32::new(0.0, 0.0); rows * per_row],
            flags: vec![false; rows * per_row],
            nsamples: vec![0.0; rows * per_row],
            uvw: vec![[0.0; 3]; rows],
            dw: vec![0.0; rows],
        }
    }
}

/// Bytes the pipeline holds per row: visibilities, flags and nsamples in
/// three buffers (two in flight, one inside the writer) plus per-row
/// geometry.
fn bytes_per_row(per_row: usize) -> usize {
    3 * per_row * (std::mem::size_of::<Complex32>() + 1 + 4) + 128
}

/// Memory kept out of the block budget: the group's header arrays,
/// casacore's and HDF5's caches, the program itself.
const FIXED_OVERHEAD_BYTES: usize = 192 << 20;

/// Size of one block's row buffers that the pipeline aims for: small
/// blocks keep the reader, the kernels and the writer overlapping and the
/// caches warm (measured: 32 MiB blocks convert a full-size group ~30%
/// faster than 200 MiB ones, in half the memory).
const TARGET_BLOCK_BYTES: usize = 32 << 20;

/// Rows per block: about [`TARGET_BLOCK_BYTES`] of buffers, fewer when
/// `max_memory_bytes` demands it (never fewer than one row).
fn block_rows(max_memory_bytes: usize, per_row: usize, n_rows: usize) -> usize {
    let budget = max_memory_bytes.saturating_sub(FIXED_OVERHEAD_BYTES);
    let fit = budget / bytes_per_row(per_row);
    let target = TARGET_BLOCK_BYTES / (per_row * (std::mem::size_of::<Complex32>() + 1 + 4)).max(1);
    fit.min(target).clamp(1, n_rows.max(1))
}

/// Antennas of the MS and their ECEF offsets from the array position,
/// both indexed by antenna number (the MS uses the number as the ANTENNA
/// row; numbers missing from the file get empty, flagged rows).
///
/// DSA-110 files get their positions from the station table (the files'
/// own table is the correlator's and may be stale); other files keep theirs.
fn antennas(header: &Header, site: &Site) -> Result<(Vec<Antenna>, Vec<[f64; 3]>), ConvertError> {
    let origin = site.ecef_m();
    let stations = telescope::stations();
    let dsa = matches!(header.phase_center, PhaseCenter::DsaMeridian { .. });
    if let Some(&bad) = header
        .antenna_numbers
        .iter()
        .find(|&&n| !(0..=MAX_ANTENNA_NUMBER).contains(&n))
    {
        return Err(ConvertError::Input {
            path: header.path.clone(),
            what: format!("antenna number {bad} outside 0..={MAX_ANTENNA_NUMBER}"),
        });
    }
    let size = header
        .antenna_numbers
        .iter()
        .max()
        .map_or(0, |&n| n as usize + 1);
    let blank = Antenna {
        name: String::new(),
        station: String::new(),
        position_itrf_m: origin,
        diameter_m: 0.0,
    };
    let mut ms = vec![blank; size];
    let mut rel = vec![[0.0; 3]; size];
    for (i, (&number, name)) in header
        .antenna_numbers
        .iter()
        .zip(&header.antenna_names)
        .enumerate()
    {
        let station = dsa
            .then(|| telescope::station_for_antenna_name(&stations, name))
            .flatten();
        let offset = match station {
            Some(s) => {
                let p = s.ecef_m();
                [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]]
            }
            None => header.antenna_positions_m[i],
        };
        let diameter_m = match (dsa, &header.antenna_diameters_m) {
            (true, _) => telescope::DISH_DIAMETER_M,
            (false, Some(d)) => d[i],
            (false, None) => 0.0,
        };
        let n = number as usize;
        ms[n] = Antenna {
            name: name.clone(),
            station: station
                .map(|s| s.name.clone())
                .unwrap_or_else(|| name.clone()),
            position_itrf_m: [
                origin[0] + offset[0],
                origin[1] + offset[1],
                origin[2] + offset[2],
            ],
            diameter_m,
        };
        rel[n] = offset;
    }
    Ok((ms, rel))
}

/// Largest antenna number accepted (the ANTENNA table has one row per number).
const MAX_ANTENNA_NUMBER: i64 = 65_535;

fn jd_to_mjd_s(time_jd: f64) -> f64 {
    (time_jd - 2_400_000.5) * 86_400.0
}

/// Convert one group (`files`, any order) into the Measurement Set `out_ms`.
/// The MS appears at `out_ms` only when complete.
pub fn convert_group(
    files: &[PathBuf],
    out_ms: &Path,
    opts: &ConvertOptions,
) -> Result<ConvertSummary, ConvertError> {
    let t_total = Instant::now();
    if out_ms.exists() && !opts.overwrite {
        return Err(ConvertError::OutputExists(out_ms.to_path_buf()));
    }
    let group = Group::open(files, opts.chunk_cache_bytes)?;
    let header = group.header().clone();
    let site = Site::from_degrees(header.latitude_deg, header.longitude_deg, header.altitude_m);
    let astro = Astrometer::new(site.clone(), Iers::embedded());
    let mut plan = Plan::new(&header, &opts.phase_center, &astro)?;
    tracing::info!(
        "phase centres: {} ({} field{})",
        plan.mode_name,
        plan.fields.len(),
        if plan.fields.len() == 1 { "" } else { "s" }
    );

    let (ms_antennas, antenna_xyz_m) = antennas(&header, &site)?;
    let known = |number: &i64| -> Result<u32, ConvertError> {
        header
            .antenna_numbers
            .contains(number)
            .then_some(*number as u32)
            .ok_or_else(|| ConvertError::UnknownAntenna {
                path: header.path.clone(),
                number: *number,
            })
    };
    let n_rows = header.n_blts;
    let ant1: Vec<u32> = header
        .ant_1_array
        .iter()
        .map(known)
        .collect::<Result<_, _>>()?;
    let ant2: Vec<u32> = header
        .ant_2_array
        .iter()
        .map(known)
        .collect::<Result<_, _>>()?;
    let time_index: Vec<u32> = header
        .time_jd
        .iter()
        .map(|&t| plan.time_index(t) as u32)
        .collect();
    let field_id: Vec<u32> = time_index
        .iter()
        .map(|&t| plan.field_of_time[t as usize])
        .collect();
    // A new scan with every field, as CASA expects.
    let scan_number: Vec<i32> = field_id.iter().map(|&f| f as i32 + 1).collect();
    let time_mjd_s: Vec<f64> = header.time_jd.iter().map(|&t| jd_to_mjd_s(t)).collect();

    let freq_hz = group.freq_hz().to_vec();
    if let (Some(catalog), "meridian") = (&opts.calibrators, plan.mode_name.as_str()) {
        rename_calibrator_fields(&mut plan, catalog, &freq_hz, opts)?;
    }
    let n_chan = freq_hz.len();
    let n_pol = header.n_pols;
    let per_row = n_chan * n_pol;
    let spec = MsSpec {
        telescope_name: if header.telescope_name.is_empty() {
            "DSA_110".into()
        } else {
            header.telescope_name.clone()
        },
        telescope_location_itrf_m: site.ecef_m(),
        observer: String::new(),
        project: header.object_name.clone(),
        antennas: ms_antennas,
        freq_hz: freq_hz.clone(),
        channel_width_hz: group.channel_width_hz().to_vec(),
        polarizations: header.polarizations.clone(),
        fields: plan
            .fields
            .iter()
            .map(|f| Field {
                name: f.name.clone(),
                phase_dir: f.position,
                time_mjd_s: jd_to_mjd_s(f.time_jd),
            })
            .collect(),
        time_range_mjd_s: (
            jd_to_mjd_s(plan.times_jd[0]),
            jd_to_mjd_s(*plan.times_jd.last().expect("at least one time")),
        ),
        history: vec![
            format!("dsa110-convert {}", env!("CARGO_PKG_VERSION")),
            opts.command_line.clone(),
        ],
        imaging_columns: opts.imaging_columns,
    };

    let block = block_rows(opts.max_memory_bytes, per_row, n_rows);
    if opts.max_memory_bytes < FIXED_OVERHEAD_BYTES + 64 * bytes_per_row(per_row) {
        tracing::warn!(
            "--max-memory {} MiB leaves room for only {block} rows per block: expect a slow conversion \
             (the converter needs about {} MiB besides its row buffers)",
            opts.max_memory_bytes >> 20,
            FIXED_OVERHEAD_BYTES >> 20
        );
    }
    tracing::debug!("blocks of {block} rows");

    let mut writer = MsWriter::create(out_ms, &spec, n_rows)?;
    let progress = progress_bar(opts.progress, n_rows as u64);
    let mut seconds_write = 0.0;

    // Three stages, one block each in flight: the reader thread fills a
    // block, the compute thread applies UVW and phases to the previous one,
    // and this thread writes the one before (casacore tables stay on the
    // thread that opened them).
    let mut reader = group.reader(opts.read_workers)?;
    let (seconds_read, seconds_compute) =
        std::thread::scope(|s| -> Result<(f64, f64), ConvertError> {
            let (full_tx, full_rx) = mpsc::sync_channel::<Result<Block, ConvertError>>(1);
            let (done_tx, done_rx) = mpsc::sync_channel::<Result<Block, ConvertError>>(1);
            let (empty_tx, empty_rx) = mpsc::sync_channel::<Block>(BLOCKS_IN_FLIGHT);
            for _ in 0..BLOCKS_IN_FLIGHT {
                empty_tx
                    .send(Block::new(block, per_row))
                    .expect("fresh channel");
            }
            let reading = s.spawn(move || {
                let mut seconds = 0.0;
                for r0 in (0..n_rows).step_by(block) {
                    let Ok(mut b) = empty_rx.recv() else { break };
                    let r1 = (r0 + block).min(n_rows);
                    let n = (r1 - r0) * per_row;
                    let t = Instant::now();
                    let res = reader
                        .read_rows(
                            r0,
                            r1,
                            &mut b.vis[..n],
                            &mut b.flags[..n],
                            &mut b.nsamples[..n],
                        )
                        .map_err(ConvertError::from);
                    seconds += t.elapsed().as_secs_f64();
                    b.r0 = r0;
                    b.r1 = r1;
                    let failed = res.is_err();
                    if full_tx.send(res.map(|()| b)).is_err() || failed {
                        break;
                    }
                }
                seconds
            });
            let (antenna_xyz_m, ant1, ant2, time_index) =
                (&antenna_xyz_m, &ant1, &ant2, &time_index);
            let (rotations, uvw_old, freq_hz) = (&plan.rotations, &header.uvw_m, &freq_hz);
            let backend = opts.backend.as_ref();
            let computing = s.spawn(move || {
                let mut seconds = 0.0;
                for received in full_rx.iter() {
                    let t = Instant::now();
                    let res = received.and_then(|mut b| {
                        let (r0, r1) = (b.r0, b.r1);
                        let rows = r1 - r0;
                        let req = UvwRequest {
                            antenna_xyz_m,
                            ant1: &ant1[r0..r1],
                            ant2: &ant2[r0..r1],
                            rotation_index: &time_index[r0..r1],
                            rotations,
                        };
                        backend.uvw(&req, &mut b.uvw[..rows])?;
                        for (i, dw) in b.dw[..rows].iter_mut().enumerate() {
                            *dw = b.uvw[i][2] - uvw_old[r0 + i][2];
                        }
                        backend.phase_correct(
                            &mut b.vis[..rows * per_row],
                            n_pol,
                            &b.dw[..rows],
                            freq_hz,
                        )?;
                        Ok(b)
                    });
                    seconds += t.elapsed().as_secs_f64();
                    let failed = res.is_err();
                    if done_tx.send(res).is_err() || failed {
                        break;
                    }
                }
                seconds
            });

            for received in done_rx.iter() {
                let b = received?;
                let (r0, r1) = (b.r0, b.r1);
                let rows = r1 - r0;
                let n = rows * per_row;
                let t = Instant::now();
                writer.write_rows(
                    r0,
                    &RowBlock {
                        time_mjd_s: &time_mjd_s[r0..r1],
                        interval_s: &header.integration_time_s[r0..r1],
                        ant1: &ant1[r0..r1],
                        ant2: &ant2[r0..r1],
                        uvw_m: &b.uvw[..rows],
                        field_id: &field_id[r0..r1],
                        scan_number: &scan_number[r0..r1],
                        vis: &b.vis[..n],
                        flags: &b.flags[..n],
                        nsamples: &b.nsamples[..n],
                    },
                )?;
                seconds_write += t.elapsed().as_secs_f64();
                progress.inc(rows as u64);
                // The reader may have stopped after the last block: ignore a closed channel.
                let _ = empty_tx.send(b);
            }
            let read = reading.join().expect("reader thread panicked");
            let compute = computing.join().expect("compute thread panicked");
            Ok((read, compute))
        })?;

    let t = Instant::now();
    if opts.overwrite && out_ms.exists() {
        std::fs::remove_dir_all(out_ms).map_err(|source| ConvertError::Replace {
            path: out_ms.to_path_buf(),
            source,
        })?;
    }
    let ms_path = writer.finish()?;
    seconds_write += t.elapsed().as_secs_f64();
    progress.finish_and_clear();

    Ok(ConvertSummary {
        ms_path,
        inputs: group.paths().to_vec(),
        rows: n_rows,
        channels: n_chan,
        polarizations: n_pol,
        fields: plan.fields.clone(),
        backend: opts.backend.name().to_string(),
        phase_center_mode: plan.mode_name.clone(),
        block_rows: block,
        seconds_read,
        seconds_compute,
        seconds_write,
        seconds_total: t_total.elapsed().as_secs_f64(),
        bytes_read: group
            .paths()
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum(),
    })
}

/// Name the field where each catalog calibrator peaks `<name>_t<idx>`.
fn rename_calibrator_fields(
    plan: &mut Plan,
    catalog: &Catalog,
    freq_hz: &[f64],
    opts: &ConvertOptions,
) -> Result<(), ConvertError> {
    let centre_hz = 0.5 * (freq_hz[0] + freq_hz[freq_hz.len() - 1]);
    let positions: Vec<_> = plan.fields.iter().map(|f| f.position).collect();
    let report = calibrators::beam_report(
        opts.backend.as_ref(),
        &positions,
        catalog,
        telescope::DISH_DIAMETER_M,
        centre_hz,
    )?;
    let names: Vec<String> = plan.fields.iter().map(|f| f.name.clone()).collect();
    for (field, name) in plan
        .fields
        .iter_mut()
        .zip(calibrators::renamed_fields(&names, &report))
    {
        if field.name != name {
            tracing::info!("calibrator field: {} -> {}", field.name, name);
            field.name = name;
        }
    }
    Ok(())
}

fn progress_bar(enabled: bool, rows: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(rows);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} rows ({per_sec}, eta {eta})",
    ) {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_aim_at_32_mib_within_the_budget() {
        // 768 channels x 2 pols: 1536 * 13 = 19968 bytes per row per copy.
        let per_row = 768 * 2;
        let rows = block_rows(1 << 30, per_row, 111_744);
        assert_eq!(rows, (32 << 20) / 19_968);
        // A tight budget shrinks the blocks to fit it.
        let tight = FIXED_OVERHEAD_BYTES + 100 * bytes_per_row(per_row);
        assert_eq!(block_rows(tight, per_row, 111_744), 100);
        // Below one row's worth it still makes progress, row by row.
        assert_eq!(block_rows(1, per_row, 111_744), 1);
        // Never more rows than the group has.
        assert_eq!(block_rows(1 << 30, per_row, 50), 50);
    }
}
