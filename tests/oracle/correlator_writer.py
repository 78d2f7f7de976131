"""The DSA-110 correlator's UVH5 writer, in h5py, as an oracle for our simulator.

usage:
  correlator_writer.py guess_chunk JSON    h5py's automatic chunk shapes for
                                           JSON = [[shape, typesize], ...]
  correlator_writer.py rewrite SRC DST     write DST the way the correlator's
                                           writer does, from SRC's arrays
  correlator_writer.py describe FILE...    per dataset: shape, maxshape,
                                           chunks, storage, HDF5 type, filters
                                           (and the value of small ones)

`rewrite` follows the correlator's writer (dsa110-meridian-fs,
initialize_uvh5_file / update_uvh5_file): the header's fixed items assigned
with h5py (strings as np.bytes_, phase_center_epoch as a Python str, i.e.
variable-length UTF-8); every per-row dataset created empty, resizable
(maxshape None on axis 0) and chunked by h5py (chunks=True; nsamples given
only maxshape), then one integration appended at a time: resize, write the
new rows, in the writer's order (time_array, integration_time, uvw_array,
ant_1_array, ant_2_array, visdata, flags, nsamples), Nblts and Ntimes
updated after each. Only the values come from SRC; nothing of its layout.
"""
import json
import sys

import h5py
import numpy as np
from h5py._hl.filters import guess_chunk

# Header items the correlator writes, in its order, and how.
FIXED = [
    ("latitude", "float"), ("longitude", "float"), ("altitude", "float"),
    ("telescope_name", "bytes"), ("instrument", "bytes"), ("object_name", "bytes"),
    ("history", "bytes"), ("phase_type", "bytes"), ("phase_center_app_dec", "float"),
    ("Nants_data", "int"), ("Nants_telescope", "int"), ("antenna_diameters", "array"),
    ("antenna_names", "S4"), ("antenna_numbers", "array"), ("Nbls", "int"),
    ("Nblts", "zero"), ("Nfreqs", "int"), ("Npols", "int"), ("Ntimes", "zero"),
    ("Nspws", "int"), ("freq_array", "array"), ("channel_width", "float"),
    ("spw_array", "array"), ("polarization_array", "array"),
    ("antenna_positions", "array"),
]
EXTRA = [
    ("phase_center_dec", "float"), ("ha_phase_center", "float"),
    ("phase_center_epoch", "str"), ("fs_table", "bytes"), ("applied_delays_ns", "bytes"),
]
ROWS = {
    "Header/time_array": np.float64, "Header/integration_time": np.float64,
    "Header/uvw_array": np.float32, "Header/ant_1_array": np.int64,
    "Header/ant_2_array": np.int64, "Data/visdata": np.complex64,
    "Data/flags": np.bool_, "Data/nsamples": np.float32,
}


def assign(group, src, name, how):
    v = src[name]
    if how == "float":
        group[name] = float(v[()])
    elif how == "int":
        group[name] = int(v[()])
    elif how == "zero":
        group[name] = 0
    elif how == "bytes":
        group[name] = np.bytes_(v[()])
    elif how == "str":
        group[name] = v.asstr()[()]
    elif how == "S4":
        group.create_dataset(name, v.shape, dtype="S4", data=np.array(v[()], dtype="S4"))
    else:
        group[name] = v[()]


