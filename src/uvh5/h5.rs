//! Small typed readers over the `hdf5` crate for UVH5 header fields, with
//! errors that name the file and the dataset.

use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};

use super::chunks::read_whole;
use super::Uvh5Error;

pub(super) fn dataset(
    group: &hdf5::Group,
    name: &str,
    path: &Path,
) -> Result<hdf5::Dataset, Uvh5Error> {
    group.dataset(name).map_err(|_| Uvh5Error::Missing {
        path: path.to_path_buf(),
        what: format!("{}/{}", group.name().trim_start_matches('/'), name),
    })
}

fn bad(path: &Path, ds: &hdf5::Dataset, e: impl std::fmt::Display) -> Uvh5Error {
    Uvh5Error::Malformed {
        path: path.to_path_buf(),
        what: format!("{}: {e}", ds.name().trim_start_matches('/')),
    }
}

/// A numeric scalar (stored as any integer or float type), or a one-element array.
pub(super) fn f64_scalar(group: &hdf5::Group, name: &str, path: &Path) -> Result<f64, Uvh5Error> {
    let ds = dataset(group, name, path)?;
    let v: Vec<f64> = ds.read_raw().map_err(|e| bad(path, &ds, e))?;
    match v[..] {
        [x] => Ok(x),
        _ => Err(bad(
            path,
            &ds,
            format!("expected a scalar, found {} values", v.len()),
        )),
    }
}

pub(super) fn usize_scalar(
    group: &hdf5::Group,
    name: &str,
    path: &Path,
) -> Result<usize, Uvh5Error> {
    let ds = dataset(group, name, path)?;
    let v: Vec<i64> = ds.read_raw().map_err(|e| bad(path, &ds, e))?;
    match v[..] {
        [x] if x >= 0 => Ok(x as usize),
        _ => Err(bad(
            path,
            &ds,
            format!("expected a non-negative scalar, found {v:?}"),
        )),
    }
}

/// A numeric array as f64. Stored as native f64 or f32 it is read raw
/// (no library lock: the per-row arrays of a group are megabytes); any other
/// type through the library, which converts.
pub(super) fn f64_vec(group: &hdf5::Group, name: &str, path: &Path) -> Result<Vec<f64>, Uvh5Error> {
    let ds = dataset(group, name, path)?;
    if let Some(v) = read_whole::<f64>(&ds, path) {
        return Ok(v);
    }
    if let Some(v) = read_whole::<f32>(&ds, path) {
        return Ok(v.into_iter().map(f64::from).collect());
    }
    ds.read_raw().map_err(|e| bad(path, &ds, e))
}

/// An integer array as i64: raw when stored as native i64 or i32 (see
/// [`f64_vec`]), otherwise through the library.
pub(super) fn i64_vec(group: &hdf5::Group, name: &str, path: &Path) -> Result<Vec<i64>, Uvh5Error> {
    let ds = dataset(group, name, path)?;
    if let Some(v) = read_whole::<i64>(&ds, path) {
        return Ok(v);
    }
    if let Some(v) = read_whole::<i32>(&ds, path) {
        return Ok(v.into_iter().map(i64::from).collect());
    }
    ds.read_raw().map_err(|e| bad(path, &ds, e))
}

/// Strings of a dataset (scalar or 1-D), fixed-length or variable-length.
pub(super) fn strings(ds: &hdf5::Dataset, path: &Path) -> Result<Vec<String>, Uvh5Error> {
    let desc = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| bad(path, ds, e))?;
    match desc {
        TypeDescriptor::FixedAscii(n) | TypeDescriptor::FixedUnicode(n) => {
            let count = ds.size();
            let mut buf = vec![0u8; n * count];
            hdf5::sync::sync(|| {
                // SAFETY: the memory type is the file's own fixed-length
                // string type, `buf` holds count * n bytes.
                let status = unsafe {
                    let ftype = hdf5_sys::h5d::H5Dget_type(ds.id());
                    let s = hdf5_sys::h5d::H5Dread(
                        ds.id(),
                        ftype,
                        hdf5_sys::h5s::H5S_ALL,
                        hdf5_sys::h5s::H5S_ALL,
                        hdf5_sys::h5p::H5P_DEFAULT,
                        buf.as_mut_ptr().cast(),
                    );
                    hdf5_sys::h5t::H5Tclose(ftype);
                    s
                };
                if status < 0 {
                    Err(bad(path, ds, "cannot read fixed-length strings"))
                } else {
                    Ok(())
                }
            })?;
            Ok(buf
                .chunks(n.max(1))
                .map(|c| {
                    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                    String::from_utf8_lossy(&c[..end]).trim_end().to_string()
                })
                .collect())
        }
        TypeDescriptor::VarLenAscii => Ok(ds
            .read_raw::<VarLenAscii>()
            .map_err(|e| bad(path, ds, e))?
            .iter()
            .map(|s| s.as_str().to_string())
            .collect()),
        TypeDescriptor::VarLenUnicode => Ok(ds
            .read_raw::<VarLenUnicode>()
            .map_err(|e| bad(path, ds, e))?
            .iter()
            .map(|s| s.as_str().to_string())
            .collect()),
        other => Err(bad(path, ds, format!("expected strings, found {other}"))),
    }
}

/// A string scalar; `None` when the dataset is absent.
pub(super) fn opt_string(
    group: &hdf5::Group,
    name: &str,
    path: &Path,
) -> Result<Option<String>, Uvh5Error> {
    match group.dataset(name) {
        Ok(ds) => Ok(strings(&ds, path)?.into_iter().next()),
        Err(_) => Ok(None),
    }
}
