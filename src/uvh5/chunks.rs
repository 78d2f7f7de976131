//! Where a dataset's bytes lie in the file, and reads of whole rows from
//! them without the HDF5 library.
//!
//! The `hdf5` crate serialises every library call behind one global lock,
//! so threads calling it read one at a time. At open we ask HDF5 once where
//! each chunk is (the [`Layout`]); afterwards rows are read with positioned
//! reads, decoded (deflate, shuffle, LZF, in any combination) and scattered
//! into the caller's `[row][...]` buffer by any number of threads at once.
//!
//! Chunks may cut a row anywhere: the real correlator's visdata chunks
//! hold 128 rows x 12 channels x 1 polarization. Chunks that are adjacent
//! in the file (they are allocated in the order they are first written, so
//! a real file's ~7,000 visdata chunks form a few hundred runs) are read
//! with one system call.
//!
//! The chunks are listed in one pass over the file's chunk B-tree
//! ([`super::btree`]); indexes of other kinds are listed by the library.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use hdf5::filters::Filter;
use rayon::prelude::*;

use super::btree;

/// Why a dataset is read through the HDF5 library instead of raw reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LibraryReason {
    #[error("stored type differs from the reader's (another type or byte order)")]
    Type,
    #[error("filter {0} is not decoded here")]
    Filter(String),
    #[error("storage layout is compact or virtual")]
    Storage,
    #[error("some chunks are not allocated (fill values)")]
    Unallocated,
    #[error("the HDF5 library cannot list the chunks")]
    Index,
}

/// What each decoded chunk is checked for, while it is in cache, so that
/// the rare rows holding values no conversion can use are found without
/// another pass over the whole buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Nothing,
    /// float32 values (a complex64 is two): any NaN or infinity.
    Finite,
    /// float32 weights: any NaN, infinity or negative value.
    NonNegative,
    /// Stored booleans: bytes other than 0 and 1 are read as 1 (true), so
    /// that every byte scattered is a valid `bool`; nothing is reported.
    Bool,
}

impl Check {
    /// `data` as it is to be scattered (booleans normalized into `fixed`
    /// when needed) and whether it holds a value to flag.
    fn apply<'a>(self, data: &'a [u8], fixed: &'a mut Vec<u8>) -> (&'a [u8], bool) {
        // Branch-free folds over the float32 bit patterns of whole chunks,
        // so that they vectorize: all exponent bits set is NaN or infinity;
        // above the sign bit alone (-0.0) is negative.
        const EXPONENT: u32 = 0x7f80_0000;
        const SIGN: u32 = 0x8000_0000;
        let any_f32 = |bad: fn(u32) -> bool| {
            data.chunks_exact(4)
                .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
                .fold(0u32, |any, x| any | u32::from(bad(x)))
                != 0
        };
        match self {
            Check::Nothing => (data, false),
            Check::Finite => (data, any_f32(|x| x & EXPONENT == EXPONENT)),
            Check::NonNegative => (data, any_f32(|x| (x & EXPONENT == EXPONENT) | (x > SIGN))),
            Check::Bool if data.iter().fold(0u8, |any, &b| any | b) & !1 == 0 => (data, false),
            Check::Bool => {
                fixed.clear();
                fixed.extend(data.iter().map(|&b| u8::from(b != 0)));
                (fixed, false)
            }
        }
    }
}

/// One filter of the pipeline, in the order the writer applied them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Codec {
    Deflate,
    Shuffle,
    Lzf,
}

/// One stored chunk.
#[derive(Clone, Copy, Debug)]
struct Stored {
    addr: u64,
    size: u64,
    /// Bit i set: filter i was skipped for this chunk.
    filter_mask: u32,
}

/// Where every chunk of one dataset is and how it is encoded. A contiguous
/// dataset is one chunk the size of the dataset.
#[derive(Clone, Debug)]
pub struct Layout {
    shape: Vec<usize>,
    chunk: Vec<usize>,
    elem_bytes: usize,
    codecs: Vec<Codec>,
    /// In chunk-grid order (row-major over the grid).
    chunks: Vec<Stored>,
}

