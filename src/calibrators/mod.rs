//! Calibrator fields: which catalog sources are in the beam of each field,
//! their primary-beam-weighted flux, and the field where each one peaks.
//!
//! The catalog is either the built-in list of bright VLA calibrators
//! (`data/calibrators/vla_lband.csv`) or a user CSV `name,ra_deg,dec_deg,flux_jy`
//! of any size; the cross-match runs on the compute backend
//! ([`crate::compute::Backend::match_within`]), so a catalog of millions of
//! sources is handled on the GPU or the CPU alike.

mod beam;

use std::path::{Path, PathBuf};

use crate::astro::SkyPos;
use crate::compute::{Backend, ComputeError, MatchRequest};
use crate::telescope;

pub use beam::{airy_power, first_null_rad};

const BUILTIN_CSV: &str = include_str!("../../data/calibrators/vla_lband.csv");

/// One catalog source.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Calibrator {
    pub name: String,
    /// ICRS, radians.
    pub position: SkyPos,
    /// Flux density at L band, Jy.
    pub flux_jy: f64,
}

/// Errors of catalog loading.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot read catalog {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {what} (want name,ra_deg,dec_deg,flux_jy)")]
    Parse {
        path: PathBuf,
        line: usize,
        what: String,
    },
    #[error("catalog {0} has no sources")]
    Empty(PathBuf),
}

/// A list of sources.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    pub sources: Vec<Calibrator>,
}

impl Catalog {
    /// The built-in bright VLA calibrators.
    pub fn builtin() -> Catalog {
        Catalog::parse(BUILTIN_CSV, Path::new("<built-in>")).expect("the built-in catalog parses")
    }

    /// A user catalog in CSV: `name,ra_deg,dec_deg,flux_jy`; `#` comments and
    /// a header line starting with `name` are skipped.
    pub fn from_csv(path: &Path) -> Result<Catalog, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let catalog = Catalog::parse(&text, path)?;
        if catalog.sources.is_empty() {
            return Err(CatalogError::Empty(path.to_path_buf()));
        }
        Ok(catalog)
    }

    fn parse(text: &str, path: &Path) -> Result<Catalog, CatalogError> {
        let mut sources = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty()
                || line.starts_with('#')
                || line.to_ascii_lowercase().starts_with("name")
            {
                continue;
            }
            let err = |what: String| CatalogError::Parse {
                path: path.to_path_buf(),
                line: i + 1,
                what,
            };
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            let [name, ra, dec, flux] = cols[..] else {
                return Err(err(format!("expected 4 columns, found {}", cols.len())));
            };
            let num = |v: &str, what: &str| -> Result<f64, CatalogError> {
                v.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| err(format!("bad {what} '{v}'")))
            };
            let dec_deg = num(dec, "dec_deg")?;
            if !(-90.0..=90.0).contains(&dec_deg) {
                return Err(err(format!("declination {dec_deg} outside [-90, 90]")));
            }
            sources.push(Calibrator {
                name: name.to_string(),
                position: SkyPos {
                    ra_rad: num(ra, "ra_deg")?.rem_euclid(360.0).to_radians(),
                    dec_rad: dec_deg.to_radians(),
                },
                flux_jy: num(flux, "flux_jy")?,
            });
        }
        Ok(Catalog { sources })
    }

    /// The source called `name` (case-insensitive, spaces ignored).
    pub fn find(&self, name: &str) -> Option<&Calibrator> {
        let key = |s: &str| s.replace(' ', "").to_ascii_lowercase();
        let want = key(name);
        self.sources.iter().find(|c| key(&c.name) == want)
    }
}

/// One source seen by a set of fields.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct InBeam {
    /// Index into the catalog.
    pub source: usize,
    pub name: String,
    pub flux_jy: f64,
    /// The field where the primary-beam response to this source peaks.
    pub peak_field: usize,
    /// Angular distance from that field's centre, radians.
    pub peak_separation_rad: f64,
    /// `flux_jy` times the beam power at `peak_field`, Jy.
    pub peak_weighted_flux_jy: f64,
}

/// What the beam sees in each field, and where each source peaks.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BeamReport {
    /// Per field: the sum over sources of flux times beam power, Jy.
    pub field_weighted_flux_jy: Vec<f64>,
    /// Sources within the first null of at least one field, brightest
    /// weighted flux first.
    pub in_beam: Vec<InBeam>,
}

