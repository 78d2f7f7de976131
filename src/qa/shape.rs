//! What QA must know of a group before its first visibility.

use super::QaError;
use crate::uvh5::Header;

/// The field where a catalog calibrator peaks in the beam: QA keeps a few
/// baselines' spectra of that integration.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CalibratorField {
    /// Catalog name, e.g. `3C286`.
    pub name: String,
    /// Index of the integration (in meridian mode, the field) it peaks in.
    pub integration: usize,
}

/// The group QA is gathered for.
#[derive(Clone, Debug, PartialEq)]
pub struct QaShape {
    /// Name used in titles and output names (the group's timestamp).
    pub group: String,
    /// Antenna numbers with data, any order (reports sort them).
    pub antennas: Vec<u32>,
    /// Antenna names, one per entry of `antennas`.
    pub antenna_names: Vec<String>,
    /// Integration midpoints, UTC Julian Date, ascending.
    pub time_jd: Vec<f64>,
    /// Rows (baseline-times) of the group: every subband should get as
    /// many.
    pub n_rows: usize,
    /// Name of each subband in ascending frequency (`sb15` first for a
    /// DSA-110 group).
    pub subband_names: Vec<String>,
    /// Channels per subband.
    pub subband_channels: usize,
    pub n_pols: usize,
    pub calibrator: Option<CalibratorField>,
}

/// Two times closer than this (days, about 0.1 s) are one integration.
const SAME_TIME_DAYS: f64 = 1e-6;

impl QaShape {
    /// The shape of a group whose files all have `header`'s rows:
    /// `n_subbands` subbands of `subband_channels` channels, named as
    /// DSA-110 names them ([`QaShape::dsa_subband_names`]); no calibrator.
    pub fn from_header(
        header: &Header,
        group: &str,
        n_subbands: usize,
        subband_channels: usize,
    ) -> QaShape {
        let mut antennas: Vec<u32> = header
            .ant_1_array
            .iter()
            .chain(&header.ant_2_array)
            .map(|&a| a as u32)
            .collect();
        antennas.sort_unstable();
        antennas.dedup();
        let antenna_names = antennas
            .iter()
            .map(|&a| {
                header
                    .antenna_numbers
                    .iter()
                    .position(|&n| n == a as i64)
                    .and_then(|i| header.antenna_names.get(i).cloned())
                    .unwrap_or_else(|| a.to_string())
            })
            .collect();
        QaShape {
            group: group.to_string(),
            antennas,
            antenna_names,
            time_jd: unique_times(&header.time_jd),
            n_rows: header.n_blts,
            subband_names: QaShape::dsa_subband_names(n_subbands),
            subband_channels,
            n_pols: header.n_pols,
            calibrator: None,
        }
    }

    /// DSA-110 subband names in ascending frequency: `sbNN` counts from the
    /// highest band, so the lowest of `n` is `sb{n-1}`.
    pub fn dsa_subband_names(n: usize) -> Vec<String> {
        (0..n).map(|k| format!("sb{:02}", n - 1 - k)).collect()
    }

    pub fn n_subbands(&self) -> usize {
        self.subband_names.len()
    }

    /// Channels of the whole band.
    pub fn n_channels(&self) -> usize {
        self.n_subbands() * self.subband_channels
    }

    /// The integration index of each time of `row_time_jd` (one per row);
    /// an error for a time that is none of [`QaShape::time_jd`].
    pub fn row_integrations(&self, row_time_jd: &[f64]) -> Result<Vec<u32>, QaError> {
        row_time_jd
            .iter()
            .map(|&t| {
                let i = self.time_jd.partition_point(|&x| x < t - SAME_TIME_DAYS);
                (i < self.time_jd.len() && (self.time_jd[i] - t).abs() <= SAME_TIME_DAYS)
                    .then_some(i as u32)
            })
            .collect::<Option<_>>()
            .ok_or_else(|| {
                QaError::Block("a row's time is none of the group's integrations".into())
            })
    }
}

/// The distinct times of `time_jd`, ascending (times within
/// [`SAME_TIME_DAYS`] are one).
pub(super) fn unique_times(time_jd: &[f64]) -> Vec<f64> {
    let mut t = time_jd.to_vec();
    t.sort_by(f64::total_cmp);
    t.dedup_by(|a, b| (*a - *b).abs() <= SAME_TIME_DAYS);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsa_names_count_from_the_top_band() {
        assert_eq!(QaShape::dsa_subband_names(3), ["sb02", "sb01", "sb00"]);
    }

    #[test]
    fn rows_find_their_integration() {
        let shape = QaShape {
            group: "g".into(),
            antennas: vec![0],
            antenna_names: vec!["1".into()],
            time_jd: unique_times(&[2.0, 1.0, 1.0, 2.0 + 1e-8]),
            n_rows: 4,
            subband_names: vec!["sb00".into()],
            subband_channels: 1,
            n_pols: 1,
            calibrator: None,
        };
        assert_eq!(shape.time_jd, [1.0, 2.0]);
        assert_eq!(
            shape.row_integrations(&[1.0, 2.0 + 1e-8, 1.0]).ok(),
            Some(vec![0, 1, 0])
        );
        assert!(shape.row_integrations(&[1.5]).is_err());
    }
}
