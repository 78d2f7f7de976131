//! Phase-centre planning: which field each integration goes to, what each
//! field is called, and the rotation that gives each row its new UVW.
//! `convert` phases by it; `qa` reads a group's fields from it.

use std::path::PathBuf;

use crate::astro::{Astrometer, DateError, SkyPos};
use crate::calibrators::{self, Catalog};
use crate::compute::rotation::uvw_rotation;
use crate::compute::{Backend, ComputeError};
use crate::uvh5::{Header, PhaseCenter};

/// Where the output phase centres go.
#[derive(Clone, Debug, PartialEq)]
pub enum PhaseCenterMode {
    /// `meridian` for DSA-110 correlator files, `keep` for the rest.
    Auto,
    /// One field per integration at hour angle 0 and the pointing
    /// declination, converted rigorously to ICRS: `meridian_icrs_t<i>`.
    Meridian,
    /// One field: the meridian at mid-group.
    Midpoint,
    /// One field at this ICRS position.
    Fixed { name: String, position: SkyPos },
    /// The files' own phase centre (correctly labelled non-DSA data).
    Keep,
}

/// Why a group cannot be phased as asked; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum PhasingError {
    #[error("{path}: {reason}")]
    PhaseCenter { path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Date { path: PathBuf, source: DateError },
    /// Matching fields with the calibrator catalogue failed.
    #[error("compute backend failed: {0}")]
    Compute(#[from] ComputeError),
}

/// One output field (a row of the MS FIELD table).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct FieldPlan {
    pub name: String,
    /// ICRS, radians.
    pub position: SkyPos,
    /// UTC JD the field refers to (its integration, or mid-group).
    pub time_jd: f64,
}

/// The resolved phasing of a group.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The mode actually used (`Auto` resolved), for logs and summaries.
    pub mode_name: String,
    pub fields: Vec<FieldPlan>,
    /// Sorted unique integration times, UTC JD.
    pub times_jd: Vec<f64>,
    /// Per unique time: index into `fields`.
    pub field_of_time: Vec<u32>,
    /// Per unique time: row-major rotation from Earth-fixed baselines to the
    /// new (u, v, w), metres.
    pub rotations: Vec<[f64; 9]>,
}

