#!/usr/bin/env bash
# gpu_check.sh OUTDIR [--quick] [--skip-bench] [--skip-tests] [--skip-model] [--skip-model-bench]
#              [--no-build] [--sweep] [--ncu B,L,Hq,Hkv] [--tests "NAME ..."] [--hf-compare "ARGS"]:
# on a machine with an NVIDIA GPU, in one call:
#   1. build (or, with --no-build, take binaries from $PAGEDKV_GPU_BUILD: scripts/gpu_bundle.sh
#      makes that folder on a machine with the project's Debian packages), check the decode and
#      prefill kernels' SASS (sass_check.py);
#   2. run every CUDA test binary found (decode, prefill, kv, core, model: the model against HF on
#      testdata/gpu) and compute-sanitizer memcheck on their small cases;
#   3. the model end to end: `pagedkv generate --device cuda` on a fixture, `pagedkv demo --device
#      cuda` (alone == busy on a 1.5 B model), the GEMV playground (small-M kernel vs cuBLASLt per
#      8B weight shape), and the CUDA model benchmark on an 8B-shaped random model (prefill 1k /
#      8k, decode B = 1..256), with decode graphs on, off, with the small-M GEMV path off and in
#      batch-invariant mode (--skip-model-bench: not the benchmark);
#   4. the decode kernel benchmark (pagedkv vs torch SDPA vs gather-then-SDPA; --skip-bench: not).
# Logs and tables go to OUTDIR. --sweep adds the decode planner's split-count / warp-layout sweep;
# --ncu profiles one decode shape with Nsight Compute. --tests runs only the named test binaries
# (and their memcheck cases). --hf-compare runs bench/hf_compare.py ARGS (pagedkv against HF
# transformers on the same card and weights; "" for its defaults) after the model bench. Without --no-build it builds through
# scripts/gpu_check/CMakeLists.txt (core + kv + attention only: the model needs the Debian
# packages of the full build); GoogleTest from third_party/googletest when present.
set -uo pipefail
out=${1:?usage: gpu_check.sh OUTDIR [--quick] [--skip-bench] [--skip-tests] [--no-build] [--sweep] [--ncu B,L,Hq,Hkv]}
shift
quick=() skip_bench=0 skip_tests=0 skip_model=0 skip_model_bench=0 no_build=0 sweep=0 ncu_shape="" hf_compare=-
tests="attention_cuda_test attention_cuda_prefill_test kv_cuda_test core_cuda_test model_cuda_test engine_cuda_test"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=(--quick) ;;
    --skip-bench) skip_bench=1 ;;
    --skip-tests) skip_tests=1 ;;
    --skip-model) skip_model=1 ;;
    --skip-model-bench) skip_model_bench=1 ;;
    --no-build) no_build=1 ;;  # use the binaries already in $PAGEDKV_GPU_BUILD (built elsewhere)
    --sweep) sweep=1 ;;
    --ncu) ncu_shape=$2; shift ;;
    --tests) tests=$2; shift ;;
    --hf-compare) hf_compare=$2; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
  shift
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")/.."
root=$(pwd)
bdir=${PAGEDKV_GPU_BUILD:-/tmp/pagedkv-gpu-build}
[ -d "$bdir/lib" ] && export LD_LIBRARY_PATH="$(cd "$bdir/lib" && pwd):${LD_LIBRARY_PATH:-}"
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
if [ -n "$lib" ]; then
  python3 scripts/sass_check.py "$lib" > "$out/sass_check.txt" 2>&1
  echo "sass check rc=$?"; tail -1 "$out/sass_check.txt"
fi
python3 scripts/sass_check.py "$prefill_bin" > "$out/sass_check_prefill.txt" 2>&1
echo "sass check (prefill) rc=$?"; tail -1 "$out/sass_check_prefill.txt"

