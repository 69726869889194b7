#!/usr/bin/env python3
"""pagedkv vs llama.cpp on the CPU, same machine, same run, same GGUF files, same thread count.

    python3 bench/cpu_model_bench.py [--build build] [--threads 1,2] [--decode 64] [--reps 2]

- Models: the two real GGUF models of tools/make_gguf_fixtures.py (build/gguf_fixtures/),
  converted here to BF16 GGUF files (every 2-D weight dequantized with the gguf package and
  stored as BF16, norms F32, metadata copied): both engines run the same bf16 weights.
- llama.cpp: the llama-cpp-python package (0.3.36, built from source by pip with its default
  GGML_NATIVE=ON, in the git-ignored .venv-llamacpp/; the first install compiles for many minutes).
  Timed through its bindings: Llama(...) construction = load (mmap, use_mmap=True), one
  llama_decode of the 512-token prompt (n_batch = n_ubatch = 512) = prefill, then one llama_decode
  per generated token (greedy argmax of the logits in Python, ~µs) = decode.
- pagedkv: build/bench/pagedkv_cpu_model_bench (load, one prefill call of the same 512 ids,
  greedy decode), $PAGEDKV_NUM_THREADS threads.
- Each configuration runs in its own process (peak RSS = ru_maxrss of that child), pagedkv and
  llama.cpp alternating, --reps times; the best of the reps is reported (the machine may be
  shared). Prints a Markdown table and writes build/cpu_model_bench.json.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-llamacpp")
FIXTURES = os.path.join(ROOT, "build", "gguf_fixtures")
MODELS = {"smollm2": "SmolLM2-135M-Instruct", "gemma3": "Gemma 3 270M"}

LLAMA_RUNNER = r"""
import json, random, resource, sys, time
import numpy as np
path, threads, n_prompt, n_decode, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
from llama_cpp import Llama
t0 = time.perf_counter()
llm = Llama(model_path=path, n_threads=threads, n_threads_batch=threads, n_ctx=n_prompt + n_decode + 16,
            n_batch=n_prompt, n_ubatch=n_prompt, use_mmap=True, verbose=False, logits_all=False)
load_s = time.perf_counter() - t0
V = llm.n_vocab()
rng = random.Random(seed)
prompt = [rng.randrange(min(V, 32000)) for _ in range(n_prompt)]
t0 = time.perf_counter()
llm.eval(prompt)
prefill_s = time.perf_counter() - t0
last = lambda: int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(V,))))
nxt = last()
t0 = time.perf_counter()
for _ in range(n_decode):
    llm.eval([nxt])
    nxt = last()