/// Weigh `catalog` by the primary beam (Airy, 4.65 m dish, at `freq_hz`)
/// of each field centre; only sources within the first null count.
pub fn beam_report(
    backend: &dyn Backend,
    fields: &[SkyPos],
    catalog: &Catalog,
    dish_diameter_m: f64,
    freq_hz: f64,
) -> Result<BeamReport, ComputeError> {
    let radius = first_null_rad(dish_diameter_m, freq_hz);
    let points: Vec<SkyPos> = catalog.sources.iter().map(|c| c.position).collect();
    let matches = backend.match_within(&MatchRequest::new(&points, fields, radius))?;
    let mut field_weighted_flux_jy = vec![0.0; fields.len()];
    let mut best: Vec<Option<(usize, f64)>> = vec![None; catalog.sources.len()];
    for m in &matches {
        let (s, f) = (m.point as usize, m.target as usize);
        let power = airy_power(m.separation_rad, dish_diameter_m, freq_hz);
        field_weighted_flux_jy[f] += catalog.sources[s].flux_jy * power;
        if best[s].is_none_or(|(_, sep)| m.separation_rad < sep) {
            best[s] = Some((f, m.separation_rad));
        }
    }
    let mut in_beam: Vec<InBeam> = best
        .iter()
        .enumerate()
        .filter_map(|(s, b)| {
            let (field, sep) = (*b)?;
            let c = &catalog.sources[s];
            Some(InBeam {
                source: s,
                name: c.name.clone(),
                flux_jy: c.flux_jy,
                peak_field: field,
                peak_separation_rad: sep,
                peak_weighted_flux_jy: c.flux_jy * airy_power(sep, dish_diameter_m, freq_hz),
            })
        })
        .collect();
    in_beam.sort_by(|a, b| b.peak_weighted_flux_jy.total_cmp(&a.peak_weighted_flux_jy));
    Ok(BeamReport {
        field_weighted_flux_jy,
        in_beam,
    })
}

/// The catalog calibrators in the primary beam (at `freq_hz`) of a group's
/// meridian fields (`positions`, one per integration of `integration_s`)
/// that transit during the group, brightest (beam-weighted) first. A
/// calibrator that transits in a neighbouring group peaks at this group's
/// edge: only the group whose time span holds the transit has it
/// (`transits_within`).
pub fn transiting(
    backend: &dyn Backend,
    positions: &[SkyPos],
    catalog: &Catalog,
    freq_hz: f64,
    integration_s: f64,
) -> Result<BeamReport, ComputeError> {
    let mut report = beam_report(
        backend,
        positions,
        catalog,
        telescope::DISH_DIAMETER_M,
        freq_hz,
    )?;
    report.in_beam.retain(|s| {
        let ra = catalog.sources[s.source].position.ra_rad;
        let here = transits_within(ra, positions, integration_s);
        if !here {
            tracing::debug!("{} transits outside this group: not named", s.name);
        }
        here
    });
    Ok(report)
}

/// The names of a group's meridian fields (`positions`, named `names`)
/// with the field where each calibrator [`transiting`] peaks named
/// `<calibrator>_t<idx>`.
pub fn meridian_field_names(
    backend: &dyn Backend,
    positions: &[SkyPos],
    names: &[String],
    catalog: &Catalog,
    freq_hz: f64,
    integration_s: f64,
) -> Result<Vec<String>, ComputeError> {
    let report = transiting(backend, positions, catalog, freq_hz, integration_s)?;
    Ok(renamed_fields(names, &report))
}

/// New field names: the field where a calibrator peaks becomes
/// `<name>_t<idx>`; when two peak in one field the brighter (weighted) wins.
fn renamed_fields(names: &[String], report: &BeamReport) -> Vec<String> {
    let mut out = names.to_vec();
    let mut taken = vec![false; names.len()];
    for s in &report.in_beam {
        if !taken[s.peak_field] {
            taken[s.peak_field] = true;
            out[s.peak_field] = format!("{}_t{}", s.name, s.peak_field);
        }
    }
    out
}

/// Seconds of one sidereal day: the sky's period on the meridian.
const SIDEREAL_DAY_S: f64 = 86_164.090_5;

