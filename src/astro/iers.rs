//! Earth orientation: UT1 - UTC and polar motion by day, from the IERS
//! finals2000A series.
//!
//! The project carries a compact daily table (`data/iers/finals_compact.csv`,
//! made by `scripts/make_iers_table.py` from the finals2000A.all that
//! astropy-iers-data ships: Bulletin B where available, Bulletin A and its
//! predictions after, exactly as astropy's IERS_A combines them). Values
//! are interpolated linearly between days, as astropy does; outside the
//! table the nearest value is used and a warning is logged once, and so
//! is the use of predictions (with the table's age).
//!
//! A newer table: `--iers finals2000A.all` (downloaded from the IERS, e.g.
//! <https://datacenter.iers.org/products/eop/rapid/standard/finals2000A.all>),
//! read through an [`IersSource`] that reloads it when the file changes;
//! or refresh the embedded one with `scripts/make_iers_table.py` and
//! rebuild.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

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
    /// First MJD whose UT1 - UTC is a prediction (finals2000A flag `P`).
    predicted_from_mjd: Option<f64>,
    warned: Arc<AtomicBool>,
    warned_predicted: Arc<AtomicBool>,
}

/// The line of the embedded table's header saying where predictions start.
const PREDICTIONS_KEY: &str = "# predictions_from_mjd:";

/// Today as an MJD (UTC, to the second).
fn mjd_now() -> f64 {
    let s = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    40_587.0 + s / 86_400.0
}

impl Iers {
    /// The table compiled into the binary.
    pub fn embedded() -> Iers {
        let predicted_from_mjd = EMBEDDED
            .lines()
            .find_map(|l| l.strip_prefix(PREDICTIONS_KEY))
            .and_then(|v| v.trim().parse().ok());
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
        Iers::from_rows(rows, predicted_from_mjd)
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
        // Column 58: `I` (IERS value) or `P` (prediction) of UT1 - UTC.
        let predicted_from_mjd = text
            .lines()
            .filter(|l| l.get(57..58) == Some("P"))
            .find_map(|l| field(l, 8, 15));
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
        Ok(Iers::from_rows(rows, predicted_from_mjd))
    }

    fn from_rows(mut rows: Vec<Row>, predicted_from_mjd: Option<f64>) -> Iers {
        rows.sort_by(|a, b| a.mjd.total_cmp(&b.mjd));
        Iers {
            rows: Arc::new(rows),
            predicted_from_mjd,
            warned: Arc::new(AtomicBool::new(false)),
            warned_predicted: Arc::new(AtomicBool::new(false)),
        }
    }

    /// First MJD of the predictions (the day after the last measured one).
    pub fn predicted_from_mjd(&self) -> Option<f64> {
        self.predicted_from_mjd
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
        let age_days = self.predicted_from_mjd.map(|p| mjd_now() - p);
        let age = age_days
            .map(|d| format!(" (its measured values end {d:.0} days ago)"))
            .unwrap_or_default();
        if !(first.mjd..=last.mjd).contains(&mjd) {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "MJD {mjd:.1} is outside the IERS table ({:.0}..{:.0}){age}: using the nearest values; \
                     give a newer finals2000A file with --iers for accurate UT1 and polar motion",
                    first.mjd,
                    last.mjd
                );
            }
            let r = if mjd < first.mjd { first } else { last };
            return (r, r, 0.0);
        }
        if self.predicted_from_mjd.is_some_and(|p| mjd >= p)
            && !self.warned_predicted.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                "MJD {mjd:.1}: UT1 - UTC and polar motion are IERS predictions{age}; \
                 give a newer finals2000A file with --iers (see scripts/make_iers_table.py)"
            );
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

/// Identity of a file's contents as far as a reload cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    ino: u64,
}

fn stamp(path: &Path) -> Result<Stamp, IersError> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|source| IersError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        ino: m.ino(),
    })
}

/// Where the Earth-orientation table comes from: the embedded one, or a
/// finals2000A file that is read again whenever it changes (size, mtime or
/// inode), so that a long-running daemon picks up a refreshed file without
/// a restart.
#[derive(Debug)]
pub struct IersSource {
    path: Option<PathBuf>,
    loaded: Mutex<(Option<Stamp>, Iers)>,
}

impl IersSource {
    pub fn embedded() -> IersSource {
        IersSource {
            path: None,
            loaded: Mutex::new((None, Iers::embedded())),
        }
    }

    /// The finals2000A file at `path`, read now (a bad file is an error
    /// at start-up, not at the first conversion).
    pub fn file(path: &Path) -> Result<IersSource, IersError> {
        let s = stamp(path)?;
        let iers = Iers::from_finals2000a(path)?;
        Ok(IersSource {
            path: Some(path.to_path_buf()),
            loaded: Mutex::new((Some(s), iers)),
        })
    }

    /// The current table: the file read again if it changed since.
    pub fn table(&self) -> Result<Iers, IersError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = &self.path {
            let now = stamp(path)?;
            if loaded.0 != Some(now) {
                let iers = Iers::from_finals2000a(path)?;
                let (a, b) = iers.range_mjd();
                tracing::info!(
                    "IERS table {} (re)loaded: MJD {a:.0}..{b:.0}",
                    path.display()
                );
                *loaded = (Some(now), iers);
            }
        }
        Ok(loaded.1.clone())
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
