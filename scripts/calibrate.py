#!/usr/bin/env python3
"""Derives the world's calibration profiles from the real data sets.

The world models (crate `twin-scenarios`) are shaped on real series; this script
reduces those series to the small tables the world embeds, written to
`data/profiles/`. It needs only the Python standard library (the NumPy files
are read by hand) and is run by hand when a data set changes:

    python3 scripts/calibrate.py ../shared/data data/profiles

Sources and licences are listed in data/README.md.
"""
import ast
import csv
import datetime as dt
import json
import math
import os
import struct
import sys
from statistics import mean, median


def read_npy(path):
    """(shape, flat list) of a little-endian, C-ordered .npy file."""
    with open(path, "rb") as f:
        assert f.read(6) == b"\x93NUMPY", path
        major = f.read(2)[0]
        hlen = struct.unpack("<H" if major == 1 else "<I", f.read(2 if major == 1 else 4))[0]
        header = ast.literal_eval(f.read(hlen).decode("latin1"))
        assert not header["fortran_order"], path
        code = {"<f4": "f", "|u1": "B", "|b1": "?", "<u2": "H"}[header["descr"]]
        n = math.prod(header["shape"])
        data = struct.unpack("<%d%s" % (n, code), f.read(n * struct.calcsize(code)))
        return header["shape"], data


