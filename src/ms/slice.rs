//! Safe wrappers of `slice.cc`: puts of a channel range of an array column
//! over a range of rows, which rubbl_casatables does not offer.

use std::ffi::{c_char, c_int, c_ulong, CString};
use std::path::Path;

use num_complex::Complex32;

use super::MsError;

extern "C" {
    fn dsa110_put_slice_complex(
        table: *const c_char,
        column: *const c_char,
        row0: c_ulong,
        n_rows: c_ulong,
        chan0: c_ulong,
        n_chan: c_ulong,
        n_pol: c_ulong,
        values: *const f32,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
    fn dsa110_put_slice_float(
        table: *const c_char,
        column: *const c_char,
        row0: c_ulong,
        n_rows: c_ulong,
        chan0: c_ulong,
        n_chan: c_ulong,
        n_pol: c_ulong,
        values: *const f32,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
    fn dsa110_put_slice_bool(
        table: *const c_char,
        column: *const c_char,
        row0: c_ulong,
        n_rows: c_ulong,
        chan0: c_ulong,
        n_chan: c_ulong,
        n_pol: c_ulong,
        values: *const bool,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
}

/// Values a channel slice can hold, with the put for their column type.
pub(super) trait SliceValue: Copy {
    /// # Safety
    /// `values` points at `n_rows * n_chan * n_pol` values.
    #[allow(clippy::too_many_arguments)]
    unsafe fn put(
        table: *const c_char,
        column: *const c_char,
        row0: c_ulong,
        n_rows: c_ulong,
        chan0: c_ulong,
        n_chan: c_ulong,
        n_pol: c_ulong,
        values: *const Self,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
}

macro_rules! slice_value {
    ($ty:ty, $f:ident, $ptr:ty) => {
        impl SliceValue for $ty {
            unsafe fn put(
                table: *const c_char,
                column: *const c_char,
                row0: c_ulong,
                n_rows: c_ulong,
                chan0: c_ulong,
                n_chan: c_ulong,
                n_pol: c_ulong,
                values: *const Self,
                err: *mut c_char,
                err_len: c_ulong,
            ) -> c_int {
                $f(
                    table,
                    column,
                    row0,
                    n_rows,
                    chan0,
                    n_chan,
                    n_pol,
                    values as *const $ptr,
                    err,
                    err_len,
                )
            }
        }
    };
}
slice_value!(Complex32, dsa110_put_slice_complex, f32);
slice_value!(f32, dsa110_put_slice_float, f32);
slice_value!(bool, dsa110_put_slice_bool, bool);

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
    let c_table = CString::new(table.as_os_str().as_encoded_bytes())
        .map_err(|e| MsError::Casacore(e.to_string()))?;
    let c_column = CString::new(column).map_err(|e| MsError::Casacore(e.to_string()))?;
    let mut err = [0 as c_char; 512];
    // SAFETY: NUL-terminated strings, `values` holds n_rows x n_chan x n_pol
    // values, `err` is a writable buffer of the length passed.
    let rc = unsafe {
        T::put(
            c_table.as_ptr(),
            c_column.as_ptr(),
            row0 as c_ulong,
            n_rows as c_ulong,
            chan0 as c_ulong,
            n_chan as c_ulong,
            n_pol as c_ulong,
            values.as_ptr(),
            err.as_mut_ptr(),
            err.len() as c_ulong,
        )
    };
    if rc != 0 {
        // SAFETY: the shim NUL-terminates what it writes.
        let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) };
        return Err(MsError::Casacore(format!(
            "{column} channels {chan0}..{}: {}",
            chan0 + n_chan,
            msg.to_string_lossy()
        )));
    }
    Ok(())
}
