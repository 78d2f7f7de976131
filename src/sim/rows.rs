//! The per-row datasets (`Header/ant_1_array`, `ant_2_array`, `time_array`,
//! `integration_time`, `uvw_array`; `Data/visdata`, `flags`, `nsamples`) in
//! either [`FileLayout`].

use hdf5::{Extent, SimpleExtents, SliceOrIndex};
use num_complex::Complex32;

use super::chunk::guess_chunk;
use super::FileLayout;

/// HDF5 compound {r, i} of two float32, as h5py stores complex64.
#[derive(hdf5::H5Type, Clone, Copy, Default)]
#[repr(C)]
struct CorrComplex {
    r: f32,
    i: f32,
}

/// Everything one file holds per row (time-major: integration, then
/// baseline in correlator order).
pub(super) struct RowArrays<'a> {
    pub n_bls: usize,
    pub n_chan: usize,
    pub n_pol: usize,
    /// UTC JD of each row's integration midpoint.
    pub time_jd: Vec<f64>,
    /// Seconds.
    pub integration_time_s: Vec<f64>,
    /// Metres, 3 per row, float32 as the correlator stores them.
    pub uvw_m: Vec<f32>,
    pub ant_1: Vec<i64>,
    pub ant_2: Vec<i64>,
    /// `[row][chan][pol]`.
    pub vis: &'a [Complex32],
    /// `[row][chan][pol]`.
    pub nsamples: &'a [f32],
}

impl RowArrays<'_> {
    fn n_rows(&self) -> usize {
        self.time_jd.len()
    }
}

/// Write the per-row datasets of one file into `header` and `data`.
pub(super) fn write(
    header: &hdf5::Group,
    data: &hdf5::Group,
    rows: &RowArrays,
    layout: FileLayout,
    gzip_level: Option<u8>,
) -> hdf5::Result<()> {
    let visdata: Vec<CorrComplex> = rows
        .vis
        .iter()
        .map(|v| CorrComplex { r: v.re, i: v.im })
        .collect();
    let flags = vec![false; rows.vis.len()];
    let cell = [1, rows.n_chan, rows.n_pol];
    match layout {
        FileLayout::Correlator => {
            create_appendable::<f64>(header, "time_array", &[], None)?;
            create_appendable::<f64>(header, "integration_time", &[], None)?;
            create_appendable::<f32>(header, "uvw_array", &[3], None)?;
            create_appendable::<i64>(header, "ant_1_array", &[], None)?;
            create_appendable::<i64>(header, "ant_2_array", &[], None)?;
            create_appendable::<CorrComplex>(data, "visdata", &cell, gzip_level)?;
            create_appendable::<bool>(data, "flags", &cell, gzip_level)?;
            create_appendable::<f32>(data, "nsamples", &cell, gzip_level)?;
            // One integration at a time, in the correlator's order of writes.
            let per_cell = rows.n_chan * rows.n_pol;
            let n_bls = rows.n_bls;
            for r0 in (0..rows.n_rows()).step_by(n_bls.max(1)) {
                let r = r0..(r0 + n_bls).min(rows.n_rows());
                let cells = r.start * per_cell..r.end * per_cell;
                append(header, "time_array", &rows.time_jd[r.clone()])?;
                append(
                    header,
                    "integration_time",
                    &rows.integration_time_s[r.clone()],
                )?;
                append(header, "uvw_array", &rows.uvw_m[r.start * 3..r.end * 3])?;
                append(header, "ant_1_array", &rows.ant_1[r.clone()])?;
                append(header, "ant_2_array", &rows.ant_2[r.clone()])?;
                append(data, "visdata", &visdata[cells.clone()])?;
                append(data, "flags", &flags[cells.clone()])?;
                append(data, "nsamples", &rows.nsamples[cells])?;
            }
        }
        FileLayout::WholeIntegration => {
            let n = rows.n_rows();
            super::write::array(header, "ant_1_array", &[n], &rows.ant_1)?;
            super::write::array(header, "ant_2_array", &[n], &rows.ant_2)?;
            super::write::array(header, "uvw_array", &[n, 3], &rows.uvw_m)?;
            super::write::array(header, "time_array", &[n], &rows.time_jd)?;
            super::write::array(header, "integration_time", &[n], &rows.integration_time_s)?;
            let shape = [n, 1, rows.n_chan, rows.n_pol];
            // One integration per chunk.
            let chunk = [rows.n_bls.min(n).max(1), 1, rows.n_chan, rows.n_pol];
            whole(data, "visdata", shape, chunk, gzip_level, &visdata)?;
            whole(data, "flags", shape, chunk, gzip_level, &flags)?;
            whole(data, "nsamples", shape, chunk, gzip_level, rows.nsamples)?;
        }
    }
    Ok(())
}

/// Create an empty dataset of shape `(0, tail...)`, resizable along its
/// first axis (maxshape `(None, tail...)`), chunked as h5py chunks it
/// automatically.
fn create_appendable<T: hdf5::H5Type>(
    g: &hdf5::Group,
    name: &str,
    tail: &[usize],
    gzip_level: Option<u8>,
) -> hdf5::Result<()> {
    let shape: Vec<usize> = std::iter::once(0).chain(tail.iter().copied()).collect();
    let extents = std::iter::once(Extent::resizable(0))
        .chain(tail.iter().map(|&d| Extent::fixed(d)))
        .collect();
    let chunk = guess_chunk(&shape, T::type_descriptor().size());
    let mut b = g.new_dataset::<T>().chunk(chunk);
    if let Some(level) = gzip_level {
        b = b.deflate(level);
    }
    b.shape(SimpleExtents::from_vec(extents)).create(name)?;
    Ok(())
}

/// Grow dataset `name` of `g` along its first axis by the rows in `v`
/// (row-major) and write them there: the correlator's
/// `g[name].resize(old + n, axis=0); g[name][old:] = v`.
///
/// Like h5py there, the dataset is opened for the append and closed after
/// it, which flushes its chunk cache: the chunks an append touches first
/// are allocated then, so the chunks of the different datasets interleave
/// in the file as in a real one (a few hundred contiguous runs per file).
fn append<T: hdf5::H5Type>(g: &hdf5::Group, name: &str, v: &[T]) -> hdf5::Result<()> {
    let ds = g.dataset(name)?;
    let mut shape = ds.shape();
    let per_row: usize = shape[1..].iter().product();
    let n = v.len() / per_row.max(1);
    let old = shape[0];
    shape[0] = old + n;
    ds.resize(shape.clone())?;
    let slab: Vec<SliceOrIndex> = shape
        .iter()
        .enumerate()
        .map(|(axis, &dim)| SliceOrIndex::SliceCount {
            start: if axis == 0 { old } else { 0 },
            step: 1,
            count: if axis == 0 { n } else { dim },
            block: 1,
        })
        .collect();
    shape[0] = n;
    let view = ndarray::ArrayViewD::from_shape(shape, v)?;
    ds.write_slice(view, hdf5::Hyperslab::from(slab))
}

/// A chunked dataset of `shape` written in one go.
fn whole<T: hdf5::H5Type>(
    g: &hdf5::Group,
    name: &str,
    shape: [usize; 4],
    chunk: [usize; 4],
    gzip_level: Option<u8>,
    v: &[T],
) -> hdf5::Result<()> {
    let mut b = g.new_dataset::<T>().chunk(chunk);
    if let Some(level) = gzip_level {
        b = b.deflate(level);
    }
    b.shape(shape).create(name)?.write_raw(v)
}