thread_local! {
    /// Each worker's read buffer, kept between runs (a fresh one per run
    /// costs a page fault per 4 KiB).
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Largest single read, bytes: bounds the memory a worker holds and leaves
/// runs for the other workers.
const MAX_RUN_BYTES: u64 = 4 << 20;

/// Smallest read a request is cut into for the workers' sake, bytes.
const MIN_RUN_BYTES: u64 = 256 << 10;

/// The largest read for a request of `total` bytes: at most
/// [`MAX_RUN_BYTES`], and small enough that each of `workers` gets two
/// (one subband's rows of a block are often one contiguous run of a few
/// MB, which one worker read while the others slept).
fn max_run_bytes(total: u64, workers: usize) -> u64 {
    (total / (2 * workers.max(1)) as u64).clamp(MIN_RUN_BYTES, MAX_RUN_BYTES)
}

/// A read that failed, for the caller to name file and rows.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error("a chunk of {size} bytes at offset {addr} lies beyond the end of the file ({len} bytes): truncated or damaged")]
    BeyondEnd { addr: u64, size: u64, len: u64 },
    #[error("reading {size} bytes at offset {addr}: {source} (file truncated?)")]
    Io {
        addr: u64,
        size: u64,
        source: std::io::Error,
    },
    #[error("corrupt {codec} chunk at offset {addr}: {reason}")]
    Corrupt {
        codec: &'static str,
        addr: u64,
        reason: String,
    },
    #[error("chunk at offset {addr} decodes to {got} bytes, expected {want}")]
    Size { addr: u64, got: usize, want: usize },
}

