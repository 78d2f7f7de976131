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
use std::sync::Arc;

use num_complex::Complex32;

use super::chunks::{Check, Layout, LibraryReason, Place};
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReadPath {
    Raw,
    Library,
}

/// How one bulk dataset of a file is read, for `convert --dry-run` and logs.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DatasetRead {
    /// `Data/visdata`, `Data/flags` or `Data/nsamples`.
    pub name: &'static str,
    pub path: ReadPath,
    /// Chunk shape as stored (`None` when contiguous or unknown).
    pub chunk: Option<Vec<usize>>,
    /// Filters in the writer's order (`deflate`, `shuffle`, `lzf`, ...).
    pub filters: Vec<String>,
    /// Why the library reads it, when it does.
    #[serde(serialize_with = "display_opt")]
    pub why_library: Option<LibraryReason>,
}

fn display_opt<S: serde::Serializer>(v: &Option<LibraryReason>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(r) => s.serialize_some(&r.to_string()),
        None => s.serialize_none(),
    }
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
    fn new(
        ds: &hdf5::Dataset,
        file: &File,
        name: &'static str,
        mem: hdf5::Datatype,
        elem_bytes: usize,
    ) -> Bulk {
        Bulk {
            name,
            chunk: ds.chunk(),
            filters: ds
                .filters()
                .iter()
                .map(|f| format!("{f:?}").to_lowercase())
                .collect(),
            raw: Layout::of(ds, file, &mem, elem_bytes),
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
    /// Shared with the group it belongs to: read once per conversion.
    header: Arc<Header>,
    h5: hdf5::File,
    raw: File,
    file_len: u64,
    vis: Bulk,
    flags: Bulk,
    nsamples: Bulk,
    /// Axes of the bulk datasets: 4 (with the old spw axis) or 3.
    vis_ndim: usize,
    force_library: bool,
    /// Non-finite visibilities or bad nsamples seen (and warned about) yet.
    warned_unusable: bool,
}

/// Flag what no conversion can use in the `rows` [`Uvh5File::read_into`]
/// reported, values `values` of each row of `per_row` (one file's channels):
/// visibilities that are NaN or infinite (set to 0) and nsamples that are
/// NaN, infinite or negative (set to 0, so that they weigh nothing).
/// Returns how many values were flagged so.
pub fn sanitize(
    (vis, flags, nsamples): (&mut [Complex32], &mut [bool], &mut [f32]),
    per_row: usize,
    values: std::ops::Range<usize>,
    rows: &[std::ops::Range<usize>],
) -> usize {
    rows.iter()
        .flat_map(|r| r.clone())
        .map(|row| {
            let cells = row * per_row + values.start..row * per_row + values.end;
            sanitize_cells(
                &mut vis[cells.clone()],
                &mut flags[cells.clone()],
                &mut nsamples[cells],
            )
        })
        .sum()
}

fn sanitize_cells(vis: &mut [Complex32], flags: &mut [bool], nsamples: &mut [f32]) -> usize {
    let mut n = 0;
    for ((v, f), ns) in vis.iter_mut().zip(flags).zip(nsamples) {
        let bad_vis = !(v.re.is_finite() && v.im.is_finite());
        let bad_ns = !(ns.is_finite() && *ns >= 0.0);
        if bad_vis {
            *v = Complex32::new(0.0, 0.0);
        }
        if bad_ns {
            *ns = 0.0;
        }
        *f |= bad_vis || bad_ns;
        n += (bad_vis || bad_ns) as usize;
    }
    n
}

/// Row buffers `[row][channel][pol]` that several files fill at once, each
/// its own channels (a group's joined band): visibilities, flags and
/// nsamples.
pub struct RowsOut<'a> {
    vis: *mut Complex32,
    /// The `bool`s' bytes: every byte read into them is 0 or 1 ([`Check::Bool`]).
    flags: *mut u8,
    nsamples: *mut f32,
    len: usize,
    row_channels: usize,
    n_pol: usize,
    /// Channel ranges being written now: concurrent writers must not overlap.
    writing: std::sync::Mutex<Vec<std::ops::Range<usize>>>,
    _borrow: std::marker::PhantomData<&'a mut [u8]>,
}

// SAFETY: the buffers are borrowed exclusively for 'a; writers are
// serialised per channel range (`writing`), so no two threads write the same
// element, and every write is bounds-checked.
unsafe impl Sync for RowsOut<'_> {}

