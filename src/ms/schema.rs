//! Column definitions of the Measurement Set tables (MS v2), with the
//! measure and unit keywords casacore's `MeasurementSet` classes expect.

use rubbl_casatables::{GlueDataType as T, TableDesc, TableDescCreateMode, TableRecord};

use super::MsError;

/// Shape of an array column.
#[derive(Clone, Copy, Debug)]
pub(super) enum Shape<'a> {
    Scalar,
    /// Every cell has this shape (row-major, as the rows are written).
    Fixed(&'a [u64]),
    /// Cells of any shape with this many dimensions.
    Var(u64),
}

/// One column: name, type, shape, units and measure (type, reference).
pub(super) struct Col<'a> {
    pub name: &'a str,
    pub ty: T,
    pub shape: Shape<'a>,
    pub units: &'a [&'a str],
    pub measure: Option<(&'a str, &'a str)>,
}

pub(super) const fn col<'a>(name: &'a str, ty: T, shape: Shape<'a>) -> Col<'a> {
    Col {
        name,
        ty,
        shape,
        units: &[],
        measure: None,
    }
}

impl<'a> Col<'a> {
    pub const fn units(mut self, units: &'a [&'a str]) -> Self {
        self.units = units;
        self
    }
    pub const fn measure(mut self, kind: &'a str, reference: &'a str) -> Self {
        self.measure = Some((kind, reference));
        self
    }
}

/// A table description holding `cols`.
pub(super) fn describe(table: &str, cols: &[Col]) -> Result<TableDesc, MsError> {
    let err = |e: &dyn std::fmt::Display| MsError::Casacore(format!("{table}: {e}"));
    let mut desc = TableDesc::new("", TableDescCreateMode::TDM_SCRATCH).map_err(|e| err(&e))?;
    for c in cols {
        match c.shape {
            Shape::Scalar => desc.add_scalar_column(c.ty, c.name, None, false, false),
            Shape::Fixed(dims) => {
                desc.add_array_column(c.ty, c.name, None, Some(dims), true, false)
            }
            Shape::Var(ndim) => desc
                .add_array_column(c.ty, c.name, None, None, false, false)
                .and_then(|_| desc.set_ndims(c.name, ndim)),
        }
        .map_err(|e| err(&e))?;
        if !c.units.is_empty() {
            let units: Vec<String> = c.units.iter().map(|s| s.to_string()).collect();
            desc.put_column_keyword(c.name, "QuantumUnits", &units)
                .map_err(|e| err(&e))?;
        }
        if let Some((kind, reference)) = c.measure {
            let mut rec = TableRecord::new().map_err(|e| err(&e))?;
            rec.put_field("type", &kind.to_string())
                .map_err(|e| err(&e))?;
            rec.put_field("Ref", &reference.to_string())
                .map_err(|e| err(&e))?;
            desc.put_column_keyword(c.name, "MEASINFO", &rec)
                .map_err(|e| err(&e))?;
        }
    }
    Ok(desc)
}

const S: &[&str] = &["s"];
const M3: &[&str] = &["m", "m", "m"];
const RAD2: &[&str] = &["rad", "rad"];
const HZ: &[&str] = &["Hz"];

/// The main table's columns except the tiled ones (DATA, FLAG, WEIGHT,
/// SIGMA, ...).
pub(super) fn main_columns() -> Vec<Col<'static>> {
    vec![
        col("UVW", T::TpDouble, Shape::Fixed(&[3]))
            .units(M3)
            .measure("uvw", "ITRF"),
        col("FLAG_CATEGORY", T::TpBool, Shape::Var(3)),
        col("ANTENNA1", T::TpInt, Shape::Scalar),
        col("ANTENNA2", T::TpInt, Shape::Scalar),
        col("ARRAY_ID", T::TpInt, Shape::Scalar),
        col("DATA_DESC_ID", T::TpInt, Shape::Scalar),
        col("EXPOSURE", T::TpDouble, Shape::Scalar).units(S),
        col("FEED1", T::TpInt, Shape::Scalar),
        col("FEED2", T::TpInt, Shape::Scalar),
        col("FIELD_ID", T::TpInt, Shape::Scalar),
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("INTERVAL", T::TpDouble, Shape::Scalar).units(S),
        col("OBSERVATION_ID", T::TpInt, Shape::Scalar),
        col("PROCESSOR_ID", T::TpInt, Shape::Scalar),
        col("SCAN_NUMBER", T::TpInt, Shape::Scalar),
        col("STATE_ID", T::TpInt, Shape::Scalar),
        col("TIME", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
        col("TIME_CENTROID", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
    ]
}

pub(super) fn antenna() -> Vec<Col<'static>> {
    vec![
        col("OFFSET", T::TpDouble, Shape::Fixed(&[3]))
            .units(M3)
            .measure("position", "ITRF"),
        col("POSITION", T::TpDouble, Shape::Fixed(&[3]))
            .units(M3)
            .measure("position", "ITRF"),
        col("TYPE", T::TpString, Shape::Scalar),
        col("DISH_DIAMETER", T::TpDouble, Shape::Scalar).units(&["m"]),
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("MOUNT", T::TpString, Shape::Scalar),
        col("NAME", T::TpString, Shape::Scalar),
        col("STATION", T::TpString, Shape::Scalar),
    ]
}

