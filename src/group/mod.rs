//! Which files belong together, and where each one's channels go in the
//! joined band.
//!
//! DSA-110 writes `YYYY-MM-DDTHH:MM:SS_sbNN.hdf5`, one file per subband;
//! the live system may stamp the subbands of one group up to about a minute
//! apart, so files are grouped by time within a tolerance, never by exact
//! string. A loaded group is checked inside (same times, baselines and
//! polarizations; frequencies that do not overlap) and joined along
//! frequency in ascending order.

mod band;
mod find;
mod read;

use std::path::PathBuf;
use std::sync::Arc;

use crate::uvh5::{Header, Uvh5Error, Uvh5File};

pub use band::{window_names, Band};
pub use find::{
    find_groups, group_timestamp, groups_at, joins_group, parse_file_name, parse_time_s, FoundGroup,
};
pub use read::{firsts_side_by_side, read_side_by_side, Block};

/// Errors of finding or loading a group; each names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error(transparent)]
    Uvh5(#[from] Uvh5Error),
    #[error("{path}: does not belong with {reference}: {what}")]
    Mismatch {
        path: PathBuf,
        reference: PathBuf,
        what: String,
    },
    #[error("{a} and {b}: frequencies overlap ({what})")]
    Overlap {
        a: PathBuf,
        b: PathBuf,
        what: String,
    },
    #[error("cannot read directory {path}: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad time '{0}': expected YYYY-MM-DDTHH:MM:SS")]
    Time(String),
    #[error("no files given")]
    Empty,
    /// A file whose frequencies put it nowhere in the band being
    /// converted, where another file is, or somewhere else than where it
    /// was written; or a group that is not the band laid out.
    #[error("{path}: {what}")]
    Placement { path: PathBuf, what: String },
}

/// Where one file's channels go in the joined, ascending band.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelMap {
    /// First joined channel of this file.
    pub offset: usize,
    /// Channels in this file.
    pub n_freqs: usize,
    /// The file's channels run in descending frequency.
    pub reversed: bool,
}

/// The files of one group, checked and ordered by frequency.
#[derive(Clone, Debug)]
pub struct Group {
    /// Shared with the open files: each header is read once.
    headers: Vec<Arc<Header>>,
    maps: Vec<ChannelMap>,
    freq_hz: Vec<f64>,
    channel_width_hz: Vec<f64>,
    paths: Vec<PathBuf>,
}

fn mismatch(h: &Header, reference: &Header, what: String) -> GroupError {
    GroupError::Mismatch {
        path: h.path.clone(),
        reference: reference.path.clone(),
        what,
    }
}

/// Check that `h` can be joined with `reference` along frequency.
pub(crate) fn check_same_rows(h: &Header, reference: &Header) -> Result<(), GroupError> {
    if h.n_blts != reference.n_blts {
        return Err(mismatch(
            h,
            reference,
            format!("{} rows, not {}", h.n_blts, reference.n_blts),
        ));
    }
    if let Some(i) = (0..h.n_blts).find(|&i| (h.time_jd[i] - reference.time_jd[i]).abs() > 1e-8) {
        return Err(mismatch(
            h,
            reference,
            format!(
                "time of row {i} is JD {:.6}, not {:.6} (files of two different groups?)",
                h.time_jd[i], reference.time_jd[i]
            ),
        ));
    }
    if h.ant_1_array != reference.ant_1_array || h.ant_2_array != reference.ant_2_array {
        return Err(mismatch(
            h,
            reference,
            "different baselines (ant_1_array/ant_2_array)".into(),
        ));
    }
    if h.polarizations != reference.polarizations {
        return Err(mismatch(
            h,
            reference,
            format!(
                "polarizations {:?}, not {:?}",
                h.polarizations, reference.polarizations
            ),
        ));
    }
    if h.layout != reference.layout || h.vis_dtype != reference.vis_dtype {
        return Err(mismatch(
            h,
            reference,
            format!(
                "layout {:?}/{}, not {:?}/{}",
                h.layout, h.vis_dtype, reference.layout, reference.vis_dtype
            ),
        ));
    }
    Ok(())
}