find_bin() { find "$bdir" -name "$1" -type f | head -1; }
if [ "$skip_tests" = 0 ]; then
  rc_all=0
  for name in $tests; do
    bin=$(find_bin $name)
    [ -n "$bin" ] || { echo "$name: not built"; continue; }
    "$bin" > "$out/$name.log" 2>&1; rc=$?; rc_all=$((rc_all | rc))
    echo "$name rc=$rc: $(grep -E '^\[  (PASSED|FAILED) ' "$out/$name.log" | tr '\n' ' ')"
    grep -E "^\[  FAILED  \]|Failure|Expected|Which is|seed=|worst relative|bit-identical|within bound" \
      "$out/$name.log" | head -60
  done
  echo "tests rc=$rc_all"
  if command -v compute-sanitizer > /dev/null; then
    memcheck() {  # NAME BINARY FILTER (only for the binaries --tests names)
      [ -n "$2" ] && [[ " $tests " == *" $(basename "$2") "* ]] || return 0
      compute-sanitizer --tool memcheck --error-exitcode 9 "$2" --gtest_filter="$3" > "$out/memcheck_$1.log" 2>&1
      echo "memcheck $1 rc=$? ($(grep -c 'Invalid' "$out/memcheck_$1.log") invalid accesses)"; tail -2 "$out/memcheck_$1.log"
    }
    memcheck attention "$(find_bin attention_cuda_test)" \
      'PagedDecodeCudaSmall.*:PagedDecodeCuda.RepeatedRuns*:PagedDecodeCuda.PlacementInvariance*'
    memcheck prefill "$(find_bin attention_cuda_prefill_test)" 'PagedPrefillCudaMemcheck.*'
    memcheck kv "$(find_bin kv_cuda_test)" '*'
    [ -n "$(find_bin model_cuda_test)" ] && memcheck model "$(find_bin model_cuda_test)" 'CudaKernels.*:CudaModel.MemcheckSmall'
    [ -n "$(find_bin engine_cuda_test)" ] && memcheck sampler "$(find_bin engine_cuda_test)" 'SamplerCuda.NonFinite*:SamplerCuda.RowAndBatch*'
  else
    echo "compute-sanitizer not found"
  fi
fi

cli=$(find_bin pagedkv)
if [ "$skip_model" = 0 ] && [ -n "$cli" ]; then
  ids=$(python3 -c 'import json;e=json.load(open("testdata/gpu/llama3/expected.json"));print(",".join(map(str,e["prompts"][0])));print(",".join(map(str,e["generated"][0])))')
  got=$("$cli" generate --model testdata/gpu/llama3 --prompt-ids "$(echo "$ids" | head -1)" --max-new-tokens 24 --device cuda 2> "$out/cli.err")
  echo "cli generate --device cuda rc=$?: $got"; echo "HF greedy:                     $(echo "$ids" | tail -1)"; tail -2 "$out/cli.err"
  "$cli" demo --device cuda > "$out/demo_cuda.txt" 2>&1
  echo "demo --device cuda rc=$?"; cat "$out/demo_cuda.txt"
fi
playground=$(find_bin pagedkv_gemv_playground)
if [ "$skip_model" = 0 ] && [ -n "$playground" ]; then
  "$playground" --iters 20 > "$out/gemv_playground.txt" 2>&1
  echo "gemv playground rc=$?"; cat "$out/gemv_playground.txt"
fi
mbench=$(find_bin pagedkv_cuda_model_bench)
if [ "$skip_model" = 0 ] && [ "$skip_model_bench" = 0 ] && [ -n "$mbench" ]; then
  "$mbench" ${PAGEDKV_MODEL_BENCH_ARGS:-} > "$out/model_bench.txt" 2>&1
  echo "model bench rc=$?"; cat "$out/model_bench.txt"
  # The same with decode graphs off (eager launches): what the graphs are worth.
  PAGEDKV_CUDA_GRAPHS=0 "$mbench" ${PAGEDKV_MODEL_BENCH_ARGS:-} > "$out/model_bench_eager.txt" 2>&1
  echo "model bench (graphs off) rc=$?"; grep -i decode "$out/model_bench_eager.txt"
  # cuBLASLt at every M (the small-M GEMV of model/cuda/gemv.h, at M = 1 by default, off).
  PAGEDKV_SMALL_M_GEMV=0 "$mbench" ${PAGEDKV_MODEL_BENCH_ARGS:-} > "$out/model_bench_cublaslt.txt" 2>&1
  echo "model bench (small-M GEMV off) rc=$?"; grep -i decode "$out/model_bench_cublaslt.txt"
  # Batch-invariant mode (CausalLmCuda::set_batch_invariant): what a request's independence of
  # its batch costs.
  PAGEDKV_BATCH_INVARIANT=1 "$mbench" ${PAGEDKV_MODEL_BENCH_ARGS:-} > "$out/model_bench_invariant.txt" 2>&1
  echo "model bench (batch-invariant) rc=$?"; grep -iE "decode|prefill" "$out/model_bench_invariant.txt"
fi
if [ "$hf_compare" != - ] && [ -n "$mbench" ]; then
  # shellcheck disable=SC2086  # ARGS is a list of options
  PYTHONUNBUFFERED=1 python3 bench/hf_compare.py --bench "$mbench" --out "$out/hf_compare" $hf_compare \
    2> "$out/hf_compare.err" | tee "$out/hf_compare.md"
  echo "hf_compare rc=${PIPESTATUS[0]}"; grep -v "Writing model shards\|rope_parameters" "$out/hf_compare.err" | tail -8
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
