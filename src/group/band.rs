//! Where each subband's channels go in the Measurement Set: decided by the
//! files' frequencies, never by their names, so a mislabelled file cannot
//! land in the wrong place.

use std::sync::Arc;

use super::{ChannelMap, Group, GroupError};
use crate::telescope;
use crate::uvh5::Header;

/// The band a conversion writes.
pub enum Band {
    /// Every file of the group is known (`convert`): where [`Group`] joins
    /// them, ascending.
    Group(Group),
    /// DSA-110 subbands arriving one by one (the daemon): `n_subbands`
    /// files of `width` channels, each placed by the correlator's channel
    /// formula ([`telescope::subband_of`]); sbNN holds the NN-th highest
    /// band.
    Dsa110 { n_subbands: usize, width: usize },
}

impl Band {
    /// The DSA-110 band of `n_subbands` subbands that the file `first`
    /// is one of.
    pub fn dsa110(first: &Header, n_subbands: usize) -> Result<Band, GroupError> {
        let band = Band::Dsa110 {
            n_subbands,
            width: first.n_freqs,
        };
        band.slot(first)?;
        Ok(band)
    }

    /// (subbands, channels per subband) of the MS: with files of unequal
    /// width, one subband of every channel.
    pub fn subbands(&self) -> (usize, usize) {
        match self {
            Band::Group(g) => {
                let width = g.subband_width();
                (g.freq_hz().len() / width, width)
            }
            Band::Dsa110 { n_subbands, width } => (*n_subbands, *width),
        }
    }

    /// Centre of the whole band, Hz (for primary-beam sizes).
    pub fn centre_hz(&self) -> f64 {
        match self {
            Band::Group(g) => 0.5 * (g.freq_hz()[0] + g.freq_hz()[g.freq_hz().len() - 1]),
            Band::Dsa110 { n_subbands, width } => {
                let top = telescope::channel_freq_hz(0, 0, *width);
                let bottom = telescope::channel_freq_hz(n_subbands - 1, width - 1, *width);
                0.5 * (top + bottom)
            }
        }
    }

    /// Where the channels of the file `h` go.
    pub fn slot(&self, h: &Header) -> Result<ChannelMap, GroupError> {
        let input = |what: String| GroupError::Placement {
            path: h.path.clone(),
            what,
        };
        match self {
            Band::Group(g) => g
                .paths()
                .iter()
                .position(|p| *p == h.path)
                .map(|i| g.channel_maps()[i])
                .ok_or_else(|| input("not a file of the group being converted".into())),
            Band::Dsa110 { n_subbands, width } => {
                if h.n_freqs != *width {
                    return Err(input(format!(
                        "{} channels; the group's first file has {width}",
                        h.n_freqs
                    )));
                }
                let (lo, hi) = h
                    .freq_hz
                    .iter()
                    .fold((f64::MAX, f64::MIN), |(lo, hi), &f| (lo.min(f), hi.max(f)));
                let sb = telescope::subband_of(&h.freq_hz)
                    .filter(|sb| sb < n_subbands)
                    .ok_or_else(|| {
                        input(format!(
                            "channels {:.4}-{:.4} MHz are none of the {n_subbands} DSA-110 subbands \
                             of {width} channels",
                            lo / 1e6,
                            hi / 1e6
                        ))
                    })?;
                Ok(ChannelMap {
                    offset: (n_subbands - 1 - sb) * width,
                    n_freqs: *width,
                    reversed: super::direction(h),
                })
            }
        }
    }

    /// The joined group of the files written, `headers`: the group itself,
    /// or (for DSA-110 subbands as they landed) the group they form, which
    /// must put every file where it was written.
    pub fn into_group(
        self,
        headers: Vec<Arc<Header>>,
        written: &[(usize, Arc<Header>)],
    ) -> Result<Group, GroupError> {
        let group = match self {
            Band::Group(g) => g,
            Band::Dsa110 { .. } => Group::from_headers(headers)?,
        };
        for (path, map) in group.paths().iter().zip(group.channel_maps()) {
            if !written
                .iter()
                .any(|(c, h)| *c == map.offset && h.path == *path)
            {
                return Err(GroupError::Placement {
                    path: path.clone(),
                    what: format!(
                        "belongs at channel {} of the joined band, but was not written there",
                        map.offset
                    ),
                });
            }
        }
        Ok(group)
    }
}

/// NAME of each spectral window: a window that is one subband is named by
/// the `sbNN` its frequencies are ([`telescope::subband_of`]; window 0 of a
/// complete DSA-110 group is sb15), or `SPW<k>` for other files; one window
/// of several subbands is `BAND`.
pub fn window_names(group: &Group, n_windows: usize) -> Vec<String> {
    if n_windows != group.headers().len() {
        return vec!["BAND".into()];
    }
    (0..n_windows)
        .map(|k| {
            group
                .headers()
                .get(k)
                .and_then(|h| telescope::subband_of(&h.freq_hz))
                .map_or_else(|| format!("SPW{k}"), |sb| format!("sb{sb:02}"))
        })
        .collect()
}
