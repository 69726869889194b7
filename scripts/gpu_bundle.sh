#!/usr/bin/env bash
# gpu_bundle.sh [BUILD_DIR] [BUNDLE_DIR] [--with-capi]: build the project here (Release, CUDA,
# portable CPU code) and pack what scripts/gpu_check.sh runs on a GPU machine into
# BUNDLE_DIR.tar.xz: stripped CUDA test binaries, the CLI, the CUDA model benchmark, the shared
# libraries a bare GPU machine lacks (PCRE2, ICU), and with --with-capi the decode kernel's C
# library (the decode benchmark). xz keeps it near 20 MB: the device tool carries at most 64 MiB
# with the working tree. Carry the archive there, unpack it and run
#   PAGEDKV_GPU_BUILD=BUNDLE_DIR bash scripts/gpu_check.sh OUT --no-build
#   tar xJf bundle.tar.xz -C .gpuwork && PAGEDKV_GPU_BUILD=.gpuwork/bundle bash scripts/gpu_check.sh OUT --no-build
# (the GPU machine has nvcc, CUDA's libraries and PyTorch, but none of the Debian packages the
# full build needs).
set -euo pipefail
cd "$(dirname "$0")/.."
bdir=${1:-build-gpu}
bundle=${2:-.gpuwork/bundle}
shift $(( $# < 2 ? $# : 2 ))
with_capi=0
for a in "$@"; do
  case $a in --with-capi) with_capi=1 ;; *) echo "unknown $a"; exit 2 ;; esac
done
bash scripts/install_deps.sh
cmake -S . -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPAGEDKV_NATIVE=OFF > /dev/null
targets=(attention_cuda_test attention_cuda_prefill_test kv_cuda_test core_cuda_test model_cuda_test
         engine_cuda_test pagedkv_cuda_model_bench pagedkv_gemv_playground pagedkv)
[ "$with_capi" = 1 ] && targets+=(pagedkv_cuda_capi)
cmake --build "$bdir" -j "$(nproc)" --target "${targets[@]}"
rm -rf "$bundle" && mkdir -p "$bundle/lib"
for t in "${targets[@]}"; do
  [ "$t" = pagedkv_cuda_capi ] && t=libpagedkv_cuda_capi.so
  f=$( [ "$t" = pagedkv ] && echo "$bdir/pagedkv" || find "$bdir" -name "$t" -type f | head -1)
  cp "$f" "$bundle/"
  strip --strip-unneeded "$bundle/$t"
done
# Shared libraries outside glibc, libstdc++ and CUDA's own that the binaries need.
for lib in $(ldd "$bundle"/* 2>/dev/null | awk '/libhwy|libpcre2|libicu|libcpp-httplib|libbrotli|libcupti/ {print $3}' | sort -u); do
  cp -L "$lib" "$bundle/lib/"
done
tar cJf "$bundle.tar.xz" -C "$(dirname "$bundle")" "$(basename "$bundle")"
du -sh "$bundle" "$bundle.tar.xz"
