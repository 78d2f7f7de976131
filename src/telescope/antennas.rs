//! The MS's ANTENNA rows and TELESCOPE_NAME for a file's header: DSA-110
//! files take their positions from the station table, others keep theirs.

use super::{station_for_antenna_name, stations, DISH_DIAMETER_M, MS_TELESCOPE_NAME};
use crate::astro::Site;
use crate::ms::Antenna;
use crate::uvh5::{Header, PhaseCenter};

/// TELESCOPE_NAME: the user's, else [`MS_TELESCOPE_NAME`] for
/// DSA-110 files (their `OVRO_MMA` is CASA's name for another array, whose
/// entry in CASA's observatory table is 1188 m from the Earth's centre),
/// else the files' own name.
pub fn ms_telescope_name(header: &Header, user: Option<&str>) -> String {
    if let Some(name) = user {
        return name.to_string();
    }
    let dsa = matches!(header.phase_center, PhaseCenter::DsaMeridian { .. });
    if dsa || header.telescope_name.is_empty() {
        MS_TELESCOPE_NAME.into()
    } else {
        header.telescope_name.clone()
    }
}

/// Antennas of the MS and their ECEF offsets from the array position,
/// both indexed by antenna number (the MS uses the number as the ANTENNA
/// row; numbers missing from the file get empty, flagged rows).
///
/// DSA-110 files get their positions from the station table (the files'
/// own table is the correlator's and may be stale); other files keep theirs.
/// Headers are read with antenna numbers in 0..=65535 and one diameter per
/// antenna, if any ([`crate::uvh5::check`]).
pub fn ms_antennas(header: &Header, site: &Site) -> (Vec<Antenna>, Vec<[f64; 3]>) {
    let origin = site.ecef_m();
    let stations = stations();
    let dsa = matches!(header.phase_center, PhaseCenter::DsaMeridian { .. });
    let size = header
        .antenna_numbers
        .iter()
        .max()
        .map_or(0, |&n| n as usize + 1);
    let blank = Antenna {
        name: String::new(),
        station: String::new(),
        position_itrf_m: origin,
        diameter_m: 0.0,
    };
    let mut ms = vec![blank; size];
    let mut rel = vec![[0.0; 3]; size];
    for (i, (&number, name)) in header
        .antenna_numbers
        .iter()
        .zip(&header.antenna_names)
        .enumerate()
    {
        let station = dsa
            .then(|| station_for_antenna_name(&stations, name))
            .flatten();
        let offset = match station {
            Some(s) => {
                let p = s.ecef_m();
                [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]]
            }
            None => header.antenna_positions_m[i],
        };
        let diameter_m = match (dsa, &header.antenna_diameters_m) {
            (true, _) => DISH_DIAMETER_M,
            (false, Some(d)) => d.get(i).copied().unwrap_or(0.0),
            (false, None) => 0.0,
        };
        let n = number as usize;
        ms[n] = Antenna {
            name: name.clone(),
            station: station
                .map(|s| s.name.clone())
                .unwrap_or_else(|| name.clone()),
            position_itrf_m: [
                origin[0] + offset[0],
                origin[1] + offset[1],
                origin[2] + offset[2],
            ],
            diameter_m,
        };
        rel[n] = offset;
    }
    (ms, rel)
}
