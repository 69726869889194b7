#!/usr/bin/env bash
# test.sh [--sanitize]: install missing packages, build, run every test with CTest.
# --sanitize builds a separate tree under AddressSanitizer + UndefinedBehaviorSanitizer (no CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh
if [ "${1:-}" = "--sanitize" ]; then
  dir=build-asan
  bash scripts/build.sh "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAGEDKV_SANITIZE=ON -DPAGEDKV_CUDA=OFF
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
else
  dir=build
  bash scripts/build.sh "$dir"
fi
ctest --test-dir "$dir" --output-on-failure -j "$(nproc)"
