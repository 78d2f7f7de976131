//! Where each baseline-time of the group goes in the main table.
//!
//! With one spectral window the main table holds the group's rows in their
//! own order. With several, every baseline-time has one row per window,
//! ordered as pyuvdata's `write_ms` orders them (from its authors' study of
//! what CASA reads fastest): scan by scan, then window by window within a
//! scan, then the scan's rows in time-baseline order. A scan is a run of
//! consecutive input rows with the same scan number (one integration in
//! meridian mode, the whole group with one phase centre), so each window's
//! rows of a scan are contiguous and one subband can be written on its own,
//! as whole cells, as soon as it is in.

/// Runs of input rows and the number of windows.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct RowMap {
    /// (first input row, number of rows) of each scan run, in order.
    runs: Vec<(usize, usize)>,
    n_windows: usize,
}

/// A contiguous stretch of input rows and where it goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Piece {
    /// First input row.
    pub input: usize,
    /// Its main-table row.
    pub output: usize,
    pub len: usize,
}

impl RowMap {
    /// The map of rows with these scan numbers (one per input row) into
    /// `n_windows` windows.
    pub fn new(scan_number: &[i32], n_windows: usize) -> RowMap {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        if n_windows == 1 {
            // One window: rows stay where they are, whatever the scans.
            if !scan_number.is_empty() {
                runs.push((0, scan_number.len()));
            }
        } else {
            for (r, s) in scan_number.iter().enumerate() {
                match runs.last_mut() {
                    Some(run) if scan_number[run.0] == *s => run.1 += 1,
                    _ => runs.push((r, 1)),
                }
            }
        }
        RowMap { runs, n_windows }
    }

    /// (first input row, number of rows) of the runs whose rows are
    /// contiguous in every window, in order.
    pub fn runs(&self) -> &[(usize, usize)] {
        &self.runs
    }

    /// Rows of the main table.
    pub fn n_rows(&self) -> usize {
        self.runs.iter().map(|r| r.1).sum::<usize>() * self.n_windows
    }

    /// Where input rows `r0..r1` of window `window` go, as contiguous pieces.
    pub fn pieces(&self, r0: usize, r1: usize, window: usize) -> Vec<Piece> {
        // Runs are contiguous and ordered: find the first that ends after r0.
        let first = self.runs.partition_point(|&(start, len)| start + len <= r0);
        self.runs[first..]
            .iter()
            .take_while(|&&(start, _)| start < r1)
            .map(|&(start, len)| {
                let (a, b) = (r0.max(start), r1.min(start + len));
                Piece {
                    input: a,
                    output: self.n_windows * start + window * len + (a - start),
                    len: b - a,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn piece(input: usize, output: usize, len: usize) -> Piece {
        Piece { input, output, len }
    }

    #[test]
    fn one_window_keeps_the_input_order() {
        let map = RowMap::new(&[1, 1, 2, 2, 3], 1);
        assert_eq!(map.n_rows(), 5);
        assert_eq!(map.pieces(1, 4, 0), vec![piece(1, 1, 3)]);
    }

    #[test]
    fn several_windows_go_scan_then_window_then_row() {
        // Two scans of 3 and 2 rows, 2 windows: scan 1 window 0 (rows 0-2),
        // scan 1 window 1 (3-5), scan 2 window 0 (6-7), scan 2 window 1 (8-9).
        let map = RowMap::new(&[1, 1, 1, 2, 2], 2);
        assert_eq!(map.n_rows(), 10);
        assert_eq!(map.pieces(0, 5, 0), vec![piece(0, 0, 3), piece(3, 6, 2)]);
        assert_eq!(map.pieces(0, 5, 1), vec![piece(0, 3, 3), piece(3, 8, 2)]);
        // A block that starts and ends inside scans.
        assert_eq!(map.pieces(2, 4, 1), vec![piece(2, 5, 1), piece(3, 8, 1)]);
        assert_eq!(map.pieces(4, 5, 0), vec![piece(4, 7, 1)]);
    }

    #[test]
    fn every_main_table_row_is_written_once() {
        let scans = [3, 3, 1, 1, 1, 1, 7, 2, 2];
        let map = RowMap::new(&scans, 3);
        let mut seen = vec![0; map.n_rows()];
        for w in 0..3 {
            for (r0, r1) in [(0, 4), (4, 5), (5, 9)] {
                for p in map.pieces(r0, r1, w) {
                    for n in &mut seen[p.output..p.output + p.len] {
                        *n += 1;
                    }
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
    }
}
