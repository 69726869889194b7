#!/usr/bin/env python3
"""A/B of several builds of the pagedkv CUDA C API library in one process: same card, same data,
each build's own automatic plan, timed twice in alternation (so drift shows as spread).

usage: bench_decode_ab.py OUT.json [--fp8] [--sdpa] [--page N] [--shapes B,L,Hq,Hkv;...]
                          NAME=path/to/libpagedkv_cuda_capi.so[@VAR=VALUE] ...

--fp8 times fp8 e4m3 KV (bf16 q) instead of bf16 KV.
--sdpa adds, per shape, the fastest fused torch SDPA on the same K/V made contiguous and a
"floor": one tiny torch kernel per call in the same graph (launch and graph-step cost), so that
fixed per-call overheads can be told from bandwidth (e.g. --shapes over short lengths).
--page sets the block size (default 16).
--shapes replaces the built-in shape list.

`@VAR=VALUE` sets an environment variable while that entry is planned and timed (e.g. the same
library with PAGEDKV_DECODE_HEADS=0 as a second entry); `@splits=N` forces the split count.

Build each variant on any machine with nvcc (e.g. a git worktree per commit, configured with
scripts/gpu_check/CMakeLists.txt, target pagedkv_cuda_capi), carry the .so files to the GPU
machine in a git-ignored folder, and run this there: no build time spent on the device.
"""
import ctypes
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_decode_cuda as bd  # noqa: E402

SHAPES = [  # (B, L, Hq, Hkv): both warp layouts, GQA 4 and 8, MHA; 67 MB to 4.3 GB
    (256, 4096, 32, 8), (64, 4096, 32, 8), (16, 16384, 32, 8), (64, 1024, 32, 8),
    (16, 4096, 32, 8), (16, 1024, 32, 8), (64, 4096, 32, 32), (1, 16384, 32, 32),
    (1, 16384, 32, 8), (16, 16384, 64, 8), (64, 4096, 64, 8), (256, 1024, 64, 8),
]


def pop_option(args, name):
    """Value of `name VALUE` in args (removing both), or None."""
    if name not in args:
        return None
    i = args.index(name)
    value = args[i + 1]
    del args[i:i + 2]
    return value


def main():
    out = sys.argv[1]
    libs, envs, splits = {}, {}, {}
    args = sys.argv[2:]
    kv_dtype = torch.float8_e4m3fn if "--fp8" in args else torch.bfloat16
    sdpa = "--sdpa" in args
    spec = pop_option(args, "--shapes")
    shapes = [tuple(int(x) for x in sh.split(",")) for sh in spec.split(";")] if spec else SHAPES
    page = int(pop_option(args, "--page") or 16)
    for arg in (a for a in args if a not in ("--fp8", "--sdpa")):
        name, spec = arg.split("=", 1)
        path, _, env = spec.partition("@")
        var, _, value = env.partition("=")
        libs[name] = bd.load_lib(path)
        splits[name] = int(value) if var == "splits" else 0  # 0: the plan's own count
        envs[name] = (var, value) if env and var != "splits" else (None, None)
    rows = []
    for B, L, Hq, Hkv in shapes:
        c = bd.Case(next(iter(libs.values())), B, L, Hq, Hkv, 128, page, kv_dtype,
                    sdpa=sdpa, gather=False)
        fns = [lambda s=s: c.run_pagedkv(s) for s in range(c.nsets)]
        row = {"B": B, "L": L, "Hq": Hq, "Hkv": Hkv, "page": page, "kv_MB": c.kv_bytes / 1e6}
        if sdpa:
            row["sdpa_us"], row["sdpa_backend"] = c.best_sdpa()
            row["floor_us"] = round(bd.time_graph([lambda: c.out.zero_()])[0], 2)
        for _ in range(2):
            for name, lib in libs.items():
                with bd.env_var(*envs[name]):
                    c.lib.pkv_plan_free(ctypes.c_void_p(c.plan))
                    c.lib = lib
                    c.make_plan(splits[name])
                    row.setdefault(name + "_us", []).append(round(bd.time_graph(fns)[0], 1))
                row[name + "_plan"] = (bd.layout_of(lib, c.plan), c.splits)
        print(json.dumps(row), flush=True)
        rows.append(row)
        c.free()
        del c
        torch.cuda.empty_cache()
        with open(out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
