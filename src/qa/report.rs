//! The QA report: the statistics plotted, the problems and the verdict,
//! serialised as the JSON documented in `docs/qa.md` (stable keys; a value
//! with no data, such as a channel of a NaN subband, is `null`).

use std::path::Path;

use super::stats::{Index, SubbandSums};
use super::verdict::{self, median, Problem, ProblemKind, Thresholds, Verdict};
use super::{QaError, QaShape};

/// Version of the JSON layout; bumped when a key changes meaning.
pub const SCHEMA: &str = "dsa110-convert/qa/1";

/// Everything QA found for one group.
#[derive(Clone, Debug, serde::Serialize)]
pub struct QaReport {
    pub schema: &'static str,
    pub group: String,
    /// What was read: `uvh5` (the files), `ms` (a Measurement Set) or
    /// `convert` (the converter's buffers); set by whoever gathered it.
    pub input: String,
    pub verdict: Verdict,
    /// One line: the verdict and the problems, for logs and `stream status`.
    pub summary: String,
    pub problems: Vec<Problem>,
    pub thresholds: Thresholds,
    pub n_antennas: usize,
    pub n_integrations: usize,
    pub n_subbands: usize,
    pub n_channels: usize,
    pub n_polarizations: usize,
    /// Channel centres of the whole band, ascending, Hz.
    pub freq_hz: Vec<f64>,
    /// Integration midpoints, UTC Julian Date.
    pub time_jd: Vec<f64>,
    /// Sorted by antenna number.
    pub antennas: Vec<AntennaStats>,
    /// Ascending frequency.
    pub subbands: Vec<SubbandStats>,
    pub integrations: Vec<IntegrationStats>,
    pub channels: ChannelStats,
    /// `[integration][channel]`: mean |V| over cross-correlations and
    /// polarizations (unflagged).
    pub cross_amp_waterfall: Vec<Vec<f64>>,
    pub calibrator: Option<CalibratorStats>,
}

/// Per antenna. Amplitudes are in the data's units (see the module docs).
#[derive(Clone, Debug, serde::Serialize)]
pub struct AntennaStats {
    /// Antenna number (0-based, as in the files' ant_1_array).
    pub number: u32,
    pub name: String,
    /// Median over channels of `auto_spectrum`; `None` without
    /// autocorrelations.
    pub auto_power: Option<f64>,
    /// `auto_power` over the median antenna's (cross amplitude over the
    /// median antenna's when the group has no autocorrelations).
    pub power_ratio: Option<f64>,
    /// Mean |V| of its unflagged cross-correlation cells.
    pub cross_amp: Option<f64>,
    /// Flagged cells of the rows it is in, over all of them.
    pub flagged_fraction: f64,
    /// The same per subband (ascending frequency).
    pub flagged_fraction_by_subband: Vec<f64>,
    /// Per channel: mean |V| of its unflagged autocorrelation cells over
    /// integrations and polarizations.
    pub auto_spectrum: Vec<f64>,
}

/// Per subband.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SubbandStats {
    /// Position in ascending frequency.
    pub index: usize,
    pub name: String,
    pub freq_min_hz: f64,
    pub freq_max_hz: f64,
    /// Rows added (the group's rows when complete, 0 when missing).
    pub rows: u64,
    pub flagged_fraction: f64,
    /// Flagged cells whose visibility is exactly 0: what the reader makes
    /// of NaN or infinite values (a Measurement Set keeps no NaN).
    pub nan_fraction: f64,
    /// Mean |V| of its unflagged autocorrelation cells.
    pub auto_power: f64,
    /// Mean |V| of its unflagged cross-correlation cells.
    pub cross_amp: f64,
}

/// Per integration.
#[derive(Clone, Debug, serde::Serialize)]
pub struct IntegrationStats {
    pub index: usize,
    pub time_jd: f64,
    /// Mean nsamples of the unflagged cells (`null` when none).
    pub nsamples_mean: f64,
    /// 1 - nsamples_mean / the largest nsamples_mean of the group (1 when
    /// every cell is flagged).
    pub nsamples_deficit: f64,
    pub flagged_fraction: f64,
}