impl<'a> RowsOut<'a> {
    /// Buffers of equal length, whole rows of `row_channels * n_pol` values.
    pub fn new(
        vis: &'a mut [Complex32],
        flags: &'a mut [bool],
        nsamples: &'a mut [f32],
        row_channels: usize,
        n_pol: usize,
    ) -> RowsOut<'a> {
        let len = vis.len();
        assert!(
            flags.len() == len && nsamples.len() == len && len % (row_channels * n_pol).max(1) == 0,
            "row buffers of whole rows, all of one length"
        );
        RowsOut {
            vis: vis.as_mut_ptr(),
            flags: flags.as_mut_ptr().cast(),
            nsamples: nsamples.as_mut_ptr(),
            len,
            row_channels,
            n_pol,
            writing: std::sync::Mutex::new(Vec::new()),
            _borrow: std::marker::PhantomData,
        }
    }

    fn rows(&self) -> usize {
        self.len / (self.row_channels * self.n_pol).max(1)
    }

    /// Claim channels `range` for one writer; `None` if another writes them.
    fn claim(&self, range: std::ops::Range<usize>) -> Option<Claim<'_, 'a>> {
        let mut w = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if w.iter().any(|r| r.start < range.end && range.start < r.end) {
            return None;
        }
        w.push(range.clone());
        Some(Claim { out: self, range })
    }
}

/// Channels of a [`RowsOut`] one writer holds until dropped.
struct Claim<'r, 'a> {
    out: &'r RowsOut<'a>,
    range: std::ops::Range<usize>,
}

impl Drop for Claim<'_, '_> {
    fn drop(&mut self) {
        let mut w = self.out.writing.lock().unwrap_or_else(|e| e.into_inner());
        w.retain(|r| *r != self.range);
    }
}

impl Uvh5File {
    /// Open read-only with an HDF5 raw-data chunk cache of `chunk_cache_bytes`.
    pub fn open(path: &Path, chunk_cache_bytes: usize) -> Result<Uvh5File, Uvh5Error> {
        let h5 = open_hdf5(path, chunk_cache_bytes)?;
        let header = Arc::new(header_of(&h5, path)?);
        Uvh5File::with_header(h5, header)
    }

    fn with_header(h5: hdf5::File, header: Arc<Header>) -> Result<Uvh5File, Uvh5Error> {
        let path = header.path.clone();
        let path = path.as_path();
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
                &raw,
                "Data/visdata",
                native(hdf5::Datatype::from_type::<ComplexF32>()),
                8,
            ),
            flags: Bulk::new(
                &flags,
                &raw,
                "Data/flags",
                native(hdf5::Datatype::from_type::<bool>()),
                1,
            ),
            nsamples: Bulk::new(
                &nsamples,
                &raw,
                "Data/nsamples",
                native(hdf5::Datatype::from_type::<f32>()),
                4,
            ),
            header,
            h5,
            raw,
            file_len,
            vis_ndim: vis.ndim(),
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

    /// The header, to share.
    pub fn shared_header(&self) -> Arc<Header> {
        self.header.clone()
    }

    /// How each of visdata, flags, nsamples is read.
    pub fn datasets(&self) -> [DatasetRead; 3] {
        [&self.vis, &self.flags, &self.nsamples].map(|b| b.describe(self.force_library))
    }

