//! Problems and the verdict: what counts as a dead or low antenna, a NaN
//! or flagged subband, a partial integration, outlier channels; and how
//! they add up to ok, warn or bad.

use std::path::Path;

use super::report::{AntennaStats, IntegrationStats, SubbandStats};
use super::QaError;

/// The verdict of a group: the worst severity among its problems.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Ok,
    Warn,
    Bad,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Warn => "warn",
            Verdict::Bad => "bad",
        }
    }
}

/// How bad one problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warn,
    Bad,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warn => "warn",
            Severity::Bad => "bad",
        }
    }
}

/// The kinds of problem QA names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Autocorrelation power far below the array's (bad).
    DeadAntenna,
    /// Autocorrelation power well below the array's (warn).
    LowAntenna,
    /// Most of an antenna's cells flagged (warn).
    FlaggedAntenna,
    /// Most of a subband's visibilities NaN (bad).
    NanSubband,
    /// Most of a subband's cells flagged, not NaN (warn).
    FlaggedSubband,
    /// A subband with no rows at all (bad).
    MissingSubband,
    /// An integration with fewer samples than the group's fullest (warn).
    PartialIntegration,
    /// Channels far from their subband's median spectrum: RFI (warn).
    OutlierChannels,
}

/// One problem, with what it concerns (the keys that do not apply are
/// left out of the JSON).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Problem {
    pub kind: ProblemKind,
    pub severity: Severity,
    /// For a person: what was found and the threshold it crossed.
    pub message: String,
    /// The antenna, as the keys `antenna` and `antenna_name`.
    #[serde(flatten)]
    pub antenna: Option<ProblemAntenna>,
    /// Subband name (`sbNN`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subband: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration: Option<usize>,
    /// Channels of the whole band (ascending frequency) and their centres.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<usize>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub freq_hz: Vec<f64>,
    /// The statistic that crossed its threshold, and the threshold.
    pub value: f64,
    pub threshold: f64,
}

/// The antenna a problem concerns.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ProblemAntenna {
    /// Antenna number (0-based, as in the files' ant_1_array).
    #[serde(rename = "antenna")]
    pub number: u32,
    #[serde(rename = "antenna_name")]
    pub name: String,
}

/// The thresholds, stated in `qa --help` (see [`HELP`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Thresholds {
    /// Dead antenna: median autocorrelation power below this fraction of
    /// the array's median antenna (bad).
    pub dead_antenna_ratio: f64,
    /// Low antenna: below this fraction (warn).
    pub low_antenna_ratio: f64,
    /// Flagged antenna: more than this fraction of its cells flagged (warn).
    pub flagged_antenna_fraction: f64,
    /// NaN subband: more than this fraction of its cells NaN (bad).
    pub nan_subband_fraction: f64,
    /// Flagged subband: more than this fraction flagged (warn).
    pub flagged_subband_fraction: f64,
    /// Partial integration: mean nsamples of its unflagged cells more than
    /// this fraction below the fullest integration's (warn).
    pub partial_deficit: f64,
    /// Outlier channel: the median-over-antennas autocorrelation spectrum
    /// more than this many robust sigmas (1.4826 MAD) from its subband's
    /// median ...
    pub outlier_sigma: f64,
    /// ... and more than this fraction of that median away (warn).
    pub outlier_relative: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            dead_antenna_ratio: 0.01,
            low_antenna_ratio: 0.2,
            flagged_antenna_fraction: 0.5,
            nan_subband_fraction: 0.5,
            flagged_subband_fraction: 0.5,
            partial_deficit: 0.01,
            outlier_sigma: 6.0,
            outlier_relative: 0.5,
        }
    }
}

/// The thresholds for `--help` (a unit test keeps it equal to
/// [`Thresholds::default`]).
pub const HELP: &str = "\
Verdict: bad if any problem is bad, else warn if any is a warning, else ok.
Problems (severity): when
  dead_antenna (bad): median autocorrelation power < 0.01 x the median
    antenna's
  low_antenna (warn): median autocorrelation power < 0.2 x the median
    antenna's
  flagged_antenna (warn): > 0.5 of its cells flagged
  nan_subband (bad): > 0.5 of its cells NaN (flagged, visibility 0)
  flagged_subband (warn): > 0.5 of its cells flagged (not NaN)
  missing_subband (bad): no rows
  partial_integration (warn): mean nsamples of unflagged cells > 0.01
    below the fullest integration's
  outlier_channels (warn): > 6 robust sigma (1.4826 MAD) and > 0.5 x the
    median away from its subband's median, in the median-over-antennas
    autocorrelation spectrum";

