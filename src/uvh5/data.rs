//! Reading rows of `Data/` into buffers the caller owns.
//!
//! The bulk data are read raw ([`super::chunks`]): positioned reads of the
//! chunks, decoded and scattered by the workers, for any chunk grid, so any
//! number of files (and runs of chunks within a file) are read truly in
//! parallel. Datasets the raw path cannot decode (a filter other than
//! deflate, shuffle and LZF, a byte order other than the machine's, a stored
//! type other than the reader's) go through the library, one thread at a
//! time; the log says so once per file.

use std::fs::File;
use std::path::Path;

use num_complex::Complex32;

use super::chunks::{Layout, LibraryReason};
use super::{header_of, open_hdf5, Header, Uvh5Error};

/// Default HDF5 raw-data chunk cache per file, bytes.
pub const DEFAULT_CHUNK_CACHE_BYTES: usize = 16 << 20;

/// HDF5 compound {r, i} of float32: complex64 as h5py and the correlator store it.
#[derive(hdf5::H5Type, Clone, Copy, Debug, Default, PartialEq)]
#[repr(C)]
struct ComplexF32 {
    r: f32,
    i: f32,
}

/// Row buffers `[row][freq][pol]`: visibilities, flags and nsamples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RowBuffers {
    pub vis: Vec<Complex32>,
    pub flags: Vec<bool>,
    pub nsamples: Vec<f32>,
}

impl RowBuffers {
    /// Buffers for `rows` rows of `per_row` values each.
    pub fn new(rows: usize, per_row: usize) -> RowBuffers {
        RowBuffers {
            vis: vec![Complex32::new(0.0, 0.0); rows * per_row],
            flags: vec![false; rows * per_row],
            nsamples: vec![0.0; rows * per_row],
        }
    }
}

/// Which path reads each dataset, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPath {
    Raw,
    Library,
}

/// How one bulk dataset of a file is read, for `convert --dry-run` and logs.
#[derive(Clone, Debug)]
pub struct DatasetRead {
    /// `Data/visdata`, `Data/flags` or `Data/nsamples`.
    pub name: &'static str,
    pub path: ReadPath,
    /// Chunk shape as stored (`None` when contiguous or unknown).
    pub chunk: Option<Vec<usize>>,
    /// Filters in the writer's order (`deflate`, `shuffle`, `lzf`, ...).
    pub filters: Vec<String>,
    /// Why the library reads it, when it does.
    pub why_library: Option<LibraryReason>,
}

/// One bulk dataset: its stored layout and, when raw reads can decode it,
/// where its chunks are.
struct Bulk {
    name: &'static str,
    chunk: Option<Vec<usize>>,
    filters: Vec<String>,
    raw: Result<Layout, LibraryReason>,
}

impl Bulk {
    fn new(ds: &hdf5::Dataset, name: &'static str, mem: hdf5::Datatype, elem_bytes: usize) -> Bulk {
        Bulk {
            name,
            chunk: ds.chunk(),
            filters: ds
                .filters()
                .iter()
                .map(|f| format!("{f:?}").to_lowercase())
                .collect(),
            raw: Layout::of(ds, &mem, elem_bytes),
        }
    }

    fn describe(&self, force_library: bool) -> DatasetRead {
        let (path, why_library) = match (&self.raw, force_library) {
            (Ok(_), false) => (ReadPath::Raw, None),
            (Ok(_), true) => (ReadPath::Library, None),
            (Err(why), _) => (ReadPath::Library, Some(why.clone())),
        };
        DatasetRead {
            name: self.name,
            path,
            chunk: self.chunk.clone(),
            filters: self.filters.clone(),
            why_library,
        }
    }
}

/// An open UVH5 file: its header and how its bulk data are read.
pub struct Uvh5File {
    header: Header,
    h5: hdf5::File,
    raw: File,
    file_len: u64,
    vis: Bulk,
    flags: Bulk,
    nsamples: Bulk,
    /// Stored flag bytes, converted to `bool` after a raw read.
    flag_bytes: Vec<u8>,
    force_library: bool,
    /// Non-finite visibilities or bad nsamples seen (and warned about) yet.
    warned_unusable: bool,
}