/// Whether a source at right ascension `ra_rad` transits during a group
/// whose meridian fields (one per integration, in time order) are
/// `fields`, each integration `integration_s` long: its RA lies in
/// `[ra_first - h, ra_last + h)`, h being half the RA the meridian sweeps
/// in one integration. Consecutive groups' spans meet without overlap, so
/// exactly one group claims each transit.
fn transits_within(ra_rad: f64, fields: &[SkyPos], integration_s: f64) -> bool {
    use std::f64::consts::{PI, TAU};
    let (Some(first), Some(last)) = (fields.first(), fields.last()) else {
        return false;
    };
    let half = PI * integration_s / SIDEREAL_DAY_S;
    let span = (last.ra_rad - first.ra_rad).rem_euclid(TAU) + 2.0 * half;
    (ra_rad - first.ra_rad + half).rem_euclid(TAU) < span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transit_belongs_to_the_group_whose_span_holds_it() {
        // Integrations of 12.885 s sweep 0.05384 deg of RA.
        let step = 12.885 / SIDEREAL_DAY_S * 360.0;
        let fields = |ra0_deg: f64| -> Vec<SkyPos> {
            (0..24)
                .map(|i| SkyPos {
                    ra_rad: (ra0_deg + i as f64 * step).rem_euclid(360.0).to_radians(),
                    dec_rad: 0.5,
                })
                .collect()
        };
        let a = fields(359.0);
        let b = fields(359.0 + 24.0 * step);
        let within = |ra_deg: f64, f: &[SkyPos]| transits_within(ra_deg.to_radians(), f, 12.885);
        // Mid-group, and across RA = 0.
        assert!(within(359.0 + 5.0 * step, &a) && !within(359.0 + 5.0 * step, &b));
        assert!(within((359.0 + 20.3 * step) % 360.0, &a));
        // Just before and just after the boundary between the two groups.
        let boundary = 359.0 + 23.5 * step;
        assert!(within(boundary - 1e-6, &a) && !within(boundary - 1e-6, &b));
        assert!(!within(boundary + 1e-6, &a) && within(boundary + 1e-6, &b));
        // Far away: neither.
        assert!(!within(180.0, &a) && !within(180.0, &b));
    }

    #[test]
    fn builtin_catalog_has_3c286_at_its_vla_position() {
        let cat = Catalog::builtin();
        assert!(cat.sources.len() >= 20);
        let c = cat.find("3c 286").expect("3C286");
        assert!((c.position.ra_rad.to_degrees() - 202.784534).abs() < 1e-6);
        assert!((c.position.dec_rad.to_degrees() - 30.509155).abs() < 1e-6);
        assert_eq!(c.flux_jy, 14.9);
    }

    #[test]
    fn csv_errors_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cat.csv");
        std::fs::write(
            &p,
            "name,ra_deg,dec_deg,flux_jy\nA,10,20,1\nB,10,ninety,1\n",
        )
        .unwrap();
        let e = Catalog::from_csv(&p).unwrap_err().to_string();
        assert!(e.contains("cat.csv:3") && e.contains("dec_deg"), "{e}");
        std::fs::write(&p, "A,10,95,1\n").unwrap();
        assert!(Catalog::from_csv(&p)
            .unwrap_err()
            .to_string()
            .contains("outside"));
        std::fs::write(&p, "# nothing\n").unwrap();
        assert!(matches!(Catalog::from_csv(&p), Err(CatalogError::Empty(_))));
    }

    #[test]
    fn brighter_calibrator_wins_a_shared_field() {
        let names: Vec<String> = (0..3).map(|i| format!("meridian_icrs_t{i}")).collect();
        let mk = |name: &str, field, w| InBeam {
            source: 0,
            name: name.into(),
            flux_jy: w,
            peak_field: field,
            peak_separation_rad: 0.0,
            peak_weighted_flux_jy: w,
        };
        let report = BeamReport {
            field_weighted_flux_jy: vec![0.0; 3],
            in_beam: vec![
                mk("BRIGHT", 1, 10.0),
                mk("FAINT", 1, 1.0),
                mk("OTHER", 2, 0.5),
            ],
        };
        assert_eq!(
            renamed_fields(&names, &report),
            vec!["meridian_icrs_t0", "BRIGHT_t1", "OTHER_t2"]
        );
    }
}
