#!/usr/bin/env python3
"""pagedkv against HF transformers on one card and the same weights, in one device call.

For each model (--models; shapes from `pagedkv_cuda_model_bench --model M --print-config`, so the
C++ benchmark is the one home of the Llama-3-8B / Qwen3-8B shapes):
  1. HF transformers makes the model with random bf16 weights from --seed on the GPU and saves it
     as safetensors, so pagedkv loads the very same weights (--no-shared-weights: pagedkv makes
     its own random ones; the timings do not depend on the values);
  2. HF transformers is timed in two modes, as users run it: `eager` (generate() with the dynamic
     cache, no compile) and `static` (generate() with cache_implementation="static", which compiles
     the decode forward with torch.compile(mode="reduce-overhead")). Decode tok/s at each batch
     size B and context: B x N / the time of the last N of 2N + 1 decode steps of one generate()
     (stamped by a streamer, which generate() calls after each step's tokens reach the host; the
     first N steps are the warm-up, compile and CUDA-graph capture included). Prefill tok/s: one
     prompt of each --prefill length through the eager forward (HF's generate() prefills eagerly
     in both modes);
  3. pagedkv (run before HF's points, while the HF model sits idle): pagedkv_cuda_model_bench
     --checkpoint on the saved weights (decode replayed from CUDA graphs, greedy tokens drawn on
     the GPU); each --variant NAME:VAR=VALUE adds a column run with those variables set (e.g.
     gemv:PAGEDKV_SMALL_M_GEMV=1), at --variant-batch sizes;
  4. --breakdown: the pagedkv decode step split into GEMMs, attention, sampling, other kernels and
     host / idle time, from CUPTI's records of the timed steps (the bench's --kernel-times; nsys
     or ncu where that fails);
and prints markdown tables (ratio against HF's faster mode, HBM roofline = weight bytes + KV bytes
read per step / --bandwidth-tbs) and writes OUT/hf_compare.json.

  python3 bench/hf_compare.py --bench build/bench/pagedkv_cuda_model_bench --out OUT \\
      [--models llama3-8b,qwen3-8b] [--batch 1,16,64,256] [--context 1024,8192] \\
      [--prefill 1024,8192] [--steps 32] [--modes eager,static] [--breakdown] [--layers N]
      [--variant NAME:VAR=VALUE[,...]] [--variant-batch 1] [--breakdown-batch 1,64]

A point that cannot fit the card (the KV of B sequences of the context, beside the weights) is
reported as such, not attempted; an HF out-of-memory is caught and reported as "OOM".
Smoke test without a GPU: --device cpu --config-json tiny.json --skip-pagedkv --modes eager.
"""
import argparse
import csv
import gc
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time


def int_list(s):
    return [int(x) for x in s.split(",") if x]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bench", help="pagedkv_cuda_model_bench binary")
    p.add_argument("--out", required=True)
    p.add_argument("--models", default="llama3-8b,qwen3-8b")
    p.add_argument("--batch", type=int_list, default=[1, 16, 64, 256])
    p.add_argument("--context", type=int_list, default=[1024, 8192])
    p.add_argument("--prefill", type=int_list, default=[1024, 8192])
    p.add_argument("--steps", type=int, default=32)
    p.add_argument("--modes", default="eager,static")
    p.add_argument("--layers", type=int, default=0, help="fewer layers (quick runs)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--bandwidth-tbs", type=float, default=4.8, help="H200 4.8, H100 SXM 3.35")
    p.add_argument("--breakdown", action="store_true")
    p.add_argument("--variant-batch", type=int_list,
                   help="batch sizes the variants run at (default: all)")
    p.add_argument("--breakdown-batch", type=int_list, help="batch sizes to break down (default: all)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME:VAR=VALUE[,...]",
                   help="an extra pagedkv column run with VAR=VALUE in its environment, e.g. "
                        "gemv:PAGEDKV_SMALL_M_GEMV=1 (repeatable)")
    p.add_argument("--no-shared-weights", action="store_true")
    p.add_argument("--skip-pagedkv", action="store_true")
    p.add_argument("--device", default="cuda")
    p.add_argument("--config-json", help="an HF config.json instead of the bench's --print-config")
    p.add_argument("--weights-dir", help="where the shared weights go (default: a temp folder)")
    return p.parse_args()


