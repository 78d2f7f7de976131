"""Rewrite a UVH5 file with h5py the way the DSA-110 correlator writer lays
out its bytes: every per-row dataset created empty and resizable, chunked
by h5py, and one integration appended at a time (resize, then write).

usage: relayout.py SRC DST MODE
MODE: correlator   h5py's automatic chunks, no filter (the telescope's files)
      gzip-shuffle the same, with shuffle + gzip 4 (compressed archives)
      lzf          the same, with LZF (what pyuvdata writes for flags)
      odd          chunks that divide nothing evenly: (7,1,5,2) for the data
                   and (100,) / (100,3) for the header, gzip on the data
      dirty        correlator, then values no conversion can use written into
                   a few cells: NaN and infinite visibilities, negative and
                   NaN nsamples, and one stored flag byte of 2 (patched into
                   the file: h5py writes only 0 and 1); their [row][freq][pol]
                   indices are printed under "poisoned"
Flags and nsamples are replaced by seeded random values (about 10% flagged,
nsamples in 0..4.5 by halves), so that every field has something to decode.
Prints the chunk shape h5py chose for each rewritten dataset as JSON.
"""
import json
import sys

import h5py
import numpy as np

src, dst, mode = sys.argv[1:4]
PER_ROW_HEADER = ["ant_1_array", "ant_2_array", "time_array", "integration_time", "uvw_array"]
DATA = ["visdata", "flags", "nsamples"]


def options(kind, shape):
    opts = {"chunks": True}
    if mode == "gzip-shuffle":
        opts.update(shuffle=True, compression="gzip", compression_opts=4)
    elif mode == "lzf":
        opts.update(compression="lzf")
    elif mode == "odd":
        if kind == "data":
            opts = {"chunks": (7,) + tuple(min(s, c) for s, c in zip(shape[1:], (1, 5, 2))),
                    "compression": "gzip"}
        else:
            opts = {"chunks": (100,) + tuple(shape[1:])}
    return opts


chosen = {}
with h5py.File(src, "r") as fin, h5py.File(dst, "w") as fout:
    def copy_rest(name, obj):
        leaf = name.split("/")[-1]
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        if isinstance(obj, h5py.Group):
            fout.require_group(name)
        elif not ((parent == "Header" and leaf in PER_ROW_HEADER) or (parent == "Data" and leaf in DATA)):
            fin.copy(obj, fout.require_group(parent) if parent else fout, name=leaf)

    fin.visititems(copy_rest)
    n_bls = int(fin["Header/Nbls"][()])
    n_blts = int(fin["Header/Nblts"][()])
    made = {}
    for group, names, kind in (("Header", PER_ROW_HEADER, "header"), ("Data", DATA, "data")):
        for leaf in names:
            full = f"{group}/{leaf}"
            d = fin[full]
            shape = (0,) + d.shape[1:]
            out = fout[group].create_dataset(
                leaf, shape, maxshape=(None,) + d.shape[1:], dtype=d.dtype, **options(kind, d.shape))
            made[full] = (d, out)
            chosen[full] = list(out.chunks)
    rng = np.random.default_rng(7)
    shape = fin["Data/flags"].shape
    varied = {
        "Data/flags": rng.random(shape) < 0.1,
        "Data/nsamples": (rng.integers(0, 10, shape) / 2).astype(fin["Data/nsamples"].dtype),
    }
    for r0 in range(0, n_blts, n_bls):
        r1 = min(r0 + n_bls, n_blts)
        for full, (d, out) in made.items():
            out.resize(r1, axis=0)
            out[r0:r1] = varied[full][r0:r1] if full in varied else d[r0:r1]
if mode == "dirty":
    with h5py.File(dst, "r+") as f:
        vis, ns, fl = f["Data/visdata"], f["Data/nsamples"], f["Data/flags"]
        n, nf, npol = vis.shape[0], vis.shape[-2], vis.shape[-1]

        def at(r, c, p):
            return (r, 0, c, p) if vis.ndim == 4 else (r, c, p)

        def flat(r, c, p):
            return (r * nf + c) * npol + p

        vis[at(3, 5, npol - 1)] = np.complex64(complex(np.nan, 1.0))
        vis[at(n - 1, 0, 0)] = np.complex64(complex(np.inf, 0.0))
        ns[at(10, 2, 0)] = -1.0
        ns[at(20, nf - 1, npol - 1)] = np.nan
        key = at(30, 1, 0)
        fl[key] = False
        origin = tuple(k - k % c for k, c in zip(key, fl.chunks))
        offset = fl.id.get_chunk_info_by_coord(origin).byte_offset
        within = int(np.ravel_multi_index(tuple(k % c for k, c in zip(key, fl.chunks)), fl.chunks))
        chosen["poisoned"] = {
            "vis": [flat(3, 5, npol - 1), flat(n - 1, 0, 0)],
            "nsamples": [flat(10, 2, 0), flat(20, nf - 1, npol - 1)],
            "flag": flat(30, 1, 0),
        }
    with open(dst, "r+b") as raw:
        raw.seek(offset + within)
        raw.write(b"\x02")
print(json.dumps(chosen))