/// Channel direction of a file: ascending (false) or descending (true);
/// headers are read with their channels strictly monotonic
/// ([`crate::uvh5::check`]).
pub(crate) fn direction(h: &Header) -> bool {
    h.freq_hz.windows(2).any(|w| w[1] < w[0])
}

/// Open the subband files `paths` (any order) for reading, check that they
/// form one group, and return the files in the group's (ascending
/// frequency) order beside it: each header is read once, shared by the
/// file and the group.
pub fn open_files(
    paths: &[PathBuf],
    chunk_cache_bytes: usize,
) -> Result<(Vec<Uvh5File>, Group), GroupError> {
    use rayon::prelude::*;
    let mut files = paths
        .par_iter()
        .map(|p| Uvh5File::open(p, chunk_cache_bytes))
        .collect::<Result<Vec<_>, _>>()?;
    let group = Group::from_headers(files.iter().map(|f| f.shared_header()).collect())?;
    files.sort_by_key(|f| group.paths().iter().position(|p| *p == f.header().path));
    Ok((files, group))
}

impl Group {
    /// The group of files whose headers were read already (any order),
    /// checked and ordered by frequency.
    pub fn from_headers(mut headers: Vec<Arc<Header>>) -> Result<Group, GroupError> {
        if headers.is_empty() {
            return Err(GroupError::Empty);
        }
        let lowest = |h: &Header| h.freq_hz.iter().copied().fold(f64::INFINITY, f64::min);
        headers.sort_by(|a, b| lowest(a).total_cmp(&lowest(b)));
        for h in &headers[1..] {
            check_same_rows(h, &headers[0])?;
        }
        let mut maps = Vec::with_capacity(headers.len());
        let mut freq_hz = Vec::new();
        let mut channel_width_hz = Vec::new();
        for (k, h) in headers.iter().enumerate() {
            let reversed = direction(h);
            if k > 0 {
                let prev = &headers[k - 1];
                let top = prev
                    .freq_hz
                    .iter()
                    .copied()
                    .fold(f64::NEG_INFINITY, f64::max);
                if lowest(h) <= top {
                    return Err(GroupError::Overlap {
                        a: prev.path.clone(),
                        b: h.path.clone(),
                        what: format!("{:.6} MHz <= {:.6} MHz", lowest(h) / 1e6, top / 1e6),
                    });
                }
            }
            maps.push(ChannelMap {
                offset: freq_hz.len(),
                n_freqs: h.n_freqs,
                reversed,
            });
            let order: Box<dyn Iterator<Item = usize>> = if reversed {
                Box::new((0..h.n_freqs).rev())
            } else {
                Box::new(0..h.n_freqs)
            };
            for c in order {
                freq_hz.push(h.freq_hz[c]);
                channel_width_hz.push(h.channel_width_hz[c].abs());
            }
        }
        let paths = headers.iter().map(|h| h.path.clone()).collect();
        Ok(Group {
            headers,
            maps,
            freq_hz,
            channel_width_hz,
            paths,
        })
    }

    /// The header of the lowest-frequency file (times, baselines and
    /// antennas are the same in every file).
    pub fn header(&self) -> &Header {
        &self.headers[0]
    }

    /// The files, in ascending frequency.
    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Joined channel centres, ascending, Hz.
    pub fn freq_hz(&self) -> &[f64] {
        &self.freq_hz
    }

    /// Joined channel widths (positive), Hz.
    pub fn channel_width_hz(&self) -> &[f64] {
        &self.channel_width_hz
    }

    /// Channels of every file when all files have as many, else all
    /// channels: the MS tiles DATA by this width.
    pub fn subband_width(&self) -> usize {
        let first = self.maps[0].n_freqs;
        if self.maps.iter().all(|m| m.n_freqs == first) {
            first
        } else {
            self.freq_hz.len()
        }
    }

    /// Per file (ascending frequency), where its channels go.
    pub fn channel_maps(&self) -> &[ChannelMap] {
        &self.maps
    }

    /// Per file (ascending frequency), its header.
    pub fn headers(&self) -> &[Arc<Header>] {
        &self.headers
    }
}
