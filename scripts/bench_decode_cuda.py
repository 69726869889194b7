#!/usr/bin/env python3
"""Decode attention benchmark on one GPU: pagedkv's fused paged CUDA kernel vs torch SDPA on the
same K/V made contiguous (the no-paging baseline) and torch gather-then-SDPA, in one run.

usage: bench_decode_cuda.py LIB_PATH OUTDIR [--quick | --sweep [B,L,Hq,Hkv;...] | --profile B,L,Hq,Hkv]

--sweep times every split count and both warp layouts on the mid-size shapes (planner tuning);
--profile runs one shape's pagedkv kernel and SDPA once between cudaProfilerStart/Stop (for ncu
--profile-from-start off).

Every figure is the median over graph replays (CUDA events); each graph runs the op on several
input sets in turn (disjoint block tables scattered over one shuffled pool, one contiguous copy per
set) so that the data touched per replay exceeds L2 and nothing is timed from cache.
Effective bandwidth = K+V bytes read / time.

Memory: every case is sized to the card's free memory (torch.cuda.mem_get_info) before anything
is allocated, so the whole table runs on an 80 GB H100 as well as a 141 GB H200: fit_case() counts
what a case holds (pools, the contiguous copies for SDPA, the gathered K/V of the gather baseline)
and drops the baselines a case cannot afford — the pagedkv column is always measured — or skips
the case with a note when even the pool alone does not fit. The accuracy check computes its f32
reference a few sequences at a time (REF_CHUNK_BYTES), never for the whole batch at once: that
reference alone (f32 K/V expanded to every query head) needed more than 32 GiB on the largest
shapes and ran the H100 out of memory.
"""
import contextlib
import ctypes
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

DT_CODE = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2, torch.float8_e4m3fn: 3}
DATASHEET_TBS = {"H100": 3.35, "H200": 4.8}
GiB = 1 << 30
# Kept free beside a case's own tensors: CUDA graphs, SDPA workspaces, allocator fragmentation.
HEADROOM_BYTES = 3 * GiB
# The f32 reference of the accuracy check is computed on at most this much at a time.
REF_CHUNK_BYTES = 1 * GiB
# The largest problem in the tables (K + V bytes): the same shapes on every card.
MAX_KV_BYTES = 6e9


def free_bytes():
    """Free memory on the card now (the caching allocator's unused blocks returned first)."""
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    return torch.cuda.mem_get_info()[0]


def kv_bytes_of(B, L, Hkv, D, kv_dtype):
    """K + V bytes a problem reads (= one input set's pool share)."""
    return B * L * Hkv * D * torch.empty(0, dtype=kv_dtype).element_size() * 2


def case_bytes(kv_bytes, nsets, sdpa, gather, widen=1):
    """Peak device memory of a Case: the K/V pools of nsets input sets; with sdpa, one contiguous
    bf16 copy per set (`widen` 2 for fp8 pools, widened to bf16) and the transient gather +
    transpose while each copy is made; with gather, the gathered K/V of one call (held by the
    graph's memory pool while it is timed)."""
    pools = nsets * kv_bytes
    copies = (nsets + 1) * kv_bytes * widen if sdpa else 0
    gathered = kv_bytes if gather else 0
    return pools + copies + gathered


def fit_case(kv_bytes, nsets, sdpa, gather, widen):
    """(sdpa, gather) that fit the card's free memory less HEADROOM_BYTES: both baselines if
    they fit, else the SDPA baseline alone, else pagedkv alone; None when even the pools do not
    fit (the case is skipped with a note, the table goes on)."""
    budget = free_bytes() - HEADROOM_BYTES
    for s, g in ((sdpa, gather), (sdpa, False), (False, False)):
        if case_bytes(kv_bytes, nsets, s, g, widen) <= budget:
            return s, g
    return None


def load_lib(path):
    lib = ctypes.CDLL(path)
    lib.pkv_plan.restype = ctypes.c_void_p
    lib.pkv_plan.argtypes = [ctypes.c_int] * 8
    lib.pkv_last_error.restype = ctypes.c_char_p
    lib.pkv_workspace_bytes.restype = ctypes.c_int64
    lib.pkv_workspace_bytes.argtypes = [ctypes.c_void_p]
    lib.pkv_num_splits.argtypes = [ctypes.c_void_p]
    lib.pkv_ctas_per_sm.argtypes = [ctypes.c_void_p]
    lib.pkv_head_parallel.argtypes = [ctypes.c_void_p]
    lib.pkv_init_workspace.argtypes = [ctypes.c_void_p] * 3
    P, I, Fl = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
    lib.pkv_run.argtypes = [P, P, I, P, P, P, P, I, I, I, I, I, P, P, P, P, I, I, Fl, Fl, P, Fl,
                            Fl, P, P]
    return lib