/// Flag what no conversion can use: visibilities that are NaN or
/// infinite (set to 0) and nsamples that are NaN, infinite or negative
/// (set to 0, so that they weigh nothing). How many values were flagged.
fn flag_unusable(vis: &mut [Complex32], flags: &mut [bool], nsamples: &mut [f32]) -> usize {
    let mut n = 0;
    for ((v, f), ns) in vis
        .iter_mut()
        .zip(flags.iter_mut())
        .zip(nsamples.iter_mut())
    {
        let bad_vis = !(v.re.is_finite() && v.im.is_finite());
        let bad_ns = !(ns.is_finite() && *ns >= 0.0);
        if bad_vis {
            *v = Complex32::new(0.0, 0.0);
        }
        if bad_ns {
            *ns = 0.0;
        }
        if bad_vis || bad_ns {
            *f = true;
            n += 1;
        }
    }
    n
}

impl Uvh5File {
    /// Open read-only with an HDF5 raw-data chunk cache of `chunk_cache_bytes`.
    pub fn open(path: &Path, chunk_cache_bytes: usize) -> Result<Uvh5File, Uvh5Error> {
        let h5 = open_hdf5(path, chunk_cache_bytes)?;
        let header = header_of(&h5, path)?;
        let raw = File::open(path).map_err(|e| Uvh5Error::Open {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let get = |name: &str| {
            h5.dataset(name).map_err(|_| Uvh5Error::Missing {
                path: path.to_path_buf(),
                what: name.to_string(),
            })
        };
        let (vis, flags, nsamples) = (
            get("Data/visdata")?,
            get("Data/flags")?,
            get("Data/nsamples")?,
        );
        for ds in [&flags, &nsamples] {
            if ds.shape() != vis.shape() {
                return Err(Uvh5Error::Malformed {
                    path: path.to_path_buf(),
                    what: format!(
                        "{} has shape {:?}, Data/visdata {:?}",
                        ds.name(),
                        ds.shape(),
                        vis.shape()
                    ),
                });
            }
        }
        let native = |r: hdf5::Result<hdf5::Datatype>| r.expect("native HDF5 types exist");
        let file_len = raw.metadata().map(|m| m.len()).unwrap_or(0);
        let file = Uvh5File {
            vis: Bulk::new(
                &vis,
                "Data/visdata",
                native(hdf5::Datatype::from_type::<ComplexF32>()),
                8,
            ),
            flags: Bulk::new(
                &flags,
                "Data/flags",
                native(hdf5::Datatype::from_type::<bool>()),
                1,
            ),
            nsamples: Bulk::new(
                &nsamples,
                "Data/nsamples",
                native(hdf5::Datatype::from_type::<f32>()),
                4,
            ),
            header,
            h5,
            raw,
            file_len,
            flag_bytes: Vec::new(),
            force_library: false,
            warned_unusable: false,
        };
        let library: Vec<String> = file
            .datasets()
            .iter()
            .filter_map(|d| {
                d.why_library
                    .as_ref()
                    .map(|why| format!("{} ({why})", d.name))
            })
            .collect();
        if !library.is_empty() {
            tracing::info!(
                "{}: read through the HDF5 library, one thread at a time: {}",
                path.display(),
                library.join(", ")
            );
        }
        Ok(file)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// How each of visdata, flags, nsamples is read.
    pub fn datasets(&self) -> [DatasetRead; 3] {
        [&self.vis, &self.flags, &self.nsamples].map(|b| b.describe(self.force_library))
    }

    /// The path each of visdata, flags, nsamples takes.
    pub fn read_paths(&self) -> [ReadPath; 3] {
        self.datasets().map(|d| d.path)
    }

    /// Read every dataset through the HDF5 library (for comparisons).
    pub fn force_library(&mut self) {
        self.force_library = true;
    }

    /// Rows `[r0, r1)` into `vis`, `flags`, `nsamples`, each holding
    /// exactly `(r1 - r0) * Nfreqs * Npols` values, `[row][freq][pol]` in
    /// file order. Non-finite visibilities and non-finite or negative
    /// nsamples come back flagged, as zeros (a warning, once per file).
    pub fn read_rows(
        &mut self,
        r0: usize,
        r1: usize,
        vis: &mut [Complex32],
        flags: &mut [bool],
        nsamples: &mut [f32],
    ) -> Result<(), Uvh5Error> {
        let per_row = self.header.per_row();
        let n = (r1.saturating_sub(r0)) * per_row;
        if r1 < r0
            || r1 > self.header.n_blts
            || vis.len() != n
            || flags.len() != n
            || nsamples.len() != n
        {
            return Err(self.read_error(
                r0,
                r1,
                format!(
                    "buffers of {}/{}/{} values for {} rows x {per_row}",
                    vis.len(),
                    flags.len(),
                    nsamples.len(),
                    r1.saturating_sub(r0)
                ),
            ));
        }
        if n == 0 {
            return Ok(());
        }
        let path = self.header.path.clone();
        let lib = |e: hdf5::Error, name: &str| Uvh5Error::Read {
            path: path.clone(),
            r0,
            r1,
            reason: format!("{name}: {e}"),
        };
        match self.raw_layout(&self.vis) {
            Some(l) => self.read_raw(l, r0, r1, bytemuck::cast_slice_mut(vis))?,
            None => library_vis(&self.h5, r0, r1, vis).map_err(|e| lib(e, self.vis.name))?,
        }
        match self.raw_layout(&self.flags) {
            Some(l) => {
                let mut bytes = std::mem::take(&mut self.flag_bytes);
                bytes.resize(n, 0);
                self.read_raw(l, r0, r1, &mut bytes)?;
                for (f, &b) in flags.iter_mut().zip(&bytes) {
                    *f = b != 0;
                }
                self.flag_bytes = bytes;
            }
            None => library_copy(&self.h5, self.flags.name, r0, r1, flags)
                .map_err(|e| lib(e, self.flags.name))?,
        }
        match self.raw_layout(&self.nsamples) {
            Some(l) => self.read_raw(l, r0, r1, bytemuck::cast_slice_mut(nsamples))?,
            None => library_copy(&self.h5, self.nsamples.name, r0, r1, nsamples)
                .map_err(|e| lib(e, self.nsamples.name))?,
        }
        let unusable = flag_unusable(vis, flags, nsamples);
        if unusable > 0 && !self.warned_unusable {
            self.warned_unusable = true;
            tracing::warn!(
                "{}: {unusable} NaN/infinite visibilities or NaN/infinite/negative nsamples in rows \
                 {r0}..{r1}: flagged, written as 0",
                path.display()
            );
        }
        Ok(())
    }

    /// The raw layout of a dataset, unless the library reads it.
    fn raw_layout<'a>(&self, bulk: &'a Bulk) -> Option<(&'static str, &'a Layout)> {
        match (&bulk.raw, self.force_library) {
            (Ok(l), false) => Some((bulk.name, l)),
            _ => None,
        }
    }

    fn read_error(&self, r0: usize, r1: usize, reason: String) -> Uvh5Error {
        Uvh5Error::Read {
            path: self.header.path.clone(),
            r0,
            r1,
            reason,
        }
    }

    /// One dataset's rows by positioned reads of its chunks, as bytes.
    fn read_raw(
        &self,
        (name, layout): (&'static str, &Layout),
        r0: usize,
        r1: usize,
        out: &mut [u8],
    ) -> Result<(), Uvh5Error> {
        layout
            .read_rows(&self.raw, self.file_len, r0, r1, out)
            .map_err(|e| self.read_error(r0, r1, format!("{name}: {e}")))
    }
}

/// Rows through the library: whatever the stored type, as `T`.
fn library_rows<T: hdf5::H5Type>(
    f: &hdf5::File,
    name: &str,
    r0: usize,
    r1: usize,
) -> hdf5::Result<Vec<T>> {
    let ds = f.dataset(name)?;
    let arr: ndarray::ArrayD<T> = match ds.ndim() {
        3 => ds.read_slice((r0..r1, .., ..))?,
        4 => ds.read_slice((r0..r1, .., .., ..))?,
        n => return Err(format!("{name} has {n} dimensions, expected 3 or 4").into()),
    };
    Ok(arr.into_raw_vec_and_offset().0)
}

fn library_copy<T: hdf5::H5Type + Copy>(
    f: &hdf5::File,
    name: &str,
    r0: usize,
    r1: usize,
    out: &mut [T],
) -> hdf5::Result<()> {
    out.copy_from_slice(&library_rows::<T>(f, name, r0, r1)?);
    Ok(())
}

/// Visibilities through the library: complex64, complex128 or int32
/// compounds {r, i}, converted to complex64.
fn library_vis(f: &hdf5::File, r0: usize, r1: usize, out: &mut [Complex32]) -> hdf5::Result<()> {
    let rows = library_rows::<ComplexF32>(f, "Data/visdata", r0, r1)?;
    for (o, c) in out.iter_mut().zip(rows) {
        *o = Complex32::new(c.r, c.i);
    }
    Ok(())
}
