//! Writing one subband file in the DSA-110 correlator's UVH5 layout.

use std::path::Path;

use hdf5::types::{FixedAscii, VarLenAscii};
use ndarray::{Array1, Array2, Array4};
use num_complex::Complex32;

use super::sky::Model;
use super::{channel_freq_hz, SimGroup};
use crate::telescope;

/// HDF5 compound {r, i} of two float32, as the correlator stores complex64.
#[derive(hdf5::H5Type, Clone, Copy, Default)]
#[repr(C)]
struct CorrComplex {
    r: f32,
    i: f32,
}

fn ascii(s: &str) -> VarLenAscii {
    VarLenAscii::from_ascii(s).expect("ASCII header string")
}

fn scalar<T: hdf5::H5Type>(g: &hdf5::Group, name: &str, v: T) -> hdf5::Result<()> {
    g.new_dataset::<T>().create(name)?.write_scalar(&v)
}

fn array1<T: hdf5::H5Type>(g: &hdf5::Group, name: &str, v: Vec<T>) -> hdf5::Result<()> {
    g.new_dataset_builder().with_data(&Array1::from(v)).create(name)?;
    Ok(())
}

pub(super) fn write_subband(
    path: &Path,
    group: &SimGroup,
    model: &Model,
    sb: usize,
    vis: &[Complex32],
) -> hdf5::Result<()> {
    let cfg = &group.config;
    let n_chan = cfg.chans_per_subband;
    let n_pol = 2;
    let n_bls = model.baselines.len();
    let n_blts = model.n_rows();
    let n_ants_tel = model.antenna_xyz_m.len();

    let file = hdf5::File::create(path)?;
    let h = file.create_group("Header")?;
    scalar(&h, "latitude", telescope::ARRAY_LATITUDE_DEG)?;
    scalar(&h, "longitude", telescope::ARRAY_LONGITUDE_DEG)?;
    scalar(&h, "altitude", telescope::ARRAY_ALTITUDE_M)?;
    scalar(&h, "telescope_name", ascii("OVRO_MMA"))?;
    scalar(&h, "instrument", ascii("DSA"))?;
    scalar(&h, "object_name", ascii("search"))?;
    scalar(&h, "history", ascii("written by dsa110-convert simulate"))?;
    scalar(&h, "phase_type", ascii("drift"))?;
    scalar(&h, "version", ascii("1.0"))?;
    scalar(&h, "phase_center_app_dec", cfg.pointing_dec_rad)?;
    scalar(&h, "Nants_data", cfg.n_ants as i64)?;
    scalar(&h, "Nants_telescope", n_ants_tel as i64)?;
    scalar(&h, "Nbls", n_bls as i64)?;
    scalar(&h, "Nblts", n_blts as i64)?;
    scalar(&h, "Nfreqs", n_chan as i64)?;
    scalar(&h, "Npols", n_pol as i64)?;
    scalar(&h, "Ntimes", cfg.n_times as i64)?;
    scalar(&h, "Nspws", 1i64)?;
    scalar(&h, "channel_width", telescope::CHANNEL_WIDTH_HZ)?;
    array1(&h, "antenna_diameters", vec![telescope::DISH_DIAMETER_M; n_ants_tel])?;
    let rows = || (0..cfg.n_times).flat_map(|_| model.baselines.iter());
    array1(&h, "ant_1_array", rows().map(|&(a, _)| a as i64).collect())?;
    array1(&h, "ant_2_array", rows().map(|&(_, b)| b as i64).collect())?;
    let names: Vec<FixedAscii<4>> = (1..=n_ants_tel)
        .map(|n| FixedAscii::from_ascii(n.to_string().as_bytes()).expect("short ASCII name"))
        .collect();
    array1(&h, "antenna_names", names)?;
    array1(&h, "antenna_numbers", (0..n_ants_tel as i64).collect())?;
    let uvw = Array2::from_shape_fn((n_blts, 3), |(r, k)| model.uvw_m[r][k] as f32);
    h.new_dataset_builder().with_data(&uvw).create("uvw_array")?;
    array1(
        &h,
        "time_array",
        group.time_jd.iter().flat_map(|&t| std::iter::repeat_n(t, n_bls)).collect(),
    )?;
    array1(&h, "integration_time", vec![telescope::INTEGRATION_TIME_S; n_blts])?;
    let freqs = Array2::from_shape_fn((1, n_chan), |(_, c)| channel_freq_hz(sb, c, n_chan));
    h.new_dataset_builder().with_data(&freqs).create("freq_array")?;
    array1(&h, "spw_array", vec![0i64])?;
    array1(&h, "polarization_array", vec![-5i64, -6])?;
    let pos = Array2::from_shape_fn((n_ants_tel, 3), |(a, k)| model.antenna_xyz_m[a][k]);
    h.new_dataset_builder().with_data(&pos).create("antenna_positions")?;
    let extra = h.create_group("extra_keywords")?;
    scalar(&extra, "phase_center_dec", cfg.pointing_dec_rad)?;
    scalar(&extra, "ha_phase_center", 0.0f64)?;
    scalar(&extra, "phase_center_epoch", ascii("HADEC"))?;

    let d = file.create_group("Data")?;
    let shape = (n_blts, 1, n_chan, n_pol);
    let chunk = (n_bls.min(n_blts).max(1), 1, n_chan, n_pol);
    let visdata = Array4::from_shape_fn(shape, |(r, _, c, p)| {
        let v = vis[(r * n_chan + c) * n_pol + p];
        CorrComplex { r: v.re, i: v.im }
    });
    let flags = Array4::from_elem(shape, false);
    let nsamples = Array4::from_elem(shape, 1.0f32);
    macro_rules! chunked {
        ($name:expr, $data:expr) => {{
            let mut b = d.new_dataset_builder().chunk(chunk);
            if let Some(level) = cfg.gzip_level {
                b = b.deflate(level);
            }
            b.with_data(&$data).create($name)?;
        }};
    }
    chunked!("visdata", visdata);
    chunked!("flags", flags);
    chunked!("nsamples", nsamples);
    file.flush()?;
    Ok(())
}
