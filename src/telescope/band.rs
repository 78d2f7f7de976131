//! The correlator's channel frequencies, and which subband a file's
//! frequencies are.
//!
//! The correlator's F-engine splits 250 MHz below 1530 MHz into 8192
//! channels of 30.517578125 kHz (descending in frequency). A subband file
//! takes 384 of them starting at correlator channel 1024 + 384 n and averages
//! them in groups: 8 at a time for the real 48 channels. Channel m (file
//! order) of subband n is centred on
//!
//! `1.53e9 - (1024 + 384 n + k m + (k - 1) / 2) * 30517.578125 Hz`,
//!
//! with k = 384 / (channels per file) correlator channels averaged (k = 8:
//! sb00 m=0 at 1498.6431884765625 MHz, sb15 m=47 at 1311.3873291015625 MHz).
//! Smaller test groups average more correlator channels per channel, so
//! they still cover the whole 1311-1499 MHz band without gaps.

/// Top of the correlator's band, Hz.
const BAND_TOP_HZ: f64 = 1.53e9;
/// One correlator (F-engine) channel, Hz: 250 MHz / 8192.
const CORRELATOR_CHANNEL_HZ: f64 = 30_517.578_125;
/// Correlator channel at which sb00 starts.
const FIRST_CHANNEL: usize = 1024;
/// Correlator channels per subband file.
const CORRELATOR_CHANNELS_PER_SUBBAND: usize = 384;

/// Correlator channels averaged into one file channel when a file holds
/// `chans_per_subband` channels (8 for the real 48); `None` unless
/// `chans_per_subband` divides 384.
pub fn averaged_channels(chans_per_subband: usize) -> Option<usize> {
    (chans_per_subband > 0 && CORRELATOR_CHANNELS_PER_SUBBAND % chans_per_subband == 0)
        .then(|| CORRELATOR_CHANNELS_PER_SUBBAND / chans_per_subband)
}

/// Centre of channel `m` (file order, descending) of subband `sb`, Hz, for
/// files of `chans_per_subband` channels (which must divide 384).
pub fn channel_freq_hz(sb: usize, m: usize, chans_per_subband: usize) -> f64 {
    let k = averaged_channels(chans_per_subband).expect("chans_per_subband divides 384");
    let channel = (FIRST_CHANNEL + CORRELATOR_CHANNELS_PER_SUBBAND * sb + k * m) as f64
        + (k as f64 - 1.0) / 2.0;
    BAND_TOP_HZ - channel * CORRELATOR_CHANNEL_HZ
}

/// Width of one file channel, Hz (244140.625 for 48 channels per file).
pub fn channel_width_hz(chans_per_subband: usize) -> f64 {
    let k = averaged_channels(chans_per_subband).expect("chans_per_subband divides 384");
    k as f64 * CORRELATOR_CHANNEL_HZ
}

/// The subband number (`sbNN`) whose channels are `freq_hz` (a file's
/// channel centres, in either order), by the formula above: the
/// frequencies, not the file name, say where a file's channels belong.
/// `None` unless the count divides 384 and every channel lies within a
/// hundredth of a channel of the formula.
pub fn subband_of(freq_hz: &[f64]) -> Option<usize> {
    let n = freq_hz.len();
    averaged_channels(n)?;
    let width = channel_width_hz(n);
    let top = freq_hz.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sb = (channel_freq_hz(0, 0, n) - top) / (n as f64 * width);
    let sb = (sb.round() >= 0.0).then_some(sb.round() as usize)?;
    let mut expected: Vec<f64> = (0..n).map(|m| channel_freq_hz(sb, m, n)).collect();
    let mut got = freq_hz.to_vec();
    expected.sort_by(f64::total_cmp);
    got.sort_by(f64::total_cmp);
    let close = expected
        .iter()
        .zip(&got)
        .all(|(e, g)| (e - g).abs() <= 0.01 * width);
    close.then_some(sb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_frequencies_name_its_subband() {
        for (sb, n) in [(0, 48), (5, 48), (15, 48), (3, 4)] {
            let mut f: Vec<f64> = (0..n).map(|m| channel_freq_hz(sb, m, n)).collect();
            assert_eq!(subband_of(&f), Some(sb));
            // Ascending files too.
            f.reverse();
            assert_eq!(subband_of(&f), Some(sb));
        }
        // Half a channel off, a foreign band, or a count that does not divide 384.
        let shifted: Vec<f64> = (0..48).map(|m| channel_freq_hz(2, m, 48) + 122e3).collect();
        assert_eq!(subband_of(&shifted), None);
        assert_eq!(subband_of(&[150e6, 151e6]), None);
        assert_eq!(subband_of(&[1.4e9; 7]), None);
    }

    #[test]
    fn the_data_docs_two_channels() {
        assert_eq!(channel_freq_hz(0, 0, 48), 1_498_643_188.476_562_5);
        assert_eq!(channel_freq_hz(15, 47, 48), 1_311_387_329.101_562_5);
        assert_eq!(channel_width_hz(48), crate::telescope::CHANNEL_WIDTH_HZ);
    }

    #[test]
    fn coarser_files_cover_the_same_band() {
        // The top edge of sb00 and the bottom edge of sb15 do not move.
        for c in [1, 4, 8, 48, 384] {
            let w = channel_width_hz(c);
            assert_eq!(
                channel_freq_hz(0, 0, c) + w / 2.0,
                channel_freq_hz(0, 0, 48) + 122_070.312_5
            );
            assert_eq!(
                channel_freq_hz(15, c - 1, c) - w / 2.0,
                channel_freq_hz(15, 47, 48) - 122_070.312_5
            );
        }
        assert_eq!(averaged_channels(7), None);
    }
}