impl Layout {
    /// The layout of `ds`, whose elements must be stored exactly as the
    /// reader's `mem` type (`elem_bytes` each) for raw reads.
    pub fn of(
        ds: &hdf5::Dataset,
        file: &File,
        mem: &hdf5::Datatype,
        elem_bytes: usize,
    ) -> Result<Layout, LibraryReason> {
        if !ds.dtype().map(|t| &t == mem).unwrap_or(false) {
            return Err(LibraryReason::Type);
        }
        let shape = ds.shape();
        if let Some(addr) = ds.offset() {
            let size = (shape.iter().product::<usize>() * elem_bytes) as u64;
            return Ok(Layout {
                chunk: shape.clone(),
                shape,
                elem_bytes,
                codecs: Vec::new(),
                chunks: vec![Stored {
                    addr,
                    size,
                    filter_mask: 0,
                }],
            });
        }
        let chunk = ds.chunk().ok_or(LibraryReason::Storage)?;
        let codecs = ds
            .filters()
            .iter()
            .map(|f| match f {
                Filter::Deflate(_) => Ok(Codec::Deflate),
                Filter::Shuffle => Ok(Codec::Shuffle),
                Filter::LZF => Ok(Codec::Lzf),
                other => Err(LibraryReason::Filter(format!("{other:?}"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let chunks = list_chunks(ds, file, &shape, &chunk)?;
        Ok(Layout {
            shape,
            chunk,
            elem_bytes,
            codecs,
            chunks,
        })
    }

    /// Elements per row (all axes after the first).
    fn row_elems(&self) -> usize {
        self.shape[1..].iter().product()
    }

    /// Chunks along each axis of the grid.
    fn grid(&self) -> Vec<usize> {
        self.shape
            .iter()
            .zip(&self.chunk)
            .map(|(&d, &c)| d.div_ceil(c))
            .collect()
    }

    /// Rows `[r0, r1)` into `out` (bytes of elements) where `place` puts
    /// them, reading `file` with positioned reads from as many rayon
    /// workers as there are runs of adjacent chunks.
    pub fn read_rows(
        &self,
        file: &File,
        file_len: u64,
        r0: usize,
        r1: usize,
        out: &mut [u8],
        place: &Place,
    ) -> Result<(), ChunkError> {
        // SAFETY: `out` is borrowed exclusively for the call.
        unsafe {
            self.read_rows_to(
                file,
                file_len,
                (r0, r1),
                Check::Nothing,
                (out.as_mut_ptr(), out.len()),
                place,
            )
        }
        .map(drop)
    }

    /// [`Layout::read_rows`] into the `len` bytes at `out`, each chunk
    /// checked by `check` while it is in cache. Returns the rows (from 0 at
    /// `r0`, in no order, possibly repeated) of the chunks in which `check`
    /// found a value to flag: whole chunks' rows, so a few more than the
    /// values' own.
    ///
    /// # Safety
    /// `out` must be valid for writes of `len` bytes, and no other thread
    /// may access the bytes that `place` maps rows `[r0, r1)` to during the
    /// call (every write is bounds-checked against `len`).
    pub unsafe fn read_rows_to(
        &self,
        file: &File,
        file_len: u64,
        (r0, r1): (usize, usize),
        check: Check,
        (out, len): (*mut u8, usize),
        place: &Place,
    ) -> Result<Vec<Range<usize>>, ChunkError> {
        assert_eq!(place.strides.len(), self.shape.len(), "one stride per axis");
        if r1 <= r0 || self.row_elems() == 0 {
            return Ok(Vec::new());
        }
        let grid = self.grid();
        let per_grid_row: usize = grid[1..].iter().product();
        let first = (r0 / self.chunk[0]) * per_grid_row;
        let last = ((r1 - 1) / self.chunk[0] + 1) * per_grid_row;
        let mut wanted: Vec<usize> = (first..last).collect();
        wanted.sort_by_key(|&i| self.chunks[i].addr);
        for &i in &wanted {
            let s = self.chunks[i];
            if s.addr.saturating_add(s.size) > file_len {
                return Err(ChunkError::BeyondEnd {
                    addr: s.addr,
                    size: s.size,
                    len: file_len,
                });
            }
        }
        let total = wanted.iter().map(|&i| self.chunks[i].size).sum();
        let max_run = max_run_bytes(total, rayon::current_num_threads());
        let runs = runs(&wanted, &self.chunks, max_run);
        let dst = Scatter { ptr: out, len };
        let dirty = std::sync::Mutex::new(Vec::new());
        runs.par_iter().try_for_each(|run| {
            let (start, end) = run_span(run, &self.chunks);
            READ_BUF.with_borrow_mut(|bytes| -> Result<(), ChunkError> {
                bytes.resize((end - start) as usize, 0);
                file.read_exact_at(bytes, start)
                    .map_err(|source| ChunkError::Io {
                        addr: start,
                        size: end - start,
                        source,
                    })?;
                let (mut decoded, mut fixed) = (Vec::new(), Vec::new());
                for &i in *run {
                    let s = self.chunks[i];
                    let raw = &bytes[(s.addr - start) as usize..(s.addr + s.size - start) as usize];
                    let data = self.decode(raw, s, &mut decoded)?;
                    let (data, bad) = check.apply(data, &mut fixed);
                    if bad {
                        let rows = (i / per_grid_row) * self.chunk[0];
                        let rows = rows.max(r0) - r0..(rows + self.chunk[0]).min(r1) - r0;
                        dirty.lock().unwrap_or_else(|e| e.into_inner()).push(rows);
                    }
                    self.scatter(i, &grid, data, (r0, r1), place, &dst);
                }
                Ok(())
            })
        })?;
        Ok(dirty.into_inner().unwrap_or_else(|e| e.into_inner()))
    }

    /// Undo the filters of one chunk (last applied, first undone).
    fn decode<'a>(
        &self,
        raw: &'a [u8],
        s: Stored,
        work: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], ChunkError> {
        let want = self.chunk.iter().product::<usize>() * self.elem_bytes;
        let active: Vec<Codec> = self
            .codecs
            .iter()
            .enumerate()
            .filter(|(k, _)| s.filter_mask & (1 << k) == 0)
            .map(|(_, &c)| c)
            .collect();
        if active.is_empty() {
            return check_size(raw, s.addr, want);
        }
        let mut cur = raw.to_vec();
        for codec in active.iter().rev() {
            cur = match codec {
                Codec::Deflate => inflate(&cur, want, s.addr)?,
                Codec::Lzf => unlzf(&cur, want, s.addr)?,
                Codec::Shuffle => unshuffle(&cur, self.elem_bytes),
            };
        }
        *work = cur;
        let decoded: &'a Vec<u8> = work;
        check_size(decoded, s.addr, want)
    }

    /// Copy the part of chunk `index` (decoded, `data`) inside rows
    /// `[r0, r1)` to its place in the output.
    fn scatter(
        &self,
        index: usize,
        grid: &[usize],
        data: &[u8],
        (r0, r1): (usize, usize),
        place: &Place,
        dst: &Scatter,
    ) {
        let n = self.shape.len();
        let eb = self.elem_bytes;
        // The chunk's grid coordinates, element origin and extent (clipped
        // to the dataset and, on axis 0, to the rows asked for).
        let mut coord = vec![0usize; n];
        let mut rest = index;
        for k in (0..n).rev() {
            coord[k] = rest % grid[k];
            rest /= grid[k];
        }
        let origin: Vec<usize> = (0..n).map(|k| coord[k] * self.chunk[k]).collect();
        let mut lo = vec![0usize; n];
        let mut hi: Vec<usize> = (0..n)
            .map(|k| self.chunk[k].min(self.shape[k] - origin[k]))
            .collect();
        lo[0] = r0.saturating_sub(origin[0]);
        hi[0] = hi[0].min(r1.saturating_sub(origin[0]));
        if (0..n).any(|k| lo[k] >= hi[k]) {
            return;
        }
        // Strides in bytes of the chunk and of the output.
        let mut src_stride = vec![eb; n];
        for k in (0..n - 1).rev() {
            src_stride[k] = src_stride[k + 1] * self.chunk[k + 1];
        }
        let dst_stride: Vec<isize> = place.strides.iter().map(|&s| s * eb as isize).collect();
        let src0: usize = (0..n).map(|k| lo[k] * src_stride[k]).sum();
        let dst0: isize = place.offset * eb as isize
            + (origin[0] + lo[0] - r0) as isize * dst_stride[0]
            + (1..n)
                .map(|k| (origin[k] + lo[k]) as isize * dst_stride[k])
                .sum::<isize>();
        // Loops (count, source stride, output stride), outermost first,
        // without single-element axes and with axes that are contiguous in
        // both buffers merged.
        let mut merged: Vec<(usize, usize, isize)> = Vec::with_capacity(n);
        for k in (0..n).rev() {
            let (count, s, d) = (hi[k] - lo[k], src_stride[k], dst_stride[k]);
            if count == 1 {
                continue;
            }
            match merged.last_mut() {
                Some(inner) if s == inner.0 * inner.1 && d == inner.0 as isize * inner.2 => {
                    inner.0 *= count;
                }
                _ => merged.push((count, s, d)),
            }
        }
        merged.reverse();
        // The innermost loop is one copy when contiguous in both.
        let (run_bytes, outer) = match merged.last() {
            Some(&(count, s, d)) if s == eb && d == eb as isize => {
                (count * eb, &merged[..merged.len() - 1])
            }
            _ => (eb, &merged[..]),
        };
        let span_src = src0 + outer.iter().map(|l| (l.0 - 1) * l.1).sum::<usize>() + run_bytes;
        let reach = |f: fn(isize, isize) -> isize| {
            outer
                .iter()
                .map(|l| f(0, (l.0 as isize - 1) * l.2))
                .sum::<isize>()
        };
        let (dst_min, dst_max) = (
            dst0 + reach(isize::min),
            dst0 + reach(isize::max) + run_bytes as isize,
        );
        assert!(
            span_src <= data.len() && dst_min >= 0 && dst_max as usize <= dst.len,
            "scatter within the buffers"
        );
        // SAFETY: every copy lies within the spans checked above.
        unsafe {
            copy_loops(
                data.as_ptr().add(src0),
                dst.ptr.offset(dst0),
                outer,
                run_bytes,
            )
        }
    }
}

/// Where a dataset's elements go in the caller's buffer, in elements:
/// element (i0, i1, ...) of rows `[r0, r1)` lands at
/// `offset + (i0 - r0) * strides[0] + i1 * strides[1] + ...`. Strides may be
/// negative (a descending channel axis stored ascending) or 0 (an axis of
/// one element).
#[derive(Clone, Debug)]
pub(super) struct Place {
    pub(super) offset: isize,
    pub(super) strides: Vec<isize>,
}

impl Place {
    /// The dataset's own row-major order.
    pub(super) fn row_major(shape: &[usize]) -> Place {
        let mut strides = vec![1isize; shape.len()];
        for k in (0..shape.len().saturating_sub(1)).rev() {
            strides[k] = strides[k + 1] * shape[k + 1] as isize;
        }
        Place { offset: 0, strides }
    }
}

/// Copies of `run` bytes at every point of the nested `loops` (count,
/// source stride, destination stride; outermost first).
///
/// Whole elements of the common sizes (a bool, a float32, a complex64) are
/// single moves, and the two innermost loops are one nested loop: a
/// correlator chunk is rows x a dozen strided channels, and a call per
/// row cost a sixth of the scatter.
///
/// # Safety
/// Every copy must lie within the buffers behind `src` and `dst`, and the
/// destination bytes must be written by no other thread meanwhile.
unsafe fn copy_loops(src: *const u8, dst: *mut u8, loops: &[(usize, usize, isize)], run: usize) {
    match run {
        1 => copy_elems::<u8>(src, dst, loops),
        4 => copy_elems::<u32>(src, dst, loops),
        8 => copy_elems::<u64>(src, dst, loops),
        _ => match loops {
            [] => std::ptr::copy_nonoverlapping(src, dst, run),
            [(count, s, d), rest @ ..] => {
                for i in 0..*count {
                    copy_loops(src.add(i * s), dst.offset(i as isize * d), rest, run);
                }
            }
        },
    }
}

/// [`copy_loops`] for runs of one element of type `T` (unaligned moves).
///
/// # Safety
/// As for [`copy_loops`], with `run == size_of::<T>()`.
unsafe fn copy_elems<T: Copy>(src: *const u8, dst: *mut u8, loops: &[(usize, usize, isize)]) {
    let one = |from: *const u8, to: *mut u8| {
        to.cast::<T>()
            .write_unaligned(from.cast::<T>().read_unaligned())
    };
    match loops {
        [] => one(src, dst),
        [(count, s, d)] => {
            for i in 0..*count {
                one(src.add(i * s), dst.offset(i as isize * d));
            }
        }
        [(outer, s0, d0), (inner, s1, d1)] => {
            for i in 0..*outer {
                let (from, to) = (src.add(i * s0), dst.offset(i as isize * d0));
                for j in 0..*inner {
                    one(from.add(j * s1), to.offset(j as isize * d1));
                }
            }
        }
        [(count, s, d), rest @ ..] => {
            for i in 0..*count {
                copy_elems::<T>(src.add(i * s), dst.offset(i as isize * d), rest);
            }
        }
    }
}

/// The output buffer, written by several workers at once.
struct Scatter {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: workers write disjoint byte ranges: the chunks of one dataset
// tile its element grid without overlap (their origins are multiples of
// the chunk shape), each chunk is decoded and scattered by one worker, and
// a `Place` maps distinct elements to distinct positions (the caller of
// `read_rows_to` guarantees nobody else writes there).
unsafe impl Sync for Scatter {}

/// Group chunk indices (sorted by address) into runs adjacent in the file,
/// each at most `max_run` bytes (or one chunk).
fn runs<'a>(sorted: &'a [usize], chunks: &[Stored], max_run: u64) -> Vec<&'a [usize]> {
    let mut out = Vec::new();
    let mut begin = 0;
    for k in 1..=sorted.len() {
        let split = k == sorted.len() || {
            let prev = chunks[sorted[k - 1]];
            let next = chunks[sorted[k]];
            let first = chunks[sorted[begin]];
            next.addr != prev.addr + prev.size || next.addr + next.size - first.addr > max_run
        };
        if split {
            out.push(&sorted[begin..k]);
            begin = k;
        }
    }
    out
}

fn run_span(run: &[usize], chunks: &[Stored]) -> (u64, u64) {
    let first = chunks[run[0]];
    let last = chunks[run[run.len() - 1]];
    (first.addr, last.addr + last.size)
}

fn check_size(data: &[u8], addr: u64, want: usize) -> Result<&[u8], ChunkError> {
    if data.len() < want {
        return Err(ChunkError::Size {
            addr,
            got: data.len(),
            want,
        });
    }
    Ok(&data[..want])
}

fn inflate(src: &[u8], want: usize, addr: u64) -> Result<Vec<u8>, ChunkError> {
    let mut out = Vec::with_capacity(want);
    flate2::Decompress::new(true)
        .decompress_vec(src, &mut out, flate2::FlushDecompress::Finish)
        .map_err(|e| ChunkError::Corrupt {
            codec: "deflate",
            addr,
            reason: e.to_string(),
        })?;
    Ok(out)
}

fn unlzf(src: &[u8], want: usize, addr: u64) -> Result<Vec<u8>, ChunkError> {
    let mut out = vec![0u8; want];
    // SAFETY: lzf_decompress reads `src.len()` bytes of `src` and writes at
    // most `want` bytes into `out`, which holds `want`.
    let n = unsafe {
        lzf_sys::lzf_decompress(
            src.as_ptr().cast(),
            src.len() as u32,
            out.as_mut_ptr().cast(),
            want as u32,
        )
    };
    if n as usize != want {
        return Err(ChunkError::Corrupt {
            codec: "lzf",
            addr,
            reason: format!("decoded {n} bytes"),
        });
    }
    Ok(out)
}

/// HDF5's shuffle: byte k of every element stored together; the bytes
/// after the last whole element are left as they are.
fn unshuffle(src: &[u8], elem_bytes: usize) -> Vec<u8> {
    let n = src.len() / elem_bytes;
    let mut out = src.to_vec();
    if elem_bytes > 1 {
        for (b, plane) in src[..n * elem_bytes].chunks_exact(n.max(1)).enumerate() {
            for (i, &byte) in plane.iter().enumerate() {
                out[i * elem_bytes + b] = byte;
            }
        }
    }
    out
}

/// A whole dataset stored as `T` (native byte order) read raw, or `None`
/// when it is stored otherwise or the raw path cannot decode it (the caller
/// then asks the library). For the per-row header arrays.
pub(super) fn read_whole<T>(ds: &hdf5::Dataset, path: &std::path::Path) -> Option<Vec<T>>
where
    T: hdf5::H5Type + bytemuck::Pod,
{
    let mem = hdf5::Datatype::from_type::<T>().ok()?;
    let file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let layout = Layout::of(ds, &file, &mem, std::mem::size_of::<T>()).ok()?;
    let rows = *layout.shape.first()?;
    let mut out = vec![T::zeroed(); rows * layout.row_elems()];
    let place = Place::row_major(&layout.shape);
    layout
        .read_rows(
            &file,
            len,
            0,
            rows,
            bytemuck::cast_slice_mut(&mut out),
            &place,
        )
        .ok()?;
    Some(out)
}

/// Every chunk of the grid in grid order: from the B-tree in one pass
/// ([`super::btree`]), or else by one library lookup per grid position.
fn list_chunks(
    ds: &hdf5::Dataset,
    file: &File,
    shape: &[usize],
    chunk: &[usize],
) -> Result<Vec<Stored>, LibraryReason> {
    let grid: Vec<usize> = shape
        .iter()
        .zip(chunk)
        .map(|(&d, &c)| d.div_ceil(c))
        .collect();
    if let Some(indexed) = object_header_addr(ds).and_then(|a| btree::chunks(file, a, chunk)) {
        if let Some(stored) = in_grid_order(&indexed, &grid, chunk) {
            return Ok(stored);
        }
    }
    tracing::debug!("{}: chunks listed by the library", ds.name());
    lookup_chunks(ds, &grid, chunk)
}

/// The object header address of `ds`, when the file's addresses and
/// lengths are 8 bytes (what [`super::btree`] reads).
fn object_header_addr(ds: &hdf5::Dataset) -> Option<u64> {
    hdf5::sync::sync(|| {
        // SAFETY: plain queries on open identifiers; every identifier
        // opened here is closed here.
        unsafe {
            let mut info = hdf5_sys::h5o::H5O_info1_t::default();
            if hdf5_sys::h5o::H5Oget_info2(ds.id(), &mut info, hdf5_sys::h5o::H5O_INFO_BASIC) < 0 {
                return None;
            }
            let fid = hdf5_sys::h5i::H5Iget_file_id(ds.id());
            if fid < 0 {
                return None;
            }
            let plist = hdf5_sys::h5f::H5Fget_create_plist(fid);
            let (mut sa, mut ss) = (0usize, 0usize);
            let ok = plist >= 0 && hdf5_sys::h5p::H5Pget_sizes(plist, &mut sa, &mut ss) >= 0;
            if plist >= 0 {
                hdf5_sys::h5p::H5Pclose(plist);
            }
            hdf5_sys::h5f::H5Fclose(fid);
            (ok && sa == 8 && ss == 8).then_some(info.addr)
        }
    })
}

/// The B-tree's chunks placed in grid order, or `None` unless they tile
/// the grid exactly (each position once, offsets on the chunk grid).
fn in_grid_order(
    indexed: &[btree::IndexedChunk],
    grid: &[usize],
    chunk: &[usize],
) -> Option<Vec<Stored>> {
    let total: usize = grid.iter().product();
    if indexed.len() != total {
        return None;
    }
    let mut out: Vec<Option<Stored>> = vec![None; total];
    for c in indexed {
        let mut index = 0usize;
        for k in 0..grid.len() {
            let off = c.offset[k] as usize;
            if off % chunk[k] != 0 || off / chunk[k] >= grid[k] {
                return None;
            }
            index = index * grid[k] + off / chunk[k];
        }
        if out[index].is_some() {
            return None;
        }
        out[index] = Some(Stored {
            addr: c.addr,
            size: c.size,
            filter_mask: c.filter_mask,
        });
    }
    out.into_iter().collect()
}

/// One `H5Dget_chunk_info_by_coord` per grid position (each walks the
/// index in HDF5 1.10: quadratic, but correct for any index type).
fn lookup_chunks(
    ds: &hdf5::Dataset,
    grid: &[usize],
    chunk: &[usize],
) -> Result<Vec<Stored>, LibraryReason> {
    let n = grid.len();
    let total: usize = grid.iter().product();
    let id = ds.id();
    hdf5::sync::sync(|| {
        let mut out = Vec::with_capacity(total);
        let mut offset = vec![0u64; n];
        for index in 0..total {
            let mut rest = index;
            for k in (0..n).rev() {
                offset[k] = ((rest % grid[k]) * chunk[k]) as u64;
                rest /= grid[k];
            }
            let (mut mask, mut addr, mut size) = (0u32, 0u64, 0u64);
            // SAFETY: `offset` holds one coordinate per dataset axis; the
            // outputs are plain integers; the dataset id is open.
            let status = unsafe {
                hdf5_sys::h5d::H5Dget_chunk_info_by_coord(
                    id,
                    offset.as_ptr(),
                    &mut mask,
                    &mut addr,
                    &mut size,
                )
            };
            if status < 0 {
                return Err(LibraryReason::Index);
            }
            if addr == hdf5_sys::h5::HADDR_UNDEF {
                return Err(LibraryReason::Unallocated);
            }
            out.push(Stored {
                addr,
                size,
                filter_mask: mask,
            });
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshuffle_regroups_the_bytes_of_each_element() {
        // Two 4-byte elements 0x04030201 and 0x08070605, shuffled, plus a tail byte.
        let shuffled = [1, 5, 2, 6, 3, 7, 4, 8, 9];
        assert_eq!(unshuffle(&shuffled, 4), vec![1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn runs_split_at_gaps_and_keep_adjacent_chunks_together() {
        let at = |addr, size| Stored {
            addr,
            size,
            filter_mask: 0,
        };
        let chunks = [at(0, 10), at(10, 10), at(30, 10), at(40, 5)];
        let sorted = [0, 1, 2, 3];
        let r = runs(&sorted, &chunks, MAX_RUN_BYTES);
        assert_eq!(r, vec![&[0, 1][..], &[2, 3][..]]);
        // No longer than asked, but never less than a chunk.
        let r = runs(&sorted, &chunks, 10);
        assert_eq!(r, vec![&[0][..], &[1][..], &[2][..], &[3][..]]);
    }

    #[test]
    fn a_request_is_cut_into_two_reads_per_worker_within_bounds() {
        // A subband's block of 3.6 MB: four reads of 0.9 MB for two workers.
        assert_eq!(max_run_bytes(3_600_000, 2), 900_000);
        assert_eq!(max_run_bytes(100 << 20, 2), MAX_RUN_BYTES);
        assert_eq!(max_run_bytes(1 << 20, 16), MIN_RUN_BYTES);
        assert_eq!(max_run_bytes(1 << 20, 0), 512 << 10);
    }
}