impl Plan {
    /// Resolve `mode` for a group described by `header` (any of its files).
    pub fn new(
        header: &Header,
        mode: &PhaseCenterMode,
        astro: &Astrometer,
    ) -> Result<Plan, PhasingError> {
        let mut times_jd = header.time_jd.clone();
        times_jd.sort_by(f64::total_cmp);
        times_jd.dedup();
        for t in [times_jd.first(), times_jd.last()].into_iter().flatten() {
            astro.check_time(*t).map_err(|source| PhasingError::Date {
                path: header.path.clone(),
                source,
            })?;
        }
        let dsa_dec = match header.phase_center {
            PhaseCenter::DsaMeridian { dec_rad } => Some(dec_rad),
            _ => None,
        };
        let resolved = match mode {
            PhaseCenterMode::Auto if dsa_dec.is_some() => PhaseCenterMode::Meridian,
            PhaseCenterMode::Auto => PhaseCenterMode::Keep,
            other => other.clone(),
        };
        let need_dec = || {
            dsa_dec.ok_or_else(|| PhasingError::PhaseCenter {
                path: header.path.clone(),
                reason: "meridian phasing needs a DSA-110 correlator file (extra_keywords/phase_center_dec); \
                         give --phase-center RA,DEC or keep"
                    .into(),
            })
        };
        let (mode_name, fields, field_of_time): (&str, Vec<FieldPlan>, Vec<u32>) = match &resolved {
            PhaseCenterMode::Meridian => {
                let dec = need_dec()?;
                let fields = times_jd
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| FieldPlan {
                        name: format!("meridian_icrs_t{i}"),
                        position: astro.meridian_icrs(t, dec),
                        time_jd: t,
                    })
                    .collect();
                ("meridian", fields, (0..times_jd.len() as u32).collect())
            }
            PhaseCenterMode::Midpoint => {
                let dec = need_dec()?;
                let t = mid_time(&times_jd);
                let field = FieldPlan {
                    name: "meridian_icrs_mid".into(),
                    position: astro.meridian_icrs(t, dec),
                    time_jd: t,
                };
                ("midpoint", vec![field], vec![0; times_jd.len()])
            }
            PhaseCenterMode::Fixed { name, position } => {
                let field = FieldPlan {
                    name: name.clone(),
                    position: *position,
                    time_jd: mid_time(&times_jd),
                };
                ("fixed", vec![field], vec![0; times_jd.len()])
            }
            PhaseCenterMode::Keep => match &header.phase_center {
                PhaseCenter::Sidereal { name, ra_rad, dec_rad } => {
                    let field = FieldPlan {
                        name: name.clone(),
                        position: SkyPos {
                            ra_rad: *ra_rad,
                            dec_rad: *dec_rad,
                        },
                        time_jd: mid_time(&times_jd),
                    };
                    ("keep", vec![field], vec![0; times_jd.len()])
                }
                other => {
                    return Err(PhasingError::PhaseCenter {
                        path: header.path.clone(),
                        reason: format!(
                            "cannot keep the file's phase centre ({other:?}): it is not a fixed sky position; \
                             give --phase-center meridian, midpoint or RA,DEC"
                        ),
                    })
                }
            },
            PhaseCenterMode::Auto => unreachable!("auto resolved above"),
        };
        let lon_rad = astro.site.lon_rad;
        let rotations = times_jd
            .iter()
            .zip(&field_of_time)
            .map(|(&t, &f)| {
                let pos = fields[f as usize].position;
                let app = astro.icrs_to_app(t, pos);
                let frame_pa = astro.frame_pos_angle(t, pos);
                uvw_rotation(app.ra_rad, app.dec_rad, frame_pa, astro.lst_rad(t), lon_rad)
            })
            .collect();
        Ok(Plan {
            mode_name: mode_name.to_string(),
            fields,
            times_jd,
            field_of_time,
            rotations,
        })
    }

    /// In meridian mode, name the fields where catalog calibrators transit
    /// ([`calibrators::meridian_field_names`]); other modes keep their names.
    pub fn name_calibrators(
        &mut self,
        catalog: &Catalog,
        backend: &dyn Backend,
        centre_hz: f64,
        integration_s: f64,
    ) -> Result<(), PhasingError> {
        if self.mode_name != "meridian" {
            return Ok(());
        }
        let positions: Vec<_> = self.fields.iter().map(|f| f.position).collect();
        let names: Vec<String> = self.fields.iter().map(|f| f.name.clone()).collect();
        for (field, name) in self
            .fields
            .iter_mut()
            .zip(calibrators::meridian_field_names(
                backend,
                &positions,
                &names,
                catalog,
                centre_hz,
                integration_s,
            )?)
        {
            if field.name != name {
                tracing::info!("calibrator field: {} -> {}", field.name, name);
                field.name = name;
            }
        }
        Ok(())
    }

    /// Index of `time_jd` among the unique times (nearest within 1 ms).
    pub fn time_index(&self, time_jd: f64) -> usize {
        match self.times_jd.binary_search_by(|t| t.total_cmp(&time_jd)) {
            Ok(i) => i,
            Err(i) => {
                let below = i.saturating_sub(1);
                let above = i.min(self.times_jd.len() - 1);
                if (self.times_jd[below] - time_jd).abs() <= (self.times_jd[above] - time_jd).abs()
                {
                    below
                } else {
                    above
                }
            }
        }
    }
}

/// The middle integration's time (mean of the two middle ones when even).
fn mid_time(times_jd: &[f64]) -> f64 {
    let n = times_jd.len();
    if n % 2 == 1 {
        times_jd[n / 2]
    } else {
        0.5 * (times_jd[n / 2 - 1] + times_jd[n / 2])
    }
}
