#!/usr/bin/env bash
# fuzz.sh [SECONDS] [RUN_DIR]: build the libFuzzer harnesses of the checkpoint parsers with clang
# (src/model/fuzz: safetensors header / index.json, config.json) under ASan + UBSan, then fuzz each
# for SECONDS (default 60) from the committed seed corpus on up to 8 cores. New inputs go to RUN_DIR
# (default build-fuzz/run), never into the committed corpus; a crash leaves its input there and
# fails the script. CI runs it once, 60 s each (scripts/test.sh --sanitize). Without clang it says
# so and exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
run=${2:-build-fuzz/run}
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found; skipping the fuzz run (scripts/install_deps.sh installs it)"
  exit 0
fi
cmake -S src/model/fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j "$(nproc)"
jobs=$(nproc); ((jobs > 8)) && jobs=8  # workers (each up to -rss_limit_mb of memory)
status=0
# The safetensors harness writes its inputs as files: in memory where /dev/shm exists, removed
# at the end (workers killed when the time is up leave theirs behind).
scratch=$( [ -d /dev/shm ] && echo /dev/shm || echo "$run" )/pagedkv_fuzz_scratch_$$
mkdir -p "$scratch"
trap 'rm -rf "$scratch"' EXIT
export PAGEDKV_FUZZ_SCRATCH=$scratch
for h in safetensors config; do
  mkdir -p "$run/$h/corpus" "$run/$h/artifacts"
  echo "fuzz.sh: ${h}_fuzz for ${seconds} s on $jobs worker(s)"
  # -fork: one worker per core, each restarted after a crash so the run goes on and the log
  # counts every crash; -ignore_crashes keeps going, the artifacts tell.
  if ! (cd "$run/$h" && "$OLDPWD/build-fuzz/${h}_fuzz" -fork="$jobs" -ignore_crashes=1 \
        -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix=artifacts/ corpus "$OLDPWD/src/model/fuzz/corpus/$h" \
        >log.txt 2>&1); then
    status=1
  fi
  grep -a '^#' "$run/$h/log.txt" | tail -n 1 || true  # executions, coverage, crashes
  if compgen -G "$run/$h/artifacts/*" >/dev/null; then
    echo "fuzz.sh: ${h}_fuzz found inputs that fail: $run/$h/artifacts/ (log: $run/$h/log.txt)"
    status=1
  fi
done
exit $status
