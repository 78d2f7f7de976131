//! Filling the MS subtables from an [`MsSpec`].

use std::path::Path;

use num_complex::Complex32;
use rubbl_casatables::{Array, Table, TableCreateMode};

use super::convention::casa_pol;
use super::schema::{self, Col};
use super::{casacore, MsError, MsSpec};

/// A subtable `name` with `cols`, `rows` rows, filled by `fill`, linked
/// from the main table.
fn subtable(
    main: &mut Table,
    dir: &Path,
    name: &str,
    cols: &[Col],
    rows: usize,
    fill: impl FnOnce(&mut Table) -> Result<(), MsError>,
) -> Result<(), MsError> {
    let desc = schema::describe(name, cols)?;
    let mut t = Table::new(dir.join(name), desc, rows, TableCreateMode::New).map_err(casacore)?;
    fill(&mut t)?;
    main.put_table_keyword(name, t).map_err(casacore)
}

fn put<T: rubbl_casatables::CasaDataType>(
    t: &mut Table,
    col: &str,
    row: usize,
    v: &T,
) -> Result<(), MsError> {
    t.put_cell(col, row as u64, v).map_err(casacore)
}

/// Every subtable of the MS.
pub(super) fn write_all(
    main: &mut Table,
    dir: &Path,
    spec: &MsSpec,
    pol_order: &[usize],
) -> Result<(), MsError> {
    let n_windows = spec.window_names.len();
    let n_ant = spec.antennas.len();
    let unique_diameter = spec
        .antennas
        .iter()
        .filter(|a| !a.name.is_empty())
        .map(|a| a.diameter_m)
        .fold(None, |acc: Option<Option<f64>>, d| match acc {
            None => Some(Some(d)),
            Some(Some(x)) if x == d => Some(Some(x)),
            _ => Some(None),
        })
        .flatten();
    subtable(main, dir, "ANTENNA", &schema::antenna(), n_ant, |t| {
        for (i, a) in spec.antennas.iter().enumerate() {
            put(t, "NAME", i, &a.name)?;
            put(t, "STATION", i, &a.station)?;
            put(t, "TYPE", i, &"GROUND-BASED".to_string())?;
            put(t, "MOUNT", i, &"ALT-AZ".to_string())?;
            put(t, "POSITION", i, &a.position_itrf_m.to_vec())?;
            put(t, "OFFSET", i, &vec![0.0f64; 3])?;
            put(
                t,
                "DISH_DIAMETER",
                i,
                &unique_diameter.unwrap_or(a.diameter_m),
            )?;
            put(t, "FLAG_ROW", i, &a.name.is_empty())?;
        }
        Ok(())
    })?;
    subtable(main, dir, "FEED", &schema::feed(), n_ant, |t| {
        // The files do not say which way the X dipoles point; pyuvdata
        // reads receptor angles as that orientation unless told it is
        // unknown, and would then call XX "nn" or "ee".
        t.put_keyword("pyuvdata_has_feed", &false)
            .map_err(casacore)?;
        let linear = spec.polarizations.iter().any(|&p| p <= -5);
        let types: Vec<String> = if linear {
            vec!["X".into(), "Y".into()]
        } else {
            vec!["R".into(), "L".into()]
        };
        let response = Array::from_shape_fn((2, 2), |(i, j)| {
            Complex32::new(if i == j { 1.0 } else { 0.0 }, 0.0)
        });
        for i in 0..n_ant {
            put(t, "ANTENNA_ID", i, &(i as i32))?;
            put(t, "BEAM_ID", i, &-1i32)?;
            put(t, "FEED_ID", i, &0i32)?;
            put(t, "SPECTRAL_WINDOW_ID", i, &-1i32)?;
            put(t, "NUM_RECEPTORS", i, &2i32)?;
            put(t, "BEAM_OFFSET", i, &Array::<f64, _>::zeros((2, 2)))?;
            put(t, "POLARIZATION_TYPE", i, &types)?;
            put(t, "POL_RESPONSE", i, &response)?;
            put(t, "POSITION", i, &vec![0.0f64; 3])?;
            put(
                t,
                "RECEPTOR_ANGLE",
                i,
                &vec![0.0f64, std::f64::consts::FRAC_PI_2],
            )?;
        }
        Ok(())
    })?;
    subtable(
        main,
        dir,
        "FIELD",
        &schema::field(),
        spec.fields.len(),
        |t| {
            for (i, f) in spec.fields.iter().enumerate() {
                let dir =
                    Array::from_shape_vec((1, 2), vec![f.phase_dir.ra_rad, f.phase_dir.dec_rad])
                        .expect("1x2");
                put(t, "NAME", i, &f.name)?;
                put(t, "CODE", i, &String::new())?;
                put(t, "TIME", i, &f.time_mjd_s)?;
                put(t, "NUM_POLY", i, &0i32)?;
                put(t, "SOURCE_ID", i, &(i as i32))?;
                for col in ["DELAY_DIR", "PHASE_DIR", "REFERENCE_DIR"] {
                    put(t, col, i, &dir)?;
                }
            }
            Ok(())
        },
    )?;
    subtable(
        main,
        dir,
        "SOURCE",
        &schema::source(),
        spec.fields.len(),
        |t| {
            for (i, f) in spec.fields.iter().enumerate() {
                put(t, "SOURCE_ID", i, &(i as i32))?;
                put(t, "NAME", i, &f.name)?;
                put(t, "CODE", i, &String::new())?;
                put(t, "TIME", i, &f.time_mjd_s)?;
                put(t, "INTERVAL", i, &0.0f64)?;
                put(t, "SPECTRAL_WINDOW_ID", i, &-1i32)?;
                put(
                    t,
                    "DIRECTION",
                    i,
                    &vec![f.phase_dir.ra_rad, f.phase_dir.dec_rad],
                )?;
                put(t, "PROPER_MOTION", i, &vec![0.0f64; 2])?;
            }
            Ok(())
        },
    )?;
    let width = spec.freq_hz.len() / n_windows.max(1);
    subtable(
        main,
        dir,
        "SPECTRAL_WINDOW",
        &schema::spectral_window(),
        n_windows,
        |t| {
            for k in 0..n_windows {
                let chans = k * width..(k + 1) * width;
                let freq = spec.freq_hz[chans.clone()].to_vec();
                let widths = spec.channel_width_hz[chans].to_vec();
                let total: f64 = widths.iter().sum();
                put(t, "NUM_CHAN", k, &(width as i32))?;
                put(t, "NAME", k, &spec.window_names[k])?;
                put(t, "REF_FREQUENCY", k, &freq[0])?;
                put(t, "CHAN_FREQ", k, &freq)?;
                put(t, "CHAN_WIDTH", k, &widths)?;
                put(t, "EFFECTIVE_BW", k, &widths)?;
                put(t, "RESOLUTION", k, &widths)?;
                put(t, "MEAS_FREQ_REF", k, &5i32)?;
                put(t, "TOTAL_BANDWIDTH", k, &total)?;
                put(t, "NET_SIDEBAND", k, &1i32)?;
                put(t, "FREQ_GROUP_NAME", k, &String::new())?;
            }
            Ok(())
        },
    )?;
    subtable(main, dir, "POLARIZATION", &schema::polarization(), 1, |t| {
        let pols: Vec<(i32, [i32; 2])> = pol_order
            .iter()
            .map(|&i| casa_pol(spec.polarizations[i]))
            .collect::<Result<_, _>>()?;
        let types: Vec<i32> = pols.iter().map(|p| p.0).collect();
        let products = Array::from_shape_fn((pols.len(), 2), |(i, k)| pols[i].1[k]);
        put(t, "NUM_CORR", 0, &(pols.len() as i32))?;
        put(t, "CORR_TYPE", 0, &types)?;
        put(t, "CORR_PRODUCT", 0, &products)
    })?;
    subtable(
        main,
        dir,
        "DATA_DESCRIPTION",
        &schema::data_description(),
        n_windows,
        |t| {
            for k in 0..n_windows {
                put(t, "SPECTRAL_WINDOW_ID", k, &(k as i32))?;
                put(t, "POLARIZATION_ID", k, &0i32)?;
                put(t, "FLAG_ROW", k, &false)?;
            }
            Ok(())
        },
    )?;
    subtable(main, dir, "OBSERVATION", &schema::observation(), 1, |t| {
        put(t, "TELESCOPE_NAME", 0, &spec.telescope_name)?;
        put(
            t,
            "TELESCOPE_LOCATION",
            0,
            &spec.telescope_location_itrf_m.to_vec(),
        )?;
        put(
            t,
            "TIME_RANGE",
            0,
            &vec![spec.time_range_mjd_s.0, spec.time_range_mjd_s.1],
        )?;
        put(t, "OBSERVER", 0, &spec.observer)?;
        put(t, "PROJECT", 0, &spec.project)?;
        put(t, "SCHEDULE_TYPE", 0, &String::new())
    })?;
    subtable(
        main,
        dir,
        "HISTORY",
        &schema::history(),
        spec.history.len(),
        |t| {
            for (i, line) in spec.history.iter().enumerate() {
                put(t, "TIME", i, &spec.time_range_mjd_s.0)?;
                put(t, "MESSAGE", i, line)?;
                put(t, "APPLICATION", i, &"dsa110-convert".to_string())?;
                put(t, "ORIGIN", i, &"dsa110-convert".to_string())?;
                put(t, "PRIORITY", i, &"NORMAL".to_string())?;
                put(t, "CLI_COMMAND", i, &vec![line.clone()])?;
                put(t, "APP_PARAMS", i, &vec![String::new()])?;
            }
            Ok(())
        },
    )?;
    subtable(main, dir, "PROCESSOR", &schema::processor(), 1, |t| {
        put(t, "TYPE", 0, &"CORRELATOR".to_string())?;
        put(t, "SUB_TYPE", 0, &"DSA-110".to_string())?;
        put(t, "TYPE_ID", 0, &-1i32)?;
        put(t, "MODE_ID", 0, &-1i32)
    })?;
    subtable(main, dir, "STATE", &schema::state(), 0, |_| Ok(()))?;
    subtable(main, dir, "POINTING", &schema::pointing(), 0, |_| Ok(()))?;
    subtable(main, dir, "FLAG_CMD", &schema::flag_cmd(), 0, |_| Ok(()))
}
