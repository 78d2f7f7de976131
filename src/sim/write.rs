//! Writing one subband file in the DSA-110 correlator's UVH5 layout.

use std::path::Path;

use hdf5::types::{FixedAscii, VarLenAscii};
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

/// A dataset of `shape` holding `v` (row-major).
fn array<T: hdf5::H5Type>(
    g: &hdf5::Group,
    name: &str,
    shape: &[usize],
    v: &[T],
) -> hdf5::Result<()> {
    g.new_dataset::<T>().shape(shape).create(name)?.write_raw(v)
}

fn array1<T: hdf5::H5Type>(g: &hdf5::Group, name: &str, v: Vec<T>) -> hdf5::Result<()> {
    array(g, name, &[v.len()], &v)
}

fn chunked<T: hdf5::H5Type>(
    g: &hdf5::Group,
    name: &str,
    shape: [usize; 4],
    chunk: [usize; 4],
    gzip_level: Option<u8>,
    v: &[T],
) -> hdf5::Result<()> {
    let mut b = g.new_dataset::<T>().chunk(chunk);
    if let Some(level) = gzip_level {
        b = b.deflate(level);
    }
    b.shape(shape).create(name)?.write_raw(v)
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
    array1(
        &h,
        "antenna_diameters",
        vec![telescope::DISH_DIAMETER_M; n_ants_tel],
    )?;
    let rows = || (0..cfg.n_times).flat_map(|_| model.baselines.iter());
    array1(&h, "ant_1_array", rows().map(|&(a, _)| a as i64).collect())?;
    array1(&h, "ant_2_array", rows().map(|&(_, b)| b as i64).collect())?;
    let names: Vec<FixedAscii<4>> = (1..=n_ants_tel)
        .map(|n| FixedAscii::from_ascii(n.to_string().as_bytes()).expect("short ASCII name"))
        .collect();
    array1(&h, "antenna_names", names)?;
    array1(&h, "antenna_numbers", (0..n_ants_tel as i64).collect())?;
    let uvw: Vec<f32> = model
        .uvw_m
        .iter()
        .flat_map(|u| u.map(|x| x as f32))
        .collect();
    array(&h, "uvw_array", &[n_blts, 3], &uvw)?;
    array1(
        &h,
        "time_array",
        group
            .time_jd
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, n_bls))
            .collect(),
    )?;
    array1(
        &h,
        "integration_time",
        vec![telescope::INTEGRATION_TIME_S; n_blts],
    )?;
    let freqs: Vec<f64> = (0..n_chan)
        .map(|c| channel_freq_hz(sb, c, n_chan))
        .collect();
    array(&h, "freq_array", &[1, n_chan], &freqs)?;
    array1(&h, "spw_array", vec![0i64])?;
    array1(&h, "polarization_array", vec![-5i64, -6])?;
    let pos: Vec<f64> = model.antenna_xyz_m.iter().flatten().copied().collect();
    array(&h, "antenna_positions", &[n_ants_tel, 3], &pos)?;
    let extra = h.create_group("extra_keywords")?;
    scalar(&extra, "phase_center_dec", cfg.pointing_dec_rad)?;
    scalar(&extra, "ha_phase_center", 0.0f64)?;
    scalar(&extra, "phase_center_epoch", ascii("HADEC"))?;

    let d = file.create_group("Data")?;
    let shape = [n_blts, 1, n_chan, n_pol];
    // One integration per chunk, as the correlator writes.
    let chunk = [n_bls.min(n_blts).max(1), 1, n_chan, n_pol];
    let visdata: Vec<CorrComplex> = vis
        .iter()
        .map(|v| CorrComplex { r: v.re, i: v.im })
        .collect();
    chunked(&d, "visdata", shape, chunk, cfg.gzip_level, &visdata)?;
    chunked(
        &d,
        "flags",
        shape,
        chunk,
        cfg.gzip_level,
        &vec![false; vis.len()],
    )?;
    chunked(
        &d,
        "nsamples",
        shape,
        chunk,
        cfg.gzip_level,
        &vec![1.0f32; vis.len()],
    )?;
    file.flush()?;
    Ok(())
}