pub(super) fn data_description() -> Vec<Col<'static>> {
    vec![
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("POLARIZATION_ID", T::TpInt, Shape::Scalar),
        col("SPECTRAL_WINDOW_ID", T::TpInt, Shape::Scalar),
    ]
}

pub(super) fn feed() -> Vec<Col<'static>> {
    vec![
        col("POSITION", T::TpDouble, Shape::Fixed(&[3]))
            .units(M3)
            .measure("position", "ITRF"),
        col("BEAM_OFFSET", T::TpDouble, Shape::Var(2))
            .units(RAD2)
            .measure("direction", "J2000"),
        col("POLARIZATION_TYPE", T::TpString, Shape::Var(1)),
        col("POL_RESPONSE", T::TpComplex, Shape::Var(2)),
        col("RECEPTOR_ANGLE", T::TpDouble, Shape::Var(1)).units(&["rad"]),
        col("ANTENNA_ID", T::TpInt, Shape::Scalar),
        col("BEAM_ID", T::TpInt, Shape::Scalar),
        col("FEED_ID", T::TpInt, Shape::Scalar),
        col("INTERVAL", T::TpDouble, Shape::Scalar).units(S),
        col("NUM_RECEPTORS", T::TpInt, Shape::Scalar),
        col("SPECTRAL_WINDOW_ID", T::TpInt, Shape::Scalar),
        col("TIME", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
    ]
}

pub(super) fn field() -> Vec<Col<'static>> {
    vec![
        col("DELAY_DIR", T::TpDouble, Shape::Var(2))
            .units(RAD2)
            .measure("direction", "ICRS"),
        col("PHASE_DIR", T::TpDouble, Shape::Var(2))
            .units(RAD2)
            .measure("direction", "ICRS"),
        col("REFERENCE_DIR", T::TpDouble, Shape::Var(2))
            .units(RAD2)
            .measure("direction", "ICRS"),
        col("CODE", T::TpString, Shape::Scalar),
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("NAME", T::TpString, Shape::Scalar),
        col("NUM_POLY", T::TpInt, Shape::Scalar),
        col("SOURCE_ID", T::TpInt, Shape::Scalar),
        col("TIME", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
    ]
}

pub(super) fn source() -> Vec<Col<'static>> {
    vec![
        col("DIRECTION", T::TpDouble, Shape::Fixed(&[2]))
            .units(RAD2)
            .measure("direction", "ICRS"),
        col("PROPER_MOTION", T::TpDouble, Shape::Fixed(&[2])).units(&["rad/s"]),
        col("CALIBRATION_GROUP", T::TpInt, Shape::Scalar),
        col("CODE", T::TpString, Shape::Scalar),
        col("INTERVAL", T::TpDouble, Shape::Scalar).units(S),
        col("NAME", T::TpString, Shape::Scalar),
        col("NUM_LINES", T::TpInt, Shape::Scalar),
        col("SOURCE_ID", T::TpInt, Shape::Scalar),
        col("SPECTRAL_WINDOW_ID", T::TpInt, Shape::Scalar),
        col("TIME", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
    ]
}

pub(super) fn flag_cmd() -> Vec<Col<'static>> {
    vec![
        col("APPLIED", T::TpBool, Shape::Scalar),
        col("COMMAND", T::TpString, Shape::Scalar),
        col("INTERVAL", T::TpDouble, Shape::Scalar).units(S),
        col("LEVEL", T::TpInt, Shape::Scalar),
        col("REASON", T::TpString, Shape::Scalar),
        col("SEVERITY", T::TpInt, Shape::Scalar),
        col("TIME", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
        col("TYPE", T::TpString, Shape::Scalar),
    ]
}