/// The worst severity among `problems`.
pub fn verdict_of(problems: &[Problem]) -> Verdict {
    match problems.iter().map(|p| p.severity).max() {
        None => Verdict::Ok,
        Some(Severity::Warn) => Verdict::Warn,
        Some(Severity::Bad) => Verdict::Bad,
    }
}

/// The verdict recorded in a `<group>.qa.json` (for `stream status`).
pub fn read_verdict(path: &Path) -> Result<Verdict, QaError> {
    let io = |source| QaError::Io {
        path: path.to_path_buf(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|source| QaError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    match json.get("verdict").and_then(|v| v.as_str()) {
        Some("ok") => Ok(Verdict::Ok),
        Some("warn") => Ok(Verdict::Warn),
        Some("bad") => Ok(Verdict::Bad),
        other => Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("no verdict ok/warn/bad in the QA report (found {other:?})"),
        ))),
    }
}

fn problem(
    kind: ProblemKind,
    severity: Severity,
    message: String,
    value: f64,
    threshold: f64,
) -> Problem {
    Problem {
        kind,
        severity,
        message,
        antenna: None,
        subband: None,
        integration: None,
        channels: Vec::new(),
        freq_hz: Vec::new(),
        value,
        threshold,
    }
}

/// Dead, low and flagged antennas. Each antenna's `power_ratio` is its
/// median autocorrelation power over the array's median (cross amplitude
/// when the group has no autocorrelations).
pub fn antenna_problems(antennas: &[AntennaStats], t: &Thresholds) -> Vec<Problem> {
    let mut out = Vec::new();
    for a in antennas {
        let mut found = |kind, severity, what: String, value, threshold| {
            let message = format!("antenna {} (name {}): {what}", a.number, a.name);
            let mut p = problem(kind, severity, message, value, threshold);
            p.antenna = Some(ProblemAntenna {
                number: a.number,
                name: a.name.clone(),
            });
            out.push(p);
        };
        if let Some(ratio) = a.power_ratio {
            let of_median = "of the array's median";
            if ratio < t.dead_antenna_ratio {
                let what = format!("power {ratio:.2e} {of_median}");
                found(
                    ProblemKind::DeadAntenna,
                    Severity::Bad,
                    what,
                    ratio,
                    t.dead_antenna_ratio,
                );
            } else if ratio < t.low_antenna_ratio {
                let what = format!("power {ratio:.3} {of_median}");
                found(
                    ProblemKind::LowAntenna,
                    Severity::Warn,
                    what,
                    ratio,
                    t.low_antenna_ratio,
                );
            }
        }
        if a.flagged_fraction > t.flagged_antenna_fraction {
            let what = format!("{:.0}% of its cells flagged", 100.0 * a.flagged_fraction);
            let (value, threshold) = (a.flagged_fraction, t.flagged_antenna_fraction);
            found(
                ProblemKind::FlaggedAntenna,
                Severity::Warn,
                what,
                value,
                threshold,
            );
        }
    }
    out
}

/// Missing, NaN and flagged subbands.
pub fn subband_problems(subbands: &[SubbandStats], t: &Thresholds) -> Vec<Problem> {
    let mut out = Vec::new();
    for s in subbands {
        let with = |mut p: Problem| {
            p.subband = Some(s.name.clone());
            p
        };
        if s.rows == 0 {
            out.push(with(problem(
                ProblemKind::MissingSubband,
                Severity::Bad,
                format!("subband {}: no data", s.name),
                0.0,
                0.0,
            )));
        } else if s.nan_fraction > t.nan_subband_fraction {
            out.push(with(problem(
                ProblemKind::NanSubband,
                Severity::Bad,
                format!("subband {}: {:.0}% NaN", s.name, 100.0 * s.nan_fraction),
                s.nan_fraction,
                t.nan_subband_fraction,
            )));
        } else if s.flagged_fraction > t.flagged_subband_fraction {
            out.push(with(problem(
                ProblemKind::FlaggedSubband,
                Severity::Warn,
                format!(
                    "subband {}: {:.0}% flagged",
                    s.name,
                    100.0 * s.flagged_fraction
                ),
                s.flagged_fraction,
                t.flagged_subband_fraction,
            )));
        }
    }
    out
}

