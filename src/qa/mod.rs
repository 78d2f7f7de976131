//! Quick-look QA of a group: a few small statistics gathered in one pass
//! over the visibilities, a list of problems with a verdict (ok, warn,
//! bad), a JSON report and a dashboard PNG a person can glance at.
//!
//! One code path for the statistics: [`QaAccumulator`] is fed blocks of
//! rows ([`QaBlock`]), whichever way they were read: by the converter
//! while it converts (no second read), by [`accumulate_group`] from the
//! UVH5 files, or by [`accumulate_ms`] from a Measurement Set. Blocks may
//! hold one subband or several adjacent ones, arrive in any subband order
//! and split the rows in any way (the daemon adds subbands as they land).
//!
//! What is gathered (all small: per antenna x channel, per integration x
//! channel, per antenna x subband, per integration):
//! - autocorrelation power per antenna and channel ([`report::AntennaStats`]),
//! - the mean cross-correlation amplitude per integration and channel,
//! - flagged and NaN cell counts per antenna, subband and integration,
//! - mean nsamples per integration (its deficit marks partial integrations),
//! - on the calibrator's field, when known, the visibility of a few
//!   baselines per channel.
//!
//! Amplitudes are in the data's own units: Jy for the simulator,
//! uncalibrated correlator units for the telescope. Cells are `[row][channel
//! ascending][pol]`, in pyuvdata's conjugation (the files) or the
//! Measurement Set's (the converter's blocks, an MS's DATA): each block says
//! which ([`Conjugation`]); statistics average over polarizations.

//! # Feeding it while converting
//! ```text
//! let mut tap = qa::Tap::new(header, &band, group_name, &field_names)?;
//! // per block, as written to the MS (after the fused transform): whole
//! // subbands, first_channel the first one's place in the band:
//! tap.add(first_channel, freq_hz, r0, &cells);
//! tap.finish(ms_dir)?;          // <group>.qa.json, <group>.qa.png
//! // stream status: qa::read_verdict(&qa::output_paths(ms_dir, group).0)
//! ```

mod error;
mod ms;
mod plot;
pub mod report;
mod shape;
mod stats;
mod tap;
mod text;
mod uvh5;
pub mod verdict;

pub use error::QaError;
pub use ms::{accumulate_ms, calibrator_field};
pub use plot::{render_png, PNG_SIZE};
pub use report::QaReport;
pub use shape::{CalibratorField, QaShape};
pub use stats::{Conjugation, QaAccumulator, QaBlock, QaPart};
pub use tap::Tap;
pub use uvh5::{accumulate_group, group_shape};
pub use verdict::{read_verdict, Problem, ProblemKind, Severity, Thresholds, Verdict};

use std::path::{Path, PathBuf};

/// The two files QA writes for `group` in `dir`: `<group>.qa.json` and
/// `<group>.qa.png`.
pub fn output_paths(dir: &Path, group: &str) -> (PathBuf, PathBuf) {
    (
        dir.join(format!("{group}.qa.json")),
        dir.join(format!("{group}.qa.png")),
    )
}

/// Write `report` as `<group>.qa.json` and its dashboard as
/// `<group>.qa.png` into `dir`; returns their paths (JSON, PNG). Each file
/// appears complete or not at all (written under a temporary name, then
/// renamed).
pub fn write_outputs(report: &QaReport, dir: &Path) -> Result<(PathBuf, PathBuf), QaError> {
    let (json, png) = output_paths(dir, &report.group);
    report.write_json(&json)?;
    render_png(report, &png)?;
    Ok((json, png))
}
