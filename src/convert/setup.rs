//! What a conversion derives from a group's header before reading any
//! visibility: phase centres, the MS antennas, per-row indices, and the
//! description of the MS. Shared by the block pipeline and the
//! subband-by-subband conversion of the streaming daemon.

use std::path::{Path, PathBuf};

use crate::astro::{Astrometer, Site};
use crate::calibrators::{self, Catalog};
use crate::compute::{Backend, UvwRequest};
use crate::group::Group;
use crate::ms::{self, Antenna, Field, MsLayout, MsSpec, OutputClaim, OutputState, RowMeta};
use crate::telescope;
use crate::uvh5::{Header, PhaseCenter};

use super::plan::Plan;
use super::{ConvertError, ConvertOptions, ConvertSummary};

/// Everything per row but the visibilities.
pub(super) struct Setup {
    pub header: Header,
    pub plan: Plan,
    site: Site,
    ms_antennas: Vec<Antenna>,
    /// ECEF offsets from the array position, metres, by antenna number.
    antenna_xyz_m: Vec<[f64; 3]>,
    /// Antenna numbers of each row.
    pub ant1: Vec<u32>,
    pub ant2: Vec<u32>,
    /// Index of each row's integration (and rotation).
    time_index: Vec<u32>,
    field_id: Vec<u32>,
    scan_number: Vec<i32>,
    time_mjd_s: Vec<f64>,
}

impl Setup {
    pub fn new(header: &Header, opts: &ConvertOptions) -> Result<Setup, ConvertError> {
        let site = Site::from_degrees(header.latitude_deg, header.longitude_deg, header.altitude_m);
        let astro = Astrometer::new(site, opts.iers.table()?);
        let plan = Plan::new(header, &opts.phase_center, &astro)?;
        tracing::info!(
            "phase centres: {} ({} field{})",
            plan.mode_name,
            plan.fields.len(),
            if plan.fields.len() == 1 { "" } else { "s" }
        );
        let (ms_antennas, antenna_xyz_m) = antennas(header, &site)?;
        // Headers are read with every row's antennas among antenna_numbers,
        // all in 0..=65535 (uvh5::check).
        let ant1: Vec<u32> = header.ant_1_array.iter().map(|&n| n as u32).collect();
        let ant2: Vec<u32> = header.ant_2_array.iter().map(|&n| n as u32).collect();
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
        let scan_number = field_id.iter().map(|&f| f as i32 + 1).collect();
        let time_mjd_s = header.time_jd.iter().map(|&t| jd_to_mjd_s(t)).collect();
        Ok(Setup {
            header: header.clone(),
            plan,
            site,
            ms_antennas,
            antenna_xyz_m,
            ant1,
            ant2,
            time_index,
            field_id,
            scan_number,
            time_mjd_s,
        })
    }

    pub fn n_rows(&self) -> usize {
        self.header.n_blts
    }

    /// The main table's layout for `n_chan` channels in tiles of
    /// `channels_per_tile`.
    pub fn layout(
        &self,
        n_chan: usize,
        channels_per_tile: usize,
        opts: &ConvertOptions,
    ) -> MsLayout {
        MsLayout {
            n_chan,
            channels_per_tile,
            polarizations: self.header.polarizations.clone(),
            imaging_columns: opts.imaging_columns,
        }
    }

    /// New UVW (metres) of rows `r0..r0 + out.len()`.
    pub fn uvw(
        &self,
        backend: &dyn Backend,
        r0: usize,
        out: &mut [[f64; 3]],
    ) -> Result<(), ConvertError> {
        let r1 = r0 + out.len();
        let req = UvwRequest {
            antenna_xyz_m: &self.antenna_xyz_m,
            ant1: &self.ant1[r0..r1],
            ant2: &self.ant2[r0..r1],
            rotation_index: &self.time_index[r0..r1],
            rotations: &self.plan.rotations,
        };
        Ok(backend.uvw(&req, out)?)
    }

    /// w change of rows `r0..` for their new UVW: new w minus the w stored
    /// in the file (the one the correlator fringe-stopped with), metres.
    pub fn dw_m(&self, r0: usize, uvw: &[[f64; 3]], dw: &mut [f64]) {
        for (i, (dw, uvw)) in dw.iter_mut().zip(uvw).enumerate() {
            *dw = uvw[2] - self.header.uvw_m[r0 + i][2];
        }
    }