def layout_of(lib, plan):
    """The warp layout a plan chose: "heads" (head-parallel) or "tiles" (tile-parallel)."""
    return "heads" if lib.pkv_head_parallel(plan) else "tiles"


@contextlib.contextmanager
def env_var(name, value):
    """Sets environment variable `name` to `value` inside the block (None: leaves it alone); the
    library reads PAGEDKV_DECODE_* at plan time."""
    if value is None:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        del os.environ[name]


def forced_layout(flag):
    """Plans made inside use the warp layout PAGEDKV_DECODE_HEADS=flag ("0" tiles, "1" heads)."""
    return env_var("PAGEDKV_DECODE_HEADS", flag)


def ptr(t):
    return ctypes.c_void_p(t.data_ptr()) if t is not None else None


def time_graph(fns, calls_min=24, replays=15):
    """Median µs per call of fns[i] cycled through a captured CUDA graph."""
    n = max(calls_min, len(fns))
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for f in fns[: min(3, len(fns))]:  # warm up (module load, allocator) outside capture
            f()
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for i in range(n):
            fns[i % len(fns)]()
    g.replay()
    g.replay()
    torch.cuda.synchronize()
    ts = []
    for _ in range(replays):
        a = torch.cuda.Event(enable_timing=True)
        b = torch.cuda.Event(enable_timing=True)
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        ts.append(a.elapsed_time(b) * 1000.0 / n)
    ts.sort()
    del g
    return ts[len(ts) // 2], ts[0], ts[-1]


def copy_ceiling_tbs():
    n = 1 << 30  # 2 GiB of bf16 each way
    x = torch.empty(n, dtype=torch.bfloat16, device="cuda").normal_()
    y = torch.empty_like(x)
    med, _, _ = time_graph([lambda: y.copy_(x)], calls_min=5, replays=10)
    return 2 * x.numel() * x.element_size() / (med * 1e-6) / 1e12


class Case:
    @staticmethod
    def num_sets(kv_bytes):
        """Input sets cycled per replay: enough that a replay touches 4x L2 (nothing timed from
        cache), one for problems that exceed that alone."""
        l2 = torch.cuda.get_device_properties(0).L2_cache_size
        return max(1, min(64, math.ceil(4 * l2 / kv_bytes)))

    def __init__(self, lib, B, L, Hq, Hkv, D, bs, kv_dtype, sdpa=True, gather=True, seed=0):
        self.lib, self.B, self.L, self.Hq, self.Hkv, self.D, self.bs = lib, B, L, Hq, Hkv, D, bs
        self.kv_dtype = kv_dtype
        self.kv_bytes = kv_bytes_of(B, L, Hkv, D, kv_dtype)
        self.nsets = Case.num_sets(self.kv_bytes)
        g = torch.Generator(device="cuda").manual_seed(seed)
        nb = math.ceil(L / bs)
        self.num_blocks = self.nsets * B * nb + 7
        shape = (self.num_blocks, bs, Hkv, D)
        fp8 = kv_dtype == torch.float8_e4m3fn
        self.k_scale = 0.25 if fp8 else 1.0
        self.v_scale = 0.5 if fp8 else 1.0

        def pool():
            x = torch.randn(shape, generator=g, device="cuda", dtype=torch.bfloat16)
            return (x * 4).to(kv_dtype) if fp8 else x

        self.k_pool, self.v_pool = pool(), pool()
        perm = torch.randperm(self.num_blocks - 7, generator=g, device="cuda").to(torch.int32)
        self.tables = [perm[s * B * nb:(s + 1) * B * nb].view(B, nb).contiguous()
                       for s in range(self.nsets)]
        self.indptr = torch.arange(0, B * nb + 1, nb, dtype=torch.int32, device="cuda")
        self.first = torch.zeros(B, dtype=torch.int32, device="cuda")
        self.lens = torch.full((B,), L, dtype=torch.int32, device="cuda")
        self.qs = [torch.randn(B, Hq, D, generator=g, device="cuda", dtype=torch.bfloat16)
                   for _ in range(self.nsets)]
        self.out = torch.empty(B, Hq, D, device="cuda", dtype=torch.bfloat16)
        self.scale = 1.0 / math.sqrt(D)
        self.make_plan()
        # Contiguous copies [B, Hkv, L, D] in bf16 (dequantised for fp8) for the torch baselines.
        self.kc, self.vc = [], []
        if sdpa:
            for t in self.tables:
                self.kc.append(self.contiguous(self.k_pool, t, self.k_scale))
                self.vc.append(self.contiguous(self.v_pool, t, self.v_scale))
        self.do_gather = gather

    def make_plan(self, num_splits=0):
        lib = self.lib
        self.plan = lib.pkv_plan(self.B, self.Hq, self.Hkv, self.D, DT_CODE[self.kv_dtype], self.L,
                                 num_splits, 2)
        if not self.plan:
            raise RuntimeError(lib.pkv_last_error().decode())
        self.ws = torch.empty(max(1, lib.pkv_workspace_bytes(self.plan)), dtype=torch.uint8,
                              device="cuda")
        assert lib.pkv_init_workspace(self.plan, ptr(self.ws), None) == 0
        self.splits = lib.pkv_num_splits(self.plan)

    def contiguous(self, pool, table, scale):
        x = pool[table.long()].view(self.B, -1, self.Hkv, self.D)[:, :self.L]
        x = x.to(torch.bfloat16) * scale if self.kv_dtype != torch.bfloat16 else x
        return x.transpose(1, 2).contiguous()

    def run_pagedkv(self, s):
        st = torch.cuda.current_stream().cuda_stream
        rc = self.lib.pkv_run(self.plan, ptr(self.qs[s]), 2, ptr(self.out), None, ptr(self.k_pool),
                              ptr(self.v_pool), DT_CODE[self.kv_dtype], self.num_blocks, self.bs,
                              self.Hkv, self.D, ptr(self.indptr), ptr(self.tables[s]),
                              ptr(self.first), ptr(self.lens), self.B, self.Hq, self.scale, 0.0,
                              None, self.k_scale, self.v_scale, ptr(self.ws),
                              ctypes.c_void_p(st))
        if rc != 0:
            raise RuntimeError(self.lib.pkv_last_error().decode())

    def sdpa(self, q, k, v):
        return F.scaled_dot_product_attention(q.unsqueeze(2), k, v, scale=self.scale,
                                              enable_gqa=self.Hq != self.Hkv)

    def run_sdpa(self, s):
        return self.sdpa(self.qs[s], self.kc[s], self.vc[s])

    def best_sdpa(self):
        """Fastest fused SDPA backend that accepts this problem (flash, efficient, cuDNN);
        math only when none does. Returns (µs, backend name)."""
        from torch.nn.attention import SDPBackend, sdpa_kernel
        best = None
        for be in (SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION,
                   SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH):
            if best is not None and be == SDPBackend.MATH:
                break
            try:
                with sdpa_kernel([be]):
                    self.run_sdpa(0)
                    torch.cuda.synchronize()
                    fns = [lambda s=s: self.run_sdpa(s) for s in range(self.nsets)]
                    us = time_graph(fns)[0]
            except Exception:  # backend refuses this shape / GQA
                continue
            if best is None or us < best[0]:
                best = (us, be.name)
        return best

    def run_gather(self, s):  # default SDPA dispatch on the gathered (strided) K/V
        t = self.tables[s].long()
        k = self.k_pool[t].view(self.B, -1, self.Hkv, self.D)[:, :self.L].transpose(1, 2)
        v = self.v_pool[t].view(self.B, -1, self.Hkv, self.D)[:, :self.L].transpose(1, 2)
        return self.sdpa(self.qs[s], k, v)

    def check(self):
        """Relative error of pagedkv vs SDPA (f32 math on the same bf16 inputs). The reference
        runs on `chunk` sequences at a time: f32 K/V expanded to all Hq heads, scores and
        temporaries stay under REF_CHUNK_BYTES whatever the batch."""
        self.run_pagedkv(0)
        per_seq = self.L * self.Hq * (self.D * 4 * 2 * 2 + 4 * 2)
        chunk = max(1, REF_CHUNK_BYTES // per_seq)
        err2 = ref2 = 0.0
        for b in range(0, self.B, chunk):
            e = min(self.B, b + chunk)
            ref = F.scaled_dot_product_attention(
                self.qs[0][b:e].float().unsqueeze(2), self.kc[0][b:e].float(),
                self.vc[0][b:e].float(), scale=self.scale,
                enable_gqa=self.Hq != self.Hkv).squeeze(2)
            err2 += (self.out[b:e].float() - ref).norm().item() ** 2
            ref2 += ref.norm().item() ** 2
            del ref
        torch.cuda.synchronize()
        return math.sqrt(err2 / ref2)

    def measure(self):
        r = {"B": self.B, "L": self.L, "Hq": self.Hq, "Hkv": self.Hkv, "D": self.D,
             "page": self.bs, "kv": str(self.kv_dtype).replace("torch.", ""),
             "kv_MB": self.kv_bytes / 1e6, "splits": self.splits, "sets": self.nsets}
        fns = [lambda s=s: self.run_pagedkv(s) for s in range(self.nsets)]
        r["pagedkv_us"], r["pagedkv_min_us"], r["pagedkv_max_us"] = time_graph(fns)
        # A/B: both warp layouts forced (PAGEDKV_DECODE_HEADS=0 / 1), same data, own plans;
        # the main column above is the plan's automatic choice.
        r["layout"] = layout_of(self.lib, self.plan)
        if self.D == 128:
            base_plan, base_ws, base_splits = self.plan, self.ws, self.splits
            for name, flag in (("tiles", "0"), ("heads", "1")):
                try:
                    with forced_layout(flag):
                        self.make_plan()
                    r[name + "_splits"] = self.splits
                    r[name + "_us"] = time_graph(fns)[0]
                    r[name + "_tbs"] = self.kv_bytes / (r[name + "_us"] * 1e-6) / 1e12
                    if self.kc:
                        r[name + "_err_vs_sdpa"] = self.check()
                    self.lib.pkv_plan_free(ctypes.c_void_p(self.plan))
                finally:
                    self.plan, self.ws, self.splits = base_plan, base_ws, base_splits
        if self.kc:
            r["err_vs_sdpa"] = self.check()
            r["sdpa_us"], r["sdpa_backend"] = self.best_sdpa()
        if self.do_gather:
            fns = [lambda s=s: self.run_gather(s) for s in range(self.nsets)]
            r["gather_us"] = time_graph(fns)[0]
        for k in ("pagedkv", "sdpa", "gather"):
            if k + "_us" in r:
                r[k + "_tbs"] = self.kv_bytes / (r[k + "_us"] * 1e-6) / 1e12
        return r

    def free(self):
        self.lib.pkv_plan_free(ctypes.c_void_p(self.plan))


def sweep(lib, outdir, only=None):
    """Every split count x both warp layouts on the shapes where the planner's choice matters
    (64 MB - 1 GB, and B = 1), or on `only` ("B,L,Hq,Hkv;..."): the fastest point against the
    plan's automatic choice."""
    rows = []
    splits = (1, 2, 3, 4, 6, 8, 11, 16, 22, 32, 44, 64)
    shapes = [(B, L, Hq, Hkv) for Hq, Hkv in ((32, 8), (64, 8), (32, 32))
              for B, L in ((1, 4096), (1, 16384), (16, 1024), (16, 4096), (16, 16384), (64, 1024),
                           (64, 4096), (256, 1024))]
    if only:
        shapes = [tuple(int(x) for x in shape.split(",")) for shape in only.split(";")]
    print("| Hq/Hkv | B | L | KV MB | auto layout | auto splits | auto µs | best layout | "
          "best splits | best µs | auto/best |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for B, L, Hq, Hkv in shapes:
        c = Case(lib, B, L, Hq, Hkv, 128, 16, torch.bfloat16, sdpa=False, gather=False)
        fns = [lambda s=s: c.run_pagedkv(s) for s in range(c.nsets)]
        auto_us = time_graph(fns)[0]
        auto = (layout_of(lib, c.plan), c.splits)
        base = c.plan
        r = {"B": B, "L": L, "Hq": Hq, "Hkv": Hkv, "kv_MB": c.kv_bytes / 1e6,
             "auto_layout": auto[0], "auto_splits": auto[1], "auto_us": auto_us, "points": []}
        for name, flag in (("tiles", "0"), ("heads", "1")):
            for ns in splits:
                if ns > max(1, L // 64):
                    continue
                with forced_layout(flag):  # read at plan time only
                    c.make_plan(ns)
                us = time_graph(fns, replays=9)[0]
                r["points"].append({"layout": name, "splits": ns, "us": us})
                lib.pkv_plan_free(ctypes.c_void_p(c.plan))
        c.plan = base
        best = min(r["points"], key=lambda x: x["us"])
        print(f"| {Hq}/{Hkv} | {B} | {L} | {r['kv_MB']:.0f} | {auto[0]} | {auto[1]} | "
              f"{auto_us:.1f} | {best['layout']} | {best['splits']} | {best['us']:.1f} | "
              f"{auto_us / best['us']:.2f} |", flush=True)
        rows.append(r)
        c.free()
        del c
        torch.cuda.empty_cache()
        with open(os.path.join(outdir, "sweep.json"), "w") as f:
            json.dump(rows, f, indent=1)


def profile(lib, spec):
    """One pagedkv run and one SDPA run between profiler start/stop, after warm-up."""
    B, L, Hq, Hkv = (int(x) for x in spec.split(","))
    c = Case(lib, B, L, Hq, Hkv, 128, 16, torch.bfloat16, gather=False)
    for s in range(2):
        c.run_pagedkv(s % c.nsets)
        c.run_sdpa(s % c.nsets)
    torch.cuda.synchronize()
    torch.cuda.profiler.start()
    c.run_pagedkv(2 % c.nsets)
    c.run_sdpa(2 % c.nsets)
    torch.cuda.synchronize()
    torch.cuda.profiler.stop()
    c.free()


def main():
    lib_path, outdir = sys.argv[1], sys.argv[2]
    quick = "--quick" in sys.argv
    os.makedirs(outdir, exist_ok=True)
    lib = load_lib(lib_path)
    if "--profile" in sys.argv:
        return profile(lib, sys.argv[sys.argv.index("--profile") + 1])
    if "--sweep" in sys.argv:
        i = sys.argv.index("--sweep")
        only = sys.argv[i + 1] if i + 1 < len(sys.argv) and not sys.argv[i + 1].startswith("-") \
            else None
        return sweep(lib, outdir, only)
    name = torch.cuda.get_device_name(0)
    props = torch.cuda.get_device_properties(0)
    card = "H200" if "H200" in name else "H100"
    ceiling = copy_ceiling_tbs()
    print(f"device: {name}, {props.multi_processor_count} SMs, L2 {props.L2_cache_size >> 20} MB, "
          f"torch {torch.__version__}; d2d copy {ceiling:.2f} TB/s (read+write); "
          f"datasheet {DATASHEET_TBS[card]} TB/s", flush=True)
    results = {"device": name, "copy_tbs": ceiling, "datasheet_tbs": DATASHEET_TBS[card],
               "main": [], "pages": [], "fp8": []}
    heads = [(32, 8, 128), (32, 32, 128), (64, 8, 128)]
    Bs = [1, 16, 64, 256]
    Ls = [1024, 4096, 16384]
    if quick:
        heads, Bs, Ls = heads[:2], [1, 64], [4096, 16384]

    def run(case_args, bucket, sdpa=True, gather=True):
        B, L, Hq, Hkv, D, bs, dt = case_args
        kv = kv_bytes_of(B, L, Hkv, D, dt)
        if kv > MAX_KV_BYTES:  # the table's shapes: up to 6 GB of K/V per problem
            return
        fit = fit_case(kv, Case.num_sets(kv), sdpa, gather, 2 if dt == torch.float8_e4m3fn else 1)
        if fit is None:
            note = {"B": B, "L": L, "Hq": Hq, "Hkv": Hkv, "D": D, "page": bs,
                    "kv": str(dt).replace("torch.", ""), "kv_MB": kv / 1e6,
                    "skipped": f"needs {case_bytes(kv, Case.num_sets(kv), False, False) / GiB:.1f}"
                               f" GiB, {free_bytes() / GiB:.1f} GiB free"}
            print(json.dumps(note), flush=True)
            results.setdefault("skipped", []).append(note)
            return
        if fit != (sdpa, gather):
            print(f"# B={B} L={L} Hq={Hq} Hkv={Hkv} {dt}: baselines cut to sdpa={fit[0]} "
                  f"gather={fit[1]} to fit {free_bytes() / GiB:.1f} GiB free", flush=True)
        c = Case(lib, B, L, Hq, Hkv, D, bs, dt, sdpa=fit[0], gather=fit[1])
        try:
            r = c.measure()
        finally:
            c.free()
            del c
            torch.cuda.empty_cache()
        results[bucket].append(r)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}),
              flush=True)
        with open(os.path.join(outdir, "bench_results.json"), "w") as f:
            json.dump(results, f, indent=1)  # after every case: a cut-off run keeps its points

    t0 = time.time()
    for Hq, Hkv, D in heads:
        for B in Bs:
            for L in Ls:
                run((B, L, Hq, Hkv, D, 16, torch.bfloat16), "main")
    for bs in (1, 16, 128):
        for B, L in ((16, 4096), (64, 4096)):
            run((B, L, 32, 8, 128, bs, torch.bfloat16), "pages", gather=False)
    for B, L, Hq, Hkv in ((64, 4096, 32, 8), (16, 16384, 32, 8), (16, 4096, 32, 32)):
        for dt in (torch.bfloat16, torch.float8_e4m3fn):
            run((B, L, Hq, Hkv, 128, 16, dt), "fp8", gather=False)
    print(f"benchmark wall time {time.time() - t0:.0f} s", flush=True)
    with open(os.path.join(outdir, "bench_results.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