def rewrite(src_path, dst_path):
    with h5py.File(src_path, "r") as src, h5py.File(dst_path, "w") as f:
        sh, sd = src["Header"], src["Data"]
        known = {n for n, _ in FIXED} | {p.split("/")[1] for p in ROWS if p.startswith("Header")}
        assert set(sh.keys()) - {"extra_keywords"} == known, set(sh.keys()) ^ known
        assert set(sh["extra_keywords"].keys()) == {n for n, _ in EXTRA}
        assert set(sd.keys()) == {"visdata", "flags", "nsamples"}
        nbls, nfreq, npol = (int(sh[k][()]) for k in ("Nbls", "Nfreqs", "Npols"))
        vis = sd["visdata"]
        comp = {}
        if vis.compression is not None:
            comp = {"compression": vis.compression, "compression_opts": vis.compression_opts}
        header = f.create_group("Header")
        data = f.create_group("Data")
        for name, how in FIXED:
            assign(header, sh, name, how)
            if name == "antenna_diameters":
                for a in ("ant_1_array", "ant_2_array"):
                    header.create_dataset(a, (0,), maxshape=(None,), dtype=np.int64, chunks=True)
            if name == "Nspws":
                header.create_dataset("uvw_array", (0, 3), maxshape=(None, 3), dtype=np.float32,
                                      chunks=True)
                for a in ("time_array", "integration_time"):
                    header.create_dataset(a, (0,), maxshape=(None,), dtype=np.float64, chunks=True)
        extra = header.create_group("extra_keywords")
        for name, how in EXTRA:
            assign(extra, sh["extra_keywords"], name, how)
        cell = (1, nfreq, npol)
        data.create_dataset("visdata", (0,) + cell, maxshape=(None,) + cell, dtype=np.complex64,
                            chunks=True, **comp)
        data.create_dataset("flags", (0,) + cell, maxshape=(None,) + cell, dtype=np.bool_,
                            chunks=True, **comp)
        data.create_dataset("nsamples", (0,) + cell, maxshape=(None,) + cell, dtype=np.float32,
                            **comp)
        nblts = src["Header/time_array"].shape[0]
        values = {p: src[p][()].astype(t) for p, t in ROWS.items()}
        for r0 in range(0, nblts, nbls):
            r1 = min(r0 + nbls, nblts)
            for p in ROWS:
                d = f[p]
                d.resize(r1, axis=0)
                d[r0:r1, ...] = values[p][r0:r1]
            header["Nblts"][()] = r1
            header["Ntimes"][()] = r1 // nbls


def h5type(t):
    """The HDF5 type of a dataset, as a comparable description."""
    if isinstance(t, h5py.h5t.TypeStringID):
        size = "variable" if t.is_variable_str() else t.get_size()
        return {"class": "string", "size": size, "strpad": t.get_strpad(), "cset": t.get_cset()}
    if isinstance(t, h5py.h5t.TypeEnumID):
        members = [t.get_member_name(i).decode() for i in range(t.get_nmembers())]
        return {"class": "enum", "size": t.get_size(), "members": members,
                "base": t.get_super().dtype.str}
    if isinstance(t, h5py.h5t.TypeCompoundID):
        members = [[t.get_member_name(i).decode(), t.get_member_offset(i),
                    t.get_member_type(i).dtype.str] for i in range(t.get_nmembers())]
        return {"class": "compound", "size": t.get_size(), "members": members}
    return {"class": type(t).__name__, "dtype": t.dtype.str}


def jsonable(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [jsonable(x) for x in v.tolist()] if v.dtype.kind == "S" else v.tolist()
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v.item() if hasattr(v, "item") else v


def chunk_order(ds):
    """The chunks' logical offsets in the order they lie in the file, and
    how many runs of adjacent chunks they form."""
    chunks = [ds.id.get_chunk_info(i) for i in range(ds.id.get_num_chunks())]
    chunks.sort(key=lambda c: c.byte_offset)
    runs = sum(1 for a, b in zip(chunks, chunks[1:]) if a.byte_offset + a.size != b.byte_offset)
    return {"offsets": [list(c.chunk_offset) for c in chunks], "runs": runs + bool(chunks)}


def describe(path):
    out = {}
    layouts = {h5py.h5d.COMPACT: "compact", h5py.h5d.CONTIGUOUS: "contiguous",
               h5py.h5d.CHUNKED: "chunked"}

    def visit(name, obj):
        if not isinstance(obj, h5py.Dataset):
            return
        d = {
            "shape": list(obj.shape),
            "maxshape": list(obj.maxshape) if obj.maxshape is not None else None,
            "chunks": list(obj.chunks) if obj.chunks else None,
            "layout": layouts.get(obj.id.get_create_plist().get_layout(), "other"),
            "dtype": obj.dtype.str,
            "h5type": h5type(obj.id.get_type()),
            "compression": obj.compression,
            "compression_opts": obj.compression_opts,
            "shuffle": obj.shuffle,
        }
        if obj.chunks:
            d["chunk_order"] = chunk_order(obj)
        if obj.size <= 16 or obj.dtype.kind in "SO":
            d["value"] = jsonable(obj.asstr()[()] if obj.dtype.kind == "O" else obj[()])
        out[name] = d

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def main():
    mode = sys.argv[1]
    if mode == "guess_chunk":
        cases = json.loads(sys.argv[2])
        out = [list(guess_chunk(tuple(shape), None, typesize)) for shape, typesize in cases]
    elif mode == "rewrite":
        rewrite(sys.argv[2], sys.argv[3])
        out = {"written": sys.argv[3]}
    elif mode == "describe":
        out = [describe(p) for p in sys.argv[2:]]
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
