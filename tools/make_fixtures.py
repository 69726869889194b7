#!/usr/bin/env python3
"""Make the tiny HF reference checkpoints under testdata/ (issues 6, 15 and 16).

Each fixture is a tiny random-weight model built with Hugging Face transformers (float32, eval
mode, eager attention) and saved as a checkpoint directory; HF greedy generation runs from three
prompts and every prefill and decode step's logits are recorded. pagedkv's model tests load these
directories and must reproduce the tokens and logits. The fixtures (configs, prompts, sizes) are in
tools/fixture_configs.py, the machinery in tools/fixture_lib.py.

Re-run (CPU only, a minute or two; deterministic for a given torch/transformers and CPU):

    python3 -m venv .venv-fixtures
    .venv-fixtures/bin/pip install torch transformers safetensors numpy
    .venv-fixtures/bin/python tools/make_fixtures.py mistral qwen2      # some fixtures
    .venv-fixtures/bin/python tools/make_fixtures.py gpu                # all of testdata/gpu/
    .venv-fixtures/bin/python tools/make_fixtures.py --out /tmp/fx      # all, elsewhere

Fixture names are directories under testdata/: llama3, qwen3, gemma3, llama4 (issue 6), mistral,
qwen2 (issue 15), gpu/llama3, gpu/qwen3, gpu/gemma3, gpu/llama4 (issue 16), containers/gemma3,
containers/llama4 (issue 21: the text model of *ForConditionalGeneration; fixture_container.py); "gpu"
names all gpu/ ones, no name all of them. Versions used are in every expected.json and in
testdata/README.md.

What it writes, per reference fixture, under testdata/<name>/ (see testdata/README.md):
  config.json        the config as checkpoints on the Hub have it today (transformers 4.x keys:
                     rope_theta, rope_scaling, rope_local_base_freq, sliding_window_pattern, no
                     layer_types), written by hand in fixture_configs.py
  config_v5.json     the same model as transformers 5 save_pretrained writes it (rope_parameters,
                     per-layer-type rope parameters, layer_types, moe_layers, ...)
  model.safetensors  f32 weights as save_pretrained writes them (tied embeddings omit lm_head)
  expected.json      prompts, greedy ids, logits file names, versions
  logits_<i>.bin     little-endian f32 [P + N - 1, V]; row t = logits after token t of
                     prompt ++ generated; generated[j] = argmax(row P - 1 + j)
  bf16/              the same weights rounded to bf16 and stored as bf16 in two shards
                     (model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json),
                     config.json, config_v5.json, expected.json and logits of HF running in f32 on
                     the bf16-rounded weights
A GPU fixture (testdata/gpu/<family>/) is laid out as a bf16/ directory: bf16 weights only (one
model.safetensors, or shards + index), HF's logits from f32 on the bf16-rounded weights.

Checks asserted while making them (the script fails rather than write a doubtful fixture):
  * HF loads config.json and config_v5.json to bit-identical logits;
  * the reloaded checkpoint equals the in-memory model (bf16: the bf16-rounded weights);
  * generate's per-step logits equal a teacher-forced forward of prompt ++ generated (1e-5 rel);
  * every greedy step has a healthy margin: top1 - top2 >= 1e-3 * max|logit| (else re-seed);
  * the bf16 directory reloads (sharded) to exactly the bf16-rounded weights, with either config;
  * where a fixture says so: HF's layer_types are the documented ones, and HF really applies the
    sliding window / chunk (rebuilt without it, the logits agree before the window, differ at it).
"""

import argparse
import os

import torch

from fixture_configs import FIXTURES
from fixture_container import make_container
from fixture_lib import make_gpu, make_reference

TESTDATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testdata")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="fixtures (directories under testdata/) or gpu")
    parser.add_argument("--out", default=TESTDATA, help="output root (default: testdata/)")
    args = parser.parse_args()
    names = []
    for n in args.names or list(FIXTURES):
        names += [k for k in FIXTURES if k.startswith("gpu/")] if n == "gpu" else [n]
    unknown = [n for n in names if n not in FIXTURES]
    if unknown:
        parser.error(f"unknown fixture(s) {unknown}; known: {list(FIXTURES)} and gpu")
    torch.set_num_threads(1)  # deterministic and frugal
    for name in names:
        fx = FIXTURES[name]
        if fx.container:
            make_container(name, fx, args.out)
        else:
            (make_gpu if fx.gpu else make_reference)(name, fx, args.out)


if __name__ == "__main__":
    main()