def model_config(args, model):
    if args.config_json:
        with open(args.config_json) as f:
            cfg = json.load(f)
    else:
        out = subprocess.run([args.bench, "--model", model, "--print-config"], check=True,
                             capture_output=True, text=True).stdout
        cfg = json.loads(out)
    if args.layers:
        cfg["num_hidden_layers"] = args.layers
    return cfg


def kv_bytes_per_token(cfg, elem=2):
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    return 2 * cfg["num_hidden_layers"] * cfg["num_key_value_heads"] * head_dim * elem


# ---------------------------------------------------------------------------------------------
# HF transformers


class Hf:
    def __init__(self, args, cfg):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        self.torch, self.args = torch, args
        config = AutoConfig.for_model(**cfg)
        torch.manual_seed(args.seed)
        with torch.device(args.device):
            self.model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
        self.model.eval()
        # Never stop early: every timed call makes exactly the tokens asked for.
        self.model.generation_config.eos_token_id = None
        self.model.generation_config.pad_token_id = 0
        self.vocab = cfg["vocab_size"]
        self.weight_bytes = sum(p.numel() * p.element_size() for p in self.model.parameters())
        self.gen = torch.Generator(device=args.device).manual_seed(args.seed + 1)

    def save(self, path):
        self.model.save_pretrained(path, safe_serialization=True)

    def sync(self):
        if self.args.device == "cuda":
            self.torch.cuda.synchronize()

    def ids(self, b, n):
        return self.torch.randint(0, self.vocab, (b, n), generator=self.gen, device=self.args.device)

    def prefill(self, n):
        torch = self.torch
        ids = self.ids(1, n)
        with torch.inference_mode():
            self.model(ids, use_cache=True, logits_to_keep=1)  # warm-up
            self.sync()
            t0 = time.perf_counter()
            self.model(ids, use_cache=True, logits_to_keep=1)
            self.sync()
            return n / (time.perf_counter() - t0)

    def decode(self, b, ctx, mode):
        """Decode tok/s at batch b after a ctx-token prompt, in `mode` (eager | static)."""
        torch = self.torch
        from transformers.generation.streamers import BaseStreamer

        class StepClock(BaseStreamer):
            """generate() hands each step's tokens to put() after a .cpu() copy, so a put's time
            is that step's end: put 0 is the prompt, put 1 follows the prefill."""

            def __init__(self):
                self.times = []

            def put(self, value):
                self.times.append(time.perf_counter())

            def end(self):
                pass

        ids = self.ids(b, ctx)
        kw = dict(do_sample=False)
        if mode == "static":
            kw["cache_implementation"] = "static"
        else:
            kw["disable_compile"] = True
        n = self.args.steps

        # One generate() of 2n + 1 new tokens: the first n decode steps warm up (static mode
        # compiles and captures its CUDA graphs in the first ones), the last n are timed. One
        # prefill per point instead of two: the prompts are long.
        clock = StepClock()
        with torch.inference_mode():
            out = self.model.generate(ids, attention_mask=torch.ones_like(ids),
                                      max_new_tokens=2 * n + 1, streamer=clock, **kw)
        assert out.shape == (b, ctx + 2 * n + 1), out.shape
        assert len(clock.times) == 2 * n + 2, len(clock.times)
        return b * n / (clock.times[-1] - clock.times[-1 - n])

    def free(self):
        del self.model
        gc.collect()
        if self.args.device == "cuda":
            self.torch.cuda.empty_cache()


