//! What a conversion derives from a group's header before reading any
//! visibility: phase centres, the MS antennas, per-row indices, and the
//! description of the MS.

use std::path::PathBuf;
use std::sync::Arc;

use crate::astro::{jd_to_mjd_s, Astrometer, Site};
use crate::compute::{Backend, UvwRequest};
use crate::group::Group;
use crate::ms::{Antenna, Field, MsLayout, MsSpec, RowMeta};
use crate::phasing::Plan;
use crate::telescope;
use crate::uvh5::Header;

use super::{ConvertError, ConvertOptions, Outline};

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
    /// The scan number of every row (one scan per field).
    pub scan_number: Vec<i32>,
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
        let (ms_antennas, antenna_xyz_m) = telescope::ms_antennas(&header, &site);
        let (ant1, ant2) = header.row_antennas();
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

    /// The main table's layout for the band's `(n_subbands, width)`.
    pub fn layout(&self, subbands: (usize, usize), opts: &ConvertOptions) -> MsLayout {
        let pols = self.header.polarizations.clone();
        MsLayout::new(opts.spw_layout, subbands, pols, opts.imaging_columns)
    }

    /// New UVW of every row, metres.
    pub fn uvw(&self, backend: &dyn Backend) -> Result<Vec<[f64; 3]>, ConvertError> {
        let req = UvwRequest {
            antenna_xyz_m: &self.antenna_xyz_m,
            ant1: &self.ant1,
            ant2: &self.ant2,
            rotation_index: &self.time_index,
            rotations: &self.plan.rotations,
        };
        let mut uvw = vec![[0.0; 3]; self.n_rows()];
        backend.uvw(&req, &mut uvw)?;
        Ok(uvw)
    }

    /// w change of every row for its new UVW: new w minus the w stored in
    /// the file (the one the correlator fringe-stopped with), metres.
    pub fn dw_m(&self, uvw: &[[f64; 3]]) -> Vec<f64> {
        (uvw.iter().zip(&self.header.uvw_m))
            .map(|(new, old)| new[2] - old[2])
            .collect()
    }

    /// The per-row columns of every row, with UVW `uvw_m`.
    pub fn meta<'a>(&'a self, uvw_m: &'a [[f64; 3]]) -> RowMeta<'a> {
        RowMeta {
            time_mjd_s: &self.time_mjd_s,
            interval_s: &self.header.integration_time_s,
            ant1: &self.ant1,
            ant2: &self.ant2,
            uvw_m,
            field_id: &self.field_id,
            scan_number: &self.scan_number,
        }
    }

    /// The outline of the MS at `ms_path` laid out as `layout`.
    pub fn outline(
        &self,
        ms_path: PathBuf,
        layout: &MsLayout,
        opts: &ConvertOptions,
        block_rows: usize,
    ) -> Outline {
        Outline {
            ms_path,
            rows: self.n_rows(),
            channels: layout.n_chan(),
            spectral_windows: layout.n_windows,
            polarizations: self.header.n_pols,
            phase_center_mode: self.plan.mode_name.clone(),
            fields: self.plan.fields.clone(),
            backend: opts.backend.name().to_string(),
            block_rows,
        }
    }

    /// Describe the MS subtables for the joined band of `group`.
    pub fn spec(&self, group: &Group, layout: &MsLayout, opts: &ConvertOptions) -> MsSpec {
        let (freq_hz, channel_width_hz) = (group.freq_hz(), group.channel_width_hz());
        let header = &self.header;
        MsSpec {
            telescope_name: telescope::ms_telescope_name(header, opts.telescope_name.as_deref()),
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
