//! The table-info label of the main table (`info.cc`): casacore's
//! `MeasurementSet` class and CASA recognise a Measurement Set by it.
//! Subtables keep the empty label casacore's own MS classes give them.

use std::ffi::{c_char, c_int, c_ulong, CString};
use std::path::Path;

use super::MsError;

extern "C" {
    fn dsa110_set_table_info(
        table: *const c_char,
        info_type: *const c_char,
        sub_type: *const c_char,
        readme: *const c_char,
        err: *mut c_char,
        err_len: c_ulong,
    ) -> c_int;
}

/// What casacore's `MeasurementSet` constructor writes.
const TYPE: &str = "Measurement Set";
const README: &str = "This is a MeasurementSet Table holding measurements from a Telescope";

/// Label the closed main table at `ms` a Measurement Set.
pub(super) fn label_measurement_set(ms: &Path) -> Result<(), MsError> {
    let cstr = |s: &[u8]| CString::new(s).map_err(|e| MsError::Casacore(e.to_string()));
    let path = cstr(ms.as_os_str().as_encoded_bytes())?;
    let (ty, sub, readme) = (cstr(TYPE.as_bytes())?, cstr(b"")?, cstr(README.as_bytes())?);
    let mut err = [0 as c_char; 512];
    // SAFETY: NUL-terminated strings; `err` is writable for the length passed.
    let rc = unsafe {
        dsa110_set_table_info(
            path.as_ptr(),
            ty.as_ptr(),
            sub.as_ptr(),
            readme.as_ptr(),
            err.as_mut_ptr(),
            err.len() as c_ulong,
        )
    };
    if rc != 0 {
        // SAFETY: the shim NUL-terminates what it writes.
        let msg = unsafe { std::ffi::CStr::from_ptr(err.as_ptr()) };
        return Err(MsError::Casacore(format!(
            "{}: setting the table type: {}",
            ms.display(),
            msg.to_string_lossy()
        )));
    }
    Ok(())
}