def ndvi_season(src, out):
    """Median NDVI of cloud-free valid pixels per date, binned by day of year
    into 24 half-month bins (bins without a date are interpolated)."""
    base = os.path.join(src, "ndvi", "ndvi_timeseries_patch")
    shape, ndvi = read_npy(os.path.join(base, "data", "NDVI.npy"))
    _, cloud = read_npy(os.path.join(base, "mask", "CLM.npy"))
    _, valid = read_npy(os.path.join(base, "mask", "IS_VALID.npy"))
    dates = json.load(open(os.path.join(base, "timestamps.json")))
    per_date = shape[1] * shape[2]
    bins = [[] for _ in range(24)]
    for t, stamp in enumerate(dates):
        lo = t * per_date
        px = [ndvi[i] for i in range(lo, lo + per_date) if valid[i] and not cloud[i] and not math.isnan(ndvi[i])]
        if len(px) < per_date * 0.5:
            continue  # mostly cloud: not a usable pass
        doy = dt.datetime.fromisoformat(stamp).timetuple().tm_yday
        bins[min(23, (doy - 1) * 24 // 366)].append(median(px))
    values = [median(b) if b else None for b in bins]
    known = [i for i, v in enumerate(values) if v is not None]
    for i, v in enumerate(values):
        if v is None:  # circular linear interpolation between known bins
            before = max((k for k in known if k < i), default=known[-1] - 24)
            after = min((k for k in known if k > i), default=known[0] + 24)
            vb, va = values[before % 24], values[after % 24]
            values[i] = vb + (va - vb) * (i - before) / (after - before)
    # Single passes are noisy (haze, snow): a circular 1-2-1 running mean keeps the season.
    smooth = [(values[i - 1] + 2 * values[i] + values[(i + 1) % 24]) / 4 for i in range(24)]
    with open(os.path.join(out, "ndvi_season.csv"), "w") as f:
        f.write("# median NDVI of cloud-free pixels by half-month, eo-learn Sentinel-2 patch 2015-2017\n")
        f.write("bin,day_of_year,ndvi,smoothed,passes\n")
        for i, v in enumerate(values):
            f.write("%d,%d,%.4f,%.4f,%d\n" % (i, 1 + i * 366 // 24 + 7, v, smooth[i], len(bins[i])))


def traffic_week(src, out):
    """Mean hourly volume by weekday and hour, over the maximum of those means."""
    sums = {}
    with open(os.path.join(src, "traffic", "metro_interstate_hourly.csv")) as f:
        for row in csv.DictReader(f):
            if not row["traffic_volume"]:
                continue  # a gap in the series
            t = dt.datetime.fromisoformat(row["datetime"])
            sums.setdefault((t.weekday(), t.hour), []).append(float(row["traffic_volume"]))
    means = {k: mean(v) for k, v in sums.items()}
    top = max(means.values())
    with open(os.path.join(out, "traffic_week.csv"), "w") as f:
        f.write("# I-94 westbound mean hourly volume by weekday (0 = Monday) and hour, over its maximum\n")
        f.write("weekday,hour,level\n")
        for d in range(7):
            for h in range(24):
                f.write("%d,%d,%.4f\n" % (d, h, means[(d, h)] / top))


def air_quality_day(src, out):
    """Diurnal shapes (weekday and weekend) of NO2 and CO over their means,
    with mean temperature and relative humidity by hour."""
    rows = {}
    with open(os.path.join(src, "air-quality", "AirQualityUCI.csv")) as f:
        for row in csv.DictReader(f, delimiter=";"):
            if not row["Date"]:
                continue
            d = dt.datetime.strptime(row["Date"] + " " + row["Time"], "%d/%m/%Y %H.%M.%S")
            num = lambda k: float(row[k].replace(",", "."))
            rows.setdefault((d.weekday() >= 5, d.hour), []).append(
                tuple(num(k) for k in ("NO2(GT)", "CO(GT)", "T", "RH")))
    def col(key, i):
        vals = [r[i] for r in rows[key] if r[i] != -200]
        return mean(vals)
    no2 = mean(col(k, 0) for k in rows)
    co = mean(col(k, 1) for k in rows)
    with open(os.path.join(out, "air_quality_day.csv"), "w") as f:
        f.write("# UCI Air Quality (2004-2005) mean by hour, NO2 and CO over their overall means\n")
        f.write("weekend,hour,no2,co,temperature_c,humidity_pct\n")
        for we in (False, True):
            for h in range(24):
                k = (we, h)
                f.write("%d,%d,%.4f,%.4f,%.2f,%.2f\n" % (we, h, col(k, 0) / no2, col(k, 1) / co, col(k, 2), col(k, 3)))


# Sensors of FD001 that trend with wear, and their direction.
TRENDING = {2: 1, 3: 1, 4: 1, 7: -1, 11: 1, 12: -1, 15: 1, 17: 1, 20: -1, 21: -1}


def cmapss(src, out):
    """Mean degradation (0 new, 1 failed) by fraction of life, from a health
    index averaged over the trending sensors; and the engines' lifetimes."""
    engines = {}
    with open(os.path.join(src, "cmapss", "train_FD001.txt")) as f:
        for line in f:
            v = line.split()
            if v:
                engines.setdefault(int(v[0]), []).append([float(x) for x in v])
    cols = {s: 4 + s for s in TRENDING}  # unit, cycle, 3 settings, then s1..s21
    allrows = [r for rs in engines.values() for r in rs]
    stats = {}
    for s, c in cols.items():
        xs = [r[c] for r in allrows]
        m = mean(xs)
        sd = math.sqrt(mean((x - m) ** 2 for x in xs)) or 1.0
        stats[s] = (m, sd)
    bins = [[] for _ in range(20)]
    lifetimes = []
    for unit, rs in sorted(engines.items()):
        hi = [mean(TRENDING[s] * (r[c] - stats[s][0]) / stats[s][1] for s, c in cols.items()) for r in rs]
        # Smooth over 9 cycles, then scale so the first tenth is 0 and the end 1.
        sm = [mean(hi[max(0, i - 4): i + 5]) for i in range(len(hi))]
        start = mean(sm[: max(1, len(sm) // 10)])
        end = mean(sm[-3:])
        lifetimes.append(len(rs))
        for i, v in enumerate(sm):
            bins[min(19, i * 20 // len(sm))].append((v - start) / (end - start))
    with open(os.path.join(out, "cmapss_degradation.csv"), "w") as f:
        f.write("# NASA C-MAPSS FD001: mean normalised degradation by twentieth of life (trending sensors' health index)\n")
        f.write("life_fraction,degradation\n")
        f.write("0.000,0.0000\n")
        for i, b in enumerate(bins):
            f.write("%.3f,%.4f\n" % ((i + 1) / 20, min(1.0, max(0.0, mean(b)))))
    with open(os.path.join(out, "cmapss_lifetimes.csv"), "w") as f:
        f.write("# NASA C-MAPSS FD001: cycles to failure of the 100 training engines\n")
        f.write("unit,cycles\n")
        for i, n in enumerate(lifetimes):
            f.write("%d,%d\n" % (i + 1, n))
    # Each engine's own path: per cycle, four channels, each the mean of a
    # group of trending sensors standardised over the fleet with wear
    # positive. The factory gives each machine one of them.
    with open(os.path.join(out, "cmapss_paths.csv"), "w") as f:
        f.write("# NASA C-MAPSS FD001: per engine and cycle, mean standardised wear of four groups of trending sensors (wear positive)\n")
        f.write("unit,cycle," + ",".join(name for name, _ in PATH_GROUPS) + "\n")
        for unit, rs in sorted(engines.items()):
            for r in rs:
                vals = [mean(TRENDING[s] * (r[cols[s]] - stats[s][0]) / stats[s][1] for s in group) for _, group in PATH_GROUPS]
                f.write("%d,%d," % (unit, int(r[1])) + ",".join("%.2f" % v for v in vals) + "\n")


# The sensor groups behind the factory's four channels.
PATH_GROUPS = [
    ("vibration", (4, 11)),
    ("temperature", (2, 3, 17)),
    ("pressure", (7, 12)),
    ("current", (15, 20, 21)),
]


if __name__ == "__main__":
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    ndvi_season(src, out)
    traffic_week(src, out)
    air_quality_day(src, out)
    cmapss(src, out)