    /// Rows per chunk along the row axis that the chunks of visdata, flags
    /// and nsamples all align to (the least common multiple of their row
    /// chunks; 1 for contiguous datasets).
    pub fn row_chunk(&self) -> usize {
        self.datasets()
            .iter()
            .filter_map(|d| d.chunk.as_ref().and_then(|c| c.first().copied()))
            .fold(1, lcm)
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
        if vis.len() != n || flags.len() != n || nsamples.len() != n {
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
        let (n_freqs, n_pol) = (self.header.n_freqs, self.header.n_pols);
        let dirty = {
            let out = RowsOut::new(vis, flags, nsamples, n_freqs, n_pol);
            self.read_into(r0, r1, 0, false, &out)?
        };
        let unusable = sanitize((vis, flags, nsamples), per_row, 0..per_row, &dirty);
        self.warn_unusable(unusable, r0, r1);
        Ok(())
    }

    /// Warn (once per file) that `n` values of rows `[r0, r1)` were
    /// flagged by [`sanitize`].
    pub fn warn_unusable(&mut self, n: usize, r0: usize, r1: usize) {
        if n > 0 && !self.warned_unusable {
            self.warned_unusable = true;
            tracing::warn!(
                "{}: {n} NaN/infinite visibilities or NaN/infinite/negative nsamples in rows \
                 {r0}..{r1}: flagged, written as 0",
                self.header.path.display()
            );
        }
    }

    /// Rows `[r0, r1)` into `out`, this file's channel c at buffer channel
    /// `first_channel + c`, or `first_channel + Nfreqs - 1 - c` when
    /// `reversed` (a descending file in an ascending band). Several files
    /// may fill one `out` at once when their channels do not overlap.
    ///
    /// Returns the rows (from 0 at `r0`, sorted, disjoint) that may hold NaN or
    /// infinite visibilities or bad nsamples: finish this file's channels
    /// of those with [`sanitize`] (a clean file returns none: the values
    /// are checked chunk by chunk while in cache).
    pub fn read_into(
        &mut self,
        r0: usize,
        r1: usize,
        first_channel: usize,
        reversed: bool,
        out: &RowsOut,
    ) -> Result<Vec<std::ops::Range<usize>>, Uvh5Error> {
        let (n_freqs, n_pol) = (self.header.n_freqs, self.header.n_pols);
        let channels = first_channel..first_channel + n_freqs;
        if r1 < r0
            || r1 > self.header.n_blts
            || out.rows() != r1 - r0
            || out.n_pol != n_pol
            || channels.end > out.row_channels
        {
            return Err(self.read_error(
                r0,
                r1,
                format!(
                    "buffers of {} rows x {} channels x {} pols for {} rows of channels {channels:?} x {n_pol} pols",
                    out.rows(),
                    out.row_channels,
                    out.n_pol,
                    r1.saturating_sub(r0)
                ),
            ));
        }
        let Some(_claim) = out.claim(channels.clone()) else {
            return Err(self.read_error(
                r0,
                r1,
                format!("channels {channels:?} of the buffers are being written by another file"),
            ));
        };
        if r1 == r0 {
            return Ok(Vec::new());
        }
        // Axes (rows, [spw,] channels, pols) of the buffer.
        let row = (out.row_channels * n_pol) as isize;
        let chan = if reversed {
            -(n_pol as isize)
        } else {
            n_pol as isize
        };
        let first = first_channel + if reversed { n_freqs - 1 } else { 0 };
        let strides = match self.vis_ndim {
            4 => vec![row, 0, chan, 1],
            _ => vec![row, chan, 1],
        };
        let place = Place {
            offset: (first * n_pol) as isize,
            strides,
        };
        let path = self.header.path.clone();
        let lib = |e: hdf5::Error, name: &str| Uvh5Error::Read {
            path: path.clone(),
            r0,
            r1,
            reason: format!("{name}: {e}"),
        };
        let len = out.len;
        // What the library reads is not checked: all its rows are sanitized.
        let all = || -> Vec<std::ops::Range<usize>> { std::iter::once(0..r1 - r0).collect() };
        // SAFETY (all three): the claim gives this call the buffer's
        // channels `channels`, the only ones `place` maps to.
        let mut dirty = match self.raw_layout(&self.vis) {
            Some(l) => unsafe {
                self.read_raw(
                    l,
                    (r0, r1),
                    Check::Finite,
                    (out.vis.cast(), len * 8),
                    &place,
                )?
            },
            None => {
                let v = library_vis(&self.h5, r0, r1).map_err(|e| lib(e, self.vis.name))?;
                unsafe { put(&v, out.vis, len, &place, n_freqs, n_pol) };
                all()
            }
        };
        match self.raw_layout(&self.flags) {
            Some(l) => unsafe {
                self.read_raw(l, (r0, r1), Check::Bool, (out.flags, len), &place)?;
            },
            None => {
                let f: Vec<u8> = library_rows::<bool>(&self.h5, self.flags.name, r0, r1)
                    .map_err(|e| lib(e, self.flags.name))?
                    .into_iter()
                    .map(u8::from)
                    .collect();
                unsafe { put(&f, out.flags, len, &place, n_freqs, n_pol) }
            }
        }
        dirty.extend(match self.raw_layout(&self.nsamples) {
            Some(l) => unsafe {
                let to = (out.nsamples.cast(), len * 4);
                self.read_raw(l, (r0, r1), Check::NonNegative, to, &place)?
            },
            None => {
                let ns = library_rows::<f32>(&self.h5, self.nsamples.name, r0, r1)
                    .map_err(|e| lib(e, self.nsamples.name))?;
                unsafe { put(&ns, out.nsamples, len, &place, n_freqs, n_pol) };
                all()
            }
        });
        Ok(disjoint(dirty))
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

    /// One dataset's rows by positioned reads of its chunks.
    ///
    /// # Safety
    /// As [`Layout::read_rows_to`].
    unsafe fn read_raw(
        &self,
        (name, layout): (&'static str, &Layout),
        (r0, r1): (usize, usize),
        check: Check,
        out: (*mut u8, usize),
        place: &Place,
    ) -> Result<Vec<std::ops::Range<usize>>, Uvh5Error> {
        layout
            .read_rows_to(&self.raw, self.file_len, (r0, r1), check, out, place)
            .map_err(|e| self.read_error(r0, r1, format!("{name}: {e}")))
    }
}

/// Row ranges sorted and merged where they overlap or touch.
fn disjoint(mut rows: Vec<std::ops::Range<usize>>) -> Vec<std::ops::Range<usize>> {
    rows.sort_by_key(|r| r.start);
    let mut out: Vec<std::ops::Range<usize>> = Vec::with_capacity(rows.len());
    for r in rows {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// Values read by the library, `[row][freq][pol]` in file order, to where
/// `place` maps them.
///
/// # Safety
/// `out` valid for `len` values; nobody else accesses the positions
/// `place` maps to.
unsafe fn put<T: Copy>(
    values: &[T],
    out: *mut T,
    len: usize,
    place: &Place,
    n_freqs: usize,
    n_pol: usize,
) {
    let (row, chan) = (place.strides[0], place.strides[place.strides.len() - 2]);
    for (i, v) in values.iter().enumerate() {
        let (r, c, p) = (i / (n_freqs * n_pol), (i / n_pol) % n_freqs, i % n_pol);
        let at = place.offset + r as isize * row + c as isize * chan + p as isize;
        assert!(
            at >= 0 && (at as usize) < len,
            "library rows within the buffers"
        );
        *out.offset(at) = *v;
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

/// Visibilities through the library: complex64, complex128 or int32
/// compounds {r, i}, converted to complex64.
fn library_vis(f: &hdf5::File, r0: usize, r1: usize) -> hdf5::Result<Vec<Complex32>> {
    let rows = library_rows::<ComplexF32>(f, "Data/visdata", r0, r1)?;
    Ok(rows.into_iter().map(|c| Complex32::new(c.r, c.i)).collect())
}

/// `rows` rounded down to whole row chunks of every one of `files`
/// ([`Uvh5File::row_chunk`]), so that consecutive blocks of that many rows
/// read no chunk twice (a block cut inside a chunk reads and decodes it
/// for both blocks: 6-12% more bytes for blocks of about 2,000 rows of the
/// correlator's 128- and 256-row chunks); `rows` itself when it is less
/// than one such chunk.
pub fn whole_row_chunks<'a>(rows: usize, files: impl IntoIterator<Item = &'a Uvh5File>) -> usize {
    let quantum = files.into_iter().map(Uvh5File::row_chunk).fold(1, lcm);
    if rows >= quantum {
        rows / quantum * quantum
    } else {
        rows
    }
}

/// Least common multiple, saturating (a quantum no block reaches).
fn lcm(a: usize, b: usize) -> usize {
    let (mut x, mut y) = (a, b);
    while y != 0 {
        (x, y) = (y, x % y);
    }
    if x == 0 {
        return a.max(b);
    }
    (a / x).saturating_mul(b)
}

#[cfg(test)]
mod tests {
    use super::lcm;

    #[test]
    fn the_row_quantum_of_the_correlators_chunks_is_their_least_common_multiple() {
        // visdata (128,..), flags and nsamples (256,..).
        assert_eq!([128, 256, 256].into_iter().fold(1, lcm), 256);
        assert_eq!(lcm(4656, 1024), 297_984);
        assert_eq!(lcm(usize::MAX, 2), usize::MAX);
    }
}
