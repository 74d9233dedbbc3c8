#!/usr/bin/env python3
"""Sums `ncu --csv --metrics gpu__time_duration.sum` output per kernel name.
Usage: ncu_summary.py FILE.csv STEPS  (STEPS = decode steps in the profile)."""
import csv, sys, collections
rows = [r for r in csv.reader(open(sys.argv[1])) if r]
hdr = next(i for i, r in enumerate(rows) if "Kernel Name" in r)
h = rows[hdr]
ki, ui, vi = h.index("Kernel Name"), h.index("Metric Unit"), h.index("Metric Value")
gi = h.index("Grid Size") if "Grid Size" in h else None  # matvecs of different shapes apart
steps = float(sys.argv[2])
tot, cnt = collections.defaultdict(float), collections.Counter()
scale = {"nsecond": 1e-3, "ns": 1e-3, "usecond": 1.0, "us": 1.0, "msecond": 1e3, "ms": 1e3, "second": 1e6, "s": 1e6}
for r in rows[hdr + 1:]:
    if len(r) <= vi or r[ui] not in scale:
        continue
    name = r[ki].split("(")[0].replace("void ", "")
    if gi is not None:
        name += " " + r[gi].replace(" ", "")
    tot[name] += float(r[vi].replace(",", "")) * scale[r[ui]]
    cnt[name] += 1
all_us = sum(tot.values())
print("%-56s %8s %10s %10s" % ("kernel", "calls/tok", "us/tok", "us/call"))
for n, t in sorted(tot.items(), key=lambda x: -x[1]):
    print("%-56s %8.0f %10.1f %10.2f" % (n[:56], cnt[n] / steps, t / steps, t / cnt[n]))
print("%-56s %8.0f %10.1f" % ("total kernel time", sum(cnt.values()) / steps, all_us / steps))