/// Partial integrations.
pub fn integration_problems(integrations: &[IntegrationStats], t: &Thresholds) -> Vec<Problem> {
    integrations
        .iter()
        .filter(|i| i.nsamples_deficit > t.partial_deficit)
        .map(|i| {
            let mut p = problem(
                ProblemKind::PartialIntegration,
                Severity::Warn,
                format!(
                    "integration {}: {:.0}% of the samples of a full one",
                    i.index,
                    100.0 * (1.0 - i.nsamples_deficit)
                ),
                i.nsamples_deficit,
                t.partial_deficit,
            );
            p.integration = Some(i.index);
            p
        })
        .collect()
}

/// Channels of `spectrum` (the whole band, NaN where there are no data)
/// that stand out of their subband of `width` channels; one problem
/// listing them all.
pub fn outlier_problems(
    spectrum: &[f64],
    freq_hz: &[f64],
    width: usize,
    t: &Thresholds,
) -> Vec<Problem> {
    let mut channels = Vec::new();
    let mut worst: f64 = 0.0;
    for (k, sub) in spectrum.chunks(width.max(1)).enumerate() {
        let good: Vec<f64> = sub.iter().copied().filter(|v| v.is_finite()).collect();
        let Some(med) = median(&good) else { continue };
        let dev: Vec<f64> = good.iter().map(|v| (v - med).abs()).collect();
        let sigma = 1.4826 * median(&dev).unwrap_or(0.0);
        let limit = (t.outlier_sigma * sigma).max(t.outlier_relative * med.abs());
        for (c, v) in sub.iter().enumerate() {
            let d = (v - med).abs();
            if v.is_finite() && d > limit && limit.is_finite() {
                channels.push(k * width + c);
                if med != 0.0 {
                    worst = worst.max(d / med.abs());
                }
            }
        }
    }
    if channels.is_empty() {
        return Vec::new();
    }
    let mut p = problem(
        ProblemKind::OutlierChannels,
        Severity::Warn,
        format!(
            "{} outlier channel{} (RFI?): {}",
            channels.len(),
            if channels.len() == 1 { "" } else { "s" },
            channels
                .iter()
                .map(|&c| format!("{c} ({:.3} MHz)", freq_hz[c] / 1e6))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        worst,
        t.outlier_relative,
    );
    p.freq_hz = channels.iter().map(|&c| freq_hz[c]).collect();
    p.channels = channels;
    vec![p]
}

/// Median of finite values; `None` when empty.
pub(super) fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_states_the_default_thresholds() {
        let t = Thresholds::default();
        let lines: Vec<&str> = HELP.lines().collect();
        let has = |kind: &str, number: f64| {
            let line = lines
                .iter()
                .find(|l| l.trim_start().starts_with(kind))
                .unwrap_or_else(|| panic!("{kind} missing from HELP"));
            assert!(
                line.contains(&format!("{number}")),
                "{kind}: {line} lacks {number}"
            );
        };
        has("dead_antenna", t.dead_antenna_ratio);
        has("low_antenna", t.low_antenna_ratio);
        has("flagged_antenna", t.flagged_antenna_fraction);
        has("nan_subband", t.nan_subband_fraction);
        has("flagged_subband", t.flagged_subband_fraction);
        has("partial_integration", t.partial_deficit);
        has("outlier_channels", t.outlier_sigma);
        assert!(HELP.contains(&format!("> {} x the", t.outlier_relative)));
    }

    #[test]
    fn the_worst_severity_decides() {
        let p = |s| problem(ProblemKind::LowAntenna, s, String::new(), 0.0, 0.0);
        assert_eq!(verdict_of(&[]), Verdict::Ok);
        assert_eq!(verdict_of(&[p(Severity::Warn)]), Verdict::Warn);
        assert_eq!(
            verdict_of(&[p(Severity::Warn), p(Severity::Bad)]),
            Verdict::Bad
        );
    }

    #[test]
    fn a_spike_stands_out_of_a_flat_subband_and_a_gentle_slope_does_not() {
        let t = Thresholds::default();
        let mut s: Vec<f64> = (0..16).map(|c| 10.0 + 0.1 * c as f64).collect();
        let freq: Vec<f64> = (0..16).map(|c| 1.4e9 + c as f64 * 1e6).collect();
        assert!(outlier_problems(&s, &freq, 8, &t).is_empty());
        s[11] = 500.0;
        s[3] = f64::NAN;
        let p = outlier_problems(&s, &freq, 8, &t);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].channels, [11]);
        assert_eq!(p[0].freq_hz, [freq[11]]);
    }
}
