//! What a conversion derives from a group's header before reading any
//! visibility: phase centres, the MS antennas, per-row indices, and the
//! description of the MS.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::astro::{Astrometer, Site};
use crate::compute::{Backend, UvwRequest};
use crate::group::Group;
use crate::ms::{
    self, Antenna, Field, MsLayout, MsSpec, OutputClaim, OutputState, RowMeta, SpwLayout,
};
use crate::phasing::Plan;
use crate::telescope;
use crate::uvh5::{Header, PhaseCenter};

use super::{ConvertError, ConvertOptions, ConvertSummary};

/// Everything per row but the visibilities.
pub(super) struct Setup {
    /// The header of one file (rows are the same in every file).
    pub header: Arc<Header>,
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
    /// The set-up for the group `header` describes, whose band is centred
    /// on `centre_hz` (for the primary beam that names calibrator fields).
    pub fn new(
        header: Arc<Header>,
        centre_hz: f64,
        opts: &ConvertOptions,
    ) -> Result<Setup, ConvertError> {
        let site = Site::from_degrees(header.latitude_deg, header.longitude_deg, header.altitude_m);
        let astro = Astrometer::new(site, opts.iers.table()?);
        let mut plan = Plan::new(&header, &opts.phase_center, &astro)?;
        if let Some(catalog) = &opts.calibrators {
            let integration_s = header.integration_time_s.first().copied().unwrap_or(0.0);
            plan.name_calibrators(catalog, opts.backend.as_ref(), centre_hz, integration_s)?;
        }
        tracing::info!(
            "phase centres: {} ({} field{})",
            plan.mode_name,
            plan.fields.len(),
            if plan.fields.len() == 1 { "" } else { "s" }
        );
        let (ms_antennas, antenna_xyz_m) = antennas(&header, &site);
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
            header,
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

    /// The main table's layout for `n_subbands` subbands of `width`
    /// channels each.
    pub fn layout(&self, n_subbands: usize, width: usize, opts: &ConvertOptions) -> MsLayout {
        let (n_windows, window_chans) = match opts.spw_layout {
            SpwLayout::Subbands => (n_subbands, width),
            SpwLayout::Merged => (1, n_subbands * width),
        };
        MsLayout {
            n_windows,
            window_chans,
            channels_per_tile: width,
            polarizations: self.header.polarizations.clone(),
            imaging_columns: opts.imaging_columns,
        }
    }

    /// The scan number of every row (one scan per field).
    pub fn scan_number(&self) -> &[i32] {
        &self.scan_number
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
        spectral_windows: usize,
        opts: &ConvertOptions,
        block_rows: usize,
        [seconds_read, seconds_compute, seconds_write, seconds_total]: [f64; 4],
    ) -> ConvertSummary {
        ConvertSummary {
            ms_path,
            inputs: group.paths().to_vec(),
            rows: self.n_rows(),
            channels: group.freq_hz().len(),
            spectral_windows,
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
            qa: None,
        }
    }

    /// Describe the MS subtables for the joined band of `group`.
    pub fn spec(&self, group: &Group, layout: &MsLayout, opts: &ConvertOptions) -> MsSpec {
        let (freq_hz, channel_width_hz) = (group.freq_hz(), group.channel_width_hz());
        let header = &self.header;
        MsSpec {
            telescope_name: telescope_name(header, opts),
            telescope_location_itrf_m: self.site.ecef_m(),
            observer: String::new(),
            project: header.object_name.clone(),
            antennas: self.ms_antennas.clone(),
            freq_hz: freq_hz.to_vec(),
            channel_width_hz: channel_width_hz.to_vec(),
            window_names: crate::group::window_names(group, layout.n_windows),
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
        }
    }
}

/// TELESCOPE_NAME: the user's, else [`telescope::MS_TELESCOPE_NAME`] for
/// DSA-110 files (their `OVRO_MMA` is CASA's name for another array, whose
/// entry in CASA's observatory table is 1188 m from the Earth's centre),
/// else the files' own name.
fn telescope_name(header: &Header, opts: &ConvertOptions) -> String {
    if let Some(name) = &opts.telescope_name {
        return name.clone();
    }
    let dsa = matches!(header.phase_center, PhaseCenter::DsaMeridian { .. });
    if dsa || header.telescope_name.is_empty() {
        telescope::MS_TELESCOPE_NAME.into()
    } else {
        header.telescope_name.clone()
    }
}

/// Antennas of the MS and their ECEF offsets from the array position,
/// both indexed by antenna number (the MS uses the number as the ANTENNA
/// row; numbers missing from the file get empty, flagged rows).
///
/// DSA-110 files get their positions from the station table (the files'
/// own table is the correlator's and may be stale); other files keep theirs.
/// Headers are read with antenna numbers in 0..=65535 and one diameter per
/// antenna, if any ([`crate::uvh5::check`]).
fn antennas(header: &Header, site: &Site) -> (Vec<Antenna>, Vec<[f64; 3]>) {
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
    (ms, rel)
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
