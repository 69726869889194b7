#!/usr/bin/env python3
"""Encode throughput: pagedkv vs Hugging Face `tokenizers`, same corpus, same machine, same run.

    .venv-tokenizers/bin/python bench/tokenizer_bench.py [BUILD_DIR] [--rounds N]

Needs the fixtures (python3 tools/make_tokenizer_fixtures.py) and a build of
pagedkv_tokenizer_bench. Both sides encode the fixture corpus one document per call, single
threaded (RAYON_NUM_THREADS=1, TOKENIZERS_PARALLELISM=false), without special tokens; HF is also
timed with encode_batch over the whole corpus on one thread. Rounds alternate HF and pagedkv so a
load change on a shared machine hits both; times are CPU time of the process (process_time for
HF, Google Benchmark's cpu_time for pagedkv: both single-threaded), so other jobs on the machine
inflate neither; each figure is the best round. MB/s = corpus UTF-8 bytes / time (10^6 bytes).
"""
import json
import os
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
from tokenizers import Tokenizer  # noqa: E402  (after the environment is set)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "build", "tokenizer_fixtures")
FAMILIES = ["llama3", "qwen3", "gemma3", "smollm2"]


def hf_times(tok, docs, reps=3):
    one, batch = [], []
    for _ in range(reps):
        t = time.process_time()
        for d in docs:
            tok.encode(d, add_special_tokens=False)
        one.append(time.process_time() - t)
        t = time.process_time()
        tok.encode_batch(docs, add_special_tokens=False)
        batch.append(time.process_time() - t)
    return min(one), min(batch)


def pagedkv_times(binary):
    out = subprocess.run([binary, "--benchmark_format=json", "--benchmark_min_time=1",
                          "--benchmark_repetitions=3"], check=True, capture_output=True, text=True)
    res = {}
    for b in json.loads(out.stdout)["benchmarks"]:
        if b.get("run_type") == "iteration":
            fam = b["name"].split("/")[1]
            res[fam] = min(res.get(fam, 1e9), b["cpu_time"] / 1e3)  # ms -> s per corpus pass
    return res


def main():
    build = sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("--") else "build"
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    binary = os.path.join(build, "bench", "pagedkv_tokenizer_bench")
    docs = json.load(open(os.path.join(FIX, "corpus.json"), encoding="utf-8"))
    nbytes = sum(len(d.encode("utf-8")) for d in docs)
    toks = {f: Tokenizer.from_file(os.path.join(FIX, f, "tokenizer.json")) for f in FAMILIES}
    best = {f: [1e9, 1e9, 1e9] for f in FAMILIES}
    for _ in range(rounds):
        for f in FAMILIES:
            one, batch = hf_times(toks[f], docs)
            best[f][0] = min(best[f][0], one)
            best[f][1] = min(best[f][1], batch)
        for f, t in pagedkv_times(binary).items():
            best[f][2] = min(best[f][2], t)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"corpus: {len(docs)} documents, {nbytes} bytes; CPU: {cpu}; load average {os.getloadavg()[0]:.1f}")
    print("| family | HF encode, per doc (MB/s) | HF encode_batch, 1 thread (MB/s) | pagedkv encode, per doc (MB/s) | pagedkv / HF per doc | pagedkv / HF batch |")
    print("|---|---:|---:|---:|---:|---:|")
    for f in FAMILIES:
        one, batch, pk = best[f]
        mb = nbytes / 1e6
        print(f"| {f} | {mb / one:.2f} | {mb / batch:.2f} | {mb / pk:.2f} | {one / pk:.2f}x | {batch / pk:.2f}x |")


if __name__ == "__main__":
    main()
