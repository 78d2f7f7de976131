//! QA of a Measurement Set, read with casacore (rubbl_casatables): its
//! rows are fed to the same accumulator as the converter's, window by
//! window, DATA as it is ([`Conjugation::Ms`]).
//!
//! Subbands: one per spectral window when there are several (named by the
//! window's NAME); a single window of a DSA-110 band is cut into
//! [`telescope::N_SUBBANDS`] when its channels divide evenly. nsamples come
//! from WEIGHT_SPECTRUM when the MS has it, else from WEIGHT (the median of
//! nsamples over a row's window, for every channel). The calibrator is the
//! field named `<calibrator>_t<idx>` by the converter.

use std::path::Path;

use num_complex::Complex32;
use rubbl_casatables::{Table, TableOpenMode};

use super::shape::unique_times;
use super::{CalibratorField, Conjugation, QaAccumulator, QaBlock, QaError, QaReport, QaShape};
use crate::telescope;

/// Rows gathered per window before they are added.
const BLOCK_ROWS: usize = 4096;

/// One spectral window: its channels' place in the band.
struct Window {
    first_channel: usize,
    freq_hz: Vec<f64>,
}

/// Rows of one window waiting to be added.
#[derive(Default)]
struct Pending {
    ant1: Vec<u32>,
    ant2: Vec<u32>,
    integration: Vec<u32>,
    vis: Vec<Complex32>,
    flags: Vec<bool>,
    nsamples: Vec<f32>,
}

impl Pending {
    fn flush(&mut self, acc: &mut QaAccumulator, window: &Window) -> Result<(), QaError> {
        if self.ant1.is_empty() {
            return Ok(());
        }
        acc.add(&QaBlock {
            first_channel: window.first_channel,
            freq_hz: &window.freq_hz,
            ant1: &self.ant1,
            ant2: &self.ant2,
            integration: &self.integration,
            vis: &self.vis,
            flags: &self.flags,
            nsamples: &self.nsamples,
            conjugation: Conjugation::Ms,
        })?;
        self.ant1.clear();
        self.ant2.clear();
        self.integration.clear();
        self.vis.clear();
        self.flags.clear();
        self.nsamples.clear();
        Ok(())
    }
}

/// Open `name` (a subtable path relative to the MS, or "" for the main
/// table) read-only.
fn open(ms: &Path, name: &str) -> Result<Table, QaError> {
    let path = if name.is_empty() {
        ms.to_path_buf()
    } else {
        ms.join(name)
    };
    Table::open(&path, TableOpenMode::Read).map_err(|e| QaError::Ms {
        path: path.clone(),
        what: format!("cannot open as a casacore table: {e}"),
    })
}

