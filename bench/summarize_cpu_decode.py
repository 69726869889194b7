#!/usr/bin/env python3
"""Summarize a cpu_decode_bench JSON run (--benchmark_out=run.json --benchmark_repetitions=N)
into the Markdown table of docs/benchmarks/cpu_decode.md: per configuration, the fastest
repetition of each implementation (least disturbed by other processes), its effective bandwidth,
and the ratios the issue asks for (fused / dense throughput, fused / memcpy bandwidth)."""
import json
import re
import sys
from collections import defaultdict

run = json.load(open(sys.argv[1]))
best = defaultdict(dict)  # config -> impl -> (time_us, bytes_per_second, kv_MiB)
memcpy = []
for b in run["benchmarks"]:
    if b.get("run_type") != "iteration" or b.get("error_occurred"):
        continue
    if b["name"].startswith("BM_Memcpy"):
        memcpy.append(b["bytes_per_second"])
        continue
    m = re.search(r"impl:(\d)/Hq:(\d+)/Hkv:(\d+)/B:(\d+)/L:(\d+)", b["name"])
    impl = ["dense", "gather", "paged", "paged_identity"][int(m.group(1))]
    cfg = tuple(int(x) for x in m.groups()[1:])
    t = b["real_time"]  # microseconds
    cur = best[cfg].get(impl)
    if cur is None or t < cur[0]:
        best[cfg][impl] = (t, b["bytes_per_second"], b["kv_MiB"])

copy_bw = max(memcpy)
print(f"memcpy bandwidth (bytes copied / s, best of {len(memcpy)}): {copy_bw / 1e9:.1f} GB/s\n")
print("| Hq | Hkv | B | L | KV MiB | dense µs | gather µs | fused paged µs | fused (identity) µs "
      "| dense GB/s | gather GB/s | fused GB/s | fused / dense | fused / memcpy |")
print("|" + "---|" * 15)
for cfg in sorted(best, key=lambda c: (-c[1], c[2], c[3])):
    hq, hkv, bsz, length = cfg
    r = best[cfg]
    def t(name):
        return f"{r[name][0]:.0f}" if name in r else "skipped"
    def bw(name):
        return f"{r[name][1] / 1e9:.1f}" if name in r else "—"
    ratio = f"{r['dense'][0] / r['paged'][0]:.2f}" if "dense" in r and "paged" in r else "—"
    frac = f"{r['paged'][1] / copy_bw:.0%}" if "paged" in r else "—"
    kv = next(iter(r.values()))[2]
    print(f"| {hq} | {hkv} | {bsz} | {length} | {kv:.0f} | {t('dense')} | {t('gather')} | "
          f"{t('paged')} | {t('paged_identity')} | {bw('dense')} | {bw('gather')} | {bw('paged')} "
          f"| {ratio} | {frac} |")
