#!/usr/bin/env bash
# gpu_check.sh OUTDIR [--quick] [--skip-bench] [--skip-tests] [--no-build] [--sweep] [--ncu B,L,Hq,Hkv]: on a machine with an
# NVIDIA GPU, build the CUDA decode and prefill kernels (Release, sm_90a), check their SASS (sass_check.py), run
# their tests, a compute-sanitizer memcheck subset and the decode benchmark (pagedkv vs torch SDPA vs gather-then-SDPA); logs and
# a results table go to OUTDIR. --sweep adds the split-count / warp-layout sweep (planner
# tuning); --ncu profiles one shape's pagedkv kernel and SDPA kernels with Nsight Compute.
# Builds through scripts/gpu_check/CMakeLists.txt (core + kv + attention only); GoogleTest from
# third_party/googletest when present (a copy of /usr/src/googletest), else the system's.
set -uo pipefail
out=${1:?usage: gpu_check.sh OUTDIR [--quick] [--skip-bench] [--skip-tests] [--no-build] [--sweep] [--ncu B,L,Hq,Hkv]}
shift
quick=() skip_bench=0 skip_tests=0 no_build=0 sweep=0 ncu_shape=""
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=(--quick) ;;
    --skip-bench) skip_bench=1 ;;
    --skip-tests) skip_tests=1 ;;
    --no-build) no_build=1 ;;  # use the binaries already in $PAGEDKV_GPU_BUILD (built elsewhere)
    --sweep) sweep=1 ;;
    --ncu) ncu_shape=$2; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
root=$(pwd)
bdir=${PAGEDKV_GPU_BUILD:-/tmp/pagedkv-gpu-build}
{ nvidia-smi --query-gpu=name,memory.total,clocks.max.sm,clocks.max.mem,driver_version --format=csv
  nvcc --version | tail -2; cmake --version | head -1; g++ --version | head -1
  python3 -c 'import torch; print("torch", torch.__version__)'; } > "$out/env.txt" 2>&1
cat "$out/env.txt"

gtest=()
[ -d third_party/googletest ] && gtest=(-DGTEST_SRC="$root/third_party/googletest")
t0=$(date +%s)
if [ "$no_build" = 1 ]; then
  echo "no build: using $bdir"
elif ! { cmake -S scripts/gpu_check -B "$bdir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${gtest[@]}" &&
       cmake --build "$bdir" -j16 --target attention_cuda_test attention_cuda_prefill_test kv_cuda_test pagedkv_cuda_capi; } > "$out/build.log" 2>&1; then
  tail -40 "$out/build.log"; echo "BUILD FAILED"; exit 1
fi
echo "build ok ($(( $(date +%s) - t0 )) s)"
test_bin=$(find "$bdir" -name attention_cuda_test -type f | head -1)
prefill_bin=$(find "$bdir" -name attention_cuda_prefill_test -type f | head -1)
lib=$(find "$bdir" -name libpagedkv_cuda_capi.so | head -1)
python3 scripts/sass_check.py "$lib" > "$out/sass_check.txt" 2>&1
echo "sass check rc=$?"; tail -1 "$out/sass_check.txt"
python3 scripts/sass_check.py "$prefill_bin" > "$out/sass_check_prefill.txt" 2>&1
echo "sass check (prefill) rc=$?"; tail -1 "$out/sass_check_prefill.txt"

if [ "$skip_tests" = 0 ]; then
  kv_bin=$(find "$bdir" -name kv_cuda_test -type f | head -1)
  { "$test_bin"; r1=$?; "$kv_bin"; r2=$?; } > "$out/tests.log" 2>&1
  echo "tests rc=$r1 (attention) rc=$r2 (kv)"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[==========\]|Failure|error|Expected|Which is|seed=" "$out/tests.log" | head -40
  "$prefill_bin" > "$out/tests_prefill.log" 2>&1
  r3=$?
  echo "tests rc=$r3 (prefill)"; grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[==========\]|^\[ +(OK|FAILED) |Failure|Expected|Which is|FAIL$" "$out/tests_prefill.log" | head -40

  if command -v compute-sanitizer > /dev/null; then
    compute-sanitizer --tool memcheck --error-exitcode 9 "$test_bin" \
      --gtest_filter='PagedDecodeCudaSmall.*:PagedDecodeCuda.RepeatedRuns*:PagedDecodeCuda.PlacementInvariance*' > "$out/memcheck.log" 2>&1
    echo "memcheck rc=$? ($(grep -c 'Invalid' "$out/memcheck.log") invalid accesses)"; tail -4 "$out/memcheck.log"
    compute-sanitizer --tool memcheck --error-exitcode 9 "$kv_bin" > "$out/memcheck_kv.log" 2>&1
    echo "memcheck kv rc=$?"; tail -2 "$out/memcheck_kv.log"
    compute-sanitizer --tool memcheck --error-exitcode 9 "$prefill_bin" \
      --gtest_filter='PagedPrefillCudaMemcheck.*' > "$out/memcheck_prefill.log" 2>&1
    echo "memcheck prefill rc=$? ($(grep -c 'Invalid' "$out/memcheck_prefill.log") invalid accesses)"; tail -2 "$out/memcheck_prefill.log"
  else
    echo "compute-sanitizer not found"
  fi
fi

if [ -n "$ncu_shape" ]; then
  ncu --clock-control none --profile-from-start off --section SpeedOfLight \
    --section MemoryWorkloadAnalysis --section Occupancy --section LaunchStats \
    --section WarpStateStats --section SchedulerStats --section InstructionStats \
    python3 scripts/bench_decode_cuda.py "$lib" "$out" --profile "$ncu_shape" > "$out/ncu.txt" 2>&1
  echo "ncu rc=$?"
  grep -E "^  [a-zA-Z_].*\(|Duration|DRAM Throughput|Memory Throughput|Registers Per|Grid Size|Block Size|Dynamic Shared|Achieved Occupancy|Theoretical Occ|Waves Per SM|Warp Cycles Per Issued|No Eligible|Stall" "$out/ncu.txt" | head -60
fi
if [ "$sweep" = 1 ]; then
  PYTHONUNBUFFERED=1 python3 scripts/bench_decode_cuda.py "$lib" "$out" --sweep > "$out/sweep.md" 2> "$out/sweep.err"
  echo "sweep rc=$?"; cat "$out/sweep.md"; tail -3 "$out/sweep.err"
fi
[ "$skip_bench" = 1 ] && exit 0
PYTHONUNBUFFERED=1 python3 scripts/bench_decode_cuda.py "$lib" "$out" "${quick[@]}" > "$out/bench.log" 2>&1
echo "bench rc=$?"
python3 scripts/bench_decode_table.py "$out/bench_results.json" > "$out/gpu_decode.md" 2>> "$out/bench.log"
cat "$out/gpu_decode.md"
tail -5 "$out/bench.log"
