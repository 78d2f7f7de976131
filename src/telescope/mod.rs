//! The DSA-110 array: station table, array reference position and the
//! instrument's fixed numbers.
//!
//! Station positions come from `data/dsa110/DSA110_Station_Coordinates.csv`
//! (geodetic WGS84 latitude/longitude in degrees, elevation in metres),
//! embedded in the binary. DSA-117 has no elevation in that table: it gets
//! the array altitude ([`ARRAY_ALTITUDE_M`]).

mod antennas;
mod band;

use crate::astro::Site;

pub use antennas::{ms_antennas, ms_telescope_name};
pub use band::{averaged_channels, channel_freq_hz, channel_width_hz, subband_of};

/// Array reference latitude, degrees (WGS84).
pub const ARRAY_LATITUDE_DEG: f64 = 37.2314;
/// Array reference longitude, degrees east (WGS84).
pub const ARRAY_LONGITUDE_DEG: f64 = -118.2817;
/// Array reference altitude, metres above the WGS84 ellipsoid.
pub const ARRAY_ALTITUDE_M: f64 = 1222.0;
/// Dish diameter, metres.
pub const DISH_DIAMETER_M: f64 = 4.65;
/// One integration: 96 correlator dumps of 0.134217728 s.
pub const INTEGRATION_TIME_S: f64 = 0.134217728 * 96.0;
/// Channel width after averaging 8 correlator channels, Hz.
pub const CHANNEL_WIDTH_HZ: f64 = 244_140.625;
/// Subbands (files) in one group.
pub const N_SUBBANDS: usize = 16;
/// Channels in one subband file.
pub const CHANNELS_PER_SUBBAND: usize = 48;
/// TELESCOPE_NAME of our Measurement Sets: the DSA-110 pipeline's name
/// (its PIPELINE_TELESCOPE_NAME). CASA does not know it unless a user adds
/// it to CASA's observatory table (see the README), and then refuses
/// rather than guess where the array is.
pub const MS_TELESCOPE_NAME: &str = "DSA_110";

const STATION_CSV: &str = include_str!("../../data/dsa110/DSA110_Station_Coordinates.csv");

/// One dish of the station table.
#[derive(Clone, Debug, PartialEq)]
pub struct Station {
    /// "DSA-001" .. "DSA-117".
    pub name: String,
    /// Station number, 1-based as in the name.
    pub number: u32,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub elevation_m: f64,
}

impl Station {
    /// Absolute ECEF (ITRF) position, metres.
    pub fn ecef_m(&self) -> [f64; 3] {
        Site::from_degrees(self.latitude_deg, self.longitude_deg, self.elevation_m).ecef_m()
    }
}

/// The array reference position (the origin of UVH5 `antenna_positions`).
pub fn array_site() -> Site {
    Site::from_degrees(ARRAY_LATITUDE_DEG, ARRAY_LONGITUDE_DEG, ARRAY_ALTITUDE_M)
}

/// All stations of the embedded table, in table order (DSA-001 first).
pub fn stations() -> Vec<Station> {
    STATION_CSV
        .lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line.split(',').map(str::trim).collect();
            let name = *cols.get(1)?;
            let number: u32 = name.strip_prefix("DSA-")?.parse().ok()?;
            let latitude_deg = cols.get(2)?.parse().ok()?;
            let longitude_deg = cols.get(3)?.parse().ok()?;
            let elevation_m = cols
                .get(4)
                .and_then(|s| s.parse().ok())
                .unwrap_or(ARRAY_ALTITUDE_M);
            Some(Station {
                name: name.to_string(),
                number,
                latitude_deg,
                longitude_deg,
                elevation_m,
            })
        })
        .collect()
}

/// Station of a UVH5 antenna name ("1".."117", or "DSA-001" style).
pub fn station_for_antenna_name<'a>(stations: &'a [Station], name: &str) -> Option<&'a Station> {
    let number: u32 = name
        .trim()
        .trim_start_matches("DSA-")
        .trim_start_matches("pad")
        .parse()
        .ok()?;
    stations.iter().find(|s| s.number == number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_117_stations_with_dsa117_at_array_altitude() {
        let s = stations();
        assert_eq!(s.len(), 117);
        assert_eq!(s[0].name, "DSA-001");
        assert_eq!(s[0].latitude_deg, 37.2333752);
        assert_eq!(s[116].name, "DSA-117");
        assert_eq!(s[116].elevation_m, ARRAY_ALTITUDE_M);
        assert_eq!(s[115].elevation_m, 1178.1);
    }

    #[test]
    fn antenna_names_map_to_stations() {
        let s = stations();
        assert_eq!(station_for_antenna_name(&s, "1").unwrap().name, "DSA-001");
        assert_eq!(station_for_antenna_name(&s, "117").unwrap().name, "DSA-117");
        assert!(station_for_antenna_name(&s, "118").is_none());
    }
}
