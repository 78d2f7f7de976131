//! Writing one subband file as the DSA-110 correlator's writer (h5py) does:
//! the header's fixed-size items first (contiguous), then the per-row
//! datasets in one of two layouts ([`FileLayout`]).

use std::path::Path;

use hdf5::types::{FixedAscii, TypeDescriptor, VarLenUnicode};

use super::rows::{self, RowArrays};
use super::sky::{Model, SubbandData};
use super::SimGroup;
use crate::telescope;
use crate::telescope::{channel_freq_hz, channel_width_hz};

fn scalar<T: hdf5::H5Type>(g: &hdf5::Group, name: &str, v: T) -> hdf5::Result<()> {
    g.new_dataset::<T>().create(name)?.write_scalar(&v)
}

/// A scalar string of exactly `s.len()` bytes, null-padded ASCII: what h5py
/// writes for `np.bytes_(s)` (numpy dtype `S<len>`).
fn bytes_scalar(g: &hdf5::Group, name: &str, s: &str) -> hdf5::Result<()> {
    let ds = g
        .new_dataset_builder()
        .empty_as(TypeDescriptor::FixedAscii(s.len().max(1)))
        .create(name)?;
    let mut buf = s.as_bytes().to_vec();
    buf.resize(s.len().max(1), 0);
    hdf5::sync::sync(|| {
        // SAFETY: the memory type is the dataset's own fixed-length string
        // type of buf.len() bytes, and the dataspace is a scalar.
        let status = unsafe {
            let ftype = hdf5_sys::h5d::H5Dget_type(ds.id());
            let status = hdf5_sys::h5d::H5Dwrite(
                ds.id(),
                ftype,
                hdf5_sys::h5s::H5S_ALL,
                hdf5_sys::h5s::H5S_ALL,
                hdf5_sys::h5p::H5P_DEFAULT,
                buf.as_ptr().cast(),
            );
            hdf5_sys::h5t::H5Tclose(ftype);
            status
        };
        if status < 0 {
            Err(hdf5::Error::from(format!("cannot write string {name}")))
        } else {
            Ok(())
        }
    })
}

/// A contiguous dataset of `shape` holding `v` (row-major).
pub(super) fn array<T: hdf5::H5Type>(
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

/// The delays (integer ns, XX and YY per antenna with data) the correlator
/// says it applied: made-up but deterministic values.
fn applied_delays_ns(antennas: &[u32]) -> String {
    antennas
        .iter()
        .flat_map(|&a| [(a * 37) % 64, (a * 37 + 11) % 64])
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn write_subband(
    path: &Path,
    group: &SimGroup,
    model: &Model,
    sb: usize,
    data: &SubbandData,
) -> hdf5::Result<()> {
    let cfg = &group.config;
    let n_chan = cfg.chans_per_subband;
    let n_pol = 2;
    let n_bls = model.baselines.len();
    let n_blts = model.n_rows();
    let n_ants_tel = model.antenna_xyz_m.len();

    let file = hdf5::File::create(path)?;
    let h = file.create_group("Header")?;
    let d = file.create_group("Data")?;
    // The fixed-size items, in the order the correlator writes them.
    scalar(&h, "latitude", telescope::ARRAY_LATITUDE_DEG)?;
    scalar(&h, "longitude", telescope::ARRAY_LONGITUDE_DEG)?;
    scalar(&h, "altitude", telescope::ARRAY_ALTITUDE_M)?;
    bytes_scalar(&h, "telescope_name", "OVRO_MMA")?;
    bytes_scalar(&h, "instrument", "DSA")?;
    bytes_scalar(&h, "object_name", "search")?;
    bytes_scalar(&h, "history", "written by dsa110-convert simulate")?;
    bytes_scalar(&h, "phase_type", "drift")?;
    scalar(&h, "phase_center_app_dec", cfg.pointing_dec_rad)?;
    scalar(&h, "Nants_data", cfg.n_ants as i64)?;
    scalar(&h, "Nants_telescope", n_ants_tel as i64)?;
    array1(
        &h,
        "antenna_diameters",
        vec![telescope::DISH_DIAMETER_M; n_ants_tel],
    )?;
    let names: Vec<FixedAscii<4>> = (1..=n_ants_tel)
        .map(|n| FixedAscii::from_ascii(n.to_string().as_bytes()).expect("short ASCII name"))
        .collect();
    array1(&h, "antenna_names", names)?;
    array1(&h, "antenna_numbers", (0..n_ants_tel as i64).collect())?;
    scalar(&h, "Nbls", n_bls as i64)?;
    scalar(&h, "Nblts", n_blts as i64)?;
    scalar(&h, "Nfreqs", n_chan as i64)?;
    scalar(&h, "Npols", n_pol as i64)?;
    scalar(&h, "Ntimes", cfg.n_times as i64)?;
    scalar(&h, "Nspws", 1i64)?;
    let freqs: Vec<f64> = (0..n_chan)
        .map(|c| channel_freq_hz(sb, c, n_chan))
        .collect();
    array(&h, "freq_array", &[1, n_chan], &freqs)?;
    scalar(&h, "channel_width", channel_width_hz(n_chan))?;
    array1(&h, "spw_array", vec![1i64])?;
    array1(&h, "polarization_array", vec![-5i64, -6])?;
    let pos: Vec<f64> = model.antenna_xyz_m.iter().flatten().copied().collect();
    array(&h, "antenna_positions", &[n_ants_tel, 3], &pos)?;
    let extra = h.create_group("extra_keywords")?;
    scalar(&extra, "phase_center_dec", cfg.pointing_dec_rad)?;
    scalar(&extra, "ha_phase_center", 0.0f64)?;
    scalar(
        &extra,
        "phase_center_epoch",
        "HADEC".parse::<VarLenUnicode>().expect("UTF-8"),
    )?;
    bytes_scalar(
        &extra,
        "fs_table",
        &format!(
            "/home/ubuntu/dsa110/fringestopping_table_dec{:.4}deg_{}ant.npz",
            cfg.pointing_dec_rad.to_degrees(),
            cfg.n_ants
        ),
    )?;
    bytes_scalar(
        &extra,
        "applied_delays_ns",
        &applied_delays_ns(&model.antennas),
    )?;

    let uvw: Vec<f32> = model
        .uvw_m
        .iter()
        .flat_map(|u| u.map(|x| x as f32))
        .collect();
    let per_row = || (0..cfg.n_times).flat_map(|_| model.baselines.iter());
    let arrays = RowArrays {
        n_bls,
        n_chan,
        n_pol,
        time_jd: group
            .time_jd
            .iter()
            .flat_map(|&t| std::iter::repeat_n(t, n_bls))
            .collect(),
        integration_time_s: vec![telescope::INTEGRATION_TIME_S; n_blts],
        uvw_m: uvw,
        ant_1: per_row().map(|&(a, _)| a as i64).collect(),
        ant_2: per_row().map(|&(_, b)| b as i64).collect(),
        vis: &data.vis,
        nsamples: &data.nsamples,
    };
    rows::write(&h, &d, &arrays, cfg.layout, cfg.gzip_level)?;
    file.flush()?;
    Ok(())
}
