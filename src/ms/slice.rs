//! Safe wrappers of `slice.cc`: puts of a channel range of an array column
//! over a range of rows and of whole columns, the tile cache of a column,
//! the storage managers of the per-row columns, flushing a table and marking
//! one for delete, which rubbl_casatables does not offer.

use std::ffi::{c_char, c_int, c_ulong, c_void, CString};
use std::path::Path;

use num_complex::Complex32;

use super::MsError;

extern "C" {
    fn dsa110_put_slice(
        table: *const c_char,
        column: *const c_char,
        element_type: c_int,
        row0: c_ulong,
        n_rows: c_ulong,
        chan0: c_ulong,
        n_chan: c_ulong,
        n_pol: c_ulong,
        values: *const c_void,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
    fn dsa110_flush_table(
        table: *const c_char,
        sync: c_int,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
    fn dsa110_mark_for_delete(table: *const c_char, err: *mut c_char, err_len: c_ulong) -> c_int;
    fn dsa110_put_column(
        table: *const c_char,
        column: *const c_char,
        element_type: c_int,
        per_row: c_ulong,
        values: *const c_void,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
    fn dsa110_bind_row_columns(
        table: *const c_char,
        incremental: *const c_char,
        bucket_bytes: c_ulong,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
    fn dsa110_set_tile_cache(
        table: *const c_char,
        data_manager: *const c_char,
        n_tiles: c_ulong,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
}

fn c_path(table: &Path) -> Result<CString, MsError> {
    CString::new(table.as_os_str().as_encoded_bytes()).map_err(|e| MsError::Casacore(e.to_string()))
}

/// Call a `slice.cc` function with an error buffer; its message as the error.
fn call(what: &str, f: impl FnOnce(*mut c_char, c_ulong) -> c_int) -> Result<(), MsError> {
    let mut err = [0 as c_char; 512];
    if f(err.as_mut_ptr(), err.len() as c_ulong) != 0 {
        // SAFETY: the shim NUL-terminates what it writes.
        let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) };
        return Err(MsError::Casacore(format!(
            "{what}: {}",
            msg.to_string_lossy()
        )));
    }
    Ok(())
}

/// Write everything casacore holds of the open table at `table` to its
/// files (and fsync them when `sync`): the errors a destructor could not
/// report (a full disk) come back here.
pub(super) fn flush(table: &Path, sync: bool) -> Result<(), MsError> {
    let c_table = c_path(table)?;
    // SAFETY: a NUL-terminated path; `err` is writable for the length passed.
    call(
        &format!("flushing {}", table.display()),
        |err, len| unsafe { dsa110_flush_table(c_table.as_ptr(), sync as c_int, err, len) },
    )
}

/// Mark the open table at `table` for delete, so that closing it writes
/// nothing (after a failed write, nothing more can fail).
pub(super) fn mark_for_delete(table: &Path) -> Result<(), MsError> {
    let c_table = c_path(table)?;
    // SAFETY: a NUL-terminated path; `err` is writable for the length passed.
    call(
        &format!("discarding {}", table.display()),
        |err, len| unsafe { dsa110_mark_for_delete(c_table.as_ptr(), err, len) },
    )
}

/// A `slice.cc` function of the open table, a name (a data manager, or a
/// list of columns) and a count.
type NamedFn =
    unsafe extern "C" fn(*const c_char, *const c_char, c_ulong, *mut c_char, c_ulong) -> c_int;

/// Call `f` on the open table at `table`, `name` and `n`; `what` names the
/// call in an error.
fn call_named(what: &str, table: &Path, name: &str, n: usize, f: NamedFn) -> Result<(), MsError> {
    let c_table = c_path(table)?;
    let c_name = CString::new(name).map_err(|e| MsError::Casacore(e.to_string()))?;
    // SAFETY: NUL-terminated strings; `err` is writable for the length passed.
    call(what, |err, len| unsafe {
        f(c_table.as_ptr(), c_name.as_ptr(), n as c_ulong, err, len)
    })
}

/// Hold `n_tiles` tiles in the cache of the tiled storage manager
/// `data_manager` of the open table at `table` (see `slice.cc`).
pub(super) fn set_tile_cache(
    table: &Path,
    data_manager: &str,
    n_tiles: usize,
) -> Result<(), MsError> {
    let what = format!("tile cache of {data_manager}");
    call_named(&what, table, data_manager, n_tiles, dsa110_set_tile_cache)
}

/// Store the columns `incremental` of the open, still empty table at
/// `table` in an incremental storage manager, the others in a standard
/// storage manager with buckets of `bucket_bytes` (see `slice.cc`).
pub(super) fn bind_row_columns(
    table: &Path,
    incremental: &[&str],
    bucket_bytes: usize,
) -> Result<(), MsError> {
    let list = incremental.join(",");
    call_named(
        "storage managers",
        table,
        &list,
        bucket_bytes,
        dsa110_bind_row_columns,
    )
}

/// Element types a whole column can hold, with their code in `slice.cc`.
pub(super) trait ColumnValue: Copy {
    const CODE: c_int;
}

impl ColumnValue for i32 {
    const CODE: c_int = 0;
}

impl ColumnValue for f64 {
    const CODE: c_int = 1;
}

/// Put `values` into every one of the `n_rows` rows of `column` of the
/// table at `table`: scalars when `per_row` is 0, else cells of `per_row`
/// values (`[row][value]`).
pub(super) fn put_column<T: ColumnValue>(
    table: &Path,
    column: &str,
    n_rows: usize,
    per_row: usize,
    values: &[T],
) -> Result<(), MsError> {
    if values.len() != n_rows * per_row.max(1) {
        return Err(MsError::Rows(format!(
            "{column}: {} values for {n_rows} rows of {} each",
            values.len(),
            per_row.max(1)
        )));
    }
    let c_table = c_path(table)?;
    let c_column = CString::new(column).map_err(|e| MsError::Casacore(e.to_string()))?;
    // SAFETY: NUL-terminated strings; `values` holds a value (or `per_row`
    // values) for every row of the table, of the type `T::CODE` names (the
    // caller gives the table's row count); `err` is writable for the length
    // passed.
    call(column, |err, len| unsafe {
        dsa110_put_column(
            c_table.as_ptr(),
            c_column.as_ptr(),
            T::CODE,
            per_row as c_ulong,
            values.as_ptr().cast(),
            err,
            len,
        )
    })
}

/// Element types a slice can hold, with their code in `slice.cc`.
pub(super) trait SliceValue: Copy {
    const CODE: c_int;
}

impl SliceValue for Complex32 {
    const CODE: c_int = 0;
}

impl SliceValue for f32 {
    const CODE: c_int = 1;
}

impl SliceValue for bool {
    const CODE: c_int = 2;
}

/// Put `values` (`[row][chan][pol]`, `n_chan` channels from `chan0`) into
/// rows `row0..` of `column` of the table at `table`.
pub(super) fn put<T: SliceValue>(
    table: &Path,
    column: &str,
    row0: usize,
    chan0: usize,
    n_chan: usize,
    n_pol: usize,
    values: &[T],
) -> Result<(), MsError> {
    let per_row = n_chan * n_pol;
    if per_row == 0 || values.len() % per_row != 0 {
        return Err(MsError::Rows(format!(
            "{column}: {} values for slices of {n_chan} channels x {n_pol} pols",
            values.len()
        )));
    }
    let n_rows = values.len() / per_row;
    let c_table = c_path(table)?;
    let c_column = CString::new(column).map_err(|e| MsError::Casacore(e.to_string()))?;
    let what = format!("{column} channels {chan0}..{}", chan0 + n_chan);
    // SAFETY: NUL-terminated strings; `values` holds n_rows x n_chan x n_pol
    // elements of the type `T::CODE` names (Complex32 is two f32, as
    // casacore's Complex); `err` is writable for the length passed.
    call(&what, |err, len| unsafe {
        dsa110_put_slice(
            c_table.as_ptr(),
            c_column.as_ptr(),
            T::CODE,
            row0 as c_ulong,
            n_rows as c_ulong,
            chan0 as c_ulong,
            n_chan as c_ulong,
            n_pol as c_ulong,
            values.as_ptr().cast(),
            err,
            len,
        )
    })
}
