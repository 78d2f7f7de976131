//! Reading rows of `Data/` into buffers the caller owns.
//!
//! The `hdf5` crate serialises every library call behind one global lock,
//! so threads calling it read one at a time. For the bulk data we ask HDF5
//! once, at open, where the bytes are (`H5Dget_offset` for contiguous
//! datasets, `H5Dget_chunk_info` for chunks) and then read them with
//! positioned reads, inflating gzip chunks ourselves: any number of files
//! are then read truly in parallel. Datasets whose layout or type this raw
//! path does not handle (other filters such as LZF, chunks that split a
//! row, byte orders other than the machine's) go through the library.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use hdf5::filters::Filter;
use num_complex::Complex32;

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

/// One stored piece of a dataset: rows `row0..row0 + rows` at `addr`.
#[derive(Clone, Debug)]
struct Piece {
    row0: usize,
    addr: u64,
    size: u64,
    deflated: bool,
}

/// How one dataset is read.
#[derive(Clone, Debug)]
enum Plan {
    /// Positioned reads of whole-row pieces of `rows_per_piece` rows.
    Raw {
        pieces: Vec<Piece>,
        rows_per_piece: usize,
    },
    /// Through the HDF5 library.
    Library,
}

/// Which path reads each dataset, for logs and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadPath {
    Raw,
    Library,
}