def guarded(fn, *a):
    """fn(*a), or "OOM" when the card runs out of memory (the point is reported, the run goes on)."""
    import torch

    try:
        return fn(*a)
    except torch.OutOfMemoryError:
        gc.collect()
        torch.cuda.empty_cache()
        return "OOM"


# ---------------------------------------------------------------------------------------------
# pagedkv

PREFILL_RE = re.compile(r"prefill\s+(\d+) tokens:\s+([\d.]+) ms\s+(\d+) tok/s")
DECODE_RE = re.compile(r"decode B=\s*(\d+) ctx (\d+):\s+([\d.]+) ms/step\s+(\d+) tok/s\s+roofline")


def pagedkv_run(args, model, weights, batches, ctx, prefill, steps=None, env=None, extra=(),
                flags=(), raw=False):
    """Runs pagedkv_cuda_model_bench (under the profiler command `extra`, with --profile, when
    given); returns ({prefill tokens: tok/s}, {B: (ms/step, tok/s)}), or the log when raw."""
    cmd = [args.bench, "--context", str(ctx), "--batch", ",".join(map(str, batches)),
           "--prefill", ",".join(map(str, prefill)), "--steps", str(steps or args.steps),
           "--bandwidth-tbs", str(args.bandwidth_tbs)]
    cmd += ["--checkpoint", weights] if weights else ["--model", model]
    if args.layers and not weights:
        cmd += ["--layers", str(args.layers)]
    cmd += list(flags)
    if extra:
        cmd = list(extra) + cmd + ["--profile"]
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    log = r.stdout + r.stderr
    with open(os.path.join(args.out, f"pagedkv_{model}_ctx{ctx}.log"), "a") as f:
        f.write(" ".join(f"{k}={v}" for k, v in (env or {}).items()) + " " + " ".join(cmd) +
                "\n" + (log if not raw else log[-3000:]) + "\n")
    if r.returncode != 0:
        print(f"pagedkv bench failed (rc {r.returncode}):\n{log[-2000:]}", file=sys.stderr)
    if raw:
        return log
    pre = {int(m[1]): float(m[3]) for m in PREFILL_RE.finditer(log)}
    dec = {int(m[1]): (float(m[3]), float(m[4])) for m in DECODE_RE.finditer(log)}
    return pre, dec


KERNEL_CLASSES = [  # first match wins; kernel names as the profilers print them
    ("attention", re.compile(r"paged_decode|paged_prefill|write_tokens|merge_states", re.I)),
    ("sampling", re.compile(r"sample_rows|sampler", re.I)),
    ("GEMMs", re.compile(r"gemm|gemv|nvjet|xmma|cutlass|cublas|splitk", re.I)),
]
UNIT_NS = {"nsecond": 1.0, "ns": 1.0, "usecond": 1e3, "us": 1e3, "msecond": 1e6, "ms": 1e6,
           "second": 1e9, "s": 1e9}


def find_tool(name, *paths):
    return shutil.which(name) or next((p for p in paths if os.path.exists(p)), None)


KERNEL_RE = re.compile(r"^kernel B=\s*(\d+) ([\d.]+) us/step [\d.]+/step (.*)$", re.M)
BUSY_RE = re.compile(r"^kernels B=\s*(\d+): busy ([\d.]+) ms/step", re.M)


def kernel_times_cupti(args, model, b, ctx, steps, env):
    """({kernel name: total ns}, busy ns) over the timed steps, from the bench's --kernel-times
    (CUPTI activity records: kernels as they ran, overlaps included), or None."""
    log = pagedkv_run(args, model, None, [b], ctx, [], steps=steps, env=env, raw=True,
                      flags=["--kernel-times"])
    times = {}
    for m in KERNEL_RE.finditer(log):
        times[m[3]] = times.get(m[3], 0.0) + float(m[2]) * 1e3 * steps
    busy = BUSY_RE.search(log)
    return (times, float(busy[2]) * 1e6 * steps) if times and busy else None