/// Per channel of the whole band.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChannelStats {
    /// Median over antennas of their `auto_spectrum`: the spectrum
    /// outlier channels are found in.
    pub auto_power_median: Vec<f64>,
    /// Mean |V| of the unflagged cross-correlation cells.
    pub cross_amp_mean: Vec<f64>,
}

/// The calibrator field's spectra of a few baselines.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CalibratorStats {
    pub name: String,
    pub integration: usize,
    pub baselines: Vec<CalibratorBaseline>,
}

/// One baseline (ant1 < ant2, pyuvdata conjugation), averaged over
/// polarizations.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CalibratorBaseline {
    pub ant1: u32,
    pub ant2: u32,
    pub amp: Vec<f64>,
    /// Degrees, (-180, 180].
    pub phase_deg: Vec<f64>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// The report of a finished accumulation.
pub(super) fn build(
    shape: &QaShape,
    antennas: &[u32],
    index: &Index,
    subbands: &[SubbandSums],
) -> QaReport {
    let (n_ant, n_int, w) = (antennas.len(), shape.time_jd.len(), shape.subband_channels);
    let n_chan = shape.n_channels();
    let freq_hz: Vec<f64> = subbands
        .iter()
        .flat_map(|s| {
            if s.freq_hz.len() == w {
                s.freq_hz.clone()
            } else {
                vec![f64::NAN; w]
            }
        })
        .collect();
    // Per antenna and channel, the time-averaged autocorrelation power.
    let spectrum = |a: usize| -> Vec<f64> {
        subbands
            .iter()
            .flat_map(|s| {
                (0..w).map(move |c| ratio(s.auto_sum[a * w + c], s.auto_n[a * w + c] as f64))
            })
            .collect()
    };
    let spectra: Vec<Vec<f64>> = (0..n_ant).map(spectrum).collect();
    let auto_power: Vec<Option<f64>> = spectra.iter().map(|s| median(s)).collect();
    let cross_amp: Vec<Option<f64>> = (0..n_ant)
        .map(|a| {
            let sum: f64 = subbands.iter().map(|s| s.ant_cross_sum[a]).sum();
            let n: u64 = subbands.iter().map(|s| s.ant_cross_n[a]).sum();
            finite(ratio(sum, n as f64))
        })
        .collect();
    let has_autos = auto_power.iter().any(Option::is_some);
    let metric = if has_autos { &auto_power } else { &cross_amp };
    let array: Vec<f64> = metric.iter().flatten().copied().collect();
    let array_median = median(&array);
    let antenna_stats: Vec<AntennaStats> = (0..n_ant)
        .map(|a| {
            let name_at = shape.antennas.iter().position(|&n| n == antennas[a]);
            let flagged: u64 = subbands.iter().map(|s| s.ant_flagged[a]).sum();
            let cells: u64 = subbands.iter().map(|s| s.ant_cells[a]).sum();
            AntennaStats {
                number: antennas[a],
                name: name_at
                    .and_then(|i| shape.antenna_names.get(i).cloned())
                    .unwrap_or_else(|| antennas[a].to_string()),
                auto_power: auto_power[a],
                power_ratio: metric[a]
                    .zip(array_median)
                    .and_then(|(m, med)| finite(ratio(m, med))),
                cross_amp: cross_amp[a],
                flagged_fraction: ratio(flagged as f64, cells as f64),
                flagged_fraction_by_subband: subbands
                    .iter()
                    .map(|s| ratio(s.ant_flagged[a] as f64, s.ant_cells[a] as f64))
                    .collect(),
                auto_spectrum: spectra[a].clone(),
            }
        })
        .collect();

    let subband_stats: Vec<SubbandStats> = subbands
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let (auto_sum, auto_n) = (
                s.auto_sum.iter().sum::<f64>(),
                s.auto_n.iter().map(|&n| n as u64).sum::<u64>(),
            );
            let (cross_sum, cross_n) = (
                s.cross_sum.iter().sum::<f64>(),
                s.cross_n.iter().map(|&n| n as u64).sum::<u64>(),
            );
            SubbandStats {
                index: k,
                name: shape.subband_names[k].clone(),
                freq_min_hz: s.freq_hz.first().copied().unwrap_or(f64::NAN),
                freq_max_hz: s.freq_hz.last().copied().unwrap_or(f64::NAN),
                rows: s.rows,
                flagged_fraction: ratio(s.flagged as f64, s.cells as f64),
                nan_fraction: ratio(s.nan as f64, s.cells as f64),
                auto_power: ratio(auto_sum, auto_n as f64),
                cross_amp: ratio(cross_sum, cross_n as f64),
            }
        })
        .collect();

    let ns_mean: Vec<f64> = (0..n_int)
        .map(|t| {
            let sum: f64 = subbands.iter().map(|s| s.int_ns_sum[t]).sum();
            let n: u64 = subbands.iter().map(|s| s.int_ns_n[t]).sum();
            ratio(sum, n as f64)
        })
        .collect();
    let fullest = ns_mean
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold(f64::NAN, f64::max);
    let integration_stats: Vec<IntegrationStats> = (0..n_int)
        .map(|t| {
            let flagged: u64 = subbands.iter().map(|s| s.int_flagged[t]).sum();
            let cells: u64 = subbands.iter().map(|s| s.int_cells[t]).sum();
            IntegrationStats {
                index: t,
                time_jd: shape.time_jd[t],
                nsamples_mean: ns_mean[t],
                nsamples_deficit: if ns_mean[t].is_finite() {
                    finite(1.0 - ratio(ns_mean[t], fullest)).unwrap_or(0.0)
                } else {
                    1.0
                },
                flagged_fraction: ratio(flagged as f64, cells as f64),
            }
        })
        .collect();

    let auto_power_median: Vec<f64> = (0..n_chan)
        .map(|c| {
            let column: Vec<f64> = spectra.iter().map(|s| s[c]).collect();
            median(&column).unwrap_or(f64::NAN)
        })
        .collect();
    let cross_amp_mean: Vec<f64> = subbands
        .iter()
        .flat_map(|s| {
            (0..w).map(move |c| {
                let sum: f64 = (0..n_int).map(|t| s.cross_sum[t * w + c]).sum();
                let n: u64 = (0..n_int).map(|t| s.cross_n[t * w + c] as u64).sum();
                ratio(sum, n as f64)
            })
        })
        .collect();
    let waterfall: Vec<Vec<f64>> = (0..n_int)
        .map(|t| {
            subbands
                .iter()
                .flat_map(|s| {
                    (0..w).map(move |c| ratio(s.cross_sum[t * w + c], s.cross_n[t * w + c] as f64))
                })
                .collect()
        })
        .collect();

    let calibrator = shape.calibrator.as_ref().map(|cal| CalibratorStats {
        name: cal.name.clone(),
        integration: cal.integration,
        baselines: index
            .cal_baselines
            .iter()
            .enumerate()
            .map(|(slot, &(ant1, ant2))| {
                let v: Vec<num_complex::Complex64> = subbands
                    .iter()
                    .flat_map(|s| {
                        (0..w).map(move |c| {
                            let n = s.cal_n.get(slot * w + c).copied().unwrap_or(0);
                            if n == 0 {
                                num_complex::Complex64::new(f64::NAN, f64::NAN)
                            } else {
                                s.cal_sum[slot * w + c] / n as f64
                            }
                        })
                    })
                    .collect();
                CalibratorBaseline {
                    ant1,
                    ant2,
                    amp: v.iter().map(|z| z.norm()).collect(),
                    phase_deg: v.iter().map(|z| z.arg().to_degrees()).collect(),
                }
            })
            .collect(),
    });

    let thresholds = Thresholds::default();
    let spectrum_for_outliers = if auto_power_median.iter().any(|v| v.is_finite()) {
        &auto_power_median
    } else {
        &cross_amp_mean
    };
    let mut problems = verdict::antenna_problems(&antenna_stats, &thresholds);
    problems.extend(verdict::subband_problems(&subband_stats, &thresholds));
    problems.extend(verdict::integration_problems(
        &integration_stats,
        &thresholds,
    ));
    problems.extend(verdict::outlier_problems(
        spectrum_for_outliers,
        &freq_hz,
        w,
        &thresholds,
    ));
    let verdict = verdict::verdict_of(&problems);
    QaReport {
        schema: SCHEMA,
        group: shape.group.clone(),
        input: String::new(),
        verdict,
        summary: summary(verdict, &problems),
        problems,
        thresholds,
        n_antennas: n_ant,
        n_integrations: n_int,
        n_subbands: subbands.len(),
        n_channels: n_chan,
        n_polarizations: shape.n_pols,
        freq_hz,
        time_jd: shape.time_jd.clone(),
        antennas: antenna_stats,
        subbands: subband_stats,
        integrations: integration_stats,
        channels: ChannelStats {
            auto_power_median,
            cross_amp_mean,
        },
        cross_amp_waterfall: waterfall,
        calibrator,
    }
}

