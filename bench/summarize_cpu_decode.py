#!/usr/bin/env python3
"""Turn a cpu_decode_bench JSON run (--benchmark_out=run.json) into the Markdown table of
docs/benchmarks/cpu_decode.md. Each configuration's counters are already the fastest run of each
implementation, interleaved with a memcpy measurement in the same iterations."""
import json
import re
import sys

run = json.load(open(sys.argv[1]))
ctx = run["context"]
print(f"host: {ctx.get('host_name')}, {ctx.get('num_cpus')} CPUs @ {ctx.get('mhz_per_cpu')} MHz, "
      f"load average at start {ctx.get('load_avg')}\n")
print("| Hq | Hkv | B | L | KV MiB | dense ms | gather ms | fused paged ms | fused, identity table ms "
      "| dense GB/s | gather GB/s | fused GB/s | memcpy GB/s | fused / dense | fused / memcpy |")
print("|" + "---|" * 15)
rows = []
for b in run["benchmarks"]:
    m = re.search(r"Hq:(\d+)/Hkv:(\d+)/B:(\d+)/L:(\d+)", b["name"])
    if not m:
        continue
    cfg = tuple(int(x) for x in m.groups())
    if b.get("error_occurred"):
        rows.append((cfg, None))
    else:
        rows.append((cfg, b))
for cfg, b in sorted(rows, key=lambda r: (-r[0][1], r[0][2], r[0][3])):
    hq, hkv, bsz, length = cfg
    if b is None:
        print(f"| {hq} | {hkv} | {bsz} | {length} | {bsz * length * hkv * 128 * 4 / 2**20:.0f} "
              "| skipped (KV above the memory cap) |" + " |" * 10)
        continue
    def ms(name):
        return f"{b[name + '_us'] / 1e3:.2f}" if name + "_us" in b else "skipped"
    def gb(name):
        return f"{b[name + '_GBps']:.1f}" if name + "_GBps" in b else "—"
    print(f"| {hq} | {hkv} | {bsz} | {length} | {b['kv_MiB']:.0f} | {ms('dense')} | {ms('gather')} "
          f"| {ms('paged')} | {ms('paged_identity')} | {gb('dense')} | {gb('gather')} "
          f"| {gb('paged')} | {b['memcpy_GBps']:.1f} | {b['fused_over_dense']:.2f} "
          f"| {b['fused_over_memcpy']:.0%} |")