decode_s = time.perf_counter() - t0
print(json.dumps({"engine": "llama.cpp", "model": path, "load_s": load_s, "prefill_tokens": n_prompt,
                  "prefill_tok_s": n_prompt / prefill_s, "decode_tokens": n_decode,
                  "decode_tok_s": n_decode / decode_s,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def ensure_llama_cpp():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.check_call([sys.executable, "-m", "venv", VENV])
    try:
        subprocess.check_call([py, "-c", "import llama_cpp"], stderr=subprocess.DEVNULL)
    except subprocess.CalledProcessError:
        print("cpu_model_bench: building llama-cpp-python from source (many minutes)", flush=True)
        subprocess.check_call([py, "-m", "pip", "install", "-q", "llama-cpp-python==0.3.36",
                               "numpy"], env=dict(os.environ, CMAKE_BUILD_PARALLEL_LEVEL="2"))
    return py


def to_bf16(src, dst):
    """A copy of a GGUF file with every 2-D tensor dequantized and stored as BF16."""
    if os.path.exists(dst) and os.path.getmtime(dst) > os.path.getmtime(src):
        return dst
    code = r"""
import sys, numpy as np, gguf
from gguf import GGMLQuantizationType as T
src, dst = sys.argv[1], sys.argv[2]
r = gguf.GGUFReader(src)
arch = r.fields["general.architecture"].contents()
w = gguf.GGUFWriter(dst, arch=arch)
for name, f in r.fields.items():
    if name.startswith("GGUF.") or name == "general.architecture":
        continue
    if name == "general.file_type":
        w.add_file_type(32)  # MOSTLY_BF16
        continue
    vt = f.types[0]
    if vt == gguf.GGUFValueType.ARRAY:
        w.add_key_value(name, f.contents(), vt, sub_type=f.types[-1])
    else:
        w.add_key_value(name, f.contents(), vt)
for t in r.tensors:
    x = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32)
    shape = [int(d) for d in reversed(t.shape)]
    x = x.reshape(shape)
    if len(shape) >= 2:
        bits = x.view(np.uint32)
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # nearest even
        w.add_tensor(t.name, bits.view(np.uint8).reshape(shape[0], -1), raw_dtype=T.BF16)
    else:
        w.add_tensor(t.name, x)
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
"""
    py = os.path.join(ROOT, ".venv-gguf", "bin", "python")
    subprocess.check_call([py, "-c", code, src, dst])
    return dst


def run(cmd, env=None):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{cmd}: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--prompt", type=int, default=512)
    ap.add_argument("--decode", type=int, default=64)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--models", default="smollm2,gemma3")
    args = ap.parse_args()
    py = ensure_llama_cpp()
    bench = os.path.join(args.build, "bench", "pagedkv_cpu_model_bench")
    results = []
    for m in args.models.split(","):
        src = os.path.join(FIXTURES, m, "model.gguf")
        path = to_bf16(src, os.path.join(FIXTURES, m, "model-bf16.gguf"))
        for th in [int(t) for t in args.threads.split(",")]:
            best = {}
            for _ in range(args.reps):
                env = dict(os.environ, PAGEDKV_NUM_THREADS=str(th))
                for eng, cmd in (("pagedkv", [bench, path, str(args.prompt), str(args.decode)]),
                                 ("llama.cpp", [py, "-c", LLAMA_RUNNER, path, str(th),
                                                str(args.prompt), str(args.decode), "1"])):
                    r = run(cmd, env)
                    b = best.setdefault(eng, r)
                    for k in ("prefill_tok_s", "decode_tok_s"):
                        b[k] = max(b[k], r[k])
                    for k in ("load_s", "peak_rss_mb"):
                        b[k] = min(b[k], r[k])
            for eng, r in best.items():
                r.update(model=m, threads=th)
                results.append(r)
    json.dump({"machine": cpu_name(), "results": results},
              open(os.path.join(args.build, "cpu_model_bench.json"), "w"), indent=1)
    print(f"machine: {cpu_name()}, {os.cpu_count()} CPUs; load average "
          f"{os.getloadavg()[0]:.2f}")
    print("| model (bf16 GGUF) | threads | engine | prefill tok/s (512) | decode tok/s | "
          "load s | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {MODELS[r['model']]} | {r['threads']} | {r['engine']} | {r['prefill_tok_s']:.1f} | "
              f"{r['decode_tok_s']:.1f} | {r['load_s']:.2f} | {r['peak_rss_mb']:.0f} |")
    for m in args.models.split(","):
        for th in [int(t) for t in args.threads.split(",")]:
            p = next(r for r in results if r["model"] == m and r["threads"] == th and r["engine"] == "pagedkv")
            l = next(r for r in results if r["model"] == m and r["threads"] == th and r["engine"] == "llama.cpp")
            print(f"{MODELS[m]}, {th} thread(s): pagedkv / llama.cpp: prefill "
                  f"{p['prefill_tok_s'] / l['prefill_tok_s']:.2f}x, decode "
                  f"{p['decode_tok_s'] / l['decode_tok_s']:.2f}x, load "
                  f"{p['load_s'] / l['load_s']:.2f}x, RSS {p['peak_rss_mb'] / l['peak_rss_mb']:.2f}x")


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


if __name__ == "__main__":
    main()
