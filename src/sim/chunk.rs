//! The chunk shape h5py chooses when a dataset is created with
//! `chunks=True` (or chunked implicitly by `maxshape`), so that our files are
//! chunked exactly as the correlator's (h5py) writer chunks its own.
//!
//! A port of `h5py._hl.filters.guess_chunk` (h5py 3.x), including its
//! floating-point arithmetic: the target chunk size is
//! `CHUNK_BASE * 2^log10(dataset bytes / 1 MiB)`, clamped to
//! [`CHUNK_MIN`, `CHUNK_MAX`]; the axes are then halved (rounding up) in
//! turn, first axis first, until the chunk is below the target or within
//! 50% of it, and below `CHUNK_MAX`.

/// Multiplier of the target chunk size, bytes.
const CHUNK_BASE: f64 = 16.0 * 1024.0;
/// Soft lower limit of the target chunk size, bytes.
const CHUNK_MIN: f64 = 8.0 * 1024.0;
/// Hard upper limit of a chunk, bytes.
const CHUNK_MAX: f64 = 1024.0 * 1024.0;
/// What h5py assumes for an axis of length 0 (the unlimited axis of a
/// dataset created empty).
const UNLIMITED_GUESS: usize = 1024;

/// The chunk shape h5py gives a dataset created with `shape` (axes of
/// length 0 count as 1024, as h5py counts them) and elements of `typesize`
/// bytes. An empty `shape` (a scalar, which h5py refuses to chunk) gives an
/// empty chunk shape.
///
/// For the DSA-110 correlator's datasets of 48 channels x 2 polarizations:
/// visdata (complex64) `(128, 1, 12, 1)`, flags (bool) `(256, 1, 24, 1)`,
/// nsamples (float32) `(256, 1, 12, 1)`, the 1-D per-row header arrays
/// `(1024,)` and uvw (float32) `(512, 3)`.
pub fn guess_chunk(shape: &[usize], typesize: usize) -> Vec<usize> {
    let mut chunks: Vec<f64> = shape
        .iter()
        .map(|&x| if x == 0 { UNLIMITED_GUESS } else { x } as f64)
        .collect();
    let ndims = chunks.len();
    if ndims == 0 {
        return Vec::new();
    }
    let typesize = typesize as f64;
    // h5py's `product` multiplies floats left to right, starting from 1.
    let product = |c: &[f64]| c.iter().fold(1.0, |acc, &x| acc * x);
    let dset_size = product(&chunks) * typesize;
    let target = (CHUNK_BASE * 2f64.powf((dset_size / (1024.0 * 1024.0)).log10()))
        .clamp(CHUNK_MIN, CHUNK_MAX);
    let mut idx = 0;
    loop {
        let chunk_bytes = product(&chunks) * typesize;
        if (chunk_bytes < target || (chunk_bytes - target).abs() / target < 0.5)
            && chunk_bytes < CHUNK_MAX
        {
            break;
        }
        if product(&chunks) == 1.0 {
            break; // one element is larger than CHUNK_MAX
        }
        let axis = idx % ndims;
        chunks[axis] = (chunks[axis] / 2.0).ceil();
        idx += 1;
    }
    chunks.into_iter().map(|x| x as usize).collect()
}

#[cfg(test)]
mod tests {
    use super::guess_chunk;

    #[test]
    fn a_huge_element_gets_a_chunk_of_one() {
        assert_eq!(guess_chunk(&[4, 4], 4 << 20), [1, 1]);
        assert!(guess_chunk(&[], 8).is_empty());
    }
}
