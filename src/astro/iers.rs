//! Earth orientation: UT1 - UTC and polar motion by day, from the IERS
//! finals2000A series.
//!
//! The project carries a compact daily table (`data/iers/finals_compact.csv`,
//! made by `scripts/make_iers_table.py` from the finals2000A.all that
//! astropy-iers-data ships: Bulletin B where available, Bulletin A and its
//! predictions after, exactly as astropy's IERS_A combines them). Values
//! are interpolated linearly between days, as astropy does; outside the
//! table the nearest value is used and a warning is logged once.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const EMBEDDED: &str = include_str!("../../data/iers/finals_compact.csv");
const ARCSEC_TO_RAD: f64 = std::f64::consts::PI / (180.0 * 3600.0);

/// Errors of loading an IERS table.
#[derive(Debug, thiserror::Error)]
pub enum IersError {
    #[error("cannot read IERS table {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("IERS table {path} has no usable rows (expected IERS finals2000A format)")]
    Empty { path: PathBuf },
}

#[derive(Clone, Copy, Debug)]
struct Row {
    mjd: f64,
    ut1_utc_s: f64,
    xp_arcsec: f64,
    yp_arcsec: f64,
}

/// A daily Earth-orientation table. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Iers {
    rows: Arc<Vec<Row>>,
    warned: Arc<AtomicBool>,
}

impl Iers {
    /// The table compiled into the binary.
    pub fn embedded() -> Iers {
        let rows = EMBEDDED
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut it = l.split(',').map(|v| v.trim().parse::<f64>());
                Some(Row {
                    mjd: it.next()?.ok()?,
                    ut1_utc_s: it.next()?.ok()?,
                    xp_arcsec: it.next()?.ok()?,
                    yp_arcsec: it.next()?.ok()?,
                })
            })
            .collect();
        Iers::from_rows(rows)
    }

    /// A newer table: an IERS `finals2000A.all` / `finals2000A.data` file.
    pub fn from_finals2000a(path: &Path) -> Result<Iers, IersError> {
        let text = std::fs::read_to_string(path).map_err(|source| IersError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let field = |line: &str, a: usize, b: usize| -> Option<f64> {
            line.get(a - 1..b.min(line.len()))
                .and_then(|s| s.trim().parse().ok())
        };
        let rows: Vec<Row> = text
            .lines()
            .filter_map(|line| {
                let mjd = field(line, 8, 15)?;
                let pick = |b: Option<f64>, a: Option<f64>| b.or(a);
                Some(Row {
                    mjd,
                    xp_arcsec: pick(field(line, 135, 144), field(line, 19, 27))?,
                    yp_arcsec: pick(field(line, 145, 154), field(line, 38, 46))?,
                    ut1_utc_s: pick(field(line, 155, 165), field(line, 59, 68))?,
                })
            })
            .collect();
        if rows.is_empty() {
            return Err(IersError::Empty {
                path: path.to_path_buf(),
            });
        }
        Ok(Iers::from_rows(rows))
    }

    fn from_rows(mut rows: Vec<Row>) -> Iers {
        rows.sort_by(|a, b| a.mjd.total_cmp(&b.mjd));
        Iers {
            rows: Arc::new(rows),
            warned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// First and last MJD of the table.
    pub fn range_mjd(&self) -> (f64, f64) {
        (self.rows[0].mjd, self.rows[self.rows.len() - 1].mjd)
    }

    /// Rows bracketing `mjd` and the interpolation fraction; clamps (and
    /// warns once) outside the table.
    fn bracket(&self, mjd: f64) -> (Row, Row, f64) {
        let rows = &self.rows;
        let (first, last) = (rows[0], rows[rows.len() - 1]);
        if !(first.mjd..=last.mjd).contains(&mjd) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "MJD {mjd:.1} is outside the IERS table ({:.0}..{:.0}): using the nearest values; \
                     load a newer finals2000A file for accurate UT1 and polar motion",
                    first.mjd,
                    last.mjd
                );
            }
            let r = if mjd < first.mjd { first } else { last };
            return (r, r, 0.0);
        }
        let i = rows
            .partition_point(|r| r.mjd <= mjd)
            .clamp(1, rows.len() - 1);
        let (a, b) = (rows[i - 1], rows[i]);
        let f = if b.mjd > a.mjd {
            (mjd - a.mjd) / (b.mjd - a.mjd)
        } else {
            0.0
        };
        (a, b, f)
    }

    /// UT1 - UTC at `mjd_utc`, seconds. A leap second between two table
    /// days is taken out before interpolating.
    pub fn ut1_minus_utc_s(&self, mjd_utc: f64) -> f64 {
        let (a, b, f) = self.bracket(mjd_utc);
        let mut d = b.ut1_utc_s - a.ut1_utc_s;
        if d > 0.5 {
            d -= 1.0;
        } else if d < -0.5 {
            d += 1.0;
        }
        a.ut1_utc_s + f * d
    }

    /// Polar motion (x_p, y_p) at `mjd_utc`, radians.
    pub fn polar_motion_rad(&self, mjd_utc: f64) -> (f64, f64) {
        let (a, b, f) = self.bracket(mjd_utc);
        (
            (a.xp_arcsec + f * (b.xp_arcsec - a.xp_arcsec)) * ARCSEC_TO_RAD,
            (a.yp_arcsec + f * (b.yp_arcsec - a.yp_arcsec)) * ARCSEC_TO_RAD,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_table_covers_2000_to_predictions() {
        let iers = Iers::embedded();
        let (a, b) = iers.range_mjd();
        assert_eq!(a, 51544.0);
        assert!(b > 61000.0, "table ends at MJD {b}");
        // Values at a table day are the table's (first row of the CSV).
        assert!((iers.ut1_minus_utc_s(51544.0) - 0.3554990).abs() < 1e-12);
    }

    #[test]
    fn leap_second_is_not_smeared() {
        // 2017-01-01 (MJD 57754) has a leap second: UT1-UTC jumps by +1 s.
        let iers = Iers::embedded();
        let before = iers.ut1_minus_utc_s(57753.0);
        let after = iers.ut1_minus_utc_s(57754.0);
        assert!(after - before > 0.9, "{before} -> {after}");
        let mid = iers.ut1_minus_utc_s(57753.5);
        assert!((mid - before).abs() < 0.01, "{mid} vs {before}");
    }

    #[test]
    fn outside_the_table_gives_the_nearest_value() {
        let iers = Iers::embedded();
        let (a, b) = iers.range_mjd();
        assert_eq!(iers.ut1_minus_utc_s(a - 100.0), iers.ut1_minus_utc_s(a));
        assert_eq!(iers.polar_motion_rad(b + 1000.0), iers.polar_motion_rad(b));
    }
}
