"""Independent reference for `dsa110-convert qa`: the same statistics,
computed with numpy from the UVH5 files (h5py) or from a Measurement Set
(python-casacore).

usage: qa_ref.py files CAL_INTEGRATION FILE...
       qa_ref.py ms CAL_INTEGRATION MS

CAL_INTEGRATION: the calibrator's integration index, or -1 for none.
Prints one JSON object; values without data are null.

Definitions (docs/qa.md): cells are (row, channel, pol) of the band in
ascending frequency; a NaN/infinite visibility or a NaN/infinite/negative
nsamples is flagged (and its visibility taken as 0); statistics use the
unflagged cells and average over polarizations; NaN cells are flagged
cells whose visibility is exactly 0.
"""

import json
import sys

import numpy as np


def nan_to_none(x):
    if isinstance(x, dict):
        return {k: nan_to_none(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [nan_to_none(v) for v in x]
    if isinstance(x, np.ndarray):
        return nan_to_none(x.tolist())
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def mean_where(values, mask, axis):
    n = mask.sum(axis=axis)
    s = np.where(mask, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.maximum(n, 1), np.nan)


def read_files(paths):
    """Joined band: ant1, ant2, time, freq (ascending), vis, flags, nsamples, widths."""
    import h5py

    subbands = []
    for p in paths:
        with h5py.File(p, "r") as f:
            h = f["Header"]
            freq = np.asarray(h["freq_array"]).reshape(-1)
            raw = f["Data/visdata"][()]
            vis = (raw["r"] + 1j * raw["i"]).astype(np.complex64) if raw.dtype.names else raw
            vis = vis.reshape(vis.shape[0], -1, vis.shape[-1])
            flags = np.asarray(f["Data/flags"][()]).astype(bool).reshape(vis.shape)
            ns = np.asarray(f["Data/nsamples"][()], dtype=np.float32).reshape(vis.shape)
            order = np.argsort(freq)
            subbands.append(
                dict(
                    freq=freq[order],
                    vis=vis[:, order, :],
                    flags=flags[:, order, :],
                    ns=ns[:, order, :],
                    ant1=np.asarray(h["ant_1_array"]),
                    ant2=np.asarray(h["ant_2_array"]),
                    time=np.asarray(h["time_array"]),
                )
            )
    subbands.sort(key=lambda s: s["freq"][0])
    first = subbands[0]
    vis = np.concatenate([s["vis"] for s in subbands], axis=1)
    flags = np.concatenate([s["flags"] for s in subbands], axis=1)
    ns = np.concatenate([s["ns"] for s in subbands], axis=1)
    bad = ~np.isfinite(vis) | ~np.isfinite(ns) | (ns < 0)
    vis = np.where(bad, 0, vis)
    flags = flags | bad
    widths = [len(s["freq"]) for s in subbands]
    return dict(
        ant1=first["ant1"],
        ant2=first["ant2"],
        time=first["time"],
        freq=np.concatenate([s["freq"] for s in subbands]),
        vis=vis,
        flags=flags,
        ns=ns,
        # Files that differ in channel count are one subband, the band.
        width=widths[0] if len(set(widths)) == 1 else sum(widths),
    )


def read_ms(path):
    """The MS as one row per baseline-time with the whole band, pyuvdata conjugation."""
    from casacore.tables import table

    t = table(path, ack=False)
    spw = table(path + "/SPECTRAL_WINDOW", ack=False)
    dd = table(path + "/DATA_DESCRIPTION", ack=False)
    chan_freq = [np.asarray(spw.getcell("CHAN_FREQ", k)) for k in range(spw.nrows())]
    spw_of_dd = dd.getcol("SPECTRAL_WINDOW_ID")
    ddid = t.getcol("DATA_DESC_ID")
    windows = sorted(set(spw_of_dd[ddid]), key=lambda s: chan_freq[s][0])
    data = t.getcol("DATA")
    flags = t.getcol("FLAG")
    if "WEIGHT_SPECTRUM" in t.colnames():
        ns = t.getcol("WEIGHT_SPECTRUM")
    else:
        w = t.getcol("WEIGHT")
        ns = np.repeat(w[:, None, :], data.shape[1], axis=1)
    ant1, ant2, time = t.getcol("ANTENNA1"), t.getcol("ANTENNA2"), t.getcol("TIME")
    parts = []
    for s in windows:
        rows = np.where(spw_of_dd[ddid] == s)[0]
        key = np.lexsort((ant2[rows], ant1[rows], time[rows]))
        parts.append(rows[key])
    base = parts[0]
    return dict(
        ant1=ant1[base],
        ant2=ant2[base],
        time=time[base],
        freq=np.concatenate([chan_freq[s] for s in windows]),
        vis=np.conj(np.concatenate([data[r] for r in parts], axis=1)),
        flags=np.concatenate([flags[r] for r in parts], axis=1),
        ns=np.concatenate([ns[r] for r in parts], axis=1),
        width=subband_width(len(windows), len(chan_freq[windows[0]])),
    )


def subband_width(n_windows, window_chans):
    """One subband per window; a single window cut into DSA-110's 16 when it divides."""
    if n_windows > 1 or window_chans % 16:
        return window_chans
    return window_chans // 16


def stats(d, cal_integration):
    ant1, ant2, vis, flags, ns = d["ant1"], d["ant2"], d["vis"], d["flags"], d["ns"]
    n_chan, width = vis.shape[1], d["width"]
    times = np.unique(d["time"])
    integ = np.searchsorted(times, d["time"])
    ants = np.unique(np.concatenate([ant1, ant2]))
    good = ~flags
    amp = np.abs(vis).astype(np.float64)
    auto = ant1 == ant2

    auto_spectrum = []
    antenna_flagged = []
    for a in ants:
        rows = auto & (ant1 == a)
        auto_spectrum.append(mean_where(amp[rows], good[rows], axis=(0, 2)))
        with_a = (ant1 == a) | (ant2 == a)
        antenna_flagged.append(flags[with_a].mean())

    cross = ~auto
    waterfall = []
    nsamples_mean = []
    for i in range(len(times)):
        rows = cross & (integ == i)
        waterfall.append(mean_where(amp[rows], good[rows], axis=(0, 2)))
        every = integ == i
        nsamples_mean.append(mean_where(ns[every].astype(np.float64), good[every], axis=(0, 1, 2)))

    sub_flagged, sub_nan = [], []
    for k in range(n_chan // width):
        sl = slice(k * width, (k + 1) * width)
        f = flags[:, sl, :]
        sub_flagged.append(f.mean())
        sub_nan.append((f & (vis[:, sl, :] == 0)).mean())

    cal_amp, cal_phase = [], []
    if cal_integration >= 0:
        for lo, hi in zip(ants[0::2][:4], ants[1::2][:4]):
            rows = np.where((integ == cal_integration) & (np.minimum(ant1, ant2) == lo) & (np.maximum(ant1, ant2) == hi))[0]
            r = rows[0]
            v = np.where(good[r], vis[r], 0).astype(np.complex128)
            n = good[r].sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                v = np.where(n > 0, v.sum(axis=1) / np.maximum(n, 1), np.nan)
            if ant1[r] > ant2[r]:
                v = np.conj(v)
            cal_amp.append(np.abs(v))
            cal_phase.append(np.degrees(np.angle(v)))

    return dict(
        antennas=ants.tolist(),
        freq_hz=d["freq"].tolist(),
        auto_spectrum=[s.tolist() for s in auto_spectrum],
        antenna_flagged=[float(x) for x in antenna_flagged],
        waterfall=[w.tolist() for w in waterfall],
        nsamples_mean=[float(x) for x in nsamples_mean],
        subband_flagged=[float(x) for x in sub_flagged],
        subband_nan=[float(x) for x in sub_nan],
        cal_amp=[a.tolist() for a in cal_amp],
        cal_phase_deg=[p.tolist() for p in cal_phase],
    )


def main():
    mode, cal = sys.argv[1], int(sys.argv[2])
    d = read_files(sys.argv[3:]) if mode == "files" else read_ms(sys.argv[3])
    print(json.dumps(nan_to_none(stats(d, cal)), allow_nan=False))


if __name__ == "__main__":
    main()
