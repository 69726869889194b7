#!/usr/bin/env bash
# dev/cuda_emu/mutate.sh BUILD_DIR OLD NEW [GTEST_FILTER]: rebuilds prefill_emu_test with every
# occurrence of OLD in the prefill kernel replaced by NEW (a planted bug), runs the filter in both
# landing modes and says whether the tests caught it. BUILD_DIR must hold a build.sh build.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../../src" && pwd)
out=$1 old=$2 new=$3
filter=${4:-PagedPrefillCudaMemcheck.*:PagedPrefillCuda.Rules*}
cuda=${CUDA_HOME:-/usr/local/cuda}
mut=$out/mutant/include/attention/cuda
mkdir -p "$mut"
python3 - "$src/attention/cuda/paged_prefill_mma.cuh" "$mut/paged_prefill_mma.cuh" "$old" "$new" <<'PY'
import sys
s = open(sys.argv[1]).read()
assert sys.argv[3] in s, "pattern not found"
open(sys.argv[2], "w").write(s.replace(sys.argv[3], sys.argv[4]))
PY
g++ -std=c++20 -O2 -I"$out/mutant/include" -I"$out/include" -I"$here/include" -I"$here" -I"$src" \
  -isystem "$cuda/include" -Wno-deprecated-declarations -c "$here/emu_prefill_tables.cc" \
  -o "$out/mutant/tables.o" || exit 2
objs=()
for o in "$out"/obj/*.o; do
  case $(basename "$o") in
    emu_prefill_tables.cc.o|emu_decode_tables.cc.o|emu_decode_test.cc.o|device_run.cc.o|paged_decode_cuda.cu.o) ;;
    *) objs+=("$o") ;;
  esac
done
g++ -o "$out/mutant/prefill_emu_test" "$out/mutant/tables.o" "${objs[@]}" -lgtest -lgtest_main -pthread || exit 2
for early in 0 1; do
  EMU_EARLY=$early EMU_SEED=3 timeout 600 "$out/mutant/prefill_emu_test" --gtest_filter="$filter" \
    > "$out/mutant/run_$early.log" 2>&1
  rc=$?
  echo "EMU_EARLY=$early: $([ $rc = 0 ] && echo 'NOT caught' || echo caught) (rc $rc," \
       "$(grep -c 'FAIL$' "$out/mutant/run_$early.log") failing cases)" \
       "$(grep -m1 -o 'EMU.*' "$out/mutant/run_$early.log")"
done