def kernel_times_nsys(args, model, b, ctx, steps, env):
    """{kernel name: total ns} over the profiled steps from an nsys trace, or None."""
    nsys = find_tool("nsys", "/usr/local/cuda/bin/nsys", "/opt/nvidia/nsight-systems/bin/nsys")
    if not nsys:
        return None
    rep = os.path.join(args.out, f"nsys_{model}_B{b}_ctx{ctx}")
    pagedkv_run(args, model, None, [b], ctx, [], steps=steps, env=env, extra=[
        nsys, "profile", "-o", rep, "--force-overwrite", "true", "--capture-range=cudaProfilerApi",
        "--capture-range-end=stop", "--cuda-graph-trace=node", "--trace=cuda"])
    r = subprocess.run([nsys, "stats", "--report", "cuda_gpu_kern_sum", "--format", "csv",
                        "--output", "-", rep + ".nsys-rep"], capture_output=True, text=True)
    if r.returncode != 0 or '"Time' not in r.stdout:
        return None
    times = {}
    for row in csv.DictReader(io.StringIO(r.stdout[r.stdout.find('"Time'):])):
        if row.get("Total Time (ns)"):
            times[row["Name"]] = times.get(row["Name"], 0.0) + float(row["Total Time (ns)"])
    return times or None


def kernel_times_ncu(args, model, b, ctx, steps, env):
    """{kernel name: total ns} over the profiled steps, each graph node timed alone by Nsight
    Compute (gpu__time_duration), or None. Kernels run one at a time under ncu, so the sum
    leaves out overlap and launch gaps: the step's remainder is reported as host / idle."""
    ncu = find_tool("ncu", "/usr/local/cuda/bin/ncu")
    if not ncu:
        return None
    log = pagedkv_run(args, model, None, [b], ctx, [], steps=steps, env=env, raw=True, extra=[
        ncu, "--profile-from-start", "off", "--graph-profiling", "node", "--clock-control",
        "none", "--metrics", "gpu__time_duration.sum", "--csv", "--page", "details"])
    text = log[log.find('"ID"'):] if '"ID"' in log else ""
    times = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        scale = UNIT_NS.get(row.get("Metric Unit", ""), None)
        if scale is None:
            continue
        name = row.get("Kernel Name", "")
        times[name] = times.get(name, 0.0) + float(row["Metric Value"].replace(",", "")) * scale
    return times or None


def breakdown(args, model, b, ctx, step_ms, env=None):
    """ms per decode step: GEMMs, attention, sampling, other kernels, host / idle. The kernels
    come from a run of the same shapes (random weights: kernel times do not depend on the
    values) traced by CUPTI (the bench's --kernel-times), else nsys, else ncu; the step is the
    untraced run's (step_ms). With CUPTI, host / idle is the step less the time some kernel ran;
    with the profilers, which time each kernel alone, the step less the kernels' sum."""
    steps, busy = 8, None
    got = kernel_times_cupti(args, model, b, ctx, steps, env)
    if got is not None:
        how, (times, busy) = "CUPTI", got
    else:
        steps = 2  # the profilers time every kernel one by one: two steps give the split
        how, times = "nsys", kernel_times_nsys(args, model, b, ctx, steps, env)
        if times is None:
            how, times = "ncu", kernel_times_ncu(args, model, b, ctx, steps, env)
    if times is None:
        return None
    parts = {"GEMMs": 0.0, "attention": 0.0, "sampling": 0.0, "other kernels": 0.0}
    for name, ns in times.items():
        cls = next((c for c, rx in KERNEL_CLASSES if rx.search(name)), "other kernels")
        parts[cls] += ns / 1e6 / steps
    busy_ms = busy / 1e6 / steps if busy is not None else sum(parts.values())
    parts["host / idle"] = max(step_ms - busy_ms, 0.0)
    parts["step"] = step_ms
    parts["profiler"] = how
    return parts


# ---------------------------------------------------------------------------------------------


