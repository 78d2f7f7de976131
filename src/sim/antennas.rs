//! Which antennas have data, in which order, and the correlator's baseline
//! order.
//!
//! The correlator does not see the stations in table order: its inputs are
//! wired in an order of their own (the data doc quotes a real one starting
//! 24..35, 19, 17, 20, 18, 15, 16, 14, 13, 116, 102, 101, 100, 103), and
//! only the stations with working signal chains have data. We model that
//! with one fixed input order of all 117 stations, [`CORRELATOR_ORDER`],
//! that begins with that quoted sequence and then visits the east-west arm
//! (stations 1-51, 220 m north of the array centre), the north-south arm
//! (52-102, 151 m west) and the outriggers (103-117) in blocks.
//!
//! `n` antennas with data are the stations at positions `floor(k * 117 / n)`
//! (k = 0..n) of that order, kept in that order ([`antennas_with_data`]).
//! Spreading the picks over the whole order keeps small sets
//! two-dimensional: 8 antennas already span about 350 m on both axes, 12 or
//! more reach the outriggers (1-2 km); 96 is the full-size array of today
//! with 21 stations missing here and there, as in the real files.

/// The simulated correlator's input order: every station number (1-based,
/// as in "DSA-001") exactly once.
pub const CORRELATOR_ORDER: [u32; 117] = [
    // The real order quoted in the data doc.
    24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 19, 17, 20, 18, 15, 16, 14, 13, 116, 102, 101,
    100, 103, //
    // North-south arm, south end, and two outriggers.
    60, 61, 62, 63, 56, 57, 58, 59, 52, 53, 54, 55, 104, 105, //
    // East-west arm, east end.
    44, 45, 46, 47, 48, 49, 50, 51, 36, 37, 38, 39, 40, 41, 42, 43, //
    // North-south arm, the rest.
    88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87,
    64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, //
    // East-west arm, west end.
    7, 8, 9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 21, 22, 23, //
    // The remaining outriggers.
    106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 117,
];

/// The `n` antennas with data (0-based antenna numbers, station number - 1,
/// as `ant_1_array` holds them) in correlator order: the stations at
/// positions `floor(k * 117 / n)`, k = 0..n, of [`CORRELATOR_ORDER`].
/// `n` must be 1..=117.
pub fn antennas_with_data(n: usize) -> Vec<u32> {
    let len = CORRELATOR_ORDER.len();
    (0..n).map(|k| CORRELATOR_ORDER[k * len / n] - 1).collect()
}

/// The correlator's baselines for antennas `order`: for i = 0..N, j = 0..=i,
/// `(ant_1, ant_2) = (order[j], order[i])`, autocorrelations included. With
/// a non-monotonic order many baselines have ant_1 > ant_2.
pub fn correlator_baselines(order: &[u32]) -> Vec<(u32, u32)> {
    (0..order.len())
        .flat_map(|i| (0..=i).map(move |j| (order[j], order[i])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_order_holds_every_station_once() {
        let mut s = CORRELATOR_ORDER.to_vec();
        s.sort_unstable();
        assert_eq!(s, (1..=117).collect::<Vec<u32>>());
    }

    #[test]
    fn subsets_are_distinct_and_keep_correlator_order() {
        for n in 1..=117 {
            let a = antennas_with_data(n);
            assert_eq!(a.len(), n);
            let mut s = a.clone();
            s.sort_unstable();
            s.dedup();
            assert_eq!(s.len(), n, "{n}");
        }
        assert_eq!(antennas_with_data(117)[..3], [23, 24, 25]);
    }

    #[test]
    fn baselines_follow_the_correlator_loop() {
        let b = correlator_baselines(&[5, 2, 9]);
        assert_eq!(b, [(5, 5), (5, 2), (2, 2), (5, 9), (2, 9), (9, 9)]);
    }
}