    /// The per-row columns of rows `r0..r0 + uvw_m.len()`.
    pub fn meta<'a>(&'a self, r0: usize, uvw_m: &'a [[f64; 3]]) -> RowMeta<'a> {
        let r1 = r0 + uvw_m.len();
        RowMeta {
            time_mjd_s: &self.time_mjd_s[r0..r1],
            interval_s: &self.header.integration_time_s[r0..r1],
            ant1: &self.ant1[r0..r1],
            ant2: &self.ant2[r0..r1],
            uvw_m,
            field_id: &self.field_id[r0..r1],
            scan_number: &self.scan_number[r0..r1],
        }
    }

    /// What the conversion into `ms_path` did; seconds are [read, compute,
    /// write, total].
    pub fn summary(
        &self,
        ms_path: PathBuf,
        group: &Group,
        opts: &ConvertOptions,
        block_rows: usize,
        [seconds_read, seconds_compute, seconds_write, seconds_total]: [f64; 4],
    ) -> ConvertSummary {
        ConvertSummary {
            ms_path,
            inputs: group.paths().to_vec(),
            rows: self.n_rows(),
            channels: group.freq_hz().len(),
            polarizations: self.header.n_pols,
            fields: self.plan.fields.clone(),
            backend: opts.backend.name().to_string(),
            phase_center_mode: self.plan.mode_name.clone(),
            block_rows,
            seconds_read,
            seconds_compute,
            seconds_write,
            seconds_total,
            bytes_read: group
                .paths()
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum(),
        }
    }

    /// Name the fields (calibrators, in meridian mode with a catalog) and
    /// describe the MS subtables for the joined band.
    pub fn spec(
        &mut self,
        freq_hz: &[f64],
        channel_width_hz: &[f64],
        opts: &ConvertOptions,
    ) -> Result<MsSpec, ConvertError> {
        if let (Some(catalog), "meridian") = (&opts.calibrators, self.plan.mode_name.as_str()) {
            rename_calibrator_fields(&mut self.plan, catalog, freq_hz, opts)?;
        }
        let header = &self.header;
        Ok(MsSpec {
            telescope_name: if header.telescope_name.is_empty() {
                "DSA_110".into()
            } else {
                header.telescope_name.clone()
            },
            telescope_location_itrf_m: self.site.ecef_m(),
            observer: String::new(),
            project: header.object_name.clone(),
            antennas: self.ms_antennas.clone(),
            freq_hz: freq_hz.to_vec(),
            channel_width_hz: channel_width_hz.to_vec(),
            polarizations: header.polarizations.clone(),
            fields: self
                .plan
                .fields
                .iter()
                .map(|f| Field {
                    name: f.name.clone(),
                    phase_dir: f.position,
                    time_mjd_s: jd_to_mjd_s(f.time_jd),
                })
                .collect(),
            time_range_mjd_s: (
                jd_to_mjd_s(self.plan.times_jd[0]),
                jd_to_mjd_s(*self.plan.times_jd.last().expect("at least one time")),
            ),
            history: vec![
                format!("dsa110-convert {}", env!("CARGO_PKG_VERSION")),
                opts.command_line.clone(),
            ],
        })
    }
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
            (false, Some(d)) => d.get(i).copied().unwrap_or(0.0),
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

/// The right to write `out_ms` (one writer per output): an existing
/// complete MS is an error unless `opts.overwrite`, and so is anything else
/// at the path ([`ConvertError::OutputNotMs`]). Checked under the lock,
/// which the writer holds until the MS is in place.
pub(super) fn claim_output(
    out_ms: &Path,
    opts: &ConvertOptions,
) -> Result<OutputClaim, ConvertError> {
    let claim = OutputClaim::acquire(out_ms)?;
    match (ms::inspect(out_ms), opts.overwrite) {
        (OutputState::Absent, _) | (_, true) => Ok(claim),
        (OutputState::Complete, false) => Err(ConvertError::OutputExists(out_ms.to_path_buf())),
        (OutputState::NotAnMs(reason), false) => Err(ConvertError::OutputNotMs {
            path: out_ms.to_path_buf(),
            reason,
        }),
    }
}

fn jd_to_mjd_s(time_jd: f64) -> f64 {
    (time_jd - 2_400_000.5) * 86_400.0
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