def fmt(x, nd=0):
    return x if isinstance(x, str) else f"{x:,.{nd}f}"


def parse_variant(v):
    """NAME:VAR=VALUE[,VAR=VALUE...] -> (NAME, {VAR: VALUE})."""
    name, _, assigns = v.partition(":")
    env = dict(a.partition("=")[::2] for a in assigns.split(",") if a)
    if not name or not env or not all(env):
        sys.exit(f"--variant {v!r}: expected NAME:VAR=VALUE[,VAR=VALUE...]")
    return name, env


def main():
    args = parse_args()
    os.makedirs(args.out, exist_ok=True)
    modes = [m for m in args.modes.split(",") if m]
    variants = [parse_variant(v) for v in args.variant]
    results = {"bandwidth_tbs": args.bandwidth_tbs, "steps": args.steps, "models": {},
               "variants": {n: env for n, env in variants}}
    if args.device == "cuda":
        import torch

        results["card"] = torch.cuda.get_device_name()
        results["torch"] = torch.__version__
    import transformers

    results["transformers"] = transformers.__version__

    def dump():  # after every point: a run cut short still leaves what it measured
        with open(os.path.join(args.out, "hf_compare.json"), "w") as f:
            json.dump(results, f, indent=1)

    for model in [m for m in args.models.split(",") if m]:
        cfg = model_config(args, model)
        kvpt = kv_bytes_per_token(cfg)
        hf = Hf(args, cfg)
        wb = hf.weight_bytes
        total = None
        if args.device == "cuda":
            import torch

            total = torch.cuda.mem_get_info()[1]

        def fits(b, ctx):  # KV of b sequences beside the weights, with room for activations
            return total is None or wb + b * (ctx + 2 * args.steps + 64) * kvpt < 0.85 * total

        rows = [{"ctx": ctx, "B": b,
                 "roofline_tok_s": b / ((wb + b * ctx * kvpt) / (args.bandwidth_tbs * 1e12))}
                for ctx in args.context for b in args.batch]
        prefill, breakdowns = {n: {} for n in args.prefill}, {}
        results["models"][model] = r = {"weight_bytes": wb, "kv_bytes_per_token": kvpt,
                                        "decode": rows, "prefill": prefill,
                                        "breakdown_ms": breakdowns}
        # pagedkv first (the HF model stays resident but idle): its runs are short, so a call cut
        # short by the device's time limit still has them.
        if not args.skip_pagedkv:
            weights = None
            if not args.no_shared_weights:
                weights = args.weights_dir or tempfile.mkdtemp(prefix=f"hfcmp_{model}_")
                t0 = time.perf_counter()
                hf.save(weights)
                print(f"{model}: {wb / 1e9:.2f} GB of weights saved in "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)
            for col, env in [("pagedkv", {})] + variants:
                for i, ctx in enumerate(args.context):
                    bs = [b for b in args.batch if fits(b, ctx) and (
                        not env or not args.variant_batch or b in args.variant_batch)]
                    if not bs:
                        continue
                    pre, dec = pagedkv_run(args, model, weights, bs, ctx,  # prefill: once
                                           args.prefill if i == 0 and not env else [], env=env)
                    for n, v in pre.items():
                        prefill.setdefault(n, {})[col] = v
                    for row in rows:
                        if row["ctx"] == ctx:
                            row[col] = dec[row["B"]][1] if row["B"] in dec else (
                                "failed" if row["B"] in bs else
                                "no fit" if not fits(row["B"], ctx) else "-")
                            if row["B"] in dec:
                                row[col + "_ms"] = dec[row["B"]][0]
                    print(f"{model} ctx {ctx} {col}: " + ", ".join(
                        f"B {row['B']} {row[col]}" for row in rows if row["ctx"] == ctx),
                        flush=True)
                    dump()
            if weights and not args.weights_dir:
                shutil.rmtree(weights, ignore_errors=True)
            if args.breakdown:  # the product, and each variant at the batch sizes it ran
                ctx = args.context[0]
                for col, env in [("pagedkv", {})] + variants:
                    for row in rows:
                        if row["ctx"] != ctx or col + "_ms" not in row or (
                                args.breakdown_batch and row["B"] not in args.breakdown_batch):
                            continue
                        key = str(row["B"]) + ("" if col == "pagedkv" else f" ({col})")
                        breakdowns[key] = breakdown(args, model, row["B"], ctx, row[col + "_ms"],
                                                    env)
                        print(f"{model} breakdown B {key}: {breakdowns[key]}", flush=True)
                        dump()
        for n in args.prefill:
            prefill[n]["hf_eager"] = guarded(hf.prefill, n)
        for row in rows:
            for mode in modes:
                row["hf_" + mode] = (guarded(hf.decode, row["B"], row["ctx"], mode)
                                     if fits(row["B"], row["ctx"]) else "no fit")
                print(f"{model} ctx {row['ctx']} B {row['B']} HF {mode}: {row['hf_' + mode]}",
                      flush=True)
                dump()
        hf.free()
        del hf
        report(model, r, modes, [n for n, _ in variants], results.get("card", args.device))
    dump()


