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

/// A scalar column without units.
pub(super) const fn scalar(name: &str, ty: T) -> Col<'_> {
    col(name, ty, Shape::Scalar)
}

/// A UTC time: MJD seconds, an `epoch` measure.
pub(super) const fn epoch(name: &str) -> Col<'_> {
    col(name, T::TpDouble, Shape::Scalar)
        .units(S)
        .measure("epoch", "UTC")
}

/// An ITRF position, metres.
pub(super) const fn position(name: &str) -> Col<'_> {
    col(name, T::TpDouble, Shape::Fixed(&[3]))
        .units(M3)
        .measure("position", "ITRF")
}

/// Directions (polynomials in time) in `frame`, radians.
pub(super) const fn direction<'a>(name: &'a str, frame: &'a str) -> Col<'a> {
    col(name, T::TpDouble, Shape::Var(2))
        .units(RAD2)
        .measure("direction", frame)
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
        scalar("ANTENNA1", T::TpInt),
        scalar("ANTENNA2", T::TpInt),
        scalar("ARRAY_ID", T::TpInt),
        scalar("DATA_DESC_ID", T::TpInt),
        scalar("EXPOSURE", T::TpDouble).units(S),
        scalar("FEED1", T::TpInt),
        scalar("FEED2", T::TpInt),
        scalar("FIELD_ID", T::TpInt),
        scalar("FLAG_ROW", T::TpBool),
        scalar("INTERVAL", T::TpDouble).units(S),
        scalar("OBSERVATION_ID", T::TpInt),
        scalar("PROCESSOR_ID", T::TpInt),
        scalar("SCAN_NUMBER", T::TpInt),
        scalar("STATE_ID", T::TpInt),
        epoch("TIME"),
        epoch("TIME_CENTROID"),
    ]
}

/// The main table's per-row columns that change only between runs of rows
/// (a scan, a window): in an incremental storage manager, which stores a
/// value once per run, as CASA's simulator stores them.
pub(super) const INCREMENTAL: &[&str] = &[
    "ARRAY_ID",
    "EXPOSURE",
    "FEED1",
    "FEED2",
    "FIELD_ID",
    "INTERVAL",
    "OBSERVATION_ID",
    "PROCESSOR_ID",
    "SCAN_NUMBER",
    "STATE_ID",
    "TIME",
    "TIME_CENTROID",
];

pub(super) fn antenna() -> Vec<Col<'static>> {
    vec![
        position("OFFSET"),
        position("POSITION"),
        scalar("TYPE", T::TpString),
        scalar("DISH_DIAMETER", T::TpDouble).units(&["m"]),
        scalar("FLAG_ROW", T::TpBool),
        scalar("MOUNT", T::TpString),
        scalar("NAME", T::TpString),
        scalar("STATION", T::TpString),
    ]
}

pub(super) fn data_description() -> Vec<Col<'static>> {
    vec![
        scalar("FLAG_ROW", T::TpBool),
        scalar("POLARIZATION_ID", T::TpInt),
        scalar("SPECTRAL_WINDOW_ID", T::TpInt),
    ]
}

pub(super) fn feed() -> Vec<Col<'static>> {
    vec![
        position("POSITION"),
        direction("BEAM_OFFSET", "J2000"),
        col("POLARIZATION_TYPE", T::TpString, Shape::Var(1)),
        col("POL_RESPONSE", T::TpComplex, Shape::Var(2)),
        col("RECEPTOR_ANGLE", T::TpDouble, Shape::Var(1)).units(&["rad"]),
        scalar("ANTENNA_ID", T::TpInt),
        scalar("BEAM_ID", T::TpInt),
        scalar("FEED_ID", T::TpInt),
        scalar("INTERVAL", T::TpDouble).units(S),
        scalar("NUM_RECEPTORS", T::TpInt),
        scalar("SPECTRAL_WINDOW_ID", T::TpInt),
        epoch("TIME"),
    ]
}

pub(super) fn field() -> Vec<Col<'static>> {
    vec![
        direction("DELAY_DIR", "ICRS"),
        direction("PHASE_DIR", "ICRS"),
        direction("REFERENCE_DIR", "ICRS"),
        scalar("CODE", T::TpString),
        scalar("FLAG_ROW", T::TpBool),
        scalar("NAME", T::TpString),
        scalar("NUM_POLY", T::TpInt),
        scalar("SOURCE_ID", T::TpInt),
        epoch("TIME"),
    ]
}

pub(super) fn source() -> Vec<Col<'static>> {
    vec![
        col("DIRECTION", T::TpDouble, Shape::Fixed(&[2]))
            .units(RAD2)
            .measure("direction", "ICRS"),
        col("PROPER_MOTION", T::TpDouble, Shape::Fixed(&[2])).units(&["rad/s"]),
        scalar("CALIBRATION_GROUP", T::TpInt),
        scalar("CODE", T::TpString),
        scalar("INTERVAL", T::TpDouble).units(S),
        scalar("NAME", T::TpString),
        scalar("NUM_LINES", T::TpInt),
        scalar("SOURCE_ID", T::TpInt),
        scalar("SPECTRAL_WINDOW_ID", T::TpInt),
        epoch("TIME"),
    ]
}

