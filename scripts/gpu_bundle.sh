#!/usr/bin/env bash
# gpu_bundle.sh [BUILD_DIR] [BUNDLE_DIR]: build the project here (Release, CUDA, portable CPU code)
# and copy what scripts/gpu_check.sh runs on a GPU machine into one small folder: the CUDA test
# binaries, the CLI, the CUDA model benchmark, the decode kernel's C library, and the shared
# libraries a bare GPU machine lacks (Highway). Carry the folder there and run
#   PAGEDKV_GPU_BUILD=BUNDLE_DIR bash scripts/gpu_check.sh OUT --no-build
# (the GPU machine has nvcc, CUDA's libraries and PyTorch, but none of the Debian packages the
# full build needs).
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${1:-build-gpu}
bundle=${2:-.gpuwork/bundle}
bash scripts/install_deps.sh
cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPAGEDKV_NATIVE=OFF > /dev/null
cmake --build "$bdir" -j "$(nproc)" --target attention_cuda_test kv_cuda_test core_cuda_test \
  model_cuda_test pagedkv pagedkv_cuda_model_bench pagedkv_cuda_capi
rm -rf "$bundle" && mkdir -p "$bundle/lib"
for t in attention_cuda_test kv_cuda_test core_cuda_test model_cuda_test pagedkv_cuda_model_bench \
         libpagedkv_cuda_capi.so; do
  cp "$(find "$bdir" -name "$t" -type f | head -1)" "$bundle/"
done
cp "$bdir/pagedkv" "$bundle/"
for lib in $(ldd "$bundle/pagedkv" "$bundle/model_cuda_test" | awk '/libhwy/ {print $3}' | sort -u); do
  cp -L "$lib" "$bundle/lib/"
done
du -sh "$bundle"
