//! QA gathered by a conversion from the blocks it writes (after the fused
//! transform: MS conjugation, ascending channels), with no second read of
//! the inputs.

use std::path::Path;

use super::{calibrator_field, group_shape, write_outputs, CalibratorField, Conjugation};
use super::{QaAccumulator, QaBlock, QaError, QaShape};
use crate::group::Band;
use crate::ms::Channels;
use crate::uvh5::Header;

/// The QA of one conversion.
pub struct Tap {
    /// `None` once a block could not be added: QA is a look at the data,
    /// never a reason to fail the conversion.
    acc: Option<QaAccumulator>,
    ant1: Vec<u32>,
    ant2: Vec<u32>,
    /// Each row's integration.
    integration: Vec<u32>,
}

impl Tap {
    /// QA named `name` of the group `header` (any of its files) describes,
    /// in `band`, whose MS fields are `field_names` (a calibrator's is
    /// `<name>_t<idx>`).
    pub fn new(
        header: &Header,
        band: &Band,
        name: &str,
        field_names: &[String],
    ) -> Result<Tap, QaError> {
        let mut shape = match band {
            Band::Group(g) => group_shape(g, name),
            Band::Dsa110 { n_subbands, width } => {
                QaShape::from_header(header, name, *n_subbands, *width)
            }
        };
        shape.calibrator = calibrator_field(field_names)
            .map(|(integration, name)| CalibratorField { name, integration });
        let (ant1, ant2) = header.row_antennas();
        Ok(Tap {
            integration: shape.row_integrations(&header.time_jd)?,
            acc: Some(QaAccumulator::new(&shape)),
            ant1,
            ant2,
        })
    }

    /// Forget channels `first_channel..first_channel + n_chan` (a subband
    /// written again).
    pub fn forget(&mut self, first_channel: usize, n_chan: usize) {
        if let Some(acc) = self.acc.as_mut() {
            acc.forget(first_channel, n_chan);
        }
    }

    /// Add `cells`, rows `r0..` of adjacent whole subbands starting at
    /// channel `first_channel` of the band, at `freq_hz`, as the MS holds
    /// them. An error (a subband added twice) drops the group's QA with a
    /// warning.
    pub fn add(&mut self, first_channel: usize, freq_hz: &[f64], r0: usize, cells: &Channels) {
        let Some(acc) = self.acc.as_mut() else { return };
        let rows = r0..r0 + cells.n_rows;
        let added = acc.add(&QaBlock {
            first_channel,
            freq_hz,
            ant1: &self.ant1[rows.clone()],
            ant2: &self.ant2[rows.clone()],
            integration: &self.integration[rows],
            vis: cells.vis,
            flags: cells.flags,
            nsamples: cells.nsamples,
            conjugation: Conjugation::Ms,
        });
        if let Err(e) = added {
            tracing::warn!("QA of this group dropped: {e}");
            self.acc = None;
        }
    }

    /// Write `<group>.qa.json` and `<group>.qa.png` into `dir` (beside the
    /// MS); the one-line summary, or `None` when the QA was dropped.
    pub fn finish(self, dir: &Path) -> Result<Option<String>, QaError> {
        let Some(acc) = self.acc else { return Ok(None) };
        let mut report = acc.finish();
        report.input = "convert".into();
        write_outputs(&report, dir)?;
        Ok(Some(report.summary))
    }
}