pub(super) fn flag_cmd() -> Vec<Col<'static>> {
    vec![
        scalar("APPLIED", T::TpBool),
        scalar("COMMAND", T::TpString),
        scalar("INTERVAL", T::TpDouble).units(S),
        scalar("LEVEL", T::TpInt),
        scalar("REASON", T::TpString),
        scalar("SEVERITY", T::TpInt),
        epoch("TIME"),
        scalar("TYPE", T::TpString),
    ]
}

pub(super) fn history() -> Vec<Col<'static>> {
    vec![
        col("APP_PARAMS", T::TpString, Shape::Var(1)),
        col("CLI_COMMAND", T::TpString, Shape::Var(1)),
        scalar("APPLICATION", T::TpString),
        scalar("MESSAGE", T::TpString),
        scalar("OBJECT_ID", T::TpInt),
        scalar("OBSERVATION_ID", T::TpInt),
        scalar("ORIGIN", T::TpString),
        scalar("PRIORITY", T::TpString),
        epoch("TIME"),
    ]
}

pub(super) fn observation() -> Vec<Col<'static>> {
    vec![
        col("TIME_RANGE", T::TpDouble, Shape::Fixed(&[2]))
            .units(S)
            .measure("epoch", "UTC"),
        col("LOG", T::TpString, Shape::Var(1)),
        col("SCHEDULE", T::TpString, Shape::Var(1)),
        scalar("FLAG_ROW", T::TpBool),
        scalar("OBSERVER", T::TpString),
        scalar("PROJECT", T::TpString),
        epoch("RELEASE_DATE"),
        scalar("SCHEDULE_TYPE", T::TpString),
        scalar("TELESCOPE_NAME", T::TpString),
        col("TELESCOPE_LOCATION", T::TpDouble, Shape::Fixed(&[3])).units(M3),
    ]
}

pub(super) fn pointing() -> Vec<Col<'static>> {
    vec![
        direction("DIRECTION", "ICRS"),
        scalar("ANTENNA_ID", T::TpInt),
        scalar("INTERVAL", T::TpDouble).units(S),
        scalar("NAME", T::TpString),
        scalar("NUM_POLY", T::TpInt),
        direction("TARGET", "ICRS"),
        epoch("TIME"),
        epoch("TIME_ORIGIN"),
        scalar("TRACKING", T::TpBool),
    ]
}

pub(super) fn polarization() -> Vec<Col<'static>> {
    vec![
        col("CORR_TYPE", T::TpInt, Shape::Var(1)),
        col("CORR_PRODUCT", T::TpInt, Shape::Var(2)),
        scalar("FLAG_ROW", T::TpBool),
        scalar("NUM_CORR", T::TpInt),
    ]
}

pub(super) fn processor() -> Vec<Col<'static>> {
    vec![
        scalar("FLAG_ROW", T::TpBool),
        scalar("MODE_ID", T::TpInt),
        scalar("TYPE", T::TpString),
        scalar("TYPE_ID", T::TpInt),
        scalar("SUB_TYPE", T::TpString),
    ]
}

pub(super) fn spectral_window() -> Vec<Col<'static>> {
    vec![
        scalar("MEAS_FREQ_REF", T::TpInt),
        col("CHAN_FREQ", T::TpDouble, Shape::Var(1))
            .units(HZ)
            .measure("frequency", "TOPO"),
        scalar("REF_FREQUENCY", T::TpDouble)
            .units(HZ)
            .measure("frequency", "TOPO"),
        col("CHAN_WIDTH", T::TpDouble, Shape::Var(1)).units(HZ),
        col("EFFECTIVE_BW", T::TpDouble, Shape::Var(1)).units(HZ),
        col("RESOLUTION", T::TpDouble, Shape::Var(1)).units(HZ),
        scalar("FLAG_ROW", T::TpBool),
        scalar("FREQ_GROUP", T::TpInt),
        scalar("FREQ_GROUP_NAME", T::TpString),
        scalar("IF_CONV_CHAIN", T::TpInt),
        scalar("NAME", T::TpString),
        scalar("NET_SIDEBAND", T::TpInt),
        scalar("NUM_CHAN", T::TpInt),
        scalar("TOTAL_BANDWIDTH", T::TpDouble).units(HZ),
    ]
}

pub(super) fn state() -> Vec<Col<'static>> {
    vec![
        scalar("CAL", T::TpDouble).units(&["K"]),
        scalar("FLAG_ROW", T::TpBool),
        scalar("LOAD", T::TpDouble).units(&["K"]),
        scalar("OBS_MODE", T::TpString),
        scalar("REF", T::TpBool),
        scalar("SIG", T::TpBool),
        scalar("SUB_SCAN", T::TpInt),
    ]
}