/// Read the Measurement Set `ms` and gather its QA under the name `group`.
pub fn accumulate_ms(ms: &Path, group: &str) -> Result<QaReport, QaError> {
    let err = |what: String| QaError::Ms {
        path: ms.to_path_buf(),
        what,
    };
    let mut main = open(ms, "")?;
    let col = |t: &mut Table, c: &str| -> Result<Vec<i32>, QaError> {
        t.get_col_as_vec::<i32>(c)
            .map_err(|e| err(format!("column {c}: {e}")))
    };
    let ant1 = col(&mut main, "ANTENNA1")?;
    let ant2 = col(&mut main, "ANTENNA2")?;
    let ddid = col(&mut main, "DATA_DESC_ID")?;
    let field_id = col(&mut main, "FIELD_ID")?;
    let time_s = main
        .get_col_as_vec::<f64>("TIME")
        .map_err(|e| err(format!("column TIME: {e}")))?;
    let columns = main
        .column_names()
        .map_err(|e| err(format!("column names: {e}")))?;
    let spectrum = columns.iter().any(|c| c == "WEIGHT_SPECTRUM");
    if ant1.is_empty() {
        return Err(err("no rows".into()));
    }

    let spw_of_ddid = col(&mut open(ms, "DATA_DESCRIPTION")?, "SPECTRAL_WINDOW_ID")?;
    let mut spw = open(ms, "SPECTRAL_WINDOW")?;
    let spw_names: Vec<String> = spw
        .get_col_as_vec::<String>("NAME")
        .map_err(|e| err(format!("SPECTRAL_WINDOW NAME: {e}")))?;
    let mut spw_freq: Vec<Vec<f64>> = Vec::with_capacity(spw_names.len());
    for k in 0..spw_names.len() {
        let f = spw
            .get_cell_as_vec::<f64>("CHAN_FREQ", k as u64)
            .map_err(|e| err(format!("SPECTRAL_WINDOW CHAN_FREQ of window {k}: {e}")))?;
        if f.windows(2).any(|w| w[1] <= w[0]) {
            return Err(err(format!(
                "spectral window {k} is not in ascending frequency: QA reads the Measurement Sets this tool writes"
            )));
        }
        spw_freq.push(f);
    }
    // The windows used, ascending, laid end to end.
    let mut used: Vec<usize> = ddid
        .iter()
        .map(|&d| spw_of_ddid.get(d as usize).copied().unwrap_or(-1))
        .filter(|&s| s >= 0 && (s as usize) < spw_freq.len() && !spw_freq[s as usize].is_empty())
        .map(|s| s as usize)
        .collect();
    used.sort_unstable();
    used.dedup();
    used.sort_by(|&a, &b| spw_freq[a][0].total_cmp(&spw_freq[b][0]));
    let width = spw_freq[*used
        .first()
        .ok_or_else(|| err("no spectral window with channels".into()))?]
    .len();
    if used.iter().any(|&s| spw_freq[s].len() != width) {
        return Err(err("spectral windows of different widths".into()));
    }
    let mut windows: Vec<Option<Window>> = (0..spw_freq.len()).map(|_| None).collect();
    for (k, &s) in used.iter().enumerate() {
        windows[s] = Some(Window {
            first_channel: k * width,
            freq_hz: spw_freq[s].clone(),
        });
    }
    let n_chan = used.len() * width;
    let (subband_channels, subband_names) = if used.len() > 1 {
        (width, used.iter().map(|&s| spw_names[s].clone()).collect())
    } else if n_chan % telescope::N_SUBBANDS == 0 {
        (
            n_chan / telescope::N_SUBBANDS,
            QaShape::dsa_subband_names(telescope::N_SUBBANDS),
        )
    } else {
        (n_chan, vec![spw_names[used[0]].clone()])
    };

    let times = unique_times(&time_s);
    let integration: Vec<u32> = time_s
        .iter()
        .map(|t| times.partition_point(|&x| x < *t - 1e-3) as u32)
        .collect();
    let field_names = open(ms, "FIELD")?
        .get_col_as_vec::<String>("NAME")
        .map_err(|e| err(format!("FIELD NAME: {e}")))?;
    let calibrator = calibrator_field(&field_names).and_then(|(field, name)| {
        let row = field_id.iter().position(|&f| f as usize == field)?;
        Some(CalibratorField {
            name,
            integration: integration[row] as usize,
        })
    });
    let mut antennas: Vec<u32> = ant1.iter().chain(&ant2).map(|&a| a as u32).collect();
    antennas.sort_unstable();
    antennas.dedup();
    let antenna_table_names = open(ms, "ANTENNA")?
        .get_col_as_vec::<String>("NAME")
        .map_err(|e| err(format!("ANTENNA NAME: {e}")))?;
    let n_pols = main
        .get_cell_as_vec::<Complex32>("DATA", 0)
        .map_err(|e| err(format!("DATA of row 0: {e}")))?
        .len()
        / width;
    let rows_per_window = ant1.len() / used.len();
    let shape = QaShape {
        group: group.to_string(),
        antenna_names: antennas
            .iter()
            .map(|&a| {
                antenna_table_names
                    .get(a as usize)
                    .cloned()
                    .unwrap_or_else(|| a.to_string())
            })
            .collect(),
        antennas,
        time_jd: times
            .iter()
            .map(|&t| crate::astro::mjd_s_to_jd(t))
            .collect(),
        n_rows: rows_per_window,
        subband_names,
        subband_channels,
        n_pols,
        calibrator,
    };

    let mut acc = QaAccumulator::new(&shape);
    let mut pending: Vec<Pending> = (0..spw_freq.len()).map(|_| Pending::default()).collect();
    for r in 0..ant1.len() {
        let s = spw_of_ddid.get(ddid[r] as usize).copied().unwrap_or(-1);
        let Some(window) = usize::try_from(s)
            .ok()
            .and_then(|s| windows.get(s))
            .and_then(Option::as_ref)
        else {
            return Err(err(format!(
                "row {r}: DATA_DESC_ID {} has no spectral window",
                ddid[r]
            )));
        };
        let s = s as usize;
        let cell = |c: &str| format!("{c} of row {r}");
        let data = main
            .get_cell_as_vec::<Complex32>("DATA", r as u64)
            .map_err(|e| err(format!("{}: {e}", cell("DATA"))))?;
        let flags = main
            .get_cell_as_vec::<bool>("FLAG", r as u64)
            .map_err(|e| err(format!("{}: {e}", cell("FLAG"))))?;
        let cells = width * n_pols;
        if data.len() != cells || flags.len() != cells {
            return Err(err(format!(
                "row {r}: DATA/FLAG of {}/{} values, expected {width} channels x {n_pols} pols",
                data.len(),
                flags.len()
            )));
        }
        let p = &mut pending[s];
        if spectrum {
            let ws = main
                .get_cell_as_vec::<f32>("WEIGHT_SPECTRUM", r as u64)
                .map_err(|e| err(format!("{}: {e}", cell("WEIGHT_SPECTRUM"))))?;
            if ws.len() != cells {
                return Err(err(format!(
                    "row {r}: WEIGHT_SPECTRUM of {} values",
                    ws.len()
                )));
            }
            p.nsamples.extend_from_slice(&ws);
        } else {
            let w = main
                .get_cell_as_vec::<f32>("WEIGHT", r as u64)
                .map_err(|e| err(format!("{}: {e}", cell("WEIGHT"))))?;
            if w.len() != n_pols {
                return Err(err(format!("row {r}: WEIGHT of {} values", w.len())));
            }
            for _ in 0..width {
                p.nsamples.extend_from_slice(&w);
            }
        }
        p.vis.extend_from_slice(&data);
        p.flags.extend_from_slice(&flags);
        p.ant1.push(ant1[r] as u32);
        p.ant2.push(ant2[r] as u32);
        p.integration.push(integration[r]);
        if p.ant1.len() == BLOCK_ROWS {
            p.flush(&mut acc, window)?;
        }
    }
    for (p, w) in pending.iter_mut().zip(&windows) {
        if let Some(w) = w {
            p.flush(&mut acc, w)?;
        }
    }
    let mut report = acc.finish();
    report.input = "ms".into();
    Ok(report)
}

/// The field the converter named `<calibrator>_t<idx>` (not a
/// `meridian_icrs_t<idx>`): its index and the calibrator's name.
pub fn calibrator_field(names: &[String]) -> Option<(usize, String)> {
    names.iter().enumerate().find_map(|(i, n)| {
        let (name, idx) = n.rsplit_once("_t")?;
        (idx.parse::<usize>().is_ok() && name != "meridian_icrs" && !name.is_empty())
            .then(|| (i, name.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calibrator_field_is_the_renamed_one() {
        let names: Vec<String> = ["meridian_icrs_t0", "3C286_t1", "meridian_icrs_t2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(calibrator_field(&names), Some((1, "3C286".into())));
        assert_eq!(calibrator_field(&names[..1]), None);
    }
}