pub(super) fn history() -> Vec<Col<'static>> {
    vec![
        col("APP_PARAMS", T::TpString, Shape::Var(1)),
        col("CLI_COMMAND", T::TpString, Shape::Var(1)),
        col("APPLICATION", T::TpString, Shape::Scalar),
        col("MESSAGE", T::TpString, Shape::Scalar),
        col("OBJECT_ID", T::TpInt, Shape::Scalar),
        col("OBSERVATION_ID", T::TpInt, Shape::Scalar),
        col("ORIGIN", T::TpString, Shape::Scalar),
        col("PRIORITY", T::TpString, Shape::Scalar),
        col("TIME", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
    ]
}

pub(super) fn observation() -> Vec<Col<'static>> {
    vec![
        col("TIME_RANGE", T::TpDouble, Shape::Fixed(&[2]))
            .units(S)
            .measure("epoch", "UTC"),
        col("LOG", T::TpString, Shape::Var(1)),
        col("SCHEDULE", T::TpString, Shape::Var(1)),
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("OBSERVER", T::TpString, Shape::Scalar),
        col("PROJECT", T::TpString, Shape::Scalar),
        col("RELEASE_DATE", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
        col("SCHEDULE_TYPE", T::TpString, Shape::Scalar),
        col("TELESCOPE_NAME", T::TpString, Shape::Scalar),
        col("TELESCOPE_LOCATION", T::TpDouble, Shape::Fixed(&[3])).units(M3),
    ]
}

pub(super) fn pointing() -> Vec<Col<'static>> {
    vec![
        col("DIRECTION", T::TpDouble, Shape::Var(2))
            .units(RAD2)
            .measure("direction", "ICRS"),
        col("ANTENNA_ID", T::TpInt, Shape::Scalar),
        col("INTERVAL", T::TpDouble, Shape::Scalar).units(S),
        col("NAME", T::TpString, Shape::Scalar),
        col("NUM_POLY", T::TpInt, Shape::Scalar),
        col("TARGET", T::TpDouble, Shape::Var(2))
            .units(RAD2)
            .measure("direction", "ICRS"),
        col("TIME", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
        col("TIME_ORIGIN", T::TpDouble, Shape::Scalar)
            .units(S)
            .measure("epoch", "UTC"),
        col("TRACKING", T::TpBool, Shape::Scalar),
    ]
}

pub(super) fn polarization() -> Vec<Col<'static>> {
    vec![
        col("CORR_TYPE", T::TpInt, Shape::Var(1)),
        col("CORR_PRODUCT", T::TpInt, Shape::Var(2)),
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("NUM_CORR", T::TpInt, Shape::Scalar),
    ]
}

pub(super) fn processor() -> Vec<Col<'static>> {
    vec![
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("MODE_ID", T::TpInt, Shape::Scalar),
        col("TYPE", T::TpString, Shape::Scalar),
        col("TYPE_ID", T::TpInt, Shape::Scalar),
        col("SUB_TYPE", T::TpString, Shape::Scalar),
    ]
}

pub(super) fn spectral_window() -> Vec<Col<'static>> {
    vec![
        col("MEAS_FREQ_REF", T::TpInt, Shape::Scalar),
        col("CHAN_FREQ", T::TpDouble, Shape::Var(1))
            .units(HZ)
            .measure("frequency", "TOPO"),
        col("REF_FREQUENCY", T::TpDouble, Shape::Scalar)
            .units(HZ)
            .measure("frequency", "TOPO"),
        col("CHAN_WIDTH", T::TpDouble, Shape::Var(1)).units(HZ),
        col("EFFECTIVE_BW", T::TpDouble, Shape::Var(1)).units(HZ),
        col("RESOLUTION", T::TpDouble, Shape::Var(1)).units(HZ),
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("FREQ_GROUP", T::TpInt, Shape::Scalar),
        col("FREQ_GROUP_NAME", T::TpString, Shape::Scalar),
        col("IF_CONV_CHAIN", T::TpInt, Shape::Scalar),
        col("NAME", T::TpString, Shape::Scalar),
        col("NET_SIDEBAND", T::TpInt, Shape::Scalar),
        col("NUM_CHAN", T::TpInt, Shape::Scalar),
        col("TOTAL_BANDWIDTH", T::TpDouble, Shape::Scalar).units(HZ),
    ]
}

pub(super) fn state() -> Vec<Col<'static>> {
    vec![
        col("CAL", T::TpDouble, Shape::Scalar).units(&["K"]),
        col("FLAG_ROW", T::TpBool, Shape::Scalar),
        col("LOAD", T::TpDouble, Shape::Scalar).units(&["K"]),
        col("OBS_MODE", T::TpString, Shape::Scalar),
        col("REF", T::TpBool, Shape::Scalar),
        col("SIG", T::TpBool, Shape::Scalar),
        col("SUB_SCAN", T::TpInt, Shape::Scalar),
    ]
}