/// An open UVH5 file: its header and the plans for its data.
pub struct Uvh5File {
    header: Header,
    h5: hdf5::File,
    raw: File,
    vis: Plan,
    flags: Plan,
    nsamples: Plan,
    scratch: Vec<u8>,
    inflated: Vec<u8>,
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

fn plan(ds: &hdf5::Dataset, mem: hdf5::Datatype, elem_bytes: usize, n_rows: usize) -> Plan {
    let same_type = ds.dtype().map(|t| t == mem).unwrap_or(false);
    if !same_type || n_rows == 0 {
        return Plan::Library;
    }
    let shape = ds.shape();
    let row_bytes = (shape[1..].iter().product::<usize>() * elem_bytes) as u64;
    if let Some(addr) = ds.offset() {
        return Plan::Raw {
            pieces: vec![Piece {
                row0: 0,
                addr,
                size: row_bytes * n_rows as u64,
                deflated: false,
            }],
            rows_per_piece: n_rows,
        };
    }
    let Some(chunk) = ds.chunk() else {
        return Plan::Library;
    };
    if chunk[1..] != shape[1..] {
        return Plan::Library;
    }
    let deflate = match ds.filters()[..] {
        [] => false,
        [Filter::Deflate(_)] => true,
        _ => return Plan::Library,
    };
    let Some(n) = ds.num_chunks() else {
        return Plan::Library;
    };
    let mut pieces = Vec::with_capacity(n);
    for i in 0..n {
        let Some(info) = ds.chunk_info(i) else {
            return Plan::Library;
        };
        pieces.push(Piece {
            row0: info.offset[0] as usize,
            addr: info.addr,
            size: info.size,
            // A set bit in the mask means that filter was skipped.
            deflated: deflate && info.filter_mask & 1 == 0,
        });
    }
    pieces.sort_by_key(|p| p.row0);
    // One chunk per block of rows, each where its rows start: anything else
    // (a damaged chunk index) goes through the library, which checks it.
    if pieces.len() != n_rows.div_ceil(chunk[0])
        || pieces
            .iter()
            .enumerate()
            .any(|(i, p)| p.row0 != i * chunk[0])
    {
        return Plan::Library;
    }
    Plan::Raw {
        pieces,
        rows_per_piece: chunk[0],
    }
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
        let n = header.n_blts;
        let file = Uvh5File {
            vis: plan(
                &vis,
                native(hdf5::Datatype::from_type::<ComplexF32>()),
                8,
                n,
            ),
            flags: plan(&flags, native(hdf5::Datatype::from_type::<bool>()), 1, n),
            nsamples: plan(&nsamples, native(hdf5::Datatype::from_type::<f32>()), 4, n),
            header,
            h5,
            raw,
            scratch: Vec::new(),
            inflated: Vec::new(),
            force_library: false,
            warned_unusable: false,
        };
        tracing::debug!(
            "{}: visdata {:?}, flags {:?}, nsamples {:?}",
            path.display(),
            file.read_paths()[0],
            file.read_paths()[1],
            file.read_paths()[2]
        );
        Ok(file)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The path each of visdata, flags, nsamples takes.
    pub fn read_paths(&self) -> [ReadPath; 3] {
        [&self.vis, &self.flags, &self.nsamples].map(|p| match (p, self.force_library) {
            (Plan::Raw { .. }, false) => ReadPath::Raw,
            _ => ReadPath::Library,
        })
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
        let plan = self.plan_for(&self.vis);
        if !self.read_raw(&plan, "Data/visdata", r0, r1, 8, |bytes, k| {
            vis[k] = Complex32::new(
                f32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes")),
                f32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")),
            )
        })? {
            library_vis(&self.h5, r0, r1, vis).map_err(|e| lib(e, "Data/visdata"))?;
        }
        let plan = self.plan_for(&self.flags);
        if !self.read_raw(&plan, "Data/flags", r0, r1, 1, |bytes, k| {
            flags[k] = bytes[0] != 0
        })? {
            library_copy(&self.h5, "Data/flags", r0, r1, flags)
                .map_err(|e| lib(e, "Data/flags"))?;
        }
        let plan = self.plan_for(&self.nsamples);
        if !self.read_raw(&plan, "Data/nsamples", r0, r1, 4, |bytes, k| {
            nsamples[k] = f32::from_le_bytes(bytes[0..4].try_into().expect("4 bytes"))
        })? {
            library_copy(&self.h5, "Data/nsamples", r0, r1, nsamples)
                .map_err(|e| lib(e, "Data/nsamples"))?;
        }
        let unusable = flag_unusable(vis, flags, nsamples);
        if unusable > 0 && !self.warned_unusable {
            self.warned_unusable = true;
            tracing::warn!(
                "{}: {unusable} NaN/infinite visibilities or NaN/infinite/negative nsamples in rows                  {r0}..{r1}: flagged, written as 0",
                path.display()
            );
        }
        Ok(())
    }

    fn plan_for(&self, p: &Plan) -> Plan {
        if self.force_library || matches!(p, Plan::Library) {
            Plan::Library
        } else {
            p.clone()
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

    /// Read one dataset's rows by positioned reads of its pieces, handing
    /// each element's bytes to `put(bytes, output index)`. Returns false,
    /// reading nothing, when the plan is the library's.
    fn read_raw(
        &mut self,
        plan: &Plan,
        name: &str,
        r0: usize,
        r1: usize,
        elem_bytes: usize,
        mut put: impl FnMut(&[u8], usize),
    ) -> Result<bool, Uvh5Error> {
        let Plan::Raw {
            pieces,
            rows_per_piece,
        } = plan
        else {
            return Ok(false);
        };
        let row_bytes = self.header.per_row() * elem_bytes;
        let first = r0 / rows_per_piece;
        let last = (r1 - 1) / rows_per_piece;
        let file_len = self.raw.metadata().map(|m| m.len()).unwrap_or(0);
        for piece in &pieces[first..=last] {
            let piece_rows = (*rows_per_piece).min(self.header.n_blts - piece.row0);
            if piece.addr.saturating_add(piece.size) > file_len {
                return Err(self.read_error(
                    r0,
                    r1,
                    format!(
                        "{name}: a chunk of {} bytes at offset {} lies beyond the end of the file \
                         ({file_len} bytes): truncated or damaged",
                        piece.size, piece.addr
                    ),
                ));
            }
            self.scratch.resize(piece.size as usize, 0);
            self.raw
                .read_exact_at(&mut self.scratch, piece.addr)
                .map_err(|e| {
                    self.read_error(
                        r0,
                        r1,
                        format!(
                            "{name}: reading {} bytes at offset {}: {e} (file truncated?)",
                            piece.size, piece.addr
                        ),
                    )
                })?;
            let bytes: &[u8] = if piece.deflated {
                self.inflated.clear();
                self.inflated.reserve(rows_per_piece * row_bytes);
                let mut z = flate2::Decompress::new(true);
                z.decompress_vec(
                    &self.scratch,
                    &mut self.inflated,
                    flate2::FlushDecompress::Finish,
                )
                .map_err(|e| {
                    self.read_error(
                        r0,
                        r1,
                        format!("{name}: corrupt gzip chunk at offset {}: {e}", piece.addr),
                    )
                })?;
                &self.inflated
            } else {
                &self.scratch
            };
            if bytes.len() < piece_rows * row_bytes {
                return Err(self.read_error(
                    r0,
                    r1,
                    format!(
                        "{name}: chunk at offset {} holds {} bytes, expected {}",
                        piece.addr,
                        bytes.len(),
                        piece_rows * row_bytes
                    ),
                ));
            }
            let lo = r0.max(piece.row0);
            let hi = r1.min(piece.row0 + piece_rows);
            let src = &bytes[(lo - piece.row0) * row_bytes..(hi - piece.row0) * row_bytes];
            let base = (lo - r0) * (row_bytes / elem_bytes);
            for (k, elem) in src.chunks_exact(elem_bytes).enumerate() {
                put(elem, base + k);
            }
        }
        Ok(true)
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