/// `ok`, or the verdict and the problems in a few words, one entry per
/// kind: `bad: dead antenna 24; flagged antennas 2, 3, 4, 5, 6 and 9 more`.
fn summary(verdict: Verdict, problems: &[Problem]) -> String {
    if problems.is_empty() {
        return verdict.as_str().to_string();
    }
    let mut kinds: Vec<ProblemKind> = Vec::new();
    for p in problems {
        if !kinds.contains(&p.kind) {
            kinds.push(p.kind);
        }
    }
    let words: Vec<String> = kinds
        .iter()
        .map(|&kind| {
            let of_kind: Vec<&Problem> = problems.iter().filter(|p| p.kind == kind).collect();
            let (one, many) = match kind {
                ProblemKind::OutlierChannels => {
                    let n: usize = of_kind.iter().map(|p| p.channels.len()).sum();
                    return format!("{n} outlier channel{}", if n == 1 { "" } else { "s" });
                }
                ProblemKind::DeadAntenna => ("dead antenna", "dead antennas"),
                ProblemKind::LowAntenna => ("low antenna", "low antennas"),
                ProblemKind::FlaggedAntenna => ("flagged antenna", "flagged antennas"),
                ProblemKind::NanSubband => ("NaN subband", "NaN subbands"),
                ProblemKind::FlaggedSubband => ("flagged subband", "flagged subbands"),
                ProblemKind::MissingSubband => ("missing subband", "missing subbands"),
                ProblemKind::PartialIntegration => ("partial integration", "partial integrations"),
            };
            let what: Vec<String> = of_kind
                .iter()
                .map(|p| match (&p.antenna, &p.subband, p.integration) {
                    (Some(a), _, _) => a.number.to_string(),
                    (None, Some(s), _) => s.clone(),
                    (None, None, Some(i)) => i.to_string(),
                    (None, None, None) => String::new(),
                })
                .collect();
            const SHOWN: usize = 5;
            let list = if what.len() > SHOWN + 1 {
                format!(
                    "{} and {} more",
                    what[..SHOWN].join(", "),
                    what.len() - SHOWN
                )
            } else {
                what.join(", ")
            };
            format!("{} {list}", if what.len() == 1 { one } else { many })
        })
        .collect();
    format!("{}: {}", verdict.as_str(), words.join("; "))
}

impl QaReport {
    /// Write the JSON to `path` (through a temporary file in its
    /// directory), compact: about 1.9 MB for a full-size group, whose
    /// verdict, summary and problems come first.
    pub fn write_json(&self, path: &Path) -> Result<(), QaError> {
        let text = serde_json::to_string(self).map_err(|source| QaError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        write_atomically(path, text.as_bytes())
    }
}

/// `bytes` to a hidden temporary file beside `path`, renamed to `path`.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), QaError> {
    let tmp = temporary_beside(path);
    let io = |source| QaError::Io {
        path: path.to_path_buf(),
        source,
    };
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A hidden name beside `path` that keeps its extension (the PNG encoder
/// goes by it): `dir/.<stem>.partial.<ext>`.
pub(super) fn temporary_beside(path: &Path) -> std::path::PathBuf {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("qa");
    let ext = path.extension().and_then(|s| s.to_str()).unwrap_or("tmp");
    path.with_file_name(format!(".{stem}.partial.{ext}"))
}
