#!/usr/bin/env python3
"""CTest hf_compare_smoke: bench/hf_compare.py end to end on the CPU, without a GPU.

HF transformers really runs (a 2-layer Llama config, both modes, the weights saved as safetensors);
pagedkv's benchmark is stood in for by this file run with --fake-bench, which speaks the output
format of bench/cuda_model_bench.cc (prefill / decode lines, --kernel-times lines) and checks the
arguments it is given: the saved checkpoint, the variant's environment, --kernel-times for the
breakdown. The test then checks what hf_compare.py made of it: the decode table (HF figures,
pagedkv's, the variant only at its batch sizes, ratios), the prefill table and the step breakdown
(kernel classes, host / idle = step - busy time).

Runs in the venv that tools/make_gguf_fixtures.py makes (.venv-gguf: torch, transformers);
scripts/test.sh makes it before ctest.
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.path.join(ROOT, ".venv-gguf")
VENV_PYTHON = os.path.join(VENV, "bin", "python")

TINY = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "tie_word_embeddings": False,
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 300,
        "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 512}

# What the stand-in reports: ms per step by batch size (the variant's env halves B = 1's).
STEP_MS = {1: 4.0, 2: 5.0}
KERNELS = [  # (name, us per step): one of each class hf_compare.py sorts into
    ("void pagedkv::cuda::gemv_detail::gemv_kernel<1, __nv_bfloat16, 4>(uint4 const*)", 2500.0),
    ("nvjet_sm90_tst_128x8_64x12_2x1_v_bz_TNT", 500.0),
    ("void pagedkv::cuda_detail::paged_decode_mma_kernel<128>(KernelArgs)", 300.0),
    ("pagedkv::cuda::(anonymous namespace)::sample_rows(float const*)", 50.0),
    ("pagedkv::cuda::(anonymous namespace)::add_rmsnorm_kernel<16>(AddNormArgs)", 600.0),
]
BUSY_MS = 3.7  # < the kernels' sum (3.95): programmatic launches overlap


def fake_bench(argv):
    """Stands in for pagedkv_cuda_model_bench."""
    if "--print-config" in argv:
        print(json.dumps(TINY))
        return 0

    def get(flag, default=""):
        return argv[argv.index(flag) + 1] if flag in argv else default

    if "--checkpoint" in argv:
        ckpt = get("--checkpoint")
        assert os.path.exists(os.path.join(ckpt, "config.json")), f"no checkpoint at {ckpt}"
    else:
        assert get("--model") == "llama3-8b", argv
    variant = os.environ.get("PAGEDKV_SMALL_M_GEMV") == "0"
    for p in filter(None, get("--prefill").split(",")):
        print(f"prefill {int(p):6d} tokens: {2.0:8.2f} ms  {int(p) * 500:9.0f} tok/s")
    ctx = int(get("--context"))
    for b in map(int, filter(None, get("--batch").split(","))):
        ms = STEP_MS[b] / (2 if variant else 1)
        print(f"decode B={b:4d} ctx {ctx}: {ms:8.3f} ms/step  {b * 1000 / ms:9.0f} tok/s  "
              f"roofline 1.000 ms (25%)  graphs on")
        if "--kernel-times" in argv:
            steps = int(get("--steps"))
            print(f"kernels B={b}: busy {BUSY_MS:.4f} ms/step over {steps} steps")
            for name, us in KERNELS:
                print(f"kernel B={b} {us:.3f} us/step 1.00/step {name}")
    return 0


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)


def main():
    if "--fake-bench" in sys.argv:
        return fake_bench(sys.argv[sys.argv.index("--fake-bench") + 1:])
    try:
        import transformers  # noqa: F401
    except ImportError:
        if os.path.realpath(sys.prefix) == os.path.realpath(VENV):
            raise
        if not os.path.exists(VENV_PYTHON):
            print("hf_compare_smoke: needs .venv-gguf (torch, transformers); run "
                  "`python3 tools/make_gguf_fixtures.py build/gguf_fixtures` or scripts/test.sh")
            return 1
        os.execv(VENV_PYTHON, [VENV_PYTHON, *sys.argv])
    with tempfile.TemporaryDirectory() as tmp:
        stub = os.path.join(tmp, "bench")
        with open(stub, "w") as f:
            f.write(f"#!/bin/sh\nexec {sys.executable} {os.path.abspath(__file__)} --fake-bench "
                    '"$@"\n')
        os.chmod(stub, 0o755)
        out = os.path.join(tmp, "out")
        cmd = [sys.executable, os.path.join(ROOT, "bench", "hf_compare.py"), "--bench", stub,
               "--out", out, "--device", "cpu", "--models", "llama3-8b", "--batch", "1,2",
               "--context", "16", "--prefill", "16", "--steps", "2", "--modes", "eager,static",
               "--variant", "cublaslt:PAGEDKV_SMALL_M_GEMV=0", "--variant-batch", "1",
               "--breakdown", "--breakdown-batch", "1"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        print(r.stdout[-3000:])
        check(r.returncode == 0, f"hf_compare.py exited {r.returncode}:\n{r.stderr[-3000:]}")
        with open(os.path.join(out, "hf_compare.json")) as f:
            res = json.load(f)
    m = res["models"]["llama3-8b"]
    rows = {row["B"]: row for row in m["decode"]}
    check(set(rows) == {1, 2}, f"decode rows {sorted(rows)}")
    for b, row in rows.items():
        for mode in ("hf_eager", "hf_static"):
            check(isinstance(row[mode], float) and row[mode] > 0, f"B {b} {mode}: {row[mode]}")
        check(row["pagedkv"] == round(b * 1000 / STEP_MS[b]), f"B {b} pagedkv {row['pagedkv']}")
        check(row["roofline_tok_s"] > 0, f"B {b} roofline")
    check(rows[1]["cublaslt"] == round(2 * 1000 / STEP_MS[1]), f"variant {rows[1]['cublaslt']}")
    check(rows[2]["cublaslt"] == "-", f"variant ran outside --variant-batch: {rows[2]['cublaslt']}")
    check(m["prefill"]["16"]["pagedkv"] == 8000 and m["prefill"]["16"]["hf_eager"] > 0,
          f"prefill {m['prefill']}")
    check(set(m["breakdown_ms"]) == {"1", "1 (cublaslt)"}, f"breakdowns {list(m['breakdown_ms'])}")
    bd = m["breakdown_ms"]["1"]
    want = {"GEMMs": 3.0, "attention": 0.3, "sampling": 0.05, "other kernels": 0.6,
            "host / idle": STEP_MS[1] - BUSY_MS, "step": STEP_MS[1]}
    for k, v in want.items():
        check(abs(bd[k] - v) < 1e-6, f"breakdown {k}: {bd[k]} (want {v})")
    check(bd["profiler"] == "CUPTI", f"profiler {bd['profiler']}")
    check("| 16 | 1 |" in r.stdout and "x |" in r.stdout, "the decode table is printed")
    print("hf_compare_smoke: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