def ratio_vs_hf(p, row, modes):
    nums = [row.get("hf_" + m) for m in modes]
    nums = [x for x in nums if isinstance(x, (int, float))]
    return f"{p / max(nums):.2f}x" if nums and isinstance(p, (int, float)) else "-"


def report(model, r, modes, variants, card):
    print(f"\n### {model} on {card}: decode tok/s (steps after the prompt; greedy)\n")
    hdr = (["context", "B"] + [f"HF {m}" for m in modes] + ["pagedkv", "vs HF's faster"] +
           [c for v in variants for c in (f"pagedkv {v}", f"{v} vs HF")] +
           ["roofline", "pagedkv % roofline"])
    print("| " + " | ".join(hdr) + " |\n|" + "---|" * len(hdr))
    for row in r["decode"]:
        p = row.get("pagedkv", "-")
        pct = f"{100 * p / row['roofline_tok_s']:.0f}%" if not isinstance(p, str) else "-"
        cells = ([row["ctx"], row["B"]] + [fmt(row.get("hf_" + m, "-")) for m in modes] +
                 [fmt(p), ratio_vs_hf(p, row, modes)] +
                 [c for v in variants for c in (fmt(row.get(v, "-")),
                                                ratio_vs_hf(row.get(v, "-"), row, modes))] +
                 [fmt(row["roofline_tok_s"]), pct])
        print("| " + " | ".join(map(str, cells)) + " |")
    cols = ["pagedkv"] + [f"pagedkv {v}" for v in variants]
    print(f"\n### {model}: prefill tok/s (one prompt)\n\n| tokens | HF eager | " +
          " | ".join(cols) + " | ratio |\n|" + "---|" * (len(cols) + 3))
    for n, v in r["prefill"].items():
        h, p = v.get("hf_eager", "-"), v.get("pagedkv", "-")
        ratio = f"{p / h:.2f}x" if not isinstance(h, str) and not isinstance(p, str) else "-"
        print(f"| {n} | {fmt(h)} | " + " | ".join(fmt(v.get(c, "-")) for c in
                                                 ["pagedkv"] + variants) + f" | {ratio} |")
    if r["breakdown_ms"]:
        print(f"\n### {model}: pagedkv decode step breakdown, ms per step (kernels from a traced "
              "run of the same shapes; step from the untraced run)\n")
        keys = ["step", "GEMMs", "attention", "sampling", "other kernels", "host / idle"]
        print("| B | " + " | ".join(keys) + " | profiler |\n|" + "---|" * (len(keys) + 2))
        for b, parts in r["breakdown_ms"].items():
            cells = ([fmt(parts[k], 3) for k in keys] + [parts["profiler"]] if parts else
                     ["no profiler worked"] + ["-"] * len(keys))
            print(f"| {b} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
